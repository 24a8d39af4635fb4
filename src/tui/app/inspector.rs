//! The process inspector's state: the timestep shown (in the seed's state numbering,
//! t = 0 the data … T pure noise), the mode, playing, and the page of images. In reverse
//! mode the inspector steps through the frames of the sampler's trajectory (every step of
//! a short run, an even subset of a long one) rather than through every t; a comparison
//! ([`Pair`]) sets two samplers' trajectories from the same x_T side by side.

use super::{App, Effect};
use crate::diffusion::{SampleOptions, SamplerKind};
use crate::tui::inspect::{self, Frame};
use crate::worker::protocol::{Command, Event, Failure, SampleRequest};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Forward,
    Reverse,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inspector {
    /// The state shown: t = 0 (data) … T (noise).
    pub t: usize,
    pub mode: Mode,
    pub playing: bool,
    /// The first image wanted in view: its page is shown.
    pub first: usize,
    /// The reverse frame shown (by index), while its t is the t shown.
    pub frame: Option<usize>,
    /// Two samplers side by side (open while Some).
    pub pair: Option<Pair>,
}

impl Default for Inspector {
    fn default() -> Inspector {
        Inspector {
            t: 0,
            mode: Mode::Forward,
            playing: false,
            first: 0,
            frame: None,
            pair: None,
        }
    }
}

/// The seed both samplers of a comparison start from: the trainer seeds libtorch's
/// generator with it before drawing x_T, so both runs start from the same x_T.
pub const PAIR_SEED: u64 = 0;
/// Images sampled for a comparison (points: the menu's count, at most [`PAIR_POINTS`]).
pub const PAIR_IMAGES: usize = 16;
pub const PAIR_POINTS: usize = 500;

/// The same x_T run through two samplers: their requests, labels and trajectories, and the
/// frame shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The requests' ids, left and right.
    pub ids: [u64; 2],
    /// "dpmpp-2m · 20 steps · karras" for each side.
    pub labels: [String; 2],
    /// Each side's frames once prepared.
    pub frames: [Option<Arc<Vec<Frame>>>; 2],
    /// The frame shown, counted along the side with more frames (the other side follows by
    /// fraction of the run).
    pub k: usize,
    /// (side, done, of) of the sampling in progress.
    pub progress: Option<(usize, usize, usize)>,
}

impl Pair {
    /// Both sides' frames, once both are ready.
    pub fn both(&self) -> Option<[&[Frame]; 2]> {
        match &self.frames {
            [Some(a), Some(b)] => Some([&a[..], &b[..]]),
            _ => None,
        }
    }

    /// The frames along which `k` counts (the larger count of the two).
    pub fn len(&self) -> usize {
        self.both().map_or(0, |[a, b]| a.len().max(b.len()))
    }

    /// Whether no frames are ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each side's frame at `k`: frame k of each when the counts agree, else the frame at
    /// the same fraction of its run.
    pub fn at(&self) -> Option<[&Frame; 2]> {
        let [a, b] = self.both()?;
        let n = a.len().max(b.len());
        let fa = a.get(inspect::aligned(self.k, n, a.len()))?;
        let fb = b.get(inspect::aligned(self.k, n, b.len()))?;
        Some([fa, fb])
    }

    /// Whether the two runs have different step counts (frames are then aligned by
    /// fraction of the run).
    pub fn by_fraction(&self) -> bool {
        self.both().is_some_and(|[a, b]| a.len() != b.len())
    }
}

/// "dpmpp-2m · 20 steps · karras": a run's sampler and settings.
pub fn describe(o: &SampleOptions, t_max: usize) -> String {
    o.describe(t_max).replace(", ", " · ")
}

/// "class 7 · w 3" or "all classes · w 3": a guided run's classes and scale (None for an
/// unconditional model's run).
pub fn guidance_label(o: &SampleOptions) -> Option<String> {
    o.guidance.map(|g| g.describe().replace(", ", " · "))
}

impl App {
    /// The inspector's frame at the current t, in the current mode.
    pub fn frame(&self) -> Option<&Frame> {
        let t = self.inspector.t;
        match self.inspector.mode {
            Mode::Forward => {
                let d = self.run.data.as_ref()?;
                match d.forward.get(t) {
                    Some(f) if f.t == t => Some(f),
                    _ => inspect::nearest(&d.forward, t),
                }
            }
            Mode::Reverse => {
                let frames = self.run.reverse.as_ref()?;
                frames.get(self.reverse_index()?)
            }
        }
    }

