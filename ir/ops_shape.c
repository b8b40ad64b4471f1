/* ops_shape.c — shape rules and reference kernels of the data-movement
 * families (flatten, reshape, permute/transpose, concat, pad) and of the
 * reductions (Mean, Sum).
 *
 * requires: the driver (shape.c / eval.c) has checked arity and input
 *           datatypes; data-movement ops see any datatype of 8 bits or more
 *           and move whole elements of dtype_bits/8 bytes.
 * provides: PyTorch 1.13 semantics; every attribute value is checked in the
 *           shape rule (hostile values give messages, never a crash), so the
 *           kernels trust them.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static void copy_shape(Tensor *out, const Tensor *in)
{
	out->rank = in->rank;
	memcpy(out->shape, in->shape, sizeof out->shape);
}

/* Copy one element of size esz (1, 2, 4 or 8 bytes). */
static inline void copy_elem(uint8_t *dst, const uint8_t *src, int esz)
{
	switch (esz) {
	case 1: *dst = *src; break;
	case 2: memcpy(dst, src, 2); break;
	case 4: memcpy(dst, src, 4); break;
	case 8: memcpy(dst, src, 8); break;
	default: memcpy(dst, src, (size_t)esz); break;
	}
}

/* ---- flatten / reshape (views: the bytes are unchanged) ------------------ */

int infer_flatten(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	const Tensor *x = in[0];
	int64_t s0 = node_attr(c->node, "start_dim")->i[0], e0 = node_attr(c->node, "end_dim")->i[0];
	int rank = x->rank == 0 ? 1 : x->rank; /* torch treats a scalar as one axis here */
	int64_t s, e;
	if (norm_axis(s0, rank, &s) < 0) {
		op_error(c, "attribute 'start_dim' is %lld, expected an axis of input '%s' of rank %d (-%d..%d)",
		         (long long)s0, x->name, x->rank, rank, rank - 1);
		return -1;
	}
	if (norm_axis(e0, rank, &e) < 0) {
		op_error(c, "attribute 'end_dim' is %lld, expected an axis of input '%s' of rank %d (-%d..%d)",
		         (long long)e0, x->name, x->rank, rank, rank - 1);
		return -1;
	}
	if (s > e) {
		op_error(c, "attribute 'start_dim' (%lld, axis %lld) comes after 'end_dim' (%lld, axis %lld)",
		         (long long)s0, (long long)s, (long long)e0, (long long)e);
		return -1;
	}
	if (x->rank == 0) {
		out->rank = 1;
		out->shape[0] = 1;
		return 0;
	}
	int r = 0;
	for (int i = 0; i < s; i++)
		out->shape[r++] = x->shape[i];
	int64_t m = 1;
	for (int64_t i = s; i <= e; i++)
		if (nnl_mul_i64(m, x->shape[i], &m) < 0) {
			op_error(c, "merged axis of input '%s' overflows", x->name);
			return -1;
		}
	out->shape[r++] = m;
	for (int i = (int)e + 1; i < x->rank; i++)
		out->shape[r++] = x->shape[i];
	out->rank = r;
	return 0;
}

static int eval_view(const Tensor *const *in, void *const *in_data, void *out_data)
{
	int64_t nb = dtype_bytes(in[0]->dtype, tensor_numel(in[0]));
	if (nb > 0)
		memcpy(out_data, in_data[0], (size_t)nb);
	return 0;
}

int eval_flatten(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	return eval_view(in, in_data, out_data);
}

