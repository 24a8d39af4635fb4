//! Images in the terminal. Sample grids of image presets are laid out and encoded for the
//! detected protocol (kitty, sixel, iTerm2 or Unicode half-blocks) off the UI thread, with
//! nearest-neighbour upscaling. Small inspector frames are drawn straight into the buffer
//! as half-blocks, which works everywhere (plain SSH, tmux).

use crate::render::grid::{default_cols, image_grid};
use image::{DynamicImage, RgbImage};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol;
use ratatui_image::{FilterType, Resize};

/// The `--image-protocol` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageProtocol {
    Auto,
    Kitty,
    Sixel,
    Iterm2,
    Halfblocks,
}

impl ImageProtocol {
    pub fn name(self) -> &'static str {
        match self {
            ImageProtocol::Auto => "auto",
            ImageProtocol::Kitty => "kitty",
            ImageProtocol::Sixel => "sixel",
            ImageProtocol::Iterm2 => "iterm2",
            ImageProtocol::Halfblocks => "halfblocks",
        }
    }
}

/// Builds the picker. `Auto` queries the terminal, which must happen before raw mode and
/// before the event stream starts; a failed query falls back to half-blocks.
pub fn picker(choice: ImageProtocol) -> Picker {
    let mut p = match choice {
        ImageProtocol::Auto => Picker::from_query_stdio().unwrap_or_else(|_| Picker::halfblocks()),
        _ => Picker::halfblocks(),
    };
    let forced = match choice {
        ImageProtocol::Auto => None,
        ImageProtocol::Kitty => Some(ProtocolType::Kitty),
        ImageProtocol::Sixel => Some(ProtocolType::Sixel),
        ImageProtocol::Iterm2 => Some(ProtocolType::Iterm2),
        ImageProtocol::Halfblocks => Some(ProtocolType::Halfblocks),
    };
    if let Some(t) = forced {
        p.set_protocol_type(t);
    }
    p
}

pub fn protocol_name(p: &Picker) -> &'static str {
    match p.protocol_type() {
        ProtocolType::Halfblocks => "halfblocks",
        ProtocolType::Sixel => "sixel",
        ProtocolType::Kitty => "kitty",
        ProtocolType::Iterm2 => "iterm2",
    }
}

/// A sample grid, encoded for a given area.
pub struct ImageSet {
    /// The sample request it shows.
    pub id: u64,
    pub step: u64,
    pub grid: RgbImage,
    pub protocol: Option<Protocol>,
    /// The area (in cells) it was encoded for.
    pub area: Rect,
}

impl std::fmt::Debug for ImageSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageSet")
            .field("id", &self.id)
            .field("step", &self.step)
            .field("grid", &(self.grid.width(), self.grid.height()))
            .field("area", &self.area)
            .finish()
    }
}

/// [n, C, H, W] from a sample shape, when it is one.
pub fn image_shape(shape: &[i64]) -> Option<[usize; 4]> {
    match shape {
        [n, c, h, w] => Some([*n as usize, *c as usize, *h as usize, *w as usize]),
        _ => None,
    }
}

/// Lays out images in [−1, 1] as a grid (one pixel per pixel, 1 px gaps).
pub fn grid(values: &[f32], shape: [usize; 4], background: [u8; 3]) -> RgbImage {
    let [n, c, h, w] = shape;
    image_grid(values, n, [c, h, w], default_cols(n), 1, 1, background)
}

/// Encodes a grid for `area`, upscaled nearest-neighbour to fill it. Slow for the graphics
/// protocols: call it off the UI thread.
pub fn encode(picker: &Picker, id: u64, step: u64, grid: RgbImage, area: Rect) -> ImageSet {
    let protocol = picker
        .new_protocol(
            DynamicImage::ImageRgb8(grid.clone()),
            ratatui::layout::Size::new(area.width, area.height),
            Resize::Scale(Some(FilterType::Nearest)),
        )
        .ok();
    ImageSet {
        id,
        step,
        grid,
        protocol,
        area,
    }
}

/// An RGB image drawn with '▀' cells (two pixels per cell), scaled nearest-neighbour to fit
/// the area while keeping its aspect ratio.
pub struct HalfBlocks<'a> {
    pub image: &'a RgbImage,
}

impl Widget for HalfBlocks<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (iw, ih) = (self.image.width(), self.image.height());
        if iw == 0 || ih == 0 || area.width == 0 || area.height == 0 {
            return;
        }
        let (aw, ah) = (area.width as f64, area.height as f64 * 2.0);
        let s = (aw / iw as f64).min(ah / ih as f64);
        let (w, h) = (
            ((iw as f64 * s) as u16).max(1),
            ((ih as f64 * s / 2.0).ceil() as u16).max(1),
        );
        for cy in 0..h.min(area.height) {
            for cx in 0..w.min(area.width) {
                let px = ((cx as f64 / s) as u32).min(iw - 1);
                let top = (((cy as f64 * 2.0) / s) as u32).min(ih - 1);
                let bot = (((cy as f64 * 2.0 + 1.0) / s) as u32).min(ih - 1);
                let a = self.image.get_pixel(px, top).0;
                let b = self.image.get_pixel(px, bot).0;
                let cell = &mut buf[(area.x + cx, area.y + cy)];
                cell.set_char('▀')
                    .set_fg(Color::Rgb(a[0], a[1], a[2]))
                    .set_bg(Color::Rgb(b[0], b[1], b[2]));
            }
        }
    }
}
