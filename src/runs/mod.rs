//! Runs: planning and launching a training run (in this process or in the background),
//! the run folder (its record, lock and run log), serving a run's worker to the front ends,
//! and listing, comparing and deleting the runs and checkpoints on disk.

mod launch;
pub mod listing;
pub mod runfolder;
pub mod runlog;
pub mod serve;

pub use launch::*;
