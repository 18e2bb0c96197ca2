//! Typed values: a sheet cell or a `[defaults]` TOML value becomes the JSON value its field
//! takes, or a message saying why it cannot.
//!
//! Cells are text, so they are read leniently the way spreadsheets write them (`TRUE`,
//! `yes`, `0,5`, `80%`, `Aurora_V1`) and written in the API's canonical form. TOML values are
//! already typed, so only their type is checked; enum names still match in any case.

use serde_json::{Number, Value};

use super::fields::Kind;
use crate::api::model::AspectRatio;
use crate::api::validate::did_you_mean;
use crate::sheet::shorten;

/// Longest value a cell or a `[defaults]` string may hold, in characters. No request field
/// takes more than a few thousand (a script at most 2000); anything longer is a document
/// pasted in the wrong place, refused before any rule spends time on it.
pub const MAX_CELL: usize = 10_000;

/// Longest text compared with known names for a did-you-mean: no name is this long, and
/// comparing a megabyte-long header with every field name takes seconds.
const MAX_SUGGEST: usize = 100;

/// The known name `value` is most likely a typo of, if any (see
/// [`did_you_mean`]); never for text far longer than any name.
pub fn suggest<'a>(value: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if value.len() > 4 * MAX_SUGGEST || value.chars().count() > MAX_SUGGEST {
        return None;
    }
    did_you_mean(value, candidates)
}

/// The error for a value longer than [`MAX_CELL`], if `value` is one.
pub fn too_long(value: &str) -> Option<String> {
    // Bytes first: counting the characters of a megabyte is cheap, but only needed here.
    if value.len() <= MAX_CELL {
        return None;
    }
    let n = value.chars().count();
    (n > MAX_CELL).then(|| {
        format!(
            "is {n} characters long; no request field takes more than {MAX_CELL} (a script \
             at most 2000): did a whole document land in this cell?"
        )
    })
}

/// Reads a trimmed, non-empty cell as a value of `kind`.
pub fn from_cell(kind: Kind, cell: &str) -> Result<Value, String> {
    match kind {
        Kind::Text | Kind::Url | Kind::Color => Ok(Value::String(cell.to_owned())),
        Kind::OpenSet(known) => Ok(Value::String(canonical_open(cell, known))),
        Kind::Enum(all) => canonical_enum(cell, all).map(|s| Value::String(s.to_owned())),
        Kind::Bool => match cell.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!(
                "{} is not true or false (yes/no and 1/0 work too)",
                quoted(cell)
            )),
        },
        Kind::Number => parse_number(cell)
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{} is not a number", quoted(cell))),
        Kind::Integer => parse_integer(cell)
            .map(|n| Value::Number(n.into()))
            .ok_or_else(|| {
                format!(
                    "{} is not a whole number from 0 to {}",
                    quoted(cell),
                    u32::MAX
                )
            }),
    }
}

/// Checks a `[defaults]` TOML value against `kind`.
pub fn from_toml(kind: Kind, value: &toml::Value) -> Result<Value, String> {
    use toml::Value as T;
    if let Some(e) = value.as_str().and_then(too_long) {
        return Err(e);
    }
    match (kind, value) {
        (Kind::Text | Kind::Url | Kind::Color, T::String(s)) => Ok(Value::String(s.clone())),
        (Kind::OpenSet(known), T::String(s)) => Ok(Value::String(canonical_open(s, known))),
        (Kind::Enum(all), T::String(s)) => {
            canonical_enum(s, all).map(|s| Value::String(s.to_owned()))
        }
        (Kind::Bool, T::Boolean(b)) => Ok(Value::Bool(*b)),
        (Kind::Number, T::Integer(i)) => Ok(Value::Number((*i).into())),
        (Kind::Number, T::Float(f)) => Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number")),
        (Kind::Integer, T::Integer(i)) if (0..=i64::from(u32::MAX)).contains(i) => {
            Ok(Value::Number((*i).into()))
        }
        (Kind::Integer, T::Integer(i)) => Err(format!(
            "{i} is out of range: expected a whole number from 0 to {}",
            u32::MAX
        )),
        (kind, other) => Err(format!(
            "expected {}, got {} {}",
            match kind {
                Kind::Enum(all) => format!("one of {}", all.join(", ")),
                k => k.describe().to_owned(),
            },
            other.type_str(),
            toml_text(other)
        )),
    }
}

/// A short rendering of a TOML value for messages (the `display` feature is off).
fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => quoted(s),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) => "[...]".to_owned(),
        toml::Value::Table(_) => "{...}".to_owned(),
    }
}

/// `value` as quoted text for a message, shortened when long.
pub fn quoted(value: &str) -> String {
    format!("{:?}", shorten(value, 60))
}

/// The canonical spelling of a closed-set value given in any case, or an error naming the
/// closest value and, for short sets, all of them.
pub fn canonical_enum(value: &str, all: &'static [&'static str]) -> Result<&'static str, String> {
    if let Some(exact) = all.iter().find(|c| c.eq_ignore_ascii_case(value)) {
        return Ok(exact);
    }
    // `16:9`, `9:16`, `1:1` (spaces allowed) are how people write aspect ratios and can
    // mean nothing else. `16/9` or `16*9` stay errors with a did-you-mean: less common,
    // and `/` reads as a fraction as easily.
    if all == AspectRatio::ALL {
        let spaced: String = value.split_whitespace().collect();
        if let Some((w, h)) = spaced.split_once(':') {
            let written = format!("{w}x{h}");
            if let Some(ratio) = all.iter().find(|c| **c == written) {
                return Ok(ratio);
            }
        }
    }
    let mut msg = format!("unknown value {}", quoted(value));
    // "9:16" and "16/9" are how people write aspect ratios; the API wants "9x16".
    let respelled = value.replace([':', '/', '*', '×'], "x");
    let hint = all
        .iter()
        .find(|c| c.eq_ignore_ascii_case(&respelled))
        .copied()
        .or_else(|| suggest(value, all));
    if let Some(h) = hint {
        msg.push_str(&format!(" (did you mean {h:?}?)"));
    }
    if all.len() <= 8 {
        msg.push_str(&format!("; expected one of {}", all.join(", ")));
    }
    Err(msg)
}

