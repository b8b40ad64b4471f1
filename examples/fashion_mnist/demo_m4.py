#!/usr/bin/python3
"""The README demo: the trained Fashion-MNIST CNN on an emulated Cortex-M4F.

    /usr/bin/python3 examples/fashion_mnist/demo_m4.py MODEL_DIR [--images N] [--nnllc PATH]

MODEL_DIR is the exported model (nnl-export ... -o MODEL_DIR). The script
  1. compiles it with nnllc for thumbv7em / cortex-m4 (hard float) to an object
     file and its header,
  2. links it with the generic harness (targets/harness), the mps2-an386 board
     files and N test images (pixels / 255, as the model expects),
  3. runs the firmware in qemu-system-arm -M mps2-an386 -icount shift=0,
     where SysTick counts instructions exactly,
  4. prints each prediction, the accuracy on those N images, flash (.text +
     .rodata of the model object and of the whole firmware), RAM (the arena and
     the measured stack high-water mark) and instructions per inference.
The board recipe is test/targets/run_bank.py's, so the demo and the tests link
and run the same way.
"""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "test", "targets"))
import run_bank as rb  # noqa: E402
sys.path.insert(0, os.path.join(REPO, "bench"))
from targets import model_macs  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fail(msg):
    print(f"demo_m4: error: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--images", type=int, default=100, help="test images to run (default 100)")
    ap.add_argument("--nnllc", default=os.path.join(REPO, "build", "bin", "nnllc"))
    ap.add_argument("--workdir", default=None, help="keep the build here (default: a temporary folder)")
    args = ap.parse_args()
    model = os.path.join(args.model_dir, "model.json")
    if not os.path.isfile(model):
        fail(f"{model}: no such file (export the model first, see README)")
    if not (1 <= args.images <= 10000):
        fail(f"--images {args.images}: expected 1 to 10000")
    target = rb.make_targets()["thumbv7em"]
    if target.missing():
        fail("missing " + ", ".join(target.missing()) + " (run scripts/setup.sh)")

    images = read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))[:args.images]
    labels = read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))[:args.images]
    inputs = [(im.astype(np.float32) / np.float32(255.0)).reshape(1, 1, 28, 28) for im in images]

    with tempfile.TemporaryDirectory(prefix="nnl-demo-") as tmp:
        work = args.workdir or tmp
        os.makedirs(work, exist_ok=True)
        obj = os.path.join(work, "fashion.o")
        cmd = [args.nnllc, model] + target.nnllc_flags + ["-filetype=obj", "-name=fashion", "-o", obj]
        print("$ " + " ".join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in cmd))
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            fail("nnllc failed:\n" + r.stderr)
        text, rodata = rb.section_sizes(obj)
        header = os.path.join(work, "fashion.h")
        input_c = os.path.join(work, "input_data.c")
        rb.write_input_data(input_c, inputs)
        dflags = rb.parse_header(header) + [f'-DNNL_MODEL_HEADER="{os.path.basename(header)}"']
        print(f"linking with the mps2-an386 board and {len(inputs)} test images; "
              f"running qemu-system-arm -M mps2-an386 -icount shift=0 ...")
        res, err = rb.link_and_run(target, work, obj, work, dflags, input_c)
        if res is None:
            fail(err)
        samples = res["samples"]
        if len(samples) != len(inputs):
            fail(f"the firmware ran {len(samples)} of {len(inputs)} images:\n{rb.tail(res['out'])}")
        fw_text, fw_rodata = rb.section_sizes(os.path.join(work, "firmware.elf"))
        arena = None
        for line in res["out"].splitlines():
            if line.startswith("nnl-harness"):
                arena = int(dict(kv.split("=") for kv in line.split()[1:] if "=" in kv).get("arena", 0))

    correct = 0
    print()
    print(f"{'image':>5}  {'label':<12} {'prediction':<12} instructions")
    for i in range(len(inputs)):
        s = samples[i]
        pred = int(np.argmax(s["y"]))
        ok = pred == int(labels[i])
        correct += ok
        if i < 10 or not ok and i < 40:
            print(f"{i:>5}  {CLASSES[labels[i]]:<12} {CLASSES[pred]:<12} {s.get('instructions', '?'):>12}"
                  f"{'' if ok else '   <- wrong'}")
    if len(inputs) > 10:
        print("  ...")
    instr = [s["instructions"] for s in samples.values() if "instructions" in s]
    stack = max((s.get("stack", 0) for s in samples.values()), default=0)
    print()
    print(f"accuracy on Cortex-M4: {100.0 * correct / len(inputs):.2f}% ({correct}/{len(inputs)} test images)")
    if instr:
        macs = model_macs(model)
        print(f"instructions per inference: {int(np.median(instr)):,} (QEMU -icount, SysTick; "
              f"min {min(instr):,}, max {max(instr):,})")
        if macs:
            print(f"MACs per inference: {macs:,} -> {np.median(instr) / macs:.2f} instructions per MAC")
    if text is not None:
        print(f"flash, model object: {text + rodata:,} B (.text {text:,} + .rodata {rodata:,})")
    if fw_text is not None:
        print(f"flash, whole firmware incl. test images and libc: {fw_text + fw_rodata:,} B")
    if arena is not None:
        print(f"RAM: arena {arena:,} B + stack high-water mark {stack:,} B = {arena + stack:,} B")
    return 0 if res["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
