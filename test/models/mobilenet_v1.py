"""MobileNetV1 (Howard et al. 2017) width multiplier 0.25 for Visual Wake Words,
MLPerf Tiny: 96x96x3 input (NCHW 1x3x96x96), 2 classes. Conv3x3 s2 then 13
depthwise-separable blocks (BN + ReLU6 after every conv), global average pooling,
fully connected."""
import torch.nn as nn

# (output channels at alpha=1, stride of the depthwise conv)
CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def conv_bn(cin, cout, k, s, groups=1):
    return [nn.Conv2d(cin, cout, k, s, padding=k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU6(inplace=True)]


class MobileNetV1(nn.Module):
    def __init__(self, num_classes=2, alpha=0.25):
        super().__init__()
        c = int(32 * alpha)
        layers = conv_bn(3, c, 3, 2)
        for cout, s in CFG:
            cout = int(cout * alpha)
            layers += conv_bn(c, c, 3, s, groups=c) + conv_bn(c, cout, 1, 1)
            c = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(x.view(x.size(0), -1))
