//! What a cell may hold, judged one cell at a time: the `'` that `failed.csv` puts before
//! formula-like text comes off again, and text no spreadsheet writes is refused with the
//! character that gives it away (control characters, a byte order mark in the middle of the
//! file, UTF-8 that was once read as Windows-1252 and saved again).
//!
//! Each check is one linear pass over the cell; none allocates unless it finds something.

/// The characters a spreadsheet runs as a formula when a cell starts with them.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet would run `cell` as a formula once its `'` markers were gone: it
/// starts with `=` `+` `-` `@` (or a tab or CR), after any number of `'`. Files this tool
/// writes put one more `'` before such cells, and [`undefuse`] takes exactly one off, so
/// the two are inverses for every text.
pub fn formula_like(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// `cell` without the `'` that `failed.csv` and `manifest.csv` put before formula-like text
/// (see [`formula_like`]), so a script fed back is exactly the script first read.
///
/// A hand-written `'=...` in a sheet loses its `'` too: the one price of the round trip.
pub fn undefuse(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest,
        _ => cell,
    }
}

/// What makes a cell's text unreadable, if anything.
pub fn problem(cell: &str) -> Option<String> {
    for (n, c) in cell.chars().enumerate() {
        if c == '\u{feff}' {
            return Some(format!(
                "holds a byte order mark (U+FEFF, invisible) at character {}: the file was \
                 probably pieced together from several exports; delete that character",
                n + 1
            ));
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
            return Some(format!(
                "holds the control character U+{:04X} at character {}, which no spreadsheet \
                 writes (binary data, a terminal escape, or text decoded with the wrong \
                 encoding); delete it",
                u32::from(c),
                n + 1
            ));
        }
    }
    let (garbled, meant) = mojibake(cell)?;
    Some(format!(
        "looks garbled: {garbled:?} is how {:?} looks when UTF-8 text was opened as \
         Windows-1252 or Latin-1 and saved again; re-export the sheet from the original, or \
         fix the text",
        meant.to_string()
    ))
}

/// The first stretch of `s` that is UTF-8 bytes shown as Windows-1252 (or Latin-1)
/// characters, with the character it was meant to be: `Ã©` for `é`, `â€™` for `’`.
///
/// Only the lead characters that garbled Western text starts with are looked at (`Â` `Ã`
/// `Å` for two-byte characters, `â` for punctuation such as `’` `“` `—` `€`), followed by
/// characters that stand for UTF-8 continuation bytes; real words do not put those together.
pub fn mojibake(s: &str) -> Option<(String, char)> {
    for (start, lead) in s.char_indices() {
        let len = match lead {
            'Â' | 'Ã' | 'Å' => 2,
            'â' => 3,
            _ => continue,
        };
        // The lead characters are U+00C2..U+00E2: their code point is the byte.
        let mut bytes = [lead as u8, 0, 0];
        let mut n = 1;
        let mut end = start + lead.len_utf8();
        for c in s[end..].chars().take(len - 1) {
            match as_byte(c) {
                Some(b @ 0x80..=0xBF) => {
                    bytes[n] = b;
                    n += 1;
                    end += c.len_utf8();
                }
                _ => break,
            }
        }
        if n != len {
            continue;
        }
        if let Some(meant) = std::str::from_utf8(&bytes[..len])
            .ok()
            .and_then(|t| t.chars().next())
        {
            return Some((s[start..end].to_owned(), meant));
        }
    }
    None
}

/// The byte a Windows-1252 (or Latin-1) reader shows as `c`.
fn as_byte(c: char) -> Option<u8> {
    const CP1252: [(char, u8); 27] = [
        ('€', 0x80),
        ('‚', 0x82),
        ('ƒ', 0x83),
        ('„', 0x84),
        ('…', 0x85),
        ('†', 0x86),
        ('‡', 0x87),
        ('ˆ', 0x88),
        ('‰', 0x89),
        ('Š', 0x8A),
        ('‹', 0x8B),
        ('Œ', 0x8C),
        ('Ž', 0x8E),
        ('‘', 0x91),
        ('’', 0x92),
        ('“', 0x93),
        ('”', 0x94),
        ('•', 0x95),
        ('–', 0x96),
        ('—', 0x97),
        ('˜', 0x98),
        ('™', 0x99),
        ('š', 0x9A),
        ('›', 0x9B),
        ('œ', 0x9C),
        ('ž', 0x9E),
        ('Ÿ', 0x9F),
    ];
    match u32::from(c) {
        n @ 0x80..=0xFF => u8::try_from(n).ok(),
        _ => CP1252.iter().find(|(k, _)| *k == c).map(|(_, b)| *b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefuse_takes_off_exactly_one_quote_before_formula_text() {
        assert_eq!(undefuse("'=HYPERLINK(\"x\")"), "=HYPERLINK(\"x\")");
        assert_eq!(undefuse("'-20% today"), "-20% today");
        assert_eq!(undefuse("''=x"), "'=x");
        assert_eq!(undefuse("'tis the season"), "'tis the season");
        assert_eq!(undefuse("=x"), "=x");
        assert_eq!(undefuse("'"), "'");
    }

    #[test]
    fn garbled_western_text_is_recognised_and_real_words_are_not() {
        assert_eq!(mojibake("CafÃ© crÃ¨me"), Some(("Ã©".to_owned(), 'é')));
        assert_eq!(mojibake("Donâ€™t wait"), Some(("â€™".to_owned(), '’')));
        assert_eq!(mojibake("Â© 2024"), Some(("Â©".to_owned(), '©')));
        for fine in [
            "Café crème",
            "SÃO PAULO",
            "château",
            "Ångström",
            "Âme",
            "naïve",
            "日本語",
            "",
            "Ã",
            "â€",
        ] {
            assert_eq!(mojibake(fine), None, "{fine}");
        }
    }

    #[test]
    fn control_characters_and_stray_boms_are_named() {
        let p = problem("Hi\u{1b}[31m").unwrap();
        assert!(p.contains("U+001B at character 3"), "{p}");
        let p = problem("\u{feff}a").unwrap();
        assert!(p.contains("U+FEFF"), "{p}");
        assert!(problem("Hi\u{85}there").is_some());
        assert_eq!(problem("one\r\ntwo\tthree"), None);
    }
}
