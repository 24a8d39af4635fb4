//! (Over 400 lines: the writer, the reader and their tests; the reader checks every
//! field so that a corrupt log is read up to its last good row.)
//!
//! The run log: append-only CSV files in a run folder that pandas and spreadsheets read
//! as they are. The training worker appends to it at every progress report and
//! evaluation; the workbench and `diffscope runs` read it.
//!
//! - `metrics.csv`: one row per progress report, steps strictly increasing.
//! - `evals.csv`: one row per evaluation, steps never decreasing (EMA and raw weights may
//!   be evaluated at the same step).
//! - `terms.csv`: the bound's term at each 0-based schedule index `t` (as `eval --terms`
//!   numbers them: 0 is the decoder L_0) for each evaluation, in long format. Every index
//!   is written, a non-finite term as an empty cell, so that an evaluation's terms are the
//!   rows from a `t = 0` row up to the next one.
//!
//! Numbers are written so that they round-trip an f64; an empty cell is a missing value
//! (also NaN). A line counts only once it ends with `\n`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::eval::Quality;
use crate::util::write_atomic;

/// The progress reports of a run.
pub const METRICS_FILE: &str = "metrics.csv";
/// The evaluations of a run.
pub const EVALS_FILE: &str = "evals.csv";
/// The per-timestep terms of the bound of each evaluation.
pub const TERMS_FILE: &str = "terms.csv";

const METRICS_HEADER: &str =
    "step,wall_time,loss,loss_q1,loss_q2,loss_q3,loss_q4,lr,grad_norm,steps_per_sec";
const EVALS_HEADER: &str = "step,wall_time,weights,unit,bound,bound_se,prior,diffusion,\
                            decoder,sliced_w1,mmd,frechet,classes_present,classes";
const TERMS_HEADER: &str = "step,t,term";

/// One progress report (a row of `metrics.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub step: u64,
    /// Unix time in seconds (see [`wall_clock`]).
    pub wall_time: f64,
    pub loss: f64,
    /// The loss on each quarter of the timesteps, earliest first, where measured.
    pub quarters: [Option<f64>; 4],
    pub lr: f64,
    pub grad_norm: f64,
    pub steps_per_sec: f64,
}

/// One evaluation (a row of `evals.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRow {
    pub step: u64,
    /// Unix time in seconds (see [`wall_clock`]).
    pub wall_time: f64,
    /// EMA weights (`ema`) rather than the raw ones (`raw`).
    pub ema: bool,
    /// `bits/dim` or `nats/dim`; no commas or line breaks.
    pub unit: String,
    /// The variational bound, `prior + diffusion + decoder`, in `unit`.
    pub bound: f64,
    pub bound_se: f64,
    /// L_T.
    pub prior: f64,
    /// The sum of the KL terms L_t.
    pub diffusion: f64,
    /// L_0.
    pub decoder: f64,
    pub quality: Quality,
}

/// A run log that cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum RunLogError {
    /// Reading a log to open it failed.
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Creating, rewriting or appending failed.
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file's first line is not the header of this log; it is left as it is.
    #[error("{}: line 1 is not the header \"{expected}\"; not a run log, move it away", path.display())]
    Foreign {
        path: PathBuf,
        expected: &'static str,
    },
    /// A row whose step would break the file's order (it would end every later read).
    #[error("{}: step {step} cannot follow step {last}", path.display())]
    Order { path: PathBuf, step: u64, last: u64 },
    /// A unit that cannot be written in a CSV cell.
    #[error("{}: unit \"{unit}\" is empty or holds a comma or line break", path.display())]
    Unit { path: PathBuf, unit: String },
}

/// Unix time now in seconds, to the millisecond, for `wall_time`.
pub fn wall_clock() -> f64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    ms as f64 / 1000.0
}

/// The writer, held by the training worker.
pub struct RunLog {
    dir: PathBuf,
    metrics: File,
    evals: File,
    terms: File,
    last_metric: Option<u64>,
    last_eval: Option<u64>,
}

