/* api: the REST API (see api.h). One h2o handler at "/" routes by exact path, so that
 * an unknown path is a JSON 404 and a known path with the wrong method a JSON 405. */
#include "http/api.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <string.h>

#include "http/health.h"
#include "src/config.h"
#include "src/daemon.h"
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
    const char *role = leader                              ? "leader"
                       : !strcmp(m->role, "uninitialized") ? "uninitialized"
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
    uint64_t ttl_ms = (uint64_t)a->d->cfg->dcs.ttl * 1000u;
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

/* ---- routing --------------------------------------------------------------------------- */

static const struct route routes[] = {
    {"/cluster", M_READ, h_cluster},      {"/history", M_READ, h_history},
    {"/liveness", M_READ, h_liveness},    {"/health", M_READ, h_health},
    {"/raft/propose", M_POST, h_propose}, {"/raft/members", M_POST, h_members},
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
    raft_id lid = 0;
    const char *laddr = NULL;
    rnode_leader(&d->rn, &lid, &laddr);
    struct health_ctx ctx = {
        .scope = d->cfg->scope,
        .name = d->cfg->name,
        .version = RAFTGRES_VERSION,
        .now_ms = now,
        .next_run_ms = d->last_cycle_wall_ms
                           ? d->last_cycle_wall_ms + (int64_t)d->cfg->dcs.loop_wait * 1000
                           : 0,
        .ttl_s = (uint32_t)d->cfg->dcs.ttl,
        .dcs_available = lid != 0,
        .dcs_last_seen_s = now / 1000,
        .synchronous_mode = d->cfg->dcs.synchronous_mode,
    };
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
