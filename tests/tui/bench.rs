//! Benchmarks of the workbench (not timed tests: they print figures and assert nothing
//! about speed). Run with
//!
//! ```sh
//! cargo test --release --test tui bench:: -- --ignored --nocapture --test-threads 1
//! ```

use crate::common::demo;
use crate::common::tmux::Tmux;
use diffscope::tui::{app::Msg, ui};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[test]
#[ignore]
fn frame_render_time() {
    for (w, h) in [(160u16, 48u16), (80, 24)] {
        for mode in ["forward", "reverse"] {
            let mut app = demo::app();
            if mode == "reverse" {
                app.update(Msg::Key(crossterm::event::KeyEvent::new(
                    crossterm::event::KeyCode::Char('f'),
                    crossterm::event::KeyModifiers::NONE,
                )));
            }
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            let mut times = Vec::new();
            for i in 0..300 {
                app.inspector.t = (i * 7) % 1001; // a new frame every time, as when scrubbing
                let t0 = Instant::now();
                term.draw(|f| {
                    ui::draw(f, &app);
                })
                .unwrap();
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            let med = median(&mut times);
            let p95 = times[times.len() * 95 / 100];
            println!("frame {w}x{h} {mode}: median {med:.2} ms, p95 {p95:.2} ms");
        }
    }
}

const PRESET: &str = r#"(
    name: "bench",
    description: "a smaller swissroll model, so the benchmark runs in minutes on two cores",
    data: Toy2d((shape: SwissRoll, points: 20000, noise: 0.02)),
    model: Mlp((hidden: 64, blocks: 2, time_dim: 32)),
    diffusion: (schedule: Linear, timesteps: 1000),
    train: (steps: 3000, batch_size: 128, lr: 2e-3, log_every: 50, sample_every: 1000, threads: 2),
    sample: (sampler: Ddpm, steps: 1000, n: 2000),
)"#;

/// The workbench training `preset` in a 160×48 tmux session, in `dir`'s user folders.
fn start_tui(t: &Tmux, dir: &Path, preset: &Path) {
    let bin = env!("CARGO_BIN_EXE_diffscope");
    let cmd = format!(
        "env XDG_CONFIG_HOME={d} XDG_DATA_HOME={d} {bin} tui --preset {p} --image-protocol \
         halfblocks; sleep 600",
        d = dir.display(),
        p = preset.display()
    );
    t.start(160, 48, Some(dir), &cmd);
}

#[test]
#[ignore]
fn training_throughput_with_the_workbench_open() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("bench.ron");
    std::fs::write(&preset, PRESET).unwrap();
    let bin = env!("CARGO_BIN_EXE_diffscope");
    let headless = |k: usize| {
        let t0 = Instant::now();
        let out = Command::new(bin)
            .args(["train", "--preset"])
            .arg(&preset)
            .arg("--out")
            .arg(dir.path().join(format!("headless{k}")))
            .output()
            .unwrap();
        assert!(out.status.success());
        3000.0 / t0.elapsed().as_secs_f64()
    };
    let h1 = headless(1);
    let t = Tmux::new("bench");
    let t0 = Instant::now();
    start_tui(&t, dir.path(), &preset);
    loop {
        let s = t.screen();
        if s.lines().next().is_some_and(|l| l.contains("finished")) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(600), "{s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let tui = 3000.0 / t0.elapsed().as_secs_f64();
    drop(t);
    let h2 = headless(2);
    let h = (h1 + h2) / 2.0;
    println!(
        "training 3000 steps: headless {h1:.0} and {h2:.0} steps/s, with the workbench open \
         {tui:.0} steps/s ({:.0}% of headless; refreshing 500 samples every 1000 steps)",
        100.0 * tui / h
    );
}

#[test]
#[ignore]
fn key_to_screen_latency_while_training() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("bench.ron");
    std::fs::write(&preset, PRESET.replace("steps: 3000", "steps: 1000000")).unwrap();
    let t = Tmux::new("bench-keys");
    start_tui(&t, dir.path(), &preset);
    let t0 = Instant::now();
    while !t.screen().contains("it/s │ ETA") {
        assert!(t0.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    let mut lat = Vec::new();
    for i in 1..=30 {
        let want = format!("t = {i}/1000");
        let t0 = Instant::now();
        t.keys(&["Right"]);
        loop {
            if t.screen().contains(&want) {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(5), "no {want}");
        }
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(t);
    let max = lat.iter().cloned().fold(0.0, f64::max);
    println!(
        "key press to screen while training (through tmux): median {:.1} ms, max {max:.1} ms",
        median(&mut lat)
    );
}

/// Playing through t (`a`) with images at 160×48: each frame is drawn and, with a
/// graphics protocol, its pictures encoded, one after the other (in the workbench the
/// encoding runs on its own thread, so this is the slower bound).
#[test]
#[ignore]
fn play_speed_with_images() {
    use diffscope::tui::graphics::{self, Screen, Setup};
    use diffscope::tui::probe::Proto;
    use std::sync::Arc;
    let kinds = [
        ("half-blocks", Proto::Halfblocks, (8, 16)),
        ("kitty", Proto::KittyDirect, (9, 20)),
        ("sixel", Proto::Sixel, (6, 13)),
    ];
    for (name, proto, cell) in kinds {
        for reverse in [false, true] {
            let setup = Setup {
                proto,
                reason: "benchmark".into(),
                cell,
                colors: 256,
                tmux: false,
            };
            let mut app = demo::image_app(setup.clone(), 100);
            if reverse {
                app.update(Msg::Key(crossterm::event::KeyEvent::new(
                    crossterm::event::KeyCode::Char('f'),
                    crossterm::event::KeyModifiers::NONE,
                )));
            }
            let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
            let (frames, mut bytes, mut slots) = (200, 0usize, 0usize);
            let mut screen = Screen::default();
            let start = Instant::now();
            for _ in 0..frames {
                if !app.inspector.playing {
                    app.inspector.t = if reverse { app.timesteps() } else { 0 };
                    app.inspector.playing = true;
                }
                app.update(Msg::Tick);
                let mut drawn = ui::Drawn::default();
                term.draw(|f| drawn = ui::draw(f, &app)).unwrap();
                // What the event loop and the encoder thread do with the frame's slots.
                let mut out = Vec::new();
                let plan = screen.plan(&setup, &drawn.slots, &mut out);
                for s in &plan.encode {
                    screen.ready(Arc::new(graphics::encode(&setup, s)));
                    slots += 1;
                }
                screen.draw(&drawn.slots, &mut out);
                bytes += out.len();
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "play {name:<11} {:<7} 160x48: {:>6.1} frames/s ({:.2} ms a frame, {} pictures encoded, {:.0} kB written a frame)",
                if reverse { "reverse" } else { "forward" },
                frames as f64 / secs,
                secs * 1e3 / frames as f64,
                slots,
                bytes as f64 / frames as f64 / 1e3
            );
        }
    }
}
