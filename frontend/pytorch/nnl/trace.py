"""Tracing (torch.fx) and shape propagation.

trace(module) -> GraphModule whose nodes carry
    meta['nnl_path']     the module path the node was created in ('' = top level)
    meta['stack_trace']  recorded by fx (record_stack_traces)
propagate(gm, example) runs the graph once and adds
    meta['tensor_meta']  (as torch.fx.passes.shape_prop.ShapeProp does)
    meta['nnl_dep']      True when the value depends on the model input
    meta['nnl_value']    the value itself, kept for nodes that do not depend
                         on the input (constants) and for non-tensor values
"""
import os
import traceback

import torch
import torch.fx as fx
from torch.fx.passes.shape_prop import ShapeProp, _extract_tensor_metadata

from .errors import ExportError

_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_NNL_DIR = os.path.dirname(os.path.abspath(__file__))


def _is_internal(filename):
    f = os.path.abspath(filename)
    return f.startswith(_TORCH_DIR + os.sep) or f.startswith(_NNL_DIR + os.sep)


def user_frame_from_frames(frames):
    """First frame (innermost first) that is neither torch's nor ours:
    'file:line: source'."""
    for fr in frames:
        if not _is_internal(fr.filename) and "<" not in fr.filename[:1]:
            line = (fr.line or "").strip()
            return f"{fr.filename}:{fr.lineno}: {line}" if line else f"{fr.filename}:{fr.lineno}"
    return None


def node_source(node):
    """'file:line: source' of the user code that created an fx node."""
    st = node.meta.get("stack_trace") or getattr(node, "stack_trace", None)
    if not st:
        return None
    lines = st.splitlines()
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith('File "'):
            try:
                fname = s.split('"')[1]
                lineno = int(s.split(", line ")[1].split(",")[0])
            except (IndexError, ValueError):
                i += 1
                continue
            src = lines[i + 1].strip() if i + 1 < len(lines) and not lines[i + 1].strip().startswith('File "') else ""
            if not _is_internal(fname):
                return f"{fname}:{lineno}: {src}" if src else f"{fname}:{lineno}"
        i += 1
    return None


class NNLTracer(fx.Tracer):
    """fx tracer that records, for every node, the module path it comes from."""

    def __init__(self):
        super().__init__()
        self.record_stack_traces = True
        self._paths = []
        self.error_path = None

    def call_module(self, m, forward, args, kwargs):
        path = self.path_of_module(m)
        self._paths.append(path)
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.error_path is None:
                self.error_path = path
            raise
        finally:
            self._paths.pop()

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["nnl_path"] = self._paths[-1] if self._paths else ""
        if getattr(node, "stack_trace", None) and "stack_trace" not in node.meta:
            node.meta["stack_trace"] = node.stack_trace
        return node


def trace(module):
    tracer = NNLTracer()
    try:
        graph = tracer.trace(module)
    except Exception as e:  # fx.proxy.TraceError, TypeError, ...
        tb = traceback.extract_tb(e.__traceback__)
        src = user_frame_from_frames(list(reversed(tb)))
        kind = type(e).__name__
        msg = str(e).strip().splitlines()[0] if str(e).strip() else kind
        if "control flow" in msg or "iteration" in msg or kind == "TraceError":
            what = ("data-dependent Python control flow (an if/while/for on a tensor value) "
                    "cannot be traced; only static graphs are supported")
        else:
            what = "torch.fx could not trace the model"
        raise ExportError(f"{what}: {kind}: {msg}", op="symbolic trace",
                          module=tracer.error_path or "", source=src) from None
    gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
    return gm


class NNLShapeProp(ShapeProp):
    """ShapeProp that also keeps constant values and input dependence."""

    def run_node(self, n):
        dep = n.op == "placeholder" or any(a.meta.get("nnl_dep") for a in n.all_input_nodes)
        try:
            result = fx.Interpreter.run_node(self, n)
        except Exception as e:
            raise ExportError(f"running the traced graph on the example input failed: "
                              f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}",
                              op=n.format_node(), module=n.meta.get("nnl_path", ""),
                              source=node_source(n)) from None
        n.meta["nnl_dep"] = dep
        if isinstance(result, torch.Tensor):
            n.meta["tensor_meta"] = _extract_tensor_metadata(result)
        n.meta["type"] = type(result)
        if not dep or not isinstance(result, torch.Tensor):
            n.meta["nnl_value"] = result
        return result


def propagate(gm, example):
    with torch.no_grad():
        return NNLShapeProp(gm).propagate(example)
