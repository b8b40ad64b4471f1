/* test_cbackend.c — the C backend (codegen/c): loop programs → C → compiled
 * with the host's C compilers (cc, gcc, clang-19 when installed) at
 * -std=c99 -Wall -Wextra -pedantic -Wshadow -Werror → run → every output
 * compared with loop_eval (ir/loop_eval.c, the reference) bit for bit (NaN
 * equals NaN). Programs are written in the loop IR's text form (loop_parse),
 * and cover the semantics C does not give directly: IEEE maximum/minimum
 * with NaN and -0, round half to even, saturating casts, integer wrap-around
 * of every width, shifts, division (INT_MIN / -1), loops whose increment
 * would pass INT32_MAX, a bound the body changes, select/if, i1 and the
 * comparisons at the ends of a type's range. Where loop_eval reports an
 * error (division by zero, a shift out of range, a plain cast of NaN) the C
 * output is compared with the LLVM backend's object instead: both define
 * the same results there. arm-none-eabi-gcc (Cortex-M4F) must compile every
 * program without a warning too. Names that are C keywords, libm functions
 * or macros must come out as valid, non-shadowing identifiers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c/c_backend.h"
#include "codegen.h"
#include "loop.h"
#include "targets.h"

static char tmpdir[256];
static int ncc;
static const char *ccs[4];

static int have(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/nnl-test-cbackend-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	static const char *const cands[] = {"cc", "gcc", "clang-19"};
	for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
		if (have(cands[i]))
			ccs[ncc++] = cands[i];
	return ncc ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void print_diag(const Diag *d)
{
	for (int i = 0; i < d->n; i++)
		fprintf(stderr, "diag: %s\n", d->msgs[i]);
}

static LProgram *parse(const char *text)
{
	Diag d;
	diag_init(&d);
	LProgram *p = loop_parse(text, "test", &d);
	print_diag(&d);
	diag_free(&d);
	assert_non_null(p);
	return p;
}

static const LBuf *io(const LProgram *p, LBufKind k)
{
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == k)
			return &p->bufs[i];
	return NULL;
}

static size_t bytes_of(const LBuf *b) { return (size_t)b->numel * (size_t)(ltype_bits(b->type) < 8 ? 1 : ltype_bits(b->type) / 8); }

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* m.c + m.h for p in tmpdir; returns the C text (caller frees). */
static char *emit(const LProgram *p)
{
	Diag d;
	diag_init(&d);
	CgCOptions o = {.prefix = "m", .producer = "test_cbackend"};
	size_t len;
	char *s = cg_c_text(p, &o, &len, &d);
	print_diag(&d);
	assert_non_null(s);
	char path[512];
	snprintf(path, sizeof path, "%s/m.c", tmpdir);
	write_file(path, s, len);
	snprintf(path, sizeof path, "%s/m.h", tmpdir);
	assert_int_equal(cg_write_header(p, "m", NULL, NULL, path, &d), 0);
	diag_free(&d);
	return s;
}

/* The driver: reads in.bin, runs m_run, writes out.bin; exit status = run's. */
static void write_driver(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/driver.c", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("#include <stdio.h>\n#include <string.h>\n#include \"m.h\"\n"
	      "static m_input_t in[M_INPUT_SIZE];\nstatic m_output_t out[M_OUTPUT_SIZE];\n"
	      "static _Alignas(64) unsigned char arena[M_ARENA_BYTES + 64];\n"
	      "int main(int argc, char **argv)\n{\n"
	      "\tFILE *f = fopen(argv[1], \"rb\");\n"
	      "\tif (!f || fread(in, 1, M_INPUT_BYTES, f) != M_INPUT_BYTES)\n\t\treturn 90;\n\tfclose(f);\n"
	      "\tif (argc > 3) /* status checks: NULL input, misaligned arena */\n"
	      "\t\treturn m_run(NULL, out, arena) * 10 + (M_ARENA_ALIGN > 1 ? m_run(in, out, arena + 1) : 2);\n"
	      "\tint s = m_run(in, out, arena);\n"
	      "\tf = fopen(argv[2], \"wb\");\n"
	      "\tif (!f || fwrite(out, 1, M_OUTPUT_BYTES, f) != M_OUTPUT_BYTES)\n\t\treturn 91;\n\tfclose(f);\n"
	      "\treturn s;\n}\n",
	      f);
	fclose(f);
}

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* Compile m.c with compiler cc (or link obj instead of m.c), run on input,
 * read the output into out. */
