//! The screen layout. Fits 80×24 and gives larger terminals' room to the inspector.

use super::app::App;
use super::panes::{inspector, loss, overlays, samples, status};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

/// The smallest terminal the workbench draws in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Where the panes go.
pub struct Areas {
    pub status: Rect,
    pub loss: Rect,
    pub samples: Rect,
    pub inspector: Rect,
    pub footer: Rect,
}

pub fn areas(area: Rect) -> Areas {
    let [status, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(10),
        Constraint::Length(2),
    ])
    .areas(area);
    let left_pct = if area.width >= 140 { 36 } else { 40 };
    let [left, inspector] = Layout::horizontal([
        Constraint::Percentage(left_pct),
        Constraint::Percentage(100 - left_pct),
    ])
    .areas(body);
    let [loss, samples] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(left);
    Areas {
        status,
        loss,
        samples,
        inspector,
        footer,
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        // Resized below the minimum while running: say so instead of a garbled screen.
        let msg = format!(
            "The terminal is {}×{}; the workbench needs {MIN_WIDTH}×{MIN_HEIGHT}. \
             Enlarge it (training goes on), or press q to quit.",
            area.width, area.height
        );
        f.render_widget(
            ratatui::widgets::Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let a = areas(area);
    status::draw_status(f, app, a.status);
    if app.show_schedule {
        loss::draw_schedule(f, app, a.loss);
    } else {
        loss::draw(f, app, a.loss);
    }
    samples::draw(f, app, a.samples);
    inspector::draw(f, app, a.inspector);
    status::draw_footer(f, app, a.footer);
    overlays::draw(f, app, area);
}
