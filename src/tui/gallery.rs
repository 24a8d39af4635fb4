//! Galleries: how a batch of same-size images is shown in a pane. Images are never shrunk:
//! as many whole images as fit are shown at an integer scale of at least 1 (upscaled
//! nearest-neighbour), the rest on further pages. Where there is room, the images on a page
//! are drawn at the largest integer scale that fits.
//!
//! Sizes are in "units": terminal pixels for the graphics protocols, and for half-blocks
//! one unit per column and two per row (a '▀' cell holds two pixels, one above the other).

use crate::render::grid::image_grid;
use image::RgbImage;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;

/// How the images of one page are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Grid columns and rows.
    pub cols: usize,
    pub rows: usize,
    /// Each image pixel is drawn as a `scale`×`scale` block; the gaps are `scale` wide too.
    pub scale: u32,
    /// Images on a full page.
    pub per_page: usize,
    /// Pages in all, and the one shown (0-based).
    pub pages: usize,
    pub page: usize,
    /// The first image on this page and how many it shows.
    pub first: usize,
    pub count: usize,
    /// All images.
    pub total: usize,
}

impl Page {
    /// Lays out `total` images of `item` = (width, height) units in `avail` units, and
    /// picks page `page` (clamped). `None` when not even one image fits at scale 1.
    pub fn fit(total: usize, item: (u32, u32), avail: (u32, u32), page: usize) -> Option<Page> {
        let (w, h) = (item.0.max(1), item.1.max(1));
        let (aw, ah) = avail;
        // A grid of c×r images at scale s with gaps of s: (c·(w+1)+1)·s wide.
        let cols1 = (aw.saturating_sub(1) / (w + 1)) as usize;
        let rows1 = (ah.saturating_sub(1) / (h + 1)) as usize;
        if total == 0 || cols1 == 0 || rows1 == 0 {
            return None;
        }
        let per_page = total.min(cols1 * rows1);
        // The column count that allows the largest scale for a full page; on a tie the
        // one with the fewest empty cells, then the wider one.
        let mut best: Option<(u32, usize, usize)> = None;
        for c in 1..=per_page.min(cols1) {
            let r = per_page.div_ceil(c);
            if r > rows1 {
                continue;
            }
            let sw = aw / (c as u32 * (w + 1) + 1);
            let sh = ah / (r as u32 * (h + 1) + 1);
            let s = sw.min(sh);
            let better = match best {
                None => true,
                Some((bs, bc, br)) => {
                    s > bs || (s == bs && (c * r < bc * br || (c * r == bc * br && c > bc)))
                }
            };
            if s >= 1 && better {
                best = Some((s, c, r));
            }
        }
        let (scale, cols, rows) = best?;
        let pages = total.div_ceil(per_page);
        let page = page.min(pages - 1);
        let first = page * per_page;
        Some(Page {
            cols,
            rows,
            scale,
            per_page,
            pages,
            page,
            first,
            count: per_page.min(total - first),
            total,
        })
    }

    /// The size of the composed page in units.
    pub fn size(&self, item: (u32, u32)) -> (u32, u32) {
        let s = self.scale;
        (
            (self.cols as u32 * (item.0 + 1) + 1) * s,
            (self.rows as u32 * (item.1 + 1) + 1) * s,
        )
    }

    /// For a pane title: "16 of 64" when a page shows all, else the range shown, e.g.
    /// "17–32 of 64" (`[` and `]` turn the pages).
    pub fn label(&self) -> String {
        if self.pages == 1 {
            format!("{} of {}", self.count, self.total)
        } else if self.count == 1 {
            format!("image {} of {}", self.first + 1, self.total)
        } else {
            format!(
                "{}–{} of {}",
                self.first + 1,
                self.first + self.count,
                self.total
            )
        }
    }

