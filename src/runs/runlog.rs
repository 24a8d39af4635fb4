//! (Over 400 lines: the writer, the reader and their tests; the reader checks every
//! row so that a corrupt log is read up to its last good row.)
//!
//! The run log: append-only CSV files in a run folder that pandas and spreadsheets read
//! as they are. The training worker appends to it at every progress report and
//! evaluation; `diffscope eval` adds its evaluations of a run's checkpoints; the workbench
//! and `diffscope runs` read it.
//!
//! - `metrics.csv`: one [`MetricRow`] per progress report, steps strictly increasing.
//! - `evals.csv`: one [`Evaluation`] per evaluation, steps never decreasing (EMA and raw
//!   weights may be evaluated at the same step).
//! - `terms.csv`: the bound's term at each 0-based schedule index `t` (as `eval --terms`
//!   numbers them: 0 is the decoder L_0) for each evaluation, in long format. Every index
//!   is written, a non-finite term as an empty cell, so that an evaluation's terms are the
//!   rows from a `t = 0` row up to the next one.
//!
//! A row is a serde struct written and read with the `csv` crate: the header is its field
//! names, and cells are read by the header's names. Columns are only ever appended: a log
//! whose header is an older, shorter one reads (the missing figures are None) and is
//! rewritten with today's header when it is opened to append. Numbers are written so that
//! they round-trip an f64; an empty cell is a missing value (also NaN). A line counts only
//! once it ends with `\n`.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::eval::record::cell;
pub use crate::eval::{wall_clock, Evaluation};
use crate::util::write_atomic;

/// The progress reports of a run.
pub const METRICS_FILE: &str = "metrics.csv";
/// The evaluations of a run.
pub const EVALS_FILE: &str = "evals.csv";
/// The per-timestep terms of the bound of each evaluation.
pub const TERMS_FILE: &str = "terms.csv";

/// One progress report (a row of `metrics.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub step: u64,
    /// Unix time in seconds (see [`wall_clock`]).
    #[serde(with = "cell::num")]
    pub wall_time: f64,
    #[serde(with = "cell::num")]
    pub loss: f64,
    /// The loss on each quarter of the timesteps, earliest first, where measured.
    #[serde(with = "cell::opt")]
    pub loss_q1: Option<f64>,
    #[serde(with = "cell::opt")]
    pub loss_q2: Option<f64>,
    #[serde(with = "cell::opt")]
    pub loss_q3: Option<f64>,
    #[serde(with = "cell::opt")]
    pub loss_q4: Option<f64>,
    #[serde(with = "cell::num")]
    pub lr: f64,
    #[serde(with = "cell::num")]
    pub grad_norm: f64,
    #[serde(with = "cell::num")]
    pub steps_per_sec: f64,
}

