//! The Pro area: a signed-in Pro user's mailboxes, custom domains, API tokens and webhook, one
//! tab each. A one-line form opens at the bottom for what needs typing (a name, an address, a
//! URL, the filter), and secrets the server shows once open in a box of their own with a copy key.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use mailcx_common::{
    CustomDomain, ProAccount, TokenInfo, VerifyStatus, Webhook, WebhookDelivery, WebhookStatus,
};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};
use tokio::task::AbortHandle;

use super::{Ctx, WHEEL_STEP};
use crate::action::Action;
use crate::field::{Field, rows_needed};
use crate::keys::{self, Binding, Hint, Key, MOVE_KEYS, bind, hint, more};
use crate::pro::ProAction;
use crate::{format, theme};

/// The four tabs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The mailboxes the user owns.
    Mailboxes,
    /// Custom domains.
    Domains,
    /// API tokens.
    Tokens,
    /// The webhook and its deliveries.
    Webhook,
}

const TABS: [Tab; 4] = [Tab::Mailboxes, Tab::Domains, Tab::Tokens, Tab::Webhook];

impl Tab {
    fn name(self) -> &'static str {
        match self {
            Tab::Mailboxes => "Mailboxes",
            Tab::Domains => "Domains",
            Tab::Tokens => "Tokens",
            Tab::Webhook => "Webhook",
        }
    }

    fn index(self) -> usize {
        TABS.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// What a key does in the Pro area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Move the selection.
    Move,
    /// Open the selected mailbox, or show the selected domain's records.
    Open,
    /// Create: a mailbox, a domain, a token or the webhook.
    New,
    /// Reset the selected mailbox's password.
    ResetPassword,
    /// Delete (or revoke) the selected item.
    Delete,
    /// Copy the selected address or domain.
    Copy,
    /// Filter the mailboxes.
    Filter,
    /// Verify the selected domain.
    Verify,
    /// Show or hide the webhook's secret.
    Secret,
    /// Give the webhook a new secret.
    Rotate,
    /// The next tab.
    NextTab,
    /// The previous tab.
    PrevTab,
    /// Load the lists again.
    Reload,
    /// Forget the session.
    SignOut,
    /// Leave the Pro area.
    Back,
    /// Show every key.
    Help,
}

/// The keys of the Mailboxes tab.
pub const MAILBOX_KEYS: &[Binding<Cmd>] = &[
    bind(MOVE_KEYS, hint("↑↓", "move"), Cmd::Move),
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "open"), Cmd::Open),
    bind(&[Key::Char('n')], hint("n", "new"), Cmd::New),
    bind(&[Key::Char('p')], hint("p", "reset password"), Cmd::ResetPassword),
    bind(&[Key::Char('d')], hint("d", "delete"), Cmd::Delete),
    bind(&[Key::Char('/')], hint("/", "filter"), Cmd::Filter),
    bind(&[Key::Char('c')], more("c", "copy address"), Cmd::Copy),
    bind(&[Key::Code(KeyCode::Tab)], hint("Tab", "next tab"), Cmd::NextTab),
    bind(
        &[Key::Code(KeyCode::BackTab)],
        more("S-Tab", "previous tab"),
        Cmd::PrevTab,
    ),
    bind(&[Key::Char('r')], more("r", "reload"), Cmd::Reload),
    bind(&[Key::Char('L')], more("L", "sign out of Pro"), Cmd::SignOut),
    bind(&[Key::Code(KeyCode::Esc)], hint("Esc", "back"), Cmd::Back),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// The keys of the Domains tab.
pub const DOMAIN_KEYS: &[Binding<Cmd>] = &[
    bind(MOVE_KEYS, hint("↑↓", "move"), Cmd::Move),
    bind(&[Key::Char('a'), Key::Char('n')], hint("a", "add"), Cmd::New),
    bind(&[Key::Char('v')], hint("v", "verify"), Cmd::Verify),
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "records"), Cmd::Open),
    bind(&[Key::Char('d')], hint("d", "delete"), Cmd::Delete),
    bind(&[Key::Char('c')], more("c", "copy domain"), Cmd::Copy),
    bind(&[Key::Code(KeyCode::Tab)], hint("Tab", "next tab"), Cmd::NextTab),
    bind(
        &[Key::Code(KeyCode::BackTab)],
        more("S-Tab", "previous tab"),
        Cmd::PrevTab,
    ),
    bind(&[Key::Char('r')], more("r", "reload"), Cmd::Reload),
    bind(&[Key::Char('L')], more("L", "sign out of Pro"), Cmd::SignOut),
    bind(&[Key::Code(KeyCode::Esc)], hint("Esc", "back"), Cmd::Back),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// The keys of the Tokens tab.
