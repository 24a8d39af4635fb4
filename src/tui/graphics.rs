//! Images through the terminal's graphics protocol (sixel, kitty, iTerm2).
//!
//! The panes stay pure: with a graphics protocol, an image pane leaves its picture's cells
//! blank and asks for a [`Slot`]: a rectangle of cells and the page of images to show
//! there. After each frame, the [`Screen`] compares the slots with what is on the screen:
//! a slot that is new or changed is encoded off the UI thread (by the encoder thread in
//! the event loop) and written once its bytes are ready; a slot that moved or went away
//! is erased (kitty: its placement is deleted; sixel and iTerm2: the screen is repainted,
//! since their pixels live in the cells). Nothing is written outside a slot's cells and
//! the cursor is put back where it was, so the screen never scrolls.
//!
//! (Longer than most files: the three protocols' encoders, the screen's bookkeeping and
//! their tests belong together.)

use super::gallery::Page;
use super::probe::Proto;
use base64::Engine;
use image::RgbImage;
use ratatui::layout::Rect;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::Arc;

/// The variable that names a file to log image decisions and placements to (for finding
/// out why a terminal shows what it shows).
pub const LOG_VAR: &str = "DIFFSCOPE_IMAGE_LOG";

/// Appends a line to the image log, when one is asked for.
pub fn log(line: impl FnOnce() -> String) {
    if let Some(path) = std::env::var_os(LOG_VAR) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{}", line());
        }
    }
}

/// How the workbench draws images, decided once at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub proto: Proto,
    /// Why it was chosen, e.g. "DA1" or "tmux without passthrough".
    pub reason: String,
    /// A cell's size in pixels (width, height).
    pub cell: (u16, u16),
    /// Colour registers for sixel.
    pub colors: u16,
    /// Wrap kitty's output in tmux passthrough.
    pub tmux: bool,
}

impl Setup {
    pub fn halfblocks(reason: &str) -> Setup {
        Setup {
            proto: Proto::Halfblocks,
            reason: reason.into(),
            cell: (8, 16),
            colors: 256,
            tmux: false,
        }
    }

    pub fn name(&self) -> &'static str {
        match self.proto {
            Proto::Halfblocks => "half-blocks",
            Proto::Sixel => "sixel",
            Proto::KittyDirect | Proto::KittyPlaceholders => "kitty",
            Proto::Iterm2 => "iterm2",
        }
    }

    /// For the status bar: "sixel (DA1)".
    pub fn label(&self) -> String {
        format!("{} ({})", self.name(), self.reason)
    }

    /// Images are drawn with the terminal's graphics, not with text cells.
    pub fn graphic(&self) -> bool {
        self.proto != Proto::Halfblocks
    }

    /// The room in `area` in gallery units: pixels for graphics (for sixel whole bands of
    /// six rows), or one unit per column and two per row for half-blocks.
    pub fn units(&self, area: Rect) -> (u32, u32) {
        let (w, h) = (area.width as u32, area.height as u32);
        match self.proto {
            Proto::Halfblocks => (w, 2 * h),
            Proto::Sixel => {
                let ph = h * self.cell.1 as u32;
                (w * self.cell.0 as u32, ph - ph % 6)
            }
            _ => (w * self.cell.0 as u32, h * self.cell.1 as u32),
        }
    }

    /// The cells that an image of `px` (width, height) units takes, centred in `area`.
    pub fn placement(&self, px: (u32, u32), area: Rect) -> Rect {
        let (cw, ch) = match self.proto {
            Proto::Halfblocks => (1, 2),
            _ => (self.cell.0.max(1) as u32, self.cell.1.max(1) as u32),
        };
        let w = (px.0.div_ceil(cw) as u16).min(area.width);
        let h = (px.1.div_ceil(ch) as u16).min(area.height);
        Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        )
    }
}

/// The image panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlotId {
    Samples,
    /// The inspector's x_t.
    Xt,
    /// The inspector's x̂_0 (reverse mode).
    X0,
}

impl SlotId {
    /// The kitty image id of this pane's picture.
    fn kitty_id(self) -> u32 {
        0x00d1_f500
            + match self {
                SlotId::Samples => 1,
                SlotId::Xt => 2,
                SlotId::X0 => 3,
            }
    }
}

/// A page of images to show in a slot: its values and layout, composed into pixels only
/// by the encoder (off the UI thread).
#[derive(Debug, Clone)]
pub struct Picture {
    /// The page's images, flat [count, C, H, W] in [−1, 1].
    pub values: Vec<f32>,
    /// [C, H, W].
    pub item: [usize; 3],
    /// The layout, as for the page's first image at index 0.
    pub page: Page,
}

