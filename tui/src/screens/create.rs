//! The create-mailbox form: local part, a domain from `GET /api/domains`, a masked password and
//! its confirmation. Fields are checked as you type with the server's own rules.

use crossterm::event::{KeyCode, KeyEvent};
use mailcx_common::Credentials;
use mailcx_common::validate::{normalize_address, validate_local_part, validate_password};
use rand::Rng;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::Ctx;
use crate::action::Action;
use crate::field::{Field, LABEL_WIDTH, render_message, rows_needed};
use crate::keys::{self, Binding, Key, bind, hint, more};
use crate::theme;

/// What a key does in the create form; keys not in the table edit the focused field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Check the fields and create the mailbox.
    Create,
    /// Focus the next field.
    Next,
    /// Focus the previous field.
    Previous,
    /// Choose another domain (on the domain field; elsewhere the arrows move the cursor).
    Domain,
    /// Fill in a random address.
    Random,
    /// Leave the form.
    Cancel,
    /// Show every key.
    Help,
}

/// The keys of the create form: what they do and how the help shows them.
pub const KEYS: &[Binding<Cmd>] = &[
    bind(&[Key::Code(KeyCode::Enter)], hint("⏎", "create"), Cmd::Create),
    bind(
        &[Key::Code(KeyCode::Tab), Key::Code(KeyCode::Down)],
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
        hint("^R", "random address"),
        Cmd::Random,
    ),
    bind(&[Key::Code(KeyCode::Esc)], hint("Esc", "cancel"), Cmd::Cancel),
    bind(
        &[Key::Code(KeyCode::BackTab), Key::Code(KeyCode::Up)],
        more("S-Tab", "previous field"),
        Cmd::Previous,
    ),
    bind(&[Key::Code(KeyCode::F(1))], more("F1", "help"), Cmd::Help),
];

/// Which field has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focus {
    Local,
    Domain,
    Password,
    Confirm,
}

const ORDER: [Focus; 4] = [Focus::Local, Focus::Domain, Focus::Password, Focus::Confirm];

/// State of the create form.
#[derive(Debug)]
pub struct CreateForm {
    /// The part before `@`.
    pub local: Field,
    /// The chosen domain; `None` means the server's default.
    domain: Option<String>,
    /// The password.
    pub password: Field,
    /// The password again.
    pub confirm: Field,
    focus: Focus,
    /// After a refused submit every message shows, even for empty fields.
    submitted: bool,
    /// A create request is running.
    pub busy: bool,
}

impl Default for CreateForm {
    fn default() -> Self {
        CreateForm::new()
    }
}

impl CreateForm {
    /// An empty form with the default domain.
    pub fn new() -> CreateForm {
        CreateForm {
            local: Field::new("Address"),
            domain: None,
            password: Field::masked("Password"),
            confirm: Field::masked("Confirm password"),
            focus: Focus::Local,
            submitted: false,
            busy: false,
        }
    }

    /// The domain the address will get: the chosen one, else the server's default.
    pub fn domain<'a>(&'a self, ctx: &'a Ctx) -> Option<&'a str> {
        if let Some(d) = &self.domain
            && ctx.domains.iter().any(|x| &x.domain == d)
        {
            return Some(d);
        }
        ctx.domains
            .iter()
            .find(|d| d.default)
            .or(ctx.domains.first())
            .map(|d| d.domain.as_str())
    }

    /// The full address as typed so far.
    pub fn address(&self, ctx: &Ctx) -> String {
        format!("{}@{}", self.local.value(), self.domain(ctx).unwrap_or(""))
    }

    /// Focuses the address field (after the server refused the address).
    pub fn focus_address(&mut self) {
        self.focus = Focus::Local;
    }

    /// Focuses the password field (after the server refused the password).
    pub fn focus_password(&mut self) {
        self.focus = Focus::Password;
    }

    /// What is wrong with the address, per the server's rules.
    fn local_error(&self, ctx: &Ctx) -> Option<String> {
        if self.local.value().is_empty() && !self.submitted {
            return None;
        }
        if let Err(e) = validate_local_part(self.local.value()) {
            return Some(e.to_string());
        }
        normalize_address(&self.address(ctx), &domain_names(ctx))
            .err()
            .map(|e| e.to_string())
    }

    fn domain_error(&self, ctx: &Ctx) -> Option<String> {
        if !ctx.domains.is_empty() {
            return None;
        }
        Some(match &ctx.domains_error {
            Some(e) => format!("no domains: {e}"),
            None => "loading the server's domains…".into(),
        })
    }

    fn password_error(&self) -> Option<String> {
        if self.password.value().is_empty() && !self.submitted {
            return None;
        }
        validate_password(self.password.value())
            .err()
            .map(|e| e.to_string())
    }

