/* ctl_cmds: the commands, each as patronictl 3.0 runs it: the same order of questions, the
 * same words, the same requests to the members' REST APIs. Where raftgresctl differs on
 * purpose it is said at the spot: interactive answers that patronictl would reject with an
 * error are asked again (a bounded number of times), and a refused or failed request
 * exits 1. */
#include <errno.h>
#include <math.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "src/ctl.h"

#define CTL_ACTION_TIMEOUT_MS 90000 /* switchover, restart: the member answers when done */
#define CTL_SHORT_TIMEOUT_MS  10000
#define CTL_ASK_TRIES         5 /* wrong answers to one question before giving up */
#define CTL_REINIT_WAIT_S     3600
#define CTL_MAX_NAMES         128

static bool flag(struct ctl_args *a, int id)
{
    return a->val[id] != NULL;
}

static enum ctl_fmt fmt_of(struct ctl_args *a)
{
    enum ctl_fmt f = FMT_PRETTY;
    if (a->val[O_FORMAT])
        ctl_parse_fmt(a->val[O_FORMAT], &f);
    return f;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

static void next_hour(char *buf, size_t len)
{
    time_t t = time(NULL) + 3600;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M", &tm);
}

/* Python's str() of a list of names: "['node1', 'node3']". */
static void py_list(const char **names, int n, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s'%s'", i ? ", " : "", names[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_true_tag(json_t *tags, const char *key)
{
    json_t *v = json_object_get(tags, key);
    if (json_is_true(v))
        return true;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on");
    }
    return json_is_integer(v) && json_integer_value(v) != 0;
}

/* Send one request to each base in turn until one answers (a transport error moves on to
 * the next). Returns the index that answered, or -1 (r holds the last error). */
static int request_first(struct ctl *c, char bases[][300], const char **names, int n,
                         const char *method, const char *path, json_t *body, unsigned timeout_ms,
                         struct ctl_reply *r)
{
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < n; i++) {
        ctl_reply_free(r);
        if (ctl_request(c, method, bases[i], path, body, timeout_ms, r) == 0)
            return i;
        fprintf(stderr, "Member %s is not accessible: %s%s: %s\n", names[i], bases[i], path,
                uv_strerror(r->status));
    }
    return -1;
}

static int member_request(struct ctl *c, json_t *m, const char *method, const char *path,
                          json_t *body, unsigned timeout_ms, struct ctl_reply *r)
{
    char base[300];
    memset(r, 0, sizeof(*r));
    if (!ctl_member_base(m, base, sizeof(base))) {
        r->status = UV_EADDRNOTAVAIL;
        return r->status;
    }
    return ctl_request(c, method, base, path, body, timeout_ms, r);
}

static const char *mname(json_t *m)
{
    const char *n = json_string_value(json_object_get(m, "name"));
    return n ? n : "(unregistered)";
}

/* ---- list, topology -------------------------------------------------------------------- */

static int list_loop(struct ctl *c, struct ctl_args *a, enum ctl_fmt fmt)
{
    for (int i = 0; i < a->n_pos; i++)
        if (ctl_check_scope(c, a->pos[i]))
            return 1;
    double watch = a->val[O_WATCH] ? atof(a->val[O_WATCH]) : 0;
    if (flag(a, O_WATCH_W) && !watch)
        watch = 2;
    bool tty = isatty(1);
    for (;;) {
        if (watch > 0 && tty)
            fputs("\033[2J\033[1;1H", stdout); /* click.clear() */
        if (flag(a, O_TIMESTAMP)) {
            char ts[64];
            ctl_timestamp(ts, sizeof(ts), 0);
            printf("%s\n", ts);
        }
        json_t *cl = ctl_cluster(c);
        if (!cl)
            return 1;
        ctl_output_members(c, cl, flag(a, O_EXTENDED), fmt);
        json_decref(cl);
        fflush(stdout);
        if (watch <= 0)
            return 0;
        sleep_s(watch);
    }
}

int ctl_cmd_list(struct ctl *c, struct ctl_args *a)
{
    return list_loop(c, a, fmt_of(a));
}

int ctl_cmd_topology(struct ctl *c, struct ctl_args *a)
{
    return list_loop(c, a, FMT_TOPOLOGY);
}

/* ---- switchover, failover ------------------------------------------------------------------ */