impl Picture {
    /// Page `page` of the images in `values` (flat [n, C, H, W]).
    pub fn new(values: &[f32], item: [usize; 3], page: &Page) -> Picture {
        let len = item.iter().product::<usize>().max(1);
        let lo = (page.first * len).min(values.len());
        let hi = ((page.first + page.count) * len).min(values.len());
        Picture {
            values: values[lo..hi].to_vec(),
            item,
            page: Page { first: 0, ..*page },
        }
    }

    /// Its size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.page.size((self.item[2] as u32, self.item[1] as u32))
    }

    /// Its pixels.
    pub fn image(&self) -> RgbImage {
        self.page.compose(&self.values, self.item, [0, 0, 0])
    }
}

/// A rectangle of cells where a picture goes.
#[derive(Debug, Clone)]
pub struct Slot {
    pub id: SlotId,
    pub rect: Rect,
    /// Identifies the picture (its values, layout and place).
    pub key: u64,
    pub picture: Arc<Picture>,
}

impl Slot {
    pub fn new(id: SlotId, rect: Rect, picture: Picture) -> Slot {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (rect.x, rect.y, rect.width, rect.height).hash(&mut h);
        (picture.item, picture.page.cols, picture.page.rows).hash(&mut h);
        (picture.page.scale, picture.page.count).hash(&mut h);
        for v in &picture.values {
            v.to_bits().hash(&mut h);
        }
        Slot {
            id,
            rect,
            key: h.finish(),
            picture: Arc::new(picture),
        }
    }
}

/// A slot's picture, encoded.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub id: SlotId,
    pub key: u64,
    /// Where it goes.
    pub rect: Rect,
    pub bytes: Vec<u8>,
}

/// Encodes a slot's picture for the protocol: the escape sequences that draw it at the
/// slot's cells (the cursor is saved and restored around them). Slow for large pictures:
/// call it off the UI thread.
pub fn encode(setup: &Setup, slot: &Slot) -> Encoded {
    let r = slot.rect;
    let (cw, ch) = (setup.cell.0.max(1) as u32, setup.cell.1.max(1) as u32);
    let picture = slot.picture.image();
    let mut out = Vec::new();
    let goto = |out: &mut Vec<u8>| {
        let _ = write!(out, "\x1b7\x1b[{};{}H", r.y + 1, r.x + 1);
    };
    match setup.proto {
        Proto::Halfblocks => {}
        Proto::Sixel => {
            // Whole cells wide, whole sixel bands high, never more than the slot.
            let w = (r.width as u32 * cw).max(picture.width());
            let max_h = r.height as u32 * ch;
            let h = picture.height().div_ceil(6) * 6;
            let h = if h <= max_h { h } else { picture.height() };
            let img = pad(&picture, w.min(r.width as u32 * cw), h);
            goto(&mut out);
            out.extend_from_slice(&sixel(&img, setup.colors));
            out.extend_from_slice(b"\x1b8");
        }
        Proto::KittyDirect => {
            // The picture fills the slot's cells exactly: pad it to whole cells, and tell
            // kitty the cells too, so that it can never spill out whatever the cell size.
            let img = pad(&picture, r.width as u32 * cw, r.height as u32 * ch);
            let id = slot.id.kitty_id();
            goto(&mut out);
            out.extend_from_slice(&kitty(
                &format!("a=T,f=100,i={id},p=1,c={},r={},C=1,q=2", r.width, r.height),
                &png(&img),
            ));
            out.extend_from_slice(b"\x1b8");
        }
        Proto::KittyPlaceholders => {
            // A virtual placement (sent through tmux), shown by placeholder characters
            // that tmux keeps in the pane like text: U+10EEEE in the image id's colour,
            // with diacritics for the row and the first column (the next columns follow).
            let rows = r.height.min(DIACRITICS.len() as u16);
            let img = pad(&picture, r.width as u32 * cw, rows as u32 * ch);
            let id = slot.id.kitty_id();
            let cmd = kitty(
                &format!("a=T,U=1,f=100,i={id},c={},r={rows},q=2", r.width),
                &png(&img),
            );
            out.extend(if setup.tmux { tmux_wrap(&cmd) } else { cmd });
            out.extend_from_slice(b"\x1b7");
            for row in 0..rows {
                let _ = write!(
                    out,
                    "\x1b[{};{}H\x1b[38;2;{};{};{}m{PLACEHOLDER}{}{}",
                    r.y + row + 1,
                    r.x + 1,
                    (id >> 16) & 0xff,
                    (id >> 8) & 0xff,
                    id & 0xff,
                    DIACRITICS[row as usize],
                    DIACRITICS[0],
                );
                for _ in 1..r.width {
                    let _ = write!(out, "{PLACEHOLDER}");
                }
            }
            out.extend_from_slice(b"\x1b[39m\x1b8");
        }
        Proto::Iterm2 => {
            let img = pad(&picture, r.width as u32 * cw, r.height as u32 * ch);
            let png = png(&img);
            goto(&mut out);
            let _ = write!(
                out,
                "\x1b]1337;File=inline=1;size={};width={};height={};preserveAspectRatio=0:",
                png.len(),
                r.width,
                r.height
            );
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(&png)
                    .as_bytes(),
            );
            out.extend_from_slice(b"\x07\x1b8");
        }
    }
    Encoded {
        id: slot.id,
        key: slot.key,
        rect: slot.rect,
        bytes: out,
    }
}

