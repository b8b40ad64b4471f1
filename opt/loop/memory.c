/* memory.c — buffer uses, liveness and the lower bound (see memory.h). Not a
 * pass: the helpers of inplace.c, plan_memory.c and nnllc --report.
 */
#include "memory.h"

#include <stdlib.h>
#include <string.h>

int64_t mem_raw_bytes(const LBuf *b)
{
	int bits = ltype_bits(b->type);
	return b->numel * (bits < 8 ? 1 : bits / 8);
}

int64_t mem_size(const LBuf *b)
{
	int64_t a = b->align > 0 ? b->align : 1;
	return (mem_raw_bytes(b) + a - 1) / a * a;
}

static void use_expr(unsigned char *row, const LExpr *e)
{
	for (; e; e = e->c) {
		if (e->kind == LE_LOAD)
			row[e->buf] |= MEM_RD;
		use_expr(row, e->a);
		use_expr(row, e->b);
	}
}

static void use_list(unsigned char *row, const LStmtList *l);

static void use_stmt(unsigned char *row, const LStmt *st)
{
	use_expr(row, st->lo);
	use_expr(row, st->hi);
	use_expr(row, st->idx);
	use_expr(row, st->val);
	use_expr(row, st->cond);
	if (st->kind == LS_STORE)
		row[st->buf] |= MEM_WR;
	use_list(row, &st->body);
	use_list(row, &st->els);
}

static void use_list(unsigned char *row, const LStmtList *l)
{
	for (int i = 0; i < l->n; i++)
		use_stmt(row, l->v[i]);
}

unsigned char *mem_uses(const LProgram *p)
{
	size_t n = (size_t)p->body.n * (size_t)p->n_bufs;
	unsigned char *use = calloc(n ? n : 1, 1);
	if (!use)
		return NULL;
	for (int s = 0; s < p->body.n; s++)
		use_stmt(use + (size_t)s * (size_t)p->n_bufs, p->body.v[s]);
	return use;
}

void mem_liveness(const LProgram *p, const unsigned char *use, const int *ord, int *first, int *last)
{
	for (int b = 0; b < p->n_bufs; b++)
		first[b] = last[b] = -1;
	for (int k = 0; k < p->body.n; k++) {
		const unsigned char *row = use + (size_t)(ord ? ord[k] : k) * (size_t)p->n_bufs;
		for (int b = 0; b < p->n_bufs; b++)
			if (row[b] && p->bufs[b].kind == LB_ARENA) {
				if (first[b] < 0)
					first[b] = k;
				last[b] = k;
			}
	}
}

int64_t mem_bound(const LProgram *p, const int *first, const int *last, int *at)
{
	int n = p->body.n;
	int64_t *delta = calloc((size_t)n + 1, sizeof *delta);
	int64_t best = 0, cur = 0;
	int where = -1;
	if (!delta)
		return -1;
	for (int b = 0; b < p->n_bufs; b++)
		if (first[b] >= 0) {
			delta[first[b]] += mem_size(&p->bufs[b]);
			delta[last[b] + 1] -= mem_size(&p->bufs[b]);
		}
	for (int k = 0; k < n; k++) {
		cur += delta[k];
		if (cur > best)
			best = cur, where = k;
	}
	free(delta);
	if (at)
		*at = where;
	return best;
}

int64_t mem_no_reuse(const LProgram *p)
{
	int64_t s = 0;
	for (int b = 0; b < p->n_bufs; b++)
		if (p->bufs[b].kind == LB_ARENA)
			s += mem_size(&p->bufs[b]);
	return s;
}

/* ---- redirect ------------------------------------------------------------ */

typedef struct Redir {
	LProgram *p;
	int from, to;
	int64_t shift;
	int oom;
} Redir;

static int renum(const Redir *r, int b)
{
	if (b == r->from)
		b = r->to;
	return b > r->from ? b - 1 : b;
}

static LExpr *shifted(Redir *r, LExpr *idx)
{
	if (!r->shift)
		return idx;
	LExpr *e = le_add(r->p, idx, le_i32(r->p, r->shift));
	if (!e)
		r->oom = 1;
	return e ? e : idx;
}

static void redir_expr(Redir *r, LExpr *e)
{
	for (; e; e = e->c) {
		if (e->kind == LE_LOAD) {
			if (e->buf == r->from)
				e->a = shifted(r, e->a);
			e->buf = renum(r, e->buf);
			/* the index was rewritten above: its subtree is walked below */
		}
		redir_expr(r, e->a);
		redir_expr(r, e->b);
	}
}

static void redir_list(Redir *r, LStmtList *l);

static void redir_stmt(Redir *r, LStmt *st)
{
	redir_expr(r, st->lo);
	redir_expr(r, st->hi);
	redir_expr(r, st->idx);
	redir_expr(r, st->val);
	redir_expr(r, st->cond);
	if (st->kind == LS_STORE) {
		if (st->buf == r->from)
			st->idx = shifted(r, st->idx);
		st->buf = renum(r, st->buf);
	}
	redir_list(r, &st->body);
	redir_list(r, &st->els);
}

static void redir_list(Redir *r, LStmtList *l)
{
	for (int i = 0; i < l->n; i++)
		redir_stmt(r, l->v[i]);
}

int mem_redirect(LProgram *p, int from, int to, int64_t shift)
{
	Redir r = {p, from, to, shift, 0};
	redir_list(&r, &p->body);
	if (r.oom)
		return -1;
	free(p->bufs[from].name);
	free(p->bufs[from].data);
	free(p->bufs[from].origin);
	memmove(&p->bufs[from], &p->bufs[from + 1], (size_t)(p->n_bufs - from - 1) * sizeof *p->bufs);
	p->n_bufs--;
	return 0;
}
