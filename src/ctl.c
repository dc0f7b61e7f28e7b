/* raftgresctl: the command-line client (as patronictl). It reads the member's config
 * for the REST API address and talks to the cluster over HTTP only.
 *
 *   raftgresctl -c CONFIG list [-f pretty|json]
 *   raftgresctl -c CONFIG add-member RAFT_ADDR
 *   raftgresctl version
 *
 * Exit codes: 0 ok, 1 cluster unreachable or request refused, 2 usage. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "src/config.h"
#include "src/httpc.h"

extern char **environ;

#define CTL_TIMEOUT_MS 5000

struct reply {
    int status; /* 0 or a libuv error */
    int http_status;
    char *body;
};

static void on_reply(void *data, int status, int http_status, const char *body, size_t len)
{
    struct reply *r = data;
    r->status = status;
    r->http_status = http_status;
    r->body = status == 0 ? strndup(body, len) : NULL;
}

/* One blocking HTTP request (the CLI has nothing else to do meanwhile). */
static int http_call(const char *method, const char *url, const char *headers, const char *body,
                     struct reply *out, unsigned timeout_ms)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(out, 0, sizeof(*out));
    int err = 0;
    struct httpc_req *r = httpc_request(&loop, method, url, headers, body, body ? strlen(body) : 0,
                                        timeout_ms, on_reply, out, &err);
    if (!r) {
        uv_loop_close(&loop);
        out->status = err;
        return err;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return out->status;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: raftgresctl [OPTIONS] COMMAND [ARGS]...\n"
                 "\n"
                 "Options:\n"
                 "  -c, --config-file TEXT  Configuration file (or RAFTGRES_CONFIG_FILE)\n"
                 "  --help                  Show this message and exit.\n"
                 "\n"
                 "Commands:\n"
                 "  list        List the members of the cluster\n"
                 "  add-member  Add a new member to the Raft cluster (then start it with --join)\n"
                 "  version     Output version of raftgresctl\n");
}

struct ctl {
    struct cfg *cfg;
    char base_urls[2][300];
    int n_urls;
    char headers[512];
};

static json_t *get_json(struct ctl *c, const char *path, char *used_base, size_t used_len)
{
    for (int i = 0; i < c->n_urls; i++) {
        char url[700];
        snprintf(url, sizeof(url), "%s%s", c->base_urls[i], path);
        struct reply r;
        if (http_call("GET", url, c->headers, NULL, &r, CTL_TIMEOUT_MS) != 0) {
            fprintf(stderr, "Request failed to %s: %s\n", url, uv_strerror(r.status));
            continue;
        }
        json_error_t je;
        json_t *j = json_loads(r.body, 0, &je);
        free(r.body);
        if (!j) {
            fprintf(stderr, "Bad answer from %s: %s\n", url, je.text);
            continue;
        }
        if (used_base)
            snprintf(used_base, used_len, "%s", c->base_urls[i]);
        return j;
    }
    return NULL;
}

/* ---- table printing in patronictl's style ------------------------------------------ */

#define MAX_COLS 8
#define MAX_ROWS 128

struct table {
    const char *head[MAX_COLS];
    int ncols;
    char *cells[MAX_ROWS][MAX_COLS];
    int nrows;
};

static void print_rule(const int *w, int ncols, const char *title)
{
    size_t total = 1;
    for (int i = 0; i < ncols; i++)
        total += (size_t)w[i] + 3;
    if (title) {
        /* "+ Cluster: NAME (ID) ----+" spanning the table, as patronictl draws it. */
        char line[1024];
        int n = snprintf(line, sizeof(line), "+ %s ", title);
        while ((size_t)n < total - 1 && (size_t)n < sizeof(line) - 2)
            line[n++] = '-';
        line[n++] = '+';
        line[n] = '\0';
        printf("%s\n", line);
        return;
    }
    putchar('+');
    for (int i = 0; i < ncols; i++) {
        for (int k = 0; k < w[i] + 2; k++)
            putchar('-');
        putchar('+');
    }
    putchar('\n');
}

static void print_table(const struct table *t, const char *title)
{
    int w[MAX_COLS];
    for (int i = 0; i < t->ncols; i++) {
        w[i] = (int)strlen(t->head[i]);
        for (int r = 0; r < t->nrows; r++)
            if ((int)strlen(t->cells[r][i]) > w[i])
                w[i] = (int)strlen(t->cells[r][i]);
    }
    /* Make the title fit. */
    int total = 1;
    for (int i = 0; i < t->ncols; i++)
        total += w[i] + 3;
    int need = (int)strlen(title) + 4;
    if (need > total)
        w[t->ncols - 1] += need - total;
    print_rule(w, t->ncols, title);
    printf("|");
    for (int i = 0; i < t->ncols; i++)
        printf(" %-*s |", w[i], t->head[i]);
    printf("\n");
    print_rule(w, t->ncols, NULL);
    for (int r = 0; r < t->nrows; r++) {
        printf("|");
        for (int i = 0; i < t->ncols; i++)
            printf(" %-*s |", w[i], t->cells[r][i]);
        printf("\n");
    }
    print_rule(w, t->ncols, NULL);
}

