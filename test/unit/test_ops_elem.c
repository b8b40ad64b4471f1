/* test_ops_elem.c — unit tests of the elementwise, matmul, identity, shape
 * and reduce op families (ir/ops_elem.c, ir/ops_shape.c): one-node models
 * built in memory, run through model_infer and model_eval.
 *
 * Expected values come from torch 1.13 (/usr/bin/python3), pasted as
 * constants; the script lines are next to each case.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"

/* ---- building one-node models --------------------------------------------- */

typedef struct TM {
	Model *m;
	Block *b;
	Diag d;
	Node *node;
} TM;

static void tm_init(TM *t, DType xt, int xr, const int64_t *xs)
{
	memset(t, 0, sizeof *t);
	diag_init(&t->d);
	t->m = calloc(1, sizeof *t->m);
	assert_non_null(t->m);
	t->m->blocks = calloc(1, sizeof *t->m->blocks);
	assert_non_null(t->m->blocks);
	t->m->n_blocks = 1;
	t->b = &t->m->blocks[0];
	t->b->name = strdup("main");
	t->b->x = block_add_tensor(t->b, "X");
	assert_true(t->b->x >= 0);
	t->b->in_rank = t->m->in_rank = xr;
	memcpy(t->b->in_shape, xs, (size_t)xr * sizeof *xs);
	memcpy(t->m->in_shape, xs, (size_t)xr * sizeof *xs);
	t->b->in_dtype = t->m->in_dtype = xt;
}

static void tm_free(TM *t)
{
	model_free(t->m);
	diag_free(&t->d);
}

/* A constant tensor (weights); returns its index. */
static int tm_const(TM *t, const char *name, DType dt, int rank, const int64_t *shape, const void *data)
{
	int i = block_add_tensor(t->b, name);
	assert_true(i >= 0);
	Tensor *x = &t->b->tensors[i];
	x->dtype = dt;
	x->rank = rank;
	memcpy(x->shape, shape, (size_t)rank * sizeof *shape);
	x->declared = 1;
	x->nbytes = dtype_bytes(dt, tensor_numel(x));
	x->data = malloc((size_t)x->nbytes);
	assert_non_null(x->data);
	memcpy(x->data, data, (size_t)x->nbytes);
	return i;
}

/* Attribute defaults as the loader fills them from the AttrSpec text. */
static void set_defaults(Node *n)
{
	const OpInfo *o = op_info(n->op);
	for (int k = 0; k < o->n_attrs; k++) {
		const AttrSpec *s = &o->attrs[k];
		AttrValue *a = &n->attrs[k];
		memset(a, 0, sizeof *a);
		if (!s->def || strcmp(s->def, "null") == 0)
			continue;
		a->set = 1;
		a->n = 1;
		if (s->kind == ATTR_STRING) {
			size_t len = strlen(s->def) - 2;
			memcpy(a->s, s->def + 1, len);
			a->s[len] = 0;
		} else if (s->kind == ATTR_FLOAT) {
			a->f = strtod(s->def, NULL);
		} else if (s->kind == ATTR_BOOL) {
			a->i[0] = strcmp(s->def, "true") == 0;
		} else {
			a->i[0] = strtoll(s->def, NULL, 10);
		}
	}
}

/* The node op(ins...) -> "Y"; ins are tensor indices. */
static Node *tm_node(TM *t, OpKind op, int n_in, const int *ins)
{
	int y = block_add_tensor(t->b, "Y");
	assert_true(y >= 0);
	Node *n = block_add_node(t->b);
	assert_non_null(n);
	n->op = op;
	n->layer = t->b->n_tensors - 1;
	n->n_in = n_in;
	n->in = malloc((size_t)n_in * sizeof *n->in);
	assert_non_null(n->in);
	memcpy(n->in, ins, (size_t)n_in * sizeof *ins);
	n->out = y;
	t->b->y = y;
	set_defaults(n);
	t->node = n;
	return n;
}

static AttrValue *attr(TM *t, const char *name)
{
	AttrValue *a = (AttrValue *)node_attr(t->node, name);
	int k = (int)(a - t->node->attrs);
	t->node->attr_given[k] = 1;
	a->set = 1;
	return a;
}

static void attr_ints(TM *t, const char *name, int n, const int64_t *v)
{
	AttrValue *a = attr(t, name);
	a->n = n;
	memcpy(a->i, v, (size_t)n * sizeof *v);
}

static void attr_int(TM *t, const char *name, int64_t v) { attr_ints(t, name, 1, &v); }

