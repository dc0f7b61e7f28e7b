/* hacycle: see hacycle.h. Collect → decide (ha_decide, pure) → execute. */
#include "src/hacycle.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "src/config.h"
#include "src/daemon.h"
#include "src/ha.h"
#include "src/httpc.h"
#include "src/log.h"
#include "src/pg.h"
#include "src/pgq.h"
#include "src/proc.h"

#define PEER_TIMEOUT_MS  2000
#define RACE_WAIT_MIN_MS 5000 /* leader race: wait for a peer's starting postgres (ms) */
/* A standby that makes no streaming progress this long while the leader renews is stopped
 * to check its timeline (two of PostgreSQL's 5 s wal_retrieve_retry_interval). */
#define NOT_STREAMING_MS 10000

static uint64_t now_ms(void)
{
    return rnode_now_ms();
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static uint32_t ttl_ms(const struct daemon *d)
{
    return (uint32_t)d->dyn.ttl * 1000u;
}

static uint32_t loop_wait_ms(const struct daemon *d)
{
    return (uint32_t)d->dyn.loop_wait * 1000u;
}

uint64_t ha_safety_margin_ms(const struct daemon *d)
{
    int m = d->cfg->watchdog.safety_margin;
    if (m < 0)
        return ttl_ms(d) / 2;
    return (uint64_t)m * 1000u;
}

static const struct fsm *fsm_of(struct daemon *d)
{
    return &d->rn.fsm;
}

static bool holds_lock(struct daemon *d)
{
    return !strcmp(fsm_of(d)->lock.holder, d->cfg->name);
}

static void finish_busy(struct daemon *d, const char *what, bool ok, const char *msg)
{
    if (ok)
        log_info("%s: %s", what, msg);
    else
        log_error("%s failed: %s", what, msg);
    d->ha.busy = NULL;
    daemon_wakeup(d);
}

/* ---- status for the API and the decision --------------------------------------------- */

void ha_status(struct daemon *d, struct pg_status *out)
{
    *out = d->pg.st;
    const struct fsm *f = fsm_of(d);
    out->data_exists = pg_data_exists(&d->pg);
    if (!pg_is_running(&d->pg) && (out->state == PGS_RUNNING || out->state == PGS_STARTING))
        out->state = d->pg.crashed ? PGS_CRASHED : PGS_STOPPED;
    if (out->state != PGS_RUNNING) {
        out->is_primary = false;
        out->in_recovery = false;
    }
    out->cluster_unlocked = f->lock.holder[0] == '\0';
    out->i_hold_lock = holds_lock(d);
    out->lease_valid =
        out->i_hold_lock && lease_holder_valid(&d->ha.lease, now_ms(), ha_safety_margin_ms(d));
    out->paused = f->pause;
    out->tags_json = d->tags_text;
    out->tags = d->tags;
    if (out->in_recovery && f->optime_lsn) {
        uint64_t mine = out->receive_lsn > out->replay_lsn ? out->receive_lsn : out->replay_lsn;
        out->replication_lag = f->optime_lsn > mine ? f->optime_lsn - mine : 0;
        out->lag_known = true;
    } else {
        out->replication_lag = 0;
        out->lag_known = out->is_primary;
    }
}

/* ---- proposals of the HA loop ------------------------------------------------------------ */

enum lock_op { LOCK_ACQUIRE_OP, LOCK_RENEW_OP, LOCK_RELEASE_OP };

struct lock_ctx {
    struct daemon *d;
    enum lock_op op;
    uint64_t token;
    uint32_t ttl;
    void (*then)(struct daemon *d);
};

static void arm_lease_timer(struct daemon *d);

static int watchdog_timeout_s(const struct daemon *d)
{
    return (int)((ttl_ms(d) - ha_safety_margin_ms(d)) / 1000u);
}

/* After every committed acquire/renew: arm the watchdog (once) and kick it. */
static void watchdog_kick(struct daemon *d)
{
    int rc = watchdog_activate(&d->wd, watchdog_timeout_s(d));
    if (rc > 0 && !d->wd_logged) {
        log_info("%s activated with %d second timeout, timing slack %d seconds", d->wd.describe, rc,
                 rc - (int)(loop_wait_ms(d) / 1000u));
        if (d->wd.warning[0])
            log_warning("%s", d->wd.warning);
        d->wd_logged = true;
    } else if (rc == 0 && d->wd.error[0] && !d->wd_logged) {
        log_warning("%s", d->wd.error);
        d->wd_logged = true;
    } else if (rc < 0) {
        log_error("%s", d->wd.error);
    }
    if (rc > 0 && watchdog_keepalive(&d->wd) != 0)
        log_error("%s", d->wd.error);
}

static void on_lock_result(void *data, int status, const struct fsm_result *res)
{
    struct lock_ctx *c = data;
    struct daemon *d = c->d;
    d->ha.lock_op_inflight = false;
    /* A forwarded proposal's answer can arrive before this member has applied the
     * entry: decide again only once the local state machine has caught up with it. */
    if (status == RNODE_OK && res->revision > d->ha.min_revision)
        d->ha.min_revision = res->revision;
    bool ok = status == RNODE_OK && res->rc == FSM_OK;
    if (c->op == LOCK_RELEASE_OP) {
        if (ok)
            log_info("released the leader lock");
        else
            log_warning("releasing the leader lock failed: %s",
                        status == RNODE_OK ? res->msg : rnode_strerror(status));
        lease_holder_lost(&d->ha.lease);
    } else if (ok) {
        bool counted = lease_holder_committed(&d->ha.lease, c->token, res->version, c->ttl);
        if (counted)
            d->ha.lock_version = res->version;
        watchdog_kick(d);
        log_debug("lock %s committed: token %llu counted %d, lease %llu ms left",
                  c->op == LOCK_ACQUIRE_OP ? "acquire" : "renew", (unsigned long long)c->token,
                  counted, (unsigned long long)lease_holder_remaining(&d->ha.lease, now_ms()));
        arm_lease_timer(d);
        if (c->op == LOCK_ACQUIRE_OP)
            log_info("acquired the leader lock (version %llu)", (unsigned long long)res->version);
    } else if (c->op == LOCK_RENEW_OP) {
        log_warning("failed to update leader lock: %s",
                    status == RNODE_OK ? res->msg : rnode_strerror(status));
        if (status == RNODE_OK && res->rc == FSM_ECONFLICT)
            lease_holder_lost(&d->ha.lease);
    } else if (status != RNODE_OK) {
        log_info("acquiring the leader lock failed: %s", rnode_strerror(status));
    }
    void (*then)(struct daemon *) = c->then;
    free(c);
    if (then)
        then(d);
    daemon_wakeup(d);
}

static void lock_propose(struct daemon *d, enum lock_op op, void (*then)(struct daemon *d))
{
    if (d->ha.lock_op_inflight) {
        if (then)
            then(d);
        return;
    }
    struct fsm_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    struct lock_ctx *c = calloc(1, sizeof(*c));
    c->d = d;
    c->op = op;
    c->ttl = ttl_ms(d);
    c->then = then;
    switch (op) {
    case LOCK_ACQUIRE_OP:
        cmd.type = FSM_CMD_LOCK_ACQUIRE;
        cmd.u.acquire.name = d->cfg->name;
        cmd.u.acquire.ttl_ms = c->ttl;
        break;
    case LOCK_RENEW_OP:
        cmd.type = FSM_CMD_LOCK_RENEW;
        cmd.u.renew.name = d->cfg->name;
        cmd.u.renew.version = fsm_of(d)->lock.version;
        cmd.u.renew.ttl_ms = c->ttl;
        break;
    case LOCK_RELEASE_OP:
        cmd.type = FSM_CMD_LOCK_RELEASE;
        cmd.u.release.name = d->cfg->name;
        cmd.u.release.version = fsm_of(d)->lock.version;
        break;
    }
    uint64_t now = now_ms();
    if (op == LOCK_ACQUIRE_OP && lease_holder_valid(&d->ha.lease, now, 0)) {
        /* Our acquire has committed but this member has not applied it yet: acquiring
         * again would only conflict with ourselves. */
        free(c);
        if (then)
            then(d);
        return;
    }
    if (op == LOCK_ACQUIRE_OP)
        lease_holder_lost(&d->ha.lease); /* a fresh lease; nothing older counts */
    if (op != LOCK_RELEASE_OP)
        c->token = lease_holder_sent(&d->ha.lease, now);
    d->ha.last_lock_send_ms = now;
    int rc = rnode_propose(&d->rn, &cmd, on_lock_result, c);
    if (rc != 0) {
        log_debug("lock proposal not sent: %s", rnode_strerror(rc));
        free(c);
        if (then)
            then(d);
        return;
    }
    d->ha.lock_op_inflight = true;
}

static void on_lease_timer(uv_timer_t *t)
{
    daemon_wakeup(t->data);
}

static void arm_lease_timer(struct daemon *d)
{
    uint64_t now = now_ms();
    uint64_t rem = lease_holder_remaining(&d->ha.lease, now);
    uint64_t margin = ha_safety_margin_ms(d);
    uint64_t in = rem > margin ? rem - margin : 0;
    uv_timer_start(&d->ha.lease_timer, on_lease_timer, in, 0);
    /* The fencer kills the postmaster a little before the lease ends, after the daemon's
     * own demotion (at deadline - safety_margin) should already have happened. */
    uint64_t fence_margin = margin / 2 < 2000 ? margin / 2 : 2000;
    if (rem > fence_margin)
        fence_arm(&d->fence, now + rem - fence_margin, pg_postmaster_pid(&d->pg));
}

static void on_simple_result(void *data, int status, const struct fsm_result *res)
{
    const char *what = data;
    if (status != RNODE_OK)
        log_debug("%s not applied: %s", what, rnode_strerror(status));
    else if (res->rc != FSM_OK)
        log_warning("%s refused: %s", what, res->msg);
}

/* ---- peers' WAL positions (failover race) --------------------------------------------------- */

struct peer_ctx {
    struct daemon *d;
    size_t idx;
    uint64_t lock_version;
};

static void on_peer(void *data, int status, int http_status, const char *body, size_t len)
{
    struct peer_ctx *c = data;
    struct daemon *d = c->d;
    (void)len;
    if (d->stopping || c->lock_version != d->ha.peers_lock_version) {
        free(c);
        return;
    }
    struct ha_peer *p = &d->ha.peers[c->idx];
    json_t *j = (status == 0 && http_status > 0) ? json_loads(body, 0, NULL) : NULL;
    if (j) {
        p->reachable = true;
        const char *role = json_string_value(json_object_get(j, "role"));
        const char *state = json_string_value(json_object_get(j, "state"));
        p->running = state && !strcmp(state, "running");
        p->starting = state && (!strcmp(state, "starting") || !strcmp(state, "stopped"));
        p->is_primary = p->running && role && (!strcmp(role, "master") || !strcmp(role, "primary"));
        p->timeline = (uint32_t)json_integer_value(json_object_get(j, "timeline"));
        json_t *x = json_object_get(j, "xlog");
        uint64_t loc = (uint64_t)json_integer_value(json_object_get(x, "location"));
        uint64_t rec = (uint64_t)json_integer_value(json_object_get(x, "received_location"));
        uint64_t rep = (uint64_t)json_integer_value(json_object_get(x, "replayed_location"));
        p->lsn = loc > rec ? loc : rec;
        if (rep > p->lsn)
            p->lsn = rep;
        json_t *tags = json_object_get(j, "tags");
        if (tags) {
            char *t = json_dumps(tags, JSON_COMPACT);
            pg_tags_parse(t, &p->tags);
            free(t);
        }
        log_info("Got response from %s %s: role %s, state %s, timeline %u, lsn %llu", p->name,
                 "/patroni", role ? role : "?", state ? state : "?", p->timeline,
                 (unsigned long long)p->lsn);
        json_decref(j);
    } else {
        log_warning("Request failed to %s: GET /patroni (%s)", p->name,
                    status ? uv_strerror(status) : "bad answer");
    }
    free(c);
    if (--d->ha.peers_pending == 0) {
        d->ha.peers_collected = true;
        daemon_wakeup(d);
    }
}

static void collect_peers(struct daemon *d)
{
    if (d->ha.peers_pending > 0)
        return;
    const struct fsm *f = fsm_of(d);
    d->ha.peers_collected = false; /* until every answer of this round is in */
    d->ha.n_peers = 0;
    d->ha.peers_lock_version = f->lock.version;
    for (uint32_t i = 0; i < f->n_members && d->ha.n_peers < HA_MAX_PEERS; i++) {
        const struct fsm_member *m = &f->members[i];
        if (!strcmp(m->name, d->cfg->name))
            continue;
        struct ha_peer *p = &d->ha.peers[d->ha.n_peers];
        memset(p, 0, sizeof(*p));
        snprintf(p->name, sizeof(p->name), "%s", m->name);
        pg_tags_parse(m->tags, &p->tags);
        struct peer_ctx *c = calloc(1, sizeof(*c));
        c->d = d;
        c->idx = d->ha.n_peers++;
        c->lock_version = f->lock.version;
        int err = 0;
        d->ha.peers_pending++;
        if (!httpc_request(d->loop, "GET", m->api_url, NULL, NULL, 0, PEER_TIMEOUT_MS, on_peer, c,
                           &err)) {
            d->ha.peers_pending--;
            free(c);
        }
    }
    if (d->ha.peers_pending == 0) {
        d->ha.peers_collected = true;
        daemon_wakeup(d);
    }
}

/* ---- sources ----------------------------------------------------------------------------- */

static bool source_of(struct daemon *d, const char *name, struct pg_source *src)
{
    const struct fsm_member *m = fsm_member_find(fsm_of(d), name);
    if (!m || !m->conn_url[0])
        return false;
    return pg_source_from_url(m->name, m->conn_url, src) == 0;
}

/* ---- synchronous replication (synchronous_mode) ---------------------------------------------

   The synchronous standbys are recorded in the state machine BEFORE PostgreSQL relies on
   them: a standby is added to the `sync` key first, then to synchronous_standby_names. A
   standby leaves the key only once every standby PostgreSQL now waits for has confirmed the
   WAL written while the old ones were still counted (narrow_lsn). So every standby that may
   hold an acknowledged commit the others lack stays recorded, and only recorded standbys
   may be promoted.

   A synchronous standby that stops confirming WAL is replaced: when the primary has WAL it
   has not confirmed and its flush position has not moved for retry_timeout seconds (a cut
   link shows as "streaming" until wal_sender_timeout), or when it lags by more than
   maximum_lag_on_syncnode bytes. */

#define SYNC_PLACEHOLDER "raftgres_no_sync_standby"
#define SYNC_SEEN_MAX    32

struct sync_seen {
    char name[FSM_NAME_MAX + 1];
    uint64_t flush;    /* its last confirmed flush position */
    uint64_t since_ms; /* since then it has not moved while WAL was pending */
    bool stale;
};

static struct {
    bool inflight;
    uint64_t version; /* sync key version after our last accepted SYNC_SET */
    uint32_t n;
    char names[FSM_MAX_SYNC][FSM_NAME_MAX + 1];
    /* Narrowing the key to what PostgreSQL waits for: the WAL position they must confirm
     * first, read once PostgreSQL reports them as synchronous (0 = not yet). */
    uint64_t narrow_lsn;
    /* After a promotion with no other recorded standby, commits wait for one until then
     * (monotonic ms) instead of being acknowledged without a synchronous copy. */
    uint64_t hold_until_ms;
    struct sync_seen seen[SYNC_SEEN_MAX];
    uint32_t n_seen;
} sy;

/* One row of the pg_stat_replication query below. */
struct repl_row {
    char name[FSM_NAME_MAX + 1];
    bool sync;      /* sync_state is 'sync' (PostgreSQL waits for it) */
    uint64_t flush; /* confirmed flush position */
    uint64_t cur;   /* the primary's current WAL position */
};

static bool name_in(const char *name, const char (*names)[FSM_NAME_MAX + 1], uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(name, names[i]))
            return true;
    return false;
}

