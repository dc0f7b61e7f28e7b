/* daemon: the state of one raftgres process and the glue between its parts: the Raft
 * member (rnode), the REST API (http/api), the member's own registration in the state
 * machine, signals and the shutdown order. One libuv loop runs all of it. */
#ifndef RAFTGRES_DAEMON_H
#define RAFTGRES_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "http/api.h"
#include "src/rnode.h"

struct cfg;

struct daemon {
    uv_loop_t *loop;
    struct cfg *cfg;
    struct rnode rn;
    struct api api;
    uv_signal_t sigterm, sigint;
    uv_timer_t loop_timer;  /* the periodic cycle (loop_wait) and its retries */
    char api_url[512];      /* http://connect_address/patroni, as Patroni registers it */
    uint64_t seq_counter;   /* low half of the member-registration sequence number */
    uint64_t last_cycle_ms; /* monotonic ms of the last completed cycle (liveness) */
    bool register_inflight;
    bool registered_once;
    bool cycle_again; /* an event arrived during a cycle: run once more */
    bool stopping;
    int exit_code;
};

/* Run the daemon for CFG until SIGTERM/SIGINT or a fatal error. join: see rnode_start.
 * Returns the process exit code (0 clean, 2 start-up refused, 1 fatal at run time). */
int daemon_run(struct cfg *cfg, bool join);

/* Ask for one cycle now (events: Raft leader change, lock released, ...). */
void daemon_wakeup(struct daemon *d);

#endif
