//! What an evaluation of a model found: one record, which the worker sends, the run log
//! keeps as a row of `evals.csv` (its fields are the file's columns, in order) and the
//! front ends word as they see fit. A figure that does not apply to the data, or that an
//! older log did not record, is `None`. Columns are only ever appended, so that a log
//! written before one was added still reads.

use super::image_quality::ImageQuality;
use super::likelihood::{BoundReport, Unit};
use super::mmd::Mmd2;
use super::quality::PointQuality;
use crate::diffusion::SamplerKind;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// An evaluation of a model's weights: the variational bound on held-out items, split into
/// its terms, and sample-quality figures (sliced W1 and MMD for point data, the Fréchet
/// distance and class histogram for labelled images). Terms of the bound are in `unit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Training step of the weights evaluated.
    pub step: u64,
    /// Unix time in seconds when it was made (see [`wall_clock`]).
    #[serde(with = "cell::num")]
    pub wall_time: f64,
    /// EMA weights (`ema` in the log) rather than the raw ones (`raw`).
    #[serde(rename = "weights", with = "cell::weights")]
    pub ema: bool,
    pub unit: Unit,
    /// The variational bound, `prior + diffusion + decoder`, with its standard error
    /// across items.
    #[serde(with = "cell::num")]
    pub bound: f64,
    #[serde(with = "cell::num")]
    pub bound_se: f64,
    /// The prior term L_T.
    #[serde(with = "cell::num")]
    pub prior: f64,
    /// The sum of the KL terms L_1 … L_{T−1}.
    #[serde(with = "cell::num")]
    pub diffusion: f64,
    /// The decoder L_0.
    #[serde(with = "cell::num")]
    pub decoder: f64,
    /// Sliced Wasserstein-1 distance between samples and fresh data points.
    #[serde(default, with = "cell::opt")]
    pub sliced_w1: Option<f64>,
    /// MMD between samples and fresh data points; None as well when the sample size
    /// cannot tell it from zero (then [`Evaluation::mmd2`] says how small it is).
    #[serde(default, with = "cell::opt")]
    pub mmd: Option<f64>,
    /// Fréchet distance between samples and held-out images in the classifier's features.
    #[serde(default, with = "cell::opt")]
    pub frechet: Option<f64>,
    /// Classes that at least one sample was assigned to, of `classes`.
    pub classes_present: Option<u32>,
    pub classes: Option<u32>,
    /// Held-out items the bound was computed on, and the seed of those items, the bound's
    /// noise and the samples.
    #[serde(default)]
    pub items: Option<usize>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// Timesteps drawn per item for a Monte-Carlo estimate of the bound; None: exact (all
    /// timesteps), when `items` is recorded.
    #[serde(default)]
    pub estimate: Option<usize>,
    /// Standard errors of the bound's split.
    #[serde(default, with = "cell::opt")]
    pub prior_se: Option<f64>,
    #[serde(default, with = "cell::opt")]
    pub diffusion_se: Option<f64>,
    #[serde(default, with = "cell::opt")]
    pub decoder_se: Option<f64>,
    /// Samples drawn for the quality figures, by which sampler in how many reverse steps.
    #[serde(default)]
    pub samples: Option<usize>,
    #[serde(default, with = "cell::sampler")]
    pub sampler: Option<SamplerKind>,
    #[serde(default)]
    pub sampler_steps: Option<usize>,
    /// Sliced W1 between N(0, I) noise and the data: what the samples are measured against.
    #[serde(default, with = "cell::opt")]
    pub sliced_w1_noise: Option<f64>,
    /// MMD between N(0, I) noise and the data, same kernel.
    #[serde(default, with = "cell::opt")]
    pub mmd_noise: Option<f64>,
    /// The unbiased MMD² and its standard error.
    #[serde(default, with = "cell::opt")]
    pub mmd2: Option<f64>,
    #[serde(default, with = "cell::opt")]
    pub mmd2_se: Option<f64>,
    /// The MMD kernel's median-heuristic bandwidth h.
    #[serde(default, with = "cell::opt")]
    pub bandwidth: Option<f64>,
    /// Samples far outside the data (see [`super::quality::FAR_FACTOR`]), the data's
    /// largest distance from its mean, and the samples' (infinite if one is not finite).
    #[serde(default)]
    pub far: Option<usize>,
    #[serde(default, with = "cell::opt")]
    pub data_radius: Option<f64>,
    #[serde(default, with = "cell::opt")]
    pub sample_radius: Option<f64>,
    /// Fresh data points the samples were measured against.
    #[serde(default)]
    pub data_points: Option<usize>,
    /// Fréchet distance between two halves of the held-out data (what a perfect model
    /// scores) and between noise images and held-out data.
    #[serde(default, with = "cell::opt")]
    pub frechet_floor: Option<f64>,
    #[serde(default, with = "cell::opt")]
    pub frechet_noise: Option<f64>,
    /// Samples the classifier assigned to each class (a cell of space-separated counts).
    #[serde(default, with = "cell::counts")]
    pub class_counts: Option<Vec<u32>>,
    /// The classifier's held-out accuracy (how far its labels can be trusted), and the
    /// held-out items it was measured on (0: not known).
    #[serde(default, with = "cell::opt")]
    pub classifier_accuracy: Option<f64>,
    #[serde(default)]
    pub classifier_items: Option<usize>,
    /// A class-conditional model's classifier-free guidance scale w, and the class drawn
    /// (None with w: every class).
    #[serde(default, with = "cell::opt")]
    pub guidance: Option<f64>,
    #[serde(default)]
    pub class: Option<u16>,
    /// The share of samples the classifier assigns to their requested class.
    #[serde(default, with = "cell::opt")]
    pub agreement: Option<f64>,
    /// Samples requested of each class, and how many of those the classifier agrees with.
    #[serde(default, with = "cell::counts")]
    pub class_requested: Option<Vec<u32>>,
    #[serde(default, with = "cell::counts")]
    pub class_agreeing: Option<Vec<u32>>,
    /// The Fréchet distance of each class's samples to held-out items of that class (NaN
    /// where it could not be computed), and the mean of those computed.
    #[serde(default, with = "cell::numbers")]
    pub frechet_per_class: Option<Vec<f64>>,
    #[serde(default, with = "cell::opt")]
    pub frechet_class_mean: Option<f64>,
}

