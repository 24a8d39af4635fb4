//! The sampler menu: the settings of the preview samples and the keys that change them.

use super::{App, Effect};
use crate::config::Preset;
use crate::diffusion::{ClassChoice, Guidance, SamplerKind, Spacing};
use crate::tui::keymap::Action;

/// The sampler menu's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerSettings {
    pub kind: SamplerKind,
    pub steps: usize,
    pub eta: f64,
    /// The timestep spacing (None: the sampler's default).
    pub spacing: Option<Spacing>,
    pub karras: bool,
    pub n: usize,
    pub ema: bool,
    /// Refresh the samples every this many training steps (0: only on demand).
    pub every: u64,
    /// The second sampler of a comparison (x in the inspector): it runs with the same
    /// steps, spacing and (where it has them) Karras σ and η.
    pub versus: SamplerKind,
    /// A class-conditional model's guidance scale w and classes (None: unconditional).
    pub guidance: Option<Guidance>,
}

pub const MENU_FIELDS: usize = 11;
/// Preview defaults (see [`SamplerSettings::from_preset`]).
pub const PREVIEW_STEPS: usize = 100;
pub const PREVIEW_N: usize = 500;
const STEP_CHOICES: &[usize] = &[10, 20, 50, 100, 250, 500, 1000, 2000, 4000];
const N_CHOICES: &[usize] = &[16, 36, 64, 100, 256, 500, 1000, 2000, 5000];
const EVERY_CHOICES: &[u64] = &[0, 100, 250, 500, 1000, 2000, 5000, 10000];
/// The guidance scales the menu offers (a preset's own w stays until it is changed).
pub const GUIDANCE_CHOICES: &[f64] = &[0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0];

impl SamplerSettings {
    /// The preset's sampler, made cheaper for previews (at most [`PREVIEW_STEPS`] steps
    /// and [`PREVIEW_N`] samples) so that refreshing barely slows training; the sampler
    /// menu sets them back up.
    pub fn from_preset(p: &Preset) -> SamplerSettings {
        SamplerSettings {
            kind: p.sample.sampler,
            steps: p.sample.steps.min(p.diffusion.timesteps).min(PREVIEW_STEPS),
            eta: p.sample.eta,
            spacing: p.sample.spacing,
            karras: p.sample.karras,
            n: p.sample.n.min(PREVIEW_N),
            ema: p.sample.ema,
            every: p.train.sample_every,
            versus: Self::default_versus(p.sample.sampler),
            guidance: p.model.classes().map(|_| Guidance {
                scale: p.sample.guidance,
                class: ClassChoice::All,
            }),
        }
    }

    /// The sampler a comparison sets next to `kind` at first: DPM-Solver++ 2M, or DDIM
    /// next to it.
    pub fn default_versus(kind: SamplerKind) -> SamplerKind {
        if kind == SamplerKind::Dpmpp2m {
            SamplerKind::Ddim
        } else {
            SamplerKind::Dpmpp2m
        }
    }

