/* test_loop.c — the loop IR's text form, verifier and interpreter
 * (ir/loop_print.c, loop_parse.c, loop_verify.c, loop_eval.c).
 *
 * Programs are built with the construction API, then: printed, parsed and
 * printed again (the two texts must be equal), verified, and run by
 * loop_eval against values computed here in C. Error cases assert a
 * substring of the message. The golden files in test/loop/ are canonical
 * text: each must parse, print back to itself byte for byte, verify and run.
 * Hostile-input cases truncate and corrupt valid text and fail allocations
 * one by one (run under ASan/LSan to see leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

/* ---- helpers ------------------------------------------------------------ */

static int has_msg(const Diag *d, const char *sub)
{
	for (int i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], sub))
			return 1;
	return 0;
}

static void print_diag(const Diag *d)
{
	for (int i = 0; i < d->n; i++)
		fprintf(stderr, "  diag: %s\n", d->msgs[i]);
}

#define assert_msg(d, sub) \
	do { \
		if (!has_msg(d, sub)) { \
			fprintf(stderr, "expected a message containing \"%s\"\n", sub); \
			print_diag(d); \
			fail(); \
		} \
	} while (0)

/* print → parse → print: equal texts; returns the parsed copy. */
static LProgram *roundtrip(const LProgram *p)
{
	char *t1 = loop_print(p);
	assert_non_null(t1);
	Diag d;
	diag_init(&d);
	LProgram *q = loop_parse(t1, "rt.loop", &d);
	if (!q) {
		print_diag(&d);
		fprintf(stderr, "%s", t1);
	}
	assert_non_null(q);
	char *t2 = loop_print(q);
	assert_non_null(t2);
	if (strcmp(t1, t2) != 0)
		fprintf(stderr, "--- first\n%s--- second\n%s", t1, t2);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	diag_free(&d);
	return q;
}

static void verify_ok(const LProgram *p)
{
	Diag d;
	diag_init(&d);
	int rc = loop_verify(p, &d);
	if (rc)
		print_diag(&d);
	assert_int_equal(rc, 0);
	diag_free(&d);
}

static void eval_ok(const LProgram *p, const void *in, void *out)
{
	Diag d;
	diag_init(&d);
	int rc = loop_eval(p, in, out, &d);
	if (rc)
		print_diag(&d);
	assert_int_equal(rc, 0);
	diag_free(&d);
}

static LProgram *parse_ok(const char *text)
{
	Diag d;
	diag_init(&d);
	LProgram *p = loop_parse(text, "t.loop", &d);
	if (!p)
		print_diag(&d);
	assert_non_null(p);
	diag_free(&d);
	return p;
}

static void parse_fails(const char *text, const char *sub)
{
	Diag d;
	diag_init(&d);
	LProgram *p = loop_parse(text, "t.loop", &d);
	assert_null(p);
	assert_msg(&d, sub);
	diag_free(&d);
}

static void verify_fails(const char *text, const char *sub)
{
	LProgram *p = parse_ok(text);
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_verify(p, &d), -1);
	assert_msg(&d, sub);
	diag_free(&d);
	loop_free(p);
}

static void eval_fails(const char *text, const void *in, void *out, const char *sub)
{
	LProgram *p = parse_ok(text);
	verify_ok(p);
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_eval(p, in, out, &d), -1);
	assert_msg(&d, sub);
	diag_free(&d);
	loop_free(p);
}

static void *dupmem(const void *s, size_t n)
{
	void *r = malloc(n);
	assert_non_null(r);
	memcpy(r, s, n);
	return r;
}

/* ---- a dense layer: y = relu(W x + b), built with the API ---------------- */

enum { IN = 7, OUT = 5 };

