/* prune — magnitude pruning of Conv1d/Conv2d/Linear weights.
 *
 * requires: a model on which model_infer succeeded.
 *
 * unstructured (default): in each selected layer (scope=layer) the
 *   round(s·numel) weights of smallest |w| become exactly 0 (ties: lower
 *   index first); scope=global ranks all selected weights together. Biases
 *   are never pruned. Shapes do not change: the zeros pay off when the
 *   lowering stores the layer sparsely (codegen/lower_sparse.c).
 *
 * structured: in each selected layer the floor(s·O) output channels
 *   (neurons) of smallest L1 (or L2) weight norm are removed physically:
 *   rows of the weight and bias, and, following the channel axis (axis 1)
 *   forward through channel-wise ops (activations, pools, BatchNorm, PReLU,
 *   Dropout/Identity) and across block boundaries, the matching inputs of
 *   the consumers: a Conv's input channels, BatchNorm/PReLU parameters, a
 *   Linear's columns (after a Flatten: blocks of H·W columns per channel).
 *   A layer whose channels reach anything else — a residual '+', a Concat,
 *   a Reshape, the model output — is skipped with the reason (pruning both
 *   sides of a residual add consistently is not done).
 *
 * provides: model_infer re-run; block headers updated where a pruned
 *   channel axis crosses a block boundary.
 */
#include "gopt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int prunable(const Block *b, const Node *n)
{
	return (n->op == OP_LINEAR || n->op == OP_CONV1D || n->op == OP_CONV2D) && n->n_in > 1 &&
	       b->tensors[n->in[1]].data && dtype_is_float(b->tensors[n->in[1]].dtype);
}

typedef struct Mag {
	float a;
	int64_t i; /* global index (layer-major) */
} Mag;

static int cmp_mag(const void *x, const void *y)
{
	const Mag *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return p->i < q->i ? -1 : p->i > q->i;
}

/* ---- unstructured --------------------------------------------------------------- */

typedef struct Sel {
	int bi, ni;
	int64_t off, n;
} Sel;

static int unstructured(Model *m, const PassArgs *a, Sel *sel, int nsel, PassReport *r, Diag *d)
{
	double s = pass_arg(a, "sparsity")->f;
	int global = strcmp(pass_arg(a, "scope")->s, "global") == 0;
	int64_t total = 0;
	for (int i = 0; i < nsel; i++) {
		sel[i].off = total;
		sel[i].n = tensor_numel(&m->blocks[sel[i].bi].tensors[m->blocks[sel[i].bi].nodes[sel[i].ni].in[1]]);
		total += sel[i].n;
	}
	int64_t *p0 = nnl_calloc((size_t)nsel + 1, sizeof *p0), *nz0 = nnl_calloc((size_t)nsel + 1, sizeof *nz0);
	Mag *mg = nnl_malloc((size_t)(total ? total : 1) * sizeof *mg);
	if (!mg || !p0 || !nz0) {
		free(mg);
		free(p0);
		free(nz0);
		diag_add(d, "prune: out of memory");
		return -1;
	}
	for (int i = 0; i < nsel; i++) {
		Block *b = &m->blocks[sel[i].bi];
		const Tensor *w = &b->tensors[b->nodes[sel[i].ni].in[1]];
		p0[i] = gopt_node_params(b, &b->nodes[sel[i].ni]);
		nz0[i] = gopt_node_nnz(b, &b->nodes[sel[i].ni]);
		for (int64_t k = 0; k < sel[i].n; k++) {
			mg[sel[i].off + k].a = (float)fabs(dtype_get(w->dtype, w->data, k));
			mg[sel[i].off + k].i = sel[i].off + k;
		}
	}
	if (global) {
		qsort(mg, (size_t)total, sizeof *mg, cmp_mag);
		int64_t kz = (int64_t)floor(s * (double)total + 0.5);
		for (int64_t z = 0; z < kz; z++) {
			int i = 0;
			while (i + 1 < nsel && sel[i + 1].off <= mg[z].i)
				i++;
			Block *b = &m->blocks[sel[i].bi];
			Tensor *w = &b->tensors[b->nodes[sel[i].ni].in[1]];
			dtype_set(w->dtype, w->data, mg[z].i - sel[i].off, 0.0);
		}
	} else {
		for (int i = 0; i < nsel; i++) {
			qsort(mg + sel[i].off, (size_t)sel[i].n, sizeof *mg, cmp_mag);
			int64_t kz = (int64_t)floor(s * (double)sel[i].n + 0.5);
			Block *b = &m->blocks[sel[i].bi];
			Tensor *w = &b->tensors[b->nodes[sel[i].ni].in[1]];
			for (int64_t z = 0; z < kz; z++)
				dtype_set(w->dtype, w->data, mg[sel[i].off + z].i - sel[i].off, 0.0);
		}
	}
	for (int i = 0; i < nsel; i++) {
		Block *b = &m->blocks[sel[i].bi];
		Node *n = &b->nodes[sel[i].ni];
		const Tensor *w = &b->tensors[n->in[1]];
		int64_t nz = gopt_node_nnz(b, n), mac = gopt_node_macs(b, n);
		int64_t wz = 0;
		for (int64_t k = 0; k < sel[i].n; k++)
			wz += dtype_get(w->dtype, w->data, k) == 0.0;
		report_add(r, "prune", gopt_node_name(b, n), "pruned", p0[i], p0[i], nz, mac, mac,
		           "weight sparsity %.4f (%lld of %lld zero; nonzero params %lld -> %lld)",
		           sel[i].n ? (double)wz / (double)sel[i].n : 0.0, (long long)wz, (long long)sel[i].n,
		           (long long)nz0[i], (long long)nz);
	}
	free(mg);
	free(p0);
	free(nz0);
	return 0;
}

