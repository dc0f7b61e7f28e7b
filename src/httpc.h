/* httpc: a small asynchronous HTTP/1.1 client on the daemon's libuv loop.
 *
 * Used for member-to-member calls (proposal forwarding to the Raft leader, later the
 * peers' WAL positions). One request per connection ("Connection: close"), a hard
 * deadline on every request, a bounded response size. The callback is always called
 * exactly once: with the response, an error, the timeout, or UV_ECANCELED from
 * httpc_cancel()/shutdown. */
#ifndef RAFTGRES_HTTPC_H
#define RAFTGRES_HTTPC_H

#include <stddef.h>
#include <uv.h>

#define HTTPC_MAX_RESPONSE (1024 * 1024)

struct httpc_req;

/* status: 0 when a complete HTTP response arrived (then http_status and body are set),
 * else a negative libuv error code (UV_ETIMEDOUT, UV_ECONNREFUSED, UV_ECANCELED,
 * UV_EPROTO for an unparsable answer). body is NUL-terminated and valid only during the
 * callback. */
typedef void (*httpc_cb)(void *data, int status, int http_status, const char *body, size_t len);

/* Start METHOD on URL ("http://host:port/path"). extra_headers: NULL or complete header
 * lines each ending in "\r\n". body may be NULL. Returns the request (owned by httpc,
 * freed after the callback) or NULL with *err set (bad URL); then cb is not called. */
struct httpc_req *httpc_request(uv_loop_t *loop, const char *method, const char *url,
                                const char *extra_headers, const void *body, size_t body_len,
                                unsigned timeout_ms, httpc_cb cb, void *data, int *err);

/* Cancel: the callback runs (soon, from the loop) with UV_ECANCELED. */
void httpc_cancel(struct httpc_req *req);

/* Cancel every request still in flight (at shutdown). */
void httpc_cancel_all(void);

/* Split "http://host:port/path" (scheme optional; path defaults to "/").
 * Returns 0 or -1. */
int httpc_parse_url(const char *url, char *host, size_t hostlen, int *port, char *path,
                    size_t pathlen);

/* Parse a complete HTTP/1.x response held in buf. On success returns 0, sets *status,
 * *body (pointing into buf) and *body_len. Returns 1 if more bytes are needed, -1 if it
 * is not a valid response. `eof` says the peer closed the connection. */
int httpc_parse_response(const char *buf, size_t len, int eof, int *status, const char **body,
                         size_t *body_len);

#endif