static int cmp_rows(const void *a, const void *b)
{
    char *const *ra = a;
    char *const *rb = b;
    return strcmp(ra[0], rb[0]);
}

/* Patroni's members table: Member, Host, Role, State, TL, Lag in MB (+ Raft role with -e). */
static int cmd_list(struct ctl *c, const char *fmt, bool extended)
{
    json_t *cl = get_json(c, "/cluster", NULL, 0);
    if (!cl) {
        fprintf(stderr, "raftgresctl: cluster %s is unreachable: no member answered\n",
                c->cfg->scope);
        return 1;
    }
    const char *holder =
        json_string_value(json_object_get(json_object_get(cl, "leader_lock"), "holder"));
    json_t *members = json_object_get(cl, "members");
    struct table t = {.head = {"Member", "Host", "Role", "State", "TL", "Lag in MB"}, .ncols = 6};
    if (extended)
        t.head[t.ncols++] = "Raft role";
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        if (t.nrows >= MAX_ROWS)
            break;
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *host = json_string_value(json_object_get(m, "host"));
        json_int_t port = json_integer_value(json_object_get(m, "port"));
        const char *state = json_string_value(json_object_get(m, "state"));
        json_int_t tl = json_integer_value(json_object_get(m, "timeline"));
        json_t *lag = json_object_get(m, "lag");
        char hostbuf[300] = "", tlbuf[32] = "", lagbuf[32] = "";
        if (host && port && port != 5432)
            snprintf(hostbuf, sizeof(hostbuf), "%s:%lld", host, (long long)port);
        else if (host)
            snprintf(hostbuf, sizeof(hostbuf), "%s", host);
        if (tl)
            snprintf(tlbuf, sizeof(tlbuf), "%lld", (long long)tl);
        bool leader = name && holder && !strcmp(name, holder);
        if (json_is_integer(lag))
            snprintf(lagbuf, sizeof(lagbuf), "%lld",
                     (long long)((json_integer_value(lag) + 512 * 1024) / (1024 * 1024)));
        else if (!leader && state)
            snprintf(lagbuf, sizeof(lagbuf), "unknown");
        char **row = t.cells[t.nrows++];
        row[0] = strdup(name ? name : "(unregistered)");
        row[1] =
            strdup(hostbuf[0] ? hostbuf : json_string_value(json_object_get(m, "raft_address")));
        row[2] = strdup(leader ? "Leader" : "Replica");
        row[3] = strdup(state ? state : "");
        row[4] = strdup(tlbuf);
        row[5] = strdup(lagbuf);
        if (extended) {
            const char *rr = json_string_value(json_object_get(m, "raft_role"));
            row[6] = strdup(rr ? rr : "");
        }
    }
    qsort(t.cells, (size_t)t.nrows, sizeof(t.cells[0]), cmp_rows);
    const char *sysid = json_string_value(json_object_get(cl, "system_identifier"));
    if (!strcmp(fmt, "json")) {
        json_t *out = json_array();
        for (int r = 0; r < t.nrows; r++) {
            json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s}", "Cluster", c->cfg->scope, "Member",
                                    t.cells[r][0], "Host", t.cells[r][1], "Role", t.cells[r][2],
                                    "State", t.cells[r][3]);
            if (t.cells[r][4][0])
                json_object_set_new(row, "TL", json_integer(atoll(t.cells[r][4])));
            if (t.cells[r][5][0])
                json_object_set_new(row, "Lag in MB",
                                    strcmp(t.cells[r][5], "unknown")
                                        ? json_integer(atoll(t.cells[r][5]))
                                        : json_string("unknown"));
            if (extended)
                json_object_set_new(row, "Raft role", json_string(t.cells[r][6]));
            json_array_append_new(out, row);
        }
        char *js = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", js);
        free(js);
        json_decref(out);
    } else {
        char title[300];
        snprintf(title, sizeof(title), "Cluster: %s (%s)", c->cfg->scope,
                 sysid ? sysid : "uninitialized");
        print_table(&t, title);
        if (json_is_true(json_object_get(cl, "pause")))
            printf(" Maintenance mode: on\n");
    }
    for (int r = 0; r < t.nrows; r++)
        for (int k = 0; k < t.ncols; k++)
            free(t.cells[r][k]);
    json_decref(cl);
    return 0;
}

