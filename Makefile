# diffscope: the two commands of the README.
#   make run    install libtorch if absent, build in release, run the main job
#   make test   install libtorch if absent, run the whole test suite
.PHONY: run test libtorch bench fmt lint

libtorch:
	@bash scripts/setup-libtorch.sh

run: libtorch
	cargo run --release --

test: libtorch
	cargo test --release

bench: libtorch
	cargo bench --bench throughput

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
