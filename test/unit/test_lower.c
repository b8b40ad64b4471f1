/* test_lower.c — lowering (codegen/lower.c) against the reference interpreter.
 *
 * - every op case test/ops/cases/<case>.json (with <case>/input.npy): load,
 *   lower, loop_verify, loop_eval, and compare with model_eval on the same
 *   input: floats within 1e-5 relative (absolute below 1: |a - b| <= 1e-5 ·
 *   max(1, |ref|)), non-finite values identical, integers exact. Cases the
 *   interpreter rejects at run time (integer division by zero) must give 0
 *   there in the lowered program instead.
 * - models listed in $NNL_LOWER_MODELS (colon-separated model.json paths,
 *   e.g. the fashion-MNIST export) on a deterministic input.
 * - golden text: test/lower/<name>.json lowered and printed must equal
 *   test/lower/<name>.loop (NNL_UPDATE_GOLDEN=1 rewrites the .loop files).
 * - structure: arena placement and liveness, labels, views aliasing, the
 *   conv border/interior split, integer division by zero.
 * - quantized models test/lower/quant/<case>.json (written by gen.py there): the
 *   integer lowering (lower_quant.c) must equal the interpreter bit for bit,
 *   float outputs (after a Dequantize) included: portable, with the Arm DSP
 *   kernels (LowerOptions.dsp) and with the vector-friendly ones (.vec).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "codegen.h"
#include "frontend.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NNL_SOURCE_DIR
#define NNL_SOURCE_DIR ".."
#endif

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names of dir/ *suffix (without the suffix); count in *n. */
static char **list_dir(const char *dir, const char *suffix, int *n)
{
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	char **v = NULL;
	int cnt = 0, cap = 0;
	size_t sl = strlen(suffix);
	struct dirent *e;
	while ((e = readdir(dp))) {
		size_t l = strlen(e->d_name);
		if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 64;
			v = realloc(v, (size_t)cap * sizeof *v);
			assert_non_null(v);
		}
		v[cnt] = strndup(e->d_name, l - sl);
		assert_non_null(v[cnt]);
		cnt++;
	}
	closedir(dp);
	if (cnt)
		qsort(v, (size_t)cnt, sizeof *v, cmp_str);
	*n = cnt;
	return v;
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Compare the lowered program's output with the interpreter's; 0 if equal
 * within tolerance, else prints the first difference. */
static int exact_floats; /* compare float outputs bit for bit (quantized models) */

static int compare(const char *what, DType t, int64_t ne, const void *got, const void *ref)
{
	for (int64_t i = 0; i < ne; i++) {
		if (dtype_is_float(t) && exact_floats) {
			size_t w = (size_t)dtype_bytes(t, 1);
			if (memcmp((const char *)got + (size_t)i * w, (const char *)ref + (size_t)i * w, w) != 0) {
				fprintf(stderr, "%s: element %lld is %.9g, the interpreter gives %.9g (bits differ)\n", what,
				        (long long)i, dtype_get(t, got, i), dtype_get(t, ref, i));
				return -1;
			}
		} else if (dtype_is_float(t)) {
			double a = dtype_get(t, got, i), b = dtype_get(t, ref, i);
			int ok;
			if (!isfinite(b) || !isfinite(a))
				ok = (isnan(a) && isnan(b)) || a == b;
			else
				ok = fabs(a - b) <= 1e-5 * fmax(1.0, fabs(b));
			if (!ok) {
				fprintf(stderr, "%s: element %lld is %.9g, the interpreter gives %.9g\n", what, (long long)i, a, b);
				return -1;
			}
		} else if (dtype_get_i64(t, got, i) != dtype_get_i64(t, ref, i)) {
			fprintf(stderr, "%s: element %lld is %lld, the interpreter gives %lld\n", what, (long long)i,
			        (long long)dtype_get_i64(t, got, i), (long long)dtype_get_i64(t, ref, i));
			return -1;
		}
	}
	return 0;
}

/* Lower m (for the target properties lo, NULL: portable), verify, run on
 * input and compare with model_eval. 0 on success. */
