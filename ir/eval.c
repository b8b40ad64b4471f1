/* eval.c — the reference interpreter: the semantics every backend is tested
 * against. Clarity over speed, but kernels avoid needless work so that
 * accuracy runs over 10,000 images take seconds, not hours.
 *
 * requires: model_infer() succeeded (shapes, dtypes, checked attributes).
 * Each block gets its own buffers; the block's Y becomes the next block's X.
 * Constant inputs of float32 ops stored as float16/bfloat16/float64 are
 * widened to float32 once per call.
 */
#include "ir.h"
#include "quant.h"

#include <stdlib.h>
#include <string.h>

static int eval_block(const Model *m, int bi, const void *x, void **y_out, Diag *d)
{
	const Block *b = &m->blocks[bi];
	const char *file = m->path ? m->path : "<model>";
	int rc = -1;
	void **buf = calloc((size_t)b->n_tensors, sizeof *buf);
	char *owned = calloc((size_t)b->n_tensors, 1);
	void *widened[64] = {0};
	if (!buf || !owned) {
		diag_add(d, "%s: blocks[%d]: out of memory", file, bi);
		goto out;
	}
	for (int i = 0; i < b->n_tensors; i++)
		buf[i] = b->tensors[i].data;
	buf[b->x] = (void *)x;

	for (int ni = 0; ni < b->n_nodes; ni++) {
		const Node *n = &b->nodes[ni];
		OpCtx c = {d, file, bi, n};
		const Tensor *in[64];
		void *in_data[64];
		for (int i = 0; i < n->n_in; i++)
			in[i] = &b->tensors[n->in[i]];
		/* Integer inputs select the quantized kernel (quant.h): nothing is widened. */
		const int q = quant_selected(n->op, in, n->n_in);
		for (int i = 0; i < n->n_in; i++) {
			const Tensor *t = in[i];
			in_data[i] = buf[n->in[i]];
			if (!q && (op_info(n->op)->flags & OPF_FLOAT) && t->dtype != DT_FLOAT32) {
				int64_t ne = tensor_numel(t);
				float *w = nnl_malloc((size_t)ne * sizeof *w);
				if (!w) {
					op_error(&c, "out of memory widening '%s' to float32", t->name);
					goto out;
				}
				for (int64_t k = 0; k < ne; k++)
					w[k] = (float)dtype_get(t->dtype, t->data, k);
				widened[i] = w;
				in_data[i] = w;
			}
		}
		Tensor *o = &b->tensors[n->out];
		int64_t nb = dtype_bytes(o->dtype, tensor_numel(o));
		void *ob = nnl_calloc(1, (size_t)nb);
		if (!ob) {
			op_error(&c, "out of memory allocating '%s' (%lld bytes)", o->name, (long long)nb);
			goto out;
		}
		buf[n->out] = ob;
		owned[n->out] = 1;
		int r = (q ? quant_eval : op_eval_fn(n->op))(&c, (const Tensor *const *)in, in_data, o, ob);
		for (int i = 0; i < n->n_in; i++) {
			free(widened[i]);
			widened[i] = NULL;
		}
		if (r < 0)
			goto out;
	}
	*y_out = buf[b->y];
	owned[b->y] = 0;
	rc = 0;
out:
	for (int i = 0; i < 64; i++)
		free(widened[i]);
	if (buf && owned)
		for (int i = 0; i < b->n_tensors; i++)
			if (owned[i])
				free(buf[i]);
	free(buf);
	free(owned);
	return rc;
}

int model_eval(const Model *m, const void *input, void *output, Diag *d)
{
	const void *x = input;
	void *prev = NULL;
	for (int bi = 0; bi < m->n_blocks; bi++) {
		void *y = NULL;
		int r = eval_block(m, bi, x, &y, d);
		free(prev);
		prev = NULL;
		if (r < 0)
			return -1;
		prev = y;
		x = y;
	}
	/* A block whose Y is X itself ("=" chains of views) returns the caller's input. */
	int64_t nb = dtype_bytes(m->out_dtype, shape_numel(m->out_rank, m->out_shape));
	memmove(output, x, (size_t)nb);
	if (prev != input)
		free(prev);
	return 0;
}
