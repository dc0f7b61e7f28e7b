/* dyncfg: see dyncfg.h. */
#include "src/dyncfg.h"

#include <stdlib.h>
#include <string.h>

#include "src/config.h"
#include "src/daemon.h"
#include "src/log.h"

static long long get_int(json_t *o, const char *k, long long def)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static bool get_bool(json_t *o, const char *k, bool def)
{
    json_t *v = json_object_get(o, k);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

void dyncfg_free(struct dyncfg *c)
{
    json_decref(c->json);
    free(c->text);
    memset(c, 0, sizeof(*c));
}

bool dyncfg_refresh(struct daemon *d)
{
    const struct fsm *f = &d->rn.fsm;
    uint64_t v = f->config_json[0] ? f->config_version : 0;
    if (d->dyn.loaded && d->dyn.version == v)
        return false;
    json_t *j = NULL;
    if (v) {
        j = json_loads(f->config_json, 0, NULL);
        if (!json_is_object(j)) {
            log_error("the dynamic configuration in the cluster state is not a JSON object; "
                      "keeping the previous one");
            json_decref(j);
            return false;
        }
    } else {
        j = json_deep_copy(d->cfg->dcs_json ? d->cfg->dcs_json : json_object());
    }
    const struct cfg *c = d->cfg;
    struct dyncfg n;
    memset(&n, 0, sizeof(n));
    n.loaded = true;
    n.version = v;
    n.json = j;
    n.text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    n.ttl = (int)get_int(j, "ttl", c->dcs.ttl);
    n.loop_wait = (int)get_int(j, "loop_wait", c->dcs.loop_wait);
    n.retry_timeout = (int)get_int(j, "retry_timeout", c->dcs.retry_timeout);
    n.maximum_lag_on_failover =
        get_int(j, "maximum_lag_on_failover", c->dcs.maximum_lag_on_failover);
    n.maximum_lag_on_syncnode =
        get_int(j, "maximum_lag_on_syncnode", c->dcs.maximum_lag_on_syncnode);
    n.synchronous_mode = get_bool(j, "synchronous_mode", c->dcs.synchronous_mode);
    n.synchronous_mode_strict =
        get_bool(j, "synchronous_mode_strict", c->dcs.synchronous_mode_strict);
    n.synchronous_node_count =
        (int)get_int(j, "synchronous_node_count", c->dcs.synchronous_node_count);
    if (n.synchronous_node_count < 1)
        n.synchronous_node_count = 1;
    json_t *pgj = json_object_get(j, "postgresql");
    n.use_slots = get_bool(pgj, "use_slots", true);
    n.use_pg_rewind = get_bool(pgj, "use_pg_rewind", c->postgresql.use_pg_rewind);
    if (n.ttl < 1 || n.loop_wait < 1) {
        log_error("the dynamic configuration has ttl %d, loop_wait %d: keeping the previous one",
                  n.ttl, n.loop_wait);
        dyncfg_free(&n);
        return false;
    }
    bool had = d->dyn.loaded;
    dyncfg_free(&d->dyn);
    d->dyn = n;
    d->pg.dcs_parameters_json = d->dyn.text;
    if (had)
        log_info("dynamic configuration changed (version %llu): ttl %d, loop_wait %d, "
                 "retry_timeout %d, maximum_lag_on_failover %lld",
                 (unsigned long long)v, n.ttl, n.loop_wait, n.retry_timeout,
                 n.maximum_lag_on_failover);
    return had;
}
