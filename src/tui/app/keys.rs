//! Key presses: looked up in the key table for the contexts that apply, then handed to the
//! main screen or to the open overlay.

use super::{App, Confirm, Effect, Focus, Overlay};
use crate::tui::keymap::{self, Action};
use crate::worker::protocol::Command;
use crossterm::event::{KeyEvent, KeyEventKind};

impl App {
    pub(super) fn on_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.kind == KeyEventKind::Release {
            return vec![];
        }
        let Some(action) = keymap::lookup(&self.contexts(), &k) else {
            return vec![];
        };
        // The overlay is taken out, handled, and put back (or replaced) by its handler.
        match std::mem::replace(&mut self.overlay, Overlay::None) {
            Overlay::None => self.on_main(action),
            Overlay::Help => self.on_help(action),
            Overlay::Menu { field } => match action {
                Action::Quit => self.key_quit(),
                _ => self.on_menu(action, field),
            },
            Overlay::Browser { runs, sel, marked } => match action {
                Action::Quit => self.key_quit(),
                _ => self.on_browser(action, runs, sel, marked),
            },
            Overlay::Picker { entries, sel } => match action {
                Action::Quit => self.key_quit(),
                _ => self.on_picker(action, entries, sel),
            },
            Overlay::Goto(typed) => match action {
                Action::Quit => self.key_quit(),
                _ => self.on_goto(action, typed),
            },
            Overlay::Confirm {
                ask: Confirm::Leave,
                ..
            } => self.on_leave(action),
            Overlay::Confirm {
                ask: Confirm::Attach { dir, pid },
                ..
            } => self.on_attach(action, dir, pid),
            Overlay::Confirm { ask, back } => self.on_confirm(action, ask, *back),
        }
    }

    /// q or Ctrl-C: asks first when training has unsaved steps, or whether a run in its
    /// own process should go on; a run this workbench only watches is left as it is, and
    /// a finished run whose last step is saved just closes.
    pub(super) fn key_quit(&mut self) -> Vec<Effect> {
        let r = &self.run;
        if r.remote && r.alive && !self.quitting {
            if r.watching {
                return self.detach();
            }
            if r.finished && !r.unsaved() {
                return self.quit(false);
            }
            self.overlay = Overlay::None;
            self.ask(Confirm::Leave);
            return vec![];
        }
        if self.quitting || !self.run.unsaved() {
            self.quit(false)
        } else {
            self.overlay = Overlay::None;
            self.ask(Confirm::Quit);
            vec![]
        }
    }

    fn on_main(&mut self, a: Action) -> Vec<Effect> {
        let tenth = (self.timesteps() / 10).max(1) as i64;
        let steers = matches!(
            a,
            Action::TogglePause
                | Action::SampleNow
                | Action::Save
                | Action::ToggleEma
                | Action::Class(_)
                | Action::AllClasses
        );
        if steers && self.run.watching {
            self.notify("watching read-only: another workbench controls this run");
            return vec![];
        }
        match a {
            Action::Quit => return self.key_quit(),
            Action::Detach if self.run.remote && self.run.alive => return self.detach(),
            Action::Detach => {
                self.notify("nothing to detach from: no training process runs for this workbench")
            }
            Action::Close if self.inspector.pair.is_some() => return self.toggle_pair(),
            Action::ComparePair => return self.toggle_pair(),
            Action::Close if self.compare.is_some() => {
                self.compare = None;
                self.notify("comparison closed");
            }
            Action::Help => {
                self.view.help_scroll = 0;
                self.overlay = Overlay::Help;
            }
            Action::TogglePause => {
                let r = &self.run;
                if !r.training || !r.alive {
                    self.notify("not training: this checkpoint is open for inspection");
                } else if r.stopped.is_some() {
                    self.error("training has stopped; open a checkpoint with c to go on");
                } else {
                    return vec![Effect::Send(if r.paused {
                        Command::Resume
                    } else {
                        Command::Pause
                    })];
                }
            }
            Action::SampleNow => {
                if self.run.sampling.is_some() {
                    self.notify("already sampling; another run is queued");
                }
                return self.sample_request();
            }
            Action::SamplerMenu => self.overlay = Overlay::Menu { field: 0 },
            Action::Save if !self.run.training => {
                self.notify("nothing to save: a checkpoint open for inspection is on disk already")
            }
            Action::Save if self.run.alive => {
                self.notify("saving…");
                return vec![Effect::Send(Command::Save { manual: true })];
            }
            Action::Save => self.notify("nothing to save: this run's worker has stopped"),
            Action::Browser => {
                self.overlay = Overlay::browser();
                return vec![Effect::ScanRuns];
            }
            Action::Presets => {
                self.overlay = Overlay::picker();
                return vec![Effect::ScanPresets];
            }
            Action::CycleTheme => {
                self.theme_idx = (self.theme_idx + 1) % self.themes.len();
                let name = self.theme().name.clone();
                self.notify(format!("theme: {name}"));
            }
            Action::ToggleEma => {
                self.sampler.ema = !self.sampler.ema;
                let w = if self.sampler.ema { "EMA" } else { "raw" };
                self.notify(format!("sampling with the {w} weights"));
                return self.sample_request();
            }
            Action::ToggleLogScale => self.view.log_scale = !self.view.log_scale,
            Action::ToggleQuarters => self.view.quarters = !self.view.quarters,
            Action::ToggleSchedule => self.view.schedule = !self.view.schedule,
            Action::BoundView => return self.toggle_bound_view(),
            Action::SweepChart => return self.toggle_sweep(),
            Action::GuidanceChart => return self.toggle_guidance_sweep(),
            Action::Class(c) => return self.choose_class(Some(c)),
            Action::AllClasses => return self.choose_class(None),
            Action::ToggleMode => self.toggle_mode(),
            Action::StepBack => self.move_t(-1),
            Action::StepForward => self.move_t(1),
            Action::JumpBack => self.move_t(-tenth),
            Action::JumpForward => self.move_t(tenth),
            Action::First => self.set_t(0),
            Action::Last => self.set_t(self.timesteps()),
            Action::GotoT => self.overlay = Overlay::Goto(String::new()),
            Action::Play => self.toggle_play(),
            Action::FocusNext => self.view.focus = self.view.focus.next(),
            // The first image in view stays so: the panes show the page that holds it.
            Action::Zoom => self.view.zoom = !self.view.zoom,
            Action::PageNext => self.turn_page(true),
            Action::PagePrev => self.turn_page(false),
            _ => {}
        }
        vec![]
    }

    /// Shows or hides the bound's terms; evaluates when the figures are older than the
    /// weights shown.
    fn toggle_bound_view(&mut self) -> Vec<Effect> {
        self.view.terms = !self.view.terms;
        let r = &self.run;
        let stale = r
            .evaluation
            .as_ref()
            .is_none_or(|e| e.step != r.step || e.ema != self.sampler.ema);
        if !(self.view.terms && stale && r.evaluating.is_none() && r.alive && !r.watching) {
            return vec![];
        }
        let id = self.next_id();
        self.run.evaluating = Some(id);
        self.notify("evaluating the bound and sample quality…");
        vec![Effect::Send(Command::Evaluate {
            id,
            ema: self.sampler.ema,
        })]
    }

    /// Pages through the images of the focused pane (the samples when the loss pane has
    /// the focus), wrapping around at either end.
    fn turn_page(&mut self, next: bool) {
        let (counts, per_page) = (self.view.page_counts, self.view.per_page);
        let (first, n, per) = match self.view.focus {
            Focus::Inspector => (&mut self.inspector.first, counts.1, per_page.1),
            _ => (&mut self.view.sample_first, counts.0, per_page.0),
        };
        let (n, per) = (n.max(1), per.max(1));
        let cur = (*first / per).min(n - 1);
        let page = if next {
            (cur + 1) % n
        } else {
            (cur + n - 1) % n
        };
        *first = page * per;
    }

    /// The help's keys: close it, or scroll it by a line, a screen, or to either end.
    fn on_help(&mut self, a: Action) -> Vec<Effect> {
        let (page, last) = self.view.help_extent;
        let at = self.view.help_scroll.min(last);
        let page = page.max(1);
        self.view.help_scroll = match a {
            Action::Quit => return self.key_quit(),
            Action::Close => return vec![],
            Action::Up => at.saturating_sub(1),
            Action::Down => (at + 1).min(last),
            Action::PagePrev => at.saturating_sub(page),
            Action::PageNext => (at + page).min(last),
            Action::First => 0,
            Action::Last => last,
            _ => at,
        };
        self.overlay = Overlay::Help;
        vec![]
    }
}
