/* The configuration table: one row per known key path. Parsing (src/config.c), defaults, bounds,
 * environment variable names and docs/config.md (cfg_table_markdown) all come from these rows, so
 * adding a setting is adding a row here. Key names follow Patroni 3.x wherever Patroni has the
 * setting (flag CFG_F_PATRONI); `raft:` follows Patroni's old Raft DCS names.
 */
#include <limits.h>
#include <string.h>

#include "src/config.h"

#define P   CFG_F_PATRONI
#define R   CFG_F_REQUIRED
#define S   CFG_F_SECRET
#define O   CFG_F_OPEN
#define BIG LLONG_MAX

/* Shorthands: path, flags, default, env, doc. */
#define SEC(p, f, doc)                                                                             \
    {                                                                                              \
        p, CFG_T_SECTION, (f), NULL, 0, 0, NULL, NULL, NULL, doc                                   \
    }
#define STR(p, f, d, env, doc)                                                                     \
    {                                                                                              \
        p, CFG_T_STR, (f), d, 0, 0, NULL, NULL, env, doc                                           \
    }
#define INT(p, f, d, lo, hi, env, doc)                                                             \
    {                                                                                              \
        p, CFG_T_INT, (f), d, lo, hi, NULL, NULL, env, doc                                         \
    }
#define SIZE(p, f, d, lo, hi, env, doc)                                                            \
    {                                                                                              \
        p, CFG_T_SIZE, (f), d, lo, hi, NULL, NULL, env, doc                                        \
    }
#define BOOL(p, f, d, env, doc)                                                                    \
    {                                                                                              \
        p, CFG_T_BOOL, (f), d, 0, 0, NULL, NULL, env, doc                                          \
    }
#define ENUM(p, f, d, ch, al, env, doc)                                                            \
    {                                                                                              \
        p, CFG_T_ENUM, (f), d, 0, 0, ch, al, env, doc                                              \
    }
#define TYPED(p, t, f, env, doc)                                                                   \
    {                                                                                              \
        p, t, (f), NULL, 0, 0, NULL, NULL, env, doc                                                \
    }
#define REJECT(p)                                                                                  \
    {                                                                                              \
        p, CFG_T_REJECTED, P, NULL, 0, 0, NULL, NULL, NULL,                                        \
            "Patroni's external DCS section: rejected, raftgres embeds Raft (use raft:)"           \
    }

/* The connection parameters Patroni accepts for each postgresql.authentication user. */
#define AUTH(u, U)                                                                                 \
    SEC("postgresql.authentication." u, P, "Credentials of the " u " user."),                      \
        STR("postgresql.authentication." u ".username", P, NULL, "RAFTGRES_" U "_USERNAME",        \
            "User name."),                                                                         \
        STR("postgresql.authentication." u ".password", P | S, NULL, "RAFTGRES_" U "_PASSWORD",    \
            "Password (also written to pgpass)."),                                                 \
        STR("postgresql.authentication." u ".sslmode", P, NULL, "RAFTGRES_" U "_SSLMODE",          \
            "libpq sslmode."),                                                                     \
        STR("postgresql.authentication." u ".sslcert", P, NULL, "RAFTGRES_" U "_SSLCERT",          \
            "libpq sslcert."),                                                                     \
        STR("postgresql.authentication." u ".sslkey", P, NULL, "RAFTGRES_" U "_SSLKEY",            \
            "libpq sslkey."),                                                                      \
        STR("postgresql.authentication." u ".sslpassword", P | S, NULL,                            \
            "RAFTGRES_" U "_SSLPASSWORD", "libpq sslpassword."),                                   \
        STR("postgresql.authentication." u ".sslrootcert", P, NULL, "RAFTGRES_" U "_SSLROOTCERT",  \
            "libpq sslrootcert."),                                                                 \
        STR("postgresql.authentication." u ".sslcrl", P, NULL, "RAFTGRES_" U "_SSLCRL",            \
            "libpq sslcrl."),                                                                      \
        STR("postgresql.authentication." u ".sslcrldir", P, NULL, "RAFTGRES_" U "_SSLCRLDIR",      \
            "libpq sslcrldir."),                                                                   \
        STR("postgresql.authentication." u ".gssencmode", P, NULL, "RAFTGRES_" U "_GSSENCMODE",    \
            "libpq gssencmode."),                                                                  \
        STR("postgresql.authentication." u ".channel_binding", P, NULL,                            \
            "RAFTGRES_" U "_CHANNEL_BINDING", "libpq channel_binding.")

