//! The sampler menu: the settings of the preview samples and the keys that change them.

use super::{App, Effect};
use crate::config::Preset;
use crate::diffusion::SamplerKind;
use crate::tui::keymap::Action;

/// The sampler menu's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerSettings {
    pub kind: SamplerKind,
    pub steps: usize,
    pub eta: f64,
    pub n: usize,
    pub ema: bool,
    /// Refresh the samples every this many training steps (0: only on demand).
    pub every: u64,
}

pub const MENU_FIELDS: usize = 6;
/// Preview defaults (see [`SamplerSettings::from_preset`]).
pub const PREVIEW_STEPS: usize = 100;
pub const PREVIEW_N: usize = 500;
const STEP_CHOICES: &[usize] = &[10, 20, 50, 100, 250, 500, 1000, 2000, 4000];
const N_CHOICES: &[usize] = &[16, 36, 64, 100, 256, 500, 1000, 2000, 5000];
const EVERY_CHOICES: &[u64] = &[0, 100, 250, 500, 1000, 2000, 5000, 10000];

impl SamplerSettings {
    /// The preset's sampler, made cheaper for previews (at most [`PREVIEW_STEPS`] steps
    /// and [`PREVIEW_N`] samples) so that refreshing barely slows training; the sampler
    /// menu sets them back up.
    pub fn from_preset(p: &Preset) -> SamplerSettings {
        SamplerSettings {
            kind: p.sample.sampler,
            steps: p.sample.steps.min(p.diffusion.timesteps).min(PREVIEW_STEPS),
            eta: p.sample.eta,
            n: p.sample.n.min(PREVIEW_N),
            ema: p.sample.ema,
            every: p.train.sample_every,
        }
    }

    /// (label, value) of each menu field.
    pub fn fields(&self) -> [(&'static str, String); MENU_FIELDS] {
        [
            ("sampler", self.kind.name().to_uppercase()),
            ("steps", self.steps.to_string()),
            ("η (DDIM)", format!("{:.1}", self.eta)),
            ("samples", self.n.to_string()),
            ("weights", if self.ema { "EMA" } else { "raw" }.into()),
            (
                "refresh every",
                if self.every == 0 {
                    "off".into()
                } else {
                    format!("{} steps", self.every)
                },
            ),
        ]
    }

    fn cycle<T: Copy + PartialOrd>(choices: &[T], cur: T, up: bool) -> T {
        if up {
            *choices.iter().find(|&&c| c > cur).unwrap_or(&cur)
        } else {
            *choices.iter().rev().find(|&&c| c < cur).unwrap_or(&cur)
        }
    }

    /// Changes field `i` one notch; `t_max` caps the steps.
    pub fn adjust(&mut self, i: usize, up: bool, t_max: usize) {
        match i {
            0 => {
                self.kind = match self.kind {
                    SamplerKind::Ddpm => SamplerKind::Ddim,
                    SamplerKind::Ddim => SamplerKind::Ddpm,
                }
            }
            1 => {
                let mut choices: Vec<usize> = STEP_CHOICES
                    .iter()
                    .copied()
                    .filter(|&s| s < t_max)
                    .collect();
                choices.push(t_max);
                self.steps = Self::cycle(&choices, self.steps, up);
            }
            2 => {
                let e = (self.eta * 10.0).round() + if up { 1.0 } else { -1.0 };
                self.eta = (e.clamp(0.0, 10.0)) / 10.0;
            }
            3 => self.n = Self::cycle(N_CHOICES, self.n, up),
            4 => self.ema = !self.ema,
            5 => self.every = Self::cycle(EVERY_CHOICES, self.every, up),
            _ => {}
        }
    }
}

impl App {
    pub(super) fn on_menu(&mut self, a: Action, field: usize) -> Vec<Effect> {
        let t_max = self.timesteps().max(1);
        let field = match a {
            Action::Up => (field + MENU_FIELDS - 1) % MENU_FIELDS,
            Action::Down => (field + 1) % MENU_FIELDS,
            Action::Decrease | Action::Increase => {
                self.sampler.adjust(field, a == Action::Increase, t_max);
                field
            }
            Action::Accept => {
                self.overlay = super::Overlay::None;
                return self.sample_request();
            }
            Action::Close => {
                self.overlay = super::Overlay::None;
                return vec![];
            }
            _ => field,
        };
        self.overlay = super::Overlay::Menu { field };
        vec![]
    }
}
