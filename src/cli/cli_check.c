/*
 * cli_check.c - `trackway check CONFIG`: everything serve would refuse,
 * found without starting anything: the file's keys and values, names
 * that must resolve, and every schema of every plan compiled.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/delivery.h"
#include "cli/storage.h"

static const char check_help[] =
    "Usage: trackway check CONFIG\n"
    "\n"
    "Checks a configuration file the way 'trackway serve' would, without\n"
    "opening the log or listening: unknown keys, wrong values, sources\n"
    "naming missing plans, reused write keys, and every schema of every\n"
    "tracking plan read and compiled. Each mistake is printed as\n"
    "FILE:LINE: what is wrong. Exits 0 when the file is usable, 1 when it\n"
    "is not, 2 on wrong usage.\n"
    "\n"
    "Example:\n"
    "  trackway check config/sample.yaml\n";

static size_t schema_count(const struct tw_config *config)
{
    size_t n = 0;

    for (size_t i = 0; i < config->plan_count; i++) {
        const struct cfg_plan *p = &config->plans[i];
        n += p->event_count;
        n += (p->identify.path != NULL) + (p->page.path != NULL) +
             (p->screen.path != NULL) + (p->group.path != NULL);
    }
    return n;
}

int cli_check_main(int argc, char **argv)
{
    struct tw_config *config;
    struct plan **plans = NULL;
    int rc;

    if (argc == 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(check_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "trackway check: %s\nRun 'trackway check --help'.\n",
                argc < 2 ? "missing the CONFIG file" : "one CONFIG file only");
        return CLI_EXIT_USAGE;
    }
    config = cli_config_load("check", argv[1]);
    if (config == NULL) {
        return CLI_EXIT_FAIL;
    }
    rc = cli_plans_compile("check", config, &plans);
    if (delivery_check("check", config) != 0) {
        if (rc == 0) {
            cli_plans_free(plans, config->plan_count);
        }
        rc = TW_EINVAL;
    }
    if (rc == 0) {
        printf("%s: ok: %zu source%s, %zu plan%s, %zu schema%s compiled\n",
               argv[1], config->source_count,
               config->source_count == 1 ? "" : "s", config->plan_count,
               config->plan_count == 1 ? "" : "s", schema_count(config),
               schema_count(config) == 1 ? "" : "s");
        cli_plans_free(plans, config->plan_count);
    }
    config_free(config);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
