//! The variational bound on −ln p(x_0) (the seed note's ELBO), term by term:
//!
//! −ln p(x_0) ≤ L_T + Σ_{t>1} L_{t−1} + L_0, with
//! L_T = KL(q(x_T | x_0) ‖ N(0, I)),
//! L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) (two Gaussians, in closed form),
//! L_0 = −ln p_θ(x_0 | x_1), the decoder.
//!
//! Timesteps here are table indices (see [`super`] on the two numberings): the term at index
//! t concerns the reverse step out of the state s = [`state_of`](super::state_of)`(t)`, so
//! the decoder L_0 sits at index 0 and the KL at index t compares the distributions of
//! x_{s−1} given x_s in the note's numbering. The posterior and the model's variance come
//! from the tables of the full chain ([`super::Chain`], reached through the schedule).
//! Every term is returned per item as a mean over the item's dimensions, in nats
//! ("nats/dim"); divide by ln 2 for bits/dim. x̂_0 is never clipped here.
//!
//! The structure follows improved-diffusion (`_vb_terms_bpd`, `calc_bpd_loop`,
//! `_prior_bpd`, `normal_kl`, `discretized_gaussian_log_likelihood`), except that the
//! discretised decoder uses the exact normal CDF (through erfc) instead of the tanh
//! approximation.

use super::posterior::Gaussian;
use super::{Diffusion, DiffusionError, LogVariance};
use tch::{Device, Kind, Tensor};

/// KL(N(m1, e^{lv1}) ‖ N(m2, e^{lv2})) elementwise, in nats.
pub(crate) fn normal_kl(
    mean1: &Tensor,
    logvar1: &Tensor,
    mean2: &Tensor,
    logvar2: &Tensor,
) -> Tensor {
    ((logvar2 - logvar1) + (logvar1 - logvar2).exp() + (mean1 - mean2).square() * (-logvar2).exp()
        - 1.0)
        * 0.5
}

/// −ln N(x; mean, e^{log_variance}) elementwise, in nats.
pub(crate) fn gaussian_nll(x: &Tensor, mean: &Tensor, log_variance: &Tensor) -> Tensor {
    ((x - mean).square() * (-log_variance).exp() + log_variance + (2.0 * std::f64::consts::PI).ln())
        * 0.5
}

/// The standard normal CDF Φ(z) = erfc(−z/√2)/2.
fn normal_cdf(z: &Tensor) -> Tensor {
    (z * -std::f64::consts::FRAC_1_SQRT_2).erfc() * 0.5
}

/// 1 − Φ(z) = erfc(z/√2)/2, accurate in the upper tail.
fn normal_sf(z: &Tensor) -> Tensor {
    (z * std::f64::consts::FRAC_1_SQRT_2).erfc() * 0.5
}

/// Half the width of one 8-bit bin on [−1, 1]: the 256 levels are 2/255 apart.
pub const HALF_BIN: f64 = 1.0 / 255.0;

/// ln P(x) elementwise under the discretised Gaussian decoder of the DDPM paper: x is an
/// 8-bit value scaled to [−1, 1], its bin is [x − 1/255, x + 1/255], and the two edge bins
/// are open-ended (−∞ below −1 + 1/255, +∞ above 1 − 1/255). Probabilities are floored at
/// 1e-12 as in improved-diffusion, so no term is infinite.
pub(crate) fn discretized_gaussian_log_likelihood(
    x: &Tensor,
    mean: &Tensor,
    log_scale: &Tensor,
) -> Tensor {
    let centered = x - mean;
    let inv_std = (-log_scale).exp();
    let plus_in = &inv_std * (&centered + HALF_BIN);
    let min_in = &inv_std * (&centered - HALF_BIN);
    let log_cdf_plus = normal_cdf(&plus_in).clamp_min(1e-12).log();
    let log_sf_min = normal_sf(&min_in).clamp_min(1e-12).log();
    // The bin's mass, computed on the side of the mean where it does not cancel.
    let mass_right = normal_sf(&min_in) - normal_sf(&plus_in);
    let mass_left = normal_cdf(&plus_in) - normal_cdf(&min_in);
    let mass = mass_right.where_self(&min_in.gt(0.0), &mass_left);
    let log_mass = mass.clamp_min(1e-12).log();
    let edge_hi = x.gt(1.0 - HALF_BIN);
    let edge_lo = x.lt(-1.0 + HALF_BIN);
    log_cdf_plus.where_self(&edge_lo, &log_sf_min.where_self(&edge_hi, &log_mass))
}

