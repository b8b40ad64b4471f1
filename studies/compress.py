#!/usr/bin/python3
"""Compression studies: accuracy, size and speed of lowrank, prune and
drop-layer (nnl-opt) on the trained Fashion-MNIST example.

  /usr/bin/python3 studies/compress.py [lowrank|pruning|layers|all] [--build build-gopt] [--jobs 2]

For every point: nnl-opt -passes=... (parameters and MACs from --report=json),
top-1 accuracy with nnl-run --eval-idx on the 10,000 test images, flash
(.text + .rodata of the nnllc -march=thumbv7em object) and Cortex-M4
instructions per inference (QEMU mps2-an386 -icount shift=0, SysTick, through
test/targets/run_bank.py's harness; the output is checked against nnl-run on
the same image). Pruned points are compiled twice: sparse storage (default)
and dense (NNL_SPARSE_MIN=2). Writes docs/studies/<study>.md tables and
docs/studies/<study>.png plots; raw numbers in build/studies/<study>.json.
"""
import argparse
import concurrent.futures
import gzip
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "targets"))
import numpy as np  # noqa: E402
import run_bank  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
IMAGES = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
LABELS = os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")
DOCS = os.path.join(REPO, "docs", "studies")


def sh(argv, env=None, timeout=1800):
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(" ".join(argv) + "\n" + r.stdout[-2000:] + r.stderr[-2000:])
    return r.stdout


class Ctx:
    def __init__(self, args):
        self.bin = os.path.join(os.path.abspath(args.build), "bin")
        self.work = os.path.join(REPO, "build", "studies")
        os.makedirs(os.path.join(self.work, "models"), exist_ok=True)
        self.base = os.path.join(self.work, "fashion")
        if not os.path.exists(os.path.join(self.base, "model.json")):
            sh([os.path.join(REPO, "frontend", "pytorch", "nnl-export"),
                "examples/fashion_mnist/model.py:FashionCNN", "--weights",
                "examples/fashion_mnist/fashion_cnn.pt", "--input-shape", "1,1,28,28", "-o", self.base])
        with gzip.open(IMAGES) as f:
            raw = f.read()
        x = np.frombuffer(raw[16:16 + 784], dtype=np.uint8).astype(np.float32) / np.float32(255)
        self.x = x.reshape(1, 1, 28, 28)
        self.xnpy = os.path.join(self.work, "input0.npy")
        np.save(self.xnpy, self.x)
        self.m4 = run_bank.make_targets()["thumbv7em"]


def accuracy(ctx, model):
    out = sh([os.path.join(ctx.bin, "nnl-run"), model, "--eval-idx", IMAGES, LABELS])
    for line in out.splitlines():
        if line.startswith("top-1 accuracy"):
            return float(line.split()[2].rstrip("%"))
    raise RuntimeError("no accuracy in nnl-run output")


def m4(ctx, model, tag, sparse=True):
    """flash bytes (.text+.rodata), instructions per inference; output checked against nnl-run."""
    work = os.path.join(ctx.work, "m4", tag)
    os.makedirs(work, exist_ok=True)
    obj = os.path.join(work, "model.o")
    env = dict(os.environ)
    if not sparse:
        env["NNL_SPARSE_MIN"] = "2"
    sh([os.path.join(ctx.bin, "nnllc"), model] + ctx.m4.nnllc_flags + ["-filetype=obj", "-name=model", "-o", obj],
       env=env)
    text, rodata = run_bank.section_sizes(obj)
    ref = os.path.join(work, "ref.npy")
    sh([os.path.join(ctx.bin, "nnl-run"), model, "--input", ctx.xnpy, "-o", ref])
    if ctx.m4.missing():
        return text + rodata, None, "no qemu"
    input_c = os.path.join(work, "input_data.c")
    run_bank.write_input_data(input_c, [ctx.x])
    dflags = ['-DNNL_MODEL_HEADER="model.h"'] + run_bank.parse_header(os.path.join(work, "model.h"))
    r, err = run_bank.link_and_run(ctx.m4, work, obj, work, dflags, input_c)
    if r is None:
        return text + rodata, None, err
    ok, worst, msg = run_bank.compare(r["samples"], [np.load(ref)])
    s = r["samples"].get(0, {})
    return text + rodata, s.get("instructions"), "" if ok else msg