static void format_sync_names(const struct daemon *d, const char (*names)[FSM_NAME_MAX + 1],
                              uint32_t n, char *out, size_t outlen)
{
    out[0] = '\0';
    if (n == 0) {
        /* strict: no synchronous standby means writes wait, never go asynchronous; so do
         * they for a while after a promotion, until a standby streams from us. */
        if (d->dyn.synchronous_mode_strict || now_ms() < sy.hold_until_ms)
            snprintf(out, outlen, "FIRST 1 (\"%s\")", SYNC_PLACEHOLDER);
        return;
    }
    size_t o = (size_t)snprintf(out, outlen, "FIRST %u (", n);
    for (uint32_t i = 0; i < n && o < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s\"%s\"", i ? "," : "", names[i]);
    if (o < outlen)
        snprintf(out + o, outlen - o, ")");
}

static void sync_set(struct daemon *d, const char (*names)[FSM_NAME_MAX + 1], uint32_t n,
                     rnode_propose_cb cb)
{
    /* CAS on the version we last saw: ours if we just changed it (a forwarded proposal's
     * answer can arrive before this member applied the entry). */
    uint64_t expected = fsm_of(d)->sync.version;
    if (sy.version > expected)
        expected = sy.version;
    struct fsm_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = FSM_CMD_SYNC_SET;
    cmd.u.sync_set.leader = d->cfg->name;
    cmd.u.sync_set.expected_version = expected;
    cmd.u.sync_set.n_names = n;
    for (uint32_t i = 0; i < n; i++)
        cmd.u.sync_set.names[i] = names[i];
    if (rnode_propose(&d->rn, &cmd, cb, d) != 0)
        sy.inflight = false;
}

static void on_sync_final(void *data, int status, const struct fsm_result *res)
{
    struct daemon *d = data;
    sy.inflight = false;
    if (status == RNODE_OK && res->rc == FSM_OK)
        sy.version = res->version;
    if (status != RNODE_OK || res->rc != FSM_OK)
        log_warning("recording the synchronous standbys failed: %s",
                    status == RNODE_OK ? res->msg : rnode_strerror(status));
    else if (sy.n)
        log_info("synchronous standby set to %s%s", sy.names[0], sy.n > 1 ? " and others" : "");
    else
        log_info("no synchronous standby%s",
                 d->dyn.synchronous_mode_strict ? ": writes wait (synchronous_mode_strict)" : "");
}

static void on_sync_reloaded(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    sy.narrow_lsn = 0; /* the key is narrowed by a later pass, once it is safe */
    if (ok)
        log_info("synchronous_standby_names set to '%s'", d->pg.sync_names);
    if (ok && !d->dyn.synchronous_mode) {
        sync_set(d, sy.names, 0, on_sync_final); /* nothing waits for a standby any more */
        return;
    }
    sy.inflight = false;
    if (!ok)
        log_warning("applying synchronous_standby_names failed: %s", msg);
}

static void apply_sync_names(struct daemon *d)
{
    format_sync_names(d, sy.names, sy.n, d->pg.sync_names, sizeof(d->pg.sync_names));
    pg_reload(&d->pg, on_sync_reloaded, d);
}

