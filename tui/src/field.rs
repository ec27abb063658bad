//! One text-input component for plain and password fields (after gitui's textinput): a label,
//! the value (masked for passwords), and the message that concerns it.

use crossterm::event::{Event, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

use crate::theme;

/// Width of the label column of every form, so fields line up.
pub const LABEL_WIDTH: u16 = 20;

/// A labelled single-line text field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The label shown left of the value.
    pub label: &'static str,
    input: Input,
    masked: bool,
    /// The server's message about this field, shown until the field is edited.
    pub server_error: Option<String>,
}

impl Field {
    /// A plain text field.
    pub fn new(label: &'static str) -> Field {
        Field {
            label,
            input: Input::default(),
            masked: false,
            server_error: None,
        }
    }

    /// A password field: every character shows as a bullet.
    pub fn masked(label: &'static str) -> Field {
        Field {
            masked: true,
            ..Field::new(label)
        }
    }

    /// The current value.
    pub fn value(&self) -> &str {
        self.input.value()
    }

    /// Replaces the value and puts the cursor at its end.
    pub fn set(&mut self, value: impl Into<String>) {
        self.input = Input::new(value.into());
        self.server_error = None;
    }

    /// Inserts pasted text at the cursor (line breaks dropped).
    pub fn paste(&mut self, text: &str) {
        for c in text.chars().filter(|c| !c.is_control()) {
            self.input.handle(tui_input::InputRequest::InsertChar(c));
        }
        self.server_error = None;
    }

    /// Edits the value with a key (typing, deleting, moving the cursor); true if it was an edit key.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        match to_input_request(&Event::Key(key)) {
            Some(request) => {
                if let Some(change) = self.input.handle(request)
                    && change.value
                {
                    // The server's complaint was about the old value.
                    self.server_error = None;
                }
                true
            }
            None => false,
        }
    }

    /// The message shown under the field: the server's, else `message`.
    pub fn shown_message<'a>(&'a self, message: Option<&'a str>) -> Option<&'a str> {
        self.server_error.as_deref().or(message)
    }

    /// Draws the field on the first row of `area` and `message` (an error) wrapped on the rows
    /// below ([`rows_needed`] says how many).
    pub fn render(&self, frame: &mut Frame, area: Rect, focused: bool, message: Option<&str>) {
        let [row, below] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
        let [label_area, value_area] =
            Layout::horizontal([Constraint::Length(LABEL_WIDTH), Constraint::Fill(1)]).areas(row);
        let marker = if focused { "› " } else { "  " };
        let label_style = if focused { theme::focused() } else { theme::dim() };
        frame.render_widget(
            Line::from(vec![
                Span::styled(marker, label_style),
                Span::styled(self.label, label_style),
            ]),
            label_area,
        );

        let width = value_area.width.max(1) as usize;
        let scroll = self.input.visual_scroll(width.saturating_sub(1));
        let shown: String = if self.masked {
            "•".repeat(self.input.value().chars().count())
        } else {
            self.input.value().to_string()
        };
        let visible: String = shown.chars().skip(scroll).collect();
        frame.render_widget(Line::styled(visible, theme::input()), value_area);
        if focused {
            let cursor = self.input.visual_cursor().saturating_sub(scroll) as u16;
            frame.set_cursor_position((
                value_area.x + cursor.min(value_area.width.saturating_sub(1)),
                value_area.y,
            ));
        }

        if let Some(message) = self.server_error.as_deref().or(message) {
            render_message(frame, below, message);
        }
    }
}

/// Draws a field's error under it, starting below the label so long messages fit, wrapped over
/// the rows of `area` (a narrow form gives it more than one).
pub fn render_message(frame: &mut Frame, area: Rect, message: &str) {
    let width = area.width.saturating_sub(MESSAGE_INDENT) as usize;
    let lines: Vec<Line> = crate::text::wrap(message, width)
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let lead = if i == 0 { "  ↳ " } else { "    " };
            Line::styled(format!("{lead}{part}"), theme::error())
        })
        .collect();
    frame.render_widget(ratatui::widgets::Paragraph::new(lines), area);
}

/// Columns before a message's text: `  ↳ `.
const MESSAGE_INDENT: u16 = 4;

/// Rows a field needs in a form `width` wide: its own, and its message's (one even when there is
/// none, so the form does not jump as messages come and go).
pub fn rows_needed(message: Option<&str>, width: u16) -> u16 {
    let width = width.saturating_sub(MESSAGE_INDENT) as usize;
    let message_rows = message.map_or(1, |m| crate::text::wrap(m, width).len().max(1));
    1 + message_rows as u16
}
