/* watchdog: see watchdog.h. The state is four fields (mode, active, fd, timeout_s); every
 * device call goes through w->ops, and a device opened by a call that then fails is closed
 * again by that call, so an armed timer is never left behind without active set. */
#include "src/watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- the real device ---- */

static int linux_open(void *ctx, const char *device, int *fd)
{
    (void)ctx;
    int f = open(device, O_WRONLY | O_CLOEXEC);
    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

static int linux_set_timeout(void *ctx, int fd, int seconds, int *actual)
{
    (void)ctx;
    struct watchdog_info info;
    memset(&info, 0, sizeof(info));
    if (ioctl(fd, WDIOC_GETSUPPORT, &info) < 0)
        return -errno;
    /* A device without WDIOF_SETTIMEOUT keeps its fixed timeout; the caller compares. */
    if (info.options & WDIOF_SETTIMEOUT) {
        int t = seconds;
        if (ioctl(fd, WDIOC_SETTIMEOUT, &t) < 0)
            return -errno;
    }
    int t = 0;
    if (ioctl(fd, WDIOC_GETTIMEOUT, &t) < 0)
        return -errno;
    *actual = t;
    return 0;
}

static int linux_keepalive(void *ctx, int fd)
{
    (void)ctx;
    int dummy = 0;
    if (ioctl(fd, WDIOC_KEEPALIVE, &dummy) < 0)
        return -errno;
    return 0;
}

static int linux_magic_close(void *ctx, int fd)
{
    (void)ctx;
    int rc = 0;
    ssize_t n;
    do
        n = write(fd, "V", 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        rc = n < 0 ? -errno : -EIO;
    /* Close regardless: a retried close() on Linux could close someone else's fd. */
    if (close(fd) < 0 && rc == 0 && errno != EINTR)
        rc = -errno;
    return rc;
}

static int linux_identify(void *ctx, int fd, char *buf, size_t len)
{
    (void)ctx;
    struct watchdog_info info;
    memset(&info, 0, sizeof(info));
    if (ioctl(fd, WDIOC_GETSUPPORT, &info) < 0)
        return -errno;
    char id[sizeof(info.identity) + 1];
    memcpy(id, info.identity, sizeof(info.identity));
    id[sizeof(info.identity)] = '\0';
    if (info.firmware_version)
        snprintf(buf, len, "%s (firmware %u)", id, info.firmware_version);
    else
        snprintf(buf, len, "%s", id);
    return 0;
}

const struct watchdog_ops watchdog_linux_ops = {
    .open = linux_open,
    .set_timeout = linux_set_timeout,
    .keepalive = linux_keepalive,
    .magic_close = linux_magic_close,
    .identify = linux_identify,
    .ctx = NULL,
};

/* ---- the module ---- */

static void set_msg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

#define ERR(w, ...)  set_msg((w)->error, sizeof((w)->error), __VA_ARGS__)
#define WARN(w, ...) set_msg((w)->warning, sizeof((w)->warning), __VA_ARGS__)

const char *watchdog_mode_name(enum watchdog_mode mode)
{
    switch (mode) {
    case WATCHDOG_AUTOMATIC:
        return "automatic";
    case WATCHDOG_REQUIRED:
        return "required";
    case WATCHDOG_OFF:
        break;
    }
    return "off";
}

static enum watchdog_mode parse_mode(const char *s, bool *known)
{
    static const struct {
        const char *word;
        enum watchdog_mode mode;
    } words[] = {
        {"off", WATCHDOG_OFF},          {"false", WATCHDOG_OFF},
        {"disable", WATCHDOG_OFF},      {"disabled", WATCHDOG_OFF},
        {"auto", WATCHDOG_AUTOMATIC},   {"automatic", WATCHDOG_AUTOMATIC},
        {"require", WATCHDOG_REQUIRED}, {"required", WATCHDOG_REQUIRED},
    };
    *known = true;
    if (!s)
        return WATCHDOG_AUTOMATIC; /* Patroni's default */
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i].word) == 0)
            return words[i].mode;
    *known = false;
    return WATCHDOG_OFF;
}

/* Patroni names the device by the driver's identity once open, else generically, and adds
 * the path only when it is not the default. */
static void describe(struct watchdog *w, int fd)
{
    char id[96] = "";
    if (fd >= 0 && w->ops->identify && w->ops->identify(w->ops->ctx, fd, id, sizeof(id)) != 0)
        id[0] = '\0';
    const char *name = id[0] ? id : "Linux watchdog device";
    if (strcmp(w->device, WATCHDOG_DEFAULT_DEVICE) != 0)
        snprintf(w->describe, sizeof(w->describe), "%s at %.80s", name, w->device);
    else
        snprintf(w->describe, sizeof(w->describe), "%s", name);
}

void watchdog_init(struct watchdog *w, const char *mode, const char *device,
                   const struct watchdog_ops *ops)
{
    memset(w, 0, sizeof(*w));
    bool known;
    w->mode = parse_mode(mode, &known);
    if (!known)
        WARN(w, "Watchdog mode %.64s not recognized, disabling watchdog", mode);
    snprintf(w->device, sizeof(w->device), "%s",
             device && device[0] ? device : WATCHDOG_DEFAULT_DEVICE);
    w->ops = ops ? ops : &watchdog_linux_ops;
    w->fd = -1;
    describe(w, -1);
}

