//! The workbench's state and its update function. Everything the UI does goes through
//! [`App::update`]: a message in (a key, a worker event, a tick, a finished background
//! job), the new state and a list of [`Effect`]s out. No terminal, thread or tensor here,
//! so tests drive it directly.

use super::browse::{CheckpointEntry, PresetEntry};
use super::graphics::{Encoded, Setup};
use super::history::LossHistory;
use super::inspect::{DataView, Frame};
use super::keymap::{self, Action, Context};
use super::theme::Theme;
use crate::config::Preset;
use crate::diffusion::{SampleOptions, SamplerKind, Schedule};
use crate::train::protocol::{Command, Evaluation, Event, RunInfo, SampleRequest, Samples};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::PathBuf;
use std::sync::Arc;

/// Frames of the reverse process kept from each sampling run.
pub const REVERSE_FRAMES: usize = 100;

/// Which run to start.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOrigin {
    /// A preset name or path.
    Preset(String),
    /// A checkpoint (step folder or run folder).
    Checkpoint(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub origin: RunOrigin,
    /// Train (true) or only inspect and sample (false).
    pub train: bool,
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A command for the current worker.
    Send(Command),
    /// Replace the current run; the old worker saves first when `save_old`.
    StartRun {
        spec: RunSpec,
        save_old: bool,
    },
    /// Load the preset's data and compute the forward frames.
    PrepareData(Box<Preset>),
    /// Compute the reverse frames of a trajectory.
    PrepareReverse(Box<Samples>),
    ScanCheckpoints,
    ScanPresets,
    DeleteCheckpoint(PathBuf),
    /// Leave the event loop (the worker has exited).
    Quit,
}

/// Messages into [`App::update`].
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Worker(Event),
    /// A render tick (drives the play animation).
    Tick,
    /// The runtime started a run.
    RunStarted {
        preset: Box<Preset>,
        train: bool,
        run_dir: PathBuf,
        /// Where it came from, for the status bar.
        source: String,
        /// The checkpoint's last loss, when opening one.
        loss: Option<f64>,
    },
    /// Starting a run failed; the old one goes on.
    RunFailed(String),
    DataReady(Arc<DataView>),
    ReverseReady {
        id: u64,
        frames: Arc<Vec<Frame>>,
    },
    /// A picture for a graphics slot is encoded (the screen must be drawn again).
    GraphicReady(Arc<Encoded>),
    Checkpoints(Vec<CheckpointEntry>),
    Presets(Vec<PresetEntry>),
    Deleted(Result<PathBuf, String>),
    /// SIGTERM or SIGHUP: save and leave.
    Signal(String),
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Forward,
    Reverse,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Quit,
    Delete(PathBuf),
    NewRun(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Menu,
    Browser,
    Picker,
    Goto(String),
    Confirm(Confirm),
}

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

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingState {
    pub id: u64,
    pub done: usize,
    pub of: usize,
}

/// A message line under the panes.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

