#include "core/secret.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void pp_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void pp_str_free_wipe(char *s)
{
	if (!s)
		return;
	pp_wipe(s, strlen(s));
	free(s);
}

bool pp_ct_eq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool pp_ct_streq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t n = la > lb ? la : lb;
	unsigned char diff = (unsigned char)(la != lb);
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = i < la ? (unsigned char)a[i] : 0;
		unsigned char cb = i < lb ? (unsigned char)b[i] : 0;
		diff |= (unsigned char)(ca ^ cb);
	}
	return diff == 0;
}

int pp_random(void *out, size_t n)
{
	if (n > (size_t)INT32_MAX)
		return -PP_ETOOBIG;
	return RAND_bytes(out, (int)n) == 1 ? 0 : -PP_ECRYPTO;
}

void pp_freep(void *pp)
{
	free(*(void **)pp);
}

void pp_str_wipe_freep(char **ps)
{
	pp_str_free_wipe(*ps);
}

void *pp_secret_alloc(size_t n)
{
	if (n == 0)
		return NULL;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_DONTDUMP
	if (madvise(p, n, MADV_DONTDUMP) < 0) {
		/* Without it the secret would land in a core dump: refuse the memory. */
		munmap(p, n);
		return NULL;
	}
#endif
#ifdef MADV_WIPEONFORK
	(void)madvise(p, n, MADV_WIPEONFORK);
#endif
	(void)mlock(p, n); /* EPERM / ENOMEM past RLIMIT_MEMLOCK: still out of dumps */
	return p;
}

void pp_secret_free(void *p, size_t n)
{
	if (!p)
		return;
	pp_wipe(p, n);
	(void)munlock(p, n);
	munmap(p, n);
}
