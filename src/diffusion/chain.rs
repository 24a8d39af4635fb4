//! The tables of a reverse chain, in f64: the one home of the posterior and of the reverse
//! step's variance (improved-diffusion's `GaussianDiffusion.__init__`, diffusers'
//! `DDPMScheduler.step` and `DDIMScheduler.step`).
//!
//! A chain of S steps is given by two columns: β_i, the variance of its forward step i, and
//! ᾱ_i, the signal kept after it. Its reverse step i goes from the state after step i to
//! the state after step i − 1 (to the data for i = 0), so ᾱ_prev,i = ᾱ_{i−1} with
//! ᾱ_prev,0 = 1, and every other table follows from these three columns. A
//! [`Schedule`](super::Schedule) is the chain that visits all of its T steps; a
//! [`Respaced`](super::Respaced) chain visits some of them.

use serde::{Deserialize, Serialize};

/// The variance σ_t² of the reverse step p(x_{t−1} | x_t).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum VarianceKind {
    /// σ_t² = β_t: the upper bound on the reverse-process entropy.
    FixedLarge,
    /// σ_t² = β̃_t: the true posterior variance, the lower bound.
    #[default]
    FixedSmall,
    /// Learned by the network (Nichol & Dhariwal 2021, "learned range"): the network
    /// outputs twice the data's channels, and the extra output v ∈ [−1, 1] sets
    /// ln σ_t² = f ln β_t + (1 − f) ln β̃_t with f = (v + 1)/2.
    Learned,
}

impl VarianceKind {
    pub fn name(self) -> &'static str {
        match self {
            VarianceKind::FixedLarge => "fixed-large (β)",
            VarianceKind::FixedSmall => "fixed-small (β̃)",
            VarianceKind::Learned => "learned (between β̃ and β)",
        }
    }

    /// The name the command line uses: `small`, `large` or `learned`.
    pub fn flag(self) -> &'static str {
        match self {
            VarianceKind::FixedLarge => "large",
            VarianceKind::FixedSmall => "small",
            VarianceKind::Learned => "learned",
        }
    }
}

/// ln σ² of a reverse step: fixed, or set by the network's variance output v ∈ [−1, 1]
/// between two ends as ln σ² = f · max + (1 − f) · min with f = (v + 1)/2 (improved-diffusion's
/// `p_mean_variance` for `LEARNED_RANGE`, diffusers' `learned_range`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LogVariance {
    Fixed(f64),
    Between { min: f64, max: f64 },
}

impl LogVariance {
    /// ln σ² at the network's output v (v is ignored by a fixed variance).
    pub fn at(self, v: f64) -> f64 {
        match self {
            LogVariance::Fixed(lv) => lv,
            LogVariance::Between { min, max } => {
                let f = (v + 1.0) / 2.0;
                f * max + (1.0 - f) * min
            }
        }
    }
}

/// Per-step tables of a chain; index i is the chain's step i.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// β_i, the variance of the chain's forward step i (from the state of step i − 1, or
    /// the data, to the state of step i).
    pub betas: Vec<f64>,
    /// α_i = 1 − β_i.
    pub alphas: Vec<f64>,
    /// ᾱ_i, the signal kept after step i.
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

/// The coefficients of one DDPM step: x' = coef_x0 · x̂_0 + coef_xt · x_t + σ z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdpmStep {
    pub coef_x0: f64,
    pub coef_xt: f64,
    pub noise: StepNoise,
}

/// The σ of the noise a DDPM step adds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepNoise {
    /// The last step (i = 0) adds none.
    None,
    /// A fixed σ (√β̃ or √β).
    Fixed(f64),
    /// ln σ² set by the network's variance output ([`LogVariance::Between`]).
    Learned(LogVariance),
}

/// The coefficients of one DDIM step: x' = coef_x0 · x̂_0 + coef_eps · ε̂ + sigma · z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdimStep {
    pub coef_x0: f64,
    pub coef_eps: f64,
    /// The standard deviation of the noise added (0 for η = 0 and at the last step).
    pub sigma: f64,
}

impl Chain {
    /// Builds every table from the columns β and ᾱ (of the same length, at least one).
    pub(crate) fn new(betas: Vec<f64>, alpha_bars: Vec<f64>) -> Chain {
        let alpha_bars_prev = prev_of(&alpha_bars);
        Chain::with_prev(betas, alpha_bars, alpha_bars_prev)
    }

