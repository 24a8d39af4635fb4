//! Checkpoints: a folder per save inside a run folder,
//!
//! ```text
//! checkpoints/swissroll-20261125-130501/      the run folder
//!     step-00006000/
//!         model.safetensors                   raw weights
//!         ema.safetensors                     EMA weights
//!         optim.safetensors                   Adam moments (m.<name>, v.<name>)
//!         meta.ron                            preset, step, seed, loss, command, …
//! ```
//!
//! Each save is written into a hidden temporary folder, every file is fsynced, and the
//! folder is renamed into place: a kill during a save never leaves a broken checkpoint.
//! `meta.ron` is written last, so a step folder without it is ignored. A step folder
//! that exists is never replaced: saving a step again writes nothing.

use super::adam::StateError;
use crate::config::{parse_ron, ConfigError, Preset, PresetError};
use crate::util::{fsync_dir, write_atomic, TorchError, WriteError};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

pub(crate) const FORMAT_VERSION: u32 = 1;
pub(crate) const MODEL_FILE: &str = "model.safetensors";
pub(crate) const EMA_FILE: &str = "ema.safetensors";
pub(crate) const OPTIM_FILE: &str = "optim.safetensors";
pub(crate) const META_FILE: &str = "meta.ron";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    pub format: u32,
    /// The whole configuration the model was trained with.
    pub preset: Preset,
    /// Training steps completed.
    pub step: u64,
    pub seed: u64,
    /// Loss of the last step before the save.
    pub loss: Option<f64>,
    /// Adam's update count (for the bias corrections).
    pub optimizer_updates: u64,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    /// Saved by hand (never pruned).
    pub manual: bool,
    /// The command that trained it.
    pub command: String,
    /// SHA-256 of each tensor file (`model.safetensors` → `sha256:…`), checked on load.
    /// Absent in checkpoints saved before checksums existed.
    #[serde(default)]
    pub checksums: Option<std::collections::BTreeMap<String, String>>,
}

pub struct Checkpoint {
    pub dir: PathBuf,
    pub meta: CheckpointMeta,
}

/// A checkpoint that cannot be written or read. Every variant names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}: cannot create the checkpoint folder", path.display())]
    CreateFolder {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot write a checkpoint here", path.display())]
    TempFolder {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot write", path.display())]
    WriteTensors {
        path: PathBuf,
        #[source]
        source: TorchError,
    },
    #[error("{}: cannot sync", path.display())]
    Sync {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot serialise checkpoint metadata")]
    SerialiseMeta(#[source] Box<ron::Error>),
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A finished checkpoint could not be moved into place.
    #[error("{}", path.display())]
    Rename {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: no such checkpoint", path.display())]
    NotFound { path: PathBuf },
    #[error(
        "{}: not a checkpoint folder (expected a folder with {META_FILE})",
        path.display()
    )]
    NotCheckpoint { path: PathBuf },
    #[error("{}: no complete checkpoint in this folder", path.display())]
    Empty { path: PathBuf },
    #[error("{}: cannot list this folder", path.display())]
    ReadFolder {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot read", path.display())]
    ReadMeta {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `meta.ron` does not parse (the file, line and column are in the cause).
    #[error(transparent)]
    Meta(#[from] ConfigError),
    #[error(
        "{}: checkpoint format {found} is not supported (this diffscope reads {FORMAT_VERSION})",
        path.display()
    )]
    Format { path: PathBuf, found: u32 },
    /// The preset stored in `meta.ron` is not valid.
    #[error("{}", path.display())]
    InvalidPreset {
        path: PathBuf,
        #[source]
        source: PresetError,
    },
    #[error("{}: missing", path.display())]
    MissingFile { path: PathBuf },
    #[error(
        "{}: not a readable safetensors file (truncated or corrupt?)",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        #[source]
        source: TorchError,
    },
    #[error(
        "{}: no tensor {name}: the checkpoint was made for another architecture",
        path.display()
    )]
    MissingTensor { path: PathBuf, name: String },
    #[error(
        "{}: tensor {name} has shape {file:?} in the file but {model:?} in the model: the \
         checkpoint was made for another architecture",
        path.display()
    )]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        file: Vec<i64>,
        model: Vec<i64>,
    },
    #[error(
        "{}: the network outputs {found} channels, but its preset's variance ({variance:?}) \
         needs {expected}",
        path.display()
    )]
    OutputChannels {
        path: PathBuf,
        found: i64,
        expected: i64,
        variance: crate::diffusion::VarianceKind,
    },
    #[error("{}", path.display())]
    ResamplerState {
        path: PathBuf,
        #[source]
        source: crate::diffusion::resample::ResampleStateError,
    },
    #[error(
        "{}: unexpected tensor {name}: the checkpoint was made for another architecture",
        path.display()
    )]
    UnexpectedTensor { path: PathBuf, name: String },
    #[error(
        "{}: checksum mismatch: the file changed on disk after it was saved (recorded {expected}, \
         found {found})",
        path.display()
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{}: its checkpoint records no checksum for it", path.display())]
    NoChecksum { path: PathBuf },
    #[error("{}: tensor {name}", path.display())]
    CopyTensor {
        path: PathBuf,
        name: String,
        #[source]
        source: TorchError,
    },
    /// Saved optimiser moments that do not fit the model.
    #[error("{}", path.display())]
    OptimizerState {
        path: PathBuf,
        #[source]
        source: StateError,
    },
    #[error("{}: cannot remove", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: exists and is not a folder", path.display())]
    NotAFolder { path: PathBuf },
    /// The step folder exists already: a save never replaces what is on disk.
    #[error("{}: already saved; nothing was written", path.display())]
    AlreadySaved { path: PathBuf },
    /// A folder by the step folder's name that is not a complete checkpoint.
    #[error("{}: exists but holds no complete checkpoint (no meta.ron); not replaced", path.display())]
    InTheWay { path: PathBuf },
    /// A fresh run asked for a folder that already holds checkpoints.
    #[error("{}: already holds checkpoints", path.display())]
    RunExists { path: PathBuf },
    #[error("{}: cannot create the output folder", path.display())]
    CreateRunFolder {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot write checkpoints here", path.display())]
    Unwritable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The step folder name for a step.
pub(crate) fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

fn fsync_file(path: &Path) -> Result<(), CheckpointError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| CheckpointError::Sync {
            path: path.to_path_buf(),
            source,
        })
}