static LProgram *build_dense(float *w, float *b)
{
	LProgram *p = loop_new("dense");
	int bw = loop_add_buf(p, "fc.weight", LB_CONST, LT_F32, OUT * IN);
	int bb = loop_add_buf(p, "fc.bias", LB_CONST, LT_F32, OUT);
	int bx = loop_add_buf(p, "x", LB_INPUT, LT_F32, IN);
	int bt = loop_add_buf(p, "t0", LB_ARENA, LT_F32, OUT);
	int by = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, OUT);
	p->bufs[bw].data = dupmem(w, sizeof(float) * OUT * IN);
	p->bufs[bw].origin = strdup("weights/fc.weight.bin");
	p->bufs[bb].data = dupmem(b, sizeof(float) * OUT);
	p->bufs[bt].offset = 32;
	p->arena_bytes = 64;

	int i = loop_new_var(p, "i", LT_I32, 1), j = loop_new_var(p, "j", LT_I32, 1);
	int acc = loop_new_var(p, "acc", LT_F32, 0);
	LStmt *f = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, OUT), 1);
	assert_non_null(f);
	f->label = loop_strdup(p, "fc (Linear)");
	assert_non_null(ls_let(p, &f->body, acc, le_load(p, bb, le_var(p, i))));
	LStmt *g = ls_for(p, &f->body, j, le_i32(p, 0), le_i32(p, IN), 1);
	assert_non_null(g);
	LExpr *wi = le_add(p, le_mul_k(p, le_var(p, i), IN), le_var(p, j));
	assert_non_null(ls_set(p, &g->body, acc,
	                       le_bin(p, LO_ADD, le_var(p, acc),
	                              le_bin(p, LO_MUL, le_load(p, bw, wi), le_load(p, bx, le_var(p, j))))));
	assert_non_null(ls_store(p, &f->body, bt, le_var(p, i), le_var(p, acc)));

	int k = loop_new_var(p, "k", LT_I32, 1);
	LStmt *h = ls_for(p, &p->body, k, le_i32(p, 0), le_i32(p, OUT), 1);
	assert_non_null(h);
	h->label = loop_strdup(p, "relu (ReLU)");
	assert_non_null(ls_store(p, &h->body, by, le_var(p, k),
	                         le_bin(p, LO_MAX, le_load(p, bt, le_var(p, k)), le_float(p, LT_F32, 0.0))));
	return p;
}

static void test_dense_relu(void **state)
{
	(void)state;
	float w[OUT * IN], b[OUT], x[IN], y[OUT], ref[OUT];
	for (int i = 0; i < OUT * IN; i++)
		w[i] = (float)((i * 37 % 17) - 8) / 7.0f;
	for (int i = 0; i < OUT; i++)
		b[i] = (float)i / 3.0f - 0.5f;
	for (int i = 0; i < IN; i++)
		x[i] = (float)((i * 5 % 11) - 5) / 3.0f;
	for (int i = 0; i < OUT; i++) {
		float acc = b[i];
		for (int j = 0; j < IN; j++)
			acc = acc + w[i * IN + j] * x[j];
		ref[i] = acc > 0 ? acc : 0;
	}
	LProgram *p = build_dense(w, b);
	verify_ok(p);
	memset(y, 0xff, sizeof y);
	eval_ok(p, x, y);
	assert_memory_equal(y, ref, sizeof y);

	char *text = loop_print(p);
	assert_non_null(text);
	if (getenv("LOOP_SHOW"))
		fputs(text, stderr);
	assert_non_null(strstr(text, "buffer fc.weight: const f32[35] align 16  # weights/fc.weight.bin\n"));
	assert_non_null(strstr(text, "buffer t0: arena f32[5] @ 32 align 16\n"));
	assert_non_null(strstr(text, "# fc (Linear)\nfor i0 in 0..5 {\n  let acc2: f32 = load fc.bias[i0]\n"));
	assert_non_null(strstr(text, "set acc2 = add(acc2, mul(load fc.weight[add(mul(i0, 7), j1)], load x[j1]))"));
	assert_non_null(strstr(text, "store y[k3] = max(load t0[k3], 0:f32)"));
	free(text);

	/* the parsed copy runs too (its const buffers are unbound: bind them) */
	LProgram *q = roundtrip(p);
	verify_ok(q);
	int qw = loop_find_buf(q, "fc.weight"), qb = loop_find_buf(q, "fc.bias");
	assert_true(qw >= 0 && qb >= 0);
	assert_string_equal(q->bufs[qw].origin, "weights/fc.weight.bin");
	q->bufs[qw].data = dupmem(w, sizeof w);
	q->bufs[qb].data = dupmem(b, sizeof b);
	float y2[OUT];
	eval_ok(q, x, y2);
	assert_memory_equal(y2, ref, sizeof y2);
	loop_free(q);
	loop_free(p);
}

/* ---- every construct in one program: the round trip is exact ------------- */

