//! The state of the current run, replaced whole when a run starts, and what the worker's
//! events do to it.

use super::msg::LogView;
use super::{figures, App, Effect};
use crate::config::Preset;
use crate::diffusion::Schedule;
use crate::eval::Evaluation;
use crate::tui::history::LossHistory;
use crate::tui::inspect::{DataView, Frame};
use crate::worker::protocol::{Command, Evaluated, Event, Failure, Phase, RunInfo, Samples};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// A sampling run in progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingState {
    pub id: u64,
    pub done: usize,
    pub of: usize,
}

/// Everything that belongs to one run (a training run or a checkpoint opened for
/// inspection). A new run replaces it whole.
#[derive(Debug, Default)]
pub struct RunState {
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
    /// When the last progress report came (or training started or resumed).
    pub last_report: Option<Instant>,
    pub history: LossHistory,
    pub sampling: Option<SamplingState>,
    /// Another sample was asked for while one ran.
    pub sample_queued: bool,
    pub last_sample_step: Option<u64>,
    pub samples: Option<Samples>,
    pub reverse: Option<Arc<Vec<Frame>>>,
    pub data: Option<Arc<DataView>>,
    /// The latest evaluation (the bound and quality figures).
    pub evaluation: Option<Box<Evaluation>>,
    /// The bound's term at each schedule index, of that evaluation.
    pub bound_terms: Vec<f64>,
    /// The id of the evaluation being computed.
    pub evaluating: Option<u64>,
    /// The sweep chart (quality against network evaluations).
    pub sweep: super::SweepState,
    /// It trains in a process of its own (over the run folder's socket).
    pub remote: bool,
    /// Another workbench controls it: this one only watches.
    pub watching: bool,
    /// The run log has been read into the history.
    pub log_loaded: bool,
    /// Progress seen before the log was read (merged after it).
    live: Vec<(u64, f64, [Option<f64>; 4])>,
    /// What reading the log had to say, once.
    pub log_notice: Option<String>,
}

impl RunState {
    pub fn new(preset: Preset, train: bool, run_dir: PathBuf, source: String) -> RunState {
        let d = &preset.diffusion;
        RunState {
            schedule: Schedule::new(d.schedule, d.timesteps).ok(),
            training: train,
            run_dir,
            source,
            alive: true,
            total: preset.train.steps,
            preset: Some(preset),
            ..RunState::default()
        }
    }

    /// The loss history from the run log, then the progress seen live after its last
    /// row (the worker writes a row before it reports it, so nothing is counted twice).
    pub fn merge_log(&mut self, v: LogView) {
        if v.dir != self.run_dir {
            return;
        }
        let last = v.rows.last().map(|r| r.step);
        let mut h = LossHistory::default();
        for r in &v.rows {
            h.push(r.step, r.loss, &r.quarters());
        }
        for (step, loss, q) in std::mem::take(&mut self.live) {
            if last.is_none_or(|l| step > l) {
                h.push(step, loss, &q);
            }
        }
        self.history = h;
        self.log_loaded = true;
        if self.loss.is_none() {
            self.loss = v.rows.last().map(|r| r.loss);
        }
        if let (None, Some((e, per_t))) = (&self.evaluation, v.eval) {
            self.evaluation = Some(Box::new(e));
            self.bound_terms = per_t;
        }
        self.log_notice = v.notice;
    }

    /// Training progress that no checkpoint holds yet.
    pub fn unsaved(&self) -> bool {
        self.training && self.alive && self.stopped.is_none() && self.step > self.saved_step
    }
}

/// How long without a progress report before the status bar says how long it has been,
/// and before it says that training has stalled (at least; a slow run's reports come
/// further apart, and it gets 3 and 10 of its report intervals).
pub const LATE_S: f64 = 5.0;
pub const STALLED_S: f64 = 30.0;

/// Whether training's progress reports come when they should.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Not training now (inspecting, paused, finished, sampling…), or on time.
    OnTime,
    /// No report for this many seconds, more than the run's usual wait.
    Late(f64),
    /// No report for this many seconds, far more than the run's usual wait.
    Stalled(f64),
}

