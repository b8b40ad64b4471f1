/* util.c — helpers the graph passes share: naming and finding layers,
 * parameter/MAC counts, node insertion and removal, dead-node and
 * dead-tensor elimination with renumbering, re-inference, and top-1
 * accuracy on an IDX data set (the same loop as nnl-run --eval-idx).
 */
#include "gopt.h"
#include "frontend.h"

#include <stdlib.h>
#include <string.h>

const char *gopt_node_name(const Block *b, const Node *n)
{
	return n->id ? n->id : b->tensors[n->out].name;
}

int gopt_find_layer(const Model *m, const char *name, int *bi, int *ni)
{
	for (int pass = 0; pass < 2; pass++)
		for (int b = 0; b < m->n_blocks; b++) {
			const Block *bl = &m->blocks[b];
			for (int i = 0; i < bl->n_nodes; i++) {
				const Node *n = &bl->nodes[i];
				int hit = pass == 0 ? strcmp(gopt_node_name(bl, n), name) == 0
				                    : (n->n_in > 1 && bl->tensors[n->in[1]].data &&
				                       strcmp(bl->tensors[n->in[1]].name, name) == 0);
				if (hit) {
					*bi = b;
					*ni = i;
					return 0;
				}
			}
		}
	return -1;
}

int gopt_check_names(const Model *m, const PassArgs *a, const char *argname, Diag *d)
{
	const PassArg *v = pass_arg(a, argname);
	for (int i = 0; i < v->n_names; i++) {
		int bi, ni;
		if (gopt_find_layer(m, v->names[i], &bi, &ni) == 0)
			continue;
		char list[1024] = "";
		size_t k = 0;
		for (int b = 0; b < m->n_blocks && k + 80 < sizeof list; b++)
			for (int j = 0; j < m->blocks[b].n_nodes && k + 80 < sizeof list; j++) {
				const Node *n = &m->blocks[b].nodes[j];
				if (n->op == OP_LINEAR || n->op == OP_CONV1D || n->op == OP_CONV2D || n->op == OP_BATCHNORM1D ||
				    n->op == OP_BATCHNORM2D || n->op == OP_ADD)
					k += (size_t)snprintf(list + k, sizeof list - k, "%s%s (%s)", k ? ", " : "",
					                      gopt_node_name(&m->blocks[b], n), op_info(n->op)->name);
			}
		diag_add(d, "%s(%s=...): layer '%s' does not exist in %s; layers: %s", a->pass->name, argname, v->names[i],
		         m->path ? m->path : "the model", list[0] ? list : "(none with weights)");
		return -1;
	}
	return 0;
}

int64_t gopt_node_macs(const Block *b, const Node *n)
{
	const Tensor *out = &b->tensors[n->out];
	switch (n->op) {
	case OP_CONV1D:
	case OP_CONV2D: {
		const Tensor *w = &b->tensors[n->in[1]];
		return tensor_numel(out) * shape_numel(w->rank - 1, w->shape + 1);
	}
	case OP_LINEAR:
		return tensor_numel(out) * b->tensors[n->in[1]].shape[1];
	case OP_MATMUL: {
		const Tensor *a = &b->tensors[n->in[0]];
		return tensor_numel(out) * (a->rank ? a->shape[a->rank - 1] : 1);
	}
	default:
		return 0;
	}
}

int64_t gopt_node_params(const Block *b, const Node *n)
{
	int64_t p = 0;
	for (int i = 0; i < n->n_in; i++)
		if (b->tensors[n->in[i]].data)
			p += tensor_numel(&b->tensors[n->in[i]]);
	return p;
}

static int64_t tensor_nnz(const Tensor *t)
{
	int64_t n = tensor_numel(t), z = 0;
	if (dtype_is_packed(t->dtype))
		return n;
	for (int64_t i = 0; i < n; i++)
		z += dtype_get(t->dtype, t->data, i) != 0.0;
	return z;
}

int64_t gopt_node_nnz(const Block *b, const Node *n)
{
	int64_t p = 0;
	for (int i = 0; i < n->n_in; i++)
		if (b->tensors[n->in[i]].data)
			p += tensor_nnz(&b->tensors[n->in[i]]);
	return p;
}

