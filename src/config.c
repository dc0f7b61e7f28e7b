/* Configuration loading: YAML (libyaml document API) is turned into a small tree that keeps the
 * line and column of every key and value, RAFTGRES_* environment overrides are grafted onto that
 * tree (remembering which variable each node came from), and one walk over the tree, driven by
 * cfg_table (src/config_table.c), checks types and bounds and builds the effective JSON config.
 * Defaults from the table are then filled in, cross-key rules checked, and the typed struct cfg
 * filled from the JSON. Every problem is collected into a cfg_report; nothing stops at the first.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "src/config.h"

#define CFG_MAX_DEPTH  64     /* YAML nesting bound (also stops alias loops) */
#define CFG_MAX_PATH   256    /* longest dotted key path we report */
#define CFG_MAX_DIAGS  1000   /* a runaway file cannot flood the report */
#define CFG_MAX_NODES  100000 /* stops alias fan-out ("billion laughs") */
#define CFG_ENV_PREFIX "RAFTGRES_"

/* ---------------------------------------------------------------------------------------------
 * Report
 */

void cfg_report_free(struct cfg_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].file);
        free(r->items[i].env);
        free(r->items[i].msg);
    }
    free(r->items);
    memset(r, 0, sizeof(*r));
}

void cfg_report_print(const struct cfg_report *r, FILE *out)
{
    for (size_t i = 0; r && i < r->n; i++) {
        const struct cfg_diag *d = &r->items[i];
        const char *sev = d->severity == CFG_ERROR ? "error" : "warning";
        if (d->env)
            fprintf(out, "environment %s: %s: %s\n", d->env, sev, d->msg);
        else if (d->line > 0)
            fprintf(out, "%s:%d:%d: %s: %s\n", d->file ? d->file : "?", d->line, d->column, sev,
                    d->msg);
        else
            fprintf(out, "%s: %s: %s\n", d->file ? d->file : "?", sev, d->msg);
    }
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (!p)
        abort();
    return p;
}

/* ---------------------------------------------------------------------------------------------
 * The tree: YAML with positions. env != NULL marks nodes that came from an environment variable.
 */
enum { N_NULL, N_SCALAR, N_SEQ, N_MAP };

struct cnode {
    int kind;
    char *str;  /* N_SCALAR text */
    bool plain; /* unquoted scalar: subject to YAML 1.1 type resolution */
    int line, col;
    char *key; /* set when the node is a mapping value */
    int kline, kcol;
    char *env;
    struct cnode **kids;
    size_t n, cap;
};

static void node_free(struct cnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n->key);
    free(n->env);
    free(n);
}

static void node_push(struct cnode *p, struct cnode *c)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->kids = realloc(p->kids, p->cap * sizeof(*p->kids));
        if (!p->kids)
            abort();
    }
    p->kids[p->n++] = c;
}

static struct cnode *map_get(const struct cnode *m, const char *key)
{
    if (!m || m->kind != N_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->kids[i]->key, key) == 0)
            return m->kids[i];
    return NULL;
}

/* The node at a dotted path, or NULL. */
static struct cnode *tree_find(const struct cnode *root, const char *path)
{
    char buf[CFG_MAX_PATH];
    snprintf(buf, sizeof(buf), "%s", path);
    const struct cnode *n = root;
    char *save = NULL;
    for (char *t = strtok_r(buf, ".", &save); t && n; t = strtok_r(NULL, ".", &save))
        n = map_get(n, t);
    return (struct cnode *)n;
}

static const char *kind_name(const struct cnode *n)
{
    switch (n->kind) {
    case N_NULL:
        return "an empty value";
    case N_SCALAR:
        return "a scalar";
    case N_SEQ:
        return "a list";
    default:
        return "a mapping";
    }
}

/* ---------------------------------------------------------------------------------------------
 * Load context and diagnostics
 */
struct ctx {
    const char *file;
    struct cfg_report *rep;
    struct cnode *root;
    char **bad; /* paths whose value was rejected: cross-checks skip them */
    size_t nbad;
    size_t nodes; /* tree nodes built so far, bounded by CFG_MAX_NODES */
};

static void vdiag(struct ctx *x, int sev, const char *env, int line, int col, const char *fmt,
                  va_list ap)
{
    struct cfg_report *r = x->rep;
    if (r->n >= CFG_MAX_DIAGS)
        return;
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    r->items = realloc(r->items, (r->n + 1) * sizeof(*r->items));
    if (!r->items)
        abort();
    struct cfg_diag *d = &r->items[r->n++];
    d->severity = sev;
    d->file = env ? NULL : xstrdup(x->file);
    d->env = xstrdup(env);
    d->line = env ? 0 : line;
    d->column = env ? 0 : col;
    d->msg = msg;
    if (sev == CFG_ERROR)
        r->n_errors++;
    else
        r->n_warnings++;
}

__attribute__((format(printf, 6, 7))) static void diag(struct ctx *x, int sev, const char *env,
                                                       int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(x, sev, env, line, col, fmt, ap);
    va_end(ap);
}

/* At the value of node n. */
__attribute__((format(printf, 4, 5))) static void
diag_val(struct ctx *x, int sev, const struct cnode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(x, sev, n->env, n->line, n->col, fmt, ap);
    va_end(ap);
}

/* At the key of node n (its value when it has no key). */
__attribute__((format(printf, 4, 5))) static void
diag_key(struct ctx *x, int sev, const struct cnode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (n->kline > 0)
        vdiag(x, sev, n->env, n->kline, n->kcol, fmt, ap);
    else
        vdiag(x, sev, n->env, n->line, n->col, fmt, ap);
    va_end(ap);
}

static void mark_bad(struct ctx *x, const char *path)
{
    x->bad = realloc(x->bad, (x->nbad + 1) * sizeof(*x->bad));
    if (!x->bad)
        abort();
    x->bad[x->nbad++] = xstrdup(path);
}

