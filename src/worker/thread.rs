//! The worker: a dedicated thread that owns every tensor. It trains, samples and saves on
//! command and reports by events. libtorch errors (which tch raises as panics) are caught
//! here and sent as events; they never take the program down.

use super::protocol::{
    Command, Event, Failure, FrameTrace, Phase, RunInfo, SampleRequest, Samples,
};
use crate::diffusion::{SampleOptions, Trajectory};
use crate::model::precision::Precision;
use crate::train::checkpoint::CheckpointError;
use crate::train::{Trainer, Weights};
use crate::util::{one_line, tensor_values};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use tch::Device;

/// How to build the worker's trainer.
pub enum Origin {
    Preset(Box<crate::config::Preset>),
    Checkpoint(PathBuf),
}

pub struct WorkerOptions {
    pub origin: Origin,
    pub device: Device,
    /// The run folder for checkpoints.
    pub run_dir: PathBuf,
    /// Total steps to train to (None: the preset's).
    pub total_steps: Option<u64>,
    /// Override the preset's seed.
    pub seed: Option<u64>,
    /// libtorch threads (0: the preset's, or all cores).
    pub threads: usize,
    /// Stored in checkpoints.
    pub command: String,
    /// Compute in this instead of the preset's precision.
    pub precision: Option<Precision>,
}

pub struct WorkerHandle {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    /// Set to abandon a sampling run in progress (it ends with an `Error` event). Checked
    /// between reverse steps; used before a shutdown so that it is not kept waiting.
    pub cancel: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// A handle over other channels (a worker in another process).
    pub(crate) fn from_parts(
        commands: Sender<Command>,
        events: Receiver<Event>,
        join: Option<JoinHandle<()>>,
    ) -> WorkerHandle {
        WorkerHandle {
            commands,
            events,
            cancel: Arc::new(AtomicBool::new(false)),
            join,
        }
    }

    pub fn send(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    /// Waits for the thread to end.
    pub fn join(mut self) {
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// Starts the worker thread. It builds its trainer there and answers with `Ready` or an
/// `Error` followed by `Exited`.
pub fn spawn(opts: WorkerOptions) -> WorkerHandle {
    install_quiet_panic_hook();
    let (ctx, crx) = channel();
    let (etx, erx) = channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let join = std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || run(opts, crx, etx, flag))
        .ok();
    WorkerHandle {
        commands: ctx,
        events: erx,
        cancel,
        join,
    }
}

const THREAD_NAME: &str = "diffscope-worker";

/// The first line of a panic's message. tch wraps libtorch errors as
/// `Torch("message\nException raised from …")`: keep the message only.
fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    let s = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown error".into());
    let s = s.replace("called `Result::unwrap()` on an `Err` value: ", "");
    let s = s.strip_prefix("Torch(\"").unwrap_or(&s);
    let first = s
        .split("\\n")
        .next()
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("");
    let mut out: String = first.trim_end_matches("\")").chars().take(300).collect();
    if out.is_empty() {
        out = "unknown libtorch error".into();
    }
    out
}

/// The worker catches its panics and reports them as events, so the default hook's
/// backtrace on stderr would only garble the terminal: silence it for the worker thread.
fn install_quiet_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(THREAD_NAME) {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a libtorch panic into an error message.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panic_message)
}

fn build(opts: &WorkerOptions) -> Result<Trainer, String> {
    let mut tr = match &opts.origin {
        Origin::Preset(p) => {
            let mut p = (**p).clone();
            if let Some(s) = opts.seed {
                p.train.seed = s;
            }
            if let Some(n) = opts.total_steps {
                p.train.steps = n;
            }
            if let Some(x) = opts.precision {
                p.train.precision = x;
            }
            Trainer::new(p, opts.device).map_err(|e| one_line(&e))?
        }
        Origin::Checkpoint(path) => {
            let mut tr = Trainer::load_as(path, opts.device, true, opts.precision)
                .map_err(|e| one_line(&e))?;
            if let Some(n) = opts.total_steps {
                tr.preset.train.steps = n;
            }
            tr
        }
    };
    if !opts.command.is_empty() {
        tr.command = opts.command.clone();
    }
    Ok(tr)
}

