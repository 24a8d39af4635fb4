//! The workbench's state and its update function. Everything the UI does goes through
//! [`App::update`]: a message in (a key, a worker event, a tick, a finished background
//! job), the new state and a list of [`Effect`]s out. No terminal, thread or tensor here,
//! so tests drive it directly.
//!
//! The state is a few parts, each replaced whole when its time comes: the current run
//! ([`RunState`], on a new run), the inspector ([`Inspector`]), the sampler menu's
//! settings ([`SamplerSettings`]), the open [`Overlay`] (which owns its entries and
//! selection) and the view's toggles ([`View`]).
//!
//! (Over 400 lines: the update function is one match over every message.)

pub mod figures;
mod inspector;
mod keys;
mod msg;
mod overlay;
mod run;
mod sampler;
mod sweep;

pub use inspector::{
    describe, guidance_label, Inspector, Mode, Pair, PAIR_IMAGES, PAIR_POINTS, PAIR_SEED,
};
pub use msg::{ComparedRun, Comparison, Effect, LogView, Msg, RunOrigin, RunSpec};
pub use overlay::{browser_rows, BrowserRow, Confirm, Overlay};
pub use run::{Pace, RunState, SamplingState, LATE_S, STALLED_S};
pub use sampler::{SamplerSettings, MENU_FIELDS, PREVIEW_N, PREVIEW_STEPS};
pub use sweep::{default_specs, SweepState, GUIDANCE_SCALES, SWEEP_STEPS};

use super::graphics::Setup;
use super::keymap::{Context, Situation};
use super::theme::Theme;
use crate::config::Preset;
use crate::diffusion::{index_of, SampleOptions, SamplerKind};
use crate::worker::protocol::{Command, SampleRequest};
use std::path::PathBuf;

/// Frames of the reverse process kept from each sampling run.
pub const REVERSE_FRAMES: usize = 100;

/// The panes that can have the focus (paging and zoom apply to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Loss,
    Samples,
    Inspector,
}

impl Focus {
    pub fn next(self) -> Focus {
        match self {
            Focus::Loss => Focus::Samples,
            Focus::Samples => Focus::Inspector,
            Focus::Inspector => Focus::Loss,
        }
    }
}

/// How the panes are shown: toggles, focus and zoom, the samples' page.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The loss on a log scale.
    pub log_scale: bool,
    /// The loss per quarter of t.
    pub quarters: bool,
    /// The schedule instead of the loss.
    pub schedule: bool,
    /// The bound's terms per t instead of the histogram.
    pub terms: bool,
    /// The pane that paging and zoom apply to.
    pub focus: Focus,
    /// The focused pane fills the screen between the status bar and the footer.
    pub zoom: bool,
    /// The first image wanted in view in the samples pane: its page is shown (so a
    /// zoom, which changes how many fit on a page, keeps it in view).
    pub sample_first: usize,
    /// The page counts of the last frame drawn (samples, inspector), for paging.
    pub page_counts: (usize, usize),
    /// The images on a full page in the last frame drawn (samples, inspector).
    pub per_page: (usize, usize),
    /// The first line of the help shown.
    pub help_scroll: usize,
    /// The help's lines on one screen and its last scroll position, in the last frame.
    pub help_extent: (usize, usize),
}

impl Default for View {
    fn default() -> View {
        View {
            log_scale: false,
            quarters: false,
            schedule: false,
            terms: false,
            focus: Focus::Samples,
            zoom: false,
            sample_first: 0,
            page_counts: (1, 1),
            per_page: (1, 1),
            help_scroll: 0,
            help_extent: (1, 0),
        }
    }
}

/// What a hang-up (SIGHUP, a closed terminal) does to a run that trains in its own
/// process (`on_hangup` in `tui.ron`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum Hangup {
    /// The workbench leaves; training goes on (attach again with `diffscope attach`).
    #[default]
    Detach,
    /// Training saves a checkpoint and stops, like quitting with y.
    SaveAndStop,
}

