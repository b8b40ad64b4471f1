"""nnl: PyTorch frontend of nnllc.

    import nnl
    nnl.export(model, torch.zeros(1, 1, 28, 28), "out/lenet")

writes out/lenet/model.json (the JSON model IR, docs/frontend-pytorch.md) and
out/lenet/weights/*.bin. Requires torch >= 1.13 (torch.fx).
"""
from .errors import ExportError
from .exporter import convert, dumps_model, export

__all__ = ["export", "convert", "dumps_model", "ExportError"]
