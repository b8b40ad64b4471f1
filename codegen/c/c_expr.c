/* c_expr.c — loop-IR expressions to C99, and the helpers they need.
 *
 * Every expression of loop type T is emitted as a C expression whose value
 * is the loop IR's value (in T's C type or an int it promotes to); C's own
 * operators are used where their meaning is the IR's:
 *   float + - * /, comparisons, unary -, & | ^ on integers, ?: for select,
 *   (float)/(double) conversions, <math.h> calls (expf, logf, sqrtf, tanhf,
 *   erff, floorf, ceilf, fabsf, fmodf, powf and their double forms),
 *   i32 + - * inside load/store indices and for bounds (LLVM's nsw
 *   operations: an index that overflowed would be out of bounds anyway).
 * Everything else is a static inline helper, emitted once, only when used,
 * with the LLVM backend's semantics (docs/codegen.md, docs/codegen-c.md):
 *   nnl_add/sub/mul/neg_T   wrap-around, computed in unsigned arithmetic
 *   nnl_div/rem_T           truncating; a zero divisor (and INT_MIN / -1)
 *                           divides by 1 instead
 *   nnl_shl/shr_T           shift amount modulo the width; shr arithmetic
 *                           for signed types, logical for unsigned
 *   nnl_abs_T               abs(INT_MIN) = INT_MIN
 *   nnl_min/max_T           integers by value; floats IEEE 754-2019
 *                           minimum/maximum (llvm.minimum/maximum): NaN if
 *                           either is NaN, -0 < +0
 *   nnl_roundeven_f32/f64   round half to even, exact in the default
 *                           rounding mode without libm's roundevenf
 *   nnl_f32_to_i8 ...       float -> int: truncate, saturate, NaN -> 0
 *                           (llvm.fptosi.sat); _sat: round half even first
 *   nnl_sat_i32_to_i8 ...   integer clamp to the target range
 *   nnl_i8_of ...           unsigned bits -> signed value, without C's
 *                           implementation-defined conversion
 *   nnl_lt_u8 ...           a comparison against the type's min or max
 *                           (keeps -Wtype-limits quiet)
 *   nnl_f32, nnl_f64        a float from its bit pattern (weights)
 */
#include "c_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* C precedence levels used to place parentheses */
enum { P_TERNARY = 3, P_OR = 6, P_XOR = 7, P_AND = 8, P_EQ = 9, P_REL = 10, P_ADD = 12, P_MUL = 13, P_UNARY = 14,
       P_POSTFIX = 15 };

const char *cc_ctype(LType t)
{
	switch (t) {
	case LT_I1: return "uint8_t";
	case LT_I8: return "int8_t";
	case LT_I16: return "int16_t";
	case LT_I32: return "int32_t";
	case LT_I64: return "int64_t";
	case LT_U8: return "uint8_t";
	case LT_U16: return "uint16_t";
	case LT_F32: return "float";
	case LT_F64: return "double";
	default: return "void";
	}
}

static const char *utype(LType t) /* the unsigned type of the same width */
{
	switch (ltype_bits(t)) {
	case 1:
	case 8: return "uint8_t";
	case 16: return "uint16_t";
	case 32: return "uint32_t";
	default: return "uint64_t";
	}
}

static const char *wtype(LType t) /* unsigned arithmetic wide enough not to promote to int */
{
	return ltype_bits(t) > 32 ? "uint64_t" : "uint32_t";
}

static int is_signed_int(LType t) { return !ltype_is_float(t) && t != LT_I1 && ltype_is_signed(t); }

/* The range of T's C type (i1 is a uint8_t holding 0 or 1). */
static void crange(LType t, int64_t *lo, uint64_t *hi)
{
	switch (t) {
	case LT_I8: *lo = INT8_MIN, *hi = INT8_MAX; return;
	case LT_I16: *lo = INT16_MIN, *hi = INT16_MAX; return;
	case LT_I32: *lo = INT32_MIN, *hi = INT32_MAX; return;
	case LT_I64: *lo = INT64_MIN, *hi = INT64_MAX; return;
	case LT_U16: *lo = 0, *hi = UINT16_MAX; return;
	default: *lo = 0, *hi = UINT8_MAX; return; /* u8, i1 */
	}
}

/* The loop type's range (i1: 0..1), for saturation. */
static void lrange(LType t, int64_t *lo, int64_t *hi)
{
	uint64_t h;
	crange(t, lo, &h);
	*hi = t == LT_I1 ? 1 : (int64_t)h;
}

static const char *max_macro(LType t)
{
	switch (t) {
	case LT_I8: return "INT8_MAX";
	case LT_I16: return "INT16_MAX";
	case LT_I32: return "INT32_MAX";
	case LT_I64: return "INT64_MAX";
	case LT_U8: return "UINT8_MAX";
	case LT_U16: return "UINT16_MAX";
	default: return "1";
	}
}

