/* ops_elem.c — shape rules and reference kernels of the elementwise families
 * (unary activations, binary direct ops with broadcasting), matmul and
 * identity.
 *
 * requires: the driver (shape.c / eval.c) has checked arity and input
 *           datatypes and pre-set out->dtype; eval runs after a successful
 *           infer, so shapes and attributes are valid there.
 * provides: PyTorch 1.13 inference semantics: float32 math done in float
 *           with torch's formulas (same operation order), integers computed
 *           in 64 bits and wrapped to the datatype's width (two's complement),
 *           integer division/remainder by zero reported as runtime errors.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* <math.h> under strict C11 has no M_* constants. */
#define NNL_SQRT1_2 0.70710678118654752440
#define NNL_SQRT2 1.41421356237309504880
#define NNL_2_SQRTPI 1.12837916709551257390

/* ---- unary ---------------------------------------------------------------- */

static int attr_str_is(const AttrValue *a, const char *s)
{
	return strncmp(a->s, s, sizeof a->s) == 0;
}

int infer_unary(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	if (c->node->op == OP_GELU) {
		const AttrValue *a = node_attr(c->node, "approximate");
		if (!attr_str_is(a, "none") && !attr_str_is(a, "tanh")) {
			op_error(c, "attribute 'approximate' is \"%.*s\", expected \"none\" or \"tanh\"",
			         (int)sizeof a->s, a->s);
			return -1;
		}
	}
	out->rank = in[0]->rank;
	memcpy(out->shape, in[0]->shape, sizeof out->shape);
	return 0;
}

int eval_unary(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const float *x = in_data[0];
	float *y = out_data;
	int64_t n = tensor_numel(out);
	switch (c->node->op) {
	case OP_RELU: /* clamp_min(x, 0): NaN and -0 pass through */
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] < 0 ? 0.0f : x[i];
		break;
	case OP_RELU6: /* hardtanh(x, 0, 6) */
		for (int64_t i = 0; i < n; i++) {
			float v = x[i] < 0 ? 0.0f : x[i];
			y[i] = v > 6.0f ? 6.0f : v;
		}
		break;
	case OP_LEAKYRELU: {
		float s = (float)node_attr(c->node, "negative_slope")->f;
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > 0 ? x[i] : x[i] * s;
		break;
	}
	case OP_SIGMOID:
		for (int64_t i = 0; i < n; i++)
			y[i] = 1.0f / (1.0f + expf(-x[i]));
		break;
	case OP_TANH:
		for (int64_t i = 0; i < n; i++)
			y[i] = tanhf(x[i]);
		break;
	case OP_HARDSWISH:
		for (int64_t i = 0; i < n; i++) {
			float t = x[i] + 3.0f;
			t = t < 0 ? 0.0f : t;
			t = t > 6.0f ? 6.0f : t;
			y[i] = x[i] * t / 6.0f;
		}
		break;
	case OP_HARDSIGMOID:
		for (int64_t i = 0; i < n; i++) {
			float t = x[i] + 3.0f;
			t = t < 0 ? 0.0f : t;
			t = t > 6.0f ? 6.0f : t;
			y[i] = t / 6.0f;
		}
		break;
	case OP_SILU:
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] / (1.0f + expf(-x[i]));
		break;
	case OP_GELU:
		if (attr_str_is(node_attr(c->node, "approximate"), "tanh")) {
			const float beta = (float)(NNL_SQRT2 * NNL_2_SQRTPI * 0.5), kappa = 0.044715f;
			for (int64_t i = 0; i < n; i++) {
				float v = x[i], cube = v * v * v;
				float inner = beta * (v + kappa * cube);
				y[i] = 0.5f * v * (1.0f + tanhf(inner));
			}
		} else {
			const float alpha = (float)NNL_SQRT1_2;
			for (int64_t i = 0; i < n; i++)
				y[i] = x[i] * 0.5f * (1.0f + erff(x[i] * alpha));
		}
		break;
	case OP_CLIP: {
		/* torch.clamp: min(max(x, lo), hi); NaN propagates; lo > hi gives hi. */
		const AttrValue *lo = node_attr(c->node, "min"), *hi = node_attr(c->node, "max");
		float l = (float)lo->f, h = (float)hi->f;
		for (int64_t i = 0; i < n; i++) {
			float v = x[i];
			if (lo->set && v < l)
				v = l;
			if (hi->set && v > h)
				v = h;
			y[i] = v;
		}
		break;
	}
	default:
		NNL_BUG("eval_unary: not a unary op");
	}
	return 0;
}

