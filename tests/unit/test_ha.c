/* Unit tests of the HA decision (src/ha.c) and the tags parser (src/pgtags.c).
 *
 * The decision is tested as a table of scenarios in a tiny DSL (dqlite's
 * BEFORE / COMPUTE / AFTER): each row says GIVEN (a `struct given`, where every field left
 * out takes the default of a healthy three-member cluster seen from node2), THEN the
 * expected action, target and a substring of the reason ("=" in front: the whole reason).
 * Each row runs as its own cmocka test, named after the row.
 *
 * Defaults: self "node2"; lock free; cluster initialized with SYSID; PostgreSQL running as
 * a standby of the lock holder with data of SYSID on timeline 2 at 0x5000000; lease valid;
 * watchdog usable; peers collected (none); use_pg_rewind on; maximum_lag_on_failover
 * 1 MiB; not paused; idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/ha.h"

#define SYSID  "7310000000000000001"
#define OTHER  "7320000000000000002"
#define NOINIT "-" /* .init = NOINIT: no initialize key */
#define POS    0x5000000ULL

enum pgk {
    PG_STANDBY = 0, /* running, in recovery */
    PG_PRIMARY,     /* running, not in recovery */
    PG_STOPPED,
    PG_CRASHED,
    PG_STARTING,
    PG_STOPPING,
    PG_NODATA, /* empty data directory, stopped */
};

enum peerk {
    P_STANDBY = 0, /* reachable, running standby */
    P_PRIMARY,     /* reachable, running primary */
    P_DOWN,        /* reachable, PostgreSQL not running */
    P_STARTING,    /* reachable, PostgreSQL starting (its position not known yet) */
    P_GONE,        /* did not answer */
};

struct peer_spec {
    const char *name; /* NULL ends the list */
    enum peerk kind;
    uint64_t lsn;
    const char *tags; /* JSON */
};

struct given {
    const char *self;      /* default "node2" */
    const char *holder;    /* default "" (free) */
    const char *init;      /* default SYSID, NOINIT for "" */
    enum pgk pg;           /* default PG_STANDBY */
    const char *sysid;     /* default SYSID */
    const char *following; /* default: the holder */
    const char *tags;      /* this member's tags JSON */
    uint64_t lsn;          /* default POS (receive = replay for a standby, write otherwise) */
    uint32_t tl;           /* default 2 */
    uint32_t leader_tl;    /* default 0: unknown */
    uint64_t switch_lsn;
    uint64_t optime;
    uint64_t max_lag; /* default 1 MiB */
    const char *clonefrom;
    const char *last_leader; /* the lock's last holder, default "" */
    const char *busy;
    bool lease_lost, paused, was_primary, no_watchdog, peers_pending;
    bool no_rewind, rm_on_rewind_failure, rm_on_diverged;
    bool rewind_failed, bootstrap_failed, clone_failed;
    struct peer_spec peers[4];
};

struct scenario {
    const char *name;
    struct given g;
    enum ha_action want;
    const char *target;
    const char *reason;
};

#define ROW(n, ...)                                                                                \
    {                                                                                              \
        .name = n, __VA_ARGS__                                                                     \
    }