static void attr_float(TM *t, const char *name, double v)
{
	AttrValue *a = attr(t, name);
	a->n = 1;
	a->f = v;
}

static void attr_str(TM *t, const char *name, const char *s)
{
	AttrValue *a = attr(t, name);
	snprintf(a->s, sizeof a->s, "%s", s);
}

/* Infer, expecting success and the given output shape/dtype; sets the headers. */
static void tm_infer_ok(TM *t, DType yt, int yr, const int64_t *ys)
{
	t->b->out_rank = t->m->out_rank = yr;
	memcpy(t->b->out_shape, ys, (size_t)yr * sizeof *ys);
	memcpy(t->m->out_shape, ys, (size_t)yr * sizeof *ys);
	t->b->out_dtype = t->m->out_dtype = yt;
	int r = model_infer(t->m, &t->d);
	if (r < 0)
		diag_print(&t->d, "test_ops_elem");
	assert_int_equal(r, 0);
}

/* Infer, expecting an error whose message contains want. */
static void tm_infer_fails(TM *t, const char *want)
{
	assert_int_equal(model_infer(t->m, &t->d), -1);
	assert_true(t->d.n >= 1);
	if (!strstr(t->d.msgs[0], want))
		fail_msg("message \"%s\" lacks \"%s\"", t->d.msgs[0], want);
}

static void run_ok(TM *t, const void *x, void *y)
{
	int r = model_eval(t->m, x, y, &t->d);
	if (r < 0)
		diag_print(&t->d, "test_ops_elem");
	assert_int_equal(r, 0);
}

static void assert_floats(const float *got, const float *want, int n, float tol)
{
	for (int i = 0; i < n; i++)
		if (!(fabsf(got[i] - want[i]) <= tol))
			fail_msg("element %d: got %.9g, expected %.9g", i, (double)got[i], (double)want[i]);
}

#define S(...) ((const int64_t[]){__VA_ARGS__})

/* ---- binary ---------------------------------------------------------------- */

/* a = [[1],[2],[3]]; b = [[0.5,-1,2,10]]; (a+b).flatten() */
static void test_broadcast_add(void **state)
{
	TM t;
	tm_init(&t, DT_FLOAT32, 2, S(3, 1));
	int b = tm_const(&t, "b", DT_FLOAT32, 2, S(1, 4), (const float[]){0.5f, -1, 2, 10});
	tm_node(&t, OP_ADD, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_FLOAT32, 2, S(3, 4));
	float y[12];
	run_ok(&t, (const float[]){1, 2, 3}, y);
	assert_floats(y, (const float[]){1.5, 0.0, 3.0, 11.0, 2.5, 1.0, 4.0, 12.0, 3.5, 2.0, 5.0, 13.0}, 12, 0);
	tm_free(&t);
}

/* Same shapes, division: (a/b).flatten() */
static void test_broadcast_div(void **state)
{
	TM t;
	tm_init(&t, DT_FLOAT32, 2, S(3, 1));
	int b = tm_const(&t, "b", DT_FLOAT32, 2, S(1, 4), (const float[]){0.5f, -1, 2, 10});
	tm_node(&t, OP_DIV, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_FLOAT32, 2, S(3, 4));
	float y[12];
	run_ok(&t, (const float[]){1, 2, 3}, y);
	assert_floats(y, (const float[]){2.0, -1.0, 0.5, 0.10000000149011612, 4.0, -2.0, 1.0, 0.20000000298023224,
	                                 6.0, -3.0, 1.5, 0.30000001192092896}, 12, 0);
	tm_free(&t);
}

static void test_bad_broadcast(void **state)
{
	TM t;
	tm_init(&t, DT_FLOAT32, 2, S(2, 3));
	int b = tm_const(&t, "b", DT_FLOAT32, 2, S(4, 3), (const float[12]){0});
	tm_node(&t, OP_SUB, 2, (int[]){t.b->x, b});
	tm_infer_fails(&t, "'X' of shape [2, 3] with input 1 (b) 'b' of shape [4, 3]");
	tm_free(&t);
}

