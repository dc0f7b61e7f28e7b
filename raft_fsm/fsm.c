/* fsm: state, apply, snapshot and restore of the replicated state machine.
 *
 * Every command handler follows the same shape: check every precondition against the
 * current state first, and only when all hold, write the new values and bump the
 * revision (accept()). So a rejected entry never changes a byte of the state, and an
 * accepted one is applied completely: there is no allocation or other failure point
 * between the first write and the last. Semantics per command: docs/state-machine.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_fsm/fsm.h"
#include "raft_fsm/fsm_codec.h"
#include "raft_fsm/fsm_wire.h"

static const char *const rc_names[FSM_RC_COUNT] = {
    [FSM_OK] = "ok",
    [FSM_ECONFLICT] = "conflict",
    [FSM_ESTALE] = "stale",
    [FSM_EMALFORMED] = "malformed entry",
    [FSM_EVERSION] = "unknown format version",
    [FSM_EUNKNOWN] = "unknown command",
    [FSM_ELIMIT] = "limit reached",
    [FSM_ENOMEM] = "out of memory",
    [FSM_ENOTFOUND] = "not found",
};

const char *fsm_strerror(int rc)
{
    if (rc < 0 || rc >= FSM_RC_COUNT) {
        return "unknown error";
    }
    return rc_names[rc];
}

int fsm_init(struct fsm *f)
{
    memset(f, 0, sizeof *f);
    return FSM_OK;
}

void fsm_close(struct fsm *f)
{
    memset(f, 0, sizeof *f);
}

static int member_index(const struct fsm *f, const char *name, uint32_t *pos)
{
    uint32_t i;
    for (i = 0; i < f->n_members; i++) {
        int c = strcmp(f->members[i].name, name);
        if (c == 0) {
            *pos = i;
            return 1;
        }
        if (c > 0) {
            break;
        }
    }
    *pos = i; /* insertion point that keeps the registry sorted */
    return 0;
}

const struct fsm_member *fsm_member_find(const struct fsm *f, const char *name)
{
    uint32_t i;
    if (name == NULL || !member_index(f, name, &i)) {
        return NULL;
    }
    return &f->members[i];
}

const struct fsm_member *fsm_member_by_raft_id(const struct fsm *f, uint64_t raft_id)
{
    for (uint32_t i = 0; i < f->n_members; i++) {
        if (f->members[i].raft_id == raft_id) {
            return &f->members[i];
        }
    }
    return NULL;
}

/* ---- apply ------------------------------------------------------------------------ */