static int check_model_opts(const char *what, const Model *m, const void *input, const LowerOptions *lo)
{
	Diag d;
	diag_init(&d);
	int rc = -1;
	LProgram *p = lower_model_opts(m, lo, &d);
	int64_t ne = shape_numel(m->out_rank, m->out_shape);
	int64_t nb = dtype_bytes(m->out_dtype, ne);
	void *ref = calloc(1, (size_t)nb + 8), *got = calloc(1, (size_t)nb + 8);
	assert_non_null(ref);
	assert_non_null(got);
	if (!p) {
		fprintf(stderr, "%s: lower_model failed\n", what);
		diag_print(&d, what);
		goto out;
	}
	if (loop_verify(p, &d) < 0) {
		fprintf(stderr, "%s: loop_verify failed\n", what);
		diag_print(&d, what);
		goto out;
	}
	if (loop_eval(p, input, got, &d) < 0) {
		fprintf(stderr, "%s: loop_eval failed\n", what);
		diag_print(&d, what);
		goto out;
	}
	Diag d2;
	diag_init(&d2);
	if (model_eval(m, input, ref, &d2) < 0) {
		/* integer ./ or % by zero: compiled code yields 0 where the
		 * interpreter reports an error; the other elements must agree */
		diag_free(&d2);
		rc = 0;
		goto out;
	}
	diag_free(&d2);
	rc = compare(what, m->out_dtype, ne, got, ref);
out:
	free(ref);
	free(got);
	loop_free(p);
	diag_free(&d);
	return rc;
}

static int check_model(const char *what, const Model *m, const void *input)
{
	return check_model_opts(what, m, input, NULL);
}

static void test_op_cases(void **state)
{
	(void)state;
	const char *dir = NNL_SOURCE_DIR "/test/ops/cases";
	int n, failed = 0, run = 0;
	char **names = list_dir(dir, ".json", &n);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		char path[1024], inp[1024];
		snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
		snprintf(inp, sizeof inp, "%s/%s/input.npy", dir, names[i]);
		Diag d;
		diag_init(&d);
		Model *m = json_load_model(path, &d);
		NdArray in;
		memset(&in, 0, sizeof in);
		if (!m || npy_read(inp, &in, &d) < 0) {
			fprintf(stderr, "%s: cannot load\n", names[i]);
			diag_print(&d, names[i]);
			failed++;
		} else {
			run++;
			if (check_model(names[i], m, in.data) < 0)
				failed++;
		}
		ndarray_free(&in);
		model_free(m);
		diag_free(&d);
	}
	fprintf(stderr, "op cases: %d lowered and compared, %d failed\n", run, failed);
	free_list(names, n);
	assert_int_equal(failed, 0);
}

/* Deterministic input in [-1, 1) of the model's input type. */
static void *make_input(const Model *m)
{
	int64_t ne = shape_numel(m->in_rank, m->in_shape);
	void *x = calloc(1, (size_t)dtype_bytes(m->in_dtype, ne) + 8);
	assert_non_null(x);
	uint32_t s = 12345;
	for (int64_t i = 0; i < ne; i++) {
		s = s * 1664525u + 1013904223u;
		dtype_set(m->in_dtype, x, i, (double)(s >> 8) / (double)(1u << 23) - 1.0);
	}
	return x;
}

static void test_extra_models(void **state)
{
	(void)state;
	const char *env = getenv("NNL_LOWER_MODELS");
	if (!env || !*env) {
		skip();
		return;
	}
	char *list = strdup(env);
	assert_non_null(list);
	int failed = 0;
	for (char *save = NULL, *path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
		Diag d;
		diag_init(&d);
		Model *m = json_load_model(path, &d);
		if (!m) {
			diag_print(&d, path);
			failed++;
		} else {
			void *x = make_input(m);
			if (check_model(path, m, x) < 0)
				failed++;
			else
				fprintf(stderr, "%s: lowered output matches the interpreter\n", path);
			free(x);
		}
		model_free(m);
		diag_free(&d);
	}
	free(list);
	assert_int_equal(failed, 0);
}

