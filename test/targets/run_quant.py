#!/usr/bin/python3
"""Compile the int8 models for every target and compare the output bits with
the interpreter's (nnl-run): the integer lowering (codegen/lower_quant.c) must
be bit-identical to ir/ops_quant.c everywhere. The interpreter is the
reference here, not PyTorch.

Models: the Fashion-MNIST CNN (examples/fashion_mnist, calibrated on the
first 200 training images) and the MLPerf Tiny bank models ResNet8, DSCNN,
MobileNetV1, FCAutoencoder exported as run_bank.py does (seed 0,
randomized BN), calibrated on 32 random N(0, 1) inputs (seed 0):

  nnl-opt model.json -passes='quantize(scheme=int8)' --calibrate calib.npy -o q/<Model>
  nnl-run q/<Model>/model.json --input input_<i>.npy -o output_<i>.npy   (the reference)
  nnllc q/<Model>/model.json -march=... ; run on the board (run_bank.py's recipes)

Prints a matrix model x target and the detail table of run_bank.py
(Cortex-M4 / riscv32 instructions per inference from QEMU -icount, .text,
.rodata, arena), then 'N passed, M failed, K skipped'. Exit status 1 when
an output differs in any bit.

Then the lowering cases named by --cases (test/lower/quant/NAME.json, float in
and out; default: the 16x8 DSP-kernel cases), on two inputs uniform in
[-4, 4), against nnl-run the same way. A case that is missing or not float in
and out stops the run first (exit 2, each file and what is wrong).

  /usr/bin/python3 test/targets/run_quant.py [--targets ...] [--models ...] [--scheme int8|int16x8|int4] [--cases ...]
"""
import argparse
import concurrent.futures
import gzip
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_bank as rb  # noqa: E402

REPO = rb.REPO
BIN = os.path.join(REPO, "build", "bin")
DATA = "/usr/share/datasets/fashion-mnist"
# integer-only between the input Quantize and the output Dequantize; LeNet5 (--models LeNet5) keeps
# its Tanh in float32 between Dequantize/Quantize, where the compiled tanhf may differ from libm's
# in the last bit and a requantized value then by one step: not a bit-exactness test
MODELS = ["Fashion", "ResNet8", "DSCNN", "MobileNetV1", "FCAutoencoder"]


def idx_images(path, n):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    count, rows, cols = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    a = np.frombuffer(raw, dtype=np.uint8, offset=16)[:n * rows * cols]
    return (a.reshape(n, 1, rows, cols).astype(np.float32) / np.float32(255.0))


