/* test_graphopt — the graph passes of opt/graph (nnl-opt) on small models
 * built in memory from JSON text with generated inline weights.
 *
 *   lowrank: fewer parameters, ‖W − BA‖² equals the Σ tail of σ² (LAPACKE
 *            computed here independently), outputs equal BA·x + b;
 *   prune:   exact zero counts (per layer and global); structured pruning
 *            keeps shapes valid and equals the original net with the pruned
 *            channels zeroed (conv → relu → pool → conv → flatten → linear,
 *            across a block boundary);
 *   drop-layer: an identity-equivalent Linear removed, outputs unchanged;
 *   fold-bn: outputs unchanged;
 *   bad arguments: the messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frontend.h"
#include "gopt.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building models ------------------------------------------------------ */

static char buf[1 << 20];
static size_t len;
static uint32_t seed = 12345;

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

/* {"type": "Tensor", "name": name, "shape": shape, "value": [random]} */
static void tensor(const char *name, int rank, const int64_t *shape, double lo)
{
	int64_t n = 1;
	put("{\"type\": \"Tensor\", \"name\": \"%s\", \"datatype\": \"float32\", \"shape\": [", name);
	for (int i = 0; i < rank; i++) {
		put(i ? ", %lld" : "%lld", (long long)shape[i]);
		n *= shape[i];
	}
	put("], \"value\": [");
	for (int64_t i = 0; i < n; i++)
		put(i ? ", %.6f" : "%.6f", lo >= 0 ? lo + 0.5 * (rnd() + 1) : rnd());
	put("]},\n");
}

static void header(const char *type, const char *name, const char *in, const char *out)
{
	put("{\"type\": \"%s\", \"name\": \"%s\", \"input_shape\": %s, \"input_datatype\": \"float32\", "
	    "\"output_shape\": %s, \"output_datatype\": \"float32\",\n", type, name, in, out);
}

static Model *load(void)
{
	Diag d;
	diag_init(&d);
	Model *m = json_load_model_buffer(buf, len, "<test>", ".", &d);
	if (!m)
		diag_print(&d, "test_graphopt");
	diag_free(&d);
	assert_non_null(m);
	return m;
}

/* x (1, in) → Linear fc1 (hid) → ReLU → Linear fc2 (out) */
static Model *mlp(int in, int hid, int out)
{
	len = 0;
	seed = 12345; /* the same weights for the same sizes */
	char si[32], so[32];
	snprintf(si, sizeof si, "[1, %d]", in);
	snprintf(so, sizeof so, "[1, %d]", out);
	header("Model", "mlp", si, so);
	put("\"blocks\": [\n");
	header("Block", "b", si, so);
	put("\"layers\": [\n");
	int64_t w1[2] = {hid, in}, b1[1] = {hid}, w2[2] = {out, hid}, b2[1] = {out};
	tensor("fc1.w", 2, w1, -1);
	tensor("fc1.b", 1, b1, -1);
	tensor("fc2.w", 2, w2, -1);
	tensor("fc2.b", 1, b2, -1);
	put("{\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fc1\", \"tensor_input\": [\"X\", \"fc1.w\", \"fc1.b\"], \"tensor_output\": \"h\"},\n"
	    "{\"type\": \"Layer\", \"name\": \"ReLU\", \"id\": \"relu\", \"tensor_input\": \"h\", \"tensor_output\": \"r\"},\n"
	    "{\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fc2\", \"tensor_input\": [\"r\", \"fc2.w\", \"fc2.b\"], \"tensor_output\": \"Y\"}\n"
	    "]}]}\n");
	return load();
}

static int run_pipeline(Model *m, const char *spec, PassReport *r, char *err, size_t errsize)
{
	Diag d;
	diag_init(&d);
	GPipeline pl;
	int rc = gopt_parse(spec, &pl, &d);
	if (rc == 0) {
		rc = gopt_run(m, &pl, NULL, r, &d);
		gopt_pipeline_free(&pl);
	}
	if (err)
		snprintf(err, errsize, "%s", d.n ? d.msgs[0] : "");
	else if (rc < 0)
		diag_print(&d, "test_graphopt");
	diag_free(&d);
	return rc;
}

