//! Sample quality for labelled image data: the Fréchet distance in the dataset
//! classifier's features, with two reference points, and the class histogram of samples.

use super::classifier::{frechet_distance, Classifier};
use super::EvalError;
use crate::data::{DataConfig, Split};
use tch::{Device, Kind, Tensor};

#[derive(Debug, Clone, PartialEq)]
pub struct ImageQuality {
    /// Fréchet distance between the samples and held-out data.
    pub frechet: f64,
    /// The same between two halves of the held-out data: what a perfect model scores.
    pub frechet_floor: f64,
    /// The same between N(0, I) noise images (clipped to [−1, 1]) and held-out data.
    pub frechet_noise: f64,
    /// How many samples the classifier assigns to each class.
    pub histogram: Vec<usize>,
    pub class_names: Vec<String>,
    /// The classifier's held-out accuracy (how far its labels can be trusted).
    pub classifier_accuracy: f64,
    /// How many held-out items that accuracy was measured on (0: not recorded).
    pub classifier_held: usize,
    /// For samples drawn of requested classes (a class-conditional model): how far the
    /// classifier agrees, and the Fréchet distance of each class.
    pub by_class: Option<ClassFigures>,
}

/// Figures of samples drawn of requested classes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassFigures {
    /// Samples requested of each class.
    pub requested: Vec<usize>,
    /// Of those, how many the classifier assigns to the class requested.
    pub agreeing: Vec<usize>,
    /// The Fréchet distance between the samples requested of each class and held-out
    /// items of that class (None where either side has fewer than 2).
    pub frechet: Vec<Option<f64>>,
}

impl ClassFigures {
    /// The share of all samples that the classifier assigns to their requested class.
    pub fn agreement(&self) -> f64 {
        let n: usize = self.requested.iter().sum();
        self.agreeing.iter().sum::<usize>() as f64 / n.max(1) as f64
    }

    /// The same for class `c` (None where none was requested).
    pub fn agreement_of(&self, c: usize) -> Option<f64> {
        let n = *self.requested.get(c)?;
        (n > 0).then(|| self.agreeing[c] as f64 / n as f64)
    }