pub struct App {
    pub preset: Option<Preset>,
    pub schedule: Option<Schedule>,
    /// Where the run came from (preset name or checkpoint path).
    pub source: String,
    pub run_dir: PathBuf,
    pub info: Option<RunInfo>,
    /// A training run (false: a checkpoint opened for inspection).
    pub training: bool,
    pub paused: bool,
    pub finished: bool,
    /// Why training stopped (e.g. a NaN loss).
    pub stopped: Option<String>,
    /// The worker is running.
    pub alive: bool,
    pub step: u64,
    pub total: u64,
    /// Step of the last checkpoint (or of the one the run started from).
    pub saved_step: u64,
    pub loss: Option<f64>,
    pub lr: f64,
    pub steps_per_sec: f64,
    pub history: LossHistory,
    pub log_scale: bool,
    pub quarters_view: bool,
    pub show_schedule: bool,
    pub sampler: SamplerSettings,
    pub next_id: u64,
    pub sampling: Option<SamplingState>,
    /// Another sample was asked for while one ran.
    pub sample_queued: bool,
    pub last_sample_step: Option<u64>,
    pub samples: Option<Samples>,
    pub reverse: Option<Arc<Vec<Frame>>>,
    pub data: Option<Arc<DataView>>,
    pub t: usize,
    pub mode: Mode,
    pub playing: bool,
    pub overlay: Overlay,
    pub menu_field: usize,
    pub checkpoints: Vec<CheckpointEntry>,
    pub browser_sel: usize,
    pub presets: Vec<PresetEntry>,
    pub picker_sel: usize,
    pub themes: Vec<Theme>,
    pub theme_idx: usize,
    pub notice: Option<Notice>,
    pub quitting: bool,
    /// How images are drawn (the protocol and the terminal's cell size).
    pub graphics: Setup,
    /// The pane that paging and zoom apply to.
    pub focus: Focus,
    /// The focused pane fills the screen between the status bar and the footer.
    pub zoom: bool,
    /// The page of images shown in the samples pane and in the inspector.
    pub sample_page: usize,
    pub inspector_page: usize,
    /// The page counts of the last frame drawn (samples, inspector), for paging.
    pub page_counts: (usize, usize),
    /// The latest evaluation (bound terms and quality figures).
    pub evaluation: Option<Box<Evaluation>>,
    /// The id of the evaluation being computed.
    pub evaluating: Option<u64>,
    /// The inspector shows the bound's terms per t instead of the histogram.
    pub show_terms: bool,
    /// Something changed since the last draw.
    pub dirty: bool,
}

impl App {
    pub fn new(themes: Vec<Theme>, theme_idx: usize, graphics: Setup) -> App {
        let themes = if themes.is_empty() {
            vec![Theme::default()]
        } else {
            themes
        };
        App {
            preset: None,
            schedule: None,
            source: String::new(),
            run_dir: PathBuf::new(),
            info: None,
            training: false,
            paused: false,
            finished: false,
            stopped: None,
            alive: false,
            step: 0,
            total: 0,
            saved_step: 0,
            loss: None,
            lr: 0.0,
            steps_per_sec: 0.0,
            history: LossHistory::default(),
            log_scale: false,
            quarters_view: false,
            show_schedule: false,
            sampler: SamplerSettings {
                kind: SamplerKind::Ddpm,
                steps: 1000,
                eta: 0.0,
                n: 1000,
                ema: true,
                every: 0,
            },
            next_id: 1,
            sampling: None,
            sample_queued: false,
            last_sample_step: None,
            samples: None,
            reverse: None,
            data: None,
            t: 0,
            mode: Mode::Forward,
            playing: false,
            overlay: Overlay::None,
            menu_field: 0,
            checkpoints: Vec::new(),
            browser_sel: 0,
            presets: Vec::new(),
            picker_sel: 0,
            theme_idx: theme_idx.min(themes.len() - 1),
            themes,
            notice: None,
            quitting: false,
            graphics,
            focus: Focus::Samples,
            zoom: false,
            sample_page: 0,
            inspector_page: 0,
            page_counts: (1, 1),
            evaluation: None,
            evaluating: None,
            show_terms: false,
            dirty: true,
        }
    }

    pub fn theme(&self) -> &Theme {
        &self.themes[self.theme_idx]
    }

    /// T, the number of diffusion steps (0 before a run starts).
    pub fn timesteps(&self) -> usize {
        self.schedule.as_ref().map_or(0, |s| s.len())
    }

    /// Training progress that no checkpoint holds yet.
    pub fn unsaved(&self) -> bool {
        self.training && self.alive && self.stopped.is_none() && self.step > self.saved_step
    }

