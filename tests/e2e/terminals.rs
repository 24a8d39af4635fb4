//! End to end with real terminals: the protocol each one gets and what it actually shows
//! of the workbench's pictures, in xterm as a VT340 (sixel), kitty (direct placement), a
//! terminal that answers nothing (half-blocks) and tmux without passthrough (half-blocks).
//!
//! The graphical terminals run on a private X server (Xvfb); each check reads the image
//! log (`DIFFSCOPE_IMAGE_LOG`: the probe's decision and the slot rectangle of every picture
//! written) and a screenshot. The picture background and the gaps between images are pure
//! black (0,0,0) while the theme never is and the terminal's background is #202020, so
//! every pure-black pixel on the screen belongs to a picture: it must lie inside a slot
//! that the log says was drawn.
//!
//! Needs Xvfb, xterm, kitty, ImageMagick's `import`, xdotool, tmux and `script`
//! (`scripts/setup-test-tools.sh` installs them). A missing tool fails the test, naming
//! the package to install. The tests take turns: two terminals never run at once.
//! Screenshots are kept in `target/tui-terminals/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One terminal at a time: the machine has few cores and the pictures take a while.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const BIN: &str = env!("CARGO_BIN_EXE_diffscope");
const REPO: &str = env!("CARGO_MANIFEST_DIR");
const CHECKPOINT: &str = "checkpoints/glyphs16";
/// The terminal's size in cells.
const COLS: u32 = 160;
const ROWS: u32 = 48;
/// The terminal's background (#202020).
const BG: [u8; 3] = [0x20, 0x20, 0x20];
const BLACK: [u8; 3] = [0, 0, 0];
/// How long the workbench may take to sample the gallery (CPU, 100 steps, 64 images):
/// 5–10 s on two idle cores, several times that when other jobs share them.
const SAMPLES_SECS: u64 = 180;

// ---------------------------------------------------------------------------------------
// Tools

/// Fails, naming the Debian packages to install, when one of `tools` is not on PATH.
fn require(tools: &[&str]) {
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
        "missing tools for the terminal tests: {}; install the Debian packages {} \
         (scripts/setup-test-tools.sh does it)",
        missing.join(", "),
        missing
            .iter()
            .map(|t| package(t))
            .collect::<Vec<_>>()
            .join(" ")
    );
}

fn out_dir() -> PathBuf {
    let d = Path::new(REPO).join("target").join("tui-terminals");
    std::fs::create_dir_all(&d).expect("create target/tui-terminals");
    d
}

