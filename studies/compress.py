#!/usr/bin/python3
"""Compression studies: accuracy, size and speed of lowrank, prune and
drop-layer (nnl-opt) on two trained models: the Fashion-MNIST CNN
(examples/fashion_mnist) and MLPerf Tiny's ResNet-8 trained on Fashion-MNIST
made 32x32x3 inside the model (examples/resnet8_fashion).

  /usr/bin/python3 studies/compress.py [lowrank|pruning|layers|all] [--model fashion|resnet8|both]
                                       [--build build] [--jobs 2] [--limit N]

For every point: nnl-opt -passes=... (parameters and MACs from --report=json),
top-1 accuracy with nnl-run --eval-idx on the 10,000 test images, flash
(.text + .rodata of the nnllc -march=thumbv7em object) and Cortex-M4
instructions per inference (QEMU mps2-an386 -icount shift=0, SysTick, through
test/targets/run_bank.py's harness; the output is checked against nnl-run on
the same image). Pruned points are compiled twice: sparse storage (nnllc's
default) and dense (-sparse-min=off). Writes the tables to
build/studies/<model>-<study>.table.md (raw numbers: .json beside them) and
the plots to docs/studies/<study>[-resnet8].png, and replaces the table
blocks marked <!-- compress.py MODEL-STUDY --> ... <!-- end --> in the
docs/studies/*.md pages. Accuracies are cached by the content hash of the model
folder (build/studies/acc-cache.json), so a rerun only evaluates new models.
"""
import argparse
import concurrent.futures
import gzip
import hashlib
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


MODELS = {
    "fashion": ("examples/fashion_mnist/model.py:FashionCNN", "examples/fashion_mnist/fashion_cnn.pt", None),
    # BatchNorm folded first: the deployable form, and every point starts from it
    "resnet8": ("examples/resnet8_fashion/model.py:ResNet8Fashion", "examples/resnet8_fashion/resnet8_fashion.pt",
                "fold-bn"),
}


class Ctx:
    def __init__(self, args, name="fashion"):
        self.name = name
        self.limit = args.limit
        self.rank_limit = args.rank_limit
        self.bin = os.path.join(os.path.abspath(args.build), "bin")
        self.work = os.path.join(REPO, "build", "studies")
        os.makedirs(os.path.join(self.work, "models"), exist_ok=True)
        spec, weights, prep = MODELS[name]
        self.base = os.path.join(self.work, name)
        if not os.path.exists(os.path.join(self.base, "model.json")) or \
                os.path.getmtime(os.path.join(REPO, weights)) > os.path.getmtime(os.path.join(self.base, "model.json")):
            sh([os.path.join(REPO, "frontend", "pytorch", "nnl-export"), os.path.join(REPO, spec), "--weights",
                os.path.join(REPO, weights),
                "--input-shape", "1,1,28,28", "-o", self.base], timeout=600)
        if prep:
            sh([os.path.join(self.bin, "nnl-opt"), os.path.join(self.base, "model.json"), "-passes=" + prep,
                "-o", self.base + "-prep", "--force"])
            self.base += "-prep"
        with gzip.open(IMAGES) as f:
            raw = f.read()
        x = np.frombuffer(raw[16:16 + 784], dtype=np.uint8).astype(np.float32) / np.float32(255)
        self.x = x.reshape(1, 1, 28, 28)
        self.xnpy = os.path.join(self.work, "input0.npy")
        np.save(self.xnpy, self.x)
        self.m4 = run_bank.make_targets()["thumbv7em"]
        self.cache_path = os.path.join(self.work, "acc-cache.json")


def model_hash(model):
    h = hashlib.sha1()
    d = os.path.dirname(model)
    for root, _, files in sorted(os.walk(d)):
        for f in sorted(files):
            if f == "model.json" or root != d:
                h.update(f.encode())
                with open(os.path.join(root, f), "rb") as fh:
                    h.update(fh.read())
    return h.hexdigest()


