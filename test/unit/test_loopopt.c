/* test_loopopt.c — the loop-IR cleanup and fusion passes (opt/loop/fuse.c,
 * dce.c, fold.c, cse.c, licm.c ...) on golden loop text.
 *
 * For every test/loopopt/<pass>/NAME.in.loop: parse it, run the one pass,
 * verify, print, and compare with NAME.out.loop byte for byte (set
 * NNL_UPDATE_GOLDEN=1 to rewrite the expected files, then review the diff).
 * Then bind the same random data to the const buffers of the input program
 * and of the optimized one, run both with loop_eval on several random inputs
 * and require the outputs to have the same bits. The expected text must also
 * be a fixed point of print(parse(.)).
 *
 * Then the whole cleanup pipeline (fuse, fold, licm, cse, dce) on the
 * lowering of every model in test/lower/ and test/ops/cases/ (every op and
 * nest shape lowering makes), with the real const data: loop_eval on random
 * inputs must give the same output bits before and after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "frontend.h"
#include "loop.h"
#include "passes.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = 0;
	fclose(f);
	return s;
}

static void print_diag(const Diag *d)
{
	for (int i = 0; i < d->n; i++)
		fprintf(stderr, "  diag: %s\n", d->msgs[i]);
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* n elements of type t: floats in [-4, 4) (dyadic, some exact zeros and
 * negative zeros), integers over the whole range of small types. */
static void fill(LType t, void *dst, int64_t n)
{
	unsigned char *p = dst;
	for (int64_t i = 0; i < n; i++) {
		uint64_t r = rnd();
		switch (t) {
		case LT_F32: {
			float f = (float)((int64_t)(r % 8192) - 4096) / 1024.0f;
			if (r % 17 == 0)
				f = (r & 32) ? -0.0f : 0.0f;
			memcpy(p + 4 * i, &f, 4);
			break;
		}
		case LT_F64: {
			double f = (double)((int64_t)(r % 8192) - 4096) / 1024.0;
			memcpy(p + 8 * i, &f, 8);
			break;
		}
		case LT_I1: p[i] = r & 1; break;
		case LT_I8: case LT_U8: p[i] = (unsigned char)r; break;
		case LT_I16: case LT_U16: { uint16_t x = (uint16_t)r; memcpy(p + 2 * i, &x, 2); break; }
		case LT_I32: { int32_t x = (int32_t)(r % 64) - 32; memcpy(p + 4 * i, &x, 4); break; }
		case LT_I64: { int64_t x = (int64_t)(r % 64) - 32; memcpy(p + 8 * i, &x, 8); break; }
		default: break;
		}
	}
}

static int64_t esize(LType t) { return (ltype_bits(t) + 7) / 8; }

static int64_t kind_bytes(const LProgram *p, LBufKind k)
{
	int64_t n = 0;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == k)
			n += p->bufs[i].numel * esize(p->bufs[i].type);
	return n;
}

/* Same const data in both programs (by buffer name; the pass may drop buffers). */
static void bind_consts(LProgram *a, LProgram *b, uint64_t seed)
{
	rng_state = seed;
	for (int i = 0; i < a->n_bufs; i++) {
		LBuf *A = &a->bufs[i];
		if (A->kind != LB_CONST)
			continue;
		size_t bytes = (size_t)(A->numel * esize(A->type));
		A->data = malloc(bytes);
		assert_non_null(A->data);
		fill(A->type, A->data, A->numel);
		int j = loop_find_buf(b, A->name);
		if (j >= 0) {
			assert_int_equal(b->bufs[j].numel, A->numel);
			b->bufs[j].data = malloc(bytes);
			assert_non_null(b->bufs[j].data);
			memcpy(b->bufs[j].data, A->data, bytes);
		}
	}
}

/* fill input per buffer type, in declaration order */
static void make_input(const LProgram *p, unsigned char *in)
{
	int64_t off = 0;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == LB_INPUT) {
			fill(p->bufs[i].type, in + off, p->bufs[i].numel);
			off += p->bufs[i].numel * esize(p->bufs[i].type);
		}
}