int infer_reshape(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	char s1[256], s2[256];
	const Tensor *x = in[0];
	const AttrValue *a = node_attr(c->node, "shape");
	if (a->n < 0 || a->n > NNL_MAX_RANK) {
		op_error(c, "attribute 'shape' has %d values, expected at most %d", a->n, NNL_MAX_RANK);
		return -1;
	}
	int infer_at = -1;
	int64_t known = 1;
	for (int i = 0; i < a->n; i++) {
		int64_t v = a->i[i];
		if (v == -1) {
			if (infer_at >= 0) {
				op_error(c, "attribute 'shape' has -1 at positions %d and %d, expected at most one", infer_at,
				         i);
				return -1;
			}
			infer_at = i;
		} else if (v < 1) {
			op_error(c, "attribute 'shape' has %lld at position %d, expected a size >= 1 or -1", (long long)v,
			         i);
			return -1;
		} else if (nnl_mul_i64(known, v, &known) < 0 || known > NNL_MAX_ELEMENTS) {
			op_error(c, "attribute 'shape' %s has more than 2^40 elements",
			         shape_str(a->n, a->i, s1, sizeof s1));
			return -1;
		}
	}
	int64_t ne = tensor_numel(x);
	out->rank = a->n;
	memcpy(out->shape, a->i, (size_t)a->n * sizeof(int64_t));
	if (infer_at >= 0) {
		if (ne % known != 0) {
			op_error(c, "cannot reshape input '%s' of shape %s (%lld elements) to %s: %lld is not a multiple of %lld",
			         x->name, shape_str(x->rank, x->shape, s1, sizeof s1), (long long)ne,
			         shape_str(a->n, a->i, s2, sizeof s2), (long long)ne, (long long)known);
			return -1;
		}
		out->shape[infer_at] = ne / known;
	} else if (known != ne) {
		op_error(c, "cannot reshape input '%s' of shape %s (%lld elements) to %s (%lld elements)", x->name,
		         shape_str(x->rank, x->shape, s1, sizeof s1), (long long)ne, shape_str(a->n, a->i, s2, sizeof s2),
		         (long long)known);
		return -1;
	}
	return 0;
}

int eval_reshape(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	return eval_view(in, in_data, out_data);
}

/* ---- permute / transpose -------------------------------------------------- */

/* perm[i]: the input axis that becomes output axis i. */
static int get_perm(const OpCtx *c, const Tensor *x, int *perm)
{
	int r = x->rank;
	if (c->node->op == OP_TRANSPOSE) {
		int64_t d0 = node_attr(c->node, "dim0")->i[0], d1 = node_attr(c->node, "dim1")->i[0], a0, a1;
		/* torch.transpose accepts dims 0/-1 on a scalar. */
		int rr = r == 0 ? 1 : r;
		if (norm_axis(d0, rr, &a0) < 0 || norm_axis(d1, rr, &a1) < 0) {
			op_error(c, "attributes 'dim0' = %lld and 'dim1' = %lld, expected axes of input '%s' of rank %d "
			         "(-%d..%d)", (long long)d0, (long long)d1, x->name, r, rr, rr - 1);
			return -1;
		}
		for (int i = 0; i < r; i++)
			perm[i] = i;
		if (r > 0) {
			perm[a0] = (int)a1;
			perm[a1] = (int)a0;
		}
		return 0;
	}
	const AttrValue *a = node_attr(c->node, "dims");
	if (a->n != r) {
		op_error(c, "attribute 'dims' has %d values, expected %d (the rank of input '%s')", a->n, r, x->name);
		return -1;
	}
	int seen[NNL_MAX_RANK] = {0};
	for (int i = 0; i < r; i++) {
		int64_t ax;
		if (norm_axis(a->i[i], r, &ax) < 0) {
			op_error(c, "attribute 'dims' has %lld at position %d, expected an axis of input '%s' of rank %d "
			         "(-%d..%d)", (long long)a->i[i], i, x->name, r, r, r - 1);
			return -1;
		}
		if (seen[ax]) {
			op_error(c, "attribute 'dims' names axis %lld twice, expected a permutation of 0..%d",
			         (long long)ax, r - 1);
			return -1;
		}
		seen[ax] = 1;
		perm[i] = (int)ax;
	}
	return 0;
}

int infer_permute(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	int perm[NNL_MAX_RANK];
	if (get_perm(c, in[0], perm) < 0)
		return -1;
	out->rank = in[0]->rank;
	for (int i = 0; i < out->rank; i++)
		out->shape[i] = in[0]->shape[perm[i]];
	return 0;
}

int eval_permute(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	int perm[NNL_MAX_RANK];
	if (get_perm(c, x, perm) < 0)
		return -1;
	int r = x->rank, esz = dtype_bits(x->dtype) / 8;
	int64_t n = tensor_numel(out);
	if (r == 0) {
		memcpy(out_data, in_data[0], (size_t)esz);
		return 0;
	}
	int64_t ist[NNL_MAX_RANK], st[NNL_MAX_RANK], idx[NNL_MAX_RANK] = {0};
	int64_t s = 1;
	for (int i = r - 1; i >= 0; i--) {
		ist[i] = s;
		s *= x->shape[i];
	}
	for (int i = 0; i < r; i++)
		st[i] = ist[perm[i]]; /* input stride of output axis i */
	const uint8_t *src = in_data[0];
	uint8_t *dst = out_data;
	int64_t inner = out->shape[r - 1], is = st[r - 1], off = 0;
	for (int64_t o = 0; o < n; o += inner) {
		for (int64_t k = 0; k < inner; k++)
			copy_elem(dst + (o + k) * esz, src + (off + k * is) * esz, esz);
		for (int d = r - 2; d >= 0; d--) {
			idx[d]++;
			off += st[d];
			if (idx[d] < out->shape[d])
				break;
			off -= st[d] * out->shape[d];
			idx[d] = 0;
		}
	}
	return 0;
}

