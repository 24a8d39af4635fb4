//! The sweep chart (`n`): the request it sends the worker, its progress, the result kept
//! until asked for again, and the chart drawn from it (log x, ticks labelled with NFE).

use crate::common::demo;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use diffscope::diffusion::SamplerKind;
use diffscope::eval::sweep::{Figure, Sweep, SweepRow};
use diffscope::tui::app::{App, Effect, Msg};
use diffscope::tui::panes::sweep::chart_data;
use diffscope::tui::ui;
use diffscope::worker::protocol::{Command, Event, Failure};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn press_n(app: &mut App) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('n'),
        KeyModifiers::NONE,
    )))
}

fn row(label: &str, steps: usize, sw1: f64) -> SweepRow {
    let sampler = SamplerKind::parse(label).unwrap();
    SweepRow {
        label: label.into(),
        sampler,
        steps,
        nfe: sampler.evaluations(steps),
        seconds: 0.1 * steps as f64,
        frechet: None,
        sliced_w1: Some(sw1),
        mmd2: Some(sw1 * sw1),
        mmd2_se: Some(0.001),
    }
}

/// A sweep of ddim and dpmpp-2m at 5, 10, 20 and 50 steps, dpmpp-2m the better.
fn sweep() -> Sweep {
    let mut rows = Vec::new();
    for (i, s) in [5, 10, 20, 50].into_iter().enumerate() {
        rows.push(row("ddim", s, 0.4 / (i + 1) as f64));
    }
    for (i, s) in [5, 10, 20, 50].into_iter().enumerate() {
        rows.push(row("dpmpp-2m", s, 0.2 / (i + 1) as f64));
    }
    Sweep {
        rows,
        figure: Figure::SlicedW1,
        samples: 2000,
        seed: 0,
        frechet_floor: None,
        frechet_noise: None,
        sliced_w1_noise: Some(1.0),
    }
}

/// Asks for the sweep and answers it; the id of the request.
fn swept(app: &mut App) -> u64 {
    let fx = press_n(app);
    let [Effect::Send(Command::Sweep { id, specs, ema })] = &fx[..] else {
        panic!("no sweep request: {fx:?}");
    };
    assert_eq!(
        specs,
        &["ddim:5,10,20,50", "dpmpp-2m:5,10,20,50", "ddpm:5,10,20,50"]
    );
    assert!(*ema);
    let id = *id;
    assert_eq!(app.run.sweep.running, Some(id));
    app.update(Msg::Worker(Event::SweepProgress {
        id,
        point: 2,
        points: 12,
        step: 7,
        of: 20,
    }));
    assert_eq!(app.run.sweep.progress, Some([2, 12, 7, 20]));
    let screen = render(app, 160, 48);
    assert!(screen.contains("Sweep: point 3/12, step 7/20"), "{screen}");
    let step = app.run.step;
    app.update(Msg::Worker(Event::Swept {
        id,
        step,
        sweep: Box::new(sweep()),
    }));
    id
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        ui::draw(f, app);
    })
    .unwrap();
    t.backend().to_string()
}

#[test]
fn the_sweep_runs_on_demand_and_is_kept_until_asked_again() {
    let mut app = demo::app();
    swept(&mut app);
    let s = &app.run.sweep;
    assert!(s.open && s.running.is_none() && s.progress.is_none());
    assert_eq!(s.result.as_ref().map(|r| r.2.rows.len()), Some(8));
    // n hides the chart and shows it again without another sweep: the weights are the same
    assert!(press_n(&mut app).is_empty());
    assert!(!app.run.sweep.open);
    assert!(press_n(&mut app).is_empty());
    assert!(app.run.sweep.open);
    // once training has moved on, showing it asks for a new sweep, the old one shown meanwhile
    press_n(&mut app);
    app.update(Msg::Worker(Event::Progress {
        step: app.run.step + 50,
        loss: 0.3,
        quarter_losses: [None; 4],
        lr: 1e-3,
        grad_norm: 0.5,
        steps_per_sec: 100.0,
    }));
    let fx = press_n(&mut app);
    let [Effect::Send(Command::Sweep { id, .. })] = &fx[..] else {
        panic!("no new sweep: {fx:?}");
    };
    assert!(app.run.sweep.result.is_some());
    // a failure ends it and says so; the old result stays
    app.update(Msg::Worker(Event::Failed {
        what: Failure::Sweep { id: *id },
        message: "sample 3 is not finite (NaN); no quality figure was computed".into(),
    }));
    assert!(app.run.sweep.running.is_none());
    let notice = app.notice.as_ref().unwrap();
    assert!(
        notice.error && notice.text.starts_with("sweep failed: sample 3"),
        "{notice:?}"
    );
    assert!(app.run.sweep.result.is_some());
}

#[test]
fn the_chart_plots_log_nfe_with_nfe_labels() {
    let data = chart_data(&sweep(), 4).unwrap();
    assert_eq!(data.series.len(), 2);
    assert_eq!(data.series[0].0, "ddim");
    let xs: Vec<f64> = data.series[1].1.iter().map(|p| p.0).collect();
    let want = [5f64, 10.0, 20.0, 50.0].map(f64::log10);
    assert!(
        xs.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
        "{xs:?}"
    );
    assert_eq!(data.x_bounds, [5f64.log10(), 50f64.log10()]);
    // evenly spaced in log10: 5, 5·10^(1/3), 5·10^(2/3), 50
    assert_eq!(data.x_labels, ["5", "11", "23", "50"]);
    assert_eq!(data.y_bounds[0], 0.0);
    assert!(data.y_bounds[1] >= 0.4);
    let empty = Sweep {
        rows: vec![],
        ..sweep()
    };
    assert!(chart_data(&empty, 4).is_none());
}

#[test]
fn the_chart_takes_the_loss_panes_place() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = demo::app();
        swept(&mut app);
        app.notice = None;
        let screen = render(&app, w, h);
        assert!(screen.contains("Sliced W1 vs NFE"), "{screen}");
        assert!(!screen.contains("Loss ("), "{screen}");
        insta::assert_snapshot!(format!("sweep_chart_{w}x{h}"), screen);
        press_n(&mut app);
        assert!(render(&app, w, h).contains("Loss ("));
    }
}
