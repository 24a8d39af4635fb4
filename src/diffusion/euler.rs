//! Euler and Euler ancestral sampling in σ (Karras et al. 2022, "Elucidating the Design
//! Space of Diffusion-Based Generative Models"), as diffusers' `EulerDiscreteScheduler` and
//! `EulerAncestralDiscreteScheduler` compute them.
//!
//! Both step the state x̃ = x/√ᾱ = x_0 + σ ε along the probability-flow ODE
//! dx̃/dσ = (x̃ − x̂_0)/σ. The model is given the variance-preserving x̃/√(1 + σ²); the run
//! starts from x̃ = σ_max z for the `linspace` and `trailing` spacings and √(σ_max² + 1) z
//! for `leading` (diffusers' `init_noise_sigma`). Euler ancestral steps down to
//! σ_down = √(σ_next² − σ_up²) and adds σ_up z, σ_up = σ_next √(1 − σ_next²/σ²).
//! The σ of each step come from [`SigmaSteps::euler`], with Karras spacing for Euler.

use super::sampler::{Model, SampleOptions, SamplerKind, StepView};
use super::spacing::{SigmaSteps, Spacing};
use super::Diffusion;
use tch::Tensor;

/// The standard deviation of x̃_T that diffusers' σ schedulers start from.
pub(crate) fn init_noise_sigma(steps: &SigmaSteps, spacing: Spacing) -> f64 {
    let max = steps.sigmas.iter().copied().fold(0.0, f64::max);
    match spacing {
        Spacing::Linspace | Spacing::Trailing => max,
        Spacing::Leading => (max * max + 1.0).sqrt(),
    }
}

/// (σ_down, σ_up) of an ancestral step from σ to σ_next.
pub(crate) fn ancestral_sigmas(sigma: f64, next: f64) -> (f64, f64) {
    let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).sqrt();
    let down = (next * next - up * up).max(0.0).sqrt();
    (down, up)
}

impl Diffusion {
    /// The σ steps of an Euler-family run (with Karras σ when `karras`) and its x̃_T from
    /// z ~ N(0, I).
    pub(crate) fn sigma_start(
        &self,
        z: Tensor,
        opts: &SampleOptions,
        karras: bool,
    ) -> (SigmaSteps, Tensor) {
        let spacing = opts.spacing();
        let steps = SigmaSteps::euler(&self.schedule, spacing, opts.steps, karras);
        let x = z * init_noise_sigma(&steps, spacing);
        (steps, x)
    }

    /// x̂_0 at step i of a σ run from x̃ (see [`Diffusion::denoise_sigma`]), shown to
    /// `observe`.
    pub(crate) fn sigma_step(
        &self,
        model: &mut Model,
        steps: &SigmaSteps,
        i: usize,
        x: &Tensor,
        clip: bool,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let (sigma, time) = (steps.sigmas[i], steps.timesteps[i]);
        let (x0, x_vp) = self.denoise_sigma(model, x, sigma, time, clip);
        observe(StepView::at_sigma(
            (i, steps.len()),
            time,
            sigma,
            self.steps(),
            &x_vp,
            &x0,
        ));
        x0
    }

    /// The network's x̂_0 at the σ state x̃ (the model sees x̃/√(1 + σ²), returned too).
    pub(crate) fn denoise_sigma(
        &self,
        model: &mut Model,
        x: &Tensor,
        sigma: f64,
        time: f64,
        clip: bool,
    ) -> (Tensor, Tensor) {
        let x_vp = x / (sigma * sigma + 1.0).sqrt();
        let out = self.evaluate_at(model, &x_vp, time);
        (self.x0_at_sigma(&out, x, sigma, clip), x_vp)
    }

    /// Euler or Euler ancestral from x_T ~ N(0, I).
    pub(crate) fn sample_euler(
        &self,
        model: &mut Model,
        z: Tensor,
        opts: &SampleOptions,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let ancestral = opts.sampler == SamplerKind::EulerA;
        let (steps, mut x) = self.sigma_start(z, opts, opts.karras && !ancestral);
        for i in 0..steps.len() {
            let (sigma, next) = (steps.sigmas[i], steps.sigmas[i + 1]);
            let x0 = self.sigma_step(model, &steps, i, &x, opts.clip_x0, observe);
            let derivative = (&x - &x0) / sigma;
            x = if ancestral {
                let (down, up) = ancestral_sigmas(sigma, next);
                let stepped = &x + derivative * (down - sigma);
                stepped + Tensor::randn_like(&x) * up
            } else {
                &x + derivative * (next - sigma)
            };
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ancestral_step_keeps_the_variance_of_the_target_sigma() {
        let (down, up) = ancestral_sigmas(3.0, 1.0);
        assert!((down * down + up * up - 1.0).abs() < 1e-12);
        assert_eq!(ancestral_sigmas(3.0, 0.0), (0.0, 0.0));
    }
}
