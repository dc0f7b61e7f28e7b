/* test_watchdog: the watchdog module (src/watchdog.c, compiled in) driven through a fake
 * device that records every call and fails on demand. The real Linux ops are run only
 * against a path that does not exist, never /dev/watchdog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "src/watchdog.c"

/* ---- the fake device ------------------------------------------------------------------- */

struct fake {
    int opens, set_timeouts, keepalives, closes, identifies;
    int open_rc, set_rc, keepalive_rc, close_rc; /* 0 or -errno to inject */
    int round_to;                                /* > 0: the device reports this timeout */
    int last_requested;                          /* seconds asked by the last set_timeout */
    int next_fd;
    int open_fds; /* opened and not yet closed */
};

static int fake_open(void *ctx, const char *device, int *fd)
{
    struct fake *f = ctx;
    (void)device;
    f->opens++;
    if (f->open_rc)
        return f->open_rc;
    *fd = f->next_fd++;
    f->open_fds++;
    return 0;
}

static int fake_set_timeout(void *ctx, int fd, int seconds, int *actual)
{
    struct fake *f = ctx;
    (void)fd;
    f->set_timeouts++;
    f->last_requested = seconds;
    if (f->set_rc)
        return f->set_rc;
    *actual = f->round_to > 0 ? f->round_to : seconds;
    return 0;
}

static int fake_keepalive(void *ctx, int fd)
{
    struct fake *f = ctx;
    (void)fd;
    f->keepalives++;
    return f->keepalive_rc;
}

static int fake_magic_close(void *ctx, int fd)
{
    struct fake *f = ctx;
    (void)fd;
    f->closes++;
    f->open_fds--;
    return f->close_rc;
}

static int fake_identify(void *ctx, int fd, char *buf, size_t len)
{
    struct fake *f = ctx;
    (void)fd;
    f->identifies++;
    snprintf(buf, len, "Software Watchdog");
    return 0;
}

struct fixture {
    struct fake fake;
    struct watchdog_ops ops;
    struct watchdog w;
};

