/* test_memplan.c — the memory passes (opt/loop/inplace.c, plan_memory.c):
 *  - golden loop-IR text: test/loopopt/{inplace,plan-memory}/NAME.in.loop run
 *    through the pass alone must print as NAME.out.loop (test_loopopt's
 *    convention); then, planned (plan-memory after inplace), compute the same
 *    outputs as the input program under loop_eval (inputs 0.25·k − 3);
 *  - every model of the exported bank (NNL_BANK_DIR, default
 *    build/run_bank/models; skipped when absent), through the -O3 pipeline:
 *    the program verifies, buffers live at one step never share a byte, and
 *    arena_bytes equals the bound computed here independently of the
 *    planner (own liveness walk, max over steps of live bytes); an arena one
 *    byte smaller is refused by loop_verify.
 * NNL_REGEN=1 rewrites the .out.loop files.
 */
#include "codegen.h"
#include "frontend.h"
#include "loop.h"
#include "passes.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

int loop_pass_inplace(LProgram *, const LoopPassCtx *, Diag *);
int loop_pass_plan_memory(LProgram *, const LoopPassCtx *, Diag *);

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

static int64_t numel_of(const LProgram *p, LBufKind k)
{
	int64_t n = 0;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == k)
			n += p->bufs[i].numel;
	return n;
}

static void eval(const LProgram *p, float *out)
{
	int64_t ni = numel_of(p, LB_INPUT);
	float *in = malloc((size_t)ni * sizeof *in);
	for (int64_t i = 0; i < ni; i++)
		in[i] = 0.25f * (float)(i % 29) - 3.0f;
	Diag d;
	diag_init(&d);
	int rc = loop_eval(p, in, out, &d);
	if (rc)
		diag_print(&d, "loop_eval");
	assert_int_equal(rc, 0);
	diag_free(&d);
	free(in);
}

static void golden_dir(const char *pass)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/test/loopopt/%s", NNL_SOURCE_DIR, pass);
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dp)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 9 || strcmp(e->d_name + len - 8, ".in.loop"))
			continue;
		char in[1024], outp[1024];
		snprintf(in, sizeof in, "%s/%s", dir, e->d_name);
		snprintf(outp, sizeof outp, "%s/%.*s.out.loop", dir, (int)(len - 8), e->d_name);
		char *text = slurp(in);
		assert_non_null(text);
		Diag d;
		diag_init(&d);
		LProgram *p = loop_parse(text, in, &d), *ref = loop_parse(text, in, &d);
		assert_non_null(p);
		assert_non_null(ref);
		LoopMemStats mem = {0};
		LoopPassCtx c = {.opt_level = 3, .arena_align = 16, .verify_each = 1, .mem = &mem};
		if (!strcmp(pass, "inplace"))
			assert_int_equal(loop_pass_inplace(p, &c, &d), 0);
		else
			assert_int_equal(loop_pass_plan_memory(p, &c, &d), 0);
		char *got = loop_print(p); /* the pass alone, as test_loopopt runs it */
		if (!strcmp(pass, "inplace"))
			assert_int_equal(loop_pass_plan_memory(p, &c, &d), 0);
		if (loop_verify(p, &d) < 0)
			diag_print(&d, in);
		assert_int_equal(loop_verify(p, &d), 0);
		if (getenv("NNL_REGEN")) {
			FILE *f = fopen(outp, "w");
			fputs(got, f);
			fclose(f);
		}
		char *want = slurp(outp);
		if (!want || strcmp(got, want)) {
			fprintf(stderr, "%s: got\n%s\n", outp, got);
			fail_msg("%s differs (NNL_REGEN=1 rewrites it)", outp);
		}
		int64_t no = numel_of(ref, LB_OUTPUT);
		float *y0 = calloc((size_t)no, sizeof *y0), *y1 = calloc((size_t)no, sizeof *y1);
		eval(ref, y0);
		eval(p, y1);
		assert_memory_equal(y0, y1, (size_t)no * sizeof *y0);
		assert_true(p->arena_bytes == mem.bound);
		free(y0);
		free(y1);
		free(got);
		free(want);
		free(text);
		loop_free(p);
		loop_free(ref);
		diag_free(&d);
		n++;
	}
	closedir(dp);
	assert_true(n > 0);
}

static void test_golden_inplace(void **state)
{
	(void)state;
	golden_dir("inplace");
}

static void test_golden_plan(void **state)
{
	(void)state;
	golden_dir("plan-memory");
}

/* ---- independent bound ---------------------------------------------------- */

static void mark(const LExpr *e, unsigned char *u)
{
	if (!e)
		return;
	if (e->kind == LE_LOAD)
		u[e->buf] = 1;
	mark(e->a, u);
	mark(e->b, u);
	mark(e->c, u);
}

static void mark_list(const LStmtList *l, unsigned char *u)
{
	for (int i = 0; i < l->n; i++) {
		const LStmt *s = l->v[i];
		mark(s->lo, u), mark(s->hi, u), mark(s->idx, u), mark(s->val, u), mark(s->cond, u);
		if (s->kind == LS_STORE)
			u[s->buf] = 1;
		mark_list(&s->body, u);
		mark_list(&s->els, u);
	}
}

