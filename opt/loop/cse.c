/* cse.c — common subexpressions of a statement list into lets.
 *
 * requires: a verified program.
 * provides: in every statement list, a subexpression that a statement of the
 *           list computes directly (in its own bounds, index, value or
 *           condition) and that occurs again in that statement or a later one
 *           of the list (also inside their loops and branches) is computed
 *           once, into `let cN` placed right before the first statement, and
 *           every occurrence reads cN. Largest expressions first.
 * Candidates: at least one operation and one variable, no load (a store
 * between two loads could change the value), and only variables that no
 * `set` assigns (loop variables and single-assignment lets), so every
 * occurrence computes the same value as the first (when the first statement
 * is itself `let v = x`, later occurrences read v). The first occurrence is
 * evaluated anyway where the let is, so no new evaluation (or fault) is
 * introduced; results are bit-identical.
 */
#include "passes.h"
#include "lopt_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct C {
	LProgram *p;
	char *mut; /* var -> assigned by some set; only for the n_mut variables that
	            * existed when the pass started: the lets it adds are never set */
	int n_mut;
	int oom;
} C;

static void mark_sets(C *c, const LStmtList *l)
{
	for (int i = 0; i < l->n; i++) {
		const LStmt *s = l->v[i];
		if (s->kind == LS_SET)
			c->mut[s->var] = 1;
		mark_sets(c, &s->body);
		mark_sets(c, &s->els);
	}
}

static int size(const LExpr *e) { return e ? 1 + size(e->a) + size(e->b) + size(e->c) : 0; }

/* a candidate: an op, some variable, no load, no mutable variable */
static int cand(const C *c, const LExpr *e, int *has_var)
{
	if (!e)
		return 1;
	if (e->kind == LE_LOAD)
		return 0;
	if (e->kind == LE_VAR) {
		*has_var = 1;
		return e->var >= c->n_mut || !c->mut[e->var];
	}
	return cand(c, e->a, has_var) && cand(c, e->b, has_var) && cand(c, e->c, has_var);
}

static int is_cand(const C *c, const LExpr *e)
{
	int hv = 0;
	return e->kind != LE_CONST && e->kind != LE_VAR && cand(c, e, &hv) && hv;
}

static int count_in(const LExpr *e, const LExpr *x)
{
	if (!e)
		return 0;
	if (lx_equal(e, x))
		return 1;
	return count_in(e->a, x) + count_in(e->b, x) + count_in(e->c, x);
}

static int count_stmt(const LStmt *s, const LExpr *x, int nested)
{
	int n = count_in(s->lo, x) + count_in(s->hi, x) + count_in(s->idx, x) + count_in(s->val, x) +
	        count_in(s->cond, x);
	if (nested) {
		for (int i = 0; i < s->body.n; i++)
			n += count_stmt(s->body.v[i], x, 1);
		for (int i = 0; i < s->els.n; i++)
			n += count_stmt(s->els.v[i], x, 1);
	}
	return n;
}

static void repl(C *c, LExpr **slot, const LExpr *x, int v)
{
	LExpr *e = *slot;
	if (!e)
		return;
	if (lx_equal(e, x)) {
		LExpr *r = le_var(c->p, v);
		if (!r)
			c->oom = 1;
		else
			*slot = r;
		return;
	}
	repl(c, &e->a, x, v);
	repl(c, &e->b, x, v);
	repl(c, &e->c, x, v);
}

static void repl_stmt(C *c, LStmt *s, const LExpr *x, int v)
{
	repl(c, &s->lo, x, v);
	repl(c, &s->hi, x, v);
	repl(c, &s->idx, x, v);
	repl(c, &s->val, x, v);
	repl(c, &s->cond, x, v);
	for (int i = 0; i < s->body.n; i++)
		repl_stmt(c, s->body.v[i], x, v);
	for (int i = 0; i < s->els.n; i++)
		repl_stmt(c, s->els.v[i], x, v);
}

/* the largest candidate subtree of e that occurs at least twice in l[i..] */
static const LExpr *best(C *c, const LExpr *e, const LStmtList *l, int i, const LExpr *cur)
{
	if (!e || e->kind == LE_CONST || e->kind == LE_VAR)
		return cur;
	if ((!cur || size(e) > size(cur)) && is_cand(c, e)) {
		int n = 0;
		for (int j = i; j < l->n && n < 2; j++)
			n += count_stmt(l->v[j], e, 1);
		if (n >= 2)
			return e; /* its subtrees are smaller */
	}
	cur = best(c, e->a, l, i, cur);
	cur = best(c, e->b, l, i, cur);
	return best(c, e->c, l, i, cur);
}

static void cse_list(C *c, LStmtList *l)
{
	if (l->n > 512)
		goto children;
	for (int i = 0; i < l->n && !c->oom; i++) {
		for (int guard = 0; guard < 64 && !c->oom; guard++) {
			LStmt *s = l->v[i];
			const LExpr *x = NULL;
			x = best(c, s->lo, l, i, x);
			x = best(c, s->hi, l, i, x);
			x = best(c, s->idx, l, i, x);
			x = best(c, s->val, l, i, x);
			x = best(c, s->cond, l, i, x);
			if (!x)
				break;
			if (s->kind == LS_LET && (s->var >= c->n_mut || !c->mut[s->var]) && lx_equal(s->val, x)) {
				/* the statement is already `let v = x`: later ones read v */
				for (int j = i + 1; j < l->n; j++)
					repl_stmt(c, l->v[j], x, s->var);
				continue;
			}
			int v = loop_new_var(c->p, "c", x->type, 0);
			LExpr *val = v < 0 ? NULL : lx_clone(c->p, x, NULL);
			LStmtList one = {NULL, 0, 0};
			if (!val || !ls_let(c->p, &one, v, val)) {
				c->oom = 1;
				return;
			}
			for (int j = i; j < l->n; j++)
				repl_stmt(c, l->v[j], val, v);
			LStmt *pair[2] = {one.v[0], l->v[i]};
			if (lopt_list_replace(c->p, l, i, pair, 2) < 0) {
				c->oom = 1;
				return;
			}
			i++; /* the statement moved one down; the let's value may hold more */
		}
	}
children:
	for (int i = 0; i < l->n && !c->oom; i++) {
		cse_list(c, &l->v[i]->body);
		cse_list(c, &l->v[i]->els);
	}
}

int loop_pass_cse(LProgram *p, const LoopPassCtx *ctx, Diag *d)
{
	(void)ctx;
	C c = {p, calloc((size_t)p->n_vars + 1, 1), p->n_vars, 0};
	if (!c.mut) {
		diag_add(d, "cse: out of memory");
		return -1;
	}
	mark_sets(&c, &p->body);
	cse_list(&c, &p->body);
	free(c.mut);
	if (c.oom) {
		diag_add(d, "cse: out of memory");
		return -1;
	}
	return 0;
}