    fn confirm_error(&self) -> Option<String> {
        if self.confirm.value().is_empty() && !self.submitted {
            return None;
        }
        (self.confirm.value() != self.password.value()).then(|| "the passwords do not match".into())
    }

    fn error_of(&self, focus: Focus, ctx: &Ctx) -> Option<String> {
        match focus {
            Focus::Local => self.local_error(ctx),
            Focus::Domain => self.domain_error(ctx),
            Focus::Password => self.password_error(),
            Focus::Confirm => self.confirm_error(),
        }
    }

    /// Handles pasted text.
    pub fn on_paste(&mut self, text: &str) {
        if let Some(field) = self.focused_field() {
            field.paste(text);
        }
    }

    fn focused_field(&mut self) -> Option<&mut Field> {
        match self.focus {
            Focus::Local => Some(&mut self.local),
            Focus::Password => Some(&mut self.password),
            Focus::Confirm => Some(&mut self.confirm),
            Focus::Domain => None,
        }
    }

    fn step_focus(&mut self, by: isize) {
        self.focus = cycle(&ORDER, Some(self.focus), by).unwrap_or(Focus::Local);
    }

    fn step_domain(&mut self, by: isize, ctx: &Ctx) {
        if let Some(next) = cycle(&domain_names(ctx), self.domain(ctx), by) {
            self.domain = Some(next.to_string());
            self.local.server_error = None;
        }
    }

    /// Fills the address with a random local part.
    pub fn randomize(&mut self) {
        self.local.set(random_local());
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent, ctx: &Ctx) -> Option<Action> {
        match keys::command(KEYS, &key) {
            Some(Cmd::Cancel) => return Some(Action::Back),
            Some(Cmd::Help) => return Some(Action::Help),
            Some(Cmd::Next) => self.step_focus(1),
            Some(Cmd::Previous) => self.step_focus(-1),
            Some(Cmd::Create) => return self.submit(ctx),
            Some(Cmd::Random) => self.randomize(),
            Some(Cmd::Domain) if self.focus == Focus::Domain => {
                let by = if key.code == KeyCode::Left { -1 } else { 1 };
                self.step_domain(by, ctx);
            }
            Some(Cmd::Domain) | None => {
                if let Some(field) = self.focused_field() {
                    field.handle_key(key);
                }
            }
        }
        None
    }

    /// Checks every field; sends the request if all are good, else focuses the first bad one.
    fn submit(&mut self, ctx: &Ctx) -> Option<Action> {
        if self.busy {
            return None;
        }
        self.submitted = true;
        if let Some(bad) = ORDER.iter().find(|f| self.error_of(**f, ctx).is_some()) {
            self.focus = *bad;
            return None;
        }
        let address = normalize_address(&self.address(ctx), &domain_names(ctx)).ok()?;
        self.busy = true;
        Some(Action::Create(Credentials {
            address,
            password: self.password.value().to_string(),
        }))
    }

    /// Draws the form.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let errors = [
            self.local_error(ctx),
            self.domain_error(ctx),
            self.password_error(),
            self.confirm_error(),
        ];
        let shown = [
            self.local.shown_message(errors[0].as_deref()),
            errors[1].as_deref(),
            self.password.shown_message(errors[2].as_deref()),
            self.confirm.shown_message(errors[3].as_deref()),
        ];
        // Each field with its message (wrapped when narrow), a gap, the preview, the state line.
        let width = area.width.min(FORM_WIDTH).saturating_sub(4);
        let [a, b, c, d] = shown.map(|m| rows_needed(m, width));
        let heights = [a, b, c, d, 1, 1, 1];
        let inner = form_box(frame, area, " New mailbox ", heights.iter().sum());
        let focused = ORDER.iter().position(|f| *f == self.focus).unwrap_or(0);
        let [local, domain, password, confirm, _, preview, state] = form_rows(inner, heights, focused);
        if let Some(local) = local {
            let focused = self.focus == Focus::Local;
            self.local.render(frame, local, focused, errors[0].as_deref());
        }
        if let Some(domain) = domain {
            self.render_domain(frame, domain, ctx);
        }
        if let Some(password) = password {
            let focused = self.focus == Focus::Password;
            self.password
                .render(frame, password, focused, errors[2].as_deref());
        }
        if let Some(confirm) = confirm {
            let focused = self.focus == Focus::Confirm;
            self.confirm.render(frame, confirm, focused, errors[3].as_deref());
        }
        if let (true, Some(state)) = (self.busy, state) {
            let text = format!("  {} Creating the mailbox…", ctx.spinner);
            frame.render_widget(Line::styled(text, theme::dim()), state);
        }
        if let Some(preview) = preview {
            let address = (!self.local.value().is_empty()).then(|| self.address(ctx));
            render_preview(frame, preview, "  Will create", address);
        }
    }

    fn render_domain(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let focused = self.focus == Focus::Domain;
        let choice = ctx.domains.len() > 1;
        let error = self.domain_error(ctx);
        render_domain_row(
            frame,
            area,
            "Domain",
            focused,
            self.domain(ctx),
            choice,
            error.as_deref(),
        );
    }
}

