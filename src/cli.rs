//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "diffscope",
    version,
    about = "A terminal workbench for denoising diffusion models (DDPM)",
    long_about = "A terminal workbench for denoising diffusion models (DDPM).\n\n\
        With no command, opens the workbench (a terminal UI) on the default preset and \
        starts training."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// How the workbench draws images: auto, kitty, sixel, iterm2 or halfblocks.
    #[arg(long, global = true, value_enum)]
    pub image_protocol: Option<crate::tui::images::ImageProtocol>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Train a model headlessly and save a checkpoint.
    Train(TrainArgs),
    /// Draw samples from a checkpoint into a PNG plot or a CSV file.
    Sample(SampleArgs),
    /// Print a noise schedule's tables.
    Schedule(ScheduleArgs),
    /// Open the workbench (the default with no command).
    Tui(TuiArgs),
}

#[derive(Debug, Args, Clone)]
pub struct TuiArgs {
    /// A preset to train: a name (from presets/, the user's config folder or the built-ins)
    /// or a path.
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
}

#[derive(Debug, Args, Clone)]
pub struct TrainArgs {
    /// A preset name (from presets/, the user's config folder or the built-ins) or a path.
    #[arg(long, default_value = "swissroll")]
    pub preset: String,
    /// Total training steps (default: the preset's).
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplerArg {
    Ddpm,
    Ddim,
}

#[derive(Debug, Args, Clone)]
pub struct SampleArgs {
    /// A checkpoint: a run folder (its latest step) or a step folder.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Sampler (default: the preset's).
    #[arg(long, value_enum)]
    pub sampler: Option<SamplerArg>,
    /// Reverse steps (default: the preset's; at most T).
    #[arg(long)]
    pub steps: Option<usize>,
    /// DDIM's η in [0, 1] (default: the preset's).
    #[arg(long)]
    pub eta: Option<f64>,
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
    /// Output file: .png (scatter plot) or .csv.
    #[arg(long)]
    pub out: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
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
