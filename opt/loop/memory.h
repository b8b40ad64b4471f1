/* memory.h — helpers shared by the memory passes (inplace.c, plan_memory.c)
 * and nnllc --report: which buffers each top-level statement touches, the
 * liveness of arena buffers over top-level statements, and the lower bound.
 *
 * Accounting (docs/memory.md): an arena buffer takes numel × element bytes
 * (i1: one byte) rounded up to its alignment; it is live from the first to
 * the last top-level statement that loads or stores it, inclusive. The lower
 * bound for an order is the largest sum of live sizes over the steps (one
 * step = one top-level statement): no placement of whole buffers can use
 * less, since buffers live at the same step must not share bytes.
 */
#ifndef NNL_LOOP_MEMORY_H
#define NNL_LOOP_MEMORY_H

#include "loop.h"

enum { MEM_RD = 1, MEM_WR = 2 };

/* Bytes of a buffer (numel × element size) and rounded up to its align. */
int64_t mem_raw_bytes(const LBuf *b);
int64_t mem_size(const LBuf *b);

/* use[s * p->n_bufs + b] |= MEM_RD / MEM_WR for every load / store of buffer
 * b anywhere inside top-level statement s. Malloc'd (n_stmts × n_bufs bytes),
 * NULL on out of memory (or when the program is empty: check body.n). */
unsigned char *mem_uses(const LProgram *p);

/* Liveness of the arena buffers when the top-level statements run in order
 * ord[0..n) (NULL: program order): first[b], last[b] are positions in ord,
 * -1 for buffers no statement touches and for non-arena buffers. */
void mem_liveness(const LProgram *p, const unsigned char *use, const int *ord, int *first, int *last);

/* max over positions of the live arena bytes (mem_size); *at = the step
 * (position) where it is reached, may be NULL. */
int64_t mem_bound(const LProgram *p, const int *first, const int *last, int *at);

/* Sum of mem_size over all arena buffers (the no-reuse arena). */
int64_t mem_no_reuse(const LProgram *p);

/* Rewrite every reference to buffer `from` into buffer `to`, adding `shift`
 * elements to the index (0: none), then delete buffer `from` (indices above
 * it move down by one). */
int mem_redirect(LProgram *p, int from, int to, int64_t shift);

#endif