static void build_run(const char *cc, const char *obj, const void *in, size_t in_bytes, void *out, size_t out_bytes)
{
	char path[512];
	write_driver();
	snprintf(path, sizeof path, "%s/in.bin", tmpdir);
	write_file(path, in, in_bytes);
	if (!obj)
		assert_int_equal(sh("cd '%s' && %s -std=c99 -Wall -Wextra -pedantic -Wshadow -Werror -O2 -c m.c -o m.o", tmpdir,
		                    cc),
		                 0);
	assert_int_equal(sh("cd '%s' && %s -std=c11 -O1 -c driver.c -o driver.o && %s driver.o %s -lm -o run", tmpdir, cc, cc,
	                    obj ? obj : "m.o"),
	                 0);
	assert_int_equal(sh("cd '%s' && ./run in.bin out.bin", tmpdir), 0);
	snprintf(path, sizeof path, "%s/out.bin", tmpdir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(out, 1, out_bytes, f), out_bytes);
	fclose(f);
}

/* a and b equal element by element (float NaNs of any payload are equal) */
static int same(LType t, const unsigned char *a, const unsigned char *b, size_t n, size_t *at)
{
	int es = ltype_bits(t) < 8 ? 1 : ltype_bits(t) / 8;
	for (size_t i = 0; i < n; i += (size_t)es) {
		if (t == LT_F32) {
			float x, y;
			memcpy(&x, a + i, 4);
			memcpy(&y, b + i, 4);
			if (x != x && y != y)
				continue;
		} else if (t == LT_F64) {
			double x, y;
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != x && y != y)
				continue;
		}
		if (memcmp(a + i, b + i, (size_t)es)) {
			*at = i / (size_t)es;
			return 0;
		}
	}
	return 1;
}

static void expect_same(const LProgram *p, const unsigned char *ref, const unsigned char *got, const char *what)
{
	const LBuf *ob = io(p, LB_OUTPUT);
	size_t at = 0;
	if (!same(ob->type, ref, got, bytes_of(ob), &at)) {
		int es = ltype_bits(ob->type) < 8 ? 1 : ltype_bits(ob->type) / 8;
		uint64_t r = 0, g = 0;
		memcpy(&r, ref + at * (size_t)es, (size_t)es);
		memcpy(&g, got + at * (size_t)es, (size_t)es);
		fail_msg("%s: output[%zu] is 0x%llx, expected 0x%llx", what, at, (unsigned long long)g, (unsigned long long)r);
	}
}

/* Cortex-M4F: the same file compiles without a warning. */
static void cross_compile(void)
{
	if (!have("arm-none-eabi-gcc"))
		return;
	assert_int_equal(sh("cd '%s' && arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 "
	                    "-std=c99 -Wall -Wextra -pedantic -Wshadow -Werror -O2 -c m.c -o m_m4.o",
	                    tmpdir),
	                 0);
}

/* p (text) on input in: C from every host compiler == loop_eval. */
static void check_eval(const char *text, const void *in)
{
	LProgram *p = parse(text);
	const LBuf *ib = io(p, LB_INPUT), *ob = io(p, LB_OUTPUT);
	size_t nin = bytes_of(ib), nout = bytes_of(ob);
	unsigned char *ref = calloc(1, nout), *got = calloc(1, nout);
	Diag d;
	diag_init(&d);
	int rc = loop_eval(p, in, ref, &d);
	print_diag(&d);
	diag_free(&d);
	assert_int_equal(rc, 0);
	free(emit(p));
	cross_compile();
	for (int k = 0; k < ncc; k++) {
		memset(got, 0xa5, nout);
		build_run(ccs[k], NULL, in, nin, got, nout);
		expect_same(p, ref, got, ccs[k]);
	}
	free(ref);
	free(got);
	loop_free(p);
}