/* ---- concat --------------------------------------------------------------- */

int infer_concat(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	char s1[256], s2[256];
	const Tensor *x0 = in[0];
	int n = c->node->n_in;
	int64_t d0 = node_attr(c->node, "dim")->i[0], dim;
	if (x0->rank == 0) {
		op_error(c, "input 0 (x) '%s' is a scalar (rank 0), expected at least 1 axis", x0->name);
		return -1;
	}
	if (norm_axis(d0, x0->rank, &dim) < 0) {
		op_error(c, "attribute 'dim' is %lld, expected an axis of input '%s' of rank %d (-%d..%d)", (long long)d0,
		         x0->name, x0->rank, x0->rank, x0->rank - 1);
		return -1;
	}
	copy_shape(out, x0);
	for (int i = 1; i < n; i++) {
		const Tensor *x = in[i];
		if (x->dtype != x0->dtype) {
			op_error(c, "input %d (x) '%s' is %s but input 0 '%s' is %s; inputs must share one datatype", i,
			         x->name, dtype_name(x->dtype), x0->name, dtype_name(x0->dtype));
			return -1;
		}
		int ok = x->rank == x0->rank;
		for (int k = 0; ok && k < x0->rank; k++)
			if (k != dim && x->shape[k] != x0->shape[k])
				ok = 0;
		if (!ok) {
			op_error(c, "input %d (x) '%s' has shape %s but input 0 '%s' has %s; expected equal shapes except "
			         "along axis %lld", i, x->name, shape_str(x->rank, x->shape, s1, sizeof s1), x0->name,
			         shape_str(x0->rank, x0->shape, s2, sizeof s2), (long long)dim);
			return -1;
		}
		out->shape[dim] += x->shape[dim]; /* each <= 2^40, at most 64 inputs: no overflow */
	}
	return 0;
}

int eval_concat(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	int64_t dim;
	norm_axis(node_attr(c->node, "dim")->i[0], out->rank, &dim);
	int64_t esz = dtype_bits(out->dtype) / 8;
	int64_t outer = 1, inner = esz; /* inner: bytes per unit along dim */
	for (int i = 0; i < dim; i++)
		outer *= out->shape[i];
	for (int i = (int)dim + 1; i < out->rank; i++)
		inner *= out->shape[i];
	int64_t orow = out->shape[dim] * inner, at = 0;
	uint8_t *dst = out_data;
	for (int i = 0; i < c->node->n_in; i++) {
		int64_t chunk = in[i]->shape[dim] * inner;
		const uint8_t *src = in_data[i];
		for (int64_t o = 0; o < outer; o++)
			memcpy(dst + o * orow + at, src + o * chunk, (size_t)chunk);
		at += chunk;
	}
	return 0;
}

/* ---- pad ------------------------------------------------------------------ */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_REPLICATE };