/* ---- structured ------------------------------------------------------------------ */

/* Keep the entries of a constant along axis, in groups of g consecutive
 * indices per channel: keep[c] for c < nch, axis length nch·g. */
static int slice_const(Tensor *t, int axis, const char *keep, int64_t nch, int64_t g)
{
	int64_t outer = shape_numel(axis, t->shape), inner = shape_numel(t->rank - axis - 1, t->shape + axis + 1);
	int64_t kept = 0;
	for (int64_t c = 0; c < nch; c++)
		kept += keep[c] != 0;
	int64_t esz = dtype_bits(t->dtype) / 8;
	int64_t nb = outer * kept * g * inner * esz;
	unsigned char *nd = nnl_malloc((size_t)(nb ? nb : 1)), *od = t->data;
	if (!nd)
		return -1;
	int64_t w = 0;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t c = 0; c < nch; c++) {
			if (!keep[c])
				continue;
			size_t len = (size_t)(g * inner * esz);
			memcpy(nd + w, od + ((o * nch + c) * g * inner) * esz, len);
			w += (int64_t)len;
		}
	free(t->data);
	t->data = nd;
	t->nbytes = nb;
	t->shape[axis] = kept * g;
	return 0;
}

typedef struct Walk {
	Model *m;
	const char *keep;
	int64_t nch;
	int apply;
	char why[256];
	int oom;
} Walk;

/* Channels of tensor t of block bi (axis 1, g entries per channel) are being
 * removed: adjust every reader. 0, or -1 with W->why when not possible. */
