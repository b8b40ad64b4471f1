/* test_load.c — the model.json loader on good and (mostly) bad input.
 *
 * One test per kind of bad input, each asserting on the message text: a
 * loader that fails for the wrong reason, or says nothing useful, fails here.
 * Most models are written inline (single quotes stand for double quotes, to
 * keep them readable); the weight files they point to live in a temporary
 * folder made by the group setup, next to an "outside" folder that a symlink
 * escapes to. test/bad/ holds the file fixtures (syntax errors, duplicate
 * keys, wrong-size and missing weights). Runs under ASan/UBSan/LSan: every
 * failure path must also free what it built.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frontend.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NNL_SOURCE_DIR
#define NNL_SOURCE_DIR ".."
#endif

static char tmpdir[256];   /* the model folder of the inline models */
static char outside[300];  /* a folder beside it */

static void write_file(const char *dir, const char *rel, const void *data, size_t n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (n)
		assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
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

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/nnl-test-load-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	char p[512];
	snprintf(p, sizeof p, "%s/weights", tmpdir);
	mkdir(p, 0755);
	snprintf(outside, sizeof outside, "%s-outside", tmpdir);
	mkdir(outside, 0755);
	static float w[100];
	for (int i = 0; i < 100; i++)
		w[i] = (float)i / 100.0f;
	write_file(tmpdir, "weights/fc.bin", w, sizeof w);           /* [10, 10] float32 */
	write_file(tmpdir, "weights/short.bin", w, sizeof w - 4);    /* 396 bytes */
	write_file(outside, "secret.bin", w, sizeof w);
	snprintf(p, sizeof p, "%s/weights/evil.bin", tmpdir);
	char target[600];
	snprintf(target, sizeof target, "%s/secret.bin", outside);
	if (symlink(target, p) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/weights/alias.bin", tmpdir);
	if (symlink("fc.bin", p) < 0) /* stays inside: allowed */
		return -1;
	snprintf(p, sizeof p, "%s/sub", tmpdir);
	mkdir(p, 0755);
	(void)state;
	return 0;
}

static int teardown(void **state)
{
	rm_tree(tmpdir);
	rm_tree(outside);
	(void)state;
	return 0;
}

/* ---- building inline models ------------------------------------------------ */

static char jbuf[65536];

/* printf, then ' → " */
static const char *J(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(jbuf, sizeof jbuf, fmt, ap);
	va_end(ap);
	for (char *p = jbuf; *p; p++)
		if (*p == '\'')
			*p = '"';
	return jbuf;
}

#define HDR(in, out) \
	"'input_shape': " in ", 'input_datatype': 'float32', 'output_shape': " out ", 'output_datatype': 'float32'"
/* One model, one block, input [1, 10] float32, output [1, 10] float32. */
#define M1(layers) \
	"{'type': 'Model', 'name': 'm', " HDR("[1, 10]", "[1, 10]") ", 'blocks': [{'type': 'Block', 'name': 'b', " \
	HDR("[1, 10]", "[1, 10]") ", 'layers': [" layers "]}]}"
#define RELU_Y "{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 'Y'}"
#define FC_W "{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': 'weights/fc.bin'}"

static Model *load_str(const char *json, Diag *d)
{
	return json_load_model_buffer(json, strlen(json), "model.json", tmpdir, d);
}

/* The load must fail with a message containing each of the given parts. */
static void expect_error_v(Model *m, Diag *d, const char *const *parts)
{
	if (m) {
		model_free(m);
		fail_msg("the model loaded, expected an error containing '%s'", parts[0]);
	}
	assert_true(d->n > 0);
	if (getenv("NNL_TEST_VERBOSE"))
		print_message("%s\n", d->msgs[0]);
	for (int i = 0; parts[i]; i++)
		if (!strstr(d->msgs[0], parts[i]))
			fail_msg("message:\n  %s\nexpected it to contain:\n  %s", d->msgs[0], parts[i]);
}

#define EXPECT(json, ...) \
	do { \
		Diag d_; \
		diag_init(&d_); \
		const char *const parts_[] = {__VA_ARGS__, NULL}; \
		expect_error_v(load_str(J("%s", json), &d_), &d_, parts_); \
		diag_free(&d_); \
	} while (0)

#define EXPECT_FILE(rel, ...) \
	do { \
		Diag d_; \
		diag_init(&d_); \
		const char *const parts_[] = {__VA_ARGS__, NULL}; \
		expect_error_v(json_load_model(NNL_SOURCE_DIR "/test/bad/" rel, &d_), &d_, parts_); \
		diag_free(&d_); \
	} while (0)

static Model *expect_ok(const char *json)
{
	Diag d;
	diag_init(&d);
	Model *m = load_str(json, &d);
	if (!m)
		fail_msg("expected the model to load, got: %s", d.n ? d.msgs[0] : "(no message)");
	diag_free(&d);
	return m;
}

/* ---- good models ------------------------------------------------------------ */

static void test_minimal(void **state)
{
	Model *m = expect_ok(J(M1(RELU_Y)));
	assert_int_equal(m->n_blocks, 1);
	Block *b = &m->blocks[0];
	assert_int_equal(b->x, 0);
	assert_string_equal(b->tensors[b->x].name, "X");
	assert_string_equal(b->tensors[b->y].name, "Y");
	assert_int_equal(b->n_nodes, 1);
	assert_int_equal(b->nodes[0].op, OP_RELU);
	assert_int_equal(b->n_layers, 1);
	assert_string_equal(m->path, "model.json");
	model_free(m);
	(void)state;
}

static void test_features(void **state)
{
	Model *m = expect_ok(J(M1(FC_W ","
	                          "{'type': 'Tensor', 'name': 'bias', 'shape': [10], 'datatype': 'float32', 'value': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9.5]},"
	                          "{'type': 'Tensor', 'name': 't1', 'shape': [1, 10], 'datatype': 'float32'},"
	                          "{'type': 'Layer', 'name': 'Linear', 'id': 'fc1', 'tensor_input': ['X', 'w', 'bias'], 'tensor_output': ['t1']},"
	                          "{'type': 'Tensor', 'name': 'two', 'shape': [], 'datatype': 'float32', 'value': 2},"
	                          "{'type': '.*', 'tensor_input': ['t1', 'two'], 'tensor_output': 't2', 'comment': 'scaled'},"
	                          "{'type': 'Layer', 'name': 'LeakyReLU', 'tensor_input': 't2', 'tensor_output': 'Y', 'attributes': {'negative_slope': 0.2}}")));
	Block *b = &m->blocks[0];
	assert_int_equal(b->n_nodes, 3);
	assert_int_equal(b->n_layers, 7);
	Node *fc = &b->nodes[0];
	assert_string_equal(fc->id, "fc1");
	assert_int_equal(fc->layer, 3);
	assert_int_equal(fc->n_in, 3);
	assert_true(fc->in_is_list);
	assert_int_equal(fc->n_out_list, 1);
	int w = block_find_tensor(b, "w"), bias = block_find_tensor(b, "bias"), t1 = block_find_tensor(b, "t1");
	assert_true(w > 0 && bias > 0 && t1 > 0);
	assert_string_equal(b->tensors[w].data_path, "weights/fc.bin");
	assert_int_equal(b->tensors[w].nbytes, 400);
	assert_float_equal(((float *)b->tensors[w].data)[42], 0.42f, 1e-7);
	assert_true(b->tensors[bias].inline_value);
	assert_float_equal(((float *)b->tensors[bias].data)[9], 9.5f, 0);
	assert_true(b->tensors[t1].declared);
	assert_int_equal(b->tensors[t1].decl_layer, 2);
	assert_null(b->tensors[t1].data);
	assert_int_equal(b->nodes[1].op, OP_MUL);
	assert_false(b->nodes[1].in_is_list == 0);
	Node *lr = &b->nodes[2];
	assert_int_equal(lr->op, OP_LEAKYRELU);
	assert_true(lr->attr_given[0]);
	assert_float_equal(lr->attrs[0].f, 0.2, 0);
	assert_int_equal(b->tensors[b->y].rank, 2);
	model_free(m);
	(void)state;
}

static void test_defaults(void **state)
{
	Model *m = expect_ok(J("{'type': 'Model', 'name': '', " HDR("[1, 1, 8, 8]", "[1, 1, 4, 4]") ", 'blocks': [{'type': 'Block', 'name': '', "
	                       HDR("[1, 1, 8, 8]", "[1, 1, 4, 4]") ", 'layers': ["
	                       "{'type': 'Layer', 'name': 'MaxPool2d', 'tensor_input': 'X', 'tensor_output': 't', 'attributes': {'kernel_size': 2}},"
	                       "{'type': 'Layer', 'name': 'GELU', 'tensor_input': 't', 'tensor_output': 'Y', 'attributes': {'approximate': 'tanh'}}]}]}"));
	Node *mp = &m->blocks[0].nodes[0];
	const AttrValue *ks = node_attr(mp, "kernel_size"), *st = node_attr(mp, "stride"), *pad = node_attr(mp, "padding"),
	                *cm = node_attr(mp, "ceil_mode");
	assert_true(ks->set && ks->n == 1 && ks->i[0] == 2);
	assert_false(st->set); /* default "null": absent */
	assert_true(pad->set && pad->i[0] == 0);
	assert_true(cm->set && cm->i[0] == 0);
	assert_true(mp->attr_given[0]);
	assert_false(mp->attr_given[1]);
	assert_string_equal(node_attr(&m->blocks[0].nodes[1], "approximate")->s, "tanh");
	model_free(m);
	(void)state;
}

static void test_inside_symlink_ok(void **state)
{
	Model *m = expect_ok(J(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': 'weights/alias.bin'},"
	                          "{'type': 'Layer', 'name': 'Linear', 'tensor_input': ['X', 'w'], 'tensor_output': 'Y'}")));
	model_free(m);
	(void)state;
}

