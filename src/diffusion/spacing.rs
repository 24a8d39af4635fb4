//! Which timesteps a sampler visits: diffusers' three timestep spacings, Karras et al.'s σ
//! spacing, and the σ-parametrised schedule (σ = √((1 − ᾱ)/ᾱ)) the Euler, Heun and
//! DPM-Solver samplers step through.
//!
//! Every function here reproduces what diffusers' schedulers compute in `set_timesteps`
//! (diffusers 0.42), including NumPy's rounding (half to even) and its `linspace` and
//! `arange` arithmetic, so that the same sampler visits the same timesteps with the same σ.
//! Timesteps are the schedule's 0-based table indices (see [`super::state_of`]), listed in
//! sampling order, t decreasing.

use super::Schedule;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How S of T timesteps are chosen (diffusers' `timestep_spacing`; Lin et al. 2023, table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Spacing {
    /// Multiples of ⌊T/S⌋ from 0: never visits the last timestep T − 1.
    Leading,
    /// Evenly from 0 to T − 1, both included (rounded, or fractional for the σ samplers).
    Linspace,
    /// Evenly down from T − 1 in steps of T/S: always starts at the last timestep.
    Trailing,
}

impl Spacing {
    pub const ALL: [Spacing; 3] = [Spacing::Leading, Spacing::Linspace, Spacing::Trailing];

    pub fn name(self) -> &'static str {
        match self {
            Spacing::Leading => "leading",
            Spacing::Linspace => "linspace",
            Spacing::Trailing => "trailing",
        }
    }

    pub fn parse(s: &str) -> Option<Spacing> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

impl fmt::Display for Spacing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// NumPy's `linspace(start, stop, num)` in f64: `start + i·step`, the last value `stop`.
fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (stop - start) / (num - 1) as f64;
            let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
            v[num - 1] = stop;
            v
        }
    }
}

/// NumPy's `arange(start, 0, -step)` for start > 0: its length ⌈start/step⌉, and the
/// values `start + i·delta` with delta = (start − step) − start, as NumPy fills them.
fn np_arange_down(start: f64, step: f64) -> Vec<f64> {
    let len = ((0.0 - start) / -step).ceil().max(0.0) as usize;
    let delta = (start - step) - start;
    (0..len).map(|i| start + i as f64 * delta).collect()
}

/// `trailing`: `round(arange(T, 0, −T/S)) − 1`. For some S (61 of T = 1000, say) NumPy's
/// rounding gives S + 1 values, the last one −1 or 0; diffusers would then visit a
/// timestep −1, and diffscope drops that extra value instead.
fn trailing(total: usize, count: usize) -> Vec<f64> {
    np_arange_down(total as f64, total as f64 / count as f64)
        .into_iter()
        .take(count)
        .map(|t| (t.round_ties_even() - 1.0).max(0.0))
        .collect()
}

/// The integer timesteps of diffusers' DDPM and DDIM schedulers (and of diffscope's DDPM
/// and DDIM since the start, which used `leading`), in sampling order. `count` is brought
/// into 1..=T.
pub fn ddim_timesteps(spacing: Spacing, total: usize, count: usize) -> Vec<usize> {
    let count = count.clamp(1, total.max(1));
    let v: Vec<f64> = match spacing {
        Spacing::Leading => {
            let ratio = total / count;
            (0..count).rev().map(|i| (i * ratio) as f64).collect()
        }
        Spacing::Linspace => np_linspace(0.0, (total - 1) as f64, count)
            .into_iter()
            .rev()
            .map(f64::round_ties_even)
            .collect(),
        Spacing::Trailing => trailing(total, count),
    };
    dedup_decreasing(v.into_iter().map(|t| t as usize).collect())
}

/// The integer timesteps of diffusers' `DPMSolverMultistepScheduler` (S + 1 points, the last
/// one, 0, dropped), in sampling order.
pub fn dpm_timesteps(spacing: Spacing, total: usize, count: usize) -> Vec<usize> {
    let count = count.clamp(1, total.max(1));
    let v: Vec<f64> = match spacing {
        Spacing::Leading => {
            let ratio = total / (count + 1);
            (1..=count).rev().map(|i| (i * ratio) as f64).collect()
        }
        Spacing::Linspace => {
            let mut v: Vec<f64> = np_linspace(0.0, (total - 1) as f64, count + 1)
                .into_iter()
                .rev()
                .map(f64::round_ties_even)
                .collect();
            v.pop();
            v
        }
        Spacing::Trailing => trailing(total, count),
    };
    dedup_decreasing(v.into_iter().map(|t| t as usize).collect())
}

/// The timesteps of diffusers' Euler, Euler ancestral and Heun schedulers, in sampling
/// order: fractional for `linspace` (NumPy's float32 values), whole numbers otherwise.
pub fn euler_timesteps(spacing: Spacing, total: usize, count: usize) -> Vec<f64> {
    let count = count.clamp(1, total.max(1));
    match spacing {
        Spacing::Leading => {
            let ratio = total / count;
            (0..count).rev().map(|i| (i * ratio) as f64).collect()
        }
        Spacing::Linspace => np_linspace(0.0, (total - 1) as f64, count)
            .into_iter()
            .rev()
            .map(|t| t as f32 as f64)
            .collect(),
        Spacing::Trailing => trailing(total, count),
    }
}

