#!/usr/bin/env bash
# Installs libtorch 2.13.0 (the version tch 0.26 requires) from the Python package index
# into .libtorch/ at the repository root. Idempotent: a second run only checks and exits.
#
#   scripts/setup-libtorch.sh          CPU build (default)
#   DIFFSCOPE_CUDA=1 scripts/setup-libtorch.sh
#                                      CUDA build: the full torch wheel with its dependencies
set -euo pipefail

TORCH_VERSION=2.13.0
CUDART_VERSION=13.0.3
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.libtorch"
flavour=cpu
[ "${DIFFSCOPE_CUDA:-0}" = "1" ] && flavour=cuda
stamp="$dest/.installed-$TORCH_VERSION-$flavour"

if [ -f "$stamp" ] && [ -f "$dest/torch/lib/libtorch_cpu.so" ]; then
  exit 0
fi

py=""
for cand in python3 python; do
  if command -v "$cand" >/dev/null 2>&1; then py="$cand"; break; fi
done
if [ -z "$py" ]; then
  echo "setup-libtorch: python3 not found; install Python 3 with pip to fetch libtorch $TORCH_VERSION" >&2
  exit 1
fi
if ! "$py" -m pip --version >/dev/null 2>&1; then
  echo "setup-libtorch: '$py -m pip' is not available; install pip to fetch libtorch $TORCH_VERSION" >&2
  exit 1
fi

echo "setup-libtorch: installing torch $TORCH_VERSION ($flavour) into $dest (about 600 MB, once)" >&2
tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
pipq=(env PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --disable-pip-version-check --no-warn-script-location --quiet --target "$tmp")
if [ "$flavour" = cuda ]; then
  "${pipq[@]}" "torch==$TORCH_VERSION"
else
  "${pipq[@]}" --no-deps "torch==$TORCH_VERSION"
  # libtorch_cpu.so is linked against the CUDA runtime and CUPTI even when no GPU is used;
  # these two small wheels land in nvidia/cu13/lib, which libtorch's own rpath names.
  "${pipq[@]}" "cuda-toolkit[cudart,cupti]==$CUDART_VERSION"
fi
if [ ! -f "$tmp/torch/lib/libtorch_cpu.so" ]; then
  echo "setup-libtorch: the torch wheel did not contain torch/lib/libtorch_cpu.so" >&2
  exit 1
fi
if [ "$flavour" = cpu ]; then
  # torch-sys links torch_cuda whenever it finds it; a CPU build must not see it.
  ( cd "$tmp/torch/lib" && rm -f libtorch_cuda.so libtorch_cuda_linalg.so libc10_cuda.so \
      libtorch_nvshmem.so libcaffe2_nvrtc.so libtorch_python.so )
fi
rm -rf "$tmp/torchgen" "$tmp/functorch" "$tmp/bin"
rm -rf "$dest"
mv "$tmp" "$dest"
touch "$stamp"
echo "setup-libtorch: done ($(du -sh "$dest" | cut -f1))" >&2
