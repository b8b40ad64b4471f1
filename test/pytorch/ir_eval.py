"""A small independent checker for the JSON model IR, used by test_export.py.

validate(path) checks the format rules (types, known keys, X/Y, define before
use, produce once, weight files inside the folder with the exact byte size)
and run(path, x) evaluates the model with torch ops, so the exporter can be
tested numerically even without the C interpreter (nnl-run).
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

DT = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
      "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32, "int16": torch.int16,
      "int8": torch.int8, "uint8": torch.uint8, "int1": torch.bool, "bool": torch.bool}
NP = {"float64": "<f8", "float32": "<f4", "float16": "<f2", "int64": "<i8", "int32": "<i4",
      "int16": "<i2", "int8": "i1", "uint8": "u1", "bool": "u1", "int1": "u1"}
DIRECT = {"=", "+", "-", ".*", "*", "./", "%", "^x"}
MODEL_KEYS = {"type", "name", "input_shape", "input_datatype", "output_shape", "output_datatype",
              "blocks", "comment"}
BLOCK_KEYS = MODEL_KEYS - {"blocks"} | {"layers"}
TENSOR_KEYS = {"type", "name", "shape", "datatype", "data", "value", "quantization", "comment"}
LAYER_KEYS = {"type", "name", "id", "tensor_input", "tensor_output", "attributes", "comment"}
DIRECT_KEYS = LAYER_KEYS - {"name"}


def _ops_def():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "ir", "ops.def")
    names = set()
    if os.path.exists(path):
        import re
        for m in re.finditer(r'^OP\(\w+,\s*"([^"]+)"', open(path).read(), re.M):
            names.add(m.group(1))
    return names


OPS = _ops_def()


class Invalid(Exception):
    pass


def _ins(e):
    ti = e["tensor_input"]
    return [ti] if isinstance(ti, str) else list(ti)


def validate(path):
    root = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        m = json.load(f)

    def need(cond, msg):
        if not cond:
            raise Invalid(msg)

    need(m.get("type") == "Model", "type != Model")
    need(set(m) <= MODEL_KEYS, f"unknown model keys {set(m) - MODEL_KEYS}")
    for k in MODEL_KEYS - {"comment"}:
        need(k in m, f"model lacks {k}")
    need(len(m["blocks"]) >= 1, "no blocks")
    prev = (m["input_shape"], m["input_datatype"])
    for bi, b in enumerate(m["blocks"]):
        where = f"blocks[{bi}] ({b.get('name')})"
        need(b.get("type") == "Block", f"{where}: type != Block")
        need(set(b) <= BLOCK_KEYS, f"{where}: unknown keys {set(b) - BLOCK_KEYS}")
        need((b["input_shape"], b["input_datatype"]) == prev, f"{where}: input does not match previous output")
        prev = (b["output_shape"], b["output_datatype"])
        defined = {"X"}
        produced = set()
        for li, e in enumerate(b["layers"]):
            w = f"{where}.layers[{li}]"
            t = e.get("type")
            if t == "Tensor":
                need(set(e) <= TENSOR_KEYS, f"{w}: unknown keys {set(e) - TENSOR_KEYS}")
                need(e["name"] not in ("X",), f"{w}: X declared")
                need(e["datatype"] in NP, f"{w}: datatype {e['datatype']}")
                need(not ("data" in e and "value" in e), f"{w}: data and value")
                if "data" in e:
                    p = os.path.normpath(os.path.join(root, e["data"]))
                    need(p.startswith(root + os.sep), f"{w}: data escapes the folder")
                    need(os.path.isfile(p), f"{w}: missing {e['data']}")
                    n = int(np.prod(e["shape"])) if e["shape"] else 1
                    need(os.path.getsize(p) == n * np.dtype(NP[e["datatype"]]).itemsize,
                         f"{w}: {e['data']} has the wrong size")
                    need(e["name"] not in defined, f"{w}: '{e['name']}' defined twice")
                    defined.add(e["name"])
                elif "value" in e:
                    v = e["value"]
                    if e["shape"] == []:
                        need(isinstance(v, (int, float)), f"{w}: scalar value")
                    else:
                        need(isinstance(v, list) and len(v) == int(np.prod(e["shape"])), f"{w}: value length")
                    need(e["name"] not in defined, f"{w}: '{e['name']}' defined twice")
                    defined.add(e["name"])
                continue
            if t == "Layer":
                need(set(e) <= LAYER_KEYS, f"{w}: unknown keys {set(e) - LAYER_KEYS}")
                need(not OPS or e["name"] in OPS, f"{w}: op '{e['name']}' not in ops.def")
            else:
                need(t in DIRECT, f"{w}: unknown type {t}")
                need(set(e) <= DIRECT_KEYS, f"{w}: unknown keys {set(e) - DIRECT_KEYS}")
            for i in _ins(e):
                need(i in defined, f"{w}: input '{i}' used before it is defined")
            o = e["tensor_output"]
            need(o not in defined and o != "X", f"{w}: output '{o}' produced twice")
            defined.add(o)
            produced.add(o)
        need("Y" in produced, f"{where}: Y is not produced")
    need(prev == (m["output_shape"], m["output_datatype"]), "model output does not match the last block")
    return m


def _load(root, e):
    if "data" in e:
        raw = np.fromfile(os.path.join(root, e["data"]), dtype=NP[e["datatype"]])
        return torch.from_numpy(raw.reshape(e["shape"]).copy()).to(DT[e["datatype"]])
    return torch.tensor(e["value"], dtype=DT[e["datatype"]]).reshape(e["shape"])


def _pad_arg(p, nd):
    """ops.def PAD/INTS padding -> (F.pad list or None, symmetric padding)."""
    if isinstance(p, str):
        raise NotImplementedError("string padding")
    p = [p] * nd if isinstance(p, int) else list(p)
    if len(p) == nd:
        return None, p
    begin, end = p[:nd], p[nd:]
    fp = []
    for b, e in zip(reversed(begin), reversed(end)):
        fp += [b, e]
    return fp, [0] * nd


def _layer(name, x, a):
    nd = 2 if name.endswith("2d") else 1
    if name in ("Conv1d", "Conv2d"):
        inp = x[0]
        fp, sym = _pad_arg(a.get("padding", 0), nd)
        if fp:
            inp = F.pad(inp, fp)
        f = F.conv2d if nd == 2 else F.conv1d
        return f(inp, x[1], x[2] if len(x) > 2 else None, a.get("stride", 1), sym,
                 a.get("dilation", 1), a.get("groups", 1))
    if name == "Linear":
        return F.linear(x[0], x[1], x[2] if len(x) > 2 else None)
    if name.startswith("BatchNorm"):
        return F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("eps", 1e-5))
    if name in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        fp, sym = _pad_arg(a.get("padding", 0), nd)
        inp = x[0]
        if fp:
            inp = F.pad(inp, fp, value=float("-inf") if name.startswith("Max") else 0.0)
        if name.startswith("Max"):
            f = F.max_pool2d if nd == 2 else F.max_pool1d
            return f(inp, a["kernel_size"], a.get("stride"), sym, a.get("dilation", 1), a.get("ceil_mode", False))
        f = F.avg_pool2d if nd == 2 else F.avg_pool1d
        return f(inp, a["kernel_size"], a.get("stride"), sym, a.get("ceil_mode", False),
                 a.get("count_include_pad", True))
    if name.startswith("AdaptiveAvgPool"):
        return (F.adaptive_avg_pool2d if nd == 2 else F.adaptive_avg_pool1d)(x[0], a["output_size"])
    simple = {"ReLU": F.relu, "ReLU6": F.relu6, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
              "Hardswish": F.hardswish, "Hardsigmoid": F.hardsigmoid, "SiLU": F.silu,
              "Identity": lambda t: t, "Dropout": lambda t: t}
    if name in simple:
        return simple[name](x[0])
    if name == "LeakyReLU":
        return F.leaky_relu(x[0], a.get("negative_slope", 0.01))
    if name == "PReLU":
        return F.prelu(x[0], x[1])
    if name == "GELU":
        return F.gelu(x[0], approximate=a.get("approximate", "none"))
    if name == "Clip":
        return torch.clamp(x[0], a.get("min"), a.get("max"))
    if name == "Softmax":
        return torch.softmax(x[0], a.get("dim", -1))
    if name == "LogSoftmax":
        return torch.log_softmax(x[0], a.get("dim", -1))
    if name == "Flatten":
        return torch.flatten(x[0], a.get("start_dim", 1), a.get("end_dim", -1))
    if name == "Reshape":
        return x[0].reshape(a["shape"])
    if name == "Permute":
        return x[0].permute(a["dims"])
    if name == "Transpose":
        return x[0].transpose(a["dim0"], a["dim1"])
    if name == "Concat":
        return torch.cat(x, a.get("dim", 1))
    if name == "Pad":
        mode = a.get("mode", "constant")
        if mode == "constant":
            return F.pad(x[0], a["pads"], value=a.get("value", 0.0))
        return F.pad(x[0], a["pads"], mode=mode)
    if name in ("Mean", "Sum"):
        f = torch.mean if name == "Mean" else torch.sum
        d = a.get("dims")
        if d is None:
            return f(x[0])
        return f(x[0], d, keepdim=a.get("keepdim", False))
    raise NotImplementedError(name)


def _direct(t, x, a):
    if t == "=":
        return x[0]
    if t == "+":
        return x[0] + x[1]
    if t == "-":
        return x[0] - x[1]
    if t == ".*":
        return x[0] * x[1]
    if t == "*":
        return torch.matmul(x[0], x[1])
    if t == "./":
        return x[0] / x[1]
    if t == "%":
        return torch.remainder(x[0], x[1])
    if t == "^x":
        return torch.pow(x[0], x[1] if len(x) > 1 else a["exponent"])
    raise NotImplementedError(t)


def run(path, x):
    """Evaluate model.json on a numpy input; returns numpy output. Also checks
    every declared activation shape/datatype against the computed one."""
    root = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        m = json.load(f)
    cur = torch.from_numpy(np.asarray(x))
    with torch.no_grad():
        for b in m["blocks"]:
            env = {"X": cur}
            decl = {}
            for e in b["layers"]:
                if e["type"] == "Tensor":
                    if "data" in e or "value" in e:
                        env[e["name"]] = _load(root, e)
                    else:
                        decl[e["name"]] = e
                    continue
                ins = [env[i] for i in _ins(e)]
                a = e.get("attributes", {})
                y = _layer(e["name"], ins, a) if e["type"] == "Layer" else _direct(e["type"], ins, a)
                o = e["tensor_output"]
                if o in decl:
                    d = decl[o]
                    if list(y.shape) != d["shape"] or y.dtype != DT[d["datatype"]]:
                        raise Invalid(f"block {b['name']}: '{o}' is {list(y.shape)} {y.dtype}, "
                                      f"declared {d['shape']} {d['datatype']}")
                env[o] = y
            cur = env["Y"]
            if list(cur.shape) != b["output_shape"]:
                raise Invalid(f"block {b['name']}: Y is {list(cur.shape)}, header says {b['output_shape']}")
    return cur.numpy()
