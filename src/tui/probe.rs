//! Finds which image protocol the terminal can display, before the workbench enters raw mode.
//!
//! `detect` writes a handful of queries in one write (kitty graphics, XTVERSION, cell and
//! window size in pixels, sixel colour registers, and DA1 last), reads the answers with a
//! timeout and hands them, with facts from the environment, to `decide`, which is pure.
//! Terminals answer in order and every terminal answers DA1, so once DA1's answer is in,
//! everything before it is in too.
//!
//! Inside tmux, tmux itself answers DA1 and XTVERSION. When the pane allows passthrough, the
//! kitty query, XTVERSION and a second DA1 also go to the outer terminal wrapped in
//! `ESC P tmux; … ESC \`; its answers come back as input after tmux's own.

use std::fs::File;
use std::io::IsTerminal;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The protocols the workbench can draw images with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Halfblocks,
    Sixel,
    /// Kitty's direct placement: kitty before 0.28, which has no Unicode placeholders.
    KittyDirect,
    /// Kitty's Unicode placeholders: kitty 0.28 or later, and the only kitty inside tmux.
    KittyPlaceholders,
    Iterm2,
}

/// What the user asked for (`--image-protocol` or the settings file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    Auto,
    Kitty,
    Sixel,
    Iterm2,
    Halfblocks,
}

/// The terminal's answers to the queries, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replies {
    /// `CSI ? a;b;c c`: the first DA1 answer's attributes (4 = sixel). Inside tmux, tmux's own.
    pub da1: Option<Vec<u16>>,
    /// A second DA1 answer: inside tmux, the outer terminal's, asked through passthrough
    /// (tmux answers its own at once, so the outer terminal's always comes second).
    pub outer_da1: Option<Vec<u16>>,
    /// `ESC _ G i=<our id>;OK ESC \`: the kitty graphics query was answered OK.
    pub kitty_graphics: bool,
    /// `DCS > | text ST`: the first XTVERSION answer, or tmux's own ("tmux 3.3a") when there is one.
    pub xtversion: Option<String>,
    /// The other XTVERSION answer when tmux answered too: the outer terminal's, e.g. "kitty(0.26.5)".
    pub outer_xtversion: Option<String>,
    /// `CSI 6 ; h ; w t`: cell size in pixels (w, h).
    pub cell_px: Option<(u16, u16)>,
    /// `CSI 4 ; h ; w t`: text area size in pixels (w, h).
    pub window_px: Option<(u16, u16)>,
    /// XTSMGRAPHICS `CSI ? 1 ; 0 ; N S`: sixel colour registers.
    pub sixel_colors: Option<u16>,
}

