//! The inbox's filter: `/` opens a line to type words into, `⏎` asks the server to search
//! (`GET /api/messages?q=`), `Esc` clears it. The line stays visible while a filter applies.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::prompt::{Prompt, PromptKey};
use crate::{format, theme};

/// What a key did to the filter line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterKey {
    /// The key was taken (typing); nothing else to do.
    Kept,
    /// `⏎`: search for this text (empty: show everything again).
    Apply(String),
    /// `Esc`: typing stopped and the filter is gone.
    Clear,
}

/// The typed words and the applied search.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// The search the list shows (empty: none).
    query: String,
    /// The line being typed after `/`, until `⏎` or `Esc`.
    typing: Option<Prompt>,
}

impl Filter {
    /// The applied search; empty when the list is unfiltered.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// Whether the person is typing a search (keys go to the line).
    pub fn is_typing(&self) -> bool {
        self.typing.is_some()
    }

    /// Whether the line takes a row: while typing or while a search applies.
    pub fn is_shown(&self) -> bool {
        self.typing.is_some() || !self.query.is_empty()
    }

    /// `/`: starts typing, from the applied search so it can be refined.
    pub fn start(&mut self) {
        self.typing = Some(Prompt::new(self.query.clone()));
    }

    /// Drops the search (and any typing); true if a search was applied.
    pub fn clear(&mut self) -> bool {
        self.typing = None;
        !std::mem::take(&mut self.query).is_empty()
    }

    /// Handles a key while typing.
    pub fn on_key(&mut self, key: KeyEvent) -> FilterKey {
        let Some(prompt) = self.typing.as_mut() else {
            return FilterKey::Kept;
        };
        match prompt.on_key(key) {
            PromptKey::Kept => FilterKey::Kept,
            PromptKey::Done(query) => {
                self.typing = None;
                self.query = query.clone();
                FilterKey::Apply(query)
            }
            PromptKey::Cancel => {
                self.clear();
                FilterKey::Clear
            }
        }
    }

    /// Draws the line: the typed text with a cursor, or the applied search.
    pub fn render(&self, frame: &mut Frame, area: Rect) {
        match &self.typing {
            Some(prompt) => prompt.render(frame, area, "/", "⏎ search  Esc clear"),
            None => frame.render_widget(
                Line::from(vec![
                    Span::styled(" / ", theme::key()),
                    Span::styled(format!(" “{}”", format::one_line(&self.query)), theme::title()),
                    Span::styled("  / change  Esc clear", theme::dim()),
                ]),
                area,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyCode;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::from(code)
    }

    #[test]
    fn typing_then_enter_applies_the_trimmed_text() {
        let mut f = Filter::default();
        f.start();
        for c in " code q".chars() {
            assert_eq!(f.on_key(key(KeyCode::Char(c))), FilterKey::Kept);
        }
        f.on_key(key(KeyCode::Backspace));
        assert_eq!(f.on_key(key(KeyCode::Enter)), FilterKey::Apply("code".into()));
        assert_eq!(f.query(), "code");
        assert!(f.is_shown() && !f.is_typing());
    }

    #[test]
    fn esc_while_typing_drops_the_search() {
        let mut f = Filter::default();
        f.start();
        f.on_key(key(KeyCode::Char('x')));
        f.on_key(key(KeyCode::Enter));
        f.start();
        assert_eq!(f.on_key(key(KeyCode::Esc)), FilterKey::Clear);
        assert_eq!(f.query(), "");
        assert!(!f.is_shown());
        assert!(!f.clear(), "nothing left to clear");
    }
}
