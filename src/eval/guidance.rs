//! A sweep over the classifier-free guidance scale w of a class-conditional model: at each
//! w, the same x_T sampled of the same classes, measured by the class agreement (the share
//! of samples the feature classifier assigns to the class asked for) and the Fréchet
//! distance, overall and per class. Agreement rises with w; the per-class Fréchet distance
//! shows the diversity lost at large w.

use super::evaluate::{measure_timed, QualityError, Reference};
use crate::data::DataConfig;
use crate::diffusion::{ClassChoice, Guidance, SampleOptions};
use crate::render::chart::{self, ChartStyle, Legend};
use crate::render::side_by_side;
use crate::train::{Trainer, Weights};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// A list of guidance scales that cannot be swept; the front end names the flag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScalesError {
    #[error("expected guidance scales separated by commas, e.g. 0,1,2,3,5")]
    Form,
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("the guidance scale w must be a number ≥ 0, got {0}")]
    Negative(f64),
}

/// Parses `0,1,2,3,5`: the scales, sorted, each once.
pub fn parse_scales(text: &str) -> Result<Vec<f64>, ScalesError> {
    if text.trim().is_empty() {
        return Err(ScalesError::Form);
    }
    let mut out = Vec::new();
    for word in text.split(',') {
        let word = word.trim();
        if word.is_empty() {
            return Err(ScalesError::Form);
        }
        let w: f64 = word
            .parse()
            .map_err(|_| ScalesError::NotANumber(word.to_string()))?;
        if !(w >= 0.0 && w.is_finite()) {
            return Err(ScalesError::Negative(w));
        }
        out.push(w);
    }
    out.sort_by(f64::total_cmp);
    out.dedup();
    Ok(out)
}

/// One w of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidanceRow {
    pub scale: f64,
    /// The share of samples assigned to their requested class.
    pub agreement: f64,
    /// The same per class (None where none was requested).
    pub agreement_per_class: Vec<Option<f64>>,
    /// Fréchet distance of all samples against held-out data.
    pub frechet: f64,
    /// Per class, against held-out items of that class, and their mean.
    pub frechet_per_class: Vec<Option<f64>>,
    pub frechet_class_mean: Option<f64>,
    /// Seconds spent drawing the samples.
    pub seconds: f64,
}

/// A finished guidance sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidanceSweep {
    pub rows: Vec<GuidanceRow>,
    pub samples: usize,
    pub seed: u64,
    pub class: ClassChoice,
    pub class_names: Vec<String>,
    pub frechet_floor: Option<f64>,
    pub frechet_noise: Option<f64>,
}

/// Runs the sweep: `samples` samples at each of `scales` with the sampling options `base`
/// (their classes; every class when they have none), all from seed `seed`, measured
/// against `data`. `progress` gets (point, points, step, of).
#[allow(clippy::too_many_arguments)]
pub fn run(
    tr: &Trainer,
    data: &DataConfig,
    scales: &[f64],
    base: &SampleOptions,
    samples: usize,
    weights: Weights,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize, usize, usize),
    log: &mut dyn FnMut(&str),
) -> Result<GuidanceSweep, QualityError> {
    let class = base.guidance.map(|g| g.class).unwrap_or_default();
    // an unconditional model is refused before any reference is built
    tr.guidance(&SampleOptions {
        guidance: Some(Guidance { scale: 1.0, class }),
        ..base.clone()
    })?;
    let reference = Reference::new(tr, data, samples, seed, log)?;
    let mut sweep = GuidanceSweep {
        rows: Vec::with_capacity(scales.len()),
        samples,
        seed,
        class,
        class_names: data
            .class_names()
            .ok_or(QualityError::Eval(super::EvalError::Unlabelled))?,
        frechet_floor: None,
        frechet_noise: None,
    };
    for (point, &scale) in scales.iter().enumerate() {
        let opts = SampleOptions {
            guidance: Some(Guidance { scale, class }),
            ..base.clone()
        };
        let (e, seconds) = measure_timed(
            tr,
            &reference,
            samples,
            &opts,
            weights,
            seed,
            &mut |step, of| progress(point, scales.len(), step, of),
        )?;
        sweep.frechet_floor = sweep.frechet_floor.or(e.frechet_floor);
        sweep.frechet_noise = sweep.frechet_noise.or(e.frechet_noise);
        let per_class = |requested: &Option<Vec<u32>>, agreeing: &Option<Vec<u32>>| {
            let (Some(r), Some(a)) = (requested, agreeing) else {
                return Vec::new();
            };
            r.iter()
                .zip(a)
                .map(|(&r, &a)| (r > 0).then(|| a as f64 / r as f64))
                .collect()
        };
        sweep.rows.push(GuidanceRow {
            scale,
            agreement: e.agreement.unwrap_or(f64::NAN),
            agreement_per_class: per_class(&e.class_requested, &e.class_agreeing),
            frechet: e.frechet.unwrap_or(f64::NAN),
            frechet_per_class: e
                .frechet_per_class
                .unwrap_or_default()
                .into_iter()
                .map(|f| (!f.is_nan()).then_some(f))
                .collect(),
            frechet_class_mean: e.frechet_class_mean,
            seconds,
        });
    }
    Ok(sweep)
}