/* int8/uint8 wrap-around: torch int8 [100,-100,127]+[100,-100,1] = [-56,56,-128] */
static void test_int_wrap(void **state)
{
	TM t;
	tm_init(&t, DT_INT8, 1, S(3));
	int b = tm_const(&t, "b", DT_INT8, 1, S(3), (const int8_t[]){100, -100, 1});
	tm_node(&t, OP_ADD, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_INT8, 1, S(3));
	int8_t y[3];
	run_ok(&t, (const int8_t[]){100, -100, 127}, y);
	assert_int_equal(y[0], -56);
	assert_int_equal(y[1], 56);
	assert_int_equal(y[2], -128);
	tm_free(&t);

	/* uint8 [200,5] + [100,246] = [44, 251] */
	tm_init(&t, DT_UINT8, 1, S(2));
	b = tm_const(&t, "b", DT_UINT8, 1, S(2), (const uint8_t[]){100, 246});
	tm_node(&t, OP_ADD, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_UINT8, 1, S(2));
	uint8_t u[2];
	run_ok(&t, (const uint8_t[]){200, 5}, u);
	assert_int_equal(u[0], 44);
	assert_int_equal(u[1], 251);
	tm_free(&t);
}

/* int32 x=[-7,7,-7,7,0,-8], y=[3,-3,-3,3,5,2]:
 * remainder [2,-2,-1,1,0,0]; div(rounding_mode='trunc') [-2,-2,2,2,0,-4] */
static void test_int_div_mod(void **state)
{
	static const int32_t x[] = {-7, 7, -7, 7, 0, -8}, yv[] = {3, -3, -3, 3, 5, 2};
	static const int32_t want_mod[] = {2, -2, -1, 1, 0, 0}, want_div[] = {-2, -2, 2, 2, 0, -4};
	for (int k = 0; k < 2; k++) {
		TM t;
		tm_init(&t, DT_INT32, 1, S(6));
		int b = tm_const(&t, "b", DT_INT32, 1, S(6), yv);
		tm_node(&t, k ? OP_DIV : OP_MOD, 2, (int[]){t.b->x, b});
		tm_infer_ok(&t, DT_INT32, 1, S(6));
		int32_t y[6];
		run_ok(&t, x, y);
		for (int i = 0; i < 6; i++)
			assert_int_equal(y[i], (k ? want_div : want_mod)[i]);
		tm_free(&t);
	}
}

static void test_int_div_by_zero(void **state)
{
	for (int k = 0; k < 2; k++) {
		TM t;
		tm_init(&t, DT_INT64, 1, S(3));
		int b = tm_const(&t, "b", DT_INT64, 1, S(3), (const int64_t[]){1, 0, 2});
		tm_node(&t, k ? OP_DIV : OP_MOD, 2, (int[]){t.b->x, b});
		tm_infer_ok(&t, DT_INT64, 1, S(3));
		int64_t y[3];
		assert_int_equal(model_eval(t.m, (const int64_t[]){5, 6, 7}, y, &t.d), -1);
		assert_true(t.d.n >= 1);
		assert_non_null(strstr(t.d.msgs[0], "by zero"));
		tm_free(&t);
	}
}

/* float remainder: torch.remainder([-7,7,-7,7,5.5,-5.5,-0.,6],[3,-3,-3,3,2,2,3,-3])
 * = [2,-2,-1,1,1.5,0.5,-0,0] */
static void test_float_mod(void **state)
{
	TM t;
	tm_init(&t, DT_FLOAT32, 1, S(8));
	int b = tm_const(&t, "b", DT_FLOAT32, 1, S(8), (const float[]){3, -3, -3, 3, 2, 2, 3, -3});
	tm_node(&t, OP_MOD, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_FLOAT32, 1, S(8));
	float y[8];
	run_ok(&t, (const float[]){-7, 7, -7, 7, 5.5f, -5.5f, -0.0f, 6}, y);
	assert_floats(y, (const float[]){2, -2, -1, 1, 1.5f, 0.5f, -0.0f, 0}, 8, 0);
	tm_free(&t);
}

/* torch.pow([1.5,2,3], 3.0) = [3.375,8,27]; pow(.., 2.5) = [2.755676031, 5.656854153, 15.588457108];
 * pow([[2],[4]], [0.5,-1,3]) = [1.41421354, 0.5, 8, 2, 0.25, 64] */
