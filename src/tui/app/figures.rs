//! An evaluation as the workbench words it: one line under the samples (and in the
//! message line when it arrives), and what the bound under the inspector's terms was
//! computed on. Every figure of the record that the workbench shows is worded here.

use crate::eval::Evaluation;

/// The figures on one line: the bound (with the item count and seed it was computed on),
/// then the quality figures that apply.
pub fn summary(e: &Evaluation) -> String {
    let mut s = format!("bound {:.3} ± {:.3} {}", e.bound, e.bound_se, e.unit.name());
    match (e.items, e.seed) {
        (Some(n), Some(seed)) => s.push_str(&format!(" (n={n}, seed {seed})")),
        _ => s.push_str(&format!(
            " (step {}, from the run log: n and seed not recorded)",
            e.step
        )),
    }
    if let (Some(sw1), Some(noise)) = (e.sliced_w1, e.sliced_w1_noise) {
        s.push_str(&format!(" · SW/noise {:.2}", sw1 / noise));
    }
    if let Some(far) = e.far.filter(|&f| f > 0) {
        s.push_str(&format!(
            " · {far} of {} samples far out",
            e.samples.unwrap_or(0)
        ));
    }
    if e.mmd2().is_some_and(|m| !m.resolved()) {
        s.push_str(" · MMD below resolution");
    }
    if let Some(frechet) = e.frechet {
        s.push_str(&format!(" · Fréchet {frechet:.1}"));
        if let Some(noise) = e.frechet_noise {
            s.push_str(&format!(" (noise {noise:.0})"));
        }
    }
    if let (Some(present), Some(classes)) = (e.classes_present, e.classes) {
        s.push_str(&format!(" · {present}/{classes} classes"));
    }
    if let (Some(agreement), Some(w)) = (e.agreement, e.guidance) {
        s.push_str(&format!(" · {:.0}% as asked (w {w})", 100.0 * agreement));
    }
    s
}

/// What the bound was computed on, or that the run log did not say.
pub fn sample_size(e: &Evaluation) -> String {
    let how = match e.estimate {
        None => "exact".to_string(),
        Some(k) => format!("estimated from {k} t per item"),
    };
    match (e.items, e.seed) {
        (Some(n), Some(seed)) => format!("n={n} held-out · seed {seed} · {how} · ± 1 s.e."),
        (Some(n), None) => format!("n={n} held-out · {how} · ± 1 s.e."),
        _ => "± 1 s.e. · n, seed not in the run log".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Unit;

    #[test]
    fn a_guided_evaluation_gives_its_class_agreement() {
        let e = Evaluation {
            bound: 3.0,
            frechet: Some(9.0),
            agreement: Some(0.994),
            guidance: Some(3.0),
            ..Evaluation::default()
        };
        assert!(
            summary(&e).ends_with(" · Fréchet 9.0 · 99% as asked (w 3)"),
            "{}",
            summary(&e)
        );
    }

    #[test]
    fn the_summary_gives_the_figures_that_apply() {
        let bound = Evaluation {
            step: 500,
            bound: 0.41,
            bound_se: 0.03,
            items: Some(1000),
            seed: Some(0),
            ..Evaluation::default()
        };
        let points = Evaluation {
            sliced_w1: Some(0.25),
            sliced_w1_noise: Some(1.0),
            samples: Some(2000),
            far: Some(3),
            mmd2: Some(1e-6),
            mmd2_se: Some(1e-5),
            ..bound.clone()
        };
        assert_eq!(
            summary(&points),
            "bound 0.410 ± 0.030 nats/dim (n=1000, seed 0) · SW/noise 0.25 · 3 of 2000 \
             samples far out · MMD below resolution"
        );
        let images = Evaluation {
            unit: Unit::BitsPerDim,
            frechet: Some(12.34),
            frechet_noise: Some(300.2),
            classes_present: Some(9),
            classes: Some(10),
            ..bound.clone()
        };
        assert_eq!(
            summary(&images),
            "bound 0.410 ± 0.030 bits/dim (n=1000, seed 0) · Fréchet 12.3 (noise 300) · 9/10 \
             classes"
        );
        assert_eq!(
            sample_size(&bound),
            "n=1000 held-out · seed 0 · exact · ± 1 s.e."
        );
        // a row of a log that did not record what the bound was computed on
        let old = Evaluation {
            items: None,
            seed: None,
            ..images
        };
        assert_eq!(
            summary(&old),
            "bound 0.410 ± 0.030 bits/dim (step 500, from the run log: n and seed not \
             recorded) · Fréchet 12.3 (noise 300) · 9/10 classes"
        );
        assert_eq!(sample_size(&old), "± 1 s.e. · n, seed not in the run log");
    }
}
