//! Presets: RON files that say what to train and how. Every field is documented here and
//! in the README; unknown fields are rejected with their file, line and column.

use super::{parse_ron, paths, ConfigError};
use crate::data::{DataConfig, Labels};
use crate::diffusion::{
    Loss, LossWeighting, Prediction, SampleOptionError, SamplerKind, ScheduleKind, Spacing,
    TimestepSampling, VarianceKind,
};
use crate::model::{ModelConfig, ModelError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The presets that ship with diffscope, embedded so the binary works from any folder.
/// A file of the same name in `./presets` or the user's config folder takes precedence.
pub const BUILTIN: &[(&str, &str)] = &[
    ("swissroll", include_str!("../../presets/swissroll.ron")),
    ("moons", include_str!("../../presets/moons.ron")),
    (
        "eight-gaussians",
        include_str!("../../presets/eight-gaussians.ron"),
    ),
    (
        "checkerboard",
        include_str!("../../presets/checkerboard.ron"),
    ),
    ("rings", include_str!("../../presets/rings.ron")),
    ("glyphs16", include_str!("../../presets/glyphs16.ron")),
    (
        "glyphs16-hybrid",
        include_str!("../../presets/glyphs16-hybrid.ron"),
    ),
    (
        "glyphs16-vlb",
        include_str!("../../presets/glyphs16-vlb.ron"),
    ),
    (
        "glyphs16-cond",
        include_str!("../../presets/glyphs16-cond.ron"),
    ),
    ("glyphs28", include_str!("../../presets/glyphs28.ron")),
    ("shapes32", include_str!("../../presets/shapes32.ron")),
    ("mnist", include_str!("../../presets/mnist.ron")),
    (
        "mnist-hybrid",
        include_str!("../../presets/mnist-hybrid.ron"),
    ),
    ("mnist-cond", include_str!("../../presets/mnist-cond.ron")),
    (
        "fashion-mnist",
        include_str!("../../presets/fashion-mnist.ron"),
    ),
    ("cifar10", include_str!("../../presets/cifar10.ron")),
    ("folder", include_str!("../../presets/folder.ron")),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Short name, used in checkpoint folder names.
    pub name: String,
    /// One or two sentences for the preset picker.
    #[serde(default)]
    pub description: String,
    pub data: DataConfig,
    pub model: ModelConfig,
    #[serde(default)]
    pub diffusion: DiffusionConfig,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub sample: SampleConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiffusionConfig {
    /// Linear, Cosine, Sigmoid or Quadratic.
    pub schedule: ScheduleKind,
    /// T, the number of diffusion steps (at least 1).
    pub timesteps: usize,
    /// What the network predicts: Epsilon, X0 or V.
    pub prediction: Prediction,
    /// Reverse-process variance: FixedSmall (β̃), FixedLarge (β) or Learned (the network
    /// outputs it, between the two; train it with `train.loss: Hybrid(λ)` or `Vlb`).
    pub variance: VarianceKind,
    /// None, or MinSnr(γ).
    pub loss_weighting: LossWeighting,
    /// Clip x̂_0 to [−1, 1] while sampling (images).
    pub clip_x0: bool,
}

impl Default for DiffusionConfig {
    fn default() -> Self {
        DiffusionConfig {
            schedule: ScheduleKind::Linear,
            timesteps: 1000,
            prediction: Prediction::Epsilon,
            variance: VarianceKind::FixedSmall,
            loss_weighting: LossWeighting::None,
            clip_x0: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Optimiser steps for a run.
    pub steps: u64,
    /// What is minimised: Simple (the MSE), Hybrid(λ) (the MSE plus λ times the bound, which
    /// trains a learned variance; λ = 0.001 in the paper) or Vlb (the bound alone).
    pub loss: Loss,
    /// How t is drawn: Uniform, or LossAware (importance sampling by each term's running
    /// second moment, after a uniform warm-up).
    pub timestep_sampling: TimestepSampling,
    pub batch_size: usize,
    /// Peak Adam learning rate (positive).
    pub lr: f64,
    /// Linear learning-rate warm-up, in steps.
    pub warmup_steps: u64,
    /// Decay the learning rate along a cosine to this fraction of the peak by the last step.
    pub final_lr_fraction: f64,
    /// Clip the global gradient norm to this value (0 turns clipping off).
    pub grad_clip: f64,
    /// EMA decay of the weights.
    pub ema_decay: f64,
    /// Ramp the EMA decay up as (1 + step)/(10 + step), so early EMA weights are usable.
    pub ema_warmup: bool,
    /// Seed for data, initialisation and noise.
    pub seed: u64,
    /// Report progress every this many steps.
    pub log_every: u64,
    /// Draw a sample grid every this many steps (0: never).
    pub sample_every: u64,
    /// Save a checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Keep this many periodic checkpoints (hand-made ones are always kept).
    pub keep_last: usize,
    /// libtorch threads on the worker (0: all cores).
    pub threads: usize,
    /// Mirror image items left–right at random (augmentation).
    pub hflip: bool,
    /// What the model computes in: Auto, Fp32, Bf16 or Fp16 (GPUs only). Weights, EMA,
    /// optimiser state, the loss and checkpoints stay float32.
    pub precision: crate::model::precision::Precision,
    /// The share of labels replaced by "no class" while training a class-conditional model
    /// (`model: …(classes: Some(K))`), so that one network learns p(x | c) and p(x), which
    /// classifier-free guidance mixes.
    pub label_dropout: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 10_000,
            loss: Loss::Simple,
            timestep_sampling: TimestepSampling::Uniform,
            batch_size: 256,
            lr: 1e-3,
            warmup_steps: 100,
            final_lr_fraction: 0.1,
            grad_clip: 1.0,
            ema_decay: 0.999,
            ema_warmup: true,
            seed: 0,
            log_every: 50,
            sample_every: 1000,
            checkpoint_every: 0,
            keep_last: 3,
            threads: 0,
            hflip: false,
            precision: Default::default(),
            label_dropout: 0.1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleConfig {
    /// Ddpm, Ddim, Dpmpp2m, Dpmpp3m, Dpmpp2mSde, Euler, EulerA or Heun.
    pub sampler: SamplerKind,
    /// Reverse steps (T when larger than T).
    pub steps: usize,
    /// DDIM's η (only DDIM takes one).
    pub eta: f64,
    /// Timestep spacing: Some(Leading), Some(Linspace) or Some(Trailing); None (the
    /// default) is the sampler's own, as in diffusers.
    pub spacing: Option<Spacing>,
    /// Karras σ spacing (Dpmpp2m, Dpmpp3m, Dpmpp2mSde, Euler and Heun).
    pub karras: bool,
    /// Samples drawn for previews.
    pub n: usize,
    /// Sample with the EMA weights (true) or the raw ones.
    pub ema: bool,
    /// The classifier-free guidance scale w of a class-conditional model (w ≥ 0: 0 is the
    /// unconditional model, 1 the conditional one).
    pub guidance: f64,
}

impl Default for SampleConfig {
    fn default() -> Self {
        SampleConfig {
            sampler: SamplerKind::Ddpm,
            steps: 1000,
            eta: 0.0,
            spacing: None,
            karras: false,
            n: 2000,
            ema: true,
            guidance: 1.0,
        }
    }
}

/// `sample.steps` as the preset text writes it (None when left out).
fn written_sample_steps(text: &str) -> Option<usize> {
    #[derive(Deserialize)]
    struct Written {
        #[serde(default)]
        sample: Option<WrittenSample>,
    }
    #[derive(Deserialize)]
    struct WrittenSample {
        #[serde(default)]
        steps: Option<usize>,
    }
    super::ron_options()
        .from_str::<Written>(text)
        .ok()?
        .sample?
        .steps
}

/// A warning for more libtorch threads than the machine has cores: training runs, but
/// the threads take turns on the cores.
pub(crate) fn threads_warning(threads: usize, cores: usize) -> Option<String> {
    (threads > cores).then(|| {
        format!(
            "{threads} threads on {cores} cores oversubscribes the CPU (training runs, but \
             slower than with {cores}); use at most {cores}"
        )
    })
}

/// What a preset asks for that works, but not well: each a line naming the field.
pub fn warnings(p: &Preset) -> Vec<String> {
    let mut out = Vec::new();
    if p.train.loss == Loss::Vlb && p.train.timestep_sampling == TimestepSampling::Uniform {
        out.push(
            "train.timestep_sampling: Uniform with train.loss: Vlb is slow to converge (the \
             bound's terms differ by orders of magnitude across t); LossAware is what makes \
             Vlb trainable"
                .to_string(),
        );
    }
    if p.diffusion.variance == VarianceKind::Learned && p.sample.sampler != SamplerKind::Ddpm {
        out.push(format!(
            "sample.sampler: {:?} does not use the learned variance (diffusion.variance: \
             Learned); only Ddpm samples with it",
            p.sample.sampler
        ));
    }
    out
}

/// A preset together with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedPreset {
    pub preset: Preset,
    /// The file it was read from, or `<builtin>/NAME.ron`.
    pub origin: PathBuf,
}

/// A preset value that the type system cannot rule out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PresetError {
    #[error("diffusion.timesteps (T) must be at least 1, got 0")]
    ZeroTimesteps,
    #[error("diffusion.loss_weighting: MinSnr(γ) needs γ > 0, got {0}")]
    MinSnr(f64),
    #[error("train.loss: Hybrid(λ) needs λ > 0, got {0}")]
    HybridLambda(f64),
    #[error(
        "train.loss: Hybrid(λ) adds the bound to train a learned variance, and \
         diffusion.variance is {0:?}: use Simple, or diffusion.variance: Learned"
    )]
    HybridFixed(VarianceKind),
    #[error(
        "diffusion.variance: Learned needs train.loss: Hybrid(λ) or Vlb (Simple never \
         trains the variance output)"
    )]
    LearnedSimple,
    #[error("train.lr must be positive, got {0}")]
    LearningRate(f64),
    #[error("train.batch_size must be at least 1")]
    ZeroBatch,
    #[error("train.ema_decay must be in [0, 1), got {0}")]
    EmaDecay(f64),
    #[error("train.grad_clip must be ≥ 0, got {0}")]
    GradClip(f64),
    #[error("train.final_lr_fraction must be in [0, 1], got {0}")]
    FinalLrFraction(f64),
    #[error("train.log_every must be at least 1")]
    ZeroLogEvery,
    #[error("sample.steps and sample.n must be at least 1")]
    ZeroSamples,
    #[error("sample.eta must be in [0, 1], got {0}")]
    Eta(f64),
    #[error(
        "sample.steps is {steps}, more than diffusion.timesteps (T = {t}): respacing cannot \
         visit more steps than T"
    )]
    SampleSteps { steps: usize, t: usize },
    #[error("sample.karras: {0}")]
    SampleKarras(SampleOptionError),
    #[error("sample.eta: {0}")]
    SampleEta(SampleOptionError),
    #[error("data: a toy data set needs at least 1 point")]
    NoPoints,
    #[error("model: the MLP denoiser is for 2-D points; images of shape {0:?} need Unet(…)")]
    MlpForImages(Vec<i64>),
    #[error("model: classes: Some({classes}) needs labelled data, and {data} data has no labels")]
    Unlabelled { classes: i64, data: String },
    #[error("model: classes: Some({classes}) is fewer than the data's {found} classes")]
    TooFewClasses { classes: i64, found: usize },
    #[error("train.label_dropout must be in [0, 1), got {0}")]
    LabelDropout(f64),
    #[error("sample.guidance: the guidance scale w must be a number ≥ 0, got {0}")]
    Guidance(f64),
    /// The network does not fit the data.
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl Preset {
    /// Parses and validates preset text; errors name `origin`.
    pub fn parse(text: &str, origin: &Path) -> Result<Preset, ConfigError> {
        let p: Preset = parse_ron(text, origin)?;
        let invalid = |source| ConfigError::Invalid {
            path: origin.to_path_buf(),
            source,
        };
        p.validate().map_err(invalid)?;
        // Left out, sample.steps is T (its default is only an upper bound); written, it
        // must not ask for more than there are.
        let t = p.diffusion.timesteps;
        if let Some(steps) = written_sample_steps(text).filter(|&s| s > t) {
            return Err(invalid(PresetError::SampleSteps { steps, t }));
        }
        Ok(p)
    }

    /// Reads a preset file.
    pub fn from_file(path: &Path) -> Result<Preset, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Preset::parse(&text, path)
    }

    /// Finds a preset by name (in `./presets`, the user's config folder, then the built-in
    /// ones) or by path (anything with a `/` or ending in `.ron`).
    pub fn load(name_or_path: &str) -> Result<LoadedPreset, ConfigError> {
        let as_path = Path::new(name_or_path);
        if name_or_path.contains('/') || name_or_path.ends_with(".ron") {
            if !as_path.exists() {
                return Err(ConfigError::NotFound {
                    path: as_path.to_path_buf(),
                });
            }
            return Ok(LoadedPreset {
                preset: Preset::from_file(as_path)?,
                origin: as_path.to_path_buf(),
            });
        }
        for dir in paths::preset_dirs() {
            let p = dir.join(format!("{name_or_path}.ron"));
            if p.exists() {
                return Ok(LoadedPreset {
                    preset: Preset::from_file(&p)?,
                    origin: p,
                });
            }
        }
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            let origin = PathBuf::from(format!("<builtin>/{name_or_path}.ron"));
            return Ok(LoadedPreset {
                preset: Preset::parse(text, &origin)?,
                origin,
            });
        }
        Err(ConfigError::UnknownPreset {
            path: Path::new("presets").join(format!("{name_or_path}.ron")),
            known: BUILTIN.iter().map(|(n, _)| *n).collect(),
        })
    }

    /// Checks the values that the type system cannot.
    pub fn validate(&self) -> Result<(), PresetError> {
        let d = &self.diffusion;
        if d.timesteps == 0 {
            return Err(PresetError::ZeroTimesteps);
        }
        if let LossWeighting::MinSnr(g) = d.loss_weighting {
            if g.is_nan() || g <= 0.0 {
                return Err(PresetError::MinSnr(g));
            }
        }
        let t = &self.train;
        match (t.loss, d.variance) {
            (Loss::Hybrid(l), _) if !(l > 0.0 && l.is_finite()) => {
                return Err(PresetError::HybridLambda(l))
            }
            (Loss::Hybrid(_), v @ (VarianceKind::FixedSmall | VarianceKind::FixedLarge)) => {
                return Err(PresetError::HybridFixed(v))
            }
            (Loss::Simple, VarianceKind::Learned) => return Err(PresetError::LearnedSimple),
            _ => {}
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(PresetError::LearningRate(t.lr));
        }
        if t.batch_size == 0 {
            return Err(PresetError::ZeroBatch);
        }
        if !(0.0..1.0).contains(&t.ema_decay) {
            return Err(PresetError::EmaDecay(t.ema_decay));
        }
        if t.grad_clip < 0.0 {
            return Err(PresetError::GradClip(t.grad_clip));
        }
        if !(0.0..=1.0).contains(&t.final_lr_fraction) {
            return Err(PresetError::FinalLrFraction(t.final_lr_fraction));
        }
        if t.log_every == 0 {
            return Err(PresetError::ZeroLogEvery);
        }
        let s = &self.sample;
        if s.steps == 0 || s.n == 0 {
            return Err(PresetError::ZeroSamples);
        }
        if !(0.0..=1.0).contains(&s.eta) {
            return Err(PresetError::Eta(s.eta));
        }
        let options = crate::diffusion::SampleOptions {
            sampler: s.sampler,
            eta: s.eta,
            karras: s.karras,
            ..Default::default()
        };
        match options.check(d.timesteps) {
            Err(e @ SampleOptionError::Karras { .. }) => return Err(PresetError::SampleKarras(e)),
            // DDPM ignores η, as it always has: older presets with one still load
            Err(SampleOptionError::Eta {
                sampler: SamplerKind::Ddpm,
                ..
            }) => {}
            Err(e @ SampleOptionError::Eta { .. }) => return Err(PresetError::SampleEta(e)),
            _ => {}
        }
        if let DataConfig::Toy2d(c) = &self.data {
            if c.points == 0 {
                return Err(PresetError::NoPoints);
            }
        }
        if !(0.0..1.0).contains(&t.label_dropout) {
            return Err(PresetError::LabelDropout(t.label_dropout));
        }
        if !(s.guidance >= 0.0 && s.guidance.is_finite()) {
            return Err(PresetError::Guidance(s.guidance));
        }
        if let Some(classes) = self.model.classes() {
            if !(2..=256).contains(&classes) {
                return Err(ModelError::Classes(classes).into());
            }
            match self.data.labels() {
                Labels::None => {
                    return Err(PresetError::Unlabelled {
                        classes,
                        data: self.data.source().describe(),
                    })
                }
                Labels::Classes(found) if (classes as usize) < found => {
                    return Err(PresetError::TooFewClasses { classes, found })
                }
                _ => {}
            }
        }
        let shape = self.data.item_shape();
        match &self.model {
            ModelConfig::Unet(u) => Ok(u.check(&shape)?),
            ModelConfig::Mlp(_) if shape.len() != 1 => Err(PresetError::MlpForImages(shape)),
            ModelConfig::Mlp(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_or_unused_settings_are_warnings_naming_the_field() {
        let p = Preset::load("glyphs16-vlb").unwrap().preset;
        assert!(warnings(&p).is_empty(), "{:?}", warnings(&p));
        let mut slow = p.clone();
        slow.train.timestep_sampling = TimestepSampling::Uniform;
        let w = warnings(&slow);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("train.timestep_sampling: Uniform"),
            "{w:?}"
        );
        let mut ddim = p;
        ddim.sample.sampler = SamplerKind::Ddim;
        let w = warnings(&ddim);
        assert!(
            w[0].starts_with("sample.sampler: Ddim does not use"),
            "{w:?}"
        );
    }

    #[test]
    fn more_threads_than_cores_is_a_warning() {
        assert_eq!(threads_warning(2, 2), None);
        assert_eq!(threads_warning(0, 2), None);
        let w = threads_warning(64, 2).unwrap();
        assert!(w.starts_with("64 threads on 2 cores oversubscribes"), "{w}");
    }

    #[test]
    fn sample_steps_above_t_are_refused_only_when_written() {
        let base = "(name: \"x\", data: Toy2d((shape: Moons)), model: Mlp(()), diffusion: \
                    (timesteps: 100)";
        let origin = Path::new("x.ron");
        // left out: the default (1000) is only an upper bound
        assert!(Preset::parse(&format!("{base})"), origin).is_ok());
        assert!(Preset::parse(&format!("{base}, sample: (steps: 100))"), origin).is_ok());
        let e = Preset::parse(&format!("{base}, sample: (steps: 5000))"), origin).unwrap_err();
        assert_eq!(
            crate::util::one_line(&e),
            "x.ron: sample.steps is 5000, more than diffusion.timesteps (T = 100): respacing \
             cannot visit more steps than T"
        );
    }
}
