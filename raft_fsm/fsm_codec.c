/* fsm_codec: the versioned byte encoding of one log entry (one command).
 *
 * Entry layout (all integers little-endian), documented in docs/state-machine.md:
 *
 *   offset 0  u8   magic 0x52 ('R')
 *   offset 1  u8   format version (FSM_ENTRY_VERSION = 1)
 *   offset 2  u8   command type (enum fsm_cmd_type)
 *   offset 3  u8   flags (must be 0)
 *   offset 4  u32  payload length P
 *   offset 8  P bytes of payload (the command's fields in a fixed order)
 *   then      zero bytes up to the next multiple of 8 (raft padding pitfall, libnotes.md)
 *
 * The decoder accepts exactly that: every length is checked against the remaining
 * bytes, the payload must be consumed exactly, padding must be zero and the entry must
 * end there. Semantic rules shared with the encoder (bounds, required fields, ttl > 0)
 * live in cmd_check(), so what encodes always decodes and vice versa. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_fsm/fsm.h"
#include "raft_fsm/fsm_codec.h"
#include "raft_fsm/fsm_wire.h"

static const char *const cmd_names[FSM_CMD_MAX + 1] = {
    [0] = "unknown",
    [FSM_CMD_NOOP] = "noop",
    [FSM_CMD_INITIALIZE] = "initialize",
    [FSM_CMD_CONFIG_SET] = "config_set",
    [FSM_CMD_LOCK_ACQUIRE] = "lock_acquire",
    [FSM_CMD_LOCK_RENEW] = "lock_renew",
    [FSM_CMD_LOCK_RELEASE] = "lock_release",
    [FSM_CMD_LOCK_EXPIRE] = "lock_expire",
    [FSM_CMD_LOCK_TRANSFER] = "lock_transfer",
    [FSM_CMD_MEMBER_UPDATE] = "member_update",
    [FSM_CMD_MEMBER_REMOVE] = "member_remove",
    [FSM_CMD_OPTIME_SET] = "optime_set",
    [FSM_CMD_SYNC_SET] = "sync_set",
    [FSM_CMD_FAILOVER_SET] = "failover_set",
    [FSM_CMD_FAILOVER_CLEAR] = "failover_clear",
    [FSM_CMD_HISTORY_APPEND] = "history_append",
    [FSM_CMD_PAUSE_SET] = "pause_set",
};

const char *fsm_cmd_name(int type)
{
    if (type < 1 || type > FSM_CMD_MAX) {
        return "unknown";
    }
    return cmd_names[type];
}

static size_t slen(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

/* A string field: at most max bytes; required fields must be non-empty; names must
 * also be printable (no control characters: they end up in logs, URLs and JSON). */
static int check_str(const char *s, size_t max, bool required, bool name, const char *field,
                     char *why, size_t whylen)
{
    size_t n = slen(s);
    if (n > max) {
        snprintf(why, whylen, "%s longer than %zu bytes", field, max);
        return FSM_EMALFORMED;
    }
    if (required && n == 0) {
        snprintf(why, whylen, "%s is empty", field);
        return FSM_EMALFORMED;
    }
    if (name) {
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch < 0x20 || ch == 0x7f) {
                snprintf(why, whylen, "%s contains a control character", field);
                return FSM_EMALFORMED;
            }
        }
    }
    return FSM_OK;
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != FSM_OK) {                                                                       \
            return rc_;                                                                            \
        }                                                                                          \
    } while (0)

#define NAME(s, field)      CHECK(check_str((s), FSM_NAME_MAX, true, true, (field), why, whylen))
#define OPTNAME(s, field)   CHECK(check_str((s), FSM_NAME_MAX, false, true, (field), why, whylen))
#define TEXT(s, max, field) CHECK(check_str((s), (max), false, false, (field), why, whylen))

static int check_ttl(uint32_t ttl_ms, char *why, size_t whylen)
{
    if (ttl_ms == 0) {
        snprintf(why, whylen, "ttl_ms is 0");
        return FSM_EMALFORMED;
    }
    return FSM_OK;
}

