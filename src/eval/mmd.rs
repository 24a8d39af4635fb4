//! The maximum mean discrepancy (MMD) between two point clouds under a Gaussian (RBF)
//! kernel: MMD² = E k(x, x') + E k(y, y') − 2 E k(x, y). The estimate here is the unbiased
//! one (diagonal terms left out), so it can be slightly negative when the sets agree;
//! [`mmd`] reports √max(0, MMD²).
//!
//! The kernel is a mixture of three RBF kernels of bandwidths h/2, h and 2h, where h is the
//! median distance between pairs of reference points (the "median heuristic"); the mixture
//! makes the figure less sensitive to the choice of h.

/// The bandwidth multipliers of the kernel mixture.
pub const SCALES: [f64; 3] = [0.5, 1.0, 2.0];

fn sq_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = *x as f64 - *y as f64;
            d * d
        })
        .sum()
}

/// The median pairwise distance among (at most the first 1000) rows of `points`.
pub fn median_distance(points: &[f32], dim: usize) -> f64 {
    let rows: Vec<&[f32]> = points.chunks_exact(dim.max(1)).take(1000).collect();
    let mut d = Vec::with_capacity(rows.len() * rows.len() / 2);
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            d.push(sq_dist(rows[i], rows[j]).sqrt());
        }
    }
    if d.is_empty() {
        return 1.0;
    }
    d.sort_by(f64::total_cmp);
    let m = d[d.len() / 2];
    if m > 0.0 {
        m
    } else {
        1.0
    }
}

/// Mean of k(a_i, b_j) over all pairs, or over i ≠ j when `same` (a and b are one set).
fn mean_kernel(a: &[&[f32]], b: &[&[f32]], gammas: &[f64], same: bool) -> f64 {
    let mut total = 0.0;
    let mut count = 0usize;
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            if same && i == j {
                continue;
            }
            let d2 = sq_dist(x, y);
            total += gammas.iter().map(|g| (-g * d2).exp()).sum::<f64>() / gammas.len() as f64;
            count += 1;
        }
    }
    total / count.max(1) as f64
}

/// The unbiased estimate of MMD² between the rows of `a` and `b` (`dim` values per row),
/// with the kernel mixture around bandwidth `h`. NaN when either set has fewer than 2 rows.
pub fn mmd2_unbiased(a: &[f32], b: &[f32], dim: usize, h: f64) -> f64 {
    let ra: Vec<&[f32]> = a.chunks_exact(dim.max(1)).collect();
    let rb: Vec<&[f32]> = b.chunks_exact(dim.max(1)).collect();
    if ra.len() < 2 || rb.len() < 2 {
        return f64::NAN;
    }
    let gammas: Vec<f64> = SCALES
        .iter()
        .map(|s| 1.0 / (2.0 * (s * h).powi(2)))
        .collect();
    mean_kernel(&ra, &ra, &gammas, true) + mean_kernel(&rb, &rb, &gammas, true)
        - 2.0 * mean_kernel(&ra, &rb, &gammas, false)
}

/// √max(0, MMD²): the MMD in the kernel's feature space.
pub fn mmd(a: &[f32], b: &[f32], dim: usize, h: f64) -> f64 {
    let m2 = mmd2_unbiased(a, b, dim, h);
    if m2.is_nan() {
        return m2;
    }
    m2.max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn normal(seed: u64, n: usize, shift: f32) -> Vec<f32> {
        let mut r = Rng::new(seed);
        (0..2 * n).map(|_| r.normal() as f32 + shift).collect()
    }

    #[test]
    fn same_distribution_is_near_zero_and_a_shift_is_not() {
        let a = normal(1, 400, 0.0);
        let b = normal(2, 400, 0.0);
        let c = normal(3, 400, 1.0);
        let h = median_distance(&a, 2);
        let same = mmd2_unbiased(&a, &b, 2, h);
        let shifted = mmd2_unbiased(&a, &c, 2, h);
        println!("h {h:.3}: MMD² same {same:.5}, shifted {shifted:.5}");
        assert!(same.abs() < 0.01, "{same}");
        assert!(shifted > 0.05, "{shifted}");
        // √2 is the median distance of two standard normal points in 2-D, roughly
        assert!((h - 1.66).abs() < 0.2, "{h}");
    }
}
