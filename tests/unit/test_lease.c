/* Unit tests of the pure lease timing (raft_fsm/lease.c, design.md section 3): the
 * Raft leader never proposes expiry before a full ttl since it saw the version, and
 * the holder's deadline counts from when it sent the committed renew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "raft_fsm/lease.h"

#define TTL 30000u

static void test_watch_expires_exactly_at_ttl(void **state)
{
    (void)state;
    struct lease_watch w;
    const char *holder = NULL;
    uint64_t version = 0;
    lease_watch_init(&w);
    lease_watch_reset(&w, 1000);
    lease_watch_observe(&w, "node1", 7, TTL, 1000);
    assert_int_equal(lease_watch_next_deadline(&w), 1000 + TTL);
    assert_false(lease_watch_due(&w, 1000, &holder, &version));
    assert_false(lease_watch_due(&w, 1000 + TTL - 1, &holder, &version));
    assert_null(holder);
    assert_true(lease_watch_due(&w, 1000 + TTL, &holder, &version));
    assert_string_equal(holder, "node1");
    assert_int_equal(version, 7);
    assert_true(lease_watch_due(&w, 1000 + 10 * TTL, NULL, NULL));
}

static void test_watch_inactive_or_free(void **state)
{
    (void)state;
    struct lease_watch w;
    lease_watch_init(&w);
    /* Not Raft leader yet: observed but never due. */
    lease_watch_observe(&w, "node1", 7, TTL, 0);
    assert_false(lease_watch_due(&w, 10 * TTL, NULL, NULL));
    assert_int_equal(lease_watch_next_deadline(&w), LEASE_NEVER);
    /* Free lock: nothing to expire. */
    lease_watch_reset(&w, 0);
    lease_watch_observe(&w, "", 8, 0, 0);
    assert_false(lease_watch_due(&w, 10 * TTL, NULL, NULL));
    assert_int_equal(lease_watch_next_deadline(&w), LEASE_NEVER);
    lease_watch_observe(&w, NULL, 9, 0, 0);
    assert_false(lease_watch_due(&w, 10 * TTL, NULL, NULL));
    /* Stopped (leadership lost): not due even past the deadline. */
    lease_watch_observe(&w, "node2", 10, TTL, 100);
    assert_true(lease_watch_due(&w, 100 + TTL, NULL, NULL));
    lease_watch_stop(&w);
    assert_false(lease_watch_due(&w, 100 + TTL, NULL, NULL));
}

static void test_watch_reset_on_leadership_postpones(void **state)
{
    (void)state;
    struct lease_watch w;
    lease_watch_init(&w);
    /* This member saw the version long ago as a follower. */
    lease_watch_observe(&w, "node1", 7, TTL, 0);
    /* It becomes Raft leader at 25000: a full ttl from now, not 5000 ms. */
    lease_watch_reset(&w, 25000);
    assert_int_equal(lease_watch_next_deadline(&w), 25000 + TTL);
    assert_false(lease_watch_due(&w, TTL, NULL, NULL));
    assert_false(lease_watch_due(&w, 25000 + TTL - 1, NULL, NULL));
    assert_true(lease_watch_due(&w, 25000 + TTL, NULL, NULL));
    /* Losing and regaining leadership restarts again. */
    lease_watch_stop(&w);
    lease_watch_reset(&w, 60000);
    assert_false(lease_watch_due(&w, 60000 + TTL - 1, NULL, NULL));
    assert_true(lease_watch_due(&w, 60000 + TTL, NULL, NULL));
}

static void test_watch_renew_restarts_timer(void **state)
{
    (void)state;
    struct lease_watch w;
    uint64_t version;
    lease_watch_init(&w);
    lease_watch_reset(&w, 0);
    lease_watch_observe(&w, "node1", 7, TTL, 0);
    /* Re-observing the same version does not postpone. */
    lease_watch_observe(&w, "node1", 7, TTL, 20000);
    assert_int_equal(lease_watch_next_deadline(&w), TTL);
    /* A renew (new version) observed at 20000 does. */
    lease_watch_observe(&w, "node1", 8, TTL, 20000);
    assert_false(lease_watch_due(&w, TTL, NULL, NULL));
    assert_false(lease_watch_due(&w, 20000 + TTL - 1, NULL, NULL));
    assert_true(lease_watch_due(&w, 20000 + TTL, NULL, &version));
    assert_int_equal(version, 8);
    /* Transfer to another holder: new timer for the new holder and its ttl. */
    lease_watch_observe(&w, "node2", 9, 10000, 50000);
    const char *holder;
    assert_false(lease_watch_due(&w, 59999, &holder, &version));
    assert_true(lease_watch_due(&w, 60000, &holder, &version));
    assert_string_equal(holder, "node2");
    assert_int_equal(version, 9);
    /* Saturation: a huge ttl never wraps into an early expiry. */
    lease_watch_observe(&w, "node2", 10, UINT32_MAX, UINT64_MAX - 5);
    assert_false(lease_watch_due(&w, UINT64_MAX - 1, NULL, NULL));
}

