//! `kill -9` at random moments: a small run that saves a checkpoint every 10 steps is
//! killed 30 times (many of the kills land in a save) and resumed each time. After every
//! kill the newest checkpoint loads with its checksums verified, no temporary folder of a
//! save is left once the resumed run has started, the run log reads back whole with its
//! steps strictly increasing, and `runs` says how the run ended.

use diffscope::rng::Rng;
use diffscope::runs::runlog;
use diffscope::train::{checkpoint, Trainer};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_diffscope");
const KILLS: usize = 30;

fn leftovers(run: &Path) -> Vec<String> {
    std::fs::read_dir(run)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".old"))
        .collect()
}

#[test]
fn thirty_kill_9s_at_random_moments_leave_a_loadable_checkpoint_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let preset = dir.path().join("often.ron");
    std::fs::write(
        &preset,
        std::fs::read_to_string("tests/valid_presets/tiny.ron")
            .unwrap()
            .replace(
                "steps: 40,",
                "steps: 100000000, checkpoint_every: 10, keep_last: 2,",
            ),
    )
    .unwrap();
    let mut r = Rng::new(0x4B11);
    let mut newest = 0;
    let mut during_saves = 0;
    let started = Instant::now();
    for kill in 0..KILLS {
        let mut cmd = Command::new(BIN);
        cmd.arg("train");
        if newest == 0 {
            cmd.arg("--preset").arg(&preset).arg("--out").arg(&run);
        } else {
            cmd.arg("--resume").arg(&run);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for training to be under way (past its start), then a random moment.
        let t0 = Instant::now();
        while checkpoint::list_steps(&run)
            .unwrap_or_default()
            .last()
            .is_none_or(|(s, _)| *s <= newest)
        {
            assert!(
                t0.elapsed().as_secs() < 60,
                "kill {kill}: no new checkpoint after {newest}"
            );
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "kill {kill}: the run ended ({status}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(r.next_u64() % 300));
        let _ = child.kill();
        let _ = child.wait();
        if !leftovers(&run).is_empty() {
            during_saves += 1;
        }
        let steps = checkpoint::list_steps(&run).unwrap();
        let (step, path) = steps.last().expect("a checkpoint").clone();
        let turn = crate::common::process_lock();
        let tr = Trainer::load(&path, tch::Device::Cpu)
            .unwrap_or_else(|e| panic!("kill {kill}: {}: {e}", path.display()));
        drop(turn);
        assert_eq!(tr.step, step);
        assert!(step > newest, "kill {kill}: {step} after {newest}");
        newest = step;
        let log = runlog::read_metrics(&run);
        let logged: Vec<u64> = log.rows.iter().map(|r| r.step).collect();
        assert!(logged.windows(2).all(|w| w[0] < w[1]), "{logged:?}");
    }
    // The run as `runs` tells it, then one more resume that ends normally.
    let listing = crate::common::diffscope(&[
        "runs",
        "--compare",
        run.to_str().unwrap(),
        run.to_str().unwrap(),
    ]);
    let text = crate::common::stdout(&listing);
    assert!(text.contains("stopped (crashed or killed)"), "{text}");
    let o = crate::common::diffscope(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--steps",
        &(newest + 20).to_string(),
    ]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    assert!(
        leftovers(&run).is_empty(),
        "a resumed run clears what a killed save left: {:?}",
        leftovers(&run)
    );
    let log = runlog::read_metrics(&run);
    assert!(log.notice.is_none(), "{:?}", log.notice);
    let logged: Vec<u64> = log.rows.iter().map(|r| r.step).collect();
    assert!(logged.windows(2).all(|w| w[0] < w[1]), "{logged:?}");
    println!(
        "{KILLS} kill -9s survived in {:.0} s ({during_saves} left a save's temporary folder, \
         cleared on resume); newest checkpoint step {newest}, loaded every time; metrics.csv \
         {} rows, strictly increasing",
        started.elapsed().as_secs_f64(),
        logged.len()
    );
}