static int do_failover_or_switchover(struct ctl *c, struct ctl_args *a, const char *action)
{
    if (ctl_check_scope(c, a->n_pos ? a->pos[0] : NULL))
        return 1;
    const char *scope = c->cfg->scope;
    bool force = flag(a, O_FORCE);
    bool sw = !strcmp(action, "switchover");
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    int rc = 1;
    char *leader = NULL, *candidate = NULL, *sched_answer = NULL;
    const char *holder = ctl_leader(cl);
    if (sw && !holder) {
        ctl_fail("This cluster has no leader");
        goto out;
    }
    if (a->val[O_LEADER]) {
        leader = strdup(a->val[O_LEADER]);
        if (holder && strcmp(leader, holder)) {
            ctl_fail("Member %s is not the leader of cluster %s", leader, scope);
            goto out;
        }
    } else if (force || !sw) {
        leader = holder ? strdup(holder) : NULL;
    } else {
        /* Asked again on a wrong name (patronictl stops with the same error). */
        for (int t = 0;; t++) {
            leader = ctl_prompt("Primary", holder);
            if (!strcmp(leader, holder))
                break;
            ctl_fail("Member %s is not the leader of cluster %s", leader, scope);
            free(leader);
            leader = NULL;
            if (t + 1 >= CTL_ASK_TRIES)
                goto out;
        }
    }

    /* Candidates: everyone but the leader and members tagged nofailover, sorted. */
    const char *cands[CTL_MAX_NAMES];
    int ncand = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cl, "members"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (!n || (leader && !strcmp(n, leader)) ||
            is_true_tag(json_object_get(m, "tags"), "nofailover") || ncand >= CTL_MAX_NAMES)
            continue;
        cands[ncand++] = n;
    }
    qsort(cands, (size_t)ncand, sizeof(cands[0]), cmp_cstr);
    if (ncand == 0) {
        ctl_fail("No candidates found to %s to", action);
        goto out;
    }
    char title[40];
    snprintf(title, sizeof(title), "%s", action);
    title[0] = (char)(title[0] - 'a' + 'A');
    bool ask = !a->val[O_CANDIDATE] && !force;
    for (int t = 0;; t++) {
        free(candidate);
        if (ask) {
            char q[2048] = "Candidate ";
            py_list(cands, ncand, q + strlen(q), sizeof(q) - strlen(q));
            candidate = ctl_prompt(q, "");
        } else {
            candidate = a->val[O_CANDIDATE] ? strdup(a->val[O_CANDIDATE]) : strdup("");
        }
        bool known = false;
        for (int k = 0; k < ncand; k++)
            known = known || !strcmp(cands[k], candidate);
        if (!sw && !candidate[0])
            ctl_fail("Failover could be performed only to a specific candidate");
        else if (leader && !strcmp(candidate, leader))
            ctl_fail("%s target and source are the same.", title);
        else if (candidate[0] && !known)
            ctl_fail("Member %s does not exist in cluster %s", candidate, scope);
        else
            break;
        if (!ask || t + 1 >= CTL_ASK_TRIES)
            goto out;
    }

    char iso[80] = "";
    bool now = true;
    if (sw) {
        bool ask_when = !a->val[O_SCHEDULED] && !force;
        for (int t = 0;; t++) {
            free(sched_answer);
            if (ask_when) {
                char nh[32], q[128];
                next_hour(nh, sizeof(nh));
                snprintf(q, sizeof(q), "When should the switchover take place (e.g. %s ) ", nh);
                sched_answer = ctl_prompt(q, "now");
            } else {
                sched_answer = strdup(a->val[O_SCHEDULED] ? a->val[O_SCHEDULED] : "now");
            }
            if (ctl_parse_scheduled(sched_answer, &now, iso, sizeof(iso)) == 0)
                break;
            ctl_fail("Unable to parse scheduled timestamp (%s). It should be in an unambiguous "
                     "format (e.g. ISO 8601)",
                     sched_answer);
            if (!ask_when || t + 1 >= CTL_ASK_TRIES)
                goto out;
        }
        if (!now && json_is_true(json_object_get(cl, "pause"))) {
            ctl_fail("Can't schedule switchover in the paused state");
            goto out;
        }
    }

    /* The walkthrough's order: the questions, then the topology, then the confirmation. */
    printf("Current cluster topology\n");
    ctl_output_members(c, cl, false, FMT_PRETTY);
    if (!force) {
        char q[1024], demote[300] = "";
        if (leader)
            snprintf(demote, sizeof(demote), ", demoting current primary %s", leader);
        if (!now)
            snprintf(q, sizeof(q), "Are you sure you want to schedule %s of cluster %s at %s%s?",
                     action, scope, iso, demote);
        else
            snprintf(q, sizeof(q), "Are you sure you want to %s cluster %s%s?", action, scope,
                     demote);
        if (!ctl_confirm(q, false)) {
            ctl_fail("Aborting %s%s", now ? "" : "scheduled ", action);
            goto out;
        }
    }

    json_t *body = json_object();
    if (leader)
        json_object_set_new(body, "leader", json_string(leader));
    if (candidate[0])
        json_object_set_new(body, "candidate", json_string(candidate));
    if (!now)
        json_object_set_new(body, "scheduled_at", json_string(iso));
    /* To the leader (or, without one, the candidate); others only if it cannot be reached. */
    char bases[CTL_MAX_NAMES][300];
    const char *names[CTL_MAX_NAMES];
    int nb = 0;
    json_t *target = leader ? ctl_member(cl, leader) : ctl_member(cl, candidate);
    if (target && ctl_member_base(target, bases[0], sizeof(bases[0])))
        names[nb++] = mname(target);
    char more[CTL_MAX_NAMES][300];
    const char *mnames[CTL_MAX_NAMES];
    int nm = ctl_bases_leader_first(cl, more, mnames, CTL_MAX_NAMES);
    for (int k = 0; k < nm && nb < CTL_MAX_NAMES; k++) {
        if (nb && !strcmp(more[k], bases[0]))
            continue;
        memcpy(bases[nb], more[k], sizeof(bases[0]));
        names[nb++] = mnames[k];
    }
    struct ctl_reply r;
    int who = request_first(c, bases, names, nb, "POST", sw ? "/switchover" : "/failover", body,
                            CTL_ACTION_TIMEOUT_MS, &r);
    json_decref(body);
    if (who < 0) {
        char ts[64];
        ctl_timestamp(ts, sizeof(ts), 6);
        printf("%s Could not %s using the REST API of any member\n", ts, action);
        ctl_reply_free(&r);
        goto out;
    }
    if (r.http_status == 200 || r.http_status == 202) {
        char ts[64];
        ctl_timestamp(ts, sizeof(ts), 6);
        printf("%s %s\n", ts, ctl_reply_text(&r));
        rc = 0;
    } else {
        printf("%s failed, details: %d, %s\n", title, r.http_status, ctl_reply_text(&r));
        ctl_reply_free(&r);
        goto out;
    }
    ctl_reply_free(&r);
    json_decref(cl);
    cl = ctl_cluster(c);
    if (cl)
        ctl_output_members(c, cl, false, FMT_PRETTY);
out:
    free(leader);
    free(candidate);
    free(sched_answer);
    json_decref(cl);
    return rc;
}

int ctl_cmd_switchover(struct ctl *c, struct ctl_args *a)
{
    return do_failover_or_switchover(c, a, "switchover");
}

int ctl_cmd_failover(struct ctl *c, struct ctl_args *a)
{
    /* patronictl: failover with --leader is a switchover. */
    return do_failover_or_switchover(c, a, a->val[O_LEADER] ? "switchover" : "failover");
}

/* ---- member selection (patronictl's get_members) ------------------------------------------ */

struct members {
    json_t *m[CTL_MAX_NAMES];
    int n;
};

