//! The terminal workbench: `diffscope` with no arguments, or `diffscope tui`.
//!
//! [`app`] holds the state and its update function, [`panes`] draw it, [`event`] runs the
//! tokio event loop and the worker, [`keymap`] is the single table of keys.

pub mod app;
pub mod compare;
pub mod event;
pub mod gallery;
pub mod graphics;
pub mod history;
pub mod images;
pub mod inspect;
pub mod keymap;
pub mod panes;
pub mod probe;
pub mod signals;
pub mod theme;
pub mod ui;

use crate::worker::wire::Want;
use app::{App, RunOrigin, RunSpec};
use images::ImageProtocol;
use serde::Deserialize;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// How to start the workbench.
#[derive(Debug, Clone, Default)]
pub struct TuiOptions {
    /// A preset name or path (default: [`crate::config::DEFAULT_PRESET`]).
    pub preset: Option<String>,
    /// Open a checkpoint for inspection instead of training.
    pub checkpoint: Option<PathBuf>,
    /// Overrides the detection and the config setting.
    pub image_protocol: Option<ImageProtocol>,
    pub device: String,
    /// libtorch threads on the worker (None: the preset's).
    pub threads: Option<usize>,
    /// A theme name (overrides the config setting).
    pub theme: Option<String>,
    /// Attach to the live run in this run folder (`diffscope attach`).
    pub attach: Option<PathBuf>,
    /// How to attach: control (the default), watch, or take over.
    pub want: Want,
}

/// `<config>/tui.ron`: settings for the workbench.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// auto, kitty, sixel, iterm2 or halfblocks.
    pub image_protocol: Option<ImageProtocol>,
    /// The theme to start with.
    pub theme: Option<String>,
    /// What a hang-up (a closed terminal or SSH connection) does to a run training in
    /// its own process: `Detach` (the default: it goes on) or `SaveAndStop`.
    pub on_hangup: app::Hangup,
}

impl Settings {
    /// Reads `<config>/tui.ron` when it exists.
    pub fn load() -> Result<Settings, String> {
        let Some(path) = crate::config::paths::config_dir().map(|d| d.join("tui.ron")) else {
            return Ok(Settings::default());
        };
        let settings: Settings = match std::fs::read_to_string(&path) {
            Ok(text) => theme::parse_ron(&text, &path).map_err(|e| crate::util::one_line(&e))?,
            Err(_) => return Ok(Settings::default()),
        };
        if let Some(name) = &settings.theme {
            theme::position(&theme::load_all().0, name)
                .map_err(|e| format!("{}: theme {name:?}: {e}", path.display()))?;
        }
        Ok(settings)
    }
}

/// The message for a stdout that is not a terminal.
pub(crate) fn not_a_terminal_message() -> String {
    "the workbench needs an interactive terminal (stdout is not one); use the headless \
     commands instead: `diffscope train`, `diffscope sample` or `diffscope schedule` \
     (see `diffscope --help`)"
        .into()
}

/// The message for a terminal that is too small.
pub(crate) fn too_small_message(w: u16, h: u16) -> String {
    format!(
        "the terminal is {w}×{h}; the workbench needs at least {}×{}. Enlarge it, or use the \
         headless commands: `diffscope train`, `diffscope sample` (see `diffscope --help`)",
        ui::MIN_WIDTH,
        ui::MIN_HEIGHT
    )
}

/// What to open first.
pub(crate) fn first_spec(opts: &TuiOptions) -> RunSpec {
    if let Some(dir) = &opts.attach {
        return RunSpec {
            origin: RunOrigin::Live {
                dir: dir.clone(),
                want: opts.want,
            },
            train: true,
        };
    }
    match (&opts.checkpoint, &opts.preset) {
        (Some(c), _) => RunSpec {
            origin: RunOrigin::Checkpoint(c.clone()),
            train: false,
        },
        (None, Some(p)) => RunSpec {
            origin: RunOrigin::Preset(p.clone()),
            train: true,
        },
        (None, None) => RunSpec {
            origin: RunOrigin::Preset(crate::config::DEFAULT_PRESET.into()),
            train: true,
        },
    }
}

