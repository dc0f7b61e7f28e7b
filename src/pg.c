/* pg: see pg.h. */
#include "src/pg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/config.h"
#include "src/log.h"
#include "src/pgq.h"
#include "src/proc.h"
#include "src/util.h"

#define READY_POLL_MS     100
#define STATUS_TIMEOUT_MS 5000

/* ---- small helpers ----------------------------------------------------------------- */

uint64_t pg_lsn_parse(const char *s)
{
    unsigned hi = 0, lo = 0;
    if (sscanf(s, "%X/%X", &hi, &lo) != 2)
        return 0;
    return ((uint64_t)hi << 32) | lo;
}

void pg_slot_name(const char *member, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = member; *p && n + 1 < outlen; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            c = '_';
        out[n++] = c;
    }
    out[n] = '\0';
}

void pg_conn_url(const struct pg *pg, char *out, size_t outlen)
{
    int v6 = strchr(pg->connect_host, ':') != NULL;
    snprintf(out, outlen, "postgres://%s%s%s:%d/postgres", v6 ? "[" : "", pg->connect_host,
             v6 ? "]" : "", pg->port);
}

int pg_source_from_url(const char *name, const char *url, struct pg_source *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    const char *p = strstr(url, "://");
    if (!p)
        return -1;
    p += 3;
    const char *at = strchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at && (!slash || at < slash))
        p = at + 1;
    char hp[300];
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof(hp))
        return -1;
    memcpy(hp, p, n);
    hp[n] = '\0';
    return cfg_parse_hostport(hp, out->host, sizeof(out->host), &out->port);
}

static int write_file(const char *path, const char *content, mode_t mode)
{
    char tmp[2100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(content);
    ssize_t w = write(fd, content, len);
    int rc = (w == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
    close(fd);
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc != 0)
        unlink(tmp);
    else
        chmod(path, mode);
    return rc;
}

static json_t *json_path(json_t *root, const char *a, const char *b)
{
    json_t *x = root ? json_object_get(root, a) : NULL;
    return b && x ? json_object_get(x, b) : x;
}

/* ---- init -------------------------------------------------------------------------- */

static void find_bin_dir(char *out, size_t outlen)
{
    glob_t g;
    snprintf(out, outlen, "/usr/lib/postgresql/15/bin");
    if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) == 0) {
        /* The highest major version installed. */
        int best = -1;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int v = atoi(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"));
            if (v > best) {
                best = v;
                snprintf(out, outlen, "%.*s", (int)(strlen(g.gl_pathv[i]) - strlen("/postgres")),
                         g.gl_pathv[i]);
            }
        }
        globfree(&g);
    }
}

static void append_escaped(char *out, size_t outlen, const char *s)
{
    size_t n = strlen(out);
    for (; *s && n + 2 < outlen; s++) {
        if (*s == ':' || *s == '\\')
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n] = '\0';
}

static int write_pgpass(struct pg *pg)
{
    const struct cfg *c = pg->cfg;
    char content[4096] = "";
    const struct cfg_auth *auths[] = {&c->postgresql.replication, &c->postgresql.superuser,
                                      &c->postgresql.rewind};
    for (size_t i = 0; i < 3; i++) {
        if (!auths[i]->username || !auths[i]->password)
            continue;
        strcat(content, "*:*:*:");
        append_escaped(content, sizeof(content), auths[i]->username);
        strcat(content, ":");
        append_escaped(content, sizeof(content), auths[i]->password);
        strcat(content, "\n");
    }
    return write_file(pg->pgpass, content, 0600);
}

