/* llvm_weights.c — -weights=external: the const buffers live in a blob in
 * the runtime's NNLW format (runtime/nnl_runtime.h) instead of .rodata.
 *
 * Layout. The payload holds the const buffers in program order, the first
 * at offset 0, each next one at the end of the previous rounded up to
 * NNL_WEIGHTS_ALIGN (16): the blob is 16-aligned in memory and its header
 * size a multiple of 16, so every buffer is 16-aligned, as the globals of
 * -weights=embedded are (a buffer asking for more than 16 gets 16). A const
 * buffer without data is zeros, as in embedded mode.
 *
 * Model hash. FNV-1a 32 over "NNLW-layout-1\n", the program's text form
 * (loop_print: buffers, types, sizes, arena offsets, every statement, and
 * the constants the lowering inlined from weights) and one line per const
 * buffer "name type numel offset". A blob is refused (NNL_ERR_MODEL) when
 * it was written for another model, or by a compile whose code or layout
 * differs (an -O level or nnllc version whose passes give other loops; the
 * LLVM -O level alone does not matter: the payload layout is the same).
 * New weight values for the same structure keep the hash: the CRC-32 in
 * the header covers the values.
 *
 * Code. PREFIX_run gets a 4th parameter `weights` (noalias nocapture
 * readonly noundef) pointing at the blob, header included. After the
 * NULL and arena checks of llvm_module.c it checks, each call:
 *   weights % 16 != 0                               → NNL_ERR_ALIGN
 *   bytes 0..3 != "NNLW"                            → NNL_ERR_MAGIC
 *   version != 1, header size < 32 or % 16, flags   → NNL_ERR_VERSION
 *   model hash != PREFIX_WEIGHTS_HASH               → NNL_ERR_MODEL
 *   payload size != PREFIX_WEIGHTS_BYTES            → NNL_ERR_SIZE
 * (nnl_weights_check's order; the CRC-32 is PREFIX_check_weights' job:
 * O(size), once at boot). The header fields are read as aligned i32
 * loads (byte-swapped on a big-endian target). The payload base is
 * weights + header size, with llvm.assume(align 16) on it, and each
 * const buffer is an inbounds GEP base + offset, so loads see the same
 * alignment as with globals and vectorize the same. Const loads carry no
 * !invariant.load here (the blob may be replaced between calls);
 * noalias + readonly say the same for the duration of a call.
 *
 * PREFIX_check_weights(blob, size) is a tail call of the runtime's
 * nnl_weights_check(blob, size, HASH, BYTES): the object references
 * nnl_weights_check, so firmware links runtime/nnl_runtime.c (freestanding,
 * ~1 KiB) — chosen over a second CRC-32 in IR so that the device has one
 * checker, the one test_runtime tests.
 */
#include "llvm_internal.h"
#include "frontend.h"
#include "nnl_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t buf_bytes(const LBuf *b)
{
	int bits = ltype_bits(b->type);
	int64_t r;
	if (b->numel < 0 || nnl_mul_i64(b->numel, bits < 8 ? 1 : bits / 8, &r) < 0)
		return -1;
	return r;
}

/* Offsets of every const buffer (off[i], -1 for the others) and the payload
 * size; -1 if a size is invalid or the payload exceeds UINT32_MAX. */
static int layout(const LProgram *p, int64_t *off, uint32_t *payload_bytes)
{
	int64_t at = 0;
	for (int i = 0; i < p->n_bufs; i++) {
		if (off)
			off[i] = -1;
		if (p->bufs[i].kind != LB_CONST)
			continue;
		int64_t n = buf_bytes(&p->bufs[i]);
		if (n < 0)
			return -1;
		at = (int64_t)nnl_weights_align((size_t)at);
		if (at > (int64_t)UINT32_MAX || n > (int64_t)UINT32_MAX - at)
			return -1;
		if (off)
			off[i] = at;
		at += n;
	}
	*payload_bytes = (uint32_t)at;
	return 0;
}