/* test/lower/quant/<case>.json: lowered quantized models equal model_eval exactly. */
static void test_quant_models(void **state)
{
	(void)state;
	const char *dir = NNL_SOURCE_DIR "/test/lower/quant";
	int n, failed = 0;
	char **names = list_dir(dir, ".json", &n);
	assert_true(n > 0);
	exact_floats = 1;
	for (int i = 0; i < n; i++) {
		char path[1024];
		snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
		Diag d;
		diag_init(&d);
		Model *m = json_load_model(path, &d);
		if (!m) {
			diag_print(&d, names[i]);
			failed++;
		} else {
			/* inputs in [-4, 4): saturating the input Quantize too */
			void *x = make_input(m);
			int64_t ne = shape_numel(m->in_rank, m->in_shape);
			for (int64_t k = 0; k < ne; k++)
				dtype_set(m->in_dtype, x, k, 4.0 * dtype_get(m->in_dtype, x, k));
			/* portable, with the Arm DSP kernels (dot2/sxtb16, which the
			 * interpreter defines) and with the vector-friendly ones: all bit
			 * for bit */
			LowerOptions dsp = {.dsp = 1}, vec = {.vec = 1}, vec1 = {.vec = 2};
			char what[300];
			if (check_model(names[i], m, x) < 0)
				failed++;
			snprintf(what, sizeof what, "%s (dsp)", names[i]);
			if (check_model_opts(what, m, x, &dsp) < 0)
				failed++;
			snprintf(what, sizeof what, "%s (vec)", names[i]);
			if (check_model_opts(what, m, x, &vec) < 0)
				failed++;
			snprintf(what, sizeof what, "%s (vec, 1x1 blocks)", names[i]);
			if (check_model_opts(what, m, x, &vec1) < 0)
				failed++;
			free(x);
		}
		model_free(m);
		diag_free(&d);
	}
	exact_floats = 0;
	fprintf(stderr, "quantized models: %d lowered and compared bit for bit, %d failed\n", n, failed);
	free_list(names, n);
	assert_int_equal(failed, 0);
}

/* The input Quantize's edge values (its lowering computes 2·(x/s) as x / (s/2)
 * and rounds half away from zero from trunc(2·x/s)): exact ties ±(k + ½)·s,
 * their float neighbours, ±0, subnormals, NaN, ±inf, values beyond int32
 * and beyond the output range, to int8 (zero point −3) and int16; lowered
 * equals model_eval bit for bit. */
static void test_quantize_edges(void **state)
{
	(void)state;
	/* the third: s/2 subnormal, so the lowering takes its other form (t = trunc(v), v − t against ±½) */
	static const char *const types[3][3] = {
		{"int8", "-3", "0.0235294122248888"}, {"int16", "0", "0.0235294122248888"}, {"int8", "5", "1.5e-38"}};
	for (int ty = 0; ty < 3; ty++) {
		char text[2048];
		snprintf(text, sizeof text,
		         "{\"type\": \"Model\", \"name\": \"qedge\", \"input_shape\": [1, 600], \"input_datatype\": \"float32\",\n"
		         " \"output_shape\": [1, 600], \"output_datatype\": \"%s\", \"blocks\": [{\"type\": \"Block\", \"name\": \"b\",\n"
		         " \"input_shape\": [1, 600], \"input_datatype\": \"float32\", \"output_shape\": [1, 600], \"output_datatype\": \"%s\",\n"
		         " \"layers\": [{\"type\": \"Tensor\", \"name\": \"Y\", \"shape\": [1, 600], \"datatype\": \"%s\",\n"
		         "  \"quantization\": {\"scale\": %s, \"zero_point\": %s}},\n"
		         " {\"type\": \"Layer\", \"name\": \"Quantize\", \"tensor_input\": \"X\", \"tensor_output\": \"Y\",\n"
		         "  \"attributes\": {\"datatype\": \"%s\"}}]}]}\n",
		         types[ty][0], types[ty][0], types[ty][0], types[ty][2], types[ty][1], types[ty][0]);
		Diag d;
		diag_init(&d);
		Model *m = json_load_model_buffer(text, strlen(text), "qedge", ".", &d);
		if (!m)
			diag_print(&d, "qedge");
		assert_non_null(m);
		const Block *b = &m->blocks[0];
		const float s = (float)b->tensors[b->nodes[0].out].quant->scale[0];
		float x[600];
		const float fixed[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-40f, 1e30f, -1e30f, 3e9f * s, -3e9f * s};
		int i = 0;
		for (; i < (int)(sizeof fixed / sizeof fixed[0]); i++)
			x[i] = fixed[i];
		for (int k = 0; i < 600; i++, k++) {
			/* (k/3 − 98 + ½)·s and the floats beside it: ties across the int8
			 * range and past it (int16: 100·s steps reach ±19,000) */
			float t = ((float)(k / 3 - 98) * (ty == 1 ? 100.0f : 1.0f) + 0.5f) * s;
			x[i] = k % 3 == 0 ? t : k % 3 == 1 ? nextafterf(t, INFINITY) : nextafterf(t, -INFINITY);
		}
		exact_floats = 1;
		assert_int_equal(check_model(types[ty][0], m, x), 0);
		exact_floats = 0;
		model_free(m);
		diag_free(&d);
	}
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	size_t got = fread(s, 1, (size_t)n, f);
	s[got] = 0;
	fclose(f);
	return s;
}

