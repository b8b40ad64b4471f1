/* llvm_requant.c — a block's requantization as hand-scheduled Thumb-2 (Arm
 * DSP targets; docs/quantization.md, "Requantization in the asm").
 *
 * After a block's reduction (llvm_smlad.c) the int8 kernels requantize each
 * accumulator with three statements (lower_quant.c acc_out, the zero point
 * folded: zfold):
 *
 *   let x = acc                          (or acc << k, acc >> k)
 *   let h = cast<i32>(shr(add(mul(cast<i64>(x), cast<i64>(load RQ[i])), 2^31), 32))
 *   store Y[j] = cast<i8>(max(min(shr(add(add(h, load RQ[i + 2]), shr(x, 31)),
 *                                      load RQ[i + 1]), 127), -128))
 *
 * which is add t, c, x, asr #31; smmlar t, x, q, t; asr t, t, s; ssat t, #8,
 * t; strb: the 5 instructions LLVM emits too. Around them LLVM also reloads
 * the channels' constants through pointers it spilled while the reduction's
 * asm held the registers (~20 instructions a 2 × 2 block). Here up to five
 * such triples in a row, of at most two channels (constants at RQ[i..i+2],
 * i differing by constants) and one output buffer (indices differing by
 * constants), are one asm: per channel an ldrd of (q, s) and an ldr of c,
 * then the 5 instructions per output, the stores at immediate offsets of
 * one pointer. Same bits: the instructions compute exactly the IR's
 * expression (the i64 product's high word with rounding is smmlar's; the
 * shift count is the table's, 0..31).
 */
#include "llvm_internal.h"
#include "lopt_util.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RQ_MAX 5

typedef struct RqOut {
	int acc, xv, hv; /* the accumulator, S1's and S2's variables */
	int shift;       /* x = acc << shift (> 0), acc >> −shift (< 0), acc (0) */
	LAff q, y;       /* the multiplier's index, the store's index */
	const LExpr *qidx, *yidx;
	int chan;
} RqOut;

typedef struct RqGroup {
	int n, rq, yb, nchan;
	RqOut o[RQ_MAX];
	int64_t chan_c[2]; /* each channel's index constant */
	int qmin, ymin;    /* the outputs whose indices are the smallest */
} RqGroup;

static int is_var(const LExpr *e, int v) { return e && e->kind == LE_VAR && e->var == v; }
static int is_k(const LExpr *e, int64_t k) { return e && e->kind == LE_CONST && e->ival == k; }
static int is_bin(const LExpr *e, int op) { return e && e->kind == LE_BIN && e->op == op; }

/* load RQ[idx] of an i32 const buffer: its buffer, or -1 */
static int rq_load(const CgCtx *c, const LExpr *e, LAff *aff)
{
	if (!e || e->kind != LE_LOAD || (c->p->bufs[e->buf].kind != LB_CONST && c->p->bufs[e->buf].kind != LB_ARENA) ||
	    c->p->bufs[e->buf].type != LT_I32 ||
	    laff_of(e->a, aff) != 0)
		return -1;
	return e->buf;
}

