/* inplace.c — pass "inplace": let a top-level statement write its result
 * into the memory of an input that dies there, by merging the two arena
 * buffers into one (the merged buffer keeps the output's name; the input's
 * indices are shifted by d elements inside it).
 *
 * requires: a program that verifies (placement is ignored: plan-memory runs
 *           after this pass and places the merged buffers).
 * provides: fewer arena buffers and a lower bound; a statement transformed
 *           here computes what it computed before (proofs below); when
 *           LoopPassCtx.mem is set, no_reuse / bound_lowered of the program
 *           as it came in, and n_inplace.
 *
 * Candidates: statement s, arena buffers IN and OUT of one element type, IN
 * loaded (never stored) in s and not used after s, OUT stored (never loaded)
 * in s and not used before s. Three cases, tried in order:
 *
 *  E  elementwise (ReLU, BN, add with a dying operand, any fused chain):
 *     exactly one store OUT[e] in s, e built only from the loop variables
 *     of its enclosing for loops (constant bounds) and constants, injective
 *     over their iterations (affine, each coefficient larger than the span
 *     of the smaller ones); every load of IN is IN[e] itself, in the store's
 *     value or in a let before it in the same statement list. One iteration
 *     reads IN[x] before writing OUT[x], and no other iteration touches x:
 *     merged with d = 0, no extra memory.
 *  A  chunks (depthwise convolution, pooling per channel): s is
 *     `for v in 0..V` (constant); every store OUT[KO·v + r] has r ∈ [0, KO)
 *     and every load IN[KI·v + r'] has r' ≥ rlo (interval analysis over
 *     loop bounds, lets, min/max/add/sub/mul by constants; anything else
 *     refuses). The stores of one iteration go to a temporary T of Tn ≤ KO
 *     elements, copied to OUT[KO·v + j] at the end of the iteration. In the
 *     merged buffer OUT is at 0 and IN at d, d ≥ k·(KO − KI) − rlo for
 *     k = 1..V−1, so chunk v (ending at (v+1)·KO) lies below every read of
 *     the later iterations (≥ d + (v+1)·KI + rlo).
 *  B  pixels (1×1 convolution in NCHW): s is `for a in 0..A { for v in 0..V
 *     {body} }` with constant bounds, and in the interchanged nest (v outer)
 *     every store index is v + S·q and every load index of IN is v + S·q'
 *     (syntactically: terms K·x with S | K, constants with S | c), S ≥ V:
 *     iteration v touches only elements ≡ v (mod S), so iterations never
 *     touch each other's elements. The body stores only OUT and declares
 *     all its variables, so the interchange is legal (writes to one element
 *     keep their order: same v). The stores of one v go to T[q], copied to
 *     OUT[v + S·j] after the a loop; d = 0.
 * A and B are applied only when they save memory (merged + T < IN + OUT).
 */
#include "memory.h"
#include "passes.h"

#include <stdlib.h>
#include <string.h>

#define BIG ((int64_t)1 << 40)

/* ---- small tree helpers ----------------------------------------------- */

static int expr_eq(const LExpr *a, const LExpr *b)
{
	if (!a || !b)
		return a == b;
	if (a->kind != b->kind || a->type != b->type || a->op != b->op || a->sat != b->sat)
		return 0;
	switch (a->kind) {
	case LE_CONST: return a->ival == b->ival && (a->fval == b->fval || (a->fval != a->fval && b->fval != b->fval));
	case LE_VAR: return a->var == b->var;
	case LE_LOAD: if (a->buf != b->buf) return 0; break;
	default: break;
	}
	return expr_eq(a->a, b->a) && expr_eq(a->b, b->b) && expr_eq(a->c, b->c);
}

/* Count loads of buf in e (and whether any load index is not `idx`). */
static void count_loads(const LExpr *e, int buf, const LExpr *idx, int *n, int *bad)
{
	for (; e; e = e->c) {
		if (e->kind == LE_LOAD && e->buf == buf) {
			(*n)++;
			if (!idx || !expr_eq(e->a, idx))
				(*bad)++;
		}
		count_loads(e->a, buf, idx, n, bad);
		count_loads(e->b, buf, idx, n, bad);
	}
}

