//! `App`: the whole state of the interface. Keys and mouse go to the top popup or screen; what
//! they ask for, and what background tasks answer, goes through [`App::update`].

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};
use mailcx_common::{AccountToken, Client, ClientError, Credentials, ErrorCode, MessageList, Timestamp};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use crate::action::{Action, LiveEvent, Reply, TaskId, Want};
use crate::extract::{self, Extracted};
use crate::keys::{self, is_ctrl};
use crate::outside::Pipe;
use crate::popup::{Popup, PopupKey};
use crate::saved::{Saved, SavedMailbox};
use crate::screens::inbox::Live;
use crate::screens::{
    CreateForm, Ctx, HeadersView, Health, Home, Inbox, Reader, Screen, SignInForm, SourceView,
};
use crate::status::{self, Status, Tone};
use crate::watch::{AlertSink, Notify, Watchers};
use crate::{format, live, net};

// The Pro area's requests and answers: a child module, so it shares the app's helpers.
#[path = "pro/hooks.rs"]
mod pro_hooks;

mod open;

/// Where the server is: started in-process by the app, or a remote one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerInfo {
    /// The bundled server, on this machine.
    Embedded {
        /// Its HTTP API.
        http: SocketAddr,
        /// Its SMTP receiver: send mail here.
        smtp: SocketAddr,
        /// Its database file (names its saved-mailbox list).
        db: PathBuf,
    },
    /// A server given with `--server`.
    Remote {
        /// Its base URL.
        url: String,
    },
}

impl ServerInfo {
    /// The key of this server's list in the saved-mailboxes file. The embedded server's HTTP
    /// port changes on every start, so its list is keyed by its database instead.
    pub fn key(&self) -> String {
        match self {
            ServerInfo::Embedded { db, .. } => format!("embedded:{}", db.display()),
            ServerInfo::Remote { url } => url.trim_end_matches('/').to_string(),
        }
    }

    /// What the status bar says about it.
    pub fn label(&self) -> String {
        match self {
            ServerInfo::Embedded { http, smtp, .. } => format!("HTTP {http} · SMTP {smtp}"),
            ServerInfo::Remote { url } => url.clone(),
        }
    }

    /// The shorter label used while a notice needs the room: where to send mail, or the URL.
    pub fn short_label(&self) -> String {
        match self {
            ServerInfo::Embedded { smtp, .. } => format!("SMTP {smtp}"),
            ServerInfo::Remote { url } => url.clone(),
        }
    }
}

/// What the app needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the server is.
    pub server: ServerInfo,
    /// A client for it (no token; mailbox tokens are added per call).
    pub client: Client,
    /// Directory of the saved-mailboxes file.
    pub config_dir: PathBuf,
    /// Where saved attachments go.
    pub downloads: PathBuf,
}

/// The app's state.
pub struct App {
    ctx: Ctx,
    client: Client,
    /// The navigation stack; the home screen is always at the bottom.
    screens: Vec<Screen>,
    /// Popups over the screen; the last one takes the keys.
    popups: Vec<Popup>,
    status: Status,
    tx: UnboundedSender<Action>,
    next_task: TaskId,
    /// The live connection of the open inbox: (address, task).
    live: Option<(String, AbortHandle)>,
    downloads: PathBuf,
    /// Texts to put on the clipboard; the run loop writes them to the terminal (OSC 52).
    clipboard: Vec<String>,
    /// The codes and links found per message, so a second `y` or `o` needs no request.
    found: HashMap<uuid::Uuid, Extracted>,
    /// The program (and its first arguments) that opens a link; the link is added last.
    opener: Vec<String>,
    /// A command waiting for the terminal (`|`); the run loop suspends the screen for it.
    pipe: Option<Pipe>,
    /// HTML temp files opened with `O`, removed after a while or when the app ends.
    temp_files: Vec<PathBuf>,
    /// Live connections of the saved mailboxes whose inbox is not open.
    watchers: Watchers,
    /// How new mail for a mailbox not on screen is announced beyond the notice.
    notify: Notify,
    /// When the loop last woke by itself with no request running (to redraw ages or a
    /// countdown), so ages alone wake it at most once a minute.
    ages_drawn_at: Option<std::time::Instant>,
    /// Where bell and desktop-notification sequences go (the terminal; tests record them).
    alert: Option<AlertSink>,
    quit: bool,
    /// Where a `t` (throwaway mailbox) stands: one at a time.
    throwaway: Throwaway,
    /// The next frame repaints every cell, not only what changed (`^L`, back from `^Z`).
    full_redraw: bool,
    /// A fixed "now" for reproducible screens in tests.
    clock: Option<Timestamp>,
}

impl App {
    /// An app on the home screen. Nothing is requested until [`App::start`].
    pub fn new(settings: Settings, tx: UnboundedSender<Action>) -> App {
        let (saved, warning) = Saved::load(&settings.config_dir, &settings.server.key());
        let mut app = App {
            ctx: Ctx {
                saved,
                domains: Vec::new(),
                domains_error: None,
                health: Default::default(),
                server: settings.server,
                now: chrono::Utc::now(),
                spinner: "",
                open_config: None,
                open_counts: HashMap::new(),
            },
            client: settings.client,
            screens: vec![Screen::Home(Home::new())],
            popups: Vec::new(),
            status: Status::default(),
            tx,
            next_task: 1,
            live: None,
            downloads: settings.downloads,
            clipboard: Vec::new(),
            found: HashMap::new(),
            opener: default_opener(),
            pipe: None,
            temp_files: Vec::new(),
            watchers: Watchers::default(),
            notify: Notify::Off,
            ages_drawn_at: None,
            alert: None,
            quit: false,
            throwaway: Throwaway::Idle,
            full_redraw: false,
            clock: None,
        };
        if let Some(warning) = warning {
            app.popups.push(Popup::error("Saved mailboxes", warning));
        }
        app
    }

    /// Loads the domains, checks every saved mailbox and starts watching them for new mail, in
    /// the background.
    pub fn start(&mut self) {
        self.load_domains();
        self.load_open_config();
        self.check_all();
        let addresses: Vec<String> = self
            .ctx
            .saved
            .mailboxes()
            .iter()
            .map(|m| m.address.clone())
            .collect();
        for address in addresses {
            self.watch(&address);
        }
    }

    /// Shows a warning popup (a settings file that could not be used).
    pub fn warn(&mut self, title: &str, text: String) {
        self.popups.push(Popup::error(title, text));
    }

    /// Sets how new mail for a mailbox not on screen is announced (`notifications` in the
    /// config file), and where the bell or notification sequence is written.
    pub fn set_notifications(&mut self, notify: Notify, sink: AlertSink) {
        self.notify = notify;
        self.alert = Some(sink);
    }

    /// What screens read: saved mailboxes, domains, health.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// The navigation stack, home first.
    pub fn screens(&self) -> &[Screen] {
        &self.screens
    }

    /// The open popups, top last.
    pub fn popups(&self) -> &[Popup] {
        &self.popups
    }

