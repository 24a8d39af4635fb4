//! Overlays over the main screen. Each variant owns its selection and its entries, so
//! opening one is a single assignment and closing one forgets it.

use super::{App, Effect, RunOrigin, RunSpec};
use crate::config::catalog::PresetEntry;
use crate::train::runs::CheckpointEntry;
use crate::tui::keymap::Action;
use std::path::PathBuf;

/// A question that waits for y or n.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Quit,
    Delete(PathBuf),
    NewRun(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    /// The sampler menu, with the field selected.
    Menu {
        field: usize,
    },
    /// The checkpoint browser (entries arrive from a scan).
    Browser {
        entries: Vec<CheckpointEntry>,
        sel: usize,
    },
    /// The preset picker (entries arrive from a scan).
    Picker {
        entries: Vec<PresetEntry>,
        sel: usize,
    },
    /// The go-to-t prompt and what has been typed.
    Goto(String),
    /// A confirmation, and the overlay to go back to when the answer is no.
    Confirm {
        ask: Confirm,
        back: Box<Overlay>,
    },
}

impl Overlay {
    pub fn browser() -> Overlay {
        Overlay::Browser {
            entries: Vec::new(),
            sel: 0,
        }
    }

    pub fn picker() -> Overlay {
        Overlay::Picker {
            entries: Vec::new(),
            sel: 0,
        }
    }

    fn confirm(ask: Confirm, back: Overlay) -> Overlay {
        Overlay::Confirm {
            ask,
            back: Box::new(back),
        }
    }
}

/// Moves a selection among `n` entries.
fn select(sel: usize, n: usize, a: Action) -> usize {
    match a {
        Action::Up => sel.saturating_sub(1),
        Action::Down => (sel + 1).min(n.saturating_sub(1)),
        _ => sel.min(n.saturating_sub(1)),
    }
}

impl App {
    /// Opens a confirmation over the current overlay.
    pub(super) fn ask(&mut self, ask: Confirm) {
        let back = std::mem::replace(&mut self.overlay, Overlay::None);
        self.overlay = Overlay::confirm(ask, back);
    }

    pub(super) fn on_browser(
        &mut self,
        a: Action,
        entries: Vec<CheckpointEntry>,
        sel: usize,
    ) -> Vec<Effect> {
        let chosen = entries.get(sel).map(|c| c.dir.clone());
        match (a, chosen) {
            (Action::Accept | Action::Resume, Some(dir)) => {
                self.overlay = Overlay::None;
                return vec![Effect::StartRun {
                    spec: RunSpec {
                        origin: RunOrigin::Checkpoint(dir),
                        train: a == Action::Resume,
                    },
                    save_old: self.run.unsaved(),
                }];
            }
            (Action::Delete, Some(dir)) => {
                self.overlay = Overlay::Browser { entries, sel };
                self.ask(Confirm::Delete(dir));
                return vec![];
            }
            (Action::Close, _) => self.overlay = Overlay::None,
            _ => {
                let sel = select(sel, entries.len(), a);
                self.overlay = Overlay::Browser { entries, sel };
            }
        }
        vec![]
    }

    pub(super) fn on_picker(
        &mut self,
        a: Action,
        entries: Vec<PresetEntry>,
        sel: usize,
    ) -> Vec<Effect> {
        match a {
            Action::Close => self.overlay = Overlay::None,
            Action::Accept => {
                let source = entries.get(sel).map(|p| p.source.clone());
                self.overlay = Overlay::Picker { entries, sel };
                if let Some(source) = source {
                    self.ask(Confirm::NewRun(source));
                }
            }
            _ => {
                let sel = select(sel, entries.len(), a);
                self.overlay = Overlay::Picker { entries, sel };
            }
        }
        vec![]
    }

    pub(super) fn on_goto(&mut self, a: Action, mut typed: String) -> Vec<Effect> {
        match a {
            Action::Digit(d) if typed.len() < 7 => typed.push(char::from(b'0' + d)),
            Action::Backspace => {
                typed.pop();
            }
            Action::Accept => {
                if let Ok(t) = typed.parse::<usize>() {
                    self.set_t(t);
                }
                return vec![];
            }
            Action::Close => return vec![],
            _ => {}
        }
        self.overlay = Overlay::Goto(typed);
        vec![]
    }

    pub(super) fn on_confirm(&mut self, a: Action, ask: Confirm, back: Overlay) -> Vec<Effect> {
        let answer = match a {
            Action::Yes => Some(true),
            Action::No => Some(false),
            // Ctrl-C over the quit question saves and quits, like y.
            Action::Quit if ask == Confirm::Quit => Some(true),
            Action::Quit => return self.key_quit(),
            Action::Close => {
                self.overlay = if ask == Confirm::Quit {
                    Overlay::None
                } else {
                    back
                };
                return vec![];
            }
            _ => None,
        };
        let Some(yes) = answer else {
            self.overlay = Overlay::confirm(ask, back);
            return vec![];
        };
        match ask {
            Confirm::Quit => self.quit(yes),
            Confirm::Delete(path) => {
                self.overlay = back;
                if yes {
                    vec![Effect::DeleteCheckpoint(path)]
                } else {
                    vec![]
                }
            }
            Confirm::NewRun(source) => {
                if !yes {
                    self.overlay = back;
                    return vec![];
                }
                vec![Effect::StartRun {
                    spec: RunSpec {
                        origin: RunOrigin::Preset(source),
                        train: true,
                    },
                    save_old: self.run.unsaved(),
                }]
            }
        }
    }
}
