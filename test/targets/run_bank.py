#!/usr/bin/python3
"""Run every model of the PyTorch bank on every target and compare with PyTorch.

For each bank model (test/pytorch/test_export.py's BANK, exported with the
same weights and --with-reference 2) and each target:
  nnllc model.json -march=... -filetype=obj -name=model -o model.o   (+ model.h)
  input_data.c generated from reference/input_<i>.npy (exact hex floats)
  linked with targets/harness/harness.c and the board file, run on the
  emulator (or natively), the printed output bits compared with
  reference/output_<i>.npy: max|a-b| <= 1e-4 * max(1, max|ref|).

Targets and their recipes (docs/boards.md):
  x86-64     cc, native run
  aarch64    aarch64-linux-gnu-gcc -static, qemu-aarch64
  riscv64    riscv64-linux-gnu-gcc -static, qemu-riscv64
  thumbv7em  arm-none-eabi-gcc Cortex-M4F + rdimon, qemu-system-arm -M mps2-an386 -icount shift=0
  riscv32    riscv64-unknown-elf-gcc rv32imafc + picolibc, qemu-system-riscv32 -M virt -icount shift=0

Prints a matrix model x target, a detail table (max error, instructions per
inference on the MCU targets, .text/.rodata bytes of the model object) and
'N passed, M failed, K skipped'. Exit status 1 when anything failed (with
--strict also when anything was skipped). A missing toolchain, emulator or
nnllc is a SKIP with the reason, never silent. The two torchvision models do
not fit the 4 MiB boards and are reported as such on thumbv7em/riscv32.

  --backend c   compile through nnllc -filetype=c instead: model.c built with the
                target's C compiler at -std=c99 -Wall -Wextra -pedantic -Werror;
  --backend both  runs both and compares C with LLVM outputs per model and
                target (bit for bit; a difference within 1e-6 relative is
                reported, beyond it fails). Rows of the C backend read "Model [C]".
  --self-test   prove the board recipes without nnllc: a hand-written C model
                (test/targets/selftest/) on every target, bit-exact outputs,
                deterministic instruction counts.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BOARDS = os.path.join(REPO, "targets", "boards")
HARNESS = os.path.join(REPO, "targets", "harness")
RUNTIME = os.path.join(REPO, "runtime")
SELFTEST = os.path.join(HERE, "selftest")
RTOL = 1e-4
# models too large for the 4 MiB flash / 4 MiB RAM microcontroller boards
NO_FIT_MCU = {"ResNet18", "MobileNetV2"}
# how model.c of the C backend is compiled (on top of the target's cc and cflags)
C_BACKEND_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror"]
C_RTOL = 1e-6  # C vs LLVM, relative to max(1, max|llvm|), when not bit-identical
PASS, FAIL, SKIP, NOFIT = "PASS", "FAIL", "SKIP", "no-fit"


# ---------------------------------------------------------------- targets

class Target:
    def __init__(self, name, nnllc_flags, cc, board_srcs, run, tools, mcu, timeout, cflags=(), ldflags=()):
        self.name = name
        self.nnllc_flags = list(nnllc_flags)
        self.cc = list(cc)
        self.board_srcs = list(board_srcs)
        self.run = run            # elf path -> argv
        self.tools = list(tools)  # executables that must exist
        self.mcu = mcu
        self.timeout = timeout
        self.cflags = list(cflags)
        self.ldflags = list(ldflags)

    def missing(self):
        return [t for t in self.tools if shutil.which(t) is None]


def make_targets(x86_march="native"):
    m4_ld = os.path.join(BOARDS, "mps2-an386", "mps2-an386.ld")
    rv32_link = ("-Wl,--defsym=__flash=0x80000000,--defsym=__flash_size=0x400000,"
                 "--defsym=__ram=0x80400000,--defsym=__ram_size=0x400000,--defsym=__stack_size=0x10000")
    linux_board = [os.path.join(BOARDS, "linux", "board.c")]
    ts = [
        Target("x86-64", [f"-march={x86_march}"], ["cc"], linux_board,
               lambda elf: [elf], ["cc"], False, 300),
        Target("aarch64", ["-march=aarch64"], ["aarch64-linux-gnu-gcc", "-static"], linux_board,
               lambda elf: ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", elf],
               ["aarch64-linux-gnu-gcc", "qemu-aarch64"], False, 600),
        Target("riscv64", ["-march=riscv64", "-mattr=+m,+a,+f,+d,+c"], ["riscv64-linux-gnu-gcc", "-static"],
               linux_board, lambda elf: ["qemu-riscv64", "-L", "/usr/riscv64-linux-gnu", elf],
               ["riscv64-linux-gnu-gcc", "qemu-riscv64"], False, 600),
        # RV64GC + the vector extension 1.0 (VLEN 128 in QEMU): code LLVM vectorizes with RVV
        Target("riscv64v", ["-march=riscv64", "-mattr=+m,+a,+f,+d,+c,+v"], ["riscv64-linux-gnu-gcc", "-static"],
               linux_board, lambda elf: ["qemu-riscv64", "-cpu", "rv64,v=true,vlen=128,elen=64,vext_spec=v1.0",
                                         "-L", "/usr/riscv64-linux-gnu", elf],
               ["riscv64-linux-gnu-gcc", "qemu-riscv64"], False, 600),
        Target("thumbv7em", ["-march=thumbv7em", "-mcpu=cortex-m4"],
               ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
               [os.path.join(BOARDS, "mps2-an386", "startup.c")],
               lambda elf: ["qemu-system-arm", "-M", "mps2-an386", "-icount", "shift=0", "-nographic",
                            "-semihosting", "-monitor", "none", "-serial", "none", "-kernel", elf],
               ["arm-none-eabi-gcc", "qemu-system-arm"], True, 900,
               cflags=["-ffunction-sections", "-fdata-sections"],
               ldflags=["--specs=rdimon.specs", "-T", m4_ld, "-Wl,--gc-sections"]),
        Target("riscv32", ["-march=riscv32", "-mattr=+m,+a,+f,+c"],
               ["riscv64-unknown-elf-gcc", "-march=rv32imafc", "-mabi=ilp32f"],
               [os.path.join(BOARDS, "rv32-virt", "board.c")],
               lambda elf: ["qemu-system-riscv32", "-M", "virt", "-bios", "none", "-icount", "shift=0",
                            "-nographic", "-semihosting-config", "enable=on", "-monitor", "none",
                            "-serial", "none", "-kernel", elf],
               ["riscv64-unknown-elf-gcc", "qemu-system-riscv32"], True, 900,
               cflags=["--specs=picolibc.specs", "-ffunction-sections", "-fdata-sections"],
               ldflags=["--specs=picolibc.specs", "--oslib=semihost", "--crt0=semihost", rv32_link,
                        "-Wl,--gc-sections"]),
    ]
    return {t.name: t for t in ts}


# ---------------------------------------------------------------- helpers

def sh(argv, timeout, cwd=None):
    """Run argv; returns (returncode, stdout+stderr). Timeout → returncode None."""
    try:
        r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, errors="replace")
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"")
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        return None, out + f"\n(timed out after {timeout} s)"


def tail(text, n=12):
    return "\n".join(text.strip().splitlines()[-n:])


def write_input_data(path, inputs):
    """inputs: list of float32 arrays of one size -> input_data.c with exact hex floats."""
    n = inputs[0].size
    with open(path + ".tmp", "w") as f:
        f.write("/* generated by test/targets/run_bank.py: reference inputs, exact hex floats */\n")
        f.write(f"const unsigned nnl_test_count = {len(inputs)};\n")
        f.write(f"const unsigned nnl_test_input_size = {n};\n")
        f.write(f"const float nnl_test_input[{len(inputs) * n}] = {{\n")
        for x in inputs:
            vals = np.asarray(x, dtype=np.float32).ravel().astype(np.float64)
            for i in range(0, len(vals), 8):
                f.write(",".join(float(v).hex() + "f" for v in vals[i:i + 8]) + ",\n")
        f.write("};\n")
    os.replace(path + ".tmp", path)


def parse_header(path):
    """The run function and the size macros of an nnllc header -> -D flags for harness.c."""
    text = open(path).read()
    m = re.search(r"\bint\s+(\w+)_run\s*\(", text)
    if not m:
        raise ValueError(f"{path}: no 'int PREFIX_run(' declaration")
    prefix = m.group(1)
    macros = re.findall(r"#\s*define\s+(\w+)", text)
    flags = [f"-DNNL_RUN={prefix}_run"]
    for suffix in ("ARENA_BYTES", "INPUT_SIZE", "OUTPUT_SIZE"):
        cands = [x for x in macros if x.endswith("_" + suffix)]
        pref = [x for x in cands if x.upper() == (prefix + "_" + suffix).upper()]
        if not cands:
            raise ValueError(f"{path}: no #define ..._{suffix}")
        flags.append(f"-DNNL_{suffix}={(pref or cands)[0]}")
    align = [x for x in macros if x.upper() == (prefix + "_ARENA_ALIGN").upper()]
    flags.append(f"-DNNL_ARENA_ALIGN={align[0] if align else 16}")
    return flags


def parse_run(text):
    """harness output -> {sample: {status, instructions, time_ns, stack, y(np.float32)}}"""
    samples = {}
    for line in text.splitlines():
        m = re.match(r"sample (\d+) status (-?\d+)(.*)", line)
        if m:
            s = samples.setdefault(int(m.group(1)), {"y": {}})
            s["status"] = int(m.group(2))
            for k, v in re.findall(r"(\w+) (\d+)", m.group(3)):
                s[k] = int(v)
            continue
        m = re.match(r"y (\d+) (\d+):((?: [0-9a-f]{8})+)\s*$", line)
        if m:
            s = samples.setdefault(int(m.group(1)), {"y": {}})
            for k, h in enumerate(m.group(3).split()):
                s["y"][int(m.group(2)) + k] = int(h, 16)
    for s in samples.values():
        n = len(s["y"])
        bits = np.array([s["y"].get(i, 0xFFFFFFFF) for i in range(n)], dtype=np.uint32)
        s["y"] = bits.view(np.float32)
    return samples


SIZE_TOOL = None


def section_sizes(obj):
    """(.text bytes, .rodata bytes) of an object file (llvm-size -A, else GNU size -A)."""
    global SIZE_TOOL
    if SIZE_TOOL is None:
        SIZE_TOOL = next((t for t in ("llvm-size-19", "llvm-size", "size") if shutil.which(t)), "")
    if not SIZE_TOOL:
        return None, None
    rc, out = sh([SIZE_TOOL, "-A", obj], 60)
    if rc != 0:
        return None, None
    text = rodata = 0
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 2 and p[1].isdigit():
            if p[0].startswith(".text"):
                text += int(p[1])
            elif p[0].startswith((".rodata", ".srodata", ".lrodata", ".data.rel.ro")):
                rodata += int(p[1])
    return text, rodata


def link_and_run(target, workdir, obj, header_dir, dflags, input_c, run_args=()):
    """Build the harness firmware for target and run it. Returns (result dict or None, error text)."""
    elf = os.path.join(workdir, "firmware.elf")
    common = target.cc + ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"] + target.cflags + \
        [f"-I{header_dir}", f"-I{HARNESS}", f"-I{RUNTIME}"] + dflags
    objs = []
    for src in [os.path.join(HARNESS, "harness.c"), os.path.join(RUNTIME, "nnl_runtime.c")] + target.board_srcs:
        o = os.path.join(workdir, os.path.basename(os.path.dirname(src)) + "_" +
                         os.path.basename(src).replace(".c", ".o"))
        rc, out = sh(common + ["-c", src, "-o", o], 300)
        if rc != 0:
            return None, f"compile {os.path.basename(src)} failed:\n{tail(out)}"
        objs.append(o)
    o = os.path.join(workdir, "input_data.o")
    rc, out = sh(target.cc + target.cflags + ["-O0", "-c", input_c, "-o", o], 600)
    if rc != 0:
        return None, f"compile input_data.c failed:\n{tail(out)}"
    objs.append(o)
    rc, out = sh(target.cc + objs + [obj] + target.ldflags + ["-lm", "-o", elf], 300)
    if rc != 0:
        if "overflowed" in out or "will not fit" in out or "do not fit" in out:
            return None, "does not fit the board:\n" + tail(out, 4)
        return None, f"link failed:\n{tail(out)}"
    t0 = time.time()
    rc, out = sh(target.run(elf) + list(run_args), target.timeout)
    res = {"rc": rc, "out": out, "seconds": time.time() - t0, "samples": parse_run(out)}
    with open(os.path.join(workdir, "run.log"), "w") as f:
        f.write(out)
    return res, ""


def compare(samples, refs):
    """-> (ok, worst relative error, message)"""
    worst = 0.0
    for i, ref in enumerate(refs):
        s = samples.get(i)
        if s is None:
            return False, worst, f"sample {i}: no output"
        if s.get("status", -1) != 0:
            return False, worst, f"sample {i}: run returned {s.get('status')}"
        ref = np.asarray(ref, dtype=np.float64).ravel()
        y = s["y"].astype(np.float64)
        if y.size != ref.size:
            return False, worst, f"sample {i}: {y.size} outputs, reference has {ref.size}"
        scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
        if not np.all(np.isfinite(y)):
            return False, float("inf"), f"sample {i}: non-finite output"
        err = float(np.max(np.abs(y - ref))) / scale if ref.size else 0.0
        worst = max(worst, err)
        if err > RTOL:
            j = int(np.argmax(np.abs(y - ref)))
            return False, worst, f"sample {i}: max|a-b|/max(1,max|ref|) = {err:.3g} at [{j}]: {y[j]!r} vs {ref[j]!r}"
    return True, worst, ""


# ---------------------------------------------------------------- the bank

def bank():
    sys.path.insert(0, os.path.join(REPO, "test", "pytorch"))
    import test_export  # noqa: E402  (BANK, randomize_bn, load_class)
    return test_export


def newest_mtime(paths):
    return max(os.path.getmtime(p) for p in paths if os.path.exists(p))


EXPORT_LOCK = threading.Lock()  # model construction and torch.save run in this process: one at a time


def export_model(te, fname, cls, shape, outroot, nref, fresh):
    """Export one bank model as test_export does (seed 0, randomized BN, --with-reference nref)."""
    import torch
    out = os.path.join(outroot, cls)
    src = fname if os.path.isabs(fname) else os.path.join(te.MODELS, fname)
    deps = [src] + [os.path.join(REPO, "frontend", "pytorch", "nnl", f)
                    for f in os.listdir(os.path.join(REPO, "frontend", "pytorch", "nnl")) if f.endswith(".py")]
    stamp = os.path.join(out, "reference", f"output_{nref - 1}.npy")
    if not fresh and os.path.exists(stamp) and os.path.getmtime(stamp) > newest_mtime(deps):
        return out, ""
    wpath = os.path.join(outroot, cls + ".pt")
    with EXPORT_LOCK:
        torch.manual_seed(0)
        model = te.load_class(fname, cls)()
        te.randomize_bn(model)
        model.eval()
        os.makedirs(outroot, exist_ok=True)
        torch.save(model.state_dict(), wpath)
    if os.path.exists(out):
        shutil.rmtree(out)
    rc, log = sh([te.EXPORT, f"{src}:{cls}", "--weights", wpath, "--input-shape", shape,
                  "--with-reference", str(nref), "-o", out], 900)
    if rc != 0:
        return None, f"nnl-export failed:\n{tail(log)}"
    return out, ""


def run_cell(model_dir, cls, target, args, nnllc, run_args=(), backend="llvm"):
    """One model on one target -> result dict (backend: llvm or c)."""
    res = {"model": cls + (" [C]" if backend == "c" else ""), "backend": backend, "y": None, "target": target.name, "status": FAIL, "err": None, "instr": None,
           "text": None, "rodata": None, "note": "", "time_ns": None, "stack": None, "arena": None}
    if target.mcu and cls in NO_FIT_MCU:
        res.update(status=NOFIT, note="does not fit 4 MiB flash/RAM")
        return res
    miss = target.missing()
    if miss:
        res.update(status=SKIP, note="missing " + ", ".join(miss))
        return res
    if not nnllc:
        res.update(status=SKIP, note="nnllc not built (build/bin/nnllc)")
        return res
    if model_dir is None:
        res["note"] = "export failed"
        return res
    work = os.path.join(args.workdir, "runs", cls, target.name + ("-c" if backend == "c" else ""))
    os.makedirs(work, exist_ok=True)
    obj = os.path.join(work, "model.o")
    for f in (obj, os.path.join(work, "model.h")):
        if os.path.exists(f):
            os.remove(f)
    csrc = os.path.join(work, "model.c")
    cmd = [nnllc, os.path.join(model_dir, "model.json")] + target.nnllc_flags + \
        (["-filetype=c", "-name=model", "-o", csrc] if backend == "c" else ["-filetype=obj", "-name=model", "-o", obj])
    rc, out = sh(cmd, 900)
    if rc != 0:
        res["note"] = "nnllc failed: " + " ".join(cmd) + "\n" + tail(out)
        return res
    if backend == "c":
        ccmd = target.cc + target.cflags + C_BACKEND_FLAGS + ["-c", csrc, "-o", obj]
        rc, out = sh(ccmd, 3600)
        if rc != 0:
            res["note"] = "compiling model.c failed: " + " ".join(ccmd) + "\n" + tail(out)
            return res
    header = os.path.join(work, "model.h")
    try:
        dflags = [f'-DNNL_MODEL_HEADER="model.h"'] + parse_header(header)
    except (OSError, ValueError) as e:
        res["note"] = f"header: {e}"
        return res
    res["text"], res["rodata"] = section_sizes(obj)
    nsamp = args.mcu_samples if target.mcu else args.samples
    if cls in NO_FIT_MCU and target.name != "x86-64":
        nsamp = min(nsamp, args.big_samples)  # seconds of qemu-user per sample
    refdir = os.path.join(model_dir, "reference")
    inputs = [np.load(os.path.join(refdir, f"input_{i}.npy")) for i in range(nsamp)]
    refs = [np.load(os.path.join(refdir, f"output_{i}.npy")) for i in range(nsamp)]
    input_c = os.path.join(work, "input_data.c")
    write_input_data(input_c, inputs)
    r, err = link_and_run(target, work, obj, work, dflags, input_c, run_args)
    if r is None:
        if err.startswith("does not fit"):
            res["status"] = FAIL
        res["note"] = err
        return res
    ok, worst, msg = compare(r["samples"], refs)
    res["err"] = worst
    res["y"] = {i: s["y"] for i, s in r["samples"].items()}
    instr = [s.get("instructions") for s in r["samples"].values() if s.get("instructions") is not None]
    res["instr"] = max(instr) if instr else None
    ts = [s.get("time_ns") for s in r["samples"].values() if s.get("time_ns") is not None]
    res["time_ns"] = min(ts) if ts else None
    st = [s.get("stack") for s in r["samples"].values() if s.get("stack")]
    res["stack"] = max(st) if st else None
    m = re.search(r"arena=(\d+)", r["out"])
    res["arena"] = int(m.group(1)) if m else None
    res["seconds"] = r["seconds"]
    if r["rc"] != 0 and ok:
        ok, msg = False, f"exit status {r['rc']}:\n{tail(r['out'])}"
    if not ok and not msg:
        msg = tail(r["out"])
    res["status"] = PASS if ok else FAIL
    res["note"] = msg
    return res


def find_nnllc(arg):
    for p in [arg, os.environ.get("NNLLC"), os.path.join(REPO, "build", "bin", "nnllc")]:
        if p and os.access(p, os.X_OK):
            return os.path.abspath(p)
    return None


# ---------------------------------------------------------------- reporting

def fmt_int(v):
    return "-" if v is None else f"{v:,}"


def print_tables(results, models, tnames, out=sys.stdout):
    cell = {(r["model"], r["target"]): r for r in results}
    w = max([len(m) for m in models] + [5])
    print("\n" + "model".ljust(w) + "".join(f"  {t:>10}" for t in tnames), file=out)
    for m in models:
        print(m.ljust(w) + "".join(f"  {cell[(m, t)]['status']:>10}" if (m, t) in cell else f"  {'':>10}"
                                   for t in tnames), file=out)
    print("\n" + f"{'model':{w}}  {'target':10} {'result':6} {'max err':>9} {'instr/inf':>14} "
          f"{'.text':>9} {'.rodata':>10} {'arena+stack':>12}  note", file=out)
    for m in models:
        for t in tnames:
            r = cell.get((m, t))
            if not r:
                continue
            err = "-" if r["err"] is None else f"{r['err']:.2e}"
            note = r["note"].splitlines()[0] if r["note"] else ""
            ram = "-" if r.get("arena") is None or not r.get("stack") else f"{r['arena'] + r['stack']:,}"
            print(f"{m:{w}}  {t:10} {r['status']:6} {err:>9} {fmt_int(r['instr']):>14} "
                  f"{fmt_int(r['text']):>9} {fmt_int(r['rodata']):>10} {ram:>12}  {note}", file=out)
    fails = [r for r in results if r["status"] == FAIL and r["note"]]
    if fails:
        print("\nfailures:", file=out)
        for r in fails:
            print(f"--- {r['model']} on {r['target']}:\n{r['note']}", file=out)


def summary(results, strict):
    npass = sum(r["status"] == PASS for r in results)
    nfail = sum(r["status"] == FAIL for r in results)
    nskip = sum(r["status"] == SKIP for r in results)
    nofit = sum(r["status"] == NOFIT for r in results)
    print(f"\n({nofit} model/target pairs do not fit the board and are not run)")
    print(f"{npass} passed, {nfail} failed, {nskip} skipped")
    return 1 if nfail or (strict and nskip) else 0


# ---------------------------------------------------------------- self-test

def selftest_expected(x):
    """selftest_model.c's formula, exact for dyadic inputs."""
    y = []
    for j in range(8):
        acc = 0.25 * (j - 3)
        for i in range(16):
            acc += float(x[i]) * (((i * 7 + j * 3) % 11 - 5) * 0.125)
        y.append(max(acc, 0.0))
    return np.array(y, dtype=np.float32)


