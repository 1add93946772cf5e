/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarding system calls to the host through the channel
 * (src/common/channel.h): one item per call, one OUT per batch.
 *
 * Before forwarding, every buffer argument is checked to lie in workload
 * memory (direct path) or is copied into the channel's data area (bounce
 * path). After the host answers, the result is checked against what the
 * call allows (a read returns at most the bytes asked, an fd is below
 * KEEP_CHAN_MAX_FDS, a stat call returns 0, ...): a violation ends the Keep
 * with a message naming the call and the value; the workload never sees it.
 */
#include "common/channel.h"
#include "shim.h"
#include "shim/reply_check.h"

#ifndef KEEP_CHAN_MAX_FDS
#define KEEP_CHAN_MAX_FDS 1024u /* Linux RLIMIT_NOFILE default, as in later channel.h */
#endif

/* This vCPU's channel (vCPU 0: KEEP_GUEST_CHANNEL; the others: KEEP_GUEST_CHANNELS). */
#define CHAN_BASE (shim_cpu()->channel)
#define CHAN      ((volatile struct keep_chan_header *)CHAN_BASE)
#define ITEM      ((volatile struct keep_chan_item *)(CHAN_BASE + KEEP_CHAN_ITEMS_OFFSET))
#define DATA_OFF  4096ull
#define DATA_SIZE (KEEP_GUEST_CHANNEL_SIZE - DATA_OFF)
#define MAX_ERRNO SHIM_MAX_ERRNO

/* Decimal text of v (may be negative) at the end of buf; returns its start. */
static char *fmt_i64(int64_t v, char *buf, size_t size)
{
    char *p = buf + size - 1;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    *p = 0;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u && p > buf + 1);
    if (v < 0)
        *--p = '-';
    return p;
}

static void append(char *dst, size_t cap, size_t *len, const char *s)
{
    while (*s && *len + 1 < cap)
        dst[(*len)++] = *s++;
    dst[*len] = 0;
}

/* The host broke the rules for this call: end the Keep, naming call, value and bound. */
void shim_reply_violation(const struct keep_chan_call *c, int64_t got, uint64_t bound,
                          const char *rule)
{
    char msg[160], num[24];
    size_t len = 0;
    append(msg, sizeof(msg), &len, "host result rejected: ");
    append(msg, sizeof(msg), &len, c->name);
    append(msg, sizeof(msg), &len, " returned ");
    append(msg, sizeof(msg), &len, fmt_i64(got, num, sizeof(num)));
    append(msg, sizeof(msg), &len, "; ");
    append(msg, sizeof(msg), &len, rule);
    shim_panic(msg, bound);
}

static const struct keep_chan_arg *arg_of(const struct keep_chan_call *c, int i)
{
    return &c->args[i];
}

/* Bytes a buffer argument covers, or ~0 when its length rule cannot be met. */
static uint64_t buf_size(const struct keep_chan_arg *a, const uint64_t *args)
{
    if (a->len_arg == KEEP_LEN_FIXED)
        return a->elem_size;
    uint64_t count;
    if (a->len_arg & KEEP_LEN_PTR) {
        uint64_t p = args[a->len_arg & 7];
        if (!shim_user_ok(p, 4))
            return ~0ull;
        count = *(volatile uint32_t *)p;
    } else {
        count = args[a->len_arg & 7];
    }
    count = keep_chan_count(a, count); /* the shared rule; the host refuses what it must */
    if (count > (1ull << 40) / (a->elem_size ? a->elem_size : 1))
        return ~0ull;
    return count * a->elem_size;
}

#define PATH_TOO_LONG (~0ull - 1)

/* Bytes of the path at p with its NUL; ~0 when it leaves workload memory, PATH_TOO_LONG. */
static uint64_t path_size(uint64_t p)
{
    for (uint64_t n = 0; n < KEEP_CHAN_PATH_MAX; n++) {
        if (!shim_user_ok(p + n, 1))
            return ~0ull;
        /* Each new page: mapped and readable, or EFAULT as on Linux (never a fault in the shim). */
        if ((n == 0 || (p + n) % 4096 == 0) && shim_mm_populate(p + n, 1))
            return ~0ull;
        if (*(const volatile char *)(p + n) == 0)
            return n + 1;
    }
    return PATH_TOO_LONG;
}

