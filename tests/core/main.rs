//! The engine, in this process and through the command line: the diffusion mathematics
//! and its golden fingerprints, the variational bound, presets and data, checkpoints
//! (resume, integrity, non-finite weights), the quality bars of the shipped checkpoints and
//! of training, the evaluation the workbench asks for, the parsers fuzzed, and the crate's
//! layers. Tests that seed libtorch's generator or set its thread count take turns
//! (`common::process_lock`).
//!
//! `make fuzz` and `make quality-bf16` run the `fuzz` and `quality_images` modules alone.

#[path = "../common/mod.rs"]
mod common;

mod bound;
mod diffusion_math;
mod fuzz;
mod golden;
mod guidance;
mod image_data;
mod image_quality;
mod integrity;
mod layers;
mod non_finite;
mod presets;
mod quality;
mod quality_images;
mod resume;
mod shipped;
mod workbench_eval;