static void test_pow(void **state)
{
	TM t;
	float y[6];
	tm_init(&t, DT_FLOAT32, 1, S(3));
	tm_node(&t, OP_POW, 1, (int[]){t.b->x});
	attr_float(&t, "exponent", 2.5);
	tm_infer_ok(&t, DT_FLOAT32, 1, S(3));
	run_ok(&t, (const float[]){1.5f, 2, 3}, y);
	assert_floats(y, (const float[]){2.755676031112671f, 5.656854152679443f, 15.588457107543945f}, 3, 0);
	tm_free(&t);

	tm_init(&t, DT_FLOAT32, 2, S(2, 1));
	int b = tm_const(&t, "b", DT_FLOAT32, 1, S(3), (const float[]){0.5f, -1, 3});
	tm_node(&t, OP_POW, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_FLOAT32, 2, S(2, 3));
	run_ok(&t, (const float[]){2, 4}, y);
	assert_floats(y, (const float[]){1.4142135381698608f, 0.5f, 8, 2, 0.25f, 64}, 6, 0);
	tm_free(&t);

	/* neither or both exponent sources */
	tm_init(&t, DT_FLOAT32, 1, S(3));
	tm_node(&t, OP_POW, 1, (int[]){t.b->x});
	tm_infer_fails(&t, "neither");
	tm_free(&t);
	tm_init(&t, DT_FLOAT32, 1, S(3));
	b = tm_const(&t, "b", DT_FLOAT32, 1, S(3), (const float[]){1, 2, 3});
	tm_node(&t, OP_POW, 2, (int[]){t.b->x, b});
	attr_float(&t, "exponent", 2);
	tm_infer_fails(&t, "both");
	tm_free(&t);
}


/* A rank-0 float64 constant broadcast against (2,2): x - 0.25 */
static void test_scalar_f64(void **state)
{
	TM t;
	tm_init(&t, DT_FLOAT64, 2, S(2, 2));
	int b = tm_const(&t, "c", DT_FLOAT64, 0, S(0), (const double[]){0.25});
	tm_node(&t, OP_SUB, 2, (int[]){b, t.b->x});
	tm_infer_ok(&t, DT_FLOAT64, 2, S(2, 2));
	double y[4];
	run_ok(&t, (const double[]){1, -1, 0.5, 2}, y);
	assert_true(y[0] == -0.75 && y[1] == 1.25 && y[2] == -0.25 && y[3] == -1.75);
	tm_free(&t);
}

/* Identity/Dropout copy bytes of any datatype of 8 bits or more. */
static void test_identity(void **state)
{
	static const OpKind ops[] = {OP_IDENTITY, OP_DROPOUT, OP_ASSIGN};
	for (int k = 0; k < 3; k++) {
		TM t;
		tm_init(&t, DT_UINT16, 2, S(1, 3));
		tm_node(&t, ops[k], 1, (int[]){t.b->x});
		tm_infer_ok(&t, DT_UINT16, 2, S(1, 3));
		uint16_t x[3] = {1, 65535, 7}, y[3];
		run_ok(&t, x, y);
		assert_memory_equal(x, y, sizeof x);
		tm_free(&t);
	}
}

/* ---- matmul ---------------------------------------------------------------- */

/* A = arange(12).reshape(2,2,3)/4-1; B = [[1,-2],[0.5,3],[-1,0.25]]; matmul(A,B) (2,2,2) */
static void test_matmul_batched(void **state)
{
	TM t;
	tm_init(&t, DT_FLOAT32, 3, S(2, 2, 3));
	int b = tm_const(&t, "B", DT_FLOAT32, 2, S(3, 2), (const float[]){1, -2, 0.5f, 3, -1, 0.25f});
	tm_node(&t, OP_MATMUL, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_FLOAT32, 3, S(2, 2, 2));
	float x[12], y[8];
	for (int i = 0; i < 12; i++)
		x[i] = (float)i / 4 - 1;
	run_ok(&t, x, y);
	assert_floats(y, (const float[]){-0.875, -0.375, -0.5, 0.5625, -0.125, 1.5, 0.25, 2.4375}, 8, 0);
	tm_free(&t);
}

/* v = [1,2,-1]; matmul(v, arange(12).reshape(2,3,2)) = (2,2) [0,2,12,14];
 * matmul([[1,2,3],[4,5,6]], v) = (2) [2,8]; matmul(v, v) is rank 0 */
static void test_matmul_1d(void **state)
{
	TM t;
	float y[4];
	float b3[12];
	for (int i = 0; i < 12; i++)
		b3[i] = (float)i;
	tm_init(&t, DT_FLOAT32, 1, S(3));
	int b = tm_const(&t, "B", DT_FLOAT32, 3, S(2, 3, 2), b3);
	tm_node(&t, OP_MATMUL, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_FLOAT32, 2, S(2, 2));
	run_ok(&t, (const float[]){1, 2, -1}, y);
	assert_floats(y, (const float[]){0, 2, 12, 14}, 4, 0);
	tm_free(&t);

	tm_init(&t, DT_FLOAT32, 2, S(2, 3));
	b = tm_const(&t, "v", DT_FLOAT32, 1, S(3), (const float[]){1, 2, -1});
	tm_node(&t, OP_MATMUL, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_FLOAT32, 1, S(2));
	run_ok(&t, (const float[]){1, 2, 3, 4, 5, 6}, y);
	assert_floats(y, (const float[]){2, 8}, 2, 0);
	tm_free(&t);

	tm_init(&t, DT_FLOAT32, 1, S(3));
	b = tm_const(&t, "v", DT_FLOAT32, 1, S(3), (const float[]){1, 2, -1});
	tm_node(&t, OP_MATMUL, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_FLOAT32, 0, S(0));
	run_ok(&t, (const float[]){3, 4, 5}, y);
	assert_floats(y, (const float[]){6}, 1, 0);
	tm_free(&t);
}

