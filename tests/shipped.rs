//! The checkpoints shipped in `checkpoints/` load, sample, and meet the quality bounds
//! stated here; their metadata records the exact command that trained them.

use diffscope::data::Split;
use diffscope::eval::sliced_wasserstein;
use diffscope::rng::Rng;
use diffscope::train::{checkpoint, Trainer, Weights};
use std::path::Path;
use tch::Device;

#[test]
fn shipped_swissroll_draws_the_swiss_roll() {
    tch::set_num_threads(2);
    let dir = Path::new("checkpoints/swissroll");
    let ck = checkpoint::read(dir).unwrap();
    assert!(ck
        .meta
        .command
        .starts_with("diffscope train --preset swissroll"));
    let size: u64 = std::fs::read_dir(&ck.dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(size <= 5 << 20, "{size} bytes");
    let tr = Trainer::load_model(dir, Device::Cpu).unwrap();
    let n = 3000;
    let x = tr.sample(
        n,
        &tr.sample_options(),
        Weights::Ema,
        5,
        None,
        &mut |_, _| {},
    );
    let samples: Vec<f32> = Vec::try_from(x.view([-1])).unwrap();
    let fresh = tr
        .preset
        .data
        .source()
        .load(4242, Split::Held(n))
        .unwrap()
        .values;
    let mut r = Rng::new(1);
    let noise: Vec<f32> = (0..2 * n).map(|_| r.normal() as f32).collect();
    let sw = sliced_wasserstein(&samples, &fresh, 2, 128, 3);
    let base = sliced_wasserstein(&noise, &fresh, 2, 128, 3);
    println!(
        "shipped swissroll (step {}): SW1 {sw:.4}, noise {base:.4}, ratio {:.3} (bound 0.25)",
        tr.step,
        sw / base
    );
    assert!(sw / base <= 0.25);
}