/// Repeated timesteps (only possible when S is close to T) visited once.
fn dedup_decreasing(mut v: Vec<usize>) -> Vec<usize> {
    v.dedup();
    v
}

/// Karras et al.'s σ spacing (ρ = 7) of `count` values from `sigma_max` down to `sigma_min`.
pub fn karras_sigmas(sigma_min: f64, sigma_max: f64, count: usize) -> Vec<f64> {
    const RHO: f64 = 7.0;
    let (min_inv, max_inv) = (sigma_min.powf(1.0 / RHO), sigma_max.powf(1.0 / RHO));
    np_linspace(0.0, 1.0, count)
        .into_iter()
        .map(|r| (max_inv + r * (min_inv - max_inv)).powf(RHO))
        .collect()
}

/// σ_i = √((1 − ᾱ_i)/ᾱ_i) of every timestep of the schedule (increasing with i).
pub fn schedule_sigmas(schedule: &Schedule) -> Vec<f64> {
    (0..schedule.len()).map(|i| schedule.sigma(i)).collect()
}

/// The fractional timestep of σ: linear interpolation in ln σ between the two neighbouring
/// timesteps of the schedule (diffusers' `_sigma_to_t`), clamped to the table.
pub fn sigma_to_t(sigma: f64, log_sigmas: &[f64]) -> f64 {
    let n = log_sigmas.len();
    if n < 2 {
        return 0.0;
    }
    let log_sigma = sigma.max(1e-10).ln();
    let below = log_sigmas.iter().filter(|&&l| log_sigma - l >= 0.0).count();
    let low = below.saturating_sub(1).min(n - 2);
    let (lo, hi) = (log_sigmas[low], log_sigmas[low + 1]);
    let w = ((lo - log_sigma) / (lo - hi)).clamp(0.0, 1.0);
    (1.0 - w) * low as f64 + w * (low + 1) as f64
}

/// NumPy's `interp(t, arange(len), table)`: the table linearly interpolated at `t`.
fn interp(t: f64, table: &[f64]) -> f64 {
    let last = table.len() - 1;
    if t <= 0.0 {
        return table[0];
    }
    if t >= last as f64 {
        return table[last];
    }
    let i = t.floor() as usize;
    let w = t - i as f64;
    if w == 0.0 {
        table[i]
    } else {
        table[i] + w * (table[i + 1] - table[i])
    }
}

/// What a σ-parametrised sampler steps through: the model's timestep and σ of each step, in
/// sampling order, and σ after the last step (0: the data).
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaSteps {
    /// The timestep given to the model at each step (fractional where diffusers' is).
    pub timesteps: Vec<f64>,
    /// σ at each step, then the final 0: one more than `timesteps`.
    pub sigmas: Vec<f64>,
}

impl SigmaSteps {
    /// The steps of diffusers' Euler, Euler ancestral and Heun schedulers: σ interpolated at
    /// the spaced timesteps, or, with `karras`, Karras spacing between the first and last of
    /// those and the timesteps of those σ.
    pub fn euler(schedule: &Schedule, spacing: Spacing, count: usize, karras: bool) -> SigmaSteps {
        let table = schedule_sigmas(schedule);
        let mut timesteps = euler_timesteps(spacing, schedule.len(), count);
        let mut sigmas: Vec<f64> = timesteps.iter().map(|&t| interp(t, &table)).collect();
        if karras {
            let (min, max) = (sigmas[sigmas.len() - 1], sigmas[0]);
            sigmas = karras_sigmas(min, max, sigmas.len());
            let logs: Vec<f64> = table.iter().map(|s| s.ln()).collect();
            timesteps = sigmas
                .iter()
                .map(|&s| sigma_to_t(s, &logs) as f32 as f64)
                .collect();
        }
        sigmas.push(0.0);
        SigmaSteps { timesteps, sigmas }
    }