/// Why a step folder cannot be written: it exists already (None: it does not).
fn occupied(dest: &Path) -> Option<CheckpointError> {
    let path = dest.to_path_buf();
    if dest.join(META_FILE).exists() {
        Some(CheckpointError::AlreadySaved { path })
    } else if dest.exists() {
        Some(CheckpointError::InTheWay { path })
    } else {
        None
    }
}

/// Writes a complete checkpoint for `meta.step` into `run_dir` and returns its folder.
/// A step folder that exists already is never replaced: that is
/// [`CheckpointError::AlreadySaved`], and nothing is written.
pub fn write(
    run_dir: &Path,
    meta: &CheckpointMeta,
    model: &[(String, Tensor)],
    ema: &[(String, Tensor)],
    optim: &[(String, Tensor)],
) -> Result<PathBuf, CheckpointError> {
    fs::create_dir_all(run_dir).map_err(|source| CheckpointError::CreateFolder {
        path: run_dir.to_path_buf(),
        source,
    })?;
    let name = step_dir_name(meta.step);
    let dest = run_dir.join(&name);
    if let Some(e) = occupied(&dest) {
        return Err(e);
    }
    let tmp = run_dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp).map_err(|source| CheckpointError::TempFolder {
        path: run_dir.to_path_buf(),
        source,
    })?;
    let res = (|| {
        for (file, tensors) in [(MODEL_FILE, model), (EMA_FILE, ema), (OPTIM_FILE, optim)] {
            let p = tmp.join(file);
            let cpu: Vec<(String, Tensor)> = tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.to_device(tch::Device::Cpu)))
                .collect();
            Tensor::write_safetensors(&cpu, &p).map_err(|e| CheckpointError::WriteTensors {
                path: p.clone(),
                source: e.into(),
            })?;
            fsync_file(&p)?;
        }
        let mut meta = meta.clone();
        meta.checksums = Some(super::integrity::checksums(&tmp)?);
        let text = ron::ser::to_string_pretty(&meta, ron::ser::PrettyConfig::default())
            .map_err(|e| CheckpointError::SerialiseMeta(Box::new(e)))?;
        write_atomic(&tmp.join(META_FILE), text.as_bytes())?;
        fsync_dir(&tmp);
        if let Some(e) = occupied(&dest) {
            // Saved meanwhile by another process: theirs stays.
            return Err(e);
        }
        // Renaming onto a folder that appeared since fails (it is not empty): it stays.
        fs::rename(&tmp, &dest).map_err(|source| {
            occupied(&dest).unwrap_or(CheckpointError::Rename {
                path: dest.clone(),
                source,
            })
        })?;
        fsync_dir(run_dir);
        Ok(dest)
    })();
    if res.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    res
}