def self_test(args, targets):
    rng = np.random.default_rng(1)
    xs = [rng.integers(-8, 9, 16).astype(np.float32) / 4 for _ in range(2)]
    xs.append(xs[0].copy())  # sample 2 repeats sample 0: the same instruction count
    refs = [selftest_expected(x) for x in xs]
    results = []

    def one(t):
        res = {"model": "selftest", "target": t.name, "status": FAIL, "err": None, "instr": None,
               "text": None, "rodata": None, "note": ""}
        miss = t.missing()
        if miss:
            res.update(status=SKIP, note="missing " + ", ".join(miss))
            return res
        work = os.path.join(args.workdir, "selftest", t.name)
        os.makedirs(work, exist_ok=True)
        obj = os.path.join(work, "selftest_model.o")
        rc, out = sh(t.cc + t.cflags + ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-c",
                                        os.path.join(SELFTEST, "selftest_model.c"), "-o", obj], 120)
        if rc != 0:
            res["note"] = "compile failed:\n" + tail(out)
            return res
        res["text"], res["rodata"] = section_sizes(obj)
        input_c = os.path.join(work, "input_data.c")
        write_input_data(input_c, xs)
        dflags = ['-DNNL_MODEL_HEADER="selftest.h"', "-DNNL_PREFIX=selftest", "-DNNL_PREFIX_UC=SELFTEST"]
        r, err = link_and_run(t, work, obj, SELFTEST, dflags, input_c)
        if r is None:
            res["note"] = err
            return res
        ok, worst, msg = compare(r["samples"], refs)
        res["err"] = worst
        if ok:
            for i, ref in enumerate(refs):
                if r["samples"][i]["y"].tobytes() != ref.tobytes():
                    ok, msg = False, f"sample {i}: output bits differ from the exact result"
        if ok and r["rc"] != 0:
            ok, msg = False, f"exit status {r['rc']}"
        if t.mcu and ok:
            counts = [r["samples"][i].get("instructions") for i in range(3)]
            res["instr"] = counts[0]
            if not all(counts) or counts[0] != counts[2]:
                ok, msg = False, f"instruction counts {counts}: missing or not deterministic"
        res["status"] = PASS if ok else FAIL
        res["note"] = msg
        return res

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        results = list(ex.map(one, targets.values()))
    print_tables(results, ["selftest"], list(targets))
    return summary(results, args.strict)


