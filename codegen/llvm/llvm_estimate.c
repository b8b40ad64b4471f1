/* llvm_estimate.c — the LLVM half of nnllc --estimate (codegen/estimate.h).
 *
 * While the module is built, every instruction of top-level statement i gets
 * the debug line i + 1 (line-tables-only debug info; code generation does
 * not change with it). After the optimization passes, cg_est_count:
 *   - renames every block of PREFIX_run "nnl.bN" so the verbose assembly
 *     names, for each machine block, the IR block it comes from;
 *   - attributes each block to the top-level statement most of its
 *     instructions carry as their line;
 *   - runs the function's control flow: the backward slice of every
 *     conditional branch, switch and memcpy/memset length (integer and
 *     pointer arithmetic, phis, selects, compares, casts, min/max and
 *     overflow intrinsics, loads from constant globals) is compiled to a
 *     small op list per block and interpreted with fake, aligned addresses
 *     for the parameters and globals. Float arithmetic and data are never
 *     computed: a condition that depends on them is "unknown" and taken
 *     every other time (counted and reported).
 * The result is the exact number of executions of each block per inference
 * (for the loop nests the lowering emits, whose bounds never depend on data).
 */
#include "llvm_internal.h"
#include "estimate.h"

#include <llvm-c/DebugInfo.h>
#include <llvm-c/Target.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- debug lines while building ------------------------------------------ */

int cg_est_debug_init(CgCtx *c)
{
	LLVMDIBuilderRef db = LLVMCreateDIBuilder(c->mod);
	c->di_builder = db;
	LLVMMetadataRef file = LLVMDIBuilderCreateFile(db, "model.loop", 10, ".", 1);
	LLVMMetadataRef cu = LLVMDIBuilderCreateCompileUnit(db, LLVMDWARFSourceLanguageC11, file, "nnllc", 5, 1, "", 0,
	                                                    0, "", 0, LLVMDWARFEmissionLineTablesOnly, 0, 0, 0, "", 0,
	                                                    "", 0);
	c->di_file = file;
	c->di_cu = cu;
	c->di_type = LLVMDIBuilderCreateSubroutineType(db, file, NULL, 0, LLVMDIFlagZero);
	LLVMMetadataRef ver = LLVMValueAsMetadata(LLVMConstInt(LLVMInt32TypeInContext(c->ctx), LLVMDebugMetadataVersion(), 0));
	LLVMAddModuleFlag(c->mod, LLVMModuleFlagBehaviorWarning, "Debug Info Version", 18, ver);
	return cg_est_debug_fn(c, c->fn);
}

int cg_est_debug_fn(CgCtx *c, LLVMValueRef fn)
{
	if (!c->di_builder)
		return 0;
	size_t n = 0;
	const char *name = LLVMGetValueName2(fn, &n);
	LLVMMetadataRef sp = LLVMDIBuilderCreateFunction((LLVMDIBuilderRef)c->di_builder, (LLVMMetadataRef)c->di_cu, name,
	                                                 n, name, n, (LLVMMetadataRef)c->di_file, 1,
	                                                 (LLVMMetadataRef)c->di_type, 0, 1, 1, LLVMDIFlagZero, 1);
	LLVMSetSubprogram(fn, sp);
	c->di_scope = sp;
	return 0;
}

void cg_est_set_scope(CgCtx *c, LLVMValueRef fn)
{
	if (c->di_builder)
		c->di_scope = LLVMGetSubprogram(fn);
}

void cg_est_set_line(CgCtx *c, int line)
{
	if (!c->di_scope)
		return;
	if (line <= 0) {
		LLVMSetCurrentDebugLocation2(c->b, NULL);
		return;
	}
	LLVMSetCurrentDebugLocation2(c->b, LLVMDIBuilderCreateDebugLocation(c->ctx, (unsigned)line, 1,
	                                                                    (LLVMMetadataRef)c->di_scope, NULL));
}

void cg_est_debug_finish(CgCtx *c)
{
	if (c->di_builder)
		LLVMDIBuilderFinalize((LLVMDIBuilderRef)c->di_builder);
}

void cg_est_counts_free(CgEstCounts *e)
{
	if (!e)
		return;
	free(e->count);
	free(e->entries);
	free(e->layer);
	free(e->mem);
	memset(e, 0, sizeof *e);
}

/* ---- the control-flow interpreter ---------------------------------------- */

enum {
	K_BIN, K_ICMP, K_SELECT, K_CAST, K_GEP, K_LOAD, K_CALL, K_EXTRACT, K_UNKNOWN, K_COPY,
};

typedef struct Op {
	int kind;
	int opc;          /* LLVMOpcode / icmp predicate / intrinsic id below */
	int dst;
	int w;            /* result bits (0: not an integer or pointer: unknown) */
	int sw;           /* source bits (casts), load bytes */
	int n;            /* operands */
	int *a;           /* operand slot, or -1 for a constant */
	uint64_t *k;      /* operand constant */
	int64_t *s;       /* GEP: scale per operand */
	int *wv;          /* GEP: bits per operand */
	int64_t off;      /* GEP: constant part */
	int mem;          /* K_CALL memcpy/memset: index in counts->mem, else -1 */
} Op;

/* intrinsic ids (K_CALL opc) */
enum { IN_SMIN, IN_SMAX, IN_UMIN, IN_UMAX, IN_ABS, IN_SADDO, IN_UADDO, IN_SSUBO, IN_USUBO, IN_SMULO, IN_UMULO, IN_MEM };

typedef struct Phi {
	int dst;
	int n;
	int *pred;        /* predecessor block */
	int *a;           /* slot or -1 */
	uint64_t *k;
} Phi;

