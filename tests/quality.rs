//! The quality bar of the 2-D slice: the `swissroll` preset, trained for its default
//! budget with its fixed seed, must draw samples whose sliced Wasserstein-1 distance to
//! fresh data is at most a quarter of that between N(0, I) noise and the data.

use diffscope::config::Preset;
use diffscope::data::Split;
use diffscope::eval::point_quality;
use diffscope::train::{Trainer, Weights};
use std::time::Instant;
use tch::Device;

#[test]
fn swissroll_samples_are_close_to_the_data() {
    tch::set_num_threads(2);
    let preset = Preset::load("swissroll").unwrap().preset;
    let steps = preset.train.steps;
    let mut tr = Trainer::new(preset, Device::Cpu).unwrap();
    let start = Instant::now();
    let mut last = 0.0;
    for _ in 0..steps {
        last = tr.train_step().unwrap().loss;
    }
    let train_secs = start.elapsed().as_secs_f64();

    let n = 5000;
    let x = tr.sample(
        n,
        &tr.sample_options(),
        Weights::Ema,
        1,
        None,
        &mut |_, _| {},
    );
    let samples: Vec<f32> = Vec::try_from(x.view([-1])).unwrap();
    let fresh = tr
        .preset
        .data
        .source()
        .load(12345, Split::Held(n))
        .unwrap()
        .values;
    // sliced W1 over 128 directions, against fresh data and against N(0, I) noise
    let q = point_quality(&samples, &fresh, 2, 7);
    let (sw, sw_noise) = (q.sw1, q.sw1_noise);
    let ratio = sw / sw_noise;
    println!(
        "swissroll: {steps} steps in {train_secs:.1}s (final loss {last:.4}); \
         SW1(samples, data) = {sw:.4}, SW1(noise, data) = {sw_noise:.4}, ratio {ratio:.3} (bar 0.25)"
    );
    assert!(ratio <= 0.25, "ratio {ratio}");
}
