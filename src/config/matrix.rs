//! `[matrix]`: the variants every row is expanded into (the expansion itself is
//! `plan::matrix`). Checked here like every section: a wrong type or an empty list is a
//! problem naming its key.
//!
//! ```toml
//! [matrix]
//! avatar = ["<avatar id>", "<another>"]     # a sheet column and its values
//! visual_style = ["FullAvatar", "Vlog"]
//! columns = ["voice"]                      # cells holding several values: `a|b`
//! exclude = [{ avatar = "<avatar id>", visual_style = "Vlog" }]
//! include = [{ visual_style = "Vlog", aspect_ratio = "1:1" }]
//! max_videos = 200                         # plan refuses a larger expansion
//! ```

use std::collections::BTreeMap;

use super::ConfigProblem;

/// Largest expansion allowed when `max_videos` is not given.
pub const DEFAULT_MAX_VIDEOS: usize = 1000;

/// `[matrix]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixSettings {
    /// Each dimension (a sheet column, as a header would name it) and its values, in the
    /// order written; dimensions are kept sorted by name, the variant key's order.
    pub dims: BTreeMap<String, Vec<String>>,
    /// Columns whose cells hold several values separated by `|`, each a dimension of its
    /// row.
    pub columns: Vec<String>,
    /// Combinations left out: each entry removes the combinations that have all its values.
    pub exclude: Vec<BTreeMap<String, String>>,
    /// Combinations extended or added, as in GitHub Actions' `matrix.include`.
    pub include: Vec<BTreeMap<String, String>>,
    /// Most videos the whole sheet may expand into.
    pub max_videos: usize,
}

const SECTION: &str = "matrix";

/// Reads `[matrix]`.
pub fn check_matrix(t: &toml::Table, problems: &mut Vec<ConfigProblem>) -> MatrixSettings {
    let mut m = MatrixSettings {
        dims: BTreeMap::new(),
        columns: Vec::new(),
        exclude: Vec::new(),
        include: Vec::new(),
        max_videos: DEFAULT_MAX_VIDEOS,
    };
    for (key, value) in t {
        match key.as_str() {
            "max_videos" => match value.as_integer() {
                Some(n) if n >= 1 => m.max_videos = n as usize,
                _ => problems.push(ConfigProblem::new(
                    SECTION,
                    key,
                    format!("must be a whole number of at least 1, got {value:?}"),
                )),
            },
            "columns" => match strings(value) {
                Some(list) => m.columns = list,
                None => problems.push(ConfigProblem::new(
                    SECTION,
                    key,
                    "must list column names, like [\"avatar\"]",
                )),
            },
            "exclude" | "include" => match entries(value) {
                Ok(list) if key == "exclude" => m.exclude = list,
                Ok(list) => m.include = list,
                Err(e) => problems.push(ConfigProblem::new(SECTION, key, e)),
            },
            dim => match strings(value) {
                Some(list) if list.is_empty() => problems.push(ConfigProblem::new(
                    SECTION,
                    dim,
                    "lists no values; give at least one, or remove the line",
                )),
                Some(list) => {
                    let mut seen = std::collections::HashSet::new();
                    if let Some(twice) = list.iter().find(|v| !seen.insert(v.as_str())) {
                        problems.push(ConfigProblem::new(
                            SECTION,
                            dim,
                            format!("lists {twice:?} twice"),
                        ));
                    }
                    m.dims.insert(dim.to_owned(), list);
                }
                None => problems.push(ConfigProblem::new(
                    SECTION,
                    dim,
                    format!(
                        "must list the column's values, like {dim} = [\"a\", \"b\"] (or be \
                         max_videos, columns, exclude or include), got {}",
                        value.type_str()
                    ),
                )),
            },
        }
    }
    m
}

/// A value as the text a cell would hold.
fn text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.trim().to_owned()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

fn strings(v: &toml::Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(text).collect()
}

fn entries(v: &toml::Value) -> Result<Vec<BTreeMap<String, String>>, String> {
    let bad = "must be a list of tables of column = value, like [{ avatar = \"a\", \
               visual_style = \"Vlog\" }]";
    let list = v.as_array().ok_or(bad)?;
    list.iter()
        .map(|e| {
            let t = e.as_table().filter(|t| !t.is_empty()).ok_or(bad)?;
            t.iter()
                .map(|(k, v)| Ok((k.clone(), text(v).ok_or(bad)?)))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dimensions_entries_and_the_guard() {
        let t: toml::Table = r#"
            avatar = ["a", "b"]
            aspect_ratio = ["9:16", "1:1"]
            exclude = [{ avatar = "a", aspect_ratio = "1:1" }]
            include = [{ avatar = "b", visual_style = "Vlog" }]
            max_videos = 10
        "#
        .parse()
        .unwrap();
        let mut p = Vec::new();
        let m = check_matrix(&t, &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            m.dims.keys().collect::<Vec<_>>(),
            ["aspect_ratio", "avatar"]
        );
        assert_eq!(m.exclude.len(), 1);
        assert_eq!(m.max_videos, 10);
    }

    #[test]
    fn wrong_shapes_are_problems() {
        let t: toml::Table = r#"
            avatar = []
            style = "Vlog"
            exclude = ["x"]
            max_videos = 0
            voice = ["a", "a"]
        "#
        .parse()
        .unwrap();
        let mut p = Vec::new();
        check_matrix(&t, &mut p);
        assert_eq!(p.len(), 5, "{p:?}");
    }
}
