/* ctl_yaml: the dynamic configuration as an operator edits it. patronictl shows it with
 * PyYAML's safe_dump (keys sorted, block style, strings quoted when they would read back
 * as something else) and reads edits with safe_load (YAML 1.1 scalars: yes/on/off are
 * booleans, 010 is octal, 1e5 is a string). libyaml does the syntax; the resolver rules
 * below are PyYAML's regular expressions, so that what we print reads back unchanged. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "src/ctl.h"

/* ---- PyYAML's implicit resolvers ----------------------------------------------------- */

enum ytag { Y_STR, Y_NULL, Y_BOOL, Y_INT, Y_FLOAT, Y_TIMESTAMP };

static const char *const re_src[] = {
    [Y_NULL] = "^(~|null|Null|NULL|)$",
    [Y_BOOL] = "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    [Y_INT] = "^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
              "|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$",
    [Y_FLOAT] = "^([-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9_]+([eE][-+][0-9]+)?"
                "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)"
                "|\\.(nan|NaN|NAN))$",
    [Y_TIMESTAMP] = "^([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
                    "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt]|[ \t]+)[0-9][0-9]?:[0-9]"
                    "[0-9]:[0-9][0-9](\\.[0-9]*)?([ \t]*(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))?)$",
};

static regex_t re[Y_TIMESTAMP + 1];
static bool re_ready;

static enum ytag resolve(const char *s)
{
    if (!re_ready) {
        for (int i = Y_NULL; i <= Y_TIMESTAMP; i++)
            regcomp(&re[i], re_src[i], REG_EXTENDED | REG_NOSUB);
        re_ready = true;
    }
    for (int i = Y_NULL; i <= Y_TIMESTAMP; i++)
        if (regexec(&re[i], s, 0, NULL, 0) == 0)
            return (enum ytag)i;
    return Y_STR;
}

/* ---- dump ------------------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
};

static int buf_write(void *data, unsigned char *bytes, size_t size)
{
    struct buf *b = data;
    if (b->len + size + 1 > b->cap) {
        size_t cap = (b->len + size + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, bytes, size);
    b->len += size;
    b->p[b->len] = '\0';
    return 1;
}

/* Python's repr() of a float, then PyYAML's ".0e" fix-up. */
static void float_repr(double x, char *out, size_t len)
{
    if (isnan(x)) {
        snprintf(out, len, ".nan");
        return;
    }
    if (isinf(x)) {
        snprintf(out, len, x > 0 ? ".inf" : "-.inf");
        return;
    }
    char e[64];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(e, sizeof(e), "%.*e", p - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", p - 1, x);
    int exp10 = atoi(strchr(e, 'e') + 1);
    if (exp10 >= -4 && exp10 < 16) {
        int decimals = p - 1 - exp10;
        snprintf(out, len, "%.*f", decimals > 0 ? decimals : 0, x);
        if (!strchr(out, '.'))
            strncat(out, ".0", len - strlen(out) - 1);
        return;
    }
    /* d.ddde+XX: mantissa without trailing zeros, exponent at least two digits. */
    char mant[64];
    snprintf(mant, sizeof(mant), "%.*s", (int)(strchr(e, 'e') - e), e);
    snprintf(out, len, "%s%se%c%02d", mant, strchr(mant, '.') ? "" : ".0", exp10 < 0 ? '-' : '+',
             abs(exp10));
}

static int emit_scalar(yaml_emitter_t *em, const char *tag, const char *v, bool plain_ok)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)v, (int)strlen(v),
                                 plain_ok, 1, YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(em, &ev);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int emit_node(yaml_emitter_t *em, json_t *j, bool flow)
{
    yaml_event_t ev;
    char num[64];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(
            &ev, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return 0;
        size_t n = json_object_size(j), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) keys[i++] = k;
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (i = 0; i < n; i++) {
            if (!emit_scalar(em, YAML_STR_TAG, keys[i], resolve(keys[i]) == Y_STR) ||
                !emit_node(em, json_object_get(j, keys[i]), flow)) {
                free(keys);
                return 0;
            }
        }
        free(keys);
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(
            &ev, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return 0;
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) if (!emit_node(em, v, flow)) return 0;
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    case JSON_STRING: {
        const char *s = json_string_value(j);
        return emit_scalar(em, YAML_STR_TAG, s, resolve(s) == Y_STR);
    }
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(j));
        return emit_scalar(em, YAML_INT_TAG, num, true);
    case JSON_REAL:
        float_repr(json_real_value(j), num, sizeof(num));
        return emit_scalar(em, YAML_FLOAT_TAG, num, true);
    case JSON_TRUE:
        return emit_scalar(em, YAML_BOOL_TAG, "true", true);
    case JSON_FALSE:
        return emit_scalar(em, YAML_BOOL_TAG, "false", true);
    case JSON_NULL:
    default:
        return emit_scalar(em, YAML_NULL_TAG, "null", true);
    }
}