/* ---- identity ------------------------------------------------------------- */

int infer_identity(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	out->rank = in[0]->rank;
	memcpy(out->shape, in[0]->shape, sizeof out->shape);
	return 0;
}

int eval_identity(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	int64_t nb = dtype_bytes(in[0]->dtype, tensor_numel(in[0]));
	if (nb > 0)
		memcpy(out_data, in_data[0], (size_t)nb);
	return 0;
}

/* ---- integer element access (wrap-around stores) --------------------------- */

static int64_t ld_int(DType t, const void *p, int64_t i) { return dtype_get_i64(t, p, i); }

/* Store the low bits of v: two's-complement wrap-around like torch. */
static void st_int(DType t, void *p, int64_t i, uint64_t v)
{
	uint8_t *b = p;
	switch (t) {
	case DT_INT64: memcpy(b + 8 * i, &v, 8); break;
	case DT_INT32: { uint32_t x = (uint32_t)v; memcpy(b + 4 * i, &x, 4); break; }
	case DT_INT16: case DT_UINT16: { uint16_t x = (uint16_t)v; memcpy(b + 2 * i, &x, 2); break; }
	case DT_INT8: case DT_UINT8: b[i] = (uint8_t)v; break;
	default: NNL_BUG("st_int: not an integer datatype of 8 bits or more");
	}
}

/* ---- binary --------------------------------------------------------------- */

int infer_binary(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	char s1[256], s2[256];
	int n_in = c->node->n_in;
	if (c->node->op == OP_POW) {
		const AttrValue *e = node_attr(c->node, "exponent");
		if (n_in == 2 && e->set) {
			op_error(c, "has both a second input '%s' and attribute 'exponent', expected exactly one",
			         in[1]->name);
			return -1;
		}
		if (n_in == 1 && !e->set) {
			op_error(c, "has neither a second input nor attribute 'exponent', expected exactly one");
			return -1;
		}
	}
	if (n_in == 1) {
		out->rank = in[0]->rank;
		memcpy(out->shape, in[0]->shape, sizeof out->shape);
		return 0;
	}
	if (broadcast_shapes(in[0]->rank, in[0]->shape, in[1]->rank, in[1]->shape, &out->rank, out->shape) < 0) {
		op_error(c, "cannot broadcast input 0 (a) '%s' of shape %s with input 1 (b) '%s' of shape %s", in[0]->name,
		         shape_str(in[0]->rank, in[0]->shape, s1, sizeof s1), in[1]->name,
		         shape_str(in[1]->rank, in[1]->shape, s2, sizeof s2));
		return -1;
	}
	return 0;
}

