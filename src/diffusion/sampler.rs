//! Reverse-process samplers: DDPM ancestral sampling (the seed's Algorithm 2) and DDIM.
//!
//! Both can run over a subsequence of S ≤ T timesteps ("respacing"): the reverse step
//! between visited timesteps t > t' uses β = 1 − ᾱ_t/ᾱ_{t'}, which for S = T is exactly β_t.
//! Algorithm 2's update x_{t−1} = (x_t − β_t/√(1−ᾱ_t) ε̂)/√α_t + σ_t z is written here in the
//! equivalent form μ̃(x̂_0, x_t) + σ_t z, which lets x̂_0 be clipped for images.

use super::{Diffusion, VarianceKind};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SamplerKind {
    /// Ancestral sampling (Algorithm 2), stochastic.
    #[default]
    Ddpm,
    /// DDIM (Song et al. 2021): deterministic at η = 0, DDPM-like at η = 1.
    Ddim,
}

impl SamplerKind {
    pub fn name(self) -> &'static str {
        match self {
            SamplerKind::Ddpm => "ddpm",
            SamplerKind::Ddim => "ddim",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleOptions {
    pub sampler: SamplerKind,
    /// Number of reverse steps S (at most T; T when larger).
    pub steps: usize,
    /// DDIM's η: the fraction of the DDPM noise kept.
    pub eta: f64,
    /// Clip x̂_0 to [−1, 1] (for images; never used in the loss or the bound).
    pub clip_x0: bool,
    /// Override the model's variance (DDPM only).
    pub variance: Option<VarianceKind>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            sampler: SamplerKind::Ddpm,
            steps: usize::MAX,
            eta: 0.0,
            clip_x0: false,
            variance: None,
        }
    }
}

/// One reverse step as seen by an observer: the timestep t (0-based) of the input x_t, x_t
/// itself, and the model's x̂_0 there.
pub struct StepView<'a> {
    pub index: usize,
    pub of: usize,
    pub t: usize,
    pub xt: &'a Tensor,
    pub x0_hat: &'a Tensor,
}

/// A stored reverse trajectory: frames in sampling order (t decreasing), then x_0.
pub struct Trajectory {
    pub timesteps: Vec<usize>,
    pub xt: Vec<Tensor>,
    pub x0_hat: Vec<Tensor>,
}

impl Trajectory {
    pub fn new() -> Trajectory {
        Trajectory {
            timesteps: Vec::new(),
            xt: Vec::new(),
            x0_hat: Vec::new(),
        }
    }

    /// Records a step view (copies the tensors).
    pub fn push(&mut self, v: &StepView) {
        self.timesteps.push(v.t);
        self.xt.push(v.xt.copy());
        self.x0_hat.push(v.x0_hat.copy());
    }
}

impl Default for Trajectory {
    fn default() -> Self {
        Self::new()
    }
}

impl Diffusion {
    /// Starts from x_T ~ N(0, I) of the given shape and runs the reverse process to x_0.
    ///
    /// `model` maps (x_t, t) to the network's output; `observe` sees every step. The noise
    /// comes from libtorch's generator, so seed it (`tch::manual_seed`) for reproducibility.
    pub fn sample(
        &self,
        model: &mut dyn FnMut(&Tensor, &Tensor) -> Tensor,
        shape: &[i64],
        opts: &SampleOptions,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let _guard = tch::no_grad_guard();
        let x = Tensor::randn(shape, (Kind::Float, self.device));
        self.sample_from(model, x, opts, observe)
    }

    /// Runs the reverse process from a given x_T.
    pub fn sample_from(
        &self,
        model: &mut dyn FnMut(&Tensor, &Tensor) -> Tensor,
        mut x: Tensor,
        opts: &SampleOptions,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let _guard = tch::no_grad_guard();
        let total = self.steps();
        let ts = super::schedule::spaced_timesteps(total, opts.steps.min(total));
        let n = x.size()[0];
        let ab = &self.schedule.alpha_bars;
        let variance = opts.variance.unwrap_or(self.variance);
        for i in (0..ts.len()).rev() {
            let t = ts[i];
            let tt = self.timestep_batch(t, n);
            let out = model(&x, &tt);
            let (mut x0, mut eps) = self.predict_x0_eps(&out, &x, &tt);
            if opts.clip_x0 {
                x0 = x0.clamp(-1.0, 1.0);
                eps = self.eps_from_x0(&x0, &x, &tt);
            }
            observe(StepView {
                index: ts.len() - 1 - i,
                of: ts.len(),
                t,
                xt: &x,
                x0_hat: &x0,
            });
            let a_t = ab[t];
            let a_prev = if i == 0 { 1.0 } else { ab[ts[i - 1]] };
            x = match opts.sampler {
                SamplerKind::Ddpm => {
                    let beta = 1.0 - a_t / a_prev;
                    let alpha = 1.0 - beta;
                    let coef_x0 = beta * a_prev.sqrt() / (1.0 - a_t);
                    let coef_xt = (1.0 - a_prev) * alpha.sqrt() / (1.0 - a_t);
                    let mean = &x0 * coef_x0 + &x * coef_xt;
                    if i == 0 {
                        mean
                    } else {
                        let var = match variance {
                            VarianceKind::FixedLarge => beta,
                            VarianceKind::FixedSmall => beta * (1.0 - a_prev) / (1.0 - a_t),
                        };
                        mean + Tensor::randn_like(&x) * var.sqrt()
                    }
                }
                SamplerKind::Ddim => {
                    let sigma = opts.eta
                        * ((1.0 - a_prev) / (1.0 - a_t)).sqrt()
                        * (1.0 - a_t / a_prev).sqrt();
                    let dir = (1.0 - a_prev - sigma * sigma).max(0.0).sqrt();
                    let mean = &x0 * a_prev.sqrt() + &eps * dir;
                    if i == 0 || sigma == 0.0 {
                        mean
                    } else {
                        mean + Tensor::randn_like(&x) * sigma
                    }
                }
            };
        }
        x
    }
}
