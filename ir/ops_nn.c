/* ops_nn.c — shape rules and reference kernels of the neural-network families:
 * linear, conv, batchnorm, prelu, pool, adaptive_pool, softmax.
 *
 * Semantics are PyTorch 1.13's inference semantics on CPU, float32 in and out.
 * Where PyTorch's CPU kernel has a defined order of float operations (pooling,
 * batch norm) the kernels here follow it so results agree bit for bit; where
 * it calls BLAS or vectorised exp (linear, conv, softmax) results agree to
 * rounding.
 *
 * Every size that reaches the arithmetic comes from an untrusted model file:
 * window arithmetic is overflow-checked in infer, and eval relies on the
 * bounds infer established (every intermediate index lies within the padded
 * input, whose size fits in int64).
 */
#include "ir.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

/* Report "input i (name) 'tensor' has shape [..], expected <fmt>". */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int bad_input(const OpCtx *c, const Tensor *t, int i, const char *fmt, ...)
{
	char what[32], shp[256], exp[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(exp, sizeof exp, fmt, ap);
	va_end(ap);
	op_error(c, "input %d (%s) '%s' has shape %s, expected %s", i,
	         op_input_name(c->node->op, i, what, sizeof what), t->name,
	         shape_str(t->rank, t->shape, shp, sizeof shp), exp);
	return -1;
}

/* PyTorch's pooling ops reject empty non-batch axes. */
static int check_nonempty(const OpCtx *c, const Tensor *x, const char *layout)
{
	for (int i = 1; i < x->rank; i++)
		if (x->shape[i] < 1)
			return bad_input(c, x, 0, "%s with non-zero C and spatial sizes", layout);
	return 0;
}

static void copy_shape(Tensor *out, const Tensor *x)
{
	out->rank = x->rank;
	memcpy(out->shape, x->shape, sizeof out->shape);
}

/* Floor and ceiling of a / b for b > 0 and any a (no overflow). */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a > 0) ? q + 1 : q;
}

static int add_nonneg(int64_t a, int64_t b, int64_t *out)
{
	if (a < 0 || b < 0 || a > INT64_MAX - b)
		return -1;
	*out = a + b;
	return 0;
}

static int64_t prod(const int64_t *s, int from, int to)
{
	int64_t n = 1;
	for (int i = from; i < to; i++)
		n *= s[i]; /* only on shapes whose numel infer bounded */
	return n;
}

/* Geometry of a window op (conv, pool) with 1 or 2 spatial axes, always held as
 * 2 axes: a 1-D op gets a leading axis of size 1 with kernel 1. */
typedef struct Win {
	int nd;
	int64_t in[2], k[2], s[2], d[2], pb[2], pe[2], out[2];
} Win;

static const char *axis_name(int nd, int i) { return nd == 1 ? "L" : (i == 0 ? "H" : "W"); }

/* d·(k-1)+1, the span of a dilated kernel. */
static int kernel_extent(const OpCtx *c, int nd, int i, int64_t k, int64_t d, int64_t *eff)
{
	int64_t t;
	if (nnl_mul_i64(d, k - 1, &t) < 0 || t == INT64_MAX) {
		op_error(c, "kernel along %s spans dilation·(kernel - 1) + 1 = %lld·%lld + 1 elements: too large",
		         axis_name(nd, i), (long long)d, (long long)(k - 1));
		return -1;
	}
	*eff = t + 1;
	return 0;
}

