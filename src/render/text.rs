//! Tiny captions (digits, a few letters and signs) drawn with a 5×7 bitmap font, so that
//! pictures can say which timestep they show without a font file.

use image::{Rgb, RgbImage};

fn glyph(c: char) -> Option<[&'static str; 7]> {
    Some(match c {
        '0'..='9' => crate::data::glyphs::FONT[c as usize - '0' as usize],
        't' => [
            "..#..", "..#..", "#####", "..#..", "..#..", "..#.#", "...#.",
        ],
        'x' => [
            ".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#",
        ],
        '=' => [
            ".....", ".....", "#####", ".....", "#####", ".....", ".....",
        ],
        '^' => [
            "..#..", ".#.#.", "#...#", ".....", ".....", ".....", ".....",
        ],
        ' ' => [
            ".....", ".....", ".....", ".....", ".....", ".....", ".....",
        ],
        _ => return None,
    })
}

/// Width in pixels of `text` at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().filter(|c| glyph(*c).is_some()).count() as u32 * 6 * scale
}

/// Draws `text` with its top-left corner at (x, y); unknown characters are skipped.
pub fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32, colour: [u8; 3]) {
    let mut cx = x;
    for c in text.chars() {
        let Some(rows) = glyph(c) else { continue };
        for (r, row) in rows.iter().enumerate() {
            for (col, b) in row.bytes().enumerate() {
                if b != b'#' {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (cx + col as u32 * scale + dx, y + r as u32 * scale + dy);
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, Rgb(colour));
                        }
                    }
                }
            }
        }
        cx += 6 * scale;
    }
}
