"""Models the exporter must refuse (test_export.py)."""
import torch
import torch.nn as nn


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:          # data-dependent control flow
            return x * 2
        return x


class ControlFlow(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.gate = Gate()

    def forward(self, x):
        return self.gate(self.conv(x))


class Erf(nn.Module):
    def forward(self, x):
        return torch.erf(x)


class UnknownOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.act = Erf()

    def forward(self, x):
        return self.act(self.conv(x))


class UnknownModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, x):
        return self.up(self.conv(x))


class Nonzero(nn.Module):
    def forward(self, x):
        return torch.nonzero(x)


class Dynamic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.select = Nonzero()

    def forward(self, x):
        return self.select(self.conv(x))
