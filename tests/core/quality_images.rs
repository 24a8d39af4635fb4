//! Image presets trained in bfloat16 keep the quality of float32.
//!
//! Each preset is trained twice from the same seed (the same batches, noise and
//! timesteps), once computing in float32 and once in bfloat16, then both draw the same
//! number of EMA samples with the same sampler seed.
//!
//! - In the test suite (`DIFFSCOPE_QUALITY_STEPS` unset): `glyphs16`, 100 steps. At that
//!   budget the samples are blobs, so what is compared is training itself: the mean loss
//!   of the last 20 steps agrees within 10%. On a CPU without bfloat16 instructions
//!   bfloat16 runs 7–9× slower than float32, which is what keeps this short.
//! - `make quality-bf16` (`DIFFSCOPE_QUALITY_STEPS=full`): each preset of
//!   `DIFFSCOPE_QUALITY_PRESETS` (default `glyphs16`) for its own budget; then also the
//!   Fréchet distance within 10% of float32's and no class missing, as the figures of
//!   `diffscope eval` measure them.

use crate::common::training::train_preset;
use crate::common::{process_lock, PrivateCache};
use diffscope::eval::image_quality::image_quality;
use diffscope::model::precision::Precision;
use diffscope::train::Weights;
use std::time::Instant;
use tch::Device;

struct Run {
    note: String,
    /// Mean loss of the last 20 steps.
    tail_loss: f64,
    frechet: f64,
    frechet_noise: f64,
    missing: Vec<String>,
    secs: f64,
}

fn train_and_sample(name: &str, precision: Precision, steps: Option<u64>, n: usize) -> Run {
    let start = Instant::now();
    let (tr, losses, _) = train_preset(name, precision, steps);
    let steps = losses.len();
    let tail = &losses[losses.len().saturating_sub(20)..];
    let tail_loss = tail.iter().sum::<f64>() / tail.len() as f64;
    let x = tr
        .sample(
            n,
            &tr.sample_options(),
            Weights::Ema,
            1,
            None,
            &mut |_, _| {},
        )
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let q = image_quality(&x, &tr.preset.data, 0, Device::Cpu, &mut |_| {}).unwrap();
    let run = Run {
        note: tr.precision_note.clone(),
        tail_loss,
        frechet: q.frechet,
        frechet_noise: q.frechet_noise,
        missing: q.missing_classes().iter().map(|c| c.to_string()).collect(),
        secs,
    };
    println!(
        "{name} {}: {steps} steps and {n} samples in {secs:.0}s; loss (last 20 steps) {:.4}; \
         Fréchet {:.3} (noise {:.3}); classes missing: {:?}",
        run.note, run.tail_loss, run.frechet, run.frechet_noise, run.missing
    );
    run
}

#[test]
fn image_presets_trained_in_bf16_keep_the_quality_of_fp32() {
    let turn = process_lock();
    let _cache = PrivateCache::new(&turn);
    let full = std::env::var("DIFFSCOPE_QUALITY_STEPS").is_ok_and(|v| v == "full");
    let presets = std::env::var("DIFFSCOPE_QUALITY_PRESETS").unwrap_or("glyphs16".into());
    let (steps, n) = if full { (None, 500) } else { (Some(100), 64) };
    if !full {
        println!("100 steps: losses compared; `make quality-bf16` compares the samples too");
    }
    for name in presets.split(',').map(str::trim) {
        let fp32 = train_and_sample(name, Precision::Fp32, steps, n);
        let bf16 = train_and_sample(name, Precision::Bf16, steps, n);
        assert!(bf16.note.starts_with("bf16"), "{}", bf16.note);
        println!(
            "{name}: bf16 / fp32 — loss {:.3}, Fréchet {:.3}, time {:.2}",
            bf16.tail_loss / fp32.tail_loss,
            bf16.frechet / fp32.frechet,
            bf16.secs / fp32.secs
        );
        assert!(
            (bf16.tail_loss - fp32.tail_loss).abs() <= 0.1 * fp32.tail_loss,
            "{name}: loss fp32 {:.4} vs bf16 {:.4}",
            fp32.tail_loss,
            bf16.tail_loss
        );
        if full {
            assert!(
                bf16.frechet <= 1.1 * fp32.frechet,
                "{name}: Fréchet fp32 {:.3} vs bf16 {:.3}",
                fp32.frechet,
                bf16.frechet
            );
            assert!(fp32.missing.is_empty(), "{name} fp32: {:?}", fp32.missing);
            assert!(bf16.missing.is_empty(), "{name} bf16: {:?}", bf16.missing);
        }
    }
}
