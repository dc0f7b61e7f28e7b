/* control: Patroni's operator endpoints (switchover, failover, restart, reinitialize,
 * config) as pure parse-and-check functions (control.h).
 *
 * The rules follow patroni/api.py of Patroni 3.0 (do_POST_failover, parse_schedule,
 * is_failover_possible, do_POST_restart, do_POST_reinitialize, _read_json_content), its
 * helpers (utils.parse_int, utils.parse_bool, utils.patch_config,
 * postgresql.misc.postgres_version_to_int) and Ha.restart_matches. Where raftgres decides
 * differently, on purpose, the comment says "raftgres:"; docs/control.md lists them. */
#include "http/control.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ----------------------------------------------------------------------- */

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
    if (!msg || msglen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
}

/* A JSON value as text for a message, shortened to fit `buf`. */
static const char *show(const json_t *v, char *buf, size_t buflen)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, buflen, "%s", s ? s : "?");
    if (s && strlen(s) >= buflen && buflen > 4)
        memcpy(buf + buflen - 4, "...", 4);
    free(s);
    return buf;
}

/* Python's bool(value) for a decoded JSON value. */
static bool truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_TRUE:
        return true;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    default:
        return false;
    }
}

static bool blank(const char *body, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)body[i]))
            return false;
    return true;
}

/* Patroni's _read_json_content: the body must be a JSON object, non-empty unless the body
 * is optional; an optional body may also be empty. 0 with *out a new reference, or 400. */
static int load_object(const char *body, size_t len, bool optional, json_t **out, char *msg,
                       size_t msglen)
{
    *out = NULL;
    if (optional && (!body || blank(body, len))) {
        *out = json_object();
        return 0;
    }
    json_error_t err;
    json_t *j = body ? json_loadb(body, len, JSON_DECODE_ANY, &err) : NULL;
    if (!j) {
        set_msg(msg, msglen, "the request body is not valid JSON: %s (line %d, column %d)",
                body ? err.text : "empty body", body ? err.line : 0, body ? err.column : 0);
        return 400;
    }
    if (!json_is_object(j) || (!optional && json_object_size(j) == 0)) {
        set_msg(msg, msglen, "the request body must be a %sJSON object",
                optional ? "" : "non-empty ");
        json_decref(j);
        return 400;
    }
    *out = j;
    return 0;
}

/* ---- time ------------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

/* Read exactly n digits at *p. */
static bool digits(const char **p, int n, int *val)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *val = v;
    return true;
}

