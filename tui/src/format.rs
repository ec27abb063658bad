//! Short human forms of sizes, ages, dates and `From:` headers.

use mailcx_common::Timestamp;

/// `1536` → `"1.5 KiB"`; whole bytes below 1 KiB.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 10.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How long ago `then` was, in the largest whole unit: `now`, `5m`, `3h`, `2d`, `1y`.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        s if s < 60 => "now".into(),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 365 * 86_400 => format!("{}d", s / 86_400),
        s => format!("{}y", s / (365 * 86_400)),
    }
}

/// How long until [`age`] of `then` shows another text ("now" → "1m", "59m" → "1h", ...).
pub fn next_age_change(now: Timestamp, then: Timestamp) -> std::time::Duration {
    let secs = (now - then).num_seconds().max(0) as u64;
    let unit = match secs {
        s if s < 3600 => 60,
        s if s < 86_400 => 3600,
        s if s < 365 * 86_400 => 86_400,
        _ => 365 * 86_400,
    };
    std::time::Duration::from_secs(unit - secs % unit)
}

/// [`age`] as a phrase: `just now`, `5m ago`.
pub fn ago(now: Timestamp, then: Timestamp) -> String {
    match age(now, then).as_str() {
        "now" => "just now".into(),
        age => format!("{age} ago"),
    }
}

/// A duration in whole seconds, rounded up: what a countdown shows.
pub fn whole_seconds(d: std::time::Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

/// `2025-01-15 10:30 UTC`.
pub fn date(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The display name of a `From:` header (`"Alice B" <a@x>` → `Alice B`), else its address;
/// `fallback` (the envelope sender) when the header is empty.
pub fn from_name(from: &str, fallback: &str) -> String {
    let from = one_line(from);
    let from = from.trim();
    let name = match from.find('<') {
        Some(start) => {
            let name = from[..start].trim().trim_matches('"').trim();
            if name.is_empty() {
                from[start + 1..].trim_end_matches('>').trim()
            } else {
                name
            }
        }
        None => from,
    };
    if name.is_empty() {
        one_line(fallback)
    } else {
        name.to_string()
    }
}

/// The text on one line: line breaks, tabs and other control characters become spaces and
/// bidi controls ([`crate::text::is_bidi_control`]) are dropped and characters of disputed width
/// tamed ([`crate::text::tame_width`]), so a header from the server can
/// never move the cursor, break the layout or show its characters in a misleading order.
pub fn one_line(text: &str) -> String {
    text.chars()
        .filter(|&c| !crate::text::is_bidi_control(c))
        .filter_map(crate::text::tame_width)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(41_943_040), "40 MiB");
    }

    #[test]
    fn ages_use_the_largest_unit() {
        let now: Timestamp = "2025-01-15T10:30:00Z".parse().unwrap();
        let ago = |s: i64| age(now, now - chrono::Duration::seconds(s));
        assert_eq!(ago(5), "now");
        assert_eq!(ago(300), "5m");
        assert_eq!(ago(7200), "2h");
        assert_eq!(ago(3 * 86_400), "3d");
        assert_eq!(ago(-50), "now");
    }

    #[test]
    fn the_next_age_change_is_at_the_next_unit() {
        let now: Timestamp = "2025-01-15T10:30:00Z".parse().unwrap();
        let next = |s: i64| next_age_change(now, now - chrono::Duration::seconds(s)).as_secs();
        assert_eq!(next(0), 60, "now → 1m");
        assert_eq!(next(130), 50, "2m → 3m");
        assert_eq!(next(3599), 1, "59m → 1h");
        assert_eq!(next(7200 + 5), 3595, "2h → 3h");
        assert_eq!(next(-50), 60, "a clock ahead reads as now");
    }

    #[test]
    fn from_headers_give_names() {
        assert_eq!(from_name("\"Alice B\" <a@x.org>", ""), "Alice B");
        assert_eq!(from_name("Bob <b@x.org>", ""), "Bob");
        assert_eq!(from_name("<c@x.org>", ""), "c@x.org");
        assert_eq!(from_name("d@x.org", ""), "d@x.org");
        assert_eq!(from_name("", "env@x.org"), "env@x.org");
        assert_eq!(from_name("Evil\x1b[2J <e@x>", ""), "Evil [2J");
        assert_eq!(from_name("\u{202E}ecilA\u{202C} <a@x>", ""), "ecilA");
    }

    #[test]
    fn one_line_drops_bidi_controls() {
        assert_eq!(one_line("Invoice\u{202E}fdp.exe"), "Invoicefdp.exe");
        assert_eq!(
            one_line("a\u{2066}b\u{2069}\u{200E}\u{200F}\u{061C}c\td"),
            "abc d"
        );
    }
}