int pg_init(struct pg *pg, uv_loop_t *loop, const struct cfg *cfg, char *err, size_t errlen)
{
    memset(pg, 0, sizeof(*pg));
    pg->loop = loop;
    pg->cfg = cfg;
    snprintf(pg->name, sizeof(pg->name), "%s", cfg->name);
    if (!cfg->postgresql.data_dir || !cfg->postgresql.listen) {
        snprintf(err, errlen,
                 "postgresql.data_dir and postgresql.listen are required to manage "
                 "PostgreSQL");
        return -1;
    }
    snprintf(pg->data_dir, sizeof(pg->data_dir), "%s", cfg->postgresql.data_dir);
    if (cfg->postgresql.bin_dir && cfg->postgresql.bin_dir[0])
        snprintf(pg->bin_dir, sizeof(pg->bin_dir), "%s", cfg->postgresql.bin_dir);
    else
        find_bin_dir(pg->bin_dir, sizeof(pg->bin_dir));
    /* listen: "host[,host...]:port", Patroni's format. */
    const char *colon = strrchr(cfg->postgresql.listen, ':');
    if (!colon || atoi(colon + 1) <= 0) {
        snprintf(err, errlen, "postgresql.listen '%s' is not host:port", cfg->postgresql.listen);
        return -1;
    }
    snprintf(pg->listen_addresses, sizeof(pg->listen_addresses), "%.*s",
             (int)(colon - cfg->postgresql.listen), cfg->postgresql.listen);
    pg->port = atoi(colon + 1);
    const char *ca =
        cfg->postgresql.connect_address ? cfg->postgresql.connect_address : cfg->postgresql.listen;
    int cport;
    if (cfg_parse_hostport(ca, pg->connect_host, sizeof(pg->connect_host), &cport) != 0) {
        snprintf(err, errlen, "postgresql.connect_address '%s' is not host:port", ca);
        return -1;
    }
    if (strchr(pg->connect_host, ',') || !strcmp(pg->connect_host, "0.0.0.0") ||
        !strcmp(pg->connect_host, "*"))
        snprintf(pg->connect_host, sizeof(pg->connect_host), "127.0.0.1");
    json_t *params = json_path(cfg->postgresql_json, "parameters", NULL);
    const char *sock = json_string_value(json_object_get(params, "unix_socket_directories"));
    if (sock) {
        snprintf(pg->socket_dir, sizeof(pg->socket_dir), "%s", sock);
        char *comma = strchr(pg->socket_dir, ',');
        if (comma)
            *comma = '\0';
    }
    char parent[1024];
    snprintf(parent, sizeof(parent), "%s", pg->data_dir);
    char *dir = dirname(parent);
    if (cfg->postgresql.pgpass)
        snprintf(pg->pgpass, sizeof(pg->pgpass), "%s", cfg->postgresql.pgpass);
    else
        snprintf(pg->pgpass, sizeof(pg->pgpass), "%s/pgpass.%s", dir, cfg->name);
    snprintf(pg->log_path, sizeof(pg->log_path), "%s/postgresql-%s.log",
             cfg->log.dir ? cfg->log.dir : dir, cfg->name);
    snprintf(pg->superuser, sizeof(pg->superuser), "%s",
             cfg->postgresql.superuser.username ? cfg->postgresql.superuser.username : "postgres");
    snprintf(pg->replication_user, sizeof(pg->replication_user), "%s",
             cfg->postgresql.replication.username ? cfg->postgresql.replication.username
                                                  : "replicator");
    /* Local control connection: the unix socket when use_unix_socket, else TCP to our own
     * connect address. The password comes from the pgpass file. */
    snprintf(pg->local_conninfo, sizeof(pg->local_conninfo),
             "host=%s port=%d user=%s dbname=postgres connect_timeout=3 passfile=%s "
             "application_name=raftgres",
             cfg->postgresql.use_unix_socket && pg->socket_dir[0] ? pg->socket_dir
                                                                  : pg->connect_host,
             pg->port, pg->superuser, pg->pgpass);
    if (util_mkdir_p(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (write_pgpass(pg) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", pg->pgpass, strerror(errno));
        return -1;
    }
    /* A postmaster left running by a previous raftgres (it survives the daemon, like
     * Patroni's): adopt it. */
    char pidfile[1100];
    snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", pg->data_dir);
    FILE *f = fopen(pidfile, "r");
    if (f) {
        int pid = 0;
        if (fscanf(f, "%d", &pid) == 1 && pid > 0 && kill(pid, 0) == 0) {
            pg->adopted_pid = pid;
            log_info("found a running postmaster (pid %d) on %s: adopting it", pid, pg->data_dir);
        }
        fclose(f);
    }
    return 0;
}

bool pg_data_exists(const struct pg *pg)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s/PG_VERSION", pg->data_dir);
    return access(p, F_OK) == 0;
}

bool pg_is_running(struct pg *pg)
{
    if (pg->postmaster)
        return true;
    if (pg->adopted_pid > 0) {
        if (kill(pg->adopted_pid, 0) == 0)
            return true;
        pg->adopted_pid = 0;
        if (!pg->stop_requested)
            pg->crashed = true;
    }
    return false;
}

int pg_postmaster_pid(struct pg *pg)
{
    if (!pg_is_running(pg))
        return 0;
    return pg->postmaster ? proc_pid(pg->postmaster) : pg->adopted_pid;
}

/* ---- operations --------------------------------------------------------------------- */

struct op {
    struct pg *pg;
    pg_done_cb cb;
    void *data;
    uv_timer_t timer;
    bool timer_on;
    uint64_t deadline_ms;
    int step;
    struct pg_source src;
    bool has_src;
    char msg[1024];
};

static struct op *op_new(struct pg *pg, pg_done_cb cb, void *data)
{
    struct op *o = calloc(1, sizeof(*o));
    o->pg = pg;
    o->cb = cb;
    o->data = data;
    return o;
}

static void op_free_timer(uv_handle_t *h)
{
    free(h->data);
}

static void op_done(struct op *o, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void op_done(struct op *o, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
    va_end(ap);
    if (o->cb)
        o->cb(o->data, ok, o->msg);
    if (o->timer_on) {
        uv_timer_stop(&o->timer);
        o->timer.data = o;
        uv_close((uv_handle_t *)&o->timer, op_free_timer);
    } else {
        free(o);
    }
}

static void op_later(struct op *o, unsigned ms, uv_timer_cb fn)
{
    if (!o->timer_on) {
        uv_timer_init(o->pg->loop, &o->timer);
        o->timer_on = true;
    }
    o->timer.data = o;
    uv_timer_start(&o->timer, fn, ms, 0);
}

static const char **child_env(struct pg *pg, char buf[][1200])
{
    static const char *env[8];
    snprintf(buf[0], 1200, "PGPASSFILE=%s", pg->pgpass);
    env[0] = "PATH=/usr/bin:/bin";
    env[1] = "LANG=C.UTF-8";
    env[2] = "LC_ALL=C.UTF-8";
    env[3] = buf[0];
    env[4] = "PGCONNECT_TIMEOUT=5";
    env[5] = NULL;
    return env;
}

static const char *last_line(const char *out, char *buf, size_t len)
{
    /* A line that says "error" or "FATAL" is the cause; the last line is only the
     * consequence ("removing contents of data directory"). */
    const char *hit = NULL;
    for (const char *p = out; (p = strstr(p, "error:")) != NULL; p++)
        hit = p;
    if (!hit)
        hit = strstr(out, "FATAL:");
    if (hit) {
        const char *b = hit;
        while (b > out && b[-1] != '\n')
            b--;
        size_t n = strcspn(b, "\n");
        snprintf(buf, len, "%.*s", (int)n, b);
        return buf;
    }
    /* The most telling line of a failed command's output: its last non-empty one. */
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        n--;
    size_t s = n;
    while (s && out[s - 1] != '\n')
        s--;
    snprintf(buf, len, "%.*s", (int)(n - s), out + s);
    return buf;
}

/* ---- initdb -------------------------------------------------------------------------- */

static void append_hba(struct pg *pg, json_t *lines)
{
    if (!json_is_array(lines) || json_array_size(lines) == 0)
        return;
    char path[1100];
    snprintf(path, sizeof(path), "%s/pg_hba.conf", pg->data_dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "\n# Added by raftgres from bootstrap.pg_hba\n");
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (json_is_string(l))
            fprintf(f, "%s\n", json_string_value(l));
    }
    fclose(f);
}

static void on_initdb(void *data, const struct proc_result *r)
{
    struct op *o = data;
    char line[512];
    if (o->pg->pwfile[0])
        unlink(o->pg->pwfile);
    if (r->exit_status != 0) {
        op_done(o, false, "initdb failed (exit %" PRId64 "): %s", r->exit_status,
                r->exit_status < 0 ? r->error : last_line(r->output, line, sizeof(line)));
        return;
    }
    append_hba(o->pg, json_path(o->pg->cfg->bootstrap_json, "pg_hba", NULL));
    op_done(o, true, "initialized a new cluster");
}

void pg_initdb(struct pg *pg, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    static char args[64][300];
    const char *argv[70];
    int n = 0;
    char prog[1100], dd[1100];
    snprintf(prog, sizeof(prog), "%s/initdb", pg->bin_dir);
    snprintf(dd, sizeof(dd), "--pgdata=%s", pg->data_dir);
    argv[n++] = prog;
    argv[n++] = dd;
    snprintf(args[0], sizeof(args[0]), "--username=%s", pg->superuser);
    argv[n++] = args[0];
    int a = 1;
    /* bootstrap.initdb: a list of switches ("data-checksums") and {key: value} maps
     * ({encoding: UTF8}), as Patroni takes them. */
    json_t *opts = json_path(pg->cfg->bootstrap_json, "initdb", NULL);
    size_t i;
    json_t *v;
    json_array_foreach(opts, i, v)
    {
        if (a >= 60)
            break;
        if (json_is_string(v)) {
            snprintf(args[a], sizeof(args[a]), "--%s", json_string_value(v));
            argv[n++] = args[a++];
        } else if (json_is_object(v)) {
            const char *k;
            json_t *x;
            json_object_foreach(v, k, x)
            {
                if (a >= 60)
                    break;
                char val[200];
                if (json_is_string(x))
                    snprintf(val, sizeof(val), "%s", json_string_value(x));
                else if (json_is_integer(x))
                    snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(x));
                else
                    continue;
                snprintf(args[a], sizeof(args[a]), "--%s=%s", k, val);
                argv[n++] = args[a++];
            }
        }
    }
    /* The superuser gets its password from initdb itself (--pwfile, as Patroni does), so
     * that password authentication works from the first connection on. */
    static char pwarg[1200];
    pg->pwfile[0] = '\0';
    if (pg->cfg->postgresql.superuser.password && n < 68) {
        char parent[1024];
        snprintf(parent, sizeof(parent), "%s", pg->data_dir);
        snprintf(pg->pwfile, sizeof(pg->pwfile), "%s.pwfile", parent);
        char content[600];
        snprintf(content, sizeof(content), "%s\n", pg->cfg->postgresql.superuser.password);
        if (write_file(pg->pwfile, content, 0600) == 0) {
            snprintf(pwarg, sizeof(pwarg), "--pwfile=%s", pg->pwfile);
            argv[n++] = pwarg;
        } else {
            pg->pwfile[0] = '\0';
        }
    }
    argv[n] = NULL;
    char cmd[2048];
    proc_argv_string(argv, cmd, sizeof(cmd));
    log_info("running %s", cmd);
    mkdir(pg->data_dir, 0700);
    char envbuf[1][1200];
    struct proc_opts po = {.argv = argv, .env = child_env(pg, envbuf), .timeout_ms = 300000};
    proc_spawn(pg->loop, &po, on_initdb, o);
}