/* Output size along axis i, PyTorch's rule; ceil_mode as in pooling. */
static int window_out(const OpCtx *c, Win *w, int i, int ceil_mode)
{
	int64_t eff, padded, pbi;
	if (kernel_extent(c, w->nd, i, w->k[i], w->d[i], &eff) < 0)
		return -1;
	if (add_nonneg(w->in[i], w->pb[i], &pbi) < 0 || add_nonneg(pbi, w->pe[i], &padded) < 0) {
		op_error(c, "padded input size along %s (%lld + %lld + %lld) is too large", axis_name(w->nd, i),
		         (long long)w->in[i], (long long)w->pb[i], (long long)w->pe[i]);
		return -1;
	}
	int64_t num = padded - eff, o;
	if (ceil_mode) {
		o = ceil_div(num, w->s[i]) + 1;
		/* The last window must start inside the input or the begin padding. */
		if (o - 1 >= ceil_div(pbi, w->s[i]))
			o--;
	} else {
		o = floor_div(num, w->s[i]) + 1;
	}
	if (o < 1) {
		op_error(c,
		         "output size along %s would be %lld: input %lld padded by %lld + %lld is smaller than the "
		         "kernel span %lld (kernel %lld, dilation %lld, stride %lld); expected an output size >= 1",
		         axis_name(w->nd, i), (long long)o, (long long)w->in[i], (long long)w->pb[i],
		         (long long)w->pe[i], (long long)eff, (long long)w->k[i], (long long)w->d[i],
		         (long long)w->s[i]);
		return -1;
	}
	w->out[i] = o;
	return 0;
}

/* Lift the nd-axis arrays a[0..nd) to the 2-axis layout of Win (fill f). */
static void lift(int nd, const int64_t *a, int64_t *dst, int64_t f)
{
	if (nd == 1) {
		dst[0] = f;
		dst[1] = a[0];
	} else {
		dst[0] = a[0];
		dst[1] = a[1];
	}
}

/* Range [lo, hi) of output positions o in [0, n) for which o·s - p + off lies
 * in [0, in). off = tap·dilation, all terms bounded by the padded size. */
static void tap_range(int64_t n, int64_t s, int64_t p, int64_t off, int64_t in, int64_t *lo, int64_t *hi)
{
	int64_t l = ceil_div(p - off, s);
	int64_t h = floor_div(in - 1 + p - off, s) + 1;
	if (l < 0)
		l = 0;
	if (h > n)
		h = n;
	*lo = l;
	*hi = h < l ? l : h;
}

/* ---- linear -------------------------------------------------------------- */

int infer_linear(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	const Tensor *x = in[0], *w = in[1];
	if (x->rank < 1)
		return bad_input(c, x, 0, "rank >= 1 (..., in_features)");
	int64_t inf = x->shape[x->rank - 1];
	if (w->rank != 2 || w->shape[1] != inf)
		return bad_input(c, w, 1, "[out_features, in_features = %lld] (in_features is the last axis of x)",
		                 (long long)inf);
	int64_t outf = w->shape[0];
	if (c->node->n_in > 2) {
		const Tensor *b = in[2];
		if (b->rank != 1 || b->shape[0] != outf)
			return bad_input(c, b, 2, "[%lld] (out_features)", (long long)outf);
	}
	copy_shape(out, x);
	out->shape[out->rank - 1] = outf;
	return 0;
}

int eval_linear(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0], *wt = in[1];
	const float *xd = in_data[0], *wd = in_data[1];
	const float *bd = c->node->n_in > 2 ? in_data[2] : NULL;
	float *y = out_data;
	int64_t inf = wt->shape[1], outf = wt->shape[0];
	int64_t rows = prod(x->shape, 0, x->rank - 1);
	for (int64_t r = 0; r < rows; r++) {
		const float *xr = xd + r * inf;
		float *yr = y + r * outf;
		for (int64_t o = 0; o < outf; o++) {
			const float *wr = wd + o * inf;
			float acc = 0.0f;
			for (int64_t k = 0; k < inf; k++)
				acc += xr[k] * wr[k];
			yr[o] = bd ? acc + bd[o] : acc;
		}
	}
	return 0;
}

/* ---- conv ---------------------------------------------------------------- */

