//! `diffscope eval`: the variational bound of a checkpoint on held-out data (exact or
//! estimated), its split into L_T, the KL terms and the decoder L_0, the per-timestep terms
//! as CSV, and sample-quality figures. The figures of a run's checkpoint are added to the
//! run's log (`evals.csv`), where `diffscope runs` and the workbench read them.

use super::flag_error;
use super::progress::Progress;
use crate::cli::{EvalArgs, VarianceArg};
use crate::data::{DataConfig, ItemKind, Split};
use crate::diffusion::{SampleOptions, VarianceKind};
use crate::eval::classifier::HELD_ITEMS;
use crate::eval::evaluate::{self, defaults};
use crate::eval::likelihood::{progress_total, BoundOptions};
use crate::eval::quality::FAR_FACTOR;
use crate::eval::sweep;
use crate::eval::Evaluation;
use crate::render::chart;
use crate::runs::{self, Recorded};
use crate::train::{checkpoint, Trainer, Weights};
use crate::util::{one_line, write_atomic};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

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

/// Checks that the folder of the file `flag` names exists (creating it) and is writable,
/// before any work.
fn check_writable(flag: &str, path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!(
            "{flag} {}: is a folder, expected a file name",
            path.display()
        );
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "{flag} {}: cannot create the folder {}",
            path.display(),
            dir.display()
        )
    })?;
    let probe = dir.join(".diffscope-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("{flag} {}: cannot write here", path.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Adds the evaluation to the checkpoint's run log, and says where (or why not).
fn record(ck: &Path, row: &Evaluation, per_t: &[f64]) {
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

/// A count or seed the record may lack.
fn known<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("?".into(), |v| v.to_string())
}

/// The bound as printed: how it was computed (`timesteps`: the model's T), then the bound
/// and its split, each ± one standard error.
fn bound_lines(e: &Evaluation, timesteps: usize) -> Vec<String> {
    let u = e.unit.name();
    let how = match e.estimate {
        None => format!("exact: all {timesteps} timesteps per item"),
        Some(k) => format!(
            "Monte-Carlo estimate: t = 0 and t = {} exact, the other terms from {k} of {} \
             timesteps per item",
            timesteps.saturating_sub(1),
            timesteps.saturating_sub(2)
        ),
    };
    let mut lines = vec![
        format!(
            "negative log-likelihood bound ({how}; n = {} held-out items, seed {}):",
            known(e.items),
            known(e.seed)
        ),
        format!(
            "  bound                  {:>10.4} ± {:.4} {u} (± one standard error across items)",
            e.bound, e.bound_se
        ),
    ];
    let split = [
        ("  L_T (prior)            ", e.prior, e.prior_se),
        ("  sum of L_1..L_{T-1}    ", e.diffusion, e.diffusion_se),
        ("  L_0 (decoder)          ", e.decoder, e.decoder_se),
    ];
    for (label, mean, se) in split {
        let se = se.unwrap_or(f64::NAN);
        lines.push(format!("{label}{mean:>10.4} ± {se:.4} {u}"));
    }
    lines
}

/// The sample-quality figures as printed (none when there are none): a heading that says
/// what they were computed from, then a line per figure. `class_names`: the data's, for
/// the class histogram of images.
fn quality_lines(e: &Evaluation, class_names: &[String]) -> Vec<String> {
    let samples = known(e.samples);
    let sampler = format!(
        "{} {} steps",
        known(e.sampler.map(|s| s.name())),
        known(e.sampler_steps)
    );
    let mut lines = Vec::new();
    if let Some(sw1) = e.sliced_w1 {
        lines.push(format!(
            "sample quality ({samples} samples, seed {}, {sampler}, vs {} fresh data points; \
             ratio: against N(0, I) noise):",
            known(e.seed),
            known(e.data_points)
        ));
        if let Some(noise) = e.sliced_w1_noise {
            lines.push(format!(
                "  sliced W1              {sw1:>10.4}   noise {noise:.4}   ratio {:.3}",
                sw1 / noise
            ));
        }
        if let Some(text) = mmd_text(e) {
            let h = e.bandwidth.unwrap_or(f64::NAN);
            lines.push(format!("  MMD (RBF, h = {h:.3})    {text}"));
        }
        if let (Some(far), Some(data), Some(farthest)) = (e.far, e.data_radius, e.sample_radius) {
            let n = e.samples.unwrap_or(0);
            lines.push(format!(
                "  far out                {far} of {n} samples ({:.2}%) beyond {FAR_FACTOR}× the \
                 data's radius {data:.3}; farthest at {farthest:.4}",
                100.0 * far as f64 / n.max(1) as f64
            ));
        }
    }
    if let Some(frechet) = e.frechet {
        lines.push(format!(
            "sample quality ({samples} samples, {sampler}, vs held-out data):"
        ));
        lines.push(format!(
            "  Fréchet distance in classifier features: {frechet:.3} (held-out data vs itself \
             {:.3}, noise {:.3})",
            e.frechet_floor.unwrap_or(f64::NAN),
            e.frechet_noise.unwrap_or(f64::NAN)
        ));
        if let Some(acc) = e.classifier_accuracy.map(|a| a * 100.0) {
            lines.push(match e.classifier_items.unwrap_or(0) {
                0 => format!("  classifier accuracy on held-out data: {acc:.1}%"),
                n if n < HELD_ITEMS => format!(
                    "  classifier accuracy on {n} held-out items: {acc:.1}% (the held-out split \
                     holds only {n} of the {HELD_ITEMS} it is measured on; take it as a rough \
                     figure)"
                ),
                n => format!("  classifier accuracy on {n} held-out items: {acc:.1}%"),
            });
        }
        if let Some(counts) = &e.class_counts {
            let total: u32 = counts.iter().sum();
            let bars: Vec<String> = counts
                .iter()
                .zip(class_names)
                .map(|(c, n)| format!("{n}:{:.0}%", 100.0 * *c as f64 / total.max(1) as f64))
                .collect();
            lines.push(format!("  class histogram of samples: {}", bars.join(" ")));
            let missing: Vec<&str> = counts
                .iter()
                .zip(class_names)
                .filter(|(c, _)| **c == 0)
                .map(|(_, n)| n.as_str())
                .collect();
            if !missing.is_empty() {
                lines.push(format!("  classes never drawn: {}", missing.join(", ")));
            }
        }
        lines.extend(guidance_lines(e, class_names));
    }
    lines
}

/// The figures of samples of requested classes: the guidance, the class agreement overall
/// and per class, and the Fréchet distance per class.
fn guidance_lines(e: &Evaluation, class_names: &[String]) -> Vec<String> {
    let (Some(w), Some(agreement)) = (e.guidance, e.agreement) else {
        return Vec::new();
    };
    let name = |c: usize| class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let drawn = match e.class {
        Some(c) => format!("class {}", name(c as usize)),
        None => "all classes".to_string(),
    };
    let mut lines = vec![format!(
        "  guidance w {w}, {drawn}: class agreement {:.1}% (the classifier's class is the one \
         asked for)",
        100.0 * agreement
    )];
    if let (Some(r), Some(a)) = (&e.class_requested, &e.class_agreeing) {
        let per: Vec<String> = r
            .iter()
            .zip(a)
            .enumerate()
            .filter(|(_, (r, _))| **r > 0)
            .map(|(c, (r, a))| format!("{}:{:.0}%", name(c), 100.0 * *a as f64 / *r as f64))
            .collect();
        if per.len() > 1 {
            lines.push(format!("  agreement per class: {}", per.join(" ")));
        }
    }
    if let Some(f) = &e.frechet_per_class {
        let per: Vec<String> = f
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(c, v)| format!("{}:{v:.1}", name(c)))
            .collect();
        if !per.is_empty() {
            lines.push(format!(
                "  Fréchet distance per class (against held-out items of the class): mean {:.3}; {}",
                e.frechet_class_mean.unwrap_or(f64::NAN),
                per.join(" ")
            ));
        }
    }
    lines
}

