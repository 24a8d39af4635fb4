//! `diffscope eval`: the variational bound of a checkpoint on held-out data (exact or
//! estimated), its split into L_T, the KL terms and the decoder L_0, the per-timestep terms
//! as CSV, and sample-quality figures. The figures of a run's checkpoint are added to the
//! run's log (`evals.csv`), where `diffscope runs` and the workbench read them.

use super::flag_error;
use super::progress::Progress;
use crate::cli::{EvalArgs, VarianceArg};
use crate::data::{ItemKind, Split};
use crate::diffusion::VarianceKind;
use crate::eval::evaluate::{self, defaults, SampleQuality};
use crate::eval::likelihood::{progress_total, BoundOptions};
use crate::eval::BoundReport;
use crate::eval::Quality;
use crate::runs::runlog::{wall_clock, EvalRow};
use crate::runs::{self, Recorded};
use crate::train::{checkpoint, Trainer, Weights};
use crate::util::{one_line, write_atomic};
use anyhow::{bail, Context};
use std::path::Path;

/// The validated numeric flags.
struct Counts {
    n: Option<usize>,
    estimate: Option<usize>,
    batch: Option<usize>,
    samples: Option<usize>,
}

fn positive(flag: &str, v: Option<i64>, what: &str) -> anyhow::Result<Option<usize>> {
    match v {
        Some(x) if x <= 0 => bail!("{flag} {x}: {what} must be at least 1"),
        Some(x) => Ok(Some(x as usize)),
        None => Ok(None),
    }
}

fn validate(a: &EvalArgs) -> anyhow::Result<Counts> {
    let n = positive("--n", a.n, "the number of held-out items")?;
    let estimate = positive("--estimate", a.estimate, "the number of timesteps per item")?;
    let batch = positive("--batch", a.batch, "the batch size")?;
    let samples = match a.samples {
        Some(x) if x < 0 => {
            bail!("--samples {x}: the number of samples must be 0 (no quality figures) or more")
        }
        Some(x) => Some(x as usize),
        None => None,
    };
    Ok(Counts {
        n,
        estimate,
        batch,
        samples,
    })
}

