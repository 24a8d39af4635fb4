//! Overlays over the main screen. Each variant owns its selection and its entries, so
//! opening one is a single assignment and closing one forgets it.

use super::{App, Effect, RunOrigin, RunSpec};
use crate::config::catalog::PresetEntry;
use crate::runs::listing::RunEntry;
use crate::tui::keymap::Action;
use crate::worker::wire::Want;
use std::path::PathBuf;

/// A question that waits for an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Quit,
    /// Quitting a run that trains in its own process: stop it (saving or not), or leave
    /// it running.
    Leave,
    /// Another workbench (process `pid`) controls the live run in `dir`: watch it or
    /// take over?
    Attach {
        dir: PathBuf,
        pid: u32,
    },
    Delete(PathBuf),
    /// Delete a run folder: its checkpoints (how many) and its log.
    DeleteRun {
        dir: PathBuf,
        checkpoints: usize,
    },
    NewRun(String),
}

/// A row of the browser: a run, or one of its checkpoints (run index, checkpoint index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserRow {
    Run(usize),
    Checkpoint(usize, usize),
}

/// The browser's rows: each run, then its checkpoints (newest first).
pub fn browser_rows(runs: &[RunEntry]) -> Vec<BrowserRow> {
    let mut v = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        v.push(BrowserRow::Run(i));
        v.extend((0..r.checkpoints.len()).map(|j| BrowserRow::Checkpoint(i, j)));
    }
    v
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    /// The sampler menu, with the field selected.
    Menu {
        field: usize,
    },
    /// The run and checkpoint browser (runs arrive from a scan); `sel` is a row of
    /// [`browser_rows`], `marked` the run folders marked for comparison.
    Browser {
        runs: Vec<RunEntry>,
        sel: usize,
        marked: Vec<PathBuf>,
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
            runs: Vec::new(),
            sel: 0,
            marked: Vec::new(),
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
        runs: Vec<RunEntry>,
        sel: usize,
        mut marked: Vec<PathBuf>,
    ) -> Vec<Effect> {
        let rows = browser_rows(&runs);
        let row = rows.get(sel).copied();
        let run = row.map(|r| match r {
            BrowserRow::Run(i) | BrowserRow::Checkpoint(i, _) => &runs[i],
        });
        let entry = match row {
            Some(BrowserRow::Checkpoint(i, j)) => runs[i].checkpoints.get(j),
            // A run row stands for its latest checkpoint.
            Some(BrowserRow::Run(i)) => runs[i].checkpoints.first(),
            None => None,
        };
        let corrupt = entry.and_then(|c| c.corrupt.clone());
        let checkpoint = entry.map(|c| c.dir.clone());
        let live = run.filter(|r| r.status.live()).map(|r| r.dir.clone());
        let start = |origin, train| Effect::StartRun {
            spec: RunSpec { origin, train },
            save_old: self.run.unsaved(),
        };
        match a {
            Action::Accept | Action::Resume if live.is_some() => {
                if let Some(dir) = live {
                    self.overlay = Overlay::None;
                    let fx = start(
                        RunOrigin::Live {
                            dir,
                            want: Want::Control,
                        },
                        true,
                    );
                    return vec![fx];
                }
            }
            Action::Accept | Action::Resume if corrupt.is_some() => {
                if let Some(why) = corrupt {
                    self.error(format!("not opened: {why}"));
                }
            }
            Action::Accept | Action::Resume => match checkpoint {
                Some(dir) => {
                    self.overlay = Overlay::None;
                    return vec![start(RunOrigin::Checkpoint(dir), a == Action::Resume)];
                }
                None => self.notify("this run has no checkpoint yet"),
            },
            Action::Delete => match row {
                Some(BrowserRow::Checkpoint(i, j)) if !runs[i].status.live() => {
                    let dir = runs[i].checkpoints[j].dir.clone();
                    self.overlay = Overlay::Browser { runs, sel, marked };
                    self.ask(Confirm::Delete(dir));
                    return vec![];
                }
                Some(BrowserRow::Run(i)) if !runs[i].status.live() => {
                    let ask = Confirm::DeleteRun {
                        dir: runs[i].dir.clone(),
                        checkpoints: runs[i].checkpoints.len(),
                    };
                    self.overlay = Overlay::Browser { runs, sel, marked };
                    self.ask(ask);
                    return vec![];
                }
                Some(_) => self.notify("this run is training now: stop it before deleting"),
                None => self.notify("no run to delete"),
            },
            Action::Mark => {
                if let Some(dir) = run.map(|r| r.dir.clone()) {
                    match marked.iter().position(|m| *m == dir) {
                        Some(p) => {
                            marked.remove(p);
                        }
                        None => marked.push(dir),
                    }
                }
            }
            Action::Compare if marked.len() >= 2 => {
                self.overlay = Overlay::None;
                self.notify(format!("comparing {} runs…", marked.len()));
                return vec![Effect::Compare(marked)];
            }
            Action::Compare => self.notify("mark two or more runs with Space, then press c"),
            Action::Close => return vec![],
            _ => {}
        }
        let sel = select(sel, rows.len(), a);
        self.overlay = Overlay::Browser { runs, sel, marked };
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

    /// The answer to the question about leaving a run that trains in its own process.
    pub(super) fn on_leave(&mut self, a: Action) -> Vec<Effect> {
        match a {
            // y (and Ctrl-C): stop training, saving first.
            Action::Yes | Action::Quit => self.quit(true),
            Action::No => self.quit(false),
            Action::Detach => self.detach(),
            _ => {
                if a != Action::Close {
                    self.overlay = Overlay::confirm(Confirm::Leave, Overlay::None);
                }
                vec![]
            }
        }
    }

    /// The answer to "another workbench controls this run".
    pub(super) fn on_attach(&mut self, a: Action, dir: PathBuf, pid: u32) -> Vec<Effect> {
        let want = match a {
            Action::Watch => Want::Watch,
            Action::TakeOver => Want::TakeOver,
            Action::Close | Action::Quit if self.run.preset.is_none() => return vec![Effect::Quit],
            Action::Close | Action::Quit => return vec![],
            _ => {
                self.overlay = Overlay::confirm(Confirm::Attach { dir, pid }, Overlay::None);
                return vec![];
            }
        };
        vec![Effect::StartRun {
            spec: RunSpec {
                origin: RunOrigin::Live { dir, want },
                train: true,
            },
            save_old: self.run.unsaved(),
        }]
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
            // Answered by their own handlers.
            Confirm::Leave | Confirm::Attach { .. } => vec![],
            Confirm::Delete(path) => {
                self.overlay = back;
                if yes {
                    vec![Effect::DeleteCheckpoint(path)]
                } else {
                    vec![]
                }
            }
            Confirm::DeleteRun { dir, .. } => {
                self.overlay = back;
                if yes {
                    vec![Effect::DeleteRun(dir)]
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
