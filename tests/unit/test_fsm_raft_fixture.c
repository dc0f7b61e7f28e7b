/* The state machine under real canonical/raft 0.15 logic, on the in-memory fixture
 * (raft/fixture.h) with fake time: three members, each with its own struct fsm behind
 * the fsm_raft adapter. Scenarios: leader crash, partition of the old leader, catch-up
 * through a snapshot install. Every scenario ends with byte-identical FSM snapshots on
 * all members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#include "raft_fsm/fsm.h"
#include "raft_fsm/fsm_raft.h"

#define N        3
#define MAX_REQS 256
#define WAIT_MS  30000

struct req {
    struct raft_apply apply;
    bool done;
    int status;
    struct fsm_result res;
};

struct cluster {
    struct raft_fixture fx;
    struct fsm *fsm[N];
    struct raft_fsm rfsm[N];
    struct req reqs[MAX_REQS];
    unsigned n_reqs;
};

static int setup(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    struct raft_configuration conf;
    assert_non_null(c);
    assert_int_equal(raft_fixture_initialize(&c->fx), 0);
    for (unsigned i = 0; i < N; i++) {
        c->fsm[i] = malloc(sizeof *c->fsm[i]);
        assert_non_null(c->fsm[i]);
        fsm_init(c->fsm[i]);
        assert_int_equal(fsm_raft_init(&c->rfsm[i], c->fsm[i]), 0);
        assert_int_equal(raft_fixture_grow(&c->fx, &c->rfsm[i]), 0);
    }
    assert_int_equal(raft_fixture_configuration(&c->fx, N, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&c->fx, &conf), 0);
    raft_configuration_close(&conf);
    assert_int_equal(raft_fixture_start(&c->fx), 0);
    assert_true(raft_fixture_step_until_has_leader(&c->fx, WAIT_MS));
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct cluster *c = *state;
    /* Closing the fixture may still fail pending requests: reqs stay valid until after. */
    raft_fixture_close(&c->fx);
    for (unsigned i = 0; i < N; i++) {
        fsm_raft_close(&c->rfsm[i]);
        fsm_close(c->fsm[i]);
        free(c->fsm[i]);
    }
    free(c);
    return 0;
}

static void apply_cb(struct raft_apply *a, int status, void *result)
{
    struct req *r = a->data;
    r->done = true;
    r->status = status;
    if (status == 0 && result != NULL) {
        r->res = *(const struct fsm_result *)result; /* valid only now: copy */
    }
}

/* Propose cmd on member i. The entry is encoded into a raft_malloc'ed buffer (its
 * length is a multiple of 8); raft owns it when raft_apply returns 0. */
static struct req *propose(struct cluster *c, unsigned i, const struct fsm_cmd *cmd)
{
    struct raft_buffer buf;
    struct req *r;
    int rv;
    assert_true(c->n_reqs < MAX_REQS);
    r = &c->reqs[c->n_reqs++];
    memset(r, 0, sizeof *r);
    r->apply.data = r;
    buf.len = fsm_cmd_encoded_size(cmd);
    assert_int_not_equal(buf.len, 0);
    assert_int_equal(buf.len % 8, 0);
    buf.base = raft_malloc(buf.len);
    assert_non_null(buf.base);
    assert_int_equal(fsm_cmd_encode_into(cmd, buf.base, buf.len), FSM_OK);
    rv = raft_apply(raft_fixture_get(&c->fx, i), &r->apply, &buf, 1, apply_cb);
    if (rv != 0) {
        raft_free(buf.base);
        r->done = true;
        r->status = rv;
    }
    return r;
}

static bool req_done(struct raft_fixture *fx, void *arg)
{
    (void)fx;
    return ((struct req *)arg)->done;
}

/* Propose on i and step until the callback ran; expect a commit with FSM rc. */
static struct req *commit(struct cluster *c, unsigned i, const struct fsm_cmd *cmd, int rc)
{
    struct req *r = propose(c, i, cmd);
    assert_true(raft_fixture_step_until(&c->fx, req_done, r, WAIT_MS));
    assert_int_equal(r->status, 0);
    if (r->res.rc != rc) {
        fail_msg("%s: rc %s, expected %s (%s)", fsm_cmd_name(cmd->type), fsm_strerror(r->res.rc),
                 fsm_strerror(rc), r->res.msg);
    }
    return r;
}

struct applied_arg {
    raft_index index;
};

static bool alive_applied(struct raft_fixture *fx, void *arg)
{
    raft_index index = ((struct applied_arg *)arg)->index;
    for (unsigned i = 0; i < raft_fixture_n(fx); i++) {
        if (raft_fixture_alive(fx, i) && raft_last_applied(raft_fixture_get(fx, i)) < index) {
            return false;
        }
    }
    return true;
}

/* Step until every alive member applied everything the leader i applied. */
static void converge(struct cluster *c, unsigned leader)
{
    struct applied_arg a = {raft_last_applied(raft_fixture_get(&c->fx, leader))};
    assert_true(raft_fixture_step_until(&c->fx, alive_applied, &a, WAIT_MS));
}