/// The MMD as it may be read: the figure ± its standard error, or, when the sample size
/// cannot tell it from zero, an upper bound; with its ratio to noise.
fn mmd_text(e: &Evaluation) -> Option<String> {
    let mmd2 = e.mmd2()?;
    let noise = e.mmd_noise?;
    Some(match e.mmd.filter(|_| mmd2.resolved()) {
        Some(mmd) => format!(
            "{mmd:.4} ± {:.4}   noise {noise:.4}   ratio {:.3}",
            mmd2.mmd_se(),
            mmd / noise
        ),
        None => {
            let upper = mmd2.mmd_upper();
            format!(
                "below resolution: MMD² {:.5} ± {:.5} with {} samples, so MMD < {upper:.4}   \
                 noise {noise:.4}   ratio < {:.3}",
                mmd2.value,
                mmd2.se,
                known(e.samples),
                upper / noise
            )
        }
    })
}

pub fn run(a: &EvalArgs) -> anyhow::Result<()> {
    let counts = validate(a)?;
    if let Some(p) = &a.held_out_npy {
        if !p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")) {
            bail!(
                "--held-out-npy {}: the held-out items are written as .npy",
                p.display()
            );
        }
        check_writable("--held-out-npy", p)?;
    }
    if let Some(p) = &a.terms {
        check_writable("--terms", p)?;
    }
    if let Some(p) = &a.terms_png {
        check_writable("--terms-png", p)?;
    }
    // the other runs' terms are read first, so that a bad file fails before the bound
    let others = a
        .terms_with
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("--terms-with {}: {e}", p.display()))?;
            let terms = crate::eval::likelihood::read_terms_csv(&text)
                .map_err(|e| anyhow::anyhow!("--terms-with {}: {e}", p.display()))?;
            let label = p
                .file_stem()
                .map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into());
            Ok((label, terms))
        })
        .collect::<anyhow::Result<Vec<(String, Vec<f64>)>>>()?;
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
    if !a.sweep.is_empty() {
        return run_sweep(a, &counts, &ck, &data_config, device);
    }
    if let Some(text) = &a.guidance_sweep {
        return run_guidance_sweep(a, text, &counts, &ck, &data_config, device);
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
    set_variance(&mut tr, a.variance)?;
    // the guidance flags are checked before the bound is computed
    let mut sampling = tr.sample_options();
    super::sample::guidance_from_flags(&a.guidance, &mut sampling, tr.classes())?;
    if let Some(p) = &a.held_out_npy {
        let mut shape = vec![held.len()];
        shape.extend(held.item_shape.iter().map(|&d| d as usize));
        write_atomic(p, &super::sample::npy(&held.values, &shape))?;
    }
    let weights = if a.raw { Weights::Raw } else { Weights::Ema };
    let opts = BoundOptions {
        batch: counts.batch.unwrap_or(defaults::batch(image)),
        estimate: counts.estimate,
        decoder: evaluate::decoder_for(held.kind),
    };
    print_checkpoint(&ck.dir, &preset.name, tr.step, a.raw);
    println!(
        "data: {} held-out items of {}, seed {}; T = {}, {} schedule, variance {}",
        held.len(),
        source.describe(),
        a.seed,
        tr.diffusion.steps(),
        tr.diffusion.schedule.kind,
        tr.diffusion.variance().name()
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
    let mut e = Evaluation::of_bound(tr.step, !a.raw, a.seed, &report);
    for line in bound_lines(&e, tr.diffusion.steps()) {
        println!("{line}");
    }
    let per_t = report.terms();
    if let Some(p) = &a.terms {
        write_atomic(p, report.terms_csv().as_bytes())?;
        println!(
            "per-timestep terms ({}) written to {}",
            report.unit.name(),
            p.display()
        );
    }
    if let Some(p) = &a.terms_png {
        let label = format!("{} ({})", preset.name, tr.diffusion.variance().flag());
        let series: Vec<chart::Series> = std::iter::once((label, per_t.clone()))
            .chain(others)
            .map(|(l, terms)| (l, crate::eval::likelihood::accumulated(&terms)))
            .collect();
        let img = chart::line_chart(
            &series,
            "t + 1",
            &format!("{} from t = 0", report.unit.name()),
            "the bound summed from t = 0 up to t (t = 0 is the decoder)",
            &chart::ChartStyle {
                legend: chart::Legend::BottomRight,
                ..Default::default()
            },
        );
        crate::render::write_png(p, &img)?;
        println!("accumulated terms drawn to {}", p.display());
    }

    let labelled = tr.preset.data.class_names().is_some();
    let samples = counts.samples.unwrap_or(defaults::samples(image, labelled));
    if samples == 0 {
        if image && !labelled {
            println!("sample quality: needs labelled data (a classifier's features); none here");
        }
        record(&ck.dir, &e, &per_t);
        return Ok(());
    }
    if image && !labelled {
        bail!(
            "--samples {samples}: image quality figures need labelled data (glyphs, shapes, \
             MNIST, Fashion-MNIST, CIFAR-10)"
        );
    }
    let opts = sampling;
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
        &mut e,
    );
    progress.finish();
    quality.with_context(|| ck.dir.display().to_string())?;
    // Unlabelled data has no class names, and no class figures to name.
    let class_names = data_config.class_names().unwrap_or_else(Vec::new);
    for line in quality_lines(&e, &class_names) {
        println!("{line}");
    }
    record(&ck.dir, &e, &per_t);
    Ok(())
}

