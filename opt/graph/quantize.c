/* quantize — post-training quantization to an integer-only graph
 * (docs/quantization.md has the semantics, docs/graph-passes.md the usage).
 *
 * requires: a float32 model; calibration samples (--calibrate FILE, or
 *   --calib IMAGES) that fit its input.
 * provides, in order:
 *   1. BatchNorms after Conv/Linear folded (the fold-bn pass);
 *   2. the blocks merged into one (a quantized tensor crossing a block
 *      boundary would lose its quantization: a block's X cannot carry one);
 *   3. calibration: the float interpreter runs over the samples and every
 *      activation's range is collected (minmax), or a 2048-bin histogram of
 *      it (percentile: 0.01 % / 99.99 %; mse: the clip range on a 100-step
 *      grid that minimises the expected quantization error);
 *   4. ReLU/ReLU6 folded into the Conv/Linear/'+'/Concat that alone feeds
 *      them (int8/int4: the output range [0, max] makes zero_point = -128,
 *      so saturation is the ReLU); otherwise they stay as integer clamps;
 *   5. each node put in the integer or the float domain: Conv/Linear
 *      (constant weights), '+' of two activations, Concat, pools, Mean,
 *      ReLU/ReLU6 are integer; views (Flatten, Reshape, Permute, Identity,
 *      Dropout, '=', Pad) follow their input; everything else stays float32
 *      between a Dequantize and a Quantize (reported; strict=1 refuses);
 *   6. weights symmetric per output channel (or per tensor), int8 or int4
 *      (packed), bias int32 (int64 for 16x8) at scale s_x·s_w[o];
 *      activations per tensor: int8 asymmetric, or int16 symmetric (16x8).
 *      Scales are float32 values (as in a .tflite file).
 *   7. int8_io: the input Quantize (with a scalar affine input normalization
 *      before it, folded) and the output Dequantize go; the model's input and
 *      output are then the integer tensors.
 */
#include "frontend.h"
#include "gopt.h"
#include "quant.h"
#include "quantize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NBINS 2048

static QuantizeOptions g_opts;

void gopt_quantize_set_options(const QuantizeOptions *o) { g_opts = *o; }

typedef enum { SCH_INT8, SCH_INT16X8, SCH_INT4 } Scheme;
typedef enum { QK_FLOAT, QK_COMPUTE, QK_SAME, QK_VIEW } QKind;

typedef struct Stat {
	int seen;
	double lo, hi;   /* minmax over the samples */
	int64_t *hist;   /* NBINS bins over [lo, hi] (percentile, mse) */
	int64_t total;
} Stat;

typedef struct Q {
	Model *m;
	Block *b;
	Diag *d;
	PassReport *r;
	Scheme sch;
	int per_tensor, int8_io, strict;
	const char *method;
	Stat *st;
	int n_st;
} Q;

static const char *file_of(const Q *q) { return q->m->path ? q->m->path : "<model>"; }

/* ---- small helpers -------------------------------------------------------- */

static double f32(double v) { return (double)(float)v; }

static Quant *quant_new(int n, int axis)
{
	Quant *qu = nnl_calloc(1, sizeof *qu);
	if (!qu)
		return NULL;
	qu->n = n;
	qu->axis = axis;
	qu->scale = nnl_calloc((size_t)n, sizeof *qu->scale);
	qu->zero_point = nnl_calloc((size_t)n, sizeof *qu->zero_point);
	if (!qu->scale || !qu->zero_point) {
		free(qu->scale);
		free(qu->zero_point);
		free(qu);
		return NULL;
	}
	return qu;
}

static void quant_drop(Tensor *t)
{
	if (t->quant) {
		free(t->quant->scale);
		free(t->quant->zero_point);
		free(t->quant);
		t->quant = NULL;
	}
}

static int set_quant1(Tensor *t, double s, int64_t zp)
{
	quant_drop(t);
	if (!(t->quant = quant_new(1, -1)))
		return -1;
	t->quant->scale[0] = s;
	t->quant->zero_point[0] = zp;
	return 0;
}

static int copy_quant(Tensor *dst, const Tensor *src)
{
	return set_quant1(dst, src->quant->scale[0], src->quant->zero_point[0]);
}

/* A constant of any datatype (data taken over, numel(shape) elements). */
static int add_const(Block *b, const char *base, DType t, int rank, const int64_t *shape, void *data)
{
	char name[300];
	snprintf(name, sizeof name, "%s", base);
	for (int k = 2; block_find_tensor(b, name) >= 0; k++)
		snprintf(name, sizeof name, "%s_%d", base, k);
	int ti = block_add_tensor(b, name);
	if (ti < 0) {
		free(data);
		return -1;
	}
	Tensor *T = &b->tensors[ti];
	T->dtype = t;
	T->rank = rank;
	memcpy(T->shape, shape, (size_t)rank * sizeof *shape);
	T->declared = 1;
	T->data = data;
	T->nbytes = dtype_bytes(t, shape_numel(rank, shape));
	return ti;
}

