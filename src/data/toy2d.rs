//! 2-D toy distributions, generated from a seed and scaled to roughly unit variance.

use super::{DataError, Dataset, Source, Split};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Toy2dShape {
    /// A 2-D swiss roll (the x–z plane of scikit-learn's `make_swiss_roll`).
    SwissRoll,
    /// Two interleaving half circles (scikit-learn's `make_moons`).
    Moons,
    /// Eight Gaussians on a circle.
    EightGaussians,
    /// A 4×4 checkerboard of uniform squares (as in FFJORD).
    Checkerboard,
    /// Three concentric rings.
    Rings,
}

impl Toy2dShape {
    pub fn name(self) -> &'static str {
        match self {
            Toy2dShape::SwissRoll => "swiss roll",
            Toy2dShape::Moons => "two moons",
            Toy2dShape::EightGaussians => "eight gaussians",
            Toy2dShape::Checkerboard => "checkerboard",
            Toy2dShape::Rings => "concentric rings",
        }
    }

    /// The number of classes of a shape made of components (eight gaussians: the
    /// Gaussian, 0 at angle 0 counter-clockwise; rings: the ring, 0 innermost); None for the
    /// others.
    pub fn classes(self) -> Option<usize> {
        match self {
            Toy2dShape::EightGaussians => Some(8),
            Toy2dShape::Rings => Some(3),
            _ => None,
        }
    }

    /// Divides raw points so that the per-coordinate variance is about 1.
    fn scale(self) -> f64 {
        match self {
            Toy2dShape::SwissRoll => 6.8,
            Toy2dShape::Moons => 0.75,
            Toy2dShape::EightGaussians => 1.43,
            Toy2dShape::Checkerboard => 2.3,
            Toy2dShape::Rings => 1.15,
        }
    }

    /// One raw (unscaled) point; `noise` is the standard deviation of the Gaussian jitter
    /// in the units of the scaled data.
    fn point(self, r: &mut Rng, noise: f64) -> (f64, f64, u8) {
        let mut label = 0u8;
        let (x, y) = match self {
            Toy2dShape::SwissRoll => {
                let t = 1.5 * PI * (1.0 + 2.0 * r.uniform());
                (t * t.cos() - 1.9, t * t.sin() - 0.25)
            }
            Toy2dShape::Moons => {
                let a = PI * r.uniform();
                if r.uniform() < 0.5 {
                    (a.cos() - 0.5, a.sin() - 0.25)
                } else {
                    (0.5 - a.cos(), 0.25 - a.sin())
                }
            }
            Toy2dShape::EightGaussians => {
                let k = r.below(8);
                label = k as u8;
                let a = k as f64 * PI / 4.0;
                (
                    2.0 * a.cos() + 0.2 * r.normal(),
                    2.0 * a.sin() + 0.2 * r.normal(),
                )
            }
            Toy2dShape::Checkerboard => {
                let x = r.range(-2.0, 2.0);
                let y = r.uniform() - 2.0 * r.below(2) as f64 + (x.floor().rem_euclid(2.0));
                (x * 2.0, y * 2.0)
            }
            Toy2dShape::Rings => {
                let ring = r.below(3);
                label = ring as u8;
                let radius = [0.75, 1.5, 2.25][ring];
                let a = 2.0 * PI * r.uniform();
                (radius * a.cos(), radius * a.sin())
            }
        };
        let s = self.scale();
        (
            x / s + noise * r.normal(),
            y / s + noise * r.normal(),
            label,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toy2dConfig {
    pub shape: Toy2dShape,
    /// Number of training points.
    #[serde(default = "default_points")]
    pub points: usize,
    /// Standard deviation of the Gaussian jitter added to each point (after scaling).
    #[serde(default)]
    pub noise: f64,
}

fn default_points() -> usize {
    20_000
}

impl Toy2dConfig {
    /// `n` points drawn with the given seed.
    #[cfg(test)]
    fn generate(&self, seed: u64, n: usize) -> Vec<f32> {
        self.generate_labelled(seed, n).0
    }

    /// `n` points drawn with the given seed, and the component each came from.
    pub(crate) fn generate_labelled(&self, seed: u64, n: usize) -> (Vec<f32>, Vec<u8>) {
        let mut r = Rng::new(seed);
        let mut v = Vec::with_capacity(2 * n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let (x, y, label) = self.shape.point(&mut r, self.noise);
            v.push(x as f32);
            v.push(y as f32);
            labels.push(label);
        }
        (v, labels)
    }
}

impl Source for Toy2dConfig {
    fn load(&self, seed: u64, split: Split) -> Result<Dataset, DataError> {
        let n = match split {
            Split::Train => self.points,
            Split::Held(n) => n,
        };
        let seed = split.seed(seed);
        let (values, labels) = self.generate_labelled(seed, n);
        let mut data = Dataset::points(self.shape.name(), values, 2);
        if self.shape.classes().is_some() {
            data.labels = Some(labels);
        }
        Ok(data)
    }

    fn describe(&self) -> String {
        format!("{} ({} points, 2-D)", self.shape.name(), self.points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_has_roughly_unit_variance() {
        for shape in [
            Toy2dShape::SwissRoll,
            Toy2dShape::Moons,
            Toy2dShape::EightGaussians,
            Toy2dShape::Checkerboard,
            Toy2dShape::Rings,
        ] {
            let cfg = Toy2dConfig {
                shape,
                points: 0,
                noise: 0.0,
            };
            let v = cfg.generate(1, 50_000);
            let n = v.len() / 2;
            let mut var = [0.0f64; 2];
            let mut mean = [0.0f64; 2];
            for i in 0..n {
                for d in 0..2 {
                    mean[d] += v[2 * i + d] as f64 / n as f64;
                }
            }
            for i in 0..n {
                for d in 0..2 {
                    var[d] += (v[2 * i + d] as f64 - mean[d]).powi(2) / n as f64;
                }
            }
            let avg = (var[0] + var[1]) / 2.0;
            println!("{}: mean {:?} var {:?}", shape.name(), mean, var);
            assert!((0.75..=1.25).contains(&avg), "{}: var {avg}", shape.name());
            assert!(
                mean[0].abs() < 0.35 && mean[1].abs() < 0.35,
                "{}",
                shape.name()
            );
        }
    }

    #[test]
    fn components_are_labelled() {
        let cfg = Toy2dConfig {
            shape: Toy2dShape::EightGaussians,
            points: 100,
            noise: 0.0,
        };
        let (v, labels) = cfg.generate_labelled(2, 100);
        for (p, &k) in v.chunks(2).zip(&labels) {
            let a = (p[1] as f64).atan2(p[0] as f64).rem_euclid(2.0 * PI);
            let nearest = ((a / (PI / 4.0)).round() as usize) % 8;
            assert_eq!(nearest, k as usize);
        }
        let rings = Toy2dConfig {
            shape: Toy2dShape::Rings,
            ..cfg
        };
        let (v, labels) = rings.generate_labelled(2, 100);
        for (p, &k) in v.chunks(2).zip(&labels) {
            let r = ((p[0] * p[0] + p[1] * p[1]) as f64).sqrt() * 1.15;
            assert!((r - [0.75, 1.5, 2.25][k as usize]).abs() < 1e-4);
        }
    }

    #[test]
    fn generation_is_seeded() {
        let cfg = Toy2dConfig {
            shape: Toy2dShape::Moons,
            points: 10,
            noise: 0.05,
        };
        assert_eq!(cfg.generate(3, 10), cfg.generate(3, 10));
        assert_ne!(cfg.generate(3, 10), cfg.generate(4, 10));
    }
}
