/* shape.c — the shape and type inference driver and helpers for the rules.
 *
 * requires: a Model whose blocks' nodes refer to defined tensors in order
 *           (the loader guarantees it), attributes parsed with their kinds.
 * provides: dtype/rank/shape of every tensor; every check that a model can be
 *           run: arity, input datatypes per op class, attribute values, shapes,
 *           declared tensors against inferred ones, block and model headers.
 */
#include "ir.h"
#include "quant.h"

#include <stdio.h>
#include <string.h>

int norm_axis(int64_t axis, int rank, int64_t *out)
{
	if (axis < -(int64_t)rank || axis >= rank)
		return -1;
	*out = axis < 0 ? axis + rank : axis;
	return 0;
}

int broadcast_shapes(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out)
{
	int r = ra > rb ? ra : rb;
	for (int i = 0; i < r; i++) {
		int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
		int64_t db = i < r - rb ? 1 : b[i - (r - rb)];
		if (da != db && da != 1 && db != 1)
			return -1;
		out[i] = da == 1 ? db : da;
	}
	*rout = r;
	return 0;
}

const AttrValue *node_attr(const Node *n, const char *name)
{
	const OpInfo *o = op_info(n->op);
	for (int i = 0; i < o->n_attrs; i++)
		if (strcmp(o->attrs[i].name, name) == 0)
			return &n->attrs[i];
	NNL_BUG("node_attr: the op has no such attribute");
	return NULL;
}

int attr_spatial(const OpCtx *c, const char *name, int nd, int64_t min, int64_t *out)
{
	const AttrValue *a = node_attr(c->node, name);
	if (a->n != 1 && a->n != nd) {
		op_error(c, "attribute '%s' has %d values, expected 1 or %d", name, a->n, nd);
		return -1;
	}
	for (int i = 0; i < nd; i++) {
		out[i] = a->i[a->n == 1 ? 0 : i];
		if (out[i] < min) {
			op_error(c, "attribute '%s' is %lld, expected at least %lld", name, (long long)out[i],
			         (long long)min);
			return -1;
		}
	}
	return 0;
}

int attr_padding(const OpCtx *c, const char *name, int nd, int64_t *begin, int64_t *end)
{
	const AttrValue *a = node_attr(c->node, name);
	if (a->s[0])
		return 1;
	if (a->n != 1 && a->n != nd && a->n != 2 * nd) {
		op_error(c, "attribute '%s' has %d values, expected 1, %d or %d", name, a->n, nd, 2 * nd);
		return -1;
	}
	for (int i = 0; i < nd; i++) {
		if (a->n == 2 * nd) {
			begin[i] = a->i[i];
			end[i] = a->i[nd + i];
		} else {
			begin[i] = end[i] = a->i[a->n == 1 ? 0 : i];
		}
		if (begin[i] < 0 || end[i] < 0) {
			op_error(c, "attribute '%s' has a negative value, expected padding >= 0", name);
			return -1;
		}
	}
	return 0;
}

static int check_input_types(const OpCtx *c, Tensor *const *in, int n_in)
{
	const OpInfo *o = op_info(c->node->op);
	char nb[32];
	for (int i = 0; i < n_in; i++) {
		DType t = in[i]->dtype;
		const char *what = op_input_name(c->node->op, i, nb, sizeof nb);
		if (o->flags & OPF_FLOAT) {
			int widen = in[i]->data && (t == DT_FLOAT16 || t == DT_BFLOAT16 || t == DT_FLOAT64);
			if (t != DT_FLOAT32 && !widen) {
				op_error(c, "input %d (%s) '%s' is %s, expected float32%s", i, what, in[i]->name,
				         dtype_name(t),
				         i > 0 ? " (or a float16/bfloat16/float64 constant)" : "");
				return -1;
			}
		} else if (dtype_is_packed(t)) {
			op_error(c, "input %d (%s) '%s' is %s, a storage-only datatype; this op needs 8 bits or more",
			         i, what, in[i]->name, dtype_name(t));
			return -1;
		} else if ((o->flags & (OPF_NUMERIC | OPF_REAL)) || c->node->op == OP_CONCAT) {
			if ((o->flags & OPF_REAL) && t != DT_FLOAT32 && t != DT_FLOAT64) {
				op_error(c, "input %d (%s) '%s' is %s, expected float32 or float64", i, what,
				         in[i]->name, dtype_name(t));
				return -1;
			}
			if ((o->flags & OPF_NUMERIC) && (t == DT_FLOAT16 || t == DT_BFLOAT16)) {
				op_error(c, "input %d (%s) '%s' is %s, expected float32, float64 or an integer type",
				         i, what, in[i]->name, dtype_name(t));
				return -1;
			}
			if (i > 0 && t != in[0]->dtype) {
				op_error(c, "input %d (%s) '%s' is %s but input 0 is %s; inputs must share one datatype",
				         i, what, in[i]->name, dtype_name(t), dtype_name(in[0]->dtype));
				return -1;
			}
		}
	}
	return 0;
}

