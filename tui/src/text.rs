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

/// `c` as drawn on screen, where terminals disagree on its width: a regional indicator (half a
/// flag emoji, 1 or 2 columns) becomes its capital letter, so a flag reads `DE`; variation
/// selectors, zero-width joiners, skin-tone modifiers, the keycap mark and tag characters are
/// dropped, so emoji sequences show as their parts, each of a width everyone agrees on.
/// Otherwise a terminal that draws a glyph wider than counted leaves ghosts on other screens.
pub fn tame_width(c: char) -> Option<char> {
    match c {
        '\u{1F1E6}'..='\u{1F1FF}' => char::from_u32('A' as u32 + (c as u32 - 0x1F1E6)),
        '\u{FE00}'..='\u{FE0F}' | '\u{200D}' | '\u{1F3FB}'..='\u{1F3FF}' | '\u{20E3}' => None,
        '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}' => None,
        c => Some(c),
    }
}

/// The characters of one line with tabs expanded, control and bidi characters dropped, and
/// characters of disputed width tamed ([`tame_width`]).
fn clean_chars(raw: &str) -> impl Iterator<Item = char> + '_ {
    raw.chars().filter_map(tame_width).flat_map(|c| {
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
    fn characters_of_disputed_width_are_tamed() {
        // A flag, a family (joined with ZWJ), a red heart with VS16, a waving hand with a skin
        // tone, a keycap, and England's subdivision flag (tag characters).
        let text = "\u{1F1E9}\u{1F1EA} \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} \u{2764}\u{FE0F} \u{1F44B}\u{1F3FD} 1\u{FE0F}\u{20E3} \u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert_eq!(
            lines(text),
            vec!["DE \u{1F468}\u{1F469}\u{1F467} \u{2764} \u{1F44B} 1 \u{1F3F4}"]
        );
        assert_eq!(wrap("Tickets \u{1F1EB}\u{1F1F7}", 40), vec!["Tickets FR"]);
        assert_eq!(tame_width('a'), Some('a'));
        let grin = '\u{1F600}';
        assert_eq!(tame_width(grin), Some(grin), "plain wide emoji stay");
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
