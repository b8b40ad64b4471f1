/* llvm_module.c — the module for one loop-IR program: the function
 *   i32 PREFIX_run(ptr noalias nocapture readonly input,
 *                  ptr noalias nocapture output, ptr noalias nocapture arena)
 * (-weights=external: a 4th parameter, ptr noalias nocapture readonly
 * weights, and const buffers inside it: see llvm_weights.c)
 * its entry checks, and one base pointer per buffer:
 *   const   a private unnamed_addr constant global ([bytes x i8], the buffer's
 *           alignment): ELF puts it in .rodata, i.e. flash on a device;
 *   arena   arena + offset (inbounds GEP on i8);
 *   input   the input parameter, output the output parameter.
 * Layout of the function: "entry" holds only allocas (each let and for
 * variable, placed there so mem2reg turns them into SSA), then "checks"
 * (NULL pointers → NNL_ERR_NULL, misaligned arena → NNL_ERR_ALIGN), then
 * the statements, then `ret NNL_OK`.
 * noalias is valid because the header requires the three areas not to
 * overlap, and nothing else points into them during the call.
 */
#include "llvm_internal.h"
#include "nnl_runtime.h"
#include "lopt_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

LLVMValueRef cg_fail(CgCtx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(c->d, fmt, ap);
	va_end(ap);
	c->error = 1;
	return NULL;
}

LLVMTypeRef cg_type(CgCtx *c, LType t)
{
	switch (t) {
	case LT_I1: return LLVMInt1TypeInContext(c->ctx);
	case LT_I8:
	case LT_U8: return LLVMInt8TypeInContext(c->ctx);
	case LT_I16:
	case LT_U16: return LLVMInt16TypeInContext(c->ctx);
	case LT_I32: return LLVMInt32TypeInContext(c->ctx);
	case LT_I64: return LLVMInt64TypeInContext(c->ctx);
	case LT_F32: return LLVMFloatTypeInContext(c->ctx);
	case LT_F64: return LLVMDoubleTypeInContext(c->ctx);
	default: return NULL;
	}
}

LLVMValueRef cg_slot(CgCtx *c, int v)
{
	if (v < 0 || v >= c->p->n_vars)
		return cg_fail(c, "loop IR: variable index %d out of range", v);
	if (!c->slot[v]) {
		LLVMTypeRef t = cg_type(c, c->p->vars[v].type);
		if (!t)
			return cg_fail(c, "loop IR: variable '%s' has no value type", c->p->vars[v].name);
		c->slot[v] = LLVMBuildAlloca(c->ab, t, c->p->vars[v].name);
	}
	return c->slot[v];
}

int cg_arena_align(const LProgram *p)
{
	int a = 1;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == LB_ARENA && p->bufs[i].align > a)
			a = p->bufs[i].align;
	return a;
}

static int64_t buf_bytes(const LBuf *b)
{
	int bits = ltype_bits(b->type);
	int64_t r;
	if (nnl_mul_i64(b->numel, bits < 8 ? 1 : bits / 8, &r) < 0)
		return -1;
	return r;
}

static void add_attr(CgCtx *c, LLVMValueRef fn, LLVMAttributeIndex idx, const char *name)
{
	unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
	LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(c->ctx, kind, 0));
}

static void add_str_attr(CgCtx *c, LLVMValueRef fn, const char *k, const char *v)
{
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
	                        LLVMCreateStringAttribute(c->ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v)));
}

static int io_buf(const LProgram *p, LBufKind k)
{
	int found = -1;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == k) {
			if (found >= 0)
				return -2;
			found = i;
		}
	return found;
}

