//! The workbench's on-demand evaluation, as the worker computes it: the bound's terms for
//! every timestep and the quality summary shown next to the samples, computed with the
//! same item count and seed as `diffscope eval`, so that both give the same bound.

use crate::common::{diffscope, process_lock, stderr, stdout, train_tiny, PrivateCache};
use diffscope::config::Preset;
use diffscope::eval::evaluate::{defaults, evaluate};
use diffscope::train::{Trainer, Weights};
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
        let e = evaluate(&tr, 7, Weights::Raw, &mut |_, _| {}).unwrap();
        println!("{file}: {} | {:?}", e.summary, e.lines);
        assert_eq!((e.id, e.step, e.ema), (7, 5, false));
        assert_eq!(e.per_t.len(), t, "one term per timestep");
        assert!(e.per_t.iter().all(|v| v.is_finite()));
        assert!(e.total.is_finite() && e.total_se >= 0.0);
        let parts_sum: f64 = e.per_t.iter().sum();
        // the total is the sum of the terms plus L_T (≥ 0)
        assert!(
            e.total >= parts_sum - 1e-6 * parts_sum.abs().max(1.0),
            "{e:?}"
        );
        // the figures say what they were computed on
        assert_eq!(e.seed, Some(defaults::SEED));
        assert!(
            e.lines[0].contains(&format!("seed {}", defaults::SEED)),
            "{:?}",
            e.lines
        );
        assert!(
            e.summary.contains("±") && e.summary.contains("n="),
            "{}",
            e.summary
        );
        if e.bits {
            assert_eq!(e.unit, "bits/dim");
            assert!(e.summary.contains("Fréchet") && e.summary.contains("classes"));
        } else {
            assert_eq!(e.unit, "nats/dim");
            assert!(e.summary.contains("SW/noise"));
            assert_eq!(e.items, Some(defaults::held_items(false)));
            assert!(
                e.lines[0].contains("n = 1000 held-out items"),
                "{:?}",
                e.lines
            );
            assert!(
                e.lines.iter().any(|l| l.starts_with("far out")),
                "{:?}",
                e.lines
            );
            assert!(
                e.lines.iter().any(|l| l.starts_with("MMD")),
                "{:?}",
                e.lines
            );
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
    let e = evaluate(&tr, 1, Weights::Ema, &mut |_, _| {}).unwrap();
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
    println!("workbench: {:?}\neval:\n{out}", e.lines);
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
        (bound - e.total).abs() < 2e-4 && (se - e.total_se).abs() < 2e-4,
        "eval {bound} ± {se}, workbench {} ± {}",
        e.total,
        e.total_se
    );
    assert!(
        out.contains(&format!("n = {} held-out items, seed 0", e.items.unwrap())),
        "{out}"
    );
}