# ---------------------------------------------------------------- main

def run_bank(args, targets, run_args_for=lambda t: ()):
    """Export the bank and run every (model, target) cell. Returns (results, models)."""
    te = bank()
    entries = [(f, c, s) for f, c, s in te.BANK if not args.models or c in args.models or c.lower() in args.models]
    nref = max(args.samples, args.mcu_samples)
    root = os.path.join(args.workdir, "models")
    t0 = time.time()
    dirs = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        futs = {c: ex.submit(export_model, te, f, c, s, root, nref, args.fresh) for f, c, s in entries}
        for c, fu in futs.items():
            d, err = fu.result()
            dirs[c] = d
            if err:
                print(f"{c}: {err}", file=sys.stderr)
    print(f"exported {len(entries)} models in {time.time() - t0:.0f} s", file=sys.stderr)
    nnllc = find_nnllc(args.nnllc)
    if not nnllc:
        print("SKIP: nnllc not found (build/bin/nnllc, NNLLC, --nnllc): every cell is skipped", file=sys.stderr)
    cells = [(c, t) for _, c, _ in entries for t in targets.values()]
    # the slow emulated microcontroller runs first so the two workers stay busy to the end
    cells.sort(key=lambda ct: (not ct[1].mcu, ct[0] not in ("MobileNetV1", "ResNet8", "DSCNN")))
    results = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        futs = [ex.submit(run_cell, dirs[c], c, t, args, nnllc, run_args_for(t), b)
                for c, t in cells for b in backends(args)]
        for fu in concurrent.futures.as_completed(futs):
            r = fu.result()
            results.append(r)
            if args.verbose:
                print(f"  {r['model']:14} {r['target']:10} {r['status']}  {r['note'].splitlines()[0] if r['note'] else ''}",
                      file=sys.stderr, flush=True)
    labels = [c + (" [C]" if b == "c" else "") for _, c, _ in entries for b in backends(args)]
    return results, labels, nnllc


