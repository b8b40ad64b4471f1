/* llvm_expr.c — loop-IR expressions to LLVM values.
 *
 * Semantics (they must be the interpreter's, see docs/codegen.md):
 *   float min/max  llvm.maximum / llvm.minimum: IEEE 754-2019 maximum and
 *                  minimum, NaN if either operand is NaN and -0 < +0, as
 *                  ir/loop_eval.c defines them. (Not llvm.maxnum, which drops
 *                  NaN; AArch64's fmax/fmin are exactly these, other targets
 *                  get a short expansion. A lowering that wants ReLU's
 *                  "x < 0 ? 0 : x" can say so with select, one maxps/vmaxnm.)
 *   integer min/max llvm.smin/smax (umin/umax for unsigned types).
 *   integer div/rem truncate toward zero; a zero divisor is replaced by 1
 *                  and INT_MIN / -1 by INT_MIN / 1, so the code has no
 *                  undefined behaviour (the lowering guards real zero divisors
 *                  where the op defines a result).
 *   shifts         the amount is taken modulo the bit width (no poison).
 *   float rem      fmod (truncated), like C.
 *   casts          float → int truncates toward zero and saturates
 *                  (llvm.fptosi.sat / fptoui.sat: no poison out of range, NaN → 0);
 *                  sat casts round floats to nearest, ties to even, first;
 *                  int → narrower int with sat clamps (smin/smax) then truncates.
 *   exp, log, sqrt, floor, ceil, pow: LLVM intrinsics; tanh, erf: libm calls
 *                  (tanhf, erff) declared readnone; round: ties to even
 *                  (torch.round), llvm.roundeven where libm has roundevenf
 *                  (Linux) and an exact add-and-subtract-2^23 expansion on
 *                  bare metal, whose newlib lacks it.
 * Index expressions (load/store indices, loop bounds) are i32 and get nsw on
 * add, sub and mul: an index that overflowed would address outside its
 * buffer anyway, and nsw lets LLVM widen indices to 64 bits once per loop
 * instead of sign-extending at every access.
 * Float ops carry fast-math flags only when asked (-fp-reassoc, -fp-contract).
 *   dot2, sxtb16, sxtb16h (i32 holding two 16-bit halves, ir/loop.h): on Arm
 *                  with the DSP extension llvm.arm.smuad / llvm.arm.sxtb16 (of
 *                  a rotate by 8 for sxtb16h, which ISel folds into the
 *                  instruction's ror #8), and add(acc, dot2(a, b)) is one
 *                  llvm.arm.smlad; elsewhere shifts, multiplies and adds.
 */
#include "llvm_internal.h"
#include "lopt_util.h"
#include "loop_text.h"

#include <string.h>

static LLVMValueRef intrinsic(CgCtx *c, const char *name, LLVMTypeRef *types, int ntypes, LLVMValueRef *args,
                              int nargs)
{
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	if (!id)
		return cg_fail(c, "internal error: LLVM has no intrinsic %s", name);
	LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, types, (size_t)ntypes);
	LLVMTypeRef ft = LLVMIntrinsicGetType(c->ctx, id, types, (size_t)ntypes);
	return LLVMBuildCall2(c->b, ft, f, args, (unsigned)nargs, "");
}

static LLVMValueRef intrinsic1(CgCtx *c, const char *name, LLVMValueRef a)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	return intrinsic(c, name, &t, 1, &a, 1);
}

static LLVMValueRef intrinsic2(CgCtx *c, const char *name, LLVMValueRef a, LLVMValueRef b)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	LLVMValueRef args[2] = {a, b};
	return intrinsic(c, name, &t, 1, args, 2);
}

/* A libm function T name(T) with no side effects we care about (errno is not
 * read by generated code), so LLVM may hoist and vectorize around it. */
static LLVMValueRef libm1(CgCtx *c, const char *name, LLVMValueRef a)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	LLVMTypeRef ft = LLVMFunctionType(t, &t, 1, 0);
	LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
	if (!f) {
		f = LLVMAddFunction(c->mod, name, ft);
		const char *attrs[] = {"nounwind", "willreturn", "nosync", "nofree"};
		for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
			LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
			                        LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i])), 0));
		/* memory(none): MemoryEffects encoded as 0 */
		LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
		                        LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("memory", 6), 0));
	}
	return LLVMBuildCall2(c->b, ft, f, &a, 1, "");
}

