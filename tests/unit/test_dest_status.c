/*
 * test_dest_status.c - the status file `trackway serve` writes for each
 * destination and `trackway trace` reads: what is written comes back per
 * partition (the batch in hand, the retry and its error, the commits with
 * their times), a missing file or partition is TW_ENOENT and a damaged
 * file TW_EINVAL, never a crash.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/delivery.h"
#include "cli/dest_status.h"
#include "common/clock.h"
#include "support/tmpdir.h"

struct fixture {
    char *dir;
    struct tw_config config;
};

static void fx_open(struct fixture *fx)
{
    char control[4096];

    memset(fx, 0, sizeof(*fx));
    fx->dir = tw_test_tmpdir();
    fx->config.storage.path = fx->dir;
    snprintf(control, sizeof(control), "%s/%s", fx->dir, DELIVERY_CONTROL_DIR);
    cr_assert_eq(mkdir(control, 0755), 0);
}

static void fx_close(struct fixture *fx)
{
    tw_test_rmdir(fx->dir);
}

/* Partition 0 idle with three commits; partition 1 waiting for a retry. */
static void two_partitions(struct deliver_part_status parts[2])
{
    memset(parts, 0, 2 * sizeof(parts[0]));
    parts[0].committed = 30;
    parts[0].batch_from = 30;
    parts[0].batch_to = 30;
    for (unsigned k = 0; k < 3; k++) {
        parts[0].marks.mark[k].from = 10 * k;
        parts[0].marks.mark[k].to = 10 * (k + 1);
        parts[0].marks.mark[k].first_ms = 1764806400000 + 1000 * k;
        parts[0].marks.mark[k].last_ms = 1764806400000 + 1000 * k + 500 * k;
    }
    parts[0].marks.count = 3;

    parts[1].committed = 7;
    parts[1].batch_from = 7;
    parts[1].batch_to = 12;
    parts[1].attempt = 2;
    parts[1].retry_at_ms = 1764806499000;
    parts[1].last_status = 503;
    snprintf(parts[1].last_error, sizeof(parts[1].last_error),
             "answered 503: {\"error\":\"busy\"}\n\ttry later");
}

Test(dest_status, what_is_written_is_read_back_per_partition)
{
    struct fixture fx;
    struct deliver_part_status parts[2];
    struct dest_status st;
    int64_t before = tw_now_ms();

    fx_open(&fx);
    two_partitions(parts);
    cr_assert_eq(dest_status_write(&fx.config, "hook", parts, 2, true, false),
                 0, "%s", tw_err_message());

    cr_assert_eq(dest_status_read(&fx.config, "hook", 0, &st), 0, "%s",
                 tw_err_message());
    cr_assert(st.paused);
    cr_assert_not(st.breaker_open);
    cr_assert_geq(st.written_ms, before);
    cr_assert_eq(st.part.committed, 30);
    cr_assert_eq(st.part.batch_to, 30);
    cr_assert_eq(st.part.marks.count, 3);
    for (unsigned k = 0; k < 3; k++) {
        const struct deliver_mark *got = &st.part.marks.mark[k];
        const struct deliver_mark *want = &parts[0].marks.mark[k];

        cr_assert_eq(got->from, want->from);
        cr_assert_eq(got->to, want->to);
        cr_assert_eq(got->first_ms, want->first_ms);
        cr_assert_eq(got->last_ms, want->last_ms);
    }

    cr_assert_eq(dest_status_read(&fx.config, "hook", 1, &st), 0);
    cr_assert_eq(st.part.batch_from, 7);
    cr_assert_eq(st.part.batch_to, 12);
    cr_assert_eq(st.part.attempt, 2);
    cr_assert_eq(st.part.retry_at_ms, parts[1].retry_at_ms);
    cr_assert_eq(st.part.last_status, 503);
    cr_assert_str_eq(st.part.last_error, parts[1].last_error);
    cr_assert_eq(st.part.marks.count, 0);
    fx_close(&fx);
}

