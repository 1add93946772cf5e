/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarded socket calls: TCP and UDP over IPv4 and IPv6, confined to the
 * --listen (bind, listen) and --connect (connect, sendto) addresses.
 * Denied addresses get -EACCES. Guest sockaddrs are decoded and rebuilt
 * (host/netpolicy.c); msghdrs are read field by field through the cursor
 * and carry no ancillary data. docs/KEEP.md, "Syscall table".
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cursor.h"
#include "common/util.h"
#include "host/exec_internal.h"
#include "host/netpolicy.h"

static sa_family_t load_family(const uint8_t *sa)
{
    sa_family_t family;
    memcpy(&family, sa, sizeof(family));
    return family;
}

static inline int64_t neg_errno(long r)
{
    return r < 0 ? -errno : r;
}

/* The socket behind a guest fd argument, or NULL (answer -ENOTSOCK). */
static struct exec_fd *socket_arg(struct exec_call *c, int i)
{
    struct exec_fd *f = keep_exec_fd(c->x, c->gfd[i]);
    return f && f->kind == FD_SOCKET ? f : NULL;
}

/* Flags a guest may pass to send/recv: none that carries ancillary data or connects. */
#define MSG_FLAGS_ALLOWED                                                                    \
    (MSG_OOB | MSG_PEEK | MSG_DONTROUTE | MSG_DONTWAIT | MSG_EOR | MSG_WAITALL | MSG_TRUNC | \
     MSG_NOSIGNAL | MSG_MORE | MSG_CMSG_CLOEXEC | MSG_CONFIRM)

/* Decode a private copy of a guest sockaddr (the guest may change its bytes meanwhile). */
static int decode_addr(const uint8_t *sa, uint64_t size, struct keep_net_endpoint *ep)
{
    uint8_t copy[sizeof(struct sockaddr_storage)];
    if (size > sizeof(copy))
        return -EINVAL;
    memcpy(copy, sa, (size_t)size);
    return keep_net_endpoint_decode(copy, (size_t)size, ep);
}

/* The one line a denied address logs (--log info): the call, the value, the flag to allow it. */
static void log_denied(const char *call, const struct keep_net_endpoint *ep, const char *flag)
{
    char text[64];
    keep_net_endpoint_format(ep, text, sizeof(text));
    keep_log(KEEP_LOG_INFO, "%s %s denied: not granted; allow with %s %s", call, text, flag, text);
}

/* A --connect address for connect, sendto and sendmsg; fills the kernel's sockaddr. */
static int connect_addr(const struct exec_call *c, const uint8_t *sa, uint64_t size,
                        struct sockaddr_storage *ss, socklen_t *sl)
{
    const struct keep_config *cfg = c->x->cfg;
    struct keep_net_endpoint ep;
    int rc = decode_addr(sa, size, &ep);
    if (rc)
        return rc;
    if (!keep_netpolicy_match(cfg->connect, cfg->connect_count, &ep) &&
        !keep_exec_enrolment_grants(c->x, &ep)) {
        if (keep_exec_may_log_denial(c->x))
            log_denied(c->desc->name, &ep, "--connect");
        return -EACCES;
    }
    *sl = keep_net_endpoint_encode(&ep, ss);
    return 0;
}

/* Give the guest a kernel sockaddr: at most cap bytes, and the real length (accept(2)). */
static void put_sockaddr(const struct exec_call *c, uint8_t *buf, uint64_t cap, uint8_t *lenp,
                         const struct sockaddr_storage *ss, socklen_t sl)
{
    if (!buf || !lenp)
        return;
    memcpy(buf, ss, sl < cap ? sl : (size_t)cap);
    /* Test mode: a length no sockaddr has (sockaddr_storage is 128 bytes). */
    bool lie = c->x->hostile == KEEP_HOSTILE_SOCKADDR_LEN;
    store_u32(lenp, lie ? KEEP_CHAN_SOCKLEN_MAX + 72 : sl);
}

/* ---- AF_UNIX, only for --listen unix:PATH (docs/HSM.md) ---------------- */

