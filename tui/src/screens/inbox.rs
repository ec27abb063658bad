//! The inbox: a mailbox's messages, newest first, loaded a page at a time as you scroll, with
//! new mail arriving live. On the top row the cursor follows new mail; elsewhere it stays on its
//! message and the title counts what arrived above. A frame only builds the visible rows, so 10,000 messages draw as fast
//! as 10.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use mailcx_common::{MessageSummary, NewEmail};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use uuid::Uuid;

use super::filter::{Filter, FilterKey};
use super::{Ctx, WHEEL_STEP};
use crate::action::{Action, Want};
use crate::app::ServerInfo;
use crate::keys::{self, Binding, END_KEYS, Hint, Key, MOVE_KEYS, Move, PAGE_KEYS, bind, hint, more};
use crate::{format, theme};

/// Messages per page of `GET /api/messages`; a shorter page is the last.
pub const PAGE_SIZE: usize = 30;

/// Start loading the next page when the selection is this close to the end of what is loaded.
const PREFETCH: usize = 10;

/// What a key does in the inbox (while no filter is typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Move the selection ([`keys::movement`] says how far).
    Move,
    /// Read the selected message.
    Read,
    /// Copy the selected message's code.
    CopyCode,
    /// Open the selected message's link.
    OpenLink,
    /// Delete the selected message, or the picked ones.
    Delete,
    /// Load the list again (and retry an offline live connection).
    Refresh,
    /// Leave the inbox.
    Back,
    /// Type a filter.
    Filter,
    /// Pick or unpick the selected row.
    Mark,
    /// Delete all mail of the mailbox.
    DeleteAll,
    /// List the selected message's codes and links.
    Pick,
    /// Read the newest message.
    Newest,
    /// Copy the mailbox's address.
    CopyAddress,
    /// Undo the nearest thing: the picks, then the filter; else leave.
    Escape,
    /// Show every key.
    Help,
}

/// The keys of the inbox: what they do and how the help shows them. `space` picks rows here, so
/// its row comes before the paging row that also binds it.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(MOVE_KEYS, hint("↑↓", "move"), Cmd::Move),
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "read"), Cmd::Read),
    bind(&[Key::Char('y')], hint("y", "copy code"), Cmd::CopyCode),
    bind(&[Key::Char('o')], hint("o", "open link"), Cmd::OpenLink),
    bind(&[Key::Char('d')], hint("d", "delete"), Cmd::Delete),
    bind(&[Key::Char('r')], hint("r", "refresh"), Cmd::Refresh),
    bind(&[Key::Char('q')], hint("q", "back"), Cmd::Back),
    bind(
        &[Key::Char('/')],
        more("/", "filter (server search)"),
        Cmd::Filter,
    ),
    bind(
        &[Key::Char(' ')],
        more("space", "select; d deletes the selection"),
        Cmd::Mark,
    ),
    bind(&[Key::Char('D')], more("D", "delete all mail"), Cmd::DeleteAll),
    bind(&[Key::Char('Y')], more("Y", "all codes and links"), Cmd::Pick),
    bind(&[Key::Char('N')], more("N", "read the newest"), Cmd::Newest),
    bind(&[Key::Char('c')], more("c", "copy address"), Cmd::CopyAddress),
    bind(PAGE_KEYS, more("PgUp/PgDn", "page up/down"), Cmd::Move),
    bind(END_KEYS, more("g/G", "first/last"), Cmd::Move),
    bind(
        &[Key::Code(KeyCode::Esc)],
        more("Esc", "clear selection, filter; back"),
        Cmd::Escape,
    ),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// The keys while a filter is typed: everything else goes into the line.
pub const FILTER_HINTS: &[Hint] = &[hint("⏎", "search"), hint("Esc", "clear"), hint("⌫", "erase")];

/// The state of the live connection, shown in the inbox's title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// Opening the socket.
    Connecting,
    /// New mail shows up as it arrives.
    Live,
    /// The socket broke; it is reopened at `retry_at` (shown as a countdown), or by `r`.
    Offline { retry_at: Instant, reason: String },
}

