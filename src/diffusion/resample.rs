//! How training draws its timesteps (`train.timestep_sampling`): uniformly, as the seed's
//! Algorithm 1 does, or by importance sampling on each term's running second moment
//! (improved-diffusion's `LossSecondMomentResampler` in `resample.py`), which is what
//! makes the bound alone (`Loss::Vlb`) trainable: its terms differ by orders of magnitude
//! across t, and drawing t in proportion to √E[L_t²] (each item weighted by 1/(T p_t), so
//! the loss stays unbiased) cuts the gradient's variance.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// How timesteps are drawn for training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TimestepSampling {
    /// t ~ Uniform{0, …, T−1}.
    #[default]
    Uniform,
    /// p_t ∝ √(mean of the last 10 values of L_t²), mixed with 0.1% uniform, after a
    /// uniform warm-up that lasts until every t has 10 values.
    LossAware,
}

impl TimestepSampling {
    pub fn name(self) -> &'static str {
        match self {
            TimestepSampling::Uniform => "uniform",
            TimestepSampling::LossAware => "loss-aware",
        }
    }
}

/// Values of each term's loss kept (improved-diffusion's `history_per_term`).
pub const HISTORY: usize = 10;
/// The uniform share mixed into the importance weights.
const UNIFORM_SHARE: f64 = 0.001;

/// The names of the resampler's state among the optimiser's tensors in a checkpoint.
pub(crate) const HISTORY_KEY: &str = "resample.history";
pub(crate) const COUNTS_KEY: &str = "resample.counts";

/// The loss-aware sampler's state: the last [`HISTORY`] losses of every timestep.
#[derive(Debug, Clone, PartialEq)]
pub struct LossAware {
    /// `history[t]`: the last values of L_t, oldest first.
    history: Vec<Vec<f64>>,
}

/// Saved resampler state that does not fit the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResampleStateError {
    #[error("the timestep sampler's state has shape {history:?} and {counts:?}, the model's T = {t} needs [{t}, {HISTORY}] and [{t}]")]
    Shape {
        history: Vec<i64>,
        counts: Vec<i64>,
        t: usize,
    },
    #[error("the timestep sampler's state cannot be read: {0}")]
    Read(String),
}

impl LossAware {
    /// A sampler for T timesteps, with nothing seen yet.
    pub fn new(t: usize) -> LossAware {
        LossAware {
            history: vec![Vec::with_capacity(HISTORY); t],
        }
    }

    /// Whether every timestep has its [`HISTORY`] values (before that, t is uniform).
    pub fn warmed_up(&self) -> bool {
        self.history.iter().all(|h| h.len() == HISTORY)
    }

    /// The share of the warm-up done: values kept over T · [`HISTORY`].
    pub fn warm_up_share(&self) -> f64 {
        let kept: usize = self.history.iter().map(Vec::len).sum();
        kept as f64 / (self.history.len() * HISTORY).max(1) as f64
    }

