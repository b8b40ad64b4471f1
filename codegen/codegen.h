/* codegen.h — from the graph IR to machine code: lowering to the loop IR
 * (lower.c) and the LLVM backend (llvm/). Section per file; the LLVM section
 * is owned by codegen/llvm.
 */
#ifndef NNL_CODEGEN_H
#define NNL_CODEGEN_H

#include "ir.h"
#include "loop.h"

/* ---- lower.c: graph IR → loop IR ----------------------------------------- */

/* Lower every node of every block of a verified model (model_infer done) to
 * loop nests over typed buffers:
 *   - constant tensors become const buffers (data copied; float16/bfloat16/
 *     float64 constants of float32 ops converted to f32 once, here),
 *   - the model input is the input buffer "input", the last block's Y the
 *     output buffer "output",
 *   - each other activation an arena buffer; views (Reshape, Flatten,
 *     Identity, Dropout, "=") alias their input's buffer instead of copying,
 *     except where the model output must be materialised,
 *   - arena offsets assigned (a simple placement; opt/loop/plan_memory does
 *     the real planning later) and arena_bytes set.
 * Top-level statements carry the label "<id or op> (<Op>)" of their node.
 * The program computes what model_eval computes: same formulas, float32
 * arithmetic, accumulation in the same order where the interpreter defines it.
 * NULL with messages in d for an op or datatype it cannot lower. */
LProgram *lower_model(const Model *m, Diag *d);

/* Target properties the lowering uses; all 0 is portable code. */
typedef struct LowerOptions {
	int dsp;  /* Arm DSP extension: int8 convs and linears on packed 16-bit pairs (dot2, sxtb16) */
	int vec;  /* vector registers (≥ 128 bits): int8 convs and linears as int16 × int8 MAC loops LLVM vectorizes;
	           * 2: one accumulator a loop (x86, where LLVM then forms pmaddwd / vpdpwssd) */
} LowerOptions;
/* lower_model for a target (o may be NULL: portable). */
LProgram *lower_model_opts(const Model *m, const LowerOptions *o, Diag *d);


/* ---- llvm/: loop IR → LLVM IR → object, assembly, .ll or .bc -------------
 * llvm_target.c (target machine from the target table), llvm_module.c (the
 * function, buffers, ABI checks), llvm_expr.c, llvm_stmt.c, llvm_emit.c
 * (verify, passes, output), header.c (PREFIX.h). See docs/codegen.md.
 *
 * The generated function:
 *   int PREFIX_run(const IN_T *input, OUT_T *output, void *arena);
 * returns NNL_OK, NNL_ERR_NULL (input, output or — when the arena is not
 * empty — arena is NULL) or NNL_ERR_ALIGN (arena not aligned to
 * cg_arena_align); the codes are runtime/nnl_runtime.h's. input, output
 * and arena must not overlap. Const buffers are private constant globals
 * (.rodata); nothing else is global, so the function is re-entrant. */

#include "targets.h"

typedef enum CgFileType {
	CG_FILE_OBJ,      /* -filetype=obj */
	CG_FILE_ASM,      /* -filetype=asm */
	CG_FILE_LL,       /* -emit-llvm, textual */
	CG_FILE_BC,       /* -emit-llvm, bitcode */
} CgFileType;

typedef enum CgOptLevel { CG_O0, CG_O1, CG_O2, CG_O3, CG_Os, CG_Oz } CgOptLevel;

typedef struct CgOptions {
	const Target *target;  /* a row of the target table */
	const char *cpu;       /* -mcpu; NULL: the target's default */
	const char *mattr;     /* -mattr, appended to the target's features; NULL: none */
	const char *triple;    /* -mtriple, overrides the target's triple; NULL: none */
	CgOptLevel opt;
	CgFileType filetype;
	const char *prefix;    /* symbol prefix: PREFIX_run; must be a C identifier */
	int fp_reassoc;        /* -fp-reassoc: reassociation allowed on float add/mul (vectorized sums) */
	int fp_contract;       /* -fp-contract: a*b+c may become one fused multiply-add */
	int print_codegen;     /* --print-after=codegen: LLVM IR before optimization, to stdout */
	int print_opt;         /* --print-after=optimize: LLVM IR after optimization, to stdout */
	int weights_external;  /* -weights=external: const buffers are read from a weights blob
	                          (cg_write_weights) passed to PREFIX_run, not emitted as globals */
	struct CgEstCounts *est_counts; /* codegen/estimate.h: when set, every instruction gets a debug
	                          line (top-level statement index + 1), and after the passes the IR
	                          blocks are renamed nnl.bN and their execution counts computed from
	                          the control flow alone (llvm/llvm_estimate.c) */
} CgOptions;

