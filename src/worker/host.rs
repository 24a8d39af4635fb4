//! The worker's socket: front ends (workbenches, `diffscope attach`) connect to a training
//! process over `worker.sock` in its run folder, get the run's state, then its events as
//! they happen, and send it commands.
//!
//! One front end controls the run; others watch read-only, or take over control. The
//! socket is created with mode 0600 and every peer's user id is checked, so only the user
//! who started the run can see or steer it.

use super::protocol::{Command, Event, Phase, RunInfo};
use super::wire::{self, ClientMsg, ServerMsg, Want};
use super::SOCKET_FILE;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(
        "{}: the socket path is {len} bytes, more than Unix sockets allow ({max}); use a \
         shorter run folder (--out)", .path.display()
    )]
    PathTooLong {
        path: PathBuf,
        len: usize,
        max: usize,
    },
    #[error("{}: cannot create the worker's socket", .path.display())]
    Bind {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The longest socket path (`sun_path` less its terminating zero).
pub(crate) const MAX_SOCKET_PATH: usize = 107;

/// What a front end needs to catch up with a run.
#[derive(Default)]
struct Snapshot {
    ready: Option<RunInfo>,
    progress: Option<Event>,
    samples: Option<Event>,
    evaluation: Option<Event>,
    /// The event that ended training (finished or stopped), if any.
    ended: Option<Event>,
    notices: VecDeque<Event>,
    /// A start failure (then `Exited`), for a front end that connects just after.
    failed: Option<Event>,
}

impl Snapshot {
    fn note(&mut self, e: &Event) {
        let phase = |s: &mut Snapshot, p: Phase| {
            if let Some(r) = s.ready.as_mut() {
                r.phase = p;
            }
        };
        match e {
            Event::Ready(info) => self.ready = Some(info.clone()),
            Event::Progress { step, .. } => {
                if let Some(r) = self.ready.as_mut() {
                    r.step = *step;
                    if r.phase == Phase::Idle {
                        r.phase = Phase::Training;
                    }
                }
                self.progress = Some(e.clone());
            }
            Event::Saved { step, .. } => {
                if let Some(r) = self.ready.as_mut() {
                    r.saved_step = r.saved_step.max(*step);
                }
            }
            Event::Paused => phase(self, Phase::Paused),
            Event::Resumed => phase(self, Phase::Training),
            Event::Finished { step } => {
                if let Some(r) = self.ready.as_mut() {
                    r.step = *step;
                }
                phase(self, Phase::Finished);
                self.ended = Some(e.clone());
            }
            Event::TrainingStopped(_) => {
                phase(self, Phase::Stopped);
                self.ended = Some(e.clone());
            }
            Event::Samples(_) => self.samples = Some(e.clone()),
            Event::Evaluation(_) => self.evaluation = Some(e.clone()),
            Event::Notice(_) => {
                self.notices.push_back(e.clone());
                if self.notices.len() > 4 {
                    self.notices.pop_front();
                }
            }
            Event::Failed {
                what: super::protocol::Failure::Start,
                ..
            } => self.failed = Some(e.clone()),
            _ => {}
        }
    }

    /// The events that bring a new front end up to date, in order.
    fn replay(&self) -> Vec<Event> {
        let mut v: Vec<Event> = Vec::new();
        if let Some(f) = &self.failed {
            v.push(f.clone());
            v.push(Event::Exited);
            return v;
        }
        if let Some(r) = &self.ready {
            v.push(Event::Ready(r.clone()));
        }
        v.extend(self.notices.iter().cloned());
        v.extend(self.progress.iter().cloned());
        v.extend(self.samples.iter().cloned());
        v.extend(self.evaluation.iter().cloned());
        if self
            .ready
            .as_ref()
            .is_some_and(|r| r.phase == Phase::Paused)
        {
            v.push(Event::Paused);
        }
        v.extend(self.ended.iter().cloned());
        v
    }
}

struct Client {
    id: u64,
    stream: UnixStream,
    control: bool,
    pid: u32,
}

#[derive(Default)]
struct Shared {
    clients: Vec<Client>,
    snapshot: Snapshot,
    next_id: u64,
}

/// The listening socket of a training process.
pub(crate) struct Host {
    shared: Arc<Mutex<Shared>>,
    socket: PathBuf,
    closed: Arc<AtomicBool>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the socket of the run in `dir` is.
pub(crate) fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET_FILE)
}

/// The socket path as given to the system: `path`, or the same path relative to the
/// current folder when that is short enough and `path` is not.
pub(crate) fn usable_path(path: &Path) -> Result<PathBuf, HostError> {
    let len = path.as_os_str().len();
    if len <= MAX_SOCKET_PATH {
        return Ok(path.to_path_buf());
    }
    if let Some(rel) = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|r| r.as_os_str().len() <= MAX_SOCKET_PATH)
    {
        return Ok(rel);
    }
    Err(HostError::PathTooLong {
        path: path.to_path_buf(),
        len,
        max: MAX_SOCKET_PATH,
    })
}

