/* fold.c — typed, exact constant folding.
 *
 * requires: a verified program.
 * provides: every operation whose operands are constants and whose result
 *           the host computes exactly as loop_eval and the targets do is
 *           replaced by its value: integer ops with two's-complement wrap in
 *           the op's type (no fold of a division or remainder by zero, a shift
 *           out of range, or a non-saturating float->int cast out of range —
 *           those stay and fault as before), f32 ops computed in float and
 *           f64 in double (add sub mul div rem min max, neg abs sqrt floor
 *           ceil round, comparisons, casts: all correctly rounded in IEEE-754;
 *           exp/log/tanh/erf/pow are not folded, libm differs between hosts
 *           and targets; a NaN result is not folded, its sign would be lost);
 *           select with a constant condition is its arm; integer identities
 *           x+0, x-0, x*1, (x+c1)+c2 = x+(c1+c2); float x*1 = x; an if with a
 *           constant condition is replaced by its branch; a for whose
 *           constant bounds are empty is removed.
 */
#include "passes.h"
#include "lopt_util.h"

#include <math.h>
#include <string.h>

static int is_k(const LExpr *e) { return e && e->kind == LE_CONST; }
static int is_int_k(const LExpr *e, int64_t v) { return is_k(e) && !ltype_is_float(e->type) && e->ival == v; }

typedef struct Fold {
	LProgram *p;
	int oom;
} Fold;

/* a float constant of type t with value r (f32: r already rounded), or NULL if NaN */
static LExpr *fk(Fold *f, LType t, double r)
{
	if (r != r)
		return NULL;
	LExpr *e = le_float(f->p, t, r);
	if (!e)
		f->oom = 1;
	return e;
}

static LExpr *ik(Fold *f, LType t, int64_t v)
{
	LExpr *e = le_int(f->p, t, v);
	if (!e)
		f->oom = 1;
	return e;
}

static LExpr *fold_bin(Fold *f, LExpr *e)
{
	LExpr *a = e->a, *b = e->b;
	LType t = a->type;
	int cmp = e->op >= LO_LT && e->op <= LO_NE;
	if (is_k(a) && is_k(b)) {
		if (t == LT_F32 || t == LT_F64) {
			double x = a->fval, y = b->fval, r;
			int f32 = t == LT_F32;
			float xf = (float)x, yf = (float)y;
			switch ((LBinOp)e->op) {
			case LO_ADD: r = f32 ? (double)(xf + yf) : x + y; break;
			case LO_SUB: r = f32 ? (double)(xf - yf) : x - y; break;
			case LO_MUL: r = f32 ? (double)(xf * yf) : x * y; break;
			case LO_DIV: r = f32 ? (double)(xf / yf) : x / y; break;
			case LO_REM: r = f32 ? (double)fmodf(xf, yf) : fmod(x, y); break;
			case LO_MIN:
			case LO_MAX:
				if (x != x || y != y)
					return e;
				if (x == y)
					r = (signbit(x) != 0) == (e->op == LO_MIN) ? x : y;
				else
					r = (x < y) == (e->op == LO_MIN) ? x : y;
				break;
			case LO_LT: return ik(f, LT_I1, x < y);
			case LO_LE: return ik(f, LT_I1, x <= y);
			case LO_GT: return ik(f, LT_I1, x > y);
			case LO_GE: return ik(f, LT_I1, x >= y);
			case LO_EQ: return ik(f, LT_I1, x == y);
			case LO_NE: return ik(f, LT_I1, x != y);
			default: return e;
			}
			LExpr *k = fk(f, t, r);
			return k ? k : e;
		}
		int64_t x = a->ival, y = b->ival, r;
		uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
		switch ((LBinOp)e->op) {
		case LO_ADD: r = ltype_wrap(t, (int64_t)(ux + uy)); break;
		case LO_SUB: r = ltype_wrap(t, (int64_t)(ux - uy)); break;
		case LO_MUL: r = ltype_wrap(t, (int64_t)(ux * uy)); break;
		case LO_DIV:
		case LO_REM:
			if (y == 0 || (x == INT64_MIN && y == -1))
				return e;
			r = ltype_wrap(t, e->op == LO_DIV ? x / y : x % y);
			break;
		case LO_MIN: r = x < y ? x : y; break;
		case LO_MAX: r = x > y ? x : y; break;
		case LO_AND: r = x & y; break;
		case LO_OR: r = x | y; break;
		case LO_XOR: r = ltype_wrap(t, x ^ y); break;
		case LO_SHL:
		case LO_SHR:
			if (y < 0 || y >= ltype_bits(t))
				return e;
			r = e->op == LO_SHL ? ltype_wrap(t, (int64_t)(ux << y)) : (x < 0 ? ~(~x >> y) : x >> y);
			break;
		case LO_LT: r = x < y; break;
		case LO_LE: r = x <= y; break;
		case LO_GT: r = x > y; break;
		case LO_GE: r = x >= y; break;
		case LO_EQ: r = x == y; break;
		case LO_NE: r = x != y; break;
		case LO_DOT2: r = loop_dot2((int32_t)x, (int32_t)y); break;
		default: return e;
		}
		return ik(f, cmp ? LT_I1 : t, r);
	}
	if (ltype_is_float(t)) {
		if (e->op == LO_MUL && is_k(b) && b->fval == 1.0)
			return a;
		if (e->op == LO_MUL && is_k(a) && a->fval == 1.0)
			return b;
		return e;
	}
	if (t == LT_I1 || cmp)
		return e;
	switch (e->op) {
	case LO_ADD:
		if (is_int_k(b, 0))
			return a;
		if (is_int_k(a, 0))
			return b;
		/* (x + c1) + c2 */
		if (is_k(b) && a->kind == LE_BIN && a->op == LO_ADD && is_k(a->b)) {
			LExpr *k = ik(f, t, ltype_wrap(t, (int64_t)((uint64_t)a->b->ival + (uint64_t)b->ival)));
			if (!k)
				return e;
			if (k->ival == 0)
				return a->a;
			LExpr *r = le_bin(f->p, LO_ADD, a->a, k);
			return r ? r : e;
		}
		return e;
	case LO_SUB:
		return is_int_k(b, 0) ? a : e;
	case LO_MUL:
		if (is_int_k(b, 1))
			return a;
		if (is_int_k(a, 1))
			return b;
		return e;
	default:
		return e;
	}
}

