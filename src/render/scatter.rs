//! A PNG scatter plot of 2-D samples over faint data points. Samples outside the plot are
//! never dropped silently: each is marked by a triangle at the border, pointing the way
//! it lies, and a caption counts them.

use super::text::draw_text;
use image::{Rgb, RgbImage};

pub struct ScatterStyle {
    pub size: u32,
    pub background: [u8; 3],
    pub grid: [u8; 3],
    pub data: [u8; 3],
    pub samples: [u8; 3],
    /// The border markers and caption of samples outside the plot.
    pub outside: [u8; 3],
    /// The half-width of the square view [−r, r]²; None fits it to the points (see
    /// `view_radius`). Animations fix it, so that their axes hold still.
    pub view: Option<f32>,
}

impl Default for ScatterStyle {
    fn default() -> Self {
        ScatterStyle {
            size: 640,
            background: [18, 20, 26],
            grid: [48, 52, 62],
            data: [90, 96, 110],
            samples: [255, 170, 60],
            outside: [240, 80, 80],
            view: None,
        }
    }
}

/// The square view [−r, r]² that holds (almost) every point: the 99.5th percentile of
/// |coordinate| with a margin, so one outlier does not shrink the picture.
pub(crate) fn view_radius(points: &[&[f32]]) -> f32 {
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

/// A scatter plot and what it could not show.
pub struct Scatter {
    pub image: RgbImage,
    /// The half-width of the view.
    pub radius: f32,
    /// Samples drawn, and how many of them lie outside the view (or are not finite).
    pub samples: usize,
    pub outside: usize,
}

/// Draws `samples` (x, y pairs) over `data`. Samples outside the view are marked at the
/// border and counted in a caption at the bottom ("9 of 2000 points outside the plot").
pub(crate) fn scatter(data: &[f32], samples: &[f32], style: &ScatterStyle) -> Scatter {
    let n = style.size.max(16);
    let mut img = RgbImage::from_pixel(n, n, Rgb(style.background));
    let r = style
        .view
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or_else(|| view_radius(&[data, samples]));
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
    let inside = |p: &[f32]| p[0].abs() <= r && p[1].abs() <= r;
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
    let mut outside = 0;
    for p in samples.chunks_exact(2) {
        if inside(p) {
            continue;
        }
        outside += 1;
        if p[0].is_finite() && p[1].is_finite() {
            border_marker(&mut img, p[0], -p[1], style.outside);
        }
    }
    let total = samples.len() / 2;
    if outside > 0 {
        caption(
            &mut img,
            &format!("{outside} of {total} points outside the plot"),
            style,
        );
    }
    Scatter {
        image: img,
        radius: r,
        samples: total,
        outside,
    }
}

/// A filled triangle at the border of the square picture, in the direction (dx, dy) from
/// its centre (pixel axes: y down), its tip on the border and pointing out.
fn border_marker(img: &mut RgbImage, dx: f32, dy: f32, colour: [u8; 3]) {
    let n = img.width().min(img.height()) as f32;
    let len = (dx * dx + dy * dy).sqrt();
    if !(len.is_finite() && len > 0.0) {
        return;
    }
    let (ux, uy) = (dx / len, dy / len);
    let c = (n - 1.0) / 2.0;
    // where the ray leaves the square, 1 pixel in from the edge
    let reach = (c - 1.0) / ux.abs().max(uy.abs());
    let (tx, ty) = (c + ux * reach, c + uy * reach);
    let size = marker_size(n);
    let (bx, by) = (tx - ux * 2.0 * size, ty - uy * 2.0 * size);
    let (px, py) = (-uy * size, ux * size);
    let tri = [(tx, ty), (bx + px, by + py), (bx - px, by - py)];
    let (x0, x1) = (
        tri.iter().map(|p| p.0).fold(f32::INFINITY, f32::min),
        tri.iter().map(|p| p.0).fold(f32::NEG_INFINITY, f32::max),
    );
    let (y0, y1) = (
        tri.iter().map(|p| p.1).fold(f32::INFINITY, f32::min),
        tri.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max),
    );
    let edge = |a: (f32, f32), b: (f32, f32), p: (f32, f32)| {
        (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0)
    };
    for y in y0.floor().max(0.0) as u32..=(y1.ceil().min(n - 1.0) as u32) {
        for x in x0.floor().max(0.0) as u32..=(x1.ceil().min(n - 1.0) as u32) {
            let p = (x as f32, y as f32);
            let e = [
                edge(tri[0], tri[1], p),
                edge(tri[1], tri[2], p),
                edge(tri[2], tri[0], p),
            ];
            if e.iter().all(|v| *v >= -0.5) || e.iter().all(|v| *v <= 0.5) {
                img.put_pixel(x, y, Rgb(colour));
            }
        }
    }
}

