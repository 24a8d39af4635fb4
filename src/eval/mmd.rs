//! The maximum mean discrepancy (MMD) between two point clouds under a Gaussian (RBF)
//! kernel: MMD² = E k(x, x') + E k(y, y') − 2 E k(x, y). The estimate here is the unbiased
//! one (diagonal terms left out), so it can be slightly negative when the sets agree;
//! [`mmd`] reports √max(0, MMD²).
//!
//! The kernel is a mixture of three RBF kernels of bandwidths h/2, h and 2h, where h is the
//! median distance between pairs of reference points (the "median heuristic"); the mixture
//! makes the figure less sensitive to the choice of h.
//!
//! [`mmd2_with_se`] also gives the estimate's standard error, so that a figure its sample
//! size cannot tell from zero is reported as such rather than as a perfect 0.

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
            total += kernel(gammas, sq_dist(x, y));
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

/// The unbiased MMD² with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmd2 {
    pub value: f64,
    pub se: f64,
}

impl Mmd2 {
    /// Whether the estimate stands out from zero: more than two standard errors above it.
    pub fn resolved(&self) -> bool {
        self.value > 2.0 * self.se
    }

    /// √max(0, MMD²).
    pub fn mmd(&self) -> f64 {
        self.value.max(0.0).sqrt()
    }

    /// The MMD's standard error (delta method: SE(MMD²) / 2·MMD); NaN when unresolved.
    pub fn mmd_se(&self) -> f64 {
        if self.resolved() {
            self.se / (2.0 * self.mmd())
        } else {
            f64::NAN
        }
    }

    /// An upper bound on the MMD at about 95%: √max(0, MMD² + 2·SE).
    pub fn mmd_upper(&self) -> f64 {
        (self.value + 2.0 * self.se).max(0.0).sqrt()
    }
}

/// The kernel mixture at squared distance `d2`.
fn kernel(gammas: &[f64], d2: f64) -> f64 {
    gammas.iter().map(|g| (-g * d2).exp()).sum::<f64>() / gammas.len() as f64
}

/// [`mmd2_unbiased`] with its standard error. The error is that of the U-statistic over
/// pairs z_i = (a_i, b_i) of the first min(n_a, n_b) rows, with kernel
/// h(z_i, z_j) = k(a_i, a_j) + k(b_i, b_j) − k(a_i, b_j) − k(a_j, b_i): Hoeffding's
/// Var U = 4(m − 2)/(m(m − 1)) ζ₁ + 2/(m(m − 1)) ζ₂, with ζ₁ estimated by the variance of
/// each pair's mean h and ζ₂ by the variance of h. The second term keeps the error honest
/// when the sets agree (ζ₁ = 0). NaN when either set has fewer than 2 rows.
pub fn mmd2_with_se(a: &[f32], b: &[f32], dim: usize, h: f64) -> Mmd2 {
    let value = mmd2_unbiased(a, b, dim, h);
    let ra: Vec<&[f32]> = a.chunks_exact(dim.max(1)).collect();
    let rb: Vec<&[f32]> = b.chunks_exact(dim.max(1)).collect();
    let m = ra.len().min(rb.len());
    if value.is_nan() || m < 3 {
        return Mmd2 {
            value,
            se: f64::NAN,
        };
    }
    let gammas: Vec<f64> = SCALES
        .iter()
        .map(|s| 1.0 / (2.0 * (s * h).powi(2)))
        .collect();
    let k = |x: &[f32], y: &[f32]| kernel(&gammas, sq_dist(x, y));
    let mut row = vec![0.0f64; m];
    let (mut sum, mut sum2) = (0.0f64, 0.0f64);
    for i in 0..m {
        for j in i + 1..m {
            let hij = k(ra[i], ra[j]) + k(rb[i], rb[j]) - k(ra[i], rb[j]) - k(ra[j], rb[i]);
            row[i] += hij;
            row[j] += hij;
            sum += hij;
            sum2 += hij * hij;
        }
    }
    let mf = m as f64;
    let pairs = mf * (mf - 1.0) / 2.0;
    let mean = sum / pairs;
    let zeta2 = (sum2 / pairs - mean * mean).max(0.0);
    let zeta1 = row
        .iter()
        .map(|r| (r / (mf - 1.0) - mean).powi(2))
        .sum::<f64>()
        / (mf - 1.0);
    let var = 4.0 * (mf - 2.0) / (mf * (mf - 1.0)) * zeta1 + 2.0 / (mf * (mf - 1.0)) * zeta2;
    Mmd2 {
        value,
        se: var.sqrt(),
    }
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

    #[test]
    fn the_standard_error_tells_a_small_sample_from_a_real_difference() {
        // 500 points from one distribution: the estimate is within noise of zero, and
        // must say so rather than read as a perfect match
        let a = normal(1, 500, 0.0);
        let b = normal(2, 500, 0.0);
        let h = median_distance(&a, 2);
        let same = mmd2_with_se(&a, &b, 2, h);
        println!("same: {same:?}");
        assert!(same.se > 0.0 && same.se.is_finite(), "{same:?}");
        assert!(!same.resolved(), "{same:?}");
        assert!(same.mmd_se().is_nan());
        assert!(
            same.mmd_upper() > 0.0,
            "an unresolved MMD still has an upper bound"
        );
        // a shift of a third of a standard deviation stands out
        let c = normal(3, 500, 0.33);
        let shifted = mmd2_with_se(&a, &c, 2, h);
        println!("shifted: {shifted:?}");
        assert!(shifted.resolved(), "{shifted:?}");
        assert!(shifted.mmd_se() > 0.0 && shifted.mmd_se() < shifted.mmd());
        assert_eq!(shifted.value, mmd2_unbiased(&a, &c, 2, h));
    }
}