def backends(args):
    b = getattr(args, "backend", "llvm")
    return ["llvm", "c"] if b == "both" else [b]


def compare_backends(results):
    """--backend both: the C backend's outputs against LLVM's, per model and target.
    Bit-identical is expected (same loop IR, same semantics); within C_RTOL is
    reported, beyond it the C cell fails. Prints one line per pair."""
    llvm = {(r["model"], r["target"]): r for r in results if r.get("backend") == "llvm"}
    same = close = differ = 0
    print("\nC backend vs LLVM backend (same inputs, per model and target):")
    for r in results:
        if r.get("backend") != "c":
            continue
        o = llvm.get((r["model"][:-len(" [C]")], r["target"]))
        if not o or r["y"] is None or o["y"] is None:
            continue
        worst, bits = 0.0, True
        for i, y in o["y"].items():
            yc = r["y"].get(i)
            if yc is None or yc.shape != y.shape:
                worst, bits = float("inf"), False
                break
            if yc.tobytes() != y.tobytes():
                bits = False
                a, b = y.astype(np.float64), yc.astype(np.float64)
                nan = np.isnan(a) & np.isnan(b)
                d = np.where(nan, 0.0, np.abs(a - b))
                worst = max(worst, float(np.max(d)) / max(1.0, float(np.max(np.abs(np.where(nan, 0.0, a))))))
        if bits:
            same += 1
            verdict = "bit-identical"
        elif worst <= C_RTOL:
            close += 1
            verdict = f"differs, max rel {worst:.2e} (within {C_RTOL:g})"
        else:
            differ += 1
            verdict = f"DIFFERS, max rel {worst:.2e}"
            r["status"] = FAIL
            r["note"] = f"C output differs from LLVM's: max rel {worst:.3g}" + ("; " + r["note"] if r["note"] else "")
        print(f"  {r['model'][:-4]:14} {r['target']:10} {verdict}")
    print(f"{same} bit-identical, {close} within {C_RTOL:g}, {differ} beyond")


