/* Unit tests of the configuration module: the walkthrough's Patroni config (with raft: instead of
 * etcd:) and config/raftgres.yml load cleanly; every validation class reports the right message at
 * the right line:column; environment overrides; defaults; docs/config.md matches the table.
 *
 * `test_config --markdown` prints the generated docs/config.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/config.h"

static struct cfg *C;
static struct cfg_report R;
static int RC;

static char *srcpath(const char *rel)
{
    const char *root = getenv("RAFTGRES_SRCDIR");
    char *p;
    if (asprintf(&p, "%s/%s", root ? root : ".", rel) < 0)
        abort();
    return p;
}

static void dump(void)
{
    cfg_report_print(&R, stderr);
}

static int load_file(const char *rel, char *const envp[])
{
    char *p = srcpath(rel);
    RC = cfg_load(p, envp, &C, &R);
    free(p);
    return RC;
}

static int load_str(const char *yaml, char *const envp[])
{
    RC = cfg_load_string(yaml, "t.yml", envp, &C, &R);
    return RC;
}

static int teardown(void **state)
{
    (void)state;
    cfg_free(C);
    C = NULL;
    cfg_report_free(&R);
    return 0;
}

/* Is there a diagnostic of this severity at line:col (file) whose message contains `sub`? */
static bool has(int sev, int line, int col, const char *sub)
{
    for (size_t i = 0; i < R.n; i++) {
        const struct cfg_diag *d = &R.items[i];
        if (d->severity == sev && !d->env && d->line == line && d->column == col &&
            strstr(d->msg, sub))
            return true;
    }
    dump();
    return false;
}

static bool has_env(int sev, const char *var, const char *sub)
{
    for (size_t i = 0; i < R.n; i++) {
        const struct cfg_diag *d = &R.items[i];
        if (d->severity == sev && d->env && !strcmp(d->env, var) && strstr(d->msg, sub))
            return true;
    }
    dump();
    return false;
}

static json_t *J(const char *path)
{
    json_t *j = cfg_lookup(C, path);
    if (!j)
        fail_msg("no value at %s", path);
    return j;
}

/* A valid minimal config; the tests below that need positions spell their own text. */
#define BASE_HEAD                                                                                  \
    "scope: demo\n"                                                                                \
    "name: node1\n"                                                                                \
    "restapi:\n"                                                                                   \
    "  listen: 127.0.0.1:8008\n"                                                                   \
    "postgresql:\n"                                                                                \
    "  listen: 127.0.0.1:5432\n"                                                                   \
    "  data_dir: /tmp/pg\n"
#define RAFT_OK                                                                                    \
    "raft:\n"                                                                                      \
    "  data_dir: /tmp/raft\n"                                                                      \
    "  self_addr: 127.0.0.1:5010\n"                                                                \
    "  partner_addrs: [127.0.0.1:5010, 127.0.0.1:5011, 127.0.0.1:5012]\n"
#define BASE BASE_HEAD RAFT_OK /* lines 1..11 */

static char *const no_env[] = {NULL};

/* ---------------------------------------------------------------------------------------------- */

