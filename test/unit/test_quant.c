/* test_quant — quantization: TFLite's requantization primitives against
 * hand-computed values, and the quantize pass (opt/graph/quantize.c) on a
 * small model built from JSON text: the quantized graph verifies, holds
 * Quantize/Dequantize only at its edges, runs, and stays close to float;
 * bad requests give messages naming the argument or the op.
 * (The integer kernels are compared bit for bit with numpy in test/quant/ref.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frontend.h"
#include "gopt.h"
#include "quant.h"
#include "quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- primitives ------------------------------------------------------------ */

static void test_multiplier(void **st)
{
	(void)st;
	int32_t qm;
	int sh;
	nnl_quantize_multiplier(0.5, &qm, &sh);
	assert_int_equal(qm, 1 << 30);
	assert_int_equal(sh, 0);
	nnl_quantize_multiplier(1.0, &qm, &sh);
	assert_int_equal(qm, 1 << 30);
	assert_int_equal(sh, 1);
	nnl_quantize_multiplier(0.25, &qm, &sh);
	assert_int_equal(qm, 1 << 30);
	assert_int_equal(sh, -1);
	nnl_quantize_multiplier(0.75, &qm, &sh);
	assert_int_equal(qm, 1610612736);
	assert_int_equal(sh, 0);
	nnl_quantize_multiplier(ldexp(1.0, -40), &qm, &sh); /* shift < -31: flushed to 0 */
	assert_int_equal(qm, 0);
	assert_int_equal(sh, 0);
	nnl_quantize_multiplier(0.0, &qm, &sh);
	assert_int_equal(qm, 0);
	/* (1 - 2^-33): rounds up to 2^31, renormalised */
	nnl_quantize_multiplier(1.0 - ldexp(1.0, -33), &qm, &sh);
	assert_int_equal(qm, 1 << 30);
	assert_int_equal(sh, 1);
}