static const struct scenario scenarios[] = {
    /* --- rule 1: busy ------------------------------------------------------------- */
    ROW("busy replica waits", .g = {.holder = "node1", .busy = "restarting after failure"},
        .want = HA_WAIT, .reason = "=restarting after failure in progress"),
    ROW("busy holder keeps renewing",
        .g = {.self = "node1", .holder = "node1", .pg = PG_PRIMARY, .busy = "restart"},
        .want = HA_RENEW, .reason = "=updated leader lock during restart"),
    ROW("busy primary without lease is demoted",
        .g = {.self = "node1",
              .holder = "node1",
              .pg = PG_PRIMARY,
              .busy = "restart",
              .lease_lost = true},
        .want = HA_DEMOTE, .reason = "lost leader lock during restart"),

    /* --- rule 2: bootstrap ------------------------------------------------------------ */
    ROW("bootstrap race: free lock, no data", .g = {.init = NOINIT, .pg = PG_NODATA},
        .want = HA_ACQUIRE_BOOTSTRAP, .reason = "trying to bootstrap a new cluster"),
    ROW("bootstrap race: holder bootstraps",
        .g = {.init = NOINIT, .pg = PG_NODATA, .holder = "node2"}, .want = HA_BOOTSTRAP,
        .reason = "=trying to bootstrap a new cluster"),
    ROW("bootstrap race: failed bootstrap releases",
        .g = {.init = NOINIT, .pg = PG_NODATA, .holder = "node2", .bootstrap_failed = true},
        .want = HA_RELEASE, .reason = "failed attempt to bootstrap"),
    ROW("bootstrap race: other holder, wait",
        .g = {.init = NOINIT, .pg = PG_NODATA, .holder = "node1"}, .want = HA_NONE,
        .reason = "=waiting for leader to bootstrap"),
    ROW("bootstrap race: nofailover does not take part",
        .g = {.init = NOINIT, .pg = PG_NODATA, .tags = "{\"nofailover\":true}"}, .want = HA_NONE,
        .reason = "waiting for leader to bootstrap"),
    ROW("bootstrap race: failover_priority 0 does not take part",
        .g = {.init = NOINIT, .pg = PG_NODATA, .tags = "{\"failover_priority\":0}"},
        .want = HA_NONE, .reason = "waiting for leader to bootstrap"),
    ROW("existing data, no initialize: race", .g = {.init = NOINIT, .pg = PG_STOPPED},
        .want = HA_ACQUIRE_BOOTSTRAP, .reason = "bootstrap"),
    ROW("existing data, no initialize, holder registers it",
        .g = {.init = NOINIT, .pg = PG_PRIMARY, .holder = "node2"}, .want = HA_BOOTSTRAP,
        .reason = "existing data directory"),
    ROW("existing running replica, no initialize: refuses", .g = {.init = NOINIT, .pg = PG_STANDBY},
        .want = HA_NONE, .reason = "running as replica"),
    ROW("paused, no initialize: does not bootstrap",
        .g = {.init = NOINIT, .pg = PG_NODATA, .paused = true}, .want = HA_NONE,
        .reason = "paused"),

    /* --- rule 3: foreign data directory ----------------------------------------------- */
    ROW("foreign sysid refuses", .g = {.holder = "node1", .pg = PG_STOPPED, .sysid = OTHER},
        .want = HA_NONE, .reason = "belongs to a different cluster: " SYSID " != " OTHER),
    ROW("foreign sysid on the holder releases",
        .g = {.holder = "node2", .pg = PG_STOPPED, .sysid = OTHER}, .want = HA_RELEASE,
        .reason = "system ID mismatch"),

    /* --- rule 4: no data ---------------------------------------------------------------- */
    ROW("no data: clone from the leader", .g = {.holder = "node1", .pg = PG_NODATA},
        .want = HA_CLONE, .target = "node1", .reason = "=trying to bootstrap from leader 'node1'"),
    ROW("no data: clonefrom member preferred",
        .g = {.holder = "node1", .pg = PG_NODATA, .clonefrom = "node3"}, .want = HA_CLONE,
        .target = "node3", .reason = "from replica 'node3'"),
    ROW("no data: clone failed waits",
        .g = {.holder = "node1", .pg = PG_NODATA, .clone_failed = true}, .want = HA_NONE,
        .reason = "failed"),
    ROW("no data, no leader: waits", .g = {.pg = PG_NODATA}, .want = HA_NONE,
        .reason = "waiting for a leader to clone from"),
    ROW("no data on the holder releases", .g = {.holder = "node2", .pg = PG_NODATA},
        .want = HA_RELEASE, .reason = "data dir empty"),

    /* --- rule 5: we hold the lock ------------------------------------------------------ */
    ROW("healthy primary renews", .g = {.self = "node1", .holder = "node1", .pg = PG_PRIMARY},
        .want = HA_RENEW, .reason = "=no action. I am (node1), the leader with the lock"),
    ROW("primary loses lease: demote",
        .g = {.self = "node1", .holder = "node1", .pg = PG_PRIMARY, .lease_lost = true},
        .want = HA_DEMOTE, .reason = "demoting self because the leader lock could not be renewed"),
    ROW("paused primary loses lease: keeps running",
        .g = {.self = "node1",
              .holder = "node1",
              .pg = PG_PRIMARY,
              .lease_lost = true,
              .paused = true},
        .want = HA_NONE, .reason = "continue to run as primary after failing to update"),
    ROW("holder replica promotes", .g = {.holder = "node2"}, .want = HA_PROMOTE,
        .reason = "promoting self because i hold the lock"),
    ROW("holder replica without lease does not promote",
        .g = {.holder = "node2", .lease_lost = true}, .want = HA_NONE, .reason = "lease ran out"),
    ROW("holder replica without watchdog releases", .g = {.holder = "node2", .no_watchdog = true},
        .want = HA_RELEASE, .reason = "watchdog could not be activated"),
    ROW("primary without watchdog demotes",
        .g = {.self = "node1", .holder = "node1", .pg = PG_PRIMARY, .no_watchdog = true},
        .want = HA_DEMOTE, .reason = "watchdog could not be activated"),
    ROW("primary crashed with lease valid: restart in place",
        .g = {.self = "node1", .holder = "node1", .pg = PG_CRASHED, .was_primary = true},
        .want = HA_START_PRIMARY, .reason = "=starting primary after failure"),
    ROW("primary crashed, lease gone: does not start",
        .g = {.self = "node1",
              .holder = "node1",
              .pg = PG_CRASHED,
              .was_primary = true,
              .lease_lost = true},
        .want = HA_NONE, .reason = "lease ran out"),
    ROW("holder with a stopped standby data dir starts read-only",
        .g = {.holder = "node2", .pg = PG_STOPPED}, .want = HA_START_REPLICA, .target = "",
        .reason = "starting as readonly because i had the session lock"),
    ROW("primary restarting keeps renewing",
        .g = {.self = "node1", .holder = "node1", .pg = PG_STARTING, .was_primary = true},
        .want = HA_RENEW, .reason = "waiting for postgres to start"),
    ROW("paused holder with postgres down releases",
        .g = {.holder = "node2", .pg = PG_STOPPED, .paused = true}, .want = HA_RELEASE,
        .reason = "because postgres is not running"),

    /* --- rule 6: another member holds the lock --------------------------------------- */
    ROW("primary without the lock demotes", .g = {.holder = "node1", .pg = PG_PRIMARY},
        .want = HA_DEMOTE,
        .reason = "=demoting self because I do not have the lock and I was a leader"),
    ROW("paused primary without the lock keeps running",
        .g = {.holder = "node1", .pg = PG_PRIMARY, .paused = true}, .want = HA_NONE,
        .reason = "continue to run as primary without lock"),
    ROW("old primary on a diverged timeline rewinds",
        .g = {.holder = "node1",
              .pg = PG_STOPPED,
              .was_primary = true,
              .tl = 2,
              .leader_tl = 3,
              .switch_lsn = 0x4000000,
              .lsn = 0x4000100},
        .want = HA_REWIND, .target = "node1", .reason = "=running pg_rewind from node1"),
    ROW("old primary whose checkpoint is at the switch point rewinds",
        .g = {.holder = "node1",
              .pg = PG_STOPPED,
              .was_primary = true,
              .tl = 2,
              .leader_tl = 3,
              .switch_lsn = 0x4000000,
              .lsn = 0x4000000},
        .want = HA_REWIND, .target = "node1", .reason = "pg_rewind"),
    ROW("old primary after a clean switchover starts as replica",
        .g = {.holder = "node1",
              .pg = PG_STOPPED,
              .was_primary = true,
              .tl = 2,
              .leader_tl = 3,
              .switch_lsn = 0x4000000,
              .lsn = 0x3ffff00},
        .want = HA_START_REPLICA, .target = "node1", .reason = "=starting as a secondary"),
    ROW("timeline ahead of the leader rewinds",
        .g = {.holder = "node1", .pg = PG_STOPPED, .tl = 4, .leader_tl = 3}, .want = HA_REWIND,
        .target = "node1", .reason = "pg_rewind"),
    ROW("running standby past the switch point rewinds",
        .g =
            {.holder = "node1", .tl = 2, .leader_tl = 3, .switch_lsn = 0x4000000, .lsn = 0x4000001},
        .want = HA_REWIND, .target = "node1", .reason = "pg_rewind"),
    ROW("running standby at the switch point follows on",
        .g =
            {.holder = "node1", .tl = 2, .leader_tl = 3, .switch_lsn = 0x4000000, .lsn = 0x4000000},
        .want = HA_NONE, .reason = "following a leader (node1)"),
    ROW("rewind failed, remove_data_directory_on_rewind_failure: reinitialize",
        .g = {.holder = "node1",
              .pg = PG_STOPPED,
              .tl = 4,
              .leader_tl = 3,
              .rewind_failed = true,
              .rm_on_rewind_failure = true},
        .want = HA_REINITIALIZE, .target = "node1", .reason = "reinitializing due to diverged"),
    ROW("rewind failed without it: stays stopped",
        .g = {.holder = "node1", .pg = PG_STOPPED, .tl = 4, .leader_tl = 3, .rewind_failed = true},
        .want = HA_NONE, .target = "",
        .reason = "failed: not starting postgres on a diverged timeline; set "
                  "remove_data_directory_on_rewind_failure"),
    ROW("no use_pg_rewind, remove_data_directory_on_diverged_timelines: reinitialize",
        .g = {.holder = "node1",
              .pg = PG_STOPPED,
              .tl = 4,
              .leader_tl = 3,
              .no_rewind = true,
              .rm_on_diverged = true},
        .want = HA_REINITIALIZE, .target = "node1", .reason = "reinitializing"),
    ROW("no use_pg_rewind, nothing allowed: stays stopped",
        .g = {.holder = "node1", .pg = PG_STOPPED, .tl = 4, .leader_tl = 3, .no_rewind = true},
        .want = HA_NONE, .reason = "set use_pg_rewind or remove_data_directory_on_diverged"),
    ROW("stopped replica starts as secondary", .g = {.holder = "node1", .pg = PG_STOPPED},
        .want = HA_START_REPLICA, .target = "node1", .reason = "starting as a secondary"),
    ROW("stopped replica with replicatefrom",
        .g = {.holder = "node1", .pg = PG_STOPPED, .tags = "{\"replicatefrom\":\"node3\"}"},
        .want = HA_START_REPLICA, .target = "node3", .reason = "starting as a secondary"),
    ROW("replica following the wrong leader follows",
        .g = {.holder = "node1", .following = "node3"}, .want = HA_FOLLOW, .target = "node1",
        .reason = "following a different leader"),
    ROW("replica with replicatefrom follows it",
        .g = {.holder = "node1", .tags = "{\"replicatefrom\":\"node3\"}"}, .want = HA_FOLLOW,
        .target = "node3", .reason = "to 'node3'"),
    ROW("healthy replica: no action", .g = {.holder = "node1"}, .want = HA_NONE,
        .reason = "=no action. I am (node2), a secondary, and following a leader (node1)"),
    ROW("starting replica waits", .g = {.holder = "node1", .pg = PG_STARTING}, .want = HA_NONE,
        .reason = "postgres is starting"),

    /* --- rule 7: the lock is free ------------------------------------------------------ */
    ROW("healthiest replica collects peers first", .g = {.peers_pending = true},
        .want = HA_COLLECT_PEERS, .reason = "wal positions"),
    ROW("healthiest replica acquires",
        .g = {.peers = {{"node1", P_DOWN, 0, NULL}, {"node3", P_STANDBY, POS - 1, NULL}}},
        .want = HA_ACQUIRE, .reason = "i am the healthiest node"),
    ROW("lagging replica does not acquire", .g = {.optime = POS + (1 << 20) + 1}, .want = HA_NONE,
        .reason = "lag 1048577 > maximum_lag_on_failover 1048576"),
    ROW("lag exactly maximum_lag_on_failover is allowed",
        .g = {.optime = POS + (1 << 20), .peers_pending = true}, .want = HA_COLLECT_PEERS,
        .reason = ""),
    ROW("nofailover never acquires", .g = {.tags = "{\"nofailover\":\"true\"}"}, .want = HA_NONE,
        .reason = "not allowed to promote (not eligible for leader race: nofailover"),
    ROW("failover_priority 0 never acquires", .g = {.tags = "{\"failover_priority\":0}"},
        .want = HA_NONE, .reason = "not allowed to promote"),
    ROW("nofailover \"false\" may acquire", .g = {.tags = "{\"nofailover\":\"false\"}"},
        .want = HA_ACQUIRE, .reason = "healthiest"),
    ROW("peer ahead: wait and name it", .g = {.peers = {{"node3", P_STANDBY, POS + 1, NULL}}},
        .want = HA_NONE,
        .reason = "following a different leader because i am not the healthiest node: Wal "
                  "position of node3 is ahead"),
    ROW("peer ahead but nofailover is ignored",
        .g = {.peers = {{"node3", P_STANDBY, POS + 1, "{\"nofailover\":true}"}}},
        .want = HA_ACQUIRE, .reason = "healthiest"),
    ROW("a peer whose postgres is starting: ask again before racing",
        .g = {.peers = {{"node3", P_STARTING, 0, NULL}}}, .want = HA_COLLECT_PEERS,
        .reason = "postgres on node3 is not running yet"),
    ROW("a nofailover peer that is starting is not waited for",
        .g = {.peers = {{"node3", P_STARTING, 0, "{\"nofailover\":true}"}}},
        .want = HA_ACQUIRE, .reason = "healthiest"),
    ROW("peer ahead but unreachable is ignored", .g = {.peers = {{"node3", P_GONE, POS + 1, NULL}}},
        .want = HA_ACQUIRE, .reason = "healthiest"),
    ROW("tie: higher failover_priority wins",
        .g = {.peers = {{"node3", P_STANDBY, POS, "{\"failover_priority\":2}"}}}, .want = HA_NONE,
        .reason = "node3 has the same wal position and a higher failover_priority"),
    ROW("tie: lower failover_priority loses",
        .g = {.tags = "{\"failover_priority\":3}",
              .peers = {{"node1", P_STANDBY, POS, "{\"failover_priority\":2}"}}},
        .want = HA_ACQUIRE, .reason = "healthiest"),
    ROW("tie: equal priority, smaller name wins", .g = {.peers = {{"node1", P_STANDBY, POS, NULL}}},
        .want = HA_NONE, .reason = "node1 has the same wal position and failover_priority"),
    ROW("tie: equal priority, larger name loses", .g = {.peers = {{"node3", P_STANDBY, POS, NULL}}},
        .want = HA_ACQUIRE, .reason = "healthiest"),
    ROW("tie: the last leader wins over a smaller name (full cluster restart)",
        .g = {.last_leader = "node2", .peers = {{"node1", P_STANDBY, POS, NULL}}},
        .want = HA_ACQUIRE, .reason = "healthiest"),
    ROW("tie: a peer that was the last leader wins over a larger name",
        .g = {.last_leader = "node3", .peers = {{"node3", P_STANDBY, POS, NULL}}},
        .want = HA_NONE, .reason = "node3 has the same wal position and failover_priority and "
                                   "was the last leader"),
    ROW("tie: the last leader does not beat a higher failover_priority",
        .g = {.last_leader = "node2",
              .peers = {{"node3", P_STANDBY, POS, "{\"failover_priority\":2}"}}},
        .want = HA_NONE, .reason = "node3 has the same wal position and a higher failover_priority"),
    ROW("the last leader behind in WAL does not win",
        .g = {.last_leader = "node3", .peers = {{"node3", P_STANDBY, POS - 1, NULL}}},
        .want = HA_ACQUIRE, .reason = "healthiest"),
    ROW("a reachable peer still primary: wait",
        .g = {.peers = {{"node3", P_STANDBY, 0, NULL}, {"node1", P_PRIMARY, 0, NULL}}},
        .want = HA_NONE, .reason = "=Primary (node1) is still alive"),
    ROW("watchdog unusable: no race", .g = {.no_watchdog = true}, .want = HA_NONE,
        .reason = "watchdog required but not usable"),
    ROW("paused, free lock: no failover", .g = {.paused = true}, .want = HA_NONE,
        .reason = "paused"),
    ROW("paused, free lock, primary takes the lock", .g = {.paused = true, .pg = PG_PRIMARY},
        .want = HA_ACQUIRE, .reason = "running as primary"),
    ROW("free lock, running primary acquires", .g = {.pg = PG_PRIMARY}, .want = HA_ACQUIRE,
        .reason = "running as primary"),
    ROW("free lock, postgres down: start as standby without primary",
        .g = {.pg = PG_STOPPED, .was_primary = true}, .want = HA_START_REPLICA, .target = "",
        .reason = "starting as a secondary"),
    ROW("free lock, postgres starting: not healthy", .g = {.pg = PG_STARTING}, .want = HA_NONE,
        .reason = "not healthy enough for leader race"),
};

