//! Themes: RON files in `themes/` (embedded in the binary) and in the user's config folder
//! (`<config>/themes/NAME.ron`). A user file may name only some fields; the rest come from
//! the bundled theme of the same name, or from the default. Unknown fields are rejected
//! with the file, line and column.

use crate::config::paths;
use ratatui::style::Color;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The bundled themes, in cycling order; the first is the default.
pub const BUNDLED: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.ron")),
    ("light", include_str!("../../themes/light.ron")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.ron"),
    ),
    ("monochrome", include_str!("../../themes/monochrome.ron")),
];

pub use crate::config::parse_ron;

/// A theme as written in a file: every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeFile {
    pub name: Option<String>,
    pub fg: Option<String>,
    pub bg: Option<String>,
    pub border: Option<String>,
    pub title: Option<String>,
    pub accent: Option<String>,
    pub faint: Option<String>,
    pub raw_loss: Option<String>,
    pub smooth_loss: Option<String>,
    /// Four colours, for the losses of t in each quarter of 1…T.
    pub quarters: Option<Vec<String>>,
    pub data: Option<String>,
    pub samples: Option<String>,
    pub x0_hat: Option<String>,
    pub density: Option<String>,
    pub gauge: Option<String>,
    pub error: Option<String>,
    pub key: Option<String>,
    pub selection_fg: Option<String>,
    pub selection_bg: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub fg: Color,
    pub bg: Color,
    pub border: Color,
    pub title: Color,
    pub accent: Color,
    pub faint: Color,
    pub raw_loss: Color,
    pub smooth_loss: Color,
    pub quarters: [Color; 4],
    pub data: Color,
    pub samples: Color,
    pub x0_hat: Color,
    pub density: Color,
    pub gauge: Color,
    pub error: Color,
    pub key: Color,
    pub selection_fg: Color,
    pub selection_bg: Color,
}

fn color(s: &str, field: &str, origin: &Path) -> Result<Color, String> {
    Color::from_str(s).map_err(|_| {
        format!(
            "{}: {field}: unknown colour {s:?} (use a name like \"red\", \"#rrggbb\" or \"reset\")",
            origin.display()
        )
    })
}

impl Theme {
    /// Applies the fields a file names on top of `self`.
    pub fn overlay(&self, f: &ThemeFile, origin: &Path) -> Result<Theme, String> {
        let mut t = self.clone();
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(s) = &f.$field {
                    t.$field = color(s, stringify!($field), origin)?;
                }
            )*};
        }
        set!(
            fg,
            bg,
            border,
            title,
            accent,
            faint,
            raw_loss,
            smooth_loss,
            data,
            samples,
            x0_hat,
            density,
            gauge,
            error,
            key,
            selection_fg,
            selection_bg
        );
        if let Some(q) = &f.quarters {
            if q.len() != 4 {
                return Err(format!(
                    "{}: quarters: needs 4 colours, got {}",
                    origin.display(),
                    q.len()
                ));
            }
            for (i, s) in q.iter().enumerate() {
                t.quarters[i] = color(s, "quarters", origin)?;
            }
        }
        if let Some(n) = &f.name {
            t.name = n.clone();
        }
        Ok(t)
    }

    /// The built-in fallback, equal to `themes/dark.ron`.
    fn base() -> Theme {
        use Color::*;
        Theme {
            name: "dark".into(),
            fg: Reset,
            bg: Reset,
            border: DarkGray,
            title: Cyan,
            accent: Yellow,
            faint: DarkGray,
            raw_loss: DarkGray,
            smooth_loss: LightCyan,
            quarters: [LightGreen, LightYellow, LightMagenta, LightRed],
            data: DarkGray,
            samples: LightCyan,
            x0_hat: LightMagenta,
            density: LightYellow,
            gauge: Cyan,
            error: LightRed,
            key: Yellow,
            selection_fg: Black,
            selection_bg: Cyan,
        }
    }

    /// A bundled theme by name.
    pub fn bundled(name: &str) -> Result<Theme, String> {
        let (n, text) = BUNDLED
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| format!("themes/{name}.ron: no such bundled theme"))?;
        let origin = PathBuf::from(format!("themes/{n}.ron"));
        let f: ThemeFile = parse_ron(text, &origin).map_err(|e| crate::util::one_line(&e))?;
        let mut t = Theme::base().overlay(&f, &origin)?;
        t.name = n.to_string();
        Ok(t)
    }

    /// Reads a user theme file over the bundled theme of the same name (or the default).
    pub fn from_file(path: &Path) -> Result<Theme, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read theme: {e}", path.display()))?;
        let f: ThemeFile = parse_ron(&text, path).map_err(|e| crate::util::one_line(&e))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let base = Theme::bundled(&stem).unwrap_or_else(|_| Theme::base());
        let mut t = base.overlay(&f, path)?;
        if f.name.is_none() {
            t.name = stem;
        }
        Ok(t)
    }

    /// Every colour of the theme, in field order.
    pub fn fg_colors(&self) -> Vec<Color> {
        let mut v = vec![
            self.fg,
            self.bg,
            self.border,
            self.title,
            self.accent,
            self.faint,
            self.raw_loss,
            self.smooth_loss,
        ];
        v.extend(self.quarters);
        v.extend([
            self.data,
            self.samples,
            self.x0_hat,
            self.density,
            self.gauge,
            self.error,
            self.key,
            self.selection_fg,
            self.selection_bg,
        ]);
        v
    }

    pub fn monochrome() -> Theme {
        Theme::bundled("monochrome").unwrap_or_else(|_| Theme::base())
    }
}

/// The index of the theme called `name`, or an error that lists the themes there are.
pub fn position(themes: &[Theme], name: &str) -> Result<usize, String> {
    themes.iter().position(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = themes.iter().map(|t| t.name.as_str()).collect();
        format!("no such theme (themes: {})", names.join(", "))
    })
}

/// The themes to cycle through: bundled ones, each overridden by a user file of the same
/// name, then the user's other themes. Problems with user files are returned as warnings.
pub(crate) fn load_all() -> (Vec<Theme>, Vec<String>) {
    let mut themes: Vec<Theme> = BUNDLED
        .iter()
        .filter_map(|(n, _)| Theme::bundled(n).ok())
        .collect();
    let mut warnings = Vec::new();
    if let Some(dir) = paths::config_dir().map(|d| d.join("themes")) {
        let files = paths::ron_files(&dir);
        for p in files {
            match Theme::from_file(&p) {
                Ok(t) => match themes.iter_mut().find(|x| x.name == t.name) {
                    Some(slot) => *slot = t,
                    None => themes.push(t),
                },
                Err(e) => warnings.push(e),
            }
        }
    }
    if themes.is_empty() {
        themes.push(Theme::base());
    }
    (themes, warnings)
}

impl Default for Theme {
    fn default() -> Self {
        Theme::base()
    }
}
