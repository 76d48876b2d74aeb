/* failed.c - writing failed-events records (failed.h). */
#include "collect/failed.h"

#include "collect/internal.h"
#include "common/units.h"
#include "json/json_write.h"

void collect_write_failed(struct tw_buf *out, const struct msg_envelope *env,
                          enum collect_reason reason, const char *why,
                          const struct plan_verdict *verdict,
                          struct tw_json message)
{
    char when[MSG_TIME_MAX];

    tw_format_time(env->received_ms, when, sizeof(when));
    tw_buf_putc(out, '{');
    tw_jw_key(out, "source");
    tw_jw_cstring(out, env->source);
    tw_buf_putc(out, ',');
    tw_jw_key(out, "receivedAt");
    tw_jw_cstring(out, when);
    tw_buf_putc(out, ',');
    tw_jw_key(out, "reason");
    tw_jw_cstring(out, collect_reason_name(reason));
    if (why != NULL) {
        tw_buf_putc(out, ',');
        tw_jw_key(out, "error");
        tw_jw_cstring(out, why);
    }
    if (env->plan_name != NULL && verdict != NULL) {
        msg_write_plan(env, out);
    }
    if (verdict != NULL && verdict->kept > 0) {
        msg_write_violations(verdict, out);
    }
    tw_buf_putc(out, ',');
    tw_jw_key(out, "event");
    tw_jw_value(out, message);
    tw_buf_putc(out, '}');
}
