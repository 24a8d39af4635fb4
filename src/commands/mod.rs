//! The headless commands behind the command line.

pub mod data;
pub mod eval;
pub mod progress;
pub mod sample;
pub mod schedule;
pub mod train;

/// The command line as typed, for checkpoint metadata.
pub fn command_line() -> String {
    let mut parts: Vec<String> = std::env::args().collect();
    if let Some(first) = parts.first_mut() {
        *first = "diffscope".into();
    }
    parts.join(" ")
}
