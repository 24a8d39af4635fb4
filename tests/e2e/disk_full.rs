//! A full (or unwritable) disk while saving: the previous checkpoint stays loadable, no
//! temporary folder is left, the user sees the error, and training pauses (worker and
//! workbench) or stops with exit 1 (headless `train`) instead of going on unsaved.
//!
//! The disk is a 4 MB tmpfs filled with a filler file (ENOSPC, as on a real full disk).
//! Mounting one needs root; elsewhere the run folder is made read-only instead (EACCES,
//! an unwritable disk), and the test says which one it used.
//!
//! (Over 400 lines: the three front doors to a save, worker, headless `train` and the
//! workbench in tmux, share the small-disk helper.)

use crate::common::process_lock;
use crate::common::tmux::{status, Tmux, TINY};
use diffscope::config::Preset;
use diffscope::runs::serve::EventLog;
use diffscope::train::checkpoint;
use diffscope::train::Trainer;
use diffscope::worker::protocol::{Command, Event, Failure};
use diffscope::worker::{self, Origin, WorkerOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_diffscope");

/// A small folder whose disk can be made full (tmpfs) or unwritable (read-only).
struct SmallDisk {
    dir: PathBuf,
    tmpfs: bool,
    _keep: tempfile::TempDir,
}

impl SmallDisk {
    /// `sub` under a fresh temporary folder.
    fn new(sub: &str) -> SmallDisk {
        let keep = tempfile::tempdir().unwrap();
        let dir = keep.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        let tmpfs = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(&dir)
            .output()
            .is_ok_and(|o| o.status.success());
        println!(
            "{}",
            if tmpfs {
                "a 4 MB tmpfs: the save meets ENOSPC, a full disk"
            } else {
                "mounting a tmpfs needs root: a read-only folder stands in (EACCES)"
            }
        );
        SmallDisk {
            dir,
            tmpfs,
            _keep: keep,
        }
    }

    /// Leaves no room: fills the tmpfs, or makes the folder and its subfolders read-only.
    fn fill(&self) {
        if self.tmpfs {
            let mut f = std::fs::File::create(self.dir.join("filler")).unwrap();
            let chunk = vec![0u8; 64 * 1024];
            while f.write_all(&chunk).is_ok() {}
            // the last bytes of a partly written chunk
            while f.write_all(&[0u8; 512]).is_ok() {}
        } else {
            self.chmod(0o555);
        }
    }

    /// Makes room again.
    fn free(&self) {
        if self.tmpfs {
            std::fs::remove_file(self.dir.join("filler")).unwrap();
        } else {
            self.chmod(0o755);
        }
    }

    fn chmod(&self, mode: u32) {
        for e in walk(&self.dir) {
            if e.is_dir() {
                std::fs::set_permissions(&e, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }

    /// The words the error must contain.
    fn error_text(&self) -> &'static str {
        if self.tmpfs {
            "No space left on device"
        } else {
            "Permission denied"
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.tmpfs {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.dir)
                .status();
        } else {
            self.chmod(0o755);
        }
    }
}

/// `dir` and every folder under it.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}

/// Leftover temporary folders of a save anywhere under `dir`.
fn temp_folders(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.ends_with(".tmp") || n.ends_with(".old")
        })
        .collect()
}

/// The newest checkpoint of `run` loads (checksums verified) and is at `step`.
fn newest_loads(run: &Path, step: u64, turn: &MutexGuard<'static, ()>) {
    assert_eq!(newest(run, turn), step);
}

/// The step of the newest checkpoint of `run`, which loads (checksums verified). Loading
/// seeds libtorch's generator: the caller holds the process lock.
fn newest(run: &Path, _turn: &MutexGuard<'static, ()>) -> u64 {
    let steps = checkpoint::list_steps(run).unwrap();
    let (s, p) = steps.last().expect("a checkpoint");
    let tr = Trainer::load(p, tch::Device::Cpu).expect("the newest checkpoint loads");
    assert_eq!(tr.step, *s);
    println!("{} loads (step {})", p.display(), tr.step);
    *s
}

fn next_event(h: &worker::WorkerHandle, what: &str) -> Event {
    h.events
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The worker's events as a training process sees them: each also goes to the run log.
fn logged_event(h: &worker::WorkerHandle, log: &mut EventLog, run: &Path, what: &str) -> Event {
    let e = next_event(h, what);
    if let Some(Event::Notice(n)) = log.record(run, &e) {
        println!("{n}");
    }
    e
}

#[test]
fn a_failed_periodic_save_pauses_the_worker_and_saving_works_once_there_is_room() {
    // The worker trains in this process.
    let turn = process_lock();
    let disk = SmallDisk::new("runs");
    let run = disk.dir.join("run");
    let mut p = Preset::load("tests/valid_presets/tiny.ron").unwrap().preset;
    p.train.steps = 1_000_000;
    p.train.checkpoint_every = 100;
    p.train.keep_last = 2;
    let h = worker::spawn(WorkerOptions {
        origin: Origin::Preset(Box::new(p)),
        device: tch::Device::Cpu,
        run_dir: run.clone(),
        total_steps: None,
        seed: None,
        threads: 1,
        command: String::new(),
        precision: None,
    });
    let mut log = EventLog::default();
    h.send(Command::Start);
    // The first periodic checkpoint, then no room.
    let mut saved = None;
    while saved.is_none() {
        match logged_event(&h, &mut log, &run, "the first checkpoint") {
            Event::Saved { step, .. } => saved = Some(step),
            Event::Failed { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    disk.fill();
    let message = loop {
        match logged_event(&h, &mut log, &run, "a failed save") {
            Event::Saved { step, .. } => saved = Some(step),
            Event::Failed {
                what: Failure::Save,
                message,
            } => break message,
            _ => {}
        }
    };
    let saved = saved.unwrap();
    println!("the save failed: {message}");
    assert!(message.contains(disk.error_text()), "{message}");
    assert!(
        message.ends_with(&format!("the checkpoint of step {saved} is intact")),
        "{message}"
    );
    assert!(!message.contains('\n'));
    // Training pauses: no step is taken while nothing can be saved.
    loop {
        match logged_event(&h, &mut log, &run, "the pause") {
            Event::Paused => break,
            Event::Progress { step, .. } => assert!(step <= saved + 100),
            e => println!("{e:?}"),
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let after: Vec<Event> = h.events.try_iter().collect();
    assert!(
        !after.iter().any(|e| matches!(e, Event::Progress { .. })),
        "no training while paused: {after:?}"
    );
    assert!(
        temp_folders(&disk.dir).is_empty(),
        "{:?}",
        temp_folders(&disk.dir)
    );
    newest_loads(&run, saved, &turn);

    // Quitting with a save while the disk is full: the worker stays, and a front end's
    // cancel flag (set before a shutdown) does not stop later sampling.
    h.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    h.send(Command::Shutdown { save: true });
    loop {
        match logged_event(&h, &mut log, &run, "the failed save on the way out") {
            Event::Failed {
                what: Failure::Save,
                ..
            } => break,
            Event::Exited => panic!("the worker ended with its weights unsaved"),
            _ => {}
        }
    }
    h.send(Command::Sample(
        diffscope::worker::protocol::SampleRequest {
            id: 7,
            n: 8,
            options: Default::default(),
            ema: true,
            seed: 1,
            frames: 0,
        },
    ));
    loop {
        match logged_event(&h, &mut log, &run, "samples after the failed save") {
            Event::Samples(s) => {
                assert_eq!(s.id, 7);
                break;
            }
            Event::Failed { message, .. } => panic!("{message}"),
            Event::Exited => panic!("the worker ended"),
            _ => {}
        }
    }

    // Room again: the user saves, then resumes.
    disk.free();
    h.send(Command::Save { manual: false });
    let step = loop {
        match logged_event(&h, &mut log, &run, "the save after making room") {
            Event::Saved { step, .. } => break step,
            Event::Failed { message, .. } => panic!("{message}"),
            _ => {}
        }
    };
    assert_eq!(step, saved + 100, "the paused step is saved");
    newest_loads(&run, step, &turn);
    h.send(Command::Resume);
    loop {
        if let Event::Progress { step: s, .. } =
            logged_event(&h, &mut log, &run, "training to go on")
        {
            assert!(s > step);
            break;
        }
    }
    h.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    h.send(Command::Shutdown { save: false });
    while !matches!(
        logged_event(&h, &mut log, &run, "the worker to end"),
        Event::Exited
    ) {}
    h.join();
    // The log lost the rows it could not write, but no row is cut in half.
    let log = diffscope::runs::runlog::read_metrics(&run);
    assert!(log.notice.is_none(), "{:?}", log.notice);
    let steps: Vec<u64> = log.rows.iter().map(|r| r.step).collect();
    println!(
        "metrics.csv: {} rows, last step {:?}",
        steps.len(),
        steps.last()
    );
    assert!(steps.last().is_some_and(|&l| l > step), "{steps:?}");
}

fn diffscope(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .output()
        .unwrap()
}

#[test]
fn headless_train_into_a_full_disk_exits_1_and_keeps_the_previous_checkpoint() {
    let disk = SmallDisk::new("runs");
    let run = disk.dir.join("run");
    let root = std::env::current_dir().unwrap();
    // Checkpoints every 200 steps, for as long as it takes.
    let preset = disk.dir.parent().unwrap().join("long.ron");
    std::fs::write(
        &preset,
        std::fs::read_to_string(root.join("tests/valid_presets/tiny.ron"))
            .unwrap()
            .replace("steps: 40,", "steps: 100000000, checkpoint_every: 200,"),
    )
    .unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["train", "--preset"])
        .arg(&preset)
        .arg("--out")
        .arg(&run)
        .current_dir(&root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !run.join("step-00000200").is_dir() {
        assert!(start.elapsed().as_secs() < 120, "no checkpoint at step 200");
        std::thread::sleep(Duration::from_millis(20));
    }
    disk.fill();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed().as_secs() < 120,
            "training went on past a failed save"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    let line = crate::common::assert_one_line_error(&o, disk.error_text());
    assert_eq!(o.status.code(), Some(1));
    let kept = checkpoint::list_steps(&run).unwrap().last().unwrap().0;
    assert!(line.contains("saving failed"), "{line}");
    assert!(
        line.contains(&format!("the checkpoint of step {kept} is intact")),
        "{line}"
    );
    assert!(
        line.contains(run.to_str().unwrap()),
        "names the folder: {line}"
    );
    assert!(
        temp_folders(&disk.dir).is_empty(),
        "{:?}",
        temp_folders(&disk.dir)
    );
    newest_loads(&run, kept, &process_lock());
    let record = std::fs::read_to_string(run.join("run.ron")).unwrap();
    println!("{record}");

    // Resuming while the disk is still full is refused before any training.
    let resume = |steps: u64| {
        diffscope(
            &root,
            &[
                "train",
                "--resume",
                run.to_str().unwrap(),
                "--steps",
                &steps.to_string(),
            ],
        )
    };
    let o = resume(kept + 100);
    crate::common::assert_one_line_error(&o, disk.error_text());
    newest_loads(&run, kept, &process_lock());
    // Room again: the same resume goes through.
    disk.free();
    let o = resume(kept + 100);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    newest_loads(&run, kept + 100, &process_lock());
}

#[test]
fn the_workbench_pauses_training_when_a_save_fails_and_saves_once_there_is_room() {
    let disk = SmallDisk::new("checkpoints");
    let d = disk.dir.parent().unwrap().to_path_buf();
    std::fs::write(d.join("tiny.ron"), TINY).unwrap();
    let t = Tmux::new("disk");
    t.start(
        110,
        30,
        Some(&d),
        &format!(
            "env XDG_CONFIG_HOME={p} XDG_DATA_HOME={p} TERM=xterm-256color {BIN} tui \
             --preset tiny.ron --image-protocol halfblocks; echo EXIT=$?; sleep 60",
            p = d.display()
        ),
    );
    t.wait("training to pass step 50", 120, |s| {
        status(s).is_some_and(|(step, _)| step > 50)
    });
    // A first checkpoint while there is room.
    t.keys(&["w"]);
    t.wait("the first save", 30, |s| s.contains("saved "));
    let run = std::fs::read_dir(&disk.dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("the run folder");
    let first = checkpoint::list_steps(&run).unwrap().last().unwrap().0;
    disk.fill();
    t.keys(&["w"]);
    let s = t.wait("the failed save", 30, |s| s.contains("saving failed"));
    println!("{s}");
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("training is paused"), "{s}");
    assert!(
        flat.contains(&format!("step {first} is intact")),
        "names the checkpoint kept: {s}"
    );
    let s = t.wait("the status bar to say paused", 10, |s| {
        s.lines().next().is_some_and(|l| l.contains("paused"))
    });
    let (at, _) = status(&s).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let (still, _) = status(&t.screen()).unwrap();
    assert_eq!(at, still, "no training while nothing can be saved");
    assert!(temp_folders(&disk.dir).is_empty());
    newest_loads(&run, first, &process_lock());

    // Room again: w saves the paused step, space goes on.
    disk.free();
    t.keys(&["w"]);
    t.wait("the save after making room", 30, |s| {
        s.contains("saved ") && !s.contains("saving failed")
    });
    // The status bar shows the last logged step; the worker paused a few steps later.
    let paused_at = newest(&run, &process_lock());
    assert!(
        paused_at >= at && paused_at < at + 10,
        "{paused_at} vs {at}"
    );
    t.keys(&["Space"]);
    let start = Instant::now();
    t.wait("training to go on", 60, |s| {
        status(s).is_some_and(|(step, _)| step > at + 20)
    });
    println!(
        "paused at step {at} on a full disk; saved after making room; went on in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // Leave without saving; the run's process ends with the workbench's request.
    t.keys(&["q"]);
    t.wait("the quit question", 10, |s| {
        s.contains("d leave it running")
    });
    t.keys(&["n"]);
    t.wait("the workbench to leave", 60, |s| s.contains("EXIT=0"));
    let pid = std::fs::read_to_string(run.join("run.lock")).unwrap_or_default();
    let start = Instant::now();
    while !pid.trim().is_empty()
        && Path::new(&format!("/proc/{}", pid.trim())).exists()
        && start.elapsed().as_secs() < 30
    {
        std::thread::sleep(Duration::from_millis(100));
    }
}
