#!/usr/bin/env bash
# make peer: every sampler of diffscope against the diffusers scheduler of the same name,
# on the shipped glyphs16 checkpoint (scripts/peer.py), at several step counts, spacings,
# with and without Karras σ and x̂_0 clipping. Each case must give the same 8-bit pixels
# (at most one level apart); stochastic samplers draw the same noise in the same order.
#
# Then the learned variance (learned range) on a glyphs16-hybrid checkpoint: DDPM against
# diffusers' DDPMScheduler(variance_type="learned_range") at 50 steps leading, 20
# trailing and all 1000 steps, by the same pixel rule; and `diffscope eval`'s exact bound
# on 64 held-out glyphs against improved-diffusion's calc_bpd_loop (ported into
# scripts/peer.py) on the same items and noise, with the learned variance and, as a
# control, with fixed-small: the totals (bits/dim) must agree to 0.5%. The checkpoint is
# trained once (`diffscope train --preset glyphs16-hybrid --steps 300`, a few minutes on
# two cores) and kept in .peer/checkpoints/.
#
# Then classifier-free guidance on a glyphs16-cond checkpoint (trained the same way,
# `diffscope train --preset glyphs16-cond --steps 300`, and kept there too): `diffscope
# sample --sampler ddim --guidance W --class C|all` against diffusers' DDIMScheduler in a
# loop that calls the PyTorch port (with its class embedding) once per step on the doubled
# batch, labels (y, no class), and mixes ε̂_∅ + w (ε̂_y − ε̂_∅) in Python: w = 3 and all
# classes, w = 1.5 and class 7, w = 0 (unconditional) and w = 1 (conditional), by the
# same pixel rule.
#
# Installs Python's torch 2.13.0 (the libtorch diffscope links) and diffusers into .peer/
# at the repository root (git-ignored) when they are not there yet, as `make bench-peer`
# does: the plain `pip install torch==2.13.0` with its CUDA wheels (about 4.7 GB, once; no
# GPU is used).
#
#   DIFFSCOPE_PEER_CHECKPOINT          another checkpoint (a step folder) for the samplers
#   DIFFSCOPE_PEER_LEARNED_CHECKPOINT  another learned-variance checkpoint (a step folder)
#                                      for the learned cases, instead of training one
#   DIFFSCOPE_PEER_COND_CHECKPOINT     another class-conditional checkpoint (a step folder)
#                                      for the guided cases, instead of training one
#   DIFFSCOPE_PEER_ONLY                only the cases whose name matches this regular
#                                      expression (names like dpmpp-2m-20-linspace-karras,
#                                      euler-20-leading-noclip, learned-ddpm-50-leading,
#                                      learned-bound, learned-bound-small,
#                                      cfg-ddim-50-w3-all, cfg-ddim-20-w1.5-class7;
#                                      `learned` picks the learned cases alone, `cfg` the
#                                      guided ones)
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

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

selected() {
  [ -z "${DIFFSCOPE_PEER_ONLY:-}" ] || [[ "$1" =~ $DIFFSCOPE_PEER_ONLY ]]
}

check_step_dir() {
  if [ ! -f "$1/meta.ron" ]; then
    echo "peer: $1: not a checkpoint step folder (no meta.ron)" >&2
    exit 1
  fi
}

# sample_case CHECKPOINT CASES_FILE NAME_PREFIX "sampler steps spacing karras clip"
sample_case() {
  local ckpt=$1 file=$2 prefix=$3 sampler steps spacing karras clip name
  read -r sampler steps spacing karras clip <<<"$4"
  name="$prefix$sampler-$steps-$spacing"
  local flags=(--sampler "$sampler" --steps "$steps" --spacing "$spacing")
  if [ "$karras" = 1 ]; then name+="-karras"; flags+=(--karras); fi
  if [ "$clip" = 0 ]; then name+="-noclip"; flags+=(--no-clip); fi
  selected "$name" || return 0
  "$bin" sample --checkpoint "$ckpt" "${flags[@]}" --n "$n" --seed "$seed" \
    --device cpu --precision fp32 --out "$work/$name.npy" 2>"$work/err" || {
    echo "peer: diffscope sample ${flags[*]} failed:" >&2
    cat "$work/err" >&2
    exit 1
  }
  echo "sample $name $sampler $steps $spacing $karras $clip $seed $n $work/$name.npy" >>"$file"
}

# bound_case CHECKPOINT CASES_FILE NAME VARIANCE: diffscope eval's exact bound on the
# held-out items, which it writes for the Python side
bound_case() {
  local ckpt=$1 file=$2 name=$3 variance=$4
  selected "$name" || return 0
  echo "peer: diffscope eval, $variance variance (all 1000 timesteps of $bound_n items)" >&2
  "$bin" eval --checkpoint "$ckpt" --variance "$variance" --n "$bound_n" --batch "$bound_n" \
    --samples 0 --seed "$bound_seed" --device cpu --precision fp32 \
    --terms "$work/$name.terms.csv" --held-out-npy "$work/$name.x0.npy" \
    >"$work/$name.out" 2>"$work/err" || {
    echo "peer: diffscope eval --variance $variance failed:" >&2
    cat "$work/err" >&2
    exit 1
  }
  echo "bound $name $variance $bound_seed $bound_n $work/$name.x0.npy $work/$name.terms.csv" \
    "$work/$name.out" >>"$file"
}

seed=7
n=8
bound_seed=0
bound_n=64
failed=0

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
step_dir="${DIFFSCOPE_PEER_CHECKPOINT:-$(ls -d "$root"/checkpoints/glyphs16/step-* | tail -n1)}"
check_step_dir "$step_dir"
: >"$work/cases"
for c in "${cases[@]}"; do
  sample_case "$step_dir" "$work/cases" "" "$c"
