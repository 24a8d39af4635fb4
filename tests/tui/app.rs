//! App-state tests: synthetic worker events and key presses go into `App::update`, and
//! the state and effects that come out are checked. No terminal, no worker.

use crate::common::demo;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use diffscope::config::catalog::PresetEntry;
use diffscope::diffusion::SamplerKind;
use diffscope::runs::listing::RunEntry;
use diffscope::runs::runfolder::{Ending, Status};
use diffscope::runs::runlog::MetricRow;
use diffscope::runs::CheckpointEntry;
use diffscope::tui::app::{App, Confirm, Effect, Hangup, LogView, Mode, Msg, Overlay, RunOrigin};
use diffscope::tui::graphics::Setup;
use diffscope::tui::history::{LossHistory, HISTORY_POINTS};
use diffscope::tui::inspect;
use diffscope::tui::theme::Theme;
use diffscope::worker::protocol::{Command, Event, Phase, RunInfo};
use diffscope::worker::wire::Want;
use std::path::PathBuf;
use std::sync::Arc;

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}
fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}
fn shift(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::SHIFT))
}

/// A fresh training run of swissroll that has reported Ready.
fn training_app() -> App {
    started_app(false)
}

/// What the worker says when it is ready, for the run `started_app` starts.
fn run_info(step: u64, saved_step: u64, phase: Phase) -> RunInfo {
    RunInfo {
        preset: "swissroll".into(),
        device: "cpu".into(),
        parameters: 1000,
        step,
        saved_step,
        total_steps: 6000,
        item_shape: vec![2],
        run_dir: PathBuf::from("checkpoints/x"),
        phase,
        precision: "fp32".into(),
    }
}

/// The same, training in a process of its own (`remote`).
fn started_app(remote: bool) -> App {
    let mut app = App::new(vec![Theme::default()], 0, Setup::halfblocks("chosen"));
    let fx = app.update(Msg::RunStarted {
        preset: Box::new(demo::preset()),
        train: true,
        run_dir: PathBuf::from("checkpoints/x"),
        source: "swissroll".into(),
        loss: None,
        remote,
    });
    assert!(matches!(fx[..], [Effect::PrepareData(_)]), "{fx:?}");
    let fx = app.update(Msg::Worker(Event::Ready(run_info(0, 0, Phase::Idle))));
    assert_eq!(
        fx,
        vec![
            Effect::LoadLog {
                dir: PathBuf::from("checkpoints/x"),
                upto: None
            },
            Effect::Send(Command::Start)
        ]
    );
    app
}

fn progress(step: u64, loss: f64) -> Msg {
    Msg::Worker(Event::Progress {
        step,
        loss,
        quarter_losses: [Some(loss), None, Some(loss / 2.0), None],
        lr: 1e-3,
        grad_norm: 1.0,
        steps_per_sec: 100.0,
    })
}

fn sample_requests(fx: &[Effect]) -> Vec<&diffscope::worker::protocol::SampleRequest> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send(Command::Sample(r)) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn progress_updates_the_figures_and_the_loss_history() {
    let mut app = training_app();
    app.update(progress(50, 0.8));
    app.update(progress(100, 0.6));
    assert_eq!(app.run.step, 100);
    assert_eq!(app.run.loss, Some(0.6));
    assert_eq!(app.run.history.raw.len(), 2);
    assert_eq!(app.run.history.quarters[0].len(), 2);
    assert!(app.run.history.quarters[1].is_empty());
    let smooth = app.run.history.smoothed().unwrap();
    assert!(smooth > 0.6 && smooth < 0.8, "{smooth}");
}

#[test]
fn loss_history_stays_bounded_over_a_million_steps() {
    let mut h = LossHistory::default();
    for s in 1..=1_000_000u64 {
        h.push(s, 1.0 / s as f64, &[Some(1.0); 4]);
    }
    assert!(h.raw.len() <= HISTORY_POINTS, "{}", h.raw.len());
    assert!(h.raw.len() >= HISTORY_POINTS / 2);
    let (first, last) = (h.raw.points()[0], h.raw.last().unwrap());
    assert!(first.0 < 2000.0 && last.0 > 990_000.0, "{first:?} {last:?}");
}

#[test]
fn samples_refresh_every_n_steps_and_not_while_one_runs() {
    let mut app = training_app();
    app.sampler.every = 500;
    assert!(sample_requests(&app.update(progress(450, 0.5))).is_empty());
    let fx = app.update(progress(500, 0.5));
    let reqs = sample_requests(&fx);
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].frames > 0, "a trajectory is kept for the inspector");
    // Still sampling at the next period: no second request piles up.
    assert!(sample_requests(&app.update(progress(1000, 0.5))).is_empty());
}

#[test]
fn samples_arrive_with_their_trajectory_and_reverse_mode_shows_it() {
    let mut app = training_app();
    let fx = app.update(ch('s'));
    let id = sample_requests(&fx)[0].id;
    assert!(app.run.sampling.is_some());
    let data = Arc::new(inspect::prepare_data(&demo::preset()).unwrap());
    app.update(Msg::DataReady(data.clone()));
    let s = demo::samples(&data, id, 700, 10);
    let fx = app.update(Msg::Worker(Event::Samples(s.clone())));
    assert!(app.run.sampling.is_none());
    assert!(fx.iter().any(|e| matches!(e, Effect::PrepareReverse(_))));
    assert_eq!(app.run.samples.as_ref().unwrap().step, 700);
    app.update(Msg::ReverseReady {
        id,
        frames: Arc::new(inspect::reverse_frames(&s)),
    });
    app.update(ch('f'));
    assert_eq!(app.inspector.mode, Mode::Reverse);
    app.update(key(KeyCode::End));
    let f = app.frame().expect("a reverse frame");
    assert_eq!(f.t, 1000, "the first stored frame is x_T");
    assert!(f.x0.is_some(), "reverse frames carry x̂_0");
    app.update(key(KeyCode::Home));
    assert_eq!(app.frame().unwrap().t, 0);
}