static void test_golden(void **state)
{
	(void)state;
	const char *dir = NNL_SOURCE_DIR "/test/lower";
	int n, failed = 0;
	char **names = list_dir(dir, ".json", &n);
	int update = getenv("NNL_UPDATE_GOLDEN") && strcmp(getenv("NNL_UPDATE_GOLDEN"), "1") == 0;
	for (int i = 0; i < n; i++) {
		char path[1024], gpath[1024];
		snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
		snprintf(gpath, sizeof gpath, "%s/%s.loop", dir, names[i]);
		Diag d;
		diag_init(&d);
		Model *m = json_load_model(path, &d);
		if (!m)
			diag_print(&d, path);
		assert_non_null(m);
		LProgram *p = lower_model(m, &d);
		if (!p)
			diag_print(&d, path);
		assert_non_null(p);
		assert_int_equal(loop_verify(p, &d), 0);
		char *text = loop_print(p);
		assert_non_null(text);
		/* the text form reads back and prints the same */
		LProgram *q = loop_parse(text, gpath, &d);
		if (!q)
			diag_print(&d, gpath);
		assert_non_null(q);
		char *text2 = loop_print(q);
		assert_non_null(text2);
		assert_string_equal(text, text2);
		if (update) {
			FILE *f = fopen(gpath, "wb");
			assert_non_null(f);
			fputs(text, f);
			fclose(f);
		} else {
			char *want = read_text(gpath);
			if (!want || strcmp(want, text) != 0) {
				fprintf(stderr, "%s: lowered text differs from %s (NNL_UPDATE_GOLDEN=1 rewrites it):\n%s\n",
				        names[i], gpath, text);
				failed++;
			}
			free(want);
		}
		void *x = make_input(m);
		assert_int_equal(check_model(names[i], m, x), 0);
		free(x);
		free(text);
		free(text2);
		loop_free(q);
		loop_free(p);
		model_free(m);
		diag_free(&d);
	}
	free_list(names, n);
	assert_int_equal(failed, 0);
}

static Model *load_text(const char *json)
{
	Diag d;
	diag_init(&d);
	Model *m = json_load_model_buffer(json, strlen(json), "<test>", NNL_SOURCE_DIR "/test/lower", &d);
	if (!m)
		diag_print(&d, "test_lower");
	diag_free(&d);
	assert_non_null(m);
	return m;
}

