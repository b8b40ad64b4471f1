/* test_roundtrip.c — the writer against the loader.
 *
 * A model using every feature of the format (several blocks, weight files
 * with safe and unsafe paths, inline values of several datatypes, per-tensor
 * and per-channel quantization, an unused constant, direct ops, list and
 * string forms of tensor_input/tensor_output, given, defaulted and null
 * attributes) goes load → write → load: the graphs must be the same, the
 * reference interpreter must give the same bytes, and writing the reloaded
 * model must give a byte-identical model.json. Then the folder contract:
 * existing output needs force, nothing is left behind on failure, including
 * under allocation failure at every point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frontend.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char src[300]; /* the hand-written model */

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (n)
		assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return s;
}

static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[1024];
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* Entries of tmpdir whose name contains s (leftover temporaries). */
static int count_entries(const char *s)
{
	int n = 0;
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, s))
			n++;
	if (d)
		closedir(d);
	return n;
}

static const char *model_json =
	"{\n"
	" 'type': 'Model', 'name': 'every feature', 'comment': 'hand-written for test_roundtrip',\n"
	" 'input_shape': [1, 1, 8, 8], 'input_datatype': 'float32', 'output_shape': [1, 3], 'output_datatype': 'float32',\n"
	" 'blocks': [\n"
	"  {'type': 'Block', 'name': 'features', 'input_shape': [1, 1, 8, 8], 'input_datatype': 'float32',\n"
	"   'output_shape': [1, 2, 4, 4], 'output_datatype': 'float32', 'layers': [\n"
	"    {'type': 'Tensor', 'name': 'conv.weight', 'shape': [2, 1, 3, 3], 'datatype': 'float32', 'data': 'params/conv weight.bin'},\n"
	"    {'type': 'Tensor', 'name': 'conv.bias', 'shape': [2], 'datatype': 'float32', 'value': [0.1, -0.25]},\n"
	"    {'type': 'Tensor', 'name': 'lut', 'shape': [2, 3], 'datatype': 'int8', 'value': [-128, -1, 0, 1, 2, 127],\n"
	"     'quantization': {'scale': [0.5, 0.25], 'zero_point': [1, -2], 'axis': -2}},\n"
	"    {'type': 'Tensor', 'name': 't1', 'shape': [1, 2, 8, 8], 'datatype': 'float32', 'quantization': {'scale': 0.05, 'zero_point': 0}},\n"
	"    {'type': 'Layer', 'name': 'Conv2d', 'id': 'features.0', 'tensor_input': ['X', 'conv.weight', 'conv.bias'], 'tensor_output': 't1',\n"
	"     'attributes': {'padding': 'same', 'stride': [1, 1], 'groups': 1}},\n"
	"    {'type': 'Layer', 'name': 'LeakyReLU', 'id': 'features.1', 'tensor_input': ['t1'], 'tensor_output': ['t2'], 'attributes': {'negative_slope': 0.1}},\n"
	"    {'type': 'Layer', 'name': 'MaxPool2d', 'tensor_input': 't2', 'tensor_output': 't3', 'attributes': {'kernel_size': [2, 2], 'stride': null, 'ceil_mode': false}},\n"
	"    {'type': '^x', 'tensor_input': 't3', 'tensor_output': 't4', 'attributes': {'exponent': 2}},\n"
	"    {'type': 'Tensor', 'name': 'half', 'shape': [], 'datatype': 'float32', 'value': 0.5},\n"
	"    {'type': '.*', 'id': 'scale', 'tensor_input': ['t4', 'half'], 'tensor_output': 't5'},\n"
	"    {'type': '+', 'tensor_input': ['t5', 't3'], 'tensor_output': 't6'},\n"
	"    {'type': '=', 'tensor_input': 't6', 'tensor_output': 'Y'}\n"
	"   ]},\n"
	"  {'type': 'Block', 'name': 'classifier', 'input_shape': [1, 2, 4, 4], 'input_datatype': 'float32',\n"
	"   'output_shape': [1, 3], 'output_datatype': 'float32', 'layers': [\n"
	"    {'type': 'Layer', 'name': 'Flatten', 'tensor_input': 'X', 'tensor_output': 'f'},\n"
	"    {'type': 'Tensor', 'name': 'fc.weight', 'shape': [3, 32], 'datatype': 'float16', 'data': 'weights/fc.weight.bin'},\n"
	"    {'type': 'Tensor', 'name': 'fc.bias', 'shape': [3], 'datatype': 'float32', 'data': 'weights/fc.bias.bin'},\n"
	"    {'type': 'Layer', 'name': 'Linear', 'id': 'fc', 'tensor_input': ['f', 'fc.weight', 'fc.bias'], 'tensor_output': 'l'},\n"
	"    {'type': 'Layer', 'name': 'GELU', 'tensor_input': 'l', 'tensor_output': 'g', 'attributes': {'approximate': 'tanh'}},\n"
	"    {'type': 'Tensor', 'name': 'three', 'shape': [1], 'datatype': 'float32', 'value': [3]},\n"
	"    {'type': './', 'tensor_input': ['g', 'three'], 'tensor_output': 'd'},\n"
	"    {'type': 'Tensor', 'name': 'mix', 'shape': [3, 3], 'datatype': 'float32', 'value': [1, 0, 0, 0.5, 1, 0, 0, 0.125, 1]},\n"
	"    {'type': '*', 'tensor_input': ['d', 'mix'], 'tensor_output': 'm'},\n"
	"    {'type': 'Layer', 'name': 'Softmax', 'tensor_input': 'm', 'tensor_output': 'Y', 'attributes': {'dim': -1}}\n"
	"   ]}\n"
	" ]\n"
	"}\n";

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/nnl-test-roundtrip-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	char p[512];
	snprintf(src, sizeof src, "%s/src", tmpdir);
	mkdir(src, 0755);
	snprintf(p, sizeof p, "%s/params", src);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/weights", src);
	mkdir(p, 0755);
	float cw[18], fb[3] = {0.5f, -0.5f, 0.25f};
	uint16_t fw[96];
	for (int i = 0; i < 18; i++)
		cw[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
	for (int i = 0; i < 96; i++)
		fw[i] = nnl_float_to_half((float)((i * 53) % 29) / 29.0f - 0.4f);
	snprintf(p, sizeof p, "%s/params/conv weight.bin", src);
	write_file(p, cw, sizeof cw);
	snprintf(p, sizeof p, "%s/weights/fc.weight.bin", src);
	write_file(p, fw, sizeof fw);
	snprintf(p, sizeof p, "%s/weights/fc.bias.bin", src);
	write_file(p, fb, sizeof fb);
	char *json = strdup(model_json);
	for (char *c = json; *c; c++)
		if (*c == '\'')
			*c = '"';
	snprintf(p, sizeof p, "%s/model.json", src);
	write_file(p, json, strlen(json));
	free(json);
	(void)state;
	return 0;
}