char *ctl_yaml_dump(json_t *data, bool flow)
{
    struct buf b = {0};
    yaml_emitter_t em;
    yaml_event_t ev;
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, buf_write, &b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 200);
    yaml_emitter_set_indent(&em, 2);
    int ok = 1;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    ok = ok && emit_node(&em, data ? data : json_null(), flow);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_emitter_flush(&em);
    yaml_emitter_delete(&em);
    if (!b.p)
        b.p = strdup("");
    return b.p;
}

/* ---- load ------------------------------------------------------------------------------ */

static json_t *plain_scalar(const char *s)
{
    switch (resolve(s)) {
    case Y_NULL:
        return json_null();
    case Y_BOOL:
        return json_boolean(strchr("yYtToO", s[0]) && strcmp(s, "off") && strcmp(s, "Off") &&
                            strcmp(s, "OFF"));
    case Y_INT: {
        char clean[128];
        size_t n = 0;
        for (const char *p = s; *p && n < sizeof(clean) - 1; p++)
            if (*p != '_')
                clean[n++] = *p;
        clean[n] = '\0';
        if (strchr(clean, ':'))
            return json_string(s); /* sexagesimal: not worth a number */
        const char *d = clean;
        int neg = 0;
        if (*d == '+' || *d == '-')
            neg = *d++ == '-';
        long long v;
        if (!strncmp(d, "0b", 2))
            v = strtoll(d + 2, NULL, 2);
        else if (!strncmp(d, "0x", 2))
            v = strtoll(d + 2, NULL, 16);
        else if (d[0] == '0' && d[1])
            v = strtoll(d + 1, NULL, 8);
        else
            v = strtoll(d, NULL, 10);
        return json_integer(neg ? -v : v);
    }
    case Y_FLOAT: {
        char clean[128];
        size_t n = 0;
        for (const char *p = s; *p && n < sizeof(clean) - 1; p++)
            if (*p != '_')
                clean[n++] = *p;
        clean[n] = '\0';
        if (strchr(clean, ':'))
            return json_string(s);
        /* jansson refuses nan/inf; keep those as strings. */
        if (strstr(clean, "inf") || strstr(clean, "Inf") || strstr(clean, "INF") ||
            strstr(clean, "nan") || strstr(clean, "NaN") || strstr(clean, "NAN"))
            return json_string(s);
        return json_real(strtod(clean, NULL));
    }
    case Y_TIMESTAMP:
    case Y_STR:
    default:
        return json_string(s);
    }
}

struct loader {
    yaml_parser_t p;
    char *err;
    size_t errlen;
    int depth;
};

#define CTL_YAML_MAX_DEPTH 64

static json_t *load_node(struct loader *l, yaml_event_t *ev);

static bool next(struct loader *l, yaml_event_t *ev)
{
    if (yaml_parser_parse(&l->p, ev))
        return true;
    snprintf(l->err, l->errlen, "line %zu, column %zu: %s", l->p.problem_mark.line + 1,
             l->p.problem_mark.column + 1, l->p.problem ? l->p.problem : "syntax error");
    return false;
}