static void test_walkthrough(void **state)
{
    (void)state;
    assert_int_equal(load_file("tests/unit/config/walkthrough.yml", no_env), 0);
    assert_non_null(C);
    assert_int_equal(R.n_errors, 0);
    assert_int_equal(R.n_warnings, 0);
    assert_string_equal(C->scope, "stampede1");
    assert_string_equal(C->name, "node1");
    assert_string_equal(C->namespace_, "/service/");
    assert_string_equal(C->restapi.listen, "0.0.0.0:8008");
    assert_string_equal(C->restapi.listen_host, "0.0.0.0");
    assert_int_equal(C->restapi.listen_port, 8008);
    assert_string_equal(C->restapi.connect_address, "node1:8008");
    assert_int_equal(C->dcs.ttl, 30);
    assert_int_equal(C->dcs.loop_wait, 10);
    assert_int_equal(C->dcs.retry_timeout, 10);
    assert_int_equal(C->dcs.maximum_lag_on_failover, 1048576);
    assert_false(C->dcs.synchronous_mode);
    assert_int_equal(json_integer_value(json_object_get(C->dcs_json, "ttl")), 30);
    json_t *params = json_object_get(json_object_get(C->dcs_json, "postgresql"), "parameters");
    assert_true(json_is_integer(json_object_get(params, "max_wal_senders")));
    assert_int_equal(json_integer_value(json_object_get(params, "max_wal_senders")), 5);
    assert_string_equal(json_string_value(json_object_get(params, "hot_standby")), "on");
    assert_string_equal(json_string_value(json_object_get(params, "wal_level")), "replica");
    assert_true(json_is_true(J("bootstrap.dcs.postgresql.use_pg_rewind")));
    assert_true(C->postgresql.use_pg_rewind); /* from bootstrap.dcs.postgresql */
    json_t *initdb = json_object_get(C->bootstrap_json, "initdb");
    assert_int_equal(json_array_size(initdb), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(initdb, 0), "encoding")),
                        "UTF8");
    assert_string_equal(json_string_value(json_array_get(initdb, 1)), "data-checksums");
    assert_int_equal(json_array_size(J("bootstrap.pg_hba")), 5);
    assert_string_equal(json_string_value(J("bootstrap.users.admin.password")), "admin");
    assert_string_equal(C->postgresql.data_dir, "/var/lib/postgresql/13/main");
    assert_string_equal(C->postgresql.bin_dir, "/usr/lib/postgresql/13/bin");
    assert_string_equal(C->postgresql.replication.username, "replicator");
    assert_string_equal(C->postgresql.superuser.password, "password");
    assert_null(C->postgresql.rewind.username);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(C->postgresql_json, "parameters"),
                                          "unix_socket_directories")),
        "/var/run/postgresql");
    assert_string_equal(C->watchdog.mode, "required");
    assert_string_equal(C->watchdog.device, "/dev/watchdog");
    assert_int_equal(C->watchdog.safety_margin, 5);
    assert_true(json_is_false(json_object_get(C->tags_json, "nofailover")));
    assert_true(json_is_false(json_object_get(C->tags_json, "clonefrom")));
    assert_int_equal(json_object_size(C->tags_json), 4);
    assert_string_equal(C->raft.self_addr, "node1:5010");
    assert_int_equal(C->raft.n_partner_addrs, 3);
    assert_string_equal(C->raft.partner_addrs[2], "node3:5010");
    assert_string_equal(C->log.level, "INFO");
}

static void test_reference_config(void **state)
{
    (void)state;
    int rc = load_file("config/raftgres.yml", no_env);
    if (R.n)
        dump();
    assert_int_equal(rc, 0);
    assert_int_equal(R.n_errors, 0);
    assert_int_equal(R.n_warnings, 0);
    assert_string_equal(C->raft.self_addr, C->raft.partner_addrs[0]);
}

static void test_docs_match_table(void **state)
{
    (void)state;
    char *gen = NULL;
    size_t genlen = 0;
    FILE *m = open_memstream(&gen, &genlen);
    cfg_table_markdown(m);
    fclose(m);
    char *p = srcpath("docs/config.md");
    FILE *f = fopen(p, "rb");
    free(p);
    assert_non_null(f);
    char *doc = calloc(1, genlen + 2);
    size_t n = fread(doc, 1, genlen + 1, f);
    fclose(f);
    if (n != genlen || memcmp(doc, gen, genlen) != 0)
        fail_msg("docs/config.md differs from the table; regenerate with "
                 "`test_config --markdown > docs/config.md`");
    free(doc);
    free(gen);
}

static void test_missing_scope(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE + strlen("scope: demo\n"), no_env), -1);
    assert_null(C);
    assert_int_equal(R.n_errors, 1);
    assert_true(has(CFG_ERROR, 1, 1, "missing required key 'scope'"));
}

static void test_missing_section(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE_HEAD, no_env), -1);
    assert_int_equal(R.n_errors, 1); /* one error for the section, not one per key */
    assert_true(has(CFG_ERROR, 1, 1,
                    "missing required section 'raft' (with raft.data_dir, "
                    "raft.self_addr, raft.partner_addrs)"));
}

static void test_empty_required(void **state)
{
    (void)state;
    assert_int_equal(
        load_str("scope: ''\nname:\nrestapi:\n  listen: 127.0.0.1:8008\n"
                 "postgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/pg\n" RAFT_OK,
                 no_env),
        -1);
    assert_int_equal(R.n_errors, 2);
    assert_true(has(CFG_ERROR, 1, 1, "scope is required and must not be empty"));
    assert_true(has(CFG_ERROR, 2, 1, "name is required and must not be empty"));
}