static void test_roundtrip_all(void **state)
{
	(void)state;
	LProgram *p = loop_new("all ops");
	int bi = loop_add_buf(p, "add", LB_INPUT, LT_F32, 8); /* buffer names are never quoted */
	int bo = loop_add_buf(p, "out\"put\n", LB_OUTPUT, LT_F64, 8);
	int ba = loop_add_buf(p, "a", LB_ARENA, LT_I8, 8);
	p->bufs[ba].align = 4;
	int i = loop_add_var(p, "i", LT_I32, 1);
	int x = loop_add_var(p, "x", LT_F32, 0);
	int ld = loop_add_var(p, "load", LT_I32, 0); /* a variable spelled like an expression word: quoted */
	int n = loop_add_var(p, "n", LT_I64, 0);
	int c = loop_add_var(p, "c", LT_I1, 0);
	int u = loop_add_var(p, "u", LT_U16, 0);
	LStmt *f = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, 8), 2);
	f->label = loop_strdup(p, "  weird\tlabel  ");
	f->nounroll = 1;
	ls_let(p, &f->body, x, le_load(p, bi, le_var(p, i)));
	ls_let(p, &f->body, n, le_int(p, LT_I64, INT64_MIN));
	ls_let(p, &f->body, c, le_int(p, LT_I1, 1));
	ls_let(p, &f->body, ld, le_bin(p, LO_ADD, le_var(p, i), le_i32(p, -1)));
	ls_let(p, &f->body, u, le_int(p, LT_U16, 65535));
	for (int op = LO_ADD; op <= LO_POW; op++) {
		LType t = (op >= LO_AND && op <= LO_SHR) ? LT_I64 : LT_F32;
		LExpr *a = t == LT_I64 ? le_var(p, n) : le_var(p, x);
		LExpr *b = t == LT_I64 ? le_int(p, LT_I64, 3) : le_float(p, LT_F32, 0.1);
		LExpr *e = le_bin(p, (LBinOp)op, a, b);
		if (op >= LO_LT && op <= LO_NE)
			ls_set(p, &f->body, c, e);
		else if (t == LT_I64)
			ls_set(p, &f->body, n, e);
		else
			ls_set(p, &f->body, x, e);
	}
	for (int op = LU_NEG; op <= LU_ROUND; op++)
		ls_set(p, &f->body, op == LU_NOT ? n : x, le_un(p, (LUnOp)op, le_var(p, op == LU_NOT ? n : x)));
	/* the packed-pair ops (i32 only) */
	ls_set(p, &f->body, ld, le_bin(p, LO_DOT2, le_var(p, ld), le_i32(p, 0x10002)));
	ls_set(p, &f->body, ld, le_un(p, LU_SXTB16, le_var(p, ld)));
	ls_set(p, &f->body, ld, le_un(p, LU_SXTB16H, le_var(p, ld)));
	double specials[] = {INFINITY, -INFINITY, NAN, -0.0, 1e-45, 3.4028234663852886e38, 16777217.0, 0.1};
	for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
		ls_set(p, &f->body, x, le_float(p, LT_F32, specials[k]));
		ls_store(p, &f->body, bo, le_var(p, i), le_float(p, LT_F64, specials[k]));
	}
	ls_store(p, &f->body, bo, le_i32(p, 1), le_float(p, LT_F64, 0.1));
	ls_store(p, &f->body, bo, le_i32(p, 1), le_float(p, LT_F64, 1.0 / 3.0));
	LStmt *s = ls_if(p, &f->body, le_var(p, c));
	ls_store(p, &s->body, ba, le_var(p, i), le_cast(p, LT_I8, le_var(p, x), 1));
	ls_store(p, &s->els, ba, le_var(p, i), le_cast(p, LT_I8, le_var(p, u), 0));
	LStmt *s2 = ls_if(p, &f->body, le_bin(p, LO_LT, le_var(p, i), le_i32(p, 3)));
	ls_set(p, &s2->body, x, le_select(p, le_var(p, c), le_var(p, x), le_float(p, LT_F32, 2)));
	verify_ok(p);

	char *t = loop_print(p);
	assert_non_null(strstr(t, "program \"all ops\"\n"));
	assert_non_null(strstr(t, "buffer add: input f32[8] align 16\n"));
	assert_non_null(strstr(t, "let \"load\": i32 = add(i, -1)\n"));
	assert_non_null(strstr(t, "buffer \"out\\\"put\\x0a\": output f64[8] align 16\n"));
	assert_non_null(strstr(t, "# weird label\nfor i in 0..8 step 2 nounroll {\n"));
	assert_non_null(strstr(t, "let n: i64 = -9223372036854775808:i64\n"));
	assert_non_null(strstr(t, "set x = inf:f32\n"));
	assert_non_null(strstr(t, "set x = -inf:f32\n"));
	assert_non_null(strstr(t, "set x = nan:f32\n"));
	assert_non_null(strstr(t, "set x = -0:f32\n"));
	assert_non_null(strstr(t, "set x = 16777216:f32\n")); /* rounded to f32 */
	assert_non_null(strstr(t, "set x = 0.100000001:f32\n"));
	assert_non_null(strstr(t, "= 0.33333333333333331:f64\n"));
	assert_non_null(strstr(t, "= cast_sat<i8>(x)\n"));
	assert_non_null(strstr(t, "} else {\n"));
	assert_non_null(strstr(t, "set x = select(c, x, 2:f32)\n"));
	assert_non_null(strstr(t, "set n = shr(n, 3:i64)\n"));
	free(t);
	LProgram *q = roundtrip(p);
	verify_ok(q);
	/* exact floats survive */
	LStmt *qf = q->body.v[0];
	assert_int_equal(qf->step, 2);
	assert_int_equal(qf->nounroll, 1);
	assert_string_equal(qf->label, "weird label");
	loop_free(q);
	loop_free(p);
}