static Node *new_node(Node *nodes, int *n, OpKind op, int in, int out, const char *id)
{
	Node *nd = &nodes[(*n)++];
	memset(nd, 0, sizeof *nd);
	nd->op = op;
	nd->n_in = 1;
	nd->in = nnl_malloc(sizeof(int));
	if (!nd->in)
		return NULL;
	nd->in[0] = in;
	nd->out = out;
	nd->id = id ? nnl_strdup(id) : NULL;
	return nd;
}

/* ---- 2. merge the blocks -------------------------------------------------- */

static int merge_blocks(Model *m)
{
	if (m->n_blocks == 1)
		return 0;
	Block *a = &m->blocks[0];
	for (int bi = 1; bi < m->n_blocks; bi++) {
		Block *b = &m->blocks[bi];
		/* a's Y becomes an inner tensor named after its block */
		char nm[300];
		snprintf(nm, sizeof nm, "%s.out", a->name && a->name[0] ? a->name : "block");
		for (int k = 2; block_find_tensor(a, nm) >= 0 || block_find_tensor(b, nm) >= 0; k++)
			snprintf(nm, sizeof nm, "%s.out_%d", a->name && a->name[0] ? a->name : "block", k);
		char *nn = nnl_strdup(nm);
		if (!nn)
			return -1;
		free(a->tensors[a->y].name);
		a->tensors[a->y].name = nn;
		int *map = nnl_malloc((size_t)b->n_tensors * sizeof *map);
		if (!map)
			return -1;
		for (int t = 0; t < b->n_tensors; t++) {
			if (t == b->x) {
				map[t] = a->y;
				continue;
			}
			Tensor *T = &b->tensors[t];
			char name[300];
			snprintf(name, sizeof name, "%s", T->name);
			for (int k = 2; block_find_tensor(a, name) >= 0; k++)
				snprintf(name, sizeof name, "%s_%d", T->name, k);
			int ti = block_add_tensor(a, name);
			if (ti < 0) {
				free(map);
				return -1;
			}
			char *keep = a->tensors[ti].name;
			a->tensors[ti] = *T;
			free(T->name);
			a->tensors[ti].name = keep;
			map[t] = ti;
		}
		free(b->tensors[b->x].name);
		for (int i = 0; i < b->n_nodes; i++) {
			Node *nd = block_add_node(a);
			if (!nd) {
				free(map);
				return -1;
			}
			*nd = b->nodes[i];
			for (int k = 0; k < nd->n_in; k++)
				nd->in[k] = map[nd->in[k]];
			nd->out = map[nd->out];
		}
		a->y = map[b->y];
		a->out_rank = b->out_rank;
		memcpy(a->out_shape, b->out_shape, sizeof a->out_shape);
		a->out_dtype = b->out_dtype;
		free(map);
		free(b->tensors);
		free(b->nodes);
		free(b->name);
		b->tensors = NULL;
		b->nodes = NULL;
		b->n_tensors = b->n_nodes = 0;
		b->name = NULL;
	}
	m->n_blocks = 1;
	return 0;
}

/* ---- 3. calibration --------------------------------------------------------- */

typedef struct Samples {
	float *x;
	int64_t n, per;
} Samples;

static int load_samples(const Q *q, const char *path, long limit, double pixel_scale, Samples *s)
{
	NdArray a = {0};
	size_t len = strlen(path);
	int npy = len > 4 && strcmp(path + len - 4, ".npy") == 0;
	if ((npy ? npy_read(path, &a, q->d) : idx_read(path, &a, q->d)) < 0)
		return -1;
	int64_t in_n = shape_numel(q->m->in_rank, q->m->in_shape);
	int64_t n = a.rank > 0 ? a.shape[0] : 1, per = a.rank > 0 ? shape_numel(a.rank - 1, a.shape + 1) : 1;
	if (per != in_n && shape_numel(a.rank, a.shape) == in_n)
		n = 1, per = in_n;
	if (per != in_n || n < 1 || !(dtype_is_float(a.dtype) || dtype_is_int(a.dtype))) {
		diag_add(q->d, "%s: quantize: calibration samples have %lld values each (%s), expected %lld for the model "
		         "input", path, (long long)per, dtype_name(a.dtype), (long long)in_n);
		ndarray_free(&a);
		return -1;
	}
	if (limit > 0 && limit < n)
		n = limit;
	s->x = nnl_malloc((size_t)(n * per) * sizeof *s->x);
	if (!s->x) {
		ndarray_free(&a);
		diag_add(q->d, "quantize: out of memory for the calibration samples");
		return -1;
	}
	for (int64_t i = 0; i < n * per; i++)
		s->x[i] = (float)(dtype_get(a.dtype, a.data, i) * (a.dtype == DT_UINT8 ? pixel_scale : 1.0));
	s->n = n;
	s->per = per;
	ndarray_free(&a);
	return 0;
}

