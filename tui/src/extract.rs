//! Finding what a sign-up mail is for: its verification codes and its links. Pure functions over
//! the subject and bodies; no I/O, so the reader calls them directly and the inbox calls them in
//! the task that fetched the body.
//!
//! Codes are 4–8 digits, or 4–10 uppercase letters and digits with at least one digit (one or
//! two dashes allowed), that stand near a word such as "code", "PIN", "OTP", "verify" or "is:".
//! Anything that reads as a price, date, time, phone number, year, order or reference number is
//! not a code. Links come from text URLs and HTML `href`s, with quoted-printable and HTML-entity
//! artefacts decoded; unsubscribe, social, `mailto:` and tracking links rank last.

/// How much of each body is searched: sign-up mails are small, and a huge mail must not stall.
const MAX_SCAN: usize = 256 * 1024;

/// Codes kept at most (the picker lists them all).
const MAX_CODES: usize = 6;

/// Links kept at most.
const MAX_LINKS: usize = 40;

/// What was found in one message, best first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Verification codes, best first.
    pub codes: Vec<String>,
    /// Links, best first; the last `links.len() - useful_links` are unsubscribe-like.
    pub links: Vec<String>,
    /// How many of `links` (from the front) are worth opening without asking.
    pub useful_links: usize,
}

impl Extracted {
    /// The code `y` copies.
    pub fn best_code(&self) -> Option<&str> {
        self.codes.first().map(String::as_str)
    }

    /// The link `o` opens: never an unsubscribe, social or tracking link.
    pub fn best_link(&self) -> Option<&str> {
        (self.useful_links > 0).then(|| self.links[0].as_str())
    }

    /// Whether nothing at all was found.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty() && self.links.is_empty()
    }
}

