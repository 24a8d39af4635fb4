//! The key map: one table of (key, context, action, description, when it applies). The
//! footer hints and the help overlay are both generated from it, so they never disagree
//! with what the keys do, and neither offers a key that does not apply to the open run.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The main screen.
    Main,
    /// The process inspector (also on the main screen).
    Inspector,
    /// The sampler menu.
    Menu,
    /// The checkpoint browser.
    Browser,
    /// The preset picker.
    Picker,
    /// The go-to-t prompt.
    Goto,
    /// A yes/no question.
    Confirm,
    /// Quitting a run that trains in its own process.
    Leave,
    /// Attaching to a run that another workbench controls.
    Attach,
    /// The help overlay.
    Help,
    /// Every screen and overlay but a question.
    Anywhere,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Main => "Training and views",
            Context::Inspector => "Process inspector",
            Context::Menu => "Sampler menu",
            Context::Browser => "Checkpoint browser",
            Context::Picker => "Preset picker",
            Context::Goto => "Go to t",
            Context::Confirm => "Questions",
            Context::Leave => "Quitting a background run",
            Context::Attach => "A run another workbench controls",
            Context::Help => "Help",
            Context::Anywhere => "Anywhere",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Leave the workbench; the run's own process goes on training.
    Detach,
    /// Mark a run in the browser for comparison.
    Mark,
    /// Compare the marked runs.
    Compare,
    /// Attach read-only.
    Watch,
    /// Attach and take over control.
    TakeOver,
    Help,
    TogglePause,
    SampleNow,
    SamplerMenu,
    Save,
    Browser,
    Presets,
    CycleTheme,
    ToggleEma,
    ToggleLogScale,
    ToggleQuarters,
    ToggleSchedule,
    BoundView,
    /// Sample quality against network evaluations (a sweep of samplers and step counts).
    SweepChart,
    /// Class agreement and Fréchet distance against the guidance scale w (a
    /// class-conditional model).
    GuidanceChart,
    /// Draw this class in the next samples (a class-conditional model).
    Class(u8),
    /// Draw every class in the next samples, one per row.
    AllClasses,
    ToggleMode,
    StepBack,
    StepForward,
    JumpBack,
    JumpForward,
    First,
    Last,
    GotoT,
    Play,
    /// Two samplers from the same x_T, side by side (or close them).
    ComparePair,
    FocusNext,
    Zoom,
    PageNext,
    PagePrev,
    Up,
    Down,
    Decrease,
    Increase,
    Accept,
    Resume,
    Delete,
    Close,
    /// A digit typed into a prompt.
    Digit(u8),
    Backspace,
    Yes,
    No,
}

/// How a key is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    /// Only Control and Shift are compared (Shift only for non-character keys).
    pub mods: KeyModifiers,
}

/// When a binding applies to the run that is open: the footer and the help show only
/// those that do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Always,
    /// A run that trains (not a checkpoint opened for inspection) and whose worker is up.
    Training,
    /// A run that trains in a process of its own, which goes on without the workbench.
    Detachable,
    /// The inspector shows the reverse process (the sampler's trajectory).
    Reverse,
    /// The model is class-conditional (it has classes to draw and a guidance scale).
    Conditional,
}

/// What the open run allows, for [`Applies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Situation {
    pub training: bool,
    pub detachable: bool,
    /// The inspector shows the reverse process.
    pub reverse: bool,
    /// The model is class-conditional.
    pub conditional: bool,
}

impl Situation {
    pub(crate) fn allows(&self, a: Applies) -> bool {
        match a {
            Applies::Always => true,
            Applies::Training => self.training,
            Applies::Detachable => self.detachable,
            Applies::Reverse => self.reverse,
            Applies::Conditional => self.conditional,
        }
    }
}

pub struct Binding {
    pub key: Key,
    pub label: &'static str,
    pub context: Context,
    pub action: Action,
    pub description: &'static str,
    /// A short label for the footer ("": not shown there).
    pub hint: &'static str,
    pub applies: Applies,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: NONE,
    }
}
const fn k(code: KeyCode, mods: KeyModifiers) -> Key {
    Key { code, mods }
}

macro_rules! b {
    ($key:expr, $label:expr, $ctx:ident, $act:ident, $desc:expr, $hint:expr) => {
        b!($key, $label, $ctx, $act, $desc, $hint, Always)
    };
    ($key:expr, $label:expr, $ctx:ident, $act:ident, $desc:expr, $hint:expr, $applies:ident) => {
        Binding {
            key: $key,
            label: $label,
            context: Context::$ctx,
            action: Action::$act,
            description: $desc,
            hint: $hint,
            applies: Applies::$applies,
        }
    };
}