static void members_with_role(json_t *cl, const char *role, struct members *out)
{
    out->n = 0;
    const char *holder = ctl_leader(cl);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cl, "members"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (!n || out->n >= CTL_MAX_NAMES)
            continue;
        bool is_leader = holder && !strcmp(n, holder);
        const char *r = json_string_value(json_object_get(m, "role"));
        bool standby_leader = r && !strcmp(r, "standby_leader");
        bool take;
        if (!strcmp(role, "any"))
            take = true;
        else if (!strcmp(role, "replica") || !strcmp(role, "standby"))
            take = !is_leader;
        else if (!strcmp(role, "leader"))
            take = is_leader;
        else if (!strcmp(role, "standby-leader"))
            take = is_leader && standby_leader;
        else /* primary, master */
            take = is_leader && !standby_leader;
        if (take)
            out->m[out->n++] = m;
    }
    /* sorted by name for a stable order in questions and output */
    for (int a = 1; a < out->n; a++)
        for (int b = a; b > 0 && strcmp(mname(out->m[b - 1]), mname(out->m[b])) > 0; b--) {
            json_t *t = out->m[b];
            out->m[b] = out->m[b - 1];
            out->m[b - 1] = t;
        }
}

static void join_names(struct members *ms, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < ms->n; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", i ? ", " : "", mname(ms->m[i]));
    }
}

/* The member names given after an optional CLUSTER_NAME (patronictl requires the cluster
 * name for these commands; raftgresctl also accepts the member names alone). */
static int split_cluster_and_members(struct ctl *c, struct ctl_args *a, int first, int end,
                                     const char **names, int *n)
{
    *n = 0;
    int i = first;
    if (i < end && !strcmp(a->pos[i], c->cfg->scope))
        i++;
    for (; i < end; i++)
        names[(*n)++] = a->pos[i];
    return 0;
}

static int confirm_members_action(struct members *ms, bool force, const char *action,
                                  const char *scheduled_at)
{
    if (force)
        return 0;
    char list[4096], q[4400];
    join_names(ms, list, sizeof(list));
    if (scheduled_at) {
        snprintf(q, sizeof(q), "Are you sure you want to schedule %s of members %s at %s?", action,
                 list, scheduled_at);
        if (!ctl_confirm(q, false))
            return ctl_fail("Aborted scheduled %s", action);
    } else {
        snprintf(q, sizeof(q), "Are you sure you want to %s members %s?", action, list);
        if (!ctl_confirm(q, false))
            return ctl_fail("Aborted %s", action);
    }
    return 0;
}

static int get_members(struct ctl *c, json_t *cl, const char **names, int n, const char *role,
                       bool force, const char *action, bool ask_confirmation, struct members *out)
{
    struct members cands;
    members_with_role(cl, role, &cands);
    /* patronictl prints the table whenever a role is set, and the role always is. */
    if (!n && !cands.n)
        return ctl_fail("%s cluster doesn't have any members", c->cfg->scope);
    ctl_output_members(c, cl, false, FMT_PRETTY);
    out->n = 0;
    if (n) {
        for (int i = 0; i < cands.n; i++)
            for (int k = 0; k < n; k++)
                if (!strcmp(names[k], mname(cands.m[i]))) {
                    out->m[out->n++] = cands.m[i];
                    break;
                }
        if (!out->n)
            return ctl_fail("No %s among provided members", role);
    } else if (strcmp(action, "reinitialize")) {
        *out = cands;
    }
    if (!out->n && !force) {
        char list[4096], q[4200];
        join_names(&cands, list, sizeof(list));
        snprintf(q, sizeof(q), "Which member do you want to %s [%s]?", action, list);
        for (int t = 0;; t++) {
            char *ans = ctl_prompt(q, "");
            for (int i = 0; i < cands.n; i++)
                if (!strcmp(ans, mname(cands.m[i])))
                    out->m[out->n++] = cands.m[i];
            if (out->n) {
                free(ans);
                break;
            }
            ctl_fail("%s is not a member of cluster", ans);
            free(ans);
            if (t + 1 >= CTL_ASK_TRIES)
                return 1;
        }
    }
    if (!out->n)
        return ctl_fail("No %s among provided members", role);
    if (ask_confirmation)
        return confirm_members_action(out, force, action, NULL);
    return 0;
}

/* patronictl's check_response(). */
static bool check_response(struct ctl_reply *r, const char *member, const char *action,
                           bool silent_success)
{
    if (r->status != 0) {
        printf("Failed: %s for member %s, (%s)\n", action, member, uv_strerror(r->status));
        return false;
    }
    if (r->http_status >= 400) {
        printf("Failed: %s for member %s, status code=%d, (%s)\n", action, member, r->http_status,
               ctl_reply_text(r));
        return false;
    }
    if (!silent_success)
        printf("Success: %s for member %s\n", action, member);
    return true;
}

static json_t *dynamic_config(struct ctl *c)
{
    return ctl_get(c, "/config");
}

/* ---- restart, reload, reinit, flush ------------------------------------------------------- */

static bool valid_pg_version(const char *v)
{
    /* postgres_version_to_int: 2 or 3 numeric components (9.6.24, 15.4, 10.0). */
    int parts = 0;
    const char *p = v;
    while (*p) {
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
        parts++;
        if (*p == '.')
            p++;
        else if (*p)
            return false;
    }
    return parts == 2 || parts == 3;
}