static void test_holder_deadline_from_send_time(void **state)
{
    (void)state;
    struct lease_holder h;
    lease_holder_init(&h);
    assert_false(lease_holder_valid(&h, 0, 0));
    assert_int_equal(lease_holder_remaining(&h, 0), 0);

    uint64_t t1 = lease_holder_sent(&h, 1000);
    assert_int_not_equal(t1, 0);
    assert_false(lease_holder_valid(&h, 1000, 0)); /* not committed yet */
    /* Committed later (at 1500, say): the deadline still counts from 1000. */
    assert_true(lease_holder_committed(&h, t1, 7, TTL));
    assert_int_equal(h.deadline_ms, 1000 + TTL);
    assert_int_equal(h.version, 7);
    assert_int_equal(lease_holder_remaining(&h, 1500), TTL - 500);
    assert_true(lease_holder_valid(&h, 1500, 5000));
    /* Valid only while more than the safety margin remains. */
    assert_true(lease_holder_valid(&h, 1000 + TTL - 5001, 5000));
    assert_false(lease_holder_valid(&h, 1000 + TTL - 5000, 5000));
    assert_false(lease_holder_valid(&h, 1000 + TTL, 0));
    assert_int_equal(lease_holder_remaining(&h, 1000 + TTL), 0);
    assert_int_equal(lease_holder_remaining(&h, 1000 + TTL + 1), 0);

    /* The next renew moves the deadline forward from its own send time. */
    uint64_t t2 = lease_holder_sent(&h, 11000);
    assert_true(lease_holder_committed(&h, t2, 8, TTL));
    assert_int_equal(h.deadline_ms, 11000 + TTL);
    /* Duplicate commit report of the same token is ignored. */
    assert_false(lease_holder_committed(&h, t2, 8, TTL));
    assert_false(lease_holder_committed(&h, 0, 8, TTL));
    assert_false(lease_holder_committed(&h, 12345, 8, TTL)); /* never sent */
}

static void test_holder_late_commit_of_older_send(void **state)
{
    (void)state;
    struct lease_holder h;
    lease_holder_init(&h);
    uint64_t a = lease_holder_sent(&h, 1000);
    uint64_t b = lease_holder_sent(&h, 2000);
    /* The newer send commits first. */
    assert_true(lease_holder_committed(&h, b, 9, TTL));
    assert_int_equal(h.deadline_ms, 2000 + TTL);
    /* The older one's commit arrives late: the deadline does not move back. */
    assert_false(lease_holder_committed(&h, a, 8, TTL));
    assert_int_equal(h.deadline_ms, 2000 + TTL);
    assert_int_equal(h.version, 9);

    /* Reverse order: older commits first (counted), then newer (moves forward). */
    lease_holder_init(&h);
    a = lease_holder_sent(&h, 1000);
    b = lease_holder_sent(&h, 2000);
    assert_true(lease_holder_committed(&h, a, 8, TTL));
    assert_int_equal(h.deadline_ms, 1000 + TTL);
    assert_true(lease_holder_committed(&h, b, 9, TTL));
    assert_int_equal(h.deadline_ms, 2000 + TTL);

    /* A send forgotten after LEASE_HOLDER_SENDS newer ones is ignored. */
    lease_holder_init(&h);
    uint64_t old = lease_holder_sent(&h, 0);
    for (int i = 0; i < LEASE_HOLDER_SENDS; i++) {
        lease_holder_sent(&h, 100 + (uint64_t)i);
    }
    assert_false(lease_holder_committed(&h, old, 1, TTL));
}

static void test_holder_lost(void **state)
{
    (void)state;
    struct lease_holder h;
    lease_holder_init(&h);
    uint64_t a = lease_holder_sent(&h, 1000);
    uint64_t b = lease_holder_sent(&h, 2000);
    assert_true(lease_holder_committed(&h, a, 8, TTL));
    lease_holder_lost(&h);
    assert_false(lease_holder_valid(&h, 1001, 0));
    assert_int_equal(lease_holder_remaining(&h, 1001), 0);
    /* A commit of a send made before the loss does not resurrect the lease. */
    assert_false(lease_holder_committed(&h, b, 9, TTL));
    assert_false(lease_holder_valid(&h, 2001, 0));
    /* A fresh acquire after the loss works. */
    uint64_t c = lease_holder_sent(&h, 5000);
    assert_true(lease_holder_committed(&h, c, 12, TTL));
    assert_true(lease_holder_valid(&h, 5000, 1000));
}

/* The holder's deadline is never later than the expiry the Raft leader can propose,
 * whatever the delays between send, commit and the leader's observation. */
static void test_holder_before_watch(void **state)
{
    (void)state;
    for (uint64_t delay = 0; delay <= 5000; delay += 250) {
        struct lease_holder h;
        struct lease_watch w;
        lease_holder_init(&h);
        lease_watch_init(&w);
        lease_watch_reset(&w, 0);
        uint64_t sent = 1000;
        uint64_t tok = lease_holder_sent(&h, sent);
        /* The Raft leader applies (observes) the renew `delay` ms after the send. */
        lease_watch_observe(&w, "node1", 5, TTL, sent + delay);
        assert_true(lease_holder_committed(&h, tok, 5, TTL));
        assert_true(h.deadline_ms <= lease_watch_next_deadline(&w));
        /* At every instant where the watch proposes expiry, the holder is invalid. */
        uint64_t due = lease_watch_next_deadline(&w);
        assert_true(lease_watch_due(&w, due, NULL, NULL));
        assert_false(lease_holder_valid(&h, due, 0));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_expires_exactly_at_ttl),
        cmocka_unit_test(test_watch_inactive_or_free),
        cmocka_unit_test(test_watch_reset_on_leadership_postpones),
        cmocka_unit_test(test_watch_renew_restarts_timer),
        cmocka_unit_test(test_holder_deadline_from_send_time),
        cmocka_unit_test(test_holder_late_commit_of_older_send),
        cmocka_unit_test(test_holder_lost),
        cmocka_unit_test(test_holder_before_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