static void test_int_values(void **state)
{
	Model *m = expect_ok(J(M1("{'type': 'Tensor', 'name': 'big', 'shape': [2], 'datatype': 'int64', 'value': [1152921504606846977, -9223372036854775808]},"
	                          "{'type': 'Tensor', 'name': 'q', 'shape': [3, 2], 'datatype': 'int8', 'value': [-128, 127, 0, 1, 2.0, 3],"
	                          " 'quantization': {'scale': [0.5, 0.25, 0.125], 'zero_point': [0, -1, 1], 'axis': 0}},"
	                          "{'type': 'Tensor', 'name': 'flag', 'shape': [1], 'datatype': 'bool', 'value': true}," RELU_Y)));
	Block *b = &m->blocks[0];
	Tensor *big = &b->tensors[block_find_tensor(b, "big")];
	assert_int_equal(((int64_t *)big->data)[0], INT64_C(1152921504606846977));
	assert_int_equal(((int64_t *)big->data)[1], INT64_MIN);
	Tensor *q = &b->tensors[block_find_tensor(b, "q")];
	assert_int_equal(((int8_t *)q->data)[0], -128);
	assert_int_equal(((int8_t *)q->data)[4], 2);
	assert_non_null(q->quant);
	assert_int_equal(q->quant->n, 3);
	assert_int_equal(q->quant->axis, 0);
	assert_float_equal(q->quant->scale[2], 0.125, 0);
	assert_int_equal(q->quant->zero_point[1], -1);
	model_free(m);
	(void)state;
}

