//! Snapshots of every pane and overlay on ratatui's TestBackend, at 80×24 and 160×48.
//! Images go through the half-block path, so the snapshots are deterministic.
//! Review changes with `cargo insta review` (or set INSTA_UPDATE=always and read the diff).

use crate::common::demo;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use diffscope::config::catalog::PresetEntry;
use diffscope::diffusion::{ClassChoice, Guidance};
use diffscope::runs::listing::RunEntry;
use diffscope::runs::runfolder::{Ending, LockPid, Status};
use diffscope::runs::CheckpointEntry;
use diffscope::tui::app::{App, Msg};
use diffscope::tui::ui;
use diffscope::worker::protocol::{Event, Samples};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        ui::draw(f, app);
    })
    .unwrap();
    t.backend().to_string()
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn snap(name: &str, setup: impl Fn(&mut App)) {
    for (w, h) in SIZES {
        let mut app = demo::app();
        setup(&mut app);
        let screen = render(&app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

#[test]
fn main_screen_forward_mode() {
    snap("main_forward", |_| {});
}

#[test]
fn main_screen_reverse_mode() {
    snap("main_reverse", |a| key(a, KeyCode::Char('f')));
}

#[test]
fn loss_log_scale_and_quarters() {
    snap("loss_log", |a| key(a, KeyCode::Char('l')));
    snap("loss_quarters", |a| key(a, KeyCode::Char('u')));
}

#[test]
fn schedule_view() {
    snap("schedule", |a| key(a, KeyCode::Char('v')));
}

#[test]
fn help_overlay() {
    snap("help", |a| key(a, KeyCode::Char('?')));
}

#[test]
fn sampler_menu() {
    snap("sampler_menu", |a| key(a, KeyCode::Char('m')));
}

#[test]
fn goto_prompt_and_quit_confirmation() {
    snap("goto", |a| {
        key(a, KeyCode::Char('g'));
        key(a, KeyCode::Char('4'));
        key(a, KeyCode::Char('2'));
    });
    snap("confirm_quit", |a| key(a, KeyCode::Char('q')));
}

#[test]
fn checkpoint_browser() {
    snap("browser", |a| {
        key(a, KeyCode::Char('c'));
        let runs = (0..3u64)
            .map(|i| {
                let dir = PathBuf::from(format!("checkpoints/swissroll-20261125-1200{i}0"));
                RunEntry {
                    checkpoints: (0..2u64)
                        .map(|j| CheckpointEntry {
                            dir: dir.join(format!("step-0000{}000", i + 1 - j)),
                            preset: "swissroll".into(),
                            step: 1000 * (i + 1 - j),
                            loss: Some(0.4 - 0.05 * i as f64),
                            created_unix: 1_795_000_000 + 600 * i,
                            manual: j == 1,
                            total_steps: 6000,
                            corrupt: None,
                        })
                        .collect(),
                    dir,
                    preset: "swissroll".into(),
                    status: match i {
                        0 => Status::Running {
                            pid: LockPid(Some(4242)),
                        },
                        1 => Status::Finished,
                        _ => Status::Stopped(Ending::Crashed),
                    },
                    step: 1000 * (i + 1),
                    total: 6000,
                    loss: Some(0.4 - 0.05 * i as f64),
                    eval: None,
                    started_unix: Some(1_795_000_000 + 600 * i),
                    notice: None,
                }
            })
            .collect();
        a.update(Msg::Runs(runs));
        key(a, KeyCode::Down);
    });
    snap("browser_empty", |a| {
        key(a, KeyCode::Char('c'));
        a.update(Msg::Runs(vec![]));
    });
}

#[test]
fn preset_picker() {
    snap("picker", |a| {
        key(a, KeyCode::Char('p'));
        let entries = [("swissroll", "A 2-D swiss roll."), ("moons", "Two moons.")]
            .iter()
            .map(|(n, d)| PresetEntry {
                source: n.to_string(),
                name: n.to_string(),
                description: d.to_string(),
                origin: "built in".into(),
            })
            .collect();
        a.update(Msg::Presets(entries));
        key(a, KeyCode::Down);
    });
}

#[test]
fn image_samples_use_half_blocks() {
    snap("image_samples", |a| {
        // 16 synthetic 8×8 grey images: diagonal gradients.
        let (n, s) = (16usize, 8usize);
        let values: Vec<f32> = (0..n * s * s)
            .map(|i| {
                let (k, y, x) = (i / (s * s), (i / s) % s, i % s);
                ((x + y + k) % 16) as f32 / 7.5 - 1.0
            })
            .collect();
        a.update(Msg::Worker(Event::Samples(Samples {
            id: 999,
            step: 2400,
            ema: false,
            shape: vec![n as i64, 1, s as i64, s as i64],
            values,
            frame_timesteps: vec![],
            frames_xt: vec![],
            frames_x0: vec![],
            trace: Default::default(),
        })));
    });
}

#[test]
fn status_while_sampling_and_after_a_nan() {
    snap("sampling", |a| {
        key(a, KeyCode::Char('s'));
        let id = a.run.sampling.unwrap().id;
        a.update(Msg::Worker(Event::SampleProgress {
            id,
            done: 40,
            of: 100,
        }));
    });
    snap("stopped", |a| {
        a.update(Msg::Worker(Event::TrainingStopped(
            "non-finite loss (NaN) at step 2401".into(),
        )));
    });
}

#[test]
fn a_terminal_resized_below_the_minimum_gets_a_message() {
    let app = demo::app();
    let screen = render(&app, 60, 12);
    assert!(screen.contains("needs 80×24"), "{screen}");
    assert!(!screen.contains("Process"), "{screen}");
}

#[test]
fn bound_terms_view_and_quality_figures() {
    use diffscope::eval::Evaluation;
    use diffscope::tui::app::Effect;
    use diffscope::worker::protocol::{Command, Evaluated};
    snap("bound_terms", |a| {
        let fx = a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('b'),
            KeyModifiers::NONE,
        )));
        let Some(Effect::Send(Command::Evaluate { id, .. })) = fx.first() else {
            panic!("no evaluation request: {fx:?}");
        };
        // terms falling from 0.5 to 1e-4 over T, as a trained model's do
        let t = a.timesteps();
        let per_t: Vec<f64> = (0..t)
            .map(|i| {
                if i == 0 {
                    -3.2
                } else {
                    0.5 * (-(i as f64) / 120.0).exp() + 1e-4
                }
            })
            .collect();
        let evaluation = Evaluation {
            step: a.run.step,
            ema: true,
            bound: 0.413,
            bound_se: 0.035,
            items: Some(1000),
            seed: Some(0),
            prior: 0.0,
            diffusion: 0.4,
            decoder: 0.013,
            sliced_w1: Some(0.25),
            sliced_w1_noise: Some(1.0),
            ..Default::default()
        };
        a.update(Msg::Worker(Event::Evaluation(Box::new(Evaluated {
            id: *id,
            evaluation,
            per_t,
        }))));
    });
}