/* S1, S2, S3 at l->v[i..i+2]: one output, or 0 */
static int match_out(const CgCtx *c, const LStmtList *l, int i, RqOut *o, int *rq, int *yb)
{
	const LProgram *p = c->p;
	if (i + 2 >= l->n)
		return 0;
	const LStmt *s1 = l->v[i], *s2 = l->v[i + 1], *s3 = l->v[i + 2];
	if (s1->kind != LS_LET || s2->kind != LS_LET || s3->kind != LS_STORE || p->vars[s1->var].type != LT_I32 ||
	    p->vars[s2->var].type != LT_I32)
		return 0;
	const LExpr *x = s1->val;
	o->shift = 0;
	if ((is_bin(x, LO_SHL) || is_bin(x, LO_SHR)) && x->b->kind == LE_CONST && x->b->ival >= 1 && x->b->ival <= 4) {
		o->shift = x->op == LO_SHL ? (int)x->b->ival : -(int)x->b->ival;
		x = x->a;
	}
	if (!x || x->kind != LE_VAR || p->vars[x->var].type != LT_I32)
		return 0;
	o->acc = x->var;
	o->xv = s1->var;
	o->hv = s2->var;
	/* S2: cast<i32>(shr(add(mul(cast<i64>(x), cast<i64>(load RQ[i])), 2^31), 32)) */
	const LExpr *e = s2->val;
	if (!e || e->kind != LE_CAST || e->sat || e->type != LT_I32 || !is_bin(e->a, LO_SHR) || !is_k(e->a->b, 32))
		return 0;
	e = e->a->a;
	if (!is_bin(e, LO_ADD) || !is_k(e->b, INT64_C(1) << 31) || !is_bin(e->a, LO_MUL))
		return 0;
	const LExpr *m0 = e->a->a, *m1 = e->a->b;
	if (m1 && m1->kind == LE_CAST && m1->a && m1->a->kind == LE_VAR)
		m0 = e->a->b, m1 = e->a->a; /* mul(cast(load), cast(x)) */
	if (!m0 || !m1 || m0->kind != LE_CAST || m1->kind != LE_CAST || m0->sat || m1->sat || m0->type != LT_I64 ||
	    m1->type != LT_I64 || !is_var(m0->a, o->xv))
		return 0;
	int rb = rq_load(c, m1->a, &o->q);
	if (rb < 0)
		return 0;
	o->qidx = m1->a->a;
	/* S3: Y[j] = cast<i8>(max(min(shr(add(add(h, load RQ[i+2]), shr(x, 31)), load RQ[i+1]), 127), -128)) */
	e = s3->val;
	if (p->bufs[s3->buf].type != LT_I8 || !e || e->kind != LE_CAST || e->type != LT_I8 || !is_bin(e->a, LO_MAX) ||
	    !is_k(e->a->b, -128) || !is_bin(e->a->a, LO_MIN) || !is_k(e->a->a->b, 127))
		return 0;
	e = e->a->a->a;
	if (!is_bin(e, LO_SHR))
		return 0;
	LAff a1, a2;
	if (rq_load(c, e->b, &a1) != rb)
		return 0;
	e = e->a;
	if (!is_bin(e, LO_ADD) || !is_bin(e->b, LO_SHR) || !is_var(e->b->a, o->xv) || !is_k(e->b->b, 31) ||
	    !is_bin(e->a, LO_ADD) || !is_var(e->a->a, o->hv) || rq_load(c, e->a->b, &a2) != rb)
		return 0;
	/* the shift and the constant beside the multiplier: RQ[i + 1], RQ[i + 2] */
	LAff d1 = a1, d2 = a2;
	d1.c -= 1;
	d2.c -= 2;
	for (int k = 0; k < 2; k++) {
		const LAff *d = k ? &d2 : &d1;
		if (d->c != o->q.c || d->n != o->q.n)
			return 0;
		for (int t = 0; t < d->n; t++)
			if (laff_coef(&o->q, d->var[t]) != d->k[t])
				return 0;
	}
	if (laff_of(s3->idx, &o->y) != 0)
		return 0;
	o->yidx = s3->idx;
	*rq = rb;
	*yb = s3->buf;
	return 1;
}

/* same variables and coefficients */
static int same_terms(const LAff *a, const LAff *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (laff_coef(b, a->var[i]) != a->k[i])
			return 0;
	return 1;
}

/* Is variable v read by a statement of l after position from (or set)? */
static int used_after(const LStmtList *l, int from, int v)
{
	for (int i = from; i < l->n; i++)
		if (ls_uses_var(l->v[i], v) || ls_sets_var(l->v[i], v))
			return 1;
	return 0;
}