/* Check a conv node and fill its geometry; reports and returns -1 on error. */
static int conv_geom(const OpCtx *c, const Tensor *const *in, Win *g, int64_t *groups_out)
{
	int nd = c->node->op == OP_CONV1D ? 1 : 2;
	const char *xs = nd == 1 ? "[N, C, L]" : "[N, C, H, W]";
	const Tensor *x = in[0], *w = in[1];
	memset(g, 0, sizeof *g);
	g->nd = nd;
	if (x->rank != nd + 2)
		return bad_input(c, x, 0, "%s (rank %d)", xs, nd + 2);
	int64_t groups = node_attr(c->node, "groups")->i[0];
	if (groups < 1) {
		op_error(c, "attribute 'groups' is %lld, expected at least 1", (long long)groups);
		return -1;
	}
	int64_t C = x->shape[1];
	if (C % groups != 0)
		return bad_input(c, x, 0, "%s with C a multiple of groups = %lld", xs, (long long)groups);
	if (w->rank != nd + 2)
		return bad_input(c, w, 1, "%s (rank %d)", nd == 1 ? "[O, C/groups, K]" : "[O, C/groups, KH, KW]",
		                 nd + 2);
	int64_t O = w->shape[0];
	if (O % groups != 0)
		return bad_input(c, w, 1, "O = %lld output channels to be a multiple of groups = %lld", (long long)O,
		                 (long long)groups);
	if (w->shape[1] != C / groups)
		return bad_input(c, w, 1, "[O, C/groups = %lld, %s] (x has C = %lld, groups = %lld)",
		                 (long long)(C / groups), nd == 1 ? "K" : "KH, KW", (long long)C, (long long)groups);
	for (int i = 0; i < nd; i++)
		if (w->shape[2 + i] < 1)
			return bad_input(c, w, 1, "kernel sizes >= 1");
	if (c->node->n_in > 2) {
		const Tensor *b = in[2];
		if (b->rank != 1 || b->shape[0] != O)
			return bad_input(c, b, 2, "[%lld] (O, output channels)", (long long)O);
	}
	int64_t s[2], d[2], pb[2], pe[2];
	if (attr_spatial(c, "stride", nd, 1, s) < 0 || attr_spatial(c, "dilation", nd, 1, d) < 0)
		return -1;
	int pr = attr_padding(c, "padding", nd, pb, pe);
	if (pr < 0)
		return -1;
	lift(nd, x->shape + 2, g->in, 1);
	lift(nd, w->shape + 2, g->k, 1);
	lift(nd, s, g->s, 1);
	lift(nd, d, g->d, 1);
	if (pr == 1) {
		const char *ps = node_attr(c->node, "padding")->s;
		int same = strcmp(ps, "same") == 0;
		if (!same && strcmp(ps, "valid") != 0) {
			op_error(c, "attribute 'padding' is \"%s\", expected an integer, a list of integers, \"same\" or "
			            "\"valid\"", ps);
			return -1;
		}
		for (int i = 0; i < 2; i++) {
			g->pb[i] = g->pe[i] = 0;
			if (!same)
				continue;
			int64_t eff;
			if (kernel_extent(c, nd, i, g->k[i], g->d[i], &eff) < 0)
				return -1;
			/* (ceil(in/s) - 1)·s <= in - 1 for in >= 1: no overflow. */
			int64_t total = (ceil_div(g->in[i], g->s[i]) - 1) * g->s[i] + eff - g->in[i];
			if (g->in[i] < 1 || total < 0)
				total = 0;
			g->pb[i] = total / 2;
			g->pe[i] = total - total / 2;
		}
	} else {
		lift(nd, pb, g->pb, 0);
		lift(nd, pe, g->pe, 0);
	}
	for (int i = 0; i < 2; i++)
		if (window_out(c, g, i, 0) < 0)
			return -1;
	*groups_out = groups;
	return 0;
}