pub const TOKEN_KEYS: &[Binding<Cmd>] = &[
    bind(MOVE_KEYS, hint("↑↓", "move"), Cmd::Move),
    bind(&[Key::Char('n')], hint("n", "mint"), Cmd::New),
    bind(&[Key::Char('d')], hint("d", "revoke"), Cmd::Delete),
    bind(&[Key::Code(KeyCode::Tab)], hint("Tab", "next tab"), Cmd::NextTab),
    bind(
        &[Key::Code(KeyCode::BackTab)],
        more("S-Tab", "previous tab"),
        Cmd::PrevTab,
    ),
    bind(&[Key::Char('r')], more("r", "reload"), Cmd::Reload),
    bind(&[Key::Char('L')], more("L", "sign out of Pro"), Cmd::SignOut),
    bind(&[Key::Code(KeyCode::Esc)], hint("Esc", "back"), Cmd::Back),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// The keys of the Webhook tab.
pub const WEBHOOK_KEYS: &[Binding<Cmd>] = &[
    bind(&[Key::Char('n')], hint("n", "create"), Cmd::New),
    bind(&[Key::Char('s')], hint("s", "secret"), Cmd::Secret),
    bind(&[Key::Char('R')], hint("R", "rotate"), Cmd::Rotate),
    bind(&[Key::Char('d')], hint("d", "delete"), Cmd::Delete),
    bind(&[Key::Char('c')], more("c", "copy secret"), Cmd::Copy),
    bind(&[Key::Code(KeyCode::Tab)], hint("Tab", "next tab"), Cmd::NextTab),
    bind(
        &[Key::Code(KeyCode::BackTab)],
        more("S-Tab", "previous tab"),
        Cmd::PrevTab,
    ),
    bind(&[Key::Char('r')], more("r", "reload"), Cmd::Reload),
    bind(&[Key::Char('L')], more("L", "sign out of Pro"), Cmd::SignOut),
    bind(&[Key::Code(KeyCode::Esc)], hint("Esc", "back"), Cmd::Back),
    bind(&[Key::Char('?')], hint("?", "help"), Cmd::Help),
];

/// What a key does in the one-line form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputCmd {
    /// Send it.
    Submit,
    /// Close the form.
    Cancel,
}

/// The keys of the one-line form; other keys edit it.
pub const INPUT_KEYS: &[Binding<InputCmd>] = &[
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "ok"), InputCmd::Submit),
    bind(
        &[Key::Code(KeyCode::Esc)],
        hint("Esc", "cancel"),
        InputCmd::Cancel,
    ),
];

/// What a key does in the box that shows records or a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowCmd {
    /// Move between the rows.
    Move,
    /// Copy the selected row's value.
    Copy,
    /// Close the box.
    Close,
}

/// The keys of the box that shows records or a secret.
pub const SHOW_KEYS: &[Binding<ShowCmd>] = &[
    bind(
        &[Key::Char('c'), Key::Char('y')],
        hint("c", "copy"),
        ShowCmd::Copy,
    ),
    bind(MOVE_KEYS, hint("↑↓", "row"), ShowCmd::Move),
    bind(
        &[Key::Code(KeyCode::Esc), Key::Code(KeyCode::Enter)],
        hint("Esc", "close"),
        ShowCmd::Close,
    ),
];

/// What the one-line form is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// The address of a new mailbox.
    Mailbox,
    /// A domain to add.
    Domain,
    /// A new token's name.
    Token,
    /// The webhook's URL.
    Webhook,
    /// Text the mailbox list is filtered by, applied as it is typed.
    Filter,
}

/// The one-line form at the bottom.
#[derive(Debug)]
pub struct Input {
    /// What it is for.
    pub kind: InputKind,
    /// The field (the server's error shows under it).
    pub field: Field,
    /// Its request is running.
    pub busy: bool,
}

/// One row of the box: a label, a value to copy, and a check mark after a verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowRow {
    /// What the value is ("TXT _mailcx-verify.example.com").
    pub label: String,
    /// The value.
    pub value: String,
    /// ✓ or ✗ after a verify.
    pub ok: Option<bool>,
    /// What DNS answered for the record in the last verify.
    pub answer: Option<String>,
}

/// A box over the tab: DNS records or a secret shown once.
#[derive(Debug)]
pub struct Shown {
    /// Its title.
    pub title: String,
    /// Its rows.
    pub rows: Vec<ShowRow>,
    /// A sentence under the rows ("You will not see it again").
    pub note: Option<String>,
    /// The row `c` copies.
    pub selected: usize,
    /// What the copy notice calls the value (the value itself is never shown in a notice).
    pub what: &'static str,
}

