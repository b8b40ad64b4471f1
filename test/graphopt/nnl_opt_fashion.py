#!/usr/bin/python3
"""ctest nnl_opt_fashion: nnl-opt's passes on the trained Fashion-MNIST example
give models nnl-run accepts, with the accuracy the studies promise.

  nnl_opt_fashion.py NNL_OPT NNL_RUN WORKDIR

Exports the example (nnl-export), runs a few pipelines and checks top-1 on
the first 500 test images (base ≈ 91 %): each must load and stay within the
stated bound of the base; a bad request must fail and write nothing.
"""
import os
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = "/usr/share/datasets/fashion-mnist"
IMAGES = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
LABELS = os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")


def main():
    opt, run, work = sys.argv[1:4]
    if not os.path.exists(IMAGES):
        print("SKIP: no Fashion-MNIST data set in " + DATA)
        return 77
    os.makedirs(work, exist_ok=True)
    base = os.path.join(work, "fashion")
    if not os.path.exists(os.path.join(base, "model.json")):
        subprocess.run([os.path.join(REPO, "frontend", "pytorch", "nnl-export"),
                        os.path.join(REPO, "examples/fashion_mnist/model.py") + ":FashionCNN", "--weights",
                        os.path.join(REPO, "examples/fashion_mnist/fashion_cnn.pt"), "--input-shape", "1,1,28,28",
                        "-o", base], check=True)

    def acc(model):
        out = subprocess.run([run, model, "--eval-idx", IMAGES, LABELS, "--limit", "500"], check=True,
                             capture_output=True, text=True).stdout
        return float([l for l in out.splitlines() if l.startswith("top-1")][0].split()[2].rstrip("%"))

    a0 = acc(os.path.join(base, "model.json"))
    fails = 0
    for tag, passes, bound in [
            ("lowrank", "lowrank(rank=30,layers=classifier.1)", 1.5),
            ("prune", "prune(sparsity=0.5,scope=global)", 1.5),
            ("structured", "prune(sparsity=0.125,mode=structured)", 4.0),
            ("drop", "drop-layer(layers=classifier.2)", 20.0),
            ("combo", "lowrank(rank=30,layers=classifier.1),prune(sparsity=0.3,scope=global)", 2.0)]:
        out = os.path.join(work, tag)
        subprocess.run([opt, os.path.join(base, "model.json"), "-passes=" + passes, "-o", out, "--force"], check=True)
        a = acc(os.path.join(out, "model.json"))
        ok = a >= a0 - bound
        fails += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {tag:10} {passes:60} top-1 {a:.2f} (base {a0:.2f}, bound -{bound})")
    bad = os.path.join(work, "bad")
    shutil.rmtree(bad, ignore_errors=True)
    r = subprocess.run([opt, os.path.join(base, "model.json"), "-passes=prune(sparsity=0.5,layers=nope)", "-o", bad],
                       capture_output=True, text=True)
    if r.returncode == 0 or os.path.exists(bad) or "does not exist" not in r.stderr:
        print("FAIL a bad request: rc", r.returncode, r.stderr)
        fails += 1
    else:
        print("ok   a bad request fails with: " + r.stderr.strip().splitlines()[0])
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