def point(ctx, tag, passes, sparse_too=False):
    out = os.path.join(ctx.work, "models", tag)
    model = os.path.join(ctx.base, "model.json")
    rep = {"model": {}, "layers": []}
    if passes:
        txt = sh([os.path.join(ctx.bin, "nnl-opt"), model, "-passes=" + passes, "-o", out, "--force",
                  "--report=json"])
        rep = json.loads(txt)
        model = os.path.join(out, "model.json")
    else:
        txt = sh([os.path.join(ctx.bin, "nnl-opt"), model, "-passes=prune(sparsity=0)", "-o", out, "--force",
                  "--report=json"])
        rep = json.loads(txt)
    res = {"tag": tag, "passes": passes or "(none)", "params": rep["model"]["params_after"],
           "nonzero": rep["model"]["nonzero_after"], "macs": rep["model"]["macs_after"], "layers": rep["layers"]}
    res["acc"] = accuracy(ctx, model)
    res["flash"], res["instr"], res["m4_note"] = m4(ctx, model, tag)
    if sparse_too:
        res["flash_dense"], res["instr_dense"], n2 = m4(ctx, model, tag + "-dense", sparse=False)
        res["m4_note"] += n2
    print(f"  {tag:28} acc {res['acc']:.2f}  params {res['params']}  nnz {res['nonzero']}  flash {res['flash']}"
          f"  instr {res['instr']}  {res['m4_note']}", file=sys.stderr, flush=True)
    return res


def run_points(ctx, pts, jobs):
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        futs = [ex.submit(point, ctx, *p) for p in pts]
        return [f.result() for f in futs]


def fmt(v, spec=","):
    return "-" if v is None else format(v, spec)


def plot(path, xs, series, xlabel, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (apt-get install python3-matplotlib): no plot", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, ys, style in series:
        ax.plot(xs, ys, style, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def layer_params(res, name):
    """parameters of one original layer after the passes (lowrank: both factors)."""
    for l in res["layers"]:
        if l["layer"] == name:
            return l["params_after"]
    return None


def study_lowrank(ctx, jobs):
    ranks = [48, 32, 30, 24, 16, 12, 8, 4, 2]
    pts = [("base", None)] + [(f"lr-r{d}", f"lowrank(rank={d},layers=classifier.1)") for d in ranks]
    pts += [(f"lr-e{e}", f"lowrank(energy={e})") for e in (0.99, 0.95, 0.9, 0.8)]
    pts += [("lr-r30-fc2r5", "lowrank(rank=30,layers=classifier.1),lowrank(rank=5,layers=classifier.3)")]
    res = run_points(ctx, pts, jobs)
    base = res[0]
    lines = ["| point | passes | classifier Linear params | model params | MACs | top-1 % | Δ points | flash B | M4 instr/inf | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        lin = 100416 + 650
        for l in r["layers"]:
            if l["action"] == "factorized":
                lin += l["params_after"] - l["params_before"]
        r["linear_params"] = lin
        lines.append(f"| {r['tag']} | `{r['passes']}` | {lin:,} | {r['params']:,} | {r['macs']:,} | {r['acc']:.2f} | "
                     f"{r['acc'] - base['acc']:+.2f} | {fmt(r['flash'])} | {fmt(r['instr'])} | "
                     f"{'; '.join(l['note'] for l in r['layers'] if l['action'] == 'factorized')} |")
    rk = sorted([r for r in res if r["tag"].startswith("lr-r") and "fc2" not in r["tag"]], key=lambda r: int(r["tag"][4:]))
    plot(os.path.join(DOCS, "lowrank.png"), [int(r["tag"][4:]) for r in rk], [("classifier.1 rank d", [r["acc"] for r in rk], "o-"),
         ("no factorization", [base["acc"]] * len(rk), "k--")], "rank d of classifier.1 (64 x 1568)",
         "Fashion-MNIST: top-1 vs rank (no retraining)")
    return res, "\n".join(lines)


def study_pruning(ctx, jobs):
    pts = [("base", None, True)]
    pts += [(f"pg-{s}", f"prune(sparsity={s},scope=global)", True) for s in (0.5, 0.7, 0.9)]
    pts += [(f"pl-{s}", f"prune(sparsity={s})", True) for s in (0.5,)]
    pts += [(f"pc1-{s}", f"prune(sparsity={s},layers=classifier.1)", True) for s in (0.5,)]
    pts += [(f"ps-{s}", f"prune(sparsity={s},mode=structured)", False) for s in (0.125, 0.25)]
    res = run_points(ctx, pts, jobs)
    base = res[0]
    lines = ["| point | passes | params | nonzero | MACs (dense) | top-1 % | Δ points | flash sparse B | flash dense B | M4 instr sparse | M4 instr dense | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        lines.append(f"| {r['tag']} | `{r['passes']}` | {r['params']:,} | {r['nonzero']:,} | {r['macs']:,} | {r['acc']:.2f} | "
                     f"{r['acc'] - base['acc']:+.2f} | {fmt(r['flash'])} | {fmt(r.get('flash_dense'))} | "
                     f"{fmt(r['instr'])} | {fmt(r.get('instr_dense'))} | {r['m4_note']} |")
    g = [base] + [r for r in res if r["tag"].startswith("pg-")]
    lyr = [base] + [r for r in res if r["tag"].startswith("pl-")]
    st = [base] + [r for r in res if r["tag"].startswith("ps-")]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 4))
        ax.plot([1 - r["nonzero"] / base["params"] for r in g], [r["acc"] for r in g], "o-", label="unstructured, global")
        ax.plot([1 - r["nonzero"] / base["params"] for r in lyr], [r["acc"] for r in lyr], "s-", label="unstructured, per layer")
        ax.plot([1 - r["params"] / base["params"] for r in st], [r["acc"] for r in st], "^-", label="structured (channels)")
        ax.set_xlabel("fraction of the model's parameters removed / zero")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title("Fashion-MNIST: top-1 vs sparsity (no retraining)")
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(DOCS, "pruning.png"), dpi=100)
        plt.close(fig)
    except ImportError:
        pass
    return res, "\n".join(lines)


