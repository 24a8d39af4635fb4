//! The sliced Wasserstein-1 distance between two point clouds: the mean, over random unit
//! directions, of the 1-D Wasserstein-1 distance between the projections.

use crate::rng::Rng;

/// W1 between two 1-D empirical distributions: ∫ |F(x) − G(x)| dx.
pub fn wasserstein_1d(a: &mut [f64], b: &mut [f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut last = a[0].min(b[0]);
    let mut total = 0.0;
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        total += (i as f64 / na - j as f64 / nb).abs() * (next - last);
        last = next;
        while i < a.len() && a[i] <= next {
            i += 1;
        }
        while j < b.len() && b[j] <= next {
            j += 1;
        }
    }
    total
}

/// Sliced W1 between point sets `a` and `b` (rows of `dim` values) over `directions` random
/// directions drawn from `seed`.
pub fn sliced_wasserstein(a: &[f32], b: &[f32], dim: usize, directions: usize, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let mut total = 0.0;
    for _ in 0..directions {
        let mut dir: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
        let norm = dir.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        dir.iter_mut().for_each(|x| *x /= norm);
        let project = |p: &[f32]| -> Vec<f64> {
            p.chunks_exact(dim)
                .map(|row| row.iter().zip(&dir).map(|(x, d)| *x as f64 * d).sum())
                .collect()
        };
        total += wasserstein_1d(&mut project(a), &mut project(b));
    }
    total / directions.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_gives_its_length() {
        let mut a = vec![0.0, 1.0, 2.0];
        let mut b = vec![0.5, 1.5, 2.5];
        assert!((wasserstein_1d(&mut a, &mut b) - 0.5).abs() < 1e-12);
        let mut c = vec![0.0, 1.0];
        let mut d = vec![0.0, 0.0, 1.0, 1.0];
        assert!(wasserstein_1d(&mut c, &mut d).abs() < 1e-12);
    }

    #[test]
    fn identical_sets_are_at_zero_and_shifted_sets_are_not() {
        let a: Vec<f32> = (0..200).map(|i| (i as f32 * 0.37).sin()).collect();
        assert!(sliced_wasserstein(&a, &a, 2, 32, 1) < 1e-9);
        let b: Vec<f32> = a.iter().map(|x| x + 1.0).collect();
        // shifting both coordinates by 1 moves each projection by |d·(1,1)| ≤ √2
        let d = sliced_wasserstein(&a, &b, 2, 256, 1);
        assert!(d > 0.5 && d < 1.42, "{d}");
    }
}
