//! The event loop itself, driven on ratatui's TestBackend with scripted input: a run
//! starts, worker events arrive, keys are pressed, and the loop ends when the user quits.

use crossterm::event::{Event as CEvent, KeyCode, KeyEvent, KeyModifiers};
use diffscope::config::Preset;
use diffscope::tui::app::{App, Msg};
use diffscope::tui::event::{run_loop, Runtime};
use diffscope::tui::graphics::Setup;
use diffscope::tui::theme::Theme;
use diffscope::worker::protocol::{Event, RunInfo, Samples};
use futures_util::StreamExt;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn press(c: char) -> std::io::Result<CEvent> {
    Ok(CEvent::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

#[test]
fn the_loop_starts_a_run_takes_events_and_keys_and_quits() {
    let preset = Preset::load("tests/valid_presets/tiny.ron").unwrap().preset;
    let mut app = App::new(vec![Theme::default()], 0, Setup::halfblocks("chosen"));
    let mut rt = Runtime::new(Setup::halfblocks("chosen"), tch::Device::Cpu, 1);
    let run_dir = PathBuf::from("checkpoints/tiny-loop-test");
    // What a worker would say, queued before the loop starts.
    let events = [
        Msg::RunStarted {
            preset: Box::new(preset),
            train: true,
            run_dir: run_dir.clone(),
            source: "tiny".into(),
            loss: None,
            remote: false,
        },
        Msg::Worker(Event::Ready(RunInfo {
            preset: "tiny".into(),
            device: "cpu".into(),
            parameters: 1234,
            step: 0,
            saved_step: 0,
            total_steps: 40,
            item_shape: vec![2],
            run_dir,
            phase: Default::default(),
            precision: "fp32".into(),
        })),
        Msg::Worker(Event::Progress {
            step: 10,
            loss: 0.9,
            quarter_losses: [Some(1.2), Some(0.9), Some(0.6), Some(0.3)],
            lr: 1e-3,
            grad_norm: 1.0,
            steps_per_sec: 50.0,
        }),
        Msg::Worker(Event::Progress {
            step: 20,
            loss: 0.7,
            quarter_losses: [Some(1.0), Some(0.7), Some(0.5), Some(0.2)],
            lr: 1e-3,
            grad_norm: 1.0,
            steps_per_sec: 50.0,
        }),
        Msg::Worker(Event::Samples(Samples {
            id: 1,
            step: 20,
            ema: true,
            shape: vec![3, 2],
            values: vec![0.0, 0.5, -0.5, 0.25, 1.0, -1.0],
            frame_timesteps: vec![],
            frames_xt: vec![],
            frames_x0: vec![],
            trace: Default::default(),
        })),
    ];
    for m in events {
        rt.tx.send(m).unwrap();
    }
    // The keys, after the events: log scale, quit (there are unsaved steps, so it asks),
    // no (quit without saving). The worker's goodbye comes last.
    let keys = [(300, 'l'), (100, 'q'), (100, 'n')];
    let input = futures_util::stream::unfold(0usize, move |i| async move {
        let (wait, c) = *keys.get(i)?;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        Some((press(c), i + 1))
    })
    // The terminal stays open (an ended input stream means it closed).
    .chain(futures_util::stream::pending());
    let tx = rt.tx.clone();
    let goodbye = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(900));
        let _ = tx.send(Msg::Worker(Event::Exited));
    });
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let start = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(run_loop(
        &mut terminal,
        &mut app,
        &mut rt,
        Box::pin(input),
        vec![],
    ));
    goodbye.join().unwrap();
    result.unwrap();
    let took = start.elapsed();
    println!("the loop ran {:.2} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The state the events and keys left.
    assert_eq!(app.run.step, 20);
    assert!(
        app.run.data.is_some(),
        "the forward frames were prepared in the background"
    );
    assert!(app.view.log_scale);
    assert!(app.quitting && !app.run.alive);
    assert_eq!(
        app.notice.as_ref().map(|n| n.text.as_str()),
        Some("quitting…")
    );
    // And what was on the screen last.
    let screen = terminal.backend().to_string();
    assert!(screen.contains("│20/40│"), "{screen}");
    assert!(screen.contains("Loss (log"), "{screen}");
    assert!(screen.contains("Samples · step 20"), "{screen}");
    rt.finish();
}
