//! End to end: the real binary inside tmux (send-keys and capture-pane). It starts the
//! workbench on a small 2-D preset, checks that training advances and the loss figure
//! changes, scrubs t, opens help, quits, and checks that the terminal is restored.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether tmux is here. Without it these tests fail under CI (`CI` set), and elsewhere
/// say loudly that they did not run (`make test` installs it).
fn tmux_available() -> bool {
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

struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts session `e2e` of `w`×`h` running the shell command `cmd`, in `dir` if given.
    fn start(&self, w: u16, h: u16, dir: Option<&Path>, cmd: &str) {
        let (w, h) = (w.to_string(), h.to_string());
        let mut args = vec!["new-session", "-d", "-s", "e2e", "-x", &w, "-y", &h];
        let dir = dir.map(|d| d.display().to_string());
        if let Some(d) = &dir {
            args.extend(["-c", d]);
        }
        args.push(cmd);
        self.run(&args);
    }
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "e2e"];
        a.extend_from_slice(keys);
        self.run(&a);
    }
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }
    /// Waits until `pred` holds for the screen; panics with the screen otherwise.
    fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
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
fn status(screen: &str) -> Option<(u64, String)> {
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

const TINY: &str = r#"(
    name: "tiny",
    description: "A small swiss roll for the end-to-end test.",
    data: Toy2d((shape: SwissRoll, points: 2000, noise: 0.02)),
    model: Mlp((hidden: 32, blocks: 1, time_dim: 16)),
    diffusion: (schedule: Linear, timesteps: 100),
    train: (steps: 1000000, batch_size: 64, lr: 1e-3, log_every: 10, sample_every: 0, threads: 1),
    sample: (sampler: Ddim, steps: 10, n: 200),
)"#;

#[test]
fn the_workbench_trains_scrubs_helps_and_quits_cleanly_in_tmux() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("tiny.ron");
    std::fs::write(&preset, TINY).unwrap();
    let bin = env!("CARGO_BIN_EXE_diffscope");
    let t = Tmux {
        socket: format!("diffscope-e2e-{}", std::process::id()),
    };
    let cmd = format!(
        "env XDG_CONFIG_HOME={cfg} XDG_DATA_HOME={cfg} TERM=xterm-256color {bin} tui --preset {p} \
         --image-protocol halfblocks; echo EXIT=$?; sleep 60",
        cfg = dir.path().display(),
        p = preset.display()
    );
    t.start(100, 30, Some(dir.path()), &cmd);

    // Training starts and the step advances while the loss figure changes.
    let first = t.wait("training to report", 120, |s| {
        status(s).is_some_and(|(step, loss)| step > 0 && loss != "-")
    });
    let (step0, loss0) = status(&first).unwrap();
    let later = t.wait("the step and the loss to change", 120, |s| {
        status(s).is_some_and(|(step, loss)| step > step0 && loss != loss0)
    });
    assert!(later.contains("training"), "{later}");

    // Scrubbing: arrows, then a typed t.
    t.keys(&["Right", "Right", "Right"]);
    t.wait("t = 3", 10, |s| s.contains("t = 3/100"));
    t.keys(&["g", "5", "0", "Enter"]);
    t.wait("t = 50", 10, |s| s.contains("t = 50/100"));
    t.keys(&["End"]);
    t.wait("t = T", 10, |s| s.contains("t = 100/100"));

    // Help opens over the screen and closes on a key.
    t.keys(&["?"]);
    t.wait("the help overlay", 10, |s| {
        s.contains("Help · any key closes")
    });
    t.keys(&["Space"]);
    t.wait("help to close", 10, |s| {
        !s.contains("Help · any key closes")
    });

    // Quit without saving (the confirmation appears because training is unsaved).
    t.keys(&["q"]);
    t.wait("the quit confirmation", 10, |s| {
        s.contains("Save a checkpoint before") && s.contains("n quit without saving")
    });
    t.keys(&["n"]);
    let end = t.wait("the program to exit", 60, |s| s.contains("EXIT=0"));
    assert!(!end.contains("Process ·"), "the workbench is gone:\n{end}");
    assert_eq!(
        t.run(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0"
    );
    assert_eq!(
        t.run(&["display", "-p", "-t", "e2e", "#{cursor_flag}"])
            .trim(),
        "1"
    );
    // Nothing was saved, so no run folder is left behind.
    let left = std::fs::read_dir(dir.path().join("checkpoints"))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(
        left,
        0,
        "an empty run folder was left in {}",
        dir.path().display()
    );
    assert!(Path::new(bin).exists());
}