/* int8 [[100,50],[-3,7]] @ [[2,1],[1,2]] = [-6,-56,1,11] (wraps) */
static void test_matmul_int8(void **state)
{
	TM t;
	tm_init(&t, DT_INT8, 2, S(2, 2));
	int b = tm_const(&t, "B", DT_INT8, 2, S(2, 2), (const int8_t[]){2, 1, 1, 2});
	tm_node(&t, OP_MATMUL, 2, (int[]){t.b->x, b});
	tm_infer_ok(&t, DT_INT8, 2, S(2, 2));
	int8_t y[4];
	run_ok(&t, (const int8_t[]){100, 50, -3, 7}, y);
	assert_int_equal(y[0], -6);
	assert_int_equal(y[1], -56);
	assert_int_equal(y[2], 1);
	assert_int_equal(y[3], 11);
	tm_free(&t);
}

static void test_matmul_mismatch(void **state)
{
	TM t;
	tm_init(&t, DT_FLOAT32, 2, S(2, 3));
	int b = tm_const(&t, "B", DT_FLOAT32, 2, S(4, 2), (const float[8]){0});
	tm_node(&t, OP_MATMUL, 2, (int[]){t.b->x, b});
	tm_infer_fails(&t, "'X' of shape [2, 3] and input 1 (b) 'B' of shape [4, 2]");
	tm_free(&t);
}

/* ---- unary ----------------------------------------------------------------- */

/* g = [-3,-1,-0.5,0,0.5,1,3]: F.gelu(g), F.gelu(g, approximate='tanh'), F.hardswish(g), F.silu(g) */
static void test_unary(void **state)
{
	static const float g[7] = {-3, -1, -0.5f, 0, 0.5f, 1, 3};
	static const struct {
		OpKind op;
		const char *approx;
		float want[7];
	} cases[] = {
		{OP_GELU, NULL, {-0.004049867391586304f, -0.1586552858352661f, -0.1542687863111496f, 0.0f,
		                 0.3457311987876892f, 0.8413447141647339f, 2.995950222015381f}},
		{OP_GELU, "tanh", {-0.0036374330520629883f, -0.15880799293518066f, -0.1542859971523285f, 0.0f,
		                   0.3457140028476715f, 0.8411920070648193f, 2.9963626861572266f}},
		{OP_HARDSWISH, NULL, {-0.0f, -0.3333333432674408f, -0.2083333283662796f, 0.0f, 0.2916666567325592f,
		                      0.6666666865348816f, 3.0f}},
		{OP_SILU, NULL, {-0.14227761328220367f, -0.2689414322376251f, -0.1887703388929367f, 0.0f,
		                 0.3112296760082245f, 0.7310585975646973f, 2.857722520828247f}},
		{OP_SIGMOID, NULL, {0.04742587357759476f, 0.2689414322376251f, 0.3775406777858734f, 0.5f,
		                    0.622459352016449f, 0.7310585975646973f, 0.9525741338729858f}},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		TM t;
		tm_init(&t, DT_FLOAT32, 1, S(7));
		tm_node(&t, cases[k].op, 1, (int[]){t.b->x});
		if (cases[k].approx)
			attr_str(&t, "approximate", cases[k].approx);
		tm_infer_ok(&t, DT_FLOAT32, 1, S(7));
		float y[7];
		run_ok(&t, g, y);
		assert_floats(y, cases[k].want, 7, 1e-6f);
		tm_free(&t);
	}
	TM t;
	tm_init(&t, DT_FLOAT32, 1, S(7));
	tm_node(&t, OP_GELU, 1, (int[]){t.b->x});
	attr_str(&t, "approximate", "erf");
	tm_infer_fails(&t, "'approximate'");
	tm_free(&t);
}

