/*
 * filter_compile.c - filter text to the compiled tree (filter.h,
 * filter_internal.h), by recursive descent over filter_lex.c's tokens.
 *
 * Recursion happens only at "(" and "not", each of which counts against
 * ROUTE_FILTER_MAX_DEPTH before going deeper; chains of and/or are loops.
 * Strings and numbers are decoded by the JSON parser (one decoder of JSON
 * escapes and numbers in the tree), paths by route/path.h, patterns by
 * PCRE2 through src/schema/regex.h. Every error names the token where
 * the text stopped making sense, what was expected there, and what was
 * found.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route/filter_internal.h"

#define COMPILE_SOURCE_PATH "context.trackway.source"
/* How much of an offending token a message quotes. */
#define COMPILE_QUOTE_MAX 32u

struct filter_compiler {
    const char *text;
    size_t len;
    struct filter_token tok; /* the token being looked at */
    struct route_filter *filter;
    uint32_t node_cap;
    uint32_t lit_cap;
    uint32_t depth;
    struct tw_json_parser *json; /* decodes string and number literals */
    struct route_error *err;
};

/* Line and column (1-based, in code points) of a byte offset. */
static void compile_position(const char *text, size_t offset, uint32_t *line,
                             uint32_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c == '\n') {
            ++*line;
            *column = 1;
        } else if ((c & 0xc0) != 0x80) {
            ++*column;
        }
    }
}

static int compile_fail(struct filter_compiler *c, size_t offset,
                        const char *fmt, ...) TW_PRINTF(3, 4);

static int compile_fail(struct filter_compiler *c, size_t offset,
                        const char *fmt, ...)
{
    va_list ap;

    compile_position(c->text, offset, &c->err->line, &c->err->column);
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    if (c->err->line > 1) {
        return tw_err_set(TW_EINVAL, "line %u, column %u: %s", c->err->line,
                          c->err->column, c->err->message);
    }
    return tw_err_set(TW_EINVAL, "column %u: %s", c->err->column,
                      c->err->message);
}

/*
 * What a message says was found: the token quoted (cut at a character
 * boundary past COMPILE_QUOTE_MAX bytes), or the end of the filter.
 */
static const char *compile_found(const struct filter_compiler *c, char *buf,
                                 size_t cap)
{
    const struct filter_token *tok = &c->tok;
    size_t n = tok->len;
    unsigned char first;

    if (tok->kind == TOK_END) {
        return "the end of the filter"; /* and start is past the text */
    }
    first = (unsigned char)c->text[tok->start];
    if (tok->kind == TOK_BAD_CHAR && (first < ' ' || first == 0x7f)) {
        snprintf(buf, cap, "the control character 0x%02x", first);
        return buf;
    }
    if (n > COMPILE_QUOTE_MAX) {
        n = COMPILE_QUOTE_MAX;
        while (n > 0 &&
               ((unsigned char)c->text[tok->start + n] & 0xc0) == 0x80) {
            n--;
        }
    }
    snprintf(buf, cap, "'%.*s%s'", (int)n, c->text + tok->start,
             n < tok->len ? "..." : "");
    return buf;
}

static void compile_next(struct filter_compiler *c)
{
    filter_lex(c->text, c->len, c->tok.start + c->tok.len, &c->tok);
}

/*
 * Fails at the token being looked at: "expected <expected>, found ...",
 * or, when the token is a quote never closed or a byte that starts no
 * token, says so, since that is what needs fixing.
 */
static int compile_expected(struct filter_compiler *c, const char *expected)
{
    char found[64];

    if (c->tok.kind == TOK_UNCLOSED) {
        return compile_fail(c, c->tok.start,
                            "this %s is never closed: expected a closing %c "
                            "before the end of the filter",
                            c->text[c->tok.start] == '"' ? "string"
                                                         : "quoted path",
                            c->text[c->tok.start]);
    }
    if (c->tok.kind == TOK_BAD_CHAR) {
        return compile_fail(c, c->tok.start, "unexpected %s (expected %s)",
                            compile_found(c, found, sizeof(found)), expected);
    }
    return compile_fail(c, c->tok.start, "expected %s, found %s", expected,
                        compile_found(c, found, sizeof(found)));
}

