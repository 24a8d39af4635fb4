//! The panes: each a function from the (immutable) app state to widgets drawn in an area.

pub mod inspector;
pub mod loss;
pub mod overlays;
pub mod pair;
pub mod pictures;
pub mod samples;
pub mod status;
pub mod sweep;

use super::theme::Theme;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

/// A bordered block with a title in the theme's colours.
pub fn block<'a>(title: impl Into<Line<'a>>, th: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(th.border))
        .title(
            title
                .into()
                .style(Style::default().fg(th.title).add_modifier(Modifier::BOLD)),
        )
        .style(Style::default().fg(th.fg).bg(th.bg))
}

/// Marks the focused pane by its border.
pub fn focused<'a>(b: Block<'a>, th: &Theme, focus: bool) -> Block<'a> {
    if focus {
        b.border_style(Style::default().fg(th.accent))
    } else {
        b
    }
}

pub fn faint(th: &Theme) -> Style {
    Style::default().fg(th.faint).add_modifier(Modifier::DIM)
}

pub fn key_span(label: &str, th: &Theme) -> Span<'static> {
    Span::styled(
        label.to_string(),
        Style::default().fg(th.key).add_modifier(Modifier::BOLD),
    )
}

/// A number in a short human form: 0.0123, 1.2e-5, 12345.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return if v > 0.0 { "∞".into() } else { "-".into() };
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

/// Points of a flat [x0, y0, x1, y1, …] buffer, for a canvas.
pub fn pairs(v: &[f32]) -> Vec<(f64, f64)> {
    v.chunks_exact(2)
        .map(|p| (p[0] as f64, p[1] as f64))
        .collect()
}
