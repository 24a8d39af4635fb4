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
//! `meta.ron` is written last, so a step folder without it is ignored.

use crate::config::{parse_ron, Preset};
use crate::util::{fsync_dir, write_atomic};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

pub const FORMAT_VERSION: u32 = 1;
pub const MODEL_FILE: &str = "model.safetensors";
pub const EMA_FILE: &str = "ema.safetensors";
pub const OPTIM_FILE: &str = "optim.safetensors";
pub const META_FILE: &str = "meta.ron";

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
}

pub struct Checkpoint {
    pub dir: PathBuf,
    pub meta: CheckpointMeta,
}

/// The step folder name for a step.
pub fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

fn fsync_file(path: &Path) -> Result<(), String> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: cannot sync: {e}", path.display()))
}

/// Writes a complete checkpoint for `meta.step` into `run_dir` and returns its folder.
pub fn write(
    run_dir: &Path,
    meta: &CheckpointMeta,
    model: &[(String, Tensor)],
    ema: &[(String, Tensor)],
    optim: &[(String, Tensor)],
) -> Result<PathBuf, String> {
    fs::create_dir_all(run_dir).map_err(|e| {
        format!(
            "{}: cannot create the checkpoint folder: {e}",
            run_dir.display()
        )
    })?;
    let name = step_dir_name(meta.step);
    let tmp = run_dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp)
        .map_err(|e| format!("{}: cannot write a checkpoint here: {e}", run_dir.display()))?;
    let res = (|| {
        for (file, tensors) in [(MODEL_FILE, model), (EMA_FILE, ema), (OPTIM_FILE, optim)] {
            let p = tmp.join(file);
            let cpu: Vec<(String, Tensor)> = tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.to_device(tch::Device::Cpu)))
                .collect();
            Tensor::write_safetensors(&cpu, &p)
                .map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
            fsync_file(&p)?;
        }
        let text = ron::ser::to_string_pretty(meta, ron::ser::PrettyConfig::default())
            .map_err(|e| format!("cannot serialise checkpoint metadata: {e}"))?;
        write_atomic(&tmp.join(META_FILE), text.as_bytes())?;
        fsync_dir(&tmp);
        let dest = run_dir.join(&name);
        if dest.exists() {
            // Same step saved again: move the old one aside first, then drop it.
            let old = run_dir.join(format!(".{name}.old"));
            let _ = fs::remove_dir_all(&old);
            fs::rename(&dest, &old).map_err(|e| format!("{}: {e}", dest.display()))?;
            fs::rename(&tmp, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
            let _ = fs::remove_dir_all(&old);
        } else {
            fs::rename(&tmp, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
        fsync_dir(run_dir);
        Ok(dest)
    })();
    if res.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    res
}

/// The complete step folders of a run, sorted by step.
pub fn list_steps(run_dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = fs::read_dir(run_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let step = name.strip_prefix("step-")?.parse::<u64>().ok()?;
            let p = e.path();
            p.join(META_FILE).is_file().then_some((step, p))
        })
        .collect();
    v.sort();
    v
}

/// Resolves PATH to a step folder: a step folder itself, or the latest complete step of
/// a run folder.
pub fn resolve(path: &Path) -> Result<PathBuf, String> {
    if path.join(META_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.exists() {
        return Err(format!("{}: no such checkpoint", path.display()));
    }
    if path.is_file() {
        if let Some(parent) = path.parent() {
            if parent.join(META_FILE).is_file() {
                return Ok(parent.to_path_buf());
            }
        }
        return Err(format!(
            "{}: not a checkpoint folder (expected a folder with {META_FILE})",
            path.display()
        ));
    }
    list_steps(path)
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| format!("{}: no complete checkpoint in this folder", path.display()))
}

/// Reads a checkpoint's metadata.
pub fn read(path: &Path) -> Result<Checkpoint, String> {
    let dir = resolve(path)?;
    let meta_path = dir.join(META_FILE);
    let text = fs::read_to_string(&meta_path)
        .map_err(|e| format!("{}: cannot read: {e}", meta_path.display()))?;
    let meta: CheckpointMeta = parse_ron(&text, &meta_path)?;
    if meta.format != FORMAT_VERSION {
        return Err(format!(
            "{}: checkpoint format {} is not supported (this diffscope reads {FORMAT_VERSION})",
            meta_path.display(),
            meta.format
        ));
    }
    meta.preset
        .validate()
        .map_err(|e| format!("{}: {e}", meta_path.display()))?;
    Ok(Checkpoint { dir, meta })
}

/// Reads all tensors of a safetensors file; a truncated or corrupt file is an error.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, String> {
    if !path.is_file() {
        return Err(format!("{}: missing", path.display()));
    }
    Tensor::read_safetensors(path).map_err(|e| {
        let msg = e.to_string();
        let first = msg.lines().next().unwrap_or("").trim().to_string();
        format!(
            "{}: not a readable safetensors file (truncated or corrupt?): {first}",
            path.display()
        )
    })
}

/// Copies the tensors of `path` into the variables of `vs`, checking names and shapes.
pub fn load_into(path: &Path, vs: &nn::VarStore) -> Result<(), String> {
    let tensors = read_tensors(path)?;
    let vars = vs.variables();
    let _g = tch::no_grad_guard();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let src = tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| {
                format!(
                    "{}: no tensor {name}: the checkpoint was made for another architecture",
                    path.display()
                )
            })?;
        let mut dst = vars[name].shallow_clone();
        if src.size() != dst.size() {
            return Err(format!(
                "{}: tensor {name} has shape {:?} in the file but {:?} in the model: \
                 the checkpoint was made for another architecture",
                path.display(),
                src.size(),
                dst.size()
            ));
        }
        dst.f_copy_(src)
            .map_err(|e| format!("{}: tensor {name}: {e}", path.display()))?;
    }
    if let Some((extra, _)) = tensors.iter().find(|(n, _)| !vars.contains_key(n)) {
        return Err(format!(
            "{}: unexpected tensor {extra}: the checkpoint was made for another architecture",
            path.display()
        ));
    }
    Ok(())
}

/// Keeps the `keep` newest periodic checkpoints of a run; hand-made ones are never removed.
pub fn prune(run_dir: &Path, keep: usize) -> Result<(), String> {
    let periodic: Vec<PathBuf> = list_steps(run_dir)
        .into_iter()
        .filter(|(_, p)| read(p).map(|c| !c.meta.manual).unwrap_or(false))
        .map(|(_, p)| p)
        .collect();
    let excess = periodic.len().saturating_sub(keep.max(1));
    for p in periodic.into_iter().take(excess) {
        fs::remove_dir_all(&p).map_err(|e| format!("{}: cannot remove: {e}", p.display()))?;
    }
    Ok(())
}
