//! The mathematics of DDPM: schedules, the forward process, the posterior, the training
//! objective and the samplers. No I/O and no UI here.
//!
//! [`Diffusion`] holds a [`Schedule`] (f64 tables) and the same tables once converted to f32
//! tensors on the model's device; each concept adds its methods in its own file. The
//! posterior and the reverse step's variance of any chain of timesteps come from one place,
//! [`Chain`], in f64: the schedule is the chain of all T steps, and a [`Respaced`] chain (a
//! sampling run's) is built on the schedule; the schedule knows nothing of respacing.
//!
//! # Timesteps
//!
//! Two numberings meet here. The tables are indexed from 0: index i = 0..T−1 is the i-th
//! step of the schedule, the one with β_i (this is diffusers' and improved-diffusion's `t`,
//! and what the model is given). The seed note and the workbench number the states
//! instead: t = 0 is the data and t = T pure noise. Index i produces state t = i + 1, i.e.
//! the step at index i maps x_i to x_{i+1} in the note's numbering. Convert with
//! [`state_of`] and [`index_of`], never with a bare `± 1`.

pub mod bound;
pub mod chain;
pub mod dpm_solver;
pub mod error;
pub mod euler;
pub mod forward;
pub mod guidance;
pub mod heun;
pub mod objective;
pub mod posterior;
pub mod resample;
pub mod respace;
pub mod sampler;
pub mod schedule;
pub mod spacing;

pub use chain::{Chain, LogVariance, StepNoise, VarianceKind};
pub use error::DiffusionError;
pub use guidance::{ClassChoice, Guidance, GuidanceError};
pub use objective::{Loss, LossWeighting, Prediction, TrainingLosses};
pub use resample::{LossAware, TimestepSampling};
pub use respace::Respaced;
pub use sampler::{SampleOption, SampleOptionError, SampleOptions, SamplerKind, Trajectory};
pub use schedule::{Schedule, ScheduleError, ScheduleKind};
pub use spacing::Spacing;

/// The state t (0 = data, T = noise) that the step at table index `index` produces:
/// `index + 1`.
pub fn state_of(index: usize) -> usize {
    index + 1
}

/// The table index of the step that produces state `t` (0 = data, T = noise): `t − 1`, or
/// `None` for t = 0, the data, which no step produces.
pub fn index_of(t: usize) -> Option<usize> {
    t.checked_sub(1)
}

use tch::{Device, Kind, Tensor};

/// A per-timestep table as an f32 tensor of shape [T].
pub(crate) struct Table(Tensor);

impl Table {
    fn new(values: &[f64], device: Device) -> Table {
        let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        Table(Tensor::from_slice(&v).to_device(device))
    }

    /// Gathers entries at the timesteps `t` (Long, shape [B]) and reshapes them to
    /// [B, 1, …, 1] so that they broadcast against a batch with `ndim` dimensions.
    pub(crate) fn at(&self, t: &Tensor, ndim: usize) -> Tensor {
        let mut shape = vec![-1i64];
        shape.extend(std::iter::repeat_n(1i64, ndim.saturating_sub(1)));
        self.0.index_select(0, t).reshape(shape.as_slice())
    }
}

pub(crate) struct Tables {
    pub sqrt_alpha_bar: Table,
    pub sqrt_one_minus_alpha_bar: Table,
    pub sqrt_alpha: Table,
    pub sqrt_one_minus_alpha: Table,
    pub posterior_coef_x0: Table,
    pub posterior_coef_xt: Table,
    pub posterior_variance: Table,
    pub posterior_log_variance: Table,
    /// ln σ² of the reverse step as the bound scores it, for each fixed variance.
    pub model_log_variance_small: Table,
    pub model_log_variance_large: Table,
    /// ln β_t, the upper end of the learned range (its lower end is
    /// `posterior_log_variance`).
    pub log_beta: Table,
    pub snr: Table,
}

/// A Gaussian diffusion process: a schedule plus how the model is parametrised.
pub struct Diffusion {
    pub schedule: Schedule,
    pub prediction: Prediction,
    /// The variance the bound and DDPM sampling use.
    variance: VarianceKind,
    /// Whether the network has the variance output (twice the data's channels).
    learns_variance: bool,
    pub(crate) tables: Tables,
    pub device: Device,
}

