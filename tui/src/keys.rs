//! Key hints: each screen lists the keys that work on it; the bottom bar shows the main ones and
//! `?` shows them all (after gitui's command bar, built from the visible component's commands).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::theme;

/// One key and what it does on the current screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// The key as shown, e.g. `⏎` or `^R`.
    pub key: &'static str,
    /// What it does, in a word or two.
    pub label: &'static str,
    /// Whether the bottom bar shows it (all hints show in the help).
    pub in_bar: bool,
}

/// A hint shown in the bottom bar and in the help.
pub const fn hint(key: &'static str, label: &'static str) -> Hint {
    Hint {
        key,
        label,
        in_bar: true,
    }
}

/// A hint shown only in the help, to keep the bottom bar short.
pub const fn more(key: &'static str, label: &'static str) -> Hint {
    Hint {
        key,
        label,
        in_bar: false,
    }
}

/// Keys that work on every screen, listed at the end of the help.
pub const GLOBAL: &[Hint] = &[
    more("F1", "help"),
    more("^L", "redraw the screen"),
    more("^Z", "suspend (fg resumes)"),
    more("^C", "quit at once"),
];

/// Draws the bar of hints, as many as fit, keeping the help key last.
pub fn render_bar(frame: &mut Frame, area: Rect, hints: &[Hint]) {
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0usize;
    let help = hints.iter().find(|h| h.key == "?");
    let reserve = help.map_or(0, |h| h.key.chars().count() + h.label.chars().count() + 3);
    for h in hints.iter().filter(|h| h.in_bar && h.key != "?") {
        let width = h.key.chars().count() + h.label.chars().count() + 3;
        if used + width + reserve > area.width as usize {
            break;
        }
        push_hint(&mut spans, h);
        used += width;
    }
    if let Some(h) = help {
        push_hint(&mut spans, h);
    }
    frame.render_widget(Line::from(spans), area);
}

fn push_hint(spans: &mut Vec<Span<'static>>, h: &Hint) {
    spans.push(Span::styled(format!(" {} ", h.key), theme::key()));
    spans.push(Span::styled(format!("{} ", h.label), theme::dim()));
}

/// Whether `key` is the plain character `c` (no Ctrl or Alt; Shift is part of the character).
pub fn is_char(key: &KeyEvent, c: char) -> bool {
    key.code == KeyCode::Char(c)
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
}

/// Whether `key` is Ctrl + `c`.
pub fn is_ctrl(key: &KeyEvent, c: char) -> bool {
    key.code == KeyCode::Char(c) && key.modifiers.contains(KeyModifiers::CONTROL)
}

/// A list movement asked by a key: up/down by one or a page, or to either end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// By this many rows (negative is up).
    By(isize),
    /// By this many pages (negative is up).
    Pages(isize),
    /// To the first row.
    First,
    /// To the last row.
    Last,
}

/// The movement a key means in a list or a text view, if any.
pub fn movement(key: &KeyEvent) -> Option<Move> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Move::By(-1),
        KeyCode::Down | KeyCode::Char('j') => Move::By(1),
        KeyCode::PageUp => Move::Pages(-1),
        KeyCode::PageDown | KeyCode::Char(' ') => Move::Pages(1),
        KeyCode::Home | KeyCode::Char('g') => Move::First,
        KeyCode::End | KeyCode::Char('G') => Move::Last,
        _ => return None,
    })
}

/// Applies `m` to a position in `0..len` with `page` rows per page; stays in range.
pub fn apply(m: Move, pos: usize, len: usize, page: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let target = match m {
        Move::By(n) => pos as isize + n,
        Move::Pages(n) => pos as isize + n * page.max(1) as isize,
        Move::First => 0,
        Move::Last => len as isize - 1,
    };
    target.clamp(0, len as isize - 1) as usize
}
