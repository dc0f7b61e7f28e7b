/* rnode: this daemon's Raft member. Every raft_* call of the project lives in rnode.c,
 * so the library (canonical/raft 0.15, or its fork cowsql/raft) can be swapped there.
 *
 * It owns the replicated state machine (struct fsm), the Raft uv backend on
 * raft.data_dir, the TCP transport on raft.self_addr, and the two jobs that go with the
 * Raft leadership: applying proposals (its own and those forwarded by the other
 * members) and proposing the expiry of a leader lock whose lease has run out
 * (design.md section 3). A member that is not the Raft leader forwards its proposals
 * to the Raft leader's REST API (POST /raft/propose) and gets the result back. */
#ifndef RAFTGRES_RNODE_H
#define RAFTGRES_RNODE_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "raft_fsm/fsm.h"
#include "raft_fsm/fsm_raft.h"
#include "raft_fsm/lease.h"

struct cfg;
struct httpc_req;

/* Outcome of a proposal, besides the FSM's own result code. */
enum rnode_status {
    RNODE_OK = 0,          /* committed and applied; see fsm_result.rc for the FSM's verdict */
    RNODE_ENOLEADER = -1,  /* no Raft leader known, or its REST API is not registered yet */
    RNODE_EFORWARD = -2,   /* the Raft leader could not be reached or answered badly */
    RNODE_ELOST = -3,      /* leadership lost before commit: the entry may or may not apply */
    RNODE_ESHUTDOWN = -4,  /* this member is shutting down */
    RNODE_EINVALID = -5,   /* the entry does not decode: rejected before it reached the log */
    RNODE_ENOTLEADER = -6, /* rnode_apply_local() on a member that is not the Raft leader */
    RNODE_ENOMEM = -7,
    RNODE_EAUTH = -8, /* the leader refused our credentials */
};
const char *rnode_strerror(int status);

typedef void (*rnode_propose_cb)(void *data, int status, const struct fsm_result *res);

struct rnode_pending; /* one proposal in flight */

struct rnode {
    uv_loop_t *loop;
    const struct cfg *cfg;
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    struct raft_fsm raft_fsm;
    struct fsm fsm;
    raft_id id;
    char data_dir[4096];
    uint64_t incarnation; /* bumped at every start, persisted in raftgres.json */
    bool raft_initialized, io_initialized, transport_initialized, timers_initialized, started;
    bool closing;

    /* Observed Raft state, to log changes and to reset lease timers. */
    int last_state;
    raft_id last_leader;
    unsigned long long last_term;
    uint64_t leader_since_ms; /* monotonic ms when this member became Raft leader */
    bool leader_ready;        /* leader: a barrier of our term committed (state is current) */

    /* Leader-side lease watch: proposes expire(holder, version). */
    struct lease_watch watch;
    uint64_t expire_pending_version; /* an expire for this version is in flight */

    uv_timer_t tick;
    uv_timer_t notify_timer;       /* runs on_change from the loop, outside raft callbacks */
    struct rnode_pending *pending; /* proposals in flight (forwarded or local) */

    /* Called (if set) after every change of Raft role/leader and after every applied
     * proposal, so upper layers can react at once instead of on the next tick. */
    void (*on_change)(void *data);
    void *on_change_data;
    void (*on_closed)(struct rnode *n);
};

/* Stable Raft member id from an address: 64-bit FNV-1a of "host:port", never 0. */
raft_id rnode_id_from_addr(const char *addr);

/* Read-only start-up checks (nothing is written): the data dir's owner scope and
 * address, the Raft port being free. Returns 0, or -1 with a one-line message naming
 * the cause and what to do. */
int rnode_check(const struct cfg *cfg, char *err, size_t errlen);

/* Start the member. join: an empty data dir waits to be added by the cluster
 * (raftgresctl add-member) instead of bootstrapping the initial configuration.
 * Returns 0 or -1 with a message. */
int rnode_start(struct rnode *n, uv_loop_t *loop, const struct cfg *cfg, bool join, char *err,
                size_t errlen);

/* Propose a command. Encodes it, applies it on the Raft leader (here or by forwarding).
 * cb is always called exactly once, never before this function returns. Returns 0, or a
 * negative rnode_status when nothing was started (then cb is not called). */
int rnode_propose(struct rnode *n, const struct fsm_cmd *cmd, rnode_propose_cb cb, void *data);

/* Apply an already encoded entry here; only on the Raft leader (forwarded proposals).
 * The entry is validated with fsm_cmd_decode first: a malformed entry never reaches the
 * log. Same callback contract as rnode_propose. */
int rnode_apply_local(struct rnode *n, const void *entry, size_t len, rnode_propose_cb cb,
                      void *data);

/* Cancel the callback of a pending proposal (its requester went away): the proposal
 * itself goes on, its result is dropped. */
void rnode_detach(struct rnode *n, void *data);

bool rnode_is_leader(struct rnode *n);
/* A Raft leader is known and this member's state machine has applied everything the
 * leader committed (on the Raft leader itself: an entry of its term has committed). */
bool rnode_caught_up(struct rnode *n);
const char *rnode_role(struct rnode *n); /* "leader", "follower", "candidate", "unavailable" */
void rnode_leader(struct rnode *n, raft_id *id, const char **address);
unsigned long long rnode_term(struct rnode *n);
unsigned long long rnode_commit_index(struct rnode *n);
unsigned long long rnode_last_applied(struct rnode *n);
/* Role of another member as seen from here ("leader", "follower", "unknown"). */
const char *rnode_member_role(struct rnode *n, raft_id id);
/* Add a voter (membership change, on the Raft leader): raft_add then raft_assign. */
int rnode_add_voter(struct rnode *n, const char *address,
                    void (*cb)(void *data, int status, const char *msg), void *data);

uint64_t rnode_now_ms(void); /* CLOCK_MONOTONIC in ms */

/* Begin shutdown: fails pending proposals with RNODE_ESHUTDOWN, closes raft; calls
 * n->on_closed once everything raft owns is released. */
void rnode_close(struct rnode *n);

#endif
