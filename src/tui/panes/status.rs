//! The status bar (two lines: figures, then the training and sampling gauges) and the
//! footer (a notice line and the key hints).

use super::{faint, key_span, num};
use crate::tui::app::{App, Pace};
use crate::tui::keymap;
use crate::util::duration;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};
use ratatui::Frame;
use std::time::Instant;

/// Training speed with significant digits: "120it/s", "3.4it/s", or below one step a
/// second the seconds a step takes ("2.7s/it"); "-" before it is known.
pub fn speed(steps_per_sec: f64) -> String {
    let v = steps_per_sec;
    if !v.is_finite() || v <= 0.0 {
        "-it/s".into()
    } else if v >= 9.95 {
        format!("{v:.0}it/s")
    } else if v >= 0.995 {
        format!("{v:.1}it/s")
    } else {
        let s = 1.0 / v;
        if s >= 9.95 {
            format!("{s:.0}s/it")
        } else {
            format!("{s:.1}s/it")
        }
    }
}

pub fn state_label(app: &App) -> &'static str {
    if !app.run.alive && app.run.preset.is_some() {
        "stopped"
    } else if app.run.stopped.is_some() {
        "halted"
    } else if !app.run.training {
        "inspecting"
    } else if app.run.finished {
        "finished"
    } else if app.run.paused {
        "paused"
    } else if app.run.info.is_none() {
        "starting"
    } else if matches!(app.run.pace(Instant::now()), Pace::Stalled(_)) {
        "stalled"
    } else if app.run.watching {
        "training (watching)"
    } else {
        "training"
    }
}

/// The figures of training: learning rate, speed and ETA (or how long since the last
/// report, when that grows).
fn training_figures(app: &App, sep: &Span<'static>) -> Vec<Span<'static>> {
    let r = &app.run;
    let late = match app.run.pace(Instant::now()) {
        Pace::OnTime => None,
        Pace::Late(s) | Pace::Stalled(s) => Some(s),
    };
    let eta = match late {
        Some(s) => format!("no report for {}", duration(s)),
        None if r.steps_per_sec > 0.0 && r.step < r.total && !r.paused && !r.finished => {
            format!(
                "ETA {}",
                duration((r.total - r.step) as f64 / r.steps_per_sec)
            )
        }
        None => "ETA -".into(),
    };
    vec![
        Span::raw(format!("lr {}", num(r.lr))),
        sep.clone(),
        Span::raw(speed(r.steps_per_sec)),
        sep.clone(),
        Span::raw(eta),
        sep.clone(),
    ]
}

pub fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let th = app.theme();
    let [top, gauges] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let narrow = area.width < 110;
    let sep = Span::styled(if narrow { "│" } else { " │ " }, faint(th));
    let bold = Style::default().fg(th.accent).add_modifier(Modifier::BOLD);
    let name = app
        .run
        .preset
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "-".into());
    let device = app.run.info.as_ref().map_or("-".into(), |i| {
        // The device and what the model computes in ("cpu fp32").
        match i.precision.split_whitespace().next() {
            Some(p) => format!("{} {p}", i.device),
            None => i.device.clone(),
        }
    });
    let loss = app.run.loss.map_or("-".into(), num);
    let mut spans = vec![
        Span::styled(format!(" {name}"), bold),
        sep.clone(),
        Span::raw(device),
        sep.clone(),
        Span::raw(if narrow {
            format!("{}/{}", app.run.step, app.run.total)
        } else {
            format!("step {}/{}", app.run.step, app.run.total)
        }),
        sep.clone(),
        Span::raw("loss "),
        Span::styled(loss, Style::default().add_modifier(Modifier::BOLD)),
        sep.clone(),
    ];
    // A checkpoint opened for inspection does not train: no rate, speed or ETA.
    if app.run.training {
        spans.extend(training_figures(app, &sep));
    }
    spans.push(Span::styled(state_label(app), bold));
    f.render_widget(Paragraph::new(Line::from(spans)), top);

    let [g1, g2] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(gauges);
    let ratio = if app.run.total > 0 {
        (app.run.step as f64 / app.run.total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    if app.run.training {
        f.render_widget(
            LineGauge::default()
                .ratio(ratio)
                .label(format!(" train {:>3.0}% ", ratio * 100.0))
                .filled_style(Style::default().fg(th.gauge))
                .unfilled_style(faint(th)),
            g1,
        );
    } else if app.run.preset.is_some() {
        f.render_widget(
            Paragraph::new(Span::styled(
                format!(" checkpoint at step {} of {}", app.run.step, app.run.total),
                faint(th),
            )),
            g1,
        );
    }
    if let Some(s) = app.run.sampling {
        let r = if s.of > 0 {
            (s.done as f64 / s.of as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        f.render_widget(
            LineGauge::default()
                .ratio(r)
                .label(format!(" sampling {}/{} ", s.done, s.of))
                .filled_style(Style::default().fg(th.accent))
                .unfilled_style(faint(th)),
            g2,
        );
    } else {
        // The protocol, and why it was chosen when that fits.
        let full = format!(" images: {}", app.graphics.label());
        let text = if full.chars().count() <= g2.width as usize {
            full
        } else {
            format!(" images: {}", app.graphics.name())
        };
        f.render_widget(Paragraph::new(Span::styled(text, faint(th))), g2);
    }
}

/// The lines the notice takes at `width`: an error is wrapped onto up to three lines, so
/// that what went wrong and what to do are read in full; other notices take one.
pub fn notice_rows(app: &App, width: u16) -> u16 {
    match &app.notice {
        Some(n) if n.error && width > 1 => wrapped_lines(&format!(" {}", n.text), width).min(3),
        _ => 1,
    }
}

/// The lines `text` takes when wrapped at word boundaries to `width` columns (a word
/// longer than a line is broken, as the paragraph does).
fn wrapped_lines(text: &str, width: u16) -> u16 {
    let w = width as usize;
    let (mut lines, mut used) = (1usize, 0usize);
    for word in text.split(' ') {
        let n = word.chars().count();
        let need = if used == 0 { n } else { used + 1 + n };
        if need <= w {
            used = need;
        } else {
            lines += 1 + n.saturating_sub(1) / w;
            used = n % w;
        }
    }
    lines.min(u16::MAX as usize) as u16
}

pub fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let th = app.theme();
    let [notice, hints] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    if let Some(n) = &app.notice {
        let style = if n.error {
            Style::default().fg(th.error).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(th.fg)
        };
        let p = Paragraph::new(Span::styled(format!(" {}", n.text), style));
        let p = if n.error {
            p.wrap(ratatui::widgets::Wrap { trim: false })
        } else {
            p
        };
        f.render_widget(p, notice);
    }
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1usize;
    for (k, d) in keymap::hints(&app.contexts(), &app.situation()) {
        let w = k.chars().count() + d.chars().count() + 3;
        if used + w > area.width as usize {
            break;
        }
        used += w;
        spans.push(key_span(k, th));
        spans.push(Span::raw(format!(" {d}  ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), hints);
}
