//! Helpers shared by the test binaries (and the benchmarks that include them): run the
//! binary, read its output, check the one-line error that every kind of bad input must
//! give; the lock on what belongs to the whole test process; the tools the end-to-end tests
//! drive (tmux, the terminals under Xvfb); the workbench's synthetic states (`demo`).
#![allow(dead_code)]

pub mod demo;
pub mod terminals;
pub mod tmux;
pub mod training;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// What belongs to the whole process

/// The tests of one binary run side by side in threads of one process, and some state is
/// the process's, not a test's: libtorch's random generator (seeded by `tch::manual_seed`
/// and by every trainer, sampler and evaluation, drawn from by `Tensor::randn`), libtorch's
/// thread count, and the environment. A test that seeds or draws from the generator in
/// this process (training, sampling, evaluating, loading a trainer, starting a worker
/// here), sets the thread count or changes the environment holds this lock while it does:
/// otherwise two tests could replay each other's noise halfway, or one compute on the
/// thread count another just set. Tests that only start the program in processes of
/// their own need not.
pub fn process_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh, empty cache of helper models (`DIFFSCOPE_CACHE`) for this process and the
/// programs it starts, for as long as it lives; the variable is as before once it is
/// dropped. Changing the environment needs the [`process_lock`], hence the guard asked for.
pub struct PrivateCache {
    dir: tempfile::TempDir,
    before: Option<OsString>,
}

impl PrivateCache {
    pub fn new(_turn: &MutexGuard<'static, ()>) -> PrivateCache {
        let dir = tempfile::tempdir().expect("a temporary folder for the cache");
        let before = std::env::var_os("DIFFSCOPE_CACHE");
        std::env::set_var("DIFFSCOPE_CACHE", dir.path());
        PrivateCache { dir, before }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PrivateCache {
    fn drop(&mut self) {
        match &self.before {
            Some(v) => std::env::set_var("DIFFSCOPE_CACHE", v),
            None => std::env::remove_var("DIFFSCOPE_CACHE"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The program

pub fn diffscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(args)
        .output()
        .expect("run diffscope")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
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

// ---------------------------------------------------------------------------------------
// Other programs

/// Fails, naming the Debian packages to install, when one of `tools` is not on PATH
/// (`scripts/setup-test-tools.sh`, run by `make test`, installs them all).
pub fn require(tools: &[&str]) {
    let package = |tool: &str| match tool {
        "Xvfb" => "xvfb",
        "xterm" => "xterm",
        "kitty" => "kitty",
        "import" => "imagemagick",
        "xdotool" => "xdotool",
        "tmux" => "tmux",
        "script" => "bsdutils (util-linux)",
        _ => "?",
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    assert!(
        missing.is_empty(),
        "missing tools for the end-to-end tests: {}; install the Debian packages {} \
         (scripts/setup-test-tools.sh does it)",
        missing.join(", "),
        missing
            .iter()
            .map(|t| package(t))
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Sends SIGTERM, waits up to 3 s, then SIGKILL; reaps the child.
pub fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SAFETY: kill(2) on the id of a child we spawned and have not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits up to `secs` for the child to exit; whether it did.
pub fn exits_within(child: &mut Child, secs: u64) -> bool {
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