/* A buffer the host writes into (read's buffer, readv's iovecs): it must be writable. */
static bool host_writes(const struct keep_chan_arg *a)
{
    return a->dir == KEEP_DIR_OUT || a->dir == KEEP_DIR_INOUT;
}

/* Mapped (and writable when the host writes it), or EFAULT before anything is copied. */
static long populate_for(const struct keep_chan_arg *a, uint64_t addr, uint64_t size)
{
    return host_writes(a) ? shim_mm_populate_writable(addr, size) : shim_mm_populate(addr, size);
}

/* Direct path: every buffer the host will touch must lie in workload memory (0 or -errno). */
static int64_t check_direct_args(const struct keep_chan_call *c, const uint64_t *args)
{
    for (int i = 0; i < 6; i++) {
        const struct keep_chan_arg *a = arg_of(c, i);
        uint64_t v = args[i], size;
        if (a->kind < KEEP_ARG_BUF || (v == 0 && (a->flags & KEEP_ARGF_NULLABLE)))
            continue;
        switch (a->kind) {
        case KEEP_ARG_PATH:
            size = path_size(v);
            if (size == PATH_TOO_LONG)
                return -SHIM_ENAMETOOLONG;
            break;
        case KEEP_ARG_IOVEC:
            size = buf_size(a, args);
            if (size != ~0ull && shim_user_ok(v, size)) {
                const volatile uint64_t *iov = (const volatile uint64_t *)v;
                for (uint64_t k = 0; k < size / 16; k++) {
                    if (iov[2 * k + 1] != 0 && !shim_user_ok(iov[2 * k], iov[2 * k + 1]))
                        return -SHIM_EFAULT;
                    if (populate_for(a, iov[2 * k], iov[2 * k + 1]))
                        return -SHIM_EFAULT;
                }
            }
            break;
        case KEEP_ARG_MSGHDR:
            size = KEEP_SIZEOF_MSGHDR;
            break;
        case KEEP_ARG_IOCTL: {
            const struct keep_chan_ioctl *io = keep_chan_find_ioctl(args[1]);
            size = io ? io->size : 0;
            break;
        }
        case KEEP_ARG_FCNTL:
            size = keep_chan_fcntl_size(args[1]);
            if (size == 0)
                continue; /* a plain value, not a pointer */
            break;
        default:
            size = buf_size(a, args);
        }
        /* A zero-length buffer names no memory (Linux accepts read(fd, NULL, 0)). */
        if (size == ~0ull || (size != 0 && !shim_user_ok(v, size)))
            return -SHIM_EFAULT;
        /* The host touches these pages in place: they must be mapped and counted first. */
        /* An iovec array itself is only read; its buffers were checked above. */
        if (a->kind == KEEP_ARG_IOVEC ? shim_mm_populate(v, size) : populate_for(a, v, size))
            return -SHIM_EFAULT;
    }
    return 0;
}

static int64_t submit(const struct keep_chan_call *c, const uint64_t *args, uint32_t path)
{
    CHAN->magic = KEEP_CHAN_MAGIC;
    CHAN->version = KEEP_CHAN_VERSION;
    CHAN->item_count = 1;
    CHAN->path = path;
    CHAN->flags = 0;
    CHAN->data_offset = DATA_OFF;
    CHAN->data_size = DATA_SIZE;
    CHAN->status = 0;
    CHAN->reserved[0] = CHAN->reserved[1] = 0;
    ITEM->nr = c->nr;
    for (int i = 0; i < 6; i++)
        ITEM->args[i] = args[i];
    ITEM->result = 0;
    shim_port(KEEP_REQ_CHANNEL);
    int64_t status = CHAN->status, result = ITEM->result; /* read each once */
    if (status < 0)
        return status < -MAX_ERRNO ? -SHIM_EIO : status;
    return result;
}