static void on_sync_widened(void *data, int status, const struct fsm_result *res)
{
    struct daemon *d = data;
    if (status != RNODE_OK || res->rc != FSM_OK) {
        log_warning("recording the new synchronous standbys failed: %s",
                    status == RNODE_OK ? res->msg : rnode_strerror(status));
        sy.inflight = false;
        return;
    }
    sy.version = res->version;
    apply_sync_names(d); /* recorded first, now PostgreSQL may rely on them */
}

static void on_replication_rows(void *data, bool ok, const char *msg);

static void manage_sync(struct daemon *d)
{
    if (sy.inflight)
        return;
    const struct fsm *f = fsm_of(d);
    bool mine = !strcmp(f->sync.leader, d->cfg->name);
    if (!d->dyn.synchronous_mode) {
        if (d->pg.sync_names[0] || (mine && f->sync.n_names)) {
            sy.inflight = true;
            sy.n = 0;
            d->pg.sync_names[0] = '\0';
            log_info("synchronous_mode is off: replication is asynchronous");
            pg_reload(&d->pg, on_sync_reloaded, d);
        }
        return;
    }
    sy.inflight = true;
    pg_sql_rows(&d->pg,
                "SELECT application_name || ' ' || sync_state || ' ' || "
                "COALESCE((flush_lsn - '0/0')::text, '0') || ' ' || "
                "(pg_current_wal_lsn() - '0/0')::text FROM pg_stat_replication "
                "WHERE state = 'streaming' ORDER BY flush_lsn DESC NULLS LAST, application_name",
                on_replication_rows, d);
}

static bool parse_repl_row(const char *text, struct repl_row *r)
{
    char state[16];
    unsigned long long flush, cur;
    memset(r, 0, sizeof(*r));
    if (sscanf(text, "%64s %15s %llu %llu", r->name, state, &flush, &cur) != 4)
        return false;
    r->sync = !strcmp(state, "sync");
    r->flush = flush;
    r->cur = cur;
    return true;
}

/* Is this standby still confirming WAL? Tracks its flush position across passes. */
static bool sync_candidate_healthy(const struct daemon *d, const struct repl_row *r)
{
    uint64_t now = now_ms();
    struct sync_seen *s = NULL;
    for (uint32_t i = 0; i < sy.n_seen && !s; i++)
        if (!strcmp(sy.seen[i].name, r->name))
            s = &sy.seen[i];
    if (!s) {
        if (sy.n_seen == SYNC_SEEN_MAX)
            sy.n_seen = 0; /* forget everyone: a fresh start is only slower */
        s = &sy.seen[sy.n_seen++];
        snprintf(s->name, sizeof(s->name), "%s", r->name);
        s->flush = r->flush;
        s->since_ms = now;
        s->stale = false;
    }
    if (r->flush != s->flush || r->flush >= r->cur) {
        s->flush = r->flush;
        s->since_ms = now;
        if (s->stale)
            log_info("standby %s confirms WAL again", r->name);
        s->stale = false;
    }
    uint64_t limit = (uint64_t)(d->dyn.retry_timeout > 0 ? d->dyn.retry_timeout : 10) * 1000u;
    if (!s->stale && now - s->since_ms > limit) {
        s->stale = true;
        log_warning("standby %s has not confirmed WAL up to %llu for %d s (its flush position "
                    "is %llu): not a synchronous standby candidate",
                    r->name, (unsigned long long)r->cur, (int)(limit / 1000),
                    (unsigned long long)r->flush);
    }
    if (s->stale)
        return false;
    long long max_lag = d->dyn.maximum_lag_on_syncnode;
    if (max_lag > 0 && r->cur > r->flush && r->cur - r->flush > (uint64_t)max_lag) {
        log_warning("standby %s lags %llu bytes > maximum_lag_on_syncnode %lld: not a "
                    "synchronous standby candidate",
                    r->name, (unsigned long long)(r->cur - r->flush), max_lag);
        return false;
    }
    return true;
}

static const struct repl_row *row_of(const struct repl_row *rows, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].name, name))
            return &rows[i];
    return NULL;
}

/* The key holds more than PostgreSQL waits for: drop the others once every standby
 * PostgreSQL waits for reports as synchronous and has confirmed narrow_lsn. */
static bool sync_narrow_if_safe(struct daemon *d, const struct repl_row *rows, int nrows)
{
    uint64_t cur = nrows ? rows[0].cur : 0;
    for (uint32_t i = 0; i < sy.n; i++) {
        const struct repl_row *r = row_of(rows, nrows, sy.names[i]);
        if (!r || !r->sync)
            return false; /* the new setting is not in effect yet */
    }
    if (sy.narrow_lsn == 0) {
        /* Every commit acknowledged under the previous setting is at or below this. */
        sy.narrow_lsn = cur ? cur : 1;
        return false;
    }
    for (uint32_t i = 0; i < sy.n; i++)
        if (row_of(rows, nrows, sy.names[i])->flush < sy.narrow_lsn)
            return false;
    sync_set(d, sy.names, sy.n, on_sync_final);
    return true;
}

static void on_replication_rows(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok) {
        sy.inflight = false;
        log_debug("pg_stat_replication: %s", msg);
        return;
    }
    const struct fsm *f = fsm_of(d);
    bool mine = !strcmp(f->sync.leader, d->cfg->name);
    uint32_t want = (uint32_t)d->dyn.synchronous_node_count;
    if (want > FSM_MAX_SYNC)
        want = FSM_MAX_SYNC;
    struct repl_row rows[64];
    int nrows = 0;
    for (int r = 0; r < d->pg.rows_n; r++)
        if (parse_repl_row(d->pg.rows[r], &rows[nrows]))
            nrows++;
    /* Candidates: streaming members that may be synchronous and still confirm WAL; the
     * current synchronous standbys first (no churn while they stay healthy), then by WAL
     * position. */
    bool healthy[64];
    for (int r = 0; r < nrows; r++)
        healthy[r] = sync_candidate_healthy(d, &rows[r]);
    char cand[FSM_MAX_SYNC * 4][FSM_NAME_MAX + 1];
    uint32_t nc = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int r = 0; r < nrows && nc < FSM_MAX_SYNC * 4; r++) {
            const char *name = rows[r].name;
            const struct fsm_member *m = fsm_member_find(f, name);
            if (!m || !healthy[r] || !strcmp(name, d->cfg->name) || name_in(name, cand, nc))
                continue;
            struct pg_tags t;
            pg_tags_parse(m->tags, &t);
            if (t.nosync)
                continue;
            bool cur = mine && name_in(name, f->sync.names, f->sync.n_names);
            if ((pass == 0) != cur)
                continue;
            snprintf(cand[nc++], FSM_NAME_MAX + 1, "%s", name);
        }
    }
    sy.n = nc < want ? nc : want;
    for (uint32_t i = 0; i < sy.n; i++)
        snprintf(sy.names[i], sizeof(sy.names[i]), "%s", cand[i]);
    if (sy.hold_until_ms && (sy.n || now_ms() >= sy.hold_until_ms)) {
        if (!sy.n && !d->dyn.synchronous_mode_strict)
            log_warning("no standby streams from this new primary %d s after its promotion: "
                        "commits no longer wait for a synchronous standby "
                        "(synchronous_mode_strict is off)",
                        d->dyn.ttl);
        sy.hold_until_ms = 0;
    }
    char ssn[1024];
    format_sync_names(d, sy.names, sy.n, ssn, sizeof(ssn));
    bool in_fsm = mine;
    for (uint32_t i = 0; in_fsm && i < sy.n; i++)
        in_fsm = name_in(sy.names[i], f->sync.names, f->sync.n_names);
    if (in_fsm && !strcmp(ssn, d->pg.sync_names)) {
        /* PostgreSQL waits for what we want and the key records it. */
        if (f->sync.n_names == sy.n || !sync_narrow_if_safe(d, rows, nrows))
            sy.inflight = false;
        return;
    }
    if (in_fsm) {
        apply_sync_names(d); /* every one already recorded: PostgreSQL may rely on them */
        return;
    }
    /* Added standbys are recorded (with the previous ones) before PostgreSQL may count on
     * them. */
    char wide[FSM_MAX_SYNC][FSM_NAME_MAX + 1];
    uint32_t nw = 0;
    if (mine)
        for (uint32_t i = 0; i < f->sync.n_names && nw < FSM_MAX_SYNC; i++)
            snprintf(wide[nw++], sizeof(wide[0]), "%s", f->sync.names[i]);
    for (uint32_t i = 0; i < sy.n; i++)
        if (!name_in(sy.names[i], wide, nw) && nw < FSM_MAX_SYNC)
            snprintf(wide[nw++], sizeof(wide[0]), "%s", sy.names[i]);
    sync_set(d, wide, nw, on_sync_widened);
}

/* ---- multi-step operations ---------------------------------------------------------------- */

static void on_started(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    finish_busy(d, "start", ok, msg);
}

static void start_as(struct daemon *d, const char *target, bool primary)
{
    struct pg_source src;
    memset(&src, 0, sizeof(src));
    d->ha.busy = "starting postgres";
    if (primary) {
        pg_start(&d->pg, NULL, on_started, d);
        return;
    }
    if (target && target[0] && !source_of(d, target, &src)) {
        /* The leader has not registered a connection URL yet: start without one. */
        memset(&src, 0, sizeof(src));
    }
    pg_start(&d->pg, &src, on_started, d);
}

/* bootstrap: initdb → start → roles → post_init → INITIALIZE(sysid) */
static void bootstrap_step(void *data, bool ok, const char *msg);

