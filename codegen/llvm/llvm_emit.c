/* llvm_emit.c — the backend's pipeline, top to bottom:
 *   resolve the target (table row + flags) → target machine
 *   build the module (llvm_module.c) → LLVMVerifyModule (an invalid module is
 *   an internal error, reported with its IR) → --print-after=codegen
 *   → LLVMRunPasses("default<On>") with loop and SLP vectorization (-O2 and
 *   up, -Os) → --print-after=optimize
 *   → object / assembly (LLVMTargetMachineEmitToMemoryBuffer), .ll or .bc
 *   → written atomically (temp + rename): nothing is written on any error.
 * Everything LLVM hands back is disposed here; one LLVMContext per call.
 */
#include "llvm_internal.h"
#include "frontend.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pipelines[] = {
	[CG_O0] = "default<O0>", [CG_O1] = "default<O1>", [CG_O2] = "default<O2>",
	[CG_O3] = "default<O3>", [CG_Os] = "default<Os>", [CG_Oz] = "default<Oz>",
};

static int prefix_ok(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static void print_module(LLVMModuleRef m)
{
	char *s = LLVMPrintModuleToString(m);
	fputs(s, stdout);
	fflush(stdout);
	LLVMDisposeMessage(s);
}

static int run_passes(CgCtx *c)
{
	LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
	int vec = c->o->opt == CG_O2 || c->o->opt == CG_O3 || c->o->opt == CG_Os;
	LLVMPassBuilderOptionsSetLoopVectorization(po, vec);
	LLVMPassBuilderOptionsSetSLPVectorization(po, vec);
	LLVMPassBuilderOptionsSetLoopInterleaving(po, vec);
	LLVMPassBuilderOptionsSetLoopUnrolling(po, c->o->opt != CG_O0 && c->o->opt != CG_Oz);
	LLVMErrorRef err = LLVMRunPasses(c->mod, pipelines[c->o->opt], c->tm, po);
	LLVMDisposePassBuilderOptions(po);
	if (err) {
		char *m = LLVMGetErrorMessage(err);
		cg_fail(c, "internal error: LLVM passes '%s' failed: %s", pipelines[c->o->opt], m);
		LLVMDisposeErrorMessage(m);
		return -1;
	}
	return 0;
}

/* Copy an LLVM memory buffer into malloc'd memory (NUL-terminated). */
static int take_buffer(CgCtx *c, LLVMMemoryBufferRef mb, char **out, size_t *len)
{
	size_t n = LLVMGetBufferSize(mb);
	char *r = nnl_malloc(n + 1);
	if (!r) {
		LLVMDisposeMemoryBuffer(mb);
		cg_fail(c, "out of memory");
		return -1;
	}
	memcpy(r, LLVMGetBufferStart(mb), n);
	r[n] = 0;
	LLVMDisposeMemoryBuffer(mb);
	*out = r;
	*len = n;
	return 0;
}

static int emit(CgCtx *c, char **out, size_t *len)
{
	switch (c->o->filetype) {
	case CG_FILE_LL: {
		char *s = LLVMPrintModuleToString(c->mod);
		*len = strlen(s);
		*out = nnl_strdup(s);
		LLVMDisposeMessage(s);
		if (!*out) {
			cg_fail(c, "out of memory");
			return -1;
		}
		return 0;
	}
	case CG_FILE_BC: return take_buffer(c, LLVMWriteBitcodeToMemoryBuffer(c->mod), out, len);
	case CG_FILE_OBJ:
	case CG_FILE_ASM: {
		char *err = NULL;
		LLVMMemoryBufferRef mb = NULL;
		if (LLVMTargetMachineEmitToMemoryBuffer(c->tm, c->mod, c->o->filetype == CG_FILE_OBJ ? LLVMObjectFile
		                                                                                      : LLVMAssemblyFile,
		                                        &err, &mb)) {
			cg_fail(c, "LLVM could not emit %s for %s: %s", c->o->filetype == CG_FILE_OBJ ? "an object" : "assembly",
			        c->ts.triple, err ? err : "unknown error");
			LLVMDisposeMessage(err);
			return -1;
		}
		LLVMDisposeMessage(err);
		return take_buffer(c, mb, out, len);
	}
	}
	cg_fail(c, "unknown output file type %d", (int)c->o->filetype);
	return -1;
}

static void ctx_free(CgCtx *c)
{
	if (c->b)
		LLVMDisposeBuilder(c->b);
	if (c->ab)
		LLVMDisposeBuilder(c->ab);
	if (c->di_builder)
		LLVMDisposeDIBuilder((LLVMDIBuilderRef)c->di_builder);
	if (c->mod)
		LLVMDisposeModule(c->mod);
	if (c->tm)
		LLVMDisposeTargetMachine(c->tm);
	if (c->ctx)
		LLVMContextDispose(c->ctx);
	free(c->slot);
	free(c->base);
	cg_target_spec_free(&c->ts);
}

int cg_compile_to_memory(const LProgram *p, const CgOptions *o, char **out, size_t *len, Diag *d)
{
	*out = NULL;
	*len = 0;
	if (!prefix_ok(o->prefix)) {
		diag_add(d, "-name=%s: the prefix must be a C identifier (letters, digits, _; not starting with a digit)",
		         o->prefix ? o->prefix : "");
		return -1;
	}
	if ((unsigned)o->opt > CG_Oz) {
		diag_add(d, "unknown optimization level %d", (int)o->opt);
		return -1;
	}
	CgCtx c = {.p = p, .o = o, .d = d};
	if (cg_resolve_target(o, &c.ts, d) < 0)
		return -1;
	c.dsp = target_has_dsp(c.ts.triple, c.ts.cpu, c.ts.features);
	int rc = -1;
	c.tm = cg_create_target_machine(&c.ts, o->opt, d);
	c.slot = nnl_calloc((size_t)p->n_vars + 1, sizeof *c.slot);
	c.base = nnl_calloc((size_t)p->n_bufs + 1, sizeof *c.base);
	if (!c.tm)
		goto done;
	if (!c.slot || !c.base) {
		diag_add(d, "out of memory");
		goto done;
	}
	c.ctx = LLVMContextCreate();
	c.mod = LLVMModuleCreateWithNameInContext(p->name, c.ctx);
	c.b = LLVMCreateBuilderInContext(c.ctx);
	c.ab = LLVMCreateBuilderInContext(c.ctx);
	c.md_invariant = LLVMGetMDKindIDInContext(c.ctx, "invariant.load", 14);
	c.md_range = LLVMGetMDKindIDInContext(c.ctx, "range", 5);
	LLVMSetTarget(c.mod, c.ts.triple);
	LLVMTargetDataRef td = LLVMCreateTargetDataLayout(c.tm);
	LLVMSetModuleDataLayout(c.mod, td);
	LLVMDisposeTargetData(td);
	if (c.ts.abi) {
		/* RISC-V: the ABI must be in the module too, or the object's ELF
		 * flags say soft-float and gcc refuses to link it with ilp32f/lp64d
		 * code. Error behaviour: linking with another ABI's bitcode fails. */
		LLVMMetadataRef abi = LLVMMDStringInContext2(c.ctx, c.ts.abi, strlen(c.ts.abi));
		LLVMAddModuleFlag(c.mod, LLVMModuleFlagBehaviorError, "target-abi", 10, abi);
	}
	if (cg_build_module(&c) < 0)
		goto done;
	char *msg = NULL;
	if (LLVMVerifyModule(c.mod, LLVMReturnStatusAction, &msg)) {
		char *ir = LLVMPrintModuleToString(c.mod);
		diag_add(d, "internal error: the generated LLVM module is invalid: %s\n%s", msg ? msg : "", ir);
		LLVMDisposeMessage(ir);
		LLVMDisposeMessage(msg);
		goto done;
	}
	LLVMDisposeMessage(msg);
	if (o->print_codegen)
		print_module(c.mod);
	if (run_passes(&c) < 0)
		goto done;
	if (o->print_opt)
		print_module(c.mod);
	if (o->est_counts && cg_est_count(&c) < 0)
		goto done;
	if (emit(&c, out, len) < 0)
		goto done;
	rc = 0;
done:
	ctx_free(&c);
	return rc;
}

int cg_compile(const LProgram *p, const CgOptions *o, const char *path, Diag *d)
{
	char *data;
	size_t len;
	if (cg_compile_to_memory(p, o, &data, &len, d) < 0)
		return -1;
	int rc = 0;
	if (strcmp(path, "-") == 0) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
			diag_add(d, "<stdout>: write error");
			rc = -1;
		}
	} else {
		rc = write_file_atomic(path, data, len, d);
	}
	free(data);
	return rc;
}
