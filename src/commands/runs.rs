//! `diffscope runs`: the training runs on disk, and `--compare` to set runs side by side.

use crate::cli::{AttachArgs, RunsArgs};
use crate::config::{diff, Preset};
use crate::runs::listing::{self, RunEntry, LOSS_WINDOW};
use crate::runs::runfolder::Status;
use crate::runs::{self, checkpoint_roots};
use crate::util::{human_time, one_line};
use anyhow::anyhow;

/// The run `diffscope attach [RUN]` opens: RUN if a process trains it, else the latest
/// live run.
pub fn attach_target(a: &AttachArgs) -> anyhow::Result<std::path::PathBuf> {
    let roots = checkpoint_roots();
    let Some(arg) = &a.run else {
        return listing::latest_live(&roots).map(|r| r.dir).ok_or_else(|| {
            anyhow!("no run is training now; `diffscope runs` lists the runs, `diffscope train --detach` starts one")
        });
    };
    let dir = listing::resolve_run(arg, &roots).map_err(|e| anyhow!(one_line(&e)))?;
    let cks = runs::scan_checkpoints(std::slice::from_ref(&dir));
    let e = listing::run_entry(&dir, cks);
    if e.status.live() {
        return Ok(dir);
    }
    let resume = if e.checkpoints.is_empty() {
        String::new()
    } else {
        format!(
            "; continue it with `diffscope train --resume {}`",
            dir.display()
        )
    };
    Err(anyhow!(
        "{}: not running: {} at step {}{resume}",
        dir.display(),
        e.status.describe(),
        e.step
    ))
}

pub fn run(a: &RunsArgs) -> anyhow::Result<()> {
    let roots = checkpoint_roots();
    if let Some(arg) = &a.delete {
        return delete(arg, a.yes, &roots);
    }
    match &a.compare {
        Some(list) => compare(list, &roots),
        None => {
            let runs = listing::scan_runs(&roots);
            if runs.is_empty() {
                println!(
                    "no runs under {}; start one with `diffscope train` or `diffscope`",
                    roots
                        .iter()
                        .map(|r| r.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" or ")
                );
                return Ok(());
            }
            print!("{}", table(&runs));
            for r in runs.iter().filter(|r| r.notice.is_some()) {
                if let Some(n) = &r.notice {
                    eprintln!("note: {n}");
                }
            }
            Ok(())
        }
    }
}

/// `runs --delete RUN`: asks on a terminal unless `yes`; without a terminal `yes` is
/// needed.
fn delete(arg: &std::path::Path, yes: bool, roots: &[std::path::PathBuf]) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let dir = listing::resolve_run(arg, roots)
        .map_err(|e| anyhow!("--delete {}: {}", arg.display(), one_line(&e)))?;
    let e = listing::run_entry(&dir, runs::scan_checkpoints(std::slice::from_ref(&dir)));
    if let Some(pid) = e.status.pid() {
        return Err(anyhow!(one_line(&runs::RunError::Live { dir, pid })));
    }
    let what = format!(
        "{} ({}, {}, step {}, {} checkpoint{})",
        dir.display(),
        e.preset,
        state(&e.status),
        e.step,
        e.checkpoints.len(),
        if e.checkpoints.len() == 1 { "" } else { "s" }
    );
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(anyhow!(
                "--delete {}: stdin is not a terminal to confirm on; add --yes to delete \
                 without asking",
                arg.display()
            ));
        }
        print!("delete the run {what} and everything in its folder? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("nothing deleted");
            return Ok(());
        }
    }
    runs::delete_run(&dir).map_err(|e| anyhow!(one_line(&e)))?;
    println!("deleted the run {what}");
    Ok(())
}

/// The state column: `running (pid 123)`, `finished`, `finished (workbench open, pid
/// 123)`, `stopped (by the user)`…
pub fn state(s: &Status) -> String {
    match s {
        Status::Running { pid } => format!("running (pid {pid})"),
        Status::Open { pid, .. } => {
            format!("{}, pid {pid})", s.describe().trim_end_matches(')'))
        }
        other => other.describe(),
    }
}

