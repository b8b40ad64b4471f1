/* nnl-run — the reference interpreter on the command line.
 *
 *   nnl-run model.json --input x.npy|x.bin [-o y.npy|y.bin]
 *   nnl-run model.json --eval-idx IMAGES LABELS [--limit N] [--pixel-scale S]
 *   nnl-run model.json --summary
 *
 * Flags in, library calls, messages out: this is the only layer that prints
 * and exits.
 */
#include "frontend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "nnl-run";

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: nnl-run MODEL.json --input X.npy|X.bin [-o Y.npy|Y.bin]\n"
	        "       nnl-run MODEL.json --eval-idx IMAGES LABELS [--limit N] [--pixel-scale S]\n"
	        "       nnl-run MODEL.json --summary\n"
	        "\n"
	        "Runs the reference interpreter on a model in the JSON model IR.\n"
	        "\n"
	        "  --input FILE      model input: .npy (the model's input shape, or a batch of\n"
	        "                    them along axis 0 when the model's batch size is 1), or raw\n"
	        "                    .bin of exactly the input's size in the input datatype\n"
	        "  -o FILE           write the output (.npy or raw .bin); without it, print it\n"
	        "  --eval-idx IMAGES LABELS\n"
	        "                    top-1 accuracy over an IDX data set (gzip accepted), e.g.\n"
	        "                    /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
	        "  --limit N         only the first N samples\n"
	        "  --pixel-scale S   multiply uint8 pixels by S (default 1/255: inputs in [0, 1])\n"
	        "  --summary         load and verify, then print blocks, layers and parameters\n"
	        "  -h, --help        this text\n");
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void print_summary(const Model *m)
{
	char s1[256], s2[256];
	printf("model '%s': input %s %s, output %s %s\n", m->name, dtype_name(m->in_dtype),
	       shape_str(m->in_rank, m->in_shape, s1, sizeof s1), dtype_name(m->out_dtype),
	       shape_str(m->out_rank, m->out_shape, s2, sizeof s2));
	int64_t bytes = 0;
	for (int b = 0; b < m->n_blocks; b++) {
		const Block *bl = &m->blocks[b];
		printf("  block %d '%s': %d ops, output %s\n", b, bl->name, bl->n_nodes,
		       shape_str(bl->out_rank, bl->out_shape, s1, sizeof s1));
		for (int i = 0; i < bl->n_tensors; i++)
			if (bl->tensors[i].data)
				bytes += bl->tensors[i].nbytes;
	}
	printf("parameters: %lld (%lld bytes of constant data)\n", (long long)model_param_count(m), (long long)bytes);
}

/* Print a small output in full, a large one abbreviated, with the argmax. */
static void print_output(const Model *m, const void *y)
{
	int64_t n = shape_numel(m->out_rank, m->out_shape);
	int64_t best = 0;
	for (int64_t i = 0; i < n; i++) {
		double v = dtype_get(m->out_dtype, y, i);
		if (i < 32 || i == n - 1)
			printf("%s%.7g", i ? " " : "", v);
		else if (i == 32)
			printf(" ...");
		if (v > dtype_get(m->out_dtype, y, best))
			best = i;
	}
	printf("\nargmax: %lld\n", (long long)best);
}

