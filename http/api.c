/* api: the REST API (see api.h). One h2o handler at "/" routes by exact path, so that
 * an unknown path is a JSON 404 and a known path with the wrong method a JSON 405. */
#include "http/api.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <string.h>

#include "http/control.h"
#include "http/health.h"
#include "src/config.h"
#include "src/daemon.h"
#include "src/dyncfg.h"
#include "src/hacycle.h"
#include "src/pg.h"
#include "src/log.h"
#include "src/rnode.h"

enum {
    M_GET = 1,
    M_HEAD = 2,
    M_OPTIONS = 4,
    M_POST = 8,
    M_PUT = 16,
    M_PATCH = 32,
    M_DELETE = 64,
    M_READ = M_GET | M_HEAD | M_OPTIONS, /* health checks answer all three */
};

typedef int (*route_fn)(struct api *a, h2o_req_t *req);

struct route {
    const char *path;
    int methods;
    route_fn fn;
};

struct api_handler {
    h2o_handler_t super;
    struct api *api;
};

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

/* Send BODY (a JSON value, reference stolen) with STATUS. */
static int send_json(h2o_req_t *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!s) {
        s = strdup("{\"message\":\"out of memory\"}");
        status = 500;
    }
    size_t len = strlen(s);
    char *copy = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(copy, s, len + 1);
    free(s);
    req->res.status = status;
    req->res.reason = reason_of(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    req->res.content_length = len;
    h2o_send_inline(req, copy, len);
    return 0;
}

static int send_message(h2o_req_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int send_message(h2o_req_t *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return send_json(req, status, json_pack("{s:s}", "message", msg));
}

/* ---- read-only endpoints ----------------------------------------------------------- */

static json_t *lock_json(struct api *a)
{
    struct rnode *rn = &a->d->rn;
    const struct fsm *f = &rn->fsm;
    if (!f->lock.holder[0])
        return json_null();
    uint64_t now = rnode_now_ms();
    /* As timed by this member's own observation of the last renew: on the Raft leader
     * that is when expiry will be proposed; elsewhere it is an estimate. */
    uint64_t deadline = rn->watch.since_ms + rn->watch.ttl_ms;
    double remaining = deadline > now ? (double)(deadline - now) / 1000.0 : 0.0;
    return json_pack("{s:s, s:I, s:f, s:f}", "holder", f->lock.holder, "version",
                     (json_int_t)f->lock.version, "ttl", (double)f->lock.ttl_ms / 1000.0,
                     "lease_remaining", remaining);
}

/* PostgreSQL fields of a member, in Patroni's /cluster words. */
static void member_pg_json(const struct fsm *f, const struct fsm_member *m, json_t *j)
{
    if (!m || !m->conn_url[0])
        return;
    struct pg_source src;
    if (pg_source_from_url(m->name, m->conn_url, &src) == 0) {
        json_object_set_new(j, "host", json_string(src.host));
        json_object_set_new(j, "port", json_integer(src.port));
    }
    bool leader = !strcmp(f->lock.holder, m->name);
    bool sync = false;
    for (uint32_t i = 0; i < f->sync.n_names; i++)
        if (!strcmp(f->sync.names[i], m->name) && !strcmp(f->sync.leader, f->lock.holder))
            sync = true;
    const char *role = leader                              ? "leader"
                       : !strcmp(m->role, "uninitialized") ? "uninitialized"
                       : sync                              ? "sync_standby"
                                                           : "replica";
    json_object_set_new(j, "role", json_string(role));
    json_object_set_new(j, "state", json_string(m->state));
    if (m->timeline)
        json_object_set_new(j, "timeline", json_integer(m->timeline));
    if (!leader && !strcmp(m->state, "running")) {
        uint64_t pos = m->received_lsn > m->replayed_lsn ? m->received_lsn : m->replayed_lsn;
        if (f->optime_lsn)
            json_object_set_new(
                j, "lag",
                json_integer(f->optime_lsn > pos ? (json_int_t)(f->optime_lsn - pos) : 0));
        else
            json_object_set_new(j, "lag", json_string("unknown"));
    }
    json_t *tags = m->tags[0] ? json_loads(m->tags, 0, NULL) : NULL;
    if (tags && json_object_size(tags))
        json_object_set_new(j, "tags", tags);
    else
        json_decref(tags);
}

static json_t *cluster_json(struct api *a)
{
    struct rnode *rn = &a->d->rn;
    const struct fsm *f = &rn->fsm;
    json_t *members = json_array();
    const struct raft_configuration *c = &rn->raft.configuration;
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        const struct fsm_member *m = fsm_member_by_raft_id(f, s->id);
        json_t *j = json_pack("{s:s?, s:I, s:s, s:s, s:s?}", "name", m ? m->name : NULL, "raft_id",
                              (json_int_t)s->id, "raft_address", s->address, "raft_role",
                              rnode_member_role(rn, s->id), "api_url",
                              m && m->api_url[0] ? m->api_url : NULL);
        member_pg_json(f, m, j);
        json_array_append_new(members, j);
    }
    raft_id lid = 0;
    const char *laddr = NULL;
    rnode_leader(rn, &lid, &laddr);
    json_t *leader = json_null();
    if (lid) {
        const struct fsm_member *m = fsm_member_by_raft_id(f, lid);
        leader = json_pack("{s:s?, s:I, s:s?}", "name", m ? m->name : NULL, "raft_id",
                           (json_int_t)lid, "raft_address", laddr);
    }
    json_t *out = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:b}", "scope", a->d->cfg->scope, "member",
        a->d->cfg->name, "members", members, "raft_leader", leader, "leader_lock", lock_json(a),
        "term", (json_int_t)rnode_term(rn), "commit_index", (json_int_t)rnode_commit_index(rn),
        "last_applied", (json_int_t)rnode_last_applied(rn), "revision", (json_int_t)f->revision,
        "pause", f->pause);
    if (f->initialize[0])
        json_object_set_new(out, "system_identifier", json_string(f->initialize));
    if (f->failover.pending && f->failover.scheduled_at) {
        time_t secs = (time_t)(f->failover.scheduled_at / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char at[64];
        strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
        json_object_set_new(out, "scheduled_switchover",
                            json_pack("{s:s, s:s, s:s}", "at", at, "from", f->failover.leader, "to",
                                      f->failover.candidate));
    }
    return out;
}