/* A valid model under allocation failure at every point: no crash, no leak,
 * NULL and a message each time, until enough allocations succeed. */
static void test_alloc_failures(void **state)
{
	const char *json = J(M1(FC_W ","
	                        "{'type': 'Tensor', 'name': 'bias', 'shape': [10], 'datatype': 'float32', 'value': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]},"
	                        "{'type': 'Tensor', 'name': 't1', 'shape': [1, 10], 'datatype': 'float32', 'quantization': {'scale': 0.1, 'zero_point': 3}},"
	                        "{'type': 'Layer', 'name': 'Linear', 'id': 'fc1', 'tensor_input': ['X', 'w', 'bias'], 'tensor_output': 't1'},"
	                        "{'type': 'Layer', 'name': 'LeakyReLU', 'id': 'act', 'tensor_input': 't1', 'tensor_output': 'Y'}"));
	char *copy = strdup(json);
	int ok = 0;
	long n;
	for (n = 1; n < 100000 && !ok; n++) {
		Diag d;
		diag_init(&d);
		nnl_fail_alloc_after(n);
		Model *m = load_str(copy, &d);
		nnl_fail_alloc_after(0);
		if (m) {
			ok = 1;
			model_free(m);
		} else {
			if (d.n == 0 && !d.oom)
				fail_msg("allocation %ld failed without a message", n);
			if (d.n > 0 && !strstr(d.msgs[0], "out of memory"))
				fail_msg("allocation %ld failed with an unrelated message: %s", n, d.msgs[0]);
		}
		diag_free(&d);
	}
	assert_true(ok);
	assert_true(n > 10); /* the loop did exercise failures */
	free(copy);
	(void)state;
}

