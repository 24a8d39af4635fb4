//! Throughput benchmark (not a test), `cargo bench --bench throughput` (or `make bench`):
//! for `glyphs16`, `shapes32`, an `mnist`-sized model (the `mnist` preset's U-Net and
//! batch on MNIST-sized digits from the built-in font, so nothing is downloaded) and the
//! 2-D `swissroll`, in float32 and in bfloat16 (autocast): training steps/s, sampling ms
//! per reverse step, and the peak resident memory. Each configuration runs in a process of
//! its own, so that its peak memory is its own; all run side by side in one sitting.
//! `DIFFSCOPE_BENCH_STEPS` sets the timed training steps (default 30);
//! `DIFFSCOPE_BENCH_ONLY=glyphs16,mnist` picks configurations.
//!
//! `--losses` compares the training objectives instead, on glyphs16 in float32: `Simple`
//! (glyphs16), `Hybrid(0.001)` with a learned variance (glyphs16-hybrid) and `Vlb` with
//! loss-aware timesteps (glyphs16-vlb), each run `DIFFSCOPE_BENCH_ROUNDS` times (default 3)
//! in turn, so that a noisy machine slows all of them alike; it prints the median steps/s
//! of each and its ratio to `Simple`'s.
//!
//! `--guidance` measures what classifier-free guidance costs: sampling ms per reverse step
//! of glyphs16-cond at w = 3 (the conditional and unconditional halves in one batched call)
//! against w = 1 (the conditional model alone, one call) and against the unconditional
//! glyphs16, 64 samples, DDIM 25 steps, `DIFFSCOPE_BENCH_ROUNDS` (default 15) rounds in turn; it
//! prints the median ms/step and the median of each round's ratio to w = 1. An unguided
//! run of twice the samples, the batch the guided call computes, is timed beside them.
//!
//! For `make bench-peer` (scripts/bench-peer.sh): `--one NAME PRECISION` measures one
//! configuration (`DIFFSCOPE_BENCH_SAMPLE=0` leaves out the sampling, so that the time and
//! the peak memory are the training's alone), and `--describe NAME` prints what a port of
//! the configuration needs (model, batch, optimiser settings, the ᾱ table) as `key value`
//! lines.

use diffscope::config::Preset;
use diffscope::diffusion::SamplerKind;
use diffscope::model::precision::Precision;
use diffscope::model::ModelConfig;
use diffscope::train::{Trainer, Weights};
use std::process::Command;
use std::time::Instant;
use tch::Device;

const CONFIGS: [&str; 4] = ["glyphs16", "shapes32", "mnist", "swissroll"];

/// The preset of a configuration.
fn preset(name: &str) -> Preset {
    if name == "mnist" {
        // The mnist preset's model and batch on 28×28 digits drawn from the built-in font.
        let mut p = Preset::load("mnist").expect("bundled preset").preset;
        let glyphs = Preset::load("glyphs28").expect("bundled preset").preset;
        p.data = glyphs.data;
        p.name = "mnist (synthetic)".into();
        return p;
    }
    Preset::load(name).expect("bundled preset").preset
}

/// The process's peak resident memory in MB (VmHWM).
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Measures one configuration in this process and prints one line:
/// `name precision steps/s ms/step peakMB note`.
fn one(name: &str, precision: &str, steps: u64) {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    tch::set_num_threads(threads as i32);
    let mut p = preset(name);
    p.train.precision = match precision {
        "bf16" => Precision::Bf16,
        _ => Precision::Fp32,
    };
    let mut tr = Trainer::new(p, Device::Cpu).expect("trainer");
    for _ in 0..3 {
        tr.train_step().expect("warm-up step");
    }
    let t0 = Instant::now();
    for _ in 0..steps {
        tr.train_step().expect("step");
    }
    let train = t0.elapsed().as_secs_f64();
    if std::env::var("DIFFSCOPE_BENCH_SAMPLE").is_ok_and(|v| v == "0") {
        println!(
            "RESULT {name}|{precision}|{}|{}|{:.3}|nan|{:.0}|{}",
            tr.preset.train.batch_size,
            tr.parameters(),
            steps as f64 / train,
            peak_mb(),
            tr.precision_note
        );
        return;
    }
    let mut opts = tr.sample_options();
    opts.sampler = SamplerKind::Ddpm;
    opts.steps = 20;
    let n = tr.preset.sample.n.min(64);
    let t1 = Instant::now();
    let _ = tr
        .sample(n, &opts, Weights::Ema, 0, None, &mut |_, _| {})
        .unwrap();
    let sample = t1.elapsed().as_secs_f64();
    println!(
        "RESULT {name}|{precision}|{}|{}|{:.3}|{:.2}|{:.0}|{}",
        tr.preset.train.batch_size,
        tr.parameters(),
        steps as f64 / train,
        sample * 1000.0 / opts.steps as f64,
        peak_mb(),
        tr.precision_note
    );
}

