//! The workbench's on-demand evaluation, as the worker computes it: the bound's terms for
//! every timestep and the quality summary shown next to the samples, computed with the
//! same item count and seed as `diffscope eval`, so that both give the same bound.

use crate::common::{diffscope, process_lock, stderr, stdout, train_tiny, PrivateCache};
use diffscope::config::Preset;
use diffscope::eval::evaluate::{defaults, evaluate};
use diffscope::eval::Unit;
use diffscope::train::{Trainer, Weights};
use diffscope::tui::app::figures;
use std::path::Path;
use tch::Device;

#[test]
fn evaluation_has_a_term_per_timestep_and_a_summary() {
    let turn = process_lock();
    let _cache = PrivateCache::new(&turn);
    tch::set_num_threads(1);
    for file in [
        "tests/valid_presets/tiny.ron",
        "tests/valid_presets/tiny-unet.ron",
    ] {
        let preset = Preset::from_file(Path::new(file)).unwrap();
        let t = preset.diffusion.timesteps;
        let mut tr = Trainer::new(preset, Device::Cpu).unwrap();
        for _ in 0..5 {
            tr.train_step().unwrap();
        }
        let (e, per_t) = evaluate(&tr, Weights::Raw, &mut |_, _| {}).unwrap();
        let summary = figures::summary(&e);
        println!("{file}: {summary} | {e:?}");
        assert_eq!((e.step, e.ema), (5, false));
        assert_eq!(per_t.len(), t, "one term per timestep");
        assert!(per_t.iter().all(|v| v.is_finite()));
        assert!(e.bound.is_finite() && e.bound_se >= 0.0);
        let parts_sum: f64 = per_t.iter().sum();
        // the total is the sum of the terms plus L_T (≥ 0)
        assert!(
            e.bound >= parts_sum - 1e-6 * parts_sum.abs().max(1.0),
            "{e:?}"
        );
        // the figures say what they were computed on
        assert_eq!(e.seed, Some(defaults::SEED));
        assert_eq!(e.estimate, None, "exact");
        assert!(
            summary.contains(&format!("seed {}", defaults::SEED)),
            "{summary}"
        );
        assert!(summary.contains("±") && summary.contains("n="), "{summary}");
        if e.unit == Unit::BitsPerDim {
            assert!(summary.contains("Fréchet") && summary.contains("classes"));
            assert!(
                e.frechet_noise.is_some() && e.class_counts.is_some(),
                "{e:?}"
            );
        } else {
            assert_eq!(e.unit, Unit::NatsPerDim);
            assert!(summary.contains("SW/noise"));
            assert_eq!(e.items, Some(defaults::held_items(false)));
            assert!(summary.contains("n=1000"), "{summary}");
            assert!(e.far.is_some() && e.sample_radius.is_some(), "{e:?}");
            assert!(e.mmd2().is_some() && e.mmd_noise.is_some(), "{e:?}");
        }
    }
}

/// The bound `b` shows and the one `diffscope eval` prints with its defaults are the same
/// figure: same held-out items, same noise, same weights.
#[test]
fn the_workbench_and_eval_agree_on_the_bound() {
    let turn = process_lock();
    // `eval` below uses the same cache, and so the same classifier.
    let _cache = PrivateCache::new(&turn);
    let dir = tempfile::tempdir().unwrap();
    let run = train_tiny(dir.path());
    tch::set_num_threads(1);
    let tr = Trainer::load_as(&run, Device::Cpu, false, None).unwrap();
    let (e, _) = evaluate(&tr, Weights::Ema, &mut |_, _| {}).unwrap();
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--samples",
        "0",
        "--device",
        "cpu",
    ]);
    let out = stdout(&o);
    println!("workbench: {}\neval:\n{out}", figures::summary(&e));
    assert!(o.status.success(), "{}", stderr(&o));
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("bound"))
        .unwrap();
    let mut words = line.split_whitespace().skip(1);
    let bound: f64 = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("±"));
    let se: f64 = words.next().unwrap().parse().unwrap();
    assert!(
        (bound - e.bound).abs() < 2e-4 && (se - e.bound_se).abs() < 2e-4,
        "eval {bound} ± {se}, workbench {} ± {}",
        e.bound,
        e.bound_se
    );
    assert!(
        out.contains(&format!("n = {} held-out items, seed 0", e.items.unwrap())),
        "{out}"
    );
}
