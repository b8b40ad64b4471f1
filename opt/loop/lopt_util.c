/* lopt_util.c — shared helpers of the loop cleanup and fusion passes
 * (lopt_util.h). Not a pass: no requires/provides.
 */
#include "lopt_util.h"

#include <stdlib.h>
#include <string.h>

/* ---- affine forms ---------------------------------------------------------- */

void laff_add_term(LAff *a, int var, int64_t k)
{
	for (int i = 0; i < a->n; i++)
		if (a->var[i] == var) {
			a->k[i] += k;
			return;
		}
	if (a->n == LAFF_MAX) {
		a->n = LAFF_MAX + 1; /* overflow marker */
		return;
	}
	if (a->n > LAFF_MAX)
		return;
	a->var[a->n] = var;
	a->k[a->n++] = k;
}

int64_t laff_coef(const LAff *a, int var)
{
	for (int i = 0; i < a->n; i++)
		if (a->var[i] == var)
			return a->k[i];
	return 0;
}

static int aff_rec(const LExpr *e, int64_t k, LAff *a)
{
	if (!e || e->type != LT_I32)
		return -1;
	switch (e->kind) {
	case LE_CONST:
		a->c += k * e->ival;
		return 0;
	case LE_VAR:
		laff_add_term(a, e->var, k);
		return a->n > LAFF_MAX ? -1 : 0;
	case LE_UN:
		if (e->op == LU_NEG)
			return aff_rec(e->a, -k, a);
		return -1;
	case LE_BIN:
		if (e->op == LO_ADD)
			return aff_rec(e->a, k, a) < 0 ? -1 : aff_rec(e->b, k, a);
		if (e->op == LO_SUB)
			return aff_rec(e->a, k, a) < 0 ? -1 : aff_rec(e->b, -k, a);
		if (e->op == LO_MUL) {
			if (e->b->kind == LE_CONST)
				return aff_rec(e->a, k * e->b->ival, a);
			if (e->a->kind == LE_CONST)
				return aff_rec(e->b, k * e->a->ival, a);
		}
		return -1;
	default:
		return -1;
	}
}

int laff_of(const LExpr *e, LAff *a)
{
	memset(a, 0, sizeof *a);
	if (aff_rec(e, 1, a) < 0)
		return -1;
	/* drop zero terms, keeping order */
	int j = 0;
	for (int i = 0; i < a->n; i++)
		if (a->k[i] != 0) {
			a->var[j] = a->var[i];
			a->k[j++] = a->k[i];
		}
	a->n = j;
	/* coefficients and constant must be i32 values to print as i32 */
	for (int i = 0; i < a->n; i++)
		if (a->k[i] < INT32_MIN || a->k[i] > INT32_MAX)
			return -1;
	if (a->c < INT32_MIN || a->c > INT32_MAX)
		return -1;
	return 0;
}

LExpr *laff_expr(LProgram *p, const LAff *a)
{
	LExpr *e = NULL;
	for (int i = 0; i < a->n; i++) {
		if (a->k[i] == 0)
			continue;
		LExpr *t = le_mul_k(p, le_var(p, a->var[i]), a->k[i]);
		e = e ? le_add(p, e, t) : t;
	}
	if (!e)
		return le_i32(p, a->c);
	return a->c ? le_add(p, e, le_i32(p, a->c)) : e;
}

/* ---- expression walks ---------------------------------------------------- */

int lx_equal(const LExpr *a, const LExpr *b)
{
	if (a == b)
		return 1;
	if (!a || !b || a->kind != b->kind || a->type != b->type)
		return 0;
	switch (a->kind) {
	case LE_CONST:
		if (ltype_is_float(a->type))
			return memcmp(&a->fval, &b->fval, sizeof a->fval) == 0;
		return a->ival == b->ival;
	case LE_VAR: return a->var == b->var;
	case LE_LOAD: return a->buf == b->buf && lx_equal(a->a, b->a);
	case LE_BIN: return a->op == b->op && lx_equal(a->a, b->a) && lx_equal(a->b, b->b);
	case LE_UN: return a->op == b->op && lx_equal(a->a, b->a);
	case LE_CAST: return a->sat == b->sat && lx_equal(a->a, b->a);
	case LE_SELECT: return lx_equal(a->a, b->a) && lx_equal(a->b, b->b) && lx_equal(a->c, b->c);
	}
	return 0;
}

int lx_uses_var(const LExpr *e, int v)
{
	if (!e)
		return 0;
	if (e->kind == LE_VAR)
		return e->var == v;
	return lx_uses_var(e->a, v) || lx_uses_var(e->b, v) || lx_uses_var(e->c, v);
}

int lx_loads_buf(const LExpr *e, int b)
{
	if (!e)
		return 0;
	if (e->kind == LE_LOAD && e->buf == b)
		return 1;
	return lx_loads_buf(e->a, b) || lx_loads_buf(e->b, b) || lx_loads_buf(e->c, b);
}