/* ---- managed config ------------------------------------------------------------------- */

static void conf_value(json_t *v, char *out, size_t outlen)
{
    if (json_is_string(v)) {
        pgq_quote_literal(json_string_value(v), out, outlen);
    } else if (json_is_true(v)) {
        snprintf(out, outlen, "on");
    } else if (json_is_false(v)) {
        snprintf(out, outlen, "off");
    } else if (json_is_integer(v)) {
        snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(out, outlen, "%g", json_real_value(v));
    } else {
        out[0] = '\0';
    }
}

/* Parameters raftgres sets itself; a user value for them is ignored (Patroni does the
 * same for listen_addresses, port, hot_standby ...). */
static bool managed_param(const char *k)
{
    static const char *const m[] = {"listen_addresses",
                                    "port",
                                    "hot_standby",
                                    "primary_conninfo",
                                    "primary_slot_name",
                                    "synchronous_standby_names",
                                    "recovery_target_timeline",
                                    "config_file",
                                    "data_directory",
                                    NULL};
    for (int i = 0; m[i]; i++)
        if (!strcmp(k, m[i]))
            return true;
    return false;
}

static bool cluster_wide_param(const char *k)
{
    static const char *const w[] = {"max_connections",
                                    "max_locks_per_transaction",
                                    "max_worker_processes",
                                    "max_prepared_transactions",
                                    "wal_level",
                                    "track_commit_timestamp",
                                    "max_wal_senders",
                                    "max_replication_slots",
                                    "wal_log_hints",
                                    "wal_keep_size",
                                    NULL};
    for (int i = 0; w[i]; i++)
        if (!strcmp(k, w[i]))
            return true;
    return false;
}