/* ---- integer semantics and casts ---------------------------------------- */

static const char *casts_text =
	"program casts\n"
	"buffer x: input f32[8] align 16\n"
	"buffer s: output i8[8] align 16\n"
	"buffer t: output i32[8] align 16\n"
	"buffer w: output u8[8] align 16\n"
	"for i in 0..8 {\n"
	"  let v: f32 = load x[i]\n"
	"  store s[i] = cast_sat<i8>(v)\n"
	"  store t[i] = cast<i32>(max(min(v, 1000:f32), -1000:f32))\n"
	"  store w[i] = cast<u8>(cast_sat<i32>(v))\n"
	"}\n";

static void test_casts(void **state)
{
	(void)state;
	LProgram *p = parse_ok(casts_text);
	LProgram *q = roundtrip(p);
	loop_free(q);
	verify_ok(p);
	float x[8] = {-300.5f, 2.5f, 3.5f, 127.4f, NAN, INFINITY, -2.5f, 300.0f};
	struct {
		int8_t s[8];
		int32_t t[8];
		uint8_t w[8];
	} out;
	/* NaN: min/max propagate it, and a plain cast of NaN is an error: use a
	 * program without that element first */
	x[4] = -0.5f;
	eval_ok(p, x, &out);
	int8_t es[8] = {-128, 2, 4, 127, 0, 127, -2, 127};
	int32_t et[8] = {-300, 2, 3, 127, 0, 1000, -2, 300};
	uint8_t ew[8] = {(uint8_t)-300, 2, 4, 127, 0, 255, (uint8_t)-2, 44};
	assert_memory_equal(out.s, es, 8);
	assert_memory_equal(out.t, et, sizeof et);
	assert_memory_equal(out.w, ew, 8);
	x[4] = NAN;
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_eval(p, x, &out, &d), -1);
	assert_msg(&d, "cast<i32> of nan out of range");
	diag_free(&d);
	loop_free(p);

	/* i8/i32 wrap-around, division truncation, shifts, unsigned */
	const char *ints =
		"program ints\n"
		"buffer y: output i32[10] align 16\n"
		"buffer z: output i8[2] align 16\n"
		"store y[0] = add(2147483647, 1)\n"
		"store y[1] = div(-7, 2)\n"
		"store y[2] = rem(-7, 2)\n"
		"store y[3] = shr(-16, 2)\n"
		"store y[4] = shl(1, 31)\n"
		"store y[5] = cast<i32>(add(200:u8, 100:u8))\n"
		"store y[6] = cast_sat<i32>(mul(4000000000:i64, 4:i64))\n"
		"store y[7] = cast<i32>(shr(65535:u16, 4:u16))\n"
		"store y[8] = abs(-2147483648)\n"
		"store y[9] = select(lt(-1:i8, 1:i8), cast<i32>(not(0:i1)), 7)\n"
		"store z[0] = add(100:i8, 100:i8)\n"
		"store z[1] = cast_sat<i8>(-129:i16)\n";
	p = parse_ok(ints);
	verify_ok(p);
	struct {
		int32_t y[10];
		int8_t z[2];
	} o;
	eval_ok(p, NULL, &o);
	int32_t ey[10] = {INT32_MIN, -3, -1, -4, INT32_MIN, 44, INT32_MAX, 4095, INT32_MIN, 1};
	assert_memory_equal(o.y, ey, sizeof ey);
	assert_int_equal(o.z[0], -56);
	assert_int_equal(o.z[1], -128);
	loop_free(p);

	eval_fails("program p\nbuffer y: output i32[1] align 16\nlet z: i32 = 0\nstore y[0] = div(7, z)\n", NULL,
	           (int32_t[1]){0}, "integer division by zero");
	eval_fails("program p\nbuffer y: output i32[1] align 16\nlet z: i32 = 32\nstore y[0] = shl(7, z)\n", NULL,
	           (int32_t[1]){0}, "shift by 32 of a i32");
}

