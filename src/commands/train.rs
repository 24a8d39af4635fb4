//! `diffscope train`: headless training with progress output, in the foreground or (with
//! `--detach`) in a background process that `diffscope attach` and the workbench can
//! attach to.

use super::flag_error;
use super::progress::Progress;
use crate::cli::TrainArgs;
use crate::runs::{self, Launch, Overrides, RunError, RunOrigin, RunSpec};
use crate::runs::{runfolder, serve};
use crate::train::checkpoint::CheckpointError;
use crate::util::one_line;
use crate::worker::protocol::Event;
use crate::worker::wire::Want;
use crate::worker::Origin;
use anyhow::anyhow;
use std::fmt;
use std::path::{Path, PathBuf};

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
    let out_existed = a.out.as_ref().is_some_and(|p| p.exists());
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
    // A resumed run must have steps left to train. (The workbench's background process
    // may open a finished run: it stays to sample and evaluate.)
    if let (Some(Origin::Checkpoint(dir)), false) = (&plan.origin, a.worker) {
        let at = crate::train::checkpoint::read(dir)?.meta.step;
        let total = a.steps.unwrap_or(plan.preset.train.steps);
        if let Err(e) = check_total(at, total, a.steps.is_some(), dir) {
            if a.out.is_some() && !out_existed {
                runfolder::remove_if_unused(&run_dir);
            }
            return Err(e);
        }
    }
    for w in crate::config::preset::warnings(&plan.preset) {
        eprintln!("warning: preset {name}: {w}");
    }
    let threads = a.threads.unwrap_or(plan.preset.train.threads);
    if let Some(w) = crate::config::preset::threads_warning(threads, cores()) {
        let from = if a.threads.is_some() {
            "--threads".to_string()
        } else {
            format!("train.threads of preset {name}")
        };
        eprintln!("warning: {from}: {w}");
    }
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
    let mut start_step = 0;
    let background = a.worker;
    let outcome = serve::train(plan, &launch, background, &mut |ev| match ev {
        Event::Ready(info) => {
            start_step = info.step;
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
    if let Some(signal) = outcome.signal {
        return Err(Interrupted {
            signal,
            saved: saved.clone(),
            run_dir: run_dir.clone(),
        }
        .into());
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
        "{} in {:.1}s, final loss {}; checkpoint: {}",
        trained(start_step, step),
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

/// The cores this machine has.
fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Refuses a resumed run with nothing to train: `total` (from `--steps` when `flag`, else
/// the checkpoint's preset) is the step count to reach, and the checkpoint in `dir` is at
/// step `at`.
fn check_total(at: u64, total: u64, flag: bool, dir: &Path) -> anyhow::Result<()> {
    match (flag, total.cmp(&at)) {
        (_, std::cmp::Ordering::Greater) => Ok(()),
        (true, std::cmp::Ordering::Less) => Err(anyhow!(
            "--steps {total}: the checkpoint is already at step {at}, and --steps is the total \
             to reach (not steps to add); give more than {at}"
        )),
        (true, _) => Err(anyhow!(
            "--steps {total}: the checkpoint is already at step {at}, so there is nothing to \
             train; give a total above {at}"
        )),
        (false, _) => Err(anyhow!(
            "{}: the run is at step {at} of its {total} (train.steps), so there is nothing to \
             train; give a larger total with --steps",
            dir.display()
        )),
    }
}

/// What an invocation trained: `trained 40 steps`, or from a checkpoint `trained 300
/// steps (1200 → 1500)`.
fn trained(start: u64, end: u64) -> String {
    let n = end.saturating_sub(start);
    let s = if n == 1 { "" } else { "s" };
    if start == 0 {
        format!("trained {n} step{s}")
    } else {
        format!("trained {n} step{s} ({start} → {end})")
    }
}

/// Training stopped by a signal (Ctrl-C, `kill`). It saved what it could; the message
/// says how to go on, and the process exits with 128 + the signal's number.
#[derive(Debug)]
pub struct Interrupted {
    pub signal: &'static str,
    /// The checkpoint saved on the way out (folder, step).
    pub saved: Option<(PathBuf, u64)>,
    pub run_dir: PathBuf,
}

impl Interrupted {
    /// The conventional exit status: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.
    pub fn exit_code(&self) -> u8 {
        let n = match self.signal {
            "SIGINT" => libc::SIGINT,
            "SIGTERM" => libc::SIGTERM,
            "SIGHUP" => libc::SIGHUP,
            _ => return 1,
        };
        128 + n as u8
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resume = format!(
            "diffscope train --resume {}",
            crate::cli::shell_word(&self.run_dir.display().to_string())
        );
        match &self.saved {
            Some((path, step)) => write!(
                f,
                "{}: training stopped at step {step}, saved in {}; to go on: {resume}",
                self.signal,
                path.display()
            ),
            None if crate::train::checkpoint::list_steps(&self.run_dir)
                .is_ok_and(|s| !s.is_empty()) =>
            {
                write!(
                    f,
                    "{}: training stopped; nothing new was saved; to go on from the last \
                     checkpoint: {resume}",
                    self.signal
                )
            }
            None => write!(
                f,
                "{}: training stopped before a checkpoint was saved",
                self.signal
            ),
        }
    }
}

impl std::error::Error for Interrupted {}

/// `--detach`: the run trains in a background process of its own; this returns once it
/// answers on its socket.
fn detach(plan: runs::RunPlan, launch: &Launch, a: &TrainArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find this program: {e}"))?;
    let dir = plan.run_dir.clone();
    let args = runs::background_args(&plan, launch, a.data.as_deref());
    let pid = runs::spawn_background(&exe, &args, &dir).map_err(|e| anyhow!(one_line(&e)))?;
    runs::wait_for(&dir, Want::Watch).map_err(|e| anyhow!(e))?;
    eprintln!(
        "training {} in the background (pid {pid}): {}\n  watch it:  diffscope attach {}\n  \
         all runs:  diffscope runs",
        plan.preset.name,
        dir.display(),
        dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_is_the_total_to_reach_on_a_resume_too() {
        let dir = Path::new("checkpoints/r/step-00001500");
        assert!(check_total(1200, 1500, true, dir).is_ok());
        let e = check_total(1500, 1000, true, dir).unwrap_err().to_string();
        assert!(
            e.starts_with("--steps 1000: the checkpoint is already at step 1500"),
            "{e}"
        );
        let e = check_total(1500, 1500, true, dir).unwrap_err().to_string();
        assert!(e.contains("nothing to train"), "{e}");
        let e = check_total(1500, 1500, false, dir).unwrap_err().to_string();
        assert!(
            e.starts_with("checkpoints/r/step-00001500: the run is at step 1500 of its 1500")
                && e.ends_with("--steps"),
            "{e}"
        );
        assert_eq!(trained(0, 40), "trained 40 steps");
        assert_eq!(trained(1200, 1500), "trained 300 steps (1200 → 1500)");
        assert_eq!(trained(10, 11), "trained 1 step (10 → 11)");
    }

    #[test]
    fn a_signal_says_how_to_go_on_and_sets_the_exit_status() {
        let i = Interrupted {
            signal: "SIGINT",
            saved: Some(("runs/my run/step-00000120".into(), 120)),
            run_dir: "runs/my run".into(),
        };
        assert_eq!(i.exit_code(), 130);
        assert_eq!(
            i.to_string(),
            "SIGINT: training stopped at step 120, saved in runs/my run/step-00000120; to go \
             on: diffscope train --resume 'runs/my run'"
        );
        let t = Interrupted {
            signal: "SIGTERM",
            saved: None,
            run_dir: "/nonexistent/run".into(),
        };
        assert_eq!(t.exit_code(), 143);
        assert_eq!(
            t.to_string(),
            "SIGTERM: training stopped before a checkpoint was saved"
        );
    }
}
