/* plan_memory.c — pass "plan-memory": static placement of the arena buffers.
 *
 * requires: a program that verifies; arena buffers planned or not (lowering's
 *           offsets and first/last are ignored and recomputed).
 * provides: every arena buffer at an offset honouring max(its align,
 *           LoopPassCtx.arena_align); buffers live at the same top-level
 *           statement never share bytes; first/last set (positions in the
 *           final order); arena_bytes set; the top-level statements possibly
 *           reordered (only where their buffer reads/writes allow it) to
 *           lower the bound; LoopPassCtx.mem filled when set.
 *
 * Steps (docs/memory.md has a worked example):
 *  1. uses: which buffers each top-level statement loads/stores (memory.c).
 *  2. order: the program order, and two greedy topological orders (among the
 *     statements whose predecessors ran, take the one with the smallest peak
 *     at its step / the smallest live bytes after it, ties to program order);
 *     keep the order with the smallest lower bound, program order on ties.
 *     Dependences: two statements touching one non-const buffer, one of them
 *     storing it, keep their order; a top-level let/set keeps its place.
 *  3. placement: first-fit and best-fit over offsets, buffers taken by size
 *     (descending), by lifetime, by first use, by size × lifetime; the
 *     smallest arena wins and the search stops once it equals the bound;
 *     if none reaches it, up to 400 seeded random orders are tried.
 *     Placement of intervals with sizes is NP-hard in general (dynamic
 *     storage allocation); on chains and the bank it reaches the bound
 *     (tested). When it does not, mem.reached is 0 and --report says so.
 */
#include "memory.h"
#include "passes.h"

#include <stdlib.h>
#include <string.h>

typedef struct Plan {
	LProgram *p;
	int nb, ns;
	int64_t *size;
	int *first, *last;
} Plan;

/* ---- orders ------------------------------------------------------------- */

/* dep[j*ns + i]: statement j (program order) must run after i. */
static unsigned char *dependences(const LProgram *p, const unsigned char *use)
{
	int ns = p->body.n, nb = p->n_bufs;
	unsigned char *dep = calloc((size_t)ns * (size_t)ns, 1);
	if (!dep)
		return NULL;
	for (int j = 0; j < ns; j++) {
		int jbar = p->body.v[j]->kind == LS_LET || p->body.v[j]->kind == LS_SET;
		for (int i = 0; i < j; i++) {
			int ibar = p->body.v[i]->kind == LS_LET || p->body.v[i]->kind == LS_SET;
			int d = ibar || jbar;
			for (int b = 0; b < nb && !d; b++) {
				unsigned char ui = use[(size_t)i * nb + b], uj = use[(size_t)j * nb + b];
				if (p->bufs[b].kind != LB_CONST && ui && uj && ((ui | uj) & MEM_WR))
					d = 1;
			}
			dep[(size_t)j * ns + i] = (unsigned char)d;
		}
	}
	return dep;
}

/* A greedy topological order into ord; mode 0: smallest peak at the step,
 * mode 1: smallest live bytes after the step, mode 2: a successor of the
 * statement just placed (finish a branch before starting another), else
 * program order. -1 on out of memory. */
static int greedy_order(const LProgram *p, const unsigned char *use, const unsigned char *dep, int mode, int *ord)
{
	int ns = p->body.n, nb = p->n_bufs;
	int *npred = calloc((size_t)ns, sizeof *npred), *users = calloc((size_t)nb, sizeof *users);
	unsigned char *done = calloc((size_t)ns, 1), *live = calloc((size_t)nb, 1);
	int rc = -1;
	if (!npred || !users || !done || !live)
		goto out;
	for (int j = 0; j < ns; j++)
		for (int i = 0; i < j; i++)
			npred[j] += dep[(size_t)j * ns + i];
	for (int s = 0; s < ns; s++)
		for (int b = 0; b < nb; b++)
			if (use[(size_t)s * nb + b] && p->bufs[b].kind == LB_ARENA)
				users[b]++;
	int64_t cur = 0;
	for (int k = 0; k < ns; k++) {
		int best = -1;
		int64_t bkey = 0;
		for (int s = 0; s < ns; s++) {
			if (done[s] || npred[s])
				continue;
			int64_t peak = cur, after = cur;
			for (int b = 0; b < nb; b++) {
				if (!use[(size_t)s * nb + b] || p->bufs[b].kind != LB_ARENA)
					continue;
				int64_t sz = mem_size(&p->bufs[b]);
				if (!live[b])
					peak += sz, after += sz;
				if (users[b] == 1)
					after -= sz;
			}
			int64_t key = mode == 0 ? peak : mode == 1 ? after : (k > 0 && dep[(size_t)s * ns + ord[k - 1]]) ? 0 : 1;
			if (best < 0 || key < bkey)
				best = s, bkey = key;
		}
		if (best < 0)
			goto out; /* cannot happen: dependences point backwards */
		ord[k] = best;
		done[best] = 1;
		for (int j = 0; j < ns; j++)
			if (dep[(size_t)j * ns + best])
				npred[j]--;
		for (int b = 0; b < nb; b++) {
			if (!use[(size_t)best * nb + b] || p->bufs[b].kind != LB_ARENA)
				continue;
			if (!live[b])
				live[b] = 1, cur += mem_size(&p->bufs[b]);
			if (--users[b] == 0)
				live[b] = 0, cur -= mem_size(&p->bufs[b]);
		}
	}
	rc = 0;
out:
	free(npred);
	free(users);
	free(done);
	free(live);
	return rc;
}