static void on_config_stored(void *data, int status, const struct fsm_result *res)
{
    struct daemon *d = data;
    if (status != RNODE_OK || (res->rc != FSM_OK && res->rc != FSM_ECONFLICT))
        log_warning("storing bootstrap.dcs as the dynamic configuration failed: %s",
                    status == RNODE_OK ? res->msg : rnode_strerror(status));
    finish_busy(d, "bootstrap", true, "done");
}

static void on_initialize_result(void *data, int status, const struct fsm_result *res)
{
    struct daemon *d = data;
    if (status == RNODE_OK && res->rc == FSM_OK) {
        log_info("initialized a new cluster (system identifier %s)", d->pg.st.sysid);
        /* bootstrap.dcs becomes the cluster's dynamic configuration (Patroni writes it
         * to /config at initialize); CAS on "never set". */
        char *text = json_dumps(d->cfg->dcs_json ? d->cfg->dcs_json : json_object(),
                                JSON_COMPACT | JSON_SORT_KEYS);
        struct fsm_cmd cmd;
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = FSM_CMD_CONFIG_SET;
        cmd.u.config_set.expected_version = 0;
        cmd.u.config_set.json = text ? text : "{}";
        int rc = rnode_propose(&d->rn, &cmd, on_config_stored, d);
        free(text);
        if (rc != 0)
            finish_busy(d, "bootstrap", true, "done (dynamic configuration not stored yet)");
    } else {
        d->ha.bootstrap_failed = true;
        finish_busy(d, "bootstrap", false, status == RNODE_OK ? res->msg : rnode_strerror(status));
    }
}

static void append_role_sql(char *sql, size_t cap, const char *user, const char *password,
                            const char *options)
{
    char ident[200], lit[400], name_lit[200];
    pgq_quote_ident(user, ident, sizeof(ident));
    pgq_quote_literal(user, name_lit, sizeof(name_lit));
    char pw[500] = "";
    if (password) {
        pgq_quote_literal(password, lit, sizeof(lit));
        snprintf(pw, sizeof(pw), " PASSWORD %s", lit);
    }
    size_t n = strlen(sql);
    snprintf(
        sql + n, cap - n,
        "DO $rg$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) THEN "
        "CREATE ROLE %s WITH LOGIN%s %s; ELSE ALTER ROLE %s WITH LOGIN%s %s; END IF; END$rg$;\n",
        name_lit, ident, pw, options, ident, pw, options);
}

static void build_roles_sql(struct daemon *d, char *sql, size_t cap)
{
    const struct cfg *c = d->cfg;
    sql[0] = '\0';
    if (c->postgresql.superuser.password) {
        char ident[200], lit[400];
        pgq_quote_ident(d->pg.superuser, ident, sizeof(ident));
        pgq_quote_literal(c->postgresql.superuser.password, lit, sizeof(lit));
        snprintf(sql, cap, "ALTER ROLE %s WITH PASSWORD %s;\n", ident, lit);
    }
    append_role_sql(sql, cap, d->pg.replication_user, c->postgresql.replication.password,
                    "REPLICATION");
    if (c->postgresql.rewind.username && c->postgresql.rewind.password)
        append_role_sql(sql, cap, c->postgresql.rewind.username, c->postgresql.rewind.password,
                        "SUPERUSER");
    /* bootstrap.users: {name: {password, options: [createrole, createdb]}} */
    json_t *users = json_object_get(c->bootstrap_json, "users");
    const char *name;
    json_t *u;
    json_object_foreach(users, name, u)
    {
        char opts[300] = "";
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(u, "options"), i, o)
        {
            const char *s = json_string_value(o);
            bool ok = s && strlen(s) < 40;
            for (const char *p = s; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
            if (ok) {
                strcat(opts, " ");
                strcat(opts, s);
            }
        }
        append_role_sql(sql, cap, name, json_string_value(json_object_get(u, "password")), opts);
    }
}

static void on_post_init(void *data, const struct proc_result *r)
{
    struct daemon *d = data;
    if (r->exit_status != 0) {
        d->ha.bootstrap_failed = true;
        finish_busy(d, "bootstrap", false, "post_init script failed");
        return;
    }
    bootstrap_step(d, true, "post_init done");
}

static int bootstrap_stage;

static bool bootstrap_created_data;

static void bootstrap_step(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok) {
        d->ha.bootstrap_failed = true;
        d->ha.bootstrap_retry_ms = now_ms() + loop_wait_ms(d);
        if (bootstrap_created_data) {
            /* Leave no half-made cluster behind: the next attempt starts from scratch. */
            char err[300];
            if (pg_is_running(&d->pg))
                pg_stop(&d->pg, "immediate", NULL, NULL);
            else
                pg_remove_data(&d->pg, err, sizeof(err));
        }
        finish_busy(d, "bootstrap", false, msg);
        return;
    }
    switch (bootstrap_stage++) {
    case 0: /* initdb done (or existing data) */
        pg_start(&d->pg, NULL, bootstrap_step, d);
        return;
    case 1: { /* running: roles */
        char *sql = malloc(32768);
        build_roles_sql(d, sql, 32768);
        pg_sql(&d->pg, sql[0] ? sql : "SELECT 1", bootstrap_step, d);
        free(sql);
        return;
    }
    case 2: { /* post_init */
        const char *script =
            json_string_value(json_object_get(d->cfg->bootstrap_json, "post_init"));
        if (script) {
            char url[600];
            snprintf(url, sizeof(url), "postgres://%s@%s:%d/postgres", d->pg.superuser,
                     d->pg.connect_host, d->pg.port);
            const char *argv[] = {script, url, NULL};
            log_info("running post_init %s", script);
            struct proc_opts po = {.argv = argv, .timeout_ms = 600000};
            proc_spawn(d->loop, &po, on_post_init, d);
            return;
        }
        bootstrap_step(d, true, "no post_init");
        return;
    }
    case 3: /* learn the system identifier */
        pg_query_status(&d->pg, bootstrap_step, d);
        return;
    case 4: {
        struct fsm_cmd cmd;
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = FSM_CMD_INITIALIZE;
        cmd.u.initialize.sysid = d->pg.st.sysid;
        if (rnode_propose(&d->rn, &cmd, on_initialize_result, d) != 0) {
            /* Retry this step on the next cycle: the cluster will see our data. */
            d->ha.bootstrap_failed = false;
            finish_busy(d, "bootstrap", false, "could not record the system identifier yet");
        }
        return;
    }
    }
}

static void do_bootstrap(struct daemon *d)
{
    d->ha.busy = "bootstrap";
    if (pg_data_exists(&d->pg)) {
        log_info("registering the existing data directory as the cluster's");
        bootstrap_stage = pg_is_running(&d->pg) ? 3 : 0;
        bootstrap_created_data = false;
        bootstrap_step(d, true, "existing data");
        return;
    }
    log_info("trying to bootstrap a new cluster");
    bootstrap_stage = 0;
    bootstrap_created_data = true;
    d->pg.st.state = PGS_INITDB;
    pg_initdb(&d->pg, bootstrap_step, d);
}

/* clone: basebackup → start as standby */
static char clone_from[FSM_NAME_MAX + 1];

static void on_cloned(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok) {
        d->ha.clone_failed = true;
        char err[300];
        pg_remove_data(&d->pg, err, sizeof(err));
        d->pg.st.state = PGS_STOPPED;
        finish_busy(d, "clone", false, msg);
        return;
    }
    log_info("replica has been created using basebackup");
    d->ha.busy = NULL;
    start_as(d, clone_from, false);
}

static void do_clone(struct daemon *d, const char *target)
{
    struct pg_source src;
    if (!source_of(d, target, &src)) {
        log_info("waiting for %s to register its PostgreSQL address", target);
        return;
    }
    snprintf(clone_from, sizeof(clone_from), "%s", target);
    d->ha.busy = "clone";
    pg_basebackup(&d->pg, &src, on_cloned, d);
}

/* promote */
static void on_history(void *data, int status, const struct fsm_result *res)
{
    (void)data;
    (void)status;
    (void)res;
}

static void manage_slots(struct daemon *d);
static bool start_slots(struct daemon *d, pg_done_cb cb);

static void promote_finish(struct daemon *d)
{
    /* The other members' slots at once, so they stream from us without waiting. */
    d->pg.st.is_primary = true;
    manage_slots(d);
    /* A switchover or failover request is fulfilled by our promotion: clear it (CAS, so a
     * newer request survives). */
    const struct fsm_failover *fo = &fsm_of(d)->failover;
    if (fo->pending && (!fo->candidate[0] || !strcmp(fo->candidate, d->cfg->name))) {
        struct fsm_cmd cmd;
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = FSM_CMD_FAILOVER_CLEAR;
        cmd.u.failover_clear.expected_version = fo->version;
        rnode_propose(&d->rn, &cmd, on_simple_result, "failover_clear");
    }
    finish_busy(d, "promote", true, "done");
}

/* The new timeline's history file names the exact switch point ("<parent tli> <lsn>
 * <reason>", last line): that is what the history entry records, so an old primary can
 * tell precisely whether it went past it (rewind) or not (a clean switchover). */
static void on_history_file(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    uint32_t tli = d->ha.promote_timeline;
    uint64_t lsn = d->ha.promote_lsn;
    if (ok && d->pg.rows_n > 0) {
        unsigned parent = 0;
        char lsntext[40];
        for (int r = 0; r < d->pg.rows_n; r++)
            if (sscanf(d->pg.rows[r], "%u %39s", &parent, lsntext) == 2) {
                tli = parent;
                lsn = pg_lsn_parse(lsntext);
            }
    } else if (!ok) {
        log_warning("reading the timeline history file: %s", msg);
    }
    struct fsm_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = FSM_CMD_HISTORY_APPEND;
    cmd.u.history_append.timeline = tli;
    cmd.u.history_append.lsn = lsn;
    cmd.u.history_append.reason = "no recovery target specified";
    cmd.u.history_append.time = wall_ms();
    cmd.u.history_append.new_leader = d->cfg->name;
    rnode_propose(&d->rn, &cmd, on_history, d);
    promote_finish(d);
}

