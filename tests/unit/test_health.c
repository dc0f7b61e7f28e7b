/* test_health: the Patroni-compatible health checks (http/health.c), compiled in so that
 * its statics (the parse_qs and parse_int emulations) are reachable.
 *
 * The expected codes and values are Patroni 3.0's (patroni/api.py, patroni/utils.py): the
 * parse_int cases were checked against patroni.utils.parse_int(value, 'B') itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/health.c"

/* ---- status variants -------------------------------------------------------------------- */

enum variant {
    V_PRIMARY,          /* running primary, holds the lock, lease valid */
    V_PRIMARY_NOLEASE,  /* running primary, lock held but lease no longer valid */
    V_PRIMARY_NOLOCK,   /* running primary without the lock (demotion pending) */
    V_LEADER_STOPPED,   /* lock holder whose PostgreSQL is stopped */
    V_REPLICA,          /* running replica, streaming, 100 bytes behind */
    V_REPLICA_LAGUNK,   /* running replica, leader optime unknown */
    V_REPLICA_NOSTREAM, /* running replica without a WAL receiver */
    V_REPLICA_NOLB,     /* running replica tagged noloadbalance */
    V_REPLICA_TAGS,     /* running replica with assorted tags */
    V_REPLICA_BIGLAG,   /* running replica 32 MiB behind */
    V_STOPPED,          /* stopped replica */
    V_STARTING,         /* starting, not answering yet */
    V_UNKNOWN,          /* running but the status query failed */
    V_UNINIT,           /* no data directory */
};

enum {
    M_NODCS = 1,    /* the Raft cluster cannot be reached */
    M_PAUSED = 2,   /* maintenance mode */
    M_SYNC = 4,     /* synchronous_mode on, this member in the sync set */
    M_SYNCMODE = 8, /* synchronous_mode on, this member not in the sync set */
    M_STANDBY = 16, /* standby cluster */
    M_RESTORE = 32, /* restore_command set */
    M_STANDBY_LEASE = 64,
};

static const char *const sync_names[] = {"node1"};
static const char *const other_sync[] = {"node9"};

static struct pg_status make_status(enum variant v, int mods)
{
    struct pg_status st;
    memset(&st, 0, sizeof(st));
    st.data_exists = true;
    st.state = PGS_RUNNING;
    snprintf(st.sysid, sizeof(st.sysid), "%s", "7268616322854375442");
    st.server_version = 150004;
    st.timeline = 3;
    st.postmaster_start_time_ms = 1724873966352LL;
    st.tags.failover_priority = 1;
    st.tags_json = "";
    switch (v) {
    case V_PRIMARY:
    case V_PRIMARY_NOLEASE:
    case V_PRIMARY_NOLOCK:
        st.is_primary = true;
        st.write_lsn = 67395656;
        st.i_hold_lock = v != V_PRIMARY_NOLOCK;
        st.lease_valid = v == V_PRIMARY;
        break;
    case V_LEADER_STOPPED:
        st.state = PGS_STOPPED;
        st.i_hold_lock = true;
        st.lease_valid = true;
        break;
    case V_REPLICA:
    case V_REPLICA_LAGUNK:
    case V_REPLICA_NOSTREAM:
    case V_REPLICA_NOLB:
    case V_REPLICA_TAGS:
    case V_REPLICA_BIGLAG:
        st.in_recovery = true;
        st.streaming = v != V_REPLICA_NOSTREAM;
        st.receive_lsn = 67419744;
        st.replay_lsn = 67419644;
        st.replay_timestamp_ms = 1724874000000LL;
        st.lag_known = v != V_REPLICA_LAGUNK;
        st.replication_lag = v == V_REPLICA_BIGLAG ? 32u << 20 : 100;
        snprintf(st.following, sizeof(st.following), "%s", "node0");
        if (v == V_REPLICA_NOLB) {
            st.tags.noloadbalance = true;
            st.tags_json = "{\"noloadbalance\": true}";
        }
        if (v == V_REPLICA_TAGS)
            st.tags_json = "{\"zone\": \"eu-1\", \"nofailover\": false, \"clonefrom\": true,"
                           " \"weight\": 2, \"ratio\": 0.5, \"big\": 1e16, \"empty\": \"\","
                           " \"gone\": null, \"list\": [\"a\", 1, true]}";
        break;
    case V_STOPPED:
        st.state = PGS_STOPPED;
        break;
    case V_STARTING:
        st.state = PGS_STARTING;
        break;
    case V_UNKNOWN:
        break; /* running, but neither primary nor in recovery is known */
    case V_UNINIT:
        st.state = PGS_STOPPED;
        st.data_exists = false;
        st.sysid[0] = '\0';
        break;
    }
    if (mods & M_PAUSED)
        st.paused = true;
    if (mods & M_STANDBY_LEASE) {
        st.i_hold_lock = true;
        st.lease_valid = true;
    }
    return st;
}

