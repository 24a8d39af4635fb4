//! Adam with decoupled weight decay, written out so that its state (the moment estimates)
//! can be saved in checkpoints and a resumed run continues exactly.

use tch::{nn, Kind, Tensor};

pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Number of updates applied so far.
    pub updates: u64,
    names: Vec<String>,
    params: Vec<Tensor>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    pub fn new(vs: &nn::VarStore) -> Adam {
        let vars = vs.variables();
        let mut names: Vec<String> = vars.keys().cloned().collect();
        names.sort();
        let params: Vec<Tensor> = names.iter().map(|n| vars[n].shallow_clone()).collect();
        let m = params.iter().map(|p| p.zeros_like()).collect();
        let v = params.iter().map(|p| p.zeros_like()).collect();
        Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            updates: 0,
            names,
            params,
            m,
            v,
        }
    }

    pub(crate) fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_();
                let _ = g.zero_();
            }
        }
    }

    /// Multiplies every gradient by `factor` (float16's loss scale undone).
    pub(crate) fn scale_grads(&mut self, factor: f64) {
        let _guard = tch::no_grad_guard();
        for p in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.g_mul_scalar_(factor);
            }
        }
    }

    /// The global gradient norm; scales the gradients down to `max_norm` when above it
    /// (max_norm = 0 only measures).
    pub(crate) fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let grads: Vec<Tensor> = self
            .params
            .iter()
            .map(|p| p.grad())
            .filter(|g| g.defined())
            .collect();
        if grads.is_empty() {
            return 0.0;
        }
        let _guard = tch::no_grad_guard();
        let sq: Vec<Tensor> = grads.iter().map(|g| g.square().sum(Kind::Float)).collect();
        let norm = Tensor::stack(&sq, 0)
            .sum(Kind::Float)
            .sqrt()
            .double_value(&[]);
        if max_norm > 0.0 && norm > max_norm && norm.is_finite() {
            let scale = max_norm / (norm + 1e-6);
            for mut g in grads {
                let _ = g.g_mul_scalar_(scale);
            }
        }
        norm
    }

    /// One update with learning rate `lr`.
    pub fn step(&mut self, lr: f64) {
        let _guard = tch::no_grad_guard();
        self.updates += 1;
        let bc1 = 1.0 - self.beta1.powi(self.updates as i32);
        let bc2 = 1.0 - self.beta2.powi(self.updates as i32);
        for i in 0..self.params.len() {
            let g = self.params[i].grad();
            if !g.defined() {
                continue;
            }
            let (m, v, p) = (&mut self.m[i], &mut self.v[i], &mut self.params[i]);
            let _ = m.g_mul_scalar_(self.beta1);
            let _ = m.g_add_(&(&g * (1.0 - self.beta1)));
            let _ = v.g_mul_scalar_(self.beta2);
            let _ = v.g_add_(&(g.square() * (1.0 - self.beta2)));
            if self.weight_decay > 0.0 {
                let _ = p.g_mul_scalar_(1.0 - lr * self.weight_decay);
            }
            let denom = (&*v / bc2).sqrt() + self.eps;
            let _ = p.g_sub_(&(&*m / denom * (lr / bc1)));
        }
    }

    /// The moment estimates, named `m.<param>` and `v.<param>`, for checkpoints.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.names.len());
        for (i, n) in self.names.iter().enumerate() {
            out.push((format!("m.{n}"), self.m[i].shallow_clone()));
            out.push((format!("v.{n}"), self.v[i].shallow_clone()));
        }
        out
    }

    /// Restores the moments saved by [`Adam::state`].
    pub(crate) fn load_state(
        &mut self,
        tensors: &[(String, Tensor)],
        updates: u64,
    ) -> Result<(), StateError> {
        let _guard = tch::no_grad_guard();
        for (i, n) in self.names.iter().enumerate() {
            for (prefix, dst) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let key = format!("{prefix}.{n}");
                let Some(src) = tensors.iter().find(|(k, _)| *k == key).map(|(_, t)| t) else {
                    return Err(StateError::Missing { key });
                };
                if src.size() != dst.size() {
                    return Err(StateError::Shape {
                        key,
                        saved: src.size(),
                        model: dst.size(),
                    });
                }
                dst.copy_(src);
            }
        }
        self.updates = updates;
        Ok(())
    }
}

/// Saved optimiser moments that do not fit the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("optimizer state has no tensor {key}")]
    Missing { key: String },
    #[error("optimizer tensor {key} has shape {saved:?}, the model needs {model:?}")]
    Shape {
        key: String,
        saved: Vec<i64>,
        model: Vec<i64>,
    },
}