static int teardown(void **state)
{
	rm_tree(tmpdir);
	(void)state;
	return 0;
}

static Model *load(const char *dir)
{
	char p[512];
	snprintf(p, sizeof p, "%s/model.json", dir);
	Diag d;
	diag_init(&d);
	Model *m = json_load_model(p, &d);
	if (!m)
		fail_msg("loading %s: %s", p, d.n ? d.msgs[0] : "(no message)");
	diag_free(&d);
	return m;
}

static void write_ok(const Model *m, const char *dir, int force)
{
	Diag d;
	diag_init(&d);
	if (json_write_model(m, dir, force, &d) < 0)
		fail_msg("writing %s: %s", dir, d.n ? d.msgs[0] : "(no message)");
	diag_free(&d);
}

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

/* The same graph: headers, nodes in order (inputs and outputs by name), and
 * tensors by name (datatype, shape, data, quantization, inline or not).
 * Weight file names may differ: the writer renames unsafe ones. */
static void assert_same_model(const Model *a, const Model *b)
{
	assert_true(same_str(a->name, b->name));
	assert_int_equal(a->n_blocks, b->n_blocks);
	assert_int_equal(a->in_rank, b->in_rank);
	assert_memory_equal(a->in_shape, b->in_shape, sizeof a->in_shape[0] * (size_t)a->in_rank);
	assert_int_equal(a->out_rank, b->out_rank);
	assert_memory_equal(a->out_shape, b->out_shape, sizeof a->out_shape[0] * (size_t)a->out_rank);
	assert_int_equal(a->in_dtype, b->in_dtype);
	assert_int_equal(a->out_dtype, b->out_dtype);
	for (int bi = 0; bi < a->n_blocks; bi++) {
		const Block *x = &a->blocks[bi], *y = &b->blocks[bi];
		assert_true(same_str(x->name, y->name));
		assert_int_equal(x->in_rank, y->in_rank);
		assert_int_equal(x->out_rank, y->out_rank);
		assert_memory_equal(x->in_shape, y->in_shape, sizeof x->in_shape[0] * (size_t)x->in_rank);
		assert_memory_equal(x->out_shape, y->out_shape, sizeof x->out_shape[0] * (size_t)x->out_rank);
		assert_int_equal(x->in_dtype, y->in_dtype);
		assert_int_equal(x->out_dtype, y->out_dtype);
		assert_int_equal(x->n_tensors, y->n_tensors);
		assert_int_equal(x->n_nodes, y->n_nodes);
		assert_string_equal(x->tensors[x->x].name, "X");
		assert_string_equal(y->tensors[y->x].name, "X");
		assert_string_equal(y->tensors[y->y].name, "Y");
		for (int ni = 0; ni < x->n_nodes; ni++) {
			const Node *p = &x->nodes[ni], *q = &y->nodes[ni];
			assert_int_equal(p->op, q->op);
			assert_true(same_str(p->id, q->id));
			assert_int_equal(p->n_in, q->n_in);
			for (int i = 0; i < p->n_in; i++)
				assert_string_equal(x->tensors[p->in[i]].name, y->tensors[q->in[i]].name);
			assert_string_equal(x->tensors[p->out].name, y->tensors[q->out].name);
			assert_int_equal(p->in_is_list || p->n_in > 1, q->in_is_list || q->n_in > 1);
			assert_int_equal(p->n_out_list, q->n_out_list);
			assert_memory_equal(p->attr_given, q->attr_given, sizeof p->attr_given);
			assert_memory_equal(p->attrs, q->attrs, sizeof p->attrs);
		}
		for (int ti = 0; ti < x->n_tensors; ti++) {
			const Tensor *s = &x->tensors[ti];
			int k = block_find_tensor(y, s->name);
			if (k < 0)
				fail_msg("tensor '%s' of blocks[%d] is missing after the round trip", s->name, bi);
			const Tensor *t = &y->tensors[k];
			assert_int_equal(s->dtype, t->dtype);
			assert_int_equal(s->rank, t->rank);
			assert_memory_equal(s->shape, t->shape, sizeof s->shape[0] * (size_t)s->rank);
			assert_int_equal(!!s->data, !!t->data);
			if (s->data) {
				assert_int_equal(s->nbytes, t->nbytes);
				assert_memory_equal(s->data, t->data, (size_t)s->nbytes);
				assert_int_equal(s->inline_value, t->inline_value);
			}
			assert_int_equal(!!s->quant, !!t->quant);
			if (s->quant) {
				assert_int_equal(s->quant->n, t->quant->n);
				assert_int_equal(s->quant->axis, t->quant->axis);
				assert_memory_equal(s->quant->scale, t->quant->scale, sizeof(double) * (size_t)s->quant->n);
				assert_memory_equal(s->quant->zero_point, t->quant->zero_point, sizeof(int64_t) * (size_t)s->quant->n);
			}
		}
	}
}

