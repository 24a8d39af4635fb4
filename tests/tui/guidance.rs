//! Classifier-free guidance in the workbench: the class keys (0-9, `*`), the sampler menu's
//! guidance w and class, the class and w in the titles, the conditional and unconditional
//! x̂_0 beside the guided one in the reverse inspector, and the guidance sweep (`G`).

use crate::common::demo;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use diffscope::diffusion::{ClassChoice, Guidance, SampleOptions};
use diffscope::eval::guidance::{GuidanceRow, GuidanceSweep};
use diffscope::model::ModelConfig;
use diffscope::tui::app::{App, Effect, Msg, Overlay, GUIDANCE_SCALES};
use diffscope::tui::graphics::{Setup, SlotId};
use diffscope::tui::keymap::{self, Context};
use diffscope::tui::panes::sweep::guidance_data;
use diffscope::tui::probe::Proto;
use diffscope::tui::ui;
use diffscope::worker::protocol::{Command, Event, Failure, SampleRequest};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c))
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        ui::draw(f, app);
    })
    .unwrap();
    t.backend().to_string()
}

fn requests(fx: &[Effect]) -> Vec<&SampleRequest> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send(Command::Sample(r)) => Some(r),
            _ => None,
        })
        .collect()
}

fn w3(class: ClassChoice) -> Guidance {
    Guidance { scale: 3.0, class }
}

/// glyphs16-cond, training, its samples drawn at w 3 for every class.
fn cond() -> App {
    demo::cond_app(Setup::halfblocks("chosen"), 10, w3(ClassChoice::All))
}

fn notice(app: &App) -> String {
    app.notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

#[test]
fn digits_choose_the_class_of_the_next_samples_and_star_all_of_them() {
    let mut app = cond();
    assert_eq!(app.sampler.guidance, Some(w3(ClassChoice::All)));
    let fx = ch(&mut app, '7');
    let r = requests(&fx);
    assert_eq!(r.len(), 1, "a fresh request at once: {fx:?}");
    assert_eq!(r[0].options.guidance, Some(w3(ClassChoice::One(7))));
    assert_eq!(app.sampler.guidance, Some(w3(ClassChoice::One(7))));
    assert_eq!(notice(&app), "sampling class 7, w 3");
    // while that one runs, the next choice is queued behind it
    let fx = ch(&mut app, '2');
    assert!(requests(&fx).is_empty(), "{fx:?}");
    assert!(app.run.sample_queued);
    assert!(notice(&app).contains("queued"), "{}", notice(&app));
    assert_eq!(app.sampler.guidance, Some(w3(ClassChoice::One(2))));
    app.run.sampling = None;
    let fx = ch(&mut app, '*');
    assert_eq!(
        requests(&fx)[0].options.guidance,
        Some(w3(ClassChoice::All))
    );
    assert_eq!(notice(&app), "sampling all classes, w 3");
    // the menu's w stays with the class chosen by a key
    app.run.sampling = None;
    app.sampler.guidance = Some(Guidance {
        scale: 7.5,
        class: ClassChoice::All,
    });
    let fx = ch(&mut app, '0');
    assert_eq!(
        requests(&fx)[0].options.guidance,
        Some(Guidance {
            scale: 7.5,
            class: ClassChoice::One(0)
        })
    );
}

#[test]
fn a_class_the_model_lacks_and_an_unconditional_model_are_said_so() {
    let mut app = cond();
    if let Some(p) = app.run.preset.as_mut() {
        match &mut p.model {
            ModelConfig::Unet(c) => c.classes = Some(4),
            ModelConfig::Mlp(c) => c.classes = Some(4),
        }
    }
    let before = app.sampler.clone();
    let fx = ch(&mut app, '4');
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(app.sampler, before);
    let n = app.notice.clone().unwrap();
    assert!(n.error);
    assert_eq!(
        n.text,
        "class 4 is out of range: the model has classes 0 to 3"
    );
    assert_eq!(
        requests(&ch(&mut app, '3'))[0].options.guidance,
        Some(w3(ClassChoice::One(3)))
    );

    // swissroll is unconditional: each digit says so, in one line, and asks for nothing
    let mut app = demo::app();
    for c in ['0', '5', '9', '*'] {
        let fx = ch(&mut app, c);
        assert!(fx.is_empty(), "{c}: {fx:?}");
        let n = notice(&app);
        assert_eq!(
            n,
            format!("{c}: this model is unconditional: it has no classes to choose from")
        );
        assert!(render(&app, 80, 24).contains(&n), "fits at 80×24");
    }
    assert_eq!(app.sampler.guidance, None);
    let fx = ch(&mut app, 'G');
    assert!(fx.is_empty(), "{fx:?}");
    assert!(notice(&app).contains("unconditional"), "{}", notice(&app));
    assert!(!app.run.sweep.open);
}

#[test]
fn the_go_to_prompt_keeps_its_digits() {
    let mut app = cond();
    ch(&mut app, 'f');
    let before = app.sampler.clone();
    ch(&mut app, 'g');
    for c in ['4', '2', '*'] {
        let fx = ch(&mut app, c);
        assert!(requests(&fx).is_empty(), "{c}: {fx:?}");
    }
    assert_eq!(app.overlay, Overlay::Goto("42".into()));
    assert_eq!(app.sampler, before, "no class was chosen");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.inspector.t, 42);
}