#[test]
fn scrubbing_keys_move_t_within_0_to_t() {
    let mut app = training_app();
    assert_eq!(app.inspector.t, 0);
    app.update(key(KeyCode::Right));
    app.update(key(KeyCode::Right));
    assert_eq!(app.inspector.t, 2);
    app.update(key(KeyCode::Left));
    assert_eq!(app.inspector.t, 1);
    app.update(shift(KeyCode::Right));
    assert_eq!(app.inspector.t, 101);
    app.update(key(KeyCode::PageDown));
    assert_eq!(app.inspector.t, 1);
    app.update(key(KeyCode::Left));
    app.update(key(KeyCode::Left));
    assert_eq!(app.inspector.t, 0, "t stops at 0");
    app.update(key(KeyCode::End));
    assert_eq!(app.inspector.t, 1000);
    app.update(key(KeyCode::Right));
    assert_eq!(app.inspector.t, 1000, "t stops at T");
    app.update(ch('g'));
    for c in "250".chars() {
        app.update(ch(c));
    }
    assert_eq!(app.overlay, Overlay::Goto("250".into()));
    app.update(key(KeyCode::Enter));
    assert_eq!((app.inspector.t, &app.overlay), (250, &Overlay::None));
    app.update(ch('g'));
    for c in "99999".chars() {
        app.update(ch(c));
    }
    app.update(key(KeyCode::Enter));
    assert_eq!(app.inspector.t, 1000, "a typed t beyond T goes to T");
}

#[test]
fn schedule_figures_follow_t() {
    let mut app = training_app();
    let at0 = app.schedule_at(0).unwrap();
    assert_eq!((at0.beta, at0.alpha_bar), (0.0, 1.0));
    app.update(key(KeyCode::End));
    let at = app.schedule_at(app.inspector.t).unwrap();
    let (b, a, snr) = (at.beta, at.alpha_bar, at.snr);
    assert!(b > 0.01 && a < 1e-3 && snr < 1e-3, "{b} {a} {snr}");
    // β̃_t, the posterior's variance, is below β_t
    assert!(
        at.beta_tilde > 0.0 && at.beta_tilde < b,
        "{} {b}",
        at.beta_tilde
    );
}

#[test]
fn play_animates_t_on_ticks_and_stops_at_the_end() {
    let mut app = training_app();
    app.update(ch('a'));
    assert!(app.inspector.playing);
    app.update(Msg::Tick);
    assert_eq!(app.inspector.t, 10);
    for _ in 0..200 {
        app.update(Msg::Tick);
    }
    assert_eq!(app.inspector.t, 1000);
    assert!(!app.inspector.playing);
}

#[test]
fn forward_frames_turn_the_data_into_a_standard_normal() {
    let data = inspect::prepare_data(&demo::preset()).unwrap();
    assert_eq!(data.forward.len(), 1001);
    let stats = |v: &[f32]| {
        let n = v.len() as f64;
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
        (m, var)
    };
    let (m, var) = stats(&data.forward[1000].xt);
    assert!(m.abs() < 0.1 && (var - 1.0).abs() < 0.1, "{m} {var}");
    // The histogram at T follows N(0, 1): most mass within ±2.
    let h = &data.forward[1000].hist;
    let inside: u32 = h
        .density()
        .iter()
        .zip(&h.counts)
        .filter(|((x, _), _)| x.abs() < 2.0)
        .map(|(_, c)| *c)
        .sum();
    let frac = inside as f64 / h.total as f64;
    assert!((frac - 0.954).abs() < 0.03, "{frac}");
    // At t = 0 it is the data itself: the swiss roll is not Gaussian around 0.
    assert_ne!(data.forward[0].xt, data.forward[1].xt);
}

#[test]
fn space_pauses_and_resumes_through_the_worker() {
    let mut app = training_app();
    assert_eq!(app.update(ch(' ')), vec![Effect::Send(Command::Pause)]);
    app.update(Msg::Worker(Event::Paused));
    assert!(app.run.paused);
    assert_eq!(app.update(ch(' ')), vec![Effect::Send(Command::Resume)]);
}

#[test]
fn w_saves_and_saved_clears_unsaved_progress() {
    let mut app = training_app();
    app.update(progress(300, 0.4));
    assert!(app.run.unsaved());
    assert_eq!(
        app.update(ch('w')),
        vec![Effect::Send(Command::Save { manual: true })]
    );
    app.update(Msg::Worker(Event::Saved {
        path: PathBuf::from("checkpoints/x/step-00000300"),
        step: 300,
    }));
    assert!(!app.run.unsaved());
}

#[test]
fn quitting_with_unsaved_progress_asks_then_saves_and_quits_after_exit() {
    let mut app = training_app();
    app.update(progress(300, 0.4));
    assert!(app.update(ch('q')).is_empty());
    assert!(
        matches!(
            &app.overlay,
            Overlay::Confirm {
                ask: Confirm::Quit,
                ..
            }
        ),
        "{:?}",
        app.overlay
    );
    assert_eq!(
        app.update(ch('y')),
        vec![Effect::Send(Command::Shutdown { save: true })]
    );
    assert_eq!(app.update(Msg::Worker(Event::Exited)), vec![Effect::Quit]);
}

#[test]
fn quitting_without_saving_and_ctrl_c() {
    let mut app = training_app();
    app.update(progress(300, 0.4));
    app.update(ch('q'));
    assert_eq!(
        app.update(ch('n')),
        vec![Effect::Send(Command::Shutdown { save: false })]
    );
    // Nothing unsaved: Ctrl-C quits without asking.
    let mut app = training_app();
    let fx = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(fx, vec![Effect::Send(Command::Shutdown { save: false })]);
    // Asked again while the worker finishes: leave now.
    let fx = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(fx, vec![Effect::Quit]);
}

#[test]
fn a_nan_loss_stops_training_keeps_the_checkpoint_and_the_ui() {
    let mut app = training_app();
    app.update(progress(300, 0.4));
    app.update(Msg::Worker(Event::TrainingStopped(
        "non-finite loss (NaN) at step 301".into(),
    )));
    assert!(app.run.stopped.is_some());
    let n = app.notice.clone().unwrap();
    assert!(n.error && n.text.contains("NaN"), "{n:?}");
    // Pausing is refused with a message, and quitting does not save over the last good
    // checkpoint.
    assert!(app.update(ch(' ')).is_empty());
    assert_eq!(
        app.update(ch('q')),
        vec![Effect::Send(Command::Shutdown { save: false })]
    );
}

#[test]
fn a_sampling_failure_shows_an_error_and_sampling_can_go_on() {
    let mut app = training_app();
    let id = sample_requests(&app.update(ch('s')))[0].id;
    app.update(Msg::Worker(Event::Failed {
        what: diffscope::worker::protocol::Failure::Sampling { id },
        message: "out of memory".into(),
    }));
    assert!(app.run.sampling.is_none());
    assert!(app.notice.as_ref().unwrap().error);
    assert_eq!(sample_requests(&app.update(ch('s'))).len(), 1);
}

#[test]
fn sigterm_saves_unsaved_progress_and_quits() {
    let mut app = training_app();
    app.update(progress(300, 0.4));
    assert_eq!(
        app.update(Msg::Signal("SIGTERM".into())),
        vec![Effect::Send(Command::Shutdown { save: true })]
    );
    assert_eq!(app.update(Msg::Worker(Event::Exited)), vec![Effect::Quit]);
}

