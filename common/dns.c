/*
 * dns: evdns resolvers made one way (see dns.h).
 */
#include "common/dns.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <stdio.h>
#include <string.h>

static char nameserver[64]; /* "" = /etc/resolv.conf */

int sy_dns_set_nameserver(const char *addr)
{
    if (!addr || !*addr) {
        nameserver[0] = '\0';
        return 0;
    }
    if (strlen(addr) >= sizeof(nameserver))
        return -1;
    /* the address part must be an IP literal: a name would need a resolver itself */
    char host[64];
    const char *h = addr, *end;
    if (addr[0] == '[') {
        end = strchr(addr, ']');
        if (!end || (end[1] && end[1] != ':'))
            return -1;
        h = addr + 1;
    } else {
        end = strrchr(addr, ':');
        if (end && strchr(addr, ':') != end)
            end = NULL; /* a bare IPv6 address */
        if (!end)
            end = addr + strlen(addr);
    }
    size_t n = (size_t)(end - h);
    unsigned char buf[sizeof(struct in6_addr)];
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return -1;
    snprintf(nameserver, sizeof(nameserver), "%s", addr);
    return 0;
}

struct evdns_base *sy_dns_new(struct event_base *base)
{
    struct evdns_base *d;
    if (nameserver[0]) {
        if (!(d = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)))
            return NULL;
        evdns_base_load_hosts(d, NULL);
        if (evdns_base_nameserver_ip_add(d, nameserver) != 0) {
            evdns_base_free(d, 0);
            return NULL;
        }
        return d;
    }
    d = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!d && (d = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)))
        evdns_base_load_hosts(d, NULL); /* no resolv.conf: /etc/hosts at least */
    return d;
}
