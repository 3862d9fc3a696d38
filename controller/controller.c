/*
 * switchyard controller: the admin API and the evaluation loop. Any number
 * may run; a PostgreSQL advisory lock makes one the leader that evaluates and
 * acts; the others serve the admin API and take over within a tick or two of
 * the leader's death.
 */
#include "controller/controller.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"
#include "common/log.h"
#include "common/opts.h"
#include "common/redisurl.h"
#include "controller/ctl.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard controller [options]\n"
            "\n"
            "Evaluates running experiments every tick (leader only: a PostgreSQL advisory lock\n"
            "elects one among the controllers running), serves the admin API under /admin/,\n"
            "the web console at / and Prometheus metrics at /metrics.\n"
            "\n"
            "options:\n"
            "  --listen HOST:PORT     admin API address (default 127.0.0.1:8081; port 0 picks one)\n"
            "  --database-url URL     [env SWITCHYARD_DATABASE_URL]\n"
            "  --redis-url URL        redis:// or redis+sentinel://h:p,h:p/master\n"
            "                         [env SWITCHYARD_REDIS_URL, default " SY_REDIS_URL_DEFAULT "]\n"
            "  --tick-ms N            evaluation period (default 10000)\n"
            "  --admin-token-env VAR  environment variable holding the admin API token\n"
            "                         (default SWITCHYARD_ADMIN_TOKEN; required)\n"
            "  --viewer-token-env VAR environment variable holding the read-only token\n"
            "                         (default SWITCHYARD_VIEWER_TOKEN; optional)\n"
            "  --session-ttl-s N      console sessions last N seconds (default 43200)\n"
            "  --console-secure-cookie  mark the session cookie Secure (served over https)\n"
            "  --console-origin URL   the console's origin as browsers send it, e.g.\n"
            "                         https://ops.example.com (default: http(s):// + Host)\n"
            "  --log-level LEVEL      debug, info, warn, error (default info)\n"
            "  -h, --help             this text\n");
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    ctl *c = arg;
    (void)fd;
    (void)what;
    if (ctl_pg_lead(c))
        ctl_tick_once(c);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    ctl *c = arg;
    (void)what;
    sy_log(SY_INFO, "stopping", "signal=%d", (int)sig);
    event_base_loopexit(c->base, NULL);
}

