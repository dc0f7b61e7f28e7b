/* httpc: see httpc.h. The state of a request is a small chain of libuv requests:
 * getaddrinfo → connect → write → read until the response is complete or EOF.
 * Memory is freed only in the close callback of the TCP handle (libuv's rule). */
#include "src/httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct httpc_req {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    uv_write_t write;
    httpc_cb cb;
    void *data;
    char host[256];
    char port_str[8];
    char *out; /* the request bytes */
    size_t out_len;
    char *in; /* response bytes */
    size_t in_len, in_cap;
    int tcp_open;  /* uv_tcp_init done */
    int resolving; /* getaddrinfo in flight */
    int done;      /* callback already called */
    int closing;   /* handles being closed */
    int pending_close;
    struct httpc_req *next, *prev;
};

static struct httpc_req *live;

static void unlink_req(struct httpc_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (live == r)
        live = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
}

int httpc_parse_url(const char *url, char *host, size_t hostlen, int *port, char *path,
                    size_t pathlen)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://"))
        return -1;
    const char *slash = strchr(p, '/');
    size_t hp_len = slash ? (size_t)(slash - p) : strlen(p);
    char hp[300];
    if (hp_len == 0 || hp_len >= sizeof(hp))
        return -1;
    memcpy(hp, p, hp_len);
    hp[hp_len] = '\0';
    const char *colon;
    const char *h = hp;
    size_t hlen;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close[1] != ':')
            return -1;
        h = hp + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            return -1;
        hlen = (size_t)(colon - hp);
    }
    if (hlen == 0 || hlen >= hostlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end;
    long pv = strtol(colon + 1, &end, 10);
    if (*end != '\0' || pv < 1 || pv > 65535)
        return -1;
    *port = (int)pv;
    const char *pth = slash ? slash : "/";
    if (strlen(pth) >= pathlen)
        return -1;
    strcpy(path, pth);
    return 0;
}

int httpc_parse_response(const char *buf, size_t len, int eof, int *status, const char **body,
                         size_t *body_len)
{
    const char *hdr_end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            hdr_end = buf + i;
            break;
        }
    }
    if (!hdr_end)
        return eof ? -1 : 1;
    int major, minor, code;
    if (sscanf(buf, "HTTP/%d.%d %d", &major, &minor, &code) != 3 || code < 100 || code > 999)
        return -1;
    const char *b = hdr_end + 4;
    size_t have = len - (size_t)(b - buf);
    long long clen = -1;
    int chunked = 0;
    /* Walk the header lines. */
    const char *line = strstr(buf, "\r\n") + 2;
    while (line < hdr_end) {
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoll(line + 15, NULL, 10);
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 &&
                 memmem(line, (size_t)(eol - line), "chunked", 7))
            chunked = 1;
        line = eol + 2;
    }
    if (chunked) {
        /* Only complete chunked bodies are accepted; decode in place is not needed
         * for our peers (they send Content-Length), so refuse rather than guess. */
        return eof ? -1 : 1;
    }
    if (clen >= 0) {
        if ((long long)have < clen)
            return eof ? -1 : 1;
        *body_len = (size_t)clen;
    } else {
        if (!eof)
            return 1;
        *body_len = have;
    }
    *status = code;
    *body = b;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct httpc_req *r = h->data;
    if (--r->pending_close > 0)
        return;
    free(r->out);
    free(r->in);
    free(r);
}

static void finish(struct httpc_req *r, int status, int http_status, const char *body, size_t len)
{
    if (r->done)
        return;
    r->done = 1;
    unlink_req(r);
    httpc_cb cb = r->cb;
    void *data = r->data;
    cb(data, status, http_status, body ? body : "", len);
    /* Close handles; memory goes in the close callbacks. A getaddrinfo still in flight
     * is cancelled; its callback sees r->done and only closes. */
    if (r->resolving) {
        uv_cancel((uv_req_t *)&r->gai);
        return; /* on_resolved closes */
    }
    r->closing = 1;
    r->pending_close = 1 + (r->tcp_open ? 1 : 0);
    uv_close((uv_handle_t *)&r->timer, on_closed);
    if (r->tcp_open)
        uv_close((uv_handle_t *)&r->tcp, on_closed);
}