/// The complete step folders of a run, sorted by step; none when the folder does not
/// exist. A folder that exists but cannot be listed is an error.
pub fn list_steps(run_dir: &Path) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
    let fail = |source| CheckpointError::ReadFolder {
        path: run_dir.to_path_buf(),
        source,
    };
    let entries = match fs::read_dir(run_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fail(e)),
    };
    let mut v = Vec::new();
    for e in entries {
        let e = e.map_err(fail)?;
        let name = e.file_name().to_string_lossy().to_string();
        let Some(step) = name
            .strip_prefix("step-")
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let p = e.path();
        if p.join(META_FILE).is_file() {
            v.push((step, p));
        }
    }
    v.sort();
    Ok(v)
}

/// Resolves PATH to a step folder: a step folder itself, or the latest complete step of
/// a run folder.
pub fn resolve(path: &Path) -> Result<PathBuf, CheckpointError> {
    if path.join(META_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.exists() {
        return Err(CheckpointError::NotFound {
            path: path.to_path_buf(),
        });
    }
    if path.is_file() {
        if let Some(parent) = path.parent() {
            if parent.join(META_FILE).is_file() {
                return Ok(parent.to_path_buf());
            }
        }
        return Err(CheckpointError::NotCheckpoint {
            path: path.to_path_buf(),
        });
    }
    list_steps(path)?
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| CheckpointError::Empty {
            path: path.to_path_buf(),
        })
}

/// Reads a checkpoint's metadata.
pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let dir = resolve(path)?;
    let meta_path = dir.join(META_FILE);
    let text = fs::read_to_string(&meta_path).map_err(|source| CheckpointError::ReadMeta {
        path: meta_path.clone(),
        source,
    })?;
    let meta: CheckpointMeta = parse_ron(&text, &meta_path)?;
    if meta.format != FORMAT_VERSION {
        return Err(CheckpointError::Format {
            path: meta_path,
            found: meta.format,
        });
    }
    meta.preset
        .validate()
        .map_err(|source| CheckpointError::InvalidPreset {
            path: meta_path.clone(),
            source,
        })?;
    Ok(Checkpoint { dir, meta })
}

