//! The few styles the app uses, in one place so screens look alike. Four palettes: one for
//! dark terminals, one for light ones (no yellow or light gray text, no fixed dark fields), one
//! that reads on both when the background is unknown, and one without colour for `NO_COLOR`
//! (bold, dim, reverse and underline only).

use std::sync::atomic::{AtomicU8, Ordering};

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The `theme` of `config.toml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    /// Light or dark as the terminal says (`COLORFGBG`), else styles that read on both.
    #[default]
    Auto,
    /// For a light background.
    Light,
    /// For a dark background.
    Dark,
}

/// The styles in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Palette {
    /// Colours for a dark background.
    Dark = 0,
    /// Colours for a light background.
    Light = 1,
    /// No colour at all (`NO_COLOR`).
    Plain = 2,
    /// The background is unknown: no colour that fails on either (no light gray or yellow
    /// text, no fixed background behind default text).
    Neutral = 3,
}

static PALETTE: AtomicU8 = AtomicU8::new(Palette::Dark as u8);

/// Picks the palette once at start-up: `NO_COLOR` (set and not empty, see no-color.org) wins
/// over the theme; `auto` reads the background from `COLORFGBG`.
pub fn init(choice: ThemeChoice) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let colorfgbg = std::env::var("COLORFGBG").ok();
    PALETTE.store(
        choose(choice, no_color, colorfgbg.as_deref()) as u8,
        Ordering::Relaxed,
    );
}

/// The palette for these settings.
fn choose(choice: ThemeChoice, no_color: bool, colorfgbg: Option<&str>) -> Palette {
    match choice {
        _ if no_color => Palette::Plain,
        ThemeChoice::Light => Palette::Light,
        ThemeChoice::Dark => Palette::Dark,
        ThemeChoice::Auto => match colorfgbg.and_then(background) {
            Some(true) => Palette::Light,
            Some(false) => Palette::Dark,
            None => Palette::Neutral,
        },
    }
}

/// Whether `COLORFGBG` ("15;0", "0;default;15") names a light background (true: its last field
/// is white, 7, or a bright colour, 9–15) or a dark one; `None` when it says nothing usable.
fn background(colorfgbg: &str) -> Option<bool> {
    let background = colorfgbg.rsplit(';').next()?.parse::<u8>().ok()?;
    Some(matches!(background, 7 | 9..=15))
}

fn palette() -> Palette {
    match PALETTE.load(Ordering::Relaxed) {
        1 => Palette::Light,
        2 => Palette::Plain,
        3 => Palette::Neutral,
        _ => Palette::Dark,
    }
}

/// `dark`, `light` or `plain` by the palette in use; the neutral palette takes the light one's
/// style where that reads on dark too (`safe`), else the plain one.
fn by(dark: Style, light: Style, plain: Style, safe: bool) -> Style {
    match palette() {
        Palette::Dark => dark,
        Palette::Light => light,
        Palette::Neutral if safe => light,
        Palette::Neutral | Palette::Plain => plain,
    }
}

const BOLD: Modifier = Modifier::BOLD;

/// Titles and the app name.
pub fn title() -> Style {
    by(
        Style::new().fg(Color::Cyan).add_modifier(BOLD),
        Style::new().fg(Color::Blue).add_modifier(BOLD),
        Style::new().add_modifier(BOLD),
        false,
    )
}

/// The selected row of a list.
pub fn selected() -> Style {
    by(
        Style::new().bg(Color::DarkGray).add_modifier(BOLD),
        Style::new().add_modifier(Modifier::REVERSED),
        Style::new().add_modifier(Modifier::REVERSED),
        true,
    )
}

/// Secondary text: previews, labels, hints.
pub fn dim() -> Style {
    by(
        Style::new().fg(Color::Gray),
        // Palette 8: palette 7 is near white on a light background.
        Style::new().fg(Color::DarkGray),
        Style::new().add_modifier(Modifier::DIM),
        false,
    )
}

/// Validation and server errors.
pub fn error() -> Style {
    by(
        Style::new().fg(Color::Red),
        Style::new().fg(Color::Red),
        Style::new().add_modifier(BOLD),
        true,
    )
}

/// Good news: live connection, success notices.
pub fn ok() -> Style {
    by(
        Style::new().fg(Color::Green),
        Style::new().fg(Color::Green),
        Style::new(),
        true,
    )
}

/// Unread messages.
pub fn unread() -> Style {
    Style::new().add_modifier(BOLD)
}

/// A key in the key bar or the help.
pub fn key() -> Style {
    by(
        Style::new().fg(Color::Black).bg(Color::Cyan),
        Style::new().fg(Color::White).bg(Color::Blue),
        Style::new().add_modifier(Modifier::REVERSED),
        true,
    )
}

/// The focused form field.
pub fn focused() -> Style {
    by(
        Style::new().fg(Color::Yellow),
        // Yellow on white cannot be read.
        Style::new().fg(Color::Magenta),
        Style::new().add_modifier(Modifier::UNDERLINED),
        true,
    )
}

/// An input box's text area.
pub fn input() -> Style {
    by(
        Style::new().bg(Color::Rgb(40, 40, 40)),
        // No fixed dark field on a light terminal: an underline marks it.
        Style::new().add_modifier(Modifier::UNDERLINED),
        Style::new().add_modifier(Modifier::UNDERLINED),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_and_auto_reads_the_background() {
        assert_eq!(choose(ThemeChoice::Dark, true, None), Palette::Plain);
        assert_eq!(choose(ThemeChoice::Light, false, None), Palette::Light);
        assert_eq!(choose(ThemeChoice::Auto, false, Some("0;15")), Palette::Light);
        assert_eq!(
            choose(ThemeChoice::Auto, false, Some("0;default;7")),
            Palette::Light
        );
        assert_eq!(choose(ThemeChoice::Auto, false, Some("15;0")), Palette::Dark);
        assert_eq!(
            choose(ThemeChoice::Auto, false, Some("garbage")),
            Palette::Neutral
        );
        assert_eq!(choose(ThemeChoice::Auto, false, None), Palette::Neutral);
    }
}