static void on_promote_checkpoint(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok)
        log_warning("checkpoint after promote failed: %s", msg);
    pg_sql_rows(&d->pg,
                "SELECT regexp_split_to_table(pg_read_file('pg_wal/' || "
                "lpad(upper(to_hex((pg_control_checkpoint()).timeline_id)), 8, '0') || "
                "'.history'), E'\\n')",
                on_history_file, d);
}

static void on_promoted(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok) {
        /* A candidate that cannot promote gives the lock back at once: the race picks
         * another member (after a switchover, the old primary, which has all the WAL). */
        log_error("promote failed: %s; releasing the leader lock", msg);
        lock_propose(d, LOCK_RELEASE_OP, NULL);
        finish_busy(d, "promote", false, msg);
        return;
    }
    log_info("promoted self to leader by acquiring session lock");
    d->ha.pg_was_primary = true;
    /* PostgreSQL 15 promotes without an end-of-recovery checkpoint: until one runs, its
     * control file still names the old timeline and pg_rewind of the old primary against
     * it would find "no rewind required". Checkpoint now, as Patroni does. */
    pg_sql(&d->pg, "CHECKPOINT", on_promote_checkpoint, d);
}

static void on_promote_prepared(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok)
        log_warning("setting synchronous_standby_names before promote: %s", msg);
    pg_promote(&d->pg, on_promoted, d);
}

static void promote_after_slots(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    d->ha.slots_inflight = false;
    if (!ok)
        log_warning("creating replication slots before promote: %s", msg);
    if (d->dyn.synchronous_mode) {
        /* Name the synchronous standbys BEFORE promoting, so no commit after promotion is
         * acknowledged without a synchronous copy: the recorded ones, minus ourselves. */
        const struct fsm_sync *fs = &fsm_of(d)->sync;
        uint32_t n = 0;
        for (uint32_t i = 0; i < fs->n_names; i++)
            if (strcmp(fs->names[i], d->cfg->name))
                snprintf(sy.names[n++], sizeof(sy.names[0]), "%s", fs->names[i]);
        sy.n = n;
        sy.narrow_lsn = 0;
        sy.hold_until_ms = n ? 0 : now_ms() + ttl_ms(d);
        format_sync_names(d, sy.names, n, d->pg.sync_names, sizeof(d->pg.sync_names));
        if (!n)
            log_info("promoting without another recorded synchronous standby: commits wait "
                     "until a standby streams from us and is recorded%s",
                     d->dyn.synchronous_mode_strict ? "" : " (at most ttl seconds)");
        pg_reload(&d->pg, on_promote_prepared, d);
        return;
    }
    pg_promote(&d->pg, on_promoted, d);
}

static void do_promote(struct daemon *d)
{
    d->ha.busy = "promote";
    d->ha.promote_timeline = d->pg.st.timeline;
    uint64_t a = d->pg.st.receive_lsn, b = d->pg.st.replay_lsn;
    d->ha.promote_lsn = a > b ? a : b;
    /* The other members' slots first (physical slots can be created on a standby), so they
     * can stream from us the moment we are promoted. */
    if (!start_slots(d, promote_after_slots))
        promote_after_slots(d, true, "no slots");
}

/* demote: stop immediately, come back as a standby of the leader (if any) */
static void on_demote_stopped(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok) {
        finish_busy(d, "demote", false, msg);
        return;
    }
    d->ha.busy = NULL;
    const char *holder = fsm_of(d)->lock.holder;
    start_as(d, strcmp(holder, d->cfg->name) ? holder : "", false);
}

static void do_demote(struct daemon *d)
{
    d->ha.busy = "demote";
    lease_holder_lost(&d->ha.lease);
    if (holds_lock(d))
        lock_propose(d, LOCK_RELEASE_OP, NULL);
    pg_stop(&d->pg, "immediate", on_demote_stopped, d);
}

/* rewind: stop → (crash recovery) → pg_rewind → start as standby */
static char rewind_from[FSM_NAME_MAX + 1];
static int rewind_stage;

static void rewind_step(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok) {
        if (rewind_stage >= 3)
            d->ha.rewind_failed = true;
        finish_busy(d, "rewind", false, msg);
        return;
    }
    struct pg_source src;
    switch (rewind_stage++) {
    case 0:
        pg_stop(&d->pg, "fast", rewind_step, d);
        return;
    case 1:
        pg_read_control(&d->pg, rewind_step, d);
        return;
    case 2:
        if (!strcmp(d->pg.control.state, "in production")) {
            pg_single_user_recovery(&d->pg, rewind_step, d);
            return;
        }
        rewind_step(d, true, "clean");
        return;
    case 3:
        if (!source_of(d, rewind_from, &src)) {
            finish_busy(d, "rewind", false, "the leader has no PostgreSQL address yet");
            return;
        }
        pg_rewind(&d->pg, &src, rewind_step, d);
        return;
    case 4:
        d->ha.busy = NULL;
        d->ha.pg_was_primary = false;
        start_as(d, rewind_from, false);
        return;
    }
}

static void do_rewind(struct daemon *d, const char *target)
{
    snprintf(rewind_from, sizeof(rewind_from), "%s", target);
    d->ha.busy = "rewind";
    rewind_stage = 0;
    rewind_step(d, true, "begin");
}

static void on_reinit_stopped(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    char err[300];
    if (!ok || pg_remove_data(&d->pg, err, sizeof(err)) != 0) {
        finish_busy(d, "reinitialize", false, ok ? err : msg);
        return;
    }
    d->ha.busy = NULL;
    d->ha.rewind_failed = false;
    d->ha.pg_was_primary = false;
    do_clone(d, clone_from);
}

static void do_reinitialize(struct daemon *d, const char *target)
{
    snprintf(clone_from, sizeof(clone_from), "%s", target);
    d->ha.busy = "reinitialize";
    pg_stop(&d->pg, "immediate", on_reinit_stopped, d);
}

static void on_followed(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    finish_busy(d, "follow", ok, msg);
}

/* ---- switchover (design.md section 4) -------------------------------------------------------

   The primary: checkpoint, clean shutdown, wait until the candidate has received the
   shutdown checkpoint, hand the lock over (CAS), come back as the candidate's standby.
   The candidate sees the lock name it, renews, promotes and clears the request. */

static struct {
    char candidate[FSM_NAME_MAX + 1];
    uint64_t target_lsn;
    uint64_t deadline_ms;
    int stage;
    uv_timer_t timer;
    bool timer_init;
} sw;

static void switchover_step(void *data, bool ok, const char *msg);

static void on_sw_timer(uv_timer_t *t)
{
    switchover_step(t->data, true, "poll");
}

static void switchover_abort(struct daemon *d, const char *why)
{
    log_error("switchover to %s failed: %s; staying the primary", sw.candidate, why);
    struct fsm_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = FSM_CMD_FAILOVER_CLEAR;
    cmd.u.failover_clear.expected_version = fsm_of(d)->failover.version;
    rnode_propose(&d->rn, &cmd, on_simple_result, "failover_clear");
    d->ha.busy = NULL;
    if (!pg_is_running(&d->pg))
        start_as(d, NULL, true);
    else
        daemon_wakeup(d);
}

static void on_candidate_status(void *data, int status, int http_status, const char *body,
                                size_t len)
{
    struct daemon *d = data;
    (void)len;
    uint64_t rec = 0;
    json_t *j = (status == 0 && http_status == 200) ? json_loads(body, 0, NULL) : NULL;
    if (j) {
        json_t *x = json_object_get(j, "xlog");
        rec = (uint64_t)json_integer_value(json_object_get(x, "received_location"));
        uint64_t rep = (uint64_t)json_integer_value(json_object_get(x, "replayed_location"));
        if (rep > rec)
            rec = rep;
        json_decref(j);
    }
    if (rec > sw.target_lsn) {
        log_info("%s received the shutdown checkpoint (%llu > %llu): handing the leader lock over",
                 sw.candidate, (unsigned long long)rec, (unsigned long long)sw.target_lsn);
        switchover_step(d, true, "caught up");
        return;
    }
    if (now_ms() > sw.deadline_ms) {
        switchover_abort(d, "the candidate did not receive the shutdown checkpoint in time");
        return;
    }
    sw.stage = 4; /* ask again shortly */
    uv_timer_start(&sw.timer, on_sw_timer, 100, 0);
}

static void on_transfer(void *data, int status, const struct fsm_result *res)
{
    struct daemon *d = data;
    if (status != RNODE_OK || res->rc != FSM_OK) {
        switchover_abort(d, status == RNODE_OK ? res->msg : rnode_strerror(status));
        return;
    }
    log_info("handed the leader lock to %s: restarting as its standby", sw.candidate);
    lease_holder_lost(&d->ha.lease);
    d->ha.pg_was_primary = false;
    d->ha.busy = NULL;
    start_as(d, sw.candidate, false);
}

