//! Image data from the user's files: each kind of bad input gets a clear one-line error
//! naming the file, and good files load scaled to [−1, 1] with their labels.

use diffscope::data::{CifarConfig, FolderConfig, IdxConfig, Source, Split};
use std::io::Write;
use std::path::Path;
use std::process::Command;

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn load_err(src: &dyn Source) -> String {
    let e = src.load(0, Split::Train).unwrap_err().to_string();
    println!("{e}");
    assert!(!e.contains('\n'));
    e
}

#[test]
fn idx_files_load_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pixels: Vec<u8> = (0..3 * 28 * 28).map(|i| (i % 256) as u8).collect();
    write(
        &d.join("train-images-idx3-ubyte.gz"),
        &gz(&idx_bytes(&[3, 28, 28], &pixels)),
    );
    write(
        &d.join("train-labels-idx1-ubyte"),
        &idx_bytes(&[3], &[7, 1, 4]),
    );
    let cfg = IdxConfig {
        path: d.to_path_buf(),
        limit: 0,
    };
    let data = cfg.load(0, Split::Train).unwrap();
    assert_eq!(data.item_shape, vec![1, 28, 28]);
    assert_eq!(data.labels.as_deref(), Some(&[7u8, 1, 4][..]));
    assert_eq!(data.values[0], -1.0);
    assert!(data.values.iter().all(|v| (-1.0..=1.0).contains(v)));

    // label count mismatch
    write(
        &d.join("train-labels-idx1-ubyte"),
        &idx_bytes(&[2], &[7, 1]),
    );
    assert!(load_err(&cfg).contains("2 labels for 3 images"));
    // wrong magic
    let mut bad = idx_bytes(&[3], &[7, 1, 4]);
    bad[3] = 3;
    write(&d.join("train-labels-idx1-ubyte"), &bad);
    let e = load_err(&cfg);
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("magic"),
        "{e}"
    );
    // wrong dimensions
    write(
        &d.join("train-labels-idx1-ubyte"),
        &idx_bytes(&[5], &[7, 1, 4]),
    );
    assert!(load_err(&cfg).contains("wrong dimensions"));
    // missing folder: says where it looked and how to point elsewhere
    let missing = IdxConfig {
        path: d.join("nope"),
        limit: 0,
    };
    let e = load_err(&missing);
    assert!(e.contains("nope") && e.contains("data path"), "{e}");
}

#[test]
fn cifar_batches_load_and_truncation_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let record = |label: u8| {
        let mut r = vec![label];
        r.extend(std::iter::repeat_n(128u8, 3072));
        r
    };
    for i in 1..=5 {
        write(
            &d.join(format!("data_batch_{i}.bin")),
            &[record(1), record(2)].concat(),
        );
    }
    let cfg = CifarConfig {
        path: d.to_path_buf(),
        limit: 0,
    };
    let data = cfg.load(0, Split::Train).unwrap();
    assert_eq!(data.len(), 10);
    assert_eq!(data.item_shape, vec![3, 32, 32]);
    let mut short = record(3);
    short.truncate(2000);
    write(&d.join("data_batch_3.bin"), &short);
    let e = load_err(&cfg);
    assert!(
        e.contains("data_batch_3.bin") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn folders_skip_broken_images_and_refuse_empty_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = |p: &Path| FolderConfig {
        path: p.to_path_buf(),
        height: 8,
        width: 12,
        channels: 3,
        limit: 0,
    };
    std::fs::create_dir_all(d.join("empty/sub")).unwrap();
    assert!(load_err(&cfg(&d.join("empty"))).contains("no PNG or JPEG"));

    let imgs = d.join("imgs");
    for i in 0..4 {
        let img = image::RgbImage::from_fn(40 + i, 20, |x, _| image::Rgb([x as u8 * 6, 0, 255]));
        std::fs::create_dir_all(imgs.join("nested")).unwrap();
        img.save(imgs.join(format!("nested/{i}.png"))).unwrap();
    }
    write(&imgs.join("broken.jpg"), b"not a jpeg");
    let data = cfg(&imgs).load(0, Split::Train).unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(data.item_shape, vec![3, 8, 12], "non-square sizes are kept");
    assert_eq!(data.notes.len(), 1);
    assert!(data.notes[0].contains("skipped 1") && data.notes[0].contains("broken.jpg"));
    // a file beside the subfolders: not a folder of classes
    assert_eq!(data.labels, None);

    let only_broken = d.join("bad");
    write(&only_broken.join("a.png"), b"garbage");
    let e = load_err(&cfg(&only_broken));
    assert!(e.contains("could be read") && e.contains("a.png"), "{e}");
}