int64_t gopt_model_macs(const Model *m)
{
	int64_t s = 0;
	for (int b = 0; b < m->n_blocks; b++)
		for (int i = 0; i < m->blocks[b].n_nodes; i++)
			s += gopt_node_macs(&m->blocks[b], &m->blocks[b].nodes[i]);
	return s;
}

int64_t gopt_model_nnz(const Model *m)
{
	int64_t s = 0;
	for (int b = 0; b < m->n_blocks; b++)
		for (int i = 0; i < m->blocks[b].n_tensors; i++)
			if (m->blocks[b].tensors[i].data)
				s += tensor_nnz(&m->blocks[b].tensors[i]);
	return s;
}

int gopt_consumers(const Block *b, int t, int *out, int max)
{
	int c = 0;
	for (int i = 0; i < b->n_nodes; i++)
		for (int k = 0; k < b->nodes[i].n_in; k++)
			if (b->nodes[i].in[k] == t) {
				if (c < max)
					out[c] = i;
				c++;
				break;
			}
	return c;
}

int gopt_tensor_used(const Block *b, int t)
{
	if (t == b->y)
		return 1;
	for (int i = 0; i < b->n_nodes; i++)
		for (int k = 0; k < b->nodes[i].n_in; k++)
			if (b->nodes[i].in[k] == t)
				return 1;
	return 0;
}

Node *gopt_insert_node(Block *b, int at)
{
	if (!block_add_node(b))
		return NULL;
	memmove(&b->nodes[at + 1], &b->nodes[at], (size_t)(b->n_nodes - 1 - at) * sizeof b->nodes[0]);
	memset(&b->nodes[at], 0, sizeof b->nodes[0]);
	return &b->nodes[at];
}

void gopt_remove_node(Block *b, int ni)
{
	free(b->nodes[ni].id);
	free(b->nodes[ni].in);
	memmove(&b->nodes[ni], &b->nodes[ni + 1], (size_t)(b->n_nodes - ni - 1) * sizeof b->nodes[0]);
	b->n_nodes--;
}

int gopt_set_inputs(Node *n, int n_in, const int *ins)
{
	int *p = nnl_malloc((size_t)n_in * sizeof *p);
	if (!p)
		return -1;
	memcpy(p, ins, (size_t)n_in * sizeof *p);
	free(n->in);
	n->in = p;
	n->n_in = n_in;
	return 0;
}

static int unique_name(const Block *b, const char *base, char *out, size_t size)
{
	snprintf(out, size, "%s", base);
	for (int k = 2; block_find_tensor(b, out) >= 0; k++)
		snprintf(out, size, "%s_%d", base, k);
	return 0;
}

int gopt_add_const_f32(Block *b, const char *base, int rank, const int64_t *shape, float *data)
{
	char name[256];
	unique_name(b, base, name, sizeof name);
	int t = block_add_tensor(b, name);
	if (t < 0) {
		free(data);
		return -1;
	}
	Tensor *T = &b->tensors[t];
	T->dtype = DT_FLOAT32;
	T->rank = rank;
	memcpy(T->shape, shape, (size_t)rank * sizeof *shape);
	T->declared = 1;
	T->data = data;
	T->nbytes = shape_numel(rank, shape) * 4;
	return t;
}

int gopt_add_activation(Block *b, const char *base)
{
	char name[256];
	unique_name(b, base, name, sizeof name);
	return block_add_tensor(b, name);
}

void gopt_replace_uses(Block *b, int from, int to)
{
	for (int i = 0; i < b->n_nodes; i++)
		for (int k = 0; k < b->nodes[i].n_in; k++)
			if (b->nodes[i].in[k] == from)
				b->nodes[i].in[k] = to;
}