int ctl_cmd_restart(struct ctl *c, struct ctl_args *a)
{
    const char *names[CTL_MAX_POS];
    int n;
    split_cluster_and_members(c, a, 0, a->n_pos, names, &n);
    bool force = flag(a, O_FORCE);
    const char *role = a->val[O_ROLE] ? a->val[O_ROLE] : "any";
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    int rc = 1;
    char *sched = NULL, *version = NULL;
    struct members ms;
    if (get_members(c, cl, names, n, role, force, "restart", false, &ms))
        goto out;
    char iso[80];
    bool now = true;
    for (int t = 0;; t++) {
        free(sched);
        if (!a->val[O_SCHEDULED] && !force) {
            char nh[32], q[128];
            next_hour(nh, sizeof(nh));
            snprintf(q, sizeof(q), "When should the restart take place (e.g. %s) ", nh);
            sched = ctl_prompt(q, "now");
        } else {
            sched = strdup(a->val[O_SCHEDULED] ? a->val[O_SCHEDULED] : "now");
        }
        if (ctl_parse_scheduled(sched, &now, iso, sizeof(iso)) == 0)
            break;
        ctl_fail("Unable to parse scheduled timestamp (%s). It should be in an unambiguous "
                 "format (e.g. ISO 8601)",
                 sched);
        if (a->val[O_SCHEDULED] || force || t + 1 >= CTL_ASK_TRIES)
            goto out;
    }
    if (confirm_members_action(&ms, force, "restart", now ? NULL : iso))
        goto out;
    if (flag(a, O_ANY) && ms.n > 1) {
        srand((unsigned)time(NULL) ^ (unsigned)getpid());
        ms.m[0] = ms.m[rand() % ms.n];
        ms.n = 1;
    }
    if (a->val[O_PG_VERSION])
        version = strdup(a->val[O_PG_VERSION]);
    else if (!force)
        version = ctl_prompt("Restart if the PostgreSQL version is less than provided (e.g. "
                             "9.5.2) ",
                             "");
    json_t *content = json_object();
    if (flag(a, O_PENDING))
        json_object_set_new(content, "restart_pending", json_true());
    if (version && version[0]) {
        if (!valid_pg_version(version)) {
            json_decref(content);
            ctl_fail("%s is not a valid PostgreSQL version", version);
            goto out;
        }
        json_object_set_new(content, "postgres_version", json_string(version));
    }
    if (!now) {
        if (json_is_true(json_object_get(cl, "pause"))) {
            json_decref(content);
            ctl_fail("Can't schedule restart in the paused state");
            goto out;
        }
        json_object_set_new(content, "schedule", json_string(iso));
    }
    if (a->val[O_TIMEOUT])
        json_object_set_new(content, "timeout", json_string(a->val[O_TIMEOUT]));
    /* --role only selects the members here, as in patronictl; it is not sent. */
    rc = 0;
    for (int i = 0; i < ms.n; i++) {
        const char *nm = mname(ms.m[i]);
        struct ctl_reply r;
        if (!now && force && json_object_get(ms.m[i], "scheduled_restart")) {
            member_request(c, ms.m[i], "DELETE", "/restart", NULL, CTL_SHORT_TIMEOUT_MS, &r);
            check_response(&r, nm, "flush scheduled restart", true);
            ctl_reply_free(&r);
        }
        member_request(c, ms.m[i], "POST", "/restart", content, CTL_ACTION_TIMEOUT_MS, &r);
        if (r.status == 0 && r.http_status == 200) {
            printf("Success: restart on member %s\n", nm);
        } else if (r.status == 0 && r.http_status == 202) {
            printf("Success: restart scheduled on member %s\n", nm);
        } else if (r.status == 0 && r.http_status == 409) {
            printf("Failed: another restart is already scheduled on member %s\n", nm);
            rc = 1;
        } else {
            if (r.status)
                printf("Failed: restart for member %s, (%s)\n", nm, uv_strerror(r.status));
            else
                printf("Failed: restart for member %s, status code=%d, (%s)\n", nm, r.http_status,
                       ctl_reply_text(&r));
            rc = 1;
        }
        ctl_reply_free(&r);
    }
    json_decref(content);
out:
    free(sched);
    free(version);
    json_decref(cl);
    return rc;
}

int ctl_cmd_reload(struct ctl *c, struct ctl_args *a)
{
    const char *names[CTL_MAX_POS];
    int n;
    split_cluster_and_members(c, a, 0, a->n_pos, names, &n);
    const char *role = a->val[O_ROLE] ? a->val[O_ROLE] : "any";
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    struct members ms;
    int rc = get_members(c, cl, names, n, role, flag(a, O_FORCE), "reload", true, &ms);
    if (rc) {
        json_decref(cl);
        return rc;
    }
    json_t *conf = dynamic_config(c);
    json_t *lw = json_object_get(conf, "loop_wait");
    char loop_wait[32];
    if (json_is_integer(lw))
        snprintf(loop_wait, sizeof(loop_wait), "%lld", (long long)json_integer_value(lw));
    else
        snprintf(loop_wait, sizeof(loop_wait), "%d", c->cfg->dcs.loop_wait);
    json_decref(conf);
    for (int i = 0; i < ms.n; i++) {
        struct ctl_reply r;
        const char *nm = mname(ms.m[i]);
        member_request(c, ms.m[i], "POST", "/reload", NULL, CTL_SHORT_TIMEOUT_MS, &r);
        if (r.status == 0 && r.http_status == 200) {
            printf("No changes to apply on member %s\n", nm);
        } else if (r.status == 0 && r.http_status == 202) {
            printf("Reload request received for member %s and will be processed within %s "
                   "seconds\n",
                   nm, loop_wait);
        } else {
            if (r.status)
                printf("Failed: reload for member %s, (%s)\n", nm, uv_strerror(r.status));
            else
                printf("Failed: reload for member %s, status code=%d, (%s)\n", nm, r.http_status,
                       ctl_reply_text(&r));
            rc = 1;
        }
        ctl_reply_free(&r);
    }
    json_decref(cl);
    return rc;
}

