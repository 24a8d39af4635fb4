//! diffscope: a terminal workbench for denoising diffusion models (DDPM).
//!
//! The core (`diffusion`, `model`, `data`, `train`) uses no UI crate; the command line and
//! the terminal interface are built on it.

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