static const char *min_macro(LType t)
{
	switch (t) {
	case LT_I8: return "INT8_MIN";
	case LT_I16: return "INT16_MIN";
	case LT_I32: return "INT32_MIN";
	case LT_I64: return "INT64_MIN";
	default: return "0";
	}
}

static void int_lit(StrBuf *o, LType t, int64_t v)
{
	const char *m = NULL;
	if (t == LT_I64 && v == INT64_MIN)
		m = "INT64_MIN";
	else if (t == LT_I32 && v == INT32_MIN)
		m = "INT32_MIN";
	if (m)
		sb_str(o, m);
	else if (t == LT_I64)
		sb_fmt(o, "INT64_C(%lld)", (long long)v);
	else
		sb_fmt(o, "%lld", (long long)v);
}

/* "name" is new: the caller writes its definition (0 if already there, -1 oom). */
static int fresh_helper(CCtx *c, const char *name)
{
	if (cns_has(&c->helpers, name))
		return 0;
	if (cns_add(&c->helpers, name) < 0) {
		c->error = 1;
		return -1;
	}
	return 1;
}

const char *cc_bits_helper(CCtx *c, LType t)
{
	const char *n = t == LT_F64 ? "nnl_f64" : "nnl_f32";
	if (fresh_helper(c, n) == 1) {
		const char *ft = cc_ctype(t), *ut = utype(t);
		sb_fmt(&c->help,
		       "/* The %s whose IEEE-754 bits are u (weights are kept as bit patterns: exact). */\n"
		       "static inline %s %s(%s u)\n{\n\tunion {\n\t\t%s u;\n\t\t%s f;\n\t} x;\n\tx.u = u;\n\treturn x.f;\n}\n\n",
		       ft, ft, n, ut, ut, ft);
	}
	return n;
}

/* nnl_i8_of: the signed value of an unsigned bit pattern. */
static const char *of_helper(CCtx *c, LType t)
{
	static char n[32];
	snprintf(n, sizeof n, "nnl_%s_of", ltype_name(t));
	if (fresh_helper(c, n) == 1) {
		const char *st = cc_ctype(t), *ut = utype(t);
		int bits = ltype_bits(t);
		sb_fmt(&c->help, "/* The %s with the bits of u (two's complement, no implementation-defined conversion). */\n",
		       st);
		if (bits < 32)
			sb_fmt(&c->help, "static inline %s %s(%s u)\n{\n\treturn u <= %s ? (%s)u : (%s)((int32_t)u - %ld);\n}\n\n",
			       st, n, ut, max_macro(t), st, st, 1L << bits);
		else
			sb_fmt(&c->help,
			       "static inline %s %s(%s u)\n{\n\treturn u <= (%s)%s ? (%s)u : (%s)(u - (%s)%s - 1u) - %s - 1;\n}\n\n", st,
			       n, ut, ut, max_macro(t), st, st, ut, max_macro(t), max_macro(t));
	}
	return n;
}

/* dot2, sxtb16, sxtb16h (ir/loop.h): "nnl_dot2", "nnl_smlad" (acc + dot2),
 * "nnl_sxtb16", "nnl_sxtb16h". Portable C, and the ACLE intrinsics where the
 * compiler says the target has the Arm DSP instructions (__ARM_FEATURE_SIMD32:
 * gcc and clang for Cortex-M4/M7/M33), which compute the same bits. */