/* Grows an array of *cap elements of size bytes so index fits. */
static int compile_grow(void **array, uint32_t *cap, uint32_t index,
                        size_t size)
{
    uint32_t want = *cap == 0 ? 16 : *cap * 2;
    void *grown;

    if (index < *cap) {
        return 0;
    }
    grown = realloc(*array, (size_t)want * size);
    if (grown == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a filter");
    }
    *array = grown;
    *cap = want;
    return 0;
}

static int compile_node(struct filter_compiler *c, enum filter_kind kind,
                        uint32_t *out)
{
    struct route_filter *f = c->filter;
    int rc = compile_grow((void **)&f->nodes, &c->node_cap, f->node_count,
                          sizeof(f->nodes[0]));

    if (rc < 0) {
        return rc;
    }
    *out = f->node_count++;
    memset(&f->nodes[*out], 0, sizeof(f->nodes[0]));
    f->nodes[*out].kind = kind;
    f->nodes[*out].child = FILTER_NONE;
    f->nodes[*out].next = FILTER_NONE;
    return 0;
}

static int compile_literal_slot(struct filter_compiler *c, uint32_t *out)
{
    struct route_filter *f = c->filter;
    int rc = compile_grow((void **)&f->lits, &c->lit_cap, f->lit_count,
                          sizeof(f->lits[0]));

    if (rc < 0) {
        return rc;
    }
    *out = f->lit_count++;
    memset(&f->lits[*out], 0, sizeof(f->lits[0]));
    return 0;
}

/* ---------------------------------------------------------------- paths -- */

/* `a``b` without its quotes and with each `` made one backquote. */
static char *compile_unquote(const char *quoted, size_t len, size_t *out_len)
{
    char *text = malloc(len + 1);
    size_t n = 0;

    if (text == NULL) {
        return NULL;
    }
    for (size_t i = 1; i + 1 < len; i++) {
        text[n++] = quoted[i];
        if (quoted[i] == '`') {
            i++;
        }
    }
    text[n] = '\0';
    *out_len = n;
    return text;
}

/* Where in a quoted token the byte at offset of its unquoted text is. */
static size_t compile_quoted_offset(const char *quoted, size_t offset)
{
    size_t i = 1;

    for (size_t k = 0; k < offset; k++) {
        i += quoted[i] == '`' ? 2 : 1;
    }
    return i;
}

/* Parses the path token being looked at into *out, then moves on. */
static int compile_path(struct filter_compiler *c, const char *expected,
                        struct route_path **out)
{
    const struct filter_token *tok = &c->tok;
    const char *at = c->text + tok->start;
    struct route_path_error perr;
    size_t fault = 0;
    size_t len;
    char *text;
    int rc;

    switch (tok->kind) {
    case TOK_SOURCE:
        rc = route_path_parse(COMPILE_SOURCE_PATH, strlen(COMPILE_SOURCE_PATH),
                              out, &perr);
        break;
    case TOK_PATH:
        rc = route_path_parse(at, tok->len, out, &perr);
        if (rc == TW_EINVAL) {
            fault = perr.offset;
        }
        break;
    case TOK_QUOTED:
        text = compile_unquote(at, tok->len, &len);
        if (text == NULL) {
            return tw_err_set(TW_ENOMEM, "out of memory compiling a filter");
        }
        rc = route_path_parse(text, len, out, &perr);
        free(text);
        if (rc == TW_EINVAL) {
            fault = compile_quoted_offset(at, perr.offset);
        }
        break;
    default:
        return compile_expected(c, expected);
    }
    if (rc == TW_EINVAL) {
        return compile_fail(c, tok->start + fault, "invalid path: %s",
                            perr.message);
    }
    if (rc == 0) {
        compile_next(c);
    }
    return rc;
}