#[test]
fn a_workbench_attached_late_counts_the_steps_since_the_newest_checkpoint_as_unsaved() {
    // The training process trained before the workbench connected: the catch-up says
    // step 120, none of it saved, and SIGTERM right away must save it.
    let mut app = App::new(vec![Theme::default()], 0, Setup::halfblocks("chosen"));
    app.update(Msg::RunStarted {
        preset: Box::new(demo::preset()),
        train: true,
        run_dir: PathBuf::from("checkpoints/x"),
        source: "swissroll".into(),
        loss: None,
        remote: true,
    });
    let info = |saved_step| run_info(120, saved_step, Phase::Training);
    app.update(Msg::Worker(Event::Ready(info(0))));
    assert!(app.run.unsaved());
    assert_eq!(
        app.update(Msg::Signal("SIGTERM".into())),
        vec![Effect::Send(Command::Shutdown { save: true })]
    );
    // All of it saved: nothing to ask about, q quits at once.
    let mut app = started_app(true);
    app.update(Msg::Worker(Event::Ready(info(120))));
    assert!(!app.run.unsaved());
}

#[test]
fn a_failed_save_on_the_way_out_keeps_the_workbench_open_unless_a_signal_asked() {
    let full = || {
        Msg::Worker(Event::Failed {
            what: diffscope::worker::protocol::Failure::Save,
            message: "checkpoints/x/.step-00000300.tmp/model.safetensors: cannot write: No \
                      space left on device (os error 28); the checkpoint of step 200 is intact"
                .into(),
        })
    };
    // q, y: the save fails, so the workbench stays, says why, and q asks again.
    let mut app = training_app();
    app.update(progress(300, 0.4));
    app.update(ch('q'));
    app.update(ch('y'));
    assert!(app.quitting);
    assert!(app.update(full()).is_empty());
    assert!(!app.quitting);
    let n = app.notice.clone().unwrap();
    assert!(n.error, "{n:?}");
    assert!(n.text.contains("step 200 is intact"), "{n:?}");
    assert!(n.text.contains("not quitting"), "{n:?}");
    app.update(Msg::Worker(Event::Paused));
    // Still unsaved: q asks again, and n now leaves without saving.
    assert!(app.update(ch('q')).is_empty());
    assert_eq!(
        app.update(ch('n')),
        vec![Effect::Send(Command::Shutdown { save: false })]
    );
    // A save failing while training: paused, and the line says how to go on.
    let mut app = training_app();
    app.update(progress(300, 0.4));
    app.update(full());
    let n = app.notice.clone().unwrap();
    assert!(n.text.contains("training is paused"), "{n:?}");
    // SIGTERM asked for the quit: it goes through without the save.
    let mut app = training_app();
    app.update(progress(300, 0.4));
    app.update(Msg::Signal("SIGTERM".into()));
    assert_eq!(
        app.update(full()),
        vec![Effect::Send(Command::Shutdown { save: false })]
    );
    assert_eq!(app.update(Msg::Worker(Event::Exited)), vec![Effect::Quit]);
}

#[test]
fn sampler_menu_changes_the_next_request() {
    let mut app = training_app();
    app.update(ch('m'));
    assert_eq!(app.overlay, Overlay::Menu { field: 0 });
    app.update(key(KeyCode::Right)); // sampler: DDPM -> DDIM
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Left)); // steps down one notch
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Right)); // η 0.0 -> 0.1
    for _ in 0..4 {
        app.update(key(KeyCode::Down)); // past spacing, Karras σ and the sample count
    }
    app.update(key(KeyCode::Right)); // raw weights
    let fx = app.update(key(KeyCode::Enter));
    let r = sample_requests(&fx)[0];
    assert_eq!(r.options.sampler, diffscope::diffusion::SamplerKind::Ddim);
    assert_eq!(r.options.steps, 50);
    assert!((r.options.eta - 0.1).abs() < 1e-9);
    assert!(!r.ema);
    assert_eq!(app.overlay, Overlay::None);
}

fn checkpoint_entry(run: &str, n: u64) -> CheckpointEntry {
    CheckpointEntry {
        dir: PathBuf::from(format!("checkpoints/{run}/step-{n:08}")),
        preset: "swissroll".into(),
        step: n,
        loss: Some(0.3),
        created_unix: 1_795_000_000,
        manual: false,
        total_steps: 6000,
        corrupt: None,
    }
}

fn run_entry(name: &str, steps: &[u64], live: bool) -> RunEntry {
    RunEntry {
        dir: PathBuf::from(format!("checkpoints/{name}")),
        preset: "swissroll".into(),
        status: if live {
            Status::Running {
                pid: diffscope::runs::runfolder::LockPid(Some(42)),
            }
        } else {
            Status::Stopped(Ending::User)
        },
        step: steps.first().copied().unwrap_or(0),
        total: 6000,
        loss: Some(0.3),
        eval: None,
        started_unix: Some(1_795_000_000),
        checkpoints: steps.iter().map(|&n| checkpoint_entry(name, n)).collect(),
        notice: None,
    }
}