/// Resolves the first run before the workbench starts, so that bad input (a corrupt
/// checkpoint among it) is a plain one-line error and the screen is never touched.
pub fn first_plan(opts: &TuiOptions) -> Result<crate::runs::RunPlan, String> {
    event::plan(&first_spec(opts))
}

/// The themes and the index to start with (monochrome when `NO_COLOR` is set).
pub fn themes(wanted: Option<&str>) -> (Vec<theme::Theme>, usize, Vec<String>) {
    let (themes, warnings) = theme::load_all();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let name = if no_color { Some("monochrome") } else { wanted };
    let idx = name
        .and_then(|n| themes.iter().position(|t| t.name == n))
        .unwrap_or(0);
    (themes, idx, warnings)
}

fn restore_terminal() {
    use crossterm::{cursor, execute, terminal};
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
}

/// The last panic message seen on the worker thread (reported if the worker dies).
pub static WORKER_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Restores the terminal even when a panic unwinds out of the UI. Panics on the worker
/// thread are mostly caught there and reported as events, so they are kept off the screen
/// and remembered instead.
fn install_panic_hook() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("diffscope-worker") {
            let p = info.payload();
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown error".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            if let Ok(mut g) = WORKER_PANIC.lock() {
                *g = Some(format!("{}{at}", msg.lines().next().unwrap_or("")));
            }
            return;
        }
        restore_terminal();
        prev(info);
    }));
}

/// Runs the workbench until the user quits. Its errors, like the command line's, are
/// `anyhow` errors; inside, the workbench carries one-line messages for its notices.
pub fn run(opts: TuiOptions) -> anyhow::Result<()> {
    run_workbench(opts).map_err(anyhow::Error::msg)
}

fn run_workbench(opts: TuiOptions) -> Result<(), String> {
    if let Some(name) = &opts.theme {
        theme::position(&theme::load_all().0, name).map_err(|e| format!("--theme {name}: {e}"))?;
    }
    if !std::io::stdout().is_terminal() {
        return Err(not_a_terminal_message());
    }
    let (w, h) =
        crossterm::terminal::size().map_err(|e| format!("cannot read the terminal size: {e}"))?;
    if w < ui::MIN_WIDTH || h < ui::MIN_HEIGHT {
        return Err(too_small_message(w, h));
    }
    let settings = Settings::load()?;
    let device = crate::train::parse_device(&opts.device).map_err(|e| crate::util::one_line(&e))?;
    // Resolve the first run before touching the terminal, so bad input is a plain error.
    let first = first_plan(&opts)?;
    let (themes, theme_idx, warnings) = themes(opts.theme.as_deref().or(settings.theme.as_deref()));
    let choice = opts
        .image_protocol
        .or(settings.image_protocol)
        .unwrap_or(ImageProtocol::Auto);
    // The terminal query must come before raw mode and the event stream.
    let (graphics, notice) = images::setup(choice);
    let mut app = App::new(themes, theme_idx, graphics.clone());
    app.hangup = settings.on_hangup;
    if let Some(w) = warnings.first() {
        app.update(app::Msg::RunFailed(format!("theme ignored: {w}")));
    }
    if let Some(n) = notice {
        app.update(app::Msg::RunFailed(n));
    }
    let mut rt = event::Runtime::new(graphics, device, opts.threads.unwrap_or(0));

    install_panic_hook();
    crossterm::terminal::enable_raw_mode().map_err(|e| format!("cannot enter raw mode: {e}"))?;
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::cursor::Hide
    );
    let result = (|| {
        let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
        let mut terminal = ratatui::Terminal::new(backend)
            .map_err(|e| format!("cannot open the terminal: {e}"))?;
        event::clear(&mut terminal);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the event loop: {e}"))?;
        runtime.block_on(async {
            let started = rt.start(first, false);
            let fx = app.update(started);
            let input = event::terminal_events();
            event::run_loop(&mut terminal, &mut app, &mut rt, input, fx).await
        })
    })();
    restore_terminal();
    rt.finish();
    if let (Ok(()), Some(f)) = (&result, &app.farewell) {
        let pid = match f {
            app::Farewell::Detached(dir) => crate::runs::runfolder::holder(dir).and_then(|p| p.0),
            _ => None,
        };
        // The terminal may be gone (a hang-up): a failed write is not an error.
        let _ = writeln!(std::io::stdout(), "{}", f.lines(pid));
    }
    result
}
