/* lower_quant.h — lowering of the integer (quantized) nodes to the loop IR
 * (lower_quant.c), called from lower.c's lower_node. */
#ifndef NNL_LOWER_QUANT_H
#define NNL_LOWER_QUANT_H

#include "ir.h"
#include "loop.h"

/* Is node n of block b lowered here (Quantize, Dequantize, or a quantized
 * variant by quant_selected)? */
int lower_quant_wanted(const Block *b, const Node *n);

/* Does the lowering read input i of n through a buffer (else it makes its
 * own const buffers from the tensor: weights and bias of Conv/Linear)? */
int lower_quant_reads(const Node *n, int i);

/* Emit n into to. inb[i]: buffer of input i (-1 where lower_quant_reads is
 * 0), yb: the output buffer; kernels: 0 portable, 1 the Arm DSP kernels
 * (LowerOptions.dsp), 2 the vector-friendly ones (LowerOptions.vec). 0, or -1
 * with a message in msg (empty on out of memory). */
int lower_quant_node(LProgram *p, LStmtList *to, const Block *b, const Node *n, const int *inb, int yb, int kernels,
                     char *msg, size_t msgn);

#endif