static void count_list(const LStmtList *l, int buf, const LExpr *idx, int *n, int *bad, int *stores, int store_buf);

static void count_stmt(const LStmt *st, int buf, const LExpr *idx, int *n, int *bad, int *stores, int store_buf)
{
	count_loads(st->lo, buf, idx, n, bad);
	count_loads(st->hi, buf, idx, n, bad);
	count_loads(st->idx, buf, idx, n, bad);
	count_loads(st->val, buf, idx, n, bad);
	count_loads(st->cond, buf, idx, n, bad);
	if (st->kind == LS_STORE && st->buf == store_buf)
		(*stores)++;
	count_list(&st->body, buf, idx, n, bad, stores, store_buf);
	count_list(&st->els, buf, idx, n, bad, stores, store_buf);
}

static void count_list(const LStmtList *l, int buf, const LExpr *idx, int *n, int *bad, int *stores, int store_buf)
{
	for (int i = 0; i < l->n; i++)
		count_stmt(l->v[i], buf, idx, n, bad, stores, store_buf);
}

/* ---- E: elementwise ------------------------------------------------------ */

typedef struct Loop {
	int var;
	int64_t lo, trip, step;
} Loop;

/* The path of for loops from s down to the single store to OUT; 0 if the
 * store sits under an if or a loop with non-constant bounds. */
static int find_store(const LStmt *st, int out, Loop *path, int *depth, const LStmtList **list, int *pos)
{
	if (st->kind == LS_FOR) {
		if (*depth >= 16 || !st->lo || !st->hi || st->lo->kind != LE_CONST || st->hi->kind != LE_CONST)
			return 0;
		int64_t lo = st->lo->ival, hi = st->hi->ival;
		path[*depth] = (Loop){st->var, lo, hi > lo ? (hi - lo + st->step - 1) / st->step : 0, st->step};
		(*depth)++;
		for (int i = 0; i < st->body.n; i++) {
			const LStmt *c = st->body.v[i];
			if (c->kind == LS_STORE && c->buf == out) {
				*list = &st->body;
				*pos = i;
				return 1;
			}
			if (c->kind == LS_FOR) {
				int d0 = *depth;
				if (find_store(c, out, path, depth, list, pos))
					return 1;
				*depth = d0;
			}
		}
	}
	return 0;
}

/* e = sum coef·loopvar + const over the path's vars; coefficients out. */
static int affine(const LExpr *e, const Loop *path, int depth, int64_t *coef, int64_t *k)
{
	switch (e->kind) {
	case LE_CONST: *k += e->ival; return 1;
	case LE_VAR:
		for (int i = 0; i < depth; i++)
			if (path[i].var == e->var) {
				coef[i] += 1;
				return 1;
			}
		return 0;
	case LE_BIN:
		if (e->op == LO_ADD)
			return affine(e->a, path, depth, coef, k) && affine(e->b, path, depth, coef, k);
		if (e->op == LO_MUL && e->b->kind == LE_CONST) {
			int64_t c2[16] = {0}, k2 = 0, m = e->b->ival;
			if (m <= -BIG || m >= BIG || !affine(e->a, path, depth, c2, &k2))
				return 0;
			for (int i = 0; i < depth; i++)
				coef[i] += c2[i] * m;
			*k += k2 * m;
			return 1;
		}
		return 0;
	default: return 0;
	}
}

/* Different iterations of the path give different values of e. */
static int injective(const LExpr *e, const Loop *path, int depth)
{
	int64_t coef[16] = {0}, k = 0;
	if (!affine(e, path, depth, coef, &k))
		return 0;
	int64_t eff[16], ext[16];
	int n = 0;
	for (int i = 0; i < depth; i++) {
		if (path[i].trip <= 1)
			continue;
		int64_t c = coef[i] * path[i].step;
		if (c < 0)
			c = -c;
		if (c == 0 || c >= BIG)
			return 0;
		eff[n] = c, ext[n] = path[i].trip, n++;
	}
	for (int i = 1; i < n; i++) /* insertion sort by coefficient */
		for (int j = i; j > 0 && eff[j] < eff[j - 1]; j--) {
			int64_t t = eff[j]; eff[j] = eff[j - 1]; eff[j - 1] = t;
			t = ext[j]; ext[j] = ext[j - 1]; ext[j - 1] = t;
		}
	int64_t span = 0;
	for (int i = 0; i < n; i++) {
		if (eff[i] <= span)
			return 0;
		span += eff[i] * (ext[i] - 1);
		if (span >= BIG)
			return 0;
	}
	return 1;
}

