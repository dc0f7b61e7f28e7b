/* rnode: the Raft member (see rnode.h). All raft_* calls of the project are here. */
#include "src/rnode.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/config.h"
#include "src/httpc.h"
#include "src/log.h"
#include "src/util.h"

#define META_FILE          "raftgres.json"
#define TICK_MS            100
#define FORWARD_TIMEOUT_MS 3000
/* Raft timing. The lease TTL (bootstrap.dcs.ttl, seconds) stays far above these, as
 * libnotes.md asks: a Raft leader without a majority steps down after one election
 * timeout, long before any lease could run out. */
#define ELECTION_TIMEOUT_MS  750
#define HEARTBEAT_TIMEOUT_MS 75
#define SNAPSHOT_THRESHOLD   512
#define SNAPSHOT_TRAILING    256

struct rnode_pending {
    struct rnode *n;
    struct raft_apply apply;
    struct httpc_req *http;
    rnode_propose_cb cb;
    void *data;
    struct rnode_pending *next, *prev;
};

const char *rnode_strerror(int status)
{
    switch (status) {
    case RNODE_OK:
        return "ok";
    case RNODE_ENOLEADER:
        return "no Raft leader known (or its REST API is not registered yet)";
    case RNODE_EFORWARD:
        return "the Raft leader could not be reached";
    case RNODE_ELOST:
        return "Raft leadership lost before commit";
    case RNODE_ESHUTDOWN:
        return "shutting down";
    case RNODE_EINVALID:
        return "malformed entry";
    case RNODE_ENOTLEADER:
        return "this member is not the Raft leader";
    case RNODE_ENOMEM:
        return "out of memory";
    case RNODE_EAUTH:
        return "the Raft leader refused our credentials (raft.password)";
    default:
        return "unknown error";
    }
}

uint64_t rnode_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

raft_id rnode_id_from_addr(const char *addr)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    /* Keep ids positive in signed JSON readers and never 0 (raft rejects id 0). */
    h &= 0x7fffffffffffffffULL;
    return h ? h : 1;
}

/* ---- data dir ownership ------------------------------------------------------------ */

static int dir_has_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "lost+found")) {
            found = 1;
            break;
        }
    }
    closedir(d);
    return found;
}

static json_t *meta_read(const char *dir, char *err, size_t errlen, int *missing)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
    *missing = 0;
    if (access(path, F_OK) != 0) {
        *missing = 1;
        return NULL;
    }
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    if (!m || !json_is_object(m)) {
        snprintf(err, errlen, "%s is unreadable (%s): restore it or move the data dir away", path,
                 m ? "not an object" : je.text);
        json_decref(m);
        return NULL;
    }
    return m;
}

static int meta_write(const char *dir, const struct cfg *cfg, raft_id id, uint64_t incarnation)
{
    char path[4200], tmp[4210];
    snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    json_t *m = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "scope", cfg->scope, "name", cfg->name,
                          "self_addr", cfg->raft.self_addr, "raft_id", (json_int_t)id,
                          "incarnation", (json_int_t)incarnation, "version", RAFTGRES_VERSION);
    if (!m)
        return -1;
    /* Write to a temporary file, fsync, rename: a crash leaves the old or the new file. */
    int rc = json_dump_file(m, tmp, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(m);
    if (rc != 0)
        return -1;
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (rename(tmp, path) != 0)
        return -1;
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

static int probe_port(const char *addr, char *err, size_t errlen)
{
    char host[256];
    int port;
    if (cfg_parse_hostport(addr, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "raft.self_addr '%s' is not host:port", addr);
        return -1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sockaddr_storage ss;
    int rc;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen,
                 "raft.self_addr '%s': '%s' is not an IP address; canonical/raft needs a numeric "
                 "address here",
                 addr, host);
        uv_loop_close(&loop);
        return -1;
    }
    uv_tcp_t t;
    uv_tcp_init(&loop, &t);
    rc = uv_tcp_bind(&t, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&t, 1, NULL);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (rc != 0) {
        snprintf(err, errlen,
                 "raft.self_addr %s: %s; another raftgres (or another program) is using that "
                 "port: stop it or choose another raft.self_addr",
                 addr, uv_strerror(rc));
        return -1;
    }
    return 0;
}

