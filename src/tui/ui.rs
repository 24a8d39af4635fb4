//! The screen layout. Fits 80×24 and gives larger terminals' room to the inspector.

use super::app::{App, Focus, Overlay, View};
use super::graphics::Slot;
use super::panes::{inspector, loss, overlays, samples, status, sweep};
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

/// What a frame left for the event loop: the graphics slots to fill, the page counts
/// of the image panes (samples, inspector), the images on their full pages, and the
/// help's extent (its lines on one screen, its last scroll position).
#[derive(Debug, Default)]
pub struct Drawn {
    pub slots: Vec<Slot>,
    pub pages: (usize, usize),
    pub per_page: (usize, usize),
    pub help: Option<(usize, usize)>,
}

impl Drawn {
    /// Keeps what paging and scrolling need for the next key press.
    pub fn remember(&self, view: &mut View) {
        view.page_counts = self.pages;
        view.per_page = self.per_page;
        if let Some(h) = self.help {
            view.help_extent = h;
        }
    }
}

/// The areas of the panes; with `zoom`, the focused pane takes the whole body and the
/// others get none. `notice_rows`: the lines the message under the panes needs.
pub fn layout(area: Rect, zoom: Option<Focus>, notice_rows: u16) -> Areas {
    let mut a = areas(area, notice_rows);
    if let Some(focus) = zoom {
        let body = Rect {
            x: area.x,
            y: a.status.bottom(),
            width: area.width,
            height: a.footer.y.saturating_sub(a.status.bottom()),
        };
        let none = Rect::new(body.x, body.y, 0, 0);
        a.loss = none;
        a.samples = none;
        a.inspector = none;
        match focus {
            Focus::Loss => a.loss = body,
            Focus::Samples => a.samples = body,
            Focus::Inspector => a.inspector = body,
        }
    }
    a
}

pub fn areas(area: Rect, notice_rows: u16) -> Areas {
    let [status, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(10),
        Constraint::Length(1 + notice_rows.max(1)),
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
pub fn draw(f: &mut Frame, app: &App) -> Drawn {
    let mut drawn = Drawn::default();
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
        return drawn;
    }
    let a = layout(
        area,
        app.view.zoom.then_some(app.view.focus),
        status::notice_rows(app, area.width),
    );
    status::draw_status(f, app, a.status);
    if !a.loss.is_empty() {
        if app.run.sweep.open {
            sweep::draw(f, app, a.loss);
        } else if app.view.schedule {
            loss::draw_schedule(f, app, a.loss);
        } else {
            loss::draw(f, app, a.loss);
        }
    }
    if !a.samples.is_empty() {
        (drawn.pages.0, drawn.per_page.0) = samples::draw(f, app, a.samples, &mut drawn.slots);
    }
    if !a.inspector.is_empty() {
        (drawn.pages.1, drawn.per_page.1) = inspector::draw(f, app, a.inspector, &mut drawn.slots);
    }
    if app.overlay == Overlay::Help {
        drawn.help = Some(overlays::help_extent(app, area));
    }
    status::draw_footer(f, app, a.footer);
    if let Some(covered) = overlays::draw(f, app, area) {
        // Pictures under an overlay would hide it: those panes stay blank meanwhile.
        drawn.slots.retain(|s| !s.rect.intersects(covered));
    }
    drawn
}
