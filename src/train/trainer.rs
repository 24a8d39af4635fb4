//! The training loop (the seed's Algorithm 1 with Adam, warm-up, clipping and EMA) and
//! everything done with a model: sampling and checkpoints. A `Trainer` owns tensors, so it
//! lives on one thread (the worker, or the main thread of a headless command).

use super::adam::Adam;
use super::checkpoint::{self, CheckpointError, CheckpointMeta};
use super::ema::Ema;
use crate::config::{Preset, PresetError};
use crate::data::{Batcher, DataError, Dataset, Split};
use crate::diffusion::bound::Decoder;
use crate::diffusion::{
    guidance, sampler::StepView, Diffusion, Guidance, GuidanceError, LossAware, SampleOptions,
    Schedule, ScheduleError, TimestepSampling, Trajectory,
};
use crate::model::precision::{self, Autocast, Compute, Precision, PrecisionError};
use crate::model::{Denoiser, ModelError};
use crate::util::{read_values, ReadError};
use std::path::{Path, PathBuf};
use tch::{nn, Device, Kind, Tensor};

/// Figures from one training step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepStats {
    /// Steps completed.
    pub step: u64,
    pub loss: f64,
    /// Mean loss of the items whose t fell in each quarter of 0..T (None: no such item).
    pub quarter_losses: [Option<f64>; 4],
    pub lr: f64,
    pub grad_norm: f64,
}

/// A model that cannot be built, loaded or trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(
        "the loss became {loss} at step {step} (computing in {precision}); training stopped \
         (the last checkpoint is kept)"
    )]
    NonFinite {
        step: u64,
        loss: f64,
        precision: &'static str,
    },
    #[error(transparent)]
    Precision(#[from] PrecisionError),
    #[error(
        "the samples became {value} at t = {t} (after reverse step {step} of {of}, computing \
         in {precision}); nothing was written"
    )]
    NonFiniteSamples {
        t: usize,
        step: usize,
        of: usize,
        value: f32,
        precision: &'static str,
    },
    #[error("cannot read the samples")]
    ReadSamples(#[source] ReadError),
    #[error("this model was opened for inspection, without its training data")]
    NoData,
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{name}: the training data set is empty")]
    EmptyData { name: String },
    #[error("{name}: items have shape {found:?}, but the preset expects {expected:?}")]
    ItemShape {
        name: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "{name}: model: classes: Some({classes}) needs labelled data, and these images are \
         not in class subfolders"
    )]
    Unlabelled { name: String, classes: i64 },
    #[error("{name}: the data has {found} classes, more than model: classes: Some({classes})")]
    TooManyClasses {
        name: String,
        found: usize,
        classes: i64,
    },
    #[error("this model is unconditional: it has no classes to choose or guide")]
    Unconditional,
    #[error(transparent)]
    Guidance(#[from] GuidanceError),
    /// The per-item losses of a step could not be read back.
    #[error("step {step}: cannot read the losses")]
    ReadLosses {
        step: u64,
        #[source]
        source: ReadError,
    },
}

/// Weights of one network: raw or EMA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    Raw,
    Ema,
}

pub struct Trainer {
    pub preset: Preset,
    pub device: Device,
    pub diffusion: Diffusion,
    /// The training data (absent when a checkpoint is opened only to sample or inspect).
    pub data: Option<Dataset>,
    /// Shape of one item, e.g. [2] or [C, H, W].
    pub item_shape: Vec<i64>,
    vs: nn::VarStore,
    ema_vs: nn::VarStore,
    model: Denoiser,
    ema_model: Denoiser,
    opt: Adam,
    ema: Ema,
    /// The loss-aware timestep sampler's state (`train.timestep_sampling: LossAware`).
    resampler: Option<LossAware>,
    batcher: Option<Batcher>,
    /// Training steps completed.
    pub step: u64,
    /// Loss of the last step.
    pub last_loss: Option<f64>,
    /// The command line that started the run, stored in checkpoints.
    pub command: String,
    /// What the model computes in (the preset's precision, resolved).
    pub compute: Compute,
    /// The precision as the user should read it, e.g. "fp32 (auto: …)".
    pub precision_note: String,
    /// float16's loss scale (1 otherwise): gradients are computed for the loss times
    /// this, then divided by it; halved when they overflow, doubled after a long calm.
    loss_scale: f64,
    /// Steps since the loss scale last changed.
    calm_steps: u64,
    /// What loading the checkpoint had to say (e.g. that it records no checksums).
    pub load_notice: Option<String>,
}

