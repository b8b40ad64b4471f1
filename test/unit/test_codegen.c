/* test_codegen.c — the LLVM backend (codegen/llvm) and the target table.
 *
 * Programs are built with the loop.c API, so these tests depend on neither
 * lowering nor parsing. Numeric tests compile for the host (x86-64) to an
 * object, link it with a small C driver with `cc` and run it; the driver
 * prints every output as exact float bits, compared with values the test
 * computes in C with the same formulas in the same order. Cross targets are
 * emitted (object and assembly) and inspected: hard-float instructions on
 * Cortex-M4F, soft-float calls on Cortex-M0+, the float ABI in RISC-V ELF
 * flags. Running them under QEMU is the model-bank tests' job.
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

#include "codegen.h"
#include "loop.h"
#include "targets.h"

static char tmpdir[256];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/nnl-test-codegen-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static CgOptions opts(const char *march, CgFileType ft)
{
	CgOptions o = {.target = target_find(march), .opt = CG_O3, .filetype = ft, .prefix = "m"};
	return o;
}

static void print_diag(const Diag *d)
{
	for (int i = 0; i < d->n; i++)
		fprintf(stderr, "diag: %s\n", d->msgs[i]);
}

/* ---- programs ------------------------------------------------------------ */

enum { NIN = 8, NOUT = 4 };
static float W[NOUT * NIN], B[NOUT];

/* y = relu(W x + b) through an arena buffer: the shape of a Linear+ReLU. */
static LProgram *dense_relu(void)
{
	LProgram *p = loop_new("dense");
	int x = loop_add_buf(p, "x", LB_INPUT, LT_F32, NIN);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, NOUT);
	int w = loop_add_buf(p, "w", LB_CONST, LT_F32, NOUT * NIN);
	int b = loop_add_buf(p, "b", LB_CONST, LT_F32, NOUT);
	int t = loop_add_buf(p, "t", LB_ARENA, LT_F32, NOUT);
	for (int i = 0; i < NOUT * NIN; i++)
		W[i] = (float)((i * 7) % 11 - 5) * 0.125f;
	for (int i = 0; i < NOUT; i++)
		B[i] = (float)i * 0.25f - 0.5f;
	p->bufs[w].data = malloc(sizeof W);
	memcpy(p->bufs[w].data, W, sizeof W);
	p->bufs[b].data = malloc(sizeof B);
	memcpy(p->bufs[b].data, B, sizeof B);
	p->bufs[t].offset = 16;
	p->arena_bytes = 16 + NOUT * 4;
	int i = loop_add_var(p, "i", LT_I32, 1), j = loop_add_var(p, "j", LT_I32, 1);
	int acc = loop_add_var(p, "acc", LT_F32, 0), k = loop_add_var(p, "k", LT_I32, 1);
	LStmt *fi = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, NOUT), 1);
	ls_let(p, &fi->body, acc, le_load(p, b, le_var(p, i)));
	LStmt *fj = ls_for(p, &fi->body, j, le_i32(p, 0), le_i32(p, NIN), 1);
	ls_set(p, &fj->body, acc,
	       le_bin(p, LO_ADD, le_var(p, acc),
	              le_bin(p, LO_MUL, le_load(p, w, le_add(p, le_mul_k(p, le_var(p, i), NIN), le_var(p, j))),
	                     le_load(p, x, le_var(p, j)))));
	ls_store(p, &fi->body, t, le_var(p, i), le_var(p, acc));
	LStmt *fk = ls_for(p, &p->body, k, le_i32(p, 0), le_i32(p, NOUT), 1);
	ls_store(p, &fk->body, y, le_var(p, k), le_bin(p, LO_MAX, le_load(p, t, le_var(p, k)), le_float(p, LT_F32, 0.0)));
	return p;
}

static void dense_ref(const float *x, float *y)
{
	for (int i = 0; i < NOUT; i++) {
		float acc = B[i];
		for (int j = 0; j < NIN; j++)
			acc = acc + W[i * NIN + j] * x[j];
		y[i] = acc < 0 ? 0.0f : acc;
	}
}

/* Elementwise: out[8*i + k] for each input x[i] = each unary/cast/binary case. */
enum { NOPS = 12, NX = 12 };
static const float XS[NX] = {0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 0.3f, -1.7f, 3.0e9f, -1.0e10f, 100.0f, -0.0f, 7.25f};

static LProgram *elementwise(void)
{
	LProgram *p = loop_new("elem");
	int x = loop_add_buf(p, "x", LB_INPUT, LT_F32, NX);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, NX * NOPS);
	int i = loop_add_var(p, "i", LT_I32, 1), v = loop_add_var(p, "v", LT_F32, 0);
	LStmt *f = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, NX), 1);
	ls_let(p, &f->body, v, le_load(p, x, le_var(p, i)));
#define OUT(k, e) ls_store(p, &f->body, y, le_add(p, le_mul_k(p, le_var(p, i), NOPS), le_i32(p, k)), (e))
#define V le_var(p, v)
	OUT(0, le_un(p, LU_EXP, le_bin(p, LO_MIN, V, le_float(p, LT_F32, 10.0))));
	OUT(1, le_un(p, LU_TANH, V));
	OUT(2, le_un(p, LU_ERF, V));
	OUT(3, le_un(p, LU_ROUND, V));
	OUT(4, le_un(p, LU_FLOOR, V));
	/* saturating round-to-int8 and back; plain truncation to i32 and back */
	OUT(5, le_cast(p, LT_F32, le_cast(p, LT_I8, V, 1), 0));
	OUT(6, le_cast(p, LT_F32, le_cast(p, LT_I32, V, 0), 0));
	/* integer division by (int)v: zero divisor is defined (x/0 = x) */
	OUT(7, le_cast(p, LT_F32, le_bin(p, LO_DIV, le_i32(p, 100), le_cast(p, LT_I32, V, 0)), 0));
	/* if v > 1 then sqrt(v) else -v */
	int r = loop_add_var(p, "r", LT_F32, 0);
	ls_let(p, &f->body, r, le_float(p, LT_F32, 0.0));
	LStmt *s = ls_if(p, &f->body, le_bin(p, LO_GT, V, le_float(p, LT_F32, 1.0)));
	ls_set(p, &s->body, r, le_un(p, LU_SQRT, V));
	ls_set(p, &s->els, r, le_un(p, LU_NEG, V));
	OUT(8, le_var(p, r));
	/* select + max with NaN-free operands */
	OUT(9, le_select(p, le_bin(p, LO_LT, V, le_float(p, LT_F32, 0.0)), le_float(p, LT_F32, -1.0),
	                 le_bin(p, LO_MAX, V, le_float(p, LT_F32, 2.0))));
	/* trunc, and the saturating truncation to i16 (cast_sat of trunc: one fptosi.sat) */
	OUT(10, le_un(p, LU_TRUNC, V));
	OUT(11, le_cast(p, LT_F32, le_cast(p, LT_I16, le_un(p, LU_TRUNC, V), 1), 0));
#undef OUT
#undef V
	return p;
}

static float sat_i8(float v)
{
	float r = nearbyintf(v);
	return (float)(int)(r < -128 ? -128.0f : r > 127 ? 127.0f : r);
}

static float trunc_i32(float v)
{
	if (v != v)
		return 0;
	if (v >= 2147483648.0f)
		return 2147483647.0f;
	if (v < -2147483648.0f)
		return -2147483648.0f;
	return (float)(int32_t)v;
}

static void elementwise_ref(float *y)
{
	for (int i = 0; i < NX; i++) {
		float v = XS[i], *o = y + i * NOPS;
		o[0] = expf(v < 10.0f ? v : 10.0f);
		o[1] = tanhf(v);
		o[2] = erff(v);
		o[3] = nearbyintf(v);
		o[4] = floorf(v);
		o[5] = sat_i8(v);
		o[6] = trunc_i32(v);
		/* the saturated value itself: 2147483647.0f rounds to 2^31, which no int32 holds */
		int32_t d = v != v ? 0 : v >= 2147483648.0f ? INT32_MAX : v < -2147483648.0f ? INT32_MIN : (int32_t)v;
		o[7] = (float)(d == 0 ? 100 : 100 / d);
		o[8] = v > 1.0f ? sqrtf(v) : -v;
		o[9] = v < 0 ? -1.0f : (v > 2.0f ? v : 2.0f);
		o[10] = truncf(v);
		o[11] = (float)(int32_t)(truncf(v) < -32768.0f ? -32768.0f : truncf(v) > 32767.0f ? 32767.0f : truncf(v));
	}
}

/* y[j] = number of iterations of `for i in (int)x[j]..hi step 2^30` with
 * hi = INT32_MAX - (int)x[1], not a constant: the counter must stop when
 * i + 2^30 passes INT32_MAX, not wrap around and loop forever. */
static LProgram *strided(void)
{
	LProgram *p = loop_new("strided");
	int x = loop_add_buf(p, "x", LB_INPUT, LT_F32, 2);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, 2);
	int i = loop_add_var(p, "i", LT_I32, 1), n = loop_add_var(p, "n", LT_F32, 0);
	int j = loop_add_var(p, "j", LT_I32, 1);
	LStmt *fj = ls_for(p, &p->body, j, le_i32(p, 0), le_i32(p, 2), 1);
	ls_let(p, &fj->body, n, le_float(p, LT_F32, 0.0));
	LExpr *lo = le_cast(p, LT_I32, le_load(p, x, le_var(p, j)), 0);
	LExpr *hi = le_i32(p, INT32_MAX);
	hi = le_bin(p, LO_SUB, hi, le_cast(p, LT_I32, le_load(p, x, le_i32(p, 1)), 0)); /* x[1] = 0: not a constant */
	LStmt *fi = ls_for(p, &fj->body, i, lo, hi, INT64_C(1) << 30);
	ls_set(p, &fi->body, n, le_bin(p, LO_ADD, le_var(p, n), le_float(p, LT_F32, 1.0)));
	ls_store(p, &fj->body, y, le_var(p, j), le_var(p, n));
	return p;
}

