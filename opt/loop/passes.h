/* passes.h — the loop-IR pass pipeline (table in passes.def). */
#ifndef NNL_LOOP_PASSES_H
#define NNL_LOOP_PASSES_H

#include "loop.h"

#include <stdio.h>

/* Memory statistics, filled by the inplace and plan-memory passes when
 * LoopPassCtx.mem is set (nnllc --report reads them). Bytes; each buffer's
 * size rounded up to its alignment (opt/loop/memory.h, docs/memory.md). */
typedef struct LoopMemStats {
	int64_t no_reuse;        /* sum of all arena buffers as lowered (no sharing) */
	int64_t bound_lowered;   /* max over steps of live bytes: lowered program, lowered order */
	int64_t bound_in_order;  /* the same for the program plan-memory gets (after inplace), before reordering */
	int64_t bound;           /* the same in the order plan-memory chose: the lower bound for the arena */
	int64_t arena;           /* the planned arena_bytes */
	int n_inplace;           /* buffers merged into their input by the inplace pass */
	int reordered;           /* top-level statements were reordered to lower the bound */
	int reached;             /* arena == bound */
	int valid;               /* plan-memory ran */
} LoopMemStats;

typedef struct LoopPassCtx {
	int opt_level;        /* 0..3 (-Os/-Oz count as 2) */
	int size_level;       /* 0, 1 (-Os), 2 (-Oz) */
	int arena_align;      /* alignment of arena buffers on the target, bytes */
	int verify_each;      /* run loop_verify after every pass */
	const char *print_after; /* a pass name, "all", or NULL */
	FILE *print_to;       /* where --print-after goes (stdout if NULL) */
	const char *disabled; /* comma-separated pass names not to run, or NULL */
	LoopMemStats *mem;    /* out: memory statistics, or NULL */
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