typedef struct Blk {
	LLVMBasicBlockRef bb;
	int nphi, nop;
	Phi *phi;
	Op *op;
	int term;         /* 0 ret/unreachable, 1 br, 2 condbr, 3 switch */
	int cond_a;       /* slot or -1 */
	uint64_t cond_k;
	int ns;           /* successors */
	int *succ;
	unsigned char *back; /* succ[i] is a back edge (its target is on the depth-first path) */
	uint64_t *case_k; /* switch: case value per successor (succ[0] default) */
	int cw;
	uint64_t toggle;
} Blk;

typedef struct Glob {
	LLVMValueRef g;
	uint64_t addr, size;
	const unsigned char *data; /* constant initializer bytes, NULL: unknown or zero */
	int zero;
} Glob;

typedef struct Interp {
	CgCtx *c;
	LLVMTargetDataRef td;
	int pbits;
	/* value → slot */
	LLVMValueRef *hkey;
	int *hval;
	size_t hcap;
	int nslots;
	char *inslice;    /* per slot: part of the slice */
	LLVMValueRef *slotv;
	int nblk;
	Blk *blk;
	Glob *glob;
	int nglob;
	uint64_t *val;
	unsigned char *known;
	unsigned char *ovf;
	CgEstCounts *out;
	int failed;
} Interp;

static size_t hidx(const Interp *I, LLVMValueRef v)
{
	uintptr_t h = (uintptr_t)v;
	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 7) & (I->hcap - 1);
}

static int slot_of(Interp *I, LLVMValueRef v, int create)
{
	size_t i = hidx(I, v);
	while (I->hkey[i]) {
		if (I->hkey[i] == v)
			return I->hval[i];
		i = (i + 1) & (I->hcap - 1);
	}
	if (!create)
		return -1;
	I->hkey[i] = v;
	I->hval[i] = I->nslots;
	I->slotv[I->nslots] = v;
	return I->nslots++;
}

static int bits_of(Interp *I, LLVMTypeRef t)
{
	switch (LLVMGetTypeKind(t)) {
	case LLVMIntegerTypeKind: {
		unsigned w = LLVMGetIntTypeWidth(t);
		return w <= 64 ? (int)w : 0;
	}
	case LLVMPointerTypeKind: return I->pbits;
	default: return 0;
	}
}

static uint64_t mask(uint64_t v, int w) { return w >= 64 ? v : v & ((1ull << w) - 1); }
static int64_t sext(uint64_t v, int w) { return w >= 64 ? (int64_t)v : (int64_t)(v << (64 - w)) >> (64 - w); }

static Glob *glob_at(Interp *I, uint64_t addr)
{
	for (int i = 0; i < I->nglob; i++)
		if (addr >= I->glob[i].addr && addr < I->glob[i].addr + I->glob[i].size)
			return &I->glob[i];
	return NULL;
}

static int bb_index(Interp *I, LLVMBasicBlockRef bb)
{
	int s = slot_of(I, LLVMBasicBlockAsValue(bb), 0);
	return s < 0 ? -1 : (int)I->val[s];
}

static int gep_terms(Interp *I, LLVMValueRef g, int nops, LLVMValueRef *ops, int64_t *scale);

/* A constant's value (integers, null, globals, undef, constant expressions). */
static int const_val(Interp *I, LLVMValueRef v, uint64_t *out)
{
	if (LLVMIsAConstantInt(v)) {
		*out = LLVMConstIntGetZExtValue(v);
		return 1;
	}
	if (LLVMIsAConstantPointerNull(v) || LLVMIsAUndefValue(v) || LLVMIsAConstantAggregateZero(v)) {
		*out = 0;
		return 1;
	}
	if (LLVMIsAGlobalValue(v)) {
		for (int i = 0; i < I->nglob; i++)
			if (I->glob[i].g == v) {
				*out = I->glob[i].addr;
				return 1;
			}
		*out = 0x7f000000; /* a function or an unknown global: some non-null address */
		return 1;
	}
	if (LLVMIsAConstantExpr(v)) {
		LLVMOpcode op = LLVMGetConstOpcode(v);
		int n = LLVMGetNumOperands(v);
		uint64_t x = 0, y = 0;
		if (op == LLVMGetElementPtr) {
			LLVMValueRef ops[16];
			int64_t sc[16];
			if (n > 16)
				return 0;
			for (int i = 0; i < n; i++)
				ops[i] = LLVMGetOperand(v, (unsigned)i);
			if (gep_terms(I, v, n, ops, sc) < 0)
				return 0;
			uint64_t r = 0;
			for (int i = 0; i < n; i++) {
				if (!const_val(I, ops[i], &x))
					return 0;
				int w = bits_of(I, LLVMTypeOf(ops[i]));
				r += (uint64_t)(i == 0 ? (int64_t)x : sext(x, w ? w : 64) * sc[i]);
			}
			*out = mask(r, I->pbits);
			return 1;
		}
		if ((op == LLVMPtrToInt || op == LLVMIntToPtr || op == LLVMBitCast || op == LLVMTrunc || op == LLVMZExt) &&
		    const_val(I, LLVMGetOperand(v, 0), &x)) {
			int w = bits_of(I, LLVMTypeOf(v));
			*out = w ? mask(x, w) : x;
			return 1;
		}
		if ((op == LLVMAdd || op == LLVMSub || op == LLVMMul) && n == 2 && const_val(I, LLVMGetOperand(v, 0), &x) &&
		    const_val(I, LLVMGetOperand(v, 1), &y)) {
			int w = bits_of(I, LLVMTypeOf(v));
			*out = mask(op == LLVMAdd ? x + y : op == LLVMSub ? x - y : x * y, w ? w : 64);
			return 1;
		}
	}
	return 0;
}