static int cmd_add_member(struct ctl *c, const char *addr)
{
    char host[256];
    int port;
    if (cfg_parse_hostport(addr, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "raftgresctl: '%s' is not host:port\n", addr);
        return 2;
    }
    json_t *cl = get_json(c, "/cluster", NULL, 0);
    if (!cl) {
        fprintf(stderr, "raftgresctl: cluster %s is unreachable: no member answered\n",
                c->cfg->scope);
        return 1;
    }
    /* Membership changes are made by the Raft leader: find its REST API. */
    json_int_t lid =
        json_integer_value(json_object_get(json_object_get(cl, "raft_leader"), "raft_id"));
    const char *api = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cl, "members"), i, m)
    {
        if (json_integer_value(json_object_get(m, "raft_id")) == lid)
            api = json_string_value(json_object_get(m, "api_url"));
    }
    if (!lid || !api) {
        fprintf(stderr, "raftgresctl: no Raft leader with a registered REST API; try again\n");
        json_decref(cl);
        return 1;
    }
    char url[700];
    snprintf(url, sizeof(url), "%s", api);
    char *suffix = strstr(url, "/patroni");
    if (suffix)
        *suffix = '\0';
    strcat(url, "/raft/members");
    json_decref(cl);
    json_t *body = json_pack("{s:s}", "raft_addr", addr);
    char *b = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char headers[700];
    snprintf(headers, sizeof(headers), "Content-Type: application/json\r\n%s", c->headers);
    struct reply r;
    int rc = http_call("POST", url, headers, b, &r, 30000);
    free(b);
    if (rc != 0) {
        fprintf(stderr, "Request failed to %s: %s\n", url, uv_strerror(r.status));
        return 1;
    }
    json_t *j = json_loads(r.body, 0, NULL);
    const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
    printf("%s\n", msg ? msg : r.body);
    json_decref(j);
    free(r.body);
    return r.http_status == 200 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "RAFTGRES_CONFIG_FILE=", 21))
            config = *e + 21;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config-file")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "Error: Option '%s' requires an argument.\n", argv[i]);
                return 2;
            }
            config = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "Error: No such option: %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    if (!strcmp(cmd, "version")) {
        printf("raftgresctl version %s\n", RAFTGRES_VERSION);
        return 0;
    }
    const char *fmt = "pretty";
    const char *arg = NULL;
    bool extended = false;
    for (; i < argc; i++) {
        if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--format")) && i + 1 < argc) {
            fmt = argv[++i];
            if (strcmp(fmt, "pretty") && strcmp(fmt, "json")) {
                fprintf(stderr,
                        "Error: Invalid value for '-f': '%s' is not one of 'pretty', "
                        "'json'.\n",
                        fmt);
                return 2;
            }
        } else if (!strcmp(argv[i], "-e") || !strcmp(argv[i], "--extended")) {
            extended = true;
        } else if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "Error: No such option: %s\n", argv[i]);
            return 2;
        } else if (!arg) {
            arg = argv[i];
        } else {
            fprintf(stderr, "Error: Got unexpected extra argument (%s)\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(cmd, "list") && strcmp(cmd, "add-member")) {
        fprintf(stderr, "Error: No such command '%s'.\n", cmd);
        usage(stderr);
        return 2;
    }
    if (!config) {
        fprintf(stderr, "Error: no configuration file: give -c CONFIG (or RAFTGRES_CONFIG_FILE)\n");
        return 2;
    }
    struct ctl c;
    memset(&c, 0, sizeof(c));
    struct cfg_report rep;
    memset(&rep, 0, sizeof(rep));
    if (cfg_load(config, environ, &c.cfg, &rep) != 0) {
        cfg_report_print(&rep, stderr);
        cfg_report_free(&rep);
        return 2;
    }
    cfg_report_free(&rep);
    if (c.cfg->restapi.connect_address)
        snprintf(c.base_urls[c.n_urls++], sizeof(c.base_urls[0]), "http://%s",
                 c.cfg->restapi.connect_address);
    snprintf(c.base_urls[c.n_urls++], sizeof(c.base_urls[0]), "http://%s", c.cfg->restapi.listen);
    if (c.cfg->raft.password && c.cfg->raft.password[0])
        snprintf(c.headers, sizeof(c.headers), "X-Raftgres-Token: %s\r\n", c.cfg->raft.password);
    int rc;
    if (!strcmp(cmd, "list")) {
        rc = cmd_list(&c, fmt, extended);
    } else {
        if (!arg) {
            fprintf(stderr, "Error: Missing argument 'RAFT_ADDR'.\n");
            rc = 2;
        } else {
            rc = cmd_add_member(&c, arg);
        }
    }
    cfg_free(c.cfg);
    return rc;
}
