//! The sweep chart: sample quality against network evaluations, one line per sampler, on a
//! log x axis (log10 of the NFE, its ticks labelled with the NFE). It takes the loss
//! pane's place while shown (`n`). For a class-conditional model, the guidance chart
//! (`G`) takes it instead: class agreement and Fréchet distance against w.

use super::{block, faint, focused, num};
use crate::eval::guidance::{GuidanceRow, GuidanceSweep};
use crate::eval::sweep::Sweep;
use crate::render::chart::linear_ticks;
use crate::tui::app::App;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph};
use ratatui::Frame;

/// What the chart plots: per sampler its label and (log10 NFE, figure) points; the x
/// bounds (log10) with the NFE of each evenly spaced x label; the y bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    pub x_bounds: [f64; 2],
    pub x_labels: Vec<String>,
    pub y_bounds: [f64; 2],
}

/// An NFE as a tick label: whole, two significant digits above 100.
fn nfe_label(v: f64) -> String {
    if v >= 100.0 {
        let p = 10f64.powi(v.log10().floor() as i32 - 1);
        format!("{}", ((v / p).round() * p) as u64)
    } else {
        format!("{}", v.round() as u64)
    }
}

/// The chart of a sweep, with `labels` x labels (at least two); None when no point has a
/// figure.
pub fn chart_data(sweep: &Sweep, labels: usize) -> Option<ChartData> {
    let series: Vec<(String, Vec<(f64, f64)>)> = sweep
        .series()
        .into_iter()
        .map(|(l, pts)| {
            let pts = pts
                .into_iter()
                .filter(|(x, y)| *x > 0.0 && y.is_finite())
                .map(|(x, y)| (x.log10(), y))
                .collect();
            (l, pts)
        })
        .collect();
    let all = || series.iter().flat_map(|(_, p)| p.iter());
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (x, _)| {
        (a.min(*x), b.max(*x))
    });
    let (y0, y1) = all().fold((0.0f64, f64::NEG_INFINITY), |(a, b), (_, y)| {
        (a.min(*y), b.max(*y))
    });
    if !x0.is_finite() {
        return None;
    }
    let (x0, x1) = if x1 - x0 < 0.1 {
        (x0 - 0.1, x1 + 0.1)
    } else {
        (x0, x1)
    };
    let labels = labels.max(2);
    let x_labels = (0..labels)
        .map(|i| nfe_label(10f64.powf(x0 + (x1 - x0) * i as f64 / (labels - 1) as f64)))
        .collect();
    let (_, lo, hi) = linear_ticks(y0, y1 + 0.04 * (y1 - y0));
    Some(ChartData {
        series,
        x_bounds: [x0, x1],
        x_labels,
        y_bounds: [lo, hi],
    })
}

/// The chart's title: the figure, the step and samples, or where a running sweep stands.
fn title(app: &App) -> String {
    let s = &app.run.sweep;
    if s.running.is_some() {
        return match s.progress {
            Some([point, points, step, of]) => format!(
                " Sweep: point {}/{points}, step {step}/{of} · quality vs NFE ",
                point + 1
            ),
            None => " Sweep: starting (the classifier may train first) ".into(),
        };
    }
    match &s.result {
        Some((step, ema, sweep)) => format!(
            " {} vs NFE · step {step}, {} weights, {} samples · n hides ",
            figure_name(sweep),
            if *ema { "EMA" } else { "raw" },
            sweep.samples
        ),
        None => " Quality vs NFE ".into(),
    }
}

fn figure_name(sweep: &Sweep) -> &'static str {
    match sweep.figure {
        crate::eval::sweep::Figure::Frechet => "Fréchet",
        crate::eval::sweep::Figure::SlicedW1 => "Sliced W1",
    }
}

/// The guidance chart's two panels: class agreement (%) against w, and the Fréchet
/// distances (all samples, and the mean over classes) against w; the x bounds and labels
/// (the scales swept) and each panel's y bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidanceChartData {
    pub agreement: Vec<(f64, f64)>,
    pub frechet: Vec<(String, Vec<(f64, f64)>)>,
    pub x_bounds: [f64; 2],
    pub x_labels: Vec<String>,
    pub agreement_bounds: [f64; 2],
    pub frechet_bounds: [f64; 2],
}

/// The chart of a guidance sweep; None when no w has a figure.
pub fn guidance_data(sweep: &GuidanceSweep) -> Option<GuidanceChartData> {
    let series = |f: &dyn Fn(&GuidanceRow) -> Option<f64>| -> Vec<(f64, f64)> {
        sweep
            .rows
            .iter()
            .filter_map(|r| f(r).filter(|y| y.is_finite()).map(|y| (r.scale, y)))
            .collect()
    };
    let agreement = series(&|r| Some(100.0 * r.agreement));
    let frechet = vec![
        ("all samples".to_string(), series(&|r| Some(r.frechet))),
        (
            "per class (mean)".to_string(),
            series(&|r| r.frechet_class_mean),
        ),
    ];
    let xs: Vec<f64> = sweep.rows.iter().map(|r| r.scale).collect();
    if agreement.is_empty() && frechet.iter().all(|(_, p)| p.is_empty()) {
        return None;
    }
    let (x0, x1) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let (x0, x1) = if x1 - x0 < 1e-9 {
        (x0 - 0.5, x1 + 0.5)
    } else {
        (x0, x1)
    };
    let top = frechet
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0f64, f64::max);
    let (_, lo, hi) = linear_ticks(0.0, top * 1.04);
    Some(GuidanceChartData {
        agreement,
        frechet,
        x_bounds: [x0, x1],
        x_labels: [x0, (x0 + x1) / 2.0, x1]
            .iter()
            .map(|w| format!("{}", (w * 100.0).round() / 100.0))
            .collect(),
        agreement_bounds: [0.0, 100.0],
        frechet_bounds: [lo, hi],
    })
}