/* ---- compile, link, run ---------------------------------------------------- */

static int compile(const LProgram *p, const CgOptions *o, const char *path, Diag *d)
{
	int rc = cg_compile(p, o, path, d);
	if (rc)
		print_diag(d);
	return rc;
}

/* Link tmpdir/<name>.o with a driver that calls m_run on nin floats of input
 * and prints nout outputs as hex bits, one per line, then the status codes of
 * the NULL and misaligned-arena calls; read them back. */
/* How to link and run a driver: a printf format for the link command taking
 * (include dir, driver.c, object, executable), and one for the run command
 * taking the executable. */
typedef struct Runner {
	const char *link, *run;
} Runner;

static const Runner host = {"cc -std=c11 -Wall -Werror -I'%s' '%s' '%s' -lm -o '%s'", "'%s'"};

/* Cortex-M4F on QEMU's mps2-an386 board, with the board files of
 * targets/boards (docs/boards.md). */
static const Runner mps2 = {
	"arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -I'%s' "
	"-I" NNL_SOURCE_DIR "/targets/harness '%s' " NNL_SOURCE_DIR "/targets/boards/mps2-an386/startup.c '%s' "
	"--specs=rdimon.specs -T " NNL_SOURCE_DIR "/targets/boards/mps2-an386/mps2-an386.ld -lm -o '%s' 2>/dev/null",
	"timeout 120 qemu-system-arm -M mps2-an386 -nographic -semihosting -monitor none -serial none -kernel '%s'",
};

static int have(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

/* run_on's last two status codes: m_run_checked with an arena of
 * M_ARENA_BYTES - 1 bytes, then of M_ARENA_BYTES bytes. */
static int st_small = -1, st_exact = -1;

static int run_on(const Runner *r, const char *name, const float *in, int nin, float *out, int nout, int *st_null,
                  int *st_align, int arena_bytes)
{
	char drv[512], exe[512], cmd[2048];
	snprintf(drv, sizeof drv, "%s/%s_drv.c", tmpdir, name);
	snprintf(exe, sizeof exe, "%s/%s_exe", tmpdir, name);
	FILE *f = fopen(drv, "w");
	if (!f)
		return -1;
	fprintf(f, "#include <stdio.h>\n#include <string.h>\n#include <stdint.h>\n#include \"%s.h\"\n", name);
	fprintf(f, "static const uint32_t in_bits[%d] = {", nin);
	for (int i = 0; i < nin; i++) {
		uint32_t u;
		memcpy(&u, &in[i], 4);
		fprintf(f, "0x%08xu,", u);
	}
	fprintf(f, "};\n");
	fprintf(f, "static _Alignas(64) unsigned char arena[%d + 64];\n", arena_bytes);
	fprintf(f, "int main(void) {\n float in[%d], out[%d];\n memcpy(in, in_bits, sizeof in);\n", nin, nout);
	fprintf(f, " int s = m_run(in, out, arena);\n if (s) return 10 + s;\n");
	fprintf(f, " for (int i = 0; i < %d; i++) { uint32_t u; memcpy(&u, &out[i], 4); printf(\"%%08x\\n\", u); }\n", nout);
	fprintf(f, " printf(\"%%d\\n\", m_run(NULL, out, arena));\n");
	fprintf(f, " printf(\"%%d\\n\", M_ARENA_BYTES ? m_run(in, out, arena + 1) : 2);\n");
	/* the header's m_run_checked: an arena one byte smaller is refused, the exact size runs */
	fprintf(f, " printf(\"%%d\\n\", M_ARENA_BYTES ? m_run_checked(in, out, arena, M_ARENA_BYTES - 1) : 8);\n");
	fprintf(f, " printf(\"%%d\\n\", m_run_checked(in, out, arena, M_ARENA_BYTES));\n");
	fprintf(f, " return 0;\n}\n");
	fclose(f);
	char obj[512];
	snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, name);
	snprintf(cmd, sizeof cmd, r->link, tmpdir, drv, obj, exe);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, r->run, exe);
	FILE *pp = popen(cmd, "r");
	if (!pp)
		return -1;
	for (int i = 0; i < nout; i++) {
		unsigned u;
		if (fscanf(pp, "%x", &u) != 1) {
			pclose(pp);
			return -1;
		}
		uint32_t u32 = u;
		memcpy(&out[i], &u32, 4);
	}
	if (fscanf(pp, "%d %d %d %d", st_null, st_align, &st_small, &st_exact) != 4) {
		pclose(pp);
		return -1;
	}
	return pclose(pp) == 0 ? 0 : -1;
}

static void write_header(const LProgram *p, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s.h", tmpdir, name);
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_write_header(p, "m", NULL, NULL, path, &d), 0);
	diag_free(&d);
}

static void check_dense(CgOptLevel opt, const char *name)
{
	LProgram *p = dense_relu();
	CgOptions o = opts("x86-64", CG_FILE_OBJ);
	o.opt = opt;
	char path[512];
	snprintf(path, sizeof path, "%s/%s.o", tmpdir, name);
	Diag d;
	diag_init(&d);
	assert_int_equal(compile(p, &o, path, &d), 0);
	write_header(p, name);
	float x[NIN], y[NOUT], ref[NOUT];
	for (int i = 0; i < NIN; i++)
		x[i] = (float)(i % 5) - 1.75f;
	dense_ref(x, ref);
	int sn = -1, sa = -1;
	assert_int_equal(run_on(&host, name, x, NIN, y, NOUT, &sn, &sa, (int)p->arena_bytes), 0);
	for (int i = 0; i < NOUT; i++)
		assert_true(memcmp(&y[i], &ref[i], 4) == 0);
	assert_int_equal(sn, 1); /* NNL_ERR_NULL */
	assert_int_equal(sa, 2); /* NNL_ERR_ALIGN */
	assert_true(p->arena_bytes > 0);
	assert_int_equal(st_small, 8); /* M_ERR_ARENA_SIZE: one byte short */
	assert_int_equal(st_exact, 0);
	diag_free(&d);
	loop_free(p);
}

static void test_dense_runs_O0(void **state) { check_dense(CG_O0, "dense0"); }
static void test_dense_runs_O3(void **state) { check_dense(CG_O3, "dense3"); }
static void test_dense_runs_Oz(void **state) { check_dense(CG_Oz, "densez"); }

/* exp, tanh and erf come from libm: glibc's and newlib's may differ in the
 * last bit, so those ops (0..2) are compared within 2 ulp on bare metal. */
static void check_elementwise(const char *march, const Runner *r, const char *name)
{
	LProgram *p = elementwise();
	CgOptions o = opts(march, CG_FILE_OBJ);
	char path[512];
	snprintf(path, sizeof path, "%s/%s.o", tmpdir, name);
	Diag d;
	diag_init(&d);
	assert_int_equal(compile(p, &o, path, &d), 0);
	write_header(p, name);
	float y[NX * NOPS], ref[NX * NOPS];
	int sn, sa;
	assert_int_equal(run_on(r, name, XS, NX, y, NX * NOPS, &sn, &sa, 0), 0);
	elementwise_ref(ref);
	for (int i = 0; i < NX * NOPS; i++) {
		int32_t a, b;
		memcpy(&a, &y[i], 4);
		memcpy(&b, &ref[i], 4);
		int ok = a == b || (r != &host && i % NOPS <= 2 && abs(a - b) <= 2);
		if (!ok)
			fprintf(stderr, "%s: x=%g op %d: got %.9g expected %.9g\n", march, XS[i / NOPS], i % NOPS, y[i], ref[i]);
		assert_true(ok);
	}
	assert_int_equal(sn, 1);
	diag_free(&d);
	loop_free(p);
}

static void test_strided_loop_stops(void **state)
{
	LProgram *p = strided();
	CgOptions o = opts("x86-64", CG_FILE_OBJ);
	char path[512];
	snprintf(path, sizeof path, "%s/strided.o", tmpdir);
	Diag d;
	diag_init(&d);
	assert_int_equal(compile(p, &o, path, &d), 0);
	write_header(p, "strided");
	const float x[2] = {1073741824.0f, 0.0f}; /* 2^30, 0 */
	float y[2];
	int sn, sa;
	assert_int_equal(run_on(&host, "strided", x, 2, y, 2, &sn, &sa, 0), 0);
	/* from 2^30: one iteration (2^31 overflows); from 0: 0 and 2^30 */
	assert_true(y[0] == 1.0f && y[1] == 2.0f);
	diag_free(&d);
	loop_free(p);
}

static void test_elementwise_runs(void **state) { check_elementwise("x86-64", &host, "elem"); }

/* Bare-metal code paths: roundeven expansion, llvm.maximum without an FPU
 * max instruction, newlib's libm. */
static void test_elementwise_runs_cortex_m4(void **state)
{
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	check_elementwise("thumbv7em", &mps2, "elem_m4");
}

