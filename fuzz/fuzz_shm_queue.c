/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_shm_queue.c - a VM's two control queues (transport/shm_queue.c)
 * with a hostile guest on the other end.
 *
 * Attacks: vcapd's consumer end of the guest->host queue (shm_queue_recv()
 * in vm_doorbell(), the first code to touch what a guest writes) and its
 * producer end of the host->guest queue (shm_queue_send() against a tail
 * index the guest owns).  The input is a script: a geometry, then
 * operations by which the guest writes head, tail and data bytes between
 * vcapd's calls (a concurrent guest, one step at a time), or behaves: an
 * honest guest end (shm_queue_send() on g2h, shm_queue_recv() on h2g)
 * shares each queue with vcapd's.  Both queues are malloc'd to their exact
 * size, so AddressSanitizer sees any access outside them.
 *
 * Asserts, beyond "no crash and nothing outside the queue":
 *   - recv returns 0, -EBADMSG (with a reason) or a length within
 *     [VCAP_MSG_MIN, min(VCAP_MSG_MAX, cap)], never writes more than that
 *     into the buffer (which ends its allocation), returns bytes that are
 *     the queue's own at a contiguous 8-aligned offset and carry that
 *     length in their header, never moves past the head it was shown, and
 *     publishes its tail; 0 means it caught up with head;
 *   - after -EBADMSG vcapd's reset (what vm.c's restart_session() does)
 *     leaves both queues empty and usable: the next recv returns 0 and
 *     messages flow again;
 *   - send refuses impossible lengths (-EINVAL), refuses to write at all
 *     when the guest's tail is impossible or leaves too little room
 *     (-EAGAIN), and otherwise writes only the bytes between its old and
 *     new head (a wrap mark and the message), never bytes the guest has
 *     not released; head is published;
 *   - while the guest has only behaved, every message arrives once, whole,
 *     in order, in both directions, and recv never reports -EBADMSG.
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "shm_queue.h"

#define OPS_MAX 512
#define FIFO_MAX 4096
/* Above this data size the byte-by-byte check of what send wrote is skipped (cost). */
#define SNAPSHOT_MAX 8192u

/* Messages one end sent and the other has not received, as (len, seq). */
struct fifo {
	uint32_t len[FIFO_MAX], seq[FIFO_MAX];
	unsigned head, n;
	bool tainted; /* the guest misbehaved: order and content are no longer promised */
};

static void fifo_push(struct fifo *f, uint32_t len, uint32_t seq)
{
	if (f->n == FIFO_MAX) {
		f->tainted = true; /* more than we track: stop promising */
		return;
	}
	f->len[(f->head + f->n) % FIFO_MAX] = len;
	f->seq[(f->head + f->n) % FIFO_MAX] = seq;
	f->n++;
}

/*
 * A message of len bytes that recv accepts: a framework header, then a
 * pattern of seq and position, written a word at a time (messages run to
 * 64 KiB, and this runs for every one sent and every one checked).
 */
FUZZ_NOTRACE static void make_msg(uint8_t *buf, uint32_t len, uint32_t seq)
{
	struct vcap_msg_hdr h = { .magic = VCAP_PROTO_MAGIC, .version = VCAP_PROTO_VERSION,
				  .app = VCAP_APP_CAPTURE, .len = len, .seq = seq };
	uint32_t i = sizeof(h);

	for (; i + 8 <= len; i += 8) {
		uint64_t w = (uint64_t)seq << 32 ^ i ^ 0x9e3779b97f4a7c15ull;

		memcpy(buf + i, &w, sizeof(w));
	}
	for (; i < len; i++)
		buf[i] = (uint8_t)(seq * 31u + i);
	memcpy(buf, &h, len < sizeof(h) ? len : sizeof(h));
}

/* The next message f expects is the len bytes at buf. */
static void fifo_expect(struct fifo *f, const uint8_t *buf, uint32_t len)
{
	static uint8_t want[VCAP_MSG_MAX];

	if (f->tainted)
		return;
	FUZZ_CHECK(f->n, "a message of %u bytes nobody sent", len);
	FUZZ_CHECK(f->len[f->head] == len, "got %u bytes, sent %u", len, f->len[f->head]);
	make_msg(want, len, f->seq[f->head]);
	FUZZ_CHECK(!memcmp(want, buf, len), "message %u arrived changed", f->seq[f->head]);
	f->head = (f->head + 1) % FIFO_MAX;
	f->n--;
}