static void skip_spaces(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

/* Zone suffix → offset east of UTC in minutes. false when not a zone. */
static bool parse_zone(const char **p, int *off_min)
{
    const char *s = *p;
    if (*s == 'Z' || *s == 'z') {
        *off_min = 0;
        *p = s + 1;
        return true;
    }
    if (strncasecmp(s, "UTC", 3) == 0 || strncasecmp(s, "GMT", 3) == 0) {
        *off_min = 0;
        *p = s + 3;
        return true;
    }
    if (*s != '+' && *s != '-')
        return false;
    int sign = *s == '-' ? -1 : 1, hh, mm = 0;
    s++;
    if (!digits(&s, 2, &hh) || hh > 23)
        return false;
    if (*s == ':') {
        s++;
        if (!digits(&s, 2, &mm))
            return false;
    } else if (isdigit((unsigned char)*s)) {
        if (!digits(&s, 2, &mm))
            return false;
    }
    if (mm > 59)
        return false;
    *off_min = sign * (hh * 60 + mm);
    *p = s;
    return true;
}

int64_t control_parse_time(const char *s)
{
    if (!s)
        return -1;
    const char *p = s;
    skip_spaces(&p);
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
    if (!digits(&p, 4, &y))
        return -1;
    if (*p == '-') {
        p++;
        if (!digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d))
            return -1;
    } else if (!digits(&p, 2, &mo) || !digits(&p, 2, &d)) {
        return -1;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;

    bool has_time = false;
    if (*p == 'T' || *p == 't') {
        p++;
        has_time = true;
    } else if (*p == ' ') {
        skip_spaces(&p);
        has_time = isdigit((unsigned char)*p);
    }
    if (has_time) {
        if (!digits(&p, 2, &h))
            return -1;
        bool colon = *p == ':';
        if (colon || isdigit((unsigned char)*p)) {
            if (colon)
                p++;
            if (!digits(&p, 2, &mi))
                return -1;
            if ((colon && *p == ':') || (!colon && isdigit((unsigned char)*p))) {
                if (*p == ':')
                    p++;
                if (!digits(&p, 2, &sec))
                    return -1;
                if (*p == '.' || *p == ',') {
                    p++;
                    if (!isdigit((unsigned char)*p))
                        return -1;
                    /* milliseconds: the first three digits, ".5" is 500 */
                    int n = 0;
                    for (; isdigit((unsigned char)*p); p++, n++)
                        if (n < 3)
                            ms = ms * 10 + (*p - '0');
                    for (; n < 3; n++)
                        ms *= 10;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return -1;
    }
    skip_spaces(&p);
    if (*p == '\0')
        return -2;
    if (!parse_zone(&p, &off))
        return -1;
    skip_spaces(&p);
    if (*p != '\0')
        return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off * 60;
    return t * 1000 + ms;
}

/* ---- schedules ----------------------------------------------------------------------- */

/* Patroni's parse_schedule(schedule, action): 0 with *at_ms, or 400/422 with its message.
 * Any value that is not a string is unparsable (dateutil raises TypeError). */
static int parse_schedule(const json_t *v, const char *action, int64_t now_ms, int64_t *at_ms,
                          char *msg, size_t msglen)
{
    int64_t t = json_is_string(v) ? control_parse_time(json_string_value(v)) : -1;
    if (t == -2) {
        set_msg(msg, msglen, "Timezone information is mandatory for the scheduled %s", action);
        return 400;
    }
    if (t == -1) {
        set_msg(msg, msglen,
                "Unable to parse scheduled timestamp. It should be in an unambiguous format, "
                "e.g. ISO 8601");
        return 422;
    }
    if (t < now_ms) {
        set_msg(msg, msglen, "Cannot schedule %s in the past", action);
        return 422;
    }
    *at_ms = t;
    return 0;
}

/* ---- switchover / failover ------------------------------------------------------------- */

/* A member name from the body: absent, null and "" are "not given". raftgres: anything but
 * a string or null is a 400 (Patroni would look the number up as a member name). */
static int get_name(const json_t *req, const char *key, char *dst, char *msg, size_t msglen)
{
    const json_t *v = json_object_get(req, key);
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        char b[64];
        set_msg(msg, msglen, "%s must be a member name (a string), got %s", key,
                show(v, b, sizeof(b)));
        return 400;
    }
    if (json_string_length(v) > CONTROL_NAME_MAX) {
        set_msg(msg, msglen, "%s is longer than %d bytes: no member has such a name", key,
                CONTROL_NAME_MAX);
        return 400;
    }
    snprintf(dst, CONTROL_NAME_MAX + 1, "%s", json_string_value(v));
    return 0;
}

int control_parse_switchover(const char *body, size_t len, bool is_failover, int64_t now_ms,
                             struct control_switchover *out, char *msg, size_t msglen)
{
    const char *action = is_failover ? "failover" : "switchover";
    memset(out, 0, sizeof(*out));
    set_msg(msg, msglen, "%s", "");
    json_t *req;
    int rc = load_object(body, len, false, &req, msg, msglen);
    if (rc)
        return rc;

    struct control_switchover r;
    memset(&r, 0, sizeof(r));
    char member[CONTROL_NAME_MAX + 1];
    if ((rc = get_name(req, "leader", r.leader, msg, msglen)) ||
        (rc = get_name(req, "candidate", r.candidate, msg, msglen)) ||
        (rc = get_name(req, "member", member, msg, msglen)))
        goto out_req;
    /* request.get('candidate') or request.get('member') */
    if (!r.candidate[0])
        memcpy(r.candidate, member, sizeof(member));

    rc = 400;
    if (is_failover && !r.candidate[0]) {
        set_msg(msg, msglen, "Failover could be performed only to a specific candidate");
        goto out_req;
    }
    if (!is_failover && !r.leader[0]) {
        set_msg(msg, msglen, "Switchover could be performed only from a specific leader");
        goto out_req;
    }
    const json_t *sched = json_object_get(req, "scheduled_at");
    if (sched && truthy(sched)) {
        /* Patroni 3.0 would accept a scheduled failover given a leader; 3.1 and later
         * refuse it with this message, and so does raftgres. */
        if (is_failover) {
            set_msg(msg, msglen, "Failover can't be scheduled");
            goto out_req;
        }
        rc = parse_schedule(sched, action, now_ms, &r.scheduled_at_ms, msg, msglen);
        if (rc)
            goto out_req;
        rc = 400;
        if (r.scheduled_at_ms == 0) /* exactly the epoch: keep "0 = now" unambiguous */
            r.scheduled_at_ms = 1;
    }
    /* Patroni >= 3.1 (SWITCHOVER_TO_LEADER); 3.0 accepted it and the leader then
     * dropped the request ("I am already the leader"). */
    if (r.leader[0] && strcmp(r.leader, r.candidate) == 0) {
        set_msg(msg, msglen, "Switchover target and source are the same");
        goto out_req;
    }
    *out = r;
    rc = 0;
out_req:
    json_decref(req);
    return rc;
}

static bool is_sync(const struct control_view *v, const char *name)
{
    for (size_t i = 0; i < v->n_sync; i++)
        if (v->sync_standbys[i] && strcmp(v->sync_standbys[i], name) == 0)
            return true;
    return false;
}

static const struct control_member *find_member(const struct control_view *v, const char *name)
{
    for (size_t i = 0; i < v->n_members; i++)
        if (v->members[i].name && strcmp(v->members[i].name, name) == 0)
            return &v->members[i];
    return NULL;
}

/* Why `m` cannot be promoted by this request, or NULL when it can. Patroni checks that the
 * candidate answers and is not tagged nofailover (failover_limitation), and the leader then
 * requires a reported WAL position within maximum_lag_on_failover (Ha.is_failover_possible);
 * raftgres asks that here, before accepting, and also that a switchover target streams. A
 * failover without a leader in the cluster skips the lag rules, like Patroni's
 * manual_failover_process_no_leader. */
static const char *limitation(const struct control_member *m, const struct control_view *v,
                              bool is_failover, char *buf, size_t buflen)
{
    bool has_leader = v->leader && v->leader[0];
    if (has_leader && strcmp(m->name, v->leader) == 0)
        return "it is the leader";
    if (m->nofailover)
        return "not allowed to promote (nofailover)";
    if (!m->running)
        return "PostgreSQL is not running";
    if (!has_leader)
        return NULL;
    if (!is_failover && !m->streaming)
        return "not streaming from the leader";
    if (m->lag < 0)
        return "its WAL position is unknown";
    if (m->lag > v->maximum_lag_on_failover) {
        snprintf(buf, buflen,
                 "%lld bytes behind the leader, more than maximum_lag_on_failover %lld",
                 (long long)m->lag, (long long)v->maximum_lag_on_failover);
        return buf;
    }
    return NULL;
}

/* Least lag first (unknown last), then the smallest name. */
static bool better(const struct control_member *a, const struct control_member *b)
{
    if (!b)
        return true;
    if ((a->lag < 0) != (b->lag < 0))
        return a->lag >= 0;
    if (a->lag != b->lag)
        return a->lag < b->lag;
    return strcmp(a->name, b->name) < 0;
}

int control_check_switchover(const struct control_switchover *r, const struct control_view *v,
                             bool is_failover, char *chosen, size_t chosen_len, char *msg,
                             size_t msglen)
{
    const char *action = is_failover ? "failover" : "switchover";
    const char *leader = v->leader ? v->leader : "";
    set_msg(msg, msglen, "%s", "");
    set_msg(chosen, chosen_len, "%s", "");

    if (r->scheduled_at_ms && v->paused) {
        set_msg(msg, msglen, "Can't schedule %s in the paused state", action);
        return 400;
    }
    if (v->paused && !r->candidate[0]) {
        set_msg(msg, msglen, "%s is possible only to a specific candidate in a paused state",
                is_failover ? "Failover" : "Switchover");
        return 400;
    }
    if (r->scheduled_at_ms) { /* Patroni checks the cluster only when the schedule fires */
        set_msg(chosen, chosen_len, "%s", r->candidate);
        return 0;
    }
    if (r->leader[0] && strcmp(r->leader, leader) != 0) {
        set_msg(msg, msglen, "leader name does not match");
        return 412;
    }

    char buf[160];
    if (r->candidate[0]) {
        if (!is_failover && v->synchronous_mode && !is_sync(v, r->candidate)) {
            set_msg(msg, msglen, "candidate name does not match with sync_standby");
            return 412;
        }
        const struct control_member *m = find_member(v, r->candidate);
        if (!m) {
            set_msg(msg, msglen, "candidate does not exists");
            return 412;
        }
        if (leader[0] && strcmp(r->candidate, leader) == 0) {
            set_msg(msg, msglen, "candidate is already the leader");
            return 412;
        }
        const char *why = limitation(m, v, is_failover, buf, sizeof(buf));
        if (why) {
            set_msg(msg, msglen, "%s is not possible: no good candidates have been found (%s: %s)",
                    action, m->name, why);
            return 412;
        }
        set_msg(chosen, chosen_len, "%s", m->name);
        return 0;
    }

    /* No candidate named (a switchover): any healthy member, in synchronous_mode only the
     * synchronous standbys. */
    size_t n_pool = 0;
    const struct control_member *best = NULL;
    for (size_t i = 0; i < v->n_members; i++) {
        const struct control_member *m = &v->members[i];
        if (!m->name)
            continue;
        if (v->synchronous_mode ? !is_sync(v, m->name) : strcmp(m->name, leader) == 0)
            continue;
        n_pool++;
        if (!limitation(m, v, is_failover, buf, sizeof(buf)) && better(m, best))
            best = m;
    }
    if (n_pool == 0) {
        set_msg(msg, msglen, "%s is not possible: %s", action,
                v->synchronous_mode ? "can not find sync_standby"
                                    : "cluster does not have members except leader");
        return 412;
    }
    if (!best) {
        set_msg(msg, msglen, "%s is not possible: no good candidates have been found", action);
        return 412;
    }
    set_msg(chosen, chosen_len, "%s", best->name);
    return 0;
}

/* ---- restart -------------------------------------------------------------------------- */

/* Python's round-half-even of a non-negative double, as int64; -1 when out of range. */
static int64_t rint_even(double x)
{
    if (!(x >= 0) || x > 9e15)
        return -1;
    int64_t f = (int64_t)x; /* floor, x >= 0 */
    double frac = x - (double)f;
    if (frac > 0.5 || (frac == 0.5 && (f & 1)))
        f++;
    return f;
}

/* Patroni's parse_int(value, 's') → seconds, or -1 when it gives None. Integers, and
 * strings "30", " 0x1e ", "030" (octal, as strtol), "1.5min", "30 s"; units us, ms, s,
 * min, h, d. */
static int64_t parse_seconds(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) < 0 ? -1 : json_integer_value(v);
    if (json_is_real(v))
        return rint_even(json_real_value(v));
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    while (isspace((unsigned char)*s))
        s++;
    char *end;
    double val;
    long long iv = strtoll(s, &end, 0);
    if (end == s && *s != '.' && !(*s == '+' || *s == '-'))
        return -1;
    if (end == s || *end == '.' || *end == 'e' || *end == 'E') {
        /* Python's DBL_RE: [-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)? — no hex, inf or nan */
        const char *q = s + (*s == '+' || *s == '-');
        if (!isdigit((unsigned char)*q) && *q != '.')
            return -1;
        if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
            return -1;
        val = strtod(s, &end);
        if (end == s)
            return -1;
    } else {
        val = (double)iv;
    }
    while (isspace((unsigned char)*end))
        end++;
    size_t ulen = strlen(end);
    while (ulen && isspace((unsigned char)end[ulen - 1]))
        ulen--;
    static const struct {
        const char *unit;
        double secs;
    } units[] = {{"", 1},     {"us", 1e-6}, {"ms", 1e-3}, {"s", 1},
                 {"min", 60}, {"h", 3600},  {"d", 86400}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].unit) == ulen && strncmp(units[i].unit, end, ulen) == 0)
            return rint_even(val * units[i].secs);
    return -1;
}

