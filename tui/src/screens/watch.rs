//! The watch form (`w` at home): a local part, typed or random, on one of the server's open
//! domains (`GET /v1/config`). Its open inbox needs no creation: watching it opens it at once.

use crossterm::event::{KeyCode, KeyEvent};
use mailcx_common::validate::normalize_address;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::Ctx;
use super::create::{cycle, form_box, form_rows, random_local, render_domain_row, render_preview};
use crate::action::Action;
use crate::field::{Field, rows_needed};
use crate::keys::{self, Binding, Key, bind, hint, more};
use crate::theme;

/// What a key does in the watch form; keys not in the table edit the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Check the address and watch it.
    Watch,
    /// Focus the other field.
    Next,
    /// Choose another open domain (on the domain field; elsewhere the arrows move the cursor).
    Domain,
    /// Fill in a random local part.
    Random,
    /// Leave the form.
    Cancel,
    /// Show every key.
    Help,
}

/// The keys of the watch form: what they do and how the help shows them.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "watch"), Cmd::Watch),
    bind(
        &[
            Key::Code(KeyCode::Tab),
            Key::Code(KeyCode::Down),
            Key::Code(KeyCode::BackTab),
            Key::Code(KeyCode::Up),
        ],
        hint("Tab", "next field"),
        Cmd::Next,
    ),
    bind(
        &[Key::Code(KeyCode::Left), Key::Code(KeyCode::Right)],
        hint("←→", "domain"),
        Cmd::Domain,
    ),
    bind(
        &[Key::Ctrl('r'), Key::Code(KeyCode::F(2))],
        hint("^R", "random"),
        Cmd::Random,
    ),
    bind(&[Key::Code(KeyCode::Esc)], hint("Esc", "cancel"), Cmd::Cancel),
    bind(&[Key::Code(KeyCode::F(1))], more("F1", "help"), Cmd::Help),
];

/// State of the watch form.
#[derive(Debug)]
pub struct WatchForm {
    /// The part before `@`.
    pub local: Field,
    /// The chosen open domain; `None` means the first.
    domain: Option<String>,
    /// The domain field has the focus (else the address).
    on_domain: bool,
    /// After a refused submit the address's message shows even when it is empty.
    submitted: bool,
}

impl Default for WatchForm {
    fn default() -> Self {
        WatchForm::new()
    }
}

impl WatchForm {
    /// An empty form on the first open domain.
    pub fn new() -> WatchForm {
        WatchForm {
            local: Field::new("Address"),
            domain: None,
            on_domain: false,
            submitted: false,
        }
    }

    /// The domain the address will get: the chosen open domain, else the first.
    pub fn domain<'a>(&'a self, ctx: &'a Ctx) -> Option<&'a str> {
        let open = open_domains(ctx);
        self.domain
            .as_deref()
            .filter(|d| open.contains(d))
            .or(open.first().copied())
    }

    /// The full address as typed so far.
    pub fn address(&self, ctx: &Ctx) -> String {
        format!("{}@{}", self.local.value(), self.domain(ctx).unwrap_or(""))
    }

    /// What is wrong with the address: the server's rules, or a mailbox of the saved list (its
    /// mail is never readable through `/v1`).
    fn local_error(&self, ctx: &Ctx) -> Option<String> {
        if self.local.value().is_empty() && !self.submitted {
            return None;
        }
        let address = match normalize_address(&self.address(ctx), &open_domains(ctx)) {
            Ok(address) => address,
            Err(e) => return Some(e.to_string()),
        };
        // Plus-addressed mail goes to the base mailbox: `demo+x@` is `demo@`'s.
        let base = match address.split_once('@') {
            Some((local, domain)) => format!("{}@{domain}", local.split('+').next().unwrap_or(local)),
            None => address.clone(),
        };
        match ctx.saved.get(&base) {
            Some(m) if !m.open && base == address => Some(format!(
                "{address} is a mailbox with a password: open it from the list; its mail is never \
                 readable as an open inbox"
            )),
            Some(m) if !m.open => Some(format!(
                "mail to {address} goes to the mailbox {base}: open it from the list; its mail is \
                 never readable as an open inbox"
            )),
            _ => None,
        }
    }