fn bound(r: &RunEntry) -> String {
    r.eval
        .as_ref()
        .map(|e| format!("{:.4} {}", e.bound, e.unit.name()))
        .unwrap_or_else(|| "-".into())
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map(|v| format!("{v:.prec$}"))
        .unwrap_or_else(|| "-".into())
}

/// Lays out rows as columns (the last one unpadded).
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == r.len() {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The listing, one run a line.
pub fn table(runs: &[RunEntry]) -> String {
    let mut rows = vec![[
        "PRESET",
        "STATE",
        "STEP",
        "MEAN LOSS",
        "BOUND",
        "STARTED",
        "FOLDER",
    ]
    .map(String::from)
    .to_vec()];
    for r in runs {
        rows.push(vec![
            r.preset.clone(),
            state(&r.status),
            if r.total > 0 {
                format!("{}/{}", r.step, r.total)
            } else {
                r.step.to_string()
            },
            opt(r.loss, 4),
            bound(r),
            r.started_unix.map(human_time).unwrap_or_else(|| "-".into()),
            r.dir.display().to_string(),
        ]);
    }
    columns(&rows)
}

/// A run's figures for the comparison, in the order of its labels.
fn figures(e: &RunEntry) -> Vec<String> {
    let v = e.eval.as_ref();
    vec![
        e.preset.clone(),
        state(&e.status),
        e.step.to_string(),
        opt(e.loss, 4),
        bound(e),
        v.map(|v| v.step.to_string()).unwrap_or_else(|| "-".into()),
        opt(v.map(|v| v.prior), 4),
        opt(v.map(|v| v.diffusion), 4),
        opt(v.map(|v| v.decoder), 4),
        opt(v.and_then(|v| v.sliced_w1), 4),
        opt(v.and_then(|v| v.mmd), 4),
        opt(v.and_then(|v| v.frechet), 2),
        match (v.and_then(|v| v.classes_present), v.and_then(|v| v.classes)) {
            (Some(p), Some(c)) => format!("{p}/{c}"),
            _ => "-".into(),
        },
    ]
}

fn compare(list: &[std::path::PathBuf], roots: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    let mut presets = Vec::new();
    for arg in list {
        let dir = listing::resolve_run(arg, roots).map_err(|e| anyhow!(one_line(&e)))?;
        let preset = listing::preset_of(&dir).ok_or_else(|| {
            anyhow!(
                "{}: neither a run record nor a checkpoint says which preset it trained",
                dir.display()
            )
        })?;
        let cks = runs::scan_checkpoints(std::slice::from_ref(&dir));
        entries.push(listing::run_entry(&dir, cks));
        presets.push(preset);
    }
    let refs: Vec<&Preset> = presets.iter().collect();
    let diffs = diff::differences(&refs);
    println!("runs:");
    for (i, e) in entries.iter().enumerate() {
        println!(
            "  {}  {}  ({})",
            (b'A' + i as u8) as char,
            e.name(),
            e.dir.display()
        );
    }
    if diffs.is_empty() {
        println!("preset fields that differ: none (the same preset)");
    } else {
        println!("preset fields that differ:");
        for l in diff::lines(&diffs) {
            println!("  {l}");
        }
    }
    println!("final figures:");
    let loss_label = format!("loss (mean of last {LOSS_WINDOW} logged)");
    let labels = [
        "preset",
        "state",
        "step",
        loss_label.as_str(),
        "bound",
        "evaluated at step",
        "L_T",
        "Σ L_t",
        "L_0",
        "sliced W1",
        "MMD",
        "Fréchet",
        "classes",
    ];
    let columns_of: Vec<Vec<String>> = entries.iter().map(figures).collect();
    let mut table = vec![std::iter::once(String::new())
        .chain((0..entries.len()).map(|i| ((b'A' + i as u8) as char).to_string()))
        .collect::<Vec<_>>()];
    for (i, label) in labels.iter().enumerate() {
        table.push(
            std::iter::once(format!("  {label}"))
                .chain(columns_of.iter().map(|c| c[i].clone()))
                .collect(),
        );
    }
    print!("{}", columns(&table));
    Ok(())
}
