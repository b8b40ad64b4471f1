/* report.h — nnllc --report: per-layer MACs, parameters, weight and output
 * bytes (from the graph), flash measured from the emitted object, arena,
 * lower bound and no-reuse sum (from the memory passes), a stack estimate.
 * See docs/memory.md. */
#ifndef NNL_REPORT_H
#define NNL_REPORT_H

#include "codegen.h"
#include "passes.h"

#include <stdio.h>

/* Section sizes of an object file in memory (ELF or other formats LLVM
 * reads): .text*, read-only data (.rodata*, .srodata*, .lrodata*,
 * .data.rel.ro*) and writable data (.data*, .sdata*). ok = 0 if it cannot be
 * read. Shared by --report and --estimate so both count flash alike. */
typedef struct CgObjectSizes {
	uint64_t text, rodata, data;
	int ok;
} CgObjectSizes;
CgObjectSizes cg_object_sizes(const char *obj, size_t len);

/* Compile p for o into memory (object and assembly), measure sections and
 * frame sizes, and write the report for model m to f: text, or JSON when
 * json is set. 0 or -1 with messages. */
int report_write(FILE *f, const Model *m, const LProgram *p, const CgOptions *o, const LoopMemStats *mem, int json,
                 Diag *d);

#endif