/// Sends SIGTERM, waits up to 3 s, then SIGKILL; reaps the child.
fn stop(child: &mut Child) {
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
fn exits_within(child: &mut Child, secs: u64) -> bool {
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

// ---------------------------------------------------------------------------------------
// The private settings and the image log

/// A private HOME / XDG folders and the image log, so that no user settings interfere.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
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
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("image.log")
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    fn log(&self) -> Log {
        Log::parse(&self.log_text())
    }
    /// The environment of the terminal and the workbench.
    fn apply(&self, cmd: &mut Command) {
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
    fn wait_log(&self, what: &str, secs: u64, pred: impl Fn(&Log) -> bool) -> Log {
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
    fn settle(&self, quiet_ms: u64, secs: u64) {
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

#[derive(Debug, Clone)]
struct Probe {
    proto: String,
    reason: String,
    cell: (u32, u32),
    ms: f64,
    notice: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CellRect {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

#[derive(Debug, Clone)]
enum Event {
    Draw(String, CellRect),
    Repaint(Vec<String>),
}

#[derive(Debug, Default)]
struct Log {
    probe: Option<Probe>,
    events: Vec<Event>,
}

/// `key=value` from a log line (value up to the next space).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split(' ').next()
}

/// A Rust debug-quoted string starting at `s` (`"…"`), unescaped.
fn quoted(s: &str) -> Option<String> {
    let mut chars = s.strip_prefix('"')?.chars();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

fn pair(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('x')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Log {
    fn parse(text: &str) -> Log {
        let mut log = Log::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("probe ") {
                let rest = format!(" {rest}");
                let reason = rest
                    .find(" reason=")
                    .and_then(|i| quoted(&rest[i + 8..]))
                    .unwrap_or_default();
                let notice = rest
                    .find(" notice=")
                    .and_then(|i| rest[i + 8..].strip_prefix("Some(").and_then(quoted));
                log.probe = Some(Probe {
                    proto: field(&rest, "proto").unwrap_or("").to_string(),
                    reason,
                    cell: field(&rest, "cell").and_then(pair).unwrap_or((0, 0)),
                    ms: field(&rest, "ms")
                        .and_then(|m| m.parse().ok())
                        .unwrap_or(f64::NAN),
                    notice,
                });
            } else if let Some(rest) = line.strip_prefix("draw ") {
                let slot = rest.split(' ').next().unwrap_or("").to_string();
                let rest = format!(" {rest}");
                let n = |k| field(&rest, k).and_then(|v| v.parse().ok());
                if let (Some(x), Some(y), Some(w), Some(h)) = (n("x"), n("y"), n("w"), n("h")) {
                    log.events.push(Event::Draw(slot, CellRect { x, y, w, h }));
                }
            } else if let Some(rest) = line.strip_prefix("repaint (gone: [") {
                let list = rest.trim_end_matches("])");
                log.events.push(Event::Repaint(
                    list.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                ));
            }
        }
        log
    }
    fn draws(&self, slot: &str) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Draw(s, _) if s == slot))
            .count()
    }
    fn repaints(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Repaint(_)))
            .count()
    }
    /// The pictures on screen now: every drawn slot, less those a repaint erased since.
    fn live(&self) -> BTreeMap<String, CellRect> {
        let mut live = BTreeMap::new();
        for e in &self.events {
            match e {
                Event::Draw(s, r) => {
                    live.insert(s.clone(), *r);
                }
                Event::Repaint(gone) => {
                    for g in gone {
                        live.remove(g);
                    }
                }
            }
        }
        live
    }
}

// ---------------------------------------------------------------------------------------
// The X server, the terminals and the screenshots

/// A private Xvfb on the first free display from :70 up; killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        require(&["Xvfb", "xdotool", "import"]);
        for n in 70..140 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            {
                continue;
            }
            let display = format!(":{n}");
            // -wr: a white root window, so nothing outside the terminal is black.
            let Ok(mut child) = Command::new("Xvfb")
                .args([
                    &display,
                    "-screen",
                    "0",
                    "1600x1024x24",
                    "-nolisten",
                    "tcp",
                    "-wr",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            else {
                continue;
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // taken: try the next display
                }
                let up = Command::new("xdotool")
                    .arg("getdisplaygeometry")
                    .env("DISPLAY", &display)
                    .stderr(Stdio::null())
                    .output()
                    .is_ok_and(|o| o.status.success());
                if up {
                    return Xvfb { child, display };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            stop(&mut child);
        }
        panic!("no free X display from :70 to :139 for Xvfb");
    }
    fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// The top-level window of process `pid`, waiting up to `secs` for it to be mapped.
    fn window_of(&self, pid: u32, secs: u64) -> Option<String> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(secs) {
            let out = self.xdotool(&["search", "--onlyvisible", "--pid", &pid.to_string()]);
            if let Some(w) = out.lines().next() {
                return Some(w.trim().to_string());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }
    /// (x, y, width, height) of a window in screen pixels.
    fn geometry(&self, win: &str) -> (u32, u32, u32, u32) {
        let out = self.xdotool(&["getwindowgeometry", "--shell", win]);
        let get = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {k} in xdotool's answer: {out}"))
        };
        (get("X"), get("Y"), get("WIDTH"), get("HEIGHT"))
    }
    /// Focuses the window and types `keys` (xdotool key names) through XTEST.
    fn keys(&self, win: &str, keys: &[&str]) {
        self.xdotool(&["windowfocus", "--sync", win]);
        let mut args = vec!["key", "--delay", "50"];
        args.extend_from_slice(keys);
        self.xdotool(&args);
    }
    /// A screenshot of the whole screen, saved as `target/tui-terminals/{name}.png`.
    fn shot(&self, name: &str) -> (PathBuf, image::RgbImage) {
        let path = out_dir().join(format!("{name}.png"));
        let out = Command::new("import")
            .args(["-window", "root"])
            .arg(&path)
            .env("DISPLAY", &self.display)
            .output()
            .expect("import runs");
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let img = image::open(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .to_rgb8();
        (path, img)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A terminal emulator process; stopped (with the workbench in it) on drop.
struct Terminal {
    child: Child,
}

impl Drop for Terminal {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// The workbench's command line on the shipped checkpoint. One libtorch thread: the
/// preset's two spin against each other when other jobs share the cores (sampling the
/// gallery took 144 s with two and 23 s with one at a load of 7 on two cores).
fn workbench_args(extra: &[&str]) -> Vec<String> {
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

/// Where the terminal's text starts and how big its cells are, in screen pixels.
#[derive(Debug, Clone, Copy)]
struct Grid {
    ox: u32,
    oy: u32,
    cw: u32,
    ch: u32,
}

/// A pixel rectangle, half-open.
#[derive(Debug, Clone, Copy)]
struct PixRect {
    x0: i64,
    y0: i64,
    x1: i64,
    y1: i64,
}

impl PixRect {
    fn contains(&self, x: i64, y: i64, tol: i64) -> bool {
        x >= self.x0 - tol && x < self.x1 + tol && y >= self.y0 - tol && y < self.y1 + tol
    }
}

impl Grid {
    fn cells(&self, r: CellRect) -> PixRect {
        PixRect {
            x0: (self.ox + r.x * self.cw) as i64,
            y0: (self.oy + r.y * self.ch) as i64,
            x1: (self.ox + (r.x + r.w) * self.cw) as i64,
            y1: (self.oy + (r.y + r.h) * self.ch) as i64,
        }
    }
    /// The pixel rows of text rows `from..to`, the terminal's full width.
    fn rows(&self, from: u32, to: u32) -> PixRect {
        self.cells(CellRect {
            x: 0,
            y: from,
            w: COLS,
            h: to - from,
        })
    }
}

/// Where the pure-black pixels of a screenshot lie against the drawn slots.
#[derive(Debug)]
struct Census {
    total: usize,
    outside: usize,
    /// Black pixels in each slot, and their bounding box.
    per_slot: BTreeMap<String, (usize, Option<PixRect>)>,
    /// Up to 10 black pixels outside every slot.
    examples: Vec<(i64, i64)>,
}

fn census(img: &image::RgbImage, grid: Grid, live: &BTreeMap<String, CellRect>) -> Census {
    let rects: Vec<(String, PixRect)> = live
        .iter()
        .map(|(s, r)| (s.clone(), grid.cells(*r)))
        .collect();
    let mut c = Census {
        total: 0,
        outside: 0,
        per_slot: rects.iter().map(|(s, _)| (s.clone(), (0, None))).collect(),
        examples: vec![],
    };
    for (x, y, p) in img.enumerate_pixels() {
        if p.0 != BLACK {
            continue;
        }
        let (x, y) = (x as i64, y as i64);
        c.total += 1;
        let mut inside = false;
        for (s, r) in &rects {
            if r.contains(x, y, 1) {
                inside = true;
                let e = c.per_slot.get_mut(s).unwrap();
                e.0 += 1;
                let b = e.1.get_or_insert(PixRect {
                    x0: x,
                    y0: y,
                    x1: x + 1,
                    y1: y + 1,
                });
                b.x0 = b.x0.min(x);
                b.y0 = b.y0.min(y);
                b.x1 = b.x1.max(x + 1);
                b.y1 = b.y1.max(y + 1);
            }
        }
        if !inside {
            c.outside += 1;
            if c.examples.len() < 10 {
                c.examples.push((x, y));
            }
        }
    }
    c
}

/// Pixels of `r` in `img` equal to / different from `color`.
fn count(img: &image::RgbImage, r: PixRect, color: [u8; 3]) -> (usize, usize) {
    let (mut same, mut other) = (0, 0);
    for y in r.y0.max(0)..r.y1.min(img.height() as i64) {
        for x in r.x0.max(0)..r.x1.min(img.width() as i64) {
            if img.get_pixel(x as u32, y as u32).0 == color {
                same += 1;
            } else {
                other += 1;
            }
        }
    }
    (same, other)
}

/// A terminal run under test: the sandbox, the X server, the terminal and its window.
struct Session {
    // Dropped in this order: the terminal, then the X server, then the private folders.
    term: Terminal,
    x: Xvfb,
    sandbox: Sandbox,
    name: &'static str,
    win: String,
    /// Text origin inside the window, in pixels.
    inset: u32,
    shots: Vec<PathBuf>,
}

impl Session {
    /// Starts `program args…` (a terminal running the workbench) on a private X server.
    fn start(
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
    fn terminal_stderr(&self) -> String {
        std::fs::read_to_string(self.sandbox.file("terminal.err")).unwrap_or_default()
    }
    /// Panics with `msg`, the image log, the screenshots and the terminal's stderr.
    fn fail(&self, msg: &str) -> ! {
        panic!(
            "{}: {msg}\n--- image log ({}):\n{}--- screenshots: {:?}\n--- terminal stderr:\n{}",
            self.name,
            self.sandbox.log_path().display(),
            self.sandbox.log_text(),
            self.shots,
            self.terminal_stderr()
        );
    }
    fn check(&self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(&msg());
        }
    }
    /// Waits up to `secs` for `pred` on the log; on a timeout fails with a screenshot.
    fn wait_log(&mut self, what: &str, secs: u64, pred: impl Fn(&Log) -> bool) -> Log {
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
    fn probe(&self) -> Probe {
        self.sandbox.log().probe.expect("the probe line")
    }
    fn grid(&self) -> Grid {
        let p = self.probe();
        let (wx, wy, _, _) = self.x.geometry(&self.win);
        Grid {
            ox: wx + self.inset,
            oy: wy + self.inset,
            cw: p.cell.0,
            ch: p.cell.1,
        }
    }
    fn shot(&mut self, step: &str) -> image::RgbImage {
        let (path, img) = self.x.shot(&format!("{}-{step}", self.name));
        println!("{}: screenshot {}", self.name, path.display());
        self.shots.push(path);
        img
    }
    /// Screenshots until `enough` holds for the census (up to `secs`): the terminal may
    /// show a picture a moment after the log line.
    fn shot_until(
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
    fn check_pictures(&mut self, step: &str, slots: &[&str], min: usize) {
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
    fn press_and_wait(
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

fn xterm_args(extra: &[&str]) -> Vec<String> {
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
const XTERM_INSET: u32 = 2;

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn xterm_vt340_gets_sixel_and_pictures_stay_inside_their_panes() {
    let _turn = serial();
    require(&["xterm"]);
    let start = Instant::now();
    let mut s = Session::start("xterm-sixel", "xterm", &xterm_args(&[]), &[], XTERM_INSET);
    let p = s.probe();
    println!("xterm-sixel: probe {p:?}");
    s.check(p.proto == "Sixel" && p.reason == "DA1", || {
        format!("xterm -ti vt340 should get sixel from DA1, got {p:?}")
    });
    s.check(p.cell.0 > 0 && p.cell.1 > 0, || {
        format!("no cell size in {p:?}")
    });
    let (_, _, ww, wh) = s.x.geometry(&s.win);
    println!(
        "xterm-sixel: window {ww}x{wh}, cell {}x{}",
        p.cell.0, p.cell.1
    );
    s.check(
        ww == COLS * p.cell.0 + 2 * XTERM_INSET && wh == ROWS * p.cell.1 + 2 * XTERM_INSET,
        || {
            format!(
                "the window {ww}x{wh} does not match {COLS}x{ROWS} cells of {:?}",
                p.cell
            )
        },
    );

    s.wait_log("the samples to be drawn", SAMPLES_SECS, |l| {
        l.draws("Samples") > 0
    });
    println!(
        "xterm-sixel: samples drawn after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    s.check_pictures("1-forward", &["Samples", "Xt"], 2000);

    // Reverse: the inspector shows x_t and x̂_0 side by side.
    let before = s.sandbox.log().draws("X0");
    s.press_and_wait(&["f"], "x̂_0 to be drawn after f", 30, |l| {
        l.draws("X0") > before
    });
    s.check_pictures("2-reverse", &["Samples", "Xt", "X0"], 2000);

    // Help over everything: the pictures are erased, not left under the overlay.
    let before = s.sandbox.log().repaints();
    s.press_and_wait(&["question"], "a repaint after ?", 10, |l| {
        l.repaints() > before
    });
    let (img, c, live) = s.shot_until("3-help", 5, |c| c.total == 0);
    println!(
        "xterm-sixel/3-help: {} black pixels with help open (live slots {live:?})",
        c.total
    );
    let shot = s.shots.last().unwrap().display().to_string();
    s.check(c.total == 0, || {
        format!(
            "{} pure-black pixels under the help overlay (e.g. {:?}); screenshot {shot}",
            c.total, c.examples
        )
    });
    let (_, text) = count(&img, s.grid().rows(3, 20), BG);
    s.check(text > 1000, || {
        format!("the help overlay is not on screen; screenshot {shot}")
    });

    // Esc closes help; q quits a checkpoint inspection at once.
    let before = s.sandbox.log().draws("Samples");
    s.press_and_wait(
        &["Escape"],
        "the pictures to come back after help",
        10,
        |l| l.draws("Samples") > before,
    );
    s.check_pictures("4-after-help", &["Samples", "Xt", "X0"], 2000);
    s.x.keys(&s.win, &["q"]);
    let t = Instant::now();
    let exited = exits_within(&mut s.term.child, 10);
    println!(
        "xterm-sixel: xterm exited {:.1} s after q: {exited}",
        t.elapsed().as_secs_f64()
    );
    s.check(exited, || "xterm did not exit within 10 s of q".into());
    println!("xterm-sixel: {:.1} s in all", start.elapsed().as_secs_f64());
}

#[test]
fn kitty_forced_in_xterm_falls_back_to_sixel_with_a_notice() {
    let _turn = serial();
    require(&["xterm"]);
    let start = Instant::now();
    let mut s = Session::start(
        "xterm-forced-kitty",
        "xterm",
        &xterm_args(&["--image-protocol", "kitty"]),
        &[],
        XTERM_INSET,
    );
    let p = s.probe();
    println!("xterm-forced-kitty: probe {p:?}");
    s.check(p.proto == "Sixel", || {
        format!("expected sixel instead of kitty, got {p:?}")
    });
    s.check(p.notice.is_some(), || {
        format!("a forced kitty that cannot be honoured needs a notice, got {p:?}")
    });
    s.wait_log("the samples to be drawn", SAMPLES_SECS, |l| {
        l.draws("Samples") > 0
    });
    s.check_pictures("1", &["Samples", "Xt"], 2000);
    s.x.keys(&s.win, &["q"]);
    let exited = exits_within(&mut s.term.child, 10);
    s.check(exited, || "xterm did not exit within 10 s of q".into());
    println!(
        "xterm-forced-kitty: {:.1} s in all",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn kitty_gets_direct_placement_and_pictures_stay_inside_their_panes() {
    let _turn = serial();
    require(&["kitty"]);
    let start = Instant::now();
    let mut args: Vec<String> = [
        "--config",
        "NONE",
        "-o",
        "remember_window_size=no",
        "-o",
        "initial_window_width=160c",
        "-o",
        "initial_window_height=48c",
        "-o",
        "background=#202020",
        "-o",
        "foreground=#d0d0d0",
        "-o",
        "window_padding_width=0",
        "-o",
        "placement_strategy=top-left",
        "-o",
        "update_check_interval=0",
        "-e",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(workbench_args(&[]));
    // kitty needs OpenGL 3.3: under Xvfb that is Mesa's software renderer.
    let mut s = Session::start(
        "kitty",
        "kitty",
        &args,
        &[("LIBGL_ALWAYS_SOFTWARE", "1")],
        0,
    );
    let p = s.probe();
    println!("kitty: probe {p:?}");
    s.check(
        p.proto == "KittyDirect" && p.reason.contains("kitty 0.26.5"),
        || format!("kitty 0.26.5 should get direct placement, got {p:?}"),
    );
    let (_, _, ww, wh) = s.x.geometry(&s.win);
    println!("kitty: window {ww}x{wh}, cell {}x{}", p.cell.0, p.cell.1);
    s.wait_log("the samples to be drawn", SAMPLES_SECS, |l| {
        l.draws("Samples") > 0
    });
    println!(
        "kitty: samples drawn after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    s.check_pictures("1", &["Samples", "Xt"], 2000);
    s.x.keys(&s.win, &["q"]);
    let exited = exits_within(&mut s.term.child, 15);
    s.check(exited, || "kitty did not exit within 15 s of q".into());
    let err = s.terminal_stderr();
    println!("kitty: stderr:\n{err}");
    s.check(
        !err.contains("Malformed") && !err.contains("invalid key"),
        || "kitty complained about the graphics commands".into(),
    );
    println!("kitty: {:.1} s in all", start.elapsed().as_secs_f64());
}

/// The workbench in a pty that nobody answers (`script`), stdin a pipe kept open.
struct Silent {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Silent {
    fn drop(&mut self) {
        drop(self.stdin.take());
        stop(&mut self.child);
    }
}

#[test]
fn a_terminal_that_answers_nothing_gets_half_blocks_without_hanging() {
    let _turn = serial();
    require(&["script"]);
    let sandbox = Sandbox::new();
    let mut line = String::new();
    for a in workbench_args(&[]) {
        write!(line, " '{a}'").unwrap();
    }
    let mut cmd = Command::new("script");
    cmd.args([
        "-qfec",
        &format!("stty cols {COLS} rows {ROWS}; exec{line}"),
        "/dev/null",
    ]);
    sandbox.apply(&mut cmd);
    let stdout = std::fs::File::create(sandbox.file("pty.out")).unwrap();
    let start = Instant::now();
    let child = cmd
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .expect("start script");
    let mut run = Silent { stdin: None, child };
    run.stdin = run.child.stdin.take();
    let log = sandbox.wait_log("the probe line", 20, |l| l.probe.is_some());
    let p = log.probe.unwrap();
    println!(
        "silent: probe {p:?}, logged {:.1} s after the start",
        start.elapsed().as_secs_f64()
    );
    let fail = |msg: String| -> ! {
        panic!("silent: {msg}\n--- image log:\n{}", sandbox.log_text());
    };
    if !(p.proto == "Halfblocks" && p.reason == "no answer") {
        fail(format!("expected half-blocks for no answer, got {p:?}"));
    }
    // NaN (no figure in the log) fails too.
    if p.ms.is_nan() || p.ms >= 1000.0 {
        fail(format!("the probe waited {} ms (want < 1000)", p.ms));
    }
    // It started rather than hung: still running after the probe, and a screen is drawn.
    let probed = Instant::now();
    let drawn = loop {
        if let Ok(Some(st)) = run.child.try_wait() {
            fail(format!("the workbench ended after the probe: {st}"));
        }
        let drawn = std::fs::metadata(sandbox.file("pty.out")).map_or(0, |m| m.len());
        if drawn >= 10_000 || probed.elapsed() > Duration::from_secs(10) {
            break drawn;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    println!(
        "silent: the first screen ({drawn} bytes) reached the terminal {:.1} s after the probe line",
        probed.elapsed().as_secs_f64()
    );
    if drawn < 10_000 {
        fail(format!(
            "only {drawn} bytes reached the terminal within 10 s of the probe: no screen drawn"
        ));
    }
    run.stdin.as_mut().unwrap().write_all(b"q").unwrap();
    run.stdin.as_mut().unwrap().flush().unwrap();
    let t = Instant::now();
    let exited = exits_within(&mut run.child, 10);
    println!(
        "silent: exited {:.1} s after q: {exited}",
        t.elapsed().as_secs_f64()
    );
    if !exited {
        fail("the workbench did not quit within 10 s of q".into());
    }
}

/// A detached tmux server on its own socket; killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

#[test]
fn half_blocks_in_tmux_show_every_picture_readably() {
    let _turn = serial();
    require(&["tmux"]);
    let sandbox = Sandbox::new();
    let t = Tmux {
        socket: format!("diffscope-terminals-{}", std::process::id()),
    };
    let mut line = String::new();
    for a in workbench_args(&[]) {
        write!(line, " '{a}'").unwrap();
    }
    let mut cmd = Command::new("tmux");
    cmd.args([
        "-L",
        &t.socket,
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "w",
    ])
    .args(["-x", &COLS.to_string(), "-y", &ROWS.to_string()])
    .arg(format!("exec{line}"))
    .env("TERM", "xterm-256color");
    sandbox.apply(&mut cmd);
    let out = cmd.output().expect("tmux runs");
    assert!(
        out.status.success(),
        "tmux new-session failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    let screen = loop {
        let s = t.run(&["capture-pane", "-e", "-p", "-t", "w"]);
        let plain = strip_ansi(&s);
        if plain.contains("of 64") && plain.contains("images:") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(SAMPLES_SECS) {
            panic!(
                "tmux: timed out waiting for the samples; the screen:\n{plain}\n--- image log:\n{}",
                sandbox.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let plain = strip_ansi(&screen);
    let path = out_dir().join("tmux-halfblocks.txt");
    std::fs::write(&path, &plain).unwrap();
    std::fs::write(out_dir().join("tmux-halfblocks.ansi"), &screen).unwrap();
    let png = out_dir().join("tmux-halfblocks.png");
    render_cells(&screen, 4).save(&png).unwrap();
    println!("tmux: the capture drawn as pixels: {}", png.display());
    println!(
        "tmux: the screen after {:.1} s ({}):\n{plain}",
        start.elapsed().as_secs_f64(),
        path.display()
    );
    let log = sandbox.log();
    println!("tmux: probe {:?}", log.probe);
    let fail = |msg: &str| -> ! {
        panic!(
            "tmux: {msg}\n--- the screen ({}):\n{plain}\n--- image log:\n{}",
            path.display(),
            sandbox.log_text()
        );
    };
    let lines: Vec<&str> = plain.lines().collect();
    // A pane title: from `needle` to the border line that follows it.
    let title = |needle: &str| {
        lines.iter().find_map(|l| {
            let at = l.find(needle)?;
            Some(l[at..].split('─').next().unwrap_or("").trim().to_string())
        })
    };
    let samples = title("Samples").unwrap_or_default();
    let xt = title("x_t (t=").unwrap_or_default();
    println!("tmux: samples title {samples:?}; inspector title {xt:?}");
    if !samples.contains("of 64") {
        fail("the samples pane title does not say \"of 64\"");
    }
    // At full size not all 16 forward images fit the inspector's half of a 160×48
    // screen: the title says which are shown, and `]` (with the inspector focused) turns
    // to the rest.
    let Some(shown) = xt
        .split(" · ")
        .find(|p| p.ends_with("of 16"))
        .map(str::to_string)
    else {
        fail("the inspector title does not say how many of the 16 images it shows");
    };
    if shown != "16 of 16" {
        let last: usize = shown
            .split(['–', ' '])
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| fail(&format!("cannot read the range in {shown:?}")));
        t.run(&["send-keys", "-t", "w", "Tab", "]"]);
        let next = format!("{}–", last + 1);
        let turned = (0..50).find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            let s = strip_ansi(&t.run(&["capture-pane", "-p", "-t", "w"]));
            s.lines()
                .find(|l| l.contains("x_t (t=") && l.contains(&next) && l.contains("of 16"))
                .map(str::to_string)
        });
        println!("tmux: inspector showed {shown:?}; after Tab ]: {turned:?}");
        if turned.is_none() {
            fail(&format!(
                "] did not turn the inspector to images from {}",
                last + 1
            ));
        }
    }
    if !lines
        .get(1)
        .is_some_and(|l| l.contains("images: half-blocks (tmux without passthrough)"))
    {
        fail("the status bar does not say \"images: half-blocks (tmux without passthrough)\"");
    }
    // Readable: the pictures are half-block cells in many shades.
    let blocks = plain.matches('▀').count() + plain.matches('▄').count();
    let shades: std::collections::BTreeSet<&str> = screen
        .split("\x1b[38;2;")
        .skip(1)
        .filter_map(|s| s.split('m').next())
        .collect();
    println!(
        "tmux: {blocks} half-block cells, {} foreground colours",
        shades.len()
    );
    if blocks < 1000 || shades.len() < 16 {
        fail(&format!(
            "the pictures are not drawn in half-blocks ({blocks} cells, {} colours)",
            shades.len()
        ));
    }
}

/// The text of a screen captured with escapes, without them.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Draws a screen captured with escapes (`capture-pane -e`) as pixels, `scale` pixels per
/// half cell: half-block cells as their two colours, other characters as a mid tone of
/// their colours, so the pictures can be looked at.
fn render_cells(screen: &str, scale: u32) -> image::RgbImage {
    let rows: Vec<&str> = screen.lines().collect();
    let (w, h) = (COLS * scale, rows.len() as u32 * 2 * scale);
    let mut img = image::RgbImage::from_pixel(w.max(1), h.max(1), image::Rgb(BG));
    let default_fg = [0xd0, 0xd0, 0xd0];
    let ansi16 = |n: u16| -> [u8; 3] {
        const P: [[u8; 3]; 8] = [
            [0, 0, 0],
            [205, 0, 0],
            [0, 205, 0],
            [205, 205, 0],
            [0, 0, 238],
            [205, 0, 205],
            [0, 205, 205],
            [229, 229, 229],
        ];
        let bright = if n >= 8 { 50 } else { 0 };
        P[(n % 8) as usize].map(|v| v.saturating_add(bright))
    };
    let c256 = |n: u16| -> [u8; 3] {
        match n {
            0..=15 => ansi16(n),
            16..=231 => {
                let n = n - 16;
                let f = |v: u16| if v == 0 { 0 } else { (55 + 40 * v) as u8 };
                [f(n / 36), f((n / 6) % 6), f(n % 6)]
            }
            _ => {
                let v = (8 + 10 * (n - 232)) as u8;
                [v, v, v]
            }
        }
    };
    for (y, row) in rows.iter().enumerate() {
        let (mut fg, mut bg) = (default_fg, BG);
        let mut x = 0u32;
        let mut chars = row.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut params = String::new();
                let mut end = ' ';
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        end = d;
                        break;
                    }
                    params.push(d);
                }
                if end != 'm' {
                    continue;
                }
                let ps: Vec<u16> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
                let mut i = 0;
                while i < ps.len() {
                    let rgb = |j: usize| [ps[j] as u8, ps[j + 1] as u8, ps[j + 2] as u8];
                    match ps[i] {
                        0 => (fg, bg) = (default_fg, BG),
                        38 | 48 if ps.get(i + 1) == Some(&2) && i + 4 < ps.len() => {
                            *(if ps[i] == 38 { &mut fg } else { &mut bg }) = rgb(i + 2);
                            i += 4;
                        }
                        38 | 48 if ps.get(i + 1) == Some(&5) && i + 2 < ps.len() => {
                            *(if ps[i] == 38 { &mut fg } else { &mut bg }) = c256(ps[i + 2]);
                            i += 2;
                        }
                        39 => fg = default_fg,
                        49 => bg = BG,
                        n @ 30..=37 => fg = ansi16(n - 30),
                        n @ 90..=97 => fg = ansi16(n - 90 + 8),
                        n @ 40..=47 => bg = ansi16(n - 40),
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            let mid = [0, 1, 2].map(|k| ((fg[k] as u16 + bg[k] as u16) / 2) as u8);
            let (top, bottom) = match c {
                '▀' => (fg, bg),
                '▄' => (bg, fg),
                '█' => (fg, fg),
                ' ' => (bg, bg),
                _ => (mid, mid),
            };
            for dy in 0..2 * scale {
                for dx in 0..scale {
                    let (px, py) = (x * scale + dx, y as u32 * 2 * scale + dy);
                    if px < w && py < h {
                        let col = if dy < scale { top } else { bottom };
                        img.put_pixel(px, py, image::Rgb(col));
                    }
                }
            }
            x += 1;
        }
    }
    img
}
