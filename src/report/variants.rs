//! A sheet row's variants (`[matrix]`) side by side: consecutive cards whose keys read back
//! to the same row key ([`crate::plan::matrix::variant_of`]) are written as one group, so a
//! person compares a row's avatars, styles and ratios at a glance.
//!
//! The grouping is derived from the keys alone, so the journal keeps nothing new and a batch
//! planned by an older version groups too. The price is `variant_of`'s caveat: a row key that
//! itself holds `~name=` text (`promo~v=1` typed in the sheet) reads as a variant of `promo`,
//! and two such rows next to each other share a group; nothing else changes for them.

use crate::plan::matrix::variant_of;

/// What a variant's card is labelled with: its values, as its key spells them
/// (`avatar=sam-office · visual_style=Vlog`); `None` for a key that is no variant's.
pub fn label(key: &str) -> Option<String> {
    let base = variant_of(key)?;
    let parts: Vec<&str> = key[base.len()..]
        .split('~')
        // A key cut to length ends with `~<hash>`: no value of its own.
        .filter(|p| p.contains('='))
        .collect();
    Some(parts.join(" · "))
}

/// What to write next: a card on its own, or a row's variants together.
#[derive(Debug, PartialEq)]
pub enum Run<T> {
    /// An ordinary card (or a row's only variant).
    Lone(T),
    /// The cards of the variants of the row `key`, in sheet order.
    Group {
        /// The row's key.
        key: String,
        /// Its variants' cards (at least two).
        cards: Vec<T>,
    },
}

/// Holds back the cards of the row being read until a card of another row comes: at most
/// one row's variants are held (bounded by `[matrix] max_videos`), never the batch.
#[derive(Debug)]
pub struct Grouper<T> {
    key: Option<String>,
    held: Vec<T>,
}

impl<T> Default for Grouper<T> {
    fn default() -> Self {
        Self {
            key: None,
            held: Vec::new(),
        }
    }
}

impl<T> Grouper<T> {
    /// Takes the card of the row keyed `key`; returns what is complete, in order.
    pub fn push(&mut self, key: &str, card: T) -> Vec<Run<T>> {
        let base = variant_of(key);
        if base.is_some() && base == self.key.as_deref() {
            self.held.push(card);
            return Vec::new();
        }
        let mut out: Vec<Run<T>> = self.finish().into_iter().collect();
        match base {
            Some(b) => {
                self.key = Some(b.to_owned());
                self.held.push(card);
            }
            None => out.push(Run::Lone(card)),
        }
        out
    }

    /// What is still held, once the rows are over (or another row begins).
    pub fn finish(&mut self) -> Option<Run<T>> {
        let key = self.key.take()?;
        let mut cards = std::mem::take(&mut self.held);
        if cards.len() == 1 {
            return cards.pop().map(Run::Lone);
        }
        Some(Run::Group { key, cards })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(keys: &[&str]) -> Vec<Run<&'static str>> {
        let mut g = Grouper::default();
        let mut out = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            // The card stands for its position.
            let card: &'static str = ["0", "1", "2", "3", "4", "5", "6", "7"][i];
            out.extend(g.push(k, card));
        }
        out.extend(g.finish());
        out
    }

    #[test]
    fn consecutive_variants_of_a_row_group_and_the_rest_stay_alone() {
        let group = |key: &str, cards: &[&'static str]| Run::Group {
            key: key.into(),
            cards: cards.to_vec(),
        };
        assert_eq!(
            runs(&[
                "plain",
                "spring~avatar=a~visual_style=Vlog",
                "spring~avatar=b~visual_style=Vlog",
                "spring~avatar=c~visual_style=Vlog",
                "summer~avatar=a",
                "other",
                "autumn~avatar=a",
                "autumn~avatar=b",
            ]),
            [
                Run::Lone("0"),
                group("spring", &["1", "2", "3"]),
                Run::Lone("4"),
                Run::Lone("5"),
                group("autumn", &["6", "7"]),
            ]
        );
        // A row's variants apart from each other (another row between) are two groups.
        assert_eq!(
            runs(&["a~x=1", "a~x=2", "b", "a~x=3", "a~x=4"]),
            [
                group("a", &["0", "1"]),
                Run::Lone("2"),
                group("a", &["3", "4"])
            ]
        );
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn a_variant_is_labelled_by_its_values() {
        assert_eq!(
            label("spring-sale~avatar=sam-office~visual_style=Vlog").as_deref(),
            Some("avatar=sam-office · visual_style=Vlog")
        );
        assert_eq!(
            label("long~avatar=a~visual_style=Vl~0123456789ab").as_deref(),
            Some("avatar=a · visual_style=Vl")
        );
        assert_eq!(label("plain"), None);
    }
}
