//! End to end with real terminals: the protocol each one gets and what it actually shows
//! of the workbench's pictures, in xterm as a VT340 (sixel), kitty (direct placement), a
//! terminal that answers nothing (half-blocks) and tmux without passthrough (half-blocks).
//!
//! The graphical terminals run on a private X server (Xvfb); each check reads the image
//! log (`DIFFSCOPE_IMAGE_LOG`: the probe's decision and the slot rectangle of every picture
//! written) and a screenshot. The picture background and the gaps between images are pure
//! black (0,0,0) while the theme never is and the terminal's background is #202020, so
//! every pure-black pixel on the screen belongs to a picture: it must lie inside a slot
//! that the log says was drawn. The harness (X server, terminals, image log, census) is
//! in `common/terminals/`.
//!
//! Needs Xvfb, xterm, kitty, ImageMagick's `import`, xdotool, tmux and `script`
//! (`scripts/setup-test-tools.sh` installs them). A missing tool fails the test, naming
//! the package to install. The tests take turns: two terminals never run at once.
//! Screenshots are kept in `target/tui-terminals/`.

use crate::common::terminals::pixels::{count, render_cells, strip_ansi};
use crate::common::terminals::{
    out_dir, workbench_args, xterm_args, Sandbox, Session, BG, COLS, ROWS, XTERM_INSET,
};
use crate::common::tmux::Tmux;
use crate::common::{exits_within, require, stop};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One terminal at a time: the machine has few cores and the pictures take a while.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long the workbench may take to sample the gallery (CPU, 100 steps, 64 images):
/// 5–10 s on two idle cores, several times that when other jobs share them.
const SAMPLES_SECS: u64 = 180;

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn xterm_vt340_gets_sixel_and_pictures_stay_inside_their_panes() {
    let _turn = serial();
    require(&["xterm"]);
    let start = Instant::now();
    let mut s = Session::start("xterm-sixel", "xterm", &xterm_args(&[]), &[], XTERM_INSET);
    let p = s.probe();
    println!("xterm-sixel: probe {p:?}");
    s.check(p.proto == "Sixel" && p.reason == "DA1", || {
        format!("xterm -ti vt340 should get sixel from DA1, got {p:?}")
    });
    s.check(p.cell.0 > 0 && p.cell.1 > 0, || {
        format!("no cell size in {p:?}")
    });
    let (_, _, ww, wh) = s.x.geometry(&s.win);
    println!(
        "xterm-sixel: window {ww}x{wh}, cell {}x{}",
        p.cell.0, p.cell.1
    );
    s.check(
        ww == COLS * p.cell.0 + 2 * XTERM_INSET && wh == ROWS * p.cell.1 + 2 * XTERM_INSET,
        || {
            format!(
                "the window {ww}x{wh} does not match {COLS}x{ROWS} cells of {:?}",
                p.cell
            )
        },
    );

    s.wait_log("the samples to be drawn", SAMPLES_SECS, |l| {
        l.draws("Samples") > 0
    });
    println!(
        "xterm-sixel: samples drawn after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    s.check_pictures("1-forward", &["Samples", "Xt"], 2000);

    // Reverse: the inspector shows x_t and x̂_0 side by side.
    let before = s.sandbox.log().draws("X0");
    s.press_and_wait(&["f"], "x̂_0 to be drawn after f", 30, |l| {
        l.draws("X0") > before
    });
    s.check_pictures("2-reverse", &["Samples", "Xt", "X0"], 2000);

    // Help over everything: the pictures are erased, not left under the overlay.
    let before = s.sandbox.log().repaints();
    s.press_and_wait(&["question"], "a repaint after ?", 10, |l| {
        l.repaints() > before
    });
    let (img, c, live) = s.shot_until("3-help", 5, |c| c.total == 0);
    println!(
        "xterm-sixel/3-help: {} black pixels with help open (live slots {live:?})",
        c.total
    );
    let shot = s.shots.last().unwrap().display().to_string();
    s.check(c.total == 0, || {
        format!(
            "{} pure-black pixels under the help overlay (e.g. {:?}); screenshot {shot}",
            c.total, c.examples
        )
    });
    let (_, text) = count(&img, s.grid().rows(3, 20), BG);
    s.check(text > 1000, || {
        format!("the help overlay is not on screen; screenshot {shot}")
    });

    // Esc closes help; q quits a checkpoint inspection at once.
    let before = s.sandbox.log().draws("Samples");
    s.press_and_wait(
        &["Escape"],
        "the pictures to come back after help",
        10,
        |l| l.draws("Samples") > before,
    );
    s.check_pictures("4-after-help", &["Samples", "Xt", "X0"], 2000);
    s.x.keys(&s.win, &["q"]);
    let t = Instant::now();
    let exited = exits_within(&mut s.term.child, 10);
    println!(
        "xterm-sixel: xterm exited {:.1} s after q: {exited}",
        t.elapsed().as_secs_f64()
    );
    s.check(exited, || "xterm did not exit within 10 s of q".into());
    println!("xterm-sixel: {:.1} s in all", start.elapsed().as_secs_f64());
}

#[test]
fn kitty_forced_in_xterm_falls_back_to_sixel_with_a_notice() {
    let _turn = serial();
    require(&["xterm"]);
    let start = Instant::now();
    let mut s = Session::start(
        "xterm-forced-kitty",
        "xterm",
        &xterm_args(&["--image-protocol", "kitty"]),
        &[],
        XTERM_INSET,
    );
    let p = s.probe();
    println!("xterm-forced-kitty: probe {p:?}");
    s.check(p.proto == "Sixel", || {
        format!("expected sixel instead of kitty, got {p:?}")
    });
    s.check(p.notice.is_some(), || {
        format!("a forced kitty that cannot be honoured needs a notice, got {p:?}")
    });
    s.wait_log("the samples to be drawn", SAMPLES_SECS, |l| {
        l.draws("Samples") > 0
    });
    s.check_pictures("1", &["Samples", "Xt"], 2000);
    s.x.keys(&s.win, &["q"]);
    let exited = exits_within(&mut s.term.child, 10);
    s.check(exited, || "xterm did not exit within 10 s of q".into());
    println!(
        "xterm-forced-kitty: {:.1} s in all",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn kitty_gets_direct_placement_and_pictures_stay_inside_their_panes() {
    let _turn = serial();
    require(&["kitty"]);
    let start = Instant::now();
    let mut args: Vec<String> = [
        "--config",
        "NONE",
        "-o",
        "remember_window_size=no",
        "-o",
        "initial_window_width=160c",
        "-o",
        "initial_window_height=48c",
        "-o",
        "background=#202020",
        "-o",
        "foreground=#d0d0d0",
        "-o",
        "window_padding_width=0",
        "-o",
        "placement_strategy=top-left",
        "-o",
        "update_check_interval=0",
        "-e",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(workbench_args(&[]));
    // kitty needs OpenGL 3.3: under Xvfb that is Mesa's software renderer.
    let mut s = Session::start(
        "kitty",
        "kitty",
        &args,
        &[("LIBGL_ALWAYS_SOFTWARE", "1")],
        0,
    );
    let p = s.probe();
    println!("kitty: probe {p:?}");
    s.check(
        p.proto == "KittyDirect" && p.reason.contains("kitty 0.26.5"),
        || format!("kitty 0.26.5 should get direct placement, got {p:?}"),
    );
    let (_, _, ww, wh) = s.x.geometry(&s.win);
    println!("kitty: window {ww}x{wh}, cell {}x{}", p.cell.0, p.cell.1);
    s.wait_log("the samples to be drawn", SAMPLES_SECS, |l| {
        l.draws("Samples") > 0
    });
    println!(
        "kitty: samples drawn after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    s.check_pictures("1", &["Samples", "Xt"], 2000);
    s.x.keys(&s.win, &["q"]);
    let exited = exits_within(&mut s.term.child, 15);
    s.check(exited, || "kitty did not exit within 15 s of q".into());
    let err = s.terminal_stderr();
    println!("kitty: stderr:\n{err}");
    s.check(
        !err.contains("Malformed") && !err.contains("invalid key"),
        || "kitty complained about the graphics commands".into(),
    );
    println!("kitty: {:.1} s in all", start.elapsed().as_secs_f64());
}

/// The workbench in a pty that nobody answers (`script`), stdin a pipe kept open.
struct Silent {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Silent {
    fn drop(&mut self) {
        drop(self.stdin.take());
        stop(&mut self.child);
    }
}

#[test]
fn a_terminal_that_answers_nothing_gets_half_blocks_without_hanging() {
    let _turn = serial();
    require(&["script"]);
    let sandbox = Sandbox::new();
    let mut line = String::new();
    for a in workbench_args(&[]) {
        write!(line, " '{a}'").unwrap();
    }
    let mut cmd = Command::new("script");
    cmd.args([
        "-qfec",
        &format!("stty cols {COLS} rows {ROWS}; exec{line}"),
        "/dev/null",
    ]);
    sandbox.apply(&mut cmd);
    let stdout = std::fs::File::create(sandbox.file("pty.out")).unwrap();
    let start = Instant::now();
    let child = cmd
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .expect("start script");
    let mut run = Silent { stdin: None, child };
    run.stdin = run.child.stdin.take();
    let log = sandbox.wait_log("the probe line", 20, |l| l.probe.is_some());
    let p = log.probe.unwrap();
    println!(
        "silent: probe {p:?}, logged {:.1} s after the start",
        start.elapsed().as_secs_f64()
    );
    let fail = |msg: String| -> ! {
        panic!("silent: {msg}\n--- image log:\n{}", sandbox.log_text());
    };
    if !(p.proto == "Halfblocks" && p.reason == "no answer") {
        fail(format!("expected half-blocks for no answer, got {p:?}"));
    }
    // NaN (no figure in the log) fails too.
    if p.ms.is_nan() || p.ms >= 1000.0 {
        fail(format!("the probe waited {} ms (want < 1000)", p.ms));
    }
    // It started rather than hung: still running after the probe, and a screen is drawn.
    let probed = Instant::now();
    let drawn = loop {
        if let Ok(Some(st)) = run.child.try_wait() {
            fail(format!("the workbench ended after the probe: {st}"));
        }
        let drawn = std::fs::metadata(sandbox.file("pty.out")).map_or(0, |m| m.len());
        if drawn >= 10_000 || probed.elapsed() > Duration::from_secs(10) {
            break drawn;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    println!(
        "silent: the first screen ({drawn} bytes) reached the terminal {:.1} s after the probe line",
        probed.elapsed().as_secs_f64()
    );
    if drawn < 10_000 {
        fail(format!(
            "only {drawn} bytes reached the terminal within 10 s of the probe: no screen drawn"
        ));
    }
    run.stdin.as_mut().unwrap().write_all(b"q").unwrap();
    run.stdin.as_mut().unwrap().flush().unwrap();
    let t = Instant::now();
    let exited = exits_within(&mut run.child, 10);
    println!(
        "silent: exited {:.1} s after q: {exited}",
        t.elapsed().as_secs_f64()
    );
    if !exited {
        fail("the workbench did not quit within 10 s of q".into());
    }
}

#[test]
fn half_blocks_in_tmux_show_every_picture_readably() {
    let _turn = serial();
    let sandbox = Sandbox::new();
    let t = Tmux::new("terminals");
    let mut line = String::new();
    for a in workbench_args(&[]) {
        write!(line, " '{a}'").unwrap();
    }
    t.start_with(
        COLS as u16,
        ROWS as u16,
        None,
        &format!("exec{line}"),
        |cmd| {
            cmd.env("TERM", "xterm-256color");
            sandbox.apply(cmd);
        },
    );
    let start = Instant::now();
    let screen = loop {
        let s = t.screen_colours();
        let plain = strip_ansi(&s);
        if plain.contains("of 64") && plain.contains("images:") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(SAMPLES_SECS) {
            panic!(
                "tmux: timed out waiting for the samples; the screen:\n{plain}\n--- image log:\n{}",
                sandbox.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let plain = strip_ansi(&screen);
    let path = out_dir().join("tmux-halfblocks.txt");
    std::fs::write(&path, &plain).unwrap();
    std::fs::write(out_dir().join("tmux-halfblocks.ansi"), &screen).unwrap();
    let png = out_dir().join("tmux-halfblocks.png");
    render_cells(&screen, 4).save(&png).unwrap();
    println!("tmux: the capture drawn as pixels: {}", png.display());
    println!(
        "tmux: the screen after {:.1} s ({}):\n{plain}",
        start.elapsed().as_secs_f64(),
        path.display()
    );
    let log = sandbox.log();
    println!("tmux: probe {:?}", log.probe);
    let fail = |msg: &str| -> ! {
        panic!(
            "tmux: {msg}\n--- the screen ({}):\n{plain}\n--- image log:\n{}",
            path.display(),
            sandbox.log_text()
        );
    };
    let lines: Vec<&str> = plain.lines().collect();
    // A pane title: from `needle` to the border line that follows it.
    let title = |needle: &str| {
        lines.iter().find_map(|l| {
            let at = l.find(needle)?;
            Some(l[at..].split('─').next().unwrap_or("").trim().to_string())
        })
    };
    let samples = title("Samples").unwrap_or_default();
    let xt = title("x_t (t=").unwrap_or_default();
    println!("tmux: samples title {samples:?}; inspector title {xt:?}");
    if !samples.contains("of 64") {
        fail("the samples pane title does not say \"of 64\"");
    }
    // At full size not all 16 forward images fit the inspector's half of a 160×48
    // screen: the title says which are shown, and `]` (with the inspector focused) turns
    // to the rest.
    let Some(shown) = xt
        .split(" · ")
        .find(|p| p.ends_with("of 16"))
        .map(str::to_string)
    else {
        fail("the inspector title does not say how many of the 16 images it shows");
    };
    if shown != "16 of 16" {
        let last: usize = shown
            .split(['–', ' '])
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| fail(&format!("cannot read the range in {shown:?}")));
        t.keys(&["Tab", "]"]);
        let next = format!("{}–", last + 1);
        let turned = (0..50).find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            let s = strip_ansi(&t.screen());
            s.lines()
                .find(|l| l.contains("x_t (t=") && l.contains(&next) && l.contains("of 16"))
                .map(str::to_string)
        });
        println!("tmux: inspector showed {shown:?}; after Tab ]: {turned:?}");
        if turned.is_none() {
            fail(&format!(
                "] did not turn the inspector to images from {}",
                last + 1
            ));
        }
    }
    if !lines
        .get(1)
        .is_some_and(|l| l.contains("images: half-blocks (tmux without passthrough)"))
    {
        fail("the status bar does not say \"images: half-blocks (tmux without passthrough)\"");
    }
    // Readable: the pictures are half-block cells in many shades.
    let blocks = plain.matches('▀').count() + plain.matches('▄').count();
    let shades: std::collections::BTreeSet<&str> = screen
        .split("\x1b[38;2;")
        .skip(1)
        .filter_map(|s| s.split('m').next())
        .collect();
    println!(
        "tmux: {blocks} half-block cells, {} foreground colours",
        shades.len()
    );
    if blocks < 1000 || shades.len() < 16 {
        fail(&format!(
            "the pictures are not drawn in half-blocks ({blocks} cells, {} colours)",
            shades.len()
        ));
    }
}
