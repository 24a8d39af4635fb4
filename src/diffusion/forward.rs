//! The forward (noising) process q.
//!
//! One step: q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t I), i.e. x_t = √α_t x_{t−1} + √(1−α_t) ε.
//! Closed form (the seed note's derivation): q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I).
//!
//! The closed form exists twice, with the same coefficients and the same f32 arithmetic:
//! on tensors ([`Diffusion::q_sample`], batches of timesteps, on the model's device) and on
//! f32 slices ([`q_sample_slice`], one timestep, for the workbench).

use super::{index_of, Diffusion, Schedule};
use tch::Tensor;

/// The coefficients (√ᾱ, √(1 − ᾱ)) of x_0 and ε in the closed form x_t = √ᾱ x_0 + √(1−ᾱ) ε.
pub(crate) fn marginal_coefficients(alpha_bar: f64) -> (f64, f64) {
    (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt())
}

/// x_t = √ᾱ x_0 + √(1−ᾱ) ε elementwise on f32 slices of the same length, given ᾱ of x_t.
/// The coefficients are rounded to f32 as in the tensor tables, so the values are those of
/// [`Diffusion::q_sample`] bit for bit.
pub fn q_sample_slice(alpha_bar: f64, x0: &[f32], eps: &[f32]) -> Vec<f32> {
    debug_assert_eq!(x0.len(), eps.len());
    let (a, s) = marginal_coefficients(alpha_bar);
    let (a, s) = (a as f32, s as f32);
    x0.iter().zip(eps).map(|(&x, &e)| a * x + s * e).collect()
}

impl Schedule {
    /// ᾱ of the state t in 0..=T (the seed note's numbering): 1 for the data (t = 0), else
    /// `alpha_bars` at [`index_of`]`(t)`. Panics for t > T, like indexing.
    pub fn alpha_bar_of_state(&self, t: usize) -> f64 {
        index_of(t).map_or(1.0, |i| self.alpha_bars[i])
    }
}

impl Diffusion {
    /// Draws x_t ~ q(x_t | x_0) in closed form, given the noise ε: √ᾱ_t x_0 + √(1−ᾱ_t) ε,
    /// at the table indices `t`.
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

    /// Mean coefficient and variance (√ᾱ, 1 − ᾱ) of q(x_t | x_0) at table index `t`.
    pub(crate) fn q_mean_coef_and_variance(&self, t: usize) -> (f64, f64) {
        let ab = self.schedule.alpha_bars[t];
        (marginal_coefficients(ab).0, 1.0 - ab)
    }
}
