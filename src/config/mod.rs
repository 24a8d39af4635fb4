//! Presets, themes and where files live.

pub mod catalog;
pub mod diff;
pub mod paths;
pub mod preset;

pub use preset::{DiffusionConfig, Preset, PresetError, SampleConfig, TrainConfig};

use std::path::{Path, PathBuf};

/// The preset `diffscope`, `diffscope tui`, `train` and `data` use when none is named.
pub const DEFAULT_PRESET: &str = "glyphs16";

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// RON that does not parse into the expected structure: `FILE:LINE:COL: problem`.
    #[error("{}:{line}:{column}: {problem}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        problem: String,
    },
    /// RON cut off before its structure closes (a truncated file).
    #[error("{}: the file ends early (line {line})", path.display())]
    EndsEarly { path: PathBuf, line: usize },
    #[error("{}: cannot read preset", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: preset file not found", path.display())]
    NotFound { path: PathBuf },
    /// A preset name that is neither a file nor built in; `path` is where it was looked
    /// for first (`presets/NAME.ron`).
    #[error(
        "{}: no such preset (built-in presets: {})",
        path.display(),
        known.join(", ")
    )]
    UnknownPreset {
        path: PathBuf,
        known: Vec<&'static str>,
    },
    /// A preset that parses but holds a value it must not.
    #[error("{}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: PresetError,
    },
}

fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

/// Parses RON into `T`; errors keep the file, line and column (`FILE:LINE:COL: problem`
/// on one line). Optional fields may be written plainly (`theme: "light"`) or as
/// `Some(…)`. Every configuration file (presets, themes, `tui.ron`, checkpoint metadata)
/// is read through here, so its errors read alike: an enum's valid names are listed, and
/// a cut-off file says so.
pub fn parse_ron<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &Path,
) -> Result<T, ConfigError> {
    ron_options().from_str(text).map_err(|e| {
        let reparse = |t: &str| ron_options().from_str::<T>(t).err();
        ron_error(text, origin, e, &reparse)
    })
}

/// The error for RON that `T` cannot be read from; `reparse` parses other text as `T`
/// (to find what an enum field accepts).
fn ron_error(
    text: &str,
    origin: &Path,
    e: ron::error::SpannedError,
    reparse: &dyn Fn(&str) -> Option<ron::error::SpannedError>,
) -> ConfigError {
    let (line, column) = (e.span.start.line, e.span.start.col);
    let at = offset(text, line, column);
    if ends_early(&e.code, at.map(|i| &text[i..])) {
        let last = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, _)| i + 1)
            .last()
            .unwrap_or(1);
        return ConfigError::EndsEarly {
            path: origin.to_path_buf(),
            line: line.min(last).max(1),
        };
    }
    let problem = at
        .and_then(|i| enum_problem(text, i, &e, reparse))
        .unwrap_or_else(|| e.code.to_string());
    ConfigError::Syntax {
        path: origin.to_path_buf(),
        line,
        column,
        problem,
    }
}

/// The byte offset of a 1-based line and column (in characters), when it is in `text`.
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let rest = text.get(start..)?;
    let skip = column.checked_sub(1)?;
    match rest.char_indices().nth(skip) {
        Some((i, _)) => Some(start + i),
        None if rest.chars().count() == skip => Some(text.len()),
        None => None,
    }
}

/// Whether an error says the text stopped before its structure closed: the end of the
/// input, or a missing piece of syntax with nothing after it.
fn ends_early(code: &ron::Error, rest: Option<&str>) -> bool {
    use ron::Error as E;
    let blank = rest.is_some_and(|r| r.trim().is_empty());
    match code {
        E::Eof | E::UnclosedBlockComment | E::ExpectedStringEnd => true,
        E::ExpectedArray
        | E::ExpectedArrayEnd
        | E::ExpectedBoolean
        | E::ExpectedComma
        | E::ExpectedChar
        | E::ExpectedFloat
        | E::ExpectedInteger
        | E::ExpectedOption
        | E::ExpectedOptionEnd
        | E::ExpectedMap
        | E::ExpectedMapColon
        | E::ExpectedMapEnd
        | E::ExpectedStructLike
        | E::ExpectedNamedStructLike(_)
        | E::ExpectedStructLikeEnd
        | E::ExpectedUnit
        | E::ExpectedString
        | E::ExpectedIdentifier => blank,
        _ => false,
    }
}

/// A name no enum of the configuration has, put in place of a value to learn what the
/// field accepts.
const PROBE: &str = "diffscope_no_such_name";

