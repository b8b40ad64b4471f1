/* lower_sparse.h — sparse lowering of Linear layers (lower_sparse.c), called
 * from lower.c's lower_linear. */
#ifndef NNL_LOWER_SPARSE_H
#define NNL_LOWER_SPARSE_H

#include "ir.h"
#include "loop.h"

/* Should weight w (out × in, a float type) be stored sparsely? True when its
 * fraction of zeros reaches the -sparse-min threshold AND the sparse storage
 * is smaller than the dense one (5 bytes per entry + row starts vs 4 per
 * weight, i.e. from ~20 % zeros) by at least 4 KB (below that the kernel's
 * code, unrolled by LLVM in small layers, eats the saving). The sparse kernel is slower than the dense
 * one below ~70 % zeros on Cortex-M4 (docs/studies/pruning.md): the
 * threshold trades flash for speed. */
int lower_sparse_wanted(const Tensor *w);

/* The threshold (nnllc -sparse-min=F): minimum fraction of zeros for the
 * sparse storage; 0 (default): whenever it is smaller; > 1: never. */
void lower_sparse_set_min(double f);

/* Emit y[r, o] = Σ_k x[r, col_k]·val_k (+ b[o]) over the nonzeros of row o,
 * from three const buffers named after w: <w>_val (f32 nonzeros, row-major),
 * <w>_dcol (u8 column deltas from the previous nonzero of the row, the first
 * from column 0; gaps over 255 padded with zero-valued entries) and <w>_rowp
 * (u16 or i32 row starts, out+1 entries). Accumulation order is the dense
 * loop's minus the zero terms, so results equal the dense ones (x finite).
 * xb/bb/yb: buffers of x, the bias (-1: none) and y. 0, or -1 on out of memory. */
int lower_sparse_linear(LProgram *p, LStmtList *to, const Tensor *w, int64_t rows, int xb, int bb, int yb);

#endif
