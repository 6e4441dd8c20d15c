/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cbpf_xdp.c - classic BPF into an XDP program (cbpf_xdp.h).
 *
 * Registers: r6 the XDP context, r9 the packet's start, r5 its end, w7 A,
 * w8 X (32-bit operations throughout, as in classic BPF), r2 an indexed
 * load's pointer, r3 for bounds checks.  Scratch word M[k] lives at r10 - 64 + 4k.  No helper is
 * called inside a filter except for the packet's length, after which the
 * end is loaded again.
 *
 * Each classic instruction becomes a few eBPF ones; jumps are resolved in
 * a second pass, since a classic jump counts classic instructions.  Classic
 * jumps only go forward, so the program has no loop and the verifier sees
 * every path once.
 */
#include "cbpf_xdp.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xdp_abi.h"

/* Offsets an unsigned packet offset may reach: a linear XDP frame is at most a page or so. */
#define PKT_OFF_MAX 0x3fff
#define MEM_WORDS 16 /* BPF_MEMWORDS */
#define STATS_KEY (-72)

enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };
#define RA R7
#define RX R8
#define RDATA R9
#define REND R5
#define RCTX R6

/* Jump targets that are not classic instructions. */
#define T_REJECT (-1) /* this program said no: the next one */
#define T_ACCEPT (-2) /* this program said yes: take it */

struct emit {
	struct bpf_insn *out;
	unsigned n, cap;
	bool full;
	/* this program's jumps: eBPF index -> classic target (or T_*) */
	struct fix {
		unsigned at;
		int target;
	} *fix;
	unsigned n_fix, cap_fix;
};

static void put(struct emit *e, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	if (e->n >= e->cap) {
		e->full = true;
		return;
	}
	e->out[e->n++] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src,
					    .off = off, .imm = imm };
}

/* A jump (code: BPF_JMP or BPF_JMP32 | op | src) to target, resolved later. */
static void jump(struct emit *e, uint8_t code, uint8_t dst, uint8_t src, int32_t imm, int target)
{
	if (e->n_fix == e->cap_fix) {
		unsigned c = e->cap_fix ? 2 * e->cap_fix : 256;
		struct fix *f = realloc(e->fix, c * sizeof(*f));

		if (!f) {
			e->full = true;
			return;
		}
		e->fix = f;
		e->cap_fix = c;
	}
	e->fix[e->n_fix++] = (struct fix){ .at = e->n, .target = target };
	put(e, code, dst, src, 0, imm);
}

static void ld_map_fd(struct emit *e, uint8_t dst, int fd)
{
	put(e, BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd);
	put(e, 0, 0, 0, 0, 0);
}

static int16_t mem_off(uint32_t k)
{
	return (int16_t)(-4 * MEM_WORDS + 4 * (int)k);
}

/*
 * dst = the packet's size bytes at base + k (network order), or reject.
 * base is r9 (the packet's start) or r2, a pointer into the packet whose
 * offset the verifier knows to be bounded.
 */
static void load_at(struct emit *e, uint8_t dst, uint8_t base, uint32_t k, unsigned size)
{
	uint8_t sz = size == 4 ? BPF_W : size == 2 ? BPF_H : BPF_B;

	if (k > PKT_OFF_MAX) { /* past any frame XDP holds: out of bounds */
		jump(e, BPF_JMP | BPF_JA, 0, 0, 0, T_REJECT);
		return;
	}
	put(e, BPF_ALU64 | BPF_MOV | BPF_X, R3, base, 0, 0);
	put(e, BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, (int32_t)(k + size));
	jump(e, BPF_JMP | BPF_JGT | BPF_X, R3, REND, 0, T_REJECT);
	put(e, BPF_LDX | BPF_MEM | sz, dst, base, (int16_t)k, 0);
	if (size > 1)
		put(e, BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, (int32_t)(size * 8));
}

/* A = the packet's size bytes at X + k, or reject. */
static void load_ind(struct emit *e, uint32_t k, unsigned size)
{
	/* a bounded offset first, so that the verifier can follow the pointer */
	put(e, BPF_ALU64 | BPF_MOV | BPF_X, R2, RX, 0, 0);
	jump(e, BPF_JMP | BPF_JGT | BPF_K, R2, 0, PKT_OFF_MAX, T_REJECT);
	put(e, BPF_ALU64 | BPF_ADD | BPF_X, R2, RDATA, 0, 0);
	load_at(e, RA, R2, k, size);
}

