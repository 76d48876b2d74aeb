/*
 * filter_describe.c - a compiled filter back as text (filter.h).
 *
 * The text is filter syntax in a normal form, so it can be logged, shown
 * in help and compared in tests, and compiles back to the same filter:
 * parentheses only where precedence needs them, paths in the plainest
 * spelling that reads back as the same path (dotted, else a pointer,
 * else a quoted pointer), literals as the JSON writer writes them.
 */
#include <inttypes.h>
#include <string.h>

#include "json/json_write.h"
#include "route/filter_internal.h"

static bool describe_word(const struct route_segment *seg, bool first)
{
    if (seg->len == 0) {
        return false;
    }
    for (size_t i = 0; i < seg->len; i++) {
        if (!filter_word_byte((unsigned char)seg->name[i])) {
            return false;
        }
    }
    /* A first segment must not read as a number. */
    return !first || !((seg->name[0] >= '0' && seg->name[0] <= '9') ||
                       seg->name[0] == '-');
}

static bool describe_dotted(const struct route_path *path)
{
    for (uint32_t i = 0; i < path->count; i++) {
        if (!describe_word(&path->segs[i], i == 0)) {
            return false;
        }
    }
    return !(path->count == 1 &&
             filter_reserved_word(path->segs[0].name, path->segs[0].len));
}

/*
 * A pointer reads back bare unless a name holds a byte that ends a bare
 * pointer; then it goes between backquotes, with each backquote doubled.
 */
static void describe_pointer(const struct route_path *path, struct tw_buf *out)
{
    bool bare = true;

    for (uint32_t i = 0; i < path->count && bare; i++) {
        for (size_t k = 0; k < path->segs[i].len && bare; k++) {
            bare = !filter_pointer_stop((unsigned char)path->segs[i].name[k]);
        }
    }
    if (!bare) {
        tw_buf_putc(out, '`');
    }
    for (uint32_t i = 0; i < path->count; i++) {
        const struct route_segment *seg = &path->segs[i];

        tw_buf_putc(out, '/');
        for (size_t k = 0; k < seg->len; k++) {
            char c = seg->name[k];

            if (c == '~' || c == '/') {
                tw_buf_append(out, c == '~' ? "~0" : "~1", 2);
                continue;
            }
            if (c == '`') {
                tw_buf_putc(out, '`');
            }
            tw_buf_putc(out, c);
        }
    }
    if (!bare) {
        tw_buf_putc(out, '`');
    }
}

static void describe_path(const struct route_path *path, struct tw_buf *out)
{
    if (!describe_dotted(path)) {
        describe_pointer(path, out);
        return;
    }
    for (uint32_t i = 0; i < path->count; i++) {
        if (i > 0) {
            tw_buf_putc(out, '.');
        }
        tw_buf_append(out, path->segs[i].name, path->segs[i].len);
    }
}

static void describe_literal(const struct filter_literal *lit,
                             struct tw_buf *out)
{
    switch (lit->type) {
    case TW_JSON_NULL:
        tw_buf_puts(out, "null");
        break;
    case TW_JSON_BOOL:
        tw_buf_puts(out, lit->boolean ? "true" : "false");
        break;
    case TW_JSON_INT:
        tw_jw_int(out, lit->i);
        break;
    case TW_JSON_UINT:
        tw_buf_printf(out, "%" PRIu64, lit->u);
        break;
    case TW_JSON_DOUBLE:
        tw_jw_double(out, lit->d);
        break;
    default:
        tw_jw_string(out, lit->str, lit->len);
        break;
    }
}

static void describe_predicate(const struct route_filter *filter,
                               const struct filter_node *node,
                               struct tw_buf *out)
{
    if (node->op == FILTER_EXISTS) {
        tw_buf_puts(out, "exists ");
        describe_path(node->path, out);
        return;
    }
    describe_path(node->path, out);
    tw_buf_putc(out, ' ');
    tw_buf_puts(out, filter_op_name(node->op));
    tw_buf_putc(out, ' ');
    if (node->op != FILTER_IN) {
        describe_literal(&filter->lits[node->lit], out);
        return;
    }
    tw_buf_putc(out, '[');
    for (uint32_t i = 0; i < node->lit_count; i++) {
        if (i > 0) {
            tw_buf_puts(out, ", ");
        }
        describe_literal(&filter->lits[node->lit + i], out);
    }
    tw_buf_putc(out, ']');
}

/* Whether a node needs parentheses as an operand of a parent of kind. */
static bool describe_needs_group(enum filter_kind child,
                                 enum filter_kind parent)
{
    if (child == FILTER_OR) {
        return parent != FILTER_PRED; /* PRED: no parent at all */
    }
    if (child == FILTER_AND) {
        return parent == FILTER_AND || parent == FILTER_NOT;
    }
    return false;
}

static void describe_node(const struct route_filter *filter, uint32_t index,
                          enum filter_kind parent, struct tw_buf *out)
{
    const struct filter_node *node = &filter->nodes[index];
    bool group = describe_needs_group(node->kind, parent);
    const char *word = node->kind == FILTER_AND ? " and " : " or ";

    if (group) {
        tw_buf_putc(out, '(');
    }
    switch (node->kind) {
    case FILTER_AND:
    case FILTER_OR:
        for (uint32_t c = node->child; c != FILTER_NONE;
             c = filter->nodes[c].next) {
            if (c != node->child) {
                tw_buf_puts(out, word);
            }
            describe_node(filter, c, node->kind, out);
        }
        break;
    case FILTER_NOT:
        tw_buf_puts(out, "not ");
        describe_node(filter, node->child, FILTER_NOT, out);
        break;
    case FILTER_PRED:
        describe_predicate(filter, node, out);
        break;
    }
    if (group) {
        tw_buf_putc(out, ')');
    }
}

int route_filter_describe(const struct route_filter *filter, struct tw_buf *out)
{
    /* The root has no parent; FILTER_PRED stands for "none" here. */
    describe_node(filter, filter->root, FILTER_PRED, out);
    return tw_buf_status(out);
}
