//! Golden fingerprints of the samplers and of the exact variational bound, computed with the
//! shipped checkpoints and fixed seeds. The schedules and samplers must give the same pixels
//! as diffusers' schedulers driving the same network, so any change to the diffusion
//! mathematics has to leave these numbers unchanged, bit for bit.
//!
//! Each case is one line: a name, then the f64 sum and sum of squares of every output value,
//! an FNV-1a hash of their bits, and the first values, all printed so that they read back
//! exactly. `tests/golden/fingerprints.txt` holds the recorded lines; to record them anew
//! (only after a deliberate change of the mathematics) run this test with
//! `DIFFSCOPE_RECORD_GOLDEN=1`.

use crate::common::process_lock;
use diffscope::diffusion::bound::Decoder;
use diffscope::diffusion::guidance::{self, GuidedOutputs};
use diffscope::diffusion::{
    ClassChoice, Diffusion, Prediction, SampleOptions, SamplerKind, Schedule, ScheduleKind,
    Spacing, Trajectory, VarianceKind,
};
use diffscope::model::{Unet, UnetConfig};
use diffscope::train::{Trainer, Weights};
use std::cell::RefCell;
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

const GOLDEN: &str = "tests/golden/fingerprints.txt";
/// Values listed in full at the start of each fingerprint.
const HEAD: usize = 16;

