/*
 * filter_internal.h - the compiled form of a route filter, shared by the
 * compiler (filter_compile.c, over the tokens of filter_lex.c), the
 * evaluator (filter_eval.c) and the describer (filter_describe.c).
 *
 * A filter is a tree of nodes in one array, children linked as siblings:
 *
 *   nodes[]:  [0] AND -child-> [1] PRED type == "track"
 *                               | next
 *                               v
 *                              [2] OR -child-> [3] PRED total > 100
 *                                               | next
 *                                               v
 *                                              [4] NOT -child-> [5] PRED ...
 *
 * "and" and "or" take any number of operands (a and b and c is one AND
 * node, parenthesised or not), so the tree is only as deep as the
 * nesting of parentheses and "not", which the compiler bounds: evaluation
 * recurses at most a few frames per level and needs no heap. A predicate
 * holds its parsed path, its operator and its literals (a slice of
 * lits[]); a "matches" predicate its compiled pattern. Nothing in the
 * filter changes after compile except the atomic counters.
 */
#ifndef TW_ROUTE_FILTER_INTERNAL_H
#define TW_ROUTE_FILTER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route/filter.h"
#include "route/path.h"
#include "schema/regex.h"

#define FILTER_NONE UINT32_MAX

enum filter_kind {
    FILTER_AND,
    FILTER_OR,
    FILTER_NOT,
    FILTER_PRED,
};

enum filter_op {
    FILTER_EQ,
    FILTER_NE,
    FILTER_LT,
    FILTER_LE,
    FILTER_GT,
    FILTER_GE,
    FILTER_IN,
    FILTER_EXISTS,
    FILTER_MATCHES,
};

/* A literal of the text, typed as JSON types it. */
struct filter_literal {
    enum tw_json_type type; /* NULL, BOOL, INT, UINT, DOUBLE or STRING */
    bool boolean;
    int64_t i;
    uint64_t u;
    double d;
    /*
     * Any number, exactly: a long double's 64-bit mantissa holds every
     * int64, uint64 and double, so numbers of all three kinds compare
     * exactly through it.
     */
    long double number;
    char *str; /* owned; NUL-terminated, len bytes */
    size_t len;
};

struct filter_node {
    enum filter_kind kind;
    enum filter_op op;          /* FILTER_PRED */
    uint32_t child;             /* first operand (AND, OR, NOT) */
    uint32_t next;              /* the next operand of the same parent */
    struct route_path *path;    /* FILTER_PRED; owned */
    uint32_t lit;               /* first literal in lits[] */
    uint32_t lit_count;         /* 1, or the list of "in"; 0 for exists */
    struct schema_regex *regex; /* FILTER_MATCHES; owned */
};

struct route_filter {
    struct filter_node *nodes;
    uint32_t node_count;
    uint32_t root;
    struct filter_literal *lits;
    uint32_t lit_count;
    struct schema_regex_limits limits;
    atomic_uint_fast64_t regex_limit_hits;
    atomic_bool limit_logged;
};

struct route_scratch {
    pcre2_match_data *match_data;
};

/* ---------------------------------------------------------------- lexer -- */

enum filter_token_kind {
    TOK_END,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACKET,
    TOK_RBRACKET,
    TOK_COMMA,
    TOK_OP,     /* == != < <= > >= (op says which) */
    TOK_BAD_OP, /* a run of = ! < > (and ~ after them) that is no operator */
    TOK_STRING, /* "..." as written, quotes included */
    TOK_NUMBER, /* as written */
    TOK_PATH,   /* a dotted path or a pointer, as written */
    TOK_QUOTED, /* `...` as written, backquotes included */
    TOK_AND,
    TOK_OR,
    TOK_NOT,
    TOK_IN,
    TOK_EXISTS,
    TOK_MATCHES,
    TOK_TRUE,
    TOK_FALSE,
    TOK_NULL,
    TOK_SOURCE,   /* the word "source" alone */
    TOK_BAD_CHAR, /* a byte that starts no token */
    TOK_UNCLOSED, /* a string or quoted path without its closing quote */
};

struct filter_token {
    enum filter_token_kind kind;
    enum filter_op op; /* TOK_OP */
    size_t start;      /* byte offset in the text */
    size_t len;
};

/* The token starting at or after byte offset at. */
void filter_lex(const char *text, size_t len, size_t at,
                struct filter_token *tok);

/* Whether a word alone reads as a keyword or "source", not as a path. */
bool filter_reserved_word(const char *word, size_t len);

/* The text of an operator ("==", "in", "exists"). */
const char *filter_op_name(enum filter_op op);

/* Whether a byte may continue a dotted path in filter text. */
bool filter_word_byte(unsigned char c);

/* Whether a byte ends a pointer written in filter text. */
bool filter_pointer_stop(unsigned char c);

#endif
