/* pgq: see pgq.h. */
#include "src/pgq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum pgq_phase { PH_CONNECT, PH_SEND, PH_READ, PH_DONE };

struct pgq {
    uv_loop_t *loop;
    PGconn *conn;
    uv_poll_t *poll; /* heap: re-created when the socket changes */
    int poll_fd;
    uv_timer_t timer;
    enum pgq_phase phase;
    char *sql;
    pgq_cb cb;
    void *data;
    PGresult *last;
    char error[512];
    bool had_error;
};

static void on_poll(uv_poll_t *h, int status, int events);

static void on_poll_closed(uv_handle_t *h)
{
    free(h);
}

static void drop_poll(struct pgq *q)
{
    if (q->poll) {
        /* At shutdown the daemon may already have closed every handle (uv_walk). */
        if (!uv_is_closing((uv_handle_t *)q->poll)) {
            uv_poll_stop(q->poll);
            uv_close((uv_handle_t *)q->poll, on_poll_closed);
        }
        q->poll = NULL;
        q->poll_fd = -1;
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct pgq *q = h->data;
    free(q->sql);
    free(q);
}

static void finish(struct pgq *q, bool ok, const char *error)
{
    if (q->phase == PH_DONE)
        return;
    q->phase = PH_DONE;
    drop_poll(q);
    if (uv_is_closing((uv_handle_t *)&q->timer)) {
        if (q->conn)
            PQfinish(q->conn);
        q->conn = NULL;
        return;
    }
    uv_timer_stop(&q->timer);
    if (q->cb)
        q->cb(q->data, ok, ok ? q->last : NULL, ok ? "" : error);
    if (q->last)
        PQclear(q->last);
    q->last = NULL;
    if (q->conn)
        PQfinish(q->conn);
    q->conn = NULL;
    uv_close((uv_handle_t *)&q->timer, on_timer_closed);
}

static void fail_conn(struct pgq *q, const char *what)
{
    char msg[512];
    const char *e = q->conn ? PQerrorMessage(q->conn) : "";
    snprintf(msg, sizeof(msg), "%s%s%s", what, *e ? ": " : "", e);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    finish(q, false, msg);
}

/* Arm the poll handle for EVENTS on the connection's current socket. */
static void arm(struct pgq *q, int events)
{
    int fd = PQsocket(q->conn);
    if (fd < 0) {
        fail_conn(q, "connection lost");
        return;
    }
    if (q->poll && q->poll_fd != fd)
        drop_poll(q); /* libpq reopened its socket (maybe with the same number later) */
    if (!q->poll) {
        q->poll = malloc(sizeof(*q->poll));
        if (!q->poll || uv_poll_init(q->loop, q->poll, fd) != 0) {
            free(q->poll);
            q->poll = NULL;
            finish(q, false, "cannot watch the connection socket");
            return;
        }
        q->poll->data = q;
        q->poll_fd = fd;
    }
    uv_poll_start(q->poll, events, on_poll);
}

static void step(struct pgq *q);

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct pgq *q = h->data;
    (void)events;
    /* Stop before calling into libpq: it may close this socket (libnotes.md). */
    if (uv_is_closing((uv_handle_t *)h))
        return;
    uv_poll_stop(h);
    if (status < 0 && q->phase == PH_CONNECT) {
        /* Let PQconnectPoll report the real error. */
    }
    step(q);
}

static void read_results(struct pgq *q)
{
    if (!PQconsumeInput(q->conn)) {
        fail_conn(q, "reading the answer failed");
        return;
    }
    while (!PQisBusy(q->conn)) {
        PGresult *r = PQgetResult(q->conn);
        if (!r) {
            if (q->had_error)
                finish(q, false, q->error);
            else
                finish(q, true, "");
            return;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
            if (!q->had_error) {
                q->had_error = true;
                snprintf(q->error, sizeof(q->error), "%s", PQresultErrorMessage(r));
                size_t n = strlen(q->error);
                while (n && q->error[n - 1] == '\n')
                    q->error[--n] = '\0';
            }
            PQclear(r);
        } else {
            if (q->last)
                PQclear(q->last);
            q->last = r;
        }
    }
    arm(q, UV_READABLE);
}

static void step(struct pgq *q)
{
    switch (q->phase) {
    case PH_CONNECT: {
        PostgresPollingStatusType ps = PQconnectPoll(q->conn);
        if (ps == PGRES_POLLING_FAILED) {
            fail_conn(q, "connection failed");
        } else if (ps == PGRES_POLLING_READING) {
            arm(q, UV_READABLE);
        } else if (ps == PGRES_POLLING_WRITING) {
            arm(q, UV_WRITABLE);
        } else if (ps == PGRES_POLLING_OK) {
            PQsetnonblocking(q->conn, 1);
            if (!PQsendQuery(q->conn, q->sql)) {
                fail_conn(q, "sending the query failed");
                return;
            }
            q->phase = PH_SEND;
            step(q);
        }
        return;
    }
    case PH_SEND: {
        int f = PQflush(q->conn);
        if (f < 0) {
            fail_conn(q, "sending the query failed");
        } else if (f > 0) {
            arm(q, UV_WRITABLE | UV_READABLE);
        } else {
            q->phase = PH_READ;
            arm(q, UV_READABLE);
        }
        return;
    }
    case PH_READ:
        read_results(q);
        return;
    case PH_DONE:
        return;
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct pgq *q = t->data;
    if (q->phase == PH_READ || q->phase == PH_SEND) {
        /* Ask the server to stop the query; PQcancel is a short blocking exchange over a
         * new connection, bounded by the server being local. */
        PGcancel *c = PQgetCancel(q->conn);
        if (c) {
            char buf[256];
            PQcancel(c, buf, sizeof(buf));
            PQfreeCancel(c);
        }
    }
    finish(q, false, "query timed out");
}

static void on_start_failed(uv_timer_t *t)
{
    struct pgq *q = t->data;
    finish(q, false, q->error);
}

struct pgq *pgq_exec(uv_loop_t *loop, const char *conninfo, const char *sql, unsigned timeout_ms,
                     pgq_cb cb, void *data)
{
    struct pgq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->loop = loop;
    q->cb = cb;
    q->data = data;
    q->poll_fd = -1;
    q->sql = strdup(sql);
    q->phase = PH_CONNECT;
    uv_timer_init(loop, &q->timer);
    q->timer.data = q;
    q->conn = PQconnectStart(conninfo);
    if (!q->conn || PQstatus(q->conn) == CONNECTION_BAD) {
        snprintf(q->error, sizeof(q->error), "connection failed: %s",
                 q->conn ? PQerrorMessage(q->conn) : "out of memory");
        uv_timer_start(&q->timer, on_start_failed, 0, 0);
        return q;
    }
    uv_timer_start(&q->timer, on_timeout, timeout_ms, 0);
    /* libnotes.md: poll for writing first. */
    arm(q, UV_WRITABLE);
    return q;
}

void pgq_detach(struct pgq *q)
{
    q->cb = NULL;
    q->data = NULL;
}

void pgq_quote_literal(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen < 3) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    out[n++] = '\'';
    for (const char *p = in; *p && n + 3 < outlen; p++) {
        if (*p == '\'')
            out[n++] = '\'';
        out[n++] = *p;
    }
    out[n++] = '\'';
    out[n] = '\0';
}

void pgq_quote_ident(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen < 3) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    out[n++] = '"';
    for (const char *p = in; *p && n + 3 < outlen; p++) {
        if (*p == '"')
            out[n++] = '"';
        out[n++] = *p;
    }
    out[n++] = '"';
    out[n] = '\0';
}
