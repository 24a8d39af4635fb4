//! A synthetic, deterministic workbench state: a swissroll run part-way through training,
//! with a loss history, samples and a reverse trajectory. Used by the workbench's tests
//! (its state, its snapshots) and its benchmarks (frame time, play speed), so that all see
//! a screen like a real one without a worker. Test fixtures: not part of the program.

use diffscope::config::preset::BUILTIN;
use diffscope::config::Preset;
use diffscope::diffusion::{state_of, Guidance};
use diffscope::rng::Rng;
use diffscope::tui::app::{App, Msg};
use diffscope::tui::graphics::Setup;
use diffscope::tui::inspect::{self, DataView};
use diffscope::tui::theme::Theme;
use diffscope::worker::protocol::{Event, FrameTrace, RunInfo, Samples};
use std::path::PathBuf;
use std::sync::Arc;

/// The built-in preset `name`, as built in.
pub fn builtin(name: &str) -> Preset {
    let text = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("{name} is built in"));
    Preset::parse(text, &PathBuf::from(format!("<builtin>/{name}.ron"))).expect("valid preset")
}

/// The swissroll preset, as built in.
pub fn preset() -> Preset {
    builtin("swissroll")
}

/// Fake samples: data points pulled towards the origin, with a trajectory of `frames`
/// frames (x_t interpolating from noise to the samples).
pub fn samples(data: &DataView, id: u64, step: u64, frames: usize) -> Samples {
    let n = data.n;
    let x0: Vec<f32> = data.forward[0].xt.iter().map(|v| v * 0.9).collect();
    let mut r = Rng::new(7);
    let noise: Vec<f32> = (0..x0.len()).map(|_| r.normal() as f32).collect();
    let tt = data.forward.len() - 1;
    let ts: Vec<usize> = (0..frames)
        .map(|k| tt - 1 - k * (tt - 1) / frames.max(2).saturating_sub(1).max(1))
        .collect();
    let mix = |t: usize| -> Vec<f32> {
        let a = 1.0 - state_of(t) as f32 / tt as f32;
        x0.iter()
            .zip(&noise)
            .map(|(x, e)| a * x + (1.0 - a * a).max(0.0).sqrt() * e)
            .collect()
    };
    Samples {
        id,
        step,
        ema: true,
        shape: vec![n as i64, 2],
        values: x0.clone(),
        frame_timesteps: ts.clone(),
        frames_xt: ts.iter().map(|&t| mix(t)).collect(),
        frames_x0: ts.iter().map(|_| x0.clone()).collect(),
        trace: Box::new(FrameTrace {
            options: demo_options(ts.len()),
            steps: (0..ts.len()).collect(),
            of: ts.len(),
            sigmas: ts.iter().map(|&t| demo_sigma(t, tt)).collect(),
            variances: Vec::new(),
            x0_guided: Vec::new(),
        }),
    }
}

/// A swissroll run at step 2400 of 6000, paused on nothing, inspector at t = 250.
pub fn app() -> App {
    let mut app = App::new(vec![Theme::default()], 0, Setup::halfblocks("chosen"));
    let p = preset();
    app.update(Msg::RunStarted {
        preset: Box::new(p.clone()),
        train: true,
        run_dir: PathBuf::from("checkpoints/swissroll-demo"),
        source: "swissroll".into(),
        loss: None,
        remote: false,
    });
    let data = Arc::new(inspect::prepare_data(&p).expect("swissroll data"));
    app.update(Msg::DataReady(data.clone()));
    app.update(Msg::Worker(Event::Ready(RunInfo {
        preset: "swissroll".into(),
        device: "cpu".into(),
        parameters: 117_506,
        step: 0,
        saved_step: 0,
        total_steps: 6000,
        item_shape: vec![2],
        run_dir: PathBuf::from("checkpoints/swissroll-demo"),
        phase: Default::default(),
        precision: "fp32".into(),
    })));
    let mut r = Rng::new(3);
    for k in 1..=48u64 {
        let step = k * 50;
        let base = 0.25 + 0.6 * (-(step as f64) / 500.0).exp();
        let loss = base * (1.0 + 0.15 * (r.uniform() - 0.5));
        let q = [
            Some(loss * 1.9),
            Some(loss * 1.1),
            Some(loss * 0.6),
            Some(loss * 0.3),
        ];
        app.update(Msg::Worker(Event::Progress {
            step,
            loss,
            quarter_losses: q,
            lr: 2e-3,
            grad_norm: 0.5,
            steps_per_sec: 120.0,
        }));
    }
    // Whatever sampling the refresh asked for is answered by the demo samples.
    let s = samples(&data, app.run.sampling.map_or(99, |s| s.id), 2000, 20);
    let frames = Arc::new(inspect::reverse_frames(&s));
    let id = s.id;
    app.update(Msg::Worker(Event::Samples(s)));
    app.update(Msg::ReverseReady { id, frames });
    app.run.sampling = None;
    // A still picture: however long it takes to draw, no wait for progress shows.
    app.run.last_report = None;
    app.inspector.t = 250;
    app.notice = None;
    app.dirty = true;
    app
}