/* Run the float graph on each sample; pass 0 collects min/max, pass 1 histograms. */
static int calibrate(Q *q, const Samples *s, int pass)
{
	Block *b = q->b;
	void **buf = nnl_calloc((size_t)b->n_tensors, sizeof *buf);
	int rc = -1;
	if (!buf)
		goto oom;
	for (int t = 0; t < b->n_tensors; t++)
		buf[t] = b->tensors[t].data;
	for (int i = 0; i < b->n_nodes; i++) {
		Tensor *o = &b->tensors[b->nodes[i].out];
		if (o->dtype != DT_FLOAT32) {
			diag_add(q->d, "%s: quantize: '%s' is %s; the pass quantizes float32 models", file_of(q), o->name,
			         dtype_name(o->dtype));
			goto out;
		}
		if (!buf[b->nodes[i].out] && !(buf[b->nodes[i].out] = nnl_malloc((size_t)tensor_numel(o) * 4)))
			goto oom;
		for (int k = 0; k < b->nodes[i].n_in; k++) {
			const Tensor *t = &b->tensors[b->nodes[i].in[k]];
			if ((op_info(b->nodes[i].op)->flags & OPF_FLOAT) && t->dtype != DT_FLOAT32) {
				diag_add(q->d, "%s: quantize: constant '%s' is %s; convert the model to float32 first", file_of(q),
				         t->name, dtype_name(t->dtype));
				goto out;
			}
		}
	}
	for (int64_t si = 0; si < s->n; si++) {
		buf[b->x] = s->x + si * s->per;
		for (int i = -1; i < b->n_nodes; i++) {
			const Node *n = i >= 0 ? &b->nodes[i] : NULL;
			int ot = n ? n->out : b->x;
			Tensor *o = &b->tensors[ot];
			int64_t ne = tensor_numel(o);
			if (n) {
				const Tensor *in[64];
				void *ind[64];
				for (int k = 0; k < n->n_in && k < 64; k++) {
					in[k] = &b->tensors[n->in[k]];
					ind[k] = buf[n->in[k]];
				}
				memset(buf[ot], 0, (size_t)ne * 4);
				OpCtx c = {q->d, file_of(q), 0, n};
				if (op_eval_fn(n->op)(&c, in, ind, o, buf[ot]) < 0)
					goto out;
			}
			const float *v = buf[ot];
			Stat *S = &q->st[ot];
			if (pass == 0) {
				for (int64_t k = 0; k < ne; k++) {
					double x = v[k];
					if (!isfinite(x))
						continue;
					if (!S->seen || x < S->lo)
						S->lo = x;
					if (!S->seen || x > S->hi)
						S->hi = x;
					S->seen = 1;
				}
			} else if (S->hist) {
				double w = S->hi - S->lo;
				for (int64_t k = 0; k < ne; k++) {
					double x = v[k];
					if (!isfinite(x))
						continue;
					int bin = w > 0 ? (int)((x - S->lo) / w * NBINS) : 0;
					bin = bin < 0 ? 0 : bin >= NBINS ? NBINS - 1 : bin;
					S->hist[bin]++;
					S->total++;
				}
			}
		}
	}
	rc = 0;
	goto out;
oom:
	diag_add(q->d, "quantize: out of memory during calibration");
out:
	if (buf)
		for (int i = 0; i < b->n_nodes; i++)
			if (!b->tensors[b->nodes[i].out].data) {
				free(buf[b->nodes[i].out]);
				buf[b->nodes[i].out] = NULL;
			}
	free(buf);
	return rc;
}

/* Expected squared quantization error of the histogram for range [lo, hi]. */
static double range_mse(const Stat *S, double lo, double hi, int levels)
{
	double w = (S->hi - S->lo) / NBINS, step = (hi - lo) / (levels - 1), e = 0;
	for (int i = 0; i < NBINS; i++) {
		if (!S->hist[i])
			continue;
		double v = S->lo + (i + 0.5) * w;
		double err;
		if (v < lo)
			err = (lo - v) * (lo - v);
		else if (v > hi)
			err = (v - hi) * (v - hi);
		else
			err = step * step / 12.0;
		e += err * (double)S->hist[i];
	}
	return e;
}

/* The range [lo, hi] a tensor is quantized over, by the calibration method. */
static void chosen_range(const Q *q, const Stat *S, double *lo, double *hi)
{
	*lo = S->seen ? S->lo : 0;
	*hi = S->seen ? S->hi : 0;
	if (!S->hist || S->total == 0)
		return;
	double w = (S->hi - S->lo) / NBINS;
	if (strcmp(q->method, "percentile") == 0) {
		int64_t cut = (int64_t)floor((double)S->total * 1e-4), acc = 0;
		int i = 0;
		for (; i < NBINS && acc + S->hist[i] <= cut; i++)
			acc += S->hist[i];
		*lo = S->lo + i * w;
		acc = 0;
		int j = NBINS - 1;
		for (; j > 0 && acc + S->hist[j] <= cut; j--)
			acc += S->hist[j];
		*hi = S->lo + (j + 1) * w;
		if (S->lo >= 0 && *lo < S->lo + w)
			*lo = S->lo; /* keep an exact 0 (ReLU outputs) */
		return;
	}
	/* mse: shrink both ends toward 0 together */
	int levels = q->sch == SCH_INT16X8 ? 65535 : 256;
	double best = -1, blo = *lo, bhi = *hi;
	for (int k = 0; k < 100; k++) {
		double a = 1.0 - k * 0.01;
		double l = S->lo < 0 ? S->lo * a : S->lo, h = S->hi > 0 ? S->hi * a : S->hi;
		if (q->sch == SCH_INT16X8) {
			double m = fmax(fabs(S->lo), fabs(S->hi)) * a;
			l = -m, h = m;
		}
		if (h - l <= 0)
			continue;
		double e = range_mse(S, fmin(l, 0), fmax(h, 0), levels);
		if (best < 0 || e < best)
			best = e, blo = l, bhi = h;
	}
	*lo = blo;
	*hi = bhi;
}