/// `img` in the top-left corner of a `w`×`h` black picture (cropped if larger).
fn pad(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.width() == w && img.height() == h {
        return img.clone();
    }
    let mut out = RgbImage::from_pixel(w.max(1), h.max(1), image::Rgb([0, 0, 0]));
    image::imageops::replace(&mut out, img, 0, 0);
    out
}

fn png(img: &RgbImage) -> Vec<u8> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut out = Vec::new();
    let enc = PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub);
    let _ = enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    );
    out
}

/// A kitty graphics command with a payload, in chunks of 4096 base64 characters.
fn kitty(control: &str, payload: &[u8]) -> Vec<u8> {
    let data = base64::engine::general_purpose::STANDARD.encode(payload);
    let chunks: Vec<&[u8]> = data.as_bytes().chunks(4096).collect();
    let mut out = Vec::with_capacity(data.len() + 64 * chunks.len() + 64);
    for (i, c) in chunks.iter().enumerate() {
        let more = u8::from(i + 1 < chunks.len());
        if i == 0 {
            let _ = write!(out, "\x1b_G{control},m={more};");
        } else {
            let _ = write!(out, "\x1b_Gm={more};");
        }
        out.extend_from_slice(c);
        out.extend_from_slice(b"\x1b\\");
    }
    out
}

/// Kitty's placeholder character and the diacritics that number rows and columns (the
/// first entries of the list in kitty's graphics protocol).
const PLACEHOLDER: char = '\u{10EEEE}';
const DIACRITICS: [char; 78] = [
    '\u{305}', '\u{30D}', '\u{30E}', '\u{310}', '\u{312}', '\u{33D}', '\u{33E}', '\u{33F}',
    '\u{346}', '\u{34A}', '\u{34B}', '\u{34C}', '\u{350}', '\u{351}', '\u{352}', '\u{357}',
    '\u{35B}', '\u{363}', '\u{364}', '\u{365}', '\u{366}', '\u{367}', '\u{368}', '\u{369}',
    '\u{36A}', '\u{36B}', '\u{36C}', '\u{36D}', '\u{36E}', '\u{36F}', '\u{483}', '\u{484}',
    '\u{485}', '\u{486}', '\u{487}', '\u{592}', '\u{593}', '\u{594}', '\u{595}', '\u{597}',
    '\u{598}', '\u{599}', '\u{59C}', '\u{59D}', '\u{59E}', '\u{59F}', '\u{5A0}', '\u{5A1}',
    '\u{5A8}', '\u{5A9}', '\u{5AB}', '\u{5AC}', '\u{5AF}', '\u{5C4}', '\u{610}', '\u{611}',
    '\u{612}', '\u{613}', '\u{614}', '\u{615}', '\u{616}', '\u{617}', '\u{657}', '\u{658}',
    '\u{659}', '\u{65A}', '\u{65B}', '\u{65D}', '\u{65E}', '\u{6D6}', '\u{6D7}', '\u{6D8}',
    '\u{6D9}', '\u{6DA}', '\u{6DB}', '\u{6DC}', '\u{6DF}', '\u{6E0}',
];

/// Deletes a kitty picture (its placements and its data).
fn kitty_delete(setup: &Setup, id: SlotId) -> Vec<u8> {
    let cmd = format!("\x1b_Ga=d,d=I,i={},q=2\x1b\\", id.kitty_id()).into_bytes();
    if setup.tmux {
        tmux_wrap(&cmd)
    } else {
        cmd
    }
}

