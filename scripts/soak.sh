#!/usr/bin/env bash
# make soak: trains a small model (scripts/soak.ron) for 1,000,000 steps twice, side by
# side: headless (`diffscope train`) and in the workbench open in tmux (its training runs in
# a process of its own). Prints the resident memory of each process at 10^4, 10^5 and 10^6
# steps and fails when it grew by 10% or more after warm-up (10^4 steps); checks that the
# periodic checkpoints were pruned to keep_last and that the metrics log holds one row per
# log_every steps and reads back whole.
#   SOAK_STEPS=N   train N steps instead (a quick check of this script)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${SOAK_STEPS:-1000000}
cargo build --release --quiet
command -v tmux >/dev/null || { echo "soak: tmux is needed (make tools)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/diffscope-soak.XXXXXX)
SOCK=diffscope-soak-$$
cleanup() {
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    [ -n "${HEADLESS:-}" ] && kill "$HEADLESS" 2>/dev/null || true
    for lock in "$WORK"/ui/checkpoints/*/run.lock; do
        [ -s "$lock" ] && kill "$(cat "$lock")" 2>/dev/null || true
    done
}
trap cleanup EXIT
mkdir -p "$WORK/headless" "$WORK/ui"
# A copy of the binary: a rebuild during the soak does not touch the processes under test.
BIN=$WORK/diffscope
cp target/release/diffscope "$BIN"
PRESET=$WORK/soak.ron
sed "s/steps: 1000000,/steps: $STEPS,/" scripts/soak.ron >"$PRESET"

rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true; }
last_step() { tail -n 1 "$1/metrics.csv" 2>/dev/null | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0; }

# Headless, in a session of its own like the workbench's training process (so that the
# kernel's per-session scheduling treats both alike).
setsid "$BIN" train --preset "$PRESET" --steps "$STEPS" --out "$WORK/headless/run" \
    >"$WORK/headless/out.log" 2>&1 &
HEADLESS=$!
# The workbench, in tmux.
tmux -L "$SOCK" new-session -d -s soak -x 120 -y 36 -c "$WORK/ui" \
    "env XDG_CONFIG_HOME=$WORK/ui XDG_DATA_HOME=$WORK/ui TERM=xterm-256color \
     $BIN tui --preset $PRESET --image-protocol halfblocks; sleep 3600"
PANE=$(tmux -L "$SOCK" list-panes -t soak -F '#{pane_pid}')
UI=""
UIRUN=""
for _ in $(seq 1 600); do
    UIRUN=$(ls -d "$WORK"/ui/checkpoints/*/ 2>/dev/null | head -n 1 || true)
    UI=$(pgrep -P "$PANE" -f "diffscope tui" || true)
    [ -n "$UIRUN" ] && [ -s "$UIRUN/run.lock" ] && [ -n "$UI" ] && break
    sleep 0.1
done
[ -n "$UIRUN" ] || { echo "soak: the workbench did not start a run" >&2; tmux -L "$SOCK" capture-pane -p -t soak >&2; exit 1; }
UIRUN=${UIRUN%/}
WORKER=$(cat "$UIRUN/run.lock")
echo "soak: $STEPS steps of scripts/soak.ron, headless (pid $HEADLESS) and the workbench (pid $UI, training pid $WORKER), in $WORK"

declare -A MEM
marks=(10000 100000 1000000)
start=$(date +%s)
while :; do
    hs=$(last_step "$WORK/headless/run"); us=$(last_step "$UIRUN")
    hr=$(rss "$HEADLESS"); wr=$(rss "$WORKER"); ur=$(rss "$UI")
    for m in "${marks[@]}"; do
        # (a process that has just exited reads as nothing: its last reading stands)
        if [ "$hs" -ge "$m" ] && [ -z "${MEM[h$m]:-}" ] && [ -n "$hr" ]; then MEM[h$m]="$hr@$hs"; fi
        if [ "$us" -ge "$m" ] && [ -z "${MEM[w$m]:-}" ] && [ -n "$wr" ]; then
            MEM[w$m]="$wr@$us"; MEM[u$m]="$ur@$us"
        fi
    done
    # The headless process exits at the end: its last reading before that stands for it.
    if [ -n "$hr" ] && [ "$hs" -gt 0 ]; then MEM[hlast]="$hr@$hs"; fi
    if [ -n "$wr" ]; then MEM[wlast]="$wr@$us"; MEM[ulast]="$ur@$us"; fi
    now=$(( $(date +%s) - start ))
    if [ $((now % 60)) -eq 0 ]; then
        echo "  ${now}s: headless step $hs ($(rss "$HEADLESS") MB), workbench step $us ($(rss "$WORKER") MB training, $(rss "$UI") MB UI)"
    fi
    if ! kill -0 "$HEADLESS" 2>/dev/null && [ "$us" -ge "$STEPS" ]; then break; fi
    if ! kill -0 "$WORKER" 2>/dev/null; then echo "soak: the workbench's training process died" >&2; exit 1; fi
    sleep 1
done
wait "$HEADLESS" || { echo "soak: headless training failed:" >&2; tail -n 3 "$WORK/headless/out.log" >&2; exit 1; }
for m in "${marks[@]}"; do
    [ "$m" -le "$STEPS" ] || continue
    [ -n "${MEM[h$m]:-}" ] || MEM[h$m]=${MEM[hlast]}
    [ -n "${MEM[w$m]:-}" ] || MEM[w$m]=${MEM[wlast]}
    [ -n "${MEM[u$m]:-}" ] || MEM[u$m]=${MEM[ulast]}
done
screen=$(tmux -L "$SOCK" capture-pane -p -t soak)
echo "${screen%%$'\n'*}"
secs=$(( $(date +%s) - start ))

fail=0
echo
printf '%-22s' "resident memory (MB)"
for m in "${marks[@]}"; do [ "$m" -le "$STEPS" ] && printf '%20s' "$m steps"; done
printf '%12s\n' "growth"
for who in h:"headless train" w:"workbench training" u:"workbench UI"; do
    k=${who%%:*}; printf '%-22s' "${who#*:}"
    first=""; lastv=""
    for m in "${marks[@]}"; do
        [ "$m" -le "$STEPS" ] || continue
        v=${MEM[$k$m]}; printf '%20s' "${v%@*} (@${v#*@})"
        [ -n "$first" ] || first=${v%@*}; lastv=${v%@*}
    done
    g=$(awk -v a="$first" -v b="$lastv" 'BEGIN { printf "%+.1f", (b - a) / a * 100 }')
    printf '%11s%%\n' "$g"
    if awk -v g="$g" 'BEGIN { exit !(g >= 10) }'; then echo "soak: ${who#*:} grew by $g% after warm-up" >&2; fail=1; fi
done
echo "(growth: from the first column to the last; @ the step read from metrics.csv at that moment)"
echo

# Checkpoints pruned to keep_last, and the metrics log whole.
keep=$(grep -o 'keep_last: [0-9]*' "$PRESET" | grep -o '[0-9]*$')
log_every=$(grep -o 'log_every: [0-9]*' "$PRESET" | grep -o '[0-9]*$')
for run in "$WORK/headless/run" "$UIRUN"; do
    n=$(ls -d "$run"/step-* 2>/dev/null | wc -l)
    rows=$(( $(wc -l <"$run/metrics.csv") - 1 ))
    size=$(du -k "$run/metrics.csv" | cut -f1)
    echo "$(basename "$(dirname "$run")")/$(basename "$run"): $n checkpoints kept ($(ls -d "$run"/step-* | xargs -n1 basename | tr '\n' ' ')), metrics.csv $rows rows, ${size} kB"
    [ "$n" -le "$keep" ] || { echo "soak: $n checkpoints, keep_last is $keep" >&2; fail=1; }
    [ "$rows" -ge $((STEPS / log_every - 1)) ] || { echo "soak: $rows log rows for $STEPS steps" >&2; fail=1; }
done
# Both runs read back through the run log's reader (a cut or corrupt row would be named).
"$BIN" runs --compare "$WORK/headless/run" "$UIRUN" || fail=1
echo "took ${secs}s"
exit $fail
