//! `diffscope eval` as a user meets it: the bound and its split printed as finite figures,
//! the per-timestep CSV, the sample-quality ratios, and a one-line error with a non-zero
//! exit for each kind of bad input (including a model that produces NaN).

use crate::common::{assert_one_line_error, diffscope, stderr, stdout, train_tiny};
use std::path::Path;
use std::process::Command;

/// The first number after `label` on the line that starts with it (after indentation).
fn figure(text: &str, label: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{text}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .find_map(|w| w.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

/// The number after `key` on the line that starts with `label`.
fn after(text: &str, label: &str, key: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{text}"));
    let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

fn read_terms(path: &Path) -> Vec<(usize, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("t,term_bits_per_dim"));
    lines
        .map(|l| {
            let (t, v) = l.split_once(',').unwrap();
            (t.parse().unwrap(), v.parse().unwrap())
        })
        .collect()
}

/// A float32 .npy file as `diffscope` writes it: its shape and values.
fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    let dims = &header[header.find("'shape': (").unwrap() + 10..];
    let shape = dims[..dims.find(')').unwrap()]
        .split(',')
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim().parse().unwrap())
        .collect();
    let values = bytes[10 + len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, values)
}

#[test]
fn eval_prints_the_bound_its_split_the_terms_and_sample_quality() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_tiny(dir.path());
    let run_s = run.to_str().unwrap();

    // the estimate, with sample quality
    let csv = dir.path().join("out/terms.csv");
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        run_s,
        "--estimate",
        "5",
        "--n",
        "300",
        "--samples",
        "300",
        "--terms",
        csv.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    let out = stdout(&o);
    println!("{out}");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("Monte-Carlo estimate") && out.contains("nats/dim"));
    let bound = figure(&out, "bound");
    let prior = figure(&out, "L_T (prior)");
    let middle = figure(&out, "sum of L_1..L_{T-1}");
    let decoder = figure(&out, "L_0 (decoder)");
    for v in [bound, prior, middle, decoder] {
        assert!(v.is_finite(), "{out}");
    }
    assert!(
        (prior + middle + decoder - bound).abs() < 2e-3,
        "split adds up"
    );
    assert!(prior >= 0.0 && middle >= 0.0, "KL terms are never negative");
    let sw_ratio = after(&out, "sliced W1", "ratio");
    // the MMD with its standard error, or an upper bound when 300 samples cannot tell it
    // from zero; never a bare 0
    let mmd_ratio = if out.contains("below resolution") {
        after(&out, "MMD", "ratio <")
    } else {
        assert!(after(&out, "MMD", "±") > 0.0, "{out}");
        after(&out, "MMD", "ratio")
    };
    println!("tiny: SW1 ratio {sw_ratio}, MMD ratio {mmd_ratio}");
    assert!(sw_ratio.is_finite() && sw_ratio > 0.0);
    assert!(mmd_ratio.is_finite() && mmd_ratio > 0.0);
    assert!(out.contains("n = 300 held-out items, seed 0"), "{out}");
    let far = out
        .lines()
        .find(|l| l.trim_start().starts_with("far out"))
        .unwrap_or_else(|| panic!("no far-out line in {out}"));
    assert!(far.contains("of 300 samples"), "{far}");
    let terms = read_terms(&csv);
    assert!(!terms.is_empty() && terms[0].0 == 0, "L_0 is always there");
    assert!(terms.iter().all(|(t, v)| *t < 50 && v.is_finite()));

    // the exact bound: one row per timestep (T = 50 in the tiny preset)
    let csv2 = dir.path().join("exact.csv");
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        run_s,
        "--n",
        "200",
        "--samples",
        "0",
        "--terms",
        csv2.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    let out = stdout(&o);
    println!("{out}");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("exact: all 50 timesteps"));
    assert!(!out.contains("sliced W1"), "--samples 0 skips quality");
    let terms = read_terms(&csv2);
    assert_eq!(
        terms.iter().map(|r| r.0).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
    let kl_sum: f64 = terms[1..].iter().map(|r| r.1).sum();
    let middle = figure(&out, "sum of L_1..L_{T-1}");
    assert!((kl_sum - middle).abs() < 2e-3, "{kl_sum} vs {middle}");
}

