//! DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of
//! Diffusion Probabilistic Models"): multistep solvers of the diffusion ODE (and SDE) in
//! λ = ln(α/σ), built on the model's data prediction x̂_0, as diffusers'
//! `DPMSolverMultistepScheduler` runs them with `algorithm_type` `dpmsolver++` (2M, 3M) or
//! `sde-dpmsolver++` (2M SDE), `solver_type` `midpoint`, `lower_order_final` and a final σ
//! of 0.
//!
//! The solver works on the variance-preserving x_t = α x_0 + σ ε; the steps' σ come from
//! [`SigmaSteps::dpm`]. With h = λ_t − λ_s, the first-order step is
//! x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) x̂_0 (DDIM), and the multistep orders add
//! differences of the previous x̂_0. The first steps and the last (and, below 15 steps,
//! the last two) use lower orders, as diffusers does. The SDE variant draws fresh noise
//! at every step, the last included, in the order diffusers draws it.

use super::sampler::{Model, SampleOptions, SamplerKind, StepView};
use super::spacing::{vp_of, SigmaSteps};
use super::Diffusion;
use tch::Tensor;

/// λ = ln α − ln σ at Karras σ (+∞ at σ = 0).
fn lambda(sigma: f64) -> f64 {
    let (a, s) = vp_of(sigma);
    a.ln() - s.ln()
}

/// The coefficients of one update x' = c_x x + c_0 D0 + c_1 D1 + c_2 D2 + c_z z, where
/// D0 = x̂_0 of this step and D1, D2 the differences of the earlier ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DpmUpdate {
    pub order: usize,
    pub c_x: f64,
    pub c_0: f64,
    pub c_1: f64,
    pub c_2: f64,
    pub c_z: f64,
    /// r0 = h_0/h and r1 = h_1/h, which scale the differences into D1 and D2.
    pub r0: f64,
    pub r1: f64,
}

/// The update from `sigmas[i]` to `sigmas[i + 1]` of the given order, in f64 (diffusers'
/// `dpm_solver_first_order_update` and `multistep_dpm_solver_{second,third}_order_update`).
pub(crate) fn dpm_update(sigmas: &[f64], i: usize, order: usize, sde: bool) -> DpmUpdate {
    let (alpha_t, sigma_t) = vp_of(sigmas[i + 1]);
    let (_, sigma_s0) = vp_of(sigmas[i]);
    let lambda_t = lambda(sigmas[i + 1]);
    let lambda_s0 = lambda(sigmas[i]);
    let h = lambda_t - lambda_s0;
    let e = (-h).exp();
    let e2 = (-2.0 * h).exp();
    let mut u = DpmUpdate {
        order,
        c_x: 0.0,
        c_0: 0.0,
        c_1: 0.0,
        c_2: 0.0,
        c_z: 0.0,
        r0: 1.0,
        r1: 1.0,
    };
    if sde {
        u.c_x = sigma_t / sigma_s0 * e;
        u.c_0 = alpha_t * (1.0 - e2);
        u.c_z = sigma_t * (1.0 - e2).sqrt();
    } else {
        u.c_x = sigma_t / sigma_s0;
        u.c_0 = -(alpha_t * (e - 1.0));
    }
    if order >= 2 {
        let lambda_s1 = lambda(sigmas[i - 1]);
        u.r0 = (lambda_s0 - lambda_s1) / h;
        u.c_1 = if sde {
            0.5 * (alpha_t * (1.0 - e2))
        } else {
            -0.5 * (alpha_t * (e - 1.0))
        };
    }
    if order >= 3 {
        let (lambda_s1, lambda_s2) = (lambda(sigmas[i - 1]), lambda(sigmas[i - 2]));
        u.r1 = (lambda_s1 - lambda_s2) / h;
        // the third-order step's own D1 coefficient (not the midpoint one above)
        u.c_1 = alpha_t * ((e - 1.0) / h + 1.0);
        u.c_2 = -(alpha_t * ((e - 1.0 + h) / (h * h) - 0.5));
    }
    u
}

/// The order diffusers' scheduler takes at step i of `of` after `lower` steps of lower
/// order: first order to start and at the last step (its σ is 0), second order while the
/// history is short and, below 15 steps, at the last but one.
pub(crate) fn solver_order(max: usize, i: usize, of: usize, lower: usize) -> usize {
    let lower_final = i + 1 == of;
    let lower_second = i + 2 == of && of < 15;
    if max == 1 || lower < 1 || lower_final {
        1
    } else if max == 2 || lower < 2 || lower_second {
        2
    } else {
        3
    }
}