#[test]
fn folders_of_class_subfolders_are_labelled_by_subfolder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pets");
    // red cats, blue dogs; subfolders in name order are the classes 0 and 1
    for (class, colour) in [("cat", [255, 0, 0]), ("dog", [0, 0, 255])] {
        std::fs::create_dir_all(root.join(class).join("deeper")).unwrap();
        for i in 0..6 {
            let img = image::RgbImage::from_pixel(8, 8, image::Rgb(colour));
            let at = if i % 2 == 0 {
                root.join(class).join(format!("{i}.png"))
            } else {
                root.join(class).join("deeper").join(format!("{i}.png"))
            };
            img.save(at).unwrap();
        }
    }
    let cfg = FolderConfig {
        path: root.clone(),
        height: 8,
        width: 8,
        channels: 3,
        limit: 0,
    };
    let data = cfg.load(0, Split::Train).unwrap();
    let labels = data.labels.clone().expect("labelled by subfolder");
    assert_eq!(labels.len(), data.len());
    for (i, &l) in labels.iter().enumerate() {
        // red is channel 0 at +1, blue channel 2
        let red = data.item(i)[0] > 0.5;
        assert_eq!(l, if red { 0 } else { 1 }, "item {i}");
    }
    assert!(labels.contains(&0) && labels.contains(&1));
    // a class-conditional model trains on it
    let preset = |classes: i64| {
        let text = format!(
            r#"(
            name: "pets",
            data: Folder((path: "{}", height: 8, width: 8, channels: 3)),
            model: Unet((base_channels: 8, channel_mults: [1, 2], attention_resolutions: [], groups: 4, classes: Some({classes}))),
            diffusion: (timesteps: 10),
            train: (batch_size: 4, threads: 1),
        )"#,
            root.display()
        );
        diffscope::config::Preset::parse(&text, Path::new("pets.ron")).unwrap()
    };
    assert!(diffscope::train::Trainer::new(preset(2), tch::Device::Cpu).is_ok());
    // a folder without class subfolders cannot be conditioned on
    let flat = dir.path().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    for i in 0..3 {
        image::RgbImage::from_pixel(8, 8, image::Rgb([9, 9, 9]))
            .save(flat.join(format!("{i}.png")))
            .unwrap();
    }
    let mut p = preset(2);
    if let diffscope::data::DataConfig::Folder(f) = &mut p.data {
        f.path = flat.clone();
    }
    let e = diffscope::util::one_line(
        &diffscope::train::Trainer::new(p, tch::Device::Cpu)
            .err()
            .expect("refused"),
    );
    println!("{e}");
    assert!(
        e.contains("classes: Some(2) needs labelled data") && e.contains("class subfolders"),
        "{e}"
    );
}

#[test]
fn unet_size_check_names_the_size_and_the_levels() {
    let preset = r#"(
        name: "odd",
        data: Glyphs((size: 18)),
        model: Unet((channel_mults: [1, 2, 2, 2], groups: 8)),
    )"#;
    let e = diffscope::config::Preset::parse(preset, Path::new("odd.ron")).unwrap_err();
    let e = diffscope::util::one_line(&e);
    println!("{e}");
    assert!(
        e.contains("18×18") && e.contains("4 U-Net levels") && e.contains("8"),
        "{e}"
    );
}

#[test]
fn the_data_command_previews_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("grid.png");
    let export = dir.path().join("export");
    let o = Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(["data", "--preset", "glyphs16", "--n", "12"])
        .arg("--out")
        .arg(&grid)
        .arg("--export")
        .arg(&export)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(&grid).unwrap();
    assert!(img.width() > 100 && img.height() > 50);
    let labels = std::fs::read_to_string(export.join("labels.csv")).unwrap();
    let mut lines = labels.lines();
    assert_eq!(lines.next(), Some("file,label,class"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 12);
    let first = image::open(export.join("00000.png")).unwrap();
    assert_eq!((first.width(), first.height()), (16, 16));
    // a missing data folder is reported with where it looked
    let o = Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(["data", "--preset", "mnist", "--data", "/nonexistent/mnist"])
        .arg("--out")
        .arg(&grid)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    println!("{err}");
    assert!(!o.status.success());
    assert!(
        err.contains("/nonexistent/mnist") && err.contains("--data"),
        "{err}"
    );
}
