//! An image folder: PNG and JPEG files found recursively, converted to gray or RGB,
//! resized (shorter side first) and centre-cropped to the configured size. Unreadable files
//! are skipped and counted; a folder with nothing usable is an error.

use super::{DataError, Dataset, Source, Split};
use crate::rng::Rng;
use image::imageops::FilterType;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderConfig {
    /// The folder to search (the command line can point it elsewhere).
    pub path: PathBuf,
    /// Output height and width (may differ if the U-Net allows it).
    pub height: u32,
    pub width: u32,
    /// 1 (gray) or 3 (RGB).
    #[serde(default = "default_channels")]
    pub channels: u32,
    /// Use at most this many images (0: all).
    #[serde(default)]
    pub limit: usize,
}

fn default_channels() -> u32 {
    3
}

/// The PNG and JPEG files under `dir`, sorted, searched recursively; a folder that
/// cannot be listed is an error.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
    let fail = |source| DataError::ReadFolder {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(fail)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// The class subfolders of `root`, in name order, when every image sits in one of at
/// least two (and at most 256) of them: the folder is then labelled by subfolder.
fn class_folders(root: &Path, files: &[PathBuf]) -> Option<Vec<std::ffi::OsString>> {
    let mut names = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root).ok()?;
        let mut parts = rel.components();
        let first = parts.next()?;
        parts.next()?;
        names.push(first.as_os_str().to_os_string());
    }
    names.sort();
    names.dedup();
    (2..=256).contains(&names.len()).then_some(names)
}

/// The label of `file`: the index of its class subfolder.
fn class_of(root: &Path, file: &Path, classes: &[std::ffi::OsString]) -> u8 {
    let first = file
        .strip_prefix(root)
        .ok()
        .and_then(|r| r.components().next())
        .map(|c| c.as_os_str().to_os_string());
    first
        .and_then(|f| classes.binary_search(&f).ok())
        .unwrap_or(0) as u8
}

impl FolderConfig {
    fn convert(&self, img: image::DynamicImage) -> Vec<f32> {
        let (w, h) = (self.width, self.height);
        let scale = (w as f64 / img.width() as f64).max(h as f64 / img.height() as f64);
        let nw = ((img.width() as f64 * scale).round() as u32).max(w);
        let nh = ((img.height() as f64 * scale).round() as u32).max(h);
        let resized = img.resize_exact(nw, nh, FilterType::Triangle);
        let cropped = resized.crop_imm((nw - w) / 2, (nh - h) / 2, w, h);
        let hw = (w * h) as usize;
        if self.channels == 1 {
            cropped
                .to_luma8()
                .pixels()
                .map(|p| p.0[0] as f32 / 127.5 - 1.0)
                .collect()
        } else {
            let rgb = cropped.to_rgb8();
            let mut v = vec![0f32; 3 * hw];
            for (i, p) in rgb.pixels().enumerate() {
                for c in 0..3 {
                    v[c * hw + i] = p.0[c] as f32 / 127.5 - 1.0;
                }
            }
            v
        }
    }
}

impl Source for FolderConfig {
    fn load(&self, _seed: u64, split: Split) -> Result<Dataset, DataError> {
        let path = || self.path.clone();
        if !(self.channels == 1 || self.channels == 3) {
            return Err(DataError::Channels {
                path: path(),
                channels: self.channels,
            });
        }
        if self.width == 0 || self.height == 0 {
            return Err(DataError::ZeroSize { path: path() });
        }
        if !self.path.is_dir() {
            return Err(DataError::MissingFolder {
                path: path(),
                what: "image folder",
                help: "point the preset's data path at a folder of PNG or JPEG files",
            });
        }
        let mut files = Vec::new();
        collect(&self.path, &mut files)?;
        if files.is_empty() {
            return Err(DataError::NoImages { path: path() });
        }
        let classes = class_folders(&self.path, &files);
        // A fixed 10% of the files (at least one when there are ten or more) is held out.
        Rng::new(0x0F01_DE12).shuffle(&mut files);
        let held = if files.len() >= 10 {
            (files.len() / 10).max(1)
        } else {
            0
        };
        let (train, test) = files.split_at(files.len() - held);
        let (chosen, limit) = match split {
            Split::Train => (train, self.limit),
            Split::Held(n) => (if test.is_empty() { train } else { test }, n),
        };
        let mut values = Vec::new();
        let mut labels = Vec::new();
        let mut used = 0usize;
        let mut skipped = 0usize;
        let mut first_failure: Option<(PathBuf, image::ImageError)> = None;
        for p in chosen {
            if limit > 0 && used >= limit {
                break;
            }
            match image::open(p) {
                Ok(img) => {
                    values.extend(self.convert(img));
                    if let Some(classes) = &classes {
                        labels.push(class_of(&self.path, p, classes));
                    }
                    used += 1;
                }
                Err(e) => {
                    skipped += 1;
                    first_failure.get_or_insert((p.clone(), e));
                }
            }
        }
        let mut notes = Vec::new();
        if let Some((first, source)) = first_failure {
            if used == 0 {
                return Err(DataError::Unreadable {
                    path: path(),
                    count: skipped,
                    first,
                    source: Box::new(source),
                });
            }
            notes.push(format!(
                "skipped {skipped} unreadable image(s) in {} (first: {}: {source})",
                self.path.display(),
                first.display(),
            ));
        }
        let mut data = Dataset::images(
            format!("{} ({}×{})", self.path.display(), self.height, self.width),
            [self.channels as i64, self.height as i64, self.width as i64],
            values,
            classes.map(|_| labels),
        );
        data.notes = notes;
        Ok(data)
    }

    fn describe(&self) -> String {
        format!(
            "images from {} at {}×{}, {} channel(s)",
            self.path.display(),
            self.height,
            self.width,
            self.channels
        )
    }
}
