/* clockshift: an LD_PRELOAD shim for the cluster tests (test_clock.py) that makes the wall
 * clock of one process jump, as an operator's `date -s` or a bad NTP step would, while every
 * other clock keeps running.
 *
 * clock_gettime(CLOCK_REALTIME / CLOCK_REALTIME_COARSE), gettimeofday() and time() return the
 * real time plus an offset in seconds (may be negative) read from the file named by
 * CLOCKSHIFT_FILE: one integer; a missing or unreadable file means 0. Every other
 * clock id (CLOCK_MONOTONIC, CLOCK_BOOTTIME, ...) goes to the real clock_gettime unchanged.
 * The file is read again at most every 100 ms of CLOCK_MONOTONIC, so a test changes the offset
 * by rewriting it. State is two 64-bit atomics: concurrent callers may both re-read the file,
 * which is harmless. Only async-signal-safe calls (open, read, close) on the hot path. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RECHECK_NS 100000000LL /* 100 ms */

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static _Atomic(clock_gettime_fn) real_clock_gettime;
static _Atomic int64_t offset_s;
static _Atomic int64_t next_check_ns; /* CLOCK_MONOTONIC; 0: never read yet */
static char shift_file[4096];

__attribute__((constructor)) static void clockshift_init(void)
{
    const char *p = getenv("CLOCKSHIFT_FILE");
    if (p && strlen(p) < sizeof(shift_file))
        memcpy(shift_file, p, strlen(p) + 1);
}

static int call_real(clockid_t id, struct timespec *ts)
{
    clock_gettime_fn f = atomic_load_explicit(&real_clock_gettime, memory_order_acquire);
    if (!f) {
        f = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
        if (!f)
            abort();
        atomic_store_explicit(&real_clock_gettime, f, memory_order_release);
    }
    return f(id, ts);
}

/* The file's integer, or 0 when it is missing, unreadable or not a number. */
static int64_t read_offset(void)
{
    if (!shift_file[0])
        return 0;
    int fd = open(shift_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = buf;
    while (*p == ' ' || *p == '\t')
        p++;
    int64_t sign = 1, v = 0;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9' && v < INT64_MAX / 100; p++)
        v = v * 10 + (*p - '0');
    return sign * v;
}

static int64_t current_offset(void)
{
    struct timespec now;
    if (call_real(CLOCK_MONOTONIC, &now) != 0)
        return atomic_load_explicit(&offset_s, memory_order_relaxed);
    int64_t ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
    if (ns >= atomic_load_explicit(&next_check_ns, memory_order_relaxed)) {
        atomic_store_explicit(&next_check_ns, ns + RECHECK_NS, memory_order_relaxed);
        atomic_store_explicit(&offset_s, read_offset(), memory_order_relaxed);
    }
    return atomic_load_explicit(&offset_s, memory_order_relaxed);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc = call_real(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += (time_t)current_offset();
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    if (tz) {
        /* Obsolete; the kernel still fills it. Zero is what glibc reports, too. */
        memset(tz, 0, sizeof(struct timezone));
    }
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *t)
{
    struct timespec ts;
    time_t v = clock_gettime(CLOCK_REALTIME, &ts) == 0 ? ts.tv_sec : (time_t)-1;
    if (t)
        *t = v;
    return v;
}