static void switchover_step(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok) {
        switchover_abort(d, msg);
        return;
    }
    switch (sw.stage++) {
    case 0:
        /* Never shut the primary down for a candidate that does not stream from it. */
        pg_sql_rows(&d->pg,
                    "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'",
                    switchover_step, d);
        return;
    case 1: {
        bool streaming = false;
        for (int r = 0; r < d->pg.rows_n; r++)
            streaming = streaming || !strcmp(d->pg.rows[r], sw.candidate);
        if (!streaming) {
            if (now_ms() > sw.deadline_ms) {
                switchover_abort(d, "the candidate is not streaming from this primary");
                return;
            }
            sw.stage = 0; /* look again shortly */
            uv_timer_start(&sw.timer, on_sw_timer, 200, 0);
            return;
        }
        pg_sql(&d->pg, "CHECKPOINT", switchover_step, d);
        return;
    }
    case 2:
        pg_stop(&d->pg, "fast", switchover_step, d);
        return;
    case 3:
        sw.target_lsn = 0;
        pg_read_control(&d->pg, switchover_step, d);
        return;
    case 4: {
        if (sw.target_lsn == 0) {
            /* The shutdown checkpoint is the last record the old primary wrote. */
            sw.target_lsn = d->pg.control.checkpoint_lsn;
            sw.deadline_ms = now_ms() + 10000;
        }
        const struct fsm_member *m = fsm_member_find(fsm_of(d), sw.candidate);
        int err = 0;
        if (!m || !httpc_request(d->loop, "GET", m->api_url, NULL, NULL, 0, 1000,
                                 on_candidate_status, d, &err)) {
            switchover_abort(d, "the candidate's REST API is unknown");
            return;
        }
        return;
    }
    case 5: {
        struct fsm_cmd cmd;
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = FSM_CMD_LOCK_TRANSFER;
        cmd.u.transfer.from = d->cfg->name;
        cmd.u.transfer.version = fsm_of(d)->lock.version;
        cmd.u.transfer.to = sw.candidate;
        cmd.u.transfer.ttl_ms = ttl_ms(d);
        if (rnode_propose(&d->rn, &cmd, on_transfer, d) != 0)
            switchover_abort(d, "the lock transfer could not be proposed");
        return;
    }
    }
}

/* The healthiest eligible replica: running, not nofailover, least lag, then name. */
static bool pick_candidate(struct daemon *d, char *out, size_t outlen)
{
    const struct fsm *f = fsm_of(d);
    const struct fsm_member *best = NULL;
    uint64_t best_pos = 0;
    for (uint32_t i = 0; i < f->n_members; i++) {
        const struct fsm_member *m = &f->members[i];
        struct pg_tags t;
        pg_tags_parse(m->tags, &t);
        if (!strcmp(m->name, d->cfg->name) || strcmp(m->state, "running") || t.nofailover ||
            t.failover_priority <= 0)
            continue;
        uint64_t pos = m->received_lsn > m->replayed_lsn ? m->received_lsn : m->replayed_lsn;
        if (!best || pos > best_pos) {
            best = m;
            best_pos = pos;
        }
    }
    if (!best)
        return false;
    snprintf(out, outlen, "%s", best->name);
    return true;
}

static bool maybe_switchover(struct daemon *d, const struct pg_status *st)
{
    const struct fsm *f = fsm_of(d);
    const struct fsm_failover *fo = &f->failover;
    if (!fo->pending || d->ha.busy || !holds_lock(d) || !st->lease_valid || !st->is_primary ||
        st->state != PGS_RUNNING)
        return false;
    if (fo->leader[0] && strcmp(fo->leader, d->cfg->name))
        return false;
    if (fo->scheduled_at && fo->scheduled_at > wall_ms())
        return false; /* scheduled for later: the next cycles look again */
    if (fo->candidate[0] && !strcmp(fo->candidate, d->cfg->name)) {
        struct fsm_cmd cmd;
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = FSM_CMD_FAILOVER_CLEAR;
        cmd.u.failover_clear.expected_version = fo->version;
        rnode_propose(&d->rn, &cmd, on_simple_result, "failover_clear");
        return false;
    }
    memset(&sw, 0, sizeof(sw) - sizeof(sw.timer) - sizeof(sw.timer_init));
    if (fo->candidate[0])
        snprintf(sw.candidate, sizeof(sw.candidate), "%s", fo->candidate);
    else if (!pick_candidate(d, sw.candidate, sizeof(sw.candidate))) {
        log_warning("switchover requested but no healthy candidate: cancelling the request");
        struct fsm_cmd cmd;
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = FSM_CMD_FAILOVER_CLEAR;
        cmd.u.failover_clear.expected_version = fo->version;
        rnode_propose(&d->rn, &cmd, on_simple_result, "failover_clear");
        return false;
    }
    if (!sw.timer_init) {
        uv_timer_init(d->loop, &sw.timer);
        sw.timer_init = true;
    }
    sw.timer.data = d;
    log_info("manual failover: demoting myself (%s) in favour of %s", d->cfg->name, sw.candidate);
    d->ha.busy = "switchover";
    sw.stage = 0;
    sw.deadline_ms = now_ms() + 10000; /* for the candidate to be streaming */
    switchover_step(d, true, "begin");
    return true;
}

/* ---- the primary's housekeeping: optime and replication slots ------------------------------- */

static void on_slots(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    d->ha.slots_inflight = false;
    if (!ok)
        log_warning("managing replication slots failed: %s", msg);
}

static void manage_slots(struct daemon *d)
{
    start_slots(d, on_slots);
}

/* Create the other members' physical slots and drop those of members that are gone.
 * Returns false (cb not called) when there is nothing to do. */
static bool start_slots(struct daemon *d, pg_done_cb cb)
{
    if (!d->dyn.use_slots)
        return false;
    const struct fsm *f = fsm_of(d);
    char list[4096] = "";
    for (uint32_t i = 0; i < f->n_members; i++) {
        if (!strcmp(f->members[i].name, d->cfg->name))
            continue;
        char slot[FSM_NAME_MAX + 1], lit[200];
        pg_slot_name(f->members[i].name, slot, sizeof(slot));
        pgq_quote_literal(slot, lit, sizeof(lit));
        if (strlen(list) + strlen(lit) + 2 < sizeof(list)) {
            if (list[0])
                strcat(list, ",");
            strcat(list, lit);
        }
    }
    if (!list[0] || d->ha.slots_inflight)
        return false;
    d->ha.slots_inflight = true;
    char sql[9000];
    snprintf(sql, sizeof(sql),
             "SELECT pg_create_physical_replication_slot(s) FROM unnest(ARRAY[%s]::name[]) s "
             "WHERE s NOT IN (SELECT slot_name FROM pg_replication_slots);"
             "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
             "WHERE slot_type = 'physical' AND NOT active AND slot_name <> ALL(ARRAY[%s]::name[]);",
             list, list);
    pg_sql(&d->pg, sql, cb, d);
    return true;
}

static void primary_housekeeping(struct daemon *d)
{
    uint64_t now = now_ms();
    if (!d->ha.lock_op_inflight && now - d->ha.last_lock_send_ms >= loop_wait_ms(d) / 2)
        lock_propose(d, LOCK_RENEW_OP, NULL);
    if (!pg_is_running(&d->pg) || !d->pg.st.is_primary || d->ha.busy)
        return;
    if (d->pg.st.write_lsn && d->pg.st.write_lsn != d->ha.last_optime) {
        struct fsm_cmd cmd;
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = FSM_CMD_OPTIME_SET;
        cmd.u.optime_set.name = d->cfg->name;
        cmd.u.optime_set.lsn = d->pg.st.write_lsn;
        if (rnode_propose(&d->rn, &cmd, on_simple_result, "optime") == 0)
            d->ha.last_optime = d->pg.st.write_lsn;
    }
    manage_slots(d);
    manage_sync(d);
}

static void on_check_stopped(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    finish_busy(d, "timeline check", ok, ok ? "postgres stopped" : msg);
}

/* ---- decide and act ---------------------------------------------------------------------------
 */