static void test_bad_ttl_type(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE "bootstrap:\n  dcs:\n    ttl: abc\n", no_env), -1);
    assert_int_equal(R.n_errors, 1); /* no follow-up loop_wait rule error on a bad ttl */
    assert_true(has(CFG_ERROR, 14, 10, "bootstrap.dcs.ttl: expected an integer, got 'abc'"));
}

static void test_ttl_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE "bootstrap:\n  dcs:\n    ttl: 5\n    loop_wait: 1\n"
                                   "    retry_timeout: 3\n",
                              no_env),
                     -1);
    assert_int_equal(R.n_errors, 1);
    assert_true(has(CFG_ERROR, 14, 10, "bootstrap.dcs.ttl: 5 is out of range 20..3600"));
}

static void test_bad_enum(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE "watchdog:\n  mode: sometimes\n", no_env), -1);
    assert_true(has(CFG_ERROR, 13, 9,
                    "watchdog.mode: expected one of off/automatic/required, got 'sometimes'"));
    teardown(state);
    /* YAML's unquoted off/false mean "off", as in Patroni; auto is automatic. */
    assert_int_equal(load_str(BASE "watchdog:\n  mode: off\n", no_env), 0);
    assert_string_equal(C->watchdog.mode, "off");
    teardown(state);
    assert_int_equal(load_str(BASE "watchdog:\n  mode: false\n", no_env), 0);
    assert_string_equal(C->watchdog.mode, "off");
    teardown(state);
    assert_int_equal(load_str(BASE "watchdog:\n  mode: Auto\nlog:\n  level: debug\n", no_env), 0);
    assert_string_equal(C->watchdog.mode, "automatic");
    assert_string_equal(C->log.level, "DEBUG");
}

static void test_loop_wait_rule(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE "bootstrap:\n  dcs:\n    loop_wait: 10\n    ttl: 25\n"
                                   "    retry_timeout: 8\n",
                              no_env),
                     -1);
    assert_int_equal(R.n_errors, 1);
    assert_true(has(CFG_ERROR, 15, 5,
                    "loop_wait (10) + 2*retry_timeout (2*8) = 26 exceeds ttl "
                    "(25)"));
    teardown(state);
    /* Exactly equal is allowed. */
    assert_int_equal(load_str(BASE "bootstrap:\n  dcs:\n    loop_wait: 10\n    ttl: 26\n"
                                   "    retry_timeout: 8\n",
                              no_env),
                     0);
    teardown(state);
    /* ttl absent: the default 30 applies, the error sits at the retry_timeout key. */
    assert_int_equal(load_str(BASE "bootstrap:\n  dcs:\n    retry_timeout: 11\n", no_env), -1);
    assert_true(has(CFG_ERROR, 14, 5, "= 32 exceeds ttl (30)"));
}

static void test_safety_margin_rule(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE "watchdog:\n  safety_margin: 30\n", no_env), -1);
    assert_true(has(CFG_ERROR, 13, 18, "watchdog.safety_margin (30) must be less than"));
    teardown(state);
    assert_int_equal(load_str(BASE "watchdog:\n  mode: off\n  safety_margin: 30\n", no_env), 0);
    teardown(state);
    assert_int_equal(load_str(BASE "watchdog:\n  safety_margin: -1\n", no_env), 0);
    assert_int_equal(C->watchdog.safety_margin, -1);
}

static void test_self_not_in_partners(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE_HEAD "raft:\n  data_dir: /tmp/raft\n"
                                        "  self_addr: 127.0.0.1:5010\n"
                                        "  partner_addrs: [127.0.0.1:5011, 127.0.0.1:5012]\n",
                              no_env),
                     -1);
    assert_int_equal(R.n_errors, 1);
    assert_true(has(CFG_ERROR, 10, 14,
                    "raft.self_addr '127.0.0.1:5010' is not in "
                    "raft.partner_addrs"));
    assert_true(has(CFG_ERROR, 10, 14, "EVERY member including this one"));
    assert_true(has(CFG_ERROR, 10, 14, "unlike Patroni's raft"));
}

