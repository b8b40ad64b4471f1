/* llvm_pack.c — the int8 → int16-pair packing loops of the Arm DSP kernels as
 * hand-scheduled Thumb-2 (docs/codegen.md, "Packing loops").
 *
 * The DSP kernels (codegen/lower_quant.c) pack their int8 input into words
 * of two int16 halves, k·(x − zx) (k = 1, or 2 where the band is doubled):
 *
 *   for v in lo..hi {
 *     store D[d + dd·v] = or(and(F(load X[x + cx·v]), 65535),
 *                            shl(F(load X[x + cx·v + dx]), 16))
 *   }
 *   F(l) = mul(sub(cast<i32>(l), zx), k)     (no mul for k = 1, no sub for zx = 0)
 *
 * in two shapes: a depthwise plane row, pairs of neighbouring columns (cx =
 * 2, dx = 1, dd = 1: pack_row_pairs), and a band column, the same column of
 * two channel planes (cx = 1, dx = the plane, conv_dsp's band). LLVM makes
 * each word of two ldrsb, a shift-add, an add of the offsets and a str (5;
 * the band 6). Here one word load (ldr: 4 bytes; the M4 loads unaligned
 * words, CCR.UNALIGN_TRP clear as at reset) feeds two output words (a plane)
 * or four (a band, with the other channel's): sxtb16 (sign-extended bytes 0
 * and 2, and ror #8: 1 and 3) and pkhbt/pkhtb pair them, sadd16 adds −zx to
 * both halves (and doubles: sadd16 of itself); for zx = −128, x − zx = x +
 * 128 is the byte with its top bit flipped, read unsigned: eor with
 * 0x80808080, uxtb16 (and lsl #1 doubles: no half passes 510). A plane
 * packs 8 words an asm (4 ldr, 4 strd: 3.75 instructions a word with its
 * loop, zx = −128), a band 4 (5.5 doubled). The iterations past the last
 * whole asm take one asm each (two ldrsb). Same bits: every half is k·(x −
 * zx) mod 2^16, as the IR's and/or/shl make it.
 */
#include "llvm_internal.h"
#include "lopt_util.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Pack {
	int xbuf, dbuf;
	const LExpr *xidx, *didx; /* the first half's load index, the store's */
	int64_t cx, dx, dd;       /* per iteration: input bytes, second half's distance, output words */
	int64_t zx, k;
	int plane;                /* shape: 1 a plane row (cx 2, dx 1, dd 1), 0 a band column (cx 1) */
	int64_t n;                /* iterations */
} Pack;

static int is_k(const LExpr *e, int64_t k) { return e && e->kind == LE_CONST && e->ival == k; }

/* F(load X[i]): fills buf, idx, zx, k; 0 if not one */
static int half(const CgCtx *c, const LExpr *e, int *buf, const LExpr **idx, int64_t *zx, int64_t *k)
{
	*k = 1;
	*zx = 0;
	if (e && e->kind == LE_BIN && e->op == LO_MUL && is_k(e->b, 2))
		*k = 2, e = e->a;
	if (e && e->kind == LE_BIN && e->op == LO_SUB && e->b && e->b->kind == LE_CONST)
		*zx = e->b->ival, e = e->a;
	if (!e || e->kind != LE_CAST || e->sat || e->type != LT_I32 || !e->a || e->a->kind != LE_LOAD)
		return 0;
	const LExpr *l = e->a;
	if (c->p->bufs[l->buf].type != LT_I8 || *zx < -128 || *zx > 127)
		return 0;
	*buf = l->buf;
	*idx = l->a;
	return 1;
}