/* ---- the DSL runner ------------------------------------------------------------------ */

static void build(const struct given *g, struct pg_status *pg, struct ha_peer *peers,
                  size_t *n_peers, struct ha_input *in)
{
    const char *holder = g->holder ? g->holder : "";
    const char *self = g->self ? g->self : "node2";
    uint64_t lsn = g->lsn ? g->lsn : POS;

    memset(pg, 0, sizeof *pg);
    memset(in, 0, sizeof *in);
    assert_int_equal(pg_tags_parse(g->tags, &pg->tags), 0);
    pg->data_exists = g->pg != PG_NODATA;
    snprintf(pg->sysid, sizeof pg->sysid, "%s",
             pg->data_exists ? (g->sysid ? g->sysid : SYSID) : "");
    pg->timeline = pg->data_exists ? (g->tl ? g->tl : 2) : 0;
    switch (g->pg) {
    case PG_STANDBY:
        pg->state = PGS_RUNNING;
        pg->in_recovery = true;
        pg->receive_lsn = pg->replay_lsn = lsn;
        pg->streaming = true;
        snprintf(pg->following, sizeof pg->following, "%s", g->following ? g->following : holder);
        break;
    case PG_PRIMARY:
        pg->state = PGS_RUNNING;
        pg->is_primary = true;
        pg->write_lsn = lsn;
        break;
    case PG_STOPPED:
    case PG_NODATA:
        pg->state = PGS_STOPPED;
        pg->write_lsn = pg->data_exists ? lsn : 0;
        break;
    case PG_CRASHED:
        pg->state = PGS_CRASHED;
        pg->write_lsn = lsn;
        break;
    case PG_STARTING:
        pg->state = PGS_STARTING;
        break;
    case PG_STOPPING:
        pg->state = PGS_STOPPING;
        break;
    }
    pg->cluster_unlocked = holder[0] == '\0';
    pg->i_hold_lock = strcmp(holder, self) == 0;
    pg->lease_valid = pg->i_hold_lock && !g->lease_lost;
    pg->paused = g->paused;

    *n_peers = 0;
    for (size_t i = 0; i < 4 && g->peers[i].name; i++) {
        const struct peer_spec *s = &g->peers[i];
        struct ha_peer *p = &peers[(*n_peers)++];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", s->name);
        p->reachable = s->kind != P_GONE;
        p->running = s->kind == P_STANDBY || s->kind == P_PRIMARY;
        p->starting = s->kind == P_STARTING;
        p->is_primary = s->kind == P_PRIMARY;
        p->timeline = 2;
        p->lsn = s->lsn;
        assert_int_equal(pg_tags_parse(s->tags, &p->tags), 0);
    }

    in->self = self;
    in->ttl_ms = 30000;
    in->loop_wait_ms = 10000;
    in->maximum_lag_on_failover = g->max_lag ? g->max_lag : 1048576;
    in->use_pg_rewind = !g->no_rewind;
    in->remove_data_directory_on_rewind_failure = g->rm_on_rewind_failure;
    in->remove_data_directory_on_diverged_timelines = g->rm_on_diverged;
    in->initialize = !g->init ? SYSID : strcmp(g->init, NOINIT) == 0 ? "" : g->init;
    in->lock_holder = holder;
    in->leader_timeline = g->leader_tl;
    in->leader_optime = g->optime;
    in->my_timeline_switch_lsn = g->switch_lsn;
    in->clonefrom = g->clonefrom ? g->clonefrom : "";
    in->last_leader = g->last_leader;
    in->pg = pg;
    in->pg_was_primary = g->was_primary;
    in->watchdog_ok = !g->no_watchdog;
    in->peers_collected = !g->peers_pending;
    in->peers = peers;
    in->n_peers = *n_peers;
    in->busy = g->busy;
    in->bootstrap_failed = g->bootstrap_failed;
    in->rewind_failed = g->rewind_failed;
    in->clone_failed = g->clone_failed;
}

