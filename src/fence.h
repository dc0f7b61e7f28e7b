/* fence: the daemon's side of raftgres-fencer (src/fencer.c), the self-fencing process
 * that kills the local primary's postmaster when the daemon lets the lease deadline pass.
 * Started next to the daemon when watchdog.fencer is on (auto: unless a watchdog device is
 * in use), fed "arm <deadline> <pid>" after every committed renew while this member holds
 * the lock, "disarm" when it no longer runs a primary, "exit" at clean shutdown. A fencer
 * that dies is logged with its cause and started again (at most 10 times, FENCE_MAX_RESTARTS);
 * if it was armed, the new one is armed at once with the last deadline and postmaster, so
 * the primary is never left without a fence between two renews. */
#ifndef RAFTGRES_FENCE_H
#define RAFTGRES_FENCE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct fence {
    uv_loop_t *loop;
    uv_process_t proc;
    uv_pipe_t in;
    bool enabled, running, stopping;
    /* What the fencer must enforce, kept across a restart: armed with deadline_ms (CLOCK_MONOTONIC
     * ms) for the postmaster pid, whose start time (/proc/PID/stat) tells it from a later
     * process that reused the PID. */
    bool armed;
    uint64_t deadline_ms;
    int pid;
    unsigned long long pid_start;
    int open_handles; /* proc and in of the last fencer not yet closed */
    bool restart;     /* start a new fencer once both are closed */
    int restarts;
    char path[4096];
};

/* Start the fencer if enabled. Returns 0 (also when disabled) or -1 with a message. */
int fence_start(struct fence *f, uv_loop_t *loop, bool enabled, char *err, size_t errlen);
/* The postmaster PID must be dead by deadline_ms (CLOCK_MONOTONIC ms). */
void fence_arm(struct fence *f, uint64_t deadline_ms, int pid);
void fence_disarm(struct fence *f);
/* Clean shutdown: tell it to exit without fencing and close our side. */
void fence_stop(struct fence *f);

#endif
