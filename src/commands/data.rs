//! `diffscope data`: shows (or exports) the training data exactly as the model sees it.

use super::sample::{check_writable, default_scale, picture};
use crate::cli::DataArgs;
use crate::config::Preset;
use crate::data::{Batcher, ItemKind, Split};
use crate::render::grid::image_grid;
use crate::render::scatter::png_bytes;
use crate::util::write_atomic;
use std::fmt::Write;

pub fn run(a: &DataArgs) -> Result<(), String> {
    if a.n <= 0 {
        return Err(format!("--n {}: at least one item is needed", a.n));
    }
    if a.out.is_none() && a.export.is_none() {
        return Err(
            "diffscope data: nothing to do; give --out FILE.png and/or --export DIR".into(),
        );
    }
    if a.scale == Some(0) {
        return Err("--scale 0: the scale must be at least 1".into());
    }
    if let Some(out) = &a.out {
        if !out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        {
            return Err(format!("{}: --out writes a .png picture", out.display()));
        }
        check_writable(out)?;
    }
    let mut preset = Preset::load(&a.preset)?.preset;
    if let Some(p) = &a.data {
        preset.data.set_path(p.clone())?;
    }
    let data = preset
        .data
        .source()
        .load(preset.train.seed, Split::Train)
        .map_err(|e| e.to_string())?;
    for note in &data.notes {
        eprintln!("note: {note}");
    }
    let n = (a.n as usize).min(data.len());
    // The first batch of training, in the order and orientation the model gets it.
    let idx = Batcher::new(preset.train.seed, data.len(), n).indices(0);
    let mut values = Vec::with_capacity(n * data.item_len());
    for &i in &idx {
        values.extend_from_slice(data.item(i));
    }
    if let Some(out) = &a.out {
        let scale = a.scale.unwrap_or_else(|| default_scale(&data.item_shape));
        let reference: &[f32] = if data.kind == ItemKind::Points {
            &data.values
        } else {
            &[]
        };
        // for 2-D data, the whole set faint and the chosen items bright
        let img = picture(&values, &data.item_shape, reference, scale, 640);
        write_atomic(out, &png_bytes(&img)?)?;
        eprintln!("{n} items of {} written to {}", data.name, out.display());
    }
    if let Some(dir) = &a.export {
        if data.kind != ItemKind::Image {
            return Err(format!(
                "{}: --export writes images; this preset's data are 2-D points",
                dir.display()
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create the folder: {e}", dir.display()))?;
        let shape = [
            data.item_shape[0] as usize,
            data.item_shape[1] as usize,
            data.item_shape[2] as usize,
        ];
        let names = preset.data.class_names();
        let mut csv = String::from("file,label,class\n");
        for (k, &i) in idx.iter().enumerate() {
            let file = format!("{k:05}.png");
            let img = image_grid(data.item(i), 1, shape, 1, 1, 0, [0, 0, 0]);
            write_atomic(&dir.join(&file), &png_bytes(&img)?)?;
            if let Some(labels) = &data.labels {
                let l = labels[i] as usize;
                let class = names
                    .as_ref()
                    .and_then(|n| n.get(l).cloned())
                    .unwrap_or_default();
                let _ = writeln!(csv, "{file},{l},{class}");
            }
        }
        if data.labels.is_some() {
            write_atomic(&dir.join("labels.csv"), csv.as_bytes())?;
        }
        eprintln!("{n} images exported to {}", dir.display());
    }
    Ok(())
}
