"""fx graph (after shape propagation) -> nnllc JSON model IR (in memory).

Every fx node that computes a tensor from the model input becomes one or a
few entries (Tensor declarations, Layers, direct ops); nodes that do not
depend on the input become constant tensors; non-tensor values (x.size(0),
x.shape, ...) are resolved statically from shape propagation. The entries are
then cut into blocks (see partition()).
"""
import builtins
import copy
import math
import operator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import ExportError
from .trace import node_source

DTYPES = {
    torch.float64: "float64", torch.float32: "float32", torch.float16: "float16",
    torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32",
    torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
}
NP_DTYPES = {
    "float64": "<f8", "float32": "<f4", "float16": "<f2", "int64": "<i8", "int32": "<i4",
    "int16": "<i2", "int8": "i1", "uint8": "u1", "bool": "u1",
}

# non-tensor values derived only from tensor metadata (static shapes)
_SHAPE_METHODS = {"size", "dim", "numel", "nelement", "ndimension", "type", "get_device"}
_SHAPE_ATTRS = {"shape", "dtype", "ndim", "device", "is_cuda", "layout"}
# ops whose output shape depends on the data
_DYNAMIC = {"nonzero", "masked_select", "unique", "unique_consecutive", "where", "argwhere"}


def dtype_name(dt, what="tensor"):
    if dt not in DTYPES:
        raise ExportError(f"datatype {dt} of {what} has no equivalent in the IR")
    return DTYPES[dt]


def op_display(node, module=None):
    if node.op == "call_module":
        return f"{type(module).__module__}.{type(module).__name__} (module '{node.target}')"
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "call_function":
        t = node.target
        mod = getattr(t, "__module__", None) or ""
        mod = {"_operator": "operator", "torch._C._nn": "torch.nn.functional",
               "torch._C._VariableFunctions": "torch"}.get(mod, mod)
        name = getattr(t, "__name__", repr(t))
        if mod == "torch.nn.functional" and name in ("fn", "_max_pool2d", "_max_pool1d"):
            name = {F.max_pool2d: "max_pool2d", F.max_pool1d: "max_pool1d"}.get(t, name)
        return f"{mod}.{name}" if mod else name
    return f"{node.op} {node.target}"


def _pair(v, n=2):
    if isinstance(v, (list, tuple)):
        v = list(v)
        if len(v) == 1 and n > 1:
            v = v * n
        return [int(x) for x in v]
    return [int(v)] * n


def _ints(v, n):
    """int for 1-D ops, list for 2-D ops."""
    p = _pair(v, n)
    return p[0] if n == 1 else p


