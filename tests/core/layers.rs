//! The crate's layers only point down: the core (diffusion, model, data, train, eval,
//! worker, runs, config, render and their helpers) uses no UI or command-line crate and
//! never the front ends; the two front ends (`cli` + `commands`, and `tui`) use the core,
//! never each other. Inside the core, runs → worker → eval → train → diffusion, model and
//! data: no arrow runs back. Read from the source's `use` lines and paths.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The files of a layer: folders and single files under src/.
fn files(parts: &[&str]) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for part in parts {
        let p = src.join(part);
        if p.is_dir() {
            rust_files(&p, &mut out);
        } else {
            out.push(p);
        }
    }
    assert!(!out.is_empty());
    out
}

/// Lines (without comments) that name one of `forbidden` as a path.
fn violations(files: &[PathBuf], forbidden: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for name in forbidden {
                let as_path = code.contains(&format!("{name}::"))
                    || code.trim_start().starts_with(&format!("use {name}"))
                    || code.contains(&format!("use {name};"));
                if as_path {
                    v.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    v
}

const CORE: &[&str] = &[
    "diffusion",
    "model",
    "data",
    "train",
    "eval",
    "worker",
    "runs",
    "config",
    "render",
    "rng.rs",
    "util.rs",
];

#[test]
fn the_core_uses_no_front_end_and_no_ui_crate() {
    let core = files(CORE);
    let bad = violations(
        &core,
        &[
            "crate::cli",
            "crate::commands",
            "crate::tui",
            "clap",
            "ratatui",
            "ratatui_image",
            "icy_sixel",
            "crossterm",
            "tokio",
            "futures_util",
        ],
    );
    println!("{} core files checked", core.len());
    assert!(bad.is_empty(), "the core points up:\n{}", bad.join("\n"));
}

#[test]
fn the_front_ends_do_not_use_each_other() {
    let cli = files(&["cli.rs", "commands"]);
    let bad = violations(
        &cli,
        &[
            "crate::tui",
            "ratatui",
            "ratatui_image",
            "icy_sixel",
            "crossterm",
        ],
    );
    assert!(
        bad.is_empty(),
        "the command line uses the workbench:\n{}",
        bad.join("\n")
    );
    let tui = files(&["tui"]);
    let bad = violations(&tui, &["crate::cli", "crate::commands", "clap"]);
    println!(
        "{} command-line and {} workbench files checked",
        cli.len(),
        tui.len()
    );
    assert!(
        bad.is_empty(),
        "the workbench uses the command line:\n{}",
        bad.join("\n")
    );
}

/// Each layer of the core and the layers above it, which it must not use.
const CORE_ARROWS: &[(&str, &[&str])] = &[
    ("worker", &["crate::runs"]),
    ("eval", &["crate::worker", "crate::runs"]),
    ("train", &["crate::eval", "crate::worker", "crate::runs"]),
    (
        "diffusion",
        &[
            "crate::train",
            "crate::eval",
            "crate::worker",
            "crate::runs",
        ],
    ),
    (
        "model",
        &[
            "crate::train",
            "crate::eval",
            "crate::worker",
            "crate::runs",
        ],
    ),
    (
        "data",
        &[
            "crate::train",
            "crate::eval",
            "crate::worker",
            "crate::runs",
        ],
    ),
];

#[test]
fn inside_the_core_runs_use_the_worker_which_uses_eval_which_uses_train() {
    let mut checked = 0;
    for (layer, above) in CORE_ARROWS {
        let files = files(&[layer]);
        checked += files.len();
        let bad = violations(&files, above);
        assert!(bad.is_empty(), "{layer} points up:\n{}", bad.join("\n"));
    }
    // And the arrows that must exist do: each layer uses the one below it.
    for (layer, below) in [
        ("runs", "crate::worker"),
        ("worker", "crate::eval"),
        ("eval", "crate::train"),
        ("train", "crate::diffusion"),
    ] {
        assert!(
            !violations(&files(&[layer]), &[below]).is_empty(),
            "{layer} no longer uses {below}: update the arrows"
        );
    }
    println!("{checked} files checked against the core's arrows");
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    // The test above would pass vacuously if the matching were broken.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.rs");
    std::fs::write(
        &f,
        "use crate::tui::app::App;\n// use clap::Parser;\nfn f() { ratatui::x(); }\n",
    )
    .unwrap();
    let bad = violations(&[f], &["crate::tui", "clap", "ratatui"]);
    assert_eq!(bad.len(), 2, "{bad:?}");
}
