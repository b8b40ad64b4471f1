/* drop-layer — remove layers whose removal keeps every shape valid.
 *
 * requires: model_infer done.
 * Candidates (gopt_drop_candidates):
 *   - a layer whose output has the shape and datatype of its first input
 *     (activations, BatchNorm, a C→C 'same' Conv, a square Linear, Dropout):
 *     its readers read its input instead;
 *   - a residual add y = s + f(s): y becomes s, and the branch f — the
 *     layers only it reads — disappears (named by the '+'); with a
 *     projection shortcut, y = g(s) + f(s) where g is one layer with
 *     constant weights (ResNet's 1×1 conv), y becomes g(s).
 * provides: the layers gone, dead layers and tensors dropped, model_infer
 *   re-run. A removed layer that wrote the block's Y: its producer writes Y
 *   instead, or an '=' (a free view in the lowering) when the input is X or
 *   read elsewhere.
 * auto=k: the k candidates with the smallest accuracy loss on the --calib
 *   data, each measured alone on a copy of the model (gopt_rank_drop).
 */
#include "gopt.h"

#include <stdlib.h>
#include <string.h>

static int producer(const Block *b, int t)
{
	for (int i = 0; i < b->n_nodes; i++)
		if (b->nodes[i].out == t)
			return i;
	return -1;
}

/* Is tensor a computed (transitively) from tensor s inside the block? */
static int depends_on(const Block *b, int a, int s, int depth)
{
	if (a == s)
		return 1;
	if (depth > 10000)
		return 0;
	int p = producer(b, a);
	if (p < 0)
		return 0;
	for (int k = 0; k < b->nodes[p].n_in; k++)
		if (!b->tensors[b->nodes[p].in[k]].data && depends_on(b, b->nodes[p].in[k], s, depth + 1))
			return 1;
	return 0;
}

static int same_shape(const Tensor *x, const Tensor *y)
{
	return x->rank == y->rank && x->dtype == y->dtype &&
	       memcmp(x->shape, y->shape, (size_t)x->rank * sizeof x->shape[0]) == 0;
}

/* The candidate kind of node ni: 0 none, 1 shape-preserving, 2 residual add.
 * For 2, *skip gets the input that stays. */
static int candidate(const Block *b, int ni, int *skip)
{
	const Node *n = &b->nodes[ni];
	if (n->n_in < 1)
		return 0;
	const Tensor *x = &b->tensors[n->in[0]], *y = &b->tensors[n->out];
	if (n->op == OP_ADD && n->n_in == 2) {
		int a0 = n->in[0], a1 = n->in[1];
		if (b->tensors[a0].data || b->tensors[a1].data)
			return 0;
		if (!same_shape(&b->tensors[a0], y) || !same_shape(&b->tensors[a1], y))
			return 0;
		if (depends_on(b, a1, a0, 0) && a1 != a0) {
			*skip = a0;
			return 2;
		}
		if (depends_on(b, a0, a1, 0) && a1 != a0) {
			*skip = a1;
			return 2;
		}
		/* projection shortcut: y = g(s) + f(s) with g one layer on constant
		 * weights (a strided 1×1 conv in ResNets): y becomes g(s) */
		for (int k = 1; k >= 0; k--) {
			int g = producer(b, n->in[k]), other = n->in[1 - k];
			if (g < 0 || b->nodes[g].n_in < 2 || (op_info(b->nodes[g].op)->flags & OPF_DIRECT))
				continue;
			const Node *gn = &b->nodes[g];
			int s = gn->in[0], consts = 1;
			for (int j = 1; j < gn->n_in; j++)
				consts &= b->tensors[gn->in[j]].data != NULL;
			if (consts && !b->tensors[s].data && depends_on(b, other, s, 0) && other != s) {
				*skip = n->in[k];
				return 2;
			}
		}
		return 0;
	}
	if (op_info(n->op)->flags & OPF_DIRECT)
		return 0;
	if (x->data || !same_shape(x, y))
		return 0;
	for (int k = 1; k < n->n_in; k++) /* other inputs must be constants (weights) */
		if (!b->tensors[n->in[k]].data)
			return 0;
	return 1;
}

