//! Throughput benchmark (not a test): training steps/s and images/s, and sampling ms per
//! reverse step, for the image presets and the 2-D default, measured side by side in one
//! run. `cargo bench --bench throughput` (or `make bench`); set DIFFSCOPE_BENCH_STEPS to
//! change the number of timed training steps (default 30).

use diffscope::config::Preset;
use diffscope::diffusion::SamplerKind;
use diffscope::train::{Trainer, Weights};
use std::time::Instant;
use tch::Device;

fn main() {
    let steps: u64 = std::env::var("DIFFSCOPE_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    tch::set_num_threads(threads as i32);
    println!("diffscope throughput, {threads} threads, {steps} timed training steps per preset");
    println!(
        "{:<10} {:>6} {:>12} {:>10} {:>16} {:>12}",
        "preset", "batch", "train step/s", "images/s", "sample ms/step", "sample batch"
    );
    for name in ["glyphs16", "shapes32", "swissroll"] {
        let preset = Preset::load(name).expect("bundled preset").preset;
        let batch = preset.train.batch_size;
        let mut tr = Trainer::new(preset, Device::Cpu).expect("trainer");
        for _ in 0..3 {
            tr.train_step().expect("warm-up step");
        }
        let t0 = Instant::now();
        for _ in 0..steps {
            tr.train_step().expect("step");
        }
        let train = t0.elapsed().as_secs_f64();
        let mut opts = tr.sample_options();
        opts.sampler = SamplerKind::Ddpm;
        opts.steps = 20;
        let n = tr.preset.sample.n.min(64);
        let t1 = Instant::now();
        let _ = tr.sample(n, &opts, Weights::Ema, 0, None, &mut |_, _| {});
        let sample = t1.elapsed().as_secs_f64();
        println!(
            "{:<10} {:>6} {:>12.2} {:>10.1} {:>16.2} {:>12}",
            name,
            batch,
            steps as f64 / train,
            (steps as usize * batch) as f64 / train,
            sample * 1000.0 / opts.steps as f64,
            n
        );
    }
}
