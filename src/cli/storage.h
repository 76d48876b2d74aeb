/*
 * storage.h - opening what a configuration's storage section names:
 * the events log (storage.path/events, storage.partitions partitions)
 * and the failed-events log (storage.path/failed, one partition), and
 * compiling its tracking plans. Shared by serve, tail and failed.
 */
#ifndef TW_CLI_STORAGE_H
#define TW_CLI_STORAGE_H

#include <stdbool.h>

#include "collect/plan.h"
#include "config/config.h"
#include "log/log.h"

struct cli_storage {
    struct log *events;
    struct log *failed;
};

/*
 * Opens both logs, creating them unless read_only. On failure prints
 * what went wrong, prefixed with cmd, and returns a tw_err code.
 */
TW_MUST_CHECK int cli_storage_open(const char *cmd,
                                   const struct tw_config *config,
                                   bool read_only, struct cli_storage *st);
void cli_storage_close(struct cli_storage *st);

/*
 * Opens one log under storage.path: name is its folder there ("events",
 * "dlq/billing"); partitions counts only when creating. Prints why on
 * failure, prefixed with cmd.
 */
TW_MUST_CHECK int cli_log_open(const char *cmd, const struct tw_config *config,
                               const char *name, uint32_t partitions,
                               bool read_only, struct log **out);

/* cli_log_open read-only, saying nothing when the log does not exist. */
TW_MUST_CHECK int cli_log_open_quiet(const struct tw_config *config,
                                     const char *name, struct log **out);

/* The folder of a destination's dead-letter log under storage.path. */
#define CLI_DLQ_DIR "dlq"

/*
 * Loads and checks the configuration file, printing every mistake to
 * stderr prefixed with cmd. Returns NULL when it is unusable.
 */
struct tw_config *cli_config_load(const char *cmd, const char *path);

/*
 * Compiles every plan of config into plans[] (config->plan_count
 * entries, the caller frees each and the array), printing every mistake.
 * Returns 0 or TW_EINVAL.
 */
TW_MUST_CHECK int cli_plans_compile(const char *cmd,
                                    const struct tw_config *config,
                                    struct plan ***plans);
void cli_plans_free(struct plan **plans, size_t count);

#endif
