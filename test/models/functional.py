"""A model written with functional calls, tensor methods and Python operators
(F.relu, F.conv2d on parameters, x.view, torch.cat, x.mean((2, 3)), x * 2, x + y,
permute, transpose, matmul, a top-level skip connection...). Input 1x3x16x16."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Branch(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 1)

    def forward(self, x):
        return torch.cat([F.relu(self.a(x)), torch.sigmoid(self.b(x))], dim=1)


class Functional(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.w0 = nn.Parameter(torch.randn(8, 3, 3, 3) * 0.3)
        self.b0 = nn.Parameter(torch.randn(8) * 0.1)
        self.scale = nn.Parameter(torch.rand(1, 16, 1, 1) + 0.5)
        self.branch = Branch(8)
        self.proj = nn.Parameter(torch.randn(16, 16) * 0.25)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = F.conv2d(x, self.w0, self.b0, stride=1, padding=1)
        x = F.leaky_relu(x, 0.1)
        skip = F.max_pool2d(x, 2)                      # top-level tensor reused below
        y = self.branch(skip)                           # (N, 16, 8, 8)
        y = y * self.scale
        y = y + torch.cat([skip, skip], 1) * 2          # skip connection across the block
        y = F.adaptive_avg_pool2d(F.relu(y), (4, 4))    # (N, 16, 4, 4)
        t = y.permute(0, 2, 3, 1)                       # (N, 4, 4, 16)
        t = t @ self.proj                               # matmul on the channel axis
        t = t.transpose(1, 2) - 0.5
        g = t.mean((1, 2))                              # (N, 16)
        h = y.view(y.size(0), 16, -1).sum(-1) / 16.0    # (N, 16)
        z = torch.cat((g, h), dim=1)
        z = torch.tanh(z) + F.hardswish(z) * 0.5 - (-z).clamp(0, 1) ** 2
        return F.log_softmax(self.fc(z), dim=1)
