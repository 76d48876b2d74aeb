/*
 * registry.h - what the compiler reads from a registry (registry.c).
 */
#ifndef TW_SCHEMA_REGISTRY_H
#define TW_SCHEMA_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "schema/schema.h"

/*
 * The text of the document registered under uri (absolute, normal form,
 * no fragment); false when there is none. The text belongs to the
 * registry.
 */
bool schema_registry_get(const struct tw_schema_registry *reg, const char *uri,
                         const char **text, size_t *len);

#endif
