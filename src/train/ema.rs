//! An exponential moving average of the weights, with an optional warm-up so that EMA
//! samples are meaningful early in short runs: the decay is min(decay, (1+n)/(10+n)).

use tch::{nn, Tensor};

pub struct Ema {
    pub decay: f64,
    pub warmup: bool,
    pairs: Vec<(Tensor, Tensor)>,
}

impl Ema {
    /// Pairs each variable of `model` with the one of the same name in `ema` (same
    /// architecture) and copies the model's values into the EMA.
    pub fn new(model: &nn::VarStore, ema: &nn::VarStore, decay: f64, warmup: bool) -> Ema {
        let src = model.variables();
        let dst = ema.variables();
        let mut names: Vec<&String> = src.keys().collect();
        names.sort();
        let pairs: Vec<(Tensor, Tensor)> = names
            .into_iter()
            .filter_map(|n| Some((src[n].shallow_clone(), dst.get(n)?.shallow_clone())))
            .collect();
        let e = Ema {
            decay,
            warmup,
            pairs,
        };
        e.copy_from_model();
        e
    }

    pub(crate) fn copy_from_model(&self) {
        let _g = tch::no_grad_guard();
        for (p, e) in &self.pairs {
            let mut e = e.shallow_clone();
            e.copy_(p);
        }
    }

    /// The decay used after `updates` updates.
    pub(crate) fn decay_at(&self, updates: u64) -> f64 {
        if self.warmup {
            self.decay
                .min((1.0 + updates as f64) / (10.0 + updates as f64))
        } else {
            self.decay
        }
    }

    /// The share of the EMA that still comes from the initial (untrained) weights after
    /// `updates` updates: ∏ d_k. Close to 1 means EMA samples will look like noise.
    pub(crate) fn initial_share(&self, updates: u64) -> f64 {
        let mut share = 1.0f64;
        for k in 0..updates {
            share *= self.decay_at(k);
            if share < 1e-12 {
                return 0.0;
            }
        }
        share
    }

    /// ema ← d·ema + (1 − d)·model.
    pub fn update(&self, updates: u64) {
        let d = self.decay_at(updates);
        let _g = tch::no_grad_guard();
        for (p, e) in &self.pairs {
            let mut e = e.shallow_clone();
            let _ = e.g_mul_scalar_(d);
            let _ = e.g_add_(&(p * (1.0 - d)));
        }
    }
}
