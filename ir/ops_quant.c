/* ops_quant.c — the integer side of the interpreter: Quantize/Dequantize (the
 * "quant" family of ops.def) and the quantized variants of Conv1d/2d,
 * Linear, ReLU/ReLU6, the pools, Mean, '+' and Concat (dispatched from
 * shape.c and eval.c through quant.h when the inputs are integer).
 *
 * Semantics are TFLite's int8 and 16x8 reference kernels (CMSIS-NN computes
 * the same): docs/quantization.md writes every formula. The arithmetic is
 * exact integer arithmetic, so any backend that follows the formulas agrees
 * bit for bit; test/quant/ref.py is an independent numpy version.
 *
 * requires: model_infer done (shapes, types and quantization checked by
 * quant_check_types / quant_check_out).
 */
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- primitives ------------------------------------------------------------ */

void nnl_quantize_multiplier(double m, int32_t *qm, int *shift)
{
	if (m == 0.0) {
		*qm = 0;
		*shift = 0;
		return;
	}
	int sh;
	double q = frexp(m, &sh);
	int64_t qf = (int64_t)round(q * (double)(INT64_C(1) << 31));
	if (qf == (INT64_C(1) << 31)) {
		qf /= 2;
		sh++;
	}
	if (sh < -31) {
		sh = 0;
		qf = 0;
	}
	*qm = (int32_t)qf;
	*shift = sh;
}

int32_t nnl_srdhm(int32_t a, int32_t b)
{
	if (a == b && a == INT32_MIN)
		return INT32_MAX;
	int64_t ab = (int64_t)a * (int64_t)b;
	int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : (1 - (INT64_C(1) << 30));
	return (int32_t)((ab + nudge) / (INT64_C(1) << 31));
}

int32_t nnl_rdbypot(int32_t x, int e)
{
	int32_t mask = (int32_t)((INT64_C(1) << e) - 1);
	int32_t rem = x & mask;
	int32_t thr = (mask >> 1) + (x < 0 ? 1 : 0);
	return (x >> e) + (rem > thr ? 1 : 0);
}

int32_t nnl_mbqm(int32_t x, int32_t qm, int shift)
{
	int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
	int32_t xs = (int32_t)((uint32_t)x << left); /* wraps as int32 arithmetic on the devices */
	return nnl_rdbypot(nnl_srdhm(xs, qm), right);
}

int32_t nnl_mbqm64(int64_t x, int32_t qm, int shift)
{
	int32_t reduced = qm < 0x7FFF0000 ? (int32_t)((qm + (1 << 15)) >> 16) : 0x7FFF;
	int total = 15 - shift;
	int64_t round_ = INT64_C(1) << (total - 1);
	int64_t r = x * (int64_t)reduced + round_;
	r >>= total; /* arithmetic shift (floor), as TFLite on every target */
	if (r > INT32_MAX)
		r = INT32_MAX;
	if (r < INT32_MIN)
		r = INT32_MIN;
	return (int32_t)r;
}

int32_t nnl_round_div(int64_t sum, int64_t count)
{
	int64_t q = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
	return (int32_t)q;
}

int32_t nnl_quantize_value(float x, double scale, int64_t zp, int32_t qmin, int32_t qmax)
{
	float v = x / (float)scale;
	if (v != v) /* NaN → the zero point (as 0; TFLite's cast of NaN on Arm) */
		v = 0.0f;
	double r = round((double)v); /* half away from zero, like TfLiteRound */
	double q = r + (double)zp;
	if (q < qmin)
		return qmin;
	if (q > qmax)
		return qmax;
	return (int32_t)q;
}

void nnl_qrange(DType t, int32_t *qmin, int32_t *qmax)
{
	switch (t) {
	case DT_INT16: *qmin = INT16_MIN; *qmax = INT16_MAX; return;
	case DT_INT32: *qmin = INT32_MIN; *qmax = INT32_MAX; return;
	default: *qmin = INT8_MIN; *qmax = INT8_MAX; return;
	}
}

/* ---- checks ---------------------------------------------------------------- */

