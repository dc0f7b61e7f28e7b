/* fsm_wire: primitives shared by the entry codec (fsm_codec.c) and the snapshot
 * encoding (fsm.c). Internal to raft_fsm/; not part of the public API.
 *
 * Fixed-width integers are little-endian. A string is a u32 length n, then n bytes
 * without NUL, then one NUL byte (so a decoded string can be used in place). The writer
 * counts bytes when it has no memory (p == NULL), so size and write share one code path.
 * The reader never reads past len: every get checks the remaining bytes first and sets
 * `bad` (sticky) with a reason instead. */
#ifndef RAFTGRES_FSM_WIRE_H
#define RAFTGRES_FSM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire_w {
    uint8_t *p; /* NULL: only count */
    size_t cap; /* bytes available at p */
    size_t off; /* bytes written (or counted) */
    bool over;  /* a write did not fit in cap */
};

static inline void wire_put_bytes(struct wire_w *w, const void *src, size_t n)
{
    if (w->p != NULL) {
        if (n > w->cap - w->off || w->off > w->cap) {
            w->over = true;
        } else if (n > 0) {
            memcpy(w->p + w->off, src, n);
        }
    }
    w->off += n;
}

static inline void wire_put_u8(struct wire_w *w, uint8_t v)
{
    wire_put_bytes(w, &v, 1);
}

static inline void wire_put_u32(struct wire_w *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    wire_put_bytes(w, b, 4);
}

static inline void wire_put_u64(struct wire_w *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    wire_put_bytes(w, b, 8);
}

static inline void wire_put_str(struct wire_w *w, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    wire_put_u32(w, (uint32_t)n);
    wire_put_bytes(w, s != NULL ? s : "", n);
    wire_put_u8(w, 0);
}

/* Zero bytes up to the next multiple of 8. */
static inline void wire_pad8(struct wire_w *w)
{
    static const uint8_t zero[8];
    size_t rem = w->off % 8;
    if (rem != 0) {
        wire_put_bytes(w, zero, 8 - rem);
    }
}

struct wire_r {
    const uint8_t *p;
    size_t len;
    size_t off;
    const char *bad; /* NULL while fine; first reason otherwise */
};

static inline bool wire_need(struct wire_r *r, size_t n, const char *what)
{
    if (r->bad != NULL) {
        return false;
    }
    if (r->off > r->len || n > r->len - r->off) {
        r->bad = what;
        return false;
    }
    return true;
}

static inline uint8_t wire_get_u8(struct wire_r *r)
{
    if (!wire_need(r, 1, "truncated")) {
        return 0;
    }
    return r->p[r->off++];
}

static inline uint32_t wire_get_u32(struct wire_r *r)
{
    uint32_t v = 0;
    if (!wire_need(r, 4, "truncated")) {
        return 0;
    }
    for (int i = 0; i < 4; i++) {
        v |= (uint32_t)r->p[r->off + (size_t)i] << (8 * i);
    }
    r->off += 4;
    return v;
}

static inline uint64_t wire_get_u64(struct wire_r *r)
{
    uint64_t v = 0;
    if (!wire_need(r, 8, "truncated")) {
        return 0;
    }
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    }
    r->off += 8;
    return v;
}

/* A string of at most max bytes. Returns a pointer into the buffer (NUL-terminated
 * there) or "" after an error; *n receives the length. */
static inline const char *wire_get_str(struct wire_r *r, size_t max, size_t *n)
{
    uint32_t len = wire_get_u32(r);
    const char *s;
    *n = 0;
    if (r->bad != NULL) {
        return "";
    }
    if (len > max) {
        r->bad = "string longer than its bound";
        return "";
    }
    if (!wire_need(r, (size_t)len + 1, "truncated string")) {
        return "";
    }
    s = (const char *)r->p + r->off;
    if (memchr(s, 0, len) != NULL) {
        r->bad = "string with an embedded NUL";
        return "";
    }
    if (s[len] != 0) {
        r->bad = "string without its terminating NUL";
        return "";
    }
    r->off += (size_t)len + 1;
    *n = len;
    return s;
}

/* Copy a decoded string into fixed storage of max+1 bytes (n <= max checked before). */
static inline void wire_copy_str(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Padding after off up to the next multiple of 8 must be zero and end the buffer. */
static inline void wire_expect_pad_end(struct wire_r *r)
{
    size_t end;
    if (r->bad != NULL) {
        return;
    }
    end = (r->off + 7) / 8 * 8;
    if (r->len != end) {
        r->bad = r->len < end ? "truncated padding" : "trailing bytes after padding";
        return;
    }
    for (size_t i = r->off; i < end; i++) {
        if (r->p[i] != 0) {
            r->bad = "non-zero padding";
            return;
        }
    }
    r->off = end;
}

#endif
