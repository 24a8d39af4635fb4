//! Themes: every bundled RON file parses; user files may override some fields only; unknown
//! fields and bad colours are rejected with the file, line and column.

use diffscope::tui::theme::{Theme, BUNDLED};
use ratatui::style::Color;

#[test]
fn every_bundled_theme_parses_and_differs() {
    let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["dark", "light", "high-contrast", "monochrome"]);
    let themes: Vec<Theme> = names
        .iter()
        .map(|n| Theme::bundled(n).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    for (i, a) in themes.iter().enumerate() {
        for b in &themes[i + 1..] {
            assert_ne!(a.fg_colors(), b.fg_colors(), "{} and {}", a.name, b.name);
        }
    }
    // The files on disk are the ones embedded.
    for (n, text) in BUNDLED {
        let disk = std::fs::read_to_string(format!("themes/{n}.ron")).unwrap();
        assert_eq!(&disk, text);
    }
}

#[test]
fn monochrome_uses_no_colour() {
    let m = Theme::monochrome();
    assert!(m.fg_colors().iter().all(|c| *c == Color::Reset), "{m:?}");
}

#[test]
fn a_user_theme_overrides_only_the_fields_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("light.ron");
    std::fs::write(
        &p,
        "(accent: \"#ff8800\", quarters: [\"red\", \"red\", \"blue\", \"blue\"])",
    )
    .unwrap();
    let t = Theme::from_file(&p).unwrap();
    let light = Theme::bundled("light").unwrap();
    assert_eq!(t.accent, Color::Rgb(0xff, 0x88, 0x00));
    assert_eq!(t.quarters[2], Color::Blue);
    assert_eq!(
        t.fg, light.fg,
        "unnamed fields come from the bundled theme of that name"
    );
    assert_eq!(t.name, "light");
    let q = dir.path().join("mine.ron");
    std::fs::write(&q, "(name: \"mine\", title: \"green\")").unwrap();
    let t = Theme::from_file(&q).unwrap();
    assert_eq!((t.name.as_str(), t.title), ("mine", Color::Green));
    assert_eq!(t.border, Theme::default().border);
}

#[test]
fn unknown_fields_and_bad_colours_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("odd.ron");
    std::fs::write(&p, "(\n  accent: \"red\",\n  acent: \"blue\",\n)").unwrap();
    let e = Theme::from_file(&p).unwrap_err();
    let want = format!("{}:3:", p.display());
    assert!(e.starts_with(&want) && e.contains("acent"), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");
    std::fs::write(&p, "(accent: \"not-a-colour\")").unwrap();
    let e = Theme::from_file(&p).unwrap_err();
    assert!(e.contains("odd.ron") && e.contains("accent"), "{e}");
}

#[test]
fn no_color_selects_monochrome() {
    // The environment is the process's: the tests that read NO_COLOR hold the lock.
    let _turn = crate::common::process_lock();
    std::env::set_var("NO_COLOR", "1");
    let (themes, idx, _) = diffscope::tui::themes(Some("light"));
    std::env::remove_var("NO_COLOR");
    assert_eq!(themes[idx].name, "monochrome");
    let (themes, idx, _) = diffscope::tui::themes(Some("light"));
    assert_eq!(themes[idx].name, "light");
}