int quant_selected(OpKind op, const Tensor *const *in, int n_in)
{
	if (op_info(op)->flags & OPF_FLOAT)
		return n_in > 0 && dtype_is_int(in[0]->dtype);
	if (op == OP_ADD || op == OP_CONCAT)
		for (int i = 0; i < n_in; i++)
			if (in[i]->quant)
				return 1;
	return 0;
}

static int has_int_kernel(OpKind op)
{
	switch (op) {
	case OP_LINEAR: case OP_CONV1D: case OP_CONV2D: case OP_RELU: case OP_RELU6:
	case OP_MAXPOOL1D: case OP_MAXPOOL2D: case OP_AVGPOOL1D: case OP_AVGPOOL2D:
	case OP_ADAPTIVEAVGPOOL1D: case OP_ADAPTIVEAVGPOOL2D: case OP_MEAN: case OP_ADD: case OP_CONCAT:
		return 1;
	default:
		return 0;
	}
}

/* An activation: int8 or int16 with per-tensor quantization (int16: zp 0). */
static int check_act(const OpCtx *c, const Tensor *t, int i, const char *role)
{
	char nb[32];
	const char *what = op_input_name(c->node->op, i, nb, sizeof nb);
	if (t->dtype != DT_INT8 && t->dtype != DT_INT16) {
		op_error(c, "%s %d (%s) '%s' is %s, expected int8 or int16 (quantized)", role, i, what, t->name,
		         dtype_name(t->dtype));
		return -1;
	}
	if (!t->quant || t->quant->n != 1) {
		op_error(c, "%s %d (%s) '%s' is %s %s, expected per-tensor quantization (scale, zero_point)", role, i,
		         what, t->name, dtype_name(t->dtype), t->quant ? "quantized per axis" : "without quantization");
		return -1;
	}
	if (t->dtype == DT_INT16 && t->quant->zero_point[0] != 0) {
		op_error(c, "%s %d (%s) '%s' is int16 with zero_point %lld, expected 0 (16x8 activations are symmetric)",
		         role, i, what, t->name, (long long)t->quant->zero_point[0]);
		return -1;
	}
	return 0;
}

int quant_check_types(const OpCtx *c, Tensor *const *in, int n_in)
{
	OpKind op = c->node->op;
	const char *name = op_info(op)->name;
	if ((op_info(op)->flags & OPF_FLOAT) && !in[0]->quant && in[0]->dtype != DT_INT8 && in[0]->dtype != DT_INT16) {
		op_error(c, "input 0 (x) '%s' is %s without quantization, expected float32 (or a quantized int8/int16 tensor)",
		         in[0]->name, dtype_name(in[0]->dtype));
		return -1;
	}
	if (!has_int_kernel(op)) {
		op_error(c, "%s has no integer kernel: input 0 '%s' is %s; keep it in float32 between Dequantize and "
		            "Quantize (the quantize pass does so)", name, in[0]->name, dtype_name(in[0]->dtype));
		return -1;
	}
	for (int i = 0; i < n_in; i++) {
		if ((op == OP_LINEAR || op == OP_CONV1D || op == OP_CONV2D) && i > 0)
			continue;
		if (check_act(c, in[i], i, "input") < 0)
			return -1;
		if (i > 0 && in[i]->dtype != in[0]->dtype) {
			op_error(c, "input %d '%s' is %s but input 0 is %s; quantized inputs must share one datatype", i,
			         in[i]->name, dtype_name(in[i]->dtype), dtype_name(in[0]->dtype));
			return -1;
		}
	}
	if (op == OP_LINEAR || op == OP_CONV1D || op == OP_CONV2D) {
		const Tensor *w = in[1];
		if (w->dtype != DT_INT8 && w->dtype != DT_INT4) {
			op_error(c, "input 1 (weight) '%s' is %s, expected int8 or int4 (quantized weights)", w->name,
			         dtype_name(w->dtype));
			return -1;
		}
		if (!w->data) {
			op_error(c, "input 1 (weight) '%s' is computed, expected a constant", w->name);
			return -1;
		}
		if (!w->quant || !(w->quant->n == 1 || (w->quant->axis == 0 && w->quant->n == w->shape[0]))) {
			op_error(c, "input 1 (weight) '%s' needs quantization per tensor or per output channel (axis 0)",
			         w->name);
			return -1;
		}
		for (int k = 0; k < w->quant->n; k++)
			if (w->quant->zero_point[k] != 0) {
				op_error(c, "input 1 (weight) '%s' has zero_point %lld, expected 0 (symmetric weights)", w->name,
				         (long long)w->quant->zero_point[k]);
				return -1;
			}
		if (n_in > 2) {
			DType bt = in[0]->dtype == DT_INT16 ? DT_INT64 : DT_INT32;
			if (in[2]->dtype != bt || !in[2]->data) {
				op_error(c, "input 2 (bias) '%s' is %s%s, expected a %s constant (%s activations)", in[2]->name,
				         dtype_name(in[2]->dtype), in[2]->data ? "" : " (computed)", dtype_name(bt),
				         dtype_name(in[0]->dtype));
				return -1;
			}
		}
	}
	return 0;
}

