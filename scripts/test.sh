#!/usr/bin/env bash
# The whole test suite from scratch: install what is missing, build twice
# (release with -Werror, then ASan+UBSan with clang-19), run every test in
# both, run the model bank compiled for every target (native and QEMU), then
# build the fuzzers and run each for a bounded time.
#   FUZZ_SECONDS=N   how long the fuzzer runs (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/setup.sh

JOBS=$(nproc)
echo "== build (release, -Werror)"
cmake -S . -B build -G Ninja -DNNL_WERROR=ON >/dev/null
ninja -C build
echo "== tests (release)"
ctest --test-dir build --output-on-failure -j "$JOBS"

echo "== every bank model compiled for every target, run (natively or under QEMU), compared with PyTorch"
/usr/bin/python3 test/targets/run_bank.py --strict --nnllc build/bin/nnllc --workdir build/run_bank
echo "== the C backend against the LLVM backend, every target (the bank models that fit a microcontroller:"
echo "   resnet18's 11M weights as C take gcc minutes and gigabytes, too much for every CI run)"
/usr/bin/python3 test/targets/run_bank.py --strict --backend both --nnllc build/bin/nnllc --workdir build/run_bank \
  --models MLP,LeNet5,SmallCNNBN,DSCNN,MobileNetV1,ResNet8,FCAutoencoder,Functional,Coverage

echo "== build (clang-19, AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -G Ninja -DCMAKE_C_COMPILER=clang-19 -DNNL_SANITIZE=ON -DNNL_WERROR=ON \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
ninja -C build-asan
echo "== tests (sanitizers; the whole-bank suites run in the release build only: they drive the same"
echo "   C code on the same models as the unit tests and would take most of CI's time under ASan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" \
  -E "^(pytorch_export|c_backend_bank_compile|estimate_vs_qemu)$"

echo "== fuzz (libFuzzer: JSON loader and loop-IR parser, ${FUZZ_SECONDS:-60} s each)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang-19 -DNNL_FUZZ=ON -DNNL_SANITIZE=ON >/dev/null
ninja -C build-fuzz fuzz_load fuzz_loop
fuzz() { # fuzz NAME SEEDS [extra flags]
  local name=$1 seeds=$2; shift 2
  mkdir -p "build-fuzz/corpus-$name"
  ./build-fuzz/bin/"$name" -max_total_time="${FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/"$name"- "$@" "build-fuzz/corpus-$name" "$seeds" 2>"build-fuzz/$name.log" \
    || { tail -50 "build-fuzz/$name.log"; echo "$name: the fuzzer found a failure"; exit 1; }
  echo "$name: $(grep -E '^Done [0-9]+ runs' "build-fuzz/$name.log" | tail -1)"
}
fuzz fuzz_load test/fuzz/corpus -dict=test/fuzz/json.dict
fuzz fuzz_loop test/fuzz/corpus-loop

echo "== all tests passed"
