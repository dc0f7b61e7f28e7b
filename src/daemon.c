/* daemon: start-up order, the periodic cycle, signals and shutdown (see daemon.h).
 *
 * Start-up does every read-only check before it writes anything: config (done by the
 * caller), the data dir's owner, the REST and Raft ports. Only then is the data dir
 * created and Raft started. Shutdown follows the order measured in libnotes.md. */
#include "src/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/config.h"
#include "src/hacycle.h"
#include "src/httpc.h"
#include "src/log.h"

#define REGISTER_RETRY_MS 300

static void schedule_cycle(struct daemon *d, uint64_t ms);

/* ---- the member's own registration in the state machine ---------------------------- */

static void on_registered(void *data, int status, const struct fsm_result *res)
{
    struct daemon *d = data;
    d->register_inflight = false;
    if (d->stopping)
        return;
    if (status != RNODE_OK) {
        log_debug("member registration not applied: %s", rnode_strerror(status));
        schedule_cycle(d, REGISTER_RETRY_MS);
        return;
    }
    if (res->rc != FSM_OK && res->rc != FSM_ESTALE) {
        log_warning("member registration refused by the state machine: %s", res->msg);
        schedule_cycle(d, REGISTER_RETRY_MS);
        return;
    }
    if (!d->registered_once)
        log_info("registered member %s (%s) in the cluster state", d->cfg->name, d->api_url);
    d->registered_once = true;
}

/* Whether the replicated registry already holds exactly what we would write: then
 * there is nothing to propose (the registry has no TTL, unlike Patroni's etcd keys). */
static bool registration_current(struct daemon *d, const struct fsm_cmd *cmd)
{
    const struct fsm_member *m = fsm_member_find(&d->rn.fsm, d->cfg->name);
    const typeof(cmd->u.member_update) *u = &cmd->u.member_update;
    return m && !strcmp(m->api_url, u->api_url) && !strcmp(m->conn_url, u->conn_url) &&
           !strcmp(m->raft_addr, u->raft_addr) && m->raft_id == u->raft_id &&
           !strcmp(m->role, u->role) && !strcmp(m->state, u->state) && !strcmp(m->tags, u->tags) &&
           m->timeline == u->timeline && m->received_lsn == u->received_lsn &&
           m->replayed_lsn == u->replayed_lsn && m->write_lsn == u->write_lsn;
}

void daemon_register(struct daemon *d)
{
    if (d->register_inflight)
        return;
    struct fsm_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = FSM_CMD_MEMBER_UPDATE;
    cmd.u.member_update.name = d->cfg->name;
    cmd.u.member_update.api_url = d->api_url;
    cmd.u.member_update.conn_url = d->conn_url;
    cmd.u.member_update.raft_addr = d->cfg->raft.self_addr;
    cmd.u.member_update.raft_id = d->rn.id;
    cmd.u.member_update.tags = d->tags_text;
    if (d->ha.enabled) {
        struct pg_status st;
        ha_status(d, &st);
        cmd.u.member_update.role = pg_role_name(&st);
        cmd.u.member_update.state = pg_run_state_name(st.state);
        cmd.u.member_update.timeline = st.timeline;
        cmd.u.member_update.write_lsn = st.is_primary ? st.write_lsn : 0;
        cmd.u.member_update.received_lsn = st.receive_lsn;
        cmd.u.member_update.replayed_lsn = st.replay_lsn;
    } else {
        cmd.u.member_update.role = "uninitialized";
        cmd.u.member_update.state = "stopped";
    }
    if (registration_current(d, &cmd)) {
        d->registered_once = true;
        return;
    }
    /* seq: the start counter (persisted in the data dir) in the high half, a counter in
     * the low half, so a restarted daemon's updates are never mistaken for stale ones. */
    cmd.u.member_update.seq = (d->rn.incarnation << 32) | (++d->seq_counter & 0xffffffffu);
    int rc = rnode_propose(&d->rn, &cmd, on_registered, d);
    if (rc == 0)
        d->register_inflight = true;
    else
        schedule_cycle(d, REGISTER_RETRY_MS);
}

