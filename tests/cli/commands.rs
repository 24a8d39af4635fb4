//! The headless command line as a user meets it: the forms scripts rely on (the READMEs'
//! too, in readme.rs), and a one-line error with a non-zero exit (never a panic, never a lost
//! file) for each kind of bad input.

use crate::common::{assert_one_line_error, diffscope, stderr, train_tiny};
use std::path::Path;

#[test]
fn schedule_csv_has_the_documented_header_and_rows() {
    let o = diffscope(&["schedule", "--kind", "cosine", "--steps", "1000"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("t,beta,alpha,alpha_bar,posterior_variance,snr")
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 1000);
    assert_eq!(rows[0][0], 0.0);
    assert!((rows[500][1] - 0.0031557).abs() < 1e-5, "cosine β_500");
    assert!((rows[999][1] - 0.999).abs() < 1e-9);
    let t = diffscope(&[
        "schedule", "--kind", "linear", "--steps", "10", "--format", "table",
    ]);
    assert!(t.status.success());
    assert_eq!(String::from_utf8(t.stdout).unwrap().lines().count(), 11);
}

#[test]
fn schedule_with_zero_steps_is_rejected() {
    let o = diffscope(&["schedule", "--steps", "0"]);
    assert_one_line_error(&o, "at least 1");
}

#[test]
fn train_then_sample_png_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_tiny(dir.path());
    let step = run.join("step-00000040");
    for f in [
        "model.safetensors",
        "ema.safetensors",
        "optim.safetensors",
        "meta.ron",
    ] {
        assert!(step.join(f).is_file(), "{f} missing");
    }
    let meta = std::fs::read_to_string(step.join("meta.ron")).unwrap();
    assert!(
        meta.contains("step: 40") && meta.contains("seed: 0"),
        "{meta}"
    );
    assert!(meta.contains("command: \"diffscope train --preset tests/valid_presets/tiny.ron"));
    let csv = dir.path().join("s.csv");
    let o = diffscope(&[
        "sample",
        "--checkpoint",
        run.to_str().unwrap(),
        "--sampler",
        "ddim",
        "--steps",
        "10",
        "--n",
        "25",
        "--raw",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // more reverse steps than T = 50 cannot be visited
    assert_one_line_error(
        &diffscope(&[
            "sample",
            "--checkpoint",
            run.to_str().unwrap(),
            "--steps",
            "51",
            "--out",
            dir.path().join("never.csv").to_str().unwrap(),
        ]),
        "--steps 51: 51 steps is more than the model's T = 50",
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("x,y"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 25);
    assert!(rows
        .iter()
        .all(|r| r.split(',').all(|c| c.parse::<f32>().unwrap().is_finite())));
    let png = dir.path().join("plots/s.png");
    let o = diffscope(&[
        "sample",
        "--checkpoint",
        step.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
        "--n",
        "50",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (640, 640));
}

#[test]
fn bad_presets_fail_with_one_line() {
    assert_one_line_error(
        &diffscope(&["train", "--preset", "nope", "--out", "/tmp/diffscope-never"]),
        "presets/nope.ron",
    );
    for (file, needle) in [
        ("unknown_field.ron", "unknown_field.ron:7:9"),
        ("syntax_error.ron", "syntax_error.ron:4:"),
        ("zero_timesteps.ron", "timesteps"),
        ("negative_lr.ron", "train.lr"),
    ] {
        let path = format!("tests/invalid_presets/{file}");
        assert_one_line_error(
            &diffscope(&["train", "--preset", &path, "--out", "/tmp/diffscope-never"]),
            needle,
        );
    }
    assert!(!Path::new("/tmp/diffscope-never").exists());
}

#[test]
fn broken_checkpoints_fail_and_leave_the_output_alone() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_tiny(dir.path());
    let good = run.join("step-00000040");
    let out = dir.path().join("keep.csv");
    std::fs::write(&out, "precious\n").unwrap();
    let sample = |ck: &Path| {
        diffscope(&[
            "sample",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--n",
            "4",
        ])
    };

    // truncated weights
    let trunc = dir.path().join("trunc");
    copy_dir(&good, &trunc);
    let bytes = std::fs::read(trunc.join("model.safetensors")).unwrap();
    std::fs::write(trunc.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    assert_one_line_error(&sample(&trunc), "model.safetensors");

    // metadata for another architecture
    let other = dir.path().join("other");
    copy_dir(&good, &other);
    let meta = std::fs::read_to_string(other.join("meta.ron")).unwrap();
    std::fs::write(
        other.join("meta.ron"),
        meta.replace("hidden: 32", "hidden: 48"),
    )
    .unwrap();
    let e = assert_one_line_error(&sample(&other), "another architecture");
    assert!(
        e.contains("[48") || e.contains("48]"),
        "names the shapes: {e}"
    );

    // a preset whose variance needs other output channels than the network has
    let learned = dir.path().join("learned");
    copy_dir(&good, &learned);
    let meta = std::fs::read_to_string(learned.join("meta.ron")).unwrap();
    assert!(meta.contains("variance: FixedSmall") && meta.contains("loss: Simple"));
    std::fs::write(
        learned.join("meta.ron"),
        meta.replace("variance: FixedSmall", "variance: Learned")
            .replace("loss: Simple", "loss: Hybrid(0.001)"),
    )
    .unwrap();
    let e = assert_one_line_error(&sample(&learned), "model.safetensors");
    assert!(
        e.contains("outputs 2 channels") && e.contains("(Learned) needs 4"),
        "names both counts: {e}"
    );

    // garbage metadata
    let garbled = dir.path().join("garbled");
    copy_dir(&good, &garbled);
    std::fs::write(garbled.join("meta.ron"), "(format: 1, preset: ").unwrap();
    assert_one_line_error(&sample(&garbled), "meta.ron:");

    // no checkpoint at all
    assert_one_line_error(&sample(&dir.path().join("missing")), "no such checkpoint");

    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
}

#[test]
fn unwritable_outputs_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("sub");
    assert_one_line_error(
        &diffscope(&[
            "train",
            "--preset",
            "tests/valid_presets/tiny.ron",
            "--out",
            bad.to_str().unwrap(),
        ]),
        "a-file/sub",
    );
    // an existing run folder is not overwritten
    let run = train_tiny(dir.path());
    let before = std::fs::read(run.join("step-00000040/model.safetensors")).unwrap();
    assert_one_line_error(
        &diffscope(&[
            "train",
            "--preset",
            "tests/valid_presets/tiny.ron",
            "--seed",
            "9",
            "--out",
            run.to_str().unwrap(),
        ]),
        "already holds checkpoints",
    );
    let after = std::fs::read(run.join("step-00000040/model.safetensors")).unwrap();
    assert_eq!(before, after);
    // sample refuses an output under a file, and a bad extension
    let ck = run.to_str().unwrap();
    let under_file = bad.join("x.csv");
    assert_one_line_error(
        &diffscope(&[
            "sample",
            "--checkpoint",
            ck,
            "--out",
            under_file.to_str().unwrap(),
        ]),
        "a-file",
    );
    assert_one_line_error(
        &diffscope(&["sample", "--checkpoint", ck, "--out", "/tmp/x.txt"]),
        "x.txt",
    );
    assert_one_line_error(
        &diffscope(&[
            "sample",
            "--checkpoint",
            ck,
            "--n",
            "-3",
            "--out",
            "/tmp/x.csv",
        ]),
        "--n -3",
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_diverging_run_stops_with_the_step_and_saves_nothing_broken() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = diffscope(&[
        "train",
        "--preset",
        "tests/valid_presets/diverge.ron",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = assert_one_line_error(&o, "the loss became");
    assert!(err.contains("at step"), "{err}");
    assert!(!out.join("step-00002000").exists());
}

#[test]
fn image_models_sample_grids_and_trajectory_animations() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("unet");
    let o = diffscope(&[
        "train",
        "--preset",
        "tests/valid_presets/tiny-unet.ron",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let grid = dir.path().join("grid.png");
    let gif = dir.path().join("traj.gif");
    let o = diffscope(&[
        "sample",
        "--checkpoint",
        run.to_str().unwrap(),
        "--n",
        "9",
        "--scale",
        "3",
        "--out",
        grid.to_str().unwrap(),
        "--trajectory",
        gif.to_str().unwrap(),
        "--frames",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 3×3 cells of 8×3 = 24 pixels with 2-pixel gaps: 3·24 + 4·2 = 80
    let img = image::open(&grid).unwrap();
    assert_eq!((img.width(), img.height()), (80, 80));
    use image::AnimationDecoder;
    let file = std::fs::File::open(&gif).unwrap();
    let frames = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(file))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    // 4 frames of the reverse process and the final sample
    assert_eq!(frames.len(), 5);
    assert!(frames[0].buffer().width() > 2 * 80, "x_t beside x̂_0");
    // CSV output is refused for images
    assert_one_line_error(
        &diffscope(&[
            "sample",
            "--checkpoint",
            run.to_str().unwrap(),
            "--out",
            "/tmp/x.csv",
        ]),
        "CSV output is for 2-D points",
    );
}

#[test]
fn device_and_data_errors_name_the_flag_and_the_value_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let e = assert_one_line_error(
        &diffscope(&[
            "train",
            "--preset",
            "tests/valid_presets/tiny.ron",
            "--device",
            "cuda:99",
            "--out",
            out.to_str().unwrap(),
        ]),
        "--device cuda:99: no CUDA device 99",
    );
    assert_eq!(e.matches("cuda:99").count(), 1, "{e}");
    assert!(!out.exists());
    let csv = dir.path().join("x.csv");
    assert_one_line_error(
        &diffscope(&[
            "sample",
            "--checkpoint",
            "nowhere",
            "--out",
            csv.to_str().unwrap(),
            "--device",
            "tpu",
        ]),
        "--device tpu: expected auto, cpu, cuda or cuda:N",
    );
    let png = dir.path().join("x.png");
    let e = assert_one_line_error(
        &diffscope(&[
            "data",
            "--preset",
            "glyphs16",
            "--data",
            "/elsewhere/digits",
            "--out",
            png.to_str().unwrap(),
        ]),
        "--data /elsewhere/digits: this preset's glyphs data is generated",
    );
    assert_eq!(e.matches("/elsewhere/digits").count(), 1, "{e}");
}

#[test]
fn resume_steps_are_the_total_to_reach() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_tiny(dir.path());
    let r = run.to_str().unwrap();
    for (steps, needle) in [
        (
            Some("30"),
            "--steps 30: the checkpoint is already at step 40",
        ),
        (
            Some("40"),
            "--steps 40: the checkpoint is already at step 40, so there is nothing",
        ),
        (
            None,
            "the run is at step 40 of its 40 (train.steps), so there is nothing to train",
        ),
    ] {
        let mut args = vec!["train", "--resume", r];
        args.extend(steps.iter().flat_map(|s| ["--steps", *s]));
        let o = diffscope(&args);
        assert_eq!(o.status.code(), Some(1));
        assert_one_line_error(&o, needle);
    }
    // nothing was trained or saved by the refusals
    let steps: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("step-"))
        .collect();
    assert_eq!(steps.len(), 1);
    // more threads than cores: it trains, with a warning
    let cores = std::thread::available_parallelism().unwrap().get();
    let threads = (cores + 1).to_string();
    let o = diffscope(&[
        "train",
        "--resume",
        r,
        "--steps",
        "60",
        "--threads",
        &threads,
    ]);
    let err = stderr(&o);
    println!("{err}");
    assert!(o.status.success(), "{err}");
    assert!(err.contains("trained 20 steps (40 → 60)"), "{err}");
    assert!(
        err.contains(&format!(
            "warning: --threads: {threads} threads on {cores} cores oversubscribes"
        )),
        "{err}"
    );
    assert!(run.join("step-00000060").is_dir());
}

#[test]
fn ctrl_c_saves_says_how_to_resume_and_exits_130() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("long.ron");
    let text = std::fs::read_to_string("tests/valid_presets/tiny.ron").unwrap();
    std::fs::write(&preset, text.replace("steps: 40,", "steps: 100000000,")).unwrap();
    let run = dir.path().join("my run");
    let child = Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(["train", "--device", "cpu", "--preset"])
        .arg(&preset)
        .arg("--out")
        .arg(&run)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // training is under way once the run log has rows
    let start = std::time::Instant::now();
    while std::fs::read_to_string(run.join("metrics.csv")).map_or(true, |t| t.lines().count() < 3) {
        assert!(start.elapsed().as_secs() < 120, "training did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    println!("{err}");
    assert_eq!(o.status.code(), Some(130), "{err}");
    let last = err.trim_end().lines().last().unwrap();
    assert!(!err.contains("error"), "{err}");
    assert!(
        last.starts_with("diffscope: SIGINT: training stopped at step "),
        "{last}"
    );
    let resume = format!("to go on: diffscope train --resume '{}'", run.display());
    assert!(last.ends_with(&resume), "{last}");
    assert!(std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("step-")));
}

#[test]
fn unknown_themes_and_misplaced_workbench_options_say_what_there_is() {
    let o = diffscope(&["tui", "--theme", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert_one_line_error(
        &o,
        "--theme nosuch: no such theme (themes: dark, light, high-contrast, monochrome",
    );
    let o = diffscope(&["--preset", "moons"]);
    let err = stderr(&o);
    println!("{err}");
    assert!(!o.status.success());
    assert!(err.contains("unexpected argument '--preset'"), "{err}");
    assert!(
        err.contains("did you mean `diffscope tui --preset moons`?"),
        "{err}"
    );
    // --image-protocol belongs to what draws images
    let o = diffscope(&["runs", "--help"]);
    assert!(o.status.success());
    assert!(!crate::common::stdout(&o).contains("image-protocol"));
    let o = diffscope(&["tui", "--help"]);
    assert!(crate::common::stdout(&o).contains("--image-protocol"));
}

#[test]
fn data_writes_2d_points_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("points.csv");
    let export = dir.path().join("export");
    let o = diffscope(&[
        "data",
        "--preset",
        "tests/valid_presets/tiny.ron",
        "--n",
        "30",
        "--out",
        csv.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for file in [csv, export.join("points.csv")] {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("x,y"));
        let rows: Vec<Vec<f32>> = lines
            .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
            .collect();
        assert_eq!(rows.len(), 30);
        assert!(rows
            .iter()
            .all(|r| r.len() == 2 && r.iter().all(|v| v.is_finite())));
    }
    // images have no CSV form
    assert_one_line_error(
        &diffscope(&[
            "data",
            "--preset",
            "tests/valid_presets/tiny-unet.ron",
            "--out",
            dir.path().join("x.csv").to_str().unwrap(),
        ]),
        "CSV output is for 2-D points",
    );
}

/// Every sampler runs from the command line, and each sampling option that cannot be run
/// is a one-line error naming its flag, before any sampling.
#[test]
fn every_sampler_samples_and_bad_sampler_options_name_their_flag() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = "checkpoints/swissroll";
    for sampler in [
        "ddpm",
        "ddim",
        "dpmpp-2m",
        "dpmpp-3m",
        "dpmpp-2m-sde",
        "euler",
        "euler-a",
        "heun",
    ] {
        let out = dir.path().join(format!("{sampler}.npy"));
        let o = diffscope(&[
            "sample",
            "--checkpoint",
            ckpt,
            "--sampler",
            sampler,
            "--steps",
            "8",
            "--n",
            "5",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{sampler}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("({sampler}, 8 steps")),
            "{}",
            stderr(&o)
        );
        // a NumPy .npy file: magic, version 1.0, a header naming float32 and the shape,
        // then 5 × 2 little-endian floats
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'descr': '<f4'") && header.contains("'shape': (5, 2)"));
        assert_eq!((10 + header_len) % 64, 0, "{header:?}");
        assert_eq!(bytes.len(), 10 + header_len + 5 * 2 * 4);
        let values: Vec<f32> = bytes[10 + header_len..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
    }
    let heun = diffscope(&[
        "sample",
        "--checkpoint",
        ckpt,
        "--sampler",
        "heun",
        "--karras",
        "--spacing",
        "trailing",
        "--steps",
        "6",
        "--n",
        "3",
        "--out",
        dir.path().join("h.csv").to_str().unwrap(),
    ]);
    assert!(heun.status.success(), "{}", stderr(&heun));
    assert!(
        stderr(&heun).contains("(heun, 6 steps = 11 network evaluations, trailing, karras"),
        "{}",
        stderr(&heun)
    );
    let never = dir.path().join("never.csv");
    let bad: [(&[&str], &str); 8] = [
        (
            &["--sampler", "dpm"],
            "--sampler dpm: unknown sampler (expected one of ddpm, ddim, dpmpp-2m",
        ),
        (
            &["--steps", "0"],
            "--steps 0: at least one reverse step is needed",
        ),
        (
            &["--steps", "1001"],
            "--steps 1001: 1001 steps is more than the model's T = 1000",
        ),
        (
            &["--sampler", "ddim", "--karras"],
            "--karras: ddim has no Karras σ spacing",
        ),
        (
            &["--sampler", "euler-a", "--karras"],
            "--karras: euler-a has no Karras σ spacing",
        ),
        (
            &["--sampler", "dpmpp-2m", "--eta", "0.5"],
            "--eta 0.5: dpmpp-2m takes no η",
        ),
        (
            &["--sampler", "euler", "--eta", "1"],
            "--eta 1: euler takes no η",
        ),
        (
            &["--spacing", "even"],
            "--spacing even: unknown spacing (expected leading, linspace or trailing)",
        ),
    ];
    for (flags, needle) in bad {
        let mut args = vec![
            "sample",
            "--checkpoint",
            ckpt,
            "--out",
            never.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        assert_one_line_error(&diffscope(&args), needle);
        assert!(!never.exists());
    }
}
