/*
 * metrics.h - writing the Prometheus text exposition format (0.0.4).
 *
 * Each metric family is introduced once with obs_metric_family, then
 * given one line per label set with obs_metric_u64 or obs_metric_f64.
 * Label text is passed preformatted ("source=\"web\""): callers only put
 * names from the configuration there, which are checked to need no
 * escaping when loaded.
 */
#ifndef TW_OBS_METRICS_H
#define TW_OBS_METRICS_H

#include <stdint.h>

#include "common/buf.h"

/* type: "counter", "gauge" or "histogram". */
void obs_metric_family(struct tw_buf *out, const char *name, const char *type,
                       const char *help);
/* labels may be NULL or "" for none. */
void obs_metric_u64(struct tw_buf *out, const char *name, const char *labels,
                    uint64_t value);
void obs_metric_f64(struct tw_buf *out, const char *name, const char *labels,
                    double value);

#endif
