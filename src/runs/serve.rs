//! A training process: the worker thread of a planned run, the run folder's lock and
//! record, the run log (written here, from the worker's events) and the socket that front
//! ends attach to.
//! Headless `diffscope train` runs in the foreground this way, and the workbench starts
//! the same thing in the background.

use super::runfolder::{Ending, RecordState, RunLock, RunRecord};
use super::runlog::{wall_clock, MetricRow, RunLog};
use super::{self as runs, Launch, RunError, RunPlan};
use crate::util::one_line;
use crate::worker::host::Host;
use crate::worker::protocol::{Command, Event, Failure};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// How a training process ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The last checkpoint saved (folder, step).
    pub saved: Option<(PathBuf, u64)>,
    pub last_loss: Option<f64>,
    /// Why training failed.
    pub failure: Option<String>,
    pub finished: bool,
    /// The signal that stopped it.
    pub signal: Option<&'static str>,
}

static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::Relaxed);
}

/// SIGINT and SIGTERM save and stop; so does SIGHUP in the foreground, while a
/// background process ignores it (it has no terminal to lose).
fn install_signals(background: bool) {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores into an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
        libc::signal(
            libc::SIGHUP,
            if background { libc::SIG_IGN } else { handler },
        );
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Trains a planned run in this process until it finishes, fails, is stopped by a front
/// end or a signal. `background`: no terminal; when training has ended the process stays
/// while front ends are attached, so they can still sample and evaluate. Every event
/// also goes to `on_event` (the foreground progress line).
pub fn train(
    plan: RunPlan,
    launch: &Launch,
    background: bool,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Outcome, RunError> {
    let dir = plan.run_dir.clone();
    let resuming = plan.resuming;
    let keep_log = plan.train;
    let lock = RunLock::acquire(&dir)?;
    // A process killed in a save left its temporary files: this one owns the folder now.
    crate::train::checkpoint::clear_leftovers(&dir);
    // The preset as trained: with the step budget and seed given on the command line.
    let mut preset = plan.preset.clone();
    if let Some(n) = launch.total_steps {
        preset.train.steps = n;
    }
    if let (Some(s), false) = (launch.seed, plan.resuming) {
        preset.train.seed = s;
    }
    if let Some(p) = launch.precision {
        preset.train.precision = p;
    }
    let mut record = RunRecord::new(preset, 0);
    if let Ok(Some(old)) = RunRecord::read(&dir) {
        record.started_unix = old.started_unix;
    }
    record.write(&dir)?;
    install_signals(background);
    SIGNAL.store(0, Ordering::Relaxed);
    let Some(handle) = runs::start(plan, launch) else {
        return Err(RunError::NotARun(dir));
    };
    let host = match Host::start(&dir, handle.commands.clone(), handle.cancel.clone()) {
        Ok(h) => Some(h),
        Err(e) if !background => {
            on_event(&Event::Notice(format!(
                "cannot be attached to: {}",
                one_line(&e)
            )));
            None
        }
        Err(e) => {
            handle.send(Command::Shutdown { save: false });
            handle.join();
            record.end(RecordState::Stopped(Ending::Failed(one_line(&e))), 0);
            // The error returned says why the run ended; a record that cannot be written
            // still says "running", and `runs` lists that as crashed: true enough.
            let _ = record.write(&dir);
            return Err(RunError::Host(e));
        }
    };
    let clients = || host.as_ref().map_or(0, |h| h.clients());
    handle.send(Command::Start);
    let mut out = Outcome::default();
    let mut log = EventLog::default();
    // A failed write of the record was said already.
    let mut said = false;
    let mut step = 0;
    // Training has ended; the process leaves when no front end is attached.
    let mut ended = false;
    let mut shutting = false;
    let shutdown = |save: bool, shutting: &mut bool| {
        if !std::mem::replace(shutting, true) {
            handle.cancel.store(true, Ordering::Relaxed);
            handle.send(Command::Shutdown { save });
        }
    };
    loop {
        let sig = SIGNAL.swap(0, Ordering::Relaxed);
        if sig != 0 && out.signal.is_none() {
            out.signal = Some(signal_name(sig));
            shutdown(true, &mut shutting);
        }
        if ended && clients() == 0 {
            shutdown(false, &mut shutting);
        }
        let ev = match handle.events.recv_timeout(Duration::from_millis(200)) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut notice = None;
        if keep_log {
            notice = log.record(&dir, &ev);
        }
        for ev in std::iter::once(&ev).chain(notice.as_ref()) {
            if let Some(h) = &host {
                h.broadcast(ev);
            }
            on_event(ev);
        }
        let mut late = Vec::new();
        match &ev {
            Event::Ready(info) => {
                step = info.step;
                record.step = step;
                late.extend(write_record(&record, &dir, &mut said));
            }
            Event::Progress { step: s, loss, .. } => {
                step = *s;
                out.last_loss = Some(*loss);
            }
            Event::Saved { path, step: s } => {
                out.saved = Some((path.clone(), *s));
                record.step = *s;
                late.extend(write_record(&record, &dir, &mut said));
            }
            Event::Finished { step: s } => {
                step = *s;
                out.finished = true;
                if background {
                    handle.send(Command::Save { manual: false });
                    ended = true;
                    // Listed as finished while a workbench keeps the process open.
                    record.end(RecordState::Finished, step);
                    late.extend(write_record(&record, &dir, &mut said));
                } else {
                    shutdown(true, &mut shutting);
                }
            }
            Event::TrainingStopped(msg) => {
                out.failure = Some(msg.clone());
                if background {
                    ended = true;
                    record.end(RecordState::Stopped(Ending::Failed(msg.clone())), step);
                    late.extend(write_record(&record, &dir, &mut said));
                } else {
                    shutdown(false, &mut shutting);
                }
            }
            Event::Failed {
                what: Failure::Save,
                message,
            } if shutting => {
                // The save this process asked for on its way out failed (a full disk):
                // the worker waits for a decision; there is no one to make room.
                out.failure = Some(Failure::Save.describe(message));
                handle.send(Command::Shutdown { save: false });
            }
            Event::Failed { what, message }
                if matches!(what, Failure::Start | Failure::Worker)
                    || (*what == Failure::Save && !background) =>
            {
                out.failure = Some(what.describe(message));
                shutdown(false, &mut shutting);
            }
            Event::Exited => break,
            _ => {}
        }
        for ev in &late {
            if let Some(h) = &host {
                h.broadcast(ev);
            }
            on_event(ev);
        }
    }
    let state = match (&out.signal, &out.failure) {
        (Some(s), _) => RecordState::Stopped(Ending::Signal((*s).into())),
        (None, Some(f)) => RecordState::Stopped(Ending::Failed(f.clone())),
        (None, None) if out.finished => RecordState::Finished,
        // A front end's "stop", or the user's Ctrl-C already counted as a signal.
        _ => RecordState::Stopped(Ending::User),
    };
    // A fresh run stopped by its user before anything was saved leaves nothing behind.
    let discarded = state == RecordState::Stopped(Ending::User) && !resuming;
    record.end(state, step);
    if let Some(n) = write_record(&record, &dir, &mut said) {
        if let Some(h) = &host {
            h.broadcast(&n);
        }
        on_event(&n);
    }
    if let Some(h) = host {
        h.close();
    }
    handle.join();
    if discarded {
        super::runfolder::remove_if_unused(&dir);
    }
    drop(lock);
    Ok(out)
}

/// Writes the run's record; the notice to send when that fails, once per process (`runs`
/// would list the run in a state it has left).
fn write_record(record: &RunRecord, dir: &std::path::Path, said: &mut bool) -> Option<Event> {
    let e = record.write(dir).err()?;
    (!std::mem::replace(said, true)).then(|| {
        Event::Notice(format!(
            "the run's record is not up to date, so `diffscope runs` may list this run \
             wrongly: {}",
            one_line(&e)
        ))
    })
}

/// The run log of a training process, written from its worker's events: a row of
/// `metrics.csv` per progress report, of `evals.csv` (and its terms) per evaluation.
#[derive(Default)]
pub struct EventLog {
    log: Option<RunLog>,
    /// A failure was reported already (one notice per process is enough).
    failed: bool,
}

impl EventLog {
    /// Writes what `ev` adds to the log; the notice to send when the log cannot be kept.
    pub fn record(&mut self, dir: &std::path::Path, ev: &Event) -> Option<Event> {
        let result = match (ev, self.log.as_mut()) {
            // The run log starts where the weights are: rows after their step are dropped.
            (Event::Ready(info), _) => match RunLog::open(dir, info.step) {
                Ok(l) => {
                    self.log = Some(l);
                    return None;
                }
                Err(e) => {
                    self.failed = true;
                    let m = format!("the run log is not kept: {}", one_line(&e));
                    return Some(Event::Notice(m));
                }
            },
            (
                Event::Progress {
                    step,
                    loss,
                    quarter_losses,
                    lr,
                    grad_norm,
                    steps_per_sec,
                },
                Some(l),
            ) => {
                let [loss_q1, loss_q2, loss_q3, loss_q4] = *quarter_losses;
                l.metric(&MetricRow {
                    step: *step,
                    wall_time: wall_clock(),
                    loss: *loss,
                    loss_q1,
                    loss_q2,
                    loss_q3,
                    loss_q4,
                    lr: *lr,
                    grad_norm: *grad_norm,
                    steps_per_sec: *steps_per_sec,
                })
            }
            (Event::Evaluation(e), Some(l)) => l.eval(&e.evaluation, &e.per_t),
            _ => Ok(()),
        };
        match result {
            Err(e) if !std::mem::replace(&mut self.failed, true) => {
                Some(Event::Notice(format!("the run log: {}", one_line(&e))))
            }
            _ => None,
        }
    }
}