impl RunLog {
    /// Opens (creating when missing, with headers) the log of run folder `dir` for appending.
    /// Rows with step > `from_step` are dropped first (a run resuming from a checkpoint at
    /// step N passes N; a fresh run passes 0), and so is everything from the first
    /// unreadable or partial line on, so that a crash never leaves duplicate or
    /// contradictory rows. The rewrite is atomic (temporary file in the same folder, fsync,
    /// rename) and only happens when something must be dropped. A file whose first line is
    /// another header is left alone: [`RunLogError::Foreign`].
    pub fn open(dir: &Path, from_step: u64) -> Result<RunLog, RunLogError> {
        fs::create_dir_all(dir).map_err(|source| RunLogError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let metrics = prepare::<MetricRow>(dir, from_step)?;
        let evals = prepare::<EvalRow>(dir, from_step)?;
        let terms = prepare::<TermRow>(dir, from_step)?;
        let append = |name: &str| {
            let path = dir.join(name);
            OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|source| RunLogError::Write { path, source })
        };
        Ok(RunLog {
            dir: dir.to_path_buf(),
            metrics: append(METRICS_FILE)?,
            evals: append(EVALS_FILE)?,
            terms: append(TERMS_FILE)?,
            last_metric: metrics,
            last_eval: evals.max(terms),
        })
    }

    /// Appends a row and flushes it (one write of the whole line). Its step must be larger
    /// than the last row's.
    pub fn metric(&mut self, row: &MetricRow) -> Result<(), RunLogError> {
        let path = self.dir.join(METRICS_FILE);
        if let Some(last) = self.last_metric.filter(|&l| row.step <= l) {
            return Err(RunLogError::Order {
                path,
                step: row.step,
                last,
            });
        }
        let q = row.quarters.map(opt);
        let line = format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            row.step,
            num(row.wall_time),
            num(row.loss),
            q[0],
            q[1],
            q[2],
            q[3],
            num(row.lr),
            num(row.grad_norm),
            num(row.steps_per_sec)
        );
        append_line(&mut self.metrics, &path, &line)?;
        self.last_metric = Some(row.step);
        Ok(())
    }

    /// Appends an evaluation row and its per-t terms (`per_t[t]` at schedule index `t`),
    /// flushed: the terms first, so that a row in `evals.csv` always has its terms. Its step
    /// must not be smaller than the last evaluation's.
    pub fn eval(&mut self, row: &EvalRow, per_t: &[f64]) -> Result<(), RunLogError> {
        let path = self.dir.join(EVALS_FILE);
        if let Some(last) = self.last_eval.filter(|&l| row.step < l) {
            return Err(RunLogError::Order {
                path,
                step: row.step,
                last,
            });
        }
        if row.unit.is_empty() || row.unit.contains([',', '\n', '\r']) {
            let unit = row.unit.clone();
            return Err(RunLogError::Unit { path, unit });
        }
        let mut terms = String::new();
        for (t, v) in per_t.iter().enumerate() {
            terms.push_str(&format!("{},{t},{}\n", row.step, num(*v)));
        }
        if !terms.is_empty() {
            append_line(&mut self.terms, &self.dir.join(TERMS_FILE), &terms)?;
        }
        self.last_eval = Some(row.step);
        let q = &row.quality;
        let line = format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            row.step,
            num(row.wall_time),
            if row.ema { "ema" } else { "raw" },
            row.unit,
            num(row.bound),
            num(row.bound_se),
            num(row.prior),
            num(row.diffusion),
            num(row.decoder),
            opt(q.sliced_w1),
            opt(q.mmd),
            opt(q.frechet),
            q.classes_present.map(|c| c.to_string()).unwrap_or_default(),
            q.classes.map(|c| c.to_string()).unwrap_or_default(),
        );
        append_line(&mut self.evals, &path, &line)
    }
}

/// What a reader got: the good rows, and a one-line notice when it stopped early.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRead<T> {
    pub rows: Vec<T>,
    pub notice: Option<String>,
}

/// Reads `dir/metrics.csv` up to its last good row. A missing file is an empty read with no
/// notice. A line truncated in the middle, a corrupt line, a wrong header, or a step not
/// larger than the previous row's ends the read there with a notice naming the file and
/// line, e.g. "checkpoints/run/metrics.csv: line 812 is not a complete row; read up to step
/// 8100". It never fails: an unreadable file is an empty read with a notice.
pub fn read_metrics(dir: &Path) -> LogRead<MetricRow> {
    read_log(dir)
}

