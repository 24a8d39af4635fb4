//! The loss pane: raw loss (faint) and smoothed loss (bold) against step, on a linear or
//! log scale, or the losses per quarter of t; and the schedule view that can replace it.

use super::{block, faint, num};
use crate::diffusion::state_of;
use crate::tui::app::{App, Comparison};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

fn transform(points: &[(f64, f64)], log: bool) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter(|p| !log || p.1 > 0.0)
        .map(|&(x, y)| (x, if log { y.log10() } else { y }))
        .collect()
}

fn y_label(v: f64, log: bool) -> String {
    if log {
        num(10f64.powf(v))
    } else {
        num(v)
    }
}

/// A named, styled line of (step, value) points.
type Curve = (String, Vec<(f64, f64)>, Style);

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    if let Some(c) = &app.compare {
        return draw_compare(f, app, area, c);
    }
    let th = app.theme();
    let h = &app.run.history;
    let scale = if app.view.log_scale { "log" } else { "linear" };
    let title = if app.view.quarters {
        format!(" Loss ({scale}) per quarter of t: Q1 (t ≤ T/4) … Q4 ")
    } else {
        format!(" Loss ({scale}) · raw faint · smoothed bold ")
    };
    let b = super::focused(
        block(title, th),
        th,
        app.view.focus == crate::tui::app::Focus::Loss,
    );
    if h.raw.is_empty() {
        let msg = if app.run.training {
            "waiting for the first steps…"
        } else {
            "no training in this session (inspecting a checkpoint)"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, faint(th))).block(b), area);
        return;
    }
    let log = app.view.log_scale;
    let series: Vec<Curve> = if app.view.quarters {
        h.quarters
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    format!("t∈Q{}", i + 1),
                    transform(s.points(), log),
                    Style::default().fg(th.quarters[i]),
                )
            })
            .collect()
    } else {
        vec![
            (
                "raw".into(),
                transform(h.raw.points(), log),
                faint(th).fg(th.raw_loss),
            ),
            (
                "smoothed".into(),
                transform(h.smooth.points(), log),
                Style::default()
                    .fg(th.smooth_loss)
                    .add_modifier(Modifier::BOLD),
            ),
        ]
    };
    match curve_chart(&series, log, "", th) {
        Some(chart) => f.render_widget(chart.block(b), area),
        None => f.render_widget(Paragraph::new("no finite loss yet").block(b), area),
    }
}

/// A line chart of `series` (braille, no legend) with its bounds padded and labelled;
/// `x_prefix` goes before the left x label (`t=`). None when there is no point.
fn curve_chart<'a>(
    series: &'a [Curve],
    log: bool,
    x_prefix: &str,
    th: &crate::tui::theme::Theme,
) -> Option<Chart<'a>> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (_, pts, _) in series {
        for &(x, y) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        return None;
    }
    if x1 - x0 < 1.0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    // Values that cannot be negative (losses, on a linear scale) keep the axis at 0 or up.
    let floor = if !log && y0 >= 0.0 { 0.0 } else { f64::MIN };
    let (y0, y1) = ((y0 - pad).max(floor), y1 + pad);
    let datasets: Vec<Dataset> = series
        .iter()
        .map(|(name, pts, style)| {
            Dataset::default()
                .name(name.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(*style)
                .data(pts)
        })
        .collect();
    let ax = faint(th);
    Some(
        Chart::new(datasets)
            .x_axis(Axis::default().style(ax).bounds([x0, x1]).labels([
                Line::from(format!("{x_prefix}{x0:.0}")),
                Line::from(format!("{x1:.0}")),
            ]))
            .y_axis(
                Axis::default()
                    .style(ax)
                    .bounds([y0, y1])
                    .labels([Line::from(y_label(y0, log)), Line::from(y_label(y1, log))]),
            )
            .legend_position(None),
    )
}

/// The colour of the i-th run in a comparison (and of the i-th sampler of a sweep).
pub(super) fn run_colour(th: &crate::tui::theme::Theme, i: usize) -> ratatui::style::Color {
    let palette = [
        th.smooth_loss,
        th.quarters[3],
        th.x0_hat,
        th.quarters[1],
        th.density,
        th.accent,
        th.quarters[0],
        th.quarters[2],
    ];
    palette[i % palette.len()]
}