static void fmf(CgCtx *c, LLVMValueRef v)
{
	LLVMFastMathFlags f = 0;
	if (c->o->fp_reassoc)
		f |= LLVMFastMathAllowReassoc;
	if (c->o->fp_contract)
		f |= LLVMFastMathAllowContract;
	if (f && LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v))
		LLVMSetFastMathFlags(v, f);
}

/* Round to nearest, ties to even. */
static LLVMValueRef roundeven(CgCtx *c, LLVMValueRef a, LType t)
{
	if (c->ts.hosted)
		return intrinsic1(c, "llvm.roundeven", a);
	/* |a| < 2^p: (a + copysign(2^p, a)) - copysign(2^p, a) rounds in the
	 * default mode (ties to even) exactly; copysign again keeps -0.x → -0.
	 * |a| >= 2^p (and NaN, inf) is already integral. */
	LLVMTypeRef ty = LLVMTypeOf(a);
	double big = t == LT_F64 ? 4503599627370496.0 : 8388608.0;
	LLVMValueRef k = intrinsic2(c, "llvm.copysign", LLVMConstReal(ty, big), a);
	LLVMValueRef r = LLVMBuildFSub(c->b, LLVMBuildFAdd(c->b, a, k, ""), k, "");
	r = intrinsic2(c, "llvm.copysign", r, a);
	LLVMValueRef small = LLVMBuildFCmp(c->b, LLVMRealOLT, intrinsic1(c, "llvm.fabs", a), LLVMConstReal(ty, big), "");
	return LLVMBuildSelect(c->b, small, r, a, "");
}

/* IEEE maximum/minimum. LLVM 19 cannot soften llvm.maximum for soft-float
 * targets (Cortex-M0+), so there it is spelled out:
 *   unordered → a + b (a NaN); equal → by sign (-0 < +0); else the larger. */
static LLVMValueRef fminmax(CgCtx *c, int max, LLVMValueRef a, LLVMValueRef b)
{
	if (c->ts.row->float_abi == TFA_HARD)
		return intrinsic2(c, max ? "llvm.maximum" : "llvm.minimum", a, b);
	LLVMTypeRef ty = LLVMTypeOf(a);
	LLVMTypeRef it = LLVMIntTypeInContext(c->ctx, LLVMGetTypeKind(ty) == LLVMDoubleTypeKind ? 64 : 32);
	LLVMValueRef r = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, max ? LLVMRealOGT : LLVMRealOLT, a, b, ""), a, b, "");
	LLVMValueRef neg = LLVMBuildICmp(c->b, LLVMIntSLT, LLVMBuildBitCast(c->b, a, it, ""), LLVMConstNull(it), "");
	LLVMValueRef tie = max ? LLVMBuildSelect(c->b, neg, b, a, "") : LLVMBuildSelect(c->b, neg, a, b, "");
	r = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOEQ, a, b, ""), tie, r, "");
	return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUNO, a, b, ""), LLVMBuildFAdd(c->b, a, b, ""), r, "");
}

static int64_t tmin(LType t)
{
	switch (t) {
	case LT_I8: return INT8_MIN;
	case LT_I16: return INT16_MIN;
	case LT_I32: return INT32_MIN;
	case LT_I64: return INT64_MIN;
	default: return 0;
	}
}

static uint64_t tmax(LType t)
{
	switch (t) {
	case LT_I8: return INT8_MAX;
	case LT_I16: return INT16_MAX;
	case LT_I32: return INT32_MAX;
	case LT_I64: return INT64_MAX;
	case LT_U8: return UINT8_MAX;
	case LT_U16: return UINT16_MAX;
	case LT_I1: return 1;
	default: return 0;
	}
}

