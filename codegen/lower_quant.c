/* lower_quant.c — the integer nodes of a quantized model (docs/quantization.md)
 * lowered to the loop IR, computing bit for bit what ir/ops_quant.c computes.
 *
 * Requantization (qm, shift) is computed at compile time with the
 * interpreter's nnl_quantize_multiplier from the same stored scales; the loop
 * code does MultiplyByQuantizedMultiplier with i64 products exactly as
 * nnl_mbqm (SRDHM with its nudge and truncating division by 2^31, then
 * RoundingDivideByPOT with mask/threshold), 16x8 as nnl_mbqm64.
 *
 * Conv1d/2d and Linear, portable kernel: int32 accumulators (int64 for
 * 16x8) started at a folded bias bias[o] − zp_x·Σw[o] where every tap is
 * inside the input; a padded conv's border rows and columns clip their tap
 * loops' bounds instead and sum w·(x − zp_x) from the plain bias (no padded
 * copy; the int32 sum wraps like the interpreter's (int32) cast of its
 * int64 sum). The Arm DSP and vector kernels: conv_dsp, conv_vec, dw_dsp.
 * Register blocks: 4 output channels × 2 columns for convs (1 × 4 for
 * depthwise), 8 outputs for Linear; weights (int4 unpacked) are re-laid out
 * per block ("<w>_qblk", i8) so a block's weights of one tap are adjacent.
 * Per-channel requantization constants live in "<y>_rq" (i32: qm, right
 * shift [, left shift]; i64 for 16x8: reduced, rounding, total).
 */
#include "lower_quant.h"
#include "quant.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Q {
	LProgram *p;
	const Block *b;
	const Node *n;
	char *msg;
	size_t msgn;
	int err;
	int dsp;  /* the target has the Arm DSP extension: conv_dsp */
	int vec;  /* the target has vector registers: conv_vec (1: 2 × 2 blocks; 2: x86, 1 × 1 blocks) */
} Q;

static void qerr(Q *q, const char *fmt, ...)
{
	if (q->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->msg, q->msgn, fmt, ap);
	va_end(ap);
	q->err = 1;
}

/* ---- expression helpers ----------------------------------------------------- */

static LExpr *I32(Q *q, int64_t v) { return le_i32(q->p, v); }
static LExpr *IK(Q *q, LType t, int64_t v) { return le_int(q->p, t, v); }
static LExpr *V(Q *q, int v) { return v < 0 ? NULL : le_var(q->p, v); }
static LExpr *B(Q *q, LBinOp op, LExpr *a, LExpr *b) { return le_bin(q->p, op, a, b); }
static LExpr *ADD(Q *q, LExpr *a, LExpr *b) { return le_add(q->p, a, b); }
static LExpr *MULK(Q *q, LExpr *a, int64_t k) { return le_mul_k(q->p, a, k); }
static LExpr *CAST(Q *q, LType t, LExpr *a) { return a && a->type == t ? a : le_cast(q->p, t, a, 0); }
static LExpr *LD(Q *q, int buf, LExpr *i) { return le_load(q->p, buf, i); }
static LExpr *SEL(Q *q, LExpr *c, LExpr *a, LExpr *b) { return le_select(q->p, c, a, b); }

static int var(Q *q, const char *prefix, LType t, int loop)
{
	int v = loop_new_var(q->p, prefix, t, loop);
	if (v < 0)
		q->err = 1;
	return v;
}

static int let(Q *q, LStmtList *to, const char *prefix, LExpr *e)
{
	if (!e) {
		q->err = 1;
		return -1;
	}
	int v = var(q, prefix, e->type, 0);
	if (v >= 0 && !ls_let(q->p, to, v, e))
		q->err = 1;
	return v;
}

static void set(Q *q, LStmtList *to, int v, LExpr *e)
{
	if (v < 0 || !e || !ls_set(q->p, to, v, e))
		q->err = 1;
}

static void store(Q *q, LStmtList *to, int buf, LExpr *i, LExpr *e)
{
	if (!i || !e || !ls_store(q->p, to, buf, i, e))
		q->err = 1;
}

/* for v in lo..hi (constants); the body. *iv: the index expression maker. */
typedef struct Ix {
	int var; /* -1: constant c */
	int64_t c;
} Ix;

static LExpr *IX(Q *q, Ix x) { return x.var < 0 ? I32(q, x.c) : V(q, x.var); }

static LStmtList *FOR(Q *q, LStmtList *to, const char *name, int64_t lo, int64_t hi, Ix *iv)
{
	iv->var = -1;
	iv->c = lo;
	if (hi - lo == 1)
		return to;
	int v = var(q, name, LT_I32, 1);
	LStmt *s = v < 0 ? NULL : ls_for(q->p, to, v, I32(q, lo), I32(q, hi), 1);
	if (!s) {
		q->err = 1;
		return to;
	}
	iv->var = v;
	iv->c = 0;
	return &s->body;
}

static LStmtList *FORE(Q *q, LStmtList *to, const char *name, LExpr *lo, LExpr *hi, Ix *iv)
{
	int v = var(q, name, LT_I32, 1);
	LStmt *s = v < 0 || !lo || !hi ? NULL : ls_for(q->p, to, v, lo, hi, 1);
	iv->var = v;
	iv->c = 0;
	if (!s) {
		q->err = 1;
		iv->var = -1;
		return to;
	}
	return &s->body;
}

/* Part `part` of `total` items cut in blocks of B: part 0 the full blocks (a
 * loop, *ix the block index), part 1 the remainder (*ix the constant total/B).
 * *width: the part's block width; NULL (and width 0) when the part is empty. */
static LStmtList *BLOCKS(Q *q, LStmtList *to, const char *name, int64_t total, int64_t B, int part, Ix *ix,
                         int64_t *width)
{
	const int64_t n = total / B;
	*width = part == 0 ? (n ? B : 0) : total % B;
	if (!*width)
		return NULL;
	if (part == 0)
		return FOR(q, to, name, 0, n, ix);
	ix->var = -1;
	ix->c = n;
	return to;
}

/* Part `part` (0, 1, 2) of 0..n cut at a ≤ b: [0, a), [a, b), [b, n) in
 * *lo, *hi; 0 when that part is empty. */
static int part3(int part, int64_t a, int64_t b, int64_t n, int64_t *lo, int64_t *hi)
{
	*lo = part == 0 ? 0 : part == 1 ? a : b;
	*hi = part == 0 ? a : part == 1 ? b : n;
	return *hi > *lo;
}

/* Σ ix·k + c as an i32 expression */
static LExpr *AX(Q *q, int n, const Ix *x, const int64_t *k, int64_t c)
{
	LExpr *e = NULL;
	for (int i = 0; i < n; i++)
		if (x[i].var < 0)
			c += x[i].c * k[i];
	for (int i = 0; i < n; i++)
		if (x[i].var >= 0 && k[i] != 0) {
			LExpr *t = MULK(q, V(q, x[i].var), k[i]);
			e = e ? ADD(q, e, t) : t;
		}
	if (!e)
		return I32(q, c);
	return c ? ADD(q, e, I32(q, c)) : e;
}

/* ---- buffers ------------------------------------------------------------------ */

static int add_const(Q *q, const char *tname, const char *suffix, LType t, int64_t n, void *data)
{
	char base[80], name[112];
	size_t j = 0;
	if (!tname[0] || (tname[0] >= '0' && tname[0] <= '9'))
		base[j++] = 't';
	for (const char *s = tname; *s && j < 64; s++) {
		char ch = *s;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
		base[j++] = ok ? ch : '_';
	}
	base[j] = 0;
	snprintf(name, sizeof name, "%s%s", base, suffix);
	for (int k = 2; loop_find_buf(q->p, name) >= 0; k++)
		snprintf(name, sizeof name, "%s%s_%d", base, suffix, k);
	int bi = loop_add_buf(q->p, name, LB_CONST, t, n);
	if (bi < 0) {
		free(data);
		q->err = 1;
		return -1;
	}
	LBuf *bf = &q->p->bufs[bi];
	if (data) {
		bf->data = data;
		bf->origin = nnl_strdup(tname);
		if (!bf->origin)
			q->err = 1;
	}
	return bi;
}

