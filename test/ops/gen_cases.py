#!/usr/bin/python3
"""gen_cases.py — generate the op test cases of test/ops/ from the spec below.

Every case is a small JSON model (one op, sometimes a short chain) with its
input and the expected output computed independently of the C code: with
torch (torch.nn.functional, torch.matmul, ...) in float64 from the exact
float32 inputs and weights, rounded once to the model's output datatype.
Pooling uses a direct numpy transcription of the ops.def rules, which the
generator cross-checks against torch wherever torch can express the case
(symmetric padding); "same"/asymmetric conv padding is an explicit F.pad
followed by an unpadded torch convolution.

Layout written (default: next to this script):
    cases/<case>.json            the model, human-readable, committed
    cases/<case>/<tensor>.bin    weights (little-endian, C order)
    cases/<case>/input.npy       the model input
    cases/<case>/expected.npy    the expected output
    errors/<case>.json           models nnl-run must reject
    errors/<case>.expect         a substring the error message must contain
    errors/<case>/input.npy      (and weights) for the error cases

The output is a pure function of this file: every case seeds its own RNG from
its name (crc32), torch runs single-threaded, so `run_cases.py --regen-check`
can verify that the committed files are exactly what this script writes.

Usage: /usr/bin/python3 test/ops/gen_cases.py [--out DIR]
"""
import argparse
import json
import math
import os
import shutil
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

DTNAME = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64", np.dtype(np.float16): "float16",
          np.dtype(np.int64): "int64", np.dtype(np.int32): "int32", np.dtype(np.int16): "int16",
          np.dtype(np.int8): "int8", np.dtype(np.uint16): "uint16", np.dtype(np.uint8): "uint8"}

CASES = {}   # name -> spec function(c) returning (x, expected)
ERRORS = {}  # name -> spec function(c) returning (x, substring)


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def error(fn):
    ERRORS[fn.__name__[2:] if fn.__name__.startswith("e_") else fn.__name__] = fn
    return fn


class Case:
    """One model under construction: its blocks, layers and weight files."""

    def __init__(self, name):
        self.name = name
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.bins = {}
        self.blocks = [[]]
        self.block_headers = []  # (shape, dtype) at each block boundary
        self.input_file = None   # error cases: an input.npy that differs from the model's input
        self.nonfinite = False   # the expected output may hold inf/NaN (IEEE special cases)

    # -- data ------------------------------------------------------------
    def randn(self, *shape, scale=1.0, dtype=np.float32):
        return (self.rng.standard_normal(shape) * scale).astype(dtype)

    def uniform(self, lo, hi, *shape, dtype=np.float32):
        return self.rng.uniform(lo, hi, shape).astype(dtype)

    def ints(self, lo, hi, *shape, dtype=np.int32):
        return self.rng.integers(lo, hi, shape, endpoint=True).astype(dtype)

    def nice(self, *shape, lo=-1.0, hi=1.0, dtype=np.float32):
        """Values with two decimals: short and exact enough to write inline."""
        return np.round(self.rng.uniform(lo, hi, shape), 2).astype(dtype)

    # -- layers ----------------------------------------------------------
    def const(self, name, arr, inline=None):
        """A Tensor entry; small arrays inline ("value"), others in a .bin."""
        arr = np.ascontiguousarray(arr)
        if inline is None:
            inline = arr.size <= 8
        e = {"type": "Tensor", "name": name, "shape": list(arr.shape), "datatype": DTNAME[arr.dtype]}
        if inline:
            if arr.dtype.kind == "f":
                # Shortest text that reads back as the same float32/float64.
                e["value"] = [float(np.format_float_positional(v, unique=True)) if arr.dtype == np.float64
                              else float(repr(np.float32(v))) for v in arr.ravel()]
            else:
                e["value"] = [int(v) for v in arr.ravel()]
        else:
            fname = f"{name}.bin"
            self.bins[fname] = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
            e["data"] = f"{self.name}/{fname}"
        self.blocks[-1].append(e)
        return arr

    def const_bf16(self, name, arr):
        """A bfloat16 weight in a .bin; returns its exact values as float32."""
        bits = arr.astype(np.float32).view(np.uint32).astype(np.uint64)
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
        self.bins[f"{name}.bin"] = bits.astype("<u2").tobytes()
        self.blocks[-1].append({"type": "Tensor", "name": name, "shape": list(arr.shape), "datatype": "bfloat16",
                                "data": f"{self.name}/{name}.bin"})
        return (bits.astype(np.uint32) << 16).view(np.float32)

    def layer(self, op, inputs, out="Y", **attrs):
        e = {"type": "Layer", "name": op, "tensor_input": list(inputs), "tensor_output": out}
        if attrs:
            e["attributes"] = attrs
        self.blocks[-1].append(e)

    def op(self, typ, inputs, out="Y", **attrs):
        e = {"type": typ, "tensor_input": list(inputs), "tensor_output": out}
        if attrs:
            e["attributes"] = attrs
        self.blocks[-1].append(e)

    def raw(self, entry):
        self.blocks[-1].append(entry)

    def next_block(self, value):
        """End the current block; value is its output Y (for the headers)."""
        self.block_headers.append((list(value.shape), DTNAME[value.dtype]))
        self.blocks.append([])

    # -- the model -------------------------------------------------------
    def model(self, x, y_shape, y_dtype):
        headers = [(list(x.shape), DTNAME[x.dtype])] + self.block_headers + [(list(y_shape), y_dtype)]
        blocks = []
        for i, layers in enumerate(self.blocks):
            blocks.append({"type": "Block", "name": f"b{i}",
                           "input_shape": headers[i][0], "input_datatype": headers[i][1],
                           "output_shape": headers[i + 1][0], "output_datatype": headers[i + 1][1],
                           "layers": layers})
        return {"type": "Model", "name": self.name,
                "input_shape": list(x.shape), "input_datatype": DTNAME[x.dtype],
                "output_shape": list(y_shape), "output_datatype": y_dtype, "blocks": blocks}


def dump_model(m):
    """JSON with one layer per line: diffable and easy to read."""
    d = json.dumps
    hdr = lambda o, keys: ", ".join(f"{d(k)}: {d(o[k])}" for k in keys)
    keys = ["type", "name", "input_shape", "input_datatype", "output_shape", "output_datatype"]
    out = ["{ " + hdr(m, keys) + ",", '  "blocks": [']
    for bi, b in enumerate(m["blocks"]):
        out.append("    { " + hdr(b, keys) + ",")
        out.append('      "layers": [')
        for li, l in enumerate(b["layers"]):
            out.append("        " + d(l) + ("," if li + 1 < len(b["layers"]) else ""))
        out.append("      ] }" + ("," if bi + 1 < len(m["blocks"]) else ""))
    out.append("  ] }")
    return "\n".join(out) + "\n"


# ---- reference helpers -----------------------------------------------------

def T(a):
    """numpy → torch, floats widened to float64, ints to int64."""
    a = np.asarray(a)
    return torch.from_numpy(a.astype(np.float64 if a.dtype.kind == "f" else np.int64))


