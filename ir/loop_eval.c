/* loop_eval.c — a direct tree-walking interpreter of the loop IR, the
 * reference the backends are tested against (docs/loop-ir.md, "Semantics").
 *
 * The program is verified first, so the walk can trust types, indices and
 * scopes. Values are a union: integers of every type are held exactly in an
 * int64 (sign- or zero-extended by type, wrapped to the type after every
 * op), f32 in a float (every op rounds to float, as compiled code does), f64
 * in a double. Memory: input and output are the caller's, the arena one
 * zeroed block, const buffers their data (NULL data reads as zeros); every
 * access is bounds-checked. Runtime errors (index out of range, integer
 * division by zero, shift out of range, a non-saturating float->int cast out
 * of range) add a message naming the statement and unwind with longjmp.
 * Both arms of a select are evaluated, so a select cannot guard a fault.
 * Nothing is allocated per op: variables live in one array indexed by
 * variable number.
 */
#include "loop.h"
#include "loop_text.h"

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef union Val {
	int64_t i;
	float f;
	double d;
} Val;

typedef struct EBuf {
	unsigned char *base; /* NULL: an unbound const buffer, reads as zeros */
	int64_t numel;
	LType type;
	int size; /* bytes per element */
} EBuf;

typedef struct E {
	const LProgram *p;
	Diag *d;
	Val *vars;
	EBuf *bufs;
	const char *label; /* of the innermost labelled statement being run */
	int top;           /* index of the top-level statement being run */
	jmp_buf jb;
} E;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), noreturn))
#endif
static void fail(E *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->label)
		diag_add(c->d, "loop_eval: %s (body[%d]): %s", c->label, c->top, msg);
	else
		diag_add(c->d, "loop_eval: body[%d]: %s", c->top, msg);
	longjmp(c->jb, 1);
}

static int elem_size(LType t) { return (ltype_bits(t) + 7) / 8; }

static inline Val rd(const EBuf *b, int64_t i)
{
	Val v = {0};
	if (!b->base)
		return v;
	const unsigned char *s = b->base + i * b->size;
	switch (b->type) {
	case LT_F32: memcpy(&v.f, s, 4); break;
	case LT_F64: memcpy(&v.d, s, 8); break;
	case LT_I1: v.i = *s & 1; break;
	case LT_I8: v.i = (int8_t)*s; break;
	case LT_U8: v.i = *s; break;
	case LT_I16: { int16_t x; memcpy(&x, s, 2); v.i = x; break; }
	case LT_U16: { uint16_t x; memcpy(&x, s, 2); v.i = x; break; }
	case LT_I32: { int32_t x; memcpy(&x, s, 4); v.i = x; break; }
	case LT_I64: memcpy(&v.i, s, 8); break;
	default: break;
	}
	return v;
}

static inline void wr(const EBuf *b, int64_t i, Val v)
{
	unsigned char *s = b->base + i * b->size;
	switch (b->type) {
	case LT_F32: memcpy(s, &v.f, 4); break;
	case LT_F64: memcpy(s, &v.d, 8); break;
	case LT_I1: case LT_I8: case LT_U8: *s = (unsigned char)(v.i & 0xff); break;
	case LT_I16: case LT_U16: { uint16_t x = (uint16_t)(v.i & 0xffff); memcpy(s, &x, 2); break; }
	case LT_I32: { uint32_t x = (uint32_t)(v.i & 0xffffffffu); memcpy(s, &x, 4); break; }
	case LT_I64: memcpy(s, &v.i, 8); break;
	default: break;
	}
}

/* IEEE-754 maximum/minimum (LLVM llvm.maximum/llvm.minimum): NaN if either
 * operand is NaN, and -0 < +0. */
static inline float maxf(float a, float b)
{
	if (a != a || b != b)
		return a + b;
	if (a == b)
		return signbit(a) ? b : a;
	return a > b ? a : b;
}
static inline float minf(float a, float b)
{
	if (a != a || b != b)
		return a + b;
	if (a == b)
		return signbit(a) ? a : b;
	return a < b ? a : b;
}
static inline double maxd(double a, double b)
{
	if (a != a || b != b)
		return a + b;
	if (a == b)
		return signbit(a) ? b : a;
	return a > b ? a : b;
}
static inline double mind(double a, double b)
{
	if (a != a || b != b)
		return a + b;
	if (a == b)
		return signbit(a) ? a : b;
	return a < b ? a : b;
}

static Val ev(E *c, const LExpr *e);