/* ------------------------------------------------------------- literals -- */

static int compile_string(struct filter_compiler *c, struct filter_literal *lit)
{
    const struct filter_token *tok = &c->tok;
    struct tw_json value;
    const char *bytes;

    if (tw_json_parse(c->json, c->text + tok->start, tok->len, &value) < 0) {
        return compile_fail(c, tok->start, "invalid string: %s",
                            tw_err_message());
    }
    bytes = tw_json_string(value, &lit->len);
    lit->str = malloc(lit->len + 1);
    if (lit->str == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a filter");
    }
    memcpy(lit->str, bytes, lit->len + 1);
    lit->type = TW_JSON_STRING;
    return 0;
}

static int compile_number(struct filter_compiler *c, struct filter_literal *lit)
{
    const struct filter_token *tok = &c->tok;
    struct tw_json value;
    char found[64];

    if (tw_json_parse(c->json, c->text + tok->start, tok->len, &value) < 0 ||
        tw_json_type(value) == TW_JSON_STRING) {
        return compile_fail(c, tok->start,
                            "%s is not a number (numbers are written as in "
                            "JSON, such as -12, 3.5 or 1e3, and must fit in "
                            "64 bits or a double)",
                            compile_found(c, found, sizeof(found)));
    }
    lit->type = tw_json_type(value);
    switch (lit->type) {
    case TW_JSON_INT:
        lit->i = tw_json_int(value);
        lit->number = (long double)lit->i;
        break;
    case TW_JSON_UINT:
        lit->u = tw_json_uint(value);
        lit->number = (long double)lit->u;
        break;
    default:
        lit->type = TW_JSON_DOUBLE;
        lit->d = tw_json_number(value);
        lit->number = (long double)lit->d;
        break;
    }
    return 0;
}

/* Decodes the literal token being looked at into lits[index]. */
static int compile_literal_at(struct filter_compiler *c, uint32_t index,
                              const char *after)
{
    struct filter_literal *lit = &c->filter->lits[index];
    char expected[96];

    switch (c->tok.kind) {
    case TOK_STRING:
        return compile_string(c, lit);
    case TOK_NUMBER:
        return compile_number(c, lit);
    case TOK_TRUE:
    case TOK_FALSE:
        lit->type = TW_JSON_BOOL;
        lit->boolean = c->tok.kind == TOK_TRUE;
        return 0;
    case TOK_NULL:
        lit->type = TW_JSON_NULL;
        return 0;
    default:
        snprintf(expected, sizeof(expected),
                 "a literal (a string, a number, true, false or null) %s",
                 after);
        return compile_expected(c, expected);
    }
}

/* Adds the literal being looked at to lits[], then moves on. */
static int compile_literal(struct filter_compiler *c, const char *after,
                           uint32_t *out)
{
    int rc = compile_literal_slot(c, out);

    if (rc == 0) {
        rc = compile_literal_at(c, *out, after);
    }
    if (rc == 0) {
        compile_next(c);
    }
    return rc;
}

/* ------------------------------------------------------------ compares -- */

static bool compile_orders(enum filter_op op)
{
    return op == FILTER_LT || op == FILTER_LE || op == FILTER_GT ||
           op == FILTER_GE;
}

static int compile_comparison(struct filter_compiler *c, uint32_t node)
{
    enum filter_op op = c->tok.op;
    size_t at;
    char after[32];
    uint32_t lit;
    int rc;

    snprintf(after, sizeof(after), "after %s", filter_op_name(op));
    compile_next(c);
    at = c->tok.start;
    rc = compile_literal(c, after, &lit);
    if (rc < 0) {
        return rc;
    }
    c->filter->nodes[node].op = op;
    c->filter->nodes[node].lit = lit;
    c->filter->nodes[node].lit_count = 1;
    if (compile_orders(op) && (c->filter->lits[lit].type == TW_JSON_BOOL ||
                               c->filter->lits[lit].type == TW_JSON_NULL)) {
        return compile_fail(c, at,
                            "%s orders numbers and strings only; compare "
                            "true, false and null with == or !=",
                            filter_op_name(op));
    }
    return 0;
}