static int try_elementwise(const LStmt *s, int in, int out)
{
	Loop path[16];
	int depth = 0, pos = -1;
	const LStmtList *list = NULL;
	if (!find_store(s, out, path, &depth, &list, &pos))
		return 0;
	const LStmt *st = list->v[pos];
	int n = 0, bad = 0, stores = 0;
	count_stmt(s, out, NULL, &n, &bad, &stores, out);
	if (stores != 1 || n != 0) /* one store to OUT, no load of it */
		return 0;
	if (!injective(st->idx, path, depth))
		return 0;
	/* all loads of IN: in the lets before the store (same list) or its value, at the store's index */
	int total = 0, tbad = 0, z = 0;
	count_stmt(s, in, NULL, &total, &tbad, &z, -1);
	int here = 0;
	bad = 0;
	for (int i = 0; i < pos; i++) {
		const LStmt *c = list->v[i];
		if (c->kind != LS_LET)
			continue;
		count_loads(c->val, in, st->idx, &here, &bad);
	}
	count_loads(st->val, in, st->idx, &here, &bad);
	count_loads(st->idx, in, NULL, &here, &bad); /* IN in the index itself: refuse */
	return here == total && bad == 0;
}

/* ---- intervals (case A) ------------------------------------------------- */

typedef struct Aff {
	int64_t k, lo, hi; /* k·v + [lo, hi] */
	int ok;
} Aff;

typedef struct Env {
	const LProgram *p;
	int v;           /* the chunk variable */
	Aff *var;        /* per variable; ok = 0: unknown */
	unsigned char *assigned; /* variables that are `set` */
} Env;

static Aff bad_aff(void) { return (Aff){0, 0, 0, 0}; }

static int small(int64_t x) { return x > -BIG && x < BIG; }

static Aff aff(const Env *en, const LExpr *e)
{
	Aff a, b;
	if (!e || e->type != LT_I32)
		return bad_aff();
	switch (e->kind) {
	case LE_CONST: return (Aff){0, e->ival, e->ival, 1};
	case LE_VAR:
		if (e->var == en->v)
			return (Aff){1, 0, 0, 1};
		return en->assigned[e->var] ? bad_aff() : en->var[e->var];
	case LE_BIN:
		a = aff(en, e->a), b = aff(en, e->b);
		if (!a.ok || !b.ok)
			return bad_aff();
		switch (e->op) {
		case LO_ADD: a = (Aff){a.k + b.k, a.lo + b.lo, a.hi + b.hi, 1}; break;
		case LO_SUB: a = (Aff){a.k - b.k, a.lo - b.hi, a.hi - b.lo, 1}; break;
		case LO_MUL:
			if (b.k == 0 && b.lo == b.hi) {
				int64_t m = b.lo;
				a = m >= 0 ? (Aff){a.k * m, a.lo * m, a.hi * m, 1} : (Aff){a.k * m, a.hi * m, a.lo * m, 1};
			} else if (a.k == 0 && a.lo == a.hi) {
				int64_t m = a.lo;
				a = m >= 0 ? (Aff){b.k * m, b.lo * m, b.hi * m, 1} : (Aff){b.k * m, b.hi * m, b.lo * m, 1};
			} else {
				return bad_aff();
			}
			break;
		case LO_MIN:
		case LO_MAX:
			if (a.k != b.k)
				return bad_aff();
			if (e->op == LO_MIN)
				a = (Aff){a.k, a.lo < b.lo ? a.lo : b.lo, a.hi < b.hi ? a.hi : b.hi, 1};
			else
				a = (Aff){a.k, a.lo > b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi, 1};
			break;
		default: return bad_aff();
		}
		if (!small(a.k) || !small(a.lo) || !small(a.hi) || a.lo > a.hi)
			return bad_aff();
		return a;
	default: return bad_aff();
	}
}