static int write_config(struct pg *pg, const struct pg_source *src)
{
    char *buf = malloc(65536);
    if (!buf)
        return -1;
    size_t n = 0, cap = 65536;
#define OUT(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    OUT("# Managed by raftgres: rewritten at every start. Set parameters in raftgres.yml\n"
        "# (postgresql.parameters) or in the dynamic configuration instead.\n"
        "include_if_exists = 'postgresql.conf'\n\n");
    /* Dynamic parameters first, then the member's own: a later line wins. */
    json_t *layers[2] = {NULL, NULL};
    json_t *dyn = NULL;
    if (pg->dcs_parameters_json) {
        dyn = json_loads(pg->dcs_parameters_json, 0, NULL);
        layers[0] = json_path(json_path(dyn, "postgresql", NULL), "parameters", NULL);
    } else {
        layers[0] = json_path(json_path(pg->cfg->dcs_json, "postgresql", NULL), "parameters", NULL);
    }
    layers[1] = json_path(pg->cfg->postgresql_json, "parameters", NULL);
    bool have_wal_log_hints = false;
    for (int l = 0; l < 2; l++) {
        const char *k;
        json_t *v;
        json_object_foreach(layers[l], k, v)
        {
            if (managed_param(k))
                continue;
            /* Parameters that must be equal on every member come from the dynamic
             * configuration only (Patroni's rule): a local value is ignored. */
            if (l == 1 && cluster_wide_param(k) && json_object_get(layers[0], k))
                continue;
            char val[2048];
            conf_value(v, val, sizeof(val));
            if (!val[0])
                continue;
            if (!strcmp(k, "wal_log_hints"))
                have_wal_log_hints = true;
            OUT("%s = %s\n", k, val);
        }
    }
    json_decref(dyn);
    /* pg_rewind needs wal_log_hints (or data checksums). */
    if (pg->cfg->postgresql.use_pg_rewind && !have_wal_log_hints)
        OUT("wal_log_hints = on\n");
    char q[600];
    pgq_quote_literal(pg->listen_addresses, q, sizeof(q));
    OUT("\nlisten_addresses = %s\nport = %d\nhot_standby = on\n", q, pg->port);
    /* synchronous_mode: raftgres names the synchronous standbys (also on a standby about to
     * be promoted, so its first commit after promotion already waits for one). */
    pgq_quote_literal(pg->sync_names, q, sizeof(q));
    OUT("synchronous_standby_names = %s\n", q);
    if (src) {
        OUT("recovery_target_timeline = 'latest'\n");
        if (src->host[0]) {
            char conninfo[1400];
            snprintf(conninfo, sizeof(conninfo),
                     "host=%s port=%d user=%s passfile=%s application_name=%s "
                     "connect_timeout=3 keepalives=1 keepalives_idle=5 keepalives_interval=2 "
                     "keepalives_count=3",
                     src->host, src->port, pg->replication_user, pg->pgpass, pg->name);
            pgq_quote_literal(conninfo, q, sizeof(q));
            OUT("primary_conninfo = %s\n", q);
            json_t *dynj = pg->dcs_parameters_json ? json_loads(pg->dcs_parameters_json, 0, NULL)
                                                   : json_incref(pg->cfg->dcs_json);
            json_t *use = json_path(json_path(dynj, "postgresql", NULL), "use_slots", NULL);
            bool slots = !use || json_is_true(use);
            json_decref(dynj);
            if (slots) {
                char slot[FSM_NAME_MAX + 1];
                pg_slot_name(pg->name, slot, sizeof(slot));
                OUT("primary_slot_name = '%s'\n", slot);
            }
        }
    }
