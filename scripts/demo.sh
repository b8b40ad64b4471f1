#!/usr/bin/env bash
# The main job on the bundled example: install what is missing, build, export
# the trained Fashion-MNIST CNN from PyTorch to the JSON model IR, verify it,
# measure its top-1 accuracy on the 10,000 test images with the reference
# interpreter, then compile it for a Cortex-M4F and run it on an emulated
# board (QEMU mps2-an386): predictions, accuracy, flash, RAM, instructions.
#   DEMO_IMAGES=N   test images run on the emulated Cortex-M4 (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
echo "== build"
cmake -S . -B build -G Ninja >/dev/null
ninja -C build >/dev/null
echo "== export (PyTorch -> model.json + weights/)"
OUT=build/demo/fashion_cnn
rm -rf "$OUT"
frontend/pytorch/nnl-export examples/fashion_mnist/model.py:FashionCNN \
  --weights examples/fashion_mnist/fashion_cnn.pt --input-shape 1,1,28,28 -o "$OUT"
echo "== verify"
build/bin/nnl-run "$OUT/model.json" --summary
echo "== accuracy on Fashion-MNIST test set (reference interpreter)"
DATA=/usr/share/datasets/fashion-mnist
build/bin/nnl-run "$OUT/model.json" --eval-idx "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz"
echo "== the same first ${DEMO_IMAGES:-100} images in the interpreter, for comparison with the board"
build/bin/nnl-run "$OUT/model.json" --eval-idx "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" \
  --limit "${DEMO_IMAGES:-100}" | grep "top-1"
echo "== compile for Cortex-M4F (nnllc -march=thumbv7em -mcpu=cortex-m4) and run on QEMU mps2-an386"
/usr/bin/python3 examples/fashion_mnist/demo_m4.py "$OUT" --images "${DEMO_IMAGES:-100}"