def prepare(cls, args, te):
    """-> (quantized model dir with reference/ from nnl-run, error)"""
    work = args.workdir
    if cls == "Fashion":
        fdir = os.path.join(work, "models", "Fashion")
        if not os.path.exists(os.path.join(fdir, "model.json")):
            rc, out = rb.sh([os.path.join(REPO, "frontend", "pytorch", "nnl-export"),
                             os.path.join(REPO, "examples", "fashion_mnist", "model.py") + ":FashionCNN",
                             "--weights", os.path.join(REPO, "examples", "fashion_mnist", "fashion_cnn.pt"),
                             "--input-shape", "1,1,28,28", "-o", fdir], 900)
            if rc != 0:
                return None, "nnl-export failed:\n" + rb.tail(out)
        calib = ["--calibrate", os.path.join(DATA, "train-images-idx3-ubyte.gz"), "--calib-size", "200"]
        imgs = idx_images(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"), 2)
        inputs = [imgs[i:i + 1] for i in range(2)]
    else:
        ent = [b for b in te.BANK if b[1] == cls]
        if not ent:
            return None, "not in the bank"
        fname, _, shape = ent[0]
        fdir, err = rb.export_model(te, fname, cls, shape, os.path.join(work, "models"), 2, False)
        if fdir is None:
            return None, err
        dims = [int(s) for s in shape.split(",")]
        cpath = os.path.join(work, "models", cls + "_calib.npy")
        if not os.path.exists(cpath):
            np.save(cpath, np.random.default_rng(0).standard_normal([32] + dims[1:]).astype(np.float32))
        calib = ["--calibrate", cpath]
        inputs = [np.load(os.path.join(fdir, "reference", f"input_{i}.npy")) for i in range(2)]
    qdir = os.path.join(work, "q", args.scheme, cls)
    os.makedirs(os.path.dirname(qdir), exist_ok=True)
    rc, out = rb.sh([os.path.join(args.bin, "nnl-opt"), os.path.join(fdir, "model.json"),
                     f"-passes=quantize(scheme={args.scheme})", "-o", qdir, "--force"] + calib, 900)
    if rc != 0:
        return None, "nnl-opt quantize failed:\n" + rb.tail(out)
    ref = os.path.join(qdir, "reference")
    os.makedirs(ref, exist_ok=True)
    for i, x in enumerate(inputs):
        xp = os.path.join(ref, f"input_{i}.npy")
        np.save(xp, np.asarray(x, dtype=np.float32))
        rc, out = rb.sh([os.path.join(args.bin, "nnl-run"), os.path.join(qdir, "model.json"), "--input", xp,
                         "-o", os.path.join(ref, f"output_{i}.npy")], 300)
        if rc != 0:
            return None, "nnl-run failed:\n" + rb.tail(out)
    return qdir, ""


CASES = ["conv_dw_16x8", "conv_16x8_odd", "conv_16x8_acc64", "conv_wun_16x8", "conv_whole_16x8",
         "conv_blk_k8", "conv_blk_ldm", "conv_blk_ldm_row", "conv_blk_nest", "conv_blk_int4", "conv_blk_left",
         "conv_blk_dw", "conv_blk_dw4"]

# What the M4 assembly of a case must hold (llvm_smlad.c's block asm), checked where the case
# runs on thumbv7em with the LLVM backend: the 2 x 1 blocks' ldm of a column's 4 input words into
# r0-r3; the block loops' output pointer advanced by their last store (2 x 2 blocks: 2 columns,
# depthwise: 4)
ASM_EXPECT = {
    "conv_blk_ldm": r"ldm(\.w)?\s+\w+!, \{r0, r1, r2, r3\}",
    "conv_blk_ldm_row": r"ldm(\.w)?\s+\w+!, \{r0, r1, r2, r3\}",
    "conv_blk_k8": r"strb(\.w)?\s+r\d+, \[\w+\], #2\n",
    "conv_blk_nest": r"strb(\.w)?\s+r\d+, \[\w+\], #2\n",
    "conv_blk_dw": r"strb(\.w)?\s+r\d+, \[\w+\], #4\n",
}


def asm_check(name, qdir, nnllc, res):
    """The M4 assembly of case name holds ASM_EXPECT[name] (else res fails)."""
    if res["status"] != rb.PASS or name not in ASM_EXPECT:
        return res
    rc, out = rb.sh([nnllc, os.path.join(qdir, "model.json"), "-march=thumbv7em", "-mcpu=cortex-m4",
                     "-filetype=asm", "-o", "-"], 300)
    if rc != 0 or not re.search(ASM_EXPECT[name], out):
        res["status"] = rb.FAIL
        res["note"] = f"M4 assembly without /{ASM_EXPECT[name]}/" if rc == 0 else "nnllc -filetype=asm failed"
    return res


def case_model(name):
    """test/lower/quant/<name>.json -> (its text, its JSON, error): a case must exist and take and
    give float32 (the harness reads and writes floats)"""
    src = os.path.join(REPO, "test", "lower", "quant", name + ".json")
    try:
        with open(src) as f:
            text = f.read()
        m = json.loads(text)
    except OSError as e:
        return None, None, f"{src}: no such case ({e.strerror})"
    except ValueError as e:
        return None, None, f"{src}: not JSON ({e})"
    if m.get("input_datatype") != "float32" or m.get("output_datatype") != "float32":
        return None, None, (f"{src}: expected float32 input and output (the target harness reads "
                            f"floats), found {m.get('input_datatype')} -> {m.get('output_datatype')}")
    return text, m, ""


def prepare_case(name, args):
    """test/lower/quant/<name>.json (checked by case_model) -> (model dir with reference/ from
    nnl-run, error): two inputs uniform in [-4, 4) (seed 0), saturating the input Quantize too,
    as test_lower does"""
    text, m, err = case_model(name)
    if text is None:
        return None, err
    cdir = os.path.join(args.workdir, "cases", name)
    ref = os.path.join(cdir, "reference")
    os.makedirs(ref, exist_ok=True)
    with open(os.path.join(cdir, "model.json"), "w") as f:
        f.write(text)
    rng = np.random.default_rng(0)
    for i in range(2):
        xp = os.path.join(ref, f"input_{i}.npy")
        np.save(xp, rng.uniform(-4, 4, m["input_shape"]).astype(np.float32))
        rc, out = rb.sh([os.path.join(args.bin, "nnl-run"), os.path.join(cdir, "model.json"), "--input", xp,
                         "-o", os.path.join(ref, f"output_{i}.npy")], 300)
        if rc != 0:
            return None, "nnl-run failed:\n" + rb.tail(out)
    return cdir, ""


def exact(res, qdir):
    """Bit-exact comparison of a run_cell result with the interpreter's outputs."""
    if res["status"] != rb.PASS or res["y"] is None:
        return res
    for i, y in res["y"].items():
        ref = np.load(os.path.join(qdir, "reference", f"output_{i}.npy")).astype(np.float32).ravel()
        got = np.asarray(y, dtype=np.float32).ravel()
        if got.size != ref.size or not np.array_equal(got.view(np.uint32), ref.view(np.uint32)):
            bad = int(np.argmax(got.view(np.uint32) != ref.view(np.uint32))) if got.size == ref.size else -1
            res["status"] = rb.FAIL
            res["note"] = f"sample {i}: output bits differ from nnl-run at [{bad}]"
            return res
    res["err"] = 0.0
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="x86-64,aarch64,riscv64,riscv64v,thumbv7em,riscv32")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--scheme", default="int8", choices=["int8", "int16x8", "int4"])
    ap.add_argument("--backend", choices=["llvm", "c"], default="llvm")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--workdir", default=os.path.join(REPO, "build", "run_quant"))
    ap.add_argument("--bin", default=BIN, help="directory of nnl-opt, nnl-run and nnllc")
    ap.add_argument("--x86-march", default="native")
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--mcu-samples", type=int, default=1)
    ap.add_argument("--strict", action="store_true", help="a skip (missing tool) is a failure")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="lowering cases test/lower/quant/NAME.json (float in and out) run too ('' for none)")
    args = ap.parse_args()
    bad = [err for c in args.cases.split(",") if c for _, _, err in [case_model(c)] if err]
    if bad:  # before anything is exported or written
        ap.error("--cases: " + "; ".join(bad))
    args.big_samples = 1
    args.bin = os.path.abspath(args.bin)
    targets = rb.make_targets(args.x86_march)
    tnames = [t for t in args.targets.split(",") if t]
    models = [m for m in args.models.split(",") if m]
    nnllc = rb.find_nnllc(os.path.join(args.bin, "nnllc"))
    te = rb.bank()
    prepared = {m: prepare(m, args, te) for m in models}
    cases = [c for c in args.cases.split(",") if c]
    prepared.update({"case:" + c: prepare_case(c, args) for c in cases})
    for m, (q, err) in prepared.items():
        if q is None:
            print(f"{m}: {err}")
    runs = models + ["case:" + c for c in cases]
    cells = [(m, t) for m in runs for t in tnames]

    def label(m):
        return m[5:] if m.startswith("case:") else m + "-" + args.scheme

    def one(c):
        m, t = c
        qdir = prepared[m][0]
        res = rb.run_cell(qdir, label(m), targets[t], args, nnllc, backend=args.backend)
        res = exact(res, qdir) if qdir else res
        if qdir and m.startswith("case:") and t == "thumbv7em" and args.backend == "llvm":
            res = asm_check(m[5:], qdir, nnllc, res)
        return res

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        results = list(ex.map(one, cells))
    names = [label(m) + (" [C]" if args.backend == "c" else "") for m in runs]
    rb.print_tables(results, names, tnames)
    return rb.summary(results, args.strict)


if __name__ == "__main__":
    sys.exit(main())
