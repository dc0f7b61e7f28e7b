/* health: Patroni's health-check decisions and status body, as pure functions (health.h).
 *
 * The rules follow patroni/api.py of Patroni 3.0 (RestApiHandler.do_GET, do_GET_liveness,
 * do_GET_readiness, get_postgresql_status, _write_status_response) and its helpers
 * (utils.parse_int for `lag`, urllib's parse_qs for the query string). Where raftgres knows
 * less than Patroni (the `replication` list of WAL senders) the key is left out, never
 * invented. Where it decides differently, on purpose, the comment says "raftgres:". */
#include "http/health.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- words ----------------------------------------------------------------------------- */

/* Patroni answers from a query when PostgreSQL is running or starting and the query works;
 * here "the query works" is: the daemon knows whether it is in recovery. */
static bool queryable(const struct pg_status *st)
{
    return (st->state == PGS_RUNNING || st->state == PGS_STARTING) &&
           (st->is_primary || st->in_recovery);
}

/* The "state" of the body: a running server whose status is not known is "unknown", as
 * when Patroni's status query fails. */
static const char *body_state(const struct pg_status *st)
{
    if (st->state == PGS_RUNNING && !queryable(st))
        return "unknown";
    return pg_run_state_name(st->state);
}

/* The "role" of the body. From the server when it answers (pg_is_in_recovery()), else
 * Patroni's remembered role, which for raftgres is: no data directory "uninitialized", the
 * lock holder "master" (or "standby_leader"), anyone else "replica". */
static const char *body_role(const struct pg_status *st, const struct health_ctx *ctx)
{
    if (queryable(st)) {
        if (st->is_primary)
            return "master";
        return ctx->standby_cluster && st->i_hold_lock ? "standby_leader" : "replica";
    }
    if (!st->data_exists)
        return "uninitialized";
    if (st->i_hold_lock)
        return ctx->standby_cluster ? "standby_leader" : "master";
    return "replica";
}

/* ---- values as Python prints them ------------------------------------------------------ */

/* str(datetime) of an aware UTC datetime: "2024-01-02 03:04:05.678000+00:00", without the
 * fraction when it is zero; json.dumps(default=str) writes it so. 0 is None (null). */
static json_t *py_datetime(int64_t ms)
{
    if (ms == 0)
        return json_null();
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return json_null();
    char buf[64];
    if (rem)
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem * 1000);
    else
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d+00:00", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return json_string(buf);
}

/* A bounded output buffer; an overflowing text is marked and never matches anything. */
struct sbuf {
    char b[FSM_TAGS_MAX * 2];
    size_t n;
    bool overflow;
};

static void sb_putn(struct sbuf *sb, const char *s, size_t n)
{
    if (sb->overflow || n >= sizeof(sb->b) - sb->n) {
        sb->overflow = true;
        return;
    }
    memcpy(sb->b + sb->n, s, n);
    sb->n += n;
    sb->b[sb->n] = '\0';
}

static void sb_puts(struct sbuf *sb, const char *s)
{
    sb_putn(sb, s, strlen(s));
}

/* repr(float): the shortest digits that read back to the same double, in fixed notation
 * when the decimal exponent is in [-4, 16), else as d.ddde+XX. */
static void py_float_repr(struct sbuf *sb, double v)
{
    char e[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is [-]d[.ddd]e[+-]XX: split it into sign, digits and exponent. */
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    char digits[24];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p) && nd < sizeof(digits) - 1)
            digits[nd++] = *p;
    digits[nd] = '\0';
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    if (neg)
        sb_puts(sb, "-");
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            sb_puts(sb, "0.");
            for (int i = -1; i > exp; i--)
                sb_puts(sb, "0");
            sb_puts(sb, digits);
        } else {
            size_t intlen = (size_t)exp + 1;
            for (size_t i = 0; i < intlen; i++)
                sb_putn(sb, i < nd ? &digits[i] : "0", 1);
            sb_puts(sb, ".");
            sb_puts(sb, nd > intlen ? digits + intlen : "0");
        }
    } else {
        sb_putn(sb, digits, 1);
        if (nd > 1) {
            sb_puts(sb, ".");
            sb_puts(sb, digits + 1);
        }
        char x[16];
        snprintf(x, sizeof(x), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        sb_puts(sb, x);
    }
}