class Converter:
    def __init__(self, gm, name="model"):
        self.gm = gm
        self.name = name
        self.modules = dict(gm.named_modules())
        self.names = {}          # fx node -> IR tensor name (activations)
        self.info = {}           # IR tensor name -> (shape, datatype)
        self.weights = {}        # file stem -> numpy array (written by the caller)
        self.weight_src = {}     # file stem -> id of the torch tensor it came from
        self.const_entries = {}  # constant name -> Tensor entry
        self.items = {}          # fx node -> list of entries
        self.defined_by = {}     # IR tensor name -> fx node whose entries produce it
        self.input_name = None
        self._cur = None
        self._node = None
        self._tmp = 0

    # ---------------------------------------------------------------- errors
    def fail(self, msg, node=None, module=None):
        node = node or self._node
        op = op_display(node, module if module is not None else self.modules.get(node.target)
                        if node.op == "call_module" else None)
        raise ExportError(msg, op=op, module=node.meta.get("nnl_path", ""), source=node_source(node))

    # ----------------------------------------------------------- node values
    @staticmethod
    def is_dep_tensor(a):
        return (hasattr(a, "meta") and a.meta.get("nnl_dep")
                and isinstance(a.meta.get("tensor_meta"), object)
                and a.meta.get("type") is not None and issubclass(a.meta["type"], torch.Tensor))

    def static(self, a):
        """Resolve an argument to a Python value (static shapes only)."""
        if isinstance(a, torch.fx.Node):
            if self.is_dep_tensor(a):
                self.fail(f"a tensor computed from the input ('{a.name}') is used where a static "
                          f"value is needed (dynamic shapes/values are not supported)")
            v = a.meta["nnl_value"]
            if isinstance(v, torch.Size):
                v = tuple(int(x) for x in v)
            return v
        if isinstance(a, (list, tuple)):
            return type(a)(self.static(x) for x in a)
        if isinstance(a, dict):
            return {k: self.static(v) for k, v in a.items()}
        return a

    def out_meta(self, node=None):
        node = node or self._node
        tm = node.meta["tensor_meta"]
        return [int(d) for d in tm.shape], dtype_name(tm.dtype, f"'{node.name}'")

    # --------------------------------------------------------------- entries
    def emit(self, entry):
        self._cur.append(entry)

    def declare(self, name, shape, dtype):
        self.info[name] = (list(shape), dtype)
        self.emit({"type": "Tensor", "name": name, "shape": list(shape), "datatype": dtype})

    def const_tensor(self, name, tensor, stem=None):
        """A constant tensor (weight): one .bin file, declared where used."""
        t = tensor.detach().cpu().contiguous()
        dt = dtype_name(t.dtype, f"constant '{name}'")
        stem = stem or name
        if stem in self.weights and self.weight_src.get(stem) is not tensor:
            k = 1
            while f"{stem}.{k}" in self.weights:
                k += 1
            stem = f"{stem}.{k}"
            name = stem
        if stem not in self.weights:
            if t.dtype == torch.bfloat16:
                arr = t.view(torch.int16).numpy().astype("<i2")
            else:
                arr = t.numpy().astype(NP_DTYPES[dt])
            self.weights[stem] = arr
            self.weight_src[stem] = tensor
        entry = {"type": "Tensor", "name": name, "shape": [int(d) for d in t.shape],
                 "datatype": dt, "data": f"weights/{stem}.bin"}
        self.info[name] = (entry["shape"], dt)
        self.emit(entry)
        return name

    def scalar(self, value, dtype):
        self._tmp += 1
        name = f"{self._node.name}.c{self._tmp}"
        v = value
        if isinstance(v, bool):
            v = int(v)
        if dtype.startswith("float") or dtype == "bfloat16":
            v = float(v)
            if not math.isfinite(v):
                return self.const_tensor(name, torch.tensor(v, dtype=torch.float32))
        else:
            if isinstance(v, float) and not v.is_integer():
                self.fail(f"non-integer constant {v} with an integer tensor")
            v = int(v)
        self.info[name] = ([], dtype)
        self.emit({"type": "Tensor", "name": name, "shape": [], "datatype": dtype, "value": v})
        return name

    def t(self, a, dtype=None):
        """IR tensor name for an argument (activation, constant or scalar)."""
        if isinstance(a, torch.fx.Node):
            if a in self.names:
                return self.names[a]
            if self.is_dep_tensor(a):
                self.fail(f"internal: tensor '{a.name}' used before it is defined")
            v = a.meta.get("nnl_value")
            if isinstance(v, torch.Tensor):
                stem = a.target if a.op == "get_attr" else a.name
                return self.const_tensor(stem, v, stem)
            if isinstance(v, (int, float, bool)):
                return self.scalar(v, dtype or self.out_meta()[1])
            self.fail(f"argument '{a.name}' ({type(v).__name__}) is not a tensor")
        if isinstance(a, (int, float, bool)):
            return self.scalar(a, dtype or self.out_meta()[1])
        if isinstance(a, torch.Tensor):
            self._tmp += 1
            return self.const_tensor(f"{self._node.name}.c{self._tmp}", a)
        self.fail(f"unsupported argument {a!r}")

    def tmp(self, shape, dtype):
        self._tmp += 1
        name = f"{self._node.name}.t{self._tmp}"
        self.declare(name, shape, dtype)
        return name

    def out(self):
        shape, dt = self.out_meta()
        name = self._node.name
        self.declare(name, shape, dt)
        self.names[self._node] = name
        return name

    def layer(self, op, inputs, attrs=None, output=None, ident=None):
        output = output or self.out()
        e = {"type": "Layer", "name": op}
        ident = ident if ident is not None else (
            self._node.target if self._node.op == "call_module" else None)
        if ident:
            e["id"] = ident
        e["tensor_input"] = inputs[0] if len(inputs) == 1 else list(inputs)
        e["tensor_output"] = output
        if attrs:
            e["attributes"] = {k: v for k, v in attrs.items() if v is not None}
            if not e["attributes"]:
                del e["attributes"]
        self.emit(e)
        return output

    def direct(self, op, inputs, output=None, attrs=None):
        output = output or self.out()
        e = {"type": op, "tensor_input": inputs[0] if len(inputs) == 1 else list(inputs),
             "tensor_output": output}
        if attrs:
            e["attributes"] = attrs
        self.emit(e)
        return output

    def alias(self, a):
        if not self.is_dep_tensor(a):
            self.names[self._node] = self.t(a)
        else:
            self.names[self._node] = self.names[a]

    # --------------------------------------------------------- arguments
    def bind(self, params, skip_self=False):
        """Map positional and keyword args of the current node to names."""
        n = self._node
        out = {}
        for i, a in enumerate(n.args):
            if i >= len(params):
                self.fail(f"unexpected positional argument #{i}")
            out[params[i][0]] = a
        for k, v in n.kwargs.items():
            out[k] = v
        res = {}
        for p in params:
            key, default = p[0], p[1] if len(p) > 1 else ExportError
            if key in out:
                res[key] = out[key]
            elif default is ExportError:
                self.fail(f"missing argument '{key}'")
            else:
                res[key] = default
        return res

    # ---------------------------------------------------------------- main
    def convert(self):
        graph = self.gm.graph
        out_node = None
        for node in graph.nodes:
            self._node = node
            self._cur = []
            self._tmp = 0
            if node.op == "placeholder":
                if self.input_name is not None:
                    self.fail("models with more than one input are not supported")
                self.input_name = node.name
                self.names[node] = node.name
                self.info[node.name] = self.out_meta()
                continue
            if node.op == "output":
                out_node = node
                continue
            if node.op == "get_attr":
                continue
            typ = node.meta.get("type")
            is_tensor = typ is not None and issubclass(typ, torch.Tensor)
            if not node.meta.get("nnl_dep"):
                continue  # constant: materialized where used
            if not is_tensor:
                self.check_static(node)
                continue
            self.convert_node(node)
            self.items[node] = self._cur
            for e in self._cur:
                if e["type"] != "Tensor" or ("data" not in e and "value" not in e):
                    if "tensor_output" in e:
                        self.defined_by[e["tensor_output"]] = node
        if self.input_name is None:
            raise ExportError("the model has no input")
        res = out_node.args[0]
        if not isinstance(res, torch.fx.Node) or not self.is_dep_tensor(res):
            self._node = out_node
            if isinstance(res, (tuple, list, dict)):
                self.fail("models with several outputs (tuple/list/dict) are not supported; "
                          "return a single tensor")
            self.fail("the model output does not depend on the input")
        self.output_name = self.names[res]
        return self

    def check_static(self, node):
        """A non-tensor value computed from the input must only read shapes."""
        self._node = node
        for a in node.all_input_nodes:
            if self.is_dep_tensor(a):
                ok = (node.op == "call_method" and node.target in _SHAPE_METHODS) or \
                     (node.op == "call_function" and node.target in (builtins.getattr,)
                      and len(node.args) > 1 and node.args[1] in _SHAPE_ATTRS) or \
                     (node.op == "call_function" and node.target in (builtins.len,))
                if not ok:
                    self.fail("a Python value is computed from tensor data (dynamic value); "
                              "only static shapes and values are supported")

    def convert_node(self, node):
        if node.op == "call_module":
            mod = self.modules[node.target]
            h = None
            for cls in type(mod).__mro__:
                h = MODULE_HANDLERS.get(cls)
                if h is not None and (cls is type(mod) or cls not in EXACT_ONLY):
                    break
                h = None
            if h is None:
                self.fail("op not in the registry (no mapping for this module)", module=mod)
            h(self, node, mod)
            return
        if node.op == "call_function":
            tgt = node.target
            h = FUNCTION_HANDLERS.get(tgt) if _hashable(tgt) else None
            name = getattr(tgt, "__name__", "")
        else:
            name = node.target
            h = METHOD_HANDLERS.get(name)
            if h is None and name.endswith("_") and not name.endswith("__"):
                h = METHOD_HANDLERS.get(name[:-1])
        if h is None:
            if name in _DYNAMIC:
                self.fail("op with a data-dependent (dynamic) output shape is not supported")
            if node.target is operator.getitem:
                self.fail("tensor indexing/slicing (getitem) is not in the op registry")
            self.fail("op not in the registry")
        h(self, node)