fn fnv1a(bits: impl Iterator<Item = u64>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bits {
        for byte in b.to_le_bytes() {
            h ^= byte as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The fingerprint of f32 values (samples).
fn fingerprint_f32(name: &str, v: &[f32]) -> String {
    let sum: f64 = v.iter().map(|&x| x as f64).sum();
    let sq: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
    let hash = fnv1a(v.iter().map(|x| x.to_bits() as u64));
    let head: Vec<String> = v.iter().take(HEAD).map(|x| format!("{x:?}")).collect();
    format!(
        "{name} n={} sum={sum:?} sumsq={sq:?} hash={hash:016x} head={}",
        v.len(),
        head.join(",")
    )
}

/// The fingerprint of f64 values (bound terms).
fn fingerprint_f64(name: &str, v: &[f64]) -> String {
    let sum: f64 = v.iter().sum();
    let sq: f64 = v.iter().map(|x| x * x).sum();
    let hash = fnv1a(v.iter().map(|x| x.to_bits()));
    let head: Vec<String> = v.iter().take(HEAD).map(|x| format!("{x:?}")).collect();
    format!(
        "{name} n={} sum={sum:?} sumsq={sq:?} hash={hash:016x} head={}",
        v.len(),
        head.join(",")
    )
}

fn values(x: &Tensor) -> Vec<f32> {
    Vec::try_from(x.to_kind(Kind::Float).view([-1])).expect("samples read back")
}

fn open(name: &str) -> Trainer {
    Trainer::load_model(&Path::new("checkpoints").join(name), Device::Cpu).expect("checkpoint")
}

/// The sampler cases: DDPM and DDIM as recorded first (their labels unchanged), then every
/// newer sampler with its default spacing, the other spacings and Karras σ. Each case is
/// equal to the diffusers scheduler of the same name (`make peer`), so these lines hold
/// that equality without Python.
fn sampler_cases() -> Vec<SampleOptions> {
    let mut v = Vec::new();
    for steps in [1000usize, 50, 10] {
        for var in [VarianceKind::FixedSmall, VarianceKind::FixedLarge] {
            v.push(SampleOptions {
                sampler: SamplerKind::Ddpm,
                steps,
                variance: Some(var),
                ..Default::default()
            });
        }
    }
    for steps in [1000usize, 50, 10] {
        for eta in [0.0, 1.0] {
            v.push(SampleOptions {
                sampler: SamplerKind::Ddim,
                steps,
                eta,
                ..Default::default()
            });
        }
    }
    for spacing in [Spacing::Linspace, Spacing::Trailing] {
        for sampler in [SamplerKind::Ddpm, SamplerKind::Ddim] {
            v.push(SampleOptions {
                sampler,
                steps: 10,
                spacing: Some(spacing),
                ..Default::default()
            });
        }
    }
    for sampler in &SamplerKind::ALL[2..] {
        v.push(SampleOptions {
            sampler: *sampler,
            steps: 10,
            ..Default::default()
        });
        v.push(SampleOptions {
            sampler: *sampler,
            steps: 7,
            spacing: Some(Spacing::Leading),
            ..Default::default()
        });
        v.push(SampleOptions {
            sampler: *sampler,
            steps: 7,
            spacing: Some(Spacing::Trailing),
            ..Default::default()
        });
        if sampler.has_karras() {
            v.push(SampleOptions {
                sampler: *sampler,
                steps: 10,
                karras: true,
                ..Default::default()
            });
        }
    }
    v
}

/// A case's label: the first recorded form for DDPM and DDIM at the default spacing, with
/// the spacing and Karras σ after it otherwise.
fn label(name: &str, o: &SampleOptions, clip: bool) -> String {
    if matches!(o.sampler, SamplerKind::Ddpm | SamplerKind::Ddim) && o.spacing.is_none() {
        let var = o.variance.map_or("model", |v| match v {
            VarianceKind::FixedSmall => "small",
            VarianceKind::FixedLarge => "large",
            VarianceKind::Learned => "learned",
        });
        return format!(
            "{name} {} S={} eta={} var={var} clip={clip}",
            o.sampler.name(),
            o.steps,
            o.eta
        );
    }
    format!(
        "{name} {} S={} spacing={} karras={} clip={clip}",
        o.sampler.name(),
        o.steps,
        o.spacing(),
        o.karras
    )
}

/// The cases of a model with a learned variance: DDPM with it over all T steps and
/// respaced (the respaced chain's own β̃ and β), the same read with fixed-small, and a
/// sampler that uses the mean's output only.
fn learned_cases() -> Vec<SampleOptions> {
    let mut v = Vec::new();
    for (steps, spacing) in [(1000usize, None), (50, None), (10, Some(Spacing::Trailing))] {
        v.push(SampleOptions {
            sampler: SamplerKind::Ddpm,
            steps,
            spacing,
            ..Default::default()
        });
    }
    v.push(SampleOptions {
        sampler: SamplerKind::Ddpm,
        steps: 50,
        variance: Some(VarianceKind::FixedSmall),
        ..Default::default()
    });
    v.push(SampleOptions {
        sampler: SamplerKind::Dpmpp2m,
        steps: 10,
        ..Default::default()
    });
    v
}

fn sampler_lines(name: &str, n: usize, seed: u64) -> Vec<String> {
    let cases = if open(name).diffusion.learns_variance() {
        learned_cases()
    } else {
        sampler_cases()
    };
    let tr = open(name);
    let clip = tr.preset.diffusion.clip_x0;
    let mut lines = Vec::new();
    for case in cases {
        let opts = SampleOptions {
            clip_x0: clip,
            ..case
        };
        let label = label(name, &opts, clip);
        let mut traj = Trajectory::new();
        let x = tr
            .sample(
                n,
                &opts,
                Weights::Ema,
                seed,
                Some((&mut traj, 4)),
                &mut |_, _| {},
            )
            .unwrap();
        lines.push(fingerprint_f32(&label, &values(&x)));
        let frames: Vec<f32> = traj
            .xt
            .iter()
            .chain(&traj.x0_hat)
            .flat_map(values)
            .collect();
        lines.push(format!(
            "{label} frames t={:?} {}",
            traj.timesteps,
            fingerprint_f32("", &frames).trim_start()
        ));
    }
    lines
}

/// The exact bound's per-timestep terms on a few items: the prior per item, every term per
/// item (t-major), and the terms at a few timesteps in full.
fn bound_lines(name: &str, x0: &Tensor, decoder: Decoder, seed: i64) -> Vec<String> {
    let mut tr = open(name);
    let mut lines = Vec::new();
    let variances: &[VarianceKind] = if tr.diffusion.learns_variance() {
        &[VarianceKind::Learned, VarianceKind::FixedSmall]
    } else {
        &[VarianceKind::FixedSmall, VarianceKind::FixedLarge]
    };
    for &var in variances {
        tr.diffusion.set_variance(var).expect("variance");
        let model = tr.model(Weights::Ema);
        tch::manual_seed(seed);
        let b = tr
            .diffusion
            .bound_terms(
                &mut |x, t| model.forward_t(x, t, None, false),
                x0,
                decoder,
                &mut |_, _| {},
            )
            .expect("bound");
        let label = format!("{name} bound {decoder:?} var={var:?}");
        lines.push(fingerprint_f64(&format!("{label} prior"), &b.prior));
        let all: Vec<f64> = b.terms.iter().flatten().copied().collect();
        lines.push(fingerprint_f64(&format!("{label} terms"), &all));
        let last = b.terms.len() - 1;
        for t in [0, 1, 2, last / 2, last] {
            lines.push(fingerprint_f64(&format!("{label} t={t}"), &b.terms[t]));
        }
        lines.push(fingerprint_f64(&format!("{label} totals"), &b.totals()));
        tch::manual_seed(seed + 1);
        let e = tr
            .diffusion
            .bound_estimate(
                &mut |x, t| model.forward_t(x, t, None, false),
                x0,
                8,
                decoder,
                &mut |_, _| {},
            )
            .expect("estimate");
        let draws: Vec<f64> = e
            .draws
            .iter()
            .flat_map(|&(t, i, v)| [t as f64, i as f64, v])
            .collect();
        lines.push(fingerprint_f64(&format!("{label} estimate draws"), &draws));
        lines.push(fingerprint_f64(
            &format!("{label} estimate totals"),
            &e.totals(),
        ));
    }
    lines
}

/// The classes and item shape of the tiny class-conditional U-Net of the guided cases.
const TINY_CLASSES: i64 = 3;
const TINY_SHAPE: [i64; 3] = [1, 8, 8];

/// A tiny class-conditional U-Net (3 classes, 1×8×8 items) with every parameter drawn from
/// a fixed seed, in the order of the parameters' names: the U-Net's own initialisation
/// starts its output convolution at zero, which would make every output 0 and guidance
/// invisible. Weights are N(0, 1/fan-in), GroupNorm gains 1 + N(0, 0.1²), biases
/// N(0, 0.1²), the class embedding N(0, 1) (as a fresh embedding is).
fn tiny_conditional_unet() -> (nn::VarStore, Unet) {
    tch::manual_seed(53);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = UnetConfig {
        base_channels: 8,
        channel_mults: vec![1, 2],
        blocks_per_level: 1,
        attention_resolutions: vec![4],
        dropout: 0.0,
        groups: 4,
        classes: Some(TINY_CLASSES),
    };
    let net = Unet::new(&vs.root(), &TINY_SHAPE, TINY_SHAPE[0], &cfg);
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, v) in &mut vars {
            let size = v.size();
            let fresh = if name == "class.weight" {
                v.randn_like()
            } else if size.len() >= 2 {
                let fan_in = size[1..].iter().product::<i64>() as f64;
                v.randn_like() / fan_in.sqrt()
            } else if name.ends_with("weight") {
                v.randn_like() * 0.1 + 1.0
            } else {
                v.randn_like() * 0.1
            };
            v.copy_(&fresh);
        }
    });
    (vs, net)
}