static void set_msg(struct fsm_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_msg(struct fsm_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    va_end(ap);
}

/* Rejection: state untouched, the revision included. */
#define REJECT(rc_, version_, ...)                                                                 \
    do {                                                                                           \
        res->rc = (rc_);                                                                           \
        res->version = (version_);                                                                 \
        set_msg(res, __VA_ARGS__);                                                                 \
        return (rc_);                                                                              \
    } while (0)

/* Acceptance: the handler has already written its values using rev = revision + 1. */
static int accept(struct fsm *f, struct fsm_result *res, uint64_t rev, uint64_t version)
{
    f->revision = rev;
    res->rc = FSM_OK;
    res->version = version;
    res->revision = rev;
    return FSM_OK;
}

static void copy_str(char *dst, size_t size, const char *src)
{
    /* Bounds were checked by fsm_cmd_check(); snprintf only guards against misuse. */
    snprintf(dst, size, "%s", src != NULL ? src : "");
}
#define COPY(dst, src) copy_str((dst), sizeof(dst), (src))

static int apply_initialize(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    const char *id = c->u.initialize.sysid;
    uint64_t rev = f->revision + 1;
    if (f->initialize[0] != 0 && strcmp(f->initialize, id) != 0) {
        REJECT(FSM_ECONFLICT, 0, "cluster already initialized with system identifier %s",
               f->initialize);
    }
    if (f->initialize[0] != 0) {
        set_msg(res, "already initialized with this system identifier");
    } else {
        COPY(f->initialize, id);
        set_msg(res, "initialized with system identifier %s", id);
    }
    return accept(f, res, rev, 0);
}

static int apply_config_set(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    uint64_t want = c->u.config_set.expected_version;
    uint64_t rev = f->revision + 1;
    if (want != FSM_ANY_VERSION && want != f->config_version) {
        REJECT(FSM_ECONFLICT, f->config_version, "config version is %llu, not the expected %llu",
               (unsigned long long)f->config_version, (unsigned long long)want);
    }
    COPY(f->config_json, c->u.config_set.json);
    f->config_version = rev;
    set_msg(res, "config set");
    return accept(f, res, rev, rev);
}

static void lock_take(struct fsm *f, const char *name, uint32_t ttl_ms, uint64_t rev)
{
    COPY(f->lock.holder, name);
    COPY(f->lock.last_holder, name);
    f->lock.version = rev;
    f->lock.ttl_ms = ttl_ms;
}

static void lock_free(struct fsm *f, uint64_t rev)
{
    f->lock.holder[0] = 0;
    f->lock.version = rev;
    f->lock.ttl_ms = 0;
}

/* Common CAS of renew, release, expire and transfer: holder and version must match. */
static int lock_cas(const struct fsm *f, const char *name, uint64_t version, struct fsm_result *res)
{
    if (f->lock.holder[0] == 0) {
        REJECT(FSM_ECONFLICT, f->lock.version, "leader lock is free");
    }
    if (strcmp(f->lock.holder, name) != 0) {
        REJECT(FSM_ECONFLICT, f->lock.version, "leader lock is held by %s, not %s", f->lock.holder,
               name);
    }
    if (f->lock.version != version) {
        REJECT(FSM_ECONFLICT, f->lock.version, "leader lock version is %llu, not %llu",
               (unsigned long long)f->lock.version, (unsigned long long)version);
    }
    return FSM_OK;
}

static int apply_lock(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    uint64_t rev = f->revision + 1;
    int rc;
    switch (c->type) {
    case FSM_CMD_LOCK_ACQUIRE:
        if (f->lock.holder[0] != 0) {
            REJECT(FSM_ECONFLICT, f->lock.version, "leader lock is held by %s (version %llu)",
                   f->lock.holder, (unsigned long long)f->lock.version);
        }
        lock_take(f, c->u.acquire.name, c->u.acquire.ttl_ms, rev);
        set_msg(res, "leader lock acquired by %s", c->u.acquire.name);
        break;
    case FSM_CMD_LOCK_RENEW:
        rc = lock_cas(f, c->u.renew.name, c->u.renew.version, res);
        if (rc != FSM_OK) {
            return rc;
        }
        lock_take(f, c->u.renew.name, c->u.renew.ttl_ms, rev);
        set_msg(res, "leader lock renewed by %s", c->u.renew.name);
        break;
    case FSM_CMD_LOCK_RELEASE:
        rc = lock_cas(f, c->u.release.name, c->u.release.version, res);
        if (rc != FSM_OK) {
            return rc;
        }
        lock_free(f, rev);
        set_msg(res, "leader lock released by %s", c->u.release.name);
        break;
    case FSM_CMD_LOCK_EXPIRE:
        rc = lock_cas(f, c->u.expire.holder, c->u.expire.version, res);
        if (rc != FSM_OK) {
            return rc;
        }
        lock_free(f, rev);
        set_msg(res, "leader lock of %s expired", c->u.expire.holder);
        break;
    case FSM_CMD_LOCK_TRANSFER:
        rc = lock_cas(f, c->u.transfer.from, c->u.transfer.version, res);
        if (rc != FSM_OK) {
            return rc;
        }
        lock_take(f, c->u.transfer.to, c->u.transfer.ttl_ms, rev);
        set_msg(res, "leader lock transferred from %s to %s", c->u.transfer.from, c->u.transfer.to);
        break;
    default:
        REJECT(FSM_EUNKNOWN, 0, "not a lock command");
    }
    return accept(f, res, rev, rev);
}

static int apply_member_update(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    const __typeof__(c->u.member_update) *u = &c->u.member_update;
    uint64_t rev = f->revision + 1;
    struct fsm_member *m;
    uint32_t i;

    if (member_index(f, u->name, &i)) {
        m = &f->members[i];
        if (u->seq <= m->seq) {
            REJECT(FSM_ESTALE, m->version, "member %s: seq %llu is not above the stored %llu",
                   u->name, (unsigned long long)u->seq, (unsigned long long)m->seq);
        }
    } else {
        if (f->n_members >= FSM_MAX_MEMBERS) {
            REJECT(FSM_ELIMIT, 0, "member registry is full (%d members)", FSM_MAX_MEMBERS);
        }
        memmove(&f->members[i + 1], &f->members[i], (f->n_members - i) * sizeof f->members[0]);
        f->n_members++;
        m = &f->members[i];
    }
    /* Full replacement: every field comes from the command. */
    memset(m, 0, sizeof *m);
    COPY(m->name, u->name);
    m->seq = u->seq;
    COPY(m->api_url, u->api_url);
    COPY(m->conn_url, u->conn_url);
    COPY(m->raft_addr, u->raft_addr);
    m->raft_id = u->raft_id;
    COPY(m->role, u->role);
    COPY(m->state, u->state);
    m->timeline = u->timeline;
    m->received_lsn = u->received_lsn;
    m->replayed_lsn = u->replayed_lsn;
    m->write_lsn = u->write_lsn;
    COPY(m->tags, u->tags);
    m->version = rev;
    set_msg(res, "member %s updated (seq %llu)", u->name, (unsigned long long)u->seq);
    return accept(f, res, rev, rev);
}

static int apply_member_remove(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    const char *name = c->u.member_remove.name;
    uint64_t rev = f->revision + 1;
    uint32_t i;
    if (!member_index(f, name, &i)) {
        REJECT(FSM_ENOTFOUND, 0, "member %s is not registered", name);
    }
    memmove(&f->members[i], &f->members[i + 1], (f->n_members - i - 1) * sizeof f->members[0]);
    f->n_members--;
    memset(&f->members[f->n_members], 0, sizeof f->members[0]);
    set_msg(res, "member %s removed", name);
    return accept(f, res, rev, rev);
}

static int apply_optime_set(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    const char *name = c->u.optime_set.name;
    uint64_t rev = f->revision + 1;
    if (f->lock.holder[0] == 0 || strcmp(f->lock.holder, name) != 0) {
        REJECT(FSM_ECONFLICT, f->optime_version, "%s does not hold the leader lock", name);
    }
    f->optime_lsn = c->u.optime_set.lsn;
    f->optime_version = rev;
    set_msg(res, "optime set to %llu", (unsigned long long)f->optime_lsn);
    return accept(f, res, rev, rev);
}

static int apply_sync_set(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    const __typeof__(c->u.sync_set) *s = &c->u.sync_set;
    const char *leader = s->leader != NULL ? s->leader : "";
    uint64_t rev = f->revision + 1;
    if (s->expected_version != FSM_ANY_VERSION && s->expected_version != f->sync.version) {
        REJECT(FSM_ECONFLICT, f->sync.version, "sync version is %llu, not the expected %llu",
               (unsigned long long)f->sync.version, (unsigned long long)s->expected_version);
    }
    if (leader[0] != 0 && strcmp(leader, f->lock.holder) != 0) {
        REJECT(FSM_ECONFLICT, f->sync.version, "%s does not hold the leader lock", leader);
    }
    memset(&f->sync, 0, sizeof f->sync);
    COPY(f->sync.leader, leader);
    f->sync.n_names = s->n_names;
    for (uint32_t i = 0; i < s->n_names; i++) {
        COPY(f->sync.names[i], s->names[i]);
    }
    f->sync.version = rev;
    set_msg(res, "sync state set (%u standbys)", (unsigned)s->n_names);
    return accept(f, res, rev, rev);
}

static int apply_failover(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    uint64_t rev = f->revision + 1;
    if (c->type == FSM_CMD_FAILOVER_SET) {
        memset(&f->failover, 0, sizeof f->failover);
        f->failover.pending = true;
        COPY(f->failover.leader, c->u.failover_set.leader);
        COPY(f->failover.candidate, c->u.failover_set.candidate);
        f->failover.scheduled_at = c->u.failover_set.scheduled_at;
        f->failover.version = rev;
        set_msg(res, "failover requested");
        return accept(f, res, rev, rev);
    }
    uint64_t want = c->u.failover_clear.expected_version;
    if (want != FSM_ANY_VERSION && want != f->failover.version) {
        REJECT(FSM_ECONFLICT, f->failover.version,
               "failover version is %llu, not the expected %llu",
               (unsigned long long)f->failover.version, (unsigned long long)want);
    }
    memset(&f->failover, 0, sizeof f->failover);
    f->failover.version = rev;
    set_msg(res, "failover request cleared");
    return accept(f, res, rev, rev);
}

static int apply_history_append(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    const __typeof__(c->u.history_append) *h = &c->u.history_append;
    uint64_t rev = f->revision + 1;
    struct fsm_history *e;
    if (f->n_history == FSM_MAX_HISTORY) {
        memmove(&f->history[0], &f->history[1], (FSM_MAX_HISTORY - 1) * sizeof f->history[0]);
        f->n_history--;
    }
    e = &f->history[f->n_history++];
    memset(e, 0, sizeof *e);
    e->timeline = h->timeline;
    e->lsn = h->lsn;
    COPY(e->reason, h->reason);
    e->time = h->time;
    COPY(e->new_leader, h->new_leader);
    set_msg(res, "history: timeline %u recorded", (unsigned)h->timeline);
    return accept(f, res, rev, rev);
}

int fsm_apply_cmd(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    struct fsm_result local;
    char why[FSM_MSG_MAX];
    int rc;

    if (res == NULL) {
        res = &local;
    }
    memset(res, 0, sizeof *res);
    res->revision = f->revision;
    rc = fsm_cmd_check(c, why, sizeof why);
    if (rc != FSM_OK) {
        REJECT(rc, 0, "%s", why);
    }
    switch (c->type) {
    case FSM_CMD_NOOP:
        set_msg(res, "noop");
        return accept(f, res, f->revision + 1, 0);
    case FSM_CMD_INITIALIZE:
        return apply_initialize(f, c, res);
    case FSM_CMD_CONFIG_SET:
        return apply_config_set(f, c, res);
    case FSM_CMD_LOCK_ACQUIRE:
    case FSM_CMD_LOCK_RENEW:
    case FSM_CMD_LOCK_RELEASE:
    case FSM_CMD_LOCK_EXPIRE:
    case FSM_CMD_LOCK_TRANSFER:
        return apply_lock(f, c, res);
    case FSM_CMD_MEMBER_UPDATE:
        return apply_member_update(f, c, res);
    case FSM_CMD_MEMBER_REMOVE:
        return apply_member_remove(f, c, res);
    case FSM_CMD_OPTIME_SET:
        return apply_optime_set(f, c, res);
    case FSM_CMD_SYNC_SET:
        return apply_sync_set(f, c, res);
    case FSM_CMD_FAILOVER_SET:
    case FSM_CMD_FAILOVER_CLEAR:
        return apply_failover(f, c, res);
    case FSM_CMD_HISTORY_APPEND:
        return apply_history_append(f, c, res);
    case FSM_CMD_PAUSE_SET:
        f->pause = c->u.pause_set.pause;
        set_msg(res, "pause %s", f->pause ? "on" : "off");
        return accept(f, res, f->revision + 1, 0);
    default:
        REJECT(FSM_EUNKNOWN, 0, "unknown command type %u", (unsigned)c->type);
    }
}

int fsm_apply(struct fsm *f, const void *buf, size_t len, struct fsm_result *res)
{
    struct fsm_result local;
    struct fsm_cmd cmd;
    char err[FSM_MSG_MAX];
    int rc;

    if (res == NULL) {
        res = &local;
    }
    rc = fsm_cmd_decode(buf, len, &cmd, err, sizeof err);
    if (rc != FSM_OK) {
        memset(res, 0, sizeof *res);
        res->rc = rc;
        res->revision = f->revision;
        set_msg(res, "%s", err);
        return rc;
    }
    return fsm_apply_cmd(f, &cmd, res);
}

/* ---- snapshot ------------------------------------------------------------------------
 *
 * Layout (docs/state-machine.md, "Snapshot format"): magic "RGSN", u8 version, 3 zero
 * bytes, then every field in a fixed order with the entry primitives (fsm_wire.h),
 * zero padding to a multiple of 8, and a u64 FNV-1a checksum of everything before it. */

#define SNAP_MAGIC   "RGSN"
#define SNAP_VERSION 2 /* 1: the same without lock.last_holder (still read) */

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void snap_encode(struct wire_w *w, const struct fsm *f)
{
    wire_put_bytes(w, SNAP_MAGIC, 4);
    wire_put_u8(w, SNAP_VERSION);
    wire_put_u8(w, 0);
    wire_put_u8(w, 0);
    wire_put_u8(w, 0);
    wire_put_u64(w, f->revision);
    wire_put_str(w, f->initialize);
    wire_put_u64(w, f->config_version);
    wire_put_str(w, f->config_json);
    wire_put_str(w, f->lock.holder);
    wire_put_u64(w, f->lock.version);
    wire_put_u32(w, f->lock.ttl_ms);
    wire_put_u64(w, f->optime_lsn);
    wire_put_u64(w, f->optime_version);
    wire_put_str(w, f->sync.leader);
    wire_put_u64(w, f->sync.version);
    wire_put_u32(w, f->sync.n_names);
    for (uint32_t i = 0; i < f->sync.n_names; i++) {
        wire_put_str(w, f->sync.names[i]);
    }
    wire_put_u8(w, f->failover.pending ? 1 : 0);
    wire_put_str(w, f->failover.leader);
    wire_put_str(w, f->failover.candidate);
    wire_put_u64(w, (uint64_t)f->failover.scheduled_at);
    wire_put_u64(w, f->failover.version);
    wire_put_u8(w, f->pause ? 1 : 0);
    wire_put_u32(w, f->n_members);
    for (uint32_t i = 0; i < f->n_members; i++) {
        const struct fsm_member *m = &f->members[i];
        wire_put_str(w, m->name);
        wire_put_u64(w, m->seq);
        wire_put_str(w, m->api_url);
        wire_put_str(w, m->conn_url);
        wire_put_str(w, m->raft_addr);
        wire_put_u64(w, m->raft_id);
        wire_put_str(w, m->role);
        wire_put_str(w, m->state);
        wire_put_u32(w, m->timeline);
        wire_put_u64(w, m->received_lsn);
        wire_put_u64(w, m->replayed_lsn);
        wire_put_u64(w, m->write_lsn);
        wire_put_str(w, m->tags);
        wire_put_u64(w, m->version);
    }
    wire_put_u32(w, f->n_history);
    for (uint32_t i = 0; i < f->n_history; i++) {
        const struct fsm_history *h = &f->history[i];
        wire_put_u32(w, h->timeline);
        wire_put_u64(w, h->lsn);
        wire_put_str(w, h->reason);
        wire_put_u64(w, (uint64_t)h->time);
        wire_put_str(w, h->new_leader);
    }
    wire_put_str(w, f->lock.last_holder);
    wire_pad8(w);
}

size_t fsm_snapshot_size(const struct fsm *f)
{
    struct wire_w w = {0};
    snap_encode(&w, f);
    return w.off + 8;
}

int fsm_snapshot_write(const struct fsm *f, void *buf, size_t len)
{
    struct wire_w w = {.p = buf, .cap = len};
    if (buf == NULL || len != fsm_snapshot_size(f)) {
        return FSM_EMALFORMED;
    }
    snap_encode(&w, f);
    wire_put_u64(&w, fnv1a64(buf, w.off));
    if (w.over || w.off != len) {
        return FSM_EMALFORMED;
    }
    return FSM_OK;
}

int fsm_snapshot(const struct fsm *f, void **buf, size_t *len)
{
    size_t n = fsm_snapshot_size(f);
    void *p = malloc(n);
    int rc;
    if (p == NULL) {
        return FSM_ENOMEM;
    }
    rc = fsm_snapshot_write(f, p, n);
    if (rc != FSM_OK) {
        free(p);
        return rc;
    }
    *buf = p;
    *len = n;
    return FSM_OK;
}

/* Read a string into fixed storage; the bound is the field's own. */
#define GETSTR(r, dst, max)                                                                        \
    do {                                                                                           \
        size_t n_;                                                                                 \
        const char *s_ = wire_get_str((r), (max), &n_);                                            \
        wire_copy_str((dst), s_, n_);                                                              \
    } while (0)

static bool get_bool(struct wire_r *r)
{
    uint8_t b = wire_get_u8(r);
    if (r->bad == NULL && b > 1) {
        r->bad = "boolean is neither 0 nor 1";
    }
    return b == 1;
}

static void snap_decode(struct wire_r *r, struct fsm *t, int version)
{
    t->revision = wire_get_u64(r);
    GETSTR(r, t->initialize, FSM_SYSID_MAX);
    t->config_version = wire_get_u64(r);
    GETSTR(r, t->config_json, FSM_CONFIG_MAX);
    GETSTR(r, t->lock.holder, FSM_NAME_MAX);
    t->lock.version = wire_get_u64(r);
    t->lock.ttl_ms = wire_get_u32(r);
    t->optime_lsn = wire_get_u64(r);
    t->optime_version = wire_get_u64(r);
    GETSTR(r, t->sync.leader, FSM_NAME_MAX);
    t->sync.version = wire_get_u64(r);
    t->sync.n_names = wire_get_u32(r);
    if (t->sync.n_names > FSM_MAX_SYNC) {
        r->bad = "too many synchronous standby names";
        return;
    }
    for (uint32_t i = 0; i < t->sync.n_names; i++) {
        GETSTR(r, t->sync.names[i], FSM_NAME_MAX);
    }
    t->failover.pending = get_bool(r);
    GETSTR(r, t->failover.leader, FSM_NAME_MAX);
    GETSTR(r, t->failover.candidate, FSM_NAME_MAX);
    t->failover.scheduled_at = (int64_t)wire_get_u64(r);
    t->failover.version = wire_get_u64(r);
    t->pause = get_bool(r);
    t->n_members = wire_get_u32(r);
    if (t->n_members > FSM_MAX_MEMBERS) {
        r->bad = "too many members";
        return;
    }
    for (uint32_t i = 0; i < t->n_members && r->bad == NULL; i++) {
        struct fsm_member *m = &t->members[i];
        GETSTR(r, m->name, FSM_NAME_MAX);
        m->seq = wire_get_u64(r);
        GETSTR(r, m->api_url, FSM_URL_MAX);
        GETSTR(r, m->conn_url, FSM_URL_MAX);
        GETSTR(r, m->raft_addr, FSM_URL_MAX);
        m->raft_id = wire_get_u64(r);
        GETSTR(r, m->role, FSM_WORD_MAX);
        GETSTR(r, m->state, FSM_WORD_MAX);
        m->timeline = wire_get_u32(r);
        m->received_lsn = wire_get_u64(r);
        m->replayed_lsn = wire_get_u64(r);
        m->write_lsn = wire_get_u64(r);
        GETSTR(r, m->tags, FSM_TAGS_MAX);
        m->version = wire_get_u64(r);
        /* The registry must be sorted and unique: apply relies on it. */
        if (r->bad == NULL && m->name[0] == 0) {
            r->bad = "member without a name";
        }
        if (r->bad == NULL && i > 0 && strcmp(t->members[i - 1].name, m->name) >= 0) {
            r->bad = "members not sorted by name";
        }
    }
    t->n_history = wire_get_u32(r);
    if (t->n_history > FSM_MAX_HISTORY) {
        r->bad = "too many history entries";
        return;
    }
    for (uint32_t i = 0; i < t->n_history && r->bad == NULL; i++) {
        struct fsm_history *h = &t->history[i];
        h->timeline = wire_get_u32(r);
        h->lsn = wire_get_u64(r);
        GETSTR(r, h->reason, FSM_REASON_MAX);
        h->time = (int64_t)wire_get_u64(r);
        GETSTR(r, h->new_leader, FSM_NAME_MAX);
    }
    if (version >= 2) {
        GETSTR(r, t->lock.last_holder, FSM_NAME_MAX);
    }
}

int fsm_restore(struct fsm *f, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    struct wire_r r;
    struct fsm *t;
    uint64_t sum = 0;

    if (buf == NULL || len < 16 || len % 8 != 0 || memcmp(p, SNAP_MAGIC, 4) != 0) {
        return FSM_EMALFORMED;
    }
    if (p[4] != SNAP_VERSION && p[4] != 1) {
        return FSM_EVERSION;
    }
    if (p[5] != 0 || p[6] != 0 || p[7] != 0) {
        return FSM_EMALFORMED;
    }
    for (int i = 0; i < 8; i++) {
        sum |= (uint64_t)p[len - 8 + (size_t)i] << (8 * i);
    }
    if (sum != fnv1a64(p, len - 8)) {
        return FSM_EMALFORMED;
    }
    /* Decode into a scratch state; the live one is replaced only when all is well. */
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return FSM_ENOMEM;
    }
    r = (struct wire_r){.p = p, .len = len - 8, .off = 8};
    snap_decode(&r, t, p[4]);
    wire_expect_pad_end(&r);
    if (r.bad != NULL) {
        free(t);
        return FSM_EMALFORMED;
    }
    t->last_result = f->last_result;
    memcpy(f, t, sizeof *f);
    free(t);
    return FSM_OK;
}
