/* fsm_raft: the adapter between canonical/raft 0.15 (struct raft_fsm, version 1) and
 * the pure state machine (struct fsm). The only file of raft_fsm/ that includes raft.h.
 *
 * apply: decodes and applies the entry with fsm_apply(); it never returns non-zero for
 *   a bad entry (that would stop the raft member): the FSM's verdict goes into the
 *   result instead. The result lives in f->last_result (owned by the fsm) and *result
 *   points to it; it is valid only during the raft_apply callback, which raft 0.15
 *   invokes synchronously right after apply on the leader. The callback must copy it.
 *   On followers nobody reads it.
 * snapshot: one buffer, allocated with raft_malloc (both the array and the data);
 *   with raft_fsm version 1 raft frees them after writing the snapshot.
 * restore: fsm_restore() from buf; on success frees buf->base with raft_free and
 *   returns 0 (ownership was transferred to us); on failure keeps the old state, leaves
 *   buf to raft and returns RAFT_MALFORMED (or RAFT_NOMEM). */
#ifndef RAFTGRES_FSM_RAFT_H
#define RAFTGRES_FSM_RAFT_H

#include <raft.h>

#include "raft_fsm/fsm.h"

/* Fill *rf so raft calls into f. f must outlive the raft instance. Returns 0. */
int fsm_raft_init(struct raft_fsm *rf, struct fsm *f);

/* Clear *rf (nothing is allocated by fsm_raft_init). */
void fsm_raft_close(struct raft_fsm *rf);

#endif