static void run_scenario(void **state)
{
    const struct scenario *s = *state;
    struct pg_status pg;
    struct ha_peer peers[4];
    size_t n_peers;
    struct ha_input in;
    struct ha_decision d;
    bool exact = s->reason[0] == '=';
    const char *want_reason = exact ? s->reason + 1 : s->reason;

    build(&s->g, &pg, peers, &n_peers, &in);
    ha_decide(&in, &d);
    if (d.action != s->want || strcmp(d.target, s->target ? s->target : "") != 0 ||
        (exact ? strcmp(d.reason, want_reason) != 0 : strstr(d.reason, want_reason) == NULL))
        fail_msg("%s\n  want: %s target '%s' reason %s'%s'\n  got:  %s target '%s' reason '%s'",
                 s->name, ha_action_name(s->want), s->target ? s->target : "", exact ? "= " : "~ ",
                 want_reason, ha_action_name(d.action), d.target, d.reason);
}

/* Only rows whose target matters say so; the others expect an empty target unless the
 * action names one. Fill the expected target of actions that always carry one. */
static void check_table(void **state)
{
    (void)state;
    assert_true(sizeof scenarios / sizeof scenarios[0] >= 30);
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        const struct scenario *s = &scenarios[i];
        assert_non_null(s->name);
        assert_non_null(s->reason);
        if (s->want == HA_CLONE || s->want == HA_REWIND || s->want == HA_REINITIALIZE ||
            s->want == HA_FOLLOW)
            assert_true(s->target && s->target[0]);
    }
}

