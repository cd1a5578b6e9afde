/* Random PID / PPS generation from the OpenSSL CSPRNG (docs/protocol.md section 1).
 *
 * Speed comes from drawing RAND_bytes in large blocks: a PID + PPS pair needs about
 * 31.5 bytes, so one 16 KiB draw serves ~500 pairs. The pool sits in its own mapping so
 * the kernel can keep it out of core dumps and zero it in a child after fork(): without
 * that, parent and child would hand out the same keys from the same pool. */
#include "keys/keys.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/secret.h"

#define KG_POOL 16384

struct kg_pool {
	size_t pos; /* bytes before pos are used (and wiped) */
	size_t len; /* 0 after fork with MADV_WIPEONFORK: the child refills */
	uint8_t bytes[KG_POOL];
};

struct pp_keygen {
	struct kg_pool *p; /* mmap'd */
	bool wipe_on_fork; /* the kernel zeroes p in a child */
	pid_t owner;       /* otherwise: the process that filled p */
};

int pp_keygen_new(struct pp_keygen **out)
{
	if (!out)
		return -PP_EINVAL;
	*out = NULL;
	struct pp_keygen *g = calloc(1, sizeof(*g));
	if (!g)
		return -PP_ENOMEM;
	void *map = mmap(NULL, sizeof(struct kg_pool), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		free(g);
		return -PP_ENOMEM;
	}
	g->p = map; /* zero-filled: pos == len == 0, so the first draw fills it */
#ifdef MADV_WIPEONFORK
	g->wipe_on_fork = madvise(map, sizeof(struct kg_pool), MADV_WIPEONFORK) == 0;
#endif
#ifdef MADV_DONTDUMP
	(void)madvise(map, sizeof(struct kg_pool), MADV_DONTDUMP); /* best effort */
#endif
	g->owner = getpid();
	*out = g;
	return 0;
}

void pp_keygen_free(struct pp_keygen *g)
{
	if (!g)
		return;
	pp_wipe(g->p, sizeof(*g->p));
	munmap(g->p, sizeof(*g->p));
	free(g);
}

/* Makes sure unused pool bytes are there, and were drawn in this process. */
static int kg_ready(struct pp_keygen *g)
{
	struct kg_pool *p = g->p;
	if (!g->wipe_on_fork) {
		pid_t now = getpid();
		if (now != g->owner) {
			pp_wipe(p->bytes, sizeof(p->bytes));
			p->pos = p->len = 0;
			g->owner = now;
		}
	}
	if (p->pos < p->len)
		return 0;
	p->pos = p->len = 0;
	if (pp_random(p->bytes, sizeof(p->bytes)) < 0)
		return -PP_ECRYPTO;
	p->len = sizeof(p->bytes);
	return 0;
}

static int kg_symbols(struct pp_keygen *g, char *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		int rc = kg_ready(g);
		if (rc < 0)
			return rc;
		struct kg_pool *p = g->p;
		size_t produced;
		size_t used = pp_key_sample(p->bytes + p->pos, p->len - p->pos, out + got, n - got,
					    &produced);
		pp_wipe(p->bytes + p->pos, used);
		p->pos += used;
		got += produced;
	}
	return 0;
}

int pp_keygen_uniform(struct pp_keygen *g, unsigned n, uint8_t *out, size_t count)
{
	if (!g || n < 2 || n > 256 || (!out && count))
		return -PP_EINVAL;
	/* Accept b < limit, the largest multiple of n that fits in a byte. b % n by
	 * multiplication (Lemire, Kaser and Kurz, "Faster remainder by direct
	 * computation", 2019: exact for 32-bit operands): no division per byte, and no
	 * time that depends on the (secret) byte. */
	unsigned limit = 256 - 256 % n;
	uint64_t m = UINT64_MAX / n + 1;
	size_t got = 0;
	while (got < count) {
		int rc = kg_ready(g);
		if (rc < 0) {
			pp_wipe(out, count);
			return rc;
		}
		struct kg_pool *p = g->p;
		size_t start = p->pos;
		while (got < count && p->pos < p->len) {
			uint8_t b = p->bytes[p->pos++];
			if (b < limit)
				out[got++] = (uint8_t)(((unsigned __int128)(m * b) * n) >> 64);
		}
		pp_wipe(p->bytes + start, p->pos - start);
	}
	return 0;
}

int pp_keygen_pid(struct pp_keygen *g, struct pp_pid *out)
{
	char sym[PP_PID_FREE];
	if (!g || !out)
		return -PP_EINVAL;
	int rc = kg_symbols(g, sym, sizeof(sym));
	if (rc == 0)
		pp_pid_from_symbols(sym, out);
	return rc;
}

