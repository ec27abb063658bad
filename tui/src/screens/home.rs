//! The home screen: the saved mailboxes of this server, with what their last check found.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Position, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::{Ctx, Health, WHEEL_STEP};
use crate::action::Action;
use crate::keys::{self, Binding, END_KEYS, Hint, Key, MOVE_KEYS, Move, PAGE_KEYS, bind, hint, more};
use crate::{format, theme};

/// What a key does on the home screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Move the selection ([`keys::movement`] says how far).
    Move,
    /// Open the selected mailbox (or sign in again to a signed-out one).
    Open,
    /// Create a mailbox.
    New,
    /// Create a throwaway mailbox.
    Throwaway,
    /// Sign in to a mailbox.
    SignIn,
    /// Watch any address on an open domain.
    Watch,
    /// Show the selected mailbox's details.
    Info,
    /// Delete the selected mailbox.
    Delete,
    /// Copy the selected address.
    Copy,
    /// Forget the selected mailbox (it stays on the server).
    Forget,
    /// Check every mailbox again.
    Refresh,
    /// Open the Pro area.
    Pro,
    /// Leave the app.
    Quit,
    /// Show every key.
    Help,
}

/// The keys of the home screen: what they do and how the help shows them.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(MOVE_KEYS, hint("↑↓", "move"), Cmd::Move),
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "open"), Cmd::Open),
    bind(&[Key::Char('n')], hint("n", "new"), Cmd::New),
    bind(&[Key::Char('t')], hint("t", "throwaway"), Cmd::Throwaway),
    bind(&[Key::Char('s')], hint("s", "sign in"), Cmd::SignIn),
    bind(&[Key::Char('w')], hint("w", "watch any address"), Cmd::Watch),
    bind(&[Key::Char('i')], hint("i", "info"), Cmd::Info),
    bind(&[Key::Char('d')], hint("d", "delete"), Cmd::Delete),
    bind(&[Key::Char('c')], hint("c", "copy"), Cmd::Copy),
    bind(
        &[Key::Char('x')],
        more("x", "forget (keep on server)"),
        Cmd::Forget,
    ),
    bind(&[Key::Char('r')], more("r", "refresh"), Cmd::Refresh),
    bind(&[Key::Char('P')], more("P", "Pro area"), Cmd::Pro),
    bind(PAGE_KEYS, more("PgUp/PgDn", "page up/down"), Cmd::Move),
    bind(END_KEYS, more("g/G", "first/last"), Cmd::Move),
    bind(&[Key::Char('q')], hint("q", "quit"), Cmd::Quit),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// State of the home screen: which mailbox is selected and where the list was drawn.
#[derive(Debug, Default)]
pub struct Home {
    table: TableState,
    /// Rows area of the last frame, for mouse clicks.
    rows_area: Rect,
}

impl Home {
    /// A home screen with the first mailbox selected.
    pub fn new() -> Home {
        Home::default()
    }

    /// Selects the mailbox with this address, if it is listed.
    pub fn select(&mut self, ctx: &Ctx, address: &str) {
        if let Some(i) = ctx.saved.mailboxes().iter().position(|m| m.address == address) {
            self.table.select(Some(i));
        }
    }