static const char *pair_helper(CCtx *c, const char *what)
{
	static char n[32];
	const char *of = of_helper(c, LT_I32);
	char ofc[32];
	snprintf(ofc, sizeof ofc, "%s", of);
	if (fresh_helper(c, "nnl_pairs") == 1)
		sb_fmt(&c->help,
		       "/* Two signed 16-bit halves in an int32 (ARM SMLAD/SMUAD/SXTB16 semantics,\n"
		       " * wrapping to 32 bits); the DSP instructions where the target has them. */\n"
		       "#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32\n"
		       "#include <arm_acle.h>\n"
		       "#define NNL_SIMD32 1\n"
		       "#else\n"
		       "#define NNL_SIMD32 0\n"
		       "#endif\n"
		       "static inline int32_t nnl_h16(uint32_t u)\n{\n\tu &= 0xffffu;\n"
		       "\treturn (int32_t)u - (int32_t)((u & 0x8000u) << 1);\n}\n"
		       "static inline uint32_t nnl_b8(uint32_t u)\n{\n\tu &= 0xffu;\n"
		       "\treturn (uint32_t)((int32_t)u - (int32_t)((u & 0x80u) << 1)) & 0xffffu;\n}\n"
		       "static inline int32_t nnl_dot2(int32_t a, int32_t b)\n{\n"
		       "#if NNL_SIMD32\n\treturn __smuad(a, b);\n#else\n"
		       "\tuint32_t ua = (uint32_t)a, ub = (uint32_t)b;\n"
		       "\treturn %s((uint32_t)(nnl_h16(ua) * nnl_h16(ub)) + (uint32_t)(nnl_h16(ua >> 16) * nnl_h16(ub >> 16)));\n"
		       "#endif\n}\n"
		       "static inline int32_t nnl_smlad(int32_t a, int32_t b, int32_t acc)\n{\n"
		       "#if NNL_SIMD32\n\treturn __smlad(a, b, acc);\n#else\n"
		       "\treturn %s((uint32_t)acc + (uint32_t)nnl_dot2(a, b));\n"
		       "#endif\n}\n"
		       "static inline int32_t nnl_sxtb16(int32_t x)\n{\n"
		       "#if NNL_SIMD32\n\treturn __sxtb16(x);\n#else\n"
		       "\tuint32_t u = (uint32_t)x;\n\treturn %s(nnl_b8(u) | nnl_b8(u >> 16) << 16);\n"
		       "#endif\n}\n"
		       "static inline int32_t nnl_sxtb16h(int32_t x)\n{\n"
		       "#if NNL_SIMD32\n\treturn __sxtb16(%s((uint32_t)x >> 8 | (uint32_t)x << 24));\n#else\n"
		       "\tuint32_t u = (uint32_t)x;\n\treturn %s(nnl_b8(u >> 8) | nnl_b8(u >> 24) << 16);\n"
		       "#endif\n}\n\n",
		       ofc, ofc, ofc, ofc, ofc);
	snprintf(n, sizeof n, "nnl_%s", what);
	return n;
}

/* "(W)(U)a" / "(W)a" */
static void widen(StrBuf *o, LType t, const char *v)
{
	if (ltype_bits(t) < 32)
		sb_fmt(o, "(%s)(%s)%s", wtype(t), utype(t), v);
	else
		sb_fmt(o, "(%s)%s", wtype(t), v);
}

/* nnl_add_i32 etc.: wrap-around +, -, * (and neg) in unsigned arithmetic. */
static const char *arith_helper(CCtx *c, const char *op, LType t)
{
	static char n[32];
	const char *of = is_signed_int(t) ? of_helper(c, t) : NULL;
	snprintf(n, sizeof n, "nnl_%s_%s", op, ltype_name(t));
	if (fresh_helper(c, n) != 1)
		return n;
	const char *ct = cc_ctype(t), *ut = utype(t);
	int neg = !strcmp(op, "neg");
	const char *sym = !strcmp(op, "add") ? "+" : !strcmp(op, "sub") ? "-" : "*";
	StrBuf e = {0};
	if (neg) {
		sb_fmt(&e, "(%s)0 - ", wtype(t));
		widen(&e, t, "a");
	} else {
		widen(&e, t, "a");
		sb_fmt(&e, " %s ", sym);
		widen(&e, t, "b");
	}
	if (neg)
		sb_fmt(&c->help, "/* -a, wrapping around (two's complement). */\nstatic inline %s %s(%s a)\n{\n", ct, n, ct);
	else
		sb_fmt(&c->help, "/* a %s b, wrapping around (two's complement). */\nstatic inline %s %s(%s a, %s b)\n{\n", sym,
		       ct, n, ct, ct);
	if (of)
		sb_fmt(&c->help, "\treturn %s((%s)(%s));\n}\n\n", of, ut, e.s ? e.s : "");
	else
		sb_fmt(&c->help, "\treturn (%s)(%s);\n}\n\n", ut, e.s ? e.s : "");
	if (e.oom)
		c->error = 1;
	free(e.s);
	return n;
}

static const char *divrem_helper(CCtx *c, int div, LType t)
{
	static char n[32];
	snprintf(n, sizeof n, "nnl_%s_%s", div ? "div" : "rem", ltype_name(t));
	if (fresh_helper(c, n) != 1)
		return n;
	const char *ct = cc_ctype(t);
	sb_fmt(&c->help,
	       "/* a %s b truncating toward zero; b == 0%s divides by 1 instead (no trap, no\n"
	       " * undefined behaviour, as nnllc's native code). */\n"
	       "static inline %s %s(%s a, %s b)\n{\n",
	       div ? "/" : "%", is_signed_int(t) ? " and INT_MIN / -1" : "", ct, n, ct, ct);
	if (is_signed_int(t))
		sb_fmt(&c->help, "\tif (b == 0 || (a == %s && b == -1))\n\t\tb = 1;\n", min_macro(t));
	else
		sb_fmt(&c->help, "\tif (b == 0)\n\t\tb = 1;\n");
	sb_fmt(&c->help, "\treturn (%s)(a %s b);\n}\n\n", ct, div ? "/" : "%");
	return n;
}

