//! Pictures drawn with the terminal's graphics (sixel, kitty, iTerm2): this module turns
//! the image panes' requests into escape sequences and keeps track of what is on the
//! screen, so that pictures are encoded off the UI thread, written only inside their
//! panes and erased when they move or go away.
//!
//! The panes stay pure: with a graphics protocol, an image pane leaves its picture's cells
//! blank and asks for a [`Slot`]: a rectangle of cells and the page of images to show
//! there. After each frame, the [`Screen`] compares the slots with what is on the screen:
//! a slot that is new or changed is encoded off the UI thread (by the encoder thread in
//! the event loop) and written once its bytes are ready; a slot that moved or went away
//! is erased (kitty: its picture is deleted; sixel and iTerm2: the screen is repainted,
//! since their pixels live in the cells). Nothing is written outside a slot's cells and
//! the cursor is put back where it was, so the screen never scrolls.
//!
//! **ratatui-image** encodes and draws the pictures: sixel (through icy_sixel), kitty with
//! Unicode placeholders and iTerm2. [`encode`] builds its protocol for the slot with the
//! constructors directly, from what diffscope's own probe ([`super::probe`]) decided: the
//! protocol, the cell size (the picture is composed at the slot's cells × the cell size in
//! pixels) and whether kitty's commands go through tmux. ratatui-image renders the
//! protocol into a buffer of the slot's cells, and ratatui's crossterm backend writes
//! those cells, as it writes a frame. No ratatui-image `Picker` is built, so none of its
//! own querying runs: every `Picker` constructor, `Picker::halfblocks()` included, runs
//! `tmux set -p allow-passthrough on` inside tmux, and `from_query_stdio` writes its
//! queries to the terminal. The protocol constructors and the `Image` widget write
//! nothing and start no program.
//!
//! That `Picker` is why ratatui-image was removed once (before the probe existed, the
//! workbench asked `Picker::from_query_stdio`): it changed tmux's settings, waited up to
//! 2 s for a terminal that answers nothing, knew the cell size only from `CSI 16 t` (which
//! xterm refuses, so xterm as a VT340 got half-blocks instead of sixel), and chose
//! Unicode placeholders for every kitty, which kitty before 0.28 cannot show.
//!
//! Own code is kept where ratatui-image cannot do the job:
//! - kitty before 0.28 (0.26 in Debian 12) has no Unicode placeholders, ratatui-image's
//!   only way to show a kitty picture: [`Proto::KittyDirect`] places the picture directly
//!   (`a=T` with the cells to fill), written here;
//! - deleting a kitty picture (`a=d`) when it moves or goes away: ratatui-image leaves it
//!   in the terminal's memory;
//! - a terminal with fewer than 256 sixel colour registers (a VT340 has 16):
//!   ratatui-image always asks icy_sixel for 256 colours, so icy_sixel is asked here with
//!   the terminal's count, and its sixels are drawn as ratatui-image's;
//! - half-blocks ([`super::gallery::HalfBlocks`]): ratatui-image resamples a picture to
//!   the cells with a triangle filter and picks ' ', '▀' or '▄' by brightness, while the
//!   workbench draws its pictures 1:1, every cell a '▀' (the tests rebuild the pixels
//!   exactly from the cells);
//! - when pictures are written and erased ([`Screen`]): ratatui-image draws in the frame
//!   through the buffer, which would put encoded pictures into the state the panes draw
//!   from; here they are written after the frame, as soon as the encoder thread has them.

use super::gallery::Page;
use super::probe::Proto;
use base64::Engine;
use image::{DynamicImage, RgbImage};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::buffer::Buffer;
use ratatui::layout::{Rect, Size};
use ratatui::widgets::Widget;
use ratatui_image::protocol::iterm2::Iterm2;
use ratatui_image::protocol::kitty::Kitty;
use ratatui_image::protocol::sixel::Sixel;
use ratatui_image::protocol::Protocol;
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
    /// A sampler comparison's pictures: the side (0 left, 1 right), and x̂_0 (true) or x_t.
    Pair(u8, bool),
    /// The inspector's x̂_0 of the conditional half of a guided run (reverse mode).
    X0Cond,
    /// The inspector's x̂_0 of the unconditional half of a guided run (reverse mode).
    X0Uncond,
}