static int walk(Walk *W, int bi, int t, int64_t g, const char *origin)
{
	Block *b = &W->m->blocks[bi];
	if (t == b->y) {
		if (bi == W->m->n_blocks - 1) {
			snprintf(W->why, sizeof W->why, "its channels reach the model output");
			return -1;
		}
		Block *nb = &W->m->blocks[bi + 1];
		if (W->apply) {
			int64_t kept = 0;
			for (int64_t c = 0; c < W->nch; c++)
				kept += W->keep[c] != 0;
			b->out_shape[1] = kept * g;
			nb->in_shape[1] = kept * g;
		}
		if (walk(W, bi + 1, nb->x, g, origin) < 0)
			return -1;
	}
	for (int i = 0; i < b->n_nodes; i++) {
		Node *n = &b->nodes[i];
		int pos = -1;
		for (int k = 0; k < n->n_in; k++)
			if (n->in[k] == t)
				pos = pos < 0 ? k : pos;
		if (pos < 0)
			continue;
		const char *name = gopt_node_name(b, n);
		const OpInfo *oi = op_info(n->op);
		const Tensor *x = &b->tensors[t];
		if (pos != 0) {
			snprintf(W->why, sizeof W->why, "its channels are input %d of '%s' (%s)", pos, name, oi->name);
			return -1;
		}
		switch (n->op) {
		case OP_RELU: case OP_RELU6: case OP_LEAKYRELU: case OP_SIGMOID: case OP_TANH: case OP_HARDSWISH:
		case OP_HARDSIGMOID: case OP_SILU: case OP_GELU: case OP_CLIP: case OP_IDENTITY: case OP_DROPOUT:
		case OP_ASSIGN: case OP_MAXPOOL1D: case OP_MAXPOOL2D: case OP_AVGPOOL1D: case OP_AVGPOOL2D:
		case OP_ADAPTIVEAVGPOOL1D: case OP_ADAPTIVEAVGPOOL2D:
			if (n->op >= OP_MAXPOOL1D && n->op <= OP_ADAPTIVEAVGPOOL2D && g != 1)
				goto other;
			if (walk(W, bi, n->out, g, origin) < 0)
				return -1;
			break;
		case OP_BATCHNORM1D: case OP_BATCHNORM2D: case OP_PRELU:
			if (g != 1)
				goto other;
			for (int k = 1; k < n->n_in; k++) {
				Tensor *p = &b->tensors[n->in[k]];
				if (!p->data) {
					snprintf(W->why, sizeof W->why, "'%s' (%s) has a computed parameter", name, oi->name);
					return -1;
				}
				if (n->op == OP_PRELU && tensor_numel(p) == 1)
					continue;
				if (p->rank != 1 || p->shape[0] != W->nch) {
					snprintf(W->why, sizeof W->why, "'%s' (%s) has parameters of an unexpected shape", name,
					         oi->name);
					return -1;
				}
				if (W->apply && slice_const(p, 0, W->keep, W->nch, 1) < 0)
					return W->oom = 1, -1;
			}
			if (walk(W, bi, n->out, g, origin) < 0)
				return -1;
			break;
		case OP_CONV1D: case OP_CONV2D: {
			Tensor *w = &b->tensors[n->in[1]];
			if (g != 1 || !w->data || node_attr(n, "groups")->i[0] != 1) {
				snprintf(W->why, sizeof W->why, "'%s' (%s) is grouped or has computed weights", name, oi->name);
				return -1;
			}
			if (W->apply && slice_const(w, 1, W->keep, W->nch, 1) < 0)
				return W->oom = 1, -1;
			break;
		}
		case OP_LINEAR: {
			Tensor *w = &b->tensors[n->in[1]];
			if (!w->data || x->rank != 2) {
				snprintf(W->why, sizeof W->why, "'%s' (Linear) reads the channels on its %s", name,
				         w->data ? "non-feature axis" : "computed weight");
				return -1;
			}
			if (W->apply && slice_const(w, 1, W->keep, W->nch, g) < 0)
				return W->oom = 1, -1;
			break;
		}
		case OP_FLATTEN: {
			int64_t sd = node_attr(n, "start_dim")->i[0], ed = node_attr(n, "end_dim")->i[0];
			if (sd < 0)
				sd += x->rank;
			if (ed < 0)
				ed += x->rank;
			if (ed >= 1 && (sd != 1 || ed != x->rank - 1)) {
				snprintf(W->why, sizeof W->why, "'%s' (Flatten) merges the channel axis with others than the "
				         "trailing spatial ones", name);
				return -1;
			}
			if (ed < 1) { /* Flatten(start 0, end 0): a no-op for the channel axis */
				if (walk(W, bi, n->out, g, origin) < 0)
					return -1;
				break;
			}
			int64_t inner = shape_numel(x->rank - 2, x->shape + 2);
			if (walk(W, bi, n->out, g * inner, origin) < 0)
				return -1;
			break;
		}
		default:
		other:
			snprintf(W->why, sizeof W->why, "its channels feed '%s' (%s)%s", name, oi->name,
			         n->op == OP_ADD ? ", a residual add: both branches would have to be pruned alike" : "");
			return -1;
		}
	}
	return 0;
}

