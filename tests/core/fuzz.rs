//! Fuzzing the parsers of files people download and share: presets, themes, `tui.ron`,
//! IDX (raw and gzip), CIFAR batches, image folders (PNG and JPEG) and whole checkpoints (`meta.ron` and the
//! safetensors files, their checksums refreshed so that the parser itself is reached).
//! Each case mutates a real file (bit flips, byte changes, cuts, inserted and repeated
//! chunks) with a seeded generator and feeds it to the real loader: it must never panic,
//! and every rejection must be one line that names the file.
//!
//! `DIFFSCOPE_FUZZ_CASES` sets the cases per parser (default 1,000); `make fuzz` runs
//! 100,000 and prints the counts.

use crate::common::process_lock;
use diffscope::config::Preset;
use diffscope::data::{CifarConfig, FolderConfig, IdxConfig, Source, Split};
use diffscope::rng::Rng;
use diffscope::train::{checkpoint, integrity, Trainer};
use diffscope::util::one_line;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

fn cases() -> usize {
    std::env::var("DIFFSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

/// One to four random mutations of `seed`.
fn mutate(seed: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    let pick = |r: &mut Rng, n: usize| (r.next_u64() % n.max(1) as u64) as usize;
    for _ in 0..1 + pick(r, 4) {
        let n = v.len();
        match pick(r, 7) {
            0 if n > 0 => {
                let i = pick(r, n);
                v[i] ^= 1 << pick(r, 8);
            }
            1 if n > 0 => {
                let i = pick(r, n);
                v[i] = (r.next_u64() & 0xff) as u8;
            }
            2 => v.truncate(pick(r, n + 1)),
            3 if n > 0 => {
                let (a, len) = (pick(r, n), 1 + pick(r, 16));
                let chunk: Vec<u8> = v[a..(a + len).min(n)].to_vec();
                let at = pick(r, n + 1);
                v.splice(at..at, chunk);
            }
            4 if n > 0 => {
                let (a, len) = (pick(r, n), 1 + pick(r, 64));
                v.drain(a..(a + len).min(n));
            }
            5 => {
                let at = pick(r, n + 1);
                let junk = [b"(", b")", b",", b"\"", b"[", b"]", b":", b"9"];
                v.splice(at..at, junk[pick(r, junk.len())].iter().copied());
            }
            _ => {
                // an interesting number in a header word
                if n >= 4 {
                    let at = pick(r, n - 3);
                    let x: [u32; 5] = [0, 1, u32::MAX, 0x7fff_ffff, 28];
                    v[at..at + 4].copy_from_slice(&x[pick(r, 5)].to_be_bytes());
                }
            }
        }
    }
    v
}

/// Runs `cases()` mutations of `seeds` through `check`, which writes the bytes where the
/// loader reads them, runs it, and returns its error (None: accepted). Counts accepted and
/// rejected cases; fails on a panic or on an error that is not one line naming `needle`.
fn fuzz(
    name: &str,
    seeds: &[Vec<u8>],
    needle: &str,
    check: &mut dyn FnMut(&[u8]) -> Option<String>,
) {
    let n = cases();
    let mut r = Rng::new(0xF022 ^ name.len() as u64);
    let (mut ok, mut rejected) = (0usize, 0usize);
    let mut example = None;
    let started = std::time::Instant::now();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..n {
        let seed = &seeds[i % seeds.len()];
        let bytes = mutate(seed, &mut r);
        match catch_unwind(AssertUnwindSafe(|| check(&bytes))) {
            Err(p) => {
                std::panic::set_hook(quiet);
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let keep = std::env::temp_dir().join(format!("diffscope-fuzz-{name}-{i}"));
                let _ = std::fs::write(&keep, &bytes);
                panic!(
                    "{name}: case {i} panicked ({msg}); input kept in {}",
                    keep.display()
                );
            }
            Ok(None) => ok += 1,
            Ok(Some(e)) => {
                if e.contains('\n') || !e.contains(needle) {
                    std::panic::set_hook(quiet);
                    panic!("{name}: case {i}: not one line naming {needle}: {e}");
                }
                rejected += 1;
                example.get_or_insert(e);
            }
        }
    }
    std::panic::set_hook(quiet);
    println!(
        "{name}: {n} cases, {rejected} rejected with a one-line error, {ok} accepted, 0 panics \
         ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    if let Some(e) = example {
        println!("  first rejection: {e}");
    }
}

fn read_seeds(dir: &str, ext: &str) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

#[test]
fn presets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzzed.ron");
    let seeds = read_seeds("presets", "ron");
    fuzz("presets", &seeds, "fuzzed.ron", &mut |b| {
        std::fs::write(&path, b).unwrap();
        Preset::from_file(&path).err().map(|e| one_line(&e))
    });
}

#[test]
fn themes_and_tui_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzzed.ron");
    let seeds = read_seeds("themes", "ron");
    fuzz("themes", &seeds, "fuzzed.ron", &mut |b| {
        std::fs::write(&path, b).unwrap();
        diffscope::tui::theme::Theme::from_file(&path).err()
    });
    let settings = vec![
        b"(image_protocol: Some(Halfblocks), theme: Some(\"light\"), on_hangup: SaveAndStop)"
            .to_vec(),
        b"(theme: Some(\"dark\"))".to_vec(),
    ];
    fuzz("tui.ron", &settings, "fuzzed.ron", &mut |b| {
        std::fs::write(&path, b).unwrap();
        let text = match String::from_utf8(b.to_vec()) {
            Ok(t) => t,
            Err(_) => return Some(format!("{}: not UTF-8", path.display())),
        };
        diffscope::tui::theme::parse_ron::<diffscope::tui::Settings>(&text, &path)
            .err()
            .map(|e| one_line(&e))
    });
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_raw_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pixels: Vec<u8> = (0..4 * 28 * 28).map(|i| (i * 7 % 256) as u8).collect();
    let images = idx_bytes(&[4, 28, 28], &pixels);
    let labels = idx_bytes(&[4], &[3, 1, 4, 1]);
    let cfg = IdxConfig {
        path: d.to_path_buf(),
        limit: 0,
    };
    std::fs::write(d.join("train-labels-idx1-ubyte"), &labels).unwrap();
    fuzz(
        "idx",
        std::slice::from_ref(&images),
        "train-images-idx3-ubyte",
        &mut |b| {
            std::fs::write(d.join("train-images-idx3-ubyte"), b).unwrap();
            cfg.load(0, Split::Train).err().map(|e| one_line(&e))
        },
    );
    std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
    // gzip: the compressed bytes are mutated, as a cut download would leave them
    fuzz(
        "idx.gz",
        &[gz(&images)],
        "train-images-idx3-ubyte.gz",
        &mut |b| {
            std::fs::write(d.join("train-images-idx3-ubyte.gz"), b).unwrap();
            cfg.load(0, Split::Train).err().map(|e| one_line(&e))
        },
    );
}

