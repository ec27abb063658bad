//! Keys and their hints: each screen has one table of [`Binding`]s that both handles its keys
//! ([`command`]) and lists them ([`table_hints`]), so the two cannot drift apart. The bottom bar
//! shows the main hints and `?` shows them all (after gitui's command bar, built from the visible
//! component's commands).

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

/// A key as a table binds it: a plain character (Shift is part of it), Ctrl + a character, or a
/// special key without Ctrl or Alt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character typed without Ctrl or Alt.
    Char(char),
    /// Ctrl + a character.
    Ctrl(char),
    /// A special key (arrows, ⏎, Esc, Tab, F-keys…).
    Code(KeyCode),
}

impl Key {
    /// Whether `event` is this key.
    pub fn matches(self, event: &KeyEvent) -> bool {
        match self {
            Key::Char(c) => is_char(event, c),
            Key::Ctrl(c) => is_ctrl(event, c),
            Key::Code(code) => {
                event.code == code
                    && !event
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            }
        }
    }

    /// How a hint writes this key: `y`, `^R`, `⏎`, `↑`, `PgUp`, `S-Tab`, `F1`, `space`.
    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => "space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("^{}", c.to_ascii_uppercase()),
            Key::Code(code) => match code {
                KeyCode::Enter => "⏎".into(),
                KeyCode::Esc => "Esc".into(),
                KeyCode::Tab => "Tab".into(),
                KeyCode::BackTab => "S-Tab".into(),
                KeyCode::Up => "↑".into(),
                KeyCode::Down => "↓".into(),
                KeyCode::Left => "←".into(),
                KeyCode::Right => "→".into(),
                KeyCode::PageUp => "PgUp".into(),
                KeyCode::PageDown => "PgDn".into(),
                KeyCode::Home => "Home".into(),
                KeyCode::End => "End".into(),
                KeyCode::Backspace => "⌫".into(),
                KeyCode::F(n) => format!("F{n}"),
                other => format!("{other:?}"),
            },
        }
    }
}

/// One row of a screen's key table: the keys, the hint that shows them, the command they give.
#[derive(Debug, Clone, Copy)]
pub struct Binding<C: 'static> {
    /// The keys that give the command.
    pub keys: &'static [Key],
    /// How the help and the bottom bar show them.
    pub hint: Hint,
    /// What the screen does for them.
    pub cmd: C,
}

/// A row of a key table.
pub const fn bind<C>(keys: &'static [Key], hint: Hint, cmd: C) -> Binding<C> {
    Binding { keys, hint, cmd }
}

/// The command `event` gives in `table`, if any: the first row with a matching key wins.
pub fn command<C: Copy>(table: &[Binding<C>], event: &KeyEvent) -> Option<C> {
    table
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(event)))
        .map(|b| b.cmd)
}

/// The hints of `table`, in its order, for the rows whose command `shown` keeps (a command that
/// does nothing now, like saving a file of a message without files, is left out).
pub fn table_hints<C: Copy>(table: &[Binding<C>], shown: impl Fn(C) -> bool) -> Vec<Hint> {
    table.iter().filter(|b| shown(b.cmd)).map(|b| b.hint).collect()
}

/// The keys `↑↓` (and `k`/`j`) move by one row.
pub const MOVE_KEYS: &[Key] = &[
    Key::Code(KeyCode::Up),
    Key::Code(KeyCode::Down),
    Key::Char('k'),
    Key::Char('j'),
];
/// The keys that move by a page.
pub const PAGE_KEYS: &[Key] = &[
    Key::Code(KeyCode::PageUp),
    Key::Code(KeyCode::PageDown),
    Key::Char(' '),
];
/// The keys that move to either end.
pub const END_KEYS: &[Key] = &[
    Key::Code(KeyCode::Home),
    Key::Code(KeyCode::End),
    Key::Char('g'),
    Key::Char('G'),
];

/// Checks a key table: every key a hint shows is bound in its row (`PgUp/PgDn` is two keys,
/// `↑↓` two arrows), so no hint names a key that does something else or nothing.
pub fn check_table<C>(table: &[Binding<C>]) -> Result<(), String> {
    for b in table {
        let bound: Vec<String> = b.keys.iter().map(|k| k.label()).collect();
        for shown in hint_keys(b.hint.key) {
            if !bound.contains(&shown) {
                return Err(format!(
                    "the hint {:?} shows {shown:?}, which its row does not bind ({bound:?})",
                    b.hint.key
                ));
            }
        }
    }
    Ok(())
}

/// The keys a hint's text names: `PgUp/PgDn` → `PgUp`, `PgDn`; `↑↓` → `↑`, `↓`; `n/Esc` → `n`,
/// `Esc`.
fn hint_keys(text: &str) -> Vec<String> {
    if text == "/" {
        return vec![text.to_string()];
    }
    text.split('/')
        .flat_map(|part| {
            if part.chars().all(|c| "↑↓←→".contains(c)) && part.chars().count() > 1 {
                part.chars().map(String::from).collect()
            } else {
                vec![part.to_string()]
            }
        })
        .collect()
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

/// Applies `m` to the first line shown of a text `lines` long seen `height` lines at a time: the
/// last line goes no higher than the bottom row, and a page keeps one line of the one before.
pub fn scroll(m: Move, top: usize, lines: usize, height: usize) -> usize {
    apply(m, top, lines.saturating_sub(height) + 1, height.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screens::{create, headers, home, inbox, reader, signin, source, watch};

    #[test]
    fn every_hint_names_only_keys_its_row_handles() {
        check_table(home::KEYS).unwrap();
        check_table(create::KEYS).unwrap();
        check_table(signin::KEYS).unwrap();
        check_table(inbox::KEYS).unwrap();
        check_table(reader::KEYS).unwrap();
        check_table(source::KEYS).unwrap();
        check_table(headers::KEYS).unwrap();
        check_table(watch::KEYS).unwrap();
    }

    #[test]
    fn a_hint_for_a_key_nothing_handles_is_caught() {
        #[derive(Clone, Copy)]
        struct Nothing;
        let drifted = [bind(&[Key::Char('x')], hint("y", "copy"), Nothing)];
        assert!(check_table(&drifted).is_err());
        let paged = [bind(PAGE_KEYS, hint("PgUp/PgDn", "page"), Nothing)];
        assert!(check_table(&paged).is_ok());
        let arrows = [bind(&[Key::Code(KeyCode::Up)], hint("↑↓", "move"), Nothing)];
        assert!(check_table(&arrows).is_err(), "↓ is not bound");
    }

    #[test]
    fn the_first_row_that_binds_a_key_gives_its_command() {
        let space = KeyEvent::from(KeyCode::Char(' '));
        assert_eq!(command(inbox::KEYS, &space), Some(inbox::Cmd::Mark));
        assert_eq!(command(reader::KEYS, &space), Some(reader::Cmd::Scroll));
        let ctrl_r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert_eq!(command(create::KEYS, &ctrl_r), Some(create::Cmd::Random));
        assert_eq!(command(home::KEYS, &ctrl_r), None, "^R is not r");
    }
}