#[test]
fn no_key_means_two_things_where_it_applies() {
    // the contexts searched together (App::contexts): a key bound twice there is bound to
    // one action, or the second binding would never be reached
    let groups: &[&[Context]] = &[
        &[Context::Inspector, Context::Main, Context::Anywhere],
        &[Context::Anywhere, Context::Help],
        &[Context::Menu, Context::Anywhere],
        &[Context::Browser, Context::Anywhere],
        &[Context::Picker, Context::Anywhere],
        &[Context::Goto, Context::Anywhere],
        &[Context::Confirm],
        &[Context::Leave],
        &[Context::Attach],
    ];
    for group in groups {
        let all: Vec<_> = keymap::all()
            .filter(|b| group.contains(&b.context))
            .collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                if a.key == b.key {
                    assert_eq!(
                        a.action, b.action,
                        "{} is bound to {:?} and {:?} in {group:?}",
                        a.label, a.action, b.action
                    );
                }
            }
        }
    }
    // every class digit and * is on the main screen, and the go-to prompt has its own
    for d in 0..10u8 {
        let c = (b'0' + d) as char;
        let ev = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        let main = [Context::Inspector, Context::Main, Context::Anywhere];
        let found = keymap::all()
            .find(|b| main.contains(&b.context) && b.key.code == KeyCode::Char(c))
            .map(|b| b.action);
        assert_eq!(found, Some(keymap::Action::Class(d)), "{ev:?}");
        let goto = keymap::all()
            .find(|b| b.context == Context::Goto && b.key.code == KeyCode::Char(c))
            .map(|b| b.action);
        assert_eq!(goto, Some(keymap::Action::Digit(d)));
    }
}

#[test]
fn the_class_keys_are_offered_only_for_a_conditional_model() {
    let hints = |app: &App| keymap::hints(&app.contexts(), &app.situation());
    let h = hints(&cond());
    assert!(h.contains(&("0-9", "class")), "{h:?}");
    let mut app = cond();
    ch(&mut app, 'f');
    let footer = render(&app, 160, 48);
    let footer = footer.lines().last().unwrap_or_default();
    assert!(footer.contains("0-9 class"), "{footer}");
    let h = hints(&demo::app());
    assert!(!h.iter().any(|(k, _)| *k == "0-9" || *k == "*"), "{h:?}");
    let mut app = cond();
    ch(&mut app, '?');
    let help = render(&app, 160, 48);
    assert!(
        help.contains("sample this class (a class-conditional model)"),
        "{help}"
    );
    let mut app = demo::app();
    ch(&mut app, '?');
    let help = render(&app, 160, 48);
    assert!(!help.contains("class-conditional"), "{help}");
}

