//! The harness of the end-to-end tests in real terminals: a private X server (Xvfb), the
//! terminal emulators (xterm as a VT340, kitty) running the workbench in private user
//! folders, keys typed through XTEST, screenshots, the workbench's image log, and the census
//! of a screenshot's pure-black pixels against the picture slots that the log says were
//! drawn. Screenshots are kept in `target/tui-terminals/`.

pub mod log;
pub mod pixels;
pub mod x11;

use super::require;
use log::{Log, Probe};
use pixels::{census, count, Census, Grid};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use x11::{Terminal, Xvfb};

pub use log::CellRect;

pub const BIN: &str = env!("CARGO_BIN_EXE_diffscope");
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");
pub const CHECKPOINT: &str = "checkpoints/glyphs16";
/// The terminal's size in cells.
pub const COLS: u32 = 160;
pub const ROWS: u32 = 48;
/// The terminal's background (#202020).
pub const BG: [u8; 3] = [0x20, 0x20, 0x20];
pub const BLACK: [u8; 3] = [0, 0, 0];

/// `target/tui-terminals/`, where the screenshots are kept.
pub fn out_dir() -> PathBuf {
    let d = Path::new(REPO).join("target").join("tui-terminals");
    std::fs::create_dir_all(&d).expect("create target/tui-terminals");
    d
}

// ---------------------------------------------------------------------------------------
// The private settings and the image log

