//! Presets, themes and where files live.

pub mod catalog;
pub mod paths;
pub mod preset;

pub use preset::{DiffusionConfig, Preset, SampleConfig, TrainConfig};

use std::path::Path;

/// Parses RON into `T`, reporting errors as `FILE:LINE:COL: problem` on one line. Optional
/// fields may be written plainly (`theme: "light"`) or as `Some(…)`.
pub fn parse_ron<T: serde::de::DeserializeOwned>(text: &str, origin: &Path) -> Result<T, String> {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
        .map_err(|e| {
            format!(
                "{}:{}:{}: {}",
                origin.display(),
                e.span.start.line,
                e.span.start.col,
                e.code
            )
        })
}
