/* fsm: the replicated state machine of raftgres (design.md section 2).
 *
 * It holds what Patroni keeps in etcd under /<namespace>/<scope>/: the initialize key,
 * the dynamic configuration, the leader lock, the member registry, optime/leader, the
 * sync state, the pending failover request, the timeline history and the pause flag.
 *
 * Pure: no I/O, no clock, no randomness, no global mutable state. Every member applies
 * the same entries in the same order and ends with the same state (byte-identical
 * snapshots). Time only enters as data carried by commands (ttl_ms, scheduled_at,
 * history time); lease expiry is itself a command (FSM_CMD_LOCK_EXPIRE) proposed by the
 * Raft leader, see lease.h.
 *
 * Memory: struct fsm is one flat, fixed-size object (about 480 KiB) with a bound on
 * every string and list, so applying an entry never allocates and never fails half-way.
 * It is public so the REST API can read fields directly; only fsm_* functions write it.
 *
 * Versions: the FSM keeps its own revision counter (like etcd's), because the raft_fsm
 * callback API does not receive the log index. `revision` is incremented by exactly one
 * for every entry whose result is FSM_OK, and left alone for every rejected entry
 * (malformed, conflict, stale, limit ...), so a rejected entry leaves the state
 * byte-identical. Every per-key version (lock, config, sync, failover) is the revision at
 * which that key was last changed (etcd's mod_revision); 0 means "never set".
 *
 * Full command semantics, byte encoding and snapshot format: docs/state-machine.md. */
#ifndef RAFTGRES_FSM_H
#define RAFTGRES_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds (bytes, not counting the terminating NUL, or element counts). An entry that
 * exceeds one is rejected (FSM_EMALFORMED at decode time), never truncated. */
#define FSM_NAME_MAX    64    /* member names, lock holder, sync names, leaders */
#define FSM_SYSID_MAX   64    /* initialize: the cluster system identifier */
#define FSM_URL_MAX     256   /* api_url, conn_url, raft_addr */
#define FSM_WORD_MAX    32    /* member role and state */
#define FSM_CONFIG_MAX  65536 /* config JSON text */
#define FSM_TAGS_MAX    4096  /* member tags JSON text */
#define FSM_REASON_MAX  256   /* history reason */
#define FSM_MSG_MAX     160   /* fsm_result.msg, including the NUL */
#define FSM_MAX_MEMBERS 64    /* member registry */
#define FSM_MAX_SYNC    16    /* synchronous standby names */
#define FSM_MAX_HISTORY 256   /* history entries kept; the oldest is dropped */

/* CAS wildcard for CONFIG_SET, SYNC_SET and FAILOVER_CLEAR: apply unconditionally. */
#define FSM_ANY_VERSION UINT64_MAX

enum fsm_rc {
    FSM_OK = 0,
    FSM_ECONFLICT,  /* a compare-and-set precondition failed (holder, version, value) */
    FSM_ESTALE,     /* MEMBER_UPDATE with seq <= stored seq: a retry or a reordered update */
    FSM_EMALFORMED, /* the bytes do not decode, or a field breaks a bound or rule */
    FSM_EVERSION,   /* unknown entry or snapshot format version */
    FSM_EUNKNOWN,   /* unknown command type */
    FSM_ELIMIT,     /* a state bound is reached (member registry full) */
    FSM_ENOMEM,     /* out of memory (encode, snapshot, restore only; never in apply) */
    FSM_ENOTFOUND,  /* MEMBER_REMOVE of an unknown member */
};
#define FSM_RC_COUNT 9

/* Static string for an fsm_rc ("ok", "conflict", ...); "unknown error" for others. */
const char *fsm_strerror(int rc);

/* Result of one applied entry. `version` is the command's own version (see each
 * command); `revision` is the FSM revision after the entry. msg is a short sentence
 * for logs and API answers, always NUL-terminated. */
struct fsm_result {
    int rc;
    uint64_t version;
    uint64_t revision;
    char msg[FSM_MSG_MAX];
};

/* ---- state ---------------------------------------------------------------------- */

struct fsm_lock {
    char holder[FSM_NAME_MAX + 1]; /* "" = free */
    uint64_t version;              /* revision of the last acquire/renew/transfer/release/expire */
    uint32_t ttl_ms;               /* 0 while free */
    /* The member that held it last, kept when the lock is released or expires ("" =
     * never held): the primary before a full cluster stop (snapshot version 2). */
    char last_holder[FSM_NAME_MAX + 1];
};