#[test]
fn eval_rejects_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let o = diffscope(&["eval", "--checkpoint", missing.to_str().unwrap()]);
    assert_one_line_error(&o, "nothing-here");

    let run = train_tiny(dir.path());
    let run_s = run.to_str().unwrap();
    let o = diffscope(&["eval", "--checkpoint", run_s, "--estimate", "0"]);
    assert_one_line_error(&o, "--estimate 0");
    let o = diffscope(&["eval", "--checkpoint", run_s, "--n", "-5"]);
    assert_one_line_error(&o, "--n -5");
    let o = diffscope(&["eval", "--checkpoint", run_s, "--batch", "0"]);
    assert_one_line_error(&o, "--batch 0");
    let o = diffscope(&["eval", "--checkpoint", run_s, "--samples", "-1"]);
    assert_one_line_error(&o, "--samples -1");
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        run_s,
        "--terms",
        dir.path().to_str().unwrap(),
    ]);
    assert_one_line_error(&o, "is a folder");
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        run_s,
        "--held-out-npy",
        dir.path().join("x0.csv").to_str().unwrap(),
    ]);
    assert_one_line_error(&o, "--held-out-npy");

    // a model whose weights hold NaN: reported with the first timestep evaluated, t = T−1
    let step = run.join("step-00000040");
    let ema = step.join("ema.safetensors");
    let tensors = tch::Tensor::read_safetensors(&ema).unwrap();
    let poisoned: Vec<(String, tch::Tensor)> = tensors
        .into_iter()
        .map(|(k, t)| (k, t.full_like(f64::NAN)))
        .collect();
    tch::Tensor::write_safetensors(&poisoned, &ema).unwrap();
    // changed on disk behind the checkpoint's back: its checksum says so
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        step.to_str().unwrap(),
        "--samples",
        "0",
    ]);
    assert_one_line_error(&o, "ema.safetensors: checksum mismatch");
    // a model that really computes NaN (saved with its checksums)
    let mut ck = diffscope::train::checkpoint::read(&step).unwrap();
    ck.meta.checksums = Some(diffscope::train::integrity::checksums(&step).unwrap());
    let text = ron::ser::to_string_pretty(&ck.meta, Default::default()).unwrap();
    std::fs::write(step.join("meta.ron"), text).unwrap();
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        step.to_str().unwrap(),
        "--samples",
        "0",
        "--device",
        "cpu",
    ]);
    assert_one_line_error(&o, "NaN at t=49");
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        step.to_str().unwrap(),
        "--estimate",
        "3",
        "--samples",
        "0",
        "--device",
        "cpu",
    ]);
    assert_one_line_error(&o, "NaN at t=0");
}

