"""MLP for 28x28 images: 784 -> 256 -> 128 -> 10 (ReLU). Input 1x1x28x28."""
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, in_features=784, hidden=(256, 128), num_classes=10):
        super().__init__()
        layers = [nn.Flatten()]
        prev = in_features
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(prev, num_classes)

    def forward(self, x):
        return self.head(self.body(x))
