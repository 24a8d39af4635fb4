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
    /// The folder with the IDX files (the command line can point it elsewhere).
    pub path: PathBuf,
    /// Use at most this many training images (0: all).
    #[serde(default)]
    pub limit: usize,
}

/// Finds `stem` or `stem.gz` in `dir`.
fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    for name in [stem.to_string(), format!("{stem}.gz")] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(DataError::MissingIdx {
        path: dir.to_path_buf(),
        stem: stem.to_string(),
    })
}

/// Reads a whole file, gunzipping `.gz` files.
fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses an IDX file of unsigned bytes with `dims` dimensions; returns (shape, data).
pub(crate) fn parse_idx(
    bytes: &[u8],
    dims: usize,
    path: &Path,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let header = 4 + 4 * dims;
    if bytes.len() < 4 {
        return Err(DataError::IdxTooShort {
            path: path.to_path_buf(),
        });
    }
    let magic = be_u32(bytes, 0);
    let expected = 0x0000_0800 | dims as u32;
    if magic != expected {
        return Err(DataError::IdxMagic {
            path: path.to_path_buf(),
            found: magic,
            expected,
            dims,
        });
    }
    if bytes.len() < header {
        return Err(DataError::IdxHeader {
            path: path.to_path_buf(),
        });
    }
    let shape: Vec<usize> = (0..dims)
        .map(|i| be_u32(bytes, 4 + 4 * i) as usize)
        .collect();
    let count: usize = shape.iter().product();
    let body = bytes.len() - header;
    if body != count {
        return Err(DataError::IdxDimensions {
            path: path.to_path_buf(),
            shape,
            count,
            body,
        });
    }
    Ok((shape, bytes[header..].to_vec()))
}

impl IdxConfig {
    fn load_pair(&self, prefix: &str, limit: usize) -> Result<Dataset, DataError> {
        if !self.path.is_dir() {
            return Err(DataError::MissingFolder {
                path: self.path.clone(),
                what: "data folder",
                help: "download the dataset's IDX files there, or point the preset's data \
                       path at them",
            });
        }
        let ip = find(&self.path, &format!("{prefix}-images-idx3-ubyte"))?;
        let lp = find(&self.path, &format!("{prefix}-labels-idx1-ubyte"))?;
        let (ishape, pixels) = parse_idx(&read_bytes(&ip)?, 3, &ip)?;
        let (lshape, labels) = parse_idx(&read_bytes(&lp)?, 1, &lp)?;
        if ishape[0] != lshape[0] {
            return Err(DataError::LabelCount {
                path: lp,
                labels: lshape[0],
                images: ishape[0],
                images_path: ip,
            });
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