def accuracy(ctx, model):
    key = model_hash(model) + f"/{ctx.limit or 10000}"
    try:
        with open(ctx.cache_path) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    argv = [os.path.join(ctx.bin, "nnl-run"), model, "--eval-idx", IMAGES, LABELS]
    if ctx.limit:
        argv += ["--limit", str(ctx.limit)]
    out = sh(argv, timeout=7200)
    for line in out.splitlines():
        if line.startswith("top-1 accuracy"):
            acc = float(line.split()[2].rstrip("%"))
            try:
                with open(ctx.cache_path) as f:
                    cache = json.load(f)
            except (OSError, ValueError):
                cache = {}
            cache[key] = acc
            with open(ctx.cache_path + ".tmp", "w") as f:
                json.dump(cache, f, indent=0)
            os.replace(ctx.cache_path + ".tmp", ctx.cache_path)
            return acc
    raise RuntimeError("no accuracy in nnl-run output")


def m4(ctx, model, tag, sparse=True):
    """flash bytes (.text+.rodata), instructions per inference; output checked against nnl-run."""
    work = os.path.join(ctx.work, "m4", ctx.name + "-" + tag)
    os.makedirs(work, exist_ok=True)
    obj = os.path.join(work, "model.o")
    sh([os.path.join(ctx.bin, "nnllc"), model] + ctx.m4.nnllc_flags + ["-filetype=obj", "-name=model", "-o", obj] +
       ([] if sparse else ["-sparse-min=off"]))
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
    out = os.path.join(ctx.work, "models", ctx.name + "-" + tag)
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


# weights (without biases) of the Linear layers: what the sparse storage applies to
LINEAR_WEIGHTS = {"fashion": 64 * 1568 + 10 * 64, "resnet8": 10 * 64}


def pruning_table(ctx, res, title, png):
    base = res[0]
    lw = LINEAR_WEIGHTS[ctx.name]
    lines = ["| point | passes | params | nonzero | MACs (dense) | top-1 % | Δ points | flash sparse B | flash dense B "
             "| Linear weights flash | M4 instr sparse | M4 instr dense | sparse/dense time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        fd, fs = r.get("flash_dense"), r["flash"]
        lin = "-" if fd is None else f"{(fs - fd) / (4 * lw) * 100:+.1f} %"
        tr = "-" if r.get("instr_dense") in (None, 0) or r["instr"] is None else f"{r['instr'] / r['instr_dense']:.3f}"
        lines.append(f"| {r['tag']} | `{r['passes']}` | {r['params']:,} | {r['nonzero']:,} | {r['macs']:,} | {r['acc']:.2f} | "
                     f"{r['acc'] - base['acc']:+.2f} | {fmt(fs)} | {fmt(fd)} | {lin} | "
                     f"{fmt(r['instr'])} | {fmt(r.get('instr_dense'))} | {tr} |")
    g = [base] + [r for r in res if r["tag"].startswith("pg-")]
    lyr = [base] + [r for r in res if r["tag"].startswith("pl-")]
    st = [base] + [r for r in res if r["tag"].startswith("ps-")]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 4))
        ax.plot([1 - r["nonzero"] / base["params"] for r in g], [r["acc"] for r in g], "o-", label="unstructured, global")
        if len(lyr) > 1:
            ax.plot([1 - r["nonzero"] / base["params"] for r in lyr], [r["acc"] for r in lyr], "s-",
                    label="unstructured, per layer")
        ax.plot([1 - r["params"] / base["params"] for r in st], [r["acc"] for r in st], "^-",
                label="structured (channels removed)")
        ax.set_xlabel("fraction of the model's parameters removed / zero")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(DOCS, png), dpi=100)
        plt.close(fig)
    except ImportError:
        pass
    return "\n".join(lines)