static int64_t forward_direct(const struct keep_chan_call *c, const uint64_t *args)
{
    int64_t r = check_direct_args(c, args);
    if (r)
        return r;
    r = submit(c, args, KEEP_CHAN_PATH_DIRECT);
    shim_check_result(c, args, r);
    shim_check_written(c, args, r);
    return r;
}

/* ---- sendmsg / recvmsg on the bounce path -------------------------------- */

/*
 * The data area during one sendmsg/recvmsg item: the msghdr the host reads,
 * the address, one iovec, then the message bytes. The workload's iovecs are
 * gathered into (or scattered from) that one contiguous range: a message is
 * the concatenation of its iovecs (sendmsg(2), recvmsg(2)), so one iovec
 * carries the same message, and the host sees only data-area offsets.
 */
#define MSG_HDR_OFF   DATA_OFF
#define MSG_NAME_OFF  (MSG_HDR_OFF + 64)
#define MSG_IOV_OFF   (MSG_NAME_OFF + KEEP_CHAN_SOCKLEN_MAX)
#define MSG_BYTES_OFF (MSG_IOV_OFF + 64)
#define MSG_BYTES_MAX (DATA_OFF + DATA_SIZE - MSG_BYTES_OFF)

/* The workload's struct msghdr (KEEP_SIZEOF_MSGHDR layout), read once. */
struct user_msg {
    uint64_t name, iov, iovlen, control, controllen;
    uint64_t total; /* sum of the iov_len */
    uint32_t namelen;
};

static uint64_t user_u64(uint64_t addr)
{
    return *(const volatile uint64_t *)addr;
}

static uint32_t user_u32(uint64_t addr)
{
    return *(const volatile uint32_t *)addr;
}

static volatile uint8_t *chan_at(uint64_t off)
{
    return (volatile uint8_t *)(CHAN_BASE + off);
}

/* Check the iovec array m names and sum its lengths into m->total (0 or -errno). */
static int64_t check_iovecs(struct user_msg *m)
{
    /* readv(2): more than IOV_MAX iovecs is EINVAL, as the executor answers. */
    if (m->iovlen > KEEP_CHAN_IOV_MAX)
        return -SHIM_EINVAL;
    if (m->iovlen && !shim_user_ok(m->iov, m->iovlen * KEEP_SIZEOF_IOVEC))
        return -SHIM_EFAULT;
    m->total = 0;
    for (uint64_t k = 0; k < m->iovlen; k++) {
        uint64_t base = user_u64(m->iov + 16 * k), len = user_u64(m->iov + 16 * k + 8);
        /* readv(2): the sum of iov_len must fit an ssize_t. */
        if (len > (uint64_t)INT64_MAX - m->total)
            return -SHIM_EINVAL;
        m->total += len;
        if (len && !shim_user_ok(base, len))
            return -SHIM_EFAULT;
    }
    return 0;
}

/*
 * Read and check the msghdr at addr in the order and with the errno values
 * the executor uses on the direct path (host/exec_net.c, do_sendmsg and
 * do_recvmsg), so both paths answer a malformed msghdr alike.
 */
static int64_t read_user_msg(uint64_t addr, struct user_msg *m)
{
    if (!shim_user_ok(addr, KEEP_SIZEOF_MSGHDR))
        return -SHIM_EFAULT;
    m->name = user_u64(addr);
    m->namelen = user_u32(addr + 8);
    m->iov = user_u64(addr + 16);
    m->iovlen = user_u64(addr + 24);
    m->control = user_u64(addr + 32);
    m->controllen = user_u64(addr + 40);
    /* No ancillary data on either path: it could carry fds (SCM_RIGHTS) or credentials. */
    if (m->control || m->controllen)
        return -SHIM_EINVAL;
    if (m->name) {
        /* Linux (net/socket.c, __copy_msghdr): a negative int is EINVAL; beyond a
         * sockaddr_storage the length is cut to one. */
        if (m->namelen > (uint32_t)INT32_MAX)
            return -SHIM_EINVAL;
        if (m->namelen > KEEP_CHAN_SOCKLEN_MAX)
            m->namelen = KEEP_CHAN_SOCKLEN_MAX;
        if (m->namelen && !shim_user_ok(m->name, m->namelen))
            return -SHIM_EFAULT;
    }
    return check_iovecs(m);
}

