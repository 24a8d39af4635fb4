//! The runs on disk, for `diffscope runs`, `diffscope attach` and the workbench's browser:
//! each run folder with its state, its latest figures from the run log and its
//! checkpoints.

use super::runfolder::{self, RunRecord, Status};
use super::runlog;
use super::{scan, CheckpointEntry, RunError};
use crate::eval::Evaluation;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How many logged losses a run's loss is the mean of.
pub const LOSS_WINDOW: usize = 10;

/// The mean of the last [`LOSS_WINDOW`] losses logged at or before `step`.
pub fn smoothed_loss(rows: &[runlog::MetricRow], step: u64) -> Option<f64> {
    let upto = rows.partition_point(|r| r.step <= step);
    let window = &rows[upto.saturating_sub(LOSS_WINDOW)..upto];
    let finite: Vec<f64> = window
        .iter()
        .map(|r| r.loss)
        .filter(|l| l.is_finite())
        .collect();
    (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
}

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
    /// The mean of the last [`LOSS_WINDOW`] logged losses up to `step` (one batch's loss
    /// is noise); without a log, the loss of the batch before its newest checkpoint.
    pub loss: Option<f64>,
    /// The latest evaluation.
    pub eval: Option<Evaluation>,
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
        loss: smoothed_loss(&metrics.rows, step).or(newest.and_then(|c| c.loss)),
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
    let is_run = |d: &Path| super::is_run_folder(d);
    let candidates = std::iter::once(arg.to_path_buf()).chain(roots.iter().map(|r| r.join(arg)));
    for c in candidates {
        if c.join(crate::train::checkpoint::META_FILE).is_file() {
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
    crate::train::checkpoint::read(dir)
        .ok()
        .map(|c| c.meta.preset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runlog::MetricRow;

    fn row(step: u64, loss: f64) -> MetricRow {
        MetricRow {
            step,
            wall_time: 0.0,
            loss,
            loss_q1: None,
            loss_q2: None,
            loss_q3: None,
            loss_q4: None,
            lr: 1e-3,
            grad_norm: 1.0,
            steps_per_sec: 1.0,
        }
    }

    #[test]
    fn a_runs_loss_is_the_mean_of_its_last_logged_losses_up_to_its_step() {
        // losses 1..=30 at steps 10..=300
        let rows: Vec<MetricRow> = (1..=30).map(|i| row(i * 10, i as f64)).collect();
        // the last ten up to step 300: 21..=30
        assert_eq!(smoothed_loss(&rows, 300), Some(25.5));
        // a run stopped at its checkpoint of step 205 after logging further: 11..=20
        assert_eq!(smoothed_loss(&rows, 205), Some(15.5));
        // fewer rows than the window
        assert_eq!(smoothed_loss(&rows, 30), Some(2.0));
        assert_eq!(smoothed_loss(&rows, 5), None);
        let mut nan = rows.clone();
        nan[29].loss = f64::NAN;
        assert_eq!(smoothed_loss(&nan, 300), Some(25.0));
    }
}
