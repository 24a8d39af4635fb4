//! The preset fields that differ between runs (`diffusion.schedule: Linear | Cosine`), for
//! the run comparisons of `diffscope runs --compare` and the workbench.
//!
//! Each preset is flattened into its leaves, `(path, value)` pairs in the order the fields
//! appear in the preset. Structs (and maps) open a level of the path (`train.lr`); plain
//! values, lists, tuples and options are leaves written as in a RON preset (`0.0002`,
//! `[1, 2, 2]`, `"data/mnist"`, `Some(3)`). An enum variant that holds a struct, such as
//! the data config's `Mnist((path: …))`, gives its variant as a leaf at its own path and its
//! fields below it (`data: Mnist`, `data.path: "data/mnist"`), so presets with different
//! data kinds read `data: Mnist | Glyphs` followed by the fields of each.

use super::Preset;
use serde::ser::{self, Serialize, Serializer};
use std::fmt;

/// One field whose value differs between presets.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The field's path, e.g. `diffusion.schedule` or `model.channel_mults`.
    pub path: String,
    /// Its value in each preset, in order, written as in a RON preset (`Linear`, `1000`,
    /// `0.0002`, `[1, 2, 2]`, `"mnist"`, `None`, `Some(…)`). A field that one preset lacks
    /// (one of another data or model kind, say) is `-`.
    pub values: Vec<String>,
}

/// What a preset lacking the field shows.
const ABSENT: &str = "-";

/// The fields whose values differ among `presets`, in the order the fields appear in the
/// preset (a field only some presets have comes after the one it follows there). Identical
/// presets, or fewer than two, give an empty list. The top-level `name` and `description`
/// are left out: runs are labelled by the name already, and a description is prose, not a
/// setting.
pub fn differences(presets: &[&Preset]) -> Vec<Difference> {
    let flat: Vec<Vec<Leaf>> = presets.iter().map(|p| leaves(*p)).collect();
    let order = merged_paths(&flat);
    order
        .into_iter()
        .filter(|path| *path != "name" && *path != "description")
        .filter_map(|path| {
            let values: Vec<String> = flat
                .iter()
                .map(|leaves| {
                    leaves
                        .iter()
                        .find(|(p, _)| p == path)
                        .map_or_else(|| ABSENT.to_string(), |(_, v)| v.clone())
                })
                .collect();
            values.windows(2).any(|w| w[0] != w[1]).then(|| Difference {
                path: path.to_string(),
                values,
            })
        })
        .collect()
}

/// Every path of `flat`, each once, in first-seen order. A path that an earlier preset
/// lacks goes after the last path this preset shares, and after the earlier presets' own
/// fields of the same parent: `data`, `data.path` (Mnist), then `data.size` (Glyphs).
fn merged_paths(flat: &[Vec<Leaf>]) -> Vec<&str> {
    let mut order: Vec<&str> = Vec::new();
    for leaves in flat {
        let has = |path: &str| leaves.iter().any(|(p, _)| p == path);
        // Where the next new path goes.
        let mut at = 0;
        for (path, _) in leaves {
            match order.iter().position(|p| p == path) {
                Some(i) => at = i + 1,
                None => {
                    if let Some((parent, _)) = path.rsplit_once('.') {
                        let siblings = format!("{parent}.");
                        while order
                            .get(at)
                            .is_some_and(|p| p.starts_with(&siblings) && !has(p))
                        {
                            at += 1;
                        }
                    }
                    order.insert(at, path);
                    at += 1;
                }
            }
        }
    }
    order
}

/// One `path: a | b | c` line per difference.
pub fn lines(diffs: &[Difference]) -> Vec<String> {
    diffs
        .iter()
        .map(|d| format!("{}: {}", d.path, d.values.join(" | ")))
        .collect()
}

/// A field's path and its value as RON text.
type Leaf = (String, String);

/// The leaves of a preset, in the order its fields are written.
fn leaves<T: ?Sized + Serialize>(value: &T) -> Vec<Leaf> {
    let mut out = Vec::new();
    flatten_into(String::new(), &mut out, value);
    out
}