static void decide_and_act(struct daemon *d)
{
    const struct fsm *f = fsm_of(d);
    /* Decide only on a current view of the cluster: a member that has just (re)started
     * replays the log first; until then its state machine may look empty (no initialize
     * key, no lock) and any decision would be taken on a past that no longer holds. */
    if (!rnode_caught_up(&d->rn)) {
        /* Safety does not wait for the cluster: a primary whose lease ran out by its own
         * clock fences itself even (especially) when it cannot reach a Raft majority. */
        struct pg_status cur;
        ha_status(d, &cur);
        if (cur.state == PGS_RUNNING && cur.is_primary && !cur.lease_valid && !cur.paused &&
            d->ha.busy == NULL) {
            log_info("demoting self because the leader lock could not be renewed before the "
                     "lease ran out (no Raft majority reachable)");
            do_demote(d);
            return;
        }
        uint64_t now = now_ms();
        if (now - d->ha.last_reason_ms >= loop_wait_ms(d)) {
            log_info("waiting for the cluster state: no Raft leader known or log not applied "
                     "yet");
            d->ha.last_reason_ms = now;
        }
        return;
    }
    struct pg_status st;
    ha_status(d, &st);
    if (st.state == PGS_RUNNING)
        d->ha.pg_was_primary = st.is_primary;

    /* A daemon restarted while the state machine still names it the holder: renew once
     * (CAS on the current version) before deciding, or a healthy primary would demote
     * itself for lack of a lease it never measured. */
    /* The lock names us but we have no lease measured for its version: after a restart
     * of this daemon, or when a switchover handed the lock to us. Renew once (CAS on the
     * current version) before deciding, so the lease is measured from our own send. */
    if (holds_lock(d) && !st.lease_valid && d->ha.renewed_for_version != f->lock.version &&
        !d->ha.lock_op_inflight) {
        d->ha.renewed_for_version = f->lock.version;
        log_info("the leader lock names this member (version %llu): renewing it before deciding",
                 (unsigned long long)f->lock.version);
        lock_propose(d, LOCK_RENEW_OP, NULL);
        return;
    }

    if (holds_lock(d) && !st.lease_valid)
        log_debug("holder without a valid lease: %llu ms left, margin %llu ms, held %d",
                  (unsigned long long)lease_holder_remaining(&d->ha.lease, now_ms()),
                  (unsigned long long)ha_safety_margin_ms(d), d->ha.lease.held);

    /* Failed clone/rewind attempts are retried when the leader changes or after a pause. */
    if (strcmp(d->ha.last_leader, f->lock.holder) ||
        now_ms() - d->ha.failed_since_ms > loop_wait_ms(d)) {
        if (d->ha.rewind_failed || d->ha.clone_failed)
            log_info("retrying after the earlier failure");
        d->ha.rewind_failed = d->ha.clone_failed = false;
        d->ha.failed_since_ms = now_ms();
        snprintf(d->ha.last_leader, sizeof(d->ha.last_leader), "%s", f->lock.holder);
    }

    /* Nothing to fence once we neither hold the lock nor run a primary. */
    if (!holds_lock(d) && !(st.state == PGS_RUNNING && st.is_primary)) {
        fence_disarm(&d->fence);
        if (d->wd.active) {
            watchdog_disable(&d->wd);
            d->wd_logged = false;
            log_info("watchdog disabled: this member is no longer the primary");
        }
    }

    /* Peers are valid only for the lock-free period they were collected in. */
    if (f->lock.holder[0] || f->lock.version != d->ha.peers_lock_version) {
        d->ha.peers_collected = false;
        d->ha.race_wait_since_ms = 0;
    }
    /* Waiting for a peer whose PostgreSQL is starting is bounded: after that it counts as
     * not running (Patroni never waits). */
    uint64_t race_wait = 3 * (uint64_t)loop_wait_ms(d);
    if (race_wait < RACE_WAIT_MIN_MS)
        race_wait = RACE_WAIT_MIN_MS;
    if (d->ha.peers_collected && d->ha.race_wait_since_ms &&
        now_ms() - d->ha.race_wait_since_ms > race_wait)
        for (size_t i = 0; i < d->ha.n_peers; i++)
            d->ha.peers[i].starting = false;

    struct ha_input in;
    memset(&in, 0, sizeof(in));
    in.self = d->cfg->name;
    in.ttl_ms = ttl_ms(d);
    in.loop_wait_ms = loop_wait_ms(d);
    in.maximum_lag_on_failover = (uint64_t)d->dyn.maximum_lag_on_failover;
    in.use_pg_rewind = d->dyn.use_pg_rewind;
    in.remove_data_directory_on_rewind_failure =
        d->cfg->postgresql.remove_data_directory_on_rewind_failure;
    in.remove_data_directory_on_diverged_timelines =
        d->cfg->postgresql.remove_data_directory_on_diverged_timelines;
    in.initialize = f->initialize;
    in.lock_holder = f->lock.holder;
    const struct fsm_member *lm = f->lock.holder[0] ? fsm_member_find(f, f->lock.holder) : NULL;
    in.leader_timeline = lm ? lm->timeline : 0;
    in.leader_optime = f->optime_lsn;
    for (uint32_t i = 0; i < f->n_history; i++)
        if (f->history[i].timeline == st.timeline)
            in.my_timeline_switch_lsn = f->history[i].lsn;
    in.last_leader = f->lock.last_holder;
    in.clonefrom = "";
    for (uint32_t i = 0; i < f->n_members; i++) {
        struct pg_tags t;
        pg_tags_parse(f->members[i].tags, &t);
        if (t.clonefrom && strcmp(f->members[i].name, d->cfg->name) &&
            !strcmp(f->members[i].state, "running")) {
            in.clonefrom = f->members[i].name;
            break;
        }
    }
    /* A standby's timeline is known for sure only while it streams (received_tli); the
     * checkpoint's timeline can lag behind a promotion and would look like divergence. */
    struct pg_status dst = st;
    if (dst.state == PGS_RUNNING && dst.in_recovery && !dst.streaming)
        dst.timeline = 0;
    /* A standby that streams from the leader cannot have diverged from it (it may even be
     * on a newer timeline than the leader's registry record says, right after a promote). */
    if (dst.state == PGS_RUNNING && dst.in_recovery && dst.streaming &&
        !strcmp(dst.following, f->lock.holder))
        dst.timeline = 0;
    /* The leader's timeline: its registry record, or newer if the history says so. */
    for (uint32_t i = 0; i < f->n_history; i++)
        if (!strcmp(f->history[i].new_leader, f->lock.holder) &&
            f->history[i].timeline + 1 > in.leader_timeline)
            in.leader_timeline = f->history[i].timeline + 1;
    in.pg = &dst;
    in.pg_was_primary = d->ha.pg_was_primary;
    in.watchdog_ok = watchdog_usable(&d->wd, watchdog_timeout_s(d));
    in.peers_collected = d->ha.peers_collected;
    in.peers = d->ha.peers;
    in.n_peers = d->ha.n_peers;
    in.busy = d->ha.busy;
    in.bootstrap_failed = d->ha.bootstrap_failed;
    in.rewind_failed = d->ha.rewind_failed;
    in.clone_failed = d->ha.clone_failed;

    /* A failover request naming a candidate while the lock is free (POST /failover with no
     * leader): only that candidate may take the lock; it need not ask the peers. */
    if (!f->lock.holder[0] && f->failover.pending && f->failover.candidate[0]) {
        if (!strcmp(f->failover.candidate, d->cfg->name)) {
            in.peers_collected = true;
            in.n_peers = 0;
        } else {
            dst.tags.nofailover = true;
        }
    }
    /* synchronous_mode: only a recorded synchronous standby may become the primary, and only
     * the recorded ones count in the race (design.md section 4). */
    if (d->dyn.synchronous_mode && !f->lock.holder[0] && f->sync.leader[0]) {
        /* The key's leader (the primary that recorded it) holds every commit it
         * acknowledged: it may take the lock back too (Patroni's sync.matches()). */
        if (!name_in(d->cfg->name, f->sync.names, f->sync.n_names) &&
            strcmp(d->cfg->name, f->sync.leader))
            dst.tags.nofailover = true;
        for (size_t i = 0; i < d->ha.n_peers; i++)
            if (!name_in(d->ha.peers[i].name, f->sync.names, f->sync.n_names) &&
                strcmp(d->ha.peers[i].name, f->sync.leader))
                d->ha.peers[i].tags.nofailover = true;
    }
    if (maybe_switchover(d, &st))
        return;
    /* A standby that cannot stream from the leader for long may have diverged (e.g. a
     * demoted old primary whose WAL went past the switch point): while it runs, its
     * timeline is not known for sure. Stop it; the next cycle reads pg_controldata and
     * decides precisely (rewind, or start again as a standby). */
    /* Streaming counts only while it makes progress: a standby whose WAL diverged connects,
     * shows "streaming" for a moment, and fails again every wal_retrieve_retry_interval. */
    bool progressing = st.streaming && (st.receive_lsn > d->ha.last_receive_lsn ||
                                        st.receive_lsn >= f->optime_lsn);
    d->ha.last_receive_lsn = st.receive_lsn;
    if (st.state == PGS_RUNNING && st.in_recovery && !progressing && f->lock.holder[0] &&
        strcmp(f->lock.holder, d->cfg->name) && !d->ha.busy) {
        /* Only while the leader renews its lock: a dead leader is not streamed from
         * either, and its lease runs out soon; a restart then would only slow a failover. */
        if (!d->ha.not_streaming_since_ms || d->ha.not_streaming_lock != f->lock.version) {
            if (!d->ha.not_streaming_since_ms)
                d->ha.not_streaming_since_ms = now_ms();
            if (d->ha.not_streaming_lock != f->lock.version)
                d->ha.not_streaming_renews++;
            d->ha.not_streaming_lock = f->lock.version;
        }
        if (now_ms() - d->ha.not_streaming_since_ms > NOT_STREAMING_MS &&
            d->ha.not_streaming_renews > 2) {
            log_warning("not streaming from the leader (%s) for %llu s: stopping postgres to "
                        "check its timeline against the leader's",
                        f->lock.holder,
                        (unsigned long long)(now_ms() - d->ha.not_streaming_since_ms) / 1000);
            d->ha.not_streaming_since_ms = 0;
            d->ha.not_streaming_renews = 0;
            d->ha.busy = "timeline check";
            pg_stop(&d->pg, "fast", on_check_stopped, d);
            return;
        }
    } else {
        d->ha.not_streaming_since_ms = 0;
        d->ha.not_streaming_renews = 0;
    }
    if (d->ha.restart_scheduled && d->ha.restart_req.schedule_ms <= wall_ms() && !d->ha.busy) {
        d->ha.restart_scheduled = false;
        char err[200];
        if (!control_restart_matches(&d->ha.restart_req, pg_role_name(&st), st.pending_restart,
                                     st.server_version))
            log_info("scheduled restart skipped: its conditions are not satisfied");
        else if (ha_restart(d, NULL, NULL, err, sizeof(err)) != 0)
            log_warning("scheduled restart not done: %s", err);
        else
            return;
    }

    struct ha_decision dec;
    ha_decide(&in, &dec);
    /* One line per decision; the same decision again within loop_wait (event-driven
     * cycles) is not repeated. */
    uint64_t now = now_ms();
    if (strcmp(dec.reason, d->ha.last_reason) || now - d->ha.last_reason_ms >= loop_wait_ms(d)) {
        log_info("%s", dec.reason);
        d->ha.last_reason_ms = now;
    }
    snprintf(d->ha.last_reason, sizeof(d->ha.last_reason), "%s", dec.reason);

    /* The holder keeps its lease while it works (bootstrap, restart), whatever the
     * action, unless the action gives the lock up. */
    if (holds_lock(d) && st.lease_valid && dec.action != HA_DEMOTE && dec.action != HA_RELEASE &&
        dec.action != HA_RENEW) {
        if (!d->ha.lock_op_inflight && now - d->ha.last_lock_send_ms >= loop_wait_ms(d) / 2)
            lock_propose(d, LOCK_RENEW_OP, NULL);
    }

    switch (dec.action) {
    case HA_NONE:
    case HA_WAIT:
        break;
    case HA_ACQUIRE_BOOTSTRAP:
        if (now_ms() < d->ha.bootstrap_retry_ms)
            break; /* a failed bootstrap is retried after loop_wait, not in a tight loop */
        lock_propose(d, LOCK_ACQUIRE_OP, NULL);
        break;
    case HA_ACQUIRE:
        lock_propose(d, LOCK_ACQUIRE_OP, NULL);
        break;
    case HA_BOOTSTRAP:
        do_bootstrap(d);
        break;
    case HA_RELEASE:
        if (holds_lock(d))
            lock_propose(d, LOCK_RELEASE_OP, NULL);
        d->ha.bootstrap_failed = false;
        break;
    case HA_CLONE:
        do_clone(d, dec.target);
        break;
    case HA_START_REPLICA:
        start_as(d, dec.target, false);
        break;
    case HA_FOLLOW: {
        struct pg_source src;
        if (source_of(d, dec.target, &src)) {
            d->ha.busy = "follow";
            pg_follow(&d->pg, &src, on_followed, d);
        }
        break;
    }
    case HA_COLLECT_PEERS:
        if (d->ha.peers_collected) {
            /* A peer is starting: ask again at the next cycle, not in a tight loop. */
            if (!d->ha.race_wait_since_ms)
                d->ha.race_wait_since_ms = now_ms();
            d->ha.peers_collected = false;
        } else {
            collect_peers(d);
        }
        break;
    case HA_PROMOTE:
        do_promote(d);
        break;
    case HA_RENEW:
        primary_housekeeping(d);
        break;
    case HA_START_PRIMARY:
        start_as(d, NULL, true);
        break;
    case HA_DEMOTE:
        if (d->ha.busy) {
            /* Safety first: whatever was in progress, the primary stops now. */
            log_warning("demoting while %s is in progress: stopping postgres immediately",
                        d->ha.busy);
            lease_holder_lost(&d->ha.lease);
            pg_stop(&d->pg, "immediate", NULL, NULL);
            break;
        }
        do_demote(d);
        break;
    case HA_REWIND:
        do_rewind(d, dec.target);
        break;
    case HA_REINITIALIZE:
        do_reinitialize(d, dec.target);
        break;
    }
}

