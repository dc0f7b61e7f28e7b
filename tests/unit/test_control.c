/* test_control: the operator endpoints' request rules (http/control.c), compiled in so that
 * its statics (parse_seconds, the schedule parser) are reachable.
 *
 * Expected codes and messages are Patroni 3.0's (patroni/api.py) unless the row says
 * "raftgres". Timestamps were checked with Python's datetime.fromisoformat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/control.c"

#define NOW_MS     1767225600000LL /* 2026-01-01T00:00:00Z */
#define NOV25_UTC  1795644900000LL /* 2026-11-25T22:15:00Z */
#define NOV25_P1   1795641300000LL /* 2026-11-25T22:15:00+01:00 */
#define NOV25_HALF 1795644900500LL /* 2026-11-25T22:15:00.5Z */
#define NOV25_M130 1795650300000LL /* 2026-11-25T22:15:00-01:30 */
#define LEAP_NOON  1709208000000LL /* 2024-02-29T12:00:00Z */
#define MIB        1048576

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- control_parse_time -------------------------------------------------------------- */

static const struct {
    const char *s;
    int64_t want;
} time_cases[] = {
    {"2026-11-25T22:15:00+00:00", NOV25_UTC},
    {"2026-11-25T22:15:00Z", NOV25_UTC},
    {"2026-11-25t22:15:00z", NOV25_UTC},
    {"2026-11-25 22:15+01:00", NOV25_P1},
    {"2026-11-25T22:15:00+0100", NOV25_P1},
    {"2026-11-25T22:15+01", NOV25_P1},
    {"2026-11-25T22:15:00.5Z", NOV25_HALF},
    {"2026-11-25T22:15:00.500999Z", NOV25_HALF},
    {"2026-11-25T22:15:00-01:30", NOV25_M130},
    {"2026-11-25T22:15 UTC", NOV25_UTC},
    {"20261125T221500Z", NOV25_UTC},
    {"2026-11-25T22:15:00 +00:00", NOV25_UTC},
    {"2024-02-29T12:00Z", LEAP_NOON},
    {"1970-01-01T00:00:00Z", 0},
    /* no time zone */
    {"2026-11-25T22:15:00", -2},
    {"2026-11-25 22:15", -2},
    {"2026-11-25", -2},
    /* unparsable */
    {"", -1},
    {"garbage", -1},
    {"2026-11-25T25:00Z", -1},
    {"2026-02-29T10:00Z", -1}, /* not a leap year */
    {"2026-13-01T10:00Z", -1},
    {"2026-11-25T22:60Z", -1},
    {"2026-11-25T22:15:00+25:00", -1},
    {"2026-11-25T22:15:00Z junk", -1},
    {"2026-11-25T22:15:00.Z", -1},
    {"2026/11/25 22:15Z", -1},
};

static void test_parse_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(time_cases); i++) {
        int64_t got = control_parse_time(time_cases[i].s);
        if (got != time_cases[i].want)
            fail_msg("control_parse_time(\"%s\") = %lld, want %lld", time_cases[i].s,
                     (long long)got, (long long)time_cases[i].want);
    }
    assert_int_equal(control_parse_time(NULL), -1);
}

/* ---- control_parse_switchover --------------------------------------------------------- */

