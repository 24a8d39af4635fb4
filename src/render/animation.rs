//! Animated GIFs of the reverse process.

use super::RenderError;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbImage, RgbaImage};

/// Encodes frames as a looping GIF, `delay_ms` per frame (the last one held longer).
pub(crate) fn gif_bytes(frames: &[RgbImage], delay_ms: u32) -> Result<Vec<u8>, RenderError> {
    let fail = |e| RenderError::Encode {
        format: "GIF",
        source: Box::new(e),
    };
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut out, 10);
        enc.set_repeat(Repeat::Infinite).map_err(fail)?;
        for (i, f) in frames.iter().enumerate() {
            let hold = if i + 1 == frames.len() { 4 } else { 1 };
            let rgba: RgbaImage = image::DynamicImage::ImageRgb8(f.clone()).to_rgba8();
            let frame =
                Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(delay_ms * hold, 1));
            enc.encode_frame(frame).map_err(fail)?;
        }
    }
    Ok(out)
}