/* Open the device and set its timeout. 0 with *fd open and *actual set, or -1 with w->error
 * and nothing left open. */
static int open_and_set(struct watchdog *w, int timeout_s, int *fd, int *actual)
{
    if (timeout_s < 1 || timeout_s > WATCHDOG_MAX_TIMEOUT) {
        ERR(w, "Invalid timeout %d. Supported values are between 1 and %d", timeout_s,
            WATCHDOG_MAX_TIMEOUT);
        return -1;
    }
    int f = -1;
    int rc = w->ops->open(w->ops->ctx, w->device, &f);
    if (rc != 0) {
        describe(w, -1);
        ERR(w, "Could not activate %s: Can't open watchdog device: %s", w->describe, strerror(-rc));
        return -1;
    }
    describe(w, f);
    rc = w->ops->set_timeout(w->ops->ctx, f, timeout_s, actual);
    if (rc != 0) {
        ERR(w, "Could not activate %s: Could not set timeout on watchdog device: %s", w->describe,
            strerror(-rc));
        /* The timer started with open(): stop it before giving up. */
        (void)w->ops->magic_close(w->ops->ctx, f);
        return -1;
    }
    *fd = f;
    return 0;
}

bool watchdog_usable(struct watchdog *w, int timeout_s)
{
    w->error[0] = '\0';
    if (w->mode != WATCHDOG_REQUIRED || w->active || w->probed_ok)
        return true;
    int fd, actual = 0;
    if (open_and_set(w, timeout_s, &fd, &actual) != 0) {
        char why[sizeof(w->error)];
        snprintf(why, sizeof(why), "%s", w->error);
        ERR(w, "watchdog is required but not usable: %s", why);
        return false;
    }
    int rc = w->ops->magic_close(w->ops->ctx, fd);
    if (actual > timeout_s) {
        ERR(w,
            "watchdog is required but not usable: a safe watchdog timeout %d could not be "
            "configured. Watchdog timeout is %d.",
            timeout_s, actual);
        return false;
    }
    if (rc != 0) {
        /* A device that cannot be disarmed would reset the machine after every demotion. */
        ERR(w, "watchdog is required but not usable: Error while closing %s: %s", w->describe,
            strerror(-rc));
        return false;
    }
    w->probed_ok = true;
    return true;
}

int watchdog_activate(struct watchdog *w, int timeout_s)
{
    w->error[0] = '\0';
    w->warning[0] = '\0';
    if (w->mode == WATCHDOG_OFF)
        return 0;

    int actual = 0;
    if (w->active) {
        if (timeout_s == w->timeout_s)
            return w->timeout_s;
        /* Config changed while primary: retime the open device rather than reopen it. */
        int rc = timeout_s >= 1 && timeout_s <= WATCHDOG_MAX_TIMEOUT
                     ? w->ops->set_timeout(w->ops->ctx, w->fd, timeout_s, &actual)
                     : -EINVAL;
        if (rc != 0) {
            /* Still armed with the old timeout. */
            if (w->mode == WATCHDOG_REQUIRED) {
                ERR(w, "Could not set timeout on watchdog device: %s", strerror(-rc));
                return -1;
            }
            WARN(w, "Could not set timeout on watchdog device: %s", strerror(-rc));
            return w->timeout_s;
        }
    } else {
        int fd;
        if (open_and_set(w, timeout_s, &fd, &actual) != 0) {
            if (w->mode == WATCHDOG_REQUIRED) {
                char why[sizeof(w->error)];
                snprintf(why, sizeof(why), "%s", w->error);
                ERR(w, "Configuration requires watchdog, but watchdog could not be activated: %s",
                    why);
                return -1;
            }
            return 0;
        }
        w->fd = fd;
        w->active = true;
    }
    w->timeout_s = actual;

    if (actual > timeout_s) {
        if (w->mode == WATCHDOG_REQUIRED) {
            /* Disarm first: disable() clears w->error. */
            watchdog_disable(w);
            ERR(w,
                "Configuration requires watchdog, but a safe watchdog timeout %d could not be "
                "configured. Watchdog timeout is %d.",
                timeout_s, actual);
            return -1;
        }
        WARN(w, "Watchdog timeout %d seconds does not ensure safe termination within %d seconds",
             actual, timeout_s);
    }
    return actual;
}

int watchdog_keepalive(struct watchdog *w)
{
    w->error[0] = '\0';
    if (!w->active)
        return 0;
    int rc = w->ops->keepalive(w->ops->ctx, w->fd);
    if (rc != 0) {
        ERR(w, "Error while sending keepalive: Could not send watchdog keepalive: %s",
            strerror(-rc));
        return -1;
    }
    return 0;
}

void watchdog_disable(struct watchdog *w)
{
    w->error[0] = '\0';
    if (!w->active)
        return;
    int rc = w->ops->magic_close(w->ops->ctx, w->fd);
    w->active = false;
    w->fd = -1;
    w->timeout_s = 0;
    if (rc != 0)
        ERR(w, "Error while disabling watchdog: Error while closing %s: %s", w->describe,
            strerror(-rc));
}