/// Binds a socket at `path` that only this user can ever connect to: it is bound in a
/// fresh folder of mode 0700 beside `path`, made 0600, then moved into place. (Setting
/// the umask instead would change the mode of what every other thread creates meanwhile.)
/// The names inside are shorter than `path`'s, so a path that fits fits there too.
fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let parent = path.parent().unwrap_or(Path::new(""));
    let private = parent.join(format!(".s{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let inner = private.join("s");
    let bound = UnixListener::bind(&inner).and_then(|l| {
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&inner, path)?;
        Ok(l)
    });
    let _ = std::fs::remove_dir_all(&private);
    bound
}

impl Host {
    /// Listens on `dir/worker.sock` (replacing a stale one: the caller holds the run
    /// folder's lock). Commands from the controlling front end go to `commands`; a
    /// shutdown also raises `cancel`, so that it does not wait behind a sampling run.
    pub fn start(
        dir: &Path,
        commands: Sender<Command>,
        cancel: Arc<AtomicBool>,
    ) -> Result<Host, HostError> {
        let socket = socket_path(dir);
        let path = usable_path(&socket)?;
        let _ = std::fs::remove_file(&path);
        let listener = bind_private(&path).map_err(|source| HostError::Bind {
            path: socket.clone(),
            source,
        })?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let closed = Arc::new(AtomicBool::new(false));
        let (sh, stop) = (shared.clone(), closed.clone());
        std::thread::Builder::new()
            .name("diffscope-socket".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (sh, commands, cancel) = (sh.clone(), commands.clone(), cancel.clone());
                    let _ = std::thread::Builder::new()
                        .name("diffscope-client".into())
                        .spawn(move || serve(stream, &sh, &commands, &cancel));
                }
            })
            .map_err(|source| HostError::Bind {
                path: socket.clone(),
                source,
            })?;
        Ok(Host {
            shared,
            socket,
            closed,
        })
    }

    /// Sends an event to every front end (dropping those that cannot take it) and keeps
    /// what a later one needs.
    pub(crate) fn broadcast(&self, e: &Event) {
        let mut frame = Vec::new();
        if wire::write_frame(&mut frame, &ServerMsg::Event(e.clone())).is_err() {
            return;
        }
        let mut sh = lock(&self.shared);
        sh.snapshot.note(e);
        sh.clients
            .retain_mut(|c| c.stream.write_all(&frame).is_ok());
    }

    /// Front ends connected now.
    pub(crate) fn clients(&self) -> usize {
        lock(&self.shared).clients.len()
    }

    /// Stops listening and removes the socket; connected front ends see the stream end.
    pub fn close(self) {
        self.closed.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_file(&self.socket);
        let mut sh = lock(&self.shared);
        for c in sh.clients.drain(..) {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// One front end's connection: the handshake, then its commands until it leaves.
fn serve(
    stream: UnixStream,
    shared: &Mutex<Shared>,
    commands: &Sender<Command>,
    cancel: &AtomicBool,
) {
    let pid = match wire::peer(&stream) {
        Ok((uid, pid)) if uid == wire::my_uid() => pid,
        // Another user: not a word to them.
        _ => return,
    };
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let Ok(mut reader) = stream.try_clone() else {
        return;
    };
    let mut writer = stream;
    let id = loop {
        let want = match wire::read_frame::<ClientMsg>(&mut reader) {
            Ok(Some(ClientMsg::Hello { want })) => want,
            _ => return,
        };
        let mut sh = lock(shared);
        let controller = sh.clients.iter().find(|c| c.control).map(|c| c.pid);
        let control = match (want, controller) {
            (Want::Control, Some(pid)) => {
                drop(sh);
                if wire::write_frame(&mut writer, &ServerMsg::Busy { pid }).is_err() {
                    return;
                }
                continue;
            }
            (Want::Watch, _) => false,
            (Want::TakeOver, _) => {
                for c in sh.clients.iter_mut().filter(|c| c.control) {
                    c.control = false;
                    let _ = wire::write_frame(&mut c.stream, &ServerMsg::ControlLost);
                }
                true
            }
            (Want::Control, None) => true,
        };
        // Welcome and the catch-up under the lock, so no broadcast slips in between.
        let mut ok = wire::write_frame(&mut writer, &ServerMsg::Welcome { control }).is_ok();
        for e in sh.snapshot.replay() {
            ok = ok && wire::write_frame(&mut writer, &ServerMsg::Event(e)).is_ok();
        }
        if !ok {
            return;
        }
        sh.next_id += 1;
        let id = sh.next_id;
        let Ok(stream) = writer.try_clone() else {
            return;
        };
        sh.clients.push(Client {
            id,
            stream,
            control,
            pid,
        });
        break id;
    };
    while let Ok(Some(msg)) = wire::read_frame::<ClientMsg>(&mut reader) {
        let ClientMsg::Command(c) = msg else { continue };
        let sh = lock(shared);
        if !sh.clients.iter().any(|x| x.id == id && x.control) {
            continue;
        }
        if matches!(c, Command::Shutdown { .. }) {
            cancel.store(true, Ordering::Relaxed);
        }
        let _ = commands.send(c);
    }
    lock(shared).clients.retain(|c| c.id != id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::remote::{connect, ConnectError};
    use std::os::unix::fs::PermissionsExt;
    use std::sync::mpsc::{channel, Receiver};
    use std::time::Instant;

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed().as_secs() < 10, "timed out: {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn next(rx: &Receiver<Event>) -> Event {
        rx.recv_timeout(Duration::from_secs(10)).unwrap()
    }

    #[test]
    fn one_front_end_controls_others_watch_or_take_over() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, commands) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let host = Host::start(dir.path(), tx, cancel.clone()).unwrap();
        let mode = std::fs::metadata(socket_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let info = RunInfo {
            preset: "p".into(),
            device: "cpu".into(),
            parameters: 1,
            step: 0,
            saved_step: 0,
            total_steps: 10,
            item_shape: vec![2],
            run_dir: dir.path().to_path_buf(),
            phase: Phase::Idle,
            precision: "fp32".into(),
        };
        host.broadcast(&Event::Ready(info));
        let progress = Event::Progress {
            step: 5,
            loss: 0.5,
            quarter_losses: [None; 4],
            lr: 0.1,
            grad_norm: 1.0,
            steps_per_sec: 2.0,
        };
        host.broadcast(&progress);

        // The first front end controls the run and catches up with it.
        let a = connect(dir.path(), Want::Control).unwrap();
        assert!(a.control);
        let a = a.into_handle();
        match next(&a.events) {
            // Step 5 is where training is; nothing of it is saved yet.
            Event::Ready(r) => assert_eq!((r.step, r.saved_step, r.phase), (5, 0, Phase::Training)),
            other => panic!("{other:?}"),
        }
        assert_eq!(next(&a.events), progress);
        a.send(Command::Pause);
        assert_eq!(
            commands.recv_timeout(Duration::from_secs(10)).unwrap(),
            Command::Pause
        );

        // A second one is told who controls it, and may watch: its commands are ignored.
        match connect(dir.path(), Want::Control) {
            Err(ConnectError::Busy { pid, .. }) => assert_eq!(pid, std::process::id()),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("two controllers"),
        }
        let b = connect(dir.path(), Want::Watch).unwrap();
        assert!(!b.control);
        let b = b.into_handle();
        assert_eq!(next(&b.events), Event::Watching);
        assert!(matches!(next(&b.events), Event::Ready(_)));
        assert_eq!(next(&b.events), progress);
        wait_for("two front ends", || host.clients() == 2);
        let saved = Event::Saved {
            path: dir.path().join("step-00000005"),
            step: 5,
        };
        host.broadcast(&saved);
        assert_eq!(next(&a.events), saved);
        assert_eq!(next(&b.events), saved);
        b.send(Command::Save { manual: true });
        host.broadcast(&Event::Paused);
        assert_eq!(next(&a.events), Event::Paused);
        assert_eq!(next(&b.events), Event::Paused);
        assert!(
            commands.try_recv().is_err(),
            "a watcher's command was obeyed"
        );

        // A third takes over: the first now watches.
        let c = connect(dir.path(), Want::TakeOver).unwrap();
        assert!(c.control);
        let c = c.into_handle();
        match next(&c.events) {
            Event::Ready(r) => assert_eq!((r.step, r.saved_step), (5, 5), "saved since"),
            other => panic!("{other:?}"),
        }
        assert_eq!(next(&a.events), Event::Watching);
        while next(&c.events) != Event::Paused {}
        c.send(Command::Shutdown { save: true });
        assert_eq!(
            commands.recv_timeout(Duration::from_secs(10)).unwrap(),
            Command::Shutdown { save: true }
        );
        assert!(
            cancel.load(Ordering::Relaxed),
            "a shutdown cancels sampling"
        );

        // Leaving is not stopping: the host just counts one front end fewer.
        drop(b);
        wait_for("a front end fewer", || host.clients() == 2);
        host.broadcast(&Event::Exited);
        assert_eq!(next(&c.events), Event::Exited);
        host.close();
        assert!(!socket_path(dir.path()).exists());
        assert!(matches!(
            connect(dir.path(), Want::Control),
            Err(ConnectError::NotRunning { .. })
        ));
    }

    #[test]
    fn a_stale_socket_is_not_a_live_run() {
        let dir = tempfile::tempdir().unwrap();
        // A socket nobody listens on, as a killed process leaves it.
        drop(UnixListener::bind(socket_path(dir.path())).unwrap());
        assert!(socket_path(dir.path()).exists());
        assert!(matches!(
            connect(dir.path(), Want::Control),
            Err(ConnectError::NotRunning { .. })
        ));
    }

    #[test]
    fn a_process_that_dies_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _commands) = channel();
        let host = Host::start(dir.path(), tx, Arc::new(AtomicBool::new(false))).unwrap();
        let a = connect(dir.path(), Want::Control).unwrap().into_handle();
        wait_for("the front end", || host.clients() == 1);
        // The stream ends without the worker's goodbye.
        host.close();
        match next(&a.events) {
            Event::Failed { what, message } => {
                assert_eq!(what, crate::worker::protocol::Failure::Worker);
                assert!(message.contains("worker.log"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(next(&a.events), Event::Exited);
    }
}