static void test_dense_runs_cortex_m4(void **state)
{
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	LProgram *p = dense_relu();
	CgOptions o = opts("thumbv7em", CG_FILE_OBJ);
	char path[512];
	snprintf(path, sizeof path, "%s/dense_m4.o", tmpdir);
	Diag d;
	diag_init(&d);
	assert_int_equal(compile(p, &o, path, &d), 0);
	write_header(p, "dense_m4");
	float x[NIN], y[NOUT], ref[NOUT];
	for (int i = 0; i < NIN; i++)
		x[i] = (float)(i % 5) - 1.75f;
	dense_ref(x, ref);
	int sn = -1, sa = -1;
	assert_int_equal(run_on(&mps2, "dense_m4", x, NIN, y, NOUT, &sn, &sa, (int)p->arena_bytes), 0);
	assert_memory_equal(y, ref, sizeof y);
	assert_int_equal(sn, 1);
	assert_int_equal(sa, 2);
	diag_free(&d);
	loop_free(p);
}

/* ---- packed 16-bit pairs: dot2, sxtb16, sxtb16h ---------------------------
 * Input: NPAIR groups of 4 small integers (as floats): a = (x0, x1) and
 * b = (x2, x3) packed as 16-bit halves. Outputs per group, each an exact
 * float: dot2(a, b) and add(a, dot2(a, b)) (the SMLAD form) split into their
 * high (signed) and low 16 bits, sxtb16(a) and sxtb16h(a) as 32-bit values
 * split the same way. The reference is ir/loop.h's loop_dot2/loop_sxtb16,
 * which the interpreter uses; on Cortex-M4 the code must be SMLAD/SMUAD/
 * SXTB16, on x86-64 the portable expansion. */
enum { NPAIR = 8, NPOUT = 8 };
static const float PX[NPAIR * 4] = {
	-32768, -32768, -32768, -32768, /* 2·2^30: wraps to INT32_MIN */
	32767, -32768, 32767, 32767,    1, 2, 3, 4,   -1, -1, -1, -1,   0x7f80, 0x0080, -0x0081, 0x1234,
	-200, 300, 45, -77,             12345, -23456, -31000, 999,   0, -32768, 32767, 0,
};

static LProgram *pairs(void)
{
	LProgram *p = loop_new("pairs");
	int x = loop_add_buf(p, "x", LB_INPUT, LT_F32, NPAIR * 4);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, NPAIR * NPOUT);
	int i = loop_add_var(p, "i", LT_I32, 1);
	int a = loop_add_var(p, "a", LT_I32, 0), b = loop_add_var(p, "b", LT_I32, 0);
	LStmt *f = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, NPAIR), 1);
#define X(k) le_cast(p, LT_I32, le_load(p, x, le_add(p, le_mul_k(p, le_var(p, i), 4), le_i32(p, k))), 0)
#define PK(lo, hi) le_bin(p, LO_OR, le_bin(p, LO_AND, lo, le_i32(p, 0xffff)), le_bin(p, LO_SHL, hi, le_i32(p, 16)))
	ls_let(p, &f->body, a, PK(X(0), X(1)));
	ls_let(p, &f->body, b, PK(X(2), X(3)));
	LExpr *vals[4] = {
		le_bin(p, LO_DOT2, le_var(p, a), le_var(p, b)),
		le_bin(p, LO_ADD, le_var(p, a), le_bin(p, LO_DOT2, le_var(p, a), le_var(p, b))),
		le_un(p, LU_SXTB16, le_var(p, a)),
		le_un(p, LU_SXTB16H, le_var(p, b)),
	};
	for (int k = 0; k < 4; k++) {
		int v = loop_new_var(p, "v", LT_I32, 0);
		ls_let(p, &f->body, v, vals[k]);
		LExpr *hi = le_bin(p, LO_SHR, le_var(p, v), le_i32(p, 16));
		LExpr *lo = le_bin(p, LO_AND, le_var(p, v), le_i32(p, 0xffff));
		ls_store(p, &f->body, y, le_add(p, le_mul_k(p, le_var(p, i), NPOUT), le_i32(p, 2 * k)), le_cast(p, LT_F32, hi, 0));
		ls_store(p, &f->body, y, le_add(p, le_mul_k(p, le_var(p, i), NPOUT), le_i32(p, 2 * k + 1)),
		         le_cast(p, LT_F32, lo, 0));
	}
#undef X
#undef PK
	return p;
}

static void pairs_ref(float *y)
{
	for (int i = 0; i < NPAIR; i++) {
		const float *x = PX + 4 * i;
		int32_t a = (int32_t)(((uint32_t)(int32_t)x[0] & 0xffffu) | (uint32_t)(int32_t)x[1] << 16);
		int32_t b = (int32_t)(((uint32_t)(int32_t)x[2] & 0xffffu) | (uint32_t)(int32_t)x[3] << 16);
		int32_t v[4] = {loop_dot2(a, b), (int32_t)((uint32_t)a + (uint32_t)loop_dot2(a, b)), loop_sxtb16(a, 0),
		                loop_sxtb16(b, 1)};
		for (int k = 0; k < 4; k++) {
			y[i * NPOUT + 2 * k] = (float)(v[k] >> 16);
			y[i * NPOUT + 2 * k + 1] = (float)(v[k] & 0xffff);
		}
	}
}

static void check_pairs(const char *march, const Runner *r, const char *name)
{
	LProgram *p = pairs();
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_verify(p, &d), 0);
	/* the interpreter first */
	float y[NPAIR * NPOUT], ref[NPAIR * NPOUT];
	pairs_ref(ref);
	assert_int_equal(loop_eval(p, PX, y, &d), 0);
	assert_memory_equal(y, ref, sizeof y);
	CgOptions o = opts(march, CG_FILE_OBJ);
	char path[512];
	snprintf(path, sizeof path, "%s/%s.o", tmpdir, name);
	assert_int_equal(compile(p, &o, path, &d), 0);
	write_header(p, name);
	int sn, sa;
	memset(y, 0, sizeof y);
	assert_int_equal(run_on(r, name, PX, NPAIR * 4, y, NPAIR * NPOUT, &sn, &sa, 0), 0);
	for (int i = 0; i < NPAIR * NPOUT; i++) {
		if (y[i] != ref[i])
			fprintf(stderr, "%s: group %d output %d: got %.9g expected %.9g\n", march, i / NPOUT, i % NPOUT, y[i], ref[i]);
		assert_true(y[i] == ref[i]);
	}
	diag_free(&d);
	loop_free(p);
}

static void test_pairs_run(void **state) { check_pairs("x86-64", &host, "pairs"); }

static void test_pairs_run_cortex_m4(void **state)
{
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	check_pairs("thumbv7em", &mps2, "pairs_m4");
}

static char *emit(const LProgram *p, const char *march, const char *cpu, CgFileType ft, size_t *len);

/* Cortex-M4 (DSP): the instructions themselves; Cortex-M0+ and x86-64
 * (no DSP) and thumbv7em with -mattr=-dsp: none of them. */
static void test_pairs_instructions(void **state)
{
	LProgram *p = pairs();
	size_t n;
	char *s = emit(p, "thumbv7em", NULL, CG_FILE_ASM, &n);
	assert_non_null(s);
	assert_non_null(strstr(s, "smuad"));
	assert_non_null(strstr(s, "smlad"));
	assert_non_null(strstr(s, "sxtb16"));
	assert_non_null(strstr(s, "ror #8"));
	free(s);
	const char *no[] = {"thumbv6m", "x86-64"};
	for (int k = 0; k < 2; k++) {
		s = emit(p, no[k], NULL, CG_FILE_ASM, &n);
		assert_non_null(s);
		assert_null(strstr(s, "smlad"));
		assert_null(strstr(s, "sxtb16"));
		free(s);
	}
	CgOptions o = opts("thumbv7em", CG_FILE_ASM);
	o.mattr = "-dsp";
	char *out = NULL;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_compile_to_memory(p, &o, &out, &n, &d), 0);
	assert_null(strstr(out, "smlad"));
	assert_null(strstr(out, "sxtb16"));
	free(out);
	/* the lowering's view of the same targets */
	LowerOptions lo;
	assert_int_equal(cg_lower_options(&o, &lo, &d), 0);
	assert_int_equal(lo.dsp, 0);
	o.mattr = NULL;
	assert_int_equal(cg_lower_options(&o, &lo, &d), 0);
	assert_int_equal(lo.dsp, 1);
	assert_int_equal(target_has_dsp("thumbv8m.main-none-eabihf", "cortex-m33", "+fp-armv8d16sp"), 1);
	assert_int_equal(target_has_dsp("thumbv8m.main-none-eabihf", "cortex-m33", "+fp-armv8d16sp,-dsp"), 0);
	assert_int_equal(target_has_dsp("thumbv6m-none-eabi", "cortex-m0plus", ""), 0);
	assert_int_equal(target_has_dsp("riscv32-unknown-elf", "generic-rv32", "+m,+dsp"), 1); /* as asked */
	diag_free(&d);
	loop_free(p);
}

/* ---- smlad reduction loops (codegen/llvm/llvm_smlad.c) ------------------- */

/* The DSP kernels' inner loop, 2 channels × 2 columns: per step r one weight
 * word per channel (interleaved: an ldrd), sxtb16/sxtb16h, two input pairs
 * per column at distance SM_S words, eight smlads. Trip counts 0, 1, 2, 5 and
 * 8 read from the input (odd ones take the single step; 0 none), then 8 as a
 * constant; accumulators from the input, wrapping weights and inputs (the
 * band rewritten before each loop); the outputs are the accumulators' 16-bit
 * halves. */