struct queue {
	uint8_t *mem; /* header + data, exactly */
	uint32_t qsize;
	struct shm_queue host;  /* vcapd's end */
	struct shm_queue guest; /* the honest guest's end */
	struct fifo fifo;
};

static struct queue g2h, h2g;
static uint32_t seq;
static uint8_t *rx; /* vcapd's receive buffer */
static uint32_t rx_cap;
static uint8_t *guest_rx; /* the honest guest's */

static void attach(struct queue *q)
{
	FUZZ_CHECK(shm_queue_attach(&q->host, q->mem, q->qsize) == 0, "attach");
	FUZZ_CHECK(shm_queue_attach(&q->guest, q->mem, q->qsize) == 0, "attach");
	/* empty, and trusted again; not a memset: a script may reset hundreds of times */
	q->fifo.head = q->fifo.n = 0;
	q->fifo.tainted = false;
}

/* vcapd's reset of the region (vm.c reset_region()): both queues empty. */
static void host_reset(void)
{
	attach(&g2h);
	attach(&h2g);
	shm_queue_reset(&g2h.host);
	shm_queue_reset(&h2g.host);
}

/* vcapd takes the next message from g2h, as vm_doorbell() does. */
static void host_recv(void)
{
	struct shm_queue *sq = &g2h.host;
	uint32_t old = sq->pos, head = atomic_load(&sq->q->head);
	char why[160];
	ssize_t n;

	why[0] = '\0';
	n = shm_queue_recv(sq, rx, rx_cap, why, sizeof(why));
	if (n == -EBADMSG) {
		FUZZ_CHECK(why[0], "-EBADMSG without a reason");
		FUZZ_CHECK(g2h.fifo.tainted, "an honest guest's queue refused: %s", why);
		host_reset();
		FUZZ_CHECK(shm_queue_recv(sq, rx, rx_cap, why, sizeof(why)) == 0,
			   "not empty after a reset");
		return;
	}
	FUZZ_CHECK(n == 0 || (n >= VCAP_MSG_MIN && n <= VCAP_MSG_MAX && (size_t)n <= rx_cap),
		   "recv returned %zd (cap %u)", n, rx_cap);
	FUZZ_CHECK(!((sq->pos - old) & 7), "tail %u moved to %u: not 8-aligned", old, sq->pos);
	FUZZ_CHECK(sq->pos - old <= head - old, "tail %u moved to %u, past head %u", old, sq->pos,
		   head);
	FUZZ_CHECK(atomic_load(&sq->q->tail) == sq->pos || sq->pos == old,
		   "tail not published");
	if (n == 0) {
		FUZZ_CHECK(sq->pos == head, "0 returned with %u bytes left", head - sq->pos);
		FUZZ_CHECK(!g2h.fifo.n || g2h.fifo.tainted, "%u messages lost", g2h.fifo.n);
		return;
	} else {
		uint32_t need = ((uint32_t)n + 7) & ~7u, off = (sq->pos - need) & sq->mask;
		struct vcap_msg_hdr h;

		FUZZ_CHECK(off + need <= sq->size, "the message wraps");
		FUZZ_CHECK(!memcmp(rx, sq->data + off, (size_t)n), "not the queue's bytes");
		memcpy(&h, rx, sizeof(h));
		FUZZ_CHECK(h.len == n && h.magic != 0, "header says %u, magic %x", h.len, h.magic);
		fifo_expect(&g2h.fifo, rx, (uint32_t)n);
	}
}