/* Activation (scale, zero_point) of float tensor t for the scheme. */
static void act_params(const Q *q, int t, double cap_hi, double *s, int64_t *zp)
{
	double lo, hi;
	chosen_range(q, &q->st[t], &lo, &hi);
	if (hi > cap_hi)
		hi = cap_hi;
	lo = fmin(lo, 0);
	hi = fmax(hi, 0);
	if (q->sch == SCH_INT16X8) {
		double m = fmax(fabs(lo), fabs(hi));
		*s = f32(m > 0 ? m / 32767.0 : 1.0);
		*zp = 0;
		return;
	}
	if (hi - lo <= 0)
		hi = lo + 1.0;
	*s = f32((hi - lo) / 255.0);
	double z = round(-128.0 - lo / *s);
	*zp = z < -128 ? -128 : z > 127 ? 127 : (int64_t)z;
}

/* ---- 5. classification ---------------------------------------------------------- */

static int is_act(const Block *b, int t) { return !b->tensors[t].data; }

static QKind qkind(const Block *b, const Node *n, const char **why)
{
	*why = NULL;
	switch (n->op) {
	case OP_LINEAR: case OP_CONV1D: case OP_CONV2D:
		if (!is_act(b, n->in[0]) || is_act(b, n->in[1]) || (n->n_in > 2 && is_act(b, n->in[2]))) {
			*why = "its weights are computed (no constant to quantize)";
			return QK_FLOAT;
		}
		return QK_COMPUTE;
	case OP_ADD:
		if (!is_act(b, n->in[0]) || !is_act(b, n->in[1])) {
			*why = "'+' with a constant operand (input arithmetic) stays float32";
			return QK_FLOAT;
		}
		if (b->tensors[n->in[0]].rank != b->tensors[n->in[1]].rank ||
		    memcmp(b->tensors[n->in[0]].shape, b->tensors[n->in[1]].shape,
		           (size_t)b->tensors[n->in[0]].rank * sizeof(int64_t))) {
			*why = "the integer '+' needs operands of one shape (no broadcasting)";
			return QK_FLOAT;
		}
		return QK_COMPUTE;
	case OP_CONCAT:
		for (int k = 0; k < n->n_in; k++)
			if (!is_act(b, n->in[k])) {
				*why = "Concat of a constant";
				return QK_FLOAT;
			}
		return QK_COMPUTE;
	case OP_RELU: case OP_RELU6: case OP_MAXPOOL1D: case OP_MAXPOOL2D: case OP_AVGPOOL1D: case OP_AVGPOOL2D:
	case OP_ADAPTIVEAVGPOOL1D: case OP_ADAPTIVEAVGPOOL2D: case OP_MEAN:
		return is_act(b, n->in[0]) ? QK_SAME : QK_FLOAT;
	case OP_FLATTEN: case OP_RESHAPE: case OP_PERMUTE: case OP_TRANSPOSE: case OP_IDENTITY: case OP_DROPOUT:
	case OP_ASSIGN: case OP_PAD:
		return is_act(b, n->in[0]) ? QK_VIEW : QK_FLOAT;
	default:
		*why = "no integer kernel (kept in float32 between Dequantize and Quantize)";
		return QK_FLOAT;
	}
}

/* ---- 4. fold ReLU/ReLU6 into the producer ------------------------------------------ */

static void fold_relus(Q *q, char *cap6)
{
	Block *b = q->b;
	for (int i = 0; i < b->n_nodes; i++) {
		Node *rl = &b->nodes[i];
		if ((rl->op != OP_RELU && rl->op != OP_RELU6) || !is_act(b, rl->in[0]))
			continue;
		int x = rl->in[0], pi = -1, cons[2];
		for (int k = 0; k < i; k++)
			if (b->nodes[k].out == x)
				pi = k;
		const char *why;
		if (pi < 0 || qkind(b, &b->nodes[pi], &why) != QK_COMPUTE || x == b->y || gopt_consumers(b, x, cons, 2) != 1)
			continue;
		char name[256];
		snprintf(name, sizeof name, "%s", gopt_node_name(b, rl));
		b->nodes[pi].out = rl->out;
		if (rl->op == OP_RELU6)
			cap6[rl->out] = 1;
		report_add(q->r, "quantize", name, "folded", 0, 0, 0, 0, 0, "%s into '%s' (output range [0, max])",
		           op_info(rl->op)->name, gopt_node_name(b, &b->nodes[pi]));
		gopt_remove_node(b, i);
		i--;
	}
}