static void *run(const Model *m)
{
	float x[64];
	for (int i = 0; i < 64; i++)
		x[i] = (float)((i * 29) % 31) / 31.0f - 0.5f;
	float *y = calloc(3, sizeof *y);
	Diag d;
	diag_init(&d);
	if (model_eval(m, x, y, &d) < 0)
		fail_msg("model_eval: %s", d.n ? d.msgs[0] : "(no message)");
	diag_free(&d);
	return y;
}

static void test_roundtrip(void **state)
{
	char out1[512], out2[512], p1[600], p2[600];
	snprintf(out1, sizeof out1, "%s/out1", tmpdir);
	snprintf(out2, sizeof out2, "%s/out2", tmpdir);
	Model *m1 = load(src);
	write_ok(m1, out1, 0);
	Model *m2 = load(out1);
	assert_same_model(m1, m2);
	write_ok(m2, out2, 0);
	Model *m3 = load(out2);
	assert_same_model(m2, m3);

	snprintf(p1, sizeof p1, "%s/model.json", out1);
	snprintf(p2, sizeof p2, "%s/model.json", out2);
	size_t n1, n2;
	char *t1 = read_file(p1, &n1), *t2 = read_file(p2, &n2);
	assert_non_null(t1);
	assert_non_null(t2);
	assert_int_equal(n1, n2);
	assert_memory_equal(t1, t2, n1);

	/* json_model_text is the same text */
	Diag d;
	diag_init(&d);
	char *t3 = json_model_text(m2, &d);
	assert_non_null(t3);
	assert_string_equal(t3, t1);
	free(t3);
	diag_free(&d);

	/* what the text says: unsafe path renamed, safe kept, inline stays inline,
	 * declarations with inferred shapes, defaults not written, null kept */
	assert_non_null(strstr(t1, "\"data\": \"weights/conv.weight.bin\""));
	assert_non_null(strstr(t1, "\"data\": \"weights/fc.weight.bin\""));
	assert_non_null(strstr(t1, "\"value\": [0.1, -0.25]"));
	assert_non_null(strstr(t1, "\"value\": 0.5\n"));
	assert_non_null(strstr(t1, "\"name\": \"t3\",\n          \"shape\": [1, 2, 4, 4],"));
	assert_non_null(strstr(t1, "\"attributes\": {\"kernel_size\": [2, 2], \"stride\": null, \"ceil_mode\": false}"));
	assert_non_null(strstr(t1, "\"quantization\": {\"scale\": [0.5, 0.25], \"zero_point\": [1, -2], \"axis\": 0}"));
	assert_non_null(strstr(t1, "\"tensor_output\": [\"t2\"]"));
	assert_null(strstr(t1, "dilation"));
	assert_null(strstr(t1, "comment"));
	snprintf(p1, sizeof p1, "%s/weights/conv.weight.bin", out1);
	struct stat st;
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_size, 18 * 4);

	/* the interpreter agrees bit for bit */
	float *y1 = run(m1), *y3 = run(m3);
	assert_memory_equal(y1, y3, 3 * sizeof(float));
	free(y1);
	free(y3);

	assert_int_equal(count_entries(".tmp-"), 0);
	assert_int_equal(count_entries(".old-"), 0);
	free(t1);
	free(t2);
	model_free(m1);
	model_free(m2);
	model_free(m3);
	rm_tree(out1);
	rm_tree(out2);
	(void)state;
}