impl SlotId {
    /// The kitty image id of this pane's picture.
    fn kitty_id(self) -> u32 {
        0x00d1_f500
            + match self {
                SlotId::Samples => 1,
                SlotId::Xt => 2,
                SlotId::X0 => 3,
                SlotId::Pair(side, x0) => 4 + 2 * side as u32 + x0 as u32,
                SlotId::X0Cond => 8,
                SlotId::X0Uncond => 9,
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
/// call it off the UI thread. A picture that cannot be encoded is logged and left out.
pub fn encode(setup: &Setup, slot: &Slot) -> Encoded {
    let bytes = match picture_bytes(setup, slot) {
        Ok(bytes) => bytes,
        Err(e) => {
            log(|| format!("cannot encode {:?}: {e}", slot.id));
            Vec::new()
        }
    };
    Encoded {
        id: slot.id,
        key: slot.key,
        rect: slot.rect,
        bytes,
    }
}

fn picture_bytes(setup: &Setup, slot: &Slot) -> Result<Vec<u8>, String> {
    let r = slot.rect;
    let (cw, ch) = (setup.cell.0.max(1) as u32, setup.cell.1.max(1) as u32);
    let (w, h) = (r.width as u32 * cw, r.height as u32 * ch);
    let size = Size::new(r.width, r.height);
    let picture = slot.picture.image();
    let protocol = match setup.proto {
        Proto::Halfblocks => return Ok(Vec::new()),
        Proto::KittyDirect => return Ok(kitty_direct(slot.id, &pad(&picture, w, h), r)),
        Proto::Sixel => {
            // Whole cells wide, whole sixel bands high, never more than the slot.
            let bands = picture.height().div_ceil(6) * 6;
            let img = pad(
                &picture,
                w,
                if bands <= h { bands } else { picture.height() },
            );
            Protocol::Sixel(sixel(img, size, setup.colors)?)
        }
        Proto::KittyPlaceholders => {
            // The picture fills the slot's cells exactly, so that kitty never scales it.
            // Compressed (o=z, in kitty's protocol long before 0.28): the probe chooses
            // placeholders only for kitty 0.28 or later, and raw RGBA is 15 times the bytes.
            let img = DynamicImage::ImageRgb8(pad(&picture, w, h));
            let id = slot.id.kitty_id();
            Protocol::Kitty(
                Kitty::new(img, size, id, setup.tmux, true, false).map_err(|e| e.to_string())?,
            )
        }
        Proto::Iterm2 => {
            let img = DynamicImage::ImageRgb8(pad(&picture, w, h));
            Protocol::ITerm2(Iterm2::new(img, size, false).map_err(|e| e.to_string())?)
        }
    };
    draw(&protocol, r).map_err(|e| e.to_string())
}

/// ratatui-image's sixel protocol for `img`: its own encoding for 256 colour registers or
/// more, or, for fewer, icy_sixel (its encoder) asked for that many colours.
fn sixel(img: RgbImage, size: Size, colors: u16) -> Result<Sixel, String> {
    if colors >= 256 {
        return Sixel::new(DynamicImage::ImageRgb8(img), size, false).map_err(|e| e.to_string());
    }
    let rgba = DynamicImage::ImageRgb8(img).into_rgba8();
    let options = icy_sixel::EncodeOptions {
        max_colors: colors.max(2),
        ..Default::default()
    };
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    let data = icy_sixel::sixel_encode(rgba.as_raw(), w, h, &options).map_err(|e| e.to_string())?;
    Ok(Sixel {
        data,
        size,
        is_tmux: false,
    })
}

/// The bytes that draw a ratatui-image protocol at `rect`: the protocol is rendered into a
/// buffer of those cells and ratatui's crossterm backend writes the cells it set (the
/// cells a picture covers are skipped), between saving and restoring the cursor.
fn draw(protocol: &Protocol, rect: Rect) -> std::io::Result<Vec<u8>> {
    let mut cells = Buffer::empty(rect);
    ratatui_image::Image::new(protocol).render(rect, &mut cells);
    let blank = Buffer::empty(rect);
    let mut out = b"\x1b7".to_vec();
    CrosstermBackend::new(&mut out).draw(blank.diff(&cells).into_iter())?;
    out.extend_from_slice(b"\x1b8");
    Ok(out)
}

/// Kitty's direct placement, for kitty before 0.28: the picture, as PNG, placed at the
/// slot's cells and told their number, so that it can never spill out whatever the cell
/// size.
fn kitty_direct(id: SlotId, img: &RgbImage, r: Rect) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = write!(out, "\x1b7\x1b[{};{}H", r.y + 1, r.x + 1);
    let id = id.kitty_id();
    out.extend_from_slice(&kitty(
        &format!("a=T,f=100,i={id},p=1,c={},r={},C=1,q=2", r.width, r.height),
        &png(img),
    ));
    out.extend_from_slice(b"\x1b8");
    out
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

    /// The DCS … ST sequence in `bytes`.
    fn dcs(bytes: &[u8]) -> &[u8] {
        let at = bytes.windows(2).position(|w| w == b"\x1bP").expect("a DCS");
        let len = bytes[at..]
            .windows(2)
            .position(|w| w == b"\x1b\\")
            .expect("its end");
        &bytes[at..at + len + 2]
    }

    #[test]
    fn sixel_pictures_round_trip_with_any_number_of_colour_registers() {
        // A 13×9 image, black but for a white and a gray pixel, in a frame of black.
        let mut values = vec![-1.0f32; 13 * 9];
        values[7 * 13 + 3] = 1.0;
        values[12] = 136.0 / 127.5 - 1.0;
        let page = Page::fit(1, (13, 9), (15, 11), 0).unwrap();
        let slot = Slot::new(
            SlotId::Samples,
            Rect::new(4, 2, 3, 1),
            Picture::new(&values, [1, 9, 13], &page),
        );
        for colors in [16, 256, 1024] {
            let s = Setup {
                colors,
                ..setup(Proto::Sixel)
            };
            let bytes = encode(&s, &slot).bytes;
            // Drawn at the slot's top-left cell, the cursor saved and put back.
            assert!(bytes.starts_with(b"\x1b7\x1b[3;5H"), "{colors}");
            assert!(bytes.ends_with(b"\x1b8"), "{colors}");
            let decoded = icy_sixel::SixelImage::decode(dcs(&bytes)).expect("decodes");
            // Three cells of 6 px wide; two bands of six rows fit in one cell of 13 px.
            let (w, h) = decoded.dimensions();
            assert_eq!((w, h), (18, 12), "{colors}");
            let px = |x: usize, y: usize| {
                let i = (y * w + x) * 4;
                [
                    decoded.pixels[i],
                    decoded.pixels[i + 1],
                    decoded.pixels[i + 2],
                ]
            };
            assert_eq!(px(4, 8), [255, 255, 255], "{colors}");
            for (x, y) in [(0, 0), (1, 1), (15, 11), (17, 11)] {
                assert_eq!(px(x, y), [0, 0, 0], "{colors} at {x},{y}");
            }
            assert!((px(13, 1)[0] as i32 - 136).abs() <= 9, "{:?}", px(13, 1));
        }
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
    fn kitty_placeholders_transmit_once_and_fill_the_slot_with_placeholder_cells() {
        const PLACEHOLDER: char = '\u{10EEEE}';
        // Kitty's diacritics for rows 0 and 1 (column 0 and the id's high byte are 0).
        const ROW: [char; 2] = ['\u{305}', '\u{30D}'];
        for in_tmux in [true, false] {
            let s = Setup {
                tmux: in_tmux,
                ..setup(Proto::KittyPlaceholders)
            };
            let slot = Slot::new(SlotId::Samples, Rect::new(4, 2, 3, 2), picture(16, 24, 0.5));
            let text = String::from_utf8(encode(&s, &slot).bytes).unwrap();
            let transmit = if in_tmux {
                "\x1bPtmux;\x1b\x1b_Gq=2,i=13759745,a=T,U=1,"
            } else {
                "\x1b_Gq=2,i=13759745,a=T,U=1,"
            };
            assert!(text.contains(transmit), "{in_tmux}: {text:.60}");
            // The picture fills the slot's 3×2 cells of 6×13 px.
            assert!(text.contains("o=z,t=d,s=18,v=26,c=3,r=2,"), "{text:.120}");
            // Two rows of three placeholders in the image id's colour, each row starting at
            // the slot's left edge with its row diacritic.
            assert_eq!(text.matches(PLACEHOLDER).count(), 6);
            let first = |row: usize| -> String {
                [PLACEHOLDER, ROW[row], '\u{305}', '\u{305}']
                    .iter()
                    .collect()
            };
            // Row 0: the cursor goes to the slot's top-left cell, the colour is set, and
            // the first cell carries the transmission before its placeholder.
            let colour = "\x1b[38;2;209;245;1;49m";
            assert!(
                text.starts_with(&format!("\x1b7\x1b[3;5H{colour}{transmit}")),
                "{text:.80}"
            );
            let (_, cells) = text.rsplit_once("\x1b\\").unwrap();
            assert!(
                cells.starts_with(&format!(
                    "{}{PLACEHOLDER}{PLACEHOLDER}\x1b[4;5H{}",
                    first(0),
                    first(1)
                )),
                "{cells:?}"
            );
            assert!(cells.ends_with("\x1b8"), "{cells:?}");
        }
    }

    #[test]
    fn iterm2_pictures_are_inline_files_of_the_slot_size() {
        let s = setup(Proto::Iterm2);
        let slot = Slot::new(SlotId::X0, Rect::new(0, 1, 4, 2), picture(10, 10, 0.0));
        let text = String::from_utf8(encode(&s, &slot).bytes).unwrap();
        assert!(text.starts_with("\x1b7\x1b[2;1H"), "{text:.40}");
        assert!(text.contains("\x1b]1337;File=inline=1;size="), "{text:.80}");
        assert!(text.contains(";width=24px;height=26px;"), "{text:.120}");
        assert!(text.contains("\x07") && text.ends_with("\x1b8"), "{text:?}");
    }
}