static int64_t index_of(E *c, const LExpr *idx, int buf, const char *what)
{
	int64_t i = ev(c, idx).i;
	const EBuf *b = &c->bufs[buf];
	if (i < 0 || i >= b->numel)
		fail(c, "%s '%s' at index %" PRId64 ", expected 0..%" PRId64, what, c->p->bufs[buf].name, i, b->numel - 1);
	return i;
}

static Val bin_f32(E *c, const LExpr *e, float a, float b)
{
	Val r;
	switch ((LBinOp)e->op) {
	case LO_ADD: r.f = a + b; break;
	case LO_SUB: r.f = a - b; break;
	case LO_MUL: r.f = a * b; break;
	case LO_DIV: r.f = a / b; break;
	case LO_REM: r.f = fmodf(a, b); break;
	case LO_MIN: r.f = minf(a, b); break;
	case LO_MAX: r.f = maxf(a, b); break;
	case LO_POW: r.f = powf(a, b); break;
	case LO_LT: r.i = a < b; break;
	case LO_LE: r.i = a <= b; break;
	case LO_GT: r.i = a > b; break;
	case LO_GE: r.i = a >= b; break;
	case LO_EQ: r.i = a == b; break;
	case LO_NE: r.i = a != b; break;
	default: fail(c, "%s of f32 operands", loop_bin_name(e->op));
	}
	return r;
}

static Val bin_f64(E *c, const LExpr *e, double a, double b)
{
	Val r;
	switch ((LBinOp)e->op) {
	case LO_ADD: r.d = a + b; break;
	case LO_SUB: r.d = a - b; break;
	case LO_MUL: r.d = a * b; break;
	case LO_DIV: r.d = a / b; break;
	case LO_REM: r.d = fmod(a, b); break;
	case LO_MIN: r.d = mind(a, b); break;
	case LO_MAX: r.d = maxd(a, b); break;
	case LO_POW: r.d = pow(a, b); break;
	case LO_LT: r.i = a < b; break;
	case LO_LE: r.i = a <= b; break;
	case LO_GT: r.i = a > b; break;
	case LO_GE: r.i = a >= b; break;
	case LO_EQ: r.i = a == b; break;
	case LO_NE: r.i = a != b; break;
	default: fail(c, "%s of f64 operands", loop_bin_name(e->op));
	}
	return r;
}

static Val bin_int(E *c, const LExpr *e, LType t, int64_t a, int64_t b)
{
	Val r;
	uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
	switch ((LBinOp)e->op) {
	case LO_ADD: r.i = ltype_wrap(t, (int64_t)(ua + ub)); break;
	case LO_SUB: r.i = ltype_wrap(t, (int64_t)(ua - ub)); break;
	case LO_MUL: r.i = ltype_wrap(t, (int64_t)(ua * ub)); break;
	case LO_DIV:
	case LO_REM:
		if (b == 0)
			fail(c, "integer %s by zero (%s)", e->op == LO_DIV ? "division" : "remainder", ltype_name(t));
		if (a == INT64_MIN && b == -1)
			r.i = e->op == LO_DIV ? INT64_MIN : 0;
		else
			r.i = ltype_wrap(t, e->op == LO_DIV ? a / b : a % b);
		break;
	case LO_MIN: r.i = a < b ? a : b; break;
	case LO_MAX: r.i = a > b ? a : b; break;
	case LO_AND: r.i = a & b; break;
	case LO_OR: r.i = a | b; break;
	case LO_XOR: r.i = ltype_wrap(t, a ^ b); break;
	case LO_SHL:
	case LO_SHR:
		if (b < 0 || b >= ltype_bits(t))
			fail(c, "shift by %" PRId64 " of a %s, expected 0..%d", b, ltype_name(t), ltype_bits(t) - 1);
		r.i = e->op == LO_SHL ? ltype_wrap(t, (int64_t)(ua << b)) : (a < 0 ? ~(~a >> b) : a >> b);
		break;
	case LO_LT: r.i = a < b; break;
	case LO_LE: r.i = a <= b; break;
	case LO_GT: r.i = a > b; break;
	case LO_GE: r.i = a >= b; break;
	case LO_EQ: r.i = a == b; break;
	case LO_NE: r.i = a != b; break;
	case LO_DOT2: r.i = loop_dot2((int32_t)a, (int32_t)b); break;
	default: fail(c, "%s of %s operands", loop_bin_name(e->op), ltype_name(t));
	}
	return r;
}