/// Facts from the environment (env vars, tmux settings, the tty's ioctl).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env {
    pub term: Option<String>,
    pub term_program: Option<String>,
    pub lc_terminal: Option<String>,
    /// `$TMUX` is set.
    pub in_tmux: bool,
    /// tmux's allow-passthrough for this pane (on/all = true); None when unknown.
    pub tmux_passthrough: Option<bool>,
    /// TIOCGWINSZ ws_xpixel, ws_ypixel when non-zero.
    pub ioctl_px: Option<(u16, u16)>,
    /// Columns, rows.
    pub size_cells: (u16, u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellSource {
    Query16t,
    Query14t,
    Ioctl,
    Fallback,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub proto: Proto,
    /// Why, short, for a status bar: e.g. "DA1", "kitty graphics query", "tmux without passthrough".
    pub reason: String,
    /// Cell size in pixels (w, h).
    pub cell: (u16, u16),
    pub cell_source: CellSource,
    /// Output must be wrapped for tmux passthrough (only for KittyPlaceholders in tmux).
    pub tmux: bool,
    /// Colour registers to use: the answer, else 16 for a VT340-like DA1 (63;…), else 256.
    pub sixel_colors: u16,
    pub kitty_version: Option<(u32, u32, u32)>,
    /// Set when a Wanted protocol could not be honoured: what was asked, why not, what is used instead.
    pub notice: Option<String>,
}

/// The id in our kitty graphics query; the answer must carry it.
const KITTY_ID: &str = "31";
const KITTY_QUERY: &str = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\";
const XTVERSION: &str = "\x1b[>0q";
const DA1: &str = "\x1b[c";
/// The longest a terminal that answers nothing may delay startup.
const TIMEOUT: Duration = Duration::from_millis(400);
/// Used when no source gives a sane cell size: no smaller than any real font cell, so images
/// sized as cells × cell px never overflow their area.
const FALLBACK_CELL: (u16, u16) = (5, 10);

/// The complete sequence at `b[0] == ESC`: its kind (`[`, `_` or `P`), its body (a CSI's
/// ends with its final byte) and its length; None for anything else or a cut-off one.
fn sequence(b: &[u8]) -> Option<(u8, &[u8], usize)> {
    let kind = *b.get(1)?;
    let n = match kind {
        b'[' => b[2..].iter().position(|c| !(0x20..=0x3f).contains(c))?,
        // Strings end at ST (or BEL); any other control byte means this one was cut short.
        b'_' | b'P' => b[2..].iter().position(|&c| c < 0x20)?,
        _ => return None,
    };
    match (kind, b[2 + n], b.get(3 + n)) {
        (b'[', 0x40..=0x7e, _) => Some((kind, &b[2..3 + n], n + 3)),
        (b'_' | b'P', 0x07, _) => Some((kind, &b[2..2 + n], n + 3)),
        (b'_' | b'P', 0x1b, Some(b'\\')) => Some((kind, &b[2..2 + n], n + 4)),
        _ => None,
    }
}

/// `a;b;c` as numbers (empty = 0, saturating); None if anything else is in there.
fn numbers(s: &[u8]) -> Option<Vec<u16>> {
    let number = |p: &[u8]| {
        p.iter().try_fold(0u16, |n, &c| {
            c.is_ascii_digit()
                .then(|| n.saturating_mul(10).saturating_add(u16::from(c - b'0')))
        })
    };
    s.split(|&c| c == b';').map(number).collect()
}

/// Parses whatever the terminal sent: tolerant of garbage, cut-off sequences, key presses in
/// between, any order, and a second DA1 (tmux's own, then the outer terminal's).
pub(crate) fn parse_replies(bytes: &[u8]) -> Replies {
    let mut r = Replies::default();
    let mut versions: Vec<String> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let Some((kind, body, len)) = (bytes[i] == 0x1b).then(|| sequence(&bytes[i..])).flatten()
        else {
            i += 1;
            continue;
        };
        i += len;
        match (kind, body) {
            (b'[', [b'?', attrs @ .., b'c']) => {
                if let Some(attrs) = numbers(attrs) {
                    let slot = if r.da1.is_none() {
                        &mut r.da1
                    } else {
                        &mut r.outer_da1
                    };
                    slot.get_or_insert(attrs);
                }
            }
            (b'[', [params @ .., b't']) => match numbers(params).as_deref() {
                Some(&[6, h, w]) => r.cell_px = Some((w, h)),
                Some(&[4, h, w]) => r.window_px = Some((w, h)),
                _ => {}
            },
            (b'[', [b'?', params @ .., b'S']) => {
                if let Some(&[1, 0, n]) = numbers(params).as_deref() {
                    r.sixel_colors = Some(n);
                }
            }
            (b'_', [b'G', rest @ ..]) => {
                let text = String::from_utf8_lossy(rest);
                if let Some((keys, msg)) = text.split_once(';') {
                    let ours = keys.split(',').any(|kv| kv == format!("i={KITTY_ID}"));
                    r.kitty_graphics |= ours && msg == "OK";
                }
            }
            (b'P', [b'>', b'|', text @ ..]) => {
                versions.push(String::from_utf8_lossy(text).trim().to_string());
            }
            _ => {}
        }
    }
    // tmux's own answer says "tmux …"; the other one is the outer terminal's.
    if let Some(t) = versions.iter().position(|v| v.starts_with("tmux")) {
        let tmux = versions.remove(t);
        versions.insert(0, tmux);
    }
    let mut versions = versions.into_iter();
    r.xtversion = versions.next();
    r.outer_xtversion = versions.next();
    r
}

fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Halfblocks => "half-blocks",
        Proto::Sixel => "sixel",
        Proto::KittyDirect => "kitty",
        Proto::KittyPlaceholders => "kitty (unicode placeholders)",
        Proto::Iterm2 => "iTerm2",
    }
}

/// "kitty(0.26.5)" → (0, 26, 5).
fn kitty_version(xtversion: Option<&str>) -> Option<(u32, u32, u32)> {
    let inner = xtversion?.strip_prefix("kitty(")?.split(')').next()?;
    let n: Vec<u32> = inner.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    Some((n[0], *n.get(1).unwrap_or(&0), *n.get(2).unwrap_or(&0)))
}

/// Whether kitty can draw inside tmux: unicode placeholders need kitty 0.28.
fn kitty_in_tmux(version: Option<(u32, u32, u32)>) -> Result<(), String> {
    match version {
        Some(v) if v >= (0, 28, 0) => Ok(()),
        Some((a, b, c)) => Err(format!("kitty {a}.{b}.{c} in tmux: placeholders need 0.28")),
        None => Err("kitty of unknown version in tmux: placeholders need 0.28".into()),
    }
}

/// Kitty outside tmux: Unicode placeholders from 0.28 on, direct placement before (and
/// for a terminal that answers the kitty query without saying it is kitty).
fn kitty_outside_tmux(version: Option<(u32, u32, u32)>) -> Proto {
    match version {
        Some(v) if v >= (0, 28, 0) => Proto::KittyPlaceholders,
        _ => Proto::KittyDirect,
    }
}

/// The cell size in pixels and where it came from; every source is sanity-checked.
fn cell_size(r: &Replies, env: &Env) -> ((u16, u16), CellSource) {
    let (cols, rows) = env.size_cells;
    let per_cell = |(w, h): (u16, u16)| (cols > 0 && rows > 0).then(|| (w / cols, h / rows));
    // Without a client that reports its pixel size, tmux makes up 16×32 cells: no answer.
    let ioctl = env
        .ioctl_px
        .and_then(per_cell)
        .filter(|&c| !(env.in_tmux && c == (16, 32)));
    let sane = |&(w, h): &(u16, u16)| (2..=200).contains(&w) && (4..=200).contains(&h);
    [
        (r.cell_px, CellSource::Query16t),
        (r.window_px.and_then(per_cell), CellSource::Query14t),
        (ioctl, CellSource::Ioctl),
    ]
    .into_iter()
    .find_map(|(cell, source)| cell.filter(sane).map(|c| (c, source)))
    .unwrap_or((FALLBACK_CELL, CellSource::Fallback))
}

/// The automatic choice.
fn auto(r: &Replies, env: &Env, version: Option<(u32, u32, u32)>) -> (Proto, String) {
    let has = |attrs: &Option<Vec<u16>>, a: u16| attrs.as_ref().is_some_and(|v| v.contains(&a));
    let starts = |s: &Option<String>, p: &str| s.as_deref().is_some_and(|s| s.starts_with(p));
    let is = |s: &Option<String>, p: &str| s.as_deref() == Some(p);
    // WezTerm answers the kitty query but its kitty support is partial; it does iTerm2 well.
    let wezterm = starts(&r.xtversion, "WezTerm")
        || starts(&r.outer_xtversion, "WezTerm")
        || is(&env.term_program, "WezTerm");
    let (proto, reason) = if env.in_tmux {
        if has(&r.da1, 4) {
            (Proto::Sixel, "tmux with sixel")
        } else if env.tmux_passthrough != Some(true) {
            (Proto::Halfblocks, "tmux without passthrough")
        } else if r.kitty_graphics && !wezterm {
            return match kitty_in_tmux(version) {
                Ok(()) => (
                    Proto::KittyPlaceholders,
                    "kitty in tmux (passthrough)".into(),
                ),
                Err(why) => (Proto::Halfblocks, why),
            };
        } else {
            (Proto::Halfblocks, "tmux: no graphics through passthrough")
        }
    } else if r.kitty_graphics && !wezterm {
        return match version {
            Some((a, b, c)) => (
                kitty_outside_tmux(version),
                format!("kitty graphics query, kitty {a}.{b}.{c}"),
            ),
            None => (Proto::KittyDirect, "kitty graphics query".into()),
        };
    } else if starts(&r.xtversion, "iTerm2") || starts(&r.xtversion, "WezTerm") {
        (Proto::Iterm2, "XTVERSION")
    } else if is(&env.term_program, "iTerm.app") || is(&env.term_program, "WezTerm") {
        (Proto::Iterm2, "TERM_PROGRAM")
    } else if is(&env.lc_terminal, "iTerm2") {
        (Proto::Iterm2, "LC_TERMINAL")
    } else if has(&r.da1, 4) {
        (Proto::Sixel, "DA1")
    } else if *r == Replies::default() {
        (Proto::Halfblocks, "no answer")
    } else {
        (Proto::Halfblocks, "no graphics in the answers")
    };
    (proto, reason.into())
}