fn run(
    opts: WorkerOptions,
    commands: Receiver<Command>,
    events: Sender<Event>,
    cancel: Arc<AtomicBool>,
) {
    let send = |e: Event| {
        let _ = events.send(e);
    };
    let trainer = guarded(|| build(&opts)).and_then(|r| r);
    let mut tr = match trainer {
        Ok(t) => t,
        Err(message) => {
            send(Event::Failed {
                what: Failure::Start,
                message,
            });
            send(Event::Exited);
            return;
        }
    };
    let threads = match (opts.threads, tr.preset.train.threads) {
        (0, 0) => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        (0, n) | (n, _) => n,
    };
    tch::set_num_threads(threads as i32);
    // libtorch refuses a second call once work has run (a later worker in the same
    // process, e.g. the workbench opening another run).
    static INTEROP: std::sync::Once = std::sync::Once::new();
    INTEROP.call_once(|| {
        let _ = guarded(|| tch::set_num_interop_threads(1));
    });
    send(Event::Ready(RunInfo {
        preset: tr.preset.name.clone(),
        device: format!("{:?}", opts.device).to_lowercase(),
        parameters: tr.parameters(),
        step: tr.step,
        saved_step: tr.step,
        total_steps: tr.preset.train.steps,
        item_shape: tr.item_shape.clone(),
        run_dir: opts.run_dir.clone(),
        phase: Phase::Idle,
        precision: tr.precision_note.clone(),
    }));
    for note in tr.data.iter().flat_map(|d| d.notes.iter()) {
        send(Event::Notice(note.clone()));
    }
    if let Some(note) = &tr.load_notice {
        send(Event::Notice(note.clone()));
    }

    let mut training = false;
    let mut paused = false;
    let mut stopped = false;
    // The step of the newest checkpoint on disk (a resumed run starts from one).
    let mut kept = matches!(opts.origin, Origin::Checkpoint(_)).then_some(tr.step);
    let mut last_report = (Instant::now(), tr.step);
    loop {
        let busy = training && !paused && !stopped && tr.step < tr.preset.train.steps;
        let cmd = if busy {
            match commands.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => break,
            }
        } else {
            match commands.recv() {
                Ok(c) => Some(c),
                Err(_) => break,
            }
        };
        if let Some(c) = cmd {
            match c {
                Command::Start => {
                    training = true;
                    last_report = (Instant::now(), tr.step);
                    if tr.step >= tr.preset.train.steps {
                        send(Event::Finished { step: tr.step });
                    }
                }
                Command::Pause => {
                    paused = true;
                    send(Event::Paused);
                }
                Command::Resume => {
                    paused = false;
                    last_report = (Instant::now(), tr.step);
                    send(Event::Resumed);
                }
                Command::Sample(req) => match guarded(|| sample(&tr, &req, &send, &cancel)) {
                    Ok(Ok(s)) => send(Event::Samples(s)),
                    Ok(Err(message)) | Err(message) => send(Event::Failed {
                        what: Failure::Sampling { id: req.id },
                        message,
                    }),
                },
                Command::Evaluate { id, ema } => {
                    let w = if ema { Weights::Ema } else { Weights::Raw };
                    // like sampling, an evaluation gives way to a shutdown
                    let mut check = |_, _| {
                        if cancel.load(Ordering::Relaxed) {
                            std::panic::resume_unwind(Box::new("evaluation cancelled"));
                        }
                    };
                    match guarded(|| crate::eval::evaluate::evaluate(&tr, w, &mut check)) {
                        Ok(Ok((evaluation, per_t))) => {
                            send(Event::Evaluation(Box::new(super::protocol::Evaluated {
                                id,
                                evaluation,
                                per_t,
                            })))
                        }
                        Ok(Err(message)) | Err(message) => send(Event::Failed {
                            what: Failure::Evaluation { id },
                            message,
                        }),
                    }
                }
                Command::Sweep { id, specs, ema } => {
                    match guarded(|| run_sweep(&tr, &specs, ema, id, &send, &cancel)) {
                        Ok(Ok(sweep)) => send(Event::Swept {
                            id,
                            step: tr.step,
                            sweep: Box::new(sweep),
                        }),
                        Ok(Err(message)) | Err(message) => send(Event::Failed {
                            what: Failure::Sweep { id },
                            message,
                        }),
                    }
                }
                Command::GuidanceSweep {
                    id,
                    scales,
                    options,
                    ema,
                } => match guarded(|| {
                    run_guidance_sweep(&tr, &scales, &options, ema, id, &send, &cancel)
                }) {
                    Ok(Ok(sweep)) => send(Event::GuidanceSwept {
                        id,
                        step: tr.step,
                        sweep: Box::new(sweep),
                    }),
                    Ok(Err(message)) | Err(message) => send(Event::Failed {
                        what: Failure::Sweep { id },
                        message,
                    }),
                },
                Command::Save { manual } => {
                    let ok = save(&tr, &opts, manual, &mut kept, &send);
                    if !ok && training && !paused && !stopped && tr.step < tr.preset.train.steps {
                        // Training goes on only once the user has made room.
                        paused = true;
                        send(Event::Paused);
                    }
                }
                Command::Shutdown { save: s } => {
                    // A failed save does not end the worker: its weights are all there
                    // is of the steps since the last checkpoint. The front end decides
                    // (free space and save again, or stop without saving).
                    if s && !save(&tr, &opts, false, &mut kept, &send) {
                        // The shutdown's cancel flag would stop every later sampling run.
                        cancel.store(false, Ordering::Relaxed);
                        if training && !paused && !stopped {
                            paused = true;
                            send(Event::Paused);
                        }
                        continue;
                    }
                    break;
                }
            }
            continue;
        }
        // One training step.
        match guarded(|| tr.train_step()) {
            Ok(Ok(stats)) => {
                let t = &tr.preset.train;
                let done = stats.step >= t.steps;
                if stats.step % t.log_every == 0 || done {
                    let elapsed = last_report.0.elapsed().as_secs_f64().max(1e-9);
                    let sps = (stats.step - last_report.1) as f64 / elapsed;
                    last_report = (Instant::now(), stats.step);
                    send(Event::Progress {
                        step: stats.step,
                        loss: stats.loss,
                        quarter_losses: stats.quarter_losses,
                        lr: stats.lr,
                        grad_norm: stats.grad_norm,
                        steps_per_sec: sps,
                    });
                }
                if t.checkpoint_every > 0
                    && stats.step % t.checkpoint_every == 0
                    && !done
                    && !save(&tr, &opts, false, &mut kept, &send)
                {
                    // A full or unwritable disk: pause rather than train on unsaved.
                    paused = true;
                    send(Event::Paused);
                }
                if done {
                    send(Event::Finished { step: stats.step });
                }
            }
            Ok(Err(e)) => {
                stopped = true;
                send(Event::TrainingStopped(one_line(&e)));
            }
            Err(e) => {
                stopped = true;
                send(Event::TrainingStopped(format!("training step failed: {e}")));
            }
        }
    }
    send(Event::Exited);
}