static const struct {
    const char *body;
    bool failover;
    int rc;
    const char *msg; /* substring; NULL: don't care */
    const char *leader, *candidate;
    int64_t at;
} parse_cases[] = {
    /* malformed bodies */
    {"", false, 400, "not valid JSON", NULL, NULL, 0},
    {"{\"leader\": ", false, 400, "not valid JSON", NULL, NULL, 0},
    {"[1,2]", false, 400, "JSON object", NULL, NULL, 0},
    {"{}", false, 400, "non-empty JSON object", NULL, NULL, 0},
    {"\"node1\"", true, 400, "JSON object", NULL, NULL, 0},
    /* raftgres: wrong types */
    {"{\"leader\":\"node1\",\"candidate\":5}", false, 400, "candidate must be a member name", NULL,
     NULL, 0},
    {"{\"leader\":true}", false, 400, "leader must be a member name", NULL, NULL, 0},
    {"{\"candidate\":[\"node2\"]}", true, 400, "candidate must be", NULL, NULL, 0},
    {"{\"leader\":\"nodeXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\"}",
     false, 400, "longer than 64", NULL, NULL, 0},
    /* names required */
    {"{\"candidate\":\"node2\"}", false, 400,
     "Switchover could be performed only from a specific leader", NULL, NULL, 0},
    {"{\"leader\":\"\",\"candidate\":\"node2\"}", false, 400, "only from a specific leader", NULL,
     NULL, 0},
    {"{\"leader\":\"node1\"}", true, 400,
     "Failover could be performed only to a specific candidate", NULL, NULL, 0},
    {"{\"leader\":\"node1\",\"candidate\":null}", true, 400, "only to a specific candidate", NULL,
     NULL, 0},
    /* accepted */
    {"{\"leader\":\"node1\"}", false, 0, NULL, "node1", "", 0},
    {"{\"leader\":\"node1\",\"candidate\":\"node2\"}", false, 0, NULL, "node1", "node2", 0},
    {"{\"leader\":\"node1\",\"member\":\"node3\"}", false, 0, NULL, "node1", "node3", 0},
    {"{\"leader\":\"node1\",\"candidate\":\"\",\"member\":\"node3\"}", false, 0, NULL, "node1",
     "node3", 0},
    {"{\"candidate\":\"node2\"}", true, 0, NULL, "", "node2", 0},
    {"{\"candidate\":\"node2\",\"unknown\":1}", true, 0, NULL, "", "node2", 0},
    {"{\"leader\":\"node1\",\"candidate\":\"node2\",\"scheduled_at\":null}", false, 0, NULL,
     "node1", "node2", 0},
    {"{\"leader\":\"node1\",\"candidate\":\"node2\",\"scheduled_at\":\"\"}", false, 0, NULL,
     "node1", "node2", 0},
    /* schedules */
    {"{\"leader\":\"node1\",\"scheduled_at\":\"2026-11-25T22:15:00+00:00\"}", false, 0, NULL,
     "node1", "", NOV25_UTC},
    {"{\"leader\":\"node1\",\"candidate\":\"node2\",\"scheduled_at\":\"2026-11-25 22:15+01:00\"}",
     false, 0, NULL, "node1", "node2", NOV25_P1},
    {"{\"leader\":\"node1\",\"scheduled_at\":\"2026-11-25T22:15:00\"}", false, 400,
     "Timezone information is mandatory for the scheduled switchover", NULL, NULL, 0},
    {"{\"leader\":\"node1\",\"scheduled_at\":\"2025-11-25T22:15:00Z\"}", false, 422,
     "Cannot schedule switchover in the past", NULL, NULL, 0},
    {"{\"leader\":\"node1\",\"scheduled_at\":\"tomorrow-ish\"}", false, 422,
     "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601",
     NULL, NULL, 0},
    {"{\"leader\":\"node1\",\"scheduled_at\":12345}", false, 422, "Unable to parse scheduled", NULL,
     NULL, 0},
    {"{\"candidate\":\"node2\",\"scheduled_at\":\"2026-11-25T22:15:00Z\"}", true, 400,
     "Failover can't be scheduled", NULL, NULL, 0},
    {"{\"leader\":\"node1\",\"candidate\":\"node2\",\"scheduled_at\":\"2026-11-25T22:15Z\"}", true,
     400, "Failover can't be scheduled", NULL, NULL, 0},
    /* candidate == leader */
    {"{\"leader\":\"node1\",\"candidate\":\"node1\"}", false, 400,
     "Switchover target and source are the same", NULL, NULL, 0},
};

static void test_parse_switchover(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(parse_cases); i++) {
        struct control_switchover r;
        char msg[256];
        const char *b = parse_cases[i].body;
        int rc = control_parse_switchover(b, strlen(b), parse_cases[i].failover, NOW_MS, &r, msg,
                                          sizeof(msg));
        if (rc != parse_cases[i].rc)
            fail_msg("row %zu %s: rc %d (%s), want %d", i, b, rc, msg, parse_cases[i].rc);
        if (parse_cases[i].msg && !strstr(msg, parse_cases[i].msg))
            fail_msg("row %zu %s: message \"%s\", want \"%s\"", i, b, msg, parse_cases[i].msg);
        if (rc == 0) {
            assert_string_equal(r.leader, parse_cases[i].leader);
            assert_string_equal(r.candidate, parse_cases[i].candidate);
            if (r.scheduled_at_ms != parse_cases[i].at)
                fail_msg("row %zu: scheduled_at_ms %lld, want %lld", i,
                         (long long)r.scheduled_at_ms, (long long)parse_cases[i].at);
        } else {
            assert_string_equal(r.leader, "");
            assert_int_equal(r.scheduled_at_ms, 0);
            assert_true(msg[0] != '\0');
        }
    }
}

/* ---- control_check_switchover --------------------------------------------------------- */

/* node1 leads; node2 and node3 are healthy (node3 closer); the others each fail one rule. */
static const struct control_member members[] = {
    /* name, running, streaming, is_leader, nofailover, lag */
    {"node1", true, false, true, false, 0},    {"node2", true, true, false, false, 100},
    {"node3", true, true, false, false, 50},   {"node4", true, true, false, true, 0},
    {"node5", true, false, false, false, 0},   {"node6", true, true, false, false, 2 * MIB},
    {"node7", false, false, false, false, -1}, {"node8", true, true, false, false, -1},
};
/* the same cluster after node1 died and lost the lock */
static const struct control_member leaderless[] = {
    {"node1", false, false, false, false, -1},
    {"node5", true, false, false, false, -1},
    {"node4", true, false, false, true, -1},
};
/* only unhealthy replicas */
static const struct control_member sick[] = {
    {"node1", true, false, true, false, 0},
    {"node4", true, true, false, true, 0},
    {"node7", false, false, false, false, -1},
};
static const char *const sync_set[] = {"node2"};
static const char *const sync_missing[] = {"node9"};

