/* api: the REST API on h2o, on the daemon's libuv loop. Patroni's paths and status codes
 * (design.md section 7); every answer is JSON built with jansson; handlers answer from
 * in-memory state and never block the loop. */
#ifndef RAFTGRES_API_H
#define RAFTGRES_API_H

#include <h2o.h>
#include <stdbool.h>
#include <uv.h>

struct daemon;

/* Largest request body accepted (a bigger one gets 413 with a JSON message). */
#define API_MAX_BODY (64 * 1024)

struct api {
    struct daemon *d;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    bool config_ready, ctx_ready, listening;
    unsigned long long requests;
};

/* Bind restapi.listen (nothing else is started yet). Returns 0 or -1 with a message
 * naming the address and the cause. */
int api_listen(struct api *a, struct daemon *d, uv_loop_t *loop, const char *listen, char *err,
               size_t errlen);
/* Stop accepting (first step of shutdown). */
void api_stop_listening(struct api *a);
/* Release h2o's context (from the raft close callback, per libnotes.md). */
void api_dispose_context(struct api *a);
/* Release h2o's global config (after uv_run returned). */
void api_dispose_config(struct api *a);

#endif
