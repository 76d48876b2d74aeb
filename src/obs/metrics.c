/* metrics.c - Prometheus text lines (metrics.h). */
#include "obs/metrics.h"

#include <inttypes.h>

void obs_metric_family(struct tw_buf *out, const char *name, const char *type,
                       const char *help)
{
    tw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void obs_metric_u64(struct tw_buf *out, const char *name, const char *labels,
                    uint64_t value)
{
    if (labels != NULL && labels[0] != '\0') {
        tw_buf_printf(out, "%s{%s} %" PRIu64 "\n", name, labels, value);
    } else {
        tw_buf_printf(out, "%s %" PRIu64 "\n", name, value);
    }
}

void obs_metric_f64(struct tw_buf *out, const char *name, const char *labels,
                    double value)
{
    if (labels != NULL && labels[0] != '\0') {
        tw_buf_printf(out, "%s{%s} %.9g\n", name, labels, value);
    } else {
        tw_buf_printf(out, "%s %.9g\n", name, value);
    }
}