/// What the shell is told once the workbench has left the terminal: where the run is and
/// how to get back to it.
#[derive(Debug, Clone, PartialEq)]
pub enum Farewell {
    /// Training goes on in its own process in this run folder.
    Detached(PathBuf),
    /// The run was stopped, its last checkpoint saved in `path` (run folder `dir`).
    Saved {
        dir: PathBuf,
        path: PathBuf,
        step: u64,
        finished: bool,
    },
}

impl Farewell {
    /// The lines to print; `pid`: the process that trains a detached run, when known.
    pub fn lines(&self, pid: Option<u32>) -> String {
        match self {
            Farewell::Detached(dir) => format!(
                "training goes on in {}{}; `diffscope attach {}` to return",
                dir.display(),
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
                dir.display()
            ),
            Farewell::Saved {
                path,
                step,
                finished: true,
                ..
            } => format!("finished: step {step} saved in {}", path.display()),
            Farewell::Saved {
                dir, path, step, ..
            } => format!(
                "saved step {step} in {}; `diffscope train --resume {}` to continue",
                path.display(),
                dir.display()
            ),
        }
    }
}

/// A message line under the panes.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

pub struct App {
    pub run: RunState,
    pub inspector: Inspector,
    pub sampler: SamplerSettings,
    pub overlay: Overlay,
    pub view: View,
    pub themes: Vec<Theme>,
    pub theme_idx: usize,
    /// How images are drawn (the protocol and the terminal's cell size).
    pub graphics: Setup,
    pub notice: Option<Notice>,
    /// Quitting: the worker was told to stop, and `Quit` follows its exit.
    pub quitting: bool,
    /// The quitting was asked for by a signal: it goes through even when saving fails.
    quit_by_signal: bool,
    /// What to tell the shell after leaving (set when detaching or saving on the way out).
    pub farewell: Option<Farewell>,
    /// What a hang-up does.
    pub hangup: Hangup,
    /// Runs set side by side in the loss pane (and the bound view).
    pub compare: Option<Box<Comparison>>,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// The last id given to a sampling or evaluation request.
    last_id: u64,
    /// The seconds without a progress report the status bar shows (None: none shown).
    shown_wait: Option<u64>,
}

/// The schedule at one state t of the inspector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleAt {
    pub beta: f64,
    /// β̃_t, the forward posterior's variance (0 at the first step).
    pub beta_tilde: f64,
    pub alpha_bar: f64,
    pub snr: f64,
}

impl App {
    pub fn new(themes: Vec<Theme>, theme_idx: usize, graphics: Setup) -> App {
        let themes = if themes.is_empty() {
            vec![Theme::default()]
        } else {
            themes
        };
        App {
            run: RunState::default(),
            inspector: Inspector::default(),
            sampler: SamplerSettings {
                kind: SamplerKind::Ddpm,
                steps: 1000,
                eta: 0.0,
                spacing: None,
                karras: false,
                n: 1000,
                ema: true,
                every: 0,
                versus: SamplerKind::Dpmpp2m,
                guidance: None,
            },
            overlay: Overlay::None,
            view: View::default(),
            theme_idx: theme_idx.min(themes.len() - 1),
            themes,
            graphics,
            notice: None,
            quitting: false,
            quit_by_signal: false,
            farewell: None,
            hangup: Hangup::default(),
            compare: None,
            dirty: true,
            last_id: 0,
            shown_wait: None,
        }
    }

    pub fn theme(&self) -> &Theme {
        &self.themes[self.theme_idx]
    }

    /// T, the number of diffusion steps (0 before a run starts).
    pub fn timesteps(&self) -> usize {
        self.run.schedule.as_ref().map_or(0, |s| s.len())
    }

    /// β_t, β̃_t, ᾱ_t and SNR at the inspector's t (t = 0 is the data: β = 0, ᾱ = 1).
    pub fn schedule_at(&self, t: usize) -> Option<ScheduleAt> {
        let s = self.run.schedule.as_ref()?;
        let Some(i) = index_of(t) else {
            return Some(ScheduleAt {
                beta: 0.0,
                beta_tilde: 0.0,
                alpha_bar: 1.0,
                snr: f64::INFINITY,
            });
        };
        let i = i.min(s.len().saturating_sub(1));
        Some(ScheduleAt {
            beta: s.betas[i],
            beta_tilde: s.posterior_variance[i],
            alpha_bar: s.alpha_bars[i],
            snr: s.snr(i),
        })
    }

