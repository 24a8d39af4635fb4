//! What goes into [`super::App::update`] ([`Msg`]) and what comes out ([`Effect`]).

use super::super::graphics::Encoded;
use super::super::inspect::{DataView, Frame};
use crate::config::catalog::PresetEntry;
use crate::config::Preset;
use crate::train::protocol::{Command, Event, Samples};
use crate::train::runs::CheckpointEntry;
pub use crate::train::runs::{RunOrigin, RunSpec};
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
    ScanCheckpoints,
    ScanPresets,
    DeleteCheckpoint(PathBuf),
    /// Leave the event loop (the worker has exited).
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
    },
    /// Starting a run failed; the old one goes on.
    RunFailed(String),
    DataReady(Arc<DataView>),
    ReverseReady {
        id: u64,
        frames: Arc<Vec<Frame>>,
    },
    /// A picture for a graphics slot is encoded (the screen must be drawn again).
    GraphicReady(Arc<Encoded>),
    Checkpoints(Vec<CheckpointEntry>),
    Presets(Vec<PresetEntry>),
    Deleted(Result<PathBuf, String>),
    /// SIGTERM or SIGHUP: save and leave.
    Signal(String),
}
