/* pp_keys_generate: a batch of keys made and sealed on a thread of its own, one chunk
 * ahead of the inserts, and stored in one transaction in PID order. */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/secret.h"
#include "keys/csv.h"
#include "keys/keys.h"
#include "usecase/keys.h"
#include "usecase/keys_impl.h"

#define GEN_CHUNK 8192u
#define PID_RETRIES 16

/* A key made before it is stored: the plaintext (for a retry under another PID), then
 * its sealed row. The plaintext is wiped after each chunk (gen_wipe_plain). */
struct gen_key {
	struct pp_pid pid;
	struct pp_pps pps;
	char mebx[PP_MEBX_PW_MAX + 1];
	struct pp_key_bulk_row row; /* last: no plaintext */
};

/* Two buffers handed between the generator thread and the inserting one under a
 * mutex. The generator draws every PID of the batch first, sorted (the inserts then
 * walk the PID index in order, as a sorted bulk load does), then fills chunks in that
 * order: PPS, MEBx password, both sealed (pp_key_bulk_seal); the inserting thread only
 * inserts rows. */
struct gen_pipe {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gen_key *buf[2];
	uint32_t len[2];
	bool full[2];
	bool stop, running;
	int rc;
	struct pp_err err; /* the generator's failure, when rc < 0 */
	uint64_t *codes;   /* the batch's PIDs (keys.h pp_keygen_pid_codes) */
	/* inputs */
	struct pp_keygen *gen;
	struct pp_key_bulk *bulk;
	struct pp_store *s;
	int64_t batch_id;
	const struct pp_keys_generate_opts *o;
	const uint8_t *secret; /* derived: PP_BATCH_SECRET_LEN bytes */
};

static struct pp_key_new gen_key_new(const struct gen_pipe *gp, const struct gen_key *g)
{
	const struct pp_keys_generate_opts *o = gp->o;
	return (struct pp_key_new){.pid = g->pid.s,
				   .pps = o->derived ? NULL : g->pps.s,
				   .mebx_password = g->mebx,
				   .batch_id = gp->batch_id,
				   .max_devices = o->shared ? o->shared : 1,
				   .state = PP_KEY_AVAILABLE};
}

/* On the generator thread: key g with the PID of code, sealed. */
static int gen_one(struct gen_pipe *gp, struct gen_key *g, uint64_t code)
{
	const struct pp_keys_generate_opts *o = gp->o;
	int rc = 0;
	if (o->mebx_password)
		snprintf(g->mebx, sizeof(g->mebx), "%s", o->mebx_password);
	else
		rc = pp_keygen_password(gp->gen, o->mebx_length, g->mebx);
	pp_pid_from_code(code, &g->pid);
	if (rc == 0)
		rc = o->derived ? pp_pps_derive(gp->secret, PP_BATCH_SECRET_LEN, &g->pid, &g->pps)
				: pp_keygen_pps(gp->gen, &g->pps);
	if (rc < 0)
		return pp_err_set(&gp->err, PP_ECRYPTO, "cannot generate keys");
	struct pp_key_new k = gen_key_new(gp, g);
	return pp_key_bulk_seal(gp->bulk, &k, &g->row, &gp->err);
}

/* Waits until buffer b is free; false when told to stop. */
static bool gen_wait_free(struct gen_pipe *gp, int b)
{
	pthread_mutex_lock(&gp->mu);
	while (gp->full[b] && !gp->stop)
		pthread_cond_wait(&gp->cv, &gp->mu);
	bool go = !gp->stop;
	pthread_mutex_unlock(&gp->mu);
	return go;
}

static void gen_publish(struct gen_pipe *gp, int b, uint32_t n, int rc)
{
	pthread_mutex_lock(&gp->mu);
	gp->rc = rc;
	gp->len[b] = n;
	gp->full[b] = true;
	pthread_cond_broadcast(&gp->cv);
	pthread_mutex_unlock(&gp->mu);
}

/* The plaintext of the keys the inserting thread gave back, wiped here, off its path;
 * their rows hold sealed blobs only. */
static void gen_wipe_plain(struct gen_key *keys, uint32_t n)
{
	for (uint32_t j = 0; j < n; j++)
		pp_wipe(&keys[j], offsetof(struct gen_key, row));
}