/// Checks that the CSV's folder exists (creating it) and is writable, before any work.
fn check_writable(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!(
            "--terms {}: is a folder, expected a file name",
            path.display()
        );
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "--terms {}: cannot create the folder {}",
            path.display(),
            dir.display()
        )
    })?;
    let probe = dir.join(".diffscope-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("--terms {}: cannot write here", path.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// The evaluation as a row of its run's `evals.csv` (quality figures filled in later),
/// and its per-timestep terms in the report's unit.
fn eval_row(r: &BoundReport, step: u64, ema: bool) -> (EvalRow, Vec<f64>) {
    let u = r.unit;
    let row = EvalRow {
        step,
        wall_time: wall_clock(),
        ema,
        unit: u.name().to_string(),
        bound: r.total.scaled(u).mean,
        bound_se: r.total.scaled(u).se,
        prior: r.prior.scaled(u).mean,
        diffusion: r.middle.scaled(u).mean,
        decoder: r.decoder.scaled(u).mean,
        quality: Quality::default(),
    };
    let per_t = r
        .per_t
        .iter()
        .map(|v| v.map_or(f64::NAN, |v| u.from_nats(v)))
        .collect();
    (row, per_t)
}

/// Adds the evaluation to the checkpoint's run log, and says where (or why not).
fn record(ck: &Path, row: &EvalRow, per_t: &[f64]) {
    match runs::record_eval(ck, row, per_t) {
        Ok(Recorded::Added(log)) => println!("added to {}", log.display()),
        Ok(Recorded::Passed { log, last }) => println!(
            "not added to {}: it already holds an evaluation of step {last}, after step {}",
            log.display(),
            row.step
        ),
        Ok(Recorded::Live { dir, pid }) => println!(
            "not added to {}'s log: a process (pid {pid}) trains the run and writes it",
            dir.display()
        ),
        Ok(Recorded::Damaged(notice)) => println!("not added to the run's log: {notice}"),
        Ok(Recorded::NoRun) => {}
        Err(e) => eprintln!("note: not added to the run's log: {}", one_line(&e)),
    }
}

fn print_bound(r: &BoundReport, seed: u64) {
    let u = r.unit;
    let how = match r.estimate {
        None => format!("exact: all {} timesteps per item", r.steps),
        Some(k) => format!(
            "Monte-Carlo estimate: t = 0 and t = {} exact, the other terms from {k} of {} \
             timesteps per item",
            r.steps.saturating_sub(1),
            r.steps.saturating_sub(2)
        ),
    };
    let total = r.total.scaled(u);
    println!(
        "negative log-likelihood bound ({how}; n = {} held-out items, seed {seed}):",
        r.items
    );
    println!(
        "  bound                  {:>10.4} ± {:.4} {} (± one standard error across items)",
        total.mean,
        total.se,
        u.name()
    );
    let split = [
        ("  L_T (prior)            ", r.prior),
        ("  sum of L_1..L_{T-1}    ", r.middle),
        ("  L_0 (decoder)          ", r.decoder),
    ];
    for (label, f) in split {
        let f = f.scaled(u);
        println!("{label}{:>10.4} ± {:.4} {}", f.mean, f.se, u.name());
    }
}

pub fn run(a: &EvalArgs) -> anyhow::Result<()> {
    let counts = validate(a)?;
    if let Some(p) = &a.terms {
        check_writable(p)?;
    }
    let device = super::device(&a.device)?;
    let ck = checkpoint::read(&a.checkpoint)?;
    let preset = &ck.meta.preset;
    let mut data_config = preset.data.clone();
    let data_flag = a.data.as_ref().map(|p| p.display().to_string());
    if let (Some(p), Some(flag)) = (&a.data, &data_flag) {
        data_config
            .set_path(p.clone())
            .map_err(|e| flag_error("--data", flag, e))?;
    }
    let source = data_config.source();
    // The held-out data first: a missing data set is reported before any model is built.
    let n = counts
        .n
        .unwrap_or(defaults::held_items(data_config.item_shape().len() == 3));
    let held = source
        .load(a.seed, Split::Held(n))
        .map_err(|e| match &data_flag {
            Some(flag) => flag_error("--data", flag, e),
            None => {
                let hint = if data_config.path().is_some() {
                    " (its folder can be given with --data PATH)"
                } else {
                    ""
                };
                anyhow::Error::new(e).context(format!(
                    "{}: the checkpoint's data set ({}) is not available{hint}",
                    ck.dir.display(),
                    source.describe()
                ))
            }
        })?;
    let image = held.kind == ItemKind::Image;
    if held.is_empty() {
        bail!(
            "{}: the data set ({}) has no held-out items",
            ck.dir.display(),
            source.describe()
        );
    }
    if preset.train.threads > 0 {
        tch::set_num_threads(preset.train.threads as i32);
    }
    let mut tr = Trainer::load_as(&ck.dir, device, false, super::precision(a.precision))?;
    if let Some(note) = &tr.load_notice {
        eprintln!("note: {note}");
    }
    if held.item_shape != tr.item_shape {
        bail!(
            "{}: held-out items have shape {:?}, but the model expects {:?}",
            source.describe(),
            held.item_shape,
            tr.item_shape
        );
    }
    if let Some(v) = a.variance {
        tr.diffusion.variance = match v {
            VarianceArg::Small => VarianceKind::FixedSmall,
            VarianceArg::Large => VarianceKind::FixedLarge,
        };
    }
    let weights = if a.raw { Weights::Raw } else { Weights::Ema };
    let opts = BoundOptions {
        batch: counts.batch.unwrap_or(defaults::batch(image)),
        estimate: counts.estimate,
        decoder: evaluate::decoder_for(held.kind),
    };
    println!(
        "checkpoint {} ({}, step {}, {} weights)",
        ck.dir.display(),
        preset.name,
        tr.step,
        if a.raw { "raw" } else { "EMA" }
    );
    println!(
        "data: {} held-out items of {}, seed {}; T = {}, {} schedule, variance {}",
        held.len(),
        source.describe(),
        a.seed,
        tr.diffusion.steps(),
        tr.diffusion.schedule.kind,
        tr.diffusion.variance.name()
    );

    let units = progress_total(held.len(), tr.diffusion.steps(), &opts);
    let mut progress = Progress::new("bound", 0, units);
    let report = evaluate::bound(
        &tr,
        &held,
        weights,
        a.seed,
        opts.batch,
        opts.estimate,
        &mut |done, _| progress.update(done, ""),
    )
    .with_context(|| ck.dir.display().to_string())?;
    progress.finish();
    print_bound(&report, a.seed);
    let (mut row, per_t) = eval_row(&report, tr.step, !a.raw);
    if let Some(p) = &a.terms {
        write_atomic(p, report.terms_csv().as_bytes())?;
        println!(
            "per-timestep terms ({}) written to {}",
            report.unit.name(),
            p.display()
        );
    }

    let labelled = tr.preset.data.class_names().is_some();
    let samples = counts.samples.unwrap_or(defaults::samples(image, labelled));
    if samples == 0 {
        if image && !labelled {
            println!("sample quality: needs labelled data (a classifier's features); none here");
        }
        record(&ck.dir, &row, &per_t);
        return Ok(());
    }
    if image && !labelled {
        bail!(
            "--samples {samples}: image quality figures need labelled data (glyphs, shapes, \
             MNIST, Fashion-MNIST, CIFAR-10)"
        );
    }
    let opts = tr.sample_options();
    let steps = opts.steps.min(tr.diffusion.steps());
    let mut progress = Progress::new("sample", 0, steps as u64);
    // measured against the data set that was evaluated (with --data, that folder)
    let quality = evaluate::sample_quality(
        &tr,
        &data_config,
        samples,
        &opts,
        weights,
        a.seed,
        &mut |done, _| progress.update(done as u64, ""),
        &mut |line| eprintln!("{line}"),
    );
    progress.finish();
    match quality.with_context(|| ck.dir.display().to_string())? {
        SampleQuality::Images(q) => {
            println!(
                "sample quality ({samples} samples, {} {steps} steps, vs held-out data):",
                opts.sampler.name()
            );
            for line in q.report() {
                println!("  {line}");
            }
            row.quality.frechet = Some(q.frechet);
            row.quality.classes_present =
                Some(q.histogram.iter().filter(|&&c| c > 0).count() as u32);
            row.quality.classes = Some(q.histogram.len() as u32);
        }
        SampleQuality::Points(q) => {
            println!(
                "sample quality ({} samples, seed {}, {} {} steps, vs {} fresh data points; \
                 ratio: against N(0, I) noise):",
                q.samples,
                a.seed,
                opts.sampler.name(),
                steps,
                q.data
            );
            for line in q.report() {
                println!("  {line}");
            }
            row.quality.sliced_w1 = Some(q.sw1);
            row.quality.mmd = q.mmd2.resolved().then_some(q.mmd);
        }
    }
    record(&ck.dir, &row, &per_t);
    Ok(())
}
