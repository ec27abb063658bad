//! Popups over the current screen: a message (errors, notices), a yes/no question, the full key
//! help, and a mailbox's details. The top popup takes the keys until it closes.

use crossterm::event::{KeyCode, KeyEvent};
use mailcx_common::{Me, Role};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph, Wrap};

use crate::action::Action;
use crate::keys::{Hint, hint, is_char};
use crate::{format, theme};

/// One popup.
#[derive(Debug)]
pub enum Popup {
    /// Text to read and dismiss; `error` draws it in red.
    Message {
        title: String,
        text: String,
        error: bool,
    },
    /// A question; `y` runs `on_yes`.
    Confirm {
        title: String,
        text: String,
        yes: &'static str,
        on_yes: Option<Action>,
    },
    /// Every key of the screen below.
    Help { title: String, hints: Vec<Hint> },
    /// A mailbox's details (`GET /api/me`), loading until `me` or `error` arrives.
    Inspect {
        address: String,
        me: Option<Me>,
        error: Option<String>,
    },
}

/// What a key did to a popup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopupKey {
    /// Nothing; the popup stays.
    Keep,
    /// Close the popup.
    Close,
    /// Close the popup and run its `on_yes`.
    Confirm,
}

impl Popup {
    /// An error message.
    pub fn error(title: impl Into<String>, text: impl Into<String>) -> Popup {
        Popup::Message {
            title: title.into(),
            text: text.into(),
            error: true,
        }
    }

    /// A plain message.
    pub fn info(title: impl Into<String>, text: impl Into<String>) -> Popup {
        Popup::Message {
            title: title.into(),
            text: text.into(),
            error: false,
        }
    }

    /// Handles a key.
    pub fn on_key(&self, key: KeyEvent) -> PopupKey {
        let closes = matches!(key.code, KeyCode::Esc | KeyCode::Enter) || is_char(&key, 'q');
        match self {
            Popup::Confirm { .. } if is_char(&key, 'y') || key.code == KeyCode::Enter => PopupKey::Confirm,
            Popup::Confirm { .. } if is_char(&key, 'n') || closes => PopupKey::Close,
            Popup::Help { .. } if closes || is_char(&key, '?') || key.code == KeyCode::F(1) => {
                PopupKey::Close
            }
            Popup::Inspect { .. } if closes || is_char(&key, 'i') => PopupKey::Close,
            Popup::Message { .. } if closes || key.code == KeyCode::Char(' ') => PopupKey::Close,
            _ => PopupKey::Keep,
        }
    }

    /// The keys this popup answers to.
    pub fn hints(&self) -> Vec<Hint> {
        match self {
            Popup::Confirm { yes, .. } => vec![hint("y", yes), hint("n", "cancel")],
            _ => vec![hint("Esc", "close")],
        }
    }

    /// Draws the popup centred in `area`.
    pub fn render(&self, frame: &mut Frame, area: Rect, spinner: &str) {
        match self {
            Popup::Message { title, text, error } => {
                let style = if *error { theme::error() } else { theme::title() };
                let body = Paragraph::new(text.as_str()).wrap(Wrap { trim: false });
                text_box(frame, area, title, style, body, text, "⏎ close");
            }
            Popup::Confirm { title, text, yes, .. } => {
                let body = Paragraph::new(text.as_str()).wrap(Wrap { trim: false });
                let footer = format!("y {yes}   n cancel");
                text_box(frame, area, title, theme::error(), body, text, &footer);
            }
            Popup::Help { title, hints } => render_help(frame, area, title, hints),
            Popup::Inspect { address, me, error } => {
                render_inspect(frame, area, address, me.as_ref(), error.as_deref(), spinner)
            }
        }
    }
}

/// A bordered box sized to its text, with a footer line of keys.
fn text_box(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    style: ratatui::style::Style,
    body: Paragraph,
    text: &str,
    footer: &str,
) {
    let width = area.width.saturating_sub(4).min(64);
    let inner_width = width.saturating_sub(4).max(1) as usize;
    let text_lines: usize = text
        .lines()
        .map(|l| crate::text::wrap(l, inner_width).len())
        .sum::<usize>()
        .max(1);
    // Borders above and below; the keys sit in the bottom border.
    let height = (text_lines as u16 + 2).min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(Span::styled(format!(" {title} "), style))
        .title_bottom(Line::styled(format!(" {footer} "), theme::dim()).right_aligned())
        .border_style(style)
        .padding(ratatui::widgets::Padding::horizontal(1));
    frame.render_widget(body.block(block), popup);
}

fn render_help(frame: &mut Frame, area: Rect, title: &str, hints: &[Hint]) {
    let width = area.width.saturating_sub(4).min(50);
    let height = (hints.len() as u16 + 2).min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(Span::styled(format!(" {title} "), theme::title()))
        .title_bottom(Line::styled(" Esc close ", theme::dim()).right_aligned());
    let lines: Vec<Line> = hints
        .iter()
        .map(|h| {
            Line::from(vec![
                Span::styled(format!(" {:>9} ", h.key), theme::key()),
                Span::raw("  "),
                Span::raw(h.label),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

fn render_inspect(
    frame: &mut Frame,
    area: Rect,
    address: &str,
    me: Option<&Me>,
    error: Option<&str>,
    spinner: &str,
) {
    let width = area.width.saturating_sub(4).min(64);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(9));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(Span::styled(format!(" {address} "), theme::title()))
        .title_bottom(Line::styled(" Esc close ", theme::dim()).right_aligned())
        .padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let Some(me) = me else {
        let text = match error {
            Some(error) => Line::styled(error.to_string(), theme::error()),
            None => Line::styled(format!("{spinner} Loading…"), theme::dim()),
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
        return;
    };
    let [info, _, gauge] = Layout::vertical([
        Constraint::Length(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let role = match me.role {
        Role::User => "user",
        Role::Pro => "pro",
    };
    let row = |label: &'static str, value: String| {
        Line::from(vec![
            Span::styled(format!("{label:<10}"), theme::dim()),
            Span::raw(value),
        ])
    };
    let lines = vec![
        row("Address", me.address.clone()),
        row("ID", me.id.to_string()),
        row("Role", role.to_string()),
        row("Created", format::date(me.created_at)),
        row(
            "Used",
            format!("{} of {}", format::size(me.used), format::size(me.quota)),
        ),
    ];
    frame.render_widget(Paragraph::new(lines), info);
    let ratio = if me.quota == 0 {
        1.0
    } else {
        (me.used as f64 / me.quota as f64).clamp(0.0, 1.0)
    };
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(format!("{:.1}%", ratio * 100.0))
            .gauge_style(theme::ok())
            .use_unicode(true),
        gauge,
    );
}
