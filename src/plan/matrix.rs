//! `[matrix]`: each row (each multi-scene video) of the sheet expanded into its variants
//! before planning, so that every variant is an ordinary row of the plan: checked, estimated
//! and submitted like any other, its problems reported at the row's line.
//!
//! A row's variants are the cross product of its dimensions' values: a dimension is a column
//! listed in `[matrix]` with its values, or a column of `[matrix] columns` whose cell holds
//! several values (`a|b`). A row whose cell under a dimension is filled keeps that value for
//! it (one value, or its `|` list for a `columns` dimension). `exclude` and `include` work as
//! in GitHub Actions: an `exclude` entry removes the combinations having all its values; an
//! `include` entry is added to every combination whose original values it does not change,
//! and becomes a combination of its own when it fits none.
//!
//! Keys: a variant's key is its row's key (the `key` cell, the `video` value, or the key
//! derived from the row as without a matrix) followed by `~name=value` for each of its values,
//! names in alphabetical order (`spring~avatar=sam~visual_style=Vlog`), values made
//! folder-safe; a key longer than [`MAX_KEY`] is cut and ends with a hash of the whole. So a
//! variant's key and body depend only on its own values: adding a value to a dimension adds
//! variants and never changes the others (nothing is rendered again). A row of `failed.csv`,
//! whose key already ends with its variant's values, keeps its key.

