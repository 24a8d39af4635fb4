//! The samples pane: the latest sample grid (images) or a braille scatter of the samples
//! over faint data points (2-D), labelled with the step and weights they come from.

use super::pictures::{self, Images};
use super::{block, faint, focused, pairs};
use crate::tui::app::figures::summary;
use crate::tui::app::{App, Focus};
use crate::tui::graphics::{Slot, SlotId};
use crate::tui::images;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::canvas::{Canvas, Points};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Half-width of the scatter's view for 2-D samples.
pub const VIEW: f64 = 3.0;

/// A braille scatter of `fg` points over faint `bg` points, in [−view, view]².
pub fn scatter(
    f: &mut Frame,
    area: Rect,
    b: ratatui::widgets::Block,
    bg: &[f32],
    fg: &[f32],
    colors: (Color, Color),
    view: f64,
) {
    let bgp = pairs(bg);
    let fgp = pairs(fg);
    let canvas = Canvas::default()
        .block(b)
        .marker(Marker::Braille)
        .x_bounds([-view, view])
        .y_bounds([-view, view])
        .paint(move |ctx| {
            ctx.draw(&Points {
                coords: &bgp,
                color: colors.0,
            });
            ctx.layer();
            ctx.draw(&Points {
                coords: &fgp,
                color: colors.1,
            });
        });
    f.render_widget(canvas, area);
}

/// The pane's title; `shown` says how many images it shows ("16 of 64").
pub fn title(app: &App, shown: Option<String>) -> String {
    let Some(s) = &app.run.samples else {
        return " Samples ".into();
    };
    let weights = if s.ema { "EMA" } else { "raw" };
    // a class-conditional model's samples say which classes and w drew them, early
    let guided = crate::tui::app::guidance_label(&s.trace.options)
        .map(|g| format!(" · {g}"))
        .unwrap_or_default();
    match shown {
        // How many images are shown comes first: narrow panes cut titles short.
        Some(shown) => format!(" Samples · {shown}{guided} · step {} · {weights} ", s.step),
        None => format!(
            " Samples{guided} · step {} · {weights} · n={} ",
            s.step,
            s.shape.first().copied().unwrap_or(0)
        ),
    }
}

/// The latest evaluation's figures (or that one is running), for the pane's lower edge
/// of `width` columns: the hint to refresh them goes first when they do not fit, then
/// the summary is cut with an ellipsis.
pub fn figures(app: &App, width: u16) -> Option<String> {
    if app.run.evaluating.is_some() {
        return Some(" evaluating… ".into());
    }
    let e = app.run.evaluation.as_ref()?;
    let room = (width as usize).saturating_sub(2);
    let summary = summary(e);
    let full = format!(" step {}: {summary} (b refreshes) ", e.step);
    if full.chars().count() <= room {
        return Some(full);
    }
    let short = format!(" step {}: {summary} ", e.step);
    if short.chars().count() <= room {
        return Some(short);
    }
    let cut: String = short.chars().take(room.saturating_sub(2)).collect();
    Some(format!("{}… ", cut.trim_end()))
}

/// Draws the pane; returns its pages of images and the images on a full page.
pub fn draw(f: &mut Frame, app: &App, area: Rect, slots: &mut Vec<Slot>) -> (usize, usize) {
    let th = app.theme();
    let inner = block("", th).inner(area);
    let shape = app
        .run
        .samples
        .as_ref()
        .and_then(|s| images::image_shape(&s.shape));
    let page = shape
        .and_then(|[n, c, h, w]| pictures::fit(app, inner, n, [c, h, w], app.view.sample_first));
    let shown = match (shape, &page) {
        (Some(_), Some(p)) => Some(p.label()),
        (Some([n, ..]), None) => Some(format!("0 of {n}")),
        _ => None,
    };
    let mut b = focused(
        block(title(app, shown), th),
        th,
        app.view.focus == Focus::Samples,
    );
    if let Some(text) = figures(app, area.width) {
        b = b.title_bottom(Span::styled(text, faint(th)));
    }
    let Some(s) = &app.run.samples else {
        let msg = if app.run.sampling.is_some() {
            "sampling…"
        } else {
            "no samples yet (s samples now)"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, faint(th))).block(b), area);
        return (1, 1);
    };
    if let Some([_, c, h, w]) = shape {
        f.render_widget(b, area);
        let imgs = Images {
            values: &s.values,
            item: [c, h, w],
            id: SlotId::Samples,
        };
        pictures::draw(f, app, inner, page.as_ref(), &imgs, slots);
        return pictures::paging(page.as_ref());
    }
    if s.shape.get(1) == Some(&2) {
        let bg = app.run.data.as_ref().map_or(&[][..], |d| &d.background[..]);
        scatter(f, area, b, bg, &s.values, (th.data, th.samples), VIEW);
        return (1, 1);
    }
    f.render_widget(
        Paragraph::new(format!("{} values of shape {:?}", s.values.len(), s.shape)).block(b),
        area,
    );
    (1, 1)
}