static bool is_bad(const struct ctx *x, const char *path)
{
    for (size_t i = 0; i < x->nbad; i++)
        if (strcmp(x->bad[i], path) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * YAML → tree
 */
static bool is_null_text(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static struct cnode *from_yaml(struct ctx *x, yaml_document_t *d, yaml_node_t *yn, int depth,
                               const char *env)
{
    struct cnode *n = xcalloc(1, sizeof(*n));
    n->line = (int)yn->start_mark.line + 1;
    n->col = (int)yn->start_mark.column + 1;
    n->env = xstrdup(env);
    if (depth > CFG_MAX_DEPTH) {
        diag_val(x, CFG_ERROR, n, "nesting deeper than %d levels (recursive alias?)",
                 CFG_MAX_DEPTH);
        n->kind = N_NULL;
        return n;
    }
    if (++x->nodes > CFG_MAX_NODES) {
        if (x->nodes == CFG_MAX_NODES + 1)
            diag_val(x, CFG_ERROR, n, "more than %d values (aliases expanding too much?)",
                     CFG_MAX_NODES);
        n->kind = N_NULL;
        return n;
    }
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)yn->data.scalar.value;
        n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (n->plain && is_null_text(s)) {
            n->kind = N_NULL;
        } else {
            n->kind = N_SCALAR;
            n->str = xstrdup(s);
        }
        break;
    }
    case YAML_SEQUENCE_NODE:
        n->kind = N_SEQ;
        for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top;
             it++)
            node_push(n, from_yaml(x, d, yaml_document_get_node(d, *it), depth + 1, env));
        break;
    case YAML_MAPPING_NODE:
        n->kind = N_MAP;
        for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(d, p->key);
            yaml_node_t *v = yaml_document_get_node(d, p->value);
            int kl = (int)k->start_mark.line + 1, kc = (int)k->start_mark.column + 1;
            if (k->type != YAML_SCALAR_NODE) {
                diag(x, CFG_ERROR, env, kl, kc, "a key must be a plain string");
                continue;
            }
            const char *ks = (const char *)k->data.scalar.value;
            struct cnode *c = from_yaml(x, d, v, depth + 1, env);
            c->key = xstrdup(ks);
            c->kline = kl;
            c->kcol = kc;
            struct cnode *prev = map_get(n, ks);
            if (prev) {
                diag_key(x, CFG_WARNING, c,
                         "duplicate key '%s' (first at line %d); the later "
                         "value wins",
                         ks, prev->kline);
                for (size_t i = 0; i < n->n; i++)
                    if (n->kids[i] == prev)
                        n->kids[i] = c;
                node_free(prev);
            } else {
                node_push(n, c);
            }
        }
        break;
    default:
        n->kind = N_NULL;
        break;
    }
    return n;
}

/* Parse one YAML document from parser. Returns the tree (N_NULL for an empty document) or NULL
 * after reporting a syntax error. */
static struct cnode *parse_yaml(struct ctx *x, yaml_parser_t *p, const char *env)
{
    yaml_document_t doc;
    if (!yaml_parser_load(p, &doc)) {
        const char *what = p->problem ? p->problem : "cannot parse";
        int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
        if (p->error == YAML_READER_ERROR)
            diag(x, CFG_ERROR, env, 0, 0, "%s at byte %zu", what, p->problem_offset);
        else if (p->context)
            diag(x, CFG_ERROR, env, line, col,
                 "YAML syntax error: %s (%s that starts at line %d, column %d)", what, p->context,
                 (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
        else
            diag(x, CFG_ERROR, env, line, col, "YAML syntax error: %s", what);
        return NULL;
    }
    yaml_node_t *r = yaml_document_get_root_node(&doc);
    struct cnode *n;
    if (!r) {
        n = xcalloc(1, sizeof(*n));
        n->kind = N_NULL;
        n->line = n->col = 1;
        n->env = xstrdup(env);
    } else {
        n = from_yaml(x, &doc, r, 0, env);
    }
    yaml_document_delete(&doc);
    if (r) {
        /* Like PyYAML's safe_load: exactly one document. */
        yaml_document_t more;
        if (yaml_parser_load(p, &more)) {
            yaml_node_t *m = yaml_document_get_root_node(&more);
            if (m)
                diag(x, CFG_ERROR, env, (int)m->start_mark.line + 1, (int)m->start_mark.column + 1,
                     "a second YAML document; the configuration must be a single document");
            yaml_document_delete(&more);
        }
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Scalars
 */
static bool parse_bool_text(const char *s, bool *out)
{
    static const char *const t[] = {"true", "on", "yes", "1"};
    static const char *const f[] = {"false", "off", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, t[i])) {
            *out = true;
            return true;
        }
        if (!strcasecmp(s, f[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Decimal integer, optionally with a PostgreSQL-style size unit (allow_unit). 0 ok, -1 syntax,
 * -2 overflow. */
static int parse_ll(const char *s, bool allow_unit, long long *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || (!isdigit((unsigned char)end[-1])))
        return -1;
    if (errno == ERANGE)
        return -2;
    while (isspace((unsigned char)*end))
        end++;
    if (*end) {
        static const struct {
            const char *u;
            int shift;
        } units[] = {{"B", 0}, {"kB", 10}, {"MB", 20}, {"GB", 30}, {"TB", 40}};
        size_t i;
        if (!allow_unit)
            return -1;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (!strcmp(end, units[i].u))
                break;
        if (i == sizeof(units) / sizeof(units[0]))
            return -1;
        long long m = 1LL << units[i].shift;
        if (v > LLONG_MAX / m || v < LLONG_MIN / m)
            return -2;
        v *= m;
    }
    *out = v;
    return 0;
}

/* PyYAML-like resolution of plain scalars in free-form subtrees (parameters, tags, users...). */
static json_t *scalar_json(const struct cnode *n)
{
    if (n->kind == N_NULL)
        return json_null();
    if (!n->plain)
        return json_string(n->str);
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No",
                                    "NO",    "off",   "Off",   "OFF"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (!strcmp(n->str, t[i]))
            return json_true();
        if (!strcmp(n->str, f[i]))
            return json_false();
    }
    long long v;
    const char *s = n->str;
    size_t i = (*s == '-' || *s == '+') ? 1 : 0;
    bool digits = s[i] != 0;
    for (size_t j = i; s[j]; j++)
        if (!isdigit((unsigned char)s[j]))
            digits = false;
    if (digits && parse_ll(s, false, &v) == 0)
        return json_integer(v);
    /* float: [-+]?(digits.digits*|.digits)([eE][-+]?digits)? */
    const char *p = s + i;
    size_t nd = 0;
    bool dot = false;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p))
            nd++;
        else if (*p == '.' && !dot)
            dot = true;
        else
            break;
    }
    if (nd && dot) {
        if (*p == 'e' || *p == 'E') {
            p++;
            if (*p == '-' || *p == '+')
                p++;
            if (!isdigit((unsigned char)*p))
                return json_string(s);
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (!*p)
            return json_real(strtod(s, NULL));
    }
    return json_string(s);
}

static json_t *generic_json(const struct cnode *n)
{
    json_t *j;
    switch (n->kind) {
    case N_SEQ:
        j = json_array();
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(j, generic_json(n->kids[i]));
        return j;
    case N_MAP:
        j = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(j, n->kids[i]->key, generic_json(n->kids[i]));
        return j;
    default:
        return scalar_json(n);
    }
}

/* ---------------------------------------------------------------------------------------------
 * host:port
 */
static bool host_chars_ok(const char *h, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c != '*')
            return false;
    }
    return true;
}

/* 0 or -1 with a reason in why. */
static int hostport_check(const char *s, char *host, size_t hostlen, int *port, const char **why)
{
    const char *h, *ps;
    size_t hl;
    *why = NULL;
    if (!s || !*s) {
        *why = "empty";
        return -1;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close) {
            *why = "missing ']' after the IPv6 address";
            return -1;
        }
        if (close[1] != ':') {
            *why = "missing ':port' after ']'";
            return -1;
        }
        h = s + 1;
        hl = (size_t)(close - h);
        ps = close + 2;
        const char *zone = memchr(h, '%', hl); /* fe80::1%eth0: zone id after '%' */
        size_t al = zone ? (size_t)(zone - h) : hl;
        if (zone && (zone + 1 == h + hl || !host_chars_ok(zone + 1, hl - al - 1))) {
            *why = "bad IPv6 zone id after '%'";
            return -1;
        }
        for (size_t i = 0; i < al; i++)
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.') {
                *why = "not an IPv6 address inside [ ]";
                return -1;
            }
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon) {
            *why = "missing ':port'";
            return -1;
        }
        h = s;
        hl = (size_t)(colon - s);
        ps = colon + 1;
        if (memchr(s, ':', hl)) {
            *why = "an IPv6 address needs brackets, e.g. [::1]:5432";
            return -1;
        }
        if (!host_chars_ok(h, hl)) {
            *why = "the host contains characters a host name cannot have";
            return -1;
        }
    }
    if (hl == 0) {
        *why = "the host is empty";
        return -1;
    }
    size_t pl = strlen(ps);
    long v = 0;
    bool ok = pl >= 1 && pl <= 5;
    for (size_t i = 0; ok && i < pl; i++) {
        if (!isdigit((unsigned char)ps[i]))
            ok = false;
        else
            v = v * 10 + (ps[i] - '0');
    }
    if (!ok || v < 1 || v > 65535) {
        *why = "the port must be a number 1..65535";
        return -1;
    }
    if (host) {
        if (hl + 1 > hostlen) {
            *why = "the host is too long";
            return -1;
        }
        memcpy(host, h, hl);
        host[hl] = 0;
    }
    if (port)
        *port = (int)v;
    return 0;
}