/// Chooses the protocol from the answers, the environment and what the user asked for.
pub(crate) fn decide(r: &Replies, env: &Env, wanted: Wanted) -> Detection {
    let (cell, cell_source) = cell_size(r, env);
    let vt340 = r.da1.as_ref().and_then(|a| a.first()) == Some(&63);
    let colors = r.sixel_colors.filter(|&n| n >= 2);
    let answer = if env.in_tmux {
        &r.outer_xtversion
    } else {
        &r.xtversion
    };
    let version = kitty_version(answer.as_deref());
    let chosen = |p: Proto| (p, "chosen".to_string(), None);
    let instead = |asked: &str, why: &str| {
        let (p, reason) = auto(r, env, version);
        let notice = format!("--image-protocol {asked}: {why}; using {}", proto_name(p));
        (p, reason, Some(notice))
    };
    let (proto, reason, notice) = match wanted {
        Wanted::Auto => {
            let (p, reason) = auto(r, env, version);
            (p, reason, None)
        }
        Wanted::Halfblocks => chosen(Proto::Halfblocks),
        Wanted::Iterm2 => chosen(Proto::Iterm2),
        Wanted::Sixel if r.da1.as_ref().is_some_and(|a| !a.contains(&4)) => {
            instead("sixel", "the terminal's DA1 answer has no sixel")
        }
        Wanted::Sixel => chosen(Proto::Sixel),
        Wanted::Kitty if env.in_tmux && env.tmux_passthrough != Some(true) => {
            instead("kitty", "tmux does not allow passthrough")
        }
        Wanted::Kitty if !r.kitty_graphics => instead(
            "kitty",
            "the terminal did not answer the kitty graphics query",
        ),
        Wanted::Kitty if !env.in_tmux => chosen(kitty_outside_tmux(version)),
        Wanted::Kitty => match kitty_in_tmux(version) {
            Ok(()) => chosen(Proto::KittyPlaceholders),
            Err(why) => {
                let notice = format!("--image-protocol kitty: {why}; using half-blocks");
                (Proto::Halfblocks, why, Some(notice))
            }
        },
    };
    Detection {
        proto,
        reason,
        cell,
        cell_source,
        tmux: proto == Proto::KittyPlaceholders && env.in_tmux,
        sixel_colors: colors.unwrap_or(if vt340 { 16 } else { 256 }),
        kitty_version: version,
        notice,
    }
}

fn tmux_output(args: &[&str]) -> Option<String> {
    let mut cmd = Command::new("tmux");
    cmd.args(args).stdin(Stdio::null()).stderr(Stdio::null());
    let out = cmd.output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// tmux's allow-passthrough for this pane, read-only. Before tmux 3.3 passthrough was always on.
fn tmux_passthrough() -> Option<bool> {
    let pane = std::env::var("TMUX_PANE").ok().filter(|p| !p.is_empty());
    let mut args = vec!["show-options", "-p", "-A", "-v"];
    if let Some(pane) = &pane {
        args.extend(["-t", pane.as_str()]);
    }
    args.push("allow-passthrough");
    match tmux_output(&args).as_deref() {
        Some("on" | "all") => Some(true),
        Some("off") => Some(false),
        Some(_) => None,
        None => {
            let v = tmux_output(&["-V"])?;
            let mut n = v
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty());
            let major_minor = (
                n.next()?.parse::<u32>().ok()?,
                n.next()?.parse::<u32>().ok()?,
            );
            (major_minor < (3, 3)).then_some(true)
        }
    }
}

