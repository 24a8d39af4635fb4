//! The event loop: a tokio `select!` over the terminal's key events, messages from the
//! worker and from background jobs, signals and a render tick. It redraws only when the
//! state changed, at most about 30 times a second. The worker is a training process of its
//! own (reached over its run folder's socket) or, for a checkpoint opened for inspection, a
//! thread of this one; either way its events are forwarded into a tokio channel by a small
//! bridge thread.
//!
//! (Over 400 lines: the runtime's effects, the image pipeline and the loop sit together
//! because each one drives the others.)

use super::app::{App, Effect, Msg, RunSpec};
use super::graphics::{self, Screen, Setup, Slot};
use super::{inspect, ui};
use crate::config::catalog;
use crate::runs::listing;
use crate::runs::{self, Launch, Overrides, RunOrigin, RunPlan};
use crate::util::one_line;
use crate::worker::protocol::{Command, Event, Failure};
use crate::worker::remote::{self, ConnectError};
use crate::worker::wire::Want;
use crate::worker::WorkerHandle;
use crossterm::event::Event as CEvent;
use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// The shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(33);

/// Plans a run for the workbench (the run service's defaults: a fresh run folder under
/// `checkpoints/`, or the checkpoint's own when resuming). A checkpoint to open has its
/// files checked against their checksums first, as the command line does: a corrupt one
/// is refused before anything starts (and the run that is open stays).
pub fn plan(spec: &RunSpec) -> Result<RunPlan, String> {
    use crate::train::{checkpoint, integrity};
    use crate::worker::Origin;
    let plan = runs::plan(spec, &Overrides::default()).map_err(|e| one_line(&e))?;
    if let Some(Origin::Checkpoint(dir)) = &plan.origin {
        checkpoint::read(dir)
            .and_then(|ck| integrity::verify(&ck))
            .map_err(|e| one_line(&e))?;
    }
    Ok(plan)
}

/// Starts workers and background jobs for the loop.
pub struct Runtime {
    pub tx: UnboundedSender<Msg>,
    rx: UnboundedReceiver<Msg>,
    commands: Option<Sender<Command>>,
    cancel: Option<Arc<AtomicBool>>,
    generation: Arc<AtomicU64>,
    bridges: Vec<JoinHandle<()>>,
    /// How images are drawn, and what the graphics protocol has on the screen.
    pub graphics: Setup,
    screen: Screen,
    /// The encoder thread's queue (graphics protocols only).
    encoder: Option<Sender<Slot>>,
    /// Where pictures are written: the terminal (a sink in tests).
    out: Box<dyn Write + Send>,
    /// The screen must be repainted (it was resized).
    repaint: bool,
    pub device: tch::Device,
    pub threads: usize,
    /// The program that runs training processes: this one, or why it cannot be found
    /// (then no training process is started: another `diffscope` could be another version).
    pub exe: Result<PathBuf, String>,
}

impl Runtime {
    pub fn new(graphics: Setup, device: tch::Device, threads: usize) -> Runtime {
        let (tx, rx) = unbounded_channel();
        let encoder = graphics
            .graphic()
            .then(|| spawn_encoder(graphics.clone(), tx.clone()));
        Runtime {
            tx,
            rx,
            commands: None,
            cancel: None,
            generation: Arc::new(AtomicU64::new(0)),
            bridges: Vec::new(),
            graphics,
            screen: Screen::default(),
            encoder,
            out: Box::new(std::io::stdout()),
            repaint: false,
            device,
            threads,
            exe: std::env::current_exe().map_err(|e| format!("cannot find this program: {e}")),
        }
    }

    fn send(&self, c: Command) {
        if let (Command::Shutdown { .. }, Some(flag)) = (&c, &self.cancel) {
            // Do not keep a shutdown (and its save) waiting behind a long sampling run.
            flag.store(true, Ordering::Relaxed);
        }
        if let Some(tx) = &self.commands {
            let _ = tx.send(c);
        }
    }