static int check_header(Diag *d, const char *file, const char *where, const char *what, int ra,
                        const int64_t *a, DType ta, int rb, const int64_t *b, DType tb, const char *other)
{
	char s1[256], s2[256];
	if (ra != rb || memcmp(a, b, (size_t)ra * sizeof *a) != 0) {
		diag_add(d, "%s: %s: %s_shape is %s but %s is %s", file, where, what, shape_str(ra, a, s1, sizeof s1),
		         other, shape_str(rb, b, s2, sizeof s2));
		return -1;
	}
	if (ta != tb) {
		diag_add(d, "%s: %s: %s_datatype is %s but %s is %s", file, where, what, dtype_name(ta), other,
		         dtype_name(tb));
		return -1;
	}
	return 0;
}

static int infer_block(Model *m, int bi, Diag *d)
{
	Block *b = &m->blocks[bi];
	const char *file = m->path ? m->path : "<model>";
	char where[64], s1[256], s2[256];
	snprintf(where, sizeof where, "blocks[%d] ('%s')", bi, b->name ? b->name : "");
	Tensor *x = &b->tensors[b->x];
	x->rank = b->in_rank;
	memcpy(x->shape, b->in_shape, sizeof x->shape);
	x->dtype = b->in_dtype;

	for (int ni = 0; ni < b->n_nodes; ni++) {
		Node *n = &b->nodes[ni];
		OpCtx c = {d, file, bi, n};
		const OpInfo *o = op_info(n->op);
		if (n->n_in < o->min_in || (o->max_in >= 0 && n->n_in > o->max_in)) {
			if (o->max_in < 0)
				op_error(&c, "has %d inputs, expected at least %d (%s)", n->n_in, o->min_in, o->inputs);
			else if (o->min_in == o->max_in)
				op_error(&c, "has %d input%s, expected %d (%s)", n->n_in, n->n_in == 1 ? "" : "s",
				         o->min_in, o->inputs);
			else
				op_error(&c, "has %d input%s, expected %d to %d (%s)", n->n_in, n->n_in == 1 ? "" : "s",
				         o->min_in, o->max_in, o->inputs);
			return -1;
		}
		Tensor *in[64];
		if (n->n_in > 64) {
			op_error(&c, "has %d inputs, at most 64 are supported", n->n_in);
			return -1;
		}
		for (int i = 0; i < n->n_in; i++)
			in[i] = &b->tensors[n->in[i]];
		/* Integer inputs select the quantized variant of an op (quant.h). */
		int q = quant_selected(n->op, (const Tensor *const *)in, n->n_in);
		if ((q ? quant_check_types(&c, in, n->n_in) : check_input_types(&c, in, n->n_in)) < 0)
			return -1;
		Tensor *out = &b->tensors[n->out];
		/* Keep a declaration to compare against. */
		Tensor decl = *out;
		out->dtype = (o->flags & OPF_FLOAT) && !q ? DT_FLOAT32 : in[0]->dtype;
		if (op_infer_fn(n->op)(&c, in, out) < 0 || (q && quant_check_out(&c, in, n->n_in, out) < 0))
			return -1;
		int64_t ne = tensor_numel(out);
		if (ne < 0 || ne > NNL_MAX_ELEMENTS) {
			op_error(&c, "output '%s' would have shape %s: more than 2^40 elements", out->name,
			         shape_str(out->rank, out->shape, s1, sizeof s1));
			return -1;
		}
		if (decl.declared) {
			if (decl.rank != out->rank || memcmp(decl.shape, out->shape, (size_t)out->rank * sizeof(int64_t))) {
				op_error(&c, "output '%s' is declared (layers[%d]) with shape %s but the op produces %s",
				         out->name, decl.decl_layer, shape_str(decl.rank, decl.shape, s1, sizeof s1),
				         shape_str(out->rank, out->shape, s2, sizeof s2));
				return -1;
			}
			if (decl.dtype != out->dtype) {
				op_error(&c, "output '%s' is declared (layers[%d]) as %s but the op produces %s", out->name,
				         decl.decl_layer, dtype_name(decl.dtype), dtype_name(out->dtype));
				return -1;
			}
		}
	}
	Tensor *y = &b->tensors[b->y];
	return check_header(d, file, where, "output", b->out_rank, b->out_shape, b->out_dtype, y->rank, y->shape,
	                    y->dtype, "the tensor Y computed by its layers");
}

int model_infer(Model *m, Diag *d)
{
	const char *file = m->path ? m->path : "<model>";
	if (m->n_blocks == 0) {
		diag_add(d, "%s: blocks: the model has no block, expected at least one", file);
		return -1;
	}
	if (check_header(d, file, "blocks[0]", "input", m->blocks[0].in_rank, m->blocks[0].in_shape,
	                 m->blocks[0].in_dtype, m->in_rank, m->in_shape, m->in_dtype, "the model's input") < 0)
		return -1;
	for (int bi = 0; bi < m->n_blocks; bi++) {
		if (bi > 0) {
			char where[64], other[64];
			snprintf(where, sizeof where, "blocks[%d]", bi);
			snprintf(other, sizeof other, "blocks[%d]'s output", bi - 1);
			Block *p = &m->blocks[bi - 1], *b = &m->blocks[bi];
			if (check_header(d, file, where, "input", b->in_rank, b->in_shape, b->in_dtype, p->out_rank,
			                 p->out_shape, p->out_dtype, other) < 0)
				return -1;
		}
		if (infer_block(m, bi, d) < 0)
			return -1;
	}
	Block *last = &m->blocks[m->n_blocks - 1];
	return check_header(d, file, "model", "output", m->out_rank, m->out_shape, m->out_dtype, last->out_rank,
	                    last->out_shape, last->out_dtype, "the last block's output");
}