    /// The steps of diffusers' `DPMSolverMultistepScheduler`: the schedule's σ at the spaced
    /// timesteps, or, with `karras`, Karras spacing over the schedule's whole σ range and
    /// the timesteps of those σ as whole numbers (rounded, but cut towards zero for the
    /// cosine schedule, as diffusers does for its `squaredcos_cap_v2`).
    pub fn dpm(schedule: &Schedule, spacing: Spacing, count: usize, karras: bool) -> SigmaSteps {
        let table = schedule_sigmas(schedule);
        let (timesteps, mut sigmas): (Vec<f64>, Vec<f64>) = if karras {
            let count = count.clamp(1, schedule.len());
            let sigmas = karras_sigmas(table[0], table[table.len() - 1], count);
            let logs: Vec<f64> = table.iter().map(|s| s.ln()).collect();
            let cosine = schedule.kind == super::ScheduleKind::Cosine;
            let timesteps = sigmas
                .iter()
                .map(|&s| {
                    let t = sigma_to_t(s, &logs);
                    if cosine {
                        t.trunc()
                    } else {
                        t.round_ties_even()
                    }
                })
                .collect();
            (timesteps, sigmas)
        } else {
            let ts = dpm_timesteps(spacing, schedule.len(), count);
            let sigmas = ts.iter().map(|&t| table[t]).collect();
            (ts.into_iter().map(|t| t as f64).collect(), sigmas)
        };
        sigmas.push(0.0);
        SigmaSteps { timesteps, sigmas }
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.timesteps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timesteps.is_empty()
    }
}

/// (α, σ) of the variance-preserving state at Karras σ: α = 1/√(1 + σ²), σ_vp = σ α.
pub fn vp_of(sigma: f64) -> (f64, f64) {
    let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

#[cfg(test)]
mod tests {
    use super::super::ScheduleKind;
    use super::*;

    /// The values below are what diffusers 0.42's schedulers print for T = 1000.
    #[test]
    fn spacings_visit_the_timesteps_of_diffusers() {
        assert_eq!(
            ddim_timesteps(Spacing::Leading, 1000, 10),
            vec![900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
        );
        assert_eq!(
            ddim_timesteps(Spacing::Linspace, 1000, 10),
            vec![999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
        );
        assert_eq!(
            ddim_timesteps(Spacing::Trailing, 1000, 10),
            vec![999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
        );
        assert_eq!(
            ddim_timesteps(Spacing::Trailing, 1000, 3),
            vec![999, 666, 332]
        );
        assert_eq!(
            dpm_timesteps(Spacing::Linspace, 1000, 10),
            vec![999, 899, 799, 699, 599, 500, 400, 300, 200, 100]
        );
        assert_eq!(
            dpm_timesteps(Spacing::Leading, 1000, 10),
            vec![900, 810, 720, 630, 540, 450, 360, 270, 180, 90]
        );
        assert_eq!(
            dpm_timesteps(Spacing::Trailing, 1000, 4),
            vec![999, 749, 499, 249]
        );
        let e = euler_timesteps(Spacing::Linspace, 1000, 4);
        assert_eq!(e, vec![999.0, 666.0, 333.0, 0.0]);
        let e = euler_timesteps(Spacing::Linspace, 1000, 7);
        assert_eq!(e[1], 832.5f32 as f64);
        assert_eq!(e[6], 0.0);
    }

    #[test]
    fn every_step_of_the_schedule_is_visited_once_at_most() {
        for s in Spacing::ALL {
            let v = dpm_timesteps(s, 50, 50);
            assert!(v.windows(2).all(|w| w[0] > w[1]), "{s}: {v:?}");
            let v = ddim_timesteps(s, 50, 50);
            assert!(v.windows(2).all(|w| w[0] > w[1]), "{s}: {v:?}");
        }
    }

    #[test]
    fn karras_runs_from_the_largest_to_the_smallest_sigma() {
        let k = karras_sigmas(0.01, 80.0, 5);
        assert!((k[0] - 80.0).abs() < 1e-9 && (k[4] - 0.01).abs() < 1e-12);
        assert!(k.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn sigma_to_t_inverts_the_table() {
        let s = Schedule::new(ScheduleKind::Linear, 1000).unwrap();
        let table = schedule_sigmas(&s);
        let logs: Vec<f64> = table.iter().map(|x| x.ln()).collect();
        for t in [0usize, 1, 17, 500, 998, 999] {
            assert!((sigma_to_t(table[t], &logs) - t as f64).abs() < 1e-9, "{t}");
        }
        let mid = ((table[10].ln() + table[11].ln()) / 2.0).exp();
        assert!((sigma_to_t(mid, &logs) - 10.5).abs() < 1e-9);
        assert_eq!(sigma_to_t(1e-9, &logs), 0.0);
        assert_eq!(sigma_to_t(1e9, &logs), 999.0);
    }

    #[test]
    fn the_sigma_steps_end_at_the_data() {
        let s = Schedule::new(ScheduleKind::Cosine, 1000).unwrap();
        for karras in [false, true] {
            let e = SigmaSteps::euler(&s, Spacing::Linspace, 10, karras);
            assert_eq!(e.len(), 10);
            assert_eq!(e.sigmas.len(), 11);
            assert_eq!(e.sigmas[10], 0.0);
            assert!(e.sigmas.windows(2).all(|w| w[0] > w[1]));
            let d = SigmaSteps::dpm(&s, Spacing::Linspace, 10, karras);
            assert_eq!(d.len(), 10);
            assert!(d.sigmas.windows(2).all(|w| w[0] > w[1]));
        }
        let (a, sv) = vp_of(2.0);
        assert!((a * a + sv * sv - 1.0).abs() < 1e-15);
    }
}