#[test]
fn bad_input_and_small_terminals_get_a_message_in_tmux() {
    if !tmux_available() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_diffscope");
    let t = Tmux {
        socket: format!("diffscope-e2e-bad-{}", std::process::id()),
    };
    let cmd = format!("{bin} tui --preset no-such-preset; echo EXIT=$?; sleep 30");
    t.start(100, 30, None, &cmd);
    let s = t.wait("the command to exit", 60, |s| s.contains("EXIT=1"));
    assert!(
        s.contains("no-such-preset") && s.contains("no such preset"),
        "{s}"
    );
    assert_eq!(
        t.run(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0"
    );
    t.run(&["kill-session", "-t", "e2e"]);
    let cmd = format!("{bin}; echo EXIT=$?; sleep 30");
    t.start(70, 20, None, &cmd);
    let s = t.wait("the command to exit", 60, |s| s.contains("EXIT=1"));
    assert!(s.contains("80×24") && s.contains("headless"), "{s}");
}

/// Step folders under `dir/checkpoints`.
fn saved_steps(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for run in std::fs::read_dir(dir.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for step in std::fs::read_dir(run.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if step.path().join("meta.ron").is_file() {
                v.push(step.file_name().to_string_lossy().into_owned());
            }
        }
    }
    v
}

#[test]
fn sigterm_and_a_dropped_terminal_save_a_checkpoint_and_exit() {
    if !tmux_available() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_diffscope");
    // HUP: the pane's process is the workbench; CLOSE: a shell runs it, so closing the pane
    // only hangs up its terminal, as when an SSH connection drops without a signal.
    for (k, signal) in ["TERM", "HUP", "CLOSE"].iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let preset = dir.path().join("tiny.ron");
        std::fs::write(&preset, TINY).unwrap();
        let pidfile = dir.path().join("pid");
        let t = Tmux {
            socket: format!("diffscope-e2e-sig{k}-{}", std::process::id()),
        };
        // `exec` makes the shell's pid the workbench's.
        let exec = if *signal == "CLOSE" { "" } else { "exec" };
        let cmd = format!(
            "echo $$ > {pf}; {exec} env XDG_CONFIG_HOME={cfg} XDG_DATA_HOME={cfg} {bin} tui \
             --preset {p} --image-protocol halfblocks; sleep 60",
            pf = pidfile.display(),
            cfg = dir.path().display(),
            p = preset.display()
        );
        t.start(100, 30, Some(dir.path()), &cmd);
        t.wait("training to report", 120, |s| {
            status(s).is_some_and(|(step, _)| step > 0)
        });
        let pid = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .to_string();
        if *signal == "HUP" {
            // Closing the terminal sends SIGHUP, as a dropped SSH connection does.
            t.run(&["kill-session", "-t", "e2e"]);
        } else {
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        }
        let start = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "SIG{signal}: still running"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Without `exec` the pid was the shell's: the workbench itself notices the hang-up
        // a moment later, saves and exits. Wait for it too.
        let preset_arg = preset.display().to_string();
        let running = || {
            Command::new("pgrep")
                .args(["-f", &preset_arg])
                .output()
                .map(|o| !o.stdout.is_empty())
                .unwrap_or(false)
        };
        while running() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "SIG{signal}: the workbench is still running"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let steps = saved_steps(dir.path());
        assert_eq!(
            steps.len(),
            1,
            "SIG{signal}: one checkpoint saved: {steps:?}"
        );
        t.run(&["kill-server"]);
    }
}

#[test]
fn a_checkpoint_opens_for_inspection_and_sampling_without_training() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("tiny.ron");
    std::fs::write(&preset, TINY).unwrap();
    let bin = env!("CARGO_BIN_EXE_diffscope");
    let run = dir.path().join("run");
    let out = Command::new(bin)
        .args(["train", "--steps", "40", "--preset"])
        .arg(&preset)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = Tmux {
        socket: format!("diffscope-e2e-ck-{}", std::process::id()),
    };
    let cmd = format!(
        "env XDG_CONFIG_HOME={d} XDG_DATA_HOME={d} {bin} tui --checkpoint {r} \
         --image-protocol halfblocks; echo EXIT=$?; sleep 60",
        d = dir.path().display(),
        r = run.display()
    );
    t.start(100, 30, None, &cmd);
    // It samples the checkpoint at once, and the label names the checkpoint's step.
    let s = t.wait("samples from the checkpoint", 120, |s| {
        s.contains("Samples · step 40")
    });
    assert!(s.lines().next().unwrap().contains("inspecting"), "{s}");
    let (step, _) = status(&s).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let (again, _) = status(&t.screen()).unwrap();
    assert_eq!((step, again), (40, 40), "no training");
    // Nothing to save: q quits at once.
    t.keys(&["q"]);
    t.wait("the program to exit", 60, |s| s.contains("EXIT=0"));
}
