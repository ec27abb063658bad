//! A one-line text prompt at the bottom of a screen: the inbox's filter (`/`) and the reader's
//! pipe command (`|`) are typed here. Letters go into the line, not to the screen's keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::keys::{Hint, hint, is_ctrl};
use crate::{format, theme};

/// The keys of a prompt.
pub const HINTS: &[Hint] = &[hint("⏎", "run"), hint("Esc", "cancel"), hint("^U", "erase all")];

/// What a key did to the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKey {
    /// The key was taken (typing).
    Kept,
    /// `⏎`: the text, trimmed.
    Done(String),
    /// `Esc`.
    Cancel,
}

/// The text being typed.
#[derive(Debug, Default, Clone)]
pub struct Prompt {
    text: String,
}

impl Prompt {
    /// A prompt starting with `text` (to refine, or a default to accept).
    pub fn new(text: impl Into<String>) -> Prompt {
        Prompt { text: text.into() }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> PromptKey {
        if is_ctrl(&key, 'u') {
            self.text.clear();
            return PromptKey::Kept;
        }
        match key.code {
            KeyCode::Enter => PromptKey::Done(self.text.trim().to_string()),
            KeyCode::Esc => PromptKey::Cancel,
            KeyCode::Backspace => {
                self.text.pop();
                PromptKey::Kept
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                self.text.push(c);
                PromptKey::Kept
            }
            _ => PromptKey::Kept,
        }
    }

    /// Draws ` label  text▏  help`.
    pub fn render(&self, frame: &mut Frame, area: Rect, label: &str, help: &str) {
        let line = Line::from(vec![
            Span::styled(format!(" {label} "), theme::key()),
            Span::raw(format!(" {}", format::one_line(&self.text))),
            Span::styled("▏", theme::focused()),
            Span::styled(format!("  {help}"), theme::dim()),
        ]);
        frame.render_widget(line, area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_editing_and_enter() {
        let mut p = Prompt::new("less");
        assert_eq!(
            p.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
            PromptKey::Kept
        );
        for c in "wc -lx".chars() {
            p.on_key(KeyEvent::from(KeyCode::Char(c)));
        }
        p.on_key(KeyEvent::from(KeyCode::Backspace));
        assert_eq!(
            p.on_key(KeyEvent::from(KeyCode::Enter)),
            PromptKey::Done("wc -l".into())
        );
        assert_eq!(p.on_key(KeyEvent::from(KeyCode::Esc)), PromptKey::Cancel);
    }
}