impl RunState {
    /// The pace of training at `now`.
    pub fn pace(&self, now: Instant) -> Pace {
        let going = self.training
            && self.alive
            && self.info.is_some()
            && !self.paused
            && !self.finished
            && self.stopped.is_none();
        // Sampling and evaluating hold training up, and have gauges of their own.
        let busy =
            self.sampling.is_some() || self.evaluating.is_some() || self.sweep.running.is_some();
        let Some(at) = self.last_report.filter(|_| going && !busy) else {
            return Pace::OnTime;
        };
        let waited = now.saturating_duration_since(at).as_secs_f64();
        let every = self.preset.as_ref().map_or(1, |p| p.train.log_every.max(1)) as f64;
        // Before the first speed is known, the usual wait is not: never "stalled" then.
        let interval = (self.steps_per_sec > 0.0).then(|| every / self.steps_per_sec);
        match interval {
            Some(i) if waited > STALLED_S.max(10.0 * i) => Pace::Stalled(waited),
            Some(i) if waited > LATE_S.max(3.0 * i) => Pace::Late(waited),
            None if waited > LATE_S.max(3.0 * every) => Pace::Late(waited),
            _ => Pace::OnTime,
        }
    }
}

impl App {
    /// A save failed (a full or unwritable disk): the worker keeps its weights and
    /// pauses training, so the user can make room and save again. Quitting waits for
    /// that too, unless a signal asked for it.
    fn save_failed(&mut self, message: &str) -> Vec<Effect> {
        let line = Failure::Save.describe(message);
        let r = &self.run;
        if self.quitting && self.quit_by_signal {
            self.error(line);
            return vec![Effect::Send(Command::Shutdown { save: false })];
        }
        if self.quitting {
            self.quitting = false;
            self.error(format!(
                "{line} — not quitting, so nothing is lost: make room, then w saves \
                 (q, then n, quits without saving)"
            ));
        } else if r.training && !r.finished && r.stopped.is_none() && !r.watching {
            self.error(format!(
                "{line} — training is paused: make room, then w saves and space resumes"
            ));
        } else {
            self.error(line);
        }
        vec![]
    }