static const LoopPassInfo *find_pass(const char *name)
{
	int n;
	const LoopPassInfo *ps = loop_passes(&n);
	for (int i = 0; i < n; i++)
		if (!strcmp(ps[i].name, name))
			return &ps[i];
	return NULL;
}

static void run_case(const char *pass, const char *dir, const char *name)
{
	char in_path[2600], out_path[2600];
	snprintf(in_path, sizeof in_path, "%s/%s.in.loop", dir, name);
	snprintf(out_path, sizeof out_path, "%s/%s.out.loop", dir, name);
	const LoopPassInfo *pi = find_pass(pass);
	if (!pi) {
		fprintf(stderr, "%s: no loop pass '%s' in passes.def\n", in_path, pass);
		fail();
	}
	char *src = slurp(in_path);
	assert_non_null(src);
	Diag d;
	diag_init(&d);
	LProgram *ref = loop_parse(src, in_path, &d), *opt = loop_parse(src, in_path, &d);
	if (!ref || !opt)
		print_diag(&d);
	assert_non_null(ref);
	assert_non_null(opt);
	if (loop_verify(ref, &d) < 0) {
		print_diag(&d);
		fail_msg("%s does not verify", in_path);
	}
	LoopPassCtx c = {.opt_level = 2, .arena_align = 16, .verify_each = 1};
	if (pi->fn(opt, &c, &d) < 0 || loop_verify(opt, &d) < 0) {
		print_diag(&d);
		fail_msg("%s: pass %s failed or left a program that does not verify", in_path, pass);
	}
	char *got = loop_print(opt);
	assert_non_null(got);
	if (getenv("NNL_UPDATE_GOLDEN")) {
		FILE *f = fopen(out_path, "wb");
		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	char *want = slurp(out_path);
	if (!want)
		fail_msg("%s missing (NNL_UPDATE_GOLDEN=1 writes it)", out_path);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "--- %s expected\n%s--- got\n%s", out_path, want, got);
		fail_msg("%s: output differs", in_path);
	}
	/* the expected text is canonical */
	LProgram *w = loop_parse(want, out_path, &d);
	assert_non_null(w);
	char *again = loop_print(w);
	assert_string_equal(again, want);
	free(again);
	loop_free(w);

	/* same bits on random data */
	int64_t ib = kind_bytes(ref, LB_INPUT), ob = kind_bytes(ref, LB_OUTPUT);
	assert_int_equal(ob, kind_bytes(opt, LB_OUTPUT));
	unsigned char *in = calloc((size_t)ib + 8, 1), *o1 = calloc((size_t)ob + 8, 1), *o2 = calloc((size_t)ob + 8, 1);
	assert_true(in && o1 && o2);
	bind_consts(ref, opt, 0x9e3779b97f4a7c15ull);
	for (int trial = 0; trial < 4; trial++) {
		rng_state = 0x1234567ull + (uint64_t)trial * 7919;
		make_input(ref, in);
		memset(o1, 0xa5, (size_t)ob);
		memset(o2, 0xa5, (size_t)ob);
		int r1 = loop_eval(ref, in, o1, &d), r2 = loop_eval(opt, in, o2, &d);
		if (r1 != 0 || r2 != 0)
			print_diag(&d);
		assert_int_equal(r1, 0);
		assert_int_equal(r2, 0);
		if (memcmp(o1, o2, (size_t)ob) != 0)
			fail_msg("%s: pass %s changed the output bits (trial %d)", in_path, pass, trial);
	}
	free(in);
	free(o1);
	free(o2);
	free(got);
	free(want);
	free(src);
	loop_free(ref);
	loop_free(opt);
	diag_free(&d);
}

