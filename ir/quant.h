/* quant.h — integer (quantized) semantics of the graph IR: TFLite's
 * fixed-point requantization primitives and the dispatch of quantized
 * variants of existing ops (ir/ops_quant.c). docs/quantization.md is the
 * prose; every formula here is the one written there.
 *
 * A node is "quantized" when it is an OPF_FLOAT op whose input x is an
 * integer type (Conv, Linear, pools, Mean, ReLU/ReLU6), or a '+' / Concat
 * whose inputs carry quantization. Such nodes are type-checked by
 * quant_check_types/quant_check_out (instead of the float rules) and run by
 * quant_eval (instead of the family's float kernel). View ops (Flatten,
 * Reshape, Identity, Dropout, '=', Pad with a stored-integer value) run their
 * usual byte-moving kernels on integer tensors.
 */
#ifndef NNL_QUANT_H
#define NNL_QUANT_H

#include "ir.h"

/* TFLite's QuantizeMultiplier: m = qm · 2^(shift − 31), qm in [2^30, 2^31)
 * (or 0 when m == 0 or m < 2^-31·2^-31 is flushed). */
void nnl_quantize_multiplier(double m, int32_t *qm, int *shift);
/* gemmlowp SaturatingRoundingDoublingHighMul. */
int32_t nnl_srdhm(int32_t a, int32_t b);
/* gemmlowp RoundingDivideByPOT (0 <= e <= 31): x / 2^e rounded half away from zero. */
int32_t nnl_rdbypot(int32_t x, int e);
/* TFLite MultiplyByQuantizedMultiplier (int32 accumulator); x·2^left wraps
 * in two's complement as on the devices. */
int32_t nnl_mbqm(int32_t x, int32_t qm, int shift);
/* TFLite's int64 MultiplyByQuantizedMultiplier (16x8 accumulators). */
int32_t nnl_mbqm64(int64_t x, int32_t qm, int shift);
/* TFLite's rounding division of the integer average pool: half away from zero. */
int32_t nnl_round_div(int64_t sum, int64_t count);
/* Quantize a float the TFLite way: round(x / scale) (float32 division,
 * rounded half away from zero) + zp, clamped to [qmin, qmax]. */
int32_t nnl_quantize_value(float x, double scale, int64_t zp, int32_t qmin, int32_t qmax);
/* Range of a quantized activation datatype (int8: -128..127, int16: -32768..32767). */
void nnl_qrange(DType t, int32_t *qmin, int32_t *qmax);

/* Is this node a quantized variant (see above)? */
int quant_selected(OpKind op, const Tensor *const *in, int n_in);
/* Input datatypes and quantization of a quantized node; messages name the op. */
int quant_check_types(const OpCtx *c, Tensor *const *in, int n_in);
/* After the shape rule: the output's quantization. */
int quant_check_out(const OpCtx *c, Tensor *const *in, int n_in, const Tensor *out);
/* The integer kernel of a quantized node. */
int quant_eval(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data);

#endif
