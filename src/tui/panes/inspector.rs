//! The process inspector: a scrubber over t = 0…T with β_t, ᾱ_t and the SNR; x_t (and in
//! reverse mode x̂_0) as a scatter or an image grid; a histogram of x_t's values against the
//! N(0, 1) density.

use super::pictures::{self, Images};
use super::samples::scatter;
use super::{block, faint, focused, num};
use crate::diffusion::{index_of, state_of, VarianceKind};
use crate::tui::app::figures::sample_size;
use crate::tui::app::{App, Focus, Mode};
use crate::tui::graphics::{Slot, SlotId};
use crate::tui::inspect::{normal_pdf, Frame as PFrame, Histogram};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LineGauge, Paragraph};
use ratatui::Frame;

/// Half-width of the view of x_t (noise reaches about ±4).
pub const VIEW: f64 = 4.0;

/// Draws the inspector; returns its pages of images and the images on a full page.
pub fn draw(f: &mut Frame, app: &App, area: Rect, slots: &mut Vec<Slot>) -> (usize, usize) {
    let th = app.theme();
    let tt = app.timesteps();
    let mode = match app.inspector.mode {
        _ if app.inspector.pair.is_some() => "two samplers from the same x_T",
        Mode::Forward => "forward q(x_t|x_0)",
        Mode::Reverse => "reverse (sampling trajectory)",
    };
    // a guided run's class and w, for the reverse process it drew
    let guided = match (&app.inspector.pair, app.inspector.mode, &app.run.samples) {
        (None, Mode::Reverse, Some(s)) => crate::tui::app::guidance_label(&s.trace.options)
            .map(|g| format!(" {g} ·"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let b = focused(
        block(format!(" Process ·{guided} {mode} "), th),
        th,
        app.view.focus == Focus::Inspector,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    if let Some(pair) = &app.inspector.pair {
        return super::pair::draw(f, app, pair, inner, slots);
    }
    let [info, scrub, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(inner);

    let frame = app.frame();
    let at = app
        .schedule_at(app.inspector.t)
        .unwrap_or(crate::tui::app::ScheduleAt {
            beta: 0.0,
            beta_tilde: 0.0,
            alpha_bar: 1.0,
            snr: f64::INFINITY,
        });
    let bold = Style::default().fg(th.accent).add_modifier(Modifier::BOLD);
    let traced = frame
        .filter(|_| app.inspector.mode == Mode::Reverse)
        .and_then(|fr| fr.trace.map(|tr| (fr, tr)));
    let mut spans = if let Some((fr, tr)) = traced {
        // The sampler's own frames: the step, σ_t and the run's settings.
        let mut v = vec![
            Span::styled(format!("t = {}", fr.t), bold),
            Span::raw(format!("/{tt}")),
        ];
        if !tr.done {
            v.push(Span::raw(format!("  σ_t {}", num(tr.sigma))));
        }
        if let Some(var) = tr.variance {
            // the learned variance, between the step's own β̃ and β
            v.push(Span::styled(format!("  σ²_θ {}", num(var.mean)), bold));
            // the range as an interval, which reads right even where a terminal's font
            // drops the tilde of β̃
            v.push(Span::raw(format!(
                " in [β̃ {}, β {}]",
                num(var.beta_tilde),
                num(var.beta)
            )));
        }
        v.push(Span::raw("  "));
        v.push(Span::styled(tr.label(), bold));
        if let Some(s) = &app.run.samples {
            v.push(Span::styled(
                format!("  {}", crate::tui::app::describe(&s.trace.options, tt)),
                faint(th),
            ));
        }
        v
    } else {
        // β̃_t beside β_t for a model that learns its variance between the two
        let learned = app
            .run
            .preset
            .as_ref()
            .is_some_and(|p| p.diffusion.variance == VarianceKind::Learned);
        let tilde = if learned {
            format!("  β̃_t {}", num(at.beta_tilde))
        } else {
            String::new()
        };
        vec![
            Span::styled(format!("t = {}", app.inspector.t), bold),
            Span::raw(format!(
                "/{tt}  β_t {}{tilde}  ᾱ_t {}  SNR {}",
                num(at.beta),
                num(at.alpha_bar),
                num(at.snr)
            )),
        ]
    };
    if let Some(fr) = frame.filter(|_| traced.is_none()) {
        if fr.t != app.inspector.t {
            spans.push(Span::styled(
                format!("  (nearest frame t={})", fr.t),
                faint(th),
            ));
        }
    }
    if app.inspector.playing {
        spans.push(Span::styled("  ▶", bold));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);
    let ratio = if tt > 0 {
        app.inspector.t as f64 / tt as f64
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
        let msg = match app.inspector.mode {
            Mode::Forward => "computing the forward process…",
            Mode::Reverse if app.run.sampling.is_some() => "sampling a trajectory…",
            Mode::Reverse => "no trajectory yet: press s to sample one",
        };
        f.render_widget(Paragraph::new(Span::styled(msg, faint(th))), body);
        return (1, 1);
    };
    let wide = body.width >= 2 * body.height * 2;
    // four pictures in a row (x_t, and the guided, conditional and unconditional x̂_0)
    // take the width, the histogram a strip below; where not one image of each fits, the
    // two of an unguided step as usual
    let four = |body: Rect| {
        let [a, b] =
            Layout::vertical([Constraint::Percentage(75), Constraint::Percentage(25)]).areas(body);
        (a, b)
    };
    let guided = fr.guided.is_some() && four_fit(app, four(body).0, fr.xt.len());
    let (pics, hist) = if guided {
        four(body)
    } else if wide {
        let [a, b] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
            .areas(body);
        (a, b)
    } else {
        let [a, b] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(body);
        (a, b)
    };
    let pages = draw_pictures(f, app, fr, guided, pics, slots);
    if app.view.terms {
        draw_terms(f, app, hist);
    } else {
        draw_histogram(f, app, &fr.hist, hist);
    }
    pages
}

/// The variational bound's term at each t on a log scale, with the inspector's t marked.
/// The term at schedule index i involves x_{i+1}, so it is drawn at t = i + 1; the decoder
/// L_0 (which can be negative for continuous data) is given in the title.
fn draw_terms(f: &mut Frame, app: &App, area: Rect) {
    let th = app.theme();
    let Some(e) = &app.run.evaluation else {
        let msg = if app.run.evaluating.is_some() {
            "evaluating the bound (all T timesteps)…"
        } else {
            "no evaluation yet: press b"
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, faint(th))).block(block(" bound terms ", th)),
            area,
        );
        return;
    };
    let per_t = &app.run.bound_terms;
    let pts: Vec<(f64, f64)> = per_t
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, v)| v.is_finite() && **v > 0.0)
        .map(|(i, v)| (state_of(i) as f64, v.log10()))
        .collect();
    let tt = per_t.len().max(1) as f64;
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let (lo, hi) = if lo.is_finite() {
        (lo.floor(), hi.ceil().max(lo.floor() + 1.0))
    } else {
        (-6.0, 0.0)
    };
    let marker = [(app.inspector.t as f64, lo), (app.inspector.t as f64, hi)];
    let here = index_of(app.inspector.t)
        .and_then(|i| per_t.get(i))
        .map(|v| format!(" · at t={}: {} ", app.inspector.t, num(*v)))
        .unwrap_or_default();
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(th.samples))
            .data(&pts),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(th.accent).add_modifier(Modifier::BOLD))
            .data(&marker),
    ];
    let title = format!(
        " log₁₀ L_t ({}) · step {} · total {:.3} ± {:.3} · L_0 {}{here}",
        e.unit.name(),
        e.step,
        e.bound,
        e.bound_se,
        per_t.first().map_or("-".into(), |v| num(*v))
    );
    let chart = Chart::new(datasets)
        .block(
            block(title, th).title_bottom(Span::styled(format!(" {} ", sample_size(e)), faint(th))),
        )
        .x_axis(
            Axis::default()
                .style(faint(th))
                .bounds([0.0, tt])
                .labels([Line::from("0"), Line::from(format!("{}", tt as usize))]),
        )
        .y_axis(Axis::default().style(faint(th)).bounds([lo, hi]).labels([
            Line::from(format!("{:.0}", lo + 0.0)),
            Line::from(format!("{:.0}", hi + 0.0)),
        ]))
        .legend_position(None);
    f.render_widget(chart, area);
}