impl MetricRow {
    /// The losses on the quarters of the timesteps, earliest first.
    pub fn quarters(&self) -> [Option<f64>; 4] {
        [self.loss_q1, self.loss_q2, self.loss_q3, self.loss_q4]
    }
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
    Foreign { path: PathBuf, expected: String },
    /// A row whose step would break the file's order (it would end every later read).
    #[error("{}: step {step} cannot follow step {last}", path.display())]
    Order { path: PathBuf, step: u64, last: u64 },
    /// A row that cannot be put in CSV cells.
    #[error("{}: cannot write a row", path.display())]
    Row {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
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
    /// contradictory rows; a file with an older header gets today's, its rows in full.
    /// The rewrite is atomic (temporary file in the same folder, fsync, rename) and only
    /// happens when something must change. A file whose first line is another header is
    /// left alone: [`RunLogError::Foreign`].
    pub fn open(dir: &Path, from_step: u64) -> Result<RunLog, RunLogError> {
        fs::create_dir_all(dir).map_err(|source| RunLogError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let metrics = prepare::<MetricRow>(dir, from_step)?;
        let evals = prepare::<Evaluation>(dir, from_step)?;
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
        let line = lines(std::slice::from_ref(row), &path)?;
        append_line(&mut self.metrics, &path, &line)?;
        self.last_metric = Some(row.step);
        Ok(())
    }

    /// Appends an evaluation and its per-t terms (`per_t[t]` at schedule index `t`),
    /// flushed: the terms first, so that a row in `evals.csv` always has its terms. Its step
    /// must not be smaller than the last evaluation's.
    pub fn eval(&mut self, row: &Evaluation, per_t: &[f64]) -> Result<(), RunLogError> {
        let path = self.dir.join(EVALS_FILE);
        if let Some(last) = self.last_eval.filter(|&l| row.step < l) {
            return Err(RunLogError::Order {
                path,
                step: row.step,
                last,
            });
        }
        let terms_path = self.dir.join(TERMS_FILE);
        let terms: Vec<TermRow> = per_t
            .iter()
            .enumerate()
            .map(|(t, &term)| TermRow {
                step: row.step,
                t,
                term,
            })
            .collect();
        let terms = lines(&terms, &terms_path)?;
        let line = lines(std::slice::from_ref(row), &path)?;
        if !terms.is_empty() {
            append_line(&mut self.terms, &terms_path, &terms)?;
        }
        self.last_eval = Some(row.step);
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
pub fn read_evals(dir: &Path) -> LogRead<Evaluation> {
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
#[derive(Serialize, Deserialize)]
struct TermRow {
    step: u64,
    t: usize,
    #[serde(with = "cell::num")]
    term: f64,
}

/// A kind of row: its file and order. Its columns are its serde field names.
trait Row: Serialize + DeserializeOwned {
    const FILE: &'static str;
    /// The columns of the file's first version: a header of at least these, in our order,
    /// is ours (a log written before the later columns were added).
    const FIRST_COLUMNS: usize;
    fn step(&self) -> u64;
    /// Whether this row may come after `prev` (None: first row).
    fn follows(&self, prev: Option<&Self>) -> bool;
}

impl Row for MetricRow {
    const FILE: &'static str = METRICS_FILE;
    const FIRST_COLUMNS: usize = 10;
    fn step(&self) -> u64 {
        self.step
    }
    fn follows(&self, prev: Option<&Self>) -> bool {
        prev.is_none_or(|p| self.step > p.step)
    }
}

impl Row for Evaluation {
    const FILE: &'static str = EVALS_FILE;
    const FIRST_COLUMNS: usize = 14;
    fn step(&self) -> u64 {
        self.step
    }
    fn follows(&self, prev: Option<&Self>) -> bool {
        prev.is_none_or(|p| self.step >= p.step)
    }
}

impl Row for TermRow {
    const FILE: &'static str = TERMS_FILE;
    const FIRST_COLUMNS: usize = 3;
    fn step(&self) -> u64 {
        self.step
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

/// The field names of `T`, in order: the columns of its file.
fn columns<T: Row>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // It always fails: it only asks serde for the names.
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// A deserializer that only takes note of the field names a struct asks for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's field names are read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// The header line of a file of `T` rows (without the line break).
struct Header<T>(PhantomData<fn() -> T>);

impl<T: Row> fmt::Display for Header<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&columns::<T>().join(","))
    }
}

fn header<T: Row>() -> String {
    Header::<T>(PhantomData).to_string()
}

#[cfg(test)]
const METRICS_HEADER: Header<MetricRow> = Header(PhantomData);
#[cfg(test)]
const EVALS_HEADER: Header<Evaluation> = Header(PhantomData);

/// How many of our columns a header line names, when it is ours: today's header or an
/// older one (a prefix of at least [`Row::FIRST_COLUMNS`] columns).
fn our_columns<T: Row>(line: &str) -> Option<usize> {
    let ours = columns::<T>();
    let theirs: Vec<&str> = line.split(',').collect();
    let n = theirs.len();
    (n >= T::FIRST_COLUMNS && ours.starts_with(&theirs)).then_some(n)
}

/// `rows` as CSV lines.
fn lines<T: Row>(rows: &[T], path: &Path) -> Result<Vec<u8>, RunLogError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let row_err = |source| RunLogError::Row {
        path: path.to_path_buf(),
        source,
    };
    for r in rows {
        w.serialize(r).map_err(row_err)?;
    }
    w.into_inner().map_err(|e| RunLogError::Write {
        path: path.to_path_buf(),
        source: e.into_error(),
    })
}

/// A line of the file (with its line break) as a row under `header`: None unless it holds
/// exactly one record of as many cells, each of which reads.
fn parse<T: Row>(line: &[u8], header: &csv::StringRecord) -> Option<T> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line);
    let mut record = csv::StringRecord::new();
    // A line that is not UTF-8 is corrupt like one with the wrong cells.
    if !reader.read_record(&mut record).ok()? || record.len() != header.len() {
        return None;
    }
    if reader.read_record(&mut csv::StringRecord::new()).ok()? {
        return None;
    }
    record.deserialize(Some(header)).ok()
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
    /// How many columns its header names (fewer than ours: an older log).
    columns: usize,
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
    let mut s = Scan {
        header_end: 0,
        columns: 0,
        rows: Vec::<(T, u64)>::new(),
        stop: None,
    };
    let mut header = csv::StringRecord::new();
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
        if line == 1 {
            let named = std::str::from_utf8(&buf)
                .ok()
                .and_then(|t| our_columns::<T>(t.trim_end_matches(['\n', '\r'])));
            let Some(named) = named.filter(|_| complete) else {
                s.stop = Some(Stop::Header);
                break;
            };
            s.columns = named;
            header = columns::<T>()[..named].iter().collect();
            offset += n as u64;
            s.header_end = offset;
            continue;
        }
        if !complete {
            s.stop = Some(Stop::Truncated(line));
            break;
        }
        let Some(row) = parse::<T>(&buf, &header) else {
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
        Stop::Header => format!(
            "{p}: line 1 is not the header \"{}\"; {upto}",
            header::<T>()
        ),
        Stop::Truncated(l) => format!("{p}: line {l} is not a complete row; {upto}"),
        Stop::Corrupt(l) => format!("{p}: line {l} is not a valid row; {upto}"),
        Stop::Order(l, step) => format!("{p}: line {l}'s step {step} is out of order; {upto}"),
    });
    LogRead {
        rows: s.rows.into_iter().map(|r| r.0).collect(),
        notice,
    }
}