static LLVMValueRef cast(CgCtx *c, const LExpr *e, LLVMValueRef a)
{
	LType from = e->a->type, to = e->type;
	LLVMTypeRef tt = cg_type(c, to), ft = LLVMTypeOf(a);
	int ff = ltype_is_float(from), tf = ltype_is_float(to);
	int fb = ltype_bits(from), tb = ltype_bits(to);
	if (from == to)
		return a;
	if (ff && tf)
		return tb > fb ? LLVMBuildFPExt(c->b, a, tt, "") : LLVMBuildFPTrunc(c->b, a, tt, "");
	if (!ff && tf) {
		if (from == LT_I1 || !ltype_is_signed(from))
			return LLVMBuildUIToFP(c->b, a, tt, "");
		return LLVMBuildSIToFP(c->b, a, tt, "");
	}
	if (ff && !tf) {
		if (e->sat && !(e->a->kind == LE_UN && e->a->op == LU_TRUNC)) /* see LE_CAST */
			a = roundeven(c, a, from);
		LLVMTypeRef types[2] = {tt, ft};
		return intrinsic(c, ltype_is_signed(to) ? "llvm.fptosi.sat" : "llvm.fptoui.sat", types, 2, &a, 1);
	}
	/* integer → integer (to i1: the low bit, or clamped to 0..1 with sat) */
	int fs = from != LT_I1 && ltype_is_signed(from);
	if (e->sat && from != LT_I1) {
		/* Clamp in the source type to the intersection of both ranges
		 * (every range fits in int64: there is no u32/u64). */
		int64_t flo = tmin(from), fhi = (int64_t)tmax(from);
		int64_t lo = tmin(to) > flo ? tmin(to) : flo, hi = (int64_t)tmax(to) < fhi ? (int64_t)tmax(to) : fhi;
		if (lo > flo)
			a = intrinsic2(c, "llvm.smax", a, LLVMConstInt(ft, (unsigned long long)lo, 1));
		if (hi < fhi)
			a = intrinsic2(c, fs ? "llvm.smin" : "llvm.umin", a, LLVMConstInt(ft, (unsigned long long)hi, 0));
	}
	if (tb < fb)
		return LLVMBuildTrunc(c->b, a, tt, "");
	if (tb > fb)
		return fs ? LLVMBuildSExt(c->b, a, tt, "") : LLVMBuildZExt(c->b, a, tt, "");
	return a; /* same width, other signedness: same bits */
}

static LLVMValueRef k32(CgCtx *c, int v)
{
	return LLVMConstInt(LLVMInt32TypeInContext(c->ctx), (unsigned long long)(unsigned)v, 0);
}

/* the signed 16-bit half of an i32 as i32 (hi: bits 16..31) */
static LLVMValueRef half16(CgCtx *c, LLVMValueRef a, int hi)
{
	if (!hi)
		a = LLVMBuildShl(c->b, a, k32(c, 16), "");
	return LLVMBuildAShr(c->b, a, k32(c, 16), "");
}

static LLVMValueRef dot2(CgCtx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc)
{
	if (c->dsp) {
		LLVMValueRef args[3] = {a, b, acc};
		return intrinsic(c, acc ? "llvm.arm.smlad" : "llvm.arm.smuad", NULL, 0, args, acc ? 3 : 2);
	}
	LLVMValueRef s = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, half16(c, a, 0), half16(c, b, 0), ""),
	                              LLVMBuildMul(c->b, half16(c, a, 1), half16(c, b, 1), ""), "");
	return acc ? LLVMBuildAdd(c->b, acc, s, "") : s;
}

static LLVMValueRef sxtb16(CgCtx *c, LLVMValueRef a, int high)
{
	if (c->dsp) {
		if (high) {
			LLVMTypeRef t = LLVMTypeOf(a);
			LLVMValueRef args[3] = {a, a, k32(c, 8)};
			a = intrinsic(c, "llvm.fshr", &t, 1, args, 3);
		}
		return intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &a, 1);
	}
	/* byte 0 (1) and byte 2 (3), each sign-extended to 16 bits */
	LLVMValueRef lo = LLVMBuildAShr(c->b, LLVMBuildShl(c->b, a, k32(c, high ? 16 : 24), ""), k32(c, 24), "");
	LLVMValueRef hi = high ? LLVMBuildAShr(c->b, a, k32(c, 24), "")
	                       : LLVMBuildAShr(c->b, LLVMBuildShl(c->b, a, k32(c, 8), ""), k32(c, 24), "");
	return LLVMBuildOr(c->b, LLVMBuildAnd(c->b, lo, k32(c, 0xffff), ""), LLVMBuildShl(c->b, hi, k32(c, 16), ""), "");
}

