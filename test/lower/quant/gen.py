#!/usr/bin/python3
"""Write the quantized lowering cases test/lower/quant/*.json (test_lower's
test_quant_models: lowered + loop_eval output must equal model_eval's bit for
bit). Each: X (float32) -> Quantize -> integer op(s) -> Y (integer, or float
through a Dequantize), random weights and quantization (seed 7), shapes
chosen to hit the register blocks' remainders (channels, columns, outputs),
strides, padding, dilation, groups, int4 and 16x8.

  /usr/bin/python3 test/lower/quant/gen.py      (rewrites the .json files)
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(7)


def f32(v):
    return float(np.float32(v))


def const(name, arr, dt, scale=None):
    t = {"type": "Tensor", "name": name, "shape": list(arr.shape), "datatype": dt,
         "value": [int(v) for v in np.asarray(arr).reshape(-1)]}
    if scale is not None:
        t["quantization"] = {"scale": scale if len(scale) > 1 else scale[0],
                             "zero_point": [0] * len(scale) if len(scale) > 1 else 0}
        if len(scale) > 1:
            t["quantization"]["axis"] = 0
    return t


def act(name, shape, dt, s, zp):
    return {"type": "Tensor", "name": name, "shape": list(shape), "datatype": dt,
            "quantization": {"scale": f32(s), "zero_point": zp}}


def layer(op, ins, out, **attrs):
    return {"type": "Layer", "name": op, "tensor_input": ins, "tensor_output": out, "attributes": attrs}


def model(name, xshape, xdt, xs, xz, layers, yshape, ydt):
    lay = [act("xq", xshape, xdt, xs, xz), layer("Quantize", "X", "xq", datatype=xdt)] + layers
    m = {"type": "Model", "name": name, "input_shape": list(xshape), "input_datatype": "float32",
         "output_shape": list(yshape), "output_datatype": ydt,
         "blocks": [{"type": "Block", "name": "b", "input_shape": list(xshape), "input_datatype": "float32",
                     "output_shape": list(yshape), "output_datatype": ydt, "layers": lay}]}
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(m, f)


def conv(name, C, O, G, H, W, k, stride, pad, dil, dt="int8", wdt="int8", nd=2, ys=None, deq=False, rep=1):
    wide = dt == "int16"
    wmax = 7 if wdt == "int4" else 127
    ks = (k, k) if nd == 2 else (k,)
    w = RNG.integers(-wmax, wmax + 1, (O, C // G) + ks)
    b = RNG.integers(-3000, 3000, O)
    xs, xz = (4 / 32767, 0) if wide else (6 / 255, -3)
    ys, yz = (40 / 32767, 0) if wide else (ys or 0.3, 5)
    sw = [f32(v) for v in RNG.uniform(0.002, 0.02, O)]
    sp = (H, W) if nd == 2 else (W,)
    osp = tuple((s + 2 * pad - dil * (k - 1) - 1) // stride + 1 for s in sp)
    xshape, yshape = (1, C) + sp, (1, O) + osp
    yq = "Yq" if deq else "Y"
    yc = yq if rep == 1 else "yc"
    lay = [const("w", w, wdt, sw), const("b", b, "int64" if wide else "int32"), act(yc, yshape, dt, ys, yz),
           layer("Conv2d" if nd == 2 else "Conv1d", ["xq", "w", "b"], yc, stride=stride, padding=pad,
                 dilation=dil, groups=G)]
    if rep > 1:  # the output repeated: a larger node after the conv, so its kernel has scratch room
        yshape = (1, rep * O) + osp
        lay += [act(yq, yshape, dt, ys, yz), layer("Concat", [yc] * rep, yq, dim=1)]
    if deq:  # float output: run_quant.py --cases runs it on the targets (its harness reads floats)
        lay += [{"type": "Tensor", "name": "Y", "shape": list(yshape), "datatype": "float32"},
                layer("Dequantize", "Yq", "Y")]
    model(name, xshape, dt, xs, xz, lay, yshape, "float32" if deq else dt)


conv("conv_o6_pad", 3, 6, 1, 5, 7, 3, 1, 1, 1)
conv("conv_o9_s2", 4, 9, 1, 9, 8, 3, 2, 0, 1)
conv("conv_dw_s2", 5, 5, 5, 9, 9, 3, 2, 1, 1)
conv("conv_g2", 4, 8, 2, 6, 5, 3, 1, 1, 1)
conv("conv_dil", 2, 4, 1, 9, 9, 3, 1, 2, 2)
conv("conv1d", 3, 5, 1, 1, 11, 5, 1, 2, 2, nd=1)
conv("conv_int4", 6, 10, 1, 6, 6, 3, 1, 1, 1, wdt="int4")
conv("conv_16x8", 3, 7, 1, 6, 7, 3, 1, 1, 1, dt="int16")
conv("conv_1x1", 8, 12, 1, 4, 5, 1, 1, 0, 1)
conv("conv_left", 2, 5, 1, 5, 5, 1, 1, 0, 1, ys=0.0002)  # multipliers > 1: a left shift

for name, O, K, rows, dt in [("linear_o13", 13, 20, 2, "int8"), ("linear_o8", 8, 7, 1, "int8"),
                             ("linear_16x8", 9, 12, 1, "int16")]:
    wide = dt == "int16"
    w = RNG.integers(-127, 128, (O, K))
    b = RNG.integers(-500, 500, O)
    sw = [f32(v) for v in RNG.uniform(0.005, 0.02, O)]
    xs, xz = (5 / 32767, 0) if wide else (5 / 255, 10)
    lay = [const("w", w, "int8", sw), const("b", b, "int64" if wide else "int32"),
           act("Y", (rows, O), dt, 0.05, 0 if wide else -7), layer("Linear", ["xq", "w", "b"], "Y")]
    model(name, (rows, K), dt, xs, xz, lay, (rows, O), dt)

# pools, Mean, clamps (same quantization in and out), with a Dequantize at the end
xs, xz = 4 / 255, -20
for name, op, attrs, oshape in [
        ("maxpool_pad", "MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (1, 3, 4, 4)),
        ("maxpool_2", "MaxPool2d", {"kernel_size": 2}, (1, 3, 3, 3)),
        ("avgpool_2", "AvgPool2d", {"kernel_size": 2}, (1, 3, 3, 3)),
        ("avgpool_pad", "AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (1, 3, 4, 4)),
        ("avgpool_pad_noinc", "AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
         (1, 3, 4, 4)),
        ("adaptive", "AdaptiveAvgPool2d", {"output_size": [3, 2]}, (1, 3, 3, 2)),
        ("gap", "AdaptiveAvgPool2d", {"output_size": [1, 1]}, (1, 3, 1, 1)),
        ("mean", "Mean", {"dims": [2, 3], "keepdim": False}, (1, 3)),
        ("relu", "ReLU", {}, (1, 3, 7, 7)),
        ("relu6", "ReLU6", {}, (1, 3, 7, 7))]:
    lay = [act("Yq", oshape, "int8", xs, xz), layer(op, "xq", "Yq", **attrs),
           {"type": "Tensor", "name": "Y", "shape": list(oshape), "datatype": "float32"},
           layer("Dequantize", "Yq", "Y")]
    model(name, (1, 3, 7, 7), "int8", xs, xz, lay, oshape, "float32")

# '+' and Concat: the second operand is a pooled copy in another quantization
for dt in ("int8", "int16"):
    wide = dt == "int16"
    a_s, a_z = (3 / 32767, 0) if wide else (3 / 255, 4)
    y_s, y_z = (5 / 32767, 0) if wide else (4 / 255, 2)
    lay = [act("r", (1, 2, 4, 4), dt, a_s, a_z), layer("ReLU", "xq", "r"),
           act("Y", (1, 2, 4, 4), dt, y_s, y_z), {"type": "+", "tensor_input": ["xq", "r"], "tensor_output": "Y"}]
    model("add_" + dt, (1, 2, 4, 4), dt, a_s, a_z, lay, (1, 2, 4, 4), dt)
lay = [act("r", (1, 2, 4, 4), "int8", 3 / 255, 4), layer("ReLU", "xq", "r"),
       act("Y", (1, 4, 4, 4), "int8", 5 / 255, -1), layer("Concat", ["xq", "r"], "Y", dim=1)]
model("concat_requant", (1, 2, 4, 4), "int8", 3 / 255, 4, lay, (1, 4, 4, 4), "int8")
lay = [act("r", (1, 2, 4, 4), "int8", 3 / 255, 4), layer("ReLU", "xq", "r"),
       act("Y", (1, 2, 4, 8), "int8", 3 / 255, 4), layer("Concat", ["xq", "r"], "Y", dim=3)]
model("concat_same", (1, 2, 4, 4), "int8", 3 / 255, 4, lay, (1, 2, 4, 8), "int8")

# Quantize rounding ties: test_lower's inputs are multiples of 2^-21 in [-4, 4), so x / 2^-20 is a
# multiple of 1/2 (a tie half the time) inside int16 for |x| < 2^-5 (round half away from zero)
model("quantize_ties", (1, 4096), "int16", 2.0 ** -20, 0,
      [act("Y", (1, 4096), "int16", 2.0 ** -20, 0), layer("Identity", "xq", "Y")], (1, 4096), "int16")

# the Arm DSP kernels (lower_quant.c conv_dsp, dw_dsp, linear_dsp; test_lower runs every case with
# and without them): one input channel with an even stride (pairs across columns) and an odd one,
# an odd channel count, depthwise with stride 1, odd widths, a 5x5 kernel and left shifts, a 1x1
# convolution whose plane is re-cut into longer rows, a Linear of 3 rows and an odd K
conv("conv_c1_s2", 1, 6, 1, 11, 9, 4, 2, 1, 1)
conv("conv_c1_s1", 1, 5, 1, 7, 6, 3, 1, 1, 1)
conv("conv_c3_s2", 3, 8, 1, 9, 10, 3, 2, 1, 1)
conv("conv_dw_s1", 6, 6, 6, 7, 9, 3, 1, 1, 1)
conv("conv_dw5", 4, 4, 4, 8, 11, 5, 1, 2, 1)
conv("conv_dw_left", 3, 3, 3, 5, 5, 3, 1, 1, 1, ys=0.0002)
conv("conv_1x1_flat", 6, 10, 1, 5, 5, 1, 1, 0, 1)
w = RNG.integers(-127, 128, (5, 9))
lay = [const("w", w, "int8", [f32(v) for v in RNG.uniform(0.005, 0.02, 5)]),
       const("b", RNG.integers(-500, 500, 5), "int32"),
       act("Y", (3, 5), "int8", 0.05, -7), layer("Linear", ["xq", "w", "b"], "Y")]
model("linear_rows3", (3, 9), "int8", 5 / 255, 10, lay, (3, 5), "int8")

# 16x8 on the Arm DSP kernels (their own generator, the cases above unchanged): a
# depthwise, an odd channel count, and one whose Σ|w|·32768 passes 2^31, so that
# the kernel accumulates in int64 (smlald) instead of int32; with a Dequantize, so
# that run_quant.py --cases also runs them on every target
RNG = np.random.default_rng(11)
conv("conv_dw_16x8", 5, 5, 5, 7, 9, 3, 1, 1, 1, dt="int16", deq=True)
conv("conv_16x8_odd", 5, 3, 1, 5, 6, 3, 2, 1, 1, dt="int16", deq=True)
conv("conv_16x8_acc64", 128, 4, 1, 4, 5, 3, 1, 1, 1, dt="int16", deq=True)

# the DSP kernel's weights unpacked per row (conv_dsp dsp_unpack: rows of 8 or more output
# columns): an odd channel count (a 1-channel block) and an odd width (a 1-column block), 5
# steps a kernel row; 3 input channels at stride 2 (3 steps: the asm's short loops of
# unpacked pairs); and 16x8 with int32 accumulation (with a Dequantize, for run_quant.py --cases)
RNG = np.random.default_rng(13)
conv("conv_wun", 5, 5, 1, 6, 11, 3, 1, 1, 1)
conv("conv_wun_c3", 3, 4, 1, 7, 20, 3, 2, 1, 1)
conv("conv_wun_16x8", 5, 3, 1, 5, 11, 3, 1, 1, 1, dt="int16", deq=True)
conv("conv_wun_int4", 5, 5, 1, 6, 11, 3, 1, 1, 1, wdt="int4")

# the whole padded plane packed once (conv_dsp, where it fits under the model's largest layer:
# the weights unpacked once per channel block for all rows, which run inside it): the output
# repeated 8 times by a Concat makes that room. One input channel at stride 2 (as DS-CNN's first
# conv), int4 weights, zero rows above and below the input, odd channels and columns, 16x8 (with
# a Dequantize, for run_quant.py --cases), and a 1x1 plane as one row
RNG = np.random.default_rng(17)
conv("conv_whole_c1", 1, 5, 1, 11, 9, 4, 2, 1, 1, rep=8)
conv("conv_whole_int4", 1, 5, 1, 11, 9, 4, 2, 1, 1, wdt="int4", rep=8)
conv("conv_whole_pad", 4, 7, 1, 5, 11, 3, 1, 2, 1, rep=8)
conv("conv_whole_16x8", 5, 3, 1, 6, 9, 3, 1, 1, 1, dt="int16", deq=True, rep=8)
conv("conv_whole_1x1", 6, 10, 1, 6, 6, 1, 1, 0, 1, rep=8)

# llvm_smlad.c's block asm (a register block's biases, smlad steps and requantization as one asm;
# conv_dsp and dw_dsp copy a block's constants after its weights for it), with a Dequantize so
# that run_quant.py --cases runs them on every target and checks the M4 assembly: a 1x1 conv with
# 4 steps of pairs a column (2 x 2 blocks, a 1-column block at the odd width), one with K = 64 (2 x 1
# blocks loaded by ldm; an odd channel count: a 1-channel block) on a whole plane and on rows, a
# 3x3 conv whose band rows are more than ldrd's reach apart (the input pointer moved between
# kernel rows), int4 weights, left shifts (not the asm's requantization form), and depthwise
# convolutions in blocks of 4 with a remainder of 3, and of a whole row of 4
RNG = np.random.default_rng(19)
conv("conv_blk_k8", 8, 6, 1, 5, 9, 1, 1, 0, 1, deq=True, rep=8)
conv("conv_blk_ldm", 64, 5, 1, 3, 5, 1, 1, 0, 1, deq=True, rep=8)
conv("conv_blk_ldm_row", 64, 4, 1, 2, 9, 1, 1, 0, 1, deq=True, rep=2)
conv("conv_blk_nest", 16, 4, 1, 5, 16, 3, 1, 1, 1, deq=True, rep=2)
conv("conv_blk_int4", 16, 4, 1, 4, 9, 1, 1, 0, 1, wdt="int4", deq=True, rep=8)
conv("conv_blk_left", 8, 4, 1, 3, 9, 1, 1, 0, 1, ys=0.0002, deq=True, rep=8)
conv("conv_blk_dw", 3, 3, 3, 6, 11, 3, 1, 1, 1, deq=True, rep=2)
conv("conv_blk_dw4", 2, 2, 2, 5, 4, 3, 1, 1, 1, deq=True, rep=2)