/// Wraps a sequence for tmux passthrough (every ESC doubled).
fn tmux_wrap(bytes: &[u8]) -> Vec<u8> {
    let mut out = b"\x1bPtmux;".to_vec();
    for &b in bytes {
        if b == 0x1b {
            out.push(0x1b);
        }
        out.push(b);
    }
    out.extend_from_slice(b"\x1b\\");
    out
}

/// A sixel image with at most `colors` colour registers: gray levels for a gray
/// picture, an even colour cube otherwise. Pixels of colour 0 are painted too (P2 = 1 keeps
/// nothing transparent that the picture covers).
pub fn sixel(img: &RgbImage, colors: u16) -> Vec<u8> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let n = colors.clamp(2, 256) as usize;
    let gray = img.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]);
    let levels = if gray {
        n
    } else {
        ((n as f64).cbrt().floor() as usize).max(2)
    };
    let q = |v: u8| (v as usize * (levels - 1) + 127) / 255;
    let index: Vec<u16> = img
        .pixels()
        .map(|p| {
            let [r, g, b] = p.0;
            if gray {
                q(r) as u16
            } else {
                ((q(r) * levels + q(g)) * levels + q(b)) as u16
            }
        })
        .collect();
    let palette = if gray { levels } else { levels.pow(3) };
    let pct = |l: usize| (l * 100 + (levels - 1) / 2) / (levels - 1);
    let mut used = vec![false; palette];
    for &i in &index {
        used[i as usize] = true;
    }
    let mut out = Vec::with_capacity(w * h / 2);
    let _ = write!(out, "\x1bP0;1;0q\"1;1;{w};{h}");
    for (i, _) in used.iter().enumerate().filter(|(_, u)| **u) {
        let (r, g, b) = if gray {
            (pct(i), pct(i), pct(i))
        } else {
            (
                pct(i / (levels * levels)),
                pct(i / levels % levels),
                pct(i % levels),
            )
        };
        let _ = write!(out, "#{i};2;{r};{g};{b}");
    }
    let mut row = vec![0u8; w];
    let mut in_band = vec![false; palette];
    for y0 in (0..h).step_by(6) {
        let rows = (h - y0).min(6);
        in_band.iter_mut().for_each(|u| *u = false);
        for dy in 0..rows {
            for &c in &index[(y0 + dy) * w..(y0 + dy + 1) * w] {
                in_band[c as usize] = true;
            }
        }
        let colours: Vec<usize> = (0..palette).filter(|&c| in_band[c]).collect();
        for (k, &c) in colours.iter().enumerate() {
            for (x, bits) in row.iter_mut().enumerate() {
                let mut v = 0u8;
                for dy in 0..rows {
                    if index[(y0 + dy) * w + x] as usize == c {
                        v |= 1 << dy;
                    }
                }
                *bits = v;
            }
            let end = row.iter().rposition(|&v| v != 0).map_or(0, |p| p + 1);
            let _ = write!(out, "#{c}");
            let mut x = 0;
            while x < end {
                let v = row[x];
                let mut run = 1;
                while x + run < end && row[x + run] == v {
                    run += 1;
                }
                let ch = 63 + v;
                if run >= 4 {
                    let _ = write!(out, "!{run}{}", ch as char);
                } else {
                    out.extend(std::iter::repeat_n(ch, run));
                }
                x += run;
            }
            out.push(if k + 1 < colours.len() { b'$' } else { b'-' });
        }
    }
    out.extend_from_slice(b"\x1b\\");
    out
}

/// What is on the terminal's screen, and what the encoder has ready.
#[derive(Default)]
pub struct Screen {
    /// Pictures on the screen: where, and which.
    shown: HashMap<SlotId, (Rect, u64)>,
    /// Encoded pictures, newest per slot.
    ready: HashMap<SlotId, Arc<Encoded>>,
    /// Pictures asked of the encoder and not yet back.
    asked: HashMap<SlotId, u64>,
}

/// What the event loop must do after a frame.
#[derive(Debug, Default)]
pub struct Plan {
    /// Repaint the whole screen first (sixel and iTerm2 pictures are erased that way).
    pub repaint: bool,
    /// Slots to hand to the encoder.
    pub encode: Vec<Slot>,
}

impl Screen {
    /// Takes an encoded picture from the encoder.
    pub fn ready(&mut self, e: Arc<Encoded>) {
        if self.asked.get(&e.id) == Some(&e.key) {
            self.asked.remove(&e.id);
        }
        self.ready.insert(e.id, e);
    }

