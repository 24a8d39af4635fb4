//! A PNG line chart with a logarithmic (or linear) x axis: one line per series, markers at its points,
//! axis ticks labelled with their values, axis labels and a legend. Sweeps draw sample
//! quality against network evaluations with it.

use super::text::{draw_text, text_width};
use image::{Rgb, RgbImage};

/// One line of the chart: its legend label and its (x, y) points, x > 0.
pub type Series = (String, Vec<(f64, f64)>);

pub struct ChartStyle {
    pub width: u32,
    pub height: u32,
    pub background: [u8; 3],
    pub grid: [u8; 3],
    pub axis: [u8; 3],
    pub text: [u8; 3],
    /// The lines' colours, in turn.
    pub palette: Vec<[u8; 3]>,
    /// Where the legend goes, inside the plot.
    pub legend: Legend,
    /// A linear x axis (x ≥ 0 allowed) instead of the logarithmic one.
    pub linear_x: bool,
    /// The y axis's top, when the figure has a natural one (100 for a percentage); the
    /// highest point otherwise.
    pub y_top: Option<f64>,
}

/// A corner of the plot for the legend: where the lines are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Legend {
    #[default]
    TopRight,
    BottomRight,
}

impl Default for ChartStyle {
    fn default() -> Self {
        ChartStyle {
            width: 800,
            height: 520,
            background: [18, 20, 26],
            grid: [44, 48, 58],
            axis: [150, 156, 170],
            text: [220, 224, 232],
            palette: vec![
                [255, 170, 60],
                [90, 170, 255],
                [120, 220, 120],
                [240, 90, 120],
                [200, 140, 255],
                [240, 230, 100],
                [80, 220, 220],
                [230, 230, 230],
            ],
            legend: Legend::TopRight,
            linear_x: false,
            y_top: None,
        }
    }
}

/// The ticks of a log axis over [lo, hi]: 1, 2 and 5 times powers of ten (the ends when
/// fewer than two of those fall inside).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
        return ticks;
    }
    let mut p = 10f64.powi(lo.log10().floor() as i32);
    while p <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * p;
            if v >= lo * 0.9999 && v <= hi * 1.0001 {
                ticks.push(v);
            }
        }
        p *= 10.0;
    }
    if ticks.len() < 2 {
        ticks = if hi > lo { vec![lo, hi] } else { vec![lo] };
    }
    ticks
}

/// Evenly spaced round ticks over [lo, hi] (about five), and the range they span.
pub fn linear_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64, f64) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let last = (hi / step).ceil() * step;
    let n = ((last - first) / step).round() as usize;
    let ticks = (0..=n).map(|i| first + i as f64 * step).collect();
    (ticks, first, last)
}

/// A tick's text: at most three decimals, trailing zeros dropped.
pub fn tick_text(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(c));
    }
}

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3], w: i64) {
    let n = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
    for i in 0..=n {
        let f = i as f64 / n as f64;
        let (x, y) = (x0 + f * (x1 - x0), y0 + f * (y1 - y0));
        for dy in 0..w {
            for dx in 0..w {
                put(
                    img,
                    x.round() as i64 + dx - w / 2,
                    y.round() as i64 + dy - w / 2,
                    c,
                );
            }
        }
    }
}