/// The picture rebuilt from the half-block cells of the samples pane: at scale 1, one
/// cell column per pixel and two pixels per cell row, it must equal the image's pixels.
#[test]
fn half_block_cells_rebuild_the_picture() {
    use diffscope::tui::graphics::Setup;
    let app = demo::image_app(Setup::halfblocks("chosen"), 10);
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut pages = (0, 0);
    t.draw(|f| pages = ui::draw(f, &app).pages).unwrap();
    let area = ui::areas(ratatui::layout::Rect::new(0, 0, 80, 24), 1).samples;
    let buf = t.backend().buffer();
    let title: String = (area.x..area.right())
        .map(|x| buf[(x, area.y)].symbol().to_string())
        .collect();
    assert!(title.contains("image 1 of 64"), "{title}");
    assert_eq!(pages.0, 64);
    // The cells that hold '▀', and the pixels they stand for.
    let cells: Vec<(u16, u16)> = (area.y + 1..area.bottom() - 1)
        .flat_map(|y| (area.x + 1..area.right() - 1).map(move |x| (x, y)))
        .filter(|&(x, y)| buf[(x, y)].symbol() == "▀")
        .collect();
    let (x0, y0) = (
        cells.iter().map(|c| c.0).min().unwrap(),
        cells.iter().map(|c| c.1).min().unwrap(),
    );
    let rgb = |c: ratatui::style::Color| match c {
        ratatui::style::Color::Rgb(r, g, b) => [r, g, b],
        other => panic!("not a pixel: {other:?}"),
    };
    let pixel = |x: u32, y: u32| {
        let cell = &buf[(x0 + x as u16, y0 + (y / 2) as u16)];
        rgb(if y.is_multiple_of(2) {
            cell.fg
        } else {
            cell.bg
        })
    };
    // The page is the image with a one-pixel black frame (the gaps of the grid).
    let s = app.run.samples.as_ref().unwrap();
    let to_u8 = |v: f32| ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
    let mut differing = 0;
    for y in 0..16u32 {
        for x in 0..16u32 {
            let g = to_u8(s.values[(y * 16 + x) as usize]);
            if pixel(x + 1, y + 1) != [g, g, g] {
                differing += 1;
            }
        }
    }
    assert_eq!(pixel(0, 0), [0, 0, 0], "the frame");
    assert_eq!(differing, 0, "pixels that differ from the image");
    println!(
        "16×16 image rebuilt from {} half-block cells: equal",
        cells.len()
    );
}