/* A stream socket, and only when some --listen unix:PATH rule exists. */
static int64_t unix_socket(struct exec_call *c, uint64_t type, uint64_t tflags, uint64_t proto)
{
    const struct keep_config *cfg = c->x->cfg;
    if (!keep_netpolicy_has_unix(cfg->listen, cfg->listen_count))
        return -EAFNOSUPPORT;
    if (tflags & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    if (type != SOCK_STREAM || proto != 0)
        return -EPROTONOSUPPORT; /* no datagram sockets: they could send to any path */
    int h = socket(AF_UNIX, (int)(SOCK_STREAM | (tflags & SOCK_NONBLOCK) | SOCK_CLOEXEC), 0);
    if (h < 0)
        return -errno;
    int g = keep_exec_fd_install(c->x, h, FD_SOCKET, 0);
    if (g >= 0)
        c->x->fds[g].cloexec = (tflags & SOCK_CLOEXEC) != 0;
    return g;
}

/*
 * The path of a guest sockaddr_un (unix(7)): sun_path up to its first NUL
 * or the end of size. Abstract names (sun_path[0] == 0) and unnamed
 * sockets are refused: no rule can name them.
 */
static int unix_path_arg(const uint8_t *sa, uint64_t size, char path[KEEP_UNIX_PATH_MAX + 1])
{
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (size <= off || size > sizeof(struct sockaddr_un))
        return -EINVAL;
    size_t n = (size_t)size - off;
    const uint8_t *p = sa + off;
    const uint8_t *nul = memchr(p, 0, n);
    size_t len = nul ? (size_t)(nul - p) : n;
    if (len == 0 || len > KEEP_UNIX_PATH_MAX)
        return -EACCES;
    memcpy(path, p, len);
    path[len] = '\0';
    return 0;
}

/*
 * A socket file left by an earlier run that nobody listens on any more is
 * removed before bind, so a restarted Keep can listen again: the workload
 * cannot unlink a path outside its volumes itself. Anything else at the
 * path (a live socket, a regular file) stays, and bind fails as on Linux.
 */
static void remove_stale_socket(const struct sockaddr_un *sun)
{
    struct stat st;
    if (lstat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return;
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return;
    if (connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) < 0 && errno == ECONNREFUSED &&
        unlink(sun->sun_path) == 0)
        keep_log(KEEP_LOG_INFO, "--listen unix:%s: removed the stale socket file before bind",
                 sun->sun_path);
    close(probe);
}

static int64_t unix_bind(struct exec_call *c, struct exec_fd *f)
{
    const struct keep_config *cfg = c->x->cfg;
    char path[KEEP_UNIX_PATH_MAX + 1];
    uint8_t copy[sizeof(struct sockaddr_un)];
    if (c->n[1] > sizeof(copy))
        return -EINVAL;
    memcpy(copy, c->p[1], (size_t)c->n[1]); /* a private copy: the guest may change its bytes */
    int rc = unix_path_arg(copy, c->n[1], path);
    if (rc)
        return rc;
    if (!keep_netpolicy_match_unix(cfg->listen, cfg->listen_count, path))
        return -EACCES;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path) + 1);
    remove_stale_socket(&sun);
    if (bind(f->host, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        return -errno;
    /*
     * keep runs with umask 0 (the guest's umask is applied by hand), so bind(2)
     * made the socket file 0777. Give it what Linux would, 0777 & ~umask, before
     * the guest can listen: until listen(2) nobody can connect (ECONNREFUSED).
     */
    if (chmod(sun.sun_path, 0777 & ~c->x->umask) < 0)
        return -errno;
    f->listen_ok = true;
    return 0;
}

static int64_t do_socket(struct exec_call *c)
{
    uint64_t domain = c->a[0], type = c->a[1] & 0xf, tflags = c->a[1] & ~(uint64_t)0xf;
    uint64_t proto = c->a[2];
    if (domain == AF_UNIX)
        return unix_socket(c, type, tflags, proto);
    if (domain != AF_INET && domain != AF_INET6)
        return -EAFNOSUPPORT;
    if (tflags & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    if (type == SOCK_STREAM) {
        if (proto != 0 && proto != IPPROTO_TCP)
            return -EPROTONOSUPPORT;
    } else if (type == SOCK_DGRAM) {
        if (proto != 0 && proto != IPPROTO_UDP)
            return -EPROTONOSUPPORT;
    } else {
        return -EPROTONOSUPPORT; /* TCP and UDP only: no raw or packet sockets */
    }
    int h = socket((int)domain, (int)(type | (tflags & SOCK_NONBLOCK) | SOCK_CLOEXEC), (int)proto);
    if (h < 0)
        return -errno;
    int g = keep_exec_fd_install(c->x, h, FD_SOCKET, 0);
    if (g >= 0) {
        c->x->fds[g].cloexec = (tflags & SOCK_CLOEXEC) != 0;
        c->x->fds[g].udp = (struct exec_udp_assoc){.dgram = type == SOCK_DGRAM};
    }
    return g;
}

/* A wildcard bind with no --listen for its port: the hint names a single address to grant. */
static void log_wildcard_denied(const struct keep_net_endpoint *ep)
{
    char text[64];
    keep_net_endpoint_format(ep, text, sizeof(text));
    keep_log(KEEP_LOG_INFO,
             "bind %s denied: no --listen for port %u; allow with --listen 127.0.0.1:%u (a "
             "wildcard bind is then served on that address only)",
             text, (unsigned)ep->port, (unsigned)ep->port);
}

/* A wildcard bind served on a granted address says so at --log info (keep_exec_may_log_denial). */
static void log_narrowed(const struct keep_net_endpoint *asked,
                         const struct keep_net_endpoint *served, size_t unserved)
{
    char a[64], b[64];
    keep_net_endpoint_format(asked, a, sizeof(a));
    keep_net_endpoint_format(served, b, sizeof(b));
    if (unserved)
        keep_log(KEEP_LOG_INFO,
                 "bind %s served on %s only (--listen); %zu other --listen address(es) for "
                 "port %u need a socket of their own",
                 a, b, unserved, (unsigned)asked->port);
    else
        keep_log(KEEP_LOG_INFO, "bind %s served on %s only (--listen)", a, b);
}

static int64_t do_bind(struct exec_call *c)
{
    struct exec_fd *f = socket_arg(c, 0);
    struct keep_net_endpoint ep, served;
    struct sockaddr_storage ss;
    size_t unserved;
    if (!f)
        return -ENOTSOCK;
    if (c->n[1] >= sizeof(sa_family_t) && load_family(c->p[1]) == AF_UNIX)
        return unix_bind(c, f);
    const struct keep_config *cfg = c->x->cfg;
    int rc = decode_addr(c->p[1], c->n[1], &ep);
    if (rc)
        return rc;
    if (!keep_netpolicy_bind(cfg->listen, cfg->listen_count, &ep, &served, &unserved)) {
        if (!keep_exec_may_log_denial(c->x))
            return -EACCES;
        if (keep_net_endpoint_is_wildcard(&ep))
            log_wildcard_denied(&ep);
        else
            log_denied("bind", &ep, "--listen");
        return -EACCES;
    }
    socklen_t sl = keep_net_endpoint_encode(&served, &ss);
    if (bind(f->host, (struct sockaddr *)&ss, sl) < 0)
        return -errno;
    if ((served.family != ep.family || memcmp(served.addr, ep.addr, 16) != 0) &&
        keep_exec_may_log_denial(c->x))
        log_narrowed(&ep, &served, unserved);
    f->listen_ok = true;
    return 0;
}

static int64_t do_listen(struct exec_call *c)
{
    struct exec_fd *f = socket_arg(c, 0);
    if (!f)
        return -ENOTSOCK;
    if (!f->listen_ok) {
        /* Only a socket bound to a --listen address may listen (an unbound one would get an
         * ephemeral port on every address). */
        if (keep_exec_may_log_denial(c->x))
            keep_log(KEEP_LOG_INFO,
                     "listen on fd %d denied: not bound to a --listen address; bind "
                     "one given with --listen first",
                     c->gfd[0]);
        return -EACCES;
    }
    return neg_errno(listen(f->host, (int)c->a[1]));
}

static int64_t accept_common(struct exec_call *c, uint64_t flags)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (!socket_arg(c, 0))
        return -ENOTSOCK;
    if (flags & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    keep_exec_unlock(c, NULL, 0);
    int h = accept4(c->hfd[0], (struct sockaddr *)&ss, &sl,
                    (int)(flags & SOCK_NONBLOCK) | SOCK_CLOEXEC);
    keep_exec_relock(c);
    if (h < 0)
        return -errno;
    int g = keep_exec_fd_install(c->x, h, FD_SOCKET, 0);
    if (g < 0)
        return g;
    c->x->fds[g].cloexec = (flags & SOCK_CLOEXEC) != 0;
    put_sockaddr(c, c->p[1], c->n[1], c->p[2], &ss, sl);
    return g;
}

static int64_t do_accept(struct exec_call *c)
{
    return accept_common(c, 0);
}

static int64_t do_accept4(struct exec_call *c)
{
    return accept_common(c, c->a[3]);
}

static int64_t do_connect(struct exec_call *c)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    struct exec_fd *f = socket_arg(c, 0);
    if (!f)
        return -ENOTSOCK;
    if (c->n[1] >= sizeof(sa_family_t)) {
        sa_family_t family;
        memcpy(&family, c->p[1], sizeof(family));
        if (family == AF_UNSPEC) {
            /* connect(2): AF_UNSPEC dissolves a UDP association; it reaches nobody. */
            struct sockaddr unspec = {.sa_family = AF_UNSPEC};
            if (connect(c->hfd[0], &unspec, sizeof(unspec)) < 0)
                return -errno;
            f->udp.guest_connected = f->udp.host_connected = false;
            return 0;
        }
    }
    int rc = connect_addr(c, c->p[1], c->n[1], &ss, &sl);
    if (rc)
        return rc;
    keep_exec_unlock(c, NULL, 0); /* a TCP connect waits for the handshake */
    int r = connect(c->hfd[0], (struct sockaddr *)&ss, sl);
    keep_exec_relock(c);
    if (r < 0)
        return -errno;
    /*
     * Another thread may have closed the guest fd meanwhile (its host fd
     * stayed open for this call, so no other file has its number): the
     * association belongs to the entry only if it still names that fd.
     */
    f = keep_exec_fd(c->x, c->gfd[0]);
    if (!f || f->host != c->hfd[0])
        return 0;
    f->udp.guest_connected = true;
    f->udp.host_connected = false;
    return 0;
}

/*
 * Before a send to the --connect address ss: an unbound UDP socket the guest
 * never connected would be bound by Linux to the wildcard address and an
 * ephemeral port (udp(7)), where datagrams from ANY source reach it. The
 * host connects it to ss instead (udp(7): a connected socket receives only
 * from its peer), and again when the guest sends to another --connect
 * address, so only the peer it last sent to can answer. A socket bound to a
 * --listen address serves whoever may reach that address, and one the guest
 * connected has its own association: both are left alone.
 */
static int associate_datagram(struct exec_fd *f, const struct sockaddr_storage *ss, socklen_t sl)
{
    struct exec_udp_assoc *u = &f->udp;
    if (!u->dgram || f->listen_ok || u->guest_connected)
        return 0;
    if (u->host_connected && u->peer_len == sl && memcmp(&u->peer, ss, sl) == 0)
        return 0;
    if (sl > sizeof(u->peer))
        return -EAFNOSUPPORT; /* keep_net_endpoint_encode gives AF_INET/AF_INET6 only */
    if (connect(f->host, (const struct sockaddr *)ss, sl) < 0)
        return -errno;
    u->host_connected = true;
    u->peer_len = sl;
    memcpy(&u->peer, ss, sl);
    return 0;
}

static int64_t do_sendto(struct exec_call *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    struct exec_fd *f = socket_arg(c, 0);
    if (!f)
        return -ENOTSOCK;
    if (c->a[3] & ~(uint64_t)MSG_FLAGS_ALLOWED)
        return -EINVAL;
    if (c->p[4]) {
        int rc = connect_addr(c, c->p[4], c->n[4], &ss, &sl);
        if (!rc)
            rc = associate_datagram(f, &ss, sl);
        if (rc)
            return rc;
    } else if (keep_exec_udp_unconnected(f)) {
        return -EDESTADDRREQ;
    }
    keep_exec_unlock(c, NULL, 0);
    int64_t r = neg_errno(sendto(c->hfd[0], c->p[1], c->n[1], (int)c->a[3] | MSG_NOSIGNAL,
                                 c->p[4] ? (struct sockaddr *)&ss : NULL, sl));
    keep_exec_relock(c);
    return r;
}

static int64_t do_recvfrom(struct exec_call *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (!socket_arg(c, 0))
        return -ENOTSOCK;
    if (c->a[3] & ~(uint64_t)MSG_FLAGS_ALLOWED)
        return -EINVAL;
    keep_exec_unlock(c, NULL, 0);
    ssize_t r = recvfrom(c->hfd[0], c->p[1], c->n[1], (int)c->a[3], (struct sockaddr *)&ss, &sl);
    keep_exec_relock(c);
    if (r < 0)
        return -errno;
    put_sockaddr(c, c->p[4], c->n[4], c->p[5], &ss, sl);
    return r;
}

/* struct msghdr on x86-64 (KEEP_SIZEOF_MSGHDR), read once through the cursor. */
struct guest_msghdr {
    uint64_t name, iov, iovlen, control, controllen;
    uint32_t namelen, flags;
};

static int read_msghdr(const uint8_t *p, struct guest_msghdr *m)
{
    struct keep_cursor cur;
    uint32_t pad;
    keep_cursor_init(&cur, p, KEEP_SIZEOF_MSGHDR);
    if (keep_cursor_u64(&cur, "msg_name", &m->name, NULL) ||
        keep_cursor_u32(&cur, "msg_namelen", &m->namelen, NULL) ||
        keep_cursor_u32(&cur, "pad", &pad, NULL) ||
        keep_cursor_u64(&cur, "msg_iov", &m->iov, NULL) ||
        keep_cursor_u64(&cur, "msg_iovlen", &m->iovlen, NULL) ||
        keep_cursor_u64(&cur, "msg_control", &m->control, NULL) ||
        keep_cursor_u64(&cur, "msg_controllen", &m->controllen, NULL) ||
        keep_cursor_u32(&cur, "msg_flags", &m->flags, NULL))
        return -EFAULT;
    return 0;
}

/* The arguments sendmsg and recvmsg share: a socket, allowed flags, the guest's msghdr. */
static int msg_call_args(struct exec_call *c, struct guest_msghdr *gm)
{
    if (!socket_arg(c, 0))
        return -ENOTSOCK;
    if (c->a[2] & ~(uint64_t)MSG_FLAGS_ALLOWED)
        return -EINVAL;
    return read_msghdr(c->p[1], gm);
}

/*
 * msg_namelen as Linux takes it (net/socket.c, __copy_msghdr): negative as
 * an int is EINVAL; beyond a sockaddr_storage it is cut to one.
 */
static int msg_namelen(const struct guest_msghdr *m, uint32_t *len)
{
    if (m->namelen > (uint32_t)INT32_MAX)
        return -EINVAL;
    *len = m->namelen < KEEP_CHAN_SOCKLEN_MAX ? m->namelen : KEEP_CHAN_SOCKLEN_MAX;
    return 0;
}

static int64_t do_sendmsg(struct exec_call *c)
{
    struct guest_msghdr gm;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int rc = msg_call_args(c, &gm);
    if (rc)
        return rc;
    /* No ancillary data: it could carry fds (SCM_RIGHTS) or credentials. */
    if (gm.control || gm.controllen)
        return -EINVAL;
    struct exec_fd *f = socket_arg(c, 0);
    if (gm.name) {
        uint8_t *name;
        uint32_t len;
        if ((rc = msg_namelen(&gm, &len)) != 0 ||
            (rc = keep_exec_map(c->space, gm.name, len, &name)) != 0 ||
            (rc = connect_addr(c, name, len, &ss, &sl)) != 0 ||
            (rc = associate_datagram(f, &ss, sl)) != 0)
            return rc;
    } else if (keep_exec_udp_unconnected(f)) {
        return -EDESTADDRREQ;
    }
    if ((rc = keep_exec_map_iovec(c, gm.iov, gm.iovlen)) != 0)
        return rc;
    struct msghdr m = {.msg_name = gm.name ? &ss : NULL,
                       .msg_namelen = sl,
                       .msg_iov = c->s->iov,
                       .msg_iovlen = c->iov_count};
    keep_exec_unlock(c, NULL, 0);
    int64_t r = neg_errno(sendmsg(c->hfd[0], &m, (int)c->a[2] | MSG_NOSIGNAL));
    keep_exec_relock(c);
    return r;
}

static int64_t do_recvmsg(struct exec_call *c)
{
    struct guest_msghdr gm;
    struct sockaddr_storage ss;
    uint8_t *name = NULL;
    int rc = msg_call_args(c, &gm);
    if (rc)
        return rc;
    uint32_t cap = 0;
    if (gm.name && ((rc = msg_namelen(&gm, &cap)) != 0 ||
                    (rc = keep_exec_map(c->space, gm.name, cap, &name)) != 0))
        return rc;
    if ((rc = keep_exec_map_iovec(c, gm.iov, gm.iovlen)) != 0)
        return rc;
    struct msghdr m = {.msg_name = name ? &ss : NULL,
                       .msg_namelen = name ? sizeof(ss) : 0,
                       .msg_iov = c->s->iov,
                       .msg_iovlen = c->iov_count};
    keep_exec_unlock(c, NULL, 0);
    ssize_t r = recvmsg(c->hfd[0], &m, (int)c->a[2]);
    keep_exec_relock(c);
    if (r < 0)
        return -errno;
    /* Write back the fields recvmsg(2) updates: namelen, controllen (none delivered), flags. */
    if (name) {
        memcpy(name, &ss, m.msg_namelen < cap ? m.msg_namelen : cap);
        bool lie = c->x->hostile == KEEP_HOSTILE_MSG_NAMELEN;
        store_u32(c->p[1] + 8, lie ? KEEP_CHAN_SOCKLEN_MAX + 72 : m.msg_namelen);
    }
    store_u64(c->p[1] + 40, 0);
    store_u32(c->p[1] + 48, (uint32_t)m.msg_flags);
    return r;
}

static int64_t do_shutdown(struct exec_call *c)
{
    if (!socket_arg(c, 0))
        return -ENOTSOCK;
    if (c->a[1] > SHUT_RDWR)
        return -EINVAL;
    return neg_errno(shutdown(c->hfd[0], (int)c->a[1]));
}

static int64_t name_common(struct exec_call *c, bool peer)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct exec_fd *f = socket_arg(c, 0);
    if (!f)
        return -ENOTSOCK;
    if (peer && keep_exec_udp_unconnected(f))
        return -ENOTCONN; /* the association is the host's, not the guest's */
    int r = peer ? getpeername(c->hfd[0], (struct sockaddr *)&ss, &sl)
                 : getsockname(c->hfd[0], (struct sockaddr *)&ss, &sl);
    if (r < 0)
        return -errno;
    put_sockaddr(c, c->p[1], c->n[1], c->p[2], &ss, sl);
    return 0;
}

