/* Logging: one timestamped line per event to stderr, in Patroni's format
 * ("2026-11-25 21:40:01,123 INFO: no action. I am (node1) the leader with the lock"),
 * so operators can grep the words they know. */
#ifndef RAFTGRES_LOG_H
#define RAFTGRES_LOG_H

enum log_level {
    LOG_DEBUG = 10,
    LOG_INFO = 20,
    LOG_WARNING = 30,
    LOG_ERROR = 40,
    LOG_CRITICAL = 50
};

/* Set the threshold from a Patroni level name (DEBUG, INFO, WARNING, ERROR, CRITICAL).
 * Returns 0, or -1 for an unknown name (threshold unchanged). */
int log_set_level_name(const char *name);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_ERROR, __VA_ARGS__)

#endif
