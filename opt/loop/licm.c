/* licm.c — loop-invariant code motion.
 *
 * requires: a verified program.
 * provides: for every for nested in another statement (top-level nests are
 *           left alone so top-level statements stay one per graph node):
 *           (1) a let at the top of its body whose value is invariant and
 *           whose variable is never set is moved before the loop; (2) every
 *           maximal invariant subexpression of the body that uses at least
 *           one variable or load is computed once into `let hN` before the
 *           loop (equal expressions share one let).
 * Invariant: uses no variable declared or set inside the loop (nor the loop
 * variable) and loads only from buffers that nothing in the loop writes (a
 * buffer sharing bytes with a written one counts as written). Expressions
 * that can fault (loads, integer div/rem/shifts, non-saturating float->int
 * casts) are hoisted only when the loop surely runs (constant bounds, at
 * least one iteration) and they sit in a statement the body runs on every
 * iteration (not inside an inner for or if), so nothing is evaluated that
 * the original would not evaluate. Values are the same ops on the same
 * operands, so outputs are bit-identical.
 */
#include "passes.h"
#include "lopt_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct H {
	LProgram *p;
	char *variant;  /* var -> declared or set inside the loop */
	char *written;  /* buf -> (alias of) a buffer stored inside the loop */
	int runs;       /* the loop surely runs at least once */
	LStmtList lets; /* hoisted lets, in order */
	int oom, count;
} H;

static void mark_variant(H *h, const LStmtList *l)
{
	for (int i = 0; i < l->n; i++) {
		const LStmt *s = l->v[i];
		if (s->kind == LS_FOR || s->kind == LS_LET || s->kind == LS_SET)
			h->variant[s->var] = 1;
		if (s->kind == LS_STORE)
			for (int b = 0; b < h->p->n_bufs; b++)
				if (lopt_alias(h->p, b, s->buf))
					h->written[b] = 1;
		mark_variant(h, &s->body);
		mark_variant(h, &s->els);
	}
}

static int nontrivial(const LExpr *e) { return e->kind != LE_CONST && e->kind != LE_VAR; }

static int has_var_or_load(const LExpr *e)
{
	if (!e)
		return 0;
	return e->kind == LE_VAR || e->kind == LE_LOAD || has_var_or_load(e->a) || has_var_or_load(e->b) ||
	       has_var_or_load(e->c);
}

static void hoist(H *h, LExpr **slot)
{
	LExpr *e = *slot;
	if (!nontrivial(e) || !has_var_or_load(e))
		return;
	int v = -1;
	for (int i = 0; i < h->lets.n; i++)
		if (lx_equal(h->lets.v[i]->val, e))
			v = h->lets.v[i]->var;
	if (v < 0) {
		v = loop_new_var(h->p, "h", e->type, 0);
		if (v < 0 || !ls_let(h->p, &h->lets, v, e)) {
			h->oom = 1;
			return;
		}
		h->count++;
	}
	LExpr *r = le_var(h->p, v);
	if (!r) {
		h->oom = 1;
		return;
	}
	*slot = r;
}

static int own_fault(const LExpr *e)
{
	if (e->kind == LE_LOAD)
		return 1;
	if (e->kind == LE_BIN && !ltype_is_float(e->a->type) &&
	    (e->op == LO_DIV || e->op == LO_REM || e->op == LO_SHL || e->op == LO_SHR))
		return 1;
	return e->kind == LE_CAST && !e->sat && !ltype_is_float(e->type) && ltype_is_float(e->a->type);
}

/* Is *slot invariant? Hoists the maximal invariant parts of a variant tree. */
static int inv(H *h, LExpr **slot, int top)
{
	LExpr *e = *slot;
	if (!e)
		return 1;
	switch (e->kind) {
	case LE_CONST: return 1;
	case LE_VAR: return !h->variant[e->var];
	default: break;
	}
	int ia = inv(h, &e->a, top), ib = inv(h, &e->b, top), ic = inv(h, &e->c, top);
	int r = ia && ib && ic;
	if (e->kind == LE_LOAD && h->written[e->buf])
		r = 0;
	if (own_fault(e) && !(top && h->runs))
		r = 0;
	if (!r) {
		if (e->a && ia)
			hoist(h, &e->a);
		if (e->b && ib)
			hoist(h, &e->b);
		if (e->c && ic)
			hoist(h, &e->c);
	}
	return r;
}