/// The state of the Pro area.
#[derive(Debug)]
pub struct ProArea {
    /// The signed-in Pro user.
    pub email: String,
    /// The Pro JWT every request of the area carries.
    pub token: String,
    /// The tab on screen.
    pub tab: Tab,
    /// The mailboxes loaded so far, newest first.
    pub accounts: Vec<ProAccount>,
    /// The last page of mailboxes loaded (0: none yet).
    pub accounts_page: u32,
    /// Whether another page may follow.
    pub more_accounts: bool,
    /// Whether the live connection is open.
    pub live: bool,
    /// The filter applied to the mailbox list.
    pub filter: String,
    /// The custom domains (`None` until loaded).
    pub domains: Option<Vec<CustomDomain>>,
    /// The API tokens (`None` until loaded).
    pub tokens: Option<Vec<TokenInfo>>,
    /// The webhooks (`None` until loaded); a user has at most one.
    pub webhooks: Option<Vec<Webhook>>,
    /// The webhook's deliveries, newest first.
    pub deliveries: Vec<WebhookDelivery>,
    /// Whether the webhook's secret is shown.
    pub show_secret: bool,
    /// The one-line form, when open.
    pub input: Option<Input>,
    /// The box over the tab, when open.
    pub shown: Option<Shown>,
    /// The selected row of each tab.
    selected: [usize; 4],
    /// Background tasks that live as long as the area: the live connection, the deliveries poll.
    pub tasks: Vec<AbortHandle>,
    /// Where the tab names were drawn, for clicks.
    tabs_area: Rect,
}

impl ProArea {
    /// The area of `email` signed in with `token`, on the Mailboxes tab, nothing loaded.
    pub fn new(email: String, token: String) -> ProArea {
        ProArea {
            email,
            token,
            tab: Tab::Mailboxes,
            accounts: Vec::new(),
            accounts_page: 0,
            more_accounts: false,
            live: false,
            filter: String::new(),
            domains: None,
            tokens: None,
            webhooks: None,
            deliveries: Vec::new(),
            show_secret: false,
            input: None,
            shown: None,
            selected: [0; 4],
            tasks: Vec::new(),
            tabs_area: Rect::default(),
        }
    }

    /// The webhook, if the user has one.
    pub fn webhook(&self) -> Option<&Webhook> {
        self.webhooks.as_ref().and_then(|w| w.first())
    }

    /// The mailboxes the filter lets through.
    pub fn visible_accounts(&self) -> Vec<&ProAccount> {
        let filter = self.filter.to_lowercase();
        self.accounts
            .iter()
            .filter(|a| filter.is_empty() || a.address.contains(&filter))
            .collect()
    }

    /// The selected mailbox.
    pub fn selected_account(&self) -> Option<&ProAccount> {
        self.visible_accounts().get(self.selected[0]).copied()
    }

    fn selected_domain(&self) -> Option<&CustomDomain> {
        self.domains.as_ref()?.get(self.selected[1])
    }

    fn selected_token(&self) -> Option<&TokenInfo> {
        self.tokens.as_ref()?.get(self.selected[2])
    }

    /// Opens the one-line form for `kind`.
    pub fn open_input(&mut self, kind: InputKind) {
        let label = match kind {
            InputKind::Mailbox => "Address",
            InputKind::Domain => "Domain",
            InputKind::Token => "Token name",
            InputKind::Webhook => "Webhook URL",
            InputKind::Filter => "Filter",
        };
        let mut field = Field::new(label);
        if kind == InputKind::Filter {
            field.set(self.filter.clone());
        }
        self.input = Some(Input {
            kind,
            field,
            busy: false,
        });
    }

    /// Shows a box of rows over the tab.
    pub fn show(
        &mut self,
        title: impl Into<String>,
        rows: Vec<ShowRow>,
        note: Option<String>,
        what: &'static str,
    ) {
        self.shown = Some(Shown {
            title: title.into(),
            rows,
            note,
            selected: 0,
            what,
        });
    }

    /// The keys that work now.
    pub fn hints(&self) -> Vec<Hint> {
        if self.shown.is_some() {
            return keys::table_hints(SHOW_KEYS, |_| true);
        }
        if self.input.is_some() {
            return keys::table_hints(INPUT_KEYS, |_| true);
        }
        let has_hook = self.webhook().is_some();
        keys::table_hints(self.table(), |c| match c {
            Cmd::New if self.tab == Tab::Webhook => !has_hook,
            Cmd::Secret | Cmd::Rotate | Cmd::Delete | Cmd::Copy if self.tab == Tab::Webhook => has_hook,
            _ => true,
        })
    }