int ctl_cmd_reinit(struct ctl *c, struct ctl_args *a)
{
    const char *names[CTL_MAX_POS];
    int n;
    split_cluster_and_members(c, a, 0, a->n_pos, names, &n);
    bool force = flag(a, O_FORCE);
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    struct members ms;
    int rc = get_members(c, cl, names, n, "replica", force, "reinitialize", true, &ms);
    if (rc) {
        json_decref(cl);
        return rc;
    }
    json_t *wait_on[CTL_MAX_NAMES];
    int nwait = 0;
    for (int i = 0; i < ms.n; i++) {
        const char *nm = mname(ms.m[i]);
        bool body_force = force;
        for (int t = 0; t < 2; t++) {
            json_t *body = json_pack("{s:b}", "force", body_force);
            struct ctl_reply r;
            member_request(c, ms.m[i], "POST", "/reinitialize", body, CTL_SHORT_TIMEOUT_MS, &r);
            json_decref(body);
            bool started = check_response(&r, nm, "reinitialize", false);
            const char *txt = ctl_reply_text(&r);
            size_t tl = strlen(txt);
            const char *sfx = " already in progress";
            bool in_progress = !started && r.status == 0 && tl >= strlen(sfx) &&
                               !strcmp(txt + tl - strlen(sfx), sfx);
            ctl_reply_free(&r);
            if (in_progress && !body_force &&
                ctl_confirm("Do you want to cancel it and reinitialize anyway?", false)) {
                body_force = true;
                continue;
            }
            if (!started)
                rc = 1;
            if (started && flag(a, O_WAIT))
                wait_on[nwait++] = ms.m[i];
            break;
        }
    }
    if (nwait) {
        char list[4096] = "";
        for (int i = 0; i < nwait; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", mname(wait_on[i]));
        }
        printf("Waiting for reinitialize to complete on: %s\n", list);
        fflush(stdout);
    }
    time_t deadline = time(NULL) + CTL_REINIT_WAIT_S;
    while (nwait && time(NULL) < deadline) {
        sleep_s(2);
        for (int i = 0; i < nwait; i++) {
            struct ctl_reply r;
            member_request(c, wait_on[i], "GET", "/patroni", NULL, CTL_SHORT_TIMEOUT_MS, &r);
            const char *st = json_string_value(json_object_get(r.json, "state"));
            bool done = r.status == 0 && st && strcmp(st, "creating replica");
            ctl_reply_free(&r);
            if (done) {
                printf("Reinitialize is completed on: %s\n", mname(wait_on[i]));
                fflush(stdout);
                wait_on[i--] = wait_on[--nwait];
            }
        }
    }
    if (nwait) {
        ctl_fail("reinitialize did not complete within %d seconds", CTL_REINIT_WAIT_S);
        rc = 1;
    }
    json_decref(cl);
    return rc;
}

int ctl_cmd_flush(struct ctl *c, struct ctl_args *a)
{
    const char *target = a->pos[a->n_pos - 1];
    if (strcmp(target, "restart") && strcmp(target, "switchover")) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "Invalid value for '{restart|switchover}': '%s' is not one of 'restart', "
                 "'switchover'.",
                 target);
        return ctl_usage_error(msg);
    }
    if (ctl_check_scope(c, a->pos[0]))
        return 1;
    const char *names[CTL_MAX_POS];
    int n = 0;
    for (int i = 1; i < a->n_pos - 1; i++)
        names[n++] = a->pos[i];
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    int rc = 0;
    if (!strcmp(target, "restart")) {
        struct members ms;
        const char *role = a->val[O_ROLE] ? a->val[O_ROLE] : "any";
        rc = get_members(c, cl, names, n, role, flag(a, O_FORCE), "flush", true, &ms);
        for (int i = 0; !rc && i < ms.n; i++) {
            if (json_object_get(ms.m[i], "scheduled_restart")) {
                struct ctl_reply r;
                member_request(c, ms.m[i], "DELETE", "/restart", NULL, CTL_SHORT_TIMEOUT_MS, &r);
                if (!check_response(&r, mname(ms.m[i]), "flush scheduled restart", false))
                    rc = 1;
                ctl_reply_free(&r);
            } else {
                printf("No scheduled restart for member %s\n", mname(ms.m[i]));
            }
        }
        json_decref(cl);
        return rc;
    }
    if (!json_is_object(json_object_get(cl, "scheduled_switchover"))) {
        printf("No pending scheduled switchover\n");
        json_decref(cl);
        return 0;
    }
    char bases[CTL_MAX_NAMES][300];
    const char *mnames[CTL_MAX_NAMES];
    int nb = ctl_bases_leader_first(cl, bases, mnames, CTL_MAX_NAMES);
    for (int i = 0; i < nb; i++) {
        struct ctl_reply r;
        if (ctl_request(c, "DELETE", bases[i], "/switchover", NULL, CTL_SHORT_TIMEOUT_MS, &r)) {
            fprintf(stderr, "Member %s is not accessible\n", mnames[i]);
            ctl_reply_free(&r);
            continue;
        }
        if (r.http_status == 200 || r.http_status == 404) {
            printf("%s: %s\n", r.http_status == 200 ? "Success" : "Failed", ctl_reply_text(&r));
            rc = r.http_status == 200 ? 0 : 1;
            ctl_reply_free(&r);
            json_decref(cl);
            return rc;
        }
        printf("Failed: member=%s, status_code=%d, (%s)\n", mnames[i], r.http_status,
               ctl_reply_text(&r));
        ctl_reply_free(&r);
    }
    char ts[64];
    ctl_timestamp(ts, sizeof(ts), 6);
    printf("%s Could not find any accessible member of cluster %s\n", ts, c->cfg->scope);
    json_decref(cl);
    return 1;
}

/* ---- pause, resume ---------------------------------------------------------------------- */

static int wait_until_pause_is_applied(struct ctl *c, bool paused, json_t *old)
{
    printf("'%s' request sent, waiting until it is recognized by all nodes\n",
           paused ? "pause" : "resume");
    fflush(stdout);
    json_t *conf = dynamic_config(c);
    json_t *lw = json_object_get(conf, "loop_wait");
    int loop_wait = json_is_integer(lw) ? (int)json_integer_value(lw) : c->cfg->dcs.loop_wait;
    json_decref(conf);
    struct members ms;
    members_with_role(old, "any", &ms);
    char remaining[4096] = "";
    /* polling_loop(loop_wait + 1): one look per second */
    for (int t = 0; t <= loop_wait + 1; t++) {
        if (t)
            sleep_s(1);
        remaining[0] = '\0';
        for (int i = 0; i < ms.n; i++) {
            char base[300];
            if (!ctl_member_base(ms.m[i], base, sizeof(base)))
                continue;
            struct ctl_reply r;
            ctl_request(c, "GET", base, "/patroni", NULL, CTL_SHORT_TIMEOUT_MS, &r);
            bool p = json_is_true(json_object_get(r.json, "pause"));
            bool ok = r.status == 0 && r.json && p == paused;
            ctl_reply_free(&r);
            if (!ok) {
                size_t l = strlen(remaining);
                snprintf(remaining + l, sizeof(remaining) - l, "%s%s", l ? ", " : "",
                         mname(ms.m[i]));
            }
        }
        if (!remaining[0]) {
            printf("Success: cluster management is %s\n", paused ? "paused" : "resumed");
            return 0;
        }
    }
    printf("%s members didn't recognized pause state after %d seconds\n", remaining, loop_wait);
    return 1;
}

