//! The screens, one module each: they render, handle keys and mouse, and list their key hints.
//! A screen changes its own state directly and returns an [`Action`] for anything beyond it.

pub mod create;
pub mod filter;
pub mod headers;
pub mod home;
pub mod inbox;
pub mod pro_area;
pub mod pro_signin;
pub mod prompt;
pub mod reader;
pub mod signin;
pub mod source;
pub mod watch;

use std::collections::HashMap;

use crossterm::event::{KeyEvent, MouseEvent, MouseEventKind};
use mailcx_common::{Domain, Me, Timestamp};
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::action::Action;
use crate::app::ServerInfo;
use crate::keys::{self, Hint};
use crate::saved::Saved;

pub use create::CreateForm;
pub use headers::HeadersView;
pub use home::Home;
pub use inbox::Inbox;
pub use reader::Reader;
pub use signin::SignInForm;
pub use source::SourceView;
pub use watch::WatchForm;

/// What every screen may read: the saved mailboxes, what the server told us, the time.
#[derive(Debug)]
pub struct Ctx {
    /// The saved mailboxes of this server.
    pub saved: Saved,
    /// The server's system domains, default first; empty until they load.
    pub domains: Vec<Domain>,
    /// Why the domains could not be loaded, if they could not.
    pub domains_error: Option<String>,
    /// What the last check of each saved mailbox found, by address.
    pub health: HashMap<String, Health>,
    /// Where the server is.
    pub server: ServerInfo,
    /// The time ages are measured from, set before each frame.
    pub now: Timestamp,
    /// The current spinner frame, for screens that show loading in place.
    pub spinner: &'static str,
    /// `GET /v1/config` (open domains, their retention); `None` until it answers.
    pub open_config: Option<Result<mailcx_common::v1::Config, String>>,
    /// Mail seen in each watched open inbox, by address (it has no `/api/me` to count it).
    pub open_counts: HashMap<String, usize>,
}

/// What the last `GET /api/me` of a saved mailbox found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The check is running.
    Checking,
    /// The token works.
    Ok(Me),
    /// The token expired or the mailbox was deleted elsewhere (401 `invalid_token`).
    SignedOut,
    /// The check failed for another reason (server down, garbage answer).
    Failed(String),
}

/// One screen of the navigation stack.
#[derive(Debug)]
pub enum Screen {
    /// The saved mailboxes.
    Home(Home),
    /// The create-mailbox form.
    Create(CreateForm),
    /// The sign-in form.
    SignIn(SignInForm),
    /// One mailbox's messages.
    Inbox(Inbox),
    /// One message.
    Reader(Reader),
    /// One message's raw source.
    Source(SourceView),
    /// One message's headers.
    Headers(HeadersView),
    /// The form that picks an open inbox to watch.
    Watch(WatchForm),
    /// The Pro area's tabs.
    Pro(pro_area::ProArea),
    /// The Pro sign-in form.
    ProSignIn(pro_signin::ProSignIn),
}

impl Screen {
    /// The short name shown in the title bar's trail.
    pub fn title(&self) -> String {
        match self {
            Screen::Home(_) => "Mailboxes".into(),
            Screen::Create(_) => "New mailbox".into(),
            Screen::SignIn(_) => "Sign in".into(),
            Screen::Inbox(s) => s.address.clone(),
            Screen::Reader(s) => s.title(),
            Screen::Source(_) => "Source".into(),
            Screen::Headers(_) => "Headers".into(),
            Screen::Watch(_) => "Watch".into(),
            Screen::Pro(_) => "Pro".into(),
            Screen::ProSignIn(_) => "Pro sign-in".into(),
        }
    }

    /// Draws the screen into `area`.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        match self {
            Screen::Home(s) => s.render(frame, area, ctx),
            Screen::Create(s) => s.render(frame, area, ctx),
            Screen::SignIn(s) => s.render(frame, area, ctx),
            Screen::Inbox(s) => s.render(frame, area, ctx),
            Screen::Reader(s) => s.render(frame, area, ctx),
            Screen::Source(s) => s.render(frame, area, ctx),
            Screen::Headers(s) => s.render(frame, area, ctx),
            Screen::Watch(s) => s.render(frame, area, ctx),
            Screen::Pro(s) => s.render(frame, area, ctx),
            Screen::ProSignIn(s) => s.render(frame, area, ctx),
        }
    }

    /// Handles a key press; returns what the app should do beyond the screen itself.
    pub fn on_key(&mut self, key: KeyEvent, ctx: &Ctx) -> Option<Action> {
        match self {
            Screen::Home(s) => s.on_key(key, ctx),
            Screen::Create(s) => s.on_key(key, ctx),
            Screen::SignIn(s) => s.on_key(key, ctx),
            Screen::Inbox(s) => s.on_key(key, ctx),
            Screen::Reader(s) => s.on_key(key, ctx),
            Screen::Source(s) => s.on_key(key, ctx),
            Screen::Headers(s) => s.on_key(key, ctx),
            Screen::Watch(s) => s.on_key(key, ctx),
            Screen::Pro(s) => s.on_key(key, ctx),
            Screen::ProSignIn(s) => s.on_key(key, ctx),
        }
    }

    /// Handles a mouse scroll or click.
    pub fn on_mouse(&mut self, mouse: MouseEvent, ctx: &Ctx) -> Option<Action> {
        match self {
            Screen::Home(s) => s.on_mouse(mouse, ctx),
            Screen::Inbox(s) => s.on_mouse(mouse),
            Screen::Reader(s) => s.on_mouse(mouse),
            Screen::Source(s) => s.on_mouse(mouse),
            Screen::Headers(s) => s.on_mouse(mouse),
            Screen::Create(_) | Screen::SignIn(_) | Screen::Watch(_) => None,
            Screen::Pro(s) => s.on_mouse(mouse),
            Screen::ProSignIn(_) => None,
        }
    }

    /// Handles pasted text (forms put it into the focused field).
    pub fn on_paste(&mut self, text: &str) {
        match self {
            Screen::Create(s) => s.on_paste(text),
            Screen::SignIn(s) => s.on_paste(text),
            Screen::Watch(s) => s.on_paste(text),
            Screen::Pro(s) => s.on_paste(text),
            Screen::ProSignIn(s) => s.on_paste(text),
            _ => {}
        }
    }

    /// The keys that work on this screen.
    pub fn hints(&self) -> Vec<Hint> {
        match self {
            Screen::Home(s) => s.hints(),
            Screen::Create(_) => keys::table_hints(create::KEYS, |_| true),
            Screen::SignIn(_) => keys::table_hints(signin::KEYS, |_| true),
            Screen::Inbox(s) => s.hints(),
            Screen::Reader(s) => s.hints(),
            Screen::Source(_) => keys::table_hints(source::KEYS, |_| true),
            Screen::Headers(_) => keys::table_hints(headers::KEYS, |_| true),
            Screen::Watch(_) => keys::table_hints(watch::KEYS, |_| true),
            Screen::Pro(s) => s.hints(),
            Screen::ProSignIn(s) => s.hints(),
        }
    }
}

/// Where the scroll wheel moves a list, and how far.
pub const WHEEL_STEP: isize = 3;

/// The move a turn of the wheel makes, [`WHEEL_STEP`] rows up or down; `None` for other mouse
/// events.
pub fn wheel(mouse: &MouseEvent) -> Option<keys::Move> {
    match mouse.kind {
        MouseEventKind::ScrollUp => Some(keys::Move::By(-WHEEL_STEP)),
        MouseEventKind::ScrollDown => Some(keys::Move::By(WHEEL_STEP)),
        _ => None,
    }
}