/// Flattens `value` at `path` into `out`. A value that cannot be written (a data path that
/// is not UTF-8, say) becomes one leaf holding the reason, so the rest still compares.
fn flatten_into<T: ?Sized + Serialize>(path: String, out: &mut Vec<Leaf>, value: &T) {
    let mark = out.len();
    if let Err(e) = value.serialize(Flatten {
        path: path.clone(),
        out,
    }) {
        out.truncate(mark);
        out.push((path, format!("<{e}>")));
    }
}

/// `value` as one line of RON, as a preset writes it: `[1, 2, 2]`, `(path: "data")`.
fn ron_text<T: ?Sized + Serialize>(value: &T) -> String {
    ron::ser::to_string_pretty(value, ron::ser::PrettyConfig::new().depth_limit(0))
        .unwrap_or_else(|e| format!("<{e}>"))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// A value that cannot be flattened; its message becomes the field's value.
#[derive(Debug)]
struct Unwritable(String);

impl fmt::Display for Unwritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unwritable {}

impl ser::Error for Unwritable {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Unwritable(msg.to_string())
    }
}

/// Serialises one value at `path`, pushing its leaves onto `out`.
struct Flatten<'a> {
    path: String,
    out: &'a mut Vec<Leaf>,
}

impl<'a> Flatten<'a> {
    fn leaf(self, text: String) -> Result<(), Unwritable> {
        self.out.push((self.path, text));
        Ok(())
    }

    /// `whole` (which serialises as a wrapper around `inner`) as leaves: `inner`'s own
    /// leaves under this path when it has fields, else `whole` as one leaf. `variant` is
    /// the leaf at the path itself when `inner` has fields (an enum's variant name).
    fn wrapped<W, T>(self, whole: &W, inner: &T, variant: Option<&str>) -> Result<(), Unwritable>
    where
        W: ?Sized + Serialize,
        T: ?Sized + Serialize,
    {
        let mut below = Vec::new();
        inner.serialize(Flatten {
            path: self.path.clone(),
            out: &mut below,
        })?;
        let has_fields = below.iter().any(|(p, _)| *p != self.path);
        if !has_fields {
            return self.leaf(ron_text(whole));
        }
        // A variant inside a variant (`A(B((x: 1)))`) names both at the path: `A(B)`.
        let inner_variant = match below.first() {
            Some((p, _)) if *p == self.path => Some(below.remove(0).1),
            _ => None,
        };
        let head = match (variant, inner_variant) {
            (Some(v), Some(i)) => Some(format!("{v}({i})")),
            (Some(v), None) => Some(v.to_string()),
            (None, i) => i,
        };
        if let Some(head) = head {
            self.out.push((self.path, head));
        }
        self.out.extend(below);
        Ok(())
    }

    fn items(self, open: String, close: &'static str) -> Items<'a> {
        Items {
            path: self.path,
            out: self.out,
            open,
            close,
            items: Vec::new(),
        }
    }

    fn fields(self) -> Fields<'a> {
        Fields {
            path: self.path,
            out: self.out,
            key: None,
        }
    }
}

/// Re-serialises a newtype variant, for writing it whole.
struct NewtypeVariant<'v, T: ?Sized> {
    name: &'static str,
    index: u32,
    variant: &'static str,
    value: &'v T,
}

impl<T: ?Sized + Serialize> Serialize for NewtypeVariant<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_variant(self.name, self.index, self.variant, self.value)
    }
}

/// Re-serialises a newtype struct, for writing it whole.
struct NewtypeStruct<'v, T: ?Sized> {
    name: &'static str,
    value: &'v T,
}

impl<T: ?Sized + Serialize> Serialize for NewtypeStruct<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(self.name, self.value)
    }
}

