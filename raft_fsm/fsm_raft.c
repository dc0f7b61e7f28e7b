/* fsm_raft: struct raft_fsm callbacks on top of struct fsm (contract in fsm_raft.h). */
#include <string.h>

#include "raft_fsm/fsm_raft.h"

static int fsm_raft_apply(struct raft_fsm *rf, const struct raft_buffer *buf, void **result)
{
    struct fsm *f = rf->data;
    /* A rejected entry is a normal outcome (rc in the result), never a raft error. */
    fsm_apply(f, buf->base, buf->len, &f->last_result);
    *result = &f->last_result;
    return 0;
}

static int fsm_raft_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct fsm *f = rf->data;
    size_t len = fsm_snapshot_size(f);
    struct raft_buffer *b = raft_malloc(sizeof *b);
    if (b == NULL) {
        return RAFT_NOMEM;
    }
    b->base = raft_malloc(len);
    if (b->base == NULL) {
        raft_free(b);
        return RAFT_NOMEM;
    }
    b->len = len;
    if (fsm_snapshot_write(f, b->base, len) != FSM_OK) {
        raft_free(b->base);
        raft_free(b);
        return RAFT_INVALID;
    }
    *bufs = b;
    *n_bufs = 1;
    return 0;
}

static int fsm_raft_restore(struct raft_fsm *rf, struct raft_buffer *buf)
{
    struct fsm *f = rf->data;
    int rc = fsm_restore(f, buf->base, buf->len);
    if (rc == FSM_ENOMEM) {
        return RAFT_NOMEM;
    }
    if (rc != FSM_OK) {
        return RAFT_MALFORMED;
    }
    raft_free(buf->base);
    return 0;
}

int fsm_raft_init(struct raft_fsm *rf, struct fsm *f)
{
    memset(rf, 0, sizeof *rf);
    rf->version = 1;
    rf->data = f;
    rf->apply = fsm_raft_apply;
    rf->snapshot = fsm_raft_snapshot;
    rf->restore = fsm_raft_restore;
    return 0;
}

void fsm_raft_close(struct raft_fsm *rf)
{
    memset(rf, 0, sizeof *rf);
}