static int compile_list(struct filter_compiler *c, uint32_t node)
{
    struct filter_node *n = &c->filter->nodes[node];
    uint32_t lit;
    int rc;

    n->op = FILTER_IN;
    compile_next(c);
    if (c->tok.kind != TOK_LBRACKET) {
        return compile_expected(c, "'[' to start the list after in");
    }
    compile_next(c);
    if (c->tok.kind == TOK_RBRACKET) {
        return compile_fail(c, c->tok.start,
                            "an in list needs at least one literal");
    }
    for (;;) {
        if (c->filter->nodes[node].lit_count == ROUTE_FILTER_MAX_LIST) {
            return compile_fail(c, c->tok.start,
                                "an in list holds at most %u literals",
                                ROUTE_FILTER_MAX_LIST);
        }
        rc = compile_literal(c, "in the list", &lit);
        if (rc < 0) {
            return rc;
        }
        n = &c->filter->nodes[node];
        if (n->lit_count++ == 0) {
            n->lit = lit;
        }
        if (c->tok.kind == TOK_RBRACKET) {
            compile_next(c);
            return 0;
        }
        if (c->tok.kind != TOK_COMMA) {
            return compile_expected(c, "',' or ']' in the list");
        }
        compile_next(c);
    }
}

static int compile_matches(struct filter_compiler *c, uint32_t node)
{
    struct filter_node *n = &c->filter->nodes[node];
    char message[200];
    size_t at;
    uint32_t lit;
    int rc;

    n->op = FILTER_MATCHES;
    compile_next(c);
    at = c->tok.start;
    if (c->tok.kind != TOK_STRING) {
        return compile_expected(
            c, "a regular expression (a string) after matches");
    }
    rc = compile_literal(c, "after matches", &lit);
    if (rc < 0) {
        return rc;
    }
    n = &c->filter->nodes[node];
    n->lit = lit;
    n->lit_count = 1;
    rc =
        schema_regex_compile(c->filter->lits[lit].str, c->filter->lits[lit].len,
                             &n->regex, message, sizeof(message));
    if (rc == TW_EINVAL) {
        return compile_fail(c, at, "invalid regular expression: %s", message);
    }
    return rc;
}

/* The operator and operand after a path, into node. */
static int compile_compare(struct filter_compiler *c, uint32_t node)
{
    const struct filter_token *tok = &c->tok;
    char found[64];

    switch (tok->kind) {
    case TOK_OP:
        return compile_comparison(c, node);
    case TOK_IN:
        return compile_list(c, node);
    case TOK_MATCHES:
        return compile_matches(c, node);
    case TOK_EXISTS:
        return compile_fail(c, tok->start,
                            "exists comes before the path it tests, as in "
                            "exists properties.coupon");
    case TOK_BAD_OP:
        return compile_fail(c, tok->start,
                            "unknown operator %s: expected ==, !=, <, <=, >, "
                            ">=, in or matches",
                            compile_found(c, found, sizeof(found)));
    case TOK_PATH:
        if (memchr(c->text + tok->start, '.', tok->len) == NULL &&
            c->text[tok->start] != '/') {
            return compile_fail(c, tok->start,
                                "unknown operator %s: expected ==, !=, <, "
                                "<=, >, >=, in or matches",
                                compile_found(c, found, sizeof(found)));
        }
        break;
    default:
        break;
    }
    return compile_expected(c, "an operator (==, !=, <, <=, >, >=, in or "
                               "matches) after the field path");
}

/* ----------------------------------------------------------- conditions -- */

static int compile_or(struct filter_compiler *c, uint32_t *out);

static int compile_deeper(struct filter_compiler *c)
{
    if (c->depth == ROUTE_FILTER_MAX_DEPTH) {
        return compile_fail(c, c->tok.start,
                            "the filter nests parentheses and not deeper "
                            "than %u levels",
                            ROUTE_FILTER_MAX_DEPTH);
    }
    c->depth++;
    return 0;
}

