//! Small helpers without a better home.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A libtorch error cut to its first line: libtorch appends a C++ backtrace
/// ("Exception raised from …") that does not belong in a one-line message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TorchError {
    pub message: String,
}

impl From<tch::TchError> for TorchError {
    fn from(e: tch::TchError) -> TorchError {
        let text = match e {
            // its path is the file the caller names already; an I/O error (a full disk)
            // is read as such, not as the library's debug text
            tch::TchError::SafeTensorError {
                err: safetensors::SafeTensorError::IoError(io),
                ..
            } => io.to_string(),
            tch::TchError::SafeTensorError { err, .. } => format!("safetensors error: {err}"),
            e => e.to_string(),
        };
        let first = text.lines().next().unwrap_or("").trim();
        TorchError {
            message: if first.is_empty() {
                "unknown libtorch error".into()
            } else {
                first.to_string()
            },
        }
    }
}

/// A tensor whose values could not be copied out of libtorch.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the values of a tensor{}", match shape {
    Some(s) => format!(" of shape {s:?}"),
    None => " (no shape: undefined)".into(),
})]
pub struct ReadError {
    /// None when the tensor has no shape to tell.
    pub shape: Option<Vec<i64>>,
    #[source]
    pub source: TorchError,
}

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The values of a tensor of any shape, flattened, as `T` (converted from the tensor's
/// kind), copied to the CPU.
pub(crate) fn read_values<T: tch::kind::Element + Copy>(
    x: &tch::Tensor,
) -> Result<Vec<T>, ReadError> {
    let read = || -> Result<Vec<T>, tch::TchError> {
        let flat = x
            .f_to_device(tch::Device::Cpu)?
            .f_to_kind(T::KIND)?
            .f_contiguous()?
            .f_view([-1])?;
        Vec::<T>::try_from(&flat)
    };
    read().map_err(|e| ReadError {
        shape: x.defined().then(|| x.size()),
        source: e.into(),
    })
}

/// The first value that is not finite (NaN or infinite), with its position: the one check
/// that samples pass before they are shown, written or measured.
pub(crate) fn first_non_finite(values: &[f32]) -> Option<(usize, f32)> {
    values
        .iter()
        .position(|v| !v.is_finite())
        .map(|i| (i, values[i]))
}

/// A tensor's values as a flat f32 vector on the CPU.
pub(crate) fn tensor_values(x: &tch::Tensor) -> Result<Vec<f32>, ReadError> {
    read_values::<f32>(x)
}

/// An error and its causes on one line, `error: cause: cause`, as the command line prints
/// them; for front ends that show errors as text.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut texts = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        texts.push(c.to_string());
        cause = c.source();
    }
    join_causes(texts)
}

/// Error texts (an error, then its causes) joined on one line: a text that spans lines
/// (some decoders' do) is folded, and a cause that its error already ends with (some
/// repeat their source) is said once.
pub fn join_causes(texts: impl IntoIterator<Item = String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for t in texts {
        let t = t
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !t.is_empty() && !parts.last().is_some_and(|p| p.ends_with(&t)) {
            parts.push(t);
        }
    }
    parts.join(": ")
}

/// Flushes a folder's entries to disk (after a rename into it). Best effort: some file
/// systems cannot sync a folder, and the data itself was synced before the rename.
pub(crate) fn fsync_dir(path: &Path) {
    if let Ok(f) = fs::File::open(path) {
        let _ = f.sync_all();
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir
        .map(|d| d.join(format!(".{name}.tmp")))
        .unwrap_or_else(|| PathBuf::from(format!(".{name}.tmp")));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(source) = res {
        let _ = fs::remove_file(&tmp);
        return Err(WriteError {
            path: path.to_path_buf(),
            source,
        });
    }
    if let Some(d) = dir {
        fsync_dir(d);
    }
    Ok(())
}

/// `YYYYMMDD-HHMMSS` in UTC for a Unix time.
pub(crate) fn timestamp(unix: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// `YYYY-MM-DD HH:MM` in UTC for a Unix time.
pub(crate) fn human_time(unix: u64) -> String {
    let (y, m, d, hh, mm, _) = civil(unix);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn civil(unix: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, (secs / 60) % 60, secs % 60)
}

/// "1m 05s", "12s", "1h 02m".
pub(crate) fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s / 60) % 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_join_on_one_line_folded_and_said_once() {
        let texts = [
            "pictures: none of the 1 image files could be read".to_string(),
            "Format error decoding Jpeg: I/O errors Not enough bytes\n".to_string(),
            "I/O errors Not enough bytes".to_string(),
            "two\n  lines".to_string(),
        ];
        assert_eq!(
            join_causes(texts),
            "pictures: none of the 1 image files could be read: Format error decoding Jpeg: \
             I/O errors Not enough bytes: two lines"
        );
    }

    #[test]
    fn tensor_reads_succeed_or_say_why() {
        let x = tch::Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0]).reshape([2, 2]);
        assert_eq!(tensor_values(&x).unwrap(), vec![1.0f32, 2.0, 3.0, 4.0]);
        assert_eq!(read_values::<i64>(&x).unwrap(), vec![1, 2, 3, 4]);
        // an undefined tensor has nothing to read: an error, not an empty vector
        let e = tensor_values(&tch::Tensor::new()).unwrap_err();
        let text = one_line(&e);
        assert!(
            text.starts_with("cannot read the values of a tensor"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn one_line_joins_the_causes() {
        let e = WriteError {
            path: PathBuf::from("/x/y.csv"),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        };
        assert_eq!(e.to_string(), "/x/y.csv: cannot write");
        assert_eq!(one_line(&e), "/x/y.csv: cannot write: denied");
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101-000000");
        assert_eq!(timestamp(1_795_000_000), "20261118-110640");
        assert_eq!(duration(65.0), "1m 05s");
    }
}
