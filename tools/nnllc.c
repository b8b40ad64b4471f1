/* nnllc — the model compiler, llc-style:
 *   nnllc model.json -march=thumbv7em -mcpu=cortex-m4 -filetype=obj -o model.o
 * writes model.o and model.h beside it. The pipeline, top to bottom:
 *   flags → target check, the target's LowerOptions (cg_lower_options,
 *   -int8-kernels) → json_load_model → lower_model_opts → loop_verify
 *   → cg_compile (LLVM) → cg_write_header.
 * Only this file prints and exits; everything below returns a status with
 * messages in a Diag. Exit status: 0 success, 1 error, 2 bad command line.
 *
 * Defaults (and why):
 *   -march  the table's row for the host's architecture (x86-64 here), with
 *           that row's portable default cpu — like llc, which targets the
 *           host triple with a generic cpu, so the output is the same on
 *           every build machine. -march=native opts into the host's cpu and
 *           features.
 *   -O3     llc's default is -O2; models are small, hot loops where the
 *           extra unrolling and vectorization of O3 pay, and compile time
 *           is not a concern.
 *   -o      the model file's name with .json replaced by .o/.s/.ll/.bc, in
 *           the model's folder (llc's rule); the header is OUT with .h.
 *   -name   the output's base name made a C identifier ("model" for model.o).
 *   -weights=embedded  weights as const data in the object (flash); with
 *           -weights=external they go to PREFIX.weights.bin beside OUT
 *           (docs/runtime.md, "External weights").
 */
#include "codegen.h"
#include "c/c_backend.h"
#include "frontend.h"
#include "loop.h"
#include "passes.h"
#include "lower_sparse.h"
#include "estimate.h"
#include "report.h"
#include "targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NNLLC_VERSION "0.1.0"


/* "a, b, c" from the loop pass table. */
static const char *pass_names(char *buf, size_t size)
{
	int n;
	const LoopPassInfo *ps = loop_passes(&n);
	size_t k = 0;
	buf[0] = 0;
	for (int i = 0; i < n && k < size; i++) {
		int w = snprintf(buf + k, size - k, "%s%s", i ? ", " : "", ps[i].name);
		if (w < 0)
			break;
		k += (size_t)w;
	}
	if (n == 0)
		snprintf(buf, size, "none yet");
	return buf;
}