use std::collections::{BTreeMap, HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::columns::{Columns, Target};
use super::rows::{self, MAX_KEY};
use super::PlanError;
use crate::config::{MatrixSettings, Settings};
use crate::sheet::{Diagnostic, Row, Sheet};

/// What expanding a sheet did (the sheet itself is returned beside it: matrix columns
/// added, one row per variant, scene rows per variant).
pub struct Expanded {
    /// Each variant's key → the key of the row it is a variant of.
    pub variant_of: HashMap<String, String>,
    /// (line, column) of the cells whose value came from `[matrix]`, with the dimension.
    pub filled: HashMap<(u64, String), String>,
    /// What the expansion did, for the plan's notes.
    pub note: String,
    /// Rows of the sheet before it was expanded.
    pub source_rows: usize,
}

/// One combination: name → value, in name order.
type Combo = BTreeMap<String, String>;

/// Expands `sheet` by `m`.
pub fn expand(
    mut sheet: Sheet,
    m: &MatrixSettings,
    settings: &Settings,
) -> Result<(Sheet, Expanded), PlanError> {
    let resolve = |headers: &[String]| {
        Columns::resolve(
            headers,
            sheet.header_line,
            &settings.columns,
            &settings.columns_ignore,
        )
        .0
    };
    let original = resolve(&sheet.format.headers);
    let mut names: Vec<String> = m.dims.keys().cloned().collect();
    names.extend(m.columns.iter().cloned());
    for e in m.exclude.iter().chain(&m.include) {
        names.extend(e.keys().cloned());
    }
    names.sort();
    names.dedup();
    // Each name's column, added to the sheet when it has none.
    let mut column_of: HashMap<String, usize> = HashMap::new();
    let mut problems = Vec::new();
    let named = resolve(&names);
    for (name, col) in names.iter().zip(&named.list) {
        let field = match col.target {
            Target::Field(f) => f,
            _ => {
                problems.push(crate::config::ConfigProblem::new(
                    "matrix",
                    name,
                    "not a column that sets a request field (a key, video, ignored or \
                     unknown column cannot vary); use a header name such as avatar, \
                     visual_style or aspect_ratio",
                ));
                continue;
            }
        };
        let existing = original
            .list
            .iter()
            .position(|c| matches!(c.target, Target::Field(g) if g.path == field.path));
        let index = existing.unwrap_or_else(|| {
            sheet.format.headers.push(name.clone());
            for row in &mut sheet.rows {
                row.cells.push(String::new());
            }
            sheet.format.headers.len() - 1
        });
        column_of.insert(name.clone(), index);
    }
    if !problems.is_empty() {
        return Err(PlanError::Config(crate::config::ConfigError::Invalid {
            path: "[matrix]".into(),
            problems,
        }));
    }
    // Where a variant's key goes: the `video` cell of a multi-scene video's rows, else the
    // `key` cell, else (no key column) a `key` column added for the derived key + values.
    let key_column = match original.key {
        Some(k) => k,
        None => {
            sheet.format.headers.push("key".into());
            sheet.format.headers.len() - 1
        }
    };
    let width = sheet.format.headers.len();

    let mut out = Vec::with_capacity(sheet.rows.len());
    let mut variant_of = HashMap::new();
    let mut filled = HashMap::new();
    let mut counts: Vec<(u64, usize)> = Vec::new();
    let mut total = 0usize;
    let source_rows = sheet.rows.len();
    let mut rows = std::mem::take(&mut sheet.rows).into_iter().peekable();
    while let Some(mut first) = rows.next() {
        first.cells.resize(width, String::new());
        let video = original
            .video
            .map(|v| first.cells[v].trim().to_owned())
            .filter(|v| !v.is_empty());
        let (base, target) = match (&video, original.key) {
            (Some(v), _) => (v.clone(), original.video),
            (None, Some(k)) => (first.cells[k].trim().to_owned(), Some(k)),
            (None, None) => {
                let mut plain = first.clone();
                plain.cells.truncate(original.list.len());
                let typed = rows::type_row(plain, &original, &mut Vec::new());
                (rows::derived_key(&typed), Some(key_column))
            }
        };
        let mut group = vec![first];
        if let (Some(v), Some(col)) = (&video, original.video) {
            while rows.peek().is_some_and(|r| r.cells[col].trim() == v) {
                group.extend(rows.next().map(|mut r| {
                    r.cells.resize(width, String::new());
                    r
                }));
            }
        }
        let combos = combos(&group[0], m, &column_of);
        total += combos.len();
        if total > m.max_videos {
            return Err(too_many(m, group[0].line, total));
        }
        counts.push((group[0].line, combos.len()));
        for combo in combos {
            let key = variant_key(&base, &combo);
            if !combo.is_empty() && !base.is_empty() {
                variant_of.insert(key.clone(), base.clone());
            }
            for (i, row) in group.iter().enumerate() {
                let mut row = row.clone();
                for (name, value) in &combo {
                    let c = column_of[name];
                    let cell = &mut row.cells[c];
                    if cell.trim().is_empty() {
                        filled.insert(
                            (row.line, sheet.format.headers[c].trim().to_owned()),
                            name.clone(),
                        );
                        *cell = value.clone();
                    } else if i == 0 {
                        *cell = value.clone();
                    }
                }
                if let Some(col) = target.filter(|_| !base.is_empty()) {
                    row.cells[col] = key.clone();
                }
                out.push(Row {
                    line: row.line,
                    cells: row.cells,
                });
            }
        }
    }
    sheet.rows = out;
    let note = note(m, &counts, total);
    Ok((
        sheet,
        Expanded {
            variant_of,
            filled,
            note,
            source_rows,
        },
    ))
}

/// A row's combinations: the cross product, less `exclude`, with `include`.
fn combos(row: &Row, m: &MatrixSettings, column_of: &HashMap<String, usize>) -> Vec<Combo> {
    let mut dims: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for name in m.dims.keys().chain(&m.columns) {
        let Some(&c) = column_of.get(name) else {
            continue;
        };
        let cell = row.cells.get(c).map_or("", |s| s.trim());
        let values: Vec<String> = if cell.is_empty() {
            match m.dims.get(name) {
                Some(v) => v.clone(),
                None => continue,
            }
        } else if m.columns.contains(name) {
            let mut v: Vec<String> = Vec::new();
            for part in cell.split('|').map(str::trim).filter(|p| !p.is_empty()) {
                if !v.iter().any(|x| x == part) {
                    v.push(part.to_owned());
                }
            }
            v
        } else {
            vec![cell.to_owned()]
        };
        dims.insert(name, values);
    }
    let mut out: Vec<Combo> = if dims.is_empty() {
        Vec::new()
    } else {
        vec![Combo::new()]
    };
    for (name, values) in &dims {
        out = cross(out, name, values);
    }
    out.retain(|c| {
        !m.exclude
            .iter()
            .any(|e| e.iter().all(|(k, v)| c.get(k) == Some(v)))
    });
    let original: HashSet<&str> = dims.keys().copied().collect();
    for inc in &m.include {
        let mut fitted = false;
        for c in &mut out {
            let fits = inc
                .iter()
                .all(|(k, v)| !original.contains(k.as_str()) || c.get(k) == Some(v));
            if fits {
                fitted = true;
                for (k, v) in inc {
                    c.insert(k.clone(), v.clone());
                }
            }
        }
        if !fitted {
            // A combination of its own; a `columns` cell's list still gives one variant per
            // value (the cell would otherwise be sent as one value, `a|b`).
            let mut added = vec![inc.clone()];
            for (name, values) in &dims {
                if !m.columns.iter().any(|c| c == name) || inc.contains_key(*name) {
                    continue;
                }
                added = cross(added, name, values);
            }
            out.extend(added);
        }
    }
    if out.is_empty() {
        out.push(Combo::new());
    }
    out
}

/// Every combination of `combos` with each of `values` for `name`.
fn cross(combos: Vec<Combo>, name: &str, values: &[String]) -> Vec<Combo> {
    combos
        .into_iter()
        .flat_map(|c| {
            values.iter().map(move |v| {
                let mut c = c.clone();
                c.insert(name.to_owned(), v.clone());
                c
            })
        })
        .collect()
}

/// The row key a variant's key starts with (`spring` for `spring~avatar=a~visual_style=Vlog`),
/// for readers that have only the key (the manifest, the report): the text before the first
/// `~name=` part. `None` for a key without one. A row key that itself holds `~name=` text
/// is cut there too; [`PlannedVideo::variant_of`](super::PlannedVideo::variant_of) is exact.
pub fn variant_of(key: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(i) = key[from..].find('~') {
        let at = from + i;
        let part = &key[at + 1..];
        let name_len = part.find('=').filter(|&n| {
            n > 0
                && part[..n]
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_.".contains(c))
        });
        if name_len.is_some() && at > 0 {
            return Some(&key[..at]);
        }
        from = at + 1;
    }
    None
}

/// `base~name=value…`, values folder-safe, cut with a hash past [`MAX_KEY`].
pub fn variant_key(base: &str, combo: &Combo) -> String {
    let mut suffix = String::new();
    for (k, v) in combo {
        suffix.push('~');
        suffix.push_str(k);
        suffix.push('=');
        suffix.extend(v.chars().map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        }));
    }
    if base.ends_with(&suffix) {
        return base.to_owned();
    }
    let key = format!("{base}{suffix}");
    if key.chars().count() <= MAX_KEY {
        return key;
    }
    let hash = crate::engine::reference::hex(&Sha256::digest(key.as_bytes()));
    let keep: String = key.chars().take(MAX_KEY - 13).collect();
    format!("{keep}~{}", &hash[..12])
}

