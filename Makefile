# diffscope: the two commands of the README.
#   make run    install libtorch if absent, build in release, run the main job
#   make test   install libtorch and the test tools if absent, run the whole test suite
.PHONY: run test libtorch tools bench bench-peer peer fuzz soak quality-bf16 fmt lint

libtorch:
	@bash scripts/setup-libtorch.sh

# The programs the end-to-end tests drive: tmux, Xvfb, xterm, kitty, ImageMagick, xdotool.
tools:
	@bash scripts/setup-test-tools.sh

run: libtorch
	cargo run --release --

test: libtorch tools
	cargo test --release

bench: libtorch
	cargo bench --bench throughput

# diffscope / PyTorch-Python on the same U-Nets (glyphs16, shapes32, mnist-sized): installs
# torch 2.13.0 into .peer/ once (about 4.7 GB), then alternates both sides; see the script.
bench-peer: libtorch
	@bash scripts/bench-peer.sh

# Every sampler against the diffusers scheduler of the same name on the shipped glyphs16
# checkpoint: the same 8-bit pixels from the same x_T, at most one level apart; the learned
# variance and the exact bound on a glyphs16-hybrid checkpoint, and classifier-free guided
# DDIM against diffusers' DDIMScheduler on a glyphs16-cond one (each trained once into
# .peer/checkpoints/). Installs torch 2.13.0 and diffusers 0.42.1 into .peer/ once (see
# scripts/peer.sh).
peer: libtorch
	@bash scripts/peer.sh

# 100,000 mutated files per parser (presets, themes, tui.ron, IDX raw and gzip, CIFAR,
# image folders, checkpoints); the normal test suite runs 1,000. (The fuzz module of the
# core test binary, tests/core/fuzz.rs.)
fuzz: libtorch
	DIFFSCOPE_FUZZ_CASES=100000 cargo test --release --test core fuzz:: -- --nocapture --test-threads 1

# 1,000,000 steps of a small model, headless and in the workbench in tmux, side by side:
# resident memory at 10^4, 10^5 and 10^6 steps (fails on 10% growth), checkpoints pruned,
# the metrics log whole. About an hour on two cores.
soak: libtorch tools
	@bash scripts/soak.sh

# glyphs16 (or DIFFSCOPE_QUALITY_PRESETS, e.g. glyphs16,shapes32) trained for its whole
# budget in float32 and in bfloat16: Fréchet distance within 10% and no class missing. On a
# CPU without bfloat16 instructions the bfloat16 run of glyphs16 takes about half an hour.
# (The quality_images module of the core test binary, tests/core/quality_images.rs.)
quality-bf16: libtorch
	DIFFSCOPE_QUALITY_STEPS=full cargo test --release --test core quality_images:: -- --nocapture

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