/// The guidance chart's title: the step, weights, samples and classes, or where a running
/// sweep stands.
fn guidance_title(app: &App) -> String {
    let s = &app.run.sweep;
    if s.running.is_some() {
        return match s.progress {
            Some([point, points, step, of]) => format!(
                " Guidance sweep: w {}/{points}, step {step}/{of} · agreement and Fréchet vs w ",
                point + 1
            ),
            None => " Guidance sweep: starting (the classifier may train first) ".into(),
        };
    }
    match &s.guided {
        Some((step, ema, g)) => format!(
            " Agreement & Fréchet vs w · step {step} · {} samples · {} · {} · G hides ",
            g.samples,
            if *ema { "EMA" } else { "raw" },
            g.class
        ),
        None => " Agreement & Fréchet vs w ".into(),
    }
}

fn draw_guidance(f: &mut Frame, app: &App, area: Rect) {
    let th = app.theme();
    let b = focused(
        block(guidance_title(app), th),
        th,
        app.view.focus == crate::tui::app::Focus::Loss,
    );
    let Some((_, _, sweep)) = &app.run.sweep.guided else {
        let msg = if app.run.sweep.running.is_some() {
            "sampling at each w…"
        } else {
            "no guidance sweep yet: press G"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, faint(th))).block(b), area);
        return;
    };
    let Some(data) = guidance_data(sweep) else {
        f.render_widget(Paragraph::new("no figure in this sweep").block(b), area);
        return;
    };
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [left, right] =
        Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(inner);
    let ax = faint(th);
    let x_axis = || {
        Axis::default()
            .title("w")
            .style(ax)
            .bounds(data.x_bounds)
            .labels(data.x_labels.iter().map(|l| Line::from(l.clone())))
    };
    fn lines<'a>(
        th: &crate::tui::theme::Theme,
        series: &'a [(String, Vec<(f64, f64)>)],
    ) -> Vec<Dataset<'a>> {
        let mut v = Vec::new();
        for (i, (label, pts)) in series.iter().enumerate() {
            let style = Style::default().fg(super::loss::run_colour(th, i));
            v.push(
                Dataset::default()
                    .name(label.clone())
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(style)
                    .data(pts),
            );
            v.push(
                Dataset::default()
                    .marker(Marker::Dot)
                    .graph_type(GraphType::Scatter)
                    .style(style.add_modifier(Modifier::BOLD))
                    .data(pts),
            );
        }
        v
    }
    // short labels: the panels are narrow
    let short = |v: f64| {
        if v.abs() >= 10.0 || v == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let y_labels = |[y0, y1]: [f64; 2]| {
        [
            Line::from(short(y0)),
            Line::from(short((y0 + y1) / 2.0)),
            Line::from(short(y1)),
        ]
    };
    let legend = (Constraint::Percentage(100), Constraint::Percentage(100));
    let agreement = [("agreement %".to_string(), data.agreement.clone())];
    let chart = Chart::new(lines(th, &agreement))
        .x_axis(x_axis())
        .y_axis(
            Axis::default()
                .style(ax)
                .bounds(data.agreement_bounds)
                .labels(y_labels(data.agreement_bounds)),
        )
        .legend_position(Some(LegendPosition::BottomRight))
        .hidden_legend_constraints(legend)
        .block(block(" class agreement % ", th));
    f.render_widget(chart, left);
    let chart = Chart::new(lines(th, &data.frechet))
        .x_axis(x_axis())
        .y_axis(
            Axis::default()
                .style(ax)
                .bounds(data.frechet_bounds)
                .labels(y_labels(data.frechet_bounds)),
        )
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints(legend)
        .block(block(" Fréchet (lower is closer) ", th));
    f.render_widget(chart, right);
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    if app.run.sweep.guidance {
        return draw_guidance(f, app, area);
    }
    let th = app.theme();
    let b = focused(
        block(title(app), th),
        th,
        app.view.focus == crate::tui::app::Focus::Loss,
    );
    let Some((_, _, sweep)) = &app.run.sweep.result else {
        let msg = if app.run.sweep.running.is_some() {
            "sampling each sampler at each step count…"
        } else {
            "no sweep yet: press n"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, faint(th))).block(b), area);
        return;
    };
    let labels = if area.width >= 60 { 4 } else { 3 };
    let Some(data) = chart_data(sweep, labels) else {
        f.render_widget(Paragraph::new("no figure in this sweep").block(b), area);
        return;
    };
    let mut datasets = Vec::new();
    for (i, (label, pts)) in data.series.iter().enumerate() {
        let style = Style::default().fg(super::loss::run_colour(th, i));
        datasets.push(
            Dataset::default()
                .name(label.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(style)
                .data(pts),
        );
        datasets.push(
            Dataset::default()
                .marker(Marker::Dot)
                .graph_type(GraphType::Scatter)
                .style(style.add_modifier(Modifier::BOLD))
                .data(pts),
        );
    }
    let ax = faint(th);
    let [y0, y1] = data.y_bounds;
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .title("NFE")
                .style(ax)
                .bounds(data.x_bounds)
                .labels(data.x_labels.iter().map(|l| Line::from(l.clone()))),
        )
        .y_axis(Axis::default().style(ax).bounds(data.y_bounds).labels([
            Line::from(num(y0)),
            Line::from(num((y0 + y1) / 2.0)),
            Line::from(num(y1)),
        ]))
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Percentage(100),
            ratatui::layout::Constraint::Percentage(100),
        ))
        .block(b);
    f.render_widget(chart, area);
}