/* dst = the packet's length; the helper call clobbers r1-r5, so reload the end. */
static void load_len(struct emit *e, uint8_t dst)
{
	put(e, BPF_ALU64 | BPF_MOV | BPF_X, R1, RCTX, 0, 0);
	put(e, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_xdp_get_buff_len);
	put(e, BPF_ALU | BPF_MOV | BPF_X, dst, R0, 0, 0);
	put(e, BPF_LDX | BPF_MEM | BPF_W, REND, RCTX, offsetof(struct xdp_md, data_end), 0);
}

static int fail(char *err, size_t err_len, int rc, const char *what, unsigned i, uint16_t code)
{
	snprintf(err, err_len, "classic BPF instruction %u (code 0x%x): %s", i, code, what);
	return rc;
}

/* One classic program; its T_REJECT and T_ACCEPT resolve to reject_at and accept_at. */
static int translate(struct emit *e, const struct sock_filter *p, unsigned len, char *err,
		     size_t err_len)
{
	unsigned *start = calloc(len + 1, sizeof(*start));
	uint8_t *reach = calloc(len + 1, 1);

	if (!start || !reach) {
		free(start);
		free(reach);
		return -ENOMEM;
	}
	/*
	 * The verifier refuses code nothing jumps to, and libpcap may leave
	 * some: only what is reachable from the first instruction is emitted.
	 */
	reach[0] = 1;
	for (unsigned i = 0; i < len; i++) {
		uint16_t c = p[i].code;

		if (!reach[i] || BPF_CLASS(c) == BPF_RET)
			continue;
		if (BPF_CLASS(c) != BPF_JMP) {
			reach[i + 1] = 1;
		} else if (BPF_OP(c) == BPF_JA) {
			if ((uint64_t)i + 1 + p[i].k <= len)
				reach[i + 1 + p[i].k] = 1;
		} else {
			if (i + 1 + p[i].jt <= len)
				reach[i + 1 + p[i].jt] = 1;
			if (i + 1 + p[i].jf <= len)
				reach[i + 1 + p[i].jf] = 1;
		}
	}
	if (reach[len]) {
		free(start);
		free(reach);
		return fail(err, err_len, -EINVAL, "the program runs off its end", len, 0);
	}
	e->n_fix = 0;
	put(e, BPF_ALU | BPF_MOV | BPF_K, RA, 0, 0, 0);
	put(e, BPF_ALU | BPF_MOV | BPF_K, RX, 0, 0, 0);
	for (unsigned i = 0; i < len; i++) {
		const struct sock_filter *f = &p[i];
		uint16_t c = f->code;
		unsigned size = BPF_SIZE(c) == BPF_W ? 4 : BPF_SIZE(c) == BPF_H ? 2 : 1;
		int rc = 0;

		start[i] = e->n;
		if (!reach[i])
			continue;
		switch (BPF_CLASS(c)) {
		case BPF_LD:
		case BPF_LDX: {
			uint8_t dst = BPF_CLASS(c) == BPF_LD ? RA : RX;

			switch (BPF_MODE(c)) {
			case BPF_IMM:
				put(e, BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, (int32_t)f->k);
				break;
			case BPF_MEM:
				if (f->k >= MEM_WORDS)
					rc = fail(err, err_len, -EINVAL, "scratch word out of range", i, c);
				else
					put(e, BPF_LDX | BPF_MEM | BPF_W, dst, R10, mem_off(f->k), 0);
				break;
			case BPF_LEN:
				load_len(e, dst);
				break;
			case BPF_ABS:
				if (dst != RA || BPF_SIZE(c) == BPF_DW)
					rc = fail(err, err_len, -EINVAL, "not a load", i, c);
				else if (f->k >= (uint32_t)SKF_AD_OFF)
					rc = fail(err, err_len, -EOPNOTSUPP,
						  "an ancillary load (SKF_AD_*) XDP has no counterpart for",
						  i, c);
				else
					load_at(e, RA, RDATA, f->k, size);
				break;
			case BPF_IND:
				if (dst != RA || BPF_SIZE(c) == BPF_DW)
					rc = fail(err, err_len, -EINVAL, "not a load", i, c);
				else
					load_ind(e, f->k, size);
				break;
			case BPF_MSH:
				if (dst != RX || BPF_SIZE(c) != BPF_B) {
					rc = fail(err, err_len, -EINVAL, "not a load", i, c);
					break;
				}
				load_at(e, RX, RDATA, f->k, 1);
				put(e, BPF_ALU | BPF_AND | BPF_K, RX, 0, 0, 0xf);
				put(e, BPF_ALU | BPF_LSH | BPF_K, RX, 0, 0, 2);
				break;
			default:
				rc = fail(err, err_len, -EINVAL, "unknown load mode", i, c);
			}
			break;
		}
		case BPF_ST:
		case BPF_STX:
			if (f->k >= MEM_WORDS)
				rc = fail(err, err_len, -EINVAL, "scratch word out of range", i, c);
			else
				put(e, BPF_STX | BPF_MEM | BPF_W, R10,
				    BPF_CLASS(c) == BPF_ST ? RA : RX, mem_off(f->k), 0);
			break;
		case BPF_ALU: {
			uint8_t op = BPF_OP(c);

			if (op == BPF_NEG) {
				put(e, BPF_ALU | BPF_NEG, RA, 0, 0, 0);
				break;
			}
			if (op != BPF_ADD && op != BPF_SUB && op != BPF_MUL && op != BPF_DIV &&
			    op != BPF_OR && op != BPF_AND && op != BPF_LSH && op != BPF_RSH &&
			    op != BPF_MOD && op != BPF_XOR) {
				rc = fail(err, err_len, -EINVAL, "unknown ALU operation", i, c);
				break;
			}
			if (BPF_SRC(c) == BPF_K) {
				if ((op == BPF_DIV || op == BPF_MOD) && f->k == 0)
					rc = fail(err, err_len, -EINVAL, "division by zero", i, c);
				else if ((op == BPF_LSH || op == BPF_RSH) && f->k >= 32)
					rc = fail(err, err_len, -EOPNOTSUPP, "a shift of 32 or more", i,
						  c);
				else
					put(e, BPF_ALU | op | BPF_K, RA, 0, 0, (int32_t)f->k);
				break;
			}
			/* classic BPF ends the program, rejecting, on a division by X = 0 */
			if (op == BPF_DIV || op == BPF_MOD)
				jump(e, BPF_JMP32 | BPF_JEQ | BPF_K, RX, 0, 0, T_REJECT);
			put(e, BPF_ALU | op | BPF_X, RA, RX, 0, 0);
			break;
		}
		case BPF_JMP: {
			uint8_t op = BPF_OP(c);
			unsigned t = i + 1 + f->jt, fl = i + 1 + f->jf;

			if (op == BPF_JA) {
				if ((uint64_t)i + 1 + f->k >= len)
					rc = fail(err, err_len, -EINVAL, "a jump past the end", i, c);
				else
					jump(e, BPF_JMP | BPF_JA, 0, 0, 0, (int)(i + 1 + f->k));
				break;
			}
			if (op != BPF_JEQ && op != BPF_JGT && op != BPF_JGE && op != BPF_JSET) {
				rc = fail(err, err_len, -EINVAL, "unknown jump", i, c);
				break;
			}
			if (t >= len || fl >= len) {
				rc = fail(err, err_len, -EINVAL, "a jump past the end", i, c);
				break;
			}
			if (BPF_SRC(c) == BPF_K)
				jump(e, BPF_JMP32 | op | BPF_K, RA, 0, (int32_t)f->k, (int)t);
			else
				jump(e, BPF_JMP32 | op | BPF_X, RA, RX, 0, (int)t);
			jump(e, BPF_JMP | BPF_JA, 0, 0, 0, (int)fl);
			break;
		}
		case BPF_RET:
			if (BPF_RVAL(c) == BPF_K) {
				jump(e, BPF_JMP | BPF_JA, 0, 0, 0, f->k ? T_ACCEPT : T_REJECT);
			} else if (BPF_RVAL(c) == BPF_A) {
				jump(e, BPF_JMP32 | BPF_JNE | BPF_K, RA, 0, 0, T_ACCEPT);
				jump(e, BPF_JMP | BPF_JA, 0, 0, 0, T_REJECT);
			} else {
				rc = fail(err, err_len, -EINVAL, "unknown return", i, c);
			}
			break;
		case BPF_MISC:
			if (BPF_MISCOP(c) == BPF_TAX)
				put(e, BPF_ALU | BPF_MOV | BPF_X, RX, RA, 0, 0);
			else if (BPF_MISCOP(c) == BPF_TXA)
				put(e, BPF_ALU | BPF_MOV | BPF_X, RA, RX, 0, 0);
			else
				rc = fail(err, err_len, -EINVAL, "unknown misc operation", i, c);
			break;
		default:
			rc = fail(err, err_len, -EINVAL, "unknown class", i, c);
		}
		if (rc) {
			free(start);
			free(reach);
			return rc;
		}
	}
	start[len] = e->n;
	free(reach);
	/* the classic targets are known now; T_* are left for build() */
	for (unsigned k = 0; k < e->n_fix && !e->full; k++) {
		struct fix *fx = &e->fix[k];

		if (fx->target >= 0)
			e->out[fx->at].off = (int16_t)((int)start[fx->target] - (int)fx->at - 1);
	}
	free(start);
	return 0;
}

