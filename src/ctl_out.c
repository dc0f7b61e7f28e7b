/* ctl_out: what patronictl prints. Tables are drawn as prettytable draws them for
 * patronictl (left-aligned, some columns right-aligned, a title written over the top
 * rule, a rule after every row once a cell spans lines); tsv, json and yaml carry the same
 * columns. The members table and its footer follow patronictl's output_members(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/ctl.h"

int ctl_parse_fmt(const char *s, enum ctl_fmt *out)
{
    if (!strcmp(s, "pretty"))
        *out = FMT_PRETTY;
    else if (!strcmp(s, "tsv"))
        *out = FMT_TSV;
    else if (!strcmp(s, "json"))
        *out = FMT_JSON;
    else if (!strcmp(s, "yaml") || !strcmp(s, "yml"))
        *out = FMT_YAML;
    else
        return -1;
    return 0;
}

void ctl_timestamp(char *buf, size_t len, int precision)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char full[64];
    snprintf(full, sizeof(full), "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    /* [:precision - 7] */
    size_t keep = strlen(full) - (size_t)(7 - precision);
    snprintf(buf, len, "%.*s", (int)keep, full);
}

int ctl_parse_scheduled(const char *s, bool *is_now, char *iso, size_t isolen)
{
    *is_now = false;
    while (*s == ' ')
        s++;
    if (!s[0] || !strcmp(s, "now")) {
        *is_now = true;
        return 0;
    }
    int Y, M, D, h = 0, m = 0, sec = 0, n = 0;
    long usec = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3 || n != 10)
        return -1;
    const char *p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        int k = 0;
        if (sscanf(p, "%2d:%2d%n", &h, &m, &k) != 2 || k != 5)
            return -1;
        p += k;
        if (*p == ':') {
            if (sscanf(p, ":%2d%n", &sec, &k) != 1 || k != 3)
                return -1;
            p += k;
            if (*p == '.') {
                p++;
                int digits = 0;
                while (*p >= '0' && *p <= '9') {
                    if (digits < 6) {
                        usec = usec * 10 + (*p - '0');
                        digits++;
                    }
                    p++;
                }
                if (!digits)
                    return -1;
                for (; digits < 6; digits++)
                    usec *= 10;
            }
        }
    }
    while (*p == ' ')
        p++;
    bool has_zone = false;
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        has_zone = true;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, zh = 0, zm = 0, k = 0;
        p++;
        if (sscanf(p, "%2d%n", &zh, &k) != 1 || k != 2)
            return -1;
        p += 2;
        if (*p == ':')
            p++;
        if (*p >= '0' && *p <= '9') {
            if (sscanf(p, "%2d%n", &zm, &k) != 1 || k != 2)
                return -1;
            p += 2;
        }
        has_zone = true;
        off_min = sign * (zh * 60 + zm);
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 59)
        return -1;
    if (!has_zone) {
        struct tm tm = {.tm_year = Y - 1900,
                        .tm_mon = M - 1,
                        .tm_mday = D,
                        .tm_hour = h,
                        .tm_min = m,
                        .tm_sec = sec,
                        .tm_isdst = -1};
        time_t t = mktime(&tm);
        if (t == (time_t)-1)
            return -1;
        struct tm lt;
        localtime_r(&t, &lt);
        off_min = (int)(lt.tm_gmtoff / 60);
    }
    char frac[16] = "";
    if (usec)
        snprintf(frac, sizeof(frac), ".%06ld", usec);
    int ao = abs(off_min);
    snprintf(iso, isolen, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", Y, M, D, h, m, sec, frac,
             off_min < 0 ? '-' : '+', ao / 60, ao % 60);
    return 0;
}

/* ---- tables ------------------------------------------------------------------------------ */

/* str() of a cell as patronictl would print it. Tags (objects) become YAML. */
static char *cell_text(json_t *v, enum ctl_fmt fmt)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return strdup(buf);
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%g", json_real_value(v));
        return strdup(buf);
    case JSON_TRUE:
        return strdup("True");
    case JSON_FALSE:
        return strdup("False");
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *y = ctl_yaml_dump(v, fmt != FMT_PRETTY && fmt != FMT_TOPOLOGY);
        size_t n = strlen(y);
        while (n > 0 && (y[n - 1] == '\n' || y[n - 1] == ' '))
            y[--n] = '\0';
        return y;
    }
    case JSON_NULL:
    default:
        return strdup("None");
    }
}