/*
 * Copy bytes [skip, skip + len) of the message the iovecs describe into
 * (gather) or out of (scatter) the data area at MSG_BYTES_OFF. Each piece is
 * checked again before it is touched: a scatter may overwrite the iovec
 * array itself, and the shim must never write outside workload memory.
 */
static void iov_copy(const struct user_msg *m, uint64_t skip, uint64_t len, bool gather)
{
    uint64_t off = MSG_BYTES_OFF;
    for (uint64_t k = 0; k < m->iovlen && len; k++) {
        uint64_t base = user_u64(m->iov + 16 * k), n = user_u64(m->iov + 16 * k + 8);
        if (skip >= n) {
            skip -= n;
            continue;
        }
        base += skip;
        n -= skip;
        skip = 0;
        if (n > len)
            n = len;
        if (!shim_user_ok(base, n))
            return;
        if (gather)
            memcpy((void *)chan_at(off), (const void *)base, n);
        else
            memcpy((void *)base, (const void *)chan_at(off), n);
        off += n;
        len -= n;
    }
}

/* The msghdr the host reads: offsets into the data area (channel.h, bounce path). */
static void put_msghdr(bool has_name, uint32_t namelen, uint64_t bytes)
{
    volatile uint64_t *h = (volatile uint64_t *)chan_at(MSG_HDR_OFF);
    volatile uint64_t *iov = (volatile uint64_t *)chan_at(MSG_IOV_OFF);
    h[0] = has_name ? MSG_NAME_OFF : 0;
    h[1] = has_name ? namelen : 0; /* msg_namelen and its padding */
    h[2] = bytes ? MSG_IOV_OFF : 0;
    h[3] = bytes ? 1 : 0;
    h[4] = h[5] = h[6] = 0; /* no control data; msg_flags is ignored on input */
    iov[0] = MSG_BYTES_OFF;
    iov[1] = bytes;
}

/*
 * 1 when fd is a stream socket, 0 when it is not, or -errno. Asked only when
 * a message does not fit the data area: a stream may be split into several
 * calls, a datagram never (one call is one datagram).
 */
static int64_t is_stream_socket(uint64_t fd)
{
    const struct keep_chan_call *gs = keep_chan_find_call(KEEP_NR_getsockopt);
    *(volatile uint32_t *)chan_at(MSG_BYTES_OFF) = 0;
    *(volatile uint32_t *)chan_at(MSG_BYTES_OFF + 16) = 4;
    uint64_t a[6] = {fd, LNX_SOL_SOCKET, LNX_SO_TYPE, MSG_BYTES_OFF, MSG_BYTES_OFF + 16, 0};
    int64_t r = shim_checked_errno(gs, submit(gs, a, KEEP_CHAN_PATH_BOUNCE));
    if (r < 0)
        return r;
    if (r != 0)
        shim_reply_violation(gs, r, 0, "must return");
    return *(volatile uint32_t *)chan_at(MSG_BYTES_OFF) == LNX_SOCK_STREAM;
}