    /// The index of the reverse frame shown: the one chosen, while its t is the t shown,
    /// else the one nearest to t.
    pub fn reverse_index(&self) -> Option<usize> {
        let frames = self.run.reverse.as_ref()?;
        match self.inspector.frame {
            Some(i) if frames.get(i).is_some_and(|f| f.t == self.inspector.t) => Some(i),
            _ => inspect::nearest_index(frames, self.inspector.t),
        }
    }

    /// The reverse frames when the reverse inspector steps through them.
    fn reverse_frames(&self) -> Option<Arc<Vec<Frame>>> {
        (self.inspector.mode == Mode::Reverse)
            .then(|| self.run.reverse.clone())
            .flatten()
            .filter(|f| !f.is_empty())
    }

    fn show_frame(&mut self, i: usize, frames: &[Frame]) {
        let i = i.min(frames.len().saturating_sub(1));
        if let Some(f) = frames.get(i) {
            self.inspector.frame = Some(i);
            self.inspector.t = f.t;
        }
    }

    /// Frames moved by a change of t by `delta`: one frame for ±1, a tenth of the frames
    /// otherwise. Frames run t decreasing, so a higher t is an earlier frame.
    fn frame_steps(delta: i64, len: usize) -> i64 {
        let n = if delta.abs() <= 1 {
            1
        } else {
            (len / 10).max(1) as i64
        };
        -delta.signum() * n
    }

    pub(super) fn move_t(&mut self, delta: i64) {
        if let Some(pair) = self.inspector.pair.as_mut() {
            let len = pair.len() as i64;
            let k = pair.k as i64 + Self::frame_steps(delta, len as usize);
            pair.k = k.clamp(0, (len - 1).max(0)) as usize;
            return;
        }
        if let Some(frames) = self.reverse_frames() {
            let cur = self.reverse_index().unwrap_or(0) as i64;
            let i = cur + Self::frame_steps(delta, frames.len());
            self.show_frame(i.clamp(0, frames.len() as i64 - 1) as usize, &frames);
            return;
        }
        let tt = self.timesteps() as i64;
        self.inspector.t = (self.inspector.t as i64 + delta).clamp(0, tt) as usize;
    }

    pub(super) fn set_t(&mut self, t: usize) {
        if let Some(pair) = self.inspector.pair.as_mut() {
            // The frame of the longer run nearest to t.
            let k = pair.both().and_then(|[a, b]| {
                inspect::nearest_index(if a.len() >= b.len() { a } else { b }, t)
            });
            pair.k = k.unwrap_or(0);
            return;
        }
        if let Some(frames) = self.reverse_frames() {
            let i = inspect::nearest_index(&frames, t).unwrap_or(0);
            self.show_frame(i, &frames);
            return;
        }
        self.inspector.t = t.min(self.timesteps());
    }

    /// One tick of playing: forward towards T a hundredth of T a time, reverse (and a
    /// comparison) a frame a time towards the samples.
    pub(super) fn advance_play(&mut self) {
        if let Some(pair) = self.inspector.pair.as_mut() {
            pair.k = (pair.k + 1).min(pair.len().saturating_sub(1));
            self.inspector.playing = pair.k + 1 < pair.len();
            return;
        }
        if let Some(frames) = self.reverse_frames() {
            let i = self.reverse_index().unwrap_or(0) + 1;
            self.show_frame(i, &frames);
            self.inspector.playing = i + 1 < frames.len();
            return;
        }
        let tt = self.timesteps();
        let d = (tt / 100).max(1);
        let i = &mut self.inspector;
        match i.mode {
            Mode::Forward => {
                i.t = (i.t + d).min(tt);
                i.playing = i.t < tt;
            }
            Mode::Reverse => {
                i.t = i.t.saturating_sub(d);
                i.playing = i.t > 0;
            }
        }
    }

    pub(super) fn toggle_play(&mut self) {
        self.inspector.playing = !self.inspector.playing;
        if !self.inspector.playing {
            return;
        }
        if let Some(pair) = self.inspector.pair.as_mut() {
            if pair.k + 1 >= pair.len() {
                pair.k = 0;
            }
            return;
        }
        if let Some(frames) = self.reverse_frames() {
            if self.reverse_index().is_some_and(|i| i + 1 >= frames.len()) {
                self.show_frame(0, &frames);
            }
            return;
        }
        let tt = self.timesteps();
        let i = &mut self.inspector;
        match i.mode {
            Mode::Forward if i.t >= tt => i.t = 0,
            Mode::Reverse if i.t == 0 => i.t = tt,
            _ => {}
        }
    }