static int match(const CgCtx *c, const LStmt *s, Pack *pk)
{
	memset(pk, 0, sizeof *pk);
	if (s->step != 1 || s->lo->kind != LE_CONST || s->hi->kind != LE_CONST || s->body.n != 1)
		return 0;
	const LStmt *t = s->body.v[0];
	if (t->kind != LS_STORE || c->p->bufs[t->buf].type != LT_I32)
		return 0;
	const LExpr *e = t->val;
	if (!e || e->kind != LE_BIN || e->op != LO_OR || !e->a || e->a->kind != LE_BIN || e->a->op != LO_AND ||
	    !is_k(e->a->b, 0xffff) || !e->b || e->b->kind != LE_BIN || e->b->op != LO_SHL || !is_k(e->b->b, 16))
		return 0;
	int b0, b1;
	const LExpr *i0, *i1;
	int64_t z1, k1;
	if (!half(c, e->a->a, &b0, &i0, &pk->zx, &pk->k) || !half(c, e->b->a, &b1, &i1, &z1, &k1) || b0 != b1 ||
	    z1 != pk->zx || k1 != pk->k)
		return 0;
	LAff a0, a1, ad;
	if (laff_of(i0, &a0) != 0 || laff_of(i1, &a1) != 0 || laff_of(t->idx, &ad) != 0)
		return 0;
	const int v = s->var;
	pk->cx = laff_coef(&a0, v);
	pk->dd = laff_coef(&ad, v);
	if (laff_coef(&a1, v) != pk->cx)
		return 0;
	/* the two halves' indices differ by a constant */
	for (int i = 0; i < a0.n; i++)
		if (laff_coef(&a1, a0.var[i]) != a0.k[i])
			return 0;
	for (int i = 0; i < a1.n; i++)
		if (laff_coef(&a0, a1.var[i]) != a1.k[i])
			return 0;
	pk->dx = a1.c - a0.c;
	pk->plane = pk->cx == 2 && pk->dx == 1 && pk->dd == 1;
	if (!pk->plane && !(pk->cx == 1 && pk->dx > 0 && pk->dx <= 4095 && pk->dd >= 1 && 16 * pk->dd <= 4095))
		return 0;
	pk->xbuf = b0;
	pk->dbuf = t->buf;
	pk->xidx = i0;
	pk->didx = t->idx;
	pk->n = s->hi->ival - s->lo->ival;
	return pk->n > 0;
}

/* Operands: 0 x, 1 d (tied, advanced), 2..4 temporaries, 5 t3, 6 t4 (bands),
 * then the inputs: x, d, and Z (the −zx pair) where zx is neither 0 nor −128. */
#define PX 0
#define PD 1
#define PT(i) (2 + (i))
#define NT 5

/* the halves of words a (low) and b as k·(x − zx): after sxtb16/uxtb16 */
static void offset(StrBuf *b, const Pack *pk, int r, int zr)
{
	if (pk->zx != 0 && pk->zx != -128)
		sb_fmt(b, "sadd16 $%d, $%d, $%d\n\t", r, r, zr);
	if (pk->k == 2 && pk->zx != -128)
		sb_fmt(b, "sadd16 $%d, $%d, $%d\n\t", r, r, r);
}

