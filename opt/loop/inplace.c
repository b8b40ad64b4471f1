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

/* The statements of l up to the first that stores OUT load IN, the others
 * do not: one iteration of the chunk loop reads all it reads of IN before it
 * stores OUT (e.g. a depthwise conv copying its channel into a scratch
 * first), so its stores can go to OUT directly. */
static int body_split(const LStmtList *l, int in, int out)
{
	int stored = 0;
	for (int i = 0; i < l->n; i++) {
		int n = 0, bad = 0, st = 0;
		count_stmt(l->v[i], in, NULL, &n, &bad, &st, out);
		if (st && n)
			return 0;
		if (stored && n)
			return 0;
		stored |= st;
	}
	return stored;
}

/* Try A or B on statement s (dry: decide only). */
static Cand try_chunks(LProgram *p, LStmt *s, int in, int out, int dry, int mode, int allow_shift, Diag *d)
{
	Cand r = {0, 0, 0, 0, 0};
	(void)d;
	while (s->kind == LS_FOR && s->body.n == 1 && s->body.v[0]->kind == LS_FOR && s->lo && s->hi &&
	       s->lo->kind == LE_CONST && s->hi->kind == LE_CONST && s->hi->ival - s->lo->ival == 1)
		s = s->body.v[0];
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
	int split = 0; /* A: the iteration reads IN before it stores OUT: no temporary */
	int shift = 0; /* A: IN shifted above OUT so no store reaches a later load: no temporary */
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
		split = body_split(&s->body, in, out);
		if (!split) {
			memset(vars, 0, (size_t)p->n_vars * sizeof *vars);
			xf_list(&x, &s->body);
			if (x.fail)
				goto done;
			/* Or no temporary, IN placed far enough above OUT that every
			 * store of iteration g lands below every load of iterations
			 * >= g: g·ko + whi < ds + g·ki + rlo for all g (a conv whose
			 * padding is folded into its tap bounds reads and writes each
			 * channel interleaved; OUT's channel g then overwrites IN's
			 * channel g − 1, already consumed). Taken when it saves at
			 * least as much as the temporary, which also costs a copy. */
			int64_t ds = (c.ko > c.ki ? (V - 1) * (c.ko - c.ki) : 0) + c.whi - c.rlo + 1;
			ds = (ds + unit - 1) / unit * unit;
			int64_t keep_t = in_numel_max(bi, bo, dd) + x.tmax + 1, keep_s = in_numel_max(bi, bo, ds);
			if (allow_shift && c.ki > 0 && ds >= 0 && keep_s <= keep_t) {
				shift = 1;
				dd = ds;
			}
		}
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
	r.tn = shift ? 0 : x.tmax + 1;
	int64_t merged = (bo->numel > bi->numel + r.d ? bo->numel : bi->numel + r.d) * es;
	r.saved = mem_raw_bytes(bi) + mem_raw_bytes(bo) - merged - r.tn * es - bo->align;
	if ((r.tn <= 0 && !split && !shift) || r.saved <= 0)
		goto done;
	r.ok = 1;
	r.mode = (char)mode;
	if (dry)
		goto done;
	if (split || shift)
		goto merge;
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
merge:
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

/* ---- P: pixel blocks ------------------------------------------------------- */

/* Integer linear forms over for-loop variables (lets expanded). */
#define LIN_MAX 16
typedef struct Lin {
	int n, ok;
	int var[LIN_MAX];
	int64_t k[LIN_MAX];
	int64_t c;
} Lin;

typedef struct PEnv {
	Lin *let;                /* per var: the form of an i32 let */
	unsigned char *loop;     /* per var: a for variable with constant bounds */
	int64_t *lo, *hi;        /* its first and last value */
	unsigned char *assigned; /* variables that are `set` */
} PEnv;

static Lin lin_k(int64_t c)
{
	Lin l;
	memset(&l, 0, sizeof l);
	l.ok = 1;
	l.c = c;
	return l;
}

/* a + m·b */
static Lin lin_comb(Lin a, const Lin *b, int64_t m)
{
	if (!a.ok || !b->ok || !small(m)) {
		a.ok = 0;
		return a;
	}
	for (int i = 0; i < b->n; i++) {
		int64_t k = b->k[i] * m;
		int j = 0;
		if (!small(b->k[i]) || !small(k)) {
			a.ok = 0;
			return a;
		}
		while (j < a.n && a.var[j] != b->var[i])
			j++;
		if (j == a.n) {
			if (a.n == LIN_MAX) {
				a.ok = 0;
				return a;
			}
			a.var[a.n] = b->var[i], a.k[a.n++] = 0;
		}
		a.k[j] += k;
	}
	a.c += b->c * m;
	if (!small(a.c))
		a.ok = 0;
	return a;
}

static int lin_const(const Lin *l)
{
	for (int i = 0; i < l->n; i++)
		if (l->k[i])
			return 0;
	return 1;
}

static Lin lin_of(const PEnv *en, const LExpr *e)
{
	Lin bad = lin_k(0), a, b;
	bad.ok = 0;
	if (!e || e->type != LT_I32)
		return bad;
	switch (e->kind) {
	case LE_CONST: return lin_k(e->ival);
	case LE_VAR:
		if (en->assigned[e->var])
			return bad;
		if (en->loop[e->var]) {
			a = lin_k(0);
			a.n = 1, a.var[0] = e->var, a.k[0] = 1;
			return a;
		}
		return en->let[e->var];
	case LE_BIN:
		a = lin_of(en, e->a), b = lin_of(en, e->b);
		if (!a.ok || !b.ok)
			return bad;
		switch (e->op) {
		case LO_ADD: return lin_comb(a, &b, 1);
		case LO_SUB: return lin_comb(a, &b, -1);
		case LO_MUL:
			if (lin_const(&b))
				return lin_comb(lin_k(0), &a, b.c);
			if (lin_const(&a))
				return lin_comb(lin_k(0), &b, a.c);
			return bad;
		default: return bad;
		}
	default: return bad;
	}
}

/* An access (load of IN or store of OUT) in unit u. */
typedef struct PAcc {
	Lin l;
	int unit, store;
} PAcc;

typedef struct PWalk {
	PEnv en;
	PAcc *acc;
	int n, cap, fail;
	int in, out;
	LStmt **st; /* the store statement of each store access */
} PWalk;

static void pw_add(PWalk *w, Lin l, int unit, LStmt *st)
{
	if (!l.ok) {
		w->fail = 1;
		return;
	}
	if (w->n == w->cap) {
		int cap = w->cap ? 2 * w->cap : 64;
		PAcc *a = realloc(w->acc, (size_t)cap * sizeof *a);
		LStmt **s = realloc(w->st, (size_t)cap * sizeof *s);
		if (a)
			w->acc = a;
		if (s)
			w->st = s;
		if (!a || !s) {
			w->fail = 1;
			return;
		}
		w->cap = cap;
	}
	w->acc[w->n] = (PAcc){l, unit, st != NULL};
	w->st[w->n++] = st;
}

static void pw_expr(PWalk *w, const LExpr *e, int unit)
{
	for (; e && !w->fail; e = e->c) {
		if (e->kind == LE_LOAD && e->buf == w->out)
			w->fail = 1;
		if (e->kind == LE_LOAD && e->buf == w->in)
			pw_add(w, lin_of(&w->en, e->a), unit, NULL);
		pw_expr(w, e->a, unit);
		pw_expr(w, e->b, unit);
	}
}

static void pw_list(PWalk *w, LStmtList *l, int unit);

static void pw_stmt(PWalk *w, LStmt *st, int unit)
{
	pw_expr(w, st->lo, unit);
	pw_expr(w, st->hi, unit);
	pw_expr(w, st->idx, unit);
	pw_expr(w, st->val, unit);
	pw_expr(w, st->cond, unit);
	switch (st->kind) {
	case LS_FOR: {
		Lin lo = lin_of(&w->en, st->lo), hi = lin_of(&w->en, st->hi);
		int ok = st->step == 1 && lo.ok && hi.ok && lin_const(&lo) && lin_const(&hi) && hi.c > lo.c;
		w->en.loop[st->var] = (unsigned char)ok;
		w->en.lo[st->var] = ok ? lo.c : 0;
		w->en.hi[st->var] = ok ? hi.c - 1 : 0;
		break;
	}
	case LS_LET:
		if (st->val->type == LT_I32)
			w->en.let[st->var] = lin_of(&w->en, st->val);
		break;
	case LS_STORE:
		if (st->buf == w->in)
			w->fail = 1;
		if (st->buf == w->out)
			pw_add(w, lin_of(&w->en, st->idx), unit, st);
		break;
	default: break;
	}
	pw_list(w, &st->body, unit);
	pw_list(w, &st->els, unit);
}

static void pw_list(PWalk *w, LStmtList *l, int unit)
{
	for (int i = 0; i < l->n && !w->fail; i++)
		pw_stmt(w, l->v[i], unit);
}

static int64_t floordiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* idx = S·Q + K·v + p: Q from the terms with S | k, p from the others (and
 * c mod S), as ranges over the loop bounds. */
typedef struct PDec {
	int64_t K, plo, phi, qlo, qhi;
	int ok;
} PDec;

static PDec pdec(const PEnv *en, const Lin *l, int64_t S, int v)
{
	int64_t qc = floordiv(l->c, S), pc = l->c - qc * S;
	PDec d = {0, pc, pc, qc, qc, 1};
	for (int i = 0; i < l->n && d.ok; i++) {
		int x = l->var[i];
		int64_t k = l->k[i];
		if (!k)
			continue;
		if (x == v) {
			d.K = k;
			d.ok = k % S != 0;
			continue;
		}
		if (!en->loop[x]) {
			d.ok = 0;
			break;
		}
		int64_t m = k % S == 0 ? k / S : k, lo = en->lo[x] * m, hi = en->hi[x] * m;
		if (m < 0) {
			int64_t t = lo;
			lo = hi, hi = t;
		}
		if (k % S == 0)
			d.qlo += lo, d.qhi += hi;
		else
			d.plo += lo, d.phi += hi;
		d.ok = small(d.qlo) && small(d.qhi) && small(d.plo) && small(d.phi);
	}
	return d;
}

/* The expression Σ k·x + c over the terms of l chosen by S (q: S | k,
 * divided by S; else the others without v), plus add. */
static LExpr *pexpr(LProgram *p, const Lin *l, int64_t S, int v, int q, int64_t add)
{
	int64_t qc = floordiv(l->c, S);
	LExpr *e = le_i32(p, (q ? qc : l->c - qc * S) + add);
	for (int i = 0; i < l->n && e; i++) {
		int64_t k = l->k[i];
		if (!k || l->var[i] == v || (k % S == 0) != (q != 0))
			continue;
		e = le_add(p, e, le_mul_k(p, le_var(p, l->var[i]), q ? k / S : k));
	}
	return e;
}

typedef struct PUnit {
	int v;                       /* chunk variable (-1: the rest) */
	int64_t vlo, vhi, K;
	int64_t a, b;                /* pixel window of all accesses, relative to K·v */
	int64_t as, bs, qlo, qhi;    /* stores: window and Q range */
	int n_st, n_acc;
} PUnit;

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* A loop of one iteration (the image loop of a batch of one). */
static int one_trip(const LStmt *s)
{
	return s->kind == LS_FOR && s->lo && s->hi && s->lo->kind == LE_CONST && s->hi->kind == LE_CONST &&
	       s->hi->ival - s->lo->ival == 1 && s->step == 1;
}

/* Case P (see the top of the file). */
static Cand try_pixels(LProgram *p, LStmt *top, int in, int out, int dry)
{
	Cand r = {0, 0, 0, 0, 0};
	LStmt *s = top;
	if (!one_trip(s))
		return r;
	while (s->body.n == 1 && one_trip(s->body.v[0]))
		s = s->body.v[0];
	LStmtList *cl = &s->body;
	int nv = p->n_vars + 1, nu = cl->n + 1;
	PWalk w;
	memset(&w, 0, sizeof w);
	w.in = in, w.out = out;
	w.en.let = calloc((size_t)nv, sizeof *w.en.let);
	w.en.loop = calloc((size_t)nv, 1);
	w.en.assigned = calloc((size_t)nv, 1);
	w.en.lo = calloc((size_t)nv, sizeof *w.en.lo);
	w.en.hi = calloc((size_t)nv, sizeof *w.en.hi);
	PUnit *u = calloc((size_t)nu, sizeof *u);
	unsigned char *eff = calloc((size_t)nu, 1), *ust = calloc((size_t)nu, 1);
	int64_t *cand = NULL;
	if (!w.en.let || !w.en.loop || !w.en.assigned || !w.en.lo || !w.en.hi || !u || !eff || !ust)
		goto done;
	mark_sets(w.en.assigned, &top->body);
	/* the enclosing one-iteration loops and s itself */
	for (LStmt *t = top;; t = t->body.v[0]) {
		int ok = t->lo->kind == LE_CONST && t->hi->kind == LE_CONST && t->step == 1 && t->hi->ival > t->lo->ival;
		if (!ok)
			goto done;
		w.en.loop[t->var] = 1, w.en.lo[t->var] = t->lo->ival, w.en.hi[t->var] = t->hi->ival - 1;
		if (t == s)
			break;
	}
	/* units: each iteration of a for element of cl that stores OUT (when
	 * its variable is the chunk variable of all its accesses for S), and
	 * the rest of cl (unit cl->n), whose stores must follow the loop units */
	for (int i = 0; i <= cl->n; i++) {
		u[i].v = -1;
		if (i == cl->n)
			break;
		LStmt *e = cl->v[i];
		int n = 0, bad = 0, st = 0;
		count_stmt(e, -1, NULL, &n, &bad, &st, out);
		ust[i] = st != 0;
		if (st && e->kind == LS_FOR && e->step == 1 && e->lo->kind == LE_CONST && e->hi->kind == LE_CONST &&
		    e->hi->ival > e->lo->ival)
			u[i].v = e->var, u[i].vlo = e->lo->ival, u[i].vhi = e->hi->ival - 1;
	}
	for (int i = 0; i < cl->n && !w.fail; i++)
		pw_stmt(&w, cl->v[i], i);
	if (w.fail || !w.n)
		goto done;
	/* candidate S: the coefficients of the accesses */
	int nc = 0;
	for (int i = 0; i < w.n; i++)
		nc += w.acc[i].l.n;
	cand = calloc((size_t)nc + 1, sizeof *cand);
	if (!cand)
		goto done;
	nc = 0;
	for (int i = 0; i < w.n; i++)
		for (int j = 0; j < w.acc[i].l.n; j++)
			if (w.acc[i].l.k[j] > 1 || w.acc[i].l.k[j] < -1)
				cand[nc++] = w.acc[i].l.k[j] < 0 ? -w.acc[i].l.k[j] : w.acc[i].l.k[j];
	qsort(cand, (size_t)nc, sizeof *cand, cmp_i64);
	const LBuf *bi = &p->bufs[in], *bo = &p->bufs[out];
	int64_t merged = bi->numel > bo->numel ? bi->numel : bo->numel, es = elsize(bo);
	int64_t S = 0, tn = 0;
	/* pass 0: the S with the smallest temporary; pass 1: its units again */
	for (int ci = 0, pass = 0; pass < 2; ci = 0, pass += S ? 1 : 2)
	for (; ci < nc; ci++) {
		int64_t s_ = cand[ci];
		if ((ci && cand[ci] == cand[ci - 1]) || (pass && s_ != S))
			continue;
		int ok = 1;
		/* which loop elements are units for this S */
		for (int k = 0; k < cl->n; k++)
			eff[k] = u[k].v >= 0;
		for (int i = 0; i < w.n; i++) {
			int e = w.acc[i].unit;
			if (!eff[e])
				continue;
			PDec d = pdec(&w.en, &w.acc[i].l, s_, u[e].v);
			if (!d.ok || d.K <= 0)
				eff[e] = 0;
		}
		int last_loop = -1;
		for (int k = 0; k < cl->n; k++)
			if (eff[k])
				last_loop = k;
		for (int k = 0; k < last_loop; k++)
			if (!eff[k] && ust[k])
				ok = 0;
		for (int k = 0; k <= cl->n; k++)
			u[k].n_st = u[k].n_acc = 0, u[k].K = 0;
		for (int i = 0; i < w.n && ok; i++) {
			int e = eff[w.acc[i].unit] ? w.acc[i].unit : cl->n;
			PUnit *x = &u[e];
			int v = e < cl->n ? x->v : -1;
			PDec d = pdec(&w.en, &w.acc[i].l, s_, v);
			if (!d.ok || (v >= 0 && (d.K <= 0 || (x->n_acc && d.K != x->K))) || (v < 0 && d.K)) {
				ok = 0;
				break;
			}
			x->K = d.K;
			if (!x->n_acc || d.plo < x->a)
				x->a = d.plo;
			if (!x->n_acc || d.phi > x->b)
				x->b = d.phi;
			x->n_acc++;
			if (w.acc[i].store) {
				if (!x->n_st || d.plo < x->as)
					x->as = d.plo;
				if (!x->n_st || d.phi > x->bs)
					x->bs = d.phi;
				if (!x->n_st || d.qlo < x->qlo)
					x->qlo = d.qlo;
				if (!x->n_st || d.qhi > x->qhi)
					x->qhi = d.qhi;
				x->n_st++;
			}
		}
		/* windows: inside [0, S), one iteration narrower than K, units disjoint */
		int64_t t = 0;
		for (int k = 0; k <= cl->n && ok; k++) {
			PUnit *x = &u[k];
			int lp = k < cl->n && eff[k];
			if (!x->n_acc)
				continue;
			int64_t lo = lp ? x->K * x->vlo + x->a : x->a, hi = lp ? x->K * x->vhi + x->b : x->b;
			if (lo < 0 || hi >= s_ || (lp && x->b - x->a >= x->K))
				ok = 0;
			for (int m = 0; m < k && ok; m++) {
				PUnit *y = &u[m];
				if (!y->n_acc)
					continue;
				int64_t lo2 = y->K * y->vlo + y->a, hi2 = y->K * y->vhi + y->b; /* m < k: a loop unit */
				if (lo <= hi2 && lo2 <= hi)
					ok = 0;
			}
			if (x->n_st) {
				int64_t kv = lp ? x->K * x->vhi : 0, kv0 = lp ? x->K * x->vlo : 0;
				if (s_ * x->qlo + kv0 + x->as < 0 || s_ * x->qhi + kv + x->bs >= merged)
					ok = 0;
				int64_t sz = (x->qhi - x->qlo + 1) * (x->bs - x->as + 1);
				if (sz > t)
					t = sz;
			}
		}
		if (!pass && ok && t > 0 && (!S || t < tn))
			S = s_, tn = t;
	}
	if (!S || tn <= 0)
		goto done;
	r.tn = tn;
	r.saved = mem_raw_bytes(bi) + mem_raw_bytes(bo) - merged * es - tn * es - bo->align;
	if (r.saved <= 0)
		goto done;
	r.ok = 1;
	r.mode = 'P';
	if (dry)
		goto done;
	/* transform: stores to T, a copy-back per unit, merge */
	char name[300];
	snprintf(name, sizeof name, "%s.tmp", bo->name);
	for (int k = 1; loop_find_buf(p, name) >= 0; k++)
		snprintf(name, sizeof name, "%s.tmp%d", bo->name, k);
	int tb = loop_add_buf(p, name, LB_ARENA, bo->type, tn);
	if (tb < 0) {
		r.ok = -1;
		goto done;
	}
	p->bufs[tb].align = p->bufs[out].align;
	for (int i = 0; i < w.n; i++) {
		if (!w.acc[i].store)
			continue;
		int e = eff[w.acc[i].unit] ? w.acc[i].unit : cl->n;
		PUnit *x = &u[e];
		int v = e < cl->n ? x->v : -1;
		int64_t wd = x->bs - x->as + 1;
		LExpr *q = pexpr(p, &w.acc[i].l, S, v, 1, -x->qlo), *pp = pexpr(p, &w.acc[i].l, S, v, 0, -x->as);
		LExpr *ti = q && pp ? le_add(p, le_mul_k(p, q, wd), pp) : NULL;
		if (!ti) {
			r.ok = -1;
			goto done;
		}
		w.st[i]->buf = tb;
		w.st[i]->idx = ti;
	}
	int ncl = cl->n;
	for (int k = 0; k <= ncl; k++) {
		PUnit *x = &u[k];
		if (!x->n_st)
			continue;
		int64_t wd = x->bs - x->as + 1;
		int lp = k < ncl && eff[k];
		LStmtList *to = lp ? &cl->v[k]->body : cl;
		int jq = loop_new_var(p, "q", LT_I32, 1), jr = loop_new_var(p, "j", LT_I32, 1);
		LStmt *fq = jq < 0 ? NULL : ls_for(p, to, jq, le_i32(p, 0), le_i32(p, x->qhi - x->qlo + 1), 1);
		LStmt *fr = fq && jr >= 0 ? ls_for(p, &fq->body, jr, le_i32(p, 0), le_i32(p, wd), 1) : NULL;
		LExpr *oi = fr ? le_add(p, le_mul_k(p, le_var(p, jq), S), le_var(p, jr)) : NULL;
		if (oi && lp)
			oi = le_add(p, oi, le_mul_k(p, le_var(p, x->v), x->K));
		if (oi)
			oi = le_add(p, oi, le_i32(p, S * x->qlo + x->as));
		LExpr *tv = oi ? le_load(p, tb, le_add(p, le_mul_k(p, le_var(p, jq), wd), le_var(p, jr))) : NULL;
		if (!tv || !ls_store(p, &fr->body, out, oi, tv)) {
			r.ok = -1;
			goto done;
		}
	}
	if (bi->numel > bo->numel)
		p->bufs[out].numel = bi->numel;
	if (p->bufs[in].align > p->bufs[out].align)
		p->bufs[out].align = p->bufs[in].align;
	if (mem_redirect(p, in, out, 0) < 0)
		r.ok = -1;
done:
	free(w.en.let);
	free(w.en.loop);
	free(w.en.assigned);
	free(w.en.lo);
	free(w.en.hi);
	free(w.acc);
	free(w.st);
	free(u);
	free(eff);
	free(ust);
	free(cand);
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

/* The bound of p in program order (0 for an empty program). */
static int64_t program_bound(const LProgram *p)
{
	int *first = calloc((size_t)p->n_bufs + 1, sizeof *first), *last = calloc((size_t)p->n_bufs + 1, sizeof *last);
	unsigned char *use = p->body.n ? mem_uses(p) : NULL;
	int64_t b = -1;
	if (first && last && (use || !p->body.n)) {
		if (use)
			mem_liveness(p, use, NULL, first, last);
		b = use ? mem_bound(p, first, last, NULL) : 0;
	}
	free(first);
	free(last);
	free(use);
	return b;
}

/* Strategy bits of merge_all: STRAT_RULE, a merge must not raise the bound;
 * STRAT_SHIFT, try_chunks may shift IN above OUT instead of a temporary. */
#define STRAT_RULE 1
#define STRAT_SHIFT 2

/* Merge while candidates remain; rule: STRAT_ bits (with STRAT_RULE only
 * merges that do not raise the current bound). *n_merged: merges done. */
static int merge_all(LProgram *p, const LoopPassCtx *c, int rule, int *n_merged, Diag *d)
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
					if ((!(rule & STRAT_RULE) || bound_if(p, first, last, in, out, round_up(mx, al), 0, s) <= bound) &&
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
					for (int mode = 'A'; mode <= 'C' && !again; mode++) {
						Cand k = mode == 'C' ? try_pixels(p, st, in, out, 1) : try_chunks(p, st, in, out, 1, mode, rule & STRAT_SHIFT, d);
						if (k.ok != 1)
							continue;
						int64_t es = elsize(bo), m2 = in_numel_max(bi, bo, k.d) * es;
						if ((rule & STRAT_RULE) && bound_if(p, first, last, in, out, round_up(m2, al), round_up(k.tn * es, bo->align), s) > bound)
							continue;
						k = mode == 'C' ? try_pixels(p, st, in, out, 0) : try_chunks(p, st, in, out, 0, mode, rule & STRAT_SHIFT, d);
						if (k.ok < 0)
							goto oom;
						again = 1;
					}
				}
			}
		}
		merged += again;
	}
	*n_merged = merged;
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

