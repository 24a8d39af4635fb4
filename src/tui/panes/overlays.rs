//! Overlays: help (built from the key map), the sampler menu, the run and checkpoint
//! browser, the preset picker, confirmations and the go-to-t prompt.

use super::{block, faint, key_span, num};
use crate::config::catalog::PresetEntry;
use crate::runs::listing::RunEntry;
use crate::tui::app::{browser_rows, App, BrowserRow, Confirm, Overlay};
use crate::tui::keymap::{self, Context};
use crate::util::human_time;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

/// A centred rectangle of at most `w`×`h`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Draws the open overlay, if any, and returns the area it covers.
pub fn draw(f: &mut Frame, app: &App, area: Rect) -> Option<Rect> {
    Some(match &app.overlay {
        Overlay::None => return None,
        Overlay::Help => help(f, app, area),
        Overlay::Menu { field } => menu(f, app, area, *field),
        Overlay::Browser { runs, sel, marked } => browser(f, app, area, runs, *sel, marked),
        Overlay::Picker { entries, sel } => picker(f, app, area, entries, *sel),
        Overlay::Goto(buf) => {
            let r = centered(area, 36, 3);
            f.render_widget(Clear, r);
            let line = Line::from(vec![
                Span::raw(format!(" t (0…{}): ", app.timesteps())),
                Span::styled(
                    format!("{buf}▏"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
            ]);
            f.render_widget(
                Paragraph::new(line).block(block(" Go to t ", app.theme())),
                r,
            );
            r
        }
        Overlay::Confirm { ask: c, .. } => {
            let text = match c {
                Confirm::Quit => format!(
                    "Training has {} unsaved steps. Save a checkpoint before quitting?",
                    app.run.step.saturating_sub(app.run.saved_step)
                ),
                Confirm::Leave => format!(
                    "{} trains in a process of its own. Stop it, or leave it running and \
                     attach again later with `diffscope attach`?",
                    app.run.run_dir.display()
                ),
                Confirm::Attach { dir, pid } => format!(
                    "{} is open in another workbench (pid {pid}), which controls it.",
                    dir.display()
                ),
                Confirm::Delete(p) => format!("Delete the checkpoint {}?", p.display()),
                Confirm::DeleteRun { dir, checkpoints } => format!(
                    "Delete the run {} with its {checkpoints} checkpoint{} and its log?",
                    dir.display(),
                    if *checkpoints == 1 { "" } else { "s" }
                ),
                Confirm::NewRun(s) => format!(
                    "Start a new training run on {s}?{}",
                    if app.run.unsaved() {
                        " The current run is saved first."
                    } else {
                        ""
                    }
                ),
            };
            let keys = match c {
                Confirm::Quit => "y save and quit · n quit without saving · Esc stay",
                Confirm::Leave => {
                    "y stop and save · n stop without saving · d leave it running · Esc stay"
                }
                Confirm::Attach { .. } => "w watch read-only · t take over control · Esc cancel",
                _ => "y yes · n / Esc no",
            };
            let r = centered(area, 76, 7);
            f.render_widget(Clear, r);
            let th = app.theme();
            f.render_widget(
                Paragraph::new(vec![
                    Line::from(text),
                    Line::from(""),
                    Line::from(Span::styled(keys, Style::default().fg(th.key))),
                ])
                .wrap(Wrap { trim: true })
                .block(block(" Confirm ", th)),
                r,
            );
            r
        }
    })
}

/// The key column of the help (the label and a space).
const HELP_KEYS: usize = 11;
/// The narrowest column of the help: most descriptions fit on one line of it.
const HELP_COLUMN: u16 = 60;

/// `text` in lines of at most `width` characters, broken between words (a word longer
/// than a line is broken inside).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= width {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used == 0 {
                line.extend(word.drain(..width));
            }
            lines.push(std::mem::take(&mut line));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Help lines: one per (context, action) that applies to the open run, keys joined,
/// grouped under context titles; descriptions wrapped to fit `width` columns.
pub fn help_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let th = app.theme();
    let now = app.situation();
    let mut lines = Vec::new();
    for ctx in [
        Context::Main,
        Context::Inspector,
        Context::Menu,
        Context::Browser,
        Context::Picker,
        Context::Goto,
        Context::Confirm,
        Context::Leave,
        Context::Attach,
        Context::Help,
        Context::Anywhere,
    ] {
        let mut seen: Vec<(String, &str)> = Vec::new();
        for b in keymap::all().filter(|b| b.context == ctx && now.allows(b.applies)) {
            match seen.iter_mut().find(|(_, d)| *d == b.description) {
                Some(e) if e.0.split('/').any(|l| l == b.label) => {}
                Some(e) => {
                    e.0.push('/');
                    e.0.push_str(b.label);
                }
                None => seen.push((b.label.to_string(), b.description)),
            }
        }
        if seen.is_empty() {
            continue;
        }
        lines.push(Line::from(Span::styled(
            ctx.title().to_string(),
            Style::default().fg(th.title).add_modifier(Modifier::BOLD),
        )));
        for (k, d) in seen {
            let parts = wrap_words(d, width.saturating_sub(HELP_KEYS));
            for (i, part) in parts.into_iter().enumerate() {
                let key = if i == 0 {
                    key_span(&format!("{k:<10}"), th)
                } else {
                    Span::raw(" ".repeat(HELP_KEYS - 1))
                };
                lines.push(Line::from(vec![Span::raw(" "), key, Span::raw(part)]));
            }
        }
    }
    lines
}

