/*
 * test_units.c - what operators type on the command line (common/units.h):
 * sizes, durations, times and counts parse to the right numbers, anything
 * else is refused with a message, and times print back as they parse.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "common/units.h"
#include "common/error.h"

Test(units, sizes_take_binary_and_decimal_units)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"0", 0},
        {"100000", 100000},
        {"17B", 17},
        {"4KiB", 4096},
        {"512MiB", UINT64_C(512) << 20},
        {"10GiB", UINT64_C(10) << 30},
        {"10gib", UINT64_C(10) << 30},
        {"2TiB", UINT64_C(2) << 40},
        {"5kB", 5000},
        {"5KB", 5000},
        {"3MB", 3000000},
        {"7GB", UINT64_C(7000000000)},
        {"1TB", UINT64_C(1000000000000)},
        {"18446744073709551615", UINT64_MAX},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got = 1;

        cr_assert_eq(tw_parse_size(cases[i].text, &got), 0, "%s: %s",
                     cases[i].text, tw_err_message());
        cr_assert_eq(got, cases[i].bytes, "%s gave %llu", cases[i].text,
                     (unsigned long long)got);
    }
}

Test(units, sizes_that_are_not_sizes_are_refused_with_the_text_quoted)
{
    static const char *const bad[] = {
        "",
        "GiB",
        "-1",
        "+5",
        "1.5GiB",
        "10 GiB",
        " 10",
        "10GiBs",
        "10Gi",
        "10XB",
        "0x10",
        "10G",
        "1e6",
        "18446744073709551616",
        "17179869184GiB",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t got = 99;

        cr_assert_eq(tw_parse_size(bad[i], &got), TW_EINVAL, "\"%s\"", bad[i]);
        cr_assert_eq(got, 99, "\"%s\" wrote a value", bad[i]);
        cr_assert_not_null(strstr(tw_err_message(), bad[i]));
    }
}

Test(units, durations_take_units_and_combinations)
{
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"0", 0},           {"500ms", 500},     {"30s", 30000},
        {"30m", 1800000},   {"12h", 43200000},  {"7d", 604800000},
        {"2w", 1209600000}, {"1h30m", 5400000}, {"1m1ms", 60001},
        {"0s", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = -1;

        cr_assert_eq(tw_parse_duration(cases[i].text, &got), 0, "%s: %s",
                     cases[i].text, tw_err_message());
        cr_assert_eq(got, cases[i].ms, "%s gave %lld", cases[i].text,
                     (long long)got);
    }
}

Test(units, durations_without_units_or_with_junk_are_refused)
{
    static const char *const bad[] = {
        "",
        "10",
        "d",
        "-5m",
        "5 m",
        "5min",
        "1.5h",
        "7D",
        "h1",
        "5mx",
        "9223372036854775807d",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t got = 42;

        cr_assert_eq(tw_parse_duration(bad[i], &got), TW_EINVAL, "\"%s\"",
                     bad[i]);
        cr_assert_eq(got, 42);
    }
}

Test(units, times_read_iso_8601_dates_zones_and_milliseconds)
{
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"1970-01-01", 0},
        {"1970-01-01T00:00:00Z", 0},
        {"2023-11-14T22:13:20Z", INT64_C(1700000000000)},
        {"2023-11-14T22:13:20.123Z", INT64_C(1700000000123)},
        {"2023-11-14T22:13:20.1Z", INT64_C(1700000000100)},
        {"2023-11-14T22:13:20.123456Z", INT64_C(1700000000123)},
        {"2023-11-14T23:13:20+01:00", INT64_C(1700000000000)},
        {"2023-11-14T21:13:20-0100", INT64_C(1700000000000)},
        {"2023-11-14T22:13Z", INT64_C(1699999980000)},
        {"2024-02-29", INT64_C(1709164800000)},
        {"1969-12-31T23:59:59.999Z", -1},
        {"1700000000000", INT64_C(1700000000000)},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = 7;

        cr_assert_eq(tw_parse_time(cases[i].text, &got), 0, "%s: %s",
                     cases[i].text, tw_err_message());
        cr_assert_eq(got, cases[i].ms, "%s gave %lld", cases[i].text,
                     (long long)got);
    }
}

Test(units, times_that_are_ambiguous_or_impossible_are_refused)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "2023-11-14T22:13:20", /* no zone: local time is ambiguous */
        "2023-02-29",          /* not a leap year */
        "2023-13-01",
        "2023-00-10",
        "2023-11-31",
        "2023-11-14T24:00:00Z",
        "2023-11-14T22:60:00Z",
        "2023-11-14T22:13:20.Z",
        "2023-11-14T22:13:20Zjunk",
        "2023-11-14T22:13:20+25:00",
        "2023-1-14",
        "-1700000000000",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t got = 7;

        cr_assert_eq(tw_parse_time(bad[i], &got), TW_EINVAL, "\"%s\"", bad[i]);
        cr_assert_eq(got, 7);
    }
}