static void assert_all_identical(struct cluster *c)
{
    void *s0, *si;
    size_t n0, ni;
    assert_int_equal(fsm_snapshot(c->fsm[0], &s0, &n0), FSM_OK);
    for (unsigned i = 1; i < N; i++) {
        assert_int_equal(fsm_snapshot(c->fsm[i], &si, &ni), FSM_OK);
        assert_int_equal(ni, n0);
        assert_memory_equal(si, s0, n0);
        free(si);
    }
    free(s0);
}

static unsigned leader_index(struct cluster *c)
{
    unsigned l = raft_fixture_leader_index(&c->fx);
    assert_true(l < N);
    return l;
}

static struct fsm_cmd member_cmd(const char *name, uint64_t seq, uint64_t lsn)
{
    struct fsm_cmd m = {.type = FSM_CMD_MEMBER_UPDATE};
    m.u.member_update.name = name;
    m.u.member_update.seq = seq;
    m.u.member_update.api_url = "http://127.0.0.1:8008/patroni";
    m.u.member_update.conn_url = "postgres://127.0.0.1:5432/postgres";
    m.u.member_update.raft_addr = "127.0.0.1:5010";
    m.u.member_update.raft_id = seq;
    m.u.member_update.role = "replica";
    m.u.member_update.state = "streaming";
    m.u.member_update.timeline = 1;
    m.u.member_update.received_lsn = lsn;
    m.u.member_update.replayed_lsn = lsn;
    m.u.member_update.tags = "{}";
    return m;
}

static struct fsm_cmd acquire_cmd(const char *name)
{
    struct fsm_cmd a = {.type = FSM_CMD_LOCK_ACQUIRE};
    a.u.acquire.name = name;
    a.u.acquire.ttl_ms = 30000;
    return a;
}

static struct fsm_cmd renew_cmd(const char *name, uint64_t version)
{
    struct fsm_cmd r = {.type = FSM_CMD_LOCK_RENEW};
    r.u.renew.name = name;
    r.u.renew.version = version;
    r.u.renew.ttl_ms = 30000;
    return r;
}

/* (1) The Raft leader crashes: a new one is elected among the two others, entries keep
 * committing, and the crashed member catches up after it comes back. */
static void test_leader_crash(void **state)
{
    struct cluster *c = *state;
    unsigned l = leader_index(c);
    struct fsm_cmd cmd = acquire_cmd("pg1");
    struct req *r = commit(c, l, &cmd, FSM_OK);
    uint64_t v = r->res.version;
    assert_int_equal(v, c->fsm[l]->lock.version);
    cmd = member_cmd("pg1", 1, 100);
    commit(c, l, &cmd, FSM_OK);
    /* A second acquire loses the CAS: a rejected entry is committed, not an error. */
    cmd = acquire_cmd("pg2");
    r = commit(c, l, &cmd, FSM_ECONFLICT);
    assert_int_equal(r->res.version, v);
    converge(c, l);
    assert_all_identical(c);

    raft_fixture_kill(&c->fx, l);
    assert_true(raft_fixture_step_until_has_no_leader(&c->fx, WAIT_MS));
    assert_true(raft_fixture_step_until_has_leader(&c->fx, WAIT_MS));
    unsigned l2 = leader_index(c);
    assert_int_not_equal(l2, l);

    /* The lock survived the crash; its holder renews through the new leader. */
    assert_string_equal(c->fsm[l2]->lock.holder, "pg1");
    cmd = renew_cmd("pg1", v);
    r = commit(c, l2, &cmd, FSM_OK);
    assert_true(r->res.version > v);
    cmd = member_cmd("pg2", 1, 90);
    commit(c, l2, &cmd, FSM_OK);
    converge(c, l2);

    raft_fixture_revive(&c->fx, l);
    cmd = member_cmd("pg1", 2, 200);
    commit(c, l2, &cmd, FSM_OK);
    converge(c, l2);
    assert_int_equal(raft_last_applied(raft_fixture_get(&c->fx, l)),
                     raft_last_applied(raft_fixture_get(&c->fx, l2)));
    assert_int_equal(c->fsm[l]->n_members, 2);
    assert_all_identical(c);
}

struct other_leader_arg {
    struct cluster *c;
    unsigned old;
    unsigned found;
};

static bool other_has_leader(struct raft_fixture *fx, void *arg)
{
    struct other_leader_arg *a = arg;
    for (unsigned i = 0; i < N; i++) {
        if (i != a->old && raft_state(raft_fixture_get(fx, i)) == RAFT_LEADER) {
            a->found = i;
            return true;
        }
    }
    return false;
}

/* (2) The old leader is partitioned from both others. Its proposal never commits; the
 * majority elects a new leader and commits; after the partition heals the old
 * leader's uncommitted entry is discarded everywhere. */
