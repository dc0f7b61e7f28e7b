/* lease: pure lease timing (see lease.h for the rules). No clock, no I/O: every time is
 * a monotonic millisecond value handed in by the caller. Additions saturate, so a huge
 * now or ttl can only make expiry later, never earlier. */
#include <string.h>

#include "raft_fsm/lease.h"

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void lease_watch_init(struct lease_watch *w)
{
    memset(w, 0, sizeof *w);
}

void lease_watch_reset(struct lease_watch *w, uint64_t now_ms)
{
    w->active = true;
    w->since_ms = now_ms;
}

void lease_watch_stop(struct lease_watch *w)
{
    w->active = false;
}

void lease_watch_observe(struct lease_watch *w, const char *holder, uint64_t version,
                         uint32_t ttl_ms, uint64_t now_ms)
{
    size_t n;
    if (holder == NULL || holder[0] == 0) {
        w->holder[0] = 0;
        w->version = version;
        w->ttl_ms = 0;
        w->since_ms = now_ms;
        return;
    }
    if (strcmp(w->holder, holder) == 0 && w->version == version) {
        return; /* same lock version: its timer keeps running */
    }
    n = strlen(holder);
    if (n > FSM_NAME_MAX) {
        n = FSM_NAME_MAX; /* cannot happen with names from the FSM */
    }
    memcpy(w->holder, holder, n);
    w->holder[n] = 0;
    w->version = version;
    w->ttl_ms = ttl_ms;
    w->since_ms = now_ms;
}

uint64_t lease_watch_next_deadline(const struct lease_watch *w)
{
    if (!w->active || w->holder[0] == 0) {
        return LEASE_NEVER;
    }
    return add_sat(w->since_ms, w->ttl_ms);
}

bool lease_watch_due(const struct lease_watch *w, uint64_t now_ms, const char **holder,
                     uint64_t *version)
{
    uint64_t deadline = lease_watch_next_deadline(w);
    if (deadline == LEASE_NEVER || now_ms < deadline) {
        return false;
    }
    if (holder != NULL) {
        *holder = w->holder;
    }
    if (version != NULL) {
        *version = w->version;
    }
    return true;
}

void lease_holder_init(struct lease_holder *h)
{
    memset(h, 0, sizeof *h);
}

uint64_t lease_holder_sent(struct lease_holder *h, uint64_t now_ms)
{
    uint64_t token = ++h->next_token;
    /* Tokens grow by one, so token % N is the oldest slot once the ring is full. */
    struct lease_holder_send *s = &h->sends[token % LEASE_HOLDER_SENDS];
    s->token = token;
    s->sent_ms = now_ms;
    return token;
}

bool lease_holder_committed(struct lease_holder *h, uint64_t token, uint64_t version,
                            uint32_t ttl_ms)
{
    struct lease_holder_send *s;
    if (token == 0) {
        return false;
    }
    s = &h->sends[token % LEASE_HOLDER_SENDS];
    if (s->token != token) {
        return false; /* forgotten (too old) or cleared by lease_holder_lost() */
    }
    if (token <= h->basis_token) {
        return false; /* a newer send already set the deadline */
    }
    h->held = true;
    h->version = version;
    h->ttl_ms = ttl_ms;
    h->basis_token = token;
    h->deadline_ms = add_sat(s->sent_ms, ttl_ms);
    return true;
}

void lease_holder_lost(struct lease_holder *h)
{
    h->held = false;
    h->deadline_ms = 0;
    h->basis_token = h->next_token;
    memset(h->sends, 0, sizeof h->sends);
}

uint64_t lease_holder_remaining(const struct lease_holder *h, uint64_t now_ms)
{
    if (!h->held || now_ms >= h->deadline_ms) {
        return 0;
    }
    return h->deadline_ms - now_ms;
}

bool lease_holder_valid(const struct lease_holder *h, uint64_t now_ms, uint64_t safety_margin_ms)
{
    return lease_holder_remaining(h, now_ms) > safety_margin_ms;
}
