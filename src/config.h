/* Configuration: raftgres reads a Patroni-style YAML file (Patroni's key names wherever Patroni has
 * the setting, plus a `raft:` section instead of `etcd:`/`consul:`/...), applies RAFTGRES_*
 * environment overrides, validates everything against one declarative table (src/config_table.c)
 * and hands the daemon a `struct cfg` with typed fields for what it needs directly plus JSON trees
 * for the rest.
 *
 * Every problem is collected (never only the first) into a `struct cfg_report`, each with the file,
 * line and column (1-based) of the offending key or value, or the name of the environment variable.
 */
#ifndef RAFTGRES_CONFIG_H
#define RAFTGRES_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* ------------------------------------------------------------------------------------------------
 * Diagnostics
 */
enum { CFG_WARNING = 1, CFG_ERROR = 2 };

struct cfg_diag {
    int severity; /* CFG_ERROR or CFG_WARNING */
    char *file;   /* config file path; NULL when the problem comes from the environment */
    char *env;    /* environment variable name (e.g. "RAFTGRES_RAFT_SELF_ADDR"), else NULL */
    int line;     /* 1-based; 0 = no position (e.g. the file cannot be opened) */
    int column;   /* 1-based; 0 = no position */
    char *msg;    /* one line, no trailing newline, no "error:" prefix */
};

struct cfg_report {
    struct cfg_diag *items; /* sorted: file problems by position, then environment problems */
    size_t n;
    size_t n_errors, n_warnings;
};

/* Print one diagnostic per line:
 *   "FILE:LINE:COL: error: MESSAGE"            (or "FILE: error: MESSAGE" without a position)
 *   "environment RAFTGRES_X: warning: MESSAGE" */
void cfg_report_print(const struct cfg_report *r, FILE *out);
/* Free the items; the report itself may be on the stack. Safe on a zeroed report. */
void cfg_report_free(struct cfg_report *r);

/* ------------------------------------------------------------------------------------------------
 * The loaded configuration. Every string is owned by the struct and freed by cfg_free(); a string
 * field is NULL when the key is absent and has no default. Defaults from the table are filled in
 * both here and in the JSON trees, so the daemon never has to know a default itself.
 */
struct cfg_auth {
    char *username, *password; /* NULL when not configured */
};

struct cfg {
    char *path; /* the file that was loaded (or the name given to cfg_load_string) */
    char *scope, *namespace_, *name; /* namespace default "/service/" like Patroni */

    struct {
        char *listen, *connect_address; /* listen is required and validated host:port */
        char *username, *password;      /* from restapi.authentication */
        char *certfile, *keyfile;
        char *listen_host; /* host part of listen, brackets removed ("::1"), for bind() */
        int listen_port;   /* port part of listen, 1..65535 */
    } restapi;

    struct {
        char *data_dir, *self_addr, *password, *bind_addr; /* bind_addr NULL = bind to self_addr */
        char **partner_addrs;   /* every member INCLUDING this one, identical on every node */
        size_t n_partner_addrs; /* >= 1; self_addr is guaranteed to be one of them */
    } raft;

    /* bootstrap.dcs (seconds / bytes). Patroni defaults 30/10/10/1048576; always filled in. */
    struct {
        int ttl, loop_wait, retry_timeout;
        long long maximum_lag_on_failover;
        long long maximum_lag_on_syncnode; /* -1 = off */
        int primary_start_timeout, primary_stop_timeout;
        bool synchronous_mode;
        bool synchronous_mode_strict;
        int synchronous_node_count;
        bool failsafe_mode, check_timeline;
    } dcs;

    /* The postgresql section's scalars the daemon needs most; everything is also in
     * postgresql_json. */
    struct {
        char *listen, *connect_address, *data_dir, *bin_dir, *config_dir, *pgpass;
        int pg_ctl_timeout; /* default 60 */
        bool use_pg_rewind; /* postgresql.use_pg_rewind, else bootstrap.dcs.postgresql's, else false
                             */
        bool use_unix_socket, use_unix_socket_repl;
        bool remove_data_directory_on_rewind_failure, remove_data_directory_on_diverged_timelines;
        struct cfg_auth replication, superuser, rewind; /* postgresql.authentication.* */
    } postgresql;

    json_t *dcs_json;        /* the whole bootstrap.dcs section as JSON with defaults filled in */
    json_t *bootstrap_json;  /* the bootstrap section (initdb, pg_hba, users, post_init, dcs ...) */
    json_t *postgresql_json; /* the postgresql section as JSON (defaults filled in) */
    json_t *tags_json;       /* tags as JSON object (never NULL; {} when absent) */