int infer_conv(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	Win g;
	int64_t groups;
	if (conv_geom(c, (const Tensor *const *)in, &g, &groups) < 0)
		return -1;
	out->rank = g.nd + 2;
	out->shape[0] = in[0]->shape[0];
	out->shape[1] = in[1]->shape[0];
	if (g.nd == 1)
		out->shape[2] = g.out[1];
	else {
		out->shape[2] = g.out[0];
		out->shape[3] = g.out[1];
	}
	return 0;
}

/* Direct convolution: for each (output channel, input channel, tap) add
 * weight × input row into the output plane, over the range of output columns
 * whose input column is inside the input (computed once per tap). Per output
 * element the sum runs over (input channel, ky, kx) in order, bias last. */
int eval_conv(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	Win g;
	int64_t G;
	if (conv_geom(c, in, &g, &G) < 0)
		return -1;
	const float *xd = in_data[0], *wd = in_data[1];
	const float *bd = c->node->n_in > 2 ? in_data[2] : NULL;
	float *yd = out_data;
	const int64_t N = in[0]->shape[0], C = in[0]->shape[1], O = in[1]->shape[0];
	const int64_t Cg = C / G, Og = O / G;
	const int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1];
	const int64_t OH = g.out[0], OW = g.out[1];
	const int64_t sh = g.s[0], sw = g.s[1], dh = g.d[0], dw = g.d[1], pt = g.pb[0], pl = g.pb[1];
	if (N == 0 || O == 0 || OH * OW == 0)
		return 0;
	for (int64_t n = 0; n < N; n++) {
		for (int64_t oc = 0; oc < O; oc++) {
			int64_t grp = oc / Og;
			float *y = yd + (n * O + oc) * OH * OW;
			for (int64_t icg = 0; icg < Cg; icg++) {
				const float *xp = xd + (n * C + grp * Cg + icg) * H * W;
				const float *wp = wd + (oc * Cg + icg) * KH * KW;
				for (int64_t ky = 0; ky < KH; ky++) {
					int64_t oy0, oy1;
					tap_range(OH, sh, pt, ky * dh, H, &oy0, &oy1);
					if (oy0 >= oy1)
						continue;
					for (int64_t kx = 0; kx < KW; kx++) {
						int64_t ox0, ox1;
						tap_range(OW, sw, pl, kx * dw, W, &ox0, &ox1);
						if (ox0 >= ox1)
							continue;
						const float wv = wp[ky * KW + kx];
						const int64_t len = ox1 - ox0;
						const int64_t ix0 = ox0 * sw - pl + kx * dw;
						for (int64_t oy = oy0; oy < oy1; oy++) {
							float *restrict yr = y + oy * OW + ox0;
							const float *restrict xr = xp + (oy * sh - pt + ky * dh) * W + ix0;
							if (sw == 1) {
								for (int64_t j = 0; j < len; j++)
									yr[j] += wv * xr[j];
							} else {
								for (int64_t j = 0; j < len; j++)
									yr[j] += wv * xr[j * sw];
							}
						}
					}
				}
			}
			if (bd) {
				const float bv = bd[oc];
				for (int64_t j = 0; j < OH * OW; j++)
					y[j] += bv;
			}
		}
	}
	return 0;
}

/* ---- batchnorm ----------------------------------------------------------- */

int infer_batchnorm(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	const Tensor *x = in[0];
	if (c->node->op == OP_BATCHNORM1D) {
		if (x->rank != 2 && x->rank != 3)
			return bad_input(c, x, 0, "[N, C] or [N, C, L]");
	} else if (x->rank != 4) {
		return bad_input(c, x, 0, "[N, C, H, W]");
	}
	int64_t C = x->shape[1];
	for (int i = 1; i < 5; i++)
		if (in[i]->rank != 1 || in[i]->shape[0] != C)
			return bad_input(c, in[i], i, "[%lld] (C, axis 1 of x)", (long long)C);
	double eps = node_attr(c->node, "eps")->f;
	if (!(eps >= 0 && isfinite(eps))) {
		op_error(c, "attribute 'eps' is %g, expected a finite number >= 0", eps);
		return -1;
	}
	copy_shape(out, x);
	return 0;
}

