//! Sample-quality figures.

pub mod sliced;

pub use sliced::sliced_wasserstein;