static void test_goldens(void **state)
{
	(void)state;
	char root[1024];
	snprintf(root, sizeof root, "%s/test/loopopt", NNL_SOURCE_DIR);
	DIR *dr = opendir(root);
	assert_non_null(dr);
	int cases = 0;
	struct dirent *pe;
	while ((pe = readdir(dr))) {
		if (pe->d_name[0] == '.')
			continue;
		char dir[1400];
		snprintf(dir, sizeof dir, "%s/%s", root, pe->d_name);
		DIR *dc = opendir(dir);
		if (!dc)
			continue;
		struct dirent *ce;
		while ((ce = readdir(dc))) {
			size_t n = strlen(ce->d_name);
			if (n < 9 || strcmp(ce->d_name + n - 8, ".in.loop") != 0)
				continue;
			char name[256];
			snprintf(name, sizeof name, "%.*s", (int)(n - 8), ce->d_name);
			fprintf(stderr, "[ loopopt ] %s/%s\n", pe->d_name, name);
			run_case(pe->d_name, dir, name);
			cases++;
		}
		closedir(dc);
	}
	closedir(dr);
	assert_true(cases > 0);
}

static const char *const cleanup[] = {"fuse", "fold", "licm", "cse", "dce"};

/* 1 compared, 0 skipped (the reference faults on random data), fails otherwise */
static int pipeline_case(const char *path)
{
	Diag d;
	diag_init(&d);
	Model *m = json_load_model(path, &d);
	if (!m) {
		diag_print(&d, path);
		fail_msg("%s: cannot load", path);
	}
	LProgram *ref = lower_model(m, &d), *opt = lower_model(m, &d);
	if (!ref || !opt) {
		/* a model lowering refuses is test_lower's business */
		loop_free(ref);
		loop_free(opt);
		model_free(m);
		diag_free(&d);
		return 0;
	}
	LoopPassCtx c = {.opt_level = 3, .arena_align = 16, .verify_each = 1};
	for (size_t i = 0; i < sizeof cleanup / sizeof *cleanup; i++) {
		const LoopPassInfo *pi = find_pass(cleanup[i]);
		assert_non_null(pi);
		if (pi->fn(opt, &c, &d) < 0 || loop_verify(opt, &d) < 0) {
			print_diag(&d);
			fail_msg("%s: pass %s failed or does not verify", path, cleanup[i]);
		}
	}
	int64_t ib = kind_bytes(ref, LB_INPUT), ob = kind_bytes(ref, LB_OUTPUT);
	unsigned char *in = calloc((size_t)ib + 8, 1), *o1 = calloc((size_t)ob + 8, 1), *o2 = calloc((size_t)ob + 8, 1);
	assert_true(in && o1 && o2);
	int compared = 0;
	for (int trial = 0; trial < 2; trial++) {
		rng_state = 0xabcdefull + (uint64_t)trial;
		make_input(ref, in);
		Diag d1, d2;
		diag_init(&d1);
		diag_init(&d2);
		int r1 = loop_eval(ref, in, o1, &d1);
		if (r1 == 0) {
			int r2 = loop_eval(opt, in, o2, &d2);
			if (r2 != 0)
				print_diag(&d2);
			assert_int_equal(r2, 0);
			if (memcmp(o1, o2, (size_t)ob) != 0)
				fail_msg("%s: the cleanup passes changed the output bits", path);
			compared = 1;
		}
		diag_free(&d1);
		diag_free(&d2);
	}
	free(in);
	free(o1);
	free(o2);
	loop_free(ref);
	loop_free(opt);
	model_free(m);
	diag_free(&d);
	return compared;
}

static void test_pipeline_on_lowerings(void **state)
{
	(void)state;
	const char *dirs[] = {NNL_SOURCE_DIR "/test/lower", NNL_SOURCE_DIR "/test/ops/cases"};
	int n = 0, cmp = 0;
	for (int k = 0; k < 2; k++) {
		DIR *dr = opendir(dirs[k]);
		assert_non_null(dr);
		struct dirent *e;
		while ((e = readdir(dr))) {
			size_t len = strlen(e->d_name);
			if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
				continue;
			char path[2048];
			snprintf(path, sizeof path, "%s/%s", dirs[k], e->d_name);
			cmp += pipeline_case(path);
			n++;
		}
		closedir(dr);
	}
	fprintf(stderr, "cleanup pipeline: %d models lowered, %d compared bit for bit\n", n, cmp);
	assert_true(cmp > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_goldens),
		cmocka_unit_test(test_pipeline_on_lowerings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
