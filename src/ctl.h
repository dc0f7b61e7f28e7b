/* ctl: the internals of raftgresctl shared by its files (not a public interface).
 *
 *   ctl.c       main: the command table, click-style option parsing, --help, prompts
 *   ctl_http.c  the members' REST APIs: discovery from the config and /cluster, requests
 *   ctl_out.c   patronictl's output: tables (pretty, tsv, json, yaml), list, topology
 *   ctl_yaml.c  YAML <-> JSON as PyYAML's safe_dump/safe_load see it, and unified diffs
 *   ctl_cmds.c  the commands that act on the cluster
 *
 * Every function that can fail prints what went wrong (in patronictl's words) and returns
 * a non-zero exit code: 1 refused/failed/unreachable, 2 usage. */
#ifndef RAFTGRES_CTL_H
#define RAFTGRES_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "src/config.h"

/* ---- options ------------------------------------------------------------------------- */

enum ctl_opt_id {
    O_FORMAT,
    O_WATCH_W, /* -W: every 2 s */
    O_WATCH,   /* -w N */
    O_EXTENDED,
    O_TIMESTAMP,
    O_FORCE,
    O_LEADER,
    O_CANDIDATE,
    O_SCHEDULED,
    O_ROLE,
    O_ANY,
    O_PG_VERSION,
    O_PENDING,
    O_TIMEOUT,
    O_WAIT,
    O_QUIET,
    O_SET,
    O_PG,
    O_APPLY,
    O_REPLACE,
    O_GROUP,
    O_N
};

#define CTL_MAX_MULTI 64 /* -s / -p given at most this often */
#define CTL_MAX_POS   64 /* positional arguments */

struct ctl_args {
    const char *val[O_N]; /* last value given (flags: "1"), NULL when absent */
    const char *multi[O_N][CTL_MAX_MULTI];
    int n_multi[O_N];
    const char *pos[CTL_MAX_POS];
    int n_pos;
};

/* ---- the session --------------------------------------------------------------------- */

#define CTL_MAX_URLS 16

struct ctl {
    struct cfg *cfg;
    const char *prog;             /* "raftgresctl" */
    const char *cmd;              /* the command being run */
    char urls[CTL_MAX_URLS][300]; /* REST API base URLs to try, config first */
    int n_urls;
    char token_header[512]; /* X-Raftgres-Token (member-to-member, add-member) */
    char auth_header[512];  /* Authorization: Basic ... for unsafe methods, or "" */
};

struct ctl_reply {
    int status;      /* 0, or a negative libuv error (no answer) */
    int http_status; /* when status == 0 */
    char *body;      /* NUL-terminated, owned; NULL without an answer */
    json_t *json;    /* body parsed, or NULL */
};
void ctl_reply_free(struct ctl_reply *r);

/* Text of an answer for an operator: its "message" if it is {"message": ...}, else the
 * body itself, else the transport error. Borrowed from r. */
const char *ctl_reply_text(const struct ctl_reply *r);

/* One request to BASE (http://host:port) + PATH. body may be NULL. Unsafe methods carry
 * the basic auth header. Returns r->status. */
int ctl_request(struct ctl *c, const char *method, const char *base, const char *path, json_t *body,
                unsigned timeout_ms, struct ctl_reply *r);

/* GET PATH from the first member that answers with JSON (config URLs first, then the
 * members learnt from /cluster). NULL when none did (already reported on stderr). */
json_t *ctl_get(struct ctl *c, const char *path);

/* GET /cluster; prints "Error: ..." and returns NULL when no member answered. */
json_t *ctl_cluster(struct ctl *c);

/* The REST base URL of a /cluster member (api_url without "/patroni"), or false. */
bool ctl_member_base(json_t *member, char *out, size_t len);

/* The member object named NAME in cluster json, or NULL. */
json_t *ctl_member(json_t *cluster, const char *name);

/* The leader's name (leader_lock.holder), or NULL. */
const char *ctl_leader(json_t *cluster);

/* Bases of the members with a REST API, the leader first. Returns how many. */
int ctl_bases_leader_first(json_t *cluster, char bases[][300], const char *names[], int max);