/* ---- 6. weights ---------------------------------------------------------------------- */

static int quantize_weights(Q *q, Node *n, int nin_dom_q)
{
	Block *b = q->b;
	Tensor *w = &b->tensors[n->in[1]];
	const double sx = b->tensors[nin_dom_q].quant->scale[0];
	int64_t O = w->shape[0], per = shape_numel(w->rank - 1, w->shape + 1), ne = tensor_numel(w);
	int qmax = q->sch == SCH_INT4 ? 7 : 127;
	DType wt = q->sch == SCH_INT4 ? DT_INT4 : DT_INT8;
	int nq = q->per_tensor ? 1 : (int)O;
	Quant *wq = quant_new(nq, q->per_tensor ? -1 : 0);
	void *data = nnl_calloc((size_t)dtype_bytes(wt, ne), 1);
	if (!wq || !data)
		goto oom;
	double gmax = 0;
	for (int64_t i = 0; i < ne; i++)
		gmax = fmax(gmax, fabs(dtype_get(w->dtype, w->data, i)));
	for (int64_t o = 0; o < O; o++) {
		double mx = 0;
		for (int64_t k = 0; k < per; k++)
			mx = fmax(mx, fabs(dtype_get(w->dtype, w->data, o * per + k)));
		if (q->per_tensor)
			mx = gmax;
		double s = f32(mx > 0 ? mx / qmax : 1.0);
		if (o < nq)
			wq->scale[o] = s;
		for (int64_t k = 0; k < per; k++)
			dtype_set(wt, data, o * per + k,
			          nnl_quantize_value((float)dtype_get(w->dtype, w->data, o * per + k), s, 0, -qmax, qmax));
	}
	char base[300];
	snprintf(base, sizeof base, "%s.q", w->name);
	int64_t shp[NNL_MAX_RANK];
	int rank = w->rank;
	memcpy(shp, w->shape, sizeof shp);
	int tw = add_const(b, base, wt, rank, shp, data);
	if (tw < 0)
		goto oom_w;
	b->tensors[tw].quant = wq;
	wq = NULL;
	int tb = -1;
	if (n->n_in > 2) {
		Tensor *bt = &b->tensors[n->in[2]];
		DType btp = q->sch == SCH_INT16X8 ? DT_INT64 : DT_INT32;
		Quant *bq = quant_new(nq, q->per_tensor ? -1 : 0);
		void *bd = nnl_calloc((size_t)O, (size_t)dtype_bits(btp) / 8);
		if (!bq || !bd) {
			free(bd);
			if (bq) {
				free(bq->scale), free(bq->zero_point), free(bq);
			}
			goto oom_w;
		}
		const Quant *wqq = b->tensors[tw].quant;
		for (int64_t o = 0; o < O; o++) {
			double s = sx * wqq->scale[nq == 1 ? 0 : o];
			if (o < nq)
				bq->scale[o] = f32(s);
			double v = round(dtype_get(bt->dtype, bt->data, o) / s);
			dtype_set(btp, bd, o, v);
		}
		snprintf(base, sizeof base, "%s.q", bt->name);
		int64_t bs[1] = {O};
		tb = add_const(b, base, btp, 1, bs, bd);
		if (tb < 0) {
			free(bq->scale), free(bq->zero_point), free(bq);
			goto oom_w;
		}
		b->tensors[tb].quant = bq;
	}
	n->in[1] = tw;
	if (tb >= 0)
		n->in[2] = tb;
	return 0;
oom:
	free(data);
oom_w:
	if (wq) {
		free(wq->scale), free(wq->zero_point), free(wq);
	}
	diag_add(q->d, "quantize: out of memory");
	return -1;
}

/* ---- 5+6. the rewrite ------------------------------------------------------------------ */

static const char *scheme_dt(const Q *q) { return q->sch == SCH_INT16X8 ? "int16" : "int8"; }

/* The integer version of float tensor t (a Quantize node emitted once). */
static int need_q(Q *q, int t, int *qof, Node *nodes, int *nn)
{
	if (qof[t] >= 0)
		return qof[t];
	char base[300];
	snprintf(base, sizeof base, "%s.q", q->b->tensors[t].name);
	int nt = gopt_add_activation(q->b, base);
	if (nt < 0)
		return -1;
	double s;
	int64_t zp;
	act_params(q, t, INFINITY, &s, &zp);
	if (set_quant1(&q->b->tensors[nt], s, zp) < 0)
		return -1;
	Node *nd = new_node(nodes, nn, OP_QUANTIZE, t, nt, NULL);
	if (!nd)
		return -1;
	nd->attrs[0].set = 1;
	nd->attrs[0].n = 1;
	snprintf(nd->attrs[0].s, sizeof nd->attrs[0].s, "%s", scheme_dt(q));
	nd->attr_given[0] = 1;
	return qof[t] = nt;
}