/* ---- floats: f32 rounding per op, special values ------------------------- */

static void test_floats(void **state)
{
	(void)state;
	const char *text =
		"program fl\n"
		"buffer y: output f32[8] align 16\n"
		"buffer z: output f64[2] align 16\n"
		"let a: f32 = 16777216:f32\n"
		"set a = add(add(a, 1:f32), 1:f32)\n" /* rounds to even at each step: stays 2^24 */
		"store y[0] = a\n"
		"store y[1] = max(nan:f32, 0:f32)\n"
		"store y[2] = max(-0:f32, 0:f32)\n"
		"store y[3] = round(2.5:f32)\n"
		"store y[4] = round(-3.5:f32)\n"
		"store y[5] = div(1:f32, 0:f32)\n"
		"store y[6] = cast<f32>(0.1:f64)\n"
		"store y[7] = rem(-7.5:f32, 2:f32)\n"
		"store z[0] = add(cast<f64>(16777216:f32), 1:f64)\n"
		"store z[1] = pow(2:f64, 0.5:f64)\n";
	LProgram *p = parse_ok(text);
	verify_ok(p);
	struct {
		float y[8];
		double z[2];
	} o;
	eval_ok(p, NULL, &o);
	assert_true(o.y[0] == 16777216.0f);
	assert_true(isnan(o.y[1]));
	assert_true(o.y[2] == 0.0f && !signbit(o.y[2]));
	assert_true(o.y[3] == 2.0f);
	assert_true(o.y[4] == -4.0f);
	assert_true(isinf(o.y[5]));
	assert_true(o.y[6] == 0.1f);
	assert_true(o.y[7] == -1.5f);
	assert_true(o.z[0] == 16777217.0);
	assert_true(o.z[1] == sqrt(2.0));
	loop_free(p);
}

/* ---- control flow: if/else, nested loops, steps, scoped lets ------------- */

static void test_control(void **state)
{
	(void)state;
	const char *text =
		"program ctl\n"
		"arena 64\n"
		"buffer t: arena i32[4] @ 48 align 16\n"
		"buffer y: output i32[6] align 16\n"
		"# sums\n"
		"for i in 0..4 {\n"
		"  let s: i32 = 0\n"
		"  for j in 0..add(i, 1) {\n"
		"    if eq(rem(j, 2), 0) {\n"
		"      set s = add(s, j)\n"
		"    } else {\n"
		"      let tmp: i32 = mul(j, 10)\n"
		"      set s = add(s, tmp)\n"
		"    }\n"
		"  }\n"
		"  store t[i] = s\n"
		"}\n"
		"for k in 0..6 step 4 {\n"
		"  store y[k] = 1\n"
		"}\n"
		"for m in 0..4 {\n"
		"  store y[add(m, 1)] = load t[m]\n"
		"}\n";
	LProgram *p = parse_ok(text);
	verify_ok(p);
	LProgram *q = roundtrip(p);
	loop_free(q);
	int32_t y[6];
	memset(y, 0, sizeof y);
	eval_ok(p, NULL, y);
	int32_t ey[6] = {1, 0, 10, 12, 42, 0}; /* y[4] = 1 then overwritten by t[3] */
	assert_memory_equal(y, ey, sizeof ey);
	assert_string_equal(p->body.v[0]->label, "sums");
	loop_free(p);
}

/* ---- parser errors -------------------------------------------------------- */