static void test_fixed_point(void **st)
{
	(void)st;
	assert_int_equal(nnl_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
	assert_int_equal(nnl_srdhm(1 << 30, 1 << 30), 1 << 29);
	assert_int_equal(nnl_rdbypot(5, 1), 3);
	assert_int_equal(nnl_rdbypot(-5, 1), -3);
	assert_int_equal(nnl_rdbypot(-4, 1), -2);
	assert_int_equal(nnl_rdbypot(6, 2), 2);
	assert_int_equal(nnl_rdbypot(-6, 2), -2);
	assert_int_equal(nnl_rdbypot(7, 0), 7);
	/* × 0.5: 50.5 → 51 but -50.5 → -50 (gemmlowp's nudge, then truncation) */
	assert_int_equal(nnl_mbqm(100, 1 << 30, 0), 50);
	assert_int_equal(nnl_mbqm(101, 1 << 30, 0), 51);
	assert_int_equal(nnl_mbqm(-101, 1 << 30, 0), -50);
	assert_int_equal(nnl_mbqm(3, 1 << 30, 2), 6);       /* × 2 */
	assert_int_equal(nnl_mbqm(1000, 1 << 30, -3), 63);  /* 1000/16 = 62.5 → 63 */
	assert_int_equal(nnl_mbqm(-1000, 1 << 30, -3), -63);
	/* int64 version: reduced multiplier 16384, total shift 15, floor after +2^14 */
	assert_int_equal(nnl_mbqm64(1000, 1 << 30, 0), 500);
	assert_int_equal(nnl_mbqm64(1001, 1 << 30, 0), 501);
	assert_int_equal(nnl_mbqm64(-1001, 1 << 30, 0), -500);
	assert_int_equal(nnl_mbqm64(INT64_C(1) << 40, 1 << 30, 0), INT32_MAX); /* 2^39: saturated */
	assert_int_equal(nnl_round_div(5, 2), 3);
	assert_int_equal(nnl_round_div(-5, 2), -3);
	assert_int_equal(nnl_round_div(7, 4), 2);
	assert_int_equal(nnl_round_div(6, 4), 2);
	assert_int_equal(nnl_round_div(-6, 4), -2);
	assert_int_equal(nnl_quantize_value(0.5f, 0.1, 3, -128, 127), 8);
	assert_int_equal(nnl_quantize_value(-0.25f, 0.1, 0, -128, 127), -3); /* -2.5 → -3 */
	assert_int_equal(nnl_quantize_value(1000.0f, 0.1, 0, -128, 127), 127);
	/* NaN quantizes as 0 does (the zero point), as TFLite's cast does on Arm */
	assert_int_equal(nnl_quantize_value(NAN, 0.1, 0, -128, 127), 0);
	assert_int_equal(nnl_quantize_value(-NAN, 0.1, -7, -128, 127), -7);
	assert_int_equal(nnl_quantize_value(-INFINITY, 0.1, 5, -128, 127), -128);
	assert_int_equal(nnl_quantize_value(INFINITY, 0.1, 5, -32768, 32767), 32767);
}

/* ---- the pass ------------------------------------------------------------------- */

static char buf[1 << 16];
static size_t len;
static uint32_t seed = 777;

static void put(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	len += (size_t)vsnprintf(buf + len, sizeof buf - len, fmt, ap);
	va_end(ap);
}

static double rnd(void)
{
	seed = seed * 1664525u + 1013904223u;
	return ((seed >> 8) / 16777216.0) * 2 - 1;
}

static void values(int n, double sc)
{
	put("[");
	for (int i = 0; i < n; i++)
		put("%s%.6f", i ? ", " : "", rnd() * sc);
	put("]");
}

/* conv(1→4, 3×3, pad 1) → ReLU → [mid] → MaxPool 2 → Flatten → Linear(36→3) */
static Model *small_model(const char *mid, Diag *d)
{
	len = 0;
	put("{\"type\": \"Model\", \"name\": \"q\", \"input_shape\": [1, 1, 6, 6], \"input_datatype\": \"float32\","
	    "\"output_shape\": [1, 3], \"output_datatype\": \"float32\", \"blocks\": [{\"type\": \"Block\", \"name\": \"b\","
	    "\"input_shape\": [1, 1, 6, 6], \"input_datatype\": \"float32\", \"output_shape\": [1, 3],"
	    "\"output_datatype\": \"float32\", \"layers\": [");
	put("{\"type\": \"Tensor\", \"name\": \"w1\", \"shape\": [4, 1, 3, 3], \"datatype\": \"float32\", \"value\": ");
	values(36, 0.5);
	put("}, {\"type\": \"Tensor\", \"name\": \"b1\", \"shape\": [4], \"datatype\": \"float32\", \"value\": ");
	values(4, 0.1);
	put("}, {\"type\": \"Layer\", \"name\": \"Conv2d\", \"id\": \"conv\", \"tensor_input\": [\"X\", \"w1\", \"b1\"],"
	    "\"tensor_output\": \"c\", \"attributes\": {\"padding\": 1}},"
	    "{\"type\": \"Layer\", \"name\": \"ReLU\", \"tensor_input\": \"c\", \"tensor_output\": \"r\"},");
	put("{\"type\": \"Layer\", \"name\": \"%s\", \"id\": \"mid\", \"tensor_input\": \"r\", \"tensor_output\": \"m\"},",
	    mid);
	put("{\"type\": \"Layer\", \"name\": \"MaxPool2d\", \"tensor_input\": \"m\", \"tensor_output\": \"p\","
	    "\"attributes\": {\"kernel_size\": 2}},"
	    "{\"type\": \"Layer\", \"name\": \"Flatten\", \"tensor_input\": \"p\", \"tensor_output\": \"f\"},");
	put("{\"type\": \"Tensor\", \"name\": \"w2\", \"shape\": [3, 36], \"datatype\": \"float32\", \"value\": ");
	values(108, 0.4);
	put("}, {\"type\": \"Tensor\", \"name\": \"b2\", \"shape\": [3], \"datatype\": \"float32\", \"value\": ");
	values(3, 0.1);
	put("}, {\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fc\", \"tensor_input\": [\"f\", \"w2\", \"b2\"],"
	    "\"tensor_output\": \"Y\"}]}]}");
	return json_load_model_buffer(buf, len, "q.json", ".", d);
}

static const char *calib_file(void)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/test_quant_calib.npy", NNL_BINARY_DIR);
	static float x[64 * 36];
	for (int i = 0; i < 64 * 36; i++)
		x[i] = (float)rnd();
	NdArray a = {DT_FLOAT32, 4, {64, 1, 6, 6}, x, sizeof x};
	Diag d;
	diag_init(&d);
	int rc = npy_write(path, &a, &d);
	diag_free(&d);
	assert_int_equal(rc, 0);
	return path;
}