/* torch.clamp([nan,-0.,-1,7], 2, 1) = [nan,1,1,1]; F.relu6(...) = [nan,-0.,0,6] */
static void test_clip_relu6(void **state)
{
	TM t;
	float y[4];
	tm_init(&t, DT_FLOAT32, 1, S(4));
	tm_node(&t, OP_CLIP, 1, (int[]){t.b->x});
	attr_float(&t, "min", 2);
	attr_float(&t, "max", 1);
	tm_infer_ok(&t, DT_FLOAT32, 1, S(4));
	run_ok(&t, (const float[]){NAN, -0.0f, -1, 7}, y);
	assert_true(isnan(y[0]));
	assert_floats(y + 1, (const float[]){1, 1, 1}, 3, 0);
	tm_free(&t);

	tm_init(&t, DT_FLOAT32, 1, S(4));
	tm_node(&t, OP_RELU6, 1, (int[]){t.b->x});
	tm_infer_ok(&t, DT_FLOAT32, 1, S(4));
	run_ok(&t, (const float[]){NAN, -0.0f, -1, 7}, y);
	assert_true(isnan(y[0]));
	assert_true(signbit(y[1]));
	assert_floats(y + 1, (const float[]){-0.0f, 0, 6}, 3, 0);
	tm_free(&t);
}

/* ---- data movement --------------------------------------------------------- */

/* P = arange(24, int16).reshape(2,3,4); P.permute(2,0,-2) (4,2,3) */
static void test_permute(void **state)
{
	TM t;
	int16_t x[24], y[24];
	for (int i = 0; i < 24; i++)
		x[i] = (int16_t)i;
	tm_init(&t, DT_INT16, 3, S(2, 3, 4));
	tm_node(&t, OP_PERMUTE, 1, (int[]){t.b->x});
	attr_ints(&t, "dims", 3, S(2, 0, -2));
	tm_infer_ok(&t, DT_INT16, 3, S(4, 2, 3));
	run_ok(&t, x, y);
	static const int16_t want[] = {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23};
	assert_memory_equal(y, want, sizeof want);
	tm_free(&t);

	/* P.transpose(0,-1) (4,3,2) */
	tm_init(&t, DT_INT16, 3, S(2, 3, 4));
	tm_node(&t, OP_TRANSPOSE, 1, (int[]){t.b->x});
	attr_int(&t, "dim0", 0);
	attr_int(&t, "dim1", -1);
	tm_infer_ok(&t, DT_INT16, 3, S(4, 3, 2));
	run_ok(&t, x, y);
	static const int16_t want_t[] = {0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21, 2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23};
	assert_memory_equal(y, want_t, sizeof want_t);
	tm_free(&t);
}

static void test_bad_permute(void **state)
{
	static const struct {
		int n;
		int64_t dims[3];
		const char *want;
	} cases[] = {
		{3, {0, 0, 1}, "twice"},
		{3, {0, -3, 2}, "twice"},
		{2, {0, 1}, "expected 3"},
		{3, {0, 1, 3}, "expected an axis"},
		{3, {0, 1, INT64_MIN}, "expected an axis"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		TM t;
		tm_init(&t, DT_FLOAT32, 3, S(2, 3, 4));
		tm_node(&t, OP_PERMUTE, 1, (int[]){t.b->x});
		attr_ints(&t, "dims", cases[k].n, cases[k].dims);
		tm_infer_fails(&t, cases[k].want);
		tm_free(&t);
	}
	TM t;
	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 4));
	tm_node(&t, OP_TRANSPOSE, 1, (int[]){t.b->x});
	attr_int(&t, "dim0", 0);
	attr_int(&t, "dim1", INT64_MAX);
	tm_infer_fails(&t, "'dim1'");
	tm_free(&t);
}

