//! Heun's second-order method in σ (Karras et al. 2022, Algorithm 1 without churn), as
//! diffusers' `HeunDiscreteScheduler` computes it: an Euler step from σ to σ_next, then the
//! model again at the end point and the step redone with the mean of the two slopes. The
//! last step, to σ = 0, is a plain Euler step, so S steps cost 2S − 1 network evaluations.
//! The state, the start and the σ are those of Euler ([`super::euler`]).

use super::sampler::{Model, SampleOptions, StepView};
use super::Diffusion;
use tch::Tensor;

impl Diffusion {
    /// Heun from x_T ~ N(0, I).
    pub(crate) fn sample_heun(
        &self,
        model: &mut Model,
        z: Tensor,
        opts: &SampleOptions,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let (steps, mut x) = self.sigma_start(z, opts, opts.karras);
        for i in 0..steps.len() {
            let (sigma, next) = (steps.sigmas[i], steps.sigmas[i + 1]);
            let x0 = self.sigma_step(model, &steps, i, &x, opts.clip_x0, observe);
            let derivative = (&x - &x0) / sigma;
            let dt = next - sigma;
            if next == 0.0 {
                x = &x + derivative * dt;
                continue;
            }
            let euler = &x + &derivative * dt;
            let (x0_next, _) =
                self.denoise_sigma(model, &euler, next, steps.timesteps[i + 1], opts.clip_x0);
            let slope = (&euler - x0_next) / next;
            x = &x + (derivative + slope) / 2.0 * dt;
        }
        x
    }
}
