/* pgq: one SQL query on the loop with libpq's asynchronous API (libnotes.md, style.md
 * point 8). Connect with PQconnectStart/PQconnectPoll, send with PQsendQuery, read with
 * PQconsumeInput/PQgetResult, each step driven by a uv_poll on PQsocket() (re-created
 * whenever the socket changes). Every query has a deadline; on expiry the query is
 * cancelled and the callback reports the timeout. Nothing here blocks the loop, except
 * PQcancel on timeout, which is bounded by the same connect_timeout (documented in
 * docs/architecture.md). */
#ifndef RAFTGRES_PGQ_H
#define RAFTGRES_PGQ_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <uv.h>

struct pgq;

/* ok: the query ran; res is the LAST result (owned by pgq, valid during the callback;
 * NULL for a command with no result) and error is "". !ok: error says why (connection
 * refused, timeout, SQL error message). */
typedef void (*pgq_cb)(void *data, bool ok, const PGresult *res, const char *error);

/* Run SQL (may hold several statements; the last result is reported) on a new
 * connection to CONNINFO. Returns the query handle, or NULL when it could not even
 * start (then cb is called from the loop with the error). */
struct pgq *pgq_exec(uv_loop_t *loop, const char *conninfo, const char *sql, unsigned timeout_ms,
                     pgq_cb cb, void *data);
/* The owner goes away: forget the callback; the query is abandoned and cleaned up. */
void pgq_detach(struct pgq *q);

/* Quote a string literal / identifier for SQL (into out, NUL-terminated). */
void pgq_quote_literal(const char *in, char *out, size_t outlen);
void pgq_quote_ident(const char *in, char *out, size_t outlen);

#endif