/* p (text) on input in: C == the LLVM backend's x86-64 object (inputs where
 * loop_eval reports an error and both backends define a result). */
static void check_llvm(const char *text, const void *in)
{
	LProgram *p = parse(text);
	const LBuf *ib = io(p, LB_INPUT), *ob = io(p, LB_OUTPUT);
	size_t nin = bytes_of(ib), nout = bytes_of(ob);
	unsigned char *ref = calloc(1, nout), *got = calloc(1, nout);
	Diag d;
	diag_init(&d);
	CgOptions o = {.target = target_find("x86-64"), .opt = CG_O2, .filetype = CG_FILE_OBJ, .prefix = "m"};
	char obj[512];
	snprintf(obj, sizeof obj, "%s/m_llvm.o", tmpdir);
	int rc = cg_compile(p, &o, obj, &d);
	print_diag(&d);
	diag_free(&d);
	assert_int_equal(rc, 0);
	free(emit(p));
	cross_compile();
	build_run(ccs[0], obj, in, nin, ref, nout);
	for (int k = 0; k < ncc; k++) {
		build_run(ccs[k], NULL, in, nin, got, nout);
		expect_same(p, ref, got, ccs[k]);
	}
	free(ref);
	free(got);
	loop_free(p);
}

/* ---- tests ---------------------------------------------------------------- */

static const float specials[] = {
	NAN, 1.0f, -0.0f, 0.0f, 0.0f, -0.0f, 2.5f, -2.5f, INFINITY, -INFINITY, -INFINITY, NAN, 3.0f, 3.0f, -1.5f, 1e-40f,
};

static void test_float_min_max(void **state)
{
	check_eval("program minmax\n"
	           "buffer x: input f32[16] align 16\n"
	           "buffer y: output f32[32] align 16\n"
	           "for i in 0..8 {\n"
	           "  let a: f32 = load x[mul(i, 2)]\n"
	           "  let b: f32 = load x[add(mul(i, 2), 1)]\n"
	           "  store y[i] = max(a, b)\n"
	           "  store y[add(i, 8)] = min(a, b)\n"
	           "  store y[add(i, 16)] = max(b, a)\n"
	           "  store y[add(i, 24)] = min(b, -0:f32)\n"
	           "}\n",
	           specials);
	check_eval("program minmax64\n"
	           "buffer x: input f32[16] align 16\n"
	           "buffer y: output f64[16] align 16\n"
	           "for i in 0..8 {\n"
	           "  let a: f64 = cast<f64>(load x[mul(i, 2)])\n"
	           "  let b: f64 = cast<f64>(load x[add(mul(i, 2), 1)])\n"
	           "  store y[i] = max(a, b)\n"
	           "  store y[add(i, 8)] = min(a, b)\n"
	           "}\n",
	           specials);
}

static const float round_in[] = {
	0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.49999997f, -0.49999997f, 8388607.5f, -8388607.5f, 8388608.0f,
	16777217.0f, 1e30f, -1e30f, NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 2.4f, -2.6f, 126.5f, 127.5f, 128.5f,
	-128.5f, -129.5f, 255.5f, 256.5f, 32767.5f, -32768.5f, 65535.5f, 2147483520.0f,
};

