//! End to end: the real binary inside tmux (send-keys and capture-pane). It starts the
//! workbench on a small 2-D preset, checks that training advances and the loss figure
//! changes, scrubs t, opens help, quits, and checks that the terminal is restored.

use crate::common::tmux::{status, Tmux, TINY};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_workbench_trains_scrubs_helps_and_quits_cleanly_in_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("tiny.ron");
    std::fs::write(&preset, TINY).unwrap();
    let bin = env!("CARGO_BIN_EXE_diffscope");
    let t = Tmux::new("e2e");
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

    // Help opens over the screen; other keys leave it open, Esc closes it.
    t.keys(&["?"]);
    t.wait("the help overlay", 10, |s| s.contains("Help ·"));
    t.keys(&["Space", "Down"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        t.screen().contains("Help ·"),
        "space does not close the help"
    );
    t.keys(&["Escape"]);
    t.wait("help to close", 10, |s| !s.contains("Help ·"));

    // Quit without saving: training runs in a process of its own, so quitting asks
    // whether to stop it (saving or not) or to leave it running.
    t.keys(&["q"]);
    t.wait("the quit question", 10, |s| {
        s.contains("n stop without saving") && s.contains("d leave it running")
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
    // Nothing was saved, so no run folder is left behind (the training process removes
    // it as it ends, a moment after the workbench).
    let start = Instant::now();
    let left = || {
        std::fs::read_dir(dir.path().join("checkpoints"))
            .map(|r| r.count())
            .unwrap_or(0)
    };
    while left() > 0 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        left(),
        0,
        "an empty run folder was left in {}",
        dir.path().display()
    );
    assert!(Path::new(bin).exists());
}

#[test]
fn bad_input_and_small_terminals_get_a_message_in_tmux() {
    let bin = env!("CARGO_BIN_EXE_diffscope");
    let t = Tmux::new("e2e-bad");
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
    t.run(&["kill-session", "-t", "e2e"]);

    // A corrupt checkpoint is refused before the workbench starts, like the command
    // line refuses it: one line that names the file.
    let dir = tempfile::tempdir().unwrap();
    let saved = {
        let _turn = crate::common::process_lock();
        let preset = crate::common::demo::preset();
        let mut tr = diffscope::train::Trainer::new(preset, tch::Device::Cpu).unwrap();
        tr.train_step().unwrap();
        tr.save(dir.path(), false).unwrap()
    };
    let model = saved.join("model.safetensors");
    let mut bytes = std::fs::read(&model).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(&model, bytes).unwrap();
    let cmd = format!(
        "{bin} tui --checkpoint {}; echo EXIT=$?; sleep 30",
        saved.display()
    );
    t.start(160, 30, None, &cmd);
    let s = t.wait("the command to exit", 60, |s| s.contains("EXIT=1"));
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("model.safetensors: checksum mismatch"), "{s}");
    assert!(!s.contains("Process ·"), "no workbench: {s}");
    assert_eq!(
        t.run(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0"
    );
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

/// What the runs under `dir` left in their logs and records, to explain a failure.
fn run_files(dir: &Path) -> String {
    let mut out = String::new();
    for run in std::fs::read_dir(dir.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for name in ["worker.log", "run.ron"] {
            let text = std::fs::read_to_string(run.path().join(name)).unwrap_or_default();
            out += &format!("--- {}/{name}:\n{text}\n", run.path().display());
        }
        let names: Vec<String> = std::fs::read_dir(run.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        out += &format!("--- files: {names:?}\n");
    }
    out
}

/// Whether a process whose command line contains `pattern` runs.
fn running(pattern: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false)
}

/// Waits (60 s at most) until no process's command line contains `pattern`.
fn wait_gone(pattern: &str, what: &str) {
    let start = Instant::now();
    while running(pattern) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: still running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_saves_and_stops_and_a_hang_up_does_what_tui_ron_says() {
    let bin = env!("CARGO_BIN_EXE_diffscope");
    // TERM: the workbench saves and stops its training. HUP: the pane's process is the
    // workbench, and tui.ron says `on_hangup: SaveAndStop`. CLOSE: a shell runs it, so
    // closing the pane only hangs up its terminal, as when an SSH connection drops without
    // a signal; by default training goes on without the workbench.
    for (k, signal) in ["TERM", "HUP", "CLOSE"].iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let preset = dir.path().join("tiny.ron");
        std::fs::write(&preset, TINY).unwrap();
        if *signal == "HUP" {
            let cfg = dir.path().join("diffscope");
            std::fs::create_dir_all(&cfg).unwrap();
            std::fs::write(cfg.join("tui.ron"), "(on_hangup: SaveAndStop)").unwrap();
        }
        let pidfile = dir.path().join("pid");
        let t = Tmux::new(&format!("e2e-sig{k}"));
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
        if *signal == "TERM" {
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        } else {
            // Closing the terminal sends SIGHUP, as a dropped SSH connection does.
            t.kill_session();
        }
        let workbench = format!("tui --preset {}", preset.display());
        let worker = format!("train --worker --preset {}", preset.display());
        wait_gone(&workbench, &format!("SIG{signal}: the workbench"));
        if *signal == "CLOSE" {
            // Training goes on: the log grows without any workbench.
            let run = std::fs::read_dir(dir.path().join("checkpoints"))
                .unwrap()
                .flatten()
                .next()
                .unwrap()
                .path();
            let rows = || {
                std::fs::read_to_string(run.join("metrics.csv"))
                    .map(|t| t.lines().count())
                    .unwrap_or(0)
            };
            let before = rows();
            let start = Instant::now();
            while rows() <= before + 3 {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "training stopped with the terminal ({before} rows)"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            assert!(running(&worker), "the training process is gone");
            println!("CLOSE: metrics.csv grew from {before} to {} rows", rows());
            // Then stopped like any training process: SIGTERM saves.
            Command::new("pkill")
                .args(["-TERM", "-f", &worker])
                .status()
                .unwrap();
        }
        wait_gone(&worker, &format!("SIG{signal}: the training process"));
        let steps = saved_steps(dir.path());
        assert_eq!(
            steps.len(),
            1,
            "SIG{signal}: one checkpoint saved: {steps:?}\n{}",
            run_files(dir.path())
        );
        t.run(&["kill-server"]);
    }
}

#[test]
fn a_checkpoint_opens_for_inspection_and_sampling_without_training() {
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
    let t = Tmux::new("e2e-ck");
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
