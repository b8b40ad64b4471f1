"""Fully connected autoencoder for anomaly detection, MLPerf Tiny (ToyADMOS):
640 -> 4 x (Dense 128 - BN - ReLU) -> Dense 8 - BN - ReLU -> 4 x (Dense 128 - BN -
ReLU) -> Dense 640. Input 1x640."""
import torch.nn as nn


def dense_bn(cin, cout):
    return [nn.Linear(cin, cout), nn.BatchNorm1d(cout), nn.ReLU()]


class FCAutoencoder(nn.Module):
    def __init__(self, n_in=640, hidden=128, bottleneck=8):
        super().__init__()
        enc = dense_bn(n_in, hidden)
        for _ in range(3):
            enc += dense_bn(hidden, hidden)
        self.encoder = nn.Sequential(*enc, *dense_bn(hidden, bottleneck))
        dec = dense_bn(bottleneck, hidden)
        for _ in range(3):
            dec += dense_bn(hidden, hidden)
        self.decoder = nn.Sequential(*dec, nn.Linear(hidden, n_in))

    def forward(self, x):
        return self.decoder(self.encoder(x))
