/* Unit tests of the replicated state machine (raft_fsm/fsm.c, fsm_codec.c): every
 * command's success and rejection paths, every malformed-input class, and snapshot /
 * restore. A rejected entry must leave the state byte-identical, which is checked by
 * comparing snapshots taken before and after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft_fsm/fsm.h"
#include "raft_fsm/fsm_codec.h"
#include "raft_fsm/fsm_wire.h"

/* ---- helpers ------------------------------------------------------------------------ */

static struct fsm *new_fsm(void)
{
    struct fsm *f = malloc(sizeof *f);
    assert_non_null(f);
    assert_int_equal(fsm_init(f), FSM_OK);
    return f;
}

static void free_fsm(struct fsm *f)
{
    fsm_close(f);
    free(f);
}

/* Encode, check the raft padding rule, apply. */
static int apply(struct fsm *f, const struct fsm_cmd *c, struct fsm_result *res)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = fsm_cmd_encode(c, &buf, &len);
    assert_int_equal(rc, FSM_OK);
    assert_int_equal(len % 8, 0);
    assert_int_equal(len, fsm_cmd_encoded_size(c));
    rc = fsm_apply(f, buf, len, res);
    free(buf);
    return rc;
}

static void snap(const struct fsm *f, void **buf, size_t *len)
{
    assert_int_equal(fsm_snapshot(f, buf, len), FSM_OK);
    assert_int_equal(*len % 8, 0);
}

static void assert_state_is(const struct fsm *f, const void *before, size_t before_len)
{
    void *now;
    size_t len;
    snap(f, &now, &len);
    assert_int_equal(len, before_len);
    assert_memory_equal(now, before, len);
    free(now);
}

/* Apply an entry that must be rejected with rc and must not change a byte. */
static void apply_raw_rejected(struct fsm *f, const void *buf, size_t len, int rc)
{
    void *before;
    size_t before_len;
    struct fsm_result res;
    snap(f, &before, &before_len);
    int got = fsm_apply(f, buf, len, &res);
    if (rc >= 0) {
        assert_int_equal(got, rc);
    } else {
        assert_int_not_equal(got, FSM_OK);
    }
    assert_int_equal(res.rc, got);
    assert_int_equal(res.revision, f->revision);
    assert_true(strlen(res.msg) > 0);
    assert_state_is(f, before, before_len);
    free(before);
}

static void apply_rejected(struct fsm *f, const struct fsm_cmd *c, int rc, struct fsm_result *res)
{
    void *before, *buf;
    size_t before_len, len;
    snap(f, &before, &before_len);
    assert_int_equal(fsm_cmd_encode(c, &buf, &len), FSM_OK);
    assert_int_equal(fsm_apply(f, buf, len, res), rc);
    assert_int_equal(res->rc, rc);
    assert_int_equal(res->revision, f->revision);
    assert_state_is(f, before, before_len);
    free(buf);
    free(before);
}

static uint64_t apply_ok(struct fsm *f, const struct fsm_cmd *c)
{
    struct fsm_result res;
    uint64_t rev = f->revision;
    int rc = apply(f, c, &res);
    if (rc != FSM_OK) {
        fail_msg("%s rejected: %s (%s)", fsm_cmd_name(c->type), fsm_strerror(rc), res.msg);
    }
    assert_int_equal(res.revision, rev + 1);
    assert_int_equal(f->revision, rev + 1);
    return res.version;
}

static struct fsm_cmd c_acquire(const char *name, uint32_t ttl)
{
    struct fsm_cmd c = {.type = FSM_CMD_LOCK_ACQUIRE};
    c.u.acquire.name = name;
    c.u.acquire.ttl_ms = ttl;
    return c;
}

static struct fsm_cmd c_renew(const char *name, uint64_t version, uint32_t ttl)
{
    struct fsm_cmd c = {.type = FSM_CMD_LOCK_RENEW};
    c.u.renew.name = name;
    c.u.renew.version = version;
    c.u.renew.ttl_ms = ttl;
    return c;
}

static struct fsm_cmd c_release(const char *name, uint64_t version)
{
    struct fsm_cmd c = {.type = FSM_CMD_LOCK_RELEASE};
    c.u.release.name = name;
    c.u.release.version = version;
    return c;
}

static struct fsm_cmd c_expire(const char *holder, uint64_t version)
{
    struct fsm_cmd c = {.type = FSM_CMD_LOCK_EXPIRE};
    c.u.expire.holder = holder;
    c.u.expire.version = version;
    return c;
}

static struct fsm_cmd c_transfer(const char *from, uint64_t version, const char *to, uint32_t ttl)
{
    struct fsm_cmd c = {.type = FSM_CMD_LOCK_TRANSFER};
    c.u.transfer.from = from;
    c.u.transfer.version = version;
    c.u.transfer.to = to;
    c.u.transfer.ttl_ms = ttl;
    return c;
}

static struct fsm_cmd c_member(const char *name, uint64_t seq, uint64_t raft_id)
{
    struct fsm_cmd c = {.type = FSM_CMD_MEMBER_UPDATE};
    c.u.member_update.name = name;
    c.u.member_update.seq = seq;
    c.u.member_update.api_url = "http://10.0.0.1:8008/patroni";
    c.u.member_update.conn_url = "postgres://10.0.0.1:5432/postgres";
    c.u.member_update.raft_addr = "10.0.0.1:5010";
    c.u.member_update.raft_id = raft_id;
    c.u.member_update.role = "replica";
    c.u.member_update.state = "running";
    c.u.member_update.timeline = 3;
    c.u.member_update.received_lsn = 0x3000060;
    c.u.member_update.replayed_lsn = 0x3000050;
    c.u.member_update.write_lsn = 0;
    c.u.member_update.tags = "{\"nofailover\":false}";
    return c;
}

static struct fsm_cmd c_simple(uint8_t type)
{
    struct fsm_cmd c;
    memset(&c, 0, sizeof c);
    c.type = type;
    return c;
}