int quant_check_out(const OpCtx *c, Tensor *const *in, int n_in, const Tensor *out)
{
	OpKind op = c->node->op;
	if (!out->quant || out->quant->n != 1) {
		op_error(c, "output '%s' is %s and needs per-tensor quantization (scale, zero_point): the quantized %s "
		         "requantizes to it", out->name, dtype_name(out->dtype), op_info(op)->name);
		return -1;
	}
	int32_t qmin, qmax;
	nnl_qrange(out->dtype, &qmin, &qmax);
	if (out->quant->zero_point[0] < qmin || out->quant->zero_point[0] > qmax ||
	    (out->dtype == DT_INT16 && out->quant->zero_point[0] != 0)) {
		op_error(c, "output '%s' has zero_point %lld, out of range for %s", out->name,
		         (long long)out->quant->zero_point[0], dtype_name(out->dtype));
		return -1;
	}
	int same = op == OP_RELU || op == OP_RELU6 || op == OP_MAXPOOL1D || op == OP_MAXPOOL2D ||
	           op == OP_AVGPOOL1D || op == OP_AVGPOOL2D || op == OP_ADAPTIVEAVGPOOL1D ||
	           op == OP_ADAPTIVEAVGPOOL2D || op == OP_MEAN;
	if (same && (out->quant->scale[0] != in[0]->quant->scale[0] ||
	             out->quant->zero_point[0] != in[0]->quant->zero_point[0])) {
		op_error(c, "output '%s' must have the quantization of input '%s' (scale %g, zero_point %lld): the "
		         "integer %s does not requantize", out->name, in[0]->name, in[0]->quant->scale[0],
		         (long long)in[0]->quant->zero_point[0], op_info(op)->name);
		return -1;
	}
	if (op == OP_ADD) {
		if (in[0]->rank != in[1]->rank ||
		    memcmp(in[0]->shape, in[1]->shape, (size_t)in[0]->rank * sizeof(int64_t)) != 0) {
			op_error(c, "the quantized '+' needs inputs of the same shape ('%s' and '%s' differ)", in[0]->name,
			         in[1]->name);
			return -1;
		}
	}
	(void)n_in;
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static inline int32_t ld(DType t, const void *p, int64_t i)
{
	return t == DT_INT8 ? ((const int8_t *)p)[i] : ((const int16_t *)p)[i];
}

static inline void st(DType t, void *p, int64_t i, int32_t v)
{
	if (t == DT_INT8)
		((int8_t *)p)[i] = (int8_t)v;
	else
		((int16_t *)p)[i] = (int16_t)v;
}

static inline int32_t clampi(int64_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : (int32_t)v; }

/* Requantize an accumulator (int8: int32 semantics, 16x8: int64) to the output. */
static inline int32_t requant(int64_t acc, int wide, int32_t qm, int sh, int64_t zp, int32_t lo, int32_t hi)
{
	int64_t v = wide ? nnl_mbqm64(acc, qm, sh) : nnl_mbqm((int32_t)acc, qm, sh);
	return clampi(v + zp, lo, hi);
}

/* Weights as int8 (int4 unpacked). */
static int8_t *weights_i8(const Tensor *w)
{
	int64_t n = tensor_numel(w);
	int8_t *q = nnl_malloc((size_t)n);
	if (!q)
		return NULL;
	if (w->dtype == DT_INT8)
		memcpy(q, w->data, (size_t)n);
	else
		for (int64_t i = 0; i < n; i++)
			q[i] = (int8_t)dtype_get_i64(w->dtype, w->data, i);
	return q;
}

/* Per output channel multipliers M[o] = s_x · s_w[o] / s_y (double product of the stored scales). */
static int channel_mult(const Tensor *x, const Tensor *w, const Tensor *y, int64_t O, int32_t **qm, int **sh)
{
	*qm = nnl_malloc((size_t)O * sizeof **qm);
	*sh = nnl_malloc((size_t)O * sizeof **sh);
	if (!*qm || !*sh)
		return -1;
	for (int64_t o = 0; o < O; o++) {
		double sw = w->quant->scale[w->quant->n == 1 ? 0 : o];
		nnl_quantize_multiplier(x->quant->scale[0] * sw / y->quant->scale[0], &(*qm)[o], &(*sh)[o]);
	}
	return 0;
}

static int oom(const OpCtx *c)
{
	op_error(c, "out of memory in the integer kernel");
	return -1;
}

/* ---- Linear and Conv ----------------------------------------------------------- */

static int q_linear(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0], *w = in[1];
	const int has_b = c->node->n_in > 2, wide = x->dtype == DT_INT16;
	int64_t K = w->shape[1], O = w->shape[0], rows = tensor_numel(x) / (K ? K : 1);
	int32_t *qm = NULL, lo, hi;
	int *sh = NULL;
	int8_t *wq = weights_i8(w);
	if (!wq || channel_mult(x, w, out, O, &qm, &sh) < 0) {
		free(wq), free(qm), free(sh);
		return oom(c);
	}
	nnl_qrange(out->dtype, &lo, &hi);
	const int64_t zx = x->quant->zero_point[0], zy = out->quant->zero_point[0];
	for (int64_t r = 0; r < rows; r++)
		for (int64_t o = 0; o < O; o++) {
			int64_t acc = 0;
			for (int64_t k = 0; k < K; k++)
				acc += (int64_t)wq[o * K + k] * (ld(x->dtype, in_data[0], r * K + k) - zx);
			if (has_b)
				acc += dtype_get_i64(in[2]->dtype, in_data[2], o);
			st(out->dtype, out_data, r * O + o, requant(acc, wide, qm[o], sh[o], zy, lo, hi));
		}
	free(wq), free(qm), free(sh);
	return 0;
}