static int need_dq(Q *q, int t, int *dqof, Node *nodes, int *nn)
{
	if (dqof[t] >= 0)
		return dqof[t];
	char base[300];
	snprintf(base, sizeof base, "%s.f", q->b->tensors[t].name);
	int nt = gopt_add_activation(q->b, base);
	if (nt < 0 || !new_node(nodes, nn, OP_DEQUANTIZE, t, nt, NULL))
		return -1;
	return dqof[t] = nt;
}

static int rewrite(Q *q, const char *cap6)
{
	Block *b = q->b;
	int n0 = b->n_nodes, nt0 = b->n_tensors;
	/* each node may bring Quantize/Dequantize for each input, and one at the end */
	int cap = 1;
	for (int i = 0; i < n0; i++)
		cap += 1 + b->nodes[i].n_in;
	Node *nodes = nnl_calloc((size_t)cap, sizeof *nodes);
	/* tensors are added: the maps cover the worst case */
	int maxt = nt0 + cap + 1;
	char *dom = nnl_calloc((size_t)maxt, 1); /* 1: integer */
	int *qof = nnl_malloc((size_t)maxt * sizeof *qof), *dqof = nnl_malloc((size_t)maxt * sizeof *dqof);
	int nn = 0, rc = -1;
	if (!nodes || !dom || !qof || !dqof)
		goto oom;
	for (int t = 0; t < maxt; t++)
		qof[t] = dqof[t] = -1;
	for (int i = 0; i < n0; i++) {
		Node n = b->nodes[i];
		char name[256];
		snprintf(name, sizeof name, "%s", gopt_node_name(b, &n));
		const char *why;
		QKind k = qkind(b, &n, &why);
		if (k == QK_VIEW && !dom[n.in[0]])
			k = QK_FLOAT, why = NULL;
		if (k == QK_FLOAT) {
			int between = 0; /* an op inside the integer part, not input/output arithmetic */
			for (int j = 0; j < n.n_in; j++)
				between |= is_act(b, n.in[j]) && dom[n.in[j]];
			if (why && q->strict && between) {
				diag_add(q->d, "%s: quantize(strict=1): '%s' (%s): %s", file_of(q), name, op_info(n.op)->name, why);
				goto fail;
			}
			for (int j = 0; j < n.n_in; j++)
				if (is_act(b, n.in[j]) && dom[n.in[j]] && (n.in[j] = need_dq(q, n.in[j], dqof, nodes, &nn)) < 0)
					goto oom;
			if (why)
				report_add(q->r, "quantize", name, "kept float", 0, 0, 0, 0, 0, "%s: %s", op_info(n.op)->name,
				           between ? why : "float32 before the input Quantize (input arithmetic)");
			nodes[nn++] = n;
			continue;
		}
		for (int j = 0; j < n.n_in; j++)
			if (is_act(b, n.in[j]) && !dom[n.in[j]] && (n.in[j] = need_q(q, n.in[j], qof, nodes, &nn)) < 0)
				goto oom;
		Tensor *out = &b->tensors[n.out];
		if (k == QK_COMPUTE) {
			double s;
			int64_t zp;
			act_params(q, n.out, cap6[n.out] ? 6.0 : INFINITY, &s, &zp);
			if (set_quant1(out, s, zp) < 0)
				goto oom;
			if ((n.op == OP_LINEAR || n.op == OP_CONV1D || n.op == OP_CONV2D)) {
				int64_t p = gopt_node_params(b, &n), mac = gopt_node_macs(b, &n);
				int64_t bytes0 = 0, bytes1;
				for (int j = 1; j < n.n_in; j++)
					bytes0 += b->tensors[n.in[j]].nbytes;
				if (quantize_weights(q, &n, n.in[0]) < 0)
					goto fail;
				out = &b->tensors[n.out];
				bytes1 = 0;
				for (int j = 1; j < n.n_in; j++)
					bytes1 += b->tensors[n.in[j]].nbytes;
				report_add(q->r, "quantize", name, "quantized", p, p, gopt_node_nnz(b, &n), mac, mac,
				           "%s x %s, weights %s %s, %lld -> %lld bytes", op_info(n.op)->name,
				           scheme_dt(q), q->sch == SCH_INT4 ? "int4" : "int8",
				           q->per_tensor ? "per-tensor" : "per-channel", (long long)bytes0, (long long)bytes1);
			}
		} else {
			if (copy_quant(out, &b->tensors[n.in[0]]) < 0)
				goto oom;
			if (n.op == OP_PAD) {
				const OpInfo *oi = op_info(OP_PAD);
				for (int a = 0; a < oi->n_attrs; a++)
					if (!strcmp(oi->attrs[a].name, "value")) {
						int32_t lo, hi;
						nnl_qrange(q->sch == SCH_INT16X8 ? DT_INT16 : DT_INT8, &lo, &hi);
						n.attrs[a].f = nnl_quantize_value((float)n.attrs[a].f, out->quant->scale[0],
						                                  out->quant->zero_point[0], lo, hi);
						n.attrs[a].set = 1;
						n.attr_given[a] = 1;
					}
			}
		}
		dom[n.out] = 1;
		nodes[nn++] = n;
	}
	/* the output edge */
	if (dom[b->y] && !q->int8_io) {
		char base[300];
		snprintf(base, sizeof base, "%s", "Y.q");
		int yq = gopt_add_activation(b, base);
		if (yq < 0)
			goto oom;
		for (int i = 0; i < nn; i++) {
			if (nodes[i].out == b->y)
				nodes[i].out = yq;
			for (int j = 0; j < nodes[i].n_in; j++)
				if (nodes[i].in[j] == b->y)
					nodes[i].in[j] = yq;
		}
		b->tensors[yq].quant = b->tensors[b->y].quant;
		b->tensors[b->y].quant = NULL;
		if (!new_node(nodes, &nn, OP_DEQUANTIZE, yq, b->y, NULL))
			goto oom;
	}
	free(b->nodes);
	b->nodes = nodes;
	b->n_nodes = b->cap_nodes = nn;
	b->cap_nodes = cap;
	nodes = NULL;
	rc = 0;
	goto out;
oom:
	diag_add(q->d, "quantize: out of memory");
fail:
	if (nodes) { /* give the moved nodes back so the model can be freed */
		/* and the ones not reached yet: each owns its input list and id */
		for (int k = 0; k < n0; k++) {
			int moved = 0;
			for (int j = 0; j < nn && !moved; j++)
				moved = nodes[j].in == b->nodes[k].in;
			if (!moved && nn < cap)
				nodes[nn++] = b->nodes[k];
		}
		free(b->nodes);
		b->nodes = nodes;
		b->n_nodes = nn;
		b->cap_nodes = cap;
		nodes = NULL;
	}
out:
	free(nodes);
	free(dom);
	free(qof);
	free(dqof);
	return rc;
}