int fsm_cmd_check(const struct fsm_cmd *c, char *why, size_t whylen)
{
    switch (c->type) {
    case FSM_CMD_NOOP:
        return FSM_OK;
    case FSM_CMD_INITIALIZE:
        CHECK(check_str(c->u.initialize.sysid, FSM_SYSID_MAX, true, true, "sysid", why, whylen));
        return FSM_OK;
    case FSM_CMD_CONFIG_SET:
        TEXT(c->u.config_set.json, FSM_CONFIG_MAX, "config json");
        return FSM_OK;
    case FSM_CMD_LOCK_ACQUIRE:
        NAME(c->u.acquire.name, "name");
        return check_ttl(c->u.acquire.ttl_ms, why, whylen);
    case FSM_CMD_LOCK_RENEW:
        NAME(c->u.renew.name, "name");
        return check_ttl(c->u.renew.ttl_ms, why, whylen);
    case FSM_CMD_LOCK_RELEASE:
        NAME(c->u.release.name, "name");
        return FSM_OK;
    case FSM_CMD_LOCK_EXPIRE:
        NAME(c->u.expire.holder, "holder");
        return FSM_OK;
    case FSM_CMD_LOCK_TRANSFER:
        NAME(c->u.transfer.from, "from");
        NAME(c->u.transfer.to, "to");
        return check_ttl(c->u.transfer.ttl_ms, why, whylen);
    case FSM_CMD_MEMBER_UPDATE: {
        const __typeof__(c->u.member_update) *m = &c->u.member_update;
        NAME(m->name, "name");
        TEXT(m->api_url, FSM_URL_MAX, "api_url");
        TEXT(m->conn_url, FSM_URL_MAX, "conn_url");
        TEXT(m->raft_addr, FSM_URL_MAX, "raft_addr");
        CHECK(check_str(m->role, FSM_WORD_MAX, false, true, "role", why, whylen));
        CHECK(check_str(m->state, FSM_WORD_MAX, false, true, "state", why, whylen));
        TEXT(m->tags, FSM_TAGS_MAX, "tags");
        return FSM_OK;
    }
    case FSM_CMD_MEMBER_REMOVE:
        NAME(c->u.member_remove.name, "name");
        return FSM_OK;
    case FSM_CMD_OPTIME_SET:
        NAME(c->u.optime_set.name, "name");
        return FSM_OK;
    case FSM_CMD_SYNC_SET: {
        const __typeof__(c->u.sync_set) *s = &c->u.sync_set;
        OPTNAME(s->leader, "leader");
        if (s->n_names > FSM_MAX_SYNC) {
            snprintf(why, whylen, "more than %d synchronous standby names", FSM_MAX_SYNC);
            return FSM_EMALFORMED;
        }
        for (uint32_t i = 0; i < s->n_names; i++) {
            NAME(s->names[i], "synchronous standby name");
            for (uint32_t j = 0; j < i; j++) {
                if (strcmp(s->names[i], s->names[j]) == 0) {
                    snprintf(why, whylen, "duplicate synchronous standby name");
                    return FSM_EMALFORMED;
                }
            }
        }
        return FSM_OK;
    }
    case FSM_CMD_FAILOVER_SET:
        OPTNAME(c->u.failover_set.leader, "leader");
        OPTNAME(c->u.failover_set.candidate, "candidate");
        if (slen(c->u.failover_set.leader) == 0 && slen(c->u.failover_set.candidate) == 0) {
            snprintf(why, whylen, "failover needs a leader or a candidate");
            return FSM_EMALFORMED;
        }
        return FSM_OK;
    case FSM_CMD_FAILOVER_CLEAR:
        return FSM_OK;
    case FSM_CMD_HISTORY_APPEND:
        TEXT(c->u.history_append.reason, FSM_REASON_MAX, "reason");
        OPTNAME(c->u.history_append.new_leader, "new_leader");
        return FSM_OK;
    case FSM_CMD_PAUSE_SET:
        return FSM_OK;
    default:
        snprintf(why, whylen, "unknown command type %u", (unsigned)c->type);
        return FSM_EUNKNOWN;
    }
}

