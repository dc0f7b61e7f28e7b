/* dyncfg: the dynamic configuration in effect — the state machine's `config` key once
 * the cluster is bootstrapped (PATCH /config, raftgresctl edit-config), bootstrap.dcs of
 * the local file before. Re-read whenever the key's version changes. */
#ifndef RAFTGRES_DYNCFG_H
#define RAFTGRES_DYNCFG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct dyncfg {
    uint64_t version; /* FSM config_version it was read from; 0 = bootstrap.dcs */
    bool loaded;
    int ttl, loop_wait, retry_timeout;
    long long maximum_lag_on_failover;
    long long maximum_lag_on_syncnode; /* bytes; <= 0 = never replace for lag */
    bool use_slots, use_pg_rewind, synchronous_mode, synchronous_mode_strict;
    int synchronous_node_count;
    json_t *json; /* the whole dynamic config (owned) */
    char *text;   /* the same as compact JSON text (owned) */
};

struct daemon;

/* Bring d->dyn up to date; returns true when it changed. */
bool dyncfg_refresh(struct daemon *d);
void dyncfg_free(struct dyncfg *c);

#endif