static void test_round_and_saturating_casts(void **state)
{
	/* y[k*9 + j]: round, then cast_sat to each integer type, widened to i64 */
	check_eval("program sat\n"
	           "buffer x: input f32[32] align 16\n"
	           "buffer y: output i64[320] align 16\n"
	           "for i in 0..32 {\n"
	           "  let v: f32 = load x[i]\n"
	           "  let o: i32 = mul(i, 10)\n"
	           "  store y[o] = cast<i64>(cast_sat<i8>(v))\n"
	           "  store y[add(o, 1)] = cast<i64>(cast_sat<u8>(v))\n"
	           "  store y[add(o, 2)] = cast<i64>(cast_sat<i16>(v))\n"
	           "  store y[add(o, 3)] = cast<i64>(cast_sat<u16>(v))\n"
	           "  store y[add(o, 4)] = cast<i64>(cast_sat<i32>(v))\n"
	           "  store y[add(o, 5)] = cast_sat<i64>(v)\n"
	           "  store y[add(o, 6)] = cast<i64>(cast_sat<i1>(v))\n"
	           "  store y[add(o, 7)] = cast_sat<i64>(cast<f64>(v))\n"
	           "  store y[add(o, 8)] = cast<i64>(cast_sat<i8>(cast<f64>(v)))\n"
	           "  store y[add(o, 9)] = cast<i64>(cast_sat<u16>(cast<f64>(v)))\n"
	           "}\n",
	           round_in);
	check_eval("program rnd\n"
	           "buffer x: input f32[32] align 16\n"
	           "buffer y: output f32[96] align 16\n"
	           "for i in 0..32 {\n"
	           "  let v: f32 = load x[i]\n"
	           "  store y[i] = round(v)\n"
	           "  store y[add(i, 32)] = cast<f32>(round(cast<f64>(mul(v, 0.5:f32))))\n"
	           "  store y[add(i, 64)] = add(floor(v), ceil(v))\n"
	           "}\n",
	           round_in);
}

static const int32_t ints[] = {
	INT32_MIN, -1, INT32_MAX, 1, 7, -3, -7, 3, 200, 100, -200, 100, 40000, 3, -40000, 5, 65535, 65535, 0x12345678, 31,
	-129, 127, 128, -128, 255, 256, 0x7fff, 0x8000, -0x8000, -1, INT32_MIN, 1, 1000000, 1000000, -5, 33,
};
enum { NINT_PAIRS = sizeof ints / sizeof ints[0] / 2 };

/* ops on every integer type: y[i*K + k] = cast<i64>(op(cast<T>(a), cast<T>(b))) */
static void int_program(char *buf, size_t size, const char *type, int bits)
{
	int n = snprintf(buf, size,
	                 "program ints_%s\n"
	                 "buffer x: input i32[%d] align 16\n"
	                 "buffer y: output i64[%d] align 16\n"
	                 "for i in 0..%d {\n"
	                 "  let a: %s = cast<%s>(load x[mul(i, 2)])\n"
	                 "  let b: %s = cast<%s>(load x[add(mul(i, 2), 1)])\n"
	                 "  let nz: %s = select(eq(b, 0:%s), 1:%s, b)\n"
	                 "  let sh: %s = and(b, %d:%s)\n"
	                 "  let o: i32 = mul(i, 16)\n",
	                 type, NINT_PAIRS * 2, NINT_PAIRS * 16, NINT_PAIRS, type, type, type, type, type, type, type, type,
	                 bits - 1, type);
	static const char *const ops[] = {
		"add(a, b)", "sub(a, b)", "mul(a, b)", "neg(a)", "abs(a)", "div(a, nz)", "rem(a, nz)", "shl(a, sh)",
		"shr(a, sh)", "min(a, b)", "max(a, b)", "not(a)", "xor(a, b)", "and(a, or(b, 3:T))",
		"cast<i64>(lt(a, b))", "cast<i64>(ge(a, b))",
	};
	for (int k = 0; k < 16; k++) {
		char op[64];
		snprintf(op, sizeof op, "%s", ops[k]);
		char *t = strstr(op, ":T");
		if (t) {
			char rest[64];
			snprintf(rest, sizeof rest, "%s", t + 2);
			snprintf(t, sizeof op - (size_t)(t - op), ":%s%s", type, rest);
		}
		int cast = !strncmp(op, "cast", 4);
		n += snprintf(buf + n, size - (size_t)n, "  store y[add(o, %d)] = %s%s%s\n", k, cast ? "" : "cast<i64>(", op,
		              cast ? "" : ")");
	}
	snprintf(buf + n, size - (size_t)n, "}\n");
}

static void test_integer_wrap_every_width(void **state)
{
	static const struct {
		const char *t;
		int bits;
	} ts[] = {{"i8", 8}, {"u8", 8}, {"i16", 16}, {"u16", 16}, {"i32", 32}, {"i64", 64}};
	char text[4096];
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		int_program(text, sizeof text, ts[i].t, ts[i].bits);
		check_eval(text, ints);
	}
}