static int setup(void **state)
{
    struct fixture *x = calloc(1, sizeof(*x));
    if (!x)
        return -1;
    x->fake.next_fd = 10;
    x->ops = (struct watchdog_ops){
        .open = fake_open,
        .set_timeout = fake_set_timeout,
        .keepalive = fake_keepalive,
        .magic_close = fake_magic_close,
        .identify = fake_identify,
        .ctx = &x->fake,
    };
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static int device_calls(const struct fake *f)
{
    return f->opens + f->set_timeouts + f->keepalives + f->closes + f->identifies;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_mode_words(void **state)
{
    struct fixture *x = *state;
    static const struct {
        const char *word;
        enum watchdog_mode mode;
        bool warns;
    } cases[] = {
        {"off", WATCHDOG_OFF, false},           {"disabled", WATCHDOG_OFF, false},
        {"false", WATCHDOG_OFF, false},         {"automatic", WATCHDOG_AUTOMATIC, false},
        {"Auto", WATCHDOG_AUTOMATIC, false},    {NULL, WATCHDOG_AUTOMATIC, false},
        {"required", WATCHDOG_REQUIRED, false}, {"REQUIRE", WATCHDOG_REQUIRED, false},
        {"sometimes", WATCHDOG_OFF, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        watchdog_init(&x->w, cases[i].word, NULL, &x->ops);
        assert_int_equal(x->w.mode, cases[i].mode);
        assert_int_equal(x->w.warning[0] != '\0', cases[i].warns);
        assert_string_equal(x->w.device, "/dev/watchdog");
        assert_false(x->w.active);
        assert_int_equal(x->w.fd, -1);
    }
    assert_string_equal(x->w.warning, "Watchdog mode sometimes not recognized, disabling watchdog");
    assert_string_equal(watchdog_mode_name(WATCHDOG_REQUIRED), "required");
    watchdog_init(&x->w, "off", NULL, NULL);
    assert_ptr_equal(x->w.ops, &watchdog_linux_ops);
    assert_int_equal(device_calls(&x->fake), 0);
}

static void test_off_never_touches_device(void **state)
{
    struct fixture *x = *state;
    watchdog_init(&x->w, "off", "/dev/watchdog", &x->ops);
    assert_true(watchdog_usable(&x->w, 25));
    assert_int_equal(watchdog_activate(&x->w, 25), 0);
    assert_false(x->w.active);
    assert_int_equal(watchdog_keepalive(&x->w), 0);
    watchdog_disable(&x->w);
    assert_int_equal(device_calls(&x->fake), 0);
    assert_string_equal(x->w.error, "");
}

static void test_automatic_unopenable(void **state)
{
    struct fixture *x = *state;
    x->fake.open_rc = -ENOENT;
    watchdog_init(&x->w, "automatic", "/dev/watchdog", &x->ops);
    /* automatic may always take the lock: no probe. */
    assert_true(watchdog_usable(&x->w, 25));
    assert_int_equal(x->fake.opens, 0);
    assert_int_equal(watchdog_activate(&x->w, 25), 0);
    assert_false(x->w.active);
    assert_string_equal(x->w.error, "Could not activate Linux watchdog device: Can't open watchdog "
                                    "device: No such file or directory");
    /* Not active: keepalive and disable leave the device alone. */
    assert_int_equal(watchdog_keepalive(&x->w), 0);
    watchdog_disable(&x->w);
    assert_int_equal(x->fake.keepalives + x->fake.closes, 0);
}

static void test_automatic_set_timeout_fails_closes(void **state)
{
    struct fixture *x = *state;
    x->fake.set_rc = -EINVAL;
    watchdog_init(&x->w, "automatic", "/dev/watchdog1", &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 25), 0);
    assert_false(x->w.active);
    /* The timer started with open(): it must have been disarmed. */
    assert_int_equal(x->fake.closes, 1);
    assert_int_equal(x->fake.open_fds, 0);
    assert_string_equal(x->w.error, "Could not activate Software Watchdog at /dev/watchdog1: Could "
                                    "not set timeout on watchdog device: Invalid argument");
}

static void test_required_unopenable(void **state)
{
    struct fixture *x = *state;
    x->fake.open_rc = -EACCES;
    watchdog_init(&x->w, "required", "/dev/watchdog", &x->ops);
    assert_false(watchdog_usable(&x->w, 25));
    assert_string_equal(x->w.error, "watchdog is required but not usable: Could not activate Linux "
                                    "watchdog device: Can't open watchdog device: Permission "
                                    "denied");
    /* Failures are probed again: the device may appear. */
    assert_false(watchdog_usable(&x->w, 25));
    assert_int_equal(x->fake.opens, 2);
    assert_int_equal(watchdog_activate(&x->w, 25), -1);
    assert_false(x->w.active);
    assert_non_null(strstr(x->w.error, "Configuration requires watchdog, but watchdog could not "
                                       "be activated: "));
}

static void test_required_probe(void **state)
{
    struct fixture *x = *state;
    watchdog_init(&x->w, "required", NULL, &x->ops);
    assert_true(watchdog_usable(&x->w, 25));
    /* open, set, magic close: nothing left armed. */
    assert_int_equal(x->fake.opens, 1);
    assert_int_equal(x->fake.set_timeouts, 1);
    assert_int_equal(x->fake.last_requested, 25);
    assert_int_equal(x->fake.closes, 1);
    assert_int_equal(x->fake.open_fds, 0);
    assert_false(x->w.active);
    /* Once usable, not probed again (each probe starts the hardware timer). */
    assert_true(watchdog_usable(&x->w, 25));
    assert_int_equal(x->fake.opens, 1);
}

static void test_required_probe_unsafe_timeout(void **state)
{
    struct fixture *x = *state;
    x->fake.round_to = 60;
    watchdog_init(&x->w, "required", NULL, &x->ops);
    assert_false(watchdog_usable(&x->w, 25));
    assert_int_equal(x->fake.open_fds, 0);
    assert_string_equal(x->w.error, "watchdog is required but not usable: a safe watchdog timeout "
                                    "25 could not be configured. Watchdog timeout is 60.");
}

static void test_required_probe_close_fails(void **state)
{
    struct fixture *x = *state;
    x->fake.close_rc = -EIO;
    watchdog_init(&x->w, "required", NULL, &x->ops);
    assert_false(watchdog_usable(&x->w, 25));
    assert_non_null(strstr(x->w.error, "Error while closing Software Watchdog: "));
    assert_non_null(strstr(x->w.error, strerror(EIO)));
}

static void test_activate_and_rounding(void **state)
{
    struct fixture *x = *state;
    /* The device rounds down to what it can do: safe, accepted. */
    x->fake.round_to = 24;
    watchdog_init(&x->w, "required", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 25), 24);
    assert_true(x->w.active);
    assert_int_equal(x->w.timeout_s, 24);
    assert_int_equal(x->fake.last_requested, 25);
    assert_string_equal(x->w.error, "");
    assert_string_equal(x->w.warning, "");
    assert_string_equal(x->w.describe, "Software Watchdog");
    watchdog_disable(&x->w);
    assert_int_equal(x->fake.open_fds, 0);
}

static void test_rounding_up_automatic_warns(void **state)
{
    struct fixture *x = *state;
    x->fake.round_to = 30;
    watchdog_init(&x->w, "automatic", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 25), 30);
    assert_true(x->w.active);
    assert_string_equal(x->w.error, "");
    assert_string_equal(x->w.warning,
                        "Watchdog timeout 30 seconds does not ensure safe termination within 25 "
                        "seconds");
}

