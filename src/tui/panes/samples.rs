//! The samples pane: the latest sample grid (images) or a braille scatter of the samples
//! over faint data points (2-D), labelled with the step and weights they come from.

use super::{block, faint, pairs};
use crate::tui::app::App;
use crate::tui::images::{self, HalfBlocks};
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::canvas::{Canvas, Points};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use ratatui_image::Image;

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

pub fn title(app: &App) -> String {
    match &app.samples {
        Some(s) => format!(
            " Samples · step {} · {} · n={} ",
            s.step,
            if s.ema { "EMA" } else { "raw" },
            s.shape.first().copied().unwrap_or(0)
        ),
        None => " Samples ".into(),
    }
}

/// The latest evaluation's figures (or that one is running), for the pane's lower edge.
pub fn figures(app: &App) -> Option<String> {
    if app.evaluating.is_some() {
        return Some(" evaluating… ".into());
    }
    app.evaluation
        .as_ref()
        .map(|e| format!(" step {}: {} (b refreshes) ", e.step, e.summary))
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let th = app.theme();
    let mut b = block(title(app), th);
    if let Some(text) = figures(app) {
        b = b.title_bottom(Span::styled(text, faint(th)));
    }
    let Some(s) = &app.samples else {
        let msg = if app.sampling.is_some() {
            "sampling…"
        } else {
            "no samples yet (s samples now)"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, faint(th))).block(b), area);
        return;
    };
    if let Some(shape) = images::image_shape(&s.shape) {
        let inner = b.inner(area);
        f.render_widget(b, area);
        match &app.images {
            Some(set) if set.id == s.id => match &set.protocol {
                Some(p) if set.area.width <= inner.width && set.area.height <= inner.height => {
                    f.render_widget(Image::new(p), inner)
                }
                _ => f.render_widget(HalfBlocks { image: &set.grid }, inner),
            },
            _ => {
                let g = images::grid(&s.values, shape, [0, 0, 0]);
                f.render_widget(HalfBlocks { image: &g }, inner);
            }
        }
        return;
    }
    if s.shape.get(1) == Some(&2) {
        let bg = app.data.as_ref().map_or(&[][..], |d| &d.background[..]);
        scatter(f, area, b, bg, &s.values, (th.data, th.samples), VIEW);
        return;
    }
    f.render_widget(
        Paragraph::new(format!("{} values of shape {:?}", s.values.len(), s.shape)).block(b),
        area,
    );
}