int64_t cg_weights_offset(const LProgram *p, int buf)
{
	if (buf < 0 || buf >= p->n_bufs || p->bufs[buf].kind != LB_CONST)
		return -1;
	int64_t at = 0;
	for (int i = 0; i <= buf; i++) {
		if (p->bufs[i].kind != LB_CONST)
			continue;
		int64_t n = buf_bytes(&p->bufs[i]);
		if (n < 0)
			return -1;
		at = (int64_t)nnl_weights_align((size_t)at);
		if (at > (int64_t)UINT32_MAX || n > (int64_t)UINT32_MAX - at)
			return -1;
		if (i == buf)
			return at;
		at += n;
	}
	return -1;
}

int cg_weights_info(const LProgram *p, uint32_t *hash, uint32_t *payload_bytes, Diag *d)
{
	int64_t *off = nnl_calloc((size_t)p->n_bufs + 1, sizeof *off);
	char *text = loop_print(p);
	if (!off || !text) {
		free(off);
		free(text);
		diag_add(d, "out of memory");
		return -1;
	}
	uint32_t bytes = 0;
	if (layout(p, off, &bytes) < 0) {
		free(off);
		free(text);
		diag_add(d, "-weights=external: the const buffers of '%s' exceed the 4 GiB payload of a weights blob", p->name);
		return -1;
	}
	static const char tag[] = "NNLW-layout-1\n";
	uint32_t h = nnl_fnv1a32(NNL_FNV1A_INIT, tag, sizeof tag - 1);
	h = nnl_fnv1a32(h, text, strlen(text));
	for (int i = 0; i < p->n_bufs; i++) {
		if (off[i] < 0)
			continue;
		char line[512];
		int n = snprintf(line, sizeof line, "%s %s %lld %lld\n", p->bufs[i].name, ltype_name(p->bufs[i].type),
		                 (long long)p->bufs[i].numel, (long long)off[i]);
		h = nnl_fnv1a32(h, line, n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	}
	free(off);
	free(text);
	*hash = h;
	*payload_bytes = bytes;
	return 0;
}

int cg_weights_blob(const LProgram *p, unsigned char **out, size_t *len, Diag *d)
{
	*out = NULL;
	*len = 0;
	uint32_t hash, bytes;
	if (cg_weights_info(p, &hash, &bytes, d) < 0)
		return -1;
	size_t size = nnl_weights_blob_size(bytes);
	unsigned char *blob = nnl_calloc(size ? size : 1, 1);
	if (!blob) {
		diag_add(d, "out of memory (a %zu-byte weights blob)", size);
		return -1;
	}
	unsigned char *payload = blob + NNL_WEIGHTS_HEADER_BYTES;
	for (int i = 0; i < p->n_bufs; i++) {
		const LBuf *b = &p->bufs[i];
		if (b->kind != LB_CONST || !b->data)
			continue; /* unbound data: zeros, as embedded */
		memcpy(payload + cg_weights_offset(p, i), b->data, (size_t)buf_bytes(b));
	}
	if (nnl_weights_write_header(blob, size, hash, payload, bytes) != NNL_OK) {
		free(blob);
		diag_add(d, "internal error: writing the weights blob header failed");
		return -1;
	}
	*out = blob;
	*len = size;
	return 0;
}

int cg_write_weights(const LProgram *p, const char *path, Diag *d)
{
	unsigned char *blob;
	size_t len;
	if (cg_weights_blob(p, &blob, &len, d) < 0)
		return -1;
	int rc = write_file_atomic(path, blob, len, d);
	free(blob);
	return rc;
}

/* ---- code ------------------------------------------------------------------ */

/* The little-endian u32 at weights + off (weights known 16-aligned). */
static LLVMValueRef field(CgCtx *c, LLVMValueRef weights, unsigned off, const char *name)
{
	LLVMTypeRef i8 = LLVMInt8TypeInContext(c->ctx), i32 = LLVMInt32TypeInContext(c->ctx);
	LLVMValueRef idx = LLVMConstInt(LLVMInt64TypeInContext(c->ctx), off, 0);
	LLVMValueRef ptr = off ? LLVMBuildInBoundsGEP2(c->b, i8, weights, &idx, 1, "") : weights;
	LLVMValueRef v = LLVMBuildLoad2(c->b, i32, ptr, name);
	LLVMSetAlignment(v, 4);
	if (LLVMByteOrder(LLVMGetModuleDataLayout(c->mod)) == LLVMBigEndian) {
		unsigned id = LLVMLookupIntrinsicID("llvm.bswap", 10);
		LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &i32, 1);
		v = LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &i32, 1), f, &v, 1, "");
	}
	return v;
}