    /// After a frame with `slots`: erases pictures that moved or went away (into `out`, or
    /// by asking for a repaint), and lists the pictures to encode.
    pub fn plan(&mut self, setup: &Setup, slots: &[Slot], out: &mut Vec<u8>) -> Plan {
        let mut plan = Plan::default();
        let gone: Vec<SlotId> = self
            .shown
            .iter()
            .filter(|(id, (rect, _))| !slots.iter().any(|s| s.id == **id && s.rect == *rect))
            .map(|(id, _)| *id)
            .collect();
        if !gone.is_empty() {
            if matches!(setup.proto, Proto::KittyDirect | Proto::KittyPlaceholders) {
                for id in &gone {
                    out.extend(kitty_delete(setup, *id));
                }
            }
            if setup.proto == Proto::KittyDirect {
                for id in gone {
                    self.shown.remove(&id);
                }
            } else {
                // Their pixels (or placeholders) are in the cells: repaint everything,
                // then draw the pictures that stay again.
                log(|| format!("repaint (gone: {gone:?})"));
                plan.repaint = true;
                self.shown.clear();
            }
        }
        for s in slots {
            let have = self.ready.get(&s.id).is_some_and(|e| e.key == s.key);
            if !have && self.asked.get(&s.id) != Some(&s.key) {
                self.asked.insert(s.id, s.key);
                plan.encode.push(s.clone());
            }
        }
        plan
    }

    /// Writes the pictures that are ready and not yet on the screen (after a repaint, all
    /// of them). While a slot's newest picture is being encoded (when playing through t,
    /// say), the newest one ready for the same place is shown, so pictures keep coming
    /// even when encoding is slower than the frames.
    pub fn draw(&mut self, slots: &[Slot], out: &mut Vec<u8>) {
        for s in slots {
            let Some(e) = self.ready.get(&s.id).filter(|e| e.rect == s.rect) else {
                continue;
            };
            if self.shown.get(&s.id) == Some(&(s.rect, e.key)) {
                continue;
            }
            out.extend_from_slice(&e.bytes);
            self.shown.insert(s.id, (s.rect, e.key));
            let r = s.rect;
            log(|| {
                format!(
                    "draw {:?} x={} y={} w={} h={} px={}x{} bytes={}{}",
                    s.id,
                    r.x,
                    r.y,
                    r.width,
                    r.height,
                    s.picture.size().0,
                    s.picture.size().1,
                    e.bytes.len(),
                    if e.key == s.key {
                        ""
                    } else {
                        " (an earlier frame)"
                    }
                )
            });
        }
    }

    /// Forgets what is on the screen (it was cleared, e.g. after a resize).
    pub fn cleared(&mut self, setup: &Setup, out: &mut Vec<u8>) {
        if matches!(setup.proto, Proto::KittyDirect | Proto::KittyPlaceholders) {
            for id in self.shown.keys() {
                out.extend(kitty_delete(setup, *id));
            }
        }
        self.shown.clear();
    }

