//! Checkpoint integrity: every tensor file's SHA-256 is recorded when a checkpoint is
//! saved and checked when it is loaded. A flipped byte in any tensor file is a one-line
//! error naming the file (exit 1), the browser's scan marks such a checkpoint, and a
//! checkpoint saved before checksums existed still loads, with a notice.

use crate::common::{assert_one_line_error, diffscope, stderr};
use diffscope::runs;
use diffscope::train::checkpoint;
use diffscope::train::integrity::{self, Integrity, TENSOR_FILES};
use std::path::Path;
use std::time::Instant;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_flipped_byte_in_any_tensor_file_is_caught_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = Path::new("checkpoints/glyphs16/step-00002000");
    let dir = tmp.path().join("run/step-00002000");
    copy_dir(shipped, &dir);

    // The shipped checkpoint records its checksums, and verifying is quick.
    let ck = checkpoint::read(&dir).unwrap();
    let bytes: u64 = TENSOR_FILES
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).unwrap().len())
        .sum();
    let start = Instant::now();
    assert_eq!(integrity::verify(&ck).unwrap(), Integrity::Verified);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    println!("verified {:.1} MB in {ms:.1} ms", bytes as f64 / 1e6);
    assert!(ms < 1000.0, "{ms} ms");

    for file in TENSOR_FILES {
        let path = dir.join(file);
        let original = std::fs::read(&path).unwrap();
        let mut bad = original.clone();
        // past the safetensors header: tensor bytes, as a bad disk or copy changes them
        let i = bad.len() - bad.len() / 3;
        bad[i] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        let out = diffscope(&[
            "sample",
            "--checkpoint",
            dir.to_str().unwrap(),
            "--n",
            "4",
            "--out",
            tmp.path().join("x.png").to_str().unwrap(),
        ]);
        let line = assert_one_line_error(&out, file);
        assert!(line.contains("checksum mismatch"), "{line}");
        let entries = runs::scan_checkpoints(&[tmp.path().to_path_buf()]);
        assert_eq!(entries.len(), 1);
        let why = entries[0].corrupt.as_deref().unwrap_or("");
        assert!(why.contains(file), "the browser marks it: {why}");
        std::fs::write(&path, &original).unwrap();
    }
    assert!(runs::scan_checkpoints(&[tmp.path().to_path_buf()])[0]
        .corrupt
        .is_none());
}

#[test]
fn checkpoints_without_checksums_still_load_with_a_notice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    copy_dir(Path::new("checkpoints/swissroll/step-00006000"), &dir);
    let meta = dir.join("meta.ron");
    let text = std::fs::read_to_string(&meta).unwrap();
    let cut = text.find("    checksums:").unwrap();
    std::fs::write(&meta, format!("{})\n", &text[..cut])).unwrap();
    let out = diffscope(&[
        "sample",
        "--checkpoint",
        dir.to_str().unwrap(),
        "--n",
        "8",
        "--out",
        tmp.path().join("x.csv").to_str().unwrap(),
    ]);
    let err = stderr(&out);
    println!("{err}");
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no checksums"), "{err}");
}

#[test]
fn every_save_records_checksums_that_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let out = diffscope(&[
        "train",
        "--preset",
        "tests/valid_presets/tiny.ron",
        "--steps",
        "5",
        "--out",
        tmp.path().join("run").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ck = checkpoint::read(&tmp.path().join("run")).unwrap();
    let sums = ck.meta.checksums.clone().unwrap();
    assert_eq!(sums.len(), 3);
    assert!(sums
        .values()
        .all(|s| s.starts_with("sha256:") && s.len() == 71));
    assert_eq!(integrity::verify(&ck).unwrap(), Integrity::Verified);
}
