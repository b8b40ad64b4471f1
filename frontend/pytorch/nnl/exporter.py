"""nnl.export(): PyTorch nn.Module -> OUTDIR/model.json + OUTDIR/weights/*.bin."""
import json
import os
import shutil
import tempfile

import numpy as np
import torch

from .convert import Converter, build_model
from .errors import ExportError
from .trace import propagate, trace

REFERENCE_SEED = 1234


def _entry_json(e):
    return json.dumps(e, separators=(", ", ": "), allow_nan=False)


def dumps_model(model):
    """model.json text: header fields indented, one layer per line."""
    out = ["{"]
    hdr = [k for k in model if k != "blocks"]
    for k in hdr:
        out.append(f'  "{k}": {json.dumps(model[k])},')
    out.append('  "blocks": [')
    for bi, b in enumerate(model["blocks"]):
        out.append("    {")
        for k in b:
            if k != "layers":
                out.append(f'      "{k}": {json.dumps(b[k])},')
        out.append('      "layers": [')
        for li, e in enumerate(b["layers"]):
            out.append("        " + _entry_json(e) + ("," if li + 1 < len(b["layers"]) else ""))
        out.append("      ]")
        out.append("    }" + ("," if bi + 1 < len(model["blocks"]) else ""))
    out.append("  ]")
    out.append("}")
    return "\n".join(out) + "\n"


def _random_input(shape, dtype, gen):
    if dtype.is_floating_point:
        return torch.randn(shape, generator=gen, dtype=torch.float32).to(dtype)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=gen).to(torch.bool)
    lo, hi = (0, 256) if dtype == torch.uint8 else (-128, 128)
    return torch.randint(lo, hi, shape, generator=gen).to(dtype)


def convert(module, example_input, name=None):
    """Trace and convert; returns (model dict, {weight stem: numpy array}).
    Raises ExportError; writes nothing."""
    if not isinstance(module, torch.nn.Module):
        raise ExportError(f"expected a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(example_input, torch.Tensor):
        raise ExportError("the example input must be a single tensor")
    module.eval()
    name = name or type(module).__name__.lower()
    gm = trace(module)
    gm.eval()
    gm.graph.eliminate_dead_code()
    gm.recompile()
    propagate(gm, example_input)
    conv = Converter(gm, name).convert()
    return build_model(conv, name), conv.weights


def _prepare_outdir(outdir):
    outdir = os.path.abspath(outdir)
    parent = os.path.dirname(outdir)
    if os.path.exists(outdir):
        if not os.path.isdir(outdir):
            raise ExportError(f"{outdir} exists and is not a directory")
        if os.listdir(outdir) and not os.path.exists(os.path.join(outdir, "model.json")):
            raise ExportError(f"{outdir} exists, is not empty and is not an nnl-export folder "
                              f"(no model.json); refusing to replace it")
    os.makedirs(parent, exist_ok=True)
    return outdir, parent


def export(module, example_input, outdir, with_reference=0, name=None):
    """Export `module` traced on `example_input` to `outdir`.

    outdir/model.json, outdir/weights/<module path>.<param>.bin and, with
    with_reference=N, outdir/reference/input_<i>.npy and output_<i>.npy
    (N random inputs, fixed seed, and PyTorch's outputs). The folder appears
    whole or not at all. Returns the model dict. Raises ExportError.
    """
    with torch.no_grad():
        model, weights = convert(module, example_input, name)
        refs = []
        if with_reference:
            gen = torch.Generator().manual_seed(REFERENCE_SEED)
            for _ in range(int(with_reference)):
                x = _random_input(tuple(example_input.shape), example_input.dtype, gen)
                y = module(x)
                if not isinstance(y, torch.Tensor):
                    raise ExportError("the model output is not a single tensor")
                refs.append((x.numpy(), y.detach().cpu().numpy()))
    text = dumps_model(model)

    outdir, parent = _prepare_outdir(outdir)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(outdir) + ".tmp-", dir=parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        os.makedirs(os.path.join(tmp, "weights"))
        for stem, arr in weights.items():
            with open(os.path.join(tmp, "weights", stem + ".bin"), "wb") as f:
                f.write(np.ascontiguousarray(arr).tobytes())
        if refs:
            os.makedirs(os.path.join(tmp, "reference"))
            for i, (x, y) in enumerate(refs):
                np.save(os.path.join(tmp, "reference", f"input_{i}.npy"), x)
                np.save(os.path.join(tmp, "reference", f"output_{i}.npy"), y)
        with open(os.path.join(tmp, "model.json"), "w") as f:
            f.write(text)
        if os.path.exists(outdir):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(outdir) + ".old-", dir=parent)
            os.rmdir(old)
            os.rename(outdir, old)
            os.rename(tmp, outdir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model