#undef OUT
    char path[1100];
    snprintf(path, sizeof(path), "%s/raftgres.conf", pg->data_dir);
    int rc = n < cap ? write_file(path, buf, 0600) : -1;
    free(buf);
    /* postgresql.pg_hba, when set, is the whole pg_hba.conf (Patroni). */
    json_t *hba = json_path(pg->cfg->postgresql_json, "pg_hba", NULL);
    if (rc == 0 && json_is_array(hba) && json_array_size(hba) > 0) {
        char content[16384] = "# Managed by raftgres from postgresql.pg_hba\n";
        size_t i;
        json_t *l;
        json_array_foreach(hba, i, l)
        {
            if (json_is_string(l) &&
                strlen(content) + strlen(json_string_value(l)) + 2 < sizeof(content)) {
                strcat(content, json_string_value(l));
                strcat(content, "\n");
            }
        }
        snprintf(path, sizeof(path), "%s/pg_hba.conf", pg->data_dir);
        rc = write_file(path, content, 0600);
    }
    /* standby.signal makes it a standby; its absence a primary. */
    char sig[1100];
    snprintf(sig, sizeof(sig), "%s/standby.signal", pg->data_dir);
    if (rc == 0) {
        if (src)
            rc = write_file(sig, "", 0600);
        else if (unlink(sig) != 0 && errno != ENOENT)
            rc = -1;
    }
    if (src) {
        snprintf(pg->st.following, sizeof(pg->st.following), "%s", src->name);
        pg->cur_src = *src;
        pg->standby = true;
    } else {
        pg->st.following[0] = '\0';
        pg->standby = false;
    }
    return rc;
}

/* ---- start / stop -------------------------------------------------------------------- */

static void on_postmaster_exit(void *data, const struct proc_result *r)
{
    struct pg *pg = data;
    pg->postmaster = NULL;
    if (pg->stop_requested) {
        log_info("postmaster exited (%s %d)", r->term_signal ? "signal" : "code",
                 r->term_signal ? r->term_signal : (int)r->exit_status);
    } else {
        pg->crashed = true;
        log_warning("postmaster exited unexpectedly (%s %d): postgres crashed or was killed",
                    r->term_signal ? "signal" : "code",
                    r->term_signal ? r->term_signal : (int)r->exit_status);
    }
    pg->st.state = pg->stop_requested ? PGS_STOPPED : PGS_CRASHED;
    pg->st.is_primary = false;
    pg->st.in_recovery = false;
    if (pg->on_event)
        pg->on_event(pg->event_data);
}

static void ready_poll(uv_timer_t *t);

static void on_ready_query(void *data, bool ok, const PGresult *res, const char *error)
{
    struct op *o = data;
    (void)res;
    if (ok) {
        o->pg->st.state = PGS_RUNNING;
        op_done(o, true, "postgres is accepting connections");
        return;
    }
    if (!pg_is_running(o->pg)) {
        o->pg->st.state = PGS_START_FAILED;
        op_done(o, false, "postgres exited during start-up (see %s)", o->pg->log_path);
        return;
    }
    /* "the database system is starting up" / in crash recovery: keep waiting. */
    if (uv_now(o->pg->loop) > o->deadline_ms) {
        op_done(o, false, "postgres did not accept connections within pg_ctl_timeout: %s", error);
        return;
    }
    op_later(o, READY_POLL_MS, ready_poll);
}

static void ready_poll(uv_timer_t *t)
{
    struct op *o = t->data;
    pgq_exec(o->pg->loop, o->pg->local_conninfo, "SELECT 1", 2000, on_ready_query, o);
}