static json_t *load_node(struct loader *l, yaml_event_t *ev)
{
    if (++l->depth > CTL_YAML_MAX_DEPTH) {
        snprintf(l->err, l->errlen, "nested deeper than %d levels", CTL_YAML_MAX_DEPTH);
        return NULL;
    }
    json_t *out = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        const char *tag = (const char *)ev->data.scalar.tag;
        if (tag && !strcmp(tag, YAML_STR_TAG))
            out = json_string(v);
        else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            out = plain_scalar(v);
        else
            out = json_string(v);
        if (!out) /* invalid UTF-8 */
            snprintf(l->err, l->errlen, "line %zu: not valid UTF-8", ev->start_mark.line + 1);
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
        out = json_array();
        for (;;) {
            yaml_event_t e;
            if (!next(l, &e)) {
                json_decref(out);
                out = NULL;
                break;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            json_t *v = load_node(l, &e);
            yaml_event_delete(&e);
            if (!v) {
                json_decref(out);
                out = NULL;
                break;
            }
            json_array_append_new(out, v);
        }
        break;
    case YAML_MAPPING_START_EVENT:
        out = json_object();
        for (;;) {
            yaml_event_t k;
            if (!next(l, &k)) {
                json_decref(out);
                out = NULL;
                break;
            }
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&k);
                break;
            }
            if (k.type != YAML_SCALAR_EVENT) {
                snprintf(l->err, l->errlen, "line %zu: only scalar keys are supported",
                         k.start_mark.line + 1);
                yaml_event_delete(&k);
                json_decref(out);
                out = NULL;
                break;
            }
            /* Keys are kept as the text written (PyYAML would make 1: an int key). */
            char *key = strdup((const char *)k.data.scalar.value);
            yaml_event_delete(&k);
            yaml_event_t v;
            if (!next(l, &v)) {
                free(key);
                json_decref(out);
                out = NULL;
                break;
            }
            json_t *val = load_node(l, &v);
            yaml_event_delete(&v);
            if (!val) {
                free(key);
                json_decref(out);
                out = NULL;
                break;
            }
            json_object_set_new(out, key, val);
            free(key);
        }
        break;
    case YAML_ALIAS_EVENT:
        snprintf(l->err, l->errlen, "line %zu: aliases (*name) are not supported",
                 ev->start_mark.line + 1);
        break;
    default:
        snprintf(l->err, l->errlen, "line %zu: unexpected YAML event", ev->start_mark.line + 1);
        break;
    }
    l->depth--;
    return out;
}

json_t *ctl_yaml_load(const char *text, char *err, size_t errlen)
{
    struct loader l = {.err = err, .errlen = errlen};
    err[0] = '\0';
    yaml_parser_initialize(&l.p);
    yaml_parser_set_input_string(&l.p, (const unsigned char *)text, strlen(text));
    json_t *out = NULL;
    yaml_event_t ev;
    bool ok = true;
    /* stream start, then a document or the stream end (empty input: null). */
    while (ok) {
        if (!next(&l, &ev)) {
            ok = false;
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT ||
            t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (out) { /* a second document */
            yaml_event_delete(&ev);
            snprintf(err, errlen, "expected a single document in the stream");
            ok = false;
            break;
        }
        out = load_node(&l, &ev);
        yaml_event_delete(&ev);
        if (!out)
            ok = false;
    }
    yaml_parser_delete(&l.p);
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out ? out : json_null();
}

/* ---- unified diff ----------------------------------------------------------------------- */

#define CTL_DIFF_MAX_LINES 4000

struct lines {
    char **l;
    int n;
};

static void split_lines(const char *s, struct lines *out)
{
    /* difflib on string.rstrip('\n').split('\n'). */
    char *copy = strdup(s);
    size_t n = strlen(copy);
    while (n > 0 && copy[n - 1] == '\n')
        copy[--n] = '\0';
    int cap = 16;
    out->l = malloc((size_t)cap * sizeof(char *));
    out->n = 0;
    char *p = copy;
    for (;;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (out->n == cap) {
            cap *= 2;
            out->l = realloc(out->l, (size_t)cap * sizeof(char *));
        }
        out->l[out->n++] = strdup(p);
        if (!nl)
            break;
        p = nl + 1;
    }
    free(copy);
}

struct opcode {
    char tag; /* 'e'qual, 'r'eplace, 'd'elete, 'i'nsert */
    int i1, i2, j1, j2;
};

static void range_str(char *buf, size_t len, int start, int stop)
{
    int beginning = start + 1, length = stop - start;
    if (length == 1)
        snprintf(buf, len, "%d", beginning);
    else
        snprintf(buf, len, "%d,%d", length ? beginning : beginning - 1, length);
}

void ctl_unified_diff(const char *before, const char *after, FILE *out)
{
    struct lines a, b;
    split_lines(before, &a);
    split_lines(after, &b);
    int n = a.n < CTL_DIFF_MAX_LINES ? a.n : CTL_DIFF_MAX_LINES;
    int m = b.n < CTL_DIFF_MAX_LINES ? b.n : CTL_DIFF_MAX_LINES;
    /* LCS lengths of the suffixes. */
    int *L = calloc((size_t)(n + 1) * (size_t)(m + 1), sizeof(int));
#define LCS(i, j) L[(size_t)(i) * (size_t)(m + 1) + (size_t)(j)]
    for (int i = n - 1; i >= 0; i--)
        for (int j = m - 1; j >= 0; j--)
            LCS(i, j) = strcmp(a.l[i], b.l[j]) == 0
                            ? LCS(i + 1, j + 1) + 1
                            : (LCS(i + 1, j) > LCS(i, j + 1) ? LCS(i + 1, j) : LCS(i, j + 1));
    struct opcode *ops = calloc((size_t)(n + m + 2), sizeof(*ops));
    int nops = 0, i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && strcmp(a.l[i], b.l[j]) == 0) {
            int i0 = i, j0 = j;
            while (i < n && j < m && strcmp(a.l[i], b.l[j]) == 0) {
                i++;
                j++;
            }
            ops[nops++] = (struct opcode){'e', i0, i, j0, j};
            continue;
        }
        int i0 = i, j0 = j;
        while (i < n || j < m) {
            if (i < n && j < m && strcmp(a.l[i], b.l[j]) == 0)
                break;
            if (j >= m || (i < n && LCS(i + 1, j) >= LCS(i, j + 1)))
                i++;
            else
                j++;
        }
        char tag = (i > i0 && j > j0) ? 'r' : (i > i0 ? 'd' : 'i');
        ops[nops++] = (struct opcode){tag, i0, i, j0, j};
    }
