//! Messages between the worker and the rest of the program. Plain data only: no tensor
//! ever crosses threads. They are serde types, so the same messages also travel between
//! processes (see [`super::wire`]).

use crate::diffusion::SampleOptions;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A request for samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRequest {
    /// Echoed in the answer.
    pub id: u64,
    pub n: usize,
    pub options: SampleOptions,
    pub ema: bool,
    pub seed: u64,
    /// Keep this many frames of the reverse process (0: none).
    pub frames: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Train (or continue) until the preset's step budget.
    Start,
    Pause,
    Resume,
    Sample(SampleRequest),
    /// Evaluate the bound (with its per-timestep terms) and the sample quality.
    Evaluate {
        id: u64,
        ema: bool,
    },
    /// Sample quality against network evaluations: each spec (`dpmpp-2m:5,10,20`, see
    /// [`crate::eval::sweep`]) at each step count, from the same seed.
    Sweep {
        id: u64,
        specs: Vec<String>,
        ema: bool,
    },
    /// Class agreement and Fréchet distance against the guidance scale w of a
    /// class-conditional model ([`crate::eval::guidance::run`]): `options` (their sampler,
    /// steps and classes) at each of `scales`, from the same seed. Its progress comes as
    /// [`Event::SweepProgress`], a failure as [`Failure::Sweep`].
    GuidanceSweep {
        id: u64,
        scales: Vec<f64>,
        options: SampleOptions,
        ema: bool,
    },
    /// Save a checkpoint; `manual` ones are never pruned.
    Save {
        manual: bool,
    },
    /// Stop the worker, saving first when asked.
    Shutdown {
        save: bool,
    },
}

/// What the worker knows about its run, sent once at start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub preset: String,
    pub device: String,
    pub parameters: i64,
    pub step: u64,
    /// The step of the newest checkpoint saved (the starting step when none was): what
    /// a front end that attaches later counts unsaved steps from.
    pub saved_step: u64,
    pub total_steps: u64,
    pub item_shape: Vec<i64>,
    pub run_dir: PathBuf,
    /// What training is doing (for a front end that attaches to a running worker).
    pub phase: Phase,
    /// What the model computes in, as the user should read it ("fp32 (auto: …)").
    pub precision: String,
}

/// What a worker's training is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Phase {
    /// Not started (a worker waits for `Start`).
    #[default]
    Idle,
    Training,
    Paused,
    /// The step budget is reached.
    Finished,
    /// Training cannot go on (e.g. a NaN loss).
    Stopped,
}

/// A batch of samples (and optionally their trajectory), as plain f32 data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Samples {
    pub id: u64,
    /// Training step of the weights that drew them.
    pub step: u64,
    pub ema: bool,
    /// [n, item_shape…]
    pub shape: Vec<i64>,
    pub values: Vec<f32>,
    /// Timesteps of the stored frames, in sampling order.
    pub frame_timesteps: Vec<usize>,
    /// x_t of each frame, each laid out like `values`.
    pub frames_xt: Vec<Vec<f32>>,
    /// x̂_0 of each frame.
    pub frames_x0: Vec<Vec<f32>>,
    /// Where each frame sits in the run, and the run's options (boxed: events stay small).
    pub trace: Box<FrameTrace>,
}

/// The sampler's run behind a batch of samples: its options, and each stored frame's step
/// and σ_t.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FrameTrace {
    /// The sampling options of the request, for labels.
    pub options: SampleOptions,
    /// The step number (0-based) of each stored frame.
    pub steps: Vec<usize>,
    /// The number of steps of the run (0 when no frames were kept).
    pub of: usize,
    /// σ_t = √((1 − ᾱ)/ᾱ) at each stored frame.
    pub sigmas: Vec<f64>,
    /// The learned variance at each stored frame (DDPM with a learned variance; empty or
    /// `None` otherwise).
    #[serde(default)]
    pub variances: Vec<Option<crate::diffusion::sampler::StepVariance>>,
    /// With classifier-free guidance, the x̂_0 of the conditional and of the unconditional
    /// half at each stored frame, laid out like `values` (empty, or `None` where a run is
    /// unguided or w is 0 or 1).
    #[serde(default)]
    pub x0_guided: Vec<Option<[Vec<f32>; 2]>>,
}

/// An evaluation the worker made: the record (as the run log keeps it), the id of the
/// request it answers, and the bound's term at each 0-based schedule index (index 0 is the
/// decoder L_0), in the record's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluated {
    pub id: u64,
    pub evaluation: crate::eval::Evaluation,
    pub per_t: Vec<f64>,
}

/// What failed, so that front ends never have to read it from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// Building the trainer (the preset's data or model, or the checkpoint).
    Start,
    /// The sampling request with this id (also when it was cancelled).
    Sampling { id: u64 },
    /// The evaluation request with this id (also when it was cancelled).
    Evaluation { id: u64 },
    /// The sweep request with this id (also when it was cancelled).
    Sweep { id: u64 },
    /// Saving a checkpoint.
    Save,
    /// The worker thread died.
    Worker,
}

impl Failure {
    /// The line to show for a failure with `message` ("sampling failed: …"). Start and
    /// worker failures speak for themselves.
    pub fn describe(self, message: &str) -> String {
        match self {
            Failure::Start | Failure::Worker => message.to_string(),
            Failure::Sampling { .. } => format!("sampling failed: {message}"),
            Failure::Evaluation { .. } => format!("evaluation failed: {message}"),
            Failure::Sweep { .. } => format!("sweep failed: {message}"),
            Failure::Save => format!("saving failed: {message}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Ready(RunInfo),
    Progress {
        step: u64,
        loss: f64,
        quarter_losses: [Option<f64>; 4],
        lr: f64,
        grad_norm: f64,
        /// Steps per second over the last reporting interval.
        steps_per_sec: f64,
    },
    SampleProgress {
        id: u64,
        done: usize,
        of: usize,
    },
    Samples(Samples),
    Evaluation(Box<Evaluated>),
    /// Where the sweep with this id stands: point `point` (0-based) of `points`, reverse
    /// step `step` of `of`.
    SweepProgress {
        id: u64,
        point: usize,
        points: usize,
        step: usize,
        of: usize,
    },
    /// A finished sweep, for the training step `step`.
    Swept {
        id: u64,
        step: u64,
        sweep: Box<crate::eval::sweep::Sweep>,
    },
    /// A finished guidance sweep, for the training step `step`.
    GuidanceSwept {
        id: u64,
        step: u64,
        sweep: Box<crate::eval::guidance::GuidanceSweep>,
    },
    Saved {
        path: PathBuf,
        step: u64,
    },
    Paused,
    Resumed,
    /// The step budget is reached.
    Finished {
        step: u64,
    },
    /// Something the user should know that is not an error (e.g. skipped data files).
    Notice(String),
    /// Something failed (what, and the message); the worker is still alive, unless it
    /// could not start, in which case `Exited` follows.
    Failed {
        what: Failure,
        message: String,
    },
    /// Training cannot go on (e.g. a NaN loss); the worker still answers commands.
    TrainingStopped(String),
    /// This front end now only watches: another one took over control of the run.
    Watching,
    /// The worker has exited.
    Exited,
}
