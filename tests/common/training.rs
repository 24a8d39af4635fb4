//! Training a bundled preset in the test process, for the quality tests.

use diffscope::config::Preset;
use diffscope::model::precision::Precision;
use diffscope::train::Trainer;
use std::time::Instant;
use tch::Device;

/// Trains the bundled preset `name` on two threads for its own budget (or `steps`),
/// computing in `precision`: the trainer, every step's loss, and the seconds it took.
pub fn train_preset(
    name: &str,
    precision: Precision,
    steps: Option<u64>,
) -> (Trainer, Vec<f64>, f64) {
    tch::set_num_threads(2);
    let mut preset = Preset::load(name).unwrap().preset;
    preset.train.precision = precision;
    if let Some(s) = steps {
        preset.train.steps = s;
    }
    let mut tr = Trainer::new(preset, Device::Cpu).unwrap();
    let start = Instant::now();
    let losses = (0..tr.preset.train.steps)
        .map(|_| tr.train_step().unwrap().loss)
        .collect();
    (tr, losses, start.elapsed().as_secs_f64())
}
