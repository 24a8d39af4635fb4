//! tmux for the end-to-end tests: a private server per test, keys in, screens out.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether tmux is here. Without it these tests fail under CI (`CI` set), and elsewhere
/// say loudly that they did not run (`make test` installs it).
pub fn tmux_available() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tmux is needed for this test (apt-get install tmux)"
    );
    eprintln!("NOT RUN: tmux is not installed (apt-get install tmux)");
    false
}

pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// Starts session `e2e` of `w`×`h` running the shell command `cmd`, in `dir` if given.
    pub fn start(&self, w: u16, h: u16, dir: Option<&Path>, cmd: &str) {
        let (w, h) = (w.to_string(), h.to_string());
        let mut args = vec!["new-session", "-d", "-s", "e2e", "-x", &w, "-y", &h];
        let dir = dir.map(|d| d.display().to_string());
        if let Some(d) = &dir {
            args.extend(["-c", d]);
        }
        args.push(cmd);
        // A server whose last session was just killed may still be exiting and drop
        // the new session: try again until it is there.
        for _ in 0..20 {
            self.run(&args);
            let ok = Command::new("tmux")
                .args(["-L", &self.socket, "has-session", "-t", "e2e"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("tmux did not start session e2e on {}", self.socket);
    }
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
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