/// State of one mailbox's inbox.
#[derive(Debug)]
pub struct Inbox {
    /// The mailbox's address.
    pub address: String,
    messages: Vec<MessageSummary>,
    /// Ids in `messages`: pages overlap when mail arrives or leaves while scrolling.
    known: HashSet<Uuid>,
    unread: usize,
    selected: usize,
    /// Messages that arrived above the cursor since it was last on the top row.
    new_above: usize,
    offset: usize,
    /// The first page arrived.
    pub loaded: bool,
    /// A next-page request is running.
    pub loading_more: bool,
    /// The last page arrived (it had fewer than [`PAGE_SIZE`] messages).
    exhausted: bool,
    /// `G` was pressed before the last page arrived: each page that arrives moves the cursor to
    /// its end and asks for the next, until the last, or until another move.
    to_end: bool,
    /// The lowest page number worth asking for next (raised when a full page added nothing).
    floor_page: u32,
    /// The next first page replaces the list instead of adding to it.
    pub reloading: bool,
    /// The live connection's state.
    pub live: Live,
    /// Why the last page could not be loaded.
    pub error: Option<String>,
    /// The search typed after `/`; the list shows only what the server found for it.
    filter: Filter,
    /// Messages picked with `space`, for `d` to delete together.
    marked: HashSet<Uuid>,
    rows_area: Rect,
}

impl Inbox {
    /// An empty inbox waiting for its first page.
    pub fn new(address: String) -> Inbox {
        Inbox {
            address,
            messages: Vec::new(),
            known: HashSet::new(),
            unread: 0,
            selected: 0,
            new_above: 0,
            offset: 0,
            loaded: false,
            loading_more: false,
            exhausted: false,
            to_end: false,
            floor_page: 1,
            reloading: false,
            live: Live::Connecting,
            error: None,
            filter: Filter::default(),
            marked: HashSet::new(),
            rows_area: Rect::default(),
        }
    }

    /// The loaded messages, newest first.
    pub fn messages(&self) -> &[MessageSummary] {
        &self.messages
    }

    /// The selected message.
    pub fn selected(&self) -> Option<&MessageSummary> {
        self.messages.get(self.selected)
    }

    /// The keys that work now: the filter line's while it is typed, else the inbox's.
    pub fn hints(&self) -> Vec<Hint> {
        if self.filter.is_typing() {
            FILTER_HINTS.to_vec()
        } else {
            keys::table_hints(KEYS, |_| true)
        }
    }

    /// How long until an age in a visible row changes; `None` when no row is shown.
    pub fn next_age_change(&self, now: mailcx_common::Timestamp) -> Option<Duration> {
        let rows = self.rows_area.height as usize;
        let end = (self.offset + rows).min(self.messages.len());
        self.messages
            .get(self.offset..end)?
            .iter()
            .map(|m| format::next_age_change(now, m.created_at))
            .min()
    }

    /// The applied search (`GET /api/messages?q=`); empty when the list is unfiltered.
    pub fn query(&self) -> &str {
        self.filter.query()
    }

    /// The messages picked with `space`, in list order.
    pub fn marked(&self) -> Vec<Uuid> {
        self.messages
            .iter()
            .filter(|m| self.marked.contains(&m.id))
            .map(|m| m.id)
            .collect()
    }

    /// The message with this id, if loaded.
    pub fn summary(&self, id: Uuid) -> Option<&MessageSummary> {
        self.messages.iter().find(|m| m.id == id)
    }

    /// Adds a page from the server: unknown messages go where their time puts them. Returns the
    /// request for the next page when `G` is still on its way to the end.
    pub fn apply_page(&mut self, page: u32, list: Vec<MessageSummary>) -> Option<Action> {
        // A reload keeps the cursor on its message (or where it was, if that one left).
        let mut keep = None;
        if page == 1 && self.reloading {
            // A reload shows the server's list as it is now, dropping what left it meanwhile.
            keep = Some((self.selected().map(|m| m.id), self.selected));
            self.reloading = false;
            self.messages.clear();
            self.known.clear();
            self.unread = 0;
            self.selected = 0;
            self.new_above = 0;
            self.exhausted = false;
            self.to_end = false;
            self.floor_page = 1;
        }
        let full = list.len() >= PAGE_SIZE;
        let mut added = 0;
        for message in list {
            if self.insert(message) {
                added += 1;
            }
        }
        if let Some((id, at)) = keep {
            let found = id.and_then(|id| self.messages.iter().position(|m| m.id == id));
            self.selected = found.unwrap_or(at).min(self.messages.len().saturating_sub(1));
            // What left the list (deleted, or filtered out) cannot stay picked.
            self.marked.retain(|id| self.known.contains(id));
        }
        self.loaded = true;
        self.error = None;
        if page > 1 {
            self.loading_more = false;
        }
        if !full {
            self.exhausted = true;
        } else if added == 0 {
            self.floor_page = self.floor_page.max(page + 1);
        }
        if !self.to_end {
            return None;
        }
        self.selected = self.messages.len().saturating_sub(1);
        if self.exhausted {
            self.to_end = false;
        }
        self.wants_more()
    }