#[test]
fn cifar_batches() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&d).unwrap();
    let mut batch = Vec::new();
    for i in 0..3u8 {
        batch.push(i);
        batch.extend((0..3072).map(|k| (k as u8).wrapping_mul(i + 1)));
    }
    let cfg = CifarConfig {
        path: d.clone(),
        limit: 0,
    };
    // the loader wants all five training batches; four stay intact, one is fuzzed
    for k in 2..=5 {
        std::fs::write(d.join(format!("data_batch_{k}.bin")), &batch).unwrap();
    }
    fuzz("cifar", &[batch.clone()], "data_batch_1.bin", &mut |b| {
        std::fs::write(d.join("data_batch_1.bin"), b).unwrap();
        cfg.load(0, Split::Train).err().map(|e| one_line(&e))
    });
}

/// A small picture in `format`, as its file's bytes.
fn picture(format: image::ImageFormat, gray: bool) -> Vec<u8> {
    let img = image::RgbImage::from_fn(12, 9, |x, y| {
        image::Rgb([(x * 20) as u8, (y * 25) as u8, ((x + y) * 9) as u8])
    });
    let img = if gray {
        image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(img).to_luma8())
    } else {
        image::DynamicImage::ImageRgb8(img)
    };
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn image_folders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("pictures");
    std::fs::create_dir_all(&d).unwrap();
    let cfg = FolderConfig {
        path: d.clone(),
        height: 8,
        width: 8,
        channels: 3,
        limit: 0,
    };
    let png = [
        picture(image::ImageFormat::Png, false),
        picture(image::ImageFormat::Png, true),
    ];
    // the folder holds the fuzzed file alone, so a file that does not read is an error
    // (with others beside it, it is skipped with a notice)
    fuzz("image folder (PNG)", &png, "pictures/a.png", &mut |b| {
        std::fs::write(d.join("a.png"), b).unwrap();
        cfg.load(0, Split::Train).err().map(|e| one_line(&e))
    });
    std::fs::remove_file(d.join("a.png")).unwrap();
    let jpeg = [picture(image::ImageFormat::Jpeg, false)];
    fuzz("image folder (JPEG)", &jpeg, "pictures/a.jpg", &mut |b| {
        std::fs::write(d.join("a.jpg"), b).unwrap();
        cfg.load(0, Split::Train).err().map(|e| one_line(&e))
    });
}