/* vcapd replies into h2g, as vm_send() does, against the guest's tail. */
static void host_send(struct fuzz_in *in)
{
	static uint8_t msg[VCAP_MSG_MIN + 65535], before[SNAPSHOT_MAX]; /* the longest len below */
	struct shm_queue *sq = &h2g.host;
	uint16_t raw = fuzz_u16(in);
	uint32_t len = raw & 1 ? raw : VCAP_MSG_MIN + raw % (sq->size / 2);
	uint32_t old = sq->pos, tail = atomic_load(&sq->q->tail);
	uint32_t need, head0 = atomic_load(&sq->q->head);
	bool snap = sq->size <= SNAPSHOT_MAX, bad_len, impossible;
	int rc;

	need = (len + 7) & ~7u;
	bad_len = len < 8 || len > VCAP_MSG_MAX || need > sq->size / 2;
	impossible = old - tail > sq->size;
	make_msg(msg, len, ++seq);
	if (snap)
		memcpy(before, sq->data, sq->size);
	rc = shm_queue_send(sq, msg, len);
	FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EINVAL, "send returned %d", rc);
	FUZZ_CHECK((rc == -EINVAL) == bad_len, "len %u: send returned %d", len, rc);
	if (impossible)
		FUZZ_CHECK(rc != 0, "wrote although the tail %u is impossible (head %u)", tail, old);
	if (rc) {
		FUZZ_CHECK(sq->pos == old && atomic_load(&sq->q->head) == head0,
			   "moved head while refusing");
		if (snap)
			FUZZ_CHECK(!memcmp(before, sq->data, sq->size), "wrote while refusing");
		return;
	}
	FUZZ_CHECK(atomic_load(&sq->q->head) == sq->pos, "head not published");
	FUZZ_CHECK(sq->pos - old >= need && sq->pos - old <= sq->size - (old - tail),
		   "took %u bytes, %u were free", sq->pos - old, sq->size - (old - tail));
	{
		uint32_t off = (sq->pos - need) & sq->mask;

		FUZZ_CHECK(off + need <= sq->size && !memcmp(sq->data + off, msg, len),
			   "the message is not where head says");
	}
	if (snap) {
		/*
		 * Only the bytes between the old and the new head may change:
		 * from the new head round to the old one nothing did (two
		 * pieces when it wraps).
		 */
		uint32_t from = sq->pos & sq->mask, keep = sq->size - (sq->pos - old);
		uint32_t first = keep < sq->size - from ? keep : sq->size - from;

		FUZZ_CHECK(!memcmp(before + from, sq->data + from, first) &&
				   !memcmp(before, sq->data, keep - first),
			   "bytes outside [%u, %u) changed", old, sq->pos);
	}
	fifo_push(&h2g.fifo, len, seq);
	/* vcapd sends only whole messages; a shorter one breaks the guest's framing */
	if (len < VCAP_MSG_MIN)
		h2g.fifo.tainted = true;
}

/* The honest guest sends a request into g2h. */
static void guest_send(struct fuzz_in *in)
{
	static uint8_t msg[VCAP_MSG_MAX];
	struct shm_queue *sq = &g2h.guest;
	uint32_t len = VCAP_MSG_MIN + fuzz_u16(in) % (sq->size / 2);
	int rc;

	/* what vcapd could take: it receives into VCAP_MSG_MAX (here rx_cap) bytes */
	if (len > rx_cap || ((len + 7) & ~7u) > sq->size / 2)
		return;
	make_msg(msg, len, ++seq);
	rc = shm_queue_send(sq, msg, len);
	FUZZ_CHECK(rc == 0 || rc == -EAGAIN, "guest send: %d", rc);
	if (!rc)
		fifo_push(&g2h.fifo, len, seq);
}

/* The honest guest takes a reply from h2g. */
static void guest_recv(void)
{
	char why[160];
	ssize_t n = shm_queue_recv(&h2g.guest, guest_rx, VCAP_MSG_MAX, why, sizeof(why));

	if (n < 0) {
		FUZZ_CHECK(n == -EBADMSG && h2g.fifo.tainted, "vcapd broke the framing: %s", why);
		return;
	}
	if (n == 0) {
		FUZZ_CHECK(!h2g.fifo.n || h2g.fifo.tainted, "%u replies lost", h2g.fifo.n);
		return;
	}
	fifo_expect(&h2g.fifo, guest_rx, (uint32_t)n);
}

/* The guest writes len bytes of the script at off into q's data area. */
static void scribble(struct queue *q, struct fuzz_in *in)
{
	uint32_t off = fuzz_u32(in) & q->host.mask, len = fuzz_u8(in);

	if (len > q->host.size - off)
		len = q->host.size - off;
	fuzz_bytes(in, q->host.data + off, len);
	q->fifo.tainted = true;
}

