//! `diffscope schedule`: a noise schedule's tables as CSV or an aligned table.

use crate::cli::{FormatArg, KindArg, ScheduleArgs};
use crate::diffusion::{Schedule, ScheduleKind};
use anyhow::Context;
use std::fmt::Write;

pub fn kind(k: KindArg) -> ScheduleKind {
    match k {
        KindArg::Linear => ScheduleKind::Linear,
        KindArg::Cosine => ScheduleKind::Cosine,
        KindArg::Sigmoid => ScheduleKind::Sigmoid,
        KindArg::Quadratic => ScheduleKind::Quadratic,
    }
}

/// The schedule as CSV: `t,beta,alpha,alpha_bar,posterior_variance,snr`, t from 0.
pub fn csv(s: &Schedule) -> String {
    let mut out = String::from("t,beta,alpha,alpha_bar,posterior_variance,snr\n");
    for t in 0..s.len() {
        let _ = writeln!(
            out,
            "{t},{:e},{:e},{:e},{:e},{:e}",
            s.betas[t],
            s.alphas[t],
            s.alpha_bars[t],
            s.posterior_variance[t],
            s.snr(t)
        );
    }
    out
}

pub fn table(s: &Schedule) -> String {
    let mut out = format!(
        "{:>6} {:>12} {:>12} {:>12} {:>12} {:>12}\n",
        "t", "beta", "alpha", "alpha_bar", "post_var", "snr"
    );
    for t in 0..s.len() {
        let _ = writeln!(
            out,
            "{t:>6} {:>12.6e} {:>12.8} {:>12.6e} {:>12.6e} {:>12.6e}",
            s.betas[t],
            s.alphas[t],
            s.alpha_bars[t],
            s.posterior_variance[t],
            s.snr(t)
        );
    }
    out
}

pub fn run(a: &ScheduleArgs) -> anyhow::Result<()> {
    let s = Schedule::new(kind(a.kind), a.steps).context("--steps")?;
    let text = match a.format {
        FormatArg::Csv => csv(&s),
        FormatArg::Table => table(&s),
    };
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("stdout")),
    }
}