static void test_reshape_flatten(void **state)
{
	TM t;
	float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
	tm_init(&t, DT_FLOAT32, 2, S(2, 3));
	tm_node(&t, OP_RESHAPE, 1, (int[]){t.b->x});
	attr_ints(&t, "shape", 3, S(3, -1, 1));
	tm_infer_ok(&t, DT_FLOAT32, 3, S(3, 2, 1));
	run_ok(&t, x, y);
	assert_memory_equal(x, y, sizeof x);
	tm_free(&t);

	static const struct {
		int n;
		int64_t shape[3];
		const char *want;
	} bad[] = {
		{2, {4, -1}, "[2, 3] (6 elements) to [4, -1]"},
		{2, {4, 2}, "[2, 3] (6 elements) to [4, 2] (8 elements)"},
		{2, {-1, -1}, "at most one"},
		{2, {0, 6}, "expected a size >= 1"},
		{3, {INT64_MAX, INT64_MAX, 2}, "2^40"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		tm_init(&t, DT_FLOAT32, 2, S(2, 3));
		tm_node(&t, OP_RESHAPE, 1, (int[]){t.b->x});
		attr_ints(&t, "shape", bad[k].n, bad[k].shape);
		tm_infer_fails(&t, bad[k].want);
		tm_free(&t);
	}

	/* Flatten defaults (start_dim 1): (2,3,1) -> (2,3); start after end fails */
	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 1));
	tm_node(&t, OP_FLATTEN, 1, (int[]){t.b->x});
	tm_infer_ok(&t, DT_FLOAT32, 2, S(2, 3));
	run_ok(&t, x, y);
	assert_memory_equal(x, y, sizeof x);
	tm_free(&t);
	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 1));
	tm_node(&t, OP_FLATTEN, 1, (int[]){t.b->x});
	attr_int(&t, "start_dim", 2);
	attr_int(&t, "end_dim", 1);
	tm_infer_fails(&t, "comes after");
	tm_free(&t);
}

/* torch.cat([arange(6).reshape(2,3), arange(10,14).reshape(2,2)], dim=-1) */
static void test_concat(void **state)
{
	TM t;
	tm_init(&t, DT_INT64, 2, S(2, 3));
	int b = tm_const(&t, "b", DT_INT64, 2, S(2, 2), (const int64_t[]){10, 11, 12, 13});
	tm_node(&t, OP_CONCAT, 2, (int[]){t.b->x, b});
	attr_int(&t, "dim", -1);
	tm_infer_ok(&t, DT_INT64, 2, S(2, 5));
	int64_t y[10];
	run_ok(&t, (const int64_t[]){0, 1, 2, 3, 4, 5}, y);
	static const int64_t want[] = {0, 1, 2, 10, 11, 3, 4, 5, 12, 13};
	assert_memory_equal(y, want, sizeof want);
	tm_free(&t);

	tm_init(&t, DT_INT64, 2, S(2, 3));
	b = tm_const(&t, "b", DT_INT32, 2, S(2, 2), (const int32_t[]){10, 11, 12, 13});
	tm_node(&t, OP_CONCAT, 2, (int[]){t.b->x, b});
	attr_int(&t, "dim", -1);
	tm_infer_fails(&t, "share one datatype");
	tm_free(&t);

	tm_init(&t, DT_INT64, 2, S(2, 3));
	b = tm_const(&t, "b", DT_INT64, 2, S(3, 2), (const int64_t[6]){0});
	tm_node(&t, OP_CONCAT, 2, (int[]){t.b->x, b});
	attr_int(&t, "dim", -1);
	tm_infer_fails(&t, "equal shapes except along axis 1");
	tm_free(&t);
}

/* R = [[[1,2,3],[4,5,6]]]; F.pad(R,(2,1),'reflect'); F.pad(R,(1,2,1,0),'reflect');
 * F.pad(R,(1,-1,0,1),'replicate'); F.pad(R,(-1,1,1,0),value=9) */
