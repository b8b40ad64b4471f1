#!/usr/bin/python3
"""run_cases.py — run every op test case through the reference interpreter.

For each test/ops/cases/<case>.json:
    $NNL_RUN <case>.json --input <case>/input.npy -o <tmp>/out.npy
and compare out.npy with <case>/expected.npy (computed by gen_cases.py with
torch, independently of the C code).

Pass criterion (per case): same shape and datatype, and
    max |out - expected| <= 1e-5 * max(1, max |expected|)
i.e. 1e-5 relative to the largest expected magnitude, absolute 1e-5 when
every value is below 1. Integer outputs must match exactly (compared as
integers, not through float64).
A NaN or infinity where the expected value is finite is a failure.

For each test/ops/errors/<case>.json the model must be rejected: nnl-run exits
non-zero, its stderr contains the text of <case>.expect (one line, compared
case-insensitively), and it creates no output file (nor any temporary file in
the output directory).

NNL_RUN defaults to <repo>/build/bin/nnl-run (the repo is two levels above
this script). One line per case, then "N passed, M failed"; the exit status is
1 if anything failed.

--regen-check   instead of running, regenerate the cases into a temporary
                directory with gen_cases.py and check that the committed files
                are byte for byte what the generator writes (no drift).
-k SUBSTR       only the cases whose name contains SUBSTR.
"""
import argparse
import filecmp
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOL = 1e-5


def compare(out, exp):
    """None if out matches exp, else a short reason."""
    if out.shape != exp.shape:
        return f"shape {list(out.shape)}, expected {list(exp.shape)}"
    if out.dtype != exp.dtype:
        return f"datatype {out.dtype}, expected {exp.dtype}"
    if exp.size == 0:
        return None
    if exp.dtype.kind in "iub":
        # exact, in the integer type itself (a detour through float64 would
        # hide errors in int64 values beyond 2^53)
        if np.array_equal(out, exp):
            return None
        bad = np.flatnonzero(np.atleast_1d(out != exp))
        i = int(bad[0])
        idx = np.unravel_index(i, exp.shape) if exp.ndim else ()
        return (f"{bad.size} element(s) differ, first at {list(map(int, idx))}: "
                f"got {np.atleast_1d(out).flat[i]!r}, expected {np.atleast_1d(exp).flat[i]!r}")
    shape = exp.shape
    o = np.atleast_1d(out.astype(np.float64))  # rank 0 outputs (Mean over all axes, vec·vec)
    e = np.atleast_1d(exp.astype(np.float64))
    if not np.all(np.isfinite(o) == np.isfinite(e)):
        i = int(np.argmax(np.isfinite(o) != np.isfinite(e)))
        return f"non-finite mismatch at flat index {i}: got {o.flat[i]!r}, expected {e.flat[i]!r}"
    fin = np.isfinite(e)
    if not np.array_equal(o[~fin], e[~fin], equal_nan=True):
        return "infinities differ"
    with np.errstate(invalid="ignore"):
        diff = np.abs(o - e)
    diff[~fin] = 0
    bound = TOL * max(1.0, float(np.max(np.abs(e[fin]))) if fin.any() else 1.0)
    worst = float(np.max(diff))
    if worst > bound:
        i = int(np.argmax(diff))
        idx = np.unravel_index(i, shape) if len(shape) else ()
        return (f"max|diff| {worst:.3g} > {bound:.3g} at {list(map(int, idx))}: "
                f"got {o.flat[i]!r}, expected {e.flat[i]!r}")
    return None