/* ---- decision invariants ---------------------------------------------------------------- */

/* No input makes a member without a valid lease start, promote or keep a primary. */
static void never_primary_without_lease(void **state)
{
    (void)state;
    for (int pgk = PG_STANDBY; pgk <= PG_NODATA; pgk++)
        for (int holder = 0; holder < 3; holder++)
            for (int lease = 0; lease < 2; lease++)
                for (int paused = 0; paused < 2; paused++)
                    for (int was = 0; was < 2; was++) {
                        static const char *const holders[] = {"", "node1", "node2"};
                        struct given g = {.pg = (enum pgk)pgk,
                                          .holder = holders[holder],
                                          .lease_lost = !lease,
                                          .paused = paused,
                                          .was_primary = was};
                        struct pg_status pg;
                        struct ha_peer peers[4];
                        size_t n;
                        struct ha_input in;
                        struct ha_decision d;
                        build(&g, &pg, peers, &n, &in);
                        ha_decide(&in, &d);
                        if (!pg.lease_valid) {
                            assert_int_not_equal(d.action, HA_PROMOTE);
                            assert_int_not_equal(d.action, HA_START_PRIMARY);
                            assert_int_not_equal(d.action, HA_RENEW);
                        }
                        if (d.action == HA_PROMOTE || d.action == HA_START_PRIMARY)
                            assert_true(pg.i_hold_lock && pg.lease_valid);
                        if (d.action == HA_ACQUIRE)
                            assert_true(pg.cluster_unlocked);
                        assert_true(d.reason[0] != '\0');
                    }
}

