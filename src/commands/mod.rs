//! The headless commands behind the command line. They report errors with `anyhow`,
//! adding the flag or file a core error came from; `main` prints the chain on one line.

pub mod data;
pub mod eval;
pub mod progress;
pub mod runs;
pub mod sample;
pub mod schedule;
pub mod train;

use crate::train::parse_device;
use std::fmt;

/// The device named by `--device`.
pub fn device(spec: &str) -> anyhow::Result<tch::Device> {
    parse_device(spec)
        .map_err(|e| anyhow::Error::new(e.problem).context(format!("--device {}", e.spec)))
}

/// The model precision named by `--precision`.
pub fn precision(
    a: Option<crate::cli::PrecisionArg>,
) -> Option<crate::model::precision::Precision> {
    use crate::cli::PrecisionArg as A;
    use crate::model::precision::Precision as P;
    a.map(|a| match a {
        A::Auto => P::Auto,
        A::Fp32 => P::Fp32,
        A::Bf16 => P::Bf16,
        A::Fp16 => P::Fp16,
    })
}

/// An error about the value of a command-line flag, shown as `--flag VALUE: problem`.
/// Core errors begin with the value they are about (a path); it is not said twice.
pub fn flag_error(flag: &str, value: &str, err: impl Into<anyhow::Error>) -> anyhow::Error {
    let err = err.into();
    let top = err.to_string();
    let rest = if top == value {
        Some("")
    } else {
        top.strip_prefix(value).and_then(|r| r.strip_prefix(": "))
    };
    match rest {
        Some(rest) => {
            let text = if rest.is_empty() {
                format!("{flag} {value}")
            } else {
                format!("{flag} {value}: {rest}")
            };
            anyhow::Error::new(FlagError { text, inner: err })
        }
        None => err.context(format!("{flag} {value}")),
    }
}

/// A core error restated with the flag its value came from; its causes are the core
/// error's causes.
#[derive(Debug)]
struct FlagError {
    text: String,
    inner: anyhow::Error,
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for FlagError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataError, Source, Split};

    #[test]
    fn a_flag_names_its_value_once() {
        let missing = crate::data::IdxConfig {
            path: "/nonexistent/mnist".into(),
            limit: 0,
        };
        let e = missing.load(0, Split::Train).unwrap_err();
        let e = format!("{:#}", flag_error("--data", "/nonexistent/mnist", e));
        assert!(
            e.starts_with("--data /nonexistent/mnist: data folder not found"),
            "{e}"
        );
        assert_eq!(e.matches("/nonexistent/mnist").count(), 1, "{e}");

        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = DataError::Read {
            path: "/d/x.bin".into(),
            source: io,
        };
        let e = format!("{:#}", flag_error("--data", "/d", e));
        assert_eq!(e, "--data /d: /d/x.bin: cannot read: denied");
    }

    #[test]
    fn device_errors_name_the_flag_and_the_value() {
        let e = format!("{:#}", device("tpu").unwrap_err());
        assert_eq!(e, "--device tpu: expected auto, cpu, cuda or cuda:N");
    }
}