def run(nnl_run, model, inp, out, timeout=60):
    try:
        return subprocess.run([nnl_run, model, "--input", inp, "-o", out],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def first_line(s):
    s = s.strip()
    return s.splitlines()[0][:200] if s else ""


def run_cases(nnl_run, root, only):
    passed = failed = 0
    cdir = os.path.join(root, "cases")
    for f in sorted(os.listdir(cdir)):
        if not f.endswith(".json"):
            continue
        name = f[:-5]
        if only and only not in name:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.npy")
            r = run(nnl_run, os.path.join(cdir, f), os.path.join(cdir, name, "input.npy"), out)
            if r is None:
                why = "timed out"
            elif r.returncode != 0:
                why = f"exit {r.returncode}: {first_line(r.stderr)}"
            elif not os.path.exists(out):
                why = "exit 0 but no output file"
            else:
                try:
                    why = compare(np.load(out, allow_pickle=False),
                                  np.load(os.path.join(cdir, name, "expected.npy")))
                except Exception as e:  # a malformed output file is a failure, not a crash
                    why = f"cannot read output: {e}"
        if why is None:
            passed += 1
            print(f"PASS  {name}")
        else:
            failed += 1
            print(f"FAIL  {name}: {why}")
    return passed, failed


def run_errors(nnl_run, root, only):
    passed = failed = 0
    edir = os.path.join(root, "errors")
    for f in sorted(os.listdir(edir)):
        if not f.endswith(".json"):
            continue
        name = f[:-5]
        if only and only not in name:
            continue
        with open(os.path.join(edir, name + ".expect")) as fh:
            want = fh.read().strip()
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.npy")
            r = run(nnl_run, os.path.join(edir, f), os.path.join(edir, name, "input.npy"), out)
            left = os.listdir(tmp)
            if r is None:
                why = "timed out"
            elif r.returncode == 0:
                why = "accepted (exit 0), expected an error"
            elif r.returncode < 0:
                why = f"killed by signal {-r.returncode}: {first_line(r.stderr)}"
            elif want.lower() not in r.stderr.lower():
                why = f"stderr lacks {want!r}: {first_line(r.stderr)!r}"
            elif left:
                why = f"left files behind: {left}"
            else:
                why = None
        if why is None:
            passed += 1
            print(f"PASS  error/{name}")
        else:
            failed += 1
            print(f"FAIL  error/{name}: {why}")
    return passed, failed


def regen_check(root):
    """Regenerate into a temp dir and compare both trees file by file."""
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, os.path.join(HERE, "gen_cases.py"), "--out", tmp],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL  gen_cases.py: " + (r.stderr.strip().splitlines() or ["?"])[-1])
            print("0 passed, 1 failed")
            return 1
        for sub in ("cases", "errors"):
            a, b = os.path.join(root, sub), os.path.join(tmp, sub)
            fa = {os.path.relpath(os.path.join(d, f), a) for d, _, fs in os.walk(a) for f in fs}
            fb = {os.path.relpath(os.path.join(d, f), b) for d, _, fs in os.walk(b) for f in fs}
            for p in sorted(fa | fb):
                if p not in fb:
                    why = "committed but not generated (stale)"
                elif p not in fa:
                    why = "generated but missing from the tree"
                elif not filecmp.cmp(os.path.join(a, p), os.path.join(b, p), shallow=False):
                    why = "differs from the generator's output"
                else:
                    passed += 1
                    continue
                failed += 1
                print(f"FAIL  {sub}/{p}: {why}")
    print(f"regen-check: {passed} files identical")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--regen-check", action="store_true")
    ap.add_argument("-k", dest="only", default="")
    ap.add_argument("--root", default=HERE, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.regen_check:
        return regen_check(args.root)
    nnl_run = os.environ.get("NNL_RUN") or os.path.join(REPO, "build", "bin", "nnl-run")
    if not os.path.isabs(nnl_run) and os.sep in nnl_run:
        nnl_run = os.path.abspath(nnl_run)
    if not os.access(nnl_run, os.X_OK):
        print(f"run_cases.py: error: {nnl_run} is not an executable (build it or set NNL_RUN)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    p1, f1 = run_cases(nnl_run, args.root, args.only)
    p2, f2 = run_errors(nnl_run, args.root, args.only)
    print(f"{p1 + p2} passed, {f1 + f2} failed")
    return 1 if f1 + f2 else 0


if __name__ == "__main__":
    sys.exit(main())