#define SM_NT 6
#define SM_S 6
#define SM_W 32
#define SM_B (4 * 8 + SM_S + 4) /* band words: 8 steps of 4 words, column 1 at SM_S */
static const int SM_TRIPS[SM_NT] = {0, 1, 2, 5, 8, 8};
/* accumulators 4·t + a (t < SM_NT), then the trip counts of t < SM_NT − 1 */
static const float SMX[5 * SM_NT] = {1,  -2, 300, -40000, 5,  6,  7,  8,  -9, 10, 11, 12, 13, -14, 15,
                                     16, 17, 18,  -20,    21, 22, 23, 24, 25, 0,  1,  2,  5,  8,  0};

static uint32_t sm_rand(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s;
}

/* shared: the accumulators of a channel start from the same value (a
 * block's bias: acc 2j and 2j + 1 from x[4t + j], the same expression), so
 * the asm takes it in one register (llvm_smlad.c, shared_init): in the one
 * asm of a constant 3 steps (raw) or the two steps peeled from a constant 8 */
static LProgram *smlad_loops(int matching, int nib, int raw, int shared)
{
	LProgram *p = loop_new("smlad");
	int x = loop_add_buf(p, "x", LB_INPUT, LT_F32, 5 * SM_NT);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, 8 * SM_NT);
	int w = loop_add_buf(p, "w", LB_CONST, LT_I32, SM_W);
	int bsrc = loop_add_buf(p, "bsrc", LB_CONST, LT_I32, SM_B);
	/* the band the loop reads is written just before it, per trip count
	 * (as the kernels' bands and tables are): the asm must keep those stores
	 * before it */
	int b = loop_add_buf(p, "band", LB_ARENA, LT_I32, SM_B);
	p->bufs[b].offset = 0;
	p->arena_bytes = SM_B * 4;
	uint32_t seed = 7;
	int32_t *wd = malloc(SM_W * sizeof *wd), *bd = malloc(SM_B * sizeof *bd);
	for (int i = 0; i < SM_W; i++)
		wd[i] = (int32_t)sm_rand(&seed);
	for (int i = 0; i < SM_B; i++)
		bd[i] = (int32_t)sm_rand(&seed);
	p->bufs[w].data = wd;
	p->bufs[bsrc].data = bd;
	/* input words per column and step: 2 (int8: one weight word's two halves),
	 * 4 (int4: its low and high nibbles' halves) */
	const int XW = nib ? 4 : 2;
	for (int t = 0; t < SM_NT; t++) {
		int bi = loop_new_var(p, "bi", LT_I32, 1);
		LStmt *fill = ls_for(p, &p->body, bi, le_i32(p, 0), le_i32(p, SM_B), 1);
		ls_store(p, &fill->body, b, le_var(p, bi),
		         le_bin(p, LO_XOR, le_load(p, bsrc, le_var(p, bi)), le_i32(p, 0x01030507 * (t + 1))));
		for (int k = 0; k < 8; k++) /* and straight-line stores (machine code may sink those) */
			ls_store(p, &p->body, b, le_i32(p, k), le_bin(p, LO_ADD, le_load(p, bsrc, le_i32(p, k + 8)), le_i32(p, t)));
		int acc[4];
		for (int a = 0; a < 4; a++) {
			acc[a] = loop_new_var(p, "acc", LT_I32, 0);
			ls_let(p, &p->body, acc[a], le_cast(p, LT_I32, le_load(p, x, le_i32(p, 4 * t + (shared ? a / 2 : a))), 0));
		}
		int r = loop_new_var(p, "r", LT_I32, 1);
		LExpr *trips = t < SM_NT - 1 ? le_cast(p, LT_I32, le_load(p, x, le_i32(p, 4 * SM_NT + t)), 0)
		                             : le_i32(p, raw ? 3 : SM_TRIPS[t]);
		LStmt *f = ls_for(p, &p->body, r, le_i32(p, 0), trips, 1);
		f->nounroll = raw && t == 0 && !shared; /* as int4's unpacked pairs: kept a loop */
		int xw[2][4];
		for (int c = 0; c < 2; c++) /* column c at SM_S words from column 0 */
			for (int k = 0; k < XW; k++) {
				xw[c][k] = loop_new_var(p, "xw", LT_I32, 0);
				ls_let(p, &f->body, xw[c][k], le_load(p, b, le_add(p, le_mul_k(p, le_var(p, r), XW), le_i32(p, c * SM_S + k))));
			}
		for (int j = 0; j < 2; j++) {
			int ww = loop_new_var(p, "ww", LT_I32, 0), src[2] = {ww, ww}, wp[4];
			if (raw) { /* the weights as int16 pairs: w[4·r + 2·j + k], read by dot2 as loaded */
				for (int k = 0; k < XW; k++) {
					wp[k] = loop_new_var(p, "wp", LT_I32, 0);
					ls_let(p, &f->body, wp[k], le_load(p, w, le_add(p, le_mul_k(p, le_var(p, r), 4), le_i32(p, 2 * j + k))));
				}
				goto dots;
			}
			ls_let(p, &f->body, ww, le_load(p, w, le_add(p, le_mul_k(p, le_var(p, r), 2), le_i32(p, j))));
			if (nib) { /* (w << 4) & M, w & M: the low and the high nibbles as int8 ×16 */
				LExpr *mask = le_i32(p, (int32_t)0xF0F0F0F0u);
				src[0] = loop_new_var(p, "wl", LT_I32, 0);
				src[1] = loop_new_var(p, "wh", LT_I32, 0);
				ls_let(p, &f->body, src[0], le_bin(p, LO_AND, le_bin(p, LO_SHL, le_var(p, ww), le_i32(p, 4)), mask));
				ls_let(p, &f->body, src[1], le_bin(p, LO_AND, le_var(p, ww), mask));
			}
			for (int k = 0; k < XW; k++) {
				wp[k] = loop_new_var(p, "wp", LT_I32, 0);
				ls_let(p, &f->body, wp[k], le_un(p, k % 2 ? LU_SXTB16H : LU_SXTB16, le_var(p, src[k / 2])));
			}
		dots:
			for (int c = 0; c < 2; c++)
				for (int k = 0; k < XW; k++) {
					int a = acc[2 * j + c];
					LExpr *d = le_bin(p, LO_DOT2, le_var(p, wp[k]), le_var(p, xw[c][k]));
					ls_set(p, &f->body, a, le_bin(p, LO_ADD, le_var(p, a), d));
				}
		}
		if (!matching) /* one more statement of another kind: the ordinary loop */
			ls_set(p, &f->body, acc[0], le_bin(p, LO_XOR, le_var(p, acc[0]), le_i32(p, 1)));
		for (int a = 0; a < 4; a++) {
			ls_store(p, &p->body, y, le_i32(p, 8 * t + 2 * a),
			         le_cast(p, LT_F32, le_bin(p, LO_SHR, le_var(p, acc[a]), le_i32(p, 16)), 0));
			ls_store(p, &p->body, y, le_i32(p, 8 * t + 2 * a + 1),
			         le_cast(p, LT_F32, le_bin(p, LO_AND, le_var(p, acc[a]), le_i32(p, 0xffff)), 0));
		}
	}
	return p;
}

/* Does the assembly have an smlad whose addend is not its destination (an
 * accumulator's first smlad adding its holder's register)? */
static int smlad_other_addend(const char *s)
{
	for (const char *l = strstr(s, "smlad\t"); l; l = strstr(l + 1, "smlad\t")) {
		char d[8], a[8];
		if (sscanf(l, "smlad\t%7[^,], %*[^,], %*[^,], %7[^\n]", d, a) == 2 && strcmp(d, a) != 0)
			return 1;
	}
	return 0;
}

/* The hand-scheduled loop on the Cortex-M4 (QEMU) gives the interpreter's
 * bits, int8, int4 (nibbles) and int16 weight pairs loaded as they are
 * (conv_dsp's unpacked weights; a constant trip count of 3 is one asm, no
 * loop), and with accumulators that start equal (the bias in one register:
 * constant 8 steps, 3 steps of pairs); so does the ordinary loop; the
 * assembly has the ldrd/post-index form. */
