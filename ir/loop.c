/* loop.c — construction of loop-IR programs: buffers, variables, and the
 * expression and statement trees, allocated from one pool per program.
 *
 * Constructors propagate NULL operands (an earlier allocation failed) so
 * callers check once per statement. le_add/le_mul_k fold the trivial cases
 * (x + 0, x * 1, x * 0) so that lowered index expressions stay readable.
 */
#include "loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct LPool {
	struct LPool *next;
	size_t used, size;
	_Alignas(16) unsigned char mem[];
};

static void *pool_alloc(LProgram *p, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	LPool *c = p->pool;
	if (!c || c->used + n > c->size) {
		size_t size = n > 65536 ? n : 65536;
		LPool *nc = nnl_malloc(sizeof *nc + size);
		if (!nc)
			return NULL;
		nc->next = c;
		nc->used = 0;
		nc->size = size;
		p->pool = nc;
		c = nc;
	}
	void *r = c->mem + c->used;
	c->used += n;
	memset(r, 0, n);
	return r;
}

static const struct {
	const char *name;
	int bits, is_float, is_signed;
} ltypes[LT_COUNT] = {
	[LT_VOID] = {"void", 0, 0, 0}, [LT_I1] = {"i1", 1, 0, 0},   [LT_I8] = {"i8", 8, 0, 1},
	[LT_I16] = {"i16", 16, 0, 1},  [LT_I32] = {"i32", 32, 0, 1}, [LT_I64] = {"i64", 64, 0, 1},
	[LT_U8] = {"u8", 8, 0, 0},     [LT_U16] = {"u16", 16, 0, 0}, [LT_F32] = {"f32", 32, 1, 1},
	[LT_F64] = {"f64", 64, 1, 1},
};

const char *ltype_name(LType t) { return t < LT_COUNT ? ltypes[t].name : "?"; }
int ltype_bits(LType t) { return t < LT_COUNT ? ltypes[t].bits : 0; }
int ltype_is_float(LType t) { return t < LT_COUNT && ltypes[t].is_float; }
int ltype_is_signed(LType t) { return t < LT_COUNT && ltypes[t].is_signed; }

LType ltype_from_name(const char *s)
{
	for (int t = 1; t < LT_COUNT; t++)
		if (strcmp(ltypes[t].name, s) == 0)
			return (LType)t;
	return LT_VOID;
}

LType ltype_of_dtype(DType t)
{
	switch (t) {
	case DT_FLOAT64: return LT_F64;
	case DT_FLOAT32: return LT_F32;
	case DT_INT64: return LT_I64;
	case DT_INT32: return LT_I32;
	case DT_INT16: return LT_I16;
	case DT_INT8: return LT_I8;
	case DT_UINT16: return LT_U16;
	case DT_UINT8: return LT_U8;
	default: return LT_VOID;
	}
}

LProgram *loop_new(const char *name)
{
	LProgram *p = nnl_calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->name = nnl_strdup(name ? name : "model");
	if (!p->name) {
		free(p);
		return NULL;
	}
	return p;
}

void loop_free(LProgram *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_bufs; i++) {
		free(p->bufs[i].name);
		free(p->bufs[i].data);
		free(p->bufs[i].origin);
	}
	free(p->bufs);
	for (int i = 0; i < p->n_vars; i++)
		free(p->vars[i].name);
	free(p->vars);
	for (LPool *c = p->pool; c;) {
		LPool *n = c->next;
		free(c);
		c = n;
	}
	free(p->name);
	free(p);
}

static int grow(void **arr, int *cap, int n, size_t elem)
{
	if (n < *cap)
		return 0;
	int nc = *cap ? *cap * 2 : 16;
	void *a = nnl_malloc((size_t)nc * elem);
	if (!a)
		return -1;
	if (n)
		memcpy(a, *arr, (size_t)n * elem);
	free(*arr);
	*arr = a;
	*cap = nc;
	return 0;
}

int loop_add_buf(LProgram *p, const char *name, LBufKind kind, LType type, int64_t numel)
{
	if (grow((void **)&p->bufs, &p->cap_bufs, p->n_bufs, sizeof *p->bufs) < 0)
		return -1;
	LBuf *b = &p->bufs[p->n_bufs];
	memset(b, 0, sizeof *b);
	b->name = nnl_strdup(name);
	if (!b->name)
		return -1;
	b->kind = kind;
	b->type = type;
	b->numel = numel;
	b->offset = -1;
	b->align = 16;
	b->first = b->last = -1;
	return p->n_bufs++;
}

int loop_find_buf(const LProgram *p, const char *name)
{
	for (int i = 0; i < p->n_bufs; i++)
		if (strcmp(p->bufs[i].name, name) == 0)
			return i;
	return -1;
}

int loop_add_var(LProgram *p, const char *name, LType type, int is_loop)
{
	if (grow((void **)&p->vars, &p->cap_vars, p->n_vars, sizeof *p->vars) < 0)
		return -1;
	LVar *v = &p->vars[p->n_vars];
	v->name = nnl_strdup(name);
	if (!v->name)
		return -1;
	v->type = type;
	v->is_loop = is_loop;
	return p->n_vars++;
}

int loop_find_var(const LProgram *p, const char *name)
{
	for (int i = 0; i < p->n_vars; i++)
		if (strcmp(p->vars[i].name, name) == 0)
			return i;
	return -1;
}

int loop_new_var(LProgram *p, const char *prefix, LType type, int is_loop)
{
	char name[64];
	snprintf(name, sizeof name, "%s%d", prefix, p->n_vars);
	return loop_add_var(p, name, type, is_loop);
}

