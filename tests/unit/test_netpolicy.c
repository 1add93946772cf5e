/* SPDX-License-Identifier: Apache-2.0 */
/* Guest sockaddr decoding and the --listen/--connect match (host/netpolicy.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "host/netpolicy.h"
#include "tap.h"

static struct keep_net_rule rule4(const char *addr, uint16_t port)
{
    struct keep_net_rule r = {.family = AF_INET, .port = port};
    inet_pton(AF_INET, addr, r.addr);
    return r;
}

static struct keep_net_rule rule6(const char *addr, uint16_t port)
{
    struct keep_net_rule r = {.family = AF_INET6, .port = port};
    inet_pton(AF_INET6, addr, r.addr);
    return r;
}

static int decode4(const char *addr, uint16_t port, size_t size, struct keep_net_endpoint *ep)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, addr, &sin.sin_addr);
    return keep_net_endpoint_decode((const uint8_t *)&sin, size, ep);
}

static int decode6(const char *addr, uint16_t port, size_t size, struct keep_net_endpoint *ep)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, addr, &sin6.sin6_addr);
    return keep_net_endpoint_decode((const uint8_t *)&sin6, size, ep);
}

/* A wildcard bind is narrowed to granted addresses, never widened (issue 7). */
static void test_bind(void)
{
    struct keep_net_endpoint ep, served;
    struct keep_net_rule rules[] = {rule4("127.0.0.1", 8080), rule6("::1", 9090),
                                    rule4("127.0.0.1", 9090), rule4("10.0.0.5", 8080)};
    const struct keep_net_rule *r;
    size_t unserved;
    char text[64];

    decode4("127.0.0.1", 8080, 16, &ep);
    r = keep_netpolicy_bind(rules, 4, &ep, &served, &unserved);
    ok(r == &rules[0] && memcmp(served.addr, ep.addr, 4) == 0, "an exact rule binds as asked");
    decode4("0.0.0.0", 8080, 16, &ep);
    ok(keep_net_endpoint_is_wildcard(&ep), "0.0.0.0 is the wildcard");
    r = keep_netpolicy_bind(rules, 4, &ep, &served, &unserved);
    ok(r == &rules[0], "0.0.0.0:8080 is served on the first rule for 8080 (127.0.0.1)");
    keep_net_endpoint_format(&served, text, sizeof(text));
    is_str(text, "127.0.0.1:8080", "... the socket binds 127.0.0.1:8080");
    is_int(unserved, 1, "... and 10.0.0.5:8080 would need a socket of its own");
    decode6("::", 8080, 28, &ep);
    ok(keep_net_endpoint_is_wildcard(&ep), ":: is the wildcard");
    r = keep_netpolicy_bind(rules, 4, &ep, &served, &unserved);
    keep_net_endpoint_format(&served, text, sizeof(text));
    ok(r == &rules[0] && served.family == AF_INET6, "[::]:8080 on an IPv6 socket");
    is_str(text, "[::ffff:127.0.0.1]:8080", "... binds the IPv4 rule as its mapped address");
    decode6("::", 9090, 28, &ep);
    r = keep_netpolicy_bind(rules, 4, &ep, &served, &unserved);
    keep_net_endpoint_format(&served, text, sizeof(text));
    is_str(text, "[::1]:9090", "[::]:9090 prefers the IPv6 rule [::1]:9090");
    is_int(unserved, 1, "... 127.0.0.1:9090 is not served by that socket");
    decode4("0.0.0.0", 9091, 16, &ep);
    ok(!keep_netpolicy_bind(rules, 4, &ep, &served, &unserved), "0.0.0.0:9091, no rule: denied");
    decode4("127.0.0.2", 8080, 16, &ep);
    ok(!keep_netpolicy_bind(rules, 4, &ep, &served, &unserved),
       "127.0.0.2:8080, a specific address not granted: denied (never re-aimed)");
    struct keep_net_rule v6only[] = {rule6("::1", 7070)};
    decode4("0.0.0.0", 7070, 16, &ep);
    ok(!keep_netpolicy_bind(v6only, 1, &ep, &served, &unserved),
       "0.0.0.0:7070 on an IPv4 socket cannot be served on [::1]:7070: denied");
    decode6("::ffff:0.0.0.0", 8080, 28, &ep);
    ok(keep_net_endpoint_is_wildcard(&ep), "::ffff:0.0.0.0 is the wildcard too");
    decode6("::ffff:127.0.0.1", 8080, 28, &ep);
    ok(!keep_net_endpoint_is_wildcard(&ep), "::ffff:127.0.0.1 is not");
}