static void usage(FILE *f)
{
	char names[512], passes[512], profs[512];
	fprintf(f,
	        "usage: nnllc MODEL.json [options]\n"
	        "Compile a model (model.json + weights) to an object file, assembly or LLVM IR,\n"
	        "and write PREFIX.h beside it.\n\n"
	        "  -march=ARCH        target: %s (default: the host's, %s)\n"
	        "  -mcpu=CPU          processor (default: the target's); -mcpu=help lists them\n"
	        "  -mattr=+a,-b       extra target features\n"
	        "  -mtriple=TRIPLE    override the target triple (same architecture as -march)\n"
	        "  -O0 -O1 -O2 -O3 -Os -Oz   optimization level (default -O3)\n"
	        "  -filetype=obj|asm|c  output an object file (default), assembly, or portable C99\n"
	        "                     source PREFIX.c (docs/codegen-c.md)\n"
	        "  -emit-llvm         output LLVM IR: .ll for asm or a .ll output name, .bc for obj or .bc\n"
	        "  -name=PREFIX       symbol prefix: PREFIX_run, PREFIX.h macros (default: from the output name)\n"
	        "  -o FILE            output file ('-': stdout, no header written)\n"
	        "  -fp-reassoc        allow reassociating float sums (vectorized reductions; results\n"
	        "                     change in the last bits)\n"
	        "  -fp-contract       allow fusing a*b+c into one multiply-add\n"
	        "  -weights=embedded|external  weights as const data in the object (default), or\n"
	        "                     in PREFIX.weights.bin beside the output, passed to PREFIX_run\n"
	        "  -sparse-min=F|off  store a Linear weight sparsely (zeros skipped; docs/codegen.md) when\n"
	        "                     at least a fraction F of it is zero and that is smaller (default 0:\n"
	        "                     whenever smaller, ~20%% zeros; the kernel is faster from ~0.7 on M4)\n"
	        "  -int8-kernels=auto|portable|dsp|vector  integer conv/linear kernels (docs/quantization.md):\n"
	        "                     auto (default) picks dsp on Arm cores with the DSP extension, vector\n"
	        "                     on x86-64/aarch64/RISC-V +v, portable elsewhere; the others force one\n"
	        "                     (dsp needs the DSP extension); all compute the same bits\n"
	        "  --print-after=P    print the program after pass P to stdout: lower (loop IR),\n"
	        "                     a loop pass (%s), all (after each),\n"
	        "                     codegen (LLVM IR), optimize (optimized LLVM IR); repeatable\n"
	        "  -disable-pass=P,Q  skip these loop passes\n"
	        "  --estimate[=json]  after compiling, estimate instructions, cycles, latency, energy, flash\n"
	        "                     and RAM per inference and per layer from the emitted code\n"
	        "                     (docs/estimation.md); --profile=NAME picks the board/core (%s),\n"
	        "                     --no-mca skips llvm-mca's scheduling model for the cycles\n"
	        "  --report[=json]    after compiling, print per-layer MACs/params/weight/output bytes and\n"
	        "                     flash, arena, lower bound, no-reuse sum, stack estimate (docs/memory.md)\n"
	        "  --help, --version\n",
	        target_names(names, sizeof names), cg_host_target()->name, pass_names(passes, sizeof passes),
	        profile_names(profs, sizeof profs));
}

static int starts(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	if (strncmp(s, prefix, n) != 0)
		return 0;
	*rest = s + n;
	return 1;
}

/* path with its extension (after the last '/') replaced by ext; malloc'd. */
static char *replace_ext(const char *path, const char *ext)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');
	size_t n = dot && dot != (slash ? slash + 1 : path) ? (size_t)(dot - path) : strlen(path);
	char *r = malloc(n + strlen(ext) + 1);
	if (!r)
		return NULL;
	memcpy(r, path, n);
	strcpy(r + n, ext);
	return r;
}

static const char *ext_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');
	return dot ? dot : "";
}