static int line_count(const char *s)
{
    int n = 1;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The k-th line of s (length in *len). */
static const char *nth_line(const char *s, int k, int *len)
{
    for (; k > 0 && s; k--) {
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    if (!s) {
        *len = 0;
        return "";
    }
    const char *e = strchr(s, '\n');
    *len = e ? (int)(e - s) : (int)strlen(s);
    return s;
}

static int max_line_width(const char *s)
{
    int w = 0, len;
    for (int k = 0, n = line_count(s); k < n; k++) {
        nth_line(s, k, &len);
        if (len > w)
            w = len;
    }
    return w;
}

static bool is_right(const struct ctl_table *t, const char *col)
{
    if (!t->right)
        return false;
    char pat[128];
    snprintf(pat, sizeof(pat), "|%s|", col);
    return strstr(t->right, pat) != NULL;
}

static void rule(const int *w, int ncols, const char *title)
{
    char line[4096];
    size_t n = 0;
    line[n++] = '+';
    for (int i = 0; i < ncols && n < sizeof(line) - 8; i++) {
        for (int k = 0; k < w[i] + 2 && n < sizeof(line) - 8; k++)
            line[n++] = '-';
        line[n++] = '+';
    }
    line[n] = '\0';
    if (title) {
        /* header[:len(line) - 2] written from column 1 on. */
        size_t tl = strlen(title);
        if (tl > n - 2)
            tl = n - 2;
        memcpy(line + 1, title, tl);
    }
    puts(line);
}

static void pretty_row(char **cells, const int *w, const bool *right, int ncols)
{
    int h = 1;
    for (int i = 0; i < ncols; i++)
        if (line_count(cells[i]) > h)
            h = line_count(cells[i]);
    for (int k = 0; k < h; k++) {
        putchar('|');
        for (int i = 0; i < ncols; i++) {
            int len;
            const char *s = nth_line(cells[i], k, &len);
            if (right[i])
                printf(" %*s%.*s |", w[i] - len, "", len, s);
            else
                printf(" %.*s%*s |", len, s, w[i] - len, "");
        }
        putchar('\n');
    }
}

void ctl_print_output(const struct ctl_table *t, enum ctl_fmt fmt, const char *header)
{
    size_t nrows = json_array_size(t->rows);
    if (fmt == FMT_JSON || fmt == FMT_YAML) {
        json_t *out = json_array();
        for (size_t r = 0; r < nrows; r++) {
            json_t *row = json_array_get(t->rows, r), *o = json_object();
            for (int i = 0; i < t->ncols; i++) {
                json_t *v = json_array_get(row, (size_t)i);
                /* with a header (the members list), empty values are left out */
                if (header && json_is_string(v) && !json_string_value(v)[0])
                    continue;
                json_object_set(o, t->cols[i], v ? v : json_null());
            }
            json_array_append_new(out, o);
        }
        if (fmt == FMT_JSON) {
            char *s = json_dumps(out, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
            printf("%s\n", s);
            free(s);
        } else {
            char *s = ctl_yaml_dump(out, false);
            printf("%s\n", s);
            free(s);
        }
        json_decref(out);
        return;
    }
    bool list_cluster = header && t->ncols > 0 && !strcmp(t->cols[0], "Cluster");
    int skip = (list_cluster && fmt != FMT_TSV) ? 1 : 0;
    int ncols = t->ncols - skip;
    char ***cells = calloc(nrows ? nrows : 1, sizeof(*cells));
    bool multiline = false;
    for (size_t r = 0; r < nrows; r++) {
        json_t *row = json_array_get(t->rows, r);
        cells[r] = calloc((size_t)t->ncols, sizeof(char *));
        for (int i = 0; i < t->ncols; i++) {
            json_t *v = json_array_get(row, (size_t)i);
            cells[r][i] = v ? cell_text(v, fmt) : strdup("");
            if (strchr(cells[r][i], '\n'))
                multiline = true;
        }
    }
    if (fmt == FMT_TSV) {
        for (int i = 0; i < t->ncols; i++)
            printf("%s%s", i ? "\t" : "", t->cols[i]);
        putchar('\n');
        for (size_t r = 0; r < nrows; r++) {
            for (int i = 0; i < t->ncols; i++)
                printf("%s%s", i ? "\t" : "", cells[r][i]);
            putchar('\n');
        }
    } else {
        int *w = calloc((size_t)ncols + 1, sizeof(int));
        bool *right = calloc((size_t)ncols + 1, sizeof(bool));
        for (int i = 0; i < ncols; i++) {
            w[i] = (int)strlen(t->cols[i + skip]);
            right[i] = is_right(t, t->cols[i + skip]);
            for (size_t r = 0; r < nrows; r++) {
                int cw = max_line_width(cells[r][i + skip]);
                if (cw > w[i])
                    w[i] = cw;
            }
        }
        rule(w, ncols, header);
        pretty_row((char **)t->cols + skip, w, right, ncols);
        rule(w, ncols, NULL);
        for (size_t r = 0; r < nrows; r++) {
            pretty_row(cells[r] + skip, w, right, ncols);
            if (multiline || r + 1 == nrows)
                rule(w, ncols, NULL);
        }
        if (nrows == 0)
            rule(w, ncols, NULL);
        free(w);
        free(right);
    }
    for (size_t r = 0; r < nrows; r++) {
        for (int i = 0; i < t->ncols; i++)
            free(cells[r][i]);
        free(cells[r]);
    }
    free(cells);
}

/* ---- the members table -------------------------------------------------------------------- */

static int cmp_member(const void *a, const void *b)
{
    const char *na = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *nb = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(na ? na : "~", nb ? nb : "~");
}

static bool role_is_leader(json_t *m)
{
    const char *r = json_string_value(json_object_get(m, "role"));
    size_t n = r ? strlen(r) : 0;
    return n >= 6 && !strcmp(r + n - 6, "leader");
}

#define CTL_MAX_MEMBERS 128
#define CTL_MAX_DEPTH   16

/* patronictl's topology_sort: the leader, then the replicas under their replicatefrom
 * member (or the leader), indented "+ name" per level. */
static void topo_add(json_t **all, int n, const char *parent, int level, json_t **out, int *nout,
                     int *levels, bool *used)
{
    if (level > CTL_MAX_DEPTH)
        return;
    for (int i = 0; i < n; i++) {
        if (used[i] || role_is_leader(all[i]))
            continue;
        const char *name = json_string_value(json_object_get(all[i], "name"));
        const char *rf =
            json_string_value(json_object_get(json_object_get(all[i], "tags"), "replicatefrom"));
        bool rf_valid = false;
        if (rf && name && strcmp(rf, name))
            for (int k = 0; k < n; k++) {
                const char *kn = json_string_value(json_object_get(all[k], "name"));
                if (kn && !strcmp(kn, rf) && !role_is_leader(all[k]))
                    rf_valid = true;
            }
        const char *p = rf_valid ? rf : NULL; /* NULL: under the leader */
        if ((p == NULL) != (parent == NULL) || (p && strcmp(p, parent)))
            continue;
        used[i] = true;
        levels[*nout] = level;
        out[(*nout)++] = all[i];
        if (name)
            topo_add(all, n, name, level + 1, out, nout, levels, used);
    }
}

static void service_info(json_t *cluster)
{
    if (json_is_true(json_object_get(cluster, "pause")))
        printf(" Maintenance mode: on\n");
    json_t *sw = json_object_get(cluster, "scheduled_switchover");
    if (json_is_object(sw)) {
        const char *at = json_string_value(json_object_get(sw, "at"));
        printf(" Switchover scheduled at: %s\n", at ? at : "");
        const char *names[] = {"from", "to"};
        for (int i = 0; i < 2; i++) {
            const char *v = json_string_value(json_object_get(sw, names[i]));
            if (v)
                printf("%24s: %s\n", names[i], v);
        }
    }
}

void ctl_output_members(struct ctl *c, json_t *cluster, bool extended, enum ctl_fmt fmt)
{
    json_t *all[CTL_MAX_MEMBERS];
    int n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cluster, "members"), i, m)
    {
        if (n < CTL_MAX_MEMBERS)
            all[n++] = m;
    }
    qsort(all, (size_t)n, sizeof(all[0]), cmp_member);
    json_t *order[CTL_MAX_MEMBERS];
    int levels[CTL_MAX_MEMBERS] = {0};
    int norder = 0;
    if (fmt == FMT_TOPOLOGY) {
        bool used[CTL_MAX_MEMBERS] = {false};
        for (int k = 0; k < n; k++)
            if (role_is_leader(all[k]) && norder == 0) {
                used[k] = true;
                order[norder++] = all[k];
            }
        int base = norder ? 1 : 0;
        topo_add(all, n, NULL, base, order, &norder, levels, used);
        for (int k = 0; k < n; k++) /* whatever the tree left out (no leader ...) */
            if (!used[k] && !role_is_leader(all[k]))
                order[norder++] = all[k];
    } else {
        memcpy(order, all, (size_t)n * sizeof(all[0]));
        norder = n;
    }

    const char *cols[12] = {"Cluster", "Member", "Host", "Role", "State", "TL", "Lag in MB"};
    int ncols = 7;
    bool any_pending = false, any_sched = false, any_tags = false;
    bool append_port = false;
    for (int k = 0; k < n; k++) {
        if (json_is_true(json_object_get(all[k], "pending_restart")))
            any_pending = true;
        if (json_object_get(all[k], "scheduled_restart"))
            any_sched = true;
        if (json_object_size(json_object_get(all[k], "tags")))
            any_tags = true;
        json_t *port = json_object_get(all[k], "port");
        if (port && json_integer_value(port) != 5432)
            append_port = true;
        const char *h = json_string_value(json_object_get(all[k], "host"));
        for (int j = 0; h && j < k; j++) {
            const char *h2 = json_string_value(json_object_get(all[j], "host"));
            if (h2 && !strcmp(h, h2))
                append_port = true;
        }
    }
    int c_pending = -1, c_sched = -1, c_tags = -1, c_raft = -1;
    if (extended || any_pending)
        c_pending = ncols, cols[ncols++] = "Pending restart";
    if (extended || any_sched)
        c_sched = ncols, cols[ncols++] = "Scheduled restart";
    if (extended || any_tags)
        c_tags = ncols, cols[ncols++] = "Tags";
    if (extended)
        c_raft = ncols, cols[ncols++] = "Raft role";

    json_t *rows = json_array();
    for (int k = 0; k < norder; k++) {
        m = order[k];
        json_t *row = json_array();
        const char *name = json_string_value(json_object_get(m, "name"));
        char namebuf[300];
        if (levels[k] > 0)
            snprintf(namebuf, sizeof(namebuf), "%*s+ %s", (levels[k] - 1) * 2, "",
                     name ? name : "(unregistered)");
        else
            snprintf(namebuf, sizeof(namebuf), "%s", name ? name : "(unregistered)");
        const char *host = json_string_value(json_object_get(m, "host"));
        json_t *port = json_object_get(m, "port");
        char hostbuf[300];
        if (!host)
            snprintf(hostbuf, sizeof(hostbuf), "%s",
                     name ? "" : json_string_value(json_object_get(m, "raft_address")));
        else if (append_port && port)
            snprintf(hostbuf, sizeof(hostbuf), "%s:%lld", host,
                     (long long)json_integer_value(port));
        else
            snprintf(hostbuf, sizeof(hostbuf), "%s", host);
        /* role.replace('_', ' ').title() */
        const char *role = json_string_value(json_object_get(m, "role"));
        char rolebuf[64] = "";
        snprintf(rolebuf, sizeof(rolebuf), "%s", role ? role : "");
        for (char *p = rolebuf, prev = ' '; *p; prev = *p, p++) {
            if (*p == '_')
                *p = ' ';
            if (prev == ' ' && *p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        }
        const char *state = json_string_value(json_object_get(m, "state"));
        json_t *tl = json_object_get(m, "timeline");
        json_t *lag = json_object_get(m, "lag");
        json_t *lagv;
        if (json_is_integer(lag))
            lagv =
                json_integer((json_int_t)rint((double)json_integer_value(lag) / 1024.0 / 1024.0));
        else if (json_is_string(lag))
            lagv = json_incref(lag);
        else
            lagv = json_string("");
        json_array_append_new(row, json_string(c->cfg->scope));
        json_array_append_new(row, json_string(namebuf));
        json_array_append_new(row, json_string(hostbuf));
        json_array_append_new(row, json_string(rolebuf));
        json_array_append_new(row, json_string(state ? state : ""));
        json_array_append_new(row, json_is_integer(tl) ? json_incref(tl) : json_string(""));
        json_array_append_new(row, lagv);
        if (c_pending >= 0)
            json_array_append_new(
                row, json_string(json_is_true(json_object_get(m, "pending_restart")) ? "*" : ""));
        if (c_sched >= 0) {
            json_t *sr = json_object_get(m, "scheduled_restart");
            char sbuf[200] = "";
            if (json_is_object(sr)) {
                const char *sch = json_string_value(json_object_get(sr, "schedule"));
                const char *ver = json_string_value(json_object_get(sr, "postgres_version"));
                snprintf(sbuf, sizeof(sbuf), "%s%s%s", sch ? sch : "", ver ? " if version < " : "",
                         ver ? ver : "");
            } else if (json_is_string(sr)) {
                snprintf(sbuf, sizeof(sbuf), "%s", json_string_value(sr));
            }
            json_array_append_new(row, json_string(sbuf));
        }
        if (c_tags >= 0) {
            json_t *tags = json_object_get(m, "tags");
            json_array_append_new(row,
                                  json_object_size(tags) ? json_incref(tags) : json_string(""));
        }
        if (c_raft >= 0) {
            const char *rr = json_string_value(json_object_get(m, "raft_role"));
            json_array_append_new(row, json_string(rr ? rr : ""));
        }
        json_array_append_new(rows, row);
    }
    const char *sysid = json_string_value(json_object_get(cluster, "system_identifier"));
    char title[400];
    snprintf(title, sizeof(title), " Cluster: %s (%s) ", c->cfg->scope,
             sysid ? sysid : "uninitialized");
    struct ctl_table t = {.cols = cols, .ncols = ncols, .right = "|TL|Lag in MB|", .rows = rows};
    ctl_print_output(&t, fmt == FMT_TOPOLOGY ? FMT_PRETTY : fmt, title);
    json_decref(rows);
    if (fmt == FMT_PRETTY || fmt == FMT_TOPOLOGY)
        service_info(cluster);
    fflush(stdout);
}