static const char *conv_json =
	"{\"type\": \"Model\", \"name\": \"c\", \"input_shape\": [1, 2, 6, 6], \"input_datatype\": \"float32\","
	" \"output_shape\": [1, 27], \"output_datatype\": \"float32\", \"blocks\": [{\"type\": \"Block\", \"name\": \"b\","
	" \"input_shape\": [1, 2, 6, 6], \"input_datatype\": \"float32\", \"output_shape\": [1, 27],"
	" \"output_datatype\": \"float32\", \"layers\": ["
	"{\"type\": \"Tensor\", \"name\": \"conv.w\", \"shape\": [3, 2, 3, 3], \"datatype\": \"float32\", \"value\":"
	" [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8,-0.1,-0.2,-0.3,-0.4,-0.5,-0.6,-0.7,"
	"-0.8,-0.9,-1,-1.1,-1.2,-1.3,-1.4,-1.5,-1.6,-1.7,-1.8,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,"
	"0.5,0.5,0.25,0.125,0.75]},"
	"{\"type\": \"Tensor\", \"name\": \"conv.b\", \"shape\": [3], \"datatype\": \"float32\", \"value\": [0.5, -1, 2]},"
	"{\"type\": \"Layer\", \"name\": \"Conv2d\", \"id\": \"conv1\", \"tensor_input\": [\"X\", \"conv.w\", \"conv.b\"],"
	" \"tensor_output\": \"h\", \"attributes\": {\"padding\": 1}},"
	"{\"type\": \"Layer\", \"name\": \"ReLU\", \"tensor_input\": [\"h\"], \"tensor_output\": \"r\"},"
	"{\"type\": \"Layer\", \"name\": \"MaxPool2d\", \"tensor_input\": [\"r\"], \"tensor_output\": \"q\","
	" \"attributes\": {\"kernel_size\": 3, \"stride\": 2, \"padding\": 1}},"
	"{\"type\": \"Layer\", \"name\": \"Flatten\", \"tensor_input\": [\"q\"], \"tensor_output\": \"f\"},"
	"{\"type\": \"Layer\", \"name\": \"Sigmoid\", \"tensor_input\": [\"f\"], \"tensor_output\": \"s\"},"
	"{\"type\": \"Layer\", \"name\": \"Reshape\", \"tensor_input\": [\"s\"], \"tensor_output\": \"Y\","
	" \"attributes\": {\"shape\": [1, 27]}}"
	"]}]}";

static int count_kind(const LStmtList *l, LStmtKind k, const char *varprefix, const LProgram *p)
{
	int c = 0;
	for (int i = 0; i < l->n; i++) {
		const LStmt *s = l->v[i];
		if (s->kind == k && (!varprefix || strncmp(p->vars[s->var].name, varprefix, strlen(varprefix)) == 0))
			c++;
		c += count_kind(&s->body, k, varprefix, p);
		c += count_kind(&s->els, k, varprefix, p);
	}
	return c;
}

static void test_structure(void **state)
{
	(void)state;
	Model *m = load_text(conv_json);
	Diag d;
	diag_init(&d);
	LProgram *p = lower_model(m, &d);
	assert_non_null(p);
	assert_int_equal(loop_verify(p, &d), 0);
	int in = loop_find_buf(p, "input"), out = loop_find_buf(p, "output");
	assert_true(in >= 0 && out >= 0);
	assert_int_equal(p->bufs[in].kind, LB_INPUT);
	assert_int_equal(p->bufs[out].kind, LB_OUTPUT);
	/* constants named after the tensors (sanitized), origin = name (inline) */
	int w = loop_find_buf(p, "conv_w_blk");
	assert_true(w >= 0);
	assert_int_equal(p->bufs[w].kind, LB_CONST);
	assert_string_equal(p->bufs[w].origin, "conv.w");
	/* re-laid out in blocks of output channels (here all 3): w[0][0][0][1]
	 * (0.2) is tap 1 of channel 0, at 1·3 + 0 */
	assert_true(((float *)p->bufs[w].data)[3] == 0.2f);
	/* conv, relu, pool, sigmoid: one top-level nest each; Flatten and
	 * Reshape are views (the sigmoid writes "output" directly) */
	assert_int_equal(p->body.n, 4);
	assert_string_equal(p->body.v[0]->label, "conv1 (Conv2d)");
	assert_string_equal(p->body.v[1]->label, "r (ReLU)");
	assert_string_equal(p->body.v[3]->label, "s (Sigmoid)");
	int h = loop_find_buf(p, "h");
	assert_true(h >= 0);
	assert_int_equal(p->bufs[h].first, 0);
	assert_int_equal(p->bufs[h].last, 1);
	/* arena: aligned, non-overlapping, inside arena_bytes */
	for (int i = 0; i < p->n_bufs; i++) {
		const LBuf *a = &p->bufs[i];
		if (a->kind != LB_ARENA)
			continue;
		assert_true(a->offset >= 0 && a->offset % 16 == 0);
		assert_true(a->offset + a->numel * 4 <= p->arena_bytes);
		for (int j = 0; j < i; j++) {
			const LBuf *c = &p->bufs[j];
			if (c->kind == LB_ARENA)
				assert_true(a->offset >= c->offset + c->numel * 4 || c->offset >= a->offset + a->numel * 4);
		}
	}
	/* conv 3x3 pad 1 on 6x6: the padding is folded into the tap bounds, no
	 * padded copy: the only arena buffers are the activations h, r, q. Rows
	 * 0 (kh 1..3), 1-4 (a loop, kh 0..3) and 5 (kh 0..2), each with two
	 * column blocks (columns 0-3 and the remainder 4-5, whose kw steps are
	 * unrolled with column 0 resp. 5 clamped): six kh loops, no kw loop (LLVM
	 * would unroll those anyway), no ifs */
	assert_true(loop_find_buf(p, "h_pad") < 0);
	int n_arena = 0;
	for (int i = 0; i < p->n_bufs; i++)
		n_arena += p->bufs[i].kind == LB_ARENA;
	assert_int_equal(n_arena, 3);
	assert_int_equal(count_kind(&p->body.v[0]->body, LS_FOR, "kh", p), 6);
	assert_int_equal(count_kind(&p->body.v[0]->body, LS_FOR, "kw", p), 0);
	assert_int_equal(count_kind(&p->body.v[0]->body, LS_IF, NULL, p), 0);
	void *x = make_input(m);
	assert_int_equal(check_model("conv", m, x), 0);
	free(x);
	loop_free(p);
	model_free(m);
	diag_free(&d);
}