static void test_smlad_loops_cortex_m4(void **state)
{
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	for (int v = 0; v < 6; v++) {
		const int matching = v != 2, nib = v == 1, raw = v == 3 || v == 5, shared = v >= 4;
		LProgram *p = smlad_loops(matching, nib, raw, shared);
		Diag d;
		diag_init(&d);
		assert_int_equal(loop_verify(p, &d), 0);
		float ref[8 * SM_NT], y[8 * SM_NT];
		assert_int_equal(loop_eval(p, SMX, ref, &d), 0);
		size_t n;
		char *s = emit(p, "thumbv7em", NULL, CG_FILE_ASM, &n);
		assert_non_null(s);
		/* weights: one ldrd of both channels, post-indexed; inputs: ldrd pairs */
		if (matching) {
			assert_non_null(strstr(s, "@APP"));
			assert_non_null(strstr(s, "ldrd"));
			assert_non_null(strstr(s, "], #8"));
			if (nib) { /* the nibbles unpacked in the asm: (w << 4) & M, w & M */
				assert_non_null(strstr(s, "lsl.w"));
				assert_non_null(strstr(s, "#4042322160")); /* 0xF0F0F0F0 */
			}
			if (raw) /* no unpacking at all */
				assert_null(strstr(s, "sxtb16"));
			/* the shared initial value: some first smlad adds another register */
			assert_int_equal(smlad_other_addend(s), shared);
		} else {
			assert_null(strstr(s, "@APP"));
		}
		free(s);
		if (matching) {
			/* the asm reads the band: a memory clobber for the machine passes
			 * and memory(read) for the IR ones, or the stores that fill the
			 * band may move past it (MobileNetV1's depthwise tables did) */
			s = emit(p, "thumbv7em", NULL, CG_FILE_LL, &n);
			assert_non_null(s);
			assert_non_null(strstr(s, "~{memory}"));
			assert_non_null(strstr(s, "memory(read)"));
			/* int4 (nibbles in the asm, or a nounroll loop) stays a loop */
			if (nib || (raw && !shared))
				assert_non_null(strstr(s, "llvm.loop.unroll.disable"));
			else
				assert_null(strstr(s, "llvm.loop.unroll.disable"));
			free(s);
		}
		CgOptions o = opts("thumbv7em", CG_FILE_OBJ);
		char path[512], name[32];
		snprintf(name, sizeof name, "smlad_%d", v);
		snprintf(path, sizeof path, "%s/%s.o", tmpdir, name);
		assert_int_equal(compile(p, &o, path, &d), 0);
		write_header(p, name);
		int sn, sa;
		memset(y, 0, sizeof y);
		assert_int_equal(run_on(&mps2, name, SMX, 5 * SM_NT, y, 8 * SM_NT, &sn, &sa, (int)p->arena_bytes), 0);
		for (int i = 0; i < 8 * SM_NT; i++) {
			if (y[i] != ref[i])
				fprintf(stderr, "smlad (%s loop%s%s): trip %d output %d: got %.9g expected %.9g\n",
				        matching ? "asm" : "ordinary", nib ? ", int4" : raw ? ", int16 weights" : "",
				        shared ? ", shared initial values" : "", raw && i / 8 == SM_NT - 1 ? 3 : SM_TRIPS[i / 8],
				        i % 8, y[i], ref[i]);
			assert_true(y[i] == ref[i]);
		}
		diag_free(&d);
		loop_free(p);
	}
}

/* p compiled for the Cortex-M4 as name, run on QEMU with in (nin floats):
 * its nout outputs (in out) equal ref, bit for bit */
static void m4_matches(LProgram *p, const char *name, const float *in, int nin, float *out, const float *ref, int nout)
{
	Diag d;
	diag_init(&d);
	CgOptions o = opts("thumbv7em", CG_FILE_OBJ);
	char path[512];
	snprintf(path, sizeof path, "%s/%s.o", tmpdir, name);
	assert_int_equal(compile(p, &o, path, &d), 0);
	write_header(p, name);
	int sn, sa;
	memset(out, 0, (size_t)nout * sizeof *out);
	assert_int_equal(run_on(&mps2, name, in, nin, out, nout, &sn, &sa, (int)p->arena_bytes), 0);
	for (int i = 0; i < nout; i++) {
		if (out[i] != ref[i])
			fprintf(stderr, "%s: output %d: got %.9g expected %.9g\n", name, i, out[i], ref[i]);
		assert_true(out[i] == ref[i]);
	}
	diag_free(&d);
}

/* The weight-unpacking loop (conv_dsp's dsp_unpack: words loaded, split by
 * sxtb16/sxtb16h, stored as int16 pairs) in asm: ldrd, strd, the pointers
 * post-indexed; then read back. Trip counts 9 (odd: the single step) and
 * 10, from the input, and a constant 12 kept a loop (nounroll); the M4's
 * bits equal the interpreter's. */
#define UP_N 12
static void test_unpack_loop_cortex_m4(void **state)
{
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	LProgram *p = loop_new("unpack");
	int x = loop_add_buf(p, "x", LB_INPUT, LT_F32, 2);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, 3 * 4 * UP_N);
	int w = loop_add_buf(p, "w", LB_CONST, LT_I32, 2 * UP_N);
	int u = loop_add_buf(p, "u", LB_ARENA, LT_I32, 4 * UP_N);
	p->bufs[u].offset = 0;
	p->arena_bytes = 4 * UP_N * 4;
	uint32_t seed = 11;
	int32_t *wd = malloc(2 * UP_N * sizeof *wd);
	for (int i = 0; i < 2 * UP_N; i++)
		wd[i] = (int32_t)sm_rand(&seed);
	p->bufs[w].data = wd;
	for (int t = 0; t < 3; t++) {
		int k = loop_new_var(p, "k", LT_I32, 1);
		LExpr *n = t < 2 ? le_cast(p, LT_I32, le_load(p, x, le_i32(p, t)), 0) : le_i32(p, UP_N);
		LStmt *f = ls_for(p, &p->body, k, le_i32(p, 0), n, 1);
		f->nounroll = t == 2;
		for (int j = 0; j < 2; j++) { /* two words a step, each word's halves side by side */
			int ww = loop_new_var(p, "ww", LT_I32, 0);
			ls_let(p, &f->body, ww, le_load(p, w, le_add(p, le_mul_k(p, le_var(p, k), 2), le_i32(p, j))));
			for (int h = 0; h < 2; h++) {
				int v = loop_new_var(p, "wp", LT_I32, 0);
				ls_let(p, &f->body, v, le_un(p, h ? LU_SXTB16H : LU_SXTB16, le_var(p, ww)));
				ls_store(p, &f->body, u, le_add(p, le_mul_k(p, le_var(p, k), 4), le_i32(p, 2 * j + h)), le_var(p, v));
			}
		}
		/* read back all of u (what the loop did not write is what it held) */
		int i = loop_new_var(p, "i", LT_I32, 1);
		LStmt *g = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, 4 * UP_N), 1);
		ls_store(p, &g->body, y, le_add(p, le_var(p, i), le_i32(p, t * 4 * UP_N)),
		         le_cast(p, LT_F32, le_bin(p, LO_SHR, le_load(p, u, le_var(p, i)), le_i32(p, 8)), 0));
	}
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_verify(p, &d), 0);
	const float in[2] = {9, 10};
	float ref[3 * 4 * UP_N], out[3 * 4 * UP_N];
	/* the arena starts zeroed in both */
	assert_int_equal(loop_eval(p, in, ref, &d), 0);
	size_t n;
	char *s = emit(p, "thumbv7em", NULL, CG_FILE_ASM, &n);
	assert_non_null(s);
	assert_non_null(strstr(s, "@APP"));
	assert_non_null(strstr(s, "strd"));
	assert_non_null(strstr(s, "], #16"));
	free(s);
	s = emit(p, "thumbv7em", NULL, CG_FILE_LL, &n);
	assert_non_null(s);
	assert_non_null(strstr(s, "llvm.loop.unroll.disable"));
	assert_null(strstr(s, "memory(read)")); /* it writes */
	free(s);
	m4_matches(p, "unpack", in, 2, out, ref, 3 * 4 * UP_N);
	diag_free(&d);
	loop_free(p);
}

/* A block's requantization in asm (llvm_requant.c): after a reduction the
 * smlad asm takes (3 steps of int16 pairs), 4 outputs of 2 channels (x =
 * acc, and x = acc << 1 for the second block), each h = (x·q + 2^31) >> 32
 * and y = ssat8((h + c + (x >> 31)) >> s), from a table rq[3·o + {0, 1, 2}]
 * = q, s, c: the M4's bits equal the interpreter's for accumulators across
 * the int32 range (the saturations included), and the assembly has the
 * constants' ldrd and the smmlar in asm. */