    fn table(&self) -> &'static [Binding<Cmd>] {
        match self.tab {
            Tab::Mailboxes => MAILBOX_KEYS,
            Tab::Domains => DOMAIN_KEYS,
            Tab::Tokens => TOKEN_KEYS,
            Tab::Webhook => WEBHOOK_KEYS,
        }
    }

    /// Handles the wheel (moves the selection) and clicks on the tab names.
    pub fn on_mouse(&mut self, mouse: MouseEvent) -> Option<Action> {
        if self.shown.is_some() || self.input.is_some() {
            return None;
        }
        let i = self.tab.index();
        let len = self.rows_of(self.tab);
        match mouse.kind {
            MouseEventKind::ScrollUp => {
                self.selected[i] = keys::apply(keys::Move::By(-WHEEL_STEP), self.selected[i], len, 1)
            }
            MouseEventKind::ScrollDown => {
                self.selected[i] = keys::apply(keys::Move::By(WHEEL_STEP), self.selected[i], len, 1)
            }
            MouseEventKind::Down(MouseButton::Left) if mouse.row == self.tabs_area.y => {
                let mut x = self.tabs_area.x;
                for tab in TABS {
                    let width = tab.name().chars().count() as u16 + 2;
                    if (x..x + width).contains(&mouse.column) {
                        self.tab = tab;
                    }
                    x += width;
                }
            }
            _ => {}
        }
        None
    }

    /// Handles pasted text (into the one-line form).
    pub fn on_paste(&mut self, text: &str) {
        if let Some(input) = &mut self.input {
            input.field.paste(text);
            if input.kind == InputKind::Filter {
                self.filter = input.field.value().trim().to_lowercase();
                self.selected[0] = 0;
            }
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, _ctx: &Ctx) -> Option<Action> {
        if self.shown.is_some() {
            return self.on_shown_key(key);
        }
        if self.input.is_some() {
            return self.on_input_key(key);
        }
        let cmd = keys::command(self.table(), &key)?;
        match cmd {
            Cmd::Move => {
                let m = keys::movement(&key)?;
                let len = self.rows_of(self.tab);
                let i = self.tab.index();
                self.selected[i] = keys::apply(m, self.selected[i], len, 10);
                // At the last loaded mailbox, the next page is asked for.
                if self.tab == Tab::Mailboxes && self.more_accounts && self.selected[0] + 1 >= len {
                    self.more_accounts = false;
                    return Some(Action::Pro(ProAction::LoadAccounts(self.accounts_page + 1)));
                }
                None
            }
            Cmd::NextTab => self.switch(1),
            Cmd::PrevTab => self.switch(TABS.len() - 1),
            Cmd::Reload => Some(Action::Pro(ProAction::Reload)),
            Cmd::SignOut => Some(Action::Pro(ProAction::SignOut)),
            Cmd::Back => Some(Action::Back),
            Cmd::Help => Some(Action::Help),
            Cmd::Filter => {
                self.open_input(InputKind::Filter);
                None
            }
            Cmd::New => {
                let kind = match self.tab {
                    Tab::Mailboxes => InputKind::Mailbox,
                    Tab::Domains => InputKind::Domain,
                    Tab::Tokens => InputKind::Token,
                    Tab::Webhook if self.webhook().is_some() => return None,
                    Tab::Webhook => InputKind::Webhook,
                };
                self.open_input(kind);
                None
            }
            _ => self.on_item_cmd(cmd),
        }
    }

    /// Commands on the selected item of the tab.
    fn on_item_cmd(&mut self, cmd: Cmd) -> Option<Action> {
        let pro = |a| Some(Action::Pro(a));
        match (self.tab, cmd) {
            (Tab::Mailboxes, Cmd::Open) => {
                pro(ProAction::OpenMailbox(self.selected_account()?.address.clone()))
            }
            (Tab::Mailboxes, Cmd::Copy) => Some(Action::Copy(self.selected_account()?.address.clone())),
            (Tab::Mailboxes, Cmd::ResetPassword) => {
                let a = self.selected_account()?;
                pro(ask(
                    "Reset password",
                    format!(
                        "Give {} a new generated password? Every sign-in made with the old one stops \
                         working. The new password is shown once.",
                        a.address
                    ),
                    "reset",
                    ProAction::ResetPassword {
                        id: a.id,
                        address: a.address.clone(),
                    },
                ))
            }
            (Tab::Mailboxes, Cmd::Delete) => {
                let a = self.selected_account()?;
                pro(ask(
                    "Delete mailbox",
                    format!("Delete {} and all its mail? This cannot be undone.", a.address),
                    "delete",
                    ProAction::DeleteMailbox {
                        id: a.id,
                        address: a.address.clone(),
                    },
                ))
            }
            (Tab::Domains, Cmd::Open) => {
                let d = self.selected_domain()?.clone();
                let rows = records_of(&d);
                self.show(format!("DNS records for {}", d.domain), rows, None, "record");
                None
            }
            (Tab::Domains, Cmd::Copy) => Some(Action::Copy(self.selected_domain()?.domain.clone())),
            (Tab::Domains, Cmd::Verify) => pro(ProAction::VerifyDomain(self.selected_domain()?.id)),
            (Tab::Domains, Cmd::Delete) => {
                let d = self.selected_domain()?;
                let suffix = format!("@{}", d.domain);
                let count = self
                    .accounts
                    .iter()
                    .filter(|a| a.address.ends_with(&suffix))
                    .count();
                let count = match (count, self.more_accounts) {
                    (0, false) => "no mailboxes".to_string(),
                    (1, false) => "its 1 mailbox".to_string(),
                    (n, false) => format!("its {n} mailboxes"),
                    (n, true) => format!("at least {n} mailboxes (of those loaded)"),
                };
                pro(ask(
                    "Delete domain",
                    format!(
                        "Delete {} and {count} with all their mail? This cannot be undone.",
                        d.domain
                    ),
                    "delete",
                    ProAction::DeleteDomain {
                        id: d.id,
                        domain: d.domain.clone(),
                    },
                ))
            }
            (Tab::Tokens, Cmd::Delete) => {
                let t = self.selected_token()?;
                if t.revoked_at.is_some() {
                    return None;
                }
                pro(ask(
                    "Revoke token",
                    format!(
                        "Revoke the token “{}”? Scripts using it get 401 from now on.",
                        t.name
                    ),
                    "revoke",
                    ProAction::RevokeToken {
                        id: t.id,
                        name: t.name.clone(),
                    },
                ))
            }
            (Tab::Webhook, Cmd::Secret) => {
                self.show_secret = !self.show_secret;
                None
            }
            (Tab::Webhook, Cmd::Copy) => pro(ProAction::CopySecret {
                what: "webhook secret",
                text: self.webhook()?.secret.clone(),
            }),
            (Tab::Webhook, Cmd::Rotate) => {
                let hook = self.webhook()?;
                pro(ask(
                    "Rotate secret",
                    "Give the webhook a new secret? Receivers checking the old one reject what \
                     comes next."
                        .into(),
                    "rotate",
                    ProAction::RotateWebhook(hook.id),
                ))
            }
            (Tab::Webhook, Cmd::Delete) => {
                let hook = self.webhook()?;
                pro(ask(
                    "Delete webhook",
                    format!("Delete the webhook to {}?", hook.url),
                    "delete",
                    ProAction::DeleteWebhook(hook.id),
                ))
            }
            _ => None,
        }
    }

    fn switch(&mut self, by: usize) -> Option<Action> {
        self.tab = TABS[(self.tab.index() + by) % TABS.len()];
        None
    }

    fn rows_of(&self, tab: Tab) -> usize {
        match tab {
            Tab::Mailboxes => self.visible_accounts().len(),
            Tab::Domains => self.domains.as_ref().map_or(0, Vec::len),
            Tab::Tokens => self.tokens.as_ref().map_or(0, Vec::len),
            Tab::Webhook => 0,
        }
    }

    fn on_input_key(&mut self, key: KeyEvent) -> Option<Action> {
        let input = self.input.as_mut()?;
        match keys::command(INPUT_KEYS, &key) {
            Some(InputCmd::Cancel) => {
                // Esc on the filter shows every mailbox again.
                if input.kind == InputKind::Filter {
                    self.filter.clear();
                }
                self.input = None;
                None
            }
            Some(InputCmd::Submit) if input.kind == InputKind::Filter => {
                self.input = None;
                None
            }
            Some(InputCmd::Submit) => {
                let value = input.field.value().trim().to_string();
                if input.busy {
                    return None;
                }
                if value.is_empty() {
                    input.field.server_error = Some("type something first".into());
                    return None;
                }
                input.busy = true;
                let action = match input.kind {
                    InputKind::Mailbox => ProAction::CreateMailbox(value.to_lowercase()),
                    InputKind::Domain => ProAction::AddDomain(value),
                    InputKind::Token => ProAction::MintToken(value),
                    InputKind::Webhook => ProAction::CreateWebhook(value),
                    InputKind::Filter => return None,
                };
                Some(Action::Pro(action))
            }
            None => {
                input.field.handle_key(key);
                if input.kind == InputKind::Filter {
                    self.filter = input.field.value().trim().to_lowercase();
                    self.selected[0] = 0;
                }
                None
            }
        }
    }

    fn on_shown_key(&mut self, key: KeyEvent) -> Option<Action> {
        let shown = self.shown.as_mut()?;
        match keys::command(SHOW_KEYS, &key)? {
            ShowCmd::Close => {
                self.shown = None;
                None
            }
            ShowCmd::Move => {
                let m = keys::movement(&key)?;
                shown.selected = keys::apply(m, shown.selected, shown.rows.len(), 1);
                None
            }
            ShowCmd::Copy => {
                let row = shown.rows.get(shown.selected)?;
                Some(Action::Pro(ProAction::CopySecret {
                    what: shown.what,
                    text: row.value.clone(),
                }))
            }
        }
    }

    /// Draws the tabs, the tab, the one-line form and the box.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let input_rows = self.input.as_ref().map_or(0, |i| {
            let message = i.field.server_error.as_deref();
            rows_needed(message, area.width.saturating_sub(2)) + 2
        });
        let [tabs, body, input] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(input_rows),
        ])
        .areas(area);
        self.render_tabs(frame, tabs);
        match self.tab {
            Tab::Mailboxes => self.render_mailboxes(frame, body, ctx),
            Tab::Domains => self.render_domains(frame, body, ctx),
            Tab::Tokens => self.render_tokens(frame, body, ctx),
            Tab::Webhook => self.render_webhook(frame, body, ctx),
        }
        if let Some(i) = &self.input {
            render_input(frame, input, i, ctx);
        }
        if let Some(shown) = &self.shown {
            render_shown(frame, area, shown);
        }
    }

    fn render_tabs(&mut self, frame: &mut Frame, area: Rect) {
        self.tabs_area = area;
        let mut spans = Vec::new();
        for tab in TABS {
            let style = if tab == self.tab {
                theme::selected()
            } else {
                theme::dim()
            };
            spans.push(Span::styled(format!(" {} ", tab.name()), style));
        }
        let used: usize = spans.iter().map(|s| s.width()).sum();
        let email = format!("  {}", self.email);
        if used + email.chars().count() <= area.width as usize {
            spans.push(Span::styled(email, theme::dim()));
        }
        frame.render_widget(Line::from(spans), area);
    }

    fn render_mailboxes(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let visible = self.visible_accounts();
        let live = if self.live { " ● live" } else { "" };
        let filter = match self.filter.as_str() {
            "" => String::new(),
            f => format!(" /{f}"),
        };
        let title = format!(" Mailboxes ({}){filter}{live} ", visible.len());
        let block = Block::bordered().title(Span::styled(title, theme::title()));
        if visible.is_empty() {
            let text = match (self.accounts_page, self.filter.is_empty()) {
                (0, _) => format!("{} Loading…", ctx.spinner),
                (_, true) => "No mailboxes yet. Press n to create one.".into(),
                (_, false) => "No mailbox matches the filter.".into(),
            };
            render_empty(frame, area, block, text);
            return;
        }
        let narrow = area.width < 60;
        let rows: Vec<Row> = visible
            .iter()
            .map(|a| {
                // The server's exact count, kept live by the Pro socket.
                let new = if a.unread > 0 {
                    format!("{} unread", a.unread)
                } else {
                    String::new()
                };
                let usage = if narrow {
                    format::size(a.used)
                } else {
                    format!("{} of {}", format::size(a.used), format::size(a.quota))
                };
                let style = if new.is_empty() {
                    theme::dim()
                } else {
                    theme::unread()
                };
                Row::new(vec![
                    Cell::from(a.address.as_str()),
                    Cell::from(usage),
                    Cell::from(Span::styled(new, style)),
                ])
            })
            .collect();
        let usage_width = if narrow { 9 } else { 20 };
        let widths = [
            Constraint::Fill(1),
            Constraint::Length(usage_width),
            Constraint::Length(10),
        ];
        render_table(frame, area, block, rows, &widths, self.selected[0]);
    }

    fn render_domains(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let block = Block::bordered().title(Span::styled(" Custom domains ", theme::title()));
        let Some(domains) = self.domains.as_ref().filter(|d| !d.is_empty()) else {
            let text = match self.domains {
                None => format!("{} Loading…", ctx.spinner),
                Some(_) => "No custom domains. Press a to add one.".into(),
            };
            render_empty(frame, area, block, text);
            return;
        };
        let rows: Vec<Row> = domains
            .iter()
            .map(|d| {
                let (status, style) = match d.verify_status {
                    VerifyStatus::Verified => ("✓ verified", theme::ok()),
                    VerifyStatus::Pending => ("pending", theme::dim()),
                };
                let mx = if d.mx_configured { "MX ✓" } else { "MX ✗" };
                Row::new(vec![
                    Cell::from(d.domain.as_str()),
                    Cell::from(Span::styled(status, style)),
                    Cell::from(mx),
                ])
            })
            .collect();
        let widths = [Constraint::Fill(1), Constraint::Length(10), Constraint::Length(4)];
        render_table(frame, area, block, rows, &widths, self.selected[1]);
    }

    fn render_tokens(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let block = Block::bordered().title(Span::styled(" API tokens ", theme::title()));
        let Some(tokens) = self.tokens.as_ref().filter(|t| !t.is_empty()) else {
            let text = match self.tokens {
                None => format!("{} Loading…", ctx.spinner),
                Some(_) => "No API tokens. Press n to mint one.".into(),
            };
            render_empty(frame, area, block, text);
            return;
        };
        let rows: Vec<Row> = tokens
            .iter()
            .map(|t| {
                let used = match (t.revoked_at, t.last_used_at) {
                    (Some(at), _) => format!("revoked {}", format::ago(ctx.now, at)),
                    (None, Some(at)) => format!("used {}", format::ago(ctx.now, at)),
                    (None, None) => "never used".to_string(),
                };
                let style = if t.revoked_at.is_some() {
                    theme::dim()
                } else {
                    ratatui::style::Style::default()
                };
                Row::new(vec![Cell::from(t.name.as_str()), Cell::from(used)]).style(style)
            })
            .collect();
        let widths = [Constraint::Fill(1), Constraint::Length(16)];
        render_table(frame, area, block, rows, &widths, self.selected[2]);
    }

    fn render_webhook(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let block = Block::bordered().title(Span::styled(" Webhook ", theme::title()));
        let Some(hook) = self.webhook() else {
            let text = match self.webhooks {
                None => format!("{} Loading…", ctx.spinner),
                Some(_) => "No webhook. Press n to have new mail POSTed to a URL.".into(),
            };
            render_empty(frame, area, block, text);
            return;
        };
        let (status, style) = match hook.status {
            WebhookStatus::Active => ("active", theme::ok()),
            WebhookStatus::Failing => ("failing", theme::error()),
            WebhookStatus::Disabled => ("disabled", theme::dim()),
        };
        let secret = if self.show_secret {
            hook.secret.clone()
        } else {
            "•••••••• (s shows)".to_string()
        };
        let width = area.width.saturating_sub(2) as usize;
        let mut lines: Vec<Line> = crate::text::wrap(&hook.url, width)
            .into_iter()
            .map(Line::raw)
            .collect();
        lines.push(Line::from(vec![
            Span::styled(status, style),
            Span::styled(format!(" · {} failed in a row", hook.failure_count), theme::dim()),
        ]));
        let secret_lines = crate::text::wrap(&format!("secret {secret}"), width);
        lines.extend(secret_lines.into_iter().map(Line::raw));
        // Short of room the head loses its border, so deliveries keep a few rows.
        let short = area.height < 16;
        let head = lines.len() as u16 + if short { 0 } else { 2 };
        let [top, bottom] = Layout::vertical([Constraint::Length(head), Constraint::Fill(1)]).areas(area);
        let paragraph = Paragraph::new(lines);
        if short {
            frame.render_widget(paragraph, top.inner(ratatui::layout::Margin::new(1, 0)));
        } else {
            frame.render_widget(paragraph.block(block), top);
        }
        let title = format!(" Deliveries ({}) ", self.deliveries.len());
        let block = Block::bordered().title(Span::styled(title, theme::title()));
        if self.deliveries.is_empty() {
            frame.render_widget(Paragraph::new("None yet.").block(block), bottom);
            return;
        }
        let narrow = area.width < 60;
        let rows: Vec<Row> = self
            .deliveries
            .iter()
            .map(|d| {
                let result = match (d.status_code, &d.error) {
                    (Some(code), _) => code.to_string(),
                    (None, Some(e)) => format::one_line(e),
                    (None, None) => "-".into(),
                };
                let style = match d.status_code {
                    Some(200..=299) => theme::ok(),
                    _ => theme::error(),
                };
                let mut cells = vec![Cell::from(format::ago(ctx.now, d.created_at))];
                if !narrow {
                    cells.push(Cell::from(d.event_type.as_str()));
                }
                cells.push(Cell::from(Span::styled(result, style)));
                cells.push(Cell::from(format!("#{}", d.attempt)));
                cells.push(Cell::from(format!("{} ms", d.duration_ms)));
                Row::new(cells)
            })
            .collect();
        let widths: &[Constraint] = if narrow {
            &[
                Constraint::Length(8),
                Constraint::Fill(1),
                Constraint::Length(3),
                Constraint::Length(7),
            ]
        } else {
            &[
                Constraint::Length(9),
                Constraint::Length(15),
                Constraint::Fill(1),
                Constraint::Length(3),
                Constraint::Length(8),
            ]
        };
        frame.render_widget(Table::new(rows, widths.to_vec()).block(block), bottom);
    }
}