static void test_existing_output(void **state)
{
	char out[512], marker[600];
	snprintf(out, sizeof out, "%s/existing", tmpdir);
	mkdir(out, 0755);
	snprintf(marker, sizeof marker, "%s/old-file", out);
	write_file(marker, "x", 1);
	Model *m = load(src);
	Diag d;
	diag_init(&d);
	assert_int_equal(json_write_model(m, out, 0, &d), -1);
	assert_true(d.n > 0 && strstr(d.msgs[0], "already exists"));
	assert_true(access(marker, F_OK) == 0); /* untouched */
	diag_free(&d);
	write_ok(m, out, 1);                    /* replaced */
	assert_true(access(marker, F_OK) != 0);
	Model *m2 = load(out);
	assert_same_model(m, m2);
	/* a file in the way is replaced too; "dir/" names the same folder */
	char file[512], slash[600];
	snprintf(file, sizeof file, "%s/afile", tmpdir);
	write_file(file, "x", 1);
	write_ok(m, file, 1);
	snprintf(slash, sizeof slash, "%s/", file);
	write_ok(m2, slash, 1);
	model_free(m2);
	m2 = load(file);
	model_free(m2);
	assert_int_equal(count_entries(".tmp-"), 0);
	assert_int_equal(count_entries(".old-"), 0);
	model_free(m);
	rm_tree(out);
	rm_tree(file);
	(void)state;
}

