/* llvm_stmt.c — loop-IR statements to control flow.
 *
 *   for v in lo..hi step s   lo and hi are evaluated once, before the loop
 *                            (like a C for with a precomputed bound); v lives
 *                            in an entry-block alloca (mem2reg makes the phi):
 *                              preheader: v = lo; br header
 *                              header:    br (v < hi) body, exit
 *                              body:      ...; br latch
 *                              latch:     v = v + s; br header
 *                            The increment is nsw when it cannot overflow
 *                            (step 1, or a constant hi <= INT32_MAX - s);
 *                            otherwise an overflowing increment exits.
 *   let v = e / set v = e    a store to v's entry-block alloca
 *   store buf[i] = e         a store, aligned to the element size
 *   if c {..} else {..}      then / else / join blocks
 * Every block gets a name from the statement's label when it has one, so
 * --print-after=codegen reads like the loop IR.
 */
#include "llvm_internal.h"
#include "strbuf.h"

#include <stdlib.h>
#include <llvm-c/DebugInfo.h>

static int stmt(CgCtx *c, const LStmt *s);

int cg_stmts(CgCtx *c, const LStmtList *l) { return cg_stmts_lines(c, l, 0); }

int cg_stmts_lines(CgCtx *c, const LStmtList *l, int line0)
{
	for (int i = 0; i < l->n; i++) {
		if (line0 > 0)
			cg_est_set_line(c, line0 + i);
		c->list = l;
		c->idx = i;
		/* a whole register block, or a block's requantization, as one asm */
		int k = line0 > 0 ? 0 : cg_smlad_block(c, l, i);
		if (k == 0 && line0 <= 0)
			k = cg_requant_group(c, l, i);
		if (k < 0 || c->error)
			return -1;
		if (k > 0) {
			i += k - 1;
			continue;
		}
		if (stmt(c, l->v[i]) < 0 || c->error)
			return -1;
	}
	return 0;
}

static int store_var(CgCtx *c, const LStmt *s)
{
	LLVMValueRef slot = cg_slot(c, s->var);
	if (!slot)
		return -1;
	if (s->kind == LS_SET && c->p->vars[s->var].is_loop) {
		cg_fail(c, "loop IR: set of loop variable '%s'", c->p->vars[s->var].name);
		return -1;
	}
	LLVMValueRef v = cg_expr(c, s->val, 0);
	if (!v)
		return -1;
	if (s->val->type != c->p->vars[s->var].type) {
		cg_fail(c, "loop IR: %s of %s variable '%s' to a %s value", s->kind == LS_LET ? "let" : "set",
		        ltype_name(c->p->vars[s->var].type), c->p->vars[s->var].name, ltype_name(s->val->type));
		return -1;
	}
	LLVMBuildStore(c->b, v, slot);
	return 0;
}

static int for_stmt(CgCtx *c, const LStmt *s)
{
	if (s->step <= 0 || s->step > INT32_MAX) {
		cg_fail(c, "loop IR: for step %lld (expected 1..2^31-1)", (long long)s->step);
		return -1;
	}
	if (s->var < 0 || s->var >= c->p->n_vars || c->p->vars[s->var].type != LT_I32 || s->lo->type != LT_I32 ||
	    s->hi->type != LT_I32) {
		cg_fail(c, "loop IR: for needs an i32 variable and i32 bounds");
		return -1;
	}
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx);
	LLVMValueRef slot = cg_slot(c, s->var);
	LLVMValueRef lo = slot ? cg_expr(c, s->lo, 1) : NULL;
	LLVMValueRef hi = lo ? cg_expr(c, s->hi, 1) : NULL;
	if (!hi)
		return -1;
	LLVMBuildStore(c->b, lo, slot);
	int h = cg_smlad_loop(c, s, lo, hi);
	if (!h)
		h = cg_smlad_block_loop(c, s, lo, hi);
	if (!h)
		h = cg_pack_loop(c, s, lo, hi);
	if (h)
		return h < 0 ? -1 : 0;
	const char *name = c->p->vars[s->var].name;
	LLVMBasicBlockRef header = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
	LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
	LLVMBasicBlockRef latch = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "latch");
	LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "exit");
	LLVMBuildBr(c->b, header);
	LLVMPositionBuilderAtEnd(c->b, header);
	LLVMValueRef v = LLVMBuildLoad2(c->b, i32, slot, name);
	LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, v, hi, ""), body, exit);
	LLVMPositionBuilderAtEnd(c->b, body);
	const int outer_block_asm = c->block_asm;
	c->block_asm = 0;
	if (cg_stmts(c, &s->body) < 0)
		return -1;
	/* a loop around a block asm stays a loop: LLVM's unroller counts an
	 * asm of hundreds of instructions as one */
	const int nounroll = s->nounroll || c->block_asm;
	c->block_asm = outer_block_asm;
	LLVMBuildBr(c->b, latch);
	LLVMPositionBuilderAtEnd(c->b, latch);
	v = LLVMBuildLoad2(c->b, i32, slot, name);
	LLVMValueRef step = LLVMConstInt(i32, (unsigned long long)s->step, 0);
	int nsw = s->step == 1 || (s->hi->kind == LE_CONST && s->hi->ival <= INT32_MAX - s->step);
	if (nsw) {
		LLVMBuildStore(c->b, LLVMBuildNSWAdd(c->b, v, step, ""), slot);
		LLVMValueRef br = LLVMBuildBr(c->b, header);
		if (nounroll)
			cg_loop_nounroll(c, br);
	} else {
		/* v + s past INT32_MAX ends the loop (as in ir/loop_eval.c) instead of wrapping */
		LLVMTypeRef t = i32;
		LLVMValueRef args[2] = {v, step};
		unsigned id = LLVMLookupIntrinsicID("llvm.sadd.with.overflow", 23);
		LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
		LLVMValueRef r = LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &t, 1), f, args, 2, "");
		LLVMBuildStore(c->b, LLVMBuildExtractValue(c->b, r, 0, ""), slot);
		LLVMValueRef br = LLVMBuildCondBr(c->b, LLVMBuildExtractValue(c->b, r, 1, ""), exit, header);
		if (nounroll)
			cg_loop_nounroll(c, br);
	}
	LLVMPositionBuilderAtEnd(c->b, exit);
	return 0;
}