/* One asm: a plane, 4 loads of 4 bytes into 8 words; a band, 4 columns. */
static void text_group(StrBuf *b, const Pack *pk, int zr)
{
	const int u = pk->zx == -128; /* unsigned: eor, uxtb16 */
	const char *ext = u ? "uxtb16" : "sxtb16";
	if (pk->plane) {
		/* the highest offsets first: the last load and store post-indexed */
		for (int g = 3; g >= 0; g--) {
			int t = PT(0), a = PT(1), p = PT(2);
			if (g)
				sb_fmt(b, "ldr $%d, [$%d, #%d]\n\t", t, PX, 4 * g);
			else
				sb_fmt(b, "ldr $%d, [$%d], #16\n\t", t, PX);
			if (u)
				sb_fmt(b, "eor $%d, $%d, #0x80808080\n\t", t, t);
			sb_fmt(b, "%s $%d, $%d\n\t", ext, a, t);
			sb_fmt(b, "%s $%d, $%d, ror #8\n\t", ext, t, t);
			if (u && pk->k == 2) {
				sb_fmt(b, "lsl $%d, $%d, #1\n\t", a, a);
				sb_fmt(b, "lsl $%d, $%d, #1\n\t", t, t);
			}
			sb_fmt(b, "pkhbt $%d, $%d, $%d, lsl #16\n\t", p, a, t); /* bytes 0, 1 */
			sb_fmt(b, "pkhtb $%d, $%d, $%d, asr #16\n\t", t, t, a); /* bytes 2, 3 */
			offset(b, pk, p, zr);
			offset(b, pk, t, zr);
			if (g)
				sb_fmt(b, "strd $%d, $%d, [$%d, #%d]\n\t", p, t, PD, 8 * g);
			else
				sb_fmt(b, "strd $%d, $%d, [$%d], #32\n\t", p, t, PD);
		}
		return;
	}
	/* a band: A the first channel's 4 columns, B the second's */
	int A = PT(0), B = PT(1), a = PT(2), bb = PT(3), p = PT(4);
	sb_fmt(b, "ldr $%d, [$%d, #%lld]\n\t", B, PX, (long long)pk->dx);
	sb_fmt(b, "ldr $%d, [$%d], #4\n\t", A, PX);
	if (u) {
		sb_fmt(b, "eor $%d, $%d, #0x80808080\n\t", A, A);
		sb_fmt(b, "eor $%d, $%d, #0x80808080\n\t", B, B);
	}
	sb_fmt(b, "%s $%d, $%d\n\t", ext, a, A);
	sb_fmt(b, "%s $%d, $%d, ror #8\n\t", ext, A, A);
	sb_fmt(b, "%s $%d, $%d\n\t", ext, bb, B);
	sb_fmt(b, "%s $%d, $%d, ror #8\n\t", ext, B, B);
	if (u && pk->k == 2)
		for (int r = 0; r < 4; r++)
			sb_fmt(b, "lsl $%d, $%d, #1\n\t", PT(r), PT(r));
	sb_fmt(b, "pkhbt $%d, $%d, $%d, lsl #16\n\t", p, a, bb);   /* column 0 */
	sb_fmt(b, "pkhtb $%d, $%d, $%d, asr #16\n\t", a, bb, a);   /* column 2 */
	sb_fmt(b, "pkhbt $%d, $%d, $%d, lsl #16\n\t", bb, A, B);   /* column 1 */
	sb_fmt(b, "pkhtb $%d, $%d, $%d, asr #16\n\t", B, B, A);    /* column 3 */
	const int cols[4] = {p, bb, a, B};
	for (int i = 0; i < 4; i++)
		offset(b, pk, cols[i], zr);
	for (int i = 3; i >= 1; i--)
		sb_fmt(b, "str $%d, [$%d, #%lld]\n\t", cols[i], PD, (long long)(4 * pk->dd * i));
	/* post-indexed offsets encode up to 255 */
	if (16 * pk->dd <= 255) {
		sb_fmt(b, "str $%d, [$%d], #%lld\n\t", cols[0], PD, (long long)(16 * pk->dd));
	} else {
		sb_fmt(b, "str $%d, [$%d]\n\t", cols[0], PD);
		sb_fmt(b, "add $%d, $%d, #%lld\n\t", PD, PD, (long long)(16 * pk->dd));
	}
}

/* One iteration (past the last whole group): two ldrsb. */
static void text_one(StrBuf *b, const Pack *pk)
{
	int a = PT(0), h = PT(1);
	sb_fmt(b, "ldrsb $%d, [$%d, #%lld]\n\t", h, PX, (long long)pk->dx);
	sb_fmt(b, "ldrsb $%d, [$%d], #%lld\n\t", a, PX, (long long)pk->cx);
	for (int r = 0; r < 2; r++) {
		int x = r ? h : a;
		if (pk->zx > 0)
			sb_fmt(b, "sub $%d, $%d, #%lld\n\t", x, x, (long long)pk->zx);
		else if (pk->zx < 0)
			sb_fmt(b, "add $%d, $%d, #%lld\n\t", x, x, (long long)-pk->zx);
		if (pk->k == 2)
			sb_fmt(b, "lsl $%d, $%d, #1\n\t", x, x);
	}
	sb_fmt(b, "pkhbt $%d, $%d, $%d, lsl #16\n\t", a, a, h);
	if (4 * pk->dd <= 255) {
		sb_fmt(b, "str $%d, [$%d], #%lld\n\t", a, PD, (long long)(4 * pk->dd));
	} else {
		sb_fmt(b, "str $%d, [$%d]\n\t", a, PD);
		sb_fmt(b, "add $%d, $%d, #%lld\n\t", PD, PD, (long long)(4 * pk->dd));
	}
}

static LLVMValueRef make(CgCtx *c, const Pack *pk, int one, int z, LLVMTypeRef *fty)
{
	StrBuf b = {0};
	if (one)
		text_one(&b, pk);
	else
		text_group(&b, pk, 2 + NT + 2);
	if (cg_asm_text(c, &b) < 0)
		return NULL;
	char cons[128];
	snprintf(cons, sizeof cons, "=r,=r,=&r,=&r,=&r,=&r,=&r,0,1%s,~{memory}", z ? ",r" : "");
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx), ptr = LLVMPointerTypeInContext(c->ctx, 0);
	LLVMTypeRef outs[2 + NT] = {ptr, ptr, i32, i32, i32, i32, i32}, ins[3] = {ptr, ptr, i32};
	*fty = LLVMFunctionType(LLVMStructTypeInContext(c->ctx, outs, 2 + NT, 0), ins, z ? 3 : 2, 0);
	LLVMValueRef f = LLVMGetInlineAsm(*fty, b.s, b.n, cons, strlen(cons), 1, 0, LLVMInlineAsmDialectATT, 0);
	free(b.s);
	return f;
}