#[test]
fn eval_reports_bits_per_dim_for_images_and_names_missing_data() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("unet");
    let o = diffscope(&[
        "train",
        "--preset",
        "tests/valid_presets/tiny-unet.ron",
        "--out",
        run.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = dir.path().join("terms.csv");
    let held_npy = dir.path().join("held/x0.npy");
    // labelled images also get the classifier's figures; its cache goes to the temp folder
    let o = Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .env("DIFFSCOPE_CACHE", dir.path().join("cache"))
        .args([
            "eval",
            "--checkpoint",
            run.to_str().unwrap(),
            "--n",
            "32",
            "--samples",
            "40",
            "--terms",
            csv.to_str().unwrap(),
            "--held-out-npy",
            held_npy.to_str().unwrap(),
            "--device",
            "cpu",
        ])
        .output()
        .unwrap();
    let out = stdout(&o);
    println!("{out}");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("bits/dim") && !out.contains("nats/dim"),
        "{out}"
    );
    let bound = figure(&out, "bound");
    let parts = [
        figure(&out, "L_T (prior)"),
        figure(&out, "sum of L_1..L_{T-1}"),
        figure(&out, "L_0 (decoder)"),
    ];
    // for 8-bit data every term is a KL or −ln of a probability: never negative
    assert!(bound.is_finite() && parts.iter().all(|p| p.is_finite() && *p >= 0.0));
    assert!((parts.iter().sum::<f64>() - bound).abs() < 2e-3);
    let terms = read_terms(&csv);
    assert_eq!(terms.len(), 20, "one row per timestep (T = 20)");
    assert!(
        out.contains("Fréchet distance in classifier features"),
        "{out}"
    );
    assert!(out.contains("class histogram of samples"), "{out}");
    // the held-out items the bound was computed on: the data set's held-out split (seed 0)
    let (shape, values) = read_npy(&held_npy);
    assert_eq!(shape, vec![32, 1, 8, 8]);
    let ck = diffscope::train::checkpoint::read(&run).unwrap();
    let held = ck
        .meta
        .preset
        .data
        .source()
        .load(0, diffscope::data::Split::Held(32))
        .unwrap();
    assert_eq!(values, held.values);

    // the same checkpoint pointed at a data set that is not there
    let step = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("meta.ron").is_file())
        .unwrap();
    let meta_path = step.join("meta.ron");
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    let start = meta.find("data: Glyphs(").unwrap();
    let end = start + meta[start..].find("),").unwrap() + 2;
    let missing = dir.path().join("no-mnist-here");
    let edited = format!(
        "{}data: Mnist((path: {:?})),{}",
        &meta[..start],
        missing.to_str().unwrap(),
        &meta[end..]
    );
    std::fs::write(&meta_path, edited).unwrap();
    let o = diffscope(&["eval", "--checkpoint", step.to_str().unwrap()]);
    assert_one_line_error(&o, "no-mnist-here");
    assert!(stderr(&o).contains("not available"));
}

/// A small real-format MNIST set whose test split holds 7 items, fewer than the 2,000 the
/// classifier's accuracy is measured on: the figure says how many it rests on, and nothing
/// is read silently short.
#[test]
fn a_test_split_smaller_than_the_classifier_asks_for_is_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let idx = |dims: &[u32], data: &[u8]| {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for x in dims {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    };
    // a digit-like stripe pattern per class
    let images = |n: usize| {
        let mut px = Vec::with_capacity(n * 784);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let l = i % 10;
            labels.push(l as u8);
            for k in 0..784 {
                let (r, c) = (k / 28, k % 28);
                px.push(if (r / 3 + c / 3 + l) % 10 == 0 {
                    255
                } else {
                    0
                });
            }
        }
        (px, labels)
    };
    let data = d.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    for (stem, n) in [("train", 300usize), ("t10k", 7)] {
        let (px, labels) = images(n);
        std::fs::write(
            data.join(format!("{stem}-images-idx3-ubyte")),
            idx(&[n as u32, 28, 28], &px),
        )
        .unwrap();
        std::fs::write(
            data.join(format!("{stem}-labels-idx1-ubyte")),
            idx(&[n as u32], &labels),
        )
        .unwrap();
    }
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_diffscope"))
            .args(args)
            .env("XDG_CACHE_HOME", d.join("cache"))
            .env("XDG_DATA_HOME", d)
            .output()
            .unwrap()
    };
    let data_s = data.to_str().unwrap();
    let ck = d.join("run");
    let o = run(&[
        "train",
        "--preset",
        "mnist",
        "--data",
        data_s,
        "--steps",
        "2",
        "--out",
        ck.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        "eval",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--data",
        data_s,
        "--n",
        "4",
        "--samples",
        "8",
    ]);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    println!("{out}");
    assert!(o.status.success(), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("classifier accuracy on"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("on 7 held-out items") && line.contains("only 7 of the 2000"),
        "{line}"
    );
}

/// A copy of a shipped checkpoint's run folder in `dir` (so that default outputs land there).
fn shipped_run(name: &str, dir: &Path) -> std::path::PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checkpoints")
        .join(name);
    let to = dir.join(name);
    for step in std::fs::read_dir(&from).unwrap() {
        let step = step.unwrap().path();
        let dest = to.join(step.file_name().unwrap());
        std::fs::create_dir_all(&dest).unwrap();
        for f in std::fs::read_dir(&step).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dest.join(f.file_name().unwrap())).unwrap();
        }
    }
    to
}