static struct health_ctx make_ctx(int mods)
{
    struct health_ctx c;
    memset(&c, 0, sizeof(c));
    c.scope = "demo";
    c.name = "node1";
    c.version = "0.1.0";
    c.now_ms = 1724875000000LL;
    c.next_run_ms = c.now_ms - 5000;
    c.ttl_s = 30;
    c.dcs_available = !(mods & M_NODCS);
    c.dcs_last_seen_s = 1724874995;
    c.standby_cluster = (mods & M_STANDBY) != 0;
    c.has_restore_command = (mods & M_RESTORE) != 0;
    if (mods & (M_SYNC | M_SYNCMODE)) {
        c.synchronous_mode = true;
        c.sync_members = (mods & M_SYNC) ? sync_names : other_sync;
        c.n_sync_members = 1;
    }
    return c;
}

static int run(const char *path, const char *query, enum variant v, int mods, json_t **body)
{
    struct pg_status st = make_status(v, mods);
    struct health_ctx ctx = make_ctx(mods);
    enum health_kind k = health_kind_of(path, strlen(path));
    return health_check(k, query, query ? strlen(query) : 0, &st, &ctx, body);
}

/* ---- the table -------------------------------------------------------------------------- */

struct row {
    const char *path;
    const char *query;
    enum variant v;
    int mods;
    int want;
};