/// Half the base of a border marker (its depth is twice this) in a picture `n` wide.
fn marker_size(n: f32) -> f32 {
    (n / 64.0).clamp(4.0, 9.0)
}

/// A caption on a background strip at the bottom left, clear of the border markers.
fn caption(img: &mut RgbImage, text: &str, style: &ScatterStyle) {
    let scale = if img.width() >= 480 { 2 } else { 1 };
    let (w, h) = (super::text::text_width(text, scale) + 6, 7 * scale + 6);
    let clear = 2.0 * marker_size(img.width() as f32) + 4.0;
    let y0 = img.height().saturating_sub(h + clear as u32);
    for y in y0..(y0 + h).min(img.height()) {
        for x in clear as u32..(clear as u32 + w).min(img.width()) {
            img.put_pixel(x, y, Rgb(style.background));
        }
    }
    draw_text(img, clear as u32 + 3, y0 + 3, text, scale, style.outside);
}

/// Encodes a picture as PNG bytes.
pub(crate) fn png_bytes(img: &RgbImage) -> Result<Vec<u8>, super::RenderError> {
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
        let plot = scatter(&[], &[0.0, 0.0, 1.0, 1.0, -1.0, -1.0], &style);
        let img = &plot.image;
        let c = (style.size - 1) / 2;
        assert_eq!(img.get_pixel(c, c).0, style.samples);
        assert_eq!(img.get_pixel(2, 2).0, style.background);
        assert_eq!(plot.outside, 0);
        assert!(!has_colour(img, style.outside), "nothing to mark");
    }

    fn has_colour(img: &RgbImage, colour: [u8; 3]) -> bool {
        img.pixels().any(|p| p.0 == colour)
    }

    /// The share of pixels of `colour` in the rectangle [x0, x1) × [y0, y1).
    fn count(img: &RgbImage, colour: [u8; 3], (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 == colour)
            .count()
    }

    #[test]
    fn points_outside_the_plot_are_marked_at_the_border_and_counted() {
        let style = ScatterStyle::default();
        // a unit disc of 2000 samples, 9 of which blew up far to the right
        let mut samples: Vec<f32> = (0..2000)
            .flat_map(|i| {
                let a = i as f32 * 0.7;
                let r = (i % 100) as f32 / 100.0;
                [r * a.cos(), r * a.sin()]
            })
            .collect();
        for i in 0..9 {
            samples[2 * i] = 7597.0;
            samples[2 * i + 1] = 0.0;
        }
        let plot = scatter(&samples, &samples, &style);
        plot.image.save("/tmp/diffscope-outside.png").ok();
        assert!(plot.radius < 2.0, "the outliers do not shrink the picture");
        assert_eq!((plot.outside, plot.samples), (9, 2000));
        let n = style.size;
        // a marker at the middle of the right border, none at the left one
        let right = count(
            &plot.image,
            style.outside,
            (n - 30, n),
            (n / 2 - 10, n / 2 + 10),
        );
        let left = count(
            &plot.image,
            style.outside,
            (0, 30),
            (n / 2 - 10, n / 2 + 10),
        );
        assert!(right > 20 && left == 0, "right {right}, left {left}");
        // the caption along the bottom
        let caption = count(&plot.image, style.outside, (0, n / 2), (n - 60, n));
        assert!(caption > 100, "caption pixels {caption}");
    }

    #[test]
    fn a_fixed_view_holds_the_axes_whatever_the_points() {
        let style = ScatterStyle {
            size: 200,
            view: Some(2.0),
            ..Default::default()
        };
        let near = scatter(&[], &[1.0, 1.0], &style);
        let far = scatter(&[], &[1.0, 1.0, 30.0, -30.0], &style);
        assert_eq!((near.radius, far.radius), (2.0, 2.0));
        // (1, 1) lands on the same pixel in both; the far point is marked bottom right
        let (x, y) = (149, 50);
        assert_eq!(near.image.get_pixel(x, y).0, style.samples);
        assert_eq!(far.image.get_pixel(x, y).0, style.samples);
        assert_eq!(far.outside, 1);
        assert!(count(&far.image, style.outside, (180, 200), (180, 200)) > 10);
    }
}
