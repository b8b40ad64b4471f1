"""nnl-export command line."""
import argparse
import importlib.util
import json
import os
import sys
import zipfile

from .errors import ExportError

USAGE = """nnl-export path/to/model.py:ClassName [--init-args JSON] [--weights state_dict.pt]
                  --input-shape 1,1,28,28 [--input-dtype float32] [--with-reference N] -o OUTDIR
       nnl-export --module pickled_model.pt --input-shape ... -o OUTDIR"""

TORCHSCRIPT_MSG = """{path} is a TorchScript archive (torch.jit.save). nnl-export does not import it:
  - it does contain the weights and a graph of aten ops (code/*.py and constants), so it
    can be run with torch.jit.load, and its weights could be extracted;
  - but it is no longer the nn.Module: fx cannot trace it, the module structure that gives
    blocks and ids is flattened into scripted code, and its op set (aten::*) would need a
    separate translator.
Export from the Python source instead:
  nnl-export model.py:ClassName --weights state_dict.pt --input-shape ... -o OUTDIR
(get the state_dict with torch.jit.load(path).state_dict() and torch.save it)."""


def _is_torchscript(path):
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.split("/", 1)[-1].startswith("code/") or n.endswith("constants.pkl") for n in names)


def load_class(spec):
    if ":" not in spec:
        raise ExportError(f"expected path/to/model.py:ClassName, got '{spec}'")
    path, cls = spec.rsplit(":", 1)
    if not os.path.isfile(path):
        raise ExportError(f"{path}: no such file")
    path = os.path.abspath(path)
    d = os.path.dirname(path)
    if d not in sys.path:
        sys.path.insert(0, d)
    modname = os.path.splitext(os.path.basename(path))[0]
    spec_ = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec_)
    sys.modules[modname] = mod
    try:
        spec_.loader.exec_module(mod)
    except Exception as e:
        raise ExportError(f"{path}: importing the model file failed: {type(e).__name__}: {e}")
    if not hasattr(mod, cls):
        raise ExportError(f"{path}: no class '{cls}'")
    return getattr(mod, cls)


def build_module(args):
    import torch
    if args.module:
        if not os.path.isfile(args.module):
            raise ExportError(f"{args.module}: no such file")
        if _is_torchscript(args.module):
            raise ExportError(TORCHSCRIPT_MSG.format(path=args.module))
        try:
            obj = torch.load(args.module, map_location="cpu")
        except Exception as e:
            raise ExportError(f"{args.module}: torch.load failed: {type(e).__name__}: {e}\n"
                              "(a pickled module needs its class importable: run from the folder "
                              "of its source or set PYTHONPATH)")
        if isinstance(obj, torch.nn.Module):
            return obj
        if isinstance(obj, dict):
            raise ExportError(f"{args.module} holds a state_dict (only weights, no model structure); "
                              "use: nnl-export model.py:ClassName --weights "
                              f"{args.module} ...")
        raise ExportError(f"{args.module} holds a {type(obj).__name__}, not an nn.Module")
    if not args.model:
        raise ExportError("give path/to/model.py:ClassName or --module FILE")
    cls = load_class(args.model)
    init = json.loads(args.init_args) if args.init_args else {}
    try:
        if isinstance(init, list):
            m = cls(*init)
        elif isinstance(init, dict):
            m = cls(**init)
        else:
            m = cls(init)
    except Exception as e:
        raise ExportError(f"{args.model}({args.init_args or ''}) failed: {type(e).__name__}: {e}")
    if args.weights:
        if _is_torchscript(args.weights):
            raise ExportError(TORCHSCRIPT_MSG.format(path=args.weights))
        sd = torch.load(args.weights, map_location="cpu")
        if isinstance(sd, torch.nn.Module):
            sd = sd.state_dict()
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        try:
            m.load_state_dict(sd, strict=True)
        except Exception as e:
            raise ExportError(f"{args.weights}: load_state_dict failed: {e}")
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(prog="nnl-export", usage=USAGE,
                                 description="Export a PyTorch model to the nnllc JSON model IR.")
    ap.add_argument("model", nargs="?", help="path/to/model.py:ClassName")
    ap.add_argument("--module", help="a whole pickled module (torch.save(model))")
    ap.add_argument("--init-args", help="JSON list (positional) or object (keyword) for the constructor")
    ap.add_argument("--weights", help="state_dict file (torch.save(model.state_dict()))")
    ap.add_argument("--input-shape", required=True, help="e.g. 1,1,28,28")
    ap.add_argument("--input-dtype", default="float32")
    ap.add_argument("--with-reference", type=int, default=0, metavar="N",
                    help="also write N random inputs and PyTorch's outputs under OUTDIR/reference/")
    ap.add_argument("--name", help="model name (default: class name, lower case)")
    ap.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    args = ap.parse_args(argv)
    try:
        import torch
        torch.manual_seed(0)
        try:
            shape = [int(s) for s in args.input_shape.replace("x", ",").split(",") if s.strip()]
        except ValueError:
            raise ExportError(f"bad --input-shape '{args.input_shape}'")
        dt = getattr(torch, args.input_dtype, None)
        if not isinstance(dt, torch.dtype):
            raise ExportError(f"unknown --input-dtype '{args.input_dtype}'")
        module = build_module(args)
        example = torch.zeros(shape, dtype=dt)
        from .exporter import export
        model = export(module, example, args.output, with_reference=args.with_reference,
                       name=args.name)
    except ExportError as e:
        print(f"nnl-export: error: {e}", file=sys.stderr)
        return 1
    nl = sum(len(b["layers"]) for b in model["blocks"])
    print(f"nnl-export: wrote {args.output}/model.json ({len(model['blocks'])} blocks, {nl} entries)")
    return 0
