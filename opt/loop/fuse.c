/* fuse.c — producer-consumer fusion of elementwise loop nests.
 *
 * requires: a verified program whose top-level statements are the nests of
 *           lowering (any shapes), before in-place execution and memory
 *           planning (arena buffers that share bytes count as the same buffer).
 * provides: every elementwise consumer nest that can be moved into the nest
 *           producing its input is gone, its body inlined at each store of the
 *           producer (conv/linear + bias + BN + activation + residual add in
 *           one nest, chains of elementwise nests in one pass over memory).
 *           The float operations of every element are the same, in the same
 *           order. The intermediate buffer is no longer used (dce removes it).
 *
 * A consumer is a top-level perfect nest `for i1 .. for in { body }` with
 * constant bounds and step 1 whose innermost body has no for/if and exactly
 * one store, Y[iy] = f(...). It is fused with the producer of a buffer B it
 * loads when:
 *  - every load of B in the body has one index iB, affine in i1..in whose
 *    strides form a mixed radix (so the consumer reads a contiguous range of
 *    B once per element), and iy is injective likewise;
 *  - B (or a buffer sharing its bytes) is written by exactly one top-level
 *    statement, the producer, before the consumer, and read by nothing but
 *    the consumer (not by the producer either; B is no input/output);
 *  - every store of the producer to B has constant-bound enclosing loops, no
 *    enclosing if, and an affine index whose value splits into the consumer's
 *    digits i1..in as affine expressions of the producer's loop variables
 *    (checked with intervals), and the producer's stores write each element
 *    of the consumer's range exactly once (checked by enumeration);
 *  - cost: no statement list of the producer holds more than 8 of those
 *    stores (a register-blocked epilogue: inlining the body 16 times in a row
 *    spilled on Cortex-M4 and was slower than the separate pass);
 *  - the producer and the statements between it and the consumer neither
 *    read nor write Y, nor write any other buffer the consumer reads.
 * Then each producer store B[p] = v becomes the consumer body with i_k
 * replaced by its digit expression, the load of B by v (or a let of v when
 * B is loaded more than once) and fresh names for the body's lets. This is
 * repeated until nothing changes, so chains fuse.
 */
#include "passes.h"
#include "lopt_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXD 8
#define MAXLOOPS 32
#define MAX_STORES_PER_LIST 8

typedef struct Cons {
	int nd;
	int var[MAXD];
	int64_t lo[MAXD], d[MAXD];
	LStmtList *body;
	LStmt *store; /* the one store, to Y */
} Cons;

/* A perfect constant-bound nest with a flat body and one store. */
static int parse_consumer(LStmt *s, Cons *c)
{
	memset(c, 0, sizeof *c);
	while (s->kind == LS_FOR) {
		if (c->nd == MAXD || s->step != 1 || s->lo->kind != LE_CONST || s->hi->kind != LE_CONST)
			return -1;
		if (s->hi->ival <= s->lo->ival)
			return -1;
		c->var[c->nd] = s->var;
		c->lo[c->nd] = s->lo->ival;
		c->d[c->nd] = s->hi->ival - s->lo->ival;
		c->nd++;
		if (s->body.n == 1 && s->body.v[0]->kind == LS_FOR) {
			s = s->body.v[0];
			continue;
		}
		c->body = &s->body;
		break;
	}
	if (!c->body)
		return -1;
	for (int i = 0; i < c->body->n; i++) {
		LStmt *b = c->body->v[i];
		if (b->kind == LS_FOR || b->kind == LS_IF)
			return -1;
		if (b->kind == LS_STORE) {
			if (c->store)
				return -1;
			c->store = b;
		}
	}
	return c->store ? 0 : -1;
}

/* The affine form of idx over the consumer's loop vars, normalised to
 * digits 0..d-1 (constant includes Σ lo·stride). Checks that the strides
 * are a mixed radix (exact: s_sorted[k] = s_sorted[k+1]·d[k+1], smallest 1)
 * when exact, or just injective (s[k] >= s[k+1]·d[k+1]) otherwise.
 * strides[k] gets the stride of digit k. */