static const struct row rows[] = {
    /* Primary and its aliases: the lock (lease) and a running primary. */
    {"/", NULL, V_PRIMARY, 0, 200},
    {"/primary", NULL, V_PRIMARY, 0, 200},
    {"/master", NULL, V_PRIMARY, 0, 200},
    {"/read-write", NULL, V_PRIMARY, 0, 200},
    {"/primary", "lag=1", V_PRIMARY, 0, 200},      /* lag is for replicas */
    {"/", "tag_zone=nowhere", V_PRIMARY, 0, 200},  /* tags are ignored here */
    {"/master/foo", NULL, V_PRIMARY, 0, 200},      /* substring match, as Patroni */
    {"/primary", NULL, V_PRIMARY_NOLEASE, 0, 503}, /* raftgres: no valid lease, no 200 */
    {"/", NULL, V_PRIMARY_NOLEASE, 0, 503},
    {"/master", NULL, V_PRIMARY_NOLEASE, 0, 503},
    {"/read-write", NULL, V_PRIMARY_NOLEASE, 0, 503},
    {"/primary", NULL, V_PRIMARY_NOLOCK, 0, 503},
    {"/primary", NULL, V_LEADER_STOPPED, 0, 503}, /* raftgres: PostgreSQL must be primary */
    {"/primary", NULL, V_REPLICA, 0, 503},
    {"/primary", NULL, V_STOPPED, 0, 503},
    {"/primary", NULL, V_PRIMARY, M_NODCS | M_PAUSED, 200},
    {"/primary", NULL, V_PRIMARY_NOLOCK, M_NODCS | M_PAUSED, 503}, /* Patroni: 200 */
    {"/primary", NULL, V_PRIMARY, M_STANDBY, 503},
    {"/primary", NULL, V_PRIMARY, M_NODCS, 200}, /* the lease still runs */

    /* Leader: the lock, whatever PostgreSQL does. */
    {"/leader", NULL, V_PRIMARY, 0, 200},
    {"/leader", "tag_zone=x", V_PRIMARY, 0, 200},
    {"/leader", NULL, V_LEADER_STOPPED, 0, 200},
    {"/leader", NULL, V_PRIMARY_NOLEASE, 0, 503},
    {"/leader", NULL, V_REPLICA, 0, 503},
    {"/leader", NULL, V_REPLICA, M_STANDBY | M_STANDBY_LEASE, 200},
    {"/leader", NULL, V_LEADER_STOPPED, M_NODCS | M_PAUSED, 200},

    /* Standby leader: only in a standby cluster. */
    {"/standby-leader", NULL, V_PRIMARY, 0, 503},
    {"/standby_leader", NULL, V_PRIMARY, 0, 503},
    {"/standby-leader", NULL, V_REPLICA, M_STANDBY | M_STANDBY_LEASE, 200},
    {"/standby_leader", NULL, V_REPLICA, M_STANDBY | M_STANDBY_LEASE, 200},
    {"/standby-leader", NULL, V_REPLICA, M_STANDBY, 503},
    {"/standby-leader", "tag_zone=x", V_REPLICA, M_STANDBY | M_STANDBY_LEASE, 200},
    {"/replica", NULL, V_REPLICA, M_STANDBY | M_STANDBY_LEASE, 503},
    {"/replica", NULL, V_REPLICA, M_STANDBY, 200},
    {"/read-only", NULL, V_REPLICA, M_STANDBY | M_STANDBY_LEASE, 200},

    /* Replica. */
    {"/replica", NULL, V_REPLICA, 0, 200},
    {"/replica", NULL, V_PRIMARY, 0, 503},
    {"/replica", NULL, V_STOPPED, 0, 503},
    {"/replica", NULL, V_STARTING, 0, 503},
    {"/replica", NULL, V_UNKNOWN, 0, 503},
    {"/replica", NULL, V_REPLICA_NOLB, 0, 503},
    {"/replica", NULL, V_REPLICA, M_NODCS, 200},
    {"/replica", NULL, V_REPLICA_NOSTREAM, 0, 200},
    {"/replica/", NULL, V_REPLICA, 0, 200},
    /* ?lag=: leader optime - replayed > max is lagging. */
    {"/replica", "lag=100", V_REPLICA, 0, 200},
    {"/replica", "lag=99", V_REPLICA, 0, 503},
    {"/replica", "lag=0", V_REPLICA, 0, 503},
    {"/replica", "lag=1024", V_REPLICA, 0, 200},
    {"/replica", "lag=1kB", V_REPLICA, 0, 200},
    {"/replica", "lag=1%20kB", V_REPLICA, 0, 200},
    {"/replica", "lag=1+kB", V_REPLICA, 0, 200},
    {"/replica", "lag=16MB", V_REPLICA_BIGLAG, 0, 503},
    {"/replica", "lag=32MB", V_REPLICA_BIGLAG, 0, 200},
    {"/replica", "lag=33554431", V_REPLICA_BIGLAG, 0, 503},
    {"/replica", "lag=33554432", V_REPLICA_BIGLAG, 0, 200},
    {"/replica", "lag=1GB", V_REPLICA_BIGLAG, 0, 200},
    {"/replica", "lag=0.03125GB", V_REPLICA_BIGLAG, 0, 200},
    {"/replica", "lag=0x2000000", V_REPLICA_BIGLAG, 0, 200},
    {"/replica", "lag=16KB", V_REPLICA_BIGLAG, 0, 200}, /* "KB" is no unit: lag ignored */
    {"/replica", "lag=lots", V_REPLICA_BIGLAG, 0, 200}, /* unparsable: ignored */
    {"/replica", "lag=", V_REPLICA_BIGLAG, 0, 200},     /* blank: dropped by parse_qs */
    {"/replica", "lag=-1", V_REPLICA, 0, 503},
    {"/replica", "lag=1&lag=1GB", V_REPLICA, 0, 503}, /* first value wins */
    {"/replica", "lag=1GB&lag=1", V_REPLICA, 0, 200},
    {"/replica", "lag=0", V_REPLICA_LAGUNK, 0, 200}, /* unknown optime: not lagging */
    {"/replica", "lag=0", V_REPLICA_NOLB, 0, 503},
    /* ?replication_state= */
    {"/replica", "replication_state=streaming", V_REPLICA, 0, 200},
    {"/replica", "replication_state=streaming", V_REPLICA_NOSTREAM, 0, 503},
    {"/replica", "replication_state=streaming", V_REPLICA_NOSTREAM, M_RESTORE, 503},
    {"/replica", "replication_state=in+archive+recovery", V_REPLICA_NOSTREAM, M_RESTORE, 200},
    {"/replica", "replication_state=in%20archive%20recovery", V_REPLICA, M_RESTORE, 503},
    {"/replica", "replication_state=", V_REPLICA_NOSTREAM, 0, 200},
    {"/replica", "replication_state=streaming", V_PRIMARY, 0, 503},
    /* ?tag_<key>=<value>: Python's str(value).lower() for non-strings. */
    {"/replica", "tag_zone=eu-1", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_zone=EU-1", V_REPLICA_TAGS, 0, 503},
    {"/replica", "tag_zone=eu-2", V_REPLICA_TAGS, 0, 503},
    {"/replica", "tag_rack=1", V_REPLICA_TAGS, 0, 503}, /* tag not set */
    {"/replica", "tag_weight=2", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_ratio=0.5", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_big=1e%2B16", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_clonefrom=true", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_clonefrom=True", V_REPLICA_TAGS, 0, 503},
    {"/replica", "tag_nofailover=false", V_REPLICA_TAGS, 0, 503}, /* false flags are dropped */
    {"/replica", "tag_gone=None", V_REPLICA_TAGS, 0, 503},
    {"/replica", "tag_list=%5B%27a%27%2C+1%2C+true%5D", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_empty=", V_REPLICA_TAGS, 0, 200}, /* blank value: parameter dropped */
    {"/replica", "tag_zone=eu-1&tag_weight=2", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_zone=eu-1&tag_weight=3", V_REPLICA_TAGS, 0, 503},
    {"/replica", "tag_zone=eu-1&tag_zone=x", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_%7Aone=eu-1", V_REPLICA_TAGS, 0, 200},
    {"/replica", "tag_zone", V_REPLICA_TAGS, 0, 200}, /* no '=': dropped */
    {"/replica", "tag_noloadbalance=true", V_REPLICA_NOLB, 0, 503},
    {"/replica", "tag_zone=eu-1;lag=0", V_REPLICA_TAGS, 0, 503}, /* ';' is no separator */

    /* Read-only: the primary or a replica. */
    {"/read-only", NULL, V_PRIMARY, 0, 200},
    {"/read-only", NULL, V_REPLICA, 0, 200},
    {"/read-only", NULL, V_PRIMARY_NOLEASE, 0, 503},
    {"/read-only", NULL, V_STOPPED, 0, 503},
    {"/read-only", NULL, V_REPLICA_NOLB, 0, 503},
    {"/read-only", "lag=1", V_REPLICA, 0, 503},
    {"/read-only", "lag=1", V_PRIMARY, 0, 200},
    {"/read-only", "tag_zone=eu-1", V_PRIMARY, 0, 503}, /* tags do apply here */
    {"/read-only", "tag_zone=eu-1", V_REPLICA_TAGS, 0, 200},

    /* Health: PostgreSQL is running. */
    {"/health", NULL, V_PRIMARY, 0, 200},
    {"/health", NULL, V_REPLICA, 0, 200},
    {"/health", NULL, V_PRIMARY_NOLEASE, 0, 200},
    {"/health", NULL, V_REPLICA_NOLB, 0, 200},
    {"/health", NULL, V_STOPPED, 0, 503},
    {"/health", NULL, V_STARTING, 0, 503},
    {"/health", NULL, V_UNKNOWN, 0, 503},
    {"/health", NULL, V_REPLICA, M_NODCS, 200},
    {"/health", "tag_zone=eu-1", V_REPLICA, 0, 503},
    {"/healthz", NULL, V_REPLICA, 0, 200},

    /* Synchronous endpoints. */
    {"/sync", NULL, V_REPLICA, 0, 503},
    {"/synchronous", NULL, V_REPLICA, 0, 503},
    {"/sync", NULL, V_REPLICA, M_SYNC, 200},
    {"/synchronous", NULL, V_REPLICA, M_SYNC, 200},
    {"/sync", NULL, V_REPLICA, M_SYNCMODE, 503},
    {"/sync", NULL, V_REPLICA, M_SYNC | M_NODCS, 503},
    {"/sync", "lag=1", V_REPLICA, M_SYNC, 503},
    {"/sync", NULL, V_PRIMARY, M_SYNC, 503},
    {"/async", NULL, V_REPLICA, 0, 200},
    {"/asynchronous", NULL, V_REPLICA, 0, 200},
    {"/async", NULL, V_REPLICA, M_SYNC, 503},
    {"/async", NULL, V_REPLICA, M_SYNCMODE, 200},
    {"/async", NULL, V_REPLICA, M_NODCS, 503},
    {"/async", NULL, V_PRIMARY, 0, 503},
    {"/async", "tag_zone=eu-2", V_REPLICA_TAGS, 0, 503},
    {"/read-only-sync", NULL, V_PRIMARY, 0, 200},
    {"/read-only-synchronous", NULL, V_PRIMARY, 0, 200},
    {"/read-only-sync", NULL, V_REPLICA, 0, 503},
    {"/read-only-sync", NULL, V_REPLICA, M_SYNC, 200},
    {"/read-only-sync", NULL, V_PRIMARY, M_NODCS, 503},
    {"/sync/", NULL, V_REPLICA, M_SYNC, 503}, /* exact paths only */

    /* Anything else GET-able: Patroni's do_GET answers 503 with the status body. */
    {"/nothing", NULL, V_PRIMARY, 0, 503},

    /* /patroni is always 200. */
    {"/patroni", NULL, V_PRIMARY, 0, 200},
    {"/patroni", NULL, V_STOPPED, 0, 200},
};

static void test_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        json_t *body = NULL;
        int got = run(r->path, r->query, r->v, r->mods, &body);
        if (got != r->want) {
            print_error("row %zu: GET %s%s%s (variant %d, mods %#x): got %d, want %d\n", i, r->path,
                        r->query ? "?" : "", r->query ? r->query : "", (int)r->v, r->mods, got,
                        r->want);
            failures++;
        }
        if (!json_is_object(body)) {
            print_error("row %zu: GET %s: no JSON object body\n", i, r->path);
            failures++;
        }
        json_decref(body);
    }
    assert_int_equal(failures, 0);
}

/* ---- paths -------------------------------------------------------------------------------- */

static void test_kind_of(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        enum health_kind want;
    } t[] = {
        {"/", HEALTH_PRIMARY},
        {"/primary", HEALTH_PRIMARY},
        {"/master", HEALTH_PRIMARY},
        {"/read-write", HEALTH_PRIMARY},
        {"/leader", HEALTH_LEADER},
        {"/standby-leader", HEALTH_STANDBY_LEADER},
        {"/standby_leader", HEALTH_STANDBY_LEADER},
        {"/replica", HEALTH_REPLICA},
        {"/read-only", HEALTH_READ_ONLY},
        {"/health", HEALTH_HEALTH},
        {"/sync", HEALTH_SYNC},
        {"/synchronous", HEALTH_SYNC},
        {"/async", HEALTH_ASYNC},
        {"/asynchronous", HEALTH_ASYNC},
        {"/read-only-sync", HEALTH_READ_ONLY_SYNC},
        {"/read-only-synchronous", HEALTH_READ_ONLY_SYNC},
        {"/liveness", HEALTH_LIVENESS},
        {"/readiness", HEALTH_READINESS},
        {"/patroni", HEALTH_PATRONI},
        {"/patroni/primary", HEALTH_PATRONI}, /* first segment wins */
        {"//liveness", HEALTH_LIVENESS},
        {"/cluster", HEALTH_NONE},
        {"/cluster/primary", HEALTH_NONE},
        {"/history", HEALTH_NONE},
        {"/config", HEALTH_NONE},
        {"/metrics", HEALTH_NONE},
        {"/failsafe", HEALTH_NONE},
        {"/raft/propose", HEALTH_NONE},
        {"/raft/members", HEALTH_NONE},
        {"/PRIMARY", HEALTH_NONE},
        {"/sync/", HEALTH_NONE},
        {"/primary-replica", HEALTH_PRIMARY}, /* "primary" is tried first */
        {"/replica-leader", HEALTH_LEADER},   /* "leader" before "replica" */
        {"/read-only-replica", HEALTH_REPLICA},
        {"/masterful-health", HEALTH_PRIMARY},
        {"/read-only-async", HEALTH_NONE},
        {"", HEALTH_NONE},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        enum health_kind k = health_kind_of(t[i].path, strlen(t[i].path));
        if (k != t[i].want)
            print_error("path '%s': got %d want %d\n", t[i].path, (int)k, (int)t[i].want);
        assert_int_equal(k, t[i].want);
    }
    /* Not NUL-terminated: only LEN bytes count. */
    assert_int_equal(health_kind_of("/replicaXYZ", 3), HEALTH_NONE);
    assert_int_equal(health_kind_of("/healthy", 7), HEALTH_HEALTH);
}

/* ---- sizes -------------------------------------------------------------------------------- */

static void test_parse_size(void **state)
{
    (void)state;
    /* Expected values are patroni.utils.parse_int(value, 'B') (None -> -1). */
    static const struct {
        const char *s;
        long long want;
    } t[] = {
        {"16MB", 16777216},
        {"1024", 1024},
        {"1kB", 1024},
        {"1 kB", 1024},
        {"1KB", -1},
        {"1.5kB", 1536},
        {"0x400", 1024},
        {"010", 8},
        {"09", -1},
        {"1e3", 1000},
        {".5", 0},
        {"1.5", 2},
        {"2.5", 2},
        {"3.5", 4},
        {" 16 MB ", 16777216},
        {"0.1MB", 104448},
        {"abc", -1},
        {"", -1},
        {"-1", -1},
        {"-0x10", -1},
        {"1TB", 1099511627776LL},
        {"1.MB", -1},
        {"1E", -1},
        {"0e5", 0},
        {"1GB", 1073741824},
        {"1B", 1},
        {"+5", 5},
        {"5 B", 5},
        {"0X10", -1},
        {"1.5e3kB", 1536000},
        {"\x1c"
         "5\x1f",
         5},
        {"1 MB x", -1},
        {"99999999999999999999", LLONG_MAX},
        {"0", 0},
        {"1048576", 1048576},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        long long got = health_parse_size(t[i].s);
        if (got != t[i].want)
            print_error("'%s': got %lld want %lld\n", t[i].s, got, t[i].want);
        assert_true(got == t[i].want);
    }
    assert_true(health_parse_size(NULL) == -1);
    /* The exact parser keeps Patroni's negative values. */
    long long v = 0;
    assert_true(parse_bytes("-0x10", 5, &v) && v == -16);
    assert_false(parse_bytes("16\0MB", 5, &v));
}

/* ---- query strings ----------------------------------------------------------------------- */

static void test_query_parse(void **state)
{
    (void)state;
    struct qs q;
    const char *s = "a=1&b=&c&=x&a=2&d=x%2By+z&e=%zz&&f=%41";
    assert_true(qs_parse(s, strlen(s), &q));
    assert_int_equal(q.n, 6); /* a, =x, a, d, e, f */
    const struct qs_pair *p = qs_get(&q, "a");
    assert_non_null(p);
    assert_string_equal(p->val, "1");
    assert_null(qs_get(&q, "b"));
    assert_null(qs_get(&q, "c"));
    assert_string_equal(qs_get(&q, "")->val, "x");
    assert_string_equal(qs_get(&q, "d")->val, "x+y z");
    assert_string_equal(qs_get(&q, "e")->val, "%zz");
    assert_string_equal(qs_get(&q, "f")->val, "A");
    qs_free(&q);
    assert_true(qs_parse(NULL, 0, &q));
    assert_int_equal(q.n, 0);
    qs_free(&q);
    /* Not NUL-terminated. */
    assert_true(qs_parse("lag=16MBjunk", 8, &q));
    assert_string_equal(qs_get(&q, "lag")->val, "16MB");
    qs_free(&q);
}

static void test_float_repr(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } t[] = {{0.5, "0.5"},          {2.0, "2.0"},
             {1e16, "1e+16"},       {1e15, "1000000000000000.0"},
             {0.0001, "0.0001"},    {0.00001, "1e-05"},
             {-1.25, "-1.25"},      {0.1, "0.1"},
             {123.456, "123.456"},  {1.5e-7, "1.5e-07"},
             {1.23e20, "1.23e+20"}, {0.0, "0.0"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct sbuf sb = {.n = 0};
        sb.b[0] = '\0';
        py_float_repr(&sb, t[i].v);
        assert_string_equal(sb.b, t[i].want);
    }
}

/* ---- liveness and readiness ---------------------------------------------------------------- */

static int probe(enum health_kind k, enum variant v, int mods, int64_t since_next_run_ms,
                 json_t **body)
{
    struct pg_status st = make_status(v, mods);
    struct health_ctx ctx = make_ctx(mods);
    ctx.next_run_ms = ctx.now_ms - since_next_run_ms;
    return health_check(k, NULL, 0, &st, &ctx, body);
}

static void test_liveness(void **state)
{
    (void)state;
    json_t *body = (json_t *)1;
    /* A running primary: ttl (30 s) past next_run. */
    assert_int_equal(probe(HEALTH_LIVENESS, V_PRIMARY, 0, 29999, &body), 200);
    assert_null(body); /* status line only, as Patroni */
    assert_int_equal(probe(HEALTH_LIVENESS, V_PRIMARY, 0, 30000, &body), 503);
    /* Anyone else: 2 * ttl. */
    assert_int_equal(probe(HEALTH_LIVENESS, V_REPLICA, 0, 59999, &body), 200);
    assert_int_equal(probe(HEALTH_LIVENESS, V_REPLICA, 0, 60000, &body), 503);
    assert_int_equal(probe(HEALTH_LIVENESS, V_STOPPED, 0, 45000, &body), 200);
    /* Paused: always alive. */
    assert_int_equal(probe(HEALTH_LIVENESS, V_PRIMARY, M_PAUSED, 999999, &body), 200);
    /* next_run in the future (the loop is asleep until then). */
    assert_int_equal(probe(HEALTH_LIVENESS, V_PRIMARY, 0, -10000, &body), 200);
    /* Not started yet. */
    struct pg_status st = make_status(V_PRIMARY, 0);
    struct health_ctx ctx = make_ctx(0);
    ctx.next_run_ms = 0;
    assert_int_equal(health_check(HEALTH_LIVENESS, NULL, 0, &st, &ctx, &body), 200);
    assert_int_equal(health_kind_of("/liveness", 9), HEALTH_LIVENESS);
}

static void test_readiness(void **state)
{
    (void)state;
    json_t *body = (json_t *)1;
    assert_int_equal(probe(HEALTH_READINESS, V_PRIMARY, 0, 0, &body), 200);
    assert_null(body);
    assert_int_equal(probe(HEALTH_READINESS, V_PRIMARY, M_NODCS, 0, &body), 200);
    assert_int_equal(probe(HEALTH_READINESS, V_LEADER_STOPPED, 0, 0, &body), 200);
    assert_int_equal(probe(HEALTH_READINESS, V_REPLICA, 0, 0, &body), 200);
    assert_int_equal(probe(HEALTH_READINESS, V_REPLICA_NOSTREAM, 0, 0, &body), 200);
    assert_int_equal(probe(HEALTH_READINESS, V_REPLICA, M_NODCS, 0, &body), 503);
    assert_int_equal(probe(HEALTH_READINESS, V_PRIMARY_NOLEASE, 0, 0, &body), 200);
    assert_int_equal(probe(HEALTH_READINESS, V_PRIMARY_NOLEASE, M_NODCS, 0, &body), 503);
    assert_int_equal(probe(HEALTH_READINESS, V_STOPPED, 0, 0, &body), 503);
    assert_int_equal(probe(HEALTH_READINESS, V_STARTING, 0, 0, &body), 503);
    assert_int_equal(probe(HEALTH_READINESS, V_UNKNOWN, 0, 0, &body), 200);
}

/* ---- the /patroni body --------------------------------------------------------------------- */

static json_t *patroni_body(enum variant v, int mods)
{
    json_t *body = NULL;
    assert_int_equal(run("/patroni", NULL, v, mods, &body), 200);
    assert_true(json_is_object(body));
    return body;
}

static char *keys_of(const json_t *o)
{
    static char buf[1024];
    buf[0] = '\0';
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (buf[0])
            strcat(buf, ",");
        strcat(buf, k);
    }
    return buf;
}

