//! What an evaluation of a model found: the record the worker sends, the run log keeps and
//! the front ends show.

use serde::{Deserialize, Serialize};

/// Sample-quality figures of an evaluation; which ones depend on the data (points: sliced
/// W1 and MMD; images: Fréchet distance and classes present).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub sliced_w1: Option<f64>,
    pub mmd: Option<f64>,
    pub frechet: Option<f64>,
    pub classes_present: Option<u32>,
    pub classes: Option<u32>,
}

/// The workbench's evaluation of a model: the variational bound on a few held-out items
/// with its terms per timestep, and sample-quality figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub id: u64,
    /// Training step of the weights evaluated.
    pub step: u64,
    pub ema: bool,
    /// "bits/dim" (images) or "nats/dim" (continuous data).
    pub unit: String,
    pub bits: bool,
    pub total: f64,
    pub total_se: f64,
    /// Held-out items the bound was computed on, and the seed of those items and of the
    /// noise (None: not known, e.g. read back from a run log that does not record them).
    #[serde(default)]
    pub items: Option<usize>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// The bound's split: the prior term L_T, the sum of the KL terms and the decoder L_0.
    pub prior: f64,
    pub diffusion: f64,
    pub decoder: f64,
    /// Sample-quality figures (those that apply to the data).
    pub quality: Quality,
    /// The term at each 0-based schedule index (index 0 is the decoder L_0), in `unit`.
    pub per_t: Vec<f64>,
    /// One line for the samples pane.
    pub summary: String,
    /// The figures in full.
    pub lines: Vec<String>,
}