/// float16's first loss scale, and the steps without overflow before it doubles.
const FP16_SCALE: f64 = 65536.0;
const FP16_CALM: u64 = 2000;

/// `model`'s prediction for (x, t) and the class labels `y` ("no class" where None) in
/// `compute` (autocast), returned as float32 so that the loss and the bound are always
/// computed in float32 and summed in float64.
pub(crate) fn predict(
    model: &Denoiser,
    compute: Compute,
    device: Device,
    (x, t, y): (&Tensor, &Tensor, Option<&Tensor>),
    train: bool,
) -> Tensor {
    if compute == Compute::Fp32 {
        return model.forward_t(x, t, y, train);
    }
    let _autocast = Autocast::enter(compute, device);
    model.forward_t(x, t, y, train).to_kind(Kind::Float)
}

/// Checks that a class-conditional model of `classes` classes can train on `data`.
fn check_labels(data: &Dataset, classes: i64) -> Result<(), TrainError> {
    let Some(labels) = &data.labels else {
        return Err(TrainError::Unlabelled {
            name: data.name.clone(),
            classes,
        });
    };
    let found = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    if found > classes as usize {
        return Err(TrainError::TooManyClasses {
            name: data.name.clone(),
            found,
            classes,
        });
    }
    Ok(())
}

/// Derives a per-step seed so that step k's randomness depends on (seed, k) alone.
pub(crate) fn step_seed(seed: u64, step: u64) -> i64 {
    let mut r = crate::rng::Rng::derive(seed, step.wrapping_add(0x5EED));
    (r.next_u64() >> 1) as i64
}

impl Trainer {
    /// A fresh model for `preset`, initialised from its seed, with its training data.
    pub fn new(preset: Preset, device: Device) -> Result<Trainer, TrainError> {
        Trainer::build(preset, device, true)
    }

    fn build(preset: Preset, device: Device, with_data: bool) -> Result<Trainer, TrainError> {
        preset.validate()?;
        let item_shape = preset.data.item_shape();
        let (data, batcher) = if with_data {
            let data = preset.data.source().load(preset.train.seed, Split::Train)?;
            if data.is_empty() {
                return Err(TrainError::EmptyData { name: data.name });
            }
            if data.item_shape != item_shape {
                return Err(TrainError::ItemShape {
                    name: data.name,
                    found: data.item_shape,
                    expected: item_shape,
                });
            }
            if let Some(classes) = preset.model.classes() {
                check_labels(&data, classes)?;
            }
            let b = Batcher::new(preset.train.seed, data.len(), preset.train.batch_size);
            (Some(data), Some(b))
        } else {
            (None, None)
        };
        let d = &preset.diffusion;
        let schedule = Schedule::new(d.schedule, d.timesteps)?;
        let diffusion = Diffusion::new(schedule, d.prediction, d.variance, device);
        let learns = diffusion.learns_variance();
        tch::manual_seed(preset.train.seed as i64);
        let vs = nn::VarStore::new(device);
        let model = Denoiser::new(&vs.root(), &preset.model, &item_shape, learns)?;
        let ema_vs = nn::VarStore::new(device);
        let ema_model = Denoiser::new(&ema_vs.root(), &preset.model, &item_shape, learns)?;
        let resampler = (preset.train.timestep_sampling == TimestepSampling::LossAware)
            .then(|| LossAware::new(d.timesteps));
        let opt = Adam::new(&vs);
        let parameters: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        let (compute, precision_note) =
            precision::resolve(preset.train.precision, device, parameters)?;
        let ema = Ema::new(
            &vs,
            &ema_vs,
            preset.train.ema_decay,
            preset.train.ema_warmup,
        );
        Ok(Trainer {
            preset,
            device,
            diffusion,
            data,
            item_shape,
            vs,
            ema_vs,
            model,
            ema_model,
            opt,
            ema,
            resampler,
            batcher,
            step: 0,
            last_loss: None,
            command: String::new(),
            compute,
            precision_note,
            loss_scale: if compute == Compute::Fp16 {
                FP16_SCALE
            } else {
                1.0
            },
            calm_steps: 0,
            load_notice: None,
        })
    }