/// Runs side by side: their loss curves (or, in the bound view, their bound terms per
/// t) in their own colours, a legend that names them, and the preset fields that differ.
fn draw_compare(f: &mut Frame, app: &App, area: Rect, c: &Comparison) {
    let th = app.theme();
    let terms = app.view.terms;
    let log = app.view.log_scale || terms;
    let what = if terms { "bound terms per t" } else { "loss" };
    let b = super::focused(
        block(
            format!(
                " Comparing {} runs: {what} ({}) · Esc leaves ",
                c.runs.len(),
                if log { "log" } else { "linear" }
            ),
            th,
        ),
        th,
        app.view.focus == crate::tui::app::Focus::Loss,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let text_rows = (c.runs.len() + c.differences.len() + 1).min(inner.height as usize / 2) as u16;
    let [chart_area, text_area] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Min(3),
        ratatui::layout::Constraint::Length(text_rows),
    ])
    .areas(inner);
    let series: Vec<Curve> = c
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let pts: Vec<(f64, f64)> = if terms {
                r.per_t.as_ref().map_or(Vec::new(), |p| {
                    p.iter()
                        .enumerate()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(k, v)| (state_of(k) as f64, *v))
                        .collect()
                })
            } else {
                r.loss.clone()
            };
            (
                r.name.clone(),
                transform(&pts, log),
                Style::default().fg(run_colour(th, i)),
            )
        })
        .collect();
    let prefix = if terms { "t=" } else { "" };
    match curve_chart(&series, log, prefix, th) {
        Some(chart) => f.render_widget(chart, chart_area),
        None => {
            let msg = if terms {
                "none of these runs has been evaluated (b evaluates the open run)"
            } else {
                "none of these runs has a loss in its log yet"
            };
            f.render_widget(Paragraph::new(Span::styled(msg, faint(th))), chart_area);
        }
    }
    let mut lines: Vec<Line> = c
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let last = r.loss.last().map_or("-".into(), |p| num(p.1));
            let bound = r
                .bound
                .as_ref()
                .map(|(v, u)| format!("bound {} {u}", num(*v)));
            // As many of the figures as fit whole, in this order.
            let figures = [Some(format!("loss {last}")), bound, Some(r.preset.clone())];
            let mut used = 3 + r.name.chars().count();
            let mut rest = String::new();
            for f in figures.into_iter().flatten() {
                let sep = if rest.is_empty() { "  " } else { " · " };
                let w = sep.chars().count() + f.chars().count();
                if used + w > text_area.width as usize {
                    break;
                }
                used += w;
                rest.push_str(sep);
                rest.push_str(&f);
            }
            Line::from(vec![
                Span::styled("━━ ", Style::default().fg(run_colour(th, i))),
                Span::styled(
                    r.name.clone(),
                    Style::default()
                        .fg(run_colour(th, i))
                        .add_modifier(Modifier::BOLD),
                ),
                Span::styled(rest, faint(th)),
            ])
        })
        .collect();
    if c.differences.is_empty() {
        lines.push(Line::from(Span::styled(
            "the presets are the same",
            faint(th),
        )));
    }
    for d in &c.differences {
        lines.push(Line::from(Span::raw(d.clone())));
    }
    f.render_widget(Paragraph::new(lines), text_area);
}

/// ᾱ_t, β_t (scaled to its maximum) and log-SNR (scaled to [0, 1]) over t, with the
/// inspector's t marked.
pub fn draw_schedule(f: &mut Frame, app: &App, area: Rect) {
    let th = app.theme();
    let Some(s) = app.run.schedule.as_ref() else {
        f.render_widget(
            Paragraph::new("no schedule").block(block(" Schedule ", th)),
            area,
        );
        return;
    };
    let tt = s.len();
    let bmax = s.betas.iter().cloned().fold(1e-12, f64::max);
    let ls: Vec<f64> = (0..tt).map(|i| s.snr(i).max(1e-30).ln()).collect();
    let (lmin, lmax) = ls
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (lmax - lmin).max(1e-9);
    let ab: Vec<(f64, f64)> = (0..tt)
        .map(|i| (state_of(i) as f64, s.alpha_bars[i]))
        .collect();
    let be: Vec<(f64, f64)> = (0..tt)
        .map(|i| (state_of(i) as f64, s.betas[i] / bmax))
        .collect();
    let sn: Vec<(f64, f64)> = (0..tt)
        .map(|i| (state_of(i) as f64, (ls[i] - lmin) / span))
        .collect();
    let mark = [(app.inspector.t as f64, 0.0), (app.inspector.t as f64, 1.0)];
    let datasets = vec![
        Dataset::default()
            .name("ᾱ_t")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(th.smooth_loss))
            .data(&ab),
        Dataset::default()
            .name(format!("β_t/{}", num(bmax)))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(th.density))
            .data(&be),
        Dataset::default()
            .name(format!("log-SNR {:.0}…{:.0}", lmin, lmax))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(th.x0_hat))
            .data(&sn),
        Dataset::default()
            .name(format!("t={}", app.inspector.t))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(th.accent).add_modifier(Modifier::BOLD))
            .data(&mark),
    ];
    let chart = Chart::new(datasets)
        .block(super::focused(
            block(
                format!(" Schedule ({}): ᾱ_t, β_t, log-SNR ", s.kind.name()),
                th,
            ),
            th,
            app.view.focus == crate::tui::app::Focus::Loss,
        ))
        .x_axis(
            Axis::default()
                .style(faint(th))
                .bounds([0.0, tt as f64])
                .labels([Line::from("0"), Line::from(tt.to_string())]),
        )
        .y_axis(
            Axis::default()
                .style(faint(th))
                .bounds([0.0, 1.0])
                .labels([Line::from("0"), Line::from("1")]),
        )
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Percentage(60),
            ratatui::layout::Constraint::Percentage(60),
        ));
    f.render_widget(chart, area);
}
