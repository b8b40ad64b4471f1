#!/usr/bin/env bash
# Installs what nnllc needs on a fresh Debian 12 machine (as root, or with sudo).
# Idempotent: packages already present are not reinstalled, and apt-get update
# runs only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build gcc pkg-config
  # C libraries: JSON, unit tests, gzip for IDX data sets
  libjansson-dev libcmocka-dev zlib1g-dev
  # graph passes: LAPACKE (lowrank SVD); the studies' plots
  liblapacke-dev python3-matplotlib
  # clang-19 with its runtime for the sanitizer build and libFuzzer
  clang-19 libclang-rt-19-dev
  # the PyTorch frontend, its test bank and the reference computations
  python3-torch python3-torchvision python3-numpy
  # the data set of the example and of accuracy runs
  dataset-fashion-mnist
  # code generation: LLVM 19 through its C API; SVD for low-rank factorization
  llvm-19-dev liblapacke-dev
  # cross toolchains and emulators: every target is run, not just compiled
  gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf
  gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu libc6-dev-arm64-cross libc6-dev-riscv64-cross
  qemu-system-arm qemu-system-misc qemu-user
  # plots in the studies and docs
  python3-matplotlib
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: done"