    /// The images of this page, from a flat [n, C, H, W] buffer of values in [−1, 1],
    /// composed at the page's scale (always `cols` wide, so every page has one size).
    pub(crate) fn compose(
        &self,
        values: &[f32],
        shape: [usize; 3],
        background: [u8; 3],
    ) -> RgbImage {
        let item = shape.iter().product::<usize>().max(1);
        let lo = (self.first * item).min(values.len());
        let hi = ((self.first + self.count) * item).min(values.len());
        let mut img = image_grid(
            &values[lo..hi],
            self.count,
            shape,
            self.cols,
            self.scale,
            self.scale,
            background,
        );
        let (w, h) = self.size((shape[2] as u32, shape[1] as u32));
        if img.width() != w || img.height() != h {
            // A short last page: keep the full page's size.
            let mut full = RgbImage::from_pixel(w, h, image::Rgb(background));
            image::imageops::replace(&mut full, &img, 0, 0);
            img = full;
        }
        img
    }
}

/// The line a pane shows when not even one image fits.
pub(crate) fn too_small(item: (usize, usize)) -> String {
    format!(
        "too small for one {}×{} image at full size: z zooms this pane",
        item.0, item.1
    )
}

/// An RGB image drawn 1:1 with '▀' cells: one pixel per column, two per row (the upper
/// one in the foreground colour, the lower one in the background colour). Centred in the
/// area and clipped to it.
pub struct HalfBlocks<'a> {
    pub image: &'a RgbImage,
}

impl HalfBlocks<'_> {
    /// Where the image lands in `area` (in cells).
    pub fn placement(image: &RgbImage, area: Rect) -> Rect {
        let w = (image.width() as u16).min(area.width);
        let h = (image.height().div_ceil(2) as u16).min(area.height);
        Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        )
    }
}

impl Widget for HalfBlocks<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let img = self.image;
        if img.width() == 0 || img.height() == 0 {
            return;
        }
        let at = Self::placement(img, area.intersection(buf.area));
        for cy in 0..at.height {
            for cx in 0..at.width {
                let (x, y) = (cx as u32, cy as u32 * 2);
                let a = img.get_pixel(x, y).0;
                let cell = &mut buf[(at.x + cx, at.y + cy)];
                cell.set_char('▀').set_fg(Color::Rgb(a[0], a[1], a[2]));
                if y + 1 < img.height() {
                    let b = img.get_pixel(x, y + 1).0;
                    cell.set_bg(Color::Rgb(b[0], b[1], b[2]));
                } else {
                    cell.set_bg(Color::Reset);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_fits_at_the_largest_scale() {
        // 16 images of 16×16 in 200×200 units: 4×4 at scale 200 / (4·17 + 1) = 2.
        let p = Page::fit(16, (16, 16), (200, 200), 0).unwrap();
        assert_eq!(
            (p.cols, p.rows, p.scale, p.per_page, p.pages),
            (4, 4, 2, 16, 1)
        );
        assert_eq!(p.label(), "16 of 16");
        let (w, h) = p.size((16, 16));
        assert!(w <= 200 && h <= 200, "{w}×{h}");
    }

    #[test]
    fn what_does_not_fit_at_scale_one_goes_to_later_pages() {
        // 64 images of 16×16 in a 60×40 area: 3 columns × 2 rows at scale 1.
        let p = Page::fit(64, (16, 16), (60, 40), 0).unwrap();
        assert_eq!((p.per_page, p.scale), (6, 1));
        assert_eq!(p.pages, 11);
        let last = Page::fit(64, (16, 16), (60, 40), 99).unwrap();
        assert_eq!((last.page, last.first, last.count), (10, 60, 4));
        assert_eq!(last.label(), "61–64 of 64");
    }

    #[test]
    fn a_pane_too_small_for_one_image_says_so() {
        assert!(Page::fit(4, (28, 28), (30, 18), 0).is_none());
        assert!(Page::fit(0, (28, 28), (300, 300), 0).is_none());
    }

    #[test]
    fn composed_pages_keep_their_size_and_stay_inside() {
        for (n, avail) in [
            (64, (97, 61)),
            (7, (300, 41)),
            (1, (18, 18)),
            (100, (1000, 90)),
        ] {
            let p = Page::fit(n, (16, 16), avail, 0).unwrap();
            let values = vec![0.5f32; n * 256];
            let img = p.compose(&values, [1, 16, 16], [0, 0, 0]);
            assert_eq!((img.width(), img.height()), p.size((16, 16)));
            assert!(img.width() <= avail.0 && img.height() <= avail.1);
        }
    }
}
