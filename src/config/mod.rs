//! Presets, themes and where files live.

pub mod catalog;
pub mod diff;
pub mod paths;
pub mod preset;

pub use preset::{DiffusionConfig, Preset, PresetError, SampleConfig, TrainConfig};

use std::path::{Path, PathBuf};

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// RON that does not parse into the expected structure: `FILE:LINE:COL: problem`.
    #[error("{}:{line}:{column}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        #[source]
        source: Box<ron::Error>,
    },
    #[error("{}: cannot read preset", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: preset file not found", path.display())]
    NotFound { path: PathBuf },
    /// A preset name that is neither a file nor built in; `path` is where it was looked
    /// for first (`presets/NAME.ron`).
    #[error(
        "{}: no such preset (built-in presets: {})",
        path.display(),
        known.join(", ")
    )]
    UnknownPreset {
        path: PathBuf,
        known: Vec<&'static str>,
    },
    /// A preset that parses but holds a value it must not.
    #[error("{}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: PresetError,
    },
    #[error("cannot write the preset as RON")]
    Serialise(#[source] Box<ron::Error>),
}

/// Parses RON into `T`; errors keep the file, line and column (`FILE:LINE:COL: problem`
/// on one line). Optional fields may be written plainly (`theme: "light"`) or as
/// `Some(…)`.
pub fn parse_ron<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &Path,
) -> Result<T, ConfigError> {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
        .map_err(|e| ConfigError::Syntax {
            path: origin.to_path_buf(),
            line: e.span.start.line,
            column: e.span.start.col,
            source: Box::new(e.code),
        })
}
