/* raftgresctl: the command-line client, as patronictl (Patroni 3.0) is: the same
 * commands, options, prompts and words. It reads a member's config for the REST API address
 * and talks to the cluster over HTTP only (ctl_http.c).
 *
 * This file holds the command table (one row per command with its options, which drives
 * both parsing and --help), click-style argument parsing and error messages, and the
 * prompts. Exit codes: 0 ok, 1 refused / failed / unreachable / aborted, 2 usage. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/ctl.h"

extern char **environ;

static const char *prog = "raftgresctl";

int ctl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("Error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int ctl_check_scope(struct ctl *c, const char *name)
{
    if (!name || !strcmp(name, c->cfg->scope))
        return 0;
    return ctl_fail("cluster %s is not this configuration's cluster (scope: %s); raftgresctl "
                    "manages the cluster of its config file",
                    name, c->cfg->scope);
}

/* ---- prompts ---------------------------------------------------------------------------- */

#define CTL_PROMPT_TRIES 10 /* invalid answers before giving up */

static void on_sigint(int sig)
{
    (void)sig;
    static const char msg[] = "\nAborted!\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(1);
}

static _Noreturn void aborted(void)
{
    fflush(stdout);
    fputs("\nAborted!\n", stderr);
    exit(1);
}

static char *read_answer(void)
{
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        aborted();
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

char *ctl_prompt(const char *text, const char *def)
{
    for (int i = 0; i < CTL_PROMPT_TRIES; i++) {
        if (def)
            printf("%s [%s]: ", text, def);
        else
            printf("%s: ", text);
        char *a = read_answer();
        if (a[0]) {
            return a;
        }
        free(a);
        if (def)
            return strdup(def);
    }
    aborted();
}

bool ctl_confirm(const char *text, bool def)
{
    for (int i = 0; i < CTL_PROMPT_TRIES; i++) {
        printf("%s [%s]: ", text, def ? "Y/n" : "y/N");
        char *a = read_answer();
        for (char *p = a; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        bool yes = !strcmp(a, "y") || !strcmp(a, "yes");
        bool no = !strcmp(a, "n") || !strcmp(a, "no");
        bool empty = a[0] == '\0';
        free(a);
        if (yes)
            return true;
        if (no)
            return false;
        if (empty)
            return def;
        printf("Error: invalid input\n");
    }
    aborted();
}

/* ---- the command table -------------------------------------------------------------------- */

struct opt_spec {
    const char *shortname; /* "-f" or NULL */
    const char *longname;  /* "--format" or NULL; aliases after '|': "--leader|--primary" */
    const char *metavar;   /* NULL: a flag */
    const char *choices;   /* "a|b|c": click.Choice */
    const char *type;      /* "float" or NULL */
    const char *help;
};

static const char role_choices[] = "leader|primary|standby-leader|replica|standby|any|master";

static const struct opt_spec opts[O_N] = {
    [O_FORMAT] = {"-f", "--format", "TEXT", NULL, NULL, "Output format (pretty, tsv, json, yaml)"},
    [O_WATCH_W] = {"-W", NULL, NULL, NULL, NULL, "Auto update the screen every 2 seconds"},
    [O_WATCH] = {"-w", "--watch", "FLOAT", NULL, "float", "Auto update the screen every X seconds"},
    [O_EXTENDED] = {"-e", "--extended", NULL, NULL, NULL, "Show some extra information"},
    [O_TIMESTAMP] = {"-t", "--timestamp", NULL, NULL, NULL, "Print timestamp"},
    [O_FORCE] = {NULL, "--force", NULL, NULL, NULL, "Do not ask for confirmation at any point"},
    [O_LEADER] = {NULL, "--leader|--primary|--master", "TEXT", NULL, NULL,
                  "The name of the current leader"},
    [O_CANDIDATE] = {NULL, "--candidate", "TEXT", NULL, NULL, "The name of the candidate"},
    [O_SCHEDULED] = {NULL, "--scheduled", "TEXT", NULL, NULL,
                     "Timestamp of a scheduled %s in unambiguous format (e.g. ISO 8601)"},
    [O_ROLE] = {"-r", "--role", "", role_choices, NULL, "%s only members with this role"},
    [O_ANY] = {NULL, "--any", NULL, NULL, NULL, "Restart a single member only"},
    [O_PG_VERSION] = {NULL, "--pg-version", "TEXT", NULL, NULL,
                      "Restart if the PostgreSQL version is less than provided (e.g. 9.5.2)"},
    [O_PENDING] = {NULL, "--pending", NULL, NULL, NULL, "Restart if pending"},
    [O_TIMEOUT] = {NULL, "--timeout", "TEXT", NULL, NULL,
                   "Return error and fail over if necessary when restarting takes longer than "
                   "this."},
    [O_WAIT] = {NULL, "--wait", NULL, NULL, NULL, "%s"},
    [O_QUIET] = {"-q", "--quiet", NULL, NULL, NULL, "Do not show changes"},
    [O_SET] = {"-s", "--set", "TEXT", NULL, NULL,
               "Set specific configuration value. Can be specified multiple times"},
    [O_PG] = {"-p", "--pg", "TEXT", NULL, NULL,
              "Set specific PostgreSQL parameter value. Shorthand for -s postgresql.parameters. "
              "Can be specified multiple times"},
    [O_APPLY] = {NULL, "--apply", "TEXT", NULL, NULL,
                 "Apply configuration from file. Use - for stdin."},
    [O_REPLACE] = {NULL, "--replace", "TEXT", NULL, NULL,
                   "Apply configuration from file, replacing existing configuration. Use - for "
                   "stdin."},
    [O_GROUP] = {NULL, "--group", "INTEGER", NULL, NULL, "Citus group (accepted, not used)"},
};

#define END (-1)

struct cmd_spec {
    const char *name;
    const char *args; /* usage of the positional arguments */
    int min_pos, max_pos;
    const char *help;
    const char *fill; /* the word for "%s" in option help (action, "Wait until ...") */
    int opts[16];     /* option ids, END-terminated */
    int (*run)(struct ctl *, struct ctl_args *);
    bool needs_config;
};

static const struct cmd_spec cmds[] = {
    {"add-member",
     "RAFT_ADDR",
     1,
     1,
     "Add a new member to the Raft cluster (then start it with --join)",
     NULL,
     {END},
     ctl_cmd_add_member,
     true},
    {"edit-config",
     "[CLUSTER_NAME]",
     0,
     1,
     "Edit cluster configuration",
     NULL,
     {O_GROUP, O_QUIET, O_SET, O_PG, O_APPLY, O_REPLACE, O_FORCE, END},
     ctl_cmd_edit_config,
     true},
    {"failover",
     "[CLUSTER_NAME]",
     0,
     1,
     "Failover to a replica",
     NULL,
     {O_GROUP, O_LEADER, O_CANDIDATE, O_FORCE, END},
     ctl_cmd_failover,
     true},
    {"flush",
     "CLUSTER_NAME [MEMBER_NAMES]... {restart|switchover}",
     2,
     CTL_MAX_POS,
     "Discard scheduled events",
     "Flush",
     {O_GROUP, O_ROLE, O_FORCE, END},
     ctl_cmd_flush,
     true},
    {"history",
     "[CLUSTER_NAME]",
     0,
     1,
     "Show the history of failovers/switchovers",
     NULL,
     {O_GROUP, O_FORMAT, END},
     ctl_cmd_history,
     true},
    {"list",
     "[CLUSTER_NAMES]...",
     0,
     CTL_MAX_POS,
     "List the Patroni members for a given Patroni",
     NULL,
     {O_GROUP, O_EXTENDED, O_TIMESTAMP, O_FORMAT, O_WATCH_W, O_WATCH, END},
     ctl_cmd_list,
     true},
    {"pause",
     "[CLUSTER_NAME]",
     0,
     1,
     "Disable auto failover",
     "Wait until pause is applied on all nodes",
     {O_GROUP, O_WAIT, END},
     ctl_cmd_pause,
     true},
    {"reinit",
     "[CLUSTER_NAME] [MEMBER_NAMES]...",
     0,
     CTL_MAX_POS,
     "Reinitialize cluster member",
     "Wait until reinitialization completes",
     {O_GROUP, O_FORCE, O_WAIT, END},
     ctl_cmd_reinit,
     true},
    {"reload",
     "[CLUSTER_NAME] [MEMBER_NAMES]...",
     0,
     CTL_MAX_POS,
     "Reload cluster member configuration",
     "Reload",
     {O_GROUP, O_ROLE, O_FORCE, END},
     ctl_cmd_reload,
     true},
    {"restart",
     "[CLUSTER_NAME] [MEMBER_NAMES]...",
     0,
     CTL_MAX_POS,
     "Restart cluster member",
     "restart",
     {O_GROUP, O_ROLE, O_ANY, O_SCHEDULED, O_PG_VERSION, O_PENDING, O_TIMEOUT, O_FORCE, END},
     ctl_cmd_restart,
     true},
    {"resume",
     "[CLUSTER_NAME]",
     0,
     1,
     "Resume auto failover",
     "Wait until pause is cleared on all nodes",
     {O_GROUP, O_WAIT, END},
     ctl_cmd_resume,
     true},
    {"show-config",
     "[CLUSTER_NAME]",
     0,
     1,
     "Show cluster configuration",
     NULL,
     {O_GROUP, END},
     ctl_cmd_show_config,
     true},
    {"switchover",
     "[CLUSTER_NAME]",
     0,
     1,
     "Switchover to a replica",
     "switchover",
     {O_GROUP, O_LEADER, O_CANDIDATE, O_SCHEDULED, O_FORCE, END},
     ctl_cmd_switchover,
     true},
    {"topology",
     "[CLUSTER_NAMES]...",
     0,
     CTL_MAX_POS,
     "Prints ASCII topology for given cluster",
     NULL,
     {O_GROUP, O_WATCH_W, O_WATCH, END},
     ctl_cmd_topology,
     true},
    {"version",
     "[CLUSTER_NAME] [MEMBER_NAMES]...",
     0,
     CTL_MAX_POS,
     "Output version of raftgresctl command or a running raftgres instance",
     NULL,
     {O_GROUP, END},
     ctl_cmd_version,
     false},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void opt_left(const struct opt_spec *o, char *buf, size_t len)
{
    char names[128] = "";
    if (o->shortname)
        snprintf(names, sizeof(names), "%s", o->shortname);
    if (o->longname) {
        char l[80];
        snprintf(l, sizeof(l), "%s", o->longname);
        for (char *p = l; *p; p++)
            if (*p == '|')
                *p = ',';
        char spaced[120] = "";
        for (char *p = l, *q = spaced; *p && q < spaced + sizeof(spaced) - 3; p++) {
            *q++ = *p;
            if (*p == ',')
                *q++ = ' ';
            *q = '\0';
        }
        size_t n = strlen(names);
        snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "", spaced);
    }
    if (o->choices)
        snprintf(buf, len, "%s [%s]", names, o->choices);
    else if (o->metavar)
        snprintf(buf, len, "%s %s", names, o->metavar);
    else
        snprintf(buf, len, "%s", names);
}

static void print_opts(FILE *out, const char *lefts[], const char *helps[], int n)
{
    int w = 0;
    for (int i = 0; i < n; i++)
        if ((int)strlen(lefts[i]) > w && strlen(lefts[i]) <= 30)
            w = (int)strlen(lefts[i]);
    for (int i = 0; i < n; i++) {
        if ((int)strlen(lefts[i]) > w)
            fprintf(out, "  %s\n  %*s  %s\n", lefts[i], w, "", helps[i]);
        else
            fprintf(out, "  %-*s  %s\n", w, lefts[i], helps[i]);
    }
}

static void usage_line(FILE *out, const struct cmd_spec *c)
{
    fprintf(out, "Usage: %s %s [OPTIONS]%s%s\n", prog, c->name, c->args[0] ? " " : "", c->args);
}

static void cmd_help(const struct cmd_spec *c)
{
    usage_line(stdout, c);
    printf("\n  %s\n\nOptions:\n", c->help);
    char lefts[17][200];
    char helps[17][300];
    const char *lp[17], *hp[17];
    int n = 0;
    for (int i = 0; c->opts[i] != END; i++) {
        const struct opt_spec *o = &opts[c->opts[i]];
        opt_left(o, lefts[n], sizeof(lefts[n]));
        snprintf(helps[n], sizeof(helps[n]), o->help, c->fill ? c->fill : "");
        if (!strncmp(o->help, "%s", 2) && helps[n][0] >= 'a' && helps[n][0] <= 'z')
            helps[n][0] = (char)(helps[n][0] - 'a' + 'A');
        lp[n] = lefts[n];
        hp[n] = helps[n];
        n++;
    }
    lp[n] = "--help";
    hp[n] = "Show this message and exit.";
    n++;
    print_opts(stdout, lp, hp, n);
}

static void main_help(FILE *out)
{
    fprintf(out, "Usage: %s [OPTIONS] COMMAND [ARGS]...\n\nOptions:\n", prog);
    const char *lp[] = {"-c, --config-file TEXT", "-k, --insecure", "--help"};
    const char *hp[] = {"Configuration file (or RAFTGRES_CONFIG_FILE)",
                        "Allow connections to SSL sites without certs (accepted, not used)",
                        "Show this message and exit."};
    print_opts(out, lp, hp, 3);
    fprintf(out, "\nCommands:\n");
    const char *cl[N_CMDS], *ch[N_CMDS];
    for (size_t i = 0; i < N_CMDS; i++) {
        cl[i] = cmds[i].name;
        ch[i] = cmds[i].help;
    }
    print_opts(out, cl, ch, (int)N_CMDS);
}

static const struct cmd_spec *current;

static int usage_error(const struct cmd_spec *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const struct cmd_spec *c, const char *fmt, ...)
{
    fflush(stdout);
    if (c) {
        usage_line(stderr, c);
        fprintf(stderr, "Try '%s %s --help' for help.\n\nError: ", prog, c->name);
    } else {
        fprintf(stderr,
                "Usage: %s [OPTIONS] COMMAND [ARGS]...\nTry '%s --help' for help.\n\nError: ", prog,
                prog);
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

int ctl_usage_error(const char *msg)
{
    return usage_error(current, "%s", msg);
}

/* click's way of naming an option in messages: "'--role' / '-r'". */
static void opt_display(const struct opt_spec *o, char *buf, size_t len)
{
    char first[64] = "";
    if (o->longname) {
        snprintf(first, sizeof(first), "%s", o->longname);
        char *bar = strchr(first, '|');
        if (bar)
            *bar = '\0';
    }
    if (first[0] && o->shortname)
        snprintf(buf, len, "'%s' / '%s'", first, o->shortname);
    else
        snprintf(buf, len, "'%s'", first[0] ? first : o->shortname);
}

static bool name_matches(const struct opt_spec *o, const char *name, size_t nlen)
{
    if (o->shortname && strlen(o->shortname) == nlen && !strncmp(o->shortname, name, nlen))
        return true;
    if (!o->longname)
        return false;
    const char *p = o->longname;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == nlen && !strncmp(p, name, nlen))
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static int check_value(const struct cmd_spec *c, const struct opt_spec *o, const char *v)
{
    char disp[128];
    opt_display(o, disp, sizeof(disp));
    if (o->choices) {
        char tmp[200];
        snprintf(tmp, sizeof(tmp), "|%s|", o->choices);
        char want[200];
        snprintf(want, sizeof(want), "|%s|", v);
        if (!strstr(tmp, want)) {
            char list[300] = "";
            const char *p = o->choices;
            while (*p) {
                const char *bar = strchr(p, '|');
                size_t l = bar ? (size_t)(bar - p) : strlen(p);
                size_t n = strlen(list);
                snprintf(list + n, sizeof(list) - n, "%s'%.*s'", n ? ", " : "", (int)l, p);
                if (!bar)
                    break;
                p = bar + 1;
            }
            return usage_error(c, "Invalid value for %s: '%s' is not one of %s.", disp, v, list);
        }
    }
    if (o->type && !strcmp(o->type, "float")) {
        char *end;
        strtod(v, &end);
        if (!v[0] || *end)
            return usage_error(c, "Invalid value for %s: '%s' is not a valid float.", disp, v);
    }
    return 0;
}

/* Parse the command's arguments: options anywhere, "--opt=value", "-fVALUE", "--" ends
 * options. Returns 0, 2 (usage error, printed) or -1 (--help printed). */
static int parse_args(const struct cmd_spec *c, int argc, char **argv, struct ctl_args *a)
{
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || !arg[1]) {
            if (a->n_pos >= CTL_MAX_POS)
                return usage_error(c, "Got unexpected extra argument (%s)", arg);
            a->pos[a->n_pos++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_pos = true;
            continue;
        }
        if (!strcmp(arg, "--help")) {
            cmd_help(c);
            return -1;
        }
        const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        int found = -1;
        const char *inline_val = eq ? eq + 1 : NULL;
        for (int k = 0; c->opts[k] != END; k++) {
            const struct opt_spec *o = &opts[c->opts[k]];
            if (name_matches(o, arg, nlen)) {
                found = c->opts[k];
                break;
            }
            /* -fjson */
            if (arg[1] != '-' && o->shortname && o->metavar && !strncmp(arg, o->shortname, 2) &&
                strlen(arg) > 2) {
                found = c->opts[k];
                inline_val = arg + 2;
                break;
            }
        }
        if (found < 0)
            return usage_error(c, "No such option: %.*s", (int)nlen, arg);
        const struct opt_spec *o = &opts[found];
        const char *v = "1";
        if (o->metavar) {
            if (inline_val) {
                v = inline_val;
            } else if (i + 1 < argc) {
                v = argv[++i];
            } else {
                char first[64];
                snprintf(first, sizeof(first), "%.*s", (int)nlen, arg);
                return usage_error(c, "Option '%s' requires an argument.", first);
            }
            int rc = check_value(c, o, v);
            if (rc)
                return rc;
        } else if (inline_val) {
            return usage_error(c, "Option '%.*s' does not take a value.", (int)nlen, arg);
        }
        a->val[found] = v;
        if (a->n_multi[found] < CTL_MAX_MULTI)
            a->multi[found][a->n_multi[found]++] = v;
        else
            return usage_error(c, "Option '%.*s' given more than %d times.", (int)nlen, arg,
                               CTL_MAX_MULTI);
    }
    if (a->n_pos < c->min_pos) {
        /* Name the first missing argument as click does. */
        const char *missing = "CLUSTER_NAME";
        if (!strcmp(c->name, "add-member"))
            missing = "RAFT_ADDR";
        else if (!strcmp(c->name, "flush") && a->n_pos == 1)
            missing = "{restart|switchover}";
        return usage_error(c, "Missing argument '%s'.", missing);
    }
    if (a->n_pos > c->max_pos) {
        int extra = a->n_pos - c->max_pos;
        char list[512] = "";
        for (int k = c->max_pos; k < a->n_pos; k++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof(list) - n, "%s%s", n ? " " : "", a->pos[k]);
        }
        return usage_error(c, "Got unexpected extra argument%s (%s)", extra > 1 ? "s" : "", list);
    }
    if (a->val[O_FORMAT]) {
        enum ctl_fmt f;
        if (ctl_parse_fmt(a->val[O_FORMAT], &f) != 0)
            return usage_error(c,
                               "Invalid value for '--format' / '-f': '%s' is not one of "
                               "'pretty', 'tsv', 'json', 'yaml'.",
                               a->val[O_FORMAT]);
    }
    return 0;
}

static void base64(const char *in, char *out, size_t outlen)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
}

int main(int argc, char **argv)
{
    signal(SIGINT, on_sigint);
    signal(SIGPIPE, SIG_IGN);
    const char *config = NULL;
    const char *env_names[] = {"RAFTGRES_CONFIG_FILE=", "PATRONICTL_CONFIG_FILE="};
    for (int k = 1; k >= 0; k--) /* RAFTGRES_CONFIG_FILE wins */
        for (char **e = environ; *e; e++)
            if (!strncmp(*e, env_names[k], strlen(env_names[k])))
                config = *e + strlen(env_names[k]);
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-c") || !strcmp(arg, "--config-file")) {
            if (i + 1 >= argc)
                return usage_error(NULL, "Option '%s' requires an argument.", arg);
            config = argv[++i];
        } else if (!strncmp(arg, "--config-file=", 14)) {
            config = arg + 14;
        } else if (!strcmp(arg, "-k") || !strcmp(arg, "--insecure")) {
            /* plain HTTP only: nothing to relax */
        } else if (!strcmp(arg, "--help")) {
            main_help(stdout);
            return 0;
        } else if (arg[0] == '-') {
            return usage_error(NULL, "No such option: %s", arg);
        } else {
            break;
        }
    }
    if (i >= argc) {
        main_help(stdout);
        return 0;
    }
    const char *name = argv[i++];
    const struct cmd_spec *c = NULL;
    for (size_t k = 0; k < N_CMDS; k++)
        if (!strcmp(cmds[k].name, name))
            c = &cmds[k];
    if (!c)
        return usage_error(NULL, "No such command '%s'.", name);
    current = c;
    struct ctl_args *a = calloc(1, sizeof(*a));
    int rc = parse_args(c, argc - i, argv + i, a);
    if (rc) {
        free(a);
        return rc < 0 ? 0 : rc;
    }
    struct ctl ctl;
    memset(&ctl, 0, sizeof(ctl));
    ctl.prog = prog;
    ctl.cmd = c->name;
    bool need = c->needs_config || a->n_pos > 0; /* version CLUSTER asks the members */
    if (need) {
        if (!config) {
            free(a);
            return usage_error(NULL, "no configuration file: give -c CONFIG (or set "
                                     "RAFTGRES_CONFIG_FILE)");
        }
        if (access(config, R_OK) != 0) {
            free(a);
            return ctl_fail("Provided config file %s not existing or no read rights. Check the "
                            "-c/--config-file parameter",
                            config);
        }
        struct cfg_report rep;
        if (cfg_load(config, environ, &ctl.cfg, &rep) != 0) {
            cfg_report_print(&rep, stderr);
            cfg_report_free(&rep);
            free(a);
            return 2;
        }
        cfg_report_free(&rep);
        if (ctl.cfg->restapi.connect_address)
            snprintf(ctl.urls[ctl.n_urls++], sizeof(ctl.urls[0]), "http://%s",
                     ctl.cfg->restapi.connect_address);
        if (!ctl.cfg->restapi.connect_address ||
            strcmp(ctl.cfg->restapi.connect_address, ctl.cfg->restapi.listen))
            snprintf(ctl.urls[ctl.n_urls++], sizeof(ctl.urls[0]), "http://%s",
                     ctl.cfg->restapi.listen);
        if (ctl.cfg->raft.password && ctl.cfg->raft.password[0])
            snprintf(ctl.token_header, sizeof(ctl.token_header), "X-Raftgres-Token: %s\r\n",
                     ctl.cfg->raft.password);
        if (ctl.cfg->restapi.username && ctl.cfg->restapi.password) {
            char up[300], b64[420];
            snprintf(up, sizeof(up), "%s:%s", ctl.cfg->restapi.username, ctl.cfg->restapi.password);
            base64(up, b64, sizeof(b64));
            snprintf(ctl.auth_header, sizeof(ctl.auth_header), "Authorization: Basic %s\r\n", b64);
        }
    }
    rc = c->run(&ctl, a);
    fflush(stdout);
    if (ctl.cfg)
        cfg_free(ctl.cfg);
    free(a);
    return rc;
}
