//! The variational bound on held-out data, batch by batch: the exact bound (all T terms per
//! item) or a Monte-Carlo estimate from K timesteps per item, summarised as a mean with its
//! standard error across items, split into L_T, the KL terms and the decoder L_0, plus the
//! mean term at each timestep.

use crate::diffusion::bound::{BoundError, Decoder};
use crate::diffusion::Diffusion;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// Natural units for a kind of data: bits/dim for 8-bit images (a discrete likelihood,
/// comparable with the DDPM paper's figures), nats/dim for continuous data (a density).
/// Written by its name (the run log's `unit` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Unit {
    #[default]
    #[serde(rename = "nats/dim")]
    NatsPerDim,
    #[serde(rename = "bits/dim")]
    BitsPerDim,
}

impl Unit {
    pub fn for_decoder(d: Decoder) -> Unit {
        match d {
            Decoder::Gaussian => Unit::NatsPerDim,
            Decoder::Discretized => Unit::BitsPerDim,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::NatsPerDim => "nats/dim",
            Unit::BitsPerDim => "bits/dim",
        }
    }

    /// Converts a value in nats/dim to this unit.
    pub fn from_nats(self, nats: f64) -> f64 {
        match self {
            Unit::NatsPerDim => nats,
            Unit::BitsPerDim => nats / std::f64::consts::LN_2,
        }
    }
}

/// A mean over items with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub mean: f64,
    pub se: f64,
}

impl Figure {
    pub fn of(values: &[f64]) -> Figure {
        let n = values.len() as f64;
        if values.is_empty() {
            return Figure {
                mean: f64::NAN,
                se: f64::NAN,
            };
        }
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Figure {
            mean,
            se: (var / n).sqrt(),
        }
    }

    pub fn scaled(self, unit: Unit) -> Figure {
        Figure {
            mean: unit.from_nats(self.mean),
            se: unit.from_nats(self.se),
        }
    }
}

/// How to evaluate the bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundOptions {
    /// Items per model call.
    pub batch: usize,
    /// `None`: the exact bound; `Some(k)`: the terms at t = 0 and t = T − 1 exactly, the
    /// others from k timesteps per item.
    pub estimate: Option<usize>,
    pub decoder: Decoder,
}

/// The bound on a set of items, in nats/dim (convert with [`BoundReport::unit`]).
#[derive(Debug, Clone)]
pub struct BoundReport {
    pub items: usize,
    pub steps: usize,
    pub estimate: Option<usize>,
    pub unit: Unit,
    pub total: Figure,
    /// L_T.
    pub prior: Figure,
    /// Σ of the KL terms (the seed note's Σ_{t>1} L_{t−1}).
    pub middle: Figure,
    /// L_0, the decoder.
    pub decoder: Figure,
    /// Mean term at each 0-based timestep (None: no draw fell there, estimate only).
    pub per_t: Vec<Option<f64>>,
}

impl BoundReport {
    /// The per-timestep terms as CSV, `t,term_bits_per_dim`, one row per timestep that has
    /// a value. The values are in the report's unit: bits/dim for images, nats/dim for
    /// continuous data (the header stays the same).
    pub fn terms_csv(&self) -> String {
        let mut out = String::from("t,term_bits_per_dim\n");
        for (t, v) in self.per_t.iter().enumerate() {
            if let Some(v) = v {
                out.push_str(&format!("{t},{}\n", self.unit.from_nats(*v)));
            }
        }
        out
    }

    /// The term at each 0-based timestep in the report's unit, NaN where no draw fell.
    pub fn terms(&self) -> Vec<f64> {
        self.per_t
            .iter()
            .map(|v| v.map_or(f64::NAN, |v| self.unit.from_nats(v)))
            .collect()
    }
}

/// The bound accumulated from t = 0 (the decoder) up, Σ_{s≤t} L_s, at about 20 points a
/// decade of t + 1 (and at T), as (t + 1, total) points for a chart with a log x axis.
/// `terms[t]` is the term at 0-based timestep t; a NaN term (an estimate's undrawn t)
/// counts as 0.
pub fn accumulated(terms: &[f64]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut sum = 0.0;
    let mut next = 1.0f64;
    for (t, v) in terms.iter().enumerate() {
        if v.is_finite() {
            sum += v;
        }
        let x = (t + 1) as f64;
        if x >= next.round() || t + 1 == terms.len() {
            out.push((x, sum));
            while next.round() <= x {
                next *= 10f64.powf(1.0 / 20.0);
            }
        }
    }
    out
}

/// Reads terms written by `eval --terms` (`t,term_bits_per_dim` lines after a header).
pub fn read_terms_csv(text: &str) -> Result<Vec<f64>, String> {
    let mut terms: Vec<f64> = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (t, v) = line
            .split_once(',')
            .ok_or_else(|| format!("line {}: expected t,term", i + 1))?;
        let t: usize = t
            .trim()
            .parse()
            .map_err(|_| format!("line {}: {t:?} is not a timestep", i + 1))?;
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("line {}: {v:?} is not a number", i + 1))?;
        if t > 1_000_000 {
            return Err(format!(
                "line {}: timestep {t} is beyond any schedule",
                i + 1
            ));
        }
        if terms.len() <= t {
            terms.resize(t + 1, f64::NAN);
        }
        terms[t] = v;
    }
    if terms.is_empty() {
        return Err("no terms (expected the t,term_bits_per_dim lines of eval --terms)".into());
    }
    Ok(terms)
}