/* Payload fields in wire order. The same order is read back in decode_payload(). */
static void encode_payload(struct wire_w *w, const struct fsm_cmd *c)
{
    switch (c->type) {
    case FSM_CMD_NOOP:
        break;
    case FSM_CMD_INITIALIZE:
        wire_put_str(w, c->u.initialize.sysid);
        break;
    case FSM_CMD_CONFIG_SET:
        wire_put_u64(w, c->u.config_set.expected_version);
        wire_put_str(w, c->u.config_set.json);
        break;
    case FSM_CMD_LOCK_ACQUIRE:
        wire_put_str(w, c->u.acquire.name);
        wire_put_u32(w, c->u.acquire.ttl_ms);
        break;
    case FSM_CMD_LOCK_RENEW:
        wire_put_str(w, c->u.renew.name);
        wire_put_u64(w, c->u.renew.version);
        wire_put_u32(w, c->u.renew.ttl_ms);
        break;
    case FSM_CMD_LOCK_RELEASE:
        wire_put_str(w, c->u.release.name);
        wire_put_u64(w, c->u.release.version);
        break;
    case FSM_CMD_LOCK_EXPIRE:
        wire_put_str(w, c->u.expire.holder);
        wire_put_u64(w, c->u.expire.version);
        break;
    case FSM_CMD_LOCK_TRANSFER:
        wire_put_str(w, c->u.transfer.from);
        wire_put_u64(w, c->u.transfer.version);
        wire_put_str(w, c->u.transfer.to);
        wire_put_u32(w, c->u.transfer.ttl_ms);
        break;
    case FSM_CMD_MEMBER_UPDATE: {
        const __typeof__(c->u.member_update) *m = &c->u.member_update;
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
        break;
    }
    case FSM_CMD_MEMBER_REMOVE:
        wire_put_str(w, c->u.member_remove.name);
        break;
    case FSM_CMD_OPTIME_SET:
        wire_put_str(w, c->u.optime_set.name);
        wire_put_u64(w, c->u.optime_set.lsn);
        break;
    case FSM_CMD_SYNC_SET:
        wire_put_str(w, c->u.sync_set.leader);
        wire_put_u64(w, c->u.sync_set.expected_version);
        wire_put_u32(w, c->u.sync_set.n_names);
        for (uint32_t i = 0; i < c->u.sync_set.n_names; i++) {
            wire_put_str(w, c->u.sync_set.names[i]);
        }
        break;
    case FSM_CMD_FAILOVER_SET:
        wire_put_str(w, c->u.failover_set.leader);
        wire_put_str(w, c->u.failover_set.candidate);
        wire_put_u64(w, (uint64_t)c->u.failover_set.scheduled_at);
        break;
    case FSM_CMD_FAILOVER_CLEAR:
        wire_put_u64(w, c->u.failover_clear.expected_version);
        break;
    case FSM_CMD_HISTORY_APPEND:
        wire_put_u32(w, c->u.history_append.timeline);
        wire_put_u64(w, c->u.history_append.lsn);
        wire_put_str(w, c->u.history_append.reason);
        wire_put_u64(w, (uint64_t)c->u.history_append.time);
        wire_put_str(w, c->u.history_append.new_leader);
        break;
    case FSM_CMD_PAUSE_SET:
        wire_put_u8(w, c->u.pause_set.pause ? 1 : 0);
        break;
    default:
        break;
    }
}

/* Strings are read with the bound of their field, so an oversize string is rejected
 * before cmd_check() even looks at it. */