/* Patroni's postgres_version_to_int: 0 with *num, or 400 with its message. */
static int parse_pg_version(const json_t *v, int *num, char *msg, size_t msglen)
{
    char b[64];
    const char *s = json_is_string(v) ? json_string_value(v) : show(v, b, sizeof(b));
    /* pg_version.split('.') with int() of each part */
    int comp[8], n = 0;
    bool ok =
        json_is_string(v) && strlen(s) < sizeof(((struct control_restart *)0)->postgres_version);
    for (const char *p = s; ok && n < 8;) {
        long c = 0;
        const char *start = p;
        for (; isdigit((unsigned char)*p); p++)
            c = c * 10 + (*p - '0');
        ok = p > start && (*p == '.' || *p == '\0');
        comp[n++] = (int)(c > 99999 ? 99999 : c);
        if (!ok || *p++ == '\0')
            break;
    }
    if (!ok) {
        set_msg(msg, msglen, "Invalid PostgreSQL version: %s", s);
        return 400;
    }
    if (n < 2 || (n == 2 && comp[0] < 10) || n > 3) {
        set_msg(msg, msglen, "Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: %s", s);
        return 400;
    }
    /* ''.join('{0:02d}'.format(c)) with "10.1" → 10.0.1 */
    char joined[32];
    if (n == 2)
        snprintf(joined, sizeof(joined), "%02d00%02d", comp[0], comp[1]);
    else
        snprintf(joined, sizeof(joined), "%02d%02d%02d", comp[0], comp[1], comp[2]);
    long long x = strtoll(joined, NULL, 10);
    if (x > INT_MAX) {
        set_msg(msg, msglen, "Invalid PostgreSQL version: %s", s);
        return 400;
    }
    *num = (int)x;
    return 0;
}

