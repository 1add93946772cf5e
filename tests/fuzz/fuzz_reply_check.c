/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's checks of host replies (src/shim/reply_check.c), built for the
 * host, driven with arbitrary calls, arguments, results and buffer bytes.
 * Input layout:
 *
 *   byte 0       index into keep_chan_calls[] (modulo its length)
 *   next 48      the six arguments (u64 each); buffer arguments are then
 *                pointed into the scratch memory below, and the lengths
 *                that size them are cut to fit it, as the shim's own
 *                argument checks guarantee before any reply is checked
 *   next 8       the host's result (i64)
 *   next 12      recvmsg: call flags (u32), msg_namelen (u32), msg_flags (u32)
 *   the rest     the bytes the host wrote (scratch memory, zero padded)
 *
 * The checks run in the order the shim runs them. A violation jumps back
 * (the shim would end the Keep). ASan catches a read outside the buffers,
 * and for getdents64 an accepted reply must walk as libc walks it.
 */
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "shim/reply_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SCRATCH_SIZE 65536u

static uint8_t scratch[SCRATCH_SIZE] __attribute__((aligned(16)));
static jmp_buf back;

void shim_reply_violation(const struct keep_chan_call *c, int64_t got, uint64_t bound,
                          const char *rule)
{
    (void)c, (void)got, (void)bound, (void)rule;
    longjmp(back, 1);
}

static uint64_t take_u64(const uint8_t **p, size_t *left)
{
    uint64_t v = 0;
    size_t n = *left < 8 ? *left : 8;
    memcpy(&v, *p, n);
    *p += n;
    *left -= n;
    return v;
}

static uint32_t take_u32(const uint8_t **p, size_t *left)
{
    uint32_t v = 0;
    size_t n = *left < 4 ? *left : 4;
    memcpy(&v, *p, n);
    *p += n;
    *left -= n;
    return v;
}

/*
 * What the shim's argument checks guarantee before a reply is checked: each
 * buffer argument lies in workload memory (here: scratch), with its length
 * and the u32 a length pointer names inside it too.
 */
static void confine_args(const struct keep_chan_call *c, uint64_t *args)
{
    for (int i = 0; i < 6; i++) {
        const struct keep_chan_arg *a = &c->args[i];
        if (a->kind < KEEP_ARG_BUF || (args[i] == 0 && (a->flags & KEEP_ARGF_NULLABLE)))
            continue;
        args[i] = (uint64_t)(uintptr_t)scratch;
        uint64_t elem = a->elem_size ? a->elem_size : 1;
        if (a->kind == KEEP_ARG_IOVEC) {
            /* The iovec array itself fits (at most 1024 entries of 16 bytes). */
            if (args[a->len_arg] > KEEP_CHAN_IOV_MAX)
                args[a->len_arg] = KEEP_CHAN_IOV_MAX;
        } else if (a->kind == KEEP_ARG_BUF && a->len_arg < 6) {
            args[a->len_arg] %= SCRATCH_SIZE / elem + 1;
        } else if (a->kind == KEEP_ARG_BUF && a->len_arg != KEEP_LEN_FIXED) {
            /* A length pointer: its u32 lies in scratch as well. */
            args[a->len_arg & 7] = (uint64_t)(uintptr_t)(scratch + SCRATCH_SIZE - 4);
        }
    }
}

/* A getdents64 reply the checks accepted: walk it as musl's readdir does. */
static void walk_dirents(const uint8_t *buf, uint64_t size)
{
    uint64_t off = 0;
    while (off < size) {
        uint16_t reclen;
        memcpy(&reclen, buf + off + 16, 2);
        if (reclen == 0 || strnlen((const char *)buf + off + 19, reclen - 19) >= reclen - 19u)
            __builtin_trap(); /* accepted, yet libc would loop or read past the name */
        off += reclen;
    }
    if (off != size)
        __builtin_trap();
}

struct reply {
    const struct keep_chan_call *call;
    uint64_t args[6];
    int64_t result;
    uint32_t call_flags, namelen, msg_flags;
};

/* The checks of one reply in the shim's order; 1 when they accepted it. */
static int check_reply(const struct reply *y)
{
    if (setjmp(back))
        return 0;
    shim_check_result(y->call, y->args, y->result);
    shim_check_written(y->call, y->args, y->result);
    return 1;
}

/* sendmsg/recvmsg: the message checks, with args[5] as the bytes given. */
static void check_message(const struct reply *y)
{
    if (setjmp(back))
        return;
    if (y->call->nr == KEEP_NR_recvmsg)
        shim_check_recvmsg(y->call, y->call_flags, y->namelen & 1, y->args[5], y->result,
                           y->namelen, y->msg_flags);
    if (y->call->nr == KEEP_NR_sendmsg)
        shim_check_sendmsg(y->call, y->args[5], y->result);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reply y;
    if (size < 1)
        return 0;
    y.call = &keep_chan_calls[data[0] % KEEP_CHAN_CALL_COUNT];
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    for (int i = 0; i < 6; i++)
        y.args[i] = take_u64(&p, &left);
    y.result = (int64_t)take_u64(&p, &left);
    y.call_flags = take_u32(&p, &left);
    y.namelen = take_u32(&p, &left);
    y.msg_flags = take_u32(&p, &left);
    memset(scratch, 0, sizeof(scratch));
    memcpy(scratch, p, left < SCRATCH_SIZE ? left : SCRATCH_SIZE);
    confine_args(y.call, y.args);
    if (check_reply(&y) && y.call->nr == KEEP_NR_getdents64 && y.result > 0)
        walk_dirents(scratch, (uint64_t)y.result);
    check_message(&y);
    return 0;
}