static void test_parse_errors(void **state)
{
	(void)state;
	parse_fails("", "t.loop:1:1: expected 'program', found end of input");
	parse_fails("program p\nbuffer x: input f32[4] align 16\nfor i in 0..4 {\n  store x[i] = \n}\n",
	            "t.loop:5:1: expected an expression, found '}'");
	parse_fails("program p\nfor i in 0 4 {\n}\n", "t.loop:2:12: expected '..', found '4'");
	parse_fails("program p\nlet a: f32 = b\n", "t.loop:2:14: undeclared variable 'b'");
	parse_fails("program p\nlet a: f32 = a\n", "undeclared variable 'a'");
	parse_fails("program p\nlet a: f32 = 0:f32\nlet a: f32 = 1:f32\n", "t.loop:3:5: variable 'a' is already declared");
	parse_fails("program p\nstore q[0] = 1\n", "2:7: unknown buffer 'q'");
	parse_fails("program p\nbuffer x: heap f32[4]\n", "expected a buffer kind (const, arena, input, output), found 'heap'");
	parse_fails("program p\nbuffer x: const f33[4]\n", "expected a type");
	parse_fails("program p\nlet a: f32 = 1.5:i32\n", "expected a float type");
	parse_fails("program p\nlet a: i64 = 99999999999999999999:i64\n", "out of range");
	parse_fails("program p\nlet a: f32 = nan\n", "expected ':' and a float type after inf or nan");
	parse_fails("program p\nlet load: i32 = 0\n", "expected a variable name, found 'load'");
	parse_fails("program p\nlet a: i32 = \"b\n", "2:14: expected an expression, found an unterminated string");
	parse_fails("program p\nlet a: i32 = $\n", "expected an expression, found character '$'");
	parse_fails("program p\nfor i in 0..4 step 0 {\n}\n", "step of a for must be positive");
	/* nounroll comes after the step, once */
	parse_fails("program p\nfor i in 0..4 nounroll step 2 {\n}\n", "t.loop:2:24: expected '{', found 'step'");
	parse_fails("program p\nfor i in 0..4 nounroll nounroll {\n}\n", "t.loop:2:24: expected '{', found 'nounroll'");
	parse_fails("program p\nfor i in 0..4 {\n", "expected a statement or '}', found end of input");
	parse_fails("program p\nbuffer x: const f32[4] align 3\nbuffer x: const f32[4]\n", "already declared");
	/* nesting is capped, not a stack overflow */
	size_t n = 100000;
	char *deep = malloc(n * 5 + 64);
	strcpy(deep, "program p\nlet a: i32 = ");
	for (size_t i = 0; i < n; i++)
		strcat(deep + strlen(deep) - (i ? 4 : 0), "neg(");
	parse_fails(deep, "nesting deeper than");
	free(deep);
}

/* ---- verifier errors ---------------------------------------------------- */

static void test_verify_errors(void **state)
{
	(void)state;
	const char *hdr = "program p\narena 64\nbuffer w: const f32[4] align 16\nbuffer x: input f32[4] align 16\n"
	                  "buffer t: arena f32[4] @ 0 align 16\nbuffer y: output f32[4] align 16\n";
	char buf[2048];
#define VF(body, msg) (snprintf(buf, sizeof buf, "%s%s", hdr, body), verify_fails(buf, msg))
	VF("# conv\nfor i in 0..4 {\n  store y[i] = add(load x[i], 1)\n}\n",
	   "conv: body[0].body[0]: add operands are f32 and i32, expected equal types");
	VF("# conv\nfor i in 0..4 {\n  if lt(i, 2) {\n  } else {\n    store w[i] = 0:f32\n  }\n}\n",
	   "conv: body[0].body[0].else[0]: store to const buffer 'w'");
	VF("store x[0] = 0:f32\n", "body[0]: store to input buffer 'x'");
	VF("store y[0] = 0\n", "value stored to 'y' is i32, expected f32");
	VF("store y[0:i64] = 0:f32\n", "index of store to 'y' is i64, expected i32");
	VF("store y[4] = 0:f32\n", "store to 'y' at constant index 4, expected 0..3");
	VF("for i in 0..4 {\n  set i = 0\n}\n", "set of loop variable 'i'");
	VF("for i in 0..4 {\n  let a: f32 = 0:f32\n}\nstore y[0] = a\n", "variable 'a' used out of scope");
	VF("if 1 {\n}\n", "if condition is i32, expected i1");
	VF("store y[0] = select(1:i1, 1:f32, 1:f64)\n", "select arms are f32 and f64");
	VF("store y[0] = cast<f32>(exp(1))\n", "exp of a i32 operand, expected a float operand");
	VF("store y[0] = cast<f32>(trunc(7:i16))\n", "trunc of a i16 operand, expected a float operand");
	VF("store y[0] = cast<f32>(pow(1, 2))\n", "pow of i32 operands, expected float operands");
	VF("store y[0] = cast<f32>(shl(1:i1, 1:i1))\n", "shl of i1 operands, expected integer operands");
	VF("store y[0] = cast<f32>(not(1:f32))\n", "not of a f32 operand");
	VF("store y[0] = cast<f32>(300:i8)\n", "constant 300 out of range for i8");
	VF("for i in 0:i64..4 {\n}\n", "for lower bound is i64, expected i32");
	VF("store y[0] = cast<f32>(dot2(1:i16, 2:i16))\n", "dot2 of i16 operands, expected i32 operands");
	VF("store y[0] = cast<f32>(sxtb16(1:i64))\n", "sxtb16 of a i64 operand, expected an i32 operand");
	VF("store y[0] = cast<f32>(sxtb16h(1:i8))\n", "sxtb16h of a i8 operand, expected an i32 operand");
#undef VF
	verify_fails("program p\narena 16\nbuffer t: arena f32[8] @ 0 align 16\n",
	             "arena buffer 't' at 0..32 overflows the arena of 16 bytes");
	verify_fails("program p\narena 64\nbuffer t: arena f32[8] @ 4 align 16\n",
	             "at offset 4, expected a multiple of its align 16");
	verify_fails("program p\narena 64\nbuffer t: arena f32[8] align 16\n", "arena buffer 't' has no offset");
	verify_fails("program p\nbuffer t: arena f32[0] align 16\n", "0 elements, expected 1..2^31-1");
	verify_fails("program p\nbuffer t: arena f32[4] align 12\n", "align 12, expected a power of two");

	/* API-built programs: a variable declared twice, a let of a loop var */
	LProgram *p = loop_new("p");
	int a = loop_add_var(p, "a", LT_I32, 0);
	int i = loop_add_var(p, "i", LT_I32, 1);
	ls_let(p, &p->body, a, le_i32(p, 0));
	ls_let(p, &p->body, a, le_i32(p, 0));
	ls_let(p, &p->body, i, le_i32(p, 0));
	ls_let(p, &p->body, a, le_float(p, LT_F32, 0));
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_verify(p, &d), -1);
	assert_msg(&d, "body[1]: variable 'a' declared twice");
	assert_msg(&d, "body[2]: let of loop variable 'i'");
	assert_msg(&d, "body[3]: value of let is f32, expected i32");
	diag_free(&d);
	loop_free(p);
}