static void test_rounding_up_required_fails(void **state)
{
    struct fixture *x = *state;
    x->fake.round_to = 30;
    watchdog_init(&x->w, "required", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 25), -1);
    assert_false(x->w.active);
    assert_int_equal(x->fake.closes, 1);
    assert_int_equal(x->fake.open_fds, 0);
    assert_string_equal(x->w.error, "Configuration requires watchdog, but a safe watchdog timeout "
                                    "25 could not be configured. Watchdog timeout is 30.");
}

static void test_invalid_timeout(void **state)
{
    struct fixture *x = *state;
    watchdog_init(&x->w, "required", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 0), -1);
    assert_int_equal(x->fake.opens, 0);
    assert_non_null(strstr(x->w.error, "Invalid timeout 0. Supported values are between 1 and"));
    watchdog_init(&x->w, "automatic", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 70000), 0);
    assert_int_equal(x->fake.opens, 0);
}

static void test_keepalive(void **state)
{
    struct fixture *x = *state;
    watchdog_init(&x->w, "automatic", NULL, &x->ops);
    /* Not active: nothing to kick. */
    assert_int_equal(watchdog_keepalive(&x->w), 0);
    assert_int_equal(x->fake.keepalives, 0);
    assert_int_equal(watchdog_activate(&x->w, 25), 25);
    assert_int_equal(watchdog_keepalive(&x->w), 0);
    assert_int_equal(watchdog_keepalive(&x->w), 0);
    assert_int_equal(x->fake.keepalives, 2);
    watchdog_disable(&x->w);
    assert_int_equal(watchdog_keepalive(&x->w), 0);
    assert_int_equal(x->fake.keepalives, 2);
}

static void test_keepalive_failure(void **state)
{
    struct fixture *x = *state;
    watchdog_init(&x->w, "required", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 25), 25);
    x->fake.keepalive_rc = -EBADF;
    assert_int_equal(watchdog_keepalive(&x->w), -1);
    assert_string_equal(x->w.error, "Error while sending keepalive: Could not send watchdog "
                                    "keepalive: Bad file descriptor");
    /* Still active, so the demotion's disable closes it. */
    assert_true(x->w.active);
    watchdog_disable(&x->w);
    assert_int_equal(x->fake.closes, 1);
    assert_int_equal(x->fake.open_fds, 0);
}

