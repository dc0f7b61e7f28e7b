/* ctl_http: raftgresctl talks to the members' REST APIs only. It starts from the address
 * in the given config (restapi.connect_address, then restapi.listen), learns the other
 * members from GET /cluster (their api_url) and moves on to the next member when one does
 * not answer, as patronictl moves between DCS hosts. Each request is blocking: a private
 * libuv loop runs one httpc request to completion (the CLI has nothing else to do). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "src/ctl.h"
#include "src/httpc.h"

#define CTL_GET_TIMEOUT_MS 5000

void ctl_reply_free(struct ctl_reply *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

const char *ctl_reply_text(const struct ctl_reply *r)
{
    if (r->status != 0)
        return uv_strerror(r->status);
    const char *m = json_string_value(json_object_get(r->json, "message"));
    if (m)
        return m;
    return r->body ? r->body : "";
}

static void on_reply(void *data, int status, int http_status, const char *body, size_t len)
{
    struct ctl_reply *r = data;
    r->status = status;
    r->http_status = http_status;
    if (status == 0) {
        r->body = strndup(body, len);
        r->json = len ? json_loadb(body, len, 0, NULL) : NULL;
    }
}

int ctl_request(struct ctl *c, const char *method, const char *base, const char *path, json_t *body,
                unsigned timeout_ms, struct ctl_reply *r)
{
    memset(r, 0, sizeof(*r));
    char url[700];
    snprintf(url, sizeof(url), "%s%s", base, path);
    char headers[1200];
    bool unsafe = strcmp(method, "GET") != 0;
    snprintf(headers, sizeof(headers), "%s%s%s", body ? "Content-Type: application/json\r\n" : "",
             unsafe ? c->auth_header : "", c->token_header);
    char *b = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    uv_loop_t loop;
    uv_loop_init(&loop);
    int err = 0;
    struct httpc_req *req = httpc_request(&loop, method, url, headers, b, b ? strlen(b) : 0,
                                          timeout_ms, on_reply, r, &err);
    if (!req)
        r->status = err ? err : UV_EINVAL;
    else
        uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(b);
    return r->status;
}

static void add_url(struct ctl *c, const char *base)
{
    for (int i = 0; i < c->n_urls; i++)
        if (!strcmp(c->urls[i], base))
            return;
    if (c->n_urls < CTL_MAX_URLS)
        snprintf(c->urls[c->n_urls++], sizeof(c->urls[0]), "%s", base);
}

bool ctl_member_base(json_t *member, char *out, size_t len)
{
    const char *api = json_string_value(json_object_get(member, "api_url"));
    if (!api || !api[0])
        return false;
    snprintf(out, len, "%s", api);
    size_t n = strlen(out);
    const char *suffix = "/patroni";
    if (n >= strlen(suffix) && !strcmp(out + n - strlen(suffix), suffix))
        out[n - strlen(suffix)] = '\0';
    n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
    return true;
}

json_t *ctl_get(struct ctl *c, const char *path)
{
    for (int i = 0; i < c->n_urls; i++) {
        struct ctl_reply r;
        if (ctl_request(c, "GET", c->urls[i], path, NULL, CTL_GET_TIMEOUT_MS, &r) != 0) {
            fprintf(stderr, "Request failed to %s%s: %s\n", c->urls[i], path,
                    uv_strerror(r.status));
            ctl_reply_free(&r);
            continue;
        }
        if (r.http_status != 200 || !r.json) {
            fprintf(stderr, "Bad answer from %s%s: status code=%d, (%s)\n", c->urls[i], path,
                    r.http_status, ctl_reply_text(&r));
            ctl_reply_free(&r);
            continue;
        }
        json_t *j = json_incref(r.json);
        ctl_reply_free(&r);
        if (!strcmp(path, "/cluster")) {
            /* Learn every member's API for the next requests. */
            size_t k;
            json_t *m;
            json_array_foreach(json_object_get(j, "members"), k, m)
            {
                char base[300];
                if (ctl_member_base(m, base, sizeof(base)))
                    add_url(c, base);
            }
        }
        return j;
    }
    return NULL;
}

/* The Raft leader's view is the freshest (a follower may not have applied the last entries
 * yet): when another member answered, ask the leader too and prefer its answer. */
static json_t *leader_view(struct ctl *c, json_t *cl)
{
    const char *lname =
        json_string_value(json_object_get(json_object_get(cl, "raft_leader"), "name"));
    const char *me = json_string_value(json_object_get(cl, "member"));
    char base[300];
    if (!lname || (me && !strcmp(me, lname)) ||
        !ctl_member_base(ctl_member(cl, lname), base, sizeof(base)))
        return cl;
    struct ctl_reply r;
    if (ctl_request(c, "GET", base, "/cluster", NULL, CTL_GET_TIMEOUT_MS, &r) == 0 &&
        r.http_status == 200 && json_is_object(r.json)) {
        json_decref(cl);
        cl = json_incref(r.json);
    }
    ctl_reply_free(&r);
    return cl;
}

json_t *ctl_cluster(struct ctl *c)
{
    json_t *cl = ctl_get(c, "/cluster");
    if (cl)
        cl = leader_view(c, cl);
    if (!cl)
        ctl_fail("cluster %s is unreachable: no member answered (tried %s%s)", c->cfg->scope,
                 c->urls[0], c->n_urls > 1 ? " and others" : "");
    return cl;
}

json_t *ctl_member(json_t *cluster, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cluster, "members"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (n && name && !strcmp(n, name))
            return m;
    }
    return NULL;
}

const char *ctl_leader(json_t *cluster)
{
    const char *h =
        json_string_value(json_object_get(json_object_get(cluster, "leader_lock"), "holder"));
    return h && h[0] ? h : NULL;
}

int ctl_bases_leader_first(json_t *cluster, char bases[][300], const char *names[], int max)
{
    int n = 0;
    const char *leader = ctl_leader(cluster);
    json_t *lm = leader ? ctl_member(cluster, leader) : NULL;
    if (lm && n < max && ctl_member_base(lm, bases[n], 300))
        names[n++] = leader;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cluster, "members"), i, m)
    {
        if (m == lm || n >= max)
            continue;
        if (ctl_member_base(m, bases[n], 300)) {
            const char *nm = json_string_value(json_object_get(m, "name"));
            names[n++] = nm ? nm : "(unregistered)";
        }
    }
    return n;
}
