//! The process inspector's state: the timestep shown (in the seed's state numbering,
//! t = 0 the data … T pure noise), the mode, playing, and the page of images.

use super::App;
use crate::tui::inspect::{self, Frame};

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
}

impl Default for Inspector {
    fn default() -> Inspector {
        Inspector {
            t: 0,
            mode: Mode::Forward,
            playing: false,
            first: 0,
        }
    }
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
            Mode::Reverse => inspect::nearest(self.run.reverse.as_ref()?, t),
        }
    }

    pub(super) fn move_t(&mut self, delta: i64) {
        let tt = self.timesteps() as i64;
        self.inspector.t = (self.inspector.t as i64 + delta).clamp(0, tt) as usize;
    }

    pub(super) fn set_t(&mut self, t: usize) {
        self.inspector.t = t.min(self.timesteps());
    }

    /// One tick of playing: forward towards T, reverse towards 0, a hundredth of T a time.
    pub(super) fn advance_play(&mut self) {
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
        let tt = self.timesteps();
        let i = &mut self.inspector;
        i.playing = !i.playing;
        if i.playing {
            match i.mode {
                Mode::Forward if i.t >= tt => i.t = 0,
                Mode::Reverse if i.t == 0 => i.t = tt,
                _ => {}
            }
        }
    }

    pub(super) fn toggle_mode(&mut self) {
        let i = &mut self.inspector;
        i.mode = match i.mode {
            Mode::Forward => Mode::Reverse,
            Mode::Reverse => Mode::Forward,
        };
        i.playing = false;
    }
}