static void *gen_thread(void *arg)
{
	struct gen_pipe *gp = arg;
	uint32_t made = 0, count = gp->o->count;
	if (pp_keygen_pid_codes(gp->gen, gp->codes, count) < 0) {
		pp_err_set(&gp->err, PP_ECRYPTO, "cannot draw the PIDs");
		gen_publish(gp, 0, 0, -PP_ECRYPTO);
		return NULL;
	}
	for (int b = 0; made < count && gen_wait_free(gp, b); b ^= 1) {
		uint32_t n = count - made < GEN_CHUNK ? count - made : GEN_CHUNK;
		int rc = 0;
		gen_wipe_plain(gp->buf[b], GEN_CHUNK);
		for (uint32_t j = 0; j < n && rc == 0; j++)
			rc = gen_one(gp, &gp->buf[b][j], gp->codes[made + j]);
		gen_publish(gp, b, n, rc);
		if (rc < 0)
			break;
		made += n;
	}
	return NULL;
}

static int gen_pipe_start(struct gen_pipe *gp, struct pp_err *err)
{
	gp->buf[0] = calloc(GEN_CHUNK, sizeof(struct gen_key));
	gp->buf[1] = calloc(GEN_CHUNK, sizeof(struct gen_key));
	gp->codes = calloc(gp->o->count, sizeof(*gp->codes));
	if (!gp->buf[0] || !gp->buf[1] || !gp->codes)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	pthread_mutex_init(&gp->mu, NULL);
	pthread_cond_init(&gp->cv, NULL);
	if (pthread_create(&gp->thread, NULL, gen_thread, gp) != 0) {
		pthread_mutex_destroy(&gp->mu);
		pthread_cond_destroy(&gp->cv);
		return pp_err_set(err, PP_ENOMEM, "cannot start the generator thread");
	}
	gp->running = true;
	return 0;
}

/* Stops the thread and wipes both buffers; for pp_cleanup. */
static void gen_pipe_stop(struct gen_pipe *gp)
{
	if (gp->running) {
		pthread_mutex_lock(&gp->mu);
		gp->stop = true;
		pthread_cond_broadcast(&gp->cv);
		pthread_mutex_unlock(&gp->mu);
		pthread_join(gp->thread, NULL);
		pthread_mutex_destroy(&gp->mu);
		pthread_cond_destroy(&gp->cv);
	}
	for (int b = 0; b < 2; b++) {
		if (gp->buf[b])
			pp_wipe(gp->buf[b], (size_t)GEN_CHUNK * sizeof(struct gen_key));
		free(gp->buf[b]);
	}
	free(gp->codes);
	pp_key_bulk_free(gp->bulk);
	pp_keygen_free(gp->gen);
}

/* Waits for buffer b to fill: its length, or the generator's failure. */
static int gen_take(struct gen_pipe *gp, int b, uint32_t *n, struct pp_err *err)
{
	pthread_mutex_lock(&gp->mu);
	while (!gp->full[b] && gp->rc == 0)
		pthread_cond_wait(&gp->cv, &gp->mu);
	int rc = gp->rc;
	*n = gp->len[b];
	pthread_mutex_unlock(&gp->mu);
	if (rc == 0)
		return 0;
	return pp_err_set(err, gp->err.code > 0 ? gp->err.code : PP_ECRYPTO, "%s",
			  gp->err.code > 0 ? gp->err.msg : "cannot generate keys");
}

/* Buffer b is the generator's again (it wipes it before refilling; gen_pipe_stop
 * wipes both at the end). */
static void gen_give_back(struct gen_pipe *gp, int b)
{
	pthread_mutex_lock(&gp->mu);
	gp->full[b] = false;
	pthread_cond_broadcast(&gp->cv);
	pthread_mutex_unlock(&gp->mu);
}

/* Inserts one key. The batch's PIDs are distinct, but one may be in the store already
 * (36^7 PIDs: a large store meets a few): that key is drawn again under another PID
 * (with the one-off generator: the pipe's belongs to the other thread) and sealed here. */
static int gen_insert(struct gen_pipe *gp, struct pp_store *s, struct gen_key *g,
		      struct pp_err *err)
{
	int rc = pp_store_key_bulk_insert(s, &g->row, err);
	for (int attempt = 0; rc == -PP_EEXIST && attempt < PID_RETRIES; attempt++) {
		rc = pp_pid_generate(&g->pid);
		if (rc == 0 && gp->o->derived)
			rc = pp_pps_derive(gp->secret, PP_BATCH_SECRET_LEN, &g->pid, &g->pps);
		if (rc < 0)
			return pp_err_set(err, PP_ECRYPTO, "cannot generate a key");
		struct pp_key_new k = gen_key_new(gp, g);
		rc = pp_store_key_insert(s, &k, err);
	}
	return rc;
}