/// Open sets keep unknown values (the API's list is longer than ours) but fix the case of
/// known ones.
fn canonical_open(value: &str, known: &[&str]) -> String {
    known
        .iter()
        .find(|c| c.eq_ignore_ascii_case(value))
        .map_or_else(|| value.to_owned(), |c| (*c).to_owned())
}

/// A number as spreadsheets write it: `0.5`, `0,5` (decimal comma), `50%`, `+1`, ` 2 `.
fn parse_number(cell: &str) -> Option<f64> {
    let (text, divisor) = match cell.strip_suffix('%') {
        Some(rest) => (rest.trim(), 100.0),
        None => (cell, 1.0),
    };
    let plain: Option<f64> = text.parse().ok();
    let n = plain.or_else(|| {
        // A single decimal comma and no dot: European spreadsheets.
        if text.matches(',').count() == 1 && !text.contains('.') {
            text.replace(',', ".").parse().ok()
        } else {
            None
        }
    })?;
    // Rust also parses "inf" and "NaN"; neither is a value anyone means.
    (n.is_finite() && text.bytes().any(|b| b.is_ascii_digit())).then_some(n / divisor)
}

/// A whole number 0..=u32::MAX; `70.0` counts (some exports write integers that way).
fn parse_integer(cell: &str) -> Option<u64> {
    if let Ok(n) = cell.parse::<u32>() {
        return Some(u64::from(n));
    }
    let f = parse_number(cell)?;
    (f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f)).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::ModelVersion;
    use serde_json::json;

    #[test]
    fn cells_are_read_the_way_spreadsheets_write_them() {
        assert_eq!(from_cell(Kind::Bool, "TRUE"), Ok(json!(true)));
        assert_eq!(from_cell(Kind::Bool, "no"), Ok(json!(false)));
        assert_eq!(from_cell(Kind::Bool, "0"), Ok(json!(false)));
        assert_eq!(from_cell(Kind::Number, "0,5"), Ok(json!(0.5)));
        assert_eq!(from_cell(Kind::Number, "80%"), Ok(json!(0.8)));
        assert_eq!(from_cell(Kind::Number, "7 %"), Ok(json!(0.07)));
        assert_eq!(from_cell(Kind::Number, "-0.25"), Ok(json!(-0.25)));
        assert!(from_cell(Kind::Number, "NaN").is_err());
        assert!(from_cell(Kind::Number, "inf").is_err());
        assert!(from_cell(Kind::Number, "1,000.5").is_err());
        assert_eq!(from_cell(Kind::Integer, "70"), Ok(json!(70)));
        assert_eq!(from_cell(Kind::Integer, "70.0"), Ok(json!(70)));
        assert!(from_cell(Kind::Integer, "-3").is_err());
        assert!(from_cell(Kind::Integer, "7.5").is_err());
    }

    #[test]
    fn enums_match_in_any_case_and_suggest_near_misses() {
        let m = Kind::Enum(ModelVersion::ALL);
        assert_eq!(from_cell(m, "Aurora_V1"), Ok(json!("aurora_v1")));
        let a = Kind::Enum(AspectRatio::ALL);
        assert_eq!(from_cell(a, "9:16"), Ok(json!("9x16")));
        assert_eq!(from_cell(a, "16 : 9"), Ok(json!("16x9")));
        assert_eq!(
            from_cell(a, "4:3"),
            Err(r#"unknown value "4:3"; expected one of 9x16, 16x9, 1x1"#.into())
        );
        assert_eq!(
            from_cell(a, "9/16"),
            Err(
                r#"unknown value "9/16" (did you mean "9x16"?); expected one of 9x16, 16x9, 1x1"#
                    .into()
            )
        );
        let e = from_cell(m, "auroravl").unwrap_err();
        assert!(e.contains(r#"did you mean "aurora_v1"?"#), "{e}");
    }

    #[test]
    fn open_sets_keep_unknown_values_and_fix_known_case() {
        let k = Kind::OpenSet(crate::api::model::CAPTION_STYLES);
        assert_eq!(from_cell(k, "Normal-Black"), Ok(json!("normal-black")));
        assert_eq!(from_cell(k, "brand-new"), Ok(json!("brand-new")));
    }

    #[test]
    fn toml_values_are_type_checked() {
        let t = |s: &str| -> toml::Value { s.parse::<toml::Table>().unwrap()["v"].clone() };
        assert_eq!(from_toml(Kind::Number, &t("v = 1")), Ok(json!(1)));
        assert_eq!(from_toml(Kind::Number, &t("v = 0.5")), Ok(json!(0.5)));
        assert_eq!(
            from_toml(Kind::Enum(AspectRatio::ALL), &t("v = \"16X9\"")),
            Ok(json!("16x9"))
        );
        let e = from_toml(Kind::Number, &t("v = \"0.5\"")).unwrap_err();
        assert_eq!(e, r#"expected a number, got string "0.5""#);
        assert!(from_toml(Kind::Integer, &t("v = -1")).is_err());
    }
}