static int make_buffers(CgCtx *c, LLVMValueRef input, LLVMValueRef output, LLVMValueRef arena)
{
	const LProgram *p = c->p;
	LLVMTypeRef i8 = LLVMInt8TypeInContext(c->ctx);
	for (int i = 0; i < p->n_bufs; i++) {
		const LBuf *b = &p->bufs[i];
		int64_t bytes = buf_bytes(b);
		if (!cg_type(c, b->type) || b->numel < 0 || bytes < 0) {
			cg_fail(c, "loop IR: buffer '%s' has type %s and %lld elements", b->name, ltype_name(b->type),
			        (long long)b->numel);
			return -1;
		}
		switch (b->kind) {
		case LB_INPUT: c->base[i] = input; break;
		case LB_OUTPUT: c->base[i] = output; break;
		case LB_ARENA:
			if (b->offset < 0 || b->offset > p->arena_bytes || bytes > p->arena_bytes - b->offset) {
				cg_fail(c, "loop IR: arena buffer '%s' (%lld bytes at offset %lld) is not inside the %lld-byte arena",
				        b->name, (long long)bytes, (long long)b->offset, (long long)p->arena_bytes);
				return -1;
			}
			{
				LLVMValueRef off = LLVMConstInt(LLVMInt64TypeInContext(c->ctx), (unsigned long long)b->offset, 0);
				c->base[i] = LLVMBuildInBoundsGEP2(c->b, i8, arena, &off, 1, b->name);
			}
			break;
		case LB_CONST: {
			if (c->o->weights_external) {
				if (!(c->base[i] = cg_weights_base(c, i)))
					return -1;
				break;
			}
			char name[256];
			snprintf(name, sizeof name, "%s.%s", c->o->prefix, b->name);
			LLVMTypeRef at = LLVMArrayType2(i8, (uint64_t)bytes);
			LLVMValueRef g = LLVMAddGlobal(c->mod, at, name);
			LLVMValueRef init = b->data ? LLVMConstStringInContext2(c->ctx, b->data, (size_t)bytes, 1) : LLVMConstNull(at);
			LLVMSetInitializer(g, init);
			LLVMSetGlobalConstant(g, 1);
			LLVMSetLinkage(g, LLVMPrivateLinkage);
			LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
			LLVMSetAlignment(g, (unsigned)(b->align > 0 ? b->align : 1));
			c->base[i] = g;
			break;
		}
		}
	}
	return 0;
}

/* The checks block: NULL pointers, then arena alignment; leaves the builder
 * in the block where the statements start. */
static void build_checks(CgCtx *c, LLVMValueRef input, LLVMValueRef output, LLVMValueRef arena, LLVMValueRef weights)
{
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx);
	LLVMTypeRef iptr = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
	LLVMValueRef nul = LLVMBuildIsNull(c->b, input, "in.null");
	nul = LLVMBuildOr(c->b, nul, LLVMBuildIsNull(c->b, output, "out.null"), "");
	if (c->p->arena_bytes > 0)
		nul = LLVMBuildOr(c->b, nul, LLVMBuildIsNull(c->b, arena, "arena.null"), "");
	if (weights)
		nul = LLVMBuildOr(c->b, nul, LLVMBuildIsNull(c->b, weights, "weights.null"), "");
	LLVMBasicBlockRef bad_null = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "err.null");
	LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "checks.align");
	LLVMBuildCondBr(c->b, nul, bad_null, next);
	LLVMPositionBuilderAtEnd(c->b, bad_null);
	LLVMBuildRet(c->b, LLVMConstInt(i32, NNL_ERR_NULL, 0));
	LLVMPositionBuilderAtEnd(c->b, next);
	int align = cg_arena_align(c->p);
	if (c->p->arena_bytes > 0 && align > 1) {
		LLVMValueRef low = LLVMBuildAnd(c->b, LLVMBuildPtrToInt(c->b, arena, iptr, ""),
		                                LLVMConstInt(iptr, (unsigned long long)(align - 1), 0), "arena.misalign");
		LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntNE, low, LLVMConstNull(iptr), "");
		LLVMBasicBlockRef bad_align = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "err.align");
		LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
		LLVMBuildCondBr(c->b, bad, bad_align, body);
		LLVMPositionBuilderAtEnd(c->b, bad_align);
		LLVMBuildRet(c->b, LLVMConstInt(i32, NNL_ERR_ALIGN, 0));
		LLVMPositionBuilderAtEnd(c->b, body);
	}
}

/* PREFIX_run's and the layers' functions' attributes: the pointers noalias,
 * nocapture, noundef, the input (and the weights) readonly; nounwind, nofree,
 * nosync; optsize (-Os), minsize (-Oz), noinline (-O0). The cpu and features
 * travel with the function, so .ll/.bc outputs (and LTO) compile for the
 * same machine. */