/// The server's domains, as far as they are known.
fn domain_names(ctx: &Ctx) -> Vec<&str> {
    ctx.domains.iter().map(|d| d.domain.as_str()).collect()
}

/// The item `by` steps from `current` in `list`, round the ends (from the first when `current`
/// is not there); `None` when the list is empty.
pub(super) fn cycle<T: Copy + PartialEq>(list: &[T], current: Option<T>, by: isize) -> Option<T> {
    if list.is_empty() {
        return None;
    }
    let at = list.iter().position(|x| Some(*x) == current).unwrap_or(0) as isize;
    Some(list[(at + by).rem_euclid(list.len() as isize) as usize])
}

/// A form's domain row: the label (marked when `focused`), the domain (between arrows when there
/// is a `choice`) and, below, what is wrong.
pub(super) fn render_domain_row(
    frame: &mut Frame,
    area: Rect,
    label: &str,
    focused: bool,
    domain: Option<&str>,
    choice: bool,
    error: Option<&str>,
) {
    let [row, below] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let [label_area, value] =
        Layout::horizontal([Constraint::Length(LABEL_WIDTH), Constraint::Fill(1)]).areas(row);
    let style = if focused { theme::focused() } else { theme::dim() };
    let marker = if focused { "› " } else { "  " };
    frame.render_widget(Line::styled(format!("{marker}{label}"), style), label_area);
    if let Some(domain) = domain {
        let text = if choice {
            format!("◂ {domain} ▸")
        } else {
            domain.to_string()
        };
        frame.render_widget(Line::raw(text), value);
    }
    if let Some(error) = error {
        render_message(frame, below, error);
    }
}

/// A form's preview line: `label`, then the address it will use, or how to type one while the
/// local part is empty (`None`).
pub(super) fn render_preview(frame: &mut Frame, area: Rect, label: &str, address: Option<String>) {
    let address = match address {
        Some(address) => Span::styled(address, theme::title()),
        None => Span::styled("type a name, or press ^R for a random one", theme::dim()),
    };
    let label = format!("{label:<w$}", w = LABEL_WIDTH as usize);
    frame.render_widget(Line::from(vec![Span::styled(label, theme::dim()), address]), area);
}

/// The widest a form gets.
pub(super) const FORM_WIDTH: u16 = 76;

/// A centred, bordered box for a form of `rows` rows; returns the area inside it. Short of room
/// it drops the gap above and the padding, so the fields get every row there is.
pub(super) fn form_box(frame: &mut Frame, area: Rect, title: &str, rows: u16) -> Rect {
    let width = area.width.min(FORM_WIDTH);
    let pad = u16::from(area.height >= rows + 5);
    let height = (rows + 2 + 2 * pad).min(area.height);
    let [_, middle, _] = Layout::vertical([
        Constraint::Length(pad),
        Constraint::Length(height),
        Constraint::Fill(1),
    ])
    .areas(area);
    let form = middle.centered_horizontally(Constraint::Length(width));
    let padding = ratatui::widgets::Padding::new(1, 1, pad, pad);
    let block = Block::bordered()
        .title(Span::styled(title.to_string(), theme::title()))
        .padding(padding);
    let inner = block.inner(form);
    frame.render_widget(block, form);
    inner
}

/// Where each part of a form goes: parts `heights` tall one below the other in `area`, scrolled
/// just enough that part `keep` (the focused field and its error) is whole. Parts that do not fit
/// whole get `None`; Tab brings each into view in turn.
pub(super) fn form_rows<const N: usize>(area: Rect, heights: [u16; N], keep: usize) -> [Option<Rect>; N] {
    let mut tops = [0u16; N];
    let mut y = 0;
    for (top, h) in tops.iter_mut().zip(heights) {
        *top = y;
        y += h;
    }
    let keep = keep.min(N.saturating_sub(1));
    let keep_end = tops.get(keep).map_or(0, |t| t + heights[keep]);
    let scroll = keep_end.saturating_sub(area.height);
    std::array::from_fn(|i| {
        let (top, height) = (tops[i], heights[i]);
        (top >= scroll && top + height <= scroll + area.height).then(|| Rect {
            y: area.y + top - scroll,
            height,
            ..area
        })
    })
}

/// A random local part: a letter, then nine letters or digits.
pub fn random_local() -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut local = String::new();
    local.push(LETTERS[rng.random_range(0..LETTERS.len())] as char);
    for _ in 0..9 {
        local.push(CHARS[rng.random_range(0..CHARS.len())] as char);
    }
    local
}

/// A strong random password: 24 letters and digits (about 142 bits), nothing a shell or a
/// form would mangle when it is pasted.
pub fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}