/// The `RESULT` fields of one configuration, measured in a process of its own (training
/// only, without the sampling, when `training_only`).
fn measure(name: &str, precision: &str, training_only: bool) -> Vec<String> {
    let exe = std::env::current_exe().expect("this benchmark");
    let mut cmd = Command::new(&exe);
    cmd.args(["--one", name, precision]);
    if training_only {
        cmd.env("DIFFSCOPE_BENCH_SAMPLE", "0");
    }
    let out = cmd.output().expect("run a configuration");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "{name} {precision}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string();
    line.split('|').map(str::to_string).collect()
}

/// Training steps/s of one configuration in float32 (training only).
fn steps_per_second(name: &str) -> f64 {
    measure(name, "fp32", true)[4].parse().unwrap_or(f64::NAN)
}

/// The training objectives side by side: steps/s of each, in turns.
fn losses(steps: u64) {
    let rounds: usize = std::env::var("DIFFSCOPE_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let configs = [
        ("glyphs16", "Simple"),
        ("glyphs16-hybrid", "Hybrid(0.001), learned variance"),
        ("glyphs16-vlb", "Vlb, learned variance, LossAware"),
    ];
    println!("training objectives on glyphs16, fp32, {steps} timed steps, {rounds} rounds in turn");
    let mut got: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for round in 0..rounds {
        for (i, (name, _)) in configs.iter().enumerate() {
            let v = steps_per_second(name);
            println!("  round {} {name}: {v:.2} steps/s", round + 1);
            got[i].push(v);
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&got[0]);
    println!(
        "{:<18} {:<34} {:>9} {:>9}",
        "preset", "loss", "st/s", "vs Simple"
    );
    for (i, (name, what)) in configs.iter().enumerate() {
        let m = median(&got[i]);
        println!("{name:<18} {what:<34} {m:>9.2} {:>8.0}%", 100.0 * m / base);
    }
}

/// Guided against unguided sampling, ms per reverse step, in turns in this process.
fn guidance_cost() {
    use diffscope::diffusion::{ClassChoice, Guidance};
    let rounds: usize = std::env::var("DIFFSCOPE_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    tch::set_num_threads(threads as i32);
    let cond = Trainer::new(preset("glyphs16-cond"), Device::Cpu).expect("trainer");
    let plain = Trainer::new(preset("glyphs16"), Device::Cpu).expect("trainer");
    // short runs, many rounds: each pair of runs sees the machine in the same state
    let (n, steps) = (64, 25);
    let timed = |tr: &Trainer, guidance: Option<f64>, n: usize| {
        let mut opts = tr.sample_options();
        opts.sampler = SamplerKind::Ddim;
        opts.steps = steps;
        opts.guidance = guidance.map(|scale| Guidance {
            scale,
            class: ClassChoice::All,
        });
        let t = Instant::now();
        let x = tr
            .sample(n, &opts, Weights::Ema, 0, None, &mut |_, _| {})
            .expect("samples");
        assert_eq!(x.size()[0], n as i64);
        t.elapsed().as_secs_f64() * 1000.0 / steps as f64
    };
    // the last: an unguided batch of 2n, what the guided call computes
    let configs: [(&str, &Trainer, Option<f64>, usize); 4] = [
        ("glyphs16 (unconditional)", &plain, None, n),
        ("glyphs16-cond, w = 1", &cond, Some(1.0), n),
        ("glyphs16-cond, w = 3", &cond, Some(3.0), n),
        ("w = 1, 2n samples", &cond, Some(1.0), 2 * n),
    ];
    for (_, tr, g, k) in &configs {
        timed(tr, *g, *k);
    }
    println!(
        "classifier-free guidance, {n} samples, DDIM {steps} steps, {threads} threads, \
         {rounds} rounds in turn"
    );
    let mut got: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for round in 0..rounds {
        for (i, (name, tr, g, k)) in configs.iter().enumerate() {
            let ms = timed(tr, *g, *k);
            println!("  round {} {name}: {ms:.2} ms/step", round + 1);
            got[i].push(ms);
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // each round's ratio to the w = 1 run beside it, so that a busy moment slows both
    println!(
        "{:<26} {:>9} {:>22}",
        "sampling", "ms/step", "vs w = 1 (round median)"
    );
    for (i, (name, _, _, _)) in configs.iter().enumerate() {
        let ratios: Vec<f64> = got[i].iter().zip(&got[1]).map(|(a, b)| a / b).collect();
        println!(
            "{name:<26} {:>9.2} {:>21.2}×",
            median(&got[i]),
            median(&ratios)
        );
    }
}

/// Prints, one `key value` line each, what a port of configuration `name` to another
/// framework needs to build the same model and take the same training step.
fn describe(name: &str) {
    let p = preset(name);
    let ModelConfig::Unet(m) = &p.model else {
        panic!("{name}: not a U-Net preset");
    };
    let tr = Trainer::new(p.clone(), Device::Cpu).expect("trainer");
    let list = |v: &[i64]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let t = &p.train;
    let d = &p.diffusion;
    let lines = [
        ("name", name.to_string()),
        ("params", tr.parameters().to_string()),
        ("item_shape", list(&tr.item_shape)),
        ("items", tr.data.as_ref().map_or(0, |d| d.len()).to_string()),
        ("base_channels", m.base_channels.to_string()),
        ("channel_mults", list(&m.channel_mults)),
        ("blocks_per_level", m.blocks_per_level.to_string()),
        ("attention_resolutions", list(&m.attention_resolutions)),
        ("dropout", m.dropout.to_string()),
        ("groups", m.groups.to_string()),
        ("batch_size", t.batch_size.to_string()),
        ("lr", t.lr.to_string()),
        ("warmup_steps", t.warmup_steps.to_string()),
        ("steps", t.steps.to_string()),
        ("final_lr_fraction", t.final_lr_fraction.to_string()),
        ("grad_clip", t.grad_clip.to_string()),
        ("ema_decay", t.ema_decay.to_string()),
        ("ema_warmup", t.ema_warmup.to_string()),
        ("hflip", t.hflip.to_string()),
        ("seed", t.seed.to_string()),
        ("prediction", format!("{:?}", d.prediction)),
        ("loss_weighting", format!("{:?}", d.loss_weighting)),
        ("schedule", d.schedule.name().to_string()),
        (
            "alpha_bars",
            tr.diffusion
                .schedule
                .alpha_bars
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    ];
    for (k, v) in lines {
        println!("{k} {v}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let steps: u64 = std::env::var("DIFFSCOPE_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    if let Some(i) = args.iter().position(|a| a == "--describe") {
        describe(&args[i + 1]);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--one") {
        one(&args[i + 1], &args[i + 2], steps);
        return;
    }
    if args.iter().any(|a| a == "--losses") {
        losses(steps);
        return;
    }
    if args.iter().any(|a| a == "--guidance") {
        guidance_cost();
        return;
    }
    let only = std::env::var("DIFFSCOPE_BENCH_ONLY").ok();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "diffscope throughput, {threads} threads, {steps} timed training steps, CPU bf16 \
         instructions: {}",
        diffscope::model::precision::cpu_has_bf16()
    );
    println!(
        "{:<18} {:>6} {:>10} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "config",
        "batch",
        "params",
        "fp32 st/s",
        "bf16 st/s",
        "bf16/fp32",
        "fp32 ms",
        "bf16 ms",
        "fp32 MB",
        "bf16 MB"
    );
    for name in CONFIGS {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|x| x == name))
        {
            continue;
        }
        let mut got = Vec::new();
        for precision in ["fp32", "bf16"] {
            got.push(measure(name, precision, false));
        }
        let f = |i: usize, k: usize| got[i][k].parse::<f64>().unwrap_or(f64::NAN);
        println!(
            "{:<18} {:>6} {:>10} {:>9.2} {:>9.2} {:>8.2}× {:>9.2} {:>9.2} {:>9.0} {:>9.0}",
            if name == "mnist" {
                "mnist (synthetic)"
            } else {
                name
            },
            got[0][2],
            got[0][3],
            f(0, 4),
            f(1, 4),
            f(1, 4) / f(0, 4),
            f(0, 5),
            f(1, 5),
            f(0, 6),
            f(1, 6)
        );
    }
    println!("(st/s: training steps per second; ms: sampling ms per reverse step; MB: peak resident memory)");
}