#define RQ_NB 6 /* blocks: each 4 accumulators from the input */
static void test_requant_asm_cortex_m4(void **state)
{
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	LProgram *p = loop_new("rqasm");
	int x = loop_add_buf(p, "x", LB_INPUT, LT_F32, 4 * RQ_NB);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, 4 * RQ_NB);
	int w = loop_add_buf(p, "w", LB_CONST, LT_I32, 8);
	int xb = loop_add_buf(p, "band", LB_CONST, LT_I32, 8);
	int rq = loop_add_buf(p, "rq", LB_CONST, LT_I32, 6);
	int yb = loop_add_buf(p, "yq", LB_ARENA, LT_I8, 4 * RQ_NB);
	p->bufs[yb].offset = 0;
	p->arena_bytes = 4 * RQ_NB;
	int32_t *wd = malloc(8 * sizeof *wd), *bd = malloc(8 * sizeof *bd), *rd = malloc(6 * sizeof *rd);
	uint32_t seed = 5;
	for (int i = 0; i < 8; i++) {
		/* small pairs (weights −1..2, inputs 0..15): the accumulators stay
		 * near the input values, so the outputs do not all saturate */
		uint32_t r0 = sm_rand(&seed);
		wd[i] = (int32_t)(((uint32_t)((int32_t)(r0 >> 8 & 3) - 1) << 16) | (uint32_t)(((int32_t)(r0 >> 16 & 3) - 1) & 0xffff));
		bd[i] = (int32_t)(sm_rand(&seed) & 0x000f000f);
	}
	/* channel 0: q = 0x5a82799a, s = 7, c = 2^6 − 3·2^7; channel 1: q = 0x40000000, s = 1, c = 1 + 5·2 */
	const int32_t rv[6] = {0x5a82799a, 7, 64 - 3 * 128, 0x40000000, 1, 1 + 10};
	memcpy(rd, rv, sizeof rv);
	p->bufs[w].data = wd;
	p->bufs[xb].data = bd;
	p->bufs[rq].data = rd;
	for (int b = 0; b < RQ_NB; b++) {
		int acc[4];
		for (int a = 0; a < 4; a++) {
			acc[a] = loop_new_var(p, "acc", LT_I32, 0);
			ls_let(p, &p->body, acc[a], le_cast(p, LT_I32, le_load(p, x, le_i32(p, 4 * b + a)), 0));
		}
		int r = loop_new_var(p, "r", LT_I32, 1);
		LStmt *f = ls_for(p, &p->body, r, le_i32(p, 0), le_i32(p, 3), 1);
		int wv[2], xv[2];
		for (int k = 0; k < 2; k++) {
			wv[k] = loop_new_var(p, "wp", LT_I32, 0);
			ls_let(p, &f->body, wv[k], le_load(p, w, le_add(p, le_mul_k(p, le_var(p, r), 2), le_i32(p, k))));
			xv[k] = loop_new_var(p, "xw", LT_I32, 0);
			ls_let(p, &f->body, xv[k], le_load(p, xb, le_add(p, le_mul_k(p, le_var(p, r), 2), le_i32(p, k))));
		}
		for (int a = 0; a < 4; a++)
			ls_set(p, &f->body, acc[a],
			       le_bin(p, LO_ADD, le_var(p, acc[a]), le_bin(p, LO_DOT2, le_var(p, wv[a / 2]), le_var(p, xv[a % 2]))));
		for (int a = 0; a < 4; a++) {
			int ch = a / 2, xv2 = loop_new_var(p, "x2", LT_I32, 0), hv = loop_new_var(p, "hm", LT_I32, 0);
			LExpr *xa = le_var(p, acc[a]);
			ls_let(p, &p->body, xv2, b % 2 ? le_bin(p, LO_SHL, xa, le_i32(p, 1)) : xa);
			LExpr *prod = le_bin(p, LO_MUL, le_cast(p, LT_I64, le_var(p, xv2), 0),
			                     le_cast(p, LT_I64, le_load(p, rq, le_i32(p, 3 * ch)), 0));
			ls_let(p, &p->body, hv,
			       le_cast(p, LT_I32, le_bin(p, LO_SHR, le_bin(p, LO_ADD, prod, le_int(p, LT_I64, INT64_C(1) << 31)),
			                                 le_int(p, LT_I64, 32)), 0));
			LExpr *v = le_bin(p, LO_ADD, le_bin(p, LO_ADD, le_var(p, hv), le_load(p, rq, le_i32(p, 3 * ch + 2))),
			                  le_bin(p, LO_SHR, le_var(p, xv2), le_i32(p, 31)));
			v = le_bin(p, LO_SHR, v, le_load(p, rq, le_i32(p, 3 * ch + 1)));
			v = le_bin(p, LO_MAX, le_bin(p, LO_MIN, v, le_i32(p, 127)), le_i32(p, -128));
			ls_store(p, &p->body, yb, le_i32(p, 4 * b + a), le_cast(p, LT_I8, v, 0));
		}
	}
	int i = loop_new_var(p, "i", LT_I32, 1);
	LStmt *g = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, 4 * RQ_NB), 1);
	ls_store(p, &g->body, y, le_var(p, i), le_cast(p, LT_F32, le_load(p, yb, le_var(p, i)), 0));
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_verify(p, &d), 0);
	/* accumulators: 0, ±small, mid-range, large (saturating) */
	float in[4 * RQ_NB] = {0,   1,   -1,   3,    -3,   5,     -5,   77,  -77,  123,  -124, 200,
	                       -200, 255, -256, 1000, -1000, 4095, -4096, 5000, -5000, 2e9f, -2e9f, 64};
	float ref[4 * RQ_NB], out[4 * RQ_NB];
	assert_int_equal(loop_eval(p, in, ref, &d), 0);
	size_t n;
	char *s = emit(p, "thumbv7em", NULL, CG_FILE_ASM, &n);
	assert_non_null(s);
	int asm_smmlar = 0;
	for (const char *a = strstr(s, "@APP"); a; a = strstr(a + 1, "@APP")) {
		const char *e = strstr(a, "@NO_APP"), *m = strstr(a, "smmlar");
		asm_smmlar += m && e && m < e;
	}
	assert_int_equal(asm_smmlar, RQ_NB);
	free(s);
	m4_matches(p, "rqasm", in, 4 * RQ_NB, out, ref, 4 * RQ_NB);
	diag_free(&d);
	loop_free(p);
}

/* The block asm (llvm_smlad.c cg_smlad_block_loop) on hand-built block
 * loops, shapes the lowering does not make but the matcher must refuse or
 * get right: per c (the loop) 2 accumulators from wun, a nest of steps
 * (optionally under a kernel-row loop) of 2 input words and 4 weight words,
 * 2 outputs requantized from constants in wun. Each: it compiles, and the
 * M4's bits equal the interpreter's. Found by review: the weights' pointer
 * advancing with c in the ldm form (WS), an input whose step differs from
 * the other's (x1k), a moving pointer whose representative's row step is
 * past an add's reach (KYS1), a bias past an ldr's reach (bias_far). */
typedef struct BlkShape {
	const char *name;
	int NC, R, XS, x1k, x1c, WS, WK, B0, Q0;
	int outer, KYS, KYW, KYS1, x0c; /* outer > 0: a kernel-row loop, band += ky·KYS (x1: KYS1), weights += ky·KYW */
	int bias_far;                   /* the biases at this word (0: B0) */
} BlkShape;

static void block_shape_runs(const BlkShape *b)
{
	LProgram *p = loop_new(b->name);
	const int NB = 4096, NW = 4096;
	loop_add_buf(p, "x", LB_INPUT, LT_F32, 1);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, 2 * b->NC);
	int band = loop_add_buf(p, "band", LB_CONST, LT_I32, NB);
	int wun = loop_add_buf(p, "wun", LB_CONST, LT_I32, NW);
	int yq = loop_add_buf(p, "yq", LB_ARENA, LT_I8, 2 * b->NC);
	p->bufs[yq].offset = 0;
	p->arena_bytes = 2 * b->NC + 16;
	uint32_t seed = 77;
	int32_t *bd = malloc(NB * 4), *wd = malloc(NW * 4);
	for (int i = 0; i < NB; i++)
		bd[i] = (int32_t)(sm_rand(&seed) & 0x00ff00ff) - 0x80;
	for (int i = 0; i < NW; i++) {
		uint32_t r0 = sm_rand(&seed);
		int lo = (int)(r0 & 15) - 8, hi = (int)(r0 >> 8 & 15) - 8;
		wd[i] = (int32_t)(((uint32_t)hi << 16) | ((uint32_t)lo & 0xffff));
	}
	for (int c = 0; c < b->NC; c++) { /* each c's constants q, s, c and biases */
		int base = c * b->WS;
		for (int ch = 0; ch < 2; ch++) {
			wd[base + b->Q0 + 3 * ch] = 0x5a82799a - ch * 0x1000000 - c * 0x10000;
			wd[base + b->Q0 + 3 * ch + 1] = 6 + ch + c % 3;
			wd[base + b->Q0 + 3 * ch + 2] = 32 + 5 * c - 20 * ch;
		}
		int bb = b->bias_far ? b->bias_far + c * b->WS : base + b->B0;
		wd[bb] = 1000 * (c + 1) - 2500;
		wd[bb + 1] = -700 * (c + 1) + 1100;
	}
	p->bufs[band].data = bd;
	p->bufs[wun].data = wd;
	int cv = loop_new_var(p, "c", LT_I32, 1);
	LStmt *fc = ls_for(p, &p->body, cv, le_i32(p, 0), le_i32(p, b->NC), 1);
	LStmtList *L = &fc->body;
#define BLK_W(k) le_add(p, le_mul_k(p, le_var(p, cv), b->WS), le_i32(p, (k)))
	int acc[2];
	for (int a = 0; a < 2; a++) {
		acc[a] = loop_new_var(p, "acc", LT_I32, 0);
		ls_let(p, L, acc[a], le_load(p, wun, BLK_W((b->bias_far ? b->bias_far : b->B0) + a)));
	}
	LStmtList *N = L;
	int ky = -1;
	if (b->outer) {
		ky = loop_new_var(p, "ky", LT_I32, 1);
		N = &ls_for(p, N, ky, le_i32(p, 0), le_i32(p, b->outer), 1)->body;
	}
	int rv = loop_new_var(p, "r", LT_I32, 1);
	LStmtList *S = &ls_for(p, N, rv, le_i32(p, 0), le_i32(p, b->R), 1)->body;
	int xv[2], wv[4];
	for (int k = 0; k < 2; k++) {
		xv[k] = loop_new_var(p, "xw", LT_I32, 0);
		LExpr *ix = le_add(p, le_add(p, le_mul_k(p, le_var(p, cv), b->XS), le_mul_k(p, le_var(p, rv), k ? b->x1k : 2)),
		                   le_i32(p, k ? b->x1c : b->x0c));
		if (b->outer)
			ix = le_add(p, ix, le_mul_k(p, le_var(p, ky), k ? b->KYS1 : b->KYS));
		ls_let(p, S, xv[k], le_load(p, band, ix));
	}
	for (int k = 0; k < 4; k++) {
		wv[k] = loop_new_var(p, "wp", LT_I32, 0);
		LExpr *ix = le_add(p, BLK_W(k), le_mul_k(p, le_var(p, rv), b->WK));
		if (b->outer)
			ix = le_add(p, ix, le_mul_k(p, le_var(p, ky), b->KYW));
		ls_let(p, S, wv[k], le_load(p, wun, ix));
	}
	for (int a = 0; a < 2; a++)
		for (int k = 0; k < 2; k++)
			ls_set(p, S, acc[a], le_bin(p, LO_ADD, le_var(p, acc[a]), le_bin(p, LO_DOT2, le_var(p, wv[2 * a + k]), le_var(p, xv[k]))));
	for (int a = 0; a < 2; a++) { /* the requantization's three statements (llvm_requant.c) */
		int x2 = loop_new_var(p, "x2", LT_I32, 0), hv = loop_new_var(p, "hm", LT_I32, 0);
		ls_let(p, L, x2, le_var(p, acc[a]));
		LExpr *prod = le_bin(p, LO_MUL, le_cast(p, LT_I64, le_var(p, x2), 0), le_cast(p, LT_I64, le_load(p, wun, BLK_W(b->Q0 + 3 * a)), 0));
		ls_let(p, L, hv, le_cast(p, LT_I32, le_bin(p, LO_SHR, le_bin(p, LO_ADD, prod, le_int(p, LT_I64, INT64_C(1) << 31)), le_int(p, LT_I64, 32)), 0));
		LExpr *v = le_bin(p, LO_ADD, le_bin(p, LO_ADD, le_var(p, hv), le_load(p, wun, BLK_W(b->Q0 + 3 * a + 2))), le_bin(p, LO_SHR, le_var(p, x2), le_i32(p, 31)));
		v = le_bin(p, LO_SHR, v, le_load(p, wun, BLK_W(b->Q0 + 3 * a + 1)));
		v = le_bin(p, LO_MAX, le_bin(p, LO_MIN, v, le_i32(p, 127)), le_i32(p, -128));
		ls_store(p, L, yq, le_add(p, le_mul_k(p, le_var(p, cv), 2), le_i32(p, a)), le_cast(p, LT_I8, v, 0));
	}
