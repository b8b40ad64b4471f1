/* passes.h — the loop-IR pass pipeline (table in passes.def). */
#ifndef NNL_LOOP_PASSES_H
#define NNL_LOOP_PASSES_H

#include "loop.h"

#include <stdio.h>

typedef struct LoopPassCtx {
	int opt_level;        /* 0..3 (-Os/-Oz count as 2) */
	int size_level;       /* 0, 1 (-Os), 2 (-Oz) */
	int arena_align;      /* alignment of arena buffers on the target, bytes */
	int verify_each;      /* run loop_verify after every pass */
	const char *print_after; /* a pass name, "all", or NULL */
	FILE *print_to;       /* where --print-after goes (stdout if NULL) */
	const char *disabled; /* comma-separated pass names not to run, or NULL */
} LoopPassCtx;

typedef int (*LoopPassFn)(LProgram *p, const LoopPassCtx *c, Diag *d);

typedef struct LoopPassInfo {
	const char *name;
	LoopPassFn fn;
	int level;
	const char *doc;
} LoopPassInfo;

/* The pipeline, in order; n set to its length. */
const LoopPassInfo *loop_passes(int *n);
/* Run every pass whose level <= c->opt_level and that is not disabled, in
 * order, printing after the requested one. 0 or -1 with messages. */
int loop_run_passes(LProgram *p, const LoopPassCtx *c, Diag *d);
/* Is name a pass of the pipeline (or "lower", printed before any pass)? */
int loop_pass_known(const char *name);

#endif