/// Reads `dir/evals.csv` up to its last good row, as [`read_metrics`] does; steps may
/// repeat but not decrease.
pub fn read_evals(dir: &Path) -> LogRead<EvalRow> {
    read_log(dir)
}

/// The per-index terms of the evaluation at `step` (None: the latest step in the file),
/// with NaN where a term is missing. When a step was evaluated more than once (EMA and raw
/// weights), the terms of the last evaluation at that step. None when there is none.
pub fn read_terms(dir: &Path, step: Option<u64>) -> Option<(u64, Vec<f64>)> {
    let rows = read_log::<TermRow>(dir).rows;
    let mut found: Option<(u64, Vec<f64>)> = None;
    let mut current: Option<(u64, Vec<f64>)> = None;
    for r in rows {
        if r.t == 0 {
            found = current
                .take()
                .filter(|c| step.is_none_or(|s| c.0 == s))
                .or(found);
            current = Some((r.step, Vec::new()));
        }
        if let Some(c) = current.as_mut() {
            c.1.push(r.term);
        }
    }
    current.filter(|c| step.is_none_or(|s| c.0 == s)).or(found)
}

/// One row of `terms.csv`.
struct TermRow {
    step: u64,
    t: usize,
    term: f64,
}

/// A kind of row: its file, header, parsing and order.
trait Row: Sized {
    const FILE: &'static str;
    const HEADER: &'static str;
    fn step(&self) -> u64;
    fn parse(c: &[&str]) -> Option<Self>;
    /// Whether this row may come after `prev` (None: first row).
    fn follows(&self, prev: Option<&Self>) -> bool;
}

impl Row for MetricRow {
    const FILE: &'static str = METRICS_FILE;
    const HEADER: &'static str = METRICS_HEADER;
    fn step(&self) -> u64 {
        self.step
    }
    fn parse(c: &[&str]) -> Option<Self> {
        Some(MetricRow {
            step: c[0].parse().ok()?,
            wall_time: req(c[1])?,
            loss: req(c[2])?,
            quarters: [
                opt_cell(c[3])?,
                opt_cell(c[4])?,
                opt_cell(c[5])?,
                opt_cell(c[6])?,
            ],
            lr: req(c[7])?,
            grad_norm: req(c[8])?,
            steps_per_sec: req(c[9])?,
        })
    }
    fn follows(&self, prev: Option<&Self>) -> bool {
        prev.is_none_or(|p| self.step > p.step)
    }
}

impl Row for EvalRow {
    const FILE: &'static str = EVALS_FILE;
    const HEADER: &'static str = EVALS_HEADER;
    fn step(&self) -> u64 {
        self.step
    }
    fn parse(c: &[&str]) -> Option<Self> {
        Some(EvalRow {
            step: c[0].parse().ok()?,
            wall_time: req(c[1])?,
            ema: match c[2] {
                "ema" => true,
                "raw" => false,
                _ => return None,
            },
            unit: Some(c[3]).filter(|u| !u.is_empty())?.to_string(),
            bound: req(c[4])?,
            bound_se: req(c[5])?,
            prior: req(c[6])?,
            diffusion: req(c[7])?,
            decoder: req(c[8])?,
            quality: Quality {
                sliced_w1: opt_cell(c[9])?,
                mmd: opt_cell(c[10])?,
                frechet: opt_cell(c[11])?,
                classes_present: opt_cell(c[12])?,
                classes: opt_cell(c[13])?,
            },
        })
    }
    fn follows(&self, prev: Option<&Self>) -> bool {
        prev.is_none_or(|p| self.step >= p.step)
    }
}

impl Row for TermRow {
    const FILE: &'static str = TERMS_FILE;
    const HEADER: &'static str = TERMS_HEADER;
    fn step(&self) -> u64 {
        self.step
    }
    fn parse(c: &[&str]) -> Option<Self> {
        let (step, t, term) = (c[0].parse().ok()?, c[1].parse().ok()?, req(c[2])?);
        Some(TermRow { step, t, term })
    }
    fn follows(&self, prev: Option<&Self>) -> bool {
        match prev {
            None => self.t == 0,
            Some(p) => {
                (self.t == 0 && self.step >= p.step) || (self.step == p.step && self.t == p.t + 1)
            }
        }
    }
}