/// Makes `dir/T::FILE` a good log with today's header ending at `from_step` at the latest,
/// rewriting it only when needed; gives the step of its last row.
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
    let header = header::<T>();
    if let Some(Stop::Header) = s.stop {
        // Only a header cut short by a crash is ours to replace.
        let mut head = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(header.len() as u64 + 2).read_to_end(&mut head))
            .map_err(read_err)?;
        if head.contains(&b'\n') || !header.as_bytes().starts_with(&head) {
            return Err(RunLogError::Foreign {
                path,
                expected: header,
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
    let write_err = |e: crate::util::WriteError| RunLogError::Write {
        path: e.path,
        source: e.source,
    };
    if s.columns < columns::<T>().len() {
        // A log from before the later columns: today's header, and its rows in full.
        let mut bytes = format!("{header}\n").into_bytes();
        let rows: Vec<&T> = kept.iter().map(|r| &r.0).collect();
        for r in rows {
            bytes.extend(lines(std::slice::from_ref(r), &path)?);
        }
        write_atomic(&path, &bytes).map_err(write_err)?;
        return Ok(last);
    }
    let len = fs::metadata(&path).map_err(read_err)?.len();
    if end < len {
        // Keep the first `end` bytes, replaced atomically like every other file written.
        let mut kept = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(end).read_to_end(&mut kept))
            .map_err(read_err)?;
        write_atomic(&path, &kept).map_err(write_err)?;
    }
    Ok(last)
}

/// Writes a log with no rows, atomically.
fn write_header<T: Row>(path: &Path) -> Result<Option<u64>, RunLogError> {
    let bytes = format!("{}\n", header::<T>()).into_bytes();
    write_atomic(path, &bytes)
        .map(|()| None)
        .map_err(|e| RunLogError::Write {
            path: e.path,
            source: e.source,
        })
}

/// Appends `bytes` (whole lines); a write that fails part-way (a full disk) is cut off
/// again, so the file never holds half a row and later rows still read.
fn append_line(file: &mut File, path: &Path, bytes: &[u8]) -> Result<(), RunLogError> {
    let before = file.metadata().map(|m| m.len());
    file.write_all(bytes)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::SamplerKind;
    use crate::eval::Unit;

    fn metric(step: u64) -> MetricRow {
        MetricRow {
            step,
            wall_time: 1_700_000_000.123 + step as f64,
            loss: 0.1 + 1.0 / (step as f64 + 3.0),
            loss_q1: Some(0.5),
            loss_q2: None,
            loss_q3: Some(1e-30),
            loss_q4: Some(f64::INFINITY),
            lr: 2e-4,
            grad_norm: 1e300,
            steps_per_sec: 12.5,
        }
    }

    fn eval(step: u64, ema: bool) -> Evaluation {
        Evaluation {
            step,
            wall_time: 1_700_000_000.5,
            ema,
            unit: Unit::BitsPerDim,
            bound: 3.25,
            bound_se: 0.01,
            prior: 0.001,
            diffusion: 3.0,
            decoder: 0.249,
            frechet: Some(12.75),
            classes_present: Some(9),
            classes: Some(10),
            items: Some(256),
            seed: Some(0),
            samples: Some(64),
            sampler: Some(SamplerKind::Ddim),
            sampler_steps: Some(100),
            frechet_noise: Some(f64::INFINITY),
            class_counts: Some(vec![7, 0, 1, 9, 9, 9, 9, 9, 9, 2]),
            classifier_accuracy: Some(0.975),
            classifier_items: Some(0),
            ..Evaluation::default()
        }
    }

    /// An evaluation of point data.
    fn points(step: u64, ema: bool) -> Evaluation {
        Evaluation {
            unit: Unit::NatsPerDim,
            sliced_w1: Some(0.03),
            mmd: Some(1e-7),
            sliced_w1_noise: Some(1.25),
            mmd2: Some(-2e-5),
            mmd2_se: Some(1e-5),
            far: Some(3),
            sample_radius: Some(f64::INFINITY),
            samples: Some(2000),
            sampler: Some(SamplerKind::Ddpm),
            ..Evaluation {
                step,
                wall_time: 1_700_000_000.5,
                ema,
                bound: 0.75,
                bound_se: 0.02,
                prior: 0.001,
                diffusion: 0.5,
                decoder: 0.249,
                ..Evaluation::default()
            }
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
        let points = points(5, false);
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

    /// The header of `evals.csv` before the columns after `classes` were added.
    const OLD_EVALS_HEADER: &str = "step,wall_time,weights,unit,bound,bound_se,prior,\
                                    diffusion,decoder,sliced_w1,mmd,frechet,classes_present,classes";

    #[test]
    fn the_header_is_the_field_names_with_new_columns_after_the_old_ones() {
        assert_eq!(
            METRICS_HEADER.to_string(),
            "step,wall_time,loss,loss_q1,loss_q2,loss_q3,loss_q4,lr,grad_norm,steps_per_sec"
        );
        assert_eq!(header::<TermRow>(), "step,t,term");
        let evals = EVALS_HEADER.to_string();
        assert!(
            evals.starts_with(&format!("{OLD_EVALS_HEADER},")),
            "{evals}"
        );
        let cells = |text: &str| text.split(',').count();
        assert_eq!(cells(OLD_EVALS_HEADER), Evaluation::FIRST_COLUMNS);
        assert!(cells(&evals) > Evaluation::FIRST_COLUMNS);
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path());
        let text = String::from_utf8(file(d.path(), EVALS_FILE)).unwrap();
        // every row has a cell per column; the weights and unit by name
        for line in text.lines().skip(1) {
            assert_eq!(cells(line), cells(&evals), "{line}");
            assert!(line.contains(",ema,bits/dim,3.25,0.01,"), "{line}");
        }
    }

    #[test]
    fn an_older_evals_log_reads_and_gets_todays_header_when_opened() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(EVALS_FILE);
        let old = format!(
            "{OLD_EVALS_HEADER}\n100,1700000000.5,ema,bits/dim,3.25,0.01,0.001,3.0,0.249,,,\
             12.75,9,10\n200,1700000001.5,raw,nats/dim,0.5,,0.001,0.25,0.249,0.03,1e-7,,,\n"
        );
        fs::write(&path, &old).unwrap();
        let first = Evaluation {
            step: 100,
            wall_time: 1_700_000_000.5,
            ema: true,
            unit: Unit::BitsPerDim,
            bound: 3.25,
            bound_se: 0.01,
            prior: 0.001,
            diffusion: 3.0,
            decoder: 0.249,
            frechet: Some(12.75),
            classes_present: Some(9),
            classes: Some(10),
            ..Evaluation::default()
        };
        let r = read_evals(d.path());
        assert_eq!(r.notice, None);
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0], first);
        let second = &r.rows[1];
        assert!(second.bound_se.is_nan() && !second.ema);
        assert_eq!((second.sliced_w1, second.mmd), (Some(0.03), Some(1e-7)));
        assert_eq!((second.items, second.sliced_w1_noise), (None, None));
        assert_eq!(
            file(d.path(), EVALS_FILE),
            old.as_bytes(),
            "reading changes nothing"
        );

        // Opened to append: today's header, the rows kept (up to the step it starts from).
        let mut log = RunLog::open(d.path(), 150).unwrap();
        let text = String::from_utf8(file(d.path(), EVALS_FILE)).unwrap();
        assert!(text.starts_with(&format!("{EVALS_HEADER}\n")), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
        log.eval(&eval(300, true), &[]).unwrap();
        let r = read_evals(d.path());
        assert_eq!((r.rows, r.notice), (vec![first, eval(300, true)], None));
        assert!(d.path().read_dir().unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")));

        // Fewer columns than the first version had, or another order: not ours.
        for foreign in [
            "step,wall_time,weights,unit,bound\n",
            "wall_time,step,weights,unit,bound,bound_se,prior,diffusion,decoder,sliced_w1,mmd,\
             frechet,classes_present,classes\n",
        ] {
            fs::write(&path, foreign).unwrap();
            let r = read_evals(d.path());
            assert!(r.notice.unwrap().contains("line 1 is not the header"));
            assert!(matches!(
                RunLog::open(d.path(), 0),
                Err(RunLogError::Foreign { .. })
            ));
            assert_eq!(file(d.path(), EVALS_FILE), foreign.as_bytes(), "left alone");
        }
    }
}