void pg_start(struct pg *pg, const struct pg_source *src, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    if (pg_is_running(pg)) {
        op_done(o, false, "postgres is already running");
        return;
    }
    if (write_config(pg, src) != 0) {
        op_done(o, false, "cannot write the managed config in %s: %s", pg->data_dir,
                strerror(errno));
        return;
    }
    char prog[1100], conf[1200];
    snprintf(prog, sizeof(prog), "%s/postgres", pg->bin_dir);
    snprintf(conf, sizeof(conf), "config_file=%s/raftgres.conf", pg->data_dir);
    const char *argv[] = {prog, "-D", pg->data_dir, "-c", conf, NULL};
    char envbuf[1][1200];
    struct proc_opts po = {
        .argv = argv, .env = child_env(pg, envbuf), .log_path = pg->log_path, .detached = true};
    pg->stop_requested = false;
    pg->crashed = false;
    pg->st.state = PGS_STARTING;
    /* Forget what the previous run was: until the first status query, a server started as
     * a standby is a standby, and positions and timeline are unknown. */
    pg->st.is_primary = false;
    pg->st.in_recovery = src != NULL;
    pg->st.streaming = false;
    pg->st.timeline = 0;
    pg->st.write_lsn = pg->st.receive_lsn = pg->st.replay_lsn = 0;
    pg->postmaster = proc_spawn(pg->loop, &po, on_postmaster_exit, pg);
    log_info("starting postgres as a %s%s%s", src ? "standby" : "primary",
             src && src->host[0] ? " of " : "", src && src->host[0] ? src->name : "");
    o->deadline_ms = uv_now(pg->loop) + (uint64_t)(pg->cfg->postgresql.pg_ctl_timeout > 0
                                                       ? pg->cfg->postgresql.pg_ctl_timeout
                                                       : 60) *
                                            1000u;
    op_later(o, READY_POLL_MS, ready_poll);
}

static void stop_poll(uv_timer_t *t)
{
    struct op *o = t->data;
    if (!pg_is_running(o->pg)) {
        o->pg->st.state = PGS_STOPPED;
        op_done(o, true, "postgres stopped");
        return;
    }
    if (uv_now(o->pg->loop) > o->deadline_ms && o->step == 0) {
        /* Escalate: a fast shutdown that hangs becomes an immediate one. */
        o->step = 1;
        log_warning("postgres did not stop in time: sending an immediate shutdown");
        if (o->pg->postmaster)
            proc_signal(o->pg->postmaster, SIGQUIT);
        else if (o->pg->adopted_pid > 0)
            kill(o->pg->adopted_pid, SIGQUIT);
    }
    op_later(o, 50, stop_poll);
}

void pg_stop(struct pg *pg, const char *mode, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    if (!pg_is_running(pg)) {
        pg->st.state = PGS_STOPPED;
        op_done(o, true, "postgres is not running");
        return;
    }
    int sig = !strcmp(mode, "immediate") ? SIGQUIT : !strcmp(mode, "smart") ? SIGTERM : SIGINT;
    pg->stop_requested = true;
    pg->st.state = PGS_STOPPING;
    log_info("stopping postgres (%s)", mode);
    if (pg->postmaster)
        proc_signal(pg->postmaster, sig);
    else
        kill(pg->adopted_pid, sig);
    o->deadline_ms = uv_now(pg->loop) + (uint64_t)(pg->cfg->postgresql.pg_ctl_timeout > 0
                                                       ? pg->cfg->postgresql.pg_ctl_timeout
                                                       : 60) *
                                            1000u;
    op_later(o, 20, stop_poll);
}

/* ---- SQL operations ---------------------------------------------------------------------- */

static void on_sql(void *data, bool ok, const PGresult *res, const char *error)
{
    struct op *o = data;
    (void)res;
    op_done(o, ok, "%s", ok ? "ok" : error);
}

void pg_sql(struct pg *pg, const char *sql, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    pgq_exec(pg->loop, pg->local_conninfo, sql, 30000, on_sql, o);
}

static void on_rows(void *data, bool ok, const PGresult *res, const char *error)
{
    struct op *o = data;
    struct pg *pg = o->pg;
    pg->rows_n = 0;
    if (ok && res) {
        for (int r = 0; r < PQntuples(res) && pg->rows_n < 64; r++)
            snprintf(pg->rows[pg->rows_n++], sizeof(pg->rows[0]), "%s", PQgetvalue(res, r, 0));
    }
    op_done(o, ok, "%s", ok ? "ok" : error);
}

void pg_sql_rows(struct pg *pg, const char *sql, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    pgq_exec(pg->loop, pg->local_conninfo, sql, 10000, on_rows, o);
}

static void on_promote(void *data, bool ok, const PGresult *res, const char *error)
{
    struct op *o = data;
    if (!ok) {
        op_done(o, false, "promote failed: %s", error);
        return;
    }
    bool done = res && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
    op_done(o, done, "%s", done ? "promoted" : "pg_promote() did not finish in time");
}

void pg_promote(struct pg *pg, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    /* PostgreSQL removes standby.signal itself when it promotes. */
    pgq_exec(pg->loop, pg->local_conninfo, "SELECT pg_promote(true, 60)", 70000, on_promote, o);
}

void pg_follow(struct pg *pg, const struct pg_source *src, pg_done_cb cb, void *data)
{
    if (write_config(pg, src) != 0) {
        struct op *o = op_new(pg, cb, data);
        op_done(o, false, "cannot write the managed config: %s", strerror(errno));
        return;
    }
    pg_sql(pg, "SELECT pg_reload_conf()", cb, data);
}