/// A glyphs16 checkpoint open for inspection, with the given image set-up: 16 forward
/// images and a reverse trajectory of 64 images over `frames` frames (the data, noised).
/// Used by the image tests and the play-speed benchmark.
pub fn image_app(graphics: Setup, frames: usize) -> App {
    let p = builtin("glyphs16");
    let mut app = App::new(vec![Theme::default()], 0, graphics);
    app.update(Msg::RunStarted {
        preset: Box::new(p.clone()),
        train: false,
        run_dir: PathBuf::from("checkpoints/glyphs16"),
        source: "checkpoints/glyphs16".into(),
        loss: Some(0.08),
        remote: false,
    });
    let data = Arc::new(inspect::prepare_data(&p).expect("glyphs16 data"));
    app.update(Msg::DataReady(data.clone()));
    let x0 = &data.forward[0].xt;
    let n = 64;
    let values: Vec<f32> = (0..n)
        .flat_map(|k| {
            let item = x0.len() / data.n;
            let j = k % data.n;
            x0[j * item..(j + 1) * item].to_vec()
        })
        .collect();
    let tt = data.forward.len() - 1;
    let ts: Vec<usize> = (0..frames)
        .map(|k| tt - 1 - k * (tt - 1) / frames.max(2).saturating_sub(1))
        .collect();
    let mut r = Rng::new(11);
    let noise: Vec<f32> = (0..values.len()).map(|_| r.normal() as f32).collect();
    let mix = |t: usize| -> Vec<f32> {
        let a = 1.0 - state_of(t) as f32 / tt as f32;
        values
            .iter()
            .zip(&noise)
            .map(|(x, e)| a * x + (1.0 - a * a).max(0.0).sqrt() * e)
            .collect()
    };
    let s = Samples {
        id: 1,
        step: 2000,
        ema: true,
        shape: vec![n as i64, 1, 16, 16],
        values: values.clone(),
        frame_timesteps: ts.clone(),
        frames_xt: ts.iter().map(|&t| mix(t)).collect(),
        frames_x0: ts.iter().map(|_| values.clone()).collect(),
        trace: Box::new(FrameTrace {
            options: demo_options(ts.len()),
            steps: (0..ts.len()).collect(),
            of: ts.len(),
            sigmas: ts.iter().map(|&t| demo_sigma(t, tt)).collect(),
            variances: Vec::new(),
            x0_guided: Vec::new(),
        }),
    };
    let frames = Arc::new(inspect::reverse_frames(&s));
    app.update(Msg::Worker(Event::Samples(s)));
    app.update(Msg::ReverseReady { id: 1, frames });
    app.run.sampling = None;
    app.inspector.t = 0;
    app.dirty = true;
    app
}