int cfg_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *why;
    return hostport_check(s, host, hostlen, port, &why);
}

/* postgresql.listen: "host[,host...]:port"; hosts may be '*'. */
static int listen_check(const char *s, const char **why)
{
    const char *colon = strrchr(s, ':');
    if (!colon || !strchr(s, ',') || strchr(s, '['))
        return hostport_check(s, NULL, 0, NULL, why);
    char buf[512];
    const char *start = s;
    while (start < colon) {
        const char *comma = memchr(start, ',', (size_t)(colon - start));
        const char *stop = comma ? comma : colon;
        while (start < stop && *start == ' ')
            start++;
        int len = snprintf(buf, sizeof(buf), "%.*s%s", (int)(stop - start), start, colon);
        if (len < 0 || (size_t)len >= sizeof(buf)) {
            *why = "too long";
            return -1;
        }
        if (hostport_check(buf, NULL, 0, NULL, why) != 0)
            return -1;
        start = stop + 1;
    }
    return 0;
}

/* Same member? Host compared case-insensitively, then the port. */
static bool same_addr(const char *a, const char *b)
{
    char ha[256], hb[256];
    int pa, pb;
    if (cfg_parse_hostport(a, ha, sizeof(ha), &pa) || cfg_parse_hostport(b, hb, sizeof(hb), &pb))
        return !strcmp(a, b);
    return pa == pb && !strcasecmp(ha, hb);
}

/* ---------------------------------------------------------------------------------------------
 * The walk: typed values per table row
 */
static void join_path(char *out, size_t len, const char *parent, const char *key)
{
    if (*parent)
        snprintf(out, len, "%s.%s", parent, key);
    else
        snprintf(out, len, "%s", key);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagv = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost =
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diagv + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagv = up;
        }
    }
    return row[lb];
}

static void unknown_key(struct ctx *x, const struct cnode *c, const char *parent, const char *path)
{
    static const struct {
        const char *old, *now;
    } renamed[] = {
        {"master_start_timeout", "primary_start_timeout"},
        {"master_stop_timeout", "primary_stop_timeout"},
    };
    for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++)
        if (!strcmp(c->key, renamed[i].old)) {
            diag_key(x, CFG_WARNING, c, "unknown key '%s', ignored: Patroni's old name, use '%s'",
                     path, renamed[i].now);
            return;
        }
    /* The same key known in another section? */
    for (size_t i = 0; i < cfg_table_len; i++) {
        const char *p = cfg_table[i].path;
        const char *dot = strrchr(p, '.');
        const char *last = dot ? dot + 1 : p;
        if (strcmp(last, c->key) != 0)
            continue;
        if (dot)
            diag_key(x, CFG_WARNING, c, "unknown key '%s', ignored (it belongs in '%.*s')", path,
                     (int)(dot - p), p);
        else
            diag_key(x, CFG_WARNING, c, "unknown key '%s', ignored (it belongs at the top level)",
                     path);
        return;
    }
    /* A sibling with a similar name? Short names need a closer match. */
    size_t plen = strlen(parent), best = strlen(c->key) > 5 ? 3 : 2;
    const char *sugg = NULL;
    for (size_t i = 0; i < cfg_table_len; i++) {
        const char *p = cfg_table[i].path;
        const char *last;
        if (plen) {
            if (strncmp(p, parent, plen) != 0 || p[plen] != '.')
                continue;
            last = p + plen + 1;
        } else {
            last = p;
        }
        if (strchr(last, '.'))
            continue;
        size_t d = edit_distance(c->key, last);
        if (d < best) {
            best = d;
            sugg = last;
        }
    }
    if (sugg) {
        diag_key(x, CFG_WARNING, c, "unknown key '%s', ignored (did you mean '%s'?)", path, sugg);
        return;
    }
    diag_key(x, CFG_WARNING, c, "unknown key '%s', ignored", path);
}