/// Where a sweep's file goes: the flag's path, or `sweep-step-NNNNNNNN.EXT` in the
/// checkpoint's run folder.
fn sweep_path(given: &Option<PathBuf>, ck: &Path, step: u64, ext: &str) -> PathBuf {
    named_path(given, ck, &format!("sweep-step-{step:08}.{ext}"))
}

/// The flag's path, or `name` in the checkpoint's run folder.
fn named_path(given: &Option<PathBuf>, ck: &Path, name: &str) -> PathBuf {
    given.clone().unwrap_or_else(|| {
        let run = ck
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(ck);
        run.join(name)
    })
}

/// `eval --guidance-sweep`: class agreement and Fréchet distances against the guidance
/// scale w, as a table, a CSV file and a PNG chart.
fn run_guidance_sweep(
    a: &EvalArgs,
    text: &str,
    counts: &Counts,
    ck: &checkpoint::Checkpoint,
    data_config: &DataConfig,
    device: tch::Device,
) -> anyhow::Result<()> {
    let scales = crate::eval::guidance::parse_scales(text)
        .map_err(|e| anyhow::anyhow!("--guidance-sweep {text}: {e}"))?;
    let step = ck.meta.step;
    let csv_path = named_path(
        &a.sweep_csv,
        &ck.dir,
        &format!("guidance-step-{step:08}.csv"),
    );
    let png_path = named_path(
        &a.sweep_png,
        &ck.dir,
        &format!("guidance-step-{step:08}.png"),
    );
    check_writable("--sweep-csv", &csv_path)?;
    check_writable("--sweep-png", &png_path)?;
    let preset = &ck.meta.preset;
    if preset.model.classes().is_none() {
        bail!(
            "--guidance-sweep {text}: {}: this checkpoint's model is unconditional (it has no \
             classes to guide)",
            ck.dir.display()
        );
    }
    if data_config.class_names().is_none() {
        bail!(
            "--guidance-sweep {text}: class agreement needs a classifier of the data's labels, \
             and {} has no class names",
            data_config.source().describe()
        );
    }
    let tr = load_for_sweep(a, ck, device)?;
    let mut base = tr.sample_options();
    super::sample::guidance_from_flags(&a.guidance, &mut base, tr.classes())?;
    let samples = match counts.samples {
        Some(0) => bail!("--samples 0: a sweep needs samples to measure"),
        Some(n) => n,
        None => defaults::GUIDANCE_SAMPLES,
    };
    let weights = if a.raw { Weights::Raw } else { Weights::Ema };
    print_checkpoint(&ck.dir, &preset.name, tr.step, a.raw);
    let class = base.guidance.map(|g| g.class).unwrap_or_default();
    println!(
        "guidance sweep: w = {}, {samples} samples each ({class}) from seed {}, {}",
        scales
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        a.seed,
        SampleOptions {
            guidance: None,
            ..base.clone()
        }
        .describe(tr.diffusion.steps())
    );
    let steps = base.steps.min(tr.diffusion.steps()) as u64;
    let mut progress = Progress::new("sweep", 0, steps * scales.len() as u64);
    let result = crate::eval::guidance::run(
        &tr,
        data_config,
        &scales,
        &base,
        samples,
        weights,
        a.seed,
        &mut |point, _, step, _| progress.update(point as u64 * steps + step as u64, ""),
        &mut |line| eprintln!("{line}"),
    );
    progress.finish();
    let result = result.with_context(|| ck.dir.display().to_string())?;
    println!(
        "class agreement (the feature classifier's class against the class asked for) and \
         Fréchet distance in its features against held-out data (held-out data vs itself \
         {:.3}, noise {:.3}):",
        result.frechet_floor.unwrap_or(f64::NAN),
        result.frechet_noise.unwrap_or(f64::NAN)
    );
    for line in result.table() {
        println!("{line}");
    }
    write_atomic(&csv_path, result.csv().as_bytes())?;
    println!("table written to {}", csv_path.display());
    let title = format!("{} step {} ({samples} samples)", preset.name, tr.step);
    crate::render::write_png(&png_path, &result.chart(&title.to_lowercase()))?;
    println!("chart written to {}", png_path.display());
    Ok(())
}

