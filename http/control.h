/* control: the operator endpoints of the REST API as pure functions: POST /switchover,
 * POST /failover, POST /restart, POST /reinitialize, PATCH and PUT /config.
 *
 * Request bodies, rules, messages and status codes follow patroni/api.py of Patroni 3.0
 * (do_POST_failover, parse_schedule, is_failover_possible, do_POST_restart,
 * do_POST_reinitialize, do_PATCH_config, do_PUT_config) so that patronictl and scripts
 * written for Patroni keep working. Every deliberate difference is listed in
 * docs/control.md and marked "raftgres:" in control.c.
 *
 * Every function returns 0 on success or the HTTP status to answer with, and writes an
 * operator-readable sentence to `msg` (always NUL-terminated when msglen > 0); the daemon
 * answers `{"message": msg}`. Pure: no I/O, no clock reads (`now_ms`, unix milliseconds,
 * is a parameter); jansson for JSON. Strings passed in are borrowed for the call. */
#ifndef RAFTGRES_CONTROL_H
#define RAFTGRES_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_NAME_MAX 64 /* = FSM_NAME_MAX: member names */

/* ---- switchover / failover -------------------------------------------------------------- */

/* A member as the daemon sees it (from the replicated registry, the lock and the peers'
 * answers to GET /patroni). */
struct control_member {
    const char *name;
    bool running;    /* PostgreSQL state "running" */
    bool streaming;  /* replica streaming from the leader */
    bool is_leader;  /* holds the leader lock (informational; `leader` below decides) */
    bool nofailover; /* tag nofailover, or failover_priority <= 0 */
    int64_t lag;     /* bytes behind the leader's optime, -1 unknown */
};

struct control_view {
    const char *leader; /* lock holder, "" (or NULL) none */
    const struct control_member *members;
    size_t n_members;
    int64_t maximum_lag_on_failover; /* bytes */
    bool paused;                     /* maintenance mode (dynamic config "pause") */
    bool synchronous_mode;
    const char *const *sync_standbys; /* the sync set; may be empty */
    size_t n_sync;
};

struct control_switchover {
    char leader[CONTROL_NAME_MAX + 1];    /* "" if not given */
    char candidate[CONTROL_NAME_MAX + 1]; /* "" if not given ("member" is an alias) */
    int64_t scheduled_at_ms;              /* unix ms; 0 = now */
};

/* Parse the body of POST /switchover (is_failover=false) or POST /failover (true), in
 * Patroni's order:
 *   400  not JSON / not a non-empty object; leader, candidate or member not a string or
 *        longer than CONTROL_NAME_MAX (raftgres: Patroni has no type rule)
 *   400  "Failover could be performed only to a specific candidate" (failover, no candidate)
 *   400  "Switchover could be performed only from a specific leader" (switchover, no leader)
 *   400  "Failover can't be scheduled" (failover with scheduled_at; Patroni >= 3.1)
 *   400  "Timezone information is mandatory for the scheduled switchover"
 *   422  "Cannot schedule switchover in the past"
 *   422  "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g.
 *        ISO 8601" (also for a scheduled_at that is not a string)
 *   400  "Switchover target and source are the same" (leader == candidate; Patroni >= 3.1)
 * Unknown keys are ignored, as Patroni does. Empty or null values count as absent.
 * On 0, *out is filled; on error *out is zeroed. */
int control_parse_switchover(const char *body, size_t len, bool is_failover, int64_t now_ms,
                             struct control_switchover *out, char *msg, size_t msglen);

/* Check a parsed request against the cluster (Patroni's do_POST_failover after parsing, with
 * is_failover_possible). 0 = go ahead; otherwise:
 *   400  "Can't schedule switchover in the paused state"
 *   400  "Switchover is possible only to a specific candidate in a paused state"
 *   (a scheduled request passes here without the cluster checks below, as in Patroni:
 *    run them again with scheduled_at_ms = 0 when the schedule fires)
 *   412  "leader name does not match" (also when the cluster has no leader)
 *   412  "candidate name does not match with sync_standby" (switchover, synchronous_mode)
 *   412  "candidate does not exists" (Patroni's wording)
 *   412  "candidate is already the leader" (raftgres)
 *   412  "switchover is not possible: can not find sync_standby"
 *   412  "switchover is not possible: cluster does not have members except leader"
 *   412  "switchover is not possible: no good candidates have been found" — followed, for a
 *        named candidate, by the reason in parentheses (raftgres)
 * A member is a good candidate when it is not the leader, not nofailover, its PostgreSQL is
 * running, and, when the cluster has a leader, its lag is known and <= the maximum (and for a
 * switchover it streams). A failover with no leader in the cluster only needs "running".
 * On 0, `chosen` (chosen_len >= CONTROL_NAME_MAX + 1 recommended) gets the candidate: the
 * named one, or else the eligible member with the least lag, then the smallest name; "" for
 * a scheduled request without candidate. */