    /// The mean of the per-class Fréchet distances that could be computed.
    pub fn frechet_mean(&self) -> Option<f64> {
        let v: Vec<f64> = self.frechet.iter().flatten().copied().collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

impl ImageQuality {
    /// Classes that no sample was assigned to.
    pub fn missing_classes(&self) -> Vec<&str> {
        self.histogram
            .iter()
            .zip(&self.class_names)
            .filter(|(c, _)| **c == 0)
            .map(|(_, n)| n.as_str())
            .collect()
    }
}

/// What samples are measured against, computed once: the classifier, the features of
/// half of the held-out data and the Fréchet floor (held-out half against half). A sweep
/// measures many sample sets against one reference.
pub struct ImageReference {
    clf: Classifier,
    features: Tensor,
    /// The label of each row of `features`.
    labels: Vec<i64>,
    frechet_floor: f64,
    class_names: Vec<String>,
    seed: u64,
    device: Device,
}

impl ImageReference {
    /// The reference for `n` samples: 2n held-out items of `data` (seed `seed`), split in
    /// halves.
    pub fn new(
        data: &DataConfig,
        n: usize,
        seed: u64,
        device: Device,
        log: &mut dyn FnMut(&str),
    ) -> Result<ImageReference, EvalError> {
        let class_names = data.class_names().ok_or(EvalError::Unlabelled)?;
        let clf = Classifier::for_data(data, seed, device, log)?;
        if n == 0 {
            return Err(EvalError::TooFew {
                what: "samples",
                got: 0,
                needed: 1,
            });
        }
        let held = data.source().load(seed, Split::Held(2 * n.max(2)))?;
        // two halves, neither of them empty
        if held.len() < 2 {
            return Err(EvalError::TooFew {
                what: "held-out data",
                got: held.len(),
                needed: 2,
            });
        }
        let half = held.len() / 2;
        let a = held.head(half, device);
        let idx: Vec<usize> = (half..held.len()).collect();
        let b = held.batch(&idx, device);
        let (fa, _) = clf.features_and_classes(&a, "held-out data")?;
        // the per-class figures need the held-out items' labels: never a silent empty set
        let labels = held.labels.as_ref().ok_or(EvalError::NoLabels {
            what: "held-out data",
        })?[..half]
            .iter()
            .map(|&c| c as i64)
            .collect();
        let (fb, _) = clf.features_and_classes(&b, "held-out data")?;
        Ok(ImageReference {
            frechet_floor: frechet_distance(&fb, &fa),
            clf,
            features: fa,
            labels,
            class_names,
            seed,
            device,
        })
    }

    /// Measures `samples` ([n, C, H, W] in [−1, 1]) against the reference; `requested`:
    /// the class each was drawn of, for a class-conditional model.
    pub fn measure(
        &self,
        samples: &Tensor,
        requested: Option<&[i64]>,
    ) -> Result<ImageQuality, EvalError> {
        let clf = &self.clf;
        let (fs, classes) = clf.features_and_classes(&samples.to_device(self.device), "samples")?;
        tch::manual_seed(self.seed as i64 ^ 0x4015E);
        let noise = Tensor::randn(samples.size(), (Kind::Float, self.device)).clamp(-1.0, 1.0);
        let (fnoise, _) = clf.features_and_classes(&noise, "noise images")?;
        let mut histogram = vec![0usize; clf.classes];
        for &c in &classes {
            if c < histogram.len() {
                histogram[c] += 1;
            }
        }
        let by_class = requested.map(|r| self.by_class(&fs, &classes, r));
        Ok(ImageQuality {
            frechet: frechet_distance(&fs, &self.features),
            frechet_floor: self.frechet_floor,
            frechet_noise: frechet_distance(&fnoise, &self.features),
            histogram,
            class_names: self.class_names.clone(),
            classifier_accuracy: clf.accuracy,
            classifier_held: clf.held_items,
            by_class,
        })
    }

    /// Agreement and per-class Fréchet distances of sample features `fs`, which the
    /// classifier assigned to `assigned`, drawn of the classes `requested`.
    fn by_class(&self, fs: &Tensor, assigned: &[usize], requested: &[i64]) -> ClassFigures {
        let k = self.clf.classes;
        let mut figures = ClassFigures {
            requested: vec![0; k],
            agreeing: vec![0; k],
            frechet: vec![None; k],
        };
        for (&want, &got) in requested.iter().zip(assigned) {
            let want = want as usize;
            if want < k {
                figures.requested[want] += 1;
                if got == want {
                    figures.agreeing[want] += 1;
                }
            }
        }
        let rows = |labels: &[i64], c: usize| -> Vec<i64> {
            (0..labels.len() as i64)
                .filter(|&i| labels[i as usize] == c as i64)
                .collect()
        };
        for c in 0..k {
            let (mine, theirs) = (rows(requested, c), rows(&self.labels, c));
            if mine.len() >= 2 && theirs.len() >= 2 {
                let pick = |f: &Tensor, r: &[i64]| {
                    f.index_select(0, &Tensor::from_slice(r).to_device(f.device()))
                };
                figures.frechet[c] = Some(frechet_distance(
                    &pick(fs, &mine),
                    &pick(&self.features, &theirs),
                ));
            }
        }
        figures
    }
}

/// Measures `samples` ([n, C, H, W] in [−1, 1]) against held-out data of `data`.
pub fn image_quality(
    samples: &Tensor,
    data: &DataConfig,
    seed: u64,
    device: Device,
    log: &mut dyn FnMut(&str),
) -> Result<ImageQuality, EvalError> {
    let n = samples.size()[0] as usize;
    ImageReference::new(data, n, seed, device, log)?.measure(samples, None)
}
