//! Respacing: a reverse chain that visits only some timesteps of a base [`Schedule`], as
//! the samplers run it (improved-diffusion's `respace.py`, built on the base diffusion as
//! `SpacedDiffusion` is on `GaussianDiffusion`).
//!
//! A chain visits timesteps t_0 < t_1 < … < t_{S−1} of the base (0-based table indices).
//! Its reverse step i takes the state that base step t_i produces
//! ([`state_of`](super::state_of)`(t_i)`) to the one that t_{i−1} produces (to the data for
//! i = 0), so it keeps the base's ᾱ_i = ᾱ(t_i) and has β_i = 1 − ᾱ(t_i)/ᾱ(t_{i−1}), with
//! ᾱ(t_{−1}) = 1; [`Chain`] builds every other table from these two columns. For S = T the
//! ratio gives the base's β up to f64 rounding.

use super::chain::Chain;
use super::schedule::{spaced_timesteps, Schedule};
use super::spacing::{ddim_timesteps, Spacing};

/// A chain over some of a base schedule's timesteps: their indices, and the chain's tables
/// (index i is the chain's step i, at base timestep `timesteps[i]`), reached through `Deref`.
#[derive(Debug, Clone, PartialEq)]
pub struct Respaced {
    /// The base schedule's timestep (0-based index) of each step, increasing.
    pub timesteps: Vec<usize>,
    chain: Chain,
}

impl std::ops::Deref for Respaced {
    type Target = Chain;

    fn deref(&self) -> &Chain {
        &self.chain
    }
}

impl Respaced {
    /// The chain over `timesteps` (strictly increasing, at least one, each below the base's
    /// length) of `base`, each reverse step landing on the state of the timestep before
    /// (the data for the first).
    fn over(base: &Schedule, timesteps: Vec<usize>) -> Respaced {
        let prev = (0..timesteps.len())
            .map(|i| i.checked_sub(1).map(|j| timesteps[j]))
            .collect();
        Respaced::landing(base, timesteps, prev)
    }

    /// The chain over `timesteps` (increasing) whose reverse step i lands on the state of
    /// base timestep `prev[i]` (the data for `None`): β_i = 1 − ᾱ(t_i)/ᾱ(prev_i).
    fn landing(base: &Schedule, timesteps: Vec<usize>, prev: Vec<Option<usize>>) -> Respaced {
        let alpha_bars: Vec<f64> = timesteps.iter().map(|&t| base.alpha_bars[t]).collect();
        let alpha_bars_prev: Vec<f64> = prev
            .iter()
            .map(|p| p.map_or(1.0, |t| base.alpha_bars[t]))
            .collect();
        let betas = alpha_bars
            .iter()
            .zip(&alpha_bars_prev)
            .map(|(&alpha_bar, &last)| 1.0 - alpha_bar / last)
            .collect();
        Respaced {
            timesteps,
            chain: Chain::with_prev(betas, alpha_bars, alpha_bars_prev),
        }
    }
}

impl Schedule {
    /// The chain of `count` evenly spaced timesteps ([`spaced_timesteps`], diffusers'
    /// `leading`; `count` is brought into 1..=T), its tables computed once.
    pub fn spaced(&self, count: usize) -> Respaced {
        Respaced::over(self, spaced_timesteps(self.len(), count))
    }

    /// The chain DDPM ancestral sampling runs with `spacing` (diffusers' `DDPMScheduler`):
    /// each step lands on the next timestep visited.
    pub fn ddpm_chain(&self, spacing: Spacing, count: usize) -> Respaced {
        let mut ts = ddim_timesteps(spacing, self.len(), count);
        ts.reverse();
        Respaced::over(self, ts)
    }

    /// The chain DDIM runs with `spacing` (diffusers' `DDIMScheduler`): each step lands on
    /// timestep t − ⌊T/S⌋ (the data below 0), which is the next timestep visited for
    /// `leading` but not always for the other spacings.
    pub fn ddim_chain(&self, spacing: Spacing, count: usize) -> Respaced {
        let count = count.clamp(1, self.len());
        let mut ts = ddim_timesteps(spacing, self.len(), count);
        ts.reverse();
        let stride = self.len() / count;
        let prev = ts.iter().map(|&t| t.checked_sub(stride)).collect();
        Respaced::landing(self, ts, prev)
    }
}

#[cfg(test)]
mod tests {
    use super::super::chain::StepNoise;
    use super::super::{ScheduleKind, VarianceKind};
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
        assert_eq!(
            r.ddpm_step(VarianceKind::FixedLarge, 0).noise,
            StepNoise::None
        );
        assert_eq!(r.ddim_step(1.0, 0).sigma, 0.0);
        assert_eq!(r.ddim_step(0.0, 30).sigma, 0.0);
    }

    #[test]
    fn ddim_with_eta_one_has_the_posterior_variance() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        let r = s.spaced(10);
        for i in 1..10 {
            let sigma = r.ddim_step(1.0, i).sigma;
            let v = r.posterior_variance[i];
            assert!((sigma * sigma - v).abs() < 1e-12 * v.max(1.0), "{i}");
        }
    }

    #[test]
    fn leading_chains_are_the_evenly_spaced_chain() {
        let s = Schedule::new(ScheduleKind::Cosine, 1000).unwrap();
        for count in [1, 7, 10, 50, 1000] {
            assert_eq!(s.ddpm_chain(Spacing::Leading, count), s.spaced(count));
            assert_eq!(s.ddim_chain(Spacing::Leading, count), s.spaced(count));
        }
    }

    #[test]
    fn ddim_lands_a_stride_below_whatever_the_spacing() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        let c = s.ddim_chain(Spacing::Linspace, 10);
        assert_eq!(c.timesteps[8], 888);
        assert_eq!(c.alpha_bars_prev[8], s.alpha_bars[788]);
        assert_eq!(c.alpha_bars_prev[0], 1.0);
        let c = s.ddim_chain(Spacing::Trailing, 10);
        assert_eq!(c.timesteps[0], 99);
        assert_eq!(c.alpha_bars_prev[0], 1.0);
        let d = s.ddpm_chain(Spacing::Trailing, 10);
        assert_eq!(d.alpha_bars_prev[1], s.alpha_bars[99]);
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
}