/* ---- the cycle ------------------------------------------------------------------------ */

static void begin_shutdown(struct daemon *d, int exit_code);

static void on_reloaded(void *data, bool ok, const char *msg)
{
    (void)data;
    if (ok)
        log_info("reloaded the PostgreSQL configuration");
    else
        log_warning("reloading the PostgreSQL configuration failed: %s", msg);
}

static void cycle(uv_timer_t *t)
{
    struct daemon *d = t->data;
    if (d->stopping)
        return;
    if (dyncfg_refresh(d) && d->ha.enabled && pg_is_running(&d->pg) && !d->ha.busy) {
        /* New dynamic parameters: rewrite the managed file and reload; those that need a
         * restart show up as pending_restart. */
        pg_reload(&d->pg, on_reloaded, d);
    }
    if (strcmp(rnode_role(&d->rn), "unavailable") == 0) {
        /* RAFT_UNAVAILABLE is final for this struct raft (libnotes.md): exit and let the
         * supervisor restart us from the data dir. */
        log_error("Raft member is unavailable (%s); exiting so that the supervisor restarts "
                  "raftgres from its data dir",
                  raft_errmsg(&d->rn.raft));
        begin_shutdown(d, 1);
        return;
    }
    /* With PostgreSQL managed, the HA cycle registers the member after it has observed
     * PostgreSQL, so the registry never carries the previous cycle's positions. */
    if (d->ha.enabled)
        ha_cycle(d);
    else
        daemon_register(d);
    d->last_cycle_ms = rnode_now_ms();
    if (!uv_is_active((uv_handle_t *)t))
        schedule_cycle(d, (uint64_t)d->dyn.loop_wait * 1000u);
}

static void schedule_cycle(struct daemon *d, uint64_t ms)
{
    if (d->stopping)
        return;
    /* The sooner of the pending and the new deadline wins. */
    if (uv_is_active((uv_handle_t *)&d->loop_timer)) {
        uint64_t due = uv_timer_get_due_in(&d->loop_timer);
        if (due <= ms)
            return;
    }
    uv_timer_start(&d->loop_timer, cycle, ms, 0);
}

void daemon_wakeup(struct daemon *d)
{
    schedule_cycle(d, 0);
}

static void on_rnode_change(void *data)
{
    struct daemon *d = data;
    raft_id lid = 0;
    const char *laddr;
    rnode_leader(&d->rn, &lid, &laddr);
    /* A new Raft leader registers itself at once, so that the others can find its REST
     * API and forward their proposals to it. */
    if (lid && lid == d->rn.id && !d->register_inflight)
        daemon_register(d);
    /* Lock released or expired, Raft leader changed: decide at once, not at the next
     * loop_wait tick (design.md section 4). */
    if (d->ha.enabled || !d->registered_once)
        daemon_wakeup(d);
}

/* ---- shutdown --------------------------------------------------------------------------- */

static void on_closed_noop(uv_handle_t *h)
{
    (void)h;
}

static void on_rnode_closed(struct rnode *n)
{
    struct daemon *d = n->on_change_data;
    api_dispose_context(&d->api);
    log_info("raftgres stopped");
}

static void finish_shutdown(struct daemon *d)
{
    api_stop_listening(&d->api);
    httpc_cancel_all();
    rnode_close(&d->rn);
}

