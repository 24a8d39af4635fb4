//! What a run folder says about its run, beside its checkpoints and its log:
//!
//! ```text
//! checkpoints/swissroll-20261125-130501/
//!     run.ron        the preset, when it started, its state and how it ended
//!     run.lock       held (flock) by the one process training in the folder; its pid
//!     worker.sock    the worker's socket while it runs (mode 0600)
//!     worker.log     what a background worker printed
//! ```
//!
//! The lock is an advisory `flock`, which the kernel releases when its process dies, so a
//! lock left by a crash (or `kill -9`) is never mistaken for a live run: a run is live
//! exactly while its lock is held. `run.ron` says `Running` until the worker writes how
//! it ended; `Running` without a held lock is a run that crashed or was killed.

use crate::config::{parse_ron, Preset};
use crate::util::{now_unix, write_atomic, WriteError};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const RECORD_FILE: &str = "run.ron";
pub(crate) const LOCK_FILE: &str = "run.lock";
pub use crate::worker::{SOCKET_FILE, WORKER_LOG};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Ending {
    /// Stopped by the user (from the workbench, or `q`).
    User,
    /// Stopped by a signal (its name).
    Signal(String),
    /// Training failed (the message).
    Failed(String),
    /// The process died without saying how (a crash, `kill -9`, a power cut).
    Crashed,
}

/// A run's state, as written in `run.ron`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RecordState {
    Running,
    Finished,
    Stopped(Ending),
}

/// `run.ron`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub preset: Preset,
    /// Seconds since the Unix epoch.
    pub started_unix: u64,
    /// The process that trains (or trained) the run.
    pub pid: u32,
    pub state: RecordState,
    /// The last step reached, as of the last write.
    pub step: u64,
    pub ended_unix: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    #[error(
        "{}: another process (pid {pid}) is training in this run folder; attach to it with \
         `diffscope attach {}`",
        .dir.display(), .dir.display()
    )]
    Busy { dir: PathBuf, pid: LockPid },
    #[error("{}: cannot lock the run folder", .path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Read(#[from] crate::config::ConfigError),
}

/// The lock of a run folder, held while a process trains in it.
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor this `File` owns.
    let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The pid written in a run folder's lock: None when it cannot be read (the holder took
/// the lock a moment ago and has not written it yet, or the file is damaged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPid(pub Option<u32>);

impl std::fmt::Display for LockPid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(pid) => write!(f, "{pid}"),
            None => f.write_str("unknown"),
        }
    }
}

fn read_pid(file: &mut File) -> LockPid {
    let mut s = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut s);
    LockPid(s.trim().parse().ok())
}

impl RunLock {
    /// Takes the lock of `dir` (created when missing) for this process, or says which
    /// process holds it. A moment's wait covers a `runs` listing that probes the lock.
    pub(crate) fn acquire(dir: &Path) -> Result<RunLock, RunFolderError> {
        let path = dir.join(LOCK_FILE);
        let lock_err = |source| RunFolderError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_err)?;
        let mut tries = 0;
        loop {
            match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && tries < 10 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(30));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(RunFolderError::Busy {
                        dir: dir.to_path_buf(),
                        pid: read_pid(&mut file),
                    })
                }
                Err(e) => return Err(lock_err(e)),
            }
        }
        file.set_len(0).map_err(lock_err)?;
        file.rewind().map_err(lock_err)?;
        writeln!(file, "{}", std::process::id()).map_err(lock_err)?;
        file.flush().map_err(lock_err)?;
        Ok(RunLock { _file: file })
    }
}

/// The pid of the process holding `dir`'s lock: Some while a process trains there.
pub fn holder(dir: &Path) -> Option<LockPid> {
    let mut file = File::open(dir.join(LOCK_FILE)).ok()?;
    match flock(&file, libc::LOCK_SH | libc::LOCK_NB) {
        Ok(()) => {
            let _ = flock(&file, libc::LOCK_UN);
            None
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(read_pid(&mut file)),
        Err(_) => None,
    }
}

impl RunRecord {
    pub fn new(preset: Preset, step: u64) -> RunRecord {
        RunRecord {
            preset,
            started_unix: now_unix(),
            pid: std::process::id(),
            state: RecordState::Running,
            step,
            ended_unix: None,
        }
    }

    /// Reads `dir/run.ron` (None when there is none).
    pub fn read(dir: &Path) -> Result<Option<RunRecord>, RunFolderError> {
        let path = dir.join(RECORD_FILE);
        let Ok(text) = fs::read_to_string(&path) else {
            return Ok(None);
        };
        Ok(Some(parse_ron(&text, &path)?))
    }

    /// Writes `dir/run.ron` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), RunFolderError> {
        let text =
            ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default()).map_err(|e| {
                WriteError {
                    path: dir.join(RECORD_FILE),
                    source: io::Error::other(e.to_string()),
                }
            })?;
        write_atomic(&dir.join(RECORD_FILE), text.as_bytes())?;
        Ok(())
    }

    /// Records how the run ended.
    pub fn end(&mut self, state: RecordState, step: u64) {
        self.state = state;
        self.step = self.step.max(step);
        self.ended_unix = Some(now_unix());
    }
}

