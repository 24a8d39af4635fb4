//! A PNG scatter plot of 2-D samples over faint data points.

use image::{Rgb, RgbImage};

pub struct ScatterStyle {
    pub size: u32,
    pub background: [u8; 3],
    pub grid: [u8; 3],
    pub data: [u8; 3],
    pub samples: [u8; 3],
}

impl Default for ScatterStyle {
    fn default() -> Self {
        ScatterStyle {
            size: 640,
            background: [18, 20, 26],
            grid: [48, 52, 62],
            data: [90, 96, 110],
            samples: [255, 170, 60],
        }
    }
}

/// The square view [−r, r]² that holds (almost) every point: the 99.5th percentile of
/// |coordinate| with a margin, so one outlier does not shrink the picture.
pub fn view_radius(points: &[&[f32]]) -> f32 {
    let mut abs: Vec<f32> = points
        .iter()
        .flat_map(|p| p.iter().map(|v| v.abs()))
        .filter(|v| v.is_finite())
        .collect();
    if abs.is_empty() {
        return 1.0;
    }
    abs.sort_by(f32::total_cmp);
    let q = abs[((abs.len() - 1) as f64 * 0.995) as usize];
    (q * 1.1).max(0.5)
}

/// Draws `samples` (x, y pairs) over `data` and returns the picture.
pub fn scatter(data: &[f32], samples: &[f32], style: &ScatterStyle) -> RgbImage {
    let n = style.size.max(16);
    let mut img = RgbImage::from_pixel(n, n, Rgb(style.background));
    let r = view_radius(&[data, samples]);
    let to_px = |v: f32| ((v / r + 1.0) * 0.5 * (n - 1) as f32).round() as i64;
    // grid lines at every integer coordinate
    let mut k = -(r.floor() as i64);
    while k as f32 <= r {
        let p = to_px(k as f32);
        if (0..n as i64).contains(&p) {
            for i in 0..n {
                img.put_pixel(p as u32, i, Rgb(style.grid));
                img.put_pixel(i, (n as i64 - 1 - p) as u32, Rgb(style.grid));
            }
        }
        k += 1;
    }
    let mut plot = |pts: &[f32], colour: [u8; 3], radius: i64| {
        for p in pts.chunks_exact(2) {
            if !(p[0].is_finite() && p[1].is_finite()) {
                continue;
            }
            let (x, y) = (to_px(p[0]), n as i64 - 1 - to_px(p[1]));
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    if dx * dx + dy * dy > radius * radius {
                        continue;
                    }
                    let (px, py) = (x + dx, y + dy);
                    if px >= 0 && py >= 0 && px < n as i64 && py < n as i64 {
                        img.put_pixel(px as u32, py as u32, Rgb(colour));
                    }
                }
            }
        }
    };
    plot(data, style.data, 1);
    plot(samples, style.samples, 1);
    img
}

/// Encodes a picture as PNG bytes.
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>, super::RenderError> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| super::RenderError::Encode {
            format: "PNG",
            source: Box::new(e),
        })?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_drawn_where_they_are() {
        let style = ScatterStyle::default();
        let img = scatter(&[], &[0.0, 0.0, 1.0, 1.0, -1.0, -1.0], &style);
        let c = (style.size - 1) / 2;
        assert_eq!(img.get_pixel(c, c).0, style.samples);
        assert_eq!(img.get_pixel(2, 2).0, style.background);
    }
}