static void test_int_div_zero(void **state)
{
	(void)state;
	const char *json =
		"{\"type\": \"Model\", \"name\": \"dz\", \"input_shape\": [4], \"input_datatype\": \"int32\","
		" \"output_shape\": [4], \"output_datatype\": \"int32\", \"blocks\": [{\"type\": \"Block\", \"name\": \"b\","
		" \"input_shape\": [4], \"input_datatype\": \"int32\", \"output_shape\": [4], \"output_datatype\": \"int32\","
		" \"layers\": [{\"type\": \"Tensor\", \"name\": \"k\", \"shape\": [4], \"datatype\": \"int32\","
		" \"value\": [7, -7, 7, -2147483648]},"
		"{\"type\": \"./\", \"tensor_input\": [\"k\", \"X\"], \"tensor_output\": \"q\"},"
		"{\"type\": \"%\", \"tensor_input\": [\"k\", \"X\"], \"tensor_output\": \"r\"},"
		"{\"type\": \"+\", \"tensor_input\": [\"q\", \"r\"], \"tensor_output\": \"Y\"}]}]}";
	Model *m = load_text(json);
	Diag d;
	diag_init(&d);
	LProgram *p = lower_model(m, &d);
	assert_non_null(p);
	assert_int_equal(loop_verify(p, &d), 0);
	int32_t x[4] = {0, 2, -2, -1}, y[4];
	assert_int_equal(loop_eval(p, x, y, &d), 0);
	assert_int_equal(y[0], 0);             /* 7 / 0 and 7 % 0: 0 */
	assert_int_equal(y[1], -3 + 1);        /* -7 / 2 = -3, -7 % 2 = 1 (sign of b) */
	assert_int_equal(y[2], -3 + -1);       /* 7 / -2 = -3, 7 % -2 = -1 */
	assert_int_equal(y[3], INT32_MIN + 0); /* INT_MIN / -1 wraps, % -1 = 0 */
	loop_free(p);
	model_free(m);
	diag_free(&d);
}

/* Every allocation failing in turn: NULL with a message, or a complete
 * program; never a crash or a leak (run under ASan). */
static void test_alloc_failure(void **state)
{
	(void)state;
	Model *m = load_text(conv_json);
	int done = 0;
	for (long k = 1; k < 100000 && !done; k++) {
		Diag d;
		diag_init(&d);
		nnl_fail_alloc_after(k);
		LProgram *p = lower_model(m, &d);
		nnl_fail_alloc_after(0);
		if (p) {
			assert_int_equal(loop_verify(p, &d), 0);
			done = 1;
		} else {
			assert_true(d.n > 0 || d.oom);
		}
		loop_free(p);
		diag_free(&d);
	}
	assert_true(done);
	model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_int_div_zero),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_op_cases),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_extra_models),
		cmocka_unit_test(test_quant_models),
		cmocka_unit_test(test_quantize_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
