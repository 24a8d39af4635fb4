//! Classifier-free guidance (Ho & Salimans 2021). One network learns p(x | c) and p(x):
//! training replaces a share of the labels by "no class" (`train.label_dropout`). Sampling
//! mixes the two outputs at every step,
//!
//!   ε̂ = ε̂(x, ∅) + w (ε̂(x, c) − ε̂(x, ∅)),
//!
//! in one batched network call of 2n items (the conditional half, then the unconditional
//! one), as diffusers' pipelines do. w = 1 is the conditional model (one call of n), w = 0
//! the unconditional one (one call of n with "no class"). The mix applies to the mean's
//! channels whatever the prediction (ε, x_0 or v: each is linear in the output at fixed
//! x_t); a learned variance comes from the conditional half, as in GLIDE.
//!
//! Guidance is a wrapper around the model, so every sampler is guided the same way.

use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;
use tch::{Device, Kind, Tensor};

/// Which classes a guided run draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ClassChoice {
    /// Every class, in blocks of ⌈n/K⌉ items ([`ClassChoice::row_length`]): a grid with
    /// rows of that length shows one class per row (n = K·m fills every row).
    #[default]
    All,
    /// One class, for every item.
    One(u16),
}

impl ClassChoice {
    /// Parses `all` or a class number.
    pub fn parse(s: &str) -> Option<ClassChoice> {
        if s == "all" {
            return Some(ClassChoice::All);
        }
        s.parse().ok().map(ClassChoice::One)
    }

    /// The label of each of `n` items for a model of `classes` classes.
    pub fn labels(self, n: usize, classes: usize) -> Vec<i64> {
        match self {
            ClassChoice::One(c) => vec![c as i64; n],
            ClassChoice::All => {
                let row = Self::row_length(n, classes);
                (0..n)
                    .map(|i| (i / row).min(classes.saturating_sub(1)) as i64)
                    .collect()
            }
        }
    }

    /// The items of each class of `All` for `n` items of `classes` classes, ⌈n/K⌉: the
    /// columns of a grid with one row per class.
    pub fn row_length(n: usize, classes: usize) -> usize {
        n.div_ceil(classes.max(1)).max(1)
    }
}

impl fmt::Display for ClassChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassChoice::All => f.write_str("all classes"),
            ClassChoice::One(c) => write!(f, "class {c}"),
        }
    }
}

/// How a class-conditional model is sampled: the guidance scale w and the classes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Guidance {
    /// w ≥ 0: 0 is the unconditional model, 1 the conditional one, above 1 guided.
    pub scale: f64,
    pub class: ClassChoice,
}

impl Default for Guidance {
    fn default() -> Self {
        Guidance {
            scale: 1.0,
            class: ClassChoice::All,
        }
    }
}

/// A guidance setting that cannot be run; the front end names the flag or field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GuidanceError {
    #[error("the guidance scale w must be a number ≥ 0, got {0}")]
    Scale(f64),
    #[error("class {class} is out of range: the model has classes 0 to {}", classes - 1)]
    Class { class: u16, classes: usize },
}

impl Guidance {
    /// Checks the setting against a model of `classes` classes.
    pub fn check(&self, classes: usize) -> Result<(), GuidanceError> {
        if !(self.scale >= 0.0 && self.scale.is_finite()) {
            return Err(GuidanceError::Scale(self.scale));
        }
        match self.class {
            ClassChoice::One(c) if c as usize >= classes => {
                Err(GuidanceError::Class { class: c, classes })
            }
            _ => Ok(()),
        }
    }

    /// Whether a step takes two network evaluations per item (batched into one call).
    pub fn doubles_batch(&self) -> bool {
        self.scale != 0.0 && self.scale != 1.0
    }

    /// "class 3, w 3" or "all classes, w 0".
    pub fn describe(&self) -> String {
        format!("{}, w {}", self.class, self.scale)
    }
}

/// The two halves of the last guided call, for observers that show what guidance does:
/// the conditional and the unconditional output at the same x_t.
#[derive(Default)]
pub struct GuidedOutputs {
    last: RefCell<Option<(Tensor, Tensor)>>,
}

impl GuidedOutputs {
    /// The conditional and unconditional outputs of the last call (None before the first
    /// call, or when w is 0 or 1 and only one half was computed).
    pub fn take(&self) -> Option<(Tensor, Tensor)> {
        self.last.borrow_mut().take()
    }
}