/// Removes a run folder that holds no checkpoint: the files a run keeps beside its
/// checkpoints, then the folder if that leaves it empty (nothing else is touched).
pub(crate) fn remove_if_unused(dir: &Path) {
    if !crate::train::checkpoint::list_steps(dir).is_ok_and(|s| s.is_empty()) {
        return;
    }
    for f in [
        RECORD_FILE,
        LOCK_FILE,
        SOCKET_FILE,
        WORKER_LOG,
        super::runlog::METRICS_FILE,
        super::runlog::EVALS_FILE,
        super::runlog::TERMS_FILE,
    ] {
        let _ = fs::remove_file(dir.join(f));
    }
    let _ = fs::remove_dir(dir);
}

/// A run's state as `diffscope runs` shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// A live process trains it.
    Running {
        pid: LockPid,
    },
    /// Training has ended (finished: None; else how it stopped), but its process (pid)
    /// stays while a workbench is attached to it.
    Open {
        pid: LockPid,
        ending: Option<Ending>,
    },
    Finished,
    Stopped(Ending),
}

impl Status {
    /// The state in a word or three: `running`, `finished`, `stopped (by the user)`…
    pub fn describe(&self) -> String {
        match self {
            Status::Running { .. } => "running".into(),
            Status::Open { ending: None, .. } => "finished (workbench open)".into(),
            Status::Open {
                ending: Some(e), ..
            } => format!("{} (workbench open)", Status::Stopped(e.clone()).describe()),
            Status::Finished => "finished".into(),
            Status::Stopped(Ending::User) => "stopped (by the user)".into(),
            Status::Stopped(Ending::Signal(s)) => format!("stopped ({s})"),
            Status::Stopped(Ending::Failed(_)) => "stopped (failed)".into(),
            Status::Stopped(Ending::Crashed) => "stopped (crashed or killed)".into(),
        }
    }

    /// A process holds the run: it can be attached to, not deleted.
    pub fn live(&self) -> bool {
        matches!(self, Status::Running { .. } | Status::Open { .. })
    }

    /// The process that holds the run.
    pub fn pid(&self) -> Option<LockPid> {
        match self {
            Status::Running { pid } | Status::Open { pid, .. } => Some(*pid),
            _ => None,
        }
    }
}

/// The state of the run in `dir`, from its lock and its record. A record that says
/// running while nobody holds the lock is a crash; one that says how training ended while
/// the lock is held is a process kept open by a workbench; a folder without a record (an
/// older run) counts as stopped, or finished when its last checkpoint reached the budget.
pub fn status(dir: &Path, record: Option<&RunRecord>, finished: bool) -> Status {
    if let Some(pid) = holder(dir) {
        return match record.map(|r| &r.state) {
            Some(RecordState::Finished) => Status::Open { pid, ending: None },
            Some(RecordState::Stopped(e)) => Status::Open {
                pid,
                ending: Some(e.clone()),
            },
            _ => Status::Running { pid },
        };
    }
    match record.map(|r| &r.state) {
        Some(RecordState::Finished) => Status::Finished,
        Some(RecordState::Stopped(e)) => Status::Stopped(e.clone()),
        Some(RecordState::Running) => Status::Stopped(Ending::Crashed),
        None if finished => Status::Finished,
        None => Status::Stopped(Ending::User),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_and_released_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let lock = RunLock::acquire(dir.path()).unwrap();
        assert_eq!(holder(dir.path()), Some(LockPid(Some(std::process::id()))));
        // flock locks belong to the open file: a second open in the same process
        // conflicts like another process would.
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another process"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(lock);
        assert_eq!(holder(dir.path()), None);
        assert!(RunLock::acquire(dir.path()).is_ok());
    }

    #[test]
    fn a_record_left_running_without_its_lock_is_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let preset = Preset::load("swissroll").unwrap().preset;
        let mut rec = RunRecord::new(preset, 0);
        rec.write(dir.path()).unwrap();
        let back = RunRecord::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, rec);
        assert_eq!(
            status(dir.path(), Some(&back), false),
            Status::Stopped(Ending::Crashed)
        );
        let lock = RunLock::acquire(dir.path()).unwrap();
        assert!(status(dir.path(), Some(&back), false).live());
        // training ended while a workbench keeps the process open
        let mut done = back.clone();
        done.end(RecordState::Finished, 6000);
        let open = status(dir.path(), Some(&done), false);
        assert_eq!(
            open,
            Status::Open {
                pid: LockPid(Some(std::process::id())),
                ending: None
            }
        );
        assert_eq!(open.describe(), "finished (workbench open)");
        assert!(open.live());
        drop(lock);
        rec.end(RecordState::Stopped(Ending::Signal("SIGTERM".into())), 10);
        rec.write(dir.path()).unwrap();
        let back = RunRecord::read(dir.path()).unwrap();
        assert_eq!(
            status(dir.path(), back.as_ref(), false).describe(),
            "stopped (SIGTERM)"
        );
        assert_eq!(status(dir.path(), None, true), Status::Finished);
    }
}