/* The i32 dot2 of add(acc, dot2(x, y)) (i32) or of add(acc, cast<i64>(dot2(x, y)))
 * (i64, *wide = 1), either operand order; NULL for any other add */
static const LExpr *acc_dot2(const LExpr *e, int *wide)
{
	*wide = e->type == LT_I64;
	if (e->type != LT_I32 && !*wide)
		return NULL;
	for (int k = 0; k < 2; k++) {
		const LExpr *o = k ? e->a : e->b;
		if (*wide) {
			if (o->kind != LE_CAST || o->sat)
				continue;
			o = o->a;
		}
		if (o->kind == LE_BIN && o->op == LO_DOT2 && o->type == LT_I32 && o->a->type == LT_I32 && o->b->type == LT_I32)
			return o;
	}
	return NULL;
}

static LLVMValueRef bin(CgCtx *c, const LExpr *e, LLVMValueRef a, LLVMValueRef b, int in_index)
{
	LType t = e->a->type;
	int fl = ltype_is_float(t), sg = ltype_is_signed(t) && t != LT_I1;
	LLVMTypeRef ty = LLVMTypeOf(a);
	LLVMValueRef r;
	switch ((LBinOp)e->op) {
	case LO_ADD:
		if (fl) {
			r = LLVMBuildFAdd(c->b, a, b, "");
			fmf(c, r);
			return r;
		}
		return in_index ? LLVMBuildNSWAdd(c->b, a, b, "") : LLVMBuildAdd(c->b, a, b, "");
	case LO_SUB:
		if (fl) {
			r = LLVMBuildFSub(c->b, a, b, "");
			fmf(c, r);
			return r;
		}
		return in_index ? LLVMBuildNSWSub(c->b, a, b, "") : LLVMBuildSub(c->b, a, b, "");
	case LO_MUL:
		if (fl) {
			r = LLVMBuildFMul(c->b, a, b, "");
			fmf(c, r);
			return r;
		}
		return in_index ? LLVMBuildNSWMul(c->b, a, b, "") : LLVMBuildMul(c->b, a, b, "");
	case LO_DIV:
	case LO_REM: {
		if (fl) {
			r = e->op == LO_DIV ? LLVMBuildFDiv(c->b, a, b, "") : LLVMBuildFRem(c->b, a, b, "");
			fmf(c, r);
			return r;
		}
		LLVMValueRef zero = LLVMConstNull(ty), one = LLVMConstInt(ty, 1, 0);
		LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntEQ, b, zero, "");
		if (sg) {
			LLVMValueRef m1 = LLVMBuildICmp(c->b, LLVMIntEQ, b, LLVMConstAllOnes(ty), "");
			LLVMValueRef mn = LLVMBuildICmp(c->b, LLVMIntEQ, a, LLVMConstInt(ty, (unsigned long long)tmin(t), 1), "");
			bad = LLVMBuildOr(c->b, bad, LLVMBuildAnd(c->b, m1, mn, ""), "");
		}
		b = LLVMBuildSelect(c->b, bad, one, b, "");
		if (e->op == LO_DIV)
			return sg ? LLVMBuildSDiv(c->b, a, b, "") : LLVMBuildUDiv(c->b, a, b, "");
		return sg ? LLVMBuildSRem(c->b, a, b, "") : LLVMBuildURem(c->b, a, b, "");
	}
	case LO_MIN:
	case LO_MAX:
		if (fl)
			return fminmax(c, e->op == LO_MAX, a, b);
		if (t == LT_I1)
			return e->op == LO_MAX ? LLVMBuildOr(c->b, a, b, "") : LLVMBuildAnd(c->b, a, b, "");
		return intrinsic2(c, e->op == LO_MAX ? (sg ? "llvm.smax" : "llvm.umax") : (sg ? "llvm.smin" : "llvm.umin"), a,
		                  b);
	case LO_AND: return LLVMBuildAnd(c->b, a, b, "");
	case LO_OR: return LLVMBuildOr(c->b, a, b, "");
	case LO_XOR: return LLVMBuildXor(c->b, a, b, "");
	case LO_SHL:
	case LO_SHR: {
		b = LLVMBuildAnd(c->b, b, LLVMConstInt(ty, (unsigned long long)(ltype_bits(t) - 1), 0), "");
		if (e->op == LO_SHL)
			return LLVMBuildShl(c->b, a, b, "");
		return sg ? LLVMBuildAShr(c->b, a, b, "") : LLVMBuildLShr(c->b, a, b, "");
	}
	case LO_LT:
	case LO_LE:
	case LO_GT:
	case LO_GE:
	case LO_EQ:
	case LO_NE: {
		static const LLVMRealPredicate fp[] = {LLVMRealOLT, LLVMRealOLE, LLVMRealOGT, LLVMRealOGE, LLVMRealOEQ,
		                                       LLVMRealUNE};
		static const LLVMIntPredicate sp[] = {LLVMIntSLT, LLVMIntSLE, LLVMIntSGT, LLVMIntSGE, LLVMIntEQ, LLVMIntNE};
		static const LLVMIntPredicate up[] = {LLVMIntULT, LLVMIntULE, LLVMIntUGT, LLVMIntUGE, LLVMIntEQ, LLVMIntNE};
		int k = e->op - LO_LT;
		if (fl)
			return LLVMBuildFCmp(c->b, fp[k], a, b, "");
		return LLVMBuildICmp(c->b, sg ? sp[k] : up[k], a, b, "");
	}
	case LO_DOT2:
		if (t != LT_I32)
			return cg_fail(c, "loop IR: dot2 of %s (i32 only)", ltype_name(t));
		return dot2(c, a, b, NULL);
	case LO_POW:
		if (!fl)
			return cg_fail(c, "loop IR: pow on %s (floats only)", ltype_name(t));
		return intrinsic2(c, "llvm.pow", a, b);
	default: return cg_fail(c, "loop IR: unknown binary op %d", e->op);
	}
}