    pub(super) fn on_event(&mut self, e: Event) -> Vec<Effect> {
        if let Some(fx) = self.pair_event(&e) {
            return fx;
        }
        let r = &mut self.run;
        match e {
            Event::Ready(info) => {
                r.step = info.step;
                // A worker that trained before this front end attached: its steps since
                // the newest checkpoint are unsaved.
                r.saved_step = info.saved_step;
                r.total = info.total_steps;
                r.last_sample_step = Some(info.step);
                r.paused = info.phase == Phase::Paused;
                r.last_report = Some(Instant::now());
                r.finished |= info.phase == Phase::Finished;
                let phase = info.phase;
                let mut fx = vec![Effect::LoadLog {
                    dir: info.run_dir.clone(),
                    // A checkpoint opened for inspection: its history up to its step.
                    upto: (!r.training).then_some(info.step),
                }];
                r.info = Some(info);
                if !r.training {
                    // A checkpoint opened for inspection: sample it at once.
                    r.last_sample_step = None;
                    fx.extend(self.sample_request());
                } else if phase == Phase::Idle && !r.watching {
                    fx.push(Effect::Send(Command::Start));
                }
                fx
            }
            Event::Progress {
                step,
                loss,
                quarter_losses,
                lr,
                steps_per_sec,
                ..
            } => {
                r.step = step;
                r.loss = Some(loss);
                r.lr = lr;
                r.steps_per_sec = steps_per_sec;
                r.last_report = Some(Instant::now());
                r.history.push(step, loss, &quarter_losses);
                if !r.log_loaded {
                    r.live.push((step, loss, quarter_losses));
                }
                let every = self.sampler.every;
                let due = every > 0 && r.last_sample_step.is_none_or(|s| step >= s + every);
                if due && r.sampling.is_none() {
                    self.sample_request()
                } else {
                    vec![]
                }
            }
            Event::SampleProgress { id, done, of } => {
                if let Some(s) = r.sampling.as_mut().filter(|s| s.id == id) {
                    s.done = done;
                    s.of = of;
                }
                vec![]
            }
            Event::Samples(s) => {
                if r.sampling.is_some_and(|x| x.id == s.id) {
                    r.sampling = None;
                    // Sampling held training up: the wait for a step starts now.
                    r.last_report = r.last_report.map(|_| Instant::now());
                }
                let mut fx = vec![];
                if !s.frame_timesteps.is_empty() {
                    fx.push(Effect::PrepareReverse(Box::new(s.clone())));
                }
                r.samples = Some(s);
                if std::mem::take(&mut r.sample_queued) {
                    fx.extend(self.sample_request());
                }
                fx
            }
            Event::Saved { path, step } => {
                r.saved_step = r.saved_step.max(step);
                if self.quitting {
                    self.farewell = Some(super::Farewell::Saved {
                        dir: r.run_dir.clone(),
                        path: path.clone(),
                        step,
                        finished: r.finished,
                    });
                }
                self.notify(format!("saved {}", path.display()));
                vec![]
            }
            Event::Notice(msg) => {
                self.notify(msg);
                vec![]
            }
            Event::Paused => {
                r.paused = true;
                vec![]
            }
            Event::Resumed => {
                r.paused = false;
                // The wait for the next report starts again.
                r.last_report = Some(Instant::now());
                vec![]
            }
            Event::Finished { step } => {
                r.step = step;
                r.finished = true;
                let sample = r.last_sample_step != Some(step);
                self.notify(format!(
                    "training finished at step {step}; press w to save, s to sample"
                ));
                if sample {
                    self.sample_request()
                } else {
                    vec![]
                }
            }
            Event::Evaluation(e) => {
                let Evaluated {
                    id,
                    evaluation,
                    per_t,
                } = *e;
                if r.evaluating == Some(id) {
                    r.evaluating = None;
                    r.last_report = r.last_report.map(|_| Instant::now());
                }
                self.notify(format!(
                    "step {}: {}",
                    evaluation.step,
                    figures::summary(&evaluation)
                ));
                self.run.evaluation = Some(Box::new(evaluation));
                self.run.bound_terms = per_t;
                vec![]
            }
            Event::SweepProgress {
                id,
                point,
                points,
                step,
                of,
            } => {
                self.sweep_progress(id, [point, points, step, of]);
                vec![]
            }
            Event::Swept { id, step, sweep } => {
                if self.run.sweep.running == Some(id) {
                    self.run.last_report = self.run.last_report.map(|_| Instant::now());
                }
                self.swept(id, step, sweep);
                vec![]
            }
            Event::GuidanceSwept { id, step, sweep } => {
                if self.run.sweep.running == Some(id) {
                    self.run.last_report = self.run.last_report.map(|_| Instant::now());
                }
                self.guidance_swept(id, step, sweep);
                vec![]
            }
            Event::Failed { what, message } => {
                match what {
                    Failure::Sweep { id } => self.sweep_failed(id),
                    Failure::Sampling { id } if r.sampling.is_some_and(|s| s.id == id) => {
                        r.sampling = None;
                    }
                    Failure::Evaluation { id } if r.evaluating == Some(id) => {
                        r.evaluating = None;
                    }
                    Failure::Save => return self.save_failed(&message),
                    _ => {}
                }
                self.error(what.describe(&message));
                vec![]
            }
            Event::TrainingStopped(msg) => {
                self.error(format!(
                    "training stopped: {msg} (the last good checkpoint is kept)"
                ));
                self.run.stopped = Some(msg);
                vec![]
            }
            Event::Watching => {
                r.watching = true;
                self.notify("watching read-only: another workbench controls this run");
                vec![]
            }
            Event::Exited => {
                r.alive = false;
                r.sampling = None;
                r.evaluating = None;
                r.sweep.running = None;
                r.sweep.progress = None;
                if self.quitting {
                    vec![Effect::Quit]
                } else {
                    vec![]
                }
            }
        }
    }
}
