//! `diffscope train`: headless training on the worker thread, with progress output.

use super::flag_error;
use super::progress::Progress;
use crate::cli::TrainArgs;
use crate::train::checkpoint::{self, CheckpointError};
use crate::train::protocol::{Command, Event};
use crate::train::runs::{self, Launch, Overrides, RunError, RunOrigin, RunSpec};
use anyhow::anyhow;
use std::fs;
use std::path::PathBuf;

pub struct TrainOutcome {
    pub run_dir: PathBuf,
    /// The final checkpoint's step folder.
    pub checkpoint: PathBuf,
    pub step: u64,
    pub last_loss: Option<f64>,
    pub seconds: f64,
}

pub fn run(a: &TrainArgs) -> anyhow::Result<TrainOutcome> {
    let device = super::device(&a.device)?;
    let data_flag = a.data.as_ref().map(|p| p.display().to_string());
    let spec = RunSpec {
        origin: match &a.resume {
            Some(path) => RunOrigin::Checkpoint(path.clone()),
            None => RunOrigin::Preset(a.preset.clone()),
        },
        train: true,
    };
    let over = Overrides {
        out: a.out.clone(),
        data: a.data.clone(),
    };
    let plan = runs::plan(&spec, &over).map_err(|e| match (e, &data_flag) {
        (RunError::Data(e), Some(flag)) => flag_error("--data", flag, e),
        (RunError::Checkpoint(CheckpointError::RunExists { path }), _) => anyhow!(
            "{}: already holds checkpoints; choose another --out or continue with --resume",
            path.display()
        ),
        (e, _) => e.into(),
    })?;
    let (name, run_dir, resuming) = (
        plan.preset.name.clone(),
        plan.run_dir.clone(),
        plan.resuming,
    );
    // The data folder of a fresh run's preset, to point at --data when it is missing.
    let preset_data = (!resuming)
        .then(|| plan.preset.data.path().map(|p| p.display().to_string()))
        .flatten();
    let handle = runs::start(
        plan,
        &Launch {
            device,
            threads: a.threads.unwrap_or(0),
            total_steps: a.steps,
            seed: a.seed,
        },
    );
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
        // Remove the run folder again if this run left nothing in it (when it can tell).
        if !resuming && checkpoint::list_steps(&run_dir).is_ok_and(|s| s.is_empty()) {
            let _ = fs::remove_dir(&run_dir);
        }
        // A data folder that cannot be used is named with the flag that gave it, or the
        // preset's with the flag that can change it.
        let about = |path: &String| msg.starts_with(&format!("{path}: "));
        return Err(match (&data_flag, &preset_data) {
            (Some(flag), _) if about(flag) => flag_error("--data", flag, anyhow!(msg)),
            (None, Some(path)) if about(path) => anyhow!(msg).context(format!(
                "preset {name} (its data folder can be given with --data PATH)"
            )),
            _ => anyhow!(msg),
        });
    }
    let (checkpoint, step) =
        saved.ok_or_else(|| anyhow!("{}: no checkpoint was saved", run_dir.display()))?;
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
