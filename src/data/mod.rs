//! Training data. Each source has its own file and implements [`Source`]; all of them
//! produce an in-memory [`Dataset`] of f32 items, already scaled for the model.

pub mod toy2d;

pub use toy2d::{Toy2dConfig, Toy2dShape};

use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::{Device, Tensor};

/// Which part of the data to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// `n` held-out items, disjoint from training where the source allows.
    Held(usize),
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Other(String),
}

/// A source of training data.
pub trait Source {
    fn load(&self, seed: u64, split: Split) -> Result<Dataset, DataError>;
    /// One line for listings and status bars.
    fn describe(&self) -> String;
}

/// What kind of items a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// Points in R^d.
    Points,
    /// Images in [−1, 1], shape [C, H, W].
    Image,
}

/// Items stored contiguously: item `i` is `values[i*d .. (i+1)*d]` with `d = ∏ item_shape`.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    pub kind: ItemKind,
    pub item_shape: Vec<i64>,
    pub values: Vec<f32>,
    pub labels: Option<Vec<u8>>,
}

impl Dataset {
    pub fn points(name: &str, values: Vec<f32>, dim: i64) -> Dataset {
        Dataset {
            name: name.to_string(),
            kind: ItemKind::Points,
            item_shape: vec![dim],
            values,
            labels: None,
        }
    }

    pub fn item_len(&self) -> usize {
        self.item_shape.iter().product::<i64>() as usize
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.item_len().max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn item(&self, i: usize) -> &[f32] {
        let d = self.item_len();
        &self.values[i * d..(i + 1) * d]
    }

    /// The items at `indices` as one tensor of shape [n, item_shape…].
    pub fn batch(&self, indices: &[usize], device: Device) -> Tensor {
        let d = self.item_len();
        let mut v = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            v.extend_from_slice(self.item(i));
        }
        let mut shape = vec![indices.len() as i64];
        shape.extend_from_slice(&self.item_shape);
        Tensor::from_slice(&v)
            .reshape(shape.as_slice())
            .to_device(device)
    }

    /// The first `n` items (or all) as a tensor.
    pub fn head(&self, n: usize, device: Device) -> Tensor {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.batch(&idx, device)
    }
}

/// Deterministic mini-batches: the items of step k are a function of (seed, k) alone, so a
/// resumed run sees exactly the batches of an uninterrupted one. Each epoch is a fresh
/// permutation drawn from the seed.
pub struct Batcher {
    seed: u64,
    len: usize,
    batch: usize,
    epoch: Option<(u64, Vec<usize>)>,
}

impl Batcher {
    pub fn new(seed: u64, len: usize, batch: usize) -> Batcher {
        Batcher {
            seed,
            len,
            batch,
            epoch: None,
        }
    }

    /// Indices of the batch for training step `step` (0-based).
    pub fn indices(&mut self, step: u64) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.batch);
        let start = step * self.batch as u64;
        for p in start..start + self.batch as u64 {
            let epoch = p / self.len as u64;
            let pos = (p % self.len as u64) as usize;
            if self.epoch.as_ref().map(|e| e.0) != Some(epoch) {
                let mut order: Vec<usize> = (0..self.len).collect();
                Rng::derive(self.seed, epoch).shuffle(&mut order);
                self.epoch = Some((epoch, order));
            }
            out.push(self.epoch.as_ref().map(|e| e.1[pos]).unwrap_or(pos));
        }
        out
    }
}

/// Which data to train on, as written in a preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DataConfig {
    Toy2d(Toy2dConfig),
}

impl DataConfig {
    pub fn source(&self) -> &dyn Source {
        match self {
            DataConfig::Toy2d(c) => c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batcher_covers_each_epoch_once_and_is_stateless() {
        let mut b = Batcher::new(5, 10, 5);
        let mut seen: Vec<usize> = b.indices(0);
        seen.extend(b.indices(1));
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let mut fresh = Batcher::new(5, 10, 5);
        assert_eq!(fresh.indices(7), b.indices(7));
    }
}