static int64_t bounce_sendmsg(const struct keep_chan_call *c, const uint64_t *args)
{
    struct user_msg m;
    int64_t r = read_user_msg(args[1], &m);
    if (r)
        return r;
    if (m.total > MSG_BYTES_MAX) {
        r = is_stream_socket(args[0]);
        if (r < 0)
            return r;
        if (r == 0)
            return -SHIM_EMSGSIZE; /* sendmsg(2): the message cannot be sent atomically */
    }
    uint64_t done = 0;
    do {
        uint64_t n = m.total - done > MSG_BYTES_MAX ? MSG_BYTES_MAX : m.total - done;
        if (m.name)
            memcpy((void *)chan_at(MSG_NAME_OFF), (const void *)m.name, m.namelen);
        iov_copy(&m, done, n, true);
        put_msghdr(m.name != 0, m.namelen, n);
        uint64_t a[6] = {args[0], MSG_HDR_OFF, args[2], args[3], args[4], args[5]};
        r = shim_checked_errno(c, submit(c, a, KEEP_CHAN_PATH_BOUNCE));
        if (r < 0)
            return done ? (int64_t)done : r;
        shim_check_sendmsg(c, n, r);
        done += (uint64_t)r;
        if ((uint64_t)r < n)
            break;
    } while (done < m.total);
    return (int64_t)done;
}

/*
 * One recvmsg item into at most MSG_BYTES_MAX bytes; scatters what arrived
 * at message offset done. Returns the host's result after checking it and
 * the msghdr fields it wrote; *namelen and *flags get those fields.
 */
static int64_t recvmsg_once(const struct keep_chan_call *c, const uint64_t *args,
                            const struct user_msg *m, uint64_t done, uint32_t *namelen,
                            uint32_t *flags)
{
    uint64_t want = m->total - done > MSG_BYTES_MAX ? MSG_BYTES_MAX : m->total - done;
    put_msghdr(m->name != 0, m->namelen, want);
    uint64_t a[6] = {args[0], MSG_HDR_OFF, args[2], args[3], args[4], args[5]};
    int64_t r = shim_checked_errno(c, submit(c, a, KEEP_CHAN_PATH_BOUNCE));
    if (r < 0)
        return r;
    /* Read each field the host wrote once, then check it. */
    *namelen = *(volatile uint32_t *)chan_at(MSG_HDR_OFF + 8);
    *flags = *(volatile uint32_t *)chan_at(MSG_HDR_OFF + 48);
    shim_check_recvmsg(c, args[2], m->name != 0, want, r, *namelen, *flags);
    iov_copy(m, done, (uint64_t)r < want ? (uint64_t)r : want, false);
    return r;
}

static int64_t bounce_recvmsg(const struct keep_chan_call *c, const uint64_t *args)
{
    struct user_msg m;
    uint32_t namelen = 0, flags = 0;
    int64_t r = read_user_msg(args[1], &m);
    if (r)
        return r;
    r = recvmsg_once(c, args, &m, 0, &namelen, &flags);
    if (r < 0)
        return r;
    if (m.name) {
        uint32_t n = namelen < m.namelen ? namelen : m.namelen;
        memcpy((void *)m.name, (const void *)chan_at(MSG_NAME_OFF), n);
    }
    uint64_t done = (uint64_t)r;
    /*
     * MSG_WAITALL on a stream promises the whole buffer: a buffer larger than
     * the data area takes several calls. A datagram is one call whatever its
     * size (what does not fit is truncated, as with a smaller buffer).
     */
    if ((args[2] & (LNX_MSG_WAITALL | LNX_MSG_PEEK)) == LNX_MSG_WAITALL && done == MSG_BYTES_MAX &&
        done < m.total && is_stream_socket(args[0]) == 1) {
        while (done < m.total) {
            uint32_t more_namelen, more_flags;
            r = recvmsg_once(c, args, &m, done, &more_namelen, &more_flags);
            if (r <= 0)
                break; /* what already arrived is the result; the error comes next call */
            done += (uint64_t)r;
            flags = more_flags;
            if ((uint64_t)r < MSG_BYTES_MAX)
                break;
        }
    }
    /* The fields recvmsg(2) updates, as the executor writes them on the direct path. */
    if (shim_user_ok(args[1], KEEP_SIZEOF_MSGHDR)) {
        if (m.name)
            *(volatile uint32_t *)(args[1] + 8) = namelen;
        *(volatile uint64_t *)(args[1] + 40) = 0;
        *(volatile uint32_t *)(args[1] + 48) = flags;
    }
    return (int64_t)done;
}

