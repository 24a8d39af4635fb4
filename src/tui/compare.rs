//! Reading run logs for the workbench: a run's own history, and runs set side by side.
//! (Plain reads, run as background jobs.)

use super::app::{ComparedRun, Comparison, LogView};
use crate::config::diff;
use crate::runs::{listing, runlog};
use std::path::{Path, PathBuf};

/// A run folder's log, up to step `upto` when given.
pub(crate) fn load_log(dir: &Path, upto: Option<u64>) -> LogView {
    let read = runlog::read_metrics(dir);
    let within = |s: u64| upto.is_none_or(|u| s <= u);
    let evals = runlog::read_evals(dir);
    let eval = evals
        .rows
        .iter()
        .rev()
        .find(|e| within(e.step))
        .cloned()
        .and_then(|e| runlog::read_terms(dir, Some(e.step)).map(|(_, t)| (e, t)));
    LogView {
        dir: dir.to_path_buf(),
        rows: read.rows.into_iter().filter(|r| within(r.step)).collect(),
        eval,
        notice: read.notice.or(evals.notice),
    }
}

/// The runs in `dirs`: their loss curves, latest bound terms and the preset fields that
/// differ.
pub fn compare(dirs: &[PathBuf]) -> Comparison {
    let mut runs = Vec::new();
    let mut presets = Vec::new();
    let mut notices = Vec::new();
    for d in dirs {
        let entry = listing::run_entry(d, Vec::new());
        let log = runlog::read_metrics(d);
        notices.extend(log.notice);
        if let Some(p) = listing::preset_of(d) {
            presets.push(p);
        } else {
            notices.push(format!(
                "{}: no preset found; its fields are not compared",
                d.display()
            ));
        }
        runs.push(ComparedRun {
            name: entry.name(),
            preset: entry.preset.clone(),
            loss: log
                .rows
                .iter()
                .filter(|r| r.loss.is_finite())
                .map(|r| (r.step as f64, r.loss))
                .collect(),
            per_t: runlog::read_terms(d, None).map(|(_, t)| t),
            bound: entry
                .eval
                .as_ref()
                .map(|e| (e.bound, e.unit.name().to_string())),
        });
    }
    let refs: Vec<_> = presets.iter().collect();
    let differences = if refs.len() >= 2 {
        diff::lines(&diff::differences(&refs))
    } else {
        Vec::new()
    };
    Comparison {
        runs,
        differences,
        notices,
    }
}