/* repr(str) for the ASCII cases: single quotes unless the text has a single quote and no
 * double quote; backslash escapes for the quote, backslash and control characters. */
static void py_str_repr(struct sbuf *sb, const char *s)
{
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    sb_putn(sb, &q, 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char x[8];
        if (c == (unsigned char)q || c == '\\') {
            x[0] = '\\';
            x[1] = (char)c;
            sb_putn(sb, x, 2);
        } else if (c == '\n') {
            sb_puts(sb, "\\n");
        } else if (c == '\r') {
            sb_puts(sb, "\\r");
        } else if (c == '\t') {
            sb_puts(sb, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(x, sizeof(x), "\\x%02x", c);
            sb_puts(sb, x);
        } else {
            sb_putn(sb, (const char *)&c, 1);
        }
    }
    sb_putn(sb, &q, 1);
}

/* str(v) of the Python value json.loads would give for V (repr inside containers). */
static void py_str(struct sbuf *sb, const json_t *v, bool nested)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (nested)
            py_str_repr(sb, json_string_value(v));
        else
            sb_putn(sb, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        char x[32];
        snprintf(x, sizeof(x), "%lld", (long long)json_integer_value(v));
        sb_puts(sb, x);
        break;
    }
    case JSON_REAL:
        py_float_repr(sb, json_real_value(v));
        break;
    case JSON_TRUE:
        sb_puts(sb, "True");
        break;
    case JSON_FALSE:
        sb_puts(sb, "False");
        break;
    case JSON_NULL:
        sb_puts(sb, "None");
        break;
    case JSON_ARRAY: {
        sb_puts(sb, "[");
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i)
                sb_puts(sb, ", ");
            py_str(sb, x, true);
        }
        sb_puts(sb, "]");
        break;
    }
    case JSON_OBJECT: {
        sb_puts(sb, "{");
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first)
                sb_puts(sb, ", ");
            first = false;
            py_str_repr(sb, k);
            sb_puts(sb, ": ");
            py_str(sb, x, true);
        }
        sb_puts(sb, "}");
        break;
    }
    }
}

/* Python truthiness of a JSON value. */
static bool py_truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_TRUE:
        return true;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    case JSON_FALSE:
    case JSON_NULL:
    default:
        return false;
    }
}

/* ---- tags ------------------------------------------------------------------------------ */

/* Patroni's self.tags: the configured tags without the four boolean tags whose value is
 * false (Patroni.get_tags). New reference to an object (possibly empty), NULL if none or
 * not a JSON object. */
static json_t *effective_tags(const char *tags_json)
{
    if (!tags_json || !tags_json[0])
        return NULL;
    json_t *all = json_loads(tags_json, JSON_DECODE_ANY, NULL);
    if (!json_is_object(all)) {
        json_decref(all);
        return NULL;
    }
    static const char *const bool_tags[] = {"clonefrom", "nofailover", "noloadbalance", "nosync"};
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(all, k, v)
    {
        bool drop = false;
        for (size_t i = 0; i < sizeof(bool_tags) / sizeof(bool_tags[0]); i++)
            if (strcmp(k, bool_tags[i]) == 0 && !py_truthy(v))
                drop = true;
        if (!drop && out)
            json_object_set(out, k, v);
    }
    json_decref(all);
    return out;
}

/* Does the member's tag KEY have the value VAL (the query's string)? Patroni compares the
 * string itself for strings and str(value).lower() for anything else; a missing or null
 * tag never matches. */