const char *loop_strdup(LProgram *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *r = pool_alloc(p, n);
	if (r)
		memcpy(r, s, n);
	return r;
}

static LExpr *mk(LProgram *p, LExprKind k, LType t)
{
	LExpr *e = pool_alloc(p, sizeof *e);
	if (e) {
		e->kind = k;
		e->type = t;
	}
	return e;
}

LExpr *le_int(LProgram *p, LType t, int64_t v)
{
	LExpr *e = mk(p, LE_CONST, t);
	if (e)
		e->ival = v;
	return e;
}

LExpr *le_i32(LProgram *p, int64_t v) { return le_int(p, LT_I32, v); }

LExpr *le_float(LProgram *p, LType t, double v)
{
	LExpr *e = mk(p, LE_CONST, t);
	if (e)
		e->fval = v;
	return e;
}

LExpr *le_var(LProgram *p, int var)
{
	LExpr *e = mk(p, LE_VAR, p->vars[var].type);
	if (e)
		e->var = var;
	return e;
}

LExpr *le_load(LProgram *p, int buf, LExpr *idx)
{
	if (!idx)
		return NULL;
	LExpr *e = mk(p, LE_LOAD, p->bufs[buf].type);
	if (e) {
		e->buf = buf;
		e->a = idx;
	}
	return e;
}

LExpr *le_bin(LProgram *p, LBinOp op, LExpr *a, LExpr *b)
{
	if (!a || !b)
		return NULL;
	LType t = (op >= LO_LT && op <= LO_NE) ? LT_I1 : a->type;
	LExpr *e = mk(p, LE_BIN, t);
	if (e) {
		e->op = op;
		e->a = a;
		e->b = b;
	}
	return e;
}

LExpr *le_un(LProgram *p, LUnOp op, LExpr *a)
{
	if (!a)
		return NULL;
	LExpr *e = mk(p, LE_UN, a->type);
	if (e) {
		e->op = op;
		e->a = a;
	}
	return e;
}

LExpr *le_cast(LProgram *p, LType t, LExpr *a, int sat)
{
	if (!a)
		return NULL;
	LExpr *e = mk(p, LE_CAST, t);
	if (e) {
		e->a = a;
		e->sat = sat;
	}
	return e;
}

LExpr *le_select(LProgram *p, LExpr *c, LExpr *a, LExpr *b)
{
	if (!c || !a || !b)
		return NULL;
	LExpr *e = mk(p, LE_SELECT, a->type);
	if (e) {
		e->a = c;
		e->b = a;
		e->c = b;
	}
	return e;
}

static int is_const(const LExpr *e, int64_t v) { return e && e->kind == LE_CONST && !ltype_is_float(e->type) && e->ival == v; }

LExpr *le_add(LProgram *p, LExpr *a, LExpr *b)
{
	if (!a || !b)
		return NULL;
	if (is_const(a, 0))
		return b;
	if (is_const(b, 0))
		return a;
	if (a->kind == LE_CONST && b->kind == LE_CONST && !ltype_is_float(a->type))
		return le_int(p, a->type, a->ival + b->ival);
	return le_bin(p, LO_ADD, a, b);
}

LExpr *le_mul_k(LProgram *p, LExpr *a, int64_t k)
{
	if (!a)
		return NULL;
	if (k == 0)
		return le_int(p, a->type, 0);
	if (k == 1)
		return a;
	if (a->kind == LE_CONST && !ltype_is_float(a->type))
		return le_int(p, a->type, a->ival * k);
	return le_bin(p, LO_MUL, a, le_int(p, a->type, k));
}

static LStmt *add_stmt(LProgram *p, LStmtList *to, LStmtKind k)
{
	if (to->n == to->cap) {
		int nc = to->cap ? to->cap * 2 : 8;
		LStmt **v = pool_alloc(p, (size_t)nc * sizeof *v);
		if (!v)
			return NULL;
		if (to->n)
			memcpy(v, to->v, (size_t)to->n * sizeof *v);
		to->v = v; /* the old array stays in the pool until loop_free */
		to->cap = nc;
	}
	LStmt *s = pool_alloc(p, sizeof *s);
	if (!s)
		return NULL;
	s->kind = k;
	to->v[to->n++] = s;
	return s;
}

LStmt *ls_for(LProgram *p, LStmtList *to, int var, LExpr *lo, LExpr *hi, int64_t step)
{
	if (!lo || !hi)
		return NULL;
	LStmt *s = add_stmt(p, to, LS_FOR);
	if (s) {
		s->var = var;
		s->lo = lo;
		s->hi = hi;
		s->step = step;
	}
	return s;
}

LStmt *ls_let(LProgram *p, LStmtList *to, int var, LExpr *val)
{
	if (!val)
		return NULL;
	LStmt *s = add_stmt(p, to, LS_LET);
	if (s) {
		s->var = var;
		s->val = val;
	}
	return s;
}

LStmt *ls_set(LProgram *p, LStmtList *to, int var, LExpr *val)
{
	if (!val)
		return NULL;
	LStmt *s = add_stmt(p, to, LS_SET);
	if (s) {
		s->var = var;
		s->val = val;
	}
	return s;
}

LStmt *ls_store(LProgram *p, LStmtList *to, int buf, LExpr *idx, LExpr *val)
{
	if (!idx || !val)
		return NULL;
	LStmt *s = add_stmt(p, to, LS_STORE);
	if (s) {
		s->buf = buf;
		s->idx = idx;
		s->val = val;
	}
	return s;
}

LStmt *ls_if(LProgram *p, LStmtList *to, LExpr *cond)
{
	if (!cond)
		return NULL;
	LStmt *s = add_stmt(p, to, LS_IF);
	if (s)
		s->cond = cond;
	return s;
}
