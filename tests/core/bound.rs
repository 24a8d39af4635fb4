//! The variational bound checked against exact answers: for Gaussian data N(μ, s² I) the
//! exact noise predictor is known in closed form, so is the data's negative log-likelihood,
//! and so is the expectation of every term of the bound. The bound must never be below the
//! NLL, must come within 0.05 nats/dim of it at T = 1000 (with σ_t² = β_t), and the
//! Monte-Carlo estimate must agree with the exact bound.

use crate::common::process_lock;
use diffscope::diffusion::bound::{BoundError, Decoder};
use diffscope::diffusion::{Diffusion, Prediction, Schedule, ScheduleKind, VarianceKind};
use diffscope::eval::likelihood::{evaluate_bound, BoundOptions, Figure};
use tch::{Device, Kind, Tensor};

const MU: f64 = 0.5;
const S2: f64 = 0.25;
const DIM: i64 = 2;

fn diffusion(kind: ScheduleKind, t: usize, variance: VarianceKind) -> Diffusion {
    Diffusion::new(
        Schedule::new(kind, t).unwrap(),
        Prediction::Epsilon,
        variance,
        Device::Cpu,
    )
}

/// The exact ε predictor of N(μ, s² I) data, per item's timestep:
/// E[ε | x_t] = √(1−ᾱ_t) (x_t − √ᾱ_t μ) / (ᾱ_t s² + 1 − ᾱ_t).
fn oracle(d: &Diffusion, mu: f64, s2: f64) -> impl FnMut(&Tensor, &Tensor) -> Tensor {
    let ab = Tensor::from_slice(&d.schedule.alpha_bars);
    move |x: &Tensor, t: &Tensor| {
        let a = ab.index_select(0, t).reshape([-1, 1]);
        let b: Tensor = 1.0 - &a;
        let out = (x - a.sqrt() * mu) * b.sqrt() / (&a * s2 + &b);
        out.to_kind(Kind::Float)
    }
}

/// The expected bound per dimension, term by term, in f64: (L_T, Σ KL, L_0).
fn expected_bound(d: &Diffusion, mu: f64, s2: f64) -> (f64, f64, f64) {
    let s = &d.schedule;
    let n = s.len();
    // Var(x_0 | x_t) for Gaussian data
    let cond_var = |t: usize| {
        let (a, b) = (s.alpha_bars[t], 1.0 - s.alpha_bars[t]);
        s2 * b / (a * s2 + b)
    };
    let mut middle = 0.0;
    for t in 1..n {
        // posterior N(μ̃, β̃_t) against model N(μ̂, σ_t²); μ̃ − μ̂ = c0 (x_0 − x̂_0)
        let lq = s.posterior_log_variance_clipped[t];
        let lp = s.model_log_variance(d.variance(), t).at(0.0);
        let c0 = s.posterior_mean_coef_x0[t];
        middle += 0.5 * (lp - lq + (lq - lp).exp() - 1.0 + c0 * c0 * cond_var(t) * (-lp).exp());
    }
    let lv0 = s.continuous_decoder_log_variance(d.variance()).at(0.0);
    // the posterior coefficient of x_0 at t = 0 is 1, so x_0 − μ̂ = x_0 − x̂_0
    let decoder = 0.5 * ((2.0 * std::f64::consts::PI).ln() + lv0) + cond_var(0) / (2.0 * lv0.exp());
    let (a, b) = (s.alpha_bars[n - 1], 1.0 - s.alpha_bars[n - 1]);
    let prior = 0.5 * (-b.ln() + b + a * (s2 + mu * mu) - 1.0);
    (prior, middle, decoder)
}

/// The data and each item's exact NLL per dimension.
fn gaussian_data(n: i64, seed: i64) -> (Tensor, Vec<f64>) {
    tch::manual_seed(seed);
    let x0 = Tensor::randn([n, DIM], (Kind::Float, Device::Cpu)) * S2.sqrt() + MU;
    let z2 = ((&x0 - MU).square() / S2).mean_dim(1, false, Kind::Double);
    let nll: Vec<f64> =
        Vec::try_from(z2 * 0.5 + 0.5 * (2.0 * std::f64::consts::PI * S2).ln()).unwrap();
    (x0, nll)
}

