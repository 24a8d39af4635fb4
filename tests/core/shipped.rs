//! The checkpoints shipped in `checkpoints/` load, sample, and meet the quality bounds
//! stated here; their metadata records the exact command that trained them.

use crate::common::{process_lock, PrivateCache};
use diffscope::data::Split;
use diffscope::eval::image_quality::image_quality;
use diffscope::eval::point_quality;
use diffscope::train::{checkpoint, Trainer, Weights};
use std::path::Path;
use tch::Device;

/// Opens `checkpoints/NAME`, checking that it was made by the bundled preset of that name
/// and is at most 5 MB.
fn open_shipped(name: &str) -> Trainer {
    let dir = Path::new("checkpoints").join(name);
    let ck = checkpoint::read(&dir).unwrap();
    let by = format!("diffscope train --preset {name}");
    assert!(ck.meta.command.starts_with(&by), "{}", ck.meta.command);
    let size: u64 = std::fs::read_dir(&ck.dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!("checkpoints/{name}: {size} bytes, step {}", ck.meta.step);
    assert!(size <= 5 << 20, "{size} bytes");
    Trainer::load_model(&dir, Device::Cpu).unwrap()
}

#[test]
fn shipped_swissroll_draws_the_swiss_roll() {
    let _rng = process_lock();
    tch::set_num_threads(2);
    let tr = open_shipped("swissroll");
    let n = 3000;
    let x = tr
        .sample(
            n,
            &tr.sample_options(),
            Weights::Ema,
            5,
            None,
            &mut |_, _| {},
        )
        .unwrap();
    let samples: Vec<f32> = Vec::try_from(x.view([-1])).unwrap();
    let fresh = tr
        .preset
        .data
        .source()
        .load(4242, Split::Held(n))
        .unwrap()
        .values;
    let q = point_quality(&samples, &fresh, 2, 3);
    let (sw, base) = (q.sw1, q.sw1_noise);
    println!(
        "shipped swissroll (step {}): SW1 {sw:.4}, noise {base:.4}, ratio {:.3} (bound 0.25)",
        tr.step,
        sw / base
    );
    assert!(sw / base <= 0.25);
}

#[test]
fn shipped_glyphs16_draws_every_digit() {
    let rng = process_lock();
    let _cache = PrivateCache::new(&rng);
    tch::set_num_threads(2);
    let tr = open_shipped("glyphs16");
    let x = tr
        .sample(
            400,
            &tr.sample_options(),
            Weights::Ema,
            5,
            None,
            &mut |_, _| {},
        )
        .unwrap();
    let q = image_quality(&x, &tr.preset.data, 0, Device::Cpu, &mut |s| {
        println!("{s}")
    })
    .unwrap();
    println!("shipped glyphs16 (step {}): {q:?}", tr.step);
    assert!(q.missing_classes().is_empty(), "every digit is drawn");
    assert!(
        q.frechet < 0.1 * q.frechet_noise,
        "Fréchet {} vs noise {}",
        q.frechet,
        q.frechet_noise
    );
}