static void decode_payload(struct wire_r *r, struct fsm_cmd *c)
{
    size_t n;
    switch (c->type) {
    case FSM_CMD_NOOP:
        break;
    case FSM_CMD_INITIALIZE:
        c->u.initialize.sysid = wire_get_str(r, FSM_SYSID_MAX, &n);
        break;
    case FSM_CMD_CONFIG_SET:
        c->u.config_set.expected_version = wire_get_u64(r);
        c->u.config_set.json = wire_get_str(r, FSM_CONFIG_MAX, &n);
        break;
    case FSM_CMD_LOCK_ACQUIRE:
        c->u.acquire.name = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.acquire.ttl_ms = wire_get_u32(r);
        break;
    case FSM_CMD_LOCK_RENEW:
        c->u.renew.name = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.renew.version = wire_get_u64(r);
        c->u.renew.ttl_ms = wire_get_u32(r);
        break;
    case FSM_CMD_LOCK_RELEASE:
        c->u.release.name = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.release.version = wire_get_u64(r);
        break;
    case FSM_CMD_LOCK_EXPIRE:
        c->u.expire.holder = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.expire.version = wire_get_u64(r);
        break;
    case FSM_CMD_LOCK_TRANSFER:
        c->u.transfer.from = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.transfer.version = wire_get_u64(r);
        c->u.transfer.to = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.transfer.ttl_ms = wire_get_u32(r);
        break;
    case FSM_CMD_MEMBER_UPDATE: {
        __typeof__(c->u.member_update) *m = &c->u.member_update;
        m->name = wire_get_str(r, FSM_NAME_MAX, &n);
        m->seq = wire_get_u64(r);
        m->api_url = wire_get_str(r, FSM_URL_MAX, &n);
        m->conn_url = wire_get_str(r, FSM_URL_MAX, &n);
        m->raft_addr = wire_get_str(r, FSM_URL_MAX, &n);
        m->raft_id = wire_get_u64(r);
        m->role = wire_get_str(r, FSM_WORD_MAX, &n);
        m->state = wire_get_str(r, FSM_WORD_MAX, &n);
        m->timeline = wire_get_u32(r);
        m->received_lsn = wire_get_u64(r);
        m->replayed_lsn = wire_get_u64(r);
        m->write_lsn = wire_get_u64(r);
        m->tags = wire_get_str(r, FSM_TAGS_MAX, &n);
        break;
    }
    case FSM_CMD_MEMBER_REMOVE:
        c->u.member_remove.name = wire_get_str(r, FSM_NAME_MAX, &n);
        break;
    case FSM_CMD_OPTIME_SET:
        c->u.optime_set.name = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.optime_set.lsn = wire_get_u64(r);
        break;
    case FSM_CMD_SYNC_SET:
        c->u.sync_set.leader = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.sync_set.expected_version = wire_get_u64(r);
        c->u.sync_set.n_names = wire_get_u32(r);
        if (r->bad == NULL && c->u.sync_set.n_names > FSM_MAX_SYNC) {
            r->bad = "too many synchronous standby names";
            c->u.sync_set.n_names = 0;
            break;
        }
        for (uint32_t i = 0; i < c->u.sync_set.n_names; i++) {
            c->u.sync_set.names[i] = wire_get_str(r, FSM_NAME_MAX, &n);
        }
        break;
    case FSM_CMD_FAILOVER_SET:
        c->u.failover_set.leader = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.failover_set.candidate = wire_get_str(r, FSM_NAME_MAX, &n);
        c->u.failover_set.scheduled_at = (int64_t)wire_get_u64(r);
        break;
    case FSM_CMD_FAILOVER_CLEAR:
        c->u.failover_clear.expected_version = wire_get_u64(r);
        break;
    case FSM_CMD_HISTORY_APPEND:
        c->u.history_append.timeline = wire_get_u32(r);
        c->u.history_append.lsn = wire_get_u64(r);
        c->u.history_append.reason = wire_get_str(r, FSM_REASON_MAX, &n);
        c->u.history_append.time = (int64_t)wire_get_u64(r);
        c->u.history_append.new_leader = wire_get_str(r, FSM_NAME_MAX, &n);
        break;
    case FSM_CMD_PAUSE_SET: {
        uint8_t b = wire_get_u8(r);
        if (r->bad == NULL && b > 1) {
            r->bad = "pause flag is neither 0 nor 1";
        }
        c->u.pause_set.pause = b == 1;
        break;
    }
    default:
        r->bad = "unknown command type";
        break;
    }
}

/* Header + payload + padding through one writer (counting when w->p is NULL). */
static void encode_entry(struct wire_w *w, const struct fsm_cmd *c, size_t payload)
{
    wire_put_u8(w, FSM_ENTRY_MAGIC);
    wire_put_u8(w, FSM_ENTRY_VERSION);
    wire_put_u8(w, c->type);
    wire_put_u8(w, 0);
    wire_put_u32(w, (uint32_t)payload);
    encode_payload(w, c);
    wire_pad8(w);
}

static size_t payload_size(const struct fsm_cmd *c)
{
    struct wire_w w = {0};
    encode_payload(&w, c);
    return w.off;
}

size_t fsm_cmd_encoded_size(const struct fsm_cmd *cmd)
{
    char why[FSM_MSG_MAX];
    if (cmd == NULL || fsm_cmd_check(cmd, why, sizeof why) != FSM_OK) {
        return 0;
    }
    return (FSM_ENTRY_HEADER + payload_size(cmd) + 7) / 8 * 8;
}

