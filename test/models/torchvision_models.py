"""torchvision's resnet18 and mobilenet_v2 (random init, no download), as
subclasses so that their top-level children (conv1, layer1, ..., features,
classifier) stay the top-level modules. Input 1x3x224x224 (any >= 32x32 works)."""
import torchvision.models as tvm
from torchvision.models.resnet import BasicBlock


class ResNet18(tvm.ResNet):
    def __init__(self, num_classes=1000):
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)


class MobileNetV2(tvm.MobileNetV2):
    def __init__(self, num_classes=1000, width_mult=1.0):
        super().__init__(num_classes=num_classes, width_mult=width_mult)
