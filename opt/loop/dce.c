/* dce.c — dead code and dead buffer removal.
 *
 * requires: a verified program (planned or not).
 * provides: no store to an arena buffer that nothing loads (no buffer sharing
 *           its bytes is loaded either; input/output/const are never dead);
 *           no let/set of a variable that no other statement reads (a set
 *           reading its own variable, acc = acc + x, does not keep it alive);
 *           no for or if left with nothing in it; no arena or const buffer
 *           that no statement names (buffers after it move down one index);
 *           buffer liveness (first/last) recomputed.
 * Expressions have no side effects other than faults, and a removed value is
 * never observed, so outputs are unchanged. Runs to a fixed point.
 */
#include "passes.h"
#include "lopt_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct Dce {
	LProgram *p;
	int *reads;      /* var -> reads outside its own let/set values */
	char *loaded;    /* buf -> loaded somewhere (alias-aware, filled later) */
	int changed;
} Dce;

static void count_expr(Dce *z, const LExpr *e, int self)
{
	for (; e; e = NULL) {
		if (e->kind == LE_VAR && e->var != self)
			z->reads[e->var]++;
		if (e->kind == LE_LOAD)
			z->loaded[e->buf] = 1;
		count_expr(z, e->a, self);
		count_expr(z, e->b, self);
		count_expr(z, e->c, self);
	}
}

static void count_list(Dce *z, const LStmtList *l)
{
	for (int i = 0; i < l->n; i++) {
		const LStmt *s = l->v[i];
		int self = (s->kind == LS_LET || s->kind == LS_SET) ? s->var : -1;
		count_expr(z, s->lo, -1);
		count_expr(z, s->hi, -1);
		count_expr(z, s->idx, -1);
		count_expr(z, s->val, self);
		count_expr(z, s->cond, -1);
		count_list(z, &s->body);
		count_list(z, &s->els);
	}
}

static int buf_live(const Dce *z, int b)
{
	const LProgram *p = z->p;
	if (p->bufs[b].kind != LB_ARENA)
		return 1;
	for (int i = 0; i < p->n_bufs; i++)
		if (z->loaded[i] && lopt_alias(p, i, b))
			return 1;
	return 0;
}

static void sweep(Dce *z, LStmtList *l)
{
	for (int i = 0; i < l->n;) {
		LStmt *s = l->v[i];
		int dead = 0;
		switch (s->kind) {
		case LS_STORE: dead = !buf_live(z, s->buf); break;
		case LS_LET:
		case LS_SET: dead = z->reads[s->var] == 0; break;
		case LS_FOR:
			sweep(z, &s->body);
			dead = s->body.n == 0;
			break;
		case LS_IF:
			sweep(z, &s->body);
			sweep(z, &s->els);
			dead = s->body.n == 0 && s->els.n == 0;
			break;
		}
		if (dead) {
			lopt_list_remove(l, i);
			z->changed = 1;
		} else {
			i++;
		}
	}
}

static void mark_named(const LExpr *e, char *named)
{
	for (; e; e = NULL) {
		if (e->kind == LE_LOAD)
			named[e->buf] = 1;
		mark_named(e->a, named);
		mark_named(e->b, named);
		mark_named(e->c, named);
	}
}

static void mark_list(const LStmtList *l, char *named)
{
	for (int i = 0; i < l->n; i++) {
		const LStmt *s = l->v[i];
		mark_named(s->lo, named);
		mark_named(s->hi, named);
		mark_named(s->idx, named);
		mark_named(s->val, named);
		mark_named(s->cond, named);
		if (s->kind == LS_STORE)
			named[s->buf] = 1;
		mark_list(&s->body, named);
		mark_list(&s->els, named);
	}
}

int loop_pass_dce(LProgram *p, const LoopPassCtx *ctx, Diag *d)
{
	(void)ctx;
	Dce z = {p, NULL, NULL, 1};
	while (z.changed) {
		z.changed = 0;
		free(z.reads);
		free(z.loaded);
		z.reads = calloc((size_t)p->n_vars + 1, sizeof *z.reads);
		z.loaded = calloc((size_t)p->n_bufs + 1, 1);
		if (!z.reads || !z.loaded) {
			free(z.reads);
			free(z.loaded);
			diag_add(d, "dce: out of memory");
			return -1;
		}
		count_list(&z, &p->body);
		sweep(&z, &p->body);
	}
	free(z.reads);
	free(z.loaded);
	char *named = calloc((size_t)p->n_bufs + 1, 1);
	if (!named) {
		diag_add(d, "dce: out of memory");
		return -1;
	}
	mark_list(&p->body, named);
	for (int b = p->n_bufs - 1; b >= 0; b--)
		if (!named[b] && (p->bufs[b].kind == LB_ARENA || p->bufs[b].kind == LB_CONST)) {
			lopt_remove_buf(p, b);
			memmove(&named[b], &named[b + 1], (size_t)(p->n_bufs - b));
		}
	free(named);
	lopt_liveness(p);
	return 0;
}
