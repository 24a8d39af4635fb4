//! Checkpoints resume exactly: N steps, save, load, M more steps equals N+M steps straight
//! through, weight for weight (raw and EMA) to within 1e-6. One test, holding the process lock
//! throughout, because libtorch's generator is process-wide and parallel tests would share
//! it.

use crate::common::process_lock;
use diffscope::config::Preset;
use diffscope::train::{checkpoint, Trainer, Weights};
use std::path::Path;
use tch::Device;

fn max_diff(a: &Trainer, b: &Trainer, w: Weights) -> f64 {
    let (wa, wb) = (a.named_weights(w), b.named_weights(w));
    assert_eq!(wa.len(), wb.len());
    wa.iter()
        .zip(&wb)
        .map(|((na, ta), (nb, tb))| {
            assert_eq!(na, nb);
            (ta - tb).abs().max().double_value(&[])
        })
        .fold(0.0, f64::max)
}

fn check_resume(file: &str, n: u64, m: u64) -> (tempfile::TempDir, Trainer, std::path::PathBuf) {
    let preset = Preset::from_file(Path::new(file)).unwrap();

    let mut straight = Trainer::new(preset.clone(), Device::Cpu).unwrap();
    for _ in 0..n + m {
        straight.train_step().unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let mut first = Trainer::new(preset.clone(), Device::Cpu).unwrap();
    for _ in 0..n {
        first.train_step().unwrap();
    }
    let saved = first.save(dir.path(), false).unwrap();
    drop(first);
    let mut resumed = Trainer::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(resumed.step, n);
    for _ in 0..m {
        resumed.train_step().unwrap();
    }
    let (raw, ema) = (
        max_diff(&straight, &resumed, Weights::Raw),
        max_diff(&straight, &resumed, Weights::Ema),
    );
    println!("{file}: after {n}+{m} steps: max |Δw| raw {raw:.3e}, EMA {ema:.3e}");
    assert!(raw <= 1e-6 && ema <= 1e-6);
    (dir, resumed, saved)
}

#[test]
fn resume_equals_straight_training_and_saves_are_safe() {
    let _turn = process_lock();
    tch::set_num_threads(1);
    // the U-Net has dropout and random flips: their randomness must resume exactly too
    check_resume("tests/valid_presets/tiny-unet.ron", 6, 4);
    // and computing in bfloat16 (autocast) changes nothing about that
    let (_d, bf16, _) = check_resume("tests/valid_presets/tiny-unet-bf16.ron", 6, 4);
    assert_eq!(bf16.compute.name(), "bf16");
    // a learned variance on the bound alone, its timesteps drawn by importance: the
    // sampler's loss history resumes exactly, before its warm-up ends and after
    let (_d, vlb, _) = check_resume("tests/valid_presets/tiny-unet-vlb.ron", 12, 4);
    assert!(vlb.resampler_warm_up().unwrap() < 1.0);
    let (_d, vlb, _) = check_resume("tests/valid_presets/tiny-unet-vlb.ron", 60, 6);
    assert_eq!(vlb.resampler_warm_up(), Some(1.0));
    check_resume("tests/valid_presets/tiny-hybrid.ron", 10, 5);
    // a class-conditional model: which labels are dropped resumes exactly too
    check_resume("tests/valid_presets/tiny-cond.ron", 8, 3);
    check_resume("tests/valid_presets/tiny-gaussians-cond.ron", 8, 3);
    let (n, m) = (25u64, 15u64);
    let (dir, resumed, saved) = check_resume("tests/valid_presets/tiny.ron", n, m);

    // A save interrupted before its rename leaves a hidden temporary folder, which is
    // ignored: the latest complete checkpoint is still the one found.
    std::fs::create_dir_all(dir.path().join(".step-00000099.tmp")).unwrap();
    std::fs::create_dir_all(dir.path().join("step-00000098")).unwrap(); // no meta.ron
    assert_eq!(checkpoint::resolve(dir.path()).unwrap(), saved);

    // Retention: periodic saves beyond keep_last are pruned, hand-made ones are kept.
    let mut tr = resumed;
    tr.preset.train.keep_last = 2;
    let manual = tr.save(dir.path(), true).unwrap();
    for _ in 0..3 {
        tr.train_step().unwrap();
        tr.save(dir.path(), false).unwrap();
    }
    let steps: Vec<u64> = checkpoint::list_steps(dir.path())
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    println!("kept steps: {steps:?}");
    assert_eq!(steps, vec![n + m, n + m + 2, n + m + 3]);
    assert!(manual.join("meta.ron").is_file());
}