int main(void)
{
    test_bind();
    struct keep_net_endpoint ep;
    struct keep_net_rule rules[] = {rule4("127.0.0.1", 8080), rule6("::1", 9090),
                                    rule4("10.1.2.3", 443)};

    is_int(decode4("127.0.0.1", 8080, 16, &ep), 0, "sockaddr_in of 16 bytes decodes");
    ok(ep.family == AF_INET && ep.port == 8080 && ep.addr[0] == 127 && ep.addr[3] == 1,
       "family, port (host order) and address");
    ok(keep_netpolicy_match(rules, 3, &ep), "127.0.0.1:8080 matches its rule");
    decode4("127.0.0.1", 8081, 16, &ep);
    ok(!keep_netpolicy_match(rules, 3, &ep), "another port does not");
    decode4("127.0.0.2", 8080, 16, &ep);
    ok(!keep_netpolicy_match(rules, 3, &ep), "another address does not");
    decode4("0.0.0.0", 8080, 16, &ep);
    ok(!keep_netpolicy_match(rules, 3, &ep), "the wildcard address is not 127.0.0.1");
    is_int(decode4("127.0.0.1", 8080, 15, &ep), -EINVAL, "sockaddr_in of 15 bytes: EINVAL");
    is_int(decode4("127.0.0.1", 8080, 1, &ep), -EINVAL, "1 byte: EINVAL");
    is_int(decode4("127.0.0.1", 8080, 0, &ep), -EINVAL, "0 bytes: EINVAL");
    uint8_t big[200] = {AF_INET};
    is_int(keep_net_endpoint_decode(big, sizeof(big), &ep), -EINVAL,
           "more than sockaddr_storage: EINVAL");

    is_int(decode6("::1", 9090, sizeof(struct sockaddr_in6), &ep), 0, "sockaddr_in6 decodes");
    ok(keep_netpolicy_match(rules, 3, &ep), "[::1]:9090 matches");
    is_int(decode6("::1", 9090, 24, &ep), 0, "a 24-byte sockaddr_in6 (no scope id) decodes");
    is_int(decode6("::1", 9090, 23, &ep), -EINVAL, "23 bytes: EINVAL");
    decode6("::ffff:10.1.2.3", 443, sizeof(struct sockaddr_in6), &ep);
    ok(keep_netpolicy_match(rules, 3, &ep), "::ffff:10.1.2.3 matches the IPv4 rule 10.1.2.3");
    decode6("::ffff:127.0.0.1", 9090, sizeof(struct sockaddr_in6), &ep);
    ok(!keep_netpolicy_match(rules, 3, &ep), "::ffff:127.0.0.1:9090 is not [::1]:9090");
    struct keep_net_rule mapped = rule6("::ffff:192.0.2.1", 53);
    decode4("192.0.2.1", 53, 16, &ep);
    ok(keep_netpolicy_match(&mapped, 1, &ep), "an IPv4 address matches a mapped IPv6 rule");
    ok(!keep_netpolicy_match(rules, 0, &ep), "no rules: nothing matches");

    /* --listen unix:PATH rules match only by path, never an IP endpoint */
    char sock_path[] = "/run/hsm.sock";
    struct keep_net_rule unix_rule = {.family = AF_UNIX, .unix_path = sock_path};
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6};
    is_int(keep_net_endpoint_decode((const uint8_t *)&any6, sizeof(any6), &ep), 0,
           "[::]:0 decodes");
    ok(!keep_netpolicy_match(&unix_rule, 1, &ep), "a unix rule does not match [::]:0");
    struct keep_net_endpoint served;
    size_t unserved;
    ok(!keep_netpolicy_bind(&unix_rule, 1, &ep, &served, &unserved),
       "nor does a wildcard bind to port 0 pick the unix rule");
    ok(keep_netpolicy_match_unix(&unix_rule, 1, "/run/hsm.sock"), "unix rule matches its path");
    ok(!keep_netpolicy_match_unix(&unix_rule, 1, "/run/hsm.sock2"), "not a longer path");
    ok(!keep_netpolicy_match_unix(&unix_rule, 1, "/run//hsm.sock"), "not another spelling");
    ok(!keep_netpolicy_match_unix(rules, 3, "/run/hsm.sock"), "IP rules match no path");
    ok(keep_netpolicy_has_unix(&unix_rule, 1) && !keep_netpolicy_has_unix(rules, 3),
       "has_unix tells unix rules apart");

    struct sockaddr_un_like {
        uint16_t family;
        char path[20];
    } un = {1 /* AF_UNIX */, "/tmp/x"};
    is_int(keep_net_endpoint_decode((const uint8_t *)&un, sizeof(un), &ep), -EAFNOSUPPORT,
           "AF_UNIX: EAFNOSUPPORT");
    uint8_t netlink[16] = {16 /* AF_NETLINK */};
    is_int(keep_net_endpoint_decode(netlink, sizeof(netlink), &ep), -EAFNOSUPPORT,
           "AF_NETLINK: EAFNOSUPPORT");

    /* The kernel gets a rebuilt sockaddr, not the guest's bytes. */
    struct sockaddr_in dirty = {.sin_family = AF_INET, .sin_port = htons(80)};
    memset(dirty.sin_zero, 0xee, sizeof(dirty.sin_zero));
    must_ok(keep_net_endpoint_decode((const uint8_t *)&dirty, sizeof(dirty), &ep));
    struct sockaddr_storage ss;
    socklen_t sl = keep_net_endpoint_encode(&ep, &ss);
    is_int(sl, sizeof(struct sockaddr_in), "encode: sockaddr_in length");
    ok(((struct sockaddr_in *)&ss)->sin_zero[0] == 0, "encode: padding is zero, not the guest's");
    ok(((struct sockaddr_in *)&ss)->sin_port == htons(80), "encode: port in network order");
    decode6("fe80::1", 22, sizeof(struct sockaddr_in6), &ep);
    sl = keep_net_endpoint_encode(&ep, &ss);
    is_int(sl, sizeof(struct sockaddr_in6), "encode: sockaddr_in6 length");
    return done_testing();
}