static void test_bad_hostport(void **state)
{
    (void)state;
    assert_int_equal(load_str("scope: demo\nname: node1\nrestapi:\n  listen: 0.0.0.0\n"
                              "  connect_address: node1:70000\n"
                              "postgresql:\n  listen: '::1:5432'\n  data_dir: /tmp/pg\n" RAFT_OK,
                              no_env),
                     -1);
    assert_int_equal(R.n_errors, 3);
    assert_true(has(CFG_ERROR, 4, 11, "restapi.listen: '0.0.0.0' is not host:port"));
    assert_true(has(CFG_ERROR, 4, 11, "missing ':port'"));
    assert_true(has(CFG_ERROR, 5, 20, "port must be a number 1..65535"));
    assert_true(has(CFG_ERROR, 7, 11, "IPv6 address needs brackets"));
    teardown(state);
    /* Brackets, wildcard and multi-host listen are fine. */
    assert_int_equal(load_str("scope: demo\nname: node1\nrestapi:\n  listen: '[::1]:8008'\n"
                              "postgresql:\n  listen: '*:5432'\n  data_dir: /tmp/pg\n" RAFT_OK,
                              no_env),
                     0);
    assert_string_equal(C->restapi.listen_host, "::1");
    assert_int_equal(C->restapi.listen_port, 8008);
    teardown(state);
    assert_int_equal(load_str("scope: demo\nname: node1\nrestapi:\n  listen: 127.0.0.1:8008\n"
                              "postgresql:\n  listen: 127.0.0.1,10.0.0.1:5432\n"
                              "  data_dir: /tmp/pg\n" RAFT_OK,
                              no_env),
                     0);
}

static void test_duplicate_partner(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE_HEAD "raft:\n  data_dir: /tmp/raft\n"
                                        "  self_addr: 127.0.0.1:5010\n"
                                        "  partner_addrs:\n"
                                        "    - 127.0.0.1:5010\n"
                                        "    - 127.0.0.1:5011\n"
                                        "    - 127.0.0.1:5011\n",
                              no_env),
                     -1);
    assert_int_equal(R.n_errors, 1);
    assert_true(has(CFG_ERROR, 14, 7, "'127.0.0.1:5011' is listed twice (first at line 13)"));
}

static void test_etcd_section(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE "etcd:\n  host: node1:2379\nconsul:\n  host: x:8500\n", no_env),
                     -1);
    assert_int_equal(R.n_errors, 2);
    assert_true(has(CFG_ERROR, 12, 1, "'etcd' section: raftgres needs no external store"));
    assert_true(has(CFG_ERROR, 12, 1, "write a raft: section instead: raft: {data_dir:"));
    assert_true(has(CFG_ERROR, 12, 1, "partner_addrs: [every member incl. this one]"));
    assert_true(has(CFG_ERROR, 14, 1, "'consul' section"));
}

static void test_many_errors_file(void **state)
{
    (void)state;
    assert_int_equal(load_file("tests/unit/config/errors.yml", no_env), -1);
    assert_int_equal(R.n_errors, 9);
    assert_true(has(CFG_ERROR, 1, 1, "missing required key 'scope'"));
    assert_true(has(CFG_ERROR, 4, 11, "restapi.listen"));
    assert_true(has(CFG_ERROR, 5, 1, "'etcd' section"));
    assert_true(has(CFG_ERROR, 9, 14, "is not in raft.partner_addrs"));
    assert_true(has(CFG_ERROR, 15, 10, "expected an integer, got 'thirty'"));
    assert_true(has(CFG_ERROR, 16, 16, "loop_wait: 0 is out of range 1..3600"));
    assert_true(has(CFG_ERROR, 20, 19, "pg_ctl_timeout: -5 is out of range"));
    assert_true(has(CFG_ERROR, 22, 9, "watchdog.mode"));
    assert_true(has(CFG_ERROR, 24, 15, "tags.nofailover: expected a boolean"));
    /* Sorted by position, and printed in the documented format. */
    for (size_t i = 1; i < R.n; i++)
        assert_true(R.items[i - 1].line <= R.items[i].line);
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    cfg_report_print(&R, m);
    fclose(m);
    assert_non_null(strstr(out, "errors.yml:15:10: error: bootstrap.dcs.ttl: expected an "
                                "integer, got 'thirty'\n"));
    free(out);
}