struct fsm_member {
    char name[FSM_NAME_MAX + 1];
    uint64_t seq; /* per-member sequence number of the last applied MEMBER_UPDATE */
    char api_url[FSM_URL_MAX + 1];
    char conn_url[FSM_URL_MAX + 1];
    char raft_addr[FSM_URL_MAX + 1];
    uint64_t raft_id;
    char role[FSM_WORD_MAX + 1];
    char state[FSM_WORD_MAX + 1];
    uint32_t timeline;
    uint64_t received_lsn;
    uint64_t replayed_lsn;
    uint64_t write_lsn;
    char tags[FSM_TAGS_MAX + 1]; /* opaque JSON text, "" = none */
    uint64_t version;            /* revision of the last update */
};

struct fsm_sync {
    char leader[FSM_NAME_MAX + 1];
    uint32_t n_names;
    char names[FSM_MAX_SYNC][FSM_NAME_MAX + 1];
    uint64_t version;
};

struct fsm_failover {
    bool pending;
    char leader[FSM_NAME_MAX + 1];    /* may be "" */
    char candidate[FSM_NAME_MAX + 1]; /* may be "" (not both) */
    int64_t scheduled_at;             /* unix ms, 0 = now */
    uint64_t version;                 /* revision of the last set/clear */
};

struct fsm_history {
    uint32_t timeline;
    uint64_t lsn;
    char reason[FSM_REASON_MAX + 1];
    int64_t time; /* unix ms, as supplied by the proposer */
    char new_leader[FSM_NAME_MAX + 1];
};

struct fsm {
    uint64_t revision; /* +1 per accepted entry */

    char initialize[FSM_SYSID_MAX + 1]; /* "" until INITIALIZE */

    char config_json[FSM_CONFIG_MAX + 1]; /* opaque JSON text, "" = none */
    uint64_t config_version;

    struct fsm_lock lock;

    uint64_t optime_lsn;     /* optime/leader */
    uint64_t optime_version; /* revision of the last OPTIME_SET */

    struct fsm_sync sync;
    struct fsm_failover failover;
    bool pause;

    /* Sorted by name (strcmp), no duplicates. */
    uint32_t n_members;
    struct fsm_member members[FSM_MAX_MEMBERS];

    /* Oldest first; at most FSM_MAX_HISTORY, the oldest is dropped on overflow. */
    uint32_t n_history;
    struct fsm_history history[FSM_MAX_HISTORY];

    /* Not replicated state: the result of the last fsm_apply made through the raft
     * adapter (fsm_raft.h); never part of a snapshot. */
    struct fsm_result last_result;
};

/* Initialise an empty state (all zero). Never fails; returns FSM_OK. The struct is
 * big: embed it in a heap or static object rather than on a small stack. */
int fsm_init(struct fsm *f);
/* Nothing is allocated by the FSM; provided for symmetry. Leaves an empty state. */
void fsm_close(struct fsm *f);

/* Member lookup; NULL when absent. The pointer is valid until the next fsm_apply or
 * fsm_restore on f. */
const struct fsm_member *fsm_member_find(const struct fsm *f, const char *name);
const struct fsm_member *fsm_member_by_raft_id(const struct fsm *f, uint64_t raft_id);

/* ---- commands ------------------------------------------------------------------- */

enum fsm_cmd_type {
    FSM_CMD_NOOP = 1,
    FSM_CMD_INITIALIZE = 2,
    FSM_CMD_CONFIG_SET = 3,
    FSM_CMD_LOCK_ACQUIRE = 4,
    FSM_CMD_LOCK_RENEW = 5,
    FSM_CMD_LOCK_RELEASE = 6,
    FSM_CMD_LOCK_EXPIRE = 7,
    FSM_CMD_LOCK_TRANSFER = 8,
    FSM_CMD_MEMBER_UPDATE = 9,
    FSM_CMD_MEMBER_REMOVE = 10,
    FSM_CMD_OPTIME_SET = 11,
    FSM_CMD_SYNC_SET = 12,
    FSM_CMD_FAILOVER_SET = 13,
    FSM_CMD_FAILOVER_CLEAR = 14,
    FSM_CMD_HISTORY_APPEND = 15,
    FSM_CMD_PAUSE_SET = 16,
};
#define FSM_CMD_MAX 16

/* Name of a command type ("lock_acquire", ...), "unknown" otherwise. */
const char *fsm_cmd_name(int type);

/* A command. String fields are const char *: for encoding they point into caller
 * memory (NULL is taken as ""); after fsm_cmd_decode they point into the decoded
 * buffer, where every string is stored NUL-terminated, so they stay valid exactly as
 * long as that buffer. */