/// Bytes, written the way RON writes them.
struct Bytes<'v>(&'v [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'a> Serializer for Flatten<'a> {
    type Ok = ();
    type Error = Unwritable;
    type SerializeSeq = Items<'a>;
    type SerializeTuple = Items<'a>;
    type SerializeTupleStruct = Items<'a>;
    type SerializeTupleVariant = Items<'a>;
    type SerializeMap = Fields<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Fields<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_f32(self, v: f32) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_char(self, v: char) -> Result<(), Unwritable> {
        self.leaf(ron_text(&v))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unwritable> {
        self.leaf(ron_text(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Unwritable> {
        self.leaf(ron_text(&Bytes(v)))
    }
    fn serialize_none(self) -> Result<(), Unwritable> {
        self.leaf("None".to_string())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Unwritable> {
        self.leaf(ron_text(&Some(value)))
    }
    fn serialize_unit(self) -> Result<(), Unwritable> {
        self.leaf("()".to_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unwritable> {
        self.leaf("()".to_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Unwritable> {
        self.leaf(variant.to_string())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unwritable> {
        self.wrapped(&NewtypeStruct { name, value }, value, None)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unwritable> {
        let whole = NewtypeVariant {
            name,
            index,
            variant,
            value,
        };
        self.wrapped(&whole, value, Some(variant))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Items<'a>, Unwritable> {
        Ok(self.items("[".to_string(), "]"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Items<'a>, Unwritable> {
        Ok(self.items("(".to_string(), ")"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Items<'a>, Unwritable> {
        Ok(self.items("(".to_string(), ")"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Items<'a>, Unwritable> {
        Ok(self.items(format!("{variant}("), ")"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Fields<'a>, Unwritable> {
        Ok(self.fields())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a>, Unwritable> {
        Ok(self.fields())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Fields<'a>, Unwritable> {
        self.out.push((self.path.clone(), variant.to_string()));
        Ok(self.fields())
    }
}

/// A list, tuple or tuple variant: one leaf, its items written as RON and joined.
struct Items<'a> {
    path: String,
    out: &'a mut Vec<Leaf>,
    open: String,
    close: &'static str,
    items: Vec<String>,
}

impl Items<'_> {
    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.items.push(ron_text(value));
        Ok(())
    }

    fn finish(self) -> Result<(), Unwritable> {
        let text = format!("{}{}{}", self.open, self.items.join(", "), self.close);
        self.out.push((self.path, text));
        Ok(())
    }
}

impl ser::SerializeSeq for Items<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.push(value)
    }
    fn end(self) -> Result<(), Unwritable> {
        self.finish()
    }
}

impl ser::SerializeTuple for Items<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.push(value)
    }
    fn end(self) -> Result<(), Unwritable> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Items<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.push(value)
    }
    fn end(self) -> Result<(), Unwritable> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Items<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.push(value)
    }
    fn end(self) -> Result<(), Unwritable> {
        self.finish()
    }
}

/// A struct, struct variant or map: each field flattened one level down the path.
struct Fields<'a> {
    path: String,
    out: &'a mut Vec<Leaf>,
    /// A map's key, waiting for its value.
    key: Option<String>,
}

impl Fields<'_> {
    fn field<T: ?Sized + Serialize>(&mut self, key: &str, value: &T) {
        flatten_into(join(&self.path, key), self.out, value);
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unwritable> {
        self.field(key, value);
        Ok(())
    }
    fn end(self) -> Result<(), Unwritable> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Fields<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unwritable> {
        self.field(key, value);
        Ok(())
    }
    fn end(self) -> Result<(), Unwritable> {
        Ok(())
    }
}

impl ser::SerializeMap for Fields<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Unwritable> {
        // A string key is a path segment as it stands; any other is written as RON.
        let text = ron_text(key);
        let key = ron::from_str::<String>(&text).unwrap_or(text);
        self.key = Some(key);
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unwritable> {
        let key = self.key.take().unwrap_or_default();
        self.field(&key, value);
        Ok(())
    }
    fn end(self) -> Result<(), Unwritable> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preset::BUILTIN;
    use crate::data::{DataConfig, GlyphsConfig};
    use crate::diffusion::{LossWeighting, ScheduleKind};
    use crate::model::{MlpConfig, ModelConfig};
    use std::path::Path;

    fn builtin(name: &str) -> Preset {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).unwrap();
        Preset::parse(text, Path::new(&format!("<builtin>/{name}.ron"))).unwrap()
    }

    fn unet(p: &mut Preset) -> &mut crate::model::UnetConfig {
        match &mut p.model {
            ModelConfig::Unet(u) => u,
            ModelConfig::Mlp(_) => panic!("{} has no U-Net", p.name),
        }
    }

    #[test]
    fn shipped_presets_show_their_schedules() {
        let (mnist, glyphs) = (builtin("mnist"), builtin("glyphs16"));
        let lines = lines(&differences(&[&mnist, &glyphs]));
        assert!(
            lines
                .iter()
                .any(|l| l == "diffusion.schedule: Linear | Cosine"),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l == "train.lr: 0.0002 | 0.002"),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l == "data: Mnist | Glyphs"),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l == "data.path: \"data/mnist\" | -"),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l == "model.attention_resolutions: [7] | [4]"),
            "{lines:#?}"
        );
        // Fields that agree (both U-Nets, both 1000 steps) are not listed.
        assert!(!lines.iter().any(|l| l.starts_with("model:")), "{lines:#?}");
        assert!(!lines.iter().any(|l| l.starts_with("diffusion.timesteps")));
    }

    #[test]
    fn a_changed_schedule_is_the_only_difference() {
        let a = builtin("mnist");
        let mut b = a.clone();
        b.diffusion.schedule = ScheduleKind::Cosine;
        assert_eq!(
            differences(&[&a, &b]),
            vec![Difference {
                path: "diffusion.schedule".into(),
                values: vec!["Linear".into(), "Cosine".into()],
            }]
        );
    }

    #[test]
    fn identical_presets_differ_in_nothing() {
        for (name, _) in BUILTIN {
            let p = builtin(name);
            let q = p.clone();
            assert_eq!(differences(&[&p, &q]), vec![], "{name}");
            assert_eq!(differences(&[&p, &q, &p]), vec![], "{name}");
        }
        let p = builtin("moons");
        assert_eq!(differences(&[&p]), vec![]);
        assert_eq!(differences(&[]), vec![]);
    }

    #[test]
    fn the_name_is_left_out() {
        let a = builtin("mnist");
        let mut b = a.clone();
        b.name = "mnist-cosine".into();
        assert_eq!(differences(&[&a, &b]), vec![]);
        let other = builtin("moons");
        assert!(differences(&[&a, &other]).iter().all(|d| d.path != "name"));
    }

    #[test]
    fn three_presets_in_order() {
        let a = builtin("mnist");
        let mut b = a.clone();
        b.diffusion.schedule = ScheduleKind::Cosine;
        b.name = "b".into();
        let mut c = a.clone();
        c.train.lr = 1e-4;
        c.diffusion.loss_weighting = LossWeighting::MinSnr(5.0);
        assert_eq!(
            lines(&differences(&[&a, &b, &c])),
            vec![
                "diffusion.schedule: Linear | Cosine | Linear",
                "diffusion.loss_weighting: None | None | MinSnr(5.0)",
                "train.lr: 0.0002 | 0.0002 | 0.0001",
            ]
        );
    }

    #[test]
    fn different_data_kinds_show_the_kind_then_each_kind_s_fields() {
        let a = builtin("mnist");
        let mut b = a.clone();
        b.data = DataConfig::Glyphs(GlyphsConfig {
            size: 28,
            count: 5000,
        });
        assert_eq!(
            lines(&differences(&[&a, &b])),
            vec![
                "data: Mnist | Glyphs",
                "data.path: \"data/mnist\" | -",
                "data.limit: 0 | -",
                "data.size: - | 28",
                "data.count: - | 5000",
            ]
        );
        // The same data kind with one field changed shows only that field.
        let mut c = a.clone();
        c.data.set_path("elsewhere/mnist".into()).unwrap();
        assert_eq!(
            lines(&differences(&[&a, &c])),
            vec!["data.path: \"data/mnist\" | \"elsewhere/mnist\""]
        );
    }

    #[test]
    fn different_model_kinds() {
        let a = builtin("moons");
        let mut b = a.clone();
        b.model = ModelConfig::Mlp(MlpConfig {
            hidden: 256,
            blocks: 3,
            time_dim: 64,
            classes: None,
        });
        assert_eq!(
            lines(&differences(&[&a, &b])),
            vec!["model.hidden: 128 | 256"]
        );
        b.model = ModelConfig::Unet(crate::model::UnetConfig::default());
        let lines = lines(&differences(&[&a, &b]));
        assert_eq!(
            lines[..4],
            [
                "model: Mlp | Unet",
                "model.hidden: 128 | -",
                "model.blocks: 3 | -",
                "model.time_dim: 64 | -"
            ]
        );
        assert!(
            lines[4].starts_with("model.base_channels: - | "),
            "{lines:#?}"
        );
        assert_eq!(lines.len(), 10, "{lines:#?}");
    }

    #[test]
    fn a_changed_list_field() {
        let a = builtin("mnist");
        let mut b = a.clone();
        unet(&mut b).channel_mults = vec![1, 2, 2, 2];
        unet(&mut b).dropout = 0.0;
        assert_eq!(
            differences(&[&a, &b]),
            vec![
                Difference {
                    path: "model.channel_mults".into(),
                    values: vec!["[1, 2, 2]".into(), "[1, 2, 2, 2]".into()],
                },
                Difference {
                    path: "model.dropout".into(),
                    values: vec!["0.1".into(), "0.0".into()],
                },
            ]
        );
    }

    #[test]
    fn values_read_as_ron() {
        #[derive(serde::Serialize)]
        enum Kind {
            Plain,
            Wrapped(f64),
            Fields { x: u8, y: Vec<(i32, String)> },
            Pair(u8, bool),
        }
        #[derive(serde::Serialize)]
        struct Inner {
            a: Option<u32>,
            b: Option<Vec<u8>>,
            c: char,
        }
        #[derive(serde::Serialize)]
        struct Outer {
            name: String,
            inner: Inner,
            kinds: Vec<Kind>,
            one: Kind,
            map: std::collections::BTreeMap<String, f32>,
        }
        let value = Outer {
            name: "x".into(),
            inner: Inner {
                a: None,
                b: Some(vec![1, 2]),
                c: 'q',
            },
            kinds: vec![
                Kind::Plain,
                Kind::Wrapped(1.5),
                Kind::Fields {
                    x: 3,
                    y: vec![(-1, "s".into())],
                },
                Kind::Pair(7, true),
            ],
            one: Kind::Fields { x: 4, y: vec![] },
            map: [("k".to_string(), 0.25)].into_iter().collect(),
        };
        let got: Vec<String> = leaves(&value)
            .into_iter()
            .map(|(p, v)| format!("{p} = {v}"))
            .collect();
        assert_eq!(
            got,
            vec![
                "name = \"x\"",
                "inner.a = None",
                "inner.b = Some([1, 2])",
                "inner.c = 'q'",
                "kinds = [Plain, Wrapped(1.5), Fields(x: 3, y: [(-1, \"s\")]), Pair(7, true)]",
                "one = Fields",
                "one.x = 4",
                "one.y = []",
                "map.k = 0.25",
            ]
        );
        // Lists are written exactly as RON writes them (on one line).
        assert_eq!(
            got[4].strip_prefix("kinds = "),
            Some(ron_text(&value.kinds).as_str())
        );
    }

    #[test]
    fn lines_join_values_with_bars() {
        let diffs = vec![
            Difference {
                path: "train.lr".into(),
                values: vec!["0.0002".into(), "0.0001".into(), "0.001".into()],
            },
            Difference {
                path: "data".into(),
                values: vec!["Mnist".into(), "Glyphs".into()],
            },
        ];
        assert_eq!(
            lines(&diffs),
            vec!["train.lr: 0.0002 | 0.0001 | 0.001", "data: Mnist | Glyphs"]
        );
        assert_eq!(lines(&[]), Vec::<String>::new());
    }
}
