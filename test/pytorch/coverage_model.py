"""Not an architecture: one model that exercises less common mappings (padding="same" with
padding_mode="reflect", dilation, BatchNorm affine=False, buffers, torch.add alpha, rsub,
PReLU, avg pool count_include_pad=False, F.pad, GELU tanh, Conv1d/MaxPool1d ceil_mode,
squeeze/unsqueeze, tensor exponent, remainder, x.mean() skip to the end)."""
import torch, torch.nn as nn, torch.nn.functional as F
class Coverage(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding='same', padding_mode='reflect')
        self.c2 = nn.Conv2d(4, 4, (3, 5), padding='same', dilation=2)
        self.bn = nn.BatchNorm2d(4, affine=False)
        self.register_buffer('k', torch.linspace(0.5, 1.5, 4).view(1, 4, 1, 1))
        self.sm = nn.Softmax(dim=1)
        self.p = nn.PReLU(4)
        self.c1d = nn.Conv1d(4, 4, 3, stride=2, padding=1)
        self.mp1 = nn.MaxPool1d(3, 2, 1, ceil_mode=True)
    def forward(self, x):
        y = self.bn(self.c2(self.c1(x)))
        y = torch.add(y, self.k * 2, alpha=0.5)
        y = 2 - y
        y = self.p(y)
        y = F.avg_pool2d(y, 3, 2, 1, count_include_pad=False)
        y = F.pad(y, (1, 0, 0, 1), value=0.25)
        y = F.gelu(y, approximate='tanh') + F.silu(y) + F.hardsigmoid(y) * F.relu6(y)
        z = y.reshape(y.shape[0], y.shape[1], -1)
        z = self.mp1(self.c1d(z))
        z = (F.relu(z) + 0.1).unsqueeze(-1).squeeze(-1) ** self.k.view(1, 4, 1)
        z = z.sum(dim=2, keepdim=True) % 3.0
        return self.sm(z.flatten(1)) + x.mean()