    /* mode "off" | "automatic" | "required" (YAML false/off/disabled → "off", auto → "automatic",
     * require → "required"); default "automatic" like Patroni. safety_margin default 5, -1 = ttl/2.
     */
    struct {
        char *mode;
        char *device;
        int safety_margin;
        char *fencer; /* auto | on | off */
    } watchdog;

    /* level DEBUG|INFO|WARNING|ERROR|CRITICAL (upper-cased), default INFO; format defaults to
     * Patroni's "%(asctime)s %(levelname)s: %(message)s"; dir NULL = stderr only. */
    struct {
        char *level;
        char *format;
        char *dir;
    } log;

    json_t *root; /* the whole effective config as JSON (typed values, defaults filled in) */
};

/* Load FILE, apply overrides from envp (NULL-terminated "KEY=VALUE" array, e.g. environ; may be
 * NULL), validate everything and collect ALL problems. getenv() is never called.
 * *rep is initialised by this function (its previous contents are ignored) and must be released
 * with cfg_report_free() in every case.
 * Returns 0 and a new *out on success (warnings allowed), or -1 with errors in *rep and *out NULL.
 */
int cfg_load(const char *path, char *const envp[], struct cfg **out, struct cfg_report *rep);

/* As cfg_load(), with the YAML text in memory; `name` is used as the file name in messages. */
int cfg_load_string(const char *yaml, const char *name, char *const envp[], struct cfg **out,
                    struct cfg_report *rep);

void cfg_free(struct cfg *c);

/* Borrowed reference to the value at a dotted path in c->root ("bootstrap.dcs.ttl"), or NULL. */
json_t *cfg_lookup(const struct cfg *c, const char *path);

/* Split "host:port" or "[v6addr]:port". host gets the host without brackets (NUL-terminated,
 * must fit in hostlen), *port 1..65535. Returns 0, or -1 if malformed (host empty, port missing,
 * not a number or out of range, unbracketed IPv6, host too long). */
int cfg_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* ------------------------------------------------------------------------------------------------
 * The table (src/config_table.c): one row per known key path. Also drives docs/config.md.
 */
enum cfg_type {
    CFG_T_SECTION,       /* mapping of known keys (unknown ones warn unless CFG_F_OPEN) */
    CFG_T_MAP,           /* free-form mapping, kept as JSON */
    CFG_T_LIST,          /* free-form sequence, kept as JSON */
    CFG_T_STRLIST,       /* sequence of strings */
    CFG_T_ANY,           /* anything (scalar, list or map), kept as JSON */
    CFG_T_STR,           /* scalar kept as string */
    CFG_T_INT,           /* integer within [min, max] */
    CFG_T_SIZE,          /* integer bytes within [min, max]; accepts kB/MB/GB/TB suffixes */
    CFG_T_BOOL,          /* true/false/on/off/yes/no/1/0, any case */
    CFG_T_ENUM,          /* one of `choices` ("a|b|c"), case-insensitive, with `aliases` */
    CFG_T_HOSTPORT,      /* "host:port" or "[v6]:port" */
    CFG_T_LISTEN,        /* "host[,host...]:port" (postgresql.listen) */
    CFG_T_HOSTPORT_LIST, /* sequence of host:port, no duplicates */
    CFG_T_REJECTED,      /* a section raftgres refuses (external DCS): always an error */
};

enum {
    CFG_F_REQUIRED = 1u << 0, /* must be present (and not null/empty) */
    CFG_F_OPEN = 1u << 1,     /* SECTION that also accepts keys the table does not list */
    CFG_F_PATRONI = 1u << 2,  /* Patroni has this key with the same meaning */
    CFG_F_SECRET = 1u << 3,   /* value is a secret (masked by tools that print the config) */
};

struct cfg_key {
    const char *path; /* dotted key path, e.g. "bootstrap.dcs.ttl" */
    enum cfg_type type;
    unsigned flags;      /* CFG_F_* */
    const char *def;     /* default as YAML text, NULL = none */
    long long min, max;  /* bounds for CFG_T_INT / CFG_T_SIZE */
    const char *choices; /* CFG_T_ENUM: "off|automatic|required" */
    const char *aliases; /* CFG_T_ENUM: "false=off,auto=automatic" (lower case), or NULL */
    const char *env;     /* environment override variable, or NULL */
    const char *doc;     /* one line */
};

extern const struct cfg_key cfg_table[];
extern const size_t cfg_table_len;

/* The row for a dotted path, or NULL. */
const struct cfg_key *cfg_table_find(const char *path);
/* Human name of a type ("integer", "boolean", ...). */
const char *cfg_type_name(enum cfg_type t);
/* Write docs/config.md (the whole file) generated from the table. */
void cfg_table_markdown(FILE *out);

#endif
