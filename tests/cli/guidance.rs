//! `sample` and `eval` on class-conditional checkpoints: --guidance and --class, the grid
//! of every class, and the one-line errors of bad guidance.

use crate::common::{assert_one_line_error, diffscope, stderr, train_tiny};

#[test]
fn conditional_checkpoints_sample_a_class_or_every_class() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("cond");
    let o = diffscope(&[
        "train",
        "--preset",
        "tests/valid_presets/tiny-cond.ron",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ck = run.to_str().unwrap();
    let grid = dir.path().join("grid.png");
    let sample = |extra: &[&str]| {
        let mut args = vec![
            "sample",
            "--checkpoint",
            ck,
            "--scale",
            "1",
            "--out",
            grid.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        diffscope(&args)
    };
    // every class: 20 images of 10 classes are 10 rows of 2 (8-pixel cells, 2-pixel gaps)
    let o = sample(&["--n", "20", "--class", "all", "--guidance", "2.5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("all classes, w 2.5"), "{}", stderr(&o));
    let img = image::open(&grid).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (2 * 8 + 3 * 2, 10 * 8 + 11 * 2)
    );
    // one class, the preset's w (2)
    let o = sample(&["--n", "4", "--class", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("class 7, w 2"), "{}", stderr(&o));
    // w = 0 and w = 1 are plain calls
    for w in ["0", "1"] {
        let o = sample(&["--n", "2", "--guidance", w]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_one_line_error(
        &sample(&["--class", "10"]),
        "--class 10: class 10 is out of range: the model has classes 0 to 9",
    );
    assert_one_line_error(
        &sample(&["--class", "seven"]),
        "--class seven: expected a class number or all",
    );
    assert_one_line_error(
        &sample(&["--guidance", "-1"]),
        "--guidance -1: the guidance scale w must be a number ≥ 0, got -1",
    );
    assert_one_line_error(
        &diffscope(&["eval", "--checkpoint", ck, "--guidance-sweep", "0,x"]),
        "--guidance-sweep 0,x: \"x\" is not a number",
    );
    assert_one_line_error(
        &diffscope(&["eval", "--checkpoint", ck, "--guidance-sweep", "1,-2"]),
        "--guidance-sweep 1,-2: the guidance scale w must be a number ≥ 0, got -2",
    );
}

#[test]
fn unconditional_checkpoints_refuse_classes_and_guidance() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_tiny(dir.path());
    let ck = run.to_str().unwrap();
    let out = dir.path().join("x.csv");
    let out = out.to_str().unwrap();
    assert_one_line_error(
        &diffscope(&["sample", "--checkpoint", ck, "--class", "1", "--out", out]),
        "--class 1: this checkpoint's model is unconditional",
    );
    assert_one_line_error(
        &diffscope(&[
            "sample",
            "--checkpoint",
            ck,
            "--guidance",
            "3",
            "--out",
            out,
        ]),
        "--guidance 3: this checkpoint's model is unconditional",
    );
    assert_one_line_error(
        &diffscope(&["eval", "--checkpoint", ck, "--guidance-sweep", "0,1,3"]),
        "--guidance-sweep 0,1,3:",
    );
    assert_one_line_error(
        &diffscope(&["eval", "--checkpoint", ck, "--guidance", "2"]),
        "--guidance 2: this checkpoint's model is unconditional",
    );
}