static void root(H *h, LExpr **slot, int top)
{
	if (*slot && inv(h, slot, top))
		hoist(h, slot);
}

static void walk(H *h, LStmtList *l, int top)
{
	for (int i = 0; i < l->n; i++) {
		LStmt *s = l->v[i];
		root(h, &s->lo, top);
		root(h, &s->hi, top);
		root(h, &s->idx, top);
		root(h, &s->val, top);
		root(h, &s->cond, top);
		walk(h, &s->body, 0);
		walk(h, &s->els, 0);
	}
}

static int is_set_in(const LStmtList *l, int v)
{
	for (int i = 0; i < l->n; i++)
		if (ls_sets_var(l->v[i], v))
			return 1;
	return 0;
}

/* Hoist out of loop f (at l->v[k]); returns the number of statements now
 * before it in l, or -1 on out of memory. */
static int licm_loop(LProgram *p, LStmtList *l, int k)
{
	LStmt *f = l->v[k];
	H h = {p, calloc((size_t)p->n_vars + 1, 1), calloc((size_t)p->n_bufs + 1, 1), 0, {NULL, 0, 0}, 0, 0};
	if (!h.variant || !h.written) {
		free(h.variant);
		free(h.written);
		return -1;
	}
	h.variant[f->var] = 1;
	mark_variant(&h, &f->body);
	h.runs = f->lo->kind == LE_CONST && f->hi->kind == LE_CONST && f->hi->ival > f->lo->ival;
	/* (1) invariant lets at the top of the body */
	for (int i = 0; i < f->body.n; i++) {
		LStmt *s = f->body.v[i];
		if (s->kind != LS_LET)
			break;
		if (is_set_in(&f->body, s->var))
			continue;
		int nv = p->n_vars;
		int ok = 1;
		for (int v = 0; v < nv && ok; v++)
			if (h.variant[v] && v != s->var && lx_uses_var(s->val, v))
				ok = 0;
		for (int b = 0; b < p->n_bufs && ok; b++)
			if (h.written[b] && lx_loads_buf(s->val, b))
				ok = 0;
		if (!ok || (lx_may_fault(s->val) && !h.runs))
			continue;
		h.variant[s->var] = 0;
		if (lopt_list_push(p, &h.lets, s) < 0) {
			h.oom = 1;
			break;
		}
		lopt_list_remove(&f->body, i);
		i--;
		h.count++;
	}
	/* (2) invariant subexpressions */
	if (!h.oom)
		walk(&h, &f->body, 1);
	int n = h.lets.n;
	if (!h.oom && n > 0) {
		LStmt **v = malloc(((size_t)n + 1) * sizeof *v);
		if (!v) {
			h.oom = 1;
		} else {
			memcpy(v, h.lets.v, (size_t)n * sizeof *v);
			v[n] = f;
			if (lopt_list_replace(p, l, k, v, n + 1) < 0)
				h.oom = 1;
			free(v);
		}
	}
	free(h.variant);
	free(h.written);
	return h.oom ? -1 : n;
}

static int licm_list(LProgram *p, LStmtList *l, int nested)
{
	for (int i = 0; i < l->n; i++) {
		LStmt *s = l->v[i];
		if (licm_list(p, &s->body, 1) < 0 || licm_list(p, &s->els, 1) < 0)
			return -1;
		if (s->kind == LS_FOR && nested) {
			int n = licm_loop(p, l, i);
			if (n < 0)
				return -1;
			i += n;
		}
	}
	return 0;
}

int loop_pass_licm(LProgram *p, const LoopPassCtx *ctx, Diag *d)
{
	(void)ctx;
	if (licm_list(p, &p->body, 0) < 0) {
		diag_add(d, "licm: out of memory");
		return -1;
	}
	return 0;
}
