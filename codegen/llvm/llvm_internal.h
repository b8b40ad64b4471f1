/* llvm_internal.h — shared state of the LLVM backend's files (not exported).
 *
 * One compilation = one CgCtx = one LLVMContextRef, one module, one builder;
 * everything is created with *InContext calls and disposed by cg_ctx_free,
 * so compilations share nothing but LLVM's one-time target registration.
 */
#ifndef NNL_LLVM_INTERNAL_H
#define NNL_LLVM_INTERNAL_H

#include "codegen.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

/* The target after -march/-mcpu/-mattr/-mtriple are applied. */
typedef struct CgTargetSpec {
	const Target *row;  /* the table row (for native: the host's row if known) */
	char *triple;       /* malloc'd */
	char *cpu;          /* malloc'd */
	char *features;     /* malloc'd, "" if none */
	const char *abi;    /* NULL: the triple's default */
	int hosted;         /* libm has C23 functions (roundevenf); PIC objects */
} CgTargetSpec;

typedef struct CgCtx {
	const LProgram *p;
	const CgOptions *o;
	Diag *d;
	CgTargetSpec ts;
	LLVMContextRef ctx;
	LLVMModuleRef mod;
	LLVMBuilderRef b;       /* the code */
	LLVMBuilderRef ab;      /* allocas, at the end of the entry block */
	LLVMTargetMachineRef tm;
	LLVMValueRef fn;
	LLVMValueRef *slot;     /* per variable: its alloca (created on first let/for) */
	LLVMValueRef *base;     /* per buffer: its base pointer */
	unsigned md_invariant;  /* "invariant.load" kind */
	unsigned md_range;      /* "range" kind */
	LLVMValueRef wpayload;  /* -weights=external: the blob's payload (weights + header size) */
	uint32_t whash, wbytes; /* -weights=external: model hash, payload bytes */
	int error;              /* set once a message was added to d */
	int dsp;                /* Arm DSP extension: dot2/sxtb16 as smlad/smuad/sxtb16 */
	void *di_builder;       /* --estimate: LLVMDIBuilderRef */
	void *di_scope;         /* --estimate: the function's DISubprogram (LLVMMetadataRef) */
	void *di_file, *di_cu, *di_type; /* --estimate: for each function's DISubprogram */
	const LStmtList *list;  /* the statement being generated: list->v[idx] (cg_stmts) */
	int idx;
	int block_asm;          /* a block asm (cg_smlad_block) in the loop body being generated */
} CgCtx;

/* llvm_target.c */
int cg_resolve_target(const CgOptions *o, CgTargetSpec *ts, Diag *d);
void cg_target_spec_free(CgTargetSpec *ts);
LLVMTargetMachineRef cg_create_target_machine(const CgTargetSpec *ts, CgOptLevel opt, Diag *d);
/* LLVMInitialize* for the backends in the table, once. */
void cg_llvm_init(void);

/* llvm_module.c: builds c->mod (the function, buffers, checks, body). */
int cg_build_module(CgCtx *c);
LLVMTypeRef cg_type(CgCtx *c, LType t);
/* The alloca of variable v, created in the entry block on first use. */
LLVMValueRef cg_slot(CgCtx *c, int v);

/* llvm_expr.c */
LLVMValueRef cg_expr(CgCtx *c, const LExpr *e, int in_index);
/* Address of buf[idx] (idx an i32 value). */
LLVMValueRef cg_addr(CgCtx *c, int buf, LLVMValueRef idx);
void cg_set_access_metadata(CgCtx *c, LLVMValueRef inst, int buf);

/* llvm_weights.c (-weights=external): the weights-blob checks after the
 * NULL/arena checks (sets wpayload, whash, wbytes), a const buffer's base
 * (wpayload + offset), and PREFIX_check_weights. */
int cg_weights_checks(CgCtx *c, LLVMValueRef weights);
LLVMValueRef cg_weights_base(CgCtx *c, int buf);
int cg_weights_check_fn(CgCtx *c);

/* llvm_estimate.c (--estimate, o->est_counts): debug lines per top-level
 * statement while building, then after the passes the control-flow-only
 * interpretation that counts block executions (renames blocks nnl.bN). */
