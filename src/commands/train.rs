//! `diffscope train`: headless training with progress output, in the foreground or (with
//! `--detach`) in a background process that `diffscope attach` and the workbench can
//! attach to.

use super::flag_error;
use super::progress::Progress;
use crate::cli::TrainArgs;
use crate::train::checkpoint::CheckpointError;
use crate::train::protocol::Event;
use crate::train::runs::{self, Launch, Overrides, RunError, RunOrigin, RunSpec};
use crate::train::wire::Want;
use crate::train::{remote, runfolder, serve};
use crate::util::one_line;
use anyhow::anyhow;
use std::path::PathBuf;

pub struct TrainOutcome {
    pub run_dir: PathBuf,
    /// The final checkpoint's step folder.
    pub checkpoint: PathBuf,
    pub step: u64,
    pub last_loss: Option<f64>,
    pub seconds: f64,
}

/// Trains (None: in the background, or as the background worker).
pub fn run(a: &TrainArgs) -> anyhow::Result<Option<TrainOutcome>> {
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
    let launch = Launch {
        device,
        threads: a.threads.unwrap_or(0),
        total_steps: a.steps,
        seed: a.seed,
        precision: super::precision(a.precision),
    };
    if a.detach {
        return detach(plan, &launch, a).map(|_| None);
    }
    let mut progress: Option<Progress> = None;
    let mut seconds = 0.0;
    let background = a.worker;
    let outcome = serve::train(plan, &launch, background, &mut |ev| match ev {
        Event::Ready(info) => {
            eprintln!(
                "training {name} on {} in {}: {} parameters, step {} of {}, checkpoints in {}",
                info.device,
                info.precision,
                info.parameters,
                info.step,
                info.total_steps,
                run_dir.display()
            );
            if !background {
                progress = Some(Progress::new("train", info.step, info.total_steps));
            }
        }
        Event::Progress {
            step,
            loss,
            quarter_losses,
            ..
        } => {
            if let Some(p) = progress.as_mut() {
                let q: Vec<String> = quarter_losses
                    .iter()
                    .map(|q| q.map(|v| format!("{v:.3}")).unwrap_or("-".into()))
                    .collect();
                p.update(
                    *step,
                    &format!("loss {loss:.4} [t quarters {}]", q.join(" ")),
                );
            }
        }
        Event::Finished { step } => {
            if let Some(p) = &progress {
                p.finish();
                seconds = p.elapsed();
            }
            if background {
                eprintln!("finished at step {step}");
            }
        }
        Event::Saved { path, step } if background => {
            eprintln!("saved step {step}: {}", path.display())
        }
        Event::Notice(msg) => eprintln!("note: {msg}"),
        Event::TrainingStopped(msg) if background => eprintln!("training stopped: {msg}"),
        // The workbench shows these; the worker's log keeps them for later.
        Event::Failed { what, message } if background => eprintln!("{}", what.describe(message)),
        _ => {}
    });
    if let Some(p) = &progress {
        p.finish();
    }
    let outcome = outcome.map_err(|e| anyhow!(one_line(&e)))?;
    let (saved, last_loss, failure) = (outcome.saved, outcome.last_loss, outcome.failure);
    if let Some(sig) = outcome.signal {
        let at = saved
            .as_ref()
            .map(|(p, _)| format!("; checkpoint: {}", p.display()))
            .unwrap_or_default();
        return Err(anyhow!("{sig}: training stopped{at}"));
    }
    if let Some(msg) = failure {
        // Remove the run folder again if this run left nothing in it (when it can tell).
        // (A background worker keeps it: its record tells the workbench what failed.)
        if !resuming && !background {
            runfolder::remove_if_unused(&run_dir);
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
    if background {
        return Ok(None);
    }
    eprintln!(
        "trained {step} steps in {:.1}s, final loss {}; checkpoint: {}",
        seconds,
        last_loss.map(|l| format!("{l:.4}")).unwrap_or("-".into()),
        checkpoint.display()
    );
    Ok(Some(TrainOutcome {
        run_dir,
        checkpoint,
        step,
        last_loss,
        seconds,
    }))
}

/// `--detach`: the run trains in a background process of its own; this returns once it
/// answers on its socket.
fn detach(plan: runs::RunPlan, launch: &Launch, a: &TrainArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find this program: {e}"))?;
    let dir = plan.run_dir.clone();
    let args = runs::background_args(&plan, launch, a.data.as_deref());
    let pid = runs::spawn_background(&exe, &args, &dir).map_err(|e| anyhow!(one_line(&e)))?;
    remote::wait_for(&dir, Want::Watch).map_err(|e| anyhow!(e))?;
    eprintln!(
        "training {} in the background (pid {pid}): {}\n  watch it:  diffscope attach {}\n  \
         all runs:  diffscope runs",
        plan.preset.name,
        dir.display(),
        dir.display()
    );
    Ok(())
}