static void test_unknown_key_warns(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE "postgresql2: {}\nbootstrap:\n  dcs:\n    ttl: 30\n"
                                   "    loop_wiat: 10\nttl: 30\n",
                              no_env),
                     0);
    assert_non_null(C);
    assert_int_equal(R.n_errors, 0);
    assert_int_equal(R.n_warnings, 3);
    assert_true(has(CFG_WARNING, 12, 1, "unknown key 'postgresql2'"));
    assert_true(has(CFG_WARNING, 16, 5,
                    "unknown key 'bootstrap.dcs.loop_wiat', ignored (did you "
                    "mean 'loop_wait'?)"));
    assert_true(has(CFG_WARNING, 17, 1,
                    "unknown key 'ttl', ignored (it belongs in "
                    "'bootstrap.dcs')"));
    /* Free-form subtrees and custom method sections are not checked key by key. */
    teardown(state);
    assert_int_equal(load_str(BASE "tags:\n  zone: eu1\n"
                                   "bootstrap:\n  method: wal_g\n  wal_g:\n    command: x\n",
                              no_env),
                     0);
    assert_int_equal(R.n_warnings, 0);
    assert_string_equal(json_string_value(json_object_get(C->tags_json, "zone")), "eu1");
    teardown(state);
    assert_int_equal(load_str("scope: demo\nname: node1\nrestapi:\n  listen: 127.0.0.1:8008\n"
                              "postgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/pg\n"
                              "  create_replica_methods: [wal_e, basebackup]\n"
                              "  wal_e:\n    command: x\n" RAFT_OK,
                              no_env),
                     0);
    assert_int_equal(R.n_warnings, 0);
}

static void test_type_errors(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE "tags: [a]\npostgresql2:\nbootstrap:\n  pg_hba: host all\n"
                                   "  initdb: {a: 1}\n",
                              no_env),
                     -1);
    assert_true(has(CFG_ERROR, 12, 7, "tags: expected a section"));
    assert_true(has(CFG_ERROR, 15, 11,
                    "bootstrap.pg_hba: expected a list of strings, got "
                    "'host all'"));
    assert_true(has(CFG_ERROR, 16, 11, "bootstrap.initdb: expected a list, got a mapping"));
    teardown(state);
    assert_int_equal(
        load_str("scope: [a, b]\nname: node1\nrestapi:\n  listen: 127.0.0.1:8008\n"
                 "postgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/pg\n" RAFT_OK,
                 no_env),
        -1);
    assert_int_equal(R.n_errors, 1);
    assert_true(has(CFG_ERROR, 1, 8, "scope: expected a string, got a list"));
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(load_str(BASE, no_env), 0);
    assert_string_equal(C->namespace_, "/service/");
    assert_int_equal(C->dcs.ttl, 30);
    assert_int_equal(C->dcs.loop_wait, 10);
    assert_int_equal(C->dcs.retry_timeout, 10);
    assert_int_equal(C->dcs.maximum_lag_on_failover, 1048576);
    assert_int_equal(C->dcs.maximum_lag_on_syncnode, -1);
    assert_int_equal(C->dcs.primary_start_timeout, 300);
    assert_int_equal(C->dcs.synchronous_node_count, 1);
    assert_false(C->dcs.synchronous_mode_strict);
    assert_int_equal(json_integer_value(json_object_get(C->dcs_json, "maximum_lag_on_failover")),
                     1048576);
    assert_true(
        json_is_true(json_object_get(json_object_get(C->dcs_json, "postgresql"), "use_slots")));
    assert_string_equal(json_string_value(J("bootstrap.method")), "initdb");
    assert_string_equal(C->watchdog.mode, "automatic");
    assert_string_equal(C->watchdog.device, "/dev/watchdog");
    assert_int_equal(C->watchdog.safety_margin, 5);
    assert_string_equal(C->log.level, "INFO");
    assert_string_equal(C->log.format, "%(asctime)s %(levelname)s: %(message)s");
    assert_null(C->log.dir);
    assert_int_equal(C->postgresql.pg_ctl_timeout, 60);
    assert_false(C->postgresql.use_pg_rewind);
    assert_null(C->restapi.connect_address);
    assert_null(C->raft.password);
    assert_int_equal(json_object_size(C->tags_json), 0);
    /* A key with an empty value counts as absent: the default applies. */
    teardown(state);
    assert_int_equal(load_str(BASE "bootstrap:\n  dcs:\n    ttl:\n", no_env), 0);
    assert_int_equal(C->dcs.ttl, 30);
    /* Sizes take units; quoted numbers are numbers for integer keys. */
    teardown(state);
    assert_int_equal(load_str(BASE "bootstrap:\n  dcs:\n    maximum_lag_on_failover: 16MB\n"
                                   "    ttl: '40'\n",
                              no_env),
                     0);
    assert_int_equal(C->dcs.maximum_lag_on_failover, 16 * 1048576);
    assert_int_equal(C->dcs.ttl, 40);
}