static void test_integer_casts(void **state)
{
	/* plain casts wrap, sat casts clamp to the intersection of both ranges */
	check_eval("program icast\n"
	           "buffer x: input i32[36] align 16\n"
	           "buffer y: output i32[432] align 16\n"
	           "for i in 0..36 {\n"
	           "  let v: i32 = load x[i]\n"
	           "  let o: i32 = mul(i, 12)\n"
	           "  store y[o] = cast<i32>(cast<i8>(v))\n"
	           "  store y[add(o, 1)] = cast<i32>(cast<u8>(v))\n"
	           "  store y[add(o, 2)] = cast<i32>(cast<i16>(v))\n"
	           "  store y[add(o, 3)] = cast<i32>(cast<u16>(v))\n"
	           "  store y[add(o, 4)] = cast<i32>(cast_sat<i8>(v))\n"
	           "  store y[add(o, 5)] = cast<i32>(cast_sat<u8>(v))\n"
	           "  store y[add(o, 6)] = cast<i32>(cast_sat<u16>(cast<i16>(v)))\n"
	           "  store y[add(o, 7)] = cast<i32>(cast_sat<i8>(cast<u16>(v)))\n"
	           "  store y[add(o, 8)] = cast<i32>(cast<i1>(v))\n"
	           "  store y[add(o, 9)] = cast<i32>(cast_sat<i1>(v))\n"
	           "  store y[add(o, 10)] = cast<i32>(cast<i16>(cast<u8>(cast<i8>(v))))\n"
	           "  store y[add(o, 11)] = cast<i32>(cast<u16>(cast<i64>(cast<i8>(v))))\n"
	           "}\n",
	           ints);
}

/* dot2, sxtb16, sxtb16h and the add(acc, dot2) SMLAD form on every pair of
 * inputs: portable helpers on the host, the ACLE intrinsics where
 * arm-none-eabi-gcc compiles for the Cortex-M4 (compile-only there). */
static void test_packed_pairs(void **state)
{
	check_eval("program pairs\n"
	           "buffer x: input i32[36] align 16\n"
	           "buffer y: output i32[180] align 16\n"
	           "for i in 0..36 {\n"
	           "  let a: i32 = load x[i]\n"
	           "  let b: i32 = load x[rem(add(mul(i, 7), 3), 36)]\n"
	           "  let o: i32 = mul(i, 5)\n"
	           "  store y[o] = dot2(a, b)\n"
	           "  store y[add(o, 1)] = add(a, dot2(b, a))\n"
	           "  store y[add(o, 2)] = add(dot2(a, a), b)\n"
	           "  store y[add(o, 3)] = sxtb16(a)\n"
	           "  store y[add(o, 4)] = sxtb16h(b)\n"
	           "}\n",
	           ints);
}

static void test_loops_near_int32_max(void **state)
{
	/* constant bounds: step 3 from INT32_MAX - 7 (3 trips, the 4th increment
	 * would overflow); the full i32 range with step 2^31-1 (3 trips); a
	 * dynamic bound read from the input; a bound the body changes (read once) */
	static const int32_t in[4] = {2147483600, 2147483647, 5, 0};
	check_eval("program big\n"
	           "buffer x: input i32[4] align 16\n"
	           "buffer y: output i32[16] align 16\n"
	           "let n: i32 = 0\n"
	           "for i in 2147483640..2147483647 step 3 {\n"
	           "  store y[n] = i\n"
	           "  set n = add(n, 1)\n"
	           "}\n"
	           "let m: i32 = 0\n"
	           "for j in -2147483648..2147483647 step 2147483647 {\n"
	           "  store y[add(4, m)] = j\n"
	           "  set m = add(m, 1)\n"
	           "}\n"
	           "let c: i32 = 0\n"
	           "for k in load x[0]..load x[1] step 16 {\n"
	           "  set c = add(c, 1)\n"
	           "}\n"
	           "store y[8] = c\n"
	           "let lim: i32 = load x[2]\n"
	           "let t: i32 = 0\n"
	           "for q in 0..lim {\n"
	           "  set lim = add(lim, 1)\n"
	           "  set t = add(t, q)\n"
	           "}\n"
	           "store y[9] = t\n"
	           "store y[10] = lim\n"
	           "for r in 2147483645..2147483647 {\n"
	           "  store y[sub(r, 2147483634)] = r\n"
	           "}\n"
	           "store y[13] = n\n"
	           "store y[14] = m\n"
	           "store y[15] = 0\n",
	           in);
}