static void fn_attrs(CgCtx *c, LLVMValueRef f, unsigned nparams)
{
	for (unsigned i = 1; i <= nparams; i++) {
		add_attr(c, f, i, "noalias");
		add_attr(c, f, i, "nocapture");
		add_attr(c, f, i, "noundef");
	}
	add_attr(c, f, 1, "readonly");
	if (nparams == 4)
		add_attr(c, f, 4, "readonly");
	add_attr(c, f, LLVMAttributeFunctionIndex, "nounwind");
	add_attr(c, f, LLVMAttributeFunctionIndex, "nofree");
	add_attr(c, f, LLVMAttributeFunctionIndex, "nosync");
	if (c->o->opt == CG_Os || c->o->opt == CG_Oz)
		add_attr(c, f, LLVMAttributeFunctionIndex, "optsize");
	if (c->o->opt == CG_Oz)
		add_attr(c, f, LLVMAttributeFunctionIndex, "minsize");
	if (c->o->opt == CG_O0)
		add_attr(c, f, LLVMAttributeFunctionIndex, "noinline");
	add_str_attr(c, f, "target-cpu", c->ts.cpu);
	if (*c->ts.features)
		add_str_attr(c, f, "target-features", c->ts.features);
}

/* The top-level statements first..last−1 (a layer, and what it shares with
 * its neighbours) as a function of their own, PREFIX_run.L<first>, called
 * from PREFIX_run with its pointers (input, output, arena, and the weights'
 * payload): LLVM then allocates registers and reduces loop strength per
 * layer, so a layer's code no longer changes with other layers' (it did:
 * docs/quantization.md). The buffers' base pointers are made again from
 * the parameters; the const buffers' globals are shared. */
static int build_group(CgCtx *c, int first, int last, LLVMValueRef *args, unsigned nargs)
{
	const LProgram *p = c->p;
	LLVMTypeRef ptr = LLVMPointerTypeInContext(c->ctx, 0), params[4] = {ptr, ptr, ptr, ptr};
	LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, nargs, 0);
	char name[300];
	snprintf(name, sizeof name, "%s_run.L%d", c->o->prefix, first);
	LLVMValueRef f = LLVMAddFunction(c->mod, name, fty);
	LLVMSetLinkage(f, LLVMInternalLinkage);
	fn_attrs(c, f, nargs);
	add_attr(c, f, LLVMAttributeFunctionIndex, "noinline");
	cg_est_set_line(c, first + 1);
	LLVMBuildCall2(c->b, fty, f, args, nargs, "");

	/* the function's body, with its own entry (allocas), slots and bases */
	LLVMValueRef main_fn = c->fn, main_payload = c->wpayload;
	LLVMBuilderRef main_ab = c->ab;
	LLVMBasicBlockRef main_at = LLVMGetInsertBlock(c->b);
	LLVMBuilderRef fab = LLVMCreateBuilderInContext(c->ctx);
	LLVMBasicBlockRef fe = LLVMAppendBasicBlockInContext(c->ctx, f, "entry");
	LLVMBasicBlockRef fb = LLVMAppendBasicBlockInContext(c->ctx, f, "body");
	LLVMPositionBuilderAtEnd(fab, fe);
	LLVMPositionBuilderAtEnd(c->b, fb);
	c->fn = f;
	c->ab = fab;
	if (c->o->est_counts && cg_est_debug_fn(c, f) < 0)
		return -1;
	cg_est_set_line(c, first + 1); /* in the function's own scope */
	for (int v = 0; v < p->n_vars; v++)
		c->slot[v] = NULL;
	LLVMValueRef in = LLVMGetParam(f, 0), out = LLVMGetParam(f, 1), arena = LLVMGetParam(f, 2);
	c->wpayload = nargs == 4 ? LLVMGetParam(f, 3) : NULL;
	int rc = 0;
	for (int b = 0; b < p->n_bufs && rc == 0; b++) {
		const LBuf *B = &p->bufs[b];
		if (B->kind == LB_INPUT)
			c->base[b] = in;
		else if (B->kind == LB_OUTPUT)
			c->base[b] = out;
		else if (B->kind == LB_ARENA) {
			LLVMValueRef off = LLVMConstInt(LLVMInt64TypeInContext(c->ctx), (unsigned long long)B->offset, 0);
			c->base[b] = LLVMBuildInBoundsGEP2(c->b, LLVMInt8TypeInContext(c->ctx), arena, &off, 1, B->name);
		} else if (c->o->weights_external && !(c->base[b] = cg_weights_base(c, b)))
			rc = -1;
	}
	LStmtList group = {.v = &p->body.v[first], .n = last - first, .cap = last - first};
	if (rc == 0 && (cg_stmts_lines(c, &group, c->o->est_counts ? first + 1 : 0) < 0 || c->error))
		rc = -1;
	cg_est_set_line(c, 0);
	if (rc == 0) {
		LLVMBuildRetVoid(c->b);
		LLVMBuildBr(fab, fb);
	}
	LLVMDisposeBuilder(fab);
	c->fn = main_fn;
	c->ab = main_ab;
	c->wpayload = main_payload;
	cg_est_set_scope(c, main_fn);
	LLVMPositionBuilderAtEnd(c->b, main_at);
	return rc;
}