/* GEP scales: operand 0 is the base (scale 1 as an address), operand i>0 an
 * index with its element size; struct field offsets are folded into
 * scale 0 of a constant operand by returning scale 0 and adding through
 * the caller (struct indices are constants: scale = field offset / value). */
static int gep_terms(Interp *I, LLVMValueRef g, int nops, LLVMValueRef *ops, int64_t *scale)
{
	LLVMTypeRef t = LLVMGetGEPSourceElementType(g);
	scale[0] = 1;
	for (int i = 1; i < nops; i++) {
		if (i == 1) {
			scale[i] = (int64_t)LLVMABISizeOfType(I->td, t);
			continue;
		}
		switch (LLVMGetTypeKind(t)) {
		case LLVMStructTypeKind: {
			if (!LLVMIsAConstantInt(ops[i]))
				return -1;
			unsigned f = (unsigned)LLVMConstIntGetZExtValue(ops[i]);
			/* the field offset replaces index*scale: encode as scale = offset for index value f */
			uint64_t off = LLVMOffsetOfElement(I->td, t, f);
			scale[i] = f ? (int64_t)(off / f) : 0;
			if (f && off % f)
				return -1;
			t = LLVMStructGetTypeAtIndex(t, f);
			break;
		}
		case LLVMArrayTypeKind:
		case LLVMVectorTypeKind:
			t = LLVMGetElementType(t);
			scale[i] = (int64_t)LLVMABISizeOfType(I->td, t);
			break;
		default: return -1;
		}
	}
	return 0;
}

static void operand(Interp *I, LLVMValueRef v, int *a, uint64_t *k, int *ok)
{
	if (LLVMIsAInstruction(v) || LLVMIsAArgument(v)) {
		*a = slot_of(I, v, 1);
		*k = 0;
		return;
	}
	*a = -1;
	if (!const_val(I, v, k))
		*ok = 0;
}

static int intrinsic_id(const char *n)
{
	static const struct { const char *p; int id; } t[] = {
		{"llvm.smin.", IN_SMIN}, {"llvm.smax.", IN_SMAX}, {"llvm.umin.", IN_UMIN}, {"llvm.umax.", IN_UMAX},
		{"llvm.abs.", IN_ABS}, {"llvm.sadd.with.overflow.", IN_SADDO}, {"llvm.uadd.with.overflow.", IN_UADDO},
		{"llvm.ssub.with.overflow.", IN_SSUBO}, {"llvm.usub.with.overflow.", IN_USUBO},
		{"llvm.smul.with.overflow.", IN_SMULO}, {"llvm.umul.with.overflow.", IN_UMULO},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strncmp(n, t[i].p, strlen(t[i].p)))
			return t[i].id;
	return -1;
}

static const char *callee_name(LLVMValueRef call)
{
	LLVMValueRef f = LLVMGetCalledValue(call);
	size_t n;
	return f && LLVMIsAFunction(f) ? LLVMGetValueName2(f, &n) : "";
}

static int mem_kind(const char *n)
{
	if (!strncmp(n, "llvm.memcpy.", 12) || !strncmp(n, "llvm.memmove.", 13))
		return 0;
	if (!strncmp(n, "llvm.memset.", 12))
		return 1;
	return -1;
}

/* Build the op for instruction v into o (operands' slots created). 0 ok,
 * -1 unsupported (the value is then unknown). */
static int build_op(Interp *I, LLVMValueRef v, Op *o)
{
	memset(o, 0, sizeof *o);
	o->dst = slot_of(I, v, 1);
	o->mem = -1;
	LLVMTypeRef ty = LLVMTypeOf(v);
	o->w = bits_of(I, ty);
	LLVMOpcode opc = LLVMGetInstructionOpcode(v);
	int n = LLVMGetNumOperands(v);
	o->opc = (int)opc;
	switch (opc) {
	case LLVMAdd: case LLVMSub: case LLVMMul: case LLVMShl: case LLVMLShr: case LLVMAShr: case LLVMAnd:
	case LLVMOr: case LLVMXor: case LLVMSDiv: case LLVMUDiv: case LLVMSRem: case LLVMURem:
		o->kind = K_BIN;
		break;
	case LLVMICmp:
		o->kind = K_ICMP;
		o->opc = (int)LLVMGetICmpPredicate(v);
		o->sw = bits_of(I, LLVMTypeOf(LLVMGetOperand(v, 0)));
		if (!o->sw)
			return -1;
		break;
	case LLVMSelect: o->kind = K_SELECT; break;
	case LLVMZExt: case LLVMSExt: case LLVMTrunc: case LLVMPtrToInt: case LLVMIntToPtr: case LLVMBitCast:
	case LLVMFreeze:
		o->kind = K_CAST;
		o->sw = bits_of(I, LLVMTypeOf(LLVMGetOperand(v, 0)));
		if (!o->sw)
			return -1;
		break;
	case LLVMGetElementPtr: o->kind = K_GEP; break;
	case LLVMLoad:
		o->kind = K_LOAD;
		if (!o->w || o->w % 8)
			return -1;
		o->sw = o->w / 8;
		break;
	case LLVMExtractValue: {
		if (LLVMGetNumIndices(v) != 1)
			return -1;
		o->kind = K_EXTRACT;
		o->opc = (int)LLVMGetIndices(v)[0];
		n = 1;
		break;
	}
	case LLVMCall: {
		const char *name = callee_name(v);
		int id = intrinsic_id(name);
		if (id < 0)
			return -1;
		o->kind = K_CALL;
		o->opc = id;
		n = LLVMGetNumArgOperands(v);
		if (id >= IN_SADDO) /* {iN, i1}: the width of the first element */
			o->w = bits_of(I, LLVMStructGetTypeAtIndex(ty, 0));
		break;
	}
	default: return -1;
	}
	if (!o->w)
		return -1;
	o->n = n;
	o->a = calloc((size_t)n, sizeof *o->a);
	o->k = calloc((size_t)n, sizeof *o->k);
	o->s = o->kind == K_GEP ? calloc((size_t)n, sizeof *o->s) : NULL;
	if (!o->a || !o->k || (o->kind == K_GEP && !o->s))
		return -1;
	int ok = 1;
	LLVMValueRef ops[64];
	for (int i = 0; i < n; i++) {
		LLVMValueRef x = LLVMGetOperand(v, (unsigned)i);
		if (i < 64)
			ops[i] = x;
		operand(I, x, &o->a[i], &o->k[i], &ok);
	}
	if (o->kind == K_GEP) {
		if (n > 64 || gep_terms(I, v, n, ops, o->s) < 0)
			return -1;
		o->wv = calloc((size_t)n, sizeof *o->wv);
		if (!o->wv)
			return -1;
		for (int i = 0; i < n; i++) {
			o->wv[i] = bits_of(I, LLVMTypeOf(ops[i]));
			if (o->wv[i] == 0)
				return -1; /* vector GEP */
			if (i > 0 && o->a[i] < 0)
				o->k[i] = (uint64_t)sext(o->k[i], o->wv[i]);
		}
	}
	return ok ? 0 : -1;
}

