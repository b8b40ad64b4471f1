#!/usr/bin/python3
"""Benchmark table of the bank: per model x target, nnllc-compiled code.

For each model of the bank (test/pytorch/test_export.py's BANK) and each
target it runs test/targets/run_bank.py's pipeline (nnllc -> harness ->
QEMU or native) and prints:
  - MACs per inference (conv, linear and matrix products, from model.json),
  - instructions per inference on thumbv7em (Cortex-M4F, mps2-an386) and
    riscv32 (rv32imafc, virt), deterministic: QEMU -icount shift=0, SysTick
    (40-instruction ticks) and minstret; and instructions per MAC,
  - .text and .rodata bytes of the model object on each target,
  - on x86-64: median wall time per inference of the compiled model (the
    harness re-runs the sample --reps times) beside PyTorch's own, single
    thread (torch.set_num_threads(1)), batch 1, on the same reference input,
    median of --reps runs after warm-up; ratio = PyTorch time / nnllc time
    (> 1: nnllc is faster).
Correctness is run_bank.py's job; a cell that does not match PyTorch still
shows FAIL here. Timings vary with the machine; instruction counts do not.

  /usr/bin/python3 bench/targets.py [--targets ...] [--models ...] [--reps 51]
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "targets"))

import numpy as np  # noqa: E402

import run_bank  # noqa: E402


def prod(xs):
    p = 1
    for x in xs:
        p *= int(x)
    return p


def model_macs(path):
    """Multiply-accumulates of one inference: Conv*, Linear and '*' (matmul)."""
    m = json.load(open(path))
    total = 0
    for b in m["blocks"]:
        shapes = {"X": b["input_shape"], "Y": b["output_shape"]}
        for e in b["layers"]:
            if e.get("type") == "Tensor":
                shapes[e["name"]] = e["shape"]
        for e in b["layers"]:
            t = e.get("type")
            op = e.get("name") if t == "Layer" else t
            if op not in ("Conv1d", "Conv2d", "Conv3d", "Linear", "*", "MatMul"):
                continue
            ins = e["tensor_input"] if isinstance(e["tensor_input"], list) else [e["tensor_input"]]
            out = shapes.get(e["tensor_output"] if isinstance(e["tensor_output"], str) else e["tensor_output"][0])
            if out is None or len(ins) < 2 or ins[0] not in shapes or ins[1] not in shapes:
                continue
            if op.startswith("Conv"):
                total += prod(out) * prod(shapes[ins[1]][1:])
            elif op == "Linear":
                total += prod(out) * int(shapes[ins[1]][-1])
            else:
                a = shapes[ins[0]]
                total += prod(out) * int(a[-1] if a else 1)
    return total


def torch_time_ns(te, fname, cls, x, reps):
    """Median wall time of PyTorch, 1 thread, batch 1, same weights as the export."""
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = te.load_class(fname, cls)()
    te.randomize_bn(model)
    model.eval()
    xt = torch.from_numpy(np.ascontiguousarray(x))
    ts = []
    with torch.no_grad():
        for _ in range(3):
            model(xt)
        for _ in range(reps):
            t0 = time.perf_counter_ns()
            model(xt)
            ts.append(time.perf_counter_ns() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def fmt(v, spec=","):
    return "-" if v is None else format(v, spec)


def main():
    args = run_bank.parse_args(description=__doc__, extra=[("--reps", dict(
        type=int, default=51, help="timed repetitions on x86-64 (median), nnllc and PyTorch"))])
    args.samples = 1
    targets = run_bank.select_targets(args)
    reps = str(args.reps)
    results, models, nnllc = run_bank.run_bank(
        args, targets, run_args_for=lambda t: (reps,) if t.name == "x86-64" else ())
    cell = {(r["model"], r["target"]): r for r in results}
    te = run_bank.bank()
    entries = {c: (f, s) for f, c, s in te.BANK}
    root = os.path.join(args.workdir, "models")

    macs = {}
    for m in models:
        p = os.path.join(root, m, "model.json")
        macs[m] = model_macs(p) if os.path.exists(p) else None

    tnames = list(targets)
    w = max([len(m) for m in models] + [5])
    print(f"\nbench: nnllc {nnllc or '(not built)'}; instructions from QEMU -icount shift=0")
    print(f"\n{'model':{w}} {'MACs':>13}  {'target':10} {'result':6} {'instr/inf':>14} {'instr/MAC':>9} "
          f"{'.text':>9} {'.rodata':>10}")
    for m in models:
        for t in tnames:
            r = cell.get((m, t))
            if r is None:
                continue
            instr = r["instr"]
            per = f"{instr / macs[m]:.2f}" if instr and macs[m] else "-"
            print(f"{m:{w}} {fmt(macs[m]):>13}  {t:10} {r['status']:6} {fmt(instr):>14} {per:>9} "
                  f"{fmt(r['text']):>9} {fmt(r['rodata']):>10}")

    if "x86-64" in targets:
        print(f"\nx86-64 wall time per inference (median of {args.reps}, batch 1, one thread; "
              f"ratio = PyTorch / nnllc, > 1 is faster than PyTorch)")
        print(f"{'model':{w}} {'nnllc us':>10} {'PyTorch us':>11} {'ratio':>7}  result")
        for m in models:
            r = cell.get((m, "x86-64"))
            ours = r["time_ns"] if r else None
            x = np.load(os.path.join(root, m, "reference", "input_0.npy")) \
                if os.path.exists(os.path.join(root, m, "reference", "input_0.npy")) else None
            theirs = torch_time_ns(te, entries[m][0], m, x, args.reps) if x is not None else None
            ratio = f"{theirs / ours:.2f}" if ours and theirs else "-"
            print(f"{m:{w}} {fmt(ours / 1e3 if ours else None, '.1f'):>10} "
                  f"{fmt(theirs / 1e3 if theirs else None, '.1f'):>11} {ratio:>7}  {r['status'] if r else '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
