/*
 * regex.c - ECMA-262-like patterns on PCRE2 (regex.h).
 *
 * PCRE2 is the maintained library whose syntax is closest to ECMA-262 and
 * that bounds the work of a match (see docs/ARCHITECTURE.md). JIT is used
 * where PCRE2 has it: the match limit holds there too; the depth limit
 * applies to the interpreter, the JIT's stack to the JIT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/regex.h"

/*
 * UTF: patterns and subjects are Unicode text. No UCP, so \d, \w, \s and
 * \b are ASCII as in ECMA-262. DOLLAR_ENDONLY: "$" does not match before
 * a final newline. ALT_BSUX + EXTRA_ALT_BSUX: \uHHHH and \u{H...}
 * escapes as in ECMA-262 (and \x must have two hex digits).
 */
#define REGEX_OPTIONS (PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX)

int schema_regex_limits_init(struct schema_regex_limits *limits,
                             uint32_t match_limit, uint32_t depth_limit)
{
    limits->context = pcre2_match_context_create(NULL);
    if (limits->context == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory creating regex limits");
    }
    pcre2_set_match_limit(limits->context, match_limit);
    pcre2_set_depth_limit(limits->context, depth_limit);
    return 0;
}

void schema_regex_limits_free(struct schema_regex_limits *limits)
{
    pcre2_match_context_free(limits->context);
    limits->context = NULL;
}

/*
 * ECMA-262 spells Unicode properties by their long names (\p{Letter},
 * \p{General_Category=Decimal_Number}, \p{Script=Greek}); PCRE2 10.42
 * knows the short ones (\p{L}, \p{Nd}, \p{Greek}). Patterns are
 * rewritten to the short names before compiling.
 */
static const struct {
    const char *ecma;
    const char *pcre;
} regex_categories[] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

/* The PCRE2 name for the ECMA-262 property name (len bytes), or NULL. */
static const char *regex_property(const char *name, size_t len)
{
    static const char *const prefixes[] = {
        "General_Category=", "gc=", "Script=", "sc="};
    size_t count = sizeof(regex_categories) / sizeof(regex_categories[0]);

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);

        if (len > n && memcmp(name, prefixes[i], n) == 0) {
            name += n;
            len -= n;
            if (i >= 2) {
                return NULL; /* a script: PCRE2 knows the long name */
            }
            break;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (strlen(regex_categories[i].ecma) == len &&
            memcmp(regex_categories[i].ecma, name, len) == 0) {
            return regex_categories[i].pcre;
        }
    }
    return NULL;
}

/*
 * Copies pattern into out (len + 1 bytes suffice: names only shrink),
 * rewriting the names of \p{...} and \P{...}; returns the new length.
 */
static size_t regex_rewrite(const char *pattern, size_t len, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        const char *name;
        const char *close;
        const char *short_name = NULL;

        out[n++] = pattern[i];
        if (pattern[i] != '\\' || i + 1 >= len) {
            continue;
        }
        out[n++] = pattern[++i]; /* the escaped character, whatever it is */
        if ((pattern[i] != 'p' && pattern[i] != 'P') || i + 2 >= len ||
            pattern[i + 1] != '{') {
            continue;
        }
        name = pattern + i + 2;
        close = memchr(name, '}', len - i - 2);
        if (close != NULL) {
            short_name = regex_property(name, (size_t)(close - name));
        }
        if (short_name != NULL) {
            n += (size_t)sprintf(out + n, "{%s}", short_name);
            i = (size_t)(close - pattern);
        }
    }
    out[n] = '\0';
    return n;
}

static pcre2_compile_context *regex_compile_context(void)
{
    pcre2_compile_context *context = pcre2_compile_context_create(NULL);

    if (context != NULL) {
        pcre2_set_compile_extra_options(context, PCRE2_EXTRA_ALT_BSUX);
    }
    return context;
}

int schema_regex_compile(const char *pattern, size_t len,
                         struct schema_regex **out, char *message, size_t cap)
{
    pcre2_compile_context *context = regex_compile_context();
    struct schema_regex *regex;
    PCRE2_UCHAR text[160];
    PCRE2_SIZE offset = 0;
    char *rewritten;
    int code = 0;

    *out = NULL;
    regex = calloc(1, sizeof(*regex));
    if (context == NULL || regex == NULL) {
        pcre2_compile_context_free(context);
        free(regex);
        return tw_err_set(TW_ENOMEM, "out of memory compiling a pattern");
    }
    rewritten = malloc(len + 1);
    if (rewritten != NULL) {
        len = regex_rewrite(pattern, len, rewritten);
        regex->code = pcre2_compile((PCRE2_SPTR)rewritten, len, REGEX_OPTIONS,
                                    &code, &offset, context);
        free(rewritten);
    } else {
        code = PCRE2_ERROR_NOMEMORY;
    }
    pcre2_compile_context_free(context);
    if (regex->code == NULL) {
        free(regex);
        if (code == PCRE2_ERROR_NOMEMORY) {
            return tw_err_set(TW_ENOMEM, "out of memory compiling a pattern");
        }
        pcre2_get_error_message(code, text, sizeof(text));
        snprintf(message, cap, "%s at offset %zu", (const char *)text,
                 (size_t)offset);
        return tw_err_set(TW_EINVAL, "%s", message);
    }
    /* Without JIT the interpreter runs the same pattern, only slower. */
    (void)pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);
    *out = regex;
    return 0;
}

void schema_regex_free(struct schema_regex *regex)
{
    if (regex != NULL) {
        pcre2_code_free(regex->code);
        free(regex);
    }
}

int schema_regex_match(const struct schema_regex *regex,
                       const struct schema_regex_limits *limits,
                       pcre2_match_data **match_data, const char *subject,
                       size_t len)
{
    int rc;

    /* One pair is enough: only whether it matches is asked. */
    if (*match_data == NULL) {
        *match_data = pcre2_match_data_create(1, NULL);
        if (*match_data == NULL) {
            return tw_err_set(TW_ENOMEM, "out of memory matching a pattern");
        }
    }
    rc = pcre2_match(regex->code, (PCRE2_SPTR)subject, len, 0, 0, *match_data,
                     limits->context);
    if (rc >= 0) {
        return 1; /* 0 means "matched, ovector too small" */
    }
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        return 0;
    case PCRE2_ERROR_NOMEMORY:
        return tw_err_set(TW_ENOMEM, "out of memory matching a pattern");
    default:
        /* Match, depth, heap or JIT stack limits: all bounds on work. */
        return TW_ERANGE;
    }
}