int control_check_switchover(const struct control_switchover *r, const struct control_view *v,
                             bool is_failover, char *chosen, size_t chosen_len, char *msg,
                             size_t msglen);

/* An ISO 8601 timestamp with a time zone → unix ms. Accepted: date YYYY-MM-DD or YYYYMMDD;
 * 'T', 't' or spaces; time HH[:MM[:SS[.fraction]]] or HHMM[SS]; zone Z, UTC, GMT, ±HH,
 * ±HH:MM, ±HHMM (spaces allowed before the zone). Returns -1 when unparsable or out of range
 * (hour 24, 30 February), -2 when it parses but has no zone (a bare date, or no suffix). */
int64_t control_parse_time(const char *s);

/* ---- restart ------------------------------------------------------------------------- */

struct control_restart {
    int64_t schedule_ms; /* unix ms; 0 = now */
    int restart_pending; /* -1 absent, else Python truthiness 0/1 */
    char role[16];       /* "" absent, else "master", "primary" or "replica" */
    char postgres_version[16];
    int postgres_version_num; /* 0 absent, else e.g. 150002 for "15.2", 90624 for "9.6.24" */
    int timeout_s;            /* 0 absent */
};

/* POST /restart. An empty body (len 0 or only white space) means "restart now". Keys are
 * checked in body order and the first bad one answers:
 *   400  not JSON / not an object
 *   schedule: 400 no time zone, 422 in the past or unparsable (messages as for switchover,
 *        with "restart")
 *   400  "PostgreSQL role should be either primary or replica"
 *   400  "Invalid PostgreSQL version: X" / "Invalid PostgreSQL version format: X.Y or X.Y.Z
 *        is accepted: X"
 *   400  "Timeout should be a positive number of seconds" (integer, or string with a unit as
 *        Patroni's parse_int(value, 's'): "30", "30s", "1min", "1.5min")
 *   400  "Unknown filter for the scheduled restart: K"
 *   restart_pending: any value, Python truthiness. */
int control_parse_restart(const char *body, size_t len, int64_t now_ms, struct control_restart *out,
                          char *msg, size_t msglen);

/* Patroni answers 500 "Can't schedule restart in the paused state" when paused and the body
 * has a schedule (Patroni checks this before the keys). 0 otherwise. */
int control_check_restart(const struct control_restart *r, bool paused, char *msg, size_t msglen);

/* Patroni's Ha.restart_matches: does this member meet the restart conditions? my_role is
 * Patroni's role word ("primary"/"master" are the same; "replica", "standby_leader" ...);
 * server_version as PostgreSQL's server_version_num (150002). */
bool control_restart_matches(const struct control_restart *r, const char *my_role,
                             bool pending_restart, int server_version);

/* ---- reinitialize ---------------------------------------------------------------------- */

/* POST /reinitialize: {"force": bool}, empty body = false. force follows Patroni's
 * parse_bool: true, 1, "true", "on", "yes", "1" (any case) are true, anything else false.
 * 0, or 400 for malformed JSON or a non-object. */
int control_parse_reinitialize(const char *body, size_t len, bool *force, char *msg, size_t msglen);

/* ---- dynamic configuration ------------------------------------------------------------- */

/* The body of PATCH or PUT /config: a non-empty JSON object (Patroni answers 400 for
 * anything else, including {}). 0 with *out a new reference, or 400. */
int control_parse_config_body(const char *body, size_t len, json_t **out, char *msg, size_t msglen);

/* PATCH /config: merge `patch` into `current` (NULL = {}) as Patroni's patch_config does:
 * objects merge recursively, null deletes a key, any other value (including an object over
 * a non-object) replaces. raftgres: nulls inside a value that is added or replaces are
 * dropped (RFC 7386) instead of being stored. `patch` must be an object. Returns a new
 * reference (current is not modified), or NULL with msg. */
json_t *control_merge_patch(const json_t *current, const json_t *patch, char *msg, size_t msglen);

/* Validate a whole dynamic configuration before it is stored (PUT body, PATCH result).
 * 400 when it is not an object; 422 naming the key for a bad type or bound (ttl 20..3600,
 * loop_wait 1..3600, retry_timeout 3..3600, maximum_lag_on_failover >= 0, booleans,
 * postgresql.parameters an object of scalars ...) or when loop_wait + 2*retry_timeout > ttl
 * (Patroni's defaults 30/10/10 for absent keys). Unknown keys are kept (as in Patroni). */
int control_validate_dynamic_config(const json_t *cfg, char *msg, size_t msglen);

/* Does changing this postgresql.parameters entry need a PostgreSQL restart (a
 * postmaster-context parameter, PostgreSQL 9.6 to 18)? Case-insensitive. */
bool control_param_needs_restart(const char *name);

#endif