/// Why a scan stopped before the end of the file.
enum Stop {
    Io(io::Error),
    Header,
    Truncated(usize),
    Corrupt(usize),
    Order(usize, u64),
}

/// A file's good prefix: its rows with the byte offset after each.
struct Scan<T> {
    header_end: u64,
    rows: Vec<(T, u64)>,
    stop: Option<Stop>,
}

/// Reads rows of `T` until the end or the first problem; `Ok(None)` for a missing or empty file.
fn scan<T: Row>(path: &Path) -> io::Result<Option<Scan<T>>> {
    let mut reader = match File::open(path) {
        Ok(f) => BufReader::new(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let columns = T::HEADER.split(',').count();
    let mut s = Scan {
        header_end: 0,
        rows: Vec::<(T, u64)>::new(),
        stop: None,
    };
    let (mut buf, mut offset, mut line) = (Vec::new(), 0u64, 0usize);
    loop {
        buf.clear();
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(0) if line == 0 => return Ok(None),
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                s.stop = Some(Stop::Io(e));
                break;
            }
        };
        line += 1;
        let complete = buf.ends_with(b"\n");
        let text = std::str::from_utf8(&buf)
            .ok()
            .map(|t| t.trim_end_matches(['\n', '\r']));
        if line == 1 {
            if !complete || text != Some(T::HEADER) {
                s.stop = Some(Stop::Header);
                break;
            }
            offset += n as u64;
            s.header_end = offset;
            continue;
        }
        if !complete {
            s.stop = Some(Stop::Truncated(line));
            break;
        }
        // A line that is not UTF-8 is corrupt like one with the wrong cells.
        let Some(row) = text
            .map(|t| t.split(',').collect::<Vec<&str>>())
            .filter(|c| c.len() == columns)
            .and_then(|c| T::parse(&c))
        else {
            s.stop = Some(Stop::Corrupt(line));
            break;
        };
        if !row.follows(s.rows.last().map(|r| &r.0)) {
            s.stop = Some(Stop::Order(line, row.step()));
            break;
        }
        offset += n as u64;
        s.rows.push((row, offset));
    }
    Ok(Some(s))
}

fn read_log<T: Row>(dir: &Path) -> LogRead<T> {
    let path = dir.join(T::FILE);
    let p = path.display();
    let s = match scan::<T>(&path) {
        Ok(None) => {
            return LogRead {
                rows: Vec::new(),
                notice: None,
            }
        }
        Ok(Some(s)) => s,
        Err(e) => {
            let notice = Some(format!("{p}: cannot read ({e}); nothing read"));
            return LogRead {
                rows: Vec::new(),
                notice,
            };
        }
    };
    let last = s.rows.last().map(|r| r.0.step());
    let upto = match last {
        Some(step) => format!("read up to step {step}"),
        None => "nothing read".to_string(),
    };
    let notice = s.stop.map(|stop| match stop {
        Stop::Io(e) => format!("{p}: cannot read further ({e}); {upto}"),
        Stop::Header => format!("{p}: line 1 is not the header \"{}\"; {upto}", T::HEADER),
        Stop::Truncated(l) => format!("{p}: line {l} is not a complete row; {upto}"),
        Stop::Corrupt(l) => format!("{p}: line {l} is not a valid row; {upto}"),
        Stop::Order(l, step) => format!("{p}: line {l}'s step {step} is out of order; {upto}"),
    });
    LogRead {
        rows: s.rows.into_iter().map(|r| r.0).collect(),
        notice,
    }
}

