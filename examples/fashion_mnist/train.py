#!/usr/bin/python3
"""Train the small Fashion-MNIST CNN (fixed seed) and save its state_dict.

    /usr/bin/python3 examples/fashion_mnist/train.py [--epochs 3] [--out fashion_cnn.pt]

Reads the IDX files from /usr/share/datasets/fashion-mnist/ and prints the
PyTorch top-1 accuracy on the 10,000 test images.
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
from model import FashionCNN  # noqa: E402

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
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--out", default=os.path.join(HERE, "fashion_cnn.pt"))
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(0)
    np.random.seed(0)
    xtr, ytr = load("train", args.data)
    xte, yte = load("t10k", args.data)

    model = FashionCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=4e-3, total_steps=args.epochs * ((len(xtr) + 127) // 128))
    lossf = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = lossf(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {ep + 1}: loss {loss.item():.4f}  test acc {evaluate(model, xte, yte):.4f}"
              f"  ({time.time() - t0:.0f} s)", flush=True)
    acc = evaluate(model, xte, yte)
    torch.save(model.state_dict(), args.out)
    print(f"PyTorch test accuracy: {acc:.4f} ({round(acc * len(xte))}/{len(xte)})")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
