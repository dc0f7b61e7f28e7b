/* ha: the HA decision (design.md section 4, docs/ha.md).
 *
 * ha_decide() maps one snapshot of observations to one action and a reason. It is a pure
 * function: no I/O, no clock, no allocation, no global state; the same input always gives
 * the same decision. The rules are evaluated top to bottom and the first one that matches
 * wins; docs/ha.md lists them in the same order, and tests/unit/test_ha.c holds one scenario
 * per rule. Reasons use Patroni's words (patroni/ha.py) wherever Patroni has a sentence for
 * the situation, so operators can grep the logs they already know.
 *
 * Also here: the Patroni words for a PostgreSQL state and role (pgstatus.h), which the
 * REST API reports in /patroni. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "src/ha.h"

const char *ha_action_name(enum ha_action a)
{
    switch (a) {
    case HA_NONE:
        return "none";
    case HA_WAIT:
        return "wait";
    case HA_ACQUIRE_BOOTSTRAP:
        return "acquire_bootstrap";
    case HA_BOOTSTRAP:
        return "bootstrap";
    case HA_RELEASE:
        return "release";
    case HA_CLONE:
        return "clone";
    case HA_START_REPLICA:
        return "start_replica";
    case HA_FOLLOW:
        return "follow";
    case HA_COLLECT_PEERS:
        return "collect_peers";
    case HA_ACQUIRE:
        return "acquire";
    case HA_PROMOTE:
        return "promote";
    case HA_RENEW:
        return "renew";
    case HA_START_PRIMARY:
        return "start_primary";
    case HA_DEMOTE:
        return "demote";
    case HA_REWIND:
        return "rewind";
    case HA_REINITIALIZE:
        return "reinitialize";
    }
    return "unknown";
}

const char *pg_run_state_name(enum pg_run_state s)
{
    switch (s) {
    case PGS_UNKNOWN:
        return "unknown";
    case PGS_STOPPED:
        return "stopped";
    case PGS_STARTING:
        return "starting";
    case PGS_RUNNING:
        return "running";
    case PGS_STOPPING:
        return "stopping";
    case PGS_CRASHED:
        return "crashed";
    case PGS_INITDB:
        return "initializing new cluster";
    case PGS_BASEBACKUP:
        return "creating replica";
    case PGS_REWINDING:
        return "running pg_rewind";
    case PGS_START_FAILED:
        return "start failed";
    }
    return "unknown";
}

/* Patroni 3.0 reports "master" for a primary (it renamed it "primary" in 3.1), "replica"
 * for a standby and "uninitialized" for an empty data directory. A stopped node with data
 * reports "replica" unless it holds the lock (a primary restarting in place), as Patroni's
 * role stays "master" while it recovers a crashed primary. */
const char *pg_role_name(const struct pg_status *s)
{
    if (s == NULL || !s->data_exists)
        return "uninitialized";
    if (s->state == PGS_RUNNING)
        return s->is_primary ? "master" : "replica";
    if (s->is_primary || (s->i_hold_lock && !s->in_recovery))
        return "master";
    return "replica";
}

/* ---- helpers ---------------------------------------------------------------------- */

/* What PostgreSQL is doing, as far as the decision cares. */
enum pg_kind {
    K_PRIMARY, /* running, not in recovery */
    K_STANDBY, /* running, in recovery */
    K_DOWN,    /* stopped, crashed or failed to start: the executor may start it */
    K_TRANSIT, /* starting, stopping, initdb, basebackup, rewind, unknown: wait */
};