static void test_pad(void **state)
{
	static const float R[6] = {1, 2, 3, 4, 5, 6};
	static const struct {
		const char *mode;
		int n;
		int64_t pads[4];
		int64_t oshape[3];
		float want[18];
	} cases[] = {
		{"reflect", 2, {2, 1}, {1, 2, 6}, {3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5}},
		{"reflect", 4, {1, 2, 1, 0}, {1, 3, 6}, {5, 4, 5, 6, 5, 4, 2, 1, 2, 3, 2, 1, 5, 4, 5, 6, 5, 4}},
		{"replicate", 4, {1, -1, 0, 1}, {1, 3, 3}, {1, 1, 2, 4, 4, 5, 4, 4, 5}},
		{"constant", 4, {-1, 1, 1, 0}, {1, 3, 3}, {9, 9, 9, 2, 3, 9, 5, 6, 9}},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		TM t;
		tm_init(&t, DT_FLOAT32, 3, S(1, 2, 3));
		tm_node(&t, OP_PAD, 1, (int[]){t.b->x});
		attr_ints(&t, "pads", cases[k].n, cases[k].pads);
		attr_str(&t, "mode", cases[k].mode);
		attr_float(&t, "value", 9);
		tm_infer_ok(&t, DT_FLOAT32, 3, cases[k].oshape);
		float y[18];
		run_ok(&t, R, y);
		assert_floats(y, cases[k].want, (int)shape_numel(3, cases[k].oshape), 0);
		tm_free(&t);
	}
	static const struct {
		const char *mode;
		int n;
		int64_t pads[4];
		const char *want;
	} bad[] = {
		{"reflect", 2, {3, 0}, "less than the axis size"},
		{"constant", 3, {1, 1, 1}, "even number"},
		{"constant", 2, {-2, -1}, "at least 1"},
		{"constant", 2, {INT64_MAX, INT64_MAX}, "out of range"},
		{"circular", 2, {1, 1}, "'mode'"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		TM t;
		tm_init(&t, DT_FLOAT32, 3, S(1, 2, 3));
		tm_node(&t, OP_PAD, 1, (int[]){t.b->x});
		attr_ints(&t, "pads", bad[k].n, bad[k].pads);
		attr_str(&t, "mode", bad[k].mode);
		tm_infer_fails(&t, bad[k].want);
		tm_free(&t);
	}
}

/* ---- reduce ---------------------------------------------------------------- */

/* X = arange(24).reshape(2,3,4)*0.5-3; mean(X,[1],keepdim) (2,1,4); sum(X,[0,-1],keepdim) (1,3,1);
 * sum(X) = 66; mean(X,[-1]) (2,3) */
static void test_reduce(void **state)
{
	float x[24], y[8];
	for (int i = 0; i < 24; i++)
		x[i] = (float)i * 0.5f - 3;
	TM t;
	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 4));
	tm_node(&t, OP_MEAN, 1, (int[]){t.b->x});
	attr_ints(&t, "dims", 1, S(1));
	attr_int(&t, "keepdim", 1);
	tm_infer_ok(&t, DT_FLOAT32, 3, S(2, 1, 4));
	run_ok(&t, x, y);
	assert_floats(y, (const float[]){-1.0, -0.5, 0.0, 0.5, 5.0, 5.5, 6.0, 6.5}, 8, 1e-6f);
	tm_free(&t);

	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 4));
	tm_node(&t, OP_SUM, 1, (int[]){t.b->x});
	attr_ints(&t, "dims", 2, S(0, -1));
	attr_int(&t, "keepdim", 1);
	tm_infer_ok(&t, DT_FLOAT32, 3, S(1, 3, 1));
	run_ok(&t, x, y);
	assert_floats(y, (const float[]){6, 22, 38}, 3, 1e-5f);
	tm_free(&t);

	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 4));
	tm_node(&t, OP_SUM, 1, (int[]){t.b->x});
	tm_infer_ok(&t, DT_FLOAT32, 0, S(0));
	run_ok(&t, x, y);
	assert_floats(y, (const float[]){66}, 1, 1e-5f);
	tm_free(&t);

	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 4));
	tm_node(&t, OP_MEAN, 1, (int[]){t.b->x});
	attr_ints(&t, "dims", 1, S(-1));
	tm_infer_ok(&t, DT_FLOAT32, 2, S(2, 3));
	run_ok(&t, x, y);
	assert_floats(y, (const float[]){-2.25, -0.25, 1.75, 3.75, 5.75, 7.75}, 6, 1e-6f);
	tm_free(&t);

	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 4));
	tm_node(&t, OP_MEAN, 1, (int[]){t.b->x});
	attr_ints(&t, "dims", 2, S(1, -2));
	tm_infer_fails(&t, "twice");
	tm_free(&t);
	tm_init(&t, DT_FLOAT32, 3, S(2, 3, 4));
	tm_node(&t, OP_SUM, 1, (int[]){t.b->x});
	attr_ints(&t, "dims", 1, S(3));
	tm_infer_fails(&t, "expected an axis");
	tm_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broadcast_add),
		cmocka_unit_test(test_broadcast_div),
		cmocka_unit_test(test_bad_broadcast),
		cmocka_unit_test(test_int_wrap),
		cmocka_unit_test(test_int_div_mod),
		cmocka_unit_test(test_int_div_by_zero),
		cmocka_unit_test(test_float_mod),
		cmocka_unit_test(test_pow),
		cmocka_unit_test(test_scalar_f64),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_matmul_batched),
		cmocka_unit_test(test_matmul_1d),
		cmocka_unit_test(test_matmul_int8),
		cmocka_unit_test(test_matmul_mismatch),
		cmocka_unit_test(test_unary),
		cmocka_unit_test(test_clip_relu6),
		cmocka_unit_test(test_permute),
		cmocka_unit_test(test_bad_permute),
		cmocka_unit_test(test_reshape_flatten),
		cmocka_unit_test(test_concat),
		cmocka_unit_test(test_pad),
		cmocka_unit_test(test_reduce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