static void test_body_primary(void **state)
{
    (void)state;
    json_t *b = patroni_body(V_PRIMARY, 0);
    /* Patroni's order: get_postgresql_status, then _write_status_response. */
    assert_string_equal(keys_of(b), "state,postmaster_start_time,role,server_version,xlog,"
                                    "timeline,dcs_last_seen,database_system_identifier,patroni");
    assert_string_equal(json_string_value(json_object_get(b, "state")), "running");
    assert_string_equal(json_string_value(json_object_get(b, "postmaster_start_time")),
                        "2024-08-28 19:39:26.352000+00:00");
    assert_string_equal(json_string_value(json_object_get(b, "role")), "master");
    assert_true(json_is_integer(json_object_get(b, "server_version")));
    assert_int_equal(json_integer_value(json_object_get(b, "server_version")), 150004);
    json_t *x = json_object_get(b, "xlog");
    assert_string_equal(keys_of(x), "location");
    assert_true(json_is_integer(json_object_get(x, "location")));
    assert_int_equal(json_integer_value(json_object_get(x, "location")), 67395656);
    assert_true(json_is_integer(json_object_get(b, "timeline")));
    assert_int_equal(json_integer_value(json_object_get(b, "timeline")), 3);
    assert_true(json_is_integer(json_object_get(b, "dcs_last_seen")));
    assert_true(json_is_string(json_object_get(b, "database_system_identifier")));
    assert_string_equal(json_string_value(json_object_get(b, "database_system_identifier")),
                        "7268616322854375442");
    json_t *p = json_object_get(b, "patroni");
    assert_string_equal(keys_of(p), "version,scope,name");
    assert_string_equal(json_string_value(json_object_get(p, "version")), "0.1.0");
    assert_string_equal(json_string_value(json_object_get(p, "scope")), "demo");
    assert_string_equal(json_string_value(json_object_get(p, "name")), "node1");
    /* Absent unless true. */
    assert_null(json_object_get(b, "cluster_unlocked"));
    assert_null(json_object_get(b, "pending_restart"));
    assert_null(json_object_get(b, "pause"));
    assert_null(json_object_get(b, "tags"));
    json_decref(b);
}

