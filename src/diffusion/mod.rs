//! The mathematics of DDPM: schedules, the forward process, the posterior, the training
//! objective and the samplers. No I/O and no UI here.
//!
//! [`Diffusion`] holds a [`Schedule`] (f64 tables) and the same tables once converted to f32
//! tensors on the model's device; each concept adds its methods in its own file.

pub mod bound;
pub mod forward;
pub mod objective;
pub mod posterior;
pub mod sampler;
pub mod schedule;

pub use objective::{LossWeighting, Prediction};
pub use sampler::{SampleOptions, SamplerKind, Trajectory};
pub use schedule::{Schedule, ScheduleError, ScheduleKind, VarianceKind};

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
    pub snr: Table,
}

/// A Gaussian diffusion process: a schedule plus how the model is parametrised.
pub struct Diffusion {
    pub schedule: Schedule,
    pub prediction: Prediction,
    pub variance: VarianceKind,
    pub(crate) tables: Tables,
    pub device: Device,
}

impl Diffusion {
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
        let tables = Tables {
            sqrt_alpha_bar: map(&|t| s.alpha_bars[t].sqrt()),
            sqrt_one_minus_alpha_bar: map(&|t| (1.0 - s.alpha_bars[t]).sqrt()),
            sqrt_alpha: map(&|t| s.alphas[t].sqrt()),
            sqrt_one_minus_alpha: map(&|t| s.betas[t].sqrt()),
            posterior_coef_x0: Table::new(&s.posterior_mean_coef_x0, device),
            posterior_coef_xt: Table::new(&s.posterior_mean_coef_xt, device),
            posterior_variance: Table::new(&s.posterior_variance, device),
            posterior_log_variance: Table::new(&s.posterior_log_variance_clipped, device),
            snr: map(&|t| s.snr(t)),
        };
        Diffusion {
            schedule,
            prediction,
            variance,
            tables,
            device,
        }
    }

    /// T, the number of diffusion steps.
    pub fn steps(&self) -> usize {
        self.schedule.len()
    }

    /// A batch of timesteps as the Long tensor the tables and the model expect.
    pub fn timesteps(&self, t: &[i64]) -> Tensor {
        Tensor::from_slice(t).to_device(self.device)
    }

    /// The same timestep for every item of a batch of `n`.
    pub fn timestep_batch(&self, t: usize, n: i64) -> Tensor {
        Tensor::full([n], t as i64, (Kind::Int64, self.device))
    }
}
