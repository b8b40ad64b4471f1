/* test_docs — the worked example of docs/ir.md is a real, loadable model.
 *
 * Extracts the JSON of "## A complete example", writes it into a temporary
 * folder with zero-filled weight files of the sizes its Tensor entries give,
 * and loads it: a doc example that stops matching the format fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend.h"

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = 0;
	fclose(f);
	return s;
}

static void docs_example_loads(void **state)
{
	(void)state;
	char *doc = read_all(NNL_SOURCE_DIR "/docs/ir.md");
	char *sec = strstr(doc, "## A complete example");
	assert_non_null(sec);
	char *start = strstr(sec, "```json\n");
	assert_non_null(start);
	start += 8;
	char *end = strstr(start, "\n```");
	assert_non_null(end);
	*end = 0;

	char dir[] = "/tmp/nnl-docs-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[512];
	snprintf(path, sizeof path, "%s/weights", dir);
	assert_int_equal(mkdir(path, 0755), 0);

	json_error_t err;
	json_t *root = json_loads(start, 0, &err);
	if (!root)
		fail_msg("docs/ir.md example is not JSON: line %d: %s", err.line, err.text);
	size_t bi, li;
	json_t *blk, *lay;
	int files = 0;
	json_array_foreach(json_object_get(root, "blocks"), bi, blk) {
		json_array_foreach(json_object_get(blk, "layers"), li, lay) {
			const char *data = json_string_value(json_object_get(lay, "data"));
			if (!data)
				continue;
			size_t k;
			json_t *dim;
			long n = 4; /* the example is float32 */
			json_array_foreach(json_object_get(lay, "shape"), k, dim) n *= (long)json_integer_value(dim);
			snprintf(path, sizeof path, "%s/%s", dir, data);
			FILE *f = fopen(path, "wb");
			assert_non_null(f);
			for (long i = 0; i < n; i++)
				fputc(0, f);
			fclose(f);
			files++;
		}
	}
	json_decref(root);
	assert_true(files > 0);

	Diag d;
	diag_init(&d);
	snprintf(path, sizeof path, "%s/model.json", dir);
	Model *m = json_load_model_buffer(start, strlen(start), path, dir, &d);
	if (!m) {
		diag_print(&d, "test_docs");
		fail_msg("the example of docs/ir.md does not load");
	}
	assert_int_equal(m->n_blocks, 3);
	assert_int_equal(model_param_count(m), 105868);
	model_free(m);
	diag_free(&d);

	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(docs_example_loads)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