int cg_est_debug_init(CgCtx *c);
/* A DISubprogram for fn (a layer's function), now the scope of the lines */
int cg_est_debug_fn(CgCtx *c, LLVMValueRef fn);
/* The lines' scope back to fn's subprogram */
void cg_est_set_scope(CgCtx *c, LLVMValueRef fn);
void cg_est_set_line(CgCtx *c, int line);
void cg_est_debug_finish(CgCtx *c);
int cg_est_count(CgCtx *c);

/* llvm_stmt.c */
int cg_stmts(CgCtx *c, const LStmtList *l);
/* The same, statement i with debug line line0 + i (--estimate; 0: no lines) */
int cg_stmts_lines(CgCtx *c, const LStmtList *l, int line0);
/* One statement */
int cg_stmt(CgCtx *c, const LStmt *s);

/* llvm_smlad.c: a for loop of smlad reductions as hand-scheduled Thumb-2
 * (DSP targets), given its evaluated bounds (lo already stored in the loop
 * variable's slot); 1 if emitted, 0 if the loop is not one (nothing built),
 * -1 on error. */
int cg_smlad_loop(CgCtx *c, const LStmt *s, LLVMValueRef lo, LLVMValueRef hi);
/* Is s a for loop that is, or holds, a loop the smlad asm takes? */
int cg_smlad_nest(const CgCtx *c, const LStmt *s);
/* llvm_requant.c: the requantization statements at l->v[i...] as one asm;
 * how many statements it took (0: none, -1: error) */
int cg_requant_group(CgCtx *c, const LStmtList *l, int i);
/* The group cg_requant_group takes at l->v[i...] (3 statements an output),
 * for llvm_smlad.c's block asm: 1 if there is one, filled in */
#define CG_RQ_MAX 5
typedef struct CgRqOut {
	int acc;       /* the accumulator variable */
	int shift;     /* x = acc << shift (> 0), acc >> −shift (< 0), acc (0) */
	int chan;      /* 0 or 1 */
	int64_t yc;    /* the store's index constant (the indices differ by constants) */
} CgRqOut;
typedef struct CgRq {
	int n, nchan;
	int rq, yb;                 /* the constants' buffer, the stores' */
	CgRqOut o[CG_RQ_MAX];
	int64_t chan_c[2];          /* each channel's multiplier index constant: q, s, c at [q], [q+1], [q+2] */
	const LExpr *qidx, *yidx;   /* the smallest multiplier and store indices */
	int64_t qmin, ymin;         /* their constants */
} CgRq;
int cg_requant_match(const CgCtx *c, const LStmtList *l, int i, CgRq *r);
/* One output's requantization as asm text: x shifted in place (shift as
 * CgRqOut's), then add t, c, x, asr #31; smmlar t, x, q, t; asr t, t, s;
 * ssat t, #8, t; strb t at [y, #off], or post-indexed [y], #post when post
 * > 0. Registers as the asm names them ("$3", "r9"). */
struct StrBuf;
/* "$n", asm operand n's name, in buf (CG_OPN bytes) */
#define CG_OPN 16
const char *cg_opn(char *buf, int n);
void cg_rq_out(struct StrBuf *b, const char *x, int shift, const char *q, const char *s, const char *c, const char *t,
               const char *y, int64_t off, int64_t post);
/* llvm_smlad.c: a register block (accumulators' lets, the smlad loop nest,
 * the requantization group) at l->v[i...] as one asm; statements taken
 * (0: none, -1: error) */
int cg_smlad_block(CgCtx *c, const LStmtList *l, int i);
/* A for loop whose body is one such block, the asm advancing the pointers
 * (lo stored in the variable's slot): 1 if emitted, 0 if not one, -1 */
int cg_smlad_block_loop(CgCtx *c, const LStmt *s, LLVMValueRef lo, LLVMValueRef hi);
void cg_loop_nounroll(CgCtx *c, LLVMValueRef latch);
/* An inline asm's text in b: on out of memory frees it and fails (-1),
 * else drops the last line's "\n\t" (0) */
int cg_asm_text(CgCtx *c, struct StrBuf *b);
/* llvm_pack.c: an int8 → int16-pair packing loop as Thumb-2 (DSP targets),
 * lo stored in the variable's slot: 1 if emitted, 0 if not one, -1 */
int cg_pack_loop(CgCtx *c, const LStmt *s, LLVMValueRef lo, LLVMValueRef hi);

/* An error in the loop IR or in LLVM: add to d, remember it; returns NULL so
 * callers can `return cg_fail(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
LLVMValueRef cg_fail(CgCtx *c, const char *fmt, ...);

#endif