static int run_pass(Model *m, const char *spec, const char *calib, Diag *d)
{
	GPipeline pl;
	PassReport r = {0};
	QuantizeOptions o = {calib, 0, NULL, 0};
	gopt_quantize_set_options(&o);
	int rc = gopt_parse(spec, &pl, d);
	if (rc == 0)
		rc = gopt_run(m, &pl, NULL, &r, d);
	gopt_pipeline_free(&pl);
	report_free(&r);
	return rc;
}

static int has_msg(const Diag *d, const char *s)
{
	for (int i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], s))
			return 1;
	return 0;
}

static void test_pass(void **st)
{
	(void)st;
	const char *calib = calib_file();
	const char *specs[] = {"quantize", "quantize(per_tensor=1,method=percentile)", "quantize(scheme=int16x8,method=mse)",
	                       "quantize(scheme=int4)"};
	for (int s = 0; s < 4; s++) {
		Diag d;
		diag_init(&d);
		Model *f = small_model("Identity", &d);
		assert_non_null(f);
		Model *m = gopt_model_clone(f);
		assert_non_null(m);
		int rc = run_pass(m, specs[s], calib, &d);
		if (rc)
			diag_print(&d, specs[s]);
		assert_int_equal(rc, 0);
		/* integer-only between one Quantize (first) and one Dequantize (last) */
		const Block *b = &m->blocks[0];
		assert_int_equal(b->nodes[0].op, OP_QUANTIZE);
		assert_int_equal(b->nodes[b->n_nodes - 1].op, OP_DEQUANTIZE);
		for (int i = 1; i < b->n_nodes - 1; i++) {
			assert_true(b->nodes[i].op != OP_QUANTIZE && b->nodes[i].op != OP_DEQUANTIZE);
			assert_true(dtype_is_int(b->tensors[b->nodes[i].out].dtype));
			assert_non_null(b->tensors[b->nodes[i].out].quant);
		}
		/* the written model loads back */
		char *text = json_model_text(m, &d);
		assert_non_null(text);
		free(text);
		/* close to float on the calibration-like inputs */
		double err = 0, ref = 0;
		for (int k = 0; k < 20; k++) {
			float x[36], y0[3], y1[3];
			for (int i = 0; i < 36; i++)
				x[i] = (float)rnd();
			assert_int_equal(model_eval(f, x, y0, &d), 0);
			assert_int_equal(model_eval(m, x, y1, &d), 0);
			for (int i = 0; i < 3; i++) {
				err = fmax(err, fabs(y0[i] - y1[i]));
				ref = fmax(ref, fabs(y0[i]));
			}
		}
		print_message("%s: max |float - quantized| = %.4f of max |float| %.4f\n", specs[s], err, ref);
		assert_true(err < (s == 3 ? 0.15 : 0.06) * ref);
		model_free(f);
		model_free(m);
		diag_free(&d);
	}
}

