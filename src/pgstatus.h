/* pgstatus: what this member knows about its local PostgreSQL and about the cluster, as
 * a plain struct. The daemon fills it from libpq queries, pg_controldata and the state
 * machine; the REST health endpoints (http/health.c) and the HA decision (src/ha.c)
 * only read it. No I/O here. */
#ifndef RAFTGRES_PGSTATUS_H
#define RAFTGRES_PGSTATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "raft_fsm/fsm.h"

/* Patroni's words for the PostgreSQL state ("state" in /patroni). */
enum pg_run_state {
    PGS_UNKNOWN = 0,
    PGS_STOPPED,      /* "stopped" */
    PGS_STARTING,     /* "starting" */
    PGS_RUNNING,      /* "running" */
    PGS_STOPPING,     /* "stopping" */
    PGS_CRASHED,      /* "crashed": the postmaster exited without being asked to */
    PGS_INITDB,       /* "initializing new cluster" */
    PGS_BASEBACKUP,   /* "creating replica" */
    PGS_REWINDING,    /* "running pg_rewind" (Patroni: rewinding) */
    PGS_START_FAILED, /* "start failed" */
};
const char *pg_run_state_name(enum pg_run_state s);

/* One member's tags, parsed from its tags JSON (Patroni semantics). */
struct pg_tags {
    bool nofailover;
    bool noloadbalance;
    bool clonefrom;
    bool nosync;
    int failover_priority; /* default 1; <= 0 never becomes primary (as nofailover) */
    char replicatefrom[FSM_NAME_MAX + 1];
};

/* Defaults: every flag false, failover_priority 1, no replicatefrom. */
void pg_tags_default(struct pg_tags *out);
/* Parse a member's tags JSON (src/pgtags.c, Patroni semantics: booleans accept true/false
 * and strings such as "true"/"false"; failover_priority defaults to 1; nofailover true
 * makes it 0; an absent nofailover with failover_priority <= 0 means nofailover). NULL or
 * "" gives the defaults. Returns 0, or -1 when the text is not a JSON object or a value
 * breaks a bound (replicatefrom longer than FSM_NAME_MAX); *out then holds the defaults. */
int pg_tags_parse(const char *json, struct pg_tags *out);

struct pg_status {
    /* Local PostgreSQL. */
    enum pg_run_state state;
    bool data_exists;              /* data_dir holds PG_VERSION */
    bool is_primary;               /* running and not in recovery */
    bool in_recovery;              /* running as a standby */
    char sysid[FSM_SYSID_MAX + 1]; /* database_system_identifier, "" unknown */
    int server_version;            /* e.g. 150018, 0 unknown */
    uint32_t timeline;             /* 0 unknown */
    uint64_t write_lsn;            /* primary: pg_current_wal_lsn() */
    uint64_t receive_lsn;          /* replica: pg_last_wal_receive_lsn() */
    uint64_t replay_lsn;           /* replica: pg_last_wal_replay_lsn() */
    bool replay_paused;
    bool streaming;                   /* replica: a WAL receiver is streaming */
    char following[FSM_NAME_MAX + 1]; /* member named in primary_conninfo ("" none) */
    bool pending_restart;             /* a parameter change waits for a restart */
    int64_t postmaster_start_time_ms; /* unix ms, 0 unknown */
    uint64_t replication_lag;         /* bytes behind the leader's optime (replicas), 0 primary */
    bool lag_known;
    int64_t replay_timestamp_ms; /* replica: pg_last_xact_replay_timestamp(), unix ms, 0 null */

    /* Cluster, from the state machine and the lease. */
    bool cluster_unlocked; /* no leader lock holder */
    bool i_hold_lock;
    bool lease_valid;      /* i_hold_lock and the lease is valid by our monotonic clock */
    bool paused;           /* maintenance mode */
    struct pg_tags tags;   /* this member's tags */
    const char *tags_json; /* this member's tags as JSON text ("" none) */
};

/* The role word Patroni 3.0 reports in /patroni: "master", "replica", "uninitialized"
 * (also used by the health endpoints). */
const char *pg_role_name(const struct pg_status *s);

#endif
