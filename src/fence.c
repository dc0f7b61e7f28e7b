/* fence: see fence.h. */
#include "src/fence.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/log.h"
#include "src/procstat.h"
#include "src/rnode.h"

#define FENCE_MAX_RESTARTS 10

static int spawn(struct fence *f, char *err, size_t errlen);

static void send_line(struct fence *f, const char *line)
{
    if (!f->running)
        return;
    uv_buf_t b = uv_buf_init((char *)line, (unsigned)strlen(line));
    /* A pipe with a reader that drains it: a short line never blocks. */
    int rc = uv_try_write((uv_stream_t *)&f->in, &b, 1);
    if (rc < 0)
        log_warning("cannot talk to the fencer: %s", uv_strerror(rc));
}

static void send_arm(struct fence *f)
{
    char line[80];
    snprintf(line, sizeof(line), "arm %llu %d\n", (unsigned long long)f->deadline_ms, f->pid);
    send_line(f, line);
}

/* A new fencer knows nothing: hand it what the one that died was enforcing before the next
 * renew comes (or never comes, if the daemon freezes now). */
static void rearm(struct fence *f)
{
    if (!f->armed)
        return;
    if (!f->pid_start || proc_start_time(f->pid) != f->pid_start) {
        log_info("the postmaster (pid %d) the dead fencer watched is gone: nothing to re-arm",
                 f->pid);
        f->armed = false;
        return;
    }
    send_arm(f);
    uint64_t now = rnode_now_ms();
    if (f->deadline_ms > now)
        log_info("re-armed the new fencer (pid %d) with the last lease deadline, %llu ms "
                 "ahead, for the postmaster (pid %d)",
                 f->proc.pid, (unsigned long long)(f->deadline_ms - now), f->pid);
    else
        log_warning("re-armed the new fencer (pid %d) with the last lease deadline, passed "
                    "%llu ms ago without a renew: it kills the postmaster (pid %d) now",
                    f->proc.pid, (unsigned long long)(now - f->deadline_ms), f->pid);
}

/* The handles of a dead fencer may be used again only once libuv has closed both; that
 * happens at the end of the loop iteration that saw it die, so the new one starts at once. */
static void on_closed(uv_handle_t *h)
{
    struct fence *f = h->data;
    if (--f->open_handles > 0 || !f->restart)
        return;
    f->restart = false;
    if (f->stopping)
        return;
    char err[256];
    if (spawn(f, err, sizeof(err)) != 0) {
        log_error("cannot restart the fencer: %s; only the daemon's own lease timer demotes "
                  "this member now",
                  err);
        return;
    }
    rearm(f);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct fence *f = p->data;
    f->running = false;
    uv_close((uv_handle_t *)p, on_closed);
    if (!uv_is_closing((uv_handle_t *)&f->in))
        uv_close((uv_handle_t *)&f->in, on_closed);
    if (f->stopping)
        return;
    char cause[96];
    if (sig)
        snprintf(cause, sizeof(cause), "killed by signal %d (%s)", sig, strsignal(sig));
    else
        snprintf(cause, sizeof(cause), "exited with code %d", (int)status);
    if (f->restarts >= FENCE_MAX_RESTARTS) {
        log_error("the self-fencing process (pid %d) died: %s; not starting it again after %d "
                  "restarts: only the daemon's own lease timer demotes this member now",
                  p->pid, cause, f->restarts);
        return;
    }
    f->restarts++;
    log_error("the self-fencing process (pid %d) died: %s; starting it again (restart %d of %d)",
              p->pid, cause, f->restarts, FENCE_MAX_RESTARTS);
    f->restart = true;
}

static int spawn(struct fence *f, char *err, size_t errlen)
{
    uv_pipe_init(f->loop, &f->in, 0);
    f->in.data = f;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&f->in;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD; /* its lines go to our log (stderr) */
    stdio[2].data.fd = STDERR_FILENO;
    char *argv[] = {f->path, NULL};
    char *env[] = {"PATH=/usr/bin:/bin", NULL};
    uv_process_options_t o;
    memset(&o, 0, sizeof(o));
    o.file = f->path;
    o.args = argv;
    o.env = env;
    o.stdio = stdio;
    o.stdio_count = 3;
    o.exit_cb = on_exit_cb;
    o.flags = UV_PROCESS_DETACHED; /* its own session: not hit by signals meant for us */
    f->proc.data = f;
    f->open_handles = 2;
    int rc = uv_spawn(f->loop, &f->proc, &o);
    if (rc != 0) {
        uv_close((uv_handle_t *)&f->proc, on_closed);
        uv_close((uv_handle_t *)&f->in, on_closed);
        snprintf(err, errlen, "cannot start the fencer %s: %s", f->path, uv_strerror(rc));
        return -1;
    }
    f->running = true;
    log_info("self-fencing process started (pid %d)", f->proc.pid);
    return 0;
}

int fence_start(struct fence *f, uv_loop_t *loop, bool enabled, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    f->loop = loop;
    f->enabled = enabled;
    if (!enabled)
        return 0;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        snprintf(err, errlen, "cannot find our own executable to locate raftgres-fencer");
        return -1;
    }
    self[n] = '\0';
    snprintf(f->path, sizeof(f->path), "%s/raftgres-fencer", dirname(self));
    if (access(f->path, X_OK) != 0) {
        snprintf(err, errlen,
                 "%s is missing: install it next to raftgres, or set "
                 "watchdog.fencer: off",
                 f->path);
        return -1;
    }
    return spawn(f, err, errlen);
}

void fence_arm(struct fence *f, uint64_t deadline_ms, int pid)
{
    if (!f->enabled || pid <= 0)
        return;
    /* Remembered even while no fencer runs, so a restarted one gets the newest deadline. */
    if (pid != f->pid || !f->armed)
        f->pid_start = proc_start_time(pid);
    f->armed = true;
    f->deadline_ms = deadline_ms;
    f->pid = pid;
    send_arm(f);
}

void fence_disarm(struct fence *f)
{
    if (!f->armed)
        return;
    f->armed = false;
    send_line(f, "disarm\n");
}

void fence_stop(struct fence *f)
{
    f->stopping = true;
    f->restart = false;
    if (!f->running)
        return;
    send_line(f, "exit\n");
    if (!uv_is_closing((uv_handle_t *)&f->in))
        uv_close((uv_handle_t *)&f->in, on_closed);
}
