//! Sample-quality figures.

pub mod classifier;
pub mod image_quality;
pub mod sliced;

pub use sliced::sliced_wasserstein;
