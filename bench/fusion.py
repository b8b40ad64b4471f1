#!/usr/bin/python3
"""Fused vs unfused code: instructions per inference of every bank model.

Runs test/targets/run_bank.py's pipeline twice with the same nnllc: once
as is (the loop pass 'fuse' on) and once with -disable-pass=fuse, on the
microcontroller targets (thumbv7em: Cortex-M4F mps2-an386, riscv32: rv32imafc
virt; QEMU -icount shift=0, deterministic), and prints per model and target
the two instruction counts, their ratio (fused / unfused, < 1 is faster) and
.text bytes. Both runs must also pass run_bank's output check. Exit status 1
when fused code is slower than unfused anywhere (the goal of issue 5) or a
cell failed.

  /usr/bin/python3 bench/fusion.py [--targets thumbv7em,riscv32] [--models ...]
  --disable licm,cse   compare against -disable-pass=licm,cse instead (any loop passes)
"""
import copy
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "targets"))

import run_bank  # noqa: E402


def fmt(v):
    return "-" if v is None else f"{v:,}"


def main():
    argv = sys.argv[1:]
    if not any(a.startswith("--targets") for a in argv):
        argv = ["--targets", "thumbv7em,riscv32"] + argv
    args = run_bank.parse_args(argv, description=__doc__, extra=[("--disable", dict(
        default="fuse", help="loop passes the baseline run disables (default: fuse)"))])
    targets = run_bank.select_targets(args)
    root = args.workdir
    args.workdir = os.path.join(root, "fused")
    fused, models, nnllc = run_bank.run_bank(args, targets)
    unf_targets = {}
    for n, t in targets.items():
        u = copy.copy(t)
        u.nnllc_flags = list(t.nnllc_flags) + [f"-disable-pass={args.disable}"]
        unf_targets[n] = u
    args2 = copy.copy(args)
    args2.workdir = os.path.join(root, "unfused")
    unfused, _, _ = run_bank.run_bank(args2, unf_targets)
    F = {(r["model"], r["target"]): r for r in fused}
    U = {(r["model"], r["target"]): r for r in unfused}
    w = max([len(m) for m in models] + [5])
    print(f"\nnnllc {nnllc} with and without -disable-pass={args.disable}; "
          "instructions per inference from QEMU -icount shift=0")
    print(f"{'model':{w}}  {'target':10} {'without':>14} {'with':>14} {'ratio':>7} "
          f"{'.text w/o':>10} {'.text with':>11}  result")
    bad = 0
    for m in models:
        for t in targets:
            f, u = F.get((m, t)), U.get((m, t))
            if not f or not u:
                continue
            if f["status"] == run_bank.NOFIT:
                print(f"{m:{w}}  {t:10} {'':>14} {'':>14} {'':>7} {'':>10} {'':>11}  no-fit")
                continue
            ratio = f"{f['instr'] / u['instr']:.3f}" if f["instr"] and u["instr"] else "-"
            res = "ok"
            if f["status"] != run_bank.PASS or u["status"] != run_bank.PASS:
                res = f"fused {f['status']}, unfused {u['status']}"
                bad += f["status"] == run_bank.FAIL or u["status"] == run_bank.FAIL
            elif f["instr"] and u["instr"] and f["instr"] > u["instr"]:
                res = "SLOWER"
                bad += 1
            print(f"{m:{w}}  {t:10} {fmt(u['instr']):>14} {fmt(f['instr']):>14} {ratio:>7} "
                  f"{fmt(u['text']):>10} {fmt(f['text']):>11}  {res}")
    print(f"\n{bad} cell(s) slower with {args.disable} or failing" if bad
          else f"code with {args.disable} is not slower anywhere")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
