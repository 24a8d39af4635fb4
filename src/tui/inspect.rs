//! Data for the process inspector, prepared off the UI thread: the forward process
//! q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) in closed form for a fixed batch of data items,
//! and the frames of a stored reverse trajectory. Plain f32, no tensors.

use crate::config::Preset;
use crate::data::Split;
use crate::diffusion::forward::q_sample_slice;
use crate::diffusion::{state_of, Schedule};
use crate::rng::Rng;
use crate::worker::protocol::Samples;

/// Items in the fixed forward batch: points for 2-D data, images otherwise.
pub const FORWARD_POINTS: usize = 1000;
pub const FORWARD_IMAGES: usize = 16;
/// Data points drawn faintly behind 2-D scatters.
pub const BACKGROUND_POINTS: usize = 2000;

/// A histogram of values over a fixed range.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u32>,
    pub total: usize,
}

impl Histogram {
    pub const RANGE: f64 = 4.0;
    pub const BINS: usize = 40;

    pub fn of(values: &[f32]) -> Histogram {
        let (lo, hi, bins) = (-Self::RANGE, Self::RANGE, Self::BINS);
        let mut counts = vec![0u32; bins];
        let w = (hi - lo) / bins as f64;
        for &v in values {
            let v = v as f64;
            if v.is_finite() && v >= lo && v < hi {
                counts[((v - lo) / w) as usize] += 1;
            }
        }
        Histogram {
            lo,
            hi,
            counts,
            total: values.len(),
        }
    }

    pub(crate) fn bin_width(&self) -> f64 {
        (self.hi - self.lo) / self.counts.len() as f64
    }

    /// (bin centre, density) pairs, normalised like a probability density.
    pub fn density(&self) -> Vec<(f64, f64)> {
        let w = self.bin_width();
        let n = self.total.max(1) as f64;
        self.counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (self.lo + (i as f64 + 0.5) * w, c as f64 / (n * w)))
            .collect()
    }
}

/// The standard normal density.
pub(crate) fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// One frame of the inspector: x_t for the batch (laid out like the data) and, in reverse
/// mode, the model's x̂_0.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The state t in 0..=T (0 is the data, T pure noise); see
    /// [`crate::diffusion::state_of`].
    pub t: usize,
    pub xt: Vec<f32>,
    pub x0: Option<Vec<f32>>,
    /// With classifier-free guidance, the x̂_0 of the conditional and of the unconditional
    /// half at this x_t (reverse frames of a guided run whose w is neither 0 nor 1).
    pub guided: Option<[Vec<f32>; 2]>,
    pub hist: Histogram,
    /// Where a reverse frame sits in its sampler's run (None for forward frames).
    pub trace: Option<Trace>,
}

/// A reverse frame's place in the sampler's run: the step (1-based) of `of`, and σ_t of
/// its x_t. The samples themselves are the frame after the last step (`done`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trace {
    pub step: usize,
    pub of: usize,
    pub sigma: f64,
    /// The learned variance at this step, when the model learns one.
    pub variance: Option<crate::diffusion::sampler::StepVariance>,
    pub done: bool,
}

impl Trace {
    /// "step 7 of 20", or "x_0 after step 20 of 20" for the samples.
    pub fn label(&self) -> String {
        if self.done {
            format!("x_0 after step {} of {}", self.step, self.of)
        } else {
            format!("step {} of {}", self.step, self.of)
        }
    }
}

/// Data about the preset's training set, for the scatters and the forward process.
#[derive(Debug, Clone, PartialEq)]
pub struct DataView {
    /// [C, H, W] for images, [d] for points.
    pub item_shape: Vec<i64>,
    /// Points drawn faintly behind 2-D scatters (empty for images).
    pub background: Vec<f32>,
    /// Forward frames for t = 0..=T.
    pub forward: Vec<Frame>,
    /// Items in the forward batch.
    pub n: usize,
}

/// Values kept over all forward frames (f32s): bounds the memory for big images.
pub const FORWARD_BUDGET: usize = 8_000_000;

/// The states that get a forward frame: every t in 0..=T when the budget allows, else an
/// even spread that includes 0 and T.
pub fn forward_timesteps(tt: usize, values_per_frame: usize) -> Vec<usize> {
    let most = (FORWARD_BUDGET / values_per_frame.max(1)).clamp(2, tt + 1);
    if most > tt {
        return (0..=tt).collect();
    }
    let mut v: Vec<usize> = (0..most)
        .map(|k| (k as f64 * tt as f64 / (most - 1) as f64).round() as usize)
        .collect();
    v.dedup();
    v
}

/// x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε at the states t of [`forward_timesteps`] (t = 0 is x_0
/// itself), by the core's closed form.
pub(crate) fn forward_frames(schedule: &Schedule, x0: &[f32], eps: &[f32]) -> Vec<Frame> {
    forward_timesteps(schedule.len(), x0.len())
        .into_iter()
        .map(|t| {
            let xt = q_sample_slice(schedule.alpha_bar_of_state(t), x0, eps);
            let hist = Histogram::of(&xt);
            Frame {
                t,
                xt,
                x0: None,
                guided: None,
                hist,
                trace: None,
            }
        })
        .collect()
}

