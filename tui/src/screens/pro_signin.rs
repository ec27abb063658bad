//! The Pro sign-in form: the Pro user's email and password. With the bundled server the app is
//! the operator, so `^N` creates the Pro user first (a generated password when none is typed).

use crossterm::event::{KeyCode, KeyEvent};
use mailcx_common::validate::validate_password;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Ctx;
use super::create::{FORM_WIDTH, form_box, form_rows, random_password};
use crate::action::Action;
use crate::field::{Field, rows_needed};
use crate::keys::{self, Binding, Hint, Key, bind, hint, more};
use crate::pro::ProAction;
use crate::text::wrap;
use crate::theme;

/// The email `^N` gives the local Pro user when none is typed.
pub const LOCAL_EMAIL: &str = "owner@mailcx.local";

/// What a key does in the Pro sign-in form; other keys edit the focused field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Sign in.
    SignIn,
    /// Create the Pro user on the bundled server, then sign in.
    CreateLocal,
    /// Focus the other field.
    Other,
    /// Leave the form.
    Cancel,
    /// Show every key.
    Help,
}

/// The keys of the Pro sign-in form.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "sign in"), Cmd::SignIn),
    bind(
        &[Key::Ctrl('n')],
        hint("^N", "create local Pro user"),
        Cmd::CreateLocal,
    ),
    bind(
        &[Key::Code(KeyCode::Tab), Key::Code(KeyCode::Down)],
        hint("Tab", "next field"),
        Cmd::Other,
    ),
    bind(&[Key::Code(KeyCode::Esc)], hint("Esc", "cancel"), Cmd::Cancel),
    bind(
        &[Key::Code(KeyCode::BackTab), Key::Code(KeyCode::Up)],
        more("S-Tab", "previous field"),
        Cmd::Other,
    ),
    bind(&[Key::Code(KeyCode::F(1))], more("F1", "help"), Cmd::Help),
];

/// State of the Pro sign-in form.
#[derive(Debug)]
pub struct ProSignIn {
    /// The Pro user's email.
    pub email: Field,
    /// The password.
    pub password: Field,
    password_focused: bool,
    /// Why the form is showing (a session that expired, say), shown above the fields.
    pub reason: Option<String>,
    /// A request is running.
    pub busy: bool,
    /// The server is the bundled one: `^N` may create the Pro user.
    embedded: bool,
}

impl ProSignIn {
    /// A form with the email filled in when known, and why sign-in is needed; `embedded` when
    /// the server is the bundled one.
    pub fn new(email: Option<String>, reason: Option<String>, embedded: bool) -> ProSignIn {
        let mut form = ProSignIn {
            email: Field::new("Email"),
            password: Field::masked("Password"),
            password_focused: false,
            reason,
            busy: false,
            embedded,
        };
        if let Some(email) = email {
            form.email.set(email);
            form.password_focused = true;
        }
        form
    }

    /// Focuses the password (the server refused it).
    pub fn focus_password(&mut self) {
        self.password_focused = true;
    }

    /// The keys that work here: `^N` only with the bundled server.
    pub fn hints(&self) -> Vec<Hint> {
        keys::table_hints(KEYS, |c| c != Cmd::CreateLocal || self.embedded)
    }

    /// Handles pasted text.
    pub fn on_paste(&mut self, text: &str) {
        self.focused().paste(text);
    }

    fn focused(&mut self) -> &mut Field {
        if self.password_focused {
            &mut self.password
        } else {
            &mut self.email
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, _ctx: &Ctx) -> Option<Action> {
        match keys::command(KEYS, &key) {
            Some(Cmd::Cancel) => return Some(Action::Back),
            Some(Cmd::Help) => return Some(Action::Help),
            Some(Cmd::Other) => self.password_focused = !self.password_focused,
            Some(Cmd::SignIn) => return self.submit(),
            Some(Cmd::CreateLocal) if self.embedded => {
                return self.create_local();
            }
            Some(Cmd::CreateLocal) => {}
            None => {
                self.focused().handle_key(key);
            }
        }
        None
    }

    fn submit(&mut self) -> Option<Action> {
        if self.busy {
            return None;
        }
        let email = self.email.value().trim().to_string();
        if email.is_empty() {
            self.email.server_error = Some("type the Pro user's email".into());
            self.password_focused = false;
            return None;
        }
        if self.password.value().is_empty() {
            self.password.server_error = Some("type the password".into());
            self.password_focused = true;
            return None;
        }
        self.busy = true;
        Some(Action::Pro(ProAction::Login {
            email,
            password: self.password.value().to_string(),
        }))
    }

    /// `^N`: what is typed, else `owner@mailcx.local` and a generated password.
    fn create_local(&mut self) -> Option<Action> {
        if self.busy {
            return None;
        }
        let email = match self.email.value().trim() {
            "" => LOCAL_EMAIL.to_string(),
            typed => typed.to_string(),
        };
        let password = match self.password.value() {
            "" => random_password(),
            typed => typed.to_string(),
        };
        if let Err(e) = validate_password(&password) {
            self.password.server_error = Some(e.to_string());
            self.password_focused = true;
            return None;
        }
        self.busy = true;
        Some(Action::Pro(ProAction::CreateLocalUser { email, password }))
    }

    /// Draws the form.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let width = area.width.min(FORM_WIDTH).saturating_sub(4);
        let embedded = self.embedded;
        let mut intro: Vec<Line> = Vec::new();
        if let Some(reason) = &self.reason {
            intro.extend(
                wrap(reason, width as usize)
                    .into_iter()
                    .map(|l| Line::styled(l, theme::error())),
            );
        }
        // The offer is also in the key bar: short of room, the reason and the fields come first.
        if embedded && area.height >= 16 {
            let offer = format!(
                "New here? ^N makes this the bundled server's Pro user (empty fields: {LOCAL_EMAIL} \
                 and a generated password, shown once)."
            );
            intro.extend(
                wrap(&offer, width as usize)
                    .into_iter()
                    .map(|l| Line::styled(l, theme::dim())),
            );
        }
        let a = rows_needed(self.email.server_error.as_deref(), width);
        let b = rows_needed(self.password.server_error.as_deref(), width);
        let heights = [intro.len() as u16, a, b, 1];
        let inner = form_box(frame, area, " Sign in to Pro ", heights.iter().sum());
        let focus = 1 + usize::from(self.password_focused);
        let [intro_area, email, password, state] = form_rows(inner, heights, focus);
        if let Some(intro_area) = intro_area {
            frame.render_widget(ratatui::widgets::Paragraph::new(intro), intro_area);
        }
        if let Some(email) = email {
            self.email.render(frame, email, !self.password_focused, None);
        }
        if let Some(password) = password {
            self.password.render(frame, password, self.password_focused, None);
        }
        if let (true, Some(state)) = (self.busy, state) {
            let line = Line::from(vec![Span::styled(
                format!("  {} Signing in…", ctx.spinner),
                theme::dim(),
            )]);
            frame.render_widget(line, state);
        }
    }
}