done
if [ -s "$work/cases" ]; then
  "$py" -W ignore "$root/scripts/peer.py" "$step_dir" "$work/cases" || failed=1
fi

# The learned variance: DDPM against diffusers' learned_range, and the bound against
# improved-diffusion's, on a glyphs16-hybrid checkpoint.
learned_cases=("ddpm 50 leading 0 1" "ddpm 20 trailing 0 1" "ddpm 1000 leading 0 1")
wanted=0
for c in "${learned_cases[@]}"; do
  read -r sampler steps spacing _ <<<"$c"
  selected "learned-$sampler-$steps-$spacing" && wanted=1
done
selected learned-bound && wanted=1
selected learned-bound-small && wanted=1
if [ "$wanted" = 1 ]; then
  learned_dir="${DIFFSCOPE_PEER_LEARNED_CHECKPOINT:-}"
  if [ -z "$learned_dir" ]; then
    cache="$root/.peer/checkpoints/glyphs16-hybrid-300"
    learned_dir="$cache/step-00000300"
    if [ ! -f "$learned_dir/meta.ron" ]; then
      echo "peer: training the learned-variance checkpoint (glyphs16-hybrid, 300 steps) into" \
        "$cache" >&2
      rm -rf "$cache.partial"
      mkdir -p "$(dirname "$cache")"
      "$bin" train --preset glyphs16-hybrid --steps 300 --device cpu --out "$cache.partial" \
        >&2 || {
        echo "peer: diffscope train --preset glyphs16-hybrid failed" >&2
        exit 1
      }
      rm -rf "$cache"
      mv "$cache.partial" "$cache"
    fi
  fi
  check_step_dir "$learned_dir"
  if ! grep -q "variance: Learned" "$learned_dir/meta.ron"; then
    echo "peer: $learned_dir: not a learned-variance checkpoint (its meta.ron has no" \
      "variance: Learned)" >&2
    exit 1
  fi
  : >"$work/learned"
  for c in "${learned_cases[@]}"; do
    sample_case "$learned_dir" "$work/learned" "learned-" "$c"
  done
  # eval reads a copy outside the run folder, so that it adds nothing to the run's log
  eval_dir="$work/checkpoint/$(basename "$learned_dir")"
  mkdir -p "$work/checkpoint"
  cp -R "$learned_dir" "$eval_dir"
  bound_case "$eval_dir" "$work/learned" learned-bound learned
  bound_case "$eval_dir" "$work/learned" learned-bound-small small
  if [ -s "$work/learned" ]; then
    "$py" -W ignore "$root/scripts/peer.py" "$learned_dir" "$work/learned" || failed=1
  fi
fi

# Classifier-free guidance: guided DDIM against diffusers' DDIMScheduler in a loop that
# mixes the conditional and unconditional halves itself, on a glyphs16-cond checkpoint.
# w steps spacing n class
cfg_cases=("3 50 leading 20 all" "1.5 20 leading 20 7" "0 50 leading 20 all" "1 50 leading 20 all")
# cfg_name W STEPS CLASS: cfg-ddim-50-w3-all, cfg-ddim-20-w1.5-class7
cfg_name() {
  local w=$1 steps=$2 class=$3
  if [ "$class" = all ]; then
    echo "cfg-ddim-$steps-w$w-all"
  else
    echo "cfg-ddim-$steps-w$w-class$class"
  fi
}
wanted=0
for c in "${cfg_cases[@]}"; do
  read -r w steps _ _ class <<<"$c"
  selected "$(cfg_name "$w" "$steps" "$class")" && wanted=1
done
if [ "$wanted" = 1 ]; then
  cond_dir="${DIFFSCOPE_PEER_COND_CHECKPOINT:-}"
  if [ -z "$cond_dir" ]; then
    cache="$root/.peer/checkpoints/glyphs16-cond-300"
    cond_dir="$cache/step-00000300"
    if [ ! -f "$cond_dir/meta.ron" ]; then
      echo "peer: training the class-conditional checkpoint (glyphs16-cond, 300 steps) into" \
        "$cache" >&2
      rm -rf "$cache.partial"
      mkdir -p "$(dirname "$cache")"
      "$bin" train --preset glyphs16-cond --steps 300 --device cpu --out "$cache.partial" \
        >&2 || {
        echo "peer: diffscope train --preset glyphs16-cond failed" >&2
        exit 1
      }
      rm -rf "$cache"
      mv "$cache.partial" "$cache"
    fi
  fi
  check_step_dir "$cond_dir"
  if ! grep -q "classes: Some(" "$cond_dir/meta.ron"; then
    echo "peer: $cond_dir: not a class-conditional checkpoint (its meta.ron has no" \
      "classes: Some(…))" >&2
    exit 1
  fi
  : >"$work/cfg"
  for c in "${cfg_cases[@]}"; do
    read -r w steps spacing cn class <<<"$c"
    name="$(cfg_name "$w" "$steps" "$class")"
    selected "$name" || continue
    "$bin" sample --checkpoint "$cond_dir" --sampler ddim --steps "$steps" --spacing "$spacing" \
      --guidance "$w" --class "$class" --n "$cn" --seed "$seed" --device cpu --precision fp32 \
      --out "$work/$name.npy" 2>"$work/err" || {
      echo "peer: diffscope sample --guidance $w --class $class failed:" >&2
      cat "$work/err" >&2
      exit 1
    }
    echo "cfg $name $steps $spacing $seed $cn $w $class $work/$name.npy" >>"$work/cfg"
  done
  "$py" -W ignore "$root/scripts/peer.py" "$cond_dir" "$work/cfg" || failed=1
fi
exit "$failed"