static void eval(const Model *m, const float *x, float *y)
{
	Diag d;
	diag_init(&d);
	int rc = model_eval(m, x, y, &d);
	if (rc < 0)
		diag_print(&d, "test_graphopt");
	diag_free(&d);
	assert_int_equal(rc, 0);
}

static const Tensor *find_tensor(const Model *m, const char *name)
{
	for (int b = 0; b < m->n_blocks; b++) {
		int t = block_find_tensor(&m->blocks[b], name);
		if (t >= 0)
			return &m->blocks[b].tensors[t];
	}
	return NULL;
}

/* ---- lowrank ---------------------------------------------------------------- */

static void test_lowrank(void **state)
{
	(void)state;
	Model *m = mlp(20, 12, 5), *orig = mlp(20, 12, 5);
	PassReport r = {0};
	assert_int_equal(run_pipeline(m, "lowrank(rank=3,layers=fc1)", &r, NULL, 0), 0);
	assert_true(r.params1 < r.params0);
	assert_int_equal(r.params0 - r.params1, 12 * 20 - 3 * (12 + 20));
	/* ‖W − BA‖² = Σ_{i≥3} σ_i² */
	const Tensor *W = find_tensor(orig, "fc1.w"), *A = find_tensor(m, "fc1.w.lr_a"), *B = find_tensor(m, "fc1.w.lr_b");
	assert_non_null(A);
	assert_non_null(B);
	assert_int_equal(A->shape[0], 3);
	assert_int_equal(A->shape[1], 20);
	assert_int_equal(B->shape[0], 12);
	assert_int_equal(B->shape[1], 3);
	double a[240], s[12], u[144], vt[240], err = 0, tail = 0;
	const float *w = W->data, *fa = A->data, *fb = B->data;
	for (int i = 0; i < 240; i++)
		a[i] = w[i];
	assert_int_equal(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', 12, 20, a, 20, s, u, 12, vt, 20), 0);
	for (int i = 3; i < 12; i++)
		tail += s[i] * s[i];
	for (int o = 0; o < 12; o++)
		for (int j = 0; j < 20; j++) {
			double v = 0;
			for (int k = 0; k < 3; k++)
				v += (double)fb[o * 3 + k] * fa[k * 20 + j];
			err += (v - w[o * 20 + j]) * (v - w[o * 20 + j]);
		}
	assert_true(fabs(err - tail) <= 1e-4 * (tail + 1e-6));
	/* the model runs; full rank − 1 with energy = 1 keeps the outputs */
	float x[20], y0[5], y1[5];
	for (int i = 0; i < 20; i++)
		x[i] = (float)rnd();
	eval(m, x, y1);
	model_free(m);
	report_free(&r);
	m = mlp(20, 12, 5);
	assert_int_equal(run_pipeline(m, "lowrank(energy=1.0)", &r, NULL, 0), 0);
	/* energy 1 needs rank 12 = min(m, n): skipped, nothing changes */
	assert_int_equal(r.params1, r.params0);
	eval(m, x, y1);
	eval(orig, x, y0);
	for (int i = 0; i < 5; i++)
		assert_true(fabsf(y0[i] - y1[i]) < 1e-5f);
	report_free(&r);
	model_free(m);
	model_free(orig);
}

/* ---- prune ------------------------------------------------------------------ */

static int64_t zeros(const Tensor *t)
{
	int64_t z = 0;
	for (int64_t i = 0; i < tensor_numel(t); i++)
		z += ((const float *)t->data)[i] == 0.0f;
	return z;
}

static void test_prune_unstructured(void **state)
{
	(void)state;
	Model *m = mlp(20, 10, 4);
	PassReport r = {0};
	assert_int_equal(run_pipeline(m, "prune(sparsity=0.3)", &r, NULL, 0), 0);
	assert_int_equal(zeros(find_tensor(m, "fc1.w")), 60);
	assert_int_equal(zeros(find_tensor(m, "fc2.w")), 12);
	assert_int_equal(zeros(find_tensor(m, "fc1.b")), 0); /* biases are not pruned */
	report_free(&r);
	model_free(m);
	m = mlp(20, 10, 4);
	assert_int_equal(run_pipeline(m, "prune(sparsity=0.5,scope=global)", &r, NULL, 0), 0);
	assert_int_equal(zeros(find_tensor(m, "fc1.w")) + zeros(find_tensor(m, "fc2.w")), 120);
	/* the kept weights are the largest over both layers */
	float minkept = 1e9f, maxgone = 0;
	Model *o = mlp(20, 10, 4);
	const char *names[2] = {"fc1.w", "fc2.w"};
	for (int k = 0; k < 2; k++) {
		const Tensor *a = find_tensor(m, names[k]), *b = find_tensor(o, names[k]);
		for (int64_t i = 0; i < tensor_numel(a); i++) {
			float v = fabsf(((const float *)b->data)[i]);
			if (((const float *)a->data)[i] == 0.0f)
				maxgone = fmaxf(maxgone, v);
			else
				minkept = fminf(minkept, v);
		}
	}
	assert_true(maxgone <= minkept);
	report_free(&r);
	model_free(m);
	model_free(o);
}

/* conv(2→6, 3×3 pad 1) → relu → maxpool 2 | next block: conv(6→4, 3×3 pad 1) → relu → flatten → linear(4·2·2 → 3) */
static Model *convnet(void)
{
	len = 0;
	seed = 777;
	header("Model", "convnet", "[1, 2, 4, 4]", "[1, 3]");
	put("\"blocks\": [\n");
	header("Block", "a", "[1, 2, 4, 4]", "[1, 6, 2, 2]");
	put("\"layers\": [\n");
	int64_t w1[4] = {6, 2, 3, 3}, b1[1] = {6}, w2[4] = {4, 6, 3, 3}, b2[1] = {4}, w3[2] = {3, 16}, b3[1] = {3};
	tensor("c1.w", 4, w1, -1);
	tensor("c1.b", 1, b1, -1);
	put("{\"type\": \"Layer\", \"name\": \"Conv2d\", \"id\": \"c1\", \"tensor_input\": [\"X\", \"c1.w\", \"c1.b\"], \"tensor_output\": \"t1\", \"attributes\": {\"padding\": 1}},\n"
	    "{\"type\": \"Layer\", \"name\": \"ReLU\", \"tensor_input\": \"t1\", \"tensor_output\": \"t2\"},\n"
	    "{\"type\": \"Layer\", \"name\": \"MaxPool2d\", \"tensor_input\": \"t2\", \"tensor_output\": \"Y\", \"attributes\": {\"kernel_size\": 2}}\n"
	    "]},\n");
	header("Block", "b", "[1, 6, 2, 2]", "[1, 3]");
	put("\"layers\": [\n");
	tensor("c2.w", 4, w2, -1);
	tensor("c2.b", 1, b2, -1);
	tensor("fc.w", 2, w3, -1);
	tensor("fc.b", 1, b3, -1);
	put("{\"type\": \"Layer\", \"name\": \"Conv2d\", \"id\": \"c2\", \"tensor_input\": [\"X\", \"c2.w\", \"c2.b\"], \"tensor_output\": \"u1\", \"attributes\": {\"padding\": 1}},\n"
	    "{\"type\": \"Layer\", \"name\": \"ReLU\", \"tensor_input\": \"u1\", \"tensor_output\": \"u2\"},\n"
	    "{\"type\": \"Layer\", \"name\": \"Flatten\", \"tensor_input\": \"u2\", \"tensor_output\": \"u3\"},\n"
	    "{\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fc\", \"tensor_input\": [\"u3\", \"fc.w\", \"fc.b\"], \"tensor_output\": \"Y\"}\n"
	    "]}]}\n");
	return load();
}

static void test_prune_structured(void **state)
{
	(void)state;
	Model *m = convnet(), *ref = convnet();
	PassReport r = {0};
	assert_int_equal(run_pipeline(m, "prune(sparsity=0.5,mode=structured,layers=c1,c2)", &r, NULL, 0), 0);
	assert_int_equal(find_tensor(m, "c1.w")->shape[0], 3);
	assert_int_equal(find_tensor(m, "c2.w")->shape[0], 2);
	assert_int_equal(find_tensor(m, "c2.w")->shape[1], 3);
	assert_int_equal(find_tensor(m, "fc.w")->shape[1], 8);
	assert_int_equal(m->blocks[0].out_shape[1], 3);
	assert_int_equal(m->blocks[1].in_shape[1], 3);
	/* the reference: same channels zeroed (weights and bias) in the original */
	for (int L = 0; L < 2; L++) {
		const char *wn = L ? "c2.w" : "c1.w", *bn = L ? "c2.b" : "c1.b";
		Tensor *w = (Tensor *)find_tensor(ref, wn), *b = (Tensor *)find_tensor(ref, bn);
		const Tensor *pw = find_tensor(m, wn);
		int64_t per = tensor_numel(w) / w->shape[0], pper = tensor_numel(pw) / pw->shape[0];
		/* a channel is kept iff its bias value survives (values are random) */
		for (int64_t o = 0; o < w->shape[0]; o++) {
			int kept = 0;
			for (int64_t q = 0; q < pw->shape[0]; q++)
				kept |= ((const float *)find_tensor(m, bn)->data)[q] == ((float *)b->data)[o];
			if (!kept) {
				for (int64_t k = 0; k < per; k++)
					((float *)w->data)[o * per + k] = 0;
				((float *)b->data)[o] = 0;
			}
		}
		(void)pper;
	}
	float x[32], y0[3], y1[3];
	for (int i = 0; i < 32; i++)
		x[i] = (float)rnd();
	eval(m, x, y1);
	eval(ref, x, y0);
	for (int i = 0; i < 3; i++)
		assert_true(fabsf(y0[i] - y1[i]) < 1e-5f);
	/* the output layer cannot lose channels */
	char err[512];
	assert_int_equal(run_pipeline(m, "prune(sparsity=0.5,mode=structured,layers=fc)", &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "reach the model output"));
	report_free(&r);
	model_free(m);
	model_free(ref);
}

/* ---- drop-layer, fold-bn -------------------------------------------------------- */

static void test_drop_layer(void **state)
{
	(void)state;
	Model *m = mlp(6, 6, 6);
	/* fc2 := identity, no bias effect → dropping it keeps the output */
	Tensor *w = (Tensor *)find_tensor(m, "fc2.w"), *b = (Tensor *)find_tensor(m, "fc2.b");
	for (int i = 0; i < 36; i++)
		((float *)w->data)[i] = i % 7 == 0;
	memset(b->data, 0, 24);
	float x[6], y0[6], y1[6];
	for (int i = 0; i < 6; i++)
		x[i] = (float)rnd();
	eval(m, x, y0);
	PassReport r = {0};
	assert_int_equal(run_pipeline(m, "drop-layer(layers=fc2)", &r, NULL, 0), 0);
	assert_int_equal(m->blocks[0].n_nodes, 2);
	assert_null(find_tensor(m, "fc2.w"));
	eval(m, x, y1);
	assert_memory_equal(y0, y1, sizeof y0);
	char err[512];
	assert_int_equal(run_pipeline(m, "drop-layer(layers=nope)", &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "'nope' does not exist"));
	report_free(&r);
	model_free(m);
	m = mlp(6, 4, 3);
	assert_int_equal(run_pipeline(m, "drop-layer(layers=fc1)", &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot be removed"));
	report_free(&r);
	model_free(m);
}

/* projection shortcut: Y = fc2(relu(fc1(X))) + fcs(X); dropping the '+'
 * leaves Y = fcs(X) and removes fc1, relu, fc2 */
static void test_drop_projection_shortcut(void **state)
{
	(void)state;
	len = 0;
	seed = 777;
	header("Model", "res", "[1, 4]", "[1, 4]");
	put("\"blocks\": [\n");
	header("Block", "b", "[1, 4]", "[1, 4]");
	put("\"layers\": [\n");
	int64_t w[2] = {4, 4}, bs[1] = {4};
	tensor("fc1.w", 2, w, -1);
	tensor("fc1.b", 1, bs, -1);
	tensor("fc2.w", 2, w, -1);
	tensor("fc2.b", 1, bs, -1);
	tensor("fcs.w", 2, w, -1);
	tensor("fcs.b", 1, bs, -1);
	put("{\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fc1\", \"tensor_input\": [\"X\", \"fc1.w\", \"fc1.b\"], \"tensor_output\": \"h\"},\n"
	    "{\"type\": \"Layer\", \"name\": \"ReLU\", \"id\": \"relu\", \"tensor_input\": \"h\", \"tensor_output\": \"r\"},\n"
	    "{\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fc2\", \"tensor_input\": [\"r\", \"fc2.w\", \"fc2.b\"], \"tensor_output\": \"f\"},\n"
	    "{\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fcs\", \"tensor_input\": [\"X\", \"fcs.w\", \"fcs.b\"], \"tensor_output\": \"s\"},\n"
	    "{\"type\": \"+\", \"id\": \"add\", \"tensor_input\": [\"f\", \"s\"], \"tensor_output\": \"Y\"}\n"
	    "]}]}\n");
	Model *m = load();
	DropCand *c = NULL;
	int n = 0, found = 0;
	assert_int_equal(gopt_drop_candidates(m, &c, &n), 0);
	for (int i = 0; i < n; i++)
		found |= c[i].residual && !strcmp(c[i].name, "add");
	free(c);
	assert_true(found);
	/* the expected output: fcs alone */
	const Tensor *ws = find_tensor(m, "fcs.w"), *bsv = find_tensor(m, "fcs.b");
	float x[4], y[4], want[4];
	for (int i = 0; i < 4; i++)
		x[i] = (float)rnd();
	for (int o = 0; o < 4; o++) {
		float acc = 0;
		for (int i = 0; i < 4; i++)
			acc += x[i] * ((const float *)ws->data)[o * 4 + i];
		want[o] = acc + ((const float *)bsv->data)[o];
	}
	PassReport r = {0};
	assert_int_equal(run_pipeline(m, "drop-layer(layers=add)", &r, NULL, 0), 0);
	assert_null(find_tensor(m, "fc1.w"));
	assert_null(find_tensor(m, "fc2.w"));
	assert_int_equal(m->blocks[0].n_nodes, 1);
	eval(m, x, y);
	for (int o = 0; o < 4; o++)
		assert_true(fabsf(y[o] - want[o]) < 1e-5f);
	report_free(&r);
	model_free(m);
}

static void test_fold_bn(void **state)
{
	(void)state;
	len = 0;
	header("Model", "cbn", "[1, 2, 3, 3]", "[1, 3, 3, 3]");
	put("\"blocks\": [\n");
	header("Block", "a", "[1, 2, 3, 3]", "[1, 3, 3, 3]");
	put("\"layers\": [\n");
	int64_t w[4] = {3, 2, 3, 3}, c[1] = {3};
	tensor("c.w", 4, w, -1);
	tensor("g", 1, c, -1);
	tensor("be", 1, c, -1);
	tensor("mu", 1, c, -1);
	tensor("var", 1, c, 0.5);
	put("{\"type\": \"Layer\", \"name\": \"Conv2d\", \"id\": \"c\", \"tensor_input\": [\"X\", \"c.w\"], \"tensor_output\": \"t\", \"attributes\": {\"padding\": 1}},\n"
	    "{\"type\": \"Layer\", \"name\": \"BatchNorm2d\", \"id\": \"bn\", \"tensor_input\": [\"t\", \"g\", \"be\", \"mu\", \"var\"], \"tensor_output\": \"Y\"}\n"
	    "]}]}\n");
	Model *m = load();
	float x[18], y0[27], y1[27];
	for (int i = 0; i < 18; i++)
		x[i] = (float)rnd();
	eval(m, x, y0);
	PassReport r = {0};
	assert_int_equal(run_pipeline(m, "fold-bn", &r, NULL, 0), 0);
	assert_int_equal(m->blocks[0].n_nodes, 1);
	eval(m, x, y1);
	for (int i = 0; i < 27; i++)
		assert_true(fabsf(y0[i] - y1[i]) < 1e-5f * fmaxf(1.0f, fabsf(y0[i])));
	report_free(&r);
	model_free(m);
}

/* ---- messages ----------------------------------------------------------------- */

static void expect_error(const char *spec, const char *needle)
{
	Model *m = mlp(20, 12, 5);
	PassReport r = {0};
	char err[512];
	assert_int_equal(run_pipeline(m, spec, &r, err, sizeof err), -1);
	if (!strstr(err, needle))
		fail_msg("'%s': message '%s' lacks '%s'", spec, err, needle);
	report_free(&r);
	model_free(m);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	expect_error("lowrank(rank=12,layers=fc1)", "not below min(m, n) = 12");
	expect_error("lowrank(rank=3,ratio=0.5)", "exactly one of rank=, ratio=, energy=");
	expect_error("lowrank(ratio=1.5)", "ratio must be in (0, 1)");
	expect_error("lowrank(energy=0)", "energy fraction must be in (0, 1]");
	expect_error("lowrank(rank=x)", "expected an integer");
	expect_error("prune(sparsity=1)", "sparsity must be in [0, 1)");
	expect_error("prune(sparsity=-0.1)", "sparsity must be in [0, 1)");
	expect_error("prune(sparsity=0.5,layers=fc9)", "layer 'fc9' does not exist");
	expect_error("prune(sparsity=0.5,layers=relu)", "not a Conv1d/Conv2d/Linear");
	expect_error("prune(sparsity=0.5,mode=weird)", "expected unstructured or structured");
	expect_error("prune(sparsity=0.5,colour=red)", "unknown argument 'colour'");
	expect_error("shrink", "unknown pass 'shrink'");
	expect_error("prune(sparsity=0.5", "unbalanced parentheses");
	expect_error("prune(sparsity=0.5),", "trailing ','");
	expect_error("drop-layer", "give layers=NAME,... or auto=K");
	expect_error("drop-layer(auto=1)", "no evaluation data");
}

static void test_pipeline_lists(void **state)
{
	(void)state;
	Diag d;
	diag_init(&d);
	GPipeline pl;
	assert_int_equal(gopt_parse("fold-bn,prune(sparsity=0.5,layers=a,b,c,scope=global),lowrank(rank=4)", &pl, &d), 0);
	assert_int_equal(pl.n, 3);
	const PassArg *l = pass_arg(&pl.steps[1], "layers");
	assert_int_equal(l->n_names, 3);
	assert_string_equal(l->names[2], "c");
	assert_string_equal(pass_arg(&pl.steps[1], "scope")->s, "global");
	assert_int_equal(pass_arg(&pl.steps[2], "rank")->i, 4);
	gopt_pipeline_free(&pl);
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lowrank),
		cmocka_unit_test(test_prune_unstructured),
		cmocka_unit_test(test_prune_structured),
		cmocka_unit_test(test_drop_layer),
		cmocka_unit_test(test_drop_projection_shortcut),
		cmocka_unit_test(test_fold_bn),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_pipeline_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