enum view_kind { V_NORMAL, V_PAUSED, V_SYNC, V_SYNC_MISSING, V_NOLEADER, V_ALONE, V_SICK, V_TIE };

static struct control_view make_view(enum view_kind k)
{
    struct control_view v = {
        .leader = "node1",
        .members = members,
        .n_members = ARRAY_LEN(members),
        .maximum_lag_on_failover = MIB,
    };
    switch (k) {
    case V_NORMAL:
        break;
    case V_PAUSED:
        v.paused = true;
        break;
    case V_SYNC:
        v.synchronous_mode = true;
        v.sync_standbys = sync_set;
        v.n_sync = 1;
        break;
    case V_SYNC_MISSING:
        v.synchronous_mode = true;
        v.sync_standbys = sync_missing;
        v.n_sync = 1;
        break;
    case V_NOLEADER:
        v.leader = "";
        v.members = leaderless;
        v.n_members = ARRAY_LEN(leaderless);
        break;
    case V_ALONE:
        v.n_members = 1;
        break;
    case V_SICK:
        v.members = sick;
        v.n_members = ARRAY_LEN(sick);
        break;
    case V_TIE:
        v.n_members = 3; /* node1, node2 (100), node3 (50) */
        v.maximum_lag_on_failover = 0;
        break;
    }
    return v;
}

static const struct {
    const char *what;
    enum view_kind view;
    bool failover;
    const char *leader, *candidate;
    int64_t at;
    int rc;
    const char *msg;    /* substring */
    const char *chosen; /* on success */
} check_cases[] = {
    {"named healthy candidate", V_NORMAL, false, "node1", "node2", 0, 0, NULL, "node2"},
    {"no candidate: least lag", V_NORMAL, false, "node1", "", 0, 0, NULL, "node3"},
    {"leader mismatch", V_NORMAL, false, "node2", "node3", 0, 412, "leader name does not match",
     NULL},
    {"switchover without a cluster leader", V_NOLEADER, false, "node1", "node5", 0, 412,
     "leader name does not match", NULL},
    {"unknown candidate", V_NORMAL, false, "node1", "node9", 0, 412, "candidate does not exists",
     NULL},
    {"failover to the leader", V_NORMAL, true, "", "node1", 0, 412,
     "candidate is already the leader", NULL},
    {"nofailover", V_NORMAL, false, "node1", "node4", 0, 412,
     "switchover is not possible: no good candidates have been found (node4: not allowed", NULL},
    {"not streaming", V_NORMAL, false, "node1", "node5", 0, 412, "node5: not streaming", NULL},
    {"lagging", V_NORMAL, false, "node1", "node6", 0, 412,
     "node6: 2097152 bytes behind the leader, more than maximum_lag_on_failover 1048576", NULL},
    {"not running", V_NORMAL, false, "node1", "node7", 0, 412, "node7: PostgreSQL is not running",
     NULL},
    {"lag unknown", V_NORMAL, false, "node1", "node8", 0, 412, "node8: its WAL position", NULL},
    {"failover with leader: lag still checked", V_NORMAL, true, "", "node6", 0, 412,
     "failover is not possible: no good candidates", NULL},
    {"failover with leader: streaming not needed", V_NORMAL, true, "", "node5", 0, 0, NULL,
     "node5"},
    {"failover without leader", V_NOLEADER, true, "", "node5", 0, 0, NULL, "node5"},
    {"failover without leader: nofailover", V_NOLEADER, true, "", "node4", 0, 412,
     "not allowed to promote", NULL},
    {"failover without leader: not running", V_NOLEADER, true, "", "node1", 0, 412,
     "PostgreSQL is not running", NULL},
    {"no candidate, none healthy", V_SICK, false, "node1", "", 0, 412,
     "switchover is not possible: no good candidates have been found", NULL},
    {"no candidate, alone", V_ALONE, false, "node1", "", 0, 412,
     "switchover is not possible: cluster does not have members except leader", NULL},
    {"tie on lag 0 limit: none within", V_TIE, false, "node1", "", 0, 412, "no good candidates",
     NULL},
    {"sync: candidate not sync", V_SYNC, false, "node1", "node3", 0, 412,
     "candidate name does not match with sync_standby", NULL},
    {"sync: candidate sync", V_SYNC, false, "node1", "node2", 0, 0, NULL, "node2"},
    {"sync: chosen among sync only", V_SYNC, false, "node1", "", 0, 0, NULL, "node2"},
    {"sync: no sync member", V_SYNC_MISSING, false, "node1", "", 0, 412,
     "switchover is not possible: can not find sync_standby", NULL},
    {"sync: failover to async allowed", V_SYNC, true, "", "node3", 0, 0, NULL, "node3"},
    {"paused, no candidate", V_PAUSED, false, "node1", "", 0, 400,
     "Switchover is possible only to a specific candidate in a paused state", NULL},
    {"paused, candidate", V_PAUSED, false, "node1", "node2", 0, 0, NULL, "node2"},
    {"paused, scheduled", V_PAUSED, false, "node1", "node2", NOV25_UTC, 400,
     "Can't schedule switchover in the paused state", NULL},
    {"scheduled: cluster not checked", V_NORMAL, false, "node1", "node9", NOV25_UTC, 0, NULL,
     "node9"},
    {"scheduled without candidate", V_NORMAL, false, "node1", "", NOV25_UTC, 0, NULL, ""},
};

