//! The process inspector: a scrubber over t = 0…T with β_t, ᾱ_t and the SNR; x_t (and in
//! reverse mode x̂_0) as a scatter or an image grid; a histogram of x_t's values against the
//! N(0, 1) density.

use super::samples::scatter;
use super::{block, faint, num};
use crate::tui::app::{App, Mode};
use crate::tui::images::{self, HalfBlocks};
use crate::tui::inspect::{normal_pdf, Frame as PFrame, Histogram};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LineGauge, Paragraph};
use ratatui::Frame;

/// Half-width of the view of x_t (noise reaches about ±4).
pub const VIEW: f64 = 4.0;

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let th = app.theme();
    let tt = app.timesteps();
    let mode = match app.mode {
        Mode::Forward => "forward q(x_t|x_0)",
        Mode::Reverse => "reverse (sampling trajectory)",
    };
    let b = block(format!(" Process · {mode} "), th);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [info, scrub, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(inner);

    let frame = app.frame();
    let (beta, ab, snr) = app.schedule_at(app.t).unwrap_or((0.0, 1.0, f64::INFINITY));
    let bold = Style::default().fg(th.accent).add_modifier(Modifier::BOLD);
    let mut spans = vec![
        Span::styled(format!("t = {}", app.t), bold),
        Span::raw(format!(
            "/{tt}  β_t {}  ᾱ_t {}  SNR {}",
            num(beta),
            num(ab),
            num(snr)
        )),
    ];
    if let Some(fr) = frame {
        if fr.t != app.t {
            spans.push(Span::styled(
                format!("  (nearest frame t={})", fr.t),
                faint(th),
            ));
        }
    }
    if app.playing {
        spans.push(Span::styled("  ▶", bold));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);
    let ratio = if tt > 0 {
        app.t as f64 / tt as f64
    } else {
        0.0
    };
    f.render_widget(
        LineGauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .label("0")
            .filled_style(Style::default().fg(th.accent))
            .unfilled_style(faint(th)),
        scrub,
    );

    let Some(fr) = frame else {
        let msg = match app.mode {
            Mode::Forward => "computing the forward process…",
            Mode::Reverse if app.sampling.is_some() => "sampling a trajectory…",
            Mode::Reverse => "no trajectory yet: press s to sample one",
        };
        f.render_widget(Paragraph::new(Span::styled(msg, faint(th))), body);
        return;
    };
    let wide = body.width >= 2 * body.height * 2;
    let (pics, hist) = if wide {
        let [a, b] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
            .areas(body);
        (a, b)
    } else {
        let [a, b] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(body);
        (a, b)
    };
    draw_pictures(f, app, fr, pics);
    draw_histogram(f, app, &fr.hist, hist);
}

fn draw_pictures(f: &mut Frame, app: &App, fr: &PFrame, area: Rect) {
    let th = app.theme();
    let item_shape = app
        .data
        .as_ref()
        .map(|d| d.item_shape.clone())
        .or_else(|| app.samples.as_ref().map(|s| s.shape[1..].to_vec()))
        .unwrap_or_default();
    let views: Vec<(String, &[f32])> = match &fr.x0 {
        Some(x0) => vec![
            (format!(" x_t (t={}) ", fr.t), &fr.xt[..]),
            (" x̂_0 ".to_string(), &x0[..]),
        ],
        None => vec![(format!(" x_t (t={}) ", fr.t), &fr.xt[..])],
    };
    let cols =
        Layout::horizontal(vec![Constraint::Ratio(1, views.len() as u32); views.len()]).split(area);
    let bg = app.data.as_ref().map_or(&[][..], |d| &d.background[..]);
    for (i, (title, values)) in views.into_iter().enumerate() {
        let b = block(title, th);
        if item_shape == [2] {
            let color = if i == 0 { th.samples } else { th.x0_hat };
            scatter(f, cols[i], b, bg, values, (th.data, color), VIEW);
        } else if let [c, h, w] = item_shape[..] {
            let item = (c * h * w).max(1) as usize;
            let n = values.len() / item;
            let shape = [n, c as usize, h as usize, w as usize];
            let g = images::grid(values, shape, [0, 0, 0]);
            let inner = b.inner(cols[i]);
            f.render_widget(b, cols[i]);
            f.render_widget(HalfBlocks { image: &g }, inner);
        } else {
            f.render_widget(Paragraph::new("").block(b), cols[i]);
        }
    }
}

fn draw_histogram(f: &mut Frame, app: &App, h: &Histogram, area: Rect) {
    let th = app.theme();
    let bars = h.density();
    let pdf: Vec<(f64, f64)> = (0..=80)
        .map(|i| {
            let x = h.lo + (h.hi - h.lo) * i as f64 / 80.0;
            (x, normal_pdf(x))
        })
        .collect();
    let ymax = bars.iter().map(|b| b.1).fold(0.45, f64::max);
    let datasets = vec![
        Dataset::default()
            .name("x_t")
            .marker(Marker::HalfBlock)
            .graph_type(GraphType::Bar)
            .style(Style::default().fg(th.samples))
            .data(&bars),
        Dataset::default()
            .name("N(0,1)")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(th.density).add_modifier(Modifier::BOLD))
            .data(&pdf),
    ];
    let chart = Chart::new(datasets)
        .block(block(" values of x_t (bars) vs N(0,1) (line) ", th))
        .x_axis(
            Axis::default()
                .style(faint(th))
                .bounds([h.lo, h.hi])
                .labels([
                    Line::from(format!("{:.0}", h.lo)),
                    Line::from("0"),
                    Line::from(format!("{:.0}", h.hi)),
                ]),
        )
        .y_axis(Axis::default().style(faint(th)).bounds([0.0, ymax]))
        .legend_position(None);
    f.render_widget(chart, area);
}