static float rem_f32(float a, float b)
{
	float r = fmodf(a, b);
	if (r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

static double rem_f64(double a, double b)
{
	double r = fmod(a, b);
	if (r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

/* One contiguous run of n outputs; a and b advance by sa and sb (0 or 1). */
static void run_f32(OpKind op, int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *o)
{
	switch (op) {
	case OP_ADD: for (int64_t k = 0; k < n; k++) o[k] = a[k * sa] + b[k * sb]; break;
	case OP_SUB: for (int64_t k = 0; k < n; k++) o[k] = a[k * sa] - b[k * sb]; break;
	case OP_MUL: for (int64_t k = 0; k < n; k++) o[k] = a[k * sa] * b[k * sb]; break;
	case OP_DIV: for (int64_t k = 0; k < n; k++) o[k] = a[k * sa] / b[k * sb]; break;
	case OP_MOD: for (int64_t k = 0; k < n; k++) o[k] = rem_f32(a[k * sa], b[k * sb]); break;
	case OP_POW: for (int64_t k = 0; k < n; k++) o[k] = powf(a[k * sa], b[k * sb]); break;
	default: NNL_BUG("run_f32: not a binary op");
	}
}

static void run_f64(OpKind op, int64_t n, const double *a, int64_t sa, const double *b, int64_t sb, double *o)
{
	switch (op) {
	case OP_ADD: for (int64_t k = 0; k < n; k++) o[k] = a[k * sa] + b[k * sb]; break;
	case OP_SUB: for (int64_t k = 0; k < n; k++) o[k] = a[k * sa] - b[k * sb]; break;
	case OP_MUL: for (int64_t k = 0; k < n; k++) o[k] = a[k * sa] * b[k * sb]; break;
	case OP_DIV: for (int64_t k = 0; k < n; k++) o[k] = a[k * sa] / b[k * sb]; break;
	case OP_MOD: for (int64_t k = 0; k < n; k++) o[k] = rem_f64(a[k * sa], b[k * sb]); break;
	case OP_POW: for (int64_t k = 0; k < n; k++) o[k] = pow(a[k * sa], b[k * sb]); break;
	default: NNL_BUG("run_f64: not a binary op");
	}
}

/* Integers: element offsets instead of typed pointers. -1 on division by zero. */
static int run_int(OpKind op, DType t, int64_t n, const void *a, int64_t ia, int64_t sa, const void *b,
                   int64_t ib, int64_t sb, void *o, int64_t io)
{
	for (int64_t k = 0; k < n; k++) {
		int64_t x = ld_int(t, a, ia + k * sa), y = ld_int(t, b, ib + k * sb);
		uint64_t r = 0;
		switch (op) {
		case OP_ADD: r = (uint64_t)x + (uint64_t)y; break;
		case OP_SUB: r = (uint64_t)x - (uint64_t)y; break;
		case OP_MUL: r = (uint64_t)x * (uint64_t)y; break;
		case OP_DIV:
			if (y == 0)
				return -1;
			/* INT64_MIN / -1 overflows in C: the wrapped result is INT64_MIN. */
			r = (y == -1) ? (uint64_t)0 - (uint64_t)x : (uint64_t)(x / y);
			break;
		case OP_MOD: {
			if (y == 0)
				return -1;
			int64_t m = (y == -1) ? 0 : x % y;
			if (m != 0 && ((m < 0) != (y < 0)))
				m += y;
			r = (uint64_t)m;
			break;
		}
		default: NNL_BUG("run_int: not an integer binary op");
		}
		st_int(t, o, io + k, r);
	}
	return 0;
}

/* torch's pow(tensor, scalar) specialisations (PowKernel.cpp), else pow in double. */
static void pow_scalar(DType t, int64_t n, const void *x, double e, void *y)
{
	if (t == DT_FLOAT32) {
		const float *a = x;
		float *o = y;
		/* torch's vectorised kernel rounds the exponent to float first. */
		const double ef = (float)e;
		for (int64_t i = 0; i < n; i++) {
			float v = a[i];
			if (e == 0.5) o[i] = sqrtf(v);
			else if (e == -0.5) o[i] = 1.0f / sqrtf(v);
			else if (e == -1.0) o[i] = 1.0f / v;
			else if (e == 2.0) o[i] = v * v;
			else if (e == 3.0) o[i] = v * v * v;
			else if (e == -2.0) o[i] = (float)(1.0 / (double)(v * v));
			else o[i] = (float)pow((double)v, ef);
		}
	} else {
		const double *a = x;
		double *o = y;
		for (int64_t i = 0; i < n; i++) {
			double v = a[i];
			if (e == 0.5) o[i] = sqrt(v);
			else if (e == -0.5) o[i] = 1.0 / sqrt(v);
			else if (e == -1.0) o[i] = 1.0 / v;
			else if (e == 2.0) o[i] = v * v;
			else if (e == 3.0) o[i] = v * v * v;
			else if (e == -2.0) o[i] = 1.0 / (v * v);
			else o[i] = pow(v, e);
		}
	}
}

/* Element strides of t (padded with leading axes to rank r) broadcast to out:
 * 0 along axes of size 1. */
static void bcast_strides(const Tensor *t, int r, int64_t *st)
{
	int64_t s = 1;
	for (int i = r - 1; i >= 0; i--) {
		int j = i - (r - t->rank);
		int64_t d = j >= 0 ? t->shape[j] : 1;
		st[i] = d == 1 ? 0 : s;
		s *= d;
	}
}

int eval_binary(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	OpKind op = c->node->op;
	DType t = out->dtype;
	int64_t n = tensor_numel(out);
	if (c->node->n_in == 1) { /* ^x with the exponent attribute */
		pow_scalar(t, n, in_data[0], node_attr(c->node, "exponent")->f, out_data);
		return 0;
	}
	int r = out->rank;
	int64_t sa[NNL_MAX_RANK], sb[NNL_MAX_RANK], idx[NNL_MAX_RANK] = {0};
	int same = in[0]->rank == r && in[1]->rank == r &&
	           memcmp(in[0]->shape, out->shape, (size_t)r * sizeof(int64_t)) == 0 &&
	           memcmp(in[1]->shape, out->shape, (size_t)r * sizeof(int64_t)) == 0;
	int64_t inner, outer;
	if (same) { /* fast path: one contiguous run (also rank 0) */
		inner = n;
		outer = 1;
		sa[0] = sb[0] = 1;
		r = 1;
	} else {
		bcast_strides(in[0], r, sa);
		bcast_strides(in[1], r, sb);
		inner = out->shape[r - 1];
		outer = n / inner;
	}
	int64_t oa = 0, ob = 0;
	for (int64_t k = 0; k < outer; k++) {
		int64_t oo = k * inner;
		if (t == DT_FLOAT32) {
			run_f32(op, inner, (const float *)in_data[0] + oa, sa[r - 1], (const float *)in_data[1] + ob,
			        sb[r - 1], (float *)out_data + oo);
		} else if (t == DT_FLOAT64) {
			run_f64(op, inner, (const double *)in_data[0] + oa, sa[r - 1], (const double *)in_data[1] + ob,
			        sb[r - 1], (double *)out_data + oo);
		} else if (run_int(op, t, inner, in_data[0], oa, sa[r - 1], in_data[1], ob, sb[r - 1], out_data, oo) < 0) {
			op_error(c, "integer %s by zero: input 1 (b) '%s' has a zero element",
			         op == OP_DIV ? "division" : "modulo", in[1]->name);
			return -1;
		}
		for (int d = r - 2; d >= 0; d--) {
			idx[d]++;
			oa += sa[d];
			ob += sb[d];
			if (idx[d] < out->shape[d])
				break;
			oa -= sa[d] * out->shape[d];
			ob -= sb[d] * out->shape[d];
			idx[d] = 0;
		}
	}
	return 0;
}

/* ---- matmul --------------------------------------------------------------- */

/* The operands' matrix and batch dimensions (torch.matmul rules). */
typedef struct MatDims {
	int64_t m, k, n;
	int rba, rbb;            /* batch ranks of a and b */
	int rbatch;              /* broadcast batch rank */
	int64_t batch[NNL_MAX_RANK];
} MatDims;

static int mat_dims(const Tensor *a, const Tensor *b, MatDims *d)
{
	d->m = a->rank == 1 ? 1 : a->shape[a->rank - 2];
	d->k = a->shape[a->rank - 1];
	int64_t kb = b->rank == 1 ? b->shape[0] : b->shape[b->rank - 2];
	d->n = b->rank == 1 ? 1 : b->shape[b->rank - 1];
	d->rba = a->rank > 2 ? a->rank - 2 : 0;
	d->rbb = b->rank > 2 ? b->rank - 2 : 0;
	if (d->k != kb)
		return -1;
	if (broadcast_shapes(d->rba, a->shape, d->rbb, b->shape, &d->rbatch, d->batch) < 0)
		return -2;
	return 0;
}

int infer_matmul(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	char s1[256], s2[256];
	const Tensor *a = in[0], *b = in[1];
	for (int i = 0; i < 2; i++)
		if (in[i]->rank == 0) {
			op_error(c, "input %d (%s) '%s' is a scalar (rank 0), expected at least 1 axis", i, i ? "b" : "a",
			         in[i]->name);
			return -1;
		}
	MatDims d;
	int r = mat_dims(a, b, &d);
	if (r == -1) {
		op_error(c, "input 0 (a) '%s' of shape %s and input 1 (b) '%s' of shape %s cannot be multiplied: "
		         "a has %lld columns but b has %lld rows", a->name, shape_str(a->rank, a->shape, s1, sizeof s1),
		         b->name, shape_str(b->rank, b->shape, s2, sizeof s2), (long long)d.k,
		         (long long)(b->rank == 1 ? b->shape[0] : b->shape[b->rank - 2]));
		return -1;
	}
	if (r == -2) {
		op_error(c, "batch axes of input 0 (a) '%s' of shape %s and input 1 (b) '%s' of shape %s cannot be "
		         "broadcast", a->name, shape_str(a->rank, a->shape, s1, sizeof s1), b->name,
		         shape_str(b->rank, b->shape, s2, sizeof s2));
		return -1;
	}
	out->rank = d.rbatch;
	memcpy(out->shape, d.batch, (size_t)d.rbatch * sizeof(int64_t));
	if (a->rank > 1)
		out->shape[out->rank++] = d.m;
	if (b->rank > 1)
		out->shape[out->rank++] = d.n;
	return 0;
}

/* Floats accumulate in double and round once (torch's BLAS order differs
 * anyway; the result is within float rounding of torch). Integers wrap. */
int eval_matmul(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *a = in[0], *b = in[1];
	DType t = out->dtype;
	MatDims d;
	if (mat_dims(a, b, &d) < 0)
		NNL_BUG("eval_matmul: shapes not checked");
	int64_t M = d.m, K = d.k, N = d.n;
	int rb = d.rbatch;
	/* Batch strides (in matrices) of a and b broadcast to the batch shape. */
	int64_t sa[NNL_MAX_RANK], sb[NNL_MAX_RANK], idx[NNL_MAX_RANK] = {0};
	int64_t s = 1;
	for (int i = rb - 1; i >= 0; i--) {
		int j = i - (rb - d.rba);
		int64_t dim = j >= 0 ? a->shape[j] : 1;
		sa[i] = dim == 1 ? 0 : s;
		s *= dim;
	}
	s = 1;
	for (int i = rb - 1; i >= 0; i--) {
		int j = i - (rb - d.rbb);
		int64_t dim = j >= 0 ? b->shape[j] : 1;
		sb[i] = dim == 1 ? 0 : s;
		s *= dim;
	}
	int64_t nbatch = shape_numel(rb, d.batch);
	int isf = dtype_is_float(t);
	double *accf = NULL;
	uint64_t *acci = NULL;
	if (isf)
		accf = nnl_malloc((size_t)N * sizeof *accf);
	else
		acci = nnl_malloc((size_t)N * sizeof *acci);
	if (!accf && !acci) {
		op_error(c, "out of memory");
		return -1;
	}
	int64_t ma = 0, mb = 0; /* matrix index of a and b in the current batch */
	for (int64_t bi = 0; bi < nbatch; bi++) {
		int64_t abase = ma * M * K, bbase = mb * K * N, obase = bi * M * N;
		for (int64_t i = 0; i < M; i++) {
			if (isf) {
				for (int64_t j = 0; j < N; j++)
					accf[j] = 0;
				for (int64_t k = 0; k < K; k++) {
					int64_t ai = abase + i * K + k, bo = bbase + k * N;
					if (t == DT_FLOAT32) {
						double av = ((const float *)in_data[0])[ai];
						const float *bp = (const float *)in_data[1] + bo;
						for (int64_t j = 0; j < N; j++)
							accf[j] += av * bp[j];
					} else {
						double av = ((const double *)in_data[0])[ai];
						const double *bp = (const double *)in_data[1] + bo;
						for (int64_t j = 0; j < N; j++)
							accf[j] += av * bp[j];
					}
				}
				for (int64_t j = 0; j < N; j++) {
					if (t == DT_FLOAT32)
						((float *)out_data)[obase + i * N + j] = (float)accf[j];
					else
						((double *)out_data)[obase + i * N + j] = accf[j];
				}
			} else {
				for (int64_t j = 0; j < N; j++)
					acci[j] = 0;
				for (int64_t k = 0; k < K; k++) {
					uint64_t av = (uint64_t)ld_int(t, in_data[0], abase + i * K + k);
					for (int64_t j = 0; j < N; j++)
						acci[j] += av * (uint64_t)ld_int(t, in_data[1], bbase + k * N + j);
				}
				for (int64_t j = 0; j < N; j++)
					st_int(t, out_data, obase + i * N + j, acci[j]);
			}
		}
		for (int dd = rb - 1; dd >= 0; dd--) {
			idx[dd]++;
			ma += sa[dd];
			mb += sb[dd];
			if (idx[dd] < d.batch[dd])
				break;
			ma -= sa[dd] * d.batch[dd];
			mb -= sb[dd] * d.batch[dd];
			idx[dd] = 0;
		}
	}
	free(accf);
	free(acci);
	return 0;
}
