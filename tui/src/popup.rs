//! Popups over the current screen: a message (errors, notices), a yes/no question, the full key
//! help, a mailbox's details, and the picker of a message's codes and links. The top popup takes
//! the keys until it closes.

use crossterm::event::{KeyCode, KeyEvent};
use mailcx_common::{Me, Role};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph, Wrap};

use crate::action::Action;
use crate::keys::{self, Hint, hint, is_char};
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
    /// A question; only `y` runs `on_yes`. `⏎`, `n`, `Esc` and `q` cancel, so a habitual `⏎`
    /// never deletes anything.
    Confirm {
        title: String,
        text: String,
        yes: &'static str,
        on_yes: Option<Action>,
    },
    /// Every key of the screen below; ↑↓ scroll it when the terminal is short.
    Help {
        title: String,
        hints: Vec<Hint>,
        /// The first hint shown.
        scroll: usize,
        /// How many rows the last frame had for hints, so scrolling stops at the last page.
        rows: std::cell::Cell<usize>,
    },
    /// A mailbox's details (`GET /api/me`), loading until `me` or `error` arrives.
    Inspect {
        address: String,
        /// The saved password of a mailbox the app made up (`t`); `p` copies it.
        password: Option<String>,
        me: Option<Me>,
        error: Option<String>,
    },
    /// A message's codes and links (`Y`); `⏎` copies the chosen one, `o` opens a link.
    Pick {
        title: String,
        items: Vec<PickItem>,
        selected: usize,
    },
}

/// One row of the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickItem {
    /// A link (else a code).
    pub link: bool,
    /// The code or the URL.
    pub text: String,
}

/// What a key did to a popup.
#[derive(Debug)]
pub enum PopupKey {
    /// Nothing; the popup stays.
    Keep,
    /// Close the popup.
    Close,
    /// Close the popup and run its `on_yes`.
    Confirm,
    /// Close the popup and run this (boxed: an action is large, and keys are many).
    Run(Box<Action>),
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