static int digit_form(const Cons *c, const LExpr *idx, int exact, int64_t *strides, int64_t *base)
{
	LAff a;
	if (laff_of(idx, &a) < 0)
		return -1;
	int64_t cst = a.c;
	for (int i = 0; i < a.n; i++) {
		int found = 0;
		for (int k = 0; k < c->nd; k++)
			if (c->var[k] == a.var[i])
				found = 1;
		if (!found)
			return -1;
	}
	int order[MAXD];
	for (int k = 0; k < c->nd; k++) {
		strides[k] = laff_coef(&a, c->var[k]);
		if (strides[k] <= 0)
			return -1;
		cst += strides[k] * c->lo[k];
		order[k] = k;
	}
	/* sort digit numbers by stride, descending */
	for (int i = 1; i < c->nd; i++)
		for (int j = i; j > 0 && strides[order[j]] > strides[order[j - 1]]; j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (int i = 0; i + 1 < c->nd; i++) {
		int64_t need = strides[order[i + 1]] * c->d[order[i + 1]];
		if (exact ? strides[order[i]] != need : strides[order[i]] < need)
			return -1;
	}
	if (exact && c->nd > 0 && strides[order[c->nd - 1]] != 1)
		return -1;
	*base = cst;
	return 0;
}

typedef struct Loop {
	int var;
	int64_t lo, hi, step;
} Loop;

typedef struct PStore {
	LStmt *s;
	LStmtList *list; /* the list holding it */
	int nloops;
	Loop loops[MAXLOOPS];
	LAff idx;
	LAff digit[MAXD]; /* consumer digit k (0-based, without lo) as affine in producer vars */
} PStore;

typedef struct Fz {
	LProgram *p;
	int B;
	PStore *st;
	int n, cap;
	int bad;
} Fz;

static void collect(Fz *z, LStmtList *l, Loop *loops, int nl, int in_if)
{
	for (int i = 0; i < l->n && !z->bad; i++) {
		LStmt *s = l->v[i];
		switch (s->kind) {
		case LS_FOR:
			if (!ls_writes_buf(z->p, s, z->B))
				break;
			if (nl == MAXLOOPS || s->lo->kind != LE_CONST || s->hi->kind != LE_CONST) {
				z->bad = 1;
				break;
			}
			loops[nl] = (Loop){s->var, s->lo->ival, s->hi->ival, s->step};
			collect(z, &s->body, loops, nl + 1, in_if);
			break;
		case LS_IF:
			if (ls_writes_buf(z->p, s, z->B))
				z->bad = 1;
			break;
		case LS_STORE:
			if (!lopt_alias(z->p, s->buf, z->B))
				break;
			if (s->buf != z->B || in_if) {
				z->bad = 1;
				break;
			}
			if (z->n == z->cap) {
				int nc = z->cap ? z->cap * 2 : 8;
				PStore *nv = realloc(z->st, (size_t)nc * sizeof *nv);
				if (!nv) {
					z->bad = 1;
					break;
				}
				z->st = nv;
				z->cap = nc;
			}
			PStore *ps = &z->st[z->n++];
			memset(ps, 0, sizeof *ps);
			ps->s = s;
			ps->list = l;
			ps->nloops = nl;
			memcpy(ps->loops, loops, (size_t)nl * sizeof *loops);
			if (laff_of(s->idx, &ps->idx) < 0)
				z->bad = 1;
			break;
		default:
			break;
		}
	}
}

/* Split producer store index into consumer digits (see the header). */
static int split_digits(const Cons *c, const int64_t *strides, int64_t base, PStore *ps)
{
	int64_t mn[MAXD] = {0}, mx[MAXD] = {0};
	for (int k = 0; k < c->nd; k++) {
		memset(&ps->digit[k], 0, sizeof ps->digit[k]);
	}
	for (int i = 0; i < ps->idx.n; i++) {
		int v = ps->idx.var[i];
		int64_t t = ps->idx.k[i];
		const Loop *L = NULL;
		for (int j = 0; j < ps->nloops; j++)
			if (ps->loops[j].var == v)
				L = &ps->loops[j];
		if (!L || t <= 0 || L->hi <= L->lo)
			return -1;
		int64_t vmin = L->lo, vmax = L->lo + (L->hi - 1 - L->lo) / L->step * L->step;
		/* the digit whose place contains t */
		int kk = -1;
		for (int k = 0; k < c->nd; k++)
			if (t >= strides[k] && t < strides[k] * c->d[k] && t % strides[k] == 0)
				kk = k;
		if (kk < 0)
			return -1;
		int64_t q = t / strides[kk];
		laff_add_term(&ps->digit[kk], v, q);
		mn[kk] += q * vmin;
		mx[kk] += q * vmax;
	}
	/* the flat position of the all-minimum instance, split into digits */
	int64_t flat = ps->idx.c - base;
	for (int k = 0; k < c->nd; k++)
		flat += mn[k] * strides[k];
	int64_t total = 1;
	for (int k = 0; k < c->nd; k++)
		total *= c->d[k];
	if (flat < 0 || flat >= total)
		return -1;
	for (int k = 0; k < c->nd; k++) {
		int64_t q = (flat / strides[k]) % c->d[k];
		int64_t ck = q - mn[k];
		ps->digit[k].c = ck;
		if (mn[k] + ck < 0 || mx[k] + ck >= c->d[k])
			return -1;
	}
	return 0;
}

/* Every element of the consumer's range written exactly once. */
static int covers_once(const Cons *c, Fz *z)
{
	int64_t total = 1;
	for (int k = 0; k < c->nd; k++)
		total *= c->d[k];
	unsigned char *seen = calloc((size_t)(total + 7) / 8, 1);
	if (!seen)
		return 0;
	int64_t count = 0;
	int ok = 1;
	for (int i = 0; i < z->n && ok; i++) {
		const PStore *ps = &z->st[i];
		int64_t it[MAXLOOPS];
		for (int j = 0; j < ps->nloops; j++) {
			it[j] = ps->loops[j].lo;
			if (ps->loops[j].hi <= ps->loops[j].lo)
				goto next; /* never runs */
		}
		for (;;) {
			/* row-major position in the consumer's own digit order */
			int64_t pos = 0;
			for (int k = 0; k < c->nd; k++) {
				int64_t dv = ps->digit[k].c;
				for (int t = 0; t < ps->digit[k].n; t++)
					for (int j = 0; j < ps->nloops; j++)
						if (ps->loops[j].var == ps->digit[k].var[t])
							dv += ps->digit[k].k[t] * it[j];
				pos = pos * c->d[k] + dv;
			}
			if (pos < 0 || pos >= total || (seen[pos >> 3] >> (pos & 7) & 1)) {
				ok = 0;
				break;
			}
			seen[pos >> 3] |= (unsigned char)(1u << (pos & 7));
			count++;
			int j = ps->nloops - 1;
			for (; j >= 0; j--) {
				it[j] += ps->loops[j].step;
				if (it[j] < ps->loops[j].hi)
					break;
				it[j] = ps->loops[j].lo;
			}
			if (j < 0)
				break;
		}
	next:;
	}
	free(seen);
	return ok && count == total;
}

/* Replace producer store ps by the consumer body. */
static int rewrite_store(LProgram *p, const Cons *c, int B, PStore *ps)
{
	int nv = p->n_vars;
	LExpr **vsub = calloc((size_t)nv + 1, sizeof *vsub);
	int *vmap = malloc(((size_t)nv + 1) * sizeof *vmap);
	LStmt **out = calloc((size_t)c->body->n + 2, sizeof *out);
	int rc = -1, n = 0;
	if (!vsub || !vmap || !out)
		goto done;
	for (int i = 0; i < nv; i++)
		vmap[i] = -1;
	for (int k = 0; k < c->nd; k++) {
		LAff a = ps->digit[k];
		a.c += c->lo[k];
		vsub[c->var[k]] = laff_expr(p, &a);
		if (!vsub[c->var[k]])
			goto done;
	}
	int loads = 0;
	for (int i = 0; i < c->body->n; i++) {
		const LStmt *s = c->body->v[i];
		loads += lx_count_loads(s->idx, B) + lx_count_loads(s->val, B);
	}
	LSubst sb = {vsub, vmap, B, ps->s->val, 0};
	LStmtList tmp = {NULL, 0, 0};
	if (loads > 1) {
		int t = loop_new_var(p, "f", p->bufs[B].type, 0);
		if (t < 0 || !ls_let(p, &tmp, t, ps->s->val))
			goto done;
		sb.lval = le_var(p, t);
		sb.lval_clone = 1;
		if (!sb.lval)
			goto done;
	}
	for (int i = 0; i < c->body->n; i++) {
		const LStmt *s = c->body->v[i];
		switch (s->kind) {
		case LS_LET: {
			char pre[40];
			const char *nm = p->vars[s->var].name;
			size_t j = 0;
			while (nm[j] && j < sizeof pre - 1 && !(nm[j] >= '0' && nm[j] <= '9'))
				pre[j] = nm[j], j++;
			pre[j] = 0;
			int v = loop_new_var(p, j ? pre : "v", p->vars[s->var].type, 0);
			if (v < 0)
				goto done;
			LExpr *val = lx_clone(p, s->val, &sb);
			vmap[s->var] = v; /* after the value: a let cannot use its own variable */
			if (!ls_let(p, &tmp, v, val))
				goto done;
			break;
		}
		case LS_SET:
			if (!ls_set(p, &tmp, vmap[s->var] >= 0 ? vmap[s->var] : s->var, lx_clone(p, s->val, &sb)))
				goto done;
			break;
		case LS_STORE: {
			LExpr *idx = lx_canon_index(p, lx_clone(p, s->idx, &sb));
			if (!ls_store(p, &tmp, s->buf, idx, lx_clone(p, s->val, &sb)))
				goto done;
			break;
		}
		default:
			goto done;
		}
	}
	/* vmap may have grown the var array: vsub/vmap are indexed by old vars only */
	for (int i = 0; i < tmp.n; i++)
		out[n++] = tmp.v[i];
	int k = -1;
	for (int i = 0; i < ps->list->n; i++)
		if (ps->list->v[i] == ps->s)
			k = i;
	if (k < 0)
		goto done;
	rc = lopt_list_replace(p, ps->list, k, out, n);
done:
	free(vsub);
	free(vmap);
	free(out);
	return rc;
}

static int reads_any_loaded(const LProgram *p, const LStmt *s, const Cons *c, int B, int writes)
{
	/* does s write (writes=1) any buffer other than B that the consumer loads? */
	for (int b = 0; b < p->n_bufs; b++) {
		if (b == B)
			continue;
		int loaded = 0;
		for (int i = 0; i < c->body->n && !loaded; i++)
			loaded = lx_loads_buf(c->body->v[i]->idx, b) || lx_loads_buf(c->body->v[i]->val, b);
		if (loaded && (writes ? ls_writes_buf(p, s, b) : ls_reads_buf(p, s, b)))
			return 1;
	}
	return 0;
}

static const char *join_labels(LProgram *p, const char *a, const char *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	size_t n = strlen(a) + strlen(b) + 4;
	char *s = malloc(n);
	if (!s)
		return a;
	snprintf(s, n, "%s + %s", a, b);
	const char *r = loop_strdup(p, s);
	free(s);
	return r ? r : a;
}

/* Try to fuse consumer j through buffer B; 1 fused, 0 not, -1 error. */
static int try_fuse(LProgram *p, int j, const Cons *c, int B)
{
	LStmtList *top = &p->body;
	const LBuf *Bb = &p->bufs[B];
	int Y = c->store->buf;
	if (Bb->kind != LB_ARENA || lopt_alias(p, Y, B))
		return 0;
	/* all loads of B: one index, mixed radix */
	const LExpr *ib = NULL;
	for (int i = 0; i < c->body->n; i++) {
		const LStmt *s = c->body->v[i];
		if (lx_loads_buf(s->idx, B))
			return 0;
		/* find every load of B in s->val */
		const LExpr *stack[256];
		int sp = 0;
		if (s->val)
			stack[sp++] = s->val;
		while (sp) {
			const LExpr *e = stack[--sp];
			if (e->kind == LE_LOAD && e->buf == B) {
				if (lx_loads_buf(e->a, B))
					return 0;
				if (!ib)
					ib = e->a;
				else if (!lx_equal(ib, e->a))
					return 0;
				continue;
			}
			if (sp > 250)
				return 0;
			if (e->a)
				stack[sp++] = e->a;
			if (e->b)
				stack[sp++] = e->b;
			if (e->c)
				stack[sp++] = e->c;
		}
	}
	if (!ib)
		return 0;
	int64_t sB[MAXD], sY[MAXD], baseB, baseY;
	if (digit_form(c, ib, 1, sB, &baseB) < 0 || digit_form(c, c->store->idx, 0, sY, &baseY) < 0)
		return 0;
	/* the one producer, and nobody else touching B */
	int prod = -1;
	for (int i = 0; i < top->n; i++) {
		if (i == j)
			continue;
		if (ls_writes_buf(p, top->v[i], B)) {
			if (prod >= 0 || i > j)
				return 0;
			prod = i;
		}
		if (ls_reads_buf(p, top->v[i], B))
			return 0;
	}
	if (prod < 0)
		return 0;
	/* nothing in prod..j-1 touches Y or writes what the consumer reads */
	for (int i = prod; i < j; i++) {
		const LStmt *s = top->v[i];
		if (ls_reads_buf(p, s, Y) || ls_writes_buf(p, s, Y) || reads_any_loaded(p, s, c, B, 1))
			return 0;
		if (i > prod && ls_writes_buf(p, s, B))
			return 0;
	}
	Fz z = {p, B, NULL, 0, 0, 0};
	Loop loops[MAXLOOPS];
	LStmtList one = {&top->v[prod], 1, 1};
	collect(&z, &one, loops, 0, 0);
	int ok = !z.bad && z.n > 0;
	/* cost rule: a register-blocked epilogue (many stores of B in one
	 * straight-line list, e.g. 16 accumulators of a blocked Linear) would get
	 * the consumer body that many times in a row; the extra loads and
	 * addresses spill on Cortex-M4 (FCAutoencoder: 0.6% more instructions) */
	for (int i = 0; ok && i < z.n; i++) {
		int same = 0;
		for (int k = 0; k < z.n; k++)
			same += z.st[k].list == z.st[i].list;
		if (same > MAX_STORES_PER_LIST)
			ok = 0;
	}
	for (int i = 0; ok && i < z.n; i++)
		ok = split_digits(c, sB, baseB, &z.st[i]) == 0;
	ok = ok && covers_once(c, &z);
	int rc = 0;
	if (ok) {
		for (int i = 0; i < z.n && rc == 0; i++)
			if (rewrite_store(p, c, B, &z.st[i]) < 0)
				rc = -1;
		if (rc == 0) {
			top->v[prod]->label = join_labels(p, top->v[prod]->label, top->v[j]->label);
			lopt_list_remove(top, j);
			rc = 1;
		}
	}
	free(z.st);
	return rc;
}

int loop_pass_fuse(LProgram *p, const LoopPassCtx *ctx, Diag *d)
{
	(void)ctx;
	int changed = 1, nfused = 0;
	while (changed) {
		changed = 0;
		for (int j = 1; j < p->body.n && !changed; j++) {
			Cons c;
			if (parse_consumer(p->body.v[j], &c) < 0)
				continue;
			for (int B = 0; B < p->n_bufs && !changed; B++) {
				int loaded = 0;
				for (int i = 0; i < c.body->n && !loaded; i++)
					loaded = lx_loads_buf(c.body->v[i]->val, B);
				if (!loaded)
					continue;
				int r = try_fuse(p, j, &c, B);
				if (r < 0) {
					diag_add(d, "fuse: out of memory");
					return -1;
				}
				if (r > 0) {
					changed = 1;
					nfused++;
				}
			}
		}
	}
	if (nfused)
		lopt_liveness(p);
	return 0;
}