def _hashable(x):
    try:
        hash(x)
        return True
    except TypeError:
        return False


# ====================================================================== handlers
MODULE_HANDLERS = {}
FUNCTION_HANDLERS = {}
METHOD_HANDLERS = {}
EXACT_ONLY = {nn.Hardtanh}  # subclasses (ReLU6) have their own handler


def on_module(*classes):
    def deco(f):
        for c in classes:
            MODULE_HANDLERS[c] = f
        return f
    return deco


def on_function(*fns):
    def deco(f):
        for fn in fns:
            FUNCTION_HANDLERS[fn] = f
        return f
    return deco


def on_method(*names):
    def deco(f):
        for n in names:
            METHOD_HANDLERS[n] = f
        return f
    return deco


def _x(c, node):
    return c.t(node.args[0] if node.args else node.kwargs.get("input", node.kwargs.get("self")))


# ---- convolutions / linear / batchnorm
def _conv_padding(c, padding, k, dil, nd):
    if isinstance(padding, str):
        if padding == "valid":
            return 0
        if padding == "same":
            pads = [d * (kk - 1) for d, kk in zip(dil, k)]
            begin = [p // 2 for p in pads]
            end = [p - b for p, b in zip(pads, begin)]
            return begin + end if nd == 2 else [begin[0], end[0]]
        c.fail(f"unknown padding {padding!r}")
    p = _pair(padding, nd)
    return p[0] if nd == 1 else p


def _emit_conv(c, nd, x, w, b, stride, padding, dilation, groups, padding_mode="zeros", ident=None,
               pre_pads=None):
    wshape = c.info[w][0]
    k = wshape[2:]
    dil = _pair(dilation, nd)
    if padding_mode != "zeros":
        if padding_mode not in ("reflect", "replicate"):
            c.fail(f"padding_mode '{padding_mode}' is not supported")
        pads = [int(p) for p in pre_pads]   # F.pad order (last axis first)
        xs, dt = c.info[x]
        padded = list(xs[:2]) + [s + pads[2 * (nd - 1 - i)] + pads[2 * (nd - 1 - i) + 1]
                                 for i, s in enumerate(xs[2:])]
        t = c.tmp(padded, dt)
        c.layer("Pad", [x], {"pads": pads, "mode": padding_mode}, output=t, ident=ident)
        x, padding = t, 0
    attrs = {"stride": _ints(stride, nd), "padding": _conv_padding(c, padding, k, dil, nd),
             "dilation": _ints(dilation, nd), "groups": int(groups)}
    ins = [x, w] + ([b] if b is not None else [])
    c.layer("Conv1d" if nd == 1 else "Conv2d", ins, attrs, ident=ident)


@on_module(nn.Conv1d, nn.Conv2d)
def m_conv(c, node, m):
    nd = 1 if isinstance(m, nn.Conv1d) else 2
    x = _x(c, node)
    w = c.const_tensor(f"{node.target}.weight", m.weight)
    b = c.const_tensor(f"{node.target}.bias", m.bias) if m.bias is not None else None
    _emit_conv(c, nd, x, w, b, m.stride, m.padding, m.dilation, m.groups, m.padding_mode,
               pre_pads=getattr(m, "_reversed_padding_repeated_twice", None))


@on_function(F.conv1d, F.conv2d)
def f_conv(c, node):
    a = c.bind([("input",), ("weight",), ("bias", None), ("stride", 1), ("padding", 0),
                ("dilation", 1), ("groups", 1)])
    x = c.t(a["input"])
    nd = len(c.info[x][0]) - 2
    w = c.t(a["weight"])
    b = c.t(a["bias"]) if a["bias"] is not None else None
    _emit_conv(c, nd, x, w, b, c.static(a["stride"]), c.static(a["padding"]),
               c.static(a["dilation"]), c.static(a["groups"]))


@on_module(nn.Linear)
def m_linear(c, node, m):
    x = _x(c, node)
    w = c.const_tensor(f"{node.target}.weight", m.weight)
    ins = [x, w]
    if m.bias is not None:
        ins.append(c.const_tensor(f"{node.target}.bias", m.bias))
    c.layer("Linear", ins)


@on_function(F.linear)
def f_linear(c, node):
    a = c.bind([("input",), ("weight",), ("bias", None)])
    ins = [c.t(a["input"]), c.t(a["weight"])]
    if a["bias"] is not None:
        ins.append(c.t(a["bias"]))
    c.layer("Linear", ins)


def _bn_op(c, rank):
    if rank in (2, 3):
        return "BatchNorm1d"
    if rank == 4:
        return "BatchNorm2d"
    c.fail(f"batch norm on a rank-{rank} tensor is not in the op registry")


@on_module(nn.BatchNorm1d, nn.BatchNorm2d)
def m_bn(c, node, m):
    x = _x(c, node)
    if m.running_mean is None or m.running_var is None:
        c.fail("BatchNorm without running statistics (track_running_stats=False) normalizes "
               "with batch statistics at inference; not supported", module=m)
    p = node.target
    n = m.num_features
    w = c.const_tensor(f"{p}.weight", m.weight) if m.weight is not None else \
        c.const_tensor(f"{p}.weight", torch.ones(n, dtype=m.running_var.dtype))
    b = c.const_tensor(f"{p}.bias", m.bias) if m.bias is not None else \
        c.const_tensor(f"{p}.bias", torch.zeros(n, dtype=m.running_var.dtype))
    rm = c.const_tensor(f"{p}.running_mean", m.running_mean)
    rv = c.const_tensor(f"{p}.running_var", m.running_var)
    c.layer(_bn_op(c, len(c.info[x][0])), [x, w, b, rm, rv], {"eps": float(m.eps)})


@on_function(F.batch_norm)
def f_bn(c, node):
    a = c.bind([("input",), ("running_mean",), ("running_var",), ("weight", None), ("bias", None),
                ("training", False), ("momentum", 0.1), ("eps", 1e-5)])
    if c.static(a["training"]):
        c.fail("F.batch_norm with training=True uses batch statistics; not supported")
    x = c.t(a["input"])
    rm, rv = c.t(a["running_mean"]), c.t(a["running_var"])
    n = c.info[rm][0][0]
    w = c.t(a["weight"]) if a["weight"] is not None else c.t(torch.ones(n))
    b = c.t(a["bias"]) if a["bias"] is not None else c.t(torch.zeros(n))
    c.layer(_bn_op(c, len(c.info[x][0])), [x, w, b, rm, rv], {"eps": float(c.static(a["eps"]))})


# ---- activations
def _unary(op, **attr_from):
    def mh(c, node, m):
        attrs = {k: f(m) for k, f in attr_from.items()}
        c.layer(op, [_x(c, node)], attrs)
    return mh


for _cls, _op in [(nn.ReLU, "ReLU"), (nn.ReLU6, "ReLU6"), (nn.Sigmoid, "Sigmoid"), (nn.Tanh, "Tanh"),
                  (nn.Hardswish, "Hardswish"), (nn.Hardsigmoid, "Hardsigmoid"), (nn.SiLU, "SiLU")]:
    MODULE_HANDLERS[_cls] = _unary(_op)
MODULE_HANDLERS[nn.LeakyReLU] = _unary("LeakyReLU", negative_slope=lambda m: float(m.negative_slope))
MODULE_HANDLERS[nn.GELU] = _unary("GELU", approximate=lambda m: getattr(m, "approximate", "none"))
MODULE_HANDLERS[nn.Hardtanh] = _unary("Clip", min=lambda m: float(m.min_val), max=lambda m: float(m.max_val))


@on_module(nn.PReLU)
def m_prelu(c, node, m):
    c.layer("PReLU", [_x(c, node), c.const_tensor(f"{node.target}.weight", m.weight)])


def _softmax_dim(dim, rank):
    if dim is None:
        return 0 if rank in (0, 1, 3) else 1
    return int(dim)


@on_module(nn.Softmax, nn.LogSoftmax)
def m_softmax(c, node, m):
    x = _x(c, node)
    c.layer("Softmax" if isinstance(m, nn.Softmax) else "LogSoftmax", [x],
            {"dim": _softmax_dim(m.dim, len(c.info[x][0]))})


def _f_unary(op, params=(("input",),), attrs=None):
    def fh(c, node):
        a = c.bind(list(params))
        at = {k: f(c, {kk: c.static(v) for kk, v in a.items() if kk != "input"})
              for k, f in (attrs or {}).items()}
        c.layer(op, [c.t(a["input"])], at)
    return fh


_INPLACE = ("inplace", False)
for _fns, _op in [((F.relu, torch.relu, torch.relu_), "ReLU"), ((F.relu6,), "ReLU6"),
                  ((torch.sigmoid, F.sigmoid), "Sigmoid"), ((torch.tanh, F.tanh), "Tanh"),
                  ((F.hardswish,), "Hardswish"), ((F.hardsigmoid,), "Hardsigmoid"), ((F.silu,), "SiLU")]:
    for _fn in _fns:
        FUNCTION_HANDLERS[_fn] = _f_unary(_op, (("input",), _INPLACE))
FUNCTION_HANDLERS[F.leaky_relu] = _f_unary(
    "LeakyReLU", (("input",), ("negative_slope", 0.01), _INPLACE),
    {"negative_slope": lambda c, a: float(a["negative_slope"])})
FUNCTION_HANDLERS[F.gelu] = _f_unary("GELU", (("input",), ("approximate", "none")),
                                     {"approximate": lambda c, a: a["approximate"]})
FUNCTION_HANDLERS[F.hardtanh] = _f_unary(
    "Clip", (("input",), ("min_val", -1.0), ("max_val", 1.0), _INPLACE),
    {"min": lambda c, a: float(a["min_val"]), "max": lambda c, a: float(a["max_val"])})
for _fn in (torch.clamp, torch.clip):
    FUNCTION_HANDLERS[_fn] = _f_unary(
        "Clip", (("input",), ("min", None), ("max", None)),
        {"min": lambda c, a: None if a["min"] is None else float(a["min"]),
         "max": lambda c, a: None if a["max"] is None else float(a["max"])})
for _name, _op in [("relu", "ReLU"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh")]:
    METHOD_HANDLERS[_name] = _f_unary(_op)
for _name in ("clamp", "clip"):
    METHOD_HANDLERS[_name] = FUNCTION_HANDLERS[torch.clamp]


def _f_softmax(op):
    def fh(c, node):
        a = c.bind([("input",), ("dim", None), ("_stacklevel", 3), ("dtype", None)])
        if a["dtype"] is not None:
            c.fail("softmax with dtype= is not supported")
        x = c.t(a["input"])
        c.layer(op, [x], {"dim": _softmax_dim(c.static(a["dim"]), len(c.info[x][0]))})
    return fh


for _fn in (F.softmax, torch.softmax):
    FUNCTION_HANDLERS[_fn] = _f_softmax("Softmax")
for _fn in (F.log_softmax, torch.log_softmax):
    FUNCTION_HANDLERS[_fn] = _f_softmax("LogSoftmax")
METHOD_HANDLERS["softmax"] = _f_softmax("Softmax")
METHOD_HANDLERS["log_softmax"] = _f_softmax("LogSoftmax")


# ---- pooling
def _pool_attrs(c, nd, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    at = {"kernel_size": _ints(kernel_size, nd)}
    if stride is not None and not (isinstance(stride, (list, tuple)) and len(stride) == 0):
        at["stride"] = _ints(stride, nd)
    at["padding"] = _ints(padding, nd)
    if dilation is not None:
        at["dilation"] = _ints(dilation, nd)
    at["ceil_mode"] = bool(ceil_mode)
    return at


@on_module(nn.MaxPool1d, nn.MaxPool2d)
def m_maxpool(c, node, m):
    nd = 1 if isinstance(m, nn.MaxPool1d) else 2
    if m.return_indices:
        c.fail("MaxPool with return_indices=True is not supported", module=m)
    c.layer(f"MaxPool{nd}d", [_x(c, node)],
            _pool_attrs(c, nd, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode))


@on_module(nn.AvgPool1d, nn.AvgPool2d)
def m_avgpool(c, node, m):
    nd = 1 if isinstance(m, nn.AvgPool1d) else 2
    if getattr(m, "divisor_override", None):
        c.fail("AvgPool with divisor_override is not supported", module=m)
    at = _pool_attrs(c, nd, m.kernel_size, m.stride, m.padding, None, m.ceil_mode)
    at["count_include_pad"] = bool(m.count_include_pad)
    c.layer(f"AvgPool{nd}d", [_x(c, node)], at)


def _f_maxpool(nd):
    def fh(c, node):
        a = c.bind([("input",), ("kernel_size",), ("stride", None), ("padding", 0),
                    ("dilation", 1), ("ceil_mode", False), ("return_indices", False)])
        s = {k: c.static(v) for k, v in a.items() if k != "input"}
        if s["return_indices"]:
            c.fail("max pooling with return_indices=True is not supported")
        c.layer(f"MaxPool{nd}d", [c.t(a["input"])],
                _pool_attrs(c, nd, s["kernel_size"], s["stride"], s["padding"], s["dilation"],
                            s["ceil_mode"]))
    return fh


def _f_avgpool(nd):
    def fh(c, node):
        a = c.bind([("input",), ("kernel_size",), ("stride", None), ("padding", 0),
                    ("ceil_mode", False), ("count_include_pad", True), ("divisor_override", None)])
        s = {k: c.static(v) for k, v in a.items() if k != "input"}
        if s["divisor_override"]:
            c.fail("avg pooling with divisor_override is not supported")
        at = _pool_attrs(c, nd, s["kernel_size"], s["stride"], s["padding"], None, s["ceil_mode"])
        at["count_include_pad"] = bool(s["count_include_pad"])
        c.layer(f"AvgPool{nd}d", [c.t(a["input"])], at)
    return fh


FUNCTION_HANDLERS[F.max_pool1d] = _f_maxpool(1)
FUNCTION_HANDLERS[F.max_pool2d] = _f_maxpool(2)
FUNCTION_HANDLERS[F.avg_pool1d] = _f_avgpool(1)
FUNCTION_HANDLERS[F.avg_pool2d] = _f_avgpool(2)


def _adaptive(c, nd, x, output_size):
    xs = c.info[x][0]
    os_ = list(output_size) if isinstance(output_size, (list, tuple)) else [output_size] * nd
    os_ = [int(xs[-nd + i]) if v is None else int(v) for i, v in enumerate(os_)]
    c.layer(f"AdaptiveAvgPool{nd}d", [x], {"output_size": os_[0] if nd == 1 else os_})


@on_module(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
def m_adaptive(c, node, m):
    _adaptive(c, 1 if isinstance(m, nn.AdaptiveAvgPool1d) else 2, _x(c, node), m.output_size)


def _f_adaptive(nd):
    def fh(c, node):
        a = c.bind([("input",), ("output_size",)])
        _adaptive(c, nd, c.t(a["input"]), c.static(a["output_size"]))
    return fh


FUNCTION_HANDLERS[F.adaptive_avg_pool1d] = _f_adaptive(1)
FUNCTION_HANDLERS[F.adaptive_avg_pool2d] = _f_adaptive(2)


# ---- identity-like (inference)
@on_module(nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.FeatureAlphaDropout)
def m_identity(c, node, m):
    c.alias(node.args[0])


def _f_alias(c, node):
    c.alias(node.args[0] if node.args else node.kwargs["input"])


for _fn in (F.dropout, F.dropout1d, F.dropout2d, F.alpha_dropout, F.feature_alpha_dropout,
            torch.clone):
    FUNCTION_HANDLERS[_fn] = _f_alias
for _name in ("contiguous", "clone", "detach"):
    METHOD_HANDLERS[_name] = _f_alias


def _same_dtype_cast(c, node):
    src = node.args[0]
    if c.is_dep_tensor(src) and src.meta["tensor_meta"].dtype == node.meta["tensor_meta"].dtype:
        c.alias(src)
    else:
        c.fail("datatype conversion is not in the op registry (only casts to the same datatype "
               "are accepted and removed)")


for _name in ("to", "float", "type_as", "type"):
    METHOD_HANDLERS[_name] = _same_dtype_cast


# ---- shape ops
@on_module(nn.Flatten)
def m_flatten(c, node, m):
    c.layer("Flatten", [_x(c, node)], {"start_dim": int(m.start_dim), "end_dim": int(m.end_dim)})


def _flatten(c, node):
    a = c.bind([("input",), ("start_dim", 0), ("end_dim", -1)])
    c.layer("Flatten", [c.t(a["input"])], {"start_dim": int(c.static(a["start_dim"])),
                                           "end_dim": int(c.static(a["end_dim"]))})


FUNCTION_HANDLERS[torch.flatten] = _flatten
METHOD_HANDLERS["flatten"] = _flatten


def _reshape(c, node):
    """view/reshape/squeeze/unsqueeze: the static output shape from ShapeProp."""
    c.layer("Reshape", [c.t(node.args[0] if node.args else node.kwargs["input"])],
            {"shape": c.out_meta()[0]})


for _fn in (torch.reshape, torch.squeeze, torch.unsqueeze):
    FUNCTION_HANDLERS[_fn] = _reshape
for _name in ("view", "reshape", "squeeze", "unsqueeze", "view_as", "reshape_as"):
    METHOD_HANDLERS[_name] = _reshape


def _permute(c, node):
    x = node.args[0] if node.args else node.kwargs["input"]
    rest = node.args[1:]
    if "dims" in node.kwargs:
        dims = c.static(node.kwargs["dims"])
    elif len(rest) == 1 and isinstance(c.static(rest[0]), (list, tuple)):
        dims = c.static(rest[0])
    else:
        dims = c.static(list(rest))
    c.layer("Permute", [c.t(x)], {"dims": [int(d) for d in dims]})


FUNCTION_HANDLERS[torch.permute] = _permute
METHOD_HANDLERS["permute"] = _permute


def _transpose(c, node):
    a = c.bind([("input",), ("dim0",), ("dim1",)])
    c.layer("Transpose", [c.t(a["input"])], {"dim0": int(c.static(a["dim0"])),
                                             "dim1": int(c.static(a["dim1"]))})


FUNCTION_HANDLERS[torch.transpose] = _transpose
FUNCTION_HANDLERS[torch.swapaxes] = _transpose
METHOD_HANDLERS["transpose"] = _transpose
METHOD_HANDLERS["swapaxes"] = _transpose


def _t(c, node):
    x = c.t(node.args[0])
    if len(c.info[x][0]) < 2:
        c.alias(node.args[0])
        return
    c.layer("Transpose", [x], {"dim0": 0, "dim1": 1})


FUNCTION_HANDLERS[torch.t] = _t
METHOD_HANDLERS["t"] = _t


@on_function(builtins.getattr)
def f_getattr(c, node):
    attr = node.args[1]
    if attr == "T":
        x = c.t(node.args[0])
        r = len(c.info[x][0])
        c.layer("Permute", [x], {"dims": list(range(r - 1, -1, -1))})
    elif attr == "mT":
        c.layer("Transpose", [c.t(node.args[0])], {"dim0": -2, "dim1": -1})
    elif attr == "data":
        c.alias(node.args[0])
    else:
        c.fail(f"tensor attribute '.{attr}' is not supported")


def _cat(c, node):
    a = c.bind([("tensors",), ("dim", 0)])
    tensors = a["tensors"]
    if not isinstance(tensors, (list, tuple)):
        c.fail("torch.cat of a non-list argument is not supported")
    dt = c.out_meta()[1]
    ins = [c.t(x, dt) for x in tensors]
    c.layer("Concat", ins, {"dim": int(c.static(a["dim"]))})


for _fn in (torch.cat, torch.concat):
    FUNCTION_HANDLERS[_fn] = _cat


@on_module(nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ReflectionPad1d, nn.ReflectionPad2d,
           nn.ReplicationPad1d, nn.ReplicationPad2d)
def m_pad(c, node, m):
    mode = "constant"
    if isinstance(m, (nn.ReflectionPad1d, nn.ReflectionPad2d)):
        mode = "reflect"
    elif isinstance(m, (nn.ReplicationPad1d, nn.ReplicationPad2d)):
        mode = "replicate"
    at = {"pads": [int(p) for p in m.padding], "mode": mode}
    if mode == "constant":
        at["value"] = float(getattr(m, "value", 0.0))
    c.layer("Pad", [_x(c, node)], at)


@on_function(F.pad)
def f_pad(c, node):
    a = c.bind([("input",), ("pad",), ("mode", "constant"), ("value", None)])
    mode = c.static(a["mode"])
    if mode not in ("constant", "reflect", "replicate"):
        c.fail(f"padding mode '{mode}' is not supported")
    at = {"pads": [int(p) for p in c.static(a["pad"])], "mode": mode}
    v = c.static(a["value"])
    if mode == "constant" and v is not None:
        at["value"] = float(v)
    c.layer("Pad", [c.t(a["input"])], at)


def _reduce(op):
    def fh(c, node):
        a = c.bind([("input",), ("dim", None), ("keepdim", False), ("dtype", None)])
        if a["dtype"] is not None:
            c.fail(f"{op.lower()} with dtype= is not supported")
        d = c.static(a["dim"])
        at = {}
        if d is not None:
            at["dims"] = [int(v) for v in (d if isinstance(d, (list, tuple)) else [d])]
        at["keepdim"] = bool(c.static(a["keepdim"]))
        c.layer(op, [c.t(a["input"])], at)
    return fh


FUNCTION_HANDLERS[torch.mean] = _reduce("Mean")
FUNCTION_HANDLERS[torch.sum] = _reduce("Sum")
METHOD_HANDLERS["mean"] = _reduce("Mean")
METHOD_HANDLERS["sum"] = _reduce("Sum")


# ---- arithmetic (direct ops)
def _operands(c, node, names=("input", "other")):
    args = list(node.args)
    for k in names[len(args):]:
        if k in node.kwargs:
            args.append(node.kwargs[k])
    if len(args) < 2:
        c.fail("binary op with fewer than two operands")
    return args[0], args[1]


def _binary(op, reverse=False):
    def fh(c, node):
        a, b = _operands(c, node)
        if reverse:
            a, b = b, a
        dt = c.out_meta()[1]
        alpha = node.kwargs.get("alpha", 1)
        ta = c.t(a, dt)
        tb = c.t(b, dt)
        if alpha != 1:
            alpha = c.static(alpha)
            shape, bdt = c.info[tb]
            scaled = c.tmp(shape, bdt)
            c.direct(".*", [tb, c.scalar(alpha, bdt)], output=scaled)
            tb = scaled
        c.direct(op, [ta, tb])
    return fh


for _fns, _op in [((operator.add, operator.iadd, torch.add), "+"),
                  ((operator.sub, operator.isub, torch.sub, torch.subtract), "-"),
                  ((operator.mul, operator.imul, torch.mul, torch.multiply), ".*"),
                  ((operator.mod, operator.imod, torch.remainder), "%"),
                  ((operator.matmul, torch.matmul, torch.mm, torch.bmm), "*")]:
    for _fn in _fns:
        FUNCTION_HANDLERS[_fn] = _binary(_op)
FUNCTION_HANDLERS[torch.rsub] = _binary("-", reverse=True)
for _name, _op in [("add", "+"), ("sub", "-"), ("subtract", "-"), ("mul", ".*"), ("multiply", ".*"),
                   ("remainder", "%"), ("matmul", "*"), ("mm", "*"), ("bmm", "*")]:
    METHOD_HANDLERS[_name] = _binary(_op)
METHOD_HANDLERS["__radd__"] = _binary("+", reverse=True)
METHOD_HANDLERS["__rsub__"] = _binary("-", reverse=True)
METHOD_HANDLERS["__rmul__"] = _binary(".*", reverse=True)


def _div(c, node):
    if node.kwargs.get("rounding_mode") is not None:
        c.fail("division with rounding_mode is not supported")
    if node.op == "call_function" and node.target in (operator.floordiv, torch.floor_divide):
        c.fail("floor division is not in the op registry")
    _binary("./")(c, node)


for _fn in (operator.truediv, operator.itruediv, torch.div, torch.divide, torch.true_divide,
            operator.floordiv):
    FUNCTION_HANDLERS[_fn] = _div
for _name in ("div", "divide", "true_divide"):
    METHOD_HANDLERS[_name] = _div


def _pow(c, node):
    a, b = _operands(c, node, ("input", "exponent"))
    dt = c.out_meta()[1]
    if not isinstance(b, torch.fx.Node) and isinstance(b, (int, float)):
        c.direct("^x", [c.t(a, dt)], attrs={"exponent": float(b)})
    elif isinstance(b, torch.fx.Node) and not c.is_dep_tensor(b) and \
            isinstance(b.meta.get("nnl_value"), (int, float)):
        c.direct("^x", [c.t(a, dt)], attrs={"exponent": float(b.meta["nnl_value"])})
    else:
        c.direct("^x", [c.t(a, dt), c.t(b, dt)])


for _fn in (operator.pow, operator.ipow, torch.pow):
    FUNCTION_HANDLERS[_fn] = _pow
METHOD_HANDLERS["pow"] = _pow


def _neg(c, node):
    x = c.t(node.args[0])
    dt = c.out_meta()[1]
    c.direct("-", [c.scalar(0, dt), x])


for _fn in (operator.neg, torch.neg, torch.negative):
    FUNCTION_HANDLERS[_fn] = _neg
METHOD_HANDLERS["neg"] = _neg
FUNCTION_HANDLERS[operator.pos] = _f_alias


# ====================================================================== blocks
def partition(conv):
    """Cut the converted nodes into blocks.

    1. Segments: consecutive converted nodes with the same top-level
       submodule (first component of the module path) form a segment;
       consecutive nodes written directly in the top-level forward()
       (functional code) form a segment of their own.
    2. A boundary between two segments is kept only if exactly one tensor is
       live across it (defined before, used after, the model output counting
       as a use) and that tensor is produced inside the block that ends there;
       otherwise the two sides are merged. That tensor is the block's Y and
       the next block's X.
    """
    nodes = [n for n in conv.gm.graph.nodes if n in conv.items]
    if not nodes:
        return [{"name": "main", "nodes": [], "input": conv.input_name, "output": conv.output_name}]
    pos = {n: i for i, n in enumerate(nodes)}

    def key(n):
        p = n.meta.get("nnl_path", "")
        return p.split(".")[0] if p else None

    segs = []
    for n in nodes:
        k = key(n)
        if segs and segs[-1][0] == k:
            segs[-1][1].append(n)
        else:
            segs.append((k, [n]))

    # definition position of every activation name (-1: model input)
    defpos = {conv.input_name: -1}
    for n in nodes:
        for e in conv.items[n]:
            if "tensor_output" in e:
                defpos[e["tensor_output"]] = pos[n]
    lastuse = {}
    for n in nodes:
        for e in conv.items[n]:
            ins = e.get("tensor_input")
            if ins is None:
                continue
            for t in ([ins] if isinstance(ins, str) else ins):
                if t in defpos:
                    lastuse[t] = max(lastuse.get(t, -1), pos[n])
    lastuse[conv.output_name] = len(nodes)

    blocks = []
    start_seg = 0
    start_pos = 0
    block_in = conv.input_name
    for j in range(len(segs)):
        if j == len(segs) - 1:
            out = conv.output_name
        else:
            b = pos[segs[j + 1][1][0]]  # boundary: before node position b
            live = [t for t, d in defpos.items() if d < b and lastuse.get(t, -2) >= b]
            if len(live) != 1 or defpos[live[0]] < start_pos:
                continue  # merge with the next segment
            out = live[0]
        seg_nodes = [n for k, ns in segs[start_seg:j + 1] for n in ns]
        keys = []
        for k, ns in segs[start_seg:j + 1]:
            kk = k if k is not None else ns[0].name
            if kk not in keys:
                keys.append(kk)
        blocks.append({"name": "+".join(keys), "nodes": seg_nodes, "input": block_in, "output": out})
        block_in = out
        start_seg = j + 1
        if j + 1 < len(segs):
            start_pos = pos[segs[j + 1][1][0]]
    # unique block names
    seen = {}
    for b in blocks:
        if b["name"] in seen:
            seen[b["name"]] += 1
            b["name"] = f"{b['name']}#{seen[b['name']]}"
        else:
            seen[b["name"]] = 1
    return blocks


def _rename(e, m):
    e = copy.deepcopy(e)
    if "tensor_input" in e:
        ti = e["tensor_input"]
        e["tensor_input"] = m.get(ti, ti) if isinstance(ti, str) else [m.get(t, t) for t in ti]
    if "tensor_output" in e:
        e["tensor_output"] = m.get(e["tensor_output"], e["tensor_output"])
    return e


def build_model(conv, name):
    blocks = partition(conv)
    out_blocks = []
    for b in blocks:
        m = {b["input"]: "X", b["output"]: "Y"}
        layers = []
        declared = set()
        produced = False
        for n in b["nodes"]:
            for e in conv.items[n]:
                if e["type"] == "Tensor":
                    if e["name"] in (b["input"], b["output"]) or e["name"] in declared:
                        continue
                    declared.add(e["name"])
                    layers.append(copy.deepcopy(e))
                    continue
                e = _rename(e, m)
                if e["tensor_output"] == "Y":
                    produced = True
                layers.append(e)
        if not produced:
            layers.append({"type": "=", "tensor_input": "X" if b["output"] == b["input"] else b["output"],
                           "tensor_output": "Y"})
        ish, idt = conv.info[b["input"]]
        osh, odt = conv.info[b["output"]]
        out_blocks.append({"type": "Block", "name": b["name"],
                           "input_shape": ish, "input_datatype": idt,
                           "output_shape": osh, "output_datatype": odt,
                           "layers": layers})
    ish, idt = conv.info[conv.input_name]
    osh, odt = conv.info[conv.output_name]
    return {"type": "Model", "name": name, "input_shape": ish, "input_datatype": idt,
            "output_shape": osh, "output_datatype": odt, "blocks": out_blocks}