/// A glyphs16-cond run (class-conditional, 10 classes) training at step 1000 of 2000,
/// whose samples were drawn with `guidance`: 64 images over `frames` reverse frames,
/// each frame with the x̂_0 of the conditional half (the samples) and of the unconditional
/// one (the samples faded) when w is neither 0 nor 1. The inspector shows the reverse
/// process at its first frame.
pub fn cond_app(graphics: Setup, frames: usize, guidance: Guidance) -> App {
    let p = builtin("glyphs16-cond");
    let mut app = App::new(vec![Theme::default()], 0, graphics);
    app.update(Msg::RunStarted {
        preset: Box::new(p.clone()),
        train: true,
        run_dir: PathBuf::from("checkpoints/glyphs16-cond-demo"),
        source: "glyphs16-cond".into(),
        loss: None,
        remote: false,
    });
    let data = Arc::new(inspect::prepare_data(&p).expect("glyphs16-cond data"));
    app.update(Msg::DataReady(data.clone()));
    app.update(Msg::Worker(Event::Ready(RunInfo {
        preset: "glyphs16-cond".into(),
        device: "cpu".into(),
        parameters: 420_000,
        step: 1000,
        saved_step: 1000,
        total_steps: 2000,
        item_shape: vec![1, 16, 16],
        run_dir: PathBuf::from("checkpoints/glyphs16-cond-demo"),
        phase: Default::default(),
        precision: "fp32".into(),
    })));
    let x0 = &data.forward[0].xt;
    let n = 64;
    let item = x0.len() / data.n;
    let values: Vec<f32> = (0..n)
        .flat_map(|k| {
            let j = k % data.n;
            x0[j * item..(j + 1) * item].to_vec()
        })
        .collect();
    let tt = data.forward.len() - 1;
    let ts: Vec<usize> = (0..frames)
        .map(|k| tt - 1 - k * (tt - 1) / frames.max(2).saturating_sub(1))
        .collect();
    let mut r = Rng::new(13);
    let noise: Vec<f32> = (0..values.len()).map(|_| r.normal() as f32).collect();
    let mix = |t: usize| -> Vec<f32> {
        let a = 1.0 - state_of(t) as f32 / tt as f32;
        values
            .iter()
            .zip(&noise)
            .map(|(x, e)| a * x + (1.0 - a * a).max(0.0).sqrt() * e)
            .collect()
    };
    let faded: Vec<f32> = values.iter().map(|v| 0.3 * v - 0.5).collect();
    let halves = guidance.doubles_batch();
    let mut options = demo_options(ts.len());
    options.sampler = diffscope::diffusion::SamplerKind::Ddim;
    options.guidance = Some(guidance);
    let s = Samples {
        id: app.run.sampling.map_or(1, |s| s.id),
        step: 1000,
        ema: true,
        shape: vec![n as i64, 1, 16, 16],
        values: values.clone(),
        frame_timesteps: ts.clone(),
        frames_xt: ts.iter().map(|&t| mix(t)).collect(),
        frames_x0: ts.iter().map(|_| values.clone()).collect(),
        trace: Box::new(FrameTrace {
            options,
            steps: (0..ts.len()).collect(),
            of: ts.len(),
            sigmas: ts.iter().map(|&t| demo_sigma(t, tt)).collect(),
            variances: Vec::new(),
            x0_guided: ts
                .iter()
                .map(|_| halves.then(|| [values.clone(), faded.clone()]))
                .collect(),
        }),
    };
    let frames = Arc::new(inspect::reverse_frames(&s));
    let id = s.id;
    app.update(Msg::Worker(Event::Samples(s)));
    app.update(Msg::ReverseReady { id, frames });
    app.run.sampling = None;
    app.run.last_report = None;
    app.inspector.mode = diffscope::tui::app::Mode::Reverse;
    app.inspector.t = tt;
    app.notice = None;
    app.dirty = true;
    app
}

/// A made-up σ_t for the fake trajectories: growing with t like a real schedule's.
pub fn demo_sigma(t: usize, tt: usize) -> f64 {
    let a = 1.0 - (t + 1) as f64 / (tt + 1) as f64;
    ((1.0 - a * a).max(0.0) / (a * a).max(1e-4)).sqrt()
}

/// The options the fake trajectories say they were drawn with.
pub fn demo_options(steps: usize) -> diffscope::diffusion::SampleOptions {
    diffscope::diffusion::SampleOptions {
        steps,
        ..Default::default()
    }
}
