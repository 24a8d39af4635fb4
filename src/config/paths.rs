//! Where diffscope looks for presets, themes and checkpoints.

use std::path::PathBuf;

/// The user's configuration folder (e.g. `~/.config/diffscope`), if the platform has one.
pub(crate) fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "diffscope").map(|d| d.config_dir().to_path_buf())
}

/// The user's data folder (e.g. `~/.local/share/diffscope`), for checkpoints and caches.
pub(crate) fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "diffscope").map(|d| d.data_dir().to_path_buf())
}

/// Folders searched for presets by name, in order: `./presets`, then the user's.
pub(crate) fn preset_dirs() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("presets")];
    if let Some(c) = config_dir() {
        v.push(c.join("presets"));
    }
    v
}

/// Where trained helper models (e.g. the evaluation classifiers) are cached:
/// `$DIFFSCOPE_CACHE` when set, else `cache/` in the user's data folder, else `./.cache`.
pub(crate) fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("DIFFSCOPE_CACHE") {
        return PathBuf::from(p);
    }
    data_dir()
        .map(|d| d.join("cache"))
        .unwrap_or_else(|| PathBuf::from(".cache"))
}

/// The `.ron` files directly in `dir`, sorted; none when it does not exist.
pub(crate) fn ron_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}