/* ---- observation ------------------------------------------------------------------------------
 */

static void cycle_done(struct daemon *d)
{
    d->ha.in_cycle = false;
    if (d->stopping)
        return;
    decide_and_act(d);
    daemon_register(d);
    if (d->cycle_again) {
        d->cycle_again = false;
        daemon_wakeup(d);
    }
}

static void on_observed_status(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok)
        log_debug("postgres status: %s", msg);
    cycle_done(d);
}

static void on_observed_control(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    struct pg_status *st = &d->pg.st;
    if (ok) {
        const struct pg_control *c = &d->pg.control;
        snprintf(st->sysid, sizeof(st->sysid), "%s", c->sysid);
        st->timeline = c->timeline;
        st->write_lsn = c->checkpoint_lsn;
        st->receive_lsn = st->replay_lsn = 0;
        /* "in production" means it was a primary and did not shut down cleanly; its WAL
         * may go past the last checkpoint: count it as ahead of anything. */
        d->ha.pg_was_primary = !strcmp(c->state, "in production") || !strcmp(c->state, "shut down");
        if (!strcmp(c->state, "in production"))
            st->write_lsn = UINT64_MAX - 1;
        if (!d->ha.pg_was_primary && c->min_recovery_lsn) {
            /* A standby shut down in recovery: where its replay got to. */
            st->write_lsn = c->min_recovery_lsn;
            if (c->min_recovery_tli)
                st->timeline = c->min_recovery_tli;
        }
    } else {
        log_warning("pg_controldata: %s", msg);
    }
    cycle_done(d);
}

void ha_cycle(struct daemon *d)
{
    if (d->stopping)
        return;
    if (d->ha.in_cycle) {
        d->cycle_again = true; /* one more cycle when this one ends */
        return;
    }
    d->ha.in_cycle = true;
    if (d->ha.busy && !pg_is_running(&d->pg)) {
        cycle_done(d);
        return;
    }
    if (pg_is_running(&d->pg)) {
        pg_query_status(&d->pg, on_observed_status, d);
    } else if (pg_data_exists(&d->pg)) {
        if (d->pg.st.state != PGS_START_FAILED)
            d->pg.st.state = d->pg.crashed ? PGS_CRASHED : PGS_STOPPED;
        pg_read_control(&d->pg, on_observed_control, d);
    } else {
        d->pg.st.state = PGS_STOPPED;
        cycle_done(d);
    }
}

static void on_pg_event(void *data)
{
    daemon_wakeup(data);
}

int ha_init(struct daemon *d, char *err, size_t errlen)
{
    lease_holder_init(&d->ha.lease);
    uv_timer_init(d->loop, &d->ha.lease_timer);
    d->ha.lease_timer.data = d;
    d->pg.on_event = on_pg_event;
    d->pg.event_data = d;
    (void)err;
    (void)errlen;
    return 0;
}

/* ---- operator requests (REST): restart, reinitialize ----------------------------------------- */

static pg_done_cb op_cb;
static void *op_data;

static void on_op_started(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    d->ha.busy = NULL;
    if (op_cb)
        op_cb(op_data, ok, ok ? "restarted successfully" : msg);
    op_cb = NULL;
    daemon_wakeup(d);
}

static void on_op_stopped(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok) {
        d->ha.busy = NULL;
        if (op_cb)
            op_cb(op_data, false, msg);
        op_cb = NULL;
        return;
    }
    const char *holder = fsm_of(d)->lock.holder;
    if (holds_lock(d) && d->ha.pg_was_primary) {
        pg_start(&d->pg, NULL, on_op_started, d);
        return;
    }
    struct pg_source src;
    memset(&src, 0, sizeof(src));
    if (holder[0] && strcmp(holder, d->cfg->name))
        source_of(d, holder, &src);
    pg_start(&d->pg, &src, on_op_started, d);
}

int ha_restart(struct daemon *d, pg_done_cb cb, void *data, char *err, size_t errlen)
{
    if (d->ha.busy) {
        snprintf(err, errlen, "%s in progress", d->ha.busy);
        return -1;
    }
    if (!pg_is_running(&d->pg)) {
        snprintf(err, errlen, "postgres is not running");
        return -1;
    }
    d->ha.busy = "restart";
    op_cb = cb;
    op_data = data;
    log_info("restarting postgres (operator request)");
    pg_stop(&d->pg, "fast", on_op_stopped, d);
    return 0;
}

static void on_reinit_stop(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    char err[300];
    if (!ok || pg_remove_data(&d->pg, err, sizeof(err)) != 0) {
        finish_busy(d, "reinitialize", false, ok ? err : msg);
        return;
    }
    d->ha.busy = NULL;
    d->ha.clone_failed = false;
    d->pg.st.state = PGS_STOPPED;
    daemon_wakeup(d); /* no data: the next cycle clones from the leader */
}

int ha_reinitialize(struct daemon *d, bool force, char *err, size_t errlen)
{
    if (holds_lock(d)) {
        snprintf(err, errlen, "I am the leader, can not reinitialize");
        return -1;
    }
    if (d->ha.busy && !force) {
        snprintf(err, errlen, "%s in progress", d->ha.busy);
        return -1;
    }
    if (!fsm_of(d)->lock.holder[0]) {
        snprintf(err, errlen, "no leader to clone from");
        return -1;
    }
    d->ha.busy = "reinitialize";
    log_info("reinitializing: removing the data directory and cloning from the leader");
    pg_stop(&d->pg, "immediate", on_reinit_stop, d);
    return 0;
}

/* ---- graceful shutdown
 * ---------------------------------------------------------------------------- */

static void (*shutdown_done)(struct daemon *d);
static uv_timer_t shutdown_timer;

static void on_shutdown_timer(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
    shutdown_done(t->data);
}

/* Continue the shutdown from the loop, never from inside a raft callback: raft_close()
 * called from within raft's apply callback corrupts its state. */
static void after_release(struct daemon *d)
{
    uv_timer_init(d->loop, &shutdown_timer);
    shutdown_timer.data = d;
    uv_timer_start(&shutdown_timer, on_shutdown_timer, 0, 0);
}

static void on_shutdown_stopped(void *data, bool ok, const char *msg)
{
    struct daemon *d = data;
    if (!ok)
        log_warning("stopping postgres: %s", msg);
    if (holds_lock(d)) {
        /* Hand the lock back at once so a replica takes over without waiting for ttl. */
        lock_propose(d, LOCK_RELEASE_OP, after_release);
        return;
    }
    shutdown_done(d);
}

void ha_shutdown(struct daemon *d, void (*done)(struct daemon *d))
{
    /* A clean stop: PostgreSQL is stopped below, nothing is left to fence. */
    fence_stop(&d->fence);
    watchdog_disable(&d->wd);
    shutdown_done = done;
    if (!uv_is_closing((uv_handle_t *)&d->ha.lease_timer))
        uv_close((uv_handle_t *)&d->ha.lease_timer, NULL);
    if (!d->ha.enabled) {
        done(d);
        return;
    }
    pg_stop(&d->pg, "fast", on_shutdown_stopped, d);
}
