//! Evaluating a model, for the command line (`diffscope eval`) and the workbench (`b`)
//! alike: the variational bound on held-out items, and sample-quality figures from samples
//! that are checked before any figure is computed, all gathered in one record
//! ([`Evaluation`]) with what they were computed on. [`evaluate`] is the workbench's short
//! form, run on the worker. Both take their item counts and seed from [`defaults`], so that
//! for point data `b` and `eval` give the same figures for the same weights; for images the
//! workbench evaluates fewer items (its record says how many).

use super::Evaluation;
use crate::data::{DataConfig, DataError, Dataset, ItemKind, Split};
use crate::diffusion::bound::Decoder;
use crate::diffusion::{DiffusionError, SampleOptions};
use crate::eval::image_quality::ImageReference;
use crate::eval::likelihood::BoundReport;
use crate::eval::{evaluate_bound, point_quality, BoundOptions, EvalError};
use crate::train::{Trainer, Weights};
use crate::util::{first_non_finite, one_line, tensor_values, ReadError};
use tch::Tensor;

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

    /// Samples per point of a guidance sweep (`eval --guidance-sweep`): enough that each
    /// of ten classes has 50 for its own Fréchet distance.
    pub const GUIDANCE_SAMPLES: usize = 500;
    /// The same in the workbench (`G`): 20 for each of ten classes.
    pub const WORKBENCH_GUIDANCE_SAMPLES: usize = 200;

    /// Samples per point of a sweep (`eval --sweep`, the workbench's chart): fewer images
    /// than `eval`'s, so that a sweep of one sampler at five step counts (5 to 100) of
    /// glyphs16 stays near a minute on two CPU cores. Its Fréchet distances are noisier
    /// for it: held-out data against itself scores about 32 at 64 images, 7.6 at 256.
    pub fn sweep_samples(image: bool) -> usize {
        if image {
            64
        } else {
            2000
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

/// What samples are measured against, computed once for any number of sample sets of
/// one size: images, the classifier's reference ([`ImageReference`]); points, fresh data.
pub enum Reference {
    Images(Box<ImageReference>),
    Points(Dataset),
}

impl Reference {
    /// The reference for `n` samples of `tr`'s model from `data` (images: with a
    /// classifier of its labels, trained once and cached; points: `n` fresh points drawn
    /// with seed `seed + 1`).
    pub fn new(
        tr: &Trainer,
        data: &DataConfig,
        n: usize,
        seed: u64,
        log: &mut dyn FnMut(&str),
    ) -> Result<Reference, QualityError> {
        if tr.item_shape.len() == 3 {
            let r = ImageReference::new(data, n, tr.preset.train.seed, tr.device, log)?;
            Ok(Reference::Images(Box::new(r)))
        } else {
            let reference = data
                .source()
                .load(seed.wrapping_add(1), Split::Held(n))
                .map_err(QualityError::Reference)?;
            Ok(Reference::Points(reference))
        }
    }

    /// Measures samples `x` (their values `values`, checked finite) against the
    /// reference; the figures are added to `e`.
    fn measure(
        &self,
        x: &Tensor,
        values: &[f32],
        (seed, requested): (u64, Option<&[i64]>),
        e: &mut Evaluation,
    ) -> Result<(), QualityError> {
        match self {
            Reference::Images(r) => e.add_images(&r.measure(x, requested)?),
            Reference::Points(reference) => {
                let n = x.size().first().copied().unwrap_or(0).max(1) as usize;
                let item = (values.len() / n).max(1);
                e.add_points(&point_quality(values, &reference.values, item, seed));
            }
        }
        Ok(())
    }
}

/// Draws `n` samples with `opts` and `weights` (seed `seed`) and checks that every value is
/// finite: the samples and their values.
pub fn draw_checked(
    tr: &Trainer,
    n: usize,
    opts: &SampleOptions,
    weights: Weights,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Tensor, Vec<f32>), QualityError> {
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
    Ok((x, values))
}

/// Measures `n` samples drawn with `opts` and `weights` (seed `seed`, [`draw_checked`])
/// against `reference`, timed: the figures, and what they were computed from, in a fresh
/// record, and the seconds spent drawing the samples (not measuring them). `progress`
/// sees (step, of).
#[allow(clippy::too_many_arguments)]
pub fn measure_timed(
    tr: &Trainer,
    reference: &Reference,
    n: usize,
    opts: &SampleOptions,
    weights: Weights,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Evaluation, f64), QualityError> {
    let mut e = Evaluation::default();
    let start = std::time::Instant::now();
    let mut seconds = 0.0;
    let mut on_step = |step: usize, of: usize| {
        if step == of {
            seconds = start.elapsed().as_secs_f64();
        }
        progress(step, of)
    };
    let drawn = draw_checked(tr, n, opts, weights, seed, &mut on_step)?;
    measure_drawn(tr, reference, drawn, opts, seed, &mut e)?;
    Ok((e, seconds))
}

/// Measures samples drawn with `opts` (seed `seed`, [`draw_checked`]) against
/// `reference`: the figures, and what they were computed from, are added to `e`.
fn measure_drawn(
    tr: &Trainer,
    reference: &Reference,
    (x, values): (Tensor, Vec<f32>),
    opts: &SampleOptions,
    seed: u64,
    e: &mut Evaluation,
) -> Result<(), QualityError> {
    let n = x.size().first().copied().unwrap_or(0) as usize;
    let guidance = tr.guidance(opts).map_err(QualityError::Sampling)?;
    let requested = guidance.map(|g| g.class.labels(n, tr.classes().unwrap_or(0)));
    reference.measure(&x, &values, (seed, requested.as_deref()), e)?;
    e.samples = Some(n);
    e.sampler = Some(opts.sampler);
    e.sampler_steps = Some(opts.steps.min(tr.diffusion.steps()));
    e.set_guidance(guidance.as_ref());
    Ok(())
}

/// Draws `n` samples with `opts` and `weights` (seed `seed`), checks that every value is
/// finite, and measures them against `data` (images: with a classifier of its labels,
/// trained once and cached; points: against `n` fresh points drawn with seed `seed + 1`).
/// The figures, and what they were computed from, are added to `e`.
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
    e: &mut Evaluation,
) -> Result<(), QualityError> {
    let drawn = draw_checked(tr, n, opts, weights, seed, progress)?;
    let reference = Reference::new(tr, data, n, seed, log)?;
    measure_drawn(tr, &reference, drawn, opts, seed, e)
}

/// The workbench's evaluation (`b`): the exact bound and the quality figures with the
/// [`defaults`] of `diffscope eval` (fewer items for images), and the bound's term at each
/// timestep.
pub fn evaluate(
    tr: &Trainer,
    weights: Weights,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Evaluation, Vec<f64>), String> {
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
    let mut e = Evaluation::of_bound(tr.step, weights == Weights::Ema, seed, &report);
    let mut opts = tr.sample_options();
    if image {
        opts.steps = opts.steps.min(WORKBENCH_IMAGE_STEPS);
    }
    let labelled = tr.preset.data.class_names().is_some();
    if !image || labelled {
        let samples = if image {
            WORKBENCH_IMAGE_SAMPLES
        } else {
            defaults::samples(false, labelled)
        };
        sample_quality(
            tr,
            &tr.preset.data,
            samples,
            &opts,
            weights,
            seed,
            &mut |_, _| {},
            &mut |_| {},
            &mut e,
        )
        .map_err(|e| format!("sample quality: {}", one_line(&e)))?;
    }
    Ok((e, report.terms()))
}
