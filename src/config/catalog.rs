//! The presets there are to choose from: files in `./presets` and the user's config
//! folder, and the built-in ones.

use super::preset::BUILTIN;
use super::{paths, Preset};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct PresetEntry {
    /// What `Preset::load` accepts: a path or a built-in name.
    pub source: String,
    pub name: String,
    pub description: String,
    /// Where it lives, for display.
    pub origin: String,
}

/// Presets in `./presets` and the user's config folder, then the built-in ones not
/// shadowed by a file. Files that fail to parse are listed with their error.
pub(crate) fn scan_presets() -> Vec<PresetEntry> {
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