static void test_minimal(void **state)
{
    (void)state;
    /* The postgresql section is optional for the loader (the daemon checks what it needs). */
    assert_int_equal(
        load_str("scope: s\nname: n\nrestapi:\n  listen: 127.0.0.1:8008\n" RAFT_OK, no_env), 0);
    assert_int_equal(R.n, 0);
    assert_null(C->postgresql.data_dir);
    assert_int_equal(C->postgresql.pg_ctl_timeout, 60);
    assert_true(json_is_object(C->postgresql_json));
    assert_true(json_is_object(C->bootstrap_json));
}

static void test_env_overrides(void **state)
{
    (void)state;
    char *env[] = {"PATH=/bin",
                   "RAFTGRES_NAME=node2",
                   "RAFTGRES_SCOPE=other",
                   "RAFTGRES_RESTAPI_LISTEN=127.0.0.1:9009",
                   "RAFTGRES_RESTAPI_USERNAME=admin",
                   "RAFTGRES_RESTAPI_PASSWORD=s3cret",
                   "RAFTGRES_RAFT_SELF_ADDR=127.0.0.1:5011",
                   "RAFTGRES_RAFT_PARTNER_ADDRS=127.0.0.1:5010, 127.0.0.1:5011",
                   "RAFTGRES_RAFT_PASSWORD=raftpw",
                   "RAFTGRES_POSTGRESQL_DATA_DIR=/srv/pg",
                   "RAFTGRES_REPLICATION_USERNAME=rep",
                   "RAFTGRES_REPLICATION_PASSWORD=reppw",
                   "RAFTGRES_SUPERUSER_USERNAME=su",
                   "RAFTGRES_LOG_LEVEL=warning",
                   "RAFTGRES_RAFT_DATA_DIR=", /* empty: ignored, like Patroni */
                   "RAFTGRES_SRCDIR=/x",      /* not configuration: silently ignored */
                   NULL};
    assert_int_equal(load_str(BASE, env), 0);
    assert_int_equal(R.n, 0);
    assert_string_equal(C->name, "node2");
    assert_string_equal(C->scope, "other");
    assert_string_equal(C->restapi.listen, "127.0.0.1:9009");
    assert_int_equal(C->restapi.listen_port, 9009);
    assert_string_equal(C->restapi.username, "admin");
    assert_string_equal(C->restapi.password, "s3cret");
    assert_string_equal(json_string_value(J("restapi.authentication.password")), "s3cret");
    assert_string_equal(C->raft.self_addr, "127.0.0.1:5011");
    assert_int_equal(C->raft.n_partner_addrs, 2);
    assert_string_equal(C->raft.partner_addrs[1], "127.0.0.1:5011");
    assert_string_equal(C->raft.password, "raftpw");
    assert_string_equal(C->raft.data_dir, "/tmp/raft");
    assert_string_equal(C->postgresql.data_dir, "/srv/pg");
    assert_string_equal(C->postgresql.replication.username, "rep");
    assert_string_equal(C->postgresql.replication.password, "reppw");
    assert_string_equal(C->postgresql.superuser.username, "su");
    assert_string_equal(C->log.level, "WARNING");
    teardown(state);

    /* YAML flow lists and bracketed IPv6 items. */
    char *env2[] = {"RAFTGRES_RAFT_PARTNER_ADDRS=[127.0.0.1:5010, 127.0.0.1:5013]", NULL};
    assert_int_equal(load_str(BASE, env2), 0);
    assert_int_equal(C->raft.n_partner_addrs, 2);
    assert_string_equal(C->raft.partner_addrs[1], "127.0.0.1:5013");
    teardown(state);
    char *env3[] = {"RAFTGRES_RAFT_SELF_ADDR=[::1]:5010",
                    "RAFTGRES_RAFT_PARTNER_ADDRS=[::1]:5010,[::1]:5011", NULL};
    assert_int_equal(load_str(BASE, env3), 0);
    assert_int_equal(C->raft.n_partner_addrs, 2);
    assert_string_equal(C->raft.partner_addrs[1], "[::1]:5011");
    teardown(state);

    /* Sections missing from the file are created by the environment. */
    char *env4[] = {"RAFTGRES_RAFT_SELF_ADDR=n1:5010", "RAFTGRES_RAFT_DATA_DIR=/r",
                    "RAFTGRES_RAFT_PARTNER_ADDRS=n1:5010,n2:5010,n3:5010", NULL};
    assert_int_equal(load_str(BASE_HEAD, env4), 0);
    assert_int_equal(C->raft.n_partner_addrs, 3);
}

