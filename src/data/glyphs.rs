//! `glyphs`: the digits 0–9 drawn from a 5×7 bitmap font defined here, with random scale,
//! rotation, shift, stroke thickness and blur. Grayscale, labels kept. Works anywhere: no
//! download.

use super::{DataError, Dataset, Source, Split};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// The font: 7 rows of 5 columns per digit, `#` for ink.
pub const FONT: [[&str; 7]; 10] = [
    [
        ".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###.",
    ],
    [
        "..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.",
    ],
    [
        ".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####",
    ],
    [
        "####.", "....#", "....#", ".###.", "....#", "....#", "####.",
    ],
    [
        "...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.",
    ],
    [
        "#####", "#....", "####.", "....#", "....#", "#...#", ".###.",
    ],
    [
        "..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###.",
    ],
    [
        "#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#...",
    ],
    [
        ".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###.",
    ],
    [
        ".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##..",
    ],
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlyphsConfig {
    /// Side length: 16 or 28.
    pub size: u32,
    /// Number of training images.
    #[serde(default = "default_count")]
    pub count: usize,
}

fn default_count() -> usize {
    20_000
}

/// Stroke segments of a digit in font units (cell centres at x = col − 2, y = row − 3).
fn segments(digit: usize) -> Vec<[(f64, f64); 2]> {
    let on = |r: i64, c: i64| -> bool {
        (0..7).contains(&r)
            && (0..5).contains(&c)
            && FONT[digit][r as usize].as_bytes()[c as usize] == b'#'
    };
    let p = |r: i64, c: i64| (c as f64 - 2.0, r as f64 - 3.0);
    let mut segs = Vec::new();
    for r in 0..7 {
        for c in 0..5 {
            if !on(r, c) {
                continue;
            }
            let mut linked = false;
            for (dr, dc) in [(0, 1), (1, 0)] {
                if on(r + dr, c + dc) {
                    segs.push([p(r, c), p(r + dr, c + dc)]);
                    linked = true;
                }
            }
            // diagonals only where no orthogonal path already joins the two cells
            for dc in [-1, 1] {
                if on(r + 1, c + dc) && !on(r, c + dc) && !on(r + 1, c) {
                    segs.push([p(r, c), p(r + 1, c + dc)]);
                    linked = true;
                }
            }
            if !linked {
                segs.push([p(r, c), p(r, c)]);
            }
        }
    }
    segs
}

fn dist_to_segment(p: (f64, f64), s: &[(f64, f64); 2]) -> f64 {
    let (a, b) = (s[0], s[1]);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx - p.0, a.1 + t * dy - p.1);
    (qx * qx + qy * qy).sqrt()
}

/// Renders one digit into `out` (size×size, values in [−1, 1]).
fn render(size: u32, r: &mut Rng, segs: &[[(f64, f64); 2]], out: &mut Vec<f32>) {
    let n = size as f64;
    let scale = n / 9.5 * r.range(0.8, 1.1); // pixels per font unit
    let angle = r.range(-0.25, 0.25);
    let (sx, sy) = (r.range(-0.08, 0.08) * n, r.range(-0.08, 0.08) * n);
    let thickness = r.range(0.3, 0.55);
    let blur = r.range(0.15, 0.45);
    let (sin, cos) = angle.sin_cos();
    for py in 0..size {
        for px in 0..size {
            let x = (px as f64 + 0.5 - n / 2.0 - sx) / scale;
            let y = (py as f64 + 0.5 - n / 2.0 - sy) / scale;
            let (u, v) = (cos * x + sin * y, -sin * x + cos * y);
            let d = segs
                .iter()
                .map(|s| dist_to_segment((u, v), s))
                .fold(f64::INFINITY, f64::min);
            let ink = ((thickness - d) / blur + 0.5).clamp(0.0, 1.0);
            out.push((ink * 2.0 - 1.0) as f32);
        }
    }
}

impl GlyphsConfig {
    pub(crate) fn generate(&self, seed: u64, n: usize) -> Dataset {
        let fonts: Vec<_> = (0..10).map(segments).collect();
        let mut r = Rng::new(seed);
        let mut values = Vec::with_capacity(n * (self.size * self.size) as usize);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let d = r.below(10);
            render(self.size, &mut r, &fonts[d], &mut values);
            labels.push(d as u8);
        }
        Dataset::images(
            format!("glyphs {0}×{0}", self.size),
            [1, self.size as i64, self.size as i64],
            values,
            Some(labels),
        )
    }
}

impl Source for GlyphsConfig {
    fn load(&self, seed: u64, split: Split) -> Result<Dataset, DataError> {
        if self.size < 8 || self.size > 64 {
            return Err(DataError::Size {
                what: "glyphs",
                min: 8,
                max: 64,
                usual: " (16 or 28 are usual)",
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
            "glyphs: digits 0–9, {0}×{0} gray, {1} images",
            self.size, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_have_ink_in_the_middle_and_background_at_the_edges() {
        let d = GlyphsConfig {
            size: 16,
            count: 200,
        }
        .generate(1, 200);
        assert_eq!(d.len(), 200);
        let labels = d.labels.as_ref().unwrap();
        for k in 0..10u8 {
            assert!(labels.contains(&k), "digit {k} missing");
        }
        for i in 0..d.len() {
            let img = d.item(i);
            let ink = img.iter().filter(|&&v| v > 0.0).count();
            assert!((10..=140).contains(&ink), "image {i}: {ink} ink pixels");
            assert!(img.iter().all(|v| (-1.0..=1.0).contains(v)));
            assert!(img[0] < -0.9 && img[255] < -0.9, "corners are background");
        }
    }

    #[test]
    fn one_and_eight_differ() {
        let mut r = Rng::new(0);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        render(28, &mut r, &segments(1), &mut a);
        let mut r = Rng::new(0);
        render(28, &mut r, &segments(8), &mut b);
        let ink = |v: &[f32]| v.iter().filter(|&&x| x > 0.0).count();
        assert!(ink(&b) > ink(&a) + 20, "8 has more ink than 1");
    }
}