/// Saves a checkpoint and reports it; false when it failed. The failure says which
/// checkpoint is still there (`kept`: the newest step saved).
fn save(
    tr: &Trainer,
    opts: &WorkerOptions,
    manual: bool,
    kept: &mut Option<u64>,
    send: &dyn Fn(Event),
) -> bool {
    // A step on disk already (the checkpoint being inspected, or one saved twice) stays
    // as it is: nothing is written, and that is said.
    let saved = |r: Result<PathBuf, CheckpointError>| match r {
        Ok(path) => Ok((path, None)),
        Err(e) => match &e {
            CheckpointError::AlreadySaved { path } => Ok((path.clone(), Some(one_line(&e)))),
            _ => Err(one_line(&e)),
        },
    };
    match guarded(|| saved(tr.save(&opts.run_dir, manual))) {
        Ok(Ok((path, already))) => {
            *kept = Some(tr.step);
            send(Event::Saved {
                path,
                step: tr.step,
            });
            if let Some(note) = already {
                send(Event::Notice(note));
            }
            true
        }
        Ok(Err(message)) | Err(message) => {
            let intact = match kept {
                Some(s) => format!("the checkpoint of step {s} is intact"),
                None => "no checkpoint of this run was saved yet".into(),
            };
            send(Event::Failed {
                what: Failure::Save,
                message: format!("{message}; {intact}"),
            });
            false
        }
    }
}