typedef struct Chk {
	int in, out;
	int64_t ko, ki, rlo, whi, wlo;
	int n_st, n_ld, fail;
} Chk;

static void chk_expr(Env *en, Chk *c, const LExpr *e)
{
	for (; e && !c->fail; e = e->c) {
		if (e->kind == LE_LOAD && e->buf == c->out)
			c->fail = 1;
		if (e->kind == LE_LOAD && e->buf == c->in) {
			Aff a = aff(en, e->a);
			if (!a.ok || a.k < 0 || (c->n_ld && a.k != c->ki))
				c->fail = 1;
			else {
				if (!c->n_ld || a.lo < c->rlo)
					c->rlo = a.lo;
				c->ki = a.k;
				c->n_ld++;
			}
		}
		chk_expr(en, c, e->a);
		chk_expr(en, c, e->b);
	}
}

static void chk_list(Env *en, Chk *c, const LStmtList *l);

static void chk_stmt(Env *en, Chk *c, const LStmt *st)
{
	chk_expr(en, c, st->lo);
	chk_expr(en, c, st->hi);
	chk_expr(en, c, st->idx);
	chk_expr(en, c, st->val);
	chk_expr(en, c, st->cond);
	switch (st->kind) {
	case LS_FOR: {
		Aff lo = aff(en, st->lo), hi = aff(en, st->hi);
		en->var[st->var] = lo.ok && hi.ok && lo.k == 0 && hi.k == 0 ? (Aff){0, lo.lo, hi.hi - 1 > lo.lo ? hi.hi - 1 : lo.lo, 1}
		                                                         : bad_aff();
		break;
	}
	case LS_LET:
		if (st->val->type == LT_I32)
			en->var[st->var] = aff(en, st->val);
		break;
	case LS_STORE:
		if (st->buf == c->in)
			c->fail = 1;
		if (st->buf == c->out) {
			Aff a = aff(en, st->idx);
			if (!a.ok || a.k <= 0 || (c->n_st && a.k != c->ko))
				c->fail = 1;
			else {
				if (!c->n_st || a.hi > c->whi)
					c->whi = a.hi;
				if (!c->n_st || a.lo < c->wlo)
					c->wlo = a.lo;
				c->ko = a.k;
				c->n_st++;
			}
		}
		break;
	default: break;
	}
	chk_list(en, c, &st->body);
	chk_list(en, c, &st->els);
}

static void chk_list(Env *en, Chk *c, const LStmtList *l)
{
	for (int i = 0; i < l->n && !c->fail; i++)
		chk_stmt(en, c, l->v[i]);
}

static void mark_sets(unsigned char *assigned, const LStmtList *l)
{
	for (int i = 0; i < l->n; i++) {
		if (l->v[i]->kind == LS_SET)
			assigned[l->v[i]->var] = 1;
		mark_sets(assigned, &l->v[i]->body);
		mark_sets(assigned, &l->v[i]->els);
	}
}

/* ---- B: modular decomposition ------------------------------------------- */

static int uses_var(const LExpr *e, int v)
{
	for (; e; e = e->c) {
		if (e->kind == LE_VAR && e->var == v)
			return 1;
		if (uses_var(e->a, v) || uses_var(e->b, v))
			return 1;
	}
	return 0;
}

/* e = v + S·q: builds q (NULL if e is not of that form). *nv counts v. */
static LExpr *modq(LProgram *p, LExpr *e, int v, int64_t S, int *nv, int *fail)
{
	if (*fail)
		return NULL;
	if (e->kind == LE_VAR && e->var == v) {
		(*nv)++;
		return le_i32(p, 0);
	}
	if (e->kind == LE_CONST && e->type == LT_I32 && e->ival % S == 0)
		return le_i32(p, e->ival / S);
	if (e->kind == LE_BIN && e->op == LO_ADD) {
		LExpr *a = modq(p, e->a, v, S, nv, fail), *b = modq(p, e->b, v, S, nv, fail);
		return *fail ? NULL : le_add(p, a, b);
	}
	if (e->kind == LE_BIN && e->op == LO_MUL && e->b->kind == LE_CONST && e->b->ival % S == 0) {
		if (uses_var(e->a, v))
			*fail = 1;
		return *fail ? NULL : le_mul_k(p, e->a, e->b->ival / S);
	}
	/* any other term: fine only if it is a multiple of S built without v: refuse */
	*fail = 1;
	return NULL;
}

