//! The workbench without a terminal: its state and update function (`app`), its event loop
//! on a test backend (`event_loop`), snapshots of every pane and overlay (`snapshots`), the
//! themes, and the message without a terminal (`cli`). `bench` holds its benchmarks,
//! ignored in the test suite:
//!
//! ```sh
//! cargo test --release --test tui bench:: -- --ignored --nocapture --test-threads 1
//! ```

#[path = "../common/mod.rs"]
mod common;

mod app;
mod bench;
mod cli;
mod event_loop;
mod guidance;
mod snapshots;
mod sweep;
mod themes;