    /// A page could not be loaded: `G` stops where it is rather than retrying on its own.
    pub fn page_failed(&mut self, error: String) {
        self.error = Some(error);
        self.loading_more = false;
        self.to_end = false;
    }

    /// Adds a message pushed over the socket; false if it was already listed.
    pub fn insert_new(&mut self, email: NewEmail) -> bool {
        self.insert(MessageSummary {
            id: email.id,
            sender: email.sender,
            from: email.from,
            subject: email.subject,
            preview_text: email.preview_text,
            size: email.size,
            created_at: email.created_at,
            is_read: false,
        })
    }

    /// Inserts in time order (newest first). On the top row the cursor stays there, so it moves
    /// onto newer mail; elsewhere it stays on its message and the arrival is counted.
    fn insert(&mut self, message: MessageSummary) -> bool {
        if !self.known.insert(message.id) {
            return false;
        }
        // Usually at the front (new mail) or the end (next page): a binary search either way.
        let at = self
            .messages
            .partition_point(|m| (m.created_at, m.id) > (message.created_at, message.id));
        if !message.is_read {
            self.unread += 1;
        }
        self.messages.insert(at, message);
        if at <= self.selected && self.selected > 0 {
            self.selected += 1;
            self.new_above += 1;
        }
        true
    }

    /// How many messages arrived above the cursor since it was last on the top row.
    pub fn new_above(&self) -> usize {
        self.new_above
    }

    /// Selects the newest message and returns its id.
    pub fn select_newest(&mut self) -> Option<Uuid> {
        self.selected = 0;
        self.new_above = 0;
        self.messages.first().map(|m| m.id)
    }

    /// Marks a message read.
    pub fn mark_read(&mut self, id: Uuid) {
        if let Some(m) = self.messages.iter_mut().find(|m| m.id == id)
            && !m.is_read
        {
            m.is_read = true;
            self.unread -= 1;
        }
    }

    /// Removes a deleted message.
    pub fn remove(&mut self, id: Uuid) {
        if let Some(at) = self.messages.iter().position(|m| m.id == id) {
            let m = self.messages.remove(at);
            self.known.remove(&id);
            self.marked.remove(&id);
            if !m.is_read {
                self.unread -= 1;
            }
            if at < self.selected || self.selected >= self.messages.len() {
                self.selected = self.selected.saturating_sub(1);
            }
        }
    }

    /// The next page to ask for: by how many are loaded, so a deletion never skips a message.
    pub fn next_page(&self) -> u32 {
        ((self.messages.len() / PAGE_SIZE) as u32 + 1).max(self.floor_page)
    }

    /// The request for the next page, when the selection nears the end of what is loaded.
    fn wants_more(&self) -> Option<Action> {
        let near_end = self.selected + PREFETCH >= self.messages.len();
        (self.loaded && !self.exhausted && !self.loading_more && near_end).then(|| Action::LoadPage {
            address: self.address.clone(),
            page: self.next_page(),
        })
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, _ctx: &Ctx) -> Option<Action> {
        if self.filter.is_typing() {
            return match self.filter.on_key(key) {
                FilterKey::Kept => None,
                FilterKey::Apply(_) | FilterKey::Clear => self.refilter(),
            };
        }
        match keys::command(KEYS, &key)? {
            Cmd::Move => self.move_by(keys::movement(&key)?),
            Cmd::Mark => self.toggle_mark(),
            Cmd::Read => self.open(),
            Cmd::Escape => self.escape(),
            Cmd::Back => Some(Action::Back),
            Cmd::Filter => {
                self.filter.start();
                None
            }
            Cmd::Delete if !self.marked.is_empty() => Some(Action::AskDeleteMessages {
                address: self.address.clone(),
                ids: self.marked(),
            }),
            Cmd::Delete => self.selected().map(|m| Action::AskDeleteMessage {
                address: self.address.clone(),
                id: m.id,
                subject: m.subject.clone(),
            }),
            Cmd::DeleteAll => Some(Action::AskDeleteAll(self.address.clone())),
            Cmd::Refresh => Some(Action::ReloadInbox(self.address.clone())),
            Cmd::CopyAddress => Some(Action::Copy(self.address.clone())),
            Cmd::CopyCode => self.take(Want::Code),
            Cmd::Pick => self.take(Want::Pick),
            Cmd::OpenLink => self.take(Want::Link),
            Cmd::Newest => {
                self.select_newest();
                self.open()
            }
            Cmd::Help => Some(Action::Help),
        }
    }

