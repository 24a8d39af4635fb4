//! Checkpoint integrity: a SHA-256 of every tensor file, recorded in `meta.ron` when the
//! checkpoint is saved and checked when it is loaded, so that a file changed on disk (a
//! flipped bit, a bad copy) is an error naming the file instead of a model that quietly
//! draws NaN. Checkpoints saved before checksums existed still load, with a notice.

use super::checkpoint::{Checkpoint, CheckpointError, EMA_FILE, MODEL_FILE, OPTIM_FILE};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The tensor files a checkpoint's checksums cover.
pub const TENSOR_FILES: [&str; 3] = [MODEL_FILE, EMA_FILE, OPTIM_FILE];

/// `sha256:<hex>` of a file.
pub fn digest(path: &Path) -> Result<String, CheckpointError> {
    let read_err = |source| CheckpointError::ReadMeta {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CheckpointError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            read_err(e)
        }
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

/// The checksums of the tensor files in `dir`.
pub fn checksums(dir: &Path) -> Result<BTreeMap<String, String>, CheckpointError> {
    TENSOR_FILES
        .iter()
        .map(|f| Ok((f.to_string(), digest(&dir.join(f))?)))
        .collect()
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// Every tensor file matches its recorded checksum.
    Verified,
    /// The checkpoint records no checksums (saved by an older diffscope): not checked.
    Unchecked,
}

impl Integrity {
    /// A notice for an unchecked checkpoint.
    pub fn notice(&self, ck: &Checkpoint) -> Option<String> {
        (*self == Integrity::Unchecked).then(|| {
            format!(
                "{}: no checksums (saved by an older diffscope), so its files were not verified",
                ck.dir.display()
            )
        })
    }
}

/// Checks every tensor file of `ck` against the checksums in its metadata.
pub fn verify(ck: &Checkpoint) -> Result<Integrity, CheckpointError> {
    let Some(sums) = &ck.meta.checksums else {
        return Ok(Integrity::Unchecked);
    };
    for file in TENSOR_FILES {
        let path = ck.dir.join(file);
        let found = digest(&path)?;
        match sums.get(file) {
            Some(expected) if *expected == found => {}
            Some(expected) => {
                return Err(CheckpointError::Checksum {
                    path,
                    expected: expected.clone(),
                    found,
                })
            }
            None => return Err(CheckpointError::NoChecksum { path }),
        }
    }
    Ok(Integrity::Verified)
}