    /// β_t, ᾱ_t and SNR at the inspector's t (t = 0 is the data: β = 0, ᾱ = 1).
    pub fn schedule_at(&self, t: usize) -> Option<(f64, f64, f64)> {
        let s = self.schedule.as_ref()?;
        if t == 0 {
            return Some((0.0, 1.0, f64::INFINITY));
        }
        let i = (t - 1).min(s.len().saturating_sub(1));
        Some((s.betas[i], s.alpha_bars[i], s.snr(i)))
    }

    /// The inspector's frame at the current t, in the current mode.
    pub fn frame(&self) -> Option<&Frame> {
        match self.mode {
            Mode::Forward => {
                let d = self.data.as_ref()?;
                match d.forward.get(self.t) {
                    Some(f) if f.t == self.t => Some(f),
                    _ => super::inspect::nearest(&d.forward, self.t),
                }
            }
            Mode::Reverse => super::inspect::nearest(self.reverse.as_ref()?, self.t),
        }
    }

    /// The contexts whose keys apply now, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        match self.overlay {
            Overlay::Menu => vec![Context::Menu],
            Overlay::Browser => vec![Context::Browser],
            Overlay::Picker => vec![Context::Picker],
            // The inspector's keys first, so the footer shows them before the rest.
            _ => vec![Context::Inspector, Context::Main],
        }
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

    /// Resets the state for a new run.
    pub fn begin_run(
        &mut self,
        preset: Preset,
        train: bool,
        run_dir: PathBuf,
        source: String,
    ) -> Vec<Effect> {
        let d = &preset.diffusion;
        self.schedule = Schedule::new(d.schedule, d.timesteps).ok();
        self.sampler = SamplerSettings::from_preset(&preset);
        self.training = train;
        self.run_dir = run_dir;
        self.source = source;
        self.info = None;
        self.paused = false;
        self.finished = false;
        self.stopped = None;
        self.alive = true;
        self.step = 0;
        self.saved_step = 0;
        self.total = preset.train.steps;
        self.loss = None;
        self.lr = 0.0;
        self.steps_per_sec = 0.0;
        self.history = LossHistory::default();
        self.sampling = None;
        self.sample_queued = false;
        self.last_sample_step = None;
        self.samples = None;
        self.reverse = None;
        self.sample_page = 0;
        self.inspector_page = 0;
        self.data = None;
        self.evaluation = None;
        self.evaluating = None;
        self.t = self.t.min(d.timesteps);
        self.playing = false;
        self.quitting = false;
        self.dirty = true;
        let effects = vec![Effect::PrepareData(Box::new(preset.clone()))];
        self.preset = Some(preset);
        effects
    }

    fn sample_request(&mut self) -> Vec<Effect> {
        if !self.alive || self.preset.is_none() {
            return vec![];
        }
        if self.sampling.is_some() {
            self.sample_queued = true;
            return vec![];
        }
        let p = self.preset.as_ref().expect("checked above");
        let s = &self.sampler;
        let id = self.next_id;
        self.next_id += 1;
        let t_max = p.diffusion.timesteps;
        let req = SampleRequest {
            id,
            n: s.n,
            options: SampleOptions {
                sampler: s.kind,
                steps: s.steps.min(t_max),
                eta: s.eta,
                clip_x0: p.diffusion.clip_x0,
                variance: None,
            },
            ema: s.ema,
            seed: 0,
            frames: REVERSE_FRAMES,
        };
        self.sampling = Some(SamplingState {
            id,
            done: 0,
            of: s.steps.min(t_max),
        });
        self.last_sample_step = Some(self.step);
        vec![Effect::Send(Command::Sample(req))]
    }

    /// Starts leaving: the worker saves when `save`, and `Quit` follows its exit.
    fn quit(&mut self, save: bool) -> Vec<Effect> {
        self.overlay = Overlay::None;
        if !self.alive {
            return vec![Effect::Quit];
        }
        if self.quitting {
            // Asked twice: leave now.
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
        match msg {
            Msg::Tick => {
                if self.playing {
                    self.advance_play();
                    self.dirty = true;
                }
                vec![]
            }
            Msg::Key(k) => {
                self.dirty = true;
                self.on_key(k)
            }
            Msg::Worker(e) => {
                self.dirty = true;
                self.on_event(e)
            }
            Msg::RunStarted {
                preset,
                train,
                run_dir,
                source,
                loss,
            } => {
                // A warning from the start (a theme, the image protocol) stays up.
                if !self.notice.as_ref().is_some_and(|n| n.error) {
                    self.notify(format!(
                        "{} {}",
                        if train { "training" } else { "inspecting" },
                        source
                    ));
                }
                let fx = self.begin_run(*preset, train, run_dir, source);
                self.loss = loss;
                fx
            }
            Msg::RunFailed(e) => {
                self.dirty = true;
                self.error(e);
                vec![]
            }
            Msg::DataReady(d) => {
                self.dirty = true;
                self.data = Some(d);
                vec![]
            }
            Msg::ReverseReady { id, frames } => {
                if self.samples.as_ref().is_some_and(|s| s.id == id) {
                    self.reverse = Some(frames);
                    self.dirty = true;
                }
                vec![]
            }
            Msg::GraphicReady(_) => {
                self.dirty = true;
                vec![]
            }
            Msg::Checkpoints(list) => {
                self.checkpoints = list;
                self.browser_sel = self
                    .browser_sel
                    .min(self.checkpoints.len().saturating_sub(1));
                self.dirty = true;
                vec![]
            }
            Msg::Presets(list) => {
                self.presets = list;
                self.picker_sel = self.picker_sel.min(self.presets.len().saturating_sub(1));
                self.dirty = true;
                vec![]
            }
            Msg::Deleted(r) => {
                self.dirty = true;
                match r {
                    Ok(p) => self.notify(format!("deleted {}", p.display())),
                    Err(e) => self.error(e),
                }
                vec![Effect::ScanCheckpoints]
            }
            Msg::Signal(name) => {
                self.dirty = true;
                self.notify(format!("{name}: saving and quitting"));
                let save = self.unsaved();
                self.quitting = false;
                self.quit(save)
            }
        }
    }

    fn advance_play(&mut self) {
        let tt = self.timesteps();
        let d = (tt / 100).max(1);
        match self.mode {
            Mode::Forward => {
                self.t = (self.t + d).min(tt);
                if self.t >= tt {
                    self.playing = false;
                }
            }
            Mode::Reverse => {
                self.t = self.t.saturating_sub(d);
                if self.t == 0 {
                    self.playing = false;
                }
            }
        }
    }

    fn on_event(&mut self, e: Event) -> Vec<Effect> {
        match e {
            Event::Ready(info) => {
                self.step = info.step;
                self.saved_step = info.step;
                self.total = info.total_steps;
                self.last_sample_step = Some(info.step);
                self.info = Some(info);
                if self.training {
                    vec![Effect::Send(Command::Start)]
                } else {
                    // A checkpoint opened for inspection: sample it at once.
                    self.last_sample_step = None;
                    self.sample_request()
                }
            }
            Event::Progress {
                step,
                loss,
                quarter_losses,
                lr,
                steps_per_sec,
                ..
            } => {
                self.step = step;
                self.loss = Some(loss);
                self.lr = lr;
                self.steps_per_sec = steps_per_sec;
                self.history.push(step, loss, &quarter_losses);
                let every = self.sampler.every;
                let due = every > 0
                    && match self.last_sample_step {
                        Some(s) => step >= s + every,
                        None => true,
                    };
                if due && self.sampling.is_none() {
                    self.sample_request()
                } else {
                    vec![]
                }
            }
            Event::SampleProgress { id, done, of } => {
                if let Some(s) = self.sampling.as_mut().filter(|s| s.id == id) {
                    s.done = done;
                    s.of = of;
                }
                vec![]
            }
            Event::Samples(s) => {
                if self.sampling.is_some_and(|x| x.id == s.id) {
                    self.sampling = None;
                }
                let mut fx = vec![];
                if !s.frame_timesteps.is_empty() {
                    fx.push(Effect::PrepareReverse(Box::new(s.clone())));
                }
                self.samples = Some(s);
                if self.sample_queued {
                    self.sample_queued = false;
                    fx.extend(self.sample_request());
                }
                fx
            }
            Event::Saved { path, step } => {
                self.saved_step = self.saved_step.max(step);
                self.notify(format!("saved {}", path.display()));
                vec![]
            }
            Event::Notice(msg) => {
                self.notify(msg);
                vec![]
            }
            Event::Paused => {
                self.paused = true;
                vec![]
            }
            Event::Resumed => {
                self.paused = false;
                vec![]
            }
            Event::Finished { step } => {
                self.step = step;
                self.finished = true;
                self.notify(format!(
                    "training finished at step {step}; press w to save, s to sample"
                ));
                if self.last_sample_step != Some(step) {
                    self.sample_request()
                } else {
                    vec![]
                }
            }
            Event::Evaluation(e) => {
                if self.evaluating == Some(e.id) {
                    self.evaluating = None;
                }
                self.notify(format!("step {}: {}", e.step, e.summary));
                self.evaluation = Some(e);
                vec![]
            }
            Event::Error(msg) => {
                if self.sampling.is_some() && msg.starts_with("sampling failed") {
                    self.sampling = None;
                }
                if msg.starts_with("evaluation failed") {
                    self.evaluating = None;
                }
                self.error(msg);
                vec![]
            }
            Event::TrainingStopped(msg) => {
                self.error(format!(
                    "training stopped: {msg} (the last good checkpoint is kept)"
                ));
                self.stopped = Some(msg);
                vec![]
            }
            Event::Exited => {
                self.alive = false;
                self.sampling = None;
                if self.quitting {
                    vec![Effect::Quit]
                } else {
                    vec![]
                }
            }
        }
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.kind == crossterm::event::KeyEventKind::Release {
            return vec![];
        }
        let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
        match self.overlay.clone() {
            Overlay::Goto(buf) => return self.on_goto_key(k, buf),
            Overlay::Confirm(c) => return self.on_confirm_key(k, c),
            Overlay::Help => {
                if ctrl_c {
                    return self.key_quit();
                }
                self.overlay = Overlay::None;
                return vec![];
            }
            _ => {}
        }
        if ctrl_c {
            return self.key_quit();
        }
        let Some(action) = keymap::lookup(&self.contexts(), &k) else {
            return vec![];
        };
        match self.overlay {
            Overlay::Menu => self.on_menu(action),
            Overlay::Browser => self.on_browser(action),
            Overlay::Picker => self.on_picker(action),
            _ => self.on_main(action),
        }
    }

    fn key_quit(&mut self) -> Vec<Effect> {
        if self.quitting || !self.unsaved() {
            self.quit(false)
        } else {
            self.overlay = Overlay::Confirm(Confirm::Quit);
            vec![]
        }
    }

    fn on_goto_key(&mut self, k: KeyEvent, mut buf: String) -> Vec<Effect> {
        match k.code {
            KeyCode::Char(c) if c.is_ascii_digit() && buf.len() < 7 => {
                buf.push(c);
                self.overlay = Overlay::Goto(buf);
            }
            KeyCode::Backspace => {
                buf.pop();
                self.overlay = Overlay::Goto(buf);
            }
            KeyCode::Enter => {
                if let Ok(t) = buf.parse::<usize>() {
                    self.t = t.min(self.timesteps());
                }
                self.overlay = Overlay::None;
            }
            KeyCode::Esc => self.overlay = Overlay::None,
            _ => {}
        }
        vec![]
    }

    fn on_confirm_key(&mut self, k: KeyEvent, c: Confirm) -> Vec<Effect> {
        let yes = matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y'));
        let no = matches!(k.code, KeyCode::Char('n') | KeyCode::Char('N'));
        let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
        match c {
            Confirm::Quit => {
                if yes || ctrl_c {
                    return self.quit(true);
                }
                if no {
                    return self.quit(false);
                }
                if k.code == KeyCode::Esc {
                    self.overlay = Overlay::None;
                }
                vec![]
            }
            Confirm::Delete(p) => {
                if yes {
                    self.overlay = Overlay::Browser;
                    return vec![Effect::DeleteCheckpoint(p)];
                }
                if no || k.code == KeyCode::Esc {
                    self.overlay = Overlay::Browser;
                }
                vec![]
            }
            Confirm::NewRun(source) => {
                if yes {
                    self.overlay = Overlay::None;
                    return vec![Effect::StartRun {
                        spec: RunSpec {
                            origin: RunOrigin::Preset(source),
                            train: true,
                        },
                        save_old: self.unsaved(),
                    }];
                }
                if no || k.code == KeyCode::Esc {
                    self.overlay = Overlay::Picker;
                }
                vec![]
            }
        }
    }

    fn move_t(&mut self, delta: i64) {
        let tt = self.timesteps() as i64;
        self.t = (self.t as i64 + delta).clamp(0, tt) as usize;
    }

    fn on_main(&mut self, a: Action) -> Vec<Effect> {
        let tenth = (self.timesteps() / 10).max(1) as i64;
        match a {
            Action::Quit => return self.key_quit(),
            Action::Help => self.overlay = Overlay::Help,
            Action::TogglePause => {
                if !self.training || !self.alive {
                    self.notify("not training: this checkpoint is open for inspection");
                } else if self.stopped.is_some() {
                    self.error("training has stopped; open a checkpoint with c to go on");
                } else {
                    return vec![Effect::Send(if self.paused {
                        Command::Resume
                    } else {
                        Command::Pause
                    })];
                }
            }
            Action::SampleNow => {
                if self.sampling.is_some() {
                    self.notify("already sampling; another run is queued");
                }
                return self.sample_request();
            }
            Action::SamplerMenu => {
                self.overlay = Overlay::Menu;
                self.menu_field = 0;
            }
            Action::Save if self.alive => {
                self.notify("saving…");
                return vec![Effect::Send(Command::Save { manual: true })];
            }
            Action::Browser => {
                self.overlay = Overlay::Browser;
                return vec![Effect::ScanCheckpoints];
            }
            Action::Presets => {
                self.overlay = Overlay::Picker;
                return vec![Effect::ScanPresets];
            }
            Action::CycleTheme => {
                self.theme_idx = (self.theme_idx + 1) % self.themes.len();
                let name = self.theme().name.clone();
                self.notify(format!("theme: {name}"));
            }
            Action::ToggleEma => {
                self.sampler.ema = !self.sampler.ema;
                let w = if self.sampler.ema { "EMA" } else { "raw" };
                self.notify(format!("sampling with the {w} weights"));
                return self.sample_request();
            }
            Action::ToggleLogScale => self.log_scale = !self.log_scale,
            Action::ToggleQuarters => self.quarters_view = !self.quarters_view,
            Action::ToggleSchedule => self.show_schedule = !self.show_schedule,
            Action::BoundView => {
                self.show_terms = !self.show_terms;
                let stale = self
                    .evaluation
                    .as_ref()
                    .is_none_or(|e| e.step != self.step || e.ema != self.sampler.ema);
                if self.show_terms && stale && self.evaluating.is_none() && self.alive {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.evaluating = Some(id);
                    self.notify("evaluating the bound and sample quality…");
                    return vec![Effect::Send(Command::Evaluate {
                        id,
                        ema: self.sampler.ema,
                    })];
                }
            }
            Action::ToggleMode => {
                self.mode = match self.mode {
                    Mode::Forward => Mode::Reverse,
                    Mode::Reverse => Mode::Forward,
                };
                self.playing = false;
            }
            Action::StepBack => self.move_t(-1),
            Action::StepForward => self.move_t(1),
            Action::JumpBack => self.move_t(-tenth),
            Action::JumpForward => self.move_t(tenth),
            Action::First => self.t = 0,
            Action::Last => self.t = self.timesteps(),
            Action::GotoT => self.overlay = Overlay::Goto(String::new()),
            Action::FocusNext => self.focus = self.focus.next(),
            Action::Zoom => self.zoom = !self.zoom,
            Action::PageNext => self.turn_page(true),
            Action::PagePrev => self.turn_page(false),
            Action::Play => {
                self.playing = !self.playing;
                if self.playing {
                    let tt = self.timesteps();
                    match self.mode {
                        Mode::Forward if self.t >= tt => self.t = 0,
                        Mode::Reverse if self.t == 0 => self.t = tt,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        vec![]
    }

    /// Pages through the images of the focused pane (the samples when the loss pane has
    /// the focus). The panes clamp the page to the pages there are.
    fn turn_page(&mut self, next: bool) {
        let (page, n) = match self.focus {
            Focus::Inspector => (&mut self.inspector_page, self.page_counts.1.max(1)),
            _ => (&mut self.sample_page, self.page_counts.0.max(1)),
        };
        // Wrap around at either end.
        let cur = (*page).min(n - 1);
        *page = if next {
            (cur + 1) % n
        } else {
            (cur + n - 1) % n
        };
    }

    fn on_menu(&mut self, a: Action) -> Vec<Effect> {
        let t_max = self.timesteps().max(1);
        match a {
            Action::Up => self.menu_field = (self.menu_field + MENU_FIELDS - 1) % MENU_FIELDS,
            Action::Down => self.menu_field = (self.menu_field + 1) % MENU_FIELDS,
            Action::Decrease => self.sampler.adjust(self.menu_field, false, t_max),
            Action::Increase => self.sampler.adjust(self.menu_field, true, t_max),
            Action::Accept => {
                self.overlay = Overlay::None;
                return self.sample_request();
            }
            Action::Close => self.overlay = Overlay::None,
            _ => {}
        }
        vec![]
    }

    fn on_browser(&mut self, a: Action) -> Vec<Effect> {
        let n = self.checkpoints.len();
        let sel = self
            .checkpoints
            .get(self.browser_sel)
            .map(|c| c.dir.clone());
        match a {
            Action::Up => self.browser_sel = self.browser_sel.saturating_sub(1),
            Action::Down => self.browser_sel = (self.browser_sel + 1).min(n.saturating_sub(1)),
            Action::Accept | Action::Resume => {
                if let Some(dir) = sel {
                    self.overlay = Overlay::None;
                    return vec![Effect::StartRun {
                        spec: RunSpec {
                            origin: RunOrigin::Checkpoint(dir),
                            train: a == Action::Resume,
                        },
                        save_old: self.unsaved(),
                    }];
                }
            }
            Action::Delete => {
                if let Some(dir) = sel {
                    self.overlay = Overlay::Confirm(Confirm::Delete(dir));
                }
            }
            Action::Close => self.overlay = Overlay::None,
            _ => {}
        }
        vec![]
    }

    fn on_picker(&mut self, a: Action) -> Vec<Effect> {
        let n = self.presets.len();
        match a {
            Action::Up => self.picker_sel = self.picker_sel.saturating_sub(1),
            Action::Down => self.picker_sel = (self.picker_sel + 1).min(n.saturating_sub(1)),
            Action::Accept => {
                if let Some(p) = self.presets.get(self.picker_sel) {
                    self.overlay = Overlay::Confirm(Confirm::NewRun(p.source.clone()));
                }
            }
            Action::Close => self.overlay = Overlay::None,
            _ => {}
        }
        vec![]
    }
}