/* begin/end per axis (0 for unpadded axes) and the mode; -1 after a message. */
static int get_pads(const OpCtx *c, const Tensor *x, int64_t *begin, int64_t *end, int *mode)
{
	const AttrValue *p = node_attr(c->node, "pads"), *m = node_attr(c->node, "mode");
	int r = x->rank;
	if (strncmp(m->s, "constant", sizeof m->s) == 0)
		*mode = PAD_CONSTANT;
	else if (strncmp(m->s, "reflect", sizeof m->s) == 0)
		*mode = PAD_REFLECT;
	else if (strncmp(m->s, "replicate", sizeof m->s) == 0)
		*mode = PAD_REPLICATE;
	else {
		op_error(c, "attribute 'mode' is \"%.*s\", expected \"constant\", \"reflect\" or \"replicate\"",
		         (int)sizeof m->s, m->s);
		return -1;
	}
	if (p->n < 0 || p->n % 2 != 0 || p->n > 2 * r) {
		op_error(c, "attribute 'pads' has %d values, expected an even number up to %d (2 × the rank of input '%s')",
		         p->n, 2 * r, x->name);
		return -1;
	}
	for (int i = 0; i < r; i++)
		begin[i] = end[i] = 0;
	for (int k = 0; k < p->n / 2; k++) {
		int ax = r - 1 - k;
		int64_t b = p->i[2 * k], e = p->i[2 * k + 1], d = x->shape[ax];
		if (b > NNL_MAX_ELEMENTS || b < -NNL_MAX_ELEMENTS || e > NNL_MAX_ELEMENTS || e < -NNL_MAX_ELEMENTS ||
		    d + b + e < 1) {
			op_error(c, "attribute 'pads' gives axis %d of input '%s' (size %lld) padding %lld and %lld: the "
			         "output size would be %s, expected at least 1", ax, x->name, (long long)d, (long long)b,
			         (long long)e, (b > NNL_MAX_ELEMENTS || b < -NNL_MAX_ELEMENTS || e > NNL_MAX_ELEMENTS ||
			                       e < -NNL_MAX_ELEMENTS) ? "out of range" : "less than 1");
			return -1;
		}
		if (*mode == PAD_REFLECT && (b >= d || e >= d)) {
			op_error(c, "attribute 'pads' pads axis %d of input '%s' (size %lld) by %lld and %lld; reflect "
			         "padding must be less than the axis size", ax, x->name, (long long)d, (long long)b, (long long)e);
			return -1;
		}
		begin[ax] = b;
		end[ax] = e;
	}
	return 0;
}

int infer_pad(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	int64_t begin[NNL_MAX_RANK], end[NNL_MAX_RANK];
	int mode;
	if (get_pads(c, in[0], begin, end, &mode) < 0)
		return -1;
	copy_shape(out, in[0]);
	for (int i = 0; i < out->rank; i++)
		out->shape[i] += begin[i] + end[i];
	return 0;
}

int eval_pad(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	int64_t begin[NNL_MAX_RANK], end[NNL_MAX_RANK];
	int mode;
	if (get_pads(c, x, begin, end, &mode) < 0)
		return -1;
	int r = x->rank, esz = dtype_bits(x->dtype) / 8;
	if (r == 0)
		return eval_view(in, in_data, out_data);
	/* The fill element in the tensor's datatype. */
	uint8_t fill[8] = {0};
	dtype_set(x->dtype, fill, 0, node_attr(c->node, "value")->f);
	/* Per axis: source index of each output index, -1 for the fill value. */
	int64_t total = 0;
	for (int i = 0; i < r; i++)
		total += out->shape[i];
	int64_t *map = nnl_malloc((size_t)total * sizeof *map);
	if (!map) {
		op_error(c, "out of memory");
		return -1;
	}
	int64_t *mp[NNL_MAX_RANK], ist[NNL_MAX_RANK], s = 1;
	for (int i = r - 1; i >= 0; i--) {
		ist[i] = s;
		s *= x->shape[i];
	}
	int64_t at = 0;
	for (int ax = 0; ax < r; ax++) {
		mp[ax] = map + at;
		at += out->shape[ax];
		int64_t d = x->shape[ax];
		for (int64_t o = 0; o < out->shape[ax]; o++) {
			int64_t i = o - begin[ax];
			if (i < 0 || i >= d) {
				if (mode == PAD_CONSTANT)
					i = -1;
				else if (mode == PAD_REPLICATE)
					i = i < 0 ? 0 : d - 1;
				else
					i = i < 0 ? -i : 2 * (d - 1) - i;
			}
			mp[ax][o] = i < 0 ? -1 : i * ist[ax];
		}
	}
	/* Walk the output; off is the source offset of the outer axes, -1 when any is fill. */
	int64_t idx[NNL_MAX_RANK] = {0}, n = tensor_numel(out), inner = out->shape[r - 1];
	const uint8_t *src = in_data[0];
	uint8_t *dst = out_data;
	for (int64_t o = 0; o < n; o += inner) {
		int64_t off = 0;
		int is_fill = 0;
		for (int d = 0; d < r - 1; d++) {
			if (mp[d][idx[d]] < 0)
				is_fill = 1;
			else
				off += mp[d][idx[d]];
		}
		for (int64_t k = 0; k < inner; k++) {
			int64_t si = mp[r - 1][k];
			copy_elem(dst + (o + k) * esz, (is_fill || si < 0) ? fill : src + (off + si) * esz, esz);
		}
		for (int d = r - 2; d >= 0; d--) {
			if (++idx[d] < out->shape[d])
				break;
			idx[d] = 0;
		}
	}
	free(map);
	return 0;
}