/* The output's base name without extension, made a C identifier. */
static char *prefix_from(const char *out)
{
	const char *slash = strrchr(out, '/');
	const char *base = slash ? slash + 1 : out;
	const char *dot = strchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	char *r = malloc(n + 2);
	if (!r)
		return NULL;
	size_t k = 0;
	if (n == 0 || (base[0] >= '0' && base[0] <= '9'))
		r[k++] = '_';
	for (size_t i = 0; i < n; i++) {
		char c = base[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
		r[k++] = ok ? c : '_';
	}
	r[k] = 0;
	return r;
}

static int fail_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "nnllc: error: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(nnllc --help lists the options)\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *out = NULL, *march = NULL, *filetype = "obj", *name = NULL;
	int emit_llvm = 0, print_lower = 0, mcpu_help = 0, report = 0, estimate = 0, mca = 1;
	const CoreProfile *profile = NULL;
	LoopMemStats mem = {0};
	const char *loop_print_after = NULL, *disabled_passes = NULL, *int8_kernels = NULL;
	CgOptions o = {.opt = CG_O3};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (a[0] == '-' && a[1] == '-' && a[2])
			a++; /* --flag and -flag are the same, as in llc */
		if (a[0] != '-' || (a[0] == '-' && a[1] == 0)) {
			if (model)
				return fail_usage("more than one model file ('%s')", argv[i]);
			model = argv[i];
		} else if (!strcmp(a, "-help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-version")) {
			char v2[64];
			printf("nnllc %s (%s)\n", NNLLC_VERSION, cg_llvm_version(v2, sizeof v2));
			return 0;
		} else if (starts(a, "-march=", &v)) {
			march = v;
		} else if (starts(a, "-mcpu=", &v)) {
			if (!strcmp(v, "help"))
				mcpu_help = 1;
			else
				o.cpu = v;
		} else if (starts(a, "-mattr=", &v)) {
			o.mattr = v;
		} else if (starts(a, "-mtriple=", &v)) {
			o.triple = v;
		} else if (!strcmp(a, "-O0") || !strcmp(a, "-O1") || !strcmp(a, "-O2") || !strcmp(a, "-O3")) {
			o.opt = (CgOptLevel)(a[2] - '0');
		} else if (!strcmp(a, "-Os")) {
			o.opt = CG_Os;
		} else if (!strcmp(a, "-Oz")) {
			o.opt = CG_Oz;
		} else if (starts(a, "-filetype=", &v)) {
			if (strcmp(v, "obj") && strcmp(v, "asm") && strcmp(v, "c"))
				return fail_usage("-filetype=%s: expected obj, asm or c", v);
			filetype = v;
		} else if (!strcmp(a, "-emit-llvm")) {
			emit_llvm = 1;
		} else if (starts(a, "-name=", &v)) {
			name = v;
		} else if (!strcmp(a, "-o")) {
			if (++i >= argc)
				return fail_usage("%s needs a file name", "-o");
			out = argv[i];
		} else if (starts(a, "-o=", &v) || (starts(a, "-o", &v) && *v)) {
			out = v;
		} else if (!strcmp(a, "-fp-reassoc")) {
			o.fp_reassoc = 1;
		} else if (!strcmp(a, "-fp-contract")) {
			o.fp_contract = 1;
		} else if (starts(a, "-weights=", &v)) {
			if (strcmp(v, "embedded") && strcmp(v, "external"))
				return fail_usage("-weights=%s: expected embedded or external", v);
			o.weights_external = !strcmp(v, "external");
		} else if (starts(a, "-int8-kernels=", &v)) {
			if (strcmp(v, "auto") && strcmp(v, "portable") && strcmp(v, "dsp") && strcmp(v, "vector"))
				return fail_usage("-int8-kernels=%s: expected auto, portable, dsp or vector", v);
			int8_kernels = v;
		} else if (starts(a, "-sparse-min=", &v)) {
			char *end;
			double f = strtod(v, &end);
			if (!strcmp(v, "off"))
				f = 2.0;
			else if (!*v || *end || !(f >= 0.0 && f <= 1.0))
				return fail_usage("-sparse-min=%s: expected a fraction of zeros in [0, 1], or off", v);
			lower_sparse_set_min(f);
		} else if (starts(a, "-print-after=", &v)) {
			if (loop_pass_known(v))
				print_lower = 1, loop_print_after = v;
			else if (!strcmp(v, "codegen"))
				o.print_codegen = 1;
			else if (!strcmp(v, "optimize"))
				o.print_opt = 1;
			else
				return fail_usage("--print-after=%s: unknown pass; valid: lower, the loop passes (see --help), "
				                  "all, codegen, optimize", v);
		} else if (!strcmp(a, "-report") || !strcmp(a, "-report=text")) {
			report = 1;
		} else if (!strcmp(a, "-report=json")) {
			report = 2;
		} else if (!strcmp(a, "-estimate") || !strcmp(a, "-estimate=text")) {
			estimate = 1;
		} else if (!strcmp(a, "-estimate=json")) {
			estimate = 2;
		} else if (!strcmp(a, "-no-mca")) {
			mca = 0;
		} else if (starts(a, "-profile=", &v)) {
			char pl[512];
			if (!strcmp(v, "help")) {
				for (int k = 0; k < profile_count(); k++) {
					const CoreProfile *q = profile_at(k);
					printf("%-14s -march=%-14s -mcpu=%-14s %s, %s, %g MHz\n", q->name, q->march, q->mcpu, q->core,
					       q->chip, q->clock_mhz);
				}
				return 0;
			}
			profile = profile_find(v);
			if (!profile) {
				fprintf(stderr, "nnllc: error: unknown --profile=%s; valid: %s\n", v, profile_names(pl, sizeof pl));
				return 2;
			}
			estimate = estimate ? estimate : 1;
		} else if (starts(a, "-disable-pass=", &v)) {
			char one[64];
			for (const char *q = v; *q;) {
				size_t len = strcspn(q, ",");
				snprintf(one, sizeof one, "%.*s", (int)(len < 63 ? len : 63), q);
				if (!loop_pass_known(one) || !strcmp(one, "lower") || !strcmp(one, "all"))
					return fail_usage("-disable-pass: '%s' is not a loop pass (see --help)", one);
				q += len + (q[len] == ',');
			}
			disabled_passes = v;
		} else {
			return fail_usage("unknown option '%s'", argv[i]);
		}
	}

	/* --profile without -march/-mtriple: the profile's -march and -mcpu */
	if (profile && !march && !o.triple) {
		march = profile->march;
		if (!o.cpu)
			o.cpu = profile->mcpu;
	}
	/* the target first: a bad flag is reported before any file is read */
	char list[4096];
	o.target = march ? target_find(march) : NULL;
	if (march && !o.target) {
		fprintf(stderr, "nnllc: error: unknown -march=%s; valid: %s\n", march, target_names(list, sizeof list));
		return 2;
	}
	if (!o.target && o.triple) {
		o.target = target_for_triple(o.triple);
		if (!o.target) {
			fprintf(stderr, "nnllc: error: -mtriple=%s: no target for this architecture; valid -march: %s\n", o.triple,
			        target_names(list, sizeof list));
			return 2;
		}
	}
	if (!o.target)
		o.target = cg_host_target();
	if (mcpu_help) {
		const Target *t = o.target->is_native ? cg_host_target() : o.target;
		printf("valid -mcpu values for -march=%s (default %s):\n%s\n", o.target->name,
		       o.target->is_native ? "the host's" : t->cpu, t->cpus ? target_cpu_names(t, list, sizeof list) : "");
		return 0;
	}
	Diag d;
	diag_init(&d);
	if (cg_check_target(&o, &d) < 0) {
		diag_print(&d, "nnllc");
		diag_free(&d);
		return 2;
	}
	/* the integer kernels: the target's (cg_lower_options), or -int8-kernels */
	LowerOptions lo;
	if (cg_lower_options(&o, &lo, &d) < 0) {
		diag_print(&d, "nnllc");
		diag_free(&d);
		return 2;
	}
	if (int8_kernels && !strcmp(int8_kernels, "dsp") && !lo.dsp) {
		fprintf(stderr, "nnllc: error: -int8-kernels=dsp: target %s (cpu %s%s%s) has no Arm DSP extension\n",
		        o.target->name, o.cpu ? o.cpu : "default", o.mattr ? ", -mattr=" : "", o.mattr ? o.mattr : "");
		diag_free(&d);
		return 2;
	}
	if (int8_kernels && strcmp(int8_kernels, "auto")) {
		int x86 = lo.vec == 2; /* keep the target's vector block shape */
		lo.dsp = !strcmp(int8_kernels, "dsp");
		lo.vec = !strcmp(int8_kernels, "vector") ? 1 + x86 : 0;
	}
	if (!model) {
		usage(stderr);
		return 2;
	}

	/* -filetype=c: the C backend (codegen/c) writes OUT (default MODEL.c) */
	int c_source = !strcmp(filetype, "c");
	if (c_source && (emit_llvm || o.weights_external)) {
		fprintf(stderr, "nnllc: error: -filetype=c does not combine with %s\n",
		        emit_llvm ? "-emit-llvm" : "-weights=external");
		return 2;
	}
	if (emit_llvm) {
		const char *e = out ? ext_of(out) : "";
		o.filetype = !strcmp(e, ".ll") ? CG_FILE_LL : !strcmp(e, ".bc") ? CG_FILE_BC
		           : !strcmp(filetype, "asm") ? CG_FILE_LL : CG_FILE_BC;
	} else {
		o.filetype = !strcmp(filetype, "asm") ? CG_FILE_ASM : CG_FILE_OBJ;
	}
	static const char *const exts[] = {[CG_FILE_OBJ] = ".o", [CG_FILE_ASM] = ".s", [CG_FILE_LL] = ".ll",
	                                   [CG_FILE_BC] = ".bc"};
	char *out_alloc = NULL, *prefix_alloc = NULL, *header = NULL, *blob = NULL;
	int rc = 1;
	LProgram *p = NULL;
	Model *m = NULL;
	if (!out)
		out = out_alloc = replace_ext(model, c_source ? ".c" : exts[o.filetype]);
	o.prefix = name ? name : (prefix_alloc = prefix_from(strcmp(out ? out : "-", "-") ? out : model));
	if (!out || !o.prefix) {
		fprintf(stderr, "nnllc: error: out of memory\n");
		goto done;
	}

	m = json_load_model(model, &d);
	if (!m)
		goto done;
	p = lower_model_opts(m, &lo, &d);
	if (!p)
		goto done;
	{
		LoopPassCtx pc = {
			.opt_level = o.opt == CG_Os || o.opt == CG_Oz ? 2 : (int)o.opt,
			.size_level = o.opt == CG_Os ? 1 : o.opt == CG_Oz ? 2 : 0,
			/* vector-register alignment where the target has SIMD, else 8 (f64/i64) */
			.arena_align = o.target->vector_bits > 64 ? o.target->vector_bits / 8 : 8,
			.print_after = print_lower ? loop_print_after : NULL,
			.disabled = disabled_passes,
			.mem = &mem,
		};
		if (loop_run_passes(p, &pc, &d) < 0)
			goto done;
	}
	if (loop_verify(p, &d) < 0) {
		diag_add(&d, "internal error: lowering '%s' gave loop IR that does not verify (messages above)", model);
		goto done;
	}
	if (c_source) {
		const char *slash = strrchr(out, '/');
		CgCOptions co = {.prefix = o.prefix, .producer = "nnllc " NNLLC_VERSION, .filename = slash ? slash + 1 : out};
		if (cg_c_write(p, &co, out, &d) < 0)
			goto done;
	} else if (cg_compile(p, &o, out, &d) < 0) {
		goto done;
	}
	if (report && report_write(stdout, m, p, &o, &mem, report == 2, &d) < 0)
		goto done;
	if (estimate) {
		EstResult er;
		if (estimate_program(p, &o, profile, mca, &er, &d) < 0)
			goto done;
		estimate_write(stdout, &er, estimate == 2);
		estimate_free(&er);
	}
	if (strcmp(out, "-") != 0) {
		CgIoDesc in = {.rank = m->in_rank}, ou = {.rank = m->out_rank};
		memcpy(in.shape, m->in_shape, sizeof in.shape);
		memcpy(ou.shape, m->out_shape, sizeof ou.shape);
		header = replace_ext(out, ".h");
		if (!header || cg_write_header_opts(p, &o, &in, &ou, header, &d) < 0)
			goto done;
		if (o.weights_external) {
			/* PREFIX.weights.bin in OUT's folder */
			const char *slash = strrchr(out, '/');
			size_t dn = slash ? (size_t)(slash - out + 1) : 0;
			blob = malloc(dn + strlen(o.prefix) + sizeof ".weights.bin");
			if (!blob) {
				diag_add(&d, "out of memory");
				goto done;
			}
			memcpy(blob, out, dn);
			strcpy(blob + dn, o.prefix);
			strcat(blob, ".weights.bin");
			if (cg_write_weights(p, blob, &d) < 0)
				goto done;
		}
	}
	rc = 0;
done:
	if (rc)
		diag_print(&d, "nnllc");
	diag_free(&d);
	loop_free(p);
	model_free(m);
	free(out_alloc);
	free(prefix_alloc);
	free(header);
	free(blob);
	return rc;
}