static void test_env_errors(void **state)
{
    (void)state;
    char *env[] = {"RAFTGRES_RESTAPI_LISTEN=localhost",
                   "RAFTGRES_LOG_LEVEL=LOUD",
                   "RAFTGRES_CTL_INSECURE=maybe",
                   "RAFTGRES_ETCD_HOSTS=node1:2379",
                   "RAFTGRES_BOGUS=1",
                   NULL};
    assert_int_equal(load_str(BASE, env), -1);
    assert_int_equal(R.n_errors, 4);
    assert_int_equal(R.n_warnings, 1);
    assert_true(has_env(CFG_ERROR, "RAFTGRES_RESTAPI_LISTEN", "'localhost' is not host:port"));
    assert_true(has_env(CFG_ERROR, "RAFTGRES_LOG_LEVEL", "log.level: expected one of"));
    assert_true(has_env(CFG_ERROR, "RAFTGRES_CTL_INSECURE", "expected a boolean"));
    assert_true(has_env(CFG_ERROR, "RAFTGRES_ETCD_HOSTS", "needs no external store"));
    assert_true(has_env(CFG_WARNING, "RAFTGRES_BOGUS", "matches no configuration key"));
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    cfg_report_print(&R, m);
    fclose(m);
    assert_non_null(strstr(out, "environment RAFTGRES_LOG_LEVEL: error: log.level:"));
    free(out);
    teardown(state);
    /* The self_addr rule also applies to values from the environment. */
    char *env2[] = {"RAFTGRES_RAFT_SELF_ADDR=127.0.0.1:6000", NULL};
    assert_int_equal(load_str(BASE, env2), -1);
    assert_true(has_env(CFG_ERROR, "RAFTGRES_RAFT_SELF_ADDR", "is not in raft.partner_addrs"));
}

static void test_yaml_syntax_error(void **state)
{
    (void)state;
    assert_int_equal(load_file("tests/unit/config/syntax_error.yml", no_env), -1);
    assert_int_equal(R.n, 1);
    assert_true(has(CFG_ERROR, 6, 5, "YAML syntax error: did not find expected ',' or ']'"));
    assert_true(has(CFG_ERROR, 6, 5, "starts at line 5, column 20"));
    teardown(state);
    assert_int_equal(load_str("scope: demo\n  name: x\n", no_env), -1);
    assert_int_equal(R.n, 1);
    assert_true(has(CFG_ERROR, 2, 7, "YAML syntax error: mapping values are not allowed"));
}

static void test_file_problems(void **state)
{
    (void)state;
    assert_int_equal(load_file("tests/unit/config/does-not-exist.yml", no_env), -1);
    assert_int_equal(R.n_errors, 1);
    assert_non_null(strstr(R.items[0].msg, "cannot open the configuration file: No such file"));
    assert_int_equal(R.items[0].line, 0);
    teardown(state);
    assert_int_equal(load_str("# nothing\n", no_env), -1);
    assert_non_null(strstr(R.items[0].msg, "the configuration is empty"));
    teardown(state);
    assert_int_equal(load_str("- a\n- b\n", no_env), -1);
    assert_true(has(CFG_ERROR, 1, 1, "must be a mapping"));
    teardown(state);
    /* A duplicate key warns; the later value wins (as with PyYAML). */
    assert_int_equal(load_str(BASE "name: node9\n", no_env), 0);
    assert_true(has(CFG_WARNING, 12, 1, "duplicate key 'name' (first at line 2)"));
    assert_string_equal(C->name, "node9");
}