static void test_body_replica(void **state)
{
    (void)state;
    json_t *b = patroni_body(V_REPLICA_TAGS, M_SYNC);
    assert_string_equal(keys_of(b), "state,postmaster_start_time,role,server_version,xlog,"
                                    "sync_standby,timeline,replication_state,dcs_last_seen,tags,"
                                    "database_system_identifier,patroni");
    assert_string_equal(json_string_value(json_object_get(b, "role")), "replica");
    json_t *x = json_object_get(b, "xlog");
    assert_string_equal(keys_of(x),
                        "received_location,replayed_location,replayed_timestamp,paused");
    assert_true(json_is_integer(json_object_get(x, "received_location")));
    assert_int_equal(json_integer_value(json_object_get(x, "received_location")), 67419744);
    assert_int_equal(json_integer_value(json_object_get(x, "replayed_location")), 67419644);
    assert_string_equal(json_string_value(json_object_get(x, "replayed_timestamp")),
                        "2024-08-28 19:40:00+00:00");
    assert_true(json_is_false(json_object_get(x, "paused")));
    assert_true(json_is_true(json_object_get(b, "sync_standby")));
    assert_string_equal(json_string_value(json_object_get(b, "replication_state")), "streaming");
    /* Tags as configured, without false boolean flags. */
    json_t *t = json_object_get(b, "tags");
    assert_null(json_object_get(t, "nofailover"));
    assert_true(json_is_true(json_object_get(t, "clonefrom")));
    assert_string_equal(json_string_value(json_object_get(t, "zone")), "eu-1");
    assert_int_equal(json_integer_value(json_object_get(t, "weight")), 2);
    json_decref(b);

    /* Nothing received yet: received_location falls back to replayed_location; no replay
     * timestamp is null; an unknown replica timeline is null. */
    struct pg_status st = make_status(V_REPLICA_NOSTREAM, 0);
    struct health_ctx ctx = make_ctx(0);
    st.receive_lsn = 0;
    st.replay_timestamp_ms = 0;
    st.timeline = 0;
    st.replay_paused = true;
    b = health_patroni_json(&st, &ctx);
    x = json_object_get(b, "xlog");
    assert_int_equal(json_integer_value(json_object_get(x, "received_location")), 67419644);
    assert_true(json_is_null(json_object_get(x, "replayed_timestamp")));
    assert_true(json_is_true(json_object_get(x, "paused")));
    assert_true(json_is_null(json_object_get(b, "timeline")));
    assert_null(json_object_get(b, "replication_state"));
    assert_null(json_object_get(b, "sync_standby"));
    json_decref(b);
    ctx.has_restore_command = true;
    b = health_patroni_json(&st, &ctx);
    assert_string_equal(json_string_value(json_object_get(b, "replication_state")),
                        "in archive recovery");
    json_decref(b);
}