#undef BLK_W
	int i = loop_new_var(p, "i", LT_I32, 1);
	LStmt *g = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, 2 * b->NC), 1);
	ls_store(p, &g->body, y, le_var(p, i), le_cast(p, LT_F32, le_load(p, yq, le_var(p, i)), 0));
	Diag d;
	diag_init(&d);
	assert_int_equal(loop_verify(p, &d), 0);
	float in[1] = {0}, ref[2 * 8], out[2 * 8];
	assert_true(b->NC <= 8);
	assert_int_equal(loop_eval(p, in, ref, &d), 0);
	m4_matches(p, b->name, in, 1, out, ref, 2 * b->NC);
	diag_free(&d);
	loop_free(p);
}

static void test_block_asm_shapes_cortex_m4(void **state)
{
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	/* name, NC, R, XS, x1k, x1c, WS, WK, B0, Q0, outer, KYS, KYW, KYS1, x0c, bias_far */
	const BlkShape shapes[] = {
		{"blk_base", 5, 4, 40, 2, 1, 0, 4, 100, 110, 0, 0, 0, 0, 0, 0},     /* the ldm form */
		{"blk_ws", 5, 4, 40, 2, 1, 128, 4, 100, 110, 0, 0, 0, 0, 0, 0},     /* weights moving with c */
		{"blk_x1", 5, 4, 40, 1, 1, 0, 4, 100, 110, 0, 0, 0, 0, 0, 0},       /* x1 a word a step */
		{"blk_mv", 5, 2, 40, 2, 30, 0, 4, 100, 110, 2, 1020, 8, 1030, 100, 0}, /* rows past add's reach */
		{"blk_bias", 5, 4, 40, 2, 1, 0, 4, 100, 110, 0, 0, 0, 0, 0, 1200}, /* bias past ldr's reach */
		{"blk_bias3", 5, 3, 40, 2, 1, 0, 4, 100, 110, 0, 0, 0, 0, 0, 1200}, /* the same, odd steps: not ldm */
	};
	for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
		block_shape_runs(&shapes[k]);
}

/* The packing loops (llvm_pack.c): int8 bytes into int16 pairs k·(x − zx)
 * of a plane row (neighbouring columns: cx 2, dx 1) and of a band column
 * (two channel planes dx apart: cx 1, words dd = 3 or 32 apart: 16·32 bytes
 * a step, past a post-index's reach, which LLVM's assembler truncates
 * silently), for zx 0, −3 (sadd16)
 * and −128 (eor, uxtb16), k 1 and 2, trip counts that leave iterations past
 * the last whole asm (plane 8 an asm: 19; band 4: 11), the input at odd
 * addresses (unaligned word loads); each word read back as its two halves:
 * the M4's bits equal the interpreter's, and the assembly has the asm's
 * sxtb16/uxtb16 and pkhtb. */
#define PK_NX 64
#define PK_ND 512
static void test_pack_loops_cortex_m4(void **state)
{
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	static const int64_t zxs[3] = {0, -3, -128};
	for (int shape = 0; shape < 3; shape++) /* a plane row, a band column, one with words 32 apart */
		for (int zi = 0; zi < 3; zi++)
			for (int64_t k = 1; k <= 2; k++) {
				LProgram *p = loop_new("pack");
				int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, 2 * PK_ND);
				int x = loop_add_buf(p, "x", LB_CONST, LT_I8, PK_NX);
				int d = loop_add_buf(p, "d", LB_ARENA, LT_I32, PK_ND);
				loop_add_buf(p, "in", LB_INPUT, LT_F32, 1);
				p->bufs[d].offset = 0;
				p->arena_bytes = 4 * PK_ND;
				uint32_t seed = 3 + (uint32_t)(shape * 6 + zi * 2 + (int)k);
				int8_t *xd = malloc(PK_NX);
				for (int i = 0; i < PK_NX; i++)
					xd[i] = (int8_t)(sm_rand(&seed) >> 8);
				xd[5] = -128, xd[6] = 127; /* the extremes */
				p->bufs[x].data = xd;
				/* words 32 apart: the band's 16·dd bytes a step past a post-index's reach (255) */
				const int64_t n = shape ? 11 : 19, cx = shape ? 1 : 2, dx = shape ? 29 : 1, dd = shape == 2 ? 32 : shape ? 3 : 1;
				int v = loop_new_var(p, "v", LT_I32, 1);
				LStmt *f = ls_for(p, &p->body, v, le_i32(p, 0), le_i32(p, n), 1);
				LExpr *h[2];
				for (int e = 0; e < 2; e++) {
					/* from byte 3: odd addresses */
					LExpr *ld = le_load(p, x, le_add(p, le_mul_k(p, le_var(p, v), cx), le_i32(p, 3 + e * dx)));
					LExpr *t = le_cast(p, LT_I32, ld, 0);
					if (zxs[zi])
						t = le_bin(p, LO_SUB, t, le_i32(p, zxs[zi]));
					h[e] = le_mul_k(p, t, k);
				}
				LExpr *w = le_bin(p, LO_OR, le_bin(p, LO_AND, h[0], le_i32(p, 0xffff)),
				                  le_bin(p, LO_SHL, h[1], le_i32(p, 16)));
				ls_store(p, &f->body, d, le_add(p, le_mul_k(p, le_var(p, v), dd), le_i32(p, 1)), w);
				int i = loop_new_var(p, "i", LT_I32, 1);
				LStmt *g = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, PK_ND), 1);
				LExpr *wd = le_load(p, d, le_var(p, i));
				ls_store(p, &g->body, y, le_mul_k(p, le_var(p, i), 2),
				         le_cast(p, LT_F32, le_bin(p, LO_SHR, le_bin(p, LO_SHL, wd, le_i32(p, 16)), le_i32(p, 16)), 0));
				ls_store(p, &g->body, y, le_add(p, le_mul_k(p, le_var(p, i), 2), le_i32(p, 1)),
				         le_cast(p, LT_F32, le_bin(p, LO_SHR, le_load(p, d, le_var(p, i)), le_i32(p, 16)), 0));
				Diag dg;
				diag_init(&dg);
				if (loop_verify(p, &dg) != 0)
					print_diag(&dg);
				assert_int_equal(loop_verify(p, &dg), 0);
				const float in[1] = {0};
				float ref[2 * PK_ND], out[2 * PK_ND];
				assert_int_equal(loop_eval(p, in, ref, &dg), 0);
				size_t len;
				char *s = emit(p, "thumbv7em", NULL, CG_FILE_ASM, &len);
				assert_non_null(s);
				assert_non_null(strstr(s, zxs[zi] == -128 ? "uxtb16" : "sxtb16"));
				assert_non_null(strstr(s, "pkhtb"));
				free(s);
				char name[32];
				snprintf(name, sizeof name, "pack_%d_%d_%d", shape, zi, (int)k);
				m4_matches(p, name, in, 1, out, ref, 2 * PK_ND);
				diag_free(&dg);
				loop_free(p);
			}
}

/* ---- every target, every output kind ------------------------------------- */

static void test_every_target_emits(void **state)
{
	LProgram *p = dense_relu();
	for (int i = 0; i < target_count(); i++) {
		const Target *t = target_at(i);
		for (int ft = CG_FILE_OBJ; ft <= CG_FILE_BC; ft++) {
			CgOptions o = {.target = t, .opt = CG_O2, .filetype = (CgFileType)ft, .prefix = "m"};
			char *out = NULL;
			size_t len = 0;
			Diag d;
			diag_init(&d);
			int rc = cg_compile_to_memory(p, &o, &out, &len, &d);
			if (rc)
				print_diag(&d);
			assert_int_equal(rc, 0);
			assert_true(len > 16);
			if (ft == CG_FILE_OBJ)
				assert_memory_equal(out, "\177ELF", 4);
			if (ft == CG_FILE_BC)
				assert_memory_equal(out, "BC\xc0\xde", 4);
			if (ft == CG_FILE_ASM)
				assert_non_null(strstr(out, "m_run"));
			if (ft == CG_FILE_LL)
				assert_non_null(strstr(out, "@m_run(ptr noalias nocapture noundef readonly %input"));
			free(out);
			diag_free(&d);
		}
	}
	loop_free(p);
}

