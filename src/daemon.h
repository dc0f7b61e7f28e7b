/* daemon: the state of one raftgres process and the glue between its parts: the Raft
 * member (rnode), the REST API (http/api), the member's own registration in the state
 * machine, signals and the shutdown order. One libuv loop runs all of it. */
#ifndef RAFTGRES_DAEMON_H
#define RAFTGRES_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "http/api.h"
#include "http/control.h"
#include "src/dyncfg.h"
#include "src/fence.h"
#include "src/watchdog.h"
#include "src/ha.h"
#include "src/pg.h"
#include "src/rnode.h"

#define HA_MAX_PEERS 16

/* State of the HA loop between cycles (src/hacycle.c). */
struct ha_state {
    bool enabled;              /* postgresql is configured: manage it */
    bool in_cycle;             /* collecting observations (async) */
    struct lease_holder lease; /* our own lease, from the send time of committed renews */
    uint64_t lock_version;     /* version of the lock we hold (for renew/release CAS) */
    bool lock_op_inflight;     /* acquire / renew / release proposal in flight */
    uint64_t last_lock_send_ms;
    uint64_t last_optime; /* last optime proposed */
    const char *busy;     /* multi-step operation in flight, or NULL */
    bool bootstrap_failed, rewind_failed, clone_failed;
    uint64_t bootstrap_retry_ms;
    uint64_t renewed_for_version; /* lock version we renewed on first sight (restart, hand-over) */
    char last_leader[FSM_NAME_MAX + 1];
    uint64_t failed_since_ms;
    bool slots_inflight;
    uint64_t min_revision;           /* do not decide on a state older than our last lock change */
    json_t *last_config_reply;       /* PATCH/PUT /config: the body to answer once applied */
    uint64_t race_wait_since_ms;     /* leader race: waiting for a starting peer since */
    uint64_t not_streaming_since_ms; /* a running standby not streaming since */
    uint64_t last_receive_lsn;       /* the standby's receive position at the last cycle */
    uint64_t not_streaming_lock;     /* the lock version last seen meanwhile */
    unsigned not_streaming_renews;   /* lock changes (renews) seen meanwhile */
    bool restart_scheduled;          /* POST /restart with a schedule, kept by this member */
    struct control_restart restart_req; /* its conditions and time */
    bool pg_was_primary;                /* last seen running as primary / controldata says so */
    /* Failover race: peers' WAL positions, valid while the lock stays free. */
    bool peers_collected;
    int peers_pending;
    uint64_t peers_lock_version; /* lock version (free) they were collected for */
    struct ha_peer peers[HA_MAX_PEERS];
    size_t n_peers;
    uv_timer_t lease_timer; /* fires when the lease needs a decision (demote) */
    char last_reason[256];
    uint64_t last_reason_ms;
    uint32_t promote_timeline; /* timeline before promote (history) */
    uint64_t promote_lsn;
};

struct cfg;

struct daemon {
    uv_loop_t *loop;
    struct cfg *cfg;
    struct rnode rn;
    struct api api;
    struct pg pg;
    struct ha_state ha;
    struct dyncfg dyn;  /* dynamic configuration in effect */
    struct fence fence; /* the self-fencing process */
    struct watchdog wd; /* watchdog.device, armed while primary */
    bool wd_logged;     /* "activated" / "not usable" said once per state */
    uv_signal_t sigterm, sigint;
    uv_timer_t loop_timer; /* the periodic cycle (loop_wait) and its retries */
    char api_url[512];     /* http://connect_address/patroni, as Patroni registers it */
    char conn_url[512];    /* postgres://connect_address/postgres ("" without postgresql) */
    char tags_text[FSM_TAGS_MAX + 1]; /* our tags as canonical JSON text */
    struct pg_tags tags;
    uint64_t seq_counter;   /* low half of the member-registration sequence number */
    uint64_t last_cycle_ms; /* monotonic ms of the last completed cycle (/liveness) */
    bool register_inflight;
    bool registered_once;
    bool cycle_again; /* an event arrived during a cycle: run once more */
    bool stopping;
    int exit_code;
};

/* Run the daemon for CFG until SIGTERM/SIGINT or a fatal error. join: see rnode_start.
 * Returns the process exit code (0 clean, 2 start-up refused, 1 fatal at run time). */
int daemon_run(struct cfg *cfg, bool join);

/* Write this member's record (REST and PostgreSQL addresses, role, state, positions,
 * tags) to the state machine if it changed. */
void daemon_register(struct daemon *d);

/* Ask for one cycle now (events: Raft leader change, lock released, ...). */
void daemon_wakeup(struct daemon *d);

#endif