/// How the decoder p_θ(x_0 | x_1) scores the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// Continuous data: the Gaussian density N(x_0; μ_θ(x_1, 1), σ_1²).
    Gaussian,
    /// 8-bit images in [−1, 1]: the probability of x_0's bin (256 bins, open-ended edges).
    Discretized,
}

/// Why a bound could not be computed (the diffusion core's error type).
pub type BoundError = DiffusionError;

/// Per-item terms of the exact bound for one batch, in nats/dim.
#[derive(Debug, Clone, Default)]
pub struct BoundTerms {
    /// L_T per item.
    pub prior: Vec<f64>,
    /// `terms[t][i]`: the term at 0-based timestep t for item i (the decoder at t = 0).
    pub terms: Vec<Vec<f64>>,
}

impl BoundTerms {
    /// The bound per item: L_T + Σ_t terms.
    pub fn totals(&self) -> Vec<f64> {
        (0..self.prior.len())
            .map(|i| self.prior[i] + self.terms.iter().map(|row| row[i]).sum::<f64>())
            .collect()
    }
}

/// Per-item Monte-Carlo estimates of the bound for one batch, in nats/dim (see
/// [`Diffusion::bound_estimate`]).
#[derive(Debug, Clone, Default)]
pub struct BoundEstimate {
    pub prior: Vec<f64>,
    /// The decoder term L_0 per item (one draw of x_1).
    pub decoder: Vec<f64>,
    /// Unbiased estimate of the sum of the KL terms per item: the last term exactly plus
    /// (T − 2)·mean_k(term at t_k), t_k ~ Uniform{1..T−2}.
    pub middle: Vec<f64>,
    /// Every draw: (t, item, term).
    pub draws: Vec<(usize, usize, f64)>,
}

impl BoundEstimate {
    pub fn totals(&self) -> Vec<f64> {
        (0..self.prior.len())
            .map(|i| self.prior[i] + self.decoder[i] + self.middle[i])
            .collect()
    }
}

/// Reads a tensor back as f64 values, or says which values could not be read.
fn read_f64(t: &Tensor, what: &'static str) -> Result<Vec<f64>, DiffusionError> {
    Vec::try_from(t.to_kind(Kind::Double).to_device(Device::Cpu).view([-1]))
        .map_err(|source| DiffusionError::TensorRead { what, source })
}

/// Reads a Bool tensor back, or says which values could not be read.
fn read_bool(t: &Tensor, what: &'static str) -> Result<Vec<bool>, DiffusionError> {
    Vec::try_from(t.to_device(Device::Cpu).view([-1]))
        .map_err(|source| DiffusionError::TensorRead { what, source })
}

/// Reads a Long tensor back, or says which values could not be read.
fn read_i64(t: &Tensor, what: &'static str) -> Result<Vec<i64>, DiffusionError> {
    Vec::try_from(t.to_device(Device::Cpu).view([-1]))
        .map_err(|source| DiffusionError::TensorRead { what, source })
}

fn mean_flat(x: &Tensor) -> Tensor {
    let dims: Vec<i64> = (1..x.dim() as i64).collect();
    if dims.is_empty() {
        return x.to_kind(Kind::Float);
    }
    x.mean_dim(dims.as_slice(), false, Kind::Float)
}

impl Diffusion {
    /// p_θ(x_{t−1} | x_t) from a model output: x̂_0 (never clipped) → posterior mean, with the
    /// variance of `self.variance` (learned from the output's variance part, when it is).
    pub(crate) fn p_mean_variance(&self, output: &Tensor, xt: &Tensor, t: &Tensor) -> Gaussian {
        let (mean_out, v) = self.split_output(output, xt.size()[1]);
        self.p_from_parts(&mean_out, v.as_ref(), xt, t)
    }

    /// [`Diffusion::p_mean_variance`] from the output's two parts, which training passes
    /// with the mean's part detached.
    pub(crate) fn p_from_parts(
        &self,
        mean_out: &Tensor,
        v: Option<&Tensor>,
        xt: &Tensor,
        t: &Tensor,
    ) -> Gaussian {
        let (x0_hat, _) = self.predict_x0_eps(mean_out, xt, t);
        let post = self.q_posterior(&x0_hat, xt, t);
        let log_variance = self.model_log_variance_at(t, xt.dim(), v);
        Gaussian {
            mean: post.mean,
            variance: log_variance.exp(),
            log_variance,
        }
    }