/* Mark v and its operands (recursively) as part of the slice. */
static void mark(Interp *I, LLVMValueRef root, LLVMValueRef **stack, size_t *cap)
{
	size_t sp = 0;
	(*stack)[sp++] = root;
	while (sp) {
		LLVMValueRef v = (*stack)[--sp];
		if (!LLVMIsAInstruction(v))
			continue;
		int s = slot_of(I, v, 1);
		if (I->inslice[s])
			continue;
		I->inslice[s] = 1;
		LLVMOpcode opc = LLVMGetInstructionOpcode(v);
		if (opc == LLVMFCmp || opc == LLVMFPToSI || opc == LLVMFPToUI || opc == LLVMExtractElement)
			continue; /* data: unknown */
		int n = LLVMGetNumOperands(v);
		if (opc == LLVMCall)
			n = LLVMGetNumArgOperands(v);
		for (int i = 0; i < n; i++) {
			LLVMValueRef x = LLVMGetOperand(v, (unsigned)i);
			if (!LLVMIsAInstruction(x))
				continue;
			if (sp + 1 >= *cap) {
				LLVMValueRef *ns = realloc(*stack, *cap * 2 * sizeof *ns);
				if (!ns) {
					I->failed = 1;
					return;
				}
				*stack = ns;
				*cap *= 2;
			}
			(*stack)[sp++] = x;
		}
	}
}

static uint64_t get(const Interp *I, int a, uint64_t k, int *kn)
{
	if (a < 0)
		return k;
	if (!I->known[a])
		*kn = 0;
	return I->val[a];
}