static void call(CgCtx *c, LLVMTypeRef fty, LLVMValueRef f, LLVMValueRef *x, LLVMValueRef *d, LLVMValueRef z)
{
	LLVMValueRef args[3] = {*x, *d, z};
	LLVMValueRef r = LLVMBuildCall2(c->b, fty, f, args, z ? 3 : 2, "");
	*x = LLVMBuildExtractValue(c->b, r, 0, "");
	*d = LLVMBuildExtractValue(c->b, r, 1, "");
}

int cg_pack_loop(CgCtx *c, const LStmt *s, LLVMValueRef lo, LLVMValueRef hi)
{
	Pack pk;
	(void)lo, (void)hi;
	if (!c->dsp || c->o->opt == CG_O0 || !match(c, s, &pk) || getenv("NNL_NO_PACK_ASM"))
		return 0;
	const int64_t G = pk.plane ? 8 : 4; /* iterations an asm */
	const int64_t groups = pk.n / G, rest = pk.n % G;
	if (!groups)
		return 0; /* a few words: LLVM's code */
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx);
	/* the pointers at v = lo (for_stmt stored it) */
	LLVMValueRef xi = cg_expr(c, pk.xidx, 1), di = xi ? cg_expr(c, pk.didx, 1) : NULL;
	if (!di)
		return -1;
	LLVMValueRef x = cg_addr(c, pk.xbuf, xi), d = cg_addr(c, pk.dbuf, di);
	const int zr = pk.zx != 0 && pk.zx != -128;
	LLVMValueRef z = zr ? LLVMConstInt(i32, (unsigned long long)(((uint32_t)(-pk.zx) & 0xffffu) * 0x10001u), 0) : NULL;
	LLVMTypeRef fg, f1;
	LLVMValueRef ag = make(c, &pk, 0, zr, &fg), a1 = ag && rest ? make(c, &pk, 1, 0, &f1) : NULL;
	if (!ag || (rest && !a1))
		return -1;
	/* the groups: a count-down loop over the asm, the pointers its phis */
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
	LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "pack");
	LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "pack.exit");
	LLVMBuildBr(c->b, loop);
	LLVMPositionBuilderAtEnd(c->b, loop);
	LLVMValueRef cnt = LLVMBuildPhi(c->b, i32, ""), px = LLVMBuildPhi(c->b, LLVMTypeOf(x), ""),
	             pd = LLVMBuildPhi(c->b, LLVMTypeOf(d), "");
	LLVMValueRef nx = px, nd = pd;
	call(c, fg, ag, &nx, &nd, z);
	LLVMValueRef next = LLVMBuildSub(c->b, cnt, LLVMConstInt(i32, 1, 0), "");
	LLVMValueRef latch = LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, next, LLVMConstInt(i32, 0, 0), ""),
	                                     loop, exit);
	cg_loop_nounroll(c, latch);
	LLVMValueRef cv[2] = {LLVMConstInt(i32, (unsigned long long)groups, 0), next}, xv[2] = {x, nx}, dv[2] = {d, nd};
	LLVMBasicBlockRef bb[2] = {pre, loop};
	LLVMAddIncoming(cnt, cv, bb, 2);
	LLVMAddIncoming(px, xv, bb, 2);
	LLVMAddIncoming(pd, dv, bb, 2);
	LLVMPositionBuilderAtEnd(c->b, exit);
	x = LLVMBuildPhi(c->b, LLVMTypeOf(x), "");
	d = LLVMBuildPhi(c->b, LLVMTypeOf(d), "");
	LLVMAddIncoming(x, &nx, &loop, 1);
	LLVMAddIncoming(d, &nd, &loop, 1);
	for (int64_t r = 0; r < rest; r++)
		call(c, f1, a1, &x, &d, NULL);
	c->block_asm = 1; /* the loop around stays a loop (for_stmt): LLVM counts an asm as one instruction */
	return 1;
}