int lx_count_loads(const LExpr *e, int b)
{
	if (!e)
		return 0;
	return (e->kind == LE_LOAD && e->buf == b) + lx_count_loads(e->a, b) + lx_count_loads(e->b, b) +
	       lx_count_loads(e->c, b);
}

int lx_has_load(const LExpr *e)
{
	if (!e)
		return 0;
	return e->kind == LE_LOAD || lx_has_load(e->a) || lx_has_load(e->b) || lx_has_load(e->c);
}

int lx_may_fault(const LExpr *e)
{
	if (!e)
		return 0;
	switch (e->kind) {
	case LE_LOAD: return 1;
	case LE_BIN:
		if (!ltype_is_float(e->a->type) &&
		    (e->op == LO_DIV || e->op == LO_REM || e->op == LO_SHL || e->op == LO_SHR))
			return 1;
		break;
	case LE_CAST:
		if (!e->sat && !ltype_is_float(e->type) && ltype_is_float(e->a->type))
			return 1;
		break;
	default: break;
	}
	return lx_may_fault(e->a) || lx_may_fault(e->b) || lx_may_fault(e->c);
}

/* ---- statement walks ------------------------------------------------------- */

int lopt_alias(const LProgram *p, int a, int b)
{
	if (a == b)
		return 1;
	const LBuf *A = &p->bufs[a], *B = &p->bufs[b];
	if (A->kind != LB_ARENA || B->kind != LB_ARENA || A->offset < 0 || B->offset < 0)
		return 0;
	int64_t ea = A->offset + A->numel * ((ltype_bits(A->type) + 7) / 8);
	int64_t eb = B->offset + B->numel * ((ltype_bits(B->type) + 7) / 8);
	return A->offset < eb && B->offset < ea;
}

static int lx_loads_alias(const LProgram *p, const LExpr *e, int b)
{
	if (!e)
		return 0;
	if (e->kind == LE_LOAD && lopt_alias(p, e->buf, b))
		return 1;
	return lx_loads_alias(p, e->a, b) || lx_loads_alias(p, e->b, b) || lx_loads_alias(p, e->c, b);
}

static int list_any(const LProgram *p, const LStmtList *l, int b, int (*f)(const LProgram *, const LStmt *, int))
{
	for (int i = 0; i < l->n; i++)
		if (f(p, l->v[i], b))
			return 1;
	return 0;
}

int ls_reads_buf(const LProgram *p, const LStmt *s, int b)
{
	return lx_loads_alias(p, s->lo, b) || lx_loads_alias(p, s->hi, b) || lx_loads_alias(p, s->idx, b) ||
	       lx_loads_alias(p, s->val, b) || lx_loads_alias(p, s->cond, b) || list_any(p, &s->body, b, ls_reads_buf) ||
	       list_any(p, &s->els, b, ls_reads_buf);
}

int ls_writes_buf(const LProgram *p, const LStmt *s, int b)
{
	if (s->kind == LS_STORE && lopt_alias(p, s->buf, b))
		return 1;
	return list_any(p, &s->body, b, ls_writes_buf) || list_any(p, &s->els, b, ls_writes_buf);
}

static int list_uses_var(const LStmtList *l, int v)
{
	for (int i = 0; i < l->n; i++)
		if (ls_uses_var(l->v[i], v))
			return 1;
	return 0;
}

int ls_uses_var(const LStmt *s, int v)
{
	return lx_uses_var(s->lo, v) || lx_uses_var(s->hi, v) || lx_uses_var(s->idx, v) || lx_uses_var(s->val, v) ||
	       lx_uses_var(s->cond, v) || list_uses_var(&s->body, v) || list_uses_var(&s->els, v);
}

int ls_sets_var(const LStmt *s, int v)
{
	if (s->kind == LS_SET && s->var == v)
		return 1;
	for (int i = 0; i < s->body.n; i++)
		if (ls_sets_var(s->body.v[i], v))
			return 1;
	for (int i = 0; i < s->els.n; i++)
		if (ls_sets_var(s->els.v[i], v))
			return 1;
	return 0;
}

/* ---- cloning ------------------------------------------------------------- */

LExpr *lx_canon_index(LProgram *p, LExpr *e)
{
	LAff a;
	if (!e || e->type != LT_I32 || e->kind == LE_CONST || e->kind == LE_VAR || laff_of(e, &a) < 0)
		return e;
	return laff_expr(p, &a);
}

