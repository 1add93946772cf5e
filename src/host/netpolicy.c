/* SPDX-License-Identifier: Apache-2.0 */
#include "host/netpolicy.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/cursor.h"
#include "common/util.h"

int keep_net_endpoint_decode(const uint8_t *sa, size_t size, struct keep_net_endpoint *out)
{
    struct keep_cursor c;
    uint16_t family, port_be;
    memset(out, 0, sizeof(*out));
    if (size < sizeof(sa_family_t) || size > sizeof(struct sockaddr_storage))
        return -EINVAL;
    keep_cursor_init(&c, sa, size);
    if (keep_cursor_u16(&c, "sa_family", &family, NULL))
        return -EINVAL;
    if (family == AF_INET) {
        /* struct sockaddr_in: family, port (network order), 4-byte address, 8 bytes zero. */
        if (size < sizeof(struct sockaddr_in) ||
            keep_cursor_u16_be(&c, "sin_port", &port_be, NULL) ||
            keep_cursor_copy(&c, "sin_addr", out->addr, 4, NULL))
            return -EINVAL;
    } else if (family == AF_INET6) {
        /* struct sockaddr_in6 (RFC 3493 3.3): family, port, flowinfo, 16-byte address, scope id. */
        uint32_t flowinfo;
        if (size < 24 || keep_cursor_u16_be(&c, "sin6_port", &port_be, NULL) ||
            keep_cursor_u32(&c, "sin6_flowinfo", &flowinfo, NULL) ||
            keep_cursor_copy(&c, "sin6_addr", out->addr, 16, NULL))
            return -EINVAL;
        if (keep_cursor_remaining(&c) >= 4 &&
            keep_cursor_u32(&c, "sin6_scope_id", &out->scope_id, NULL))
            return -EINVAL;
    } else {
        return -EAFNOSUPPORT;
    }
    out->family = family;
    out->port = port_be;
    return 0;
}

socklen_t keep_net_endpoint_encode(const struct keep_net_endpoint *ep, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (ep->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(ep->port);
        memcpy(&sin->sin_addr, ep->addr, 4);
        return sizeof(*sin);
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(ep->port);
    memcpy(&sin6->sin6_addr, ep->addr, 16);
    sin6->sin6_scope_id = ep->scope_id;
    return sizeof(*sin6);
}

/* IPv4-mapped IPv6 (RFC 4291 2.5.5.2: ::ffff:0:0/96) compares as IPv4. */
static void canonical(int family, const uint8_t addr[16], int *cf, uint8_t out[16])
{
    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, 16);
    if (family == AF_INET6 && memcmp(addr, mapped_prefix, 12) == 0) {
        *cf = AF_INET;
        memcpy(out, addr + 12, 4);
    } else if (family == AF_INET) {
        *cf = AF_INET;
        memcpy(out, addr, 4);
    } else {
        *cf = AF_INET6;
        memcpy(out, addr, 16);
    }
}

bool keep_netpolicy_match(const struct keep_net_rule *rules, size_t count,
                          const struct keep_net_endpoint *ep)
{
    int ef;
    uint8_t ea[16];
    canonical(ep->family, ep->addr, &ef, ea);
    for (size_t i = 0; i < count; i++) {
        int rf;
        uint8_t ra[16];
        if (rules[i].family == AF_UNIX)
            continue; /* unix:PATH rules match only keep_netpolicy_match_unix() */
        canonical(rules[i].family, rules[i].addr, &rf, ra);
        if (rf == ef && rules[i].port == ep->port && memcmp(ra, ea, 16) == 0)
            return true;
    }
    return false;
}

bool keep_net_endpoint_is_wildcard(const struct keep_net_endpoint *ep)
{
    int cf;
    uint8_t ca[16];
    canonical(ep->family, ep->addr, &cf, ca);
    return keep_mem_is_zero(ca, 16);
}

/* The endpoint a socket of family binds for rule at port (IPv4 on AF_INET6: v4-mapped). */
static void rule_endpoint(const struct keep_net_rule *rule, int family,
                          struct keep_net_endpoint *out)
{
    memset(out, 0, sizeof(*out));
    out->family = family;
    out->port = rule->port;
    if (family == AF_INET6 && rule->family == AF_INET) {
        out->addr[10] = out->addr[11] = 0xff; /* RFC 4291 2.5.5.2: ::ffff:a.b.c.d */
        memcpy(out->addr + 12, rule->addr, 4);
    } else {
        memcpy(out->addr, rule->addr, family == AF_INET ? 4 : 16);
    }
}

/* The first rule for port of family want, and how many rules that port has in all. */
static const struct keep_net_rule *first_for_port(const struct keep_net_rule *rules, size_t count,
                                                  uint16_t port, int want, size_t *for_port)
{
    const struct keep_net_rule *found = NULL;
    *for_port = 0;
    for (size_t i = 0; i < count; i++) {
        if (rules[i].port != port || rules[i].family == AF_UNIX) /* unix:PATH has no port */
            continue;
        (*for_port)++;
        if (!found && rules[i].family == want)
            found = &rules[i];
    }
    return found;
}

const struct keep_net_rule *keep_netpolicy_bind(const struct keep_net_rule *rules, size_t count,
                                                const struct keep_net_endpoint *ep,
                                                struct keep_net_endpoint *served, size_t *unserved)
{
    *unserved = 0;
    for (size_t i = 0; i < count; i++) {
        if (keep_netpolicy_match(&rules[i], 1, ep)) {
            *served = *ep;
            return &rules[i];
        }
    }
    if (!keep_net_endpoint_is_wildcard(ep))
        return NULL;
    size_t for_port;
    const struct keep_net_rule *r = NULL;
    if (ep->family == AF_INET6)
        r = first_for_port(rules, count, ep->port, AF_INET6, &for_port);
    if (!r)
        r = first_for_port(rules, count, ep->port, AF_INET, &for_port);
    if (!r)
        return NULL;
    rule_endpoint(r, ep->family, served);
    *unserved = for_port - 1;
    return r;
}

void keep_net_endpoint_format(const struct keep_net_endpoint *ep, char *out, size_t size)
{
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(ep->family, ep->addr, text, sizeof(text));
    snprintf(out, size, ep->family == AF_INET6 ? "[%s]:%u" : "%s:%u", text, (unsigned)ep->port);
}

bool keep_netpolicy_match_unix(const struct keep_net_rule *rules, size_t count, const char *path)
{
    for (size_t i = 0; i < count; i++)
        if (rules[i].family == AF_UNIX && strcmp(rules[i].unix_path, path) == 0)
            return true;
    return false;
}

bool keep_netpolicy_has_unix(const struct keep_net_rule *rules, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (rules[i].family == AF_UNIX)
            return true;
    return false;
}
