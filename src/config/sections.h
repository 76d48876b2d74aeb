/*
 * sections.h - the readers of the configuration's delivery sections
 * (destinations, routes), kept apart from config.c's ingest sections.
 */
#ifndef TW_CONFIG_SECTIONS_H
#define TW_CONFIG_SECTIONS_H

#include "config/config.h"
#include "config/yaml_walk.h"

void cfg_read_destinations(struct yaml_walk *w, yaml_node_t *node,
                           struct tw_config *c);
void cfg_read_routes(struct yaml_walk *w, yaml_node_t *node,
                     struct tw_config *c);
/* Names unique, routes naming what exists. */
void cfg_check_delivery(struct yaml_walk *w, const struct tw_config *c);
void cfg_free_delivery(struct tw_config *c);

/* Shared with config.c. */
bool cfg_name_valid(const char *name);

#endif
