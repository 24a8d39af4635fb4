//! The command line.

use crate::config::DEFAULT_PRESET;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "diffscope",
    version,
    about = "A terminal workbench for denoising diffusion models (DDPM)",
    long_about = "A terminal workbench for denoising diffusion models (DDPM).\n\n\
        With no command, opens the workbench (a terminal UI) on the default preset \
        (glyphs16) and starts training; `diffscope tui` takes the workbench's options.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// How the workbench draws images: auto, kitty, sixel, iterm2 or halfblocks.
    #[arg(long, value_enum)]
    pub image_protocol: Option<ImageProtocolArg>,
}

/// Parses the command line; bad usage exits with clap's message. The workbench's options
/// given without `tui` (`diffscope --preset moons`) get a tip that shows where they go.
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    Cli::try_parse_from(&args).unwrap_or_else(|mut e| {
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if let Some(tip) = workbench_tip(&e, &words) {
            let mut tips = vec![tip.into()];
            if let Some(ContextValue::StyledStrs(old)) = e.get(ContextKind::Suggested) {
                tips.extend(old.iter().cloned());
            }
            e.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
        }
        e.exit()
    })
}

/// For an option of `diffscope tui` given with no command: the command meant.
pub fn workbench_tip(e: &clap::Error, args: &[String]) -> Option<String> {
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(bad)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = bad.split('=').next()?.strip_prefix("--")?;
    let cmd = Cli::command();
    let rest = args.get(1..)?;
    let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
    if rest.iter().any(|a| names.contains(&a.as_str())) {
        return None;
    }
    let tui = cmd.find_subcommand("tui")?;
    if !tui.get_arguments().any(|a| a.get_long() == Some(flag)) {
        return None;
    }
    let words: Vec<String> = rest.iter().map(|w| shell_word(w)).collect();
    Some(format!(
        "the workbench's options go after `tui`: did you mean `diffscope tui {}`?",
        words.join(" ")
    ))
}

/// `word` as one shell word: as it is when that is safe, else in single quotes.
pub fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The `--image-protocol` choices (the workbench maps them to its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageProtocolArg {
    Auto,
    Kitty,
    Sixel,
    Iterm2,
    Halfblocks,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Train a model headlessly and save a checkpoint.
    Train(TrainArgs),
    /// Draw samples from a checkpoint into a PNG plot or a CSV file.
    Sample(SampleArgs),
    /// Print a noise schedule's tables.
    Schedule(ScheduleArgs),
    /// Evaluate a checkpoint: the variational bound on held-out data and sample quality.
    Eval(EvalArgs),
    /// Preview (or export) the training data after pre-processing.
    Data(DataArgs),
    /// Open the workbench (the default with no command).
    Tui(TuiArgs),
    /// Open the workbench on a run that trains in the background (the latest live run
    /// by default), from any terminal.
    Attach(AttachArgs),
    /// List training runs: preset, state, step, mean loss, bound, start time and folder;
    /// compare or delete runs.
    Runs(RunsArgs),
}

#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// A preset name or path.
    #[arg(long, default_value = DEFAULT_PRESET)]
    pub preset: String,
    /// Write a grid (images) or scatter plot (2-D) of what the model will see (.png), or
    /// the 2-D points as `x,y` rows (.csv).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write N items into this folder: PNG files (plus labels.csv where labels exist), or
    /// points.csv for 2-D points.
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Items to show or export.
    #[arg(long, default_value_t = 64, allow_negative_numbers = true)]
    pub n: i64,
    /// Read the data from this path instead of the preset's.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Nearest-neighbour upscaling of the grid.
    #[arg(long)]
    pub scale: Option<u32>,
}

#[derive(Debug, Args, Clone)]
pub struct TuiArgs {
    /// A preset to train: a name (from presets/, the user's config folder or the built-ins)
    /// or a path (default: glyphs16).
    #[arg(long, conflicts_with = "checkpoint")]
    pub preset: Option<String>,
    /// Open a checkpoint (a run folder or a step folder) for inspection, without training.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// libtorch threads on the worker (default: the preset's).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Start with this theme (dark, light, high-contrast, monochrome or a user theme).
    #[arg(long)]
    pub theme: Option<String>,
    /// How the workbench draws images: auto, kitty, sixel, iterm2 or halfblocks.
    #[arg(long, value_enum)]
    pub image_protocol: Option<ImageProtocolArg>,
}

