//! Noise schedules: how β_t grows with t, and the chain of all T steps that a schedule's β
//! define (improved-diffusion's base `GaussianDiffusion`).
//!
//! Timesteps are counted from 0, as in diffusers: index `t` here produces the state
//! [`state_of`]`(t)` of the seed note, whose states run 0..=T. So
//! `alpha_bars[0] = α_1` and `alpha_bars[T-1] = ᾱ_T`.

use super::chain::Chain;
use super::{state_of, DiffusionError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The largest β any schedule may produce (as in improved-diffusion).
pub const MAX_BETA: f64 = 0.999;

/// How β_t grows with t.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ScheduleKind {
    /// β from 1e-4 to 0.02 at T = 1000, both scaled by 1000/T (Ho et al. 2020).
    #[default]
    Linear,
    /// ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s) · π/2), s = 0.008 (Nichol & Dhariwal 2021).
    Cosine,
    /// β follows a sigmoid over [−6, 6] between the linear schedule's end points.
    Sigmoid,
    /// √β is linear between the linear schedule's √end points ("scaled linear").
    Quadratic,
}

impl ScheduleKind {
    pub const ALL: [ScheduleKind; 4] = [
        ScheduleKind::Linear,
        ScheduleKind::Cosine,
        ScheduleKind::Sigmoid,
        ScheduleKind::Quadratic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScheduleKind::Linear => "linear",
            ScheduleKind::Cosine => "cosine",
            ScheduleKind::Sigmoid => "sigmoid",
            ScheduleKind::Quadratic => "quadratic",
        }
    }

    pub fn parse(s: &str) -> Option<ScheduleKind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

impl FromStr for ScheduleKind {
    type Err = DiffusionError;

    fn from_str(s: &str) -> Result<ScheduleKind, DiffusionError> {
        ScheduleKind::parse(s).ok_or_else(|| DiffusionError::UnknownSchedule { name: s.into() })
    }
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The errors of building a schedule (the diffusion core's error type).
pub type ScheduleError = DiffusionError;

/// A noise schedule: its kind and the tables of the chain that visits every one of its T
/// steps (index t = 0..T−1, see [`super::state_of`]), with β exactly as the kind gives it
/// and ᾱ their running product. The tables ([`Chain`]'s fields and methods: `betas`,
/// `alpha_bars`, the posterior, the variance choices) are reached through `Deref`.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub kind: ScheduleKind,
    chain: Chain,
}

impl std::ops::Deref for Schedule {
    type Target = Chain;

    fn deref(&self) -> &Chain {
        &self.chain
    }
}

impl Schedule {
    pub fn new(kind: ScheduleKind, steps: usize) -> Result<Schedule, ScheduleError> {
        if steps == 0 {
            return Err(DiffusionError::ZeroSteps(steps));
        }
        let betas = match kind {
            ScheduleKind::Linear => {
                let (start, end) = scaled_endpoints(steps);
                linspace(start, end, steps)
            }
            ScheduleKind::Quadratic => {
                let (start, end) = scaled_endpoints(steps);
                linspace(start.sqrt(), end.sqrt(), steps)
                    .into_iter()
                    .map(|b| b * b)
                    .collect()
            }
            ScheduleKind::Sigmoid => {
                let (start, end) = scaled_endpoints(steps);
                linspace(-6.0, 6.0, steps)
                    .into_iter()
                    .map(|x| start + (end - start) / (1.0 + (-x).exp()))
                    .collect()
            }
            ScheduleKind::Cosine => cosine_betas(steps, 0.008),
        };
        Self::from_betas(kind, betas)
    }

    /// Builds every table from β (each β is clipped to [1e-12, MAX_BETA]). At least one β,
    /// and none NaN.
    pub fn from_betas(kind: ScheduleKind, betas: Vec<f64>) -> Result<Schedule, ScheduleError> {
        if betas.is_empty() {
            return Err(DiffusionError::ZeroSteps(0));
        }
        if let Some((index, &value)) = betas.iter().enumerate().find(|(_, b)| b.is_nan()) {
            return Err(DiffusionError::NonFiniteBeta { index, value });
        }
        let betas: Vec<f64> = betas
            .into_iter()
            .map(|b| b.clamp(1e-12, MAX_BETA))
            .collect();
        let mut alpha_bars = Vec::with_capacity(betas.len());
        let mut acc = 1.0;
        for b in &betas {
            acc *= 1.0 - b;
            alpha_bars.push(acc);
        }
        Ok(Schedule {
            kind,
            chain: Chain::new(betas, alpha_bars),
        })
    }
}

/// β end points of the linear family, scaled so that T steps add as much noise as 1000.
fn scaled_endpoints(steps: usize) -> (f64, f64) {
    let scale = 1000.0 / steps as f64;
    (scale * 1e-4, scale * 0.02)
}

fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f64;
    (0..n).map(|i| start + step * i as f64).collect()
}

