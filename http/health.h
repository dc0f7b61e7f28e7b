/* health: the Patroni-compatible health-check endpoints (/primary, /replica, /read-only,
 * /health, /liveness, /readiness, /patroni ...) as pure functions of the local status.
 *
 * HAProxy configs (`option httpchk /primary`), Kubernetes probes and monitoring written for
 * Patroni 3.0 keep working: the path matching, the query parameters (lag, tag_*,
 * replication_state), the status codes and the JSON body follow patroni/api.py. The one
 * deliberate difference: /primary (and /, /master, /read-write) answers 200 only while
 * PostgreSQL runs as a primary AND this member's leader lease is valid by its own clock
 * (docs/rest-api.md).
 *
 * Pure: no h2o, no sockets, no clock reads; the caller hands in `now`. */
#ifndef RAFTGRES_HEALTH_H
#define RAFTGRES_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/pgstatus.h"

/* What a GET path asks. Patroni routes by the first path segment when a handler of that
 * name exists (/patroni, /liveness, /readiness, and /cluster, /history, /config, /metrics,
 * /failsafe, which are not health checks: HEALTH_NONE), and otherwise matches substrings
 * of the whole path in this order. */
enum health_kind {
    HEALTH_NONE = 0,       /* not a health check (another route, or unknown path) */
    HEALTH_STANDBY_LEADER, /* path contains "standby_leader" or "standby-leader" */
    HEALTH_LEADER,         /* contains "leader" */
    HEALTH_PRIMARY,        /* "/", or contains "master", "primary" or "read-write" */
    HEALTH_REPLICA,        /* contains "replica" */
    HEALTH_READ_ONLY,      /* contains "read-only" but not "sync" */
    HEALTH_HEALTH,         /* contains "health" */
    HEALTH_SYNC,           /* exactly /sync or /synchronous */
    HEALTH_ASYNC,          /* exactly /async or /asynchronous */
    HEALTH_READ_ONLY_SYNC, /* exactly /read-only-sync or /read-only-synchronous */
    HEALTH_LIVENESS,       /* first segment "liveness" */
    HEALTH_READINESS,      /* first segment "readiness" */
    HEALTH_PATRONI,        /* first segment "patroni" */
};

/* What the daemon knows besides struct pg_status. All strings are borrowed for the call. */
struct health_ctx {
    const char *scope;   /* cluster name: patroni.scope */
    const char *name;    /* this member: patroni.name */
    const char *version; /* reported as patroni.version (raftgres's version) */

    int64_t now_ms;      /* unix ms, the time of the request */
    int64_t next_run_ms; /* when the HA loop is next due (Patroni's next_run), unix ms; set it
                          * to the start time before the first cycle. 0: not started yet,
                          * /liveness answers 200 */
    uint32_t ttl_s;      /* dcs.ttl; /liveness allows ttl on a primary, 2*ttl elsewhere */

    bool dcs_available;      /* Patroni's `dcs.cluster is not None`: this member has a current
                              * view of the replicated state (the Raft cluster answers) */
    int64_t dcs_last_seen_s; /* unix seconds of the last successful contact, 0 never */

    bool standby_cluster;     /* the cluster replicates from another cluster (standby_leader) */
    bool has_restore_command; /* a replica not streaming reports "in archive recovery" */

    /* Synchronous replication (the sync endpoints answer as Patroni does with the mode off
     * when synchronous_mode is false). */
    bool synchronous_mode;
    const char *const *sync_members; /* member names in the sync key */
    size_t n_sync_members;
};

/* Which health endpoint PATH (LEN bytes, no query string) is; HEALTH_NONE for others. */
enum health_kind health_kind_of(const char *path, size_t len);

/* Decide the HTTP status (200 or 503) of endpoint KIND for the raw query string QUERY
 * (QLEN bytes after '?', may be NULL) and build its body in *BODY (a new reference the
 * caller owns and must json_decref), or set *BODY to NULL when Patroni sends no body
 * (/liveness, /readiness: status line only). HEALTH_NONE answers 503 with the status body,
 * which is what Patroni does for a GET of an unknown path. Query values are decoded as
 * Python's parse_qs does (first value of each key, blank values ignored); an unparsable
 * lag is ignored, as Patroni does. Never fails: on allocation failure *BODY may be NULL. */
int health_check(enum health_kind kind, const char *query, size_t qlen, const struct pg_status *st,
                 const struct health_ctx *ctx, json_t **body);

/* The status object alone (the body of /patroni and of every health check). New
 * reference, or NULL if out of memory. */
json_t *health_patroni_json(const struct pg_status *st, const struct health_ctx *ctx);

/* A size in bytes as Patroni's parse_int(s, 'B') reads it: "1048576", "16MB", "1 kB",
 * "1.5kB", "0x400". Units B, kB, MB, GB, TB (case-sensitive). Returns -1 for anything
 * Patroni rejects and for negative sizes; sizes beyond the range saturate at LLONG_MAX. */
long long health_parse_size(const char *s);

#endif