/* GET /history: Patroni's list of [timeline, lsn, reason, timestamp, new_leader]. */
static int h_history(struct api *a, h2o_req_t *req)
{
    const struct fsm *f = &a->d->rn.fsm;
    json_t *out = json_array();
    for (uint32_t i = 0; i < f->n_history; i++) {
        const struct fsm_history *h = &f->history[i];
        time_t secs = (time_t)(h->time / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char ts[64];
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03d+00:00", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(h->time % 1000));
        json_array_append_new(out, json_pack("[I, I, s, s, s]", (json_int_t)h->timeline,
                                             (json_int_t)h->lsn, h->reason, ts, h->new_leader));
    }
    return send_json(req, 200, out);
}

static int h_cluster(struct api *a, h2o_req_t *req)
{
    return send_json(req, 200, cluster_json(a));
}

static int h_liveness(struct api *a, h2o_req_t *req)
{
    /* Patroni: 200 while the HA loop is running; 503 when it has not completed a cycle
     * within ttl (the loop is stuck). */
    uint64_t now = rnode_now_ms();
    uint64_t ttl_ms = (uint64_t)a->d->dyn.ttl * 1000u;
    if (a->d->last_cycle_ms && now - a->d->last_cycle_ms > ttl_ms)
        return send_message(req, 503, "the HA loop has not run for %llu ms",
                            (unsigned long long)(now - a->d->last_cycle_ms));
    return send_json(req, 200, json_object());
}

static int h_health(struct api *a, h2o_req_t *req)
{
    struct rnode *rn = &a->d->rn;
    const char *role = rnode_role(rn);
    int unavailable = strcmp(role, "unavailable") == 0;
    json_t *j = json_pack("{s:s, s:s, s:{s:s, s:I}}", "state",
                          unavailable ? "RAFT_UNAVAILABLE" : "running", "name", a->d->cfg->name,
                          "raft", "role", role, "term", (json_int_t)rnode_term(rn));
    return send_json(req, unavailable ? 503 : 200, j);
}

/* ---- authentication ------------------------------------------------------------------ */

static int const_time_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    return diff == 0;
}

/* Member-to-member calls: with raft.password, the X-Raftgres-Token header must carry it;
 * without, the caller must connect from the host of one of raft.partner_addrs. */
