#!/usr/bin/python3
"""The int8 MLPerf Tiny models on the Cortex-M4: instructions per inference
and per MAC, flash and arena, and where the instructions go.

Models: ResNet-8, DS-CNN and MobileNetV1-0.25 of the bank (test/models),
exported and quantized exactly as test/targets/run_quant.py does (seed 0,
int8 per channel, calibrated on 32 N(0, 1) inputs), and FC-AutoEncoder for
completeness. Each is compiled three ways for -march=thumbv7em
-mcpu=cortex-m4 and run on QEMU mps2-an386 (-icount shift=0: deterministic
instruction counts, the figure of record):

  float32      the float model (not quantized)
  int8 -dsp    the int8 model with -mattr=-dsp: portable integer kernels
  int8         the int8 model as nnllc compiles it for the M4: SMLAD/SXTB16
               kernels (docs/quantization.md, "Kernels")

Every int8 run's outputs are compared bit for bit with the interpreter
(nnl-run), as run_quant.py does; a mismatch is printed as FAIL.

Table 1: per model and variant, instructions per inference, per MAC, the
cycles nnllc --estimate predicts for a Cortex-M4F (its M4 profile: SMLAD one
cycle, VMLA.F32 three, loads two; docs/estimation.md), flash (.text +
.rodata of the model object), the model's parameter count, and arena +
stack (the harness's measured high-water mark). Reference beside the int8
figure: the issue's goal, 1.2 instructions per MAC.

Table 3: x86-64 wall time per inference of the int8 models, the portable
kernels (-int8-kernels=portable) beside the vector ones nnllc picks there
(-int8-kernels=auto): -mcpu=x86-64-v2 (SSE4.2, the table's default) and
-march=native; the harness's median of 101 runs, the best of 3 processes
(timings vary with the machine's load; instruction counts do not).

Table 2: where the int8 instructions go, per layer kind, from
`nnllc --estimate=json --profile=cortex-m4f` (the estimator that is checked
against QEMU, bench/estimate.py): k×k convolutions, 1×1 convolutions,
depthwise convolutions, the Quantize/Dequantize edges, and the rest
(pooling, Linear, residual adds, entry).

  /usr/bin/python3 bench/int8.py [--models ResNet8,DSCNN,MobileNetV1,FCAutoencoder] [--workdir DIR]
"""
import argparse
import copy
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "targets"))
sys.path.insert(0, HERE)

import run_bank as rb  # noqa: E402
import run_quant as rq  # noqa: E402
from targets import model_macs  # noqa: E402

GOAL = 1.2


def layer_kinds(model_json):
    """label -> kind, from the model's Conv2d attributes and weight shapes."""
    m = json.load(open(model_json))
    kinds = {}
    for b in m["blocks"]:
        shapes = {e["name"]: e["shape"] for e in b["layers"] if e.get("type") == "Tensor"}
        for e in b["layers"]:
            if e.get("type") != "Layer":
                continue
            op = e["name"]
            out = e["tensor_output"] if isinstance(e["tensor_output"], str) else e["tensor_output"][0]
            label = f"{e.get('id') or out} ({op})"
            if op in ("Conv1d", "Conv2d"):
                w = shapes.get(e["tensor_input"][1], [])
                groups = e.get("attributes", {}).get("groups", 1)
                k = 1
                for d in w[2:]:
                    k *= int(d)
                if groups > 1 and len(w) > 1 and int(w[1]) == 1:
                    kinds[label] = "depthwise conv"
                elif k == 1:
                    kinds[label] = "1x1 conv"
                else:
                    kinds[label] = "kxk conv"
            elif op in ("Linear", "MatMul"):
                kinds[label] = "linear"
            elif op in ("Quantize", "Dequantize"):
                kinds[label] = "edges (Quantize/Dequantize)"
    return kinds