/* Every load of buf in l has an index v + S·q. */
static int loads_mod_ok_expr(LProgram *p, LExpr *e, int buf, int v, int64_t S)
{
	for (; e; e = e->c) {
		if (e->kind == LE_LOAD && e->buf == buf) {
			int nv = 0, fail = 0;
			if (!modq(p, e->a, v, S, &nv, &fail) || fail || nv != 1)
				return 0;
		}
		if (!loads_mod_ok_expr(p, e->a, buf, v, S) || !loads_mod_ok_expr(p, e->b, buf, v, S))
			return 0;
	}
	return 1;
}

static int loads_mod_ok(LProgram *p, const LStmtList *l, int buf, int v, int64_t S)
{
	for (int i = 0; i < l->n; i++) {
		LStmt *st = l->v[i];
		if (!loads_mod_ok_expr(p, st->lo, buf, v, S) || !loads_mod_ok_expr(p, st->hi, buf, v, S) ||
		    !loads_mod_ok_expr(p, st->idx, buf, v, S) || !loads_mod_ok_expr(p, st->val, buf, v, S) ||
		    !loads_mod_ok_expr(p, st->cond, buf, v, S) || !loads_mod_ok(p, &st->body, buf, v, S) ||
		    !loads_mod_ok(p, &st->els, buf, v, S))
			return 0;
	}
	return 1;
}

/* ---- transformation helpers -------------------------------------------- */

typedef struct Xf {
	LProgram *p;
	int in, out, tmp, v;
	int64_t ko, S; /* A: ko; B: S */
	int mode;      /* 'A' or 'B' */
	Env *en;
	int64_t tmax;  /* largest temp index */
	int fail, dry;
} Xf;

/* The temp index of a store index (A: idx − KO·v; B: q). */
static LExpr *tmp_index(Xf *x, LExpr *idx)
{
	if (x->mode == 'A')
		return le_bin(x->p, LO_SUB, idx, le_mul_k(x->p, le_var(x->p, x->v), x->ko));
	int nv = 0, fail = 0;
	LExpr *q = modq(x->p, idx, x->v, x->S, &nv, &fail);
	if (fail || nv != 1 || !q)
		return NULL;
	return q;
}

static void xf_list(Xf *x, LStmtList *l)
{
	for (int i = 0; i < l->n && !x->fail; i++) {
		LStmt *st = l->v[i];
		if (st->kind == LS_FOR) {
			Aff lo = aff(x->en, st->lo), hi = aff(x->en, st->hi);
			x->en->var[st->var] = lo.ok && hi.ok && lo.k == 0 && hi.k == 0
			                          ? (Aff){0, lo.lo, hi.hi - 1 > lo.lo ? hi.hi - 1 : lo.lo, 1}
			                          : bad_aff();
		} else if (st->kind == LS_LET && st->val->type == LT_I32) {
			x->en->var[st->var] = aff(x->en, st->val);
		} else if (st->kind == LS_STORE && st->buf == x->out) {
			LExpr *ti = tmp_index(x, st->idx);
			Aff a = ti ? aff(x->en, ti) : bad_aff();
			if (!a.ok || a.k != 0 || a.lo < 0) {
				x->fail = 1;
				return;
			}
			if (a.hi > x->tmax)
				x->tmax = a.hi;
			if (!x->dry) {
				st->buf = x->tmp;
				st->idx = ti;
			}
		}
		xf_list(x, &st->body);
		xf_list(x, &st->els);
	}
}

/* ---- the pass --------------------------------------------------------- */

typedef struct Cand {
	int ok;
	char mode;
	int64_t d, tn, saved;
} Cand;

static int64_t elsize(const LBuf *b) { return mem_raw_bytes(b) / b->numel; }

static int64_t in_numel_max(const LBuf *bi, const LBuf *bo, int64_t d)
{
	return bo->numel > bi->numel + d ? bo->numel : bi->numel + d;
}