/* NULL strings in the input are taken as "". */
static void null_strings(void **state)
{
    struct pg_status pg;
    struct ha_input in;
    struct ha_decision d;
    (void)state;
    memset(&pg, 0, sizeof pg);
    memset(&in, 0, sizeof in);
    pg_tags_default(&pg.tags);
    pg.state = PGS_STOPPED;
    in.pg = &pg;
    in.watchdog_ok = true;
    ha_decide(&in, &d);
    assert_int_equal(d.action, HA_ACQUIRE_BOOTSTRAP);
}

/* ---- names ---------------------------------------------------------------------------- */

static void names(void **state)
{
    struct pg_status s;
    (void)state;
    assert_string_equal(ha_action_name(HA_NONE), "none");
    assert_string_equal(ha_action_name(HA_ACQUIRE_BOOTSTRAP), "acquire_bootstrap");
    assert_string_equal(ha_action_name(HA_REINITIALIZE), "reinitialize");
    assert_string_equal(ha_action_name((enum ha_action)99), "unknown");
    for (int a = HA_NONE; a <= HA_REINITIALIZE; a++)
        assert_string_not_equal(ha_action_name((enum ha_action)a), "unknown");

    assert_string_equal(pg_run_state_name(PGS_STOPPED), "stopped");
    assert_string_equal(pg_run_state_name(PGS_STARTING), "starting");
    assert_string_equal(pg_run_state_name(PGS_RUNNING), "running");
    assert_string_equal(pg_run_state_name(PGS_STOPPING), "stopping");
    assert_string_equal(pg_run_state_name(PGS_CRASHED), "crashed");
    assert_string_equal(pg_run_state_name(PGS_INITDB), "initializing new cluster");
    assert_string_equal(pg_run_state_name(PGS_BASEBACKUP), "creating replica");
    assert_string_equal(pg_run_state_name(PGS_REWINDING), "running pg_rewind");
    assert_string_equal(pg_run_state_name(PGS_START_FAILED), "start failed");

    memset(&s, 0, sizeof s);
    assert_string_equal(pg_role_name(&s), "uninitialized");
    s.data_exists = true;
    s.state = PGS_RUNNING;
    s.is_primary = true;
    assert_string_equal(pg_role_name(&s), "master");
    s.is_primary = false;
    s.in_recovery = true;
    assert_string_equal(pg_role_name(&s), "replica");
    s.state = PGS_STOPPED;
    s.in_recovery = false;
    assert_string_equal(pg_role_name(&s), "replica");
    s.i_hold_lock = true;
    assert_string_equal(pg_role_name(&s), "master");
}

