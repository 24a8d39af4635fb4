//! tmux for the end-to-end tests and the workbench's benchmarks: a private server per test
//! (a socket of its own, no configuration file), one session `e2e`, keys in, screens out.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A tmux server of one test; killed on drop.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// A server for the test `name`, on the socket `diffscope-NAME-PID-N` (unique in this
    /// process and among processes). Fails, naming the package to install, without tmux.
    pub fn new(name: &str) -> Tmux {
        super::require(&["tmux"]);
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Tmux {
            socket: format!("diffscope-{name}-{}-{n}", std::process::id()),
        }
    }
    /// `tmux` talking to this server; a server it starts reads no configuration file.
    pub fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }
    /// Starts session `e2e` of `w`×`h` running the shell command `cmd`, in `dir` if given.
    pub fn start(&self, w: u16, h: u16, dir: Option<&Path>, cmd: &str) {
        self.start_with(w, h, dir, cmd, |_| {});
    }
    /// [`Tmux::start`], with `setup` applied to the tmux command that starts the session
    /// (and the server: its environment becomes the session's).
    pub fn start_with(
        &self,
        w: u16,
        h: u16,
        dir: Option<&Path>,
        cmd: &str,
        setup: impl Fn(&mut Command),
    ) {
        let (w, h) = (w.to_string(), h.to_string());
        let mut args = vec!["new-session", "-d", "-s", "e2e", "-x", &w, "-y", &h];
        let dir = dir.map(|d| d.display().to_string());
        if let Some(d) = &dir {
            args.extend(["-c", d]);
        }
        args.push(cmd);
        // A server whose last session was just killed may still be exiting and drop
        // the new session: try again until it is there.
        let mut failed = String::new();
        for _ in 0..20 {
            let mut c = self.command();
            c.args(&args);
            setup(&mut c);
            if let Ok(out) = c.output() {
                failed = String::from_utf8_lossy(&out.stderr).into_owned();
            }
            let ok = self
                .command()
                .args(["has-session", "-t", "e2e"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "tmux did not start session e2e on {}: {}",
            self.socket,
            failed.trim()
        );
    }
    /// `tmux ARGS` on this server; its standard output.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    pub fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "e2e"];
        a.extend_from_slice(keys);
        self.run(&a);
    }
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }
    /// The screen with its colours (SGR escapes).
    pub fn screen_colours(&self) -> String {
        self.run(&["capture-pane", "-e", "-p", "-t", "e2e"])
    }
    pub fn kill_session(&self) {
        self.run(&["kill-session", "-t", "e2e"]);
    }
    /// Waits until `pred` holds for the screen; panics with the screen otherwise.
    pub fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// (step, loss text) from the status bar.
pub fn status(screen: &str) -> Option<(u64, String)> {
    let line = screen.lines().next()?;
    let fields: Vec<&str> = line.split('│').map(str::trim).collect();
    let step = fields.iter().find_map(|f| {
        f.trim_start_matches("step ")
            .split('/')
            .next()?
            .parse()
            .ok()
    })?;
    let loss = fields
        .iter()
        .find_map(|f| f.strip_prefix("loss "))?
        .to_string();
    Some((step, loss))
}

pub const TINY: &str = r#"(
    name: "tiny",
    description: "A small swiss roll for the end-to-end test.",
    data: Toy2d((shape: SwissRoll, points: 2000, noise: 0.02)),
    model: Mlp((hidden: 32, blocks: 1, time_dim: 16)),
    diffusion: (schedule: Linear, timesteps: 100),
    train: (steps: 1000000, batch_size: 64, lr: 1e-3, log_every: 10, sample_every: 0, threads: 1),
    sample: (sampler: Ddim, steps: 10, n: 200),
)"#;
