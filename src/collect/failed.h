/*
 * failed.h - the failed-events log's record, one JSON object per event
 * that the collector did not accept although its request succeeded:
 *
 *   {"source":"web", "receivedAt":"2026-12-04T10:00:00.000Z",
 *    "reason":"invalid",            malformed | too_large | unplanned | invalid
 *    "error":"...",                 a sentence, for malformed and too_large
 *    "plan":"shop", "planVersion":"3",               when a plan judged it
 *    "violations":[{"pointer":"/properties/price", "keyword":"type",
 *                   "message":"must be a number, got a string"}],
 *    "violationCount":17,           only when more were found than kept
 *    "event":{...}}                 the message exactly as the client sent it
 *
 * Its record key is "<source>/<messageId>" (the id part is empty when
 * the message had none it could use) and its timestamp receivedAt.
 */
#ifndef TW_COLLECT_FAILED_H
#define TW_COLLECT_FAILED_H

/* The failed-events log lives beside the events log, in this folder. */
#define FAILED_LOG_DIR "failed"
#define EVENTS_LOG_DIR "events"

#endif
