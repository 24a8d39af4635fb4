//! The runs on disk, for `diffscope runs`, `diffscope attach` and the workbench's browser:
//! each run folder with its state, its latest figures from the run log and its
//! checkpoints.

use super::runfolder::{self, RunRecord, Status};
use super::runlog::{self, EvalRow};
use super::runs::{scan, CheckpointEntry, RunError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A run folder and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    pub dir: PathBuf,
    /// The preset's name.
    pub preset: String,
    pub status: Status,
    /// The step a live run has reached; else the step of its last checkpoint (where a
    /// resume continues), or of its log when it has no checkpoint.
    pub step: u64,
    /// The preset's step budget (0: unknown).
    pub total: u64,
    pub loss: Option<f64>,
    /// The latest evaluation.
    pub eval: Option<EvalRow>,
    /// Seconds since the Unix epoch (the record's, else the first checkpoint's).
    pub started_unix: Option<u64>,
    /// Its checkpoints, newest first.
    pub checkpoints: Vec<CheckpointEntry>,
    /// What the log reader had to say (a truncated or corrupt log).
    pub notice: Option<String>,
}

impl RunEntry {
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| self.dir.display().to_string())
    }
}

/// The entry of run folder `dir`, whose checkpoints are `checkpoints` (newest first).
pub fn run_entry(dir: &Path, checkpoints: Vec<CheckpointEntry>) -> RunEntry {
    let (record, mut notice) = match RunRecord::read(dir) {
        Ok(r) => (r, None),
        Err(e) => (None, Some(crate::util::one_line(&e))),
    };
    let metrics = runlog::read_metrics(dir);
    let evals = runlog::read_evals(dir);
    notice = notice.or(metrics.notice).or(evals.notice);
    let last = metrics.rows.last();
    let newest = checkpoints.first();
    let total = record
        .as_ref()
        .map(|r| r.preset.train.steps)
        .or(newest.map(|c| c.total_steps))
        .unwrap_or(0);
    let saved = newest.map(|c| c.step);
    let finished = saved.is_some_and(|s| total > 0 && s >= total);
    let status = runfolder::status(dir, record.as_ref(), finished);
    let logged = last.map(|r| r.step);
    let step = if status.live() {
        logged.or(saved)
    } else {
        saved.or(logged)
    }
    .or(record.as_ref().map(|r| r.step))
    .unwrap_or(0);
    RunEntry {
        dir: dir.to_path_buf(),
        preset: record
            .as_ref()
            .map(|r| r.preset.name.clone())
            .or(newest.map(|c| c.preset.clone()))
            .unwrap_or_else(|| "?".into()),
        status,
        step,
        total,
        loss: last.map(|r| r.loss).or(newest.and_then(|c| c.loss)),
        eval: evals.rows.last().cloned(),
        started_unix: record
            .as_ref()
            .map(|r| r.started_unix)
            .or(checkpoints.iter().map(|c| c.created_unix).min()),
        checkpoints,
        notice,
    }
}

/// Every run under `roots`, the newest first.
pub fn scan_runs(roots: &[PathBuf]) -> Vec<RunEntry> {
    let (checkpoints, run_dirs) = scan(roots);
    let mut by_run: BTreeMap<PathBuf, Vec<CheckpointEntry>> = BTreeMap::new();
    for d in run_dirs {
        by_run.entry(d).or_default();
    }
    for c in checkpoints {
        let run = c
            .dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        by_run.entry(run).or_default().push(c);
    }
    let mut out: Vec<RunEntry> = by_run
        .into_iter()
        .map(|(dir, cks)| run_entry(&dir, cks))
        .collect();
    out.sort_by(|a, b| {
        b.started_unix
            .cmp(&a.started_unix)
            .then_with(|| a.dir.cmp(&b.dir))
    });
    out
}

/// The run a `RUN` argument names: a run folder, a step folder in one (its run), or the
/// name of a run folder under one of `roots`.
pub fn resolve_run(arg: &Path, roots: &[PathBuf]) -> Result<PathBuf, RunError> {
    let is_run = |d: &Path| {
        d.join(runfolder::RECORD_FILE).is_file()
            || d.join(runlog::METRICS_FILE).is_file()
            || super::checkpoint::list_steps(d).is_ok_and(|s| !s.is_empty())
    };
    let candidates = std::iter::once(arg.to_path_buf()).chain(roots.iter().map(|r| r.join(arg)));
    for c in candidates {
        if c.join(super::checkpoint::META_FILE).is_file() {
            if let Some(run) = c.parent().filter(|p| is_run(p)) {
                return Ok(run.to_path_buf());
            }
        }
        if c.is_dir() && is_run(&c) {
            return Ok(c);
        }
    }
    Err(RunError::NotARun(arg.to_path_buf()))
}

/// The newest live run under `roots`.
pub fn latest_live(roots: &[PathBuf]) -> Option<RunEntry> {
    scan_runs(roots).into_iter().find(|r| r.status.live())
}

/// The preset a run trained with: its record's, else its latest checkpoint's.
pub fn preset_of(dir: &Path) -> Option<crate::config::Preset> {
    if let Ok(Some(r)) = RunRecord::read(dir) {
        return Some(r.preset);
    }
    super::checkpoint::read(dir).ok().map(|c| c.meta.preset)
}