    /// Starts a worker for `plan` (the old one, if any, is told to shut down) and returns
    /// the message that tells the app. A training run trains in a process of its own (so
    /// it outlives the workbench) and a live run is attached to, both over the run
    /// folder's socket, connected on the bridge thread; a checkpoint opened for inspection
    /// gets a worker thread here.
    pub fn start(&mut self, plan: RunPlan, save_old: bool) -> Msg {
        // Bump the generation first, so nothing the old worker says from now on (its
        // `Exited` above all) is taken for the new one's.
        let gen = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.send(Command::Shutdown { save: save_old });
        let started = Msg::RunStarted {
            preset: Box::new(plan.preset.clone()),
            train: plan.train,
            run_dir: plan.run_dir.clone(),
            source: plan.source.clone(),
            loss: plan.loss,
            remote: plan.train,
        };
        let launch = Launch {
            device: self.device,
            threads: self.threads,
            total_steps: None,
            seed: None,
            precision: None,
        };
        let (ctx, crx) = std::sync::mpsc::channel::<Command>();
        self.commands = Some(ctx);
        // A training process cancels its own sampling when told to shut down.
        self.cancel = None;
        let spec = plan.spec.clone();
        // A fresh run whose process fails without saving anything leaves no folder.
        let fresh = (plan.train && !plan.resuming && matches!(spec, RunOrigin::Preset(_)))
            .then(|| plan.run_dir.clone());
        let discard = move || {
            if let Some(dir) = &fresh {
                runs::discard_failed(dir, std::time::Duration::from_secs(5));
            }
        };
        let connect: Box<dyn FnOnce() -> Result<WorkerHandle, Box<Msg>> + Send> =
            match (spec, plan.train) {
                (RunOrigin::Live { dir, want }, _) => {
                    Box::new(move || match remote::connect(&dir, want) {
                        Ok(r) => Ok(r.into_handle()),
                        Err(ConnectError::Busy { dir, pid }) => {
                            Err(Box::new(Msg::AttachBusy { dir, pid }))
                        }
                        Err(e) => Err(Box::new(Msg::Worker(Event::Failed {
                            what: Failure::Start,
                            message: one_line(&e),
                        }))),
                    })
                }
                (_, true) => {
                    let exe = self.exe.clone();
                    let args = runs::background_args(&plan, &launch, None);
                    let dir = plan.run_dir.clone();
                    Box::new(move || {
                        let failed = |message| {
                            Box::new(Msg::Worker(Event::Failed {
                                what: Failure::Start,
                                message,
                            }))
                        };
                        let exe = exe.map_err(failed)?;
                        runs::spawn_background(&exe, &args, &dir)
                            .map_err(|e| failed(one_line(&e)))?;
                        runs::wait_for(&dir, Want::Control)
                            .map(|r| r.into_handle())
                            .map_err(failed)
                    })
                }
                _ => match runs::start(plan, &launch) {
                    Some(h) => {
                        self.cancel = Some(h.cancel.clone());
                        Box::new(move || Ok(h))
                    }
                    None => return Msg::RunFailed("nothing to start".into()),
                },
            };
        let tx = self.tx.clone();
        let current = self.generation.clone();
        self.bridges.push(std::thread::spawn(move || {
            let ours = || current.load(Ordering::SeqCst) == gen;
            let handle = match connect() {
                Ok(h) => h,
                Err(m) => {
                    discard();
                    if ours() {
                        let _ = tx.send(*m);
                        let _ = tx.send(Msg::Worker(Event::Exited));
                    }
                    return;
                }
            };
            // Commands sent before the connection was up are waiting in `crx`.
            let commands = handle.commands.clone();
            std::thread::spawn(move || {
                for c in crx.iter() {
                    if commands.send(c).is_err() {
                        break;
                    }
                }
            });
            let mut exited = false;
            for ev in handle.events.iter() {
                exited = ev == Event::Exited;
                if exited {
                    discard();
                }
                if ours() {
                    let _ = tx.send(Msg::Worker(ev));
                }
                if exited {
                    break;
                }
            }
            if !exited && ours() {
                // The worker thread died without saying goodbye.
                let why = super::WORKER_PANIC
                    .lock()
                    .ok()
                    .and_then(|g| g.clone())
                    .unwrap_or_else(|| "unknown error".into());
                let _ = tx.send(Msg::Worker(Event::Failed {
                    what: Failure::Worker,
                    message: format!("the worker stopped: {why}"),
                }));
                let _ = tx.send(Msg::Worker(Event::Exited));
            }
            handle.join();
        }));
        started
    }