static void test_partitioned_leader(void **state)
{
    struct cluster *c = *state;
    unsigned l = leader_index(c);
    struct fsm_cmd cmd = acquire_cmd("pg1");
    uint64_t v = commit(c, l, &cmd, FSM_OK)->res.version;
    converge(c, l);

    for (unsigned j = 0; j < N; j++) {
        if (j != l) {
            raft_fixture_disconnect(&c->fx, l, j);
            raft_fixture_disconnect(&c->fx, j, l);
        }
    }
    /* The isolated leader still accepts a proposal: a member "ghost". */
    cmd = member_cmd("ghost", 1, 1);
    struct req *ghost = propose(c, l, &cmd);
    assert_int_equal(ghost->status, 0);

    struct other_leader_arg a = {c, l, N};
    assert_true(raft_fixture_step_until(&c->fx, other_has_leader, &a, WAIT_MS));
    unsigned l2 = a.found;
    /* The majority commits; the lock holder renews there. */
    cmd = renew_cmd("pg1", v);
    struct req *r = commit(c, l2, &cmd, FSM_OK);
    uint64_t v2 = r->res.version;
    cmd = member_cmd("pg2", 1, 50);
    commit(c, l2, &cmd, FSM_OK);
    /* The ghost entry never committed: no member applied it. */
    assert_false(ghost->done && ghost->status == 0);
    for (unsigned i = 0; i < N; i++) {
        assert_null(fsm_member_find(c->fsm[i], "ghost"));
    }

    for (unsigned j = 0; j < N; j++) {
        if (j != l) {
            raft_fixture_reconnect(&c->fx, l, j);
            raft_fixture_reconnect(&c->fx, j, l);
        }
    }
    assert_true(raft_fixture_step_until_has_leader(&c->fx, WAIT_MS));
    unsigned l3 = leader_index(c);
    cmd = (struct fsm_cmd){.type = FSM_CMD_NOOP};
    commit(c, l3, &cmd, FSM_OK);
    converge(c, l3);
    /* The old leader stepped down and failed its pending proposal. */
    assert_true(ghost->done);
    assert_int_not_equal(ghost->status, 0);
    for (unsigned i = 0; i < N; i++) {
        assert_null(fsm_member_find(c->fsm[i], "ghost"));
        assert_string_equal(c->fsm[i]->lock.holder, "pg1");
        assert_int_equal(c->fsm[i]->lock.version, v2);
        assert_non_null(fsm_member_find(c->fsm[i], "pg2"));
    }
    assert_all_identical(c);
}

/* (3) A member that was down while the log was compacted catches up through an
 * InstallSnapshot, i.e. through fsm_snapshot -> fsm_restore. */
static void test_snapshot_install(void **state)
{
    struct cluster *c = *state;
    for (unsigned i = 0; i < N; i++) {
        raft_set_snapshot_threshold(raft_fixture_get(&c->fx, i), 8);
        raft_set_snapshot_trailing(raft_fixture_get(&c->fx, i), 2);
    }
    unsigned l = leader_index(c);
    unsigned down = (l + 1) % N;
    struct fsm_cmd cmd = acquire_cmd("pg1");
    uint64_t v = commit(c, l, &cmd, FSM_OK)->res.version;
    converge(c, l);
    unsigned recv_before = raft_fixture_n_recv(&c->fx, down, RAFT_IO_INSTALL_SNAPSHOT);

    raft_fixture_kill(&c->fx, down);
    char name[16];
    for (unsigned k = 0; k < 60; k++) {
        snprintf(name, sizeof name, "pg%u", 1 + k % 5);
        cmd = member_cmd(name, 1 + k / 5, 1000 + k);
        commit(c, l, &cmd, FSM_OK);
        if (k % 10 == 0) {
            cmd = renew_cmd("pg1", v);
            v = commit(c, l, &cmd, FSM_OK)->res.version;
        }
        struct fsm_cmd h = {.type = FSM_CMD_HISTORY_APPEND};
        h.u.history_append.timeline = k;
        h.u.history_append.reason = "test";
        h.u.history_append.time = 1700000000000 + k;
        h.u.history_append.new_leader = "pg1";
        commit(c, l, &h, FSM_OK);
    }
    struct raft *lr = raft_fixture_get(&c->fx, l);
    /* The leader compacted its log past what the dead member has. */
    assert_true(lr->log.snapshot.last_index > raft_last_applied(raft_fixture_get(&c->fx, down)));

    raft_fixture_revive(&c->fx, down);
    converge(c, l);
    assert_true(raft_fixture_n_recv(&c->fx, down, RAFT_IO_INSTALL_SNAPSHOT) > recv_before);
    assert_int_equal(c->fsm[down]->n_members, 5);
    assert_int_equal(c->fsm[down]->lock.version, v);
    assert_int_equal(c->fsm[down]->n_history, 60);
    assert_all_identical(c);

    /* And it keeps applying normally after the install. */
    cmd = renew_cmd("pg1", v);
    commit(c, l, &cmd, FSM_OK);
    converge(c, l);
    assert_all_identical(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leader_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partitioned_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_install, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