/* Try A or B on statement s (dry: decide only). */
static Cand try_chunks(LProgram *p, LStmt *s, int in, int out, int dry, int mode, Diag *d)
{
	Cand r = {0, 0, 0, 0, 0};
	(void)d;
	if (s->kind != LS_FOR || s->step != 1 || s->lo->kind != LE_CONST || s->hi->kind != LE_CONST || s->lo->ival != 0)
		return r;
	int64_t V = s->hi->ival;
	LStmt *loop = s;
	if (mode == 'B') { /* the inner loop of a perfect 2-nest becomes the chunk loop */
		if (s->body.n != 1 || s->body.v[0]->kind != LS_FOR)
			return r;
		loop = s->body.v[0];
		if (loop->step != 1 || loop->lo->kind != LE_CONST || loop->hi->kind != LE_CONST || loop->lo->ival != 0)
			return r;
		V = loop->hi->ival;
	}
	if (V < 2)
		return r;
	Aff *vars = calloc((size_t)p->n_vars + 1, sizeof *vars);
	unsigned char *asg = calloc((size_t)p->n_vars + 1, 1);
	if (!vars || !asg) {
		free(vars);
		free(asg);
		return r;
	}
	mark_sets(asg, &s->body);
	Env en = {p, loop->var, vars, asg};
	const LBuf *bi = &p->bufs[in], *bo = &p->bufs[out];
	int64_t es = elsize(bo), in_numel = bi->numel, out_numel = bo->numel;
	Xf x = {p, in, out, -1, loop->var, 0, 0, (char)mode, &en, -1, 0, 1};
	if (mode == 'A') {
		Chk c = {in, out, 0, 0, 0, 0, 0, 0, 0, 0};
		chk_list(&en, &c, &s->body);
		if (c.fail || !c.n_st || !c.n_ld || c.wlo < 0 || c.whi >= c.ko)
			goto done;
		int64_t need = (c.ko > c.ki ? (V - 1) * (c.ko - c.ki) : c.ko - c.ki) - c.rlo;
		int64_t dd = need > 0 ? need : 0;
		int64_t unit = bo->align > es ? bo->align / es : 1; /* keep IN aligned inside the merged buffer */
		dd = (dd + unit - 1) / unit * unit;
		x.ko = c.ko;
		memset(vars, 0, (size_t)p->n_vars * sizeof *vars);
		xf_list(&x, &s->body);
		if (x.fail)
			goto done;
		r.d = dd;
	} else {
		/* the body stores only OUT, loads of OUT none, IN loads v + S·q; S = the store's */
		int64_t S = 0;
		/* find S from the first store: its index minus v must be a multiple; take the
		 * smallest constant multiplier in the index as S */
		const LStmt *st = NULL;
		for (const LStmtList *l = &loop->body; l;) {
			const LStmtList *next = NULL;
			for (int i = 0; i < l->n && !st; i++) {
				if (l->v[i]->kind == LS_STORE)
					st = l->v[i];
				else if (l->v[i]->kind == LS_FOR && !next)
					next = &l->v[i]->body;
			}
			l = st ? NULL : next;
		}
		if (!st || st->buf != out || st->idx->kind != LE_BIN || st->idx->op != LO_ADD)
			goto done;
		const LExpr *e = st->idx;
		if (e->a->kind == LE_BIN && e->a->op == LO_MUL && e->a->b->kind == LE_CONST)
			S = e->a->b->ival;
		if (S < V || S <= 0)
			goto done;
		if (uses_var(loop->lo, s->var) || uses_var(loop->hi, s->var))
			goto done;
		int nst = 0, nld = 0, bad = 0, z = 0;
		count_stmt(loop, out, NULL, &nld, &bad, &nst, out);
		if (nld)
			goto done;
		/* only OUT is stored in the nest */
		int nall = 0;
		for (int b = 0; b < p->n_bufs; b++) {
			int k = 0, bb = 0, ns = 0;
			count_stmt(loop, -1, NULL, &k, &bb, &ns, b);
			if (b != out)
				nall += ns;
		}
		if (nall)
			goto done;
		/* every load of IN: v + S·q */
		(void)z;
		x.S = S;
		memset(vars, 0, (size_t)p->n_vars * sizeof *vars);
		vars[s->var] = (Aff){0, 0, s->hi->ival - 1, 1};
		xf_list(&x, &loop->body);
		if (x.fail)
			goto done;
		int nin = 0, ibad = 0, zz = 0;
		count_stmt(loop, in, NULL, &nin, &ibad, &zz, -1);
		if (!nin)
			goto done;
		if (!loads_mod_ok(p, &loop->body, in, loop->var, S))
			goto done;
		r.d = 0;
	}
	r.tn = x.tmax + 1;
	int64_t merged = (bo->numel > bi->numel + r.d ? bo->numel : bi->numel + r.d) * es;
	r.saved = mem_raw_bytes(bi) + mem_raw_bytes(bo) - merged - r.tn * es - bo->align;
	if (r.tn <= 0 || r.saved <= 0)
		goto done;
	r.ok = 1;
	r.mode = (char)mode;
	if (dry)
		goto done;
	/* transform: temp buffer, stores redirected, copy-back loop, merge */
	char name[300];
	snprintf(name, sizeof name, "%s.tmp", bo->name);
	for (int k = 1; loop_find_buf(p, name) >= 0; k++)
		snprintf(name, sizeof name, "%s.tmp%d", bo->name, k);
	int t = loop_add_buf(p, name, LB_ARENA, bo->type, r.tn);
	if (t < 0) {
		r.ok = -1;
		goto done;
	}
	p->bufs[t].align = p->bufs[out].align;
	x.tmp = t;
	x.dry = 0;
	x.tmax = -1;
	memset(vars, 0, (size_t)p->n_vars * sizeof *vars);
	if (mode == 'B') {
		/* interchange: swap the loop headers of s and its inner loop */
		LStmt *inner = loop;
		int tv = s->var; s->var = inner->var; inner->var = tv;
		LExpr *tl = s->lo; s->lo = inner->lo; inner->lo = tl;
		LExpr *th = s->hi; s->hi = inner->hi; inner->hi = th;
		vars[inner->var] = (Aff){0, 0, inner->hi->ival - 1, 1};
		en.v = s->var;
		x.v = s->var;
		xf_list(&x, &inner->body);
	} else {
		xf_list(&x, &s->body);
	}
	int j = loop_new_var(p, "j", LT_I32, 1);
	if (x.fail || j < 0) {
		r.ok = -1;
		goto done;
	}
	LExpr *oi = mode == 'A' ? le_add(p, le_mul_k(p, le_var(p, s->var), x.ko), le_var(p, j))
	                        : le_add(p, le_var(p, s->var), le_mul_k(p, le_var(p, j), x.S));
	LStmt *cp = ls_for(p, &s->body, j, le_i32(p, 0), le_i32(p, r.tn), 1);
	if (!cp || !oi || !ls_store(p, &cp->body, out, oi, le_load(p, t, le_var(p, j)))) {
		r.ok = -1;
		goto done;
	}
	if (in_numel + r.d > out_numel)
		p->bufs[out].numel = in_numel + r.d;
	if (p->bufs[in].align > p->bufs[out].align)
		p->bufs[out].align = p->bufs[in].align;
	if (mem_redirect(p, in, out, r.d) < 0)
		r.ok = -1;
done:
	free(vars);
	free(asg);
	return r;
}