    /// Builds every table from β, ᾱ and the ᾱ each reverse step lands on (all of the same
    /// length, at least one): a chain whose steps need not land on the step before, as
    /// diffusers' DDIM steps from t to t − ⌊T/S⌋ whatever the spacing.
    pub(crate) fn with_prev(
        betas: Vec<f64>,
        alpha_bars: Vec<f64>,
        alpha_bars_prev: Vec<f64>,
    ) -> Chain {
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
        Chain {
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

    /// S, the number of steps of the chain.
    pub fn len(&self) -> usize {
        self.betas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.betas.is_empty()
    }

    /// σ_i = √((1 − ᾱ_i)/ᾱ_i), the noise level of step i in the σ parametrisation
    /// (x/√ᾱ = x_0 + σ ε) of Karras et al. and diffusers' σ schedulers.
    pub fn sigma(&self, i: usize) -> f64 {
        ((1.0 - self.alpha_bars[i]) / self.alpha_bars[i]).sqrt()
    }

    /// Signal-to-noise ratio ᾱ_i / (1 − ᾱ_i) at step i.
    pub fn snr(&self, i: usize) -> f64 {
        self.alpha_bars[i] / (1.0 - self.alpha_bars[i])
    }

    /// ln σ_i² of the reverse step at step i, as sampling draws it and the bound scores it.
    /// Fixed-small: the clipped ln β̃_i. Fixed-large: ln β_i, except ln β̃_1 at the first
    /// step as in improved-diffusion, which gives a better decoder likelihood and does not
    /// change sampling (no noise there). Learned: between the clipped ln β̃_i and ln β_i of
    /// this chain (a respaced chain's own β̃ and β, as improved-diffusion's respacing has it).
    pub fn model_log_variance(&self, variance: VarianceKind, i: usize) -> LogVariance {
        let small = self.posterior_log_variance_clipped[i];
        match variance {
            VarianceKind::FixedSmall => LogVariance::Fixed(small),
            VarianceKind::FixedLarge if i == 0 => LogVariance::Fixed(small),
            VarianceKind::FixedLarge => LogVariance::Fixed(self.betas[i].ln()),
            VarianceKind::Learned => LogVariance::Between {
                min: small,
                max: self.betas[i].ln(),
            },
        }
    }

    /// The decoder's ln σ² for continuous data. Fixed-small: the clipped ln β̃ of the next
    /// step (β̃ itself is 0 there). Fixed-large: the paper's σ_1² = β_1 (improved-diffusion's
    /// substitution of β̃ at the first step is made for the discretised decoder and would
    /// loosen the bound on continuous data). Learned: between the two.
    pub fn continuous_decoder_log_variance(&self, variance: VarianceKind) -> LogVariance {
        match variance {
            VarianceKind::FixedSmall => LogVariance::Fixed(self.posterior_log_variance_clipped[0]),
            VarianceKind::FixedLarge => LogVariance::Fixed(self.betas[0].ln()),
            VarianceKind::Learned => self.model_log_variance(variance, 0),
        }
    }

    /// Step i of DDPM ancestral sampling in the posterior form μ̃(x̂_0, x_t) + σ_i z: σ_i² is
    /// β_i for fixed-large, β̃_i for fixed-small, and learned between the two.
    pub fn ddpm_step(&self, variance: VarianceKind, i: usize) -> DdpmStep {
        let noise = match variance {
            _ if i == 0 => StepNoise::None,
            VarianceKind::FixedLarge => StepNoise::Fixed(self.betas[i].sqrt()),
            VarianceKind::FixedSmall => StepNoise::Fixed(self.posterior_variance[i].sqrt()),
            VarianceKind::Learned => StepNoise::Learned(self.model_log_variance(variance, i)),
        };
        DdpmStep {
            coef_x0: self.posterior_mean_coef_x0[i],
            coef_xt: self.posterior_mean_coef_xt[i],
            noise,
        }
    }

    /// Step i of DDIM with η: σ_i = η √((1 − ᾱ_prev)/(1 − ᾱ)) √(1 − ᾱ/ᾱ_prev) (the second
    /// root is √β_i of a respaced chain), x' = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ_i²) ε̂ + σ_i z.
    pub fn ddim_step(&self, eta: f64, i: usize) -> DdimStep {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of two steps, small enough to check every table by hand.
    #[test]
    fn two_steps_give_the_posterior_of_the_formulas() {
        let (b0, b1) = (0.1, 0.3);
        let (ab0, ab1) = (1.0 - b0, (1.0 - b0) * (1.0 - b1));
        let c = Chain::new(vec![b0, b1], vec![ab0, ab1]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.alpha_bars_prev, vec![1.0, ab0]);
        assert_eq!(c.posterior_variance[0], 0.0);
        assert_eq!(c.posterior_variance[1], b1 * (1.0 - ab0) / (1.0 - ab1));
        assert_eq!(
            c.posterior_log_variance_clipped[0],
            c.posterior_variance[1].ln()
        );
        assert!((c.posterior_mean_coef_x0[0] - 1.0).abs() < 1e-12);
        assert_eq!(c.posterior_mean_coef_xt[0], 0.0);
        let step = c.ddpm_step(VarianceKind::FixedLarge, 1);
        assert_eq!(step.noise, StepNoise::Fixed(b1.sqrt()));
        assert_eq!(
            c.ddpm_step(VarianceKind::FixedSmall, 0).noise,
            StepNoise::None
        );
        // the learned range spans β̃ (v = −1) to β (v = 1)
        let lv = c.model_log_variance(VarianceKind::Learned, 1);
        assert_eq!(lv.at(-1.0), c.posterior_variance[1].ln());
        assert_eq!(lv.at(1.0), b1.ln());
        assert_eq!(lv.at(0.0), 0.5 * (b1.ln() + c.posterior_variance[1].ln()));
        assert_eq!(
            c.ddpm_step(VarianceKind::Learned, 1).noise,
            StepNoise::Learned(lv)
        );
        assert_eq!(c.snr(0), ab0 / (1.0 - ab0));
    }

    #[test]
    fn a_chain_of_one_step_takes_its_log_variance_from_beta() {
        let c = Chain::new(vec![0.2], vec![0.8]);
        assert_eq!(c.posterior_log_variance_clipped, vec![0.2f64.ln()]);
        assert_eq!(
            c.continuous_decoder_log_variance(VarianceKind::FixedLarge),
            LogVariance::Fixed(0.2f64.ln())
        );
    }
}