    /// L_T = KL(q(x_T | x_0) ‖ N(0, I)) per item, in nats/dim.
    pub(crate) fn prior_kl(&self, x0: &Tensor) -> Tensor {
        let last = self.steps() - 1;
        let (coef, var) = self.q_mean_coef_and_variance(last);
        let mean = x0 * coef;
        let lv = Tensor::full([1], var.ln(), (Kind::Float, x0.device()));
        let zero = Tensor::zeros([1], (Kind::Float, x0.device()));
        mean_flat(&normal_kl(&mean, &lv, &zero, &zero))
    }

    /// The bound's term at timesteps `t` per item, in nats/dim, with x_t drawn from `noise`:
    /// KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) where t > 0, the decoder's −ln p_θ(x_0 | x_1)
    /// where t = 0. Also returns whether the model's output held a NaN, per item.
    pub(crate) fn vb_term(
        &self,
        model: &mut dyn FnMut(&Tensor, &Tensor) -> Tensor,
        x0: &Tensor,
        t: &Tensor,
        noise: &Tensor,
        decoder: Decoder,
    ) -> (Tensor, Tensor) {
        let xt = self.q_sample(x0, t, noise);
        let out = model(&xt, t);
        let nan = out.isnan().reshape([out.size()[0], -1]).any_dim(1, false);
        let p = self.p_mean_variance(&out, &xt, t);
        (self.vb_from(&p, x0, &xt, t, decoder), nan)
    }

    /// The bound's term per item, in nats/dim, for the model's p_θ(x_{t−1} | x_t) at x_t
    /// drawn from x_0 (see [`Diffusion::vb_term`]).
    pub(crate) fn vb_from(
        &self,
        p: &Gaussian,
        x0: &Tensor,
        xt: &Tensor,
        t: &Tensor,
        decoder: Decoder,
    ) -> Tensor {
        let q = self.q_posterior(x0, xt, t);
        let kl = mean_flat(&normal_kl(
            &q.mean,
            &q.log_variance,
            &p.mean,
            &p.log_variance,
        ));
        let nll = match decoder {
            Decoder::Gaussian => {
                let lv = match self.schedule.continuous_decoder_log_variance(self.variance) {
                    LogVariance::Fixed(lv) => p.log_variance.full_like(lv),
                    // learned: at t = 0 the model's own ln σ² is the decoder's
                    LogVariance::Between { .. } => p.log_variance.shallow_clone(),
                };
                mean_flat(&gaussian_nll(x0, &p.mean, &lv))
            }
            Decoder::Discretized => mean_flat(&-discretized_gaussian_log_likelihood(
                x0,
                &p.mean,
                &(&p.log_variance * 0.5),
            )),
        };
        nll.where_self(&t.eq(0), &kl)
    }

    /// Checks a batch of terms: a NaN from the model, or any non-finite term, is an error
    /// naming the timestep (table index) of the first offending item.
    fn check_terms(terms: &Tensor, nan: &Tensor, t: &[i64]) -> Result<Vec<f64>, DiffusionError> {
        let values = read_f64(terms, "the bound terms")?;
        let nan = read_bool(nan, "the model's NaN flags")?;
        let tt = |i: usize| t[if t.len() == 1 { 0 } else { i }] as usize;
        if let Some(i) = nan.iter().position(|&b| b) {
            return Err(DiffusionError::NanOutput { t: tt(i) });
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            if values[i].is_nan() {
                return Err(DiffusionError::NanOutput { t: tt(i) });
            }
            return Err(DiffusionError::NonFinite {
                t: tt(i),
                value: values[i],
            });
        }
        Ok(values)
    }

    /// L_T per item, checked to be finite.
    fn checked_prior(&self, x0: &Tensor) -> Result<Vec<f64>, DiffusionError> {
        let prior = read_f64(&self.prior_kl(x0), "the prior term L_T")?;
        match prior.iter().find(|v| !v.is_finite()) {
            Some(&value) => Err(DiffusionError::NonFinitePrior { value }),
            None => Ok(prior),
        }
    }

