/* test_weights_ext.c — -weights=external end to end.
 *
 * A small MLP (Linear 16→32 + bias, ReLU, Linear 32→10 + bias) is written
 * as model.json + weight files into a temp folder and compiled by the
 * nnllc binary twice: -weights=embedded (prefix e) and -weights=external
 * (prefix m, writing m.weights.bin). A second model (hidden 24) gives a
 * blob of another model. One C driver links both objects, the runtime and
 * the blobs as data (.incbin in a .S, 16-aligned in .rodata), and prints
 * "key value" lines:
 *   - outputs of e_run and m_run, which must be equal bit for bit;
 *   - m_run and m_check_weights on RAM copies of the blob with each field
 *     corrupted (magic, version, header size, flags, payload size, model
 *     hash, checksum, a payload bit), truncated, misaligned, NULL, the other
 *     model's blob, and a valid blob with a 48-byte header (payload moved):
 *     each gives its documented code, and a failing m_run leaves the output
 *     untouched.
 * The same driver runs on the host (cc) and on Cortex-M4F under QEMU
 * mps2-an386 (the bare-metal path: blob in flash, runtime linked; visible
 * skip without arm-none-eabi-gcc / qemu-system-arm).
 * API tests: layout (16-aligned offsets), hash stable under new weight
 * values and changed by a layout change, the header text, the LLVM IR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen.h"
#include "loop.h"
#include "nnl_runtime.h"
#include "targets.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/nnl-test-wext-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int have(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* ---- the model files ------------------------------------------------------ */

enum { NIN = 16, NOUT = 10 };

static void write_floats(const char *path, int n, int seed)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (int i = 0; i < n; i++) {
		float v = (float)((i * 37 + seed * 11) % 23 - 11) / 16.0f;
		fwrite(&v, 4, 1, f);
	}
	fclose(f);
}