static void test_parse_hostport(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(cfg_parse_hostport("node1:5432", host, sizeof(host), &port), 0);
    assert_string_equal(host, "node1");
    assert_int_equal(port, 5432);
    assert_int_equal(cfg_parse_hostport("[::1]:5432", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(cfg_parse_hostport("[fe80::1%eth0]:1", host, sizeof(host), &port), 0);
    assert_string_equal(host, "fe80::1%eth0");
    assert_int_equal(port, 1);
    assert_int_equal(cfg_parse_hostport("0.0.0.0:65535", host, sizeof(host), &port), 0);
    assert_int_equal(port, 65535);
    assert_int_equal(cfg_parse_hostport("h:65536", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport("h:0", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport("h:", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport("h:12a", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport("h", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport(":80", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport("::1:80", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport("[::1]80", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport("a b:80", host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport(NULL, host, sizeof(host), &port), -1);
    assert_int_equal(cfg_parse_hostport("verylonghostname:80", host, 8, &port), -1);
}

static void test_table_sane(void **state)
{
    (void)state;
    /* Every key's parent is a section in the table; env names are unique and prefixed. */
    for (size_t i = 0; i < cfg_table_len; i++) {
        const struct cfg_key *k = &cfg_table[i];
        const char *dot = strrchr(k->path, '.');
        if (dot) {
            char parent[256];
            snprintf(parent, sizeof(parent), "%.*s", (int)(dot - k->path), k->path);
            const struct cfg_key *p = cfg_table_find(parent);
            if (!p || p->type != CFG_T_SECTION)
                fail_msg("%s: parent %s is not a section in the table", k->path, parent);
        }
        assert_non_null(k->doc);
        if (k->env) {
            assert_int_equal(strncmp(k->env, "RAFTGRES_", 9), 0);
            for (size_t j = 0; j < i; j++)
                if (cfg_table[j].env && !strcmp(cfg_table[j].env, k->env))
                    fail_msg("duplicate env %s", k->env);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg_table[j].path, k->path))
                fail_msg("duplicate key %s", k->path);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--markdown")) {
        cfg_table_markdown(stdout);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_walkthrough, teardown),
        cmocka_unit_test_teardown(test_reference_config, teardown),
        cmocka_unit_test_teardown(test_docs_match_table, teardown),
        cmocka_unit_test_teardown(test_missing_scope, teardown),
        cmocka_unit_test_teardown(test_missing_section, teardown),
        cmocka_unit_test_teardown(test_empty_required, teardown),
        cmocka_unit_test_teardown(test_bad_ttl_type, teardown),
        cmocka_unit_test_teardown(test_ttl_out_of_range, teardown),
        cmocka_unit_test_teardown(test_bad_enum, teardown),
        cmocka_unit_test_teardown(test_loop_wait_rule, teardown),
        cmocka_unit_test_teardown(test_safety_margin_rule, teardown),
        cmocka_unit_test_teardown(test_self_not_in_partners, teardown),
        cmocka_unit_test_teardown(test_bad_hostport, teardown),
        cmocka_unit_test_teardown(test_duplicate_partner, teardown),
        cmocka_unit_test_teardown(test_etcd_section, teardown),
        cmocka_unit_test_teardown(test_many_errors_file, teardown),
        cmocka_unit_test_teardown(test_unknown_key_warns, teardown),
        cmocka_unit_test_teardown(test_type_errors, teardown),
        cmocka_unit_test_teardown(test_defaults, teardown),
        cmocka_unit_test_teardown(test_minimal, teardown),
        cmocka_unit_test_teardown(test_env_overrides, teardown),
        cmocka_unit_test_teardown(test_env_errors, teardown),
        cmocka_unit_test_teardown(test_yaml_syntax_error, teardown),
        cmocka_unit_test_teardown(test_file_problems, teardown),
        cmocka_unit_test_teardown(test_parse_hostport, teardown),
        cmocka_unit_test_teardown(test_table_sane, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