static int run_input(const Model *m, const char *in_path, const char *out_path, Diag *d)
{
	int64_t in_n = shape_numel(m->in_rank, m->in_shape), out_n = shape_numel(m->out_rank, m->out_shape);
	int64_t in_bytes = dtype_bytes(m->in_dtype, in_n), out_bytes = dtype_bytes(m->out_dtype, out_n);
	NdArray x = {0};
	int64_t batch = 1;
	char s1[256], s2[256];
	if (ends_with(in_path, ".npy")) {
		if (npy_read(in_path, &x, d) < 0)
			return -1;
		int same = x.rank == m->in_rank && memcmp(x.shape, m->in_shape, (size_t)x.rank * sizeof(int64_t)) == 0;
		int batched = !same && x.rank == m->in_rank && m->in_rank > 0 && m->in_shape[0] == 1 &&
		              memcmp(x.shape + 1, m->in_shape + 1, (size_t)(x.rank - 1) * sizeof(int64_t)) == 0;
		if (!same && !batched) {
			diag_add(d, "%s: array has shape %s, expected the model's input shape %s (or a batch of it along axis 0)",
			         in_path, shape_str(x.rank, x.shape, s1, sizeof s1),
			         shape_str(m->in_rank, m->in_shape, s2, sizeof s2));
			ndarray_free(&x);
			return -1;
		}
		if (x.dtype != m->in_dtype) {
			diag_add(d, "%s: array is %s, expected the model's input datatype %s", in_path, dtype_name(x.dtype),
			         dtype_name(m->in_dtype));
			ndarray_free(&x);
			return -1;
		}
		if (batched)
			batch = x.shape[0];
	} else {
		if (raw_read(in_path, in_bytes, &x.data, d) < 0) {
			diag_add(d, "%s: a raw input must hold exactly the model's input: %s %s = %lld bytes", in_path,
			         dtype_name(m->in_dtype), shape_str(m->in_rank, m->in_shape, s1, sizeof s1),
			         (long long)in_bytes);
			return -1;
		}
	}
	int64_t total_out;
	if (nnl_mul_i64(out_bytes, batch, &total_out) < 0) {
		ndarray_free(&x);
		diag_add(d, "%s: batch too large", in_path);
		return -1;
	}
	unsigned char *y = nnl_malloc((size_t)total_out);
	if (!y) {
		ndarray_free(&x);
		diag_add(d, "out of memory for the output");
		return -1;
	}
	int rc = 0;
	for (int64_t b = 0; b < batch && rc == 0; b++)
		rc = model_eval(m, (unsigned char *)x.data + b * in_bytes, y + b * out_bytes, d);
	if (rc == 0) {
		if (!out_path) {
			for (int64_t b = 0; b < batch; b++)
				print_output(m, y + b * out_bytes);
		} else if (ends_with(out_path, ".npy")) {
			NdArray o = {m->out_dtype, m->out_rank, {0}, y, total_out};
			memcpy(o.shape, m->out_shape, sizeof o.shape);
			if (batch > 1)
				o.shape[0] = batch;
			rc = npy_write(out_path, &o, d);
		} else {
			rc = raw_write(out_path, y, total_out, d);
		}
	}
	free(y);
	ndarray_free(&x);
	return rc;
}

static int eval_idx(const Model *m, const char *images, const char *labels, long limit, double scale, Diag *d)
{
	NdArray im = {0}, lb = {0};
	int rc = -1;
	char s1[256], s2[256];
	if (idx_read(images, &im, d) < 0 || idx_read(labels, &lb, d) < 0)
		goto out;
	int64_t n = im.shape[0];
	int64_t per = n ? shape_numel(im.rank - 1, im.shape + 1) : 0;
	int64_t in_n = shape_numel(m->in_rank, m->in_shape);
	int64_t out_n = shape_numel(m->out_rank, m->out_shape);
	if (per != in_n) {
		diag_add(d, "%s: samples have shape %s (%lld values), expected %lld values for the model input %s", images,
		         shape_str(im.rank - 1, im.shape + 1, s1, sizeof s1), (long long)per, (long long)in_n,
		         shape_str(m->in_rank, m->in_shape, s2, sizeof s2));
		goto out;
	}
	if (lb.rank != 1 || lb.shape[0] != n || !dtype_is_int(lb.dtype)) {
		diag_add(d, "%s: labels have shape %s, expected %lld integer labels (one per image in %s)", labels,
		         shape_str(lb.rank, lb.shape, s1, sizeof s1), (long long)n, images);
		goto out;
	}
	if (m->in_dtype != DT_FLOAT32 && m->in_dtype != im.dtype) {
		diag_add(d, "%s: model input is %s; --eval-idx feeds float32 (scaled) or the IDX datatype (%s)", images,
		         dtype_name(m->in_dtype), dtype_name(im.dtype));
		goto out;
	}
	if (limit > 0 && limit < n)
		n = limit;
	int64_t classes = out_n;
	float *x = nnl_malloc((size_t)in_n * sizeof *x);
	unsigned char *y = nnl_malloc((size_t)dtype_bytes(m->out_dtype, out_n));
	int64_t *per_class = nnl_calloc((size_t)classes * 2, sizeof(int64_t));
	if (!x || !y || !per_class) {
		diag_add(d, "out of memory");
		free(x);
		free(y);
		free(per_class);
		goto out;
	}
	int64_t correct = 0;
	double t0 = now(), last = t0;
	int tty = isatty(2);
	for (int64_t i = 0; i < n; i++) {
		const void *inp = (const unsigned char *)im.data + i * dtype_bytes(im.dtype, per);
		if (m->in_dtype == DT_FLOAT32) {
			for (int64_t k = 0; k < in_n; k++)
				x[k] = (float)(dtype_get(im.dtype, im.data, i * per + k) * (im.dtype == DT_UINT8 ? scale : 1.0));
			inp = x;
		}
		if (model_eval(m, inp, y, d) < 0) {
			diag_add(d, "%s: while running sample %lld", images, (long long)i);
			free(x);
			free(y);
			free(per_class);
			goto out;
		}
		int64_t best = 0;
		for (int64_t k = 1; k < out_n; k++)
			if (dtype_get(m->out_dtype, y, k) > dtype_get(m->out_dtype, y, best))
				best = k;
		int64_t label = dtype_get_i64(lb.dtype, lb.data, i);
		if (label >= 0 && label < classes) {
			per_class[2 * label]++;
			per_class[2 * label + 1] += best == label;
		}
		correct += best == label;
		double t = now();
		if (t - last > (tty ? 0.25 : 5.0) || i + 1 == n) {
			fprintf(stderr, "%s[%lld/%lld] accuracy so far %.2f%%, %.2f ms/sample%s", tty ? "\r" : "",
			        (long long)(i + 1), (long long)n, 100.0 * correct / (double)(i + 1),
			        1e3 * (t - t0) / (double)(i + 1), tty ? "" : "\n");
			last = t;
		}
	}
	if (tty && n > 0)
		fprintf(stderr, "\n");
	double secs = now() - t0;
	printf("model: %s\n", m->name);
	printf("data: %s (%lld samples)\n", images, (long long)n);
	printf("per class:");
	for (int64_t k = 0; k < classes; k++)
		if (per_class[2 * k])
			printf(" %lld:%.1f%%", (long long)k, 100.0 * per_class[2 * k + 1] / (double)per_class[2 * k]);
	printf("\n");
	printf("top-1 accuracy: %.2f%% (%lld/%lld)\n", n ? 100.0 * correct / (double)n : 0.0, (long long)correct,
	       (long long)n);
	printf("time: %.2f s (%.3f ms/sample, reference interpreter)\n", secs, n ? 1e3 * secs / (double)n : 0.0);
	free(x);
	free(y);
	free(per_class);
	rc = 0;
out:
	ndarray_free(&im);
	ndarray_free(&lb);
	return rc;
}