    /// The prediction of the raw or EMA weights for (x, t), in evaluation mode; a
    /// class-conditional model is asked for "no class" (p(x)).
    pub(crate) fn predict(&self, w: Weights, x: &Tensor, t: &Tensor) -> Tensor {
        predict(
            self.model(w),
            self.compute,
            self.device,
            (x, t, None),
            false,
        )
    }

    /// The classes of a class-conditional model (None: unconditional).
    pub fn classes(&self) -> Option<usize> {
        self.preset.model.classes().map(|k| k as usize)
    }

    /// The guidance of a run with `opts` on this model, checked: None for an unconditional
    /// model, which refuses any.
    pub fn guidance(&self, opts: &SampleOptions) -> Result<Option<Guidance>, TrainError> {
        match (self.classes(), opts.guidance) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(TrainError::Unconditional),
            (Some(k), g) => {
                let g = g.unwrap_or(Guidance {
                    scale: self.preset.sample.guidance,
                    ..Default::default()
                });
                g.check(k)?;
                Ok(Some(g))
            }
        }
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> i64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    /// The learning rate at step `step`: linear warm-up, then a cosine decay to
    /// `final_lr_fraction` of the peak at the preset's last step.
    pub(crate) fn lr_at(&self, step: u64) -> f64 {
        let t = &self.preset.train;
        if step < t.warmup_steps {
            return t.lr * (step + 1) as f64 / t.warmup_steps as f64;
        }
        let span = t.steps.saturating_sub(t.warmup_steps).max(1) as f64;
        let progress = ((step - t.warmup_steps) as f64 / span).min(1.0);
        let cos = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        t.lr * (t.final_lr_fraction + (1.0 - t.final_lr_fraction) * cos)
    }

    /// One optimiser step on a fresh batch.
    pub fn train_step(&mut self) -> Result<StepStats, TrainError> {
        let step = self.step;
        let (Some(data), Some(batcher)) = (&self.data, &mut self.batcher) else {
            return Err(TrainError::NoData);
        };
        tch::manual_seed(step_seed(self.preset.train.seed, step));
        let idx = batcher.indices(step);
        let x0 = if self.preset.train.hflip {
            let mut r = crate::rng::Rng::derive(self.preset.train.seed ^ 0xF11F, step);
            let flips: Vec<bool> = idx.iter().map(|_| r.uniform() < 0.5).collect();
            data.batch_flipped(&idx, &flips, self.device)
        } else {
            data.batch(&idx, self.device)
        };
        let b = idx.len() as i64;
        let labels =
            self.preset
                .model
                .classes()
                .zip(data.labels.as_ref())
                .map(|(classes, labels)| {
                    // "No class" for a share label_dropout of the items, from (seed, step) alone.
                    let mut r = crate::rng::Rng::derive(self.preset.train.seed ^ 0xC1A5, step);
                    let p = self.preset.train.label_dropout;
                    let y: Vec<i64> = idx
                        .iter()
                        .map(|&i| {
                            if r.uniform() < p {
                                classes
                            } else {
                                labels[i] as i64
                            }
                        })
                        .collect();
                    Tensor::from_slice(&y).to_device(self.device)
                });
        let total = self.diffusion.steps() as i64;
        let (t, importance) = match &self.resampler {
            Some(r) => r.sample(b, self.device),
            None => (
                Tensor::randint(total, [b], (Kind::Int64, self.device)),
                None,
            ),
        };
        let noise = Tensor::randn_like(&x0);
        let (model, compute, device) = (&self.model, self.compute, self.device);
        let losses = self
            .diffusion
            .training_losses(
                &mut |x, tt| predict(model, compute, device, (x, tt, labels.as_ref()), true),
                &x0,
                &t,
                &noise,
                self.preset.diffusion.loss_weighting,
                self.preset.train.loss,
                self.decoder(),
            )
            .loss;
        let read = |source| TrainError::ReadLosses {
            step: step + 1,
            source,
        };
        let per_item: Vec<f32> = read_values(&losses.detach()).map_err(read)?;
        let ts: Vec<i64> = read_values(&t).map_err(read)?;
        let quarter_losses = quarter_means(&per_item, &ts, total);
        if let Some(r) = &mut self.resampler {
            let values: Vec<f64> = per_item.iter().map(|&l| l as f64).collect();
            r.update(&ts, &values);
        }
        let losses = match importance {
            Some(w) => losses * w,
            None => losses,
        };
        let loss_t = losses.mean(Kind::Float);
        let loss = loss_t.double_value(&[]);
        if !loss.is_finite() {
            return Err(TrainError::NonFinite {
                step: step + 1,
                loss,
                precision: self.compute.name(),
            });
        }
        self.opt.zero_grad();
        let scaled = self.compute == Compute::Fp16;
        if scaled {
            (&loss_t * self.loss_scale).backward();
            self.opt.scale_grads(1.0 / self.loss_scale);
        } else {
            loss_t.backward();
        }
        let grad_norm = self.opt.clip_grad_norm(self.preset.train.grad_clip);
        let lr = self.lr_at(step);
        if scaled && !grad_norm.is_finite() {
            // float16 overflowed: skip this update with a smaller scale.
            self.loss_scale = (self.loss_scale / 2.0).max(1.0);
            self.calm_steps = 0;
        } else {
            self.opt.step(lr);
            self.ema.update(step);
            self.calm_steps += 1;
            if scaled && self.calm_steps >= FP16_CALM {
                self.loss_scale = (self.loss_scale * 2.0).min(FP16_SCALE * 256.0);
                self.calm_steps = 0;
            }
        }
        self.step += 1;
        self.last_loss = Some(loss);
        Ok(StepStats {
            step: self.step,
            loss,
            quarter_losses,
            lr,
            grad_norm,
        })
    }