int cbpf_xdp_build(const struct cbpf_prog *progs, unsigned n, int xsks_fd, int stats_fd,
		   bool pass, struct bpf_insn *out, unsigned cap, char *err, size_t err_len)
{
	struct emit e = { .out = out, .cap = cap < 32767 ? cap : 32767 };
	/* each program's accept jumps, to point at the taking code once it is there */
	unsigned *accepts = NULL, n_acc = 0, cap_acc = 0;
	int rc = 0;

	put(&e, BPF_ALU64 | BPF_MOV | BPF_X, RCTX, R1, 0, 0);
	put(&e, BPF_LDX | BPF_MEM | BPF_W, RDATA, RCTX, offsetof(struct xdp_md, data), 0);
	put(&e, BPF_LDX | BPF_MEM | BPF_W, REND, RCTX, offsetof(struct xdp_md, data_end), 0);
	/* scratch words start at 0, as the kernel's do */
	for (int k = 0; k < MEM_WORDS / 2; k++)
		put(&e, BPF_ST | BPF_MEM | BPF_DW, R10, 0, (int16_t)(-8 * (k + 1)), 0);
	for (unsigned i = 0; i < n && !rc; i++) {
		bool rejects = false;

		rc = translate(&e, progs[i].insns, progs[i].len, err, err_len);
		if (rc)
			break;
		for (unsigned k = 0; k < e.n_fix; k++)
			rejects |= e.fix[k].target == T_REJECT;
		if (!rejects) {
			/* it takes everything, so the union does: no program is needed */
			free(accepts);
			free(e.fix);
			return 0;
		}
		/* reject: on to the next program, which starts here */
		for (unsigned k = 0; k < e.n_fix && !e.full; k++) {
			struct fix *fx = &e.fix[k];

			if (fx->target == T_REJECT) {
				e.out[fx->at].off = (int16_t)((int)e.n - (int)fx->at - 1);
			} else if (fx->target == T_ACCEPT) {
				if (n_acc == cap_acc) {
					unsigned c = cap_acc ? 2 * cap_acc : 64;
					unsigned *a = realloc(accepts, c * sizeof(*a));

					if (!a) {
						rc = -ENOMEM;
						break;
					}
					accepts = a;
					cap_acc = c;
				}
				accepts[n_acc++] = fx->at;
			}
		}
	}
	if (!rc) {
		/* nobody's: count it in this CPU's slot, then drop or pass it */
		put(&e, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_smp_processor_id);
		put(&e, BPF_STX | BPF_MEM | BPF_W, R10, R0, STATS_KEY, 0);
		ld_map_fd(&e, R1, stats_fd);
		put(&e, BPF_ALU64 | BPF_MOV | BPF_X, R2, R10, 0, 0);
		put(&e, BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, STATS_KEY);
		put(&e, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
		put(&e, BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 3, 0);
		put(&e, BPF_LDX | BPF_MEM | BPF_DW, R1, R0,
		    offsetof(struct vcap_xdp_cpu_stats, unwanted), 0);
		put(&e, BPF_ALU64 | BPF_ADD | BPF_K, R1, 0, 0, 1);
		put(&e, BPF_STX | BPF_MEM | BPF_DW, R0, R1,
		    offsetof(struct vcap_xdp_cpu_stats, unwanted), 0);
		put(&e, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, pass ? XDP_PASS : XDP_DROP);
		put(&e, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		/* somebody's: to the socket of its queue (none there: the stack) */
		for (unsigned k = 0; k < n_acc; k++)
			e.out[accepts[k]].off = (int16_t)((int)e.n - (int)accepts[k] - 1);
	}
	if (!rc && n_acc) { /* else nothing jumps here, and the verifier refuses dead code */
		ld_map_fd(&e, R1, xsks_fd);
		put(&e, BPF_LDX | BPF_MEM | BPF_W, R2, RCTX, offsetof(struct xdp_md, rx_queue_index),
		    0);
		put(&e, BPF_ALU64 | BPF_MOV | BPF_K, R3, 0, 0, XDP_PASS);
		put(&e, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map);
		put(&e, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	free(accepts);
	free(e.fix);
	if (!rc && e.full) {
		snprintf(err, err_len, "more than %u eBPF instructions", e.cap);
		rc = -E2BIG;
	}
	return rc ? rc : (int)e.n;
}