/* One valid command of every type, for the codec tests. */
static struct fsm_cmd sample(int type)
{
    struct fsm_cmd c = c_simple((uint8_t)type);
    switch (type) {
    case FSM_CMD_INITIALIZE:
        c.u.initialize.sysid = "7212345678901234567";
        break;
    case FSM_CMD_CONFIG_SET:
        c.u.config_set.expected_version = FSM_ANY_VERSION;
        c.u.config_set.json = "{\"ttl\":30,\"loop_wait\":10}";
        break;
    case FSM_CMD_LOCK_ACQUIRE:
        return c_acquire("node1", 30000);
    case FSM_CMD_LOCK_RENEW:
        return c_renew("node1", 7, 30000);
    case FSM_CMD_LOCK_RELEASE:
        return c_release("node1", 7);
    case FSM_CMD_LOCK_EXPIRE:
        return c_expire("node1", 7);
    case FSM_CMD_LOCK_TRANSFER:
        return c_transfer("node1", 7, "node2", 30000);
    case FSM_CMD_MEMBER_UPDATE:
        return c_member("node9", 42, 99);
    case FSM_CMD_MEMBER_REMOVE:
        c.u.member_remove.name = "node1";
        break;
    case FSM_CMD_OPTIME_SET:
        c.u.optime_set.name = "node1";
        c.u.optime_set.lsn = 0x5000000;
        break;
    case FSM_CMD_SYNC_SET:
        c.u.sync_set.leader = "node1";
        c.u.sync_set.expected_version = FSM_ANY_VERSION;
        c.u.sync_set.n_names = 2;
        c.u.sync_set.names[0] = "node2";
        c.u.sync_set.names[1] = "node3";
        break;
    case FSM_CMD_FAILOVER_SET:
        c.u.failover_set.leader = "node1";
        c.u.failover_set.candidate = "node2";
        c.u.failover_set.scheduled_at = 1700000000000;
        break;
    case FSM_CMD_FAILOVER_CLEAR:
        c.u.failover_clear.expected_version = FSM_ANY_VERSION;
        break;
    case FSM_CMD_HISTORY_APPEND:
        c.u.history_append.timeline = 4;
        c.u.history_append.lsn = 0x6000000;
        c.u.history_append.reason = "no recovery target specified";
        c.u.history_append.time = 1700000000123;
        c.u.history_append.new_leader = "node2";
        break;
    case FSM_CMD_PAUSE_SET:
        c.u.pause_set.pause = true;
        break;
    default:
        break;
    }
    return c;
}

/* A state with every field set, including the lock held by node1. */
static void populate(struct fsm *f)
{
    struct fsm_cmd c;
    c = sample(FSM_CMD_INITIALIZE);
    apply_ok(f, &c);
    c = sample(FSM_CMD_CONFIG_SET);
    apply_ok(f, &c);
    const char *names[] = {"node3", "node1", "node2"};
    for (int i = 0; i < 3; i++) {
        c = c_member(names[i], 1, (uint64_t)(100 + i));
        apply_ok(f, &c);
    }
    c = c_acquire("node1", 30000);
    apply_ok(f, &c);
    c = sample(FSM_CMD_OPTIME_SET);
    apply_ok(f, &c);
    c = sample(FSM_CMD_SYNC_SET);
    apply_ok(f, &c);
    c = sample(FSM_CMD_FAILOVER_SET);
    apply_ok(f, &c);
    for (uint32_t i = 1; i <= 3; i++) {
        c = sample(FSM_CMD_HISTORY_APPEND);
        c.u.history_append.timeline = i;
        apply_ok(f, &c);
    }
    c = sample(FSM_CMD_PAUSE_SET);
    apply_ok(f, &c);
}

/* ---- commands ----------------------------------------------------------------------- */

static void test_init_empty(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    assert_int_equal(f->revision, 0);
    assert_string_equal(f->lock.holder, "");
    assert_int_equal(f->n_members, 0);
    assert_null(fsm_member_find(f, "x"));
    assert_null(fsm_member_by_raft_id(f, 1));
    assert_string_equal(fsm_strerror(FSM_OK), "ok");
    assert_string_equal(fsm_strerror(FSM_ECONFLICT), "conflict");
    assert_string_equal(fsm_strerror(FSM_ENOTFOUND), "not found");
    assert_string_equal(fsm_strerror(-1), "unknown error");
    assert_string_equal(fsm_strerror(99), "unknown error");
    assert_string_equal(fsm_cmd_name(FSM_CMD_LOCK_EXPIRE), "lock_expire");
    assert_string_equal(fsm_cmd_name(0), "unknown");
    free_fsm(f);
}

static void test_noop_bumps_revision(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_cmd c = c_simple(FSM_CMD_NOOP);
    apply_ok(f, &c);
    apply_ok(f, &c);
    assert_int_equal(f->revision, 2);
    free_fsm(f);
}

static void test_initialize(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = sample(FSM_CMD_INITIALIZE);
    apply_ok(f, &c);
    assert_string_equal(f->initialize, "7212345678901234567");
    /* Same value again: idempotent success. */
    apply_ok(f, &c);
    assert_string_equal(f->initialize, "7212345678901234567");
    /* Another value: conflict, state unchanged. */
    c.u.initialize.sysid = "7299999999999999999";
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    assert_string_equal(f->initialize, "7212345678901234567");
    free_fsm(f);
}

static void test_config_cas(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = c_simple(FSM_CMD_CONFIG_SET);
    c.u.config_set.expected_version = 0; /* from "never set" */
    c.u.config_set.json = "{\"ttl\":30}";
    uint64_t v1 = apply_ok(f, &c);
    assert_int_equal(v1, f->revision);
    assert_int_equal(f->config_version, v1);
    assert_string_equal(f->config_json, "{\"ttl\":30}");

    /* Stale CAS: still expecting 0. */
    c.u.config_set.json = "{\"ttl\":20}";
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    assert_int_equal(res.version, v1);
    assert_string_equal(f->config_json, "{\"ttl\":30}");

    c.u.config_set.expected_version = v1;
    uint64_t v2 = apply_ok(f, &c);
    assert_true(v2 > v1);
    assert_string_equal(f->config_json, "{\"ttl\":20}");

    /* Unconditional; empty text is allowed. */
    c.u.config_set.expected_version = FSM_ANY_VERSION;
    c.u.config_set.json = "";
    uint64_t v3 = apply_ok(f, &c);
    assert_true(v3 > v2);
    assert_string_equal(f->config_json, "");
    free_fsm(f);
}