/* dir/model.json and the weight files under dir/weights: Linear(16, hidden) ReLU Linear(hidden, 10). */
static void write_model(const char *dir, int hidden, int seed)
{
	char path[512];
	mkdir(dir, 0755);
	snprintf(path, sizeof path, "%s/weights", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/weights/fc1.weight.bin", dir);
	write_floats(path, hidden * NIN, seed);
	snprintf(path, sizeof path, "%s/weights/fc1.bias.bin", dir);
	write_floats(path, hidden, seed + 1);
	snprintf(path, sizeof path, "%s/weights/fc2.weight.bin", dir);
	write_floats(path, NOUT * hidden, seed + 2);
	snprintf(path, sizeof path, "%s/weights/fc2.bias.bin", dir);
	write_floats(path, NOUT, seed + 3);
	snprintf(path, sizeof path, "%s/model.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "{\"type\": \"Model\", \"name\": \"mlp\", \"input_shape\": [1, %d], \"input_datatype\": \"float32\",\n"
	        " \"output_shape\": [1, %d], \"output_datatype\": \"float32\", \"blocks\": [\n"
	        " {\"type\": \"Block\", \"name\": \"b\", \"input_shape\": [1, %d], \"input_datatype\": \"float32\",\n"
	        "  \"output_shape\": [1, %d], \"output_datatype\": \"float32\", \"layers\": [\n"
	        "  {\"type\": \"Tensor\", \"name\": \"fc1.weight\", \"shape\": [%d, %d], \"datatype\": \"float32\", \"data\": \"weights/fc1.weight.bin\"},\n"
	        "  {\"type\": \"Tensor\", \"name\": \"fc1.bias\", \"shape\": [%d], \"datatype\": \"float32\", \"data\": \"weights/fc1.bias.bin\"},\n"
	        "  {\"type\": \"Tensor\", \"name\": \"h\", \"shape\": [1, %d], \"datatype\": \"float32\"},\n"
	        "  {\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fc1\", \"tensor_input\": [\"X\", \"fc1.weight\", \"fc1.bias\"], \"tensor_output\": \"h\"},\n"
	        "  {\"type\": \"Tensor\", \"name\": \"r\", \"shape\": [1, %d], \"datatype\": \"float32\"},\n"
	        "  {\"type\": \"Layer\", \"name\": \"ReLU\", \"id\": \"relu\", \"tensor_input\": \"h\", \"tensor_output\": \"r\"},\n"
	        "  {\"type\": \"Tensor\", \"name\": \"fc2.weight\", \"shape\": [%d, %d], \"datatype\": \"float32\", \"data\": \"weights/fc2.weight.bin\"},\n"
	        "  {\"type\": \"Tensor\", \"name\": \"fc2.bias\", \"shape\": [%d], \"datatype\": \"float32\", \"data\": \"weights/fc2.bias.bin\"},\n"
	        "  {\"type\": \"Layer\", \"name\": \"Linear\", \"id\": \"fc2\", \"tensor_input\": [\"r\", \"fc2.weight\", \"fc2.bias\"], \"tensor_output\": \"Y\"}\n"
	        " ]}]}\n",
	        NIN, NOUT, NIN, NOUT, hidden, NIN, hidden, hidden, hidden, NOUT, hidden, NOUT);
	fclose(f);
}

/* ---- the driver ------------------------------------------------------------ */

static const char driver_c[] =
	"#include <stdint.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"#include \"emb.h\"\n"
	"#include \"ext.h\"\n"
	"#include \"nnl_runtime.h\"\n"
	"extern const uint8_t blob_m[], blob_b[];\n"
	"extern const uint32_t blob_m_size, blob_b_size;\n"
	"#define CAP (M_WEIGHTS_BLOB_BYTES + 64)\n"
	"static _Alignas(16) uint8_t ram[CAP + 16];\n"
	"static _Alignas(64) uint8_t arena[M_ARENA_BYTES + 64];\n"
	"static float in[M_INPUT_SIZE], out_e[M_OUTPUT_SIZE], out_m[M_OUTPUT_SIZE];\n"
	"static void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);\n"
	"  p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }\n"
	"static uint32_t rd32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }\n"
	"static void fresh(void) { memcpy(ram, blob_m, blob_m_size); }\n"
	/* run m on ram (+off), size for the check; "key run check untouched" */
	"static void report(const char *key, const uint8_t *w, size_t size) {\n"
	"  float o[M_OUTPUT_SIZE];\n"
	"  for (int i = 0; i < M_OUTPUT_SIZE; i++) o[i] = -12345.0f;\n"
	"  int r = m_run(in, o, arena, w);\n"
	"  int untouched = 1;\n"
	"  for (int i = 0; i < M_OUTPUT_SIZE; i++) untouched &= o[i] == -12345.0f;\n"
	"  int same = memcmp(o, out_e, sizeof o) == 0;\n"
	"  printf(\"%s %d %d %d %d\\n\", key, r, m_check_weights(w, size), untouched, same);\n"
	"}\n"
	"int main(void) {\n"
	"  for (int i = 0; i < M_INPUT_SIZE; i++) in[i] = (float)((i * 5) % 7 - 3) * 0.375f;\n"
	"  printf(\"sizes %u %u %u\\n\", (unsigned)blob_m_size, (unsigned)M_WEIGHTS_BLOB_BYTES, (unsigned)M_WEIGHTS_BYTES);\n"
	"  printf(\"e_run %d\\n\", e_run(in, out_e, arena));\n"
	"  printf(\"m_run %d\\n\", m_run(in, out_m, arena, blob_m));\n"
	"  printf(\"bits_equal %d\\n\", memcmp(out_e, out_m, sizeof out_e) == 0);\n"
	"  unsigned nz = 0; for (int i = 0; i < M_OUTPUT_SIZE; i++) nz += out_e[i] != 0.0f;\n"
	"  printf(\"nonzero %u\\n\", nz);\n"
	"  printf(\"flash_check %d\\n\", m_check_weights(blob_m, blob_m_size));\n"
	"  fresh(); report(\"good\", ram, blob_m_size);\n"
	"  fresh(); report(\"padded\", ram, CAP);\n"
	"  fresh(); ram[0] ^= 1; report(\"magic\", ram, blob_m_size);\n"
	"  fresh(); wr32(ram + 4, 2); report(\"version\", ram, blob_m_size);\n"
	"  fresh(); wr32(ram + 8, 40); report(\"header_size\", ram, blob_m_size);\n"
	"  fresh(); wr32(ram + 24, 1); report(\"flags\", ram, blob_m_size);\n"
	"  fresh(); wr32(ram + 16, rd32(ram + 16) + 16); report(\"payload_size\", ram, CAP);\n"
	"  fresh(); wr32(ram + 12, rd32(ram + 12) ^ 0x100); report(\"hash\", ram, blob_m_size);\n"
	"  fresh(); wr32(ram + 20, rd32(ram + 20) ^ 1); report(\"checksum\", ram, blob_m_size);\n"
	"  fresh(); ram[32 + 5] ^= 0x10; report(\"payload_bit\", ram, blob_m_size);\n"
	"  fresh(); report(\"truncated\", ram, blob_m_size - 1);\n"
	"  memcpy(ram + 4, blob_m, blob_m_size); report(\"misaligned4\", ram + 4, blob_m_size);\n"
	"  memcpy(ram + 1, blob_m, blob_m_size); report(\"misaligned1\", ram + 1, blob_m_size);\n"
	"  report(\"null\", NULL, blob_m_size);\n"
	"  report(\"other_model\", blob_b, blob_b_size);\n"
	/* a valid blob with a 48-byte header: payload moved 16 bytes on */
	"  memset(ram, 0, sizeof ram); memcpy(ram, blob_m, 32); memcpy(ram + 48, blob_m + 32, blob_m_size - 32);\n"
	"  wr32(ram + 8, 48); report(\"header48\", ram, blob_m_size + 16);\n"
	"  printf(\"done\\n\");\n"
	"  return 0;\n"
	"}\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void write_blobs_s(const char *dir)
{
	char path[512], text[2048];
	snprintf(path, sizeof path, "%s/blobs.S", dir);
	snprintf(text, sizeof text,
	         "\t.section .rodata.nnlw,\"a\"\n"
	         "\t.balign 16\n\t.global blob_m\nblob_m:\n\t.incbin \"%s/m.weights.bin\"\nblob_m_end:\n"
	         "\t.balign 16\n\t.global blob_b\nblob_b:\n\t.incbin \"%s/b/b.weights.bin\"\nblob_b_end:\n"
	         "\t.balign 4\n\t.global blob_m_size\nblob_m_size:\n\t.long blob_m_end - blob_m\n"
	         "\t.global blob_b_size\nblob_b_size:\n\t.long blob_b_end - blob_b\n"
	         "\t.section .note.GNU-stack,\"\",%%progbits\n",
	         dir, dir);
	write_file(path, text);
}

/* Compile both models for march into dir (emb.o/h, ext.o/h, m.weights.bin,
 * b/b.weights.bin), write the driver and blobs.S. */
static void build_models(const char *dir, const char *march)
{
	char cmd[2048], a[512], b[512];
	mkdir(dir, 0755);
	snprintf(a, sizeof a, "%s/model_a", tmpdir);
	snprintf(b, sizeof b, "%s/model_b", tmpdir);
	write_model(a, 32, 1);
	write_model(b, 24, 5);
	const char *nnllc = NNL_BINARY_DIR "/bin/nnllc";
	snprintf(cmd, sizeof cmd, "'%s' '%s/model.json' -march=%s -name=e -o '%s/emb.o'", nnllc, a, march, dir);
	assert_int_equal(sh(cmd), 0);
	snprintf(cmd, sizeof cmd, "'%s' '%s/model.json' -march=%s -weights=external -name=m -o '%s/ext.o'", nnllc, a, march,
	         dir);
	assert_int_equal(sh(cmd), 0);
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/b' && '%s' '%s/model.json' -march=%s -weights=external -name=b -o '%s/b/b.o'",
	         dir, nnllc, b, march, dir);
	assert_int_equal(sh(cmd), 0);
	char path[512];
	snprintf(path, sizeof path, "%s/driver.c", dir);
	write_file(path, driver_c);
	write_blobs_s(dir);
}

typedef struct Row {
	char key[32];
	int run, check, untouched, same;
} Row;

/* Run cmd, parse its "key v..." lines into rows; returns the row count. */
static int run_driver(const char *cmd, Row *rows, int cap, unsigned sizes[3], int *bits_equal, int *nonzero,
                      int *flash_check)
{
	FILE *pp = popen(cmd, "r");
	assert_non_null(pp);
	char line[256];
	int n = 0, done = 0, e_run = -1, m_run = -1;
	while (fgets(line, sizeof line, pp)) {
		char key[32];
		if (sscanf(line, "%31s", key) != 1)
			continue;
		if (!strcmp(key, "sizes"))
			sscanf(line, "%*s %u %u %u", &sizes[0], &sizes[1], &sizes[2]);
		else if (!strcmp(key, "e_run"))
			sscanf(line, "%*s %d", &e_run);
		else if (!strcmp(key, "m_run"))
			sscanf(line, "%*s %d", &m_run);
		else if (!strcmp(key, "bits_equal"))
			sscanf(line, "%*s %d", bits_equal);
		else if (!strcmp(key, "nonzero"))
			sscanf(line, "%*s %d", nonzero);
		else if (!strcmp(key, "flash_check"))
			sscanf(line, "%*s %d", flash_check);
		else if (!strcmp(key, "done"))
			done = 1;
		else if (n < cap) {
			Row *r = &rows[n];
			if (sscanf(line, "%31s %d %d %d %d", r->key, &r->run, &r->check, &r->untouched, &r->same) == 5)
				n++;
		}
	}
	int rc = pclose(pp);
	assert_int_equal(rc, 0);
	assert_true(done);
	assert_int_equal(e_run, NNL_OK);
	assert_int_equal(m_run, NNL_OK);
	return n;
}

static const Row *row(const Row *rows, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(rows[i].key, key))
			return &rows[i];
	fprintf(stderr, "no row '%s' in the driver output\n", key);
	fail();
	return NULL;
}

