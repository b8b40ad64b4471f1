#!/usr/bin/python3
"""Train ResNet-8 (MLPerf Tiny's image-classification model) on Fashion-MNIST
made CIFAR-shaped (28x28 gray -> 32x32x3 inside the model, model.py) and save
its state_dict. Fixed seeds, Adam + one-cycle LR, batch 64, 2 threads.

    /usr/bin/python3 examples/resnet8_fashion/train.py [--epochs 1] [--train-images 30000]

This is NOT CIFAR-10: the data is Fashion-MNIST (10 classes of clothing,
60,000 training / 10,000 test gray images), the only real image set on this
machine; the network is MLPerf Tiny's ResNet-8 unchanged.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import ResNet8Fashion  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split, data=DATA):
    x = read_idx(os.path.join(data, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data, f"{split}-labels-idx1-ubyte.gz"))
    return torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-images", type=int, default=30000, help="first N training images (time budget)")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--out", default=os.path.join(HERE, "resnet8_fashion.pt"))
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(0)
    np.random.seed(0)
    xtr, ytr = load("train", args.data)
    xtr, ytr = xtr[:args.train_images], ytr[:args.train_images]
    xte, yte = load("t10k", args.data)

    model = ResNet8Fashion()
    bs = 64
    steps = args.epochs * ((len(xtr) + bs - 1) // bs)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    lossf = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), bs):
            idx = perm[i:i + bs]
            opt.zero_grad()
            loss = lossf(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
            if (i // bs) % 100 == 0:
                print(f"  step {i // bs}/{steps}: loss {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
        print(f"epoch {ep + 1}: loss {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    acc = evaluate(model, xte, yte)
    torch.save(model.state_dict(), args.out)
    print(f"PyTorch test accuracy: {acc:.4f} ({round(acc * len(xte))}/{len(xte)}), {time.time() - t0:.0f} s")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