static const char *shift_helper(CCtx *c, int left, LType t)
{
	static char n[32];
	const char *of = left && is_signed_int(t) ? of_helper(c, t) : NULL;
	snprintf(n, sizeof n, "nnl_%s_%s", left ? "shl" : "shr", ltype_name(t));
	if (fresh_helper(c, n) != 1)
		return n;
	const char *ct = cc_ctype(t), *ut = utype(t), *wt = wtype(t);
	int bits = ltype_bits(t);
	sb_fmt(&c->help,
	       "/* a %s b with b taken modulo %d%s. */\n"
	       "static inline %s %s(%s a, %s b)\n{\n\tunsigned s = (unsigned)((%s)b & %du);\n",
	       left ? "<<" : ">>", bits, left ? "" : is_signed_int(t) ? ", arithmetic" : ", logical", ct, n, ct, ct, wt,
	       bits - 1);
	if (left) {
		StrBuf e = {0};
		widen(&e, t, "a");
		if (of)
			sb_fmt(&c->help, "\treturn %s((%s)(%s << s));\n}\n\n", of, ut, e.s ? e.s : "");
		else
			sb_fmt(&c->help, "\treturn (%s)(%s << s);\n}\n\n", ut, e.s ? e.s : "");
		if (e.oom)
			c->error = 1;
		free(e.s);
	} else if (is_signed_int(t)) {
		sb_fmt(&c->help, "\treturn (%s)(a < 0 ? ~(~a >> s) : a >> s);\n}\n\n", ct);
	} else {
		sb_fmt(&c->help, "\treturn (%s)(a >> s);\n}\n\n", ct);
	}
	return n;
}

static const char *abs_helper(CCtx *c, LType t)
{
	static char n[32];
	const char *neg = arith_helper(c, "neg", t);
	char negc[32];
	snprintf(negc, sizeof negc, "%s", neg);
	snprintf(n, sizeof n, "nnl_abs_%s", ltype_name(t));
	if (fresh_helper(c, n) == 1)
		sb_fmt(&c->help,
		       "/* |a|, wrapping: abs(%s) is %s. */\nstatic inline %s %s(%s a)\n{\n\treturn a < 0 ? %s(a) : a;\n}\n\n",
		       min_macro(t), min_macro(t), cc_ctype(t), n, cc_ctype(t), negc);
	return n;
}

static const char *minmax_helper(CCtx *c, int max, LType t)
{
	static char n[32];
	snprintf(n, sizeof n, "nnl_%s_%s", max ? "max" : "min", ltype_name(t));
	if (fresh_helper(c, n) != 1)
		return n;
	const char *ct = cc_ctype(t);
	if (ltype_is_float(t))
		sb_fmt(&c->help,
		       "/* IEEE 754-2019 %s (llvm.%s): NaN if either operand is NaN, -0 < +0. */\n"
		       "static inline %s %s(%s a, %s b)\n{\n"
		       "\tif (a != a || b != b)\n\t\treturn a + b;\n"
		       "\tif (a == b)\n\t\treturn signbit(a) ? %s : %s;\n"
		       "\treturn a %s b ? a : b;\n}\n\n",
		       max ? "maximum" : "minimum", max ? "maximum" : "minimum", ct, n, ct, ct, max ? "b" : "a",
		       max ? "a" : "b", max ? ">" : "<");
	else
		sb_fmt(&c->help, "static inline %s %s(%s a, %s b)\n{\n\treturn a %s b ? a : b;\n}\n\n", ct, n, ct, ct,
		       max ? ">" : "<");
	return n;
}

static const char *roundeven_helper(CCtx *c, LType t)
{
	int f = t == LT_F32;
	const char *n = f ? "nnl_roundeven_f32" : "nnl_roundeven_f64";
	if (fresh_helper(c, n) == 1)
		sb_fmt(&c->help,
		       "/* Round half to even (torch.round, llvm.roundeven) without libm: for |x| < 2^%d,\n"
		       " * (x + 2^%d) - 2^%d rounds in the default rounding mode, which is to\n"
		       " * nearest, ties to even; copysign keeps the sign of -0.4 -> -0. Larger\n"
		       " * values, infinities and NaN are already integral. */\n"
		       "static inline %s %s(%s x)\n{\n"
		       "\t%s k;\n"
		       "\tif (!(fabs%s(x) < %s))\n\t\treturn x;\n"
		       "\tk = copysign%s(%s, x);\n"
		       "\treturn copysign%s((x + k) - k, x);\n}\n\n",
		       f ? 23 : 52, f ? 23 : 52, f ? 23 : 52, cc_ctype(t), n, cc_ctype(t), cc_ctype(t), f ? "f" : "",
		       f ? "0x1p+23f" : "0x1p+52", f ? "f" : "", f ? "0x1p+23f" : "0x1p+52", f ? "f" : "");
	return n;
}

