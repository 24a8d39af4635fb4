//! The quality bar of the 2-D slice: the `swissroll` preset, trained for its default
//! budget with its fixed seed, must draw samples whose sliced Wasserstein-1 distance to
//! fresh data is at most a quarter of that between N(0, I) noise and the data.

use crate::common::process_lock;
use crate::common::training::train_preset;
use diffscope::data::Split;
use diffscope::diffusion::SamplerKind;
use diffscope::eval::point_quality;
use diffscope::model::precision::Precision;
use diffscope::train::Weights;

#[test]
fn swissroll_samples_are_close_to_the_data() {
    let (ratio, _) = quality(Precision::Auto, None, 5000, None);
    assert!(ratio <= 0.25, "ratio {ratio}");
}

/// bfloat16 for training and sampling keeps the quality of float32 (on a shorter budget:
/// on a CPU without bfloat16 instructions it runs several times slower): the sliced-W1
/// ratios of the two runs agree within 10% (or 0.02).
#[test]
fn swissroll_trained_and_sampled_in_bf16_keeps_the_quality_of_fp32() {
    let steps = Some(1500);
    let (fp32, _) = quality(Precision::Fp32, steps, 1000, Some(100));
    let (bf16, note) = quality(Precision::Bf16, steps, 1000, Some(100));
    println!("1,500 steps, 1,000 DDIM samples: ratio fp32 {fp32:.3}, {note} {bf16:.3}");
    assert!(note.starts_with("bf16"), "{note}");
    assert!(
        (bf16 - fp32).abs() <= (0.1 * fp32).max(0.02),
        "fp32 {fp32:.3} vs bf16 {bf16:.3}"
    );
}

/// Trains swissroll (its own budget, or `steps`) in `precision`, draws `n` samples (the
/// preset's sampler, or DDIM with `ddim` steps) and returns SW1(samples, data) over
/// SW1(noise, data), with the precision as the trainer states it.
fn quality(
    precision: Precision,
    steps: Option<u64>,
    n: usize,
    ddim: Option<usize>,
) -> (f64, String) {
    // The tests seed libtorch's process-wide generator: one at a time.
    let _one = process_lock();
    let (tr, losses, train_secs) = train_preset("swissroll", precision, steps);
    let (steps, last) = (losses.len(), losses.last().copied().unwrap_or(0.0));
    let mut opts = tr.sample_options();
    if let Some(k) = ddim {
        opts.sampler = SamplerKind::Ddim;
        opts.steps = k;
    }
    let x = tr
        .sample(n, &opts, Weights::Ema, 1, None, &mut |_, _| {})
        .unwrap();
    let samples: Vec<f32> = Vec::try_from(x.view([-1])).unwrap();
    let fresh = tr
        .preset
        .data
        .source()
        .load(12345, Split::Held(n))
        .unwrap()
        .values;
    // sliced W1 over 128 directions, against fresh data and against N(0, I) noise
    let q = point_quality(&samples, &fresh, 2, 7);
    let (sw, sw_noise) = (q.sw1, q.sw1_noise);
    let ratio = sw / sw_noise;
    println!(
        "swissroll ({}): {steps} steps in {train_secs:.1}s (final loss {last:.4}); \
         SW1(samples, data) = {sw:.4}, SW1(noise, data) = {sw_noise:.4}, ratio {ratio:.3}",
        tr.precision_note
    );
    (ratio, tr.precision_note.clone())
}
