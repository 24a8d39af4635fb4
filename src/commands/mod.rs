//! The headless commands behind the command line.

pub mod data;
pub mod eval;
pub mod progress;
pub mod sample;
pub mod schedule;
pub mod train;

use crate::cli::{SampleArgs, TrainArgs};

/// The main job on the default preset: train `swissroll`, then plot its samples.
pub fn main_job() -> Result<(), String> {
    let args = TrainArgs {
        preset: "swissroll".into(),
        steps: None,
        seed: None,
        out: None,
        device: "auto".into(),
        resume: None,
        threads: None,
        data: None,
    };
    let outcome = train::run(&args)?;
    let plot = outcome.run_dir.join("samples.png");
    sample::run(&SampleArgs {
        checkpoint: outcome.checkpoint,
        sampler: None,
        steps: None,
        eta: None,
        n: None,
        seed: 0,
        ema: true,
        raw: false,
        out: plot,
        trajectory: None,
        frames: 0,
        scale: None,
        device: args.device,
    })
}

/// The command line as typed, for checkpoint metadata.
pub fn command_line() -> String {
    let mut parts: Vec<String> = std::env::args().collect();
    if let Some(first) = parts.first_mut() {
        *first = "diffscope".into();
    }
    parts.join(" ")
}