/* ---- syntax ----------------------------------------------------------------- */

static void test_syntax_error(void **state)
{
	EXPECT_FILE("syntax.json", "syntax.json:4:", "expected");
	(void)state;
}

static void test_syntax_error_buffer(void **state)
{
	EXPECT("{\n 'type': 'Model',\n 'name': [1, 2,]\n}", "model.json:3:");
	(void)state;
}

static void test_duplicate_key(void **state)
{
	EXPECT_FILE("duplicate_key.json", "duplicate_key.json:8:", "duplicate object key");
	(void)state;
}

static void test_missing_file(void **state)
{
	EXPECT_FILE("no_such_model.json", "no_such_model.json", "No such file");
	(void)state;
}

static void test_not_object(void **state)
{
	EXPECT("[1, 2]", "model.json: the top level is a list", "expected a Model object");
	EXPECT("{'type': 'Block'}", "model: \"type\" is \"Block\", expected \"Model\"");
	(void)state;
}

static void test_empty_blocks(void **state)
{
	EXPECT("{'type': 'Model', 'name': 'm', " HDR("[1]", "[1]") ", 'blocks': []}", "blocks: is a list", "non-empty");
	EXPECT("{'type': 'Model', 'name': 'm', " HDR("[1]", "[1]") "}", "missing \"blocks\"");
	(void)state;
}

/* ---- keys --------------------------------------------------------------------- */

static void test_unknown_key(void **state)
{
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_inputs': 'X', 'tensor_output': 'Y'}"),
	       "blocks[0].layers[0]: unknown key 'tensor_inputs', did you mean 'tensor_input'?");
	EXPECT("{'type': 'Model', 'name': 'm', 'version': 2, " HDR("[1]", "[1]") ", 'blocks': [1]}",
	       "model: unknown key 'version'", "expected type, name");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [1], 'datatype': 'float32', 'value': 1, 'quantization': {'scale': 1, 'zeropoint': 0}}," RELU_Y),
	       "blocks[0].layers[0] ('c').quantization: unknown key 'zeropoint', did you mean 'zero_point'?");
	(void)state;
}

static void test_missing_fields(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'datatype': 'float32'}," RELU_Y), "blocks[0].layers[0]: missing \"shape\"");
	EXPECT(M1("{'type': 'Tensor', 'shape': [1], 'datatype': 'float32'}," RELU_Y), "blocks[0].layers[0]: missing \"name\"");
	EXPECT(M1("{'name': 'ReLU'}"), "blocks[0].layers[0]: missing \"type\"");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_output': 'Y'}"), "(ReLU): missing \"tensor_input\"");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': []}"), "\"tensor_input\" is an empty list");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': ['Y', 'Z']}"),
	       "\"tensor_output\" has 2 names, expected exactly one");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': [3], 'tensor_output': 'Y'}"),
	       "\"tensor_input\"[0] is an integer (3), expected a tensor name");
	(void)state;
}

/* ---- ops and attributes ----------------------------------------------------------- */

static void test_unknown_op(void **state)
{
	EXPECT(M1("{'type': 'Layer', 'name': 'Conv3d', 'tensor_input': 'X', 'tensor_output': 'Y'}"),
	       "model.json: blocks[0].layers[0]: unknown op 'Conv3d'", "Linear, Conv1d, Conv2d");
	EXPECT(M1("{'type': 'Layer', 'name': 'Relu', 'tensor_input': 'X', 'tensor_output': 'Y'}"),
	       "unknown op 'Relu', did you mean 'ReLU'?");
	EXPECT(M1("{'type': '**', 'tensor_input': ['X', 'X'], 'tensor_output': 'Y'}"), "unknown entry type '**'",
	       "=, +, -, .*, *, ./, %, ^x");
	EXPECT(M1("{'type': 'Layer', 'tensor_input': 'X', 'tensor_output': 'Y'}"), "Layer has no \"name\"");
	(void)state;
}

static void test_direct_op_with_name(void **state)
{
	EXPECT(M1("{'type': '+', 'name': 'add1', 'tensor_input': ['X', 'X'], 'tensor_output': 'Y'}"),
	       "the direct op '+' has a \"name\" ('add1')", "use \"id\"");
	(void)state;
}