    fn job(&self, f: impl FnOnce() -> Msg + Send + 'static) {
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
    }

    /// Carries out effects (and the effects of the messages they produce at once).
    /// Returns true when the loop must end.
    pub fn apply(&mut self, app: &mut App, effects: Vec<Effect>) -> bool {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(e) = queue.pop_front() {
            match e {
                Effect::Send(c) => self.send(c),
                Effect::StartRun { spec, save_old } => {
                    let msg = match plan(&spec) {
                        Ok(p) => self.start(p, save_old),
                        Err(e) => Msg::RunFailed(e),
                    };
                    queue.extend(app.update(msg));
                }
                Effect::PrepareData(p) => self.job(move || match inspect::prepare_data(&p) {
                    Ok(d) => Msg::DataReady(Arc::new(d)),
                    Err(e) => Msg::RunFailed(format!("cannot load the data: {e}")),
                }),
                Effect::PrepareReverse(s) => self.job(move || Msg::ReverseReady {
                    id: s.id,
                    frames: Arc::new(inspect::reverse_frames(&s)),
                }),
                Effect::ScanRuns => {
                    self.job(|| Msg::Runs(listing::scan_runs(&runs::checkpoint_roots())))
                }
                Effect::LoadLog { dir, upto } => {
                    self.job(move || Msg::LogLoaded(Box::new(super::compare::load_log(&dir, upto))))
                }
                Effect::Compare(dirs) => {
                    self.job(move || Msg::Compared(Box::new(super::compare::compare(&dirs))))
                }
                Effect::ScanPresets => self.job(|| Msg::Presets(catalog::scan_presets())),
                Effect::DeleteCheckpoint(p) => self.job(move || {
                    Msg::Deleted(
                        runs::delete_checkpoint(&p)
                            .map(|_| p)
                            .map_err(|e| one_line(&e)),
                    )
                }),
                Effect::DeleteRun(p) => self.job(move || {
                    Msg::Deleted(runs::delete_run(&p).map(|_| p).map_err(|e| one_line(&e)))
                }),
                Effect::Quit => return true,
            }
        }
        false
    }

    /// Where pictures go instead of the terminal (tests).
    pub fn set_output(&mut self, out: Box<dyn Write + Send>) {
        self.out = out;
    }

    /// Draws a frame, then brings the graphics protocol's pictures up to date: erases
    /// those that moved or went away, hands new ones to the encoder and writes those that
    /// are ready.
    fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>, app: &mut App) {
        let mut bytes = Vec::new();
        if std::mem::take(&mut self.repaint) {
            self.screen.cleared(&self.graphics, &mut bytes);
            clear(terminal);
        }
        let mut drawn = ui::Drawn::default();
        if terminal.draw(|f| drawn = ui::draw(f, app)).is_err() {
            return;
        }
        drawn.remember(&mut app.view);
        if !self.graphics.graphic() {
            return;
        }
        let plan = self.screen.plan(&self.graphics, &drawn.slots, &mut bytes);
        if plan.repaint {
            self.flush(&mut bytes);
            clear(terminal);
            let _ = terminal.draw(|f| drawn = ui::draw(f, app));
        }
        if let Some(enc) = &self.encoder {
            for s in plan.encode {
                let _ = enc.send(s);
            }
        }
        self.screen.draw(&drawn.slots, &mut bytes);
        self.flush(&mut bytes);
    }

    fn flush(&mut self, bytes: &mut Vec<u8>) {
        if !bytes.is_empty() {
            let _ = self.out.write_all(bytes);
            let _ = self.out.flush();
            bytes.clear();
        }
    }

    /// Removes the pictures the graphics protocol left (kitty keeps them otherwise).
    pub fn clear_pictures(&mut self) {
        let mut bytes = Vec::new();
        self.screen.cleared(&self.graphics, &mut bytes);
        self.flush(&mut bytes);
    }

    /// Lets go of the workers: a worker thread of this process is stopped (normally it
    /// has exited already); a training process goes on unless it was told to stop. Waits
    /// for the bridges of workers that are stopping (a save included).
    pub fn finish(mut self) {
        self.commands = None;
        self.encoder = None;
        for b in self.bridges.drain(..) {
            if b.is_finished() {
                let _ = b.join();
            }
        }
    }
}