/* ---- interpreter errors --------------------------------------------------- */

static void test_eval_errors(void **state)
{
	(void)state;
	float x[4] = {1, 2, 3, 4}, y[4];
	eval_fails("program p\nbuffer x: input f32[4] align 16\nbuffer y: output f32[4] align 16\n"
	           "# shift (Pad)\nfor i in 0..4 {\n  store y[i] = load x[add(i, 1)]\n}\n",
	           x, y, "loop_eval: shift (Pad) (body[0]): load from 'x' at index 4, expected 0..3");
	eval_fails("program p\nbuffer y: output f32[4] align 16\nfor i in 0..5 {\n  store y[i] = 0:f32\n}\n", x, y,
	           "body[0]: store to 'y' at index 4, expected 0..3");
	/* select evaluates both arms: it cannot guard a fault */
	eval_fails("program p\nbuffer y: output i32[1] align 16\nlet z: i32 = 0\n"
	           "store y[0] = select(eq(z, 0), 0, div(1, z))\n", NULL, y, "integer division by zero");
	/* an unplanned program (no offsets, no arena size) runs with its own layout */
	LProgram *u = parse_ok("program u\nbuffer a: arena f32[3] align 16\nbuffer b: arena i8[5] align 1\n"
	                       "buffer y: output f32[3] align 16\n"
	                       "for i in 0..3 {\n  store a[i] = cast<f32>(i)\n  store b[i] = -1:i8\n}\n"
	                       "for j in 0..3 {\n  store y[j] = add(load a[j], cast<f32>(load b[j]))\n}\n");
	verify_ok(u);
	float uy[3];
	eval_ok(u, NULL, uy);
	assert_true(uy[0] == -1.0f && uy[1] == 0.0f && uy[2] == 1.0f);
	loop_free(u);
	/* a step that would overflow the loop counter ends the loop */
	LProgram *st = parse_ok("program s\nbuffer y: output i32[1] align 16\n"
	                        "for i in 2147483646..2147483647 step 9223372036854775807 {\n"
	                        "  store y[0] = add(load y[0], 1)\n}\n");
	int32_t sy[1] = {0};
	eval_ok(st, NULL, sy);
	assert_int_equal(sy[0], 1);
	loop_free(st);
	/* an invalid program is not run */
	LProgram *p = parse_ok("program p\nbuffer y: output f32[4] align 16\nstore y[0] = 1\n");
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_eval(p, x, y, &d), -1);
	assert_msg(&d, "value stored to 'y' is i32, expected f32");
	diag_free(&d);
	loop_free(p);
}