int control_parse_restart(const char *body, size_t len, int64_t now_ms, struct control_restart *out,
                          char *msg, size_t msglen)
{
    memset(out, 0, sizeof(*out));
    out->restart_pending = -1;
    set_msg(msg, msglen, "%s", "");
    json_t *req;
    int rc = load_object(body, len, true, &req, msg, msglen);
    if (rc)
        return rc;

    struct control_restart r;
    memset(&r, 0, sizeof(r));
    r.restart_pending = -1;
    const char *k;
    json_t *v;
    json_object_foreach(req, k, v)
    {
        if (strcmp(k, "schedule") == 0) {
            rc = parse_schedule(v, "restart", now_ms, &r.schedule_ms, msg, msglen);
            if (rc)
                break;
            if (r.schedule_ms == 0)
                r.schedule_ms = 1;
        } else if (strcmp(k, "role") == 0) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (strcmp(s, "master") && strcmp(s, "primary") && strcmp(s, "replica")) {
                set_msg(msg, msglen, "PostgreSQL role should be either primary or replica");
                rc = 400;
                break;
            }
            snprintf(r.role, sizeof(r.role), "%s", s);
        } else if (strcmp(k, "postgres_version") == 0) {
            rc = parse_pg_version(v, &r.postgres_version_num, msg, msglen);
            if (rc)
                break;
            snprintf(r.postgres_version, sizeof(r.postgres_version), "%s", json_string_value(v));
        } else if (strcmp(k, "timeout") == 0) {
            int64_t t = parse_seconds(v);
            if (t <= 0 || t > INT_MAX) {
                set_msg(msg, msglen, "Timeout should be a positive number of seconds");
                rc = 400;
                break;
            }
            r.timeout_s = (int)t;
        } else if (strcmp(k, "restart_pending") == 0) {
            r.restart_pending = truthy(v);
        } else {
            set_msg(msg, msglen, "Unknown filter for the scheduled restart: %s", k);
            rc = 400;
            break;
        }
    }
    if (!rc)
        *out = r;
    json_decref(req);
    return rc;
}

