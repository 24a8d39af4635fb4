//! The tables of a reverse chain, in f64: the one home of the posterior and of the reverse
//! step's variance (improved-diffusion's `respace.py`, diffusers' `DDPMScheduler.step` and
//! `DDIMScheduler.step`).
//!
//! A chain visits timesteps t_0 < t_1 < … < t_{S−1} of a base schedule (0-based table
//! indices). Its reverse step i takes the state that base step t_i produces
//! ([`state_of`](super::state_of)`(t_i)`) to the one that t_{i−1} produces (to the data for
//! i = 0), so it has ᾱ_i = ᾱ(t_i), ᾱ_prev,i = ᾱ(t_{i−1}) with ᾱ_prev,0 = 1, and
//! β_i = 1 − ᾱ_i/ᾱ_prev,i; every other table follows from these three columns. The base [`Schedule`] is the chain
//! that visits every step, with its β as given (for S = T the ratio gives the same β up
//! to f64 rounding); [`Schedule::spaced`] builds the chain of a sampling run once.

use super::schedule::spaced_timesteps;
use super::{Schedule, VarianceKind};

/// Per-step tables of a chain; index i is the chain's step i, at base timestep
/// `timesteps[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Respaced {
    /// The base schedule's timestep (0-based index) of each step, increasing.
    pub timesteps: Vec<usize>,
    /// β_i, the variance of the chain's forward step i (from the state of step i − 1, or
    /// the data, to the state of step i).
    pub betas: Vec<f64>,
    /// α_i = 1 − β_i.
    pub alphas: Vec<f64>,
    /// ᾱ_i, the base schedule's ᾱ at `timesteps[i]`.
    pub alpha_bars: Vec<f64>,
    /// ᾱ of the step before (1 before the first).
    pub alpha_bars_prev: Vec<f64>,
    /// β̃_i = β_i (1 − ᾱ_prev,i) / (1 − ᾱ_i), the variance of the forward-process posterior.
    /// Zero at i = 0.
    pub posterior_variance: Vec<f64>,
    /// ln β̃_i, with the first entry replaced by ln β̃_1 (ln 0 is useless), or by ln β_0
    /// for a chain of one step.
    pub posterior_log_variance_clipped: Vec<f64>,
    /// Coefficient of x_0 in the posterior mean: β_i √ᾱ_prev,i / (1 − ᾱ_i).
    pub posterior_mean_coef_x0: Vec<f64>,
    /// Coefficient of x_t in the posterior mean: (1 − ᾱ_prev,i) √α_i / (1 − ᾱ_i).
    pub posterior_mean_coef_xt: Vec<f64>,
}

/// The coefficients of one DDPM step: x' = coef_x0 · x̂_0 + coef_xt · x_t + sigma · z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdpmStep {
    pub coef_x0: f64,
    pub coef_xt: f64,
    /// The standard deviation of the noise added (0 at the last step, i = 0).
    pub sigma: f64,
}

/// The coefficients of one DDIM step: x' = coef_x0 · x̂_0 + coef_eps · ε̂ + sigma · z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdimStep {
    pub coef_x0: f64,
    pub coef_eps: f64,
    /// The standard deviation of the noise added (0 for η = 0 and at the last step).
    pub sigma: f64,
}

impl Respaced {
    /// Builds every table from the three columns β, ᾱ and ᾱ_prev.
    fn from_columns(
        timesteps: Vec<usize>,
        betas: Vec<f64>,
        alpha_bars: Vec<f64>,
        alpha_bars_prev: Vec<f64>,
    ) -> Respaced {
        let n = betas.len();
        let alphas: Vec<f64> = betas.iter().map(|b| 1.0 - b).collect();
        let mut posterior_variance = Vec::with_capacity(n);
        let mut coef_x0 = Vec::with_capacity(n);
        let mut coef_xt = Vec::with_capacity(n);
        for i in 0..n {
            let (b, a, ab, abp) = (betas[i], alphas[i], alpha_bars[i], alpha_bars_prev[i]);
            posterior_variance.push(b * (1.0 - abp) / (1.0 - ab));
            coef_x0.push(b * abp.sqrt() / (1.0 - ab));
            coef_xt.push((1.0 - abp) * a.sqrt() / (1.0 - ab));
        }
        // β̃_0 = 0; its log is taken from step 1 (or from β_0 for a single step).
        let first = if n > 1 {
            posterior_variance[1]
        } else {
            betas[0]
        };
        let posterior_log_variance_clipped = std::iter::once(first.ln())
            .chain(posterior_variance.iter().skip(1).map(|v| v.ln()))
            .collect();
        Respaced {
            timesteps,
            betas,
            alphas,
            alpha_bars,
            alpha_bars_prev,
            posterior_variance,
            posterior_log_variance_clipped,
            posterior_mean_coef_x0: coef_x0,
            posterior_mean_coef_xt: coef_xt,
        }
    }

