/*
 * number.c - exact comparison and decimal multipleOf (number.h).
 */
#include "schema/number.h"

static long double number_exact(struct tw_json v)
{
    switch (tw_json_type(v)) {
    case TW_JSON_INT:
        return (long double)tw_json_int(v);
    case TW_JSON_UINT:
        return (long double)tw_json_uint(v);
    default:
        return (long double)tw_json_number(v);
    }
}

int schema_number_compare(struct tw_json a, struct tw_json b)
{
    long double x = number_exact(a);
    long double y = number_exact(b);

    return x < y ? -1 : x > y ? 1 : 0;
}

static void number_strip(uint64_t digits, int32_t exp10,
                         struct schema_decimal *out)
{
    while (digits != 0 && digits % 10 == 0) {
        digits /= 10;
        exp10++;
    }
    out->digits = digits;
    out->exp10 = digits == 0 ? 0 : exp10;
}

void schema_number_decimal(struct tw_json value, struct schema_decimal *out)
{
    int64_t i;
    uint64_t digits;
    int32_t exp10;

    switch (tw_json_type(value)) {
    case TW_JSON_INT:
        i = tw_json_int(value);
        /* -(i + 1) + 1 keeps INT64_MIN from overflowing. */
        number_strip(i < 0 ? (uint64_t)(-(i + 1)) + 1 : (uint64_t)i, 0, out);
        break;
    case TW_JSON_UINT:
        number_strip(tw_json_uint(value), 0, out);
        break;
    default:
        tw_json_double_decimal(tw_json_number(value), &digits, &exp10);
        number_strip(digits, exp10, out);
        break;
    }
}

/* (base ^ exp) mod m, without overflow for any 64-bit m. */
static uint64_t number_pow_mod(uint64_t base, uint64_t exp, uint64_t m)
{
    unsigned __int128 result = 1 % m;
    unsigned __int128 b = base % m;

    while (exp > 0) {
        if (exp & 1) {
            result = result * b % m;
        }
        b = b * b % m;
        exp >>= 1;
    }
    return (uint64_t)result;
}

/*
 * x = a * 10^p and m = b * 10^q, a and b without trailing zeros. If p < q,
 * x/m = a / (b * 10^(q-p)) needs a divisible by 10, which it is not
 * (unless it is 0). Otherwise x/m is whole when b divides a * 10^(p-q).
 */
bool schema_number_is_multiple(struct tw_json x, const struct schema_decimal *m)
{
    struct schema_decimal d;
    unsigned __int128 rest;

    schema_number_decimal(x, &d);
    if (d.digits == 0) {
        return true;
    }
    if (d.exp10 < m->exp10) {
        return false;
    }
    rest = (unsigned __int128)(d.digits % m->digits) *
           number_pow_mod(10, (uint64_t)(d.exp10 - m->exp10), m->digits);
    return rest % m->digits == 0;
}
