//! `shapes`: circles, squares, triangles and crosses with random position, size and colour
//! on a plain background. RGB; the label is the kind of shape. No download needed.

use super::{DataError, Dataset, Source, Split};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

pub const SHAPE_NAMES: [&str; 4] = ["circle", "square", "triangle", "cross"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapesConfig {
    /// Side length (32 by default).
    #[serde(default = "default_size")]
    pub size: u32,
    /// Number of training images.
    #[serde(default = "default_count")]
    pub count: usize,
}

fn default_size() -> u32 {
    32
}

fn default_count() -> usize {
    20_000
}

/// Signed distance (in pixels) from p to the shape of `kind` centred at c with radius r.
fn sdf(kind: usize, p: (f64, f64), c: (f64, f64), r: f64) -> f64 {
    let (x, y) = (p.0 - c.0, p.1 - c.1);
    match kind {
        0 => (x * x + y * y).sqrt() - r,
        1 => x.abs().max(y.abs()) - r * 0.85,
        2 => {
            // equilateral triangle pointing up (image y grows downwards), circumradius r:
            // the intersection of three half-planes at the inradius r/2
            let k = 3f64.sqrt() / 2.0;
            let d1 = y - r / 2.0;
            let d2 = k * x - 0.5 * y - r / 2.0;
            let d3 = -k * x - 0.5 * y - r / 2.0;
            d1.max(d2).max(d3)
        }
        _ => {
            let arm = r * 0.3;
            let bar1 = (x.abs() - r).max(y.abs() - arm);
            let bar2 = (x.abs() - arm).max(y.abs() - r);
            bar1.min(bar2)
        }
    }
}

impl ShapesConfig {
    pub(crate) fn generate(&self, seed: u64, n: usize) -> Dataset {
        let size = self.size as usize;
        let mut r = Rng::new(seed);
        let mut values = Vec::with_capacity(n * 3 * size * size);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let kind = r.below(4);
            let s = self.size as f64;
            let radius = r.range(0.15, 0.3) * s;
            let c = (r.range(radius, s - radius), r.range(radius, s - radius));
            let bg: [f64; 3] = std::array::from_fn(|_| r.range(-0.9, -0.3));
            let fg: [f64; 3] = loop {
                let f: [f64; 3] = std::array::from_fn(|_| r.range(-1.0, 1.0));
                if f.iter().cloned().fold(f64::MIN, f64::max) > 0.2 {
                    break f;
                }
            };
            let mut img = vec![0f32; 3 * size * size];
            for py in 0..size {
                for px in 0..size {
                    let d = sdf(kind, (px as f64 + 0.5, py as f64 + 0.5), c, radius);
                    let cover = (0.5 - d).clamp(0.0, 1.0);
                    for ch in 0..3 {
                        img[ch * size * size + py * size + px] =
                            (bg[ch] + (fg[ch] - bg[ch]) * cover) as f32;
                    }
                }
            }
            values.extend_from_slice(&img);
            labels.push(kind as u8);
        }
        Dataset::images(
            format!("shapes {0}×{0}", self.size),
            [3, self.size as i64, self.size as i64],
            values,
            Some(labels),
        )
    }
}

impl Source for ShapesConfig {
    fn load(&self, seed: u64, split: Split) -> Result<Dataset, DataError> {
        if self.size < 8 || self.size > 128 {
            return Err(DataError::Size {
                what: "shapes",
                min: 8,
                max: 128,
                usual: "",
                got: self.size,
            });
        }
        let n = match split {
            Split::Train => self.count,
            Split::Held(n) => n,
        };
        Ok(self.generate(split.seed(seed), n))
    }

    fn describe(&self) -> String {
        format!(
            "shapes: circles, squares, triangles, crosses, {0}×{0} RGB, {1} images",
            self.size, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_drawn_with_some_area() {
        let d = ShapesConfig {
            size: 32,
            count: 100,
        }
        .generate(3, 100);
        let area = |i: usize| {
            // pixels whose colour differs from the corner (background)
            let img = d.item(i);
            let hw = 32 * 32;
            (0..hw)
                .filter(|&p| (0..3).any(|c| (img[c * hw + p] - img[c * hw]).abs() > 0.1))
                .count()
        };
        for kind in 0..4u8 {
            let i = d
                .labels
                .as_ref()
                .unwrap()
                .iter()
                .position(|&l| l == kind)
                .unwrap();
            let a = area(i);
            println!("{}: {a} pixels", SHAPE_NAMES[kind as usize]);
            assert!(
                (20..800).contains(&a),
                "{} area {a}",
                SHAPE_NAMES[kind as usize]
            );
        }
    }
}