static double un_real(LUnOp op, double x, int f32)
{
	switch (op) {
	case LU_NEG: return -x;
	case LU_ABS: return f32 ? fabsf((float)x) : fabs(x);
	case LU_EXP: return f32 ? expf((float)x) : exp(x);
	case LU_LOG: return f32 ? logf((float)x) : log(x);
	case LU_SQRT: return f32 ? sqrtf((float)x) : sqrt(x);
	case LU_TANH: return f32 ? tanhf((float)x) : tanh(x);
	case LU_ERF: return f32 ? erff((float)x) : erf(x);
	case LU_FLOOR: return floor(x);
	case LU_CEIL: return ceil(x);
	case LU_ROUND: return nearbyint(x); /* half to even (torch.round, llvm.roundeven) */
	case LU_TRUNC: return trunc(x);
	default: return x;
	}
}

static Val cast(E *c, const LExpr *e, Val a)
{
	LType from = e->a->type, to = e->type;
	Val r;
	if (ltype_is_float(to)) {
		if (ltype_is_float(from)) {
			double x = from == LT_F32 ? (double)a.f : a.d;
			if (to == LT_F32)
				r.f = (float)x;
			else
				r.d = x;
		} else if (to == LT_F32) {
			r.f = (float)a.i;
		} else {
			r.d = (double)a.i;
		}
		return r;
	}
	int64_t lo, hi;
	ltype_int_range(to, &lo, &hi);
	if (!ltype_is_float(from)) {
		r.i = e->sat ? (a.i < lo ? lo : a.i > hi ? hi : a.i) : ltype_wrap(to, a.i);
		return r;
	}
	double x = from == LT_F32 ? (double)a.f : a.d;
	/* 2^63 is exact; (double)INT64_MAX rounds up to it */
	double flo = (double)lo, fhi = to == LT_I64 ? 9223372036854775808.0 : (double)hi + 1.0;
	if (e->sat) {
		if (x != x) {
			r.i = 0;
			return r;
		}
		x = nearbyint(x);
		r.i = x < flo ? lo : x >= fhi ? hi : (int64_t)x;
		return r;
	}
	double t = trunc(x);
	if (!(t >= flo && t < fhi))
		fail(c, "cast<%s> of %.9g out of range (expected %" PRId64 "..%" PRId64 "; cast_sat saturates)",
		     ltype_name(to), x, lo, hi);
	r.i = (int64_t)t;
	return r;
}

static Val ev(E *c, const LExpr *e)
{
	Val r;
	switch (e->kind) {
	case LE_CONST:
		if (e->type == LT_F32)
			r.f = (float)e->fval;
		else if (e->type == LT_F64)
			r.d = e->fval;
		else
			r.i = e->ival;
		return r;
	case LE_VAR:
		return c->vars[e->var];
	case LE_LOAD:
		return rd(&c->bufs[e->buf], index_of(c, e->a, e->buf, "load from"));
	case LE_BIN: {
		Val a = ev(c, e->a), b = ev(c, e->b);
		LType t = e->a->type;
		if (t == LT_F32)
			return bin_f32(c, e, a.f, b.f);
		if (t == LT_F64)
			return bin_f64(c, e, a.d, b.d);
		return bin_int(c, e, t, a.i, b.i);
	}
	case LE_UN: {
		Val a = ev(c, e->a);
		LType t = e->type;
		if (t == LT_F32) {
			r.f = e->op == LU_NEG ? -a.f : (float)un_real((LUnOp)e->op, (double)a.f, 1);
		} else if (t == LT_F64) {
			r.d = un_real((LUnOp)e->op, a.d, 0);
		} else if (e->op == LU_NEG) {
			r.i = ltype_wrap(t, (int64_t)(0 - (uint64_t)a.i));
		} else if (e->op == LU_ABS) {
			r.i = ltype_wrap(t, a.i < 0 ? (int64_t)(0 - (uint64_t)a.i) : a.i);
		} else if (e->op == LU_NOT) {
			r.i = ltype_wrap(t, ~a.i);
		} else if (e->op == LU_SXTB16 || e->op == LU_SXTB16H) {
			r.i = loop_sxtb16((int32_t)a.i, e->op == LU_SXTB16H);
		} else {
			fail(c, "%s of a %s", loop_un_name(e->op), ltype_name(t));
		}
		return r;
	}
	case LE_CAST:
		return cast(c, e, ev(c, e->a));
	case LE_SELECT: {
		/* both arms, as compiled code does (select is not a branch): an arm
		 * that would fault must be guarded by an if, not a select */
		int64_t cond = ev(c, e->a).i;
		Val a = ev(c, e->b), b = ev(c, e->c);
		return cond ? a : b;
	}
	}
	r.i = 0;
	return r;
}