static void test_check_switchover(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(check_cases); i++) {
        struct control_switchover r;
        memset(&r, 0, sizeof(r));
        snprintf(r.leader, sizeof(r.leader), "%s", check_cases[i].leader);
        snprintf(r.candidate, sizeof(r.candidate), "%s", check_cases[i].candidate);
        r.scheduled_at_ms = check_cases[i].at;
        struct control_view v = make_view(check_cases[i].view);
        char chosen[CONTROL_NAME_MAX + 1] = "junk", msg[256];
        int rc = control_check_switchover(&r, &v, check_cases[i].failover, chosen, sizeof(chosen),
                                          msg, sizeof(msg));
        if (rc != check_cases[i].rc)
            fail_msg("%s: rc %d (%s), want %d", check_cases[i].what, rc, msg, check_cases[i].rc);
        if (check_cases[i].msg && !strstr(msg, check_cases[i].msg))
            fail_msg("%s: message \"%s\", want \"%s\"", check_cases[i].what, msg,
                     check_cases[i].msg);
        if (rc == 0 && strcmp(chosen, check_cases[i].chosen) != 0)
            fail_msg("%s: chosen \"%s\", want \"%s\"", check_cases[i].what, chosen,
                     check_cases[i].chosen);
        if (rc != 0 && chosen[0])
            fail_msg("%s: chosen \"%s\" on error", check_cases[i].what, chosen);
    }
}

/* Equal lag: the smaller name wins, whatever the order in the registry. */
static void test_choose_tie_by_name(void **state)
{
    (void)state;
    const struct control_member m[] = {
        {"leader", true, false, true, false, 0},
        {"zeta", true, true, false, false, 10},
        {"alpha", true, true, false, false, 10},
        {"mid", true, true, false, false, 11},
    };
    struct control_view v = {
        .leader = "leader", .members = m, .n_members = 4, .maximum_lag_on_failover = MIB};
    struct control_switchover r = {.leader = "leader"};
    char chosen[CONTROL_NAME_MAX + 1], msg[128];
    assert_int_equal(
        control_check_switchover(&r, &v, false, chosen, sizeof(chosen), msg, sizeof(msg)), 0);
    assert_string_equal(chosen, "alpha");
}

/* ---- restart --------------------------------------------------------------------------- */