/* ---- placement ---------------------------------------------------------- */

typedef struct Span {
	int64_t lo, hi;
} Span;

static int cmp_span(const void *a, const void *b)
{
	const Span *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static const Plan *sort_plan;
static int sort_key;

static int64_t key_of(const Plan *pl, int b)
{
	int64_t len = pl->last[b] - pl->first[b] + 1;
	switch (sort_key) {
	case 0: return pl->size[b];
	case 1: return len * ((int64_t)1 << 40) + pl->size[b];
	case 2: return -(int64_t)pl->first[b] * ((int64_t)1 << 40) + pl->size[b];
	default: return pl->size[b] * len;
	}
}

static int cmp_buf(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int64_t kx = key_of(sort_plan, x), ky = key_of(sort_plan, y);
	if (kx != ky)
		return kx > ky ? -1 : 1; /* descending */
	return x - y;
}

/* Place the buffers in list order; best: take the smallest gap that fits
 * (else the lowest). Returns the arena end, -1 on out of memory. */
static int64_t place(const Plan *pl, const int *list, int n, int best, int64_t *off, Span *tmp)
{
	int64_t end = 0;
	for (int k = 0; k < n; k++) {
		int b = list[k];
		int64_t a = pl->p->bufs[b].align, sz = pl->size[b];
		int m = 0;
		for (int j = 0; j < k; j++) {
			int o = list[j];
			if (pl->first[o] <= pl->last[b] && pl->first[b] <= pl->last[o])
				tmp[m++] = (Span){off[o], off[o] + pl->size[o]};
		}
		qsort(tmp, (size_t)m, sizeof *tmp, cmp_span);
		int64_t cand = 0, pick = -1, pick_gap = 0;
		for (int j = 0; j <= m; j++) {
			int64_t lim = j < m ? tmp[j].lo : INT64_MAX;
			int64_t at = (cand + a - 1) / a * a;
			if (at + sz <= lim) {
				int64_t gap = lim - at - sz;
				if (pick < 0 || (best && gap < pick_gap))
					pick = at, pick_gap = gap;
				if (!best)
					break;
			}
			if (j < m && tmp[j].hi > cand)
				cand = tmp[j].hi;
		}
		off[b] = pick;
		if (pick + sz > end)
			end = pick + sz;
	}
	return end;
}

int loop_pass_plan_memory(LProgram *p, const LoopPassCtx *c, Diag *d)
{
	int ns = p->body.n, nb = p->n_bufs, rc = -1;
	Plan pl = {p, nb, ns, NULL, NULL, NULL};
	unsigned char *use = NULL, *dep = NULL;
	int *ord = calloc((size_t)ns + 1, sizeof *ord), *best_ord = calloc((size_t)ns + 1, sizeof *best_ord);
	int *list = calloc((size_t)nb + 1, sizeof *list);
	int64_t *off = calloc((size_t)nb + 1, sizeof *off), *best_off = calloc((size_t)nb + 1, sizeof *best_off);
	Span *tmp = calloc((size_t)nb + 1, sizeof *tmp);
	LStmt **body = calloc((size_t)ns + 1, sizeof *body);
	pl.size = calloc((size_t)nb + 1, sizeof *pl.size);
	pl.first = calloc((size_t)nb + 1, sizeof *pl.first);
	pl.last = calloc((size_t)nb + 1, sizeof *pl.last);
	if (!ord || !best_ord || !list || !off || !best_off || !tmp || !body || !pl.size || !pl.first || !pl.last)
		goto oom;
	for (int b = 0; b < nb; b++) {
		LBuf *bf = &p->bufs[b];
		if (bf->kind == LB_ARENA && bf->align < c->arena_align)
			bf->align = c->arena_align;
		pl.size[b] = mem_size(bf);
	}
	use = mem_uses(p);
	if (!use)
		goto oom;

	/* 2. the order with the smallest bound */
	mem_liveness(p, use, NULL, pl.first, pl.last);
	int64_t bound_in_order = mem_bound(p, pl.first, pl.last, NULL), bound = bound_in_order;
	for (int k = 0; k < ns; k++)
		best_ord[k] = k;
	int reordered = 0;
	if (ns > 2 && (int64_t)ns * ns <= 64LL * 1024 * 1024) {
		dep = dependences(p, use);
		if (!dep)
			goto oom;
		for (int mode = 0; mode < 3; mode++) {
			if (greedy_order(p, use, dep, mode, ord) < 0)
				goto oom;
			mem_liveness(p, use, ord, pl.first, pl.last);
			int64_t bd = mem_bound(p, pl.first, pl.last, NULL);
			if (bd >= 0 && bd < bound) {
				bound = bd;
				memcpy(best_ord, ord, (size_t)ns * sizeof *ord);
				reordered = 1;
			}
		}
	}
	if (reordered) {
		for (int k = 0; k < ns; k++)
			body[k] = p->body.v[best_ord[k]];
		memcpy(p->body.v, body, (size_t)ns * sizeof *body);
		free(use);
		use = mem_uses(p);
		if (!use)
			goto oom;
	}
	mem_liveness(p, use, NULL, pl.first, pl.last);
	bound = mem_bound(p, pl.first, pl.last, NULL);

	/* 3. placement */
	int n = 0, n_unused = 0;
	int64_t unused_max = 0;
	for (int b = 0; b < nb; b++) {
		if (p->bufs[b].kind != LB_ARENA)
			continue;
		if (pl.first[b] >= 0)
			list[n++] = b;
		else if (pl.size[b] > unused_max)
			unused_max = pl.size[b], n_unused++;
	}
	int64_t arena = -1;
	sort_plan = &pl;
	for (int key = 0; key < 4 && arena != bound; key++) {
		sort_key = key;
		qsort(list, (size_t)n, sizeof *list, cmp_buf);
		for (int bestfit = 0; bestfit < 2 && arena != bound; bestfit++) {
			int64_t end = place(&pl, list, n, bestfit, off, tmp);
			if (arena < 0 || end < arena) {
				arena = end;
				for (int k = 0; k < n; k++)
					best_off[list[k]] = off[list[k]];
			}
		}
	}
	/* not reached: deterministic random orders, as long as that stays cheap */
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	for (int it = 0; it < 400 && arena != bound && (int64_t)n * n * it < 200000000; it++) {
		for (int k = n - 1; k > 0; k--) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			int j = (int)((seed >> 33) % (uint64_t)(k + 1)), t = list[k];
			list[k] = list[j], list[j] = t;
		}
		int64_t end = place(&pl, list, n, it & 1, off, tmp);
		if (end < arena) {
			arena = end;
			for (int k = 0; k < n; k++)
				best_off[list[k]] = off[list[k]];
		}
	}
	sort_plan = NULL;
	if (arena < 0)
		arena = 0;
	for (int b = 0; b < nb; b++) {
		LBuf *bf = &p->bufs[b];
		if (bf->kind != LB_ARENA) {
			bf->first = bf->last = -1;
			continue;
		}
		bf->first = pl.first[b];
		bf->last = pl.last[b];
		bf->offset = pl.first[b] >= 0 ? best_off[b] : 0; /* an unused buffer: anywhere */
	}
	p->arena_bytes = arena > unused_max ? arena : unused_max;
	(void)n_unused;
	if (c->mem) {
		c->mem->bound_in_order = bound_in_order;
		c->mem->bound = bound;
		c->mem->arena = p->arena_bytes;
		c->mem->reordered = reordered;
		c->mem->reached = p->arena_bytes == bound;
		c->mem->valid = 1;
		if (!c->mem->no_reuse) /* inplace did not run: the program is as lowered */
			c->mem->no_reuse = mem_no_reuse(p), c->mem->bound_lowered = bound_in_order;
	}
	rc = 0;
	goto out;
oom:
	diag_add(d, "plan-memory: out of memory");
out:
	free(use);
	free(dep);
	free(ord);
	free(best_ord);
	free(list);
	free(off);
	free(best_off);
	free(tmp);
	free(body);
	free(pl.size);
	free(pl.first);
	free(pl.last);
	return rc;
}
