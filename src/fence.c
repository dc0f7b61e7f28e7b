/* fence: see fence.h. */
#include "src/fence.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/log.h"

#define FENCE_MAX_RESTARTS 10

static int spawn(struct fence *f, char *err, size_t errlen);

static void on_pipe_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct fence *f = p->data;
    f->running = false;
    uv_close((uv_handle_t *)p, NULL);
    if (!uv_is_closing((uv_handle_t *)&f->in))
        uv_close((uv_handle_t *)&f->in, on_pipe_closed);
    if (f->stopping)
        return;
    log_error("the fencer exited (%s %d): %s", sig ? "signal" : "code", sig ? sig : (int)status,
              f->restarts < FENCE_MAX_RESTARTS ? "starting it again"
                                               : "giving up; the lease timer still demotes");
    if (f->restarts++ < FENCE_MAX_RESTARTS) {
        char err[256];
        if (spawn(f, err, sizeof(err)) != 0)
            log_error("cannot restart the fencer: %s", err);
    }
}

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

static int spawn(struct fence *f, char *err, size_t errlen)
{
    uv_pipe_init(f->loop, &f->in, 0);
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
    int rc = uv_spawn(f->loop, &f->proc, &o);
    if (rc != 0) {
        uv_close((uv_handle_t *)&f->proc, NULL);
        uv_close((uv_handle_t *)&f->in, NULL);
        snprintf(err, errlen, "cannot start the fencer %s: %s", f->path, uv_strerror(rc));
        return -1;
    }
    f->running = true;
    f->armed = false;
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
    if (!f->running || pid <= 0)
        return;
    char line[80];
    snprintf(line, sizeof(line), "arm %llu %d\n", (unsigned long long)deadline_ms, pid);
    send_line(f, line);
    f->armed = true;
}

void fence_disarm(struct fence *f)
{
    if (!f->armed)
        return;
    send_line(f, "disarm\n");
    f->armed = false;
}

void fence_stop(struct fence *f)
{
    if (!f->running)
        return;
    f->stopping = true;
    send_line(f, "exit\n");
    if (!uv_is_closing((uv_handle_t *)&f->in))
        uv_close((uv_handle_t *)&f->in, on_pipe_closed);
}
