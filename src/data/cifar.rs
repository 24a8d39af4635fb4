//! CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`):
//! records of one label byte and 3,072 bytes of 32×32 RGB in planar order.

use super::{DataError, Dataset, Source, Split};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const RECORD: usize = 1 + 3 * 32 * 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CifarConfig {
    /// The `cifar-10-batches-bin` folder (the command line can point it elsewhere).
    pub path: PathBuf,
    /// Use at most this many training images (0: all).
    #[serde(default)]
    pub limit: usize,
}

/// Parses one batch file into (pixels in [−1, 1], labels).
pub(crate) fn parse_batch(bytes: &[u8], path: &Path) -> Result<(Vec<f32>, Vec<u8>), DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::CifarTruncated {
            path: path.to_path_buf(),
            len: bytes.len(),
            record: RECORD,
        });
    }
    let n = bytes.len() / RECORD;
    let mut values = Vec::with_capacity(n * (RECORD - 1));
    let mut labels = Vec::with_capacity(n);
    for rec in bytes.chunks_exact(RECORD) {
        if rec[0] > 9 {
            return Err(DataError::CifarLabel {
                path: path.to_path_buf(),
                label: rec[0],
            });
        }
        labels.push(rec[0]);
        values.extend(rec[1..].iter().map(|&p| p as f32 / 127.5 - 1.0));
    }
    Ok((values, labels))
}

impl CifarConfig {
    fn load_files(&self, names: &[String], limit: usize) -> Result<Dataset, DataError> {
        if !self.path.is_dir() {
            return Err(DataError::MissingFolder {
                path: self.path.clone(),
                what: "data folder",
                help: "unpack cifar-10-binary.tar.gz there, or point the preset's data path \
                       at the cifar-10-batches-bin folder",
            });
        }
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for name in names {
            let p = self.path.join(name);
            if !p.is_file() {
                return Err(DataError::MissingBatch { path: p });
            }
            let bytes = std::fs::read(&p).map_err(|source| DataError::Read {
                path: p.clone(),
                source,
            })?;
            let (v, l) = parse_batch(&bytes, &p)?;
            values.extend(v);
            labels.extend(l);
            if limit > 0 && labels.len() >= limit {
                break;
            }
        }
        if limit > 0 && labels.len() > limit {
            labels.truncate(limit);
            values.truncate(limit * (RECORD - 1));
        }
        Ok(Dataset::images(
            "CIFAR-10".into(),
            [3, 32, 32],
            values,
            Some(labels),
        ))
    }
}

impl Source for CifarConfig {
    fn load(&self, _seed: u64, split: Split) -> Result<Dataset, DataError> {
        match split {
            Split::Train => {
                let names: Vec<String> = (1..=5).map(|i| format!("data_batch_{i}.bin")).collect();
                self.load_files(&names, self.limit)
            }
            Split::Held(n) => self.load_files(&["test_batch.bin".to_string()], n),
        }
    }

    fn describe(&self) -> String {
        format!("CIFAR-10 from {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_records_only() {
        let mut rec = vec![3u8];
        rec.extend(std::iter::repeat_n(255u8, RECORD - 1));
        let (v, l) = parse_batch(&rec, Path::new("b")).unwrap();
        assert_eq!((l, v.len(), v[0]), (vec![3], 3072, 1.0));
        let e = parse_batch(&rec[..100], Path::new("b"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
    }
}
