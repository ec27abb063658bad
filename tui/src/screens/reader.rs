//! The reader: one message's headers, its text body (or its HTML body rendered as text, converted
//! when shown, never for the list), and its attachments.

use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use mailcx_common::{Message, MessageSummary};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use uuid::Uuid;

use super::prompt::{self, Prompt, PromptKey};
use super::{Ctx, wheel};
use crate::action::{Action, Want};
use crate::keys::{self, Binding, END_KEYS, Hint, Key, MOVE_KEYS, Move, PAGE_KEYS, bind, hint, more};
use crate::{format, text, theme};

/// Attachment rows shown at most; more scroll with Tab.
/// Rows the body keeps on a short screen, before headers and attachments get theirs.
const MIN_BODY_ROWS: u16 = 3;
/// HTML up to this size is rendered as text in the frame; larger goes to a background task.
const INLINE_HTML: usize = 32 * 1024;
/// How many widths of rendered HTML are kept (a resize back and forth renders once).
const HTML_WIDTHS: usize = 4;
const MAX_ATTACHMENT_ROWS: usize = 4;

/// What a key does in the reader (while no pipe command is typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Scroll the body ([`keys::movement`] says how far).
    Scroll,
    /// Show the HTML part rendered as text.
    ToHtml,
    /// Show the text part.
    ToText,
    /// Save the chosen attachment.
    Save,
    /// Choose the next attachment.
    NextFile,
    /// Choose the previous attachment.
    PreviousFile,
    /// Copy the message's code.
    CopyCode,
    /// Open the message's link.
    OpenLink,
    /// Show the raw source.
    Source,
    /// Delete the message.
    Delete,
    /// Back to the inbox.
    Back,
    /// List every code and link.
    Pick,
    /// Read the newest message.
    Newest,
    /// Copy the mailbox's address.
    CopyAddress,
    /// Copy the message's text.
    CopyText,
    /// Pipe the text to a command.
    Pipe,
    /// Show the headers.
    Headers,
    /// Open the HTML part in the browser.
    OpenHtml,
    /// Show every key.
    Help,
}

/// The keys of the reader: what they do and how the help shows them. `h` has a row for each
/// way it switches, so the hint says where it goes; [`Reader::hints`] shows the rows that apply.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(MOVE_KEYS, more("↑↓", "scroll"), Cmd::Scroll),
    bind(&[Key::Char('h')], hint("h", "HTML"), Cmd::ToHtml),
    bind(&[Key::Char('h')], hint("h", "text"), Cmd::ToText),
    bind(&[Key::Char('s')], hint("s", "save file"), Cmd::Save),
    bind(
        &[Key::Code(KeyCode::Tab)],
        hint("Tab", "next file"),
        Cmd::NextFile,
    ),
    bind(&[Key::Char('y')], hint("y", "copy code"), Cmd::CopyCode),
    bind(&[Key::Char('o')], hint("o", "open link"), Cmd::OpenLink),
    bind(&[Key::Char('v')], hint("v", "source"), Cmd::Source),
    bind(&[Key::Char('d')], hint("d", "delete"), Cmd::Delete),
    bind(&[Key::Char('q')], hint("q", "back"), Cmd::Back),
    bind(&[Key::Char('Y')], more("Y", "all codes and links"), Cmd::Pick),
    bind(&[Key::Char('N')], more("N", "read the newest"), Cmd::Newest),
    bind(PAGE_KEYS, more("PgUp/PgDn", "page up/down"), Cmd::Scroll),
    bind(END_KEYS, more("g/G", "top/bottom"), Cmd::Scroll),
    bind(
        &[Key::Char('c')],
        more("c", "copy mailbox address"),
        Cmd::CopyAddress,
    ),
    bind(
        &[Key::Char('C')],
        more("C", "copy the message text"),
        Cmd::CopyText,
    ),
    bind(
        &[Key::Char('|')],
        more("|", "pipe the text to a command"),
        Cmd::Pipe,
    ),
    bind(&[Key::Char('H')], more("H", "headers"), Cmd::Headers),
    bind(
        &[Key::Char('O')],
        more("O", "open the HTML in the browser"),
        Cmd::OpenHtml,
    ),
    bind(
        &[Key::Code(KeyCode::BackTab)],
        more("S-Tab", "previous file"),
        Cmd::PreviousFile,
    ),
    bind(&[Key::Code(KeyCode::Esc)], more("Esc", "back"), Cmd::Back),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// Which body is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The `text/plain` part.
    Text,
    /// The `text/html` part rendered as text.
    Html,
}