static void exec_op(Interp *I, const Op *o)
{
	int kn = 1, w = o->w;
	uint64_t r = 0, x, y;
	int of = 0;
	switch (o->kind) {
	case K_BIN: {
		x = mask(get(I, o->a[0], o->k[0], &kn), w);
		y = mask(get(I, o->a[1], o->k[1], &kn), w);
		switch ((LLVMOpcode)o->opc) {
		case LLVMAdd: r = x + y; break;
		case LLVMSub: r = x - y; break;
		case LLVMMul: r = x * y; break;
		case LLVMShl: r = y < (uint64_t)w ? x << y : 0; break;
		case LLVMLShr: r = y < (uint64_t)w ? x >> y : 0; break;
		case LLVMAShr: r = y < (uint64_t)w ? (uint64_t)(sext(x, w) >> y) : 0; break;
		case LLVMAnd: r = x & y; break;
		case LLVMOr: r = x | y; break;
		case LLVMXor: r = x ^ y; break;
		case LLVMSDiv: if (!y) kn = 0; else r = (uint64_t)(sext(x, w) / sext(y, w)); break;
		case LLVMUDiv: if (!y) kn = 0; else r = x / y; break;
		case LLVMSRem: if (!y) kn = 0; else r = (uint64_t)(sext(x, w) % sext(y, w)); break;
		case LLVMURem: if (!y) kn = 0; else r = x % y; break;
		default: kn = 0;
		}
		break;
	}
	case K_ICMP: {
		int sw = o->sw;
		x = mask(get(I, o->a[0], o->k[0], &kn), sw);
		y = mask(get(I, o->a[1], o->k[1], &kn), sw);
		int64_t sx = sext(x, sw), sy = sext(y, sw);
		switch ((LLVMIntPredicate)o->opc) {
		case LLVMIntEQ: r = x == y; break;
		case LLVMIntNE: r = x != y; break;
		case LLVMIntUGT: r = x > y; break;
		case LLVMIntUGE: r = x >= y; break;
		case LLVMIntULT: r = x < y; break;
		case LLVMIntULE: r = x <= y; break;
		case LLVMIntSGT: r = sx > sy; break;
		case LLVMIntSGE: r = sx >= sy; break;
		case LLVMIntSLT: r = sx < sy; break;
		case LLVMIntSLE: r = sx <= sy; break;
		}
		break;
	}
	case K_SELECT: {
		int kc = 1;
		uint64_t c = get(I, o->a[0], o->k[0], &kc);
		if (!kc) {
			kn = 0;
			break;
		}
		r = (c & 1) ? get(I, o->a[1], o->k[1], &kn) : get(I, o->a[2], o->k[2], &kn);
		break;
	}
	case K_CAST: {
		x = mask(get(I, o->a[0], o->k[0], &kn), o->sw);
		r = o->opc == LLVMSExt ? (uint64_t)sext(x, o->sw) : x;
		break;
	}
	case K_GEP: {
		r = get(I, o->a[0], o->k[0], &kn);
		for (int i = 1; i < o->n; i++) {
			int wi = o->a[i] >= 0 ? o->wv[i] : 64;
			uint64_t v = get(I, o->a[i], o->k[i], &kn);
			r += (uint64_t)((o->a[i] >= 0 ? sext(v, wi) : (int64_t)v) * o->s[i]);
		}
		break;
	}
	case K_LOAD: {
		uint64_t addr = mask(get(I, o->a[0], o->k[0], &kn), I->pbits);
		Glob *g = kn ? glob_at(I, addr) : NULL;
		if (!g || (!g->data && !g->zero) || addr + (uint64_t)o->sw > g->addr + g->size) {
			kn = 0;
			break;
		}
		r = 0;
		if (g->data)
			for (int b = o->sw - 1; b >= 0; b--)
				r = (r << 8) | g->data[addr - g->addr + (uint64_t)b];
		break;
	}
	case K_EXTRACT: {
		int a = o->a[0];
		if (a < 0 || !I->known[a]) {
			kn = 0;
			break;
		}
		r = o->opc == 0 ? I->val[a] : I->ovf[a];
		break;
	}
	case K_CALL: {
		x = mask(get(I, o->a[0], o->k[0], &kn), w);
		y = o->n > 1 ? mask(get(I, o->a[1], o->k[1], &kn), w) : 0;
		int64_t sx = sext(x, w), sy = sext(y, w);
		switch (o->opc) {
		case IN_SMIN: r = sx < sy ? x : y; break;
		case IN_SMAX: r = sx > sy ? x : y; break;
		case IN_UMIN: r = x < y ? x : y; break;
		case IN_UMAX: r = x > y ? x : y; break;
		case IN_ABS: r = sx < 0 ? (uint64_t)-sx : x; break;
		case IN_SADDO: r = x + y; of = sext(mask(r, w), w) != sx + sy; break;
		case IN_UADDO: r = x + y; of = mask(r, w) < x; break;
		case IN_SSUBO: r = x - y; of = sext(mask(r, w), w) != sx - sy; break;
		case IN_USUBO: r = x - y; of = x < y; break;
		case IN_SMULO: r = x * y; of = sext(mask(r, w), w) != sx * sy; break;
		case IN_UMULO: r = x * y; of = y && mask(r, w) / y != x; break;
		default: kn = 0;
		}
		break;
	}
	default: kn = 0;
	}
	I->val[o->dst] = mask(r, w);
	I->known[o->dst] = (unsigned char)kn;
	I->ovf[o->dst] = (unsigned char)of;
}

static void add_mem(Interp *I, int block, int kind, double bytes)
{
	CgEstCounts *e = I->out;
	for (int i = 0; i < e->n_mem; i++)
		if (e->mem[i].block == block && e->mem[i].kind == kind) {
			e->mem[i].calls++;
			e->mem[i].bytes += bytes;
			return;
		}
	if (e->n_mem == e->cap_mem) {
		int nc = e->cap_mem ? e->cap_mem * 2 : 16;
		CgEstMem *m = realloc(e->mem, (size_t)nc * sizeof *m);
		if (!m) {
			I->failed = 1;
			return;
		}
		e->mem = m;
		e->cap_mem = nc;
	}
	e->mem[e->n_mem++] = (CgEstMem){block, kind, 1, bytes};
}

static void free_interp(Interp *I)
{
	for (int b = 0; b < I->nblk; b++) {
		Blk *k = &I->blk[b];
		for (int i = 0; i < k->nop; i++)
			free(k->op[i].a), free(k->op[i].k), free(k->op[i].s), free(k->op[i].wv);
		for (int i = 0; i < k->nphi; i++)
			free(k->phi[i].pred), free(k->phi[i].a), free(k->phi[i].k);
		free(k->op);
		free(k->phi);
		free(k->succ);
		free(k->back);
		free(k->case_k);
	}
	free(I->blk);
	free(I->glob);
	free(I->hkey);
	free(I->hval);
	free(I->slotv);
	free(I->inslice);
	free(I->val);
	free(I->known);
	free(I->ovf);
}

#define MAX_STEPS 8000000000.0