/* The expected codes: run (each call's cheap checks), check (full). */
static void expect(const Row *rows, int n, const char *key, int run, int check)
{
	const Row *r = row(rows, n, key);
	if (r->run != run || r->check != check)
		fprintf(stderr, "%s: run %d (expected %d), check %d (expected %d)\n", key, r->run, run, r->check, check);
	assert_int_equal(r->run, run);
	assert_int_equal(r->check, check);
	if (run != NNL_OK)
		assert_true(r->untouched); /* nothing written on error */
}

static void check_results(const Row *rows, int n, const unsigned sizes[3], int bits_equal, int nonzero,
                          int flash_check)
{
	assert_int_equal(sizes[0], sizes[1]);                     /* file size = M_WEIGHTS_BLOB_BYTES */
	assert_int_equal(sizes[1], sizes[2] + NNL_WEIGHTS_HEADER_BYTES);
	assert_int_equal(bits_equal, 1);                          /* external = embedded, bit for bit */
	assert_true(nonzero > 0);
	assert_int_equal(flash_check, NNL_OK);
	expect(rows, n, "good", NNL_OK, NNL_OK);
	assert_true(row(rows, n, "good")->same);
	expect(rows, n, "padded", NNL_OK, NNL_OK);
	expect(rows, n, "magic", NNL_ERR_MAGIC, NNL_ERR_MAGIC);
	expect(rows, n, "version", NNL_ERR_VERSION, NNL_ERR_VERSION);
	expect(rows, n, "header_size", NNL_ERR_VERSION, NNL_ERR_VERSION);
	expect(rows, n, "flags", NNL_ERR_VERSION, NNL_ERR_VERSION);
	expect(rows, n, "payload_size", NNL_ERR_SIZE, NNL_ERR_SIZE);
	expect(rows, n, "hash", NNL_ERR_MODEL, NNL_ERR_MODEL);
	/* PREFIX_run does not compute the CRC (O(size)): it runs; the full check refuses */
	expect(rows, n, "checksum", NNL_OK, NNL_ERR_CHECKSUM);
	expect(rows, n, "payload_bit", NNL_OK, NNL_ERR_CHECKSUM);
	assert_false(row(rows, n, "payload_bit")->same); /* the flipped weight is used */
	/* PREFIX_run has no size argument; the check sees the truncation */
	expect(rows, n, "truncated", NNL_OK, NNL_ERR_SIZE);
	expect(rows, n, "misaligned4", NNL_ERR_ALIGN, NNL_ERR_ALIGN);
	expect(rows, n, "misaligned1", NNL_ERR_ALIGN, NNL_ERR_ALIGN);
	expect(rows, n, "null", NNL_ERR_NULL, NNL_ERR_NULL);
	expect(rows, n, "other_model", NNL_ERR_MODEL, NNL_ERR_MODEL);
	expect(rows, n, "header48", NNL_OK, NNL_OK);
	assert_true(row(rows, n, "header48")->same);
}