    pub(super) fn toggle_mode(&mut self) {
        let i = &mut self.inspector;
        i.mode = match i.mode {
            Mode::Forward => Mode::Reverse,
            Mode::Reverse => Mode::Forward,
        };
        i.playing = false;
        i.frame = None;
        i.pair = None;
    }

    /// Opens a comparison of the menu's sampler and its "compare with" sampler on the same
    /// x_T (or closes the one open).
    pub(super) fn toggle_pair(&mut self) -> Vec<Effect> {
        if self.inspector.pair.take().is_some() {
            self.inspector.playing = false;
            self.notify("comparison closed");
            return vec![];
        }
        let Some(p) = self.run.preset.as_ref() else {
            self.notify("no run to sample from");
            return vec![];
        };
        if !self.run.alive || self.run.watching {
            self.notify(
                "cannot compare samplers: this workbench does not control the run's worker",
            );
            return vec![];
        }
        let (t_max, clip_x0) = (p.diffusion.timesteps, p.diffusion.clip_x0);
        let points = p.data.item_shape() == [2];
        let s = &self.sampler;
        let kinds = [s.kind, s.versus];
        if kinds[0] == kinds[1] {
            self.notify("the menu's sampler and \"compare with\" are the same: choose another in the menu (m)");
            return vec![];
        }
        let n = if points {
            s.n.min(PAIR_POINTS)
        } else {
            s.n.min(PAIR_IMAGES)
        };
        let options = kinds.map(|k: SamplerKind| SampleOptions {
            sampler: k,
            steps: s.steps.min(t_max),
            eta: if k.has_eta() { s.eta } else { 0.0 },
            clip_x0,
            variance: None,
            spacing: s.spacing,
            karras: s.karras && k.has_karras(),
            guidance: s.guidance,
        });
        let ema = s.ema;
        let ids = [self.next_id(), self.next_id()];
        let labels = [describe(&options[0], t_max), describe(&options[1], t_max)];
        let fx = options
            .iter()
            .zip(ids)
            .map(|(o, id)| {
                Effect::Send(Command::Sample(SampleRequest {
                    id,
                    n,
                    options: o.clone(),
                    ema,
                    seed: PAIR_SEED,
                    frames: super::REVERSE_FRAMES,
                }))
            })
            .collect();
        self.notify(format!(
            "comparing {} and {} from the same x_T…",
            labels[0], labels[1]
        ));
        self.inspector.mode = Mode::Reverse;
        self.inspector.playing = false;
        self.inspector.pair = Some(Pair {
            ids,
            labels,
            frames: [None, None],
            k: 0,
            progress: None,
        });
        fx
    }

    /// A worker event for the comparison's requests: handled here (None: not one of them).
    pub(super) fn pair_event(&mut self, e: &Event) -> Option<Vec<Effect>> {
        let pair = self.inspector.pair.as_mut()?;
        let side = |id: u64| pair.ids.iter().position(|&x| x == id);
        match e {
            Event::SampleProgress { id, done, of } => {
                let s = side(*id)?;
                pair.progress = Some((s, *done, *of));
                Some(vec![])
            }
            Event::Samples(s) => {
                side(s.id)?;
                Some(vec![Effect::PrepareReverse(Box::new(s.clone()))])
            }
            Event::Failed {
                what: Failure::Sampling { id },
                message,
            } => {
                let s = side(*id)?;
                let what = pair.labels[s].clone();
                self.inspector.pair = None;
                self.error(format!("comparison failed ({what}): {message}"));
                Some(vec![])
            }
            _ => None,
        }
    }

    /// A side's frames are ready: true when they were the comparison's.
    pub(super) fn pair_ready(&mut self, id: u64, frames: &Arc<Vec<Frame>>) -> bool {
        let Some(pair) = self.inspector.pair.as_mut() else {
            return false;
        };
        let Some(s) = pair.ids.iter().position(|&x| x == id) else {
            return false;
        };
        pair.frames[s] = Some(frames.clone());
        if pair.both().is_some() {
            pair.progress = None;
            let by = pair.by_fraction();
            let msg = if by {
                "comparison ready: the runs' frames differ in number, so they are aligned by fraction of the run"
            } else {
                "comparison ready: frame for frame; ←/→ step, a plays, x or Esc closes"
            };
            self.notify(msg);
        }
        true
    }
}