    /// (label, value) of each menu field.
    pub fn fields(&self) -> [(&'static str, String); MENU_FIELDS] {
        [
            ("sampler", self.kind.name().to_string()),
            ("steps", self.steps_label()),
            (
                "η (DDIM)",
                if self.kind.has_eta() {
                    format!("{:.1}", self.eta)
                } else {
                    "—".into()
                },
            ),
            (
                "spacing",
                match self.spacing {
                    None => format!("{} (default)", self.kind.default_spacing()),
                    Some(s) => s.to_string(),
                },
            ),
            (
                "karras σ",
                if !self.kind.has_karras() {
                    "—".into()
                } else if self.karras {
                    "on".into()
                } else {
                    "off".into()
                },
            ),
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
            ("compare with", self.versus.name().to_string()),
            (
                "guidance w",
                self.guidance.map_or("—".into(), |g| format!("{}", g.scale)),
            ),
            (
                "class",
                match self.guidance.map(|g| g.class) {
                    None => "—".into(),
                    Some(ClassChoice::All) => "all (one per row)".into(),
                    Some(ClassChoice::One(c)) => c.to_string(),
                },
            ),
        ]
    }

    /// The steps, with the network evaluations where they differ (Heun).
    fn steps_label(&self) -> String {
        let nfe = self.kind.evaluations(self.steps);
        if nfe == self.steps {
            self.steps.to_string()
        } else {
            format!("{} ({nfe} evaluations)", self.steps)
        }
    }

    /// The next (or previous) item of `all` after `cur`, wrapping around.
    fn next_of<T: Copy + PartialEq>(all: &[T], cur: T, up: bool) -> T {
        let i = all.iter().position(|&c| c == cur).unwrap_or(0);
        let n = all.len();
        all[if up { (i + 1) % n } else { (i + n - 1) % n }]
    }

    fn cycle<T: Copy + PartialOrd>(choices: &[T], cur: T, up: bool) -> T {
        if up {
            *choices.iter().find(|&&c| c > cur).unwrap_or(&cur)
        } else {
            *choices.iter().rev().find(|&&c| c < cur).unwrap_or(&cur)
        }
    }

    /// Changes field `i` one notch; `t_max` caps the steps, `classes` (0: unconditional)
    /// bounds the class.
    pub fn adjust(&mut self, i: usize, up: bool, t_max: usize, classes: usize) {
        match i {
            0 => {
                self.kind = Self::next_of(&SamplerKind::ALL, self.kind, up);
                if !self.kind.has_eta() {
                    self.eta = 0.0;
                }
                if !self.kind.has_karras() {
                    self.karras = false;
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
            2 if self.kind.has_eta() => {
                let e = (self.eta * 10.0).round() + if up { 1.0 } else { -1.0 };
                self.eta = (e.clamp(0.0, 10.0)) / 10.0;
            }
            3 => {
                let all = [
                    None,
                    Some(Spacing::Leading),
                    Some(Spacing::Linspace),
                    Some(Spacing::Trailing),
                ];
                self.spacing = Self::next_of(&all, self.spacing, up);
            }
            4 if self.kind.has_karras() => self.karras = !self.karras,
            5 => self.n = Self::cycle(N_CHOICES, self.n, up),
            6 => self.ema = !self.ema,
            7 => self.every = Self::cycle(EVERY_CHOICES, self.every, up),
            8 => self.versus = Self::next_of(&SamplerKind::ALL, self.versus, up),
            9 => {
                if let Some(g) = &mut self.guidance {
                    g.scale = Self::cycle(GUIDANCE_CHOICES, g.scale, up);
                }
            }
            10 if classes > 0 => {
                if let Some(g) = &mut self.guidance {
                    // all, 0, 1, …, K − 1, wrapping around
                    let all: Vec<ClassChoice> = std::iter::once(ClassChoice::All)
                        .chain(
                            (0..classes.min(u16::MAX as usize)).map(|c| ClassChoice::One(c as u16)),
                        )
                        .collect();
                    g.class = Self::next_of(&all, g.class, up);
                }
            }
            _ => {}
        }
    }
}

impl App {
    /// A digit (`Some`) or `*` (`None`) on the main screen: the class of the next samples,
    /// drawn at once. An unconditional model, or a class it does not have, is said so.
    pub(super) fn choose_class(&mut self, class: Option<u8>) -> Vec<Effect> {
        let Some(classes) = self.classes() else {
            let key = class.map_or("*".to_string(), |c| c.to_string());
            self.notify(format!(
                "{key}: this model is unconditional: it has no classes to choose from"
            ));
            return vec![];
        };
        let choice = match class {
            Some(c) if c as usize >= classes => {
                self.error(format!(
                    "class {c} is out of range: the model has classes 0 to {}",
                    classes - 1
                ));
                return vec![];
            }
            Some(c) => ClassChoice::One(c as u16),
            None => ClassChoice::All,
        };
        let scale = self.run.preset.as_ref().map_or(1.0, |p| p.sample.guidance);
        let g = self.sampler.guidance.get_or_insert(Guidance {
            scale,
            class: choice,
        });
        g.class = choice;
        let what = g.describe();
        if self.run.sampling.is_some() {
            self.notify(format!(
                "{what}: queued behind the sampling run in progress"
            ));
        } else {
            self.notify(format!("sampling {what}"));
        }
        self.sample_request()
    }

    pub(super) fn on_menu(&mut self, a: Action, field: usize) -> Vec<Effect> {
        let t_max = self.timesteps().max(1);
        let field = match a {
            Action::Up => (field + MENU_FIELDS - 1) % MENU_FIELDS,
            Action::Down => (field + 1) % MENU_FIELDS,
            Action::Decrease | Action::Increase => {
                let classes = self.classes().unwrap_or(0);
                self.sampler
                    .adjust(field, a == Action::Increase, t_max, classes);
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