static const struct {
    const char *body;
    int rc;
    const char *msg;
    int64_t schedule;
    int pending;
    const char *role;
    int version;
    int timeout;
} restart_cases[] = {
    {"", 0, NULL, 0, -1, "", 0, 0},
    {"  \n", 0, NULL, 0, -1, "", 0, 0},
    {"{}", 0, NULL, 0, -1, "", 0, 0},
    {"{", 400, "not valid JSON", 0, 0, NULL, 0, 0},
    {"[]", 400, "JSON object", 0, 0, NULL, 0, 0},
    {"{\"schedule\":\"2026-11-25T22:15:00+00:00\",\"role\":\"replica\",\"restart_pending\":true,"
     "\"postgres_version\":\"15.2\",\"timeout\":30}",
     0, NULL, NOV25_UTC, 1, "replica", 150002, 30},
    {"{\"role\":\"master\",\"postgres_version\":\"9.6.24\"}", 0, NULL, 0, -1, "master", 90624, 0},
    {"{\"restart_pending\":0}", 0, NULL, 0, 0, "", 0, 0},
    {"{\"restart_pending\":\"yes\"}", 0, NULL, 0, 1, "", 0, 0},
    {"{\"timeout\":\"1.5min\"}", 0, NULL, 0, -1, "", 0, 90},
    {"{\"timeout\":\"30 s\"}", 0, NULL, 0, -1, "", 0, 30},
    {"{\"timeout\":\"1500ms\"}", 0, NULL, 0, -1, "", 0, 2},
    {"{\"timeout\":\"2500ms\"}", 0, NULL, 0, -1, "", 0, 2}, /* round half to even */
    {"{\"timeout\":\"0x10\"}", 0, NULL, 0, -1, "", 0, 16},
    {"{\"timeout\":\"010\"}", 0, NULL, 0, -1, "", 0, 8}, /* octal, as strtol */
    {"{\"timeout\":\".5min\"}", 0, NULL, 0, -1, "", 0, 30},
    {"{\"timeout\":\"1e2\"}", 0, NULL, 0, -1, "", 0, 100},
    {"{\"timeout\":\" 45 \"}", 0, NULL, 0, -1, "", 0, 45},
    {"{\"timeout\":30.5}", 0, NULL, 0, -1, "", 0, 30},
    {"{\"timeout\":\"08\"}", 400, "Timeout should be", 0, 0, NULL, 0, 0},
    {"{\"timeout\":\"0x1.8\"}", 400, "Timeout should be", 0, 0, NULL, 0, 0},
    {"{\"timeout\":0}", 400, "Timeout should be a positive number of seconds", 0, 0, NULL, 0, 0},
    {"{\"timeout\":\"-5\"}", 400, "Timeout should be", 0, 0, NULL, 0, 0},
    {"{\"timeout\":\"10 parsecs\"}", 400, "Timeout should be", 0, 0, NULL, 0, 0},
    {"{\"timeout\":true}", 400, "Timeout should be", 0, 0, NULL, 0, 0},
    {"{\"timeout\":\"inf\"}", 400, "Timeout should be", 0, 0, NULL, 0, 0},
    {"{\"role\":\"leader\"}", 400, "PostgreSQL role should be either primary or replica", 0, 0,
     NULL, 0, 0},
    {"{\"role\":1}", 400, "PostgreSQL role should be", 0, 0, NULL, 0, 0},
    {"{\"postgres_version\":\"10\"}", 400,
     "Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 10", 0, 0, NULL, 0, 0},
    {"{\"postgres_version\":\"9.6\"}", 400, "X.Y or X.Y.Z is accepted: 9.6", 0, 0, NULL, 0, 0},
    {"{\"postgres_version\":\"1.2.3.4\"}", 400, "X.Y or X.Y.Z is accepted: 1.2.3.4", 0, 0, NULL, 0,
     0},
    {"{\"postgres_version\":\"a.b.c\"}", 400, "Invalid PostgreSQL version: a.b.c", 0, 0, NULL, 0,
     0},
    {"{\"postgres_version\":\"15.\"}", 400, "Invalid PostgreSQL version: 15.", 0, 0, NULL, 0, 0},
    {"{\"postgres_version\":15}", 400, "Invalid PostgreSQL version: 15", 0, 0, NULL, 0, 0},
    {"{\"schedule\":\"2026-11-25T22:15:00\"}", 400,
     "Timezone information is mandatory for the scheduled restart", 0, 0, NULL, 0, 0},
    {"{\"schedule\":\"2020-11-25T22:15:00Z\"}", 422, "Cannot schedule restart in the past", 0, 0,
     NULL, 0, 0},
    {"{\"schedule\":null}", 422, "Unable to parse scheduled timestamp", 0, 0, NULL, 0, 0},
    {"{\"force\":true}", 400, "Unknown filter for the scheduled restart: force", 0, 0, NULL, 0, 0},
    /* keys are checked in body order: the first bad one answers */
    {"{\"role\":\"x\",\"bogus\":1}", 400, "PostgreSQL role", 0, 0, NULL, 0, 0},
    {"{\"bogus\":1,\"role\":\"x\"}", 400, "Unknown filter for the scheduled restart: bogus", 0, 0,
     NULL, 0, 0},
};

static void test_parse_restart(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(restart_cases); i++) {
        struct control_restart r;
        char msg[256];
        const char *b = restart_cases[i].body;
        int rc = control_parse_restart(b, strlen(b), NOW_MS, &r, msg, sizeof(msg));
        if (rc != restart_cases[i].rc)
            fail_msg("row %zu %s: rc %d (%s), want %d", i, b, rc, msg, restart_cases[i].rc);
        if (restart_cases[i].msg && !strstr(msg, restart_cases[i].msg))
            fail_msg("row %zu %s: message \"%s\", want \"%s\"", i, b, msg, restart_cases[i].msg);
        if (rc != 0)
            continue;
        if (r.schedule_ms != restart_cases[i].schedule || r.timeout_s != restart_cases[i].timeout ||
            r.restart_pending != restart_cases[i].pending ||
            r.postgres_version_num != restart_cases[i].version ||
            strcmp(r.role, restart_cases[i].role) != 0)
            fail_msg("row %zu %s: got schedule %lld pending %d role %s version %d timeout %d", i, b,
                     (long long)r.schedule_ms, r.restart_pending, r.role, r.postgres_version_num,
                     r.timeout_s);
    }
}