#[derive(Debug, Args, Clone)]
pub struct TrainArgs {
    /// A preset name (from presets/, the user's config folder or the built-ins) or a path.
    #[arg(long, default_value = DEFAULT_PRESET)]
    pub preset: String,
    /// The total step count to reach, counted from step 0 (default: the preset's
    /// train.steps). With --resume too: a checkpoint at step 1200 with --steps 1500 trains
    /// 300 more steps; a total at or below the checkpoint's step is refused.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Seed for data, initialisation and noise (default: the preset's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run folder for checkpoints (default: checkpoints/<preset>-<time>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Continue training from a checkpoint (its run folder or a step folder).
    #[arg(long, conflicts_with_all = ["preset", "seed"])]
    pub resume: Option<PathBuf>,
    /// libtorch threads (default: the preset's, else all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Read the data from this path instead of the preset's (MNIST, CIFAR-10, folders).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// What the model computes in (default: the preset's, Auto): auto, fp32, bf16, or
    /// fp16 (GPUs only). Weights, optimiser state and checkpoints stay fp32.
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionArg>,
    /// Train in a background process that outlives this terminal; watch it with
    /// `diffscope attach`.
    #[arg(long)]
    pub detach: bool,
    /// Run as the background training process (what --detach and the workbench start).
    #[arg(long, hide = true, conflicts_with = "detach")]
    pub worker: bool,
}

#[derive(Debug, Args, Clone)]
pub struct AttachArgs {
    /// A run folder (or a step folder in one, or a run folder's name under checkpoints/).
    /// Default: the latest live run.
    pub run: Option<PathBuf>,
    /// Watch read-only, even when nobody else controls the run.
    #[arg(long, conflicts_with = "take_over")]
    pub watch: bool,
    /// Take over control from another workbench attached to the run.
    #[arg(long)]
    pub take_over: bool,
    /// Start with this theme.
    #[arg(long)]
    pub theme: Option<String>,
    /// How the workbench draws images: auto, kitty, sixel, iterm2 or halfblocks.
    #[arg(long, value_enum)]
    pub image_protocol: Option<ImageProtocolArg>,
}

#[derive(Debug, Args, Clone)]
pub struct RunsArgs {
    /// Compare these runs (two or more run folders or names): the preset fields that
    /// differ, and their final figures side by side.
    #[arg(long, num_args = 2.., value_name = "RUN")]
    pub compare: Option<Vec<PathBuf>>,
    /// Delete a run (a run folder or name) with its checkpoints and log; asks first on a
    /// terminal. A run that a process trains now is refused.
    #[arg(long, value_name = "RUN", conflicts_with = "compare")]
    pub delete: Option<PathBuf>,
    /// With --delete: delete without asking (needed when stdin is not a terminal).
    #[arg(long, requires = "delete")]
    pub yes: bool,
}

/// `--precision`: what the model computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    Auto,
    Fp32,
    Bf16,
    Fp16,
}

/// The sampler's flags, shared by the commands that sample.
#[derive(Debug, Args, Clone, Default)]
pub struct SamplerFlags {
    /// Sampler: ddpm, ddim, dpmpp-2m, dpmpp-3m, dpmpp-2m-sde, euler, euler-a or heun
    /// (default: the preset's).
    #[arg(long)]
    pub sampler: Option<String>,
    /// Reverse steps (default: the preset's; at most T).
    #[arg(long)]
    pub steps: Option<usize>,
    /// DDIM's η in [0, 1] (default: the preset's; only ddim takes one).
    #[arg(long)]
    pub eta: Option<f64>,
    /// Timestep spacing: leading, linspace or trailing (default: the sampler's own, as in
    /// diffusers: leading for ddpm and ddim, linspace for the others).
    #[arg(long)]
    pub spacing: Option<String>,
    /// Karras σ spacing (for dpmpp-2m, dpmpp-3m, dpmpp-2m-sde, euler and heun).
    #[arg(long)]
    pub karras: bool,
    /// Do not clip x̂_0 to [−1, 1] (image presets clip it; diffusers' Euler schedulers never
    /// do).
    #[arg(long)]
    pub no_clip: bool,
    #[command(flatten)]
    pub guidance: GuidanceFlags,
}