static int q_conv(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0], *w = in[1];
	const int nd = c->node->op == OP_CONV1D ? 1 : 2, has_b = c->node->n_in > 2, wide = x->dtype == DT_INT16;
	int64_t s[2], d[2], pb[2], pe[2];
	if (attr_spatial(c, "stride", nd, 1, s) < 0 || attr_spatial(c, "dilation", nd, 1, d) < 0)
		return -1;
	int pr = attr_padding(c, "padding", nd, pb, pe);
	if (pr < 0)
		return -1;
	const int64_t N = x->shape[0], C = x->shape[1], O = w->shape[0], G = node_attr(c->node, "groups")->i[0];
	const int64_t Cg = C / G, Og = O / G;
	const int64_t H = nd == 2 ? x->shape[2] : 1, W = x->shape[nd + 1];
	const int64_t KH = nd == 2 ? w->shape[2] : 1, KW = w->shape[nd + 1];
	const int64_t OH = nd == 2 ? out->shape[2] : 1, OW = out->shape[nd + 1];
	const int64_t sh_ = nd == 2 ? s[0] : 1, sw = s[nd - 1], dh = nd == 2 ? d[0] : 1, dw = d[nd - 1];
	int64_t pt = 0, pl = 0;
	if (pr == 0) {
		pt = nd == 2 ? pb[0] : 0;
		pl = pb[nd - 1];
	} else if (strcmp(node_attr(c->node, "padding")->s, "same") == 0) {
		int64_t th = (OH - 1) * sh_ + (KH - 1) * dh + 1 - H, tw = (OW - 1) * sw + (KW - 1) * dw + 1 - W;
		pt = th > 0 ? th / 2 : 0;
		pl = tw > 0 ? tw / 2 : 0;
	}
	int32_t *qm = NULL, lo, hi;
	int *shf = NULL;
	int8_t *wq = weights_i8(w);
	if (!wq || channel_mult(x, w, out, O, &qm, &shf) < 0) {
		free(wq), free(qm), free(shf);
		return oom(c);
	}
	nnl_qrange(out->dtype, &lo, &hi);
	const int64_t zx = x->quant->zero_point[0], zy = out->quant->zero_point[0];
	const DType xt = x->dtype;
	const void *xd = in_data[0];
	for (int64_t n = 0; n < N; n++)
		for (int64_t oc = 0; oc < O; oc++) {
			const int64_t grp = oc / Og;
			const int64_t bias = has_b ? dtype_get_i64(in[2]->dtype, in_data[2], oc) : 0;
			for (int64_t oy = 0; oy < OH; oy++)
				for (int64_t ox = 0; ox < OW; ox++) {
					int64_t acc = 0;
					for (int64_t ic = 0; ic < Cg; ic++) {
						const int64_t xbase = (n * C + grp * Cg + ic) * H * W;
						const int8_t *wp = wq + (oc * Cg + ic) * KH * KW;
						for (int64_t ky = 0; ky < KH; ky++) {
							int64_t iy = oy * sh_ - pt + ky * dh;
							if (iy < 0 || iy >= H)
								continue; /* padding: the tap reads zero_point, adding 0 */
							for (int64_t kx = 0; kx < KW; kx++) {
								int64_t ix = ox * sw - pl + kx * dw;
								if (ix < 0 || ix >= W)
									continue;
								acc += (int64_t)wp[ky * KW + kx] * (ld(xt, xd, xbase + iy * W + ix) - zx);
							}
						}
					}
					acc += bias;
					st(out->dtype, out_data, ((n * O + oc) * OH + oy) * OW + ox,
					   requant(acc, wide, qm[oc], shf[oc], zy, lo, hi));
				}
		}
	free(wq), free(qm), free(shf);
	return 0;
}