int control_check_restart(const struct control_restart *r, bool paused, char *msg, size_t msglen)
{
    if (paused && r->schedule_ms) {
        set_msg(msg, msglen, "Can't schedule restart in the paused state");
        return 500;
    }
    return 0;
}

static const char *role_word(const char *role)
{
    return role && strcmp(role, "master") == 0 ? "primary" : (role ? role : "");
}

bool control_restart_matches(const struct control_restart *r, const char *my_role,
                             bool pending_restart, int server_version)
{
    if (r->role[0] && strcmp(role_word(r->role), role_word(my_role)) != 0)
        return false; /* host role mismatch */
    if (r->postgres_version_num && r->postgres_version_num <= server_version)
        return false; /* postgres version mismatch: only older servers restart */
    if (r->restart_pending > 0 && !pending_restart)
        return false; /* pending restart flag is not set */
    return true;
}

/* ---- reinitialize ---------------------------------------------------------------------- */

/* Patroni's parse_bool(value) is true: str(value).lower() in ('on', 'true', 'yes', '1'). */
static bool parse_bool_true(const json_t *v)
{
    if (json_is_true(v))
        return true;
    if (json_is_integer(v))
        return json_integer_value(v) == 1;
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    return !strcasecmp(s, "on") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
           !strcmp(s, "1");
}