/// Clears the screen and makes the next frame draw everything. (`Terminal::clear` asks the
/// terminal for the cursor position first, which costs a round trip, and two seconds with
/// a terminal that does not answer.)
pub fn clear<B: Backend>(terminal: &mut Terminal<B>) {
    let _ = terminal
        .backend_mut()
        .clear_region(ratatui::backend::ClearType::All);
    // Both buffers blank, like the screen: the next diff covers every cell drawn.
    terminal.swap_buffers();
    terminal.swap_buffers();
}

/// The encoder thread: encodes the newest picture of each slot (older requests for the
/// same slot are skipped, so playing through t never builds a backlog) and sends it back.
fn spawn_encoder(setup: Setup, tx: UnboundedSender<Msg>) -> Sender<Slot> {
    let (jobs, rx) = std::sync::mpsc::channel::<Slot>();
    let _ = std::thread::Builder::new()
        .name("diffscope-images".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut newest = BTreeMap::new();
                newest.insert(first.id, first);
                while let Ok(s) = rx.try_recv() {
                    newest.insert(s.id, s);
                }
                for s in newest.into_values() {
                    let e = graphics::encode(&setup, &s);
                    if tx.send(Msg::GraphicReady(Arc::new(e))).is_err() {
                        return;
                    }
                }
            }
        });
    jobs
}

/// The terminal's events as a stream. A dedicated thread blocks in `crossterm::event::read`
/// and forwards each event, so the event loop never polls the terminal itself.
pub fn terminal_events() -> impl Stream<Item = std::io::Result<CEvent>> + Unpin {
    let (tx, mut rx) = unbounded_channel();
    std::thread::Builder::new()
        .name("diffscope-input".into())
        .spawn(move || loop {
            match crossterm::event::poll(Duration::from_millis(250)) {
                Ok(true) => {
                    let ev = crossterm::event::read();
                    let failed = ev.is_err();
                    if tx.send(ev).is_err() || failed {
                        break;
                    }
                }
                Ok(false) => {
                    // A hung-up terminal (a closed SSH session or tmux pane) may never
                    // report an error on input; its size query does.
                    if crossterm::terminal::size().is_err() {
                        let _ = tx.send(Err(std::io::Error::other("the terminal closed")));
                        break;
                    }
                    if tx.is_closed() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        })
        .ok();
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Runs the loop until the app quits. Generic over the backend so that tests can use
/// ratatui's `TestBackend` and a scripted input stream.
pub async fn run_loop<B: Backend, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    rt: &mut Runtime,
    mut input: S,
    first: Vec<Effect>,
) -> Result<(), String>
where
    S: Stream<Item = std::io::Result<CEvent>> + Unpin,
{
    if rt.apply(app, first) {
        return Ok(());
    }
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_draw: Option<Instant> = None;
    let mut input_open = true;
    let mut signals = super::signals::Signals::new();
    loop {
        if app.dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            rt.draw(terminal, app);
            app.dirty = false;
            last_draw = Some(Instant::now());
        }
        let msg = tokio::select! {
            ev = input.next(), if input_open => match ev {
                Some(Ok(CEvent::Key(k))) => Msg::Key(k),
                Some(Ok(CEvent::Resize(..))) => {
                    app.dirty = true;
                    rt.repaint = true;
                    continue;
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    // The terminal is gone (e.g. the SSH connection dropped).
                    input_open = false;
                    Msg::Signal("the terminal closed".into())
                }
            },
            Some(m) = rt.rx.recv() => {
                if let Msg::GraphicReady(e) = &m {
                    rt.screen.ready(e.clone());
                }
                m
            }
            name = signals.next() => Msg::Signal(name.into()),
            _ = tick.tick() => Msg::Tick,
        };
        let fx = app.update(msg);
        if rt.apply(app, fx) {
            break;
        }
    }
    rt.clear_pictures();
    Ok(())
}