/// Where the help goes: its box, the inside, the number of columns and their width.
fn help_layout(area: Rect) -> (Rect, Rect, usize, usize) {
    let r = centered(area, 128, 44);
    let inner = r.inner(ratatui::layout::Margin::new(1, 1));
    let ncols = (inner.width / HELP_COLUMN).max(1) as usize;
    (r, inner, ncols, inner.width as usize / ncols)
}

/// The help's lines on one screen and its last scroll position, drawn in `area`.
pub fn help_extent(app: &App, area: Rect) -> (usize, usize) {
    let (_, inner, ncols, col_w) = help_layout(area);
    let page = ncols * inner.height as usize;
    (page, help_lines(app, col_w).len().saturating_sub(page))
}

fn help(f: &mut Frame, app: &App, area: Rect) -> Rect {
    let th = app.theme();
    let (r, inner, ncols, col_w) = help_layout(area);
    let lines = help_lines(app, col_w);
    let per_col = (inner.height as usize).max(1);
    let page = ncols * per_col;
    let last = lines.len().saturating_sub(page);
    let top = app.view.help_scroll.min(last);
    let title = if last == 0 {
        " Help · Esc closes ".to_string()
    } else {
        format!(
            " Help · lines {}–{} of {} · ↑↓ PgUp PgDn scroll · Esc closes ",
            top + 1,
            (top + page).min(lines.len()),
            lines.len()
        )
    };
    f.render_widget(Clear, r);
    f.render_widget(block(title, th), r);
    for (i, chunk) in lines[top..].chunks(per_col).take(ncols).enumerate() {
        let col = Rect {
            x: inner.x + (i * col_w) as u16,
            width: col_w as u16,
            ..inner
        };
        f.render_widget(Paragraph::new(chunk.to_vec()), col);
    }
    r
}

fn selected(th: &crate::tui::theme::Theme) -> Style {
    if th.selection_bg == ratatui::style::Color::Reset {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().fg(th.selection_fg).bg(th.selection_bg)
    }
}

fn menu(f: &mut Frame, app: &App, area: Rect, field: usize) -> Rect {
    let th = app.theme();
    // the fields, a blank line and the keys, inside the border
    let r = centered(area, 52, crate::tui::app::MENU_FIELDS as u16 + 4);
    f.render_widget(Clear, r);
    let mut lines: Vec<Line> = app
        .sampler
        .fields()
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let text = format!(" {k:<14} ◂ {v} ▸");
            if i == field {
                Line::from(Span::styled(text, selected(th)))
            } else {
                Line::from(text)
            }
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " ↑↓ field · ←→ change · Enter sample · Esc close",
        faint(th),
    )));
    f.render_widget(Paragraph::new(lines).block(block(" Sampler ", th)), r);
    r
}