static void test_wrong_arity(void **state)
{
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'id': 'r', 'tensor_input': ['X', 'X'], 'tensor_output': 'Y'}"),
	       "blocks[0].layers[0] (ReLU 'r'): has 2 inputs, expected 1 (x)");
	EXPECT(M1("{'type': 'Layer', 'name': 'Linear', 'tensor_input': 'X', 'tensor_output': 'Y'}"),
	       "(Linear): has 1 input, expected 2 to 3");
	(void)state;
}

static void test_unknown_attribute(void **state)
{
	EXPECT(M1("{'type': 'Layer', 'name': 'Softmax', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': {'axis': 1}}"),
	       "(Softmax): unknown attribute 'axis', expected one of dim");
	EXPECT(M1("{'type': 'Layer', 'name': 'Softmax', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': {'dimm': 1}}"),
	       "unknown attribute 'dimm', did you mean 'dim'?");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': {'inplace': true}}"),
	       "unknown attribute 'inplace': ReLU has no attributes");
	(void)state;
}

static void test_attribute_type(void **state)
{
	EXPECT(M1("{'type': 'Layer', 'name': 'Softmax', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': {'dim': '1'}}"),
	       "attribute 'dim' is a string (\"1\"), expected integer");
	EXPECT(M1("{'type': 'Layer', 'name': 'Softmax', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': {'dim': 1.5}}"),
	       "attribute 'dim' is a number (1.5), expected integer");
	EXPECT(M1("{'type': 'Layer', 'name': 'LeakyReLU', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': {'negative_slope': true}}"),
	       "attribute 'negative_slope' is a boolean (true), expected number");
	EXPECT(M1("{'type': 'Layer', 'name': 'GELU', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': {'approximate': 'a very long string indeed'}}"),
	       "attribute 'approximate'", "at most 15 characters");
	EXPECT(M1("{'type': 'Layer', 'name': 'Softmax', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': {'dim': null}}"),
	       "attribute 'dim' is null, expected integer");
	EXPECT(M1("{'type': 'Layer', 'name': 'Softmax', 'tensor_input': 'X', 'tensor_output': 'Y', 'attributes': [1]}"),
	       "\"attributes\" is a list ([1]), expected an object");
	(void)state;
}

static void test_attribute_lists(void **state)
{
	const char *conv = "{'type': 'Model', 'name': 'm', " HDR("[1, 1, 8, 8]", "[1, 2, 8, 8]") ", 'blocks': [{'type': 'Block', 'name': 'b', "
	                   HDR("[1, 1, 8, 8]", "[1, 2, 8, 8]") ", 'layers': ["
	                   "{'type': 'Tensor', 'name': 'w', 'shape': [2, 1, 3, 3], 'datatype': 'float32', 'value': [1,1,1,1,1,1,1,1,1,2,2,2,2,2,2,2,2,2]},"
	                   "{'type': 'Layer', 'name': 'Conv2d', 'tensor_input': ['X', 'w'], 'tensor_output': 'Y', 'attributes': {%s}}]}]}";
	char a[4096];
	snprintf(a, sizeof a, conv, "'padding': 'middle'");
	EXPECT(a, "attribute 'padding' is \"middle\", expected integer, list of integers, \"same\" or \"valid\"");
	snprintf(a, sizeof a, conv, "'stride': []");
	EXPECT(a, "attribute 'stride' has 0 values, expected 1 to 8");
	snprintf(a, sizeof a, conv, "'stride': [1, 1, 1, 1, 1, 1, 1, 1, 1]");
	EXPECT(a, "attribute 'stride' has 9 values, expected 1 to 8");
	snprintf(a, sizeof a, conv, "'stride': [1, 'x']");
	EXPECT(a, "attribute 'stride'[1] is a string (\"x\"), expected an integer");
	snprintf(a, sizeof a, conv, "'padding': 'same', 'stride': [1, 1]");
	Model *m = expect_ok(J("%s", a));
	const AttrValue *pad = node_attr(&m->blocks[0].nodes[0], "padding");
	assert_string_equal(pad->s, "same");
	assert_int_equal(node_attr(&m->blocks[0].nodes[0], "stride")->n, 2);
	model_free(m);
	(void)state;
}