static const float math_in[] = {0.5f, -0.75f, 2.0f, 10.0f, -3.25f, 1e-3f, 88.0f, -100.0f};

static void test_float_math_and_constants(void **state)
{
	check_eval("program fmath\n"
	           "buffer x: input f32[8] align 16\n"
	           "buffer y: output f32[120] align 16\n"
	           "for i in 0..8 {\n"
	           "  let v: f32 = load x[i]\n"
	           "  let o: i32 = mul(i, 15)\n"
	           "  store y[o] = exp(v)\n"
	           "  store y[add(o, 1)] = log(abs(v))\n"
	           "  store y[add(o, 2)] = sqrt(abs(v))\n"
	           "  store y[add(o, 3)] = tanh(v)\n"
	           "  store y[add(o, 4)] = erf(v)\n"
	           "  store y[add(o, 5)] = pow(abs(v), 0.333333343:f32)\n"
	           "  store y[add(o, 6)] = rem(v, 0.300000012:f32)\n"
	           "  store y[add(o, 7)] = neg(sub(v, -0:f32))\n"
	           "  store y[add(o, 8)] = div(add(mul(v, v), 1e-05:f32), 3:f32)\n"
	           "  store y[add(o, 9)] = select(ne(v, v), nan:f32, select(gt(v, 50:f32), inf:f32, -inf:f32))\n"
	           "  store y[add(o, 10)] = cast<f32>(add(mul(cast<f64>(v), 0.1:f64), 1e300:f64))\n"
	           "  store y[add(o, 11)] = cast<f32>(exp(cast<f64>(v)))\n"
	           "  store y[add(o, 12)] = cast<f32>(tanh(cast<f64>(v)))\n"
	           "  store y[add(o, 13)] = cast<f32>(cast<i32>(v))\n"
	           "  store y[add(o, 14)] = mul(v, -0.125:f32)\n"
	           "}\n",
	           math_in);
}

static void test_select_if_i1_and_range_ends(void **state)
{
	static const int32_t in[8] = {0, 1, -1, 255, 65535, 70000, -70000, 12};
	check_eval("program logic\n"
	           "arena 64\n"
	           "buffer x: input i32[8] align 16\n"
	           "buffer flags: arena i1[8] @ 0 align 16\n"
	           "buffer y: output i32[48] align 16\n"
	           "for i in 0..8 {\n"
	           "  let v: i32 = load x[i]\n"
	           "  let u: u16 = cast<u16>(v)\n"
	           "  let b: u8 = cast<u8>(v)\n"
	           "  let s: i8 = cast<i8>(v)\n"
	           "  store flags[i] = or(lt(v, 0), eq(and(v, 1), 1))\n"
	           "  let o: i32 = mul(i, 6)\n"
	           "  store y[o] = cast<i32>(lt(b, 0:u8))\n"
	           "  store y[add(o, 1)] = cast<i32>(le(u, 65535:u16))\n"
	           "  store y[add(o, 2)] = cast<i32>(gt(s, 127:i8))\n"
	           "  store y[add(o, 3)] = cast<i32>(ge(v, -2147483648))\n"
	           "  if load flags[i] {\n"
	           "    store y[add(o, 4)] = select(not(load flags[i]), 7, -7)\n"
	           "  } else {\n"
	           "    store y[add(o, 4)] = cast<i32>(xor(load flags[i], 1:i1))\n"
	           "  }\n"
	           "  store y[add(o, 5)] = cast<i32>(lt(cast<i64>(v), -9223372036854775808:i64))\n"
	           "}\n",
	           in);
}