fn browser(
    f: &mut Frame,
    app: &App,
    area: Rect,
    runs: &[RunEntry],
    sel: usize,
    marked: &[std::path::PathBuf],
) -> Rect {
    let th = app.theme();
    let r = centered(area, 150, 40);
    f.render_widget(Clear, r);
    let b = block(
        " Runs · Enter open/attach · r resume · d delete · space mark · c compare · Esc close ",
        th,
    );
    let inner = b.inner(r);
    f.render_widget(b, r);
    if runs.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                "no runs in checkpoints/ or the user data folder (w saves a checkpoint)",
                faint(th),
            )),
            inner,
        );
        return r;
    }
    let head = format!(
        "   {:<16} {:<27} {:>13} {:>10} {:>18}  {:<16}  {}",
        "preset", "state", "step", "mean loss", "bound", "started", "folder"
    );
    let mut lines = vec![Line::from(Span::styled(
        head,
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    let rows = browser_rows(runs);
    let height = inner.height.saturating_sub(1) as usize;
    let start = sel.saturating_sub(height.saturating_sub(1));
    for (i, row) in rows.iter().enumerate().skip(start).take(height) {
        let text = match *row {
            BrowserRow::Run(k) => {
                let e = &runs[k];
                let mark = if marked.contains(&e.dir) { "✓" } else { " " };
                let live = if e.status.live() { "●" } else { " " };
                format!(
                    "{mark}{live} {:<16} {:<27} {:>13} {:>10} {:>18}  {:<16}  {}",
                    e.preset,
                    e.status.describe(),
                    if e.total > 0 {
                        format!("{}/{}", e.step, e.total)
                    } else {
                        e.step.to_string()
                    },
                    e.loss.map_or("-".into(), num),
                    e.eval.as_ref().map_or("-".into(), |v| format!(
                        "{} {}",
                        num(v.bound),
                        v.unit.name()
                    )),
                    e.started_unix.map_or("-".into(), human_time),
                    e.dir.display(),
                )
            }
            BrowserRow::Checkpoint(k, j) => {
                let c = &runs[k].checkpoints[j];
                format!(
                    "      └ step {:<10} batch loss {:>6}  saved {}{}  {}",
                    c.step,
                    c.loss.map_or("-".into(), num),
                    human_time(c.created_unix),
                    match (&c.corrupt, c.manual) {
                        (Some(_), _) => " CORRUPT: fails its checksum, not opened",
                        (None, true) => " (by hand)",
                        (None, false) => "",
                    },
                    c.dir
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                )
            }
        };
        let style = match *row {
            _ if i == sel => selected(th),
            BrowserRow::Run(k) if runs[k].status.live() => Style::default().fg(th.key),
            BrowserRow::Run(_) => Style::default().add_modifier(Modifier::BOLD),
            BrowserRow::Checkpoint(..) => faint(th),
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    f.render_widget(Paragraph::new(lines), inner);
    r
}

fn picker(f: &mut Frame, app: &App, area: Rect, entries: &[PresetEntry], sel: usize) -> Rect {
    let th = app.theme();
    let r = centered(area, 100, 30);
    f.render_widget(Clear, r);
    let b = block(" Presets · Enter start a new run · Esc close ", th);
    let inner = b.inner(r);
    f.render_widget(b, r);
    let [list, desc] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(inner);
    let rows = list.height as usize;
    let start = sel.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = entries
        .iter()
        .enumerate()
        .skip(start)
        .take(rows)
        .map(|(i, p)| {
            let text = format!(" {:<20} {}", p.name, p.origin);
            if i == sel {
                Line::from(Span::styled(text, selected(th)))
            } else {
                Line::from(text)
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines), list);
    if let Some(p) = entries.get(sel) {
        f.render_widget(
            Paragraph::new(p.description.clone())
                .wrap(Wrap { trim: true })
                .block(ratatui::widgets::Block::default().borders(ratatui::widgets::Borders::TOP)),
            desc,
        );
    }
    r
}

#[cfg(test)]
mod wrap_tests {
    use super::wrap_words;

    #[test]
    fn words_wrap_between_words_and_long_ones_inside() {
        assert_eq!(
            wrap_words("quit (offers to save, or to leave training running)", 20),
            ["quit (offers to", "save, or to leave", "training running)"]
        );
        assert_eq!(wrap_words("abcdefghij xy", 4), ["abcd", "efgh", "ij", "xy"]);
        assert_eq!(wrap_words("", 10), [""]);
        assert!(wrap_words("a long description", 8)
            .iter()
            .all(|l| l.chars().count() <= 8));
    }
}