def sparse_sweep(ctx):
    """The storage/kernel crossover: classifier.1 alone pruned to s zeros, compiled sparse
    (-sparse-min=0) and dense (-sparse-min=off); flash and M4 instructions, no accuracy."""
    lines = ["| zeros in classifier.1 | flash sparse B | flash dense B | Δ flash of the layer | M4 instr sparse "
             "| M4 instr dense | sparse/dense time |", "|---|---|---|---|---|---|---|"]
    res = []
    for sp in (0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.8, 0.9, 0.95):
        out = os.path.join(ctx.work, "models", f"{ctx.name}-c1-{sp}")
        sh([os.path.join(ctx.bin, "nnl-opt"), os.path.join(ctx.base, "model.json"),
            f"-passes=prune(sparsity={sp},layers=classifier.1)", "-o", out, "--force"])
        model = os.path.join(out, "model.json")
        fs, is_, _ = m4(ctx, model, f"c1-{sp}")
        fd, id_, _ = m4(ctx, model, f"c1-{sp}-dense", sparse=False)
        res.append({"zeros": sp, "flash": fs, "flash_dense": fd, "instr": is_, "instr_dense": id_})
        lines.append(f"| {sp:.2f} | {fmt(fs)} | {fmt(fd)} | {(fs - fd) / (4 * 64 * 1568) * 100:+.1f} % | {fmt(is_)} | "
                     f"{fmt(id_)} | {'-' if not is_ or not id_ else format(is_ / id_, '.3f')} |")
    return res, "\n".join(lines)


def study_pruning(ctx, jobs):
    pts = [("base", None, True)]
    pts += [(f"pg-{s}", f"prune(sparsity={s},scope=global)", True) for s in (0.3, 0.5, 0.7, 0.8, 0.9)]
    pts += [(f"pl-{s}", f"prune(sparsity={s})", True) for s in (0.3, 0.5)]
    pts += [(f"ps-{s}", f"prune(sparsity={s},mode=structured)", False) for s in (0.125, 0.25, 0.5)]
    res = run_points(ctx, pts, jobs)
    sweep, stable = sparse_sweep(ctx)
    return res + [{"sparse_sweep": sweep}], (pruning_table(ctx, res, "Fashion-MNIST CNN: top-1 vs sparsity (no retraining)",
                                                          "pruning.png") + "\n\nSparse storage vs dense, classifier.1 alone:\n\n" + stable)


def study_layers(ctx, jobs, max_k=None, rank_limit=None):
    model = os.path.join(ctx.base, "model.json")
    lim = rank_limit or ctx.limit
    table = sh([os.path.join(ctx.bin, "nnl-opt"), model, "--rank-drop", IMAGES, LABELS] +
               (["--limit", str(lim)] if lim else []), timeout=7200)
    order = []
    for line in table.splitlines():
        p = line.split()
        if p and p[0].isdigit():
            order.append(p[1])
    ks = range(1, min(len(order), max_k or len(order)) + 1)
    pts = [("base", None)] + [(f"drop-{k}", "drop-layer(layers=" + ",".join(order[:k]) + ")") for k in ks]
    res = run_points(ctx, pts, jobs)
    base = res[0]
    lines = ["| point | passes | params | MACs | top-1 % | Δ points | flash B | M4 instr/inf |", "|---|---|---|---|---|---|---|---|"]
    for r in res:
        lines.append(f"| {r['tag']} | `{r['passes']}` | {r['params']:,} | {r['macs']:,} | {r['acc']:.2f} | "
                     f"{r['acc'] - base['acc']:+.2f} | {fmt(r['flash'])} | {fmt(r['instr'])} |")
    plot(os.path.join(DOCS, "layer-removal.png" if ctx.name == "fashion" else "layer-removal-resnet8.png"),
         list(range(len(res))), [("drop the k least sensitive", [r["acc"] for r in res], "o-")],
         "layers removed (k)", ("Fashion-MNIST CNN" if ctx.name == "fashion" else "ResNet-8 (Fashion-MNIST)") +
         ": top-1 vs layers removed")
    head = f"sensitivity ranking on the first {lim} test images:\n\n" if lim else ""
    return res, head + "```\n" + table.strip() + "\n```\n\n" + "\n".join(lines)


# ---- ResNet-8 (MLPerf Tiny) trained on Fashion-MNIST, BatchNorm folded ----------

