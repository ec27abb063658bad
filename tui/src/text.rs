//! Wrapping message text into display lines, once per width, so a frame only slices lines.

use unicode_width::UnicodeWidthChar;

/// Splits `text` into lines at most `width` columns wide, breaking at spaces where it can.
/// Tabs become spaces and other control characters are dropped, so server text cannot reach the
/// terminal as escape sequences or upset the layout.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0;
        // Where the last space is in `line` (byte index and width up to it), to break there.
        let mut last_space: Option<(usize, usize)> = None;
        for c in clean_chars(raw) {
            let w = c.width().unwrap_or(0);
            if line_width + w > width {
                match last_space {
                    Some((at, w_at)) if c != ' ' => {
                        let rest = line.split_off(at + 1);
                        lines.push(line.trim_end().to_string());
                        line = rest;
                        line_width -= w_at + 1;
                    }
                    _ => {
                        lines.push(std::mem::take(&mut line));
                        line_width = 0;
                    }
                }
                last_space = None;
                if c == ' ' {
                    continue;
                }
            }
            if c == ' ' {
                last_space = Some((line.len(), line_width));
            }
            line.push(c);
            line_width += w;
        }
        lines.push(line);
    }
    lines
}

/// Splits `text` into lines without wrapping (for the raw source), cleaned like [`wrap`].
pub fn lines(text: &str) -> Vec<String> {
    text.split('\n').map(|raw| clean_chars(raw).collect()).collect()
}

/// Whether `c` is a bidirectional control (U+202A–U+202E embeddings and overrides, U+2066–U+2069
/// isolates, the U+200E/U+200F marks and the Arabic letter mark U+061C). Server text carrying one
/// could reorder what the terminal shows, e.g. an attachment `invoice\u{202E}fdp.exe` that reads
/// as `invoiceexe.pdf`, so every place that cleans server text for the screen drops them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The characters of one line with tabs expanded and control and bidi characters dropped.
fn clean_chars(raw: &str) -> impl Iterator<Item = char> + '_ {
    raw.chars().flat_map(|c| {
        let repeat = match c {
            '\t' => 4,
            c if c.is_control() || is_bidi_control(c) => 0,
            _ => 1,
        };
        std::iter::repeat_n(if c == '\t' { ' ' } else { c }, repeat)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_splits_long_words() {
        assert_eq!(wrap("hello big world", 9), vec!["hello big", "world"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\r\nb", 10), vec!["a", "b"]);
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(wrap("one two three four", 8), vec!["one two", "three", "four"]);
    }

    #[test]
    fn drops_control_characters() {
        assert_eq!(wrap("a\x1b[2Jb\tc", 20), vec!["a[2Jb    c"]);
        assert_eq!(lines("x\r\ny"), vec!["x", "y"]);
    }

    #[test]
    fn drops_bidi_controls() {
        let all = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}";
        assert!(all.chars().all(is_bidi_control));
        assert!(!is_bidi_control('a') && !is_bidi_control('\u{200D}') && !is_bidi_control('\u{2070}'));
        assert_eq!(
            wrap(&format!("invoice\u{202E}fdp.exe{all}!"), 40),
            vec!["invoicefdp.exe!"]
        );
        assert_eq!(lines("a\u{2067}b\nc\u{200F}"), vec!["ab", "c"]);
    }
}