/* A section named by bootstrap.method (in bootstrap) or by create_replica_methods (in
 * postgresql) is a custom method's free-form options, as in Patroni. */
static bool is_method_section(const struct ctx *x, const char *parent, const char *key)
{
    if (!strcmp(parent, "bootstrap")) {
        const struct cnode *m = tree_find(x->root, "bootstrap.method");
        return m && m->kind == N_SCALAR && !strcmp(m->str, key);
    }
    if (!strcmp(parent, "postgresql")) {
        static const char *const lists[] = {"postgresql.create_replica_methods",
                                            "bootstrap.dcs.standby_cluster.create_replica_methods"};
        for (size_t l = 0; l < 2; l++) {
            const struct cnode *m = tree_find(x->root, lists[l]);
            for (size_t i = 0; m && m->kind == N_SEQ && i < m->n; i++)
                if (m->kids[i]->kind == N_SCALAR && !strcmp(m->kids[i]->str, key))
                    return true;
        }
    }
    return false;
}

static const char *const rejected_hint =
    "raftgres needs no external store: each raftgres daemon embeds a Raft member. Remove this "
    "section and write a raft: section instead: raft: {data_dir: /var/lib/raftgres/raft, "
    "self_addr: host:port, partner_addrs: [every member incl. this one]}";

static json_t *walk(struct ctx *x, const struct cnode *n, const char *path,
                    const struct cfg_key *k);

static json_t *walk_section(struct ctx *x, const struct cnode *n, const char *path,
                            const struct cfg_key *k)
{
    json_t *obj = json_object();
    if (n->kind == N_NULL)
        return obj;
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *c = n->kids[i];
        char cp[CFG_MAX_PATH];
        join_path(cp, sizeof(cp), path, c->key);
        const struct cfg_key *ck = cfg_table_find(cp);
        json_t *v;
        if (ck) {
            v = walk(x, c, cp, ck);
        } else {
            if (!(k && (k->flags & CFG_F_OPEN)) && !is_method_section(x, path, c->key))
                unknown_key(x, c, path, cp);
            v = generic_json(c);
        }
        if (v)
            json_object_set_new(obj, c->key, v);
    }
    return obj;
}

static void type_error(struct ctx *x, const struct cnode *n, const char *path, const char *want)
{
    mark_bad(x, path);
    if (n->kind == N_SCALAR)
        diag_val(x, CFG_ERROR, n, "%s: expected %s, got '%s'", path, want, n->str);
    else
        diag_val(x, CFG_ERROR, n, "%s: expected %s, got %s", path, want, kind_name(n));
}

static json_t *walk_hostport_list(struct ctx *x, const struct cnode *n, const char *path)
{
    if (n->kind != N_SEQ) {
        type_error(x, n, path, "a list of host:port, e.g. [node1:5010, node2:5010, node3:5010]");
        return NULL;
    }
    json_t *arr = json_array();
    bool ok = true;
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *c = n->kids[i];
        const char *why;
        if (c->kind != N_SCALAR) {
            type_error(x, c, path, "host:port");
            ok = false;
            continue;
        }
        if (hostport_check(c->str, NULL, 0, NULL, &why) != 0) {
            diag_val(x, CFG_ERROR, c, "%s: '%s' is not host:port: %s", path, c->str, why);
            ok = false;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const struct cnode *e = n->kids[j];
            if (e->kind == N_SCALAR && same_addr(e->str, c->str)) {
                diag_val(x, CFG_ERROR, c,
                         "%s: '%s' is listed twice (first at line %d); list "
                         "each member once",
                         path, c->str, e->line);
                ok = false;
                break;
            }
        }
        json_array_append_new(arr, json_string(c->str));
    }
    if (!ok)
        mark_bad(x, path);
    return arr;
}