    /// `Esc` undoes the nearest thing first: the selection, then the filter, then leaves.
    fn escape(&mut self) -> Option<Action> {
        if !self.marked.is_empty() {
            self.marked.clear();
            return None;
        }
        if self.filter.clear() {
            return self.refilter();
        }
        Some(Action::Back)
    }

    /// The search changed: the list is asked for again, replacing what it showed.
    fn refilter(&mut self) -> Option<Action> {
        self.reloading = true;
        self.to_end = false;
        self.marked.clear();
        Some(Action::ReloadInbox(self.address.clone()))
    }

    /// Picks or unpicks the selected row and moves to the next, to pick several in a row.
    fn toggle_mark(&mut self) -> Option<Action> {
        let id = self.selected()?.id;
        if !self.marked.remove(&id) {
            self.marked.insert(id);
        }
        self.move_by(Move::By(1))
    }

    /// Takes a code or link out of the selected message (its body is fetched by the app).
    fn take(&self, want: Want) -> Option<Action> {
        self.selected().map(|m| Action::Take {
            address: self.address.clone(),
            id: m.id,
            want,
        })
    }

    fn open(&self) -> Option<Action> {
        self.selected().map(|m| Action::OpenMessage {
            address: self.address.clone(),
            id: m.id,
        })
    }

    fn move_by(&mut self, m: Move) -> Option<Action> {
        let page = self.rows_area.height.max(1) as usize;
        self.selected = keys::apply(m, self.selected, self.messages.len(), page);
        // The end is the end of the mailbox, not of what is loaded: keep going as pages arrive.
        self.to_end = m == Move::Last && self.loaded && !self.exhausted;
        if self.selected == 0 {
            self.new_above = 0;
        }
        self.wants_more()
    }

    /// Scrolls with the wheel; a click selects a row, a click on the selected row opens it.
    pub fn on_mouse(&mut self, mouse: MouseEvent) -> Option<Action> {
        match mouse.kind {
            MouseEventKind::ScrollUp => self.move_by(Move::By(-WHEEL_STEP)),
            MouseEventKind::ScrollDown => self.move_by(Move::By(WHEEL_STEP)),
            MouseEventKind::Down(MouseButton::Left) => {
                if !self.rows_area.contains(Position::new(mouse.column, mouse.row)) {
                    return None;
                }
                let i = self.offset + (mouse.row - self.rows_area.y) as usize;
                if i >= self.messages.len() {
                    return None;
                }
                if i == self.selected {
                    return self.open();
                }
                self.selected = i;
                self.to_end = false;
                if i == 0 {
                    self.new_above = 0;
                }
                self.wants_more()
            }
            _ => None,
        }
    }

    /// Draws the visible rows only.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        // The filter line sits above the list while a search is typed or applies.
        let area = if self.filter.is_shown() && area.height > 3 {
            let [line, rest] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
            self.filter.render(frame, line);
            rest
        } else {
            area
        };
        let noun = if self.filter.query().is_empty() {
            ("message", "messages")
        } else {
            ("match", "matches")
        };
        let count = match (self.messages.len(), self.exhausted) {
            (1, true) => format!("1 {}", noun.0),
            (n, true) => format!("{n} {}", noun.1),
            (n, false) => format!("{n}+ {}", noun.1),
        };
        let live = match &self.live {
            Live::Connecting => Span::styled(format!(" {} connecting ", ctx.spinner), theme::dim()),
            Live::Live => Span::styled(" ● live ", theme::ok()),
            Live::Offline { retry_at, .. } => Span::styled(
                match crate::live::seconds_left(*retry_at) {
                    // Trying now, or (refused) not trying again until `r`.
                    0 => " ○ offline, r retries ".to_string(),
                    secs => format!(" ○ offline, retrying in {secs}s "),
                },
                theme::error(),
            ),
        };
        let mut title = vec![Span::styled(format!(" {} ", self.address), theme::title())];
        // An open inbox says so: anyone may read it, and its mail does not stay.
        if ctx.saved.get(&self.address).is_some_and(|m| m.open) {
            let kept = super::watch::retention(ctx).map_or(String::new(), |r| format!(", kept {r}"));
            title.push(Span::styled(format!("· open{kept} "), theme::dim()));
        }
        if self.loaded {
            title.push(Span::styled(
                format!("· {count} · {} unread ", self.unread),
                theme::dim(),
            ));
        }
        if !self.marked.is_empty() {
            title.push(Span::styled(
                format!("· {} selected ", self.marked.len()),
                theme::focused(),
            ));
        }
        if self.new_above > 0 {
            title.push(Span::styled(format!("↑ {} new ", self.new_above), theme::ok()));
        }
        let title = Line::from(title);
        let mut block = Block::bordered()
            .title(title)
            .title(Line::from(live).right_aligned());
        if self.loading_more {
            block = block.title_bottom(Line::styled(
                format!(" {} loading more… ", ctx.spinner),
                theme::dim(),
            ));
        }