    /// The probability of each timestep: uniform until warmed up, then ∝ √E[L_t²] mixed
    /// with a little uniform.
    pub fn probabilities(&self) -> Vec<f64> {
        let n = self.history.len();
        if !self.warmed_up() {
            return vec![1.0 / n as f64; n];
        }
        let w: Vec<f64> = self
            .history
            .iter()
            .map(|h| (h.iter().map(|l| l * l).sum::<f64>() / h.len() as f64).sqrt())
            .collect();
        let total: f64 = w.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return vec![1.0 / n as f64; n];
        }
        w.iter()
            .map(|x| x / total * (1.0 - UNIFORM_SHARE) + UNIFORM_SHARE / n as f64)
            .collect()
    }

    /// Draws `b` timesteps (from libtorch's generator) with their importance weights
    /// 1/(T p_t): uniform draws with weights 1 before the warm-up ends.
    pub fn sample(&self, b: i64, device: Device) -> (Tensor, Option<Tensor>) {
        let n = self.history.len();
        if !self.warmed_up() {
            return (Tensor::randint(n as i64, [b], (Kind::Int64, device)), None);
        }
        let p = Tensor::from_slice(&self.probabilities());
        let t = p.multinomial(b, true);
        let w = (p.index_select(0, &t) * n as f64).reciprocal();
        (
            t.to_device(device),
            Some(w.to_kind(Kind::Float).to_device(device)),
        )
    }

    /// Records each item's loss at its timestep, dropping the oldest beyond [`HISTORY`].
    pub fn update(&mut self, t: &[i64], losses: &[f64]) {
        for (&ti, &l) in t.iter().zip(losses) {
            let Some(h) = usize::try_from(ti)
                .ok()
                .and_then(|i| self.history.get_mut(i))
            else {
                continue;
            };
            if h.len() == HISTORY {
                h.remove(0);
            }
            h.push(l);
        }
    }

    /// The state as two tensors for a checkpoint: the history [T, HISTORY] (f64, unused
    /// slots 0) and the count of values of each t [T].
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let n = self.history.len();
        let mut flat = vec![0.0f64; n * HISTORY];
        for (t, h) in self.history.iter().enumerate() {
            flat[t * HISTORY..t * HISTORY + h.len()].copy_from_slice(h);
        }
        let counts: Vec<i64> = self.history.iter().map(|h| h.len() as i64).collect();
        vec![
            (
                HISTORY_KEY.to_string(),
                Tensor::from_slice(&flat).reshape([n as i64, HISTORY as i64]),
            ),
            (COUNTS_KEY.to_string(), Tensor::from_slice(&counts)),
        ]
    }

    /// Restores the state saved by [`LossAware::state`] for T timesteps; a checkpoint
    /// without it (saved before the sampler existed) starts the warm-up afresh.
    pub fn load(tensors: &[(String, Tensor)], t: usize) -> Result<LossAware, ResampleStateError> {
        let find = |key: &str| tensors.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let (Some(history), Some(counts)) = (find(HISTORY_KEY), find(COUNTS_KEY)) else {
            return Ok(LossAware::new(t));
        };
        if history.size() != [t as i64, HISTORY as i64] || counts.size() != [t as i64] {
            return Err(ResampleStateError::Shape {
                history: history.size(),
                counts: counts.size(),
                t,
            });
        }
        let read = |x: &Tensor, kind: Kind| x.to_kind(kind).to_device(Device::Cpu).view([-1]);
        let flat: Vec<f64> = Vec::try_from(read(history, Kind::Double))
            .map_err(|e: tch::TchError| ResampleStateError::Read(e.to_string()))?;
        let counts: Vec<i64> = Vec::try_from(read(counts, Kind::Int64))
            .map_err(|e: tch::TchError| ResampleStateError::Read(e.to_string()))?;
        let history = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let c = (c.max(0) as usize).min(HISTORY);
                flat[i * HISTORY..i * HISTORY + c].to_vec()
            })
            .collect();
        Ok(LossAware { history })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_until_every_term_has_its_history_then_by_second_moment() {
        let mut r = LossAware::new(4);
        assert!(!r.warmed_up());
        assert_eq!(r.probabilities(), vec![0.25; 4]);
        for _ in 0..HISTORY {
            r.update(&[0, 1, 2], &[1.0, 2.0, 3.0]);
        }
        assert!(!r.warmed_up(), "t = 3 has no values yet");
        for _ in 0..HISTORY {
            r.update(&[3], &[4.0]);
        }
        assert!(r.warmed_up());
        let p = r.probabilities();
        let expected = |w: f64| w / 10.0 * (1.0 - UNIFORM_SHARE) + UNIFORM_SHARE / 4.0;
        for (t, w) in [1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
            assert!((p[t] - expected(w)).abs() < 1e-15, "{t}: {}", p[t]);
        }
        // a new value pushes the oldest out
        r.update(&[0], &[11.0]);
        let p2 = r.probabilities();
        assert!(p2[0] > p[0]);
    }

    #[test]
    fn the_state_survives_a_checkpoint_exactly() {
        let mut r = LossAware::new(5);
        r.update(&[0, 0, 3, 4, 4, 4], &[0.1, 0.2, 1.0 / 3.0, 7.0, 8.0, 9.0]);
        let back = LossAware::load(&r.state(), 5).unwrap();
        assert_eq!(back, r);
        assert_eq!(LossAware::load(&[], 5).unwrap(), LossAware::new(5));
        assert!(LossAware::load(&r.state(), 6).is_err());
    }

    #[test]
    fn importance_weights_keep_the_loss_unbiased() {
        let mut r = LossAware::new(3);
        for _ in 0..HISTORY {
            r.update(&[0, 1, 2], &[1.0, 1.0, 8.0]);
        }
        tch::manual_seed(0);
        let (t, w) = r.sample(20000, Device::Cpu);
        let w = w.unwrap();
        // E_p[w · L_t] = mean_t L_t
        let l = Tensor::from_slice(&[1.0f32, 1.0, 8.0]).index_select(0, &t);
        let est = (&w * l).mean(Kind::Double).double_value(&[]);
        assert!((est - 10.0 / 3.0).abs() < 0.1, "{est}");
    }
}