Test(dest_status, a_missing_file_or_partition_is_enoent)
{
    struct fixture fx;
    struct deliver_part_status parts[2];
    struct dest_status st;

    fx_open(&fx);
    cr_assert_eq(dest_status_read(&fx.config, "hook", 0, &st), TW_ENOENT);
    two_partitions(parts);
    cr_assert_eq(dest_status_write(&fx.config, "hook", parts, 2, false, true),
                 0);
    cr_assert_eq(dest_status_read(&fx.config, "hook", 2, &st), TW_ENOENT);
    cr_assert_eq(dest_status_read(&fx.config, "other", 0, &st), TW_ENOENT);
    fx_close(&fx);
}

Test(dest_status, a_damaged_file_is_einval_and_a_rewrite_replaces_it)
{
    static const char *const damaged[] = {
        "", "{", "[]", "{\"partitions\":3}", "\x01\xff garbage",
    };
    struct fixture fx;
    struct deliver_part_status parts[2];
    struct dest_status st;
    char path[4096];

    fx_open(&fx);
    dest_status_path(&fx.config, "hook", path, sizeof(path));
    for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
        FILE *f = fopen(path, "w");

        cr_assert_not_null(f);
        fputs(damaged[i], f);
        fclose(f);
        cr_assert_eq(dest_status_read(&fx.config, "hook", 0, &st), TW_EINVAL,
                     "\"%s\" was taken for a status file", damaged[i]);
    }
    two_partitions(parts);
    cr_assert_eq(dest_status_write(&fx.config, "hook", parts, 2, false, false),
                 0);
    cr_assert_eq(dest_status_read(&fx.config, "hook", 0, &st), 0);
    cr_assert_eq(st.part.committed, 30);
    fx_close(&fx);
}

Test(dest_status, the_marks_of_every_partition_come_back_for_a_restart)
{
    struct fixture fx;
    struct deliver_part_status parts[2];
    struct deliver_marks marks[3];
    uint32_t found = 99;

    fx_open(&fx);
    cr_assert_eq(dest_status_read_marks(&fx.config, "hook", marks, 3, &found),
                 TW_ENOENT);
    cr_assert_eq(found, 0);
    two_partitions(parts);
    cr_assert_eq(dest_status_write(&fx.config, "hook", parts, 2, false, false),
                 0);
    memset(marks, 0, sizeof(marks));
    cr_assert_eq(dest_status_read_marks(&fx.config, "hook", marks, 3, &found),
                 0, "%s", tw_err_message());
    cr_assert_eq(found, 2, "the file has two partitions, not %u", found);
    cr_assert_eq(marks[0].count, 3);
    cr_assert_eq(marks[0].mark[2].to, 30);
    cr_assert_eq(marks[0].mark[2].last_ms, parts[0].marks.mark[2].last_ms);
    cr_assert_eq(marks[1].count, 0);
    fx_close(&fx);
}

Test(dest_status, a_mark_of_three_numbers_is_one_exact_time)
{
    struct fixture fx;
    struct dest_status st;
    char path[4096];
    FILE *f;

    fx_open(&fx);
    dest_status_path(&fx.config, "hook", path, sizeof(path));
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"written_ms\":1,\"partitions\":[{\"committed\":9,"
          "\"marks\":[[0,4,1000],[4,9,2000,2600],[\"x\",1,2],[-1,3,4]]}]}",
          f);
    fclose(f);
    cr_assert_eq(dest_status_read(&fx.config, "hook", 0, &st), 0);
    cr_assert_eq(st.part.marks.count, 2, "the malformed marks are dropped");
    cr_assert_eq(st.part.marks.mark[0].first_ms, 1000);
    cr_assert_eq(st.part.marks.mark[0].last_ms, 1000);
    cr_assert_eq(st.part.marks.mark[1].from, 4);
    cr_assert_eq(st.part.marks.mark[1].last_ms, 2600);
    fx_close(&fx);
}