static LLVMValueRef un(CgCtx *c, const LExpr *e, LLVMValueRef a)
{
	LType t = e->a->type;
	int fl = ltype_is_float(t);
	if (e->op == LU_SXTB16 || e->op == LU_SXTB16H)
		return t == LT_I32 ? sxtb16(c, a, e->op == LU_SXTB16H)
		                   : cg_fail(c, "loop IR: %s of %s (i32 only)", loop_un_name(e->op), ltype_name(t));
	if (!fl && e->op >= LU_EXP)
		return cg_fail(c, "loop IR: unary op %d on %s (floats only)", e->op, ltype_name(t));
	switch ((LUnOp)e->op) {
	case LU_NEG: return fl ? LLVMBuildFNeg(c->b, a, "") : LLVMBuildNeg(c->b, a, "");
	case LU_ABS:
		if (fl)
			return intrinsic1(c, "llvm.fabs", a);
		if (!ltype_is_signed(t) || t == LT_I1)
			return a;
		{
			LLVMTypeRef types[1] = {LLVMTypeOf(a)};
			LLVMValueRef args[2] = {a, LLVMConstInt(LLVMInt1TypeInContext(c->ctx), 0, 0)};
			return intrinsic(c, "llvm.abs", types, 1, args, 2);
		}
	case LU_NOT: return LLVMBuildNot(c->b, a, "");
	case LU_EXP: return intrinsic1(c, "llvm.exp", a);
	case LU_LOG: return intrinsic1(c, "llvm.log", a);
	case LU_SQRT: return intrinsic1(c, "llvm.sqrt", a);
	case LU_FLOOR: return intrinsic1(c, "llvm.floor", a);
	case LU_CEIL: return intrinsic1(c, "llvm.ceil", a);
	case LU_TRUNC: return intrinsic1(c, "llvm.trunc", a);
	case LU_ROUND: return roundeven(c, a, t);
	case LU_TANH: return libm1(c, t == LT_F64 ? "tanh" : "tanhf", a);
	case LU_ERF: return libm1(c, t == LT_F64 ? "erf" : "erff", a);
	default: return cg_fail(c, "loop IR: unknown unary op %d", e->op);
	}
}

