//! Image grids: a batch of images in [−1, 1] laid out in rows, upscaled nearest-neighbour.

use image::{Rgb, RgbImage};

/// Lays out `n` images of shape [channels, height, width] (values in [−1, 1], stored
/// contiguously as in a [n, C, H, W] tensor) in a grid of `cols` columns, each pixel drawn
/// as a `scale`×`scale` block, with `pad` pixels of `background` between images.
/// Grayscale images (C = 1) are drawn in gray; C = 3 as RGB.
pub(crate) fn image_grid(
    values: &[f32],
    n: usize,
    shape: [usize; 3],
    cols: usize,
    scale: u32,
    pad: u32,
    background: [u8; 3],
) -> RgbImage {
    let [c, h, w] = shape;
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let scale = scale.max(1);
    let (cw, ch) = (w as u32 * scale, h as u32 * scale);
    let width = cols as u32 * cw + (cols as u32 + 1) * pad;
    let height = rows as u32 * ch + (rows as u32 + 1) * pad;
    let mut img = RgbImage::from_pixel(width.max(1), height.max(1), Rgb(background));
    let item = c * h * w;
    let to_u8 = |v: f32| ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
    for k in 0..n.min(values.len() / item.max(1)) {
        let (r, col) = ((k / cols) as u32, (k % cols) as u32);
        let (x0, y0) = (pad + col * (cw + pad), pad + r * (ch + pad));
        let base = k * item;
        for y in 0..h {
            for x in 0..w {
                let px = |ch: usize| to_u8(values[base + ch * h * w + y * w + x]);
                let rgb = if c >= 3 {
                    [px(0), px(1), px(2)]
                } else {
                    let g = px(0);
                    [g, g, g]
                };
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.put_pixel(
                            x0 + x as u32 * scale + dx,
                            y0 + y as u32 * scale + dy,
                            Rgb(rgb),
                        );
                    }
                }
            }
        }
    }
    img
}

/// A near-square number of columns for `n` images.
pub(crate) fn default_cols(n: usize) -> usize {
    (n as f64).sqrt().ceil().max(1.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_land_in_their_cells() {
        // two 1×2×2 images: the first all black, the second white at (0, 1) only
        let v = [-1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0];
        let img = image_grid(&v, 2, [1, 2, 2], 2, 3, 1, [9, 9, 9]);
        assert_eq!((img.width(), img.height()), (2 * 6 + 3, 6 + 2));
        assert_eq!(img.get_pixel(0, 0).0, [9, 9, 9]);
        assert_eq!(img.get_pixel(1, 1).0, [0, 0, 0]);
        // second cell starts at x = 1 + 6 + 1 = 8; pixel (x=1, y=0) spans x 11..14, y 1..4
        assert_eq!(img.get_pixel(11, 1).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(8, 1).0, [0, 0, 0]);
    }
}