impl Evaluation {
    /// The bound of `report`, for the weights at `step` (EMA or raw) and held-out items
    /// and noise drawn with `seed`. Quality figures are added by [`Evaluation::add_points`]
    /// or [`Evaluation::add_images`].
    pub fn of_bound(step: u64, ema: bool, seed: u64, report: &BoundReport) -> Evaluation {
        let u = report.unit;
        let (total, prior, middle, decoder) = (
            report.total.scaled(u),
            report.prior.scaled(u),
            report.middle.scaled(u),
            report.decoder.scaled(u),
        );
        Evaluation {
            step,
            wall_time: wall_clock(),
            ema,
            unit: u,
            bound: total.mean,
            bound_se: total.se,
            prior: prior.mean,
            diffusion: middle.mean,
            decoder: decoder.mean,
            items: Some(report.items),
            seed: Some(seed),
            estimate: report.estimate,
            prior_se: Some(prior.se),
            diffusion_se: Some(middle.se),
            decoder_se: Some(decoder.se),
            ..Evaluation::default()
        }
    }

    /// Adds the figures of point data.
    pub fn add_points(&mut self, q: &PointQuality) {
        self.sliced_w1 = Some(q.sw1);
        self.sliced_w1_noise = Some(q.sw1_noise);
        // an MMD its sample size cannot tell from zero is not given as a figure
        self.mmd = q.mmd2.resolved().then_some(q.mmd);
        self.mmd_noise = Some(q.mmd_noise);
        self.mmd2 = Some(q.mmd2.value);
        self.mmd2_se = Some(q.mmd2.se);
        self.bandwidth = Some(q.bandwidth);
        self.far = Some(q.far);
        self.data_radius = Some(q.data_radius);
        self.sample_radius = Some(q.sample_radius);
        self.data_points = Some(q.data);
    }