Test(units, a_formatted_time_parses_back_to_the_same_millisecond)
{
    static const int64_t samples[] = {
        0,
        1,
        -1,
        INT64_C(951782400000), /* 2000-02-29 */
        INT64_C(1700000000123),
        INT64_C(4102444799999),  /* 2099-12-31T23:59:59.999Z */
        INT64_C(-2208988800000), /* 1900-01-01 */
    };
    char text[TW_TIME_TEXT_MAX];

    tw_format_time(INT64_C(1700000000123), text, sizeof(text));
    cr_assert_str_eq(text, "2023-11-14T22:13:20.123Z");
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        int64_t back;

        tw_format_time(samples[i], text, sizeof(text));
        cr_assert_eq(tw_parse_time(text, &back), 0, "%s", text);
        cr_assert_eq(back, samples[i], "%s", text);
    }
}

Test(units, times_print_every_field_zero_padded_and_far_years_in_full)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {INT64_C(1772856306007), "2026-03-07T04:05:06.007Z"},
        {INT64_C(253402300799999), "9999-12-31T23:59:59.999Z"},
        {INT64_C(253402300800000), "10000-01-01T00:00:00.000Z"},
        {INT64_C(-62167219200000), "0000-01-01T00:00:00.000Z"},
        {INT64_C(-62167219200001), "-001-12-31T23:59:59.999Z"},
    };
    char text[TW_TIME_TEXT_MAX];
    char small[11];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tw_format_time(cases[i].ms, text, sizeof(text));
        cr_assert_str_eq(text, cases[i].text);
    }
    tw_format_time(INT64_C(1772856306007), small, sizeof(small));
    cr_assert_str_eq(small, "2026-03-07", "a short buffer gets a cut text");
}

Test(units, sizes_print_for_people)
{
    char text[TW_SIZE_TEXT_MAX];

    tw_format_size(0, text, sizeof(text));
    cr_assert_str_eq(text, "0 B");
    tw_format_size(1023, text, sizeof(text));
    cr_assert_str_eq(text, "1023 B");
    tw_format_size(1536, text, sizeof(text));
    cr_assert_str_eq(text, "1.5 KiB");
    tw_format_size(UINT64_C(64) << 20, text, sizeof(text));
    cr_assert_str_eq(text, "64.0 MiB");
    tw_format_size(UINT64_MAX, text, sizeof(text));
    cr_assert_str_eq(text, "16.0 EiB");
}

Test(units, counts_are_whole_numbers_only)
{
    uint64_t v = 0;

    cr_assert_eq(tw_parse_u64("42", &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(tw_parse_u64("", &v), TW_EINVAL);
    cr_assert_eq(tw_parse_u64("4 2", &v), TW_EINVAL);
    cr_assert_eq(tw_parse_u64("-1", &v), TW_EINVAL);
    cr_assert_eq(tw_parse_u64("99999999999999999999", &v), TW_EINVAL);
}