/* ---- golden files -------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	size_t got = fread(s, 1, (size_t)n, f);
	s[got] = 0;
	fclose(f);
	return s;
}

static void test_golden(void **state)
{
	(void)state;
	const char *dir = NNL_SOURCE_DIR "/test/loop";
	DIR *dd = opendir(dir);
	assert_non_null(dd);
	int count = 0;
	struct dirent *de;
	while ((de = readdir(dd))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".loop") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		char *text = slurp(path);
		assert_non_null(text);
		Diag d;
		diag_init(&d);
		LProgram *p = loop_parse(text, path, &d);
		if (!p)
			print_diag(&d);
		assert_non_null(p);
		char *again = loop_print(p);
		if (strcmp(text, again))
			fprintf(stderr, "%s is not canonical; printed:\n%s", path, again);
		assert_string_equal(text, again);
		verify_ok(p);
		/* run with inputs 0, 1, 2, ... and check the output is finite */
		int64_t in_bytes = 0, out_bytes = 0;
		for (int i = 0; i < p->n_bufs; i++) {
			int64_t b = p->bufs[i].numel * ((ltype_bits(p->bufs[i].type) + 7) / 8);
			if (p->bufs[i].kind == LB_INPUT)
				in_bytes += b;
			if (p->bufs[i].kind == LB_OUTPUT)
				out_bytes += b;
		}
		unsigned char *in = calloc(1, (size_t)in_bytes + 1), *out = calloc(1, (size_t)out_bytes + 1);
		for (int64_t i = 0; i < in_bytes / 4; i++)
			((float *)in)[i] = (float)(i % 7) - 3.0f;
		eval_ok(p, in, out);
		free(in);
		free(out);
		free(again);
		free(text);
		loop_free(p);
		diag_free(&d);
		count++;
	}
	closedir(dd);
	assert_true(count >= 2);
}

/* ---- hostile input: truncations, corruptions, failed allocations -------- */

static void test_hostile(void **state)
{
	(void)state;
	float w[OUT * IN] = {0}, b[OUT] = {0};
	LProgram *p = build_dense(w, b);
	char *text = loop_print(p);
	size_t n = strlen(text);
	char *t = malloc(n + 1);
	unsigned seed = 12345;
	const char junk[] = "\0\"#{}[]()<>:=,.@-9ex\n \\\x80\xff";
	for (size_t cut = 0; cut <= n; cut++) {
		memcpy(t, text, cut);
		t[cut] = 0;
		Diag d;
		diag_init(&d);
		LProgram *q = loop_parse(t, "cut.loop", &d);
		if (q) {
			Diag d2;
			diag_init(&d2);
			loop_verify(q, &d2);
			diag_free(&d2);
		}
		assert_true(q != NULL || d.n == 1);
		loop_free(q);
		diag_free(&d);
	}
	for (int k = 0; k < 4000; k++) {
		memcpy(t, text, n + 1);
		for (int m = 0; m < 3; m++) {
			seed = seed * 1103515245u + 12345u;
			size_t pos = (seed >> 8) % n;
			seed = seed * 1103515245u + 12345u;
			t[pos] = junk[(seed >> 8) % (sizeof junk - 1)];
		}
		Diag d;
		diag_init(&d);
		LProgram *q = loop_parse(t, "fuzz.loop", &d);
		if (q) {
			char *again = loop_print(q);
			LProgram *r = loop_parse(again, "fuzz2.loop", &d);
			assert_non_null(r);
			char *third = loop_print(r);
			assert_string_equal(again, third);
			Diag d2;
			diag_init(&d2);
			if (loop_verify(q, &d2) == 0) {
				float x[IN] = {0}, y[OUT];
				loop_eval(q, x, y, &d2);
			}
			diag_free(&d2);
			free(again);
			free(third);
			loop_free(r);
		}
		loop_free(q);
		diag_free(&d);
	}
	/* fail the n-th allocation, for every n until the parse succeeds */
	for (long k = 1;; k++) {
		Diag d;
		diag_init(&d);
		nnl_fail_alloc_after(k);
		LProgram *q = loop_parse(text, "oom.loop", &d);
		nnl_fail_alloc_after(0);
		diag_free(&d);
		if (q) {
			loop_free(q);
			break;
		}
		assert_true(k < 10000);
	}
	free(t);
	free(text);
	loop_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense_relu),
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_casts),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_verify_errors),
		cmocka_unit_test(test_eval_errors),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