/* ---- reduce (Mean, Sum) --------------------------------------------------- */

/* red[i] = 1 for reduced axes. Absent "dims" (or an empty list, as torch
 * 1.13 does for sum/mean with dim=[]) reduces all axes. */
static int get_reduced(const OpCtx *c, const Tensor *x, int *red)
{
	const AttrValue *a = node_attr(c->node, "dims");
	int r = x->rank;
	for (int i = 0; i < r; i++)
		red[i] = !a->set || a->n == 0;
	if (!a->set || a->n == 0)
		return 0;
	int rr = r == 0 ? 1 : r; /* torch accepts dim 0/-1 on a scalar */
	if (a->n < 0 || a->n > rr) {
		op_error(c, "attribute 'dims' has %d values, expected at most %d (the rank of input '%s')", a->n, rr,
		         x->name);
		return -1;
	}
	int seen[NNL_MAX_RANK] = {0};
	for (int i = 0; i < a->n; i++) {
		int64_t ax;
		if (norm_axis(a->i[i], rr, &ax) < 0) {
			op_error(c, "attribute 'dims' has %lld at position %d, expected an axis of input '%s' of rank %d "
			         "(-%d..%d)", (long long)a->i[i], i, x->name, r, rr, rr - 1);
			return -1;
		}
		if (seen[ax]) {
			op_error(c, "attribute 'dims' names axis %lld twice, expected distinct axes", (long long)ax);
			return -1;
		}
		seen[ax] = 1;
		if (r > 0)
			red[ax] = 1;
	}
	return 0;
}

int infer_reduce(const OpCtx *c, Tensor *const *in, Tensor *out)
{
	const Tensor *x = in[0];
	int red[NNL_MAX_RANK];
	if (get_reduced(c, x, red) < 0)
		return -1;
	int keep = node_attr(c->node, "keepdim")->i[0] != 0;
	int r = 0;
	for (int i = 0; i < x->rank; i++) {
		if (!red[i])
			out->shape[r++] = x->shape[i];
		else if (keep)
			out->shape[r++] = 1;
	}
	out->rank = r;
	return 0;
}

/* Accumulates in double and rounds once to float: within 1e-5 (relative) of
 * torch, whose float accumulation order (vectorised, cascaded) differs. */
int eval_reduce(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data)
{
	const Tensor *x = in[0];
	int red[NNL_MAX_RANK];
	if (get_reduced(c, x, red) < 0)
		return -1;
	int r = x->rank;
	int64_t n = tensor_numel(x), on = tensor_numel(out);
	double *acc = nnl_calloc((size_t)on, sizeof *acc);
	if (!acc) {
		op_error(c, "out of memory");
		return -1;
	}
	/* Output element stride of each input axis: 0 for reduced axes. */
	int64_t ost[NNL_MAX_RANK], s = 1, count = 1;
	for (int i = r - 1; i >= 0; i--) {
		if (red[i]) {
			ost[i] = 0;
			count *= x->shape[i];
		} else {
			ost[i] = s;
			s *= x->shape[i];
		}
	}
	const float *src = in_data[0];
	if (r == 0) {
		acc[0] = src[0];
	} else {
		int64_t idx[NNL_MAX_RANK] = {0}, off = 0, inner = x->shape[r - 1], is = ost[r - 1];
		for (int64_t o = 0; o < n; o += inner) {
			for (int64_t k = 0; k < inner; k++)
				acc[off + k * is] += src[o + k];
			for (int d = r - 2; d >= 0; d--) {
				idx[d]++;
				off += ost[d];
				if (idx[d] < x->shape[d])
					break;
				off -= ost[d] * x->shape[d];
				idx[d] = 0;
			}
		}
	}
	float *y = out_data;
	int mean = c->node->op == OP_MEAN;
	for (int64_t i = 0; i < on; i++)
		y[i] = (float)(mean ? acc[i] / (double)count : acc[i]);
	free(acc);
	return 0;
}
