/* watchdog: the Linux watchdog device (watchdog.mode off/automatic/required, design.md §3).
 *
 * The primary arms the device with ttl - safety_margin seconds and kicks it after every
 * committed lease renew, so a daemon that hangs while primary gets its machine reset before
 * the lease can expire and another member promotes. Demotion and clean shutdown disarm it
 * with the magic close. With mode "required" a member that cannot use the device never takes
 * the leader lock.
 *
 * The module does no logging and knows nothing of the loop or the daemon: every call returns
 * what happened and leaves a sentence for the operator in w->error (or w->warning); the
 * caller logs it. Device access goes through struct watchdog_ops so tests use a fake. */
#ifndef RAFTGRES_WATCHDOG_H
#define RAFTGRES_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>

#define WATCHDOG_DEFAULT_DEVICE "/dev/watchdog"
/* Linux takes the timeout as an int; Patroni accepts 1..65534. */
#define WATCHDOG_MAX_TIMEOUT 65534

/* Device operations: the real Linux ones (open O_WRONLY, ioctl WDIOC_GETSUPPORT /
 * WDIOC_SETTIMEOUT / WDIOC_GETTIMEOUT / WDIOC_KEEPALIVE, write "V" then close for the magic
 * close) or a test double. Each returns 0 or -errno; ctx is passed back unchanged. */
struct watchdog_ops {
    /* Open the device; once open the hardware timer runs and must be kicked or closed. */
    int (*open)(void *ctx, const char *device, int *fd);
    /* Ask for `seconds` (when the device can set its timeout) and report the timeout that is
     * in effect, which drivers may round. */
    int (*set_timeout)(void *ctx, int fd, int seconds, int *actual);
    int (*keepalive)(void *ctx, int fd);
    /* Write 'V' and close: disarm. The fd is closed even when the write fails. */
    int (*magic_close)(void *ctx, int fd);
    /* Optional (may be NULL): the driver's identity ("Software Watchdog") for log lines. */
    int (*identify)(void *ctx, int fd, char *buf, size_t len);
    void *ctx;
};

extern const struct watchdog_ops watchdog_linux_ops;

enum watchdog_mode { WATCHDOG_OFF, WATCHDOG_AUTOMATIC, WATCHDOG_REQUIRED };

struct watchdog {
    enum watchdog_mode mode;
    char device[256];
    const struct watchdog_ops *ops;
    int fd;             /* -1 unless active */
    bool active;        /* open and armed: keepalive() kicks it, disable() must close it */
    int timeout_s;      /* timeout in effect while active (the device's answer) */
    bool probed_ok;     /* a required device was opened, set and closed once: not probed again */
    char describe[128]; /* "Software Watchdog", "Linux watchdog device at /dev/watchdog1" */
    char error[256];    /* why the last call failed; "" after a clean call */
    char warning[256];  /* set by watchdog_activate when armed but with a caveat, else "" */
};

/* Mode from the config word: off/false/disable(d), auto(matic), require(d); anything else is
 * off (Patroni: "Watchdog mode X not recognized, disabling watchdog", left in w->warning).
 * device NULL or "" means /dev/watchdog; ops NULL means watchdog_linux_ops. No I/O. */
void watchdog_init(struct watchdog *w, const char *mode, const char *device,
                   const struct watchdog_ops *ops);

/* Whether this member may take the leader lock. True for off and automatic without touching
 * the device, and while active. For required the device is probed (open, set timeout
 * timeout_s, magic close) until one probe succeeds; later calls answer true without opening
 * it again, since each probe starts the hardware timer. False with the reason in w->error
 * ("watchdog is required but not usable: ..."). */
bool watchdog_usable(struct watchdog *w, int timeout_s);

/* Arm when this member becomes primary (timeout_s = ttl - safety_margin). Returns the timeout
 * the device took (> 0; w->warning set when it is longer than asked, which only automatic
 * accepts), 0 when not armed (mode off; or automatic and the device failed: w->error says why,
 * warn and go on), -1 when required and the device failed or could not be set to a safe
 * timeout (w->error; the caller must not run as primary). Already active: the device is not
 * opened again; a different timeout_s (ttl changed) is set on the open device; if that fails it
 * stays armed with the old timeout (automatic: old timeout returned, w->warning; required: -1,
 * the caller demotes and disables). */
int watchdog_activate(struct watchdog *w, int timeout_s);

/* Kick after each committed lease renew. 0 (also when not active: nothing to do), or -1 with
 * w->error; the watchdog stays active so a later disable still closes it. The caller decides
 * (required: demote). */
int watchdog_keepalive(struct watchdog *w);

/* Demoted or clean shutdown: magic close so the machine is not reset. Does nothing when not
 * active. Afterwards not active even if the close failed (w->error says so). */
void watchdog_disable(struct watchdog *w);

const char *watchdog_mode_name(enum watchdog_mode mode);

#endif