/// Units of progress for `items` items: model calls of one batch each.
pub fn progress_total(items: usize, steps: usize, opts: &BoundOptions) -> u64 {
    let batches = items.div_ceil(opts.batch.max(1));
    (batches * opts.estimate.map(|k| k + 2).unwrap_or(steps)) as u64
}

/// Evaluates the bound on `x0` (shape [N, …]) with `model`, `opts.batch` items at a time.
/// `progress` gets (done, total) in the units of [`progress_total`]. Seed libtorch's
/// generator for reproducible noise.
pub fn evaluate_bound(
    diffusion: &Diffusion,
    model: &mut dyn FnMut(&Tensor, &Tensor) -> Tensor,
    x0: &Tensor,
    opts: &BoundOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<BoundReport, BoundError> {
    let n = x0.size()[0] as usize;
    let steps = diffusion.steps();
    let total_units = progress_total(n, steps, opts);
    let batch = opts.batch.max(1);
    let mut prior = Vec::with_capacity(n);
    let mut middle = Vec::with_capacity(n);
    let mut decoder = Vec::with_capacity(n);
    let mut sums = vec![0.0f64; steps];
    let mut counts = vec![0usize; steps];
    let mut done = 0u64;
    for start in (0..n).step_by(batch) {
        let len = batch.min(n - start);
        let xb = x0
            .narrow(0, start as i64, len as i64)
            .to_device(diffusion.device);
        match opts.estimate {
            None => {
                let b = diffusion.bound_terms(model, &xb, opts.decoder, &mut |_, _| {
                    done += 1;
                    progress(done, total_units);
                })?;
                for (t, row) in b.terms.iter().enumerate() {
                    sums[t] += row.iter().sum::<f64>();
                    counts[t] += row.len();
                }
                for i in 0..len {
                    decoder.push(b.terms[0][i]);
                    middle.push(b.terms[1..].iter().map(|row| row[i]).sum());
                }
                prior.extend(b.prior);
            }
            Some(k) => {
                let e = diffusion.bound_estimate(model, &xb, k, opts.decoder, &mut |_, _| {
                    done += 1;
                    progress(done, total_units);
                })?;
                for &(t, _, v) in &e.draws {
                    sums[t] += v;
                    counts[t] += 1;
                }
                prior.extend(e.prior);
                middle.extend(e.middle);
                decoder.extend(e.decoder);
            }
        }
    }
    let totals: Vec<f64> = (0..n).map(|i| prior[i] + middle[i] + decoder[i]).collect();
    Ok(BoundReport {
        items: n,
        steps,
        estimate: opts.estimate,
        unit: Unit::for_decoder(opts.decoder),
        total: Figure::of(&totals),
        prior: Figure::of(&prior),
        middle: Figure::of(&middle),
        decoder: Figure::of(&decoder),
        per_t: sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| (c > 0).then(|| s / c as f64))
            .collect(),
    })
}

#[cfg(test)]
mod terms_tests {
    use super::*;

    #[test]
    fn accumulated_terms_end_at_their_sum_with_points_spread_over_decades() {
        let terms: Vec<f64> = (0..1000).map(|t| 1.0 / (t + 1) as f64).collect();
        let pts = accumulated(&terms);
        let (x, y) = *pts.last().unwrap();
        assert_eq!(x, 1000.0);
        assert!((y - terms.iter().sum::<f64>()).abs() < 1e-12);
        assert_eq!(pts[0], (1.0, 1.0));
        assert!(pts.len() > 40 && pts.len() < 70, "{}", pts.len());
        assert!(pts.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1));
    }

    #[test]
    fn terms_csv_reads_back_and_bad_lines_are_named() {
        let t = read_terms_csv("t,term_bits_per_dim\n0,1.5\n2,0.25\n").unwrap();
        assert_eq!(t.len(), 3);
        assert!(t[1].is_nan());
        assert_eq!(
            read_terms_csv("t,x\n0,abc\n").unwrap_err(),
            "line 2: \"abc\" is not a number"
        );
        assert!(read_terms_csv("t,x\n").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_mean_and_standard_error() {
        let f = Figure::of(&[1.0, 2.0, 3.0, 4.0]);
        assert!((f.mean - 2.5).abs() < 1e-12);
        // sample variance 5/3, SE = sqrt(5/12)
        assert!((f.se - (5.0f64 / 12.0).sqrt()).abs() < 1e-12);
        let b = Figure { mean: 1.0, se: 0.1 }.scaled(Unit::BitsPerDim);
        assert!((b.mean - 1.0 / std::f64::consts::LN_2).abs() < 1e-12);
    }
}