void pg_reload(struct pg *pg, pg_done_cb cb, void *data)
{
    /* The managed file is rewritten with the current dynamic and local parameters, and
     * the role it was last written for (a promoted standby is a primary now). */
    bool standby = pg->standby && !(pg->st.state == PGS_RUNNING && pg->st.is_primary);
    if (write_config(pg, standby ? &pg->cur_src : NULL) != 0) {
        struct op *o = op_new(pg, cb, data);
        op_done(o, false, "cannot write the managed config: %s", strerror(errno));
        return;
    }
    pg_sql(pg, "SELECT pg_reload_conf()", cb, data);
}

static void on_status(void *data, bool ok, const PGresult *res, const char *error)
{
    struct op *o = data;
    struct pg_status *st = &o->pg->st;
    if (!ok || !res || PQntuples(res) != 1) {
        op_done(o, false, "status query failed: %s", ok ? "no row" : error);
        return;
    }
    st->state = PGS_RUNNING;
    st->in_recovery = !strcmp(PQgetvalue(res, 0, 0), "t");
    st->is_primary = !st->in_recovery;
    st->write_lsn = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    st->receive_lsn = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
    st->replay_lsn = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
    st->timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 4), NULL, 10);
    st->streaming = !strcmp(PQgetvalue(res, 0, 5), "t");
    st->replay_paused = !strcmp(PQgetvalue(res, 0, 6), "t");
    st->server_version = atoi(PQgetvalue(res, 0, 7));
    snprintf(st->sysid, sizeof(st->sysid), "%s", PQgetvalue(res, 0, 8));
    st->postmaster_start_time_ms = strtoll(PQgetvalue(res, 0, 9), NULL, 10);
    st->pending_restart = !strcmp(PQgetvalue(res, 0, 10), "t");
    op_done(o, true, "ok");
}

void pg_query_status(struct pg *pg, pg_done_cb cb, void *data)
{
    static const char *sql =
        "SELECT r, "
        "CASE WHEN r THEN 0 ELSE pg_current_wal_lsn() - '0/0' END::bigint, "
        "COALESCE(pg_last_wal_receive_lsn() - '0/0', 0)::bigint, "
        "COALESCE(pg_last_wal_replay_lsn() - '0/0', 0)::bigint, "
        "CASE WHEN r THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver), "
        "  (pg_control_checkpoint()).timeline_id) "
        "  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, "
        "COALESCE((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false), "
        "CASE WHEN r THEN pg_is_wal_replay_paused() ELSE false END, "
        "current_setting('server_version_num')::int, "
        "(SELECT system_identifier FROM pg_control_system())::text, "
        "(extract(epoch FROM pg_postmaster_start_time()) * 1000)::bigint, "
        "(SELECT count(*) > 0 FROM pg_settings WHERE pending_restart) "
        "FROM pg_is_in_recovery() r";
    struct op *o = op_new(pg, cb, data);
    pgq_exec(pg->loop, pg->local_conninfo, sql, STATUS_TIMEOUT_MS, on_status, o);
}

/* ---- pg_controldata -------------------------------------------------------------------- */

static const char *field(const char *out, const char *name, char *buf, size_t len)
{
    const char *p = strstr(out, name);
    buf[0] = '\0';
    if (!p)
        return buf;
    p = strchr(p, ':');
    if (!p)
        return buf;
    p++;
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\n");
    snprintf(buf, len, "%.*s", (int)n, p);
    return buf;
}

static void on_controldata(void *data, const struct proc_result *r)
{
    struct op *o = data;
    struct pg_control *c = &o->pg->control;
    memset(c, 0, sizeof(*c));
    char buf[128];
    if (r->exit_status != 0) {
        op_done(o, false, "pg_controldata failed: %s", last_line(r->output, buf, sizeof(buf)));
        return;
    }
    c->ok = true;
    snprintf(c->state, sizeof(c->state), "%s",
             field(r->output, "Database cluster state", buf, sizeof(buf)));
    snprintf(c->sysid, sizeof(c->sysid), "%s",
             field(r->output, "Database system identifier", buf, sizeof(buf)));
    c->timeline =
        (uint32_t)atoi(field(r->output, "Latest checkpoint's TimeLineID", buf, sizeof(buf)));
    c->checkpoint_lsn =
        pg_lsn_parse(field(r->output, "Latest checkpoint location", buf, sizeof(buf)));
    c->min_recovery_lsn =
        pg_lsn_parse(field(r->output, "Minimum recovery ending location", buf, sizeof(buf)));
    c->min_recovery_tli =
        (uint32_t)atoi(field(r->output, "Min recovery ending loc's timeline", buf, sizeof(buf)));
    op_done(o, true, "ok");
}

void pg_read_control(struct pg *pg, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    char prog[1100];
    snprintf(prog, sizeof(prog), "%s/pg_controldata", pg->bin_dir);
    const char *argv[] = {prog, "-D", pg->data_dir, NULL};
    char envbuf[1][1200];
    struct proc_opts po = {.argv = argv, .env = child_env(pg, envbuf), .timeout_ms = 30000};
    proc_spawn(pg->loop, &po, on_controldata, o);
}

