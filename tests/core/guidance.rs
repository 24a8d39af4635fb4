//! Class-conditional models and classifier-free guidance: the model learns what the class
//! means, guidance steers every sampler, older checkpoints stay unconditional.

use crate::common::process_lock;
use diffscope::config::Preset;
use diffscope::diffusion::{ClassChoice, Guidance, SampleOptions, SamplerKind, Trajectory};
use diffscope::train::{TrainError, Trainer, Weights};
use tch::Device;

/// The Gaussian (0 at angle 0, counter-clockwise) nearest to each sample of the eight
/// gaussians, by angle.
fn components(values: &[f32]) -> Vec<usize> {
    use std::f64::consts::PI;
    values
        .chunks(2)
        .map(|p| {
            let a = (p[1] as f64).atan2(p[0] as f64).rem_euclid(2.0 * PI);
            ((a / (PI / 4.0)).round() as usize) % 8
        })
        .collect()
}

fn guided(tr: &Trainer, sampler: SamplerKind, scale: f64, class: ClassChoice) -> Vec<usize> {
    let opts = SampleOptions {
        sampler,
        steps: 25,
        guidance: Some(Guidance { scale, class }),
        ..tr.sample_options()
    };
    let x = tr
        .sample(240, &opts, Weights::Ema, 3, None, &mut |_, _| {})
        .unwrap();
    components(&Vec::<f32>::try_from(x.flatten(0, -1)).unwrap())
}

/// A small MLP trained on eight gaussians with the Gaussian as the class draws the one
/// asked for, with every sampler, guided (w = 3) and conditional (w = 1); unconditional
/// (w = 0) it draws all eight.
#[test]
fn a_conditional_model_draws_the_class_asked_for_in_every_sampler() {
    let _turn = process_lock();
    tch::set_num_threads(2);
    let mut p = Preset::from_file("tests/valid_presets/tiny-gaussians-cond.ron".as_ref()).unwrap();
    p.train.steps = 1500;
    let mut tr = Trainer::new(p, Device::Cpu).unwrap();
    for _ in 0..1500 {
        tr.train_step().unwrap();
    }
    for sampler in SamplerKind::ALL {
        for (scale, class) in [(3.0, 2u16), (1.0, 5)] {
            let got = guided(&tr, sampler, scale, ClassChoice::One(class));
            let hits = got.iter().filter(|&&c| c == class as usize).count();
            println!("{sampler} w {scale} class {class}: {hits} of {}", got.len());
            assert!(
                hits as f64 >= 0.9 * got.len() as f64,
                "{sampler}, w {scale}, class {class}: {hits} of {}",
                got.len()
            );
        }
    }
    // unconditional: every Gaussian, none of them nearly all (an eighth is 30 of 240)
    let got = guided(&tr, SamplerKind::Ddim, 0.0, ClassChoice::One(2));
    for c in 0..8 {
        let n = got.iter().filter(|&&k| k == c).count();
        println!("w = 0, class {c}: {n}");
        assert!((10..=60).contains(&n), "class {c}: {n} of 240");
    }
    // every class: 240 samples of 8 classes are eight blocks of 30, one per grid row
    let got = guided(&tr, SamplerKind::Ddim, 3.0, ClassChoice::All);
    let per_block = |k: usize| {
        got[k * 30..(k + 1) * 30]
            .iter()
            .filter(|&&c| c == k)
            .count()
    };
    let blocks: Vec<usize> = (0..8).map(per_block).collect();
    assert!(blocks.iter().all(|&n| n >= 27), "{blocks:?}");
}

/// Guided runs keep the conditional and unconditional x̂_0 of each frame; unguided runs and
/// w = 1 keep none.
#[test]
fn guided_trajectories_keep_both_predictions() {
    let _turn = process_lock();
    let p = Preset::from_file("tests/valid_presets/tiny-cond.ron".as_ref()).unwrap();
    let tr = Trainer::new(p, Device::Cpu).unwrap();
    let run = |scale: f64| {
        let mut traj = Trajectory::new();
        let opts = SampleOptions {
            guidance: Some(Guidance {
                scale,
                class: ClassChoice::One(4),
            }),
            ..tr.sample_options()
        };
        let x = tr
            .sample(
                3,
                &opts,
                Weights::Raw,
                1,
                Some((&mut traj, 10)),
                &mut |_, _| {},
            )
            .unwrap();
        assert_eq!(x.size(), [3, 1, 8, 8]);
        traj
    };
    let traj = run(2.0);
    assert_eq!(traj.x0_guided.len(), traj.x0_hat.len());
    for (both, mixed) in traj.x0_guided.iter().zip(&traj.x0_hat) {
        let [c, u] = both.as_ref().expect("both halves");
        assert_eq!(c.size(), mixed.size());
        assert_eq!(u.size(), mixed.size());
    }
    assert!(run(1.0).x0_guided.iter().all(Option::is_none));
}

/// A checkpoint saved before classes existed loads as an unconditional model: it samples
/// as before and refuses a class.
#[test]
fn older_checkpoints_load_as_unconditional() {
    let _turn = process_lock();
    let tr = Trainer::load_model("checkpoints/glyphs16".as_ref(), Device::Cpu).unwrap();
    assert_eq!(tr.classes(), None);
    assert_eq!(tr.sample_options().guidance, None);
    let opts = SampleOptions {
        guidance: Some(Guidance::default()),
        ..tr.sample_options()
    };
    let e = tr
        .sample(1, &opts, Weights::Ema, 0, None, &mut |_, _| {})
        .expect_err("refused");
    assert!(matches!(e, TrainError::Unconditional), "{e}");
}
