"""DS-CNN for keyword spotting, MLPerf Tiny (Zhang et al. 2017, "Hello Edge"; the
MLPerf Tiny KWS reference): 49x10 MFCC input (NCHW 1x1x49x10), conv 64@10x4 stride 2
with TF 'same' padding, BN, ReLU, 4 x (depthwise 3x3 - BN - ReLU - pointwise 64 - BN -
ReLU), dropout 0.4, average pooling over the 25x5 map, 12 classes."""
import torch.nn as nn


def dw_block(c):
    return nn.Sequential(
        nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())


class DSCNN(nn.Module):
    def __init__(self, num_classes=12, filters=64):
        super().__init__()
        # TF 'same' for 49x10, kernel 10x4, stride 2: pad top 4, bottom 5, left 1, right 1
        self.stem = nn.Sequential(nn.ZeroPad2d((1, 1, 4, 5)), nn.Conv2d(1, filters, (10, 4), stride=2),
                                  nn.BatchNorm2d(filters), nn.ReLU())
        self.ds1 = dw_block(filters)
        self.ds2 = dw_block(filters)
        self.ds3 = dw_block(filters)
        self.ds4 = dw_block(filters)
        self.dropout = nn.Dropout(0.4)
        self.pool = nn.AvgPool2d((25, 5))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(filters, num_classes))

    def forward(self, x):
        x = self.stem(x)
        x = self.ds4(self.ds3(self.ds2(self.ds1(x))))
        return self.classifier(self.pool(self.dropout(x)))