LExpr *lx_clone(LProgram *p, const LExpr *e, const LSubst *s)
{
	if (!e)
		return NULL;
	switch (e->kind) {
	case LE_CONST:
		return ltype_is_float(e->type) ? le_float(p, e->type, e->fval) : le_int(p, e->type, e->ival);
	case LE_VAR:
		if (s && s->vsub && s->vsub[e->var])
			return lx_clone(p, s->vsub[e->var], NULL);
		return le_var(p, s && s->vmap && s->vmap[e->var] >= 0 ? s->vmap[e->var] : e->var);
	case LE_LOAD:
		if (s && s->lbuf >= 0 && e->buf == s->lbuf)
			return s->lval_clone ? lx_clone(p, s->lval, NULL) : s->lval;
		return le_load(p, e->buf, lx_canon_index(p, lx_clone(p, e->a, s)));
	case LE_BIN: return le_bin(p, (LBinOp)e->op, lx_clone(p, e->a, s), lx_clone(p, e->b, s));
	case LE_UN: return le_un(p, (LUnOp)e->op, lx_clone(p, e->a, s));
	case LE_CAST: return le_cast(p, e->type, lx_clone(p, e->a, s), e->sat);
	case LE_SELECT: return le_select(p, lx_clone(p, e->a, s), lx_clone(p, e->b, s), lx_clone(p, e->c, s));
	}
	return NULL;
}

/* ---- lists ----------------------------------------------------------------- */

int lopt_list_push(LProgram *p, LStmtList *l, LStmt *s)
{
	/* grow through the constructor (the pool is private to loop.c), then put
	 * the statement in the new slot; the placeholder stays in the pool */
	LExpr *one = le_int(p, LT_I1, 1);
	if (!one || !ls_if(p, l, one))
		return -1;
	l->v[l->n - 1] = s;
	return 0;
}

int lopt_list_replace(LProgram *p, LStmtList *l, int k, LStmt *const *v, int n)
{
	if (n == 1) {
		l->v[k] = v[0];
		return 0;
	}
	if (n == 0) {
		lopt_list_remove(l, k);
		return 0;
	}
	LStmtList nl = {NULL, 0, 0};
	for (int i = 0; i < l->n; i++) {
		if (i == k) {
			for (int j = 0; j < n; j++)
				if (lopt_list_push(p, &nl, v[j]) < 0)
					return -1;
		} else if (lopt_list_push(p, &nl, l->v[i]) < 0) {
			return -1;
		}
	}
	*l = nl;
	return 0;
}

void lopt_list_remove(LStmtList *l, int k)
{
	memmove(&l->v[k], &l->v[k + 1], (size_t)(l->n - k - 1) * sizeof *l->v);
	l->n--;
}

/* ---- buffers --------------------------------------------------------------- */

static void renum_expr(LExpr *e, int b)
{
	for (; e; e = NULL) {
		if (e->kind == LE_LOAD && e->buf > b)
			e->buf--;
		renum_expr(e->a, b);
		renum_expr(e->b, b);
		renum_expr(e->c, b);
	}
}

static void renum_list(LStmtList *l, int b)
{
	for (int i = 0; i < l->n; i++) {
		LStmt *s = l->v[i];
		renum_expr(s->lo, b);
		renum_expr(s->hi, b);
		renum_expr(s->idx, b);
		renum_expr(s->val, b);
		renum_expr(s->cond, b);
		if (s->kind == LS_STORE && s->buf > b)
			s->buf--;
		renum_list(&s->body, b);
		renum_list(&s->els, b);
	}
}

void lopt_remove_buf(LProgram *p, int b)
{
	LBuf *B = &p->bufs[b];
	free(B->name);
	free(B->data);
	free(B->origin);
	memmove(&p->bufs[b], &p->bufs[b + 1], (size_t)(p->n_bufs - b - 1) * sizeof *p->bufs);
	p->n_bufs--;
	renum_list(&p->body, b);
}

static void use_expr(LProgram *p, const LExpr *e, int s)
{
	for (; e; e = NULL) {
		if (e->kind == LE_LOAD) {
			LBuf *b = &p->bufs[e->buf];
			if (b->first < 0)
				b->first = s;
			b->last = s;
		}
		use_expr(p, e->a, s);
		use_expr(p, e->b, s);
		use_expr(p, e->c, s);
	}
}

static void use_list(LProgram *p, const LStmtList *l, int s)
{
	for (int i = 0; i < l->n; i++) {
		const LStmt *st = l->v[i];
		use_expr(p, st->lo, s);
		use_expr(p, st->hi, s);
		use_expr(p, st->idx, s);
		use_expr(p, st->val, s);
		use_expr(p, st->cond, s);
		if (st->kind == LS_STORE) {
			LBuf *b = &p->bufs[st->buf];
			if (b->first < 0)
				b->first = s;
			b->last = s;
		}
		use_list(p, &st->body, s);
		use_list(p, &st->els, s);
	}
}

void lopt_liveness(LProgram *p)
{
	for (int i = 0; i < p->n_bufs; i++)
		p->bufs[i].first = p->bufs[i].last = -1;
	for (int s = 0; s < p->body.n; s++) {
		LStmtList one = {&p->body.v[s], 1, 1};
		use_list(p, &one, s);
	}
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind != LB_ARENA)
			p->bufs[i].first = p->bufs[i].last = -1;
}
