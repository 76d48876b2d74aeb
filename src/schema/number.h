/*
 * number.h - exact arithmetic on JSON numbers for the numeric keywords.
 *
 * An instance's number may be an int64, a uint64 or a double, and so may
 * the bound it is checked against. Comparisons go through long double,
 * whose 64-bit mantissa holds each of the three exactly, so 2^63 + 1 is
 * above 2^63 and 9007199254740993 is not 9007199254740992.0.
 *
 * multipleOf is decided in decimal: both numbers are taken in their
 * shortest decimal form (the digits a person wrote: 0.1, not
 * 0.1000000000000000055...), and x is a multiple of m when x/m is a whole
 * number in exact decimal arithmetic. So 0.3 is a multiple of 0.1, and
 * 1e308 divided by 0.123456789 neither overflows nor errs.
 */
#ifndef TW_SCHEMA_NUMBER_H
#define TW_SCHEMA_NUMBER_H

#include <stdbool.h>

#include "json/json.h"
#include "schema/schema_internal.h"

/* -1, 0 or 1 as a is below, equal to or above b (both numbers). */
int schema_number_compare(struct tw_json a, struct tw_json b);

/* The shortest decimal form of a number's absolute value. */
void schema_number_decimal(struct tw_json value, struct schema_decimal *out);

/* Whether x is a whole multiple of m (m > 0). */
bool schema_number_is_multiple(struct tw_json x,
                               const struct schema_decimal *m);

#endif