        if self.messages.is_empty() {
            let text = match (&self.error, self.loaded) {
                (Some(error), _) => Text::styled(format!("\n{error}"), theme::error()),
                (None, false) => Text::styled(format!("\n{} Loading messages…", ctx.spinner), theme::dim()),
                (None, true) if !self.filter.query().is_empty() => Text::from(format!(
                    "\nNo message matches “{}”.\nEsc shows them all again.",
                    format::one_line(self.filter.query())
                )),
                (None, true) => empty_text(&self.address, &ctx.server),
            };
            frame.render_widget(Paragraph::new(text).centered().block(block), area);
            self.rows_area = Rect::default();
            return;
        }

        let inner = block.inner(area);
        // One row is the header.
        self.rows_area = Rect {
            y: inner.y + 1,
            height: inner.height.saturating_sub(1),
            ..inner
        };
        let height = self.rows_area.height.max(1) as usize;
        self.selected = self.selected.min(self.messages.len() - 1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        let end = (self.offset + height).min(self.messages.len());
        let rows = self.messages[self.offset..end]
            .iter()
            .map(|m| message_row(m, self.marked.contains(&m.id), ctx));
        let header = Row::new(["", "From", "Subject", "Size", "Age"]).style(theme::dim());
        let table = Table::new(
            rows,
            [
                Constraint::Length(1),
                Constraint::Length(18),
                Constraint::Fill(1),
                Constraint::Length(8),
                Constraint::Length(4),
            ],
        )
        .header(header)
        .block(block)
        .row_highlight_style(theme::selected())
        .highlight_symbol("›");
        let mut state = TableState::default().with_selected(Some(self.selected - self.offset));
        frame.render_stateful_widget(table, area, &mut state);
    }
}

/// One row: picked (✓) or unread (●) marker, sender's name, subject and preview, size, age.
fn message_row<'a>(m: &'a MessageSummary, marked: bool, ctx: &Ctx) -> Row<'a> {
    let style = if m.is_read { theme::dim() } else { theme::unread() };
    let subject = if m.subject.trim().is_empty() {
        "(no subject)".to_string()
    } else {
        format::one_line(&m.subject)
    };
    let text = Line::from(vec![
        Span::styled(subject, style),
        Span::raw("  "),
        Span::styled(format::one_line(&m.preview_text), theme::dim()),
    ]);
    Row::new(vec![
        match (marked, m.is_read) {
            (true, _) => Cell::from("✓").style(theme::focused()),
            (false, true) => Cell::from(" "),
            (false, false) => Cell::from("●").style(theme::ok()),
        },
        Cell::from(format::from_name(&m.from, &m.sender)).style(style),
        Cell::from(text),
        Cell::from(Line::from(format::size(m.size)).right_aligned()),
        Cell::from(Line::from(format::age(ctx.now, m.created_at)).right_aligned()),
    ])
}

/// What an empty inbox says: where to send mail to see it arrive.
fn empty_text(address: &str, server: &ServerInfo) -> Text<'static> {
    let mut lines = vec![Line::raw(""), Line::raw("No mail yet."), Line::raw("")];
    match server {
        ServerInfo::Embedded { smtp, .. } => {
            lines.push(Line::raw(format!("Send mail to {address}")));
            lines.push(Line::raw(format!(
                "through SMTP at {smtp}; it shows up here at once."
            )));
        }
        ServerInfo::Remote { .. } => {
            lines.push(Line::raw(format!(
                "Mail sent to {address} shows up here at once."
            )));
        }
    }
    Text::from(lines)
}