impl GuidanceSweep {
    fn classes(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.agreement_per_class.len())
            .max()
            .unwrap_or(0)
    }

    fn class_name(&self, c: usize) -> String {
        self.class_names
            .get(c)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    }

    /// The sweep as CSV: `w,seconds,agreement,frechet,frechet_class_mean`, then
    /// `agreement_C` and `frechet_C` for each class C.
    pub fn csv(&self) -> String {
        let k = self.classes();
        let mut s = String::from("w,seconds,agreement,frechet,frechet_class_mean");
        for c in 0..k {
            let _ = write!(s, ",agreement_{c}");
        }
        for c in 0..k {
            let _ = write!(s, ",frechet_{c}");
        }
        s.push('\n');
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        for r in &self.rows {
            let _ = write!(
                s,
                "{},{:.3},{},{},{}",
                r.scale,
                r.seconds,
                r.agreement,
                r.frechet,
                f(r.frechet_class_mean)
            );
            for c in 0..k {
                let _ = write!(s, ",{}", f(r.agreement_per_class.get(c).copied().flatten()));
            }
            for c in 0..k {
                let _ = write!(s, ",{}", f(r.frechet_per_class.get(c).copied().flatten()));
            }
            s.push('\n');
        }
        s
    }

    /// The sweep as a printed table: a row per w with its agreement and Fréchet
    /// distances, then the agreement of each class.
    pub fn table(&self) -> Vec<String> {
        let pct = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{:.0}%", 100.0 * v));
        let num = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.2}"));
        let mut lines = vec![format!(
            "{:>6}  {:>8}  {:>9}  {:>8}  {:>18}",
            "w", "seconds", "agreement", "Fréchet", "Fréchet per class"
        )];
        for r in &self.rows {
            lines.push(format!(
                "{:>6}  {:>8.2}  {:>9}  {:>8.3}  {:>18}",
                r.scale,
                r.seconds,
                format!("{:.1}%", 100.0 * r.agreement),
                r.frechet,
                num(r.frechet_class_mean),
            ));
        }
        let k = self.classes();
        if k > 0 {
            lines.push("agreement per class:".to_string());
            let mut head = format!("{:>6}", "w");
            for c in 0..k {
                let _ = write!(head, " {:>5}", self.class_name(c));
            }
            lines.push(head);
            for r in &self.rows {
                let mut line = format!("{:>6}", r.scale);
                for c in 0..k {
                    let _ = write!(
                        line,
                        " {:>5}",
                        pct(r.agreement_per_class.get(c).copied().flatten())
                    );
                }
                lines.push(line);
            }
        }
        lines
    }

    /// The chart: class agreement against w beside the Fréchet distances against w.
    pub fn chart(&self, title: &str) -> RgbImage {
        let style = |legend, y_top| ChartStyle {
            width: 640,
            height: 480,
            linear_x: true,
            legend,
            y_top,
            ..Default::default()
        };
        let series = |f: &dyn Fn(&GuidanceRow) -> Option<f64>| -> Vec<(f64, f64)> {
            self.rows
                .iter()
                .filter_map(|r| f(r).map(|y| (r.scale, y)))
                .collect()
        };
        let agreement = chart::line_chart(
            &[(
                "agreement".to_string(),
                series(&|r| Some(100.0 * r.agreement)),
            )],
            "guidance scale w",
            "class agreement %",
            title,
            &style(Legend::BottomRight, Some(100.0)),
        );
        let frechet = chart::line_chart(
            &[
                ("all samples".to_string(), series(&|r| Some(r.frechet))),
                (
                    "per class (mean)".to_string(),
                    series(&|r| r.frechet_class_mean),
                ),
            ],
            "guidance scale w",
            "frechet distance",
            "lower is closer to the data",
            &style(Legend::TopRight, None),
        );
        side_by_side(&[&agreement, &frechet], 0, 0, [18, 20, 26])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_parse_sorted_and_once() {
        assert_eq!(parse_scales("3,0,1,3,5").unwrap(), [0.0, 1.0, 3.0, 5.0]);
        assert_eq!(parse_scales("0.5").unwrap(), [0.5]);
        assert_eq!(parse_scales("1,,2"), Err(ScalesError::Form));
        assert_eq!(parse_scales(""), Err(ScalesError::Form));
        assert_eq!(
            parse_scales("1,x"),
            Err(ScalesError::NotANumber("x".into()))
        );
        assert_eq!(parse_scales("1,-2"), Err(ScalesError::Negative(-2.0)));
    }

    fn sweep() -> GuidanceSweep {
        let row = |scale: f64, agreement: f64| GuidanceRow {
            scale,
            agreement,
            agreement_per_class: vec![Some(agreement), None],
            frechet: 10.0 - scale,
            frechet_per_class: vec![Some(20.0 + scale), None],
            frechet_class_mean: Some(20.0 + scale),
            seconds: 1.5,
        };
        GuidanceSweep {
            rows: vec![row(0.0, 0.1), row(3.0, 0.95)],
            samples: 100,
            seed: 1,
            class: ClassChoice::All,
            class_names: vec!["a".into(), "b".into()],
            frechet_floor: Some(1.0),
            frechet_noise: Some(300.0),
        }
    }

    #[test]
    fn the_csv_has_a_column_per_figure_and_class() {
        let csv = sweep().csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "w,seconds,agreement,frechet,frechet_class_mean,agreement_0,agreement_1,frechet_0,frechet_1"
        );
        assert_eq!(lines[2], "3,1.500,0.95,7,23,0.95,,23,");
        let table = sweep().table();
        assert!(table[2].contains("95.0%"), "{table:?}");
        assert!(table.last().unwrap().ends_with("95%     —"), "{table:?}");
    }

    #[test]
    fn the_chart_draws_both_panels() {
        let img = sweep().chart("sweep");
        assert_eq!(img.width(), 1280);
        let orange = ChartStyle::default().palette[0];
        let left = img
            .enumerate_pixels()
            .filter(|(x, _, p)| *x < 640 && p.0 == orange)
            .count();
        let right = img
            .enumerate_pixels()
            .filter(|(x, _, p)| *x >= 640 && p.0 == orange)
            .count();
        assert!(left > 100 && right > 100, "{left} {right}");
    }
}
