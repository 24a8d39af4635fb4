//! Images in the terminal: the user's choice of protocol, and the set-up that the probe of
//! the terminal turns it into. The galleries are in [`super::gallery`], the graphics
//! protocols in [`super::graphics`].

use super::graphics::Setup;
use super::probe::{self, Detection, Proto, Wanted};

/// The image protocol asked for (`--image-protocol` or `image_protocol` in `tui.ron`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
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

    fn wanted(self) -> Wanted {
        match self {
            ImageProtocol::Auto => Wanted::Auto,
            ImageProtocol::Kitty => Wanted::Kitty,
            ImageProtocol::Sixel => Wanted::Sixel,
            ImageProtocol::Iterm2 => Wanted::Iterm2,
            ImageProtocol::Halfblocks => Wanted::Halfblocks,
        }
    }
}

/// The set-up for a detection.
pub fn setup_from(d: &Detection) -> Setup {
    Setup {
        proto: d.proto,
        reason: d.reason.clone(),
        cell: d.cell,
        colors: d.sixel_colors,
        tmux: d.tmux && d.proto == Proto::KittyPlaceholders,
    }
}

/// Probes the terminal (before raw mode and before the event stream starts) and returns
/// the set-up, with a notice when the wanted protocol could not be used.
pub fn setup(choice: ImageProtocol) -> (Setup, Option<String>) {
    let start = std::time::Instant::now();
    let d = probe::detect(choice.wanted());
    let ms = start.elapsed().as_secs_f64() * 1e3;
    super::graphics::log(|| {
        format!(
            "probe wanted={} proto={:?} reason={:?} cell={}x{} source={:?} colors={} ms={ms:.1} notice={:?}",
            choice.name(),
            d.proto,
            d.reason,
            d.cell.0,
            d.cell.1,
            d.cell_source,
            d.sixel_colors,
            d.notice
        )
    });
    (setup_from(&d), d.notice)
}

/// [n, C, H, W] from a sample shape, when it is one.
pub fn image_shape(shape: &[i64]) -> Option<[usize; 4]> {
    match shape {
        [n, c, h, w] => Some([*n as usize, *c as usize, *h as usize, *w as usize]),
        _ => None,
    }
}