/* ---- ReLU / ReLU6: clamps in the input's quantization ------------------------------- */

static int q_relu(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	int32_t lo, hi;
	nnl_qrange(x->dtype, &lo, &hi);
	const int64_t zp = x->quant->zero_point[0];
	int32_t a = clampi(zp, lo, hi), b = hi;
	if (c->node->op == OP_RELU6)
		b = clampi(zp + nnl_quantize_value(6.0f, x->quant->scale[0], 0, INT32_MIN / 2, INT32_MAX / 2), lo, hi);
	int64_t n = tensor_numel(x);
	for (int64_t i = 0; i < n; i++) {
		int32_t v = ld(x->dtype, in_data[0], i);
		st(out->dtype, out_data, i, v < a ? a : v > b ? b : v);
	}
	return 0;
}

/* ---- pools and Mean (output quantization = input quantization) ------------------- */

static int q_pool(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	OpKind op = c->node->op;
	const int nd = (op == OP_MAXPOOL1D || op == OP_AVGPOOL1D) ? 1 : 2;
	const int max = op == OP_MAXPOOL1D || op == OP_MAXPOOL2D;
	int64_t k[2], s[2], d[2] = {1, 1}, pb[2], pe[2];
	if (attr_spatial(c, "kernel_size", nd, 1, k) < 0)
		return -1;
	if (node_attr(c->node, "stride")->set) {
		if (attr_spatial(c, "stride", nd, 1, s) < 0)
			return -1;
	} else {
		memcpy(s, k, sizeof s);
	}
	if (max && attr_spatial(c, "dilation", nd, 1, d) < 0)
		return -1;
	if (attr_padding(c, "padding", nd, pb, pe) != 0)
		return -1;
	const int include_pad = max ? 0 : node_attr(c->node, "count_include_pad")->i[0] != 0;
	const int64_t H = nd == 2 ? x->shape[2] : 1, W = x->shape[nd + 1];
	const int64_t OH = nd == 2 ? out->shape[2] : 1, OW = out->shape[nd + 1];
	const int64_t kh = nd == 2 ? k[0] : 1, kw = k[nd - 1], sh = nd == 2 ? s[0] : 1, sw = s[nd - 1];
	const int64_t dh = nd == 2 ? d[0] : 1, dw = d[nd - 1];
	const int64_t pt = nd == 2 ? pb[0] : 0, pl = pb[nd - 1], pbot = nd == 2 ? pe[0] : 0, pr = pe[nd - 1];
	const int64_t planes = x->shape[0] * x->shape[1], zp = x->quant->zero_point[0];
	int32_t lo, hi;
	nnl_qrange(out->dtype, &lo, &hi);
	for (int64_t p = 0; p < planes; p++)
		for (int64_t oy = 0; oy < OH; oy++)
			for (int64_t ox = 0; ox < OW; ox++) {
				int64_t ih0 = oy * sh - pt, iw0 = ox * sw - pl;
				int32_t r;
				if (max) {
					int32_t m = INT32_MIN;
					for (int64_t a = 0; a < kh; a++)
						for (int64_t b = 0; b < kw; b++) {
							int64_t iy = ih0 + a * dh, ix = iw0 + b * dw;
							if (iy < 0 || iy >= H || ix < 0 || ix >= W)
								continue; /* padding counts as -inf */
							int32_t v = ld(x->dtype, in_data[0], (p * H + iy) * W + ix);
							if (v > m)
								m = v;
						}
					r = m;
				} else {
					int64_t ih1 = ih0 + kh, iw1 = iw0 + kw;
					if (ih1 > H + pbot)
						ih1 = H + pbot;
					if (iw1 > W + pr)
						iw1 = W + pr;
					int64_t padded = (ih1 - ih0) * (iw1 - iw0);
					int64_t y0 = ih0 < 0 ? 0 : ih0, x0 = iw0 < 0 ? 0 : iw0;
					int64_t y1 = ih1 > H ? H : ih1, x1 = iw1 > W ? W : iw1;
					int64_t sum = 0, cnt = (y1 - y0) * (x1 - x0);
					for (int64_t iy = y0; iy < y1; iy++)
						for (int64_t ix = x0; ix < x1; ix++)
							sum += ld(x->dtype, in_data[0], (p * H + iy) * W + ix);
					int64_t div = include_pad ? padded : cnt;
					sum += (div - cnt) * zp; /* counted padding taps hold real 0 = zero_point */
					r = div > 0 ? clampi(nnl_round_div(sum, div), lo, hi) : clampi(zp, lo, hi);
				}
				st(out->dtype, out_data, (p * OH + oy) * OW + ox, r);
			}
	return 0;
}

