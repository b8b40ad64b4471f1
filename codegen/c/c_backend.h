/* c_backend.h — the portable C backend: loop IR → one readable C99 file
 * (docs/codegen-c.md). It reads only the loop IR, like codegen/llvm, and
 * defines the same function with the same ABI and status codes:
 *   int PREFIX_run(const IN_T *input, OUT_T *output, void *arena);
 * so the header written by cg_write_header (codegen/llvm/header.c) serves
 * both. The file is target-independent: every operation whose C meaning
 * differs from the loop IR's (float min/max, round-half-even, saturating
 * casts, integer wrap-around, division by zero, shifts out of range, a for
 * increment past INT32_MAX) goes through a small static inline helper with
 * the LLVM backend's semantics, so compiled C and nnllc's objects compute
 * the same bits.
 */
#ifndef NNL_C_BACKEND_H
#define NNL_C_BACKEND_H

#include "loop.h"

#include <stddef.h>

typedef struct CgCOptions {
	const char *prefix;   /* symbol prefix: PREFIX_run; a C identifier */
	const char *producer; /* for the file comment, e.g. "nnllc 0.1.0"; NULL: "nnllc" */
	const char *filename; /* for the file comment, e.g. "model.c"; NULL: PREFIX.c */
} CgCOptions;

/* The C file for p as a malloc'd NUL-terminated string (*len bytes, len may
 * be NULL). NULL with a message in d for a program the backend cannot
 * express (it is checked with loop_verify first) or on out of memory. */
char *cg_c_text(const LProgram *p, const CgCOptions *o, size_t *len, Diag *d);

/* The same written to path atomically ("-": stdout): nothing is written on
 * error. 0 or -1 with messages. */
int cg_c_write(const LProgram *p, const CgCOptions *o, const char *path, Diag *d);

#endif
