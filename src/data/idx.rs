//! MNIST and Fashion-MNIST in IDX format (raw or `.gz`), from the user's files.
//!
//! The folder must hold `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (and, for
//! held-out data, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`), each optionally
//! gzipped, as distributed.

use super::{DataError, Dataset, Source, Split};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdxConfig {
    /// The folder with the IDX files (overridable by `--data PATH`).
    pub path: PathBuf,
    /// Use at most this many training images (0: all).
    #[serde(default)]
    pub limit: usize,
}

fn err(path: &Path, message: impl Into<String>) -> DataError {
    DataError::file(path, message)
}

/// Finds `stem` or `stem.gz` in `dir`.
fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    for name in [stem.to_string(), format!("{stem}.gz")] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(err(
        dir,
        format!(
            "no {stem}[.gz] here: put the dataset's IDX files in this folder, or point \
             the preset's data path (or --data PATH) at the folder that has them"
        ),
    ))
}

/// Reads a whole file, gunzipping `.gz` files.
fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| err(path, format!("not a readable gzip file: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses an IDX file of unsigned bytes with `dims` dimensions; returns (shape, data).
pub fn parse_idx(
    bytes: &[u8],
    dims: usize,
    path: &Path,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let header = 4 + 4 * dims;
    if bytes.len() < 4 {
        return Err(err(path, "too short to be an IDX file"));
    }
    let magic = be_u32(bytes, 0);
    let expected = 0x0000_0800 | dims as u32;
    if magic != expected {
        return Err(err(
            path,
            format!(
                "wrong magic number 0x{magic:08x} (expected 0x{expected:08x}: unsigned bytes \
                 in {dims} dimensions)"
            ),
        ));
    }
    if bytes.len() < header {
        return Err(err(path, "truncated IDX header"));
    }
    let shape: Vec<usize> = (0..dims)
        .map(|i| be_u32(bytes, 4 + 4 * i) as usize)
        .collect();
    let count: usize = shape.iter().product();
    let body = bytes.len() - header;
    if body != count {
        return Err(err(
            path,
            format!(
                "wrong dimensions: the header says {shape:?} ({count} bytes) but the file holds \
                 {body} bytes of data"
            ),
        ));
    }
    Ok((shape, bytes[header..].to_vec()))
}

impl IdxConfig {
    fn load_pair(&self, prefix: &str, limit: usize) -> Result<Dataset, DataError> {
        if !self.path.is_dir() {
            return Err(err(
                &self.path,
                "data folder not found: download the dataset's IDX files there, or point \
                 the preset's data path (or --data PATH) at them",
            ));
        }
        let ip = find(&self.path, &format!("{prefix}-images-idx3-ubyte"))?;
        let lp = find(&self.path, &format!("{prefix}-labels-idx1-ubyte"))?;
        let (ishape, pixels) = parse_idx(&read_bytes(&ip)?, 3, &ip)?;
        let (lshape, labels) = parse_idx(&read_bytes(&lp)?, 1, &lp)?;
        if ishape[0] != lshape[0] {
            return Err(err(
                &lp,
                format!(
                    "{} labels for {} images in {}",
                    lshape[0],
                    ishape[0],
                    ip.display()
                ),
            ));
        }
        let (h, w) = (ishape[1], ishape[2]);
        let n = if limit > 0 {
            ishape[0].min(limit)
        } else {
            ishape[0]
        };
        let values = pixels[..n * h * w]
            .iter()
            .map(|&p| p as f32 / 127.5 - 1.0)
            .collect();
        Ok(Dataset::images(
            format!("{} ({}×{})", self.path.display(), h, w),
            [1, h as i64, w as i64],
            values,
            Some(labels[..n].to_vec()),
        ))
    }
}

impl Source for IdxConfig {
    fn load(&self, _seed: u64, split: Split) -> Result<Dataset, DataError> {
        match split {
            Split::Train => self.load_pair("train", self.limit),
            Split::Held(n) => self.load_pair("t10k", n),
        }
    }

    fn describe(&self) -> String {
        format!("IDX images from {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn parses_and_rejects() {
        let p = Path::new("x");
        let (shape, data) = parse_idx(&idx(&[2, 2, 2], &[0; 8]), 3, p).unwrap();
        assert_eq!((shape, data.len()), (vec![2, 2, 2], 8));
        let e = parse_idx(&idx(&[2, 2, 2], &[0; 7]), 3, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("wrong dimensions"), "{e}");
        let mut bad = idx(&[2], &[1, 2]);
        bad[2] = 9;
        let e = parse_idx(&bad, 1, p).unwrap_err().to_string();
        assert!(e.contains("wrong magic number"), "{e}");
    }
}