static void check_program(const LProgram *p, const char *name)
{
	int nb = p->n_bufs, ns = p->body.n;
	int *f = malloc((size_t)nb * sizeof *f), *l = malloc((size_t)nb * sizeof *l);
	unsigned char *u = malloc((size_t)nb);
	for (int b = 0; b < nb; b++)
		f[b] = l[b] = -1;
	for (int s = 0; s < ns; s++) {
		memset(u, 0, (size_t)nb);
		LStmtList one = {(LStmt **)&p->body.v[s], 1, 1};
		mark_list(&one, u);
		for (int b = 0; b < nb; b++)
			if (u[b]) {
				if (f[b] < 0)
					f[b] = s;
				l[b] = s;
			}
	}
	int64_t bound = 0;
	for (int s = 0; s < ns; s++) {
		int64_t live = 0;
		for (int b = 0; b < nb; b++) {
			const LBuf *x = &p->bufs[b];
			if (x->kind != LB_ARENA || f[b] < 0 || f[b] > s || l[b] < s)
				continue;
			int bits = ltype_bits(x->type);
			int64_t sz = x->numel * (bits < 8 ? 1 : bits / 8);
			live += (sz + x->align - 1) / x->align * x->align;
			for (int o = 0; o < b; o++) { /* no overlap with another buffer live now */
				const LBuf *y = &p->bufs[o];
				if (y->kind != LB_ARENA || f[o] < 0 || f[o] > s || l[o] < s)
					continue;
				int ybits = ltype_bits(y->type);
				int64_t ysz = y->numel * (ybits < 8 ? 1 : ybits / 8);
				if (x->offset < y->offset + ysz && y->offset < x->offset + sz)
					fail_msg("%s: %s and %s overlap at step %d", name, x->name, y->name, s);
			}
		}
		if (live > bound)
			bound = live;
	}
	printf("  %-16s arena %10lld  independent bound %10lld\n", name, (long long)p->arena_bytes, (long long)bound);
	if (p->arena_bytes != bound)
		fail_msg("%s: arena %lld != bound %lld", name, (long long)p->arena_bytes, (long long)bound);
	free(f);
	free(l);
	free(u);
}

static void test_bank(void **state)
{
	(void)state;
	const char *root = getenv("NNL_BANK_DIR");
	char def[512];
	snprintf(def, sizeof def, "%s/build/run_bank/models", NNL_SOURCE_DIR);
	DIR *dp = opendir(root ? root : def);
	if (!dp) {
		printf("SKIP: no exported bank in %s (run test/targets/run_bank.py or set NNL_BANK_DIR)\n", root ? root : def);
		skip();
	}
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dp)) != NULL) {
		char path[1024];
		snprintf(path, sizeof path, "%s/%s/model.json", root ? root : def, e->d_name);
		FILE *t = fopen(path, "r");
		if (!t)
			continue;
		fclose(t);
		Diag d;
		diag_init(&d);
		Model *m = json_load_model(path, &d);
		assert_non_null(m);
		for (int inplace = 0; inplace < 2; inplace++) {
			LProgram *p = lower_model(m, &d);
			assert_non_null(p);
			LoopMemStats mem = {0};
			LoopPassCtx c = {.opt_level = 3, .arena_align = 16, .mem = &mem,
			                 .disabled = inplace ? NULL : "inplace"};
			if (loop_run_passes(p, &c, &d) != 0) {
				diag_print(&d, "test_memplan");
				fail_msg("%s: the loop passes failed", e->d_name);
			}
			assert_int_equal(loop_verify(p, &d), 0);
			char nm[300];
			snprintf(nm, sizeof nm, "%s%s", e->d_name, inplace ? "" : "/no-inplace");
			check_program(p, nm);
			/* one byte less than the last placed buffer's end: refused (arena_bytes
			 * itself may be rounded up to the arena alignment past that end) */
			int64_t end = 0;
			for (int b = 0; b < p->n_bufs; b++)
				if (p->bufs[b].kind == LB_ARENA && p->bufs[b].offset >= 0) {
					int64_t e2 = p->bufs[b].offset + p->bufs[b].numel * ((ltype_bits(p->bufs[b].type) + 7) / 8);
					end = e2 > end ? e2 : end;
				}
			assert_true(end <= p->arena_bytes);
			if (end > 0) {
				p->arena_bytes = end - 1;
				Diag d2;
				diag_init(&d2);
				if (loop_verify(p, &d2) != -1)
					fail_msg("%s: an arena of %lld bytes, one less than the buffers need, was accepted", nm,
					         (long long)end - 1);
				diag_free(&d2);
			}
			loop_free(p);
		}
		model_free(m);
		diag_free(&d);
		n++;
	}
	closedir(dp);
	printf("  %d bank models checked\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_inplace),
		cmocka_unit_test(test_golden_plan),
		cmocka_unit_test(test_bank),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
