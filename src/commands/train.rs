//! `diffscope train`: headless training on the worker thread, with progress output.

use super::progress::Progress;
use crate::cli::TrainArgs;
use crate::config::preset::Preset;
use crate::train::checkpoint;
use crate::train::parse_device;
use crate::train::protocol::{Command, Event};
use crate::train::worker::{self, Origin, WorkerOptions};
use crate::util::{now_unix, timestamp};
use std::fs;
use std::path::{Path, PathBuf};

pub struct TrainOutcome {
    pub run_dir: PathBuf,
    /// The final checkpoint's step folder.
    pub checkpoint: PathBuf,
    pub step: u64,
    pub last_loss: Option<f64>,
    pub seconds: f64,
}

/// Makes sure checkpoints can be written to `dir`; a fresh run refuses a folder that
/// already holds checkpoints, so nothing saved is overwritten.
pub fn prepare_run_dir(dir: &Path, resuming: bool) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!("{}: exists and is not a folder", dir.display()));
    }
    if !resuming && !checkpoint::list_steps(dir).is_empty() {
        return Err(format!(
            "{}: already holds checkpoints; choose another --out or continue with --resume",
            dir.display()
        ));
    }
    fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create the output folder: {e}", dir.display()))?;
    let probe = dir.join(".diffscope-write-test");
    fs::write(&probe, b"")
        .map_err(|e| format!("{}: cannot write checkpoints here: {e}", dir.display()))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

pub fn run(a: &TrainArgs) -> Result<TrainOutcome, String> {
    let device = parse_device(&a.device)?;
    let (origin, name, run_dir, resuming) = match &a.resume {
        Some(path) => {
            let ck = checkpoint::read(path)?;
            let run_dir = a.out.clone().unwrap_or_else(|| {
                ck.dir
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            });
            (
                Origin::Checkpoint(ck.dir.clone()),
                ck.meta.preset.name.clone(),
                run_dir,
                true,
            )
        }
        None => {
            let mut loaded = Preset::load(&a.preset)?;
            if let Some(p) = &a.data {
                loaded.preset.data.set_path(p.clone())?;
            }
            let name = loaded.preset.name.clone();
            let run_dir = a.out.clone().unwrap_or_else(|| {
                PathBuf::from("checkpoints").join(format!("{name}-{}", timestamp(now_unix())))
            });
            (
                Origin::Preset(Box::new(loaded.preset)),
                name,
                run_dir,
                false,
            )
        }
    };
    prepare_run_dir(&run_dir, resuming)?;
    let handle = worker::spawn(WorkerOptions {
        origin,
        device,
        run_dir: run_dir.clone(),
        total_steps: a.steps,
        seed: a.seed,
        threads: a.threads.unwrap_or(0),
        command: super::command_line(),
    });
    handle.send(Command::Start);
    let mut progress: Option<Progress> = None;
    let mut saved: Option<(PathBuf, u64)> = None;
    let mut last_loss = None;
    let mut failure: Option<String> = None;
    let mut seconds = 0.0;
    for ev in handle.events.iter() {
        match ev {
            Event::Ready(info) => {
                eprintln!(
                    "training {name} on {}: {} parameters, step {} of {}, checkpoints in {}",
                    info.device,
                    info.parameters,
                    info.step,
                    info.total_steps,
                    run_dir.display()
                );
                progress = Some(Progress::new("train", info.step, info.total_steps));
            }
            Event::Progress {
                step,
                loss,
                quarter_losses,
                ..
            } => {
                last_loss = Some(loss);
                if let Some(p) = progress.as_mut() {
                    let q: Vec<String> = quarter_losses
                        .iter()
                        .map(|q| q.map(|v| format!("{v:.3}")).unwrap_or("-".into()))
                        .collect();
                    p.update(
                        step,
                        &format!("loss {loss:.4} [t quarters {}]", q.join(" ")),
                    );
                }
            }
            Event::Finished { .. } => {
                if let Some(p) = &progress {
                    p.finish();
                    seconds = p.elapsed();
                }
                handle.send(Command::Shutdown { save: true });
            }
            Event::Saved { path, step } => saved = Some((path, step)),
            Event::Notice(msg) => eprintln!("note: {msg}"),
            Event::TrainingStopped(msg) => {
                failure = Some(msg);
                handle.send(Command::Shutdown { save: false });
            }
            Event::Failed { what, message } => {
                failure = Some(what.describe(&message));
                handle.send(Command::Shutdown { save: false });
            }
            Event::Exited => break,
            _ => {}
        }
    }
    if let Some(p) = &progress {
        p.finish();
    }
    handle.join();
    if let Some(msg) = failure {
        // Remove the run folder again if this run left nothing in it.
        if !resuming && checkpoint::list_steps(&run_dir).is_empty() {
            let _ = fs::remove_dir(&run_dir);
        }
        return Err(msg);
    }
    let (checkpoint, step) =
        saved.ok_or_else(|| format!("{}: no checkpoint was saved", run_dir.display()))?;
    eprintln!(
        "trained {step} steps in {:.1}s, final loss {}; checkpoint: {}",
        seconds,
        last_loss.map(|l| format!("{l:.4}")).unwrap_or("-".into()),
        checkpoint.display()
    );
    Ok(TrainOutcome {
        run_dir,
        checkpoint,
        step,
        last_loss,
        seconds,
    })
}