LLVMValueRef cg_addr(CgCtx *c, int buf, LLVMValueRef idx)
{
	LLVMTypeRef et = cg_type(c, c->p->bufs[buf].type);
	return LLVMBuildInBoundsGEP2(c->b, et, c->base[buf], &idx, 1, "");
}

/* !range [min, max + 1) of the values a load from an embedded const integer
 * table can read: its index is affine, Σ k·v + c, so only elements i ≡ c
 * (mod gcd k) (just c without variables). Given only to values that fit
 * a shift count (0 ≤ v < bits): for the requantization tables ({qm, right
 * shift, rounding constant} per channel) LLVM then drops the shift
 * amount's mask. Tables only (≤ RANGE_MAX_N elements): the scan is per load. */
#define RANGE_MAX_N 4096
static int64_t gcd64(int64_t a, int64_t b)
{
	a = a < 0 ? -a : a, b = b < 0 ? -b : b;
	while (b) {
		int64_t t = a % b;
		a = b, b = t;
	}
	return a;
}

static LLVMValueRef load_range(CgCtx *c, int buf, const LExpr *idx)
{
	const LBuf *b = &c->p->bufs[buf];
	LAff f;
	if (b->kind != LB_CONST || c->o->weights_external || !b->data || b->numel <= 0 || b->numel > RANGE_MAX_N ||
	    (b->type != LT_I8 && b->type != LT_I16 && b->type != LT_I32) || laff_of(idx, &f) < 0)
		return NULL;
	int64_t g = 0;
	for (int i = 0; i < f.n; i++)
		g = gcd64(g, f.k[i]);
	int64_t i0 = g ? ((f.c % g) + g) % g : f.c, step = g ? g : b->numel;
	if (i0 < 0 || i0 >= b->numel)
		return NULL;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (int64_t i = i0; i < b->numel; i += step) {
		int64_t v = b->type == LT_I8 ? ((const int8_t *)b->data)[i]
		            : b->type == LT_I16 ? ((const int16_t *)b->data)[i] : ((const int32_t *)b->data)[i];
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	if (lo < 0 || hi >= ltype_bits(b->type))
		return NULL; /* shift counts only: a wider range (the multipliers' sign, say)
		              * turns LLVM's sign extensions into zero extensions, and the
		              * 64-bit multiplies no longer match smmulr/smmlar */
	LLVMTypeRef ty = cg_type(c, b->type);
	LLVMMetadataRef md[2] = {LLVMValueAsMetadata(LLVMConstInt(ty, (unsigned long long)lo, 1)),
	                         LLVMValueAsMetadata(LLVMConstInt(ty, (unsigned long long)(hi + 1), 1))};
	return LLVMMetadataAsValue(c->ctx, LLVMMDNodeInContext2(c->ctx, md, 2));
}

void cg_set_access_metadata(CgCtx *c, LLVMValueRef inst, int buf)
{
	const LBuf *b = &c->p->bufs[buf];
	int bits = ltype_bits(b->type);
	LLVMSetAlignment(inst, (unsigned)(bits < 8 ? 1 : bits / 8));
	/* external weights may be replaced between calls: not invariant */
	if (b->kind == LB_CONST && !c->o->weights_external && LLVMIsALoadInst(inst)) {
		LLVMSetMetadata(inst, c->md_invariant, LLVMMetadataAsValue(c->ctx, LLVMMDNodeInContext2(c->ctx, NULL, 0)));
	}
}

static int check_buf(CgCtx *c, int buf)
{
	if (buf < 0 || buf >= c->p->n_bufs) {
		cg_fail(c, "loop IR: buffer index %d out of range", buf);
		return -1;
	}
	return 0;
}

LLVMValueRef cg_expr(CgCtx *c, const LExpr *e, int in_index)
{
	if (!e)
		return cg_fail(c, "loop IR: missing expression");
	LLVMTypeRef ty = cg_type(c, e->type);
	if (!ty)
		return cg_fail(c, "loop IR: expression of type %s", ltype_name(e->type));
	switch (e->kind) {
	case LE_CONST:
		if (ltype_is_float(e->type))
			return LLVMConstReal(ty, e->fval);
		return LLVMConstInt(ty, (unsigned long long)e->ival, ltype_is_signed(e->type));
	case LE_VAR: {
		LLVMValueRef s = cg_slot(c, e->var);
		if (!s)
			return NULL;
		if (c->p->vars[e->var].type != e->type)
			return cg_fail(c, "loop IR: variable '%s' read as %s", c->p->vars[e->var].name, ltype_name(e->type));
		return LLVMBuildLoad2(c->b, ty, s, c->p->vars[e->var].name);
	}
	case LE_LOAD: {
		if (check_buf(c, e->buf) < 0)
			return NULL;
		LLVMValueRef idx = cg_expr(c, e->a, 1);
		if (!idx)
			return NULL;
		LLVMValueRef v = LLVMBuildLoad2(c->b, cg_type(c, c->p->bufs[e->buf].type), cg_addr(c, e->buf, idx), "");
		cg_set_access_metadata(c, v, e->buf);
		LLVMValueRef r = load_range(c, e->buf, e->a);
		if (r)
			LLVMSetMetadata(v, c->md_range, r);
		return v;
	}
	case LE_BIN: {
		const LExpr *dp = NULL;
		int wide = 0;
		if (e->op == LO_ADD && !in_index && (dp = acc_dot2(e, &wide)) != NULL && (!wide || c->dsp)) {
			/* add(acc, dot2(x, y)): one smlad; add(acc, cast<i64>(dot2(x, y))),
			 * the 16x8 kernels' 64-bit accumulators: one smlald (either order) */
			const LExpr *ae = e->a == dp || (e->a->kind == LE_CAST && e->a->a == dp) ? e->b : e->a;
			LLVMValueRef acc = cg_expr(c, ae, 0);
			LLVMValueRef x = acc ? cg_expr(c, dp->a, 0) : NULL, y = x ? cg_expr(c, dp->b, 0) : NULL;
			if (!y)
				return NULL;
			if (!wide)
				return dot2(c, x, y, acc);
			LLVMValueRef args[3] = {x, y, acc};
			return intrinsic(c, "llvm.arm.smlald", NULL, 0, args, 3);
		}
		LLVMValueRef a = cg_expr(c, e->a, in_index), b = a ? cg_expr(c, e->b, in_index) : NULL;
		if (!b)
			return NULL;
		if (e->a->type != e->b->type)
			return cg_fail(c, "loop IR: binary op %d on %s and %s", e->op, ltype_name(e->a->type),
			               ltype_name(e->b->type));
		return bin(c, e, a, b, in_index);
	}
	case LE_UN: {
		LLVMValueRef a = cg_expr(c, e->a, in_index);
		return a ? un(c, e, a) : NULL;
	}
	case LE_CAST: {
		/* cast_sat of trunc(x) to an integer is fptosi.sat(x): it truncates,
		 * and roundeven of the integral trunc(x) is the identity (one vcvt
		 * on Arm, where trunc itself is a libm call without FPv5) */
		const int sat_trunc = e->sat && e->a->kind == LE_UN && e->a->op == LU_TRUNC &&
		                      ltype_is_float(e->a->type) && !ltype_is_float(e->type);
		LLVMValueRef a = cg_expr(c, sat_trunc ? e->a->a : e->a, 0);
		if (!a)
			return NULL;
		if (!cg_type(c, e->a->type))
			return cg_fail(c, "loop IR: cast from %s", ltype_name(e->a->type));
		return cast(c, e, a);
	}
	case LE_SELECT: {
		LLVMValueRef k = cg_expr(c, e->a, 0);
		LLVMValueRef a = k ? cg_expr(c, e->b, in_index) : NULL;
		LLVMValueRef b = a ? cg_expr(c, e->c, in_index) : NULL;
		if (!b)
			return NULL;
		if (e->a->type != LT_I1)
			return cg_fail(c, "loop IR: select condition of type %s", ltype_name(e->a->type));
		return LLVMBuildSelect(c->b, k, a, b, "");
	}
	}
	return cg_fail(c, "loop IR: unknown expression kind %d", e->kind);
}