    /// Adds the figures of labelled images.
    pub fn add_images(&mut self, q: &ImageQuality) {
        let counts: Vec<u32> = q
            .histogram
            .iter()
            .map(|&c| u32::try_from(c).unwrap_or(u32::MAX))
            .collect();
        self.frechet = Some(q.frechet);
        self.frechet_floor = Some(q.frechet_floor);
        self.frechet_noise = Some(q.frechet_noise);
        self.classes_present = Some(counts.iter().filter(|&&c| c > 0).count() as u32);
        self.classes = Some(counts.len() as u32);
        self.class_counts = Some(counts);
        self.classifier_accuracy = Some(q.classifier_accuracy);
        self.classifier_items = Some(q.classifier_held);
        if let Some(b) = &q.by_class {
            let counts = |v: &[usize]| v.iter().map(|&c| c as u32).collect();
            self.agreement = Some(b.agreement());
            self.class_requested = Some(counts(&b.requested));
            self.class_agreeing = Some(counts(&b.agreeing));
            self.frechet_per_class =
                Some(b.frechet.iter().map(|f| f.unwrap_or(f64::NAN)).collect());
            self.frechet_class_mean = b.frechet_mean();
        }
    }

    /// Records the guidance a conditional model was sampled with.
    pub fn set_guidance(&mut self, g: Option<&crate::diffusion::Guidance>) {
        self.guidance = g.map(|g| g.scale);
        self.class = match g.map(|g| g.class) {
            Some(crate::diffusion::ClassChoice::One(c)) => Some(c),
            _ => None,
        };
    }

    /// The unbiased MMD² with its standard error, where recorded.
    pub fn mmd2(&self) -> Option<Mmd2> {
        Some(Mmd2 {
            value: self.mmd2?,
            se: self.mmd2_se?,
        })
    }
}

/// Unix time now in seconds, to the millisecond (`wall_time` in the run log).
pub fn wall_clock() -> f64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    ms as f64 / 1000.0
}

/// How figures are written: in a text format (a CSV cell), NaN as an empty cell, which
/// reads back as NaN for a number that is always there and as None for an optional one;
/// in a binary one (postcard, between processes) as they are, bit for bit. For
/// `#[serde(with = "…")]`.
pub mod cell {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// A number that is always there.
    pub mod num {
        use super::*;

        pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
            if s.is_human_readable() && x.is_nan() {
                s.serialize_str("")
            } else {
                s.serialize_f64(*x)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            if !d.is_human_readable() {
                return f64::deserialize(d);
            }
            let s = String::deserialize(d)?;
            if s.is_empty() {
                Ok(f64::NAN)
            } else {
                s.parse().map_err(D::Error::custom)
            }
        }
    }

    /// An optional number (NaN is written as None).
    pub mod opt {
        use super::*;

        pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match x {
                Some(v) if s.is_human_readable() && v.is_nan() => s.serialize_none(),
                _ => x.serialize(s),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<f64>::deserialize(d)
        }
    }

    /// A sampler by its command-line name (`dpmpp-2m`); older files' variant names
    /// (`Ddpm`, `Ddim`) read back too.
    pub mod sampler {
        use super::*;
        use crate::diffusion::SamplerKind;