fn too_many(m: &MatrixSettings, line: u64, total: usize) -> PlanError {
    PlanError::Unreadable {
        path: "[matrix]".into(),
        reason: format!(
            "the matrix expands the sheet into more than {} videos (over {} by line {line}: \
             {total} so far); nothing was planned or sent. Raise [matrix] max_videos if that \
             many is meant, or list fewer values (exclude entries remove combinations)",
            m.max_videos, m.max_videos
        ),
    }
}

/// `[matrix] avatar × visual_style: 3 rows → 12 videos (4 each)`.
fn note(m: &MatrixSettings, counts: &[(u64, usize)], total: usize) -> String {
    let mut dims: Vec<&str> = m.dims.keys().map(String::as_str).collect();
    dims.extend(m.columns.iter().map(String::as_str));
    dims.sort_unstable();
    dims.dedup();
    let each: BTreeMap<usize, Vec<u64>> = counts.iter().fold(BTreeMap::new(), |mut a, (l, n)| {
        a.entry(*n).or_insert_with(Vec::new).push(*l);
        a
    });
    let spread = if each.len() == 1 {
        format!("{} each", counts.first().map_or(0, |c| c.1))
    } else {
        each.iter()
            .map(|(n, lines)| {
                let shown: Vec<String> = lines.iter().take(5).map(u64::to_string).collect();
                let more = if lines.len() > 5 { ", …" } else { "" };
                format!("{n} for line {}{more}", shown.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "[matrix] {}: {} → {} ({spread}); each variant's key is its row's key + ~name=value",
        dims.join(" × "),
        crate::output::words::plural(counts.len(), "row", "rows"),
        crate::output::words::plural(total, "video", "videos"),
    )
}

/// Says, in problems at cells whose value came from `[matrix]`, which entry it was, and
/// drops the copies a problem gets from being in several variants.
pub fn point_at_matrix(errors: &mut Vec<Diagnostic>, filled: &HashMap<(u64, String), String>) {
    let mut seen = HashSet::new();
    errors.retain(|d| seen.insert((d.line, d.column.clone(), d.message.clone(), d.warning)));
    for d in errors {
        if let Some(dim) = d
            .column
            .as_ref()
            .and_then(|c| filled.get(&(d.line, c.clone())))
        {
            d.message
                .push_str(&format!(" (the value comes from [matrix] {dim})"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dims: &[(&str, &[&str])]) -> MatrixSettings {
        MatrixSettings {
            dims: dims
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            columns: Vec::new(),
            exclude: Vec::new(),
            include: Vec::new(),
            max_videos: 100,
        }
    }

    fn combo(pairs: &[(&str, &str)]) -> Combo {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_include_of_its_own_still_splits_a_columns_cell() {
        // `voice` is a `columns` dimension whose cell lists two voices; the include of Theo
        // fits no combination (avatar is Marco or Sam), so it adds its own, one per voice.
        let mut m = settings(&[("avatar", &["Marco", "Sam"])]);
        m.columns = vec!["voice".into()];
        m.include = vec![combo(&[("avatar", "Theo")])];
        let column_of: HashMap<String, usize> = [("voice".to_string(), 0), ("avatar".into(), 1)]
            .into_iter()
            .collect();
        let row = Row {
            line: 2,
            cells: vec!["Sam|Marco (Spanish)".into(), String::new()],
        };
        let got = combos(&row, &m, &column_of);
        assert_eq!(got.len(), 6, "{got:?}");
        assert!(got.contains(&combo(&[("avatar", "Theo"), ("voice", "Sam")])));
        assert!(got.contains(&combo(&[("avatar", "Theo"), ("voice", "Marco (Spanish)")])));
        assert!(got
            .iter()
            .all(|c| c.get("voice").is_some_and(|v| !v.contains('|'))));
    }

    #[test]
    fn include_extends_or_adds_as_github_actions_does() {
        // GitHub's documented example: fruit × animal with includes.
        let mut m = settings(&[("fruit", &["apple", "pear"]), ("animal", &["cat", "dog"])]);
        m.include = vec![
            combo(&[("color", "green")]),
            combo(&[("color", "pink"), ("animal", "cat")]),
            combo(&[("fruit", "apple"), ("shape", "circle")]),
            combo(&[("fruit", "banana")]),
            combo(&[("fruit", "banana"), ("animal", "cat")]),
        ];
        let column_of: HashMap<String, usize> = ["fruit", "animal", "color", "shape"]
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), i))
            .collect();
        let row = Row {
            line: 2,
            cells: vec![String::new(); 4],
        };
        let got = combos(&row, &m, &column_of);
        // GitHub's documented result; the order is by dimension name (animal, then fruit).
        let want = vec![
            combo(&[
                ("animal", "cat"),
                ("color", "pink"),
                ("fruit", "apple"),
                ("shape", "circle"),
            ]),
            combo(&[("animal", "cat"), ("color", "pink"), ("fruit", "pear")]),
            combo(&[
                ("animal", "dog"),
                ("color", "green"),
                ("fruit", "apple"),
                ("shape", "circle"),
            ]),
            combo(&[("animal", "dog"), ("color", "green"), ("fruit", "pear")]),
            combo(&[("fruit", "banana")]),
            combo(&[("animal", "cat"), ("fruit", "banana")]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn the_row_key_is_read_back_from_a_variant_key() {
        assert_eq!(
            variant_of("spring~avatar=a~visual_style=Vlog"),
            Some("spring")
        );
        assert_eq!(variant_of("a~b~aspect_ratio=9-16"), Some("a~b"));
        assert_eq!(variant_of("plain"), None);
        assert_eq!(variant_of("~avatar=x"), None);
    }

    #[test]
    fn keys_are_stable_ordered_and_bounded() {
        let c = combo(&[("visual_style", "Vlog"), ("avatar", "sam office")]);
        assert_eq!(
            variant_key("spring", &c),
            "spring~avatar=sam-office~visual_style=Vlog"
        );
        assert_eq!(
            variant_key("spring~avatar=sam-office~visual_style=Vlog", &c),
            variant_key("spring", &c)
        );
        let long = "k".repeat(250);
        let k = variant_key(&long, &c);
        assert_eq!(k.chars().count(), MAX_KEY);
        assert_ne!(k, variant_key(&long, &combo(&[("avatar", "x")])));
    }
}