const struct cfg_key cfg_table[] = {
    /* --- global --- */
    STR("scope", P | R, NULL, "RAFTGRES_SCOPE", "Cluster name; identical on every member."),
    STR("namespace", P, "/service/", "RAFTGRES_NAMESPACE",
        "Key prefix of the cluster's state (kept for Patroni compatibility)."),
    STR("name", P | R, NULL, "RAFTGRES_NAME", "This member's name; unique in the cluster."),

    /* --- restapi --- */
    SEC("restapi", P, "The REST API (health checks for HAProxy, raftgresctl)."),
    TYPED("restapi.listen", CFG_T_HOSTPORT, P | R, "RAFTGRES_RESTAPI_LISTEN",
          "host:port the REST API listens on."),
    TYPED("restapi.connect_address", CFG_T_HOSTPORT, P, "RAFTGRES_RESTAPI_CONNECT_ADDRESS",
          "host:port other members and tools use to reach this REST API."),
    SEC("restapi.authentication", P, "Basic auth required for unsafe (POST/PUT/DELETE) calls."),
    STR("restapi.authentication.username", P, NULL, "RAFTGRES_RESTAPI_USERNAME", "User name."),
    STR("restapi.authentication.password", P | S, NULL, "RAFTGRES_RESTAPI_PASSWORD", "Password."),
    STR("restapi.certfile", P, NULL, "RAFTGRES_RESTAPI_CERTFILE",
        "PEM certificate: serve HTTPS when set."),
    STR("restapi.keyfile", P, NULL, "RAFTGRES_RESTAPI_KEYFILE", "PEM private key."),
    STR("restapi.keyfile_password", P | S, NULL, "RAFTGRES_RESTAPI_KEYFILE_PASSWORD",
        "Password of the private key."),
    STR("restapi.cafile", P, NULL, "RAFTGRES_RESTAPI_CAFILE", "CA bundle to verify clients."),
    STR("restapi.ciphers", P, NULL, "RAFTGRES_RESTAPI_CIPHERS", "OpenSSL cipher list."),
    ENUM("restapi.verify_client", P, NULL, "none|optional|required", NULL,
         "RAFTGRES_RESTAPI_VERIFY_CLIENT", "Client certificate verification."),
    TYPED("restapi.allowlist", CFG_T_STRLIST, P, "RAFTGRES_RESTAPI_ALLOWLIST",
          "Hosts/CIDRs allowed to call unsafe endpoints."),
    BOOL("restapi.allowlist_include_members", P, NULL, "RAFTGRES_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS",
         "Also allow every member's REST API address."),
    TYPED("restapi.http_extra_headers", CFG_T_MAP, P, "RAFTGRES_RESTAPI_HTTP_EXTRA_HEADERS",
          "Extra HTTP response headers."),
    TYPED("restapi.https_extra_headers", CFG_T_MAP, P, "RAFTGRES_RESTAPI_HTTPS_EXTRA_HEADERS",
          "Extra response headers when serving HTTPS."),
    INT("restapi.request_queue_size", P, "5", 1, 4096, "RAFTGRES_RESTAPI_REQUEST_QUEUE_SIZE",
        "listen() backlog."),

    /* --- ctl --- */
    SEC("ctl", P, "Settings for raftgresctl."),
    BOOL("ctl.insecure", P, NULL, "RAFTGRES_CTL_INSECURE",
         "Do not verify the REST API certificate."),
    STR("ctl.cacert", P, NULL, "RAFTGRES_CTL_CACERT", "CA bundle to verify the REST API."),
    STR("ctl.certfile", P, NULL, "RAFTGRES_CTL_CERTFILE", "Client certificate."),
    STR("ctl.keyfile", P, NULL, "RAFTGRES_CTL_KEYFILE", "Client private key."),
    STR("ctl.keyfile_password", P | S, NULL, "RAFTGRES_CTL_KEYFILE_PASSWORD",
        "Password of the client key."),

    /* --- raft (replaces etcd/consul/...) --- */
    SEC("raft", P, "The embedded Raft member (replaces etcd:, consul:, ...)."),
    STR("raft.data_dir", P | R, NULL, "RAFTGRES_RAFT_DATA_DIR",
        "Directory of the Raft log and snapshots (created if missing)."),
    TYPED("raft.self_addr", CFG_T_HOSTPORT, P | R, "RAFTGRES_RAFT_SELF_ADDR",
          "host:port of this member's Raft endpoint, as the others reach it."),
    TYPED("raft.partner_addrs", CFG_T_HOSTPORT_LIST, P | R, "RAFTGRES_RAFT_PARTNER_ADDRS",
          "EVERY member's self_addr INCLUDING this one, identical on every node "
          "(Patroni's old raft listed only the others)."),
    STR("raft.password", P | S, NULL, "RAFTGRES_RAFT_PASSWORD",
        "Shared secret members present to each other."),
    TYPED("raft.bind_addr", CFG_T_HOSTPORT, P, "RAFTGRES_RAFT_BIND_ADDR",
          "host:port to bind when it differs from self_addr (e.g. 0.0.0.0:5010)."),

    /* --- external stores raftgres refuses --- */
    REJECT("etcd"),
    REJECT("etcd3"),
    REJECT("consul"),
    REJECT("zookeeper"),
    REJECT("kubernetes"),
    REJECT("exhibitor"),

    /* --- bootstrap --- */
    SEC("bootstrap", P, "Used once, when the cluster is created."),
    SEC("bootstrap.dcs", P,
        "Initial dynamic configuration, stored in the Raft state machine at cluster creation."),
    INT("bootstrap.dcs.ttl", P, "30", 20, 3600, NULL,
        "Leader lease in seconds; loop_wait + 2*retry_timeout <= ttl."),
    INT("bootstrap.dcs.loop_wait", P, "10", 1, 3600, NULL, "Seconds between HA loop runs."),
    INT("bootstrap.dcs.retry_timeout", P, "10", 3, 3600, NULL,
        "Seconds to retry Raft and PostgreSQL operations before giving up; also how long "
        "a synchronous standby may leave pending WAL unconfirmed before it is replaced."),
    SIZE("bootstrap.dcs.maximum_lag_on_failover", P, "1048576", 0, BIG, NULL,
         "Bytes a replica may lag and still be promoted."),
    SIZE("bootstrap.dcs.maximum_lag_on_syncnode", P, "-1", -1, BIG, NULL,
         "Bytes a synchronous standby may lag before it is replaced (-1 = never)."),
    INT("bootstrap.dcs.primary_start_timeout", P, "300", 0, 86400, NULL,
        "Seconds a crashed primary may take to recover before failover."),
    INT("bootstrap.dcs.primary_stop_timeout", P, "0", 0, 86400, NULL,
        "Seconds to wait for a clean stop before SIGKILL (0 = forever)."),
    BOOL("bootstrap.dcs.synchronous_mode", P, "false", NULL, "Promote only a synchronous standby."),
    BOOL("bootstrap.dcs.synchronous_mode_strict", P, "false", NULL,
         "Block writes when no synchronous standby is available."),
    INT("bootstrap.dcs.synchronous_node_count", P, "1", 1, 1024, NULL,
        "Number of synchronous standbys."),
    BOOL("bootstrap.dcs.failsafe_mode", P, "false", NULL,
         "Keep the primary when the Raft majority is lost but all members answer."),
    BOOL("bootstrap.dcs.check_timeline", P, "false", NULL,
         "Only promote a replica on the highest timeline."),
    INT("bootstrap.dcs.max_timelines_history", P, "0", 0, 1000000, NULL,
        "Timeline history entries kept (0 = all)."),
    TYPED("bootstrap.dcs.slots", CFG_T_MAP, P, NULL, "Permanent replication slots."),
    TYPED("bootstrap.dcs.ignore_slots", CFG_T_LIST, P, NULL, "Slots raftgres leaves alone."),
    SEC("bootstrap.dcs.postgresql", P, "Cluster-wide PostgreSQL settings."),
    BOOL("bootstrap.dcs.postgresql.use_pg_rewind", P, NULL, NULL,
         "Rewind a former primary instead of re-cloning it."),
    BOOL("bootstrap.dcs.postgresql.use_slots", P, "true", NULL,
         "Use a replication slot per replica."),
    TYPED("bootstrap.dcs.postgresql.parameters", CFG_T_MAP, P, NULL,
          "postgresql.conf settings for every member."),
    TYPED("bootstrap.dcs.postgresql.pg_hba", CFG_T_STRLIST, P, NULL,
          "pg_hba.conf lines for every member."),
    TYPED("bootstrap.dcs.postgresql.pg_ident", CFG_T_STRLIST, P, NULL,
          "pg_ident.conf lines for every member."),
    TYPED("bootstrap.dcs.postgresql.recovery_conf", CFG_T_MAP, P, NULL,
          "Recovery settings for replicas."),
    SEC("bootstrap.dcs.standby_cluster", P, "Make the whole cluster a standby of another one."),
    STR("bootstrap.dcs.standby_cluster.host", P, NULL, NULL, "Upstream host."),
    INT("bootstrap.dcs.standby_cluster.port", P, NULL, 1, 65535, NULL, "Upstream port."),
    STR("bootstrap.dcs.standby_cluster.primary_slot_name", P, NULL, NULL,
        "Slot to use on the upstream."),
    TYPED("bootstrap.dcs.standby_cluster.create_replica_methods", CFG_T_STRLIST, P, NULL,
          "How to clone the standby leader."),
    STR("bootstrap.dcs.standby_cluster.restore_command", P, NULL, NULL, "restore_command."),
    STR("bootstrap.dcs.standby_cluster.archive_cleanup_command", P, NULL, NULL,
        "archive_cleanup_command."),
    STR("bootstrap.dcs.standby_cluster.recovery_min_apply_delay", P, NULL, NULL,
        "recovery_min_apply_delay."),
    STR("bootstrap.method", P, "initdb", NULL,
        "How to create the cluster: initdb, or the name of a custom method section in bootstrap."),
    TYPED("bootstrap.initdb", CFG_T_LIST, P, NULL,
          "initdb options: a list of strings (switches) and one-key maps (options with values)."),
    TYPED("bootstrap.pg_hba", CFG_T_STRLIST, P, NULL, "pg_hba.conf lines written after initdb."),
    TYPED("bootstrap.users", CFG_T_MAP, P, NULL,
          "Users created after initdb: name: {password: ..., options: [...]}."),
    STR("bootstrap.post_init", P, NULL, NULL,
        "Script run once after cluster creation, with the connection URL as argument."),
    STR("bootstrap.post_bootstrap", P, NULL, NULL, "Old name of post_init."),

    /* --- postgresql --- */
    SEC("postgresql", P, "This member's PostgreSQL."),
    TYPED("postgresql.listen", CFG_T_LISTEN, P, "RAFTGRES_POSTGRESQL_LISTEN",
          "host[,host...]:port PostgreSQL listens on (listen_addresses and port)."),
    TYPED("postgresql.connect_address", CFG_T_HOSTPORT, P, "RAFTGRES_POSTGRESQL_CONNECT_ADDRESS",
          "host:port other members use to reach this PostgreSQL."),
    TYPED("postgresql.proxy_address", CFG_T_HOSTPORT, P, "RAFTGRES_POSTGRESQL_PROXY_ADDRESS",
          "host:port of a connection pooler in front of this PostgreSQL."),
    STR("postgresql.data_dir", P, NULL, "RAFTGRES_POSTGRESQL_DATA_DIR", "PGDATA."),
    STR("postgresql.bin_dir", P, NULL, "RAFTGRES_POSTGRESQL_BIN_DIR",
        "Directory of pg_ctl, initdb, ... (empty = PATH)."),
    STR("postgresql.config_dir", P, NULL, "RAFTGRES_POSTGRESQL_CONFIG_DIR",
        "Directory of postgresql.conf (default: data_dir)."),
    STR("postgresql.pgpass", P, NULL, "RAFTGRES_POSTGRESQL_PGPASS",
        "pgpass file raftgres writes for its own connections."),
    STR("postgresql.custom_conf", P, NULL, NULL, "An extra configuration file to include."),
    SEC("postgresql.authentication", P, "Users raftgres connects as."),
    AUTH("replication", "REPLICATION"),
    AUTH("superuser", "SUPERUSER"),
    AUTH("rewind", "REWIND"),
    TYPED("postgresql.parameters", CFG_T_MAP, P, NULL, "postgresql.conf settings of this member."),
    TYPED("postgresql.pg_hba", CFG_T_STRLIST, P, NULL, "pg_hba.conf lines of this member."),
    TYPED("postgresql.pg_ident", CFG_T_STRLIST, P, NULL, "pg_ident.conf lines of this member."),
    INT("postgresql.pg_ctl_timeout", P, "60", 1, 86400, NULL,
        "Seconds pg_ctl start/stop/restart may take."),
    BOOL("postgresql.use_pg_rewind", P, NULL, NULL,
         "Rewind a former primary instead of re-cloning it (overrides "
         "bootstrap.dcs.postgresql.use_pg_rewind on this member)."),
    BOOL("postgresql.remove_data_directory_on_rewind_failure", P, "false", NULL,
         "Re-clone when pg_rewind fails."),
    BOOL("postgresql.remove_data_directory_on_diverged_timelines", P, "false", NULL,
         "Re-clone when timelines diverged and rewind is not possible."),
    BOOL("postgresql.use_unix_socket", P, "false", NULL,
         "Connect to the local PostgreSQL through its unix socket."),
    BOOL("postgresql.use_unix_socket_repl", P, "false", NULL,
         "Replication connections to the local PostgreSQL through its unix socket."),
    TYPED("postgresql.create_replica_methods", CFG_T_STRLIST, P, NULL,
          "Ordered methods to create a replica (default basebackup); each may have its own "
          "section in postgresql."),
    TYPED("postgresql.basebackup", CFG_T_ANY, P, NULL,
          "pg_basebackup options: a list like initdb, or a map."),
    TYPED("postgresql.recovery_conf", CFG_T_MAP, P, NULL, "Recovery settings of this member."),
    SEC("postgresql.callbacks", P, "Scripts run on events: SCRIPT ACTION ROLE SCOPE."),
    STR("postgresql.callbacks.on_start", P, NULL, NULL, "After PostgreSQL starts."),
    STR("postgresql.callbacks.on_stop", P, NULL, NULL, "After PostgreSQL stops."),
    STR("postgresql.callbacks.on_restart", P, NULL, NULL, "After PostgreSQL restarts."),
    STR("postgresql.callbacks.on_reload", P, NULL, NULL, "After a configuration reload."),
    STR("postgresql.callbacks.on_role_change", P, NULL, NULL, "After promote or demote."),
    STR("postgresql.pre_promote", P, NULL, NULL,
        "Script run before promotion; a non-zero exit cancels it."),
    STR("postgresql.before_stop", P, NULL, NULL, "Script run before stopping PostgreSQL."),

    /* --- watchdog --- */
    SEC("watchdog", P, "Linux watchdog: resets the machine if the daemon hangs while primary."),
    ENUM("watchdog.mode", P, "automatic", "off|automatic|required",
         "false=off,no=off,disable=off,disabled=off,auto=automatic,require=required", NULL,
         "off; automatic (use it if present); required (never be primary without it)."),
    STR("watchdog.device", P, "/dev/watchdog", NULL, "Watchdog device."),
    INT("watchdog.safety_margin", P, "5", -1, 3600, NULL,
        "Seconds between watchdog expiry and lease expiry (-1 = ttl/2)."),
    ENUM("watchdog.fencer", 0, "auto", "auto|on|off", NULL, "RAFTGRES_WATCHDOG_FENCER",
         "raftgres's self-fencing process (no hardware needed): it kills the local primary's "
         "postmaster if the daemon lets the lease deadline pass (frozen, hung, killed). auto = "
         "on unless a watchdog device is in use."),

    /* --- tags --- */
    {"tags", CFG_T_SECTION, P | O, NULL, 0, 0, NULL, NULL, NULL,
     "Member tags; other tags are kept and shown as given."},
    BOOL("tags.nofailover", P, NULL, NULL, "Never promote this member."),
    BOOL("tags.noloadbalance", P, NULL, NULL, "GET /replica answers 503 on this member."),
    BOOL("tags.clonefrom", P, NULL, NULL, "Prefer this member as a source for new replicas."),
    BOOL("tags.nosync", P, NULL, NULL, "Never choose this member as synchronous standby."),
    STR("tags.replicatefrom", P, NULL, NULL, "Member name to stream from (cascading)."),

    /* --- log --- */
    SEC("log", P, "Daemon logging."),
    ENUM("log.level", P, "INFO", "DEBUG|INFO|WARNING|ERROR|CRITICAL", "warn=WARNING",
         "RAFTGRES_LOG_LEVEL", "Lowest level logged."),
    ENUM("log.traceback_level", P, "ERROR", "DEBUG|ERROR", NULL, "RAFTGRES_LOG_TRACEBACK_LEVEL",
         "Level at which internal detail is logged with errors."),
    STR("log.format", P, "%(asctime)s %(levelname)s: %(message)s", "RAFTGRES_LOG_FORMAT",
        "Line format (Patroni's)."),
    STR("log.dateformat", P, NULL, "RAFTGRES_LOG_DATEFORMAT", "strftime format of %(asctime)s."),
    INT("log.max_queue_size", P, "1000", 1, 1000000, "RAFTGRES_LOG_MAX_QUEUE_SIZE",
        "Log lines buffered before dropping."),
    STR("log.dir", P, NULL, "RAFTGRES_LOG_DIR", "Write rotating log files here (default: stderr)."),
    INT("log.file_num", P, "4", 1, 1000, "RAFTGRES_LOG_FILE_NUM", "Rotated files kept."),
    SIZE("log.file_size", P, "25000000", 4096, BIG, "RAFTGRES_LOG_FILE_SIZE",
         "Bytes per log file before rotation."),
    TYPED("log.loggers", CFG_T_MAP, P, "RAFTGRES_LOG_LOGGERS", "Per-module levels."),
};

