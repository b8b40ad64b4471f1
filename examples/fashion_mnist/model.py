"""Small CNN for Fashion-MNIST (input 1x1x28x28, uint8/255 in [0, 1]).

The input normalization is part of the model, so the exported graph takes the
raw [0, 1] pixels.
"""
import torch
import torch.nn as nn

MEAN = 0.2860
STD = 0.3530


class FashionCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64), nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        x = (x - MEAN) / STD
        x = self.features(x)
        return self.classifier(x)