impl Drop for ProArea {
    fn drop(&mut self) {
        // The live socket and the deliveries poll must not outlive the area.
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A question whose yes runs `then`.
fn ask(title: &str, text: String, yes: &'static str, then: ProAction) -> ProAction {
    ProAction::Ask {
        title: title.into(),
        text,
        yes,
        then: Box::new(then),
    }
}

/// The DNS records of a listed domain (the server lists the token; the MX host it gives on add
/// and verify, so here only the TXT record is certain).
fn records_of(d: &CustomDomain) -> Vec<ShowRow> {
    vec![ShowRow {
        label: format!("TXT _mailcx-verify.{}", d.domain),
        value: d.verify_token.clone(),
        ok: None,
        answer: None,
    }]
}

/// A tab's list in its box, the selected row (clamped to the list) marked.
fn render_table(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    rows: Vec<Row>,
    widths: &[Constraint],
    selected: usize,
) {
    let mut state = TableState::default().with_selected(Some(selected.min(rows.len().saturating_sub(1))));
    let table = Table::new(rows, widths.to_vec())
        .block(block)
        .row_highlight_style(theme::selected())
        .highlight_symbol("› ");
    frame.render_stateful_widget(table, area, &mut state);
}

/// What a tab's box says while it has nothing to list: loading, or what to press.
fn render_empty(frame: &mut Frame, area: Rect, block: Block, text: String) {
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
}

/// The rows of DNS records as the server gives them on add and verify.
pub fn record_rows(records: &[mailcx_common::DnsRecord]) -> Vec<ShowRow> {
    records
        .iter()
        .map(|r| {
            let priority = r.priority.map(|p| format!(" (priority {p})")).unwrap_or_default();
            ShowRow {
                label: format!("{} {}{priority}", r.record_type, r.host),
                value: r.value.clone(),
                ok: r.ok,
                // The server's own DNS answer, where it gives one.
                answer: r.found.as_ref().map(|found| match found.is_empty() {
                    true => "nothing".to_string(),
                    false => found.join(", "),
                }),
            }
        })
        .collect()
}

fn render_input(frame: &mut Frame, area: Rect, input: &Input, ctx: &Ctx) {
    let title = match input.kind {
        InputKind::Mailbox => " New mailbox (password generated) ",
        InputKind::Domain => " Add a custom domain ",
        InputKind::Token => " Mint an API token ",
        InputKind::Webhook => " Webhook for new mail ",
        InputKind::Filter => " Filter mailboxes ",
    };
    let title = if input.busy {
        format!("{title}{} ", ctx.spinner)
    } else {
        title.to_string()
    };
    let block = Block::bordered().title(Span::styled(title, theme::title()));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    input.field.render(frame, inner, true, None);
}

fn render_shown(frame: &mut Frame, area: Rect, shown: &Shown) {
    let width = area.width.saturating_sub(2).min(72);
    let inner_width = width.saturating_sub(4) as usize;
    let full = shown_lines(shown, inner_width, true);
    // Short of room, only the selected row keeps its value (the one c copies).
    let lines = if full.len() as u16 + 2 > area.height {
        shown_lines(shown, inner_width, false)
    } else {
        full
    };
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(Span::styled(format!(" {} ", shown.title), theme::title()))
        .title_bottom(Line::styled(" c copy  Esc close ", theme::dim()).right_aligned())
        .padding(ratatui::widgets::Padding::horizontal(1));
    frame.render_widget(Paragraph::new(Text::from(lines)).block(block), popup);
}

/// The lines of the box `width` wide; `all_values` false keeps only the selected row's value.
fn shown_lines(shown: &Shown, width: usize, all_values: bool) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::new();
    for (i, row) in shown.rows.iter().enumerate() {
        let marker = if i == shown.selected { "› " } else { "  " };
        let mark = match row.ok {
            Some(true) => Span::styled("✓ ", theme::ok()),
            Some(false) => Span::styled("✗ ", theme::error()),
            None => Span::raw(""),
        };
        let lead = 2 + if row.ok.is_some() { 2 } else { 0 };
        for (j, part) in crate::text::wrap(&row.label, width.saturating_sub(lead))
            .into_iter()
            .enumerate()
        {
            let line = if j == 0 {
                Line::from(vec![
                    Span::styled(marker, theme::focused()),
                    mark.clone(),
                    Span::styled(part, theme::dim()),
                ])
            } else {
                Line::styled(format!("{}{part}", " ".repeat(lead)), theme::dim())
            };
            lines.push(line);
        }
        if all_values || i == shown.selected {
            for part in crate::text::wrap(&row.value, width.saturating_sub(4)) {
                lines.push(Line::raw(format!("    {part}")));
            }
            if let Some(answer) = &row.answer {
                let text = format!("DNS answered: {answer}");
                for part in crate::text::wrap(&text, width.saturating_sub(4)) {
                    lines.push(Line::styled(format!("    {part}"), theme::dim()));
                }
            }
        }
    }
    if let Some(note) = &shown.note {
        for part in crate::text::wrap(note, width) {
            lines.push(Line::styled(part, theme::error()));
        }
    }
    lines
}