int main(int argc, char **argv)
{
	const char *model_path = NULL, *in_path = NULL, *out_path = NULL, *images = NULL, *labels = NULL;
	long limit = 0;
	double scale = 1.0 / 255.0;
	int summary = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--input") && more) {
			in_path = argv[++i];
		} else if (!strcmp(a, "-o") && more) {
			out_path = argv[++i];
		} else if (!strcmp(a, "--eval-idx") && i + 2 < argc) {
			images = argv[++i];
			labels = argv[++i];
		} else if (!strcmp(a, "--limit") && more) {
			char *end;
			limit = strtol(argv[++i], &end, 10);
			if (*end || limit <= 0) {
				fprintf(stderr, "%s: error: --limit '%s': expected a positive integer\n", prog, argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--pixel-scale") && more) {
			char *end;
			scale = strtod(argv[++i], &end);
			if (*end || !isfinite(scale)) {
				fprintf(stderr, "%s: error: --pixel-scale '%s': expected a number\n", prog, argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--summary")) {
			summary = 1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "%s: error: unknown option or missing value: '%s' (see --help)\n", prog, a);
			return 2;
		} else if (!model_path) {
			model_path = a;
		} else {
			fprintf(stderr, "%s: error: unexpected argument '%s': one model only (see --help)\n", prog, a);
			return 2;
		}
	}
	if (!model_path || (!in_path && !images && !summary)) {
		fprintf(stderr, "%s: error: %s\n", prog,
		        !model_path ? "no model given" : "nothing to do: give --input, --eval-idx or --summary");
		usage(stderr);
		return 2;
	}
	if (in_path && images) {
		fprintf(stderr, "%s: error: --input and --eval-idx cannot be combined\n", prog);
		return 2;
	}
	Diag d;
	diag_init(&d);
	Model *m = json_load_model(model_path, &d);
	int rc = 1;
	if (m) {
		if (summary)
			print_summary(m);
		if (in_path)
			rc = run_input(m, in_path, out_path, &d) < 0;
		else if (images)
			rc = eval_idx(m, images, labels, limit, scale, &d) < 0;
		else
			rc = 0;
	}
	diag_print(&d, prog);
	diag_free(&d);
	model_free(m);
	return rc;
}
