#!/usr/bin/python3
"""Validate nnllc --estimate against QEMU: predicted instructions per inference
vs the exact -icount count, on every model of the bank, on thumbv7em
(Cortex-M4F, mps2-an386, SysTick, 40-instruction ticks) and riscv32
(rv32imafc, virt, minstret).

For each model and target: test/targets/run_bank.py's pipeline (nnllc ->
harness -> QEMU) gives the measured count; `nnllc --estimate=json` with the
same flags gives the prediction (control-flow-only block counts x machine
instructions + library-call costs, docs/estimation.md). Prints one row per
model and target: measured, predicted, error %, and the share of the
prediction inside library calls.

  /usr/bin/python3 bench/estimate.py [--models ...] [--goal 10] [--check]

--check: exit 1 when any model's |error| exceeds --goal percent (the ctest
mode). Models that do not fit the 4 MiB boards are listed as no-fit.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "targets"))

import run_bank  # noqa: E402


def estimate(nnllc, model_json, target, workdir):
    out = os.path.join(workdir, "est_" + target.name + ".o")
    cmd = [nnllc, model_json] + target.nnllc_flags + ["-name=model", "-o", out, "--estimate=json", "--no-mca"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
    return json.loads(r.stdout[r.stdout.index("{"):]), ""


def main():
    extra = [("--goal", dict(type=float, default=10.0, help="error goal in percent (default 10)")),
             ("--check", dict(action="store_true", help="exit 1 when a model misses the goal"))]
    args = run_bank.parse_args(description=__doc__, extra=extra)
    if args.targets == "x86-64,aarch64,riscv64,thumbv7em,riscv32":
        args.targets = "thumbv7em,riscv32"
    if args.workdir == os.path.join(REPO, "build", "run_bank"):
        args.workdir = os.path.join(REPO, "build", "estimate_bank")
    targets = run_bank.select_targets(args)
    results, models, nnllc = run_bank.run_bank(args, targets)
    if not nnllc:
        print("SKIP: nnllc not built")
        return 1 if args.strict else 0
    cell = {(r["model"], r["target"]): r for r in results}
    root = os.path.join(args.workdir, "models")
    rows, worst, bad = [], 0.0, []
    print(f"\nnnllc --estimate vs QEMU -icount (instructions per inference), goal +-{args.goal:g} %")
    print(f"{'model':14} {'target':10} {'measured':>14} {'predicted':>14} {'error %':>8} {'libcalls %':>10}  note")
    for m in models:
        for t in targets.values():
            r = cell.get((m, t.name))
            if r is None:
                continue
            if r["status"] != run_bank.PASS or not r["instr"]:
                print(f"{m:14} {t.name:10} {'-':>14} {'-':>14} {'-':>8} {'-':>10}  {r['status']} {r['note'].splitlines()[0] if r['note'] else ''}")
                continue
            e, err = estimate(nnllc, os.path.join(root, m, "model.json"), t,
                              os.path.join(args.workdir, "runs", m, t.name))
            if e is None:
                print(f"{m:14} {t.name:10} {r['instr']:>14,} {'-':>14} {'-':>8} {'-':>10}  estimate failed: {err}")
                bad.append((m, t.name, None))
                continue
            pred = e["instructions"]
            pct = 100.0 * (pred - r["instr"]) / r["instr"]
            lib = 100.0 * e["libcall_instructions"] / pred if pred else 0
            worst = max(worst, abs(pct))
            note = f"{e['data_dependent_branches']:.0f} data-dependent branches" if e["data_dependent_branches"] else ""
            print(f"{m:14} {t.name:10} {r['instr']:>14,} {pred:>14,.0f} {pct:>+8.2f} {lib:>10.1f}  {note}")
            rows.append((m, t.name, r["instr"], pred, pct))
            if abs(pct) > args.goal:
                bad.append((m, t.name, pct))
    print(f"\n{len(rows)} model/target pairs compared; worst |error| {worst:.2f} %; "
          f"{len(bad)} beyond +-{args.goal:g} %")
    return 1 if (args.check and bad) else 0


if __name__ == "__main__":
    sys.exit(main())