/* ---- tags ------------------------------------------------------------------------------- */

static void tags_defaults(void **state)
{
    struct pg_tags t;
    (void)state;
    memset(&t, 0x55, sizeof t);
    assert_int_equal(pg_tags_parse(NULL, &t), 0);
    assert_false(t.nofailover || t.noloadbalance || t.clonefrom || t.nosync);
    assert_int_equal(t.failover_priority, 1);
    assert_string_equal(t.replicatefrom, "");
    assert_int_equal(pg_tags_parse("", &t), 0);
    assert_int_equal(t.failover_priority, 1);
    assert_int_equal(pg_tags_parse("{}", &t), 0);
    assert_int_equal(t.failover_priority, 1);
    assert_false(t.nofailover);
    assert_int_equal(pg_tags_parse("{\"custom\":\"x\"}", &t), 0);
    assert_false(t.nofailover);
}

static void tags_booleans(void **state)
{
    struct pg_tags t;
    (void)state;
    assert_int_equal(pg_tags_parse("{\"nofailover\":true,\"noloadbalance\":true,"
                                   "\"clonefrom\":true,\"nosync\":true}",
                                   &t),
                     0);
    assert_true(t.nofailover && t.noloadbalance && t.clonefrom && t.nosync);
    assert_int_equal(t.failover_priority, 0);

    assert_int_equal(pg_tags_parse("{\"nofailover\":\"true\",\"noloadbalance\":\"TRUE\","
                                   "\"clonefrom\":\"on\",\"nosync\":\"yes\"}",
                                   &t),
                     0);
    assert_true(t.nofailover && t.noloadbalance && t.clonefrom && t.nosync);

    assert_int_equal(pg_tags_parse("{\"nofailover\":\"false\",\"noloadbalance\":false,"
                                   "\"clonefrom\":\"off\",\"nosync\":0}",
                                   &t),
                     0);
    assert_false(t.nofailover || t.noloadbalance || t.clonefrom || t.nosync);
    assert_int_equal(t.failover_priority, 1);

    assert_int_equal(pg_tags_parse("{\"nofailover\":null}", &t), 0);
    assert_false(t.nofailover);
    assert_int_equal(pg_tags_parse("{\"nofailover\":1}", &t), 0);
    assert_true(t.nofailover);
}

