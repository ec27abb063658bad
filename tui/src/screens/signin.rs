//! The sign-in form: an address and its password. A refused sign-in keeps what was typed and
//! shows the server's message under the password.

use crossterm::event::{KeyCode, KeyEvent};
use mailcx_common::Credentials;
use mailcx_common::validate::{normalize_address, validate_password};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::Ctx;
use super::create::{FORM_WIDTH, form_box, form_rows};
use crate::action::Action;
use crate::field::{Field, rows_needed};
use crate::keys::{self, Binding, Key, bind, hint, more};
use crate::theme;

/// What a key does in the sign-in form; keys not in the table edit the focused field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Check the fields and sign in.
    SignIn,
    /// Focus the other field (there are two).
    Other,
    /// Leave the form.
    Cancel,
    /// Show every key.
    Help,
}

/// The keys of the sign-in form: what they do and how the help shows them.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "sign in"), Cmd::SignIn),
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

/// State of the sign-in form.
#[derive(Debug)]
pub struct SignInForm {
    /// The full address.
    pub address: Field,
    /// The password.
    pub password: Field,
    password_focused: bool,
    submitted: bool,
    /// A sign-in request is running.
    pub busy: bool,
}

impl SignInForm {
    /// A form with the address filled in (when signing in again to a saved mailbox).
    pub fn new(address: Option<String>) -> SignInForm {
        let mut form = SignInForm {
            address: Field::new("Address"),
            password: Field::masked("Password"),
            password_focused: false,
            submitted: false,
            busy: false,
        };
        if let Some(address) = address {
            form.address.set(address);
            form.password_focused = true;
        }
        form
    }

    /// Focuses the password field (after the server refused the sign-in).
    pub fn focus_password(&mut self) {
        self.password_focused = true;
    }

    /// What is wrong with the address's shape. Any domain is allowed here: a Pro user's mailbox
    /// may be on a custom domain the public list does not show.
    fn address_error(&self) -> Option<String> {
        let value = self.address.value().trim();
        if value.is_empty() && !self.submitted {
            return None;
        }
        let domain = value.rsplit_once('@').map_or("", |(_, d)| d);
        normalize_address(value, &[domain]).err().map(|e| e.to_string())
    }

    fn password_error(&self) -> Option<String> {
        if self.password.value().is_empty() && !self.submitted {
            return None;
        }
        validate_password(self.password.value())
            .err()
            .map(|e| e.to_string())
    }

    /// Handles pasted text.
    pub fn on_paste(&mut self, text: &str) {
        self.focused().paste(text);
    }

    fn focused(&mut self) -> &mut Field {
        if self.password_focused {
            &mut self.password
        } else {
            &mut self.address
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, _ctx: &Ctx) -> Option<Action> {
        match keys::command(KEYS, &key) {
            Some(Cmd::Cancel) => return Some(Action::Back),
            Some(Cmd::Help) => return Some(Action::Help),
            Some(Cmd::Other) => self.password_focused = !self.password_focused,
            Some(Cmd::SignIn) => return self.submit(),
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
        self.submitted = true;
        if self.address_error().is_some() {
            self.password_focused = false;
            return None;
        }
        if self.password_error().is_some() {
            self.password_focused = true;
            return None;
        }
        self.busy = true;
        Some(Action::SignIn(Credentials {
            address: self.address.value().trim().to_ascii_lowercase(),
            password: self.password.value().to_string(),
        }))
    }

    /// Draws the form.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let errors = [self.address_error(), self.password_error()];
        let width = area.width.min(FORM_WIDTH).saturating_sub(4);
        let a = rows_needed(self.address.shown_message(errors[0].as_deref()), width);
        let b = rows_needed(self.password.shown_message(errors[1].as_deref()), width);
        let heights = [a, b, 1, 1];
        let inner = form_box(frame, area, " Sign in to a mailbox ", heights.iter().sum());
        let [address, password, _, state] = form_rows(inner, heights, usize::from(self.password_focused));
        if let Some(address) = address {
            let focused = !self.password_focused;
            self.address.render(frame, address, focused, errors[0].as_deref());
        }
        if let Some(password) = password {
            let focused = self.password_focused;
            self.password
                .render(frame, password, focused, errors[1].as_deref());
        }
        if let (true, Some(state)) = (self.busy, state) {
            frame.render_widget(
                Line::styled(format!("  {} Signing in…", ctx.spinner), theme::dim()),
                state,
            );
        }
    }
}
