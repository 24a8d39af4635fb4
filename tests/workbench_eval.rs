//! The workbench's on-demand evaluation, as the worker computes it: the bound's terms for
//! every timestep and the quality summary shown next to the samples.

use diffscope::config::Preset;
use diffscope::train::evaluate::evaluate;
use diffscope::train::{Trainer, Weights};
use std::path::Path;
use tch::Device;

#[test]
fn evaluation_has_a_term_per_timestep_and_a_summary() {
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("DIFFSCOPE_CACHE", cache.path());
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
        if e.bits {
            assert_eq!(e.unit, "bits/dim");
            assert!(e.summary.contains("Fréchet") && e.summary.contains("classes"));
        } else {
            assert_eq!(e.unit, "nats/dim");
            assert!(e.summary.contains("SW/noise"));
        }
    }
}