static int match_group(const CgCtx *c, const LStmtList *l, int i, RqGroup *g)
{
	memset(g, 0, sizeof *g);
	g->rq = g->yb = -1;
	while (g->n < RQ_MAX) {
		RqOut o;
		int rq, yb;
		if (!match_out(c, l, i + 3 * g->n, &o, &rq, &yb))
			break;
		if (g->n && (rq != g->rq || yb != g->yb || !same_terms(&o.q, &g->o[0].q) || !same_terms(&o.y, &g->o[0].y)))
			break;
		int ch = -1;
		for (int k = 0; k < g->nchan; k++)
			if (g->chan_c[k] == o.q.c)
				ch = k;
		const int nch = g->nchan + (ch < 0);
		/* registers: n accumulators, 2 pointers, 3 constants a channel and a temporary */
		if (nch > 2 || (g->n + 1) + 2 + 3 * nch + 1 > 13)
			break;
		if (ch < 0) {
			ch = g->nchan;
			g->chan_c[g->nchan++] = o.q.c;
		}
		o.chan = ch;
		g->rq = rq;
		g->yb = yb;
		g->o[g->n++] = o;
	}
	if (g->n < 2)
		return 0;
	/* only after a reduction in the smlad asm (in the same block): there
	 * LLVM has spilled the constants' pointers; elsewhere (the portable
	 * kernel: Fashion-MNIST's first conv 321 k → 383 k instructions) its
	 * own code keeps them in registers and does better */
	int sm = 0;
	for (int k = i - 1; k >= 0 && !sm; k--)
		sm = cg_smlad_nest(c, l->v[k]);
	if (!sm)
		return 0;
	/* offsets from the smallest indices: ldrd reaches 1020 bytes, strb 4095 */
	int64_t cmin = g->chan_c[0], ymin = g->o[0].y.c;
	g->qmin = 0;
	g->ymin = 0;
	for (int j = 0; j < g->n; j++) {
		if (g->o[j].q.c < cmin)
			cmin = g->o[j].q.c, g->qmin = j;
		if (g->o[j].y.c < ymin)
			ymin = g->o[j].y.c, g->ymin = j;
	}
	for (int k = 0; k < g->nchan; k++)
		if (4 * (g->chan_c[k] - cmin) + 8 > 1020)
			return 0;
	for (int j = 0; j < g->n; j++) {
		if (g->o[j].y.c - ymin > 4095)
			return 0;
		/* the lets' variables are read by no later statement */
		if (used_after(l, i + 3 * g->n, g->o[j].xv) || used_after(l, i + 3 * g->n, g->o[j].hv))
			return 0;
		for (int k = 0; k < g->o[j].q.n; k++)
			for (int m = 0; m < g->n; m++)
				if (g->o[j].q.var[k] == g->o[m].xv || g->o[j].q.var[k] == g->o[m].hv)
					return 0;
		for (int k = 0; k < g->o[j].y.n; k++)
			for (int m = 0; m < g->n; m++)
				if (g->o[j].y.var[k] == g->o[m].xv || g->o[j].y.var[k] == g->o[m].hv)
					return 0;
	}
	return 1;
}

int cg_requant_match(const CgCtx *c, const LStmtList *l, int i, CgRq *r)
{
	RqGroup g;
	if (!match_group(c, l, i, &g))
		return 0;
	memset(r, 0, sizeof *r);
	r->n = g.n;
	r->nchan = g.nchan;
	r->rq = g.rq;
	r->yb = g.yb;
	for (int j = 0; j < g.n; j++)
		r->o[j] = (CgRqOut){g.o[j].acc, g.o[j].shift, g.o[j].chan, g.o[j].y.c};
	r->chan_c[0] = g.chan_c[0];
	r->chan_c[1] = g.chan_c[1];
	r->qidx = g.o[g.qmin].qidx;
	r->yidx = g.o[g.ymin].yidx;
	r->qmin = g.o[g.qmin].q.c;
	r->ymin = g.o[g.ymin].y.c;
	return 1;
}

void cg_rq_out(StrBuf *b, const char *x, int shift, const char *q, const char *s, const char *c, const char *t,
               const char *y, int64_t off, int64_t post)
{
	if (shift > 0)
		sb_fmt(b, "lsl %s, %s, #%d\n\t", x, x, shift);
	else if (shift < 0)
		sb_fmt(b, "asr %s, %s, #%d\n\t", x, x, -shift);
	sb_fmt(b, "add %s, %s, %s, asr #31\n\t", t, c, x);
	sb_fmt(b, "smmlar %s, %s, %s, %s\n\t", t, x, q, t);
	sb_fmt(b, "asr %s, %s, %s\n\t", t, t, s);
	sb_fmt(b, "ssat %s, #8, %s\n\t", t, t);
	if (post > 0)
		sb_fmt(b, "strb %s, [%s], #%lld\n\t", t, y, (long long)post);
	else
		sb_fmt(b, "strb %s, [%s, #%lld]\n\t", t, y, (long long)off);
}