#[test]
fn the_menu_sets_w_and_the_class() {
    let mut app = cond();
    ch(&mut app, 'm');
    // down to "guidance w"
    for _ in 0..9 {
        press(&mut app, KeyCode::Down);
    }
    assert_eq!(app.overlay, Overlay::Menu { field: 9 });
    let fields = app.sampler.fields();
    assert_eq!(fields[9], ("guidance w", "3".to_string()));
    assert_eq!(fields[10], ("class", "all (one per row)".to_string()));
    press(&mut app, KeyCode::Right);
    assert_eq!(app.sampler.guidance.unwrap().scale, 4.0);
    for _ in 0..3 {
        press(&mut app, KeyCode::Right);
    }
    assert_eq!(app.sampler.guidance.unwrap().scale, 10.0);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.sampler.guidance.unwrap().scale, 10.0, "the largest");
    for _ in 0..4 {
        press(&mut app, KeyCode::Left);
    }
    assert_eq!(app.sampler.guidance.unwrap().scale, 3.0);
    for _ in 0..6 {
        press(&mut app, KeyCode::Left);
    }
    assert_eq!(app.sampler.guidance.unwrap().scale, 0.0, "the smallest");
    press(&mut app, KeyCode::Right);
    assert_eq!(app.sampler.guidance.unwrap().scale, 0.5);
    // the class: all, 0 … 9, around again
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.sampler.guidance.unwrap().class, ClassChoice::One(0));
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Left);
    assert_eq!(app.sampler.guidance.unwrap().class, ClassChoice::One(9));
    press(&mut app, KeyCode::Right);
    assert_eq!(app.sampler.guidance.unwrap().class, ClassChoice::All);
    press(&mut app, KeyCode::Left);
    let fx = press(&mut app, KeyCode::Enter);
    assert_eq!(
        requests(&fx)[0].options.guidance,
        Some(Guidance {
            scale: 0.5,
            class: ClassChoice::One(9)
        })
    );
    // an unconditional model's fields say "—" and do not change
    let mut app = demo::app();
    let fields = app.sampler.fields();
    assert_eq!(fields[9], ("guidance w", "—".to_string()));
    assert_eq!(fields[10], ("class", "—".to_string()));
    ch(&mut app, 'm');
    for _ in 0..10 {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.sampler.guidance, None);
}

#[test]
fn the_titles_say_the_class_and_w() {
    let app = demo::cond_app(Setup::halfblocks("chosen"), 10, w3(ClassChoice::One(7)));
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("Process · class 7 · w 3 · reverse (sampling trajectory)"),
        "{screen}"
    );
    let samples = screen
        .lines()
        .find(|l| l.contains("Samples"))
        .unwrap_or_default();
    assert!(
        samples.contains("of 64 · class 7 · w 3 · step 1000"),
        "{samples}"
    );
    // narrow panes cut titles short: the class and w come before the rest
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Process · class 7 · w 3 ·"), "{screen}");
    let app = cond();
    let screen = render(&app, 160, 48);
    assert!(screen.contains("of 64 · all classes · w 3 ·"), "{screen}");
    // the forward process has no class
    let mut app = cond();
    ch(&mut app, 'f');
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("Process · forward q(x_t|x_0) ─"),
        "{screen}"
    );
}

