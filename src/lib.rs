//! diffscope: a terminal workbench for denoising diffusion models (DDPM).
//!
//! The core uses no UI or command-line crate and never a front end:
//! - [`diffusion`]: the mathematics: schedules and chains in f64, forward process, posterior,
//!   objective, bound and samplers;
//! - [`model`]: the denoising networks (MLP, U-Net) and mixed precision;
//! - [`data`]: the training data sources, the in-memory dataset and its batches;
//! - [`train`]: the training step, optimiser, EMA and checkpoints;
//! - [`eval`]: the bound on held-out data and the sample-quality figures;
//! - [`worker`]: the training thread, its protocol and the socket to other processes;
//! - [`runs`]: launching runs, the run folder, the run log, and listing runs on disk;
//! - [`config`]: presets, themes and where files live;
//! - [`render`]: pictures written to files (scatters, grids, captions, animations);
//! - [`rng`] and [`util`]: the seedable generator and small shared helpers.
//!
//! The two front ends use the core, never each other:
//! - [`cli`] + [`commands`]: the command line and its headless commands;
//! - [`tui`]: the terminal workbench.

pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod diffusion;
pub mod eval;
pub mod model;
pub mod render;
pub mod rng;
pub mod runs;
pub mod train;
pub mod tui;
pub mod util;
pub mod worker;
