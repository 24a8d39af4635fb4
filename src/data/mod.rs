//! Training data. Each source has its own file and implements [`Source`]; all of them
//! produce an in-memory [`Dataset`] of f32 items, already scaled for the model.
//!
//! This module holds what the sources share: the preset's choice of data
//! ([`DataConfig`]), the train/test [`Split`], the [`DataError`] every source reports, the
//! [`Dataset`] itself and the deterministic [`Batcher`] that cuts it into mini-batches.

pub mod cifar;
pub mod folder;
pub mod glyphs;
pub mod idx;
pub mod shapes;
pub mod toy2d;

pub use cifar::CifarConfig;
pub use folder::FolderConfig;
pub use glyphs::GlyphsConfig;
pub use idx::IdxConfig;
pub use shapes::ShapesConfig;
pub use toy2d::{Toy2dConfig, Toy2dShape};

use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::{Device, Tensor};

/// Which part of the data to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// `n` held-out items, disjoint from training where the source allows.
    Held(usize),
}

impl Split {
    /// The seed a generated source draws this split from: held-out items come from a
    /// stream of their own, so they are fresh, never training items.
    pub fn seed(self, seed: u64) -> u64 {
        match self {
            Split::Train => seed,
            Split::Held(_) => seed ^ 0x00FF_F00D_5EED,
        }
    }
}

/// Data that cannot be loaded. Errors about files name the file or folder first.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The folder the preset points at does not exist.
    #[error("{}: {what} not found: {help}", path.display())]
    MissingFolder {
        path: PathBuf,
        /// "data folder" or "image folder".
        what: &'static str,
        /// Where the data should come from.
        help: &'static str,
    },
    #[error(
        "{}: no {stem}[.gz] here: put the dataset's IDX files in this folder, or point the \
         preset's data path at the folder that has them",
        path.display()
    )]
    MissingIdx { path: PathBuf, stem: String },
    #[error("{}: missing CIFAR-10 batch file", path.display())]
    MissingBatch { path: PathBuf },
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot list this folder", path.display())]
    ReadFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a readable gzip file", path.display())]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: too short to be an IDX file", path.display())]
    IdxTooShort { path: PathBuf },
    #[error(
        "{}: wrong magic number 0x{found:08x} (expected 0x{expected:08x}: unsigned bytes \
         in {dims} dimensions)",
        path.display()
    )]
    IdxMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        dims: usize,
    },
    #[error("{}: truncated IDX header", path.display())]
    IdxHeader { path: PathBuf },
    #[error(
        "{}: wrong dimensions: the header says {shape:?} ({count} bytes) but the file holds \
         {body} bytes of data",
        path.display()
    )]
    IdxDimensions {
        path: PathBuf,
        shape: Vec<usize>,
        count: usize,
        body: usize,
    },
    /// The label file (`path`) and the image file disagree on the number of items.
    #[error(
        "{}: {labels} labels for {images} images in {}",
        path.display(),
        images_path.display()
    )]
    LabelCount {
        path: PathBuf,
        labels: usize,
        images: usize,
        images_path: PathBuf,
    },
    #[error(
        "{}: truncated CIFAR-10 batch: {len} bytes is not a whole number of {record}-byte \
         records",
        path.display()
    )]
    CifarTruncated {
        path: PathBuf,
        len: usize,
        record: usize,
    },
    #[error("{}: label {label} is not a CIFAR-10 class (0–9)", path.display())]
    CifarLabel { path: PathBuf, label: u8 },
    #[error("{}: channels must be 1 or 3, got {channels}", path.display())]
    Channels { path: PathBuf, channels: u32 },
    #[error("{}: height and width must be positive", path.display())]
    ZeroSize { path: PathBuf },
    #[error(
        "{}: no PNG or JPEG images in this folder (searched recursively)",
        path.display()
    )]
    NoImages { path: PathBuf },
    /// Not one image of a folder could be decoded; `first` is the first that failed.
    #[error(
        "{}: none of the {count} image files could be read (first: {})",
        path.display(),
        first.display()
    )]
    Unreadable {
        path: PathBuf,
        count: usize,
        first: PathBuf,
        #[source]
        source: Box<image::ImageError>,
    },
    /// A generated source asked for a size it cannot draw.
    #[error("data: {what} size must be between {min} and {max}{usual}, got {got}")]
    Size {
        what: &'static str,
        min: u32,
        max: u32,
        /// A hint on the usual sizes, e.g. " (16 or 28 are usual)", or "".
        usual: &'static str,
        got: u32,
    },
    /// A data path for a source that reads no files.
    #[error(
        "{}: this preset's {kind} data is generated, it reads no files",
        path.display()
    )]
    Generated { path: PathBuf, kind: &'static str },
}