#[test]
fn scrubbing_a_guided_run_shows_both_halves_x0_beside_the_guided_one() {
    let app = cond();
    let fr = app.frame().unwrap();
    assert!(fr.guided.is_some());
    let labels = ["x_t (t=", "x̂₀ guided", "x̂₀ cond", "x̂₀ uncond"];
    let screen = render(&app, 160, 48);
    for label in labels {
        assert!(screen.contains(label), "{label}: {screen}");
    }
    assert!(!screen.contains("too small"), "{screen}");
    // four 16×16 images do not fit across 80 columns: zoomed, the inspector shows the
    // two of every step, full size
    let mut app = cond();
    app.view.focus = diffscope::tui::app::Focus::Inspector;
    ch(&mut app, 'z');
    let screen = render(&app, 80, 24);
    assert!(screen.contains("x̂₀ guided"), "{screen}");
    assert!(!screen.contains("x̂₀ cond"), "{screen}");
    assert!(!screen.contains("too small"), "{screen}");
    // the samples themselves (the last frame) have no halves: x_t and x̂_0 only
    let mut app = cond();
    press(&mut app, KeyCode::Home);
    let screen = render(&app, 160, 48);
    assert!(screen.contains("x̂_0 ─"), "{screen}");
    assert!(!screen.contains("x̂₀ cond"), "{screen}");
    // w 1 (or 0) runs one half only: nothing to show beside it
    let app = demo::cond_app(
        Setup::halfblocks("chosen"),
        10,
        Guidance {
            scale: 1.0,
            class: ClassChoice::One(3),
        },
    );
    let screen = render(&app, 160, 48);
    assert!(!screen.contains("x̂₀ cond"), "{screen}");
    assert!(screen.contains("class 3 · w 1"), "{screen}");

    // with an image protocol the four pictures go to their own slots, off the buffer
    let setup = Setup {
        proto: Proto::KittyDirect,
        reason: "test".into(),
        cell: (9, 20),
        colors: 256,
        tmux: false,
    };
    let app = demo::cond_app(setup, 10, w3(ClassChoice::All));
    let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut drawn = ui::Drawn::default();
    t.draw(|f| drawn = ui::draw(f, &app)).unwrap();
    let ids: Vec<SlotId> = drawn.slots.iter().map(|s| s.id).collect();
    for id in [
        SlotId::Samples,
        SlotId::Xt,
        SlotId::X0,
        SlotId::X0Cond,
        SlotId::X0Uncond,
    ] {
        assert!(ids.contains(&id), "{id:?}: {ids:?}");
    }
    let by = |id| drawn.slots.iter().find(|s| s.id == id).unwrap();
    // the conditional half is the samples here; the unconditional one is not
    assert_eq!(
        by(SlotId::X0Cond).picture.values,
        by(SlotId::X0).picture.values
    );
    assert_ne!(
        by(SlotId::X0Uncond).picture.values,
        by(SlotId::X0).picture.values
    );
}

fn sweep_result() -> GuidanceSweep {
    let row = |scale: f64, agreement: f64, frechet: f64| GuidanceRow {
        scale,
        agreement,
        agreement_per_class: vec![Some(agreement); 10],
        frechet,
        frechet_per_class: vec![Some(frechet + 5.0); 10],
        frechet_class_mean: Some(frechet + 5.0),
        seconds: 1.0,
    };
    GuidanceSweep {
        rows: vec![
            row(0.0, 0.12, 30.0),
            row(1.0, 0.55, 18.0),
            row(2.0, 0.8, 15.0),
            row(3.0, 0.9, 16.0),
            row(5.0, 0.97, 22.0),
        ],
        samples: 64,
        seed: 0,
        class: ClassChoice::All,
        class_names: (0..10).map(|c| c.to_string()).collect(),
        frechet_floor: Some(2.0),
        frechet_noise: Some(300.0),
    }
}