static void begin_shutdown(struct daemon *d, int exit_code)
{
    if (d->stopping)
        return;
    d->stopping = true;
    d->exit_code = exit_code;
    uv_close((uv_handle_t *)&d->loop_timer, on_closed_noop);
    uv_close((uv_handle_t *)&d->sigterm, on_closed_noop);
    uv_close((uv_handle_t *)&d->sigint, on_closed_noop);
    /* PostgreSQL stops first (cleanly), then the lock is released, then Raft closes. */
    ha_shutdown(d, finish_shutdown);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    log_info("received %s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    begin_shutdown(d, 0);
}

static void close_leftover(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* ---- run -------------------------------------------------------------------------------- */

int daemon_run(struct cfg *cfg, bool join)
{
    static struct daemon d; /* struct fsm inside is large: keep it off the stack */
    memset(&d, 0, sizeof(d));
    d.cfg = cfg;
    char err[1024];
    signal(SIGPIPE, SIG_IGN);

    if (rnode_check(cfg, err, sizeof(err)) != 0) {
        log_msg(LOG_CRITICAL, "%s", err);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    d.loop = &loop;
    int code = 0;
    if (api_listen(&d.api, &d, &loop, cfg->restapi.listen, err, sizeof(err)) != 0) {
        log_msg(LOG_CRITICAL, "%s", err);
        code = 2;
        goto out_loop;
    }
    const char *connect =
        cfg->restapi.connect_address ? cfg->restapi.connect_address : cfg->restapi.listen;
    snprintf(d.api_url, sizeof(d.api_url), "http://%s/patroni", connect);

    if (cfg->postgresql.data_dir) {
        if (pg_init(&d.pg, &loop, cfg, err, sizeof(err)) != 0) {
            log_msg(LOG_CRITICAL, "%s", err);
            code = 2;
            goto out_config;
        }
        d.ha.enabled = true;
        pg_conn_url(&d.pg, d.conn_url, sizeof(d.conn_url));
    }
    if (cfg->tags_json && json_object_size(cfg->tags_json) > 0) {
        /* Patroni leaves the built-in boolean tags out when they are false. */
        json_t *tags = json_deep_copy(cfg->tags_json);
        static const char *const flags[] = {"clonefrom", "nofailover", "noloadbalance", "nosync"};
        for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
            json_t *v = json_object_get(tags, flags[i]);
            if (json_is_false(v) || (json_is_string(v) && !strcmp(json_string_value(v), "false")))
                json_object_del(tags, flags[i]);
        }
        char *t =
            json_object_size(tags) ? json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS) : strdup("");
        json_decref(tags);
        if (t && strlen(t) <= FSM_TAGS_MAX)
            snprintf(d.tags_text, sizeof(d.tags_text), "%s", t);
        free(t);
    }
    pg_tags_parse(d.tags_text, &d.tags);
    d.rn.on_change = on_rnode_change;
    d.rn.on_change_data = &d;
    d.rn.on_closed = on_rnode_closed;
    if (rnode_start(&d.rn, &loop, cfg, join, err, sizeof(err)) != 0) {
        log_msg(LOG_CRITICAL, "%s", err);
        code = 2;
        d.stopping = true;
        api_stop_listening(&d.api);
        rnode_close(&d.rn);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto out_config;
    }
    log_info("REST API listening on %s (%s)", cfg->restapi.listen, d.api_url);
    dyncfg_refresh(&d);
    watchdog_init(&d.wd, cfg->watchdog.mode, cfg->watchdog.device, NULL);
    if (d.wd.warning[0])
        log_warning("%s", d.wd.warning);
    ha_init(&d, err, sizeof(err));
    if (d.ha.enabled) {
        const char *fm = cfg->watchdog.fencer ? cfg->watchdog.fencer : "auto";
        bool watchdog =
            cfg->watchdog.mode && strcmp(cfg->watchdog.mode, "off") &&
            access(cfg->watchdog.device ? cfg->watchdog.device : "/dev/watchdog", W_OK) == 0;
        bool on = !strcmp(fm, "on") || (!strcmp(fm, "auto") && !watchdog);
        if (fence_start(&d.fence, &loop, on, err, sizeof(err)) != 0)
            log_error("%s: running without the self-fencing process", err);
    }

    uv_timer_init(&loop, &d.loop_timer);
    d.loop_timer.data = &d;
    uv_signal_init(&loop, &d.sigterm);
    uv_signal_init(&loop, &d.sigint);
    d.sigterm.data = d.sigint.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    schedule_cycle(&d, 0);

    uv_run(&loop, UV_RUN_DEFAULT);
    code = d.exit_code;

out_config:
    api_dispose_config(&d.api);
out_loop:
    api_stop_listening(&d.api);
    uv_walk(&loop, close_leftover, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return code;
}