int gopt_drop_candidates(const Model *m, DropCand **out, int *n)
{
	*out = NULL;
	*n = 0;
	for (int bi = 0; bi < m->n_blocks; bi++) {
		const Block *b = &m->blocks[bi];
		for (int ni = 0; ni < b->n_nodes; ni++) {
			int skip = -1, k = candidate(b, ni, &skip);
			if (!k || b->nodes[ni].op == OP_IDENTITY || b->nodes[ni].op == OP_DROPOUT || b->nodes[ni].op == OP_ASSIGN)
				continue; /* views cost nothing: not worth a row */
			DropCand *p = realloc(*out, (size_t)(*n + 1) * sizeof *p);
			if (!p)
				return -1;
			*out = p;
			p[*n].bi = bi;
			p[*n].ni = ni;
			p[*n].residual = k == 2;
			snprintf(p[*n].name, sizeof p[*n].name, "%s", gopt_node_name(b, &b->nodes[ni]));
			(*n)++;
		}
	}
	return 0;
}

/* Remove node ni of block bi (a candidate). 0 or -1 (out of memory). */
static int drop_one(Model *m, int bi, int ni)
{
	Block *b = &m->blocks[bi];
	int skip = -1, kind = candidate(b, ni, &skip);
	Node *n = &b->nodes[ni];
	int x = kind == 2 ? skip : n->in[0], y = n->out;
	if (y != b->y) {
		gopt_replace_uses(b, y, x);
		gopt_remove_node(b, ni);
		return gopt_compact(b);
	}
	int p = producer(b, x), cons[2];
	if (p >= 0 && gopt_consumers(b, x, cons, 2) == 1) {
		b->nodes[p].out = y; /* the producer writes Y itself */
		gopt_remove_node(b, ni);
		return gopt_compact(b);
	}
	/* Y = x as a view */
	n->op = OP_ASSIGN;
	memset(n->attrs, 0, sizeof n->attrs);
	memset(n->attr_given, 0, sizeof n->attr_given);
	n->in_is_list = 0;
	if (gopt_set_inputs(n, 1, &x) < 0)
		return -1;
	return gopt_compact(b);
}

static int block_clone(Block *dst, const Block *src)
{
	*dst = *src;
	dst->name = NULL;
	dst->tensors = NULL;
	dst->nodes = NULL;
	dst->n_tensors = dst->n_nodes = dst->cap_tensors = dst->cap_nodes = 0;
	if (src->name && !(dst->name = nnl_strdup(src->name)))
		return -1;
	dst->tensors = nnl_calloc((size_t)(src->n_tensors ? src->n_tensors : 1), sizeof *dst->tensors);
	dst->nodes = nnl_calloc((size_t)(src->n_nodes ? src->n_nodes : 1), sizeof *dst->nodes);
	if (!dst->tensors || !dst->nodes)
		return -1;
	dst->cap_tensors = src->n_tensors ? src->n_tensors : 1;
	dst->cap_nodes = src->n_nodes ? src->n_nodes : 1;
	for (int i = 0; i < src->n_tensors; i++) {
		const Tensor *s = &src->tensors[i];
		Tensor *t = &dst->tensors[i];
		*t = *s;
		t->name = NULL;
		t->data = NULL;
		t->data_path = NULL;
		t->quant = NULL;
		dst->n_tensors++;
		if (!(t->name = nnl_strdup(s->name)))
			return -1;
		if (s->data_path && !(t->data_path = nnl_strdup(s->data_path)))
			return -1;
		if (s->data) {
			if (!(t->data = nnl_malloc((size_t)s->nbytes)))
				return -1;
			memcpy(t->data, s->data, (size_t)s->nbytes);
		}
		if (s->quant) {
			Quant *q = nnl_calloc(1, sizeof *q);
			if (!q)
				return -1;
			t->quant = q;
			*q = *s->quant;
			q->scale = nnl_malloc((size_t)q->n * sizeof *q->scale);
			q->zero_point = nnl_malloc((size_t)q->n * sizeof *q->zero_point);
			if (!q->scale || !q->zero_point)
				return -1;
			memcpy(q->scale, s->quant->scale, (size_t)q->n * sizeof *q->scale);
			memcpy(q->zero_point, s->quant->zero_point, (size_t)q->n * sizeof *q->zero_point);
		}
	}
	for (int i = 0; i < src->n_nodes; i++) {
		const Node *s = &src->nodes[i];
		Node *n = &dst->nodes[i];
		*n = *s;
		n->id = NULL;
		n->in = NULL;
		dst->n_nodes++;
		if (s->id && !(n->id = nnl_strdup(s->id)))
			return -1;
		if (gopt_set_inputs(n, s->n_in, s->in) < 0)
			return -1;
	}
	return 0;
}

