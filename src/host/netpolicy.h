/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which socket addresses a Keep may use: exactly the --listen rules for
 * bind (and so listen) and exactly the --connect rules for connect and
 * sendto. A denied address is answered -EACCES (docs/KEEP.md, "Syscall
 * table"). An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4
 * address a.b.c.d for matching, on either side.
 *
 * The guest's sockaddr bytes are decoded here into an endpoint and the
 * kernel is given a sockaddr rebuilt from it, never the guest's bytes.
 */
#ifndef KEEP_HOST_NETPOLICY_H
#define KEEP_HOST_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "host/config.h"

struct keep_net_endpoint {
    int family;       /* AF_INET or AF_INET6 (as the guest gave it) */
    uint8_t addr[16]; /* network order; first 4 bytes for AF_INET */
    uint16_t port;    /* host order */
    uint32_t scope_id;
};

/*
 * Decode a guest sockaddr of size bytes (already copied to host memory).
 * -EINVAL when size is too short for the family (sockaddr_in 16 bytes,
 * sockaddr_in6 24 at least) or above sizeof(struct sockaddr_storage),
 * -EAFNOSUPPORT for any family but AF_INET and AF_INET6.
 */
KEEP_WARN_UNUSED int keep_net_endpoint_decode(const uint8_t *sa, size_t size,
                                              struct keep_net_endpoint *out);

/* Build the kernel's sockaddr for ep into ss; returns its length. */
socklen_t keep_net_endpoint_encode(const struct keep_net_endpoint *ep, struct sockaddr_storage *ss);

/* True when ep equals one of the rules (address family, address and port). */
bool keep_netpolicy_match(const struct keep_net_rule *rules, size_t count,
                          const struct keep_net_endpoint *ep);

/* True when ep's address is the wildcard: 0.0.0.0, :: or ::ffff:0.0.0.0 (any address). */
bool keep_net_endpoint_is_wildcard(const struct keep_net_endpoint *ep);

/*
 * The address a bind to ep is served on, into *served: ep itself when it
 * equals a --listen rule; for a wildcard address, the first rule for ep's
 * port (in command-line order) a socket of ep's family can bind: an
 * AF_INET6 socket prefers IPv6 rules and else binds an IPv4 rule as its
 * IPv4-mapped address (::ffff:a.b.c.d, which accepts IPv4 clients); an
 * AF_INET socket only IPv4 rules. So a wildcard is narrowed to granted
 * addresses, never widened. *unserved counts the other rules for that port
 * the one socket cannot also serve. NULL when nothing is granted (denied).
 */
const struct keep_net_rule *keep_netpolicy_bind(const struct keep_net_rule *rules, size_t count,
                                                const struct keep_net_endpoint *ep,
                                                struct keep_net_endpoint *served, size_t *unserved);

/* ep as text for log lines: "a.b.c.d:P" or "[v6]:P", always NUL-terminated. */
void keep_net_endpoint_format(const struct keep_net_endpoint *ep, char *out, size_t size);

/* --listen unix:PATH: true when path equals one rule's path exactly (no normalisation). */
bool keep_netpolicy_match_unix(const struct keep_net_rule *rules, size_t count, const char *path);
/* True when any rule is a unix:PATH rule (only then may the workload make AF_UNIX sockets). */
bool keep_netpolicy_has_unix(const struct keep_net_rule *rules, size_t count);

#endif /* KEEP_HOST_NETPOLICY_H */