/* An arena scratch buffer. */
static int add_scratch(Q *q, const char *tname, const char *suffix, LType t, int64_t n)
{
	char name[64];
	snprintf(name, sizeof name, "%.60s", tname);
	for (char *s = name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			*s = '_';
	char full[100];
	snprintf(full, sizeof full, "%s%s%.16s", (name[0] >= '0' && name[0] <= '9') ? "t" : "", name, suffix);
	char u[128];
	snprintf(u, sizeof u, "%s", full);
	for (int k = 2; loop_find_buf(q->p, u) >= 0; k++)
		snprintf(u, sizeof u, "%s_%d", full, k);
	int bi = loop_add_buf(q->p, u, LB_ARENA, t, n);
	if (bi < 0)
		q->err = 1;
	return bi;
}

static LType lt_of(DType t) { return t == DT_INT16 ? LT_I16 : t == DT_INT32 ? LT_I32 : LT_I8; }

/* ---- requantization ------------------------------------------------------------ */

/* Per-channel int8-scheme constants: rq[o·s + {0, 1, 2, 3}] = qm, right
 * shift, 2^(right−1) (0 for no right shift), left shift (s = 4 when some
 * channel shifts left, else 3; 12 bytes a channel). */
static int32_t *rq_table(const int32_t *qm, const int *sh, int64_t O, int *any_left)
{
	*any_left = 0;
	for (int64_t o = 0; o < O; o++)
		*any_left |= sh[o] > 0;
	const int st = *any_left ? 4 : 3;
	int32_t *t = nnl_malloc((size_t)(O ? O : 1) * (size_t)st * sizeof *t);
	if (!t)
		return NULL;
	for (int64_t o = 0; o < O; o++) {
		int right = sh[o] > 0 ? 0 : -sh[o];
		t[o * st + 0] = qm[o];
		t[o * st + 1] = right;
		t[o * st + 2] = right ? (int32_t)(INT64_C(1) << (right - 1)) : 0;
		if (st == 4)
			t[o * st + 3] = sh[o] > 0 ? sh[o] : 0;
	}
	return t;
}

/* MBQM(x, qm, shift) as nnl_mbqm; x: i32 expression; qm/right/mask/half/left:
 * i32 expressions (left NULL: no left shift). Emits lets into to, returns
 * an i32 expression.
 * SRDHM(a, b) = (a·b + nudge) / 2^31 truncated, nudge = 2^30 or 1 − 2^30 by
 * the sign of a·b, is (a·b + 2^30) >> 31 (arithmetic) for every a·b: for
 * a·b < 0 the sum is negative, and truncating v / 2^31 for v < 0 is
 * (v + 2^31 − 1) >> 31 = (a·b + 2^30) >> 31. (a = b = INT32_MIN, where
 * SRDHM saturates, cannot occur: qm > 0.) Emitted that way: one multiply-
 * accumulate and a funnel shift on 32-bit targets. */
/* hm = SRDHM(x, qm) = (x·qm + 2^round) >> (round + 1) as a new variable:
 * round 30 is SRDHM itself (x as given); round 31 is the smmulr form, for an
 * x2 = 2·x whose doubling the caller has shown not to overflow. */
static int srdhm(Q *q, LStmtList *to, LExpr *x, LExpr *qm, int round)
{
	LExpr *pr = B(q, LO_MUL, CAST(q, LT_I64, x), CAST(q, LT_I64, qm));
	return let(q, to, "hm",
	           CAST(q, LT_I32, B(q, LO_SHR, B(q, LO_ADD, pr, IK(q, LT_I64, INT64_C(1) << round)),
	                             IK(q, LT_I64, round + 1))));
}

/* RoundingDivideByPOT(hm, right): the mask/threshold form (mask = 2^right − 1,
 * half = mask >> 1) */
static LExpr *rdbpot(Q *q, int hm, LExpr *right, LExpr *mask, LExpr *half)
{
	LExpr *rem = B(q, LO_AND, V(q, hm), mask);
	LExpr *thr = B(q, LO_ADD, half, CAST(q, LT_I32, B(q, LO_LT, V(q, hm), I32(q, 0))));
	return B(q, LO_ADD, B(q, LO_SHR, V(q, hm), right), CAST(q, LT_I32, B(q, LO_GT, rem, thr)));
}

/* The same for right ≥ 1: (hm + 2^(right−1) + (hm >> 31)) >> right (p2 = 2^(right−1)) */
static LExpr *rdbpot_pos(Q *q, int hm, LExpr *right, LExpr *p2)
{
	return B(q, LO_SHR, B(q, LO_ADD, B(q, LO_ADD, V(q, hm), p2), B(q, LO_SHR, V(q, hm), I32(q, 31))), right);
}

static LExpr *mbqm(Q *q, LStmtList *to, LExpr *x, LExpr *qm, LExpr *right, LExpr *mask, LExpr *half, LExpr *left)
{
	if (left)
		x = B(q, LO_SHL, x, left);
	int hm = srdhm(q, to, x, qm, 30);
	return right ? rdbpot(q, hm, right, mask, half) : V(q, hm);
}

/* MBQM with compile-time constants. */
static LExpr *mbqm_k(Q *q, LStmtList *to, LExpr *x, int32_t qm, int sh)
{
	int left = sh > 0 ? sh : 0, right = sh > 0 ? 0 : -sh;
	int32_t mask = (int32_t)((INT64_C(1) << right) - 1);
	return mbqm(q, to, x, I32(q, qm), right ? I32(q, right) : NULL, I32(q, mask), I32(q, mask >> 1),
	            left ? I32(q, left) : NULL);
}

/* MBQM with compile-time constants of an x known to satisfy |x| ≤ bound:
 * where 2·|x|·2^left < 2^31, (2·x·2^left·qm + 2^31) >> 32 (one smmulr) is
 * SRDHM exactly, and the rounding shift by a constant right ≥ 1 is
 * (hm + 2^(right−1) + (hm >> 31)) >> right — both equal to nnl_mbqm's
 * formulas (see mbqm). Otherwise mbqm_k. */
static LExpr *mbqm_kb(Q *q, LStmtList *to, LExpr *x, int32_t qm, int sh, int64_t bound)
{
	int left = sh > 0 ? sh : 0, right = sh > 0 ? 0 : -sh;
	if (left > 29 || bound >= (INT64_C(1) << (30 - left)))
		return mbqm_k(q, to, x, qm, sh);
	int hm = srdhm(q, to, B(q, LO_SHL, x, I32(q, left + 1)), IK(q, LT_I64, qm), 31);
	return right ? rdbpot_pos(q, hm, I32(q, right), I32(q, INT64_C(1) << (right - 1))) : V(q, hm);
}

/* |MBQM(x)| for |x| ≤ bound: ≤ bound·qm·2^left / 2^31 rounded up, + 1 */
static int64_t mbqm_bound(int64_t bound, int32_t qm, int sh)
{
	int left = sh > 0 ? sh : 0, right = sh > 0 ? 0 : -sh;
	if (left > 30 || bound >= (INT64_C(1) << (31 - left)))
		return INT64_C(1) << 40;
	return ((((bound << left) * (int64_t)qm >> 31) + 1) >> right) + 1;
}

/* clamp(v + zy, lo, hi) cast to t; v: i32 */
static LExpr *out_clamp(Q *q, LExpr *v, int64_t zy, int32_t lo, int32_t hi, LType t)
{
	v = B(q, LO_MAX, B(q, LO_MIN, v, I32(q, hi - zy)), I32(q, lo - zy));
	return CAST(q, t, ADD(q, v, I32(q, zy)));
}

/* ---- Conv / Linear ----------------------------------------------------------------- */

typedef struct Acc {
	const Tensor *x, *w, *y;
	int wide;          /* 16x8 */
	int nofold;        /* bias not folded with zp_x (the input arrives as x − zp_x) */
	LType at;          /* accumulator type */
	int64_t O, Kt;     /* outputs, taps per output (Cg·KH·KW or K) */
	int8_t *wq;        /* weights as int8 */
	int bf_buf, rq_buf, w_buf;
	int any_left;
	int smm;           /* every |acc|·2^left < 2^30: SRDHM as ((2·acc·qm + 2^31) >> 32), one smmulr */
	int rfast;         /* every right shift ≥ 1: rounding as (hm + 2^(right−1) + (hm >> 31)) >> right */
	int pre2;          /* with smm: the accumulator already holds 2·acc (dw_dsp's doubled weights and bias) */
	int pre16;         /* with smm: the accumulator holds 16·acc (conv_dsp's int4 weights, nibbles ×16) */
	int zfold;         /* with smm and rfast: rq[o·3 + 2] holds 2^(right−1) + zy·2^right (acc_out) */
	int acc32_ok;      /* 16x8: every channel's Σ|w|·32768 < 2^31, so Σ w·x fits int32 */
	int acc32;         /* 16x8 on the DSP kernels: the accumulator is that int32 sum, the
	                    * bias is added in int64 by acc_out (acc_init: 0) */
	int64_t bmax;      /* max over channels of |acc| bound · 2^left */
	int cloc;          /* row_blocks: the block's folded biases and requantization constants
	                    * read from a copy in scratch cbuf (conv_dsp's dsp_unpack: CLOC) */
	int cbuf;
	int64_t coff;      /* the copy's first word: biases [coff, coff + 2), constants from coff + 2 */
	int32_t lo, hi;
	int64_t zy;
	LType yt;
} Acc;

/* Make the folded-bias and requantization buffers; weights unpacked in a->wq. */
static int acc_setup(Q *q, Acc *a, const Node *n)
{
	const Block *b = q->b;
	a->x = &b->tensors[n->in[0]];
	a->w = &b->tensors[n->in[1]];
	a->y = &b->tensors[n->out];
	a->wide = a->x->dtype == DT_INT16;
	a->at = a->wide ? LT_I64 : LT_I32;
	a->yt = lt_of(a->y->dtype);
	a->O = a->w->shape[0];
	a->Kt = a->O ? tensor_numel(a->w) / a->O : 0;
	nnl_qrange(a->y->dtype, &a->lo, &a->hi);
	a->zy = a->y->quant->zero_point[0];
	int64_t nw = tensor_numel(a->w);
	a->wq = nnl_malloc((size_t)(nw ? nw : 1));
	int32_t *qm = nnl_malloc((size_t)(a->O ? a->O : 1) * sizeof *qm);
	int *sh = nnl_malloc((size_t)(a->O ? a->O : 1) * sizeof *sh);
	void *bf = nnl_malloc((size_t)(a->O ? a->O : 1) * 8);
	if (!a->wq || !qm || !sh || !bf) {
		free(qm), free(sh), free(bf);
		q->err = 1;
		return -1;
	}
	for (int64_t i = 0; i < nw; i++)
		a->wq[i] = (int8_t)dtype_get_i64(a->w->dtype, a->w->data, i);
	const int64_t zx = a->x->quant->zero_point[0];
	const Tensor *bt = n->n_in > 2 ? &b->tensors[n->in[2]] : NULL;
	for (int64_t o = 0; o < a->O; o++) {
		double sw = a->w->quant->scale[a->w->quant->n == 1 ? 0 : o];
		nnl_quantize_multiplier(a->x->quant->scale[0] * sw / a->y->quant->scale[0], &qm[o], &sh[o]);
		int64_t s = 0;
		for (int64_t k = 0; k < a->Kt; k++)
			s += a->wq[o * a->Kt + k];
		int64_t bias = bt ? dtype_get_i64(bt->dtype, bt->data, o) : 0;
		int64_t v = a->nofold ? bias : bias - zx * s;
		if (a->wide)
			((int64_t *)bf)[o] = v;
		else
			((int32_t *)bf)[o] = (int32_t)(uint32_t)(uint64_t)v; /* wraps as the int32 sum does */
	}
	a->bf_buf = add_const(q, a->y->name, "_qbias", a->at, a->O, bf);
	if (a->wide) {
		a->acc32_ok = 1;
		for (int64_t o = 0; o < a->O; o++) {
			int64_t sw = 0;
			for (int64_t k = 0; k < a->Kt; k++)
				sw += a->wq[o * a->Kt + k] < 0 ? -a->wq[o * a->Kt + k] : a->wq[o * a->Kt + k];
			if (sw * 32768 >= (INT64_C(1) << 31))
				a->acc32_ok = 0;
		}
		int64_t *t = nnl_malloc((size_t)(a->O ? a->O : 1) * 3 * sizeof *t);
		if (!t) {
			free(qm), free(sh);
			q->err = 1;
			return -1;
		}
		for (int64_t o = 0; o < a->O; o++) {
			int32_t red = qm[o] < 0x7FFF0000 ? (int32_t)((qm[o] + (1 << 15)) >> 16) : 0x7FFF;
			int total = 15 - sh[o];
			if (total < 1 || total > 62) {
				free(qm), free(sh), free(t);
				qerr(q, "16x8 requantization shift %d out of range", total);
				return -1;
			}
			t[o * 3 + 0] = red;
			t[o * 3 + 1] = INT64_C(1) << (total - 1);
			t[o * 3 + 2] = total;
		}
		a->rq_buf = add_const(q, a->y->name, "_rq", LT_I64, a->O * 3, t);
	} else {
		int32_t *t = rq_table(qm, sh, a->O, &a->any_left);
		if (!t) {
			free(qm), free(sh);
			q->err = 1;
			return -1;
		}
		/* the accumulator's bound: |bias'| + Σ|w|·max|x operand| (the operand is
		 * x − zp_x without the fold, else x); below 2^30 after the left shift,
		 * 2·acc fits int32 and the product's rounding is one smmulr */
		int32_t xlo, xhi;
		nnl_qrange(a->x->dtype, &xlo, &xhi);
		int64_t xm = a->nofold ? (xhi - zx > zx - xlo ? xhi - zx : zx - xlo) : (xhi > -(int64_t)xlo ? xhi : -(int64_t)xlo);
		a->smm = a->rfast = 1;
		for (int64_t o = 0; o < a->O; o++) {
			int64_t bias = bt ? dtype_get_i64(bt->dtype, bt->data, o) : 0, s = 0, sw = 0;
			for (int64_t k = 0; k < a->Kt; k++) {
				s += a->wq[o * a->Kt + k];
				sw += a->wq[o * a->Kt + k] < 0 ? -a->wq[o * a->Kt + k] : a->wq[o * a->Kt + k];
			}
			int64_t b0 = a->nofold ? bias : bias - zx * s, bound = (b0 < 0 ? -b0 : b0) + sw * xm;
			int left = sh[o] > 0 ? sh[o] : 0;
			if (left > 30 || bound >= (INT64_C(1) << (30 - left)))
				a->smm = 0;
			else if ((bound << left) > a->bmax)
				a->bmax = bound << left;
			if (sh[o] >= 0)
				a->rfast = 0;
		}
		/* the output zero point folded into the rounding constant (acc_out):
		 * rq[o·3 + 2] = 2^(right−1) + zy·2^right, when |hm| ≤ 2^30 (smm) plus
		 * that constant and the sign term stays below 2^31 for every channel */
		const int st = a->any_left ? 4 : 3;
		a->zfold = a->smm && a->rfast;
		for (int64_t o = 0; o < a->O && a->zfold; o++) {
			int64_t r = -sh[o], zm = a->zy < 0 ? -a->zy : a->zy;
			if (r > 30 || (INT64_C(1) << 30) + 2 + (INT64_C(1) << (r - 1)) + zm * (INT64_C(1) << r) >= (INT64_C(1) << 31))
				a->zfold = 0;
		}
		for (int64_t o = 0; o < a->O && a->zfold; o++)
			t[o * st + 2] = (int32_t)(t[o * st + 2] + a->zy * (INT64_C(1) << -sh[o]));
		a->rq_buf = add_const(q, a->y->name, "_rq", LT_I32, a->O * st, t);
	}
	free(qm), free(sh);
	return q->err ? -1 : 0;
}

/* The folded bias times k (the accumulator holds k·acc: doubled or ×16
 * operands; a->smm, a->bmax bound k·|bias|) */
static void scale_bias(Q *q, const Acc *a, uint32_t k)
{
	int32_t *bf = q->p->bufs[a->bf_buf].data;
	for (int64_t o = 0; o < a->O; o++)
		bf[o] = (int32_t)((uint32_t)bf[o] * k);
}

/* rq[i], or with a->cloc its copy: cbuf[coff + 2 + i] (oc is then the
 * channel within the block) */
static LExpr *RQLD(Q *q, const Acc *a, LExpr *i)
{
	return a->cloc ? LD(q, a->cbuf, ADD(q, i, I32(q, a->coff + 2))) : LD(q, a->rq_buf, i);
}

/* CLOC: output channel AX(n, xs, ks, c)'s folded bias copied to dst[bias_at],
 * its requantization constants to dst[rq_at …] (where RQLD reads them) */
static void cloc_copy(Q *q, LStmtList *l, const Acc *a, int dst, int64_t bias_at, int64_t rq_at, int n, const Ix *xs,
                      const int64_t *ks, int64_t c)
{
	const int64_t st = a->any_left ? 4 : 3;
	store(q, l, dst, I32(q, bias_at), LD(q, a->bf_buf, AX(q, n, xs, ks, c)));
	for (int64_t k = 0; k < st; k++)
		store(q, l, dst, I32(q, rq_at + k), LD(q, a->rq_buf, ADD(q, MULK(q, AX(q, n, xs, ks, c), st), I32(q, k))));
}

/* Requantize accumulator variable acc of output channel oc (i32 expr maker) and return the stored value. */
static LExpr *acc_out(Q *q, LStmtList *to, const Acc *a, int acc, LExpr *(*oc)(Q *, void *), void *ctx)
{
	if (a->wide) {
		LExpr *av = a->acc32 ? ADD(q, LD(q, a->bf_buf, oc(q, ctx)), CAST(q, LT_I64, V(q, acc))) : V(q, acc);
		LExpr *r = B(q, LO_ADD, B(q, LO_MUL, av, RQLD(q, a, MULK(q, oc(q, ctx), 3))),
		             RQLD(q, a, ADD(q, MULK(q, oc(q, ctx), 3), I32(q, 1))));
		r = B(q, LO_SHR, r, RQLD(q, a, ADD(q, MULK(q, oc(q, ctx), 3), I32(q, 2))));
		return le_cast(q->p, a->yt, r, 1); /* clamp to int32 then to int16 (zero_point 0) = clamp to int16 */
	}
	const int st = a->any_left ? 4 : 3;
	LExpr *left = a->any_left ? RQLD(q, a, ADD(q, MULK(q, oc(q, ctx), st), I32(q, 3))) : NULL;
	if (a->smm) {
		/* hm = (2·acc·2^left·qm + 2^31) >> 32 (no overflow: a->smm) */
		LExpr *x2 = a->pre2 ? (left ? B(q, LO_SHL, V(q, acc), left) : V(q, acc))
		            : a->pre16 ? B(q, LO_SHR, V(q, acc), I32(q, 3)) /* exact: 16·acc >> 3 = 2·acc */
		                       : B(q, LO_SHL, V(q, acc), left ? ADD(q, left, I32(q, 1)) : I32(q, 1));
		if (a->pre16 && left)
			x2 = B(q, LO_SHL, x2, left);
		LExpr *rsh = RQLD(q, a, ADD(q, MULK(q, oc(q, ctx), st), I32(q, 1)));
		if (a->zfold) {
			/* v + zy = (hm + 2^(right−1) + zy·2^right + (x2 >> 31)) >> right:
			 * hm < 0 implies x2 < 0 and hm > 0 implies x2 > 0 (qm > 0), so the
			 * sign of x2 is hm's except where hm = 0, and there (2^(right−1) − 1)
			 * >> right = 2^(right−1) >> right = 0 (right ≥ 1): one smmlar, an
			 * add, the shift and the clamp (one ssat for int8), no smmulr for
			 * hm's sign and no add of zy; |hm| ≤ 2^30 and the constant's bound
			 * (acc_setup) keep the sum in int32 */
			int xv = let(q, to, "x2", x2);
			int hm = srdhm(q, to, V(q, xv), RQLD(q, a, MULK(q, oc(q, ctx), st)), 31);
			LExpr *c = RQLD(q, a, ADD(q, MULK(q, oc(q, ctx), st), I32(q, 2)));
			LExpr *v = B(q, LO_SHR, ADD(q, ADD(q, V(q, hm), c), B(q, LO_SHR, V(q, xv), I32(q, 31))), rsh);
			return CAST(q, a->yt, B(q, LO_MAX, B(q, LO_MIN, v, I32(q, a->hi)), I32(q, a->lo)));
		}
		int hm = srdhm(q, to, x2, RQLD(q, a, MULK(q, oc(q, ctx), st)), 31);
		LExpr *v;
		if (a->rfast) {
			v = rdbpot_pos(q, hm, rsh, RQLD(q, a, ADD(q, MULK(q, oc(q, ctx), st), I32(q, 2))));
		} else {
			int rv = let(q, to, "rsh", rsh);
			int mv = let(q, to, "mask", B(q, LO_SUB, B(q, LO_SHL, I32(q, 1), V(q, rv)), I32(q, 1)));
			v = rdbpot(q, hm, V(q, rv), V(q, mv), B(q, LO_SHR, V(q, mv), I32(q, 1)));
		}
		/* |v| ≤ |hm| + 1 < 2^30: v + zy cannot overflow, and the clamp is one ssat for int8 */
		v = B(q, LO_MAX, B(q, LO_MIN, ADD(q, v, I32(q, a->zy)), I32(q, a->hi)), I32(q, a->lo));
		return CAST(q, a->yt, v);
	}
	int rv = let(q, to, "rsh", RQLD(q, a, ADD(q, MULK(q, oc(q, ctx), st), I32(q, 1))));
	int mv = let(q, to, "mask", B(q, LO_SUB, B(q, LO_SHL, I32(q, 1), V(q, rv)), I32(q, 1)));
	LExpr *v = mbqm(q, to, V(q, acc), RQLD(q, a, MULK(q, oc(q, ctx), st)), V(q, rv), V(q, mv),
	                B(q, LO_SHR, V(q, mv), I32(q, 1)), left);
	return out_clamp(q, v, a->zy, a->lo, a->hi, a->yt);
}

/* acc + dot2(w, x): int32, or for 16x8 the 64-bit accumulator plus the
 * exact 32-bit dot2 (|·| ≤ 2·32768·128; one smlald on the DSP) */
static LExpr *ACC_DOT2(Q *q, const Acc *a, int acc, LExpr *w, LExpr *x)
{
	LExpr *d = B(q, LO_DOT2, w, x);
	return B(q, LO_ADD, V(q, acc), a->wide && !a->acc32 ? CAST(q, LT_I64, d) : d);
}

/* A DSP kernel's accumulator start: the folded bias, or 0 with a->acc32 */
static LExpr *ACC_INIT(Q *q, const Acc *a, LExpr *oc)
{
	return a->acc32 ? I32(q, 0) : LD(q, a->bf_buf, oc);
}

/* the output channel of block element j: base (Ix list) + j */
typedef struct OcCtx {
	int n;
	Ix x[3];
	int64_t k[3];
	int64_t c;
} OcCtx;

static LExpr *oc_expr(Q *q, void *ctx)
{
	OcCtx *o = ctx;
	return AX(q, o->n, o->x, o->k, o->c);
}

/* Weights re-laid out per block of ob outputs: block starting at o0 with
 * width bw holds [tap][j] at o0·Kt + tap·bw + j. Blocks tile each group. */
static int8_t *block_weights(const Acc *a, int64_t G, int64_t ob)
{
	int64_t Og = a->O / G, Kt = a->Kt;
	int8_t *v = nnl_malloc((size_t)(a->O * Kt > 0 ? a->O * Kt : 1));
	if (!v)
		return NULL;
	for (int64_t g = 0; g < G; g++)
		for (int64_t b0 = 0; b0 < Og; b0 += ob) {
			int64_t bw = Og - b0 < ob ? Og - b0 : ob, o0 = g * Og + b0;
			for (int64_t t = 0; t < Kt; t++)
				for (int64_t j = 0; j < bw; j++)
					v[o0 * Kt + t * bw + j] = a->wq[(o0 + j) * Kt + t];
		}
	return v;
}

typedef struct ConvGeom ConvGeom;
/* q->vec: runs of fewer taps (KW·Cg, or K) stay on the portable kernel, where
 * a vector loop has nothing to chew on (measured: Fashion-MNIST's first conv,
 * KW·Cg = 3, is 18 % slower on x86-64-v2 in the int16 band) */
#define VEC_MIN_RUN 8

/* conv_dsp pads each kernel row's run of KW·Cg taps to Cp channels and to a
 * multiple of 4: when that more than doubles the MACs (one input channel, odd
 * stride: 3 taps in 8 slots for a 3×3), the portable kernel is faster
 * (Fashion-MNIST's first conv: measured below) */
/* conv_dsp's channels per band pixel: Cg when even, Cg + 1 when odd, 1 for a
 * single channel with an even stride (pairs then run across columns) */
static int64_t dsp_cp(int64_t cg, int64_t sw)
{
	return cg % 2 == 0 ? cg : cg == 1 && sw % 2 == 0 ? 1 : cg + 1;
}

static int dsp_wasteful(int64_t cg, int64_t kw, int64_t sw)
{
	int64_t r = kw * dsp_cp(cg, sw);
	return 4 * ((r + 3) / 4) > 2 * kw * cg;
}
static int conv_dsp(Q *q, LStmtList *to, const int *inb, int yb, struct Acc *a, const ConvGeom *g);
static int dw_dsp(Q *q, LStmtList *to, const int *inb, int yb, struct Acc *a, const ConvGeom *g);
static int linear_dsp(Q *q, LStmtList *to, const int *inb, int yb, struct Acc *a, int64_t rows);

static int lower_linear(Q *q, LStmtList *to, const int *inb, int yb)
{
	Acc a;
	memset(&a, 0, sizeof a);
	/* on the DSP extension: a 1×1 convolution of rows images of K channels */
	const Tensor *xt = &q->b->tensors[q->n->in[0]];
	a.nofold = (q->dsp || (q->vec && q->b->tensors[q->n->in[1]].shape[1] >= VEC_MIN_RUN)) &&
	           (xt->dtype != DT_INT16 || (q->dsp && !q->vec && xt->quant->zero_point[0] == 0)) &&
	           q->b->tensors[q->n->in[1]].shape[0] >= 2;
	if (acc_setup(q, &a, q->n) < 0) {
		free(a.wq);
		return -1;
	}
	const int64_t K = a.Kt, O = a.O, rows = K ? tensor_numel(a.x) / K : 0;
	if (a.nofold)
		return linear_dsp(q, to, inb, yb, &a, rows);
	const int64_t OB = 8;
	int8_t *wb = block_weights(&a, 1, OB);
	free(a.wq);
	if (!wb) {
		q->err = 1;
		return -1;
	}
	a.w_buf = add_const(q, a.w->name, "_qblk", LT_I8, O * K, wb);
	if (q->err)
		return -1;
	Ix r;
	LStmtList *lr = FOR(q, to, "r", 0, rows, &r);
	for (int part = 0; part < 2; part++) {
		int64_t bw;
		Ix ob;
		LStmtList *l = BLOCKS(q, lr, "ob", O, OB, part, &ob, &bw);
		if (!l)
			continue;
		OcCtx oc[8];
		int acc[8];
		for (int j = 0; j < bw; j++) {
			oc[j] = (OcCtx){1, {ob}, {OB}, j};
			acc[j] = let(q, l, "acc", LD(q, a.bf_buf, oc_expr(q, &oc[j])));
		}
		Ix k;
		LStmtList *lk = FOR(q, l, "k", 0, K, &k);
		{
			Ix xs[2] = {r, k};
			int64_t xk[2] = {K, 1};
			int xv = let(q, lk, "xv", CAST(q, a.at, LD(q, inb[0], AX(q, 2, xs, xk, 0))));
			for (int j = 0; j < bw; j++) {
				Ix ws[2] = {ob, k};
				int64_t wk[2] = {OB * K, bw};
				LExpr *w = CAST(q, a.at, LD(q, a.w_buf, AX(q, 2, ws, wk, j)));
				set(q, lk, acc[j], B(q, LO_ADD, V(q, acc[j]), B(q, LO_MUL, w, V(q, xv))));
			}
		}
		for (int j = 0; j < bw; j++) {
			LExpr *v = acc_out(q, l, &a, acc[j], oc_expr, &oc[j]);
			Ix ys[2] = {r, ob};
			int64_t yk[2] = {O, OB};
			store(q, l, yb, AX(q, 2, ys, yk, j), v);
		}
	}
	return q->err ? -1 : 0;
}

/* ---- Conv on the Arm DSP extension ----------------------------------------------
 *
 * int8 activations, int8 (or int4) weights, kernel width dilation 1 and at
 * least two output channels per group (not depthwise): the MACs are SMLADs,
 * two 16×16-bit products a time, on packed pairs.
 *
 * Per image, group and output row oy, a band of KH input rows is packed as
 * int16 x − zp_x, two to an i32 word, pixel-major: band[ky][xp][c] with
 * xp = ix + pl the padded column and c < Cp the channel (Cp = Cg, or
 * Cg + 1 when Cg is odd, or 1 when Cg = 1 and the stride is even). Taps
 * outside the input are packed as 0 — the padding lives in the packing's
 * bounds, there is no padded copy of the input — so the bias is not folded
 * with zp_x. For an output column ox the taps of row ky are then one
 * contiguous run of R = KW·Cp values starting at word ox·sw·Cp/2, and the
 * weights are stored run by run (R rounded up to 4 with zeros), four int8
 * to an i32 word in the order w0 w2 w1 w3, so that sxtb16 gives the pair
 * (w0, w1) and sxtb16h the pair (w2, w3), matched with the packed pairs
 * (x0, x1) and (x2, x3): 4 MACs per weight word = 1 load, 2 sxtb16, 2 smlad
 * per output. Register block: 2 output channels × 2 columns. */
struct ConvGeom {
	int64_t N, C, O, G, Cg, Og, H, W, KH, KW, OH, OW, sh, sw, dh, pt, pl;
};

/* Bytes of node n's activations in the arena: its inputs that are not
 * constants, and its output (not the model's input and output, which are
 * the caller's buffers). */
static int64_t node_act_bytes(const Block *b, const Node *n)
{
	int64_t s = 0;
	for (int i = 0; i < n->n_in; i++) {
		const Tensor *t = &b->tensors[n->in[i]];
		if (!t->data && n->in[i] != b->x)
			s += dtype_bytes(t->dtype, tensor_numel(t));
	}
	if (n->out != b->y)
		s += dtype_bytes(b->tensors[n->out].dtype, tensor_numel(&b->tensors[n->out]));
	return s;
}

/* The scratch the node's kernel may take and likely leave the arena as it
 * is: the block's largest node_act_bytes less this node's. A heuristic:
 * tensors held across the node (a residual) and other kernels' scratch are
 * not counted. */
static int64_t scratch_budget(const Q *q)
{
	int64_t peak = 0;
	for (int i = 0; i < q->b->n_nodes; i++) {
		int64_t v = node_act_bytes(q->b, &q->b->nodes[i]);
		if (v > peak)
			peak = v;
	}
	peak -= node_act_bytes(q->b, q->n);
	return peak > 0 ? peak : 0;
}

/* A 1×1 convolution with stride 1 and no padding treats pixels alike: its
 * H×W plane is any R×C' with R·C' = H·W. One row of H·W columns where its
 * band (H·W·Cg int16) fits the scratch budget (scratch_budget), else rows
 * of d columns, d the largest divisor of H·W up to 64 (even ones first:
 * columns go in pairs) whose band stays within 4 KiB or the band of the
 * real row, so narrow planes (DS-CNN's 25×5, MobileNet's 6×6) get fewer
 * leftover columns and fewer per-row costs. */
static void flat_rows(ConvGeom *g, int64_t budget)
{
	const int64_t hw = g->H * g->W, cp = g->Cg + g->Cg % 2;
	if (hw * cp * 2 <= budget) { /* the whole plane as one row: its weights unpacked once */
		g->W = g->OW = hw;
		g->H = g->OH = 1;
		return;
	}
	int64_t cap = 4096 / (2 * cp);
	if (cap < g->W)
		cap = g->W;
	if (cap > 64)
		cap = 64;
	int64_t best = g->W;
	for (int64_t d = 1; d <= cap; d++) {
		if (hw % d)
			continue;
		int better = (d % 2 == 0 && best % 2) || (d % 2 == best % 2 && d > best);
		if (better)
			best = d;
	}
	g->W = g->OW = best;
	g->H = g->OH = hw / best;
}

static LExpr *PACK(Q *q, LExpr *lo, LExpr *hi)
{
	return B(q, LO_OR, B(q, LO_AND, lo, I32(q, 0xffff)), B(q, LO_SHL, hi, I32(q, 16)));
}

/* One input row as int16 column pairs: dst[dbase + m] = k·(x[row + 2m − pl] − zx,
 * x[row + 2m + 1 − pl] − zx) for m < RW, columns outside 0..W−1 as 0 (the
 * padding): the words with both columns inside have no test, the few at the
 * borders clamp the index and select. */
static void pack_row_pairs(Q *q, LStmtList *to, int dst, LExpr *dbase, int xb, LExpr *row, int64_t W, int64_t pl,
                           int64_t RW, int64_t zx, int64_t k)
{
	int64_t m0 = (pl + 1) / 2, m1 = (W + pl) / 2; /* 2m ≥ pl, 2m + 1 − pl ≤ W − 1 */
	if (m0 > RW)
		m0 = RW;
	if (m1 < m0)
		m1 = m0;
	if (m1 > RW)
		m1 = RW;
	int rv = let(q, to, "xrow", row), dv = let(q, to, "drow", dbase);
	for (int part = 0; part < 3; part++) {
		int64_t lo_m, hi_m;
		if (!part3(part, m0, m1, RW, &lo_m, &hi_m))
			continue;
		Ix m;
		LStmtList *l = FOR(q, to, "m", lo_m, hi_m, &m);
		LExpr *v[2];
		for (int h = 0; h < 2; h++) {
			Ix ms[1] = {m};
			int64_t mk[1] = {2};
			LExpr *ix = AX(q, 1, ms, mk, h - pl);
			if (part == 1) {
				v[h] = MULK(q, B(q, LO_SUB, CAST(q, LT_I32, LD(q, xb, ADD(q, V(q, rv), ix))), I32(q, zx)), k);
			} else {
				int ixv = let(q, l, "ix", ix);
				LExpr *inside = B(q, LO_AND, B(q, LO_GE, V(q, ixv), I32(q, 0)), B(q, LO_LT, V(q, ixv), I32(q, W)));
				LExpr *cl = B(q, LO_MIN, B(q, LO_MAX, V(q, ixv), I32(q, 0)), I32(q, W - 1));
				v[h] = SEL(q, inside, MULK(q, B(q, LO_SUB, CAST(q, LT_I32, LD(q, xb, ADD(q, V(q, rv), cl))), I32(q, zx)), k),
				           I32(q, 0));
			}
		}
		store(q, l, dst, ADD(q, V(q, dv), IX(q, m)), PACK(q, v[0], v[1]));
	}
}

/* ---- the band kernels' shared scaffolding (conv_vec, conv_dsp) ---------------- */

/* Per image n, group g and output row oy (loops appended to to, *lo the
 * row's body), and for each kernel row ky of that output row the band row's
 * input row iy = oy·sh − pt + ky·dh: *in_rows is the `if 0 ≤ iy < H` whose
 * body packs the row and whose else zeroes it. With rows > 0 (a whole
 * plane, conv_dsp) the band holds every padded row yp < rows once, iy =
 * yp − pt, *ky is yp, and *lo is the group's body (no oy loop: row_blocks
 * makes it). */
static int band_rows(Q *q, LStmtList *to, const ConvGeom *g, int64_t rows, Ix *in, Ix *gg, Ix *oy, LStmtList **lo,
                     Ix *ky, int *iy, LStmt **in_rows)
{
	LStmtList *ln = FOR(q, to, "n", 0, g->N, in);
	LStmtList *lg = FOR(q, ln, "g", 0, g->G, gg);
	LStmtList *lk;
	if (rows > 0) {
		*lo = lg;
		*oy = (Ix){-1, -1}; /* row_blocks' oy loop to come */
		lk = FOR(q, lg, "yp", 0, rows, ky);
		*iy = let(q, lk, "iy", ADD(q, IX(q, *ky), I32(q, -g->pt)));
	} else {
		*lo = FOR(q, lg, "oy", 0, g->OH, oy);
		lk = FOR(q, *lo, "ky", 0, g->KH, ky);
		Ix iys[2] = {*oy, *ky};
		int64_t iyk[2] = {g->sh, g->dh};
		*iy = let(q, lk, "iy", AX(q, 2, iys, iyk, -g->pt));
	}
	*in_rows = ls_if(q->p, lk, B(q, LO_AND, B(q, LO_GE, V(q, *iy), I32(q, 0)), B(q, LO_LT, V(q, *iy), I32(q, g->H))));
	if (!*in_rows)
		q->err = 1;
	return q->err ? -1 : 0;
}

/* The taps of one register block: bw channels from ob·OB (+ the group's
 * base), cw columns from oxb·PB, accumulators acc[j·cw + c]. */
typedef void (*BlockTaps)(Q *q, LStmtList *l, void *ctx, Ix ob, Ix oxb, int64_t bw, int64_t cw, const int *acc);
/* Optional: per channel block ob of bw channels, before its columns (l is
 * the ob loop's body) */
typedef void (*BlockPre)(Q *q, LStmtList *l, void *ctx, Ix ob, int64_t bw);

/* The outputs of row oy in blocks of OB channels × PB columns (and the
 * remainder blocks): accumulators from a->bf_buf, taps(…), then requantize
 * and store y[((n·O + g·Og + ob·OB + j)·OH + oy)·OW + oxb·PB + c]. */
static void row_blocks(Q *q, LStmtList *lo, Acc *a, const ConvGeom *g, Ix in, Ix gg, Ix *oyp, int yb, int64_t OB,
                       int64_t PB, BlockPre pre, BlockTaps taps, void *ctx)
{
	const int64_t Og = g->Og, OW = g->OW, OH = g->OH, O = a->O;
	/* a whole plane (band_rows, rows > 0): the rows loop inside the channel
	 * block, after pre */
	const int whole = oyp->var < 0 && oyp->c < 0;
	for (int pc = 0; pc < 2; pc++) {
		int64_t bw;
		Ix ob;
		LStmtList *lb = BLOCKS(q, lo, "ob", Og, OB, pc, &ob, &bw);
		if (!lb)
			continue;
		if (pre)
			pre(q, lb, ctx, ob, bw);
		if (whole)
			lb = FOR(q, lb, "oy", 0, OH, oyp);
		const Ix oy = *oyp;
		for (int px = 0; px < 2; px++) {
			int64_t cw;
			Ix oxb;
			LStmtList *l = BLOCKS(q, lb, "oxb", OW, PB, px, &oxb, &cw);
			if (!l)
				continue;
			int acc[16];
			OcCtx oc[4];
			for (int j = 0; j < bw; j++) {
				/* with a->cloc the channel within the block (the copy's index) */
				oc[j] = a->cloc ? (OcCtx){0, {{0}}, {0}, j} : (OcCtx){2, {gg, ob}, {Og, OB}, j};
				for (int c = 0; c < cw; c++)
					acc[j * cw + c] = let(q, l, "acc", a->cloc ? LD(q, a->cbuf, I32(q, a->coff + j))
					                                           : ACC_INIT(q, a, oc_expr(q, &oc[j])));
			}
			taps(q, l, ctx, ob, oxb, bw, cw, acc);
			for (int j = 0; j < bw; j++)
				for (int c = 0; c < cw; c++) {
					LExpr *v = acc_out(q, l, a, acc[j * cw + c], oc_expr, &oc[j]);
					Ix ys[5] = {in, gg, ob, oy, oxb};
					int64_t yk[5] = {O * OH * OW, Og * OH * OW, OB * OH * OW, OW, PB};
					store(q, l, yb, AX(q, 5, ys, yk, j * OH * OW + c), v);
				}
		}
	}
}

typedef struct VecTaps {
	const ConvGeom *g;
	int band, wb;
	int64_t R, RW;
	Ix gv; /* the group */
	int64_t OB, PB;
} VecTaps;

/* conv_vec's block: for ky, one loop over the run, acc += w·x in int32 */
static void vec_taps(Q *q, LStmtList *l, void *ctx, Ix ob, Ix oxb, int64_t bw, int64_t cw, const int *acc)
{
	const VecTaps *t = ctx;
	const ConvGeom *g = t->g;
	const int64_t R = t->R, KH = g->KH, Og = g->Og, OB = t->OB, PB = t->PB, sw = g->sw, Cg = g->Cg;
	Ix ky, e;
	LStmtList *lk = FOR(q, l, "ky", 0, KH, &ky);
	LStmtList *lt = FOR(q, lk, "e", 0, R, &e);
	int xv[2];
	for (int c = 0; c < cw; c++) {
		/* band[ky·RW + (oxb·PB + c)·sw·Cg + e] */
		Ix bs[3] = {ky, oxb, e};
		int64_t bk[3] = {t->RW, PB * sw * Cg, 1};
		xv[c] = let(q, lt, "xv", CAST(q, LT_I32, LD(q, t->band, AX(q, 3, bs, bk, c * sw * Cg))));
	}
	for (int j = 0; j < bw; j++) {
		/* wp[((g·Og + ob·OB + j)·KH + ky)·R + e] */
		Ix ws[4] = {t->gv, ob, ky, e};
		int64_t wk[4] = {Og * KH * R, OB * KH * R, R, 1};
		int wv = let(q, lt, "wv", CAST(q, LT_I32, LD(q, t->wb, AX(q, 4, ws, wk, j * KH * R))));
		for (int c = 0; c < cw; c++) {
			int ac = acc[j * cw + c];
			set(q, lt, ac, B(q, LO_ADD, V(q, ac), B(q, LO_MUL, V(q, wv), V(q, xv[c]))));
		}
	}
}

/* The same convolution for targets with vector registers (q->vec): the
 * band holds int16 x − zp_x elements, band[ky][xp][c] (c < Cg, no pairing),
 * the weights int8 [o][ky][kx·Cg + c], and the taps of row ky are one plain
 * loop over the run of R = KW·Cg elements accumulating 2 channels × 2
 * columns in int32: the shape LLVM's loop vectorizer turns into vector
 * multiply-accumulates (x86 pmulld/vpmulld + paddd, AArch64 mla on 32-bit
 * lanes, RISC-V vwmacc; LLVM 19 forms no pmaddwd/vpdpwssd from it). */
static int conv_vec(Q *q, LStmtList *to, const int *inb, int yb, Acc *a, const ConvGeom *g)
{
	const int64_t Cg = g->Cg, KH = g->KH, KW = g->KW, H = g->H, W = g->W, sw = g->sw;
	const int64_t R = KW * Cg, XPN = (g->OW - 1) * sw + KW, RW = XPN * Cg;
	const int64_t zx = a->x->quant->zero_point[0], O = a->O, Kt = a->Kt;
	int8_t *wp = nnl_malloc((size_t)(O * KH * R > 0 ? O * KH * R : 1));
	if (!wp) {
		free(a->wq);
		q->err = 1;
		return -1;
	}
	for (int64_t o = 0; o < O; o++)
		for (int64_t ky = 0; ky < KH; ky++)
			for (int64_t kx = 0; kx < KW; kx++)
				for (int64_t c = 0; c < Cg; c++)
					wp[(o * KH + ky) * R + kx * Cg + c] = a->wq[o * Kt + (c * KH + ky) * KW + kx];
	free(a->wq);
	a->wq = NULL;
	int wb = add_const(q, a->w->name, "_qvec", LT_I8, O * KH * R, wp);
	int band = add_scratch(q, a->y->name, "_band", LT_I16, KH * RW);
	if (q->err || wb < 0 || band < 0)
		return -1;
	const int xb = inb[0];
	Ix in, gg, oy, ky;
	LStmtList *lo;
	int iy;
	LStmt *in_rows;
	if (band_rows(q, to, g, 0, &in, &gg, &oy, &lo, &ky, &iy, &in_rows) < 0)
		return -1;
	{
		int64_t a0 = g->pl < XPN ? g->pl : XPN, a1 = g->pl + W < XPN ? g->pl + W : XPN;
		for (int part = 0; part < 3; part++) {
			/* zeros: the whole row outside the input, else the columns [0, pl) and [pl + W, XPN) */
			int64_t lo_e = part == 0 ? 0 : part == 1 ? 0 : a1 * Cg, hi_e = part == 0 ? RW : part == 1 ? a0 * Cg : RW;
			if (hi_e <= lo_e)
				continue;
			Ix e;
			LStmtList *l = FOR(q, part == 0 ? &in_rows->els : &in_rows->body, "bz", lo_e, hi_e, &e);
			Ix bs[2] = {ky, e};
			int64_t bk[2] = {RW, 1};
			store(q, l, band, AX(q, 2, bs, bk, 0), IK(q, LT_I16, 0));
		}
		if (a1 > a0) {
			Ix cc, ix;
			LStmtList *lc = FOR(q, &in_rows->body, "c", 0, Cg, &cc);
			LStmtList *l = FOR(q, lc, "ix", 0, a1 - a0, &ix);
			Ix xs[4] = {in, gg, cc, ix};
			int64_t xk[4] = {g->C * H * W, Cg * H * W, H * W, 1};
			LExpr *v = B(q, LO_SUB, CAST(q, LT_I32, LD(q, xb, ADD(q, AX(q, 4, xs, xk, 0), MULK(q, V(q, iy), W)))),
			             I32(q, zx));
			Ix bs[3] = {ky, ix, cc};
			int64_t bk[3] = {RW, Cg, 1};
			store(q, l, band, AX(q, 3, bs, bk, a0 * Cg), le_cast(q->p, LT_I16, v, 0));
		}
	}
	/* x86: one accumulator a loop, the only shape LLVM 19 turns into pmaddwd
	 * (AVX-512 VNNI: vpdpwssd); it was 1.0–1.4× faster than 2 × 2 blocks
	 * (bench/int8.py Table 3). Elsewhere 2 channels × 2 columns, which share
	 * their loads. */
	const int64_t vb = q->vec == 2 ? 1 : 2;
	VecTaps t = {g, band, wb, R, RW, gg, vb, vb};
	row_blocks(q, lo, a, g, in, gg, &oy, yb, vb, vb, NULL, vec_taps, &t);
	return q->err ? -1 : 0;
}

typedef struct DspTaps {
	const ConvGeom *g;
	int band, wb;
	int64_t RQ, RW, EPW;
	int nib;
	int64_t xstep; /* band words from one output column to the next */
	Ix gv;         /* the group */
	const Acc *a;
	int wun;       /* the block's weights as int16 pairs (scratch), or -1 */
	const Ix *oy;  /* a whole plane: the output row (band row oy·sh + ky·dh), else NULL (row ky) */
	int64_t PB;    /* output columns a block */
} DspTaps;

/* The weight word of block ob, channel j (< bw), kernel row ky, step r:
 * wp[(g·Og + ob·OB)·KH·RQ + (ky·RQ + r)·bw + j] (a block's words interleaved);
 * kr = ky·RQ + r */
static LExpr *dsp_wword(Q *q, const DspTaps *t, Ix ob, int nk, const Ix *ks, const int64_t *kk, int64_t bw,
                        int64_t j)
{
	const int64_t KH = t->g->KH, Og = t->g->Og, RQ = t->RQ, OB = 2;
	Ix ws[4] = {t->gv, ob};
	int64_t wk[4] = {Og * KH * RQ, OB * KH * RQ};
	for (int i = 0; i < nk; i++)
		ws[2 + i] = ks[i], wk[2 + i] = kk[i] * bw;
	return LD(q, t->wb, AX(q, 2 + nk, ws, wk, j));
}

/* The weight word's halves as int16 pairs: i = 0..XW−1 as dsp_taps pairs
 * them with the band's words (int8: sxtb16, sxtb16h; int4: those of the low
 * nibbles moved to the bytes' high halves, then of the high nibbles, int8
 * values ×16) */
static void dsp_halves(Q *q, LStmtList *l, const DspTaps *t, int ww, int *wv)
{
	int src[2] = {ww, ww};
	if (t->nib) {
		LExpr *mask = I32(q, (int32_t)0xF0F0F0F0u);
		src[0] = let(q, l, "wl", B(q, LO_AND, B(q, LO_SHL, V(q, ww), I32(q, 4)), mask));
		src[1] = let(q, l, "wh", B(q, LO_AND, V(q, ww), I32(q, (int32_t)0xF0F0F0F0u)));
	}
	for (int64_t i = 0; i < t->EPW / 2; i++)
		wv[i] = let(q, l, "wp", le_un(q->p, i % 2 ? LU_SXTB16H : LU_SXTB16, V(q, src[i / 2])));
}

/* conv_dsp's unpacked weights: per channel block (and output row), the
 * block's weight words as int16 pairs in steps of two pairs a channel (int4:
 * two steps a word), wun[((ky·RQw + h)·bw + j)·2 + i'], so that the block
 * loop loads them (one ldrd a channel and step) instead of extending them
 * for each column pair: 4 sxtb16 less and one ldrd more per 16 MACs (int4:
 * also the nibble masks), for 2·bw·KH·RQw words written per row (taken
 * where the row is wide enough, conv_dsp). Word kr = ky·RQ + r's pair i is
 * step h = (EPW/4)·r + i/2, i' = i % 2: index kr·XW·bw + (i/2)·2·bw + 2j + i%2. */
static void dsp_unpack(Q *q, LStmtList *l, void *ctx, Ix ob, int64_t bw)
{
	const DspTaps *t = ctx;
	const int64_t XW = t->EPW / 2;
	Ix kr;
	LStmtList *lk = FOR(q, l, "kr", 0, t->g->KH * t->RQ, &kr);
	if (lk != l) /* kept a loop (int8: the asm's, llvm_smlad.c): it runs once a row */
		l->v[l->n - 1]->nounroll = 1;
	for (int64_t j = 0; j < bw; j++) {
		int64_t one = 1;
		int w = let(q, lk, "ww", dsp_wword(q, t, ob, 1, &kr, &one, bw, j)), wv[4];
		dsp_halves(q, lk, t, w, wv);
		for (int64_t i = 0; i < XW; i++) {
			Ix ks[1] = {kr};
			int64_t kk[1] = {XW * bw};
			store(q, lk, t->wun, AX(q, 1, ks, kk, (i / 2) * 2 * bw + 2 * j + i % 2), V(q, wv[i]));
		}
	}
	/* CLOC: the block's folded biases and requantization constants after
	 * the weights, so that one pointer reaches all a block reads but its
	 * input (llvm_smlad.c's block asm: a register more for the asm) */
	const Acc *a = t->a;
	if (!a->cloc)
		return;
	const int64_t st = a->any_left ? 4 : 3;
	Ix os[2] = {t->gv, ob};
	int64_t ok[2] = {t->g->Og, 2};
	for (int64_t j = 0; j < bw; j++)
		cloc_copy(q, l, a, t->wun, a->coff + j, a->coff + 2 + j * st, 2, os, ok, j);
}

/* conv_dsp's block: per kernel row and weight word, the packed x words of
 * each column and the weight halves (sxtb16/sxtb16h; int4: of the nibbles
 * moved to the bytes' high halves), one SMLAD per pair */
static void dsp_taps(Q *q, LStmtList *l, void *ctx, Ix ob, Ix oxb, int64_t bw, int64_t cw, const int *acc)
{
	const DspTaps *t = ctx;
	const int64_t KH = t->g->KH, PB = t->PB;
	/* packed x words per step (weight word, or two unpacked pairs), steps */
	const int64_t XW = t->wun >= 0 ? 2 : t->EPW / 2, RQ = t->wun >= 0 ? t->RQ * t->EPW / 4 : t->RQ;
	Ix ky, r;
	LStmtList *lk = FOR(q, l, "ky", 0, KH, &ky);
	LStmtList *lt = FOR(q, lk, "r", 0, RQ, &r);
	if (t->nib && lt != lk) /* int4 is for flash: the unpacked pairs' loop stays a loop */
		lk->v[lk->n - 1]->nounroll = 1;
	int xw[2][4];
	for (int c = 0; c < cw; c++)
		for (int64_t i = 0; i < XW; i++) {
			/* band[ky·RW + (oxb·PB + c)·xstep + XW·r + i]; a whole plane:
			 * row oy·sh + ky·dh */
			Ix bs[4] = {ky, oxb, r, t->oy ? *t->oy : (Ix){-1, 0}};
			int64_t bk[4] = {t->oy ? t->g->dh * t->RW : t->RW, PB * t->xstep, XW, t->g->sh * t->RW};
			xw[c][i] = let(q, lt, "xw", LD(q, t->band, AX(q, 4, bs, bk, c * t->xstep + i)));
		}
	for (int j = 0; j < bw; j++) {
		int wv[4];
		if (t->wun >= 0) { /* dsp_unpack's pairs: wun[((ky·RQw + r)·bw + j)·2 + i] */
			for (int64_t i = 0; i < XW; i++) {
				Ix us[2] = {ky, r};
				int64_t uk[2] = {RQ * bw * 2, bw * 2};
				wv[i] = let(q, lt, "wp", LD(q, t->wun, AX(q, 2, us, uk, 2 * j + i)));
			}
		} else {
			Ix ks[2] = {ky, r};
			int64_t kk[2] = {RQ, 1};
			dsp_halves(q, lt, t, let(q, lt, "ww", dsp_wword(q, t, ob, 2, ks, kk, bw, j)), wv);
		}
		for (int c = 0; c < cw; c++)
			for (int64_t i = 0; i < XW; i++) {
				int ac = acc[j * cw + c];
				set(q, lt, ac, ACC_DOT2(q, t->a, ac, V(q, wv[i]), V(q, xw[c][i])));
			}
	}
}

static int conv_dsp(Q *q, LStmtList *to, const int *inb, int yb, Acc *a, const ConvGeom *g)
{
	if (q->vec)
		return conv_vec(q, to, inb, yb, a, g);
	a->acc32 = a->wide && a->acc32_ok;
	const int64_t Cg = g->Cg, KH = g->KH, KW = g->KW, H = g->H, W = g->W, sw = g->sw;
	const int64_t Cp = dsp_cp(Cg, sw);
	/* int4 weights stay packed, 8 to a word (flash: half a byte a weight), when
	 * 16·|acc| fits: the nibbles are used as ×16 int8 values */
	const int nib = a->w->dtype == DT_INT4 && !a->wide && a->smm && a->bmax < (INT64_C(1) << 26);
	const int64_t EPW = nib ? 8 : 4; /* weights per i32 word */
	const int64_t R = KW * Cp, RQ = (R + EPW - 1) / EPW;
	/* band columns: the last output column's run reaches column (OW−1)·sw + ⌈EPW·RQ/Cp⌉ − 1 */
	int64_t XPN = (g->OW - 1) * sw + (EPW * RQ + Cp - 1) / Cp;
	if (Cp == 1)
		XPN += XPN % 2;
	const int64_t RW = XPN * Cp / 2; /* words per band row */
	const int64_t zx = a->x->quant->zero_point[0];
	const int64_t O = a->O, Kt = a->Kt;
	int32_t *wp = nnl_calloc((size_t)(O * KH * RQ > 0 ? O * KH * RQ : 1), sizeof *wp);
	if (!wp) {
		free(a->wq);
		q->err = 1;
		return -1;
	}
	for (int64_t o = 0; o < O; o++)
		for (int64_t ky = 0; ky < KH; ky++)
			for (int64_t r = 0; r < RQ; r++) {
				uint32_t word = 0;
				/* int8: bytes w0 w2 w1 w3; int4: the low nibbles of those bytes
				 * w0 w2 w1 w3, their high nibbles w4 w6 w5 w7 */
				static const int pos[8] = {0, 16, 8, 24, 4, 20, 12, 28};
				for (int i = 0; i < EPW; i++) {
					int64_t e = EPW * r + i, kx = e / Cp, c = e % Cp;
					int8_t v = kx < KW && c < Cg ? a->wq[o * Kt + (c * KH + ky) * KW + kx] : 0;
					word |= (nib ? (uint32_t)(v & 15) : (uint32_t)(uint8_t)v) << pos[i];
				}
				/* the two channels of a register block alternate word by word
				 * (one ldrd loads both); the odd channel left over stays alone */
				int64_t og = o % g->Og, blk = og / 2, bwo = 2 * blk + 2 <= g->Og ? 2 : 1;
				wp[(o - og + 2 * blk) * KH * RQ + (ky * RQ + r) * bwo + og % 2] = (int32_t)word;
			}
	free(a->wq);
	a->wq = NULL;
	if (nib) { /* acc holds 16·acc: the bias too (16·|bias| < 2^30 by a->bmax) */
		scale_bias(q, a, 16);
		a->pre16 = 1;
	}
	/* The whole padded plane (HPk rows) packed once per image and group
	 * where it fits under the model's largest layer (scratch_budget), with
	 * the rows inside the channel block: each input row packed once (the
	 * band packs it for each of the KH output rows that read it), and the
	 * block's weights unpacked once for all rows (dsp_unpack). Else a band
	 * of KH rows per output row, with the weights unpacked per block and
	 * row where the row has the columns to repay it: per row and channel
	 * pair 2·KH·RQ weight words unpacked (3.5 instructions each in the asm,
	 * more for int4's nibbles) against 3 instructions saved per step and
	 * column pair, KH·RQw·OW/2 steps: OW ≥ 8 (measured: 4 to 12 give the
	 * same M4 counts within 0.1 %); RQw ≥ 2: one step is no loop for the
	 * asm (llvm_smlad.c). */
	const int64_t RQw = RQ * EPW / 4; /* steps of two pairs */
	const int64_t HPk = (g->OH - 1) * g->sh + (KH - 1) * g->dh + 1;
	const int whole = g->OH > 1 && RQw >= 1 && HPk * RW * 4 <= scratch_budget(q);
	const int per_row = !whole && RQw >= 2 && g->OW >= 8;
	/* the band holds 2·(x − zp_x) (|·| ≤ 510 fits int16) and the bias is
	 * doubled, so the accumulator is the 2·acc the requantization wants (one
	 * shift less per output), when the band words packed (one more
	 * instruction each) are fewer than the outputs */
	const int64_t band_words = (whole ? HPk : KH) * RW, outs = g->Og * g->OW * (whole ? g->OH : 1);
	const int64_t dbl = a->smm && !nib && band_words < outs ? 2 : 1;
	if (dbl == 2) {
		scale_bias(q, a, 2);
		a->pre2 = 1;
	}
	int wb = add_const(q, a->w->name, "_qdsp", LT_I32, O * KH * RQ, wp);
	int band = add_scratch(q, a->y->name, "_band", LT_I32, band_words);
	/* the unpacked weights, then (int8 outputs: CLOC) the block's 2 biases and
	 * requantization constants */
	const int cloc = (per_row || whole) && !a->wide;
	const int64_t wun_words = 2 * 2 * KH * RQw + (cloc ? 2 + 2 * (a->any_left ? 4 : 3) : 0);
	int wun = per_row || whole ? add_scratch(q, a->y->name, "_wun", LT_I32, wun_words) : -1;
	if (q->err || wb < 0 || band < 0)
		return -1;
	const int xb = inb[0];
	Ix in, gg, oy, ky;
	LStmtList *lo;
	int iy;
	LStmt *in_rows;
	if (band_rows(q, to, g, whole ? HPk : 0, &in, &gg, &oy, &lo, &ky, &iy, &in_rows) < 0)
		return -1;
	{
		/* a row outside the input: zeros */
		{
			Ix wi;
			LStmtList *l = FOR(q, &in_rows->els, "bw", 0, RW, &wi);
			Ix bs[2] = {ky, wi};
			int64_t bk[2] = {RW, 1};
			store(q, l, band, AX(q, 2, bs, bk, 0), I32(q, 0));
		}
		LStmtList *lr = &in_rows->body;
		/* x[((n·C + g·Cg + c)·H + iy)·W + ix] */
		if (Cp == 1) {
			Ix rs[2] = {in, gg};
			int64_t rk[2] = {g->C * H * W, Cg * H * W};
			Ix bs[1] = {ky};
			int64_t bk[1] = {RW};
			pack_row_pairs(q, lr, band, AX(q, 1, bs, bk, 0), xb, ADD(q, AX(q, 2, rs, rk, 0), MULK(q, V(q, iy), W)), W,
			               g->pl, RW, zx, dbl);
		} else {
			/* columns: [0, pl) zeros, [pl, pl + W) the row, [pl + W, XPN) zeros */
			const int64_t CW = Cp / 2;
			int64_t a0 = g->pl < XPN ? g->pl : XPN, a1 = g->pl + W < XPN ? g->pl + W : XPN;
			for (int part = 0; part < 3; part += 2) {
				int64_t lo_x, hi_x;
				if (!part3(part, a0, a1, XPN, &lo_x, &hi_x))
					continue;
				Ix wi;
				LStmtList *l = FOR(q, lr, "bz", lo_x * CW, hi_x * CW, &wi);
				Ix bs[2] = {ky, wi};
				int64_t bk[2] = {RW, 1};
				store(q, l, band, AX(q, 2, bs, bk, 0), I32(q, 0));
			}
			if (a1 > a0) {
				Ix cw, ix;
				LStmtList *lc = FOR(q, lr, "cw", 0, CW, &cw);
				LStmtList *l = FOR(q, lc, "ix", 0, a1 - a0, &ix);
				LExpr *v[2];
				for (int h = 0; h < 2; h++) {
					if (Cg % 2 && h == 1) {
						/* the last pair of an odd Cg: channel Cg is 0 */
						Ix cs[1] = {cw};
						int64_t ck[1] = {2};
						LExpr *c1 = AX(q, 1, cs, ck, 1);
						LExpr *safe = B(q, LO_MIN, c1, I32(q, Cg - 1));
						Ix rs[2] = {in, gg};
						int64_t rk[2] = {g->C * H * W, Cg * H * W};
						LExpr *idx = ADD(q, ADD(q, AX(q, 2, rs, rk, 0), MULK(q, ADD(q, MULK(q, safe, H), V(q, iy)), W)), IX(q, ix));
						v[h] = SEL(q, B(q, LO_LT, c1, I32(q, Cg)),
						           MULK(q, B(q, LO_SUB, CAST(q, LT_I32, LD(q, xb, idx)), I32(q, zx)), dbl), I32(q, 0));
						continue;
					}
					Ix xs[4] = {in, gg, cw, ix};
					int64_t xk[4] = {g->C * H * W, Cg * H * W, 2 * H * W, 1};
					LExpr *idx = ADD(q, AX(q, 4, xs, xk, h * H * W), MULK(q, V(q, iy), W));
					v[h] = MULK(q, B(q, LO_SUB, CAST(q, LT_I32, LD(q, xb, idx)), I32(q, zx)), dbl);
				}
				/* band[ky·RW + (pl + ix)·CW + cw] */
				Ix bs[3] = {ky, ix, cw};
				int64_t bk[3] = {RW, CW, 1};
				store(q, l, band, AX(q, 3, bs, bk, a0 * CW), PACK(q, v[0], v[1]));
			}
		}
	}

	/* Blocks of 2 channels × 2 columns (each step's 2 input and 2 weight
	 * ldrd feed 8 smlads), or × 1 column for long 1×1 reductions with the
	 * constants copied (CLOC): llvm_smlad.c's block asm then loads 4 input
	 * words and each 4 weight words by one ldm, 11 instructions per 16 MACs
	 * instead of 12, for a requantization of 2 outputs a block instead of 4
	 * (~9 instructions an output more). The break-even is ~20 pairs an
	 * output; taken from 32 (K ≥ 64 for a 1×1; docs/quantization.md). */
	const int64_t PB = cloc && KH == 1 && !nib && 2 * RQw >= 32 && RQw % 2 == 0 ? 1 : 2;
	DspTaps t = {g, band, wb, RQ, RW, EPW, nib, sw * Cp / 2, gg, a, wun, whole ? &oy : NULL, PB};
	a->cloc = cloc;
	a->cbuf = wun;
	a->coff = 2 * 2 * KH * RQw;
	row_blocks(q, lo, a, g, in, gg, &oy, yb, 2, PB, t.wun >= 0 ? dsp_unpack : NULL, dsp_taps, &t);
	a->cloc = 0;
	return q->err ? -1 : 0;
}

/* Depthwise convolution (one output channel per input channel) on the Arm
 * DSP extension, stride 1 or 2 along x. Per image and channel, the padded
 * plane rows the outputs read are packed once as int16 column pairs
 * (pack_row_pairs: x − zp_x, 0 outside the input, so the bias is not
 * folded), plane[yp][m] = (col 2m, col 2m+1), yp = iy + pt. For stride 1 a
 * pair of outputs (2p, 2p+1) reads, per kernel row, the T = (KW+2)/2 words
 * p..p+T−1: output 2p with the weight pairs E_t = (w_2t, w_2t+1), output
 * 2p+1 with O_t = (w_2t−1, w_2t) (w outside 0..KW−1 is 0), one SMLAD each:
 * for 3×3, 2 loads and 4 SMLADs make 6 MACs. For stride 2, output ox reads
 * words ox..ox+T−1 with E_t, T = (KW+1)/2, and neighbours share a word.
 * Weights (and the bias) are stored doubled when a->smm holds, which saves
 * the requantization's ×2. Blocks of 4 outputs at stride 1 (a row of up
 * to 5: one block), 5 at stride 2. */
#define DW_MAX_KH 7
#define DW_MAX_T 4  /* KW ≤ 7 */
static int dw_dsp(Q *q, LStmtList *to, const int *inb, int yb, Acc *a, const ConvGeom *g)
{
	const int64_t C = g->C, H = g->H, W = g->W, KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW, sw = g->sw;
	const int64_t T = sw == 1 ? (KW + 2) / 2 : (KW + 1) / 2, NS = sw == 1 ? 2 : 1; /* weight sets E (, O) */
	const int64_t XPW = sw == 1 ? (OW - 1) / 2 + T : OW - 1 + T;       /* words per packed row */
	const int64_t HPk = (OH - 1) * g->sh + (KH - 1) * g->dh + 1;     /* packed rows */
	const int64_t zx = a->x->quant->zero_point[0], Kt = a->Kt;
	const int dbl = a->smm ? 2 : 1;
	a->pre2 = a->smm;
	a->acc32 = a->wide && a->acc32_ok;
	/* the int8 weights as they are (flash: one byte a weight); the pairs are
	 * made per channel, outside the pixel loops */
	int wb = add_const(q, a->w->name, "_q8", LT_I8, C * Kt, a->wq);
	a->wq = NULL;
	if (a->smm) /* the bias doubled too: 2·bias fits (a->smm bounds |acc| < 2^30) */
		scale_bias(q, a, 2);
	int plane = add_scratch(q, a->y->name, "_plane", LT_I32, HPk * XPW);
	/* the pairs, then (int8 outputs in blocks of at most 4: CLOC) the channel's bias
	 * and requantization constants (blocks of 5 need a register more than
	 * llvm_smlad.c's block asm has; there the copy only costs) */
	const int64_t NB = sw == 1 ? (OW <= 5 ? 5 : 4) : 5;
	const int cloc = !a->wide && sw == 1 && (NB < OW ? NB : OW) <= 4;
	const int64_t st = a->any_left ? 4 : 3;
	int wpb = add_scratch(q, a->y->name, "_wpairs", LT_I32, KH * NS * T + (cloc ? 2 + st : 0));
	if (q->err || wb < 0 || plane < 0 || wpb < 0)
		return -1;
	const int xb = inb[0];
	Ix in, cc;
	LStmtList *ln = FOR(q, to, "n", 0, g->N, &in);
	LStmtList *lc = FOR(q, ln, "c", 0, C, &cc);
	/* the plane: rows yp of the padded input, iy = yp − pt: the rows above
	 * and below the input zeros, those between packed (three loops, no test
	 * per row) */
	{
		const int64_t y1 = g->pt < HPk ? g->pt : HPk, y2 = g->pt + H < HPk ? g->pt + H : HPk;
		for (int part = 0; part < 3; part++) {
			int64_t lo_y, hi_y;
			if (!part3(part, y1, y2, HPk, &lo_y, &hi_y))
				continue;
			Ix yp;
			LStmtList *ly = FOR(q, lc, "yp", lo_y, hi_y, &yp);
			Ix ps[1] = {yp};
			int64_t pk[1] = {XPW};
			if (part != 1) {
				Ix wi;
				LStmtList *lz = FOR(q, ly, "pz", 0, XPW, &wi);
				Ix zs[2] = {yp, wi};
				int64_t zk[2] = {XPW, 1};
				store(q, lz, plane, AX(q, 2, zs, zk, 0), I32(q, 0));
				continue;
			}
			/* x[((n·C + c)·H + yp − pt)·W] */
			Ix rs[3] = {in, cc, yp};
			int64_t rk[3] = {C * H * W, H * W, W};
			pack_row_pairs(q, ly, plane, AX(q, 1, ps, pk, 0), xb, AX(q, 3, rs, rk, -g->pt * W), W, g->pl, XPW, zx,
			               1);
		}
	}
	/* the weight pairs of channel c, in the scratch table wp[(ky·NS + s)·T + t]
	 * = (w_k0, w_k1), k0 = 2t − s (E: s = 0, O: s = 1), doubled when a->pre2:
	 * made once per channel (in the int8 flash), read per block and kernel
	 * row: as lets of the channel, 12 pairs (3×3) stayed live across the pixel
	 * loops and spilled (MobileNetV1 11,673,400 → 11,591,280 instructions with
	 * NB = 4). The kernel-row loop (KH steps) is one asm where its registers
	 * fit (llvm_smlad.c: blocks of 5, not 6), its ldrd pairs and the
	 * block's bias in one register; as an asm loop of 2 + 1 steps it had
	 * measured worse than LLVM's code (12,188,600) */
	const int64_t NW = NS * T; /* pairs per kernel row */
	for (int64_t ky = 0; ky < KH; ky++)
		for (int64_t s = 0; s < NS; s++)
			for (int64_t t = 0; t < T; t++) {
				LExpr *h[2];
				for (int e = 0; e < 2; e++) {
					int64_t k = 2 * t - s + e;
					Ix ws[1] = {cc};
					int64_t wk[1] = {Kt};
					h[e] = k >= 0 && k < KW ? MULK(q, CAST(q, LT_I32, LD(q, wb, AX(q, 1, ws, wk, ky * KW + k))), dbl)
					                        : I32(q, 0);
				}
				store(q, lc, wpb, I32(q, ky * NW + s * T + t), PACK(q, h[0], h[1]));
			}
	if (cloc) { /* one pointer for all a block reads but its input (llvm_smlad.c's block asm) */
		const int64_t one = 1;
		cloc_copy(q, lc, a, wpb, KH * NW, KH * NW + 2, 1, &cc, &one, 0);
	}
	a->cloc = cloc;
	a->cbuf = wpb;
	a->coff = KH * NW;
	Ix oy;
	LStmtList *lo = FOR(q, lc, "oy", 0, OH, &oy);
	OcCtx oc = cloc ? (OcCtx){0, {{0}}, {0}, 0} : (OcCtx){1, {cc}, {1}, 0};
	/* blocks of NB outputs (ox0 = NB·b; a narrower row is one block): stride 1, output j reads words
	 * ox0/2 + j/2 + t with set j%2; stride 2, words ox0 + j + t with E */
	/* NB: measured on MobileNetV1-0.25 and DS-CNN (M4 instructions): at
	 * stride 1 a row of up to 5 is one block (5 accumulators, 4 weight
	 * pairs, 2 input words and 2 pointers: the asm's 13 registers), wider
	 * rows blocks of 4 (even: two outputs per word pair; 6, which needs 14
	 * registers and stays LLVM's code, measured MobileNetV1 10,129,120 →
	 * 10,047,454 with 4, 10,223,302 with 2); 5 at stride 2 (3, 4, 6, 7: up
	 * to 34 k more) */
	for (int part = 0; part < 2; part++) {
		int64_t nout;
		Ix pb;
		LStmtList *l = BLOCKS(q, lo, "px", OW, NB, part, &pb, &nout);
		if (!l)
			continue;
		int acc[8];
		for (int j = 0; j < nout; j++)
			acc[j] = let(q, l, "acc", cloc ? LD(q, wpb, I32(q, KH * NW)) : ACC_INIT(q, a, IX(q, cc)));
		/* the block's first word in row oy·sh: oy·sh·XPW + (sw == 1 ? NB/2 : NB)·b */
		Ix bs[2] = {oy, pb};
		int64_t bk[2] = {g->sh * XPW, sw == 1 ? NB / 2 : NB};
		int base = let(q, l, "pw", AX(q, 2, bs, bk, 0));
		const int64_t nw = sw == 1 ? (nout - 1) / 2 + T : nout - 1 + T; /* words read per row */
		Ix ky;
		LStmtList *lk = FOR(q, l, "ky", 0, KH, &ky);
		int wv[2 * DW_MAX_T];
		for (int64_t k = 0; k < NW; k++) {
			Ix ks[1] = {ky};
			int64_t kk[1] = {NW};
			wv[k] = let(q, lk, "wd", LD(q, wpb, AX(q, 1, ks, kk, k)));
		}
		for (int64_t u = 0; u < nw; u++) {
			Ix ks[1] = {ky};
			int64_t kk[1] = {g->dh * XPW};
			int xw = let(q, lk, "xw", LD(q, plane, ADD(q, V(q, base), AX(q, 1, ks, kk, u))));
			for (int j = 0; j < nout; j++) {
				int64_t set_ = sw == 1 ? j % 2 : 0, t = sw == 1 ? u - j / 2 : u - j;
				if (t < 0 || t >= T)
					continue;
				set(q, lk, acc[j], ACC_DOT2(q, a, acc[j], V(q, wv[set_ * T + t]), V(q, xw)));
			}
		}
		for (int j = 0; j < nout; j++) {
			LExpr *v = acc_out(q, l, a, acc[j], oc_expr, &oc);
			/* y[((n·C + c)·OH + oy)·OW + NB·b + j] */
			Ix ys[4] = {in, cc, oy, pb};
			int64_t yk[4] = {C * OH * OW, OH * OW, OW, NB};
			store(q, l, yb, AX(q, 4, ys, yk, j), v);
		}
	}
	a->cloc = 0;
	return q->err ? -1 : 0;
}

/* Linear y[r][o] = Σ_k w[o][k]·x[r][k] is the 1×1 convolution of rows
 * images of K channels of one pixel (x[(n·K + c)·1·1], y[n·O + o]). */
static int linear_dsp(Q *q, LStmtList *to, const int *inb, int yb, Acc *a, int64_t rows)
{
	const int64_t K = a->Kt, O = a->O;
	ConvGeom g = {rows, K, O, 1, K, O, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
	return conv_dsp(q, to, inb, yb, a, &g);
}

static int lower_conv(Q *q, LStmtList *to, const int *inb, int yb)
{
	const Node *n = q->n;
	Diag d;
	diag_init(&d);
	OpCtx c = {&d, "", 0, n};
	const int nd = n->op == OP_CONV1D ? 1 : 2;
	int64_t s[2], dl[2], pb[2] = {0, 0}, pe[2] = {0, 0};
	if (attr_spatial(&c, "stride", nd, 1, s) < 0 || attr_spatial(&c, "dilation", nd, 1, dl) < 0) {
		diag_free(&d);
		qerr(q, "bad stride/dilation");
		return -1;
	}
	int pr = attr_padding(&c, "padding", nd, pb, pe);
	diag_free(&d);
	if (pr < 0) {
		qerr(q, "bad padding");
		return -1;
	}
	Acc a;
	memset(&a, 0, sizeof a);
	{
		const Tensor *xt = &q->b->tensors[n->in[0]], *wt = &q->b->tensors[n->in[1]];
		int64_t gr = node_attr(n, "groups")->i[0], og = wt->shape[0] / gr, cg = wt->shape[1];
		/* 16x8 (int16 x, zero point 0) on the DSP kernels too, with 64-bit
		 * accumulators (smlald); not on the vector ones */
		a.nofold = (xt->dtype != DT_INT16 || (q->dsp && !q->vec && xt->quant->zero_point[0] == 0)) &&
		           dl[nd - 1] == 1 &&
		           ((q->vec && og >= 2 && cg * wt->shape[nd + 1] >= VEC_MIN_RUN) ||
		            (q->dsp && ((og >= 2 && !dsp_wasteful(cg, wt->shape[nd + 1], s[nd - 1])) ||
		                        (og == 1 && cg == 1 && (s[nd - 1] == 1 || s[nd - 1] == 2) &&
		                                     (nd == 1 || wt->shape[2] <= DW_MAX_KH) &&
		                                     wt->shape[nd + 1] <= 2 * DW_MAX_T - 1))));
	}
	if (acc_setup(q, &a, n) < 0) {
		free(a.wq);
		return -1;
	}
	const Tensor *x = a.x, *w = a.w, *y = a.y;
	const int64_t N = x->shape[0], C = x->shape[1], O = w->shape[0], G = node_attr(n, "groups")->i[0];
	const int64_t Cg = C / G, Og = O / G;
	const int64_t H = nd == 2 ? x->shape[2] : 1, W = x->shape[nd + 1];
	const int64_t KH = nd == 2 ? w->shape[2] : 1, KW = w->shape[nd + 1];
	const int64_t OH = nd == 2 ? y->shape[2] : 1, OW = y->shape[nd + 1];
	const int64_t sh = nd == 2 ? s[0] : 1, sw = s[nd - 1], dh = nd == 2 ? dl[0] : 1, dw = dl[nd - 1];
	int64_t pt = 0, pl = 0;
	if (pr == 0) {
		pt = nd == 2 ? pb[0] : 0;
		pl = pb[nd - 1];
	} else if (strcmp(node_attr(n, "padding")->s, "same") == 0) {
		int64_t th = (OH - 1) * sh + (KH - 1) * dh + 1 - H, tw = (OW - 1) * sw + (KW - 1) * dw + 1 - W;
		pt = th > 0 ? th / 2 : 0;
		pl = tw > 0 ? tw / 2 : 0;
	}
	/* the padded extent: every tap of every output inside */
	int64_t HP = H, WP = W;
	if ((OH - 1) * sh + (KH - 1) * dh + 1 - pt > HP)
		HP = (OH - 1) * sh + (KH - 1) * dh + 1 - pt;
	if ((OW - 1) * sw + (KW - 1) * dw + 1 - pl > WP)
		WP = (OW - 1) * sw + (KW - 1) * dw + 1 - pl;
	HP += pt;
	WP += pl;
	const int padded = HP != H || WP != W;
	if (q->dsp && a.nofold && Og == 1 && Cg == 1 && KH <= DW_MAX_KH && KW <= 2 * DW_MAX_T - 1)
		return dw_dsp(q, to, inb, yb, &a, &(ConvGeom){N, C, O, G, Cg, Og, H, W, KH, KW, OH, OW, sh, sw, dh, pt, pl});
	if (a.nofold && (q->dsp || q->vec) && (!a.wide || !q->vec) && dw == 1 && Og >= 2) {
		ConvGeom cg = {N, C, O, G, Cg, Og, H, W, KH, KW, OH, OW, sh, sw, dh, pt, pl};
		if (KH == 1 && KW == 1 && sh == 1 && sw == 1 && !padded && OH == H && OW == W && W < 16)
			flat_rows(&cg, scratch_budget(q));
		return conv_dsp(q, to, inb, yb, &a, &cg);
	}
	const int64_t OB = Og >= 4 ? 4 : 1, CB = OB == 1 ? 4 : 2;
	int8_t *wb = block_weights(&a, G, OB);
	free(a.wq);
	if (!wb) {
		q->err = 1;
		return -1;
	}
	a.w_buf = add_const(q, w->name, "_qblk", LT_I8, tensor_numel(w), wb);
	if (q->err)
		return -1;
	/* Padding lives in the loop bounds, not in a padded copy: outputs whose
	 * taps are all inside (rows [oy_lo, oy_hi) × columns [ox_lo, ox_hi)) run
	 * the blocked kernel with the folded bias; the border rows clip the ky
	 * range and the border columns (one column a block) the kx range, as loop
	 * bounds, and compute Σ w·(x − zp_x) from the plain bias, so the skipped
	 * taps contribute the 0 they stand for. */
	const int64_t zx = x->quant->zero_point[0];
	int64_t oy_lo = (pt + sh - 1) / sh, ox_lo = (pl + sw - 1) / sw;
	int64_t ny = H - 1 + pt - (KH - 1) * dh, nx = W - 1 + pl - (KW - 1) * dw;
	int64_t oy_hi = ny < 0 ? 0 : ny / sh + 1, ox_hi = nx < 0 ? 0 : nx / sw + 1;
	oy_lo = oy_lo > OH ? OH : oy_lo, ox_lo = ox_lo > OW ? OW : ox_lo;
	oy_hi = oy_hi > OH ? OH : oy_hi < oy_lo ? oy_lo : oy_hi;
	ox_hi = ox_hi > OW ? OW : ox_hi < ox_lo ? ox_lo : ox_hi;
	int b0_buf = a.bf_buf; /* the plain bias, for the border blocks */
	if (padded && zx != 0) {
		const Tensor *bt = n->n_in > 2 ? &q->b->tensors[n->in[2]] : NULL;
		void *b0 = nnl_malloc((size_t)(O ? O : 1) * (a.wide ? 8 : 4));
		if (!b0) {
			q->err = 1;
			return -1;
		}
		for (int64_t o = 0; o < O; o++) {
			int64_t v = bt ? dtype_get_i64(bt->dtype, bt->data, o) : 0;
			if (a.wide)
				((int64_t *)b0)[o] = v;
			else
				((int32_t *)b0)[o] = (int32_t)(uint32_t)(uint64_t)v;
		}
		b0_buf = add_const(q, y->name, "_qbias0", a.at, O, b0);
	}
	Ix in;
	LStmtList *ln = FOR(q, to, "n", 0, N, &in);
	Ix g;
	LStmtList *lg = FOR(q, ln, "g", 0, G, &g);
	for (int pc = 0; pc < 2; pc++) {
		int64_t bw;
		Ix ob;
		LStmtList *lb = BLOCKS(q, lg, "ob", Og, OB, pc, &ob, &bw);
		if (!lb)
			continue;
		/* row ranges: top border, inside, bottom border */
		for (int rr = 0; rr < 3; rr++) {
			int64_t y0 = rr == 0 ? 0 : rr == 1 ? oy_lo : oy_hi, y1 = rr == 0 ? oy_lo : rr == 1 ? oy_hi : OH;
			if (y1 <= y0)
				continue;
			Ix oy;
			LStmtList *ly = FOR(q, lb, "oy", y0, y1, &oy);
			/* ky in [max(0, ⌈(pt − oy·sh)/dh⌉), min(KH, ⌊(H − 1 + pt − oy·sh)/dh⌋ + 1)) on border rows */
			LExpr *kylo = NULL, *kyhi = NULL;
			if (rr != 1) {
				Ix ys[1] = {oy};
				int64_t yk[1] = {-sh};
				kylo = B(q, LO_MAX, I32(q, 0), B(q, LO_DIV, AX(q, 1, ys, yk, pt + dh - 1), I32(q, dh)));
				kyhi = B(q, LO_MIN, I32(q, KH),
				         B(q, LO_DIV, ADD(q, B(q, LO_MAX, AX(q, 1, ys, yk, H - 1 + pt), I32(q, -1)), I32(q, dh)),
				           I32(q, dh)));
			}
			/* column ranges: left border (1-column blocks), inside (CB-column blocks), right border */
			for (int cr = 0; cr < 3; cr++) {
				int64_t x0 = cr == 0 ? 0 : cr == 1 ? ox_lo : ox_hi, x1 = cr == 0 ? ox_lo : cr == 1 ? ox_hi : OW;
				if (x1 <= x0)
					continue;
				const int edge_x = cr != 1, folded = rr == 1 && cr == 1;
				const int64_t CBr = edge_x ? 1 : CB;
				for (int px = 0; px < 2; px++) {
					int64_t cw;
					Ix oxb;
					LStmtList *l = BLOCKS(q, ly, "oxb", x1 - x0, CBr, px, &oxb, &cw);
					if (!l)
						continue;
					/* ox0 = x0 + oxb·CBr; oc0 = g·Og + ob·OB */
					Ix xs0[1] = {oxb};
					int64_t xk0[1] = {CBr};
					int ox0 = let(q, l, "ox", AX(q, 1, xs0, xk0, x0));
					int acc[16];
					OcCtx oc[4];
					for (int j = 0; j < bw; j++) {
						oc[j] = (OcCtx){2, {g, ob}, {Og, OB}, j};
						for (int cx = 0; cx < cw; cx++)
							acc[j * cw + cx] = let(q, l, "acc", LD(q, folded ? a.bf_buf : b0_buf, oc_expr(q, &oc[j])));
					}
					Ix ic, ky, kx;
					LStmtList *lt = FOR(q, l, "ic", 0, Cg, &ic);
					lt = rr == 1 ? FOR(q, lt, "ky", 0, KH, &ky) : FORE(q, lt, "ky", kylo, kyhi, &ky);
					if (edge_x) {
						/* kx in [max(0, ⌈(pl − ox·sw)/dw⌉), min(KW, ⌊(W − 1 + pl − ox·sw)/dw⌋ + 1)) */
						LExpr *nox = MULK(q, V(q, ox0), -sw);
						LExpr *kxlo = B(q, LO_MAX, I32(q, 0), B(q, LO_DIV, ADD(q, nox, I32(q, pl + dw - 1)), I32(q, dw)));
						LExpr *kxhi = B(q, LO_MIN, I32(q, KW),
						                B(q, LO_DIV,
						                  ADD(q, B(q, LO_MAX, ADD(q, MULK(q, V(q, ox0), -sw), I32(q, W - 1 + pl)), I32(q, -1)),
						                      I32(q, dw)),
						                  I32(q, dw)));
						lt = FORE(q, lt, "kx", kxlo, kxhi, &kx);
					} else {
						lt = FOR(q, lt, "kx", 0, KW, &kx);
					}
					int xv[4];
					for (int cx = 0; cx < cw; cx++) {
						/* x[((n·C + g·Cg + ic)·H + oy·sh − pt + ky·dh)·W + (ox0 + cx)·sw − pl + kx·dw] */
						Ix xs[6] = {in, g, ic, oy, ky, kx};
						int64_t xk[6] = {C * H * W, Cg * H * W, H * W, sh * W, dh * W, dw};
						LExpr *ix = ADD(q, AX(q, 6, xs, xk, cx * sw - pt * W - pl), MULK(q, V(q, ox0), sw));
						LExpr *xe = CAST(q, a.at, LD(q, inb[0], ix));
						if (!folded && zx != 0)
							xe = B(q, LO_SUB, xe, IK(q, a.at, zx));
						xv[cx] = let(q, lt, "xv", xe);
					}
					for (int j = 0; j < bw; j++) {
						/* w_blk[o0·Kt + tap·bw + j], o0 = g·Og + ob·OB, tap = (ic·KH + ky)·KW + kx */
						Ix ws[5] = {g, ob, ic, ky, kx};
						int64_t wk[5] = {Og * a.Kt, OB * a.Kt, KH * KW * bw, KW * bw, bw};
						int wv = let(q, lt, "wv", CAST(q, a.at, LD(q, a.w_buf, AX(q, 5, ws, wk, j))));
						for (int cx = 0; cx < cw; cx++)
							set(q, lt, acc[j * cw + cx],
							    B(q, LO_ADD, V(q, acc[j * cw + cx]), B(q, LO_MUL, V(q, wv), V(q, xv[cx]))));
					}
					for (int j = 0; j < bw; j++)
						for (int cx = 0; cx < cw; cx++) {
							LExpr *v = acc_out(q, l, &a, acc[j * cw + cx], oc_expr, &oc[j]);
							/* y[((n·O + g·Og + ob·OB + j)·OH + oy)·OW + ox0 + cx] */
							Ix ys[4] = {in, g, ob, oy};
							int64_t yk[4] = {O * OH * OW, Og * OH * OW, OB * OH * OW, OW};
							store(q, l, yb, ADD(q, AX(q, 4, ys, yk, j * OH * OW + cx), V(q, ox0)), v);
						}
				}
			}
		}
	}
	return q->err ? -1 : 0;
}

/* ---- elementwise: Quantize, Dequantize, ReLU clamps, '+' ---------------------------- */

static int lower_quantize(Q *q, LStmtList *to, const int *inb, int yb)
{
	const Tensor *x = &q->b->tensors[q->n->in[0]], *y = &q->b->tensors[q->n->out];
	int64_t ne = tensor_numel(x);
	Ix i;
	LStmtList *l = FOR(q, to, "i", 0, ne, &i);
	if (q->n->op == OP_DEQUANTIZE) {
		LExpr *v = CAST(q, LT_F64, B(q, LO_SUB, CAST(q, LT_I32, LD(q, inb[0], IX(q, i))),
		                                   I32(q, x->quant->zero_point[0])));
		store(q, l, yb, IX(q, i), CAST(q, LT_F32, B(q, LO_MUL, le_float(q->p, LT_F64, x->quant->scale[0]), v)));
		return q->err ? -1 : 0;
	}
	int32_t lo, hi;
	nnl_qrange(y->dtype, &lo, &hi);
	const float sf = (float)y->quant->scale[0], hs = sf * 0.5f;
	const int64_t zy = y->quant->zero_point[0];
	if (hs >= FLT_MIN && hs * 2.0f == sf) {
		/* The same value, cheaper: v2 = x / (s/2) is exactly 2·(x / s) (s/2
		 * is exact; where x / s is subnormal both round to 0 below), t2 =
		 * trunc(v2) saturated to int32 (NaN → 0: the zero point) and then to
		 * ±2^30 (no overflow below), and round half away from zero of
		 * v = t2 / 2 is (t2 + 1 + (t2 >> 31)) >> 1 (t2 ≥ 0: ⌊(⌊2v⌋ + 1) / 2⌋;
		 * t2 < 0: ⌊t2 / 2⌋), with zp_y folded in as
		 * (t2 + 1 + 2·zp_y + (t2 >> 31)) >> 1 — one division, one saturating
		 * conversion (M4: vcvt) and four integer ops (ssat, add, add, ssat:
		 * ~10 instructions an element; 19 with the float clamps before) */
		int v2 = let(q, l, "v2", B(q, LO_DIV, LD(q, inb[0], IX(q, i)), le_float(q->p, LT_F32, (double)hs)));
		const int64_t big2 = INT64_C(1) << 30;
		int t2 = let(q, l, "t2", le_cast(q->p, LT_I32, le_un(q->p, LU_TRUNC, V(q, v2)), 1));
		set(q, l, t2, B(q, LO_MAX, B(q, LO_MIN, V(q, t2), I32(q, big2 - 1)), I32(q, -big2)));
		LExpr *r = B(q, LO_SHR, ADD(q, ADD(q, V(q, t2), I32(q, 1 + 2 * zy)), B(q, LO_SHR, V(q, t2), I32(q, 31))),
		             I32(q, 1));
		store(q, l, yb, IX(q, i), CAST(q, lt_of(y->dtype), B(q, LO_MAX, B(q, LO_MIN, r, I32(q, hi)), I32(q, lo))));
		return q->err ? -1 : 0;
	}
	/* v = x / (float)s in f32, clamped to ±2^30 (NaN → 0: the zero point
	 * after the ops below); round half away from zero done exactly in f32
	 * and i32 (no f64: soft-float on Cortex-M4): t = trunc(v), fr = v − t
	 * (exact), r = t + (fr ≥ 0.5) − (fr ≤ −0.5). */
	int v = let(q, l, "v", B(q, LO_DIV, LD(q, inb[0], IX(q, i)),
	                         le_float(q->p, LT_F32, (double)(float)y->quant->scale[0])));
	const double big = 1073741824.0;
	set(q, l, v, SEL(q, B(q, LO_EQ, V(q, v), V(q, v)), V(q, v), le_float(q->p, LT_F32, 0.0)));
	set(q, l, v, SEL(q, B(q, LO_GE, V(q, v), le_float(q->p, LT_F32, -big)), V(q, v), le_float(q->p, LT_F32, -big)));
	set(q, l, v, SEL(q, B(q, LO_LE, V(q, v), le_float(q->p, LT_F32, big)), V(q, v), le_float(q->p, LT_F32, big)));
	int t = let(q, l, "t", CAST(q, LT_I32, V(q, v)));
	int fr = let(q, l, "fr", B(q, LO_SUB, V(q, v), CAST(q, LT_F32, V(q, t))));
	LExpr *r = B(q, LO_SUB, ADD(q, V(q, t), CAST(q, LT_I32, B(q, LO_GE, V(q, fr), le_float(q->p, LT_F32, 0.5)))),
	             CAST(q, LT_I32, B(q, LO_LE, V(q, fr), le_float(q->p, LT_F32, -0.5))));
	r = ADD(q, r, I32(q, y->quant->zero_point[0]));
	store(q, l, yb, IX(q, i), CAST(q, lt_of(y->dtype), B(q, LO_MAX, B(q, LO_MIN, r, I32(q, hi)), I32(q, lo))));
	return q->err ? -1 : 0;
}

static int lower_relu(Q *q, LStmtList *to, const int *inb, int yb)
{
	const Tensor *x = &q->b->tensors[q->n->in[0]];
	int32_t lo, hi;
	nnl_qrange(x->dtype, &lo, &hi);
	const int64_t zp = x->quant->zero_point[0];
	int64_t a = zp < lo ? lo : zp > hi ? hi : zp, bb = hi;
	if (q->n->op == OP_RELU6) {
		int64_t v = zp + nnl_quantize_value(6.0f, x->quant->scale[0], 0, INT32_MIN / 2, INT32_MAX / 2);
		bb = v < lo ? lo : v > hi ? hi : v;
	}
	LType t = lt_of(x->dtype);
	Ix i;
	LStmtList *l = FOR(q, to, "i", 0, tensor_numel(x), &i);
	/* v < a ? a : v > b ? b : v */
	int v = let(q, l, "v", LD(q, inb[0], IX(q, i)));
	LExpr *e = SEL(q, B(q, LO_LT, V(q, v), IK(q, t, a)), IK(q, t, a),
	               SEL(q, B(q, LO_GT, V(q, v), IK(q, t, bb)), IK(q, t, bb), V(q, v)));
	store(q, l, yb, IX(q, i), e);
	return q->err ? -1 : 0;
}

static int lower_add(Q *q, LStmtList *to, const int *inb, int yb)
{
	const Tensor *a = &q->b->tensors[q->n->in[0]], *bt = &q->b->tensors[q->n->in[1]], *y = &q->b->tensors[q->n->out];
	const int left = a->dtype == DT_INT16 ? 15 : 20;
	const double sa = a->quant->scale[0], sb = bt->quant->scale[0], sy = y->quant->scale[0];
	const double twice = 2.0 * (sa > sb ? sa : sb);
	int32_t m1, m2, my, lo, hi;
	int s1, s2, sy_;
	nnl_quantize_multiplier(sa / twice, &m1, &s1);
	nnl_quantize_multiplier(sb / twice, &m2, &s2);
	nnl_quantize_multiplier(twice / ((double)(1 << left) * sy), &my, &sy_);
	nnl_qrange(y->dtype, &lo, &hi);
	Ix i;
	LStmtList *l = FOR(q, to, "i", 0, tensor_numel(y), &i);
	LExpr *va = B(q, LO_SHL, B(q, LO_SUB, CAST(q, LT_I32, LD(q, inb[0], IX(q, i))), I32(q, a->quant->zero_point[0])),
	              I32(q, left));
	LExpr *vb = B(q, LO_SHL, B(q, LO_SUB, CAST(q, LT_I32, LD(q, inb[1], IX(q, i))), I32(q, bt->quant->zero_point[0])),
	              I32(q, left));
	/* bounds: |x − zp| ≤ the span of the input type, before the left shift */
	int32_t xlo, xhi;
	nnl_qrange(a->dtype, &xlo, &xhi);
	const int64_t bx = ((int64_t)xhi - xlo) << left, ba = mbqm_bound(bx, m1, s1), bb = mbqm_bound(bx, m2, s2);
	int ra = let(q, l, "ra", mbqm_kb(q, l, va, m1, s1, bx));
	int rb = let(q, l, "rb", mbqm_kb(q, l, vb, m2, s2, bx));
	int raw = let(q, l, "raw", B(q, LO_ADD, V(q, ra), V(q, rb)));
	LExpr *v = mbqm_kb(q, l, V(q, raw), my, sy_, ba + bb);
	const int64_t zy = y->quant->zero_point[0];
	if (mbqm_bound(ba + bb, my, sy_) < (INT64_C(1) << 30)) /* v + zy cannot overflow: one ssat */
		v = CAST(q, lt_of(y->dtype), B(q, LO_MAX, B(q, LO_MIN, ADD(q, v, I32(q, zy)), I32(q, hi)), I32(q, lo)));
	else
		v = out_clamp(q, v, zy, lo, hi, lt_of(y->dtype));
	store(q, l, yb, IX(q, i), v);
	return q->err ? -1 : 0;
}

static int lower_concat(Q *q, LStmtList *to, const int *inb, int yb)
{
	const Tensor *y = &q->b->tensors[q->n->out];
	int64_t dim;
	norm_axis(node_attr(q->n, "dim")->i[0], y->rank, &dim);
	int64_t outer = 1, inner = 1;
	for (int k = 0; k < dim; k++)
		outer *= y->shape[k];
	for (int k = (int)dim + 1; k < y->rank; k++)
		inner *= y->shape[k];
	int32_t lo, hi;
	nnl_qrange(y->dtype, &lo, &hi);
	const int64_t zy = y->quant->zero_point[0], OD = y->shape[dim];
	int64_t off = 0;
	for (int i = 0; i < q->n->n_in; i++) {
		const Tensor *x = &q->b->tensors[q->n->in[i]];
		const int64_t D = x->shape[dim], zx = x->quant->zero_point[0];
		const int same = x->quant->scale[0] == y->quant->scale[0] && zx == zy;
		int32_t qm = 0;
		int sh = 0;
		if (!same)
			nnl_quantize_multiplier(x->quant->scale[0] / y->quant->scale[0], &qm, &sh);
		Ix o, j;
		LStmtList *l = FOR(q, to, "o", 0, outer, &o);
		l = FOR(q, l, "j", 0, D * inner, &j);
		Ix xs[2] = {o, j}, ys[2] = {o, j};
		int64_t xk[2] = {D * inner, 1}, yk[2] = {OD * inner, 1};
		LExpr *v = LD(q, inb[i], AX(q, 2, xs, xk, 0));
		if (!same) {
			LExpr *m = mbqm_k(q, l, B(q, LO_SUB, CAST(q, LT_I32, v), I32(q, zx)), qm, sh);
			v = out_clamp(q, m, zy, lo, hi, lt_of(y->dtype));
		}
		store(q, l, yb, AX(q, 2, ys, yk, off * inner), v);
		off += D;
	}
	return q->err ? -1 : 0;
}

/* ---- pools, Mean ------------------------------------------------------------------ */

/* RoundDiv(sum, n) clamped to [lo, hi], cast to t; sum, n: i32 */
static LExpr *round_div(Q *q, LStmtList *to, int sum, LExpr *n, LExpr *n2, int32_t lo, int32_t hi, LType t)
{
	int nv = let(q, to, "cnt", n);
	int hv = let(q, to, "half", n2 ? n2 : B(q, LO_DIV, V(q, nv), I32(q, 2)));
	LExpr *r = SEL(q, B(q, LO_GT, V(q, sum), I32(q, 0)), B(q, LO_DIV, B(q, LO_ADD, V(q, sum), V(q, hv)), V(q, nv)),
	               B(q, LO_DIV, B(q, LO_SUB, V(q, sum), V(q, hv)), V(q, nv)));
	return CAST(q, t, B(q, LO_MAX, B(q, LO_MIN, r, I32(q, hi)), I32(q, lo)));
}

static LExpr *imax(Q *q, LExpr *a, int64_t b) { return B(q, LO_MAX, a, I32(q, b)); }
static LExpr *imin(Q *q, LExpr *a, int64_t b) { return B(q, LO_MIN, a, I32(q, b)); }

static int lower_pool(Q *q, LStmtList *to, const int *inb, int yb)
{
	const Node *n = q->n;
	const Tensor *x = &q->b->tensors[n->in[0]], *y = &q->b->tensors[n->out];
	const int nd = (n->op == OP_MAXPOOL1D || n->op == OP_AVGPOOL1D) ? 1 : 2;
	const int max = n->op == OP_MAXPOOL1D || n->op == OP_MAXPOOL2D;
	Diag d;
	diag_init(&d);
	OpCtx c = {&d, "", 0, n};
	int64_t k[2], s[2], dl[2] = {1, 1}, pb[2], pe[2];
	int bad = attr_spatial(&c, "kernel_size", nd, 1, k) < 0;
	if (node_attr(n, "stride")->set)
		bad |= attr_spatial(&c, "stride", nd, 1, s) < 0;
	else
		memcpy(s, k, sizeof s);
	if (max)
		bad |= attr_spatial(&c, "dilation", nd, 1, dl) < 0;
	bad |= attr_padding(&c, "padding", nd, pb, pe) != 0;
	diag_free(&d);
	if (bad) {
		qerr(q, "pool attributes not supported by the integer lowering");
		return -1;
	}
	const int include_pad = max ? 0 : node_attr(n, "count_include_pad")->i[0] != 0;
	const int64_t H = nd == 2 ? x->shape[2] : 1, W = x->shape[nd + 1];
	const int64_t OH = nd == 2 ? y->shape[2] : 1, OW = y->shape[nd + 1];
	const int64_t kh = nd == 2 ? k[0] : 1, kw = k[nd - 1], sh = nd == 2 ? s[0] : 1, sw = s[nd - 1];
	const int64_t dh = nd == 2 ? dl[0] : 1, dw = dl[nd - 1];
	const int64_t pt = nd == 2 ? pb[0] : 0, pl = pb[nd - 1], pbot = nd == 2 ? pe[0] : 0, pr = pe[nd - 1];
	const int64_t planes = x->shape[0] * x->shape[1], zp = x->quant->zero_point[0];
	const int fits = pt == 0 && pl == 0 && (OH - 1) * sh + (kh - 1) * dh < H && (OW - 1) * sw + (kw - 1) * dw < W;
	if (!fits && (dh != 1 || dw != 1)) {
		qerr(q, "a padded dilated pool is not supported by the integer lowering");
		return -1;
	}
	int32_t lo, hi;
	nnl_qrange(y->dtype, &lo, &hi);
	LType t = lt_of(y->dtype);
	Ix p, oy, ox;
	LStmtList *l = FOR(q, to, "p", 0, planes, &p);
	l = FOR(q, l, "oy", 0, OH, &oy);
	l = FOR(q, l, "ox", 0, OW, &ox);
	Ix ky, kx;
	LStmtList *lt;
	int acc = let(q, l, max ? "m" : "sum", I32(q, max ? INT32_MIN : 0));
	LExpr *cnt = NULL, *padded = NULL;
	Ix r0[1] = {oy}, c0[1] = {ox};
	int64_t rk[1] = {sh}, ck[1] = {sw};
	LExpr *iy, *ix;
	if (fits) {
		lt = FOR(q, l, "ky", 0, kh, &ky);
		lt = FOR(q, lt, "kx", 0, kw, &kx);
		Ix ys[2] = {oy, ky}, xs[2] = {ox, kx};
		int64_t yk2[2] = {sh, dh}, xk2[2] = {sw, dw};
		iy = AX(q, 2, ys, yk2, 0);
		ix = AX(q, 2, xs, xk2, 0);
		cnt = I32(q, kh * kw);
	} else {
		int ih0 = let(q, l, "ihs", AX(q, 1, r0, rk, -pt)), iw0 = let(q, l, "iws", AX(q, 1, c0, ck, -pl));
		int y0 = let(q, l, "ylo", imax(q, V(q, ih0), 0)), x0 = let(q, l, "xlo", imax(q, V(q, iw0), 0));
		int y1 = let(q, l, "yhi", imin(q, ADD(q, V(q, ih0), I32(q, kh)), H));
		int x1 = let(q, l, "xhi", imin(q, ADD(q, V(q, iw0), I32(q, kw)), W));
		lt = FORE(q, l, "iy", V(q, y0), V(q, y1), &ky);
		lt = FORE(q, lt, "ix", V(q, x0), V(q, x1), &kx);
		iy = IX(q, ky);
		ix = IX(q, kx);
		cnt = B(q, LO_MUL, B(q, LO_SUB, V(q, y1), V(q, y0)), B(q, LO_SUB, V(q, x1), V(q, x0)));
		if (include_pad)
			padded = B(q, LO_MUL,
			           B(q, LO_SUB, imin(q, ADD(q, V(q, ih0), I32(q, kh)), H + pbot), V(q, ih0)),
			           B(q, LO_SUB, imin(q, ADD(q, V(q, iw0), I32(q, kw)), W + pr), V(q, iw0)));
	}
	Ix ps[1] = {p};
	int64_t pk[1] = {H * W};
	LExpr *idx = ADD(q, ADD(q, AX(q, 1, ps, pk, 0), MULK(q, iy, W)), ix);
	LExpr *v = CAST(q, LT_I32, LD(q, inb[0], idx));
	set(q, lt, acc, max ? B(q, LO_MAX, V(q, acc), v) : B(q, LO_ADD, V(q, acc), v));
	Ix os[3] = {p, oy, ox};
	int64_t ok[3] = {OH * OW, OW, 1};
	LExpr *out;
	if (max) {
		out = CAST(q, t, V(q, acc));
	} else {
		int cv = let(q, l, "n", cnt);
		LExpr *div = V(q, cv);
		if (padded) {
			int pv = let(q, l, "np", padded);
			set(q, l, acc, ADD(q, V(q, acc), B(q, LO_MUL, B(q, LO_SUB, V(q, pv), V(q, cv)), I32(q, zp))));
			div = V(q, pv);
		}
		/* div > 0 always here: the window holds a tap inside the input */
		out = round_div(q, l, acc, div, NULL, lo, hi, t);
	}
	store(q, l, yb, AX(q, 3, os, ok, 0), out);
	return q->err ? -1 : 0;
}

/* ad_start(i, n, len) = (i/n)·len + ((i%n)·len)/n; ad_end = 1 + ((i+1)·len − 1)/n; i < n here */
static int lower_adaptive(Q *q, LStmtList *to, const int *inb, int yb)
{
	const Tensor *x = &q->b->tensors[q->n->in[0]], *y = &q->b->tensors[q->n->out];
	const int nd = q->n->op == OP_ADAPTIVEAVGPOOL1D ? 1 : 2;
	const int64_t H = nd == 2 ? x->shape[2] : 1, W = x->shape[nd + 1];
	const int64_t OH = nd == 2 ? y->shape[2] : 1, OW = y->shape[nd + 1];
	const int64_t planes = x->shape[0] * x->shape[1];
	int32_t lo, hi;
	nnl_qrange(y->dtype, &lo, &hi);
	Ix p, oy, ox;
	LStmtList *l = FOR(q, to, "p", 0, planes, &p);
	l = FOR(q, l, "oy", 0, OH, &oy);
	l = FOR(q, l, "ox", 0, OW, &ox);
	int y0 = let(q, l, "ylo", B(q, LO_DIV, MULK(q, IX(q, oy), H), I32(q, OH)));
	int y1 = let(q, l, "yhi", ADD(q, B(q, LO_DIV, ADD(q, MULK(q, IX(q, oy), H), I32(q, H - 1)), I32(q, OH)), I32(q, 1)));
	int x0 = let(q, l, "xlo", B(q, LO_DIV, MULK(q, IX(q, ox), W), I32(q, OW)));
	int x1 = let(q, l, "xhi", ADD(q, B(q, LO_DIV, ADD(q, MULK(q, IX(q, ox), W), I32(q, W - 1)), I32(q, OW)), I32(q, 1)));
	int sum = let(q, l, "sum", I32(q, 0));
	Ix iy, ix;
	LStmtList *lt = FORE(q, l, "iy", V(q, y0), V(q, y1), &iy);
	lt = FORE(q, lt, "ix", V(q, x0), V(q, x1), &ix);
	Ix ps[3] = {p, iy, ix};
	int64_t pk[3] = {H * W, W, 1};
	set(q, lt, sum, ADD(q, V(q, sum), CAST(q, LT_I32, LD(q, inb[0], AX(q, 3, ps, pk, 0)))));
	LExpr *cnt = B(q, LO_MUL, B(q, LO_SUB, V(q, y1), V(q, y0)), B(q, LO_SUB, V(q, x1), V(q, x0)));
	Ix os[3] = {p, oy, ox};
	int64_t ok[3] = {OH * OW, OW, 1};
	store(q, l, yb, AX(q, 3, os, ok, 0), round_div(q, l, sum, cnt, NULL, lo, hi, lt_of(y->dtype)));
	return q->err ? -1 : 0;
}

static int lower_mean(Q *q, LStmtList *to, const int *inb, int yb)
{
	const Tensor *x = &q->b->tensors[q->n->in[0]], *y = &q->b->tensors[q->n->out];
	const AttrValue *a = node_attr(q->n, "dims");
	int red[NNL_MAX_RANK] = {0};
	for (int i = 0; i < x->rank; i++)
		red[i] = !a->set || a->n == 0;
	for (int i = 0; a->set && i < a->n; i++) {
		int64_t ax;
		if (norm_axis(a->i[i], x->rank, &ax) == 0)
			red[ax] = 1;
	}
	int64_t st[NNL_MAX_RANK], sacc = 1, nout = tensor_numel(y), cnt = nout ? tensor_numel(x) / nout : 0;
	for (int i = x->rank - 1; i >= 0; i--) {
		st[i] = sacc;
		sacc *= x->shape[i];
	}
	int32_t lo, hi;
	nnl_qrange(y->dtype, &lo, &hi);
	LStmtList *l = to;
	Ix ix[NNL_MAX_RANK * 2];
	int64_t kx[NNL_MAX_RANK * 2], ko[NNL_MAX_RANK];
	int ni = 0, no = 0;
	int64_t os = 1;
	for (int i = x->rank - 1; i >= 0; i--)
		if (!red[i]) {
			ko[i] = os;
			os *= x->shape[i];
		}
	Ix ox[NNL_MAX_RANK];
	for (int i = 0; i < x->rank; i++)
		if (!red[i]) {
			l = FOR(q, l, "o", 0, x->shape[i], &ox[no]);
			ix[ni] = ox[no];
			kx[ni++] = st[i];
			ko[no] = ko[i];
			no++;
		}
	int sum = let(q, l, "sum", I32(q, 0));
	LStmtList *lt = l;
	for (int i = 0; i < x->rank; i++)
		if (red[i]) {
			lt = FOR(q, lt, "r", 0, x->shape[i], &ix[ni]);
			kx[ni++] = st[i];
		}
	set(q, lt, sum, ADD(q, V(q, sum), CAST(q, LT_I32, LD(q, inb[0], AX(q, ni, ix, kx, 0)))));
	LExpr *v = cnt ? round_div(q, l, sum, I32(q, cnt), I32(q, cnt / 2), lo, hi, lt_of(y->dtype))
	               : IK(q, lt_of(y->dtype), 0);
	store(q, l, yb, AX(q, no, ox, ko, 0), v);
	return q->err ? -1 : 0;
}

/* ---- entry points ----------------------------------------------------------------- */

int lower_quant_wanted(const Block *b, const Node *n)
{
	if (n->op == OP_QUANTIZE || n->op == OP_DEQUANTIZE)
		return 1;
	const Tensor *in[64];
	int k = n->n_in < 64 ? n->n_in : 64;
	for (int i = 0; i < k; i++)
		in[i] = &b->tensors[n->in[i]];
	return quant_selected(n->op, in, k);
}

int lower_quant_reads(const Node *n, int i)
{
	return !((n->op == OP_LINEAR || n->op == OP_CONV1D || n->op == OP_CONV2D) && i > 0);
}

int lower_quant_node(LProgram *p, LStmtList *to, const Block *b, const Node *n, const int *inb, int yb, int kernels,
                     char *msg, size_t msgn)
{
	Q qs = {p, b, n, msg, msgn, 0, kernels == 1, kernels == 2 ? 1 : kernels == 3 ? 2 : 0}, *q = &qs;
	if (msgn)
		msg[0] = 0;
	int rc;
	switch (n->op) {
	case OP_QUANTIZE: case OP_DEQUANTIZE: rc = lower_quantize(q, to, inb, yb); break;
	case OP_LINEAR: rc = lower_linear(q, to, inb, yb); break;
	case OP_CONV1D: case OP_CONV2D: rc = lower_conv(q, to, inb, yb); break;
	case OP_RELU: case OP_RELU6: rc = lower_relu(q, to, inb, yb); break;
	case OP_MAXPOOL1D: case OP_MAXPOOL2D: case OP_AVGPOOL1D: case OP_AVGPOOL2D:
		rc = lower_pool(q, to, inb, yb);
		break;
	case OP_ADAPTIVEAVGPOOL1D: case OP_ADAPTIVEAVGPOOL2D: rc = lower_adaptive(q, to, inb, yb); break;
	case OP_MEAN: rc = lower_mean(q, to, inb, yb); break;
	case OP_ADD: rc = lower_add(q, to, inb, yb); break;
	case OP_CONCAT: rc = lower_concat(q, to, inb, yb); break;
	default:
		qerr(q, "%s has no integer lowering", op_info(n->op)->name);
		rc = -1;
	}
	return rc < 0 || q->err ? -1 : 0;
}
