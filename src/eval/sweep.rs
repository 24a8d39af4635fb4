//! Sample quality against network evaluations: a sweep samples with each sampler at each
//! step count, from the same seed (so every point starts from the same x_T), times each
//! draw and measures it with the figures `eval` computes (Fréchet distance for labelled
//! images; sliced W1 and MMD² for points), against one reference computed once per sweep.
//!
//! A sweep is given as specs `SAMPLER[+karras][+eta=X][+SPACING]:N,N,…`, e.g.
//! `dpmpp-2m:5,10,20`, `euler+karras:10,20`, `ddim+eta=0.5:10,50` or
//! `dpmpp-2m+leading:5,10` (SPACING: leading, linspace or trailing).

use super::evaluate::{measure_timed, QualityError, Reference};
use crate::data::DataConfig;
use crate::diffusion::{SampleOptionError, SampleOptions, SamplerKind, Spacing};
use crate::train::{Trainer, Weights};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One spec of a sweep: a sampler (with its Karras spacing and η) at several step counts.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The spec as given.
    pub text: String,
    pub sampler: SamplerKind,
    pub karras: bool,
    pub eta: f64,
    /// The timestep spacing (None: the sampler's own).
    pub spacing: Option<Spacing>,
    pub steps: Vec<usize>,
}

impl SweepSpec {
    /// The sampler's label in tables, charts and CSV: "dpmpp-2m", "euler+karras",
    /// "ddim+eta=0.5".
    pub fn label(&self) -> String {
        let mut s = self.sampler.name().to_string();
        if self.karras {
            s.push_str("+karras");
        }
        if self.eta != 0.0 {
            let _ = write!(s, "+eta={}", self.eta);
        }
        if let Some(spacing) = self.spacing {
            let _ = write!(s, "+{spacing}");
        }
        s
    }

    /// The sampling options of one of its points, on the base options `base` (the
    /// checkpoint's clipping).
    pub fn options(&self, steps: usize, base: &SampleOptions) -> SampleOptions {
        SampleOptions {
            sampler: self.sampler,
            steps,
            eta: self.eta,
            karras: self.karras,
            spacing: self.spacing,
            variance: base.variance,
            clip_x0: base.clip_x0,
            guidance: base.guidance,
        }
    }
}

/// A sweep spec that cannot be run. The text names the problem; front ends name the spec
/// (`--sweep SPEC: …`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SweepError {
    #[error("expected SAMPLER:N,N,… (e.g. dpmpp-2m:5,10,20)")]
    Form,
    #[error("unknown sampler {name:?} (expected one of {})", SamplerKind::names())]
    Sampler { name: String },
    #[error(
        "unknown marker {0:?} after the sampler (expected +karras, +eta=X, +leading, \
         +linspace or +trailing)"
    )]
    Marker(String),
    #[error("η {0:?} is not a number")]
    EtaNumber(String),
    #[error("step count {0:?} is not a whole number")]
    Steps(String),
    #[error("no step counts after the colon")]
    NoSteps,
    #[error("{0}")]
    Option(#[from] SampleOptionError),
    #[error("no sweep given")]
    Empty,
}

/// A spec's text with its problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{spec}: {error}")]
pub struct SpecError {
    pub spec: String,
    #[source]
    pub error: SweepError,
}

/// Parses one spec; its options are checked against T with [`check`].
pub fn parse_spec(text: &str) -> Result<SweepSpec, SpecError> {
    let fail = |error| SpecError {
        spec: text.to_string(),
        error,
    };
    let (head, counts) = text.split_once(':').ok_or_else(|| fail(SweepError::Form))?;
    let mut parts = head.trim().split('+');
    let name = parts.next().unwrap_or("").trim();
    if name.is_empty() {
        return Err(fail(SweepError::Form));
    }
    let sampler = SamplerKind::parse(name).ok_or_else(|| {
        fail(SweepError::Sampler {
            name: name.to_string(),
        })
    })?;
    let (mut karras, mut eta, mut spacing) = (false, 0.0, None);
    for marker in parts {
        let marker = marker.trim();
        if marker == "karras" {
            karras = true;
        } else if let Some(s) = Spacing::parse(marker) {
            spacing = Some(s);
        } else if let Some(v) = marker.strip_prefix("eta=") {
            eta = v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|e| e.is_finite())
                .ok_or_else(|| fail(SweepError::EtaNumber(v.to_string())))?;
        } else {
            return Err(fail(SweepError::Marker(marker.to_string())));
        }
    }
    let mut steps = Vec::new();
    for c in counts.split(',') {
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        let n = c
            .parse::<usize>()
            .map_err(|_| fail(SweepError::Steps(c.to_string())))?;
        if !steps.contains(&n) {
            steps.push(n);
        }
    }
    if steps.is_empty() {
        return Err(fail(SweepError::NoSteps));
    }
    steps.sort_unstable();
    Ok(SweepSpec {
        text: text.to_string(),
        sampler,
        karras,
        eta,
        spacing,
        steps,
    })
}

