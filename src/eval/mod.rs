//! Evaluation: the variational bound on held-out data ([`likelihood`]) and sample-quality
//! figures ([`quality`]: sliced Wasserstein-1 and MMD for point data; [`image_quality`]
//! with the per-dataset [`classifier`] for labelled images).

pub mod classifier;
pub mod evaluate;
pub mod guidance;
pub mod image_quality;
pub mod likelihood;
pub mod mmd;
pub mod quality;
pub mod record;
pub mod sliced;
pub mod sweep;

use crate::data::DataError;
use crate::util::{ReadError, TorchError, WriteError};
pub use likelihood::{evaluate_bound, BoundOptions, BoundReport, Figure, Unit};
pub use quality::{point_quality, PointQuality};
pub use record::{wall_clock, Evaluation};
pub use sliced::sliced_wasserstein;
use std::path::PathBuf;

/// A sample-quality figure that cannot be computed. No figure is reported from data that
/// could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("this dataset has no labels, so no classifier can be trained for it")]
    Unlabelled,
    #[error("the classifier is for image data, not items of shape {0:?}")]
    NotImages(Vec<i64>),
    /// `what`: "training data", "held-out data".
    #[error("the {what} has no labels")]
    NoLabels { what: &'static str },
    #[error("the {what} has {got} items; at least {needed} are needed")]
    TooFew {
        what: &'static str,
        got: usize,
        needed: usize,
    },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("cannot name the classifier's cache file")]
    CacheKey(#[source] Box<ron::Error>),
    #[error("{}: cannot create", path.display())]
    CreateFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the classifier's optimiser")]
    Optimizer(#[source] TorchError),
    #[error("{}: cannot write", path.display())]
    SaveClassifier {
        path: PathBuf,
        #[source]
        source: TorchError,
    },
    /// The trained classifier could not be moved into the cache.
    #[error("{}", path.display())]
    Rename {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The classifier's predictions could not be copied out of libtorch.
    #[error("cannot read the classifier's predictions for the {what}")]
    ReadPredictions {
        what: &'static str,
        #[source]
        source: ReadError,
    },
    #[error("the classifier gave {got} predictions for {expected} images of the {what}")]
    PredictionCount {
        what: &'static str,
        got: usize,
        expected: usize,
    },
}