static void test_restart_paused_and_matches(void **state)
{
    (void)state;
    struct control_restart r;
    char msg[128];
    const char *b = "{\"schedule\":\"2026-11-25T22:15:00Z\"}";
    assert_int_equal(control_parse_restart(b, strlen(b), NOW_MS, &r, msg, sizeof(msg)), 0);
    assert_int_equal(control_check_restart(&r, true, msg, sizeof(msg)), 500);
    assert_string_equal(msg, "Can't schedule restart in the paused state");
    assert_int_equal(control_check_restart(&r, false, msg, sizeof(msg)), 0);
    assert_int_equal(control_parse_restart("", 0, NOW_MS, &r, msg, sizeof(msg)), 0);
    assert_int_equal(control_check_restart(&r, true, msg, sizeof(msg)), 0);

    /* no filters: every member */
    assert_true(control_restart_matches(&r, "replica", false, 150002));
    /* role */
    b = "{\"role\":\"master\"}";
    control_parse_restart(b, strlen(b), NOW_MS, &r, msg, sizeof(msg));
    assert_true(control_restart_matches(&r, "primary", false, 150002));
    assert_true(control_restart_matches(&r, "master", false, 150002));
    assert_false(control_restart_matches(&r, "replica", false, 150002));
    b = "{\"role\":\"replica\"}";
    control_parse_restart(b, strlen(b), NOW_MS, &r, msg, sizeof(msg));
    assert_false(control_restart_matches(&r, "primary", false, 150002));
    assert_true(control_restart_matches(&r, "replica", false, 150002));
    /* version: only servers older than postgres_version restart */
    b = "{\"postgres_version\":\"15.3\"}";
    control_parse_restart(b, strlen(b), NOW_MS, &r, msg, sizeof(msg));
    assert_true(control_restart_matches(&r, "replica", false, 150002));
    assert_false(control_restart_matches(&r, "replica", false, 150003));
    assert_false(control_restart_matches(&r, "replica", false, 160000));
    /* pending restart */
    b = "{\"restart_pending\":true}";
    control_parse_restart(b, strlen(b), NOW_MS, &r, msg, sizeof(msg));
    assert_false(control_restart_matches(&r, "replica", false, 150002));
    assert_true(control_restart_matches(&r, "replica", true, 150002));
    b = "{\"restart_pending\":false}";
    control_parse_restart(b, strlen(b), NOW_MS, &r, msg, sizeof(msg));
    assert_true(control_restart_matches(&r, "replica", false, 150002));
}

/* ---- reinitialize ---------------------------------------------------------------------- */

static const struct {
    const char *body;
    int rc;
    bool force;
} reinit_cases[] = {
    {"", 0, false},
    {"{}", 0, false},
    {"{\"force\":true}", 0, true},
    {"{\"force\":false}", 0, false},
    {"{\"force\":\"on\"}", 0, true},
    {"{\"force\":\"YES\"}", 0, true},
    {"{\"force\":\"1\"}", 0, true},
    {"{\"force\":1}", 0, true},
    {"{\"force\":2}", 0, false},
    {"{\"force\":\"sure\"}", 0, false},
    {"{\"force\":null}", 0, false},
    {"{\"force\":true,\"other\":1}", 0, true},
    {"{\"force\":", 400, false},
    {"[true]", 400, false},
};

static void test_parse_reinitialize(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(reinit_cases); i++) {
        bool force = !reinit_cases[i].force;
        char msg[128];
        const char *b = reinit_cases[i].body;
        int rc = control_parse_reinitialize(b, strlen(b), &force, msg, sizeof(msg));
        if (rc != reinit_cases[i].rc || force != reinit_cases[i].force)
            fail_msg("row %zu %s: rc %d force %d, want %d %d", i, b, rc, force, reinit_cases[i].rc,
                     reinit_cases[i].force);
    }
}

/* ---- config ---------------------------------------------------------------------------- */

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", s, e.text);
    return j;
}

