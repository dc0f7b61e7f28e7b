/* raftgres: the daemon's command line (as `patroni CONFIG`).
 *
 *   raftgres CONFIG                 run the member described by CONFIG
 *   raftgres --join CONFIG          a new member: wait to be added instead of bootstrapping
 *   raftgres --validate-config FILE report every problem in FILE, exit 2 on error
 *   raftgres --version */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pwd.h>

#include "src/config.h"
#include "src/daemon.h"
#include "src/log.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out, "usage: raftgres [--join] CONFIG\n"
                 "       raftgres --validate-config CONFIG\n"
                 "       raftgres --version\n"
                 "\n"
                 "Runs one member of a raftgres cluster: the Raft store, the REST API and\n"
                 "(later) the local PostgreSQL. Environment variables RAFTGRES_* override\n"
                 "keys of CONFIG (see docs/config.md).\n");
}

static int validate(const char *path)
{
    struct cfg *cfg = NULL;
    struct cfg_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = cfg_load(path, environ, &cfg, &rep);
    cfg_report_print(&rep, stderr);
    int errors = (int)rep.n_errors;
    cfg_report_free(&rep);
    cfg_free(cfg);
    if (rc != 0 || errors) {
        fprintf(stderr, "%s: %d error%s\n", path, errors, errors == 1 ? "" : "s");
        return 2;
    }
    fprintf(stderr, "%s: configuration is valid\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    bool join = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("raftgres %s\n", RAFTGRES_VERSION);
            return 0;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--validate-config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "raftgres: --validate-config needs a FILE\n");
                return 2;
            }
            return validate(argv[i + 1]);
        } else if (!strcmp(a, "--join")) {
            join = true;
        } else if (a[0] == '-') {
            fprintf(stderr, "raftgres: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "raftgres: more than one CONFIG given\n");
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    if (geteuid() == 0) {
        /* Like postgres itself: the daemon manages PostgreSQL and runs as its OS user. */
        struct passwd *pw = getpwnam("postgres");
        fprintf(stderr,
                "raftgres: refusing to run as root: run it as the PostgreSQL OS user%s%s%s, "
                "e.g. runuser -u postgres -- raftgres %s\n",
                pw ? " (" : "", pw ? pw->pw_name : "", pw ? ")" : "", path);
        return 2;
    }
    struct cfg *cfg = NULL;
    struct cfg_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = cfg_load(path, environ, &cfg, &rep);
    cfg_report_print(&rep, stderr);
    cfg_report_free(&rep);
    if (rc != 0) {
        fprintf(stderr, "raftgres: %s is not valid; nothing was started\n", path);
        return 2;
    }
    if (cfg->log.level && log_set_level_name(cfg->log.level) != 0)
        log_warning("log.level %s is unknown; using INFO", cfg->log.level);
    log_info("raftgres %s starting: member %s of cluster %s", RAFTGRES_VERSION, cfg->name,
             cfg->scope);
    int code = daemon_run(cfg, join);
    cfg_free(cfg);
    return code;
}