static json_t *walk(struct ctx *x, const struct cnode *n, const char *path, const struct cfg_key *k)
{
    const char *why;
    long long v;
    bool b;

    if (k->type == CFG_T_REJECTED) {
        mark_bad(x, path);
        diag_key(x, CFG_ERROR, n, "'%s' section: %s", path, rejected_hint);
        return NULL;
    }
    if (n->kind == N_NULL && k->type != CFG_T_SECTION && k->type != CFG_T_MAP)
        return NULL; /* "key:" with no value counts as absent, like a commented-out line */

    switch (k->type) {
    case CFG_T_SECTION:
        if (n->kind != N_MAP && n->kind != N_NULL) {
            type_error(x, n, path, "a section (a mapping of keys)");
            return NULL;
        }
        return walk_section(x, n, path, k);
    case CFG_T_MAP:
        if (n->kind == N_NULL)
            return json_object();
        if (n->kind != N_MAP) {
            type_error(x, n, path, "a mapping");
            return NULL;
        }
        return generic_json(n);
    case CFG_T_LIST:
        if (n->kind != N_SEQ) {
            type_error(x, n, path, "a list");
            return NULL;
        }
        return generic_json(n);
    case CFG_T_STRLIST:
        if (n->kind != N_SEQ) {
            type_error(x, n, path, "a list of strings");
            return NULL;
        }
        for (size_t i = 0; i < n->n; i++)
            if (n->kids[i]->kind != N_SCALAR) {
                type_error(x, n->kids[i], path, "a string");
                return NULL;
            }
        {
            json_t *arr = json_array();
            for (size_t i = 0; i < n->n; i++)
                json_array_append_new(arr, json_string(n->kids[i]->str));
            return arr;
        }
    case CFG_T_ANY:
        return generic_json(n);
    case CFG_T_STR:
        if (n->kind != N_SCALAR) {
            type_error(x, n, path, "a string");
            return NULL;
        }
        return json_string(n->str);
    case CFG_T_INT:
    case CFG_T_SIZE: {
        bool size = k->type == CFG_T_SIZE;
        if (n->kind != N_SCALAR) {
            type_error(x, n, path, size ? "a size in bytes" : "an integer");
            return NULL;
        }
        int rc = parse_ll(n->str, size, &v);
        if (rc == -1) {
            type_error(x, n, path, size ? "a size in bytes (e.g. 1048576 or 1MB)" : "an integer");
            return NULL;
        }
        if (rc == -2 || v < k->min || v > k->max) {
            mark_bad(x, path);
            if (k->max == LLONG_MAX)
                diag_val(x, CFG_ERROR, n, "%s: %s is out of range (minimum %lld)", path, n->str,
                         k->min);
            else
                diag_val(x, CFG_ERROR, n, "%s: %s is out of range %lld..%lld", path, n->str, k->min,
                         k->max);
            return NULL;
        }
        return json_integer(v);
    }
    case CFG_T_BOOL:
        if (n->kind != N_SCALAR || !parse_bool_text(n->str, &b)) {
            type_error(x, n, path, "a boolean (true/false, on/off, yes/no)");
            return NULL;
        }
        return json_boolean(b);
    case CFG_T_ENUM: {
        if (n->kind == N_SCALAR) {
            char buf[64];
            const char *c = k->choices;
            while (*c) { /* the choices */
                size_t l = strcspn(c, "|");
                if (strlen(n->str) == l && !strncasecmp(n->str, c, l)) {
                    snprintf(buf, sizeof(buf), "%.*s", (int)l, c);
                    return json_string(buf);
                }
                c += l + (c[l] == '|');
            }
            for (c = k->aliases; c && *c;) { /* "alias=canonical,..." */
                size_t l = strcspn(c, ",");
                const char *eq = memchr(c, '=', l);
                if (eq && strlen(n->str) == (size_t)(eq - c) &&
                    !strncasecmp(n->str, c, (size_t)(eq - c))) {
                    snprintf(buf, sizeof(buf), "%.*s", (int)(l - (size_t)(eq - c) - 1), eq + 1);
                    return json_string(buf);
                }
                c += l + (c[l] == ',');
            }
        }
        char want[128];
        snprintf(want, sizeof(want), "one of %s", k->choices);
        for (char *p = want; *p; p++)
            if (*p == '|')
                *p = '/';
        type_error(x, n, path, want);
        return NULL;
    }
    case CFG_T_HOSTPORT:
    case CFG_T_LISTEN:
        if (n->kind != N_SCALAR) {
            type_error(x, n, path, "host:port");
            return NULL;
        }
        if ((k->type == CFG_T_LISTEN ? listen_check(n->str, &why)
                                     : hostport_check(n->str, NULL, 0, NULL, &why)) != 0) {
            mark_bad(x, path);
            diag_val(x, CFG_ERROR, n,
                     "%s: '%s' is not host:port (e.g. 127.0.0.1:8008 or "
                     "[::1]:8008): %s",
                     path, n->str, why);
            return NULL;
        }
        return json_string(n->str);
    case CFG_T_HOSTPORT_LIST:
        return walk_hostport_list(x, n, path);
    case CFG_T_REJECTED:
        break;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Required keys, defaults
 */
static bool node_empty(const struct cnode *n)
{
    return n->kind == N_NULL || (n->kind == N_SCALAR && !*n->str) ||
           ((n->kind == N_SEQ || n->kind == N_MAP) && n->n == 0);
}

static void check_required(struct ctx *x)
{
    char reported[16][CFG_MAX_PATH]; /* missing sections already reported */
    size_t nrep = 0;
    for (size_t i = 0; i < cfg_table_len; i++) {
        const struct cfg_key *k = &cfg_table[i];
        if (!(k->flags & CFG_F_REQUIRED))
            continue;
        const struct cnode *n = tree_find(x->root, k->path);
        if (n) {
            if (node_empty(n) && !is_bad(x, k->path)) {
                mark_bad(x, k->path);
                diag_key(x, CFG_ERROR, n, "%s is required and must not be empty", k->path);
            }
            continue;
        }
        /* Find the deepest existing ancestor and the first missing component. */
        char buf[CFG_MAX_PATH], missing[CFG_MAX_PATH];
        snprintf(buf, sizeof(buf), "%s", k->path);
        const struct cnode *anc = x->root;
        char *save = NULL, *t;
        missing[0] = 0;
        for (t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
            const struct cnode *c = map_get(anc, t);
            size_t ml = strlen(missing);
            snprintf(missing + ml, sizeof(missing) - ml, "%s%s", ml ? "." : "", t);
            if (!c)
                break;
            anc = c;
        }
        if (anc->kind != N_MAP && anc->kind != N_NULL)
            continue; /* the ancestor already has a type error */
        mark_bad(x, k->path);
        int line = anc->kline > 0 ? anc->kline : 1, col = anc->kline > 0 ? anc->kcol : 1;
        if (!strcmp(missing, k->path)) {
            diag(x, CFG_ERROR, anc->env, line, col, "missing required key '%s': %s", k->path,
                 k->doc);
            continue;
        }
        bool seen = false;
        for (size_t j = 0; j < nrep; j++)
            if (!strcmp(reported[j], missing))
                seen = true;
        if (seen)
            continue;
        if (nrep < 16)
            snprintf(reported[nrep++], CFG_MAX_PATH, "%s", missing);
        /* List every required key below the missing section. */
        char need[1024];
        size_t nl = 0, ml = strlen(missing);
        need[0] = 0;
        for (size_t j = 0; j < cfg_table_len; j++)
            if ((cfg_table[j].flags & CFG_F_REQUIRED) && !strncmp(cfg_table[j].path, missing, ml) &&
                cfg_table[j].path[ml] == '.')
                nl += (size_t)snprintf(need + nl, nl < sizeof(need) ? sizeof(need) - nl : 0, "%s%s",
                                       nl ? ", " : "", cfg_table[j].path);
        diag(x, CFG_ERROR, anc->env, line, col, "missing required section '%s' (with %s)", missing,
             need);
    }
}

static json_t *default_json(const struct cfg_key *k)
{
    long long v;
    bool b;
    switch (k->type) {
    case CFG_T_INT:
    case CFG_T_SIZE:
        if (parse_ll(k->def, true, &v) == 0)
            return json_integer(v);
        break;
    case CFG_T_BOOL:
        if (parse_bool_text(k->def, &b))
            return json_boolean(b);
        break;
    default:
        break;
    }
    return json_string(k->def);
}

static void fill_defaults(json_t *root)
{
    for (size_t i = 0; i < cfg_table_len; i++) {
        const struct cfg_key *k = &cfg_table[i];
        if (!k->def)
            continue;
        char buf[CFG_MAX_PATH];
        snprintf(buf, sizeof(buf), "%s", k->path);
        json_t *o = root;
        char *save = NULL;
        char *t = strtok_r(buf, ".", &save);
        for (char *next; (next = strtok_r(NULL, ".", &save)) != NULL; t = next) {
            json_t *c = json_object_get(o, t);
            if (!c) {
                c = json_object();
                json_object_set_new(o, t, c);
            }
            if (!json_is_object(c))
                break;
            o = c;
        }
        if (json_is_object(o) && !json_object_get(o, t))
            json_object_set_new(o, t, default_json(k));
    }
}

static json_t *json_path(json_t *root, const char *path)
{
    char buf[CFG_MAX_PATH];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    json_t *o = root;
    for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
        o = json_is_object(o) ? json_object_get(o, t) : NULL;
    return o;
}

json_t *cfg_lookup(const struct cfg *c, const char *path)
{
    return c ? json_path(c->root, path) : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Cross-key rules
 */
static const struct cnode *first_node(const struct ctx *x, const char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct cnode *c = tree_find(x->root, paths[i]);
        if (c)
            return c;
    }
    return NULL;
}

static void check_cross(struct ctx *x, json_t *root)
{
    /* loop_wait + 2*retry_timeout <= ttl (design §3, Patroni's rule). */
    static const char *const timing[] = {"bootstrap.dcs.ttl", "bootstrap.dcs.retry_timeout",
                                         "bootstrap.dcs.loop_wait"};
    if (!is_bad(x, timing[0]) && !is_bad(x, timing[1]) && !is_bad(x, timing[2])) {
        long long ttl = json_integer_value(json_path(root, timing[0]));
        long long rt = json_integer_value(json_path(root, timing[1]));
        long long lw = json_integer_value(json_path(root, timing[2]));
        const struct cnode *at = first_node(x, timing, 3);
        if (lw + 2 * rt > ttl && at)
            diag_key(x, CFG_ERROR, at,
                     "bootstrap.dcs: loop_wait (%lld) + 2*retry_timeout (2*%lld) = %lld exceeds "
                     "ttl (%lld); the rule is loop_wait + 2*retry_timeout <= ttl: raise ttl to "
                     "%lld or lower loop_wait/retry_timeout",
                     lw, rt, lw + 2 * rt, ttl, lw + 2 * rt);
        /* The watchdog must fire before the lease can expire. */
        const char *mode = json_string_value(json_path(root, "watchdog.mode"));
        long long sm = json_integer_value(json_path(root, "watchdog.safety_margin"));
        const struct cnode *smn = tree_find(x->root, "watchdog.safety_margin");
        if (mode && strcmp(mode, "off") != 0 && smn && !is_bad(x, "watchdog.safety_margin") &&
            sm >= ttl)
            diag_val(x, CFG_ERROR, smn,
                     "watchdog.safety_margin (%lld) must be less than bootstrap.dcs.ttl (%lld): "
                     "the watchdog is armed with ttl - safety_margin seconds",
                     sm, ttl);
    }

    /* raft.self_addr must be one of raft.partner_addrs (every member, this one included). */
    const struct cnode *self = tree_find(x->root, "raft.self_addr");
    json_t *partners = json_path(root, "raft.partner_addrs");
    const char *sa = json_string_value(json_path(root, "raft.self_addr"));
    if (self && sa && json_is_array(partners) && json_array_size(partners) > 0 &&
        !is_bad(x, "raft.self_addr") && !is_bad(x, "raft.partner_addrs")) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(partners); i++)
            if (same_addr(sa, json_string_value(json_array_get(partners, i))))
                found = true;
        if (!found)
            diag_val(x, CFG_ERROR, self,
                     "raft.self_addr '%s' is not in raft.partner_addrs: in raftgres, "
                     "partner_addrs lists EVERY member including this one, identically on every "
                     "node (unlike Patroni's raft, which listed only the other members); add '%s'",
                     sa, sa);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Environment overrides
 */
static bool env_ignored(const char *name)
{
    /* Variables of the CLI, the scripts and the tests that share the prefix. */
    static const char *const ignored[] = {"RAFTGRES_CONFIG_FILE", "RAFTGRES_SRCDIR",
                                          "RAFTGRES_RUN_DIR", "RAFTGRES_USER"};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        if (!strcmp(name, ignored[i]))
            return true;
    return false;
}

static bool env_is_store(const char *name)
{
    static const char *const stores[] = {"ETCD_",      "ETCD3_",      "CONSUL_",
                                         "ZOOKEEPER_", "KUBERNETES_", "EXHIBITOR_"};
    const char *rest = name + strlen(CFG_ENV_PREFIX);
    for (size_t i = 0; i < sizeof(stores) / sizeof(stores[0]); i++)
        if (!strncmp(rest, stores[i], strlen(stores[i])))
            return true;
    return false;
}

/* Put node v at path in the tree, creating sections as needed; v is consumed. */
static void tree_set(struct ctx *x, const char *path, struct cnode *v, const char *env)
{
    char buf[CFG_MAX_PATH];
    snprintf(buf, sizeof(buf), "%s", path);
    struct cnode *m = x->root;
    char *save = NULL;
    char *t = strtok_r(buf, ".", &save);
    for (char *next; (next = strtok_r(NULL, ".", &save)) != NULL; t = next) {
        struct cnode *c = map_get(m, t);
        if (c && c->kind == N_NULL) {
            c->kind = N_MAP;
        } else if (!c) {
            c = xcalloc(1, sizeof(*c));
            c->kind = N_MAP;
            c->key = xstrdup(t);
            c->env = xstrdup(env);
            node_push(m, c);
        } else if (c->kind != N_MAP) {
            diag(x, CFG_ERROR, env, 0, 0, "cannot set %s: '%s' in the file is not a section", path,
                 t);
            node_free(v);
            return;
        }
        m = c;
    }
    free(v->key);
    v->key = xstrdup(t);
    v->kline = v->kcol = 0;
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->kids[i]->key, t)) {
            node_free(m->kids[i]);
            m->kids[i] = v;
            return;
        }
    node_push(m, v);
}