/// The guided model for a batch of items labelled `labels` (int64 [n], on the device):
/// a closure (x_t, t) → output that the samplers call like any model. `net` maps (x_t,
/// t, labels) to the network's output; the label `classes` is "no class". `channels` is the
/// item's channels (coordinates for points): the mean's part of the output, which is mixed;
/// the rest (a learned variance's) is the conditional half's. With `keep`, each call's
/// two halves are kept there ([`GuidedOutputs::take`]).
pub fn guided<'a>(
    mut net: impl FnMut(&Tensor, &Tensor, &Tensor) -> Tensor + 'a,
    labels: Tensor,
    classes: usize,
    scale: f64,
    channels: i64,
    keep: Option<&'a GuidedOutputs>,
) -> impl FnMut(&Tensor, &Tensor) -> Tensor + 'a {
    let n = labels.size()[0];
    let device: Device = labels.device();
    let null = Tensor::full([n], classes as i64, (Kind::Int64, device));
    let both = Tensor::cat(&[&labels, &null], 0);
    move |x: &Tensor, t: &Tensor| {
        if scale == 1.0 {
            return net(x, t, &labels);
        }
        if scale == 0.0 {
            return net(x, t, &null);
        }
        let out = net(&Tensor::cat(&[x, x], 0), &Tensor::cat(&[t, t], 0), &both);
        let halves = out.chunk(2, 0);
        let (cond, uncond) = (&halves[0], &halves[1]);
        let mixed = mix(cond, uncond, scale, channels);
        if let Some(k) = keep {
            *k.last.borrow_mut() = Some((cond.shallow_clone(), uncond.shallow_clone()));
        }
        mixed
    }
}

/// ε̂(∅) + w (ε̂(c) − ε̂(∅)) on the first `channels` channels; the rest from `cond`.
pub fn mix(cond: &Tensor, uncond: &Tensor, scale: f64, channels: i64) -> Tensor {
    let total = cond.size()[1];
    let mean = |o: &Tensor| o.narrow(1, 0, channels);
    let mixed = mean(uncond) + (mean(cond) - mean(uncond)) * scale;
    if total == channels {
        mixed
    } else {
        Tensor::cat(&[mixed, cond.narrow(1, channels, total - channels)], 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_classes_come_in_equal_blocks() {
        assert_eq!(ClassChoice::All.labels(6, 3), vec![0, 0, 1, 1, 2, 2]);
        // 7 per row for 64 of 10 classes: the last row holds one
        let l = ClassChoice::All.labels(64, 10);
        assert_eq!((l[6], l[7], l[62], l[63]), (0, 1, 8, 9));
        assert_eq!(ClassChoice::All.labels(3, 10), vec![0, 1, 2]);
        assert_eq!(ClassChoice::One(2).labels(3, 10), vec![2, 2, 2]);
        assert_eq!(ClassChoice::parse("all"), Some(ClassChoice::All));
        assert_eq!(ClassChoice::parse("7"), Some(ClassChoice::One(7)));
        assert_eq!(ClassChoice::parse("x"), None);
    }

    #[test]
    fn the_check_names_the_problem() {
        let g = |scale, class| Guidance { scale, class };
        assert!(g(0.0, ClassChoice::One(9)).check(10).is_ok());
        assert_eq!(
            g(1.0, ClassChoice::One(10))
                .check(10)
                .unwrap_err()
                .to_string(),
            "class 10 is out of range: the model has classes 0 to 9"
        );
        assert!(g(-1.0, ClassChoice::All).check(10).is_err());
        assert!(g(f64::NAN, ClassChoice::All).check(10).is_err());
    }

    #[test]
    fn one_batched_call_mixes_the_halves() {
        // A "network" whose output is its label (as a float) in the first channel and 5
        // in the variance channel.
        let calls = std::cell::Cell::new(0);
        let mut net = |x: &Tensor, _t: &Tensor, y: &Tensor| {
            calls.set(calls.get() + 1);
            assert_eq!(x.size()[0], y.size()[0]);
            let first = y.to_kind(Kind::Float).reshape([-1, 1]);
            Tensor::cat(&[first, x.ones_like() * 5.0], 1)
        };
        let labels = Tensor::from_slice(&[2i64, 4]);
        let keep = GuidedOutputs::default();
        let mut m = guided(&mut net, labels, 10, 3.0, 1, Some(&keep));
        let x = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
        let t = Tensor::zeros([2], (Kind::Int64, Device::Cpu));
        let out = m(&x, &t);
        // ∅ is 10: 10 + 3 (2 − 10) = −14; 10 + 3 (4 − 10) = −8
        let v: Vec<f32> = Vec::try_from(out.flatten(0, -1)).unwrap();
        assert_eq!(v, vec![-14.0, 5.0, -8.0, 5.0]);
        assert_eq!(calls.get(), 1);
        assert!(keep.take().is_some());
    }
}