/// State of the reader.
#[derive(Debug)]
pub struct Reader {
    /// The mailbox's address.
    pub address: String,
    /// The message's id.
    pub id: Uuid,
    /// What the list knew, shown while the message loads.
    summary: Option<MessageSummary>,
    /// The message, once loaded.
    pub message: Option<Message>,
    /// Why it could not be loaded.
    pub error: Option<String>,
    body: Body,
    /// The shown body wrapped for a width: (width, body, lines). Rebuilt on resize or switch.
    wrapped: Option<(usize, Body, Vec<String>)>,
    /// The HTML body rendered as text per width, by background tasks.
    html: Vec<(usize, Vec<String>)>,
    /// The width a background task is rendering the HTML at.
    html_asked: Option<usize>,
    /// The width the last frame needed the HTML at and did not have.
    html_wanted: Option<usize>,
    scroll: usize,
    body_height: usize,
    attachment: usize,
    /// The command typed after `|`, until `⏎` or `Esc`.
    pipe: Option<Prompt>,
}

impl Reader {
    /// A reader waiting for its message.
    pub fn new(address: String, id: Uuid, summary: Option<MessageSummary>) -> Reader {
        Reader {
            address,
            id,
            summary,
            message: None,
            error: None,
            body: Body::Text,
            wrapped: None,
            html: Vec::new(),
            html_asked: None,
            html_wanted: None,
            scroll: 0,
            body_height: 1,
            attachment: 0,
            pipe: None,
        }
    }

    /// The title bar's name for it: the subject.
    pub fn title(&self) -> String {
        let subject = self
            .message
            .as_ref()
            .map(|m| m.subject.as_str())
            .or(self.summary.as_ref().map(|s| s.subject.as_str()))
            .unwrap_or("");
        if subject.trim().is_empty() {
            "(no subject)".into()
        } else {
            format::one_line(subject)
        }
    }

    /// How long until the "(2m ago)" in the headers changes; `None` before anything shows.
    pub fn next_age_change(&self, now: mailcx_common::Timestamp) -> Option<std::time::Duration> {
        let created = match (&self.message, &self.summary) {
            (Some(m), _) => m.created_at,
            (None, Some(s)) => s.created_at,
            (None, None) => return None,
        };
        Some(format::next_age_change(now, created))
    }

    /// Shows the loaded message: its text body, or its HTML body when it has no text.
    pub fn set_message(&mut self, message: Message) {
        self.body = if message.text_body.is_none() && message.html_body.is_some() {
            Body::Html
        } else {
            Body::Text
        };
        self.message = Some(message);
        self.wrapped = None;
        self.html.clear();
        self.html_asked = None;
        self.scroll = 0;
    }

    /// The message as plain text: its text part, else its HTML part as shown (rendered).
    pub fn plain_text(&self) -> Option<String> {
        let m = self.message.as_ref()?;
        if let Some(text) = &m.text_body {
            return Some(text.clone());
        }
        match &self.wrapped {
            Some((_, Body::Html, lines)) => Some(lines.join("\n")),
            _ => None,
        }
    }