fn run(d: &Diffusion, x0: &Tensor, estimate: Option<usize>) -> (Figure, [f64; 3]) {
    let mut model = oracle(d, MU, S2);
    let opts = BoundOptions {
        batch: 1000,
        estimate,
        decoder: Decoder::Gaussian,
    };
    tch::manual_seed(7);
    let r = evaluate_bound(d, &mut model, x0, &opts, &mut |_, _| {}).unwrap();
    (r.total, [r.prior.mean, r.middle.mean, r.decoder.mean])
}

/// Runs the exact bound and returns per-item totals too.
fn exact_items(d: &Diffusion, x0: &Tensor) -> (Vec<f64>, [f64; 3]) {
    let mut model = oracle(d, MU, S2);
    tch::manual_seed(7);
    let b = d
        .bound_terms(&mut model, x0, Decoder::Gaussian, &mut |_, _| {})
        .unwrap();
    let n = b.prior.len();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let middle: Vec<f64> = (0..n)
        .map(|i| b.terms[1..].iter().map(|r| r[i]).sum())
        .collect();
    (
        b.totals(),
        [mean(&b.prior), mean(&middle), mean(&b.terms[0])],
    )
}

#[test]
fn exact_bound_is_tight_for_gaussian_data_with_fixed_large_variance() {
    let _rng = process_lock();
    let d = diffusion(ScheduleKind::Linear, 1000, VarianceKind::FixedLarge);
    let (x0, nll) = gaussian_data(16000, 1);
    let (totals, parts) = exact_items(&d, &x0);
    let gaps: Vec<f64> = totals.iter().zip(&nll).map(|(b, l)| b - l).collect();
    let gap = Figure::of(&gaps);
    let bound = Figure::of(&totals);
    let exact = Figure::of(&nll);
    let (ep, em, ed) = expected_bound(&d, MU, S2);
    let analytic_nll = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * S2).ln();
    println!(
        "T=1000 linear, σ²=β: bound {:.4} ± {:.4} nats/dim, exact NLL {:.4} (expected {analytic_nll:.4}); \
         bound − NLL {:.4} ± {:.4} (expected {:.4})",
        bound.mean,
        bound.se,
        exact.mean,
        gap.mean,
        gap.se,
        ep + em + ed - analytic_nll
    );
    println!(
        "  split: L_T {:.5} (expected {ep:.5}), KL sum {:.4} (expected {em:.4}), L_0 {:.4} (expected {ed:.4})",
        parts[0], parts[1], parts[2]
    );
    assert!(
        gap.mean >= -3.0 * gap.se,
        "the bound is below the NLL: {gap:?}"
    );
    assert!(
        gap.mean <= 0.05,
        "the bound is not within 0.05 nats/dim: {gap:?}"
    );
    // every part agrees with its closed-form expectation
    let se = bound.se.max(1e-3);
    assert!((parts[0] - ep).abs() < 1e-4, "L_T");
    assert!((parts[1] - em).abs() < 4.0 * se, "KL sum");
    assert!((parts[2] - ed).abs() < 4.0 * se, "L_0");
}

#[test]
fn fixed_small_variance_gives_a_valid_but_looser_bound() {
    let _rng = process_lock();
    // With σ_t² = β̃_t the reverse steps are too narrow where the schedule is coarse (the
    // first steps, where the SNR halves from one step to the next): the bound stays valid but
    // is about 0.57 nats/dim above the NLL at T = 1000 (s² = 0.25), as the closed form predicts.
    let d = diffusion(ScheduleKind::Linear, 1000, VarianceKind::FixedSmall);
    let (x0, nll) = gaussian_data(4000, 2);
    let (totals, parts) = exact_items(&d, &x0);
    let gaps: Vec<f64> = totals.iter().zip(&nll).map(|(b, l)| b - l).collect();
    let gap = Figure::of(&gaps);
    let (ep, em, ed) = expected_bound(&d, MU, S2);
    let analytic_nll = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * S2).ln();
    let expected_gap = ep + em + ed - analytic_nll;
    println!(
        "T=1000 linear, σ²=β̃: bound − NLL {:.4} ± {:.4} nats/dim (expected {expected_gap:.4}); \
         KL sum {:.4} (expected {em:.4}), L_0 {:.4} (expected {ed:.4})",
        gap.mean, gap.se, parts[1], parts[2]
    );
    assert!(gap.mean >= -3.0 * gap.se);
    assert!((gap.mean - expected_gap).abs() < 4.0 * gap.se.max(1e-3));
}