int pp_keygen_pps(struct pp_keygen *g, struct pp_pps *out)
{
	char sym[PP_PPS_FREE];
	if (!g || !out)
		return -PP_EINVAL;
	int rc = kg_symbols(g, sym, sizeof(sym));
	if (rc == 0)
		pp_pps_from_symbols(sym, out);
	pp_wipe(sym, sizeof(sym));
	return rc;
}

/* PIDs drawn per pp_keygen_uniform call by pp_keygen_pid_codes. */
#define CODE_BLOCK 512

/* The symbols of a PID as drawn by pp_keygen_pid, read as its code (keys.h). */
static int codes_draw(struct pp_keygen *g, uint64_t *out, size_t n)
{
	char sym[PP_PID_FREE * CODE_BLOCK];
	for (size_t i = 0; i < n; i += CODE_BLOCK) {
		size_t k = n - i < CODE_BLOCK ? n - i : CODE_BLOCK;
		int rc = kg_symbols(g, sym, k * PP_PID_FREE);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < k; j++) {
			uint64_t c = 0;
			for (size_t d = 0; d < PP_PID_FREE; d++) {
				char y = sym[j * PP_PID_FREE + d];
				c = c * PP_KEY_ALPHABET +
				    (uint64_t)(y <= '9' ? y - '0' : y - 'A' + 10);
			}
			out[i + j] = c;
		}
	}
	return 0;
}

/* LSD radix sort, a byte a pass: codes are below 2^40 (36^7 < 2^37). */
static void codes_sort(uint64_t *a, uint64_t *tmp, size_t n)
{
	uint64_t *src = a, *dst = tmp;
	for (unsigned shift = 0; shift < 40; shift += 8) {
		size_t at[257] = {0};
		for (size_t i = 0; i < n; i++)
			at[((src[i] >> shift) & 0xff) + 1]++;
		for (size_t b = 0; b < 256; b++)
			at[b + 1] += at[b];
		for (size_t i = 0; i < n; i++)
			dst[at[(src[i] >> shift) & 0xff]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
}

/* Keeps the first of each run of equal codes, in order; the count kept. */
static size_t codes_unique(uint64_t *a, size_t n)
{
	size_t kept = n ? 1 : 0;
	for (size_t i = 1; i < n; i++)
		if (a[i] != a[kept - 1])
			a[kept++] = a[i];
	return kept;
}

int pp_keygen_pid_codes(struct pp_keygen *g, uint64_t *codes, size_t n)
{
	size_t bytes;
	if (!g || (!codes && n) || n > PP_PID_CODES / 2 || !pp_mul_ok(n, sizeof(*codes), &bytes))
		return -PP_EINVAL;
	uint64_t *tmp = n ? malloc(bytes) : NULL;
	if (n && !tmp)
		return -PP_ENOMEM;
	/* Repeats are redrawn until none is left: a few in a million, so one more round. */
	int rc = 0;
	for (size_t have = 0; rc == 0 && have < n;) {
		rc = codes_draw(g, codes + have, n - have);
		if (rc == 0) {
			codes_sort(codes, tmp, n);
			have = codes_unique(codes, n);
		}
	}
	free(tmp);
	return rc;
}

/* For one key: a few bytes on the stack, refilled in the rare case they run short. */
static int oneshot_symbols(char *out, size_t n)
{
	uint8_t buf[PP_PPS_FREE + 8];
	size_t got = 0;
	int rc = 0;
	while (got < n) {
		size_t want = n - got + 8 < sizeof(buf) ? n - got + 8 : sizeof(buf);
		rc = pp_random(buf, want);
		if (rc < 0)
			break;
		size_t produced;
		(void)pp_key_sample(buf, want, out + got, n - got, &produced);
		got += produced;
	}
	pp_wipe(buf, sizeof(buf));
	return rc < 0 ? -PP_ECRYPTO : 0;
}

int pp_pid_generate(struct pp_pid *out)
{
	char sym[PP_PID_FREE];
	if (!out)
		return -PP_EINVAL;
	int rc = oneshot_symbols(sym, sizeof(sym));
	if (rc == 0)
		pp_pid_from_symbols(sym, out);
	return rc;
}

int pp_pps_generate(struct pp_pps *out)
{
	char sym[PP_PPS_FREE];
	if (!out)
		return -PP_EINVAL;
	int rc = oneshot_symbols(sym, sizeof(sym));
	if (rc == 0)
		pp_pps_from_symbols(sym, out);
	pp_wipe(sym, sizeof(sym));
	return rc;
}
