/* raftgres-fencer: self-fencing without hardware (issue 5, design.md section 3).
 *
 * A tiny process the daemon starts and feeds through a pipe on stdin. It does not share
 * the daemon's event loop, so a daemon that is frozen (SIGSTOP), deadlocked, stuck in a
 * long stall or killed cannot keep a deposed primary writable: when the deadline it was
 * given passes without a newer one, the fencer kills the local postmaster (SIGKILL: it is
 * a primary that may no longer be one) and says so on stderr.
 *
 * Protocol, one line per message:
 *   arm <deadline> <pid>   the postmaster <pid> must be dead by <deadline>, in
 *                          CLOCK_MONOTONIC milliseconds (the same clock for every process)
 *   disarm                 this member is not a primary any more: nothing to fence
 *   exit                   clean daemon shutdown: exit without fencing
 * On end of file (the daemon died) an armed deadline is still enforced, then it exits.
 * No allocation, no threads: one poll() with the time left as its timeout. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/procstat.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void say(const char *fmt, long a, long b)
{
    char line[300];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n,
                          ",000 %s: fencer: ", strstr(fmt, "killing") ? "CRITICAL" : "INFO");
    snprintf(line + n, sizeof(line) - n, fmt, a, b);
    strncat(line, "\n", sizeof(line) - strlen(line) - 1);
    ssize_t w = write(STDERR_FILENO, line, strlen(line));
    (void)w;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* The daemon's SIGINT/SIGTERM must not take us down with it: we decide on our own. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    char buf[256];
    size_t len = 0;
    bool armed = false, eof = false;
    uint64_t deadline = 0;
    long pid = 0;
    unsigned long long pid_start = 0;
    for (;;) {
        int timeout = -1;
        if (armed) {
            uint64_t now = now_ms();
            if (now >= deadline) {
                if (proc_start_time(pid) == pid_start && pid_start && kill((pid_t)pid, SIGKILL) == 0)
                    say("lease deadline passed %ld ms ago without a renew from the daemon: "
                        "killing the postmaster (pid %ld)",
                        (long)(now - deadline), pid);
                armed = false;
                if (eof)
                    return 0;
                continue;
            }
            timeout = (int)(deadline - now);
        } else if (eof) {
            return 0;
        }
        if (eof) {
            /* Nothing more will come: wait for the deadline. */
            struct timespec ts = {.tv_sec = timeout / 1000, .tv_nsec = (timeout % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int rc = poll(&pfd, 1, timeout);
        if (rc < 0 && errno != EINTR)
            return 1;
        if (rc <= 0)
            continue;
        ssize_t n = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0) {
            eof = true;
            if (armed)
                say("the daemon went away with a lease deadline %ld ms ahead (postmaster "
                    "pid %ld): enforcing it",
                    (long)(deadline > now_ms() ? deadline - now_ms() : 0), pid);
            continue;
        }
        len += (size_t)n;
        buf[len] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = '\0';
            unsigned long long d;
            long p;
            if (sscanf(buf, "arm %llu %ld", &d, &p) == 2 && p > 0) {
                if (p != pid || !armed)
                    pid_start = proc_start_time(p);
                armed = pid_start != 0;
                deadline = d;
                pid = p;
            } else if (!strcmp(buf, "disarm")) {
                armed = false;
            } else if (!strcmp(buf, "exit")) {
                return 0;
            }
            size_t used = (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, len - used + 1);
            len -= used;
        }
        if (len >= sizeof(buf) - 1)
            len = 0; /* a line too long is garbage: drop it */
    }
}