static enum pg_kind pg_kind_of(const struct pg_status *pg)
{
    switch (pg->state) {
    case PGS_RUNNING:
        return pg->is_primary ? K_PRIMARY : K_STANDBY;
    case PGS_STOPPED:
    case PGS_CRASHED:
    case PGS_START_FAILED:
        return K_DOWN;
    case PGS_UNKNOWN:
    case PGS_STARTING:
    case PGS_STOPPING:
    case PGS_INITDB:
    case PGS_BASEBACKUP:
    case PGS_REWINDING:
        break;
    }
    return K_TRANSIT;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* The WAL position this member would bring to a leader race. */
static uint64_t my_lsn(const struct pg_status *pg, enum pg_kind k)
{
    if (k == K_PRIMARY || k == K_DOWN)
        return pg->write_lsn;
    return pg->receive_lsn > pg->replay_lsn ? pg->receive_lsn : pg->replay_lsn;
}

static bool eligible(const struct pg_tags *t)
{
    return !t->nofailover && t->failover_priority > 0;
}

static void set_target(struct ha_decision *out, const char *name)
{
    snprintf(out->target, sizeof out->target, "%s", str_or_empty(name));
}

__attribute__((format(printf, 4, 5))) static void decide(struct ha_decision *out, enum ha_action a,
                                                         const char *target, const char *fmt, ...)
{
    va_list ap;
    out->action = a;
    set_target(out, target);
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

/* Has our WAL gone past the point where the leader's timeline branched off ours?
 * (patroni/postgresql/rewind.py _check_timeline_and_lsn, with the history from the FSM.)
 * A timeline ahead of the leader's has always diverged. A timeline behind it has diverged
 * when our position is past the switch point; for a cleanly stopped former primary the
 * executor reports the start of its shutdown checkpoint record, which lies strictly before
 * the switch point when the new leader received everything, so there "at" counts as past. */
static bool diverged(const struct ha_input *in, enum pg_kind k, uint64_t pos)
{
    const struct pg_status *pg = in->pg;
    if (pg->timeline == 0 || in->leader_timeline == 0)
        return false;
    if (pg->timeline > in->leader_timeline)
        return true;
    if (pg->timeline == in->leader_timeline || in->my_timeline_switch_lsn == 0)
        return false;
    if (k == K_DOWN && in->pg_was_primary)
        return pos >= in->my_timeline_switch_lsn;
    return pos > in->my_timeline_switch_lsn;
}

/* A reachable, running peer that should win the race instead of us, or NULL. */
static const struct ha_peer *better_peer(const struct ha_input *in, const char *self, uint64_t mine,
                                         const char **why)
{
    int my_prio = in->pg->tags.failover_priority;
    for (size_t i = 0; i < in->n_peers; i++) {
        const struct ha_peer *p = &in->peers[i];
        if (!p->reachable || !p->running || strcmp(p->name, self) == 0)
            continue;
        if (p->is_primary) {
            *why = "primary";
            return p;
        }
    }
    for (size_t i = 0; i < in->n_peers; i++) {
        const struct ha_peer *p = &in->peers[i];
        if (!p->reachable || !p->running || strcmp(p->name, self) == 0 || !eligible(&p->tags))
            continue;
        if (p->lsn > mine) {
            *why = "lsn";
            return p;
        }
        if (p->lsn < mine)
            continue;
        if (p->tags.failover_priority > my_prio) {
            *why = "priority";
            return p;
        }
        if (p->tags.failover_priority != my_prio || strcmp(self, in->last_leader) == 0)
            continue;
        if (strcmp(p->name, in->last_leader) == 0) {
            *why = "last";
            return p;
        }
        if (strcmp(p->name, self) < 0) {
            *why = "name";
            return p;
        }
    }
    return NULL;
}

/* ---- the rules -------------------------------------------------------------------- */

/* Rule 1: a multi-step operation is running. The lock holder keeps its lease alive during
 * it, and a primary that lost its lease is demoted even then (Patroni's
 * handle_long_action_in_progress): the lease must never outlive the fence. */
static bool rule_busy(const struct ha_input *in, bool mine, enum pg_kind k, struct ha_decision *out)
{
    const char *busy = in->busy;
    if (busy == NULL || busy[0] == '\0')
        return false;
    if (mine && in->pg->lease_valid)
        decide(out, HA_RENEW, "", "updated leader lock during %s", busy);
    else if (k == K_PRIMARY && !in->pg->paused)
        decide(out, HA_DEMOTE, "", "lost leader lock during %s", busy);
    else
        decide(out, HA_WAIT, "", "%s in progress", busy);
    return true;
}

/* Rule 2: no initialize key yet. */
static bool rule_bootstrap(const struct ha_input *in, const char *self, bool mine, bool unlocked,
                           enum pg_kind k, struct ha_decision *out)
{
    const struct pg_status *pg = in->pg;
    if (in->initialize[0] != '\0')
        return false;
    if (pg->paused) {
        decide(out, HA_NONE, "", "no action. I am (%s): paused, not bootstrapping", self);
        return true;
    }
    if (mine) {
        if (in->bootstrap_failed)
            decide(out, HA_RELEASE, "",
                   "removing initialize key after failed attempt to bootstrap the cluster");
        else if (pg->data_exists)
            decide(out, HA_BOOTSTRAP, "",
                   "trying to bootstrap a new cluster from the existing data directory");
        else
            decide(out, HA_BOOTSTRAP, "", "trying to bootstrap a new cluster");
        return true;
    }
    if (unlocked && pg->data_exists && k == K_STANDBY) {
        decide(out, HA_NONE, "",
               "No initialize key in DCS and PostgreSQL is running as replica, not "
               "bootstrapping: start raftgres on the node running as primary first");
        return true;
    }
    if (unlocked && eligible(&pg->tags)) {
        decide(out, HA_ACQUIRE_BOOTSTRAP, "", "trying to bootstrap a new cluster");
        return true;
    }
    decide(out, HA_NONE, "", "waiting for leader to bootstrap");
    return true;
}

/* Rule 3: our data directory belongs to another cluster. */
static bool rule_foreign_sysid(const struct ha_input *in, const char *self, bool mine,
                               struct ha_decision *out)
{
    const struct pg_status *pg = in->pg;
    if (!pg->data_exists || pg->sysid[0] == '\0' || strcmp(pg->sysid, in->initialize) == 0)
        return false;
    if (mine)
        decide(out, HA_RELEASE, "",
               "released leader key voluntarily due to the system ID mismatch: %s != %s",
               in->initialize, pg->sysid);
    else
        decide(out, HA_NONE, "",
               "system ID mismatch, node %s belongs to a different cluster: %s != %s; "
               "raftgres will not start or modify this data directory",
               self, in->initialize, pg->sysid);
    return true;
}

/* Rule 4: bootstrapped cluster, empty data directory. */
static bool rule_no_data(const struct ha_input *in, const char *self, bool mine,
                         struct ha_decision *out)
{
    const struct pg_status *pg = in->pg;
    const char *clonefrom = str_or_empty(in->clonefrom);
    const char *holder = in->lock_holder;
    const char *src = "";
    const char *kind = "";
    if (pg->data_exists)
        return false;
    if (mine) {
        decide(out, HA_RELEASE, "",
               "released leader key voluntarily as data dir empty and currently leader");
        return true;
    }
    if (pg->paused) {
        decide(out, HA_NONE, "", "running with empty data directory");
        return true;
    }
    if (clonefrom[0] != '\0' && strcmp(clonefrom, self) != 0) {
        src = clonefrom;
        kind = strcmp(clonefrom, holder) == 0 ? "leader" : "replica";
    } else if (holder[0] != '\0') {
        src = holder;
        kind = "leader";
    }
    if (src[0] == '\0')
        decide(out, HA_NONE, "", "waiting for a leader to clone from");
    else if (in->clone_failed)
        decide(out, HA_NONE, "",
               "not cloning: the last clone from %s '%s' failed; waiting for a leader to "
               "clone from",
               kind, src);
    else
        decide(out, HA_CLONE, src, "trying to bootstrap from %s '%s'", kind, src);
    return true;
}

/* Rule 5: we hold the lock. */
static void rule_holder(const struct ha_input *in, const char *self, enum pg_kind k,
                        struct ha_decision *out)
{
    const struct pg_status *pg = in->pg;
    if (!pg->lease_valid) {
        /* Without a lease by our own clock we may be deposed at any moment: a primary
         * fences itself; anything else waits for the lock to be expired by the Raft
         * leader (bounded by ttl). A release would race that expiry for nothing, and
         * starting or promoting PostgreSQL now could make a second primary. */
        if (k == K_PRIMARY && pg->paused)
            decide(out, HA_NONE, "",
                   "continue to run as primary after failing to update leader lock in DCS");
        else if (k == K_PRIMARY)
            decide(out, HA_DEMOTE, "",
                   "demoting self because the leader lock could not be renewed before the "
                   "lease ran out");
        else
            decide(out, HA_NONE, "",
                   "the leader lock lease ran out: not starting or promoting postgres until "
                   "the lock is renewed or expires");
        return;
    }
    switch (k) {
    case K_PRIMARY:
        if (!in->watchdog_ok && !pg->paused)
            decide(out, HA_DEMOTE, "", "Demoting self because watchdog could not be activated");
        else
            decide(out, HA_RENEW, "", "no action. I am (%s), the leader with the lock", self);
        return;
    case K_STANDBY:
        if (pg->paused)
            decide(out, HA_RELEASE, "",
                   "removed leader lock because postgres is not running as primary");
        else if (!in->watchdog_ok)
            decide(out, HA_RELEASE, "",
                   "Not promoting self because watchdog could not be activated");
        else
            decide(out, HA_PROMOTE, "", "promoting self because i hold the lock");
        return;
    case K_TRANSIT:
        if (pg->state == PGS_STARTING)
            decide(out, HA_RENEW, "",
                   "no action. I am (%s), the leader with the lock; waiting for postgres to start",
                   self);
        else if (pg->state == PGS_STOPPING)
            decide(out, HA_RENEW, "",
                   "no action. I am (%s), the leader with the lock; waiting for postgres to stop",
                   self);
        else
            decide(out, HA_RENEW, "",
                   "no action. I am (%s), the leader with the lock; postgres is %s", self,
                   pg_run_state_name(pg->state));
        return;
    case K_DOWN:
        if (pg->paused)
            decide(out, HA_RELEASE, "", "removed leader lock because postgres is not running");
        else if (in->pg_was_primary)
            decide(out, HA_START_PRIMARY, "", "starting primary after failure");
        else
            decide(out, HA_START_REPLICA, "",
                   "starting as readonly because i had the session lock");
        return;
    }
}

/* Rule 6, the diverged part: we must not stream from the leader as we are. */
static void rule_diverged(const struct ha_input *in, const char *self, const char *leader,
                          struct ha_decision *out)
{
    if (in->pg->paused)
        decide(out, HA_NONE, "",
               "no action. I am (%s): timeline diverged from the leader (%s) and the cluster is "
               "paused",
               self, leader);
    else if (in->use_pg_rewind && !in->rewind_failed)
        decide(out, HA_REWIND, leader, "running pg_rewind from %s", leader);
    else if ((in->rewind_failed && in->remove_data_directory_on_rewind_failure) ||
             (!in->use_pg_rewind && in->remove_data_directory_on_diverged_timelines))
        decide(out, HA_REINITIALIZE, leader, "reinitializing due to diverged timelines");
    else if (in->rewind_failed)
        decide(out, HA_NONE, "",
               "pg_rewind from %s failed: not starting postgres on a diverged timeline; set "
               "remove_data_directory_on_rewind_failure or reinitialize this member",
               leader);
    else
        decide(out, HA_NONE, "",
               "timeline diverged from the leader (%s): not starting postgres; set "
               "use_pg_rewind or remove_data_directory_on_diverged_timelines, or reinitialize "
               "this member",
               leader);
}

/* Rule 6: the lock is held by another member. */
static void rule_follower(const struct ha_input *in, const char *self, enum pg_kind k,
                          struct ha_decision *out)
{
    const struct pg_status *pg = in->pg;
    const char *leader = in->lock_holder;
    const char *upstream = leader;
    const char *rf = pg->tags.replicatefrom;
    if (rf[0] != '\0' && strcmp(rf, self) != 0)
        upstream = rf;

    if (k == K_PRIMARY) {
        if (pg->paused)
            decide(out, HA_NONE, "", "continue to run as primary without lock");
        else
            decide(out, HA_DEMOTE, "",
                   "demoting self because I do not have the lock and I was a leader");
        return;
    }
    if ((k == K_STANDBY || k == K_DOWN) && diverged(in, k, my_lsn(pg, k))) {
        rule_diverged(in, self, leader, out);
        return;
    }
    switch (k) {
    case K_DOWN:
        if (pg->paused)
            decide(out, HA_NONE, "", "postgres is not running");
        else
            decide(out, HA_START_REPLICA, upstream, "starting as a secondary");
        return;
    case K_TRANSIT:
        decide(out, HA_NONE, "", "no action. I am (%s): postgres is %s", self,
               pg_run_state_name(pg->state));
        return;
    case K_STANDBY:
        if (strcmp(pg->following, upstream) != 0 && !pg->paused)
            decide(out, HA_FOLLOW, upstream,
                   "following a different leader: changing primary_conninfo from '%s' to '%s'",
                   pg->following, upstream);
        else
            decide(out, HA_NONE, "",
                   "no action. I am (%s), a secondary, and following a leader (%s)", self, leader);
        return;
    case K_PRIMARY:
        break; /* handled above */
    }
}

/* Rule 7: the lock is free. */
static void rule_race(const struct ha_input *in, const char *self, enum pg_kind k,
                      struct ha_decision *out)
{
    const struct pg_status *pg = in->pg;
    const struct pg_tags *t = &pg->tags;
    const struct ha_peer *p;
    const char *why = "";
    uint64_t mine = my_lsn(pg, k);

    if (k == K_PRIMARY) {
        /* Nobody is more advanced than the running primary; the CAS decides anyway. Also in
         * pause: taking the lock does not touch PostgreSQL (Patroni does the same). */
        decide(out, HA_ACQUIRE, "", "acquiring the leader lock: I am running as primary");
        return;
    }
    if (pg->paused) {
        if (k == K_DOWN)
            decide(out, HA_NONE, "", "postgres is not running");
        else
            decide(out, HA_NONE, "", "no action. I am (%s): paused, no automatic failover", self);
        return;
    }
    if (k == K_DOWN) {
        decide(out, HA_START_REPLICA, "", "starting as a secondary");
        return;
    }
    if (k == K_TRANSIT) {
        decide(out, HA_NONE, "", "not healthy enough for leader race: postgres is %s",
               pg_run_state_name(pg->state));
        return;
    }
    if (t->nofailover || t->failover_priority <= 0) {
        decide(out, HA_NONE, "",
               "following a different leader because I am not allowed to promote (not "
               "eligible for leader race: %s)",
               t->nofailover ? "nofailover" : "failover_priority <= 0");
        return;
    }
    if (!in->watchdog_ok) {
        decide(out, HA_NONE, "",
               "not healthy enough for leader race: watchdog required but not usable");
        return;
    }
    if (in->leader_optime > mine && in->leader_optime - mine > in->maximum_lag_on_failover) {
        decide(out, HA_NONE, "",
               "not healthy enough for leader race: lag %llu > maximum_lag_on_failover %llu",
               (unsigned long long)(in->leader_optime - mine),
               (unsigned long long)in->maximum_lag_on_failover);
        return;
    }
    if (!in->peers_collected) {
        decide(out, HA_COLLECT_PEERS, "",
               "collecting the wal positions of the other members for the leader race");
        return;
    }
    /* A peer whose PostgreSQL is about to run (all members starting together after a
     * full cluster stop) may be the most advanced: ask again rather than race past it.
     * The caller stops reporting `starting` after a few rounds. */
    for (size_t i = 0; i < in->n_peers; i++) {
        const struct ha_peer *q = &in->peers[i];
        if (q->reachable && q->starting && !q->running && eligible(&q->tags) &&
            strcmp(q->name, self) != 0) {
            decide(out, HA_COLLECT_PEERS, "",
                   "not healthy enough for leader race: postgres on %s is not running yet; "
                   "asking for its wal position again",
                   q->name);
            return;
        }
    }
    p = better_peer(in, self, mine, &why);
    if (p == NULL) {
        decide(out, HA_ACQUIRE, "", "acquiring the leader lock: i am the healthiest node");
        return;
    }
    if (strcmp(why, "primary") == 0)
        decide(out, HA_NONE, "", "Primary (%s) is still alive", p->name);
    else if (strcmp(why, "lsn") == 0)
        decide(out, HA_NONE, "",
               "following a different leader because i am not the healthiest node: Wal "
               "position of %s is ahead of my wal position (%llu > %llu)",
               p->name, (unsigned long long)p->lsn, (unsigned long long)mine);
    else if (strcmp(why, "priority") == 0)
        decide(out, HA_NONE, "",
               "following a different leader because i am not the healthiest node: %s has the "
               "same wal position and a higher failover_priority (%d > %d)",
               p->name, p->tags.failover_priority, t->failover_priority);
    else if (strcmp(why, "last") == 0)
        decide(out, HA_NONE, "",
               "following a different leader because i am not the healthiest node: %s has the "
               "same wal position and failover_priority and was the last leader",
               p->name);
    else
        decide(out, HA_NONE, "",
               "following a different leader because i am not the healthiest node: %s has the "
               "same wal position and failover_priority and sorts first",
               p->name);
}

void ha_decide(const struct ha_input *in, struct ha_decision *out)
{
    struct ha_input v = *in; /* NULL strings become "" */
    const char *self = str_or_empty(in->self);
    bool mine, unlocked;
    enum pg_kind k;

    memset(out, 0, sizeof *out);
    v.initialize = str_or_empty(in->initialize);
    v.lock_holder = str_or_empty(in->lock_holder);
    v.clonefrom = str_or_empty(in->clonefrom);
    v.last_leader = str_or_empty(in->last_leader);
    unlocked = v.lock_holder[0] == '\0';
    mine = !unlocked && strcmp(v.lock_holder, self) == 0;
    k = pg_kind_of(in->pg);

    if (rule_busy(&v, mine, k, out))
        return;
    if (rule_bootstrap(&v, self, mine, unlocked, k, out))
        return;
    if (rule_foreign_sysid(&v, self, mine, out))
        return;
    if (rule_no_data(&v, self, mine, out))
        return;
    if (mine)
        rule_holder(&v, self, k, out);
    else if (!unlocked)
        rule_follower(&v, self, k, out);
    else
        rule_race(&v, self, k, out);
}
