//! The training objective (the seed's Algorithm 1): t ~ Uniform, ε ~ N(0, I), and the MSE
//! between the model's output and its target at x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε; or, as
//! improved-diffusion trains a learned variance (`training_losses` in
//! `gaussian_diffusion.py`), that MSE plus the bound's term at t, or the bound alone.

use super::bound::Decoder;
use super::Diffusion;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// What the network predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Prediction {
    /// The noise ε (Ho et al.; the seed note's ε_θ).
    #[default]
    Epsilon,
    /// The clean sample x_0.
    X0,
    /// The velocity v = √ᾱ_t ε − √(1−ᾱ_t) x_0 (Salimans & Ho 2022).
    V,
}

/// How per-timestep losses are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum LossWeighting {
    /// Plain MSE: the "simple" loss of the DDPM paper.
    #[default]
    None,
    /// Min-SNR-γ (Hang et al. 2023): the x_0-space weight min(SNR_t, γ), expressed for the
    /// chosen prediction target.
    MinSnr(f64),
}

/// What training minimises per item at its timestep t (`train.loss`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum Loss {
    /// L_simple: the MSE of the model's output against its target (the seed's Algorithm 1).
    #[default]
    Simple,
    /// L_simple + λ L_vlb (Nichol & Dhariwal 2021; λ = 0.001 in the paper): the bound
    /// trains the variance output, with the mean's gradient stopped inside it.
    Hybrid(f64),
    /// L_vlb, the bound alone, through mean and variance.
    Vlb,
}

impl Loss {
    /// The name logs and messages use: `simple`, `hybrid (λ = 0.001)`, `vlb`.
    pub fn name(self) -> String {
        match self {
            Loss::Simple => "simple".into(),
            Loss::Hybrid(l) => format!("hybrid (λ = {l})"),
            Loss::Vlb => "vlb".into(),
        }
    }

    /// Whether the bound's term is part of the loss.
    pub fn has_bound(self) -> bool {
        !matches!(self, Loss::Simple)
    }
}

/// Per-item training losses (shape [B]) of one batch.
pub struct TrainingLosses {
    /// What is minimised per item: the weighted MSE, plus λ T L_t (bits/dim) for Hybrid,
    /// or T L_t alone for Vlb.
    pub loss: Tensor,
    /// The bound's term L_t in nats/dim (Hybrid and Vlb).
    pub vb: Option<Tensor>,
}

impl Diffusion {
    /// The target the network is trained to output.
    pub fn target(&self, x0: &Tensor, noise: &Tensor, t: &Tensor) -> Tensor {
        match self.prediction {
            Prediction::Epsilon => noise.shallow_clone(),
            Prediction::X0 => x0.shallow_clone(),
            Prediction::V => {
                let n = x0.dim();
                self.tables.sqrt_alpha_bar.at(t, n) * noise
                    - self.tables.sqrt_one_minus_alpha_bar.at(t, n) * x0
            }
        }
    }

    /// Turns a model output into (x̂_0, ε̂) at x_t (the mean's part of it, when the network
    /// also outputs a variance).
    pub fn predict_x0_eps(&self, output: &Tensor, xt: &Tensor, t: &Tensor) -> (Tensor, Tensor) {
        let output = &self.mean_output(output, xt);
        let n = xt.dim();
        let sa = self.tables.sqrt_alpha_bar.at(t, n);
        let s1 = self.tables.sqrt_one_minus_alpha_bar.at(t, n);
        match self.prediction {
            Prediction::Epsilon => ((xt - &s1 * output) / &sa, output.shallow_clone()),
            Prediction::X0 => (output.shallow_clone(), (xt - &sa * output) / &s1),
            Prediction::V => (&sa * xt - &s1 * output, &s1 * xt + &sa * output),
        }
    }

    /// ε̂ from x̂_0 at x_t: (x_t − √ᾱ_t x̂_0) / √(1−ᾱ_t).
    pub(crate) fn eps_from_x0(&self, x0: &Tensor, xt: &Tensor, t: &Tensor) -> Tensor {
        let n = xt.dim();
        (xt - self.tables.sqrt_alpha_bar.at(t, n) * x0)
            / self.tables.sqrt_one_minus_alpha_bar.at(t, n)
    }

    /// Per-item loss weights for the batch's timesteps, shape [B].
    pub fn loss_weights(&self, weighting: LossWeighting, t: &Tensor) -> Option<Tensor> {
        match weighting {
            LossWeighting::None => None,
            LossWeighting::MinSnr(gamma) => {
                let snr = self.tables.snr.at(t, 1);
                let clipped = snr.clamp_max(gamma);
                Some(match self.prediction {
                    Prediction::Epsilon => clipped / snr,
                    Prediction::X0 => clipped,
                    Prediction::V => clipped / (snr + 1.0),
                })
            }
        }
    }

    /// Per-item losses (shape [B]) of `loss`: the mean squared error of the model's output
    /// against its target, weighted as asked, and for Hybrid and Vlb the bound's term at t
    /// scaled to the whole bound, T · L_t in bits/dim (improved-diffusion's `RESCALED_MSE`
    /// and `RESCALED_KL`: λ = 0.001 gives its T/1000). In Hybrid the bound sees the mean's
    /// output detached, so it trains the variance output only. `model` maps (x_t, t) to the
    /// network's output; `decoder` scores the data at t = 0.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn training_losses(
        &self,
        model: &mut dyn FnMut(&Tensor, &Tensor) -> Tensor,
        x0: &Tensor,
        t: &Tensor,
        noise: &Tensor,
        weighting: LossWeighting,
        loss: Loss,
        decoder: Decoder,
    ) -> TrainingLosses {
        let xt = self.q_sample(x0, t, noise);
        let out = model(&xt, t);
        let (mean_out, v) = self.split_output(&out, x0.size()[1]);
        let mse = || {
            let target = self.target(x0, noise, t);
            let dims: Vec<i64> = (1..x0.dim() as i64).collect();
            let mse =
                (&mean_out - target)
                    .square()
                    .mean_dim(dims.as_slice(), false, tch::Kind::Float);
            match self.loss_weights(weighting, t) {
                Some(w) => mse * w,
                None => mse,
            }
        };
        let bound_scale = self.steps() as f64 / std::f64::consts::LN_2;
        match loss {
            Loss::Simple => TrainingLosses {
                loss: mse(),
                vb: None,
            },
            Loss::Hybrid(lambda) => {
                let p = self.p_from_parts(&mean_out.detach(), v.as_ref(), &xt, t);
                let vb = self.vb_from(&p, x0, &xt, t, decoder);
                TrainingLosses {
                    loss: mse() + &vb * (lambda * bound_scale),
                    vb: Some(vb),
                }
            }
            Loss::Vlb => {
                let p = self.p_from_parts(&mean_out, v.as_ref(), &xt, t);
                let vb = self.vb_from(&p, x0, &xt, t, decoder);
                TrainingLosses {
                    loss: &vb * bound_scale,
                    vb: Some(vb),
                }
            }
        }
    }
}
