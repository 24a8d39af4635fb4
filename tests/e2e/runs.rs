//! Runs that outlive the terminal, end to end with the real binary in tmux: detach and
//! attach from a new session, a hang-up, `kill -9` of the training process and a resume,
//! two runs compared in the workbench; evaluations in the run log and deleting runs.

use crate::common::tmux::{status, Tmux, TINY};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_diffscope");

/// `diffscope ARGS` in `dir`, with the user folders inside it.
fn diffscope(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .output()
        .expect("run diffscope")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The shell command that runs `diffscope ARGS` in `dir`'s user folders, then says how it
/// exited.
fn in_tmux(dir: &Path, args: &str) -> String {
    format!(
        "env XDG_CONFIG_HOME={d} XDG_DATA_HOME={d} TERM=xterm-256color {BIN} {args} \
         --image-protocol halfblocks; echo EXIT=$?; sleep 60",
        d = dir.display()
    )
}

/// The only run folder under `dir/checkpoints`.
fn the_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// The steps of `metrics.csv`.
fn logged_steps(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect()
}

/// The first step on the loss pane's x axis (the line under its `└──` axis).
fn loss_axis_start(screen: &str) -> Option<u64> {
    let lines: Vec<&str> = screen.lines().collect();
    let i = lines.iter().position(|l| l.contains('└'))?;
    lines
        .get(i + 1)?
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}

/// Stops the training process of `run` (SIGTERM: it saves) and waits for it to end.
fn stop_worker(run: &Path) {
    let pid = std::fs::read_to_string(run.join("run.lock")).unwrap_or_default();
    let pid = pid.trim();
    if pid.is_empty() {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", pid]).status();
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops training processes left by a failed test.
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(runs) = std::fs::read_dir(self.0.join("checkpoints")) {
            for r in runs.flatten() {
                stop_worker(&r.path());
            }
        }
    }
}

fn setup(name: &str) -> (tempfile::TempDir, Tmux, Cleanup) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.ron"), TINY).unwrap();
    let t = Tmux::new(&format!("runs-{name}"));
    let c = Cleanup(dir.path().to_path_buf());
    (dir, t, c)
}