int cg_asm_text(CgCtx *c, StrBuf *b)
{
	if (b->oom || !b->s) {
		free(b->s);
		b->s = NULL;
		cg_fail(c, "out of memory");
		return -1;
	}
	if (b->n >= 2 && b->s[b->n - 1] == '\t')
		b->s[b->n -= 2] = 0;
	return 0;
}

/* llvm.loop.unroll.disable on a loop's latch branch (the loop ID refers to itself) */
void cg_loop_nounroll(CgCtx *c, LLVMValueRef latch)
{
	LLVMMetadataRef dis = LLVMMDStringInContext2(c->ctx, "llvm.loop.unroll.disable", 24);
	LLVMMetadataRef opt = LLVMMDNodeInContext2(c->ctx, &dis, 1);
	LLVMMetadataRef tmp = LLVMTemporaryMDNode(c->ctx, NULL, 0);
	LLVMMetadataRef ops[2] = {tmp, opt};
	LLVMMetadataRef node = LLVMMDNodeInContext2(c->ctx, ops, 2);
	LLVMMetadataReplaceAllUsesWith(tmp, node);
	LLVMSetMetadata(latch, LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9), LLVMMetadataAsValue(c->ctx, node));
}

static int if_stmt(CgCtx *c, const LStmt *s)
{
	LLVMValueRef k = cg_expr(c, s->cond, 0);
	if (!k)
		return -1;
	if (s->cond->type != LT_I1) {
		cg_fail(c, "loop IR: if condition of type %s", ltype_name(s->cond->type));
		return -1;
	}
	LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "then");
	LLVMBasicBlockRef els = s->els.n ? LLVMAppendBasicBlockInContext(c->ctx, c->fn, "else") : NULL;
	LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "endif");
	LLVMBuildCondBr(c->b, k, then, els ? els : join);
	LLVMPositionBuilderAtEnd(c->b, then);
	if (cg_stmts(c, &s->body) < 0)
		return -1;
	LLVMBuildBr(c->b, join);
	if (els) {
		LLVMPositionBuilderAtEnd(c->b, els);
		if (cg_stmts(c, &s->els) < 0)
			return -1;
		LLVMBuildBr(c->b, join);
	}
	LLVMPositionBuilderAtEnd(c->b, join);
	return 0;
}

int cg_stmt(CgCtx *c, const LStmt *s) { return stmt(c, s); }

static int stmt(CgCtx *c, const LStmt *s)
{
	switch (s->kind) {
	case LS_FOR: return for_stmt(c, s);
	case LS_LET:
	case LS_SET: return store_var(c, s);
	case LS_STORE: {
		if (s->buf < 0 || s->buf >= c->p->n_bufs) {
			cg_fail(c, "loop IR: store to buffer index %d", s->buf);
			return -1;
		}
		const LBuf *b = &c->p->bufs[s->buf];
		if (b->kind == LB_CONST || b->kind == LB_INPUT) {
			cg_fail(c, "loop IR: store to %s buffer '%s'", b->kind == LB_CONST ? "const" : "input", b->name);
			return -1;
		}
		LLVMValueRef idx = cg_expr(c, s->idx, 1);
		LLVMValueRef v = idx ? cg_expr(c, s->val, 0) : NULL;
		if (!v)
			return -1;
		if (s->val->type != b->type) {
			cg_fail(c, "loop IR: store of %s into %s buffer '%s'", ltype_name(s->val->type), ltype_name(b->type),
			        b->name);
			return -1;
		}
		cg_set_access_metadata(c, LLVMBuildStore(c->b, v, cg_addr(c, s->buf, idx)), s->buf);
		return 0;
	}
	case LS_IF: return if_stmt(c, s);
	}
	cg_fail(c, "loop IR: unknown statement kind %d", s->kind);
	return -1;
}
