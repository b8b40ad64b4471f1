"""Small CNN with BatchNorm: 3 x (conv3x3 - BN - ReLU), max pooling, global average
pooling, dropout, linear. Input 1x3x32x32."""
import torch.nn as nn


class SmallCNNBN(nn.Module):
    def __init__(self, num_classes=10, width=16):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        self.stage1 = nn.Sequential(nn.Conv2d(w, 2 * w, 3, padding=1, bias=False), nn.BatchNorm2d(2 * w),
                                    nn.ReLU(), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w),
                                    nn.ReLU(), nn.MaxPool2d(2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * w, num_classes))

    def forward(self, x):
        return self.head(self.pool(self.stage2(self.stage1(self.stem(x)))))