/// Makes `dir/T::FILE` a good log ending at `from_step` at the latest, rewriting it only
/// when needed; gives the step of its last row.
fn prepare<T: Row>(dir: &Path, from_step: u64) -> Result<Option<u64>, RunLogError> {
    let path = dir.join(T::FILE);
    let read_err = |source| RunLogError::Read {
        path: path.clone(),
        source,
    };
    let Some(s) = scan::<T>(&path).map_err(read_err)? else {
        return write_header::<T>(&path);
    };
    if let Some(Stop::Io(e)) = s.stop {
        return Err(read_err(e));
    }
    if let Some(Stop::Header) = s.stop {
        // Only a header cut short by a crash is ours to replace.
        let mut head = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(T::HEADER.len() as u64 + 2).read_to_end(&mut head))
            .map_err(read_err)?;
        if head.contains(&b'\n') || !T::HEADER.as_bytes().starts_with(&head) {
            return Err(RunLogError::Foreign {
                path,
                expected: T::HEADER,
            });
        }
        return write_header::<T>(&path);
    }
    let kept: Vec<&(T, u64)> = s
        .rows
        .iter()
        .take_while(|r| r.0.step() <= from_step)
        .collect();
    let end = kept.last().map_or(s.header_end, |r| r.1);
    let last = kept.last().map(|r| r.0.step());
    let len = fs::metadata(&path).map_err(read_err)?.len();
    if end < len {
        // Keep the first `end` bytes, replaced atomically like every other file written.
        let mut kept = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(end).read_to_end(&mut kept))
            .map_err(read_err)?;
        write_atomic(&path, &kept).map_err(|e| RunLogError::Write {
            path: e.path,
            source: e.source,
        })?;
    }
    Ok(last)
}

/// Writes a log with no rows, atomically.
fn write_header<T: Row>(path: &Path) -> Result<Option<u64>, RunLogError> {
    let bytes = format!("{}\n", T::HEADER).into_bytes();
    write_atomic(path, &bytes)
        .map(|()| None)
        .map_err(|e| RunLogError::Write {
            path: e.path,
            source: e.source,
        })
}

/// Appends `line`; a write that fails part-way (a full disk) is cut off again, so the
/// file never holds half a row and later rows still read.
fn append_line(file: &mut File, path: &Path, line: &str) -> Result<(), RunLogError> {
    let before = file.metadata().map(|m| m.len());
    file.write_all(line.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|source| {
            if let Ok(len) = before {
                let _ = file.set_len(len);
            }
            RunLogError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
}

/// A number that round-trips (`1e-30`, not thirty zeros); NaN as an empty cell.
fn num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:?}")
    }
}

fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

/// A required number: an empty cell is NaN.
fn req(s: &str) -> Option<f64> {
    if s.is_empty() {
        Some(f64::NAN)
    } else {
        s.parse().ok()
    }
}