int control_parse_reinitialize(const char *body, size_t len, bool *force, char *msg, size_t msglen)
{
    *force = false;
    set_msg(msg, msglen, "%s", "");
    json_t *req;
    int rc = load_object(body, len, true, &req, msg, msglen);
    if (rc)
        return rc;
    *force = parse_bool_true(json_object_get(req, "force"));
    json_decref(req);
    return 0;
}

/* ---- dynamic configuration ------------------------------------------------------------- */

int control_parse_config_body(const char *body, size_t len, json_t **out, char *msg, size_t msglen)
{
    set_msg(msg, msglen, "%s", "");
    return load_object(body, len, false, out, msg, msglen);
}

/* A copy of `v` without null members in any object (RFC 7386 MergePatch of a new value). */
static json_t *copy_without_nulls(const json_t *v)
{
    if (!json_is_object(v))
        return json_deep_copy(v);
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (!json_is_null(x))
            json_object_set_new(o, k, copy_without_nulls(x));
    }
    return o;
}

/* Patroni's patch_config(config, data), in place. */
static void merge_into(json_t *dst, const json_t *patch)
{
    const char *k;
    json_t *pv;
    json_object_foreach((json_t *)patch, k, pv)
    {
        json_t *cur = json_object_get(dst, k);
        if (json_is_null(pv))
            json_object_del(dst, k);
        else if (json_is_object(pv) && json_is_object(cur))
            merge_into(cur, pv);
        else
            json_object_set_new(dst, k, copy_without_nulls(pv));
    }
}

json_t *control_merge_patch(const json_t *current, const json_t *patch, char *msg, size_t msglen)
{
    set_msg(msg, msglen, "%s", "");
    if (!json_is_object(patch)) {
        set_msg(msg, msglen, "the configuration patch must be a JSON object");
        return NULL;
    }
    json_t *out = json_is_object(current) ? json_deep_copy(current) : json_object();
    if (!out) {
        set_msg(msg, msglen, "out of memory while merging the configuration patch");
        return NULL;
    }
    merge_into(out, patch);
    return out;
}

enum dc_type {
    DC_INT,     /* JSON integer within [min, max] */
    DC_BOOL,    /* true or false */
    DC_OBJECT,  /* any object */
    DC_ARRAY,   /* any array */
    DC_STRLIST, /* array of strings */
    DC_STRING,  /* string */
    DC_SCALAR,  /* string or integer (port, recovery_min_apply_delay) */
    DC_PARAMS,  /* object of strings, numbers and booleans (postgresql.conf settings) */
};

/* The dynamic configuration's known keys; bounds as bootstrap.dcs in src/config_table.c.
 * Parents come before their children. Keys not listed are stored untouched, as Patroni
 * stores them. */