#undef LCS
    free(L);
    if (nops == 0)
        ops[nops++] = (struct opcode){'e', 0, 1, 0, 1};
    const int ctx = 3;
    if (ops[0].tag == 'e') {
        struct opcode *o = &ops[0];
        o->i1 = o->i2 - ctx > o->i1 ? o->i2 - ctx : o->i1;
        o->j1 = o->j2 - ctx > o->j1 ? o->j2 - ctx : o->j1;
    }
    if (ops[nops - 1].tag == 'e') {
        struct opcode *o = &ops[nops - 1];
        o->i2 = o->i1 + ctx < o->i2 ? o->i1 + ctx : o->i2;
        o->j2 = o->j1 + ctx < o->j2 ? o->j1 + ctx : o->j2;
    }
    /* Group as difflib.get_grouped_opcodes(3), printing each group as a hunk. */
    struct opcode *group = calloc((size_t)(nops * 2 + 2), sizeof(*group));
    int ng = 0;
    bool started = false;
    for (int k = 0; k <= nops; k++) {
        bool flush = false;
        struct opcode o = {0};
        if (k < nops) {
            o = ops[k];
            if (o.tag == 'e' && o.i2 - o.i1 > 2 * ctx) {
                group[ng++] = (struct opcode){'e', o.i1, o.i1 + ctx < o.i2 ? o.i1 + ctx : o.i2,
                                              o.j1, o.j1 + ctx < o.j2 ? o.j1 + ctx : o.j2};
                flush = true;
                o.i1 = o.i2 - ctx > o.i1 ? o.i2 - ctx : o.i1;
                o.j1 = o.j2 - ctx > o.j1 ? o.j2 - ctx : o.j1;
            }
        } else {
            flush = true;
        }
        if (flush && ng > 0 && !(ng == 1 && group[0].tag == 'e')) {
            if (!started) {
                fprintf(out, "--- \n+++ \n");
                started = true;
            }
            char r1[32], r2[32];
            range_str(r1, sizeof(r1), group[0].i1, group[ng - 1].i2);
            range_str(r2, sizeof(r2), group[0].j1, group[ng - 1].j2);
            fprintf(out, "@@ -%s +%s @@\n", r1, r2);
            for (int g = 0; g < ng; g++) {
                struct opcode *x = &group[g];
                if (x->tag == 'e') {
                    for (int t = x->i1; t < x->i2; t++)
                        fprintf(out, " %s\n", a.l[t]);
                    continue;
                }
                if (x->tag == 'r' || x->tag == 'd')
                    for (int t = x->i1; t < x->i2; t++)
                        fprintf(out, "-%s\n", a.l[t]);
                if (x->tag == 'r' || x->tag == 'i')
                    for (int t = x->j1; t < x->j2; t++)
                        fprintf(out, "+%s\n", b.l[t]);
            }
        }
        if (flush)
            ng = 0;
        if (k < nops)
            group[ng++] = o;
    }
    free(group);
    free(ops);
    for (int k = 0; k < a.n; k++)
        free(a.l[k]);
    for (int k = 0; k < b.n; k++)
        free(b.l[k]);
    free(a.l);
    free(b.l);
}
