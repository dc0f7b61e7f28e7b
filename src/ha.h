/* ha: the HA decision (design.md section 4). One pure function from observed state to
 * one action and a reason, in Patroni's words. No I/O, no clock: the daemon collects
 * the observations (state machine, local PostgreSQL, lease, peers' WAL positions),
 * calls ha_decide(), logs the reason and carries the action out; results come back as
 * new observations in the next cycle.
 *
 * The daemon runs a cycle every loop_wait and at once on events (lock released or
 * expired, postmaster exited, Raft leader changed, failover requested, peers answered),
 * one cycle at a time. */
#ifndef RAFTGRES_HA_H
#define RAFTGRES_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/pgstatus.h"

/* What a peer answered to GET /patroni during the failover race (or what the state
 * machine's member registry says when it did not answer). */
struct ha_peer {
    char name[FSM_NAME_MAX + 1];
    bool reachable;  /* answered in time */
    bool is_primary; /* runs PostgreSQL as a primary */
    bool running;    /* PostgreSQL running */
    bool starting;   /* PostgreSQL about to run: starting, or stopped (a daemon that just
                      * started): its WAL position is not known yet */
    uint32_t timeline;
    uint64_t lsn; /* max(receive, replay) for a replica, write for a primary */
    struct pg_tags tags;
};

struct ha_input {
    const char *self; /* this member's name */

    /* Dynamic configuration (bootstrap.dcs / the FSM config), in ms and bytes. */
    uint32_t ttl_ms;
    uint32_t loop_wait_ms;
    uint64_t maximum_lag_on_failover; /* bytes */
    bool use_pg_rewind;
    bool remove_data_directory_on_rewind_failure;
    bool remove_data_directory_on_diverged_timelines;

    /* State machine. */
    const char *initialize;   /* cluster sysid, "" before bootstrap */
    const char *lock_holder;  /* "" when the lock is free */
    uint32_t leader_timeline; /* the lock holder's timeline from its member record, 0 unknown */
    uint64_t leader_optime;   /* optime/leader (last WAL position the primary reported) */
    /* History: the LSN at which our timeline ended (switch point to the next one), from
     * the FSM history; 0 when our timeline did not end (or is unknown). */
    uint64_t my_timeline_switch_lsn;
    const char *clonefrom; /* a running member tagged clonefrom, "" none */
    /* The last member that held the lock (kept after release or expiry): it wins a tie of
     * equal WAL position and failover_priority, so a full cluster restart keeps the same
     * primary. "" unknown. */
    const char *last_leader;

    /* Local PostgreSQL, lease, tags, pause: see pgstatus.h. */
    const struct pg_status *pg;
    bool pg_was_primary; /* the data dir was last a primary (pg_controldata / our record) */
    bool watchdog_ok;    /* a required watchdog is usable (true when not required) */

    /* Failover race: the peers' WAL positions. */
    bool peers_collected;        /* the peers below are fresh for this lock-free period */
    const struct ha_peer *peers; /* every other member */
    size_t n_peers;

    /* Multi-step work in flight (initdb, basebackup, rewind, start, stop, promote):
     * its name, or NULL when idle. */
    const char *busy;
    bool bootstrap_failed; /* our initdb/bootstrap failed (release and retry later) */
    bool rewind_failed;    /* pg_rewind failed for the current divergence */
    bool clone_failed;
};

enum ha_action {
    HA_NONE = 0,          /* nothing to do (the reason says why) */
    HA_WAIT,              /* an operation is in progress */
    HA_ACQUIRE_BOOTSTRAP, /* no initialize key and no lock: take the lock to bootstrap */
    HA_BOOTSTRAP,         /* we hold the lock, no initialize: initdb, then INITIALIZE(sysid) */
    HA_RELEASE,           /* give the lock up (bootstrap failed, ...) */
    HA_CLONE,             /* no data: pg_basebackup from `target` */
    HA_START_REPLICA,     /* start PostgreSQL as a standby of `target` ("" = no primary yet) */
    HA_FOLLOW,            /* running standby: point primary_conninfo at `target` */
    HA_COLLECT_PEERS,     /* lock free: ask the peers for their WAL positions first */
    HA_ACQUIRE,           /* lock free and we are the healthiest: CAS acquire */
    HA_PROMOTE,           /* we hold the lock and run as a standby: promote */
    HA_RENEW,             /* we are the primary with the lock: renew it */
    HA_START_PRIMARY,     /* we hold the lock and PostgreSQL is down (crash): start in place */
    HA_DEMOTE,       /* we run as a primary without a valid lease: stop, come back as a standby */
    HA_REWIND,       /* diverged from the leader: pg_rewind from `target` */
    HA_REINITIALIZE, /* rewind impossible: remove the data dir and clone from `target` */
};
const char *ha_action_name(enum ha_action a);

struct ha_decision {
    enum ha_action action;
    char target[FSM_NAME_MAX + 1]; /* member to clone from / follow / rewind from */
    char reason[256];              /* Patroni's words, logged as one line per cycle */
};

void ha_decide(const struct ha_input *in, struct ha_decision *out);

#endif
