/* proc: see proc.h. */
#include "src/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct proc {
    uv_process_t process;
    uv_pipe_t out;
    uv_timer_t timer;
    proc_cb cb;
    void *data;
    char *buf;
    size_t len;
    bool pipe_open, exited, pipe_eof, timed_out, reported;
    int64_t exit_status;
    int term_signal;
    int log_fd;
    int child_fd; /* the child's end of the output socket pair, until spawned */
    int pending_close;
    char error[256];
};

static void on_closed(uv_handle_t *h)
{
    struct proc *p = h->data;
    if (--p->pending_close > 0)
        return;
    free(p->buf);
    free(p);
}

static void maybe_finish(struct proc *p)
{
    /* Report once the process exited and its output is drained. */
    if (!p->exited || (p->pipe_open && !p->pipe_eof) || p->reported)
        return;
    p->reported = true;
    uv_timer_stop(&p->timer);
    if (p->cb) {
        struct proc_result r = {.exit_status = p->exit_status,
                                .term_signal = p->term_signal,
                                .timed_out = p->timed_out,
                                .output = p->buf ? p->buf : "",
                                .error = p->error};
        p->cb(p->data, &r);
    }
    p->pending_close = 2 + (p->pipe_open ? 1 : 0);
    uv_close((uv_handle_t *)&p->timer, on_closed);
    uv_close((uv_handle_t *)&p->process, on_closed);
    if (p->pipe_open)
        uv_close((uv_handle_t *)&p->out, on_closed);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
    struct proc *p = h->data;
    p->exited = true;
    p->exit_status = status;
    p->term_signal = sig;
    if (p->log_fd >= 0) {
        close(p->log_fd);
        p->log_fd = -1;
    }
    maybe_finish(p);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct proc *p = h->data;
    (void)suggested;
    if (!p->buf) {
        p->buf = malloc(PROC_OUTPUT_MAX + 1);
        p->len = 0;
    }
    if (p->len >= PROC_OUTPUT_MAX) {
        /* Keep the tail: the end of the output says why a command failed. */
        memmove(p->buf, p->buf + PROC_OUTPUT_MAX / 2, PROC_OUTPUT_MAX / 2);
        p->len = PROC_OUTPUT_MAX / 2;
    }
    b->base = p->buf + p->len;
    b->len = PROC_OUTPUT_MAX - p->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct proc *p = s->data;
    (void)b;
    if (n > 0) {
        p->len += (size_t)n;
        p->buf[p->len] = '\0';
        return;
    }
    if (n < 0) {
        p->pipe_eof = true;
        uv_read_stop(s);
        maybe_finish(p);
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct proc *p = t->data;
    if (p->exited)
        return;
    p->timed_out = true;
    uv_process_kill(&p->process, SIGKILL);
}

static void on_failed_start(uv_timer_t *t)
{
    struct proc *p = t->data;
    if (p->cb) {
        struct proc_result r = {.exit_status = -1,
                                .term_signal = 0,
                                .timed_out = false,
                                .output = "",
                                .error = p->error};
        p->cb(p->data, &r);
    }
    p->pending_close = 1 + (p->pipe_open ? 1 : 0);
    uv_close((uv_handle_t *)&p->timer, on_closed);
    if (p->pipe_open)
        uv_close((uv_handle_t *)&p->out, on_closed);
}

static const char *const default_env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                                          NULL};

struct proc *proc_spawn(uv_loop_t *loop, const struct proc_opts *o, proc_cb cb, void *data)
{
    struct proc *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cb = cb;
    p->data = data;
    p->log_fd = -1;
    p->child_fd = -1;
    p->process.data = p->out.data = p->timer.data = p;
    uv_timer_init(loop, &p->timer);

    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    if (o->log_path) {
        p->log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (p->log_fd < 0) {
            snprintf(p->error, sizeof(p->error), "cannot open %s: %s", o->log_path,
                     strerror(errno));
            uv_timer_start(&p->timer, on_failed_start, 0, 0);
            return p;
        }
        stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
        stdio[1].data.fd = stdio[2].data.fd = p->log_fd;
    } else {
        /* One socket pair for stdout and stderr together, in the order they were written. */
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
            snprintf(p->error, sizeof(p->error), "socketpair: %s", strerror(errno));
            uv_timer_start(&p->timer, on_failed_start, 0, 0);
            return p;
        }
        uv_pipe_init(loop, &p->out, 0);
        uv_pipe_open(&p->out, fds[0]);
        p->pipe_open = true;
        p->child_fd = fds[1];
        stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
        stdio[1].data.fd = stdio[2].data.fd = fds[1];
    }
    uv_process_options_t uo;
    memset(&uo, 0, sizeof(uo));
    uo.file = o->argv[0];
    uo.args = (char **)o->argv;
    uo.env = (char **)(o->env ? o->env : default_env);
    uo.cwd = o->cwd;
    uo.exit_cb = on_exit_cb;
    uo.stdio = stdio;
    uo.stdio_count = 3;
    if (o->detached)
        uo.flags |= UV_PROCESS_DETACHED;
    int rc = uv_spawn(loop, &p->process, &uo);
    if (p->child_fd >= 0) {
        close(p->child_fd); /* the child has its copy; EOF comes when it exits */
        p->child_fd = -1;
    }
    if (rc != 0) {
        snprintf(p->error, sizeof(p->error), "cannot start %s: %s", o->argv[0], uv_strerror(rc));
        if (p->log_fd >= 0)
            close(p->log_fd);
        p->log_fd = -1;
        /* uv_spawn failure leaves the process handle initialised: close it too. */
        p->pending_close = 0;
        uv_close((uv_handle_t *)&p->process, NULL);
        uv_timer_start(&p->timer, on_failed_start, 0, 0);
        return p;
    }
    if (p->pipe_open)
        uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
    if (o->timeout_ms)
        uv_timer_start(&p->timer, on_timeout, o->timeout_ms, 0);
    return p;
}

int proc_pid(const struct proc *p)
{
    return p->exited ? 0 : p->process.pid;
}

void proc_signal(struct proc *p, int sig)
{
    if (!p->exited && p->process.pid > 0)
        uv_process_kill(&p->process, sig);
}

void proc_detach(struct proc *p)
{
    p->cb = NULL;
    p->data = NULL;
}

void proc_argv_string(const char *const *argv, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; argv[i] && n + 1 < outlen; i++) {
        int w = snprintf(out + n, outlen - n, "%s%s", i ? " " : "", argv[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}