/// Parses the specs and checks every point against a model of T = `t` steps: 0 steps,
/// steps above T, Karras spacing for a sampler without it and η for a sampler that takes
/// none are errors naming the spec.
pub fn parse_specs<S: AsRef<str>>(texts: &[S], t: usize) -> Result<Vec<SweepSpec>, SpecError> {
    if texts.is_empty() {
        return Err(SpecError {
            spec: String::new(),
            error: SweepError::Empty,
        });
    }
    let specs = texts
        .iter()
        .map(|s| parse_spec(s.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    for spec in &specs {
        check(spec, t)?;
    }
    Ok(specs)
}

/// Checks each of a spec's points against a model of T = `t` steps.
pub fn check(spec: &SweepSpec, t: usize) -> Result<(), SpecError> {
    for &steps in &spec.steps {
        spec.options(steps, &SampleOptions::default())
            .check(t)
            .map_err(|e| SpecError {
                spec: spec.text.clone(),
                error: e.into(),
            })?;
    }
    Ok(())
}

/// The figure a sweep is charted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Figure {
    /// Fréchet distance in classifier features (labelled images).
    Frechet,
    /// Sliced Wasserstein-1 distance (points).
    SlicedW1,
}

impl Figure {
    /// The axis label.
    pub fn label(self) -> &'static str {
        match self {
            Figure::Frechet => "frechet distance",
            Figure::SlicedW1 => "sliced w1",
        }
    }
}

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// The spec's label ([`SweepSpec::label`]).
    pub label: String,
    pub sampler: SamplerKind,
    pub steps: usize,
    /// Network evaluations.
    pub nfe: usize,
    /// Seconds spent drawing the samples (not measuring them).
    pub seconds: f64,
    pub frechet: Option<f64>,
    pub sliced_w1: Option<f64>,
    pub mmd2: Option<f64>,
    pub mmd2_se: Option<f64>,
}

impl SweepRow {
    pub fn figure(&self, f: Figure) -> Option<f64> {
        match f {
            Figure::Frechet => self.frechet,
            Figure::SlicedW1 => self.sliced_w1,
        }
    }
}

/// A finished sweep: its rows in the order run, and the reference figures shared by all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub rows: Vec<SweepRow>,
    pub figure: Figure,
    pub samples: usize,
    pub seed: u64,
    /// Images: the Fréchet distance of held-out data against itself, and of noise.
    pub frechet_floor: Option<f64>,
    pub frechet_noise: Option<f64>,
    /// Points: the sliced W1 of N(0, I) noise.
    pub sliced_w1_noise: Option<f64>,
}

/// Where a sweep stands, for the front ends' progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepProgress {
    /// The point being drawn (0-based) of `points`.
    pub point: usize,
    pub points: usize,
    /// The reverse step done of `of` in this point.
    pub step: usize,
    pub of: usize,
}

/// The number of points of `specs`.
pub fn points(specs: &[SweepSpec]) -> usize {
    specs.iter().map(|s| s.steps.len()).sum()
}