static void test_body_short(void **state)
{
    (void)state;
    /* Not running: only state and role, as when Patroni's status query cannot run. */
    json_t *b = patroni_body(V_STOPPED, M_PAUSED | M_NODCS);
    assert_string_equal(keys_of(b), "state,role,cluster_unlocked,dcs_last_seen,"
                                    "database_system_identifier,patroni,pause");
    assert_string_equal(json_string_value(json_object_get(b, "state")), "stopped");
    assert_string_equal(json_string_value(json_object_get(b, "role")), "replica");
    assert_true(json_is_true(json_object_get(b, "cluster_unlocked")));
    assert_true(json_is_true(json_object_get(b, "pause")));
    json_decref(b);

    b = patroni_body(V_UNKNOWN, 0);
    assert_string_equal(json_string_value(json_object_get(b, "state")), "unknown");
    json_decref(b);
    b = patroni_body(V_LEADER_STOPPED, 0);
    assert_string_equal(json_string_value(json_object_get(b, "role")), "master");
    json_decref(b);
    b = patroni_body(V_UNINIT, 0);
    assert_string_equal(json_string_value(json_object_get(b, "role")), "uninitialized");
    assert_null(json_object_get(b, "database_system_identifier"));
    json_decref(b);
    b = patroni_body(V_REPLICA, M_STANDBY | M_STANDBY_LEASE);
    assert_string_equal(json_string_value(json_object_get(b, "role")), "standby_leader");
    json_decref(b);

    /* Flags that appear only when true. */
    struct pg_status st = make_status(V_PRIMARY, 0);
    struct health_ctx ctx = make_ctx(0);
    st.pending_restart = true;
    st.cluster_unlocked = true;
    st.postmaster_start_time_ms = 0;
    b = health_patroni_json(&st, &ctx);
    assert_true(json_is_true(json_object_get(b, "pending_restart")));
    assert_true(json_is_true(json_object_get(b, "cluster_unlocked")));
    assert_true(json_is_null(json_object_get(b, "postmaster_start_time")));
    json_decref(b);

    /* Every state word. */
    static const struct {
        enum pg_run_state s;
        const char *w;
    } words[] = {{PGS_STOPPED, "stopped"},
                 {PGS_STARTING, "starting"},
                 {PGS_STOPPING, "stopping"},
                 {PGS_CRASHED, "crashed"},
                 {PGS_INITDB, "initializing new cluster"},
                 {PGS_BASEBACKUP, "creating replica"},
                 {PGS_REWINDING, "running pg_rewind"},
                 {PGS_START_FAILED, "start failed"},
                 {PGS_UNKNOWN, "unknown"}};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        st = make_status(V_STOPPED, 0);
        st.state = words[i].s;
        b = health_patroni_json(&st, &ctx);
        assert_string_equal(json_string_value(json_object_get(b, "state")), words[i].w);
        json_decref(b);
    }
}

/* Every do_GET-style answer carries the same status body as /patroni. */
static void test_health_body_is_status(void **state)
{
    (void)state;
    json_t *a = NULL, *b = NULL;
    assert_int_equal(run("/replica", "lag=0", V_REPLICA, 0, &a), 503);
    b = patroni_body(V_REPLICA, 0);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_kind_of),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_float_repr),
        cmocka_unit_test(test_liveness),
        cmocka_unit_test(test_readiness),
        cmocka_unit_test(test_body_primary),
        cmocka_unit_test(test_body_replica),
        cmocka_unit_test(test_body_short),
        cmocka_unit_test(test_health_body_is_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
