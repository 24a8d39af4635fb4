//! The run service, shared by the command line and the workbench: plan a run (its preset
//! or checkpoint, and its folder), start or resume its worker, and list and delete the
//! checkpoints that runs leave.

use super::checkpoint::{self, CheckpointError, CheckpointMeta, META_FILE};
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
    pub origin: Origin,
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
                origin: Origin::Preset(Box::new(preset.clone())),
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
                origin: Origin::Checkpoint(ck.dir),
                run_dir,
                train: spec.train,
                resuming: true,
            }
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
}

/// Starts the worker of a planned run.
pub fn start(plan: RunPlan, launch: &Launch) -> WorkerHandle {
    worker::spawn(WorkerOptions {
        origin: plan.origin,
        device: launch.device,
        run_dir: plan.run_dir,
        total_steps: launch.total_steps,
        seed: launch.seed,
        threads: launch.threads,
        command: command_line(),
    })
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

fn walk(dir: &Path, depth: usize, out: &mut Vec<CheckpointEntry>) {
    if depth > 6 {
        return;
    }
    let meta_path = dir.join(META_FILE);
    if meta_path.is_file() {
        // A folder whose metadata cannot be read is not listed: it cannot be opened.
        if let Ok(text) = std::fs::read_to_string(&meta_path) {
            if let Ok(m) = crate::config::parse_ron::<CheckpointMeta>(&text, &meta_path) {
                out.push(CheckpointEntry {
                    dir: dir.to_path_buf(),
                    preset: m.preset.name,
                    step: m.step,
                    loss: m.loss,
                    created_unix: m.created_unix,
                    manual: m.manual,
                });
            }
        }
        return;
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
        walk(&s, depth + 1, out);
    }
}

/// Every complete checkpoint under `roots`, newest first.
pub fn scan_checkpoints(roots: &[PathBuf]) -> Vec<CheckpointEntry> {
    let mut out = Vec::new();
    for r in roots {
        walk(r, 0, &mut out);
    }
    out.sort_by(|a, b| {
        b.created_unix
            .cmp(&a.created_unix)
            .then_with(|| b.step.cmp(&a.step))
            .then_with(|| a.dir.cmp(&b.dir))
    });
    out
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