/* As PyTorch's CPU kernel: alpha = invstd · weight with invstd = 1 / sqrt(var
 * + eps), beta = bias - mean·alpha, y = x·alpha + beta, all in float. Torch's
 * kernel is compiled with FMA contraction (AVX2 builds), so beta and y are
 * fused multiply-adds here too: bit-identical to torch on such CPUs. */
int eval_batchnorm(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	const float *xd = in_data[0], *wd = in_data[1], *bd = in_data[2], *md = in_data[3], *vd = in_data[4];
	float *y = out_data;
	const float eps = (float)node_attr(c->node, "eps")->f;
	int64_t N = x->shape[0], C = x->shape[1], inner = prod(x->shape, 2, x->rank);
	for (int64_t ch = 0; ch < C; ch++) {
		float invstd = 1.0f / sqrtf(vd[ch] + eps);
		float alpha = invstd * wd[ch];
		float beta = fmaf(-md[ch], alpha, bd[ch]);
		for (int64_t n = 0; n < N; n++) {
			const float *xp = xd + (n * C + ch) * inner;
			float *yp = y + (n * C + ch) * inner;
			for (int64_t j = 0; j < inner; j++)
				yp[j] = fmaf(xp[j], alpha, beta);
		}
	}
	return 0;
}

/* ---- prelu --------------------------------------------------------------- */

int infer_prelu(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	const Tensor *x = in[0], *w = in[1];
	int64_t wn = tensor_numel(w);
	if (w->rank > 1)
		return bad_input(c, w, 1, "[1] or [C] (rank 0 or 1)");
	if (wn != 1) {
		if (x->rank < 2)
			return bad_input(c, w, 1, "1 element: x '%s' has rank %d, so it has no channel axis", x->name,
			                 x->rank);
		if (wn != x->shape[1])
			return bad_input(c, w, 1, "[1] or [%lld] (C, axis 1 of x)", (long long)x->shape[1]);
	}
	copy_shape(out, x);
	return 0;
}

/* PyTorch: x > 0 ? x : w·x (so -0.0 and NaN take the weight branch). */
int eval_prelu(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	const float *xd = in_data[0], *wd = in_data[1];
	float *y = out_data;
	int per_channel = tensor_numel(in[1]) != 1;
	int64_t outer = x->rank >= 2 ? x->shape[0] : 1;
	int64_t C = x->rank >= 2 ? x->shape[1] : 1;
	int64_t inner = x->rank >= 2 ? prod(x->shape, 2, x->rank) : tensor_numel(x);
	for (int64_t n = 0; n < outer; n++)
		for (int64_t ch = 0; ch < C; ch++) {
			const float wv = wd[per_channel ? ch : 0];
			const float *xp = xd + (n * C + ch) * inner;
			float *yp = y + (n * C + ch) * inner;
			for (int64_t j = 0; j < inner; j++)
				yp[j] = xp[j] > 0 ? xp[j] : wv * xp[j];
		}
	return 0;
}

/* ---- pool ---------------------------------------------------------------- */

static int is_maxpool(OpKind op) { return op == OP_MAXPOOL1D || op == OP_MAXPOOL2D; }