/// Draws the chart: x on a log scale (linear with [`ChartStyle::linear_x`]), y linear from
/// the smaller of 0 and the lowest point.
pub fn line_chart(
    series: &[Series],
    x_label: &str,
    y_label: &str,
    title: &str,
    style: &ChartStyle,
) -> RgbImage {
    let (w, h) = (style.width.max(200), style.height.max(150));
    let mut img = RgbImage::from_pixel(w, h, Rgb(style.background));
    let scale = 2;
    let ch = 7 * scale;
    let (left, right, top, bottom) = (90.0, w as f64 - 24.0, 56.0, h as f64 - 64.0);
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let shown = |x: f64, y: f64| (style.linear_x || x > 0.0) && x.is_finite() && y.is_finite();
    let finite: Vec<(f64, f64)> = points.filter(|(x, y)| shown(*x, *y)).copied().collect();
    draw_text(&mut img, left as u32, 10, title, scale, style.text);
    draw_text(
        &mut img,
        8,
        (top - ch as f64 - 8.0) as u32,
        y_label,
        scale,
        style.text,
    );
    let xw = text_width(x_label, scale);
    let xl = ((left + right) / 2.0 - xw as f64 / 2.0).max(0.0) as u32;
    draw_text(&mut img, xl, h - ch - 8, x_label, scale, style.text);
    let (xmin, xmax) = finite
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), (x, _)| {
            (a.min(*x), b.max(*x))
        });
    let (ymin, ymax) = finite
        .iter()
        .fold((0.0f64, f64::NEG_INFINITY), |(a, b), (_, y)| {
            (a.min(*y), b.max(*y))
        });
    if finite.is_empty() {
        draw_text(
            &mut img,
            left as u32,
            (top + 20.0) as u32,
            "no points",
            scale,
            style.text,
        );
        return img;
    }
    // a margin of a fifth of a decade either side
    // the axis's coordinate of x: log10 x, or x on a linear axis
    let ax = |x: f64| if style.linear_x { x } else { x.log10() };
    let (lx0, lx1) = if xmax > xmin {
        let m = (ax(xmax) - ax(xmin)) * 0.05;
        (ax(xmin) - m, ax(xmax) + m)
    } else {
        (ax(xmin) - 0.5, ax(xmin) + 0.5)
    };
    let (yticks, y0, y1) = match style.y_top {
        Some(top) if top >= ymax => linear_ticks(ymin, top),
        _ => linear_ticks(ymin, ymax + 0.04 * (ymax - ymin)),
    };
    let px = |x: f64| left + (ax(x) - lx0) / (lx1 - lx0) * (right - left);
    let py = |y: f64| bottom - (y - y0) / (y1 - y0) * (bottom - top);
    for &t in &yticks {
        let y = py(t);
        line(&mut img, (left, y), (right, y), style.grid, 1);
        let s = tick_text(t);
        let tw = text_width(&s, scale) as f64;
        draw_text(
            &mut img,
            (left - 8.0 - tw).max(0.0) as u32,
            (y - ch as f64 / 2.0).max(0.0) as u32,
            &s,
            scale,
            style.text,
        );
    }
    let xticks = if style.linear_x {
        let (ticks, _, _) = linear_ticks(xmin, xmax);
        ticks
            .into_iter()
            .filter(|&t| t >= lx0 && t <= lx1)
            .collect()
    } else {
        log_ticks(xmin, xmax)
    };
    for t in xticks {
        let x = px(t);
        line(&mut img, (x, top), (x, bottom), style.grid, 1);
        line(&mut img, (x, bottom), (x, bottom + 5.0), style.axis, 1);
        let s = tick_text(t);
        let tw = text_width(&s, scale) as f64;
        draw_text(
            &mut img,
            (x - tw / 2.0).max(0.0) as u32,
            bottom as u32 + 9,
            &s,
            scale,
            style.text,
        );
    }
    line(&mut img, (left, top), (left, bottom), style.axis, 2);
    line(&mut img, (left, bottom), (right, bottom), style.axis, 2);
    for (i, (_, pts)) in series.iter().enumerate() {
        let c = style.palette[i % style.palette.len().max(1)];
        let pts: Vec<(f64, f64)> = pts
            .iter()
            .filter(|(x, y)| shown(*x, *y))
            .map(|&(x, y)| (px(x), py(y)))
            .collect();
        for pair in pts.windows(2) {
            line(&mut img, pair[0], pair[1], c, 2);
        }
        for &p in &pts {
            line(&mut img, (p.0 - 3.0, p.1), (p.0 + 3.0, p.1), c, 7);
        }
    }
    // the legend, top right inside the plot
    let lw = series
        .iter()
        .map(|(l, _)| text_width(l, scale))
        .max()
        .unwrap_or(0) as f64
        + 40.0;
    let lx = right - lw - 8.0;
    let row = ch as f64 + 8.0;
    let first = match style.legend {
        Legend::TopRight => top + 10.0,
        Legend::BottomRight => bottom - 10.0 - series.len() as f64 * row,
    };
    for (i, (label, _)) in series.iter().enumerate() {
        let c = style.palette[i % style.palette.len().max(1)];
        let y = first + i as f64 * row;
        for yy in (y - 4.0) as i64..(y + ch as f64 + 4.0) as i64 {
            for xx in (lx - 6.0) as i64..(lx + lw + 4.0) as i64 {
                put(&mut img, xx, yy, style.background);
            }
        }
        line(
            &mut img,
            (lx, y + ch as f64 / 2.0),
            (lx + 24.0, y + ch as f64 / 2.0),
            c,
            3,
        );
        draw_text(
            &mut img,
            (lx + 32.0) as u32,
            y as u32,
            label,
            scale,
            style.text,
        );
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_are_one_two_five_within_the_range() {
        assert_eq!(log_ticks(5.0, 100.0), [5.0, 10.0, 20.0, 50.0, 100.0]);
        assert_eq!(log_ticks(3.0, 4.0), [3.0, 4.0]);
        assert_eq!(log_ticks(5.0, 5.0), [5.0]);
        assert!(log_ticks(0.0, 5.0).is_empty());
    }

    #[test]
    fn linear_ticks_cover_the_range_with_round_steps() {
        let (t, lo, hi) = linear_ticks(0.0, 9.3);
        assert_eq!((lo, hi), (0.0, 10.0));
        assert_eq!(t, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(tick_text(0.25), "0.25");
        assert_eq!(tick_text(20.0), "20");
    }

    #[test]
    fn each_series_is_drawn_in_its_colour() {
        let style = ChartStyle::default();
        let series = vec![
            ("ddim".to_string(), vec![(5.0, 9.0), (50.0, 2.0)]),
            ("dpmpp-2m".to_string(), vec![(5.0, 4.0), (50.0, 1.0)]),
        ];
        let img = line_chart(&series, "nfe", "frechet", "sweep", &style);
        for c in &style.palette[..2] {
            let n = img.pixels().filter(|p| p.0 == *c).count();
            assert!(n > 100, "{c:?}: {n} pixels");
        }
        assert!(!img.pixels().any(|p| p.0 == style.palette[2]));
    }
}