def parse_args(argv=None, description=__doc__, extra=()):
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, kw in extra:
        ap.add_argument(flag, **kw)
    ap.add_argument("--targets", default="x86-64,aarch64,riscv64,thumbv7em,riscv32",
                    help="comma-separated subset of x86-64,aarch64,riscv64,riscv64v (RVV),thumbv7em,riscv32")
    ap.add_argument("--models", default="", help="comma-separated bank class names (default: all)")
    ap.add_argument("--samples", type=int, default=2, help="reference samples per model on hosted targets")
    ap.add_argument("--mcu-samples", type=int, default=1, help="reference samples per model on thumbv7em/riscv32")
    ap.add_argument("--big-samples", type=int, default=1,
                    help="samples for resnet18/mobilenet_v2 on the qemu-user targets (aarch64, riscv64)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--workdir", default=os.path.join(REPO, "build", "run_bank"))
    ap.add_argument("--nnllc", default=None, help="path of nnllc (default: $NNLLC or build/bin/nnllc)")
    ap.add_argument("--x86-march", default="native", help="nnllc -march for the x86-64 target (native or x86-64)")
    ap.add_argument("--backend", choices=["llvm", "c", "both"], default="llvm",
                    help="nnllc's LLVM objects, its C output (-filetype=c) built with the target's cc, or both "
                         "compared with each other")
    ap.add_argument("--fresh", action="store_true", help="re-export the bank even if an export is up to date")
    ap.add_argument("--strict", action="store_true", help="a skip (missing tool or nnllc) is a failure")
    ap.add_argument("--self-test", action="store_true", help="prove the board recipes with a hand-written C model")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.workdir = os.path.abspath(args.workdir)
    return args


def select_targets(args):
    all_t = make_targets(args.x86_march)
    names = [t for t in args.targets.split(",") if t]
    bad = [t for t in names if t not in all_t]
    if bad:
        sys.exit(f"run_bank: unknown target(s) {', '.join(bad)}; valid: {', '.join(all_t)}")
    return {n: all_t[n] for n in names}


def main():
    args = parse_args()
    targets = select_targets(args)
    if args.self_test:
        return self_test(args, targets)
    t0 = time.time()
    results, models, _ = run_bank(args, targets)
    if args.backend == "both":
        compare_backends(results)
    print_tables(results, models, list(targets))
    print(f"\n(total {time.time() - t0:.0f} s)")
    return summary(results, args.strict)


if __name__ == "__main__":
    sys.exit(main())