static void test_missing_attribute(void **state)
{
	EXPECT("{'type': 'Model', 'name': 'm', " HDR("[1, 1, 8, 8]", "[1, 1, 4, 4]") ", 'blocks': [{'type': 'Block', 'name': 'b', "
	       HDR("[1, 1, 8, 8]", "[1, 1, 4, 4]") ", 'layers': ["
	       "{'type': 'Layer', 'name': 'MaxPool2d', 'id': 'pool1', 'tensor_input': 'X', 'tensor_output': 'Y'}]}]}",
	       "blocks[0].layers[0] (MaxPool2d 'pool1'): missing required attribute 'kernel_size'");
	(void)state;
}

/* ---- tensors ------------------------------------------------------------------------ */

static void test_unknown_datatype(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [1], 'datatype': 'float8', 'value': 1}," RELU_Y),
	       "model.json: blocks[0].layers[0] ('c'): unknown datatype 'float8'", "float64, float32, float16");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [1], 'datatype': 'flaot32', 'value': 1}," RELU_Y),
	       "did you mean 'float32'?");
	EXPECT("{'type': 'Model', 'name': 'm', 'input_shape': [1], 'input_datatype': 'f32'}", "model: unknown datatype 'f32'");
	(void)state;
}

static void test_bad_dims(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [2, 3, 0], 'datatype': 'float32'}," RELU_Y),
	       "model.json: blocks[0].layers[0].shape[2]: dimension is 0, expected a positive integer");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [-3], 'datatype': 'float32'}," RELU_Y),
	       "blocks[0].layers[0].shape[0]: dimension is -3, expected a positive integer");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [2.5], 'datatype': 'float32'}," RELU_Y),
	       "shape[0]: dimension is a number (2.5), expected a positive integer");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': 5, 'datatype': 'float32'}," RELU_Y),
	       "blocks[0].layers[0].shape: is an integer (5), expected a list of positive integers");
	EXPECT("{'type': 'Model', 'name': 'm', 'input_shape': [1, 0]}", "model.input_shape[1]: dimension is 0");
	(void)state;
}

static void test_overflowing_dims(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [1048576, 1048576, 2], 'datatype': 'float32'}," RELU_Y),
	       "blocks[0].layers[0].shape: shape [1048576, 1048576, 2] has more than 2^40 elements");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [4611686018427387904, 4611686018427387904], 'datatype': 'float32'}," RELU_Y),
	       "has more than 2^40 elements");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [99999999999999999999], 'datatype': 'float32'}," RELU_Y),
	       "model.json:1:", "too big");
	(void)state;
}

static void test_rank_too_big(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [1, 1, 1, 1, 1, 1, 1, 1, 1], 'datatype': 'float32'}," RELU_Y),
	       "blocks[0].layers[0].shape: rank 9 is more than 8 dimensions");
	(void)state;
}

static void test_values(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [3], 'datatype': 'float32', 'value': [1, 2]}," RELU_Y),
	       "('c'): \"value\" has 2 numbers, expected 3 (shape [3])");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [3], 'datatype': 'float32', 'value': 1}," RELU_Y),
	       "\"value\" is one number but shape [3] has 3 elements");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [2], 'datatype': 'float32', 'value': [1, [2]]}," RELU_Y),
	       "\"value\"[1] is a list ([2]), expected a number");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [1], 'datatype': 'int8', 'value': 300}," RELU_Y),
	       "\"value\" is 300, out of range for int8 [-128, 127]");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [2], 'datatype': 'uint4', 'value': [1, 2.5]}," RELU_Y),
	       "\"value\"[1] is a number (2.5), expected an integer for uint4");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [1], 'datatype': 'float16', 'value': 1e10}," RELU_Y),
	       "out of range for float16");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [1], 'datatype': 'float32', 'value': 'one'}," RELU_Y),
	       "\"value\" is a string (\"one\"), expected a number");
	EXPECT(M1("{'type': 'Tensor', 'name': 'c', 'shape': [100], 'datatype': 'float32', 'value': 1, 'data': 'weights/fc.bin'}," RELU_Y),
	       "has both \"data\" and \"value\"");
	(void)state;
}