/// Guided DDIM on the tiny conditional U-Net through [`guidance::guided`] and
/// [`Diffusion::sample`], as `diffscope sample --guidance W --class C` runs it: w = 3 over
/// all classes (one batched call of both halves per step) and w = 0 (the unconditional
/// model), each with and without clipping x̂_0, and w = 1.5 for one class. `make peer` holds guided DDIM equal to diffusers'
/// DDIMScheduler mixing the halves itself; these lines hold the same code without Python.
fn guided_lines() -> Vec<String> {
    let (_vs, unet) = tiny_conditional_unet();
    let schedule = Schedule::new(ScheduleKind::Cosine, 1000).expect("schedule");
    let diffusion = Diffusion::new(
        schedule,
        Prediction::Epsilon,
        VarianceKind::FixedSmall,
        Device::Cpu,
    );
    let n = 6;
    let mut shape = vec![n as i64];
    shape.extend_from_slice(&TINY_SHAPE);
    let mut lines = Vec::new();
    // x̂_0 clipped, as for images, saturates most of a random network's pixels at ±1; the
    // unclipped cases keep every value informative.
    for (scale, class, steps, clip, seed) in [
        (3.0, ClassChoice::All, 20, true, 61),
        (0.0, ClassChoice::All, 20, true, 61),
        (3.0, ClassChoice::All, 20, false, 61),
        (0.0, ClassChoice::All, 20, false, 61),
        (1.5, ClassChoice::One(2), 10, false, 67),
    ] {
        let opts = SampleOptions {
            sampler: SamplerKind::Ddim,
            steps,
            clip_x0: clip,
            spacing: Some(Spacing::Leading),
            ..Default::default()
        };
        let labels = Tensor::from_slice(&class.labels(n, TINY_CLASSES as usize));
        let net = |x: &Tensor, t: &Tensor, y: &Tensor| unet.forward_t(x, t, Some(y), false);
        let mut model = guidance::guided(
            net,
            labels,
            TINY_CLASSES as usize,
            scale,
            TINY_SHAPE[0],
            None,
        );
        tch::manual_seed(seed);
        let x = diffusion.sample(&mut model, &shape, &opts, &mut |_| {});
        let class = match class {
            ClassChoice::All => "all".to_string(),
            ClassChoice::One(c) => c.to_string(),
        };
        let label = format!(
            "tiny-cond guided ddim S={steps} spacing=leading w={scale:?} class={class} \
             clip={clip} seed={seed}"
        );
        lines.push(fingerprint_f32(&label, &values(&x)));
    }
    lines
}

