//! A small CNN classifier per labelled image dataset, trained once by diffscope and cached,
//! whose penultimate features give a Fréchet distance between samples and held-out data
//! (the idea of FID, with a network that fits these small datasets; it is not FID) and whose
//! predictions give the class histogram of samples (mode coverage).

use super::EvalError;
use crate::config::paths;
use crate::data::{Batcher, DataConfig, Dataset, Split};
use crate::util::{read_values, write_atomic, TorchError};
use std::path::{Path, PathBuf};
use tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};

/// Width of the feature layer.
pub const FEATURES: i64 = 64;

struct Net {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl Net {
    fn new(vs: &nn::Path, shape: &[i64], classes: i64) -> Net {
        let conv = |p: nn::Path, i, o| {
            nn::conv2d(
                p,
                i,
                o,
                3,
                nn::ConvConfig {
                    padding: 1,
                    ..Default::default()
                },
            )
        };
        let flat = 32 * (shape[1] / 4) * (shape[2] / 4);
        Net {
            conv1: conv(vs / "conv1", shape[0], 16),
            conv2: conv(vs / "conv2", 16, 32),
            fc1: nn::linear(vs / "fc1", flat, FEATURES, Default::default()),
            fc2: nn::linear(vs / "fc2", FEATURES, classes, Default::default()),
        }
    }

    fn features(&self, x: &Tensor) -> Tensor {
        let h = self.conv1.forward(x).relu().max_pool2d_default(2);
        let h = self.conv2.forward(&h).relu().max_pool2d_default(2);
        self.fc1.forward(&h.flatten(1, -1)).relu()
    }
}

pub struct Classifier {
    _vs: nn::VarStore,
    net: Net,
    pub classes: usize,
    /// Accuracy on held-out data, measured when it was trained.
    pub accuracy: f64,
    /// How many held-out items it was measured on (0: not recorded, an older cache).
    pub held_items: usize,
    /// Where it is cached.
    pub path: PathBuf,
}

/// A stable name for a dataset's classifier: the data configuration, hashed.
fn cache_key(data: &DataConfig) -> Result<String, EvalError> {
    let text = ron::ser::to_string(data).map_err(|e| EvalError::CacheKey(Box::new(e)))?;
    // FNV-1a: stable across runs and versions, unlike the std hasher
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let kind = text.split('(').next().unwrap_or("data").to_lowercase();
    Ok(format!("{kind}-{h:016x}"))
}

/// The predicted class of each row of `logits` ([n, classes]), read back from libtorch
/// and checked to be one per row; `what` names the images in errors.
fn predict(logits: &Tensor, what: &'static str) -> Result<Vec<i64>, EvalError> {
    let expected = logits.size().first().copied().unwrap_or(0).max(0) as usize;
    let pred: Vec<i64> = read_values(&logits.argmax(1, false))
        .map_err(|source| EvalError::ReadPredictions { what, source })?;
    if pred.len() != expected {
        return Err(EvalError::PredictionCount {
            what,
            got: pred.len(),
            expected,
        });
    }
    Ok(pred)
}

/// The share of `data` (labelled, non-empty) that the classifier labels correctly.
fn accuracy(
    net: &Net,
    head: &nn::Linear,
    data: &Dataset,
    device: Device,
) -> Result<f64, EvalError> {
    const WHAT: &str = "held-out data";
    let _g = tch::no_grad_guard();
    let labels = data
        .labels
        .as_deref()
        .ok_or(EvalError::NoLabels { what: WHAT })?;
    if data.is_empty() {
        return Err(EvalError::TooFew {
            what: WHAT,
            got: 0,
            needed: 1,
        });
    }
    let mut right = 0usize;
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(256) {
        let x = data.batch(chunk, device);
        let pred = predict(&head.forward(&net.features(&x)), WHAT)?;
        right += chunk
            .iter()
            .zip(&pred)
            .filter(|(&i, &p)| labels[i] as i64 == p)
            .count();
    }
    Ok(right as f64 / data.len() as f64)
}

/// Held-out items the classifier's accuracy is measured on, at most.
pub const HELD_ITEMS: usize = 2000;

/// The accuracy stored beside a cached classifier and the number of held-out items it was
/// measured on (`0.98 2000`; an older cache has the accuracy alone: 0 items), if the file
/// is there and holds a number in [0, 1].
fn stored_accuracy(path: &Path) -> Option<(f64, usize)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut words = text.split_whitespace();
    let a: f64 = words.next()?.parse().ok()?;
    let n: usize = match words.next() {
        Some(w) => w.parse().ok()?,
        None => 0,
    };
    (0.0..=1.0).contains(&a).then_some((a, n))
}