static void exec_list(E *c, const LStmtList *l);

static void exec(E *c, const LStmt *s)
{
	switch (s->kind) {
	case LS_FOR: {
		int64_t lo = ev(c, s->lo).i, hi = ev(c, s->hi).i;
		Val *v = &c->vars[s->var];
		for (int64_t i = lo; i < hi; i += s->step) {
			v->i = i;
			exec_list(c, &s->body);
			if (s->step >= hi - i) /* the next i is past hi (and i + step might overflow) */
				break;
		}
		return;
	}
	case LS_LET:
	case LS_SET:
		c->vars[s->var] = ev(c, s->val);
		return;
	case LS_STORE: {
		int64_t i = index_of(c, s->idx, s->buf, "store to");
		wr(&c->bufs[s->buf], i, ev(c, s->val));
		return;
	}
	case LS_IF:
		exec_list(c, ev(c, s->cond).i ? &s->body : &s->els);
		return;
	}
}

static void exec_list(E *c, const LStmtList *l)
{
	for (int i = 0; i < l->n; i++) {
		const LStmt *s = l->v[i];
		if (s->label) {
			const char *outer = c->label;
			c->label = s->label;
			exec(c, s);
			c->label = outer;
		} else {
			exec(c, s);
		}
	}
}

static int run(E *c)
{
	if (setjmp(c->jb))
		return -1;
	const LStmtList *l = &c->p->body;
	for (int i = 0; i < l->n; i++) {
		c->top = i;
		c->label = l->v[i]->label;
		exec(c, l->v[i]);
	}
	return 0;
}

int loop_eval(const LProgram *p, const void *input, void *output, Diag *d)
{
	if (loop_verify(p, d) < 0)
		return -1;
	if (p->arena_bytes > NNL_MAX_ELEMENTS) {
		diag_add(d, "loop_eval: arena of %" PRId64 " bytes, expected at most 2^40", p->arena_bytes);
		return -1;
	}
	int planned = p->arena_bytes > 0;
	int64_t arena = p->arena_bytes, in_off = 0, out_off = 0;
	/* Unplanned programs (no offsets yet): give each arena buffer its own
	 * aligned place in a block laid out here. */
	int64_t *own = nnl_calloc((size_t)p->n_bufs + 1, sizeof *own);
	if (!own)
		goto oom;
	if (!planned) {
		for (int i = 0; i < p->n_bufs; i++) {
			const LBuf *b = &p->bufs[i];
			if (b->kind != LB_ARENA)
				continue;
			arena = (arena + b->align - 1) / b->align * b->align;
			own[i] = arena;
			arena += b->numel * elem_size(b->type);
		}
	}
	E c = {.p = p, .d = d};
	c.vars = nnl_calloc((size_t)p->n_vars + 1, sizeof *c.vars);
	c.bufs = nnl_calloc((size_t)p->n_bufs + 1, sizeof *c.bufs);
	unsigned char *mem = nnl_calloc(1, (size_t)arena + 16);
	if (!c.vars || !c.bufs || !mem) {
		free(c.vars);
		free(c.bufs);
		free(mem);
		free(own);
		goto oom;
	}
	int rc = 0;
	for (int i = 0; i < p->n_bufs && rc == 0; i++) {
		const LBuf *b = &p->bufs[i];
		EBuf *eb = &c.bufs[i];
		eb->numel = b->numel;
		eb->type = b->type;
		eb->size = elem_size(b->type);
		int64_t bytes = b->numel * elem_size(b->type);
		switch (b->kind) {
		case LB_CONST: eb->base = b->data; break;
		case LB_ARENA: eb->base = mem + (planned ? b->offset : own[i]); break;
		case LB_INPUT:
			if (!input) {
				diag_add(d, "loop_eval: input buffer '%s' but no input given", b->name);
				rc = -1;
			}
			eb->base = input ? (unsigned char *)(uintptr_t)input + in_off : NULL;
			in_off += bytes;
			break;
		case LB_OUTPUT:
			if (!output) {
				diag_add(d, "loop_eval: output buffer '%s' but no output given", b->name);
				rc = -1;
			}
			eb->base = output ? (unsigned char *)output + out_off : NULL;
			out_off += bytes;
			break;
		}
	}
	if (rc == 0)
		rc = run(&c);
	free(c.vars);
	free(c.bufs);
	free(mem);
	free(own);
	return rc;
oom:
	diag_add(d, "loop_eval: out of memory (program '%s')", p->name);
	return -1;
}