static void test_host_end_to_end(void **state)
{
	(void)state;
	char dir[300], cmd[4096];
	snprintf(dir, sizeof dir, "%s/host", tmpdir);
	build_models(dir, "x86-64");
	snprintf(cmd, sizeof cmd,
	         "cc -std=c11 -Wall -Wextra -Werror -I'%s' -I" NNL_SOURCE_DIR "/runtime '%s/driver.c' '%s/blobs.S' "
	         "'%s/emb.o' '%s/ext.o' " NNL_SOURCE_DIR "/runtime/nnl_runtime.c -lm -o '%s/drv'",
	         dir, dir, dir, dir, dir, dir);
	assert_int_equal(sh(cmd), 0);
	Row rows[32];
	unsigned sizes[3] = {0};
	int bits_equal = -1, nonzero = -1, flash_check = -1;
	snprintf(cmd, sizeof cmd, "'%s/drv'", dir);
	int n = run_driver(cmd, rows, 32, sizes, &bits_equal, &nonzero, &flash_check);
	check_results(rows, n, sizes, bits_equal, nonzero, flash_check);

	/* the header says what to call and link */
	char path[512];
	snprintf(path, sizeof path, "%s/ext.h", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char h[16384];
	size_t k = fread(h, 1, sizeof h - 1, f);
	h[k] = 0;
	fclose(f);
	assert_non_null(strstr(h, "int m_run(const float *input, float *output, void *arena, const void *weights);"));
	assert_non_null(strstr(h, "int m_check_weights(const void *blob, size_t size);"));
	assert_non_null(strstr(h, "#define M_WEIGHTS_HASH 0x"));
	assert_non_null(strstr(h, "#define M_ERR_CHECKSUM 6"));
	assert_non_null(strstr(h, "#define M_ERR_MODEL 7"));
	assert_non_null(strstr(h, "runtime/nnl_runtime.c"));
	assert_non_null(strstr(h, "#include <stddef.h>"));
	/* no weights in the external object: it is far smaller */
	struct stat se, sx;
	snprintf(path, sizeof path, "%s/emb.o", dir);
	assert_int_equal(stat(path, &se), 0);
	snprintf(path, sizeof path, "%s/ext.o", dir);
	assert_int_equal(stat(path, &sx), 0);
	assert_true(sx.st_size + (off_t)sizes[2] / 2 < se.st_size);
}

static void test_cortex_m4_blob_in_flash(void **state)
{
	(void)state;
	if (!have("arm-none-eabi-gcc") || !have("qemu-system-arm")) {
		fprintf(stderr, "SKIP: arm-none-eabi-gcc or qemu-system-arm not installed\n");
		skip();
	}
	char dir[300], cmd[4096];
	snprintf(dir, sizeof dir, "%s/m4", tmpdir);
	build_models(dir, "thumbv7em");
	snprintf(cmd, sizeof cmd,
	         "arm-none-eabi-gcc -std=c11 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -Wall -Werror "
	         "-I'%s' -I" NNL_SOURCE_DIR "/runtime -I" NNL_SOURCE_DIR "/targets/harness '%s/driver.c' '%s/blobs.S' "
	         NNL_SOURCE_DIR "/targets/boards/mps2-an386/startup.c '%s/emb.o' '%s/ext.o' " NNL_SOURCE_DIR
	         "/runtime/nnl_runtime.c --specs=rdimon.specs -Wl,--no-warn-execstack -T " NNL_SOURCE_DIR
	         "/targets/boards/mps2-an386/mps2-an386.ld -lm -o '%s/drv.elf'",
	         dir, dir, dir, dir, dir, dir);
	assert_int_equal(sh(cmd), 0);
	/* the blob is in flash (.rodata), not copied to RAM */
	snprintf(cmd, sizeof cmd, "arm-none-eabi-nm '%s/drv.elf' | grep -q ' [Rr] blob_m$'", dir);
	assert_int_equal(sh(cmd), 0);
	Row rows[32];
	unsigned sizes[3] = {0};
	int bits_equal = -1, nonzero = -1, flash_check = -1;
	snprintf(cmd, sizeof cmd,
	         "timeout 120 qemu-system-arm -M mps2-an386 -nographic -semihosting -monitor none -serial none "
	         "-kernel '%s/drv.elf'",
	         dir);
	int n = run_driver(cmd, rows, 32, sizes, &bits_equal, &nonzero, &flash_check);
	check_results(rows, n, sizes, bits_equal, nonzero, flash_check);
}

/* ---- API: layout, hash, IR --------------------------------------------------- */

/* y = W x + b with W [4 x 3] (48 bytes) and b [4] (16): a 3-element const
 * c between them tests the rounding of offsets. */
static LProgram *tiny(int nw)
{
	LProgram *p = loop_new("tiny");
	int x = loop_add_buf(p, "x", LB_INPUT, LT_F32, 3);
	int y = loop_add_buf(p, "y", LB_OUTPUT, LT_F32, 4);
	int w = loop_add_buf(p, "w", LB_CONST, LT_F32, nw);
	int c = loop_add_buf(p, "c", LB_CONST, LT_F32, 3);
	int b = loop_add_buf(p, "b", LB_CONST, LT_F32, 4);
	float *wd = malloc((size_t)nw * 4), *bd = malloc(16), *cd = malloc(12);
	for (int i = 0; i < nw; i++)
		wd[i] = (float)i;
	for (int i = 0; i < 4; i++)
		bd[i] = 0.5f * (float)i;
	for (int i = 0; i < 3; i++)
		cd[i] = 1.0f;
	p->bufs[w].data = wd;
	p->bufs[b].data = bd;
	p->bufs[c].data = cd;
	int i = loop_add_var(p, "i", LT_I32, 1), j = loop_add_var(p, "j", LT_I32, 1), acc = loop_add_var(p, "acc", LT_F32, 0);
	LStmt *fi = ls_for(p, &p->body, i, le_i32(p, 0), le_i32(p, 4), 1);
	ls_let(p, &fi->body, acc, le_load(p, b, le_var(p, i)));
	LStmt *fj = ls_for(p, &fi->body, j, le_i32(p, 0), le_i32(p, 3), 1);
	ls_set(p, &fj->body, acc,
	       le_bin(p, LO_ADD, le_var(p, acc),
	              le_bin(p, LO_MUL, le_load(p, w, le_add(p, le_mul_k(p, le_var(p, i), 3), le_var(p, j))),
	                     le_bin(p, LO_MUL, le_load(p, x, le_var(p, j)), le_load(p, c, le_var(p, j))))));
	ls_store(p, &fi->body, y, le_var(p, i), le_var(p, acc));
	return p;
}

static void test_layout_and_hash(void **state)
{
	(void)state;
	LProgram *p = tiny(12);
	assert_int_equal(cg_weights_offset(p, loop_find_buf(p, "w")), 0);
	assert_int_equal(cg_weights_offset(p, loop_find_buf(p, "c")), 48);
	assert_int_equal(cg_weights_offset(p, loop_find_buf(p, "b")), 64); /* 60 rounded up */
	assert_int_equal(cg_weights_offset(p, loop_find_buf(p, "x")), -1);
	Diag d;
	diag_init(&d);
	uint32_t h1, n1, h2, n2;
	assert_int_equal(cg_weights_info(p, &h1, &n1, &d), 0);
	assert_int_equal(n1, 80);
	unsigned char *blob;
	size_t len;
	assert_int_equal(cg_weights_blob(p, &blob, &len, &d), 0);
	assert_int_equal(len, 32 + 80);
	/* the runtime accepts it (copy to an aligned buffer) */
	_Alignas(16) unsigned char al[128];
	memcpy(al, blob, len);
	assert_int_equal(nnl_weights_check(al, len, h1, n1), NNL_OK);
	const float *b = (const float *)(al + 32 + 64);
	assert_true(b[3] == 1.5f);
	free(blob);
	/* new weight values: same hash (a weights-only update keeps working) */
	((float *)p->bufs[loop_find_buf(p, "w")].data)[0] = 42.0f;
	assert_int_equal(cg_weights_info(p, &h2, &n2, &d), 0);
	assert_int_equal(h2, h1);
	loop_free(p);
	/* another layout: another hash */
	p = tiny(16);
	assert_int_equal(cg_weights_info(p, &h2, &n2, &d), 0);
	assert_int_not_equal(h2, h1);
	assert_int_equal(n2, 96);
	/* write to a file atomically */
	char path[512];
	snprintf(path, sizeof path, "%s/tiny.weights.bin", tmpdir);
	assert_int_equal(cg_write_weights(p, path, &d), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 32 + 96);
	diag_free(&d);
	loop_free(p);
}

static void test_ir_and_header(void **state)
{
	(void)state;
	LProgram *p = tiny(12);
	CgOptions o = {.target = target_find("x86-64"), .opt = CG_O0, .filetype = CG_FILE_LL, .prefix = "m",
	               .weights_external = 1};
	char *out = NULL;
	size_t len = 0;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_compile_to_memory(p, &o, &out, &len, &d), 0);
	assert_non_null(strstr(out, "ptr noalias nocapture noundef readonly %weights)"));
	assert_null(strstr(out, "@m.w = private")); /* no weights in the object */
	assert_non_null(strstr(out, "call void @llvm.assume(i1 true) [ \"align\"(ptr %payload, i64 16) ]"));
	assert_non_null(strstr(out, "define i32 @m_check_weights(ptr %blob, i64 %size)"));
	assert_non_null(strstr(out, "declare i32 @nnl_weights_check(ptr, i64, i32, i32)"));
	assert_null(strstr(out, "!invariant.load"));
	free(out);
	/* every target compiles it, optimized */
	for (int i = 0; i < target_count(); i++) {
		o.target = target_at(i);
		o.opt = CG_O3;
		o.filetype = CG_FILE_OBJ;
		int rc = cg_compile_to_memory(p, &o, &out, &len, &d);
		if (rc)
			for (int k = 0; k < d.n; k++)
				fprintf(stderr, "%s: %s\n", o.target->name, d.msgs[k]);
		assert_int_equal(rc, 0);
		free(out);
	}
	o.target = target_find("x86-64");
	char *h = cg_header_text_opts(p, &o, NULL, NULL);
	assert_non_null(h);
	assert_non_null(strstr(h, "#define M_WEIGHTS_BYTES 80 "));
	assert_non_null(strstr(h, "#define M_WEIGHTS_BLOB_BYTES 112 "));
	assert_non_null(strstr(h, "int m_run(const float *input, float *output, void *arena, const void *weights);"));
	free(h);
	o.weights_external = 0;
	h = cg_header_text_opts(p, &o, NULL, NULL);
	assert_non_null(strstr(h, "int m_run(const float *input, float *output, void *arena);"));
	assert_null(strstr(h, "WEIGHTS_HASH"));
	free(h);
	diag_free(&d);
	loop_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_and_hash),
		cmocka_unit_test(test_ir_and_header),
		cmocka_unit_test(test_host_end_to_end),
		cmocka_unit_test(test_cortex_m4_blob_in_flash),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