    /// The status bar's state.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Whether a request is running (the run loop then ticks the spinner).
    pub fn is_busy(&self) -> bool {
        self.status.busy()
    }

    /// When the loop must wake up by itself to redraw: a spinner tick while a request runs, the
    /// next second of an offline inbox's countdown; `None` when nothing on screen moves.
    pub fn next_wake(&self) -> Option<std::time::Duration> {
        if self.is_busy() {
            return Some(crate::run::SPINNER_TICK);
        }
        let countdown = self.next_countdown_wake();
        let ages = self.next_age_wake();
        countdown.into_iter().chain(ages).min()
    }

    /// When a relative age on screen ("now", "2m") changes, so it stays true: the first change
    /// among the visible ages, but at most one such redraw a minute. `None` without ages.
    fn next_age_wake(&self) -> Option<std::time::Duration> {
        let now = self.clock.unwrap_or_else(chrono::Utc::now);
        let change = match self.screens.last()? {
            Screen::Inbox(inbox) => inbox.next_age_change(now),
            Screen::Reader(reader) => reader.next_age_change(now),
            _ => None,
        }?;
        let not_before = self
            .ages_drawn_at
            .map(|at| (at + AGE_REDRAW_GAP).saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_default();
        Some(change.max(not_before))
    }

    /// The next second of an offline inbox's countdown.
    fn next_countdown_wake(&self) -> Option<std::time::Duration> {
        match self.screens.last() {
            Some(Screen::Inbox(inbox)) => match inbox.live {
                Live::Offline { retry_at, .. } => {
                    let left = retry_at.saturating_duration_since(std::time::Instant::now());
                    // Just past the next whole second, when the countdown's number changes.
                    let to_next = left.as_nanos() % 1_000_000_000;
                    (!left.is_zero()).then(|| std::time::Duration::from_nanos(to_next as u64 + 1_000_000))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Advances the spinner (the loop woke by itself: for the spinner, a countdown or ages).
    pub fn tick(&mut self) {
        if !self.is_busy() {
            self.ages_drawn_at = Some(std::time::Instant::now());
        }
        self.status.tick();
    }

    /// Whether the app should exit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether the next frame must repaint every cell; asking clears it.
    pub fn take_full_redraw(&mut self) -> bool {
        std::mem::take(&mut self.full_redraw)
    }

    /// Takes the texts waiting to go to the clipboard.
    pub fn take_clipboard(&mut self) -> Vec<String> {
        std::mem::take(&mut self.clipboard)
    }

    /// Takes the command waiting for the terminal, if any (the run loop runs it, the TUI
    /// suspended, and reports with [`App::piped`]).
    pub fn take_pipe(&mut self) -> Option<Pipe> {
        self.pipe.take()
    }

    /// Whether a command waits for the terminal: the run loop returns to let it run.
    pub fn wants_terminal(&self) -> bool {
        self.pipe.is_some()
    }

    /// How the piped command ended.
    pub fn piped(&mut self, command: &str, result: std::io::Result<std::process::ExitStatus>) {
        match result {
            Ok(status) if status.success() => {}
            Ok(status) => self
                .status
                .notice(format!("{command} ended with {status}"), Tone::Bad),
            Err(e) => self
                .status
                .notice(format!("Cannot run {command}: {e}"), Tone::Bad),
        }
    }

    /// Sets the program that opens links (tests use a script that records its argument).
    pub fn set_opener(&mut self, program: Vec<String>) {
        self.opener = program;
    }

    /// Fixes the time ages are measured from (tests and screenshots).
    pub fn set_clock(&mut self, now: Timestamp) {
        self.clock = Some(now);
    }

    /// Handles a terminal event; true if the screen may have changed.
    pub fn handle_event(&mut self, event: Event) -> bool {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                self.on_key(key);
                true
            }
            Event::Mouse(mouse) => match mouse.kind {
                MouseEventKind::ScrollUp | MouseEventKind::ScrollDown | MouseEventKind::Down(_) => {
                    self.on_mouse(mouse);
                    true
                }
                // Moves and releases change nothing: no redraw.
                _ => false,
            },
            Event::Paste(text) => {
                if self.popups.is_empty()
                    && let Some(screen) = self.screens.last_mut()
                {
                    screen.on_paste(&text);
                }
                true
            }
            Event::Resize(..) => true,
            _ => false,
        }
    }

    fn on_key(&mut self, key: KeyEvent) {
        self.status.clear_notice();
        if is_ctrl(&key, 'c') {
            self.quit = true;
            return;
        }
        // ^L repaints every cell (a terminal that drew a glyph wider than we thought); ^Z comes
        // back from a suspension (the terminal side is done in `launch`) to a blank screen.
        if is_ctrl(&key, 'l') || is_ctrl(&key, 'z') {
            self.full_redraw = true;
            return;
        }
        if let Some(popup) = self.popups.last_mut() {
            match popup.on_key(key) {
                PopupKey::Keep => {}
                PopupKey::Close => {
                    self.popups.pop();
                }
                PopupKey::Confirm => {
                    if let Some(Popup::Confirm {
                        on_yes: Some(action), ..
                    }) = self.popups.pop()
                    {
                        self.update(action);
                    }
                }
                PopupKey::Run(action) => {
                    self.popups.pop();
                    self.update(*action);
                }
            }
            return;
        }
        if key.code == KeyCode::F(1) {
            self.update(Action::Help);
            return;
        }
        let screen = self.screens.last_mut().expect("the home screen is never closed");
        if let Some(action) = screen.on_key(key, &self.ctx) {
            self.update(action);
        }
    }

    fn on_mouse(&mut self, mouse: MouseEvent) {
        if !self.popups.is_empty() {
            return;
        }
        let screen = self.screens.last_mut().expect("the home screen is never closed");
        if let Some(action) = screen.on_mouse(mouse, &self.ctx) {
            self.update(action);
        }
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::Back => self.back(),
            Action::Help => {
                let screen = self.screens.last().expect("the home screen is never closed");
                let mut hints = screen.hints();
                hints.extend_from_slice(keys::GLOBAL);
                self.popups.push(Popup::Help {
                    title: format!("Keys: {}", screen.title()),
                    hints,
                    scroll: 0,
                    rows: Default::default(),
                });
            }
            Action::Copy(text) => {
                self.status
                    .notice(format!("Copied {text} to the clipboard"), Tone::Good);
                self.clipboard.push(text);
            }
            Action::CopyFound { what, text } => {
                self.status
                    .notice(format!("Copied the {what} {text}"), Tone::Good);
                self.clipboard.push(text);
            }
            Action::CopyText(text) => {
                let lines = text.lines().count();
                self.status
                    .notice(format!("Copied the message text ({lines} lines)"), Tone::Good);
                self.clipboard.push(text);
            }
            Action::Pipe { command, text } => self.pipe = Some(Pipe { command, text }),
            Action::ViewHeaders { address, id } => self.view_headers(address, id),
            Action::OpenHtml { html, .. } => {
                let dir = std::env::temp_dir();
                self.spawn("Writing the HTML to a temp file", async move {
                    let written = tokio::task::spawn_blocking(move || {
                        crate::outside::write_private(&dir, "html", html.as_bytes())
                    })
                    .await;
                    Reply::HtmlFile(match written {
                        Ok(Ok(path)) => Ok(path),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(e) => Err(e.to_string()),
                    })
                });
            }
            Action::Take { address, id, want } => self.take(address, id, want),
            Action::OpenLink(link) => self.open_link(link),
            Action::OpenFailed(why) => self.status.notice(why, Tone::Bad),
            Action::OpenNewest(address) => self.open_newest(&address),
            Action::RefreshHome => {
                self.load_domains();
                self.load_open_config();
                self.check_all();
            }
            Action::OpenCreate => {
                if self.ctx.domains.is_empty() {
                    self.load_domains();
                }
                self.screens.push(Screen::Create(CreateForm::new()));
            }
            Action::OpenSignIn(address) => self.screens.push(Screen::SignIn(SignInForm::new(address))),
            Action::Create(credentials) => {
                let client = self.client.clone();
                self.spawn("Creating the mailbox", async move {
                    let result = client.create_account(&credentials).await;
                    Reply::Created {
                        address: credentials.address,
                        result,
                    }
                });
            }
            Action::Throwaway => self.throwaway(),
            Action::OpenWatch => self.open_watch_form(),
            Action::Watch(address) => self.watch_address(address),
            Action::SignIn(credentials) => {
                let client = self.client.clone();
                self.spawn("Signing in", async move {
                    let result = client.sign_in(&credentials).await;
                    Reply::SignedIn {
                        address: credentials.address,
                        result,
                    }
                });
            }
            Action::OpenInbox(address) if self.is_open(&address) => self.open_open_inbox(address),
            Action::OpenInbox(address) => {
                let Some(client) = self.mailbox_client(&address) else {
                    return;
                };
                self.screens.push(Screen::Inbox(Inbox::new(address.clone())));
                self.load_page(address.clone(), 1);
                // The inbox's own connection replaces the watcher's.
                self.watchers.stop(&address);
                self.start_live(address, live::spawn, client);
            }
            Action::Inspect(address) if self.is_open(&address) => self.inspect_open(&address),
            Action::Inspect(address) => {
                let password = self.ctx.saved.get(&address).and_then(|m| m.password.clone());
                self.popups.push(Popup::Inspect {
                    address: address.clone(),
                    password,
                    me: None,
                    error: None,
                });
                self.check(&address);
            }
            Action::AskDeleteAccount(address) => self.popups.push(Popup::Confirm {
                title: "Delete mailbox".into(),
                text: format!("Delete {address} and all its mail from the server? This cannot be undone."),
                yes: "delete",
                on_yes: Some(Action::DeleteAccount(address)),
            }),
            Action::DeleteAccount(address) => {
                let Some(client) = self.mailbox_client(&address) else {
                    return;
                };
                self.spawn("Deleting the mailbox", async move {
                    let result = client.delete_account().await;
                    Reply::AccountDeleted { address, result }
                });
            }
            Action::AskForget(address) if self.is_open(&address) => self.ask_forget_open(address),
            Action::AskForget(address) => self.popups.push(Popup::Confirm {
                title: "Forget mailbox".into(),
                text: format!(
                    "Remove {address} and its saved sign-in from this list? The mailbox and its \
                     mail stay on the server; you need its password to sign in again."
                ),
                yes: "forget",
                on_yes: Some(Action::Forget(address)),
            }),
            Action::Forget(address) => match self.ctx.saved.remove(&address) {
                Ok(()) => {
                    self.watchers.stop(&address);
                    self.ctx.health.remove(&address);
                    self.ctx.open_counts.remove(&address);
                    self.status.notice(
                        format!("Removed {address} from this list (it stays on the server)"),
                        Tone::Info,
                    );
                }
                Err(e) => self.popups.push(Popup::error("Cannot save the list", e)),
            },
            Action::LoadPage { address, page } => self.load_page(address, page),
            Action::ReloadInbox(address) if self.is_open(&address) => self.reload_open_inbox(&address),
            Action::ReloadInbox(address) => {
                let mut reconnect = false;
                if let Some(inbox) = self.inbox_mut(&address) {
                    inbox.reloading = true;
                    // `r` also retries an offline live connection now, not after its countdown.
                    if matches!(inbox.live, Live::Offline { .. }) {
                        inbox.live = Live::Connecting;
                        reconnect = true;
                    }
                }
                if reconnect && let Some(client) = self.mailbox_client(&address) {
                    self.start_live(address.clone(), live::spawn, client);
                }
                self.load_page(address, 1);
            }
            Action::OpenMessage { address, id } => {
                let Some(client) = self.origin(&address) else {
                    return;
                };
                let summary = self.inbox_mut(&address).and_then(|i| i.summary(id).cloned());
                self.screens
                    .push(Screen::Reader(Reader::new(address.clone(), id, summary)));
                self.spawn("Opening the message", async move {
                    let result = client.message(id).await;
                    Reply::Message { address, id, result }
                });
            }
            Action::AskDeleteMessage { address, id, subject } => self.popups.push(Popup::Confirm {
                title: "Delete message".into(),
                text: format!(
                    "Delete {} from {address}? This cannot be undone.",
                    quoted_subject(&subject)
                ),
                yes: "delete",
                on_yes: Some(Action::DeleteMessage { address, id }),
            }),
            Action::DeleteMessage { address, id } => {
                let Some(client) = self.origin(&address) else {
                    return;
                };
                self.spawn("Deleting the message", async move {
                    let result = client.delete_message(id).await;
                    Reply::MessageDeleted { address, id, result }
                });
            }
            Action::AskDeleteMessages { address, ids } => self.popups.push(Popup::Confirm {
                title: "Delete messages".into(),
                text: format!(
                    "Delete the {} selected messages from {address}? This cannot be undone.",
                    ids.len()
                ),
                yes: "delete",
                on_yes: Some(Action::DeleteMessages { address, ids }),
            }),
            Action::DeleteMessages { address, ids } => self.delete_messages(address, ids),
            Action::AskDeleteAll(address) => self.popups.push(Popup::Confirm {
                title: "Delete all mail".into(),
                text: format!("Delete every message of {address}? The mailbox stays. This cannot be undone."),
                yes: "delete all",
                on_yes: Some(Action::DeleteAll(address)),
            }),
            Action::DeleteAll(address) => {
                let Some(client) = self.origin(&address) else {
                    return;
                };
                self.spawn("Deleting all mail", async move {
                    let result = client.delete_all_messages().await;
                    Reply::AllDeleted { address, result }
                });
            }
            Action::ViewSource { address, id } => {
                let Some(client) = self.origin(&address) else {
                    return;
                };
                self.spawn("Loading the source", async move {
                    let result = client.source(id).await;
                    Reply::Source { address, id, result }
                });
            }
            Action::SaveAttachment {
                address,
                id,
                attachment,
            } => {
                let Some(client) = self.origin(&address) else {
                    return;
                };
                let dir = self.downloads.clone();
                self.spawn("Saving the attachment", async move {
                    let result = match client.attachment(id, attachment.index).await {
                        Ok(download) => {
                            // The name the reader showed; the header's name only if that is empty.
                            let name = if attachment.filename.trim().is_empty() {
                                download.filename.unwrap_or_default()
                            } else {
                                attachment.filename
                            };
                            net::save_file(dir, name, download.bytes).await
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    Reply::Saved(result)
                });
            }
            Action::SaveBytes { name, bytes } => {
                let dir = self.downloads.clone();
                self.spawn("Saving the file", async move {
                    Reply::Saved(net::save_file(dir, name, bytes).await)
                });
            }
            Action::Net { task, reply } => {
                self.status.finish(task);
                self.on_reply(reply);
            }
            Action::Live { address, event } => self.on_live(address, event),
            Action::Pro(action) => self.pro(action),
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Pro(reply) => self.pro_reply(reply),
            Reply::Domains(Ok(domains)) if domains.is_empty() => {
                self.throwaway = Throwaway::Idle;
                self.ctx.domains_error = Some("the server lists no domains".into());
            }
            Reply::Domains(Ok(domains)) => {
                self.ctx.domains = domains;
                self.ctx.domains_error = None;
                // A `t` pressed before the domains were known goes ahead now.
                if self.throwaway == Throwaway::AwaitingDomains {
                    self.throwaway = Throwaway::Idle;
                    self.throwaway();
                }
            }
            Reply::OpenConfig(result) => self.on_open_config(result),
            Reply::Domains(Err(e)) => {
                self.throwaway = Throwaway::Idle;
                self.ctx.domains_error = Some(e.to_string());
                self.error_popup("Cannot load the server's domains", &e);
            }
            Reply::Created { address, result } => {
                let form = self.screens.iter_mut().rev().find_map(|s| match s {
                    Screen::Create(form) => Some(form),
                    _ => None,
                });
                match (result, form) {
                    (Ok(token), form) => {
                        if let Some(form) = form {
                            form.busy = false;
                        }
                        self.signed_in(token, "Created")
                    }
                    (Err(e), Some(form)) => {
                        form.busy = false;
                        match e.code() {
                            Some(ErrorCode::InvalidAddress | ErrorCode::AddressTaken) => {
                                form.local.server_error = Some(e.to_string());
                                form.focus_address();
                            }
                            Some(ErrorCode::PasswordTooShort) => {
                                form.password.server_error = Some(e.to_string());
                                form.focus_password();
                            }
                            _ => self.error_popup(&format!("Cannot create {address}"), &e),
                        }
                    }
                    (Err(e), None) => self.error_popup(&format!("Cannot create {address}"), &e),
                }
            }
            Reply::Throwaway {
                address,
                password,
                result,
            } => match self.throwaway_done(result) {
                Ok(token) => {
                    self.save_token(token, Some(password));
                    if let Some(Screen::Home(home)) = self.screens.first_mut() {
                        home.select(&self.ctx, &address);
                    }
                    self.check(&address);
                    self.update(Action::OpenInbox(address.clone()));
                    self.clipboard.push(address.clone());
                    self.status
                        .notice(format!("Created {address}; the address is copied"), Tone::Good);
                }
                Err(e) => self.error_popup(&format!("Cannot create {address}"), &e),
            },
            Reply::SignedIn { address, result } => {
                let form = self.screens.iter_mut().rev().find_map(|s| match s {
                    Screen::SignIn(form) => Some(form),
                    _ => None,
                });
                match (result, form) {
                    (Ok(token), form) => {
                        if let Some(form) = form {
                            form.busy = false;
                        }
                        self.signed_in(token, "Signed in to")
                    }
                    (Err(e), Some(form))
                        if matches!(
                            e.code(),
                            Some(ErrorCode::InvalidCredentials | ErrorCode::InvalidAddress)
                        ) =>
                    {
                        // Keep what was typed: only the password needs another look.
                        form.busy = false;
                        form.password.server_error = Some(e.to_string());
                        form.focus_password();
                    }
                    (Err(e), form) => {
                        if let Some(form) = form {
                            form.busy = false;
                        }
                        self.error_popup(&format!("Cannot sign in to {address}"), &e)
                    }
                }
            }
            Reply::Me { address, result } => {
                let inspect = self.popups.iter_mut().find_map(|p| match p {
                    Popup::Inspect {
                        address: a,
                        me,
                        error,
                        ..
                    } if *a == address => Some((me, error)),
                    _ => None,
                });
                match result {
                    Ok(me) => {
                        if let Some((slot, _)) = inspect {
                            *slot = Some(me.clone());
                        }
                        self.ctx.health.insert(address, Health::Ok(me));
                    }
                    Err(e) if e.code() == Some(ErrorCode::InvalidToken) => {
                        if inspect.is_some() {
                            self.popups
                                .retain(|p| !matches!(p, Popup::Inspect { address: a, .. } if *a == address));
                            self.token_rejected(&address);
                        } else {
                            self.ctx.health.insert(address, Health::SignedOut);
                        }
                    }
                    Err(e) => {
                        if let Some((_, error)) = inspect {
                            *error = Some(e.to_string());
                        }
                        let why = match e {
                            // The full transport error is long; the row only needs the gist.
                            ClientError::Transport(_) => "cannot reach the server".to_string(),
                            ClientError::Protocol(_) => "unexpected answer from the server".to_string(),
                            e => e.to_string(),
                        };
                        self.ctx.health.insert(address, Health::Failed(why));
                    }
                }
            }
            Reply::AccountDeleted { address, result } => match result {
                Ok(()) => {
                    self.leave_mailbox(&address);
                    self.watchers.stop(&address);
                    self.ctx.health.remove(&address);
                    if let Err(e) = self.ctx.saved.remove(&address) {
                        self.popups.push(Popup::error("Cannot save the list", e));
                    }
                    self.status.notice(format!("Deleted {address}"), Tone::Info);
                }
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
                Err(e) => self.error_popup(&format!("Cannot delete {address}"), &e),
            },
            Reply::Found {
                address,
                query,
                page,
                result,
            } => {
                // Only the answer for the search on screen: the person may have typed on.
                if self.inbox_mut(&address).is_some_and(|i| i.query() == query) {
                    self.on_page(address, page, result);
                }
            }
            Reply::Page {
                address,
                page,
                result,
            } => {
                // Asked before a filter applied: the filtered list must not get it.
                if self.inbox_mut(&address).is_some_and(|i| i.query().is_empty()) {
                    self.on_page(address, page, result);
                }
            }
            Reply::Message { address, id, result } => match result {
                Ok(message) => {
                    let unread = !message.is_read;
                    if let Some(reader) = self.reader_mut(&address, id) {
                        reader.set_message(message);
                    }
                    if unread {
                        self.mark_read(address, id);
                    }
                }
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
                Err(e) => {
                    if let Some(reader) = self.reader_mut(&address, id) {
                        reader.error = Some(e.to_string());
                    }
                    self.error_popup("Cannot open the message", &e);
                }
            },
            Reply::MarkedRead { address, id, result } => match result {
                Ok(()) => {
                    if let Some(inbox) = self.inbox_mut(&address) {
                        inbox.mark_read(id);
                    }
                    if let Some(Health::Ok(me)) = self.ctx.health.get_mut(&address) {
                        me.unread = me.unread.saturating_sub(1);
                    }
                }
                Err(e) => self
                    .status
                    .notice(format!("Could not mark the message read: {e}"), Tone::Info),
            },
            Reply::MessageDeleted { address, id, result } => match result {
                // Not found: it is gone either way, which is what was asked.
                Ok(()) | Err(ClientError::Api { status: 404, .. }) => {
                    while matches!(self.screens.last(), Some(Screen::Reader(r)) if r.id == id)
                        || matches!(self.screens.last(), Some(Screen::Source(s)) if s.id == id)
                    {
                        self.screens.pop();
                    }
                    if let Some(inbox) = self.inbox_mut(&address) {
                        inbox.remove(id);
                    }
                    self.status.notice("Message deleted", Tone::Info);
                }
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
                Err(e) => self.error_popup("Cannot delete the message", &e),
            },
            Reply::MessagesDeleted {
                address,
                deleted,
                error,
            } => {
                if let Some(inbox) = self.inbox_mut(&address) {
                    for id in &deleted {
                        inbox.remove(*id);
                    }
                }
                match error {
                    None => self
                        .status
                        .notice(format!("Deleted {} messages", deleted.len()), Tone::Info),
                    Some(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
                    Some(e) => {
                        self.error_popup(&format!("Deleted {} messages, then failed", deleted.len()), &e)
                    }
                }
            }
            Reply::AllDeleted { address, result } => match result {
                Ok(()) => {
                    while matches!(self.screens.last(), Some(Screen::Reader(_) | Screen::Source(_))) {
                        self.screens.pop();
                    }
                    // Reload rather than empty the list: mail may have arrived since.
                    self.update(Action::ReloadInbox(address.clone()));
                    self.status
                        .notice(format!("Deleted all mail of {address}"), Tone::Info);
                }
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
                Err(e) => self.error_popup("Cannot delete the mail", &e),
            },
            Reply::Source { address, id, result } => match result {
                Ok(download) if download.bytes.len() > crate::screens::source::INLINE_SOURCE => {
                    // Splitting megabytes into lines would freeze the interface: do it aside.
                    let bytes = download.bytes;
                    self.spawn("Decoding the source", async move {
                        let (bytes, lines) = tokio::task::spawn_blocking(move || {
                            let lines = crate::screens::source::source_lines(&bytes);
                            (bytes, lines)
                        })
                        .await
                        .unwrap_or_default();
                        Reply::SourceLines { id, bytes, lines }
                    });
                }
                Ok(download) => {
                    if matches!(self.screens.last(), Some(Screen::Reader(r)) if r.id == id) {
                        self.screens
                            .push(Screen::Source(SourceView::new(id, download.bytes)));
                    }
                }
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
                Err(e) => self.error_popup("Cannot load the source", &e),
            },
            Reply::Headers { address, id, result } => match result {
                Ok(rows) => {
                    if matches!(self.screens.last(), Some(Screen::Reader(r)) if r.id == id) {
                        self.screens.push(Screen::Headers(HeadersView::new(id, rows)));
                    }
                }
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
                Err(e) => self.error_popup("Cannot load the headers", &e),
            },
            Reply::HtmlFile(Ok(path)) => {
                self.open_link(path.display().to_string());
                self.temp_files.push(path.clone());
                // Gone once the browser has surely read it; what is left goes when the app ends.
                tokio::spawn(async move {
                    tokio::time::sleep(crate::outside::HTML_FILE_LIFETIME).await;
                    let _ = tokio::fs::remove_file(path).await;
                });
            }
            Reply::HtmlFile(Err(e)) => self
                .status
                .notice(format!("Cannot write the HTML to a temp file: {e}"), Tone::Bad),
            Reply::SourceLines { id, bytes, lines } => {
                if matches!(self.screens.last(), Some(Screen::Reader(r)) if r.id == id) {
                    self.screens
                        .push(Screen::Source(SourceView::with_lines(id, bytes, lines)));
                }
            }
            Reply::Html {
                address,
                id,
                width,
                lines,
            } => {
                if let Some(reader) = self.reader_mut(&address, id) {
                    reader.set_html(width, lines);
                }
            }
            Reply::Saved(Ok(path)) => {
                self.status
                    .notice(format!("Saved {}", path.display()), Tone::Good);
                self.popups
                    .push(Popup::info("Saved", format!("Saved to {}", path.display())));
            }
            Reply::Saved(Err(e)) => self.popups.push(Popup::error("Cannot save", e)),
            Reply::Taken {
                address,
                id,
                want,
                result,
            } => match result {
                Ok(found) => self.use_found(id, want, found),
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
                Err(e) => self
                    .status
                    .notice(format!("Cannot read the message: {e}"), Tone::Bad),
            },
        }
    }

    /// A page of an inbox arrived (or could not be loaded).
    fn on_page(&mut self, address: String, page: u32, result: Result<MessageList, ClientError>) {
        match result {
            Ok(list) => {
                let next = self
                    .inbox_mut(&address)
                    .and_then(|inbox| inbox.apply_page(page, list.messages));
                if let Some(next) = next {
                    self.update(next);
                }
            }
            Err(e) if e.code() == Some(ErrorCode::InvalidToken) => self.token_rejected(&address),
            Err(e) => {
                if let Some(inbox) = self.inbox_mut(&address) {
                    inbox.page_failed(e.to_string());
                    self.error_popup("Cannot load the messages", &e);
                }
            }
        }
    }

    fn on_live(&mut self, address: String, event: LiveEvent) {
        if address == crate::pro::LIVE_KEY {
            return self.pro_live(event);
        }
        if let LiveEvent::Email(email) = &event {
            self.count_new_mail(&address, email.size);
        }
        if let LiveEvent::Existing(emails) = &event {
            self.count_open(&address, emails.len(), true);
        }
        let Some(inbox) = self.inbox_mut(&address) else {
            self.on_watched(address, event);
            return;
        };
        match event {
            LiveEvent::Connected => {
                inbox.live = Live::Live;
                // Mail may have arrived while the socket was down (or opening): catch up.
                self.load_page(address, 1);
            }
            LiveEvent::Disconnected { retry_in, reason } => {
                let retry_at = std::time::Instant::now() + retry_in;
                inbox.live = Live::Offline { retry_at, reason }
            }
            LiveEvent::Email(email) if !inbox.query().is_empty() => {
                // Filtered: the server decides whether the new mail matches.
                let from = format::from_name(&email.from, &email.sender);
                self.status.notice(format!("New mail from {from}"), Tone::Good);
                self.load_page(address, 1);
            }
            LiveEvent::Existing(emails) => {
                for email in emails {
                    inbox.insert_new(email);
                }
            }
            LiveEvent::Email(email) => {
                let from = format::from_name(&email.from, &email.sender);
                let subject = format::one_line(&email.subject);
                if inbox.insert_new(email) {
                    self.status
                        .notice(format!("New mail from {from}: {subject}"), Tone::Good);
                }
            }
            LiveEvent::Refused(e) if e.code() == Some(ErrorCode::InvalidToken) => {
                self.token_rejected(&address)
            }
            LiveEvent::Refused(e) => {
                inbox.live = Live::Offline {
                    retry_at: std::time::Instant::now(),
                    reason: e.to_string(),
                }
            }
        }
    }

    /// What the connection of a watched mailbox (inbox not open) reports.
    fn on_watched(&mut self, address: String, event: LiveEvent) {
        if !self.watchers.is_watching(&address) {
            return;
        }
        match event {
            // (Re)connected: mail may have come meanwhile; the counts are asked for again.
            LiveEvent::Connected => {
                self.watchers.set_connected(&address, true);
                self.check_quietly(&address)
            }
            LiveEvent::Email(email) => {
                let from = format::from_name(&email.from, &email.sender);
                let text = format!(
                    "New mail for {address} from {from}: {}",
                    format::one_line(&email.subject)
                );
                let sequence = self.notify.sequence(&text);
                if let Some(alert) = self.alert.as_mut()
                    && !sequence.is_empty()
                {
                    alert(&sequence);
                }
                self.status.notice(text, Tone::Good);
            }
            LiveEvent::Refused(e) if e.code() == Some(ErrorCode::InvalidToken) => {
                self.watchers.stop(&address);
                self.ctx.health.insert(address, Health::SignedOut);
            }
            LiveEvent::Disconnected { .. } | LiveEvent::Refused(_) => {
                self.watchers.set_connected(&address, false)
            }
            LiveEvent::Existing(_) => {}
        }
    }

    /// Whether the saved mailbox `address` is watched over a connection that is up, so its new
    /// mail is noticed wherever you are.
    pub fn watcher_connected(&self, address: &str) -> bool {
        self.watchers.is_connected(address)
    }

    /// A new mail for `address`: its counts on the home screen go up at once.
    fn count_new_mail(&mut self, address: &str, size: u64) {
        if self.is_open(address) {
            self.count_open(address, 1, false);
        }
        if let Some(Health::Ok(me)) = self.ctx.health.get_mut(address) {
            me.messages += 1;
            me.unread += 1;
            me.used += size;
        }
    }

    /// Watches a saved mailbox for new mail, unless its inbox is open (that has its own).
    fn watch(&mut self, address: &str) {
        if self.inbox_mut(address).is_some() {
            return;
        }
        match self.ctx.saved.get(address) {
            Some(m) if m.open => {
                let client = self.client.clone();
                self.watchers.start(address, live::spawn_open, client, &self.tx);
            }
            Some(m) => {
                let client = self.client.with_token(&m.token);
                self.watchers.start(address, live::spawn, client, &self.tx);
            }
            None => {}
        }
    }

    /// Finds the codes and links of a message: remembered, or from the open reader, or from the
    /// server in the background (the UI never waits on the network).
    fn take(&mut self, address: String, id: uuid::Uuid, want: Want) {
        if let Some(found) = self.found.get(&id) {
            let found = found.clone();
            self.use_found(id, want, found);
            return;
        }
        let loaded = self
            .reader_mut(&address, id)
            .and_then(|r| r.message.as_ref())
            .map(|m| extract::extract(&m.subject, m.text_body.as_deref(), m.html_body.as_deref()));
        if let Some(found) = loaded {
            self.use_found(id, want, found);
            return;
        }
        let Some(client) = self.origin(&address) else {
            return;
        };
        self.spawn("Reading the message", async move {
            // `GET` does not mark the message read: taking a code from the list leaves it unread.
            let result = client
                .message(id)
                .await
                .map(|m| extract::extract(&m.subject, m.text_body.as_deref(), m.html_body.as_deref()));
            Reply::Taken {
                address,
                id,
                want,
                result,
            }
        });
    }

    /// Copies the best code, opens the best link, or shows the picker.
    fn use_found(&mut self, id: uuid::Uuid, want: Want, found: Extracted) {
        match want {
            Want::Code => match found.best_code() {
                Some(code) => self.update(Action::CopyFound {
                    what: "code",
                    text: code.to_string(),
                }),
                None if found.links.is_empty() => self.status.notice("No code in this message", Tone::Info),
                None => self
                    .status
                    .notice("No code in this message; Y lists its links", Tone::Info),
            },
            Want::Link => match found.best_link() {
                Some(link) => self.open_link(link.to_string()),
                None if found.links.is_empty() => self.status.notice("No link in this message", Tone::Info),
                None => self
                    .status
                    .notice("Only unsubscribe-like links here; Y lists them", Tone::Info),
            },
            Want::Pick if found.is_empty() => {
                self.status.notice("No code or link in this message", Tone::Info)
            }
            Want::Pick => self.popups.push(Popup::pick("Codes and links", &found)),
        }
        // A few dozen messages are plenty; start over rather than grow without end.
        if self.found.len() >= 64 {
            self.found.clear();
        }
        self.found.insert(id, found);
    }

    /// Starts the opener on `link` and returns at once; a thread waits for it and reports a
    /// failure, so a browser that stays open never blocks the app.
    fn open_link(&mut self, link: String) {
        let Some((program, args)) = self.opener.split_first() else {
            self.status
                .notice("No program to open links: set $BROWSER", Tone::Bad);
            return;
        };
        let spawned = Command::new(program)
            .args(args)
            .arg(&link)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(mut child) => {
                self.status.notice(format!("Opening {link}"), Tone::Info);
                let tx = self.tx.clone();
                let program = program.clone();
                std::thread::spawn(move || {
                    let why = match child.wait() {
                        Ok(status) if status.success() => return,
                        Ok(status) => format!("{program} could not open the link ({status})"),
                        Err(e) => format!("{program} could not open the link: {e}"),
                    };
                    let _ = tx.send(Action::OpenFailed(why));
                });
            }
            Err(e) => self
                .status
                .notice(format!("Cannot run {program} to open the link: {e}"), Tone::Bad),
        }
    }

    /// Loads a message's source and reads its headers off the UI thread.
    fn view_headers(&mut self, address: String, id: uuid::Uuid) {
        let Some(client) = self.origin(&address) else {
            return;
        };
        self.spawn("Loading the headers", async move {
            let result = match client.source(id).await {
                Ok(download) => {
                    let parsed = tokio::task::spawn_blocking(move || crate::headers::parse(&download.bytes));
                    Ok(parsed.await.unwrap_or_default())
                }
                Err(e) => Err(e),
            };
            Reply::Headers { address, id, result }
        });
    }

    /// Back to the inbox of `address`, its newest message selected and opened.
    fn open_newest(&mut self, address: &str) {
        let Some(newest) = self.inbox_mut(address).and_then(|i| i.select_newest()) else {
            return;
        };
        if matches!(self.screens.last(), Some(Screen::Reader(r)) if r.id == newest) {
            self.status.notice("This is the newest message", Tone::Info);
            return;
        }
        while !matches!(self.screens.last(), Some(Screen::Inbox(i)) if i.address == address) {
            self.screens.pop();
        }
        self.update(Action::OpenMessage {
            address: address.to_string(),
            id: newest,
        });
    }

    /// Saves a mailbox the server just gave a token for, closes the form, selects it at home.
    fn signed_in(&mut self, token: AccountToken, done: &str) {
        let address = token.address.clone();
        self.save_token(token, None);
        if matches!(self.screens.last(), Some(Screen::Create(_) | Screen::SignIn(_))) {
            self.screens.pop();
        }
        if let Some(Screen::Home(home)) = self.screens.first_mut() {
            home.select(&self.ctx, &address);
        }
        self.check(&address);
        self.status.notice(format!("{done} {address}"), Tone::Good);
    }

    /// Keeps a mailbox's token (and the password, for one the app made up) in the saved list.
    fn save_token(&mut self, token: AccountToken, password: Option<String>) {
        let mailbox = SavedMailbox {
            address: token.address,
            id: token.id,
            token: token.token,
            password,
            open: false,
        };
        let address = mailbox.address.clone();
        match self.ctx.saved.upsert(mailbox) {
            Ok(()) => {
                // A new token: the watcher of an old one must not go on.
                self.watchers.stop(&address);
                self.watch(&address);
            }
            Err(e) => self.popups.push(Popup::error("Cannot save the mailbox", e)),
        }
    }

    /// Creates a mailbox with a random address on the default domain and a generated password,
    /// in the background; [`Reply::Throwaway`] opens its inbox and copies the address.
    fn throwaway(&mut self) {
        match self.throwaway {
            Throwaway::Idle => {}
            Throwaway::AwaitingDomains | Throwaway::Creating => {
                self.status
                    .notice("A throwaway mailbox is on its way already", Tone::Info);
                return;
            }
        }
        let Some(domain) = self
            .ctx
            .domains
            .iter()
            .find(|d| d.default)
            .or(self.ctx.domains.first())
            .map(|d| d.domain.clone())
        else {
            // Made as soon as the domains are known.
            self.throwaway = Throwaway::AwaitingDomains;
            self.load_domains();
            self.status.notice(
                "Loading the server's domains for the throwaway mailbox",
                Tone::Info,
            );
            return;
        };
        self.throwaway = Throwaway::Creating;
        let address = format!("{}@{domain}", crate::screens::create::random_local());
        let password = crate::screens::create::random_password();
        let credentials = Credentials {
            address: address.clone(),
            password: password.clone(),
        };
        let client = self.client.clone();
        self.spawn("Creating a throwaway mailbox", async move {
            let result = client.create_account(&credentials).await;
            Reply::Throwaway {
                address,
                password,
                result,
            }
        });
    }

    /// A throwaway mailbox's creation came back: another `t` may make the next one.
    fn throwaway_done<T>(&mut self, result: T) -> T {
        self.throwaway = Throwaway::Idle;
        result
    }

    /// The server refused a saved token: say so, leave the mailbox's screens, offer sign-in.
    fn token_rejected(&mut self, address: &str) {
        self.ctx.health.insert(address.to_string(), Health::SignedOut);
        self.leave_mailbox(address);
        self.watchers.stop(address);
        let asked = self.popups.iter().any(
            |p| matches!(p, Popup::Confirm { on_yes: Some(Action::OpenSignIn(Some(a))), .. } if a == address),
        );
        if !asked {
            self.popups.push(Popup::Confirm {
                title: "Signed out".into(),
                text: format!(
                    "The saved sign-in for {address} no longer works: its token expired, or the \
                     mailbox was deleted elsewhere. Sign in again?"
                ),
                yes: "sign in",
                on_yes: Some(Action::OpenSignIn(Some(address.to_string()))),
            });
        }
    }

    /// Closes the screens of one mailbox (after it was deleted or its token refused).
    fn leave_mailbox(&mut self, address: &str) {
        let open = |s: &Screen| matches!(s, Screen::Inbox(i) if i.address == address);
        if let Some(at) = self.screens.iter().position(open) {
            while self.screens.len() > at {
                self.back();
            }
        }
    }

    /// Shows an error in a popup, once: the same error from a burst of requests is one popup.
    fn error_popup(&mut self, title: &str, error: &ClientError) {
        let text = error.to_string();
        let shown = self
            .popups
            .iter()
            .any(|p| matches!(p, Popup::Message { title: t, text: x, .. } if t == title && *x == text));
        if !shown {
            self.popups.push(Popup::error(title, text));
        }
    }

    fn back(&mut self) {
        if self.screens.len() <= 1 {
            return;
        }
        if let Some(Screen::Inbox(inbox)) = self.screens.pop() {
            self.stop_live(&inbox.address);
            self.watch(&inbox.address);
        }
        // Back in the Pro area: what was read meanwhile shows in fresh unread counts.
        if matches!(self.screens.last(), Some(Screen::Pro(_))) {
            self.load_accounts(1);
        }
        // Home again: what was read, deleted or received meanwhile shows in fresh counts.
        if self.screens.len() == 1 {
            let addresses: Vec<String> = self
                .ctx
                .saved
                .mailboxes()
                .iter()
                .map(|m| m.address.clone())
                .filter(|a| self.ctx.health.get(a) != Some(&Health::SignedOut))
                .collect();
            for address in addresses {
                self.check_quietly(&address);
            }
        }
    }

    /// Renders in the background the HTML the reader's last frame lacked (large HTML would
    /// freeze the interface; the reader shows a spinner meanwhile).
    fn start_html_job(&mut self) {
        let Some(Screen::Reader(reader)) = self.screens.last_mut() else {
            return;
        };
        let Some((width, html)) = reader.html_job() else {
            return;
        };
        let (address, id) = (reader.address.clone(), reader.id);
        self.spawn("Rendering the HTML", async move {
            let lines = tokio::task::spawn_blocking(move || crate::screens::reader::html_lines(&html, width))
                .await
                .unwrap_or_default();
            Reply::Html {
                address,
                id,
                width,
                lines,
            }
        });
    }

    /// Runs `work` in the background with a spinner entry labelled `label`.
    fn spawn<F>(&mut self, label: &'static str, work: F)
    where
        F: Future<Output = Reply> + Send + 'static,
    {
        let task = self.next_task;
        self.next_task += 1;
        self.status.start(task, label);
        net::spawn(&self.tx, task, work);
    }

    /// A client carrying the saved token of `address`; a popup if there is none.
    fn mailbox_client(&mut self, address: &str) -> Option<Client> {
        match self.ctx.saved.get(address) {
            Some(m) => Some(self.client.with_token(&m.token)),
            None => {
                self.popups.push(Popup::error(
                    "Not signed in",
                    format!("{address} is not in the saved list; sign in to it first."),
                ));
                None
            }
        }
    }

    fn inbox_mut(&mut self, address: &str) -> Option<&mut Inbox> {
        self.screens.iter_mut().find_map(|s| match s {
            Screen::Inbox(inbox) if inbox.address == address => Some(inbox),
            _ => None,
        })
    }

    fn reader_mut(&mut self, address: &str, id: uuid::Uuid) -> Option<&mut Reader> {
        self.screens.iter_mut().find_map(|s| match s {
            Screen::Reader(r) if r.address == address && r.id == id => Some(r),
            _ => None,
        })
    }

    fn load_domains(&mut self) {
        let client = self.client.clone();
        self.spawn("Loading domains", async move {
            Reply::Domains(client.domains().await)
        });
    }

    /// Checks one saved mailbox with `GET /api/me`.
    fn check(&mut self, address: &str) {
        if self.ctx.saved.get(address).is_some_and(|m| !m.open) {
            self.ctx.health.insert(address.to_string(), Health::Checking);
        }
        self.check_quietly(address);
    }

    /// [`App::check`] keeping what the row shows until the answer replaces it.
    fn check_quietly(&mut self, address: &str) {
        let Some(m) = self.ctx.saved.get(address).filter(|m| !m.open) else {
            return;
        };
        let client = self.client.with_token(&m.token);
        let address = address.to_string();
        self.spawn("Checking mailboxes", async move {
            let result = client.me().await;
            Reply::Me { address, result }
        });
    }

    fn check_all(&mut self) {
        let addresses: Vec<String> = self
            .ctx
            .saved
            .mailboxes()
            .iter()
            .map(|m| m.address.clone())
            .collect();
        for address in addresses {
            self.check(&address);
        }
    }

    fn load_page(&mut self, address: String, page: u32) {
        if self.is_open(&address) {
            // An open inbox's list comes from its live long polls; it has no pages or search.
            if self.inbox_mut(&address).is_some_and(|i| !i.query().is_empty()) {
                self.status.notice(
                    "An open inbox cannot be searched; Esc shows all its mail",
                    Tone::Info,
                );
            }
            return;
        }
        let Some(client) = self.mailbox_client(&address) else {
            return;
        };
        let Some(inbox) = self.inbox_mut(&address) else {
            return;
        };
        if page > 1 {
            inbox.loading_more = true;
        }
        let query = inbox.query().to_string();
        let label = match (page, query.is_empty()) {
            (_, false) => "Searching",
            (1, true) => "Loading messages",
            _ => "Loading more messages",
        };
        if !query.is_empty() {
            self.spawn(label, async move {
                let result = client.search_messages(&query, page).await;
                Reply::Found {
                    address,
                    query,
                    page,
                    result,
                }
            });
            return;
        }
        self.spawn(label, async move {
            let result = client.messages(page).await;
            Reply::Page {
                address,
                page,
                result,
            }
        });
    }

    /// Deletes the picked messages one after the other (the API deletes one per request), in
    /// the background; stops at the first error other than "already gone".
    fn delete_messages(&mut self, address: String, ids: Vec<uuid::Uuid>) {
        let Some(client) = self.origin(&address) else {
            return;
        };
        self.spawn("Deleting the messages", async move {
            let mut deleted = Vec::new();
            let mut error = None;
            for id in ids {
                match client.delete_message(id).await {
                    Ok(()) | Err(ClientError::Api { status: 404, .. }) => deleted.push(id),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            Reply::MessagesDeleted {
                address,
                deleted,
                error,
            }
        });
    }

    fn mark_read(&mut self, address: String, id: uuid::Uuid) {
        if self.is_open(&address) {
            // An open inbox has no read state on the server: it is this app's alone.
            if let Some(inbox) = self.inbox_mut(&address) {
                inbox.mark_read(id);
            }
            return;
        }
        let Some(client) = self.mailbox_client(&address) else {
            return;
        };
        self.spawn("Marking read", async move {
            let result = client.mark_read(id).await;
            Reply::MarkedRead { address, id, result }
        });
    }

    /// Replaces the live connection of the inbox on screen with one that `spawn` starts.
    fn start_live(&mut self, address: String, spawn: live::Spawn, client: Client) {
        if let Some((_, task)) = self.live.take() {
            task.abort();
        }
        let task = spawn(client, address.clone(), self.tx.clone());
        self.live = Some((address, task));
    }

    fn stop_live(&mut self, address: &str) {
        if self.live.as_ref().is_some_and(|(a, _)| a == address)
            && let Some((_, task)) = self.live.take()
        {
            task.abort();
        }
    }

    /// Draws everything: title bar, the top screen, popups, status bar and key bar.
    pub fn render(&mut self, frame: &mut Frame) {
        self.ctx.now = self.clock.unwrap_or_else(chrono::Utc::now);
        self.ctx.spinner = self.status.spinner();
        self.status.set_rate_limited(self.client.rate_limited_for());
        let [title, body, status_bar, key_bar] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(frame.area());
        let trail: Vec<String> = self.screens.iter().map(Screen::title).collect();
        status::render_title(frame, title, &trail);
        let screen = self.screens.last_mut().expect("the home screen is never closed");
        screen.render(frame, body, &self.ctx);
        for popup in &self.popups {
            popup.render(frame, body, self.status.spinner());
        }
        self.status.render(frame, status_bar, &self.ctx.server);
        let hints = match self.popups.last() {
            Some(popup) => popup.hints(),
            None => screen.hints(),
        };
        keys::render_bar(frame, key_bar, &hints);
        self.start_html_job();
    }
}

/// The least time between two redraws made only to keep relative ages true.
const AGE_REDRAW_GAP: std::time::Duration = std::time::Duration::from_secs(60);

/// A subject for a question: in quotes, or "the message with no subject" when it is empty.
fn quoted_subject(subject: &str) -> String {
    let subject = format::one_line(subject);
    if subject.trim().is_empty() {
        "the message with no subject".to_string()
    } else {
        format!("“{subject}”")
    }
}

/// The program that opens links: `$BROWSER`, else the platform's opener.
fn default_opener() -> Vec<String> {
    if let Ok(browser) = std::env::var("BROWSER") {
        // `$BROWSER` may carry arguments ("firefox --new-tab"); the link goes last.
        let words: Vec<String> = browser.split_whitespace().map(String::from).collect();
        if !words.is_empty() {
            return words;
        }
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    vec![opener.to_string()]
}

impl Drop for App {
    fn drop(&mut self) {
        // The live task holds a socket; it must not outlive the app.
        if let Some((_, task)) = self.live.take() {
            task.abort();
        }
        for path in &self.temp_files {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where a `t` (throwaway mailbox) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Throwaway {
    Idle,
    /// Pressed before the server's domains were known: made once they are.
    AwaitingDomains,
    /// Being created: a second `t` meanwhile does not make a second one.
    Creating,
}
