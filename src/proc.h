/* proc: child processes on the loop (initdb, pg_basebackup, pg_rewind, pg_controldata,
 * postgres itself, bootstrap.post_init). Argument vectors and a per-child environment,
 * never a shell, never setenv() in the daemon (style.md point 10).
 *
 * The exit callback is always called exactly once: when the child exits, or at once
 * with exit_status -1 if it could not be started (then after proc_spawn returned). A
 * timeout sends SIGKILL and reports timed_out. Output (stdout+stderr) is either kept
 * (the last PROC_OUTPUT_MAX bytes, for error messages and pg_controldata) or sent to a
 * log file. */
#ifndef RAFTGRES_PROC_H
#define RAFTGRES_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define PROC_OUTPUT_MAX (64 * 1024)

struct proc;

struct proc_result {
    int64_t exit_status; /* -1: not started */
    int term_signal;     /* 0 unless killed by a signal */
    bool timed_out;
    const char *output; /* NUL-terminated; valid during the callback */
    const char *error;  /* why it could not start, or "" */
};

typedef void (*proc_cb)(void *data, const struct proc_result *res);

struct proc_opts {
    const char *const *argv; /* argv[0] is the program path */
    const char *const *env;  /* NULL-terminated "K=V" list; NULL = a minimal PATH/LANG env */
    const char *cwd;         /* NULL = inherit */
    unsigned timeout_ms;     /* 0 = none */
    const char *log_path;    /* append output here instead of keeping it (postgres) */
    bool detached;           /* own session: survives the daemon (postgres) */
};

/* Start a child. Returns the handle (owned by proc; valid until the callback returns). */
struct proc *proc_spawn(uv_loop_t *loop, const struct proc_opts *o, proc_cb cb, void *data);
int proc_pid(const struct proc *p);
/* Send a signal (no-op once exited). */
void proc_signal(struct proc *p, int sig);
/* Forget the callback (the owner is going away); the child keeps running. */
void proc_detach(struct proc *p);
/* Render argv as one line for logs. */
void proc_argv_string(const char *const *argv, char *out, size_t outlen);

#endif
