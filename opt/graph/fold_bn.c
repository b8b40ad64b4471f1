/* fold-bn — fold an inference BatchNorm into the Conv/Linear before it.
 *
 * requires: model_infer done.
 * provides: for y = BN(conv(x)) where the conv's output is read by the BN
 *   alone, with α = γ/√(var+ε): W'[o] = α[o]·W[o], b'[o] = α[o]·(b[o] − μ[o]) + β[o]
 *   (b = 0 when the conv had no bias; one is added). The conv then writes the
 *   BN's output tensor and the BN node is gone. model_infer re-run.
 * Exact up to float rounding (computed in double, stored in float32).
 */
#include "gopt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int gpass_fold_bn(Model *m, const PassArgs *a, PassReport *r, Diag *d)
{
	if (gopt_check_names(m, a, "layers", d) < 0)
		return -1;
	const PassArg *layers = pass_arg(a, "layers");
	for (int bi = 0; bi < m->n_blocks; bi++) {
		Block *b = &m->blocks[bi];
		for (int ni = 0; ni < b->n_nodes; ni++) {
			Node *bn = &b->nodes[ni];
			if (bn->op != OP_BATCHNORM1D && bn->op != OP_BATCHNORM2D)
				continue;
			char name[256];
			snprintf(name, sizeof name, "%s", gopt_node_name(b, bn));
			int named = layers->set && pass_selects(a, "layers", name);
			if (layers->set && !named)
				continue;
			int x = bn->in[0], pi = -1, cons[2];
			for (int k = 0; k < b->n_nodes; k++)
				if (b->nodes[k].out == x)
					pi = k;
			const char *why = NULL;
			if (pi < 0)
				why = "its input is not computed by a layer of the same block";
			else if (b->nodes[pi].op != OP_CONV1D && b->nodes[pi].op != OP_CONV2D && b->nodes[pi].op != OP_LINEAR)
				why = "its input is not a Conv/Linear output";
			else if (gopt_consumers(b, x, cons, 2) != 1 || x == b->y)
				why = "the Conv/Linear output is also read elsewhere";
			else if (!b->tensors[b->nodes[pi].in[1]].data || (b->nodes[pi].n_in > 2 && !b->tensors[b->nodes[pi].in[2]].data))
				why = "the Conv/Linear weights are computed";
			else if (b->nodes[pi].op == OP_LINEAR && b->tensors[x].rank != 2)
				why = "the Linear output is not (N, C)";
			for (int k = 1; k < 5 && !why; k++)
				if (!b->tensors[bn->in[k]].data)
					why = "its parameters are computed";
			if (why) {
				if (named) {
					diag_add(d, "%s: fold-bn: cannot fold '%s': %s", m->path ? m->path : "<model>", name, why);
					return -1;
				}
				report_add(r, "fold-bn", name, "skipped", 0, 0, 0, 0, 0, "%s", why);
				continue;
			}
			Node *cv = &b->nodes[pi];
			int64_t p0 = gopt_node_params(b, cv) + gopt_node_params(b, bn), mac = gopt_node_macs(b, cv);
			Tensor *w = &b->tensors[cv->in[1]];
			int64_t O = w->shape[0], per = shape_numel(w->rank - 1, w->shape + 1);
			double eps = node_attr(bn, "eps")->f;
			float *nb = nnl_malloc((size_t)O * sizeof *nb);
			if (!nb)
				goto oom;
			for (int64_t o = 0; o < O; o++) {
				double g = dtype_get(b->tensors[bn->in[1]].dtype, b->tensors[bn->in[1]].data, o);
				double be = dtype_get(b->tensors[bn->in[2]].dtype, b->tensors[bn->in[2]].data, o);
				double mu = dtype_get(b->tensors[bn->in[3]].dtype, b->tensors[bn->in[3]].data, o);
				double var = dtype_get(b->tensors[bn->in[4]].dtype, b->tensors[bn->in[4]].data, o);
				double al = g / sqrt(var + eps);
				for (int64_t k = 0; k < per; k++)
					dtype_set(w->dtype, w->data, o * per + k, al * dtype_get(w->dtype, w->data, o * per + k));
				double bias = cv->n_in > 2 ? dtype_get(b->tensors[cv->in[2]].dtype, b->tensors[cv->in[2]].data, o) : 0;
				nb[o] = (float)(al * (bias - mu) + be);
			}
			if (cv->n_in > 2 && b->tensors[cv->in[2]].dtype == DT_FLOAT32) {
				memcpy(b->tensors[cv->in[2]].data, nb, (size_t)O * sizeof *nb);
				free(nb);
			} else {
				char base[300];
				snprintf(base, sizeof base, "%s.bias", gopt_node_name(b, cv));
				int64_t sh[1] = {O};
				int tb = gopt_add_const_f32(b, base, 1, sh, nb);
				if (tb < 0)
					goto oom;
				cv = &b->nodes[pi];
				int ins[3] = {cv->in[0], cv->in[1], tb};
				if (gopt_set_inputs(cv, 3, ins) < 0)
					goto oom;
				cv->in_is_list = 1;
			}
			cv->out = b->nodes[ni].out;
			int64_t p1 = gopt_node_params(b, cv);
			report_add(r, "fold-bn", name, "folded", p0, p1, gopt_node_nnz(b, cv), mac, mac, "into '%s'",
			           gopt_node_name(b, cv));
			gopt_remove_node(b, ni);
			ni--;
		}
		if (gopt_compact(b) < 0)
			goto oom;
	}
	return gopt_refresh(m, d);
oom:
	diag_add(d, "fold-bn: out of memory");
	return -1;
}