static void test_int_io(void **st)
{
	(void)st;
	Diag d;
	diag_init(&d);
	Model *m = small_model("Identity", &d);
	assert_int_equal(run_pass(m, "quantize(int_io=1)", calib_file(), &d), 0);
	assert_int_equal(m->in_dtype, DT_INT8);
	assert_int_equal(m->out_dtype, DT_INT8);
	for (int i = 0; i < m->blocks[0].n_nodes; i++)
		assert_true(m->blocks[0].nodes[i].op != OP_QUANTIZE && m->blocks[0].nodes[i].op != OP_DEQUANTIZE);
	int8_t x[36], y[3];
	for (int i = 0; i < 36; i++)
		x[i] = (int8_t)(i * 7 - 128);
	assert_int_equal(model_eval(m, x, y, &d), 0);
	model_free(m);
	diag_free(&d);
}

static void test_bad(void **st)
{
	(void)st;
	const char *calib = calib_file();
	Diag d;
	diag_init(&d);
	Model *m = small_model("Identity", &d);
	assert_int_equal(run_pass(m, "quantize(scheme=int3)", calib, &d), -1);
	assert_true(has_msg(&d, "expected int8, int16x8 or int4"));
	diag_clear(&d);
	assert_int_equal(run_pass(m, "quantize(method=kl)", calib, &d), -1);
	assert_true(has_msg(&d, "expected minmax, percentile or mse"));
	diag_clear(&d);
	assert_int_equal(run_pass(m, "quantize", NULL, &d), -1);
	assert_true(has_msg(&d, "needs calibration samples"));
	model_free(m);
	/* an op without an integer kernel inside the integer part */
	diag_clear(&d);
	m = small_model("Sigmoid", &d);
	assert_int_equal(run_pass(m, "quantize(strict=1)", calib, &d), -1);
	assert_true(has_msg(&d, "'mid' (Sigmoid)"));
	model_free(m);
	/* without strict: kept in float between Dequantize and Quantize, and it runs */
	diag_clear(&d);
	m = small_model("Sigmoid", &d);
	assert_int_equal(run_pass(m, "quantize", calib, &d), 0);
	int dq = 0;
	for (int i = 0; i < m->blocks[0].n_nodes; i++)
		dq += m->blocks[0].nodes[i].op == OP_DEQUANTIZE;
	assert_int_equal(dq, 2);
	float x[36] = {0}, y[3];
	assert_int_equal(model_eval(m, x, y, &d), 0);
	model_free(m);
	/* the interpreter's own check: an integer Sigmoid */
	diag_clear(&d);
	len = 0;
	put("{\"type\": \"Model\", \"name\": \"s\", \"input_shape\": [2], \"input_datatype\": \"int8\", \"output_shape\": [2],"
	    "\"output_datatype\": \"int8\", \"blocks\": [{\"type\": \"Block\", \"name\": \"b\", \"input_shape\": [2],"
	    "\"input_datatype\": \"int8\", \"output_shape\": [2], \"output_datatype\": \"int8\", \"layers\": ["
	    "{\"type\": \"Tensor\", \"name\": \"q\", \"shape\": [2], \"datatype\": \"int8\", \"quantization\": {\"scale\": 0.1, \"zero_point\": 0}},"
	    "{\"type\": \"=\", \"tensor_input\": \"X\", \"tensor_output\": \"q\"},"
	    "{\"type\": \"Layer\", \"name\": \"Sigmoid\", \"tensor_input\": \"q\", \"tensor_output\": \"Y\"}]}]}");
	assert_null(json_load_model_buffer(buf, len, "s.json", ".", &d));
	assert_true(has_msg(&d, "Sigmoid has no integer kernel"));
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_multiplier),
	    cmocka_unit_test(test_fixed_point),
	    cmocka_unit_test(test_pass),
	    cmocka_unit_test(test_int_io),
	    cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