/* float -> int: truncate toward zero, saturate, NaN -> 0 (llvm.fptosi.sat /
 * fptoui.sat); with sat, round half to even first. */
static const char *f2i_helper(CCtx *c, LType from, LType to, int sat)
{
	static char n[64];
	char base[48];
	snprintf(base, sizeof base, "nnl_%s_to_%s", ltype_name(from), ltype_name(to));
	if (sat) {
		const char *re = roundeven_helper(c, from);
		char rec[32];
		snprintf(rec, sizeof rec, "%s", re);
		f2i_helper(c, from, to, 0);
		snprintf(n, sizeof n, "%s_sat", base);
		if (fresh_helper(c, n) == 1)
			sb_fmt(&c->help,
			       "/* Round half to even, then clamp to the range of %s; NaN -> 0. */\n"
			       "static inline %s %s(%s x)\n{\n\treturn %s(%s(x));\n}\n\n",
			       cc_ctype(to), cc_ctype(to), n, cc_ctype(from), base, rec);
		return n;
	}
	snprintf(n, sizeof n, "%s", base);
	if (fresh_helper(c, n) != 1)
		return n;
	int f = from == LT_F32, bits = ltype_bits(to);
	const char *sfx = f ? "f" : "";
	char lo[32], hi1[32];
	/* lo = the type's minimum, hi1 = its maximum + 1: powers of two, exact in float */
	if (is_signed_int(to)) {
		snprintf(lo, sizeof lo, "-0x1p+%d%s", bits - 1, sfx);
		snprintf(hi1, sizeof hi1, "0x1p+%d%s", bits - 1, sfx);
	} else {
		snprintf(lo, sizeof lo, "0%s", f ? ".0f" : ".0");
		snprintf(hi1, sizeof hi1, "0x1p+%d%s", bits, sfx);
	}
	sb_fmt(&c->help,
	       "/* Truncate toward zero, clamped to the range of %s; NaN -> 0 (llvm.fpto%ci.sat). */\n"
	       "static inline %s %s(%s x)\n{\n"
	       "\tif (x != x)\n\t\treturn 0;\n"
	       "\tif (x < %s)\n\t\treturn %s;\n"
	       "\tif (x >= %s)\n\t\treturn %s;\n"
	       "\treturn (%s)x;\n}\n\n",
	       cc_ctype(to), is_signed_int(to) ? 's' : 'u', cc_ctype(to), n, cc_ctype(from), lo, min_macro(to), hi1,
	       max_macro(to), cc_ctype(to));
	return n;
}

/* int -> int saturating: clamp to the intersection of both ranges. NULL when
 * no clamp is needed (every value of from fits to). */
static const char *sat_helper(CCtx *c, LType from, LType to)
{
	static char n[48];
	int64_t flo, fhi, tlo, thi;
	lrange(from, &flo, &fhi);
	lrange(to, &tlo, &thi);
	int need_lo = tlo > flo, need_hi = thi < fhi;
	if (!need_lo && !need_hi)
		return NULL;
	snprintf(n, sizeof n, "nnl_sat_%s_to_%s", ltype_name(from), ltype_name(to));
	if (fresh_helper(c, n) != 1)
		return n;
	sb_fmt(&c->help, "/* x clamped to the range of %s. */\nstatic inline %s %s(%s x)\n{\n", to == LT_I1 ? "i1 (0..1)" : cc_ctype(to),
	       cc_ctype(to), n, cc_ctype(from));
	if (need_lo)
		sb_fmt(&c->help, "\tif (x < %s)\n\t\treturn %s;\n", min_macro(to), min_macro(to));
	if (need_hi)
		sb_fmt(&c->help, "\tif (x > %s)\n\t\treturn %s;\n", max_macro(to), max_macro(to));
	sb_fmt(&c->help, "\treturn (%s)x;\n}\n\n", cc_ctype(to));
	return n;
}

static const char *const cmp_sym[] = {"<", "<=", ">", ">=", "==", "!="};
static const char *const cmp_name[] = {"lt", "le", "gt", "ge", "eq", "ne"};

static const char *cmp_helper(CCtx *c, int k, LType t)
{
	static char n[32];
	snprintf(n, sizeof n, "nnl_%s_%s", cmp_name[k], ltype_name(t));
	if (fresh_helper(c, n) == 1)
		sb_fmt(&c->help,
		       "/* a %s b as a function: compared with a constant at the end of the type's\n"
		       " * range, the operator would draw -Wtype-limits. */\n"
		       "static inline int %s(%s a, %s b)\n{\n\treturn a %s b;\n}\n\n",
		       cmp_sym[k], n, cc_ctype(t), cc_ctype(t), cmp_sym[k]);
	return n;
}