fn all_lines() -> Vec<String> {
    let mut lines = Vec::new();
    lines.extend(sampler_lines("swissroll", 64, 17));
    lines.extend(sampler_lines("glyphs16", 3, 23));
    // Bound inputs: 2-D points for the Gaussian decoder, 8-bit images for the discretised one.
    tch::manual_seed(31);
    let points = Tensor::randn([6, 2], (Kind::Float, Device::Cpu));
    lines.extend(bound_lines("swissroll", &points, Decoder::Gaussian, 41));
    tch::manual_seed(32);
    let levels = ((Tensor::randn([2, 1, 16, 16], (Kind::Float, Device::Cpu)) * 0.6 + 1.0) * 127.5)
        .round()
        .clamp(0.0, 255.0);
    let images = levels / 127.5 - 1.0;
    lines.extend(bound_lines("glyphs16", &images, Decoder::Discretized, 43));
    // A learned variance (glyphs16-hybrid): DDPM with it, and the bound with it.
    lines.extend(sampler_lines("glyphs16-hybrid", 3, 29));
    lines.extend(bound_lines(
        "glyphs16-hybrid",
        &images,
        Decoder::Discretized,
        47,
    ));
    // Classifier-free guidance on a tiny conditional U-Net built here.
    lines.extend(guided_lines());
    lines
}

/// The numbers of a line (after each `=` and between commas), for reporting differences.
fn numbers(line: &str) -> Vec<f64> {
    line.split(' ')
        .filter(|s| !s.starts_with("hash="))
        .flat_map(|s| s.split([',', '=', '[', ']']))
        .filter_map(|s| s.parse::<f64>().ok())
        .collect()
}