    /// The chain that visits every step of a schedule with these β (at least one, each
    /// already clipped): ᾱ is their running product.
    pub(crate) fn from_betas(betas: Vec<f64>) -> Respaced {
        let n = betas.len();
        let mut alpha_bars = Vec::with_capacity(n);
        let mut acc = 1.0;
        for b in &betas {
            acc *= 1.0 - b;
            alpha_bars.push(acc);
        }
        let alpha_bars_prev = prev_of(&alpha_bars);
        Respaced::from_columns((0..n).collect(), betas, alpha_bars, alpha_bars_prev)
    }

    /// The chain over `timesteps` (strictly increasing, at least one, each below the
    /// base's length) of a base with these ᾱ.
    fn over(base_alpha_bars: &[f64], timesteps: Vec<usize>) -> Respaced {
        let alpha_bars: Vec<f64> = timesteps.iter().map(|&t| base_alpha_bars[t]).collect();
        let alpha_bars_prev = prev_of(&alpha_bars);
        let betas = alpha_bars
            .iter()
            .zip(&alpha_bars_prev)
            .map(|(ab, abp)| 1.0 - ab / abp)
            .collect();
        Respaced::from_columns(timesteps, betas, alpha_bars, alpha_bars_prev)
    }

    /// S, the number of steps of the chain.
    pub fn len(&self) -> usize {
        self.betas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.betas.is_empty()
    }

    /// Signal-to-noise ratio ᾱ_i / (1 − ᾱ_i) at step i.
    pub fn snr(&self, i: usize) -> f64 {
        self.alpha_bars[i] / (1.0 - self.alpha_bars[i])
    }

    /// σ_i², the variance of the reverse step p(x' | x) at step i used when sampling:
    /// β_i for fixed-large, β̃_i for fixed-small.
    pub(crate) fn model_variance(&self, variance: VarianceKind, i: usize) -> f64 {
        match variance {
            VarianceKind::FixedLarge => self.betas[i],
            VarianceKind::FixedSmall => self.posterior_variance[i],
        }
    }

    /// ln σ_i² as the bound scores the reverse step at step i. Fixed-small: the clipped
    /// ln β̃_i. Fixed-large: ln β_i, except ln β̃_1 at the first step as in improved-diffusion,
    /// which gives a better decoder likelihood and does not change sampling (no noise there).
    pub fn model_log_variance(&self, variance: VarianceKind, i: usize) -> f64 {
        match variance {
            VarianceKind::FixedSmall => self.posterior_log_variance_clipped[i],
            VarianceKind::FixedLarge => {
                if i == 0 {
                    self.posterior_log_variance_clipped[0]
                } else {
                    self.betas[i].ln()
                }
            }
        }
    }

    /// The decoder's ln σ² for continuous data. Fixed-small: the clipped ln β̃ of the next
    /// step (β̃ itself is 0 there). Fixed-large: the paper's σ_1² = β_1 (improved-diffusion's
    /// substitution of β̃ at the first step is made for the discretised decoder and would
    /// loosen the bound on continuous data).
    pub(crate) fn continuous_decoder_log_variance(&self, variance: VarianceKind) -> f64 {
        match variance {
            VarianceKind::FixedSmall => self.posterior_log_variance_clipped[0],
            VarianceKind::FixedLarge => self.betas[0].ln(),
        }
    }

    /// Step i of DDPM ancestral sampling in the posterior form μ̃(x̂_0, x_t) + σ_i z.
    pub(crate) fn ddpm_step(&self, variance: VarianceKind, i: usize) -> DdpmStep {
        DdpmStep {
            coef_x0: self.posterior_mean_coef_x0[i],
            coef_xt: self.posterior_mean_coef_xt[i],
            sigma: if i == 0 {
                0.0
            } else {
                self.model_variance(variance, i).sqrt()
            },
        }
    }

    /// Step i of DDIM with η: σ_i = η √((1 − ᾱ_prev)/(1 − ᾱ)) √(1 − ᾱ/ᾱ_prev) (the second
    /// root is √β_i of a respaced chain), x' = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ_i²) ε̂ + σ_i z.
    pub(crate) fn ddim_step(&self, eta: f64, i: usize) -> DdimStep {
        let (a_t, a_prev) = (self.alpha_bars[i], self.alpha_bars_prev[i]);
        let sigma = eta * ((1.0 - a_prev) / (1.0 - a_t)).sqrt() * self.betas[i].sqrt();
        DdimStep {
            coef_x0: a_prev.sqrt(),
            coef_eps: (1.0 - a_prev - sigma * sigma).max(0.0).sqrt(),
            sigma,
        }
    }
}