static int peer_allowed(struct api *a, h2o_req_t *req, char *why, size_t whylen)
{
    const struct cfg *cfg = a->d->cfg;
    if (cfg->raft.password && cfg->raft.password[0]) {
        ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-raftgres-token"), -1);
        if (i < 0) {
            snprintf(why, whylen, "missing X-Raftgres-Token (raft.password is set)");
            return 0;
        }
        h2o_iovec_t v = req->headers.entries[i].value;
        if (!const_time_eq(v.base, v.len, cfg->raft.password, strlen(cfg->raft.password))) {
            snprintf(why, whylen, "wrong X-Raftgres-Token");
            return 0;
        }
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    char ip[INET6_ADDRSTRLEN] = "";
    if (sl && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
    else if (sl && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
    for (size_t i = 0; i < cfg->raft.n_partner_addrs; i++) {
        char host[256];
        int port;
        if (cfg_parse_hostport(cfg->raft.partner_addrs[i], host, sizeof(host), &port) == 0 &&
            strcmp(host, ip) == 0)
            return 1;
    }
    snprintf(why, whylen,
             "%s is not the host of any raft.partner_addrs (set raft.password to "
             "authenticate members by a shared secret instead)",
             ip);
    return 0;
}

/* ---- proposals forwarded by other members --------------------------------------------- */

/* An answer that comes later (after a Raft commit) must survive the client going away:
 * h2o frees the request when the client disconnects. A link object in the request's pool
 * clears the pending answer's pointer in its dispose hook, and the completion clears the
 * link before it answers, so neither side is left pointing at freed memory
 * (libnotes.md). The callback is never called before the call that started it returns. */
struct deferred;
struct deferred_link {
    struct deferred *def;
};
struct deferred {
    h2o_req_t *req;
    struct deferred_link *link;
};

static void deferred_link_dispose(void *p)
{
    struct deferred_link *l = p;
    if (l->def) {
        l->def->req = NULL;
        l->def->link = NULL;
        l->def = NULL;
    }
}

static struct deferred *deferred_new(h2o_req_t *req)
{
    struct deferred *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->req = req;
    d->link = h2o_mem_alloc_shared(&req->pool, sizeof(*d->link), deferred_link_dispose);
    d->link->def = d;
    return d;
}

/* Unlink and free D; returns the request to answer, or NULL if the client is gone. */
static h2o_req_t *deferred_take(struct deferred *d)
{
    h2o_req_t *req = d->req;
    if (d->link)
        d->link->def = NULL;
    free(d);
    return req;
}

static void on_proposal_done(void *data, int status, const struct fsm_result *res)
{
    h2o_req_t *req = deferred_take(data);
    if (!req)
        return; /* the member that asked has gone; it will retry */
    if (status != RNODE_OK) {
        send_message(req, 503, "not applied: %s", rnode_strerror(status));
        return;
    }
    send_json(req, 200,
              json_pack("{s:i, s:s, s:I, s:I, s:s}", "rc", res->rc, "result", fsm_strerror(res->rc),
                        "version", (json_int_t)res->version, "revision", (json_int_t)res->revision,
                        "message", res->msg));
}

static int h_propose(struct api *a, h2o_req_t *req)
{
    char why[300];
    if (!peer_allowed(a, req, why, sizeof(why)))
        return send_message(req, 403, "proposal refused: %s", why);
    if (!req->entity.base || req->entity.len == 0)
        return send_message(req, 400, "empty body: expected one encoded state-machine entry");
    struct rnode *rn = &a->d->rn;
    if (!rnode_is_leader(rn)) {
        raft_id lid = 0;
        const char *laddr = NULL;
        rnode_leader(rn, &lid, &laddr);
        return send_json(req, 503,
                         json_pack("{s:s, s:s?}", "message", "this member is not the Raft leader",
                                   "raft_leader", laddr));
    }
    struct fsm_cmd cmd;
    char err[160];
    if (req->entity.len % 8 != 0)
        return send_message(req, 400, "malformed entry: length %zu is not a multiple of 8",
                            req->entity.len);
    if (fsm_cmd_decode(req->entity.base, req->entity.len, &cmd, err, sizeof(err)) != FSM_OK)
        return send_message(req, 400, "malformed entry: %s", err);
    struct deferred *def = deferred_new(req);
    if (!def)
        return send_message(req, 503, "out of memory");
    int rc = rnode_apply_local(rn, req->entity.base, req->entity.len, on_proposal_done, def);
    if (rc != 0) {
        deferred_take(def);
        return send_message(req, rc == RNODE_EINVALID ? 400 : 503, "not applied: %s",
                            rnode_strerror(rc));
    }
    return 0;
}

/* ---- membership ------------------------------------------------------------------------ */

static void on_member_added(void *data, int status, const char *msg)
{
    h2o_req_t *req = deferred_take(data);
    if (!req)
        return;
    send_message(req, status == 0 ? 200 : 503, "%s", msg);
}

static int h_members(struct api *a, h2o_req_t *req)
{
    char why[300];
    if (!peer_allowed(a, req, why, sizeof(why)))
        return send_message(req, 403, "refused: %s", why);
    json_error_t je;
    json_t *body = json_loadb(req->entity.base ? req->entity.base : "", req->entity.len, 0, &je);
    if (!body || !json_is_object(body)) {
        json_decref(body);
        return send_message(req, 400, "body must be a JSON object {\"raft_addr\": \"host:port\"}");
    }
    const char *addr = json_string_value(json_object_get(body, "raft_addr"));
    char host[256];
    int port;
    if (!addr || cfg_parse_hostport(addr, host, sizeof(host), &port) != 0) {
        json_decref(body);
        return send_message(req, 400, "raft_addr must be a string host:port");
    }
    if (!rnode_is_leader(&a->d->rn)) {
        json_decref(body);
        raft_id lid = 0;
        const char *laddr = NULL;
        rnode_leader(&a->d->rn, &lid, &laddr);
        return send_json(req, 503,
                         json_pack("{s:s, s:s?}", "message", "this member is not the Raft leader",
                                   "raft_leader", laddr));
    }
    struct deferred *def = deferred_new(req);
    int rc = def ? rnode_add_voter(&a->d->rn, addr, on_member_added, def) : RAFT_NOMEM;
    json_decref(body);
    if (rc != 0) {
        if (def)
            deferred_take(def);
        return send_message(req, 503, "cannot add member: %s", raft_strerror(rc));
    }
    return 0;
}

/* ---- control endpoints (switchover, failover, config, restart, ...) ------------------------ */

static json_t *body_json(h2o_req_t *req)
{
    return json_loadb(req->entity.base ? req->entity.base : "", req->entity.len, 0, NULL);
}

static int64_t wall_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The cluster as control_check_switchover() sees it. */
struct view_buf {
    struct control_member m[FSM_MAX_MEMBERS];
    const char *sync[FSM_MAX_SYNC];
    struct control_view v;
};

static void build_view(struct api *a, struct view_buf *b)
{
    const struct fsm *f = &a->d->rn.fsm;
    memset(b, 0, sizeof(*b));
    for (uint32_t i = 0; i < f->n_members && i < FSM_MAX_MEMBERS; i++) {
        const struct fsm_member *m = &f->members[i];
        struct pg_tags t;
        pg_tags_parse(m->tags, &t);
        struct control_member *c = &b->m[b->v.n_members++];
        c->name = m->name;
        c->running = !strcmp(m->state, "running");
        c->is_leader = !strcmp(f->lock.holder, m->name);
        c->streaming = c->running && !c->is_leader;
        c->nofailover = t.nofailover || t.failover_priority <= 0;
        uint64_t pos = m->received_lsn > m->replayed_lsn ? m->received_lsn : m->replayed_lsn;
        c->lag = c->is_leader    ? 0
                 : f->optime_lsn ? (int64_t)(f->optime_lsn > pos ? f->optime_lsn - pos : 0)
                                 : -1;
    }
    b->v.leader = f->lock.holder;
    b->v.members = b->m;
    b->v.maximum_lag_on_failover = a->d->dyn.maximum_lag_on_failover;
    b->v.paused = f->pause;
    b->v.synchronous_mode = a->d->dyn.synchronous_mode;
    /* The synchronous standbys the current primary recorded (Patroni's sync key). */
    if (f->sync.leader[0] && !strcmp(f->sync.leader, f->lock.holder))
        for (uint32_t i = 0; i < f->sync.n_names && i < FSM_MAX_SYNC; i++)
            b->sync[b->v.n_sync++] = f->sync.names[i];
    b->v.sync_standbys = b->sync;
}

/* A switchover/failover "now" is answered when it is over: the lock holder changed to the
 * candidate and the request is cleared (200), or the request is gone with the old holder
 * still in place (503), or after a deadline (503, status unknown). */
struct sw_wait {
    struct deferred *def;
    struct api *a;
    uv_timer_t timer;
    char old_leader[FSM_NAME_MAX + 1];
    char candidate[FSM_NAME_MAX + 1];
    uint64_t deadline;
    bool seen_request;
    bool failover;
};

static void sw_wait_free(uv_handle_t *h)
{
    free(h->data);
}

static void sw_wait_poll(uv_timer_t *t)
{
    struct sw_wait *w = t->data;
    const struct fsm *f = &w->a->d->rn.fsm;
    const char *holder = f->lock.holder;
    int status = 0;
    char msg[300];
    bool done_holder = holder[0] && strcmp(holder, w->old_leader) &&
                       (!w->candidate[0] || !strcmp(holder, w->candidate));
    const struct fsm_member *hm = done_holder ? fsm_member_find(f, holder) : NULL;
    if (done_holder && !f->failover.pending && hm && !strcmp(hm->role, "master")) {
        status = 200;
        snprintf(msg, sizeof(msg), "Successfully %s over to \"%s\"",
                 w->failover ? "failed" : "switched", holder);
    } else if (f->failover.pending) {
        w->seen_request = true;
    } else if (w->seen_request && !done_holder) {
        status = 503;
        snprintf(msg, sizeof(msg), "%s failed", w->failover ? "Failover" : "Switchover");
    }
    if (!status && rnode_now_ms() > w->deadline) {
        status = 503;
        snprintf(msg, sizeof(msg), "%s status unknown", w->failover ? "Failover" : "Switchover");
    }
    if (!status) {
        uv_timer_start(&w->timer, sw_wait_poll, 100, 0);
        return;
    }
    h2o_req_t *req = deferred_take(w->def);
    if (req)
        send_message(req, status, "%s", msg);
    uv_close((uv_handle_t *)&w->timer, sw_wait_free);
}

struct propose_answer {
    struct deferred *def;
    struct api *a;
    uv_timer_t timer; /* read-your-writes: wait until this member applied the entry */
    uint64_t revision;
    uint64_t deadline;
    int status;
    struct fsm_result res;
    int ok_status;
    char ok_msg[300];
    bool failover;
    bool wait;
    char old_leader[FSM_NAME_MAX + 1];
    char candidate[FSM_NAME_MAX + 1];
};

static void propose_answer_free(uv_handle_t *h)
{
    free(h->data);
}

static void answer_proposal(struct propose_answer *p)
{
    h2o_req_t *req = deferred_take(p->def);
    int status = p->status;
    const struct fsm_result *res = &p->res;
    if (!req) {
        /* the client went away */
    } else if (status != RNODE_OK) {
        send_message(req, 503, "not applied: %s", rnode_strerror(status));
    } else if (res->rc != FSM_OK) {
        send_message(req, res->rc == FSM_ECONFLICT ? 409 : 400, "not applied: %s", res->msg);
    } else if (p->wait) {
        struct sw_wait *w = calloc(1, sizeof(*w));
        w->a = p->a;
        w->def = deferred_new(req);
        w->failover = p->failover;
        snprintf(w->old_leader, sizeof(w->old_leader), "%s", p->old_leader);
        snprintf(w->candidate, sizeof(w->candidate), "%s", p->candidate);
        w->deadline = rnode_now_ms() + 60000;
        uv_timer_init(p->a->d->loop, &w->timer);
        w->timer.data = w;
        uv_timer_start(&w->timer, sw_wait_poll, 50, 0);
    } else if (p->a->d->ha.last_config_reply) {
        json_t *body = p->a->d->ha.last_config_reply;
        p->a->d->ha.last_config_reply = NULL;
        send_json(req, p->ok_status, body);
    } else {
        send_message(req, p->ok_status, "%s", p->ok_msg);
    }
    p->timer.data = p;
    uv_close((uv_handle_t *)&p->timer, propose_answer_free);
}

static void propose_answer_poll(uv_timer_t *t)
{
    struct propose_answer *p = t->data;
    if (p->a->d->rn.fsm.revision >= p->revision || rnode_now_ms() > p->deadline) {
        answer_proposal(p);
        return;
    }
    uv_timer_start(&p->timer, propose_answer_poll, 10, 0);
}

/* The answer goes out once this member has applied the entry itself, so a request that
 * follows (GET /config, DELETE /switchover) sent to the same member sees its effect. */
static void on_control_proposed(void *data, int status, const struct fsm_result *res)
{
    struct propose_answer *p = data;
    p->status = status;
    if (res)
        p->res = *res;
    p->revision = status == RNODE_OK ? res->revision : 0;
    p->deadline = rnode_now_ms() + 2000;
    uv_timer_init(p->a->d->loop, &p->timer);
    p->timer.data = p;
    propose_answer_poll(&p->timer);
}

static int propose_and_answer(struct api *a, h2o_req_t *req, const struct fsm_cmd *cmd,
                              struct propose_answer *p)
{
    p->a = a;
    p->def = deferred_new(req);
    int rc = rnode_propose(&a->d->rn, cmd, on_control_proposed, p);
    if (rc != 0) {
        deferred_take(p->def);
        free(p);
        return send_message(req, 503, "cannot reach the cluster: %s", rnode_strerror(rc));
    }
    return 0;
}

static int h_switchover_common(struct api *a, h2o_req_t *req, bool failover)
{
    struct control_switchover r;
    char msg[400];
    int st = control_parse_switchover(req->entity.base ? req->entity.base : "", req->entity.len,
                                      failover, wall_now_ms(), &r, msg, sizeof(msg));
    if (st)
        return send_message(req, st, "%s", msg);
    struct view_buf vb;
    build_view(a, &vb);
    char chosen[FSM_NAME_MAX + 1] = "";
    st = control_check_switchover(&r, &vb.v, failover, chosen, sizeof(chosen), msg, sizeof(msg));
    if (st)
        return send_message(req, st, "%s", msg);
    const struct fsm *f = &a->d->rn.fsm;
    struct fsm_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = FSM_CMD_FAILOVER_SET;
    cmd.u.failover_set.leader = r.leader[0] ? r.leader : f->lock.holder;
    cmd.u.failover_set.candidate = r.candidate[0] ? r.candidate : chosen;
    cmd.u.failover_set.scheduled_at = r.scheduled_at_ms;
    struct propose_answer *p = calloc(1, sizeof(*p));
    p->failover = failover;
    snprintf(p->old_leader, sizeof(p->old_leader), "%s", f->lock.holder);
    snprintf(p->candidate, sizeof(p->candidate), "%s", cmd.u.failover_set.candidate);
    if (r.scheduled_at_ms) {
        p->ok_status = 202;
        char when[64];
        time_t secs = (time_t)(r.scheduled_at_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
        snprintf(p->ok_msg, sizeof(p->ok_msg), "Switchover scheduled at: %s", when);
    } else {
        p->wait = true;
    }
    return propose_and_answer(a, req, &cmd, p);
}

static int h_switchover(struct api *a, h2o_req_t *req)
{
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"))) {
        const struct fsm *f = &a->d->rn.fsm;
        if (!f->failover.pending || !f->failover.scheduled_at)
            return send_message(req, 404, "no scheduled switchover");
        struct fsm_cmd cmd;
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = FSM_CMD_FAILOVER_CLEAR;
        cmd.u.failover_clear.expected_version = f->failover.version;
        struct propose_answer *p = calloc(1, sizeof(*p));
        p->ok_status = 200;
        snprintf(p->ok_msg, sizeof(p->ok_msg), "scheduled switchover deleted");
        return propose_and_answer(a, req, &cmd, p);
    }
    return h_switchover_common(a, req, false);
}

static int h_failover(struct api *a, h2o_req_t *req)
{
    return h_switchover_common(a, req, true);
}

static json_t *current_config(struct api *a)
{
    json_t *c = json_deep_copy(a->d->dyn.json ? a->d->dyn.json : json_object());
    json_object_del(c, "pause");
    if (a->d->rn.fsm.pause)
        json_object_set_new(c, "pause", json_true());
    return c;
}

static int h_config(struct api *a, h2o_req_t *req)
{
    dyncfg_refresh(a->d);
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
               h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) ||
               h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"));
    if (get)
        return send_json(req, 200, current_config(a));
    bool patch = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PATCH"));
    json_t *body = body_json(req);
    if (!json_is_object(body)) {
        json_decref(body);
        return send_message(req, 400, "the body must be a JSON object");
    }
    char msg[400];
    json_t *cur = current_config(a);
    json_t *next = patch ? control_merge_patch(cur, body, msg, sizeof(msg)) : json_incref(body);
    json_decref(cur);
    json_decref(body);
    if (!next)
        return send_message(req, 400, "%s", msg);
    int st = control_validate_dynamic_config(next, msg, sizeof(msg));
    if (st) {
        json_decref(next);
        return send_message(req, st, "%s", msg);
    }
    const struct fsm *f = &a->d->rn.fsm;
    bool want_pause = json_is_true(json_object_get(next, "pause"));
    if (want_pause != f->pause) {
        /* The pause flag lives in its own key of the state machine. */
        struct fsm_cmd pc;
        memset(&pc, 0, sizeof(pc));
        pc.type = FSM_CMD_PAUSE_SET;
        pc.u.pause_set.pause = want_pause;
        rnode_propose(&a->d->rn, &pc, NULL, NULL);
    }
    json_object_del(next, "pause");
    char *text = json_dumps(next, JSON_COMPACT | JSON_SORT_KEYS);
    if (want_pause)
        json_object_set_new(next, "pause", json_true());
    struct fsm_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = FSM_CMD_CONFIG_SET;
    cmd.u.config_set.expected_version = f->config_version;
    cmd.u.config_set.json = text;
    struct propose_answer *p = calloc(1, sizeof(*p));
    p->ok_status = 200;
    json_decref(a->d->ha.last_config_reply);
    a->d->ha.last_config_reply = next;
    int rc = propose_and_answer(a, req, &cmd, p);
    free(text);
    return rc;
}

static void on_restart_done(void *data, bool ok, const char *msg)
{
    h2o_req_t *req = deferred_take(data);
    if (req)
        send_message(req, ok ? 200 : 503, "%s", msg);
}

static int h_restart(struct api *a, h2o_req_t *req)
{
    struct ha_state *ha = &a->d->ha;
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"))) {
        if (!ha->restart_scheduled)
            return send_message(req, 404, "no restart is scheduled");
        ha->restart_scheduled = false;
        return send_message(req, 200, "scheduled restart deleted");
    }
    struct control_restart r;
    char msg[400];
    int st = control_parse_restart(req->entity.base ? req->entity.base : "", req->entity.len,
                                   wall_now_ms(), &r, msg, sizeof(msg));
    if (st)
        return send_message(req, st, "%s", msg);
    st = control_check_restart(&r, a->d->rn.fsm.pause, msg, sizeof(msg));
    if (st)
        return send_message(req, st, "%s", msg);
    if (r.schedule_ms) {
        if (ha->restart_scheduled)
            return send_message(req, 409,
                                "Cannot schedule restart: another restart is "
                                "already scheduled");
        /* Kept by this member (Patroni keeps it in the member's own key); the HA cycle
         * carries it out at its time if the conditions still hold. */
        ha->restart_scheduled = true;
        ha->restart_req = r;
        return send_message(req, 202, "Restart scheduled");
    }
    struct pg_status ps;
    ha_status(a->d, &ps);
    if (!control_restart_matches(&r, pg_role_name(&ps), ps.pending_restart, ps.server_version))
        return send_message(req, 503, "restart conditions are not satisfied");
    struct deferred *def = deferred_new(req);
    if (ha_restart(a->d, on_restart_done, def, msg, sizeof(msg)) != 0) {
        deferred_take(def);
        return send_message(req, 503, "%s", msg);
    }
    return 0;
}

static int h_reload(struct api *a, h2o_req_t *req)
{
    if (!a->d->ha.enabled || !pg_is_running(&a->d->pg))
        return send_message(req, 503, "postgres is not running");
    struct deferred *def = deferred_new(req);
    pg_reload(&a->d->pg, on_restart_done, def);
    return 0;
}

static int h_reinitialize(struct api *a, h2o_req_t *req)
{
    bool force = false;
    char msg[400];
    int st = control_parse_reinitialize(req->entity.base ? req->entity.base : "", req->entity.len,
                                        &force, msg, sizeof(msg));
    if (st)
        return send_message(req, st, "%s", msg);
    if (ha_reinitialize(a->d, force, msg, sizeof(msg)) != 0)
        return send_message(req, 503, "%s", msg);
    return send_message(req, 200, "reinitialize started");
}

/* Basic auth for unsafe methods when restapi.authentication is set (Patroni). */
static bool authorized(struct api *a, h2o_req_t *req)
{
    const struct cfg *c = a->d->cfg;
    if (!c->restapi.username || !c->restapi.password)
        return true;
    char plain[512], expect[800];
    int n = snprintf(plain, sizeof(plain), "%s:%s", c->restapi.username, c->restapi.password);
    EVP_EncodeBlock((unsigned char *)expect, (const unsigned char *)plain, n);
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 6 || strncasecmp(v.base, "Basic ", 6) != 0)
        return false;
    return const_time_eq(v.base + 6, v.len - 6, expect, strlen(expect));
}

