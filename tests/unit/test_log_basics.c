/* test_log_basics.c - appending and reading back through the log API. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/embedded.h"
#include "support/tmpdir.h"

static struct log *open_log(const char *dir, uint32_t partitions,
                            enum log_durability durability)
{
    struct log_options opts;
    struct log *log = NULL;

    log_options_init(&opts, dir);
    opts.partitions = partitions;
    opts.durability = durability;
    int rc = log_embedded_open(&opts, &log, NULL);
    cr_assert_eq(rc, 0, "open: %s", tw_err_message());
    return log;
}

Test(log_basics, appended_records_read_back_in_order_with_dense_offsets)
{
    char *dir = tw_test_tmpdir();
    struct log *log = open_log(dir, 2, LOG_DURABILITY_FSYNC);
    char value[64];
    uint64_t first;

    for (int b = 0; b < 10; b++) {
        struct log_record recs[5];
        char vals[5][64];

        for (int i = 0; i < 5; i++) {
            snprintf(vals[i], sizeof(vals[i]), "event-%d", b * 5 + i);
            recs[i] =
                (struct log_record){.timestamp_ms = 1000 + b * 5 + i,
                                    .key = "user",
                                    .key_len = 4,
                                    .value = vals[i],
                                    .value_len = (uint32_t)strlen(vals[i])};
        }
        cr_assert_eq(log_append_wait(log, 1, recs, 5, &first), 0, "%s",
                     tw_err_message());
        cr_assert_eq(first, (uint64_t)b * 5);
    }

    struct log_reader *r;
    struct log_record rec;
    cr_assert_eq(log_reader_open(log, 1, 0, &r), 0);
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(log_reader_next(r, &rec), 1, "record %d: %s", i,
                     tw_err_message());
        cr_assert_eq(rec.offset, (uint64_t)i);
        snprintf(value, sizeof(value), "event-%d", i);
        cr_assert_eq(rec.value_len, strlen(value));
        cr_assert_eq(memcmp(rec.value, value, rec.value_len), 0);
        cr_assert_eq(rec.timestamp_ms, 1000 + i);
    }
    cr_assert_eq(log_reader_next(r, &rec), 0);
    log_reader_close(r);
    log_close(log);
    tw_test_rmdir(dir);
}
