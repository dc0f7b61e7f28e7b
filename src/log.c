/* Timestamped log lines to stderr. The wall clock is used only for the timestamp
 * an operator reads; nothing decides anything from it. */
#include "src/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static enum log_level threshold = LOG_INFO;

static const struct {
    const char *name;
    enum log_level level;
} level_names[] = {
    {"DEBUG", LOG_DEBUG},    {"INFO", LOG_INFO},   {"WARNING", LOG_WARNING},
    {"WARN", LOG_WARNING},   {"ERROR", LOG_ERROR}, {"CRITICAL", LOG_CRITICAL},
    {"FATAL", LOG_CRITICAL},
};

int log_set_level_name(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i].name) == 0) {
            threshold = level_names[i].level;
            return 0;
        }
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    threshold = level;
}

int log_enabled(enum log_level level)
{
    return level >= threshold;
}

static const char *level_word(enum log_level level)
{
    switch (level) {
    case LOG_DEBUG:
        return "DEBUG";
    case LOG_INFO:
        return "INFO";
    case LOG_WARNING:
        return "WARNING";
    case LOG_ERROR:
        return "ERROR";
    default:
        return "CRITICAL";
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < threshold)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ",%03d %s: ", (int)(tv.tv_usec / 1000),
                          level_word(level));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line so lines from several processes never interleave. */
    fwrite(line, 1, n, stderr);
    fflush(stderr);
}