static const struct {
    const char *current, *patch, *want; /* want NULL: error */
} merge_cases[] = {
    {"{\"ttl\":30,\"loop_wait\":10}", "{\"ttl\":40}", "{\"ttl\":40,\"loop_wait\":10}"},
    /* nested merge */
    {"{\"postgresql\":{\"use_slots\":true,\"parameters\":{\"max_connections\":100,"
     "\"work_mem\":\"4MB\"}}}",
     "{\"postgresql\":{\"parameters\":{\"work_mem\":\"8MB\",\"wal_level\":\"logical\"}}}",
     "{\"postgresql\":{\"use_slots\":true,\"parameters\":{\"max_connections\":100,"
     "\"work_mem\":\"8MB\",\"wal_level\":\"logical\"}}}"},
    /* null removes, at any depth; removing what is absent is fine */
    {"{\"ttl\":30,\"postgresql\":{\"parameters\":{\"work_mem\":\"4MB\",\"a\":1}}}",
     "{\"ttl\":null,\"nothing\":null,\"postgresql\":{\"parameters\":{\"work_mem\":null}}}",
     "{\"postgresql\":{\"parameters\":{\"a\":1}}}"},
    /* a non-object value replaces an object, and an object replaces a scalar */
    {"{\"postgresql\":{\"parameters\":{}},\"slots\":5}",
     "{\"postgresql\":\"none\",\"slots\":{\"s1\":{\"type\":\"physical\"}}}",
     "{\"postgresql\":\"none\",\"slots\":{\"s1\":{\"type\":\"physical\"}}}"},
    /* arrays replace whole */
    {"{\"ignore_slots\":[1,2,3]}", "{\"ignore_slots\":[4]}", "{\"ignore_slots\":[4]}"},
    /* raftgres (RFC 7386): nulls inside a new value are dropped, not stored */
    {"{}", "{\"postgresql\":{\"parameters\":{\"x\":null,\"y\":1}}}",
     "{\"postgresql\":{\"parameters\":{\"y\":1}}}"},
    /* no current configuration */
    {NULL, "{\"ttl\":30}", "{\"ttl\":30}"},
    /* the patch must be an object */
    {"{\"ttl\":30}", "[1]", NULL},
    {"{\"ttl\":30}", "7", NULL},
};

static void test_merge_patch(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(merge_cases); i++) {
        json_t *cur = merge_cases[i].current ? J(merge_cases[i].current) : NULL;
        char *before = cur ? json_dumps(cur, JSON_SORT_KEYS) : NULL;
        json_t *patch = J(merge_cases[i].patch);
        char msg[128];
        json_t *got = control_merge_patch(cur, patch, msg, sizeof(msg));
        if (!merge_cases[i].want) {
            if (got)
                fail_msg("row %zu: merged a non-object patch", i);
            assert_non_null(strstr(msg, "must be a JSON object"));
        } else {
            json_t *want = J(merge_cases[i].want);
            if (!got || !json_equal(got, want)) {
                char *g = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;
                fail_msg("row %zu: got %s, want %s (%s)", i, g ? g : "NULL", merge_cases[i].want,
                         msg);
            }
            json_decref(want);
        }
        if (cur) { /* the current configuration is not modified */
            char *after = json_dumps(cur, JSON_SORT_KEYS);
            assert_string_equal(before, after);
            free(after);
        }
        free(before);
        json_decref(got);
        json_decref(patch);
        json_decref(cur);
    }
}

static const struct {
    const char *cfg;
    int rc;
    const char *msg;
} validate_cases[] = {
    {"{}", 0, NULL},
    {"{\"ttl\":30,\"loop_wait\":10,\"retry_timeout\":10,\"maximum_lag_on_failover\":1048576,"
     "\"synchronous_mode\":true,\"pause\":false,\"postgresql\":{\"use_pg_rewind\":true,"
     "\"parameters\":{\"max_connections\":200,\"work_mem\":\"8MB\",\"hot_standby\":true,"
     "\"random_page_cost\":1.1}},\"standby_cluster\":{\"host\":\"10.0.0.1\",\"port\":5432},"
     "\"custom_key\":[1]}",
     0, NULL},
    {"[]", 400, "must be a JSON object"},
    {"{\"ttl\":10}", 422, "ttl: expected an integer between 20 and 3600, got 10"},
    {"{\"ttl\":\"30\"}", 422, "ttl: expected an integer"},
    {"{\"ttl\":null}", 422, "ttl: expected an integer"},
    {"{\"loop_wait\":0}", 422, "loop_wait: expected an integer between 1 and 3600"},
    {"{\"retry_timeout\":2}", 422, "retry_timeout: expected an integer between 3 and 3600"},
    {"{\"maximum_lag_on_failover\":-1}", 422, "maximum_lag_on_failover: expected an integer >= 0"},
    {"{\"maximum_lag_on_failover\":1.5}", 422, "maximum_lag_on_failover"},
    {"{\"synchronous_mode\":\"on\"}", 422, "synchronous_mode: expected true or false, got \"on\""},
    {"{\"pause\":1}", 422, "pause: expected true or false"},
    {"{\"postgresql\":[]}", 422, "postgresql: expected an object"},
    {"{\"postgresql\":{\"parameters\":\"max_connections=100\"}}", 422,
     "postgresql.parameters: expected an object"},
    {"{\"postgresql\":{\"parameters\":{\"work_mem\":{\"a\":1}}}}", 422,
     "postgresql.parameters.work_mem: expected a string, number or boolean"},
    {"{\"postgresql\":{\"pg_hba\":[\"host all all 0.0.0.0/0 md5\",5]}}", 422,
     "postgresql.pg_hba: expected a list of strings"},
    {"{\"standby_cluster\":{\"port\":70000}}", 422, "standby_cluster.port"},
    /* Patroni's rule: loop_wait + 2*retry_timeout <= ttl, defaults 30/10/10 */
    {"{\"ttl\":30,\"loop_wait\":10,\"retry_timeout\":10}", 0, NULL},
    {"{\"ttl\":30,\"loop_wait\":11,\"retry_timeout\":10}", 422,
     "loop_wait + 2*retry_timeout must not exceed ttl: 11 + 2*10 > 30"},
    {"{\"ttl\":25}", 422, "10 + 2*10 > 25"},
    {"{\"loop_wait\":5,\"ttl\":20,\"retry_timeout\":8}", 422, "5 + 2*8 > 20"},
    {"{\"loop_wait\":4,\"ttl\":20,\"retry_timeout\":8}", 0, NULL},
};