/// Classifier-free guidance of a class-conditional checkpoint.
#[derive(Debug, Args, Clone, Default)]
pub struct GuidanceFlags {
    /// The guidance scale w ≥ 0 of a class-conditional checkpoint (default: the preset's
    /// sample.guidance): 0 is the unconditional model, 1 the conditional one, larger w
    /// trades diversity for fidelity to the class.
    #[arg(long, value_name = "W", allow_negative_numbers = true)]
    pub guidance: Option<f64>,
    /// The class to draw (a number from 0), or all: every class, one row per class in a
    /// grid (the default).
    #[arg(long, value_name = "C|all", allow_negative_numbers = true)]
    pub class: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct SampleArgs {
    /// A checkpoint: a run folder (its latest step) or a step folder.
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub sampling: SamplerFlags,
    /// Number of samples (default: the preset's).
    #[arg(long, allow_negative_numbers = true)]
    pub n: Option<i64>,
    /// Seed for the sampler's noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Use the EMA weights (the default).
    #[arg(long, conflicts_with = "raw")]
    pub ema: bool,
    /// Use the raw weights.
    #[arg(long)]
    pub raw: bool,
    /// Output file: .png (a scatter plot for 2-D data, a grid for images), .csv (2-D points)
    /// or .npy (the raw float32 values, shape [n, …item shape], for NumPy).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write an animation of the reverse process (x_t beside the predicted x̂_0).
    #[arg(long)]
    pub trajectory: Option<PathBuf>,
    /// Frames kept for --trajectory.
    #[arg(long, default_value_t = 40)]
    pub frames: usize,
    /// Nearest-neighbour upscaling of images (default: to about 64 pixels a side).
    #[arg(long)]
    pub scale: Option<u32>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// What the model computes in: auto (the checkpoint's preset), fp32, bf16, or fp16
    /// (GPUs only).
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Linear,
    Cosine,
    Sigmoid,
    Quadratic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Csv,
    Table,
}

#[derive(Debug, Args, Clone)]
pub struct ScheduleArgs {
    #[arg(long, value_enum, default_value = "linear")]
    pub kind: KindArg,
    /// T, the number of diffusion steps.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VarianceArg {
    /// σ_t² = β̃_t.
    Small,
    /// σ_t² = β_t.
    Large,
    /// The network's own, between β̃_t and β_t (models trained with a learned variance).
    Learned,
}

#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("sweeps").args(["sweep", "guidance_sweep"])))]
pub struct EvalArgs {
    /// A checkpoint: a run folder (its latest step) or a step folder.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Held-out items for the bound (default: 1000 for points, 256 for images).
    #[arg(long, allow_negative_numbers = true)]
    pub n: Option<i64>,
    /// Estimate the bound from K random timesteps per item instead of all T.
    #[arg(long, value_name = "K", allow_negative_numbers = true)]
    pub estimate: Option<i64>,
    /// Write the mean term at each timestep to this CSV file (`t,term_bits_per_dim`).
    #[arg(long, value_name = "CSV")]
    pub terms: Option<PathBuf>,
    /// Draw the bound accumulated over t (Σ_{s≤t} L_s against t + 1 on a log scale, so that
    /// one sees where the bound comes from) to this PNG file.
    #[arg(long, value_name = "PNG")]
    pub terms_png: Option<PathBuf>,
    /// Terms written earlier with `--terms` (another checkpoint's, say) to draw beside this
    /// one's in `--terms-png`, each labelled by its file name; repeatable.
    #[arg(long, value_name = "CSV", requires = "terms_png")]
    pub terms_with: Vec<PathBuf>,
    /// Items per model call (default: 1000 for points, 64 for images).
    #[arg(long, allow_negative_numbers = true)]
    pub batch: Option<i64>,
    /// Seed for the held-out data, the noise and the samples (the workbench's `b` uses
    /// the same default).
    #[arg(long, default_value_t = crate::eval::evaluate::defaults::SEED)]
    pub seed: u64,
    /// Use the EMA weights (the default).
    #[arg(long, conflicts_with = "raw")]
    pub ema: bool,
    /// Use the raw weights.
    #[arg(long)]
    pub raw: bool,
    /// The reverse-process variance to evaluate with (default: the checkpoint's): small,
    /// large, or learned (for a model trained with a learned variance).
    #[arg(long, value_enum)]
    pub variance: Option<VarianceArg>,
    /// Samples for the quality figures (default: 2000 for points, 256 for labelled images;
    /// 0 skips them); per point of a sweep (default: 64 images or 2000 points, and 500 for
    /// --guidance-sweep).
    #[arg(long, allow_negative_numbers = true)]
    pub samples: Option<i64>,
    /// Read the held-out data from this path instead of the checkpoint's (MNIST, CIFAR-10,
    /// folders).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write the held-out items the bound is computed on to this .npy file (float32, shape
    /// [n, …item shape], as the model sees them), for checking the bound elsewhere.
    #[arg(long, value_name = "NPY")]
    pub held_out_npy: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// What the model computes in: auto (the checkpoint's preset), fp32, bf16, or fp16
    /// (GPUs only).
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionArg>,
    /// Sample quality against network evaluations instead of the bound: each spec
    /// `SAMPLER[+karras][+eta=X][+leading|+linspace|+trailing]:N,N,…` (e.g.
    /// `dpmpp-2m:5,10,20 ddim:5,10,20`) is sampled
    /// at each step count from the same seed; prints a table and writes it as CSV and a
    /// PNG chart.
    #[arg(long, value_name = "SPEC", num_args = 1.., conflicts_with_all = ["n", "estimate", "terms", "batch", "held_out_npy"])]
    pub sweep: Vec<String>,
    /// Class agreement and Fréchet distances against the guidance scale w of a
    /// class-conditional checkpoint: the same x_T sampled at each w (e.g. 0,1,2,3,5) of the
    /// classes of --class (default: all); prints a table and writes it as CSV and a PNG
    /// chart.
    #[arg(long, value_name = "W,W,…", conflicts_with_all = ["n", "estimate", "terms", "batch", "held_out_npy", "guidance"])]
    pub guidance_sweep: Option<String>,
    /// Where a sweep's CSV goes (default: sweep-step-NNNNNNNN.csv, or guidance-step-…
    /// for --guidance-sweep, in the run folder).
    #[arg(long, value_name = "CSV", requires = "sweeps")]
    pub sweep_csv: Option<PathBuf>,
    /// Where a sweep's chart goes (default: sweep-step-NNNNNNNN.png, or guidance-step-…
    /// for --guidance-sweep, in the run folder).
    #[arg(long, value_name = "PNG", requires = "sweeps")]
    pub sweep_png: Option<PathBuf>,
    #[command(flatten)]
    pub guidance: GuidanceFlags,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tip(args: &[&str]) -> Option<String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let e = Cli::try_parse_from(&args).unwrap_err();
        workbench_tip(&e, &args)
    }