/// Runs the sweep: `samples` samples per point with `weights`, all drawn with `seed`,
/// measured against `data` (the model's own data set, or the same read from elsewhere).
/// `log` receives lines such as the classifier's training.
#[allow(clippy::too_many_arguments)]
pub fn run(
    tr: &Trainer,
    data: &DataConfig,
    specs: &[SweepSpec],
    samples: usize,
    weights: Weights,
    seed: u64,
    progress: &mut dyn FnMut(SweepProgress),
    log: &mut dyn FnMut(&str),
) -> Result<Sweep, QualityError> {
    let reference = Reference::new(tr, data, samples, seed, log)?;
    let figure = match reference {
        Reference::Images(_) => Figure::Frechet,
        Reference::Points(_) => Figure::SlicedW1,
    };
    let base = tr.sample_options();
    let total = points(specs);
    let mut sweep = Sweep {
        rows: Vec::with_capacity(total),
        figure,
        samples,
        seed,
        frechet_floor: None,
        frechet_noise: None,
        sliced_w1_noise: None,
    };
    for spec in specs {
        for &steps in &spec.steps {
            let opts = spec.options(steps, &base);
            let point = sweep.rows.len();
            let (e, seconds) = measure_timed(
                tr,
                &reference,
                samples,
                &opts,
                weights,
                seed,
                &mut |step, of| {
                    progress(SweepProgress {
                        point,
                        points: total,
                        step,
                        of,
                    })
                },
            )?;
            sweep.frechet_floor = sweep.frechet_floor.or(e.frechet_floor);
            sweep.frechet_noise = sweep.frechet_noise.or(e.frechet_noise);
            sweep.sliced_w1_noise = sweep.sliced_w1_noise.or(e.sliced_w1_noise);
            sweep.rows.push(SweepRow {
                label: spec.label(),
                sampler: spec.sampler,
                steps,
                nfe: spec.sampler.evaluations(steps),
                seconds,
                frechet: e.frechet,
                sliced_w1: e.sliced_w1,
                mmd2: e.mmd2,
                mmd2_se: e.mmd2_se,
            });
        }
    }
    Ok(sweep)
}

impl Sweep {
    /// The sweep as CSV: `sampler,steps,nfe,seconds,` then `frechet` (images) or
    /// `sliced_w1,mmd2,mmd2_se` (points).
    pub fn csv(&self) -> String {
        let mut s = String::from("sampler,steps,nfe,seconds,");
        s.push_str(match self.figure {
            Figure::Frechet => "frechet\n",
            Figure::SlicedW1 => "sliced_w1,mmd2,mmd2_se\n",
        });
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        for r in &self.rows {
            let _ = write!(s, "{},{},{},{:.3},", r.label, r.steps, r.nfe, r.seconds);
            match self.figure {
                Figure::Frechet => {
                    let _ = writeln!(s, "{}", f(r.frechet));
                }
                Figure::SlicedW1 => {
                    let _ = writeln!(s, "{},{},{}", f(r.sliced_w1), f(r.mmd2), f(r.mmd2_se));
                }
            }
        }
        s
    }

    /// The sweep as a printed table.
    pub fn table(&self) -> Vec<String> {
        let width = self
            .rows
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(0)
            .max("sampler".len());
        let mut lines = vec![match self.figure {
            Figure::Frechet => format!(
                "{:<width$}  {:>5}  {:>5}  {:>8}  {:>8}",
                "sampler", "steps", "NFE", "seconds", "Fréchet"
            ),
            Figure::SlicedW1 => format!(
                "{:<width$}  {:>5}  {:>5}  {:>8}  {:>9}  {:>18}",
                "sampler", "steps", "NFE", "seconds", "sliced W1", "MMD² ± se"
            ),
        }];
        for r in &self.rows {
            let head = format!(
                "{:<width$}  {:>5}  {:>5}  {:>8.2}",
                r.label, r.steps, r.nfe, r.seconds
            );
            let nan = f64::NAN;
            lines.push(match self.figure {
                Figure::Frechet => format!("{head}  {:>8.3}", r.frechet.unwrap_or(nan)),
                Figure::SlicedW1 => format!(
                    "{head}  {:>9.4}  {:>18}",
                    r.sliced_w1.unwrap_or(nan),
                    format!(
                        "{:.5} ± {:.5}",
                        r.mmd2.unwrap_or(nan),
                        r.mmd2_se.unwrap_or(nan)
                    )
                ),
            });
        }
        lines
    }

