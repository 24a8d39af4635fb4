//! Progress output: a bar on a terminal, plain periodic lines otherwise (logs, pipes, CI).

use crate::util::duration;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    start: Instant,
    start_pos: u64,
    next_line: u64,
    line_every: u64,
}

impl Progress {
    pub fn new(label: &str, start: u64, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(label.to_string());
            b.set_position(start);
            b
        });
        let line_every = (total / 20).max(1);
        Progress {
            bar,
            label: label.to_string(),
            total,
            start: Instant::now(),
            start_pos: start,
            next_line: start + line_every,
            line_every,
        }
    }

    /// Moves to `pos`; `msg` holds the figures of the moment (loss, …).
    pub fn update(&mut self, pos: u64, msg: &str) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let rate = (pos - self.start_pos.min(pos)) as f64 / elapsed.max(1e-9);
        match &self.bar {
            Some(b) => {
                b.set_position(pos);
                b.set_message(format!("{msg} {} it/s", rate_text(rate)));
            }
            None => {
                if pos >= self.next_line || pos == self.total {
                    let eta = (self.total - pos.min(self.total)) as f64 / rate.max(1e-9);
                    eprintln!(
                        "{} {pos}/{} {msg} {} it/s ETA {}",
                        self.label,
                        self.total,
                        rate_text(rate),
                        duration(eta)
                    );
                    while self.next_line <= pos {
                        self.next_line += self.line_every;
                    }
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// "312", "7.4", "0.52": enough digits to be useful at any speed.
fn rate_text(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}")
    } else if rate >= 1.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
}