/// β_i = 1 − ᾱ(t + 1)/ᾱ(t) for the step at index i, which goes from state t = i to state
/// [`state_of`]`(i)`, with ᾱ(t) = f(t)/f(0).
fn cosine_betas(steps: usize, s: f64) -> Vec<f64> {
    let f = |t: f64| {
        let x = (t / steps as f64 + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2;
        x.cos().powi(2)
    };
    (0..steps)
        .map(|i| {
            let (t1, t2) = (i as f64, state_of(i) as f64);
            (1.0 - f(t2) / f(t1)).min(MAX_BETA)
        })
        .collect()
}

/// `count` timesteps spaced evenly over 0..T, in increasing order ("leading" spacing):
/// 50 steps over T = 1000 gives 0, 20, …, 980. `count` is brought into 1..=T.
pub fn spaced_timesteps(total: usize, count: usize) -> Vec<usize> {
    let count = count.clamp(1, total.max(1));
    let stride = total / count;
    (0..count).map(|i| i * stride).collect()
}

#[cfg(test)]
mod tests {
    use super::super::chain::{LogVariance, StepNoise};
    use super::super::VarianceKind;
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-12)
    }

    #[test]
    fn linear_matches_diffusers_reference() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        println!(
            "linear T=1000: abar0={} abar499={} abar999={:e} bt487={} bt999={}",
            s.alpha_bars[0],
            s.alpha_bars[499],
            s.alpha_bars[999],
            s.posterior_variance[487],
            s.posterior_variance[999]
        );
        assert!(close(s.alpha_bars[0], 0.99990, 1e-5));
        assert!(close(s.alpha_bars[499], 0.078587, 1e-4));
        assert!(close(s.alpha_bars[999], 4.0358e-5, 1e-4));
        assert!(close(s.posterior_variance[487], 0.0097915, 1e-4));
        assert!(close(s.posterior_variance[999], 0.0199999, 1e-5));
    }

    #[test]
    fn cosine_matches_reference_and_is_not_integer_divided() {
        let s = Schedule::new(ScheduleKind::Cosine, 1000).unwrap();
        println!(
            "cosine T=1000: b0={:e} b500={} b999={} abar499={}",
            s.betas[0], s.betas[500], s.betas[999], s.alpha_bars[499]
        );
        assert!(close(s.betas[0], 4.1284e-5, 1e-3));
        assert!(close(s.betas[500], 0.0031557, 1e-3));
        assert!(close(s.betas[999], 0.999, 1e-9));
        assert!(close(s.alpha_bars[499], 0.49384, 1e-4));
        assert!(s.betas.iter().all(|&b| b > 0.0));
    }

    #[test]
    fn every_kind_is_valid_for_small_and_large_t() {
        for kind in ScheduleKind::ALL {
            for steps in [1usize, 2, 10, 1000, 4000] {
                let s = Schedule::new(kind, steps).unwrap();
                assert_eq!(s.len(), steps);
                assert!(
                    s.betas.iter().all(|&b| b > 0.0 && b <= MAX_BETA),
                    "{kind} {steps}"
                );
                assert!(
                    s.alpha_bars.windows(2).all(|w| w[1] < w[0]),
                    "{kind} {steps}"
                );
                assert!(s
                    .posterior_log_variance_clipped
                    .iter()
                    .all(|v| v.is_finite()));
                assert_eq!(s.posterior_variance[0], 0.0);
            }
        }
    }

    #[test]
    fn zero_steps_is_an_error() {
        let e = Schedule::new(ScheduleKind::Linear, 0).unwrap_err();
        assert!(matches!(e, DiffusionError::ZeroSteps(0)));
        assert!(e.to_string().contains("at least 1"), "{e}");
        assert!(matches!(
            Schedule::from_betas(ScheduleKind::Linear, vec![]),
            Err(DiffusionError::ZeroSteps(0))
        ));
        assert!(matches!(
            Schedule::from_betas(ScheduleKind::Linear, vec![0.1, f64::NAN]),
            Err(DiffusionError::NonFiniteBeta { index: 1, .. })
        ));
    }

    #[test]
    fn schedule_names_parse_and_an_unknown_one_is_named() {
        for kind in ScheduleKind::ALL {
            assert_eq!(kind.name().parse::<ScheduleKind>().unwrap(), kind);
        }
        let e = "cosin".parse::<ScheduleKind>().unwrap_err();
        assert!(matches!(&e, DiffusionError::UnknownSchedule { name } if name == "cosin"));
        assert!(e.to_string().contains("unknown schedule \"cosin\""), "{e}");
    }

    #[test]
    fn first_log_variance_comes_from_step_one() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        assert_eq!(
            s.posterior_log_variance_clipped[0],
            s.posterior_variance[1].ln()
        );
        assert_eq!(
            s.posterior_log_variance_clipped[5],
            s.posterior_variance[5].ln()
        );
    }

    #[test]
    fn ddim_spacing_matches_diffusers() {
        let ts = spaced_timesteps(1000, 50);
        assert_eq!(ts.len(), 50);
        assert_eq!(ts[0], 0);
        assert_eq!(ts[1], 20);
        assert_eq!(ts[49], 980);
        assert_eq!(spaced_timesteps(10, 10), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_log_variance_of_the_bound_comes_from_one_table() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        let (small, large) = (VarianceKind::FixedSmall, VarianceKind::FixedLarge);
        let fixed = |lv: LogVariance| match lv {
            LogVariance::Fixed(v) => v,
            LogVariance::Between { .. } => f64::NAN,
        };
        assert_eq!(
            fixed(s.model_log_variance(small, 0)),
            s.posterior_variance[1].ln()
        );
        assert_eq!(
            s.model_log_variance(large, 0),
            s.model_log_variance(small, 0)
        );
        assert_eq!(fixed(s.model_log_variance(large, 7)), s.betas[7].ln());
        assert_eq!(
            fixed(s.continuous_decoder_log_variance(large)),
            s.betas[0].ln()
        );
        assert_eq!(
            s.ddpm_step(large, 7).noise,
            StepNoise::Fixed(s.betas[7].sqrt())
        );
        assert_eq!(
            s.ddpm_step(small, 7).noise,
            StepNoise::Fixed(s.posterior_variance[7].sqrt())
        );
    }
}
