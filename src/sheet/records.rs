//! A video's source records kept compactly until the journal stores them.

use serde::{Serialize, Serializer};

/// The raw cells of a video's source records (one record per scene), held as their JSON
/// text, `[["cell","cell"],…]`: the form the journal stores them in, and one allocation
/// instead of one per cell. A 100k-row plan holds a few hundred thousand cells it only
/// passes on (for `failed.csv`); as strings each, they were a third of its memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records(String);

impl Records {
    /// Records from their cells.
    pub fn new(records: &[Vec<String>]) -> Self {
        // Sized for the text when no cell needs escaping, and no larger than the text: the
        // doubling growth of a plain `to_string` left a 180-byte record in 256 bytes (a
        // 100k-row plan held 7 MB of it).
        let cells: usize = records.iter().flatten().map(|c| c.len() + 3).sum();
        let mut text = Vec::with_capacity((1 + 2 * records.len() + cells).max(2));
        // Serializing strings cannot fail.
        if serde_json::to_writer(&mut text, records).is_err() {
            return Self::default();
        }
        text.shrink_to_fit();
        // serde_json writes UTF-8.
        Self(String::from_utf8(text).unwrap_or_else(|_| "[]".into()))
    }

    /// Records from JSON text the journal stored, checked.
    pub fn from_json(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<Vec<Vec<String>>>(&text)?;
        Ok(Self(text))
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// The cells, record by record.
    pub fn to_vec(&self) -> Vec<Vec<String>> {
        // Only ever built from cells or from checked text.
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

impl Default for Records {
    fn default() -> Self {
        Self("[]".into())
    }
}

impl Serialize for Records {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_vec().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_through_the_json_text() {
        let cells = vec![
            vec!["a".to_owned(), "quote \" and, comma".to_owned()],
            vec!["ñ 中文 \u{1F600}".to_owned(), String::new()],
        ];
        let r = Records::new(&cells);
        assert_eq!(r.to_vec(), cells);
        assert_eq!(Records::from_json(r.json().to_owned()).unwrap(), r);
        assert!(Records::from_json("[1]".into()).is_err());
        assert_eq!(Records::default().to_vec(), Vec::<Vec<String>>::new());
    }
    #[test]
    fn records_hold_no_more_than_their_text() {
        let cells = vec![vec![
            "v000001".to_owned(),
            "Hello, \"number\" one".to_owned(),
        ]];
        let r = Records::new(&cells);
        assert_eq!(r.0.capacity(), r.0.len());
        assert_eq!(r.to_vec(), cells);
        assert_eq!(Records::new(&[]).json(), "[]");
    }
}
