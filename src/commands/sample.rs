//! `diffscope sample`: draws samples from a checkpoint into a PNG plot or a CSV file.

use super::progress::Progress;
use crate::cli::{SampleArgs, SamplerArg};
use crate::data::ItemKind;
use crate::diffusion::SamplerKind;
use crate::render::scatter::{png_bytes, scatter, ScatterStyle};
use crate::train::{parse_device, Trainer, Weights};
use crate::util::write_atomic;
use std::fmt::Write;
use std::path::Path;
use tch::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutKind {
    Png,
    Csv,
}

fn out_kind(path: &Path) -> Result<OutKind, String> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("png") => Ok(OutKind::Png),
        Some("csv") => Ok(OutKind::Csv),
        _ => Err(format!(
            "{}: unsupported output type (use .png for a plot or .csv for the values)",
            path.display()
        )),
    }
}

/// Checks that the output's folder exists (creating it) and is writable, before any work.
fn check_writable(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!(
            "{}: is a folder, expected a file name",
            path.display()
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create the output folder: {e}", dir.display()))?;
    let probe = dir.join(".diffscope-write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| format!("{}: cannot write here: {e}", path.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Samples as CSV: `x,y` (or `x0,x1,…` for other dimensions), one sample per row.
pub fn points_csv(values: &[f32], dim: usize) -> String {
    let mut out = if dim == 2 {
        String::from("x,y\n")
    } else {
        (0..dim)
            .map(|i| format!("x{i}"))
            .collect::<Vec<_>>()
            .join(",")
            + "\n"
    };
    for row in values.chunks_exact(dim.max(1)) {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

pub fn run(a: &SampleArgs) -> Result<(), String> {
    let kind = out_kind(&a.out)?;
    if let Some(n) = a.n {
        if n <= 0 {
            return Err(format!("--n {n}: the number of samples must be at least 1"));
        }
    }
    if let Some(s) = a.steps {
        if s == 0 {
            return Err("--steps 0: at least one reverse step is needed".into());
        }
    }
    if let Some(eta) = a.eta {
        if !(0.0..=1.0).contains(&eta) {
            return Err(format!("--eta {eta}: η must be in [0, 1]"));
        }
    }
    check_writable(&a.out)?;
    let device = parse_device(&a.device)?;
    let tr = Trainer::load(&a.checkpoint, device)?;
    let mut opts = tr.sample_options();
    if let Some(s) = a.sampler {
        opts.sampler = match s {
            SamplerArg::Ddpm => SamplerKind::Ddpm,
            SamplerArg::Ddim => SamplerKind::Ddim,
        };
    }
    if let Some(s) = a.steps {
        opts.steps = s;
    }
    if let Some(e) = a.eta {
        opts.eta = e;
    }
    let n = a.n.map(|n| n as usize).unwrap_or(tr.preset.sample.n);
    let weights = if a.raw { Weights::Raw } else { Weights::Ema };
    let steps = opts.steps.min(tr.diffusion.steps());
    let mut progress = Progress::new("sample", 0, steps as u64);
    let x = tr.sample(n, &opts, weights, a.seed, None, &mut |done, _| {
        progress.update(done as u64, "")
    });
    progress.finish();
    let values: Vec<f32> = Vec::try_from(x.to_device(Device::Cpu).contiguous().view([-1]))
        .map_err(|e| format!("cannot read samples: {e}"))?;
    let dim = tr.data.item_len();
    let bytes = match (kind, tr.data.kind) {
        (OutKind::Csv, _) => points_csv(&values, dim).into_bytes(),
        (OutKind::Png, ItemKind::Points) if dim == 2 => {
            let reference = &tr.data.values[..tr.data.values.len().min(2 * 5000)];
            png_bytes(&scatter(reference, &values, &ScatterStyle::default()))?
        }
        (OutKind::Png, _) => {
            return Err(format!(
                "{}: a PNG plot needs 2-D data; this model makes items of shape {:?}",
                a.out.display(),
                tr.data.item_shape
            ))
        }
    };
    write_atomic(&a.out, &bytes)?;
    eprintln!(
        "{n} samples ({}, {} steps, {} weights, step {}) written to {}",
        opts.sampler.name(),
        steps,
        if a.raw { "raw" } else { "EMA" },
        tr.step,
        a.out.display()
    );
    Ok(())
}