int controller_main(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_DB, O_REDIS, O_TICK, O_TOKEN, O_VIEWER, O_TTL, O_SECURE, O_ORIGIN,
           O_LOG };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"database-url", required_argument, NULL, O_DB},
        {"redis-url", required_argument, NULL, O_REDIS},
        {"tick-ms", required_argument, NULL, O_TICK},
        {"admin-token-env", required_argument, NULL, O_TOKEN},
        {"viewer-token-env", required_argument, NULL, O_VIEWER},
        {"session-ttl-s", required_argument, NULL, O_TTL},
        {"console-secure-cookie", no_argument, NULL, O_SECURE},
        {"console-origin", required_argument, NULL, O_ORIGIN},
        {"log-level", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const sy_opts cmd = {"switchyard controller", "--help", SY_OPTS_BARE_MISSING};
    const char *listen = "127.0.0.1:8081", *token_env = "SWITCHYARD_ADMIN_TOKEN";
    const char *viewer_env = "SWITCHYARD_VIEWER_TOKEN";
    const char *redis_url = getenv("SWITCHYARD_REDIS_URL");
    ctl c;
    memset(&c, 0, sizeof(c));
    c.database_url = getenv("SWITCHYARD_DATABASE_URL");
    c.tick_ms = 10000;
    c.session_ttl_s = 43200;
    sy_log_set_component("controller");

    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_LISTEN: listen = optarg; break;
        case O_DB: c.database_url = optarg; break;
        case O_REDIS: redis_url = optarg; break;
        case O_TICK: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 100 || v > 3600000) {
                fprintf(stderr, "switchyard controller: --tick-ms must be an integer from 100 "
                                "to 3600000 (got \"%s\")\n", optarg);
                return 2;
            }
            c.tick_ms = (int)v;
            break;
        }
        case O_TOKEN: token_env = optarg; break;
        case O_VIEWER: viewer_env = optarg; break;
        case O_TTL: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 60 || v > 604800) {
                fprintf(stderr, "switchyard controller: --session-ttl-s must be an integer from "
                                "60 to 604800 (got \"%s\")\n", optarg);
                return 2;
            }
            c.session_ttl_s = (int)v;
            break;
        }
        case O_SECURE: c.cookie_secure = 1; break;
        case O_ORIGIN:
            if ((strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) ||
                optarg[strlen(optarg) - 1] == '/') {
                fprintf(stderr, "switchyard controller: --console-origin must be "
                                "http(s)://HOST[:PORT] without a path (got \"%s\")\n", optarg);
                return 2;
            }
            c.console_origin = optarg;
            break;
        case O_LOG: {
            enum sy_log_level lv;
            if (sy_log_parse_level(optarg, &lv)) {
                fprintf(stderr, "switchyard controller: --log-level must be debug, info, warn or error\n");
                return 2;
            }
            sy_log_set_level(lv);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: return sy_opts_getopt_error(&cmd, ch, argv);
        }
    }
    if (optind < argc)
        return sy_opts_unexpected(&cmd, argv[optind]);
    if (!c.database_url || !*c.database_url) {
        fprintf(stderr, "switchyard controller: --database-url or SWITCHYARD_DATABASE_URL is "
                        "required\n");
        return 2;
    }
    c.admin_token = getenv(token_env);
    if (!c.admin_token || strlen(c.admin_token) < 16) {
        fprintf(stderr, "switchyard controller: environment variable %s must hold the admin "
                        "token (at least 16 characters)\n", token_env);
        return 2;
    }
    c.viewer_token = getenv(viewer_env);
    if (c.viewer_token && !*c.viewer_token)
        c.viewer_token = NULL;
    if (c.viewer_token && (strlen(c.viewer_token) < 16 || !strcmp(c.viewer_token, c.admin_token))) {
        fprintf(stderr, "switchyard controller: environment variable %s must hold a viewer "
                        "token of at least 16 characters, not the admin token\n", viewer_env);
        return 2;
    }
    char err[256], host[256];
    if (sy_redis_url_parse(redis_url && *redis_url ? redis_url : SY_REDIS_URL_DEFAULT, &c.raddr,
                           err, sizeof(err))) {
        fprintf(stderr, "switchyard controller: %s\n", err);
        return 2;
    }
    const char *colon = strrchr(listen, ':');
    int port = colon ? atoi(colon + 1) : -1;
    if (!colon || (size_t)(colon - listen) >= sizeof(host) || port < 0 || port > 65535) {
        fprintf(stderr, "switchyard controller: --listen must be HOST:PORT (got \"%s\")\n", listen);
        return 2;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int status = 1, bound = 0;
    struct event *sigterm = NULL, *sigint = NULL;
    c.base = event_base_new();
    c.sessions = ctl_sessions_new(256);
    if (!c.base || !c.sessions)
        goto out;
    sy_httpd_limits lim;
    sy_httpd_limits_default(&lim);
    lim.max_body_bytes = 4u << 20; /* an experiment definition */
    c.httpd = sy_httpd_new(c.base, &lim, ctl_admin_handle, &c);
    if (!c.httpd || sy_httpd_listen(c.httpd, host, port, 0, &bound))
        goto out;
    c.tick = event_new(c.base, -1, EV_PERSIST, on_tick, &c);
    struct timeval tv = {c.tick_ms / 1000, (c.tick_ms % 1000) * 1000};
    event_add(c.tick, &tv);
    sigterm = evsignal_new(c.base, SIGTERM, on_stop, &c);
    sigint = evsignal_new(c.base, SIGINT, on_stop, &c);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    sy_log(SY_INFO, "listening", "host=%s port=%d tick_ms=%d viewer_token=%s", host, bound,
           c.tick_ms, c.viewer_token ? "yes" : "no");
    on_tick(-1, 0, &c); /* try to lead at once */
    event_base_dispatch(c.base);
    status = 0;
out:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (c.tick)
        event_free(c.tick);
    sy_httpd_free(c.httpd);
    if (c.base)
        event_base_free(c.base);
    ctl_pg_drop(&c);
    ctl_sessions_free(c.sessions);
    if (c.redis)
        redisFree((redisContext *)c.redis);
    curl_global_cleanup();
    return status;
}
