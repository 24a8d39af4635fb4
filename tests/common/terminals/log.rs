//! The workbench's image log (`DIFFSCOPE_IMAGE_LOG`): the probe's decision, and the slot
//! rectangle of every picture drawn and of every repaint that erased some.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Probe {
    pub proto: String,
    pub reason: String,
    pub cell: (u32, u32),
    pub ms: f64,
    pub notice: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

#[derive(Debug, Clone)]
pub enum Event {
    Draw(String, CellRect),
    Repaint(Vec<String>),
}

#[derive(Debug, Default)]
pub struct Log {
    pub probe: Option<Probe>,
    pub events: Vec<Event>,
}

/// `key=value` from a log line (value up to the next space).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split(' ').next()
}

/// A Rust debug-quoted string starting at `s` (`"…"`), unescaped.
fn quoted(s: &str) -> Option<String> {
    let mut chars = s.strip_prefix('"')?.chars();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

fn pair(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('x')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Log {
    pub fn parse(text: &str) -> Log {
        let mut log = Log::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("probe ") {
                let rest = format!(" {rest}");
                let reason = rest
                    .find(" reason=")
                    .and_then(|i| quoted(&rest[i + 8..]))
                    .unwrap_or_default();
                let notice = rest
                    .find(" notice=")
                    .and_then(|i| rest[i + 8..].strip_prefix("Some(").and_then(quoted));
                log.probe = Some(Probe {
                    proto: field(&rest, "proto").unwrap_or("").to_string(),
                    reason,
                    cell: field(&rest, "cell").and_then(pair).unwrap_or((0, 0)),
                    ms: field(&rest, "ms")
                        .and_then(|m| m.parse().ok())
                        .unwrap_or(f64::NAN),
                    notice,
                });
            } else if let Some(rest) = line.strip_prefix("draw ") {
                let slot = rest.split(' ').next().unwrap_or("").to_string();
                let rest = format!(" {rest}");
                let n = |k| field(&rest, k).and_then(|v| v.parse().ok());
                if let (Some(x), Some(y), Some(w), Some(h)) = (n("x"), n("y"), n("w"), n("h")) {
                    log.events.push(Event::Draw(slot, CellRect { x, y, w, h }));
                }
            } else if let Some(rest) = line.strip_prefix("repaint (gone: [") {
                let list = rest.trim_end_matches("])");
                log.events.push(Event::Repaint(
                    list.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                ));
            }
        }
        log
    }
    pub fn draws(&self, slot: &str) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Draw(s, _) if s == slot))
            .count()
    }
    pub fn repaints(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Repaint(_)))
            .count()
    }
    /// The pictures on screen now: every drawn slot, less those a repaint erased since.
    pub fn live(&self) -> BTreeMap<String, CellRect> {
        let mut live = BTreeMap::new();
        for e in &self.events {
            match e {
                Event::Draw(s, r) => {
                    live.insert(s.clone(), *r);
                }
                Event::Repaint(gone) => {
                    for g in gone {
                        live.remove(g);
                    }
                }
            }
        }
        live
    }
}
