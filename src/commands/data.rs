//! `diffscope data`: shows (or exports) the training data exactly as the model sees it.

use super::flag_error;
use super::sample::{check_writable, default_scale, picture, points_csv};
use crate::cli::DataArgs;
use crate::config::Preset;
use crate::data::{Batcher, ItemKind, Split};
use crate::render::grid::image_grid;
use crate::render::write_png;
use crate::util::write_atomic;
use anyhow::{bail, Context};
use std::fmt::Write;
use std::path::Path;

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

pub fn run(a: &DataArgs) -> anyhow::Result<()> {
    if a.n <= 0 {
        bail!("--n {}: at least one item is needed", a.n);
    }
    if a.out.is_none() && a.export.is_none() {
        bail!(
            "diffscope data: nothing to do; give --out FILE.png (or FILE.csv for 2-D points) \
             and/or --export DIR"
        );
    }
    if a.scale == Some(0) {
        bail!("--scale 0: the scale must be at least 1");
    }
    let csv_out = a.out.as_ref().is_some_and(|o| has_extension(o, "csv"));
    if let Some(out) = &a.out {
        if !has_extension(out, "png") && !csv_out {
            bail!(
                "{}: --out writes a .png picture (or a .csv file of 2-D points)",
                out.display()
            );
        }
        check_writable(out)?;
    }
    let mut preset = Preset::load(&a.preset)?.preset;
    let data_flag = a.data.as_ref().map(|p| p.display().to_string());
    if let (Some(p), Some(flag)) = (&a.data, &data_flag) {
        preset
            .data
            .set_path(p.clone())
            .map_err(|e| flag_error("--data", flag, e))?;
    }
    let data = preset
        .data
        .source()
        .load(preset.train.seed, Split::Train)
        .map_err(|e| match &data_flag {
            Some(flag) => flag_error("--data", flag, e),
            None if preset.data.path().is_some() => anyhow::Error::new(e).context(format!(
                "preset {} (its data folder can be given with --data PATH)",
                preset.name
            )),
            None => e.into(),
        })?;
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
    let points = data.kind == ItemKind::Points;
    match &a.out {
        Some(out) if csv_out && !points => bail!(
            "{}: CSV output is for 2-D points; write a .png grid (or --export a folder) for \
             images",
            out.display()
        ),
        Some(out) if csv_out => {
            write_atomic(out, points_csv(&values, data.item_len()).as_bytes())?;
            eprintln!("{n} points of {} written to {}", data.name, out.display());
        }
        _ => {}
    }
    if let Some(out) = a.out.as_ref().filter(|_| !csv_out) {
        let scale = a.scale.unwrap_or_else(|| default_scale(&data.item_shape));
        let reference: &[f32] = if data.kind == ItemKind::Points {
            &data.values
        } else {
            &[]
        };
        // for 2-D data, the whole set faint and the chosen items bright
        let (img, _) = picture(&values, &data.item_shape, reference, scale, 640, None);
        write_png(out, &img)?;
        eprintln!("{n} items of {} written to {}", data.name, out.display());
    }
    if let Some(dir) = &a.export {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
        if points {
            let file = dir.join("points.csv");
            write_atomic(&file, points_csv(&values, data.item_len()).as_bytes())?;
            eprintln!("{n} points exported to {}", file.display());
            return Ok(());
        }
        let shape = [
            data.item_shape[0] as usize,
            data.item_shape[1] as usize,
            data.item_shape[2] as usize,
        ];
        let names = preset.data.class_names();
        let mut csv = String::from("file,label,class\n");
        for (k, &i) in idx.iter().enumerate() {
            let file = format!("{k:05}.png");
            if let Some(labels) = &data.labels {
                let l = labels[i] as usize;
                let Some(class) = names.as_ref().and_then(|n| n.get(l)) else {
                    bail!(
                        "{}: item {i} has label {l}, which names no class of this data set",
                        data.name
                    );
                };
                let _ = writeln!(csv, "{file},{l},{class}");
            }
            let img = image_grid(data.item(i), 1, shape, 1, 1, 0, [0, 0, 0]);
            write_png(&dir.join(&file), &img)?;
        }
        if data.labels.is_some() {
            write_atomic(&dir.join("labels.csv"), csv.as_bytes())?;
        }
        eprintln!("{n} images exported to {}", dir.display());
    }
    Ok(())
}