int rnode_check(const struct cfg *cfg, char *err, size_t errlen)
{
    const char *dir = cfg->raft.data_dir;
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "raft.data_dir %s exists and is not a directory", dir);
            return -1;
        }
        int missing;
        json_t *m = meta_read(dir, err, errlen, &missing);
        if (!m && !missing)
            return -1;
        if (!m && dir_has_entries(dir)) {
            snprintf(err, errlen,
                     "raft.data_dir %s is not empty and has no %s: it was not written by "
                     "raftgres; point raft.data_dir at an empty or raftgres directory",
                     dir, META_FILE);
            return -1;
        }
        if (m) {
            const char *scope = json_string_value(json_object_get(m, "scope"));
            const char *self = json_string_value(json_object_get(m, "self_addr"));
            if (!scope || strcmp(scope, cfg->scope) != 0) {
                snprintf(err, errlen,
                         "raft.data_dir %s belongs to cluster (scope) '%s', not '%s': fix scope "
                         "or point raft.data_dir at this cluster's directory (an empty one for "
                         "a new member)",
                         dir, scope ? scope : "?", cfg->scope);
                json_decref(m);
                return -1;
            }
            if (!self || strcmp(self, cfg->raft.self_addr) != 0) {
                snprintf(err, errlen,
                         "raft.data_dir %s belongs to the member at %s, not %s (the Raft member "
                         "id derives from the address): restore raft.self_addr or start this "
                         "address with an empty data dir",
                         dir, self ? self : "?", cfg->raft.self_addr);
                json_decref(m);
                return -1;
            }
            json_decref(m);
        }
    } else if (errno != ENOENT) {
        snprintf(err, errlen, "raft.data_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    return probe_port(cfg->raft.self_addr, err, errlen);
}

/* ---- Raft state observation and the lease watch ------------------------------------ */

static const char *state_name(int s)
{
    switch (s) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_CANDIDATE:
        return "candidate";
    default:
        return "unavailable";
    }
}

static void on_notify(uv_timer_t *t)
{
    struct rnode *n = t->data;
    if (n->on_change && !n->closing)
        n->on_change(n->on_change_data);
}

/* Tell the upper layer, from the loop rather than from inside a raft callback (so that
 * it may propose again without re-entering raft's apply path). Coalesces. */
static void notify(struct rnode *n)
{
    if (n->timers_initialized && !n->closing && !uv_is_active((uv_handle_t *)&n->notify_timer))
        uv_timer_start(&n->notify_timer, on_notify, 0, 0);
}

static void leader_barrier(struct rnode *n);

static void on_expire_done(void *data, int status, const struct fsm_result *res)
{
    struct rnode *n = data;
    if (status == RNODE_OK && res->rc == FSM_OK)
        log_info("leader lock expired: removed by the Raft leader after its lease ran out");
    else if (status == RNODE_OK)
        log_info("lease expiry not applied: %s", res->msg);
    n->expire_pending_version = 0;
}