static void on_timeout(uv_timer_t *t)
{
    struct httpc_req *r = t->data;
    finish(r, UV_ETIMEDOUT, 0, NULL, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct httpc_req *r = h->data;
    (void)suggested;
    if (r->in_cap - r->in_len < 4096) {
        size_t cap = r->in_cap ? r->in_cap * 2 : 8192;
        if (cap > HTTPC_MAX_RESPONSE + 1) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        char *n = realloc(r->in, cap);
        if (!n) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        r->in = n;
        r->in_cap = cap;
    }
    buf->base = r->in + r->in_len;
    buf->len = r->in_cap - r->in_len - 1;
}

static void try_complete(struct httpc_req *r, int eof)
{
    int status;
    const char *body;
    size_t blen;
    int rc = httpc_parse_response(r->in ? r->in : "", r->in_len, eof, &status, &body, &blen);
    if (rc == 1)
        return;
    if (rc < 0) {
        finish(r, UV_EPROTO, 0, NULL, 0);
        return;
    }
    /* NUL-terminate the body for the caller (there is always one spare byte). */
    ((char *)body)[blen] = '\0';
    finish(r, 0, status, body, blen);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct httpc_req *r = s->data;
    (void)buf;
    if (r->done)
        return;
    if (nread == UV_ENOBUFS || (nread == 0 && buf->base == NULL)) {
        finish(r, UV_ENOBUFS, 0, NULL, 0);
        return;
    }
    if (nread > 0) {
        r->in_len += (size_t)nread;
        try_complete(r, 0);
        return;
    }
    if (nread == UV_EOF) {
        try_complete(r, 1);
        return;
    }
    if (nread < 0)
        finish(r, (int)nread, 0, NULL, 0);
}

static void on_written(uv_write_t *w, int status)
{
    struct httpc_req *r = w->data;
    if (r->done)
        return;
    if (status < 0) {
        finish(r, status, 0, NULL, 0);
        return;
    }
    int rc = uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read);
    if (rc < 0)
        finish(r, rc, 0, NULL, 0);
}

static void on_connected(uv_connect_t *c, int status)
{
    struct httpc_req *r = c->data;
    if (r->done)
        return;
    if (status < 0) {
        finish(r, status, 0, NULL, 0);
        return;
    }
    uv_buf_t b = uv_buf_init(r->out, (unsigned)r->out_len);
    r->write.data = r;
    int rc = uv_write(&r->write, (uv_stream_t *)&r->tcp, &b, 1, on_written);
    if (rc < 0)
        finish(r, rc, 0, NULL, 0);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    struct httpc_req *r = g->data;
    r->resolving = 0;
    if (r->done) {
        /* finish() ran while we were resolving: close the timer only. */
        if (res)
            uv_freeaddrinfo(res);
        r->closing = 1;
        r->pending_close = 1;
        uv_close((uv_handle_t *)&r->timer, on_closed);
        return;
    }
    if (status < 0 || !res) {
        finish(r, status < 0 ? status : UV_EAI_NONAME, 0, NULL, 0);
        return;
    }
    int rc = uv_tcp_init(r->loop, &r->tcp);
    if (rc == 0) {
        r->tcp_open = 1;
        r->tcp.data = r;
        uv_tcp_nodelay(&r->tcp, 1);
        r->connect.data = r;
        rc = uv_tcp_connect(&r->connect, &r->tcp, res->ai_addr, on_connected);
    }
    uv_freeaddrinfo(res);
    if (rc < 0)
        finish(r, rc, 0, NULL, 0);
}

struct httpc_req *httpc_request(uv_loop_t *loop, const char *method, const char *url,
                                const char *extra_headers, const void *body, size_t body_len,
                                unsigned timeout_ms, httpc_cb cb, void *data, int *err)
{
    char host[256], path[1024];
    int port;
    if (httpc_parse_url(url, host, sizeof(host), &port, path, sizeof(path)) != 0) {
        *err = UV_EINVAL;
        return NULL;
    }
    struct httpc_req *r = calloc(1, sizeof(*r));
    if (!r) {
        *err = UV_ENOMEM;
        return NULL;
    }
    r->loop = loop;
    r->cb = cb;
    r->data = data;
    snprintf(r->host, sizeof(r->host), "%s", host);
    snprintf(r->port_str, sizeof(r->port_str), "%d", port);
    const char *hdrs = extra_headers ? extra_headers : "";
    int is_v6 = strchr(host, ':') != NULL;
    size_t cap = strlen(method) + strlen(path) + strlen(host) + strlen(hdrs) + 200 + body_len;
    r->out = malloc(cap);
    if (!r->out) {
        free(r);
        *err = UV_ENOMEM;
        return NULL;
    }
    int n = snprintf(r->out, cap,
                     "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nConnection: close\r\n"
                     "User-Agent: raftgres/" RAFTGRES_VERSION "\r\n%sContent-Length: %zu\r\n\r\n",
                     method, path, is_v6 ? "[" : "", host, is_v6 ? "]" : "", port, hdrs, body_len);
    if (body_len)
        memcpy(r->out + n, body, body_len);
    r->out_len = (size_t)n + body_len;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_timeout, timeout_ms, 0);
    r->next = live;
    if (live)
        live->prev = r;
    live = r;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->gai.data = r;
    r->resolving = 1;
    int rc = uv_getaddrinfo(loop, &r->gai, on_resolved, r->host, r->port_str, &hints);
    if (rc < 0) {
        r->resolving = 0;
        /* Report through the loop, not synchronously: callers may not expect a
         * callback before httpc_request returns. */
        uv_timer_start(&r->timer, on_timeout, 0, 0);
    }
    return r;
}

static void on_cancel_timer(uv_timer_t *t)
{
    struct httpc_req *r = t->data;
    finish(r, UV_ECANCELED, 0, NULL, 0);
}

void httpc_cancel(struct httpc_req *req)
{
    if (req->done)
        return;
    uv_timer_stop(&req->timer);
    uv_timer_start(&req->timer, on_cancel_timer, 0, 0);
}

void httpc_cancel_all(void)
{
    while (live)
        finish(live, UV_ECANCELED, 0, NULL, 0);
}
