/* lowrank — truncated-SVD factorization of Linear and 1×1 Conv2d layers.
 *
 * requires: a model on which model_infer succeeded.
 * provides: each selected layer y = W x + b, W (m × n), replaced by
 *           t = A x (A = √Σ_d V_dᵀ, d × n, no bias) and y = B t + b
 *           (B = U_d √Σ_d, m × d): two Linear, or two Conv2d where the first
 *           keeps the original stride/padding/dilation and the second is 1×1.
 *           The Frobenius error ‖W − BA‖ is √(Σ_{i≥d} σ_i²) (Eckart–Young),
 *           reported as a fraction of ‖W‖. model_infer re-run.
 *
 * d per layer: rank= (absolute), ratio= (⌈ratio·min(m,n)⌉) or energy= (the
 * smallest d with Σ_{i<d} σ_i² ≥ energy·Σσ²). A layer is skipped, with the
 * reason, when d(m+n) ≥ mn (no fewer parameters or MACs) or d ≥ min(m,n);
 * a layer named in layers= that cannot be factorized is an error, since the
 * user asked for exactly that one.
 *
 * The SVD is LAPACKE_dgesdd in double precision on the float weights.
 */
#include "gopt.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int eligible(const Block *b, const Node *n, const char **why)
{
	if (n->op == OP_LINEAR) {
		*why = NULL;
		return b->tensors[n->in[1]].data && b->tensors[n->in[1]].rank == 2;
	}
	if (n->op == OP_CONV2D) {
		const Tensor *w = &b->tensors[n->in[1]];
		if (!w->data)
			return 0;
		if (w->shape[2] != 1 || w->shape[3] != 1) {
			*why = "a Conv2d with a kernel larger than 1x1 (only 1x1 convolutions are matrix products)";
			return 0;
		}
		if (node_attr(n, "groups")->i[0] != 1) {
			*why = "a grouped Conv2d";
			return 0;
		}
		*why = NULL;
		return 1;
	}
	return 0;
}

/* Singular values (descending) and factors of the m×n row-major w. */
static int svd(const float *w, int64_t m, int64_t n, double *s, double *u, double *vt)
{
	int64_t k = m < n ? m : n;
	double *a = nnl_malloc((size_t)(m * n) * sizeof *a);
	if (!a)
		return -1;
	for (int64_t i = 0; i < m * n; i++)
		a[i] = w[i];
	lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)m, (lapack_int)n, a, (lapack_int)n, s, u,
	                                 (lapack_int)k, vt, (lapack_int)n);
	free(a);
	return info == 0 ? 0 : -1;
}

