//! Evaluating a model, for the command line (`diffscope eval`) and the workbench (`b`)
//! alike: the variational bound on held-out items, and sample-quality figures from samples
//! that are checked before any figure is computed. [`evaluate`] is the workbench's short
//! form, run on the worker, whose result is plain data ([`Evaluation`]). Both take their
//! item counts and seed from [`defaults`], so that for point data `b` and `eval` give the
//! same figures for the same weights; for images the workbench evaluates fewer items, and
//! says so.

use super::Evaluation;
use super::Quality;
use crate::data::{DataConfig, DataError, Dataset, ItemKind, Split};
use crate::diffusion::bound::Decoder;
use crate::diffusion::{DiffusionError, SampleOptions};
use crate::eval::image_quality::{image_quality, ImageQuality};
use crate::eval::likelihood::BoundReport;
use crate::eval::quality::PointQuality;
use crate::eval::{evaluate_bound, point_quality, BoundOptions, EvalError, Unit};
use crate::train::{Trainer, Weights};
use crate::util::{first_non_finite, one_line, tensor_values, ReadError};

/// The item counts and seed that `diffscope eval` uses unless told otherwise, and the
/// workbench always.
pub mod defaults {
    /// The seed of the held-out items, the bound's noise and the samples.
    pub const SEED: u64 = 0;

    /// Held-out items for the bound.
    pub fn held_items(image: bool) -> usize {
        if image {
            256
        } else {
            1000
        }
    }

    /// Items per model call while evaluating the bound.
    pub fn batch(image: bool) -> usize {
        if image {
            64
        } else {
            1000
        }
    }

    /// Samples for the quality figures (none for unlabelled images: no classifier).
    pub fn samples(image: bool, labelled: bool) -> usize {
        match (image, labelled) {
            (false, _) => 2000,
            (true, true) => 256,
            (true, false) => 0,
        }
    }
}

/// The workbench's image evaluation is smaller than `eval`'s (all T timesteps of 256
/// images take minutes on a CPU): held-out images for the bound, samples for the quality
/// figures, and at most this many reverse steps.
const WORKBENCH_IMAGES: usize = 32;
const WORKBENCH_IMAGE_SAMPLES: usize = 64;
const WORKBENCH_IMAGE_STEPS: usize = 100;

/// The decoder L_0 for held-out items of this kind: discretised for 8-bit images,
/// Gaussian for continuous data.
pub fn decoder_for(kind: ItemKind) -> Decoder {
    if kind == ItemKind::Image {
        Decoder::Discretized
    } else {
        Decoder::Gaussian
    }
}

