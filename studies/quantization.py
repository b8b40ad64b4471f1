#!/usr/bin/python3
"""Quantization study: accuracy, flash and arena of the trained Fashion-MNIST
example for float32, int16x8, int8 per-channel, int8 per-tensor and int4
weights, each with the three calibration methods.

  /usr/bin/python3 studies/quantization.py [--build build-quant] [--jobs 2] [--calib-size 1000] [--limit N]

Every point: nnl-opt -passes=quantize(...) --calibrate on the first
--calib-size *training* images, then nnl-run --eval-idx on the 10,000 *test*
images (top-1). Then the model is compiled for the Cortex-M4
(nnllc -march=thumbv7em -mcpu=cortex-m4) and run on QEMU mps2-an386 on the
first test image with test/targets/run_bank.py's recipe: instructions per
inference (-icount, deterministic), flash = .text + .rodata of the model
object, RAM = the planned arena + the measured stack; the output must match
nnl-run's (bit for bit for the integer schemes). "constant data" is the
model's weights and biases as stored (nnl-run --summary). Writes
docs/studies/quantization.md and .png; raw numbers in build/studies/quantization.json.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "targets"))
import gzip  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402

import run_bank as rb  # noqa: E402
import run_quant as rq  # noqa: E402
DATA = "/usr/share/datasets/fashion-mnist"
TRAIN = os.path.join(DATA, "train-images-idx3-ubyte.gz")
IMAGES = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
LABELS = os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")
DOCS = os.path.join(REPO, "docs", "studies")
BYTES = {"float32": 4, "int8": 1, "int16": 2, "int32": 4, "int64": 8}

POINTS = [("float32", None, None)]
for scheme, args in [("int8 per-channel", "scheme=int8"), ("int8 per-tensor", "scheme=int8,per_tensor=1"),
                     ("int16x8", "scheme=int16x8"), ("int4 weights", "scheme=int4")]:
    for method in ("minmax", "percentile", "mse"):
        POINTS.append((scheme, method, args))


def sh(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(" ".join(argv) + "\n" + r.stdout[-2000:] + r.stderr[-2000:])
    return r.stdout


def arena_bytes(model_json):
    """Peak live activation bytes over the op order (X and Y included)."""
    m = json.load(open(model_json))
    peak = 0
    for blk in m["blocks"]:
        sizes, layers = {}, blk["layers"]
        n_in = 1
        for s in blk["input_shape"]:
            n_in *= s
        sizes["X"] = n_in * BYTES[blk["input_datatype"]]
        ops = []
        for e in layers:
            if e["type"] == "Tensor" and "data" not in e and "value" not in e:
                n = 1
                for s in e["shape"]:
                    n *= s
                sizes[e["name"]] = n * BYTES[e["datatype"]]
            elif e["type"] != "Tensor":
                ins = e["tensor_input"] if isinstance(e["tensor_input"], list) else [e["tensor_input"]]
                out = e["tensor_output"][0] if isinstance(e["tensor_output"], list) else e["tensor_output"]
                ops.append(([i for i in ins if i in sizes or i == "X"], out))
        if "Y" not in sizes:
            n = 1
            for s in blk["output_shape"]:
                n *= s
            sizes["Y"] = n * BYTES[blk["output_datatype"]]
        last = {}
        for i, (ins, out) in enumerate(ops):
            for t in ins:
                last[t] = i
        last["Y"] = len(ops)
        for i, (ins, out) in enumerate(ops):
            live = {t for t in sizes if (t == "X" or any(o == t for _, o in ops[:i + 1])) and last.get(t, -1) >= i}
            live.add(out)
            peak = max(peak, sum(sizes.get(t, 0) for t in live))
    return peak


def flash_bytes(model_json, bin_dir):
    out = sh([os.path.join(bin_dir, "nnl-run"), model_json, "--summary"])
    line = [l for l in out.splitlines() if l.startswith("parameters:")][0]
    return int(line.split("(")[1].split()[0])


def run_point(p, ctx):
    scheme, method, args = p
    tag = "float32" if method is None else (scheme.replace(" ", "_") + "_" + method)
    model = os.path.join(ctx["base"], "model.json")
    if method is not None:
        out = os.path.join(ctx["work"], tag)
        sh([os.path.join(ctx["bin"], "nnl-opt"), model, "-passes=quantize(%s,method=%s)" % (args, method), "-o", out,
            "--force", "--calibrate", TRAIN, "--calib-size", str(ctx["calib_size"])])
        model = os.path.join(out, "model.json")
    argv = [os.path.join(ctx["bin"], "nnl-run"), model, "--eval-idx", IMAGES, LABELS]
    if ctx["limit"]:
        argv += ["--limit", str(ctx["limit"])]
    o = sh(argv)
    acc = float([l for l in o.splitlines() if l.startswith("top-1")][0].split()[2].rstrip("%"))
    row = {"scheme": scheme, "method": method or "-", "top1": acc, "consts": flash_bytes(model, ctx["bin"])}
    row.update(on_m4(os.path.dirname(model), tag, method is not None, ctx))
    return row


def on_m4(mdir, tag, integer, ctx):
    """Compile for the Cortex-M4 and run one test image on QEMU: instructions, flash, RAM."""
    ref = os.path.join(mdir, "reference")
    os.makedirs(ref, exist_ok=True)
    xp = os.path.join(ref, "input_0.npy")
    np.save(xp, ctx["image"])
    sh([os.path.join(ctx["bin"], "nnl-run"), os.path.join(mdir, "model.json"), "--input", xp, "-o",
        os.path.join(ref, "output_0.npy")])
    args = types.SimpleNamespace(workdir=ctx["work"], samples=1, mcu_samples=1, big_samples=1)
    res = rb.run_cell(mdir, "quant-" + tag, rb.make_targets()["thumbv7em"], args,
                      os.path.join(ctx["bin"], "nnllc"))
    if integer:
        res = rq.exact(res, mdir)
    if res["status"] != rb.PASS:
        raise RuntimeError(f"{tag} on the Cortex-M4: {res['status']} {res['note']}")
    return {"m4_instr": res["instr"], "flash": res["text"] + res["rodata"], "text": res["text"],
            "rodata": res["rodata"], "arena": res["arena"], "stack": res["stack"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build-quant"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--calib-size", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    work = os.path.join(REPO, "build", "studies", "quantization")
    os.makedirs(work, exist_ok=True)
    base = os.path.join(work, "fashion")
    if not os.path.exists(os.path.join(base, "model.json")):
        sh([os.path.join(REPO, "frontend", "pytorch", "nnl-export"),
            os.path.join(REPO, "examples", "fashion_mnist", "model.py") + ":FashionCNN", "--weights",
            os.path.join(REPO, "examples", "fashion_mnist", "fashion_cnn.pt"), "--input-shape", "1,1,28,28", "-o", base])
    with gzip.open(IMAGES, "rb") as f:
        raw = f.read()
    image = (np.frombuffer(raw, dtype=np.uint8, offset=16)[:784].reshape(1, 1, 28, 28).astype(np.float32) /
             np.float32(255.0))
    ctx = {"bin": os.path.join(os.path.abspath(a.build), "bin"), "work": work, "base": base,
           "calib_size": a.calib_size, "limit": a.limit, "image": image}
    sys.path.insert(0, os.path.join(REPO, "bench"))
    from targets import model_macs
    ctx["macs"] = model_macs(os.path.join(base, "model.json"))
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(lambda p: run_point(p, ctx), POINTS))
    json.dump(rows, open(os.path.join(work, "quantization.json"), "w"), indent=1)
    f0 = rows[0]
    n = a.limit or 10000
    md = ["# Quantization study: Fashion-MNIST CNN", "",
          "Made by `/usr/bin/python3 studies/quantization.py` (rerun it to refresh this page and the plot).",
          "Model: examples/fashion_mnist (Conv 16 - Conv 32 - Linear 64 - Linear 10, %d parameters)." % 105866,
          "Calibration: the first %d *training* images (`--calibrate train-images-idx3-ubyte.gz --calib-size %d`);" %
          (a.calib_size, a.calib_size),
          "accuracy: `nnl-run --eval-idx` on the %d test images (the reference interpreter, which computes the" % n,
          "integer graph bit-exactly as docs/quantization.md specifies).", "",
          "Cortex-M4: `nnllc -march=thumbv7em -mcpu=cortex-m4`, run on QEMU mps2-an386 on the first test image",
          "(test/targets/run_bank.py's recipe; the output matches nnl-run's, bit for bit for the integer schemes).",
          "Instructions per inference from QEMU -icount (deterministic); MACs per inference: %s." % format(ctx["macs"], ","),
          "Flash = .text + .rodata of the model object (code + weights + requantization tables), measured;",
          "constant data = the weights and biases as stored in the model. RAM = the planned arena + the measured stack.", "",
          "| scheme | calibration | top-1 % | drop (points) | M4 instr / inference | instr / MAC | flash (bytes) | vs float "
          "| constant data (bytes) | RAM (bytes) |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append("| %s | %s | %.2f | %+.2f | %s | %.2f | %s | %.2fx | %s | %s |" % (
            r["scheme"], r["method"], r["top1"], r["top1"] - f0["top1"], format(r["m4_instr"], ","),
            r["m4_instr"] / ctx["macs"], format(r["flash"], ","), f0["flash"] / r["flash"], format(r["consts"], ","),
            format(r["arena"] + (r["stack"] or 0), ",")))
    best8 = max((r for r in rows if r["scheme"] == "int8 per-channel"), key=lambda r: r["top1"])
    md += ["", "Goal (issue 6): int8 per-channel within 1.0 point of float: best %.2f %% (%s) vs %.2f %% -> %s." % (
        best8["top1"], best8["method"], f0["top1"], "met" if f0["top1"] - best8["top1"] <= 1.0 else "NOT met"),
        "", "![accuracy vs flash and vs Cortex-M4 instructions](quantization.png)", ""]
    os.makedirs(DOCS, exist_ok=True)
    open(os.path.join(DOCS, "quantization.md"), "w").write("\n".join(md))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axs = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, key, scale, xlabel in [
                (axs[0], "flash", 1 / 1024, "flash: .text + .rodata of the M4 object (KiB)"),
                (axs[1], "m4_instr", 1e-6, "Cortex-M4 instructions per inference (millions, QEMU -icount)")]:
            for scheme, mk in [("float32", "o"), ("int16x8", "s"), ("int8 per-channel", "^"),
                               ("int8 per-tensor", "v"), ("int4 weights", "D")]:
                pts = [r for r in rows if r["scheme"] == scheme]
                ax.scatter([r[key] * scale for r in pts], [r["top1"] for r in pts], marker=mk, label=scheme)
                for r in pts:
                    if r["method"] != "-":
                        ax.annotate(r["method"], (r[key] * scale, r["top1"]), fontsize=7, xytext=(4, 0),
                                    textcoords="offset points")
            ax.axhline(f0["top1"] - 1.0, color="grey", ls=":", lw=1, label="float - 1 point")
            ax.set_xlabel(xlabel)
        axs[0].set_ylabel("top-1 accuracy (%%, %d test images)" % n)
        axs[0].legend(fontsize=8)
        fig.suptitle("Fashion-MNIST CNN: quantization schemes and calibration")
        fig.tight_layout()
        fig.savefig(os.path.join(DOCS, "quantization.png"), dpi=110)
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
    print("\n".join(md))


if __name__ == "__main__":
    main()
