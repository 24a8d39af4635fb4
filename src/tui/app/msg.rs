//! What goes into [`super::App::update`] ([`Msg`]) and what comes out ([`Effect`]).

use super::super::graphics::Encoded;
use super::super::inspect::{DataView, Frame};
use crate::config::catalog::PresetEntry;
use crate::config::Preset;
use crate::eval::Evaluation;
use crate::runs::listing::RunEntry;
use crate::runs::runlog::MetricRow;
pub use crate::runs::{RunOrigin, RunSpec};
use crate::worker::protocol::{Command, Event, Samples};
use crossterm::event::KeyEvent;
use std::path::PathBuf;
use std::sync::Arc;

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A command for the current worker.
    Send(Command),
    /// Replace the current run; the old worker saves first when `save_old`.
    StartRun {
        spec: RunSpec,
        save_old: bool,
    },
    /// Load the preset's data and compute the forward frames.
    PrepareData(Box<Preset>),
    /// Compute the reverse frames of a trajectory.
    PrepareReverse(Box<Samples>),
    /// List the runs and their checkpoints (for the browser).
    ScanRuns,
    ScanPresets,
    DeleteCheckpoint(PathBuf),
    /// Delete a run folder with its checkpoints and log.
    DeleteRun(PathBuf),
    /// Read a run folder's log (up to a step: a checkpoint opened for inspection).
    LoadLog {
        dir: PathBuf,
        upto: Option<u64>,
    },
    /// Read the runs to compare.
    Compare(Vec<PathBuf>),
    /// Leave the event loop (the worker has exited, or a training process goes on
    /// without the workbench).
    Quit,
}

/// Messages into [`super::App::update`].
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Worker(Event),
    /// A render tick (drives the play animation).
    Tick,
    /// The runtime started a run.
    RunStarted {
        preset: Box<Preset>,
        train: bool,
        run_dir: PathBuf,
        /// Where it came from, for the status bar.
        source: String,
        /// The checkpoint's last loss, when opening one.
        loss: Option<f64>,
        /// It trains in a process of its own (which goes on when the workbench leaves).
        remote: bool,
    },
    /// The live run is controlled by another workbench (process `pid`): watch or take
    /// over?
    AttachBusy {
        dir: PathBuf,
        pid: u32,
    },
    /// A run's log, read.
    LogLoaded(Box<LogView>),
    /// The runs to compare, read.
    Compared(Box<Comparison>),
    /// Starting a run failed; the old one goes on.
    RunFailed(String),
    DataReady(Arc<DataView>),
    ReverseReady {
        id: u64,
        frames: Arc<Vec<Frame>>,
    },
    /// A picture for a graphics slot is encoded (the screen must be drawn again).
    GraphicReady(Arc<Encoded>),
    Runs(Vec<RunEntry>),
    Presets(Vec<PresetEntry>),
    Deleted(Result<PathBuf, String>),
    /// SIGTERM or SIGHUP: save and leave.
    Signal(String),
}

/// What a run's log holds, for the loss pane and the bound view.
#[derive(Debug, Clone, PartialEq)]
pub struct LogView {
    pub dir: PathBuf,
    pub rows: Vec<MetricRow>,
    /// The latest evaluation and its terms per t.
    pub eval: Option<(Evaluation, Vec<f64>)>,
    /// What the reader had to say (a truncated or corrupt log).
    pub notice: Option<String>,
}

/// One run in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparedRun {
    /// The run folder's name.
    pub name: String,
    pub preset: String,
    /// (step, loss) from its log.
    pub loss: Vec<(f64, f64)>,
    /// Its latest bound terms per t, when it was evaluated.
    pub per_t: Option<Vec<f64>>,
    /// The latest bound and its unit.
    pub bound: Option<(f64, String)>,
}

/// Runs set side by side: their curves, and the preset fields that differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub runs: Vec<ComparedRun>,
    /// `path: a | b` lines.
    pub differences: Vec<String>,
    /// Notices from reading the logs.
    pub notices: Vec<String>,
}