static void test_disable_once(void **state)
{
    struct fixture *x = *state;
    watchdog_init(&x->w, "automatic", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 25), 25);
    watchdog_disable(&x->w);
    watchdog_disable(&x->w);
    assert_int_equal(x->fake.closes, 1);
    assert_false(x->w.active);
    assert_int_equal(x->w.fd, -1);
    assert_int_equal(x->fake.open_fds, 0);
    /* Re-arming after a demotion opens again. */
    assert_int_equal(watchdog_activate(&x->w, 25), 25);
    assert_int_equal(x->fake.opens, 2);
    watchdog_disable(&x->w);
    assert_int_equal(x->fake.closes, 2);
}

static void test_disable_close_fails(void **state)
{
    struct fixture *x = *state;
    watchdog_init(&x->w, "automatic", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 25), 25);
    x->fake.close_rc = -EIO;
    watchdog_disable(&x->w);
    assert_false(x->w.active);
    char want[256];
    snprintf(want, sizeof(want),
             "Error while disabling watchdog: Error while closing Software Watchdog: %s",
             strerror(EIO));
    assert_string_equal(x->w.error, want);
}

static void test_activate_twice(void **state)
{
    struct fixture *x = *state;
    watchdog_init(&x->w, "required", NULL, &x->ops);
    assert_int_equal(watchdog_activate(&x->w, 25), 25);
    int fd = x->w.fd;
    assert_int_equal(watchdog_activate(&x->w, 25), 25);
    assert_int_equal(x->fake.opens, 1);
    assert_int_equal(x->fake.set_timeouts, 1);
    assert_int_equal(x->w.fd, fd);
    /* A new ttl while primary retimes the open device. */
    assert_int_equal(watchdog_activate(&x->w, 20), 20);
    assert_int_equal(x->fake.opens, 1);
    assert_int_equal(x->fake.set_timeouts, 2);
    assert_int_equal(x->w.timeout_s, 20);
    /* usable() while active does not probe (the device is single-open). */
    assert_true(watchdog_usable(&x->w, 20));
    assert_int_equal(x->fake.opens, 1);
    watchdog_disable(&x->w);
    assert_int_equal(x->fake.open_fds, 0);
}

static void test_linux_ops_enoent(void **state)
{
    (void)state;
    const char *path = "/nonexistent/watchdog";
    int fd = -1;
    assert_int_equal(watchdog_linux_ops.open(NULL, path, &fd), -ENOENT);
    assert_int_equal(fd, -1);

    struct watchdog w;
    watchdog_init(&w, "required", path, &watchdog_linux_ops);
    assert_false(watchdog_usable(&w, 25));
    assert_non_null(strstr(w.error, "Linux watchdog device at /nonexistent/watchdog: Can't open "
                                    "watchdog device: No such file or directory"));
    assert_int_equal(watchdog_activate(&w, 25), -1);
    watchdog_init(&w, "automatic", path, NULL);
    assert_int_equal(watchdog_activate(&w, 25), 0);
    assert_false(w.active);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_mode_words),
        T(test_off_never_touches_device),
        T(test_automatic_unopenable),
        T(test_automatic_set_timeout_fails_closes),
        T(test_required_unopenable),
        T(test_required_probe),
        T(test_required_probe_unsafe_timeout),
        T(test_required_probe_close_fails),
        T(test_activate_and_rounding),
        T(test_rounding_up_automatic_warns),
        T(test_rounding_up_required_fails),
        T(test_invalid_timeout),
        T(test_keepalive),
        T(test_keepalive_failure),
        T(test_disable_once),
        T(test_disable_close_fails),
        T(test_activate_twice),
        T(test_linux_ops_enoent),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