/* ---- 7. int8_io: integer input ---------------------------------------------------------- */

/* If X reaches exactly one Quantize through views and scalar affine ops
 * (x + c, x - c, x .* c, x ./ c), drop them: X becomes the integer input,
 * read through an Identity that keeps the Quantize's quantization, whose
 * scale is first adjusted so that the folded offset is a whole number of steps. */
static int int_input(Q *q)
{
	Block *b = q->b;
	int t = b->x, qi = -1;
	double a = 1, c0 = 0;
	for (;;) {
		int cons[2];
		if (gopt_consumers(b, t, cons, 2) != 1 || t == b->y)
			return 0;
		Node *n = &b->nodes[cons[0]];
		if (n->op == OP_QUANTIZE) {
			qi = cons[0];
			break;
		}
		if (n->op == OP_FLATTEN || n->op == OP_RESHAPE || n->op == OP_IDENTITY || n->op == OP_DROPOUT ||
		    n->op == OP_ASSIGN) {
			t = n->out;
			continue;
		}
		if ((n->op == OP_ADD || n->op == OP_SUB || n->op == OP_MUL || n->op == OP_DIV) && n->in[0] == t &&
		    !is_act(b, n->in[1]) && tensor_numel(&b->tensors[n->in[1]]) == 1) {
			double v = dtype_get(b->tensors[n->in[1]].dtype, b->tensors[n->in[1]].data, 0);
			if (n->op == OP_ADD)
				c0 += v;
			else if (n->op == OP_SUB)
				c0 -= v;
			else if (n->op == OP_MUL)
				a *= v, c0 *= v;
			else if (v != 0)
				a /= v, c0 /= v;
			else
				return 0;
			t = n->out;
			continue;
		}
		return 0;
	}
	if (!(a > 0))
		return 0;
	Node *qn = &b->nodes[qi];
	Tensor *qt = &b->tensors[qn->out];
	double s = qt->quant->scale[0];
	int64_t zp = qt->quant->zero_point[0];
	double steps = round(c0 / s);
	if (steps != 0 && q->sch != SCH_INT16X8) {
		s = f32(c0 / steps);
		/* n = a·x + c0 covers [lo, hi]: recentre the zero point for the new scale */
		double lo = c0 < 0 ? c0 : 0;
		double z = round(-128.0 - lo / s);
		zp = z < -128 ? -128 : z > 127 ? 127 : (int64_t)z;
		qt->quant->scale[0] = s;
		qt->quant->zero_point[0] = zp;
	}
	qn->op = OP_IDENTITY;
	qn->in[0] = b->x;
	memset(qn->attrs, 0, sizeof qn->attrs);
	memset(qn->attr_given, 0, sizeof qn->attr_given);
	DType dt = q->sch == SCH_INT16X8 ? DT_INT16 : DT_INT8;
	b->in_dtype = q->m->in_dtype = dt;
	report_add(q->r, "quantize", "X", "integer input", 0, 0, 0, 0, 0,
	           "%s input q = round(x / %.9g) + %lld%s", dtype_name(dt), s / a, (long long)(zp + (int64_t)steps),
	           a != 1 || c0 != 0 ? " (input normalization folded)" : "");
	return 1;
}