static void test_lock_acquire_renew_release(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c;

    apply_ok(f, &(struct fsm_cmd){.type = FSM_CMD_NOOP});
    c = c_acquire("node1", 30000);
    uint64_t v1 = apply_ok(f, &c);
    assert_int_equal(v1, 2); /* the revision at which it was applied */
    assert_string_equal(f->lock.holder, "node1");
    assert_int_equal(f->lock.version, v1);
    assert_int_equal(f->lock.ttl_ms, 30000);

    /* Held: nobody acquires, not even the holder (CAS on empty). */
    c = c_acquire("node2", 30000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    assert_int_equal(res.version, v1);
    c = c_acquire("node1", 30000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);

    /* Renew: wrong holder, wrong version. */
    c = c_renew("node2", v1, 30000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    c = c_renew("node1", v1 + 1, 30000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    c = c_renew("node1", v1 - 1, 30000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);

    c = c_renew("node1", v1, 20000);
    uint64_t v2 = apply_ok(f, &c);
    assert_int_equal(v2, v1 + 1);
    assert_int_equal(f->lock.version, v2);
    assert_int_equal(f->lock.ttl_ms, 20000);

    /* A retried renew (same old version) is harmless. */
    c = c_renew("node1", v1, 20000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    assert_int_equal(res.version, v2);

    /* Release: wrong version, wrong holder, then right. */
    c = c_release("node1", v1);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    c = c_release("node2", v2);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    c = c_release("node1", v2);
    uint64_t v3 = apply_ok(f, &c);
    assert_string_equal(f->lock.holder, "");
    assert_int_equal(f->lock.version, v3);
    assert_int_equal(f->lock.ttl_ms, 0);
    assert_string_equal(f->lock.last_holder, "node1"); /* kept for a full restart */

    /* Renew or release of a free lock. */
    c = c_renew("node1", v3, 20000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    c = c_release("node1", v3);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);

    /* Free again: acquirable. */
    c = c_acquire("node2", 30000);
    apply_ok(f, &c);
    assert_string_equal(f->lock.holder, "node2");
    free_fsm(f);
}

static void test_lock_expire(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = c_acquire("node1", 30000);
    uint64_t v1 = apply_ok(f, &c);
    c = c_renew("node1", v1, 30000);
    uint64_t v2 = apply_ok(f, &c);

    /* An expire proposed for the old version (a renew raced it) does nothing. */
    c = c_expire("node1", v1);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    c = c_expire("node2", v2);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    assert_string_equal(f->lock.holder, "node1");

    c = c_expire("node1", v2);
    uint64_t v3 = apply_ok(f, &c);
    assert_string_equal(f->lock.holder, "");
    assert_string_equal(f->lock.last_holder, "node1");
    assert_int_equal(f->lock.version, v3);
    /* Duplicate expire: conflict, harmless. */
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    free_fsm(f);
}

static void test_lock_transfer(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = c_acquire("node1", 30000);
    uint64_t v1 = apply_ok(f, &c);

    c = c_transfer("node1", v1 + 5, "node2", 25000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    c = c_transfer("node3", v1, "node2", 25000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);

    c = c_transfer("node1", v1, "node2", 25000);
    uint64_t v2 = apply_ok(f, &c);
    assert_string_equal(f->lock.holder, "node2");
    assert_string_equal(f->lock.last_holder, "node2");
    assert_int_equal(f->lock.version, v2);
    assert_int_equal(f->lock.ttl_ms, 25000);
    /* The old holder can no longer renew; the new one can. */
    c = c_renew("node1", v2, 30000);
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    c = c_renew("node2", v2, 30000);
    apply_ok(f, &c);

    /* Transfer of a free lock. */
    struct fsm *g = new_fsm();
    c = c_transfer("node1", 0, "node2", 25000);
    apply_rejected(g, &c, FSM_ECONFLICT, &res);
    free_fsm(g);
    free_fsm(f);
}

static void test_member_update_remove(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = c_member("node2", 5, 202);
    apply_ok(f, &c);
    c = c_member("node1", 1, 101);
    apply_ok(f, &c);
    assert_int_equal(f->n_members, 2);
    assert_string_equal(f->members[0].name, "node1"); /* sorted */
    assert_string_equal(f->members[1].name, "node2");

    const struct fsm_member *m = fsm_member_find(f, "node2");
    assert_non_null(m);
    assert_int_equal(m->seq, 5);
    assert_int_equal(m->raft_id, 202);
    assert_string_equal(m->api_url, "http://10.0.0.1:8008/patroni");
    assert_string_equal(m->conn_url, "postgres://10.0.0.1:5432/postgres");
    assert_string_equal(m->raft_addr, "10.0.0.1:5010");
    assert_string_equal(m->role, "replica");
    assert_string_equal(m->state, "running");
    assert_int_equal(m->timeline, 3);
    assert_int_equal(m->received_lsn, 0x3000060);
    assert_int_equal(m->replayed_lsn, 0x3000050);
    assert_string_equal(m->tags, "{\"nofailover\":false}");
    assert_ptr_equal(fsm_member_by_raft_id(f, 101), fsm_member_find(f, "node1"));
    assert_null(fsm_member_by_raft_id(f, 303));

    /* Same or lower seq: stale, nothing changes. */
    c = c_member("node2", 5, 202);
    c.u.member_update.role = "primary";
    apply_rejected(f, &c, FSM_ESTALE, &res);
    c.u.member_update.seq = 4;
    apply_rejected(f, &c, FSM_ESTALE, &res);
    assert_string_equal(fsm_member_find(f, "node2")->role, "replica");

    /* Higher seq: full replacement. */
    c.u.member_update.seq = 6;
    c.u.member_update.tags = "";
    uint64_t v = apply_ok(f, &c);
    m = fsm_member_find(f, "node2");
    assert_string_equal(m->role, "primary");
    assert_string_equal(m->tags, "");
    assert_int_equal(m->seq, 6);
    assert_int_equal(m->version, v);

    /* Remove. */
    c = c_simple(FSM_CMD_MEMBER_REMOVE);
    c.u.member_remove.name = "node1";
    apply_ok(f, &c);
    assert_int_equal(f->n_members, 1);
    assert_null(fsm_member_find(f, "node1"));
    assert_string_equal(f->members[0].name, "node2");
    apply_rejected(f, &c, FSM_ENOTFOUND, &res);
    free_fsm(f);
}

static void test_member_limit(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    char name[32];
    for (int i = 0; i < FSM_MAX_MEMBERS; i++) {
        snprintf(name, sizeof name, "m%03d", FSM_MAX_MEMBERS - i); /* reverse order */
        struct fsm_cmd c = c_member(name, 1, (uint64_t)i + 1);
        apply_ok(f, &c);
    }
    assert_int_equal(f->n_members, FSM_MAX_MEMBERS);
    for (uint32_t i = 1; i < f->n_members; i++) {
        assert_true(strcmp(f->members[i - 1].name, f->members[i].name) < 0);
    }
    struct fsm_cmd c = c_member("zzz", 1, 1000);
    apply_rejected(f, &c, FSM_ELIMIT, &res);
    /* Updating an existing member still works when full. */
    c = c_member("m001", 2, 1000);
    apply_ok(f, &c);
    free_fsm(f);
}

static void test_optime(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = sample(FSM_CMD_OPTIME_SET);
    apply_rejected(f, &c, FSM_ECONFLICT, &res); /* lock free */
    struct fsm_cmd a = c_acquire("node2", 30000);
    apply_ok(f, &a);
    apply_rejected(f, &c, FSM_ECONFLICT, &res); /* node1 is not the holder */
    c.u.optime_set.name = "node2";
    uint64_t v = apply_ok(f, &c);
    assert_int_equal(f->optime_lsn, 0x5000000);
    assert_int_equal(f->optime_version, v);
    free_fsm(f);
}

static void test_sync(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = sample(FSM_CMD_SYNC_SET);
    apply_rejected(f, &c, FSM_ECONFLICT, &res); /* node1 does not hold the lock */
    struct fsm_cmd a = c_acquire("node1", 30000);
    apply_ok(f, &a);
    c.u.sync_set.expected_version = 0;
    uint64_t v1 = apply_ok(f, &c);
    assert_string_equal(f->sync.leader, "node1");
    assert_int_equal(f->sync.n_names, 2);
    assert_string_equal(f->sync.names[0], "node2");
    assert_string_equal(f->sync.names[1], "node3");
    assert_int_equal(f->sync.version, v1);

    /* Stale CAS. */
    c.u.sync_set.n_names = 1;
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    assert_int_equal(res.version, v1);
    c.u.sync_set.expected_version = v1;
    apply_ok(f, &c);
    assert_int_equal(f->sync.n_names, 1);
    assert_string_equal(f->sync.names[1], ""); /* no leftovers */

    /* Clear: empty leader, no names, allowed from anyone. */
    c = c_simple(FSM_CMD_SYNC_SET);
    c.u.sync_set.expected_version = FSM_ANY_VERSION;
    apply_ok(f, &c);
    assert_string_equal(f->sync.leader, "");
    assert_int_equal(f->sync.n_names, 0);

    /* Invalid commands do not even encode. */
    void *buf;
    size_t len;
    c = sample(FSM_CMD_SYNC_SET);
    c.u.sync_set.names[1] = "node2";
    assert_int_equal(fsm_cmd_encode(&c, &buf, &len), FSM_EMALFORMED);
    c.u.sync_set.n_names = FSM_MAX_SYNC + 1;
    assert_int_equal(fsm_cmd_encode(&c, &buf, &len), FSM_EMALFORMED);
    c = sample(FSM_CMD_SYNC_SET);
    c.u.sync_set.names[0] = "";
    assert_int_equal(fsm_cmd_encode(&c, &buf, &len), FSM_EMALFORMED);
    free_fsm(f);
}

static void test_failover(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = sample(FSM_CMD_FAILOVER_SET);
    uint64_t v1 = apply_ok(f, &c);
    assert_true(f->failover.pending);
    assert_string_equal(f->failover.leader, "node1");
    assert_string_equal(f->failover.candidate, "node2");
    assert_int_equal(f->failover.scheduled_at, 1700000000000);
    assert_int_equal(f->failover.version, v1);

    /* Only a candidate (failover, no leader) is fine; both empty is not. */
    c.u.failover_set.leader = "";
    c.u.failover_set.scheduled_at = 0;
    uint64_t v2 = apply_ok(f, &c);
    assert_string_equal(f->failover.leader, "");
    c.u.failover_set.candidate = NULL;
    void *buf;
    size_t len;
    assert_int_equal(fsm_cmd_encode(&c, &buf, &len), FSM_EMALFORMED);

    c = c_simple(FSM_CMD_FAILOVER_CLEAR);
    c.u.failover_clear.expected_version = v1; /* stale */
    apply_rejected(f, &c, FSM_ECONFLICT, &res);
    assert_true(f->failover.pending);
    c.u.failover_clear.expected_version = v2;
    apply_ok(f, &c);
    assert_false(f->failover.pending);
    assert_string_equal(f->failover.candidate, "");
    c.u.failover_clear.expected_version = FSM_ANY_VERSION;
    apply_ok(f, &c); /* clearing nothing is fine */
    free_fsm(f);
}

static void test_history_bounded(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_cmd c = sample(FSM_CMD_HISTORY_APPEND);
    for (uint32_t i = 1; i <= FSM_MAX_HISTORY + 44; i++) {
        c.u.history_append.timeline = i;
        c.u.history_append.lsn = i * 16ULL;
        apply_ok(f, &c);
    }
    assert_int_equal(f->n_history, FSM_MAX_HISTORY);
    assert_int_equal(f->history[0].timeline, 45); /* the oldest 44 dropped */
    assert_int_equal(f->history[FSM_MAX_HISTORY - 1].timeline, FSM_MAX_HISTORY + 44);
    assert_int_equal(f->history[0].lsn, 45 * 16);
    assert_string_equal(f->history[0].reason, "no recovery target specified");
    assert_int_equal(f->history[0].time, 1700000000123);
    assert_string_equal(f->history[0].new_leader, "node2");
    free_fsm(f);
}

static void test_pause(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_cmd c = sample(FSM_CMD_PAUSE_SET);
    apply_ok(f, &c);
    assert_true(f->pause);
    c.u.pause_set.pause = false;
    apply_ok(f, &c);
    assert_false(f->pause);
    free_fsm(f);
}

static void test_apply_cmd_direct(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm_result res;
    struct fsm_cmd c = c_acquire("node1", 0); /* ttl 0 is invalid */
    assert_int_equal(fsm_apply_cmd(f, &c, &res), FSM_EMALFORMED);
    assert_int_equal(f->revision, 0);
    c = c_simple(77);
    assert_int_equal(fsm_apply_cmd(f, &c, &res), FSM_EUNKNOWN);
    c = c_acquire("node1", 1000);
    assert_int_equal(fsm_apply_cmd(f, &c, NULL), FSM_OK);
    assert_string_equal(f->lock.holder, "node1");
    free_fsm(f);
}

/* ---- encoding and malformed input --------------------------------------------------- */

static void test_encode_decode_roundtrip(void **state)
{
    (void)state;
    for (int t = 1; t <= FSM_CMD_MAX; t++) {
        struct fsm_cmd c = sample(t), d;
        void *buf;
        size_t len;
        char err[128];
        assert_int_equal(fsm_cmd_encode(&c, &buf, &len), FSM_OK);
        assert_int_equal(len % 8, 0);
        const uint8_t *p = buf;
        assert_int_equal(p[0], FSM_ENTRY_MAGIC);
        assert_int_equal(p[1], FSM_ENTRY_VERSION);
        assert_int_equal(p[2], t);
        assert_int_equal(fsm_cmd_decode(buf, len, &d, err, sizeof err), FSM_OK);
        assert_int_equal(d.type, t);
        /* Re-encoding the decoded command gives the same bytes. */
        void *buf2;
        size_t len2;
        assert_int_equal(fsm_cmd_encode(&d, &buf2, &len2), FSM_OK);
        assert_int_equal(len2, len);
        assert_memory_equal(buf, buf2, len);
        free(buf2);
        free(buf);
    }
    /* Spot-check decoded fields point at NUL-terminated strings. */
    struct fsm_cmd c = sample(FSM_CMD_MEMBER_UPDATE), d;
    void *buf;
    size_t len;
    assert_int_equal(fsm_cmd_encode(&c, &buf, &len), FSM_OK);
    assert_int_equal(fsm_cmd_decode(buf, len, &d, NULL, 0), FSM_OK);
    assert_string_equal(d.u.member_update.name, "node9");
    assert_string_equal(d.u.member_update.tags, "{\"nofailover\":false}");
    assert_int_equal(d.u.member_update.seq, 42);
    assert_int_equal(d.u.member_update.received_lsn, 0x3000060);
    assert_true((const char *)d.u.member_update.name >= (const char *)buf &&
                (const char *)d.u.member_update.name < (const char *)buf + len);
    free(buf);

    /* Byte-level layout of a small entry (docs/state-machine.md example). */
    c = c_acquire("n1", 30000);
    assert_int_equal(fsm_cmd_encode(&c, &buf, &len), FSM_OK);
    static const uint8_t expect[24] = {0x52, 1,    4, 0, 11,  0,   0, 0, /* header */
                                       2,    0,    0, 0, 'n', '1', 0,    /* name */
                                       0x30, 0x75, 0, 0,                 /* ttl 30000 */
                                       0,    0,    0, 0, 0};             /* padding */
    assert_int_equal(len, sizeof expect);
    assert_memory_equal(buf, expect, sizeof expect);
    free(buf);
}

static void test_truncated_every_offset(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    populate(f);
    for (int t = 1; t <= FSM_CMD_MAX; t++) {
        struct fsm_cmd c = sample(t);
        void *buf;
        size_t len;
        assert_int_equal(fsm_cmd_encode(&c, &buf, &len), FSM_OK);
        for (size_t cut = 0; cut < len; cut++) {
            /* Copy into an exact-size allocation so a read past cut is caught by ASan. */
            void *part = malloc(cut > 0 ? cut : 1);
            memcpy(part, buf, cut);
            apply_raw_rejected(f, part, cut, -1);
            free(part);
        }
        free(buf);
    }
    free_fsm(f);
}

static void *encode_sample(int t, size_t *len)
{
    struct fsm_cmd c = sample(t);
    void *buf;
    assert_int_equal(fsm_cmd_encode(&c, &buf, len), FSM_OK);
    return buf;
}

static void test_bad_header(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    populate(f);
    size_t len;
    uint8_t *buf = encode_sample(FSM_CMD_LOCK_RENEW, &len);

    buf[0] = 0x53; /* magic */
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    buf[0] = FSM_ENTRY_MAGIC;

    buf[1] = 2; /* future format version */
    apply_raw_rejected(f, buf, len, FSM_EVERSION);
    buf[1] = 0;
    apply_raw_rejected(f, buf, len, FSM_EVERSION);
    buf[1] = FSM_ENTRY_VERSION;

    buf[2] = 0; /* unknown types */
    apply_raw_rejected(f, buf, len, FSM_EUNKNOWN);
    buf[2] = FSM_CMD_MAX + 1;
    apply_raw_rejected(f, buf, len, FSM_EUNKNOWN);
    buf[2] = 255;
    apply_raw_rejected(f, buf, len, FSM_EUNKNOWN);
    buf[2] = FSM_CMD_LOCK_RENEW;

    buf[3] = 1; /* flags */
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    buf[3] = 0;

    /* Payload length: overflow, beyond the entry, short by one. */
    uint8_t saved[4];
    memcpy(saved, buf + 4, 4);
    memset(buf + 4, 0xff, 4);
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    buf[4] = (uint8_t)(len - 8 + 1);
    memset(buf + 5, 0, 3);
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    memcpy(buf + 4, saved, 4);
    buf[4]--;
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    memcpy(buf + 4, saved, 4);

    /* The unmodified entry is still fine (and is a real renew: node1 holds the lock,
     * but version 7 is not current, so it is a conflict, not a decode error). */
    apply_raw_rejected(f, buf, len, FSM_ECONFLICT);
    free(buf);
    free_fsm(f);
}

static void test_bad_padding_and_trailing(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    populate(f);
    size_t len;
    /* lock_acquire "node1": 8 + (4+5+1) + 4 = 22 bytes, 2 bytes of padding. */
    uint8_t *buf = encode_sample(FSM_CMD_LOCK_ACQUIRE, &len);
    assert_int_equal(len, 24);
    buf[23] = 1;
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    buf[23] = 0;
    buf[22] = 0x80;
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    buf[22] = 0;

    /* Trailing bytes: 8 more zero bytes, or 8 more garbage bytes. */
    uint8_t *longer = calloc(1, len + 8);
    memcpy(longer, buf, len);
    apply_raw_rejected(f, longer, len + 8, FSM_EMALFORMED);
    memset(longer + len, 0xab, 8);
    apply_raw_rejected(f, longer, len + 8, FSM_EMALFORMED);
    /* Not a multiple of 8 (one extra byte). */
    apply_raw_rejected(f, longer, len + 1, FSM_EMALFORMED);
    free(longer);

    /* Trailing bytes inside the payload: declare 4 more payload bytes (they are
     * zero padding bytes, but the payload must be consumed exactly). */
    uint8_t *p2 = encode_sample(FSM_CMD_NOOP, &len);
    assert_int_equal(len, 8);
    uint8_t *p3 = calloc(1, 16);
    memcpy(p3, p2, 8);
    p3[4] = 4;
    apply_raw_rejected(f, p3, 16, FSM_EMALFORMED);
    free(p3);
    free(p2);
    free(buf);
    free_fsm(f);
}

/* Hand-built entries for what the encoder refuses to produce. */
static size_t raw_entry(uint8_t *out, size_t cap, uint8_t type,
                        void (*fill)(struct wire_w *w, const void *arg), const void *arg)
{
    struct wire_w w = {.p = out, .cap = cap};
    struct wire_w count = {0};
    fill(&count, arg);
    wire_put_u8(&w, FSM_ENTRY_MAGIC);
    wire_put_u8(&w, FSM_ENTRY_VERSION);
    wire_put_u8(&w, type);
    wire_put_u8(&w, 0);
    wire_put_u32(&w, (uint32_t)count.off);
    fill(&w, arg);
    wire_pad8(&w);
    assert_false(w.over);
    return w.off;
}

static void fill_acquire(struct wire_w *w, const void *arg)
{
    wire_put_str(w, arg);
    wire_put_u32(w, 30000);
}

static void fill_acquire_ttl0(struct wire_w *w, const void *arg)
{
    wire_put_str(w, arg);
    wire_put_u32(w, 0);
}

static void fill_config(struct wire_w *w, const void *arg)
{
    wire_put_u64(w, FSM_ANY_VERSION);
    wire_put_str(w, arg);
}

static void fill_sync_count(struct wire_w *w, const void *arg)
{
    wire_put_str(w, "node1");
    wire_put_u64(w, FSM_ANY_VERSION);
    wire_put_u32(w, *(const uint32_t *)arg);
    for (uint32_t i = 0; i < *(const uint32_t *)arg; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%u", (unsigned)i);
        wire_put_str(w, name);
    }
}

static void fill_pause(struct wire_w *w, const void *arg)
{
    wire_put_u8(w, *(const uint8_t *)arg);
}

static void test_bad_strings_and_fields(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    populate(f);
    /* Free the lock so a decodable acquire would be accepted: rejections below are
     * then due to the encoding alone. */
    struct fsm_cmd rel = c_release("node1", f->lock.version);
    apply_ok(f, &rel);

    size_t cap = FSM_CONFIG_MAX + 1024;
    uint8_t *buf = malloc(cap);
    char *big = malloc(FSM_CONFIG_MAX + 2);
    size_t len;

    /* Name at the bound is fine (checked on a copy), one more byte is not. */
    memset(big, 'a', FSM_NAME_MAX + 1);
    big[FSM_NAME_MAX + 1] = 0;
    len = raw_entry(buf, cap, FSM_CMD_LOCK_ACQUIRE, fill_acquire, big);
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    big[FSM_NAME_MAX] = 0;
    len = raw_entry(buf, cap, FSM_CMD_LOCK_ACQUIRE, fill_acquire, big);
    struct fsm *g = new_fsm();
    struct fsm_result res;
    assert_int_equal(fsm_apply(g, buf, len, &res), FSM_OK);
    free_fsm(g);

    /* Config over its bound. */
    memset(big, '{', FSM_CONFIG_MAX + 1);
    big[FSM_CONFIG_MAX + 1] = 0;
    len = raw_entry(buf, cap, FSM_CMD_CONFIG_SET, fill_config, big);
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);

    /* Empty required name; control character in a name; ttl 0. */
    len = raw_entry(buf, cap, FSM_CMD_LOCK_ACQUIRE, fill_acquire, "");
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    len = raw_entry(buf, cap, FSM_CMD_LOCK_ACQUIRE, fill_acquire, "no\nde");
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    len = raw_entry(buf, cap, FSM_CMD_LOCK_ACQUIRE, fill_acquire_ttl0, "node1");
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);

    /* Embedded NUL and missing terminator: "node1" at offset 12..16, NUL at 17. */
    len = raw_entry(buf, cap, FSM_CMD_LOCK_ACQUIRE, fill_acquire, "node1");
    assert_int_equal(buf[12], 'n');
    buf[14] = 0;
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    buf[14] = 'd';
    buf[17] = 'x';
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    buf[17] = 0;
    /* String length overflowing the entry. */
    memset(buf + 8, 0xff, 4);
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    buf[8] = 200;
    memset(buf + 9, 0, 3);
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);

    /* Too many sync names; a pause flag that is not 0/1. */
    uint32_t n = FSM_MAX_SYNC + 1;
    len = raw_entry(buf, cap, FSM_CMD_SYNC_SET, fill_sync_count, &n);
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);
    uint8_t two = 2;
    len = raw_entry(buf, cap, FSM_CMD_PAUSE_SET, fill_pause, &two);
    apply_raw_rejected(f, buf, len, FSM_EMALFORMED);

    /* The encoder refuses the same things. */
    void *out;
    size_t olen;
    struct fsm_cmd c = c_acquire(big, 1000); /* 65536-byte name */
    assert_int_equal(fsm_cmd_encode(&c, &out, &olen), FSM_EMALFORMED);
    c = c_acquire("", 1000);
    assert_int_equal(fsm_cmd_encode(&c, &out, &olen), FSM_EMALFORMED);
    c = c_acquire(NULL, 1000);
    assert_int_equal(fsm_cmd_encode(&c, &out, &olen), FSM_EMALFORMED);
    c = c_acquire("node1", 0);
    assert_int_equal(fsm_cmd_encode(&c, &out, &olen), FSM_EMALFORMED);
    c = c_simple(0);
    assert_int_equal(fsm_cmd_encode(&c, &out, &olen), FSM_EUNKNOWN);
    c = c_member("node1", 1, 1);
    big[FSM_URL_MAX + 1] = 0;
    c.u.member_update.api_url = big;
    assert_int_equal(fsm_cmd_encode(&c, &out, &olen), FSM_EMALFORMED);
    assert_int_equal(fsm_cmd_encoded_size(&c), 0);
    big[FSM_URL_MAX] = 0;
    assert_int_equal(fsm_cmd_encode(&c, &out, &olen), FSM_OK);
    free(out);

    free(big);
    free(buf);
    free_fsm(f);
}

/* Flip every bit of every byte of every sample entry: never a crash, and whatever is
 * rejected leaves the state as it was. Whatever is accepted must re-encode to the same
 * bytes (the encoding is canonical). */
static void test_bit_flips(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm *g = new_fsm();
    populate(f);
    void *base;
    size_t base_len;
    snap(f, &base, &base_len);
    for (int t = 1; t <= FSM_CMD_MAX; t++) {
        size_t len;
        uint8_t *buf = encode_sample(t, &len);
        for (size_t i = 0; i < len; i++) {
            for (int bit = 0; bit < 8; bit++) {
                struct fsm_cmd d;
                buf[i] ^= (uint8_t)(1u << bit);
                if (fsm_cmd_decode(buf, len, &d, NULL, 0) == FSM_OK) {
                    void *re;
                    size_t relen;
                    assert_int_equal(fsm_cmd_encode(&d, &re, &relen), FSM_OK);
                    assert_int_equal(relen, len);
                    assert_memory_equal(re, buf, len);
                    free(re);
                } else {
                    assert_int_equal(fsm_restore(g, base, base_len), FSM_OK);
                    apply_raw_rejected(g, buf, len, -1);
                }
                buf[i] ^= (uint8_t)(1u << bit);
            }
        }
        free(buf);
    }
    free(base);
    free_fsm(g);
    free_fsm(f);
}

/* ---- snapshot / restore ------------------------------------------------------------- */

static void test_snapshot_roundtrip(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm *g = new_fsm();
    populate(f);
    void *s1, *s2;
    size_t n1, n2;
    snap(f, &s1, &n1);
    assert_int_equal(n1, fsm_snapshot_size(f));
    assert_int_equal(fsm_restore(g, s1, n1), FSM_OK);
    snap(g, &s2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(s1, s2, n1);

    /* Field checks on the restored copy. */
    assert_int_equal(g->revision, f->revision);
    assert_string_equal(g->initialize, "7212345678901234567");
    assert_string_equal(g->config_json, "{\"ttl\":30,\"loop_wait\":10}");
    assert_int_equal(g->config_version, f->config_version);
    assert_string_equal(g->lock.holder, "node1");
    assert_int_equal(g->lock.version, f->lock.version);
    assert_int_equal(g->lock.ttl_ms, 30000);
    assert_int_equal(g->optime_lsn, 0x5000000);
    assert_int_equal(g->optime_version, f->optime_version);
    assert_string_equal(g->sync.leader, "node1");
    assert_int_equal(g->sync.n_names, 2);
    assert_string_equal(g->sync.names[1], "node3");
    assert_int_equal(g->sync.version, f->sync.version);
    assert_true(g->failover.pending);
    assert_string_equal(g->failover.candidate, "node2");
    assert_int_equal(g->failover.scheduled_at, 1700000000000);
    assert_int_equal(g->failover.version, f->failover.version);
    assert_true(g->pause);
    assert_int_equal(g->n_members, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_memory_equal(&g->members[i], &f->members[i], sizeof g->members[i]);
    }
    assert_int_equal(g->n_history, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_memory_equal(&g->history[i], &f->history[i], sizeof g->history[i]);
    }
    /* The whole replicated part is equal byte for byte (fixed-size, zero-filled). */
    assert_memory_equal(g, f, offsetof(struct fsm, last_result));

    /* And the restored state keeps working like the original. */
    struct fsm_cmd c = c_renew("node1", f->lock.version, 30000);
    apply_ok(f, &c);
    apply_ok(g, &c);
    free(s1);
    free(s2);
    snap(f, &s1, &n1);
    snap(g, &s2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(s1, s2, n1);
    free(s1);
    free(s2);
    free_fsm(g);
    free_fsm(f);
}

/* Everything at its bound: 64 members with maximal strings, 256 history entries. */
static void test_snapshot_full_state(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm *g = new_fsm();
    char *cfg = malloc(FSM_CONFIG_MAX + 1);
    char tags[FSM_TAGS_MAX + 1], url[FSM_URL_MAX + 1], word[FSM_WORD_MAX + 1];
    char name[FSM_NAME_MAX + 1], reason[FSM_REASON_MAX + 1];
    memset(cfg, 'c', FSM_CONFIG_MAX);
    cfg[FSM_CONFIG_MAX] = 0;
    memset(tags, 't', FSM_TAGS_MAX);
    tags[FSM_TAGS_MAX] = 0;
    memset(url, 'u', FSM_URL_MAX);
    url[FSM_URL_MAX] = 0;
    memset(word, 'w', FSM_WORD_MAX);
    word[FSM_WORD_MAX] = 0;
    memset(reason, 'r', FSM_REASON_MAX);
    reason[FSM_REASON_MAX] = 0;

    struct fsm_cmd c = c_simple(FSM_CMD_CONFIG_SET);
    c.u.config_set.expected_version = FSM_ANY_VERSION;
    c.u.config_set.json = cfg;
    apply_ok(f, &c);
    for (int i = 0; i < FSM_MAX_MEMBERS; i++) {
        memset(name, 'n', FSM_NAME_MAX);
        name[FSM_NAME_MAX] = 0;
        snprintf(name + FSM_NAME_MAX - 3, 4, "%03d", i);
        c = c_member(name, UINT64_MAX - 1, UINT64_MAX - (uint64_t)i);
        c.u.member_update.api_url = url;
        c.u.member_update.conn_url = url;
        c.u.member_update.raft_addr = url;
        c.u.member_update.role = word;
        c.u.member_update.state = word;
        c.u.member_update.tags = tags;
        c.u.member_update.timeline = UINT32_MAX;
        c.u.member_update.write_lsn = UINT64_MAX;
        apply_ok(f, &c);
    }
    c = c_acquire(name, UINT32_MAX);
    apply_ok(f, &c);
    c = c_simple(FSM_CMD_SYNC_SET);
    c.u.sync_set.leader = name;
    c.u.sync_set.expected_version = FSM_ANY_VERSION;
    char sync_names[FSM_MAX_SYNC][8];
    c.u.sync_set.n_names = FSM_MAX_SYNC;
    for (int i = 0; i < FSM_MAX_SYNC; i++) {
        snprintf(sync_names[i], sizeof sync_names[i], "s%d", i);
        c.u.sync_set.names[i] = sync_names[i];
    }
    apply_ok(f, &c);
    for (int i = 0; i < FSM_MAX_HISTORY; i++) {
        c = sample(FSM_CMD_HISTORY_APPEND);
        c.u.history_append.reason = reason;
        c.u.history_append.time = -(int64_t)i; /* negative times survive */
        c.u.history_append.new_leader = name;
        apply_ok(f, &c);
    }
    c = sample(FSM_CMD_FAILOVER_SET);
    c.u.failover_set.scheduled_at = INT64_MIN;
    apply_ok(f, &c);

    void *s1, *s2;
    size_t n1, n2;
    snap(f, &s1, &n1);
    assert_int_equal(fsm_restore(g, s1, n1), FSM_OK);
    snap(g, &s2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(s1, s2, n1);
    assert_memory_equal(g, f, offsetof(struct fsm, last_result));
    assert_int_equal(g->history[5].time, -5);
    assert_int_equal(g->failover.scheduled_at, INT64_MIN);
    free(s1);
    free(s2);
    free(cfg);
    free_fsm(g);
    free_fsm(f);
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ULL;
    }
    return h;
}

static void reseal(uint8_t *s, size_t n)
{
    uint64_t h = fnv(s, n - 8);
    for (int i = 0; i < 8; i++) {
        s[n - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
    }
}

static void restore_rejected(struct fsm *f, const void *buf, size_t len, int rc)
{
    void *before;
    size_t before_len;
    snap(f, &before, &before_len);
    int got = fsm_restore(f, buf, len);
    if (rc >= 0) {
        assert_int_equal(got, rc);
    } else {
        assert_int_not_equal(got, FSM_OK);
    }
    assert_state_is(f, before, before_len);
    free(before);
}

static void test_restore_corrupt_keeps_state(void **state)
{
    (void)state;
    struct fsm *f = new_fsm();
    struct fsm *other = new_fsm();
    populate(f);
    populate(other);
    struct fsm_cmd c = c_member("node4", 1, 104);
    apply_ok(other, &c);

    uint8_t *s;
    size_t n;
    snap(other, (void **)&s, &n);

    /* Every truncation. */
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *part = malloc(cut > 0 ? cut : 1);
        memcpy(part, s, cut);
        restore_rejected(f, part, cut, -1);
        free(part);
    }
    /* Every single-byte corruption is caught (checksum). */
    for (size_t i = 0; i < n; i += 3) {
        s[i] ^= 0x40;
        restore_rejected(f, s, n, -1);
        s[i] ^= 0x40;
    }
    /* Trailing bytes. */
    uint8_t *longer = calloc(1, n + 8);
    memcpy(longer, s, n);
    restore_rejected(f, longer, n + 8, FSM_EMALFORMED);
    free(longer);
    restore_rejected(f, NULL, 0, FSM_EMALFORMED);
    free(s);

    /* Structural errors behind a valid checksum, on the empty-state snapshot whose
     * layout is fixed: header 8, revision 8, initialize 5, config_version 8, config 5,
     * holder 5, lock version 8, ttl 4, optime 8+8, sync leader 5, sync version 8,
     * n_names 4, pending 1, leader 5, candidate 5, scheduled_at 8, version 8,
     * pause 1 (offset 111), n_members 4 (112), n_history 4 (116), last_holder 5 (120),
     * padding 3, checksum (128). */
    struct fsm *e = new_fsm();
    snap(e, (void **)&s, &n);
    assert_int_equal(n, 136);
    assert_int_equal(fsm_restore(other, s, n), FSM_OK); /* empty snapshot is valid */
    populate(other);

    /* Version 1 (no last_holder) is still read: the same bytes up to the history. */
    uint8_t v1[128];
    memcpy(v1, s, 120);
    v1[4] = 1;
    reseal(v1, sizeof(v1));
    assert_int_equal(fsm_restore(other, v1, sizeof(v1)), FSM_OK);
    assert_string_equal(other->lock.last_holder, "");
    populate(other);

    s[4] = 3; /* unknown snapshot version */
    reseal(s, n);
    restore_rejected(f, s, n, FSM_EVERSION);
    s[4] = 2;
    s[111] = 2; /* pause not a bool */
    reseal(s, n);
    restore_rejected(f, s, n, FSM_EMALFORMED);
    s[111] = 0;
    s[112] = FSM_MAX_MEMBERS + 1; /* member count over the bound */
    reseal(s, n);
    restore_rejected(f, s, n, FSM_EMALFORMED);
    s[112] = 1; /* one member that is not there */
    reseal(s, n);
    restore_rejected(f, s, n, FSM_EMALFORMED);
    s[112] = 0;
    s[116] = 0xff; /* history count over the bound */
    reseal(s, n);
    restore_rejected(f, s, n, FSM_EMALFORMED);
    s[116] = 0;
    s[0] = 'X'; /* magic */
    reseal(s, n);
    restore_rejected(f, s, n, FSM_EMALFORMED);
    s[0] = 'R';
    reseal(s, n);
    assert_int_equal(fsm_restore(f, s, n), FSM_OK);
    assert_int_equal(f->revision, 0);
    free(s);

    /* Unsorted members behind a valid checksum. */
    struct fsm *u = new_fsm();
    c = c_member("b", 1, 1);
    apply_ok(u, &c);
    c = c_member("c", 1, 2);
    apply_ok(u, &c);
    snap(u, (void **)&s, &n);
    uint8_t *pos = memmem(s, n, "c\0", 2); /* rename "c" to "a": now b, a */
    assert_non_null(pos);
    *pos = 'a';
    reseal(s, n);
    restore_rejected(other, s, n, FSM_EMALFORMED);
    *pos = 'b'; /* duplicate b, b */
    reseal(s, n);
    restore_rejected(other, s, n, FSM_EMALFORMED);
    free(s);
    free_fsm(u);
    free_fsm(e);
    free_fsm(other);
    free_fsm(f);
}

/* Determinism: two members applying the same mixed sequence (accepted and rejected)
 * end byte-identical. */
static void test_determinism(void **state)
{
    (void)state;
    struct fsm *a = new_fsm(), *b = new_fsm();
    void *bufs[64];
    size_t lens[64];
    int n = 0;
    for (int round = 0; round < 3; round++) {
        for (int t = 1; t <= FSM_CMD_MAX; t++) {
            struct fsm_cmd c = sample(t);
            assert_int_equal(fsm_cmd_encode(&c, &bufs[n], &lens[n]), FSM_OK);
            n++;
        }
    }
    for (int i = 0; i < n; i++) {
        struct fsm_result ra, rb;
        fsm_apply(a, bufs[i], lens[i], &ra);
        fsm_apply(b, bufs[i], lens[i], &rb);
        assert_int_equal(ra.rc, rb.rc);
        assert_int_equal(ra.version, rb.version);
        assert_string_equal(ra.msg, rb.msg);
    }
    void *sa, *sb;
    size_t na, nb;
    snap(a, &sa, &na);
    snap(b, &sb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(sa, sb, na);
    free(sa);
    free(sb);
    for (int i = 0; i < n; i++) {
        free(bufs[i]);
    }
    free_fsm(a);
    free_fsm(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_empty),
        cmocka_unit_test(test_noop_bumps_revision),
        cmocka_unit_test(test_initialize),
        cmocka_unit_test(test_config_cas),
        cmocka_unit_test(test_lock_acquire_renew_release),
        cmocka_unit_test(test_lock_expire),
        cmocka_unit_test(test_lock_transfer),
        cmocka_unit_test(test_member_update_remove),
        cmocka_unit_test(test_member_limit),
        cmocka_unit_test(test_optime),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_history_bounded),
        cmocka_unit_test(test_pause),
        cmocka_unit_test(test_apply_cmd_direct),
        cmocka_unit_test(test_encode_decode_roundtrip),
        cmocka_unit_test(test_truncated_every_offset),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_bad_padding_and_trailing),
        cmocka_unit_test(test_bad_strings_and_fields),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_snapshot_roundtrip),
        cmocka_unit_test(test_snapshot_full_state),
        cmocka_unit_test(test_restore_corrupt_keeps_state),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