    /// The picker of a message's codes (first) and links.
    pub fn pick(title: impl Into<String>, found: &crate::extract::Extracted) -> Popup {
        let codes = found.codes.iter().map(|c| PickItem {
            link: false,
            text: c.clone(),
        });
        let links = found.links.iter().map(|l| PickItem {
            link: true,
            text: l.clone(),
        });
        Popup::Pick {
            title: title.into(),
            items: codes.chain(links).collect(),
            selected: 0,
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> PopupKey {
        let closes = matches!(key.code, KeyCode::Esc | KeyCode::Enter) || is_char(&key, 'q');
        if let Popup::Pick { items, selected, .. } = self {
            if let Some(m) = keys::movement(&key) {
                *selected = keys::apply(m, *selected, items.len(), 5);
                return PopupKey::Keep;
            }
            let Some(item) = items.get(*selected) else {
                return PopupKey::Close;
            };
            let what = if item.link { "link" } else { "code" };
            return match key.code {
                KeyCode::Enter => PopupKey::Run(Box::new(Action::CopyFound {
                    what,
                    text: item.text.clone(),
                })),
                _ if is_char(&key, 'y') => PopupKey::Run(Box::new(Action::CopyFound {
                    what,
                    text: item.text.clone(),
                })),
                _ if is_char(&key, 'o') && item.link => {
                    PopupKey::Run(Box::new(Action::OpenLink(item.text.clone())))
                }
                _ if closes => PopupKey::Close,
                _ => PopupKey::Keep,
            };
        }
        match self {
            Popup::Confirm { .. } if is_char(&key, 'y') => PopupKey::Confirm,
            Popup::Confirm { .. } if is_char(&key, 'n') || closes => PopupKey::Close,
            Popup::Help {
                hints, scroll, rows, ..
            } if keys::movement(&key).is_some() => {
                let m = keys::movement(&key).expect("checked just above");
                *scroll = keys::scroll(m, *scroll, hints.len(), rows.get());
                PopupKey::Keep
            }
            Popup::Help { .. } if closes || is_char(&key, '?') || key.code == KeyCode::F(1) => {
                PopupKey::Close
            }
            Popup::Inspect {
                password: Some(password),
                ..
            } if is_char(&key, 'p') => PopupKey::Run(Box::new(Action::CopyFound {
                what: "password",
                text: password.clone(),
            })),
            Popup::Inspect { .. } if closes || is_char(&key, 'i') => PopupKey::Close,
            Popup::Message { .. } if closes || key.code == KeyCode::Char(' ') => PopupKey::Close,
            _ => PopupKey::Keep,
        }
    }

    /// The keys this popup answers to.
    pub fn hints(&self) -> Vec<Hint> {
        match self {
            Popup::Confirm { yes, .. } => vec![hint("y", yes), hint("n/Esc", "cancel")],
            Popup::Pick { .. } => vec![
                hint("↑↓", "choose"),
                hint("⏎", "copy"),
                hint("o", "open link"),
                hint("Esc", "close"),
            ],
            Popup::Inspect {
                password: Some(_), ..
            } => vec![hint("p", "copy password"), hint("Esc", "close")],
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
                let footer = format!("y {yes}   n/Esc cancel");
                text_box(frame, area, title, theme::error(), body, text, &footer);
            }
            Popup::Help {
                title,
                hints,
                scroll,
                rows,
            } => {
                let height = (hints.len() as u16 + 2).min(area.height);
                rows.set(height.saturating_sub(2) as usize);
                render_help(frame, area, title, hints, *scroll)
            }
            Popup::Inspect {
                address,
                password,
                me,
                error,
            } => render_inspect(
                frame,
                area,
                address,
                password.as_deref(),
                me.as_ref(),
                error.as_deref(),
                spinner,
            ),
            Popup::Pick {
                title,
                items,
                selected,
            } => render_pick(frame, area, title, items, *selected),
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

fn render_help(frame: &mut Frame, area: Rect, title: &str, hints: &[Hint], scroll: usize) {
    let width = area.width.saturating_sub(4).min(50);
    let height = (hints.len() as u16 + 2).min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let rows = height.saturating_sub(2) as usize;
    // The last hint stays at the bottom: never scroll past a full last page.
    let first = scroll.min(hints.len().saturating_sub(rows));
    let more = match (first > 0, first + rows < hints.len()) {
        (false, false) => " Esc close ",
        (false, true) => " ↓ more  Esc close ",
        (true, false) => " ↑ more  Esc close ",
        (true, true) => " ↑↓ more  Esc close ",
    };
    let block = Block::bordered()
        .title(Span::styled(format!(" {title} "), theme::title()))
        .title_bottom(Line::styled(more, theme::dim()).right_aligned());
    let lines: Vec<Line> = hints[first..]
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

fn render_pick(frame: &mut Frame, area: Rect, title: &str, items: &[PickItem], selected: usize) {
    let width = area.width.saturating_sub(4).min(76);
    let height = (items.len() as u16 + 2).min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(Span::styled(
            format!(" {} ", format::one_line(title)),
            theme::title(),
        ))
        .title_bottom(Line::styled(" ⏎ copy  o open  Esc close ", theme::dim()).right_aligned());
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let rows = inner.height.max(1) as usize;
    // Keep the chosen row in view: scroll so it is the last visible row at most.
    let first = (selected + 1).saturating_sub(rows);
    // " code  " before the text, one column for the marker.
    let room = (inner.width as usize).saturating_sub(8).max(1);
    let lines: Vec<Line> = items
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, item)| {
            let chosen = i == selected;
            let text = if item.text.chars().count() > room {
                let cut: String = item.text.chars().take(room.saturating_sub(1)).collect();
                format!("{cut}…")
            } else {
                item.text.clone()
            };
            let kind = if item.link { "link" } else { "code" };
            let style = if chosen {
                theme::selected()
            } else {
                ratatui::style::Style::new()
            };
            Line::from(vec![
                Span::raw(if chosen { "›" } else { " " }),
                Span::styled(format!("{kind:<5} "), theme::dim()),
                Span::styled(text, style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_inspect(
    frame: &mut Frame,
    area: Rect,
    address: &str,
    password: Option<&str>,
    me: Option<&Me>,
    error: Option<&str>,
    spinner: &str,
) {
    let width = area.width.saturating_sub(4).min(64);
    let rows = 5 + u16::from(password.is_some());
    let popup = area.centered(Constraint::Length(width), Constraint::Length(rows + 4));
    frame.render_widget(Clear, popup);
    let footer = match password {
        Some(_) => " p copy password  Esc close ",
        None => " Esc close ",
    };
    let block = Block::bordered()
        .title(Span::styled(format!(" {address} "), theme::title()))
        .title_bottom(Line::styled(footer, theme::dim()).right_aligned())
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
        Constraint::Length(rows),
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
    let mut lines = vec![
        row("Address", me.address.clone()),
        row("ID", me.id.to_string()),
        row("Role", role.to_string()),
        row("Created", format::date(me.created_at)),
        row(
            "Used",
            format!("{} of {}", format::size(me.used), format::size(me.quota)),
        ),
    ];
    if let Some(password) = password {
        lines.insert(1, row("Password", password.to_string()));
    }
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