/// The bound of `tr`'s model with `weights` on the held-out items (libtorch's generator
/// seeded with `seed` for the noise draws). `batch` items per model call; `estimate`:
/// Monte-Carlo draws per item instead of all timesteps.
pub fn bound(
    tr: &Trainer,
    held: &Dataset,
    weights: Weights,
    seed: u64,
    batch: usize,
    estimate: Option<usize>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<BoundReport, DiffusionError> {
    let x0 = held.head(held.len(), tr.device);
    tch::manual_seed(seed as i64);
    evaluate_bound(
        &tr.diffusion,
        &mut |x, t| tr.predict(weights, x, t),
        &x0,
        &BoundOptions {
            batch,
            estimate,
            decoder: decoder_for(held.kind),
        },
        progress,
    )
}

/// Sample-quality figures.
pub enum SampleQuality {
    /// Sliced W1 and MMD against fresh data points.
    Points(PointQuality),
    /// A classifier's features (Fréchet distance) and class histogram.
    Images(ImageQuality),
}

#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error(transparent)]
    Sampling(#[from] crate::train::TrainError),
    #[error("sample {index} is not finite ({value}); no quality figure was computed")]
    NonFinite { index: usize, value: f32 },
    #[error("the samples")]
    Read(#[source] ReadError),
    #[error("the reference data")]
    Reference(#[source] DataError),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// Draws `n` samples with `opts` and `weights` (seed `seed`), checks that every value is
/// finite, and measures them against `data` (images: with a classifier of its labels,
/// trained once and cached; points: against `n` fresh points drawn with seed `seed + 1`).
#[allow(clippy::too_many_arguments)]
pub fn sample_quality(
    tr: &Trainer,
    data: &DataConfig,
    n: usize,
    opts: &SampleOptions,
    weights: Weights,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
    log: &mut dyn FnMut(&str),
) -> Result<SampleQuality, QualityError> {
    let x = tr
        .sample(n, opts, weights, seed, None, progress)
        .map_err(QualityError::Sampling)?;
    let values = tensor_values(&x).map_err(QualityError::Read)?;
    let item = (values.len() / n.max(1)).max(1);
    if let Some((i, value)) = first_non_finite(&values) {
        return Err(QualityError::NonFinite {
            index: i / item,
            value,
        });
    }
    if tr.item_shape.len() == 3 {
        let q = image_quality(&x, data, tr.preset.train.seed, tr.device, log)?;
        return Ok(SampleQuality::Images(q));
    }
    let reference = data
        .source()
        .load(seed.wrapping_add(1), Split::Held(n))
        .map_err(QualityError::Reference)?;
    Ok(SampleQuality::Points(point_quality(
        &values,
        &reference.values,
        item,
        seed,
    )))
}

/// The workbench's evaluation (`b`): the exact bound and the quality figures with the
/// [`defaults`] of `diffscope eval` (fewer items for images), each line naming its item
/// count and seed.
pub fn evaluate(
    tr: &Trainer,
    id: u64,
    weights: Weights,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Evaluation, String> {
    let seed = defaults::SEED;
    let source = tr.preset.data.source();
    let image = tr.item_shape.len() == 3;
    let n = if image {
        WORKBENCH_IMAGES
    } else {
        defaults::held_items(false)
    };
    let held = source
        .load(seed, Split::Held(n))
        .map_err(|e| format!("held-out data: {}", one_line(&e)))?;
    let batch = defaults::batch(image);
    let report =
        bound(tr, &held, weights, seed, batch, None, progress).map_err(|e| one_line(&e))?;
    let unit = report.unit;
    let total = report.total.scaled(unit);
    let differs = if image {
        format!("; diffscope eval uses {}", defaults::held_items(true))
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "bound {:.4} ± {:.4} {} (exact; n = {} held-out items, seed {seed}{differs}): \
         L_T {:.4}, Σ KL {:.4}, L_0 {:.4}",
        total.mean,
        total.se,
        unit.name(),
        report.items,
        report.prior.scaled(unit).mean,
        report.middle.scaled(unit).mean,
        report.decoder.scaled(unit).mean,
    )];

    let mut opts = tr.sample_options();
    if image {
        opts.steps = opts.steps.min(WORKBENCH_IMAGE_STEPS);
    }
    let mut summary = format!(
        "bound {:.3} ± {:.3} {} (n={}, seed {seed})",
        total.mean,
        total.se,
        unit.name(),
        report.items
    );
    let mut quality = Quality::default();
    let labelled = tr.preset.data.class_names().is_some();
    if !image || labelled {
        let samples = if image {
            WORKBENCH_IMAGE_SAMPLES
        } else {
            defaults::samples(false, labelled)
        };
        let q = sample_quality(
            tr,
            &tr.preset.data,
            samples,
            &opts,
            weights,
            seed,
            &mut |_, _| {},
            &mut |_| {},
        )
        .map_err(|e| format!("sample quality: {}", one_line(&e)))?;
        match q {
            SampleQuality::Points(q) => {
                lines.push(format!(
                    "{samples} samples (seed {seed}, {} {} steps) against as many fresh data points:",
                    opts.sampler.name(),
                    opts.steps.min(tr.diffusion.steps())
                ));
                lines.extend(q.report());
                summary.push_str(&format!(" · SW/noise {:.2}", q.sw1_ratio()));
                if q.far > 0 {
                    summary.push_str(&format!(" · {} of {samples} samples far out", q.far));
                }
                if !q.mmd2.resolved() {
                    summary.push_str(" · MMD below resolution");
                }
                quality.sliced_w1 = Some(q.sw1);
                // an MMD its sample size cannot tell from zero is left out of the log
                quality.mmd = q.mmd2.resolved().then_some(q.mmd);
            }
            SampleQuality::Images(q) => {
                lines.push(format!(
                    "{samples} samples (seed {seed}, {} {} steps; diffscope eval uses {} and \
                     all the preset's steps):",
                    opts.sampler.name(),
                    opts.steps.min(tr.diffusion.steps()),
                    defaults::samples(true, true)
                ));
                lines.extend(q.report());
                let present = q.histogram.iter().filter(|&&c| c > 0).count();
                summary.push_str(&format!(
                    " · Fréchet {:.1} (noise {:.0}) · {present}/{} classes",
                    q.frechet,
                    q.frechet_noise,
                    q.histogram.len()
                ));
                quality.frechet = Some(q.frechet);
                quality.classes_present = Some(present as u32);
                quality.classes = Some(q.histogram.len() as u32);
            }
        }
    }
    Ok(Evaluation {
        id,
        step: tr.step,
        ema: weights == Weights::Ema,
        unit: unit.name().to_string(),
        bits: unit == Unit::BitsPerDim,
        total: total.mean,
        total_se: total.se,
        items: Some(report.items),
        seed: Some(seed),
        prior: report.prior.scaled(unit).mean,
        diffusion: report.middle.scaled(unit).mean,
        decoder: report.decoder.scaled(unit).mean,
        quality,
        per_t: report
            .per_t
            .iter()
            .map(|v| v.map_or(f64::NAN, |v| unit.from_nats(v)))
            .collect(),
        summary,
        lines,
    })
}