static void test_quantization(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'q', 'shape': [3, 2], 'datatype': 'int8', 'quantization': {'scale': [1, 2]}}," RELU_Y),
	       "('q').quantization: 2 values per channel but no \"axis\"");
	EXPECT(M1("{'type': 'Tensor', 'name': 'q', 'shape': [3, 2], 'datatype': 'int8', 'quantization': {'scale': [1, 2], 'axis': 0}}," RELU_Y),
	       "2 values but shape[0] is 3, expected 1 or 3 values");
	EXPECT(M1("{'type': 'Tensor', 'name': 'q', 'shape': [3, 2], 'datatype': 'int8', 'quantization': {'scale': 0}}," RELU_Y),
	       "quantization.scale: an integer (0), expected a positive number");
	EXPECT(M1("{'type': 'Tensor', 'name': 'q', 'shape': [3, 2], 'datatype': 'uint8', 'quantization': {'scale': 0.5, 'zero_point': 256}}," RELU_Y),
	       "zero_point is 256, out of range for uint8 [0, 255]");
	EXPECT(M1("{'type': 'Tensor', 'name': 'q', 'shape': [3, 2], 'datatype': 'int8', 'quantization': {'scale': 1, 'axis': 2}}," RELU_Y),
	       "quantization.axis: 2 is out of range for rank 2");
	EXPECT(M1("{'type': 'Tensor', 'name': 'q', 'shape': [3, 2], 'datatype': 'int8', 'quantization': {'zero_point': 1}}," RELU_Y),
	       "missing \"scale\"");
	(void)state;
}

/* ---- weight files ---------------------------------------------------------------------- */

static void test_missing_weight_file(void **state)
{
	EXPECT_FILE("missing_weight/model.json", "missing_weight/model.json: blocks[0].layers[0] ('fc1.weight')",
	            "weight file 'weights/fc1.bin' not found");
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': 'weights/nope.bin'}," RELU_Y),
	       "weight file 'weights/nope.bin' not found");
	(void)state;
}

static void test_wrong_size_weight_file(void **state)
{
	EXPECT_FILE("wrong_size/model.json", "weights/fc1.bin is 396 bytes, expected 400 (shape [10, 10] float32)");
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': 'weights/short.bin'}," RELU_Y),
	       "('w'): weights/short.bin is 396 bytes, expected 400 (shape [10, 10] float32)");
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float16', 'data': 'weights/fc.bin'}," RELU_Y),
	       "weights/fc.bin is 400 bytes, expected 200 (shape [10, 10] float16)");
	(void)state;
}

static void test_absolute_weight_path(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': '/etc/passwd'}," RELU_Y),
	       "weight path '/etc/passwd' is absolute, expected a path relative to the model's folder");
	(void)state;
}

static void test_dotdot_weight_path(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': 'weights/../../secret.bin'}," RELU_Y),
	       "weight path 'weights/../../secret.bin' contains '..'");
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': '..'}," RELU_Y),
	       "contains '..'");
	(void)state;
}

static void test_symlink_escape(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': 'weights/evil.bin'}," RELU_Y),
	       "weight path 'weights/evil.bin' resolves to", "outside the model's folder");
	(void)state;
}

static void test_weight_not_a_file(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': 'sub'}," RELU_Y),
	       "weight file 'sub' is not a regular file");
	EXPECT(M1("{'type': 'Tensor', 'name': 'w', 'shape': [10, 10], 'datatype': 'float32', 'data': ''}," RELU_Y),
	       "\"data\" is empty");
	(void)state;
}

/* ---- names and order ---------------------------------------------------------------------- */

static void test_used_before_definition(void **state)
{
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'x7', 'tensor_output': 'Y'}"),
	       "model.json: blocks[0].layers[0] (ReLU): input 'x7' is not defined (expected a Tensor entry or the output of an earlier layer)");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'id': 'r1', 'tensor_input': 't', 'tensor_output': 'Y'},"
	          "{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 't'}"),
	       "(ReLU 'r1'): input 't' is not defined");
	EXPECT(M1("{'type': 'Tensor', 'name': 't', 'shape': [1, 10], 'datatype': 'float32'},"
	          "{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 't', 'tensor_output': 'Y'},"
	          "{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 't'}"),
	       "blocks[0].layers[1] (ReLU): input 't' is used before it is written (declared at layers[0]");
	(void)state;
}

static void test_never_defined(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 't', 'shape': [1, 10], 'datatype': 'float32'}," RELU_Y),
	       "blocks[0].layers[0] ('t'): tensor 't' is declared but never written");
	(void)state;
}