/// An enum field's problem with its valid names: an unknown name, or a value that is not
/// a bare name (a string or a number, at byte `at`).
fn enum_problem(
    text: &str,
    at: usize,
    e: &ron::error::SpannedError,
    reparse: &dyn Fn(&str) -> Option<ron::error::SpannedError>,
) -> Option<String> {
    use ron::Error as E;
    let field = field_before(text, at).unwrap_or_else(|| "the value".into());
    match &e.code {
        E::NoSuchEnumVariant {
            expected, found, ..
        } => Some(format!(
            "{field} must be one of {}, not {found}",
            expected.join(", ")
        )),
        E::ExpectedIdentifier
        | E::SuggestRawIdentifier(_)
        | E::InvalidIdentifier(_)
        | E::InvalidValueForType { .. }
        | E::ExpectedStructLike => {
            let token = token_at(&text[at..])?;
            let probed = format!("{}{PROBE}{}", &text[..at], &text[at + token.len()..]);
            let again = reparse(&probed)?;
            if again.span.start != e.span.start {
                return None;
            }
            let quoted = token.starts_with('"');
            match again.code {
                E::NoSuchEnumVariant { expected, .. } => Some(format!(
                    "{field} must be one of {}{}",
                    expected.join(", "),
                    if quoted {
                        " (a bare name, not a string)"
                    } else {
                        ""
                    }
                )),
                E::NoSuchStructField { expected, .. } if quoted => Some(format!(
                    "field names are bare, not strings: one of {}",
                    expected.join(", ")
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The value token that starts `rest`: a string literal, or a number or name.
fn token_at(rest: &str) -> Option<&str> {
    if let Some(body) = rest.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return Some(&rest[..i + 2]),
                _ => escaped = false,
            }
        }
        return None;
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || "_.+-".contains(c)))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The field whose value starts at byte `at`: the name before its `:` (and `Some(`).
fn field_before(text: &str, at: usize) -> Option<String> {
    let mut before = text.get(..at)?.trim_end();
    if let Some(b) = before.strip_suffix("Some(") {
        before = b.trim_end();
    }
    let before = before.strip_suffix(':')?.trim_end();
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let name = &before[start..];
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Protocol {
        Auto,
        Kitty,
        Halfblocks,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read only to see what fails
    struct Settings {
        #[serde(default)]
        image_protocol: Option<Protocol>,
        #[serde(default)]
        name: String,
    }

    fn error(text: &str) -> String {
        let e = parse_ron::<Settings>(text, Path::new("tui.ron")).unwrap_err();
        crate::util::one_line(&e)
    }

    #[test]
    fn enum_errors_list_the_valid_names() {
        for text in [
            "(image_protocol: \"halfblocks\")",
            "(image_protocol: Some(\"halfblocks\"))",
        ] {
            let e = error(text);
            assert!(
                e.starts_with("tui.ron:1:") && e.ends_with(
                    "image_protocol must be one of auto, kitty, halfblocks (a bare name, not a \
                     string)"
                ),
                "{e}"
            );
        }
        let e = error("(\n  name: \"x\",\n  image_protocol: sixel,\n)");
        assert!(
            e.starts_with("tui.ron:3:")
                && e.ends_with("image_protocol must be one of auto, kitty, halfblocks, not sixel"),
            "{e}"
        );
        let e = error("(image_protocol: 3)");
        assert!(
            e.ends_with("image_protocol must be one of auto, kitty, halfblocks"),
            "{e}"
        );
        // fields are no enum: the parser's own words
        let e = error("(\"name\": \"x\")");
        assert!(e.contains("field names are bare"), "{e}");
        assert!(e.contains("image_protocol, name"), "{e}");
    }

    #[test]
    fn a_cut_off_file_says_it_ends_early() {
        for (text, line) in [
            ("(\n  name: \"x\",\n  image_protocol: ", 3),
            ("(\n  name: \"x\",\n", 2),
            ("(\n  name: \"unclosed", 2),
            ("", 1),
        ] {
            assert_eq!(
                error(text),
                format!("tui.ron: the file ends early (line {line})"),
                "{text:?}"
            );
        }
        // a complete file with a missing piece in the middle is not cut off
        assert!(error("(name: \"x\",, )").starts_with("tui.ron:1:"));
    }

    #[test]
    fn offsets_count_characters_and_stay_in_the_text() {
        assert_eq!(offset("ab\nγx", 2, 2), Some(5));
        assert_eq!(offset("ab\nγx", 2, 3), Some(6));
        assert_eq!(offset("ab\nγx", 2, 4), None);
        assert_eq!(offset("ab", 3, 1), None);
        assert_eq!(field_before("γ: ", 4), Some("γ".into()));
        assert_eq!(field_before("[", 1), None);
    }
}
