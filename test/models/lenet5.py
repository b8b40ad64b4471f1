"""LeNet-5 (LeCun et al. 1998) for 28x28 inputs (the 32x32 original with padding 2):
C1 6@5x5 - tanh - S2 avg 2x2 - C3 16@5x5 - tanh - S4 avg 2x2 - F5 120 - F6 84 - 10.
Input 1x1x28x28."""
import torch.nn as nn


class LeNet5(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
