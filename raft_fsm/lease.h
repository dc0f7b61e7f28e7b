/* lease: pure timing logic of the leader-lock lease (design.md section 3).
 *
 * No clock is read here: every function takes `now_ms`, a reading of the caller's
 * monotonic clock (CLOCK_MONOTONIC) in milliseconds. Two sides:
 *
 * Raft-leader side (struct lease_watch). The Raft leader watches the applied lock
 * state. Each time the lock changes version (acquire, renew, transfer) the timer of
 * that version restarts at the moment the change was observed. When a full ttl has
 * passed without a new version, the lock is due to expire and the daemon proposes
 * FSM_CMD_LOCK_EXPIRE(holder, version); the FSM's CAS makes a late or duplicate expire
 * harmless. When a member becomes Raft leader it calls lease_watch_reset(): the timer
 * restarts at a full ttl, as etcd does for its leases, because the new leader cannot
 * know when the previous one saw the last renew. Expiry may therefore come later than
 * ttl after the holder's last renew, never earlier.
 *
 * Holder side (struct lease_holder). The primary measures its lease from the moment it
 * SENT the acquire/renew that was later committed (accepted). That moment precedes the
 * Raft leader's observation of the new version, so the holder's deadline is always
 * earlier than any expiry the Raft leader can propose. Sends are identified by tokens;
 * a commit of an older send never moves the deadline (neither back nor forward) once a
 * newer send has committed. */
#ifndef RAFTGRES_LEASE_H
#define RAFTGRES_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "raft_fsm/fsm.h"

#define LEASE_NEVER UINT64_MAX /* "no deadline" */

/* ---- Raft-leader side -------------------------------------------------------------- */

struct lease_watch {
    bool active;                   /* between lease_watch_reset() and lease_watch_stop() */
    char holder[FSM_NAME_MAX + 1]; /* "" = lock free, nothing to watch */
    uint64_t version;              /* lock version being timed */
    uint32_t ttl_ms;
    uint64_t since_ms; /* when the timer of this version (re)started */
};

/* Start watching with an empty lock (inactive). */
void lease_watch_init(struct lease_watch *w);

/* This member just became Raft leader: (re)activate and restart the timer of the
 * currently known version at now_ms (a full ttl from now). */
void lease_watch_reset(struct lease_watch *w, uint64_t now_ms);

/* This member is no longer Raft leader: lease_watch_due() answers false until the next
 * reset. The observed lock state is kept. */
void lease_watch_stop(struct lease_watch *w);

/* The applied lock state, after every applied entry (or at least every lock change).
 * holder "" or NULL = free. A different holder or version restarts the timer at
 * now_ms; the same version does nothing (a re-observation never postpones expiry). */
void lease_watch_observe(struct lease_watch *w, const char *holder, uint64_t version,
                         uint32_t ttl_ms, uint64_t now_ms);

/* True when active, the lock is held and now_ms >= since + ttl. Then *holder and
 * *version (if not NULL) name the expire to propose; *holder points into w. */
bool lease_watch_due(const struct lease_watch *w, uint64_t now_ms, const char **holder,
                     uint64_t *version);

/* Monotonic ms at which lease_watch_due() turns true, for arming a timer; LEASE_NEVER
 * when inactive or the lock is free. */
uint64_t lease_watch_next_deadline(const struct lease_watch *w);

/* ---- holder side ------------------------------------------------------------------- */

#define LEASE_HOLDER_SENDS 16 /* in-flight sends remembered; older ones are forgotten */

struct lease_holder_send {
    uint64_t token; /* 0 = empty slot */
    uint64_t sent_ms;
};

struct lease_holder {
    uint64_t next_token; /* last token handed out */
    struct lease_holder_send sends[LEASE_HOLDER_SENDS];
    bool held;        /* a committed acquire/renew/transfer makes us the holder */
    uint64_t version; /* lock version of the last counted commit */
    uint32_t ttl_ms;
    uint64_t basis_token; /* token of the send the deadline is based on */
    uint64_t deadline_ms; /* sent_ms of that send + ttl_ms */
};

void lease_holder_init(struct lease_holder *h);

/* An acquire or renew (or the proposal that hands us the lock) is being sent now.
 * Returns its token (never 0); keep it with the pending proposal. */
uint64_t lease_holder_sent(struct lease_holder *h, uint64_t now_ms);

/* The proposal of `token` committed and the FSM accepted it (rc FSM_OK) with the new
 * lock `version` and `ttl_ms`. The deadline becomes sent_ms + ttl_ms unless a newer
 * send has already been counted. Returns true when the commit was counted, false when
 * it was ignored (older than the current basis, forgotten, or unknown token). */
bool lease_holder_committed(struct lease_holder *h, uint64_t token, uint64_t version,
                            uint32_t ttl_ms);

/* The lock is no longer ours (released, expired, transferred, or seen held by another
 * in the FSM): invalid at once, and commits of sends made before this call are ignored. */
void lease_holder_lost(struct lease_holder *h);

/* Milliseconds left before the deadline, 0 when not held or past it. */
uint64_t lease_holder_remaining(const struct lease_holder *h, uint64_t now_ms);

/* True while held and more than safety_margin_ms remain. A primary for which this turns
 * false demotes itself (design.md section 3). */
bool lease_holder_valid(const struct lease_holder *h, uint64_t now_ms, uint64_t safety_margin_ms);

#endif