    /// Is a picture of this slot on the screen?
    pub fn showing(&self, id: SlotId) -> bool {
        self.shown.contains_key(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(proto: Proto) -> Setup {
        Setup {
            proto,
            reason: "test".into(),
            cell: (6, 13),
            colors: 16,
            tmux: false,
        }
    }

    /// One gray w×h image (value v in [−1, 1]) at scale 1.
    fn picture(w: usize, h: usize, v: f32) -> Picture {
        let page = Page::fit(1, (w as u32, h as u32), (w as u32 + 2, h as u32 + 2), 0).unwrap();
        Picture::new(&vec![v; w * h], [1, h, w], &page)
    }

    #[test]
    fn sixel_round_trips_a_gray_picture() {
        let mut img = RgbImage::from_pixel(13, 9, image::Rgb([0, 0, 0]));
        img.put_pixel(3, 7, image::Rgb([255, 255, 255]));
        img.put_pixel(12, 0, image::Rgb([136, 136, 136]));
        let s = sixel(&img, 16);
        let decoded = icy_sixel::SixelImage::decode(&s).expect("decodes");
        // (the decoder rounds the height up to whole bands of six rows)
        let (w, h) = decoded.dimensions();
        assert_eq!((w, h.div_ceil(6)), (13, 2));
        let px = |x: usize, y: usize| {
            let i = (y * w + x) * 4;
            [
                decoded.pixels[i],
                decoded.pixels[i + 1],
                decoded.pixels[i + 2],
            ]
        };
        assert_eq!(px(3, 7), [255, 255, 255]);
        assert_eq!(px(0, 0), [0, 0, 0]);
        assert!((px(12, 0)[0] as i32 - 136).abs() <= 9, "{:?}", px(12, 0));
    }

    #[test]
    fn pictures_are_placed_inside_their_area() {
        let s = setup(Proto::Sixel);
        let area = Rect::new(10, 5, 30, 10);
        let (w, h) = s.units(area);
        assert_eq!((w, h), (180, 126));
        let r = s.placement((100, 100), area);
        assert!(area.contains(r.as_position()) && r.right() <= area.right());
        assert!(r.bottom() <= area.bottom());
        assert_eq!((r.width, r.height), (17, 8));
    }

    #[test]
    fn moved_pictures_are_erased_and_new_ones_encoded_once() {
        for proto in [Proto::Sixel, Proto::KittyDirect] {
            let s = setup(proto);
            let mut screen = Screen::default();
            let a = Slot::new(
                SlotId::Samples,
                Rect::new(1, 1, 2, 1),
                picture(10, 11, -0.9),
            );
            let mut out = Vec::new();
            let p = screen.plan(&s, std::slice::from_ref(&a), &mut out);
            assert_eq!(p.encode.len(), 1);
            // asked once only
            assert!(screen
                .plan(&s, std::slice::from_ref(&a), &mut out)
                .encode
                .is_empty());
            screen.ready(Arc::new(encode(&s, &a)));
            screen.draw(std::slice::from_ref(&a), &mut out);
            assert!(!out.is_empty() && screen.showing(SlotId::Samples));
            let n = out.len();
            screen.draw(std::slice::from_ref(&a), &mut out);
            assert_eq!(out.len(), n, "drawn twice");
            // an overlay hides it
            let p = screen.plan(&s, &[], &mut out);
            assert!(!screen.showing(SlotId::Samples));
            match proto {
                Proto::Sixel => assert!(p.repaint),
                _ => assert!(String::from_utf8_lossy(&out[n..]).contains("a=d")),
            }
        }
    }

    #[test]
    fn while_playing_the_newest_ready_picture_is_shown() {
        let s = setup(Proto::Sixel);
        let mut screen = Screen::default();
        let rect = Rect::new(0, 0, 3, 2);
        let frame = |v: f32| Slot::new(SlotId::Xt, rect, picture(10, 10, v));
        let (a, c) = (frame(-0.5), frame(0.5));
        let mut out = Vec::new();
        screen.plan(&s, std::slice::from_ref(&a), &mut out);
        // The encoder finishes frame a only after the screen has moved on to frame c.
        screen.ready(Arc::new(encode(&s, &a)));
        screen.plan(&s, std::slice::from_ref(&c), &mut out);
        screen.draw(std::slice::from_ref(&c), &mut out);
        assert!(!out.is_empty(), "the earlier frame is shown meanwhile");
        let n = out.len();
        screen.ready(Arc::new(encode(&s, &c)));
        screen.draw(std::slice::from_ref(&c), &mut out);
        assert!(out.len() > n, "then the newest");
        let n = out.len();
        screen.draw(std::slice::from_ref(&c), &mut out);
        assert_eq!(out.len(), n);
    }

    #[test]
    fn kitty_in_tmux_sends_a_wrapped_virtual_placement_and_placeholder_cells() {
        let mut s = setup(Proto::KittyPlaceholders);
        s.tmux = true;
        let slot = Slot::new(SlotId::Samples, Rect::new(4, 2, 3, 2), picture(16, 24, 0.5));
        let text = String::from_utf8(encode(&s, &slot).bytes).unwrap();
        assert!(
            text.starts_with("\x1bPtmux;\x1b\x1b_Ga=T,U=1,f=100,"),
            "{text:.40}"
        );
        // Two rows of three placeholders, each row starting with its row diacritic.
        assert_eq!(text.matches(PLACEHOLDER).count(), 6);
        assert!(text.contains(&format!(
            "\x1b[3;5H\x1b[38;2;209;245;1m{PLACEHOLDER}{}{}",
            DIACRITICS[0], DIACRITICS[0]
        )));
        assert!(text.contains(&format!(
            "\x1b[4;5H\x1b[38;2;209;245;1m{PLACEHOLDER}{}{}",
            DIACRITICS[1], DIACRITICS[0]
        )));
    }
}