static void test_arena_reuse_across_types(void **state)
{
	/* t (f32) and u (i32) share the arena bytes: may_alias keeps the order */
	static const float in[4] = {1.5f, -2.25f, 3.0f, 1e9f};
	check_eval("program reuse\n"
	           "arena 32\n"
	           "buffer x: input f32[4] align 16\n"
	           "buffer t: arena f32[4] @ 0 align 16\n"
	           "buffer u: arena i32[4] @ 0 align 16\n"
	           "buffer y: output f32[8] align 16\n"
	           "for i in 0..4 {\n"
	           "  store t[i] = mul(load x[i], 2:f32)\n"
	           "}\n"
	           "for i2 in 0..4 {\n"
	           "  store y[i2] = load t[sub(3, i2)]\n"
	           "}\n"
	           "for i3 in 0..4 {\n"
	           "  store u[i3] = cast_sat<i32>(load y[i3])\n"
	           "}\n"
	           "for i4 in 0..4 {\n"
	           "  store y[add(i4, 4)] = cast<f32>(add(load u[i4], 1))\n"
	           "}\n",
	           in);
}

static void test_names_become_identifiers(void **state)
{
	/* keywords, libm names, macros, the parameters' names and punctuation */
	static const float in[4] = {1.0f, 2.0f, 3.0f, 4.0f};
	LProgram *p = parse("program \"names\"\n"
	                    "arena 64\n"
	                    "buffer \"int\": input f32[4] align 16\n"
	                    "buffer y1: const f32[4] align 16\n"
	                    "buffer \"conv/1\": arena f32[4] @ 0 align 16\n"
	                    "buffer input: arena f32[4] @ 16 align 16\n"
	                    "buffer NAN: arena f32[4] @ 32 align 16\n"
	                    "buffer \"for\": output f32[4] align 16\n"
	                    "for \"exp\" in 0..4 {\n"
	                    "  let \"float\": f32 = load \"int\"[\"exp\"]\n"
	                    "  let m_run: f32 = load y1[\"exp\"]\n"
	                    "  let nnl_f32: f32 = 0:f32\n"
	                    "  let \"2x\": f32 = add(\"float\", m_run)\n"
	                    "  store \"conv/1\"[\"exp\"] = \"2x\"\n"
	                    "  store input[\"exp\"] = mul(\"2x\", 2:f32)\n"
	                    "  store NAN[\"exp\"] = add(load \"conv/1\"[\"exp\"], load input[\"exp\"])\n"
	                    "  store \"for\"[\"exp\"] = load NAN[\"exp\"]\n"
	                    "}\n");
	float w[4] = {0.5f, 0.25f, -1.0f, 8.0f};
	p->bufs[1].data = malloc(sizeof w);
	memcpy(p->bufs[1].data, w, sizeof w);
	char *text = emit(p);
	assert_null(strstr(text, " int ="));
	assert_non_null(strstr(text, "static const uint32_t v_y1[4]"));
	for (int k = 0; k < ncc; k++) {
		float ref[4], got[4];
		Diag d;
		diag_init(&d);
		assert_int_equal(loop_eval(p, in, ref, &d), 0);
		diag_free(&d);
		build_run(ccs[k], NULL, in, sizeof in, got, sizeof got);
		assert_memory_equal(ref, got, sizeof ref);
	}
	cross_compile();
	free(text);
	loop_free(p);
}

static void test_status_codes_and_unused(void **state)
{
	/* an unused let, an unused const buffer: no warning; NULL → 1, misaligned arena → 2 */
	static const float in[2] = {1.0f, 2.0f};
	LProgram *p = parse("program st\n"
	                    "arena 64\n"
	                    "buffer x: input f32[2] align 16\n"
	                    "buffer w: const f32[2] align 16\n"
	                    "buffer t: arena f32[2] @ 0 align 32\n"
	                    "buffer y: output f32[2] align 16\n"
	                    "let unused: f32 = 1:f32\n"
	                    "for i in 0..2 {\n"
	                    "  store t[i] = load x[i]\n"
	                    "  store y[i] = load t[i]\n"
	                    "}\n");
	char *text = emit(p);
	assert_null(strstr(text, "uint32_t w["));
	assert_non_null(strstr(text, "(void)unused;"));
	assert_non_null(strstr(text, "% 32u"));
	float got[2];
	build_run(ccs[0], NULL, in, sizeof in, got, sizeof got);
	assert_int_equal(sh("cd '%s' && ./run in.bin out.bin status; test $? -eq 12", tmpdir), 0);
	free(text);
	loop_free(p);
}