def N(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def f32(t):
    return N(t).astype(np.float32)


def conv_ref(x, w, b, stride, padding, dilation, groups):
    """ops.def Conv1d/Conv2d: padding int | [p..] | [begins.., ends..] | "same" | "valid"."""
    nd = w.ndim - 2
    sp = list(x.shape[2:])
    k = list(w.shape[2:])
    s = stride if isinstance(stride, list) else [stride] * nd
    dl = dilation if isinstance(dilation, list) else [dilation] * nd
    if padding == "valid":
        pb = pe = [0] * nd
    elif padding == "same":
        pb, pe = [], []
        for i in range(nd):
            out = -(-sp[i] // s[i])
            total = max((out - 1) * s[i] + dl[i] * (k[i] - 1) + 1 - sp[i], 0)
            pb.append(total // 2)
            pe.append(total - total // 2)
    elif isinstance(padding, int):
        pb = pe = [padding] * nd
    elif len(padding) == nd:
        pb = pe = list(padding)
    else:
        pb, pe = list(padding[:nd]), list(padding[nd:])
    fpad = []
    for i in reversed(range(nd)):
        fpad += [pb[i], pe[i]]
    xt = F.pad(T(x), fpad)
    fn = F.conv1d if nd == 1 else F.conv2d
    return fn(xt, T(w), None if b is None else T(b), stride=s, padding=0, dilation=dl, groups=groups)


def pool_size(L, k, s, pb, pe, d, ceil):
    num = L + pb + pe - d * (k - 1) - 1
    if ceil:
        o = -(-num // s) + 1
        if (o - 1) * s >= L + pb:  # the last window must start inside the input or the begin padding
            o -= 1
    else:
        o = num // s + 1
    return o


def pool_ref(x, kind, k, s=None, padding=0, dilation=1, ceil_mode=False, count_include_pad=True):
    """Direct transcription of ops.def MaxPool/AvgPool (float64, numpy)."""
    nd = x.ndim - 2
    sp = x.shape[2:]
    lst = lambda v: list(v) if isinstance(v, list) else [v] * nd
    k = lst(k)
    s = k if s is None else lst(s)
    d = lst(dilation)
    if isinstance(padding, list) and len(padding) == 2 * nd:
        pb, pe = padding[:nd], padding[nd:]
    else:
        pb = pe = lst(padding)
    outs = [pool_size(sp[i], k[i], s[i], pb[i], pe[i], d[i], ceil_mode) for i in range(nd)]
    xd = x.astype(np.float64)
    y = np.zeros(x.shape[:2] + tuple(outs))
    for o in np.ndindex(*outs):
        taps = []  # per axis: valid input positions
        full = 1
        for i in range(nd):
            start = o[i] * s[i] - pb[i]
            pos = [start + j * d[i] for j in range(k[i])]
            taps.append([p for p in pos if 0 <= p < sp[i]])
            # torch's divisor with count_include_pad: the window clipped to the padded extent
            full *= min(start + k[i], sp[i] + pe[i]) - start
        sel = xd[(slice(None), slice(None)) + np.ix_(*taps)] if nd > 1 else xd[:, :, taps[0]]
        sel = sel.reshape(x.shape[0], x.shape[1], -1)
        if kind == "max":
            y[(slice(None), slice(None)) + o] = sel.max(axis=2)
        else:
            div = full if count_include_pad else sel.shape[2]
            y[(slice(None), slice(None)) + o] = sel.sum(axis=2) / div
    return y


def pool_torch(x, kind, k, s=None, padding=0, dilation=1, ceil_mode=False, count_include_pad=True):
    nd = x.ndim - 2
    if kind == "max":
        fn = F.max_pool1d if nd == 1 else F.max_pool2d
        return N(fn(T(x), k, s, padding, dilation, ceil_mode=ceil_mode))
    fn = F.avg_pool1d if nd == 1 else F.avg_pool2d
    return N(fn(T(x), k, s, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad))


def pool_case(c, kind, shape, torch_check=True, **attrs):
    x = c.randn(*shape)
    name = {("max", 1): "MaxPool1d", ("max", 2): "MaxPool2d",
            ("avg", 1): "AvgPool1d", ("avg", 2): "AvgPool2d"}[(kind, len(shape) - 2)]
    c.layer(name, ["X"], **attrs)
    a = dict(attrs)
    k = a.pop("kernel_size")
    ref = pool_ref(x, kind, k, a.pop("stride", None), a.pop("padding", 0), a.pop("dilation", 1),
                   a.pop("ceil_mode", False), a.pop("count_include_pad", True))
    if torch_check:
        a = dict(attrs)
        k = a.pop("kernel_size")
        tr = pool_torch(x, kind, k, a.pop("stride", None), a.pop("padding", 0), a.pop("dilation", 1),
                        a.pop("ceil_mode", False), a.pop("count_include_pad", True))
        assert tr.shape == ref.shape and np.allclose(tr, ref, rtol=0, atol=1e-12), c.name
    return x, ref.astype(np.float32)


def unary_case(c, op, fn, shape=(2, 3, 4, 5), scale=2.0, extra=(), **attrs):
    x = c.randn(*shape, scale=scale)
    flat = x.reshape(-1)
    flat[:len(extra)] = extra  # values on the kinks: 0, ±3, 6 ...
    c.layer(op, ["X"], **attrs)
    return x, f32(fn(T(x)))


KINKS = [0.0, -3.0, 3.0, 6.0, -6.0, 1e-4, -1e-4, 2.5]

# ---- linear, conv, batch norm ---------------------------------------------


@case
def linear_2d(c):
    x = c.randn(3, 5)
    w = c.const("weight", c.randn(4, 5, scale=0.5))
    b = c.const("bias", c.nice(4))
    c.layer("Linear", ["X", "weight", "bias"])
    return x, f32(F.linear(T(x), T(w), T(b)))


@case
def linear_3d_nobias(c):
    x = c.randn(2, 3, 5)
    w = c.const("weight", c.randn(6, 5, scale=0.5))
    c.layer("Linear", ["X", "weight"])
    return x, f32(F.linear(T(x), T(w)))


def conv_case(c, xs, ws, bias=True, stride=1, padding=0, dilation=1, groups=1, attrs=None):
    x = c.randn(*xs)
    w = c.const("weight", c.randn(*ws, scale=0.5))
    b = c.const("bias", c.nice(ws[0])) if bias else None
    op = "Conv1d" if len(xs) == 3 else "Conv2d"
    c.layer(op, ["X", "weight"] + (["bias"] if bias else []), **(attrs or {}))
    return x, f32(conv_ref(x, w, b, stride, padding, dilation, groups))


@case
def conv1d_basic(c):
    return conv_case(c, (2, 3, 10), (4, 3, 3), padding=1, attrs={"padding": 1})


@case
def conv1d_s2_pad_dil(c):
    return conv_case(c, (1, 4, 11), (6, 4, 3), stride=2, padding=[2, 1], dilation=2,
                     attrs={"stride": 2, "padding": [2, 1], "dilation": 2})


@case
def conv1d_same_s2(c):
    # L=9, k=4, s=2: out 5, total padding 3 → [1, 2] (extra at the end)
    return conv_case(c, (1, 3, 9), (2, 3, 4), stride=2, padding="same",
                     attrs={"stride": 2, "padding": "same"})


@case
def conv1d_k17_pad(c):
    # a wide kernel: more than 32 unrolled kw steps at the borders, so lower.c makes the border columns
    # one-column blocks with per-column kw bounds instead
    return conv_case(c, (1, 2, 40), (3, 2, 17), padding=[8, 5], attrs={"padding": [8, 5]})


@case
def conv1d_depthwise_dil3_pad(c):
    return conv_case(c, (1, 3, 30), (3, 1, 9), padding=12, dilation=3, groups=3,
                     attrs={"padding": 12, "dilation": 3, "groups": 3})


@case
def conv1d_groups2(c):
    return conv_case(c, (1, 4, 8), (6, 2, 3), bias=False, groups=2, attrs={"groups": 2})


@case
def conv1d_depthwise(c):
    return conv_case(c, (1, 3, 9), (3, 1, 5), padding=2, groups=3, attrs={"padding": 2, "groups": 3})


@case
def conv2d_s2_p1(c):
    return conv_case(c, (1, 3, 7, 9), (4, 3, 3, 3), stride=2, padding=1, attrs={"stride": 2, "padding": 1})


@case
def conv2d_asym_pad(c):
    # [top, left, bottom, right]
    return conv_case(c, (1, 2, 6, 7), (3, 2, 3, 3), bias=False, padding=[1, 0, 2, 1],
                     attrs={"padding": [1, 0, 2, 1]})


@case
def conv2d_same_s2(c):
    # H 7→4 (pad 1,1), W 8→4 (pad 0,1)
    return conv_case(c, (1, 3, 7, 8), (4, 3, 3, 3), stride=2, padding="same",
                     attrs={"stride": 2, "padding": "same"})


@case
def conv2d_same_s2_k2x5(c):
    # H 6→3 (pad 0,0), W 8→4 (pad 1,2)
    return conv_case(c, (1, 2, 6, 8), (3, 2, 2, 5), stride=2, padding="same",
                     attrs={"stride": 2, "padding": "same"})


@case
def conv2d_same_s1_dil(c):
    return conv_case(c, (1, 2, 6, 7), (2, 2, 3, 2), padding="same", dilation=[2, 3],
                     attrs={"padding": "same", "dilation": [2, 3]})


@case
def conv2d_dilation(c):
    return conv_case(c, (1, 2, 9, 9), (2, 2, 3, 3), padding=[2, 1], dilation=[2, 1],
                     attrs={"padding": [2, 1], "dilation": [2, 1]})


@case
def conv2d_s2_d2_asym(c):
    # stride 2, dilation 2 and asymmetric padding [top, left, bottom, right] together: border rows and
    # columns whose taps are clamped on one side, the other or both (lower.c folds padding into tap bounds)
    return conv_case(c, (1, 3, 11, 12), (5, 3, 3, 3), stride=2, padding=[2, 1, 1, 3], dilation=2,
                     attrs={"stride": 2, "padding": [2, 1, 1, 3], "dilation": 2})


@case
def conv2d_depthwise_s2_d2_asym(c):
    return conv_case(c, (1, 4, 10, 13), (4, 1, 3, 3), stride=2, padding=[1, 3, 2, 0], dilation=2, groups=4,
                     attrs={"stride": 2, "padding": [1, 3, 2, 0], "dilation": 2, "groups": 4})


@case
def conv2d_groups2(c):
    return conv_case(c, (2, 4, 5, 6), (6, 2, 3, 3), stride=[1, 2], padding=1, groups=2,
                     attrs={"stride": [1, 2], "padding": 1, "groups": 2})


@case
def conv2d_depthwise(c):
    return conv_case(c, (1, 4, 8, 8), (4, 1, 3, 3), stride=2, padding=1, groups=4,
                     attrs={"stride": 2, "padding": 1, "groups": 4})


@case
def conv2d_depthwise_mult2(c):
    # groups == C with two output channels per group
    return conv_case(c, (1, 3, 5, 6), (6, 1, 3, 3), padding=1, groups=3, attrs={"padding": 1, "groups": 3})


@case
def conv2d_k3x1(c):
    return conv_case(c, (1, 3, 6, 5), (2, 3, 3, 1), padding=[1, 0], attrs={"padding": [1, 0]})


@case
def conv2d_k2x5(c):
    return conv_case(c, (1, 2, 7, 9), (3, 2, 2, 5), stride=[1, 2], padding=[0, 2],
                     attrs={"stride": [1, 2], "padding": [0, 2]})


@case
def conv2d_valid_s2(c):
    return conv_case(c, (2, 2, 8, 7), (3, 2, 3, 3), stride=2, padding="valid",
                     attrs={"stride": 2, "padding": "valid"})


@case
def conv2d_pointwise(c):
    return conv_case(c, (1, 5, 3, 4), (3, 5, 1, 1))


def bn_case(c, shape, op, eps=None):
    C = shape[1]
    x = c.randn(*shape)
    w = c.const("weight", c.nice(C, lo=0.5, hi=1.5))
    b = c.const("bias", c.nice(C))
    m = c.const("running_mean", c.nice(C))
    v = c.const("running_var", c.nice(C, lo=0.2, hi=2.0))
    attrs = {} if eps is None else {"eps": eps}
    c.layer(op, ["X", "weight", "bias", "running_mean", "running_var"], **attrs)
    return x, f32(F.batch_norm(T(x), T(m), T(v), T(w), T(b), False, 0.0, 1e-5 if eps is None else eps))


@case
def batchnorm1d_rank2(c):
    return bn_case(c, (4, 3), "BatchNorm1d")


@case
def batchnorm1d_rank3(c):
    return bn_case(c, (2, 3, 5), "BatchNorm1d", eps=1e-3)


@case
def batchnorm2d(c):
    return bn_case(c, (2, 3, 4, 5), "BatchNorm2d")


# ---- activations -------------------------------------------------------------

@case
def relu(c):
    return unary_case(c, "ReLU", F.relu, extra=KINKS)


@case
def relu6(c):
    return unary_case(c, "ReLU6", F.relu6, scale=4.0, extra=KINKS)


@case
def leakyrelu_default(c):
    return unary_case(c, "LeakyReLU", lambda t: F.leaky_relu(t, 0.01), extra=KINKS)


@case
def leakyrelu_02(c):
    return unary_case(c, "LeakyReLU", lambda t: F.leaky_relu(t, 0.2), shape=(3, 7), negative_slope=0.2)


@case
def prelu_single(c):
    x = c.randn(2, 3, 4, 5)
    w = c.const("weight", np.array([0.25], np.float32))
    c.layer("PReLU", ["X", "weight"])
    return x, f32(F.prelu(T(x), T(w)))


@case
def prelu_channels(c):
    x = c.randn(2, 3, 4)
    w = c.const("weight", np.array([0.1, -0.5, 2.0], np.float32))
    c.layer("PReLU", ["X", "weight"])
    return x, f32(F.prelu(T(x), T(w)))


@case
def prelu_channels_rank2(c):
    x = c.randn(5, 4)
    w = c.const("weight", np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    c.layer("PReLU", ["X", "weight"])
    return x, f32(F.prelu(T(x), T(w)))


@case
def sigmoid(c):
    return unary_case(c, "Sigmoid", torch.sigmoid, scale=4.0, extra=[0.0, 20.0, -20.0, 90.0, -90.0])


@case
def tanh(c):
    return unary_case(c, "Tanh", torch.tanh, scale=3.0, extra=[0.0, 20.0, -20.0, 1e-4])


@case
def hardswish(c):
    return unary_case(c, "Hardswish", F.hardswish, scale=4.0, extra=KINKS)


@case
def hardsigmoid(c):
    return unary_case(c, "Hardsigmoid", F.hardsigmoid, scale=4.0, extra=KINKS)


@case
def silu(c):
    return unary_case(c, "SiLU", F.silu, scale=4.0, extra=[0.0, 30.0, -30.0])


@case
def gelu_none(c):
    return unary_case(c, "GELU", lambda t: F.gelu(t, approximate="none"), scale=3.0, extra=[0.0, 8.0, -8.0])


@case
def gelu_none_explicit(c):
    return unary_case(c, "GELU", lambda t: F.gelu(t, approximate="none"), shape=(4, 6), approximate="none")


@case
def gelu_tanh(c):
    return unary_case(c, "GELU", lambda t: F.gelu(t, approximate="tanh"), scale=3.0,
                      extra=[0.0, 8.0, -8.0], approximate="tanh")


@case
def clip_min(c):
    return unary_case(c, "Clip", lambda t: torch.clamp(t, min=-0.5), extra=[-0.5], min=-0.5)


@case
def clip_max(c):
    return unary_case(c, "Clip", lambda t: torch.clamp(t, max=0.25), shape=(3, 5), max=0.25)


@case
def clip_both(c):
    return unary_case(c, "Clip", lambda t: torch.clamp(t, -1.0, 0.5), extra=[-1.0, 0.5], min=-1.0, max=0.5)


@case
def softmax_default(c):
    return unary_case(c, "Softmax", lambda t: F.softmax(t, -1), shape=(3, 7))


@case
def softmax_dim1(c):
    return unary_case(c, "Softmax", lambda t: F.softmax(t, 1), shape=(2, 4, 3), scale=5.0, dim=1)


@case
def softmax_dim_neg1(c):
    return unary_case(c, "Softmax", lambda t: F.softmax(t, -1), shape=(2, 3, 5), scale=30.0, dim=-1)


@case
def logsoftmax_dim1(c):
    return unary_case(c, "LogSoftmax", lambda t: F.log_softmax(t, 1), shape=(2, 4, 3), scale=5.0, dim=1)


@case
def logsoftmax_dim_neg1(c):
    return unary_case(c, "LogSoftmax", lambda t: F.log_softmax(t, -1), shape=(2, 3, 5), scale=30.0, dim=-1)


# ---- pooling ---------------------------------------------------------------

@case
def maxpool1d_basic(c):
    return pool_case(c, "max", (2, 3, 9), kernel_size=3, stride=2)


@case
def maxpool1d_default_stride(c):
    return pool_case(c, "max", (1, 2, 10), kernel_size=3)


@case
def maxpool1d_pad_dil(c):
    return pool_case(c, "max", (1, 2, 12), kernel_size=3, stride=2, padding=1, dilation=2)


@case
def maxpool1d_ceil(c):
    # L=7, k=2, s=2, p=1: ceil gives 5 windows but the 5th would start in the end
    # padding, so 4 remain (ops.def: a window must start inside the input or left padding)
    return pool_case(c, "max", (1, 3, 7), kernel_size=2, stride=2, padding=1, ceil_mode=True)


@case
def maxpool1d_ceil_partial(c):
    # L=8, k=3, s=2: floor 3 windows, ceil 4 (the last one hangs over the end)
    return pool_case(c, "max", (1, 2, 8), kernel_size=3, stride=2, ceil_mode=True)


@case
def maxpool1d_asym_pad(c):
    return pool_case(c, "max", (1, 2, 8), torch_check=False, kernel_size=3, stride=2, padding=[0, 1])


@case
def maxpool2d_s2_p1(c):
    return pool_case(c, "max", (2, 3, 7, 8), kernel_size=3, stride=2, padding=1)


@case
def maxpool2d_rect_dil(c):
    return pool_case(c, "max", (1, 2, 7, 9), kernel_size=[2, 3], stride=[2, 1], dilation=[1, 2])


@case
def maxpool2d_ceil(c):
    return pool_case(c, "max", (1, 2, 7, 6), kernel_size=2, stride=2, padding=1, ceil_mode=True)


@case
def maxpool2d_ceil_nopad(c):
    return pool_case(c, "max", (1, 3, 7, 5), kernel_size=3, stride=2, ceil_mode=True)


@case
def maxpool2d_asym_pad(c):
    # [top, left, bottom, right]
    return pool_case(c, "max", (1, 2, 6, 7), torch_check=False, kernel_size=3, stride=2, padding=[1, 0, 0, 1])


@case
def avgpool1d_pad_cip(c):
    return pool_case(c, "avg", (2, 2, 9), kernel_size=3, stride=2, padding=1)


@case
def avgpool1d_pad_nocip(c):
    return pool_case(c, "avg", (2, 2, 9), kernel_size=3, stride=2, padding=1, count_include_pad=False)


@case
def avgpool1d_ceil_cip(c):
    # L=8, k=3, s=2, p=1: last window covers [7, 10): 1 input tap, 1 pad, 1 beyond the padding
    return pool_case(c, "avg", (1, 2, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True)


@case
def avgpool1d_ceil_nocip(c):
    return pool_case(c, "avg", (1, 2, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True,
                     count_include_pad=False)


@case
def avgpool2d_s2_p1_cip(c):
    return pool_case(c, "avg", (1, 3, 7, 8), kernel_size=3, stride=2, padding=1)


@case
def avgpool2d_s2_p1_nocip(c):
    return pool_case(c, "avg", (1, 3, 7, 8), kernel_size=3, stride=2, padding=1, count_include_pad=False)


@case
def avgpool2d_rect(c):
    return pool_case(c, "avg", (2, 2, 6, 7), kernel_size=[3, 2], stride=[1, 2], padding=[1, 0])


@case
def avgpool2d_ceil(c):
    return pool_case(c, "avg", (1, 2, 7, 6), kernel_size=3, stride=2, ceil_mode=True)


@case
def avgpool2d_ceil_pad_nocip(c):
    return pool_case(c, "avg", (1, 2, 6, 7), kernel_size=2, stride=2, padding=1, ceil_mode=True,
                     count_include_pad=False)


@case
def avgpool2d_asym_pad_nocip(c):
    return pool_case(c, "avg", (1, 2, 6, 6), torch_check=False, kernel_size=3, stride=2,
                     padding=[0, 1, 1, 0], count_include_pad=False)


@case
def avgpool2d_asym_pad_cip(c):
    return pool_case(c, "avg", (1, 2, 6, 6), torch_check=False, kernel_size=3, stride=2,
                     padding=[0, 1, 1, 0])


@case
def adaptiveavgpool1d_7to3(c):
    return unary_case(c, "AdaptiveAvgPool1d", lambda t: F.adaptive_avg_pool1d(t, 3), shape=(2, 3, 7),
                      output_size=3)


@case
def adaptiveavgpool1d_10to4(c):
    return unary_case(c, "AdaptiveAvgPool1d", lambda t: F.adaptive_avg_pool1d(t, 4), shape=(1, 2, 10),
                      output_size=4)


@case
def adaptiveavgpool1d_global(c):
    return unary_case(c, "AdaptiveAvgPool1d", lambda t: F.adaptive_avg_pool1d(t, 1), shape=(2, 3, 6),
                      output_size=1)


@case
def adaptiveavgpool2d_global(c):
    return unary_case(c, "AdaptiveAvgPool2d", lambda t: F.adaptive_avg_pool2d(t, 1), shape=(2, 3, 5, 4),
                      output_size=[1, 1])


@case
def adaptiveavgpool2d_7x5_to_3x2(c):
    return unary_case(c, "AdaptiveAvgPool2d", lambda t: F.adaptive_avg_pool2d(t, (3, 2)), shape=(1, 2, 7, 5),
                      output_size=[3, 2])


@case
def adaptiveavgpool2d_int(c):
    return unary_case(c, "AdaptiveAvgPool2d", lambda t: F.adaptive_avg_pool2d(t, 2), shape=(1, 3, 5, 6),
                      output_size=2)


@case
def adaptiveavgpool2d_upsample(c):
    # output larger than the input: windows overlap and repeat
    return unary_case(c, "AdaptiveAvgPool2d", lambda t: F.adaptive_avg_pool2d(t, (4, 3)), shape=(1, 1, 3, 2),
                      output_size=[4, 3])


# ---- shape and data movement -----------------------------------------------

@case
def flatten_default(c):
    x = c.randn(2, 3, 4, 2)
    c.layer("Flatten", ["X"])
    return x, x.reshape(2, -1)


@case
def flatten_0_1(c):
    x = c.randn(2, 3, 4)
    c.layer("Flatten", ["X"], start_dim=0, end_dim=1)
    return x, x.reshape(6, 4)


@case
def flatten_int32(c):
    x = c.ints(-100, 100, 2, 3, 4)
    c.layer("Flatten", ["X"], start_dim=1, end_dim=2)
    return x, x.reshape(2, 12)


@case
def reshape_neg1(c):
    x = c.randn(2, 3, 4)
    c.layer("Reshape", ["X"], shape=[-1, 6])
    return x, x.reshape(-1, 6)


@case
def reshape_mid_neg1(c):
    x = c.randn(2, 3, 4)
    c.layer("Reshape", ["X"], shape=[3, -1, 2])
    return x, x.reshape(3, -1, 2)


@case
def permute_nchw_nhwc(c):
    x = c.randn(2, 3, 4, 5)
    c.layer("Permute", ["X"], dims=[0, 2, 3, 1])
    return x, np.ascontiguousarray(x.transpose(0, 2, 3, 1))


@case
def permute_negative(c):
    x = c.randn(2, 3, 4)
    c.layer("Permute", ["X"], dims=[-1, 0, 1])
    return x, np.ascontiguousarray(x.transpose(2, 0, 1))


@case
def permute_int32(c):
    x = c.ints(-9, 9, 3, 4, 2)
    c.layer("Permute", ["X"], dims=[1, 2, 0])
    return x, np.ascontiguousarray(x.transpose(1, 2, 0))


@case
def transpose_1_2(c):
    x = c.randn(2, 3, 4)
    c.layer("Transpose", ["X"], dim0=1, dim1=2)
    return x, np.ascontiguousarray(x.swapaxes(1, 2))


@case
def transpose_0_3(c):
    x = c.randn(2, 3, 1, 4)
    c.layer("Transpose", ["X"], dim0=0, dim1=3)
    return x, np.ascontiguousarray(x.swapaxes(0, 3))


@case
def concat_3_last(c):
    x = c.randn(2, 3, 2)
    a = c.const("a", c.randn(2, 3, 1), inline=False)
    b = c.const("b", c.randn(2, 3, 4))
    c.layer("Concat", ["X", "a", "b"], dim=-1)
    return x, np.concatenate([x, a, b], axis=-1)


@case
def concat_dim1_default(c):
    x = c.randn(2, 2, 3)
    a = c.const("a", c.randn(2, 1, 3))
    c.layer("Concat", ["a", "X", "a"])
    return x, np.concatenate([a, x, a], axis=1)


@case
def concat_int32_dim0(c):
    x = c.ints(-50, 50, 2, 3)
    a = c.const("a", c.ints(-50, 50, 1, 3))
    c.layer("Concat", ["X", "a"], dim=0)
    return x, np.concatenate([x, a], axis=0)


def np_pad(x, pads, mode="constant", value=0.0):
    """ops.def Pad: F.pad order (last axis first), negative values crop."""
    nax = len(pads) // 2
    width = [(0, 0)] * x.ndim
    for i in range(nax):
        width[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    crop = tuple(slice(max(-b, 0), x.shape[a] - max(-e, 0)) for a, (b, e) in enumerate(width))
    x = x[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in width]
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=np.array(value, x.dtype))
    return np.pad(x, width, mode={"reflect": "reflect", "replicate": "edge"}[mode])


def pad_case(c, x, pads, mode=None, value=None):
    attrs = {"pads": pads}
    if mode is not None:
        attrs["mode"] = mode
    if value is not None:
        attrs["value"] = value
    c.layer("Pad", ["X"], **attrs)
    y = np_pad(x, pads, mode or "constant", 0.0 if value is None else value)
    # cross-check against torch where it can express the case
    if (mode or "constant") == "constant" or len(pads) // 2 < x.ndim - 1:
        t = N(F.pad(T(x), pads, mode=mode or "constant", value=0.0 if value is None else value))
        assert np.array_equal(t.astype(x.dtype), y), c.name
    return x, y


@case
def pad_constant_last(c):
    return pad_case(c, c.randn(2, 3, 4), [1, 2], value=1.5)


@case
def pad_constant_2d(c):
    return pad_case(c, c.randn(1, 2, 3, 4), [1, 0, 2, 1])


@case
def pad_constant_3axes(c):
    return pad_case(c, c.randn(2, 3, 2), [0, 1, 1, 0, 2, 1], value=-2.0)


@case
def pad_reflect(c):
    return pad_case(c, c.randn(1, 2, 4, 5), [2, 1, 1, 3], mode="reflect")


@case
def pad_reflect_1d(c):
    return pad_case(c, c.randn(2, 3, 6), [3, 2], mode="reflect")


@case
def pad_replicate(c):
    return pad_case(c, c.randn(1, 2, 3, 4), [1, 2, 0, 3], mode="replicate")


@case
def pad_crop_negative(c):
    return pad_case(c, c.randn(1, 2, 5, 6), [-1, 2, 1, -2])


@case
def pad_int32(c):
    return pad_case(c, c.ints(-9, 9, 2, 3), [2, 1], value=7.0)


def reduce_case(c, op, shape, dims=None, keepdim=None):
    x = c.randn(*shape)
    attrs = {}
    if dims is not None:
        attrs["dims"] = dims
    if keepdim is not None:
        attrs["keepdim"] = keepdim
    c.layer(op, ["X"], **attrs)
    fn = torch.mean if op == "Mean" else torch.sum
    t = T(x)
    d = list(range(x.ndim)) if dims is None else dims
    return x, f32(fn(t, dim=d, keepdim=bool(keepdim)))


@case
def mean_dim1(c):
    return reduce_case(c, "Mean", (2, 3, 4), dims=[1])


@case
def mean_hw_keepdim(c):
    return reduce_case(c, "Mean", (2, 3, 4, 5), dims=[2, 3], keepdim=True)


@case
def mean_all(c):
    return reduce_case(c, "Mean", (2, 3, 4))


@case
def sum_dims_0_2(c):
    return reduce_case(c, "Sum", (2, 3, 4), dims=[0, 2])


@case
def sum_all_keepdim(c):
    return reduce_case(c, "Sum", (3, 4), keepdim=True)


@case
def sum_last_keepdim(c):
    return reduce_case(c, "Sum", (2, 5, 3), dims=[2], keepdim=True)


@case
def identity(c):
    x = c.randn(2, 3)
    c.layer("Identity", ["X"])
    return x, x


@case
def dropout(c):
    x = c.randn(2, 3, 4)
    c.layer("Dropout", ["X"], p=0.2)
    return x, x


@case
def assign(c):
    x = c.randn(3, 4)
    c.op("=", ["X"])
    return x, x


@case
def assign_int32(c):
    x = c.ints(-1000, 1000, 5)
    c.op("=", ["X"])
    return x, x


# ---- direct ops --------------------------------------------------------------

def binop_case(c, typ, x, b, fn, swap=False, inline=None):
    b = c.const("b", b, inline=inline)
    c.op(typ, ["b", "X"] if swap else ["X", "b"])
    a1, a2 = (b, x) if swap else (x, b)
    out = fn(T(a1), T(a2))
    return x, N(out).astype(x.dtype)


def away_from_zero(c, *shape, dtype=np.float32):
    v = c.uniform(0.5, 2.0, *shape, dtype=dtype)
    return (v * np.where(c.rng.random(shape) < 0.5, -1, 1)).astype(dtype)


@case
def add_bcast(c):
    return binop_case(c, "+", c.randn(2, 3, 1), c.nice(4), torch.add)


@case
def add_bcast_swapped(c):
    return binop_case(c, "+", c.randn(2, 1, 4), c.randn(3, 1), torch.add, swap=True)


@case
def sub_bcast(c):
    return binop_case(c, "-", c.randn(2, 3), c.nice(3), torch.sub)


@case
def sub_swapped(c):
    # b - X: order of operands matters
    return binop_case(c, "-", c.randn(4, 1, 3), c.randn(2, 1), torch.sub, swap=True)


@case
def mul_bcast(c):
    return binop_case(c, ".*", c.randn(2, 3, 4), c.randn(3, 1), torch.mul)


@case
def mul_self(c):
    x = c.randn(3, 4)
    c.op(".*", ["X", "X"])
    return x, f32(T(x) * T(x))


@case
def div_bcast(c):
    return binop_case(c, "./", c.randn(4, 5), away_from_zero(c, 5), torch.div)


@case
def div_swapped(c):
    x = away_from_zero(c, 2, 3)
    return binop_case(c, "./", x, c.randn(3, 1, 1), torch.div, swap=True)


def mod_operands(c, shape_a, shape_b, dtype=np.float32):
    """Operands whose quotient stays away from integers, so that floor(a/b)
    cannot flip between float32 and float64 arithmetic."""
    while True:
        a = c.uniform(-5, 5, *shape_a, dtype=dtype)
        b = away_from_zero(c, *shape_b, dtype=dtype) * dtype(1.5)
        q = a.astype(np.float64) / b.astype(np.float64)
        fr = q - np.floor(q)
        if np.all((fr > 1e-3) & (fr < 1 - 1e-3)):
            return a, b


@case
def mod_negative(c):
    a, b = mod_operands(c, (3, 4), (4,))
    return binop_case(c, "%", a, b, torch.remainder)


@case
def mod_swapped(c):
    # b % X: X is the divisor
    a, b = mod_operands(c, (2, 3), (2, 3))
    return binop_case(c, "%", b, a, torch.remainder, swap=True)


@case
def pow_attr_2(c):
    x = c.randn(3, 4)
    c.op("^x", ["X"], exponent=2.0)
    return x, f32(torch.pow(T(x), 2.0))


@case
def pow_attr_3_negative_base(c):
    x = c.randn(2, 5)
    c.op("^x", ["X"], exponent=3.0)
    return x, f32(torch.pow(T(x), 3.0))


@case
def pow_attr_half(c):
    x = c.uniform(0.1, 4.0, 3, 4)
    c.op("^x", ["X"], exponent=0.5)
    return x, f32(torch.pow(T(x), 0.5))


@case
def pow_tensor(c):
    x = c.uniform(0.2, 3.0, 2, 3, 4)
    return binop_case(c, "^x", x, c.nice(4, lo=-2.0, hi=2.0), torch.pow)


@case
def pow_tensor_swapped(c):
    # 2-ish bases raised to X
    x = c.uniform(-2.0, 2.0, 2, 3)
    return binop_case(c, "^x", x, c.uniform(0.5, 3.0, 3), torch.pow, swap=True)


def matmul_case(c, xs, ws, dtype=np.float32, swap=False):
    if dtype == np.int32:
        x, w = c.ints(-20, 20, *xs), c.ints(-20, 20, *ws)
    else:
        x, w = c.randn(*xs, dtype=dtype), c.randn(*ws, dtype=dtype)
    return binop_case(c, "*", x, w, torch.matmul, swap=swap, inline=False)


@case
def matmul_2d(c):
    return matmul_case(c, (3, 4), (4, 5))


@case
def matmul_batched_const(c):
    return matmul_case(c, (2, 3, 4), (4, 5))


@case
def matmul_batched_both(c):
    return matmul_case(c, (2, 3, 4), (2, 4, 2))


@case
def matmul_batch_bcast(c):
    return matmul_case(c, (2, 1, 3, 4), (3, 4, 2))


@case
def matmul_vec_mat(c):
    return matmul_case(c, (4,), (4, 3))


@case
def matmul_mat_vec(c):
    return matmul_case(c, (2, 3, 4), (4,))


@case
def matmul_vec_vec(c):
    return matmul_case(c, (5,), (5,))


@case
def matmul_const_left(c):
    # W · X with X batched
    return matmul_case(c, (2, 4, 3), (5, 4), swap=True)


# float64 and int32 variants of the direct ops

@case
def add_f64(c):
    return binop_case(c, "+", c.randn(2, 3, 1, dtype=np.float64), c.randn(4, dtype=np.float64), torch.add)


@case
def sub_f64(c):
    return binop_case(c, "-", c.randn(3, 4, dtype=np.float64), c.randn(4, dtype=np.float64), torch.sub)


@case
def mul_f64(c):
    return binop_case(c, ".*", c.randn(2, 3, dtype=np.float64), c.randn(2, 1, dtype=np.float64), torch.mul)


@case
def div_f64(c):
    return binop_case(c, "./", c.randn(3, 4, dtype=np.float64), away_from_zero(c, 4, dtype=np.float64),
                      torch.div)


@case
def mod_f64(c):
    a, b = mod_operands(c, (3, 4), (3, 1), dtype=np.float64)
    return binop_case(c, "%", a, b, torch.remainder)


@case
def pow_f64_attr(c):
    x = c.uniform(0.1, 3.0, 2, 5, dtype=np.float64)
    c.op("^x", ["X"], exponent=1.5)
    return x, N(torch.pow(T(x), 1.5))


@case
def pow_f64_tensor(c):
    x = c.uniform(0.1, 3.0, 2, 3, dtype=np.float64)
    return binop_case(c, "^x", x, c.uniform(-1.5, 2.5, 2, 3, dtype=np.float64), torch.pow)


@case
def matmul_f64(c):
    return matmul_case(c, (2, 3, 4), (4, 2), dtype=np.float64)


@case
def assign_f64(c):
    x = c.randn(2, 2, dtype=np.float64)
    c.op("=", ["X"])
    return x, x


@case
def add_i32(c):
    return binop_case(c, "+", c.ints(-1000, 1000, 2, 3, 1), c.ints(-1000, 1000, 4), torch.add)


@case
def sub_i32(c):
    return binop_case(c, "-", c.ints(-1000, 1000, 3, 4), c.ints(-1000, 1000, 3, 1), torch.sub)


@case
def mul_i32(c):
    return binop_case(c, ".*", c.ints(-300, 300, 2, 4), c.ints(-300, 300, 4), torch.mul)


@case
def div_i32_trunc(c):
    # truncation toward zero: -7 ./ 2 = -3, 7 ./ -2 = -3
    x = c.ints(-50, 50, 3, 5)
    x[0, :4] = [-7, 7, -7, 7]
    b = np.array([2, -2, -2, 3, -4], np.int32)
    return binop_case(c, "./", x, b, lambda a, d: torch.div(a, d, rounding_mode="trunc"))


@case
def div_i32_swapped(c):
    x = c.ints(1, 9, 2, 3) * np.where(c.rng.random((2, 3)) < 0.5, -1, 1).astype(np.int32)
    return binop_case(c, "./", x, c.ints(-100, 100, 3), lambda a, d: torch.div(a, d, rounding_mode="trunc"),
                      swap=True)


@case
def mod_i32_negative(c):
    # sign of the divisor: -7 % 3 = 2, 7 % -3 = -2, -7 % -3 = -1
    x = c.ints(-50, 50, 3, 4)
    x[0] = [-7, 7, -7, 6]
    b = np.array([3, -3, -3, -3], np.int32)
    return binop_case(c, "%", x, b, torch.remainder)


@case
def matmul_i32(c):
    return matmul_case(c, (2, 3, 4), (4, 3), dtype=np.int32)


# other datatypes: direct ops on 8..64-bit integers, data movement on bytes,
# float16/bfloat16/float64 constants widened for float32 ops

@case
def add_i8(c):
    return binop_case(c, "+", c.ints(-60, 60, 2, 3, dtype=np.int8), c.ints(-60, 60, 3, dtype=np.int8), torch.add)


@case
def sub_u8(c):
    x = c.ints(100, 200, 3, 4, dtype=np.uint8)
    return binop_case(c, "-", x, c.ints(0, 99, 4, dtype=np.uint8), torch.sub)


@case
def mul_i16(c):
    return binop_case(c, ".*", c.ints(-150, 150, 2, 5, dtype=np.int16), c.ints(-150, 150, 2, 1, dtype=np.int16),
                      torch.mul)


@case
def div_i64_trunc(c):
    x = c.ints(-10**12, 10**12, 3, 4, dtype=np.int64)
    b = np.array([7, -3, 1000, -99999], np.int64)
    return binop_case(c, "./", x, b, lambda a, d: torch.div(a, d, rounding_mode="trunc"), inline=False)


@case
def mod_i8_negative(c):
    x = c.ints(-100, 100, 2, 4, dtype=np.int8)
    return binop_case(c, "%", x, np.array([3, -3, 7, -5], np.int8), torch.remainder)


@case
def matmul_i32_vec(c):
    return matmul_case(c, (3, 4), (4,), dtype=np.int32)


@case
def matmul_bcast_left_2d(c):
    # a 2-D a against a batched b: the batch comes from b
    return matmul_case(c, (3, 4), (2, 4, 5))


@case
def permute_uint8(c):
    x = c.ints(0, 255, 2, 3, 4, dtype=np.uint8)
    c.layer("Permute", ["X"], dims=[2, 0, 1])
    return x, np.ascontiguousarray(x.transpose(2, 0, 1))


@case
def concat_int8_neg_dim(c):
    x = c.ints(-128, 127, 2, 1, 3, dtype=np.int8)
    a = c.const("a", c.ints(-128, 127, 2, 2, 3, dtype=np.int8))
    c.layer("Concat", ["X", "a", "X"], dim=-2)
    return x, np.concatenate([x, a, x], axis=-2)


@case
def pad_replicate_int16(c):
    return pad_case(c, c.ints(-999, 999, 2, 3, 4, dtype=np.int16), [1, 1, 2, 0], mode="replicate")


@case
def reshape_flat(c):
    x = c.ints(-5, 5, 2, 3, 2, dtype=np.int64)
    c.layer("Reshape", ["X"], shape=[-1])
    return x, x.reshape(-1)


@case
def linear_float16_weight(c):
    x = c.randn(2, 6)
    w = c.const("weight", c.randn(3, 6, scale=0.5).astype(np.float16), inline=False)
    b = c.const("bias", c.nice(3).astype(np.float16), inline=False)
    c.layer("Linear", ["X", "weight", "bias"])
    return x, f32(F.linear(T(x), T(w), T(b)))


@case
def conv2d_bfloat16_weight(c):
    x = c.randn(1, 2, 5, 5)
    w = c.const_bf16("weight", c.randn(3, 2, 3, 3, scale=0.5))
    c.layer("Conv2d", ["X", "weight"], padding=1)
    return x, f32(F.conv2d(T(x), T(w), padding=1))


@case
def batchnorm2d_float64_params(c):
    x = c.randn(1, 2, 3, 3)
    w, b = c.const("weight", c.randn(2, dtype=np.float64)), c.const("bias", c.randn(2, dtype=np.float64))
    m, v = c.const("mean", c.randn(2, dtype=np.float64)), c.const("var", c.uniform(0.5, 2, 2, dtype=np.float64))
    c.layer("BatchNorm2d", ["X", "weight", "bias", "mean", "var"])
    # widened to float32 first (ops.def: float64 constants of float ops are widened)
    w, b, m, v = (a.astype(np.float32) for a in (w, b, m, v))
    return x, f32(F.batch_norm(T(x), T(m), T(v), T(w), T(b), False, 0.0, 1e-5))


# exactness and IEEE special values

@case
def i64_beyond_2p53(c):
    # int64 arithmetic must be exact beyond 2^53 (no detour through double)
    x = np.array([2**60 + 1, -(2**62) + 3, 2**53 + 1, 2**63 - 2**34 - 10], np.int64)
    c.const("b", np.array([2, 1, 2, 9], np.int64))
    c.op("+", ["X", "b"], "s")
    c.const("m", np.array([1000000007, 3, 2**40 + 1, -(2**33)], np.int64), inline=False)
    c.op("%", ["s", "m"], "r")
    c.op("-", ["s", "r"])
    s_ = T(x) + T(np.array([2, 1, 2, 9]))
    r = torch.remainder(s_, T(np.array([1000000007, 3, 2**40 + 1, -(2**33)])))
    return x, N(s_ - r).astype(np.int64)


@case
def i64_matmul_exact(c):
    x = np.array([[2**55 + 3, 1, -(2**54) - 1]], np.int64)
    c.const("w", np.array([[1, 2], [5, 7], [1, 0]], np.int64))
    c.op("*", ["X", "w"])
    return x, N(torch.matmul(T(x), T(np.array([[1, 2], [5, 7], [1, 0]])))).astype(np.int64)


@case
def div_float_by_zero_nonfinite(c):
    # floats follow IEEE: ±inf and NaN (only integer division by zero is an error)
    c.nonfinite = True
    x = np.array([1.0, -1.0, 0.0, 5.0, 2.5], np.float32)
    return binop_case(c, "./", x, np.array([0.0, 0.0, 0.0, -0.0, 0.5], np.float32), torch.div)


@case
def mod_float_by_zero_nonfinite(c):
    # a - floor(a / 0)·0 is NaN; integer modulo by zero is an error instead
    c.nonfinite = True
    x = np.array([1.0, -1.0, 0.0, 5.0], np.float32)
    return binop_case(c, "%", x, np.array([0.0, 0.0, 0.0, 2.0], np.float32), torch.remainder)


@case
def pow_edge_nonfinite(c):
    # 0^0 = 1, negative base to a fractional power is NaN, 0^-1 = inf, (-2)^3 = -8
    c.nonfinite = True
    x = np.array([0.0, -8.0, -2.0, 0.0, -2.0, 1.0], np.float32)
    return binop_case(c, "^x", x, np.array([0.0, 0.5, 0.25, -1.0, 3.0, 1e9], np.float32), torch.pow)


# more shapes

@case
def linear_1d(c):
    x = c.randn(5)
    w = c.const("weight", c.randn(3, 5))
    b = c.const("bias", c.nice(3))
    c.layer("Linear", ["X", "weight", "bias"])
    return x, f32(F.linear(T(x), T(w), T(b)))


@case
def add_bcast_both(c):
    return binop_case(c, "+", c.randn(3, 1, 5), c.randn(4, 1), torch.add)


@case
def softmax_rank1(c):
    return unary_case(c, "Softmax", lambda t: F.softmax(t, 0), shape=(7,), dim=0)


@case
def avgpool1d_ceil_rule(c):
    # as maxpool1d_ceil: the 5th window would start in the end padding
    return pool_case(c, "avg", (1, 2, 7), kernel_size=2, stride=2, padding=1, ceil_mode=True)


@case
def conv1d_same_s2_dil2(c):
    return conv_case(c, (1, 2, 10), (3, 2, 3), stride=2, padding="same", dilation=2,
                     attrs={"stride": 2, "padding": "same", "dilation": 2})


@case
def conv1d_asym_pad_s3(c):
    return conv_case(c, (2, 2, 11), (2, 2, 4), stride=3, padding=[0, 3], attrs={"stride": 3, "padding": [0, 3]})


@case
def flatten_noop_rank2(c):
    x = c.randn(3, 4)
    c.layer("Flatten", ["X"])
    return x, x


# ---- chains and several blocks -----------------------------------------------

@case
def chain_conv_bn_relu_linear(c):
    x = c.randn(1, 2, 6, 6)
    w = c.const("w", c.randn(3, 2, 3, 3, scale=0.5))
    c.layer("Conv2d", ["X", "w"], "h1", stride=2, padding=1)
    g, b, m, v = (c.const("g", c.nice(3, lo=0.5, hi=1.5)), c.const("bb", c.nice(3)),
                  c.const("m", c.nice(3)), c.const("v", c.nice(3, lo=0.3, hi=2.0)))
    c.layer("BatchNorm2d", ["h1", "g", "bb", "m", "v"], "h2")
    c.layer("ReLU", ["h2"], "Y")
    h = F.relu(F.batch_norm(F.conv2d(T(x), T(w), stride=2, padding=1), T(m), T(v), T(g), T(b), False, 0, 1e-5))
    c.next_block(f32(h))
    c.layer("Flatten", ["X"], "f")
    lw = c.const("lw", c.randn(4, 27, scale=0.3))
    lb = c.const("lb", c.nice(4))
    c.layer("Linear", ["f", "lw", "lb"], "z")
    c.layer("Softmax", ["z"], "Y")
    # the C interpreter stores h in float32 between blocks: so does the reference
    h32 = T(f32(h))
    y = F.softmax(F.linear(h32.flatten(1), T(lw), T(lb)), -1)
    return x, f32(y)


@case
def chain_pad_conv(c):
    # an explicit zero Pad whose only reader is a conv: folded into the conv's own (asymmetric) padding
    x = c.randn(1, 2, 9, 10)
    w = c.const("w", c.randn(3, 2, 3, 3, scale=0.5))
    c.layer("Pad", ["X"], "p", pads=[2, 0, 1, 3])
    c.layer("Conv2d", ["p", "w"], "Y", stride=2, dilation=2, padding=[0, 1, 1, 0])
    xp = N(F.pad(T(x), [2, 0, 1, 3]))
    return x, f32(conv_ref(xp, w, None, 2, [0, 1, 1, 0], 2, 1))


@case
def chain_pad_conv1d_depthwise(c):
    x = c.randn(1, 3, 12)
    w = c.const("w", c.randn(3, 1, 5, scale=0.5))
    b = c.const("b", c.nice(3))
    c.layer("Pad", ["X"], "p", pads=[3, 1])
    c.layer("Conv1d", ["p", "w", "b"], "Y", stride=2, groups=3, padding=1)
    xp = N(F.pad(T(x), [3, 1]))
    return x, f32(conv_ref(xp, w, b, 2, 1, 1, 3))


@case
def chain_pad_avgpool(c):
    # zero Pad before an avg pool counting its padding: folded (the divisor is the window clipped to the
    # padded extent either way)
    x = c.randn(1, 2, 7, 8)
    c.layer("Pad", ["X"], "p", pads=[1, 2, 0, 1])
    c.layer("AvgPool2d", ["p"], "Y", kernel_size=3, stride=2, padding=1, ceil_mode=True)
    xp = N(F.pad(T(x), [1, 2, 0, 1]))
    return x, f32(pool_ref(xp, "avg", [3, 3], [2, 2], 1, 1, True, True))


@case
def chain_pad_kept(c):
    # not folded: a non-zero fill before a conv, and a Pad read twice; lowered as fill + copy
    x = c.randn(1, 2, 5, 6)
    w = c.const("w", c.randn(2, 2, 3, 3, scale=0.5))
    c.layer("Pad", ["X"], "p", pads=[1, 1, 2, 0], value=0.5)
    c.layer("Conv2d", ["p", "w"], "q")
    c.layer("Pad", ["X"], "r", pads=[1, 1, 2, 0])
    c.layer("Conv2d", ["r", "w"], "s")
    c.op("+", ["r", "r"], "t")
    c.layer("Flatten", ["q"], "fq")
    c.layer("Flatten", ["s"], "fs")
    c.layer("Flatten", ["t"], "ft")
    c.layer("Concat", ["fq", "fs", "ft"], "Y", dim=1)
    xp = N(F.pad(T(x), [1, 1, 2, 0], value=0.5))
    xr = N(F.pad(T(x), [1, 1, 2, 0]))
    q = conv_ref(xp, w, None, 1, 0, 1, 1)
    s2 = conv_ref(xr, w, None, 1, 0, 1, 1)
    return x, f32(torch.cat([T(N(q)).flatten(1), T(N(s2)).flatten(1), T(xr + xr).flatten(1)], 1))


@case
def chain_declared_intermediate(c):
    # a declared activation tensor (no data) written by an op
    x = c.randn(2, 3)
    c.raw({"type": "Tensor", "name": "h", "shape": [2, 3], "datatype": "float32"})
    c.layer("Tanh", ["X"], "h")
    c.op("+", ["h", "X"], "Y")
    return x, f32(torch.tanh(T(x)) + T(x))


# ---- error cases: models nnl-run must reject ---------------------------------

@error
def e_conv_groups_not_dividing(c):
    x = c.randn(1, 3, 5, 5)
    c.const("w", c.randn(4, 1, 3, 3))
    c.layer("Conv2d", ["X", "w"], groups=2)
    return x, [1, 4, 3, 3], "multiple of groups"


@error
def e_conv_wrong_weight_shape(c):
    x = c.randn(1, 3, 5, 5)
    c.const("w", c.randn(4, 2, 3, 3))
    c.layer("Conv2d", ["X", "w"])
    return x, [1, 4, 3, 3], "weight"


@error
def e_linear_in_features(c):
    x = c.randn(2, 5)
    c.const("w", c.randn(3, 4))
    c.layer("Linear", ["X", "w"])
    return x, [2, 3], "weight"


@error
def e_bad_broadcast(c):
    x = c.randn(2, 3)
    c.const("b", c.randn(4))
    c.op("+", ["X", "b"])
    return x, [2, 3], "broadcast"


@error
def e_bad_reshape(c):
    x = c.randn(2, 3)
    c.layer("Reshape", ["X"], shape=[4, 2])
    return x, [4, 2], "cannot reshape"


@error
def e_reshape_two_neg1(c):
    x = c.randn(2, 3)
    c.layer("Reshape", ["X"], shape=[-1, -1])
    return x, [2, 3], "-1"


@error
def e_int_division_by_zero(c):
    # the divisor is computed at run time (X - X), so only evaluation can see it
    x = c.ints(1, 9, 2, 3)
    c.op("-", ["X", "X"], "z")
    c.op("./", ["X", "z"])
    return x, [2, 3], "division by zero"


@error
def e_int_modulo_by_zero(c):
    x = c.ints(1, 9, 4)
    c.op("-", ["X", "X"], "z")
    c.op("%", ["X", "z"])
    return x, [4], "modulo by zero"


@error
def e_pool_kernel_too_large(c):
    x = c.randn(1, 1, 3, 3)
    c.layer("MaxPool2d", ["X"], kernel_size=5)
    return x, [1, 1, 1, 1], "kernel"


@error
def e_pool_missing_kernel_size(c):
    x = c.randn(1, 1, 4, 4)
    c.layer("AvgPool2d", ["X"], stride=2)
    return x, [1, 1, 2, 2], "kernel_size"


@error
def e_float_op_on_int32(c):
    x = c.ints(-3, 3, 2, 3)
    c.layer("ReLU", ["X"])
    return x, [2, 3], "expected float32"


@error
def e_matmul_inner_mismatch(c):
    x = c.randn(3, 4)
    c.const("w", c.randn(5, 2))
    c.op("*", ["X", "w"])
    return x, [3, 2], "cannot be multiplied"


@error
def e_concat_mismatch(c):
    x = c.randn(2, 3)
    c.const("a", c.randn(3, 3))
    c.layer("Concat", ["X", "a"], dim=1)
    return x, [2, 6], "Concat"


@error
def e_permute_not_permutation(c):
    x = c.randn(2, 3, 4)
    c.layer("Permute", ["X"], dims=[0, 1, 1])
    return x, [2, 3, 3], "dims"


@error
def e_pad_reflect_too_large(c):
    x = c.randn(1, 2, 3)
    c.layer("Pad", ["X"], pads=[3, 0], mode="reflect")
    return x, [1, 2, 6], "reflect"


@error
def e_unknown_op(c):
    x = c.randn(1, 2, 3, 3, 3)
    c.layer("Conv3d", ["X"])
    return x, [1, 2, 3, 3, 3], "Conv3d"


@error
def e_undefined_tensor(c):
    x = c.randn(2, 3)
    c.op("+", ["X", "nowhere"])
    return x, [2, 3], "nowhere"


@error
def e_weight_file_wrong_size(c):
    x = c.randn(2, 4)
    c.const("w", c.randn(3, 4))
    c.bins["w.bin"] = c.bins["w.bin"][:-4]
    c.layer("Linear", ["X", "w"])
    return x, [2, 3], "w.bin is 44 bytes"


@error
def e_weight_path_escapes(c):
    x = c.randn(2, 4)
    c.raw({"type": "Tensor", "name": "w", "shape": [3, 4], "datatype": "float32", "data": "../../x.bin"})
    c.layer("Linear", ["X", "w"])
    return x, [2, 3], "../../x.bin"


@error
def e_declared_output_mismatch(c):
    x = c.randn(2, 3)
    c.raw({"type": "Tensor", "name": "h", "shape": [3, 2], "datatype": "float32"})
    c.layer("Tanh", ["X"], "h")
    c.op("=", ["h"])
    return x, [3, 2], "declared"


@error
def e_output_shape_header(c):
    x = c.randn(2, 3)
    c.layer("ReLU", ["X"])
    return x, [3, 2], "output_shape"


@error
def e_groups_out_channels(c):
    # C = 4 divisible by groups = 2, but O = 3 is not
    x = c.randn(1, 4, 5)
    c.const("w", c.randn(3, 2, 3))
    c.layer("Conv1d", ["X", "w"], groups=2)
    return x, [1, 3, 3], "groups"


@error
def e_gelu_bad_approximate(c):
    x = c.randn(2, 3)
    c.layer("GELU", ["X"], approximate="fast")
    return x, [2, 3], "approximate"


@error
def e_softmax_dim_out_of_range(c):
    x = c.randn(2, 3)
    c.layer("Softmax", ["X"], dim=2)
    return x, [2, 3], "dim"


@error
def e_prelu_weight_count(c):
    x = c.randn(2, 3, 4)
    c.const("w", np.array([0.1, 0.2], np.float32))
    c.layer("PReLU", ["X", "w"])
    return x, [2, 3, 4], "weight"


@error
def e_pow_int32(c):
    x = c.ints(1, 3, 2, 2)
    c.op("^x", ["X"], exponent=2.0)
    return x, [2, 2], "is int32"


@error
def e_input_wrong_shape(c):
    x = c.randn(2, 3)
    c.layer("ReLU", ["X"])
    c.input_file = c.randn(3, 2)
    return x, [2, 3], "expected the model's input shape"


@error
def e_input_wrong_datatype(c):
    x = c.randn(2, 3)
    c.layer("Identity", ["X"])
    c.input_file = c.randn(2, 3, dtype=np.float64)
    return x, [2, 3], "expected the model's input datatype"


@error
def e_float64_into_float_op(c):
    # float64 is fine for direct ops and as a constant of a float op, not as its activation input
    x = c.randn(2, 4, dtype=np.float64)
    c.const("w", c.randn(3, 4))
    c.layer("Linear", ["X", "w"])
    return x, [2, 3], "is float64"


@error
def e_mixed_datatypes(c):
    x = c.randn(2, 3)
    c.const("b", c.randn(3, dtype=np.float64))
    c.op("+", ["X", "b"])
    return x, [2, 3], "share one datatype"


@error
def e_int_division_by_zero_const(c):
    x = c.ints(-9, 9, 2, 3)
    c.const("b", np.array([1, 0, 2], np.int32))
    c.op("./", ["X", "b"])
    return x, [2, 3], "division by zero"


@error
def e_conv_stride_zero(c):
    x = c.randn(1, 1, 5)
    c.const("w", c.randn(1, 1, 3))
    c.layer("Conv1d", ["X", "w"], stride=0)
    return x, [1, 1, 3], "stride"


@error
def e_adaptive_output_zero(c):
    x = c.randn(1, 2, 5)
    c.layer("AdaptiveAvgPool1d", ["X"], output_size=0)
    return x, [1, 2, 1], "output_size"


# ---- writing -------------------------------------------------------------------

def write_npy(path, arr):
    arr = np.array(arr, order="C")  # not ascontiguousarray: it turns rank 0 into rank 1
    np.save(path, arr.astype(arr.dtype.newbyteorder("<")), allow_pickle=False)


def write_case(dirpath, name, c, model, arrays, expect=None):
    os.makedirs(os.path.join(dirpath, name), exist_ok=True)
    with open(os.path.join(dirpath, name + ".json"), "w") as f:
        f.write(dump_model(model))
    for fname, data in sorted(c.bins.items()):
        with open(os.path.join(dirpath, name, fname), "wb") as f:
            f.write(data)
    for fname, arr in arrays.items():
        write_npy(os.path.join(dirpath, name, fname), arr)
    if expect is not None:
        with open(os.path.join(dirpath, name + ".expect"), "w") as f:
            f.write(expect + "\n")


def generate(out):
    for sub in ("cases", "errors"):
        p = os.path.join(out, sub)
        if os.path.isdir(p):
            shutil.rmtree(p)
        os.makedirs(p)
    for name, fn in CASES.items():
        c = Case(name)
        x, y = fn(c)
        y = np.asarray(y)
        if x.dtype.kind == "f" and y.dtype != x.dtype and y.dtype.kind == "f":
            y = y.astype(x.dtype)
        assert c.nonfinite or y.dtype.kind != "f" or np.all(np.isfinite(y)), name
        model = c.model(x, y.shape, DTNAME[y.dtype])
        write_case(os.path.join(out, "cases"), name, c, model, {"input.npy": x, "expected.npy": y})
    for name, fn in ERRORS.items():
        c = Case(name)
        x, y_shape, expect = fn(c)
        dt = DTNAME[x.dtype]
        model = c.model(x, y_shape, dt)
        inp = x if c.input_file is None else c.input_file
        write_case(os.path.join(out, "errors"), name, c, model, {"input.npy": inp}, expect)
    return len(CASES), len(ERRORS)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="directory that receives cases/ and errors/ (default: test/ops)")
    args = ap.parse_args()
    n, m = generate(args.out)
    print(f"wrote {n} cases and {m} error cases under {args.out}")


if __name__ == "__main__":
    sys.exit(main())