static void observe(struct rnode *n)
{
    int state = raft_state(&n->raft);
    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader(&n->raft, &lid, &laddr);
    unsigned long long term = n->raft.current_term;
    uint64_t now = rnode_now_ms();
    bool changed = false;

    if (state != n->last_state) {
        if (state == RAFT_LEADER) {
            log_info("Raft: this member (%s, %s) became the Raft leader in term %llu", n->cfg->name,
                     n->cfg->raft.self_addr, term);
            /* Every lease timer restarts at a full ttl: expiry may come later than the
             * holder's own deadline, never earlier (design.md section 3). */
            lease_watch_reset(&n->watch, now);
            n->leader_since_ms = now;
            leader_barrier(n);
        } else if (n->last_state == RAFT_LEADER) {
            lease_watch_stop(&n->watch);
            log_info("Raft: this member (%s) is no longer the Raft leader (now %s, term %llu)",
                     n->cfg->name, state_name(state), term);
        } else if (state == RAFT_UNAVAILABLE) {
            log_error("Raft: this member is UNAVAILABLE: %s", raft_errmsg(&n->raft));
        }
        n->last_state = state;
        changed = true;
    }
    if (lid != n->last_leader) {
        if (lid)
            log_info("Raft: leader is now %s (id %llu, term %llu)", laddr ? laddr : "?",
                     (unsigned long long)lid, term);
        else
            log_info("Raft: no leader known (term %llu)", term);
        n->last_leader = lid;
        changed = true;
    }
    n->last_term = term;

    /* Every member times the lease from its own observations (for /cluster); only the
     * Raft leader's watch is active and proposes expiries. */
    const struct fsm *f = &n->fsm;
    lease_watch_observe(&n->watch, f->lock.holder, f->lock.version, f->lock.ttl_ms, now);
    if (state == RAFT_LEADER) {
        const char *holder_p = NULL;
        uint64_t version = 0;
        char holder[FSM_NAME_MAX + 1];
        if (lease_watch_due(&n->watch, now, &holder_p, &version) &&
            n->expire_pending_version != version) {
            snprintf(holder, sizeof(holder), "%s", holder_p);
            log_info("lease of the leader lock held by %s (version %llu) ran out: no renew "
                     "for %u ms; proposing its expiry",
                     holder, (unsigned long long)version, (unsigned)f->lock.ttl_ms);
            struct fsm_cmd cmd;
            memset(&cmd, 0, sizeof(cmd));
            cmd.type = FSM_CMD_LOCK_EXPIRE;
            cmd.u.expire.holder = holder;
            cmd.u.expire.version = version;
            n->expire_pending_version = version;
            if (rnode_propose(n, &cmd, on_expire_done, n) != 0)
                n->expire_pending_version = 0;
        }
    }
    if (changed)
        notify(n);
}

/* Wraps the adapter's apply: right after every applied entry (on every member, leader
 * or not) the lease watch sees the new lock state at once, so the lease is timed from
 * the moment the change was applied here, not from the next tick. */
static int (*adapter_apply)(struct raft_fsm *, const struct raft_buffer *, void **);

/* What the HA loop reacts to at once: the lock, the initialize key, a failover request,
 * the pause flag, the dynamic config, the history and the lock holder's member record. */