    /// The address of the selected mailbox.
    pub fn selected<'a>(&self, ctx: &'a Ctx) -> Option<&'a str> {
        let list = ctx.saved.mailboxes();
        let i = self.table.selected().unwrap_or(0).min(list.len().checked_sub(1)?);
        Some(list[i].address.as_str())
    }

    /// The keys of this screen.
    pub fn hints(&self) -> Vec<Hint> {
        keys::table_hints(KEYS, |_| true)
    }

    /// Draws the list.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let list = ctx.saved.mailboxes();
        let block = Block::bordered().title(Span::styled(
            format!(" Mailboxes ({}) ", list.len()),
            theme::title(),
        ));
        if list.is_empty() {
            let text = Text::from(vec![
                Line::raw(""),
                Line::raw("No mailboxes yet."),
                Line::raw(""),
                Line::from(vec![
                    Span::raw("Press "),
                    Span::styled(" n ", theme::key()),
                    Span::raw(" to create one, or "),
                    Span::styled(" s ", theme::key()),
                    Span::raw(" to sign in to one you have."),
                ]),
            ]);
            frame.render_widget(Paragraph::new(text).centered().block(block), area);
            return;
        }
        let selected = self.table.selected().unwrap_or(0).min(list.len() - 1);
        self.table.select(Some(selected));
        let rows = list.iter().map(|m| {
            let state = match ctx.health.get(&m.address) {
                _ if m.open => open_state(ctx, &m.address),
                Some(Health::Ok(me)) => Line::from(vec![
                    // The unread count first: it is what a glance at the list is for.
                    Span::styled(
                        format!("{} unread", me.unread),
                        if me.unread > 0 {
                            theme::unread()
                        } else {
                            theme::dim()
                        },
                    ),
                    Span::styled(
                        format!(" · {} of {} used", format::size(me.used), format::size(me.quota)),
                        theme::dim(),
                    ),
                ]),
                Some(Health::Checking) | None => {
                    Line::styled(format!("{} checking", ctx.spinner), theme::dim())
                }
                Some(Health::SignedOut) => {
                    Line::styled("signed out: press s to sign in again", theme::error())
                }
                Some(Health::Failed(e)) => Line::styled(format::one_line(e), theme::error()),
            };
            Row::new(vec![Cell::from(m.address.as_str()), Cell::from(state)])
        });
        let table = Table::new(rows, [Constraint::Percentage(45), Constraint::Fill(1)])
            .block(block)
            .row_highlight_style(theme::selected())
            .highlight_symbol("› ");
        let inner = Block::bordered().inner(area);
        self.rows_area = inner;
        frame.render_stateful_widget(table, area, &mut self.table);
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, ctx: &Ctx) -> Option<Action> {
        let len = ctx.saved.mailboxes().len();
        let cmd = keys::command(KEYS, &key)?;
        let selected = self.selected(ctx).map(str::to_string);
        let signed_out = selected
            .as_ref()
            .is_some_and(|a| ctx.health.get(a) == Some(&Health::SignedOut));
        match cmd {
            Cmd::Move => {
                if let Some(m) = keys::movement(&key) {
                    self.move_by(m, len);
                }
                None
            }
            Cmd::Open => {
                let address = selected?;
                Some(if signed_out {
                    Action::OpenSignIn(Some(address))
                } else {
                    Action::OpenInbox(address)
                })
            }
            Cmd::New => Some(Action::OpenCreate),
            Cmd::Throwaway => Some(Action::Throwaway),
            Cmd::SignIn => Some(Action::OpenSignIn(selected.filter(|_| signed_out))),
            Cmd::Watch => Some(Action::OpenWatch),
            // An open inbox is not deleted, only its mail.
            Cmd::Delete if selected.as_deref().is_some_and(|a| is_open(ctx, a)) => {
                selected.map(Action::AskDeleteAll)
            }
            Cmd::Info => selected.map(Action::Inspect),
            Cmd::Delete => selected.map(Action::AskDeleteAccount),
            Cmd::Forget => selected.map(Action::AskForget),
            Cmd::Copy => selected.map(Action::Copy),
            Cmd::Refresh => Some(Action::RefreshHome),
            Cmd::Pro => Some(Action::Pro(crate::pro::ProAction::Open)),
            Cmd::Quit => Some(Action::Quit),
            Cmd::Help => Some(Action::Help),
        }
    }

    /// Scrolls with the wheel; a click selects a row, a click on the selected row opens it.
    pub fn on_mouse(&mut self, mouse: MouseEvent, ctx: &Ctx) -> Option<Action> {
        let len = ctx.saved.mailboxes().len();
        match mouse.kind {
            MouseEventKind::ScrollUp => self.move_by(Move::By(-WHEEL_STEP), len),
            MouseEventKind::ScrollDown => self.move_by(Move::By(WHEEL_STEP), len),
            MouseEventKind::Down(MouseButton::Left) => {
                if !self.rows_area.contains(Position::new(mouse.column, mouse.row)) {
                    return None;
                }
                let i = self.table.offset() + (mouse.row - self.rows_area.y) as usize;
                if i >= len {
                    return None;
                }
                if self.table.selected() == Some(i) {
                    return self.on_key(KeyEvent::from(KeyCode::Enter), ctx);
                }
                self.table.select(Some(i));
            }
            _ => {}
        }
        None
    }

    fn move_by(&mut self, m: Move, len: usize) {
        let page = self.rows_area.height.max(1) as usize;
        let at = keys::apply(m, self.table.selected().unwrap_or(0), len, page);
        self.table.select(Some(at));
    }
}

/// Whether `address` is a watched open inbox.
fn is_open(ctx: &Ctx, address: &str) -> bool {
    ctx.saved.get(address).is_some_and(|m| m.open)
}

/// The row of a watched open inbox: marked as such, its mail seen so far, its retention.
fn open_state<'a>(ctx: &Ctx, address: &str) -> Line<'a> {
    let count = ctx.open_counts.get(address).copied().unwrap_or(0);
    let kept = super::watch::retention(ctx).map_or(String::new(), |r| format!(" · kept {r}"));
    Line::from(vec![
        Span::styled("open · ", theme::dim()),
        Span::styled(
            format!("{count} mail"),
            if count > 0 { theme::unread() } else { theme::dim() },
        ),
        Span::styled(kept, theme::dim()),
    ])
}
