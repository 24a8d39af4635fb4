//! Bounded loss history. Points are kept at a stride that doubles whenever the buffer is
//! full (neighbouring points are averaged), so a million steps costs no more memory than a
//! thousand.

/// A downsampled series of (step, value).
#[derive(Debug, Clone)]
pub struct Series {
    points: Vec<(f64, f64)>,
    cap: usize,
    /// How many raw points each stored point averages.
    stride: usize,
    pending: (f64, f64, usize),
}

impl Series {
    pub fn new(cap: usize) -> Series {
        Series {
            points: Vec::with_capacity(cap),
            cap: cap.max(4) & !1,
            stride: 1,
            pending: (0.0, 0.0, 0),
        }
    }

    pub fn push(&mut self, x: f64, y: f64) {
        if !y.is_finite() {
            return;
        }
        let p = &mut self.pending;
        p.0 += x;
        p.1 += y;
        p.2 += 1;
        if p.2 >= self.stride {
            let n = p.2 as f64;
            self.points.push((p.0 / n, p.1 / n));
            self.pending = (0.0, 0.0, 0);
            if self.points.len() >= self.cap {
                self.points = self
                    .points
                    .chunks(2)
                    .map(|c| {
                        let n = c.len() as f64;
                        (
                            c.iter().map(|p| p.0).sum::<f64>() / n,
                            c.iter().map(|p| p.1).sum::<f64>() / n,
                        )
                    })
                    .collect();
                self.stride *= 2;
            }
        }
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn last(&self) -> Option<(f64, f64)> {
        self.points.last().copied()
    }

    /// The smallest and largest value.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        let mut it = self.points.iter().map(|p| p.1);
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
    }
}

/// Raw loss, its exponential moving average and the per-quarter-of-t losses.
#[derive(Debug, Clone)]
pub struct LossHistory {
    pub raw: Series,
    pub smooth: Series,
    pub quarters: [Series; 4],
    ema: Option<f64>,
}

/// Points kept per series.
pub const HISTORY_POINTS: usize = 1024;

impl Default for LossHistory {
    fn default() -> Self {
        LossHistory {
            raw: Series::new(HISTORY_POINTS),
            smooth: Series::new(HISTORY_POINTS),
            quarters: std::array::from_fn(|_| Series::new(HISTORY_POINTS)),
            ema: None,
        }
    }
}

impl LossHistory {
    pub fn push(&mut self, step: u64, loss: f64, quarters: &[Option<f64>; 4]) {
        let x = step as f64;
        if loss.is_finite() {
            self.raw.push(x, loss);
            let e = match self.ema {
                None => loss,
                Some(e) => 0.9 * e + 0.1 * loss,
            };
            self.ema = Some(e);
            self.smooth.push(x, e);
        }
        for (s, q) in self.quarters.iter_mut().zip(quarters) {
            if let Some(v) = q {
                s.push(x, *v);
            }
        }
    }

    pub fn smoothed(&self) -> Option<f64> {
        self.ema
    }
}