static int compile_group(struct filter_compiler *c, uint32_t *out)
{
    size_t open = c->tok.start;
    uint32_t line;
    uint32_t column;
    char expected[64];
    int rc = compile_deeper(c);

    if (rc < 0) {
        return rc;
    }
    compile_next(c);
    rc = compile_or(c, out);
    if (rc < 0) {
        return rc;
    }
    if (c->tok.kind != TOK_RPAREN) {
        compile_position(c->text, open, &line, &column);
        snprintf(expected, sizeof(expected),
                 "')' to close the '(' at line %u, column %u", line, column);
        return compile_expected(c, expected);
    }
    compile_next(c);
    c->depth--;
    return 0;
}

static int compile_predicate(struct filter_compiler *c, uint32_t *out)
{
    bool exists = c->tok.kind == TOK_EXISTS;
    int rc = compile_node(c, FILTER_PRED, out);

    if (rc < 0) {
        return rc;
    }
    if (exists) {
        compile_next(c);
        c->filter->nodes[*out].op = FILTER_EXISTS;
        return compile_path(c, "a field path after exists",
                            &c->filter->nodes[*out].path);
    }
    rc = compile_path(c, "a field path", &c->filter->nodes[*out].path);
    if (rc < 0) {
        return rc;
    }
    return compile_compare(c, *out);
}

static int compile_primary(struct filter_compiler *c, uint32_t *out)
{
    const struct filter_token *tok = &c->tok;
    char found[64];

    switch (tok->kind) {
    case TOK_LPAREN:
        return compile_group(c, out);
    case TOK_EXISTS:
    case TOK_PATH:
    case TOK_QUOTED:
    case TOK_SOURCE:
        return compile_predicate(c, out);
    case TOK_STRING:
    case TOK_NUMBER:
    case TOK_TRUE:
    case TOK_FALSE:
    case TOK_NULL:
        return compile_fail(c, tok->start,
                            "a condition starts with a field path, found the "
                            "literal %s (write the path first, as in "
                            "type == \"track\")",
                            compile_found(c, found, sizeof(found)));
    default:
        return compile_expected(c, "a condition (a field path, exists, not "
                                   "or '(')");
    }
}

static int compile_unary(struct filter_compiler *c, uint32_t *out)
{
    uint32_t child;
    int rc;

    if (c->tok.kind != TOK_NOT) {
        return compile_primary(c, out);
    }
    rc = compile_deeper(c);
    if (rc < 0) {
        return rc;
    }
    compile_next(c);
    rc = compile_unary(c, &child);
    if (rc < 0) {
        return rc;
    }
    c->depth--;
    rc = compile_node(c, FILTER_NOT, out);
    if (rc == 0) {
        c->filter->nodes[*out].child = child;
    }
    return rc;
}

/*
 * Links operand as the last child of parent; an operand of the same kind
 * (a parenthesised "a and b" inside an and) gives its children instead,
 * so chains stay one node however they were grouped.
 */
static void compile_link(struct route_filter *f, uint32_t parent,
                         uint32_t *tail, uint32_t operand)
{
    uint32_t first = operand;

    if (f->nodes[operand].kind == f->nodes[parent].kind) {
        first = f->nodes[operand].child;
    }
    if (*tail == FILTER_NONE) {
        f->nodes[parent].child = first;
    } else {
        f->nodes[*tail].next = first;
    }
    *tail = first;
    while (f->nodes[*tail].next != FILTER_NONE) {
        *tail = f->nodes[*tail].next;
    }
}

typedef int (*compile_operand_fn)(struct filter_compiler *, uint32_t *);