const size_t cfg_table_len = sizeof(cfg_table) / sizeof(cfg_table[0]);

const struct cfg_key *cfg_table_find(const char *path)
{
    for (size_t i = 0; i < cfg_table_len; i++)
        if (strcmp(cfg_table[i].path, path) == 0)
            return &cfg_table[i];
    return NULL;
}

const char *cfg_type_name(enum cfg_type t)
{
    switch (t) {
    case CFG_T_SECTION:
        return "section";
    case CFG_T_MAP:
        return "map";
    case CFG_T_LIST:
        return "list";
    case CFG_T_STRLIST:
        return "list of strings";
    case CFG_T_ANY:
        return "any";
    case CFG_T_STR:
        return "string";
    case CFG_T_INT:
        return "integer";
    case CFG_T_SIZE:
        return "size (bytes)";
    case CFG_T_BOOL:
        return "boolean";
    case CFG_T_ENUM:
        return "enum";
    case CFG_T_HOSTPORT:
        return "host:port";
    case CFG_T_LISTEN:
        return "host[,host]:port";
    case CFG_T_HOSTPORT_LIST:
        return "list of host:port";
    case CFG_T_REJECTED:
        return "rejected";
    }
    return "?";
}

/* ---- docs/config.md ---- */

static const char md_head[] =
    "# raftgres configuration\n"
    "\n"
    "<!-- Generated from src/config_table.c by cfg_table_markdown(); do not edit by hand.\n"
    "     Regenerate: build/tests/unit/test_config --markdown > docs/config.md -->\n"
    "\n"
    "raftgres reads one YAML file in Patroni's format: every setting Patroni has keeps Patroni's "
    "name, and the `etcd:`/`consul:`/... section is replaced by a `raft:` section, because each "
    "raftgres daemon embeds a Raft member and there is no external store. "
    "`config/raftgres.yml` is a commented example.\n"
    "\n"
    "Migrating from Patroni: delete the `etcd:` (or `etcd3:`, `consul:`, `zookeeper:`, "
    "`kubernetes:`, `exhibitor:`) section and add\n"
    "\n"
    "```yaml\n"
    "raft:\n"
    "  data_dir: /var/lib/raftgres/raft\n"
    "  self_addr: node1:5010                                  # this member\n"
    "  partner_addrs: [node1:5010, node2:5010, node3:5010]   # EVERY member, this one included\n"
    "```\n"
    "\n"
    "Unlike Patroni's old Raft DCS, `raft.partner_addrs` lists every member **including this "
    "one**, "
    "identically on every node, and must contain `raft.self_addr`.\n"
    "\n"
    "## Rules checked at load time\n"
    "\n"
    "- Required keys must be present and non-empty.\n"
    "- Types, bounds and allowed values as in the table below. Booleans accept "
    "true/false, on/off, yes/no, 1/0 in any case. Sizes accept a plain number of bytes or a "
    "number with kB, MB, GB or TB (powers of 1024). A key with an empty (null) value counts as "
    "absent.\n"
    "- `bootstrap.dcs`: `loop_wait + 2*retry_timeout <= ttl`; `watchdog.safety_margin` < `ttl` "
    "when the watchdog is not off.\n"
    "- `raft.self_addr` must appear in `raft.partner_addrs`; every address is `host:port` (IPv6 "
    "as `[::1]:5010`) with port 1..65535; no address may be listed twice.\n"
    "- Unknown keys are warnings; the file still loads. Free-form maps (parameters, users, tags, "
    "...) are not checked key by key. A section named by `bootstrap.method` (inside `bootstrap`) "
    "or by `postgresql.create_replica_methods` (inside `postgresql`) is accepted as free-form, "
    "as in Patroni.\n"
    "- An external-store section (`etcd:` ...) is an error.\n"
    "\n"
    "## Messages\n"
    "\n"
    "Every problem is reported, not only the first, one per line:\n"
    "\n"
    "```\n"
    "/etc/raftgres/raftgres.yml:12:10: error: bootstrap.dcs.ttl: expected an integer, got 'abc'\n"
    "/etc/raftgres/raftgres.yml:40:3: warning: unknown key 'postgresql.datadir', ignored (did "
    "you mean 'data_dir'?)\n"
    "environment RAFTGRES_RAFT_SELF_ADDR: error: raft.self_addr: 'node1' is not host:port (e.g. "
    "127.0.0.1:8008 or [::1]:8008): missing ':port'\n"
    "```\n"
    "\n"
    "Line and column are 1-based and point at the offending key or value. Errors stop the "
    "daemon from starting; warnings do not.\n"
    "\n"
    "## Environment overrides\n"
    "\n"
    "A `RAFTGRES_*` variable overrides the file (the same names as Patroni's `PATRONI_*` "
    "variables, with the prefix changed). Empty values are ignored, like Patroni does. List "
    "values (`RAFTGRES_RAFT_PARTNER_ADDRS`, `RAFTGRES_RESTAPI_ALLOWLIST`) are comma-separated "
    "or a YAML flow list (`[a:1, b:2]`); map values are a YAML flow map. A bad value is an "
    "error naming the variable; a `RAFTGRES_*` variable that matches no key is a warning "
    "(`RAFTGRES_ETCD_*`, `RAFTGRES_CONSUL_*` ... are errors). Not configuration, never "
    "reported: `RAFTGRES_CONFIG_FILE`, `RAFTGRES_SRCDIR`, `RAFTGRES_RUN_DIR`, `RAFTGRES_USER`. "
    "Patroni's "
    "`PATRONI_<user>_PASSWORD`/`_OPTIONS` bootstrap users and `PATRONI_CONFIGURATION` are not "
    "supported.\n"
    "\n";

