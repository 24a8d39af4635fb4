//! Sample-quality figures: how close a model's samples are to fresh data, each also given
//! as a ratio against N(0, I) noise in place of the samples, so that 1 reads "as far as
//! noise" and 0 "indistinguishable from data".
//!
//! 2-D (and other point) data use the sliced Wasserstein-1 distance and an RBF-kernel MMD, with the MMD's standard error and the
//! share of samples far outside the data: a bounded kernel barely sees a few samples that
//! blew up, so that figure is given on its own.

use super::mmd::{median_distance, mmd, mmd2_with_se, Mmd2};
use super::sliced::sliced_wasserstein;
use crate::rng::Rng;

/// Random directions for the sliced Wasserstein distance.
pub const SW_DIRECTIONS: usize = 128;

/// A sample is "far out" beyond this many times the data's largest distance from its mean.
pub const FAR_FACTOR: f64 = 2.0;

/// Figures for point data (rows of `dim` values).
#[derive(Debug, Clone, PartialEq)]
pub struct PointQuality {
    pub samples: usize,
    pub data: usize,
    /// Sliced W1(samples, data) and sliced W1(noise, data).
    pub sw1: f64,
    pub sw1_noise: f64,
    /// MMD(samples, data) and MMD(noise, data), same kernel.
    pub mmd: f64,
    pub mmd_noise: f64,
    /// The kernel's median-heuristic bandwidth h (the mixture uses h/2, h, 2h).
    pub bandwidth: f64,
    /// MMD²(samples, data) with its standard error (`mmd` is its square root).
    pub mmd2: Mmd2,
    /// The data's largest distance from its mean.
    pub data_radius: f64,
    /// The samples' largest distance from the data's mean (infinite if one is not finite).
    pub sample_radius: f64,
    /// Samples farther than [`FAR_FACTOR`] × `data_radius` from the data's mean.
    pub far: usize,
}

impl PointQuality {
    pub fn sw1_ratio(&self) -> f64 {
        self.sw1 / self.sw1_noise
    }

    pub fn mmd_ratio(&self) -> f64 {
        self.mmd / self.mmd_noise
    }
}

/// The mean of the rows of `points`.
fn centre(points: &[f32], dim: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; dim];
    let mut n = 0usize;
    for row in points.chunks_exact(dim.max(1)) {
        if row.iter().all(|v| v.is_finite()) {
            c.iter_mut().zip(row).for_each(|(c, v)| *c += *v as f64);
            n += 1;
        }
    }
    c.iter_mut().for_each(|c| *c /= n.max(1) as f64);
    c
}

/// Each row's distance from `c` (infinite for a row that is not finite).
fn radii<'a>(points: &'a [f32], c: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
    points.chunks_exact(c.len().max(1)).map(move |row| {
        let d = row
            .iter()
            .zip(c)
            .map(|(v, c)| (*v as f64 - c).powi(2))
            .sum::<f64>()
            .sqrt();
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
    })
}