def study_layers(ctx, jobs):
    model = os.path.join(ctx.base, "model.json")
    table = sh([os.path.join(ctx.bin, "nnl-opt"), model, "--rank-drop", IMAGES, LABELS])
    order = []
    for line in table.splitlines():
        p = line.split()
        if p and p[0].isdigit():
            order.append(p[1])
    pts = [("base", None)] + [(f"drop-{k}", "drop-layer(layers=" + ",".join(order[:k]) + ")") for k in range(1, len(order) + 1)]
    res = run_points(ctx, pts, jobs)
    base = res[0]
    lines = ["| point | passes | params | MACs | top-1 % | Δ points | flash B | M4 instr/inf |", "|---|---|---|---|---|---|---|---|"]
    for r in res:
        lines.append(f"| {r['tag']} | `{r['passes']}` | {r['params']:,} | {r['macs']:,} | {r['acc']:.2f} | "
                     f"{r['acc'] - base['acc']:+.2f} | {fmt(r['flash'])} | {fmt(r['instr'])} |")
    plot(os.path.join(DOCS, "layer-removal.png"), list(range(len(res))), [("drop the k least sensitive", [r["acc"] for r in res], "o-")],
         "layers removed (k)", "Fashion-MNIST: top-1 vs layers removed")
    return res, "```\n" + table.strip() + "\n```\n\n" + "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", nargs="?", default="all", choices=["lowrank", "pruning", "layers", "all"])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    ctx = Ctx(args)
    os.makedirs(DOCS, exist_ok=True)
    studies = {"lowrank": study_lowrank, "pruning": study_pruning, "layers": study_layers}
    for name in (studies if args.study == "all" else [args.study]):
        print(f"study {name}", file=sys.stderr)
        res, table = studies[name](ctx, args.jobs)
        with open(os.path.join(ctx.work, name + ".json"), "w") as f:
            json.dump(res, f, indent=1)
        with open(os.path.join(ctx.work, name + ".table.md"), "w") as f:
            f.write(table + "\n")
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
