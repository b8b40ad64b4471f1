/* llvm_target.c — from a row of the target table and the -mcpu/-mattr/-mtriple
 * flags to an LLVMTargetMachine. The only file that knows which LLVM backends
 * exist (keep LLVM-version differences here too).
 *
 * Validation happens before LLVM sees anything: LLVM warns about an unknown
 * cpu or feature on stderr and carries on with a generic one, which would
 * silently produce slow or wrong-ABI code. The cpu is checked against the
 * table's list; -mattr is checked for syntax (+name/-name, comma-separated),
 * feature names themselves are LLVM's to judge (it warns, as llc does).
 */
#include "llvm_internal.h"

#include <llvm-c/Target.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cg_llvm_init(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	LLVMInitializeX86TargetInfo();
	LLVMInitializeX86Target();
	LLVMInitializeX86TargetMC();
	LLVMInitializeX86AsmPrinter();
	LLVMInitializeAArch64TargetInfo();
	LLVMInitializeAArch64Target();
	LLVMInitializeAArch64TargetMC();
	LLVMInitializeAArch64AsmPrinter();
	LLVMInitializeARMTargetInfo();
	LLVMInitializeARMTarget();
	LLVMInitializeARMTargetMC();
	LLVMInitializeARMAsmPrinter();
	LLVMInitializeARMAsmParser(); /* the smlad loops' inline assembly (llvm_smlad.c) */
	LLVMInitializeRISCVTargetInfo();
	LLVMInitializeRISCVTarget();
	LLVMInitializeRISCVTargetMC();
	LLVMInitializeRISCVAsmPrinter();
}

void cg_target_spec_free(CgTargetSpec *ts)
{
	free(ts->triple);
	free(ts->cpu);
	free(ts->features);
	memset(ts, 0, sizeof *ts);
}

/* Copy an LLVM message into malloc'd memory and dispose it. */
static char *take_message(char *m)
{
	char *r = nnl_strdup(m ? m : "");
	LLVMDisposeMessage(m);
	return r;
}

static int mattr_ok(const char *s)
{
	if (!*s)
		return 1;
	for (;;) {
		if (*s != '+' && *s != '-')
			return 0;
		s++;
		const char *start = s;
		while (*s && *s != ',') {
			char ch = *s;
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
			      ch == '.' || ch == '_'))
				return 0;
			s++;
		}
		if (s == start)
			return 0;
		if (!*s)
			return 1;
		s++;
	}
}

/* "a" + "," + "b", skipping empty parts; malloc'd. */
static char *join_features(const char *a, const char *b)
{
	a = a ? a : "";
	b = b ? b : "";
	size_t na = strlen(a), nb = strlen(b);
	char *r = nnl_malloc(na + nb + 2);
	if (!r)
		return NULL;
	memcpy(r, a, na);
	size_t n = na;
	if (na && nb)
		r[n++] = ',';
	memcpy(r + n, b, nb);
	r[n + nb] = 0;
	return r;
}

static size_t arch_len(const char *triple)
{
	const char *dash = strchr(triple, '-');
	return dash ? (size_t)(dash - triple) : strlen(triple);
}

int cg_resolve_target(const CgOptions *o, CgTargetSpec *ts, Diag *d)
{
	char list[4096];
	memset(ts, 0, sizeof *ts);
	const Target *t = o->target;
	if (!t) {
		diag_add(d, "no target given; valid -march values: %s", target_names(list, sizeof list));
		return -1;
	}
	if (o->mattr && !mattr_ok(o->mattr)) {
		diag_add(d, "-mattr=%s: expected a comma-separated list of +feature or -feature", o->mattr);
		return -1;
	}
	cg_llvm_init();
	const Target *row = t;
	if (t->is_native) {
		if (o->triple) {
			ts->triple = take_message(LLVMNormalizeTargetTriple(o->triple));
		} else {
			char *host = LLVMGetDefaultTargetTriple();
			ts->triple = take_message(LLVMNormalizeTargetTriple(host));
			LLVMDisposeMessage(host);
		}
		if (!ts->triple)
			goto oom;
		row = target_host(ts->triple);
		if (o->cpu && strcmp(o->cpu, "native") != 0) {
			if (!row || !target_cpu_valid(row, o->cpu)) {
				if (row)
					diag_add(d, "-mcpu=%s is not a %s cpu; valid -mcpu values for this host (%s): native, %s", o->cpu,
					         row->name, ts->triple, target_cpu_names(row, list, sizeof list));
				else
					diag_add(d, "-mcpu=%s: the host triple %s is not in the target table; use -march=native without -mcpu",
					         o->cpu, ts->triple);
				goto fail;
			}
			ts->cpu = nnl_strdup(o->cpu);
			ts->features = join_features(row->features, o->mattr);
		} else {
			ts->cpu = take_message(LLVMGetHostCPUName());
			char *host = take_message(LLVMGetHostCPUFeatures());
			ts->features = host ? join_features(host, o->mattr) : NULL;
			free(host);
		}
		ts->abi = row ? row->abi : NULL;
		ts->hosted = 1;
		ts->row = row ? row : t;
	} else {
		if (o->triple) {
			size_t n = arch_len(t->triple);
			if (arch_len(o->triple) != n || strncmp(o->triple, t->triple, n) != 0) {
				diag_add(d, "-mtriple=%s does not match -march=%s (its triple is %s)", o->triple, t->name,
				         t->triple);
				goto fail;
			}
		}
		ts->triple = take_message(LLVMNormalizeTargetTriple(o->triple ? o->triple : t->triple));
		const char *cpu = o->cpu ? o->cpu : t->cpu;
		if (!strcmp(cpu, "native")) {
			/* the host's cpu and features, for a -march of the host's architecture */
			char *host = LLVMGetDefaultTargetTriple();
			int same = target_host(host) == t;
			LLVMDisposeMessage(host);
			if (!same) {
				diag_add(d, "-mcpu=native: this machine is not a %s", t->name);
				goto fail;
			}
			ts->cpu = take_message(LLVMGetHostCPUName());
			char *hf = take_message(LLVMGetHostCPUFeatures());
			ts->features = hf ? join_features(hf, o->mattr) : NULL;
			free(hf);
		} else if (!target_cpu_valid(t, cpu)) {
			diag_add(d, "-mcpu=%s is not a %s cpu; valid -mcpu values: %s", cpu, t->name,
			         target_cpu_names(t, list, sizeof list));
			goto fail;
		} else {
			ts->cpu = nnl_strdup(cpu);
			ts->features = join_features(t->features, o->mattr);
		}
		ts->abi = t->abi;
		ts->hosted = t->hosted;
		ts->row = t;
	}
	if (!ts->triple || !ts->cpu || !ts->features)
		goto oom;
	LLVMTargetRef lt;
	char *err = NULL;
	if (LLVMGetTargetFromTriple(ts->triple, &lt, &err)) {
		diag_add(d, "target triple %s: %s (valid -march values: %s)", ts->triple, err ? err : "unknown",
		         target_names(list, sizeof list));
		LLVMDisposeMessage(err);
		goto fail;
	}
	return 0;
oom:
	diag_add(d, "out of memory");
fail:
	cg_target_spec_free(ts);
	return -1;
}