/* ---- constants -------------------------------------------------------------- */

void cc_float_const(StrBuf *o, LType t, double v)
{
	int f = t == LT_F32;
	if (f)
		v = (double)(float)v;
	if (v != v) {
		sb_str(o, f ? "NAN" : "(double)NAN");
		return;
	}
	if (isinf(v)) {
		sb_str(o, v > 0 ? (f ? "INFINITY" : "HUGE_VAL") : (f ? "-INFINITY" : "-HUGE_VAL"));
		return;
	}
	double lim = f ? 16777216.0 : 9007199254740992.0;
	if (v == floor(v) && fabs(v) < lim) {
		sb_fmt(o, "%.1f%s", v, f ? "f" : "");
		return;
	}
	/* a short decimal that is exactly the value (0.5, -0.125): exact in any
	 * compiler; %.60f is exact for these dyadic fractions, and a value it
	 * had to round would not come out this short */
	char exact[128];
	snprintf(exact, sizeof exact, "%.60f", v);
	size_t n = strlen(exact);
	while (n > 0 && exact[n - 1] == '0')
		exact[--n] = 0;
	if (n <= 12 && strtod(exact, NULL) == v) {
		sb_fmt(o, "%s%s", exact, f ? "f" : "");
		return;
	}
	sb_fmt(o, "%a%s", v, f ? "f" : "");
}

static int neg_const(const LExpr *e)
{
	return e->kind == LE_CONST &&
	       (ltype_is_float(e->type) ? (signbit(e->fval) && e->fval == e->fval) : e->ival < 0);
}

/* ---- expressions ------------------------------------------------------------- */

static void open_p(StrBuf *o, int prec, int ctx)
{
	if (prec < ctx)
		sb_str(o, "(");
}

static void close_p(StrBuf *o, int prec, int ctx)
{
	if (prec < ctx)
		sb_str(o, ")");
}

static void call1(CCtx *c, StrBuf *o, const char *fn, const LExpr *a, int in_index)
{
	sb_str(o, fn);
	sb_str(o, "(");
	cc_expr(c, o, a, in_index, 0);
	sb_str(o, ")");
}

static void call2(CCtx *c, StrBuf *o, const char *fn, const LExpr *a, const LExpr *b, int in_index)
{
	char name[64];
	snprintf(name, sizeof name, "%s", fn); /* fn may be a helper's static buffer */
	sb_str(o, name);
	sb_str(o, "(");
	cc_expr(c, o, a, in_index, 0);
	sb_str(o, ", ");
	cc_expr(c, o, b, in_index, 0);
	sb_str(o, ")");
}

static void infix(CCtx *c, StrBuf *o, const char *sym, int prec, int lctx, int rctx, const LExpr *a, const LExpr *b,
                  int in_index, int ctx)
{
	open_p(o, prec, ctx);
	cc_expr(c, o, a, in_index, lctx);
	sb_fmt(o, " %s ", sym);
	cc_expr(c, o, b, in_index, rctx);
	close_p(o, prec, ctx);
}

static int at_bound(const LExpr *e)
{
	if (e->kind != LE_CONST || ltype_is_float(e->type))
		return 0;
	int64_t lo;
	uint64_t hi;
	crange(e->type, &lo, &hi);
	return e->ival == lo || (e->ival >= 0 && (uint64_t)e->ival == hi);
}