/* "[::1]:5010, ..." is a comma-separated list whose first item is IPv6, not a YAML flow list. */
static bool bracketed_v6_first(const char *s)
{
    if (*s++ != '[')
        return false;
    size_t n = strspn(s, "0123456789abcdefABCDEF:.%");
    return n > 0 && s[n] == ']' && s[n + 1] == ':' && isdigit((unsigned char)s[n + 2]);
}

static void apply_env(struct ctx *x, char *const envp[])
{
    size_t plen = strlen(CFG_ENV_PREFIX);
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *e = envp[i];
        const char *eq = strchr(e, '=');
        if (!eq || strncmp(e, CFG_ENV_PREFIX, plen) != 0)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - e), e);
        const char *val = eq + 1;
        if (env_ignored(name))
            continue;
        const struct cfg_key *k = NULL;
        for (size_t j = 0; j < cfg_table_len && !k; j++)
            if (cfg_table[j].env && !strcmp(cfg_table[j].env, name))
                k = &cfg_table[j];
        if (!k) {
            if (env_is_store(name))
                diag(x, CFG_ERROR, name, 0, 0,
                     "raftgres needs no external store; set "
                     "RAFTGRES_RAFT_DATA_DIR, RAFTGRES_RAFT_SELF_ADDR and "
                     "RAFTGRES_RAFT_PARTNER_ADDRS (every member incl. this one) instead");
            else
                diag(x, CFG_WARNING, name, 0, 0,
                     "unknown variable (it matches no configuration key), ignored");
            continue;
        }
        if (!*val)
            continue; /* like Patroni: an empty variable is not an override */
        struct cnode *v;
        bool list =
            k->type == CFG_T_STRLIST || k->type == CFG_T_LIST || k->type == CFG_T_HOSTPORT_LIST;
        if (list || k->type == CFG_T_MAP) {
            /* Comma-separated or a YAML flow list / map, as Patroni accepts. */
            const char *s = val;
            while (isspace((unsigned char)*s))
                s++;
            if (list && ((*s != '[' && *s != '-') || bracketed_v6_first(s))) {
                /* "a:1, b:2" split here rather than by YAML, so "[::1]:5010" items work. */
                v = xcalloc(1, sizeof(*v));
                v->kind = N_SEQ;
                v->env = xstrdup(name);
                for (const char *q = s; *q;) {
                    size_t l = strcspn(q, ",");
                    size_t b = 0, z = l;
                    while (b < z && isspace((unsigned char)q[b]))
                        b++;
                    while (z > b && isspace((unsigned char)q[z - 1]))
                        z--;
                    if (z > b) {
                        struct cnode *it = xcalloc(1, sizeof(*it));
                        it->kind = N_SCALAR;
                        it->plain = true;
                        it->str = strndup(q + b, z - b);
                        it->env = xstrdup(name);
                        node_push(v, it);
                    }
                    q += l + (q[l] == ',');
                }
                tree_set(x, k->path, v, name);
                continue;
            }
            char *text;
            if (!list && *s != '{') {
                if (asprintf(&text, "{%s}", val) < 0)
                    abort();
            } else {
                text = xstrdup(val);
            }
            yaml_parser_t p;
            yaml_parser_initialize(&p);
            yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
            v = parse_yaml(x, &p, name);
            yaml_parser_delete(&p);
            free(text);
            if (!v)
                continue;
        } else {
            v = xcalloc(1, sizeof(*v));
            v->kind = N_SCALAR;
            v->plain = true;
            v->str = xstrdup(val);
            v->env = xstrdup(name);
        }
        tree_set(x, k->path, v, name);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Typed struct
 */