#[test]
fn detach_then_attach_from_a_new_session_keeps_the_history_and_training_goes_on() {
    let (dir, t, _c) = setup("detach");
    let d = dir.path();
    t.start(100, 30, Some(d), &in_tmux(d, "tui --preset tiny.ron"));
    let s = t.wait("training to pass step 100", 120, |s| {
        status(s).is_some_and(|(step, _)| step > 100)
    });
    let first = loss_axis_start(&s).expect("a loss curve");
    // d detaches: the workbench leaves, training does not, and the shell is told where.
    t.keys(&["d"]);
    let after = t.wait("the workbench to leave", 30, |s| s.contains("EXIT=0"));
    // The line is longer than the pane, so tmux wraps it wherever the pid's length puts it.
    let joined = after.replace('\n', "");
    assert!(
        joined.contains("training goes on in checkpoints/tiny-")
            && joined.contains("`diffscope attach checkpoints/tiny-"),
        "{after}"
    );
    let (detached_at, _) = status(&s).unwrap();
    let listing = text(&diffscope(d, &["runs"]));
    println!("{listing}");
    assert!(
        listing.contains("tiny") && listing.contains("running (pid"),
        "{listing}"
    );
    t.kill_session();

    // A new session: `diffscope attach` finds the latest live run.
    t.start(100, 30, Some(d), &in_tmux(d, "attach"));
    let s = t.wait("the attached run to go on", 120, |s| {
        status(s).is_some_and(|(step, _)| step > detached_at + 20)
    });
    let again = loss_axis_start(&s).expect("a loss curve");
    println!("detached at step {detached_at}; the curve starts at step {first}, after attaching at {again}");
    assert_eq!(again, first, "the whole history, from the log:\n{s}");
    // Stop it from here, saving.
    t.keys(&["q"]);
    t.wait("the quit question", 10, |s| {
        s.contains("d leave it running")
    });
    t.keys(&["y"]);
    let after = t.wait("the workbench to leave", 60, |s| s.contains("EXIT=0"));
    assert!(
        after.replace('\n', "").contains("saved step")
            && after.replace('\n', "").contains("diffscope train --resume"),
        "{after}"
    );
    let run = the_run(d);
    let start = Instant::now();
    let listing = loop {
        let l = text(&diffscope(d, &["runs"]));
        if l.contains("stopped (by the user)") || start.elapsed().as_secs() > 30 {
            break l;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(listing.contains("stopped (by the user)"), "{listing}");
    let steps = logged_steps(&run);
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert!(
        std::fs::read_dir(&run)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("step-")),
        "a checkpoint was saved"
    );
}

#[test]
fn a_hang_up_leaves_training_running_and_a_later_attach_sees_it() {
    let (dir, t, _c) = setup("hup");
    let d = dir.path();
    // `exec`: the pane's process is the workbench, which gets the SIGHUP.
    let cmd = format!("exec {}", in_tmux(d, "tui --preset tiny.ron"));
    t.start(100, 30, Some(d), &cmd);
    let s = t.wait("training to report", 120, |s| {
        status(s).is_some_and(|(step, _)| step > 50)
    });
    let (hung_up_at, _) = status(&s).unwrap();
    t.kill_session();
    let run = the_run(d);
    let start = Instant::now();
    while logged_steps(&run)
        .last()
        .is_none_or(|&l| l < hung_up_at + 100)
    {
        assert!(
            start.elapsed().as_secs() < 60,
            "training stopped with the terminal: {:?}",
            logged_steps(&run).last()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let name = run.file_name().unwrap().to_string_lossy().to_string();
    t.start(100, 30, Some(d), &in_tmux(d, &format!("attach {name}")));
    let later = hung_up_at + 150;
    let s = t.wait("the run, attached again", 120, |s| {
        status(s).is_some_and(|(step, _)| step > later)
    });
    println!(
        "hung up at step {hung_up_at}; attached again at {:?}",
        status(&s)
    );
    assert_eq!(
        loss_axis_start(&s),
        Some(10),
        "the history from step 10:\n{s}"
    );
    t.keys(&["d"]);
    t.wait("the workbench to leave", 30, |s| s.contains("EXIT=0"));
    stop_worker(&run);
}

const CHECKPOINTED: &str = r#"(
    name: "tinyck",
    description: "A small swiss roll that saves every 200 steps.",
    data: Toy2d((shape: SwissRoll, points: 2000, noise: 0.02)),
    model: Mlp((hidden: 32, blocks: 1, time_dim: 16)),
    diffusion: (schedule: Linear, timesteps: 100),
    train: (steps: 1000000, batch_size: 64, lr: 1e-3, log_every: 10, sample_every: 0, threads: 1,
            checkpoint_every: 200, keep_last: 2),
    sample: (sampler: Ddim, steps: 10, n: 200),
)"#;

#[test]
fn a_worker_killed_with_kill_9_stops_at_its_checkpoint_and_resumes_without_duplicate_steps() {
    let (dir, t, _c) = setup("kill9");
    let d = dir.path();
    std::fs::write(d.join("tinyck.ron"), CHECKPOINTED).unwrap();
    t.start(100, 30, Some(d), &in_tmux(d, "tui --preset tinyck.ron"));
    t.wait("training past a checkpoint", 120, |s| {
        status(s).is_some_and(|(step, _)| step > 450)
    });
    let run = the_run(d);
    let pid = std::fs::read_to_string(run.join("run.lock")).unwrap();
    Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap();
    // The workbench sees its training process end.
    t.wait("the workbench to notice", 30, |s| s.contains("stopped"));
    t.keys(&["q"]);
    t.wait("the workbench to leave", 30, |s| s.contains("EXIT=0"));
    t.kill_session();
    let before = logged_steps(&run);
    let listing = text(&diffscope(d, &["runs"]));
    println!("{listing}");
    let line = listing.lines().find(|l| l.contains("tinyck")).unwrap();
    assert!(line.contains("stopped (crashed or killed)"), "{listing}");
    // at its last checkpoint
    let saved: Vec<u64> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("step-")?
                .parse()
                .ok()
        })
        .collect();
    let last = *saved.iter().max().unwrap();
    assert!(
        line.contains(&format!(" {last}/")),
        "stopped at step {last}: {line}"
    );
    assert!(
        before.last().is_some_and(|&l| l > last),
        "the log went past the checkpoint: {:?} vs {last}",
        before.last()
    );
    // `attach` says it is not running, and how to go on.
    let o = diffscope(d, &["attach", run.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--resume"), "{}", text(&o));

    // Resume in the workbench: the browser, the run's row, r.
    t.start(
        100,
        30,
        Some(d),
        &in_tmux(d, &format!("tui --checkpoint {}", run.display())),
    );
    t.wait("the checkpoint to open", 60, |s| s.contains("inspecting"));
    t.keys(&["c"]);
    t.wait("the browser", 30, |s| s.contains("crashed or killed"));
    t.keys(&["r"]);
    let s = t.wait("training to go on", 120, |s| {
        status(s).is_some_and(|(step, _)| step > last + 100)
    });
    assert!(s.lines().next().unwrap().contains("training"), "{s}");
    t.keys(&["q"]);
    t.wait("the quit question", 10, |s| {
        s.contains("d leave it running")
    });
    t.keys(&["y"]);
    t.wait("the workbench to leave", 60, |s| s.contains("EXIT=0"));
    let steps = logged_steps(&run);
    let unique: BTreeSet<u64> = steps.iter().copied().collect();
    println!(
        "log: {} rows before the resume (last step {:?}), checkpoint at {last}, {} rows after",
        before.len(),
        before.last(),
        steps.len()
    );
    assert_eq!(unique.len(), steps.len(), "duplicate steps: {steps:?}");
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert!(steps.contains(&(last + 10)), "{steps:?}");
}

/// Each visible character of `line` with its column and the foreground colour in force
/// (the SGR parameters that set it, e.g. `38;5;14`; empty for the default).
fn cells(line: &str) -> Vec<(usize, char, String)> {
    let mut out = Vec::new();
    let mut fg = String::new();
    let mut col = 0;
    let mut it = line.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' && it.peek() == Some(&'[') {
            it.next();
            let mut seq = String::new();
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    if d == 'm' {
                        let p: Vec<&str> = seq.split(';').collect();
                        let mut i = 0;
                        while i < p.len() {
                            match p[i] {
                                "" | "0" | "39" => fg.clear(),
                                "38" if p.get(i + 1) == Some(&"5") && i + 2 < p.len() => {
                                    fg = format!("38;5;{}", p[i + 2]);
                                    i += 2;
                                }
                                "38" if p.get(i + 1) == Some(&"2") && i + 4 < p.len() => {
                                    fg = p[i..i + 5].join(";");
                                    i += 4;
                                }
                                v if v.len() == 2 && (v.starts_with('3') || v.starts_with('9')) => {
                                    fg = v.to_string()
                                }
                                _ => {}
                            }
                            i += 1;
                        }
                    }
                    break;
                }
                seq.push(d);
            }
            continue;
        }
        out.push((col, c, fg.clone()));
        col += 1;
    }
    out
}