    /// The exact bound for a batch: L_T plus every term t = T−1, …, 0, each with a fresh x_t
    /// (as improved-diffusion's `calc_bpd_loop`). `progress` is called after each timestep
    /// with (done, T). The noise comes from libtorch's generator.
    pub fn bound_terms(
        &self,
        model: &mut dyn FnMut(&Tensor, &Tensor) -> Tensor,
        x0: &Tensor,
        decoder: Decoder,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<BoundTerms, DiffusionError> {
        let _guard = tch::no_grad_guard();
        let total = self.steps();
        let n = x0.size()[0];
        let prior = self.checked_prior(x0)?;
        let mut terms = vec![Vec::new(); total];
        for (done, t) in (0..total).rev().enumerate() {
            let tt = self.timestep_batch(t, n);
            let noise = Tensor::randn_like(x0);
            let (term, nan) = self.vb_term(model, x0, &tt, &noise, decoder);
            terms[t] = Self::check_terms(&term, &nan, &[t as i64])?;
            progress(done + 1, total);
        }
        Ok(BoundTerms { prior, terms })
    }

    /// A Monte-Carlo estimate of the bound for a batch. The two end terms are computed
    /// exactly: the decoder L_0 (t = 0) and the last KL term (t = T − 1), which is large
    /// whenever β_T is near 1 (the cosine schedule clips it at 0.999: any error in x̂_0 is
    /// amplified by 1/√ᾱ_T there). The remaining T − 2 KL terms are estimated from `k`
    /// timesteps per item drawn uniformly from 1..T−2, each with a fresh x_t, as
    /// (T − 2)·mean_k(term). Every part is unbiased, and leaving the ends out of the draw
    /// keeps two rare but large terms from dominating the variance. `progress` is called after
    /// each of the k + 2 rounds with (done, k + 2). The draws come from libtorch's generator.
    pub fn bound_estimate(
        &self,
        model: &mut dyn FnMut(&Tensor, &Tensor) -> Tensor,
        x0: &Tensor,
        k: usize,
        decoder: Decoder,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<BoundEstimate, DiffusionError> {
        let _guard = tch::no_grad_guard();
        let total = self.steps();
        let n = x0.size()[0];
        let items = n as usize;
        let rounds = k + 2;
        let prior = self.checked_prior(x0)?;
        let mut draws: Vec<(usize, usize, f64)> = Vec::with_capacity(items * rounds);
        let mut exact =
            |t: usize, draws: &mut Vec<(usize, usize, f64)>| -> Result<Vec<f64>, DiffusionError> {
                let tt = self.timestep_batch(t, n);
                let (term, nan) = self.vb_term(model, x0, &tt, &Tensor::randn_like(x0), decoder);
                let values = Self::check_terms(&term, &nan, &[t as i64])?;
                draws.extend(values.iter().enumerate().map(|(i, &v)| (t, i, v)));
                Ok(values)
            };
        let decoder_terms = exact(0, &mut draws)?;
        progress(1, rounds);
        let mut middle = if total > 1 {
            exact(total - 1, &mut draws)?
        } else {
            vec![0.0; items]
        };
        progress(2, rounds);
        if total > 2 {
            let mut sum = vec![0.0; items];
            for round in 0..k {
                let tt = Tensor::randint_low(1, total as i64 - 1, [n], (Kind::Int64, self.device));
                let noise = Tensor::randn_like(x0);
                let (term, nan) = self.vb_term(model, x0, &tt, &noise, decoder);
                let ts = read_i64(&tt, "the drawn timesteps")?;
                let values = Self::check_terms(&term, &nan, &ts)?;
                for (i, (&t, &v)) in ts.iter().zip(&values).enumerate() {
                    sum[i] += v;
                    draws.push((t as usize, i, v));
                }
                progress(round + 3, rounds);
            }
            let scale = (total - 2) as f64 / k.max(1) as f64;
            for (m, s) in middle.iter_mut().zip(&sum) {
                *m += s * scale;
            }
        }
        Ok(BoundEstimate {
            prior,
            decoder: decoder_terms,
            middle,
            draws,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discretized_decoder_sums_to_one_over_the_256_bins() {
        let levels: Vec<f32> = (0..256).map(|i| i as f32 / 127.5 - 1.0).collect();
        let x = Tensor::from_slice(&levels);
        for (mean, std) in [(0.0f64, 0.01f64), (0.3, 0.2), (-0.99, 0.05), (1.4, 0.5)] {
            let m = x.full_like(mean);
            let ls = x.full_like(std.ln());
            let lp = discretized_gaussian_log_likelihood(&x, &m, &ls);
            let total = lp.exp().sum(Kind::Double).double_value(&[]);
            assert!((total - 1.0).abs() < 1e-4, "mean {mean} std {std}: {total}");
        }
    }

    #[test]
    fn gaussian_nll_is_the_density() {
        let x = Tensor::from_slice(&[0.5f32]);
        let m = Tensor::from_slice(&[0.1f32]);
        let lv = Tensor::from_slice(&[(0.04f32).ln()]);
        let v = gaussian_nll(&x, &m, &lv).double_value(&[0]);
        let exact = 0.5 * (2.0 * std::f64::consts::PI * 0.04).ln() + 0.16 / 0.08;
        assert!((v - exact).abs() < 1e-5, "{v} vs {exact}");
    }
}