/* ---- prompts (click's behaviour) ----------------------------------------------------- */

/* click.prompt: "TEXT [DEFAULT]: "; returns a malloc'd answer (the default when empty).
 * EOF or Ctrl-C: prints "Aborted!" and exits 1. */
char *ctl_prompt(const char *text, const char *def);
/* click.confirm: "TEXT [y/N]: "; re-asks on invalid input (bounded), aborts on EOF. */
bool ctl_confirm(const char *text, bool def);

/* ---- output --------------------------------------------------------------------------- */

enum ctl_fmt { FMT_PRETTY, FMT_TSV, FMT_JSON, FMT_YAML, FMT_TOPOLOGY };
int ctl_parse_fmt(const char *s, enum ctl_fmt *out);

/* A row is an array of JSON values (strings, integers, objects for tags). */
struct ctl_table {
    const char **cols;
    int ncols;
    const char *right; /* names of right-aligned columns, '|' separated, e.g. "|TL|Lag in MB|" */
    json_t *rows;      /* array of arrays */
};
/* patronictl's print_output(): header is the title drawn into the top rule (NULL: none). */
void ctl_print_output(const struct ctl_table *t, enum ctl_fmt fmt, const char *header);

/* patronictl's output_members(): the members table and the service-info footer. */
void ctl_output_members(struct ctl *c, json_t *cluster, bool extended, enum ctl_fmt fmt);

/* datetime.now().strftime('%Y-%m-%d %H:%M:%S.%f')[:precision - 7] */
void ctl_timestamp(char *buf, size_t len, int precision);

/* Parse an operator's time ("now" or empty: *is_now). ISO 8601 forms, local time when
 * no zone is given; iso gets Python's isoformat() with the offset. 0 or -1. */
int ctl_parse_scheduled(const char *s, bool *is_now, char *iso, size_t isolen);

/* ---- YAML ------------------------------------------------------------------------------ */

/* PyYAML's safe_dump(data, default_flow_style=flow, allow_unicode=True, width=200): keys
 * sorted. Returns malloc'd text. */
char *ctl_yaml_dump(json_t *data, bool flow);
/* safe_load of TEXT into JSON (YAML 1.1 scalars as PyYAML resolves them; timestamps stay
 * strings). NULL with err filled on a syntax error. Empty document: JSON null. */
json_t *ctl_yaml_load(const char *text, char *err, size_t errlen);
/* A unified diff of two texts as difflib.unified_diff (3 lines of context), each line
 * printed to out. */
void ctl_unified_diff(const char *before, const char *after, FILE *out);

/* ---- commands ---------------------------------------------------------------------------- */

int ctl_cmd_list(struct ctl *c, struct ctl_args *a);
int ctl_cmd_topology(struct ctl *c, struct ctl_args *a);
int ctl_cmd_switchover(struct ctl *c, struct ctl_args *a);
int ctl_cmd_failover(struct ctl *c, struct ctl_args *a);
int ctl_cmd_restart(struct ctl *c, struct ctl_args *a);
int ctl_cmd_reload(struct ctl *c, struct ctl_args *a);
int ctl_cmd_reinit(struct ctl *c, struct ctl_args *a);
int ctl_cmd_pause(struct ctl *c, struct ctl_args *a);
int ctl_cmd_resume(struct ctl *c, struct ctl_args *a);
int ctl_cmd_edit_config(struct ctl *c, struct ctl_args *a);
int ctl_cmd_show_config(struct ctl *c, struct ctl_args *a);
int ctl_cmd_history(struct ctl *c, struct ctl_args *a);
int ctl_cmd_flush(struct ctl *c, struct ctl_args *a);
int ctl_cmd_version(struct ctl *c, struct ctl_args *a);
int ctl_cmd_add_member(struct ctl *c, struct ctl_args *a);

/* "Error: MSG" on stderr (click's ClickException); returns 1. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error of the current command (click's format); returns 2. */
int ctl_usage_error(const char *msg);

/* Checks the optional CLUSTER_NAME against the config's scope; 0 or prints and 1. */
int ctl_check_scope(struct ctl *c, const char *name);

#endif
