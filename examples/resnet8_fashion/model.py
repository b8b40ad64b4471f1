"""ResNet-8 of MLPerf Tiny (test/models/resnet8.py: 32x32x3 input, three
residual stacks 16/32/64, average pool, fully connected 10) fed with
Fashion-MNIST: the model takes the raw 1x1x28x28 pixels in [0, 1] and makes
the 32x32x3 input itself, as graph ops nnl-export writes (Sub/Div, Pad,
Concat), so `nnl-run --eval-idx` feeds the IDX test set unchanged:

    x -> (x - 0.2860) / 0.3530 -> zero-pad 2 on every side (32x32)
      -> the gray plane repeated on 3 channels -> ResNet-8
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "models"))
from resnet8 import ResNet8  # noqa: E402


class ResNet8Fashion(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = ResNet8(10)

    def forward(self, x):
        x = (x - 0.2860) / 0.3530
        x = F.pad(x, (2, 2, 2, 2))
        x = torch.cat([x, x, x], 1)
        return self.net(x)