struct fsm_cmd {
    uint8_t type; /* enum fsm_cmd_type */
    union {
        struct {
            const char *sysid; /* non-empty */
        } initialize;
        struct {
            uint64_t expected_version; /* FSM_ANY_VERSION = unconditional */
            const char *json;          /* may be "" */
        } config_set;
        struct {
            const char *name; /* non-empty */
            uint32_t ttl_ms;  /* > 0 */
        } acquire;
        struct {
            const char *name;
            uint64_t version; /* lock version the renewer holds */
            uint32_t ttl_ms;  /* > 0 */
        } renew;
        struct {
            const char *name;
            uint64_t version;
        } release;
        struct {
            const char *holder;
            uint64_t version;
        } expire;
        struct {
            const char *from;
            uint64_t version;
            const char *to;  /* non-empty */
            uint32_t ttl_ms; /* > 0 */
        } transfer;
        struct {
            const char *name; /* non-empty */
            uint64_t seq;     /* must be > stored seq of an existing member */
            const char *api_url;
            const char *conn_url;
            const char *raft_addr;
            uint64_t raft_id;
            const char *role;
            const char *state;
            uint32_t timeline;
            uint64_t received_lsn;
            uint64_t replayed_lsn;
            uint64_t write_lsn;
            const char *tags; /* opaque JSON text, may be "" */
        } member_update;
        struct {
            const char *name;
        } member_remove;
        struct {
            const char *name; /* must be the lock holder */
            uint64_t lsn;
        } optime_set;
        struct {
            const char *leader; /* "" (clear) or the current lock holder */
            uint64_t expected_version;
            uint32_t n_names; /* <= FSM_MAX_SYNC */
            const char *names[FSM_MAX_SYNC];
        } sync_set;
        struct {
            const char *leader;    /* may be "" */
            const char *candidate; /* may be "", not both empty */
            int64_t scheduled_at;  /* unix ms, 0 = now */
        } failover_set;
        struct {
            uint64_t expected_version; /* FSM_ANY_VERSION = unconditional */
        } failover_clear;
        struct {
            uint32_t timeline;
            uint64_t lsn;
            const char *reason;
            int64_t time; /* unix ms */
            const char *new_leader;
        } history_append;
        struct {
            bool pause;
        } pause_set;
    } u;
};

/* Encode one command into a malloc'ed buffer whose length is a multiple of 8; the
 * caller frees it with free(). The command is validated with the same rules as the
 * decoder (bounds, required fields), so an encoded entry always decodes.
 * Returns FSM_OK, FSM_EMALFORMED / FSM_EUNKNOWN for an invalid command, FSM_ENOMEM. */
int fsm_cmd_encode(const struct fsm_cmd *cmd, void **buf, size_t *len);

/* Size fsm_cmd_encode would produce, 0 for an invalid command. */
size_t fsm_cmd_encoded_size(const struct fsm_cmd *cmd);

/* Encode into caller memory of at least fsm_cmd_encoded_size() bytes (e.g. a
 * raft_malloc'ed buffer). Returns FSM_OK or the same errors as fsm_cmd_encode. */
int fsm_cmd_encode_into(const struct fsm_cmd *cmd, void *buf, size_t len);

/* Decode and validate one entry. On FSM_OK the string fields of *out point into buf
 * (zero copy). On error returns FSM_EMALFORMED, FSM_EVERSION or FSM_EUNKNOWN and, if
 * err != NULL, writes a one-line reason into err (NUL-terminated, truncated to
 * errlen). */
int fsm_cmd_decode(const void *buf, size_t len, struct fsm_cmd *out, char *err, size_t errlen);

/* ---- apply, snapshot, restore ----------------------------------------------------- */

/* Apply one encoded entry. Never crashes, never partially applies: on any rc other
 * than FSM_OK the state (revision included) is unchanged. res may be NULL. Returns
 * res->rc. */
int fsm_apply(struct fsm *f, const void *buf, size_t len, struct fsm_result *res);

/* Apply a command directly, without encoding (same validation and effects as encoding
 * then fsm_apply). For tests and tools. */
int fsm_apply_cmd(struct fsm *f, const struct fsm_cmd *cmd, struct fsm_result *res);

/* Serialise the whole state into a malloc'ed buffer (caller free()s it). The encoding is
 * canonical: equal states give equal bytes. Returns FSM_OK or FSM_ENOMEM. */
int fsm_snapshot(const struct fsm *f, void **buf, size_t *len);
/* Exact size of the snapshot of f, and a writer into caller memory of that size
 * (e.g. raft_malloc'ed). fsm_snapshot_write returns FSM_OK or FSM_EMALFORMED when len
 * is not the exact size. */
size_t fsm_snapshot_size(const struct fsm *f);
int fsm_snapshot_write(const struct fsm *f, void *buf, size_t len);

/* Replace the state with a decoded snapshot. The buffer is only read (the caller keeps
 * ownership). On error (FSM_EMALFORMED, FSM_EVERSION, FSM_ENOMEM) the old state stays
 * untouched. */
int fsm_restore(struct fsm *f, const void *buf, size_t len);

#endif
