/*
 * filter_lex.c - the tokens of route filter text (grammar in filter.h).
 *
 * The lexer only finds where each token starts and ends and what kind it
 * is; strings and numbers are decoded by the JSON parser and paths by
 * route/path.h when the compiler takes them, so there is one decoder of
 * each. A byte that cannot start a token, or a quote never closed,
 * becomes a token of its own kind for the compiler to report.
 */
#include <string.h>

#include "route/filter_internal.h"

static const struct {
    const char *word;
    enum filter_token_kind kind;
} lex_keywords[] = {
    {"and", TOK_AND},       {"or", TOK_OR},         {"not", TOK_NOT},
    {"in", TOK_IN},         {"exists", TOK_EXISTS}, {"matches", TOK_MATCHES},
    {"true", TOK_TRUE},     {"false", TOK_FALSE},   {"null", TOK_NULL},
    {"source", TOK_SOURCE},
};

static const struct {
    const char *text;
    enum filter_op op;
} lex_operators[] = {
    {"==", FILTER_EQ}, {"!=", FILTER_NE}, {"<", FILTER_LT},
    {"<=", FILTER_LE}, {">", FILTER_GT},  {">=", FILTER_GE},
};

static bool lex_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool lex_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool lex_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Non-ASCII bytes belong to words, so names in any script need no quotes. */
static bool lex_word_start(unsigned char c)
{
    return lex_alpha(c) || c == '_' || c == '$' || c >= 0x80;
}

bool filter_word_byte(unsigned char c)
{
    return lex_word_start(c) || lex_digit(c) || c == '-';
}

bool filter_pointer_stop(unsigned char c)
{
    return c <= ' ' || c == 0x7f || strchr("()[],\"`=!<>", c) != NULL;
}

static bool lex_operator_byte(unsigned char c)
{
    return c == '=' || c == '!' || c == '<' || c == '>';
}

/* =~ and !~ from other languages are read whole, to be named whole. */
static bool lex_operator_rest(unsigned char c)
{
    return lex_operator_byte(c) || c == '~';
}

/* A number runs over everything a number or a typo in one could hold. */
static bool lex_number_byte(unsigned char c)
{
    return lex_alpha(c) || lex_digit(c) || c == '.' || c == '+' || c == '-' ||
           c == '_' || c == '$';
}

bool filter_reserved_word(const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof(lex_keywords) / sizeof(lex_keywords[0]);
         i++) {
        if (strlen(lex_keywords[i].word) == len &&
            memcmp(lex_keywords[i].word, word, len) == 0) {
            return true;
        }
    }
    return false;
}

const char *filter_op_name(enum filter_op op)
{
    switch (op) {
    case FILTER_IN:
        return "in";
    case FILTER_EXISTS:
        return "exists";
    case FILTER_MATCHES:
        return "matches";
    default:
        break;
    }
    for (size_t i = 0; i < sizeof(lex_operators) / sizeof(lex_operators[0]);
         i++) {
        if (lex_operators[i].op == op) {
            return lex_operators[i].text;
        }
    }
    return "?";
}

/* The end of a "..." or `...` token starting at at, or len if unclosed. */
static size_t lex_quoted_end(const char *text, size_t len, size_t at,
                             bool *closed)
{
    char quote = text[at];

    for (size_t i = at + 1; i < len; i++) {
        if (quote == '"' && text[i] == '\\') {
            i++; /* the escaped byte, whatever it is */
        } else if (text[i] == quote) {
            if (quote == '`' && i + 1 < len && text[i + 1] == '`') {
                i++; /* `` is a backquote inside */
                continue;
            }
            *closed = true;
            return i + 1;
        }
    }
    *closed = false;
    return len;
}

static size_t lex_run(const char *text, size_t len, size_t at,
                      bool (*belongs)(unsigned char))
{
    size_t i = at + 1;

    while (i < len && belongs((unsigned char)text[i])) {
        i++;
    }
    return i;
}

static bool lex_dotted_byte(unsigned char c)
{
    return filter_word_byte(c) || c == '.';
}

static bool lex_pointer_byte(unsigned char c)
{
    return !filter_pointer_stop(c);
}

static void lex_operator(const char *text, struct filter_token *tok)
{
    tok->kind = TOK_BAD_OP;
    for (size_t i = 0; i < sizeof(lex_operators) / sizeof(lex_operators[0]);
         i++) {
        if (strlen(lex_operators[i].text) == tok->len &&
            memcmp(lex_operators[i].text, text + tok->start, tok->len) == 0) {
            tok->kind = TOK_OP;
            tok->op = lex_operators[i].op;
        }
    }
}

static void lex_word(const char *text, struct filter_token *tok)
{
    tok->kind = TOK_PATH;
    for (size_t i = 0; i < sizeof(lex_keywords) / sizeof(lex_keywords[0]);
         i++) {
        if (strlen(lex_keywords[i].word) == tok->len &&
            memcmp(lex_keywords[i].word, text + tok->start, tok->len) == 0) {
            tok->kind = lex_keywords[i].kind;
        }
    }
}

void filter_lex(const char *text, size_t len, size_t at,
                struct filter_token *tok)
{
    unsigned char c;
    bool closed;
    size_t end;

    while (at < len && lex_space((unsigned char)text[at])) {
        at++;
    }
    memset(tok, 0, sizeof(*tok));
    tok->start = at;
    if (at == len) {
        tok->kind = TOK_END;
        return;
    }
    c = (unsigned char)text[at];
    tok->len = 1;
    switch (c) {
    case '(':
        tok->kind = TOK_LPAREN;
        return;
    case ')':
        tok->kind = TOK_RPAREN;
        return;
    case '[':
        tok->kind = TOK_LBRACKET;
        return;
    case ']':
        tok->kind = TOK_RBRACKET;
        return;
    case ',':
        tok->kind = TOK_COMMA;
        return;
    case '"':
    case '`':
        end = lex_quoted_end(text, len, at, &closed);
        tok->len = end - at;
        tok->kind = !closed ? TOK_UNCLOSED : c == '"' ? TOK_STRING : TOK_QUOTED;
        return;
    case '/':
        tok->len = lex_run(text, len, at, lex_pointer_byte) - at;
        tok->kind = TOK_PATH;
        return;
    default:
        break;
    }
    if (lex_operator_byte(c)) {
        tok->len = lex_run(text, len, at, lex_operator_rest) - at;
        lex_operator(text, tok);
    } else if (c == '-' || lex_digit(c)) {
        tok->len = lex_run(text, len, at, lex_number_byte) - at;
        tok->kind = TOK_NUMBER;
    } else if (lex_word_start(c)) {
        tok->len = lex_run(text, len, at, lex_dotted_byte) - at;
        lex_word(text, tok);
    } else {
        tok->kind = TOK_BAD_CHAR;
    }
}