static int toggle_pause(struct ctl *c, struct ctl_args *a, bool paused)
{
    if (ctl_check_scope(c, a->n_pos ? a->pos[0] : NULL))
        return 1;
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    if (json_is_true(json_object_get(cl, "pause")) == paused) {
        json_decref(cl);
        return ctl_fail("Cluster is %s paused", paused ? "already" : "not");
    }
    char bases[CTL_MAX_NAMES][300];
    const char *names[CTL_MAX_NAMES];
    int nb = ctl_bases_leader_first(cl, bases, names, CTL_MAX_NAMES);
    /* patronictl sends {"pause": null} to resume: the merge patch removes the key. */
    json_t *body = json_pack("{s:o}", "pause", paused ? json_true() : json_null());
    struct ctl_reply r;
    int who =
        request_first(c, bases, names, nb, "PATCH", "/config", body, CTL_SHORT_TIMEOUT_MS, &r);
    json_decref(body);
    int rc;
    if (who < 0) {
        rc = ctl_fail("Can not find accessible cluster member");
    } else if (r.http_status == 200) {
        if (flag(a, O_WAIT))
            rc = wait_until_pause_is_applied(c, paused, cl);
        else {
            printf("Success: cluster management is %s\n", paused ? "paused" : "resumed");
            rc = 0;
        }
    } else {
        printf("Failed: %s cluster management status code=%d, (%s)\n", paused ? "pause" : "resume",
               r.http_status, ctl_reply_text(&r));
        rc = 1;
    }
    ctl_reply_free(&r);
    json_decref(cl);
    return rc;
}

int ctl_cmd_pause(struct ctl *c, struct ctl_args *a)
{
    return toggle_pause(c, a, true);
}

int ctl_cmd_resume(struct ctl *c, struct ctl_args *a)
{
    return toggle_pause(c, a, false);
}

/* ---- edit-config, show-config ------------------------------------------------------------- */

/* Patroni's patch_config(): merge data into config; null removes a key. */
static void patch_config(json_t *config, json_t *data)
{
    const char *k;
    json_t *v;
    json_object_foreach(data, k, v)
    {
        json_t *cur = json_object_get(config, k);
        if (json_is_null(v))
            json_object_del(config, k);
        else if (cur && json_is_object(v) && json_is_object(cur))
            patch_config(cur, v);
        else
            json_object_set(config, k, v);
    }
}

#define CTL_MAX_KEY_PARTS 32

/* apply_config_changes' set_path_value: a dotted path; join_rest makes the rest of the
 * path one key (GUC names below postgresql.parameters may contain dots). */
static void set_path_value(json_t *config, char **path, int n, json_t *value, bool join_rest)
{
    char joined[1024];
    const char *key = path[0];
    if (join_rest && n > 1) {
        joined[0] = '\0';
        for (int i = 0; i < n; i++) {
            size_t l = strlen(joined);
            snprintf(joined + l, sizeof(joined) - l, "%s%s", i ? "." : "", path[i]);
        }
        key = joined;
        n = 1;
    }
    if (n == 1) {
        if (json_is_null(value))
            json_object_del(config, key);
        else
            json_object_set(config, key, value);
        return;
    }
    json_t *sub = json_object_get(config, key);
    if (!json_is_object(sub)) {
        sub = json_object();
        json_object_set_new(config, key, sub);
    }
    set_path_value(sub, path + 1, n - 1, value, false);
    if (json_object_size(sub) == 0)
        json_object_del(config, key);
}

/* Walk the path by hand to know when we are below postgresql.parameters. */
static int apply_pair(json_t *data, const char *pair)
{
    const char *eq = strchr(pair, '=');
    if (!pair[0] || !eq)
        return ctl_fail("Invalid parameter setting %s", pair);
    char key[1024];
    snprintf(key, sizeof(key), "%.*s", (int)(eq - pair), pair);
    /* key_path.strip() */
    char *k = key;
    while (*k == ' ' || *k == '\t')
        k++;
    size_t kl = strlen(k);
    while (kl > 0 && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
        k[--kl] = '\0';
    char err[256];
    json_t *value = ctl_yaml_load(eq + 1, err, sizeof(err));
    if (!value)
        return ctl_fail("Invalid value in %s: %s", pair, err);
    char *parts[CTL_MAX_KEY_PARTS];
    int n = 0;
    for (char *p = k; n < CTL_MAX_KEY_PARTS;) {
        parts[n++] = p;
        char *dot = strchr(p, '.');
        if (!dot)
            break;
        *dot = '\0';
        p = dot + 1;
    }
    /* Descend through the first two parts when they are postgresql.parameters, so the
     * rest is one key. */
    if (n > 3 && !strcmp(parts[0], "postgresql") && !strcmp(parts[1], "parameters")) {
        json_t *pg = json_object_get(data, "postgresql");
        if (!json_is_object(pg)) {
            pg = json_object();
            json_object_set_new(data, "postgresql", pg);
        }
        json_t *params = json_object_get(pg, "parameters");
        if (!json_is_object(params)) {
            params = json_object();
            json_object_set_new(pg, "parameters", params);
        }
        set_path_value(params, parts + 2, n - 2, value, true);
        if (!json_object_size(params))
            json_object_del(pg, "parameters");
        if (!json_object_size(pg))
            json_object_del(data, "postgresql");
    } else {
        set_path_value(data, parts, n, value, false);
    }
    json_decref(value);
    return 0;
}

static char *read_all(FILE *f)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        if (len > (64u << 20))
            break; /* bounded: a dynamic config is small */
    }
    buf[len] = '\0';
    return buf;
}