int fsm_cmd_encode_into(const struct fsm_cmd *cmd, void *buf, size_t len)
{
    char why[FSM_MSG_MAX];
    struct wire_w w = {.p = buf, .cap = len};
    int rc;
    if (cmd == NULL || buf == NULL) {
        return FSM_EMALFORMED;
    }
    rc = fsm_cmd_check(cmd, why, sizeof why);
    if (rc != FSM_OK) {
        return rc;
    }
    encode_entry(&w, cmd, payload_size(cmd));
    if (w.over || w.off != len) {
        return FSM_EMALFORMED;
    }
    return FSM_OK;
}

int fsm_cmd_encode(const struct fsm_cmd *cmd, void **buf, size_t *len)
{
    size_t n = fsm_cmd_encoded_size(cmd);
    void *p;
    int rc;
    if (n == 0) {
        char why[FSM_MSG_MAX];
        return cmd == NULL ? FSM_EMALFORMED : fsm_cmd_check(cmd, why, sizeof why);
    }
    p = malloc(n);
    if (p == NULL) {
        return FSM_ENOMEM;
    }
    rc = fsm_cmd_encode_into(cmd, p, n);
    if (rc != FSM_OK) {
        free(p);
        return rc;
    }
    *buf = p;
    *len = n;
    return FSM_OK;
}

static int decode_fail(int rc, char *err, size_t errlen, const char *fmt, const char *a)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, fmt, a);
    }
    return rc;
}

int fsm_cmd_decode(const void *buf, size_t len, struct fsm_cmd *out, char *err, size_t errlen)
{
    const uint8_t *p = buf;
    struct wire_r r;
    uint32_t payload;
    char why[FSM_MSG_MAX];
    int rc;

    memset(out, 0, sizeof *out);
    if (buf == NULL || len < FSM_ENTRY_HEADER) {
        return decode_fail(FSM_EMALFORMED, err, errlen, "entry %s", "shorter than its header");
    }
    if (len % 8 != 0) {
        return decode_fail(FSM_EMALFORMED, err, errlen, "entry %s",
                           "length is not a multiple of 8");
    }
    if (p[0] != FSM_ENTRY_MAGIC) {
        return decode_fail(FSM_EMALFORMED, err, errlen, "entry %s", "has a bad magic byte");
    }
    if (p[1] != FSM_ENTRY_VERSION) {
        return decode_fail(FSM_EVERSION, err, errlen, "entry %s", "has an unknown format version");
    }
    if (p[2] < 1 || p[2] > FSM_CMD_MAX) {
        return decode_fail(FSM_EUNKNOWN, err, errlen, "entry %s", "has an unknown command type");
    }
    if (p[3] != 0) {
        return decode_fail(FSM_EMALFORMED, err, errlen, "entry %s", "has unknown flags");
    }
    payload = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    if (payload > len - FSM_ENTRY_HEADER) {
        return decode_fail(FSM_EMALFORMED, err, errlen, "entry %s",
                           "payload length exceeds the entry");
    }
    out->type = p[2];

    /* Decode the payload against its own length: no field may reach the padding. */
    r = (struct wire_r){.p = p, .len = FSM_ENTRY_HEADER + (size_t)payload, .off = FSM_ENTRY_HEADER};
    decode_payload(&r, out);
    if (r.bad == NULL && r.off != r.len) {
        r.bad = "trailing bytes in the payload";
    }
    if (r.bad == NULL) {
        r.len = len; /* now check the padding up to the end of the entry */
        wire_expect_pad_end(&r);
    }
    if (r.bad != NULL) {
        const char *name = fsm_cmd_name(out->type);
        memset(out, 0, sizeof *out);
        if (err != NULL && errlen > 0) {
            snprintf(err, errlen, "%s entry: %s", name, r.bad);
        }
        return FSM_EMALFORMED;
    }
    rc = fsm_cmd_check(out, why, sizeof why);
    if (rc != FSM_OK) {
        const char *name = fsm_cmd_name(out->type);
        memset(out, 0, sizeof *out);
        if (err != NULL && errlen > 0) {
            snprintf(err, errlen, "%s entry: %s", name, why);
        }
        return rc;
    }
    return FSM_OK;
}