/// A checkpoint of `preset` after a few training steps, saved by the trainer in `dir`.
fn trained(preset: &str, dir: &Path) -> std::path::PathBuf {
    let p = Preset::load(preset).unwrap().preset;
    let mut tr = Trainer::new(p, tch::Device::Cpu).unwrap();
    for _ in 0..3 {
        tr.train_step().unwrap();
    }
    tr.save(dir, false).unwrap()
}

#[test]
fn checkpoints() {
    // Training and loading trainers seed libtorch's generator.
    let _turn = process_lock();
    let dir = tempfile::tempdir().unwrap();
    let step = dir.path().join("step-00006000");
    std::fs::create_dir_all(&step).unwrap();
    let shipped = Path::new("checkpoints/swissroll/step-00006000");
    for e in std::fs::read_dir(shipped).unwrap().flatten() {
        std::fs::copy(e.path(), step.join(e.file_name())).unwrap();
    }
    let meta = std::fs::read(step.join("meta.ron")).unwrap();
    fuzz(
        "meta.ron",
        std::slice::from_ref(&meta),
        "meta.ron",
        &mut |b| {
            std::fs::write(step.join("meta.ron"), b).unwrap();
            checkpoint::read(&step).err().map(|e| one_line(&e))
        },
    );
    std::fs::write(step.join("meta.ron"), &meta).unwrap();
    // The tensor files of an MLP and a U-Net checkpoint, each file with its checksum
    // refreshed so that the safetensors parser and the shape checks are what answers (the
    // checksum would catch them first). Small models, so that a case costs a millisecond
    // rather than the shipped ones' hashing of megabytes; the writer and the headers'
    // layout are the same.
    for (label, preset) in [
        ("MLP", "tests/valid_presets/tiny.ron"),
        ("U-Net", "tests/valid_presets/tiny-unet.ron"),
    ] {
        let step = trained(preset, &dir.path().join(label));
        let mut ck = checkpoint::read(&step).unwrap();
        for file in integrity::TENSOR_FILES {
            let original = std::fs::read(step.join(file)).unwrap();
            // the header (a length and JSON) is where a parser can go wrong: keep the
            // mutations near it by seeding with the first kilobytes
            let head = original[..original.len().min(4096)].to_vec();
            let rest = original[head.len()..].to_vec();
            let name = format!("{label} checkpoint {file}");
            let refresh = |ck: &mut checkpoint::Checkpoint| {
                let sums = ck.meta.checksums.get_or_insert_default();
                sums.insert(
                    file.to_string(),
                    integrity::digest(&step.join(file)).unwrap(),
                );
                let text = ron::ser::to_string_pretty(&ck.meta, Default::default()).unwrap();
                std::fs::write(step.join("meta.ron"), text).unwrap();
            };
            fuzz(&name, &[head], file, &mut |b| {
                let mut bytes = b.to_vec();
                bytes.extend_from_slice(&rest);
                std::fs::write(step.join(file), &bytes).unwrap();
                refresh(&mut ck);
                // the model without its training data (what `sample` and `eval` load),
                // and the whole trainer with its optimiser state (what a resume loads)
                let e = Trainer::load_model(&step, tch::Device::Cpu).err();
                let e = match e {
                    None if file == integrity::TENSOR_FILES[2] => {
                        Trainer::load(&step, tch::Device::Cpu).err()
                    }
                    e => e,
                };
                e.map(|e| one_line(&e))
            });
            std::fs::write(step.join(file), &original).unwrap();
            refresh(&mut ck);
        }
    }
}