static const struct dc_rule {
    const char *path;
    enum dc_type type;
    int64_t min, max;
} dc_rules[] = {
    {"ttl", DC_INT, 20, 3600},
    {"loop_wait", DC_INT, 1, 3600},
    {"retry_timeout", DC_INT, 3, 3600},
    {"maximum_lag_on_failover", DC_INT, 0, INT64_MAX},
    {"maximum_lag_on_syncnode", DC_INT, -1, INT64_MAX},
    {"primary_start_timeout", DC_INT, 0, 86400},
    {"primary_stop_timeout", DC_INT, 0, 86400},
    {"master_start_timeout", DC_INT, 0, 86400},
    {"master_stop_timeout", DC_INT, 0, 86400},
    {"synchronous_mode", DC_BOOL, 0, 0},
    {"synchronous_mode_strict", DC_BOOL, 0, 0},
    {"synchronous_node_count", DC_INT, 1, 1024},
    {"failsafe_mode", DC_BOOL, 0, 0},
    {"check_timeline", DC_BOOL, 0, 0},
    {"max_timelines_history", DC_INT, 0, 1000000},
    {"pause", DC_BOOL, 0, 0},
    {"slots", DC_OBJECT, 0, 0},
    {"ignore_slots", DC_ARRAY, 0, 0},
    {"postgresql", DC_OBJECT, 0, 0},
    {"postgresql.parameters", DC_PARAMS, 0, 0},
    {"postgresql.use_pg_rewind", DC_BOOL, 0, 0},
    {"postgresql.use_slots", DC_BOOL, 0, 0},
    {"postgresql.pg_hba", DC_STRLIST, 0, 0},
    {"postgresql.pg_ident", DC_STRLIST, 0, 0},
    {"postgresql.recovery_conf", DC_OBJECT, 0, 0},
    {"standby_cluster", DC_OBJECT, 0, 0},
    {"standby_cluster.host", DC_STRING, 0, 0},
    {"standby_cluster.port", DC_SCALAR, 1, 65535},
    {"standby_cluster.primary_slot_name", DC_STRING, 0, 0},
    {"standby_cluster.create_replica_methods", DC_STRLIST, 0, 0},
    {"standby_cluster.restore_command", DC_STRING, 0, 0},
    {"standby_cluster.archive_cleanup_command", DC_STRING, 0, 0},
    {"standby_cluster.recovery_min_apply_delay", DC_SCALAR, 0, INT64_MAX},
};

/* The value at a dotted path (two levels at most here), NULL when absent. */
static const json_t *get_path(const json_t *cfg, const char *path)
{
    const char *dot = strchr(path, '.');
    if (!dot)
        return json_object_get(cfg, path);
    char head[64];
    snprintf(head, sizeof(head), "%.*s", (int)(dot - path), path);
    return json_object_get(json_object_get(cfg, head), dot + 1);
}

static bool is_strlist(const json_t *v)
{
    size_t i;
    json_t *x;
    if (!json_is_array(v))
        return false;
    json_array_foreach((json_t *)v, i, x)
    {
        if (!json_is_string(x))
            return false;
    }
    return true;
}

static int check_rule(const struct dc_rule *r, const json_t *v, char *msg, size_t msglen)
{
    char b[80];
    switch (r->type) {
    case DC_INT:
        if (!json_is_integer(v) || json_integer_value(v) < r->min ||
            json_integer_value(v) > r->max) {
            if (r->max == INT64_MAX)
                set_msg(msg, msglen, "%s: expected an integer >= %lld, got %s", r->path,
                        (long long)r->min, show(v, b, sizeof(b)));
            else
                set_msg(msg, msglen, "%s: expected an integer between %lld and %lld, got %s",
                        r->path, (long long)r->min, (long long)r->max, show(v, b, sizeof(b)));
            return 422;
        }
        return 0;
    case DC_BOOL:
        if (json_is_boolean(v))
            return 0;
        set_msg(msg, msglen, "%s: expected true or false, got %s", r->path, show(v, b, sizeof(b)));
        return 422;
    case DC_OBJECT:
        if (json_is_object(v))
            return 0;
        set_msg(msg, msglen, "%s: expected an object, got %s", r->path, show(v, b, sizeof(b)));
        return 422;
    case DC_ARRAY:
        if (json_is_array(v))
            return 0;
        set_msg(msg, msglen, "%s: expected a list, got %s", r->path, show(v, b, sizeof(b)));
        return 422;
    case DC_STRLIST:
        if (is_strlist(v))
            return 0;
        set_msg(msg, msglen, "%s: expected a list of strings, got %s", r->path,
                show(v, b, sizeof(b)));
        return 422;
    case DC_STRING:
        if (json_is_string(v))
            return 0;
        set_msg(msg, msglen, "%s: expected a string, got %s", r->path, show(v, b, sizeof(b)));
        return 422;
    case DC_SCALAR:
        if (json_is_string(v) || (json_is_integer(v) && json_integer_value(v) >= r->min &&
                                  json_integer_value(v) <= r->max))
            return 0;
        set_msg(msg, msglen, "%s: expected a string or an integer >= %lld, got %s", r->path,
                (long long)r->min, show(v, b, sizeof(b)));
        return 422;
    case DC_PARAMS: {
        if (!json_is_object(v)) {
            set_msg(msg, msglen, "%s: expected an object, got %s", r->path, show(v, b, sizeof(b)));
            return 422;
        }
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x)) {
                set_msg(msg, msglen, "%s.%s: expected a string, number or boolean, got %s", r->path,
                        k, show(x, b, sizeof(b)));
                return 422;
            }
        }
        return 0;
    }
    }
    return 0;
}