def where(nnllc, qdir, macs_by_label):
    """kind -> (instructions, MACs) from nnllc --estimate=json."""
    out = subprocess.run([nnllc, os.path.join(qdir, "model.json"), "-march=thumbv7em", "-mcpu=cortex-m4",
                          "--estimate=json", "--profile=cortex-m4f", "--no-mca", "-o", os.devnull],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    est = json.loads(out.stdout)
    kinds = layer_kinds(os.path.join(qdir, "model.json"))
    agg = {}
    seen = set()
    for L in est["layers"]:
        lab = L["layer"]
        # a fused label "a (Conv2d) + b (+)" belongs to its first node; a node's MACs count once
        # (its packing and its blocks can be two rows when only the blocks took the fused add)
        first = lab.split(" + ")[0]
        k = kinds.get(first, "other (pool, add, entry)")
        i, mac = agg.get(k, (0, 0))
        agg[k] = (i + L["instructions"], mac + (macs_by_label.get(first, 0) if first not in seen else 0))
        seen.add(first)
    return agg, est["instructions"]


def est_cycles(nnllc, d, flags):
    """Cortex-M4F cycles per inference predicted by nnllc --estimate (docs/estimation.md)."""
    out = subprocess.run([nnllc, os.path.join(d, "model.json")] + flags + ["--estimate=json", "--profile=cortex-m4f",
                          "-o", os.devnull], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)["cycles"]


def report_macs(nnllc, qdir):
    out = subprocess.run([nnllc, os.path.join(qdir, "model.json"), "-march=thumbv7em", "-mcpu=cortex-m4",
                          "--report=json", "-o", os.devnull], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    r = json.loads(out.stdout)
    return {L["layer"].split(" + ")[0]: L.get("macs", 0) for L in r["layers"]}, r["totals"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="ResNet8,DSCNN,MobileNetV1,FCAutoencoder")
    ap.add_argument("--workdir", default=os.path.join(REPO, "build", "bench_int8"))
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--jobs", type=int, default=min(3, os.cpu_count() or 1))
    args = ap.parse_args()
    args.scheme = "int8"
    args.samples = args.mcu_samples = args.big_samples = 1
    args.bin = os.path.abspath(args.bin)
    nnllc = rb.find_nnllc(os.path.join(args.bin, "nnllc"))
    if not nnllc:
        print("nnllc not built: build/bin/nnllc")
        return 1
    m4 = rb.make_targets()["thumbv7em"]
    nodsp = copy.copy(m4)
    nodsp.nnllc_flags = m4.nnllc_flags + ["-mattr=-dsp"]
    te = rb.bank()
    models = [m for m in args.models.split(",") if m]
    rows, fails = [], 0
    import concurrent.futures
    jobs = []
    for m in models:
        qdir, err = rq.prepare(m, args, te)
        if qdir is None:
            print(f"{m}: {err}")
            fails += 1
            continue
        fdir = os.path.join(args.workdir, "models", m)
        jobs.append((m, "float32", fdir, m4, False))
        jobs.append((m, "int8 -dsp", qdir, nodsp, True))
        jobs.append((m, "int8", qdir, m4, True))

    def one(j):
        m, var, d, t, q = j
        tag = m + "-" + var.replace(" ", "").replace("-", "_")
        res = rb.run_cell(d, tag, t, args, nnllc)
        return j, rq.exact(res, d) if q else res

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        results = list(ex.map(one, jobs))
    print("Table 1. Cortex-M4 (thumbv7em, QEMU mps2-an386 -icount): one inference")
    hdr = f"{'model':<14}{'variant':<11}{'MACs':>11}{'instr/inf':>14}{'instr/MAC':>10}{'goal':>6}" \
          f"{'est. cycles':>13}{'flash B':>10}{'params':>9}{'arena+stack':>12}  result"
    print(hdr)
    print("-" * len(hdr))
    breakdown = {}
    for (m, var, d, t, q), res in results:
        macs = model_macs(os.path.join(args.workdir, "models", m, "model.json"))
        ipm = res["instr"] / macs if res["instr"] and macs else None
        flash = (res["text"] or 0) + (res["rodata"] or 0)
        _, tot = report_macs(nnllc, d)
        ram = (res["arena"] or 0) + (res["stack"] or 0)
        st = res["status"] if res["status"] != rb.PASS else "PASS"
        if res["status"] != rb.PASS:
            fails += 1
        cyc = est_cycles(nnllc, d, t.nnllc_flags)
        print(f"{m:<14}{var:<11}{macs:>11,}{rb.fmt_int(res['instr']):>14}"
              f"{(f'{ipm:.2f}' if ipm else '-'):>10}{(f'{GOAL:.1f}' if var == 'int8' else ''):>6}{cyc:>13,}"
              f"{flash:>10,}{tot['params']:>9,}{ram:>12,}  {st}{(' ' + res['note'].splitlines()[0]) if res['note'] and st != 'PASS' else ''}")
        if var == "int8":
            breakdown[m] = (d, res["instr"])
    print()
    print("Table 2. Where the int8 instructions go (nnllc --estimate, Cortex-M4F profile)")
    hdr2 = f"{'model':<14}{'layer kind':<34}{'MACs':>11}{'instructions':>14}{'share':>7}{'instr/MAC':>10}"
    print(hdr2)
    print("-" * len(hdr2))
    for m, (d, measured) in breakdown.items():
        macs_by, _ = report_macs(nnllc, d)
        agg, total = where(nnllc, d, macs_by)
        for k in sorted(agg, key=lambda k: -agg[k][0]):
            i, mac = agg[k]
            print(f"{m:<14}{k:<34}{mac:>11,}{i:>14,}{100.0 * i / total:>6.1f}%"
                  f"{(f'{i / mac:.2f}' if mac else '-'):>10}")
        print(f"{m:<14}{'total (estimate; QEMU measured ' + rb.fmt_int(measured) + ')':<34}"
              f"{sum(a[1] for a in agg.values()):>11,}{total:>14,}")
    print()
    print("Table 3. x86-64 wall time per inference, int8 (us; median of 101 runs, best of 3 processes)")
    hdr3 = f"{'model':<14}{'cpu':<11}{'portable':>10}{'vector':>10}{'speed-up':>10}"
    print(hdr3)
    print("-" * len(hdr3))
    for m in models:
        qdir = os.path.join(args.workdir, "q", "int8", m)
        if not os.path.exists(os.path.join(qdir, "model.json")):
            continue
        for cpu in ("x86-64-v2", "native"):
            t = rb.make_targets("native" if cpu == "native" else "x86-64")["x86-64"]
            best = {}
            for kern in ("portable", "auto"):
                tk = copy.copy(t)
                tk.nnllc_flags = t.nnllc_flags + [f"-int8-kernels={kern}"]
                for _ in range(3):
                    res = rq.exact(rb.run_cell(qdir, f"{m}-int8-x86-{cpu}-{kern}", tk, args, nnllc, run_args=("101",)),
                                   qdir)
                    if res["status"] != rb.PASS or not res["time_ns"]:
                        fails += 1
                        best[kern] = None
                        break
                    best[kern] = min(best.get(kern) or res["time_ns"], res["time_ns"])
            if best.get("portable") and best.get("auto"):
                print(f"{m:<14}{cpu:<11}{best['portable'] / 1000:>10.1f}{best['auto'] / 1000:>10.1f}"
                      f"{best['portable'] / best['auto']:>9.2f}x")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
