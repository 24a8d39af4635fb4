//! On-demand evaluation for the workbench, run on the worker: the exact variational bound
//! with its per-timestep terms on a few held-out items, and the sample-quality figures.
//! The result is plain data ([`Evaluation`]).

use super::protocol::Evaluation;
use super::trainer::{Trainer, Weights};
use crate::data::{ItemKind, Split};
use crate::diffusion::bound::Decoder;
use crate::eval::image_quality::image_quality;
use crate::eval::{evaluate_bound, point_quality, BoundOptions, Unit};
use crate::util::{one_line, tensor_values};

/// Held-out items for the bound: few enough that all T timesteps take seconds.
const POINTS: usize = 256;
const IMAGES: usize = 32;
/// Samples for the quality figures.
const POINT_SAMPLES: usize = 1000;
const IMAGE_SAMPLES: usize = 64;

pub fn evaluate(
    tr: &Trainer,
    id: u64,
    weights: Weights,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Evaluation, String> {
    let seed = tr.preset.train.seed;
    let source = tr.preset.data.source();
    let image = tr.item_shape.len() == 3;
    let n = if image { IMAGES } else { POINTS };
    let held = source
        .load(seed, Split::Held(n))
        .map_err(|e| format!("held-out data: {}", one_line(&e)))?;
    let decoder = if held.kind == ItemKind::Image {
        Decoder::Discretized
    } else {
        Decoder::Gaussian
    };
    let x0 = held.head(held.len(), tr.device);
    tch::manual_seed(seed as i64 ^ 0xB0D);
    let model = tr.model(weights);
    let report = evaluate_bound(
        &tr.diffusion,
        &mut |x, t| model.forward_t(x, t, false),
        &x0,
        &BoundOptions {
            batch: held.len(),
            estimate: None,
            decoder,
        },
        progress,
    )
    .map_err(|e| e.to_string())?;
    let unit = report.unit;
    let total = report.total.scaled(unit);
    let mut lines = vec![format!(
        "bound {:.4} ± {:.4} {} on {} held-out items: L_T {:.4}, Σ KL {:.4}, L_0 {:.4}",
        total.mean,
        total.se,
        unit.name(),
        report.items,
        report.prior.scaled(unit).mean,
        report.middle.scaled(unit).mean,
        report.decoder.scaled(unit).mean,
    )];

    let mut opts = tr.sample_options();
    opts.steps = opts.steps.min(100);
    let mut summary = format!("bound {:.3} {}", total.mean, unit.name());
    let labelled = tr.preset.data.class_names().is_some();
    if !image {
        let x = tr.sample(
            POINT_SAMPLES,
            &opts,
            weights,
            seed ^ 0xE7A1,
            None,
            &mut |_, _| {},
        );
        let values = tensor_values(&x).map_err(|e| format!("samples: {}", one_line(&e)))?;
        let fresh = source
            .load(seed.wrapping_add(1), Split::Held(POINT_SAMPLES))
            .map_err(|e| format!("held-out data: {}", one_line(&e)))?;
        let q = point_quality(&values, &fresh.values, held.item_len(), seed);
        lines.push(format!(
            "{POINT_SAMPLES} samples: sliced W1 {:.4} (ratio to noise {:.3}), MMD {:.4} (ratio {:.3})",
            q.sw1,
            q.sw1_ratio(),
            q.mmd,
            q.mmd_ratio()
        ));
        summary.push_str(&format!(" · SW/noise {:.2}", q.sw1_ratio()));
    } else if labelled {
        let x = tr.sample(
            IMAGE_SAMPLES,
            &opts,
            weights,
            seed ^ 0xE7A1,
            None,
            &mut |_, _| {},
        );
        let q = image_quality(&x, &tr.preset.data, seed, tr.device, &mut |_| {})
            .map_err(|e| one_line(&e))?;
        lines.extend(q.report());
        summary.push_str(&format!(
            " · Fréchet {:.1} (noise {:.0}) · {}/{} classes",
            q.frechet,
            q.frechet_noise,
            q.histogram.iter().filter(|&&c| c > 0).count(),
            q.histogram.len()
        ));
    }
    Ok(Evaluation {
        id,
        step: tr.step,
        ema: weights == Weights::Ema,
        unit: unit.name().to_string(),
        bits: unit == Unit::BitsPerDim,
        total: total.mean,
        total_se: total.se,
        per_t: report
            .per_t
            .iter()
            .map(|v| v.map_or(f64::NAN, |v| unit.from_nats(v)))
            .collect(),
        summary,
        lines,
    })
}
