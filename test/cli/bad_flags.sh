#!/bin/sh
# Bad command lines for nnllc's pass and kernel flags and the Cortex-M4 demo: a clear
# message, a non-zero exit, and no output file.
#   bad_flags.sh NNLLC REPO
set -u
NNLLC=$1 REPO=$2
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
fails=0
expect() { # expect NAME SUBSTRING CMD...: CMD exits non-zero, stderr has SUBSTRING
	name=$1 want=$2
	shift 2
	if "$@" >"$TMP/out" 2>"$TMP/err"; then
		echo "FAIL $name: exit 0"; fails=$((fails + 1))
	elif ! grep -qF -- "$want" "$TMP/err"; then
		echo "FAIL $name: stderr lacks '$want':"; cat "$TMP/err"; fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}
M=$REPO/test/fuzz/corpus/mlp.json
cp "$M" "$TMP/model.json" && cp "$REPO"/test/fuzz/data/*.bin "$TMP/"
expect disable-pass-unknown "'nope' is not a loop pass" "$NNLLC" "$TMP/model.json" -disable-pass=nope -o "$TMP/a.o"
expect disable-pass-lower "'lower' is not a loop pass" "$NNLLC" "$TMP/model.json" -disable-pass=fuse,lower -o "$TMP/a.o"
expect print-after-unknown "unknown pass" "$NNLLC" "$TMP/model.json" --print-after=nope -o "$TMP/a.o"
expect int8-kernels-unknown "expected auto, portable, dsp or vector" "$NNLLC" "$TMP/model.json" -int8-kernels=simd -o "$TMP/a.o"
expect int8-kernels-dsp-riscv "has no Arm DSP extension" "$NNLLC" "$TMP/model.json" -march=riscv32 -int8-kernels=dsp -o "$TMP/a.o"
expect int8-kernels-dsp-off "-mattr=-dsp) has no Arm DSP extension" "$NNLLC" "$TMP/model.json" -march=thumbv7em -mattr=-dsp -int8-kernels=dsp -o "$TMP/a.o"
[ -e "$TMP/a.o" ] && { echo "FAIL: an output file was written"; fails=$((fails + 1)); }
expect demo-no-model "no such file" /usr/bin/python3 "$REPO/examples/fashion_mnist/demo_m4.py" "$TMP/none"
expect demo-bad-images "expected 1 to 10000" /usr/bin/python3 "$REPO/examples/fashion_mnist/demo_m4.py" "$TMP" --images 0
[ $fails -eq 0 ] && echo "0 failed" || { echo "$fails failed"; exit 1; }