#[test]
fn checkpoint_browser_opens_resumes_and_deletes_after_confirmation() {
    let mut app = training_app();
    assert_eq!(app.update(ch('c')), vec![Effect::ScanRuns]);
    // rows: the run, then its checkpoints (200, 100)
    app.update(Msg::Runs(vec![run_entry("r", &[200, 100], false)]));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    let fx = app.update(key(KeyCode::Enter));
    match &fx[..] {
        [Effect::StartRun { spec, .. }] => {
            assert_eq!(
                spec.origin,
                RunOrigin::Checkpoint(PathBuf::from("checkpoints/r/step-00000100"))
            );
            assert!(!spec.train, "Enter opens for inspection");
        }
        other => panic!("{other:?}"),
    }
    // on the run's own row, Enter and r stand for its latest checkpoint
    app.update(ch('c'));
    app.update(Msg::Runs(vec![run_entry("r", &[200], false)]));
    match &app.update(ch('r'))[..] {
        [Effect::StartRun { spec, .. }] => {
            assert!(spec.train, "r resumes training");
            assert_eq!(
                spec.origin,
                RunOrigin::Checkpoint(PathBuf::from("checkpoints/r/step-00000200"))
            );
        }
        other => panic!("{other:?}"),
    }
    app.update(ch('c'));
    app.update(Msg::Runs(vec![run_entry("r", &[200], false)]));
    app.update(key(KeyCode::Down));
    assert!(app.update(ch('d')).is_empty(), "deleting asks first");
    assert!(app.update(ch('n')).is_empty());
    match &app.overlay {
        Overlay::Browser { runs, sel, .. } => {
            assert_eq!((runs.len(), *sel), (1, 1), "back to the same browser")
        }
        other => panic!("{other:?}"),
    }
    app.update(ch('d'));
    assert_eq!(
        app.update(ch('y')),
        vec![Effect::DeleteCheckpoint(PathBuf::from(
            "checkpoints/r/step-00000200"
        ))]
    );
    // d on the run's own row deletes the whole run, after its own question
    app.update(key(KeyCode::Esc));
    app.update(ch('c'));
    app.update(Msg::Runs(vec![run_entry("r", &[200, 100], false)]));
    app.update(key(KeyCode::Up));
    assert!(app.update(ch('d')).is_empty(), "deleting a run asks first");
    match &app.overlay {
        Overlay::Confirm { ask, .. } => assert_eq!(
            *ask,
            Confirm::DeleteRun {
                dir: PathBuf::from("checkpoints/r"),
                checkpoints: 2
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert!(matches!(app.overlay, Overlay::Browser { .. }));
    app.update(ch('d'));
    assert_eq!(
        app.update(ch('y')),
        vec![Effect::DeleteRun(PathBuf::from("checkpoints/r"))]
    );
}

#[test]
fn the_browser_attaches_to_live_runs_and_compares_marked_ones() {
    let mut app = training_app();
    app.update(ch('c'));
    let runs = vec![
        run_entry("live", &[100], true),
        run_entry("a", &[300], false),
        run_entry("b", &[], false),
    ];
    app.update(Msg::Runs(runs.clone()));
    match &app.update(key(KeyCode::Enter))[..] {
        [Effect::StartRun { spec, .. }] => assert_eq!(
            spec.origin,
            RunOrigin::Live {
                dir: PathBuf::from("checkpoints/live"),
                want: Want::Control
            }
        ),
        other => panic!("{other:?}"),
    }
    // a checkpoint that fails its checksum is not opened
    app.update(ch('c'));
    let mut bad = run_entry("bad", &[100], false);
    bad.checkpoints[0].corrupt =
        Some("checkpoints/bad/step-00000100/ema.safetensors: checksum mismatch".into());
    app.update(Msg::Runs(vec![bad]));
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.error && n.text.contains("checksum mismatch")));
    app.update(key(KeyCode::Esc));
    // a live run and its checkpoints are not deleted under it
    app.update(ch('c'));
    app.update(Msg::Runs(runs));
    assert!(app.update(ch('d')).is_empty());
    assert!(matches!(app.overlay, Overlay::Browser { .. }));
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("training now")));
    app.update(key(KeyCode::Down));
    assert!(app.update(ch('d')).is_empty());
    assert!(matches!(app.overlay, Overlay::Browser { .. }));
    // c with fewer than two marked runs says how
    assert!(app.update(ch('c')).is_empty());
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("mark two")));
    app.update(key(KeyCode::Down)); // run a
    app.update(ch(' '));
    app.update(key(KeyCode::Down)); // a's checkpoint
    app.update(key(KeyCode::Down)); // run b
    app.update(ch(' '));
    assert_eq!(
        app.update(ch('c')),
        vec![Effect::Compare(vec![
            PathBuf::from("checkpoints/a"),
            PathBuf::from("checkpoints/b")
        ])]
    );
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn quitting_a_background_run_offers_to_leave_it_running() {
    let mut app = started_app(true);
    app.update(progress(300, 0.4));
    assert!(app.update(ch('q')).is_empty());
    assert!(matches!(
        app.overlay,
        Overlay::Confirm {
            ask: Confirm::Leave,
            ..
        }
    ));
    // d leaves the workbench at once, sending nothing: training goes on
    assert_eq!(app.update(ch('d')), vec![Effect::Quit]);
    let farewell = app
        .farewell
        .as_ref()
        .expect("the shell is told")
        .lines(Some(77));
    assert_eq!(
        farewell,
        "training goes on in checkpoints/x (pid 77); `diffscope attach checkpoints/x` to return"
    );

    let mut app = started_app(true);
    app.update(progress(300, 0.4));
    app.update(ch('q'));
    assert_eq!(
        app.update(ch('y')),
        vec![Effect::Send(Command::Shutdown { save: true })]
    );
    app.update(Msg::Worker(Event::Saved {
        path: PathBuf::from("checkpoints/x/step-00000300"),
        step: 300,
    }));
    assert_eq!(app.update(Msg::Worker(Event::Exited)), vec![Effect::Quit]);
    assert_eq!(
        app.farewell.as_ref().map(|f| f.lines(None)).as_deref(),
        Some(
            "saved step 300 in checkpoints/x/step-00000300; `diffscope train --resume \
             checkpoints/x` to continue"
        )
    );

    // a finished run whose last step is saved has nothing to ask about
    let mut app = started_app(true);
    app.update(progress(6000, 0.1));
    app.update(Msg::Worker(Event::Finished { step: 6000 }));
    app.update(Msg::Worker(Event::Saved {
        path: PathBuf::from("checkpoints/x/step-00006000"),
        step: 6000,
    }));
    assert_eq!(
        app.update(ch('q')),
        vec![Effect::Send(Command::Shutdown { save: false })]
    );
    assert_eq!(app.overlay, Overlay::None, "no question");
    // nor does one attached to after it finished
    let mut app = started_app(true);
    app.update(Msg::Worker(Event::Ready(run_info(
        6000,
        6000,
        Phase::Finished,
    ))));
    assert_eq!(
        app.update(ch('q')),
        vec![Effect::Send(Command::Shutdown { save: false })]
    );

    // the detach key, from the main screen
    let mut app = started_app(true);
    assert_eq!(app.update(ch('d')), vec![Effect::Quit]);
    // a run of the workbench's own has nothing to detach from
    let mut app = training_app();
    assert!(app.update(ch('d')).is_empty());
}

#[test]
fn a_hang_up_detaches_from_a_background_run_unless_told_to_save_and_stop() {
    let mut app = started_app(true);
    app.update(progress(300, 0.4));
    assert_eq!(app.update(Msg::Signal("SIGHUP".into())), vec![Effect::Quit]);
    let mut app = started_app(true);
    app.hangup = Hangup::SaveAndStop;
    app.update(progress(300, 0.4));
    assert_eq!(
        app.update(Msg::Signal("SIGHUP".into())),
        vec![Effect::Send(Command::Shutdown { save: true })]
    );
    // a workbench's own run still saves on a hang-up
    let mut app = training_app();
    app.update(progress(300, 0.4));
    assert_eq!(
        app.update(Msg::Signal("the terminal closed".into())),
        vec![Effect::Send(Command::Shutdown { save: true })]
    );
}

