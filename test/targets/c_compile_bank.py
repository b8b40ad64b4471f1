#!/usr/bin/python3
"""The C backend's output of bank models compiles without a warning on every C compiler.

For each model (default: the small and mid-size bank models; --models to
choose), exported as run_bank.py does, `nnllc model.json -filetype=c` writes
model.c, which is compiled (-c) by each compiler below at
-std=c99 -Wall -Wextra -pedantic -Wshadow -Werror -O2:

  gcc, clang-19, arm-none-eabi-gcc (Cortex-M4F hard float and Cortex-M0+
  soft float), aarch64-linux-gnu-gcc, riscv64-linux-gnu-gcc,
  riscv64-unknown-elf-gcc (rv32imafc)

A compiler that is not installed is a SKIP, printed. Running the compiled C
and comparing it with the LLVM backend is run_bank.py --backend both.
Exit status 1 when any compile failed (with --strict also when anything was
skipped).
"""
import argparse
import concurrent.futures
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bank  # noqa: E402

FLAGS = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Wshadow", "-Werror", "-O2", "-c"]
COMPILERS = [
    ("gcc", ["gcc"]),
    ("clang-19", ["clang-19"]),
    ("arm-m4f", ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]),
    ("arm-m0plus", ["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"]),
    ("aarch64", ["aarch64-linux-gnu-gcc"]),
    ("riscv64", ["riscv64-linux-gnu-gcc"]),
    ("riscv32", ["riscv64-unknown-elf-gcc", "--specs=picolibc.specs", "-march=rv32imafc", "-mabi=ilp32f"]),
]
DEFAULT_MODELS = "MLP,LeNet5,SmallCNNBN,DSCNN,MobileNetV1,ResNet8,FCAutoencoder,Functional,Coverage"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated bank class names")
    ap.add_argument("--workdir", default=os.path.join(run_bank.REPO, "build", "run_bank"))
    ap.add_argument("--nnllc", default=None)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    nnllc = run_bank.find_nnllc(args.nnllc)
    if not nnllc:
        print("SKIP: nnllc not found (--nnllc, NNLLC, build/bin/nnllc)")
        return 1 if args.strict else 0
    te = run_bank.bank()
    entries = [(f, c, s) for f, c, s in te.BANK if c in models]
    root = os.path.join(os.path.abspath(args.workdir), "models")
    t0 = time.time()
    fails, skips, passes = [], [], 0
    ccs = []
    for name, cc in COMPILERS:
        if shutil.which(cc[0]) is None:
            skips.append(f"{name}: {cc[0]} not installed")
        else:
            ccs.append((name, cc))

    def one(entry):
        f, cls, shape = entry
        d, err = run_bank.export_model(te, f, cls, shape, root, 1, False)
        if d is None:
            return [(cls, "export", False, err)]
        work = os.path.join(os.path.abspath(args.workdir), "c_compile", cls)
        os.makedirs(work, exist_ok=True)
        src = os.path.join(work, "model.c")
        rc, out = run_bank.sh([nnllc, os.path.join(d, "model.json"), "-filetype=c", "-name=model", "-o", src], 900)
        if rc != 0:
            return [(cls, "nnllc", False, run_bank.tail(out))]
        res = []
        for name, cc in ccs:
            rc, out = run_bank.sh(cc + FLAGS + [src, "-o", os.path.join(work, f"model_{name}.o")], 1800)
            res.append((cls, name, rc == 0 and not out.strip(), run_bank.tail(out)))
        return res

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        for res in ex.map(one, entries):
            for cls, name, ok, out in res:
                print(f"{cls:14} {name:11} {'PASS' if ok else 'FAIL'}", flush=True)
                if ok:
                    passes += 1
                else:
                    fails.append(f"--- {cls} with {name}:\n{out}")
    for s in skips:
        print("SKIP:", s)
    for f in fails:
        print(f)
    print(f"{passes} passed, {len(fails)} failed, {len(skips)} compilers skipped ({time.time() - t0:.0f} s)")
    return 1 if fails or (args.strict and skips) else 0


if __name__ == "__main__":
    sys.exit(main())
