#!/usr/bin/python3
"""ctest quant_ref: the interpreter's integer kernels against an independent
numpy implementation of the same TFLite formulas (docs/quantization.md),
bit for bit.

  ref.py NNL_RUN WORKDIR

Each case is a small model: X (float32) -> Quantize -> one quantized op ->
Y (int8/int16), with random weights and quantization; nnl-run's output must
equal the numpy result exactly.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np

RNG = np.random.default_rng(6)


# ---- TFLite primitives (numpy int64, vectorised) ----------------------------
def quantize_multiplier(m):
    if m == 0:
        return 0, 0
    q, sh = math.frexp(m)
    qf = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)
    if qf == 1 << 31:
        qf //= 2
        sh += 1
    if sh < -31:
        return 0, 0
    return qf, sh


def srdhm(a, b):
    ab = a.astype(np.int64) * np.int64(b)
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    # C division truncates toward zero
    q = np.where(s >= 0, s // (1 << 31), -((-s) // (1 << 31)))
    return q.astype(np.int64)


def rdbypot(x, e):
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (x < 0)
    return (x >> e) + (rem > thr)


def mbqm(x, qm, sh):
    left, right = max(sh, 0), max(-sh, 0)
    xs = ((x.astype(np.int64) << left) + (1 << 31)) % (1 << 32) - (1 << 31)
    return rdbypot(srdhm(xs, qm), right)


def mbqm64(x, qm, sh):
    red = (qm + (1 << 15)) >> 16 if qm < 0x7FFF0000 else 0x7FFF
    total = 15 - sh
    return (x.astype(np.int64) * red + (1 << (total - 1))) >> total


def quantize(x, s, zp, lo, hi):
    v = (x.astype(np.float32) / np.float32(s)).astype(np.float64)
    r = np.sign(v) * np.floor(np.abs(v) + 0.5)
    return np.clip(r + zp, lo, hi).astype(np.int64)


def round_div(s, c):
    return np.where(s > 0, (s + c // 2) // c, -((-s + c // 2) // c))


def f32(v):
    return float(np.float32(v))


# ---- model writing ------------------------------------------------------------
def run(nnl_run, work, name, x, layers, out_dt, out_shape, xq):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    lay = [{"type": "Tensor", "name": "xq", "shape": list(x.shape), "datatype": xq[2],
            "quantization": {"scale": xq[0], "zero_point": xq[1]}},
           {"type": "Layer", "name": "Quantize", "tensor_input": "X", "tensor_output": "xq",
            "attributes": {"datatype": xq[2]}}] + layers
    m = {"type": "Model", "name": name, "input_shape": list(x.shape), "input_datatype": "float32",
         "output_shape": list(out_shape), "output_datatype": out_dt,
         "blocks": [{"type": "Block", "name": "b", "input_shape": list(x.shape), "input_datatype": "float32",
                     "output_shape": list(out_shape), "output_datatype": out_dt, "layers": lay}]}
    json.dump(m, open(os.path.join(d, "model.json"), "w"))
    np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
    subprocess.run([nnl_run, os.path.join(d, "model.json"), "--input", os.path.join(d, "x.npy"), "-o",
                    os.path.join(d, "y.npy")], check=True)
    return np.load(os.path.join(d, "y.npy")).astype(np.int64)


def const(name, arr, dt, scale=None, axis=None):
    t = {"type": "Tensor", "name": name, "shape": list(arr.shape), "datatype": dt,
         "value": [int(v) for v in arr.reshape(-1)]}
    if scale is not None:
        t["quantization"] = {"scale": scale if len(scale) > 1 else scale[0],
                             "zero_point": [0] * len(scale) if len(scale) > 1 else 0}
        if len(scale) > 1:
            t["quantization"]["axis"] = axis
    return t


def act(name, shape, dt, s, zp):
    return {"type": "Tensor", "name": name, "shape": list(shape), "datatype": dt,
            "quantization": {"scale": s, "zero_point": zp}}


def conv_ref(xq, zx, w, b, sx, sw, sy, zy, stride, pad, groups, lo, hi, wide):
    N, C, H, W = xq.shape
    O, Cg, KH, KW = w.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), np.int64) + zx
    xp[:, :, pad:pad + H, pad:pad + W] = xq
    OH, OW = (H + 2 * pad - KH) // stride + 1, (W + 2 * pad - KW) // stride + 1
    y = np.zeros((N, O, OH, OW), np.int64)
    Og = O // groups
    for o in range(O):
        g = o // Og
        acc = np.zeros((N, OH, OW), np.int64)
        for c in range(Cg):
            for ky in range(KH):
                for kx in range(KW):
                    patch = xp[:, g * Cg + c, ky:ky + stride * OH:stride, kx:kx + stride * OW:stride]
                    acc += w[o, c, ky, kx] * (patch - zx)
        acc += b[o]
        qm, sh = quantize_multiplier(sx * sw[o if len(sw) > 1 else 0] / sy)
        r = mbqm64(acc, qm, sh) if wide else mbqm(acc, qm, sh)
        y[:, o] = np.clip(r + zy, lo, hi)
    return y


def main():
    nnl_run, work = sys.argv[1:3]
    fails = 0

    def check(name, got, want):
        nonlocal fails
        ok = got.shape == want.shape and np.array_equal(got, want)
        fails += not ok
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else " max diff %s" % np.max(np.abs(got - want))))

    # conv2d int8 per channel, stride 2, padding 1, and depthwise; int16x8; int4 weights
    for name, C, O, groups, dt, wdt, bdt in [("conv_int8", 3, 4, 1, "int8", "int8", "int32"),
                                             ("conv_dw_int8", 4, 4, 4, "int8", "int8", "int32"),
                                             ("conv_int16x8", 3, 4, 1, "int16", "int8", "int64"),
                                             ("conv_int4", 3, 4, 1, "int8", "int4", "int32")]:
        x = RNG.normal(0, 1, (1, C, 7, 6)).astype(np.float32)
        wmax = 7 if wdt == "int4" else 127
        w = RNG.integers(-wmax, wmax + 1, (O, C // groups, 3, 3))
        b = RNG.integers(-3000, 3000, O)
        wide = dt == "int16"
        lo, hi = (-32768, 32767) if wide else (-128, 127)
        sx, zx = (f32(4 / 32767), 0) if wide else (f32(6 / 255), -3)
        sy, zy = (f32(40 / 32767), 0) if wide else (f32(0.2), 5)
        sw = [f32(v) for v in RNG.uniform(0.002, 0.02, O)]
        layers = [const("w", w, wdt, sw, 0), const("b", b, bdt), act("Y", (1, O, 4, 3), dt, sy, zy),
                  {"type": "Layer", "name": "Conv2d", "tensor_input": ["xq", "w", "b"], "tensor_output": "Y",
                   "attributes": {"stride": 2, "padding": 1, "groups": groups}}]
        got = run(nnl_run, work, name, x, layers, dt, (1, O, 4, 3), (sx, zx, dt))
        xq = quantize(x, sx, zx, lo, hi)
        check(name, got, conv_ref(xq, zx, w, b, sx, sw, sy, zy, 2, 1, groups, lo, hi, wide))

    # linear int8 per tensor
    x = RNG.normal(0, 1, (2, 9)).astype(np.float32)
    w = RNG.integers(-127, 128, (5, 9))
    b = RNG.integers(-500, 500, 5)
    sx, zx, sy, zy, sw = f32(5 / 255), 10, f32(0.05), -7, [f32(0.01)]
    layers = [const("w", w, "int8", sw), const("b", b, "int32"), act("Y", (2, 5), "int8", sy, zy),
              {"type": "Layer", "name": "Linear", "tensor_input": ["xq", "w", "b"], "tensor_output": "Y"}]
    got = run(nnl_run, work, "linear", x, layers, "int8", (2, 5), (sx, zx, "int8"))
    xq = quantize(x, sx, zx, -128, 127)
    qm, sh = quantize_multiplier(sx * sw[0] / sy)
    check("linear", got, np.clip(mbqm((xq - zx) @ w.T + b, qm, sh) + zy, -128, 127))

    # pools (same quantization in and out)
    x = RNG.normal(0, 1, (1, 2, 5, 5)).astype(np.float32)
    sx, zx = f32(4 / 255), -20
    xq = quantize(x, sx, zx, -128, 127)
    for name, op, attrs in [("maxpool", "MaxPool2d", {"kernel_size": 2, "stride": 2}),
                            ("avgpool_pad", "AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1})]:
        layers = [act("Y", (1, 2, 2 if op == "MaxPool2d" else 3, 2 if op == "MaxPool2d" else 3), "int8", sx, zx),
                  {"type": "Layer", "name": op, "tensor_input": "xq", "tensor_output": "Y", "attributes": attrs}]
        shp = (1, 2, 2, 2) if op == "MaxPool2d" else (1, 2, 3, 3)
        got = run(nnl_run, work, name, x, layers, "int8", shp, (sx, zx, "int8"))
        want = np.zeros(shp, np.int64)
        for oy in range(shp[2]):
            for ox in range(shp[3]):
                if op == "MaxPool2d":
                    want[:, :, oy, ox] = xq[:, :, 2 * oy:2 * oy + 2, 2 * ox:2 * ox + 2].max(axis=(2, 3))
                else:
                    y0, x0 = 2 * oy - 1, 2 * ox - 1
                    win = xq[:, :, max(y0, 0):min(y0 + 3, 5), max(x0, 0):min(x0 + 3, 5)]
                    cnt = (min(y0 + 3, 6) - y0) * (min(x0 + 3, 6) - x0)  # count_include_pad: clipped to padded input
                    s = win.sum(axis=(2, 3)) + (cnt - win.shape[2] * win.shape[3]) * zx
                    want[:, :, oy, ox] = np.clip(round_div(s, cnt), -128, 127)
        check(name, got, want)

    # add (TFLite quantized add, left shift 20) and ReLU clamp
    x = RNG.normal(0, 1, (1, 3, 4)).astype(np.float32)
    sx, zx, sy, zy = f32(5 / 255), 3, f32(7 / 255), -10
    layers = [act("r", (1, 3, 4), "int8", sx, zx),
              {"type": "Layer", "name": "ReLU", "tensor_input": "xq", "tensor_output": "r"},
              act("Y", (1, 3, 4), "int8", sy, zy), {"type": "+", "tensor_input": ["xq", "r"], "tensor_output": "Y"}]
    got = run(nnl_run, work, "add_relu", x, layers, "int8", (1, 3, 4), (sx, zx, "int8"))
    xq = quantize(x, sx, zx, -128, 127)
    rq = np.maximum(xq, zx)
    twice = 2 * max(sx, sx)
    m1, s1 = quantize_multiplier(sx / twice)
    my, sy_ = quantize_multiplier(twice / ((1 << 20) * sy))
    raw = mbqm((xq - zx) << 20, m1, s1) + mbqm((rq - zx) << 20, m1, s1)
    check("add_relu", got, np.clip(mbqm(raw, my, sy_) + zy, -128, 127))

    # concat with requantization of the second input
    x = RNG.normal(0, 1, (1, 2, 3)).astype(np.float32)
    sx, zx, sy, zy = f32(5 / 255), 3, f32(9 / 255), -1
    layers = [act("Y", (1, 4, 3), "int8", sy, zy),
              {"type": "Layer", "name": "Concat", "tensor_input": ["xq", "xq"], "tensor_output": "Y",
               "attributes": {"dim": 1}}]
    got = run(nnl_run, work, "concat", x, layers, "int8", (1, 4, 3), (sx, zx, "int8"))
    xq = quantize(x, sx, zx, -128, 127)
    qm, sh = quantize_multiplier(sx / sy)
    r = np.clip(mbqm(xq - zx, qm, sh) + zy, -128, 127)
    check("concat", got, np.concatenate([r, r], axis=1))
    print("%d failure(s)" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