/// The exact predictor with a learned variance: the ε output, then v(t) for every
/// coordinate.
fn learned_oracle(
    d: &Diffusion,
    v: impl Fn(usize) -> f64,
) -> impl FnMut(&Tensor, &Tensor) -> Tensor {
    let mut eps = oracle(d, MU, S2);
    let vs: Vec<f32> = (0..d.steps()).map(|t| v(t) as f32).collect();
    let vs = Tensor::from_slice(&vs);
    move |x: &Tensor, t: &Tensor| {
        let v = vs.index_select(0, t).reshape([-1, 1]).expand_as(x);
        Tensor::cat(&[eps(x, t), v], 1)
    }
}

fn exact_total(
    d: &Diffusion,
    model: &mut dyn FnMut(&Tensor, &Tensor) -> Tensor,
    x0: &Tensor,
) -> f64 {
    tch::manual_seed(7);
    let b = d
        .bound_terms(model, x0, Decoder::Gaussian, &mut |_, _| {})
        .unwrap();
    let t = b.totals();
    t.iter().sum::<f64>() / t.len() as f64
}

#[test]
fn a_learned_variance_spans_the_fixed_ones_and_its_best_is_tighter_than_both() {
    let _rng = process_lock();
    let (x0, nll) = gaussian_data(2000, 5);
    let nll = nll.iter().sum::<f64>() / nll.len() as f64;
    let small = diffusion(ScheduleKind::Linear, 1000, VarianceKind::FixedSmall);
    let large = diffusion(ScheduleKind::Linear, 1000, VarianceKind::FixedLarge);
    let learned = diffusion(ScheduleKind::Linear, 1000, VarianceKind::Learned);
    let b_small = exact_total(&small, &mut oracle(&small, MU, S2), &x0);
    let b_large = exact_total(&large, &mut oracle(&large, MU, S2), &x0);
    // v = −1 is β̃ everywhere, v = 1 is β (with the decoder's σ_1² = β_1, as fixed-large
    // scores continuous data), from the same noise: the same bound to rounding
    let at_small = exact_total(&learned, &mut learned_oracle(&learned, |_| -1.0), &x0);
    let at_large = exact_total(&learned, &mut learned_oracle(&learned, |_| 1.0), &x0);
    // The best variance of each step for N(μ, s²) data: σ² = β̃_t + c0² Var(x_0 | x_t),
    // where c0 is the posterior mean's coefficient of x_0.
    let s = &learned.schedule;
    let best = |t: usize| {
        let (a, b) = (s.alpha_bars[t], 1.0 - s.alpha_bars[t]);
        let cond_var = S2 * b / (a * S2 + b);
        let c0 = s.posterior_mean_coef_x0[t];
        let (lo, hi) = (s.posterior_log_variance_clipped[t], s.betas[t].ln());
        let target = if t == 0 {
            cond_var.ln()
        } else {
            (s.posterior_variance[t] + c0 * c0 * cond_var).ln()
        };
        (2.0 * (target - lo) / (hi - lo) - 1.0).clamp(-1.0, 1.0)
    };
    let b_best = exact_total(&learned, &mut learned_oracle(&learned, best), &x0);
    println!(
        "T=1000 linear, nats/dim: fixed-small {b_small:.4} (learned at v = −1: {at_small:.4}), \
         fixed-large {b_large:.4} (learned at v = 1: {at_large:.4}), learned at its best \
         {b_best:.4}, NLL {nll:.4}"
    );
    assert!((at_small - b_small).abs() < 1e-4, "{at_small} vs {b_small}");
    assert!((at_large - b_large).abs() < 1e-4, "{at_large} vs {b_large}");
    assert!(b_best < b_large && b_best < b_small);
    assert!(
        b_best >= nll - 0.01,
        "a bound below the NLL: {b_best} < {nll}"
    );
}

#[test]
fn monte_carlo_estimate_agrees_with_the_exact_bound() {
    let _rng = process_lock();
    let d = diffusion(ScheduleKind::Cosine, 1000, VarianceKind::FixedLarge);
    let (x0, _) = gaussian_data(2000, 3);
    let (ep, em, ed) = expected_bound(&d, MU, S2);
    let expected = ep + em + ed;
    let (exact, _) = run(&d, &x0, None);
    let (est, parts) = run(&d, &x0, Some(50));
    println!(
        "T=1000 cosine, σ²=β: exact {:.4} ± {:.4}, estimate (K=50) {:.4} ± {:.4}, expected {expected:.4} nats/dim; \
         estimate split L_T {:.5} KL {:.4} L_0 {:.4}",
        exact.mean, exact.se, est.mean, est.se, parts[0], parts[1], parts[2]
    );
    assert!((exact.mean - expected).abs() < 4.0 * exact.se);
    assert!((est.mean - expected).abs() < 4.0 * est.se);
    assert!(
        est.se > exact.se,
        "an estimate cannot be less noisy than the exact bound"
    );
}