static char *jstr(json_t *root, const char *path)
{
    return xstrdup(json_string_value(json_path(root, path)));
}

static long long jint(json_t *root, const char *path)
{
    return json_integer_value(json_path(root, path));
}

static bool jbool(json_t *root, const char *path)
{
    return json_is_true(json_path(root, path));
}

static json_t *jref(json_t *root, const char *path)
{
    json_t *j = json_path(root, path);
    return j ? json_incref(j) : json_object();
}

static void fill_auth(struct cfg_auth *a, json_t *root, const char *user)
{
    char p[CFG_MAX_PATH];
    snprintf(p, sizeof(p), "postgresql.authentication.%s.username", user);
    a->username = jstr(root, p);
    snprintf(p, sizeof(p), "postgresql.authentication.%s.password", user);
    a->password = jstr(root, p);
}

static struct cfg *build_cfg(const char *path, json_t *root)
{
    struct cfg *c = xcalloc(1, sizeof(*c));
    c->path = xstrdup(path);
    c->root = root;
    c->scope = jstr(root, "scope");
    c->namespace_ = jstr(root, "namespace");
    c->name = jstr(root, "name");

    c->restapi.listen = jstr(root, "restapi.listen");
    c->restapi.connect_address = jstr(root, "restapi.connect_address");
    c->restapi.username = jstr(root, "restapi.authentication.username");
    c->restapi.password = jstr(root, "restapi.authentication.password");
    c->restapi.certfile = jstr(root, "restapi.certfile");
    c->restapi.keyfile = jstr(root, "restapi.keyfile");
    char host[256];
    if (cfg_parse_hostport(c->restapi.listen, host, sizeof(host), &c->restapi.listen_port) == 0)
        c->restapi.listen_host = xstrdup(host);

    c->raft.data_dir = jstr(root, "raft.data_dir");
    c->raft.self_addr = jstr(root, "raft.self_addr");
    c->raft.password = jstr(root, "raft.password");
    c->raft.bind_addr = jstr(root, "raft.bind_addr");
    json_t *pa = json_path(root, "raft.partner_addrs");
    c->raft.n_partner_addrs = json_array_size(pa);
    c->raft.partner_addrs = xcalloc(c->raft.n_partner_addrs + 1, sizeof(char *));
    for (size_t i = 0; i < c->raft.n_partner_addrs; i++)
        c->raft.partner_addrs[i] = xstrdup(json_string_value(json_array_get(pa, i)));

    c->dcs.ttl = (int)jint(root, "bootstrap.dcs.ttl");
    c->dcs.loop_wait = (int)jint(root, "bootstrap.dcs.loop_wait");
    c->dcs.retry_timeout = (int)jint(root, "bootstrap.dcs.retry_timeout");
    c->dcs.maximum_lag_on_failover = jint(root, "bootstrap.dcs.maximum_lag_on_failover");
    c->dcs.maximum_lag_on_syncnode = jint(root, "bootstrap.dcs.maximum_lag_on_syncnode");
    c->dcs.primary_start_timeout = (int)jint(root, "bootstrap.dcs.primary_start_timeout");
    c->dcs.primary_stop_timeout = (int)jint(root, "bootstrap.dcs.primary_stop_timeout");
    c->dcs.synchronous_mode = jbool(root, "bootstrap.dcs.synchronous_mode");
    c->dcs.synchronous_mode_strict = jbool(root, "bootstrap.dcs.synchronous_mode_strict");
    c->dcs.synchronous_node_count = (int)jint(root, "bootstrap.dcs.synchronous_node_count");
    c->dcs.failsafe_mode = jbool(root, "bootstrap.dcs.failsafe_mode");
    c->dcs.check_timeline = jbool(root, "bootstrap.dcs.check_timeline");