fn sample(
    tr: &Trainer,
    req: &SampleRequest,
    send: &dyn Fn(Event),
    cancel: &AtomicBool,
) -> Result<Samples, String> {
    let mut traj = Trajectory::new();
    let weights = if req.ema { Weights::Ema } else { Weights::Raw };
    let every = (req.options.steps.min(tr.diffusion.steps()) / 50).max(1);
    let x = tr.sample(
        req.n,
        &req.options,
        weights,
        req.seed,
        (req.frames > 0).then_some((&mut traj, req.frames)),
        &mut |done, of| {
            if cancel.load(Ordering::Relaxed) {
                // Unwinds to `guarded` without running the panic hook.
                std::panic::resume_unwind(Box::new("sampling cancelled"));
            }
            if done % every == 0 || done == of {
                send(Event::SampleProgress {
                    id: req.id,
                    done,
                    of,
                })
            }
        },
    );
    let x = x.map_err(|e| one_line(&e))?;
    let read = |x| tensor_values(x).map_err(|e| one_line(&e));
    Ok(Samples {
        id: req.id,
        step: tr.step,
        ema: req.ema,
        shape: x.size(),
        values: read(&x)?,
        frame_timesteps: traj.timesteps.clone(),
        frames_xt: traj.xt.iter().map(read).collect::<Result<_, _>>()?,
        frames_x0: traj.x0_hat.iter().map(read).collect::<Result<_, _>>()?,
        trace: Box::new(FrameTrace {
            options: req.options.clone(),
            steps: traj.steps.clone(),
            of: traj.of,
            sigmas: traj.sigmas.clone(),
            variances: traj.variances.clone(),
            x0_guided: traj
                .x0_guided
                .iter()
                .map(|h| match h {
                    Some([c, u]) => Ok(Some([read(c)?, read(u)?])),
                    None => Ok(None),
                })
                .collect::<Result<_, String>>()?,
        }),
    })
}

/// A sweep on the worker: the specs checked against the model's T, the samples per point
/// of `eval --sweep`, progress sent as it goes; a shutdown cancels it.
fn run_sweep(
    tr: &Trainer,
    specs: &[String],
    ema: bool,
    id: u64,
    send: &dyn Fn(Event),
    cancel: &AtomicBool,
) -> Result<crate::eval::sweep::Sweep, String> {
    use crate::eval::sweep;
    let specs = sweep::parse_specs(specs, tr.diffusion.steps()).map_err(|e| e.to_string())?;
    let image = tr.item_shape.len() == 3;
    let samples = crate::eval::evaluate::defaults::sweep_samples(image);
    let weights = if ema { Weights::Ema } else { Weights::Raw };
    sweep::run(
        tr,
        &tr.preset.data,
        &specs,
        samples,
        weights,
        crate::eval::evaluate::defaults::SEED,
        &mut |p| {
            if cancel.load(Ordering::Relaxed) {
                std::panic::resume_unwind(Box::new("sweep cancelled"));
            }
            let every = (p.of / 20).max(1);
            if p.step % every == 0 || p.step == p.of {
                send(Event::SweepProgress {
                    id,
                    point: p.point,
                    points: p.points,
                    step: p.step,
                    of: p.of,
                });
            }
        },
        &mut |_| {},
    )
    .map_err(|e| one_line(&e))
}

/// A guidance sweep on the worker: `options` at each w of `scales`, with
/// [`defaults::WORKBENCH_GUIDANCE_SAMPLES`](crate::eval::evaluate::defaults) samples per
/// point (fewer than `eval --guidance-sweep`'s, so that it takes about a minute), progress
/// sent as it goes; a shutdown cancels it.
fn run_guidance_sweep(
    tr: &Trainer,
    scales: &[f64],
    options: &SampleOptions,
    ema: bool,
    id: u64,
    send: &dyn Fn(Event),
    cancel: &AtomicBool,
) -> Result<crate::eval::guidance::GuidanceSweep, String> {
    let samples = crate::eval::evaluate::defaults::WORKBENCH_GUIDANCE_SAMPLES;
    let weights = if ema { Weights::Ema } else { Weights::Raw };
    crate::eval::guidance::run(
        tr,
        &tr.preset.data,
        scales,
        options,
        samples,
        weights,
        crate::eval::evaluate::defaults::SEED,
        &mut |point, points, step, of| {
            if cancel.load(Ordering::Relaxed) {
                std::panic::resume_unwind(Box::new("sweep cancelled"));
            }
            let every = (of / 20).max(1);
            if step % every == 0 || step == of {
                send(Event::SweepProgress {
                    id,
                    point,
                    points,
                    step,
                    of,
                });
            }
        },
        &mut |_| {},
    )
    .map_err(|e| one_line(&e))
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn libtorch_errors_become_one_line() {
        let raw = "called `Result::unwrap()` on an `Err` value: Torch(\"shape mismatch: [2] vs [3]\\nException raised from foo at bar.cpp:1\\nframe #0: …\")";
        let msg = panic_message(Box::new(raw.to_string()));
        assert_eq!(msg, "shape mismatch: [2] vs [3]");
        assert_eq!(panic_message(Box::new("plain")), "plain");
    }
}