static void md_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s, out);
    }
}

void cfg_table_markdown(FILE *out)
{
    fputs(md_head, out);
    fputs("| Variable | Key |\n| --- | --- |\n", out);
    for (size_t i = 0; i < cfg_table_len; i++)
        if (cfg_table[i].env)
            fprintf(out, "| `%s` | `%s` |\n", cfg_table[i].env, cfg_table[i].path);
    fputs("\n## Keys\n", out);
    char group[64] = "";
    for (size_t i = 0; i < cfg_table_len; i++) {
        const struct cfg_key *k = &cfg_table[i];
        /* Group rows by top-level section; global scalars and rejected stores get one each. */
        char g[64];
        const char *dot = strchr(k->path, '.');
        if (k->type == CFG_T_REJECTED)
            snprintf(g, sizeof(g), "External stores (rejected)");
        else if (!dot && k->type != CFG_T_SECTION)
            snprintf(g, sizeof(g), "Global");
        else
            snprintf(g, sizeof(g), "`%.*s`", (int)(dot ? (size_t)(dot - k->path) : strlen(k->path)),
                     k->path);
        if (strcmp(group, g) != 0) {
            snprintf(group, sizeof(group), "%s", g);
            fprintf(out, "\n### %s\n\n", g);
            fputs("| Key | Type | Default | Patroni | Env | Meaning |\n"
                  "| --- | --- | --- | --- | --- | --- |\n",
                  out);
        }
        fprintf(out, "| `%s`%s | ", k->path, (k->flags & CFG_F_REQUIRED) ? " **(required)**" : "");
        if (k->type == CFG_T_ENUM) {
            fputs("one of ", out);
            md_escape(out, k->choices);
        } else if ((k->type == CFG_T_INT || k->type == CFG_T_SIZE)) {
            fprintf(out, "%s %lld..", cfg_type_name(k->type), k->min);
            if (k->max != LLONG_MAX)
                fprintf(out, "%lld", k->max);
        } else {
            fputs(cfg_type_name(k->type), out);
        }
        fputs(" | ", out);
        if (k->def) {
            fputs("`", out);
            md_escape(out, k->def);
            fputs("`", out);
        } else {
            fputs("-", out);
        }
        fprintf(out, " | %s | %s%s%s | ", (k->flags & CFG_F_PATRONI) ? "yes" : "no",
                k->env ? "`" : "", k->env ? k->env : "-", k->env ? "`" : "");
        md_escape(out, k->doc);
        if (k->flags & CFG_F_SECRET)
            fputs(" (secret)", out);
        fputs(" |\n", out);
    }
}