static int64_t ad_start(int64_t i, int64_t n, int64_t len) { return (i / n) * len + ((i % n) * len) / n; }
static int64_t ad_end(int64_t i, int64_t n, int64_t len) { return 1 + ((i + 1) * len - 1) / n; }

static int q_adaptive(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	const int nd = c->node->op == OP_ADAPTIVEAVGPOOL1D ? 1 : 2;
	const int64_t H = nd == 2 ? x->shape[2] : 1, W = x->shape[nd + 1];
	const int64_t OH = nd == 2 ? out->shape[2] : 1, OW = out->shape[nd + 1];
	const int64_t planes = x->shape[0] * x->shape[1];
	int32_t lo, hi;
	nnl_qrange(out->dtype, &lo, &hi);
	for (int64_t p = 0; p < planes; p++)
		for (int64_t oy = 0; oy < OH; oy++)
			for (int64_t ox = 0; ox < OW; ox++) {
				int64_t y0 = ad_start(oy, OH, H), y1 = ad_end(oy, OH, H);
				int64_t x0 = ad_start(ox, OW, W), x1 = ad_end(ox, OW, W);
				int64_t sum = 0;
				for (int64_t iy = y0; iy < y1; iy++)
					for (int64_t ix = x0; ix < x1; ix++)
						sum += ld(x->dtype, in_data[0], (p * H + iy) * W + ix);
				st(out->dtype, out_data, (p * OH + oy) * OW + ox,
				   clampi(nnl_round_div(sum, (y1 - y0) * (x1 - x0)), lo, hi));
			}
	(void)c;
	return 0;
}

