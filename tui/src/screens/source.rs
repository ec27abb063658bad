//! The raw source of a message, exactly as received, scrollable both ways.

use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use uuid::Uuid;

use super::{Ctx, wheel};
use crate::action::Action;
use crate::keys::{self, Binding, END_KEYS, Key, MOVE_KEYS, Move, PAGE_KEYS, bind, hint, more};
use crate::{format, text, theme};

/// What a key does in the source view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Scroll up or down ([`keys::movement`] says how far).
    Scroll,
    /// Scroll left or right (by the arrow pressed).
    Sideways,
    /// Save the source as a `.eml` file.
    Save,
    /// Close the view.
    Back,
    /// Show every key.
    Help,
}

/// The keys of the source view: what they do and how the help shows them.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(MOVE_KEYS, hint("↑↓", "scroll"), Cmd::Scroll),
    bind(
        &[Key::Code(KeyCode::Left), Key::Code(KeyCode::Right)],
        hint("←→", "sideways"),
        Cmd::Sideways,
    ),
    bind(&[Key::Char('s')], hint("s", "save .eml"), Cmd::Save),
    bind(&[Key::Char('q')], hint("q", "back"), Cmd::Back),
    bind(PAGE_KEYS, more("PgUp/PgDn", "page up/down"), Cmd::Scroll),
    bind(END_KEYS, more("g/G", "top/bottom"), Cmd::Scroll),
    bind(&[Key::Code(KeyCode::Esc)], more("Esc", "back"), Cmd::Back),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// Sources up to this size are split into lines in the frame; larger in a background task.
pub const INLINE_SOURCE: usize = 256 * 1024;

/// The lines of a raw source, shown as UTF-8 with invalid bytes replaced.
pub fn source_lines(bytes: &[u8]) -> Vec<String> {
    text::lines(&String::from_utf8_lossy(bytes))
}

/// How far ← and → move.
const SIDE_STEP: usize = 8;

/// State of the source view.
#[derive(Debug)]
pub struct SourceView {
    /// The message's id (names the saved file).
    pub id: Uuid,
    bytes: Vec<u8>,
    /// The source split into lines once, so a frame only slices the visible ones.
    lines: Vec<String>,
    scroll: usize,
    column: usize,
    height: usize,
}

impl SourceView {
    /// A view of `bytes` (shown as UTF-8, invalid bytes replaced). Splitting a large source takes
    /// a while: for one over [`INLINE_SOURCE`] call [`source_lines`] off the UI thread and
    /// [`SourceView::with_lines`].
    pub fn new(id: Uuid, bytes: Vec<u8>) -> SourceView {
        let lines = source_lines(&bytes);
        SourceView::with_lines(id, bytes, lines)
    }

    /// A view of `bytes` already split into `lines` by [`source_lines`].
    pub fn with_lines(id: Uuid, bytes: Vec<u8>, lines: Vec<String>) -> SourceView {
        SourceView {
            id,
            bytes,
            lines,
            scroll: 0,
            column: 0,
            height: 1,
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, _ctx: &Ctx) -> Option<Action> {
        match keys::command(KEYS, &key)? {
            Cmd::Scroll => {
                if let Some(m) = keys::movement(&key) {
                    self.scroll_by(m);
                }
                None
            }
            Cmd::Sideways if key.code == KeyCode::Left => {
                self.column = self.column.saturating_sub(SIDE_STEP);
                None
            }
            Cmd::Sideways => {
                self.column += SIDE_STEP;
                None
            }
            Cmd::Save => Some(Action::SaveBytes {
                name: format!("{}.eml", self.id),
                bytes: self.bytes.clone(),
            }),
            Cmd::Back => Some(Action::Back),
            Cmd::Help => Some(Action::Help),
        }
    }

    /// Scrolls with the wheel.
    pub fn on_mouse(&mut self, mouse: MouseEvent) -> Option<Action> {
        if let Some(m) = wheel(&mouse) {
            self.scroll_by(m);
        }
        None
    }

    fn scroll_by(&mut self, m: Move) {
        self.scroll = keys::scroll(m, self.scroll, self.lines.len(), self.height);
    }

    /// Draws the visible lines.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        let block = Block::bordered().title(Line::from(vec![
            Span::styled(" Source ", theme::title()),
            Span::styled(
                format!(
                    "· {} lines · {} ",
                    self.lines.len(),
                    format::size(self.bytes.len() as u64)
                ),
                theme::dim(),
            ),
        ]));
        let inner = block.inner(area);
        self.height = inner.height.max(1) as usize;
        self.scroll = self.scroll.min(self.lines.len().saturating_sub(self.height));
        let end = (self.scroll + self.height).min(self.lines.len());
        let visible: Vec<Line> = self.lines[self.scroll..end]
            .iter()
            .map(|l| Line::raw(l.chars().skip(self.column).collect::<String>()))
            .collect();
        frame.render_widget(Paragraph::new(visible).block(block), area);
    }
}
