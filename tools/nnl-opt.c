/* nnl-opt — graph passes, JSON → JSON.
 *
 *   nnl-opt model.json -passes=fold-bn,lowrank(energy=0.9),prune(sparsity=0.5) -o OUTDIR
 *           [--force] [--report[=json]] [--calib IMAGES LABELS] [--limit N]
 *   nnl-opt model.json --rank-drop IMAGES LABELS [--limit N]
 *   nnl-opt --list-passes
 *
 * Flags in, library calls, messages out. Nothing is written unless every
 * pass succeeded and the result loads (json_write_model is atomic).
 */
#include "frontend.h"
#include "gopt.h"
#include "quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "nnl-opt";

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: nnl-opt MODEL.json -passes=PIPELINE -o OUTDIR [--force] [--report[=json]]\n"
	        "               [--calib IMAGES LABELS] [--limit N] [--pixel-scale S]\n"
	        "       nnl-opt MODEL.json --rank-drop IMAGES LABELS [--limit N]\n"
	        "       nnl-opt --list-passes\n"
	        "\n"
	        "Runs graph passes on a model in the JSON model IR and writes the result as\n"
	        "OUTDIR/model.json + OUTDIR/weights/ (whole or not at all).\n"
	        "\n"
	        "  -passes=PIPELINE  pass,pass(key=value,...),...  e.g.\n"
	        "                    -passes='fold-bn,lowrank(energy=0.9),prune(sparsity=0.5)'\n"
	        "  -o OUTDIR         output folder; must not exist unless --force\n"
	        "  --report[=json]   per-layer table of what changed (parameters, MACs) on stdout\n"
	        "  --calib IMAGES LABELS  IDX data for passes that measure accuracy (drop-layer auto=)\n"
	        "  --limit N         only the first N samples of the data\n"
	        "  --pixel-scale S   uint8 pixels × S (default 1/255)\n"
	        "  --calibrate FILE  quantize: calibration samples, IDX images (.gz) or .npy\n"
	        "  --calib-size N    quantize: number of calibration samples (default 1000)\n"
	        "  --calib-method M  quantize: minmax, percentile or mse (default minmax)\n"
	        "  --int8-io         quantize: integer model input and output\n"
	        "  --rank-drop IMAGES LABELS  print the accuracy loss of removing each removable layer alone\n"
	        "  --list-passes     the passes and their arguments\n");
}

static int rank_drop(const Model *m, const GoptData *data, Diag *d)
{
	DropCand *c = NULL;
	int n = 0;
	double base = 0;
	if (gopt_rank_drop(m, data, &c, &n, &base, d) < 0) {
		free(c);
		return -1;
	}
	/* most harmless first */
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && c[k].acc > c[k - 1].acc; k--) {
			DropCand t = c[k];
			c[k] = c[k - 1];
			c[k - 1] = t;
		}
	printf("baseline accuracy %.4f on %s%s\n", base, data->images, data->limit ? " (limited)" : "");
	printf("%-4s %-28s %-9s %9s %9s %10s %12s\n", "rank", "layer", "kind", "accuracy", "loss", "params", "MACs");
	for (int i = 0; i < n; i++)
		printf("%-4d %-28s %-9s %9.4f %9.4f %10lld %12lld\n", i + 1, c[i].name, c[i].residual ? "residual" : "layer",
		       c[i].acc, base - c[i].acc, (long long)c[i].params, (long long)c[i].macs);
	if (n == 0)
		printf("(no layer can be removed without changing a shape)\n");
	free(c);
	return 0;
}

int main(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *passes = NULL;
	int force = 0, report = 0, rank = 0;
	GoptData data = {NULL, NULL, 0, 1.0 / 255.0};
	QuantizeOptions qopt = {NULL, 0, NULL, 0}; /* the quantize pass's calibration (opt/graph/quantize.h) */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--list-passes")) {
			gopt_print_passes(stdout);
			return 0;
		} else if (!strncmp(a, "-passes=", 8) || !strncmp(a, "--passes=", 9)) {
			passes = strchr(a, '=') + 1;
		} else if (!strcmp(a, "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(a, "--force")) {
			force = 1;
		} else if (!strcmp(a, "--report")) {
			report = 1;
		} else if (!strcmp(a, "--report=json")) {
			report = 2;
		} else if ((!strcmp(a, "--calib") || !strcmp(a, "--rank-drop")) && i + 2 < argc) {
			rank |= !strcmp(a, "--rank-drop");
			data.images = argv[++i];
			data.labels = argv[++i];
		} else if (!strcmp(a, "--limit") && i + 1 < argc) {
			char *e;
			data.limit = strtol(argv[++i], &e, 10);
			if (*e || data.limit <= 0) {
				fprintf(stderr, "%s: error: --limit %s: expected a positive integer\n", prog, argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--pixel-scale") && i + 1 < argc) {
			char *e;
			data.pixel_scale = strtod(argv[++i], &e);
			if (*e || !(data.pixel_scale > 0)) {
				fprintf(stderr, "%s: error: --pixel-scale %s: expected a positive number\n", prog, argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--calibrate") && i + 1 < argc) {
			qopt.calibrate = argv[++i];
		} else if (!strcmp(a, "--calib-size") && i + 1 < argc) {
			char *e;
			qopt.calib_size = strtol(argv[++i], &e, 10);
			if (*e || qopt.calib_size <= 0) {
				fprintf(stderr, "%s: error: --calib-size %s: expected a positive integer\n", prog, argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--calib-method") && i + 1 < argc) {
			qopt.method = argv[++i];
		} else if (!strcmp(a, "--int8-io")) {
			qopt.int8_io = 1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "%s: error: unknown or incomplete option '%s' (see --help)\n", prog, a);
			return 2;
		} else if (!in) {
			in = a;
		} else {
			fprintf(stderr, "%s: error: more than one model given ('%s' and '%s')\n", prog, in, a);
			return 2;
		}
	}
	if (!in || (!rank && (!passes || !out))) {
		fprintf(stderr, "%s: error: %s\n", prog,
		        !in ? "no model given" : !passes ? "no -passes= given" : "no -o OUTDIR given");
		usage(stderr);
		return 2;
	}
	Diag d;
	diag_init(&d);
	GPipeline pl = {0};
	PassReport r = {0};
	Model *m = NULL;
	int rc = 1;
	if (passes && gopt_parse(passes, &pl, &d) < 0)
		goto done;
	if (!(m = json_load_model(in, &d)))
		goto done;
	if (rank) {
		rc = rank_drop(m, &data, &d) < 0;
		goto done;
	}
	gopt_quantize_set_options(&qopt);
	if (gopt_run(m, &pl, &data, &r, &d) < 0)
		goto done;
	if (json_write_model(m, out, force, &d) < 0)
		goto done;
	if (report == 2)
		report_print_json(&r, stdout);
	else if (report)
		report_print(&r, stdout);
	rc = 0;
done:
	diag_print(&d, prog);
	diag_free(&d);
	report_free(&r);
	gopt_pipeline_free(&pl);
	model_free(m);
	return rc;
}