static int64_t int_or(const json_t *cfg, const char *key, int64_t def)
{
    const json_t *v = json_object_get(cfg, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

int control_validate_dynamic_config(const json_t *cfg, char *msg, size_t msglen)
{
    set_msg(msg, msglen, "%s", "");
    if (!json_is_object(cfg)) {
        set_msg(msg, msglen, "the dynamic configuration must be a JSON object");
        return 400;
    }
    for (size_t i = 0; i < sizeof(dc_rules) / sizeof(dc_rules[0]); i++) {
        const json_t *v = get_path(cfg, dc_rules[i].path);
        int rc = v ? check_rule(&dc_rules[i], v, msg, msglen) : 0;
        if (rc)
            return rc;
    }
    /* Patroni's documented rule (the leader must renew its lock at least once, with retries,
     * within ttl); absent keys take Patroni's defaults. */
    int64_t ttl = int_or(cfg, "ttl", 30), lw = int_or(cfg, "loop_wait", 10),
            rt = int_or(cfg, "retry_timeout", 10);
    if (lw + 2 * rt > ttl) {
        set_msg(msg, msglen,
                "loop_wait + 2*retry_timeout must not exceed ttl: %lld + 2*%lld > %lld; raise "
                "ttl or lower loop_wait or retry_timeout",
                (long long)lw, (long long)rt, (long long)ttl);
        return 422;
    }
    return 0;
}

/* PostgreSQL's postmaster-context parameters (pg_settings.context = 'postmaster'), 9.6 to
 * 18, lower case. A change takes effect only after a restart. */
static const char *const restart_params[] = {
    "archive_mode",
    "autovacuum_freeze_max_age",
    "autovacuum_max_workers",
    "autovacuum_multixact_freeze_max_age",
    "autovacuum_worker_slots",
    "bonjour",
    "bonjour_name",
    "cluster_name",
    "commit_timestamp_buffers",
    "config_file",
    "data_directory",
    "data_sync_retry",
    "debug_io_direct",
    "dynamic_shared_memory_type",
    "event_source",
    "external_pid_file",
    "hba_file",
    "hot_standby",
    "huge_page_size",
    "huge_pages",
    "ident_file",
    "io_max_combine_limit",
    "io_max_concurrency",
    "io_method",
    "jit_provider",
    "listen_addresses",
    "logging_collector",
    "max_connections",
    "max_files_per_process",
    "max_locks_per_transaction",
    "max_logical_replication_workers",
    "max_notify_queue_pages",
    "max_pred_locks_per_transaction",
    "max_prepared_transactions",
    "max_replication_slots",
    "max_wal_senders",
    "max_worker_processes",
    "min_dynamic_shared_memory",
    "multixact_member_buffers",
    "multixact_offset_buffers",
    "notify_buffers",
    "old_snapshot_threshold",
    "port",
    "reserved_connections",
    "serializable_buffers",
    "shared_buffers",
    "shared_memory_type",
    "shared_preload_libraries",
    "subtransaction_buffers",
    "superuser_reserved_connections",
    "track_activity_query_size",
    "track_commit_timestamp",
    "transaction_buffers",
    "unix_socket_directories",
    "unix_socket_directory",
    "unix_socket_group",
    "unix_socket_permissions",
    "wal_buffers",
    "wal_decode_buffer_size",
    "wal_level",
    "wal_log_hints",
};

bool control_param_needs_restart(const char *name)
{
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof(restart_params) / sizeof(restart_params[0]); i++)
        if (strcasecmp(name, restart_params[i]) == 0)
            return true;
    return false;
}