static int factorize(Model *m, int bi, int ni, int64_t d_req, const PassArgs *a, int named, PassReport *r, Diag *dg)
{
	Block *b = &m->blocks[bi];
	Node *n = &b->nodes[ni];
	const char *file = m->path ? m->path : "<model>";
	char lname[256];
	snprintf(lname, sizeof lname, "%s", gopt_node_name(b, n));
	const Tensor *W = &b->tensors[n->in[1]];
	char wname[256]; /* W moves when tensors are added */
	snprintf(wname, sizeof wname, "%s", W->name);
	int conv = n->op == OP_CONV2D;
	int64_t mo = W->shape[0], ni_ = W->shape[1], k = mo < ni_ ? mo : ni_;
	int64_t p0 = gopt_node_params(b, n), mac0 = gopt_node_macs(b, n);
	int64_t bias = n->n_in > 2 ? tensor_numel(&b->tensors[n->in[2]]) : 0;
	double *s = nnl_malloc((size_t)k * sizeof *s), *u = nnl_malloc((size_t)(mo * k) * sizeof *u),
	       *vt = nnl_malloc((size_t)(k * ni_) * sizeof *vt);
	float *w = gopt_const_f32(W);
	int rc = -1;
	if (!s || !u || !vt || !w) {
		diag_add(dg, "lowrank: out of memory");
		goto out;
	}
	if (svd(w, mo, ni_, s, u, vt) < 0) {
		diag_add(dg, "%s: lowrank: the SVD of '%s' (%lld x %lld) did not converge", file, W->name, (long long)mo,
		         (long long)ni_);
		goto out;
	}
	double tot = 0;
	for (int64_t i = 0; i < k; i++)
		tot += s[i] * s[i];
	int64_t d = d_req;
	const PassArg *en = pass_arg(a, "energy"), *ra = pass_arg(a, "ratio");
	if (en->set) {
		double acc = 0;
		for (d = 0; d < k && acc < en->f * tot * (1 - 1e-12); d++)
			acc += s[d] * s[d];
		if (d < 1)
			d = 1;
	} else if (ra->set) {
		d = (int64_t)ceil(ra->f * (double)k - 1e-9);
		if (d < 1)
			d = 1;
	}
	/* per inference: macs0 = pixels·m·n → pixels·d·(m+n) */
	int64_t pix = mo ? mac0 / (mo * ni_) : 0;
	int64_t p1 = d * (mo + ni_) + bias, mac1 = pix * d * (mo + ni_);
	if (d >= k || d * (mo + ni_) >= mo * ni_) {
		if (named && d >= k) {
			diag_add(dg, "%s: lowrank: rank %lld for '%s' (%lld x %lld) is not below min(m, n) = %lld: nothing to "
			         "factorize", file, (long long)d, lname, (long long)mo, (long long)ni_, (long long)k);
			goto out;
		}
		report_add(r, "lowrank", lname, "skipped", p0, p0, gopt_node_nnz(b, n), mac0, mac0,
		           "rank %lld of %lld x %lld: %lld params >= %lld, no gain", (long long)d, (long long)mo,
		           (long long)ni_, (long long)(d * (mo + ni_)), (long long)(mo * ni_));
		rc = 0;
		goto out;
	}
	double tail = 0;
	for (int64_t i = d; i < k; i++)
		tail += s[i] * s[i];
	/* A = sqrt(S) Vt (d × n), B = U sqrt(S) (m × d) */
	float *A = nnl_malloc((size_t)(d * ni_) * sizeof *A), *B = nnl_malloc((size_t)(mo * d) * sizeof *B);
	if (!A || !B) {
		free(A);
		free(B);
		diag_add(dg, "lowrank: out of memory");
		goto out;
	}
	for (int64_t i = 0; i < d; i++) {
		double rs = sqrt(s[i]);
		for (int64_t j = 0; j < ni_; j++)
			A[i * ni_ + j] = (float)(rs * vt[i * ni_ + j]);
		for (int64_t o = 0; o < mo; o++)
			B[o * d + i] = (float)(u[o * k + i] * rs);
	}
	char base[300];
	int64_t sa[4] = {d, ni_, 1, 1}, sb[4] = {mo, d, 1, 1};
	snprintf(base, sizeof base, "%s.lr_a", wname);
	int ta = gopt_add_const_f32(b, base, conv ? 4 : 2, sa, A);
	snprintf(base, sizeof base, "%s.lr_b", wname);
	int tb = gopt_add_const_f32(b, base, conv ? 4 : 2, sb, B);
	snprintf(base, sizeof base, "%s.lr_t", lname);
	int tt = gopt_add_activation(b, base);
	if (ta < 0 || tb < 0 || tt < 0) {
		diag_add(dg, "lowrank: out of memory");
		goto out;
	}
	/* the first factor goes before n, which becomes the second */
	Node *first = gopt_insert_node(b, ni);
	if (!first) {
		diag_add(dg, "lowrank: out of memory");
		goto out;
	}
	n = &b->nodes[ni + 1];
	*first = *n; /* op, attributes (stride/padding/dilation for Conv2d) */
	first->in = NULL;
	first->n_in = 0;
	first->id = NULL;
	int in1[2] = {n->in[0], ta};
	if (gopt_set_inputs(first, 2, in1) < 0) {
		diag_add(dg, "lowrank: out of memory");
		goto out;
	}
	first->in_is_list = 1;
	first->out = tt;
	first->n_out_list = 0;
	if (n->id) {
		snprintf(base, sizeof base, "%s.lr_a", n->id);
		first->id = nnl_strdup(base);
	}
	n->in[0] = tt;
	n->in[1] = tb;
	if (conv) { /* the second factor is a plain 1×1: stride 1, no padding */
		const OpInfo *oi = op_info(n->op);
		for (int i = 0; i < oi->n_attrs; i++)
			if (strcmp(oi->attrs[i].name, "groups") != 0)
				n->attr_given[i] = 0, n->attrs[i].set = 0;
		for (int i = 0; i < oi->n_attrs; i++)
			if (!n->attr_given[i]) { /* defaults, as the loader fills them */
				n->attrs[i].set = 1;
				n->attrs[i].n = 1;
				n->attrs[i].i[0] = strcmp(oi->attrs[i].name, "padding") == 0 ? 0 : 1;
				n->attrs[i].s[0] = 0;
			}
	}
	report_add(r, "lowrank", lname, "factorized", p0, p1, p1, mac0, mac1,
	           "rank %lld of %lld x %lld, energy kept %.4f, relative error %.4f", (long long)d, (long long)mo,
	           (long long)ni_, tot > 0 ? 1 - tail / tot : 1.0, tot > 0 ? sqrt(tail / tot) : 0.0);
	rc = 1;
out:
	free(s);
	free(u);
	free(vt);
	free(w);
	return rc;
}

