//! The few styles the app uses, in one place so screens look alike.

use ratatui::style::{Color, Modifier, Style};

/// Titles and the app name.
pub fn title() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// The selected row of a list.
pub fn selected() -> Style {
    Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD)
}

/// Secondary text: previews, labels, hints.
pub fn dim() -> Style {
    Style::new().fg(Color::Gray)
}

/// Validation and server errors.
pub fn error() -> Style {
    Style::new().fg(Color::Red)
}

/// Good news: live connection, success notices.
pub fn ok() -> Style {
    Style::new().fg(Color::Green)
}

/// Unread messages.
pub fn unread() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// A key in the key bar or the help.
pub fn key() -> Style {
    Style::new().fg(Color::Black).bg(Color::Cyan)
}

/// The focused form field.
pub fn focused() -> Style {
    Style::new().fg(Color::Yellow)
}

/// An input box's text area.
pub fn input() -> Style {
    Style::new().bg(Color::Rgb(40, 40, 40))
}