/// Compares `samples` with `data` (both rows of `dim` values); the noise reference has as
/// many rows as `samples` and is drawn from `seed`, as are the SW directions.
pub fn point_quality(samples: &[f32], data: &[f32], dim: usize, seed: u64) -> PointQuality {
    let mut r = Rng::new(seed);
    let noise: Vec<f32> = (0..samples.len()).map(|_| r.normal() as f32).collect();
    let sw_seed = seed.wrapping_add(1);
    let h = median_distance(data, dim);
    let c = centre(data, dim);
    let data_radius = radii(data, &c)
        .filter(|r| r.is_finite())
        .fold(0.0, f64::max);
    let sample_radius = radii(samples, &c).fold(0.0, f64::max);
    let far = radii(samples, &c)
        .filter(|r| *r > FAR_FACTOR * data_radius)
        .count();
    PointQuality {
        samples: samples.len() / dim.max(1),
        data: data.len() / dim.max(1),
        sw1: sliced_wasserstein(samples, data, dim, SW_DIRECTIONS, sw_seed),
        sw1_noise: sliced_wasserstein(&noise, data, dim, SW_DIRECTIONS, sw_seed),
        mmd: mmd(samples, data, dim, h),
        mmd_noise: mmd(&noise, data, dim, h),
        bandwidth: h,
        mmd2: mmd2_with_se(samples, data, dim, h),
        data_radius,
        sample_radius,
        far,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn data_against_itself_scores_near_zero_and_noise_near_one() {
        let mut r = Rng::new(5);
        // a ring of radius 2: far from N(0, I)
        let ring = |r: &mut Rng| -> Vec<f32> {
            (0..1000)
                .flat_map(|_| {
                    let a = r.uniform() * std::f64::consts::TAU;
                    [(2.0 * a.cos()) as f32, (2.0 * a.sin()) as f32]
                })
                .collect()
        };
        let data = ring(&mut r);
        let more = ring(&mut r);
        let q = point_quality(&more, &data, 2, 9);
        println!(
            "ring vs ring: SW1 ratio {:.3}, MMD ratio {:.3}",
            q.sw1_ratio(),
            q.mmd_ratio()
        );
        assert!(q.sw1_ratio() < 0.1 && q.mmd_ratio() < 0.2, "{q:?}");
        let mut n = Rng::new(77);
        let noise: Vec<f32> = (0..2000).map(|_| n.normal() as f32).collect();
        let q = point_quality(&noise, &data, 2, 9);
        println!(
            "noise vs ring: SW1 ratio {:.3}, MMD ratio {:.3}",
            q.sw1_ratio(),
            q.mmd_ratio()
        );
        assert!((q.sw1_ratio() - 1.0).abs() < 0.15 && (q.mmd_ratio() - 1.0).abs() < 0.15);
    }

    /// Points on a circle of radius 2, from `seed`.
    pub(crate) fn ring(seed: u64, n: usize) -> Vec<f32> {
        let mut r = Rng::new(seed);
        (0..n)
            .flat_map(|_| {
                let a = r.uniform() * std::f64::consts::TAU;
                [(2.0 * a.cos()) as f32, (2.0 * a.sin()) as f32]
            })
            .collect()
    }

    #[test]
    fn samples_that_blew_up_are_counted_even_when_the_mmd_looks_fine() {
        let data = ring(5, 2000);
        let mut samples = ring(6, 2000);
        // 9 of 2000 samples far out, one of them at |x| ≈ 7597
        for i in 0..9 {
            samples[2 * i] = 7597.0 - 100.0 * i as f32;
        }
        let q = point_quality(&samples, &data, 2, 9);
        println!("{q:?}");
        assert_eq!(q.far, 9);
        assert!((q.data_radius - 2.0).abs() < 0.05, "{}", q.data_radius);
        assert!(q.sample_radius > 7590.0, "{}", q.sample_radius);
        assert!(
            q.mmd_ratio() < 0.2,
            "the MMD hardly sees them: {}",
            q.mmd_ratio()
        );
    }

    #[test]
    fn an_mmd_the_sample_size_cannot_resolve_is_told_apart() {
        let data = ring(5, 500);
        let samples = ring(6, 500);
        let q = point_quality(&samples, &data, 2, 9);
        println!("{q:?}");
        assert!(!q.mmd2.resolved(), "{:?}", q.mmd2);
        assert!(q.mmd2.mmd_upper() > 0.0 && q.mmd2.mmd_se().is_nan());
        // a real difference is resolved, with a standard error
        let wide: Vec<f32> = ring(6, 500).iter().map(|v| v * 1.5).collect();
        let q = point_quality(&wide, &data, 2, 9);
        println!("{q:?}");
        assert!(q.mmd2.resolved() && q.mmd2.mmd_se() > 0.0);
    }
}