impl Diffusion {
    /// DPM-Solver++ 2M, 3M or 2M SDE from x_T.
    pub(crate) fn sample_dpm_solver(
        &self,
        model: &mut Model,
        mut x: Tensor,
        opts: &SampleOptions,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let steps = SigmaSteps::dpm(&self.schedule, opts.spacing(), opts.steps, opts.karras);
        let max_order = if opts.sampler == SamplerKind::Dpmpp3m {
            3
        } else {
            2
        };
        let sde = opts.sampler == SamplerKind::Dpmpp2mSde;
        let of = steps.len();
        // x̂_0 of this step and the ones before it, newest last
        let mut history: Vec<Tensor> = Vec::with_capacity(max_order + 1);
        let mut lower = 0;
        for i in 0..of {
            let time = steps.timesteps[i];
            let (alpha, sigma) = vp_of(steps.sigmas[i]);
            let out = self.evaluate_at(model, &x, time);
            let x0 = self.x0_at(&out, &x, alpha, sigma, opts.clip_x0);
            observe(StepView::at_sigma(
                (i, of),
                time,
                steps.sigmas[i],
                self.steps(),
                &x,
                &x0,
            ));
            history.push(x0);
            if history.len() > max_order {
                drop(history.remove(0));
            }
            let noise = sde.then(|| Tensor::randn_like(&x));
            let order = solver_order(max_order, i, of, lower);
            let u = dpm_update(&steps.sigmas, i, order, sde);
            let k = history.len();
            let m0 = &history[k - 1];
            let mut next = &x * u.c_x + m0 * u.c_0;
            if order == 2 {
                let d1 = (m0 - &history[k - 2]) * (1.0 / u.r0);
                next += d1 * u.c_1;
            } else if order == 3 {
                let (m1, m2) = (&history[k - 2], &history[k - 3]);
                let d1_0 = (m0 - m1) * (1.0 / u.r0);
                let d1_1 = (m1 - m2) * (1.0 / u.r1);
                let diff = &d1_0 - &d1_1;
                let d1 = &d1_0 + &diff * (u.r0 / (u.r0 + u.r1));
                let d2 = diff * (1.0 / (u.r0 + u.r1));
                next += d1 * u.c_1 + d2 * u.c_2;
            }
            if let Some(z) = noise {
                next += z * u.c_z;
            }
            x = next;
            if lower < max_order {
                lower += 1;
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_rise_then_fall_as_in_diffusers() {
        let orders: Vec<usize> = (0..10).map(|i| solver_order(3, i, 10, i.min(3))).collect();
        assert_eq!(orders, vec![1, 2, 3, 3, 3, 3, 3, 3, 2, 1]);
        let orders: Vec<usize> = (0..20).map(|i| solver_order(3, i, 20, i.min(3))).collect();
        assert_eq!(orders[17..], [3, 3, 1]);
        let orders: Vec<usize> = (0..5).map(|i| solver_order(2, i, 5, i.min(2))).collect();
        assert_eq!(orders, vec![1, 2, 2, 2, 1]);
        assert_eq!(solver_order(2, 0, 1, 0), 1);
    }

    #[test]
    fn the_last_step_to_sigma_zero_returns_the_data_prediction() {
        let sigmas = [3.0, 0.5, 0.0];
        for sde in [false, true] {
            let u = dpm_update(&sigmas, 1, 1, sde);
            assert_eq!((u.c_x, u.c_0, u.c_z), (0.0, 1.0, 0.0), "sde {sde}");
        }
    }

    /// The first-order step is DDIM: x_t = √ᾱ_t x̂_0 + √(1 − ᾱ_t) ε̂ with ε̂ from x̂_0.
    #[test]
    fn first_order_is_ddim() {
        let sigmas = [2.0, 0.7, 0.0];
        let u = dpm_update(&sigmas, 0, 1, false);
        let (a_s, s_s) = vp_of(2.0);
        let (a_t, s_t) = vp_of(0.7);
        // x = a_s x0 + s_s eps → x' = a_t x0 + s_t eps for any x0, eps
        let (x0, eps) = (0.3, -1.2);
        let x = a_s * x0 + s_s * eps;
        let next = u.c_x * x + u.c_0 * x0;
        assert!((next - (a_t * x0 + s_t * eps)).abs() < 1e-12);
    }
}
