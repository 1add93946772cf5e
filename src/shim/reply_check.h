/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's checks of what the host answered (docs/KEEP.md, "Result
 * rules"): pure functions of the call's description, its arguments and the
 * result, reading only the workload's own memory. Freestanding, so the same
 * file is built into the shim and, for the unit test and the fuzz target,
 * for the host (tests/unit/test_reply_check.c, tests/fuzz/fuzz_reply_check.c).
 *
 * A broken rule calls shim_reply_violation(), which never returns: the shim
 * ends the Keep (forward.c), a host test records the rule and jumps back.
 */
#ifndef KEEP_SHIM_REPLY_CHECK_H
#define KEEP_SHIM_REPLY_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/channel.h"

#define SHIM_MAX_ERRNO 4095

/* Linux values (include/linux/socket.h, include/uapi/asm-generic/fcntl.h). */
#define LNX_SOL_SOCKET      1u
#define LNX_SO_TYPE         3u
#define LNX_SOCK_STREAM     1u
#define LNX_F_DUPFD         0u
#define LNX_F_DUPFD_CLOEXEC 1030u /* include/uapi/linux/fcntl.h */
#define LNX_MSG_OOB         0x1u
#define LNX_MSG_PEEK        0x2u
#define LNX_MSG_CTRUNC      0x8u
#define LNX_MSG_TRUNC       0x20u
#define LNX_MSG_EOR         0x80u
#define LNX_MSG_WAITALL     0x100u
#define LNX_MSG_ERRQUEUE    0x2000u
/* Largest datagram payload (IPv6 UDP: 65535 - 8), the bound of a MSG_TRUNC result. */
#define SHIM_DGRAM_MAX 65527u

/* msg_flags recvmsg(2) may report: "MSG_EOR, MSG_TRUNC, MSG_CTRUNC, MSG_OOB, MSG_ERRQUEUE". */
#define SHIM_RECV_FLAGS_OUT \
    (LNX_MSG_OOB | LNX_MSG_CTRUNC | LNX_MSG_TRUNC | LNX_MSG_EOR | LNX_MSG_ERRQUEUE)

/* The host broke rule for call c: got is what it returned, bound the limit. Never returns. */
__attribute__((noreturn)) void shim_reply_violation(const struct keep_chan_call *c, int64_t got,
                                                    uint64_t bound, const char *rule);

/*
 * The result r of call c with arguments args (the workload's pointers and
 * the lengths asked of the host). On the direct path an iovec argument is
 * read in workload memory (the shim checked it lies there before the call).
 */
void shim_check_result(const struct keep_chan_call *c, const uint64_t *args, int64_t r);

/* What the host wrote into the workload's buffers, read from the workload's own copy. */
void shim_check_written(const struct keep_chan_call *c, const uint64_t *args, int64_t r);

/* The getdents64 records in [buf, buf + size) as libc walks them. */
void shim_check_dirents(const struct keep_chan_call *c, uint64_t buf, uint64_t size);

/*
 * One recvmsg result: r bytes for an iovec total of given (call_flags as
 * passed), and the msg_namelen and msg_flags the host wrote (namelen only
 * checked when the workload passed an address buffer).
 */
void shim_check_recvmsg(const struct keep_chan_call *c, uint64_t call_flags, bool has_name,
                        uint64_t given, int64_t r, uint32_t namelen, uint32_t flags);

/* sendmsg: at most the given bytes of the message (or of the part of it sent in this call). */
void shim_check_sendmsg(const struct keep_chan_call *c, uint64_t given, int64_t r);

/* An errno beyond 4095 is a violation; otherwise r is returned unchanged. */
int64_t shim_checked_errno(const struct keep_chan_call *c, int64_t r);

#endif /* KEEP_SHIM_REPLY_CHECK_H */
