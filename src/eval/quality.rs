//! Sample-quality figures: how close a model's samples are to fresh data, each also given
//! as a ratio against N(0, I) noise in place of the samples, so that 1 reads "as far as
//! noise" and 0 "indistinguishable from data".
//!
//! [`Quality`] has one variant per kind of data; 2-D (and other point) data use the sliced
//! Wasserstein-1 distance and an RBF-kernel MMD.

use super::mmd::{median_distance, mmd};
use super::sliced::sliced_wasserstein;
use crate::rng::Rng;

/// Random directions for the sliced Wasserstein distance.
pub const SW_DIRECTIONS: usize = 128;

/// Sample-quality figures of one model.
#[derive(Debug, Clone, PartialEq)]
pub enum Quality {
    Points(PointQuality),
}

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
}

impl PointQuality {
    pub fn sw1_ratio(&self) -> f64 {
        self.sw1 / self.sw1_noise
    }

    pub fn mmd_ratio(&self) -> f64 {
        self.mmd / self.mmd_noise
    }
}

/// Compares `samples` with `data` (both rows of `dim` values); the noise reference has as
/// many rows as `samples` and is drawn from `seed`, as are the SW directions.
pub fn point_quality(samples: &[f32], data: &[f32], dim: usize, seed: u64) -> PointQuality {
    let mut r = Rng::new(seed);
    let noise: Vec<f32> = (0..samples.len()).map(|_| r.normal() as f32).collect();
    let sw_seed = seed.wrapping_add(1);
    let h = median_distance(data, dim);
    PointQuality {
        samples: samples.len() / dim.max(1),
        data: data.len() / dim.max(1),
        sw1: sliced_wasserstein(samples, data, dim, SW_DIRECTIONS, sw_seed),
        sw1_noise: sliced_wasserstein(&noise, data, dim, SW_DIRECTIONS, sw_seed),
        mmd: mmd(samples, data, dim, h),
        mmd_noise: mmd(&noise, data, dim, h),
        bandwidth: h,
    }
}

#[cfg(test)]
mod tests {
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
}