/*
 * Direct path sendmsg/recvmsg: the host reads and writes the workload's
 * msghdr in place; the shim reads it before the call (the same checks the
 * executor makes) and checks what the host reports after.
 */
static int64_t direct_msg(const struct keep_chan_call *c, const uint64_t *args)
{
    struct user_msg m;
    int64_t r = check_direct_args(c, args);
    if (r)
        return r;
    bool checked = read_user_msg(args[1], &m) == 0;
    /* The host touches the name and the iovecs' buffers in place: map them first (mm.c). */
    if (checked && m.name && shim_mm_populate(m.name, m.namelen))
        return -SHIM_EFAULT;
    for (uint64_t k = 0; checked && k < m.iovlen; k++)
        if (shim_mm_populate(user_u64(m.iov + 16 * k), user_u64(m.iov + 16 * k + 8)))
            return -SHIM_EFAULT;
    r = shim_checked_errno(c, submit(c, args, KEEP_CHAN_PATH_DIRECT));
    if (r < 0 || !checked)
        return r;
    if (c->nr == KEEP_NR_sendmsg) {
        shim_check_sendmsg(c, m.total, r);
        return r;
    }
    shim_check_recvmsg(c, args[2], m.name != 0, m.total, r, user_u32(args[1] + 8),
                       user_u32(args[1] + 48));
    return r;
}

/*
 * Bounce path: buffers travel through the channel's data area. Plain
 * buffers, paths and fixed structures are copied; a transfer larger than
 * the data area is split into several calls (read/write/pread/pwrite) where
 * that keeps its meaning (never a datagram); vectored I/O and msghdrs are
 * gathered into one contiguous range (above).
 */
static int64_t forward_bounce(const struct keep_chan_call *c, const uint64_t *in_args);

static int64_t bounce_chunked(const struct keep_chan_call *c, const uint64_t *args)
{
    uint64_t done = 0, len = args[2];
    if (len != 0 && (!shim_user_ok(args[1], len) || shim_mm_populate(args[1], len)))
        return -SHIM_EFAULT;
    /* Splitting a write is fine for files, pipes and streams; one datagram must stay one. */
    if (c->nr == KEEP_NR_write && len > DATA_SIZE && is_stream_socket(args[0]) == 0)
        return -SHIM_EMSGSIZE;
    while (done < len || len == 0) {
        uint64_t a[6] = {args[0], args[1] + done, len - done, args[3], args[4], args[5]};
        if (a[2] > DATA_SIZE)
            a[2] = DATA_SIZE;
        if (c->nr == KEEP_NR_pread64 || c->nr == KEEP_NR_pwrite64)
            a[3] = args[3] + done;
        int64_t r = forward_bounce(c, a);
        if (r < 0)
            return done ? (int64_t)done : r;
        done += (uint64_t)r;
        if ((uint64_t)r < a[2] || len == 0)
            break;
    }
    return (int64_t)done;
}

/* One read/write of the iovecs' bytes through the data area (m->total <= MSG_BYTES_MAX). */
static int64_t bounce_gathered(const struct keep_chan_call *rw, uint64_t fd,
                               const struct user_msg *m)
{
    bool is_read = rw->nr == KEEP_NR_read;
    if (!is_read)
        iov_copy(m, 0, m->total, true);
    uint64_t a[6] = {fd, MSG_BYTES_OFF, m->total, 0, 0, 0};
    int64_t r = shim_checked_errno(rw, submit(rw, a, KEEP_CHAN_PATH_BOUNCE));
    if (r < 0)
        return r;
    if ((uint64_t)r > m->total)
        shim_reply_violation(rw, r, m->total, "more than the iovecs hold:");
    if (is_read)
        iov_copy(m, 0, (uint64_t)r, false);
    return r;
}

