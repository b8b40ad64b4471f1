/* graph.c — the graph IR containers: Model → Block → Tensor / Node.
 *
 * Tensors and nodes live in per-block growable arrays and refer to each other
 * by index, so a block can be copied or rewritten without pointer fix-ups.
 */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t shape_numel(int rank, const int64_t *shape)
{
	int64_t n = 1;
	for (int i = 0; i < rank; i++)
		if (nnl_mul_i64(n, shape[i], &n) < 0)
			return -1;
	return n;
}

int64_t tensor_numel(const Tensor *t) { return shape_numel(t->rank, t->shape); }

static void quant_free(Quant *q)
{
	if (!q)
		return;
	free(q->scale);
	free(q->zero_point);
	free(q);
}

static void block_free(Block *b)
{
	free(b->name);
	for (int i = 0; i < b->n_tensors; i++) {
		Tensor *t = &b->tensors[i];
		free(t->name);
		free(t->data);
		free(t->data_path);
		quant_free(t->quant);
	}
	free(b->tensors);
	for (int i = 0; i < b->n_nodes; i++) {
		free(b->nodes[i].id);
		free(b->nodes[i].in);
	}
	free(b->nodes);
}

void model_free(Model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n_blocks; i++)
		block_free(&m->blocks[i]);
	free(m->blocks);
	free(m->name);
	free(m->path);
	free(m);
}

int block_find_tensor(const Block *b, const char *name)
{
	for (int i = 0; i < b->n_tensors; i++)
		if (strcmp(b->tensors[i].name, name) == 0)
			return i;
	return -1;
}

int block_add_tensor(Block *b, const char *name)
{
	if (b->n_tensors == b->cap_tensors) {
		int cap = b->cap_tensors ? b->cap_tensors * 2 : 16;
		Tensor *t = nnl_malloc((size_t)cap * sizeof *t);
		if (!t)
			return -1;
		if (b->n_tensors)
			memcpy(t, b->tensors, (size_t)b->n_tensors * sizeof *t);
		free(b->tensors);
		b->tensors = t;
		b->cap_tensors = cap;
	}
	Tensor *t = &b->tensors[b->n_tensors];
	memset(t, 0, sizeof *t);
	t->decl_layer = -1;
	t->name = nnl_strdup(name);
	if (!t->name)
		return -1;
	return b->n_tensors++;
}

Node *block_add_node(Block *b)
{
	if (b->n_nodes == b->cap_nodes) {
		int cap = b->cap_nodes ? b->cap_nodes * 2 : 16;
		Node *n = nnl_malloc((size_t)cap * sizeof *n);
		if (!n)
			return NULL;
		if (b->n_nodes)
			memcpy(n, b->nodes, (size_t)b->n_nodes * sizeof *n);
		free(b->nodes);
		b->nodes = n;
		b->cap_nodes = cap;
	}
	Node *n = &b->nodes[b->n_nodes++];
	memset(n, 0, sizeof *n);
	return n;
}

const char *shape_str(int rank, const int64_t *shape, char *buf, size_t size)
{
	size_t k = 0;
	int w = snprintf(buf, size, "[");
	k = w > 0 ? (size_t)w : 0;
	for (int i = 0; i < rank && k < size; i++) {
		w = snprintf(buf + k, size - k, i ? ", %lld" : "%lld", (long long)shape[i]);
		if (w < 0)
			break;
		k += (size_t)w;
	}
	if (k < size)
		snprintf(buf + k, size - k, "]");
	return buf;
}

int64_t model_param_count(const Model *m)
{
	int64_t n = 0;
	for (int b = 0; b < m->n_blocks; b++)
		for (int i = 0; i < m->blocks[b].n_tensors; i++)
			if (m->blocks[b].tensors[i].data)
				n += tensor_numel(&m->blocks[b].tensors[i]);
	return n;
}

void op_error(const OpCtx *c, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const Node *n = c->node;
	const OpInfo *o = op_info(n->op);
	if (n->id)
		diag_add(c->diag, "%s: blocks[%d].layers[%d] (%s '%s'): %s", c->file ? c->file : "<model>", c->block,
		         n->layer, o->name, n->id, msg);
	else
		diag_add(c->diag, "%s: blocks[%d].layers[%d] (%s): %s", c->file ? c->file : "<model>", c->block,
		         n->layer, o->name, msg);
}