def r8_lowrank(ctx, jobs):
    """only the Linear and the two 1x1 shortcut convs are candidates (3.3 k of 77.7 k parameters)"""
    pts = [("base", None), ("lr-fc-r4", "lowrank(rank=4,layers=net.fc)"),
           ("lr-s3-r16", "lowrank(rank=16,layers=net.stack3.shortcut)"),
           ("lr-s3-r8", "lowrank(rank=8,layers=net.stack3.shortcut)")]
    pts += [(f"lr-e{e}", f"lowrank(energy={e})") for e in (0.99, 0.95, 0.9)]
    res = run_points(ctx, pts, jobs)
    base = res[0]
    lines = ["| point | passes | factorized (params before -> after) | model params | MACs | top-1 % | Δ points | flash B "
             "| M4 instr/inf |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        fx = "; ".join(f"{l['layer']} {l['params_before']:,} -> {l['params_after']:,}"
                       for l in r["layers"] if l["action"] == "factorized") or "-"
        lines.append(f"| {r['tag']} | `{r['passes']}` | {fx} | {r['params']:,} | {r['macs']:,} | {r['acc']:.2f} | "
                     f"{r['acc'] - base['acc']:+.2f} | {fmt(r['flash'])} | {fmt(r['instr'])} |")
    return res, "\n".join(lines)


def r8_pruning(ctx, jobs):
    pts = [("base", None, True)]
    pts += [(f"pg-{s}", f"prune(sparsity={s},scope=global)", True) for s in (0.3, 0.5, 0.7)]
    pts += [(f"ps-{s}", f"prune(sparsity={s},mode=structured)", False) for s in (0.125, 0.25, 0.5)]
    res = run_points(ctx, pts, jobs)
    return res, pruning_table(ctx, res, "ResNet-8 (Fashion-MNIST): top-1 vs sparsity (no retraining)",
                              "pruning-resnet8.png")


def r8_layers(ctx, jobs):
    return study_layers(ctx, jobs, max_k=4, rank_limit=ctx.rank_limit)


DOC_OF = {"lowrank": "lowrank.md", "pruning": "pruning.md", "layers": "layer-removal.md"}


def update_doc(model, name, table):
    """replace the block between <!-- compress.py MODEL-NAME --> and <!-- end --> in the study's page"""
    path = os.path.join(DOCS, DOC_OF[name])
    begin, end = f"<!-- compress.py {model}-{name} -->", "<!-- end -->"
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return
    a = text.find(begin)
    b = text.find(end, a + len(begin)) if a >= 0 else -1
    if a < 0 or b < 0:
        return
    text = text[:a + len(begin)] + "\n" + table.strip() + "\n" + text[b:]
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", nargs="?", default="all", choices=["lowrank", "pruning", "layers", "all"])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--model", default="both", choices=["fashion", "resnet8", "both"])
    ap.add_argument("--rank-limit", type=int, default=1000,
                    help="ResNet-8: test images for the --rank-drop sensitivity ranking (15 candidates; default 1000)")
    ap.add_argument("--limit", type=int, default=0,
                    help="first N test images only (default: all 10,000); the tables say which")
    args = ap.parse_args()
    os.makedirs(DOCS, exist_ok=True)
    studies = {"lowrank": study_lowrank, "pruning": study_pruning, "layers": study_layers}
    r8 = {"lowrank": r8_lowrank, "pruning": r8_pruning, "layers": r8_layers}
    for model in (["fashion", "resnet8"] if args.model == "both" else [args.model]):
        ctx = Ctx(args, model)
        for name in (studies if args.study == "all" else [args.study]):
            print(f"study {model} {name}", file=sys.stderr)
            res, table = (studies if model == "fashion" else r8)[name](ctx, args.jobs)
            table = f"(top-1 on the first {ctx.limit} test images)\n\n" + table if ctx.limit else table
            with open(os.path.join(ctx.work, f"{model}-{name}.json"), "w") as f:
                json.dump(res, f, indent=1)
            with open(os.path.join(ctx.work, f"{model}-{name}.table.md"), "w") as f:
                f.write(table + "\n")
            update_doc(model, name, table)
            print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