macro_rules! digits {
    ($($d:literal),*) => {
        [$(Binding {
            key: ch((b'0' + $d) as char),
            label: "0-9",
            context: Context::Goto,
            action: Action::Digit($d),
            description: "type a digit of t",
            hint: "",
            applies: Applies::Always,
        }),*]
    };
}
const DIGITS: [Binding; 10] = digits!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);

/// The digits on the main screen: the class of the next samples. While the go-to prompt
/// is open its context comes first, so digits go to the prompt.
macro_rules! classes {
    ($($d:literal),*) => {
        [$(Binding {
            key: ch((b'0' + $d) as char),
            label: "0-9",
            context: Context::Main,
            action: Action::Class($d),
            description: "sample this class (a class-conditional model)",
            hint: if $d == 0 { "class" } else { "" },
            applies: Applies::Conditional,
        }),*]
    };
}
const CLASS_DIGITS: [Binding; 10] = classes!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);

/// Every binding but the digits of the main screen ([`CLASS_DIGITS`]) and of the go-to
/// prompt ([`DIGITS`]). Earlier entries win when two match.
pub const BINDINGS: &[Binding] = &[
    b!(
        ch('q'),
        "q",
        Main,
        Quit,
        "quit (offers to save, or to leave training running)",
        "quit"
    ),
    b!(
        ch('d'),
        "d",
        Main,
        Detach,
        "detach: leave the workbench, training goes on",
        "detach",
        Detachable
    ),
    b!(
        k(KeyCode::Esc, NONE),
        "Esc",
        Main,
        Close,
        "leave a comparison (of runs, or of samplers)",
        ""
    ),
    b!(ch('?'), "?", Main, Help, "help", "help"),
    b!(
        ch(' '),
        "space",
        Main,
        TogglePause,
        "pause / resume training",
        "pause",
        Training
    ),
    b!(ch('s'), "s", Main, SampleNow, "sample now", "sample"),
    b!(ch('m'), "m", Main, SamplerMenu, "sampler menu", "sampler"),
    b!(
        ch('w'),
        "w",
        Main,
        Save,
        "save a checkpoint",
        "save",
        Training
    ),
    b!(
        ch('c'),
        "c",
        Main,
        Browser,
        "checkpoint browser",
        "checkpoints"
    ),
    b!(ch('p'), "p", Main, Presets, "preset picker", "presets"),
    b!(ch('t'), "t", Main, CycleTheme, "cycle themes", ""),
    b!(ch('e'), "e", Main, ToggleEma, "EMA / raw weights", ""),
    b!(ch('l'), "l", Main, ToggleLogScale, "loss: log / linear", ""),
    b!(
        ch('u'),
        "u",
        Main,
        ToggleQuarters,
        "loss: per quarter of t",
        ""
    ),
    b!(ch('v'), "v", Main, ToggleSchedule, "schedule view", ""),
    b!(
        ch('b'),
        "b",
        Main,
        BoundView,
        "bound terms and quality",
        "bound"
    ),
    b!(
        ch('n'),
        "n",
        Main,
        SweepChart,
        "sweep: sample quality against network evaluations",
        ""
    ),
    b!(
        ch('G'),
        "G",
        Main,
        GuidanceChart,
        "guidance sweep: class agreement and Fréchet against w",
        "",
        Conditional
    ),
    b!(
        ch('*'),
        "*",
        Main,
        AllClasses,
        "sample every class, one per row",
        "",
        Conditional
    ),
    b!(
        ch('f'),
        "f",
        Inspector,
        ToggleMode,
        "forward / reverse process",
        "fwd/rev"
    ),
    b!(
        k(KeyCode::Left, NONE),
        "←",
        Inspector,
        StepBack,
        "t − 1",
        ""
    ),
    b!(
        k(KeyCode::Right, NONE),
        "→",
        Inspector,
        StepForward,
        "t + 1",
        ""
    ),
    b!(
        k(KeyCode::Left, SHIFT),
        "S-←",
        Inspector,
        JumpBack,
        "t − 10% of T",
        ""
    ),
    b!(
        k(KeyCode::Right, SHIFT),
        "S-→",
        Inspector,
        JumpForward,
        "t + 10% of T",
        ""
    ),
    b!(
        k(KeyCode::PageDown, NONE),
        "PgDn",
        Inspector,
        JumpBack,
        "t − 10% of T",
        ""
    ),
    b!(
        k(KeyCode::PageUp, NONE),
        "PgUp",
        Inspector,
        JumpForward,
        "t + 10% of T",
        ""
    ),
    b!(
        k(KeyCode::Home, NONE),
        "Home",
        Inspector,
        First,
        "t = 0 (data)",
        ""
    ),
    b!(
        k(KeyCode::End, NONE),
        "End",
        Inspector,
        Last,
        "t = T (noise)",
        ""
    ),
    b!(ch('g'), "g", Inspector, GotoT, "go to a typed t", "go to t"),
    b!(
        ch('a'),
        "a",
        Inspector,
        Play,
        "play / stop through t",
        "play"
    ),
    b!(
        ch('x'),
        "x",
        Inspector,
        ComparePair,
        "compare two samplers from the same x_T (menu: sampler, compare with)",
        "compare",
        Reverse
    ),
    b!(
        k(KeyCode::Tab, NONE),
        "Tab",
        Main,
        FocusNext,
        "focus the next pane (loss, samples, inspector)",
        ""
    ),
    b!(
        ch('z'),
        "z",
        Main,
        Zoom,
        "zoom: the focused pane fills the screen",
        "zoom"
    ),
    b!(
        ch(']'),
        "]",
        Main,
        PageNext,
        "next page of images (focused pane)",
        ""
    ),
    b!(
        ch('['),
        "[",
        Main,
        PagePrev,
        "previous page of images (focused pane)",
        ""
    ),
    b!(
        k(KeyCode::Up, NONE),
        "↑",
        Menu,
        Up,
        "previous field",
        "field"
    ),
    b!(k(KeyCode::Down, NONE), "↓", Menu, Down, "next field", ""),
    b!(
        k(KeyCode::Left, NONE),
        "←",
        Menu,
        Decrease,
        "change the value",
        "change"
    ),
    b!(
        k(KeyCode::Right, NONE),
        "→",
        Menu,
        Increase,
        "change the value",
        ""
    ),
    b!(
        k(KeyCode::Enter, NONE),
        "Enter",
        Menu,
        Accept,
        "sample with these",
        "sample"
    ),
    b!(k(KeyCode::Esc, NONE), "Esc", Menu, Close, "close", "close"),
    b!(k(KeyCode::Up, NONE), "↑", Browser, Up, "previous", ""),
    b!(k(KeyCode::Down, NONE), "↓", Browser, Down, "next", ""),
    b!(
        k(KeyCode::Enter, NONE),
        "Enter",
        Browser,
        Accept,
        "open: attach to a live run, else inspect",
        "inspect"
    ),
    b!(
        ch('r'),
        "r",
        Browser,
        Resume,
        "resume training from it",
        "resume"
    ),
    b!(
        ch('d'),
        "d",
        Browser,
        Delete,
        "delete (asks first)",
        "delete"
    ),
    b!(
        k(KeyCode::Esc, NONE),
        "Esc",
        Browser,
        Close,
        "close",
        "close"
    ),
    b!(
        ch(' '),
        "space",
        Browser,
        Mark,
        "mark the run for comparison",
        "mark"
    ),
    b!(
        ch('c'),
        "c",
        Browser,
        Compare,
        "compare the marked runs",
        "compare"
    ),
    b!(k(KeyCode::Up, NONE), "↑", Picker, Up, "previous", ""),
    b!(k(KeyCode::Down, NONE), "↓", Picker, Down, "next", ""),
    b!(
        k(KeyCode::Enter, NONE),
        "Enter",
        Picker,
        Accept,
        "new run (asks first)",
        "new run"
    ),
    b!(
        k(KeyCode::Esc, NONE),
        "Esc",
        Picker,
        Close,
        "close",
        "close"
    ),
    b!(
        k(KeyCode::Backspace, NONE),
        "⌫",
        Goto,
        Backspace,
        "delete a digit",
        ""
    ),
    b!(
        k(KeyCode::Enter, NONE),
        "Enter",
        Goto,
        Accept,
        "go there",
        "go"
    ),
    b!(
        k(KeyCode::Esc, NONE),
        "Esc",
        Goto,
        Close,
        "cancel",
        "cancel"
    ),
    b!(ch('y'), "y", Confirm, Yes, "yes", "yes"),
    b!(ch('Y'), "Y", Confirm, Yes, "yes", ""),
    b!(ch('n'), "n", Confirm, No, "no", "no"),
    b!(ch('N'), "N", Confirm, No, "no", ""),
    b!(k(KeyCode::Esc, NONE), "Esc", Confirm, Close, "back", "back"),
    b!(
        k(KeyCode::Char('c'), CTRL),
        "^C",
        Confirm,
        Quit,
        "quit (when asked about quitting: save and quit)",
        ""
    ),
    b!(
        ch('y'),
        "y",
        Leave,
        Yes,
        "stop training, save a checkpoint, quit",
        "stop and save",
        Detachable
    ),
    b!(
        ch('n'),
        "n",
        Leave,
        No,
        "stop training without saving, quit",
        "stop",
        Detachable
    ),
    b!(
        ch('d'),
        "d",
        Leave,
        Detach,
        "detach: quit, training goes on",
        "leave running",
        Detachable
    ),
    b!(
        k(KeyCode::Esc, NONE),
        "Esc",
        Leave,
        Close,
        "back",
        "back",
        Detachable
    ),
    b!(
        k(KeyCode::Char('c'), CTRL),
        "^C",
        Leave,
        Quit,
        "stop training, save a checkpoint, quit",
        "",
        Detachable
    ),
    b!(ch('w'), "w", Attach, Watch, "watch it read-only", "watch"),
    b!(
        ch('t'),
        "t",
        Attach,
        TakeOver,
        "take over control (the other one watches)",
        "take over"
    ),
    b!(
        k(KeyCode::Esc, NONE),
        "Esc",
        Attach,
        Close,
        "cancel",
        "cancel"
    ),
    b!(ch('q'), "q", Attach, Quit, "cancel", ""),
    b!(
        k(KeyCode::Esc, NONE),
        "Esc",
        Help,
        Close,
        "close the help",
        "close"
    ),
    b!(ch('?'), "?", Help, Close, "close the help", ""),
    b!(ch('q'), "q", Help, Close, "close the help", ""),
    b!(
        k(KeyCode::Up, NONE),
        "↑",
        Help,
        Up,
        "scroll up a line",
        "scroll"
    ),
    b!(
        k(KeyCode::Down, NONE),
        "↓",
        Help,
        Down,
        "scroll down a line",
        ""
    ),
    b!(
        k(KeyCode::PageUp, NONE),
        "PgUp",
        Help,
        PagePrev,
        "scroll up a screen",
        ""
    ),
    b!(
        k(KeyCode::PageDown, NONE),
        "PgDn",
        Help,
        PageNext,
        "scroll down a screen",
        "page"
    ),
    b!(k(KeyCode::Home, NONE), "Home", Help, First, "the top", ""),
    b!(k(KeyCode::End, NONE), "End", Help, Last, "the end", ""),
    b!(
        k(KeyCode::Char('c'), CTRL),
        "^C",
        Anywhere,
        Quit,
        "quit",
        ""
    ),
];