static uint64_t ha_digest(const struct fsm *f)
{
    const struct fsm_member *m = f->lock.holder[0] ? fsm_member_find(f, f->lock.holder) : NULL;
    uint64_t h = 1469598103934665603ULL;
    uint64_t parts[] = {
        f->lock.version,    f->failover.version, f->config_version,         f->n_history,
        (uint64_t)f->pause, m ? m->version : 0,  (uint64_t)f->initialize[0]};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        h ^= parts[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int apply_and_observe(struct raft_fsm *rf, const struct raft_buffer *buf, void **result)
{
    struct rnode *n = (struct rnode *)(void *)((char *)rf - offsetof(struct rnode, raft_fsm));
    uint64_t version = n->fsm.lock.version;
    uint64_t digest = ha_digest(&n->fsm);
    int rc = adapter_apply(rf, buf, result);
    if (n->fsm.lock.version != version) {
        const struct fsm *f = &n->fsm;
        lease_watch_observe(&n->watch, f->lock.holder, f->lock.version, f->lock.ttl_ms,
                            rnode_now_ms());
    }
    if (ha_digest(&n->fsm) != digest)
        notify(n);
    return rc;
}

/* A new Raft leader may not have applied every committed entry of earlier terms until an
 * entry of its own term commits (Raft section 8): a barrier tells when its state machine
 * is current. */
static void on_barrier(struct raft_barrier *req, int status)
{
    struct rnode *n = req->data;
    free(req);
    if (status == 0 && !n->closing) {
        n->leader_ready = true;
        notify(n);
    }
}

static void leader_barrier(struct rnode *n)
{
    n->leader_ready = false;
    struct raft_barrier *b = calloc(1, sizeof(*b));
    if (!b)
        return;
    b->data = n;
    if (raft_barrier(&n->raft, b, on_barrier) != 0)
        free(b);
}

static void on_tick(uv_timer_t *t)
{
    observe(t->data);
}

/* ---- proposals --------------------------------------------------------------------- */

static void pending_link(struct rnode *n, struct rnode_pending *p)
{
    p->n = n;
    p->next = n->pending;
    if (n->pending)
        n->pending->prev = p;
    n->pending = p;
}

static void pending_unlink(struct rnode *n, struct rnode_pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else if (n->pending == p)
        n->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->next = p->prev = NULL;
}

static void complete(struct rnode_pending *p, int status, const struct fsm_result *res)
{
    struct rnode *n = p->n;
    pending_unlink(n, p);
    struct fsm_result empty;
    if (!res) {
        memset(&empty, 0, sizeof(empty));
        empty.rc = -1;
        snprintf(empty.msg, sizeof(empty.msg), "%s", rnode_strerror(status));
        res = &empty;
    }
    if (p->cb)
        p->cb(p->data, status, res);
    free(p);
}

static void on_applied(struct raft_apply *req, int status, void *result)
{
    struct rnode_pending *p = req->data;
    if (status == 0) {
        /* result points into the adapter's storage, valid only now: copy it. */
        struct fsm_result res = *(const struct fsm_result *)result;
        complete(p, RNODE_OK, &res);
        return;
    }
    int st = RNODE_ELOST;
    if (status == RAFT_SHUTDOWN || status == RAFT_CANCELED)
        st = RNODE_ESHUTDOWN;
    complete(p, st, NULL);
}

int rnode_apply_local(struct rnode *n, const void *entry, size_t len, rnode_propose_cb cb,
                      void *data)
{
    if (n->closing)
        return RNODE_ESHUTDOWN;
    if (raft_state(&n->raft) != RAFT_LEADER)
        return RNODE_ENOTLEADER;
    struct fsm_cmd check;
    char err[160];
    if (len % 8 != 0 || fsm_cmd_decode(entry, len, &check, err, sizeof(err)) != FSM_OK)
        return RNODE_EINVALID;
    struct rnode_pending *p = calloc(1, sizeof(*p));
    void *buf = raft_malloc(len);
    if (!p || !buf) {
        free(p);
        raft_free(buf);
        return RNODE_ENOMEM;
    }
    memcpy(buf, entry, len);
    p->cb = cb;
    p->data = data;
    p->apply.data = p;
    struct raft_buffer rb = {.base = buf, .len = len};
    int rc = raft_apply(&n->raft, &p->apply, &rb, 1, on_applied);
    if (rc != 0) {
        /* The buffer is ours again when raft_apply fails (libnotes.md). */
        raft_free(buf);
        free(p);
        return rc == RAFT_NOTLEADER ? RNODE_ENOTLEADER : RNODE_ELOST;
    }
    pending_link(n, p);
    return 0;
}

static void on_forwarded(void *data, int status, int http_status, const char *body, size_t len)
{
    struct rnode_pending *p = data;
    p->http = NULL;
    (void)len;
    if (status == UV_ECANCELED) {
        complete(p, RNODE_ESHUTDOWN, NULL);
        return;
    }
    if (status != 0) {
        log_warning("Request failed to the Raft leader: POST /raft/propose (%s)",
                    uv_strerror(status));
        complete(p, RNODE_EFORWARD, NULL);
        return;
    }
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    if (http_status == 200 && j) {
        struct fsm_result res;
        memset(&res, 0, sizeof(res));
        res.rc = (int)json_integer_value(json_object_get(j, "rc"));
        res.version = (uint64_t)json_integer_value(json_object_get(j, "version"));
        res.revision = (uint64_t)json_integer_value(json_object_get(j, "revision"));
        const char *msg = json_string_value(json_object_get(j, "message"));
        snprintf(res.msg, sizeof(res.msg), "%s", msg ? msg : "");
        json_decref(j);
        complete(p, RNODE_OK, &res);
        return;
    }
    const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
    log_warning("Raft leader refused a forwarded proposal: HTTP %d %s", http_status,
                msg ? msg : "");
    json_decref(j);
    int st = RNODE_EFORWARD;
    if (http_status == 400)
        st = RNODE_EINVALID;
    else if (http_status == 401 || http_status == 403)
        st = RNODE_EAUTH;
    else if (http_status == 503)
        st = RNODE_ENOLEADER;
    complete(p, st, NULL);
}

int rnode_propose(struct rnode *n, const struct fsm_cmd *cmd, rnode_propose_cb cb, void *data)
{
    if (n->closing)
        return RNODE_ESHUTDOWN;
    void *entry;
    size_t len;
    if (fsm_cmd_encode(cmd, &entry, &len) != FSM_OK)
        return RNODE_EINVALID;
    int rc;
    if (raft_state(&n->raft) == RAFT_LEADER) {
        rc = rnode_apply_local(n, entry, len, cb, data);
        free(entry);
        return rc;
    }
    /* Not the Raft leader: forward to the leader's REST API, found through the member
     * registry (the Raft leader registers itself as soon as it is elected). */
    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader(&n->raft, &lid, &laddr);
    const struct fsm_member *m = lid ? fsm_member_by_raft_id(&n->fsm, lid) : NULL;
    if (!m || !m->api_url[0]) {
        free(entry);
        return RNODE_ENOLEADER;
    }
    char url[600];
    snprintf(url, sizeof(url), "%s", m->api_url);
    char *suffix = strstr(url, "/patroni");
    if (suffix)
        *suffix = '\0';
    snprintf(url + strlen(url), sizeof(url) - strlen(url), "/raft/propose");
    char headers[512] = "Content-Type: application/octet-stream\r\n";
    if (n->cfg->raft.password && n->cfg->raft.password[0])
        snprintf(headers + strlen(headers), sizeof(headers) - strlen(headers),
                 "X-Raftgres-Token: %s\r\n", n->cfg->raft.password);
    struct rnode_pending *p = calloc(1, sizeof(*p));
    if (!p) {
        free(entry);
        return RNODE_ENOMEM;
    }
    p->cb = cb;
    p->data = data;
    int err = 0;
    pending_link(n, p);
    p->http = httpc_request(n->loop, "POST", url, headers, entry, len, FORWARD_TIMEOUT_MS,
                            on_forwarded, p, &err);
    free(entry);
    if (!p->http) {
        pending_unlink(n, p);
        free(p);
        return RNODE_EFORWARD;
    }
    return 0;
}

void rnode_detach(struct rnode *n, void *data)
{
    for (struct rnode_pending *p = n->pending; p; p = p->next) {
        if (p->data == data) {
            p->cb = NULL;
            p->data = NULL;
        }
    }
}

/* ---- membership --------------------------------------------------------------------- */

struct add_req {
    struct raft_change change;
    struct rnode *n;
    raft_id id;
    char address[300];
    int step;
    void (*cb)(void *data, int status, const char *msg);
    void *data;
};

static void on_change_done(struct raft_change *req, int status)
{
    struct add_req *a = req->data;
    char msg[600];
    if (status != 0) {
        snprintf(msg, sizeof(msg), "%s member %s failed: %s", a->step == 0 ? "adding" : "promoting",
                 a->address, raft_strerror(status));
        a->cb(a->data, status, msg);
        free(a);
        return;
    }
    if (a->step == 0) {
        a->step = 1;
        int rc = raft_assign(&a->n->raft, &a->change, a->id, RAFT_VOTER, on_change_done);
        if (rc != 0) {
            snprintf(msg, sizeof(msg), "promoting member %s to voter failed: %s", a->address,
                     raft_strerror(rc));
            a->cb(a->data, rc, msg);
            free(a);
        }
        return;
    }
    log_info("Raft: member %s (id %llu) added as a voter", a->address, (unsigned long long)a->id);
    snprintf(msg, sizeof(msg), "member %s added as a voter", a->address);
    a->cb(a->data, 0, msg);
    free(a);
}

int rnode_add_voter(struct rnode *n, const char *address,
                    void (*cb)(void *data, int status, const char *msg), void *data)
{
    struct add_req *a = calloc(1, sizeof(*a));
    if (!a)
        return RAFT_NOMEM;
    a->n = n;
    a->id = rnode_id_from_addr(address);
    snprintf(a->address, sizeof(a->address), "%s", address);
    a->cb = cb;
    a->data = data;
    a->change.data = a;
    int rc = raft_add(&n->raft, &a->change, a->id, a->address, on_change_done);
    if (rc != 0) {
        free(a);
        return rc;
    }
    log_info("Raft: adding member %s (id %llu)", address, (unsigned long long)a->id);
    return 0;
}

/* ---- accessors ---------------------------------------------------------------------- */

bool rnode_caught_up(struct rnode *n)
{
    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader(&n->raft, &lid, &laddr);
    if (!lid || n->raft.commit_index == 0)
        return false;
    if (raft_state(&n->raft) == RAFT_LEADER)
        return n->leader_ready;
    return raft_last_applied(&n->raft) >= n->raft.commit_index;
}

bool rnode_is_leader(struct rnode *n)
{
    return n->started && raft_state(&n->raft) == RAFT_LEADER;
}

const char *rnode_role(struct rnode *n)
{
    return state_name(raft_state(&n->raft));
}

void rnode_leader(struct rnode *n, raft_id *id, const char **address)
{
    raft_leader(&n->raft, id, address);
}

unsigned long long rnode_term(struct rnode *n)
{
    return n->raft.current_term;
}

unsigned long long rnode_commit_index(struct rnode *n)
{
    return n->raft.commit_index;
}

unsigned long long rnode_last_applied(struct rnode *n)
{
    return raft_last_applied(&n->raft);
}

const char *rnode_member_role(struct rnode *n, raft_id id)
{
    if (id == n->id)
        return rnode_role(n);
    raft_id lid = 0;
    const char *laddr;
    raft_leader(&n->raft, &lid, &laddr);
    if (id == lid)
        return "leader";
    const struct raft_configuration *c = &n->raft.configuration;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id != id)
            continue;
        if (c->servers[i].role != RAFT_VOTER)
            return c->servers[i].role == RAFT_STANDBY ? "standby" : "spare";
        if (raft_state(&n->raft) == RAFT_LEADER)
            return n->raft.leader_state.progress[i].recent_recv ? "follower" : "unreachable";
        return "follower";
    }
    return "unknown";
}