/* if (bad) return code; continue in a new block. */
static void fail_if(CgCtx *c, LLVMValueRef bad, int code, const char *name)
{
	char nm[64];
	snprintf(nm, sizeof nm, "err.%s", name);
	LLVMBasicBlockRef err = LLVMAppendBasicBlockInContext(c->ctx, c->fn, nm);
	snprintf(nm, sizeof nm, "checks.%s.ok", name);
	LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, c->fn, nm);
	LLVMBuildCondBr(c->b, bad, err, ok);
	LLVMPositionBuilderAtEnd(c->b, err);
	LLVMBuildRet(c->b, LLVMConstInt(LLVMInt32TypeInContext(c->ctx), (unsigned long long)code, 0));
	LLVMPositionBuilderAtEnd(c->b, ok);
}

int cg_weights_checks(CgCtx *c, LLVMValueRef weights)
{
	if (cg_weights_info(c->p, &c->whash, &c->wbytes, c->d) < 0) {
		c->error = 1;
		return -1;
	}
	LLVMTypeRef i8 = LLVMInt8TypeInContext(c->ctx), i32 = LLVMInt32TypeInContext(c->ctx);
	LLVMTypeRef i64 = LLVMInt64TypeInContext(c->ctx);
	LLVMTypeRef iptr = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
	LLVMValueRef low = LLVMBuildAnd(c->b, LLVMBuildPtrToInt(c->b, weights, iptr, ""),
	                                LLVMConstInt(iptr, NNL_WEIGHTS_ALIGN - 1, 0), "weights.misalign");
	fail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, low, LLVMConstNull(iptr), ""), NNL_ERR_ALIGN, "weights.align");

	uint32_t magic = NNL_WEIGHTS_MAGIC0 | NNL_WEIGHTS_MAGIC1 << 8 | NNL_WEIGHTS_MAGIC2 << 16 | NNL_WEIGHTS_MAGIC3 << 24;
	LLVMValueRef m = field(c, weights, 0, "w.magic");
	fail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, m, LLVMConstInt(i32, magic, 0), ""), NNL_ERR_MAGIC, "magic");

	LLVMValueRef ver = field(c, weights, 4, "w.version"), hs = field(c, weights, 8, "w.header_size");
	LLVMValueRef flags = field(c, weights, 24, "w.flags");
	LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntNE, ver, LLVMConstInt(i32, NNL_WEIGHTS_VERSION, 0), "");
	bad = LLVMBuildOr(c->b, bad, LLVMBuildICmp(c->b, LLVMIntULT, hs, LLVMConstInt(i32, NNL_WEIGHTS_HEADER_BYTES, 0), ""), "");
	bad = LLVMBuildOr(c->b, bad,
	                  LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildAnd(c->b, hs, LLVMConstInt(i32, NNL_WEIGHTS_ALIGN - 1, 0), ""),
	                                LLVMConstNull(i32), ""), "");
	bad = LLVMBuildOr(c->b, bad, LLVMBuildICmp(c->b, LLVMIntNE, flags, LLVMConstNull(i32), ""), "");
	fail_if(c, bad, NNL_ERR_VERSION, "version");

	LLVMValueRef h = field(c, weights, 12, "w.model_hash");
	fail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, h, LLVMConstInt(i32, c->whash, 0), ""), NNL_ERR_MODEL, "model");
	LLVMValueRef ps = field(c, weights, 16, "w.payload_size");
	fail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, ps, LLVMConstInt(i32, c->wbytes, 0), ""), NNL_ERR_SIZE, "size");

	/* payload = weights + header size, 16-aligned: tell LLVM */
	LLVMValueRef hs64 = LLVMBuildZExt(c->b, hs, i64, "");
	c->wpayload = LLVMBuildInBoundsGEP2(c->b, i8, weights, &hs64, 1, "payload");
	unsigned id = LLVMLookupIntrinsicID("llvm.assume", 11);
	LLVMValueRef assume = LLVMGetIntrinsicDeclaration(c->mod, id, NULL, 0);
	LLVMValueRef args[2] = {c->wpayload, LLVMConstInt(i64, NNL_WEIGHTS_ALIGN, 0)};
	LLVMOperandBundleRef ob = LLVMCreateOperandBundle("align", 5, args, 2);
	LLVMValueRef t = LLVMConstInt(LLVMInt1TypeInContext(c->ctx), 1, 0);
	LLVMBuildCallWithOperandBundles(c->b, LLVMIntrinsicGetType(c->ctx, id, NULL, 0), assume, &t, 1, &ob, 1, "");
	LLVMDisposeOperandBundle(ob);
	return 0;
}