        pub fn serialize<S: Serializer>(k: &Option<SamplerKind>, s: S) -> Result<S::Ok, S::Error> {
            match k {
                Some(k) if s.is_human_readable() => s.serialize_some(k.name()),
                _ => k.serialize(s),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SamplerKind>, D::Error> {
            if !d.is_human_readable() {
                return Option::<SamplerKind>::deserialize(d);
            }
            let Some(name) = Option::<String>::deserialize(d)? else {
                return Ok(None);
            };
            if name.is_empty() {
                return Ok(None);
            }
            SamplerKind::parse(&name)
                .or_else(|| {
                    SamplerKind::ALL
                        .into_iter()
                        .find(|k| format!("{k:?}") == name)
                })
                .map(Some)
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "sampler \"{name}\": expected one of {}",
                        SamplerKind::names()
                    ))
                })
        }
    }

    /// EMA weights (true) or raw ones, as `ema` or `raw`.
    pub mod weights {
        use super::*;

        pub fn serialize<S: Serializer>(ema: &bool, s: S) -> Result<S::Ok, S::Error> {
            if s.is_human_readable() {
                s.serialize_str(if *ema { "ema" } else { "raw" })
            } else {
                s.serialize_bool(*ema)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
            if !d.is_human_readable() {
                return bool::deserialize(d);
            }
            match String::deserialize(d)?.as_str() {
                "ema" => Ok(true),
                "raw" => Ok(false),
                other => Err(D::Error::custom(format!(
                    "weights \"{other}\": expected ema or raw"
                ))),
            }
        }
    }

    /// Numbers, as one cell of space-separated values (NaN where there is none).
    pub mod numbers {
        use super::*;

        pub fn serialize<S: Serializer>(c: &Option<Vec<f64>>, s: S) -> Result<S::Ok, S::Error> {
            match c {
                Some(c) if s.is_human_readable() => {
                    let words: Vec<String> = c.iter().map(f64::to_string).collect();
                    s.serialize_some(&words.join(" "))
                }
                _ => c.serialize(s),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
            if !d.is_human_readable() {
                return Option::<Vec<f64>>::deserialize(d);
            }
            let Some(s) = Option::<String>::deserialize(d)? else {
                return Ok(None);
            };
            if s.is_empty() {
                return Ok(None);
            }
            s.split(' ')
                .map(|w| w.parse().map_err(D::Error::custom))
                .collect::<Result<Vec<f64>, _>>()
                .map(Some)
        }
    }

    /// Counts, as one cell of space-separated numbers.
    pub mod counts {
        use super::*;

        pub fn serialize<S: Serializer>(c: &Option<Vec<u32>>, s: S) -> Result<S::Ok, S::Error> {
            match c {
                Some(c) if s.is_human_readable() => {
                    let words: Vec<String> = c.iter().map(u32::to_string).collect();
                    s.serialize_some(&words.join(" "))
                }
                _ => c.serialize(s),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u32>>, D::Error> {
            if !d.is_human_readable() {
                return Option::<Vec<u32>>::deserialize(d);
            }
            let Some(s) = Option::<String>::deserialize(d)? else {
                return Ok(None);
            };
            s.split(' ')
                .map(|w| w.parse().map_err(D::Error::custom))
                .collect::<Result<Vec<u32>, _>>()
                .map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Evaluation {
        Evaluation {
            step: 1200,
            wall_time: 1_700_000_000.25,
            ema: true,
            unit: Unit::BitsPerDim,
            bound: 3.5,
            bound_se: f64::NAN,
            prior: 1e-30,
            diffusion: 3.25,
            decoder: 0.25,
            frechet: Some(f64::INFINITY),
            classes_present: Some(2),
            classes: Some(3),
            items: Some(32),
            seed: Some(7),
            estimate: Some(4),
            sampler: Some(SamplerKind::Ddim),
            sampler_steps: Some(100),
            mmd2: Some(f64::NAN),
            class_counts: Some(vec![5, 0, 59]),
            ..Evaluation::default()
        }
    }

    #[test]
    fn postcard_keeps_every_figure_bit_for_bit() {
        let e = full();
        let bytes = postcard::to_stdvec(&e).unwrap();
        let back: Evaluation = postcard::from_bytes(&bytes).unwrap();
        assert!(back.bound_se.is_nan() && back.mmd2.is_some_and(f64::is_nan));
        let same = |x: &Evaluation| Evaluation {
            bound_se: 0.0,
            mmd2: None,
            ..x.clone()
        };
        assert_eq!(same(&back), same(&e));
    }

    #[test]
    fn units_are_written_by_name() {
        for u in [Unit::NatsPerDim, Unit::BitsPerDim] {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            w.serialize([u]).unwrap();
            let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
            assert_eq!(text, format!("{}\n", u.name()));
        }
    }

    /// evals.csv names the sampler as the command line does, and reads older files' variant
    /// names back.
    #[test]
    fn samplers_are_written_by_their_command_line_name() {
        let e = Evaluation {
            sampler: Some(SamplerKind::Dpmpp2mSde),
            ..full()
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(&e).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert!(text.contains(",dpmpp-2m-sde,"), "{text}");
        let back: Evaluation = csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(back.sampler, Some(SamplerKind::Dpmpp2mSde));
        let old = text.replace(",dpmpp-2m-sde,", ",Ddpm,");
        let back: Evaluation = csv::Reader::from_reader(old.as_bytes())
            .deserialize()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(back.sampler, Some(SamplerKind::Ddpm));
        let bad = text.replace(",dpmpp-2m-sde,", ",lms,");
        let err = csv::Reader::from_reader(bad.as_bytes())
            .deserialize::<Evaluation>()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("sampler \"lms\""), "{err}");
    }
}