/* ---- routing --------------------------------------------------------------------------- */

static const struct route routes[] = {
    {"/cluster", M_READ, h_cluster},
    {"/history", M_READ, h_history},
    {"/liveness", M_READ, h_liveness},
    {"/health", M_READ, h_health},
    {"/switchover", M_POST | M_DELETE, h_switchover},
    {"/failover", M_POST, h_failover},
    {"/config", M_READ | M_PATCH | M_PUT, h_config},
    {"/restart", M_POST | M_DELETE, h_restart},
    {"/reload", M_POST, h_reload},
    {"/reinitialize", M_POST, h_reinitialize},
    {"/raft/propose", M_POST, h_propose},
    {"/raft/members", M_POST, h_members},
};

static int method_bit(h2o_iovec_t m)
{
    static const struct {
        const char *name;
        int bit;
    } ms[] = {{"GET", M_GET}, {"HEAD", M_HEAD},   {"OPTIONS", M_OPTIONS}, {"POST", M_POST},
              {"PUT", M_PUT}, {"PATCH", M_PATCH}, {"DELETE", M_DELETE}};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        if (h2o_memis(m.base, m.len, ms[i].name, strlen(ms[i].name)))
            return ms[i].bit;
    return 0;
}

static void allow_header(h2o_req_t *req, int methods)
{
    char buf[80] = "";
    static const char *names[] = {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"};
    for (int i = 0; i < 7; i++)
        if (methods & (1 << i))
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     names[i]);
    char *v = h2o_mem_alloc_pool(&req->pool, strlen(buf) + 1);
    strcpy(v, buf);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, v, strlen(v));
}