/* ---- start / close ------------------------------------------------------------------ */

int rnode_start(struct rnode *n, uv_loop_t *loop, const struct cfg *cfg, bool join, char *err,
                size_t errlen)
{
    int rc;
    n->loop = loop;
    n->cfg = cfg;
    n->id = rnode_id_from_addr(cfg->raft.self_addr);
    n->last_state = -1;
    lease_watch_init(&n->watch);
    snprintf(n->data_dir, sizeof(n->data_dir), "%s", cfg->raft.data_dir);

    /* Ids must be distinct within the partner list, or Raft would mix two members up. */
    for (size_t i = 0; i < cfg->raft.n_partner_addrs; i++)
        for (size_t j = i + 1; j < cfg->raft.n_partner_addrs; j++)
            if (rnode_id_from_addr(cfg->raft.partner_addrs[i]) ==
                rnode_id_from_addr(cfg->raft.partner_addrs[j])) {
                snprintf(err, errlen, "raft.partner_addrs %s and %s map to the same Raft id",
                         cfg->raft.partner_addrs[i], cfg->raft.partner_addrs[j]);
                return -1;
            }

    if (util_mkdir_p(n->data_dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create raft.data_dir %s: %s", n->data_dir, strerror(errno));
        return -1;
    }
    int missing;
    uint64_t incarnation = 0;
    json_t *m = meta_read(n->data_dir, err, errlen, &missing);
    if (m) {
        incarnation = (uint64_t)json_integer_value(json_object_get(m, "incarnation"));
        json_decref(m);
    }
    n->incarnation = incarnation + 1;

    if (fsm_init(&n->fsm) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (fsm_raft_init(&n->raft_fsm, &n->fsm) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    adapter_apply = n->raft_fsm.apply;
    n->raft_fsm.apply = apply_and_observe;
    rc = raft_uv_tcp_init(&n->transport, loop);
    if (rc != 0) {
        snprintf(err, errlen, "raft transport: %s", raft_strerror(rc));
        return -1;
    }
    n->transport_initialized = true;
    rc = raft_uv_init(&n->io, loop, n->data_dir, &n->transport);
    if (rc != 0) {
        snprintf(err, errlen, "raft storage in %s: %s", n->data_dir, raft_strerror(rc));
        return -1;
    }
    n->io_initialized = true;
    raft_uv_set_segment_size(&n->io, 1024 * 1024);
    rc = raft_init(&n->raft, &n->io, &n->raft_fsm, n->id, cfg->raft.self_addr);
    if (rc != 0) {
        snprintf(err, errlen, "raft_init: %s", raft_errmsg(&n->raft));
        return -1;
    }
    n->raft_initialized = true;
    raft_set_election_timeout(&n->raft, ELECTION_TIMEOUT_MS);
    raft_set_heartbeat_timeout(&n->raft, HEARTBEAT_TIMEOUT_MS);
    raft_set_snapshot_threshold(&n->raft, SNAPSHOT_THRESHOLD);
    raft_set_snapshot_trailing(&n->raft, SNAPSHOT_TRAILING);
    raft_set_pre_vote(&n->raft, true);

    if (!join) {
        /* Every initial member bootstraps the identical configuration: all partners as
         * voters, in the order of the (identical) partner list. A member with data gets
         * RAFT_CANTBOOTSTRAP: it restarts from its data dir and never bootstraps again. */
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        for (size_t i = 0; i < cfg->raft.n_partner_addrs; i++) {
            const char *a = cfg->raft.partner_addrs[i];
            rc = raft_configuration_add(&conf, rnode_id_from_addr(a), a, RAFT_VOTER);
            if (rc != 0) {
                raft_configuration_close(&conf);
                snprintf(err, errlen, "raft configuration: %s", raft_strerror(rc));
                return -1;
            }
        }
        rc = raft_bootstrap(&n->raft, &conf);
        raft_configuration_close(&conf);
        if (rc == 0)
            log_info("Raft: bootstrapped a new cluster '%s' with %zu members in %s", cfg->scope,
                     cfg->raft.n_partner_addrs, n->data_dir);
        else if (rc == RAFT_CANTBOOTSTRAP)
            log_info("Raft: restarting from the existing data in %s", n->data_dir);
        else {
            snprintf(err, errlen, "raft_bootstrap: %s", raft_errmsg(&n->raft));
            return -1;
        }
    } else {
        log_info("Raft: joining: waiting to be added to the cluster (raftgresctl add-member %s)",
                 cfg->raft.self_addr);
    }
    uv_timer_init(loop, &n->tick);
    n->tick.data = n;
    uv_timer_init(loop, &n->notify_timer);
    n->notify_timer.data = n;
    n->timers_initialized = true;
    rc = raft_start(&n->raft);
    if (rc != 0) {
        snprintf(err, errlen, "raft_start: %s", raft_errmsg(&n->raft));
        return -1;
    }
    n->started = true;
    if (meta_write(n->data_dir, cfg, n->id, n->incarnation) != 0) {
        snprintf(err, errlen, "cannot write %s/%s: %s", n->data_dir, META_FILE, strerror(errno));
        return -1;
    }
    uv_timer_start(&n->tick, on_tick, TICK_MS, TICK_MS);
    log_info("Raft: member %s (id %llu) listening on %s", cfg->name, (unsigned long long)n->id,
             cfg->raft.self_addr);
    return 0;
}

static void on_raft_closed(struct raft *r)
{
    struct rnode *n = r->data;
    raft_uv_close(&n->io);
    raft_uv_tcp_close(&n->transport);
    fsm_raft_close(&n->raft_fsm);
    fsm_close(&n->fsm);
    if (n->on_closed)
        n->on_closed(n);
}

static void on_tick_closed(uv_handle_t *h)
{
    (void)h;
}

void rnode_close(struct rnode *n)
{
    if (n->closing)
        return;
    n->closing = true;
    /* Forwarded proposals fail now; local ones fail when raft closes. */
    for (struct rnode_pending *p = n->pending; p; p = p->next)
        if (p->http)
            httpc_cancel(p->http);
    if (n->timers_initialized) {
        uv_close((uv_handle_t *)&n->tick, on_tick_closed);
        uv_close((uv_handle_t *)&n->notify_timer, on_tick_closed);
    }
    if (n->raft_initialized) {
        n->raft.data = n;
        raft_close(&n->raft, on_raft_closed);
        return;
    }
    if (n->io_initialized)
        raft_uv_close(&n->io);
    if (n->transport_initialized)
        raft_uv_tcp_close(&n->transport);
    if (n->on_closed)
        n->on_closed(n);
}
