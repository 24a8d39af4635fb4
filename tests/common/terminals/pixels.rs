//! Screenshots and captured screens as pixels: the terminal's cell grid on the screen, the
//! census of pure-black pixels against the drawn slots, and a tmux capture drawn as pixels.

use super::log::CellRect;
use super::{BG, BLACK, COLS};
use std::collections::BTreeMap;

/// Where the terminal's text starts and how big its cells are, in screen pixels.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub ox: u32,
    pub oy: u32,
    pub cw: u32,
    pub ch: u32,
}

/// A pixel rectangle, half-open.
#[derive(Debug, Clone, Copy)]
pub struct PixRect {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl PixRect {
    pub fn contains(&self, x: i64, y: i64, tol: i64) -> bool {
        x >= self.x0 - tol && x < self.x1 + tol && y >= self.y0 - tol && y < self.y1 + tol
    }
}

impl Grid {
    pub fn cells(&self, r: CellRect) -> PixRect {
        PixRect {
            x0: (self.ox + r.x * self.cw) as i64,
            y0: (self.oy + r.y * self.ch) as i64,
            x1: (self.ox + (r.x + r.w) * self.cw) as i64,
            y1: (self.oy + (r.y + r.h) * self.ch) as i64,
        }
    }
    /// The pixel rows of text rows `from..to`, the terminal's full width.
    pub fn rows(&self, from: u32, to: u32) -> PixRect {
        self.cells(CellRect {
            x: 0,
            y: from,
            w: COLS,
            h: to - from,
        })
    }
}

/// Where the pure-black pixels of a screenshot lie against the drawn slots.
#[derive(Debug)]
pub struct Census {
    pub total: usize,
    pub outside: usize,
    /// Black pixels in each slot, and their bounding box.
    pub per_slot: BTreeMap<String, (usize, Option<PixRect>)>,
    /// Up to 10 black pixels outside every slot.
    pub examples: Vec<(i64, i64)>,
}

pub fn census(img: &image::RgbImage, grid: Grid, live: &BTreeMap<String, CellRect>) -> Census {
    let rects: Vec<(String, PixRect)> = live
        .iter()
        .map(|(s, r)| (s.clone(), grid.cells(*r)))
        .collect();
    let mut c = Census {
        total: 0,
        outside: 0,
        per_slot: rects.iter().map(|(s, _)| (s.clone(), (0, None))).collect(),
        examples: vec![],
    };
    for (x, y, p) in img.enumerate_pixels() {
        if p.0 != BLACK {
            continue;
        }
        let (x, y) = (x as i64, y as i64);
        c.total += 1;
        let mut inside = false;
        for (s, r) in &rects {
            if r.contains(x, y, 1) {
                inside = true;
                let e = c.per_slot.get_mut(s).unwrap();
                e.0 += 1;
                let b = e.1.get_or_insert(PixRect {
                    x0: x,
                    y0: y,
                    x1: x + 1,
                    y1: y + 1,
                });
                b.x0 = b.x0.min(x);
                b.y0 = b.y0.min(y);
                b.x1 = b.x1.max(x + 1);
                b.y1 = b.y1.max(y + 1);
            }
        }
        if !inside {
            c.outside += 1;
            if c.examples.len() < 10 {
                c.examples.push((x, y));
            }
        }
    }
    c
}

/// Pixels of `r` in `img` equal to / different from `color`.
pub fn count(img: &image::RgbImage, r: PixRect, color: [u8; 3]) -> (usize, usize) {
    let (mut same, mut other) = (0, 0);
    for y in r.y0.max(0)..r.y1.min(img.height() as i64) {
        for x in r.x0.max(0)..r.x1.min(img.width() as i64) {
            if img.get_pixel(x as u32, y as u32).0 == color {
                same += 1;
            } else {
                other += 1;
            }
        }
    }
    (same, other)
}

/// The text of a screen captured with escapes, without them.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Draws a screen captured with escapes (`capture-pane -e`) as pixels, `scale` pixels per
/// half cell: half-block cells as their two colours, other characters as a mid tone of
/// their colours, so the pictures can be looked at.
pub fn render_cells(screen: &str, scale: u32) -> image::RgbImage {
    let rows: Vec<&str> = screen.lines().collect();
    let (w, h) = (COLS * scale, rows.len() as u32 * 2 * scale);
    let mut img = image::RgbImage::from_pixel(w.max(1), h.max(1), image::Rgb(BG));
    let default_fg = [0xd0, 0xd0, 0xd0];
    let ansi16 = |n: u16| -> [u8; 3] {
        const P: [[u8; 3]; 8] = [
            [0, 0, 0],
            [205, 0, 0],
            [0, 205, 0],
            [205, 205, 0],
            [0, 0, 238],
            [205, 0, 205],
            [0, 205, 205],
            [229, 229, 229],
        ];
        let bright = if n >= 8 { 50 } else { 0 };
        P[(n % 8) as usize].map(|v| v.saturating_add(bright))
    };
    let c256 = |n: u16| -> [u8; 3] {
        match n {
            0..=15 => ansi16(n),
            16..=231 => {
                let n = n - 16;
                let f = |v: u16| if v == 0 { 0 } else { (55 + 40 * v) as u8 };
                [f(n / 36), f((n / 6) % 6), f(n % 6)]
            }
            _ => {
                let v = (8 + 10 * (n - 232)) as u8;
                [v, v, v]
            }
        }
    };
    for (y, row) in rows.iter().enumerate() {
        let (mut fg, mut bg) = (default_fg, BG);
        let mut x = 0u32;
        let mut chars = row.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut params = String::new();
                let mut end = ' ';
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        end = d;
                        break;
                    }
                    params.push(d);
                }
                if end != 'm' {
                    continue;
                }
                let ps: Vec<u16> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
                let mut i = 0;
                while i < ps.len() {
                    let rgb = |j: usize| [ps[j] as u8, ps[j + 1] as u8, ps[j + 2] as u8];
                    match ps[i] {
                        0 => (fg, bg) = (default_fg, BG),
                        38 | 48 if ps.get(i + 1) == Some(&2) && i + 4 < ps.len() => {
                            *(if ps[i] == 38 { &mut fg } else { &mut bg }) = rgb(i + 2);
                            i += 4;
                        }
                        38 | 48 if ps.get(i + 1) == Some(&5) && i + 2 < ps.len() => {
                            *(if ps[i] == 38 { &mut fg } else { &mut bg }) = c256(ps[i + 2]);
                            i += 2;
                        }
                        39 => fg = default_fg,
                        49 => bg = BG,
                        n @ 30..=37 => fg = ansi16(n - 30),
                        n @ 90..=97 => fg = ansi16(n - 90 + 8),
                        n @ 40..=47 => bg = ansi16(n - 40),
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            let mid = [0, 1, 2].map(|k| ((fg[k] as u16 + bg[k] as u16) / 2) as u8);
            let (top, bottom) = match c {
                '▀' => (fg, bg),
                '▄' => (bg, fg),
                '█' => (fg, fg),
                ' ' => (bg, bg),
                _ => (mid, mid),
            };
            for dy in 0..2 * scale {
                for dx in 0..scale {
                    let (px, py) = (x * scale + dx, y as u32 * 2 * scale + dy);
                    if px < w && py < h {
                        let col = if dy < scale { top } else { bottom };
                        img.put_pixel(px, py, image::Rgb(col));
                    }
                }
            }
            x += 1;
        }
    }
    img
}