const char *cg_opn(char *buf, int n)
{
	snprintf(buf, CG_OPN, "$%d", n);
	return buf;
}

int cg_requant_group(CgCtx *c, const LStmtList *l, int i)
{
	RqGroup g;
	if (!c->dsp || c->o->opt == CG_O0 || !match_group(c, l, i, &g))
		return 0;
	/* operands: outputs 0..n−1 the accumulators (tied, shifted in place),
	 * then per channel q, s, c and one temporary (early clobber); inputs:
	 * the accumulators, the constants' pointer, the stores' pointer */
	const int n = g.n, T = n, nt = 3 * g.nchan + 1, nout = n + nt, RP = nout + n, YP = RP + 1;
	StrBuf b = {0};
	const int64_t cmin = g.o[g.qmin].q.c, ymin = g.o[g.ymin].y.c;
	for (int k = 0; k < g.nchan; k++) {
		int64_t off = 4 * (g.chan_c[k] - cmin);
		sb_fmt(&b, "ldrd $%d, $%d, [$%d, #%lld]\n\t", T + 3 * k, T + 3 * k + 1, RP, (long long)off);
		sb_fmt(&b, "ldr $%d, [$%d, #%lld]\n\t", T + 3 * k + 2, RP, (long long)(off + 8));
	}
	const int t = T + 3 * g.nchan;
	for (int j = 0; j < n; j++) {
		const RqOut *o = &g.o[j];
		int q = T + 3 * o->chan;
		char rx[CG_OPN], rq[CG_OPN], rs[CG_OPN], rc[CG_OPN], rt[CG_OPN], ry[CG_OPN];
		cg_rq_out(&b, cg_opn(rx, j), o->shift, cg_opn(rq, q), cg_opn(rs, q + 1), cg_opn(rc, q + 2), cg_opn(rt, t),
		          cg_opn(ry, YP), o->y.c - ymin, 0);
	}
	if (b.oom || !b.s) {
		free(b.s);
		cg_fail(c, "out of memory");
		return -1;
	}
	if (b.n >= 2 && b.s[b.n - 1] == '\t')
		b.s[b.n -= 2] = 0;
	char cons[256];
	size_t cn = 0;
	for (int k = 0; k < nout; k++)
		cn += (size_t)snprintf(cons + cn, sizeof cons - cn, "%s%s", k ? "," : "", k < n ? "=r" : "=&r");
	for (int k = 0; k < n; k++)
		cn += (size_t)snprintf(cons + cn, sizeof cons - cn, ",%d", k);
	cn += (size_t)snprintf(cons + cn, sizeof cons - cn, ",r,r,~{memory}");
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx), ptr = LLVMPointerTypeInContext(c->ctx, 0);
	LLVMTypeRef outs[RQ_MAX + 8], ins[RQ_MAX + 2];
	for (int k = 0; k < nout; k++)
		outs[k] = i32;
	for (int k = 0; k < n; k++)
		ins[k] = i32;
	ins[n] = ptr;
	ins[n + 1] = ptr;
	LLVMTypeRef fty = LLVMFunctionType(LLVMStructTypeInContext(c->ctx, outs, (unsigned)nout, 0), ins, (unsigned)n + 2, 0);
	LLVMValueRef f = LLVMGetInlineAsm(fty, b.s, b.n, cons, cn, 1, 0, LLVMInlineAsmDialectATT, 0);
	free(b.s);
	LLVMValueRef args[RQ_MAX + 2];
	for (int j = 0; j < n; j++) {
		LLVMValueRef slot = cg_slot(c, g.o[j].acc);
		if (!slot)
			return -1;
		args[j] = LLVMBuildLoad2(c->b, i32, slot, "");
	}
	LLVMValueRef qi = cg_expr(c, g.o[g.qmin].qidx, 1), yi = qi ? cg_expr(c, g.o[g.ymin].yidx, 1) : NULL;
	if (!yi)
		return -1;
	args[n] = cg_addr(c, g.rq, qi);
	args[n + 1] = cg_addr(c, g.yb, yi);
	LLVMBuildCall2(c->b, fty, f, args, (unsigned)n + 2, "");
	return 3 * n;
}
