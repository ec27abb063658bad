//! Code and link detection on realistic sign-up mails (`tests/fixtures/signup`). A fixture is a
//! `Subject:` line, then a `--- text` and/or `--- html` section holding that body.

use mailcx::extract::{Extracted, extract};

fn fixture(name: &str) -> Extracted {
    let path = format!("{}/tests/fixtures/signup/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (subject, rest) = raw.split_once('\n').unwrap();
    let subject = subject
        .strip_prefix("Subject: ")
        .expect("a fixture starts with its subject");
    let (mut text, mut html) = (None, None);
    let mut section: Option<(&str, String)> = None;
    for line in rest.split_inclusive('\n') {
        let marker = line.trim_end();
        if marker == "--- text" || marker == "--- html" {
            if let Some((kind, body)) = section.take() {
                if kind == "--- text" {
                    text = Some(body)
                } else {
                    html = Some(body)
                }
            }
            section = Some((
                if marker == "--- text" {
                    "--- text"
                } else {
                    "--- html"
                },
                String::new(),
            ));
        } else if let Some((_, body)) = &mut section {
            body.push_str(line);
        }
    }
    if let Some((kind, body)) = section {
        if kind == "--- text" {
            text = Some(body)
        } else {
            html = Some(body)
        }
    }
    extract(subject, text.as_deref(), html.as_deref())
}

#[test]
fn github_verification_code() {
    let found = fixture("github_device");
    assert_eq!(found.best_code(), Some("482913"), "{found:?}");
    // Not the street number, the zip code, or anything else.
    assert_eq!(found.codes, vec!["482913"], "{found:?}");
    assert_eq!(found.best_link(), Some("https://github.com/settings/security"));
}

#[test]
fn github_use_code_to_sign_in_ignores_times_dates_and_phones() {
    let found = fixture("github_use_to_sign_in");
    assert_eq!(found.codes, vec!["482913"], "{found:?}");
    assert!(found.links.is_empty());
}

#[test]
fn google_prefix_is_dropped_but_offered() {
    let found = fixture("google");
    assert_eq!(found.codes, vec!["123456", "G-123456"], "{found:?}");
}

#[test]
fn slack_dashed_code_is_kept_as_written() {
    let found = fixture("slack");
    assert_eq!(found.codes, vec!["ABC-123", "ABC123"], "{found:?}");
    // The only link is an unsubscribe link: listed, never opened by `o`.
    assert_eq!(found.links, vec!["https://slack.com/unsubscribe?u=12345"]);
    assert_eq!(found.best_link(), None);
}

#[test]
fn apple_code_in_html_only() {
    let found = fixture("apple_html_only");
    assert_eq!(found.codes, vec!["739184"], "{found:?}");
    assert_eq!(found.best_link(), Some("https://appleid.apple.com/"));
}

#[test]
fn magic_link_in_html_with_entities() {
    let found = fixture("magic_link_html");
    let link = "https://app.example.com/login?token=eyJhbGciOi.abc_DEF-123&next=%2F";
    assert_eq!(found.best_link(), Some(link), "{found:?}");
    assert!(found.codes.is_empty(), "{found:?}");
    // The same link in the text is listed once; unsubscribe and mailto come last.
    assert_eq!(found.links.iter().filter(|l| *l == link).count(), 1);
    let n = found.links.len();
    assert_eq!(found.useful_links, 2, "{found:?}");
    assert!(found.links[n - 2..].iter().any(|l| l.contains("unsubscribe")));
    assert!(found.links[n - 2..].iter().any(|l| l.starts_with("mailto:")));
    assert!(
        !found.links.iter().any(|l| l.contains("open.gif")),
        "images are not links"
    );
}

#[test]
fn quoted_printable_link_is_decoded() {
    let found = fixture("quoted_printable");
    assert_eq!(
        found.best_link(),
        Some(
            "https://auth.example.org/confirm?user=4711&token=Zk9fQx2LmP8vR3tY&redirect=https%3A%2F%2Fexample.org%2Fwelcome"
        ),
        "{found:?}"
    );
    assert_eq!(
        found.links.last().map(String::as_str),
        Some("mailto:help@example.org")
    );
    assert!(found.codes.is_empty(), "{found:?}");
}

#[test]
fn code_and_link_in_one_mail() {
    let found = fixture("code_and_link");
    assert_eq!(found.best_code(), Some("305918"), "{found:?}");
    assert_eq!(
        found.best_link(),
        Some("https://acme.example/verify?code=305918&email=jane%40mail.cx")
    );
    assert_eq!(
        found.links.last().map(String::as_str),
        Some("https://acme.example/unsubscribe/jane")
    );
    assert!(!found.codes.iter().any(|c| c == "62704"), "zip: {found:?}");
}

#[test]
fn newsletter_has_links_and_no_code() {
    let found = fixture("newsletter");
    assert!(found.codes.is_empty(), "{found:?}");
    assert!(found.links.len() >= 7, "{found:?}");
    assert!(
        found
            .links
            .contains(&"https://smallcultfollowing.com/babysteps/blog/2025/03/10/".to_string())
    );
    assert!(
        found
            .links
            .contains(&"https://github.com/BurntSushi/jiff".to_string())
    );
    let last = &found.links[found.useful_links..];
    assert_eq!(last.len(), 3, "{found:?}");
    assert!(
        last.iter()
            .all(|l| l.contains("unsubscribe") || l.contains("preferences") || l.contains("twitter"))
    );
}

#[test]
fn receipt_has_no_code() {
    let found = fixture("receipt");
    assert!(found.codes.is_empty(), "{found:?}");
}

#[test]
fn password_reset_link() {
    let found = fixture("password_reset");
    assert_eq!(
        found.best_link(),
        Some(
            "https://accounts.example.net/reset-password/7f3c9a1e-2b4d-4e8f-9a6b-1c2d3e4f5a6b?expires=1736937000"
        )
    );
    assert!(found.codes.is_empty(), "{found:?}");
}

#[test]
fn code_in_the_subject_only() {
    let found = fixture("subject_only");
    assert_eq!(found.codes, vec!["918273"], "{found:?}");
}

#[test]
fn alphanumeric_security_code_in_html() {
    let found = fixture("microsoft_pin");
    assert_eq!(found.codes, vec!["K7Q2XP"], "{found:?}");
    assert_eq!(found.best_link(), Some("https://account.live.com/dp?ft=abc&la=1"));
}

#[test]
fn nothing_in_an_empty_mail() {
    assert!(extract("", None, None).is_empty());
    assert!(extract("Hello", Some("See you at 8."), Some("<p>Hi</p>")).is_empty());
}
