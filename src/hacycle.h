/* hacycle: the HA loop's I/O side. Each cycle collects observations (local PostgreSQL
 * status through libpq or pg_controldata, the state machine, our lease, the peers' WAL
 * positions), calls the pure ha_decide() (src/ha.c), logs its reason in one line and
 * carries the action out. Multi-step actions (bootstrap, clone, rewind, promote, demote)
 * run asynchronously; their completion triggers the next cycle. */
#ifndef RAFTGRES_HACYCLE_H
#define RAFTGRES_HACYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct pg_status;

/* Prepare (after the Raft member started). Returns 0 or -1 with a message. */
int ha_init(struct daemon *d, char *err, size_t errlen);
/* Run one cycle (the daemon serialises calls: one at a time). */
void ha_cycle(struct daemon *d);
/* The status the REST API reports, with lease validity by our clock now. */
void ha_status(struct daemon *d, struct pg_status *out);
/* Graceful stop: stop PostgreSQL cleanly, release the leader lock if we hold it, then
 * call done(d). */
void ha_shutdown(struct daemon *d, void (*done)(struct daemon *d));
/* Operator requests. Return 0 when started (ha_restart calls cb when done), -1 with a
 * message when refused (busy, not running, the leader cannot be reinitialized). */
int ha_restart(struct daemon *d, void (*cb)(void *data, bool ok, const char *msg), void *data,
               char *err, size_t errlen);
int ha_reinitialize(struct daemon *d, bool force, char *err, size_t errlen);

/* Safety margin (ms) before the lease deadline at which a primary demotes itself. */
uint64_t ha_safety_margin_ms(const struct daemon *d);

#endif