static void tags_priority(void **state)
{
    struct pg_tags t;
    (void)state;
    assert_int_equal(pg_tags_parse("{\"failover_priority\":5}", &t), 0);
    assert_int_equal(t.failover_priority, 5);
    assert_false(t.nofailover);
    assert_int_equal(pg_tags_parse("{\"failover_priority\":\"7\"}", &t), 0);
    assert_int_equal(t.failover_priority, 7);
    /* priority <= 0 without nofailover means nofailover (patroni/tags.py) */
    assert_int_equal(pg_tags_parse("{\"failover_priority\":0}", &t), 0);
    assert_true(t.nofailover);
    assert_int_equal(t.failover_priority, 0);
    assert_int_equal(pg_tags_parse("{\"failover_priority\":-1}", &t), 0);
    assert_true(t.nofailover);
    /* nofailover true overrides the priority */
    assert_int_equal(pg_tags_parse("{\"nofailover\":true,\"failover_priority\":9}", &t), 0);
    assert_int_equal(t.failover_priority, 0);
    /* an explicit nofailover false takes precedence over the priority for the flag */
    assert_int_equal(pg_tags_parse("{\"nofailover\":false,\"failover_priority\":0}", &t), 0);
    assert_false(t.nofailover);
    assert_int_equal(t.failover_priority, 0);
    /* unparsable priority counts as 1 */
    assert_int_equal(pg_tags_parse("{\"failover_priority\":\"high\"}", &t), 0);
    assert_int_equal(t.failover_priority, 1);
}

static void tags_replicatefrom_and_errors(void **state)
{
    struct pg_tags t;
    char big[200];
    (void)state;
    assert_int_equal(pg_tags_parse("{\"replicatefrom\":\"node3\"}", &t), 0);
    assert_string_equal(t.replicatefrom, "node3");
    assert_int_equal(pg_tags_parse("{\"replicatefrom\":5}", &t), 0);
    assert_string_equal(t.replicatefrom, "");

    memset(big, 'a', sizeof big);
    snprintf(big, sizeof big, "{\"replicatefrom\":\"%0100d\"}", 0);
    assert_int_equal(pg_tags_parse(big, &t), -1);
    assert_string_equal(t.replicatefrom, "");
    assert_int_equal(t.failover_priority, 1);

    assert_int_equal(pg_tags_parse("{nope", &t), -1);
    assert_int_equal(t.failover_priority, 1);
    assert_int_equal(pg_tags_parse("[true]", &t), -1);
    assert_int_equal(pg_tags_parse("{\"nofailover\":true,\"nofailover\":false}", &t), -1);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(check_table),   cmocka_unit_test(never_primary_without_lease),
        cmocka_unit_test(null_strings),  cmocka_unit_test(names),
        cmocka_unit_test(tags_defaults), cmocka_unit_test(tags_booleans),
        cmocka_unit_test(tags_priority), cmocka_unit_test(tags_replicatefrom_and_errors),
    };
    size_t n_fixed = sizeof fixed / sizeof fixed[0];
    size_t n_rows = sizeof scenarios / sizeof scenarios[0];
    struct CMUnitTest *tests = calloc(n_fixed + n_rows, sizeof *tests);
    int rc;

    if (tests == NULL)
        return 1;
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < n_rows; i++) {
        tests[n_fixed + i].name = scenarios[i].name;
        tests[n_fixed + i].test_func = run_scenario;
        tests[n_fixed + i].initial_state = (void *)&scenarios[i];
    }
    rc = _cmocka_run_group_tests("ha", tests, n_fixed + n_rows, NULL, NULL);
    free(tests);
    return rc;
}