int gpass_lowrank(Model *m, const PassArgs *a, PassReport *r, Diag *d)
{
	const PassArg *rank = pass_arg(a, "rank"), *ratio = pass_arg(a, "ratio"), *energy = pass_arg(a, "energy");
	const PassArg *layers = pass_arg(a, "layers");
	int nset = rank->set + ratio->set + energy->set;
	if (nset != 1) {
		diag_add(d, "lowrank: give exactly one of rank=, ratio=, energy= (%s)",
		         nset ? "several were given" : "none was given");
		return -1;
	}
	if (rank->set && rank->i < 1) {
		diag_add(d, "lowrank(rank=%lld): the rank must be at least 1", (long long)rank->i);
		return -1;
	}
	if (ratio->set && !(ratio->f > 0 && ratio->f < 1)) {
		diag_add(d, "lowrank(ratio=%g): the ratio must be in (0, 1)", ratio->f);
		return -1;
	}
	if (energy->set && !(energy->f > 0 && energy->f <= 1)) {
		diag_add(d, "lowrank(energy=%g): the energy fraction must be in (0, 1]", energy->f);
		return -1;
	}
	if (gopt_check_names(m, a, "layers", d) < 0)
		return -1;
	for (int bi = 0; bi < m->n_blocks; bi++) {
		Block *b = &m->blocks[bi];
		for (int ni = 0; ni < b->n_nodes; ni++) {
			Node *n = &b->nodes[ni];
			const char *name = gopt_node_name(b, n), *why = NULL;
			int named = layers->set && pass_selects(a, "layers", name);
			if (layers->set && !named)
				continue;
			if (n->id && strstr(n->id, ".lr_a"))
				continue; /* made by this pass */
			if (!eligible(b, n, &why)) {
				if (named) {
					diag_add(d, "%s: lowrank: '%s' is %s, not a Linear or 1x1 Conv2d with constant weights",
					         m->path ? m->path : "<model>", name, why ? why : op_info(n->op)->name);
					return -1;
				}
				if (why)
					report_add(r, "lowrank", name, "skipped", gopt_node_params(b, n), gopt_node_params(b, n),
					           gopt_node_nnz(b, n), gopt_node_macs(b, n), gopt_node_macs(b, n), "%s", why);
				continue;
			}
			int rc = factorize(m, bi, ni, rank->i, a, named, r, d);
			if (rc < 0)
				return -1;
			ni += rc; /* skip the second factor */
		}
		if (gopt_compact(b) < 0) { /* the original weights */
			diag_add(d, "lowrank: out of memory");
			return -1;
		}
	}
	return gopt_refresh(m, d);
}