/* ---- the pass ---------------------------------------------------------------------------- */

int gpass_quantize(Model *m, const PassArgs *a, PassReport *r, Diag *d)
{
	Q q = {0};
	q.m = m;
	q.d = d;
	q.r = r;
	const char *file = m->path ? m->path : "<model>";
	const char *sch = pass_arg(a, "scheme")->s;
	if (!strcmp(sch, "int8"))
		q.sch = SCH_INT8;
	else if (!strcmp(sch, "int16x8"))
		q.sch = SCH_INT16X8;
	else if (!strcmp(sch, "int4"))
		q.sch = SCH_INT4;
	else {
		diag_add(d, "quantize(scheme=%s): expected int8, int16x8 or int4", sch);
		return -1;
	}
	q.per_tensor = pass_arg(a, "per_tensor")->i != 0;
	q.strict = pass_arg(a, "strict")->i != 0;
	const PassArg *io = pass_arg(a, "int_io"), *me = pass_arg(a, "method"), *cs = pass_arg(a, "calib_size");
	q.int8_io = io->set ? io->i != 0 : g_opts.int8_io;
	q.method = me->set ? me->s : g_opts.method ? g_opts.method : "minmax";
	if (strcmp(q.method, "minmax") && strcmp(q.method, "percentile") && strcmp(q.method, "mse")) {
		diag_add(d, "quantize: calibration method '%s': expected minmax, percentile or mse", q.method);
		return -1;
	}
	long size = cs->set ? (long)cs->i : g_opts.calib_size > 0 ? g_opts.calib_size : 1000;
	if (size <= 0) {
		diag_add(d, "quantize(calib_size=%ld): expected a positive number of samples", size);
		return -1;
	}
	const char *calib = g_opts.calibrate ? g_opts.calibrate : a->data ? a->data->images : NULL;
	if (!calib) {
		diag_add(d, "%s: quantize needs calibration samples: --calibrate IMAGES.idx[.gz]|samples.npy "
		            "(e.g. /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz)", file);
		return -1;
	}
	if (m->in_dtype != DT_FLOAT32) {
		diag_add(d, "%s: quantize: the model input is %s, expected a float32 model", file, dtype_name(m->in_dtype));
		return -1;
	}
	/* 1. fold-bn */
	GPipeline pl = {0};
	if (gopt_parse("fold-bn", &pl, d) < 0)
		return -1;
	int frc = gpass_fold_bn(m, &pl.steps[0], r, d);
	gopt_pipeline_free(&pl);
	if (frc < 0)
		return -1;
	/* 2. one block */
	if (merge_blocks(m) < 0 || gopt_refresh(m, d) < 0) {
		diag_add(d, "quantize: could not merge the blocks");
		return -1;
	}
	q.b = &m->blocks[0];
	/* 3. calibration */
	Samples smp = {0};
	double ps = a->data && a->data->pixel_scale > 0 ? a->data->pixel_scale : 1.0 / 255.0;
	if (load_samples(&q, calib, size, ps, &smp) < 0)
		return -1;
	q.n_st = q.b->n_tensors;
	q.st = nnl_calloc((size_t)q.n_st, sizeof *q.st);
	char *cap6 = nnl_calloc((size_t)q.n_st + 1, 1);
	int rc = -1;
	if (!q.st || !cap6) {
		diag_add(d, "quantize: out of memory");
		goto out;
	}
	if (calibrate(&q, &smp, 0) < 0)
		goto out;
	if (strcmp(q.method, "minmax") != 0) {
		for (int t = 0; t < q.n_st; t++)
			if (q.st[t].seen && !(q.st[t].hist = nnl_calloc(NBINS, sizeof(int64_t)))) {
				diag_add(d, "quantize: out of memory");
				goto out;
			}
		if (calibrate(&q, &smp, 1) < 0)
			goto out;
	}
	/* 4. ReLU folding (int8/int4: zero_point -128 makes the saturation the ReLU) */
	if (q.sch != SCH_INT16X8)
		fold_relus(&q, cap6);
	/* 5-6. */
	if (rewrite(&q, cap6) < 0)
		goto out;
	/* 7. */
	if (q.int8_io) {
		int_input(&q);
		Tensor *y = &q.b->tensors[q.b->y];
		if (y->quant) {
			DType dt = q.sch == SCH_INT16X8 ? DT_INT16 : DT_INT8;
			q.b->out_dtype = m->out_dtype = dt;
			report_add(r, "quantize", "Y", "integer output", 0, 0, 0, 0, 0, "%s output, real = %.9g * (q - %lld)",
			           dtype_name(dt), y->quant->scale[0], (long long)y->quant->zero_point[0]);
		}
	}
	if (gopt_compact(q.b) < 0) {
		diag_add(d, "quantize: out of memory");
		goto out;
	}
	rc = gopt_refresh(m, d);
out:
	if (q.st)
		for (int t = 0; t < q.n_st; t++)
			free(q.st[t].hist);
	free(q.st);
	free(cap6);
	free(smp.x);
	return rc;
}