/// A pane too small for even one image at full size says so in one line.
#[test]
fn a_pane_too_small_for_one_image_says_so() {
    let mut app = demo::app();
    app.update(Msg::Worker(Event::Samples(Samples {
        id: 998,
        step: 2400,
        ema: true,
        shape: vec![2, 1, 40, 40],
        values: vec![0.0; 2 * 40 * 40],
        frame_timesteps: vec![],
        frames_xt: vec![],
        frames_x0: vec![],
        trace: Default::default(),
    })));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Samples · 0 of 2"), "{screen}");
    assert!(screen.contains("too small for one 40×40 image"), "{screen}");
    assert!(
        !screen.contains('▀'),
        "nothing unreadable is drawn: {screen}"
    );
}

/// The range of images a pane title shows: "13–18 of 64" → (13, 18), "image 5 of 64"
/// → (5, 5), "64 of 64" → (1, 64).
fn shown_range(screen: &str, pane: &str) -> (usize, usize) {
    let line = screen
        .lines()
        .find(|l| l.contains(pane))
        .unwrap_or_else(|| panic!("no {pane} in\n{screen}"));
    let rest = &line[line.find(pane).unwrap() + pane.len()..];
    let label = rest.split(" of ").next().unwrap();
    let num = |t: &str| t.trim().parse::<usize>().unwrap();
    match (label.strip_prefix("image "), label.split_once('–')) {
        (Some(k), _) => (num(k), num(k)),
        (None, Some((a, b))) => (num(a), num(b)),
        (None, None) => (1, num(label)),
    }
}

/// Zooming keeps the images in view: the page shown, zoomed or not, holds the first
/// image that was in view.
#[test]
fn zooming_keeps_the_first_image_in_view() {
    use diffscope::tui::graphics::Setup;
    let mut app = demo::image_app(Setup::halfblocks("chosen"), 10);
    // small images, several to a page
    let s = app.run.samples.as_mut().unwrap();
    let n = 400usize;
    s.shape = vec![n as i64, 1, 4, 4];
    s.values = (0..n * 16).map(|i| (i % 7) as f32 / 3.5 - 1.0).collect();
    let frame = |app: &mut App| {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut drawn = ui::Drawn::default();
        t.draw(|f| drawn = ui::draw(f, app)).unwrap();
        drawn.remember(&mut app.view);
        t.backend().to_string()
    };
    frame(&mut app);
    key(&mut app, KeyCode::Char(']'));
    key(&mut app, KeyCode::Char(']'));
    let (a, b) = shown_range(&frame(&mut app), "Samples · ");
    assert!(a > 1 && b < n, "a middle page: {a}–{b}");
    key(&mut app, KeyCode::Char('z'));
    let (za, zb) = shown_range(&frame(&mut app), "Samples · ");
    assert!(zb - za > b - a, "zoomed, a page holds more: {za}–{zb}");
    assert!(za <= a && a <= zb, "{a} in view after zooming: {za}–{zb}");
    key(&mut app, KeyCode::Char(']'));
    let (za, zb) = shown_range(&frame(&mut app), "Samples · ");
    key(&mut app, KeyCode::Char('z'));
    let (a, b) = shown_range(&frame(&mut app), "Samples · ");
    assert!(a <= za && za <= b, "{za} in view after unzooming: {a}–{b}");
    assert!(zb < n, "zoomed, not every image fits: {za}–{zb}");
}