Model *gopt_model_clone(const Model *src)
{
	Model *m = nnl_calloc(1, sizeof *m);
	if (!m)
		return NULL;
	*m = *src;
	m->name = m->path = NULL;
	m->blocks = NULL;
	m->n_blocks = 0;
	if ((src->name && !(m->name = nnl_strdup(src->name))) || (src->path && !(m->path = nnl_strdup(src->path))))
		goto fail;
	m->blocks = nnl_calloc((size_t)src->n_blocks, sizeof *m->blocks);
	if (!m->blocks)
		goto fail;
	for (int i = 0; i < src->n_blocks; i++) {
		m->n_blocks++;
		if (block_clone(&m->blocks[i], &src->blocks[i]) < 0)
			goto fail;
	}
	return m;
fail:
	model_free(m);
	return NULL;
}

int gopt_rank_drop(const Model *m, const GoptData *data, DropCand **cands, int *n, double *base, Diag *d)
{
	if (gopt_drop_candidates(m, cands, n) < 0) {
		diag_add(d, "drop-layer: out of memory");
		return -1;
	}
	if ((*base = gopt_eval_accuracy(m, data, d)) < 0)
		return -1;
	for (int i = 0; i < *n; i++) {
		DropCand *c = &(*cands)[i];
		Model *cp = gopt_model_clone(m);
		if (!cp || drop_one(cp, c->bi, c->ni) < 0) {
			model_free(cp);
			diag_add(d, "drop-layer: out of memory");
			return -1;
		}
		c->params = model_param_count(m) - model_param_count(cp);
		c->macs = gopt_model_macs(m) - gopt_model_macs(cp);
		c->acc = gopt_refresh(cp, d) < 0 ? -1 : gopt_eval_accuracy(cp, data, d);
		model_free(cp);
		if (c->acc < 0)
			return -1;
	}
	return 0;
}

static int cmp_loss(const void *a, const void *b)
{
	const DropCand *p = a, *q = b;
	return p->acc != q->acc ? (p->acc > q->acc ? -1 : 1) : (p->bi != q->bi ? p->bi - q->bi : p->ni - q->ni);
}

static int cmp_pos_desc(const void *a, const void *b)
{
	const DropCand *p = a, *q = b;
	return p->bi != q->bi ? q->bi - p->bi : q->ni - p->ni;
}