static char *emit_at(const LProgram *p, const char *march, const char *cpu, CgFileType ft, CgOptLevel opt, size_t *len)
{
	CgOptions o = opts(march, ft);
	o.cpu = cpu;
	o.opt = opt;
	char *out = NULL;
	size_t n = 0;
	Diag d;
	diag_init(&d);
	int rc = cg_compile_to_memory(p, &o, &out, &n, &d);
	if (rc)
		print_diag(&d);
	assert_int_equal(rc, 0);
	diag_free(&d);
	if (len)
		*len = n;
	return out;
}

static char *emit(const LProgram *p, const char *march, const char *cpu, CgFileType ft, size_t *len)
{
	return emit_at(p, march, cpu, ft, CG_O3, len);
}

/* Cortex-M4F: floats in FPU registers and FPU arithmetic; Cortex-M0+: soft float calls. */
static void test_thumb_float_abi(void **state)
{
	LProgram *p = dense_relu();
	char *s = emit(p, "thumbv7em", NULL, CG_FILE_ASM, NULL);
	assert_true(strstr(s, "vfma.f32") || strstr(s, "vmla.f32") || strstr(s, "vadd.f32"));
	assert_non_null(strstr(s, ".fpu\tfpv4-sp-d16"));
	assert_null(strstr(s, "__aeabi_fadd"));
	free(s);
	s = emit(p, "thumbv6m", NULL, CG_FILE_ASM, NULL);
	assert_non_null(strstr(s, "__aeabi_fadd"));
	assert_null(strstr(s, "vadd.f32"));
	free(s);
	s = emit(p, "thumbv8m.main", NULL, CG_FILE_ASM, NULL);
	assert_true(strstr(s, "vfma.f32") || strstr(s, "vmla.f32") || strstr(s, "vadd.f32"));
	free(s);
	s = emit(p, "thumbv7em", "cortex-m7", CG_FILE_ASM, NULL);
	assert_non_null(strstr(s, ".cpu\tcortex-m7"));
	free(s);
	loop_free(p);
}

/* RISC-V: the ELF header's float-ABI flags must say ilp32f / lp64d, or gcc
 * refuses to link the object with the C library. */
static void test_riscv_float_abi_flags(void **state)
{
	LProgram *p = dense_relu();
	size_t n;
	char *o32 = emit(p, "riscv32", NULL, CG_FILE_OBJ, &n);
	uint32_t flags;
	memcpy(&flags, o32 + 0x24, 4); /* ELF32 e_flags */
	assert_int_equal(flags & 0x6, 0x2); /* EF_RISCV_FLOAT_ABI_SINGLE */
	assert_true(flags & 0x1);           /* EF_RISCV_RVC */
	free(o32);
	char *o64 = emit(p, "riscv64", NULL, CG_FILE_OBJ, &n);
	memcpy(&flags, o64 + 0x30, 4); /* ELF64 e_flags */
	assert_int_equal(flags & 0x6, 0x4); /* EF_RISCV_FLOAT_ABI_DOUBLE */
	free(o64);
	char *ll = emit(p, "riscv32", NULL, CG_FILE_LL, &n);
	assert_non_null(strstr(ll, "!\"target-abi\", !\"ilp32f\""));
	free(ll);
	loop_free(p);
}

/* Const buffers are private constants in .rodata; the weights are there. */
static void test_const_data_in_rodata(void **state)
{
	LProgram *p = dense_relu();
	/* at -O0, so the tiny weights are not folded into the code */
	char *s = emit_at(p, "x86-64", NULL, CG_FILE_LL, CG_O0, NULL);
	assert_non_null(strstr(s, "@m.w = private unnamed_addr constant [128 x i8]"));
	assert_non_null(strstr(s, "align 16"));
	assert_non_null(strstr(s, "!invariant.load"));
	free(s);
	s = emit_at(p, "thumbv7em", NULL, CG_FILE_ASM, CG_O0, NULL);
	assert_non_null(strstr(s, ".rodata"));
	free(s);
	loop_free(p);
}

/* ---- flags and messages ---------------------------------------------------- */

static void expect_target_error(const char *march, const char *cpu, const char *mattr, const char *triple,
                                const char *needle)
{
	CgOptions o = {.target = march ? target_find(march) : NULL, .cpu = cpu, .mattr = mattr, .triple = triple};
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_check_target(&o, &d), -1);
	assert_true(d.n >= 1);
	if (!strstr(d.msgs[0], needle))
		fprintf(stderr, "message '%s' lacks '%s'\n", d.msgs[0], needle);
	assert_non_null(strstr(d.msgs[0], needle));
	diag_free(&d);
}

static void test_bad_flags(void **state)
{
	assert_null(target_find("arm"));
	expect_target_error(NULL, NULL, NULL, NULL, "x86-64, aarch64, thumbv7em, thumbv6m, thumbv8m.main, riscv32, riscv64, native");
	expect_target_error("thumbv7em", "cortex-a72", NULL, NULL, "valid -mcpu values: cortex-m4, cortex-m7");
	expect_target_error("riscv32", "generic-rv64", NULL, NULL, "generic-rv32");
	expect_target_error("x86-64", NULL, "avx2", NULL, "+feature or -feature");
	expect_target_error("x86-64", NULL, "+avx2,", NULL, "+feature or -feature");
	expect_target_error("x86-64", NULL, NULL, "aarch64-linux-gnu", "does not match -march=x86-64");
	CgOptions o = {.target = target_find("x86-64"), .cpu = "skylake", .mattr = "+avx2,-avx512f",
	               .triple = "x86_64-pc-linux-gnu"};
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_check_target(&o, &d), 0);
	o = (CgOptions){.target = target_find("native")};
	assert_int_equal(cg_check_target(&o, &d), 0);
	o.cpu = "native";
	assert_int_equal(cg_check_target(&o, &d), 0);
	o = (CgOptions){.target = cg_host_target(), .cpu = "native"};
	assert_int_equal(cg_check_target(&o, &d), 0);
	o.target = target_find(strcmp(cg_host_target()->name, "aarch64") ? "aarch64" : "x86-64");
	assert_int_equal(cg_check_target(&o, &d), -1);
	assert_non_null(strstr(d.msgs[0], "-mcpu=native: this machine is not a"));
	diag_free(&d);

	char buf[64];
	target_cpu_names(target_find("x86-64"), buf, sizeof buf);
	assert_int_equal(strlen(buf), sizeof buf - 1);
	assert_string_equal(buf + sizeof buf - 4, "...");
}

static void test_bad_program(void **state)
{
	LProgram *p = dense_relu();
	/* a store into a const buffer */
	ls_store(p, &p->body, loop_find_buf(p, "w"), le_i32(p, 0), le_float(p, LT_F32, 1.0));
	CgOptions o = opts("x86-64", CG_FILE_OBJ);
	char path[512];
	snprintf(path, sizeof path, "%s/bad.o", tmpdir);
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_compile(p, &o, path, &d), -1);
	assert_non_null(strstr(d.msgs[0], "store to const buffer 'w'"));
	assert_int_equal(access(path, F_OK), -1); /* nothing written */
	diag_clear(&d);
	o.prefix = "9lives";
	assert_int_equal(cg_compile(p, &o, path, &d), -1);
	assert_non_null(strstr(d.msgs[0], "C identifier"));
	diag_free(&d);
	loop_free(p);
}

static void test_header(void **state)
{
	LProgram *p = dense_relu();
	CgIoDesc in = {.rank = 2, .shape = {2, 4}};
	char *h = cg_header_text(p, "fashion", &in, NULL);
	assert_non_null(h);
	assert_non_null(strstr(h, "#define FASHION_ARENA_BYTES 32\n"));
	assert_non_null(strstr(h, "#define FASHION_ARENA_ALIGN 16"));
	assert_non_null(strstr(h, "#define FASHION_INPUT_SHAPE {2, 4}\n"));
	assert_non_null(strstr(h, "#define FASHION_INPUT_SIZE 8 "));
	assert_non_null(strstr(h, "#define FASHION_INPUT_BYTES 32\n"));
	assert_non_null(strstr(h, "#define FASHION_OUTPUT_RANK 1\n"));
	assert_non_null(strstr(h, "int fashion_run(const float *input, float *output, void *arena);"));
	free(h);
	loop_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense_runs_O0),
		cmocka_unit_test(test_dense_runs_O3),
		cmocka_unit_test(test_dense_runs_Oz),
		cmocka_unit_test(test_elementwise_runs),
		cmocka_unit_test(test_strided_loop_stops),
		cmocka_unit_test(test_elementwise_runs_cortex_m4),
		cmocka_unit_test(test_dense_runs_cortex_m4),
		cmocka_unit_test(test_pairs_run),
		cmocka_unit_test(test_pairs_run_cortex_m4),
		cmocka_unit_test(test_pairs_instructions),
		cmocka_unit_test(test_smlad_loops_cortex_m4),
		cmocka_unit_test(test_unpack_loop_cortex_m4),
		cmocka_unit_test(test_requant_asm_cortex_m4),
		cmocka_unit_test(test_pack_loops_cortex_m4),
		cmocka_unit_test(test_block_asm_shapes_cortex_m4),
		cmocka_unit_test(test_every_target_emits),
		cmocka_unit_test(test_thumb_float_abi),
		cmocka_unit_test(test_riscv_float_abi_flags),
		cmocka_unit_test(test_const_data_in_rodata),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_bad_program),
		cmocka_unit_test(test_header),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
