#!/usr/bin/python3
"""Arena vs lower bound (with and without in-place) vs no-reuse sum, per bank model.

  bench/memory.py [--models DIR] [--nnllc PATH] [--svg MODEL OUT.svg]

Reads `nnllc --report=json` (x86-64, -O3) for every DIR/<Model>/model.json
(default build/run_bank/models, exported by test/targets/run_bank.py), once
as is and once with -disable-pass=inplace. --svg draws the buffer lifetimes
of one model (from --print-after=plan-memory) as an SVG: x = top-level
statement, y = arena offset, one rectangle per buffer (docs/memory.md).
TFLite Micro's published arena for MobileNetV1-0.25 96x96 int8 is printed
beside ours; ours is float32, so bytes/4 is the int8-equivalent.
"""
import argparse, json, os, re, subprocess, sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TFLM_MNV1 = (55296, 29 * 1024)  # non-persistent, ~persistent (int8)


def report(nnllc, model, extra=()):
    r = subprocess.run([nnllc, model, "--report=json", "-o", os.devnull, *extra], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout)["totals"]


def svg(nnllc, model, out):
    t = subprocess.run([nnllc, model, "--print-after=plan-memory", "-o", os.devnull], capture_output=True, text=True).stdout
    bufs = {}
    for m in re.finditer(r"^buffer (\S+): arena (\w+)\[(\d+)\] @ (\d+)", t, re.M):
        bufs[m.group(1)] = [int(m.group(4)), int(m.group(3)) * (1 if m.group(2) in ("i8", "u8", "i1") else
                            2 if m.group(2) in ("i16", "u16") else 8 if m.group(2) in ("i64", "f64") else 4), None, None]
    arena = int(re.search(r"^arena (\d+)", t, re.M).group(1))
    body = t.split("\n")
    step, depth = -1, 0
    for line in body:
        if line.startswith(("program", "arena", "buffer")) or not line.strip():
            continue
        if depth == 0 and not line.startswith("#") and not line.startswith("}"):
            step += 1
        for name in re.findall(r"(?:load |store )([\w.]+)\[", line):
            if name in bufs:
                b = bufs[name]
                b[2] = step if b[2] is None else b[2]
                b[3] = step
        depth += line.count("{") - line.count("}")
    n = step + 1
    W, H, L = 900, 420, 60
    sx, sy = (W - L - 10) / max(n, 1), (H - 40) / max(arena, 1)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="10">',
         f'<text x="{L}" y="12">{os.path.basename(os.path.dirname(model))}: arena {arena} B, x = top-level statement, y = offset</text>']
    for i, (name, (off, size, f, l)) in enumerate(sorted(bufs.items(), key=lambda kv: kv[1][0])):
        if f is None:
            continue
        hue = (i * 47) % 360
        o.append(f'<rect x="{L + f * sx:.1f}" y="{20 + off * sy:.1f}" width="{(l - f + 1) * sx:.1f}" '
                 f'height="{max(size * sy, 1):.1f}" fill="hsl({hue},60%,70%)" stroke="#333" stroke-width="0.5">'
                 f'<title>{name}: {size} B @ {off}, steps {f}..{l}</title></rect>')
    o.append(f'<line x1="{L}" y1="{20 + arena * sy:.1f}" x2="{W - 10}" y2="{20 + arena * sy:.1f}" stroke="red"/>')
    o.append(f'<text x="2" y="{20 + arena * sy:.1f}">{arena}</text><text x="2" y="24">0</text></svg>')
    open(out, "w").write("\n".join(o) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.path.join(REPO, "build", "run_bank", "models"))
    ap.add_argument("--nnllc", default=os.environ.get("NNLLC", os.path.join(REPO, "build", "bin", "nnllc")))
    ap.add_argument("--svg", nargs=2, metavar=("MODEL", "OUT"))
    a = ap.parse_args()
    if a.svg:
        svg(a.nnllc, os.path.join(a.models, a.svg[0], "model.json"), a.svg[1])
        return
    print(f"{'model':<14} {'arena':>10} {'bound':>10} {'bound no-inpl':>13} {'arena no-inpl':>13} {'no-reuse':>10} reached")
    for name in sorted(os.listdir(a.models)):
        mj = os.path.join(a.models, name, "model.json")
        if not os.path.exists(mj):
            continue
        r, r0 = report(a.nnllc, mj), report(a.nnllc, mj, ["-disable-pass=inplace"])
        print(f"{name:<14} {r['arena']:>10,} {r['lower_bound']:>10,} {r0['lower_bound']:>13,} {r0['arena']:>13,} "
              f"{r['no_reuse']:>10,} {'yes' if r['bound_reached'] else 'NO'}")
        if name == "MobileNetV1":
            mnv1 = r
    if "mnv1" in locals():
        print(f"\nMobileNetV1-0.25 96x96: TFLite Micro int8 {TFLM_MNV1[0]:,} B non-persistent + ~{TFLM_MNV1[1]:,} B "
              f"persistent; nnllc float32 arena {mnv1['arena']:,} B = {mnv1['arena'] // 4:,} B int8-equivalent "
              f"(bytes/4), no persistent part")


if __name__ == "__main__":
    sys.exit(main())