static LExpr *fold_un(Fold *f, LExpr *e)
{
	LExpr *a = e->a;
	if (!is_k(a))
		return e;
	LType t = e->type;
	if (ltype_is_float(t)) {
		double x = a->fval, r;
		int f32 = t == LT_F32;
		switch ((LUnOp)e->op) {
		case LU_NEG: r = -x; break;
		case LU_ABS: r = fabs(x); break;
		case LU_SQRT: r = f32 ? (double)sqrtf((float)x) : sqrt(x); break;
		case LU_FLOOR: r = floor(x); break;
		case LU_CEIL: r = ceil(x); break;
		case LU_ROUND: r = nearbyint(x); break;
		case LU_TRUNC: r = trunc(x); break;
		default: return e;
		}
		LExpr *k = fk(f, t, r);
		return k ? k : e;
	}
	uint64_t u = (uint64_t)a->ival;
	switch ((LUnOp)e->op) {
	case LU_NEG: return ik(f, t, ltype_wrap(t, (int64_t)(0 - u)));
	case LU_ABS: return ik(f, t, ltype_wrap(t, a->ival < 0 ? (int64_t)(0 - u) : a->ival));
	case LU_NOT: return ik(f, t, ltype_wrap(t, ~a->ival));
	case LU_SXTB16: case LU_SXTB16H: return ik(f, t, loop_sxtb16((int32_t)a->ival, e->op == LU_SXTB16H));
	default: return e;
	}
}

static LExpr *fold_cast(Fold *f, LExpr *e)
{
	LExpr *a = e->a;
	if (!is_k(a))
		return e;
	LType from = a->type, to = e->type;
	if (ltype_is_float(to)) {
		double r;
		if (ltype_is_float(from))
			r = to == LT_F32 ? (double)(float)a->fval : a->fval;
		else
			r = to == LT_F32 ? (double)(float)a->ival : (double)a->ival;
		LExpr *k = fk(f, to, r);
		return k ? k : e;
	}
	int64_t lo, hi;
	ltype_int_range(to, &lo, &hi);
	if (!ltype_is_float(from))
		return ik(f, to, e->sat ? (a->ival < lo ? lo : a->ival > hi ? hi : a->ival) : ltype_wrap(to, a->ival));
	double x = a->fval;
	double flo = (double)lo, fhi = to == LT_I64 ? 9223372036854775808.0 : (double)hi + 1.0;
	if (e->sat) {
		if (x != x)
			return ik(f, to, 0);
		x = nearbyint(x);
		return ik(f, to, x < flo ? lo : x >= fhi ? hi : (int64_t)x);
	}
	double tr = trunc(x);
	if (!(tr >= flo && tr < fhi))
		return e;
	return ik(f, to, (int64_t)tr);
}

static LExpr *fold(Fold *f, LExpr *e)
{
	if (!e)
		return e;
	e->a = fold(f, e->a);
	e->b = fold(f, e->b);
	e->c = fold(f, e->c);
	switch (e->kind) {
	case LE_BIN: return fold_bin(f, e);
	case LE_UN: return fold_un(f, e);
	case LE_CAST: return fold_cast(f, e);
	case LE_SELECT:
		if (is_k(e->a))
			return e->a->ival ? e->b : e->c;
		return e;
	default: return e;
	}
}

static void fold_list(Fold *f, LStmtList *l)
{
	for (int i = 0; i < l->n;) {
		LStmt *s = l->v[i];
		s->lo = fold(f, s->lo);
		s->hi = fold(f, s->hi);
		s->idx = fold(f, s->idx);
		s->val = fold(f, s->val);
		s->cond = fold(f, s->cond);
		fold_list(f, &s->body);
		fold_list(f, &s->els);
		if (s->kind == LS_FOR && is_k(s->lo) && is_k(s->hi) && s->hi->ival <= s->lo->ival) {
			lopt_list_remove(l, i);
			continue;
		}
		if (s->kind == LS_IF && is_k(s->cond)) {
			LStmtList *keep = s->cond->ival ? &s->body : &s->els;
			if (lopt_list_replace(f->p, l, i, keep->v, keep->n) < 0) {
				f->oom = 1;
				return;
			}
			continue; /* the spliced statements are folded already; revisit index i */
		}
		i++;
	}
}

int loop_pass_fold(LProgram *p, const LoopPassCtx *ctx, Diag *d)
{
	(void)ctx;
	Fold f = {p, 0};
	fold_list(&f, &p->body);
	if (f.oom) {
		diag_add(d, "fold: out of memory");
		return -1;
	}
	return 0;
}