static int64_t do_getsockname(struct exec_call *c)
{
    return name_common(c, false);
}

static int64_t do_getpeername(struct exec_call *c)
{
    return name_common(c, true);
}

/*
 * Socket options a workload may use. Everything else is -ENOPROTOOPT: some
 * options carry host pointers (SO_ATTACH_FILTER) or reach other sockets.
 */
static bool sockopt_allowed(uint64_t level, uint64_t name)
{
    switch (level) {
    case SOL_SOCKET:
        switch (name) {
        case SO_REUSEADDR:
        case SO_REUSEPORT:
        case SO_KEEPALIVE:
        case SO_RCVBUF:
        case SO_SNDBUF:
        case SO_LINGER:
        case SO_RCVTIMEO_OLD:
        case SO_SNDTIMEO_OLD:
        case SO_RCVTIMEO_NEW:
        case SO_SNDTIMEO_NEW:
        case SO_BROADCAST:
        case SO_ERROR:
        case SO_TYPE:
        case SO_DOMAIN:
        case SO_PROTOCOL:
        case SO_ACCEPTCONN:
        case SO_RCVLOWAT:
        case SO_SNDLOWAT:
        case SO_OOBINLINE:
            return true;
        default:
            return false;
        }
    case IPPROTO_TCP:
        switch (name) {
        case TCP_NODELAY:
        case TCP_KEEPIDLE:
        case TCP_KEEPINTVL:
        case TCP_KEEPCNT:
        case TCP_CORK:
        case TCP_QUICKACK:
        case TCP_USER_TIMEOUT:
        case TCP_MAXSEG:
        case TCP_INFO:
            return true;
        default:
            return false;
        }
    case IPPROTO_IP:
        return name == IP_TOS || name == IP_TTL;
    case IPPROTO_IPV6:
        return name == IPV6_V6ONLY || name == IPV6_TCLASS;
    default:
        return false;
    }
}