impl Diffusion {
    /// The process for a network of the given prediction and variance; a `Learned`
    /// variance means a network with the variance output.
    pub fn new(
        schedule: Schedule,
        prediction: Prediction,
        variance: VarianceKind,
        device: Device,
    ) -> Diffusion {
        let s = &schedule;
        let map = |f: &dyn Fn(usize) -> f64| -> Table {
            let v: Vec<f64> = (0..s.len()).map(f).collect();
            Table::new(&v, device)
        };
        let marginal = |t: usize| forward::marginal_coefficients(s.alpha_bars[t]);
        let tables = Tables {
            sqrt_alpha_bar: map(&|t| marginal(t).0),
            sqrt_one_minus_alpha_bar: map(&|t| marginal(t).1),
            sqrt_alpha: map(&|t| s.alphas[t].sqrt()),
            sqrt_one_minus_alpha: map(&|t| s.betas[t].sqrt()),
            posterior_coef_x0: Table::new(&s.posterior_mean_coef_x0, device),
            posterior_coef_xt: Table::new(&s.posterior_mean_coef_xt, device),
            posterior_variance: Table::new(&s.posterior_variance, device),
            posterior_log_variance: Table::new(&s.posterior_log_variance_clipped, device),
            model_log_variance_small: map(&|t| {
                s.model_log_variance(VarianceKind::FixedSmall, t).at(0.0)
            }),
            model_log_variance_large: map(&|t| {
                s.model_log_variance(VarianceKind::FixedLarge, t).at(0.0)
            }),
            log_beta: map(&|t| s.betas[t].ln()),
            snr: map(&|t| s.snr(t)),
        };
        Diffusion {
            schedule,
            prediction,
            variance,
            learns_variance: variance == VarianceKind::Learned,
            tables,
            device,
        }
    }

    /// The variance the bound and DDPM sampling use: the model's own unless
    /// [`Diffusion::set_variance`] chose another.
    pub fn variance(&self) -> VarianceKind {
        self.variance
    }

    /// Whether the network outputs a variance (twice the data's channels).
    pub fn learns_variance(&self) -> bool {
        self.learns_variance
    }

    /// Reads the model with another variance, for comparison (a learned-variance model
    /// with fixed-small, say). `Learned` needs a network with the variance output.
    pub fn set_variance(&mut self, variance: VarianceKind) -> Result<(), DiffusionError> {
        if variance == VarianceKind::Learned && !self.learns_variance {
            return Err(DiffusionError::NoVarianceOutput);
        }
        self.variance = variance;
        Ok(())
    }

    /// The network's output split at the data's `channels` (dimension 1): the mean's
    /// output, and the variance output v when the network has one.
    pub fn split_output(&self, out: &Tensor, channels: i64) -> (Tensor, Option<Tensor>) {
        if !self.learns_variance {
            return (out.shallow_clone(), None);
        }
        (
            out.narrow(1, 0, channels),
            Some(out.narrow(1, channels, channels)),
        )
    }

    /// The mean's part of the network's output at `x`: its first channels, as many as
    /// `x` has (all of it without a variance output, or when it was split already).
    pub(crate) fn mean_output(&self, out: &Tensor, x: &Tensor) -> Tensor {
        let channels = x.size()[1];
        if self.learns_variance && out.size()[1] > channels {
            out.narrow(1, 0, channels)
        } else {
            out.shallow_clone()
        }
    }

    /// ln σ² of the model's reverse step at timesteps `t`, shaped to broadcast against a
    /// batch with `ndim` dimensions: the fixed table, or for a learned variance
    /// f ln β_t + (1 − f) ln β̃_t (clipped) with f = (v + 1)/2, elementwise.
    pub(crate) fn model_log_variance_at(
        &self,
        t: &Tensor,
        ndim: usize,
        v: Option<&Tensor>,
    ) -> Tensor {
        let tb = &self.tables;
        match (self.variance, v) {
            (VarianceKind::FixedLarge, _) => tb.model_log_variance_large.at(t, ndim),
            (VarianceKind::Learned, Some(v)) => {
                let f = (v + 1.0) * 0.5;
                &f * tb.log_beta.at(t, ndim) + (1.0 - &f) * tb.posterior_log_variance.at(t, ndim)
            }
            // `set_variance` keeps `Learned` to networks with a variance output.
            (VarianceKind::FixedSmall | VarianceKind::Learned, _) => {
                tb.model_log_variance_small.at(t, ndim)
            }
        }
    }

    /// T, the number of diffusion steps (table indices 0..T, states 0..=T).
    pub fn steps(&self) -> usize {
        self.schedule.len()
    }

    /// A batch of timesteps (table indices) as the Long tensor the tables and the model
    /// expect.
    pub fn timesteps(&self, t: &[i64]) -> Tensor {
        Tensor::from_slice(t).to_device(self.device)
    }

    /// The same timestep (table index) for every item of a batch of `n`.
    pub fn timestep_batch(&self, t: usize, n: i64) -> Tensor {
        Tensor::full([n], t as i64, (Kind::Int64, self.device))
    }
}