int cg_est_count(CgCtx *c)
{
	CgEstCounts *e = c->o->est_counts;
	Interp I;
	memset(&I, 0, sizeof I);
	I.c = c;
	I.out = e;
	I.td = LLVMGetModuleDataLayout(c->mod);
	I.pbits = (int)LLVMPointerSize(I.td) * 8;
	/* the functions: PREFIX_run first, then the layers' (llvm_module.c
	 * build_group), each with its blocks numbered after the previous one's */
	int nfn = 0;
	for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f; f = LLVMGetNextFunction(f))
		nfn += LLVMCountBasicBlocks(f) > 0;
	LLVMValueRef *fns = calloc((size_t)nfn + 1, sizeof *fns);
	int *fn_first = calloc((size_t)nfn + 2, sizeof *fn_first);
	double *fn_runs = calloc((size_t)nfn + 1, sizeof *fn_runs);
	if (!fns || !fn_first || !fn_runs) {
		free(fns), free(fn_first), free(fn_runs);
		return cg_fail(c, "out of memory"), -1;
	}
	nfn = 0;
	fns[nfn++] = c->fn;
	for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f; f = LLVMGetNextFunction(f))
		if (f != c->fn && LLVMCountBasicBlocks(f) > 0)
			fns[nfn++] = f;
	/* the machine blocks must name their IR blocks in the assembly */
	LLVMSetTargetMachineAsmVerbosity(c->tm, 1);
	/* sizes */
	size_t ninst = 16;
	int nblk = 0;
	for (int fi = 0; fi < nfn; fi++) {
		fn_first[fi] = nblk;
		for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fns[fi]); bb; bb = LLVMGetNextBasicBlock(bb)) {
			nblk++;
			for (LLVMValueRef v = LLVMGetFirstInstruction(bb); v; v = LLVMGetNextInstruction(v))
				ninst++;
		}
		ninst += LLVMCountParams(fns[fi]);
	}
	fn_first[nfn] = nblk;
	ninst += (size_t)nblk + 16;
	I.hcap = 64;
	while (I.hcap < ninst * 2)
		I.hcap *= 2;
	I.hkey = calloc(I.hcap, sizeof *I.hkey);
	I.hval = calloc(I.hcap, sizeof *I.hval);
	I.slotv = calloc(ninst, sizeof *I.slotv);
	I.inslice = calloc(ninst, 1);
	I.val = calloc(ninst, sizeof *I.val);
	I.known = calloc(ninst, 1);
	I.ovf = calloc(ninst, 1);
	I.blk = calloc((size_t)nblk + 1, sizeof *I.blk);
	e->count = calloc((size_t)nblk + 1, sizeof *e->count);
	e->entries = calloc((size_t)nblk + 1, sizeof *e->entries);
	e->layer = calloc((size_t)nblk + 1, sizeof *e->layer);
	e->n_blocks = nblk;
	size_t scap = 1024;
	LLVMValueRef *stack = malloc(scap * sizeof *stack);
	int rc = -1;
	if (!I.hkey || !I.hval || !I.slotv || !I.inslice || !I.val || !I.known || !I.ovf || !I.blk || !e->count || !e->entries ||
	    !e->layer || !stack) {
		cg_fail(c, "out of memory");
		goto done;
	}
	/* globals at fake addresses (aligned), with their constant bytes */
	{
		int ng = 0;
		for (LLVMValueRef g = LLVMGetFirstGlobal(c->mod); g; g = LLVMGetNextGlobal(g))
			ng++;
		I.glob = calloc((size_t)ng + 1, sizeof *I.glob);
		if (!I.glob) {
			cg_fail(c, "out of memory");
			goto done;
		}
		uint64_t addr = I.pbits == 32 ? 0x50000000u : 0x500000000ull;
		for (LLVMValueRef g = LLVMGetFirstGlobal(c->mod); g; g = LLVMGetNextGlobal(g)) {
			Glob *G = &I.glob[I.nglob++];
			G->g = g;
			G->size = LLVMABISizeOfType(I.td, LLVMGlobalGetValueType(g));
			G->addr = addr;
			addr += (G->size + 255) & ~(uint64_t)255;
			LLVMValueRef init = LLVMGetInitializer(g);
			if (init && LLVMIsGlobalConstant(g)) {
				if (LLVMIsAConstantAggregateZero(init))
					G->zero = 1;
				else if (LLVMIsAConstantDataSequential(init)) {
					size_t len = 0;
					const char *s = LLVMGetAsString(init, &len);
					if (s && len == G->size)
						G->data = (const unsigned char *)s;
				}
			}
		}
	}
	/* parameters: distinct, non-null, 4 KiB-aligned fake addresses (a
	 * layer's function receives PREFIX_run's pointers in the same order;
	 * its 4th, the weights' payload, is another address) */
	for (int fi = 0; fi < nfn; fi++)
		for (unsigned i = 0; i < LLVMCountParams(fns[fi]); i++) {
			int s = slot_of(&I, LLVMGetParam(fns[fi], i), 1);
			I.val[s] = (uint64_t)(i + 1) << (I.pbits == 32 ? 28 : 32);
			I.known[s] = 1;
		}
	/* blocks: rename, index (block values stored as slots holding their index) */
	{
		int b = 0;
		for (int fi = 0; fi < nfn; fi++)
		for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fns[fi]); bb; bb = LLVMGetNextBasicBlock(bb), b++) {
			char nm[32];
			int len = snprintf(nm, sizeof nm, "nnl.b%d", b);
			LLVMSetValueName2(LLVMBasicBlockAsValue(bb), nm, (size_t)len);
			I.blk[b].bb = bb;
			int s = slot_of(&I, LLVMBasicBlockAsValue(bb), 1);
			I.val[s] = (uint64_t)b;
			/* layer: the most frequent debug line among the block's instructions */
			int best = -1, bestn = 0;
			for (LLVMValueRef v = LLVMGetFirstInstruction(bb); v; v = LLVMGetNextInstruction(v)) {
				int line = (int)LLVMGetDebugLocLine(v);
				if (line <= 0 || line == best)
					continue;
				int cnt = 0;
				for (LLVMValueRef u = LLVMGetFirstInstruction(bb); u; u = LLVMGetNextInstruction(u))
					cnt += (int)LLVMGetDebugLocLine(u) == line;
				if (cnt > bestn)
					bestn = cnt, best = line;
			}
			e->layer[b] = best > 0 ? best - 1 : -1;
		}
		I.nblk = nblk;
	}
	/* the slice: roots are branch/switch conditions and memory-intrinsic lengths */
	for (int b = 0; b < nblk; b++) {
		for (LLVMValueRef v = LLVMGetFirstInstruction(I.blk[b].bb); v; v = LLVMGetNextInstruction(v)) {
			LLVMOpcode opc = LLVMGetInstructionOpcode(v);
			if (opc == LLVMBr && LLVMIsConditional(v))
				mark(&I, LLVMGetCondition(v), &stack, &scap);
			else if (opc == LLVMSwitch)
				mark(&I, LLVMGetOperand(v, 0), &stack, &scap);
			else if (opc == LLVMCall && mem_kind(callee_name(v)) >= 0)
				mark(&I, LLVMGetOperand(v, 2), &stack, &scap);
		}
	}
	if (I.failed) {
		cg_fail(c, "out of memory");
		goto done;
	}
	/* compile each block: phis in the slice, ops in the slice, mem calls, terminator */
	for (int b = 0; b < nblk; b++) {
		Blk *k = &I.blk[b];
		int nphi = 0, nop = 0;
		for (LLVMValueRef v = LLVMGetFirstInstruction(k->bb); v; v = LLVMGetNextInstruction(v)) {
			int s = slot_of(&I, v, 0);
			LLVMOpcode opc = LLVMGetInstructionOpcode(v);
			if (opc == LLVMCall && mem_kind(callee_name(v)) >= 0)
				nop++;
			else if (s >= 0 && I.inslice[s])
				*(opc == LLVMPHI ? &nphi : &nop) += 1;
		}
		k->phi = calloc((size_t)nphi + 1, sizeof *k->phi);
		k->op = calloc((size_t)nop + 1, sizeof *k->op);
		if (!k->phi || !k->op) {
			cg_fail(c, "out of memory");
			goto done;
		}
		for (LLVMValueRef v = LLVMGetFirstInstruction(k->bb); v; v = LLVMGetNextInstruction(v)) {
			LLVMOpcode opc = LLVMGetInstructionOpcode(v);
			int s = slot_of(&I, v, 0);
			int mk = opc == LLVMCall ? mem_kind(callee_name(v)) : -1;
			if (mk >= 0) {
				Op *o = &k->op[k->nop++];
				memset(o, 0, sizeof *o);
				o->kind = K_CALL;
				o->opc = IN_MEM;
				o->mem = mk;
				o->dst = -1;
				o->n = 1;
				o->a = calloc(1, sizeof *o->a);
				o->k = calloc(1, sizeof *o->k);
				if (!o->a || !o->k) {
					cg_fail(c, "out of memory");
					goto done;
				}
				int ok = 1;
				operand(&I, LLVMGetOperand(v, 2), &o->a[0], &o->k[0], &ok);
				if (!ok)
					o->a[0] = -2; /* unknown length */
				continue;
			}
			if (s < 0 || !I.inslice[s])
				continue;
			if (opc == LLVMPHI) {
				Phi *ph = &k->phi[k->nphi++];
				int n = (int)LLVMCountIncoming(v);
				ph->dst = s;
				ph->n = n;
				ph->pred = calloc((size_t)n + 1, sizeof *ph->pred);
				ph->a = calloc((size_t)n + 1, sizeof *ph->a);
				ph->k = calloc((size_t)n + 1, sizeof *ph->k);
				if (!ph->pred || !ph->a || !ph->k) {
					cg_fail(c, "out of memory");
					goto done;
				}
				for (int i = 0; i < n; i++) {
					int ok = 1;
					ph->pred[i] = bb_index(&I, LLVMGetIncomingBlock(v, (unsigned)i));
					operand(&I, LLVMGetIncomingValue(v, (unsigned)i), &ph->a[i], &ph->k[i], &ok);
					if (!ok)
						ph->a[i] = -2;
				}
				continue;
			}
			Op *o = &k->op[k->nop++];
			if (build_op(&I, v, o) < 0) {
				free(o->a), free(o->k), free(o->s), free(o->wv);
				memset(o, 0, sizeof *o);
				o->kind = K_UNKNOWN;
				o->dst = s;
				o->mem = -1;
			}
		}
		LLVMValueRef t = LLVMGetBasicBlockTerminator(k->bb);
		LLVMOpcode topc = t ? LLVMGetInstructionOpcode(t) : LLVMRet;
		int ns = t ? (int)LLVMGetNumSuccessors(t) : 0;
		k->ns = ns;
		k->succ = calloc((size_t)ns + 1, sizeof *k->succ);
		k->case_k = calloc((size_t)ns + 1, sizeof *k->case_k);
		k->back = calloc((size_t)ns + 1, 1);
		if (!k->succ || !k->case_k || !k->back) {
			cg_fail(c, "out of memory");
			goto done;
		}
		for (int i = 0; i < ns; i++)
			k->succ[i] = bb_index(&I, LLVMGetSuccessor(t, (unsigned)i));
		k->cond_a = -2;
		if (topc == LLVMBr) {
			k->term = LLVMIsConditional(t) ? 2 : 1;
			if (k->term == 2) {
				int ok = 1;
				operand(&I, LLVMGetCondition(t), &k->cond_a, &k->cond_k, &ok);
				if (!ok)
					k->cond_a = -2;
				k->cw = 1;
			}
		} else if (topc == LLVMSwitch) {
			k->term = 3;
			int ok = 1;
			LLVMValueRef cv = LLVMGetOperand(t, 0);
			operand(&I, cv, &k->cond_a, &k->cond_k, &ok);
			if (!ok)
				k->cond_a = -2;
			k->cw = bits_of(&I, LLVMTypeOf(cv));
			/* operands: cond, default, then (value, dest) pairs: successor i>0 is case i-1 */
			for (int i = 1; i < ns; i++) {
				uint64_t kv = 0;
				const_val(&I, LLVMGetOperand(t, (unsigned)(2 * i)), &kv);
				k->case_k[i] = kv;
			}
		} else {
			k->term = 0;
		}
	}
	/* back edges: depth-first from the entry, an edge to a block still on the path (the loop IR's control
	 * flow is reducible, so these are exactly the edges to a dominating loop header) */
	{
		int *st = malloc(((size_t)nblk + 1) * sizeof *st), *it = calloc((size_t)nblk + 1, sizeof *it);
		unsigned char *col = calloc((size_t)nblk + 1, 1); /* 0 unseen, 1 on the path, 2 done */
		if (!st || !it || !col) {
			free(st), free(it), free(col);
			cg_fail(c, "out of memory");
			goto done;
		}
		int sp = 0;
		for (int fi = 0; fi < nfn; fi++) {
		if (fn_first[fi] >= nblk || col[fn_first[fi]])
			continue;
		st[sp++] = fn_first[fi];
		col[fn_first[fi]] = 1;
		while (sp > 0) {
			int b = st[sp - 1];
			Blk *k = &I.blk[b];
			if (it[b] < k->ns) {
				int i = it[b]++, s = k->succ[i];
				if (s < 0)
					continue;
				if (col[s] == 1)
					k->back[i] = 1;
				else if (col[s] == 0) {
					col[s] = 1;
					st[sp++] = s;
				}
			} else {
				col[b] = 2;
				sp--;
			}
		}
		}
		free(st), free(it), free(col);
	}
	/* run */
	{
		double steps = 0;
		uint64_t *tmp = calloc(64, sizeof *tmp);
		unsigned char *tkn = calloc(64, 1);
		size_t tcap = 64;
		if (!tmp || !tkn) {
			free(tmp), free(tkn);
			cg_fail(c, "out of memory");
			goto done;
		}
		/* PREFIX_run, then each layer's function as many times as PREFIX_run's
		 * executed blocks call it (once) */
		for (int fi = 0; fi < nfn; fi++)
		for (double run = 0; run < (fi == 0 ? 1 : fn_runs[fi]); run++) {
		int cur = fn_first[fi], prev = -1;
		if (cur >= nblk)
			continue;
		e->entries[cur] += 1;
		while (cur >= 0) {
			Blk *k = &I.blk[cur];
			e->count[cur] += 1;
			if (++steps > MAX_STEPS) {
				free(tmp), free(tkn);
				cg_fail(c, "--estimate: more than %.0f block executions; the control flow does not end", MAX_STEPS);
				goto done;
			}
			if (k->nphi) {
				if ((size_t)k->nphi > tcap) {
					free(tmp), free(tkn);
					tcap = (size_t)k->nphi * 2;
					tmp = calloc(tcap, sizeof *tmp);
					tkn = calloc(tcap, 1);
					if (!tmp || !tkn) {
						free(tmp), free(tkn);
						cg_fail(c, "out of memory");
						goto done;
					}
				}
				for (int i = 0; i < k->nphi; i++) {
					Phi *ph = &k->phi[i];
					int kn = 0;
					tmp[i] = 0;
					for (int j = 0; j < ph->n; j++)
						if (ph->pred[j] == prev) {
							if (ph->a[j] == -2)
								kn = 0;
							else {
								kn = 1;
								tmp[i] = get(&I, ph->a[j], ph->k[j], &kn);
							}
							break;
						}
					tkn[i] = (unsigned char)kn;
				}
				for (int i = 0; i < k->nphi; i++) {
					I.val[k->phi[i].dst] = tmp[i];
					I.known[k->phi[i].dst] = tkn[i];
				}
			}
			for (int i = 0; i < k->nop; i++) {
				Op *o = &k->op[i];
				if (o->kind == K_UNKNOWN) {
					I.known[o->dst] = 0;
				} else if (o->opc == IN_MEM && o->kind == K_CALL) {
					int kn = o->a[0] != -2;
					uint64_t len = kn ? get(&I, o->a[0], o->k[0], &kn) : 0;
					add_mem(&I, cur, o->mem, kn ? (double)len : 0);
				} else {
					exec_op(&I, o);
				}
			}
			prev = cur;
			int next = -1, si = 0;
			if (k->term == 1) {
				next = k->succ[0];
			} else if (k->term == 2 || k->term == 3) {
				int kn = k->cond_a != -2;
				uint64_t cv = kn ? get(&I, k->cond_a, k->cond_k, &kn) : 0;
				if (!kn) {
					e->unknown += 1;
					cv = k->term == 2 ? (k->toggle++ & 1) : 0;
				}
				if (k->term == 2) {
					si = (cv & 1) ? 0 : 1;
				} else {
					si = 0;
					if (kn)
						for (int i = 1; i < k->ns; i++)
							if (mask(cv, k->cw) == mask(k->case_k[i], k->cw)) {
								si = i;
								break;
							}
				}
				next = k->succ[si];
			}
			if (next >= 0 && !k->back[si])
				e->entries[next] += 1;
			cur = next;
		}
		if (fi == 0) /* the calls of the layers' functions in PREFIX_run's blocks */
			for (int b = fn_first[0]; b < fn_first[1]; b++)
				for (LLVMValueRef v = LLVMGetFirstInstruction(I.blk[b].bb); v; v = LLVMGetNextInstruction(v)) {
					if (LLVMGetInstructionOpcode(v) != LLVMCall)
						continue;
					LLVMValueRef callee = LLVMGetCalledValue(v);
					for (int fj = 1; fj < nfn; fj++)
						if (callee == fns[fj])
							fn_runs[fj] += e->count[b];
				}
		}
		free(tmp);
		free(tkn);
		e->steps = steps;
	}
	if (I.failed) {
		cg_fail(c, "out of memory");
		goto done;
	}
	rc = 0;
done:
	free(stack);
	free_interp(&I);
	free(fns);
	free(fn_first);
	free(fn_runs);
	return rc;
}
