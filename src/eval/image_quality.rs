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
        let (fb, _) = clf.features_and_classes(&b, "held-out data")?;
        Ok(ImageReference {
            frechet_floor: frechet_distance(&fb, &fa),
            clf,
            features: fa,
            class_names,
            seed,
            device,
        })
    }

    /// Measures `samples` ([n, C, H, W] in [−1, 1]) against the reference.
    pub fn measure(&self, samples: &Tensor) -> Result<ImageQuality, EvalError> {
        let clf = &self.clf;
        let (fs, classes) = clf.features_and_classes(&samples.to_device(self.device), "samples")?;
        tch::manual_seed(self.seed as i64 ^ 0x4015E);
        let noise = Tensor::randn(samples.size(), (Kind::Float, self.device)).clamp(-1.0, 1.0);
        let (fnoise, _) = clf.features_and_classes(&noise, "noise images")?;
        let mut histogram = vec![0usize; clf.classes];
        for c in classes {
            if c < histogram.len() {
                histogram[c] += 1;
            }
        }
        Ok(ImageQuality {
            frechet: frechet_distance(&fs, &self.features),
            frechet_floor: self.frechet_floor,
            frechet_noise: frechet_distance(&fnoise, &self.features),
            histogram,
            class_names: self.class_names.clone(),
            classifier_accuracy: clf.accuracy,
            classifier_held: clf.held_items,
        })
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
    ImageReference::new(data, n, seed, device, log)?.measure(samples)
}