/// A private HOME / XDG folders and the image log, so that no user settings interfere.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        for d in ["home", "config", "data", "runtime"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let rt = dir.path().join("runtime");
            std::fs::set_permissions(rt, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        Sandbox { dir }
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("image.log")
    }
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    pub fn log(&self) -> Log {
        Log::parse(&self.log_text())
    }
    /// The environment of the terminal and the workbench.
    pub fn apply(&self, cmd: &mut Command) {
        let p = self.dir.path();
        cmd.current_dir(REPO)
            .env("HOME", p.join("home"))
            .env("XDG_CONFIG_HOME", p.join("config"))
            .env("XDG_DATA_HOME", p.join("data"))
            .env("XDG_RUNTIME_DIR", p.join("runtime"))
            .env("DIFFSCOPE_IMAGE_LOG", self.log_path())
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env_remove("KITTY_WINDOW_ID")
            .env_remove("TERM_PROGRAM")
            .env_remove("XENVIRONMENT");
    }
    /// Waits up to `secs` for `pred` on the log; panics with the log otherwise.
    pub fn wait_log(&self, what: &str, secs: u64, pred: impl Fn(&Log) -> bool) -> Log {
        let start = Instant::now();
        loop {
            let log = self.log();
            if pred(&log) {
                return log;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                panic!(
                    "timed out after {secs} s waiting for {what}; the image log ({}):\n{}",
                    self.log_path().display(),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    /// Waits until the log has not grown for `quiet_ms` (at most `secs`).
    pub fn settle(&self, quiet_ms: u64, secs: u64) {
        let start = Instant::now();
        let mut len = self.log_text().len();
        let mut since = Instant::now();
        while start.elapsed() < Duration::from_secs(secs) {
            std::thread::sleep(Duration::from_millis(100));
            let l = self.log_text().len();
            if l != len {
                len = l;
                since = Instant::now();
            } else if since.elapsed() >= Duration::from_millis(quiet_ms) {
                return;
            }
        }
    }
}

/// The workbench's command line on the shipped checkpoint. One libtorch thread: the
/// preset's two spin against each other when other jobs share the cores (sampling the
/// gallery took 144 s with two and 23 s with one at a load of 7 on two cores).
pub fn workbench_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        BIN.into(),
        "tui".into(),
        "--checkpoint".into(),
        CHECKPOINT.into(),
        "--threads".into(),
        "1".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

// ---------------------------------------------------------------------------------------
// A terminal on its own X server

/// A terminal run under test: the sandbox, the X server, the terminal and its window.
pub struct Session {
    // Dropped in this order: the terminal, then the X server, then the private folders.
    pub term: Terminal,
    pub x: Xvfb,
    pub sandbox: Sandbox,
    pub name: &'static str,
    pub win: String,
    /// Text origin inside the window, in pixels.
    pub inset: u32,
    pub shots: Vec<PathBuf>,
}

impl Session {
    /// Starts `program args…` (a terminal running the workbench) on a private X server.
    pub fn start(
        name: &'static str,
        program: &str,
        args: &[String],
        env: &[(&str, &str)],
        inset: u32,
    ) -> Session {
        require(&[program]);
        // This test's screenshots from an earlier run go first.
        if let Ok(dir) = std::fs::read_dir(out_dir()) {
            for e in dir.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{name}-"))
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let sandbox = Sandbox::new();
        let x = Xvfb::start();
        let mut cmd = Command::new(program);
        cmd.args(args).env("DISPLAY", &x.display);
        sandbox.apply(&mut cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let stdout = std::fs::File::create(sandbox.file("terminal.out")).unwrap();
        let stderr = std::fs::File::create(sandbox.file("terminal.err")).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let pid = child.id();
        let term = Terminal { child };
        let win = x.window_of(pid, 60).unwrap_or_else(|| {
            panic!(
                "{program} showed no window within 60 s; its stderr:\n{}",
                std::fs::read_to_string(sandbox.file("terminal.err")).unwrap_or_default()
            )
        });
        let mut s = Session {
            name,
            sandbox,
            x,
            term,
            win,
            inset,
            shots: vec![],
        };
        s.wait_log("the probe line", 30, |l| l.probe.is_some());
        s
    }
    pub fn terminal_stderr(&self) -> String {
        std::fs::read_to_string(self.sandbox.file("terminal.err")).unwrap_or_default()
    }
    /// Panics with `msg`, the image log, the screenshots and the terminal's stderr.
    pub fn fail(&self, msg: &str) -> ! {
        panic!(
            "{}: {msg}\n--- image log ({}):\n{}--- screenshots: {:?}\n--- terminal stderr:\n{}",
            self.name,
            self.sandbox.log_path().display(),
            self.sandbox.log_text(),
            self.shots,
            self.terminal_stderr()
        );
    }
    pub fn check(&self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(&msg());
        }
    }
    /// Waits up to `secs` for `pred` on the log; on a timeout fails with a screenshot.
    pub fn wait_log(&mut self, what: &str, secs: u64, pred: impl Fn(&Log) -> bool) -> Log {
        let start = Instant::now();
        loop {
            let log = self.sandbox.log();
            if pred(&log) {
                return log;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                self.shot("timeout");
                self.fail(&format!("timed out after {secs} s waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    /// The probe line (logged before `start` returns).
    pub fn probe(&self) -> Probe {
        self.sandbox.log().probe.expect("the probe line")
    }
    pub fn grid(&self) -> Grid {
        let p = self.probe();
        let (wx, wy, _, _) = self.x.geometry(&self.win);
        Grid {
            ox: wx + self.inset,
            oy: wy + self.inset,
            cw: p.cell.0,
            ch: p.cell.1,
        }
    }
    pub fn shot(&mut self, step: &str) -> image::RgbImage {
        let (path, img) = self.x.shot(&format!("{}-{step}", self.name));
        println!("{}: screenshot {}", self.name, path.display());
        self.shots.push(path);
        img
    }
    /// Screenshots until `enough` holds for the census (up to `secs`): the terminal may
    /// show a picture a moment after the log line.
    pub fn shot_until(
        &mut self,
        step: &str,
        secs: u64,
        enough: impl Fn(&Census) -> bool,
    ) -> (image::RgbImage, Census, BTreeMap<String, CellRect>) {
        self.sandbox.settle(700, 10);
        let start = Instant::now();
        loop {
            let live = self.sandbox.log().live();
            let img = self.shot(step);
            let c = census(&img, self.grid(), &live);
            if enough(&c) || start.elapsed() > Duration::from_secs(secs) {
                return (img, c, live);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Every pure-black pixel lies inside a drawn slot; `min` black pixels in each slot
    /// of `slots`; the status bar and the footer are on screen, with no picture over them.
    pub fn check_pictures(&mut self, step: &str, slots: &[&str], min: usize) {
        let grid = self.grid();
        let (img, c, live) = self.shot_until(step, 5, |c| {
            slots
                .iter()
                .all(|s| c.per_slot.get(*s).is_some_and(|e| e.0 >= min))
        });
        let shot = self.shots.last().unwrap().display().to_string();
        println!("{}/{step}: grid {grid:?}", self.name);
        for (s, r) in &live {
            let (n, bbox) = &c.per_slot[s];
            println!(
                "{}/{step}: slot {s} cells x={} y={} w={} h={} = pixels {:?}; black inside {n}, \
                 their box {bbox:?}",
                self.name,
                r.x,
                r.y,
                r.w,
                r.h,
                grid.cells(*r)
            );
        }
        println!(
            "{}/{step}: black pixels {} in all, {} outside the slots {:?}",
            self.name, c.total, c.outside, c.examples
        );
        self.check(c.outside == 0, || {
            format!(
                "{} pure-black pixels lie outside the drawn slots {live:?} (e.g. {:?}); \
                 screenshot {shot}",
                c.outside, c.examples
            )
        });
        for s in slots {
            let n = c.per_slot.get(*s).map_or(0, |e| e.0);
            self.check(n >= min, || {
                format!("only {n} black pixels inside slot {s} (want ≥ {min}); screenshot {shot}")
            });
        }
        // The screen did not scroll: the top row, the status bar and the footer have text,
        // and no picture covers them.
        for (what, from, to) in [
            ("top row", 0, 1),
            ("status bar", 1, 2),
            ("footer", ROWS - 2, ROWS),
        ] {
            let r = grid.rows(from, to);
            let (black, _) = count(&img, r, BLACK);
            let (_, text) = count(&img, r, BG);
            println!(
                "{}/{step}: {what} (pixel rows {}..{}): {text} non-background pixels, {black} black",
                self.name, r.y0, r.y1
            );
            self.check(black == 0, || {
                format!("{black} pure-black pixels in the {what}; screenshot {shot}")
            });
            if what != "status bar" {
                self.check(text > 100, || {
                    format!("the {what} is empty ({text} non-background pixels): did the screen scroll? screenshot {shot}")
                });
            }
        }
        // The last footer row carries the key hints.
        let r = grid.rows(ROWS - 1, ROWS);
        let (_, text) = count(&img, r, BG);
        self.check(text > 100, || {
            format!("the last row is empty ({text} non-background pixels); screenshot {shot}")
        });
    }

    /// Presses `keys`, then waits for the log to satisfy `pred`.
    pub fn press_and_wait(
        &mut self,
        keys: &[&str],
        what: &str,
        secs: u64,
        pred: impl Fn(&Log) -> bool,
    ) {
        self.x.keys(&self.win, keys);
        self.wait_log(what, secs, pred);
    }
}

/// xterm as a VT340 (sixel graphics) of 160×48 cells on #202020, without an X border,
/// running the workbench with `extra` arguments.
pub fn xterm_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "-ti",
        "vt340",
        "-xrm",
        "XTerm*decTerminalID: vt340",
        "-bw",
        "0",
        "-geometry",
        "160x48+0+0",
        "-bg",
        "#202020",
        "-fg",
        "#d0d0d0",
        "-e",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(workbench_args(extra));
    a
}

/// xterm's internal border: the text starts 2 px inside the window (which has no X
/// border: `-bw 0`).
pub const XTERM_INSET: u32 = 2;
