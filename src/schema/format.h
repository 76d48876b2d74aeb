/*
 * format.h - the format keyword as an assertion: the formats a tracking
 * plan checks (date-time, date, uuid, email, ipv4, ipv6, uri), each as
 * its RFC defines it.
 */
#ifndef TW_SCHEMA_FORMAT_H
#define TW_SCHEMA_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "schema/schema_internal.h"

/* The format named name (len bytes); false for one not checked. */
bool schema_format_lookup(const char *name, size_t len,
                          enum schema_format *out);

/* Whether the string s (len bytes, UTF-8) is in the format. */
bool schema_format_check(enum schema_format format, const char *s, size_t len);

/* What a person calls the format: "date-time (RFC 3339)". */
const char *schema_format_describe(enum schema_format format);

#endif