    c->postgresql.listen = jstr(root, "postgresql.listen");
    c->postgresql.connect_address = jstr(root, "postgresql.connect_address");
    c->postgresql.data_dir = jstr(root, "postgresql.data_dir");
    c->postgresql.bin_dir = jstr(root, "postgresql.bin_dir");
    c->postgresql.config_dir = jstr(root, "postgresql.config_dir");
    c->postgresql.pgpass = jstr(root, "postgresql.pgpass");
    c->postgresql.pg_ctl_timeout = (int)jint(root, "postgresql.pg_ctl_timeout");
    /* Local setting wins over the cluster-wide one, as in Patroni's effective configuration. */
    c->postgresql.use_pg_rewind = json_path(root, "postgresql.use_pg_rewind")
                                      ? jbool(root, "postgresql.use_pg_rewind")
                                      : jbool(root, "bootstrap.dcs.postgresql.use_pg_rewind");
    c->postgresql.use_unix_socket = jbool(root, "postgresql.use_unix_socket");
    c->postgresql.use_unix_socket_repl = jbool(root, "postgresql.use_unix_socket_repl");
    c->postgresql.remove_data_directory_on_rewind_failure =
        jbool(root, "postgresql.remove_data_directory_on_rewind_failure");
    c->postgresql.remove_data_directory_on_diverged_timelines =
        jbool(root, "postgresql.remove_data_directory_on_diverged_timelines");
    fill_auth(&c->postgresql.replication, root, "replication");
    fill_auth(&c->postgresql.superuser, root, "superuser");
    fill_auth(&c->postgresql.rewind, root, "rewind");

    c->dcs_json = jref(root, "bootstrap.dcs");
    c->bootstrap_json = jref(root, "bootstrap");
    c->postgresql_json = jref(root, "postgresql");
    c->tags_json = jref(root, "tags");

    c->watchdog.mode = jstr(root, "watchdog.mode");
    c->watchdog.device = jstr(root, "watchdog.device");
    c->watchdog.safety_margin = (int)jint(root, "watchdog.safety_margin");
    c->watchdog.fencer = jstr(root, "watchdog.fencer");
    c->log.level = jstr(root, "log.level");
    c->log.format = jstr(root, "log.format");
    c->log.dir = jstr(root, "log.dir");
    return c;
}

static void free_auth(struct cfg_auth *a)
{
    free(a->username);
    free(a->password);
}

void cfg_free(struct cfg *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->scope);
    free(c->namespace_);
    free(c->name);
    free(c->restapi.listen);
    free(c->restapi.connect_address);
    free(c->restapi.username);
    free(c->restapi.password);
    free(c->restapi.certfile);
    free(c->restapi.keyfile);
    free(c->restapi.listen_host);
    free(c->raft.data_dir);
    free(c->raft.self_addr);
    free(c->raft.password);
    free(c->raft.bind_addr);
    for (size_t i = 0; i < c->raft.n_partner_addrs; i++)
        free(c->raft.partner_addrs[i]);
    free(c->raft.partner_addrs);
    free(c->postgresql.listen);
    free(c->postgresql.connect_address);
    free(c->postgresql.data_dir);
    free(c->postgresql.bin_dir);
    free(c->postgresql.config_dir);
    free(c->postgresql.pgpass);
    free_auth(&c->postgresql.replication);
    free_auth(&c->postgresql.superuser);
    free_auth(&c->postgresql.rewind);
    json_decref(c->dcs_json);
    json_decref(c->bootstrap_json);
    json_decref(c->postgresql_json);
    json_decref(c->tags_json);
    free(c->watchdog.mode);
    free(c->watchdog.device);
    free(c->watchdog.fencer);
    free(c->log.level);
    free(c->log.format);
    free(c->log.dir);
    json_decref(c->root);
    free(c);
}

/* ---------------------------------------------------------------------------------------------
 * Entry points
 */
static int diag_cmp(const void *a, const void *b)
{
    const struct cfg_diag *x = a, *y = b;
    int ex = x->env != NULL, ey = y->env != NULL;
    if (ex != ey)
        return ex - ey;
    if (x->line != y->line)
        return x->line - y->line;
    return x->column - y->column;
}

/* Stable sort (insertion sort: reports are short). */
static void sort_report(struct cfg_report *r)
{
    for (size_t i = 1; i < r->n; i++) {
        struct cfg_diag d = r->items[i];
        size_t j = i;
        while (j > 0 && diag_cmp(&r->items[j - 1], &d) > 0) {
            r->items[j] = r->items[j - 1];
            j--;
        }
        r->items[j] = d;
    }
}

static int load(yaml_parser_t *p, const char *name, char *const envp[], struct cfg **out,
                struct cfg_report *rep)
{
    struct ctx x = {.file = name, .rep = rep};
    json_t *root = NULL;

    x.root = parse_yaml(&x, p, NULL);
    if (!x.root)
        goto done;
    if (x.root->kind == N_NULL) {
        diag(&x, CFG_ERROR, NULL, 0, 0, "the configuration is empty");
        goto done;
    }
    if (x.root->kind != N_MAP) {
        diag_val(&x, CFG_ERROR, x.root,
                 "the configuration must be a mapping of keys and "
                 "sections (scope:, name:, restapi:, raft:, ...)");
        goto done;
    }
    apply_env(&x, envp);
    root = walk_section(&x, x.root, "", NULL);
    check_required(&x);
    fill_defaults(root);
    check_cross(&x, root);

done:
    sort_report(rep);
    node_free(x.root);
    for (size_t i = 0; i < x.nbad; i++)
        free(x.bad[i]);
    free(x.bad);
    if (rep->n_errors > 0 || !root) {
        json_decref(root);
        return -1;
    }
    *out = build_cfg(name, root);
    return 0;
}

int cfg_load(const char *path, char *const envp[], struct cfg **out, struct cfg_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        struct ctx x = {.file = path, .rep = rep};
        diag(&x, CFG_ERROR, NULL, 0, 0, "cannot open the configuration file: %s", strerror(errno));
        return -1;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = load(&p, path, envp, out, rep);
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}

int cfg_load_string(const char *yaml, const char *name, char *const envp[], struct cfg **out,
                    struct cfg_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    *out = NULL;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, strlen(yaml));
    int rc = load(&p, name, envp, out, rep);
    yaml_parser_delete(&p);
    return rc;
}