    /// The keys of the reader; switching bodies only when the message has both.
    pub fn hints(&self) -> Vec<Hint> {
        if self.pipe.is_some() {
            return prompt::HINTS.to_vec();
        }
        let message = self.message.as_ref();
        let both = message.is_some_and(|m| m.text_body.is_some() && m.html_body.is_some());
        let files = message.map_or(0, |m| m.attachments.len());
        keys::table_hints(KEYS, |cmd| match cmd {
            Cmd::ToHtml => both && self.body == Body::Text,
            Cmd::ToText => both && self.body == Body::Html,
            Cmd::Save => files > 0,
            Cmd::NextFile | Cmd::PreviousFile => files > 1,
            _ => true,
        })
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, _ctx: &Ctx) -> Option<Action> {
        if let Some(pipe) = self.pipe.as_mut() {
            return match pipe.on_key(key) {
                PromptKey::Kept => None,
                PromptKey::Cancel => {
                    self.pipe = None;
                    None
                }
                PromptKey::Done(command) => {
                    self.pipe = None;
                    let text = self.plain_text()?;
                    (!command.is_empty()).then_some(Action::Pipe { command, text })
                }
            };
        }
        let message = self.message.as_ref();
        match keys::command(KEYS, &key)? {
            Cmd::Scroll => {
                self.scroll_by(keys::movement(&key)?);
                None
            }
            Cmd::Back => Some(Action::Back),
            Cmd::Help => Some(Action::Help),
            Cmd::CopyAddress => Some(Action::Copy(self.address.clone())),
            Cmd::CopyCode => self.take(Want::Code),
            Cmd::Pick => self.take(Want::Pick),
            Cmd::OpenLink => self.take(Want::Link),
            Cmd::Newest => Some(Action::OpenNewest(self.address.clone())),
            Cmd::CopyText => self.plain_text().map(Action::CopyText),
            Cmd::Pipe => {
                if self.plain_text().is_some() {
                    self.pipe = Some(Prompt::new(default_pager()));
                }
                None
            }
            Cmd::Headers => Some(Action::ViewHeaders {
                address: self.address.clone(),
                id: self.id,
            }),
            Cmd::OpenHtml => {
                let html = message?.html_body.clone();
                Some(match html {
                    Some(html) => Action::OpenHtml { id: self.id, html },
                    None => Action::OpenFailed("This message has no HTML part".into()),
                })
            }
            Cmd::Source => Some(Action::ViewSource {
                address: self.address.clone(),
                id: self.id,
            }),
            Cmd::Delete => Some(Action::AskDeleteMessage {
                address: self.address.clone(),
                id: self.id,
                subject: self.title(),
            }),
            // One key switches either way; the table has a row (and a hint) for each way.
            Cmd::ToHtml | Cmd::ToText => {
                let m = message?;
                if m.text_body.is_some() && m.html_body.is_some() {
                    self.body = match self.body {
                        Body::Text => Body::Html,
                        Body::Html => Body::Text,
                    };
                    self.scroll = 0;
                }
                None
            }
            Cmd::NextFile => {
                let count = message?.attachments.len();
                if count > 0 {
                    self.attachment = (self.attachment + 1) % count;
                }
                None
            }
            Cmd::PreviousFile => {
                let count = message?.attachments.len();
                if count > 0 {
                    self.attachment = (self.attachment + count - 1) % count;
                }
                None
            }
            Cmd::Save => {
                let attachment = message?.attachments.get(self.attachment)?.clone();
                Some(Action::SaveAttachment {
                    address: self.address.clone(),
                    id: self.id,
                    attachment,
                })
            }
        }
    }

    /// The HTML rendering the last frame lacked, for a background task: (width, html). Asked
    /// once per width.
    pub fn html_job(&mut self) -> Option<(usize, String)> {
        let width = self.html_wanted.take()?;
        if self.html_asked == Some(width) {
            return None;
        }
        let html = self.message.as_ref()?.html_body.clone()?;
        self.html_asked = Some(width);
        Some((width, html))
    }

    /// Keeps the HTML rendered at `width` by a background task.
    pub fn set_html(&mut self, width: usize, lines: Vec<String>) {
        if self.html_asked == Some(width) {
            self.html_asked = None;
        }
        self.html.retain(|(w, _)| *w != width);
        if self.html.len() >= HTML_WIDTHS {
            self.html.remove(0);
        }
        self.html.push((width, lines));
    }

    /// Takes a code or link out of this message, once it has loaded.
    fn take(&self, want: Want) -> Option<Action> {
        self.message.as_ref().map(|_| Action::Take {
            address: self.address.clone(),
            id: self.id,
            want,
        })
    }

    /// Scrolls the body with the wheel.
    pub fn on_mouse(&mut self, mouse: MouseEvent) -> Option<Action> {
        if let Some(m) = wheel(&mouse) {
            self.scroll_by(m);
        }
        None
    }