static json_t *load_yaml_file(const char *name)
{
    FILE *f = strcmp(name, "-") ? fopen(name, "r") : stdin;
    if (!f) {
        ctl_fail("Could not open %s: %s", name, strerror(errno));
        return NULL;
    }
    char *text = read_all(f);
    if (f != stdin)
        fclose(f);
    char err[256];
    json_t *j = ctl_yaml_load(text, err, sizeof(err));
    free(text);
    if (!j)
        ctl_fail("%s is not valid YAML: %s", name, err);
    return j;
}

static int run_editor(const char *path)
{
    const char *ed = getenv("EDITOR");
    char found[512] = "";
    if (!ed || !ed[0]) {
        const char *cands[] = {"editor", "vi"};
        const char *pathenv = getenv("PATH");
        for (int i = 0; i < 2 && !found[0] && pathenv; i++) {
            char *dup = strdup(pathenv);
            for (char *d = strtok(dup, ":"); d; d = strtok(NULL, ":")) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", d, cands[i]);
                if (access(p, X_OK) == 0) {
                    snprintf(found, sizeof(found), "%s", p);
                    break;
                }
            }
            free(dup);
        }
        if (!found[0])
            return ctl_fail("EDITOR environment variable is not set. editor or vi are not "
                            "available");
        ed = found;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return ctl_fail("cannot start the editor: %s", strerror(errno));
    if (pid == 0) {
        /* through the shell, so that EDITOR="code --wait" works too */
        execl("/bin/sh", "sh", "-c", "exec $RAFTGRESCTL_EDITOR \"$1\"", "sh", path, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code)
        return ctl_fail("Editor exited with return code %d", code);
    return 0;
}

int ctl_cmd_edit_config(struct ctl *c, struct ctl_args *a)
{
    if (ctl_check_scope(c, a->n_pos ? a->pos[0] : NULL))
        return 1;
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    json_decref(cl); /* every member's REST API is known now */
    json_t *orig = dynamic_config(c);
    if (!orig)
        return ctl_fail("could not read the dynamic configuration (GET /config) from any member");
    bool force = flag(a, O_FORCE), quiet = flag(a, O_QUIET);
    char *before = ctl_yaml_dump(orig, false);
    char *after = NULL;
    json_t *changed = json_deep_copy(orig);
    int rc = 1;
    const char *replace = a->val[O_REPLACE], *apply = a->val[O_APPLY];
    if (replace) {
        json_t *n = load_yaml_file(replace);
        if (!n)
            goto out;
        json_decref(changed);
        changed = json_object();
        if (json_is_object(n))
            patch_config(changed, n);
        json_decref(n);
        free(after);
        after = ctl_yaml_dump(changed, false);
    }
    if (apply) {
        json_t *n = load_yaml_file(apply);
        if (!n)
            goto out;
        if (json_is_object(n))
            patch_config(changed, n);
        json_decref(n);
        free(after);
        after = ctl_yaml_dump(changed, false);
    }
    if (a->n_multi[O_SET] || a->n_multi[O_PG]) {
        for (int i = 0; i < a->n_multi[O_SET]; i++)
            if (apply_pair(changed, a->multi[O_SET][i]))
                goto out;
        for (int i = 0; i < a->n_multi[O_PG]; i++) {
            const char *v = a->multi[O_PG][i];
            while (*v == ' ' || *v == '\t')
                v++;
            char pair[2048];
            snprintf(pair, sizeof(pair), "postgresql.parameters.%s", v);
            if (apply_pair(changed, pair))
                goto out;
        }
        free(after);
        after = ctl_yaml_dump(changed, false);
    }
    if (!after) {
        char path[] = "/tmp/raftgres-config-XXXXXX.yaml";
        char tmpl[512];
        snprintf(tmpl, sizeof(tmpl), "/tmp/%s-config-XXXXXX.yaml", c->cfg->scope);
        int fd = mkstemps(tmpl, 5);
        if (fd < 0) {
            snprintf(tmpl, sizeof(tmpl), "%s", path);
            fd = mkstemps(tmpl, 5);
        }
        if (fd < 0) {
            ctl_fail("cannot create a temporary file: %s", strerror(errno));
            goto out;
        }
        size_t bl = strlen(before);
        bool wrote = write(fd, before, bl) == (ssize_t)bl;
        close(fd);
        const char *ed = getenv("EDITOR");
        if (ed)
            setenv("RAFTGRESCTL_EDITOR", ed, 1);
        if (!wrote || run_editor(tmpl)) {
            unlink(tmpl);
            if (!wrote)
                ctl_fail("cannot write %s", tmpl);
            goto out;
        }
        FILE *f = fopen(tmpl, "r");
        after = f ? read_all(f) : NULL;
        if (f)
            fclose(f);
        unlink(tmpl);
        if (!after) {
            ctl_fail("cannot read back the edited file");
            goto out;
        }
        char err[256];
        json_t *parsed = ctl_yaml_load(after, err, sizeof(err));
        if (!parsed) {
            ctl_fail("the edited configuration is not valid YAML: %s", err);
            goto out;
        }
        if (!json_is_object(parsed)) {
            json_decref(parsed);
            ctl_fail("the configuration must be a YAML mapping");
            goto out;
        }
        json_decref(changed);
        changed = parsed;
    }
    if (json_equal(orig, changed)) {
        if (!quiet)
            printf("Not changed\n");
        rc = 0;
        goto out;
    }
    if (!quiet) {
        ctl_unified_diff(before, after, stdout);
        fflush(stdout);
    }
    if (((apply && !strcmp(apply, "-")) || (replace && !strcmp(replace, "-"))) && !force) {
        printf("Use --force option to apply changes\n");
        rc = 0;
        goto out;
    }
    if (!force && !ctl_confirm("Apply these changes?", false)) {
        rc = 0; /* as patronictl: declining is not an error */
        goto out;
    }
    cl = ctl_cluster(c);
    if (!cl)
        goto out;
    char bases[CTL_MAX_NAMES][300];
    const char *names[CTL_MAX_NAMES];
    int nb = ctl_bases_leader_first(cl, bases, names, CTL_MAX_NAMES);
    json_decref(cl);
    struct ctl_reply r;
    int who =
        request_first(c, bases, names, nb, "PUT", "/config", changed, CTL_SHORT_TIMEOUT_MS, &r);
    if (who < 0) {
        ctl_fail("Can not find accessible cluster member");
    } else if (r.http_status == 200) {
        printf("Configuration changed\n");
        rc = 0;
    } else {
        ctl_fail("Config modification aborted: status code=%d, (%s)", r.http_status,
                 ctl_reply_text(&r));
    }
    ctl_reply_free(&r);
out:
    free(before);
    free(after);
    json_decref(orig);
    json_decref(changed);
    return rc;
}

int ctl_cmd_show_config(struct ctl *c, struct ctl_args *a)
{
    if (ctl_check_scope(c, a->n_pos ? a->pos[0] : NULL))
        return 1;
    json_t *conf = dynamic_config(c);
    if (!conf)
        return ctl_fail("cluster %s is unreachable: no member answered GET /config", c->cfg->scope);
    char *y = ctl_yaml_dump(conf, false);
    printf("%s\n", y); /* click.echo adds a newline after the YAML's own */
    free(y);
    json_decref(conf);
    return 0;
}

/* ---- history, version, add-member -------------------------------------------------------- */

int ctl_cmd_history(struct ctl *c, struct ctl_args *a)
{
    if (ctl_check_scope(c, a->n_pos ? a->pos[0] : NULL))
        return 1;
    json_t *h = ctl_get(c, "/history");
    if (!h)
        return ctl_fail("cluster %s is unreachable: no member answered GET /history",
                        c->cfg->scope);
    const char *cols[] = {"TL", "LSN", "Reason", "Timestamp", "New Leader"};
    json_t *rows = json_array();
    size_t i;
    json_t *line;
    json_array_foreach(h, i, line)
    {
        json_t *row = json_is_array(line) ? json_copy(line) : json_array();
        while (json_array_size(row) < 5)
            json_array_append_new(row, json_string(""));
        json_array_append_new(rows, row);
    }
    struct ctl_table t = {.cols = cols, .ncols = 5, .right = "|TL|LSN|", .rows = rows};
    ctl_print_output(&t, fmt_of(a), NULL);
    json_decref(rows);
    json_decref(h);
    return 0;
}

static void format_pg_version(long long v, char *buf, size_t len)
{
    if (v < 100000)
        snprintf(buf, len, "%lld.%lld.%lld", v / 10000, v / 100 % 100, v % 100);
    else
        snprintf(buf, len, "%lld.%lld", v / 10000, v % 100);
}

int ctl_cmd_version(struct ctl *c, struct ctl_args *a)
{
    printf("raftgresctl version %s\n", RAFTGRES_VERSION);
    if (!a->n_pos)
        return 0;
    if (ctl_check_scope(c, a->pos[0]))
        return 1;
    printf("\n");
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    struct members ms;
    members_with_role(cl, "any", &ms);
    int rc = 0;
    for (int i = 0; i < ms.n; i++) {
        const char *nm = mname(ms.m[i]);
        bool wanted = a->n_pos == 1;
        for (int k = 1; k < a->n_pos; k++)
            wanted = wanted || !strcmp(a->pos[k], nm);
        char base[300];
        if (!wanted || !ctl_member_base(ms.m[i], base, sizeof(base)))
            continue;
        struct ctl_reply r;
        ctl_request(c, "GET", base, "/patroni", NULL, CTL_SHORT_TIMEOUT_MS, &r);
        if (r.status || !r.json) {
            printf("%s: failed to get version: %s\n", nm, ctl_reply_text(&r));
            rc = 1;
        } else {
            const char *v =
                json_string_value(json_object_get(json_object_get(r.json, "patroni"), "version"));
            json_t *pv = json_object_get(r.json, "server_version");
            char pg[64] = "";
            if (json_integer_value(pv)) {
                char ver[32];
                format_pg_version(json_integer_value(pv), ver, sizeof(ver));
                snprintf(pg, sizeof(pg), " PostgreSQL %s", ver);
            }
            printf("%s: raftgres %s%s\n", nm, v ? v : "None", pg);
        }
        ctl_reply_free(&r);
    }
    json_decref(cl);
    return rc;
}

int ctl_cmd_add_member(struct ctl *c, struct ctl_args *a)
{
    const char *addr = a->pos[0];
    char host[256];
    int port;
    if (cfg_parse_hostport(addr, host, sizeof(host), &port) != 0)
        return ctl_usage_error("RAFT_ADDR is not host:port");
    json_t *cl = ctl_cluster(c);
    if (!cl)
        return 1;
    /* Membership changes are made by the Raft leader: find its REST API. */
    json_int_t lid =
        json_integer_value(json_object_get(json_object_get(cl, "raft_leader"), "raft_id"));
    json_t *leader = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cl, "members"), i, m)
    {
        if (json_integer_value(json_object_get(m, "raft_id")) == lid)
            leader = m;
    }
    char base[300];
    if (!lid || !leader || !ctl_member_base(leader, base, sizeof(base))) {
        json_decref(cl);
        return ctl_fail("no Raft leader with a registered REST API; try again");
    }
    json_decref(cl);
    json_t *body = json_pack("{s:s}", "raft_addr", addr);
    struct ctl_reply r;
    ctl_request(c, "POST", base, "/raft/members", body, 30000, &r);
    json_decref(body);
    if (r.status) {
        int rc = ctl_fail("Request failed to %s/raft/members: %s", base, uv_strerror(r.status));
        ctl_reply_free(&r);
        return rc;
    }
    printf("%s\n", ctl_reply_text(&r));
    int rc = r.http_status == 200 ? 0 : 1;
    ctl_reply_free(&r);
    return rc;
}