/* Patroni's health checks (/primary, /replica, /patroni, ...) once PostgreSQL is managed. */
static int health_route(struct api *a, h2o_req_t *req, enum health_kind kind)
{
    struct daemon *d = a->d;
    struct pg_status st;
    ha_status(d, &st);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    /* Patroni's next_run is unix time, but how late the HA loop is comes from the monotonic
     * clock: a wall-clock jump must make a live loop look neither dead nor a dead one alive. */
    int64_t next_run = 0;
    if (d->last_cycle_ms)
        next_run = now + (int64_t)(d->last_cycle_ms + (uint64_t)d->dyn.loop_wait * 1000u) -
                   (int64_t)rnode_now_ms();
    raft_id lid = 0;
    const char *laddr = NULL;
    rnode_leader(&d->rn, &lid, &laddr);
    struct health_ctx ctx = {
        .scope = d->cfg->scope,
        .name = d->cfg->name,
        .version = RAFTGRES_VERSION,
        .now_ms = now,
        .next_run_ms = next_run,
        .ttl_s = (uint32_t)d->dyn.ttl,
        .dcs_available = lid != 0,
        .dcs_last_seen_s = now / 1000,
        .synchronous_mode = d->dyn.synchronous_mode,
    };
    const struct fsm *f = &d->rn.fsm;
    const char *sync_names[FSM_MAX_SYNC];
    for (uint32_t i = 0; i < f->sync.n_names && i < FSM_MAX_SYNC; i++)
        sync_names[i] = f->sync.names[i];
    ctx.sync_members = sync_names;
    ctx.n_sync_members = f->sync.n_names;
    const char *query = NULL;
    size_t qlen = 0;
    if (req->query_at != SIZE_MAX) {
        query = req->path.base + req->query_at + 1;
        qlen = req->path.len - req->query_at - 1;
    }
    json_t *body = NULL;
    int status = health_check(kind, query, qlen, &st, &ctx, &body);
    if (!body) {
        req->res.status = status;
        req->res.reason = reason_of(status);
        req->res.content_length = 0;
        h2o_send_inline(req, "", 0);
        return 0;
    }
    return send_json(req, status, body);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct api *a = ((struct api_handler *)self)->api;
    a->requests++;
    size_t plen = req->path_normalized.len;
    const char *p = req->path_normalized.base;
    /* Trailing slash is tolerated: /cluster/ is /cluster. */
    if (plen > 1 && p[plen - 1] == '/')
        plen--;
    int m = method_bit(req->method);
    if (a->d->ha.enabled && (m & M_READ)) {
        enum health_kind kind = health_kind_of(p, plen);
        if (kind != HEALTH_NONE)
            return health_route(a, req, kind);
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!h2o_memis(p, plen, routes[i].path, strlen(routes[i].path)))
            continue;
        if (!(m & routes[i].methods)) {
            allow_header(req, routes[i].methods);
            return send_message(req, 405, "method %.*s is not allowed on %s", (int)req->method.len,
                                req->method.base, routes[i].path);
        }
        if (req->entity.base && req->entity.len > API_MAX_BODY)
            return send_message(req, 413, "request body of %zu bytes is over the limit of %d",
                                req->entity.len, API_MAX_BODY);
        if ((m & (M_POST | M_PUT | M_PATCH | M_DELETE)) && strncmp(routes[i].path, "/raft/", 6) &&
            !authorized(a, req)) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                           H2O_STRLIT("Basic realm=\"raftgres\""));
            return send_message(req, 401, "authentication required");
        }
        return routes[i].fn(a, req);
    }
    return send_message(req, 404, "no such endpoint: %.*s", (int)plen, p);
}