#[test]
fn a_watcher_steers_nothing_and_a_busy_run_asks_how_to_attach() {
    let mut app = started_app(true);
    app.update(Msg::Worker(Event::Watching));
    assert!(app.run.watching);
    for k in [' ', 's', 'w', 'e'] {
        assert!(app.update(ch(k)).is_empty(), "{k}");
    }
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("read-only")));
    // quitting a watched run leaves it alone
    assert_eq!(app.update(ch('q')), vec![Effect::Quit]);

    let mut app = App::new(vec![Theme::default()], 0, Setup::halfblocks("chosen"));
    let dir = PathBuf::from("checkpoints/busy");
    app.update(Msg::AttachBusy {
        dir: dir.clone(),
        pid: 7,
    });
    match &app.update(ch('t'))[..] {
        [Effect::StartRun { spec, .. }] => assert_eq!(
            spec.origin,
            RunOrigin::Live {
                dir: dir.clone(),
                want: Want::TakeOver
            }
        ),
        other => panic!("{other:?}"),
    }
    app.update(Msg::AttachBusy { dir, pid: 7 });
    // with no run open, Esc leaves
    assert_eq!(app.update(key(KeyCode::Esc)), vec![Effect::Quit]);
}

#[test]
fn the_log_gives_the_history_and_live_progress_follows_without_doubles() {
    let mut app = started_app(true);
    // progress seen before the log is read…
    app.update(progress(150, 0.5));
    app.update(progress(200, 0.45));
    let row = |step: u64| MetricRow {
        step,
        wall_time: 0.0,
        loss: 1.0 / step as f64,
        loss_q1: None,
        loss_q2: None,
        loss_q3: None,
        loss_q4: None,
        lr: 1e-3,
        grad_norm: 1.0,
        steps_per_sec: 10.0,
    };
    app.update(Msg::LogLoaded(Box::new(LogView {
        dir: PathBuf::from("checkpoints/x"),
        rows: (1..=3).map(|i| row(50 * i)).collect(),
        eval: None,
        notice: Some("checkpoints/x/metrics.csv: line 5 is not a complete row".into()),
    })));
    // …the log's rows up to 150, then the live step 200 once
    let xs: Vec<f64> = app.run.history.raw.points().iter().map(|p| p.0).collect();
    assert_eq!(xs, vec![50.0, 100.0, 150.0, 200.0]);
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("not a complete row")));
    app.update(progress(250, 0.4));
    assert_eq!(app.run.history.raw.len(), 5);
    // a log of another run (an earlier one) is not taken
    app.update(Msg::LogLoaded(Box::new(LogView {
        dir: PathBuf::from("checkpoints/other"),
        rows: vec![row(1)],
        eval: None,
        notice: None,
    })));
    assert_eq!(app.run.history.raw.len(), 5);
}