static int pool_geom(const OpCtx *c, const Tensor *x, Win *g, int *ceil_mode)
{
	OpKind op = c->node->op;
	int nd = (op == OP_MAXPOOL1D || op == OP_AVGPOOL1D) ? 1 : 2;
	memset(g, 0, sizeof *g);
	g->nd = nd;
	if (x->rank != nd + 2)
		return bad_input(c, x, 0, "%s (rank %d)", nd == 1 ? "[N, C, L]" : "[N, C, H, W]", nd + 2);
	if (check_nonempty(c, x, nd == 1 ? "[N, C, L]" : "[N, C, H, W]") < 0)
		return -1;
	int64_t k[2], s[2], d[2] = {1, 1}, pb[2], pe[2];
	if (attr_spatial(c, "kernel_size", nd, 1, k) < 0)
		return -1;
	if (node_attr(c->node, "stride")->set) {
		if (attr_spatial(c, "stride", nd, 1, s) < 0)
			return -1;
	} else {
		memcpy(s, k, sizeof s);
	}
	if (is_maxpool(op) && attr_spatial(c, "dilation", nd, 1, d) < 0)
		return -1;
	int pr = attr_padding(c, "padding", nd, pb, pe);
	if (pr < 0)
		return -1;
	if (pr == 1) {
		op_error(c, "attribute 'padding' is \"%s\", expected an integer or a list of integers",
		         node_attr(c->node, "padding")->s);
		return -1;
	}
	for (int i = 0; i < nd; i++)
		if (pb[i] > k[i] / 2 || pe[i] > k[i] / 2) {
			op_error(c, "attribute 'padding' is %lld along %s, expected at most kernel_size / 2 = %lld "
			            "(PyTorch requires padding <= half the kernel size on each side)",
			         (long long)(pb[i] > k[i] / 2 ? pb[i] : pe[i]), axis_name(nd, i), (long long)(k[i] / 2));
			return -1;
		}
	*ceil_mode = node_attr(c->node, "ceil_mode")->i[0] != 0;
	lift(nd, x->shape + 2, g->in, 1);
	lift(nd, k, g->k, 1);
	lift(nd, s, g->s, 1);
	lift(nd, d, g->d, 1);
	lift(nd, pb, g->pb, 0);
	lift(nd, pe, g->pe, 0);
	for (int i = 0; i < 2; i++)
		if (window_out(c, g, i, *ceil_mode) < 0)
			return -1;
	return 0;
}

static void set_spatial_out(Tensor *out, const Tensor *x, const Win *g)
{
	copy_shape(out, x);
	if (g->nd == 1)
		out->shape[2] = g->out[1];
	else {
		out->shape[2] = g->out[0];
		out->shape[3] = g->out[1];
	}
}

int infer_pool(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	Win g;
	int cm;
	if (pool_geom(c, in[0], &g, &cm) < 0)
		return -1;
	set_spatial_out(out, in[0], &g);
	return 0;
}

/* First tap index >= 0 of a dilated window starting at i0 (< 0 allowed). */
static int64_t first_tap(int64_t i0, int64_t d)
{
	return i0 < 0 ? i0 + ceil_div(-i0, d) * d : i0;
}

/* Both kernels follow PyTorch 1.13's cpu_max_pool / cpu_avg_pool exactly:
 * max starts at -inf and keeps the first NaN; avg sums in float, row by row,
 * and divides once by the window clipped to the padded input
 * (count_include_pad) or to the input. */