#[test]
fn g_runs_the_guidance_sweep_and_draws_agreement_and_frechet_against_w() {
    let mut app = cond();
    let fx = ch(&mut app, 'G');
    let [Effect::Send(Command::GuidanceSweep {
        id,
        scales,
        options,
        ema,
    })] = &fx[..]
    else {
        panic!("no guidance sweep request: {fx:?}");
    };
    assert_eq!(scales, &GUIDANCE_SCALES.to_vec());
    assert_eq!(scales, &[0.0, 1.0, 2.0, 3.0, 5.0]);
    assert!(*ema);
    let SampleOptions {
        sampler, guidance, ..
    } = options;
    assert_eq!(*sampler, app.sampler.kind);
    assert_eq!(guidance.map(|g| g.class), Some(ClassChoice::All));
    let id = *id;
    assert!(app.run.sweep.open && app.run.sweep.guidance);
    let n = notice(&app);
    assert!(
        n.starts_with("sweeping class agreement and Fréchet against w = 0, 1, 2, 3, 5 (all classes, ddim · 100 steps"),
        "{n}"
    );
    assert!(!n.contains("w 3"), "the sweep's w are its own: {n}");
    app.update(Msg::Worker(Event::SweepProgress {
        id,
        point: 1,
        points: 5,
        step: 40,
        of: 100,
    }));
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("Guidance sweep: w 2/5, step 40/100"),
        "{screen}"
    );
    app.update(Msg::Worker(Event::GuidanceSwept {
        id,
        step: app.run.step,
        sweep: Box::new(sweep_result()),
    }));
    assert_eq!(app.run.sweep.running, None);
    assert!(app.run.sweep.open && app.run.sweep.guidance);
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = render(&app, w, h);
        assert!(screen.contains("class agreem"), "{screen}");
        assert!(screen.contains("Fréchet ("), "{screen}");
    }
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("Agreement & Fréchet vs w · step 1000 · 64 samples · EMA"),
        "{screen}"
    );
    // G hides it; G again shows the kept result without asking the worker
    assert!(ch(&mut app, 'G').is_empty());
    assert!(!app.run.sweep.open);
    assert!(ch(&mut app, 'G').is_empty());
    assert!(app.run.sweep.open && app.run.sweep.guidance);
    // n turns to the sampler sweep (which runs), G back to this one
    let fx = ch(&mut app, 'n');
    assert!(
        matches!(fx[..], [Effect::Send(Command::Sweep { .. })]),
        "{fx:?}"
    );
    assert!(app.run.sweep.open && !app.run.sweep.guidance);
    let sid = app.run.sweep.running.unwrap();
    app.update(Msg::Worker(Event::Failed {
        what: Failure::Sweep { id: sid },
        message: "no".into(),
    }));
    assert!(ch(&mut app, 'G').is_empty());
    assert!(app.run.sweep.open && app.run.sweep.guidance);
    // another class: the kept result is for every class, so it runs again
    ch(&mut app, 'G');
    app.run.sampling = None;
    ch(&mut app, '4');
    let fx = ch(&mut app, 'G');
    let [Effect::Send(Command::GuidanceSweep { options, .. })] = &fx[..] else {
        panic!("no guidance sweep request: {fx:?}");
    };
    assert_eq!(options.guidance.map(|g| g.class), Some(ClassChoice::One(4)));
}

#[test]
fn the_guidance_chart_plots_each_w() {
    let d = guidance_data(&sweep_result()).unwrap();
    assert_eq!(
        d.agreement.iter().map(|p| p.0).collect::<Vec<_>>(),
        [0.0, 1.0, 2.0, 3.0, 5.0]
    );
    assert!((d.agreement[4].1 - 97.0).abs() < 1e-9);
    assert_eq!(d.frechet.len(), 2);
    assert_eq!(d.frechet[0].1[1], (1.0, 18.0));
    assert_eq!(d.frechet[1].1[0], (0.0, 35.0));
    assert_eq!(d.x_bounds, [0.0, 5.0]);
    assert_eq!(d.agreement_bounds, [0.0, 100.0]);
    assert!(d.frechet_bounds[0] <= 0.0 && d.frechet_bounds[1] >= 35.0);
    // a w without a figure is left out, not drawn at 0
    let mut s = sweep_result();
    s.rows[2].frechet = f64::NAN;
    s.rows[2].frechet_class_mean = None;
    let d = guidance_data(&s).unwrap();
    assert_eq!(d.frechet[0].1.len(), 4);
    assert_eq!(d.frechet[1].1.len(), 4);
    assert_eq!(d.agreement.len(), 5);
    s.rows.clear();
    assert_eq!(guidance_data(&s), None);
}

#[test]
fn points_get_the_two_halves_as_scatters() {
    // a 2-D run whose frames carry both halves' x̂_0: four scatters, whatever the room
    let mut app = demo::app();
    ch(&mut app, 'f');
    let mut frames: Vec<_> = app.run.reverse.as_ref().unwrap().as_ref().clone();
    for f in &mut frames {
        let x0 = f.x0.clone().unwrap();
        let shrunk: Vec<f32> = x0.iter().map(|v| 0.5 * v).collect();
        f.guided = Some([x0, shrunk]);
    }
    app.run.reverse = Some(std::sync::Arc::new(frames));
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = render(&app, w, h);
        for label in ["x̂₀ guide", "x̂₀ cond", "x̂₀ unc"] {
            assert!(screen.contains(label), "{label} at {w}×{h}: {screen}");
        }
    }
}