/* The bound in program order of p after merge_all(rule) on a copy of p
 * (printed and parsed back: the pass never reads constant data); -1 if the
 * copy cannot be made. */
static int64_t trial_bound(const LProgram *p, const LoopPassCtx *c, int rule)
{
	Diag d;
	diag_init(&d);
	char *txt = loop_print(p);
	LProgram *q = txt ? loop_parse(txt, "inplace-trial", &d) : NULL;
	int64_t bound = -1;
	int n = 0;
	if (q && merge_all(q, c, rule, &n, &d) == 0)
		bound = program_bound(q);
	loop_free(q);
	free(txt);
	diag_free(&d);
	return bound;
}

/* Strategies, the one with the lower bound applied (ties: the shift, then the rule):
 * with the rule "a merge must not raise the bound" a merge that raises it
 * for now is refused even when the merges after it would bring the bound
 * below where it was (MobileNetV1: the stride-2 depthwise's merged buffer
 * keeps its input's size until the next 1x1 conv also merges); without it
 * every merge that saves memory in its statement is made, which on graphs
 * with branches can raise the bound. */
int loop_pass_inplace(LProgram *p, const LoopPassCtx *c, Diag *d)
{
	for (int b = 0; b < p->n_bufs; b++)
		if (p->bufs[b].kind == LB_ARENA && p->bufs[b].align < c->arena_align)
			p->bufs[b].align = c->arena_align;
	if (c->mem) {
		c->mem->no_reuse = mem_no_reuse(p);
		c->mem->bound_lowered = program_bound(p);
	}
	/* each with and without shifted chunk merges (try_chunks): ties go to
	 * the shift, which saves the temporary's copy-back */
	int rule = STRAT_RULE | STRAT_SHIFT, n = 0;
	int64_t best = -1;
	static const int order[4] = {STRAT_RULE | STRAT_SHIFT, STRAT_SHIFT, STRAT_RULE, 0};
	for (int i = 0; i < 4; i++) {
		int64_t b = trial_bound(p, c, order[i]);
		if (b >= 0 && (best < 0 || b < best)) {
			best = b;
			rule = order[i];
		}
	}
	if (merge_all(p, c, rule, &n, d) < 0)
		return -1;
	if (c->mem)
		c->mem->n_inplace = n;
	return 0;
}