#[test]
fn a_nan_from_the_model_is_reported_with_its_timestep() {
    let _rng = process_lock();
    let d = diffusion(ScheduleKind::Linear, 100, VarianceKind::FixedSmall);
    let (x0, _) = gaussian_data(64, 4);
    let mut inner = oracle(&d, MU, S2);
    let mut model = |x: &Tensor, t: &Tensor| {
        let out = inner(x, t);
        let bad = t.eq(37).reshape([-1, 1]);
        out.where_self(&bad.logical_not(), &out.full_like(f64::NAN))
    };
    let err = d
        .bound_terms(&mut model, &x0, Decoder::Gaussian, &mut |_, _| {})
        .unwrap_err();
    println!("exact: {err}");
    assert!(matches!(err, BoundError::NanOutput { t: 37 }), "{err:?}");
    assert!(err.to_string().contains("t=37"));
    // the estimate draws t at random: with 2000 draws over 99 timesteps it meets t = 37
    tch::manual_seed(5);
    let err = d
        .bound_estimate(
            &mut model,
            &x0,
            2000 / 64 + 1,
            Decoder::Gaussian,
            &mut |_, _| {},
        )
        .unwrap_err();
    println!("estimate: {err}");
    assert!(matches!(err, BoundError::NanOutput { t: 37 }), "{err:?}");
}

#[test]
fn discretised_decoder_bounds_the_nll_of_8_bit_data() {
    let _rng = process_lock();
    // 8-bit data: a Gaussian quantised to the 256 levels of [−1, 1]. The bound in bits/dim
    // must be at least the data's exact discrete NLL (cross-entropy ≥ entropy for any model;
    // the exact continuous predictor is a good but not perfect model here).
    let (mu, s2) = (0.1f64, 0.09f64);
    let d = diffusion(ScheduleKind::Linear, 1000, VarianceKind::FixedLarge);
    tch::manual_seed(6);
    let n = 2000i64;
    let raw = Tensor::randn([n, 4], (Kind::Double, Device::Cpu)) * s2.sqrt() + mu;
    let levels = ((raw + 1.0) * 127.5).round().clamp(0.0, 255.0);
    let x0 = (&levels / 127.5 - 1.0).to_kind(Kind::Float);
    // exact P(level) under the quantised Gaussian, with open-ended edge bins
    let cdf = |z: &Tensor| (z * -std::f64::consts::FRAC_1_SQRT_2).erfc() * 0.5;
    let lo = ((&levels - 0.5) / 127.5 - 1.0 - mu) / s2.sqrt();
    let hi = ((&levels + 0.5) / 127.5 - 1.0 - mu) / s2.sqrt();
    let p_hi = cdf(&hi).where_self(&levels.lt(255.0), &hi.ones_like());
    let p_lo = cdf(&lo).where_self(&levels.gt(0.0), &lo.zeros_like());
    let nll_bits: Vec<f64> = Vec::try_from(
        -(p_hi - p_lo).log().mean_dim(1, false, Kind::Double) / std::f64::consts::LN_2,
    )
    .unwrap();
    let exact = Figure::of(&nll_bits);
    let mut model = oracle(&d, mu, s2);
    tch::manual_seed(7);
    let opts = BoundOptions {
        batch: 1000,
        estimate: None,
        decoder: Decoder::Discretized,
    };
    let r = evaluate_bound(&d, &mut model, &x0, &opts, &mut |_, _| {}).unwrap();
    let bound = r.total.scaled(r.unit);
    let dec = r.decoder.scaled(r.unit);
    println!(
        "8-bit Gaussian data: bound {:.4} ± {:.4} bits/dim, exact NLL {:.4} ± {:.4} bits/dim, L_0 {:.4} bits/dim",
        bound.mean, bound.se, exact.mean, exact.se, dec.mean
    );
    assert_eq!(r.unit.name(), "bits/dim");
    assert!(bound.mean >= exact.mean - 3.0 * (bound.se + exact.se));
    assert!(bound.mean <= exact.mean + 0.5, "far too loose");
}
