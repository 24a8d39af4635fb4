//! `diffscope sample`: draws samples from a checkpoint into a PNG (scatter plot or image
//! grid) or a CSV file, and optionally an animation of the reverse process.

use super::progress::Progress;
use crate::cli::{GuidanceFlags, SampleArgs, SamplerFlags};
use crate::data::Split;
use crate::diffusion::{
    ClassChoice, GuidanceError, SampleOption, SampleOptions, SamplerKind, Spacing, Trajectory,
};
use crate::render::grid::{default_cols, image_grid};
use crate::render::scatter::{scatter, view_radius, ScatterStyle};
use crate::render::text::draw_text;
use crate::render::{side_by_side, write_gif, write_png};
use crate::train::{Trainer, Weights};
use crate::util::{tensor_values, write_atomic};
use anyhow::{bail, Context};
use image::RgbImage;
use std::fmt::Write;
use std::path::Path;

const BACKGROUND: [u8; 3] = [18, 20, 26];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutKind {
    Png,
    Csv,
    Npy,
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

fn out_kind(path: &Path) -> anyhow::Result<OutKind> {
    match extension(path).as_deref() {
        Some("png") => Ok(OutKind::Png),
        Some("csv") => Ok(OutKind::Csv),
        Some("npy") => Ok(OutKind::Npy),
        _ => bail!(
            "{}: unsupported output type (use .png for a picture, .csv for 2-D points or .npy \
             for the raw values)",
            path.display()
        ),
    }
}

/// Checks that the output's folder exists (creating it) and is writable, before any work.
pub fn check_writable(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!("{}: is a folder, expected a file name", path.display());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
    let probe = dir.join(".diffscope-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("{}: cannot write here", path.display()))?;
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

/// The default nearest-neighbour scale: cells of about 64 pixels.
pub fn default_scale(item_shape: &[i64]) -> u32 {
    let side = item_shape
        .iter()
        .skip(1)
        .copied()
        .max()
        .unwrap_or(64)
        .max(1);
    (64 / side).max(1) as u32
}

/// A picture of a batch: a grid for images (each pixel `scale`×`scale`), a scatter plot of
/// `plot_size` pixels over `reference` for 2-D points, with the view `view` (None: fitted
/// to the points). Also the number of points outside the plot (0 for images).
pub fn picture(
    values: &[f32],
    item_shape: &[i64],
    reference: &[f32],
    scale: u32,
    plot_size: u32,
    view: Option<f32>,
) -> (RgbImage, usize) {
    picture_in(
        values,
        item_shape,
        reference,
        (scale, None),
        plot_size,
        view,
    )
}

/// [`picture`] with the grid's columns given (`cols`; None: the default).
pub fn picture_in(
    values: &[f32],
    item_shape: &[i64],
    reference: &[f32],
    (scale, cols): (u32, Option<usize>),
    plot_size: u32,
    view: Option<f32>,
) -> (RgbImage, usize) {
    if item_shape.len() == 3 {
        let shape = [
            item_shape[0] as usize,
            item_shape[1] as usize,
            item_shape[2] as usize,
        ];
        let n = values.len() / shape.iter().product::<usize>().max(1);
        let cols = cols.unwrap_or_else(|| default_cols(n));
        (image_grid(values, n, shape, cols, scale, 2, BACKGROUND), 0)
    } else {
        let style = ScatterStyle {
            size: plot_size,
            view,
            ..Default::default()
        };
        let plot = scatter(reference, values, &style);
        (plot.image, plot.outside)
    }
}

/// One animation frame: x_t beside x̂_0, with the caption over x_t (t, x_0 the sample and
/// x_T noise, and the step). 2-D plots use the view `view` in every frame, so that the axes
/// hold still.
fn trajectory_frame(
    caption: &str,
    xt: &[f32],
    x0: &[f32],
    item_shape: &[i64],
    reference: &[f32],
    scale: u32,
    view: Option<f32>,
) -> RgbImage {
    let (left, _) = picture(xt, item_shape, reference, scale, 320, view);
    let (right, _) = picture(x0, item_shape, reference, scale, 320, view);
    let mut img = side_by_side(&[&left, &right], 6, 14, BACKGROUND);
    draw_text(&mut img, 6, 4, caption, 1, [230, 230, 230]);
    let x2 = 12 + left.width();
    draw_text(&mut img, x2, 4, "x0^", 1, [255, 170, 60]);
    img
}

/// The animation's frames: x_t beside x̂_0 for each (caption, x_t, x̂_0) in `states`, then the
/// final sample `values` beside itself. 2-D plots keep the final plot's view (the data and
/// the samples) in every frame, so that the axes hold still; points outside it are marked.
fn trajectory_frames(
    states: &[(String, Vec<f32>, Vec<f32>)],
    values: &[f32],
    item_shape: &[i64],
    reference: &[f32],
    scale: u32,
) -> Vec<RgbImage> {
    let view = (item_shape.len() != 3).then(|| view_radius(&[reference, values]));
    let frame = |caption: &str, xt: &[f32], x0: &[f32]| {
        trajectory_frame(caption, xt, x0, item_shape, reference, scale, view)
    };
    let mut frames: Vec<RgbImage> = states
        .iter()
        .map(|(caption, xt, x0)| frame(caption, xt, x0))
        .collect();
    frames.push(frame("x t=0", values, values));
    frames
}

/// The note that `outside` of `n` samples lie outside the plot, with the farthest one's
/// distance from the origin.
fn outside_note(values: &[f32], outside: usize, n: usize) -> String {
    let farthest = values
        .chunks_exact(2)
        .map(|p| (p[0] as f64).hypot(p[1] as f64))
        .fold(
            0.0,
            |a: f64, b| if b.is_nan() { f64::INFINITY } else { a.max(b) },
        );
    format!(
        "note: {outside} of {n} samples lie outside the plot (marked at its border); the \
         farthest is {farthest:.4} from the origin"
    )
}

/// The sampling options of `base` (the checkpoint's) changed by the flags, checked against
/// a model of T steps; errors name the flag. A sampler chosen on the command line drops
/// the preset's η or Karras spacing when it has none (unless those flags are given too).
pub fn options_from_flags(
    f: &SamplerFlags,
    mut opts: SampleOptions,
    t: usize,
    classes: Option<usize>,
) -> anyhow::Result<SampleOptions> {
    if let Some(name) = &f.sampler {
        let Some(kind) = SamplerKind::parse(name) else {
            bail!(
                "--sampler {name}: unknown sampler (expected one of {})",
                SamplerKind::names()
            );
        };
        opts.sampler = kind;
        if !kind.has_eta() {
            opts.eta = 0.0;
        }
        if !kind.has_karras() {
            opts.karras = false;
        }
    }
    if let Some(name) = &f.spacing {
        let Some(spacing) = Spacing::parse(name) else {
            bail!("--spacing {name}: unknown spacing (expected leading, linspace or trailing)");
        };
        opts.spacing = Some(spacing);
    }
    if let Some(s) = f.steps {
        opts.steps = s;
    }
    if let Some(e) = f.eta {
        opts.eta = e;
    }
    if f.karras {
        opts.karras = true;
    }
    if f.no_clip {
        opts.clip_x0 = false;
    }
    guidance_from_flags(&f.guidance, &mut opts, classes)?;
    if let Err(e) = opts.check(t) {
        let flag = match e.option() {
            SampleOption::Steps => format!("--steps {}", opts.steps),
            SampleOption::Karras => "--karras".to_string(),
            SampleOption::Eta => format!("--eta {}", opts.eta),
        };
        bail!("{flag}: {e}");
    }
    Ok(opts)
}

/// Sets the guidance of `opts` (a model of `classes` classes; None: unconditional) from
/// `--guidance` and `--class`; errors name the flag.
pub fn guidance_from_flags(
    f: &GuidanceFlags,
    opts: &mut SampleOptions,
    classes: Option<usize>,
) -> anyhow::Result<()> {
    let class = match &f.class {
        None => None,
        Some(text) => match ClassChoice::parse(text) {
            Some(c) => Some(c),
            None => bail!("--class {text}: expected a class number or all"),
        },
    };
    let Some(classes) = classes else {
        if let Some(text) = &f.class {
            bail!("--class {text}: this checkpoint's model is unconditional (it has no classes)");
        }
        if let Some(w) = f.guidance {
            bail!("--guidance {w}: this checkpoint's model is unconditional (it has no classes to guide)");
        }
        return Ok(());
    };
    let mut g = opts.guidance.unwrap_or_default();
    if let Some(w) = f.guidance {
        g.scale = w;
    }
    if let Some(c) = class {
        g.class = c;
    }
    if let Err(e) = g.check(classes) {
        let flag = match e {
            GuidanceError::Scale(w) => format!("--guidance {w}"),
            GuidanceError::Class { class, .. } => format!("--class {class}"),
        };
        bail!("{flag}: {e}");
    }
    opts.guidance = Some(g);
    Ok(())
}

/// The raw values as a NumPy `.npy` file (format 1.0, little-endian float32, C order).
pub fn npy(values: &[f32], shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // magic (6) + version (2) + header length (2) + header + newline, padded to 64 bytes
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

pub fn run(a: &SampleArgs) -> anyhow::Result<()> {
    let kind = out_kind(&a.out)?;
    if let Some(n) = a.n {
        if n <= 0 {
            bail!("--n {n}: the number of samples must be at least 1");
        }
    }
    if a.sampling.steps == Some(0) {
        bail!("--steps 0: at least one reverse step is needed");
    }
    if let Some(eta) = a.sampling.eta {
        if !(0.0..=1.0).contains(&eta) {
            bail!("--eta {eta}: η must be in [0, 1]");
        }
    }
    if a.scale == Some(0) {
        bail!("--scale 0: the scale must be at least 1");
    }
    if let Some(t) = &a.trajectory {
        if extension(t).as_deref() != Some("gif") {
            bail!("{}: --trajectory writes a .gif animation", t.display());
        }
        if a.frames < 2 {
            bail!(
                "--frames {}: an animation needs at least 2 frames",
                a.frames
            );
        }
        check_writable(t)?;
    }
    check_writable(&a.out)?;
    let device = super::device(&a.device)?;
    let tr = Trainer::load_as(&a.checkpoint, device, false, super::precision(a.precision))?;
    if let Some(note) = &tr.load_notice {
        eprintln!("note: {note}");
    }
    let opts = options_from_flags(
        &a.sampling,
        tr.sample_options(),
        tr.diffusion.steps(),
        tr.classes(),
    )?;
    let n = a.n.map(|n| n as usize).unwrap_or(tr.preset.sample.n);
    let weights = if a.raw { Weights::Raw } else { Weights::Ema };
    if weights == Weights::Ema {
        let share = tr.ema_initial_share();
        if share > 0.01 {
            eprintln!(
                "note: at step {} the EMA weights are still {:.0}% the untrained initialisation, \
                 so EMA samples may look like noise; compare with --raw",
                tr.step,
                share * 100.0
            );
        }
    }
    let steps = opts.steps.min(tr.diffusion.steps());
    let mut traj = Trajectory::new();
    let mut progress = Progress::new("sample", 0, steps as u64);
    let mut steps_run = steps;
    let x = tr.sample(
        n,
        &opts,
        weights,
        a.seed,
        a.trajectory.as_ref().map(|_| (&mut traj, a.frames)),
        &mut |done, of| {
            steps_run = of;
            progress.update(done as u64, "")
        },
    );
    progress.finish();
    let x = x?;
    let values = tensor_values(&x).context("the samples")?;
    let dim: usize = tr.item_shape.iter().product::<i64>() as usize;
    let is_image = tr.preset.data.item_shape().len() == 3;
    match kind {
        OutKind::Csv if is_image => bail!(
            "{}: CSV output is for 2-D points; write a .png grid for images",
            a.out.display()
        ),
        OutKind::Png if !is_image && dim != 2 => bail!(
            "{}: a PNG plot needs 2-D points or images; items have shape {:?}",
            a.out.display(),
            tr.item_shape
        ),
        _ => {}
    }
    // 2-D plots show the samples over faint data points: fresh ones, generated or held out.
    let drawn = kind == OutKind::Png || a.trajectory.is_some();
    let reference = if is_image || !drawn {
        Vec::new()
    } else {
        let source = tr.preset.data.source();
        source
            .load(tr.preset.train.seed, Split::Held(5000))
            .with_context(|| {
                format!(
                    "the data drawn behind the samples ({}) is not available",
                    source.describe()
                )
            })?
            .values
    };
    let scale = a.scale.unwrap_or_else(|| default_scale(&tr.item_shape));
    match kind {
        OutKind::Csv => write_atomic(&a.out, points_csv(&values, dim).as_bytes())?,
        OutKind::Npy => {
            let mut shape = vec![n];
            shape.extend(tr.item_shape.iter().map(|&d| d as usize));
            write_atomic(&a.out, &npy(&values, &shape))?
        }
        OutKind::Png => {
            // every class: one row per class
            let cols = match (&opts.guidance, tr.classes()) {
                (Some(g), Some(k)) if g.class == ClassChoice::All => {
                    Some(ClassChoice::row_length(n, k))
                }
                _ => None,
            };
            let (img, outside) = picture_in(
                &values,
                &tr.item_shape,
                &reference,
                (scale, cols),
                640,
                None,
            );
            write_png(&a.out, &img)?;
            if outside > 0 {
                eprintln!("{}", outside_note(&values, outside, n));
            }
        }
    }
    if let Some(path) = &a.trajectory {
        let mut states = Vec::with_capacity(traj.timesteps.len());
        for (k, (&t, (xt, x0))) in traj
            .timesteps
            .iter()
            .zip(traj.xt.iter().zip(&traj.x0_hat))
            .enumerate()
        {
            // captions name states as the seed note does (x_T noise, x_0 the sample):
            // the model's input at schedule index t is x_{t+1}; then the solver's step
            states.push((
                format!("x t={} step {} of {}", t + 1, traj.steps[k] + 1, traj.of),
                tensor_values(xt).with_context(|| format!("the frame at t = {}", t + 1))?,
                tensor_values(x0).with_context(|| format!("the frame at t = {}", t + 1))?,
            ));
        }
        let frames = trajectory_frames(&states, &values, &tr.item_shape, &reference, scale);
        write_gif(path, &frames, 80)?;
        eprintln!(
            "{} frames of the reverse process written to {}",
            frames.len(),
            path.display()
        );
    }
    eprintln!(
        "{n} {} ({}, {} weights, step {}) written to {}",
        if is_image { "images" } else { "samples" },
        SampleOptions {
            steps: steps_run,
            ..opts.clone()
        }
        .describe(tr.diffusion.steps()),
        if a.raw { "raw" } else { "EMA" },
        tr.step,
        a.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixels of `colour` in the right half of `img` (the x̂_0 panel).
    fn right_pixels(img: &RgbImage, colour: [u8; 3]) -> Vec<(u32, u32)> {
        let half = img.width() / 2;
        img.enumerate_pixels()
            .filter(|(x, _, p)| *x > half && p.0 == colour)
            .map(|(x, y, _)| (x, y))
            .collect()
    }

    #[test]
    fn the_animation_keeps_its_axes_and_marks_what_leaves_them() {
        let colour = ScatterStyle::default().samples;
        let marker = ScatterStyle::default().outside;
        let reference: Vec<f32> = (0..400).map(|i| ((i as f32) * 0.37).sin()).collect();
        let values = vec![0.5, 0.5, -0.5, 0.2];
        // x̂_0 strays far in the first frame and is back in range in the second
        let states = vec![
            (
                "x t=2".to_string(),
                vec![0.5, 0.5, 0.0, 0.0],
                vec![0.5, 0.5, 40.0, -25.0],
            ),
            (
                "x t=1".to_string(),
                vec![0.5, 0.5, 0.0, 0.0],
                vec![0.5, 0.5, 0.9, -0.9],
            ),
        ];
        let frames = trajectory_frames(&states, &values, &[2], &reference, 1);
        assert_eq!(frames.len(), 3);
        frames[0].save("/tmp/diffscope-frame0.png").ok();
        // (0.5, 0.5) lands on the same pixels of the x̂_0 panel in every frame
        let first = right_pixels(&frames[0], colour);
        let second = right_pixels(&frames[1], colour);
        let dot: Vec<_> = first.iter().filter(|p| second.contains(p)).collect();
        assert!(
            dot.len() >= 5,
            "the shared point moved: {first:?} vs {second:?}"
        );
        // the stray point is marked (and counted) in the first frame only
        assert!(!right_pixels(&frames[0], marker).is_empty());
        assert!(right_pixels(&frames[1], marker).is_empty());
    }

    #[test]
    fn the_note_counts_the_samples_outside_and_the_farthest() {
        let note = outside_note(&[0.0, 0.0, 3.0, 4.0, 7597.0, 0.0], 1, 3);
        assert!(
            note.contains("1 of 3 samples lie outside the plot"),
            "{note}"
        );
        assert!(note.contains("7597.0000"), "{note}");
    }
}
