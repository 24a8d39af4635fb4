//! The run service, shared by the command line and the workbench: plan a run (its preset
//! or checkpoint, and its folder), start or resume its worker, and list and delete the
//! checkpoints and runs that training leaves.

use super::runfolder::{self, RunFolderError, RunRecord};
use super::runlog;
use crate::config::{paths, Preset};
use crate::train::checkpoint::{self, CheckpointError, CheckpointMeta, META_FILE};
use crate::util::{now_unix, timestamp};
use crate::worker::remote;
use crate::worker::wire::Want;
use crate::worker::{self, Origin, WorkerHandle, WorkerOptions};
use std::path::{Path, PathBuf};
use tch::Device;

/// Where a run comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOrigin {
    /// A preset name or path.
    Preset(String),
    /// A checkpoint (step folder or run folder).
    Checkpoint(PathBuf),
    /// A run that a training process is running now (its run folder): attach to it.
    Live { dir: PathBuf, want: Want },
}

/// Which run to start.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub origin: RunOrigin,
    /// Train (true) or only inspect and sample (false).
    pub train: bool,
}

/// Changes to a planned run.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The run folder (default: `checkpoints/<preset>-<time>`, or a checkpoint's own run
    /// folder when resuming).
    pub out: Option<PathBuf>,
    /// The data file or folder of a preset with file data.
    pub data: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Preset(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{}: not a checkpoint folder", .0.display())]
    NotACheckpoint(PathBuf),
    #[error(transparent)]
    RunFolder(#[from] RunFolderError),
    #[error(transparent)]
    Host(#[from] crate::worker::host::HostError),
    #[error(transparent)]
    Log(#[from] runlog::RunLogError),
    #[error("{}: not a run folder (no run.ron and no checkpoint)", .0.display())]
    NotARun(PathBuf),
    #[error("{}: cannot start the training process", .dir.display())]
    Spawn {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: a process (pid {pid}) trains this run now; stop it first (`diffscope attach {}`, \
         then q)",
        .dir.display(), .dir.display()
    )]
    Live {
        dir: PathBuf,
        pid: runfolder::LockPid,
    },
    #[error("{}: cannot delete", .dir.display())]
    Delete {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A run, resolved and ready to start.
pub struct RunPlan {
    pub preset: Preset,
    /// How to build its worker (None: a live run, which has its own).
    pub origin: Option<Origin>,
    /// What was asked for.
    pub spec: RunOrigin,
    pub run_dir: PathBuf,
    pub train: bool,
    /// Training goes on from a checkpoint (into its run folder, unless overridden).
    pub resuming: bool,
    /// Where it came from, for messages: the preset's name or the checkpoint's folder.
    pub source: String,
    /// The checkpoint's last loss, when opening one.
    pub loss: Option<f64>,
}

/// Resolves a run: loads the preset or the checkpoint and, when it trains, prepares the
/// run folder.
pub fn plan(spec: &RunSpec, over: &Overrides) -> Result<RunPlan, RunError> {
    // Training into a folder that a live process trains in is refused at once (its lock
    // would refuse it later anyway, after loading everything).
    let target = match (&over.out, &spec.origin) {
        (Some(out), _) => Some(out.clone()),
        (None, RunOrigin::Checkpoint(p)) if p.join(META_FILE).is_file() => {
            p.parent().map(Path::to_path_buf)
        }
        (None, RunOrigin::Checkpoint(p)) => Some(p.clone()),
        _ => None,
    };
    if let Some(dir) = target.filter(|_| spec.train) {
        if let Some(pid) = runfolder::holder(&dir) {
            return Err(RunFolderError::Busy { dir, pid }.into());
        }
    }
    let plan = match &spec.origin {
        RunOrigin::Preset(name) => {
            let mut loaded = Preset::load(name)?;
            if let Some(p) = &over.data {
                loaded.preset.data.set_path(p.clone())?;
            }
            let preset = loaded.preset;
            let run_dir = over.out.clone().unwrap_or_else(|| {
                PathBuf::from("checkpoints").join(format!(
                    "{}-{}",
                    preset.name,
                    timestamp(now_unix())
                ))
            });
            RunPlan {
                source: preset.name.clone(),
                origin: Some(Origin::Preset(Box::new(preset.clone()))),
                spec: spec.origin.clone(),
                preset,
                run_dir,
                train: spec.train,
                resuming: false,
                loss: None,
            }
        }
        RunOrigin::Checkpoint(path) => {
            let ck = checkpoint::read(path)?;
            let run_dir = over.out.clone().unwrap_or_else(|| {
                ck.dir
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            });
            RunPlan {
                loss: ck.meta.loss,
                preset: ck.meta.preset,
                source: ck.dir.display().to_string(),
                origin: Some(Origin::Checkpoint(ck.dir)),
                spec: spec.origin.clone(),
                run_dir,
                train: spec.train,
                resuming: true,
            }
        }
        RunOrigin::Live { dir, .. } => {
            let record = RunRecord::read(dir)?.ok_or_else(|| RunError::NotARun(dir.clone()))?;
            return Ok(RunPlan {
                source: dir.display().to_string(),
                preset: record.preset,
                origin: None,
                spec: spec.origin.clone(),
                run_dir: dir.clone(),
                train: true,
                resuming: true,
                loss: None,
            });
        }
    };
    if plan.train {
        checkpoint::prepare_run_dir(&plan.run_dir, plan.resuming)?;
    }
    Ok(plan)
}

/// How to run a planned run's worker.
#[derive(Debug, Clone)]
pub struct Launch {
    pub device: Device,
    /// libtorch threads (0: the preset's, or all cores).
    pub threads: usize,
    /// Total steps to train to (None: the preset's).
    pub total_steps: Option<u64>,
    /// Override the preset's seed.
    pub seed: Option<u64>,
    /// Compute in this instead of the preset's precision.
    pub precision: Option<crate::model::precision::Precision>,
}

/// Starts the worker of a planned run on a thread of this process. A live run has its
/// own worker: None.
pub fn start(plan: RunPlan, launch: &Launch) -> Option<WorkerHandle> {
    Some(worker::spawn(WorkerOptions {
        origin: plan.origin?,
        device: launch.device,
        precision: launch.precision,
        run_dir: plan.run_dir,
        total_steps: launch.total_steps,
        seed: launch.seed,
        threads: launch.threads,
        command: command_line(),
    }))
}

/// The `diffscope train` arguments that run a planned training run in a background
/// process of its own (the same worker as headless `train`, serving its socket).
pub fn background_args(plan: &RunPlan, launch: &Launch, data: Option<&Path>) -> Vec<String> {
    let mut a = vec!["train".to_string(), "--worker".into()];
    match &plan.spec {
        RunOrigin::Preset(p) => a.extend(["--preset".into(), p.clone()]),
        RunOrigin::Checkpoint(c) => a.extend(["--resume".into(), c.display().to_string()]),
        RunOrigin::Live { .. } => {}
    }
    a.extend(["--out".into(), plan.run_dir.display().to_string()]);
    let device = match launch.device {
        Device::Cuda(n) => format!("cuda:{n}"),
        _ => "cpu".into(),
    };
    a.extend(["--device".into(), device]);
    if launch.threads > 0 {
        a.extend(["--threads".into(), launch.threads.to_string()]);
    }
    if let Some(s) = launch.total_steps {
        a.extend(["--steps".into(), s.to_string()]);
    }
    if let Some(s) = launch.seed {
        a.extend(["--seed".into(), s.to_string()]);
    }
    if let Some(d) = data {
        a.extend(["--data".into(), d.display().to_string()]);
    }
    if let Some(p) = launch.precision {
        use crate::model::precision::Precision;
        let name = match p {
            Precision::Auto => "auto",
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        };
        a.extend(["--precision".into(), name.into()]);
    }
    a
}

/// Starts `exe` with `args` as a background training process for `run_dir`: in a
/// session of its own (a closing terminal does not reach it), its output appended to
/// the run folder's `worker.log`. Returns its pid; a thread reaps it when it ends.
pub fn spawn_background(exe: &Path, args: &[String], run_dir: &Path) -> Result<u32, RunError> {
    use std::os::unix::process::CommandExt;
    let err = |source| RunError::Spawn {
        dir: run_dir.to_path_buf(),
        source,
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join(runfolder::WORKER_LOG))
        .map_err(err)?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(err)?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(err)?;
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

/// Why a background training process that never answered stopped: the failure its
/// record holds, else the last line of its `worker.log`.
pub fn background_failure(run_dir: &Path) -> String {
    if let Ok(Some(r)) = RunRecord::read(run_dir) {
        if let runfolder::RecordState::Stopped(runfolder::Ending::Failed(m)) = r.state {
            return m;
        }
    }
    std::fs::read_to_string(run_dir.join(runfolder::WORKER_LOG))
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .map(|l| l.trim_start_matches("error: ").to_string())
        .unwrap_or_else(|| format!("{}: the training process ended", run_dir.display()))
}

/// Connects to the training process of `dir` as it starts: retried while the process
/// holds the run folder (or for the first seconds, before it takes the lock). A process
/// that ended before answering gives the failure it recorded.
pub fn wait_for(dir: &Path, want: Want) -> Result<remote::Remote, String> {
    let started = std::time::Instant::now();
    loop {
        match remote::connect(dir, want) {
            Ok(r) => return Ok(r),
            Err(remote::ConnectError::NotRunning { .. }) => {
                let t = started.elapsed().as_secs_f64();
                let live = runfolder::holder(dir).is_some();
                if !(t < 3.0 || (live && t < 120.0)) {
                    return Err(background_failure(dir));
                }
            }
            Err(e) => return Err(crate::util::one_line(&e)),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The command line as typed, for checkpoint metadata.
pub fn command_line() -> String {
    let mut parts: Vec<String> = std::env::args().collect();
    if let Some(first) = parts.first_mut() {
        *first = "diffscope".into();
    }
    parts.join(" ")
}

/// A checkpoint found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointEntry {
    /// The step folder.
    pub dir: PathBuf,
    pub preset: String,
    pub step: u64,
    pub loss: Option<f64>,
    pub created_unix: u64,
    pub manual: bool,
    /// The preset's step budget.
    pub total_steps: u64,
    /// Why it cannot be opened: a tensor file that fails its checksum or is missing.
    pub corrupt: Option<String>,
}

/// Folders where runs keep their checkpoints: `./checkpoints` and the user data
/// folder's.
pub fn checkpoint_roots() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("checkpoints")];
    if let Some(d) = paths::data_dir() {
        v.push(d.join("checkpoints"));
    }
    v
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<CheckpointEntry>, runs: &mut Vec<PathBuf>) {
    if depth > 6 {
        return;
    }
    let meta_path = dir.join(META_FILE);
    if meta_path.is_file() {
        // A folder whose metadata cannot be read is not listed: it cannot be opened.
        if let Ok(text) = std::fs::read_to_string(&meta_path) {
            if let Ok(m) = crate::config::parse_ron::<CheckpointMeta>(&text, &meta_path) {
                let ck = checkpoint::Checkpoint {
                    dir: dir.to_path_buf(),
                    meta: m,
                };
                let corrupt = crate::train::integrity::verify(&ck)
                    .err()
                    .map(|e| crate::util::one_line(&e));
                let m = ck.meta;
                out.push(CheckpointEntry {
                    dir: dir.to_path_buf(),
                    preset: m.preset.name,
                    step: m.step,
                    loss: m.loss,
                    created_unix: m.created_unix,
                    manual: m.manual,
                    total_steps: m.preset.train.steps,
                    corrupt,
                });
            }
        }
        return;
    }
    if dir.join(runfolder::RECORD_FILE).is_file() || dir.join(runlog::METRICS_FILE).is_file() {
        runs.push(dir.to_path_buf());
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    subs.sort();
    for s in subs {
        walk(&s, depth + 1, out, runs);
    }
}

/// Every complete checkpoint under `roots`, newest first.
pub fn scan_checkpoints(roots: &[PathBuf]) -> Vec<CheckpointEntry> {
    scan(roots).0
}

/// Checkpoints (newest first) and the folders that hold a run record or log.
pub(super) fn scan(roots: &[PathBuf]) -> (Vec<CheckpointEntry>, Vec<PathBuf>) {
    let mut out = Vec::new();
    let mut runs = Vec::new();
    for r in roots {
        walk(r, 0, &mut out, &mut runs);
    }
    out.sort_by(|a, b| {
        b.created_unix
            .cmp(&a.created_unix)
            .then_with(|| b.step.cmp(&a.step))
            .then_with(|| a.dir.cmp(&b.dir))
    });
    (out, runs)
}

/// Deletes a step folder, and its run folder when nothing else is left in it.
pub fn delete_checkpoint(dir: &Path) -> Result<(), RunError> {
    if !dir.join(META_FILE).is_file() {
        return Err(RunError::NotACheckpoint(dir.to_path_buf()));
    }
    std::fs::remove_dir_all(dir).map_err(|source| RunError::Delete {
        dir: dir.to_path_buf(),
        source,
    })?;
    if let Some(run) = dir.parent() {
        if std::fs::read_dir(run).is_ok_and(|mut r| r.next().is_none()) {
            let _ = std::fs::remove_dir(run);
        }
    }
    Ok(())
}

/// Removes the folder of a fresh run whose training process failed and saved nothing
/// (e.g. its data set is missing), as headless `train` leaves none behind: once the
/// process has let go of the folder (waiting up to `wait`), when its record says it failed
/// and it holds no checkpoint. True when the folder is gone.
pub fn discard_failed(dir: &Path, wait: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    while runfolder::holder(dir).is_some() {
        if start.elapsed() > wait {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let failed = matches!(
        RunRecord::read(dir),
        Ok(Some(RunRecord {
            state: runfolder::RecordState::Stopped(runfolder::Ending::Failed(_)),
            ..
        }))
    );
    if failed {
        runfolder::remove_if_unused(dir);
    }
    !dir.exists()
}

/// Whether `dir` is a run folder: it holds a run record, a run log or a checkpoint.
pub fn is_run_folder(dir: &Path) -> bool {
    dir.join(runfolder::RECORD_FILE).is_file()
        || dir.join(runlog::METRICS_FILE).is_file()
        || checkpoint::list_steps(dir).is_ok_and(|s| !s.is_empty())
}

/// Deletes run folder `dir` with everything in it: its checkpoints, its log and its
/// record. A run that a live process trains is refused ([`RunError::Live`]); the run's
/// lock is held while deleting, so that no training starts in the folder meanwhile.
pub fn delete_run(dir: &Path) -> Result<(), RunError> {
    if !dir.is_dir() || !is_run_folder(dir) {
        return Err(RunError::NotARun(dir.to_path_buf()));
    }
    let _lock = match runfolder::RunLock::acquire(dir) {
        Ok(lock) => lock,
        Err(RunFolderError::Busy { pid, .. }) => {
            return Err(RunError::Live {
                dir: dir.to_path_buf(),
                pid,
            })
        }
        Err(e) => return Err(e.into()),
    };
    std::fs::remove_dir_all(dir).map_err(|source| RunError::Delete {
        dir: dir.to_path_buf(),
        source,
    })
}

/// What became of an evaluation of a checkpoint, for its run's `evals.csv`.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Appended to this log.
    Added(PathBuf),
    /// Not added: the log already holds an evaluation of a later step.
    Passed { log: PathBuf, last: u64 },
    /// Not added: a live process (pid) trains the run and writes its log.
    Live {
        dir: PathBuf,
        pid: runfolder::LockPid,
    },
    /// Not added: the run's log reads only up to a bad line (the reader's notice).
    Damaged(String),
    /// The checkpoint is not in a run folder (one with a record or a log).
    NoRun,
}

/// Appends an evaluation of the checkpoint in `checkpoint_dir` (a step folder) to its
/// run's `evals.csv` and `terms.csv` (`per_t[t]` at schedule index `t`), unless the log has
/// passed that step, a live process writes it, or it is damaged. The run's lock is held
/// while appending.
pub fn record_eval(
    checkpoint_dir: &Path,
    row: &crate::eval::Evaluation,
    per_t: &[f64],
) -> Result<Recorded, RunError> {
    let Some(run) = checkpoint_dir.parent().filter(|d| {
        d.join(runfolder::RECORD_FILE).is_file() || d.join(runlog::METRICS_FILE).is_file()
    }) else {
        return Ok(Recorded::NoRun);
    };
    let _lock = match runfolder::RunLock::acquire(run) {
        Ok(lock) => lock,
        Err(RunFolderError::Busy { pid, .. }) => {
            return Ok(Recorded::Live {
                dir: run.to_path_buf(),
                pid,
            })
        }
        Err(e) => return Err(e.into()),
    };
    let evals = runlog::read_evals(run);
    let notice = runlog::read_metrics(run).notice.or(evals.notice);
    if let Some(n) = notice {
        return Ok(Recorded::Damaged(n));
    }
    let log = run.join(runlog::EVALS_FILE);
    if let Some(last) = evals.rows.last().map(|r| r.step).filter(|&s| s > row.step) {
        return Ok(Recorded::Passed { log, last });
    }
    match runlog::RunLog::open(run, u64::MAX)?.eval(row, per_t) {
        Ok(()) => Ok(Recorded::Added(log)),
        Err(runlog::RunLogError::Order { last, .. }) => Ok(Recorded::Passed { log, last }),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run folder with a record and one (fake) step folder.
    fn a_run(root: &Path) -> PathBuf {
        let dir = root.join("run");
        std::fs::create_dir_all(dir.join("step-00000010")).unwrap();
        std::fs::write(dir.join("step-00000010").join(META_FILE), "()").unwrap();
        let preset = Preset::load("swissroll").unwrap().preset;
        RunRecord::new(preset, 10).write(&dir).unwrap();
        dir
    }

    #[test]
    fn deleting_a_run_removes_its_folder_and_refuses_a_live_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = a_run(root.path());
        let lock = runfolder::RunLock::acquire(&dir).unwrap();
        let err = delete_run(&dir).unwrap_err();
        assert!(matches!(err, RunError::Live { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("trains this run now"), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        assert!(dir.join("step-00000010").is_dir(), "nothing deleted");
        drop(lock);
        delete_run(&dir).unwrap();
        assert!(!dir.exists());
        assert!(root.path().is_dir(), "only the run folder goes");
    }

    fn evaluation(step: u64) -> crate::eval::Evaluation {
        crate::eval::Evaluation {
            step,
            wall_time: 1.0,
            ema: true,
            unit: crate::eval::Unit::NatsPerDim,
            bound: 1.5,
            bound_se: 0.1,
            prior: 0.01,
            diffusion: 1.0,
            decoder: 0.49,
            sliced_w1: Some(0.2),
            mmd: Some(0.01),
            ..Default::default()
        }
    }

    #[test]
    fn an_evaluation_is_added_to_its_runs_log_unless_the_log_has_passed_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = a_run(root.path());
        let ck = dir.join("step-00000010");
        assert_eq!(
            record_eval(&ck, &evaluation(10), &[0.5, 0.25]).unwrap(),
            Recorded::Added(dir.join(runlog::EVALS_FILE))
        );
        let rows = runlog::read_evals(&dir).rows;
        assert_eq!(rows, vec![evaluation(10)]);
        assert_eq!(runlog::read_terms(&dir, None), Some((10, vec![0.5, 0.25])));
        // the same step again (EMA and raw weights) is added; an earlier one is not
        assert!(matches!(
            record_eval(&ck, &evaluation(10), &[]).unwrap(),
            Recorded::Added(_)
        ));
        assert_eq!(
            record_eval(&ck, &evaluation(5), &[]).unwrap(),
            Recorded::Passed {
                log: dir.join(runlog::EVALS_FILE),
                last: 10
            }
        );
        assert_eq!(runlog::read_evals(&dir).rows.len(), 2);
        // a live run's log is its process's
        let lock = runfolder::RunLock::acquire(&dir).unwrap();
        assert!(matches!(
            record_eval(&ck, &evaluation(20), &[]).unwrap(),
            Recorded::Live { .. }
        ));
        drop(lock);
        // a checkpoint outside any run folder
        let lone = root.path().join("lone").join("step-00000010");
        std::fs::create_dir_all(&lone).unwrap();
        assert_eq!(
            record_eval(&lone, &evaluation(10), &[]).unwrap(),
            Recorded::NoRun
        );
        assert!(!root.path().join("lone").join(runlog::EVALS_FILE).exists());
    }

    #[test]
    fn a_failed_fresh_run_that_saved_nothing_is_discarded() {
        use runfolder::{Ending, RecordState};
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("mnist-1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(runfolder::WORKER_LOG), "error: no data\n").unwrap();
        let preset = Preset::load("swissroll").unwrap().preset;
        let mut rec = RunRecord::new(preset, 0);
        rec.write(&dir).unwrap();
        let wait = std::time::Duration::from_millis(100);
        // still training (or a user's stop): kept
        let lock = runfolder::RunLock::acquire(&dir).unwrap();
        assert!(!discard_failed(&dir, wait));
        drop(lock);
        rec.end(RecordState::Stopped(Ending::User), 0);
        rec.write(&dir).unwrap();
        assert!(!discard_failed(&dir, wait));
        assert!(dir.join(runfolder::RECORD_FILE).is_file());
        // failed, with something saved: kept
        rec.end(RecordState::Stopped(Ending::Failed("no data".into())), 0);
        rec.write(&dir).unwrap();
        let ck = dir.join("step-00000010");
        std::fs::create_dir_all(&ck).unwrap();
        std::fs::write(ck.join(META_FILE), "()").unwrap();
        assert!(!discard_failed(&dir, wait));
        assert!(ck.join(META_FILE).is_file());
        // failed, nothing saved: gone
        std::fs::remove_dir_all(&ck).unwrap();
        assert!(discard_failed(&dir, wait));
        assert!(!dir.exists());
    }

    #[test]
    fn a_folder_that_is_no_run_is_not_deleted() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("notes.txt"), "mine").unwrap();
        let err = delete_run(root.path()).unwrap_err().to_string();
        assert!(err.contains("not a run folder"), "{err}");
        assert!(root.path().join("notes.txt").is_file());
        let gone = root.path().join("gone");
        assert!(delete_run(&gone).is_err());
    }
}