static void test_missing_parent(void **state)
{
	char out[512];
	snprintf(out, sizeof out, "%s/no/such/folder", tmpdir);
	Model *m = load(src);
	Diag d;
	diag_init(&d);
	assert_int_equal(json_write_model(m, out, 0, &d), -1);
	assert_true(d.n > 0 && strstr(d.msgs[0], "cannot create the output folder"));
	diag_free(&d);
	model_free(m);
	(void)state;
}

/* The writer renames weight files whose path is unsafe or clashes, writes
 * non-finite inline values to a file, and refuses what JSON cannot say. */
static void test_paths_and_values(void **state)
{
	char out[512];
	snprintf(out, sizeof out, "%s/renamed", tmpdir);
	Model *m = load(src);
	Block *b0 = &m->blocks[0], *b1 = &m->blocks[1];
	Tensor *cw = &b0->tensors[block_find_tensor(b0, "conv.weight")];
	Tensor *fw = &b1->tensors[block_find_tensor(b1, "fc.weight")];
	Tensor *fb = &b1->tensors[block_find_tensor(b1, "fc.bias")];
	Tensor *half = &b0->tensors[block_find_tensor(b0, "half")];
	free(cw->data_path);
	cw->data_path = strdup("../escape.bin");
	free(fw->data_path);
	fw->data_path = strdup("/abs/fc.bin");
	free(fb->data_path);
	fb->data_path = strdup("WEIGHTS/FC.WEIGHT.BIN"); /* clashes with fc.weight's on a case-insensitive disk */
	free(half->name);
	half->name = strdup("a/b\"c");
	((float *)half->data)[0] = INFINITY;
	char *s;
	Diag d;
	diag_init(&d);
	s = json_model_text(m, &d);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"data\": \"weights/conv.weight.bin\""));
	assert_non_null(strstr(s, "\"data\": \"weights/fc.weight.bin\""));
	assert_non_null(strstr(s, "\"data\": \"weights/fc.bias.bin\""));
	assert_non_null(strstr(s, "\"name\": \"a/b\\\"c\""));
	assert_non_null(strstr(s, "\"data\": \"weights/a_b_c.bin\""));
	free(s);
	write_ok(m, out, 0);
	Model *m2 = load(out);
	Tensor *h2 = &m2->blocks[0].tensors[block_find_tensor(&m2->blocks[0], "a/b\"c")];
	assert_true(isinf(((float *)h2->data)[0]));
	model_free(m2);

	m->blocks[0].tensors[block_find_tensor(b0, "t1")].quant->scale[0] = NAN;
	assert_null(json_model_text(m, &d));
	assert_true(d.n > 0 && strstr(d.msgs[0], "JSON cannot represent"));
	diag_free(&d);
	model_free(m);
	rm_tree(out);
	(void)state;
}

/* Allocation failure at every point of a write: -1 and a message each time,
 * no output folder and no temporary left behind, until it succeeds. */
static void test_write_alloc_failures(void **state)
{
	char out[512];
	snprintf(out, sizeof out, "%s/oom", tmpdir);
	Model *m = load(src);
	int ok = 0;
	long n;
	for (n = 1; n < 100000 && !ok; n++) {
		Diag d;
		diag_init(&d);
		nnl_fail_alloc_after(n);
		int rc = json_write_model(m, out, 0, &d);
		nnl_fail_alloc_after(0);
		if (rc == 0) {
			ok = 1;
		} else {
			if (d.n == 0 && !d.oom)
				fail_msg("allocation %ld failed without a message", n);
			assert_true(access(out, F_OK) != 0);
			assert_int_equal(count_entries(".tmp-"), 0);
		}
		diag_free(&d);
	}
	assert_true(ok);
	assert_true(n > 5);
	Model *m2 = load(out);
	assert_same_model(m, m2);
	model_free(m2);
	model_free(m);
	rm_tree(out);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_existing_output),
		cmocka_unit_test(test_missing_parent),
		cmocka_unit_test(test_paths_and_values),
		cmocka_unit_test(test_write_alloc_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