static void test_undefined_in_eval_matches_llvm(void **state)
{
	/* division by zero, INT_MIN / -1, shifts by >= the width, plain float ->
	 * int casts of NaN and out-of-range values: loop_eval stops, both
	 * backends define the same result */
	static const float fin[8] = {NAN, 1e10f, -1e10f, 3.7f, -3.7f, 300.0f, -300.0f, 70000.0f};
	check_llvm("program ub_f\n"
	           "buffer x: input f32[8] align 16\n"
	           "buffer y: output i32[48] align 16\n"
	           "for i in 0..8 {\n"
	           "  let v: f32 = load x[i]\n"
	           "  let o: i32 = mul(i, 6)\n"
	           "  store y[o] = cast<i32>(v)\n"
	           "  store y[add(o, 1)] = cast<i32>(cast<i8>(v))\n"
	           "  store y[add(o, 2)] = cast<i32>(cast<u8>(v))\n"
	           "  store y[add(o, 3)] = cast<i32>(cast<u16>(v))\n"
	           "  store y[add(o, 4)] = cast<i32>(cast<i64>(v))\n"
	           "  store y[add(o, 5)] = cast<i32>(cast<i1>(v))\n"
	           "}\n",
	           fin);
	check_llvm("program ub_i\n"
	           "buffer x: input i32[36] align 16\n"
	           "buffer y: output i32[144] align 16\n"
	           "for i in 0..18 {\n"
	           "  let a: i32 = load x[mul(i, 2)]\n"
	           "  let b: i32 = load x[add(mul(i, 2), 1)]\n"
	           "  let o: i32 = mul(i, 8)\n"
	           "  store y[o] = div(a, sub(b, b))\n"
	           "  store y[add(o, 1)] = rem(a, sub(b, b))\n"
	           "  store y[add(o, 2)] = div(a, -1)\n"
	           "  store y[add(o, 3)] = rem(a, -1)\n"
	           "  store y[add(o, 4)] = shl(a, b)\n"
	           "  store y[add(o, 5)] = shr(a, b)\n"
	           "  store y[add(o, 6)] = cast<i32>(shr(cast<u8>(a), cast<u8>(b)))\n"
	           "  store y[add(o, 7)] = cast<i32>(div(cast<i8>(a), cast<i8>(0)))\n"
	           "}\n",
	           ints);
}

/* The lowering's test models (test/lower/NAME.json), through lower + the pass
 * pipeline as nnllc does: the C file compiles cleanly with every compiler. */
static void test_lowered_models_compile_everywhere(void **state)
{
	static const char *const models[] = {"conv_dw_pw", "conv_pad", "int_divmod", "mlp_softmax", "pool_bn"};
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
		assert_int_equal(sh("cd '%s' && '%s/bin/nnllc' '%s/test/lower/%s.json' -filetype=c -name=m -o m.c", tmpdir,
		                    NNL_BINARY_DIR, NNL_SOURCE_DIR, models[i]),
		                 0);
		for (int k = 0; k < ncc; k++)
			assert_int_equal(sh("cd '%s' && %s -std=c99 -Wall -Wextra -pedantic -Wshadow -Werror -O2 -c m.c -o m.o",
			                    tmpdir, ccs[k]),
			                 0);
		cross_compile();
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_float_min_max),
		cmocka_unit_test(test_round_and_saturating_casts),
		cmocka_unit_test(test_integer_wrap_every_width),
		cmocka_unit_test(test_integer_casts),
		cmocka_unit_test(test_packed_pairs),
		cmocka_unit_test(test_loops_near_int32_max),
		cmocka_unit_test(test_float_math_and_constants),
		cmocka_unit_test(test_select_if_i1_and_range_ends),
		cmocka_unit_test(test_arena_reuse_across_types),
		cmocka_unit_test(test_names_become_identifiers),
		cmocka_unit_test(test_status_codes_and_unused),
		cmocka_unit_test(test_undefined_in_eval_matches_llvm),
		cmocka_unit_test(test_lowered_models_compile_everywhere),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