/* operand { keyword operand }, one node of kind when there are two or more. */
static int compile_chain(struct filter_compiler *c, enum filter_token_kind word,
                         enum filter_kind kind, compile_operand_fn operand,
                         uint32_t *out)
{
    uint32_t first = FILTER_NONE;
    uint32_t next;
    uint32_t tail = FILTER_NONE;
    int rc = operand(c, &first);

    if (rc < 0 || c->tok.kind != word) {
        *out = first;
        return rc;
    }
    rc = compile_node(c, kind, out);
    if (rc < 0) {
        return rc;
    }
    compile_link(c->filter, *out, &tail, first);
    while (c->tok.kind == word) {
        compile_next(c);
        rc = operand(c, &next);
        if (rc < 0) {
            return rc;
        }
        compile_link(c->filter, *out, &tail, next);
    }
    return 0;
}

static int compile_and(struct filter_compiler *c, uint32_t *out)
{
    return compile_chain(c, TOK_AND, FILTER_AND, compile_unary, out);
}

static int compile_or(struct filter_compiler *c, uint32_t *out)
{
    return compile_chain(c, TOK_OR, FILTER_OR, compile_and, out);
}

/* --------------------------------------------------------------- public -- */

static int compile_text(struct filter_compiler *c)
{
    int rc;

    filter_lex(c->text, c->len, 0, &c->tok);
    rc = compile_or(c, &c->filter->root);
    if (rc < 0) {
        return rc;
    }
    if (c->tok.kind == TOK_RPAREN) {
        return compile_fail(c, c->tok.start,
                            "found ')' with no '(' before it to close");
    }
    if (c->tok.kind != TOK_END) {
        return compile_expected(c, "and, or or the end of the filter");
    }
    return 0;
}

static int compile_setup(struct route_filter **out,
                         const struct route_filter_options *opts)
{
    uint32_t match_limit = ROUTE_FILTER_REGEX_MATCH_LIMIT;
    uint32_t depth_limit = ROUTE_FILTER_REGEX_DEPTH_LIMIT;
    struct route_filter *f = calloc(1, sizeof(*f));
    int rc;

    if (f == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a filter");
    }
    if (opts != NULL && opts->regex_match_limit != 0) {
        match_limit = opts->regex_match_limit;
    }
    if (opts != NULL && opts->regex_depth_limit != 0) {
        depth_limit = opts->regex_depth_limit;
    }
    rc = schema_regex_limits_init(&f->limits, match_limit, depth_limit);
    if (rc < 0) {
        free(f);
        return rc;
    }
    atomic_init(&f->regex_limit_hits, 0);
    atomic_init(&f->limit_logged, false);
    *out = f;
    return 0;
}

int route_filter_compile(const char *text, size_t len,
                         const struct route_filter_options *opts,
                         struct route_filter **out, struct route_error *err)
{
    struct filter_compiler c = {.text = text, .len = len, .err = err};
    int rc;

    *out = NULL;
    memset(err, 0, sizeof(*err));
    if (len > ROUTE_FILTER_MAX_BYTES) {
        return compile_fail(&c, ROUTE_FILTER_MAX_BYTES,
                            "the filter is longer than %u bytes",
                            ROUTE_FILTER_MAX_BYTES);
    }
    rc = compile_setup(&c.filter, opts);
    if (rc < 0) {
        return rc;
    }
    rc = tw_json_parser_new(ROUTE_FILTER_MAX_BYTES, 0, &c.json);
    if (rc == 0) {
        rc = compile_text(&c);
        tw_json_parser_free(c.json);
    }
    if (rc < 0) {
        route_filter_free(c.filter);
        return rc;
    }
    *out = c.filter;
    return 0;
}

void route_filter_free(struct route_filter *filter)
{
    if (filter == NULL) {
        return;
    }
    for (uint32_t i = 0; i < filter->node_count; i++) {
        route_path_free(filter->nodes[i].path);
        schema_regex_free(filter->nodes[i].regex);
    }
    for (uint32_t i = 0; i < filter->lit_count; i++) {
        free(filter->lits[i].str);
    }
    schema_regex_limits_free(&filter->limits);
    free(filter->nodes);
    free(filter->lits);
    free(filter);
}