int gopt_compact(Block *b)
{
	/* dead nodes, last to first so chains go in one sweep */
	for (int changed = 1; changed;) {
		changed = 0;
		for (int i = b->n_nodes - 1; i >= 0; i--)
			if (!gopt_tensor_used(b, b->nodes[i].out)) {
				gopt_remove_node(b, i);
				changed = 1;
			}
	}
	int *map = nnl_malloc((size_t)b->n_tensors * sizeof *map);
	char *ref = nnl_calloc((size_t)b->n_tensors, 1);
	if (!map || !ref) {
		free(map);
		free(ref);
		return -1;
	}
	ref[b->x] = ref[b->y] = 1;
	for (int i = 0; i < b->n_nodes; i++) {
		ref[b->nodes[i].out] = 1;
		for (int k = 0; k < b->nodes[i].n_in; k++)
			ref[b->nodes[i].in[k]] = 1;
	}
	int n = 0;
	for (int t = 0; t < b->n_tensors; t++) {
		if (ref[t]) {
			map[t] = n;
			b->tensors[n++] = b->tensors[t];
		} else {
			Tensor *T = &b->tensors[t];
			free(T->name);
			free(T->data);
			free(T->data_path);
			if (T->quant) {
				free(T->quant->scale);
				free(T->quant->zero_point);
				free(T->quant);
			}
			map[t] = -1;
		}
	}
	b->n_tensors = n;
	b->x = map[b->x];
	b->y = map[b->y];
	for (int i = 0; i < b->n_nodes; i++) {
		b->nodes[i].out = map[b->nodes[i].out];
		for (int k = 0; k < b->nodes[i].n_in; k++)
			b->nodes[i].in[k] = map[b->nodes[i].in[k]];
	}
	free(map);
	free(ref);
	return 0;
}

int gopt_refresh(Model *m, Diag *d)
{
	for (int bi = 0; bi < m->n_blocks; bi++) {
		Block *b = &m->blocks[bi];
		for (int t = 0; t < b->n_tensors; t++)
			if (!b->tensors[t].data) {
				b->tensors[t].declared = 0;
				b->tensors[t].decl_layer = -1;
			}
		for (int i = 0; i < b->n_nodes; i++)
			b->nodes[i].layer = i;
	}
	return model_infer(m, d);
}

float *gopt_const_f32(const Tensor *t)
{
	int64_t n = tensor_numel(t);
	float *w = nnl_malloc((size_t)n * sizeof *w);
	if (!w)
		return NULL;
	for (int64_t i = 0; i < n; i++)
		w[i] = (float)dtype_get(t->dtype, t->data, i);
	return w;
}

double gopt_eval_accuracy(const Model *m, const GoptData *data, Diag *d)
{
	NdArray im = {0}, lb = {0};
	double acc = -1;
	float *x = NULL;
	unsigned char *y = NULL;
	if (!data || !data->images || !data->labels) {
		diag_add(d, "no evaluation data: give --calib IMAGES LABELS (IDX files, e.g. "
		            "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz and its labels)");
		return -1;
	}
	if (idx_read(data->images, &im, d) < 0 || idx_read(data->labels, &lb, d) < 0)
		goto out;
	int64_t n = im.shape[0];
	int64_t per = n ? shape_numel(im.rank - 1, im.shape + 1) : 0;
	int64_t in_n = shape_numel(m->in_rank, m->in_shape), out_n = shape_numel(m->out_rank, m->out_shape);
	if (per != in_n || m->in_dtype != DT_FLOAT32 || lb.rank != 1 || lb.shape[0] != n) {
		diag_add(d, "%s: samples of %lld values and %s labels do not fit the model input (%lld float32 values)",
		         data->images, (long long)per, lb.rank == 1 && lb.shape[0] == n ? "matching" : "mismatched",
		         (long long)in_n);
		goto out;
	}
	if (data->limit > 0 && data->limit < n)
		n = data->limit;
	x = nnl_malloc((size_t)in_n * sizeof *x);
	y = nnl_malloc((size_t)dtype_bytes(m->out_dtype, out_n));
	if (!x || !y) {
		diag_add(d, "out of memory");
		goto out;
	}
	double scale = data->pixel_scale > 0 ? data->pixel_scale : 1.0 / 255.0;
	int64_t correct = 0;
	for (int64_t i = 0; i < n; i++) {
		for (int64_t k = 0; k < in_n; k++)
			x[k] = (float)(dtype_get(im.dtype, im.data, i * per + k) * (im.dtype == DT_UINT8 ? scale : 1.0));
		if (model_eval(m, x, y, d) < 0)
			goto out;
		int64_t best = 0;
		for (int64_t k = 1; k < out_n; k++)
			if (dtype_get(m->out_dtype, y, k) > dtype_get(m->out_dtype, y, best))
				best = k;
		correct += best == dtype_get_i64(lb.dtype, lb.data, i);
	}
	acc = n ? (double)correct / (double)n : 0.0;
out:
	free(x);
	free(y);
	ndarray_free(&im);
	ndarray_free(&lb);
	return acc;
}