#[test]
fn preset_picker_starts_a_new_run_after_confirmation() {
    let mut app = training_app();
    app.update(progress(300, 0.4));
    assert_eq!(app.update(ch('p')), vec![Effect::ScanPresets]);
    app.update(Msg::Presets(vec![PresetEntry {
        source: "moons".into(),
        name: "moons".into(),
        description: "Two moons".into(),
        origin: "built in".into(),
    }]));
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let fx = app.update(ch('y'));
    match &fx[..] {
        [Effect::StartRun { spec, save_old }] => {
            assert_eq!(spec.origin, RunOrigin::Preset("moons".into()));
            assert!(spec.train);
            assert!(save_old, "the unsaved run is saved first");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn inspecting_a_checkpoint_samples_at_once_and_does_not_train() {
    let mut app = App::new(vec![Theme::default()], 0, Setup::halfblocks("chosen"));
    app.update(Msg::RunStarted {
        preset: Box::new(demo::preset()),
        train: false,
        run_dir: PathBuf::from("checkpoints/x"),
        source: "checkpoints/x/step-00006000".into(),
        loss: Some(0.3125),
        remote: false,
    });
    assert_eq!(app.run.loss, Some(0.3125), "the checkpoint's loss is shown");
    let fx = app.update(Msg::Worker(Event::Ready(run_info(6000, 6000, Phase::Idle))));
    assert!(
        fx.contains(&Effect::LoadLog {
            dir: PathBuf::from("checkpoints/x"),
            upto: Some(6000)
        }),
        "its history up to the checkpoint"
    );
    assert_eq!(sample_requests(&fx).len(), 1);
    assert!(!fx.contains(&Effect::Send(Command::Start)));
    assert!(app.update(ch(' ')).is_empty(), "nothing to pause");
    assert!(!app.run.unsaved());
    // nothing new to save: w says so, and asks the worker for nothing
    assert!(app.update(ch('w')).is_empty(), "w saves nothing");
    let n = app.notice.clone().unwrap();
    assert!(n.text.starts_with("nothing to save"), "{n:?}");
    assert!(n.text.contains("on disk already"), "{n:?}");
    let screen = draw(&app, 80, 24);
    assert!(
        screen.contains(&n.text),
        "the notice fits at 80×24: {screen}"
    );
    // keys that do not apply are not offered
    let now = app.situation();
    let hints = diffscope::tui::keymap::hints(&app.contexts(), &now);
    for gone in ["pause", "save", "detach"] {
        assert!(!hints.iter().any(|(_, h)| *h == gone), "{gone}: {hints:?}");
    }
    assert!(hints.iter().any(|(_, h)| *h == "sample"), "{hints:?}");
    // nor figures of training that is not happening
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = draw(&app, w, h);
        let status: String = screen.lines().take(2).collect();
        for gone in ["lr ", "it/s", "ETA", "train "] {
            assert!(!status.contains(gone), "{gone}: {status}");
        }
        assert!(status.contains("inspecting"), "{status}");
        assert!(
            status.contains("checkpoint at step 6000 of 6000"),
            "{status}"
        );
        let footer = screen.lines().last().unwrap();
        for gone in ["pause", "save", "detach"] {
            assert!(!footer.contains(gone), "{gone}: {footer}");
        }
    }
}

#[test]
fn keys_that_apply_to_a_training_run_are_offered() {
    let hints_of = |app: &App| diffscope::tui::keymap::hints(&app.contexts(), &app.situation());
    let app = training_app();
    let h = hints_of(&app);
    assert!(h.iter().any(|(_, h)| *h == "pause"), "{h:?}");
    assert!(h.iter().any(|(_, h)| *h == "save"), "{h:?}");
    assert!(
        !h.iter().any(|(_, h)| *h == "detach"),
        "in this process: {h:?}"
    );
    let h = hints_of(&started_app(true));
    assert!(
        h.iter().any(|(_, h)| *h == "detach"),
        "its own process: {h:?}"
    );
}

/// The speed keeps its significant digits, and a wait for progress is shown once it
/// grows, then called a stall.
#[test]
fn the_status_bar_tells_slow_and_stalled_training() {
    use diffscope::tui::app::Pace;
    use diffscope::tui::panes::status::speed;
    use std::time::{Duration, Instant};
    assert_eq!(speed(120.4), "120it/s");
    assert_eq!(speed(13.0), "13it/s");
    assert_eq!(speed(3.44), "3.4it/s");
    assert_eq!(speed(0.37), "2.7s/it");
    assert_eq!(speed(0.05), "20s/it");
    assert_eq!(speed(0.0), "-it/s");

    let mut app = training_app();
    // swissroll reports every log_every steps; at 100 it/s that is well under a second
    app.update(progress(100, 0.5));
    let now = Instant::now();
    assert_eq!(app.run.pace(now), Pace::OnTime);
    let at = app.run.last_report.unwrap();
    assert!(matches!(app.run.pace(at + Duration::from_secs(12)), Pace::Late(s) if s >= 12.0));
    assert!(matches!(app.run.pace(at + Duration::from_secs(70)), Pace::Stalled(s) if s >= 70.0));
    // paused: nothing is late
    app.update(Msg::Worker(Event::Paused));
    assert_eq!(app.run.pace(at + Duration::from_secs(70)), Pace::OnTime);
    app.update(Msg::Worker(Event::Resumed));
    // a run at 0.37 it/s waits long between reports: not late after 70 s
    app.update(Msg::Worker(Event::Progress {
        step: 200,
        loss: 0.4,
        quarter_losses: [None; 4],
        lr: 1e-3,
        grad_norm: 1.0,
        steps_per_sec: 0.37,
    }));
    let at = app.run.last_report.unwrap();
    assert_eq!(app.run.pace(at + Duration::from_secs(70)), Pace::OnTime);

    // drawn: the wait and the stall, in place of the ETA
    app.update(progress(300, 0.3));
    app.run.last_report = Some(Instant::now() - Duration::from_secs(70));
    let screen = draw(&app, 160, 48);
    let top = screen.lines().next().unwrap();
    assert!(top.contains("no report for 1m 10s"), "{top}");
    assert!(top.contains("stalled"), "{top}");
    assert!(!top.contains("ETA"), "{top}");
    app.run.last_report = Some(Instant::now());
    let top = draw(&app, 160, 48).lines().next().unwrap().to_string();
    assert!(top.contains("100it/s") && top.contains("ETA") && top.contains("training"));
}

fn draw(app: &App, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        diffscope::tui::ui::draw(f, app);
    })
    .unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

#[test]
fn help_scrolls_and_only_esc_question_mark_or_q_close_it() {
    let mut app = training_app();
    app.update(ch('?'));
    assert_eq!(app.overlay, Overlay::Help);
    // as drawn: 20 lines on a screen, 50 more below
    app.view.help_extent = (20, 50);
    for c in ['x', 'w', ' ', 's'] {
        assert!(app.update(ch(c)).is_empty());
        assert_eq!(app.overlay, Overlay::Help, "{c:?} does not close the help");
    }
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    assert_eq!(app.view.help_scroll, 2);
    app.update(key(KeyCode::Up));
    assert_eq!(app.view.help_scroll, 1);
    app.update(key(KeyCode::PageDown));
    assert_eq!(app.view.help_scroll, 21);
    app.update(key(KeyCode::PageDown));
    app.update(key(KeyCode::PageDown));
    assert_eq!(app.view.help_scroll, 50, "no further than the end");
    app.update(key(KeyCode::PageUp));
    assert_eq!(app.view.help_scroll, 30);
    app.update(key(KeyCode::Home));
    assert_eq!(app.view.help_scroll, 0);
    app.update(key(KeyCode::End));
    assert_eq!(app.view.help_scroll, 50);
    for close in [key(KeyCode::Esc), ch('?'), ch('q')] {
        app.update(close);
        assert_eq!(app.overlay, Overlay::None);
        assert!(!app.quitting);
        app.update(ch('?'));
        assert_eq!(app.view.help_scroll, 0, "opens at the top");
    }
}

#[test]
fn themes_cycle_and_toggles_flip() {
    // NO_COLOR, which `themes` reads, may be set by another test meanwhile.
    let (themes, _, _) = {
        let _turn = crate::common::process_lock();
        diffscope::tui::themes(None)
    };
    let mut app = App::new(themes, 0, Setup::halfblocks("chosen"));
    let first = app.theme().name.clone();
    app.update(ch('t'));
    assert_ne!(app.theme().name, first);
    app.update(ch('l'));
    app.update(ch('u'));
    app.update(ch('v'));
    assert!(app.view.log_scale && app.view.quarters && app.view.schedule);
}

#[test]
fn focus_zoom_and_pages_follow_the_keys() {
    use diffscope::tui::app::Focus;
    let mut app = training_app();
    assert_eq!(app.view.focus, Focus::Samples);
    app.view.page_counts = (3, 2);
    app.view.per_page = (6, 4);
    app.update(ch(']'));
    app.update(ch(']'));
    assert_eq!(
        app.view.sample_first, 12,
        "the first image of the third page"
    );
    app.update(ch(']'));
    assert_eq!(app.view.sample_first, 0, "paging wraps around");
    app.update(ch('['));
    assert_eq!(app.view.sample_first, 12);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.view.focus, Focus::Inspector);
    app.update(ch('['));
    assert_eq!((app.inspector.first, app.view.sample_first), (4, 12));
    app.update(ch('z'));
    assert!(app.view.zoom);
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    assert_eq!(app.view.focus, Focus::Samples);
    app.update(ch('z'));
    assert!(!app.view.zoom);
}