    /// How the bound scores the data at t = 0: the discretised decoder for 8-bit images,
    /// the Gaussian density for points.
    pub fn decoder(&self) -> Decoder {
        if self.item_shape.len() == 3 {
            Decoder::Discretized
        } else {
            Decoder::Gaussian
        }
    }

    /// The loss-aware sampler's share of its warm-up done (None with uniform sampling).
    pub fn resampler_warm_up(&self) -> Option<f64> {
        self.resampler.as_ref().map(LossAware::warm_up_share)
    }

    pub fn model(&self, w: Weights) -> &Denoiser {
        match w {
            Weights::Raw => &self.model,
            Weights::Ema => &self.ema_model,
        }
    }

    /// Draws `n` samples, seeding libtorch's generator with `seed`. Frames of the reverse
    /// process are kept in `trajectory` when one is given (at most `frames` of them, evenly
    /// spread, always including the first and the last step). x_t is checked at every
    /// reverse step with the one shared check (`util::first_non_finite`): samples
    /// that went NaN or infinite are an error naming the timestep where it happened, never
    /// a result.
    pub fn sample(
        &self,
        n: usize,
        opts: &SampleOptions,
        weights: Weights,
        seed: u64,
        mut trajectory: Option<(&mut Trajectory, usize)>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Tensor, TrainError> {
        let mut first: Option<Result<(usize, usize, usize, f32), ReadError>> = None;
        let guide = self.guidance(opts)?;
        tch::manual_seed(seed as i64);
        let mut shape = vec![n as i64];
        shape.extend_from_slice(&self.item_shape);
        let kept = guidance::GuidedOutputs::default();
        let diffusion = &self.diffusion;
        let mut steps_run = 0;
        let mut observe = |v: StepView| {
            progress(v.index + 1, v.of);
            steps_run = v.of;
            if first.is_none() {
                match crate::util::tensor_values(v.xt) {
                    Ok(values) => {
                        if let Some((_, value)) = crate::util::first_non_finite(&values) {
                            // x_t is the state the previous reverse step produced
                            first =
                                Some(Ok((crate::diffusion::state_of(v.t), v.index, v.of, value)));
                        }
                    }
                    Err(e) => first = Some(Err(e)),
                }
            }
            let halves = kept.take();
            if let Some((traj, frames)) = trajectory.as_mut() {
                if keep_frame(v.index, v.of, *frames) {
                    traj.push(&v);
                    // x̂_0 of the conditional and the unconditional half at this x_t
                    traj.x0_guided.push(halves.map(|(c, u)| {
                        let alpha = 1.0 / (1.0 + v.sigma * v.sigma).sqrt();
                        let x0 = |o: &Tensor| {
                            diffusion.x0_at(o, v.xt, alpha, v.sigma * alpha, opts.clip_x0)
                        };
                        [x0(&c), x0(&u)]
                    }));
                }
            }
        };
        let (model, compute, device) = (self.model(weights), self.compute, self.device);
        let x = match guide {
            None => self.diffusion.sample(
                &mut |x, t| self.predict(weights, x, t),
                &shape,
                opts,
                &mut observe,
            ),
            Some(g) => {
                let classes = self.classes().unwrap_or(0);
                let labels = Tensor::from_slice(&g.class.labels(n, classes)).to_device(device);
                let net = |x: &Tensor, t: &Tensor, y: &Tensor| {
                    predict(model, compute, device, (x, t, Some(y)), false)
                };
                let mut guided = guidance::guided(
                    net,
                    labels,
                    classes,
                    g.scale,
                    self.item_shape[0],
                    Some(&kept),
                );
                self.diffusion
                    .sample(&mut guided, &shape, opts, &mut observe)
            }
        };
        if first.is_none() {
            // x_0, which the last step produced
            let of = steps_run;
            first = match crate::util::tensor_values(&x) {
                Ok(values) => {
                    crate::util::first_non_finite(&values).map(|(_, v)| Ok((0, of, of, v)))
                }
                Err(e) => Some(Err(e)),
            };
        }
        match first {
            Some(Ok((t, step, of, value))) => Err(TrainError::NonFiniteSamples {
                t,
                step,
                of,
                value,
                precision: self.compute.name(),
            }),
            Some(Err(source)) => Err(TrainError::ReadSamples(source)),
            None => Ok(x),
        }
    }

    /// The share of the EMA weights that is still the initialisation (see
    /// [`Ema::initial_share`]).
    pub(crate) fn ema_initial_share(&self) -> f64 {
        self.ema.initial_share(self.step)
    }

    /// Default sampling options of the preset.
    pub fn sample_options(&self) -> SampleOptions {
        let s = &self.preset.sample;
        SampleOptions {
            sampler: s.sampler,
            steps: s.steps,
            eta: s.eta,
            clip_x0: self.preset.diffusion.clip_x0,
            variance: None,
            spacing: s.spacing,
            karras: s.karras,
            guidance: self.preset.model.classes().map(|_| Guidance {
                scale: s.guidance,
                ..Default::default()
            }),
        }
    }

    /// Saves a checkpoint of the current state into the run folder `run_dir`.
    pub fn save(&self, run_dir: &Path, manual: bool) -> Result<PathBuf, CheckpointError> {
        let meta = CheckpointMeta {
            format: checkpoint::FORMAT_VERSION,
            preset: self.preset.clone(),
            step: self.step,
            seed: self.preset.train.seed,
            loss: self.last_loss,
            optimizer_updates: self.opt.updates,
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            manual,
            command: self.command.clone(),
            checksums: None,
        };
        let named = |vs: &nn::VarStore| -> Vec<(String, Tensor)> {
            let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let mut state = self.opt.state();
        if let Some(r) = &self.resampler {
            state.extend(r.state());
        }
        let path = checkpoint::write(
            run_dir,
            &meta,
            &named(&self.vs),
            &named(&self.ema_vs),
            &state,
        )?;
        if !manual {
            checkpoint::prune(run_dir, self.preset.train.keep_last)?;
        }
        Ok(path)
    }

    /// Rebuilds a trainer from a checkpoint: weights, EMA, optimiser state and step, with
    /// its training data, ready to resume.
    pub fn load(path: &Path, device: Device) -> Result<Trainer, TrainError> {
        Trainer::load_with(path, device, true, None)
    }

    /// [`Trainer::load`] (`with_data`) or [`Trainer::load_model`], computing in
    /// `precision` instead of the checkpoint preset's when given.
    pub fn load_as(
        path: &Path,
        device: Device,
        with_data: bool,
        precision: Option<Precision>,
    ) -> Result<Trainer, TrainError> {
        Trainer::load_with(path, device, with_data, precision)
    }

    /// Opens a checkpoint to sample from or inspect: no training data needed.
    pub fn load_model(path: &Path, device: Device) -> Result<Trainer, TrainError> {
        Trainer::load_with(path, device, false, None)
    }

    fn load_with(
        path: &Path,
        device: Device,
        with_data: bool,
        precision: Option<Precision>,
    ) -> Result<Trainer, TrainError> {
        let ck = checkpoint::read(path)?;
        let integrity = super::integrity::verify(&ck)?;
        let mut preset = ck.meta.preset.clone();
        if let Some(p) = precision {
            preset.train.precision = p;
        }
        // The files are parsed before the model is built and its data loaded, so that a
        // damaged checkpoint is refused at once.
        let model_path = ck.dir.join(checkpoint::MODEL_FILE);
        let ema_path = ck.dir.join(checkpoint::EMA_FILE);
        let opt_path = ck.dir.join(checkpoint::OPTIM_FILE);
        let model = checkpoint::read_tensors(&model_path)?;
        let ema = checkpoint::read_tensors(&ema_path)?;
        let state = checkpoint::read_tensors(&opt_path)?;
        checkpoint::check_outputs(&model_path, &model, &preset, &preset.data.item_shape())?;
        let mut tr = Trainer::build(preset, device, with_data)?;
        checkpoint::copy_into(&model_path, &model, &tr.vs)?;
        checkpoint::copy_into(&ema_path, &ema, &tr.ema_vs)?;
        let state: Vec<(String, Tensor)> = state
            .into_iter()
            .map(|(k, t)| (k, t.to_device(device)))
            .collect();
        tr.opt
            .load_state(&state, ck.meta.optimizer_updates)
            .map_err(|source| CheckpointError::OptimizerState {
                path: opt_path.clone(),
                source,
            })?;
        if tr.resampler.is_some() {
            let t = tr.diffusion.steps();
            tr.resampler = Some(LossAware::load(&state, t).map_err(|source| {
                CheckpointError::ResamplerState {
                    path: opt_path.clone(),
                    source,
                }
            })?);
        }
        tr.step = ck.meta.step;
        tr.last_loss = ck.meta.loss;
        tr.command = ck.meta.command.clone();
        tr.load_notice = integrity.notice(&ck);
        Ok(tr)
    }

    /// All named weights (for tests and inspection).
    pub fn named_weights(&self, w: Weights) -> Vec<(String, Tensor)> {
        let vs = match w {
            Weights::Raw => &self.vs,
            Weights::Ema => &self.ema_vs,
        };
        let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Whether step `index` of `of` is among `frames` evenly spread frames (first and last kept).
pub(crate) fn keep_frame(index: usize, of: usize, frames: usize) -> bool {
    if frames == 0 {
        return false;
    }
    if frames >= of {
        return true;
    }
    if frames == 1 {
        return index + 1 == of;
    }
    // Frame k sits at the step nearest to k·(of−1)/(frames−1).
    let ratio = (of - 1) as f64 / (frames - 1) as f64;
    let k = (index as f64 / ratio).round();
    (k * ratio).round() as usize == index
}

/// The mean loss of the items whose t fell in each quarter of 0..`total`.
fn quarter_means(l: &[f32], t: &[i64], total: i64) -> [Option<f64>; 4] {
    let mut sum = [0.0f64; 4];
    let mut cnt = [0usize; 4];
    for (li, ti) in l.iter().zip(t) {
        let q = ((*ti * 4) / total.max(1)).clamp(0, 3) as usize;
        sum[q] += *li as f64;
        cnt[q] += 1;
    }
    std::array::from_fn(|q| (cnt[q] > 0).then(|| sum[q] / cnt[q] as f64))
}

#[cfg(test)]
mod tests {
    use super::keep_frame;

    #[test]
    fn keep_frame_spreads_evenly() {
        let kept: Vec<usize> = (0..1000).filter(|&i| keep_frame(i, 1000, 11)).collect();
        assert_eq!(kept.len(), 11, "{kept:?}");
        assert_eq!(kept[0], 0);
        assert_eq!(*kept.last().unwrap(), 999);
        assert_eq!((0..5).filter(|&i| keep_frame(i, 5, 20)).count(), 5);
    }
}
