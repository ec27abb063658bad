//! The headers view (`H` in the reader): To, Cc, Reply-To, Message-ID, List-Unsubscribe and
//! the full subject, each value wrapped so nothing is cut.

use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use uuid::Uuid;

use super::{Ctx, wheel};
use crate::action::Action;
use crate::headers::HeaderRow;
use crate::keys::{self, Binding, END_KEYS, Key, MOVE_KEYS, Move, PAGE_KEYS, bind, hint, more};
use crate::{text, theme};

/// What a key does in the headers view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Scroll ([`keys::movement`] says how far).
    Scroll,
    /// Close the view.
    Back,
    /// Show every key.
    Help,
}

/// The keys of the headers view: what they do and how the help shows them.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(MOVE_KEYS, hint("↑↓", "scroll"), Cmd::Scroll),
    bind(&[Key::Char('q'), Key::Char('H')], hint("q", "back"), Cmd::Back),
    bind(PAGE_KEYS, more("PgUp/PgDn", "page up/down"), Cmd::Scroll),
    bind(END_KEYS, more("g/G", "top/bottom"), Cmd::Scroll),
    bind(&[Key::Code(KeyCode::Esc)], more("Esc", "back"), Cmd::Back),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// Width of the name column ("List-Unsubscribe" and a space).
const NAME_WIDTH: usize = 17;

/// State of the headers view.
#[derive(Debug)]
pub struct HeadersView {
    /// The message's id.
    pub id: Uuid,
    rows: Vec<HeaderRow>,
    scroll: usize,
    /// Lines of the last frame: (width, lines), rebuilt on resize.
    wrapped: Option<(usize, Vec<Line<'static>>)>,
    height: usize,
}

impl HeadersView {
    /// A view of these headers.
    pub fn new(id: Uuid, rows: Vec<HeaderRow>) -> HeadersView {
        HeadersView {
            id,
            rows,
            scroll: 0,
            wrapped: None,
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
        let lines = self.wrapped.as_ref().map_or(0, |(_, l)| l.len());
        self.scroll = keys::scroll(m, self.scroll, lines, self.height);
    }

    /// Draws the headers, name then value; a narrow screen puts the value under its name.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, _ctx: &Ctx) {
        let block = Block::bordered().title(Span::styled(" Headers ", theme::title()));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let width = inner.width.saturating_sub(2).max(1) as usize;
        if !matches!(&self.wrapped, Some((w, _)) if *w == width) {
            self.wrapped = Some((width, self.lines(width)));
        }
        self.height = inner.height.max(1) as usize;
        let lines = self.wrapped.as_ref().map_or(&[][..], |(_, l)| l.as_slice());
        self.scroll = self.scroll.min(lines.len().saturating_sub(self.height));
        let end = (self.scroll + self.height).min(lines.len());
        let visible = if self.rows.is_empty() {
            vec![Line::styled(
                "No headers could be read from the source.",
                theme::dim(),
            )]
        } else {
            lines[self.scroll..end].to_vec()
        };
        let area = Rect {
            x: inner.x + 1,
            width: inner.width.saturating_sub(2),
            ..inner
        };
        frame.render_widget(Paragraph::new(visible), area);
    }

    fn lines(&self, width: usize) -> Vec<Line<'static>> {
        let side_by_side = width >= NAME_WIDTH + 20;
        let mut out = Vec::new();
        for row in &self.rows {
            let name = Span::styled(format!("{:<NAME_WIDTH$}", row.name), theme::dim());
            if side_by_side {
                let values = text::wrap(&row.value, width - NAME_WIDTH);
                for (i, value) in values.into_iter().enumerate() {
                    let label = if i == 0 {
                        name.clone()
                    } else {
                        Span::raw(" ".repeat(NAME_WIDTH))
                    };
                    out.push(Line::from(vec![label, Span::raw(value)]));
                }
            } else {
                out.push(Line::from(name));
                out.extend(text::wrap(&row.value, width).into_iter().map(Line::raw));
            }
        }
        out
    }
}