/// A source of training data.
pub trait Source {
    fn load(&self, seed: u64, split: Split) -> Result<Dataset, DataError>;
    /// One line for listings and status bars.
    fn describe(&self) -> String;
}

/// What kind of items a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// Points in R^d.
    Points,
    /// Images in [−1, 1], shape [C, H, W].
    Image,
}

/// Items stored contiguously: item `i` is `values[i*d .. (i+1)*d]` with `d = ∏ item_shape`.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    pub kind: ItemKind,
    pub item_shape: Vec<i64>,
    pub values: Vec<f32>,
    pub labels: Option<Vec<u8>>,
    /// Things the user should know (e.g. skipped files).
    pub notes: Vec<String>,
}

impl Dataset {
    pub fn points(name: &str, values: Vec<f32>, dim: i64) -> Dataset {
        Dataset {
            name: name.to_string(),
            kind: ItemKind::Points,
            item_shape: vec![dim],
            values,
            labels: None,
            notes: Vec::new(),
        }
    }

    /// Images of shape [C, H, W] in [−1, 1], optionally labelled.
    pub fn images(
        name: String,
        shape: [i64; 3],
        values: Vec<f32>,
        labels: Option<Vec<u8>>,
    ) -> Dataset {
        Dataset {
            name,
            kind: ItemKind::Image,
            item_shape: shape.to_vec(),
            values,
            labels,
            notes: Vec::new(),
        }
    }

    pub(crate) fn item_len(&self) -> usize {
        self.item_shape.iter().product::<i64>() as usize
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.item_len().max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn item(&self, i: usize) -> &[f32] {
        let d = self.item_len();
        &self.values[i * d..(i + 1) * d]
    }

    /// The items at `indices` as one tensor of shape [n, item_shape…].
    pub fn batch(&self, indices: &[usize], device: Device) -> Tensor {
        let d = self.item_len();
        let mut v = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            v.extend_from_slice(self.item(i));
        }
        let mut shape = vec![indices.len() as i64];
        shape.extend_from_slice(&self.item_shape);
        Tensor::from_slice(&v)
            .reshape(shape.as_slice())
            .to_device(device)
    }

    /// Like [`Dataset::batch`], mirroring image items left–right where `flip[i]` is set.
    pub(crate) fn batch_flipped(&self, indices: &[usize], flip: &[bool], device: Device) -> Tensor {
        let x = self.batch(indices, device);
        if self.kind != ItemKind::Image || !flip.iter().any(|&f| f) {
            return x;
        }
        let mask: Vec<f32> = flip.iter().map(|&f| if f { 1.0 } else { 0.0 }).collect();
        let mask = Tensor::from_slice(&mask)
            .reshape([-1, 1, 1, 1])
            .to_device(device);
        let mirrored = x.flip([3]);
        &mirrored * &mask + &x * (1.0 - &mask)
    }

    /// The first `n` items (or all) as a tensor.
    pub fn head(&self, n: usize, device: Device) -> Tensor {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.batch(&idx, device)
    }
}

/// Deterministic mini-batches: the items of step k are a function of (seed, k) alone, so a
/// resumed run sees exactly the batches of an uninterrupted one. Each epoch is a fresh
/// permutation drawn from the seed.
pub struct Batcher {
    seed: u64,
    len: usize,
    batch: usize,
    epoch: Option<(u64, Vec<usize>)>,
}

impl Batcher {
    pub fn new(seed: u64, len: usize, batch: usize) -> Batcher {
        Batcher {
            seed,
            len,
            batch,
            epoch: None,
        }
    }

    /// Indices of the batch for training step `step` (0-based).
    pub(crate) fn indices(&mut self, step: u64) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.batch);
        let start = step * self.batch as u64;
        for p in start..start + self.batch as u64 {
            let epoch = p / self.len as u64;
            let pos = (p % self.len as u64) as usize;
            if self.epoch.as_ref().map(|e| e.0) != Some(epoch) {
                let mut order: Vec<usize> = (0..self.len).collect();
                Rng::derive(self.seed, epoch).shuffle(&mut order);
                self.epoch = Some((epoch, order));
            }
            out.push(self.epoch.as_ref().map(|e| e.1[pos]).unwrap_or(pos));
        }
        out
    }
}

/// What labels a data set has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    None,
    /// This many classes, numbered from 0.
    Classes(usize),
    /// An image folder: labelled when its images sit in class subfolders (one class per
    /// subfolder, in name order), which only reading it tells.
    Subfolders,
}