static bool tag_matches(const json_t *tags, const char *key, size_t klen, const char *val,
                        size_t vlen)
{
    if (!tags || memchr(key, '\0', klen))
        return false;
    const json_t *v = json_object_getn(tags, key, klen);
    if (!v || json_is_null(v))
        return false;
    struct sbuf sb;
    sb.n = 0;
    sb.overflow = false;
    sb.b[0] = '\0';
    py_str(&sb, v, false);
    if (sb.overflow)
        return false;
    if (!json_is_string(v))
        for (size_t i = 0; i < sb.n; i++)
            sb.b[i] = (char)tolower((unsigned char)sb.b[i]);
    return sb.n == vlen && memcmp(sb.b, val, vlen) == 0;
}

/* ---- sizes: Patroni's parse_int(value, 'B') -------------------------------------------- */

/* str.isspace() for ASCII: \t \n \v \f \r, the separators \x1c-\x1f and space. */
static bool py_space(unsigned char c)
{
    return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f);
}

static void py_strip(const char **s, size_t *n)
{
    while (*n && py_space((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && py_space((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* utils.strtol: HEX_RE ^[-+]?0x[0-9a-fA-F]+, OCT_RE ^[-+]?0[0-7]*, DEC_RE
 * ^[-+]?(0|[1-9][0-9]*), tried in that order on the stripped text. Saturates instead of
 * growing without bound as Python's int does. Returns false when nothing matches. */
static bool py_strtol(const char *s, size_t n, long long *val, size_t *end)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    int base;
    if (i + 2 < n && s[i] == '0' && s[i + 1] == 'x' && digit_value(s[i + 2]) < 16) {
        base = 16;
        i += 2;
    } else if (i < n && s[i] == '0') {
        base = 8;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        base = 10;
    } else {
        return false;
    }
    unsigned long long mag = 0;
    bool sat = false;
    for (; i < n && digit_value(s[i]) < base; i++) {
        unsigned d = (unsigned)digit_value(s[i]);
        if (mag > (ULLONG_MAX - d) / (unsigned)base)
            sat = true;
        else
            mag = mag * (unsigned)base + d;
    }
    if (sat || mag > (unsigned long long)LLONG_MAX)
        mag = (unsigned long long)LLONG_MAX;
    *val = neg ? -(long long)mag : (long long)mag;
    *end = i;
    return true;
}

/* utils.strtod: DBL_RE ^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)? with the regex's
 * backtracking spelled out: "d.f", else "d", else ".f"; then an optional exponent. */
static bool py_strtod(const char *s, size_t n, double *val, size_t *end)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    size_t d0 = i;
    while (i < n && isdigit((unsigned char)s[i]))
        i++;
    size_t nd = i - d0;
    if (i + 1 < n && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
        i++;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    } else if (nd == 0) {
        return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '-' || s[j] == '+'))
            j++;
        if (j < n && isdigit((unsigned char)s[j])) {
            while (j < n && isdigit((unsigned char)s[j]))
                j++;
            i = j;
        }
    }
    char buf[128];
    if (i >= sizeof(buf))
        return false; /* no size needs 128 characters */
    memcpy(buf, s, i);
    buf[i] = '\0';
    *val = strtod(buf, NULL);
    *end = i;
    return true;
}

/* Python's round(): to the nearest integer, halves to even. Adding and removing 2^52
 * does it in the default rounding mode without libm (as nearbyint() would). */
static double round_half_even(double v)
{
    const double two52 = 4503599627370496.0;
    if (v != v || v >= two52 || v <= -two52)
        return v; /* NaN, or already an integer */
    if (v >= 0)
        return (v + two52) - two52;
    return -((-v + two52) - two52);
}

/* int(rint(v)), saturated to the range of long long. */
static long long py_int_rint(double v)
{
    double r = round_half_even(v);
    if (r != r)
        return 0;
    if (r >= 9223372036854775807.0)
        return LLONG_MAX;
    if (r <= -9223372036854775808.0)
        return LLONG_MIN;
    return (long long)r;
}

/* parse_int(value, 'B'): true and *out on success, false where Patroni returns None. */
static bool parse_bytes(const char *s, size_t n, long long *out)
{
    if (!s || memchr(s, '\0', n))
        return false;
    py_strip(&s, &n);
    long long ival = 0;
    double dval = 0;
    bool is_int = false, ok;
    size_t end = 0;
    ok = py_strtol(s, n, &ival, &end);
    is_int = ok;
    const char *unit = ok ? s + end : s;
    size_t ulen = ok ? n - end : n;
    if ((!ok && ulen && unit[0] == '.') ||
        (ulen && (unit[0] == '.' || unit[0] == 'e' || unit[0] == 'E'))) {
        ok = py_strtod(s, n, &dval, &end);
        is_int = false;
        unit = ok ? s + end : s;
        ulen = ok ? n - end : n;
    }
    if (!ok)
        return false;
    py_strip(&unit, &ulen);
    if (ulen == 0) {
        *out = is_int ? ival : py_int_rint(dval);
        return true;
    }
    /* convert_to_base_unit(val, unit, 'B'): multiply (as a float), then round to the
     * next smaller unit, then to an integer. */
    static const struct {
        const char *name;
        double mult;
    } units[] = {{"B", 1.0},
                 {"kB", 1024.0},
                 {"MB", 1048576.0},
                 {"GB", 1073741824.0},
                 {"TB", 1099511627776.0}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ulen != strlen(units[i].name) || memcmp(unit, units[i].name, ulen) != 0)
            continue;
        double v = (is_int ? (double)ival : dval) * units[i].mult;
        if (i > 0) {
            double m = units[i - 1].mult;
            v = round_half_even(v / m) * m;
        }
        *out = py_int_rint(v);
        return true;
    }
    return false;
}

long long health_parse_size(const char *s)
{
    long long v;
    if (!s || !parse_bytes(s, strlen(s), &v) || v < 0)
        return -1;
    return v;
}

/* ---- query string: urllib.parse.parse_qs ----------------------------------------------- */

struct qs_pair {
    const char *key, *val;
    size_t klen, vlen;
};

struct qs {
    struct qs_pair *p;
    size_t n;
    char *buf;
};

/* Decode one component: '+' is a space, %XX a byte, anything else itself. */
static size_t qs_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && digit_value(s[i + 1]) < 16 &&
                   digit_value(s[i + 2]) < 16) {
            out[o++] = (char)(digit_value(s[i + 1]) * 16 + digit_value(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

/* Split on '&'; a field without '=' or with an empty value is dropped (keep_blank_values
 * is false). Returns false only when out of memory. */
static bool qs_parse(const char *q, size_t qlen, struct qs *out)
{
    memset(out, 0, sizeof(*out));
    if (!q || qlen == 0)
        return true;
    size_t fields = 1;
    for (size_t i = 0; i < qlen; i++)
        fields += q[i] == '&';
    out->p = calloc(fields, sizeof(*out->p));
    out->buf = malloc(qlen + 2 * fields + 1);
    if (!out->p || !out->buf) {
        free(out->p);
        free(out->buf);
        memset(out, 0, sizeof(*out));
        return false;
    }
    char *b = out->buf;
    size_t start = 0;
    while (start <= qlen) {
        const char *f = q + start;
        const char *amp = memchr(f, '&', qlen - start);
        size_t flen = amp ? (size_t)(amp - f) : qlen - start;
        const char *eq = memchr(f, '=', flen);
        if (eq && (size_t)(eq - f) + 1 < flen) {
            struct qs_pair *p = &out->p[out->n++];
            p->key = b;
            p->klen = qs_decode(f, (size_t)(eq - f), b);
            b += p->klen + 1;
            p->val = b;
            p->vlen = qs_decode(eq + 1, flen - (size_t)(eq - f) - 1, b);
            b += p->vlen + 1;
        }
        start += flen + 1;
    }
    return true;
}

static void qs_free(struct qs *q)
{
    free(q->p);
    free(q->buf);
}

/* The first value of KEY, as parse_qs(...)[key][0]; NULL if absent. */
static const struct qs_pair *qs_get(const struct qs *q, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < q->n; i++)
        if (q->p[i].klen == kl && memcmp(q->p[i].key, key, kl) == 0)
            return &q->p[i];
    return NULL;
}

/* Every tag_<key>=<value> of the query (first value of each key) matches the member's
 * tags. */
static bool tags_match(const struct qs *q, const json_t *tags)
{
    for (size_t i = 0; i < q->n; i++) {
        const struct qs_pair *p = &q->p[i];
        if (p->klen < 4 || memcmp(p->key, "tag_", 4) != 0)
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = q->p[j].klen == p->klen && memcmp(q->p[j].key, p->key, p->klen) == 0;
        if (seen)
            continue;
        if (!tag_matches(tags, p->key + 4, p->klen - 4, p->val, p->vlen))
            return false;
    }
    return true;
}

/* ---- the status body ------------------------------------------------------------------- */

static bool is_sync_standby(const struct pg_status *st, const struct health_ctx *ctx)
{
    if (!ctx->dcs_available || !ctx->synchronous_mode || !ctx->name)
        return false;
    for (size_t i = 0; i < ctx->n_sync_members; i++)
        if (ctx->sync_members[i] && strcmp(ctx->sync_members[i], ctx->name) == 0)
            return queryable(st) && strcmp(body_role(st, ctx), "replica") == 0;
    return false;
}

/* Patroni 3.0.4+'s replication_state of a replica: "streaming" with a WAL receiver,
 * "in archive recovery" without one when restore_command is set; NULL otherwise. */
static const char *replication_state(const struct pg_status *st, const struct health_ctx *ctx)
{
    if (!queryable(st) || st->is_primary)
        return NULL;
    if (st->streaming)
        return "streaming";
    return ctx->has_restore_command ? "in archive recovery" : NULL;
}

json_t *health_patroni_json(const struct pg_status *st, const struct health_ctx *ctx)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    const char *role = body_role(st, ctx);
    json_object_set_new(o, "state", json_string(body_state(st)));
    if (queryable(st)) {
        json_object_set_new(o, "postmaster_start_time", py_datetime(st->postmaster_start_time_ms));
        json_object_set_new(o, "role", json_string(role));
        json_object_set_new(o, "server_version", json_integer(st->server_version));
        if (st->is_primary) {
            json_object_set_new(o, "xlog",
                                json_pack("{s:I}", "location", (json_int_t)st->write_lsn));
        } else {
            /* received_location is "receive or replay": 0 when nothing was streamed. */
            uint64_t recv = st->receive_lsn ? st->receive_lsn : st->replay_lsn;
            json_object_set_new(
                o, "xlog",
                json_pack("{s:I, s:I, s:o, s:b}", "received_location", (json_int_t)recv,
                          "replayed_location", (json_int_t)st->replay_lsn, "replayed_timestamp",
                          py_datetime(st->replay_timestamp_ms), "paused", st->replay_paused));
        }
        if (is_sync_standby(st, ctx))
            json_object_set_new(o, "sync_standby", json_true());
        /* A primary reports its timeline; a replica the cached one, None when unknown. */
        json_object_set_new(o, "timeline",
                            st->timeline || st->is_primary ? json_integer(st->timeline)
                                                           : json_null());
        const char *rs = replication_state(st, ctx);
        if (rs)
            json_object_set_new(o, "replication_state", json_string(rs));
    } else {
        json_object_set_new(o, "role", json_string(role));
    }
    if (!ctx->dcs_available || st->cluster_unlocked)
        json_object_set_new(o, "cluster_unlocked", json_true());
    json_object_set_new(o, "dcs_last_seen", json_integer(ctx->dcs_last_seen_s));

    json_t *tags = effective_tags(st->tags_json);
    if (tags && json_object_size(tags) > 0)
        json_object_set(o, "tags", tags);
    json_decref(tags);
    if (st->sysid[0])
        json_object_set_new(o, "database_system_identifier", json_string(st->sysid));
    if (st->pending_restart)
        json_object_set_new(o, "pending_restart", json_true());
    json_object_set_new(o, "patroni",
                        json_pack("{s:s, s:s, s:s}", "version", ctx->version ? ctx->version : "",
                                  "scope", ctx->scope ? ctx->scope : "", "name",
                                  ctx->name ? ctx->name : ""));
    if (st->paused)
        json_object_set_new(o, "pause", json_true());
    return o;
}

/* ---- paths ----------------------------------------------------------------------------- */

static bool has(const char *p, size_t n, const char *word)
{
    return memmem(p, n, word, strlen(word)) != NULL;
}

static bool is(const char *p, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(p, word, n) == 0;
}

enum health_kind health_kind_of(const char *path, size_t len)
{
    if (!path || len == 0)
        return HEALTH_NONE;
    /* Patroni first looks for a handler named after the first segment (leading slashes
     * stripped): those are not matched by substring. */
    size_t s = 0;
    while (s < len && path[s] == '/')
        s++;
    const char *seg = path + s;
    const char *slash = memchr(seg, '/', len - s);
    size_t seglen = slash ? (size_t)(slash - seg) : len - s;
    if (is(seg, seglen, "liveness"))
        return HEALTH_LIVENESS;
    if (is(seg, seglen, "readiness"))
        return HEALTH_READINESS;
    if (is(seg, seglen, "patroni"))
        return HEALTH_PATRONI;
    static const char *const other_handlers[] = {"cluster", "history", "config", "metrics",
                                                 "failsafe"};
    for (size_t i = 0; i < sizeof(other_handlers) / sizeof(other_handlers[0]); i++)
        if (is(seg, seglen, other_handlers[i]))
            return HEALTH_NONE;

    if (is(path, len, "/"))
        return HEALTH_PRIMARY;
    if (has(path, len, "standby_leader") || has(path, len, "standby-leader"))
        return HEALTH_STANDBY_LEADER;
    if (has(path, len, "leader"))
        return HEALTH_LEADER;
    if (has(path, len, "master") || has(path, len, "primary") || has(path, len, "read-write"))
        return HEALTH_PRIMARY;
    if (has(path, len, "replica"))
        return HEALTH_REPLICA;
    if (has(path, len, "read-only") && !has(path, len, "sync"))
        return HEALTH_READ_ONLY;
    if (has(path, len, "health"))
        return HEALTH_HEALTH;
    if (is(path, len, "/sync") || is(path, len, "/synchronous"))
        return HEALTH_SYNC;
    if (is(path, len, "/async") || is(path, len, "/asynchronous"))
        return HEALTH_ASYNC;
    if (is(path, len, "/read-only-sync") || is(path, len, "/read-only-synchronous"))
        return HEALTH_READ_ONLY_SYNC;
    return HEALTH_NONE;
}

/* ---- decisions ------------------------------------------------------------------------- */

/* do_GET_liveness: the HA loop ran recently enough (ttl on a running primary, 2*ttl
 * elsewhere), or the cluster is paused. */
static int liveness(const struct pg_status *st, const struct health_ctx *ctx)
{
    int64_t threshold_ms = (int64_t)ctx->ttl_s * 1000 * (st->is_primary ? 1 : 2);
    if (st->paused || ctx->next_run_ms == 0 || ctx->next_run_ms + threshold_ms > ctx->now_ms)
        return 200;
    return 503;
}

/* do_GET_readiness (Patroni 3.0): the leader, or PostgreSQL running while the cluster state
 * is reachable. */
static int readiness(const struct pg_status *st, const struct health_ctx *ctx)
{
    if (st->lease_valid)
        return 200;
    if (st->state == PGS_RUNNING)
        return ctx->dcs_available ? 200 : 503;
    return 503;
}

/* do_GET, for every kind it serves. */
static int check(enum health_kind kind, const struct qs *q, const struct pg_status *st,
                 const struct health_ctx *ctx)
{
    const char *role = body_role(st, ctx);
    bool running = strcmp(body_state(st), "running") == 0;
    /* raftgres: "primary" means PostgreSQL answers as a primary, not only the role
     * remembered from before it stopped. */
    bool pg_primary = running && st->is_primary;
    bool is_master = strcmp(role, "master") == 0;
    bool is_replica = strcmp(role, "replica") == 0;
    bool is_standby_leader = strcmp(role, "standby_leader") == 0;

    /* ?lag=: leader optime > replayed + max; unknown optime is never lagging, an
     * unparsable value is ignored. */
    bool lagging = false;
    const struct qs_pair *lag = qs_get(q, "lag");
    long long max_lag;
    if (lag && parse_bytes(lag->val, lag->vlen, &max_lag) && st->lag_known && is_replica)
        lagging = max_lag < 0 || st->replication_lag > (unsigned long long)max_lag;

    /* ?replication_state= (Patroni 3.0.4+): must equal the member's replication state. */
    bool state_matches = true;
    const struct qs_pair *want = qs_get(q, "replication_state");
    if (want) {
        const char *rs = replication_state(st, ctx);
        state_matches = rs && strlen(rs) == want->vlen && memcmp(rs, want->val, want->vlen) == 0;
    }

    bool replica_ok = !st->tags.noloadbalance && !lagging && is_replica && running && state_matches;
    bool leader_ok, primary_ok, standby_leader_ok;
    /* The leader lock as Patroni's ha.is_leader() sees it: held, and not expired by this
     * member's own clock; raftgres's lease_valid is exactly that. */
    bool leader = st->lease_valid;
    if (!ctx->dcs_available && st->paused) {
        /* Patroni answers from the role alone here; raftgres: still only with the lease. */
        leader_ok = leader && (is_master || is_standby_leader);
        primary_ok = leader && pg_primary;
        standby_leader_ok = leader && is_standby_leader;
    } else if (leader) {
        leader_ok = true;
        if (ctx->standby_cluster) {
            primary_ok = replica_ok = false;
            standby_leader_ok = is_replica || is_standby_leader;
        } else {
            /* raftgres: the lock alone is not enough, PostgreSQL must run as primary. */
            primary_ok = pg_primary;
            standby_leader_ok = false;
        }
    } else {
        leader_ok = primary_ok = standby_leader_ok = false;
    }

    bool ok = false, ignore_tags = false;
    bool sync = is_sync_standby(st, ctx);
    switch (kind) {
    case HEALTH_STANDBY_LEADER:
        ok = standby_leader_ok;
        ignore_tags = true;
        break;
    case HEALTH_LEADER:
        ok = leader_ok;
        ignore_tags = true;
        break;
    case HEALTH_PRIMARY:
        ok = primary_ok;
        ignore_tags = true;
        break;
    case HEALTH_REPLICA:
        ok = replica_ok;
        break;
    case HEALTH_READ_ONLY:
        ok = primary_ok || standby_leader_ok || replica_ok;
        break;
    case HEALTH_HEALTH:
        ok = running;
        break;
    case HEALTH_SYNC:
        ok = ctx->dcs_available && sync && replica_ok;
        break;
    case HEALTH_ASYNC:
        ok = ctx->dcs_available && !sync && replica_ok;
        break;
    case HEALTH_READ_ONLY_SYNC:
        ok = ctx->dcs_available && (primary_ok || standby_leader_ok || (sync && replica_ok));
        break;
    default:
        ok = false;
        break;
    }
    if (ok && !ignore_tags) {
        json_t *tags = effective_tags(st->tags_json);
        ok = tags_match(q, tags);
        json_decref(tags);
    }
    return ok ? 200 : 503;
}

int health_check(enum health_kind kind, const char *query, size_t qlen, const struct pg_status *st,
                 const struct health_ctx *ctx, json_t **body)
{
    *body = NULL;
    switch (kind) {
    case HEALTH_LIVENESS:
        return liveness(st, ctx);
    case HEALTH_READINESS:
        return readiness(st, ctx);
    case HEALTH_PATRONI:
        *body = health_patroni_json(st, ctx);
        return 200;
    default:
        break;
    }
    struct qs q;
    if (!qs_parse(query, qlen, &q))
        return 503; /* out of memory: the safe answer for a health check */
    int status = check(kind, &q, st, ctx);
    qs_free(&q);
    *body = health_patroni_json(st, ctx);
    return status;
}