    /// The chart's lines: one per sampler label, (NFE, figure) in the order run.
    pub fn series(&self) -> Vec<(String, Vec<(f64, f64)>)> {
        let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for r in &self.rows {
            let Some(y) = r.figure(self.figure) else {
                continue;
            };
            let p = (r.nfe as f64, y);
            match out.iter_mut().find(|(l, _)| *l == r.label) {
                Some((_, pts)) => pts.push(p),
                None => out.push((r.label.clone(), vec![p])),
            }
        }
        for (_, pts) in &mut out {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_markers_and_sorted_steps() {
        let s = parse_spec("dpmpp-2m:20,5,10").unwrap();
        assert_eq!(s.sampler, SamplerKind::Dpmpp2m);
        assert_eq!(s.steps, [5, 10, 20]);
        assert!(!s.karras && s.eta == 0.0);
        assert_eq!(s.label(), "dpmpp-2m");
        let s = parse_spec("euler+karras:10, 20").unwrap();
        assert!(s.karras);
        assert_eq!(s.steps, [10, 20]);
        assert_eq!(s.label(), "euler+karras");
        let s = parse_spec("dpmpp-2m+leading:10").unwrap();
        assert_eq!(s.spacing, Some(Spacing::Leading));
        assert_eq!(s.label(), "dpmpp-2m+leading");
        assert_eq!(
            s.options(10, &SampleOptions::default()).spacing,
            Some(Spacing::Leading)
        );
        let s = parse_spec("ddim+eta=0.5:10,10,50").unwrap();
        assert_eq!((s.eta, s.steps.clone()), (0.5, vec![10, 50]));
        assert_eq!(s.label(), "ddim+eta=0.5");
        let s = parse_spec("heun:5").unwrap();
        assert_eq!(s.sampler.evaluations(5), 9);
    }

    fn error(specs: &[&str]) -> String {
        parse_specs(specs, 1000).unwrap_err().to_string()
    }

    #[test]
    fn bad_specs_are_named_with_their_problem() {
        assert_eq!(
            error(&["ddim:5", "fast:10"]),
            format!(
                "fast:10: unknown sampler \"fast\" (expected one of {})",
                SamplerKind::names()
            )
        );
        assert_eq!(
            error(&["dpmpp-2m:5,0"]),
            "dpmpp-2m:5,0: at least one reverse step is needed, got 0"
        );
        assert!(error(&["ddim:10,2000"])
            .starts_with("ddim:10,2000: 2000 steps is more than the model's T = 1000"));
        assert!(error(&["ddim+karras:10"]).starts_with("ddim+karras:10: ddim has no Karras"));
        assert!(
            error(&["dpmpp-2m+eta=0.5:10"]).starts_with("dpmpp-2m+eta=0.5:10: dpmpp-2m takes no η")
        );
        assert!(error(&["ddim+eta=2:10"]).contains("η must be in [0, 1], got 2"));
        assert!(error(&["ddim"]).starts_with("ddim: expected SAMPLER:N,N,…"));
        assert_eq!(error(&["ddim:"]), "ddim:: no step counts after the colon");
        assert_eq!(
            error(&["ddim:5,x"]),
            "ddim:5,x: step count \"x\" is not a whole number"
        );
        assert_eq!(
            error(&["ddim:-5"]),
            "ddim:-5: step count \"-5\" is not a whole number"
        );
        assert!(error(&["ddim+fast:5"]).contains("unknown marker \"fast\""));
        assert!(error(&["ddim+eta=x:5"]).contains("η \"x\" is not a number"));
        assert!(error(&[":5"]).contains("expected SAMPLER:N,N,…"));
        for specs in [&["x:1"][..], &["ddim:0"], &["ddim+karras:5"]] {
            assert!(!error(specs).contains('\n'));
        }
    }

    fn row(label: &str, nfe: usize, frechet: f64) -> SweepRow {
        SweepRow {
            label: label.into(),
            sampler: SamplerKind::parse(label).unwrap_or_default(),
            steps: nfe,
            nfe,
            seconds: 0.5,
            frechet: Some(frechet),
            sliced_w1: None,
            mmd2: None,
            mmd2_se: None,
        }
    }

    #[test]
    fn series_group_rows_by_sampler_in_nfe_order_and_csv_has_a_row_each() {
        let sweep = Sweep {
            rows: vec![
                row("ddim", 20, 3.0),
                row("ddim", 5, 9.0),
                row("dpmpp-2m", 5, 4.0),
            ],
            figure: Figure::Frechet,
            samples: 64,
            seed: 0,
            frechet_floor: Some(0.1),
            frechet_noise: Some(100.0),
            sliced_w1_noise: None,
        };
        let s = sweep.series();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], ("ddim".to_string(), vec![(5.0, 9.0), (20.0, 3.0)]));
        assert_eq!(s[1].1, vec![(5.0, 4.0)]);
        let csv = sweep.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "sampler,steps,nfe,seconds,frechet");
        assert_eq!(lines[1], "ddim,20,20,0.500,3");
        assert_eq!(lines.len(), 4);
        let table = sweep.table();
        assert_eq!(table.len(), 4);
        assert!(table[0].contains("NFE") && table[0].contains("Fréchet"));
    }
}