/* The top-level statements in groups (build_group): a statement goes with
 * the one before it when a top-level let at or before that one is read or
 * set at or after it. */
static int build_groups(CgCtx *c, LLVMValueRef *args, unsigned nargs)
{
	const LProgram *p = c->p;
	int *join = calloc((size_t)p->body.n + 1, sizeof *join);
	if (!join) {
		cg_fail(c, "out of memory");
		return -1;
	}
	for (int i = 0; i < p->body.n; i++) {
		const LStmt *t = p->body.v[i];
		if (t->kind != LS_LET)
			continue;
		int last = i;
		for (int j = i + 1; j < p->body.n; j++)
			if (ls_uses_var(p->body.v[j], t->var) || ls_sets_var(p->body.v[j], t->var))
				last = j;
		for (int k = i + 1; k <= last; k++)
			join[k] = 1;
	}
	int rc = 0;
	for (int i = 0; i < p->body.n && rc == 0;) {
		int end = i + 1;
		while (end < p->body.n && join[end])
			end++;
		rc = build_group(c, i, end, args, nargs);
		i = end;
	}
	free(join);
	return rc;
}

int cg_build_module(CgCtx *c)
{
	const LProgram *p = c->p;
	if (io_buf(p, LB_INPUT) < 0 || io_buf(p, LB_OUTPUT) < 0) {
		cg_fail(c, "loop IR: program '%s' needs exactly one input and one output buffer", p->name);
		return -1;
	}
	LLVMTypeRef ptr = LLVMPointerTypeInContext(c->ctx, 0);
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx);
	/* -weights=external: a 4th parameter, the weights blob (llvm_weights.c) */
	unsigned nparams = c->o->weights_external ? 4 : 3;
	LLVMTypeRef params[4] = {ptr, ptr, ptr, ptr};
	char name[256];
	snprintf(name, sizeof name, "%s_run", c->o->prefix);
	c->fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(i32, params, nparams, 0));
	LLVMValueRef input = LLVMGetParam(c->fn, 0), output = LLVMGetParam(c->fn, 1), arena = LLVMGetParam(c->fn, 2);
	LLVMSetValueName2(input, "input", 5);
	LLVMSetValueName2(output, "output", 6);
	LLVMSetValueName2(arena, "arena", 5);
	LLVMValueRef weights = nparams == 4 ? LLVMGetParam(c->fn, 3) : NULL;
	if (weights)
		LLVMSetValueName2(weights, "weights", 7);
	fn_attrs(c, c->fn, nparams);
	if (c->o->opt == CG_O0)
		add_attr(c, c->fn, LLVMAttributeFunctionIndex, "optnone");

	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "entry");
	LLVMBasicBlockRef checks = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "checks");
	LLVMPositionBuilderAtEnd(c->ab, entry);
	LLVMPositionBuilderAtEnd(c->b, checks);
	build_checks(c, input, output, arena, weights);
	if (weights && cg_weights_checks(c, weights) < 0)
		return -1;
	if (make_buffers(c, input, output, arena) < 0)
		return -1;
	/* --estimate: each top-level statement's code carries its index + 1 as
	 * its debug line, so every block can be attributed to a layer */
	if (c->o->est_counts && cg_est_debug_init(c) < 0)
		return -1;
	if (c->o->opt != CG_O0) {
		LLVMValueRef args[4] = {input, output, arena, c->wpayload};
		if (build_groups(c, args, nparams) < 0)
			return -1;
	} else {
		if (cg_stmts_lines(c, &p->body, c->o->est_counts ? 1 : 0) < 0 || c->error)
			return -1;
		cg_est_set_line(c, 0);
	}
	LLVMBuildRet(c->b, LLVMConstInt(i32, NNL_OK, 0));
	LLVMPositionBuilderAtEnd(c->ab, entry);
	LLVMBuildBr(c->ab, checks);
	if (c->o->est_counts)
		cg_est_debug_finish(c);
	if (weights)
		return cg_weights_check_fn(c);
	return 0;
}