LLVMValueRef cg_weights_base(CgCtx *c, int buf)
{
	int64_t off = cg_weights_offset(c->p, buf);
	if (off < 0 || !c->wpayload)
		return cg_fail(c, "loop IR: const buffer '%s' has no place in the weights blob", c->p->bufs[buf].name);
	LLVMValueRef o = LLVMConstInt(LLVMInt64TypeInContext(c->ctx), (unsigned long long)off, 0);
	return LLVMBuildInBoundsGEP2(c->b, LLVMInt8TypeInContext(c->ctx), c->wpayload, &o, 1, c->p->bufs[buf].name);
}

int cg_weights_check_fn(CgCtx *c)
{
	LLVMTypeRef ptr = LLVMPointerTypeInContext(c->ctx, 0), i32 = LLVMInt32TypeInContext(c->ctx);
	LLVMTypeRef size_t_ = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
	LLVMTypeRef cps[4] = {ptr, size_t_, i32, i32};
	LLVMTypeRef cft = LLVMFunctionType(i32, cps, 4, 0);
	LLVMValueRef check = LLVMGetNamedFunction(c->mod, "nnl_weights_check");
	if (!check)
		check = LLVMAddFunction(c->mod, "nnl_weights_check", cft);
	LLVMTypeRef ps[2] = {ptr, size_t_};
	char name[256];
	snprintf(name, sizeof name, "%s_check_weights", c->o->prefix);
	LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(i32, ps, 2, 0));
	LLVMSetValueName2(LLVMGetParam(fn, 0), "blob", 4);
	LLVMSetValueName2(LLVMGetParam(fn, 1), "size", 4);
	LLVMAttributeIndex fi = LLVMAttributeFunctionIndex;
	LLVMAddAttributeAtIndex(fn, fi, LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
	LLVMAddAttributeAtIndex(fn, fi, LLVMCreateStringAttribute(c->ctx, "target-cpu", 10, c->ts.cpu, (unsigned)strlen(c->ts.cpu)));
	if (*c->ts.features)
		LLVMAddAttributeAtIndex(fn, fi, LLVMCreateStringAttribute(c->ctx, "target-features", 15, c->ts.features,
		                                                          (unsigned)strlen(c->ts.features)));
	LLVMBuilderRef b = LLVMCreateBuilderInContext(c->ctx);
	LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
	LLVMValueRef args[4] = {LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), LLVMConstInt(i32, c->whash, 0),
	                        LLVMConstInt(i32, c->wbytes, 0)};
	LLVMValueRef r = LLVMBuildCall2(b, cft, check, args, 4, "");
	LLVMSetTailCall(r, 1);
	LLVMBuildRet(b, r);
	LLVMDisposeBuilder(b);
	return 0;
}