fn env_for(fd: RawFd) -> Env {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    // SAFETY: winsize is plain data; TIOCGWINSZ only writes into it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = fd >= 0 && unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0;
    let px = (ws.ws_xpixel, ws.ws_ypixel);
    let in_tmux = var("TMUX").is_some();
    Env {
        term: var("TERM"),
        term_program: var("TERM_PROGRAM"),
        lc_terminal: var("LC_TERMINAL"),
        in_tmux,
        tmux_passthrough: if in_tmux { tmux_passthrough() } else { None },
        ioctl_px: (ok && px.0 > 0 && px.1 > 0).then_some(px),
        size_cells: if ok { (ws.ws_col, ws.ws_row) } else { (0, 0) },
    }
}

/// The terminal's (read fd, write fd): stdin/stdout when both are ttys, else /dev/tty (kept open
/// by the returned file).
fn open_tty() -> Option<(RawFd, RawFd, Option<File>)> {
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return Some((0, 1, None));
    }
    let f = File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    Some((f.as_raw_fd(), f.as_raw_fd(), Some(f)))
}

/// Restores the tty's termios when dropped, on every path.
struct Restore(RawFd, libc::termios);

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: puts back the termios read from this fd.
        unsafe { libc::tcsetattr(self.0, libc::TCSANOW, &self.1) };
    }
}

fn interrupted() -> bool {
    std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
}

/// Reads what arrives within `ms` milliseconds (0: only what is there already); false if nothing.
fn read_some(fd: RawFd, ms: i32, into: &mut Vec<u8>) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    while unsafe { libc::poll(&mut pfd, 1, ms) } < 0 && interrupted() {}
    if pfd.revents & libc::POLLIN == 0 {
        return false;
    }
    let mut buf = [0u8; 1024];
    // SAFETY: buf is writable for its length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    into.extend_from_slice(&buf[..n.max(0) as usize]);
    n > 0
}

/// Writes the queries and returns the environment and the raw answers (empty on any error);
/// None without a terminal. Asks nothing when half-blocks were chosen.
pub(crate) fn query(wanted: Wanted) -> Option<(Env, Vec<u8>)> {
    let (rfd, wfd, _file) = open_tty()?;
    let env = env_for(rfd);
    let mut bytes = Vec::new();
    // SAFETY: termios is plain data; tcgetattr fills it.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if wanted == Wanted::Halfblocks || unsafe { libc::tcgetattr(rfd, &mut saved) } != 0 {
        return Some((env, bytes));
    }
    let _restore = Restore(rfd, saved);
    let mut raw = saved;
    raw.c_lflag &= !(libc::ICANON | libc::ECHO);
    raw.c_cc[libc::VMIN] = 1;
    raw.c_cc[libc::VTIME] = 0;
    // SAFETY: a termios derived from the one just read.
    if unsafe { libc::tcsetattr(rfd, libc::TCSANOW, &raw) } != 0 {
        return Some((env, bytes));
    }
    let through = env.in_tmux && env.tmux_passthrough == Some(true);
    // tmux takes an APC for a pane title, so the plain kitty query goes out only outside tmux.
    let mut q = if env.in_tmux {
        String::new()
    } else {
        KITTY_QUERY.to_string()
    };
    q += &format!("{XTVERSION}\x1b[16t\x1b[14t\x1b[?1;1;0S{DA1}");
    for s in [KITTY_QUERY, XTVERSION, DA1].iter().filter(|_| through) {
        q += &format!("\x1bPtmux;{}\x1b\\", s.replace('\x1b', "\x1b\x1b"));
    }
    let mut out = q.as_bytes();
    while !out.is_empty() {
        // SAFETY: out is readable for its length.
        let n = unsafe { libc::write(wfd, out.as_ptr().cast(), out.len()) };
        if n <= 0 && !interrupted() {
            return Some((env, bytes));
        }
        out = &out[n.max(0) as usize..];
    }
    let start = Instant::now();
    loop {
        let r = parse_replies(&bytes);
        let left = TIMEOUT.saturating_sub(start.elapsed());
        let done = r.da1.is_some() && (!through || r.outer_da1.is_some());
        if done || left.is_zero() || !read_some(rfd, left.as_millis().max(1) as i32, &mut bytes) {
            break;
        }
    }
    // Drain, so that no late answer reaches the app's key input.
    while read_some(rfd, 0, &mut bytes) {}
    Some((env, bytes))
}

