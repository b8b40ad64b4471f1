/* estimate.h — nnllc --estimate: instructions, cycles, latency, energy,
 * flash and RAM per inference and per layer, from the code nnllc emitted
 * (docs/estimation.md).
 *
 * Method, in two halves:
 *   1. counts (codegen/llvm/llvm_estimate.c): the optimized LLVM IR of
 *      PREFIX_run is run on its control flow alone — integer and pointer
 *      arithmetic feeding branches, loop counters, loads from constant
 *      globals; never the model's float arithmetic or data — which gives
 *      the exact execution count of every IR block (loop bounds in the loop
 *      IR never depend on data). Blocks are renamed nnl.bN so the verbose
 *      assembly names, for each machine basic block, the IR block it came
 *      from. Each instruction carries the top-level loop-IR statement it was
 *      built for as its debug line: that gives the layer.
 *   2. the machine code (estimate.c): the assembly of the same compile is
 *      split into machine blocks; each instruction is classified (load/store,
 *      ALU, multiply, MAC/SIMD, divide, branch, FPU, call) and weighted by its
 *      block's count. Library calls (libm, soft-float, memcpy/memset) add a
 *      per-call and per-byte instruction cost from the profile's C library.
 */
#ifndef NNL_ESTIMATE_H
#define NNL_ESTIMATE_H

#include "codegen.h"
#include "profiles.h"

#include <stdio.h>

/* One llvm.memcpy/memmove/memset of the optimized IR. */
typedef struct CgEstMem {
	int block;         /* IR block index (nnl.bN) */
	int kind;          /* 0 memcpy/memmove, 1 memset */
	double calls;      /* executions */
	double bytes;      /* total bytes over all executions */
} CgEstMem;

/* Filled by cg_compile_to_memory when CgOptions.est_counts is set. */
typedef struct CgEstCounts {
	int n_blocks;
	double *count;     /* executions of IR block nnl.bN per inference */
	double *entries;   /* of those, arrivals over edges that are not back edges (a loop header: the times its
	                      loop is entered; code generation's preheader nnl.bN.preheader runs that often) */
	int *layer;        /* top-level statement index of the block (majority of its debug lines), -1 none */
	int n_mem, cap_mem;
	CgEstMem *mem;
	double steps;      /* IR block executions interpreted */
	double unknown;    /* conditional branches whose condition depended on data (taken every other time) */
} CgEstCounts;

void cg_est_counts_free(CgEstCounts *c);

/* Instruction classes. */
typedef enum EstClass {
	EC_ALU, EC_LS, EC_MUL, EC_MAC, EC_DIV, EC_BRANCH, EC_FPU, EC_FDIV, EC_CALL, EC_COUNT
} EstClass;

const char *est_class_name(EstClass k);

typedef struct EstLayer {
	char label[160];
	double instr, cycles;
	double cls[EC_COUNT];   /* instructions per class */
	double libcall_instr;   /* instructions inside library calls (included in instr) */
} EstLayer;

typedef struct EstResult {
	const char *model, *target, *cpu;
	const CoreProfile *prof;
	int n_layers;
	EstLayer *layers;       /* [0] "(entry, checks)": code outside any top-level statement */
	EstLayer total;
	double mca_cycles;      /* cycles from llvm-mca per block (< 0: not run) */
	double latency_s, energy_j;
	long long flash, text, rodata, arena, stack;
	int n_mblocks, n_unmapped;  /* machine blocks, and those not traced to an IR block */
	int nan_arms;           /* machine blocks only a NaN test branches to (counted 0 times) */
	double unknown_branches;
	char libcalls[512];     /* "expf x 1200, memcpy x 3 (4096 B)" */
} EstResult;

/* Estimate p compiled with o on profile prof (NULL: the target's default).
 * mca: also run llvm-mca-19 over each machine block when it is installed. */
int estimate_program(const LProgram *p, const CgOptions *o, const CoreProfile *prof, int mca, EstResult *r,
                     Diag *d);
void estimate_free(EstResult *r);
void estimate_write(FILE *f, const EstResult *r, int json);

#endif