#[test]
fn two_finished_runs_compare_with_both_curves_and_a_legend() {
    let (dir, t, _c) = setup("compare");
    let d = dir.path();
    let cosine = TINY
        .replace("name: \"tiny\"", "name: \"tinycos\"")
        .replace("schedule: Linear", "schedule: Cosine");
    std::fs::write(d.join("tinycos.ron"), cosine).unwrap();
    for (preset, out) in [
        ("tiny.ron", "checkpoints/lin"),
        ("tinycos.ron", "checkpoints/cos"),
    ] {
        let o = diffscope(
            d,
            &["train", "--preset", preset, "--steps", "300", "--out", out],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = diffscope(d, &["runs", "--compare", "lin", "checkpoints/cos"]);
    let printed = text(&o);
    println!("{printed}");
    assert!(o.status.success());
    assert!(
        printed.contains("diffusion.schedule: Linear | Cosine"),
        "{printed}"
    );
    assert!(printed.contains("finished"), "{printed}");

    t.start(
        160,
        48,
        Some(d),
        &in_tmux(d, "tui --checkpoint checkpoints/lin"),
    );
    t.wait("the checkpoint to open", 60, |s| s.contains("inspecting"));
    t.keys(&["c"]);
    t.wait("the browser with both runs", 30, |s| {
        s.contains("checkpoints/lin") && s.contains("checkpoints/cos")
    });
    // Rows: a run, its checkpoint, the other run, its checkpoint.
    t.keys(&["Space", "Down", "Down", "Space", "c"]);
    let s = t.wait("the comparison", 30, |s| s.contains("Comparing 2 runs"));
    println!("{s}");
    assert!(
        s.contains("━━ cos") && s.contains("━━ lin"),
        "the legend names both:\n{s}"
    );
    assert!(
        s.contains("diffusion.schedule: Cosine | Linear")
            || s.contains("diffusion.schedule: Linear | Cosine"),
        "{s}"
    );
    // Both curves are drawn, each in its legend's colour.
    let screen = t.screen_colours();
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines
        .iter()
        .position(|l| l.contains("Comparing 2 runs"))
        .unwrap();
    let legend: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("━━"))
        .collect();
    let width = s
        .lines()
        .find(|l| l.contains("Comparing 2 runs"))
        .and_then(|l| l.chars().position(|c| c == '╮'))
        .unwrap();
    let colours: Vec<String> = legend
        .iter()
        .filter_map(|&i| {
            cells(lines[i])
                .into_iter()
                .find(|(_, c, _)| *c == '━')
                .map(|(_, _, sgr)| sgr)
        })
        .collect();
    assert_eq!(colours.len(), 2);
    assert_ne!(colours[0], colours[1], "two colours");
    for colour in &colours {
        let drawn = lines[top + 1..legend[0]]
            .iter()
            .flat_map(|l| cells(l))
            .filter(|(col, c, sgr)| {
                *col < width && ('\u{2801}'..='\u{28ff}').contains(c) && sgr == colour
            })
            .count();
        println!("{drawn} braille cells in {colour:?}");
        assert!(drawn > 10, "a curve in {colour:?}");
    }
    t.keys(&["Escape"]);
    t.wait("the comparison to close", 10, |s| {
        !s.contains("Comparing 2 runs")
    });
    t.keys(&["q"]);
    t.wait("the workbench to leave", 30, |s| s.contains("EXIT=0"));
}

#[test]
fn a_second_trainer_into_a_live_run_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tiny.ron"), TINY).unwrap();
    let _c = Cleanup(d.to_path_buf());
    let o = diffscope(
        d,
        &[
            "train",
            "--preset",
            "tiny.ron",
            "--out",
            "checkpoints/one",
            "--detach",
        ],
    );
    println!("{}", text(&o));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("diffscope attach checkpoints/one"));
    for args in [
        &["train", "--resume", "checkpoints/one", "--steps", "50"][..],
        &["train", "--preset", "tiny.ron", "--out", "checkpoints/one"][..],
    ] {
        let o = diffscope(d, args);
        let out = text(&o);
        println!("{args:?}: {out}");
        assert_eq!(o.status.code(), Some(1), "{out}");
        let errors: Vec<&str> = out.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{out}");
        assert!(
            errors[0].contains("checkpoints/one: another process (pid")
                && errors[0].contains("is training in this run folder"),
            "{out}"
        );
    }
    // A live run is not deleted.
    let o = diffscope(d, &["runs", "--delete", "one", "--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("trains this run now"), "{out}");
    // The live run is untouched and still listed as running.
    let listing = text(&diffscope(d, &["runs"]));
    assert!(listing.contains("running (pid"), "{listing}");
}

#[test]
fn eval_adds_its_figures_to_the_run_log_and_a_run_is_deleted_only_when_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tiny.ron"), TINY).unwrap();
    let _c = Cleanup(d.to_path_buf());
    for out in ["checkpoints/a", "checkpoints/b"] {
        let o = diffscope(
            d,
            &[
                "train", "--preset", "tiny.ron", "--steps", "200", "--out", out,
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = diffscope(
        d,
        &[
            "eval",
            "--checkpoint",
            "checkpoints/a",
            "--n",
            "64",
            "--samples",
            "100",
            "--device",
            "cpu",
        ],
    );
    let out = text(&o);
    println!("{out}");
    assert!(o.status.success(), "{out}");
    assert!(out.contains("added to checkpoints/a/evals.csv"), "{out}");
    let o = diffscope(d, &["runs", "--compare", "a", "b"]);
    let out = text(&o);
    println!("{out}");
    assert!(o.status.success(), "{out}");
    let row = |label: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row:\n{out}"))
            .split_whitespace()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
    };
    // column A has figures, B (never evaluated) has none
    let at = row("evaluated at step");
    assert_eq!(at, vec!["-", "200"], "{out}");
    let w1 = row("sliced W1");
    assert!(w1[0] == "-" && w1[1].parse::<f64>().is_ok(), "{out}");
    assert!(
        out.contains("loss (mean of last 10 logged)"),
        "the loss row names its window:\n{out}"
    );

    // --delete: refused without a terminal unless --yes
    let o = diffscope(d, &["runs", "--delete", "a"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("--delete a") && out.contains("--yes"), "{out}");
    assert!(d.join("checkpoints/a").is_dir());
    let o = diffscope(d, &["runs", "--delete", "a", "--yes"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("deleted the run checkpoints/a"), "{out}");
    assert!(!d.join("checkpoints/a").exists());
    let listing = text(&diffscope(d, &["runs"]));
    assert!(
        !listing.contains("checkpoints/a") && listing.contains("checkpoints/b"),
        "{listing}"
    );
    let o = diffscope(d, &["runs", "--delete", "a", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not a run folder"), "{}", text(&o));
}

#[test]
fn a_run_whose_start_fails_in_the_workbench_leaves_no_folder() {
    let (dir, t, _c) = setup("failed-start");
    let d = dir.path();
    let mnist = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/presets/mnist.ron"))
        .unwrap()
        .replace("data/mnist", "no-mnist-here");
    std::fs::write(d.join("nomnist.ron"), mnist).unwrap();
    t.start(160, 48, Some(d), &in_tmux(d, "tui --preset nomnist.ron"));
    let s = t.wait("the failure", 60, |s| s.contains("no-mnist-here"));
    println!("{s}");
    let start = Instant::now();
    let left = loop {
        let left: Vec<PathBuf> = std::fs::read_dir(d.join("checkpoints"))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if left.is_empty() || start.elapsed().as_secs() > 20 {
            break left;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(left.is_empty(), "{left:?}");
    let listing = text(&diffscope(d, &["runs"]));
    assert!(listing.contains("no runs"), "{listing}");
    t.keys(&["q"]);
    t.wait("the workbench to leave", 30, |s| s.contains("EXIT="));
}

#[test]
fn a_finished_run_with_its_workbench_open_lists_as_finished_and_q_just_quits() {
    let (dir, t, _c) = setup("finished-open");
    let d = dir.path();
    let short = TINY
        .replace("name: \"tiny\"", "name: \"short\"")
        .replace("steps: 1000000", "steps: 200");
    std::fs::write(d.join("short.ron"), short).unwrap();
    t.start(160, 48, Some(d), &in_tmux(d, "tui --preset short.ron"));
    t.wait("training to finish", 120, |s| s.contains("│ finished"));
    let start = Instant::now();
    let listing = loop {
        let l = text(&diffscope(d, &["runs"]));
        if l.contains("step-")
            || l.contains("finished (workbench open")
            || start.elapsed().as_secs() > 30
        {
            break l;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("{listing}");
    assert!(
        listing.contains("finished (workbench open, pid") && !listing.contains("running"),
        "{listing}"
    );
    // the last step is saved: q asks nothing
    let run = the_run(d);
    let start = Instant::now();
    while !run.join("step-00000200").is_dir() && start.elapsed().as_secs() < 30 {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    t.keys(&["q"]);
    let s = t.wait("the workbench to leave", 30, |s| {
        s.contains("EXIT=") || s.contains("d leave it running")
    });
    assert!(s.contains("EXIT=0"), "{s}");
    let listing = text(&diffscope(d, &["runs"]));
    assert!(
        listing.contains("finished") && !listing.contains("workbench open"),
        "{listing}"
    );
}

#[test]
fn runs_delete_asks_on_a_terminal() {
    let (dir, t, _c) = setup("delete-ask");
    let d = dir.path();
    let o = diffscope(
        d,
        &[
            "train",
            "--preset",
            "tiny.ron",
            "--steps",
            "50",
            "--out",
            "checkpoints/a",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let ask = |answer: &str| {
        t.start(
            120,
            20,
            Some(d),
            &format!(
                "env XDG_CONFIG_HOME={p} XDG_DATA_HOME={p} {BIN} runs --delete a; echo EXIT=$?; \
                 sleep 60",
                p = d.display()
            ),
        );
        t.wait("the question", 30, |s| s.contains("[y/N]"));
        t.keys(&[answer, "Enter"]);
        let s = t.wait("the answer", 30, |s| s.contains("EXIT="));
        t.kill_session();
        s
    };
    let s = ask("n");
    assert!(s.contains("nothing deleted") && s.contains("EXIT=0"), "{s}");
    assert!(d.join("checkpoints/a").is_dir());
    let s = ask("y");
    assert!(
        s.contains("deleted the run checkpoints/a") && s.contains("EXIT=0"),
        "{s}"
    );
    assert!(!d.join("checkpoints/a").exists());
}