LLVMTargetMachineRef cg_create_target_machine(const CgTargetSpec *ts, CgOptLevel opt, Diag *d)
{
	LLVMTargetRef lt;
	char *err = NULL;
	if (LLVMGetTargetFromTriple(ts->triple, &lt, &err)) {
		diag_add(d, "target triple %s: %s", ts->triple, err ? err : "unknown");
		LLVMDisposeMessage(err);
		return NULL;
	}
	LLVMTargetMachineOptionsRef mo = LLVMCreateTargetMachineOptions();
	LLVMTargetMachineOptionsSetCPU(mo, ts->cpu);
	LLVMTargetMachineOptionsSetFeatures(mo, ts->features);
	if (ts->abi)
		LLVMTargetMachineOptionsSetABI(mo, ts->abi);
	LLVMCodeGenOptLevel level = opt == CG_O0 ? LLVMCodeGenLevelNone
	                          : opt == CG_O1 ? LLVMCodeGenLevelLess
	                          : opt == CG_O3 ? LLVMCodeGenLevelAggressive
	                                         : LLVMCodeGenLevelDefault;
	LLVMTargetMachineOptionsSetCodeGenOptLevel(mo, level);
	/* Linux toolchains link position-independent executables by default:
	 * an object with absolute relocations into .rodata would not link.
	 * Bare metal links at fixed addresses: static is smaller and faster. */
	LLVMTargetMachineOptionsSetRelocMode(mo, ts->hosted ? LLVMRelocPIC : LLVMRelocStatic);
	LLVMTargetMachineRef tm = LLVMCreateTargetMachineWithOptions(lt, ts->triple, mo);
	LLVMDisposeTargetMachineOptions(mo);
	if (!tm)
		diag_add(d, "LLVM could not create a target machine for %s (cpu %s, features '%s')", ts->triple, ts->cpu,
		         ts->features);
	return tm;
}

int cg_check_target(const CgOptions *o, Diag *d)
{
	CgTargetSpec ts;
	if (cg_resolve_target(o, &ts, d) < 0)
		return -1;
	cg_target_spec_free(&ts);
	return 0;
}

int cg_lower_options(const CgOptions *o, LowerOptions *lo, Diag *d)
{
	CgTargetSpec ts;
	memset(lo, 0, sizeof *lo);
	if (cg_resolve_target(o, &ts, d) < 0)
		return -1;
	lo->dsp = target_has_dsp(ts.triple, ts.cpu, ts.features);
	/* vector registers: the table's x86-64, aarch64 and native rows, RISC-V with +v */
	lo->vec = !lo->dsp && ((ts.row && ts.row->vector_bits >= 128) || target_feature(ts.features, "v") == 1);
	if (lo->vec && strncmp(ts.triple, "x86_64", 6) == 0)
		lo->vec = 2; /* one accumulator a loop: pmaddwd / vpdpwssd */
	cg_target_spec_free(&ts);
	return 0;
}

const Target *cg_host_target(void)
{
	char *host = LLVMGetDefaultTargetTriple();
	const Target *t = target_host(host);
	LLVMDisposeMessage(host);
	return t ? t : target_find("native");
}

const char *cg_llvm_version(char *buf, int size)
{
	unsigned major, minor, patch;
	LLVMGetVersion(&major, &minor, &patch);
	snprintf(buf, (size_t)size, "LLVM %u.%u.%u", major, minor, patch);
	return buf;
}