static int structured_one(Model *m, int bi, int ni, double s, int l2, int named, PassReport *r, Diag *d)
{
	Block *b = &m->blocks[bi];
	Node *n = &b->nodes[ni];
	char lname[256];
	snprintf(lname, sizeof lname, "%s", gopt_node_name(b, n));
	Tensor *w = &b->tensors[n->in[1]];
	int64_t O = w->shape[0], per = shape_numel(w->rank - 1, w->shape + 1);
	if (n->op != OP_LINEAR && node_attr(n, "groups")->i[0] != 1) {
		if (named) {
			diag_add(d, "prune: '%s' is a grouped convolution; structured pruning handles groups = 1", lname);
			return -1;
		}
		report_add(r, "prune", lname, "skipped", 0, 0, 0, 0, 0, "grouped convolution");
		return 0;
	}
	int64_t kz = (int64_t)floor(s * (double)O);
	if (kz >= O)
		kz = O - 1;
	char *keep = nnl_malloc((size_t)O);
	Mag *mg = nnl_malloc((size_t)O * sizeof *mg);
	if (!keep || !mg) {
		free(keep);
		free(mg);
		diag_add(d, "prune: out of memory");
		return -1;
	}
	for (int64_t o = 0; o < O; o++) {
		double acc = 0;
		for (int64_t k = 0; k < per; k++) {
			double v = dtype_get(w->dtype, w->data, o * per + k);
			acc += l2 ? v * v : fabs(v);
		}
		mg[o].a = (float)(l2 ? sqrt(acc) : acc);
		mg[o].i = o;
		keep[o] = 1;
	}
	qsort(mg, (size_t)O, sizeof *mg, cmp_mag);
	for (int64_t z = 0; z < kz; z++)
		keep[mg[z].i] = 0;
	free(mg);
	/* the parameters and MACs of everything touched: measured on the whole model */
	int64_t p0 = model_param_count(m), mac0 = gopt_model_macs(m);
	Walk W = {m, keep, O, 0, "", 0};
	int rc = 0;
	if (kz == 0) {
		report_add(r, "prune", lname, "skipped", p0, p0, 0, mac0, mac0, "floor(%g x %lld) = 0 channels to remove",
		           s, (long long)O);
		goto out;
	}
	if (walk(&W, bi, n->out, 1, lname) < 0) {
		if (named) {
			diag_add(d, "%s: prune: cannot remove output channels of '%s': %s", m->path ? m->path : "<model>",
			         lname, W.why);
			rc = -1;
		} else {
			report_add(r, "prune", lname, "skipped", p0, p0, 0, mac0, mac0, "%s", W.why);
		}
		goto out;
	}
	W.apply = 1;
	if (slice_const(w, 0, keep, O, 1) < 0 || (n->n_in > 2 && slice_const(&b->tensors[n->in[2]], 0, keep, O, 1) < 0) ||
	    walk(&W, bi, n->out, 1, lname) < 0) {
		diag_add(d, "prune: out of memory");
		rc = -1;
		goto out;
	}
	if (gopt_refresh(m, d) < 0) {
		rc = -1;
		goto out;
	}
	int64_t p1 = model_param_count(m), mac1 = gopt_model_macs(m);
	report_add(r, "prune", lname, "pruned", p0, p1, p1, mac0, mac1,
	           "%lld of %lld output channels removed (%s norm); params/MACs are the whole model's",
	           (long long)kz, (long long)O, l2 ? "L2" : "L1");
out:
	free(keep);
	return rc;
}