int gpass_drop_layer(Model *m, const PassArgs *a, PassReport *r, Diag *d)
{
	const PassArg *layers = pass_arg(a, "layers"), *au = pass_arg(a, "auto");
	if (layers->set == au->set) {
		diag_add(d, "drop-layer: give layers=NAME,... or auto=K (%s)", layers->set ? "not both" : "neither was given");
		return -1;
	}
	if (gopt_check_names(m, a, "layers", d) < 0)
		return -1;
	DropCand *c = NULL, *pick = NULL;
	int nc = 0, np = 0, rc = -1;
	double base = 0;
	if (au->set) {
		if (au->i < 1) {
			diag_add(d, "drop-layer(auto=%lld): expected at least 1", (long long)au->i);
			return -1;
		}
		if (gopt_rank_drop(m, a->data, &c, &nc, &base, d) < 0)
			goto out;
		if (au->i > nc) {
			diag_add(d, "drop-layer(auto=%lld): the model has only %d removable layers", (long long)au->i, nc);
			goto out;
		}
		qsort(c, (size_t)nc, sizeof *c, cmp_loss);
		pick = c;
		np = (int)au->i;
	} else {
		if (gopt_drop_candidates(m, &c, &nc) < 0) {
			diag_add(d, "drop-layer: out of memory");
			goto out;
		}
		pick = nnl_calloc((size_t)layers->n_names, sizeof *pick);
		if (!pick)
			goto out;
		for (int i = 0; i < layers->n_names; i++) {
			int found = -1;
			for (int k = 0; k < nc; k++)
				if (strcmp(c[k].name, layers->names[i]) == 0)
					found = k;
			if (found < 0) {
				int bi, ni;
				gopt_find_layer(m, layers->names[i], &bi, &ni);
				const Block *b = &m->blocks[bi];
				const Node *n = &b->nodes[ni];
				char s1[128], s2[128];
				diag_add(d, "%s: drop-layer: '%s' (%s) cannot be removed: its output %s differs from its input %s "
				         "and it is not a residual '+'", m->path ? m->path : "<model>", layers->names[i],
				         op_info(n->op)->name,
				         shape_str(b->tensors[n->out].rank, b->tensors[n->out].shape, s1, sizeof s1),
				         shape_str(b->tensors[n->in[0]].rank, b->tensors[n->in[0]].shape, s2, sizeof s2));
				goto out;
			}
			pick[np++] = c[found];
		}
	}
	/* remove from the last position backwards so earlier indices stay valid;
	 * a layer already gone with an earlier residual branch is reported so */
	DropCand *ord = nnl_malloc((size_t)(np ? np : 1) * sizeof *ord);
	if (!ord)
		goto out;
	memcpy(ord, pick, (size_t)np * sizeof *ord);
	qsort(ord, (size_t)np, sizeof *ord, cmp_pos_desc);
	for (int i = 0; i < np; i++) {
		int bi, ni;
		if (gopt_find_layer(m, ord[i].name, &bi, &ni) < 0) {
			report_add(r, "drop-layer", ord[i].name, "skipped", 0, 0, 0, 0, 0, "already removed with a residual branch");
			continue;
		}
		int64_t p0 = model_param_count(m), mac0 = gopt_model_macs(m);
		int skip;
		if (!candidate(&m->blocks[bi], ni, &skip)) {
			report_add(r, "drop-layer", ord[i].name, "skipped", p0, p0, 0, mac0, mac0,
			           "no longer shape-preserving after the other removals");
			continue;
		}
		if (drop_one(m, bi, ni) < 0) {
			free(ord);
			diag_add(d, "drop-layer: out of memory");
			goto out;
		}
		int64_t p1 = model_param_count(m), mac1 = gopt_model_macs(m);
		if (au->set)
			report_add(r, "drop-layer", ord[i].name, "removed", p0, p1, gopt_model_nnz(m), mac0, mac1,
			           "%s; alone: accuracy %.4f -> %.4f", ord[i].residual ? "residual branch" : "layer", base,
			           ord[i].acc);
		else
			report_add(r, "drop-layer", ord[i].name, "removed", p0, p1, gopt_model_nnz(m), mac0, mac1, "%s",
			           ord[i].residual ? "residual branch -> its shortcut" : "layer");
	}
	free(ord);
	rc = gopt_refresh(m, d);
out:
	if (pick != c)
		free(pick);
	free(c);
	return rc;
}