/*
 * readv/writev: iovecs that fit the data area together travel in one
 * read/write, as Linux moves them (one datagram on a UDP socket, one atomic
 * pipe write up to PIPE_BUF). Larger ones become one call per iovec, which
 * only a stream may take: a datagram socket answers EMSGSIZE.
 */
static int64_t bounce_vectored(uint64_t nr, const uint64_t *args)
{
    const struct keep_chan_call *rw =
        keep_chan_find_call(nr == KEEP_NR_readv ? KEEP_NR_read : KEEP_NR_write);
    struct user_msg m = {.iov = args[1], .iovlen = args[2]};
    int64_t r = check_iovecs(&m);
    if (r)
        return r;
    if (m.total <= MSG_BYTES_MAX)
        return bounce_gathered(rw, args[0], &m);
    if (nr == KEEP_NR_writev && is_stream_socket(args[0]) == 0)
        return -SHIM_EMSGSIZE;
    int64_t total = 0;
    for (uint64_t k = 0; k < m.iovlen; k++) {
        uint64_t base = user_u64(m.iov + 16 * k), len = user_u64(m.iov + 16 * k + 8);
        uint64_t a[6] = {args[0], base, len, 0, 0, 0};
        r = bounce_chunked(rw, a);
        if (r < 0)
            return total ? total : r;
        total += r;
        if ((uint64_t)r < len)
            break;
    }
    return total;
}

/*
 * Data-area bytes the buffer arguments after argument i may need, so that a
 * clamped byte buffer leaves room for them: the address and its length of
 * sendto/recvfrom (16-byte aligned each).
 */
static uint64_t tail_reserve(const struct keep_chan_call *c, int i)
{
    for (int j = i + 1; j < 6; j++)
        if (arg_of(c, j)->kind >= KEEP_ARG_BUF)
            return KEEP_CHAN_SOCKLEN_MAX + 2 * 16;
    return 0;
}

/*
 * A byte buffer whose length comes from a plain argument may be shortened
 * to what the data area has left: the call then does less, which a read,
 * recv or send is allowed to (short result), and the workload retries.
 */
static void clamp_to_space(const struct keep_chan_arg *a, uint64_t *val, uint64_t space)
{
    if (a->kind == KEEP_ARG_BUF && a->elem_size == 1 && a->len_arg < 6 && val[a->len_arg] > space)
        val[a->len_arg] = space;
}