static int gen_store_all(struct gen_pipe *gp, struct pp_store *s, struct pp_err *err)
{
	const struct pp_keys_generate_opts *o = gp->o;
	for (uint32_t done = 0, b = 0; done < o->count; b ^= 1) {
		uint32_t n;
		int rc = gen_take(gp, (int)b, &n, err);
		for (uint32_t j = 0; j < n && rc == 0; j++)
			rc = gen_insert(gp, s, &gp->buf[b][j], err);
		gen_give_back(gp, (int)b);
		if (rc < 0)
			return rc;
		done += n;
		if (o->progress)
			o->progress(o->progress_ctx, done, o->count);
	}
	return 0;
}

static int gen_check(const struct pp_keys_generate_opts *o, struct pp_err *err)
{
	if (o->count < 1 || o->count > PP_KEYS_GENERATE_MAX)
		return pp_err_set(err, PP_EINVAL, "count: %u is not in 1..%u", o->count,
				  PP_KEYS_GENERATE_MAX);
	if (o->shared == 1 || o->shared > PP_KEYS_SHARED_MAX)
		return pp_err_set(err, PP_EINVAL, "shared: %u is not in 2..%u", o->shared,
				  PP_KEYS_SHARED_MAX);
	if (!o->batch || pp_batch_name_check(o->batch, err) < 0)
		return pp_err_prefix(err, "batch");
	if (o->mebx_password)
		return pp_mebx_password_check(o->mebx_password, err);
	if (o->mebx_length < PP_MEBX_PW_MIN || o->mebx_length > PP_MEBX_PW_MAX)
		return pp_err_set(err, PP_EINVAL, "MEBx password length %u is not in %u..%u",
				  o->mebx_length, PP_MEBX_PW_MIN, PP_MEBX_PW_MAX);
	return 0;
}

static int gen_audit(struct pp_store *s, const struct pp_keys_generate_opts *o, struct pp_err *err)
{
	char detail[128];
	snprintf(detail, sizeof(detail), "count=%u derived=%s shared=%u mebx=%s", o->count,
		 o->derived ? "yes" : "no", o->shared, o->mebx_password ? "ask" : "random");
	return pp_store_audit_append(s, o->actor, "keys.generate", o->batch, detail, err);
}

static void gen_secret_wipe(uint8_t (*secret)[PP_BATCH_SECRET_LEN])
{
	pp_wipe(*secret, sizeof(*secret));
}

/* In a transaction: the batch, its keys, the audit entry. */
static int gen_tx(void *arg, struct pp_err *err)
{
	struct gen_pipe *gp = arg;
	struct pp_store *s = gp->s;
	int64_t *batch_id = &gp->batch_id;
	const struct pp_keys_generate_opts *o = gp->o;
	struct pp_batch_new nb = {.name = o->batch,
				  .derived = o->derived,
				  .secret = o->derived ? gp->secret : NULL,
				  .secret_len = o->derived ? PP_BATCH_SECRET_LEN : 0,
				  .shared_max = o->shared};
	int rc = pp_store_batch_create(s, &nb, batch_id, err);
	if (rc == 0)
		rc = pp_store_key_bulk_new(s, *batch_id, &gp->bulk, err);
	if (rc == 0)
		rc = gen_pipe_start(gp, err);
	if (rc == 0)
		rc = gen_store_all(gp, s, err);
	if (rc == 0)
		rc = gen_audit(s, o, err);
	return rc;
}

int pp_keys_generate(struct pp_store *s, const struct pp_keys_generate_opts *o,
		     struct pp_keys_generate_result *res, struct pp_err *err)
{
	pp_cleanup(gen_secret_wipe) uint8_t secret[PP_BATCH_SECRET_LEN] = {0};
	pp_cleanup(gen_pipe_stop) struct gen_pipe gp = {.s = s, .o = o, .secret = secret};
	memset(res, 0, sizeof(*res));
	int rc = gen_check(o, err);
	if (rc < 0)
		return rc;
	if (pp_keygen_new(&gp.gen) < 0)
		return pp_err_set(err, PP_ECRYPTO, "cannot start the key generator");
	if (o->derived && pp_random(secret, sizeof(secret)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "cannot draw the batch secret");
	double t0 = pp_now_s();
	rc = pp_keys_in_tx(s, gen_tx, &gp, err);
	if (rc < 0)
		return rc;
	res->batch_id = gp.batch_id;
	res->count = o->count;
	res->seconds = pp_now_s() - t0;
	return 0;
}