fn matches(key: &Key, ev: &KeyEvent) -> bool {
    match (key.code, ev.code) {
        (KeyCode::Char(a), KeyCode::Char(b)) => {
            a == b
                && key.mods.contains(KeyModifiers::CONTROL)
                    == ev.modifiers.contains(KeyModifiers::CONTROL)
        }
        (a, b) => {
            let m = KeyModifiers::CONTROL | KeyModifiers::SHIFT;
            a == b && key.mods & m == ev.modifiers & m
        }
    }
}

/// The action of a key press in the given contexts (searched in order).
pub(crate) fn lookup(contexts: &[Context], ev: &KeyEvent) -> Option<Action> {
    contexts.iter().find_map(|c| {
        all()
            .find(|b| b.context == *c && matches(&b.key, ev))
            .map(|b| b.action)
    })
}

/// Every binding, the digits included.
pub fn all() -> impl Iterator<Item = &'static Binding> {
    // the class digits first: their hint leads the main screen's in the footer
    CLASS_DIGITS
        .iter()
        .chain(BINDINGS.iter())
        .chain(DIGITS.iter())
}

/// Footer hints for the given contexts, of the bindings that apply: (key label, short
/// description).
pub fn hints(contexts: &[Context], now: &Situation) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::new();
    for c in contexts {
        for b in all().filter(|b| b.context == *c && !b.hint.is_empty() && now.allows(b.applies)) {
            v.push((b.label, b.hint));
        }
    }
    v
}