/// Loads held-out data for `preset` and computes its forward frames. Slow for big data
/// sets: call it off the UI thread.
pub fn prepare_data(preset: &Preset) -> Result<DataView, String> {
    let d = &preset.diffusion;
    let schedule = Schedule::new(d.schedule, d.timesteps).map_err(|e| e.to_string())?;
    let data = preset
        .data
        .source()
        .load(preset.train.seed, Split::Held(BACKGROUND_POINTS))
        .map_err(|e| crate::util::one_line(&e))?;
    let item = data.item_len().max(1);
    let is_2d = data.item_shape == [2];
    let n = (if is_2d {
        FORWARD_POINTS
    } else {
        FORWARD_IMAGES
    })
    .min(data.len());
    let x0 = data.values[..n * item].to_vec();
    let mut rng = Rng::derive(preset.train.seed, 0x001A_5EC7);
    let eps: Vec<f32> = (0..x0.len()).map(|_| rng.normal() as f32).collect();
    Ok(DataView {
        item_shape: data.item_shape.clone(),
        background: if is_2d { data.values } else { Vec::new() },
        forward: forward_frames(&schedule, &x0, &eps),
        n,
    })
}

/// The frames of a stored reverse trajectory, t decreasing, ending with the samples (t = 0).
/// A stored frame is the input of the reverse step at its table index, i.e. the state
/// [`state_of`] that index.
/// Each frame carries its step of the run and σ_t when the worker sent them.
pub fn reverse_frames(s: &Samples) -> Vec<Frame> {
    let tr = &s.trace;
    let traced = tr.steps.len() == s.frame_timesteps.len()
        && tr.sigmas.len() == s.frame_timesteps.len()
        && tr.of > 0;
    let mut v: Vec<Frame> = s
        .frame_timesteps
        .iter()
        .zip(s.frames_xt.iter().zip(&s.frames_x0))
        .enumerate()
        .map(|(i, (&t, (xt, x0)))| Frame {
            t: state_of(t),
            hist: Histogram::of(xt),
            xt: xt.clone(),
            x0: Some(x0.clone()),
            guided: tr.x0_guided.get(i).cloned().flatten(),
            trace: traced.then(|| Trace {
                step: tr.steps[i] + 1,
                of: tr.of,
                sigma: tr.sigmas[i],
                variance: tr.variances.get(i).copied().flatten(),
                done: false,
            }),
        })
        .collect();
    if !v.is_empty() {
        v.push(Frame {
            t: 0,
            hist: Histogram::of(&s.values),
            xt: s.values.clone(),
            x0: Some(s.values.clone()),
            guided: None,
            trace: traced.then_some(Trace {
                step: tr.of,
                of: tr.of,
                sigma: 0.0,
                variance: None,
                done: true,
            }),
        });
    }
    v
}

/// The index of the frame whose t is nearest to `t`.
pub fn nearest_index(frames: &[Frame], t: usize) -> Option<usize> {
    (0..frames.len()).min_by_key(|&i| frames[i].t.abs_diff(t))
}

/// Frame `k` of a run of `from` frames, carried to a run of `to` frames by its fraction of
/// the run (the first and last frames meet); `k` itself when the counts agree.
pub fn aligned(k: usize, from: usize, to: usize) -> usize {
    if to == 0 {
        return 0;
    }
    if from == to || from < 2 {
        return k.min(to - 1);
    }
    let f = k.min(from - 1) as f64 / (from - 1) as f64;
    ((f * (to - 1) as f64).round() as usize).min(to - 1)
}

/// The frame whose t is nearest to `t`.
pub fn nearest(frames: &[Frame], t: usize) -> Option<&Frame> {
    frames.iter().min_by_key(|f| f.t.abs_diff(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_frames_meet_at_both_ends_and_keep_the_fraction() {
        assert_eq!(aligned(0, 21, 11), 0);
        assert_eq!(aligned(20, 21, 11), 10);
        assert_eq!(aligned(10, 21, 11), 5);
        assert_eq!(aligned(7, 11, 11), 7, "equal counts: frame for frame");
        assert_eq!(aligned(3, 4, 0), 0);
        assert_eq!(aligned(99, 21, 11), 10);
    }

    #[test]
    fn reverse_frames_carry_their_step_and_sigma() {
        let s = Samples {
            id: 1,
            step: 0,
            ema: false,
            shape: vec![1, 2],
            values: vec![0.5, -0.5],
            frame_timesteps: vec![999, 499],
            frames_xt: vec![vec![1.0, 2.0], vec![0.7, -0.1]],
            frames_x0: vec![vec![0.1, 0.2], vec![0.4, -0.4]],
            trace: Box::new(crate::worker::protocol::FrameTrace {
                options: Default::default(),
                steps: vec![0, 1],
                of: 2,
                sigmas: vec![150.0, 1.0],
                variances: vec![
                    None,
                    Some(crate::diffusion::sampler::StepVariance {
                        mean: 0.02,
                        beta_tilde: 0.01,
                        beta: 0.03,
                    }),
                ],
                x0_guided: vec![None, Some([vec![0.3, 0.3], vec![-0.3, 0.0]])],
            }),
        };
        let v = reverse_frames(&s);
        // the guided halves stay with their frame; the samples have none
        let guided: Vec<_> = v.iter().map(|f| f.guided.clone()).collect();
        assert_eq!(
            guided,
            [None, Some([vec![0.3, 0.3], vec![-0.3, 0.0]]), None]
        );
        assert_eq!(v[0].trace.unwrap().variance, None);
        assert_eq!(v[1].trace.unwrap().variance.map(|x| x.mean), Some(0.02));
        let labels: Vec<String> = v.iter().map(|f| f.trace.unwrap().label()).collect();
        assert_eq!(
            labels,
            ["step 1 of 2", "step 2 of 2", "x_0 after step 2 of 2"]
        );
        assert_eq!(v.iter().map(|f| f.t).collect::<Vec<_>>(), [1000, 500, 0]);
        assert_eq!(v[1].trace.unwrap().sigma, 1.0);
        // Without the steps (a short trace), frames carry none rather than wrong ones.
        let mut bare = s.clone();
        bare.trace.steps.clear();
        assert!(reverse_frames(&bare).iter().all(|f| f.trace.is_none()));
    }
}
