//! Pictures written to files: scatter plots for 2-D data, image grids, captions and
//! animations of the reverse process.

pub mod animation;
pub mod grid;
pub mod scatter;
pub mod text;

use image::RgbImage;

/// Places pictures side by side on a background, with `pad` pixels around them and a
/// caption strip of `caption_h` pixels on top.
pub fn side_by_side(
    parts: &[&RgbImage],
    pad: u32,
    caption_h: u32,
    background: [u8; 3],
) -> RgbImage {
    let w = parts.iter().map(|p| p.width()).sum::<u32>() + pad * (parts.len() as u32 + 1);
    let h = parts.iter().map(|p| p.height()).max().unwrap_or(0) + 2 * pad + caption_h;
    let mut out = RgbImage::from_pixel(w.max(1), h.max(1), image::Rgb(background));
    let mut x = pad;
    for p in parts {
        image::imageops::overlay(&mut out, *p, x as i64, (pad + caption_h) as i64);
        x += p.width() + pad;
    }
    out
}