#[test]
fn eval_sweep_prints_the_table_and_writes_its_csv_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let run = shipped_run("swissroll", dir.path());
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--sweep",
        "ddim:10,5",
        "heun:3",
        "--samples",
        "500",
    ]);
    let out = stdout(&o);
    println!("{out}\n{}", stderr(&o));
    assert!(o.status.success());
    assert!(out.contains("sweep: 3 points, 500 samples each from seed 0; T = 1000"));
    let header = out
        .lines()
        .position(|l| l.starts_with("sampler "))
        .expect("a table");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(header + 1)
        .take(3)
        .map(|l| l.split_whitespace().collect())
        .collect();
    // sampler, steps, NFE (Heun: 2S − 1), then finite seconds and figures
    assert_eq!(
        rows.iter().map(|r| (r[0], r[1], r[2])).collect::<Vec<_>>(),
        [("ddim", "5", "5"), ("ddim", "10", "10"), ("heun", "3", "5")]
    );
    for r in &rows {
        assert!(
            r[3..5]
                .iter()
                .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)),
            "{r:?}"
        );
    }
    // the default files: in the run folder, named with the step
    let csv_path = run.join("sweep-step-00006000.csv");
    let png_path = run.join("sweep-step-00006000.png");
    assert!(out.contains(&format!("table written to {}", csv_path.display())));
    assert!(out.contains(&format!("chart written to {}", png_path.display())));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "sampler,steps,nfe,seconds,sliced_w1,mmd2,mmd2_se");
    assert_eq!(lines.len(), 4, "{csv}");
    for (line, (s, steps, nfe)) in
        lines[1..]
            .iter()
            .zip([("ddim", 5, 5), ("ddim", 10, 10), ("heun", 3, 5)])
    {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 7, "{line}");
        assert_eq!(
            (f[0], f[1].parse().unwrap(), f[2].parse().unwrap()),
            (s, steps, nfe)
        );
        let sw1: f64 = f[4].parse().unwrap();
        assert!(sw1.is_finite() && sw1 >= 0.0, "{line}");
    }
    // the same seed for every point: ddim at 10 steps is closer to the data than at 5
    let sw1 = |i: usize| lines[i].split(',').nth(4).unwrap().parse::<f64>().unwrap();
    assert!(sw1(2) < sw1(1), "{csv}");
    let png = image::open(&png_path).expect("the chart decodes").to_rgb8();
    assert_eq!((png.width(), png.height()), (800, 520));

    // paths given by flag
    let csv2 = dir.path().join("out/s.csv");
    let png2 = dir.path().join("out/s.png");
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--sweep",
        "dpmpp-2m:5",
        "--samples",
        "200",
        "--sweep-csv",
        csv2.to_str().unwrap(),
        "--sweep-png",
        png2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&csv2).unwrap().lines().count(), 2);
    image::open(&png2).expect("the chart decodes");
}

#[test]
fn eval_sweep_rejects_bad_specs_naming_the_flag() {
    let ck = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/swissroll");
    let ck = ck.to_str().unwrap();
    let cases = [
        ("fast:10", "--sweep fast:10: unknown sampler \"fast\""),
        (
            "ddim:5,0",
            "--sweep ddim:5,0: at least one reverse step is needed, got 0",
        ),
        (
            "ddim:5000",
            "--sweep ddim:5000: 5000 steps is more than the model's T = 1000",
        ),
        (
            "ddim+karras:10",
            "--sweep ddim+karras:10: ddim has no Karras σ spacing",
        ),
        (
            "dpmpp-2m+eta=0.5:10",
            "--sweep dpmpp-2m+eta=0.5:10: dpmpp-2m takes no η",
        ),
        ("ddim", "--sweep ddim: expected SAMPLER:N,N,…"),
        (
            "ddim:5,x",
            "--sweep ddim:5,x: step count \"x\" is not a whole number",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    let png = dir.path().join("s.png");
    for (spec, needle) in cases {
        let o = diffscope(&[
            "eval",
            "--checkpoint",
            ck,
            "--sweep",
            "dpmpp-2m:5",
            spec,
            "--sweep-csv",
            csv.to_str().unwrap(),
            "--sweep-png",
            png.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{spec}");
        assert_one_line_error(&o, needle);
        assert!(!csv.exists() && !png.exists(), "{spec}: nothing written");
    }
}