/// An optional number: an empty cell is `None`.
fn opt_cell<N: std::str::FromStr>(s: &str) -> Option<Option<N>> {
    if s.is_empty() {
        Some(None)
    } else {
        s.parse().ok().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(step: u64) -> MetricRow {
        MetricRow {
            step,
            wall_time: 1_700_000_000.123 + step as f64,
            loss: 0.1 + 1.0 / (step as f64 + 3.0),
            quarters: [Some(0.5), None, Some(1e-30), Some(f64::INFINITY)],
            lr: 2e-4,
            grad_norm: 1e300,
            steps_per_sec: 12.5,
        }
    }

    fn eval(step: u64, ema: bool) -> EvalRow {
        EvalRow {
            step,
            wall_time: 1_700_000_000.5,
            ema,
            unit: "bits/dim".into(),
            bound: 3.25,
            bound_se: 0.01,
            prior: 0.001,
            diffusion: 3.0,
            decoder: 0.249,
            quality: Quality {
                frechet: Some(12.75),
                classes_present: Some(9),
                classes: Some(10),
                ..Quality::default()
            },
        }
    }

    fn write_fixture(dir: &Path) {
        let mut log = RunLog::open(dir, 0).unwrap();
        for s in [100, 200, 300] {
            log.metric(&metric(s)).unwrap();
            log.eval(&eval(s, true), &[0.5, f64::NAN, s as f64, 1.0 / 3.0])
                .unwrap();
        }
    }

    fn file(dir: &Path, name: &str) -> Vec<u8> {
        fs::read(dir.join(name)).unwrap()
    }

    #[test]
    fn rows_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let mut log = RunLog::open(d.path(), 0).unwrap();
        let metrics = [
            metric(1),
            metric(2),
            MetricRow {
                loss: f64::NAN,
                ..metric(7)
            },
        ];
        for m in &metrics {
            log.metric(m).unwrap();
        }
        let mut points = eval(5, false);
        points.unit = "nats/dim".into();
        points.quality = Quality {
            sliced_w1: Some(0.03),
            mmd: Some(1e-7),
            ..Quality::default()
        };
        let terms = [0.25, f64::NAN, 1e-9, f64::NAN];
        log.eval(&points, &terms).unwrap();
        log.eval(&eval(5, true), &[9.0, 8.0]).unwrap();
        log.eval(&eval(6, true), &[]).unwrap();
        assert!(matches!(
            log.metric(&metric(7)),
            Err(RunLogError::Order { .. })
        ));
        assert!(matches!(
            log.eval(&eval(4, true), &[]),
            Err(RunLogError::Order { .. })
        ));
        drop(log);

        let m = read_metrics(d.path());
        assert_eq!(m.notice, None);
        assert_eq!(m.rows[..2], metrics[..2]);
        assert!(m.rows[2].loss.is_nan() && m.rows[2].step == 7);
        let e = read_evals(d.path());
        assert_eq!(
            (e.rows, e.notice),
            (vec![points, eval(5, true), eval(6, true)], None)
        );
        let (step, got) = read_terms(d.path(), None).unwrap();
        assert_eq!((step, got), (5, vec![9.0, 8.0]));
        let text = String::from_utf8(file(d.path(), TERMS_FILE)).unwrap();
        assert!(
            text.starts_with("step,t,term\n5,0,0.25\n5,1,\n5,2,1e-9\n"),
            "{text}"
        );
        assert_eq!(read_terms(d.path(), Some(6)), None);
        assert_eq!(read_terms(d.path(), Some(4)), None);

        // The first evaluation's terms, on their own.
        let d2 = tempfile::tempdir().unwrap();
        RunLog::open(d2.path(), 0)
            .unwrap()
            .eval(&eval(5, false), &terms)
            .unwrap();
        let (step, got) = read_terms(d2.path(), Some(5)).unwrap();
        assert_eq!((step, got.len()), (5, 4));
        assert_eq!(got[0], 0.25);
        assert!(got[1].is_nan() && got[3].is_nan());
        assert_eq!(got[2], 1e-9);
    }

    #[test]
    fn reopening_drops_later_rows() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path());
        let before = file(d.path(), METRICS_FILE);
        drop(RunLog::open(d.path(), 300).unwrap());
        assert_eq!(file(d.path(), METRICS_FILE), before, "nothing to drop");

        let mut log = RunLog::open(d.path(), 200).unwrap();
        assert!(log.metric(&metric(150)).is_err());
        log.metric(&metric(250)).unwrap();
        log.eval(&eval(250, false), &[1.0, 2.0]).unwrap();
        drop(log);
        let steps: Vec<u64> = read_metrics(d.path()).rows.iter().map(|r| r.step).collect();
        assert_eq!(steps, [100, 200, 250]);
        let e = read_evals(d.path());
        assert_eq!(
            e.rows.iter().map(|r| r.step).collect::<Vec<_>>(),
            [100, 200, 250]
        );
        assert_eq!(e.notice, None);
        assert_eq!(read_terms(d.path(), None), Some((250, vec![1.0, 2.0])));
        assert_eq!(read_terms(d.path(), Some(200)).unwrap().1[2], 200.0);
        assert_eq!(read_terms(d.path(), Some(300)), None);
        let terms = String::from_utf8(file(d.path(), TERMS_FILE)).unwrap();
        assert_eq!(terms.lines().count(), 1 + 4 + 4 + 2);

        drop(RunLog::open(d.path(), 0).unwrap());
        for name in [METRICS_FILE, EVALS_FILE, TERMS_FILE] {
            assert_eq!(
                file(d.path(), name).iter().filter(|&&b| b == b'\n').count(),
                1
            );
        }
        assert!(d.path().read_dir().unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")));
    }

    #[test]
    fn truncated_last_line() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path());
        let path = d.path().join(METRICS_FILE);
        let full = file(d.path(), METRICS_FILE);
        fs::write(&path, &full[..full.len() - 7]).unwrap();
        let m = read_metrics(d.path());
        assert_eq!(m.rows, vec![metric(100), metric(200)]);
        let notice = m.notice.unwrap();
        assert!(notice.contains(&format!("{}: line 4 is not a complete row", path.display())));
        assert!(notice.ends_with("read up to step 200"), "{notice}");

        let mut log = RunLog::open(d.path(), 1000).unwrap();
        assert_eq!(read_metrics(d.path()).notice, None);
        log.metric(&metric(300)).unwrap();
        assert_eq!(file(d.path(), METRICS_FILE), full);
        assert_eq!(read_evals(d.path()).rows.len(), 3);

        // A header cut short is replaced; an empty file gets one.
        fs::write(&path, b"step,wall").unwrap();
        fs::write(d.path().join(EVALS_FILE), b"").unwrap();
        drop(RunLog::open(d.path(), 0).unwrap());
        assert_eq!(
            file(d.path(), METRICS_FILE),
            format!("{METRICS_HEADER}\n").into_bytes()
        );
        assert_eq!(
            file(d.path(), EVALS_FILE),
            format!("{EVALS_HEADER}\n").into_bytes()
        );
    }

    #[test]
    fn corrupt_lines_end_the_read() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path());
        let full = String::from_utf8(file(d.path(), METRICS_FILE)).unwrap();
        let lines: Vec<&str> = full.lines().collect();
        let bad_rows = [
            "hello world".to_string(),
            lines[2].replacen(',', ",,", 1),
            lines[2].rsplit_once(',').unwrap().0.to_string(),
            lines[2].replacen("0.5", "half", 1),
            lines[2].replacen("200", "50", 1),
            lines[2].replacen("200", "100", 1),
            lines[2].replacen("200", "-200", 1),
            String::new(),
        ];
        let path = d.path().join(METRICS_FILE);
        for bad in &bad_rows {
            fs::write(
                &path,
                format!("{}\n{}\n{bad}\n{}\n", lines[0], lines[1], lines[3]),
            )
            .unwrap();
            let m = read_metrics(d.path());
            assert_eq!(m.rows, vec![metric(100)], "{bad}");
            let notice = m.notice.unwrap();
            assert!(
                notice.starts_with(&format!("{}: line 3", path.display())),
                "{notice}"
            );
            assert!(notice.ends_with("read up to step 100"), "{notice}");
        }
        let mut binary = format!("{}\n{}\n", lines[0], lines[1]).into_bytes();
        binary.extend_from_slice(b"2\xff\xfe\x00,\x80\n");
        binary.extend_from_slice(lines[3].as_bytes());
        fs::write(&path, &binary).unwrap();
        let m = read_metrics(d.path());
        assert_eq!((m.rows.len(), m.notice.is_some()), (1, true));

        fs::write(&path, format!("step,loss\n{}\n", lines[1])).unwrap();
        let m = read_metrics(d.path());
        assert!(m.rows.is_empty());
        assert!(m.notice.unwrap().contains("line 1 is not the header"));
        assert!(matches!(
            RunLog::open(d.path(), 0),
            Err(RunLogError::Foreign { .. })
        ));
        assert!(
            file(d.path(), METRICS_FILE).starts_with(b"step,loss\n"),
            "left alone"
        );

        let e = String::from_utf8(file(d.path(), EVALS_FILE)).unwrap();
        let e = e.replacen(",ema,", ",new,", 1);
        fs::write(d.path().join(EVALS_FILE), e).unwrap();
        let r = read_evals(d.path());
        assert!(r.rows.is_empty());
        assert!(r
            .notice
            .unwrap()
            .ends_with("line 2 is not a valid row; nothing read"));

        let t = String::from_utf8(file(d.path(), TERMS_FILE)).unwrap();
        fs::write(d.path().join(TERMS_FILE), t.replacen("100,2,", "100,3,", 1)).unwrap();
        let (step, got) = read_terms(d.path(), None).unwrap();
        assert_eq!((step, got.len(), got[0]), (100, 2, 0.5));
        assert_eq!(read_terms(d.path(), Some(200)), None);
    }

    #[test]
    fn missing_files_are_empty_reads() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            read_metrics(d.path()),
            LogRead {
                rows: vec![],
                notice: None
            }
        );
        assert_eq!(
            read_evals(d.path()),
            LogRead {
                rows: vec![],
                notice: None
            }
        );
        assert_eq!(read_terms(d.path(), None), None);
        let gone = d.path().join("nothing");
        assert_eq!(read_metrics(&gone).notice, None);
        let unreadable = read_metrics(&d.path().join("x\0y"));
        assert!(unreadable.rows.is_empty());
        fs::create_dir(d.path().join(METRICS_FILE)).unwrap();
        let m = read_metrics(d.path());
        assert!(m.rows.is_empty() && m.notice.unwrap().contains(METRICS_FILE));
    }
}