/// The items' shape: the data's, or the samples' before the data is ready.
fn item_shape(app: &App) -> Vec<i64> {
    app.run
        .data
        .as_ref()
        .map(|d| d.item_shape.clone())
        .or_else(|| app.run.samples.as_ref().map(|s| s.shape[1..].to_vec()))
        .unwrap_or_default()
}

/// Whether four views of `values` values each (scatters, or one image at least each) fit
/// in `area`.
fn four_fit(app: &App, area: Rect, values: usize) -> bool {
    let [c, h, w] = item_shape(app)[..] else {
        return true;
    };
    let item = [c as usize, h as usize, w as usize];
    let n = values / item.iter().product::<usize>().max(1);
    let th = app.theme();
    view_areas(area, 4)
        .iter()
        .all(|r| pictures::fit(app, block("", th).inner(*r), n, item, 0).is_some())
}

/// x_t and x̂_0 (with `guided`, also the x̂_0 of the conditional and the unconditional
/// half) as scatters or as pages of images; returns the pages and the images on a full
/// page.
fn draw_pictures(
    f: &mut Frame,
    app: &App,
    fr: &PFrame,
    guided: bool,
    area: Rect,
    slots: &mut Vec<Slot>,
) -> (usize, usize) {
    let th = app.theme();
    let item_shape = item_shape(app);
    let views: Vec<(&str, &[f32], SlotId)> = match (&fr.x0, &fr.guided) {
        // a guided step: the mixed x̂_0 beside those of its two halves
        (Some(x0), Some([cond, uncond])) if guided => vec![
            ("x_t", &fr.xt[..], SlotId::Xt),
            ("x̂₀ guided", &x0[..], SlotId::X0),
            ("x̂₀ cond", &cond[..], SlotId::X0Cond),
            ("x̂₀ uncond", &uncond[..], SlotId::X0Uncond),
        ],
        (Some(x0), Some(_)) => vec![
            ("x_t", &fr.xt[..], SlotId::Xt),
            ("x̂₀ guided", &x0[..], SlotId::X0),
        ],
        (Some(x0), None) => vec![
            ("x_t", &fr.xt[..], SlotId::Xt),
            ("x̂_0", &x0[..], SlotId::X0),
        ],
        (None, _) => vec![("x_t", &fr.xt[..], SlotId::Xt)],
    };
    let cols = view_areas(area, views.len());
    let bg = app.run.data.as_ref().map_or(&[][..], |d| &d.background[..]);
    if item_shape == [2] {
        for (i, (name, values, id)) in views.into_iter().enumerate() {
            let title = if i == 0 {
                format!(" {name} (t={}) ", fr.t)
            } else {
                format!(" {name} ")
            };
            let color = match id {
                SlotId::Xt => th.samples,
                SlotId::X0Uncond => th.density,
                _ => th.x0_hat,
            };
            scatter(
                f,
                cols[i],
                block(title, th),
                bg,
                values,
                (th.data, color),
                VIEW,
            );
        }
        return (1, 1);
    }
    let [c, h, w] = item_shape[..] else {
        for (i, (name, _, _)) in views.into_iter().enumerate() {
            f.render_widget(
                Paragraph::new("").block(block(format!(" {name} "), th)),
                cols[i],
            );
        }
        return (1, 1);
    };
    let item = [c as usize, h as usize, w as usize];
    let n = fr.xt.len() / item.iter().product::<usize>().max(1);
    // Both views show the same page, laid out for the narrower one.
    let inners: Vec<Rect> = cols.iter().map(|r| block("", th).inner(*r)).collect();
    let narrow = inners
        .iter()
        .copied()
        .min_by_key(|r| (r.width, r.height))
        .unwrap_or_default();
    let page = pictures::fit(app, narrow, n, item, app.inspector.first);
    let shown = page.as_ref().map_or(format!("0 of {n}"), |p| p.label());
    for (i, (name, values, id)) in views.into_iter().enumerate() {
        let title = if i == 0 {
            format!(" {name} (t={}) · {shown} ", fr.t)
        } else {
            format!(" {name} ")
        };
        f.render_widget(block(title, th), cols[i]);
        let imgs = Images { values, item, id };
        pictures::draw(f, app, inners[i], page.as_ref(), &imgs, slots);
    }
    pictures::paging(page.as_ref())
}

/// The areas of `n` views side by side in `area`; four of them in two rows of two when
/// that gives each a larger square (a cell is about twice as tall as it is wide).
fn view_areas(area: Rect, n: usize) -> Vec<Rect> {
    let row = |r: Rect, k: usize| {
        Layout::horizontal(vec![Constraint::Ratio(1, k as u32); k])
            .split(r)
            .to_vec()
    };
    if n == 4 {
        let side = |w: u16, h: u16| w.min(2 * h);
        let (w, h) = (area.width.saturating_sub(2), area.height.saturating_sub(2));
        let in_a_row = side(w / 4, h);
        let in_a_square = side(w / 2, h / 2);
        if in_a_square > in_a_row {
            let [top, bottom] =
                Layout::vertical([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(area);
            let mut v = row(top, 2);
            v.extend(row(bottom, 2));
            return v;
        }
    }
    row(area, n.max(1))
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
