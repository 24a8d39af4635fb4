//! The forward (noising) process q.
//!
//! One step: q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t I), i.e. x_t = √α_t x_{t−1} + √(1−α_t) ε.
//! Closed form (the seed note's derivation): q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I).

use super::Diffusion;
use tch::Tensor;

impl Diffusion {
    /// Draws x_t ~ q(x_t | x_0) in closed form, given the noise ε: √ᾱ_t x_0 + √(1−ᾱ_t) ε.
    pub fn q_sample(&self, x0: &Tensor, t: &Tensor, noise: &Tensor) -> Tensor {
        let n = x0.dim();
        self.tables.sqrt_alpha_bar.at(t, n) * x0
            + self.tables.sqrt_one_minus_alpha_bar.at(t, n) * noise
    }

    /// One step of the chain: x_t = √α_t x_{t−1} + √(1−α_t) ε.
    pub fn q_step(&self, x_prev: &Tensor, t: &Tensor, noise: &Tensor) -> Tensor {
        let n = x_prev.dim();
        self.tables.sqrt_alpha.at(t, n) * x_prev + self.tables.sqrt_one_minus_alpha.at(t, n) * noise
    }

    /// Mean and variance of q(x_t | x_0), as f64 scalars per timestep.
    pub fn q_mean_coef_and_variance(&self, t: usize) -> (f64, f64) {
        let ab = self.schedule.alpha_bars[t];
        (ab.sqrt(), 1.0 - ab)
    }
}