static int q_mean(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	const AttrValue *a = node_attr(c->node, "dims");
	int red[NNL_MAX_RANK] = {0};
	for (int i = 0; i < x->rank; i++)
		red[i] = !a->set || a->n == 0;
	for (int i = 0; a->set && i < a->n; i++) {
		int64_t ax;
		if (norm_axis(a->i[i], x->rank, &ax) == 0)
			red[ax] = 1;
	}
	int64_t nout = tensor_numel(out), nin = tensor_numel(x), cnt = nout ? nin / nout : 0;
	int64_t *sum = nnl_calloc((size_t)(nout ? nout : 1), sizeof *sum);
	if (!sum)
		return oom(c);
	int64_t idx[NNL_MAX_RANK] = {0};
	for (int64_t i = 0; i < nin; i++) {
		int64_t o = 0;
		for (int k = 0; k < x->rank; k++)
			if (!red[k])
				o = o * x->shape[k] + idx[k];
		sum[o] += ld(x->dtype, in_data[0], i);
		for (int k = x->rank - 1; k >= 0; k--) {
			if (++idx[k] < x->shape[k])
				break;
			idx[k] = 0;
		}
	}
	int32_t lo, hi;
	nnl_qrange(out->dtype, &lo, &hi);
	for (int64_t o = 0; o < nout; o++)
		st(out->dtype, out_data, o, cnt ? clampi(nnl_round_div(sum[o], cnt), lo, hi) : 0);
	free(sum);
	return 0;
}

/* ---- '+' (TFLite's quantized add) and Concat (requantize to the output) --------- */

static int q_add(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *a = in[0], *b = in[1];
	const int left = a->dtype == DT_INT16 ? 15 : 20;
	const double sa = a->quant->scale[0], sb = b->quant->scale[0], sy = out->quant->scale[0];
	const double twice = 2.0 * (sa > sb ? sa : sb);
	int32_t m1, m2, my, lo, hi;
	int s1, s2, sy_;
	nnl_quantize_multiplier(sa / twice, &m1, &s1);
	nnl_quantize_multiplier(sb / twice, &m2, &s2);
	nnl_quantize_multiplier(twice / ((double)(1 << left) * sy), &my, &sy_);
	nnl_qrange(out->dtype, &lo, &hi);
	const int64_t za = a->quant->zero_point[0], zb = b->quant->zero_point[0], zy = out->quant->zero_point[0];
	int64_t n = tensor_numel(out);
	for (int64_t i = 0; i < n; i++) {
		int32_t va = (int32_t)(ld(a->dtype, in_data[0], i) - za) * (1 << left);
		int32_t vb = (int32_t)(ld(b->dtype, in_data[1], i) - zb) * (1 << left);
		int32_t raw = nnl_mbqm(va, m1, s1) + nnl_mbqm(vb, m2, s2);
		st(out->dtype, out_data, i, clampi((int64_t)nnl_mbqm(raw, my, sy_) + zy, lo, hi));
	}
	(void)c;
	return 0;
}

static int q_concat(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	int64_t dim;
	norm_axis(node_attr(c->node, "dim")->i[0], out->rank, &dim);
	int64_t outer = 1, inner = 1;
	for (int k = 0; k < dim; k++)
		outer *= out->shape[k];
	for (int k = (int)dim + 1; k < out->rank; k++)
		inner *= out->shape[k];
	int32_t lo, hi;
	nnl_qrange(out->dtype, &lo, &hi);
	const int64_t zy = out->quant->zero_point[0], OD = out->shape[dim];
	int64_t off = 0;
	for (int i = 0; i < c->node->n_in; i++) {
		const Tensor *x = in[i];
		const int64_t D = x->shape[dim], zx = x->quant->zero_point[0];
		const int same = x->quant->scale[0] == out->quant->scale[0] && zx == zy;
		int32_t qm = 0;
		int sh = 0;
		if (!same)
			nnl_quantize_multiplier(x->quant->scale[0] / out->quant->scale[0], &qm, &sh);
		for (int64_t o = 0; o < outer; o++)
			for (int64_t j = 0; j < D * inner; j++) {
				int32_t v = ld(x->dtype, in_data[i], o * D * inner + j);
				if (!same)
					v = clampi((int64_t)nnl_mbqm(v - (int32_t)zx, qm, sh) + zy, lo, hi);
				st(out->dtype, out_data, (o * OD + off) * inner + j, v);
			}
		off += D;
	}
	return 0;
}

