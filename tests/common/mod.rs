//! Helpers shared by the command-line tests: run the binary, read its output, and check
//! the one-line error that every kind of bad input must give.
#![allow(dead_code)]

pub mod tmux;
pub mod training;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn diffscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(args)
        .output()
        .expect("run diffscope")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Asserts a failed run whose stderr ends with exactly one error line mentioning
/// `needle` (progress lines may come before it) and returns that line.
pub fn assert_one_line_error(o: &Output, needle: &str) -> String {
    let all = stderr(o);
    println!("{}", all.trim_end());
    assert!(!o.status.success(), "expected failure, got success: {all}");
    assert!(!all.contains("panicked"), "panic: {all}");
    let errors: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with("diffscope: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {all}");
    assert_eq!(
        all.trim_end().lines().last(),
        Some(errors[0]),
        "error comes last"
    );
    assert!(errors[0].contains(needle), "expected {needle:?} in {all}");
    errors[0].to_string()
}

pub fn train_tiny(dir: &Path) -> PathBuf {
    let out = dir.join("run");
    let o = diffscope(&[
        "train",
        "--preset",
        "tests/valid_presets/tiny.ron",
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}
