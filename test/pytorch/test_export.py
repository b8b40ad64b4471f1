#!/usr/bin/python3
"""Tests of the PyTorch frontend (nnl-export).

Run with Debian's python (torch 1.13):  /usr/bin/python3 test/pytorch/test_export.py -v

For every model of the bank (test/models/): export with --with-reference 2
through the command line (weights through --weights, BatchNorm running stats
randomized), check the JSON format, evaluate the JSON with an independent
torch-based evaluator (ir_eval.py) and, when the C interpreter exists, with
nnl-run (env NNL_RUN, default build/nnl-run, build/bin/nnl-run or build/tools/nnl-run).
Agreement criterion: max|out - ref| / max|ref| <= 1e-4 (relative to the largest
reference magnitude of the output).
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
EXPORT = os.path.join(REPO, "frontend", "pytorch", "nnl-export")
MODELS = os.path.join(REPO, "test", "models")
sys.path.insert(0, os.path.join(REPO, "frontend", "pytorch"))
sys.path.insert(0, HERE)
sys.path.insert(0, MODELS)

import ir_eval  # noqa: E402
import nnl  # noqa: E402

RTOL = 1e-4
torch.set_num_threads(2)

# (file, class, input shape)
BANK = [
    ("mlp.py", "MLP", "1,1,28,28"),
    ("lenet5.py", "LeNet5", "1,1,28,28"),
    ("small_cnn_bn.py", "SmallCNNBN", "1,3,32,32"),
    ("ds_cnn.py", "DSCNN", "1,1,49,10"),
    ("mobilenet_v1.py", "MobileNetV1", "1,3,96,96"),
    ("resnet8.py", "ResNet8", "1,3,32,32"),
    ("autoencoder.py", "FCAutoencoder", "1,640"),
    ("torchvision_models.py", "ResNet18", "1,3,224,224"),
    ("torchvision_models.py", "MobileNetV2", "1,3,224,224"),
    ("functional.py", "Functional", "1,3,16,16"),
    (os.path.join(HERE, "coverage_model.py"), "Coverage", "1,3,17,19"),
]


def nnl_run_path():
    p = os.environ.get("NNL_RUN")
    if p:
        return p if os.access(p, os.X_OK) else None
    for c in ("build/nnl-run", "build/bin/nnl-run", "build/tools/nnl-run"):
        c = os.path.join(REPO, c)
        if os.access(c, os.X_OK):
            return c
    return None


def rel_err(out, ref):
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if out.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(out - ref)) / max(np.max(np.abs(ref)), 1e-30))


def randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                    m.bias.copy_(torch.rand(n, generator=g) - 0.5)


def load_class(fname, cls):
    from nnl.cli import load_class as lc
    return lc(os.path.join(MODELS, fname) + ":" + cls)   # an absolute fname is kept by join


def run_export(*args):
    return subprocess.run([EXPORT, *args], capture_output=True, text=True)


class ExportBank(unittest.TestCase):
    results = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="nnl-export-test-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if cls.results:
            print("\nexport bank: max|a-b|/max|b| (ir_eval, nnl-run)", file=sys.stderr)
            for k, v in cls.results.items():
                print(f"  {k:14s} {v}", file=sys.stderr)

    def export_bank_model(self, fname, cls, shape):
        torch.manual_seed(0)
        model = load_class(fname, cls)()
        randomize_bn(model)
        model.eval()
        wpath = os.path.join(self.tmp, cls + ".pt")
        torch.save(model.state_dict(), wpath)
        out = os.path.join(self.tmp, cls)
        r = run_export(f"{os.path.join(MODELS, fname)}:{cls}", "--weights", wpath,
                       "--input-shape", shape, "--with-reference", "2", "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        mj = os.path.join(out, "model.json")
        m = ir_eval.validate(mj)
        self.assertEqual(m["input_shape"], [int(s) for s in shape.split(",")])
        errs = []
        for i in range(2):
            x = np.load(os.path.join(out, "reference", f"input_{i}.npy"))
            ref = np.load(os.path.join(out, "reference", f"output_{i}.npy"))
            self.assertEqual(list(ref.shape), m["output_shape"])
            with torch.no_grad():
                direct = model(torch.from_numpy(x)).numpy()
            self.assertLessEqual(rel_err(direct, ref), 1e-6)
            e = rel_err(ir_eval.run(mj, x), ref)
            self.assertLessEqual(e, RTOL, f"{cls}: python IR evaluation differs from PyTorch")
            errs.append(e)
        runner = nnl_run_path()
        nerrs = []
        if runner:
            for i in range(2):
                inp = os.path.join(out, "reference", f"input_{i}.npy")
                ref = np.load(os.path.join(out, "reference", f"output_{i}.npy"))
                o = os.path.join(self.tmp, f"{cls}_out_{i}.npy")
                r = subprocess.run([runner, mj, "--input", inp, "-o", o], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, f"{runner} {mj} --input {inp} -o {o}\n{r.stderr}")
                e = rel_err(np.load(o), ref)
                nerrs.append(e)
                self.assertLessEqual(e, RTOL, f"{cls}: nnl-run differs from PyTorch ({runner} {mj} --input {inp})")
        self.results[cls] = (f"{max(errs):.2e}", f"{max(nerrs):.2e}" if nerrs else "no nnl-run")
        if not runner:
            self.skipTest("exported and checked with ir_eval; nnl-run not built (set NNL_RUN or build "
                          "build/nnl-run) so the C interpreter comparison was skipped")


def _make_bank_test(fname, cls, shape):
    def test(self):
        self.export_bank_model(fname, cls, shape)
    return test


for _f, _c, _s in BANK:
    setattr(ExportBank, f"test_{_c.lower()}", _make_bank_test(_f, _c, _s))


class Unsupported(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="nnl-export-bad-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check_refused(self, cls, shape, must_contain):
        out = os.path.join(self.tmp, "out")
        src = os.path.join(HERE, "bad_models.py")
        r = run_export(f"{src}:{cls}", "--input-shape", shape, "-o", out)
        self.assertNotEqual(r.returncode, 0)
        for s in must_contain:
            self.assertIn(s, r.stderr, r.stderr)
        self.assertFalse(os.path.exists(out), "output folder written on failure")
        self.assertEqual(os.listdir(self.tmp), [], "temporary files left behind")
        return r.stderr

    def test_control_flow(self):
        self.check_refused("ControlFlow", "1,1,8,8",
                           ["control flow", "module: gate", "bad_models.py:8", "if x.sum() > 0"])

    def test_unknown_function(self):
        self.check_refused("UnknownOp", "1,1,8,8",
                           ["not in the registry", "torch.erf", "module: act", "bad_models.py:25",
                            "torch.erf(x)"])

    def test_unknown_module(self):
        self.check_refused("UnknownModule", "1,1,8,8",
                           ["not in the registry", "Upsample", "module: up", "bad_models.py:",
                            "self.up(self.conv(x))"])

    def test_dynamic_shape(self):
        self.check_refused("Dynamic", "1,1,8,8",
                           ["dynamic", "torch.nonzero", "module: select", "bad_models.py:", "torch.nonzero(x)"])


class Api(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="nnl-export-api-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_api_and_replace(self):
        torch.manual_seed(0)
        model = load_class("resnet8.py", "ResNet8")()
        out = os.path.join(self.tmp, "r8")
        m = nnl.export(model, torch.zeros(1, 3, 32, 32), out, with_reference=1)
        self.assertEqual(m["output_shape"], [1, 10])
        # residual blocks stay separate: stem, stack1, stack2, stack3, then pool+fc
        self.assertEqual([b["name"] for b in m["blocks"]][:4], ["stem", "stack1", "stack2", "stack3"])
        nnl.export(model, torch.zeros(1, 3, 32, 32), out)   # replaces an earlier export
        self.assertFalse(os.path.exists(os.path.join(out, "reference")))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["r8"])

    def test_skip_connection_merges_blocks(self):
        model = load_class("functional.py", "Functional")()
        m = nnl.export(model, torch.zeros(1, 3, 16, 16), os.path.join(self.tmp, "f"))
        names = [b["name"] for b in m["blocks"]]
        # 'skip' is used after 'branch': the branch block is merged with the code around it
        self.assertTrue(any("branch" in n and "+" in n for n in names), names)

    def test_refuses_foreign_folder(self):
        out = os.path.join(self.tmp, "x")
        os.makedirs(out)
        open(os.path.join(out, "keep.txt"), "w").close()
        with self.assertRaises(nnl.ExportError):
            nnl.export(load_class("mlp.py", "MLP")(), torch.zeros(1, 784), out)
        self.assertTrue(os.path.exists(os.path.join(out, "keep.txt")))

    def test_pickled_module_and_torchscript(self):
        torch.manual_seed(0)
        model = load_class("lenet5.py", "LeNet5")()
        p = os.path.join(self.tmp, "lenet.pt")
        torch.save(model, p)
        out = os.path.join(self.tmp, "lenet")
        r = subprocess.run([EXPORT, "--module", p, "--input-shape", "1,1,28,28", "-o", out],
                           capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=MODELS))
        self.assertEqual(r.returncode, 0, r.stderr)
        ir_eval.validate(os.path.join(out, "model.json"))
        ts = os.path.join(self.tmp, "lenet.ts")
        torch.jit.save(torch.jit.script(model), ts)
        r = run_export("--module", ts, "--input-shape", "1,1,28,28", "-o", os.path.join(self.tmp, "ts"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("TorchScript", r.stderr)
        sd = os.path.join(self.tmp, "sd.pt")
        torch.save(model.state_dict(), sd)
        r = run_export("--module", sd, "--input-shape", "1,1,28,28", "-o", os.path.join(self.tmp, "sd"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("state_dict", r.stderr)


class FashionMnistExample(unittest.TestCase):
    def test_export_trained_example(self):
        ex = os.path.join(REPO, "examples", "fashion_mnist")
        tmp = tempfile.mkdtemp(prefix="nnl-export-fm-")
        try:
            out = os.path.join(tmp, "fm")
            r = run_export(os.path.join(ex, "model.py") + ":FashionCNN", "--weights",
                           os.path.join(ex, "fashion_cnn.pt"), "--input-shape", "1,1,28,28",
                           "--with-reference", "2", "-o", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            mj = os.path.join(out, "model.json")
            ir_eval.validate(mj)
            for i in range(2):
                x = np.load(os.path.join(out, "reference", f"input_{i}.npy"))
                ref = np.load(os.path.join(out, "reference", f"output_{i}.npy"))
                self.assertLessEqual(rel_err(ir_eval.run(mj, x), ref), RTOL)
            runner = nnl_run_path()
            if not runner:
                self.skipTest("nnl-run not built: accuracy comparison skipped")
            # PyTorch top-1 on the 10,000 test images vs nnl-run --eval-idx
            sys.path.insert(0, ex)
            from train import load, evaluate
            from model import FashionCNN
            m = FashionCNN()
            m.load_state_dict(torch.load(os.path.join(ex, "fashion_cnn.pt")))
            xte, yte = load("t10k")
            torch_correct = round(evaluate(m, xte, yte) * len(xte))
            d = "/usr/share/datasets/fashion-mnist"
            r = subprocess.run([runner, mj, "--eval-idx", os.path.join(d, "t10k-images-idx3-ubyte.gz"),
                                os.path.join(d, "t10k-labels-idx1-ubyte.gz")], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            import re
            got = re.search(r"top-1 accuracy: [0-9.]+% \((\d+)/10000\)", r.stdout + r.stderr)
            self.assertIsNotNone(got, r.stdout + r.stderr)
            print(f"\nfashion_mnist: PyTorch {torch_correct}/10000, nnl-run {got.group(1)}/10000",
                  file=sys.stderr)
            self.assertEqual(int(got.group(1)), torch_correct)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