static void test_duplicate_names(void **state)
{
	EXPECT(M1(FC_W "," FC_W "," RELU_Y), "blocks[0].layers[1] ('w'): duplicate tensor 'w', already defined (a constant, layers[0])");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 't'},"
	          "{'type': 'Tensor', 'name': 't', 'shape': [1, 10], 'datatype': 'float32'}," RELU_Y),
	       "duplicate tensor 't', already defined (written by layers[0])");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 't'},"
	          "{'type': 'Layer', 'name': 'Sigmoid', 'tensor_input': 'X', 'tensor_output': 't'}," RELU_Y),
	       "blocks[0].layers[1] (Sigmoid): output 't' is already defined (written by layers[0]); each tensor is written by one layer only");
	EXPECT(M1(FC_W ", {'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 'w'}," RELU_Y),
	       "output 'w' is already defined (a constant, layers[0])");
	(void)state;
}

static void test_x_and_y(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'X', 'shape': [1, 10], 'datatype': 'float32'}," RELU_Y),
	       "blocks[0].layers[0] ('X'): 'X' is the block input, it cannot be redefined");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 'X'}"),
	       "output 'X' is the block input, it cannot be written");
	EXPECT(M1("{'type': 'Tensor', 'name': 'Y', 'shape': [1, 10], 'datatype': 'float32', 'value': [0,0,0,0,0,0,0,0,0,0]}"),
	       "'Y' is the block output, it cannot be a constant");
	EXPECT(M1("{'type': 'Layer', 'name': 'ReLU', 'tensor_input': 'X', 'tensor_output': 't'}"),
	       "model.json: blocks[0]: 'Y' is never produced, expected the block's last op to write it");
	(void)state;
}

/* ---- what model_infer adds ------------------------------------------------------------------ */

static void test_blocks_do_not_chain(void **state)
{
	EXPECT("{'type': 'Model', 'name': 'm', " HDR("[1, 10]", "[1, 5]") ", 'blocks': ["
	       "{'type': 'Block', 'name': 'a', " HDR("[1, 10]", "[1, 10]") ", 'layers': [" RELU_Y "]},"
	       "{'type': 'Block', 'name': 'b', " HDR("[1, 5]", "[1, 5]") ", 'layers': [" RELU_Y "]}]}",
	       "blocks[1]: input_shape is [1, 5] but blocks[0]'s output is [1, 10]");
	EXPECT("{'type': 'Model', 'name': 'm', " HDR("[1, 10]", "[1, 10]") ", 'blocks': ["
	       "{'type': 'Block', 'name': 'a', " HDR("[1, 10]", "[1, 5]") ", 'layers': [" RELU_Y "]}]}",
	       "output_shape is [1, 5] but the tensor Y computed by its layers is [1, 10]");
	(void)state;
}

static void test_declared_shape_mismatch(void **state)
{
	EXPECT(M1("{'type': 'Tensor', 'name': 'Y', 'shape': [1, 11], 'datatype': 'float32'}," RELU_Y),
	       "output 'Y' is declared (layers[0]) with shape [1, 11] but the op produces [1, 10]");
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_inside_symlink_ok),
		cmocka_unit_test(test_int_values),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_syntax_error_buffer),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_not_object),
		cmocka_unit_test(test_empty_blocks),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_unknown_op),
		cmocka_unit_test(test_direct_op_with_name),
		cmocka_unit_test(test_wrong_arity),
		cmocka_unit_test(test_unknown_attribute),
		cmocka_unit_test(test_attribute_type),
		cmocka_unit_test(test_attribute_lists),
		cmocka_unit_test(test_missing_attribute),
		cmocka_unit_test(test_unknown_datatype),
		cmocka_unit_test(test_bad_dims),
		cmocka_unit_test(test_overflowing_dims),
		cmocka_unit_test(test_rank_too_big),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_quantization),
		cmocka_unit_test(test_missing_weight_file),
		cmocka_unit_test(test_wrong_size_weight_file),
		cmocka_unit_test(test_absolute_weight_path),
		cmocka_unit_test(test_dotdot_weight_path),
		cmocka_unit_test(test_symlink_escape),
		cmocka_unit_test(test_weight_not_a_file),
		cmocka_unit_test(test_used_before_definition),
		cmocka_unit_test(test_never_defined),
		cmocka_unit_test(test_duplicate_names),
		cmocka_unit_test(test_x_and_y),
		cmocka_unit_test(test_blocks_do_not_chain),
		cmocka_unit_test(test_declared_shape_mismatch),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
