//! Listings for the checkpoint browser and the preset picker (file system only; run off
//! the UI thread).

use crate::config::preset::BUILTIN;
use crate::config::{paths, Preset};
use crate::train::checkpoint::{CheckpointMeta, META_FILE};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointEntry {
    /// The step folder.
    pub dir: PathBuf,
    pub preset: String,
    pub step: u64,
    pub loss: Option<f64>,
    pub created_unix: u64,
    pub manual: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PresetEntry {
    /// What `Preset::load` accepts: a path or a built-in name.
    pub source: String,
    pub name: String,
    pub description: String,
    /// Where it lives, for display.
    pub origin: String,
}

/// Folders the checkpoint browser lists: `./checkpoints` and the user data folder's.
pub fn checkpoint_roots() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("checkpoints")];
    if let Some(d) = paths::data_dir() {
        v.push(d.join("checkpoints"));
    }
    v
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<CheckpointEntry>) {
    if depth > 6 {
        return;
    }
    let meta_path = dir.join(META_FILE);
    if meta_path.is_file() {
        if let Ok(text) = std::fs::read_to_string(&meta_path) {
            if let Ok(m) = crate::config::parse_ron::<CheckpointMeta>(&text, &meta_path) {
                out.push(CheckpointEntry {
                    dir: dir.to_path_buf(),
                    preset: m.preset.name,
                    step: m.step,
                    loss: m.loss,
                    created_unix: m.created_unix,
                    manual: m.manual,
                });
            }
        }
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    subs.sort();
    for s in subs {
        walk(&s, depth + 1, out);
    }
}

/// Every complete checkpoint under `roots`, newest first.
pub fn scan_checkpoints(roots: &[PathBuf]) -> Vec<CheckpointEntry> {
    let mut out = Vec::new();
    for r in roots {
        walk(r, 0, &mut out);
    }
    out.sort_by(|a, b| {
        b.created_unix
            .cmp(&a.created_unix)
            .then_with(|| b.step.cmp(&a.step))
            .then_with(|| a.dir.cmp(&b.dir))
    });
    out
}

/// Deletes a step folder, and its run folder when nothing else is left in it.
pub fn delete_checkpoint(dir: &Path) -> Result<(), String> {
    if !dir.join(META_FILE).is_file() {
        return Err(format!("{}: not a checkpoint folder", dir.display()));
    }
    std::fs::remove_dir_all(dir).map_err(|e| format!("{}: cannot delete: {e}", dir.display()))?;
    if let Some(run) = dir.parent() {
        if std::fs::read_dir(run).is_ok_and(|mut r| r.next().is_none()) {
            let _ = std::fs::remove_dir(run);
        }
    }
    Ok(())
}

/// Presets in `./presets` and the user's config folder, then the built-in ones not
/// shadowed by a file. Files that fail to parse are listed with their error.
pub fn scan_presets() -> Vec<PresetEntry> {
    let mut out: Vec<PresetEntry> = Vec::new();
    for dir in paths::preset_dirs() {
        let files = paths::ron_files(&dir);
        for p in files {
            let (name, description) = match Preset::from_file(&p) {
                Ok(pr) => (pr.name, pr.description),
                Err(e) => (
                    p.file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    format!("cannot be used: {}", crate::util::one_line(&e)),
                ),
            };
            if out.iter().any(|e| e.name == name) {
                continue;
            }
            out.push(PresetEntry {
                source: p.display().to_string(),
                name,
                description,
                origin: dir.display().to_string(),
            });
        }
    }
    for (n, text) in BUILTIN {
        if out.iter().any(|e| e.name == *n) {
            continue;
        }
        let origin = PathBuf::from(format!("<builtin>/{n}.ron"));
        if let Ok(p) = Preset::parse(text, &origin) {
            out.push(PresetEntry {
                source: n.to_string(),
                name: p.name,
                description: p.description,
                origin: "built in".into(),
            });
        }
    }
    out
}