/* The bound if IN and OUT became one buffer of `merged` bytes (live from
 * IN's first to OUT's last step) plus `tmp` bytes live at step s. */
static int64_t bound_if(const LProgram *p, const int *first, const int *last, int in, int out, int64_t merged,
                        int64_t tmp, int s)
{
	int n = p->body.n;
	int64_t *delta = calloc((size_t)n + 1, sizeof *delta), best = 0, cur = 0;
	if (!delta)
		return INT64_MAX;
	for (int b = 0; b < p->n_bufs; b++)
		if (first[b] >= 0 && b != in && b != out) {
			delta[first[b]] += mem_size(&p->bufs[b]);
			delta[last[b] + 1] -= mem_size(&p->bufs[b]);
		}
	delta[first[in]] += merged;
	delta[last[out] + 1] -= merged;
	delta[s] += tmp;
	delta[s + 1] -= tmp;
	for (int k = 0; k < n; k++) {
		cur += delta[k];
		if (cur > best)
			best = cur;
	}
	free(delta);
	return best;
}

static int64_t round_up(int64_t x, int64_t a) { return a > 1 ? (x + a - 1) / a * a : x; }

int loop_pass_inplace(LProgram *p, const LoopPassCtx *c, Diag *d)
{
	for (int b = 0; b < p->n_bufs; b++)
		if (p->bufs[b].kind == LB_ARENA && p->bufs[b].align < c->arena_align)
			p->bufs[b].align = c->arena_align;
	int nb0 = p->n_bufs;
	int *first = calloc((size_t)nb0 + 8, sizeof *first), *last = calloc((size_t)nb0 + 8, sizeof *last);
	unsigned char *use = NULL;
	int merged = 0, rc = -1;
	if (!first || !last)
		goto oom;
	use = mem_uses(p);
	if (!use)
		goto oom;
	mem_liveness(p, use, NULL, first, last);
	if (c->mem) {
		c->mem->no_reuse = mem_no_reuse(p);
		c->mem->bound_lowered = mem_bound(p, first, last, NULL);
	}
	for (int again = 1; again;) {
		again = 0;
		free(use);
		use = mem_uses(p);
		if (!use)
			goto oom;
		int nb = p->n_bufs;
		if (nb > nb0) { /* temporaries were added */
			int *f2 = realloc(first, (size_t)(nb + 8) * sizeof *f2);
			if (f2)
				first = f2;
			int *l2 = realloc(last, (size_t)(nb + 8) * sizeof *l2);
			if (l2)
				last = l2;
			if (!f2 || !l2)
				goto oom;
			nb0 = nb;
		}
		mem_liveness(p, use, NULL, first, last);
		int64_t bound = mem_bound(p, first, last, NULL);
		for (int s = 0; s < p->body.n && !again; s++) {
			const unsigned char *row = use + (size_t)s * (size_t)nb;
			for (int out = 0; out < nb && !again; out++) {
				if (p->bufs[out].kind != LB_ARENA || row[out] != MEM_WR || first[out] != s)
					continue;
				for (int in = 0; in < nb && !again; in++) {
					if (in == out || p->bufs[in].kind != LB_ARENA || row[in] != MEM_RD || last[in] != s ||
					    first[in] >= s || p->bufs[in].type != p->bufs[out].type)
						continue;
					LStmt *st = p->body.v[s];
					const LBuf *bi = &p->bufs[in], *bo = &p->bufs[out];
					int64_t al = bi->align > bo->align ? bi->align : bo->align;
					int64_t mx = mem_raw_bytes(bi) > mem_raw_bytes(bo) ? mem_raw_bytes(bi) : mem_raw_bytes(bo);
					/* a merge must not raise the bound (the merged buffer lives as long as both) */
					if (bound_if(p, first, last, in, out, round_up(mx, al), 0, s) <= bound &&
					    try_elementwise(st, in, out)) {
						if (p->bufs[in].numel > p->bufs[out].numel)
							p->bufs[out].numel = p->bufs[in].numel;
						if (p->bufs[in].align > p->bufs[out].align)
							p->bufs[out].align = p->bufs[in].align;
						if (mem_redirect(p, in, out, 0) < 0)
							goto oom;
						again = 1;
						break;
					}
					for (int mode = 'A'; mode <= 'B' && !again; mode++) {
						Cand k = try_chunks(p, st, in, out, 1, mode, d);
						if (k.ok != 1)
							continue;
						int64_t es = elsize(bo), m2 = in_numel_max(bi, bo, k.d) * es;
						if (bound_if(p, first, last, in, out, round_up(m2, al), round_up(k.tn * es, bo->align), s) > bound)
							continue;
						k = try_chunks(p, st, in, out, 0, mode, d);
						if (k.ok < 0)
							goto oom;
						again = 1;
					}
				}
			}
		}
		merged += again;
	}
	if (c->mem)
		c->mem->n_inplace = merged;
	rc = 0;
	goto out;
oom:
	diag_add(d, "inplace: out of memory");
out:
	free(use);
	free(first);
	free(last);
	return rc;
}