static int64_t do_setsockopt(struct exec_call *c)
{
    uint8_t val[KEEP_CHAN_OPTLEN_MAX];
    if (!socket_arg(c, 0))
        return -ENOTSOCK;
    if (!sockopt_allowed(c->a[1], c->a[2]))
        return -ENOPROTOOPT;
    memcpy(val, c->p[3], (size_t)c->n[3]);
    return neg_errno(setsockopt(c->hfd[0], (int)c->a[1], (int)c->a[2], val, (socklen_t)c->n[3]));
}

static int64_t do_getsockopt(struct exec_call *c)
{
    uint8_t val[KEEP_CHAN_OPTLEN_MAX];
    socklen_t sl = (socklen_t)c->n[3];
    if (!socket_arg(c, 0))
        return -ENOTSOCK;
    if (!sockopt_allowed(c->a[1], c->a[2]))
        return -ENOPROTOOPT;
    if (getsockopt(c->hfd[0], (int)c->a[1], (int)c->a[2], val, &sl) < 0)
        return -errno;
    if (sl > c->n[3])
        sl = (socklen_t)c->n[3];
    memcpy(c->p[3], val, sl);
    store_u32(c->p[4], sl);
    return 0;
}

exec_handler keep_exec_net_handler(uint64_t nr)
{
    switch (nr) {
    case KEEP_NR_socket:
        return do_socket;
    case KEEP_NR_connect:
        return do_connect;
    case KEEP_NR_accept:
        return do_accept;
    case KEEP_NR_sendto:
        return do_sendto;
    case KEEP_NR_recvfrom:
        return do_recvfrom;
    case KEEP_NR_sendmsg:
        return do_sendmsg;
    case KEEP_NR_recvmsg:
        return do_recvmsg;
    case KEEP_NR_shutdown:
        return do_shutdown;
    case KEEP_NR_bind:
        return do_bind;
    case KEEP_NR_listen:
        return do_listen;
    case KEEP_NR_getsockname:
        return do_getsockname;
    case KEEP_NR_getpeername:
        return do_getpeername;
    case KEEP_NR_setsockopt:
        return do_setsockopt;
    case KEEP_NR_getsockopt:
        return do_getsockopt;
    case KEEP_NR_accept4:
        return do_accept4;
    default:
        return NULL;
    }
}
