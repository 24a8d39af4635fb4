//! The run service, shared by the command line and the workbench: plan a run (its preset
//! or checkpoint, and its folder), start or resume its worker, and list and delete the
//! checkpoints that runs leave.
//!
//! (Over 400 lines: planning, starting (in this process or in the background) and the
//! checkpoint scan are one service with one error type.)

use super::checkpoint::{self, CheckpointError, CheckpointMeta, META_FILE};
use super::runfolder::{self, RunFolderError, RunRecord};
use super::runlog;
use super::wire::Want;
use super::worker::{self, Origin, WorkerHandle, WorkerOptions};
use crate::config::{paths, Preset};
use crate::util::{now_unix, timestamp};
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
    Host(#[from] super::host::HostError),
    #[error("{}: not a run folder (no run.ron and no checkpoint)", .0.display())]
    NotARun(PathBuf),
    #[error("{}: cannot start the training process", .dir.display())]
    Spawn {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
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
        log: plan.train,
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
                let corrupt = super::integrity::verify(&ck)
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
