//! Small helpers without a better home.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A tensor's values as a flat f32 vector on the CPU (empty if they cannot be read).
pub fn tensor_values(x: &tch::Tensor) -> Vec<f32> {
    Vec::try_from(
        x.to_device(tch::Device::Cpu)
            .to_kind(tch::Kind::Float)
            .contiguous()
            .view([-1]),
    )
    .unwrap_or_default()
}

/// Flushes a folder's entries to disk (after a rename into it).
pub fn fsync_dir(path: &Path) {
    if let Ok(f) = fs::File::open(path) {
        let _ = f.sync_all();
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
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
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(format!("{}: cannot write: {e}", path.display()));
    }
    if let Some(d) = dir {
        fsync_dir(d);
    }
    Ok(())
}

/// `YYYYMMDD-HHMMSS` in UTC for a Unix time.
pub fn timestamp(unix: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// `YYYY-MM-DD HH:MM` in UTC for a Unix time.
pub fn human_time(unix: u64) -> String {
    let (y, m, d, hh, mm, _) = civil(unix);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}

pub fn now_unix() -> u64 {
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
pub fn duration(secs: f64) -> String {
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
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101-000000");
        assert_eq!(timestamp(1_795_000_000), "20261118-110640");
        assert_eq!(duration(65.0), "1m 05s");
    }
}