static void bin(CCtx *c, StrBuf *o, const LExpr *e, int in_index, int ctx)
{
	LType t = e->a->type;
	int fl = ltype_is_float(t);
	const LExpr *a = e->a, *b = e->b;
	switch ((LBinOp)e->op) {
	case LO_ADD:
		if (t == LT_I32 && (b->kind == LE_BIN && b->op == LO_DOT2 ? 1 : a->kind == LE_BIN && a->op == LO_DOT2)) {
			/* add(acc, dot2(x, y)): one smlad */
			const LExpr *dp = b->kind == LE_BIN && b->op == LO_DOT2 ? b : a, *acc = dp == b ? a : b;
			sb_str(o, pair_helper(c, "smlad"));
			sb_str(o, "(");
			cc_expr(c, o, dp->a, in_index, 0);
			sb_str(o, ", ");
			cc_expr(c, o, dp->b, in_index, 0);
			sb_str(o, ", ");
			cc_expr(c, o, acc, in_index, 0);
			sb_str(o, ")");
			return;
		}
		/* fall through */
	case LO_SUB:
	case LO_MUL: {
		int mul = e->op == LO_MUL;
		const char *sym = e->op == LO_ADD ? "+" : e->op == LO_SUB ? "-" : "*";
		if (fl || (in_index && t == LT_I32)) {
			int prec = mul ? P_MUL : P_ADD;
			infix(c, o, sym, prec, prec, prec + 1, a, b, in_index, ctx);
		} else {
			call2(c, o, arith_helper(c, e->op == LO_ADD ? "add" : e->op == LO_SUB ? "sub" : "mul", t), a, b, in_index);
		}
		return;
	}
	case LO_DIV:
	case LO_REM:
		if (fl && e->op == LO_DIV)
			infix(c, o, "/", P_MUL, P_MUL, P_MUL + 1, a, b, in_index, ctx);
		else if (fl)
			call2(c, o, t == LT_F32 ? "fmodf" : "fmod", a, b, in_index);
		else
			call2(c, o, divrem_helper(c, e->op == LO_DIV, t), a, b, in_index);
		return;
	case LO_MIN:
	case LO_MAX:
		if (t == LT_I1) /* not valid loop IR, but LLVM's meaning: and/or */
			infix(c, o, e->op == LO_MAX ? "|" : "&", e->op == LO_MAX ? P_OR : P_AND, P_UNARY, P_UNARY, a, b, in_index,
			      ctx);
		else
			call2(c, o, minmax_helper(c, e->op == LO_MAX, t), a, b, in_index);
		return;
	case LO_AND: infix(c, o, "&", P_AND, P_UNARY, P_UNARY, a, b, in_index, ctx); return;
	case LO_OR: infix(c, o, "|", P_OR, P_UNARY, P_UNARY, a, b, in_index, ctx); return;
	case LO_XOR: infix(c, o, "^", P_XOR, P_UNARY, P_UNARY, a, b, in_index, ctx); return;
	case LO_SHL:
	case LO_SHR: call2(c, o, shift_helper(c, e->op == LO_SHL, t), a, b, in_index); return;
	case LO_LT:
	case LO_LE:
	case LO_GT:
	case LO_GE:
	case LO_EQ:
	case LO_NE: {
		int k = e->op - LO_LT;
		if (!fl && k < 4 && (at_bound(a) || at_bound(b)))
			call2(c, o, cmp_helper(c, k, t), a, b, in_index);
		else {
			int prec = k >= 4 ? P_EQ : P_REL;
			infix(c, o, cmp_sym[k], prec, P_REL + 1, P_REL + 1, a, b, in_index, ctx);
		}
		return;
	}
	case LO_POW: call2(c, o, t == LT_F32 ? "powf" : "pow", a, b, in_index); return;
	case LO_DOT2: call2(c, o, pair_helper(c, "dot2"), a, b, in_index); return;
	default:
		diag_add(c->d, "C backend: unknown binary op %d", e->op);
		c->error = 1;
		return;
	}
}

static void un(CCtx *c, StrBuf *o, const LExpr *e, int in_index, int ctx)
{
	LType t = e->a->type;
	int fl = ltype_is_float(t), f = t == LT_F32;
	static const char *const fn[] = {[LU_EXP] = "exp",   [LU_LOG] = "log",     [LU_SQRT] = "sqrt", [LU_TANH] = "tanh",
	                                 [LU_ERF] = "erf",   [LU_FLOOR] = "floor", [LU_CEIL] = "ceil", [LU_TRUNC] = "trunc"};
	switch ((LUnOp)e->op) {
	case LU_NEG:
		if (fl) {
			open_p(o, P_UNARY, ctx);
			sb_str(o, "-");
			cc_expr(c, o, e->a, in_index, P_POSTFIX);
			close_p(o, P_UNARY, ctx);
		} else {
			call1(c, o, arith_helper(c, "neg", t), e->a, in_index);
		}
		return;
	case LU_ABS:
		if (fl)
			call1(c, o, f ? "fabsf" : "fabs", e->a, in_index);
		else if (is_signed_int(t))
			call1(c, o, abs_helper(c, t), e->a, in_index);
		else
			cc_expr(c, o, e->a, in_index, ctx);
		return;
	case LU_NOT:
		if (t == LT_I1) {
			open_p(o, P_XOR, ctx);
			cc_expr(c, o, e->a, in_index, P_UNARY);
			sb_str(o, " ^ 1");
			close_p(o, P_XOR, ctx);
		} else {
			open_p(o, P_UNARY, ctx);
			sb_fmt(o, "(%s)~", cc_ctype(t));
			cc_expr(c, o, e->a, in_index, P_POSTFIX);
			close_p(o, P_UNARY, ctx);
		}
		return;
	case LU_EXP:
	case LU_LOG:
	case LU_SQRT:
	case LU_TANH:
	case LU_ERF:
	case LU_FLOOR:
	case LU_CEIL:
	case LU_TRUNC: {
		char name[16];
		snprintf(name, sizeof name, "%s%s", fn[e->op], f ? "f" : "");
		call1(c, o, name, e->a, in_index);
		return;
	}
	case LU_ROUND: call1(c, o, roundeven_helper(c, t), e->a, in_index); return;
	case LU_SXTB16:
	case LU_SXTB16H: call1(c, o, pair_helper(c, e->op == LU_SXTB16 ? "sxtb16" : "sxtb16h"), e->a, in_index); return;
	default:
		diag_add(c->d, "C backend: unknown unary op %d", e->op);
		c->error = 1;
		return;
	}
}