#[test]
fn samplers_and_bound_match_the_recorded_fingerprints() {
    // The generator and the thread count are the process's: no other test may seed the
    // one or set the other meanwhile.
    let _rng = process_lock();
    // One thread: the network's reductions then add up in one fixed order.
    tch::set_num_threads(1);
    let lines = all_lines();
    let text = lines.join("\n") + "\n";
    if std::env::var_os("DIFFSCOPE_RECORD_GOLDEN").is_some() {
        std::fs::create_dir_all(Path::new(GOLDEN).parent().unwrap()).unwrap();
        std::fs::write(GOLDEN, &text).unwrap();
        println!("recorded {} fingerprints in {GOLDEN}", lines.len());
        return;
    }
    let golden = std::fs::read_to_string(GOLDEN).expect("recorded fingerprints");
    let want: Vec<&str> = golden.lines().collect();
    assert_eq!(want.len(), lines.len(), "number of fingerprints");
    let mut max_delta = 0.0f64;
    let mut differing = Vec::new();
    for (got, want) in lines.iter().zip(&want) {
        if got != want {
            let (g, w) = (numbers(got), numbers(want));
            let d = g
                .iter()
                .zip(&w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            max_delta = max_delta.max(d);
            differing.push(format!("got  {got}\nwant {want}\nmax |Δ| {d:e}"));
        }
    }
    println!(
        "{} fingerprints, {} differ, max |Δ| {max_delta:e}",
        lines.len(),
        differing.len()
    );
    // Recorded and checked on the same kind of CPU, every bit agrees. libtorch may pick
    // other kernels on another processor, which round differently: there, agreement to a
    // relative 1e-3 still catches any change of the mathematics, and is said loudly.
    let close = lines.iter().zip(&want).all(|(got, want)| {
        let (g, w) = (numbers(got), numbers(want));
        g.len() == w.len()
            && g.iter()
                .zip(&w)
                .all(|(a, b)| (a - b).abs() <= 1e-5 + 1e-3 * a.abs().max(b.abs()))
    });
    if !differing.is_empty() && close {
        println!(
            "NOT BIT-IDENTICAL: {} fingerprints differ in rounding only (max |Δ| {max_delta:e}); \
             re-record on this processor with DIFFSCOPE_RECORD_GOLDEN=1 to check bits",
            differing.len()
        );
        return;
    }
    assert!(differing.is_empty(), "{}", differing.join("\n\n"));
}

fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn guided_model_is_the_conditional_the_unconditional_or_one_batched_call_of_both() {
    let _rng = process_lock();
    let (_vs, unet) = tiny_conditional_unet();
    let n = 6;
    let k = TINY_CLASSES as usize;
    tch::manual_seed(59);
    let mut shape = vec![n as i64];
    shape.extend_from_slice(&TINY_SHAPE);
    let x = Tensor::randn(shape.as_slice(), (Kind::Float, Device::Cpu));
    let t = Tensor::from_slice(&[999i64, 700, 480, 250, 10, 0]);
    let labels = Tensor::from_slice(&ClassChoice::All.labels(n, k));
    let null = Tensor::full([n as i64], TINY_CLASSES, (Kind::Int64, Device::Cpu));
    let cond = unet.forward_t(&x, &t, Some(&labels), false);
    let uncond = unet.forward_t(&x, &t, Some(&null), false);
    // "No class" is the label K, and what a call without labels uses.
    assert_eq!(max_abs(&uncond, &unet.forward_t(&x, &t, None, false)), 0.0);
    // The class changes the output, so that the comparisons below can fail.
    let gap = max_abs(&cond, &uncond);
    assert!(
        gap > 1e-2,
        "the class embedding moves the output by {gap:e} only"
    );

    // The guided model at w, with the batch size of each network call.
    let run = |scale: f64, keep: Option<&GuidedOutputs>| {
        let calls = RefCell::new(Vec::new());
        let net = |x: &Tensor, t: &Tensor, y: &Tensor| {
            calls.borrow_mut().push(x.size()[0]);
            assert_eq!(t.size()[0], x.size()[0]);
            assert_eq!(y.size()[0], x.size()[0]);
            unet.forward_t(x, t, Some(y), false)
        };
        let out = guidance::guided(net, labels.shallow_clone(), k, scale, 1, keep)(&x, &t);
        (out, calls.into_inner())
    };

    let (out, calls) = run(1.0, None);
    assert_eq!(
        calls,
        vec![n as i64],
        "w = 1: one conditional call of n items"
    );
    assert_eq!(max_abs(&out, &cond), 0.0, "w = 1 is the conditional model");
    let (out, calls) = run(0.0, None);
    assert_eq!(
        calls,
        vec![n as i64],
        "w = 0: one unconditional call of n items"
    );
    assert_eq!(
        max_abs(&out, &uncond),
        0.0,
        "w = 0 is the unconditional model"
    );

    let keep = GuidedOutputs::default();
    let (out, calls) = run(3.0, Some(&keep));
    assert_eq!(
        calls,
        vec![2 * n as i64],
        "w = 3: one batched call of both halves"
    );
    let (c, u) = keep.take().expect("the halves of the batched call");
    let dc = max_abs(&c, &cond);
    let du = max_abs(&u, &uncond);
    assert!(dc <= 1e-5, "conditional half vs a call of its own: {dc:e}");
    assert!(
        du <= 1e-5,
        "unconditional half vs a call of its own: {du:e}"
    );
    let want = &uncond + (&cond - &uncond) * 3.0;
    let d = max_abs(&out, &want);
    assert!(d <= 1e-5, "w = 3: batched vs two separate calls: {d:e}");
    println!("class gap {gap:e}; batched halves vs separate calls {dc:e}, {du:e}; w = 3 mix {d:e}");
    // w = 3 is neither half: guidance moved the output
    assert!(max_abs(&out, &cond) > 1e-2);
}