    fn scroll_by(&mut self, m: Move) {
        let lines = self.wrapped.as_ref().map_or(0, |(_, _, l)| l.len());
        self.scroll = keys::scroll(m, self.scroll, lines, self.body_height);
    }

    /// Draws headers, body and attachments.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let attachments = self.message.as_ref().map_or(0, |m| m.attachments.len());
        let attachment_rows = if attachments > 0 {
            // A rule, a title line, then one row per attachment.
            attachments.min(MAX_ATTACHMENT_ROWS) as u16 + 2
        } else {
            0
        };
        let block = Block::bordered().title(Span::styled(format!(" {} ", self.title()), theme::title()));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        // The pipe prompt takes the last row while it is typed.
        let inner = match &self.pipe {
            Some(pipe) if inner.height > 2 => {
                let [rest, line] =
                    Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
                pipe.render(frame, line, "|", "⏎ run  Esc cancel");
                rest
            }
            _ => inner,
        };
        // The full subject, wrapped; on a short screen at most a quarter of it (H shows it all).
        let subject = self.subject_lines(inner.width.saturating_sub(10).max(1) as usize);
        let subject_rows = subject.len().min((inner.height as usize / 4).max(1)) as u16;
        // Short of room the attachments shrink to one line and the headers to what is left, so
        // the body keeps a few rows.
        let header_rows = 5 + subject_rows;
        let attachment_rows = if inner.height < header_rows + attachment_rows + MIN_BODY_ROWS {
            attachment_rows.min(2)
        } else {
            attachment_rows
        };
        let room = inner.height.saturating_sub(attachment_rows + MIN_BODY_ROWS);
        let header_rows = header_rows.min(room.max(2));
        let [headers, body, files] = Layout::vertical([
            Constraint::Length(header_rows),
            Constraint::Fill(1),
            Constraint::Length(attachment_rows),
        ])
        .areas(inner);
        self.render_headers(frame, headers, ctx, &subject[..subject_rows as usize]);
        self.render_body(frame, body, ctx);
        if attachments > 0 {
            self.render_attachments(frame, files);
        }
    }

    /// The subject wrapped to `width`, nothing cut.
    fn subject_lines(&self, width: usize) -> Vec<String> {
        let title = self.title();
        text::wrap(&title, width)
    }

    fn render_headers(&self, frame: &mut Frame, area: Rect, ctx: &Ctx, subject: &[String]) {
        let row = |label: &'static str, value: String| {
            Line::from(vec![
                Span::styled(format!(" {label:<9}"), theme::dim()),
                Span::raw(value),
            ])
        };
        let (from, sender, to, created, size) = match (&self.message, &self.summary) {
            (Some(m), _) => (&m.from, &m.sender, m.address.clone(), m.created_at, m.size),
            (None, Some(s)) => (&s.from, &s.sender, self.address.clone(), s.created_at, s.size),
            (None, None) => {
                frame.render_widget(Line::styled(" Loading…", theme::dim()), area);
                return;
            }
        };
        let from = if from.trim().is_empty() { sender } else { from };
        let view = match (&self.message, self.body) {
            (Some(m), Body::Text) if m.text_body.is_some() => "text",
            (Some(m), Body::Html) if m.html_body.is_some() => "HTML rendered as text",
            _ => "",
        };
        let mut lines: Vec<Line> = subject
            .iter()
            .enumerate()
            .map(|(i, part)| row(if i == 0 { "Subject" } else { "" }, part.clone()))
            .collect();
        lines.extend([
            row("From", format::one_line(from)),
            row("To", format::one_line(&to)),
            row(
                "Date",
                format!("{} ({})", format::date(created), format::ago(ctx.now, created)),
            ),
            row(
                "Size",
                if view.is_empty() {
                    format::size(size)
                } else {
                    format!("{} · showing {view}", format::size(size))
                },
            ),
        ]);
        let rule = Block::default()
            .borders(Borders::BOTTOM)
            .border_style(theme::dim());
        frame.render_widget(Paragraph::new(lines).block(rule), area);
    }

    fn render_body(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let area = Rect {
            x: area.x + 1,
            width: area.width.saturating_sub(2),
            ..area
        };
        self.body_height = area.height.max(1) as usize;
        let Some(message) = &self.message else {
            let text = match &self.error {
                Some(e) => Line::styled(e.clone(), theme::error()),
                None => Line::styled(format!("{} Loading the message…", ctx.spinner), theme::dim()),
            };
            frame.render_widget(text, area);
            return;
        };
        let width = area.width.max(1) as usize;
        let stale = !matches!(&self.wrapped, Some((w, b, _)) if *w == width && *b == self.body);
        if stale {
            let lines = match (self.body, &message.text_body, &message.html_body) {
                (Body::Text, Some(text), _) => Some(text::wrap(text, width)),
                (Body::Html, _, Some(html)) => match self.html.iter().find(|(w, _)| *w == width) {
                    Some((_, lines)) => Some(lines.clone()),
                    // Small HTML renders in no time; large HTML would freeze the interface.
                    None if html.len() <= INLINE_HTML => Some(html_lines(html, width)),
                    None => None,
                },
                _ => Some(vec!["(this message has no body)".to_string()]),
            };
            let Some(lines) = lines else {
                self.html_wanted = Some(width);
                let text = format!("{} Rendering the HTML…", ctx.spinner);
                frame.render_widget(Line::styled(text, theme::dim()), area);
                return;
            };
            self.wrapped = Some((width, self.body, lines));
        }
        let lines = self.wrapped.as_ref().map_or(&[][..], |(_, _, l)| l.as_slice());
        self.scroll = self.scroll.min(lines.len().saturating_sub(self.body_height));
        let end = (self.scroll + self.body_height).min(lines.len());
        let visible: Vec<Line> = lines[self.scroll..end]
            .iter()
            .map(|l| Line::raw(l.as_str()))
            .collect();
        frame.render_widget(Paragraph::new(visible), area);
    }

    fn render_attachments(&self, frame: &mut Frame, area: Rect) {
        let Some(message) = &self.message else { return };
        let all = &message.attachments;
        let rule = Block::default().borders(Borders::TOP).border_style(theme::dim());
        if area.height < 3 {
            // One line: the chosen file, and where it is among them (Tab moves).
            let Some(a) = all.get(self.attachment) else { return };
            let (size, at) = (format::size(a.size), self.attachment + 1);
            let line = Line::from(vec![
                Span::raw(" › "),
                Span::styled(format::one_line(&a.filename), theme::selected()),
                Span::styled(format!("  {size}  {at} of {}", all.len()), theme::dim()),
            ]);
            frame.render_widget(Paragraph::new(line).block(rule), area);
            return;
        }
        let first = self.attachment.saturating_sub(MAX_ATTACHMENT_ROWS - 1);
        let mut lines = vec![Line::styled(
            format!(" Attachments ({})", all.len()),
            theme::dim(),
        )];
        for (i, a) in all.iter().enumerate().skip(first).take(MAX_ATTACHMENT_ROWS) {
            let selected = i == self.attachment;
            let style = if selected {
                theme::selected()
            } else {
                ratatui::style::Style::new()
            };
            lines.push(Line::from(vec![
                Span::raw(if selected { " › " } else { "   " }),
                Span::styled(format::one_line(&a.filename), style),
                Span::styled(
                    format!(
                        "  {}  {}",
                        format::one_line(&a.content_type),
                        format::size(a.size)
                    ),
                    theme::dim(),
                ),
            ]));
        }
        let rule = Block::default().borders(Borders::TOP).border_style(theme::dim());
        frame.render_widget(Paragraph::new(lines).block(rule), area);
    }
}

/// The HTML body as wrapped text lines (slow for large HTML: call it off the UI thread).
pub fn html_lines(html: &str, width: usize) -> Vec<String> {
    // html2text wraps to the width itself; below ~10 columns it gives up, so never ask for less.
    match html2text::from_read(html.as_bytes(), width.max(10)) {
        Ok(rendered) => text::lines(rendered.trim_end()),
        Err(e) => vec![format!("(this HTML could not be rendered: {e})")],
    }
}

/// What `|` offers to run: `$PAGER`, else `less`.
fn default_pager() -> String {
    std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less".into())
}
