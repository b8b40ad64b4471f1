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

#endif
