//! Image galleries inside panes, shared by the samples pane and the inspector: the page
//! of images that fits at full size, drawn with half-blocks into the buffer or, with a
//! graphics protocol, left blank and handed over as a [`Slot`].

use super::faint;
use crate::tui::app::App;
use crate::tui::gallery::{self, HalfBlocks, Page};
use crate::tui::graphics::{Picture, Slot, SlotId};
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// The page of `n` images of `item` = [C, H, W] that fits in `inner` and holds image
/// `first` (None: not one image fits).
pub fn fit(app: &App, inner: Rect, n: usize, item: [usize; 3], first: usize) -> Option<Page> {
    let fit = |page| {
        Page::fit(
            n,
            (item[2] as u32, item[1] as u32),
            app.graphics.units(inner),
            page,
        )
    };
    let per_page = fit(0)?.per_page.max(1);
    fit(first / per_page)
}

/// What a pane of images reports for paging: its pages and the images on a full page.
pub fn paging(page: Option<&Page>) -> (usize, usize) {
    page.map_or((1, 1), |p| (p.pages, p.per_page))
}

/// A batch of images for a pane.
pub struct Images<'a> {
    /// Flat [n, C, H, W], in [−1, 1].
    pub values: &'a [f32],
    /// [C, H, W].
    pub item: [usize; 3],
    /// The pane's graphics slot.
    pub id: SlotId,
}

/// Draws `page` of the images in `inner`, or says in one line that not even one fits.
pub fn draw(
    f: &mut Frame,
    app: &App,
    inner: Rect,
    page: Option<&Page>,
    images: &Images,
    slots: &mut Vec<Slot>,
) {
    let (values, item, id) = (images.values, images.item, images.id);
    let Some(page) = page else {
        f.render_widget(
            Paragraph::new(Span::styled(
                gallery::too_small((item[2], item[1])),
                faint(app.theme()),
            ))
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    if app.graphics.graphic() {
        // Composed and encoded by the encoder thread, and only when it changed.
        let picture = Picture::new(values, item, page);
        let rect = app.graphics.placement(picture.size(), inner);
        slots.push(Slot::new(id, rect, picture));
    } else {
        let picture = page.compose(values, item, [0, 0, 0]);
        f.render_widget(HalfBlocks { image: &picture }, inner);
    }
}
