/*
 * show.h - reading stored records for people: one member of a parsed
 * record as text, and a value written out whole. Shared by the commands
 * that print records (failed, dlq, trace).
 */
#ifndef TW_CLI_SHOW_H
#define TW_CLI_SHOW_H

#include <stddef.h>
#include <stdio.h>

#include "json/json.h"

/*
 * The member at a dotted path ("context.trackway.plan") of obj as text in
 * buf: a string as it is, an integer in decimal; "-" when it is absent or
 * of another type. Returns buf or "-".
 */
const char *show_text(struct tw_json obj, const char *path, char *buf,
                      size_t size);

/* Writes value as compact JSON, then a newline, to out. */
void show_json_line(FILE *out, struct tw_json value);

#endif