/// Detects the image protocol: reads the environment, queries the terminal (unless half-blocks
/// were chosen) and decides. Costs at most about 400 ms when the terminal answers nothing.
pub(crate) fn detect(wanted: Wanted) -> Detection {
    match query(wanted) {
        Some((env, bytes)) => decide(&parse_replies(&bytes), &env, wanted),
        None => Detection {
            reason: "no terminal".into(),
            ..decide(&Replies::default(), &Env::default(), Wanted::Halfblocks)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Proto::*;
    use Wanted as W;

    // Answers captured from real terminals.
    /// xterm 379 `-ti vt340`, window ops refused (the default).
    const XTERM: &[u8] = b"\x1bP>|XTerm(379)\x1b\\\x1b[?1;0;1024S\x1b[?63;1;2;4;6;9;15;16;22;28c";
    /// The same with allowWindowOps.
    const XTERM_OPS: &[u8] = b"\x1bP>|XTerm(379)\x1b\\\x1b[6;13;6t\x1b[4;624;960t\x1b[?1;0;1024S\x1b[?63;1;2;4;6;9;15;16;22;28c";
    /// kitty 0.26.5.
    const KITTY: &[u8] =
        b"\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.26.5)\x1b\\\x1b[6;20;9t\x1b[4;960;1440t\x1b[?62;c";
    /// tmux 3.3a, allow-passthrough off.
    const TMUX: &[u8] = b"\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c";
    /// tmux 3.3a with allow-passthrough on, inside kitty 0.26.5.
    const KITTY_TMUX: &[u8] =
        b"\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.26.5)\x1b\\\x1b[?62;c";
    const KITTY28_TMUX: &[u8] =
        b"\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.28.1)\x1b\\\x1b[?62;c";
    /// kitty 0.26.5's answers with a later version (not captured).
    const KITTY30: &[u8] =
        b"\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.30.1)\x1b\\\x1b[6;20;9t\x1b[4;960;1440t\x1b[?62;c";
    const KITTY_OK: &[u8] = b"\x1b_Gi=31;OK\x1b\\\x1b[?62;4c";
    const WEZTERM: &[u8] = b"\x1b_Gi=31;OK\x1b\\\x1bP>|WezTerm 20240203\x1b\\\x1b[?65;4;6;18;22c";

    fn e() -> Env {
        Env {
            size_cells: (160, 48),
            ..Env::default()
        }
    }
    fn tm(passthrough: Option<bool>) -> Env {
        Env {
            in_tmux: true,
            tmux_passthrough: passthrough,
            ..e()
        }
    }
    fn run(bytes: &[u8], env: &Env, wanted: Wanted) -> Detection {
        decide(&parse_replies(bytes), env, wanted)
    }

    #[test]
    fn parses_captured_answers() {
        let x = parse_replies(XTERM);
        assert_eq!(x.da1, Some(vec![63, 1, 2, 4, 6, 9, 15, 16, 22, 28]));
        assert_eq!(
            (x.xtversion.as_deref(), x.sixel_colors),
            (Some("XTerm(379)"), Some(1024))
        );
        assert!(x.cell_px.is_none() && x.window_px.is_none() && !x.kitty_graphics);
        let x = parse_replies(XTERM_OPS);
        assert_eq!((x.cell_px, x.window_px), (Some((6, 13)), Some((960, 624))));
        let k = parse_replies(KITTY);
        assert!(k.kitty_graphics && k.da1 == Some(vec![62, 0]));
        assert_eq!((k.cell_px, k.window_px), (Some((9, 20)), Some((1440, 960))));
        let t = parse_replies(KITTY_TMUX);
        assert_eq!((t.da1, t.outer_da1), (Some(vec![1, 2]), Some(vec![62, 0])));
        let versions = (t.xtversion.as_deref(), t.outer_xtversion.as_deref());
        assert_eq!(versions, (Some("tmux 3.3a"), Some("kitty(0.26.5)")));
    }

    #[test]
    fn parse_tolerates_garbage_keys_and_cut_off_sequences() {
        let nothing = Replies::default();
        assert_eq!(parse_replies(b"\x1b\x1b[\x1b_G\x1bP>|\x1b[?6"), nothing);
        // Keys (a, Up, Alt-x, Escape, é), a cut-off XTVERSION and kitty answer, another order.
        let bytes = b"a\x1b[A\x1bx\x1b\x1b[?62;4c\x1bP>|kit\x1b_Gi=31;O\x1b[6;20;10t\xc3\xa9";
        let r = parse_replies(bytes);
        assert_eq!((r.da1, r.cell_px), (Some(vec![62, 4]), Some((10, 20))));
        assert!(r.xtversion.is_none() && !r.kitty_graphics);
        // Not our id, not OK, a failed XTSMGRAPHICS read, a DECRQM answer.
        let bytes = b"\x1b_Gi=9;OK\x1b\\\x1b_Gi=31;ENOENT:x\x1b\\\x1b[?1;3;0S\x1b[?1;0$y";
        assert_eq!(parse_replies(bytes), nothing);
        // The outer terminal's XTVERSION is told apart from tmux's in any order.
        let r = parse_replies(b"\x1bP>|kitty(0.30.1)\x1b\\\x1bP>|tmux 3.4\x1b\\");
        let versions = (r.xtversion.as_deref(), r.outer_xtversion.as_deref());
        assert_eq!(versions, (Some("tmux 3.4"), Some("kitty(0.30.1)")));
    }

    #[test]
    fn decides_by_the_rules() {
        let prog = |p: &str| Env {
            term_program: Some(p.into()),
            ..e()
        };
        let lc = Env {
            lc_terminal: Some("iTerm2".into()),
            ..e()
        };
        let iterm: &[u8] = b"\x1bP>|iTerm2 3.5.0\x1b\\\x1b[?62;4c";
        let tmux_sixel: &[u8] = b"\x1bP>|tmux 3.4\x1b\\\x1b[?1;2;4c";
        let unknown_kitty: &[u8] = b"\x1b[?1;2c\x1b_Gi=31;OK\x1b\\\x1b[?62;c";
        let old_kitty = "kitty 0.26.5 in tmux: placeholders need 0.28";
        #[rustfmt::skip]
        let cases: &[(&[u8], Env, Wanted, Proto, &str)] = &[
            (KITTY, e(), W::Auto, KittyDirect, "kitty graphics query, kitty 0.26.5"),
            (KITTY30, e(), W::Auto, KittyPlaceholders, "kitty graphics query, kitty 0.30.1"),
            (KITTY_OK, e(), W::Auto, KittyDirect, "kitty graphics query"),
            (WEZTERM, e(), W::Auto, Iterm2, "XTVERSION"),
            (iterm, e(), W::Auto, Iterm2, "XTVERSION"),
            (b"\x1b[?62;4c", prog("iTerm.app"), W::Auto, Iterm2, "TERM_PROGRAM"),
            (KITTY_OK, prog("WezTerm"), W::Auto, Iterm2, "TERM_PROGRAM"),
            (b"", lc, W::Auto, Iterm2, "LC_TERMINAL"),
            (XTERM, e(), W::Auto, Sixel, "DA1"),
            (b"\x1b[?62;22c", e(), W::Auto, Halfblocks, "no graphics in the answers"),
            (b"", e(), W::Auto, Halfblocks, "no answer"),
            (TMUX, tm(Some(false)), W::Auto, Halfblocks, "tmux without passthrough"),
            (TMUX, tm(None), W::Auto, Halfblocks, "tmux without passthrough"),
            (TMUX, tm(Some(true)), W::Auto, Halfblocks, "tmux: no graphics through passthrough"),
            (tmux_sixel, tm(None), W::Auto, Sixel, "tmux with sixel"),
            (KITTY_TMUX, tm(Some(true)), W::Auto, Halfblocks, old_kitty),
            (KITTY28_TMUX, tm(Some(true)), W::Auto, KittyPlaceholders, "kitty in tmux (passthrough)"),
            (unknown_kitty, tm(Some(true)), W::Auto, Halfblocks, "kitty of unknown version in tmux: placeholders need 0.28"),
            (KITTY, e(), W::Halfblocks, Halfblocks, "chosen"),
            (b"", e(), W::Iterm2, Iterm2, "chosen"),
            (b"", e(), W::Sixel, Sixel, "chosen"),
            (XTERM, e(), W::Sixel, Sixel, "chosen"),
            (KITTY, e(), W::Kitty, KittyDirect, "chosen"),
            (KITTY30, e(), W::Kitty, KittyPlaceholders, "chosen"),
            (KITTY_OK, e(), W::Kitty, KittyDirect, "chosen"),
            (KITTY28_TMUX, tm(Some(true)), W::Kitty, KittyPlaceholders, "chosen"),
        ];
        for (bytes, env, wanted, proto, reason) in cases {
            let d = run(bytes, env, *wanted);
            let case = format!("{wanted:?} {env:?} {}", bytes.escape_ascii());
            assert_eq!((d.proto, d.reason.as_str()), (*proto, *reason), "{case}");
            assert_eq!(d.tmux, *proto == KittyPlaceholders && env.in_tmux, "{case}");
            assert_eq!(d.notice, None, "{case}");
        }
        assert_eq!(
            run(KITTY_TMUX, &tm(Some(true)), W::Auto).kitty_version,
            Some((0, 26, 5))
        );
    }

    #[test]
    fn forced_protocols_fall_back_with_a_notice() {
        #[rustfmt::skip]
        let cases: &[(&[u8], Env, Wanted, Proto, &str)] = &[
            (XTERM, e(), W::Kitty, Sixel, "kitty: the terminal did not answer the kitty graphics query; using sixel"),
            (KITTY_TMUX, tm(Some(true)), W::Kitty, Halfblocks, "kitty: kitty 0.26.5 in tmux: placeholders need 0.28; using half-blocks"),
            (TMUX, tm(Some(false)), W::Kitty, Halfblocks, "kitty: tmux does not allow passthrough; using half-blocks"),
            (KITTY, e(), W::Sixel, KittyDirect, "sixel: the terminal's DA1 answer has no sixel; using kitty"),
        ];
        for (bytes, env, wanted, proto, notice) in cases {
            let d = run(bytes, env, *wanted);
            assert_eq!(d.proto, *proto);
            assert_eq!(d.notice, Some(format!("--image-protocol {notice}")));
        }
    }

    #[test]
    fn cell_size_sources_and_colors() {
        let cell = |bytes: &[u8], env: &Env| {
            let d = run(bytes, env, W::Auto);
            (d.cell, d.cell_source)
        };
        let px = Env {
            ioctl_px: Some((964, 628)),
            ..e()
        };
        let fallback = ((5, 10), CellSource::Fallback);
        assert_eq!(cell(XTERM_OPS, &px), ((6, 13), CellSource::Query16t));
        // An insane 16t answer is passed over for 14t.
        assert_eq!(
            cell(b"\x1b[6;1;1t\x1b[4;624;960t", &px),
            ((6, 13), CellSource::Query14t)
        );
        assert_eq!(cell(XTERM, &px), ((6, 13), CellSource::Ioctl));
        assert_eq!(cell(XTERM, &e()), fallback);
        assert_eq!(cell(b"\x1b[6;300;9t", &e()), fallback);
        assert_eq!(
            cell(
                XTERM,
                &Env {
                    size_cells: (0, 0),
                    ..px
                }
            ),
            fallback
        );
        // Detached tmux makes up 16×32 cells.
        let made_up = Env {
            ioctl_px: Some((2560, 1536)),
            ..tm(Some(false))
        };
        assert_eq!(cell(TMUX, &made_up), fallback);
        let colors = |bytes: &[u8]| run(bytes, &e(), W::Auto).sixel_colors;
        let all = [
            colors(XTERM),
            colors(b"\x1b[?63;4c"),
            colors(b"\x1b[?62;4c"),
            colors(b""),
        ];
        assert_eq!(all, [1024, 16, 256, 256]);
    }
}