/* The table row of the machine running the compiler (by LLVM's default
 * triple), or the native row if the table has none for it. */
const Target *cg_host_target(void);
/* "LLVM 19.1.7" into buf; returns buf. */
const char *cg_llvm_version(char *buf, int size);

/* Check the target, cpu, features and triple of o (before loading a model, so
 * a bad flag is reported at once): 0, or -1 with a message that lists what
 * is valid. */
int cg_check_target(const CgOptions *o, Diag *d);
/* The LowerOptions for the target of o (target_has_dsp on its resolved
 * triple, cpu and features); 0, or -1 with a message if the target is bad. */
int cg_lower_options(const CgOptions *o, LowerOptions *lo, Diag *d);

/* Compile p and write path ("-": stdout) atomically: nothing is written on
 * error. 0 or -1 with messages; a module that fails LLVM's verifier is an
 * internal error whose message carries the IR. */
int cg_compile(const LProgram *p, const CgOptions *o, const char *path, Diag *d);
/* The same into memory (malloc'd *out of *len bytes; text outputs are
 * NUL-terminated beyond len). */
int cg_compile_to_memory(const LProgram *p, const CgOptions *o, char **out, size_t *len, Diag *d);

/* The alignment in bytes the arena must have (the largest arena buffer
 * alignment, at least 1). */
int cg_arena_align(const LProgram *p);

/* The shape and type of the model input or output, for the header. */
typedef struct CgIoDesc {
	int rank;
	int64_t shape[NNL_MAX_RANK];
} CgIoDesc;

/* Write PREFIX.h (atomically) for p: sizes, shapes, types, the prototype,
 * status codes and a usage comment. in/out may be NULL (the shape is then
 * [numel]). */
int cg_write_header(const LProgram *p, const char *prefix, const CgIoDesc *in, const CgIoDesc *out,
                    const char *path, Diag *d);
/* The header text (malloc'd), NULL on out of memory. */
char *cg_header_text(const LProgram *p, const char *prefix, const CgIoDesc *in, const CgIoDesc *out);
/* The same for options o: o->prefix, and with o->weights_external the
 * external-weights interface (PREFIX_WEIGHTS_*, the 4-argument PREFIX_run,
 * PREFIX_check_weights). */
int cg_write_header_opts(const LProgram *p, const CgOptions *o, const CgIoDesc *in, const CgIoDesc *out,
                         const char *path, Diag *d);
char *cg_header_text_opts(const LProgram *p, const CgOptions *o, const CgIoDesc *in, const CgIoDesc *out);

/* ---- llvm/llvm_weights.c: -weights=external -------------------------------
 * The payload holds the const buffers in program order, each at an offset
 * rounded up to NNL_WEIGHTS_ALIGN (runtime/nnl_runtime.h has the blob
 * format; docs/runtime.md "External weights"). The model hash is FNV-1a over
 * the program's text form and that layout, so a blob of another model or of
 * a compile whose code or layout differs is refused. With -weights=external
 * the generated functions are
 *   int PREFIX_run(const IN_T *input, OUT_T *output, void *arena, const void *weights);
 *   int PREFIX_check_weights(const void *blob, size_t size);  (calls nnl_weights_check)
 */
/* Payload offset of const buffer buf; -1 if buf is not const or the
 * payload would exceed 4 GiB - 1. */
int64_t cg_weights_offset(const LProgram *p, int buf);
/* Hash and payload size of p's blob: 0, or -1 with a message. */
int cg_weights_info(const LProgram *p, uint32_t *hash, uint32_t *payload_bytes, Diag *d);
/* The blob (header + payload) in malloc'd memory. */
int cg_weights_blob(const LProgram *p, unsigned char **out, size_t *len, Diag *d);
/* The blob written to path atomically. */
int cg_write_weights(const LProgram *p, const char *path, Diag *d);

#endif