    fn domain_error(&self, ctx: &Ctx) -> Option<String> {
        match &ctx.open_config {
            Some(Ok(config)) if config.open_domains.is_empty() => {
                Some("this server has no open domains".into())
            }
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(format!("no open domains: {e}")),
            None => Some("loading the server's open domains…".into()),
        }
    }

    /// Handles pasted text.
    pub fn on_paste(&mut self, text: &str) {
        if !self.on_domain {
            self.local.paste(text);
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, ctx: &Ctx) -> Option<Action> {
        match keys::command(KEYS, &key) {
            Some(Cmd::Cancel) => return Some(Action::Back),
            Some(Cmd::Help) => return Some(Action::Help),
            Some(Cmd::Next) => self.on_domain = !self.on_domain,
            Some(Cmd::Watch) => return self.submit(ctx),
            Some(Cmd::Random) => self.local.set(random_local()),
            Some(Cmd::Domain) if self.on_domain => {
                let by = if key.code == KeyCode::Left { -1 } else { 1 };
                self.step_domain(by, ctx);
            }
            Some(Cmd::Domain) | None => {
                if !self.on_domain {
                    self.local.handle_key(key);
                }
            }
        }
        None
    }

    fn step_domain(&mut self, by: isize, ctx: &Ctx) {
        if let Some(next) = cycle(&open_domains(ctx), self.domain(ctx), by) {
            self.domain = Some(next.to_string());
        }
    }

    /// Checks the address; watches it if it is good, else shows why not.
    fn submit(&mut self, ctx: &Ctx) -> Option<Action> {
        self.submitted = true;
        if self.domain_error(ctx).is_some() {
            self.on_domain = true;
            return None;
        }
        if self.local_error(ctx).is_some() {
            self.on_domain = false;
            return None;
        }
        let address = normalize_address(&self.address(ctx), &open_domains(ctx)).ok()?;
        Some(Action::Watch(address))
    }

    /// Draws the form.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let local_error = self.local_error(ctx);
        let shown = self.local.shown_message(local_error.as_deref());
        let width = area.width.min(super::create::FORM_WIDTH).saturating_sub(4);
        let domain_error = self.domain_error(ctx);
        let heights = [
            rows_needed(shown, width),
            rows_needed(domain_error.as_deref(), width),
            1,
            1,
            1,
        ];
        let inner = form_box(frame, area, " Watch an address ", heights.iter().sum());
        let focused = usize::from(self.on_domain);
        let [local, domain, _, preview, note] = form_rows(inner, heights, focused);
        if let Some(local) = local {
            self.local
                .render(frame, local, !self.on_domain, local_error.as_deref());
        }
        if let Some(domain) = domain {
            let choice = open_domains(ctx).len() > 1;
            let error = domain_error.as_deref();
            render_domain_row(
                frame,
                domain,
                "Open domain",
                self.on_domain,
                self.domain(ctx),
                choice,
                error,
            );
        }
        if let Some(preview) = preview {
            let address = (!self.local.value().is_empty()).then(|| self.address(ctx));
            render_preview(frame, preview, "  Will watch", address);
        }
        if let Some(note) = note {
            let kept = retention(ctx).map_or(String::new(), |r| format!("; mail kept {r}"));
            let text = format!("  Anyone who knows the address reads it{kept}.");
            frame.render_widget(Line::styled(text, theme::dim()), note);
        }
    }
}

/// The server's open domains, as far as they are known.
fn open_domains(ctx: &Ctx) -> Vec<&str> {
    match &ctx.open_config {
        Some(Ok(config)) => config.open_domains.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// How long an open inbox keeps its mail ("1h", "30m"), once the server said.
pub fn retention(ctx: &Ctx) -> Option<String> {
    let Some(Ok(config)) = &ctx.open_config else {
        return None;
    };
    let secs = config.retention_seconds;
    Some(match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    })
}