/// `eval --sweep`: sample quality against network evaluations, as a table, a CSV file and
/// a PNG chart.
fn run_sweep(
    a: &EvalArgs,
    counts: &Counts,
    ck: &checkpoint::Checkpoint,
    data_config: &DataConfig,
    device: tch::Device,
) -> anyhow::Result<()> {
    // the specs' form first, before any model is loaded
    for text in &a.sweep {
        sweep::parse_spec(text).map_err(|e| flag_error("--sweep", &e.spec.clone(), e))?;
    }
    let csv_path = sweep_path(&a.sweep_csv, &ck.dir, ck.meta.step, "csv");
    let png_path = sweep_path(&a.sweep_png, &ck.dir, ck.meta.step, "png");
    check_writable("--sweep-csv", &csv_path)?;
    check_writable("--sweep-png", &png_path)?;
    let preset = &ck.meta.preset;
    let tr = load_for_sweep(a, ck, device)?;
    let t = tr.diffusion.steps();
    let specs =
        sweep::parse_specs(&a.sweep, t).map_err(|e| flag_error("--sweep", &e.spec.clone(), e))?;
    let image = tr.item_shape.len() == 3;
    let labelled = data_config.class_names().is_some();
    if image && !labelled {
        bail!(
            "--sweep: image quality figures need labelled data (glyphs, shapes, MNIST, \
             Fashion-MNIST, CIFAR-10)"
        );
    }
    let samples = match counts.samples {
        Some(0) => bail!("--samples 0: a sweep needs samples to measure"),
        Some(n) => n,
        None => defaults::sweep_samples(image),
    };
    let weights = if a.raw { Weights::Raw } else { Weights::Ema };
    print_checkpoint(&ck.dir, &preset.name, tr.step, a.raw);
    let points = sweep::points(&specs);
    println!(
        "sweep: {points} points, {samples} samples each from seed {}; T = {t}",
        a.seed
    );
    let total: u64 = specs
        .iter()
        .flat_map(|s| s.steps.iter())
        .map(|&s| s as u64)
        .sum();
    let mut done_before = 0u64;
    let mut last_point = 0usize;
    let mut last_of = 0u64;
    let mut progress = Progress::new("sweep", 0, total);
    // measured against the data set given (with --data, that folder)
    let result = sweep::run(
        &tr,
        data_config,
        &specs,
        samples,
        weights,
        a.seed,
        &mut |p| {
            if p.point != last_point {
                done_before += last_of;
                last_point = p.point;
            }
            last_of = p.of as u64;
            progress.update(done_before + p.step as u64, "");
        },
        &mut |line| eprintln!("{line}"),
    );
    progress.finish();
    let result = result.with_context(|| ck.dir.display().to_string())?;
    match result.figure {
        sweep::Figure::Frechet => println!(
            "Fréchet distance in classifier features against held-out data (held-out data vs \
             itself {:.3}, noise {:.3}):",
            result.frechet_floor.unwrap_or(f64::NAN),
            result.frechet_noise.unwrap_or(f64::NAN)
        ),
        sweep::Figure::SlicedW1 => println!(
            "sliced W1 and MMD² against fresh data (sliced W1 of N(0, I) noise {:.4}):",
            result.sliced_w1_noise.unwrap_or(f64::NAN)
        ),
    }
    for line in result.table() {
        println!("{line}");
    }
    write_atomic(&csv_path, result.csv().as_bytes())?;
    println!("table written to {}", csv_path.display());
    let title = format!("{} step {} ({samples} samples)", preset.name, tr.step);
    let img = chart::line_chart(
        &result.series(),
        "network evaluations (nfe)",
        result.figure.label(),
        &title.to_lowercase(),
        &chart::ChartStyle::default(),
    );
    crate::render::write_png(&png_path, &img)?;
    println!("chart written to {}", png_path.display());
    Ok(())
}