/* ---- server ---------------------------------------------------------------------------- */

static void on_accept(uv_stream_t *listener, int status)
{
    struct api *a = listener->data;
    if (status != 0)
        return;
    uv_tcp_t *conn = h2o_mem_alloc(sizeof(*conn));
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&a->accept_ctx, sock);
}

int api_listen(struct api *a, struct daemon *d, uv_loop_t *loop, const char *listen, char *err,
               size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->d = d;
    char host[256];
    int port;
    if (cfg_parse_hostport(listen, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "restapi.listen '%s' is not host:port", listen);
        return -1;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "restapi.listen '%s': '%s' is not an IP address", listen, host);
        return -1;
    }
    uv_tcp_init(loop, &a->listener);
    a->listener.data = a;
    a->listening = true;
    int rc = uv_tcp_bind(&a->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&a->listener, 128, on_accept);
    if (rc != 0) {
        snprintf(err, errlen,
                 "restapi.listen %s: %s; another raftgres (or another program) is using that "
                 "port: stop it or choose another restapi.listen",
                 listen, uv_strerror(rc));
        return -1;
    }
    h2o_config_init(&a->config);
    a->config_ready = true;
    a->config.max_request_entity_size = 1024 * 1024; /* we answer 413 ourselves above 64 KiB */
    h2o_hostconf_t *host_conf =
        h2o_config_register_host(&a->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path_conf = h2o_config_register_path(host_conf, "/", 0);
    struct api_handler *h = (struct api_handler *)h2o_create_handler(path_conf, sizeof(*h));
    h->super.on_req = on_req;
    h->api = a;
    h2o_context_init(&a->ctx, loop, &a->config);
    a->ctx_ready = true;
    a->accept_ctx.ctx = &a->ctx;
    a->accept_ctx.hosts = a->config.hosts;
    return 0;
}

void api_stop_listening(struct api *a)
{
    if (a->listening) {
        a->listening = false;
        uv_close((uv_handle_t *)&a->listener, NULL);
    }
}

void api_dispose_context(struct api *a)
{
    if (a->ctx_ready) {
        a->ctx_ready = false;
        h2o_context_dispose(&a->ctx);
    }
}

void api_dispose_config(struct api *a)
{
    if (a->config_ready) {
        a->config_ready = false;
        h2o_config_dispose(&a->config);
    }
}
