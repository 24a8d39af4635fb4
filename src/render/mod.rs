//! Pictures written to files: scatter plots for 2-D data, image grids, captions and
//! animations of the reverse process.

pub mod animation;
pub mod chart;
pub mod grid;
pub mod scatter;
pub mod text;

use crate::util::{write_atomic, WriteError};
use image::RgbImage;
use std::path::{Path, PathBuf};

/// A picture that cannot be encoded or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// `format`: "PNG" or "GIF".
    #[error("cannot encode {format}")]
    Encode {
        format: &'static str,
        #[source]
        source: Box<image::ImageError>,
    },
    #[error("{}: cannot encode {format}", path.display())]
    EncodeFile {
        path: PathBuf,
        format: &'static str,
        #[source]
        source: Box<image::ImageError>,
    },
    /// The encoded picture could not be written to its file.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl RenderError {
    /// The same error, naming the file the picture was meant for.
    fn for_file(self, path: &Path) -> RenderError {
        match self {
            RenderError::Encode { format, source } => RenderError::EncodeFile {
                path: path.to_path_buf(),
                format,
                source,
            },
            e => e,
        }
    }
}

/// Writes a picture to a PNG file (atomically).
pub fn write_png(path: &Path, img: &RgbImage) -> Result<(), RenderError> {
    let bytes = scatter::png_bytes(img).map_err(|e| e.for_file(path))?;
    Ok(write_atomic(path, &bytes)?)
}

/// Writes frames to a looping GIF file (atomically), `delay_ms` per frame.
pub(crate) fn write_gif(
    path: &Path,
    frames: &[RgbImage],
    delay_ms: u32,
) -> Result<(), RenderError> {
    let bytes = animation::gif_bytes(frames, delay_ms).map_err(|e| e.for_file(path))?;
    Ok(write_atomic(path, &bytes)?)
}

/// Places pictures side by side on a background, with `pad` pixels around them and a
/// caption strip of `caption_h` pixels on top.
pub(crate) fn side_by_side(
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