int eval_pool(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	Win g;
	int cm;
	if (pool_geom(c, in[0], &g, &cm) < 0)
		return -1;
	const float *xd = in_data[0];
	float *yd = out_data;
	const int64_t planes = in[0]->shape[0] * in[0]->shape[1];
	const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
	const int64_t kh = g.k[0], kw = g.k[1], sh = g.s[0], sw = g.s[1], dh = g.d[0], dw = g.d[1];
	const int64_t pt = g.pb[0], pl = g.pb[1], pbot = g.pe[0], pr = g.pe[1];
	const int max = is_maxpool(c->node->op);
	const int include_pad = max ? 0 : node_attr(c->node, "count_include_pad")->i[0] != 0;
	for (int64_t p = 0; p < planes; p++) {
		const float *x = xd + p * H * W;
		float *y = yd + p * OH * OW;
		for (int64_t oy = 0; oy < OH; oy++) {
			for (int64_t ox = 0; ox < OW; ox++) {
				int64_t ih0 = oy * sh - pt, iw0 = ox * sw - pl;
				if (max) {
					/* (k-1)·d + 1 <= padded size: checked in infer. */
					int64_t ih1 = ih0 + (kh - 1) * dh + 1, iw1 = iw0 + (kw - 1) * dw + 1;
					if (ih1 > H)
						ih1 = H;
					if (iw1 > W)
						iw1 = W;
					ih0 = first_tap(ih0, dh);
					iw0 = first_tap(iw0, dw);
					float m = -INFINITY;
					for (int64_t ih = ih0; ih < ih1; ih += dh)
						for (int64_t iw = iw0; iw < iw1; iw += dw) {
							float v = x[ih * W + iw];
							if (v > m || isnan(v))
								m = v;
						}
					y[oy * OW + ox] = m;
				} else {
					int64_t ih1 = ih0 + kh, iw1 = iw0 + kw;
					if (ih1 > H + pbot)
						ih1 = H + pbot;
					if (iw1 > W + pr)
						iw1 = W + pr;
					/* Each factor is at most the padded size: the product can
					 * pass 2^63 for absurd paddings, so form it in double
					 * (exact below 2^53, where torch's int64 is used). */
					double pool_size = (double)(ih1 - ih0) * (double)(iw1 - iw0);
					if (ih0 < 0)
						ih0 = 0;
					if (iw0 < 0)
						iw0 = 0;
					if (ih1 > H)
						ih1 = H;
					if (iw1 > W)
						iw1 = W;
					if (ih0 >= ih1 || iw0 >= iw1) {
						y[oy * OW + ox] = 0.0f;
						continue;
					}
					double div = include_pad ? pool_size : (double)((ih1 - ih0) * (iw1 - iw0));
					float sum = 0.0f;
					for (int64_t ih = ih0; ih < ih1; ih++)
						for (int64_t iw = iw0; iw < iw1; iw++)
							sum += x[ih * W + iw];
					y[oy * OW + ox] = sum / (float)div;
				}
			}
		}
	}
	return 0;
}

/* ---- adaptive_pool -------------------------------------------------------- */

static int adaptive_out(const OpCtx *c, const Tensor *x, int64_t *o2)
{
	int nd = c->node->op == OP_ADAPTIVEAVGPOOL1D ? 1 : 2;
	if (x->rank != nd + 2)
		return bad_input(c, x, 0, "%s (rank %d)", nd == 1 ? "[N, C, L]" : "[N, C, H, W]", nd + 2);
	if (check_nonempty(c, x, nd == 1 ? "[N, C, L]" : "[N, C, H, W]") < 0)
		return -1;
	int64_t o[2], t;
	if (attr_spatial(c, "output_size", nd, 1, o) < 0)
		return -1;
	for (int i = 0; i < nd; i++)
		if (nnl_mul_i64(o[i], x->shape[2 + i], &t) < 0) { /* window bounds compute out·in */
			op_error(c, "attribute 'output_size' is %lld along %s: too large", (long long)o[i],
			         axis_name(nd, i));
			return -1;
		}
	lift(nd, o, o2, 1);
	return 0;
}

int infer_adaptive_pool(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	Win g;
	memset(&g, 0, sizeof g);
	g.nd = c->node->op == OP_ADAPTIVEAVGPOOL1D ? 1 : 2;
	if (adaptive_out(c, in[0], g.out) < 0)
		return -1;
	set_spatial_out(out, in[0], &g);
	return 0;
}

/* PyTorch's window bounds, written to avoid overflow: [start, end) of output
 * i of n over an input of size len. */
static int64_t ad_start(int64_t i, int64_t n, int64_t len) { return (i / n) * len + ((i % n) * len) / n; }
static int64_t ad_end(int64_t i, int64_t n, int64_t len) { return 1 + ((i + 1) * len - 1) / n; }

/* Output (1, 1) is computed by PyTorch as a mean over the plane (a reduction,
 * rounded once); here the sum is in double and divided once. Otherwise as
 * cpu_adaptive_avg_pool: float sum over the window, then / kh / kw. */