/// The help fits the smallest terminal: nothing is cut, and what does not fit scrolls.
#[test]
fn help_is_readable_at_the_minimum_size() {
    for (w, h) in SIZES {
        let mut app = demo::app();
        key(&mut app, KeyCode::Char('?'));
        let screen = render(&app, w, h);
        for full in [
            "quit (offers to save, or to leave training running)",
            "checkpoint browser",
        ] {
            assert!(screen.contains(full), "{w}×{h}: {full}\n{screen}");
        }
        assert!(!screen.contains("any key"), "{screen}");
    }
    // at 80×24 the help scrolls to its end, where the last keys are
    let mut app = demo::app();
    key(&mut app, KeyCode::Char('?'));
    let area = ratatui::layout::Rect::new(0, 0, 80, 24);
    app.view.help_extent = diffscope::tui::panes::overlays::help_extent(&app, area);
    assert!(
        app.view.help_extent.1 > 0,
        "the help is longer than a screen"
    );
    assert!(!render(&app, 80, 24).contains("Anywhere"));
    key(&mut app, KeyCode::End);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Anywhere"), "{screen}");
    assert!(screen.contains("of "), "says where it is: {screen}");
}

/// Labels are left out whole rather than cut: the compare legend's figures, the bound
/// figures under the samples, the image protocol's reason; and the loss axis of
/// non-negative losses starts at 0 or above.
#[test]
fn labels_fit_whole_and_the_loss_axis_stays_non_negative() {
    use diffscope::tui::app::{ComparedRun, Comparison};
    use diffscope::tui::graphics::Setup;
    let run = |name: &str, bound| ComparedRun {
        name: name.into(),
        preset: "swissroll".into(),
        loss: (1..50).map(|i| (i as f64 * 10.0, 1.0 / i as f64)).collect(),
        per_t: None,
        bound,
    };
    let mut app = demo::app();
    app.update(Msg::Compared(Box::new(Comparison {
        runs: vec![
            run(
                "swissroll-20261125-130501",
                Some((0.4132, "nats/dim".into())),
            ),
            run("swissroll-20261126-090000", None),
        ],
        differences: vec![],
        notices: vec![],
    })));
    for (w, h) in SIZES {
        let screen = render(&app, w, h);
        for line in screen.lines().filter(|l| l.contains("━━ swissroll-")) {
            let legend = line.split('│').nth(1).unwrap().trim_end();
            assert!(
                legend.ends_with("swissroll")
                    || legend.ends_with("nats/dim")
                    || legend.contains("loss 0.0204")
                    || legend.ends_with("-130501")
                    || legend.ends_with("-090000"),
                "{w}×{h}: cut: {legend:?}"
            );
            assert!(!legend.contains("bound -"), "no empty figures: {legend:?}");
        }
        // the loss axis: no label below 0
        assert!(!screen.contains("│-0."), "{screen}");
    }

    let mut app = demo::app();
    app.graphics = Setup::halfblocks("tmux without graphics passthrough");
    app.run.evaluation = Some(Box::new(diffscope::eval::Evaluation {
        step: 2400,
        ema: true,
        bound: 0.413,
        bound_se: 0.035,
        prior: 0.0,
        diffusion: 0.4,
        decoder: 0.013,
        items: Some(1000),
        seed: Some(0),
        sliced_w1: Some(0.25),
        sliced_w1_noise: Some(1.0),
        ..Default::default()
    }));
    for (w, h) in SIZES {
        let screen = render(&app, w, h);
        assert!(!screen.contains("(b refr╯"), "{w}×{h}: {screen}");
        let gauges = screen.lines().nth(1).unwrap();
        assert!(
            gauges.contains("images: half-blocks (tmux without graphics passthrough)")
                || gauges
                    .trim_end_matches('"')
                    .trim_end()
                    .ends_with("images: half-blocks"),
            "{w}×{h}: {gauges}"
        );
    }
}

