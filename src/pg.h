/* pg: control of the local PostgreSQL (design.md section 5). Every operation is
 * asynchronous: child processes through proc (initdb, pg_basebackup, pg_rewind,
 * pg_controldata, postgres itself) and SQL through pgq. Each operation calls its
 * callback exactly once.
 *
 * Files raftgres manages in the data directory (it never edits the user's
 * postgresql.conf):
 *   raftgres.conf       the config file postgres is started with (-c config_file=...):
 *                       `include 'postgresql.conf'`, then listen/port, the dynamic and
 *                       local parameters, primary_conninfo/primary_slot_name
 *   standby.signal      present while PostgreSQL runs as a standby
 *   pg_hba.conf         bootstrap.pg_hba appended after initdb; replaced by
 *                       postgresql.pg_hba when that is set
 * and postgresql.pgpass (mode 0600) for the children and primary_conninfo. */
#ifndef RAFTGRES_PG_H
#define RAFTGRES_PG_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "src/pgstatus.h"

struct cfg;
struct proc;

typedef void (*pg_done_cb)(void *data, bool ok, const char *msg);

/* Where to stream from: a member's PostgreSQL address. */
struct pg_source {
    char name[FSM_NAME_MAX + 1];
    char host[256];
    int port;
};

/* pg_controldata, parsed. */
struct pg_control {
    bool ok;
    char state[64]; /* "shut down", "shut down in recovery", "in production", ... */
    char sysid[FSM_SYSID_MAX + 1];
    uint32_t timeline;       /* Latest checkpoint's TimeLineID */
    uint64_t checkpoint_lsn; /* Latest checkpoint location */
    uint64_t min_recovery_lsn;
    uint32_t min_recovery_tli;
};

#define PG_ROW_MAX 160 /* pg_sql_rows(): longest value kept per row */

struct pg {
    uv_loop_t *loop;
    const struct cfg *cfg;
    const char *dcs_parameters_json; /* dynamic postgresql.parameters (JSON text) or NULL */
    char name[FSM_NAME_MAX + 1];
    char data_dir[1024];
    char bin_dir[1024];
    char listen_addresses[256];
    int port;
    char connect_host[256];
    char socket_dir[1024]; /* "" = PostgreSQL's default */
    char pgpass[1024];
    char log_path[1100];
    char local_conninfo[2048]; /* superuser, for status and control queries */
    char superuser[64], replication_user[64];

    struct proc *postmaster; /* our child, or NULL */
    int adopted_pid;         /* a postmaster found running at start-up (not our child) */
    bool stop_requested;
    bool crashed;             /* the postmaster exited without being asked to */
    struct pg_status st;      /* last observation */
    struct pg_source cur_src; /* what raftgres.conf was last written to follow */
    char sync_names[1024];    /* synchronous_standby_names raftgres manages ("" = async) */
    char pwfile[1100];        /* initdb --pwfile, removed when initdb ends */
    int rows_n;               /* pg_sql_rows(): first column of each row */
    char rows[64][PG_ROW_MAX];
    bool standby;             /* raftgres.conf was last written for a standby */
    struct pg_control control;

    /* Called when the postmaster exits (crash or requested stop): a cycle should run. */
    void (*on_event)(void *data);
    void *event_data;
};

/* Resolve paths and addresses from the config. Returns 0 or -1 with a message. */
int pg_init(struct pg *pg, uv_loop_t *loop, const struct cfg *cfg, char *err, size_t errlen);

bool pg_data_exists(const struct pg *pg);
/* Is a postmaster running on our data dir (our child or adopted)? */
bool pg_is_running(struct pg *pg);
/* PID of the running postmaster (our child or adopted), 0 when none. */
int pg_postmaster_pid(struct pg *pg);

/* Create a new cluster: initdb with bootstrap.initdb, append bootstrap.pg_hba. */
void pg_initdb(struct pg *pg, pg_done_cb cb, void *data);
/* Clone from SRC with pg_basebackup into an empty data dir. */
void pg_basebackup(struct pg *pg, const struct pg_source *src, pg_done_cb cb, void *data);
/* pg_rewind from SRC (the data dir must be cleanly shut down). */
void pg_rewind(struct pg *pg, const struct pg_source *src, pg_done_cb cb, void *data);
/* Remove the data dir's contents (reinitialize). */
int pg_remove_data(struct pg *pg, char *err, size_t errlen);
/* Run pg_controldata, store the result in pg->control. */
void pg_read_control(struct pg *pg, pg_done_cb cb, void *data);
/* Crash recovery in single-user mode (before pg_rewind of a crashed primary). */
void pg_single_user_recovery(struct pg *pg, pg_done_cb cb, void *data);

/* Start postgres. src NULL: as a primary (no standby.signal); else as a standby of src
 * (src->host "" = a standby with no primary yet). Waits until it accepts connections. */
void pg_start(struct pg *pg, const struct pg_source *src, pg_done_cb cb, void *data);
/* Stop: mode "fast" (SIGINT) or "immediate" (SIGQUIT); waits for the postmaster to exit. */
void pg_stop(struct pg *pg, const char *mode, pg_done_cb cb, void *data);
/* Promote a running standby (pg_promote, waiting). */
void pg_promote(struct pg *pg, pg_done_cb cb, void *data);
/* Point a running standby at SRC: rewrite raftgres.conf and reload (no restart). */
void pg_follow(struct pg *pg, const struct pg_source *src, pg_done_cb cb, void *data);
/* Rewrite raftgres.conf (new parameters) and reload (SIGHUP via pg_reload_conf()). */
void pg_reload(struct pg *pg, pg_done_cb cb, void *data);
/* Refresh pg->st from the running server (one query). */
void pg_query_status(struct pg *pg, pg_done_cb cb, void *data);
/* Run a query and keep the first column of up to 64 rows in pg->rows / pg->rows_n. */
void pg_sql_rows(struct pg *pg, const char *sql, pg_done_cb cb, void *data);
/* Run SQL as the superuser on the local server. */
void pg_sql(struct pg *pg, const char *sql, pg_done_cb cb, void *data);

/* Replication slot name of a member (Patroni's rule: lower case, [a-z0-9_]). */
void pg_slot_name(const char *member, char *out, size_t outlen);
/* conn_url for the member registry: postgres://host:port/postgres */
void pg_conn_url(const struct pg *pg, char *out, size_t outlen);
/* Parse a member's conn_url into a source. Returns 0 or -1. */
int pg_source_from_url(const char *name, const char *url, struct pg_source *out);
/* Parse "0/3000060" into a number. */
uint64_t pg_lsn_parse(const char *s);

#endif