static void test_validate_dynamic_config(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(validate_cases); i++) {
        json_t *cfg = J(validate_cases[i].cfg);
        char msg[256];
        int rc = control_validate_dynamic_config(cfg, msg, sizeof(msg));
        if (rc != validate_cases[i].rc)
            fail_msg("row %zu %s: rc %d (%s), want %d", i, validate_cases[i].cfg, rc, msg,
                     validate_cases[i].rc);
        if (validate_cases[i].msg && !strstr(msg, validate_cases[i].msg))
            fail_msg("row %zu: message \"%s\", want \"%s\"", i, msg, validate_cases[i].msg);
        json_decref(cfg);
    }
    assert_int_equal(control_validate_dynamic_config(NULL, NULL, 0), 400);
}

static void test_parse_config_body(void **state)
{
    (void)state;
    json_t *j = NULL;
    char msg[128];
    assert_int_equal(control_parse_config_body("{\"ttl\":40}", 10, &j, msg, sizeof(msg)), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "ttl")), 40);
    json_decref(j);
    assert_int_equal(control_parse_config_body("{}", 2, &j, msg, sizeof(msg)), 400);
    assert_null(j);
    assert_int_equal(control_parse_config_body("", 0, &j, msg, sizeof(msg)), 400);
    assert_int_equal(control_parse_config_body("null", 4, &j, msg, sizeof(msg)), 400);
    assert_int_equal(control_parse_config_body("{\"a\":", 5, &j, msg, sizeof(msg)), 400);
    assert_non_null(strstr(msg, "not valid JSON"));
}

static void test_param_needs_restart(void **state)
{
    (void)state;
    static const char *const yes[] = {"max_connections",
                                      "shared_buffers",
                                      "max_wal_senders",
                                      "max_replication_slots",
                                      "wal_level",
                                      "max_worker_processes",
                                      "max_prepared_transactions",
                                      "max_locks_per_transaction",
                                      "wal_log_hints",
                                      "track_commit_timestamp",
                                      "hot_standby",
                                      "port",
                                      "listen_addresses",
                                      "shared_preload_libraries",
                                      "Max_Connections",
                                      "archive_mode"};
    static const char *const no[] = {"work_mem",
                                     "maintenance_work_mem",
                                     "max_wal_size",
                                     "synchronous_standby_names",
                                     "archive_command",
                                     "log_min_duration_statement",
                                     "",
                                     "max_connection"};
    for (size_t i = 0; i < ARRAY_LEN(yes); i++)
        if (!control_param_needs_restart(yes[i]))
            fail_msg("%s should need a restart", yes[i]);
    for (size_t i = 0; i < ARRAY_LEN(no); i++)
        if (control_param_needs_restart(no[i]))
            fail_msg("%s should not need a restart", no[i]);
    assert_false(control_param_needs_restart(NULL));
}

/* Messages are always terminated and cut to the buffer, never overflow it. */
static void test_small_msg_buffer(void **state)
{
    (void)state;
    struct control_switchover r;
    char msg[8];
    memset(msg, 'x', sizeof(msg));
    assert_int_equal(
        control_parse_switchover("{\"leader\":\"a\"}", 14, true, NOW_MS, &r, msg, sizeof(msg)),
        400);
    assert_string_equal(msg, "Failove");
    assert_int_equal(control_parse_switchover("{}", 2, true, NOW_MS, &r, NULL, 0), 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_switchover),
        cmocka_unit_test(test_check_switchover),
        cmocka_unit_test(test_choose_tie_by_name),
        cmocka_unit_test(test_parse_restart),
        cmocka_unit_test(test_restart_paused_and_matches),
        cmocka_unit_test(test_parse_reinitialize),
        cmocka_unit_test(test_merge_patch),
        cmocka_unit_test(test_validate_dynamic_config),
        cmocka_unit_test(test_parse_config_body),
        cmocka_unit_test(test_param_needs_restart),
        cmocka_unit_test(test_small_msg_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