/// The reverse inspector on the sampler's own frames: t, σ_t, "step k of S" and the run's
/// settings.
#[test]
fn reverse_inspector_labels_the_samplers_steps() {
    snap("reverse_steps", |a| {
        key(a, KeyCode::Char('f'));
        key(a, KeyCode::End);
        key(a, KeyCode::Left);
        key(a, KeyCode::Left);
    });
}

/// Two samplers side by side on images, drawn with half-blocks: 10 frames on the left, 20
/// on the right, aligned by fraction of the run.
#[test]
fn sampler_comparison_in_half_blocks() {
    use diffscope::tui::app::Pair;
    use diffscope::tui::graphics::Setup;
    for (w, h) in SIZES {
        let mut app = demo::image_app(Setup::halfblocks("chosen"), 10);
        let other = demo::image_app(Setup::halfblocks("chosen"), 20);
        app.inspector.pair = Some(Pair {
            ids: [101, 102],
            labels: ["ddim · 10 steps".into(), "dpmpp-2m · 20 steps".into()],
            frames: [app.run.reverse.clone(), other.run.reverse.clone()],
            k: 4,
            progress: None,
        });
        let screen = render(&app, w, h);
        assert!(screen.contains("ddim · 10 steps"), "{screen}");
        assert!(screen.contains("dpmpp-2m · 20 steps"), "{screen}");
        if w >= 160 {
            assert!(
                screen.contains("aligned by fraction of the run"),
                "{screen}"
            );
            assert!(screen.contains("step 5 of 20"), "{screen}");
            assert!(screen.contains("step 3 of 10"), "{screen}");
            assert!(screen.contains('▀') || screen.contains('▄'), "{screen}");
        }
        insta::assert_snapshot!(format!("sampler_comparison_{w}x{h}"), screen);
    }
}

/// A class-conditional model's screens (glyphs16-cond, sampled at w 3): the samples'
/// title and the reverse inspector with the x̂_0 of both halves, the sampler menu with
/// its guidance fields, and the guidance chart.
fn snap_cond(name: &str, class: ClassChoice, setup: impl Fn(&mut App)) {
    for (w, h) in SIZES {
        let mut app = demo::cond_app(
            diffscope::tui::graphics::Setup::halfblocks("chosen"),
            10,
            Guidance { scale: 3.0, class },
        );
        setup(&mut app);
        let screen = render(&app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

#[test]
fn a_conditional_model_s_screens() {
    snap_cond("cond_reverse", ClassChoice::One(7), |_| {});
    snap_cond("cond_menu", ClassChoice::All, |a| {
        key(a, KeyCode::Char('m'));
        for _ in 0..10 {
            key(a, KeyCode::Down);
        }
        key(a, KeyCode::Right);
    });
    snap_cond("cond_guidance_chart", ClassChoice::All, |a| {
        use diffscope::eval::guidance::{GuidanceRow, GuidanceSweep};
        use diffscope::tui::app::Effect;
        use diffscope::worker::protocol::Command;
        let fx = a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('G'),
            KeyModifiers::NONE,
        )));
        let Some(Effect::Send(Command::GuidanceSweep { id, scales, .. })) = fx.first() else {
            panic!("no guidance sweep request: {fx:?}");
        };
        // agreement rising with w, the Fréchet distance lowest near w 2
        let rows = scales
            .iter()
            .map(|&w| GuidanceRow {
                scale: w,
                agreement: 1.0 - 0.85 * (-w).exp(),
                agreement_per_class: vec![],
                frechet: 14.0 + 3.0 * (w - 2.0) * (w - 2.0),
                frechet_per_class: vec![],
                frechet_class_mean: Some(20.0 + 2.0 * (w - 1.5) * (w - 1.5)),
                seconds: 1.0,
            })
            .collect();
        let step = a.run.step;
        a.update(Msg::Worker(Event::GuidanceSwept {
            id: *id,
            step,
            sweep: Box::new(GuidanceSweep {
                rows,
                samples: 64,
                seed: 0,
                class: ClassChoice::All,
                class_names: vec![],
                frechet_floor: None,
                frechet_noise: None,
            }),
        }));
        a.notice = None;
    });
}
