//! A comparison of two samplers inside the process inspector: the same x_T run through
//! both, side by side, frame for frame (or by fraction of the run when their step counts
//! differ). Each column is labelled with its sampler, t, σ_t and step k of S, and shows
//! x̂_0 over x_t.

use super::pictures::{self, Images};
use super::samples::scatter;
use super::{block, faint, num};
use crate::tui::app::{App, Pair, PAIR_SEED};
use crate::tui::graphics::{Slot, SlotId};
use crate::tui::inspect::Frame as PFrame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};
use ratatui::Frame;

/// "t = 734  σ_t 12.3  step 7 of 20" for a frame.
pub fn frame_label(fr: &PFrame) -> String {
    match &fr.trace {
        Some(tr) if tr.done => format!("t = {}  {}", fr.t, tr.label()),
        Some(tr) => format!("t = {}  σ_t {}  {}", fr.t, num(tr.sigma), tr.label()),
        None => format!("t = {}", fr.t),
    }
}

/// Draws the comparison in `inner` (the inspector's block inside); returns its pages of
/// images and the images on a full page.
pub fn draw(
    f: &mut Frame,
    app: &App,
    pair: &Pair,
    inner: Rect,
    slots: &mut Vec<Slot>,
) -> (usize, usize) {
    let th = app.theme();
    let bold = Style::default().fg(th.accent).add_modifier(Modifier::BOLD);
    let [info, scrub, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(inner);
    let Some(frames) = pair.at() else {
        let waiting = match pair.progress {
            Some((side, done, of)) => format!(
                "sampling {} from the same x_T… {done}/{of}",
                pair.labels[side]
            ),
            None => format!(
                "sampling {} and {} from the same x_T…",
                pair.labels[0], pair.labels[1]
            ),
        };
        f.render_widget(Paragraph::new(Span::styled(waiting, faint(th))), info);
        return (1, 1);
    };
    let n = pair.len();
    let align = match pair.both() {
        Some([a, b]) if a.len() != b.len() => format!(
            "aligned by fraction of the run ({} and {} frames)",
            a.len(),
            b.len()
        ),
        _ => "frame for frame".into(),
    };
    let mut spans = vec![
        Span::styled(format!("frame {} of {n}", pair.k + 1), bold),
        Span::raw(format!("  same x_T (seed {PAIR_SEED}) · {align}")),
    ];
    if app.inspector.playing {
        spans.push(Span::styled("  ▶", bold));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);
    let ratio = if n > 1 {
        pair.k as f64 / (n - 1) as f64
    } else {
        1.0
    };
    f.render_widget(
        LineGauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .label("x_T")
            .filled_style(Style::default().fg(th.accent))
            .unfilled_style(faint(th)),
        scrub,
    );

    let cols = Layout::horizontal([Constraint::Ratio(1, 2); 2]).split(body);
    let item_shape = app
        .run
        .data
        .as_ref()
        .map(|d| d.item_shape.clone())
        .or_else(|| app.run.preset.as_ref().map(|p| p.data.item_shape()));
    // Each column: its label, then x̂_0 over x_t.
    let mut areas = Vec::new();
    for (side, fr) in frames.iter().enumerate() {
        let b = block(
            Line::from(Span::styled(format!(" {} ", pair.labels[side]), bold)),
            th,
        );
        let col = b.inner(cols[side]);
        f.render_widget(b, cols[side]);
        let [label, views] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(col);
        f.render_widget(Paragraph::new(frame_label(fr)), label);
        let [top, bottom] = Layout::vertical([Constraint::Ratio(1, 2); 2]).areas(views);
        areas.push([top, bottom]);
    }
    let bg = app.run.data.as_ref().map_or(&[][..], |d| &d.background[..]);
    if item_shape.as_deref() == Some(&[2][..]) {
        for (side, fr) in frames.iter().enumerate() {
            let x0 = fr.x0.as_deref().unwrap_or(&fr.xt);
            let views = [("x̂_0", x0, th.x0_hat), ("x_t", &fr.xt[..], th.samples)];
            for (area, (name, values, color)) in areas[side].iter().zip(views) {
                scatter(
                    f,
                    *area,
                    block(format!(" {name} "), th),
                    bg,
                    values,
                    (th.data, color),
                    super::inspector::VIEW,
                );
            }
        }
        return (1, 1);
    }
    // Without a known image shape the columns keep their labels only.
    let Some(&[c, h, w]) = item_shape.as_deref() else {
        return (1, 1);
    };
    let item = [c as usize, h as usize, w as usize];
    let len = item.iter().product::<usize>().max(1);
    let count = frames[0].xt.len() / len;
    let inners: Vec<Rect> = areas
        .iter()
        .flatten()
        .map(|r| block("", th).inner(*r))
        .collect();
    let Some(narrow) = inners.iter().copied().min_by_key(|r| (r.width, r.height)) else {
        return (1, 1);
    };
    let page = pictures::fit(app, narrow, count, item, app.inspector.first);
    let shown = page.as_ref().map_or(format!("0 of {count}"), |p| p.label());
    for (side, fr) in frames.iter().enumerate() {
        let x0 = fr.x0.as_deref().unwrap_or(&fr.xt);
        let views = [("x̂_0", x0, true), ("x_t", &fr.xt[..], false)];
        for (i, (name, values, is_x0)) in views.into_iter().enumerate() {
            let title = if i == 0 {
                format!(" {name} · {shown} ")
            } else {
                format!(" {name} ")
            };
            f.render_widget(block(title, th), areas[side][i]);
            let imgs = Images {
                values,
                item,
                id: SlotId::Pair(side as u8, is_x0),
            };
            pictures::draw(f, app, inners[side * 2 + i], page.as_ref(), &imgs, slots);
        }
    }
    pictures::paging(page.as_ref())
}