int eval_adaptive_pool(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out,
                       void *out_data)
{
	const Tensor *x = in[0];
	int64_t o[2], is[2];
	if (adaptive_out(c, x, o) < 0)
		return -1;
	lift(x->rank - 2, x->shape + 2, is, 1);
	const float *xd = in_data[0];
	float *yd = out_data;
	const int64_t planes = x->shape[0] * x->shape[1];
	const int64_t H = is[0], W = is[1], OH = o[0], OW = o[1];
	for (int64_t p = 0; p < planes; p++) {
		const float *xp = xd + p * H * W;
		float *y = yd + p * OH * OW;
		if (OH == 1 && OW == 1) {
			double s = 0;
			for (int64_t j = 0; j < H * W; j++)
				s += xp[j];
			y[0] = (float)(s / (double)(H * W));
			continue;
		}
		for (int64_t oy = 0; oy < OH; oy++) {
			int64_t ih0 = ad_start(oy, OH, H), ih1 = ad_end(oy, OH, H);
			for (int64_t ox = 0; ox < OW; ox++) {
				int64_t iw0 = ad_start(ox, OW, W), iw1 = ad_end(ox, OW, W);
				float sum = 0.0f;
				for (int64_t ih = ih0; ih < ih1; ih++)
					for (int64_t iw = iw0; iw < iw1; iw++)
						sum += xp[ih * W + iw];
				y[oy * OW + ox] = sum / (float)(ih1 - ih0) / (float)(iw1 - iw0);
			}
		}
	}
	return 0;
}

/* ---- softmax ------------------------------------------------------------- */

static int softmax_dim(const OpCtx *c, const Tensor *x, int64_t *dim)
{
	int64_t d = node_attr(c->node, "dim")->i[0];
	/* A rank-0 tensor behaves as rank 1 (PyTorch wraps dims of scalars so). */
	if (norm_axis(d, x->rank > 0 ? x->rank : 1, dim) < 0) {
		char shp[256];
		op_error(c, "attribute 'dim' is %lld but input 0 (x) '%s' has shape %s, expected -%d..%d", (long long)d,
		         x->name, shape_str(x->rank, x->shape, shp, sizeof shp), x->rank > 0 ? x->rank : 1,
		         x->rank > 0 ? x->rank - 1 : 0);
		return -1;
	}
	return 0;
}

int infer_softmax(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	int64_t dim;
	if (softmax_dim(c, in[0], &dim) < 0)
		return -1;
	copy_shape(out, in[0]);
	return 0;
}

int eval_softmax(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	int64_t dim;
	if (softmax_dim(c, x, &dim) < 0)
		return -1;
	const int is_log = c->node->op == OP_LOGSOFTMAX;
	const float *xd = in_data[0];
	float *yd = out_data;
	int64_t n = x->rank > 0 ? x->shape[dim] : 1;
	int64_t outer = x->rank > 0 ? prod(x->shape, 0, (int)dim) : 1;
	int64_t inner = x->rank > 0 ? prod(x->shape, (int)dim + 1, x->rank) : 1;
	if (n == 0)
		return 0;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			const float *xp = xd + o * n * inner + i;
			float *yp = yd + o * n * inner + i;
			float m = -INFINITY;
			for (int64_t k = 0; k < n; k++) {
				float v = xp[k * inner];
				if (v > m || isnan(v))
					m = v;
			}
			double s = 0;
			for (int64_t k = 0; k < n; k++) {
				float e = expf(xp[k * inner] - m);
				if (!is_log)
					yp[k * inner] = e;
				s += e;
			}
			if (is_log) {
				float ls = (float)log(s);
				for (int64_t k = 0; k < n; k++)
					yp[k * inner] = (xp[k * inner] - m) - ls;
			} else {
				for (int64_t k = 0; k < n; k++)
					yp[k * inner] = (float)(yp[k * inner] / s);
			}
		}
	return 0;
}