#[test]
fn forward_frames_stay_within_a_memory_budget_for_big_items() {
    // 2-D points: every t. Big images: an even spread that keeps 0 and T.
    assert_eq!(inspect::forward_timesteps(1000, 2000).len(), 1001);
    let ts = inspect::forward_timesteps(1000, 16 * 3 * 32 * 32);
    assert!(
        ts.len() * 16 * 3 * 32 * 32 <= inspect::FORWARD_BUDGET,
        "{}",
        ts.len()
    );
    assert_eq!((ts[0], *ts.last().unwrap()), (0, 1000));
    assert!(ts.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn b_evaluates_on_demand_and_shows_the_bound_terms() {
    use diffscope::eval::Evaluation;
    use diffscope::worker::protocol::Evaluated;
    let mut app = training_app();
    app.update(progress(500, 0.5));
    let fx = app.update(ch('b'));
    let id = match &fx[..] {
        [Effect::Send(Command::Evaluate { id, ema: true })] => *id,
        _ => panic!("expected an evaluation request, got {fx:?}"),
    };
    assert!(app.view.terms);
    assert_eq!(app.run.evaluating, Some(id));
    // pressing again while it runs only hides the view
    assert!(app.update(ch('b')).is_empty());
    assert!(!app.view.terms);
    let eval = Evaluated {
        id,
        evaluation: Evaluation {
            step: 500,
            ema: true,
            bound: 0.41,
            bound_se: 0.03,
            items: Some(1000),
            seed: Some(0),
            prior: 0.0,
            diffusion: 0.4,
            decoder: 0.01,
            sliced_w1: Some(0.25),
            sliced_w1_noise: Some(1.0),
            ..Default::default()
        },
        per_t: vec![-3.1, 0.5, 0.2, 0.1],
    };
    app.update(Msg::Worker(Event::Evaluation(Box::new(eval))));
    assert_eq!(app.run.evaluating, None);
    assert_eq!(app.run.evaluation.as_ref().map(|e| e.step), Some(500));
    // fresh figures at this step: showing the view again asks for nothing
    assert!(app.update(ch('b')).is_empty());
    assert!(app.view.terms);
    // after more training they are stale: b off and on again refreshes them
    app.update(progress(600, 0.4));
    app.update(ch('b'));
    let fx = app.update(ch('b'));
    assert!(
        matches!(fx[..], [Effect::Send(Command::Evaluate { .. })]),
        "{fx:?}"
    );
    // a failed evaluation clears the running flag
    let id = app.run.evaluating.expect("an evaluation runs");
    app.update(Msg::Worker(Event::Failed {
        what: diffscope::worker::protocol::Failure::Evaluation { id },
        message: "no data".into(),
    }));
    assert_eq!(app.run.evaluating, None);
}

/// The files of a step folder, byte for byte.
fn folder_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().to_string();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// `w` on a checkpoint opened for inspection, down to the worker: nothing on disk
/// changes (its meta.ron keeps the command that trained it), and that is said. A save of
/// a step that is on disk already is refused by the checkpoint writer itself. A corrupt
/// checkpoint is refused before the workbench starts, in one line naming the file.
#[test]
fn saving_never_replaces_a_checkpoint_on_disk() {
    use diffscope::runs::{self, Launch, Overrides, RunOrigin, RunSpec};
    use diffscope::train::checkpoint::{self, CheckpointError};
    use diffscope::train::Trainer;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let mut p = demo::preset();
    p.train.batch_size = 16;
    let mut tr = Trainer::new(p, tch::Device::Cpu).unwrap();
    tr.command = "diffscope train --preset swissroll".into();
    tr.train_step().unwrap();
    let saved = tr.save(dir.path(), false).unwrap();
    let before = folder_bytes(&saved);
    assert!(before.iter().any(|(n, _)| n == "meta.ron"));

    // the writer refuses the same step again, by hand or not
    for manual in [true, false] {
        match tr.save(dir.path(), manual) {
            Err(CheckpointError::AlreadySaved { path }) => assert_eq!(path, saved),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(folder_bytes(&saved), before);

    // the workbench's worker for a checkpoint opened for inspection
    let spec = RunSpec {
        origin: RunOrigin::Checkpoint(saved.clone()),
        train: false,
    };
    let plan = runs::plan(&spec, &Overrides::default()).unwrap();
    let launch = Launch {
        device: tch::Device::Cpu,
        threads: 1,
        total_steps: None,
        seed: None,
        precision: None,
    };
    let h = runs::start(plan, &launch).unwrap();
    let next = || h.events.recv_timeout(Duration::from_secs(60)).unwrap();
    while !matches!(next(), Event::Ready(_)) {}
    h.commands.send(Command::Save { manual: true }).unwrap();
    let note = loop {
        match next() {
            Event::Notice(n) if n.contains("already saved") => break n,
            Event::Failed { what, message } => panic!("{what:?}: {message}"),
            _ => {}
        }
    };
    assert!(note.contains(&saved.display().to_string()), "{note}");
    h.commands.send(Command::Shutdown { save: true }).unwrap();
    while next() != Event::Exited {}
    assert_eq!(folder_bytes(&saved), before, "nothing rewritten");
    let meta = std::fs::read_to_string(saved.join("meta.ron")).unwrap();
    assert!(
        meta.contains("diffscope train --preset swissroll"),
        "{meta}"
    );
    assert_eq!(checkpoint::list_steps(dir.path()).unwrap().len(), 1);

    // corrupt: `tui --checkpoint` refuses it before the screen is touched
    let model = saved.join("model.safetensors");
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&model, bytes).unwrap();
    let opts = diffscope::tui::TuiOptions {
        checkpoint: Some(saved.clone()),
        ..Default::default()
    };
    let Err(e) = diffscope::tui::first_plan(&opts) else {
        panic!("a corrupt checkpoint was opened");
    };
    assert!(e.contains(&model.display().to_string()), "{e}");
    assert!(e.contains("checksum"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

/// A training app whose run has answered a sampling request with a trajectory of `frames`
/// frames, in reverse mode.
fn reverse_app(frames: usize) -> (App, Vec<inspect::Frame>) {
    let mut app = training_app();
    let id = sample_requests(&app.update(ch('s')))[0].id;
    let data = Arc::new(inspect::prepare_data(&demo::preset()).unwrap());
    app.update(Msg::DataReady(data.clone()));
    let s = demo::samples(&data, id, 700, frames);
    app.update(Msg::Worker(Event::Samples(s.clone())));
    let rev = inspect::reverse_frames(&s);
    app.update(Msg::ReverseReady {
        id,
        frames: Arc::new(rev.clone()),
    });
    app.update(ch('f'));
    (app, rev)
}

#[test]
fn the_reverse_inspector_steps_through_the_samplers_own_frames() {
    let (mut app, rev) = reverse_app(10);
    assert_eq!(rev.len(), 11, "ten steps and the samples");
    app.update(key(KeyCode::End));
    let f = app.frame().unwrap();
    assert_eq!(f.t, rev[0].t);
    assert_eq!(f.trace.unwrap().label(), "step 1 of 10");
    // ← lowers t: the next frame of the run, whatever the gap in t.
    app.update(key(KeyCode::Left));
    assert_eq!(app.inspector.t, rev[1].t);
    assert!(
        rev[0].t - rev[1].t > 1,
        "the frames are steps of the run, not of t"
    );
    let tr = app.frame().unwrap().trace.unwrap();
    assert_eq!((tr.step, tr.of, tr.done), (2, 10, false));
    assert!(tr.sigma > 0.0 && tr.sigma < rev[0].trace.unwrap().sigma);
    app.update(key(KeyCode::Right));
    assert_eq!(app.frame().unwrap().trace.unwrap().step, 1);
    app.update(key(KeyCode::Right));
    assert_eq!(app.inspector.t, rev[0].t, "it stops at x_T");
    app.update(key(KeyCode::Home));
    let tr = app.frame().unwrap().trace.unwrap();
    assert!(tr.done);
    assert_eq!(tr.label(), "x_0 after step 10 of 10");
    // Playing from the end starts over at x_T and goes a frame a tick.
    app.update(ch('a'));
    assert_eq!(app.inspector.t, rev[0].t);
    app.update(Msg::Tick);
    assert_eq!(app.inspector.t, rev[1].t);
    for _ in 0..20 {
        app.update(Msg::Tick);
    }
    assert_eq!(app.inspector.t, 0);
    assert!(!app.inspector.playing);
    // A typed t goes to the frame nearest to it.
    app.update(ch('g'));
    for c in "500".chars() {
        app.update(ch(c));
    }
    app.update(key(KeyCode::Enter));
    let near = rev
        .iter()
        .map(|f| f.t)
        .min_by_key(|t| t.abs_diff(500))
        .unwrap();
    assert_eq!(app.inspector.t, near);
    app.update(key(KeyCode::End));
    app.update(key(KeyCode::Left));
    let screen = draw(&app, 160, 48);
    assert!(screen.contains("step 2 of 10"), "{screen}");
    assert!(screen.contains("σ_t"), "{screen}");
    assert!(screen.contains("ddpm · 10 steps"), "{screen}");
}

#[test]
fn x_compares_two_samplers_from_the_same_x_t() {
    let (mut app, _) = reverse_app(10);
    let before = app.run.samples.as_ref().unwrap().id;
    app.sampler.kind = SamplerKind::Ddim;
    app.sampler.versus = SamplerKind::Dpmpp2m;
    app.sampler.steps = 20;
    app.sampler.karras = true;
    let fx = app.update(ch('x'));
    let reqs = sample_requests(&fx);
    assert_eq!(reqs.len(), 2);
    let (a, b) = (reqs[0], reqs[1]);
    assert_eq!(a.seed, b.seed, "the same seed gives the same x_T");
    assert_eq!((a.n, a.ema, a.frames), (b.n, b.ema, b.frames));
    assert_eq!(a.options.sampler, SamplerKind::Ddim);
    assert_eq!(b.options.sampler, SamplerKind::Dpmpp2m);
    assert_eq!((a.options.steps, b.options.steps), (20, 20));
    assert!(!a.options.karras, "ddim has no Karras σ");
    assert!(b.options.karras);
    assert!(a.options.check(1000).is_ok() && b.options.check(1000).is_ok());
    let ids = [a.id, b.id];
    let pair = app.inspector.pair.as_ref().unwrap();
    assert_eq!(pair.labels[1], "dpmpp-2m · 20 steps · karras");
    assert!(draw(&app, 160, 48).contains("from the same x_T"));

    // The answers go to the comparison, not to the samples pane.
    let data = app.run.data.clone().unwrap();
    let sa = demo::samples(&data, ids[0], 700, 10);
    let sb = demo::samples(&data, ids[1], 700, 20);
    for s in [&sa, &sb] {
        let fx = app.update(Msg::Worker(Event::Samples(s.clone())));
        assert!(matches!(&fx[..], [Effect::PrepareReverse(p)] if p.id == s.id));
    }
    assert_eq!(app.run.samples.as_ref().unwrap().id, before);
    for s in [&sa, &sb] {
        app.update(Msg::ReverseReady {
            id: s.id,
            frames: Arc::new(inspect::reverse_frames(s)),
        });
    }
    assert!(app
        .notice
        .as_ref()
        .unwrap()
        .text
        .contains("fraction of the run"));
    let pair = app.inspector.pair.as_ref().unwrap();
    assert_eq!(pair.len(), 21);
    assert!(pair.by_fraction());
    let [l, r] = pair.at().unwrap();
    assert_eq!((l.trace.unwrap().step, r.trace.unwrap().step), (1, 1));
    for _ in 0..10 {
        app.update(key(KeyCode::Left));
    }
    let pair = app.inspector.pair.as_ref().unwrap();
    assert_eq!(pair.k, 10);
    let [l, r] = pair.at().unwrap();
    assert_eq!((l.trace.unwrap().step, r.trace.unwrap().step), (6, 11));
    let screen = draw(&app, 160, 48);
    assert!(
        screen.contains("step 6 of 10") && screen.contains("step 11 of 20"),
        "{screen}"
    );
    assert!(
        screen.contains("aligned by fraction of the run"),
        "{screen}"
    );
    // A typed t goes to the longer run's frame nearest to it.
    app.update(ch('g'));
    app.update(ch('0'));
    app.update(key(KeyCode::Enter));
    let [l, r] = app.inspector.pair.as_ref().unwrap().at().unwrap();
    assert!(l.trace.unwrap().done && r.trace.unwrap().done);
    app.update(key(KeyCode::Esc));
    assert!(app.inspector.pair.is_none());

    // The same sampler twice compares nothing.
    app.sampler.versus = SamplerKind::Ddim;
    assert!(sample_requests(&app.update(ch('x'))).is_empty());
    assert!(app.inspector.pair.is_none());
    // A failed side closes the comparison with an error.
    app.sampler.versus = SamplerKind::Heun;
    let fx = app.update(ch('x'));
    let id = sample_requests(&fx)[1].id;
    app.update(Msg::Worker(Event::Failed {
        what: diffscope::worker::protocol::Failure::Sampling { id },
        message: "out of memory".into(),
    }));
    assert!(app.inspector.pair.is_none());
    let n = app.notice.as_ref().unwrap();
    assert!(
        n.error
            && n.text
                .contains("comparison failed (heun · 20 steps = 39 network evaluations · karras)"),
        "{}",
        n.text
    );
}

#[test]
fn the_sampler_menu_chooses_the_sampler_to_compare_with() {
    let mut app = training_app();
    let first = app.sampler.versus;
    app.update(ch('m'));
    for _ in 0..8 {
        app.update(key(KeyCode::Down));
    }
    assert_eq!(app.overlay, Overlay::Menu { field: 8 });
    app.update(key(KeyCode::Right));
    assert_ne!(app.sampler.versus, first);
    app.update(key(KeyCode::Left));
    assert_eq!(app.sampler.versus, first);
}
