//! Evaluation: the variational bound on held-out data ([`likelihood`]) and sample-quality
//! figures ([`quality`]: sliced Wasserstein-1 and MMD for point data; [`image_quality`]
//! with the per-dataset [`classifier`] for labelled images).

pub mod classifier;
pub mod image_quality;
pub mod likelihood;
pub mod mmd;
pub mod quality;
pub mod sliced;

pub use likelihood::{evaluate_bound, BoundOptions, BoundReport, Figure, Unit};
pub use quality::{point_quality, PointQuality, Quality};
pub use sliced::sliced_wasserstein;