int gpass_prune(Model *m, const PassArgs *a, PassReport *r, Diag *d)
{
	const PassArg *sp = pass_arg(a, "sparsity");
	const char *mode = pass_arg(a, "mode")->s, *scope = pass_arg(a, "scope")->s, *norm = pass_arg(a, "norm")->s;
	if (!sp->set) {
		diag_add(d, "prune: sparsity= is required (a fraction in [0, 1), e.g. prune(sparsity=0.5))");
		return -1;
	}
	if (!(sp->f >= 0 && sp->f < 1)) {
		diag_add(d, "prune(sparsity=%g): sparsity must be in [0, 1)", sp->f);
		return -1;
	}
	int structured = strcmp(mode, "structured") == 0;
	if (!structured && strcmp(mode, "unstructured") != 0) {
		diag_add(d, "prune(mode=%s): expected unstructured or structured", mode);
		return -1;
	}
	if (strcmp(scope, "layer") != 0 && strcmp(scope, "global") != 0) {
		diag_add(d, "prune(scope=%s): expected layer or global", scope);
		return -1;
	}
	if (structured && strcmp(scope, "global") == 0) {
		diag_add(d, "prune(mode=structured,scope=global): structured pruning is per layer; drop scope=global");
		return -1;
	}
	if (strcmp(norm, "l1") != 0 && strcmp(norm, "l2") != 0) {
		diag_add(d, "prune(norm=%s): expected l1 or l2", norm);
		return -1;
	}
	if (gopt_check_names(m, a, "layers", d) < 0 || gopt_check_names(m, a, "skip", d) < 0)
		return -1;
	const PassArg *layers = pass_arg(a, "layers"), *skip = pass_arg(a, "skip");
	for (int i = 0; i < layers->n_names; i++) {
		int bi, ni;
		gopt_find_layer(m, layers->names[i], &bi, &ni);
		if (!prunable(&m->blocks[bi], &m->blocks[bi].nodes[ni])) {
			diag_add(d, "prune: '%s' is %s, not a Conv1d/Conv2d/Linear with constant float weights",
			         layers->names[i], op_info(m->blocks[bi].nodes[ni].op)->name);
			return -1;
		}
	}
	/* the selection, by name so structured rewrites (which renumber nothing but
	 * shapes) and unstructured share it */
	Sel *sel = NULL;
	int nsel = 0;
	for (int bi = 0; bi < m->n_blocks; bi++)
		for (int ni = 0; ni < m->blocks[bi].n_nodes; ni++) {
			const Block *b = &m->blocks[bi];
			const char *name = gopt_node_name(b, &b->nodes[ni]);
			if (!prunable(b, &b->nodes[ni]) || !pass_selects(a, "layers", name))
				continue;
			int skipped = 0;
			for (int k = 0; k < skip->n_names; k++)
				skipped |= strcmp(skip->names[k], name) == 0;
			if (skipped)
				continue;
			Sel *p = realloc(sel, (size_t)(nsel + 1) * sizeof *p);
			if (!p) {
				free(sel);
				diag_add(d, "prune: out of memory");
				return -1;
			}
			sel = p;
			sel[nsel].bi = bi;
			sel[nsel++].ni = ni;
		}
	int rc = 0;
	if (!structured) {
		rc = unstructured(m, a, sel, nsel, r, d);
	} else {
		for (int i = 0; i < nsel && rc == 0; i++)
			rc = structured_one(m, sel[i].bi, sel[i].ni, sp->f, strcmp(norm, "l2") == 0, layers->set, r, d);
	}
	free(sel);
	if (rc < 0)
		return -1;
	return gopt_refresh(m, d);
}
