"""Exceptions raised by the exporter."""


class ExportError(Exception):
    """A model that cannot be exported. The message names the op, the module
    path and the Python source line when they are known."""

    def __init__(self, message, op=None, module=None, source=None):
        self.op = op
        self.module = module
        self.source = source
        parts = [message]
        if op is not None:
            parts.append(f"  op: {op}")
        if module is not None:
            parts.append(f"  module: {module if module else '(top level)'}")
        if source is not None:
            parts.append(f"  at: {source}")
        super().__init__("\n".join(parts))