/// Which data to train on, as written in a preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DataConfig {
    /// 2-D toy points.
    Toy2d(Toy2dConfig),
    /// Procedural digits (built in).
    Glyphs(GlyphsConfig),
    /// Procedural coloured shapes (built in).
    Shapes(ShapesConfig),
    /// MNIST in IDX format.
    Mnist(IdxConfig),
    /// Fashion-MNIST in IDX format.
    FashionMnist(IdxConfig),
    /// CIFAR-10 binary batches.
    Cifar10(CifarConfig),
    /// A folder of PNG/JPEG images.
    Folder(FolderConfig),
}

impl DataConfig {
    pub fn source(&self) -> &dyn Source {
        match self {
            DataConfig::Toy2d(c) => c,
            DataConfig::Glyphs(c) => c,
            DataConfig::Shapes(c) => c,
            DataConfig::Mnist(c) | DataConfig::FashionMnist(c) => c,
            DataConfig::Cifar10(c) => c,
            DataConfig::Folder(c) => c,
        }
    }

    /// The data path of a file-based source, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            DataConfig::Mnist(c) | DataConfig::FashionMnist(c) => Some(&c.path),
            DataConfig::Cifar10(c) => Some(&c.path),
            DataConfig::Folder(c) => Some(&c.path),
            _ => None,
        }
    }

    /// Points a file-based source at another path; an error for the built-in sources,
    /// which read no files.
    pub(crate) fn set_path(&mut self, path: PathBuf) -> Result<(), DataError> {
        match self {
            DataConfig::Mnist(c) | DataConfig::FashionMnist(c) => c.path = path,
            DataConfig::Cifar10(c) => c.path = path,
            DataConfig::Folder(c) => c.path = path,
            DataConfig::Toy2d(_) | DataConfig::Glyphs(_) | DataConfig::Shapes(_) => {
                return Err(DataError::Generated {
                    path,
                    kind: self.kind_name(),
                })
            }
        }
        Ok(())
    }

    /// The kind of data, as written in presets but in lower case.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            DataConfig::Toy2d(_) => "toy2d",
            DataConfig::Glyphs(_) => "glyphs",
            DataConfig::Shapes(_) => "shapes",
            DataConfig::Mnist(_) => "mnist",
            DataConfig::FashionMnist(_) => "fashion-mnist",
            DataConfig::Cifar10(_) => "cifar10",
            DataConfig::Folder(_) => "folder",
        }
    }

    /// The shape of one item, known from the configuration alone.
    pub fn item_shape(&self) -> Vec<i64> {
        match self {
            DataConfig::Toy2d(_) => vec![2],
            DataConfig::Glyphs(c) => vec![1, c.size as i64, c.size as i64],
            DataConfig::Shapes(c) => vec![3, c.size as i64, c.size as i64],
            DataConfig::Mnist(_) | DataConfig::FashionMnist(_) => vec![1, 28, 28],
            DataConfig::Cifar10(_) => vec![3, 32, 32],
            DataConfig::Folder(c) => vec![c.channels as i64, c.height as i64, c.width as i64],
        }
    }

    /// Whether the data is labelled, and with how many classes.
    pub fn labels(&self) -> Labels {
        match self {
            DataConfig::Toy2d(c) => match c.shape.classes() {
                Some(k) => Labels::Classes(k),
                None => Labels::None,
            },
            DataConfig::Folder(_) => Labels::Subfolders,
            _ => match self.class_names() {
                Some(n) => Labels::Classes(n.len()),
                None => Labels::None,
            },
        }
    }

    /// Class names for labelled data.
    pub(crate) fn class_names(&self) -> Option<Vec<String>> {
        let v: Vec<&str> = match self {
            DataConfig::Glyphs(_) | DataConfig::Mnist(_) => {
                vec!["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
            }
            DataConfig::Shapes(_) => shapes::SHAPE_NAMES.to_vec(),
            DataConfig::FashionMnist(_) => vec![
                "T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                "bag", "boot",
            ],
            DataConfig::Cifar10(_) => vec![
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ],
            _ => return None,
        };
        Some(v.into_iter().map(String::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batcher_covers_each_epoch_once_and_is_stateless() {
        let mut b = Batcher::new(5, 10, 5);
        let mut seen: Vec<usize> = b.indices(0);
        seen.extend(b.indices(1));
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let mut fresh = Batcher::new(5, 10, 5);
        assert_eq!(fresh.indices(7), b.indices(7));
    }
}
