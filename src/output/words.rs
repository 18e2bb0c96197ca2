//! Numbers and counts as people read them in summaries, logs and reports.

/// `n` and the word, singular or plural ("1 video", "13 videos").
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A credit amount as people read it: at most two decimals, no trailing zeros, never `-0`.
pub fn credits(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let r = (x * 100.0).round() / 100.0 + 0.0;
    let s = format!("{r:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_read_like_numbers() {
        assert_eq!(credits(-0.0), "0");
        assert_eq!(credits(0.0), "0");
        assert_eq!(credits(101.5), "101.5");
        assert_eq!(credits(2.8224000000000005), "2.82");
        assert_eq!(credits(1035.0), "1035");
        assert_eq!(credits(-0.001), "0");
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "video", "videos"), "1 video");
        assert_eq!(plural(0, "video", "videos"), "0 videos");
    }
}