/* The guest writes a frame header: a wrap mark, or a length that may lie. */
static void frame(struct queue *q, struct fuzz_in *in)
{
	uint32_t off = (q->guest.pos + (uint32_t)fuzz_u8(in) * 8) & q->host.mask;
	uint32_t room = q->host.size - off;
	struct vcap_msg_hdr h = { 0 };

	h.magic = fuzz_u8(in) & 1 ? 0 : VCAP_PROTO_MAGIC;
	h.len = fuzz_u32(in);
	memcpy(q->host.data + off, &h, room < sizeof(h) ? room : sizeof(h));
	q->fifo.tainted = true;
}

/* An index written by the guest: anything, or near where it should be. */
static uint32_t index_near(struct fuzz_in *in, uint32_t pos)
{
	uint8_t how = fuzz_u8(in);

	if (how & 1)
		return fuzz_u32(in);
	return pos + (uint32_t)(int32_t)(int16_t)fuzz_u16(in) * (how & 2 ? 8 : 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint32_t data_size = 1u << (6 + fuzz_u8(&in) % 12); /* 64 B .. 128 KiB (vcapd's) */
	uint32_t probe = fuzz_u32(&in), probe_data = probe - VCAP_SHM_QUEUE_HDR;
	static _Alignas(64) uint8_t probe_mem[VCAP_SHM_QUEUE_HDR];
	struct shm_queue sq;
	int rc;

	/* attach checks geometry only, touching no memory: any size may be tried */
	rc = shm_queue_attach(&sq, probe_mem, probe);
	FUZZ_CHECK((rc == 0) == (probe > VCAP_SHM_QUEUE_HDR && !(probe_data & (probe_data - 1)) &&
				 probe_data >= 16),
		   "attach(%u) returned %d", probe, rc);

	rx_cap = fuzz_u16(&in);
	if (!rx_cap)
		rx_cap = VCAP_MSG_MAX; /* vcapd's rx_buf */
	g2h.qsize = h2g.qsize = VCAP_SHM_QUEUE_HDR + data_size;
	g2h.mem = calloc(1, g2h.qsize);
	h2g.mem = calloc(1, h2g.qsize);
	rx = malloc(rx_cap);
	guest_rx = malloc(VCAP_MSG_MAX);
	FUZZ_CHECK(g2h.mem && h2g.mem && rx && guest_rx, "malloc");
	seq = 0;
	host_reset();

	for (int ops = 0; ops < OPS_MAX && !fuzz_done(&in); ops++) {
		switch (fuzz_u8(&in) % 12) {
		case 0: /* the guest moves g2h's head anywhere */
			atomic_store(&g2h.host.q->head, index_near(&in, g2h.guest.pos));
			g2h.fifo.tainted = true;
			break;
		case 1:
			scribble(&g2h, &in);
			break;
		case 2:
			frame(&g2h, &in);
			break;
		case 3: /* vcapd never reads g2h's tail, but the honest guest end does */
			atomic_store(&g2h.host.q->tail, index_near(&in, g2h.host.pos));
			g2h.fifo.tainted = true;
			break;
		case 4:
		case 5:
			guest_send(&in);
			break;
		case 6:
		case 7:
			host_recv();
			break;
		case 8:
			host_send(&in);
			break;
		case 9: /* the guest lies about what it has read of h2g */
			atomic_store(&h2g.host.q->tail, index_near(&in, h2g.guest.pos));
			h2g.fifo.tainted = true;
			break;
		case 10:
			guest_recv();
			break;
		case 11:
			if (fuzz_u8(&in) & 1)
				scribble(&h2g, &in);
			else
				host_reset();
			break;
		}
	}
	/* drain: an honest guest's requests all arrive (each recv takes one, or fails) */
	for (int i = 0; i <= FIFO_MAX && !g2h.fifo.tainted && g2h.fifo.n; i++)
		host_recv();
	FUZZ_CHECK(g2h.fifo.tainted || !g2h.fifo.n, "%u requests never arrived", g2h.fifo.n);

	free(guest_rx);
	free(rx);
	free(h2g.mem);
	free(g2h.mem);
	return 0;
}
