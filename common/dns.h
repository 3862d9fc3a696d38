/*
 * dns: one way to make libevent's asynchronous resolver (evdns) for a loop, shared by
 * every client that resolves names on a loop: the built-in HTTP client's provider hosts
 * (common/h1client_origin.c) and the PostgreSQL pool's database host (common/pgasync.c).
 * Nothing on a loop calls the blocking getaddrinfo().
 *
 * By default the resolver reads /etc/resolv.conf and /etc/hosts. sy_dns_set_nameserver()
 * (the router's --dns-server) replaces resolv.conf's nameservers with one; /etc/hosts is
 * still read first.
 */
#ifndef SY_DNS_H
#define SY_DNS_H

struct event_base;
struct evdns_base;

/* "IP" or "IP:PORT" (IPv6 in brackets with a port), for every resolver made after this
 * call; NULL or "" goes back to /etc/resolv.conf. Not copied beyond 63 bytes: 0, or -1
 * if addr is longer or not an IP address. */
int sy_dns_set_nameserver(const char *addr) __attribute__((warn_unused_result));

/* A new resolver on base (the caller frees it with evdns_base_free), made idle-friendly
 * (EVDNS_BASE_DISABLE_WHEN_INACTIVE: it does not keep the loop running). NULL when it
 * cannot be made. */
struct evdns_base *sy_dns_new(struct event_base *base);

#endif
