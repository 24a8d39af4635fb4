#!/usr/bin/env bash
# make bench-peer: diffscope's training speed next to the same U-Net trained by PyTorch from
# Python (scripts/bench_peer.py), on the same libtorch version (2.13.0), for glyphs16,
# shapes32 and an mnist-sized model (the mnist preset's U-Net and batch on 28×28 data).
#
# Installs Python's torch 2.13.0 into .peer/ at the repository root (git-ignored) when it is
# not there yet. The CPU-only build of torch is not on the Python package index, and the
# index's build cannot be imported without its CUDA libraries (torch's Python module links
# libtorch_cuda, which needs cuBLAS, cuDNN, NCCL, …), so the install is the plain
# `pip install torch==2.13.0` with its dependencies: about 4.7 GB, once. No GPU is used.
#
# Each measurement is a process of its own (so that its peak resident memory, VmHWM, is its
# own): diffscope through `cargo bench --bench throughput` in its `--one` mode without
# sampling, PyTorch through bench_peer.py. Both use every available core as threads and
# the same warm-up (3) and timed steps. Rounds alternate the two sides; the table shows
# medians.
#
#   DIFFSCOPE_BENCH_STEPS   timed steps per measurement (default here 10)
#   DIFFSCOPE_PEER_ROUNDS   alternating rounds (default 3)
#   DIFFSCOPE_BENCH_ONLY    e.g. glyphs16,mnist
#   DIFFSCOPE_PEER_LEVERS   PyTorch's own speed levers on the Python side, e.g.
#                           channels_last,fused (see bench_peer.py)
set -euo pipefail

TORCH_VERSION=2.13.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DIFFSCOPE_BENCH_STEPS="${DIFFSCOPE_BENCH_STEPS:-10}"
rounds="${DIFFSCOPE_PEER_ROUNDS:-3}"
configs=(glyphs16 shapes32 mnist)
if [ -n "${DIFFSCOPE_BENCH_ONLY:-}" ]; then
  IFS=, read -r -a configs <<<"$DIFFSCOPE_BENCH_ONLY"
fi

# shellcheck source=scripts/peer-venv.sh
source "$root/scripts/peer-venv.sh"
peer_venv bench-peer "$root" "torch==$TORCH_VERSION"

echo "bench-peer: building the diffscope benchmark" >&2
bench="$(cargo bench --bench throughput --no-run --message-format=json 2>/dev/null |
  "$py" -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and m["target"]["name"] == "throughput":
        print(m["executable"])
')"
if [ -z "$bench" ] || [ ! -x "$bench" ]; then
  cargo bench --bench throughput --no-run >&2
  echo "bench-peer: the throughput benchmark did not build" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for c in "${configs[@]}"; do
  "$bench" --describe "$c" >"$work/$c.cfg"
done

# One measurement: side (ds or py), config, precision; appends its RESULT line.
measure() {
  local side=$1 name=$2 precision=$3 out
  if [ "$side" = ds ]; then
    out="$(DIFFSCOPE_BENCH_SAMPLE=0 "$bench" --one "$name" "$precision" 2>"$work/err")" || true
  else
    out="$("$py" "$root/scripts/bench_peer.py" run "$work/$name.cfg" "$precision" 2>"$work/err")" || true
  fi
  local line
  line="$(grep '^RESULT ' <<<"$out" | head -n1 || true)"
  if [ -z "$line" ]; then
    echo "bench-peer: $side $name $precision failed:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  echo "$side $line" >>"$work/results"
  echo "  $name $precision $([ "$side" = ds ] && echo diffscope || echo PyTorch): $(cut -d'|' -f5 <<<"$line") steps/s" >&2
}

threads="$(nproc)"
echo "bench-peer: ${configs[*]}; $rounds rounds; $DIFFSCOPE_BENCH_STEPS timed steps after 3 warm-up steps; $threads threads" >&2
echo "load before: $(uptime | sed 's/.*load average/load average/')"
start=$(date +%s)
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for c in "${configs[@]}"; do
    if [ $((r % 2)) = 1 ]; then
      measure ds "$c" fp32; measure py "$c" fp32; measure ds "$c" bf16; measure py "$c" bf16
    else
      measure py "$c" fp32; measure ds "$c" fp32; measure py "$c" bf16; measure ds "$c" bf16
    fi
  done
done
echo "load after:  $(uptime | sed 's/.*load average/load average/'); $(( $(date +%s) - start )) s of measurements"
bf16_cpu=no
grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && bf16_cpu=yes
echo "torch $TORCH_VERSION on both sides, $threads threads, $DIFFSCOPE_BENCH_STEPS timed steps per run, CPU bf16 instructions: $bf16_cpu"
"$py" "$root/scripts/bench_peer.py" report "$work/results"