/// ᾱ of the step before each step: 1, then ᾱ shifted by one.
fn prev_of(alpha_bars: &[f64]) -> Vec<f64> {
    std::iter::once(1.0)
        .chain(
            alpha_bars
                .iter()
                .copied()
                .take(alpha_bars.len().saturating_sub(1)),
        )
        .collect()
}

impl Schedule {
    /// The chain of `count` evenly spaced timesteps ([`spaced_timesteps`]; `count` is
    /// brought into 1..=T), as the samplers visit them.
    pub fn spaced(&self, count: usize) -> Respaced {
        Respaced::over(&self.alpha_bars, spaced_timesteps(self.len(), count))
    }
}

#[cfg(test)]
mod tests {
    use super::super::ScheduleKind;
    use super::*;

    #[test]
    fn every_step_respaced_reproduces_the_base_tables() {
        let s = Schedule::new(ScheduleKind::Cosine, 200).unwrap();
        let r = s.spaced(200);
        assert_eq!(r.timesteps, (0..200).collect::<Vec<_>>());
        let close = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-9 * y.abs().max(1e-12))
        };
        assert_eq!(r.alpha_bars, s.alpha_bars);
        assert_eq!(r.alpha_bars_prev, s.alpha_bars_prev);
        assert!(close(&r.betas, &s.betas));
        assert!(close(&r.posterior_variance, &s.posterior_variance));
        assert!(close(&r.posterior_mean_coef_x0, &s.posterior_mean_coef_x0));
        assert!(close(&r.posterior_mean_coef_xt, &s.posterior_mean_coef_xt));
    }

    #[test]
    fn a_respaced_step_jumps_between_the_visited_alpha_bars() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        let r = s.spaced(50);
        assert_eq!(r.len(), 50);
        assert_eq!(r.timesteps[1], 20);
        for i in 1..50 {
            let (t, tp) = (r.timesteps[i], r.timesteps[i - 1]);
            assert_eq!(r.alpha_bars[i], s.alpha_bars[t]);
            assert_eq!(r.alpha_bars_prev[i], s.alpha_bars[tp]);
            // the product of the skipped α is the respaced α
            let prod: f64 = (tp + 1..=t).map(|k| s.alphas[k]).product();
            assert!((r.alphas[i] - prod).abs() < 1e-12);
        }
        assert_eq!(r.alpha_bars_prev[0], 1.0);
        assert_eq!(r.posterior_variance[0], 0.0);
        assert_eq!(r.ddpm_step(VarianceKind::FixedLarge, 0).sigma, 0.0);
        assert_eq!(r.ddim_step(1.0, 0).sigma, 0.0);
        assert_eq!(r.ddim_step(0.0, 30).sigma, 0.0);
    }

    #[test]
    fn ddim_with_eta_one_has_the_posterior_variance() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        let r = s.spaced(10);
        for i in 1..10 {
            let sigma = r.ddim_step(1.0, i).sigma;
            let v = r.model_variance(VarianceKind::FixedSmall, i);
            assert!((sigma * sigma - v).abs() < 1e-12 * v.max(1.0), "{i}");
        }
    }

    #[test]
    fn a_chain_of_one_step_jumps_from_the_data_to_its_timestep() {
        let s = Schedule::new(ScheduleKind::Linear, 10).unwrap();
        let r = s.spaced(1);
        assert_eq!(r.timesteps, vec![0]);
        assert_eq!(r.betas, vec![1.0 - s.alpha_bars[0]]);
        assert_eq!(r.alpha_bars_prev, vec![1.0]);
        assert_eq!(r.posterior_log_variance_clipped, vec![r.betas[0].ln()]);
    }

    #[test]
    fn the_log_variance_of_the_bound_comes_from_one_table() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        let (small, large) = (VarianceKind::FixedSmall, VarianceKind::FixedLarge);
        assert_eq!(s.model_log_variance(small, 0), s.posterior_variance[1].ln());
        assert_eq!(
            s.model_log_variance(large, 0),
            s.model_log_variance(small, 0)
        );
        assert_eq!(s.model_log_variance(large, 7), s.betas[7].ln());
        assert_eq!(s.continuous_decoder_log_variance(large), s.betas[0].ln());
        assert_eq!(s.model_variance(large, 7), s.betas[7]);
        assert_eq!(s.model_variance(small, 7), s.posterior_variance[7]);
    }
}