impl Classifier {
    /// Loads the cached classifier for `data`, or trains one (about a minute on two CPU
    /// cores) and caches it. `log` receives progress lines.
    pub fn for_data(
        data_cfg: &DataConfig,
        seed: u64,
        device: Device,
        log: &mut dyn FnMut(&str),
    ) -> Result<Classifier, EvalError> {
        let names = data_cfg.class_names().ok_or(EvalError::Unlabelled)?;
        let classes = names.len();
        let shape = data_cfg.item_shape();
        if shape.len() != 3 {
            return Err(EvalError::NotImages(shape));
        }
        let path = paths::cache_dir()
            .join("classifiers")
            .join(format!("{}.safetensors", cache_key(data_cfg)?));
        let mut vs = nn::VarStore::new(device);
        let net = Net::new(&vs.root(), &shape, classes as i64);
        let acc_path = path.with_extension("accuracy");
        let held = || -> Result<Dataset, EvalError> {
            Ok(data_cfg.source().load(seed, Split::Held(HELD_ITEMS))?)
        };
        if path.is_file() {
            match vs.load(&path) {
                Ok(()) => {
                    let (accuracy, held_items) = match stored_accuracy(&acc_path) {
                        Some(a) => a,
                        None => {
                            // Never report a figure that was not measured: measure it again.
                            log(&format!(
                                "{}: no readable accuracy; measuring it on held-out data",
                                acc_path.display()
                            ));
                            let held = held()?;
                            let a = accuracy(&net, &net.fc2, &held, device)?;
                            write_atomic(&acc_path, format!("{a} {}\n", held.len()).as_bytes())?;
                            (a, held.len())
                        }
                    };
                    return Ok(Classifier {
                        _vs: vs,
                        net,
                        classes,
                        accuracy,
                        held_items,
                        path,
                    });
                }
                Err(e) => log(&format!(
                    "{}: unreadable ({}), training a new classifier",
                    path.display(),
                    TorchError::from(e)
                )),
            }
        }
        let train = data_cfg.source().load(seed, Split::Train)?;
        let held = held()?;
        let labels = train.labels.clone().ok_or(EvalError::NoLabels {
            what: "training data",
        })?;
        if train.is_empty() {
            return Err(EvalError::TooFew {
                what: "training data",
                got: 0,
                needed: 1,
            });
        }
        log(&format!(
            "training a {classes}-class feature classifier on {} images (once; cached in {})",
            train.len(),
            path.display()
        ));
        tch::manual_seed(seed as i64 ^ 0xC1A5);
        let mut opt = nn::Adam::default()
            .build(&vs, 1e-3)
            .map_err(|e| EvalError::Optimizer(e.into()))?;
        let steps = 600u64;
        let mut batcher = Batcher::new(seed ^ 0xC1A5, train.len(), 128);
        for step in 0..steps {
            let idx = batcher.indices(step);
            let x = train.batch(&idx, device);
            let y: Vec<i64> = idx.iter().map(|&i| labels[i] as i64).collect();
            let y = Tensor::from_slice(&y).to_device(device);
            let loss = net
                .fc2
                .forward(&net.features(&x))
                .cross_entropy_for_logits(&y);
            opt.backward_step(&loss);
            if (step + 1) % 200 == 0 {
                log(&format!(
                    "classifier step {}/{steps}, loss {:.3}",
                    step + 1,
                    loss.double_value(&[])
                ));
            }
        }
        let accuracy = accuracy(&net, &net.fc2, &held, device)?;
        log(&format!(
            "classifier accuracy on {} held-out items: {:.1}%",
            held.len(),
            accuracy * 100.0
        ));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| EvalError::CreateFolder {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let tmp = path.with_extension("tmp.safetensors");
        vs.save(&tmp).map_err(|e| EvalError::SaveClassifier {
            path: tmp.clone(),
            source: e.into(),
        })?;
        std::fs::rename(&tmp, &path).map_err(|source| EvalError::Rename {
            path: path.clone(),
            source,
        })?;
        write_atomic(&acc_path, format!("{accuracy} {}\n", held.len()).as_bytes())?;
        vs.freeze();
        Ok(Classifier {
            _vs: vs,
            net,
            classes,
            accuracy,
            held_items: held.len(),
            path,
        })
    }

    /// Penultimate features [n, FEATURES] and predicted classes of images [n, C, H, W];
    /// `what` names the images in errors.
    pub fn features_and_classes(
        &self,
        x: &Tensor,
        what: &'static str,
    ) -> Result<(Tensor, Vec<usize>), EvalError> {
        let _g = tch::no_grad_guard();
        let mut feats = Vec::new();
        let mut classes = Vec::new();
        let n = x.size()[0];
        let mut start = 0;
        while start < n {
            let len = (n - start).min(256);
            let f = self.net.features(&x.narrow(0, start, len));
            let p = predict(&self.net.fc2.forward(&f), what)?;
            classes.extend(p.into_iter().map(|c| c as usize));
            feats.push(f);
            start += len;
        }
        Ok((Tensor::cat(&feats, 0).to_kind(Kind::Double), classes))
    }
}

/// The Fréchet distance between Gaussians fitted to two feature sets [n, d]:
/// ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^{½} Σ₂ Σ₁^{½})^{½}).
pub fn frechet_distance(a: &Tensor, b: &Tensor) -> f64 {
    let stats = |x: &Tensor| {
        let x = x.to_kind(Kind::Double);
        let mu = x.mean_dim(0, false, Kind::Double);
        let c = &x - &mu;
        let cov = c.transpose(0, 1).matmul(&c) / (x.size()[0] - 1).max(1) as f64;
        (mu, cov)
    };
    let (m1, s1) = stats(a);
    let (m2, s2) = stats(b);
    let psd_sqrt = |s: &Tensor| {
        let (vals, vecs) = s.linalg_eigh("L");
        let r = vals.clamp_min(0.0).sqrt();
        (&vecs * r.unsqueeze(0)).matmul(&vecs.transpose(0, 1))
    };
    let r1 = psd_sqrt(&s1);
    let inner = r1.matmul(&s2).matmul(&r1);
    let inner = (&inner + inner.transpose(0, 1)) / 2.0;
    let (vals, _) = inner.linalg_eigh("L");
    let tr_sqrt = vals
        .clamp_min(0.0)
        .sqrt()
        .sum(Kind::Double)
        .double_value(&[]);
    let diff = (&m1 - &m2).square().sum(Kind::Double).double_value(&[]);
    let tr = (s1.trace() + s2.trace()).double_value(&[]);
    (diff + tr - 2.0 * tr_sqrt).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_is_never_a_figure_of_nothing() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = Net::new(&vs.root(), &[1, 8, 8], 10);
        let acc = |d: &Dataset| accuracy(&net, &net.fc2, d, Device::Cpu);
        let empty = Dataset::images("none".into(), [1, 8, 8], Vec::new(), Some(Vec::new()));
        let e = acc(&empty).unwrap_err().to_string();
        assert_eq!(e, "the held-out data has 0 items; at least 1 are needed");
        let unlabelled = Dataset::images("x".into(), [1, 8, 8], vec![0.0; 64], None);
        assert!(matches!(acc(&unlabelled), Err(EvalError::NoLabels { .. })));
        let three = Dataset::images(
            "x".into(),
            [1, 8, 8],
            vec![0.0; 3 * 64],
            Some(vec![1, 2, 3]),
        );
        let a = acc(&three).unwrap();
        assert!([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0].contains(&a), "{a}");
    }

    #[test]
    fn a_stored_accuracy_is_a_share_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.accuracy");
        assert_eq!(stored_accuracy(&p), None);
        for (text, want) in [
            ("0.975\n", Some((0.975, 0))),
            ("0.975 7\n", Some((0.975, 7))),
            ("0.975 seven\n", None),
            ("", None),
            ("NaN\n", None),
            ("1.5", None),
        ] {
            std::fs::write(&p, text).unwrap();
            assert_eq!(stored_accuracy(&p), want, "{text:?}");
        }
    }

    #[test]
    fn frechet_of_gaussians_matches_the_closed_form() {
        tch::manual_seed(0);
        let n = 20_000;
        let a = Tensor::randn([n, 3], (Kind::Double, Device::Cpu));
        // N(1, 4 I) vs N(0, I): ‖μ‖² = 3, Tr(4I + I − 2·2I) = 3 → 6
        let b = Tensor::randn([n, 3], (Kind::Double, Device::Cpu)) * 2.0 + 1.0;
        let d = frechet_distance(&a, &b);
        assert!((d - 6.0).abs() < 0.2, "{d}");
        let same = frechet_distance(&a, &a.copy());
        assert!(same.abs() < 1e-6, "{same}");
    }
}