static int64_t forward_bounce(const struct keep_chan_call *c, const uint64_t *in_args)
{
    uint64_t args[6], val[6], size[6] = {0}, next = DATA_OFF;
    bool chunked = c->nr == KEEP_NR_read || c->nr == KEEP_NR_write || c->nr == KEEP_NR_pread64 ||
                   c->nr == KEEP_NR_pwrite64;
    if (chunked && in_args[2] > DATA_SIZE)
        return bounce_chunked(c, in_args);
    for (int i = 0; i < 6; i++)
        val[i] = in_args[i];
    /* A sendto larger than the data area may be cut short on a stream, never on a datagram. */
    if (c->nr == KEEP_NR_sendto && in_args[2] > DATA_SIZE - tail_reserve(c, 1) &&
        is_stream_socket(in_args[0]) == 0)
        return -SHIM_EMSGSIZE;
    for (int i = 0; i < 6; i++) {
        const struct keep_chan_arg *a = arg_of(c, i);
        if (a->kind < KEEP_ARG_BUF || (in_args[i] == 0 && (a->flags & KEEP_ARGF_NULLABLE)))
            continue;
        if (a->kind == KEEP_ARG_IOCTL) {
            const struct keep_chan_ioctl *io = keep_chan_find_ioctl(in_args[1]);
            size[i] = io ? io->size : 0;
        } else if (a->kind == KEEP_ARG_FCNTL) {
            size[i] = keep_chan_fcntl_size(in_args[1]);
            if (size[i] == 0)
                continue; /* a plain value, passed unchanged */
        } else if (a->kind == KEEP_ARG_PATH) {
            size[i] = path_size(in_args[i]);
            if (size[i] == PATH_TOO_LONG)
                return -SHIM_ENAMETOOLONG;
        } else {
            clamp_to_space(a, val, DATA_OFF + DATA_SIZE - next - tail_reserve(c, i));
            size[i] = buf_size(a, val);
        }
        if (size[i] == ~0ull || (size[i] != 0 && !shim_user_ok(in_args[i], size[i])))
            return -SHIM_EFAULT;
        if (populate_for(a, in_args[i], size[i])) /* unmapped, PROT_NONE, or read-only out */
            return -SHIM_EFAULT;
        if (size[i] > DATA_OFF + DATA_SIZE - next)
            return -SHIM_EINVAL;
        memcpy((void *)(CHAN_BASE + next), (const void *)in_args[i], size[i]);
        val[i] = next; /* the host sees the offset in the channel */
        next += (size[i] + 15) & ~15ull;
    }
    for (int i = 0; i < 6; i++)
        args[i] = val[i];
    int64_t r = submit(c, args, KEEP_CHAN_PATH_BOUNCE);
    /* Check against what was asked of the host: the workload's pointers, the clamped lengths. */
    for (int i = 0; i < 6; i++)
        if (size[i] || arg_of(c, i)->kind >= KEEP_ARG_BUF)
            val[i] = in_args[i];
    shim_check_result(c, val, r);
    if (r < 0)
        return r;
    for (int i = 0; i < 6; i++) {
        const struct keep_chan_arg *a = arg_of(c, i);
        bool out = a->dir == KEEP_DIR_OUT || a->dir == KEEP_DIR_INOUT ||
                   ((a->kind == KEEP_ARG_IOCTL || a->kind == KEEP_ARG_FCNTL) && size[i]);
        if (!size[i] || !out || a->kind == KEEP_ARG_PATH)
            continue;
        uint64_t n = size[i];
        if ((a->flags & KEEP_ARGF_RESULT_LEN) && (uint64_t)r * a->elem_size < n)
            n = (uint64_t)r * a->elem_size;
        memcpy((void *)in_args[i], (const void *)(CHAN_BASE + args[i]), n);
    }
    shim_check_written(c, in_args, r);
    return r;
}

/* The host names an unsupported call once at --log info (one item, both paths: no buffers). */
static void report_enosys(uint64_t nr)
{
    static const struct keep_chan_call log_call = {KEEP_HC_LOG_ENOSYS, "log_enosys", {{0}}};
    const uint64_t args[6] = {nr};
    if (BOOT->in.log_info)
        (void)submit(&log_call, args, (uint32_t)BOOT->in.channel_path);
}

long shim_forward(const struct shim_frame *f)
{
    static uint64_t logged[8];
    const struct keep_chan_call *c = keep_chan_find_call(f->nr);
    if (!c) {
        if (f->nr < 512 && !(logged[f->nr / 64] & (1ull << (f->nr % 64)))) {
            logged[f->nr / 64] |= 1ull << (f->nr % 64);
            report_enosys(f->nr);
        } else if (f->nr >= 512 && !(logged[7] & (1ull << 63))) {
            logged[7] |= 1ull << 63; /* one line for all the large numbers */
            report_enosys(f->nr);
        }
        return -SHIM_ENOSYS;
    }
    const uint64_t args[6] = {f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9};
    if (BOOT->in.channel_path == KEEP_CHAN_PATH_BOUNCE) {
        if (f->nr == KEEP_NR_readv || f->nr == KEEP_NR_writev)
            return bounce_vectored(f->nr, args);
        if (f->nr == KEEP_NR_sendmsg)
            return bounce_sendmsg(c, args);
        if (f->nr == KEEP_NR_recvmsg)
            return bounce_recvmsg(c, args);
        return forward_bounce(c, args);
    }
    if (f->nr == KEEP_NR_sendmsg || f->nr == KEEP_NR_recvmsg)
        return direct_msg(c, args);
    return forward_direct(c, args);
}