    /// What the open run allows: which keys apply.
    pub fn situation(&self) -> Situation {
        let r = &self.run;
        Situation {
            training: r.training && r.alive,
            detachable: r.remote && r.alive,
            reverse: self.inspector.mode == Mode::Reverse,
            conditional: self.classes().is_some(),
        }
    }

    /// The classes of the open run's model when it is class-conditional.
    pub fn classes(&self) -> Option<usize> {
        let p = self.run.preset.as_ref()?;
        p.model.classes().map(|k| k.max(0) as usize)
    }

    /// The sampling options of the menu's settings for a model of T = `t_max` steps.
    fn sample_options(&self, t_max: usize, clip_x0: bool) -> SampleOptions {
        let s = &self.sampler;
        SampleOptions {
            sampler: s.kind,
            steps: s.steps.min(t_max),
            eta: s.eta,
            clip_x0,
            variance: None,
            spacing: s.spacing,
            karras: s.karras,
            guidance: s.guidance,
        }
    }

    /// The contexts whose keys apply now, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        match self.overlay {
            Overlay::None => vec![Context::Inspector, Context::Main, Context::Anywhere],
            Overlay::Help => vec![Context::Anywhere, Context::Help],
            Overlay::Menu { .. } => vec![Context::Menu, Context::Anywhere],
            Overlay::Browser { .. } => vec![Context::Browser, Context::Anywhere],
            Overlay::Confirm {
                ask: Confirm::Leave,
                ..
            } => vec![Context::Leave],
            Overlay::Confirm {
                ask: Confirm::Attach { .. },
                ..
            } => vec![Context::Attach],
            Overlay::Picker { .. } => vec![Context::Picker, Context::Anywhere],
            Overlay::Goto(_) => vec![Context::Goto, Context::Anywhere],
            Overlay::Confirm { .. } => vec![Context::Confirm],
        }
    }

    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: false,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: true,
        });
    }

    /// Starts a new run: its state replaces the old one whole.
    fn begin_run(
        &mut self,
        preset: Preset,
        train: bool,
        run_dir: PathBuf,
        source: String,
        remote: bool,
    ) {
        self.sampler = SamplerSettings::from_preset(&preset);
        self.run = RunState::new(preset, train, run_dir, source);
        self.run.remote = remote;
        self.inspector.t = self.inspector.t.min(self.timesteps());
        self.inspector.playing = false;
        self.inspector.first = 0;
        self.inspector.pair = None;
        self.view.sample_first = 0;
        self.quitting = false;
        self.quit_by_signal = false;
    }

    /// Asks the worker for samples with the menu's settings (queued behind a sampling run
    /// in progress).
    fn sample_request(&mut self) -> Vec<Effect> {
        let Some(p) = self
            .run
            .preset
            .as_ref()
            .filter(|_| self.run.alive && !self.run.watching)
        else {
            return vec![];
        };
        let (t_max, clip_x0) = (p.diffusion.timesteps, p.diffusion.clip_x0);
        if self.run.sampling.is_some() {
            self.run.sample_queued = true;
            return vec![];
        }
        let id = self.next_id();
        let options = self.sample_options(t_max, clip_x0);
        let steps = options.steps;
        let r = &mut self.run;
        let s = &self.sampler;
        let req = SampleRequest {
            id,
            n: s.n,
            options,
            ema: s.ema,
            seed: 0,
            frames: REVERSE_FRAMES,
        };
        r.sampling = Some(SamplingState {
            id,
            done: 0,
            of: steps,
        });
        r.last_sample_step = Some(r.step);
        vec![Effect::Send(Command::Sample(req))]
    }

    /// Leaves the workbench while the run's own process goes on training.
    fn detach(&mut self) -> Vec<Effect> {
        self.overlay = Overlay::None;
        self.farewell = Some(Farewell::Detached(self.run.run_dir.clone()));
        self.notify(format!(
            "detached: training goes on; `diffscope attach {}` returns to it",
            self.run.run_dir.display()
        ));
        vec![Effect::Quit]
    }

    /// Starts leaving: the worker saves when `save`, and `Quit` follows its exit.
    fn quit(&mut self, save: bool) -> Vec<Effect> {
        self.overlay = Overlay::None;
        if !self.run.alive || self.quitting {
            // Nothing to wait for, or asked twice: leave now.
            return vec![Effect::Quit];
        }
        self.quitting = true;
        self.notify(if save {
            "saving a checkpoint, then quitting…"
        } else {
            "quitting…"
        });
        vec![Effect::Send(Command::Shutdown { save })]
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        if !matches!(msg, Msg::Tick) {
            self.dirty = true;
        }
        match msg {
            Msg::Tick => {
                if self.inspector.playing {
                    self.advance_play();
                    self.dirty = true;
                }
                // The wait for a progress report is shown to the second once it grows.
                let waited = match self.run.pace(std::time::Instant::now()) {
                    Pace::OnTime => None,
                    Pace::Late(s) | Pace::Stalled(s) => Some(s as u64),
                };
                if waited != self.shown_wait {
                    self.shown_wait = waited;
                    self.dirty = true;
                }
                vec![]
            }
            Msg::Key(k) => self.on_key(k),
            Msg::Worker(e) => self.on_event(e),
            Msg::RunStarted {
                preset,
                train,
                run_dir,
                source,
                loss,
                remote,
            } => {
                // A warning from the start (a theme, the image protocol) stays up.
                if !self.notice.as_ref().is_some_and(|n| n.error) {
                    let what = if train { "training" } else { "inspecting" };
                    self.notify(format!("{what} {source}"));
                }
                let fx = vec![Effect::PrepareData(preset.clone())];
                self.begin_run(*preset, train, run_dir, source, remote);
                self.run.loss = loss;
                fx
            }
            Msg::RunFailed(e) => {
                self.error(e);
                vec![]
            }
            Msg::DataReady(d) => {
                self.run.data = Some(d);
                vec![]
            }
            Msg::ReverseReady { id, frames } => {
                if self.pair_ready(id, &frames) {
                    return vec![];
                }
                if self.run.samples.as_ref().is_some_and(|s| s.id == id) {
                    self.run.reverse = Some(frames);
                }
                vec![]
            }
            Msg::GraphicReady(_) => vec![],
            Msg::Runs(list) => {
                if let Overlay::Browser { runs, sel, .. } = &mut self.overlay {
                    *sel = (*sel).min(browser_rows(&list).len().saturating_sub(1));
                    *runs = list;
                }
                vec![]
            }
            Msg::AttachBusy { dir, pid } => {
                self.overlay = Overlay::None;
                self.ask(Confirm::Attach { dir, pid });
                vec![]
            }
            Msg::LogLoaded(v) => {
                self.run.merge_log(*v);
                if let Some(n) = self.run.log_notice.take() {
                    self.notify(n);
                }
                vec![]
            }
            Msg::Compared(c) => {
                match c.notices.first() {
                    Some(n) => self.notify(n.clone()),
                    None => self.notify(format!(
                        "comparing {}; Esc leaves the comparison",
                        c.runs
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
                self.view.schedule = false;
                self.compare = Some(c);
                vec![]
            }
            Msg::Presets(list) => {
                if let Overlay::Picker { entries, sel } = &mut self.overlay {
                    *sel = (*sel).min(list.len().saturating_sub(1));
                    *entries = list;
                }
                vec![]
            }
            Msg::Deleted(r) => {
                match r {
                    Ok(p) => self.notify(format!("deleted {}", p.display())),
                    Err(e) => self.error(e),
                }
                vec![Effect::ScanRuns]
            }
            Msg::Signal(name) => {
                let r = &self.run;
                let hangup = name == "SIGHUP" || name == "the terminal closed";
                // A run in its own process outlives the terminal, unless tui.ron says
                // otherwise; one this workbench only watches is never stopped by it.
                if r.remote && r.alive && (r.watching || (hangup && self.hangup == Hangup::Detach))
                {
                    return self.detach();
                }
                self.notify(format!("{name}: saving and quitting"));
                let save = self.run.unsaved();
                self.quitting = false;
                self.quit_by_signal = true;
                self.quit(save)
            }
        }
    }
}