/* "(T)" applied to a */
static void c_cast(CCtx *c, StrBuf *o, LType to, const LExpr *a, int ctx)
{
	open_p(o, P_UNARY, ctx);
	sb_fmt(o, "(%s)", cc_ctype(to));
	cc_expr(c, o, a, 0, P_UNARY);
	close_p(o, P_UNARY, ctx);
}

static void cast(CCtx *c, StrBuf *o, const LExpr *e, int ctx)
{
	LType from = e->a->type, to = e->type;
	int ff = ltype_is_float(from), tf = ltype_is_float(to);
	int fb = ltype_bits(from), tb = ltype_bits(to);
	if (from == to) {
		cc_expr(c, o, e->a, 0, ctx);
		return;
	}
	if (tf) { /* float or int -> float: C's conversion rounds to nearest */
		c_cast(c, o, to, e->a, ctx);
		return;
	}
	if (ff) {
		call1(c, o, f2i_helper(c, from, to, e->sat), e->a, 0);
		return;
	}
	if (e->sat && from != LT_I1) {
		const char *h = sat_helper(c, from, to);
		if (h)
			call1(c, o, h, e->a, 0);
		else
			c_cast(c, o, to, e->a, ctx);
		return;
	}
	if (to == LT_I1) { /* the low bit */
		open_p(o, P_UNARY, ctx);
		sb_str(o, "(uint8_t)(");
		cc_expr(c, o, e->a, 0, P_UNARY);
		sb_str(o, " & 1)");
		close_p(o, P_UNARY, ctx);
		return;
	}
	int fits = from == LT_I1 || (is_signed_int(from) ? tb >= fb && is_signed_int(to) : tb > fb);
	if (fits || !is_signed_int(to)) { /* value kept, or modulo 2^bits into an unsigned type */
		c_cast(c, o, to, e->a, ctx);
		return;
	}
	/* the low bits as a signed value */
	const char *of = of_helper(c, to);
	char ofc[32];
	snprintf(ofc, sizeof ofc, "%s", of);
	sb_fmt(o, "%s((%s)", ofc, utype(to));
	cc_expr(c, o, e->a, 0, P_UNARY);
	sb_str(o, ")");
}

void cc_expr(CCtx *c, StrBuf *o, const LExpr *e, int in_index, int ctx)
{
	if (c->error)
		return;
	switch (e->kind) {
	case LE_CONST:
		if (neg_const(e))
			ctx = ctx > 0 ? P_POSTFIX + 1 : 0; /* (-1) inside any operator */
		open_p(o, P_POSTFIX, ctx);
		if (ltype_is_float(e->type))
			cc_float_const(o, e->type, e->fval);
		else
			int_lit(o, e->type, e->ival);
		close_p(o, P_POSTFIX, ctx);
		return;
	case LE_VAR: sb_str(o, c->vname[e->var]); return;
	case LE_LOAD: {
		const LBuf *b = &c->p->bufs[e->buf];
		int bits = b->kind == LB_CONST && ltype_is_float(b->type);
		if (bits)
			sb_fmt(o, "%s(", cc_bits_helper(c, b->type));
		sb_fmt(o, "%s[", c->bname[e->buf]);
		cc_expr(c, o, e->a, 1, 0);
		sb_str(o, bits ? "])" : "]");
		return;
	}
	case LE_BIN: bin(c, o, e, in_index, ctx); return;
	case LE_UN: un(c, o, e, in_index, ctx); return;
	case LE_CAST: cast(c, o, e, ctx); return;
	case LE_SELECT:
		open_p(o, P_TERNARY, ctx);
		cc_expr(c, o, e->a, 0, P_EQ); /* (a | b) ? : clang's -Wbitwise-conditional-parentheses */
		sb_str(o, " ? ");
		cc_expr(c, o, e->b, in_index, P_TERNARY + 1);
		sb_str(o, " : ");
		cc_expr(c, o, e->c, in_index, P_TERNARY + 1);
		close_p(o, P_TERNARY, ctx);
		return;
	}
	diag_add(c->d, "C backend: unknown expression kind %d", e->kind);
	c->error = 1;
}