/// Finds the codes and links of a message from its subject, text body and HTML body.
pub fn extract(subject: &str, text: Option<&str>, html: Option<&str>) -> Extracted {
    let text = text.map(|t| decode_qp_if_encoded(clip(t)));
    let html = html.map(|h| decode_qp_if_encoded(clip(h)));
    let html_text = html.as_deref().map(html_to_plain);

    let mut codes: Vec<(i32, usize, String)> = Vec::new();
    let segments = [
        (Some(subject), 2),
        (text.as_deref(), 0),
        (html_text.as_deref(), 0),
    ];
    for (segment, bonus) in segments {
        if let Some(segment) = segment {
            for (score, code) in find_codes(segment) {
                let order = codes.len();
                codes.push((score + bonus, order, code));
            }
        }
    }
    // Best score first, then first seen; each code once.
    codes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut seen = Vec::new();
    for (_, _, code) in codes {
        if !seen.contains(&code) {
            seen.push(code);
        }
    }
    seen.truncate(MAX_CODES);

    let mut links: Vec<String> = Vec::new();
    if let Some(html) = &html {
        links.extend(html_hrefs(html));
    }
    if let Some(text) = &text {
        links.extend(text_urls(text));
    }
    if let Some(html_text) = &html_text {
        links.extend(text_urls(html_text));
    }
    let mut ranked: Vec<(i32, usize, String)> = Vec::new();
    for link in links {
        if ranked.iter().any(|(_, _, l)| *l == link) {
            continue;
        }
        let order = ranked.len();
        ranked.push((link_score(&link), order, link));
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.truncate(MAX_LINKS);
    let useful_links = ranked.iter().filter(|(s, _, _)| *s >= 0).count();
    Extracted {
        codes: seen,
        links: ranked.into_iter().map(|(_, _, l)| l).collect(),
        useful_links,
    }
}

/// The first [`MAX_SCAN`] bytes, cut at a character boundary.
fn clip(s: &str) -> &str {
    if s.len() <= MAX_SCAN {
        return s;
    }
    let mut end = MAX_SCAN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decodes quoted-printable when the body still shows it (a `=3D`, or lines ending in a soft
/// break `=`): some senders encode twice, or mark a QP body as 8bit, so the server stores it raw.
pub fn decode_qp_if_encoded(s: &str) -> String {
    let soft_breaks = s.contains("=\n") || s.contains("=\r\n");
    if !soft_breaks && !s.contains("=3D") && !s.contains("=3d") {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
            if let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes the HTML entities that appear in links and short texts (`&amp;`, `&#61;`, `&#x3D;`...).
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest[..rest.len().min(12)].find(';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "equals" => Some('='),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16).ok().and_then(char::from_u32)
                }
                _ if name.starts_with('#') => name[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// HTML as plain words: tags, `<style>`, `<script>` and comments dropped, entities decoded.
/// Block ends become line breaks so words of separate paragraphs stay apart.
fn html_to_plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let Some(rel) = html[i..].find('<') else {
            out.push_str(&html[i..]);
            break;
        };
        out.push_str(&html[i..i + rel]);
        let at = i + rel;
        let skip_to = |end: &str| lower[at..].find(end).map_or(html.len(), |e| at + e + end.len());
        i = if lower[at..].starts_with("<!--") {
            skip_to("-->")
        } else if lower[at..].starts_with("<style") {
            skip_to("</style>")
        } else if lower[at..].starts_with("<script") {
            skip_to("</script>")
        } else {
            out.push(' ');
            html[at..].find('>').map_or(html.len(), |e| at + e + 1)
        };
    }
    decode_entities(&out)
}

/// The `href` values of an HTML body, entities decoded, in document order.
fn html_hrefs(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = lower[from..].find("href") {
        let mut at = from + rel + 4;
        from = at;
        let rest = &html[at..];
        let trimmed = rest.trim_start();
        if !trimmed.starts_with('=') {
            continue;
        }
        at += rest.len() - trimmed.len() + 1;
        let value = html[at..].trim_start();
        let raw = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
            Some(_) => value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
            None => "",
        };
        let link = decode_entities(raw.trim());
        if let Some(link) = clean_link(&link) {
            out.push(link);
        }
    }
    out
}

/// The `http(s)://` URLs written out in a text.
fn text_urls(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|p| lower[from..].find(p))
            .min();
        let Some(rel) = next else { break };
        let at = from + rel;
        let end = text[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`'))
            .map_or(text.len(), |e| at + e);
        from = end.max(at + 1);
        if let Some(link) = clean_link(&text[at..end]) {
            out.push(link);
        }
    }
    out
}

/// Keeps web and mail links, trims the punctuation a sentence puts after a URL.
fn clean_link(link: &str) -> Option<String> {
    let lower = link.to_ascii_lowercase();
    if lower.starts_with("mailto:") {
        return Some(link.to_string());
    }
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    let mut link = link;
    while let Some(last) = link.chars().last() {
        let unbalanced_close = match last {
            ')' => link.matches('(').count() < link.matches(')').count(),
            ']' => link.matches('[').count() < link.matches(']').count(),
            _ => false,
        };
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' | '>') || unbalanced_close {
            link = &link[..link.len() - last.len_utf8()];
        } else {
            break;
        }
    }
    // Just a scheme is no link.
    (link.len() > "https://".len()).then(|| link.to_string())
}

/// Ranks a link: sign-in, verify and reset links first; unsubscribe, social, `mailto:` and
/// tracking links below zero (never opened by `o`).
fn link_score(link: &str) -> i32 {
    let l = link.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| l.contains(w));
    if l.starts_with("mailto:") {
        return -20;
    }
    let path = l.split(['?', '#']).next().unwrap_or("");
    if has(&["/pixel", "/open.", "/track/open", "beacon", "1x1", "/o.gif"])
        || [".gif", ".png", ".jpg", ".jpeg"]
            .iter()
            .any(|e| path.ends_with(e))
    {
        return -30;
    }
    if has(&[
        "unsubscribe",
        "unsub",
        "optout",
        "opt-out",
        "opt_out",
        "list-manage",
        "preferences",
        "email-settings",
        "notification-settings",
    ]) {
        return -10;
    }
    if has(&[
        "facebook.com",
        "twitter.com",
        "//x.com",
        "linkedin.com",
        "instagram.com",
        "youtube.com",
        "/privacy",
        "/terms",
        "/legal",
    ]) {
        return -5;
    }
    if has(&[
        "verify",
        "verification",
        "confirm",
        "activate",
        "magic",
        "login",
        "log-in",
        "signin",
        "sign-in",
        "sign_in",
        "auth",
        "token=",
        "reset",
        "password",
        "invite",
        "accept",
        "validate",
        "onboard",
        "device",
    ]) {
        return 5;
    }
    0
}

/// Words that make a nearby token a code, with their weight.
fn cue_weight(word: &str) -> i32 {
    match word {
        "code" | "codes" | "pin" | "otp" | "passcode" | "one-time" | "verification" | "verify" | "2fa"
        | "mfa" | "2-step" | "two-factor" | "one-time-code" => 10,
        "confirmation" | "confirm" | "security" | "login" | "log-in" | "sign-in" | "signin"
        | "authenticate" | "authentication" | "enter" | "token" => 6,
        _ => 0,
    }
}

/// Words that make a nearby number anything but a code.
fn is_negative(word: &str) -> bool {
    matches!(
        word,
        "order"
            | "invoice"
            | "receipt"
            | "ref"
            | "reference"
            | "tracking"
            | "account"
            | "acct"
            | "phone"
            | "tel"
            | "call"
            | "fax"
            | "suite"
            | "apt"
            | "unit"
            | "room"
            | "customer"
            | "member"
            | "ticket"
            | "case"
            | "total"
            | "subtotal"
            | "price"
            | "item"
            | "sku"
            | "qty"
            | "street"
            | "st"
            | "ave"
            | "avenue"
            | "road"
            | "box"
    )
}

fn is_currency(word: &str) -> bool {
    matches!(
        word,
        "usd" | "eur" | "gbp" | "jpy" | "chf" | "cad" | "aud" | "dollars" | "euros"
    )
}

/// One whitespace-separated word: its core without surrounding punctuation, and what was cut.
struct Word<'a> {
    core: &'a str,
    lower: String,
    prefix: &'a str,
    suffix: &'a str,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let punct = |c: char| !c.is_alphanumeric() && !matches!(c, '-' | '_' | '@' | '/' | ':' | '.' | ',');
    text.split_whitespace()
        .map(|raw| {
            let start = raw.len() - raw.trim_start_matches(punct).len();
            let core = raw[start..].trim_end_matches(punct);
            // A sentence's final `.`, `,` or `:` belongs to the sentence, not to the token.
            let core = core.trim_end_matches(['.', ',', ':']);
            let end = start + core.len();
            Word {
                core,
                lower: core.to_lowercase(),
                prefix: &raw[..start],
                suffix: &raw[end..],
            }
        })
        .collect()
}

/// The codes in one text with their scores (higher is better), in text order.
fn find_codes(text: &str) -> Vec<(i32, String)> {
    let words = words(text);
    // "sign in" / "log in" count as one cue on their first word.
    let cue_at = |i: usize| -> i32 {
        let w = words[i].lower.as_str();
        let next = words.get(i + 1).map(|w| w.lower.as_str());
        match (w, next) {
            ("sign" | "log", Some("in" | "on")) => 6,
            _ => cue_weight(w.trim_end_matches(['.', ',', ':'])),
        }
    };
    let mut out = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let Some(variants) = code_shape(word.core) else {
            continue;
        };
        if word.prefix.contains(['$', '€', '£', '¥', '#', '+', '(', '№'])
            || word.suffix.starts_with(['%', ')'])
            || word.suffix.starts_with("€")
        {
            continue;
        }
        if i > 0 && (is_currency(&words[i - 1].lower) || words[i - 1].core.ends_with(['$', '€', '£'])) {
            continue;
        }
        if words.get(i + 1).is_some_and(|w| is_currency(&w.lower)) {
            continue;
        }
        let mut score = i32::MIN;
        for d in 1..=6usize {
            if let Some(j) = i.checked_sub(d) {
                let w = cue_at(j);
                if w > 0 {
                    score = score.max(w - d as i32);
                }
                // "Your code is: 123456" and "Here it is: 123456".
                if d == 1 && words[j].lower == "is" && words[j].suffix.starts_with(':') {
                    score = score.max(9);
                }
            }
            if d <= 5 && i + d < words.len() {
                let w = cue_at(i + d);
                if w > 0 {
                    score = score.max(w - d as i32);
                }
            }
        }
        if score == i32::MIN {
            continue;
        }
        if (1..=3).any(|d| {
            i.checked_sub(d)
                .is_some_and(|j| is_negative(words[j].lower.trim_end_matches(['.', ':'])))
        }) {
            score -= 8;
        }
        let digits_only = word.core.chars().all(|c| c.is_ascii_digit());
        if digits_only && word.core.len() == 4 {
            let n: u32 = word.core.parse().unwrap_or(0);
            if (1900..=2099).contains(&n) {
                score -= 5;
            }
        }
        if digits_only && word.core.len() == 6 {
            score += 1;
        }
        if score < 3 {
            continue;
        }
        for (k, v) in variants.into_iter().enumerate() {
            out.push((score - k as i32, v));
        }
    }
    out
}

/// If `core` is shaped like a code, the code to copy (and any second reading), best first.
///
/// `G-123456` (a short letter prefix) is copied as `123456`, which is what forms ask for, with
/// `G-123456` second. `ABC-123` is kept as written (forms split into boxes drop the dash on
/// paste), with `ABC123` second.
fn code_shape(core: &str) -> Option<Vec<String>> {
    if core.is_empty() || !core.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let groups: Vec<&str> = core.split('-').collect();
    if groups.iter().any(|g| g.is_empty()) || groups.len() > 3 {
        return None;
    }
    let has_lower = core.chars().any(|c| c.is_ascii_lowercase());
    let digits = core.chars().filter(char::is_ascii_digit).count();
    let letters = core.chars().filter(char::is_ascii_alphabetic).count();
    if has_lower || digits == 0 {
        return None;
    }
    if groups.len() == 1 {
        let len = core.len();
        if letters == 0 {
            return (4..=8).contains(&len).then(|| vec![core.to_string()]);
        }
        // Units and times (`100MB`, `10AM`) are digits then a few letters: not codes.
        let unit = core.trim_start_matches(|c: char| c.is_ascii_digit());
        if unit.len() <= 3 && unit.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        return (4..=10).contains(&len).then(|| vec![core.to_string()]);
    }
    let joined: String = groups.concat();
    if !(4..=10).contains(&joined.len()) {
        return None;
    }
    let all_digits = letters == 0;
    if all_digits {
        // `123-456` and `1234-5678` are codes; `2025-01-15` and `555-1234` are dates and phones.
        let same = groups.iter().all(|g| g.len() == groups[0].len());
        return (same && groups.len() == 2 && matches!(groups[0].len(), 3 | 4))
            .then(|| vec![core.to_string(), joined]);
    }
    if groups.len() == 2
        && groups[0].len() <= 2
        && groups[0].chars().all(|c| c.is_ascii_alphabetic())
        && groups[1].chars().all(|c| c.is_ascii_digit())
        && (4..=8).contains(&groups[1].len())
    {
        return Some(vec![groups[1].to_string(), core.to_string()]);
    }
    Some(vec![core.to_string(), joined])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_and_qp_decode() {
        assert_eq!(
            decode_entities("a&amp;b&#61;c&#x3D;d&lt;&bogus;"),
            "a&b=c=d<&bogus;"
        );
        assert_eq!(
            decode_qp_if_encoded("https://x.example/a?t=3Dabc&n=3D1=\nmore"),
            "https://x.example/a?t=abc&n=1more"
        );
        assert_eq!(decode_qp_if_encoded("price = 3 euros"), "price = 3 euros");
    }

    #[test]
    fn links_lose_trailing_punctuation_but_keep_balanced_parens() {
        assert_eq!(
            text_urls("See https://a.example/x. Or (https://b.example/y), or https://w.example/A_(b)!"),
            vec![
                "https://a.example/x",
                "https://b.example/y",
                "https://w.example/A_(b)"
            ]
        );
    }

    #[test]
    fn shapes() {
        assert_eq!(code_shape("482913"), Some(vec!["482913".into()]));
        assert_eq!(
            code_shape("G-123456"),
            Some(vec!["123456".into(), "G-123456".into()])
        );
        assert_eq!(
            code_shape("ABC-123"),
            Some(vec!["ABC-123".into(), "ABC123".into()])
        );
        assert_eq!(code_shape("2025-01-15"), None);
        assert_eq!(code_shape("555-1234"), None);
        assert_eq!(code_shape("100MB"), None);
        assert_eq!(code_shape("abc123"), None);
        assert_eq!(code_shape("123"), None);
        assert_eq!(code_shape("CODE"), None);
    }
}