int quant_eval(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	switch (c->node->op) {
	case OP_LINEAR: return q_linear(c, in, in_data, out, out_data);
	case OP_CONV1D: case OP_CONV2D: return q_conv(c, in, in_data, out, out_data);
	case OP_RELU: case OP_RELU6: return q_relu(c, in, in_data, out, out_data);
	case OP_MAXPOOL1D: case OP_MAXPOOL2D: case OP_AVGPOOL1D: case OP_AVGPOOL2D:
		return q_pool(c, in, in_data, out, out_data);
	case OP_ADAPTIVEAVGPOOL1D: case OP_ADAPTIVEAVGPOOL2D: return q_adaptive(c, in, in_data, out, out_data);
	case OP_MEAN: return q_mean(c, in, in_data, out, out_data);
	case OP_ADD: return q_add(c, in, in_data, out, out_data);
	case OP_CONCAT: return q_concat(c, in, in_data, out, out_data);
	default:
		op_error(c, "%s has no integer kernel", op_info(c->node->op)->name);
		return -1;
	}
}

/* ---- the quant family: Quantize, Dequantize ---------------------------------- */

int infer_quant(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	const Tensor *x = in[0];
	out->rank = x->rank;
	memcpy(out->shape, x->shape, sizeof out->shape);
	if (c->node->op == OP_QUANTIZE) {
		const char *dt = node_attr(c->node, "datatype")->s;
		DType t = dtype_from_name(dt);
		if (t != DT_INT8 && t != DT_INT16) {
			op_error(c, "attribute 'datatype' is \"%s\", expected \"int8\" or \"int16\"", dt);
			return -1;
		}
		if (x->dtype != DT_FLOAT32) {
			op_error(c, "input 0 (x) '%s' is %s, expected float32", x->name, dtype_name(x->dtype));
			return -1;
		}
		out->dtype = t;
		if (!out->quant || out->quant->n != 1) {
			op_error(c, "output '%s' needs per-tensor quantization (scale, zero_point): Quantize maps to it",
			         out->name);
			return -1;
		}
		int32_t lo, hi;
		nnl_qrange(t, &lo, &hi);
		if (out->quant->zero_point[0] < lo || out->quant->zero_point[0] > hi) {
			op_error(c, "output '%s' has zero_point %lld, out of range for %s", out->name,
			         (long long)out->quant->zero_point[0], dt);
			return -1;
		}
		return 0;
	}
	if ((x->dtype != DT_INT8 && x->dtype != DT_INT16 && x->dtype != DT_INT32) || !x->quant || x->quant->n != 1) {
		op_error(c, "input 0 (x) '%s' is %s%s, expected int8, int16 or int32 with per-tensor quantization",
		         x->name, dtype_name(x->dtype), x->quant ? "" : " without quantization");
		return -1;
	}
	out->dtype = DT_FLOAT32;
	return 0;
}

int eval_quant(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	int64_t n = tensor_numel(x);
	if (c->node->op == OP_QUANTIZE) {
		int32_t lo, hi;
		nnl_qrange(out->dtype, &lo, &hi);
		const float *xd = in_data[0];
		for (int64_t i = 0; i < n; i++)
			st(out->dtype, out_data, i,
			   nnl_quantize_value(xd[i], out->quant->scale[0], out->quant->zero_point[0], lo, hi));
		return 0;
	}
	float *y = out_data;
	const double s = x->quant->scale[0];
	const int64_t zp = x->quant->zero_point[0];
	for (int64_t i = 0; i < n; i++)
		y[i] = (float)(s * (double)(dtype_get_i64(x->dtype, in_data[0], i) - zp));
	return 0;
}
