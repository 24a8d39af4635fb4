//! The training worker: the thread that owns a trainer and answers commands with events
//! ([`protocol`]), and the socket through which front ends in other processes talk to it
//! ([`wire`]'s frames, [`host`]: the server beside the worker, [`remote`]: a front end's
//! client). It drives [`crate::train`] and [`crate::eval`]; what a run folder holds
//! besides its checkpoints (the record, the lock, the run log) is [`crate::runs`]'.

pub mod host;
pub mod protocol;
pub mod remote;
mod thread;
pub mod wire;

pub use thread::{spawn, Origin, WorkerHandle, WorkerOptions};

/// The worker's socket in its run folder.
pub const SOCKET_FILE: &str = "worker.sock";
/// The output of a training process in the background, in its run folder.
pub const WORKER_LOG: &str = "worker.log";
