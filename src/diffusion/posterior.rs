//! The forward-process posterior q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I), with
//! μ̃_t = β_t √ᾱ_{t−1}/(1−ᾱ_t) · x_0 + (1−ᾱ_{t−1}) √α_t/(1−ᾱ_t) · x_t.

use super::Diffusion;
use tch::Tensor;

pub struct Gaussian {
    pub mean: Tensor,
    pub variance: Tensor,
    pub log_variance: Tensor,
}

impl Diffusion {
    /// The posterior mean, variance and (clipped) log-variance at timesteps `t`.
    pub fn q_posterior(&self, x0: &Tensor, xt: &Tensor, t: &Tensor) -> Gaussian {
        let n = xt.dim();
        let tb = &self.tables;
        let mean = tb.posterior_coef_x0.at(t, n) * x0 + tb.posterior_coef_xt.at(t, n) * xt;
        Gaussian {
            mean,
            variance: tb.posterior_variance.at(t, n),
            log_variance: tb.posterior_log_variance.at(t, n),
        }
    }
}