/* ---- basebackup, rewind, single-user recovery ------------------------------------------- */

static void on_basebackup(void *data, const struct proc_result *r)
{
    struct op *o = data;
    char line[512];
    if (r->exit_status != 0) {
        op_done(o, false, "pg_basebackup from %s failed: %s", o->src.name,
                r->exit_status < 0 ? r->error : last_line(r->output, line, sizeof(line)));
        return;
    }
    op_done(o, true, "cloned from %s", o->src.name);
}

void pg_basebackup(struct pg *pg, const struct pg_source *src, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    o->src = *src;
    char prog[1100], conn[1400], dd[1100];
    snprintf(prog, sizeof(prog), "%s/pg_basebackup", pg->bin_dir);
    snprintf(dd, sizeof(dd), "--pgdata=%s", pg->data_dir);
    snprintf(conn, sizeof(conn), "--dbname=host=%s port=%d user=%s application_name=%s", src->host,
             src->port, pg->replication_user, pg->name);
    const char *argv[] = {prog, dd,  "--wal-method=stream", "--checkpoint=fast", "--no-password",
                          conn, NULL};
    char cmd[2048];
    proc_argv_string(argv, cmd, sizeof(cmd));
    log_info("trying to bootstrap from leader '%s': %s", src->name, cmd);
    mkdir(pg->data_dir, 0700);
    chmod(pg->data_dir, 0700);
    char envbuf[1][1200];
    struct proc_opts po = {.argv = argv, .env = child_env(pg, envbuf)};
    pg->st.state = PGS_BASEBACKUP;
    proc_spawn(pg->loop, &po, on_basebackup, o);
}

static void on_rewind(void *data, const struct proc_result *r)
{
    struct op *o = data;
    char line[512];
    if (r->exit_status != 0) {
        op_done(o, false, "pg_rewind from %s failed: %s", o->src.name,
                r->exit_status < 0 ? r->error : last_line(r->output, line, sizeof(line)));
        return;
    }
    /* pg_rewind's own verdict ("Done!" or "no rewind required") is worth a log line. */
    op_done(o, true, "pg_rewind from %s: %s", o->src.name,
            last_line(r->output, line, sizeof(line)));
}

void pg_rewind(struct pg *pg, const struct pg_source *src, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    o->src = *src;
    const struct cfg_auth *a = pg->cfg->postgresql.rewind.username ? &pg->cfg->postgresql.rewind
                                                                   : &pg->cfg->postgresql.superuser;
    char prog[1100], conn[1400], dd[1100];
    snprintf(prog, sizeof(prog), "%s/pg_rewind", pg->bin_dir);
    snprintf(dd, sizeof(dd), "--target-pgdata=%s", pg->data_dir);
    snprintf(conn, sizeof(conn), "--source-server=host=%s port=%d user=%s dbname=postgres",
             src->host, src->port, a->username ? a->username : pg->superuser);
    const char *argv[] = {prog, dd, conn, NULL};
    char cmd[2048];
    proc_argv_string(argv, cmd, sizeof(cmd));
    log_info("running pg_rewind from %s: %s", src->name, cmd);
    char envbuf[1][1200];
    struct proc_opts po = {.argv = argv, .env = child_env(pg, envbuf)};
    pg->st.state = PGS_REWINDING;
    proc_spawn(pg->loop, &po, on_rewind, o);
}

static void on_single(void *data, const struct proc_result *r)
{
    struct op *o = data;
    char line[512];
    op_done(o, r->exit_status == 0, "%s",
            r->exit_status == 0 ? "crash recovery done" : last_line(r->output, line, sizeof(line)));
}

void pg_single_user_recovery(struct pg *pg, pg_done_cb cb, void *data)
{
    struct op *o = op_new(pg, cb, data);
    char prog[1100], conf[1200];
    /* A primary that crashed must finish crash recovery before pg_rewind accepts it:
     * run it in single-user mode, which exits at once after recovery (stdin is empty). */
    write_config(pg, NULL);
    snprintf(prog, sizeof(prog), "%s/postgres", pg->bin_dir);
    snprintf(conf, sizeof(conf), "config_file=%s/raftgres.conf", pg->data_dir);
    const char *argv[] = {prog, "--single",         "-D",       pg->data_dir, "-c", conf,
                          "-c", "archive_mode=off", "postgres", NULL};
    char envbuf[1][1200];
    struct proc_opts po = {.argv = argv, .env = child_env(pg, envbuf), .timeout_ms = 300000};
    log_info("running crash recovery in single-user mode before pg_rewind");
    proc_spawn(pg->loop, &po, on_single, o);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level == 0)
        return 0;
    return remove(path);
}

int pg_remove_data(struct pg *pg, char *err, size_t errlen)
{
    if (pg_is_running(pg)) {
        snprintf(err, errlen, "postgres is running");
        return -1;
    }
    log_info("removing data directory: %s", pg->data_dir);
    if (nftw(pg->data_dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s: %s", pg->data_dir, strerror(errno));
        return -1;
    }
    return 0;
}