    #[test]
    fn workbench_options_without_tui_get_a_tip() {
        assert_eq!(
            tip(&["diffscope", "--preset", "moons"]).as_deref(),
            Some(
                "the workbench's options go after `tui`: did you mean `diffscope tui --preset \
                 moons`?"
            )
        );
        assert!(tip(&["diffscope", "--theme=light", "--device", "cpu"])
            .is_some_and(|t| t.ends_with("`diffscope tui --theme=light --device cpu`?")));
        // not an option of the workbench, or given to another command
        assert_eq!(tip(&["diffscope", "--nope"]), None);
        assert_eq!(tip(&["diffscope", "runs", "--preset", "moons"]), None);
    }

    #[test]
    fn only_what_draws_images_takes_image_protocol() {
        for ok in [
            &["diffscope", "--image-protocol", "kitty"][..],
            &["diffscope", "tui", "--image-protocol", "kitty"],
            &["diffscope", "attach", "--image-protocol", "sixel"],
        ] {
            assert!(Cli::try_parse_from(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            &["diffscope", "runs", "--image-protocol", "kitty"][..],
            &["diffscope", "--image-protocol", "kitty", "runs"],
            &["diffscope", "train", "--image-protocol", "kitty"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
        let mut cmd = Cli::command();
        let runs = cmd.find_subcommand_mut("runs").unwrap();
        assert!(!runs.render_help().to_string().contains("image-protocol"));
    }

    #[test]
    fn train_and_data_default_to_the_default_preset() {
        for args in [&["diffscope", "train"][..], &["diffscope", "data"]] {
            let preset = match Cli::try_parse_from(args).unwrap().command {
                Some(Cmd::Train(a)) => a.preset,
                Some(Cmd::Data(a)) => a.preset,
                c => panic!("{c:?}"),
            };
            assert_eq!(preset, DEFAULT_PRESET);
        }
        // the help texts that name it name this one
        let mut cmd = Cli::command();
        let about = cmd.render_long_help().to_string();
        assert!(
            about.contains(&format!("default preset ({DEFAULT_PRESET})")),
            "{about}"
        );
        let tui = cmd
            .find_subcommand_mut("tui")
            .unwrap()
            .render_help()
            .to_string();
        assert!(
            tui.contains(&format!("(default: {DEFAULT_PRESET})")),
            "{tui}"
        );
    }
}
