#!/usr/bin/env bash
# make peer: every sampler of diffscope against the diffusers scheduler of the same name,
# on the shipped glyphs16 checkpoint (scripts/peer.py), at several step counts, spacings,
# with and without Karras σ and x̂_0 clipping. Each case must give the same 8-bit pixels
# (at most one level apart); stochastic samplers draw the same noise in the same order.
#
# Installs Python's torch 2.13.0 (the libtorch diffscope links) and diffusers into .peer/
# at the repository root (git-ignored) when they are not there yet, as `make bench-peer`
# does: the plain `pip install torch==2.13.0` with its CUDA wheels (about 4.7 GB, once; no
# GPU is used).
#
#   DIFFSCOPE_PEER_CHECKPOINT   another checkpoint (a step folder) to compare on
#   DIFFSCOPE_PEER_ONLY         only the cases whose name matches this regular expression
#                               (names like dpmpp-2m-20-linspace-karras, euler-20-leading-noclip)
set -euo pipefail

TORCH_VERSION=2.13.0
DIFFUSERS_VERSION=0.42.1
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/peer-venv.sh
source "$root/scripts/peer-venv.sh"
peer_venv peer "$root" "torch==$TORCH_VERSION" "diffusers==$DIFFUSERS_VERSION"

echo "peer: building diffscope" >&2
cargo build --release >&2
bin="$root/target/release/diffscope"

step_dir="${DIFFSCOPE_PEER_CHECKPOINT:-$(ls -d "$root"/checkpoints/glyphs16/step-* | tail -n1)}"
if [ ! -f "$step_dir/meta.ron" ]; then
  echo "peer: $step_dir: not a checkpoint step folder (no meta.ron)" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# sampler steps spacing karras clip
cases=(
  "ddpm 50 leading 0 1" "ddpm 20 trailing 0 1" "ddpm 20 linspace 0 1"
  "ddim 10 leading 0 1" "ddim 50 leading 0 1" "ddim 20 linspace 0 1" "ddim 20 trailing 0 1"
  "dpmpp-2m 10 linspace 0 1" "dpmpp-2m 20 linspace 0 1" "dpmpp-2m 20 leading 0 1"
  "dpmpp-2m 20 trailing 0 1" "dpmpp-2m 20 linspace 1 1" "dpmpp-2m 20 linspace 0 0"
  "dpmpp-3m 10 linspace 0 1" "dpmpp-3m 25 linspace 0 1" "dpmpp-3m 20 linspace 1 1"
  "dpmpp-2m-sde 20 linspace 0 1" "dpmpp-2m-sde 20 linspace 1 1"
  "euler 20 linspace 0 0" "euler 20 leading 0 0" "euler 20 trailing 0 0" "euler 20 linspace 1 0"
  "euler-a 20 linspace 0 0" "euler-a 20 leading 0 0"
  "heun 10 linspace 0 1" "heun 10 linspace 1 1" "heun 10 trailing 0 0"
)
seed=7
n=8
: >"$work/cases"
for c in "${cases[@]}"; do
  read -r sampler steps spacing karras clip <<<"$c"
  name="$sampler-$steps-$spacing"
  flags=(--sampler "$sampler" --steps "$steps" --spacing "$spacing")
  if [ "$karras" = 1 ]; then name+="-karras"; flags+=(--karras); fi
  if [ "$clip" = 0 ]; then name+="-noclip"; flags+=(--no-clip); fi
  if [ -n "${DIFFSCOPE_PEER_ONLY:-}" ] && ! [[ "$name" =~ $DIFFSCOPE_PEER_ONLY ]]; then continue; fi
  "$bin" sample --checkpoint "$step_dir" "${flags[@]}" --n "$n" --seed "$seed" \
    --device cpu --precision fp32 --out "$work/$name.npy" 2>"$work/err" || {
    echo "peer: diffscope sample ${flags[*]} failed:" >&2
    cat "$work/err" >&2
    exit 1
  }
  echo "$name $sampler $steps $spacing $karras $clip $seed $n $work/$name.npy" >>"$work/cases"
done
"$py" -W ignore "$root/scripts/peer.py" "$step_dir" "$work/cases"