/// Reads all tensors of a safetensors file; a truncated or corrupt file is an error.
pub(crate) fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    if !path.is_file() {
        return Err(CheckpointError::MissingFile {
            path: path.to_path_buf(),
        });
    }
    Tensor::read_safetensors(path).map_err(|e| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

/// Checks that the network saved in `path` has the output channels its preset's variance
/// needs: the item's channels (coordinates for points), twice as many with a learned
/// variance.
pub(crate) fn check_outputs(
    path: &Path,
    tensors: &[(String, Tensor)],
    preset: &Preset,
    item_shape: &[i64],
) -> Result<(), CheckpointError> {
    let key = crate::model::Denoiser::output_weight(&preset.model);
    let Some((_, weight)) = tensors.iter().find(|(n, _)| n == key) else {
        // a missing tensor is named by `copy_into`
        return Ok(());
    };
    let variance = preset.diffusion.variance;
    let factor = if variance == crate::diffusion::VarianceKind::Learned {
        2
    } else {
        1
    };
    let expected = item_shape.first().copied().unwrap_or(1) * factor;
    let found = weight.size().first().copied().unwrap_or(0);
    if found != expected {
        return Err(CheckpointError::OutputChannels {
            path: path.to_path_buf(),
            found,
            expected,
            variance,
        });
    }
    Ok(())
}

/// Copies `tensors`, read from `path`, into the variables of `vs`, checking names and
/// shapes.
pub(crate) fn copy_into(
    path: &Path,
    tensors: &[(String, Tensor)],
    vs: &nn::VarStore,
) -> Result<(), CheckpointError> {
    let vars = vs.variables();
    let _g = tch::no_grad_guard();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let Some(src) = tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t) else {
            return Err(CheckpointError::MissingTensor {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        };
        let mut dst = vars[name].shallow_clone();
        if src.size() != dst.size() {
            return Err(CheckpointError::ShapeMismatch {
                path: path.to_path_buf(),
                name: name.clone(),
                file: src.size(),
                model: dst.size(),
            });
        }
        dst.f_copy_(src).map_err(|e| CheckpointError::CopyTensor {
            path: path.to_path_buf(),
            name: name.clone(),
            source: e.into(),
        })?;
    }
    if let Some((extra, _)) = tensors.iter().find(|(n, _)| !vars.contains_key(n)) {
        return Err(CheckpointError::UnexpectedTensor {
            path: path.to_path_buf(),
            name: extra.clone(),
        });
    }
    Ok(())
}

/// Clears what a process killed in the middle of a save left in `run_dir`: temporary
/// step folders and files are removed; a step folder moved aside to be replaced
/// (`.step-N.old`) goes back when its replacement never arrived. Only for a folder this
/// process holds the run lock of. Best effort: what cannot be removed stays.
pub(crate) fn clear_leftovers(run_dir: &Path) {
    let Ok(entries) = fs::read_dir(run_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(inner) = name.strip_prefix('.') else {
            continue;
        };
        let p = e.path();
        if let Some(step) = inner
            .strip_suffix(".old")
            .filter(|s| s.starts_with("step-"))
        {
            let dest = run_dir.join(step);
            if dest.exists() {
                let _ = fs::remove_dir_all(&p);
            } else {
                let _ = fs::rename(&p, &dest);
            }
        } else if inner.ends_with(".tmp") {
            if p.is_dir() {
                let _ = fs::remove_dir_all(&p);
            } else {
                let _ = fs::remove_file(&p);
            }
        }
    }
    fsync_dir(run_dir);
}

/// Keeps the `keep` newest periodic checkpoints of a run; hand-made ones are never removed.
/// A step whose metadata cannot be read is kept too: nothing is removed on a guess.
pub(crate) fn prune(run_dir: &Path, keep: usize) -> Result<(), CheckpointError> {
    let periodic: Vec<PathBuf> = list_steps(run_dir)?
        .into_iter()
        .filter(|(_, p)| read(p).is_ok_and(|c| !c.meta.manual))
        .map(|(_, p)| p)
        .collect();
    let excess = periodic.len().saturating_sub(keep.max(1));
    for p in periodic.into_iter().take(excess) {
        fs::remove_dir_all(&p).map_err(|source| CheckpointError::Remove { path: p, source })?;
    }
    Ok(())
}

/// Makes sure checkpoints can be written to `dir`; a fresh run refuses a folder that
/// already holds checkpoints, so nothing saved is overwritten.
pub(crate) fn prepare_run_dir(dir: &Path, resuming: bool) -> Result<(), CheckpointError> {
    let path = || dir.to_path_buf();
    if dir.exists() && !dir.is_dir() {
        return Err(CheckpointError::NotAFolder { path: path() });
    }
    if !resuming && dir.is_dir() && !list_steps(dir)?.is_empty() {
        return Err(CheckpointError::RunExists { path: path() });
    }
    fs::create_dir_all(dir).map_err(|source| CheckpointError::CreateRunFolder {
        path: path(),
        source,
    })?;
    let probe = dir.join(".diffscope-write-test");
    fs::write(&probe, b"").map_err(|source| CheckpointError::Unwritable {
        path: path(),
        source,
    })?;
    let _ = fs::remove_file(probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clear_leftovers;
    use std::fs;

    #[test]
    fn leftovers_of_a_killed_save_are_cleared_and_a_step_moved_aside_comes_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::create_dir(p.join(".step-00000010.tmp")).unwrap();
        fs::write(p.join(".step-00000010.tmp/model.safetensors"), b"half").unwrap();
        // killed between moving step 20 aside and putting its replacement in place
        fs::create_dir(p.join(".step-00000020.old")).unwrap();
        fs::write(p.join(".step-00000020.old/meta.ron"), b"kept").unwrap();
        // killed after the replacement arrived
        fs::create_dir(p.join("step-00000030")).unwrap();
        fs::create_dir(p.join(".step-00000030.old")).unwrap();
        fs::write(p.join(".metrics.csv.tmp"), b"x").unwrap();
        fs::write(p.join("metrics.csv"), b"step\n").unwrap();
        clear_leftovers(p);
        let mut names: Vec<String> = fs::read_dir(p)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["metrics.csv", "step-00000020", "step-00000030"]);
        assert_eq!(fs::read(p.join("step-00000020/meta.ron")).unwrap(), b"kept");
    }
}