/// The checkpoint's model for a sweep, on the preset's threads, read with `--variance`
/// where given.
fn load_for_sweep(
    a: &EvalArgs,
    ck: &checkpoint::Checkpoint,
    device: tch::Device,
) -> anyhow::Result<Trainer> {
    let threads = ck.meta.preset.train.threads;
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
    let mut tr = Trainer::load_as(&ck.dir, device, false, super::precision(a.precision))?;
    if let Some(note) = &tr.load_notice {
        eprintln!("note: {note}");
    }
    set_variance(&mut tr, a.variance)?;
    Ok(tr)
}

/// The first line of `eval`'s report: which checkpoint, which weights.
fn print_checkpoint(dir: &std::path::Path, preset: &str, step: u64, raw: bool) {
    println!(
        "checkpoint {} ({preset}, step {step}, {} weights)",
        dir.display(),
        if raw { "raw" } else { "EMA" }
    );
}

/// Reads the model with the variance of `--variance`, when given.
fn set_variance(tr: &mut Trainer, variance: Option<VarianceArg>) -> anyhow::Result<()> {
    let Some(v) = variance else {
        return Ok(());
    };
    let kind = match v {
        VarianceArg::Small => VarianceKind::FixedSmall,
        VarianceArg::Large => VarianceKind::FixedLarge,
        VarianceArg::Learned => VarianceKind::Learned,
    };
    tr.diffusion
        .set_variance(kind)
        .map_err(|e| anyhow::anyhow!("--variance {}: {e}", kind.flag()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::SamplerKind;
    use crate::eval::quality::tests::ring;
    use crate::eval::{point_quality, Unit};

    /// The record of 2-D samples measured against data.
    fn points(samples: &[f32], data: &[f32]) -> Evaluation {
        let mut e = Evaluation {
            seed: Some(0),
            samples: Some(samples.len() / 2),
            sampler: Some(SamplerKind::Ddpm),
            sampler_steps: Some(50),
            ..Evaluation::default()
        };
        e.add_points(&point_quality(samples, data, 2, 9));
        e
    }

    #[test]
    fn samples_that_blew_up_are_counted_even_when_the_mmd_looks_fine() {
        let data = ring(5, 2000);
        let mut samples = ring(6, 2000);
        // 9 of 2000 samples far out, one of them at |x| ≈ 7597
        for i in 0..9 {
            samples[2 * i] = 7597.0 - 100.0 * i as f32;
        }
        let lines = quality_lines(&points(&samples, &data), &[]);
        println!("{}", lines.join("\n"));
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with(
            "sample quality (2000 samples, seed 0, ddpm 50 steps, vs 2000 fresh data points; \
             ratio: against N(0, I) noise):"
        ));
        assert!(lines[1].starts_with("  sliced W1 "), "{}", lines[1]);
        assert!(lines[2].starts_with("  MMD (RBF, h = "), "{}", lines[2]);
        assert!(lines[3].starts_with("  far out "), "{}", lines[3]);
        assert!(
            lines[3].contains("9 of 2000 samples (0.45%) beyond 2× the data's radius 2.01"),
            "{}",
            lines[3]
        );
        assert!(lines[3].contains("; farthest at 7596.9"), "{}", lines[3]);
    }

    #[test]
    fn an_mmd_the_sample_size_cannot_resolve_is_not_printed_as_zero() {
        let data = ring(5, 500);
        let e = points(&ring(6, 500), &data);
        let text = mmd_text(&e).unwrap();
        println!("{text}");
        assert_eq!(e.mmd, None, "no figure for the log");
        assert!(text.starts_with("below resolution") && text.contains("500 samples"));
        assert!(!text.contains("ratio 0.000"), "{text}");
        // a real difference is given with its standard error
        let wide: Vec<f32> = ring(6, 500).iter().map(|v| v * 1.5).collect();
        let e = points(&wide, &data);
        let text = mmd_text(&e).unwrap();
        println!("{text}");
        assert!(e.mmd.is_some() && text.contains(" ± ") && !text.contains("below"));
    }

    #[test]
    fn image_figures_name_the_classes_never_drawn() {
        let e = Evaluation {
            unit: Unit::BitsPerDim,
            samples: Some(4),
            sampler: Some(SamplerKind::Ddim),
            sampler_steps: Some(100),
            frechet: Some(1.5),
            frechet_floor: Some(0.25),
            frechet_noise: Some(40.0),
            classes_present: Some(2),
            classes: Some(3),
            class_counts: Some(vec![3, 0, 1]),
            classifier_accuracy: Some(0.9876),
            classifier_items: Some(500),
            ..Evaluation::default()
        };
        let names = ["a", "b", "c"].map(String::from);
        let lines = quality_lines(&e, &names);
        println!("{}", lines.join("\n"));
        assert_eq!(
            lines,
            [
                "sample quality (4 samples, ddim 100 steps, vs held-out data):".to_string(),
                "  Fréchet distance in classifier features: 1.500 (held-out data vs itself \
                 0.250, noise 40.000)"
                    .into(),
                format!(
                    "  classifier accuracy on 500 held-out items: 98.8% (the held-out split \
                     holds only 500 of the {HELD_ITEMS} it is measured on; take it as a rough \
                     figure)"
                ),
                "  class histogram of samples: a:75% b:0% c:25%".into(),
                "  classes never drawn: b".into(),
            ]
        );
        assert!(quality_lines(&Evaluation::default(), &names).is_empty());
    }

    #[test]
    fn the_bound_says_how_it_was_computed() {
        let e = Evaluation {
            bound: 1.25,
            bound_se: 0.125,
            prior: 0.001,
            diffusion: 1.0,
            decoder: 0.249,
            items: Some(300),
            seed: Some(4),
            estimate: Some(5),
            prior_se: Some(0.0),
            diffusion_se: Some(0.1),
            decoder_se: Some(0.05),
            ..Evaluation::default()
        };
        let lines = bound_lines(&e, 50);
        println!("{}", lines.join("\n"));
        assert_eq!(
            lines[0],
            "negative log-likelihood bound (Monte-Carlo estimate: t = 0 and t = 49 exact, the \
             other terms from 5 of 48 timesteps per item; n = 300 held-out items, seed 4):"
        );
        assert_eq!(
            lines[1],
            "  bound                      1.2500 ± 0.1250 nats/dim (± one standard error across \
             items)"
        );
        assert_eq!(
            lines[3],
            "  sum of L_1..L_{T-1}        1.0000 ± 0.1000 nats/dim"
        );
        let exact = bound_lines(
            &Evaluation {
                estimate: None,
                ..e
            },
            50,
        );
        assert!(exact[0].contains("(exact: all 50 timesteps per item; n = 300"));
    }
}
