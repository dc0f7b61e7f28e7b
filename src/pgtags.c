/* pgtags: a member's tags JSON to struct pg_tags, with Patroni's semantics
 * (patroni/tags.py). Kept apart from src/ha.c so the decision stays free of jansson.
 *
 * - nofailover, noloadbalance, clonefrom, nosync: JSON booleans, numbers (non-zero is
 *   true) or strings. Strings use Patroni's parse_bool words (on/true/yes/1,
 *   off/false/no/0, any case); any other non-empty string is true, as Python's bool() of a
 *   string is. null or absent is false.
 * - failover_priority: integer (or a string holding one), default 1; a value that does not
 *   parse counts as 1. nofailover true makes it 0.
 * - nofailover, when absent, is true if failover_priority <= 0. When present it wins.
 * - replicatefrom: a string, "" when absent; longer than FSM_NAME_MAX is an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "src/pgstatus.h"

static bool word_bool(const char *s)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp(s, yes[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcasecmp(s, no[i]) == 0)
            return false;
    return s[0] != '\0';
}

static bool json_truthy(const json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_true(v))
        return true;
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_real(v))
        return json_real_value(v) != 0.0;
    if (json_is_string(v))
        return word_bool(json_string_value(v));
    return true; /* a non-empty array or object is truthy in Python; close enough */
}

/* Patroni's parse_int for our purposes: an integer, or a string holding one. */
static bool json_int(const json_t *v, int *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < -1000000 || i > 1000000)
            return false;
        *out = (int)i;
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        long l;
        errno = 0;
        l = strtol(s, &end, 10);
        while (*end == ' ')
            end++;
        if (errno != 0 || end == s || *end != '\0' || l < -1000000 || l > 1000000)
            return false;
        *out = (int)l;
        return true;
    }
    return false;
}

void pg_tags_default(struct pg_tags *out)
{
    memset(out, 0, sizeof *out);
    out->failover_priority = 1;
}

int pg_tags_parse(const char *json, struct pg_tags *out)
{
    json_t *root, *v, *nofailover;
    json_error_t err;
    int prio = 1;
    int rc = 0;

    pg_tags_default(out);
    if (json == NULL || json[0] == '\0')
        return 0;
    root = json_loads(json, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        return -1;
    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }

    out->noloadbalance = json_truthy(json_object_get(root, "noloadbalance"));
    out->clonefrom = json_truthy(json_object_get(root, "clonefrom"));
    out->nosync = json_truthy(json_object_get(root, "nosync"));

    v = json_object_get(root, "failover_priority");
    if (v != NULL && !json_int(v, &prio))
        prio = 1;
    nofailover = json_object_get(root, "nofailover");
    if (nofailover != NULL && !json_is_null(nofailover))
        out->nofailover = json_truthy(nofailover);
    else
        out->nofailover = prio <= 0;
    out->failover_priority = out->nofailover ? 0 : prio;

    v = json_object_get(root, "replicatefrom");
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) > FSM_NAME_MAX)
            rc = -1;
        else
            snprintf(out->replicatefrom, sizeof out->replicatefrom, "%s", s);
    }

    json_decref(root);
    if (rc != 0)
        pg_tags_default(out);
    return rc;
}
