/* report.h — nnllc --report: per-layer MACs, parameters, weight and output
 * bytes (from the graph), flash measured from the emitted object, arena,
 * lower bound and no-reuse sum (from the memory passes), a stack estimate.
 * See docs/memory.md. */
#ifndef NNL_REPORT_H
#define NNL_REPORT_H

#include "codegen.h"
#include "passes.h"

#include <stdio.h>

/* Compile p for o into memory (object and assembly), measure sections and
 * frame sizes, and write the report for model m to f: text, or JSON when
 * json is set. 0 or -1 with messages. */
int report_write(FILE *f, const Model *m, const LProgram *p, const CgOptions *o, const LoopMemStats *mem, int json,
                 Diag *d);

#endif
