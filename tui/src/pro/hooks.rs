//! The app's side of the Pro area: it runs what the Pro screens ask for in the background and
//! applies the answers. A child module of `app` (included there by path), so it uses the app's
//! own helpers for requests, popups, the clipboard and the saved mailboxes.

use std::time::Duration;

use mailcx_common::{ClientError, Credentials, ErrorCode, NewWebhook, ProLogin};
use tokio::task::AbortHandle;

use super::App;
use crate::action::{Action, LiveEvent, Reply};
use crate::app::ServerInfo;
use crate::popup::Popup;
use crate::pro::session::{self, Session};
use crate::pro::{LIVE_KEY, ProAction, ProReply};
use crate::screens::Screen;
use crate::screens::create::random_password;
use crate::screens::pro_area::{ProArea, ShowRow, record_rows};
use crate::screens::pro_signin::ProSignIn;
use crate::status::Tone;
use crate::{format, live};

/// How often the webhook's deliveries are asked for while the area is open, so the list is live
/// (the server pushes mail over the socket, but not deliveries).
const DELIVERIES_POLL: Duration = Duration::from_secs(2);

impl App {
    /// Applies what a Pro screen asked for.
    pub(super) fn pro(&mut self, action: ProAction) {
        match action {
            ProAction::Open => match self.saved_session() {
                Some(s) => self.enter_pro(s),
                None => self
                    .screens
                    .push(Screen::ProSignIn(ProSignIn::new(None, None, self.is_embedded()))),
            },
            ProAction::Login { email, password } => {
                let client = self.client.clone();
                self.spawn("Signing in to Pro", async move {
                    let login = ProLogin {
                        email: email.clone(),
                        password,
                    };
                    let result = client.pro_login(&login).await;
                    Reply::Pro(ProReply::LoggedIn { email, result })
                });
            }
            ProAction::CreateLocalUser { email, password } => self.create_local_user(email, password),
            ProAction::SignOut => {
                self.forget_session();
                self.leave_pro();
                self.screens
                    .push(Screen::ProSignIn(ProSignIn::new(None, None, self.is_embedded())));
            }
            ProAction::Reload => self.load_pro_lists(),
            ProAction::LoadAccounts(page) => self.load_accounts(page),
            ProAction::CreateMailbox(address) => {
                let Some(client) = self.pro_client() else { return };
                let password = random_password();
                self.spawn("Creating the mailbox", async move {
                    let credentials = Credentials {
                        address,
                        password: password.clone(),
                    };
                    let result = client.create_account(&credentials).await;
                    Reply::Pro(ProReply::MailboxCreated { password, result })
                });
            }
            ProAction::OpenMailbox(address) => self.open_pro_mailbox(address),
            ProAction::ResetPassword { id, address } => {
                let Some(client) = self.pro_client() else { return };
                let plain = self.client.clone();
                let password = random_password();
                self.spawn("Resetting the password", async move {
                    let credentials = Credentials {
                        address: address.clone(),
                        password: password.clone(),
                    };
                    // Then sign in with it: the app keeps a working sign-in for the mailbox.
                    let result = match client.pro_reset_password(id, &password).await {
                        Ok(_) => plain.sign_in(&credentials).await,
                        Err(e) => Err(e),
                    };
                    Reply::Pro(ProReply::PasswordReset {
                        address,
                        password,
                        result,
                    })
                });
            }
            ProAction::DeleteMailbox { id, address } => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Deleting the mailbox", async move {
                    let result = client.pro_delete_account(id).await;
                    Reply::Pro(ProReply::MailboxDeleted { address, result })
                });
            }
            ProAction::MintToken(name) => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Minting the token", async move {
                    Reply::Pro(ProReply::Minted(client.pro_mint_token(&name).await))
                });
            }
            ProAction::RevokeToken { id, name } => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Revoking the token", async move {
                    let result = client.pro_revoke_token(id).await;
                    Reply::Pro(ProReply::Revoked { name, result })
                });
            }
            ProAction::AddDomain(domain) => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Adding the domain", async move {
                    Reply::Pro(ProReply::DomainAdded(client.pro_add_domain(&domain).await))
                });
            }
            ProAction::VerifyDomain(id) => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Asking DNS", async move {
                    let result = client.pro_verify_domain(id).await;
                    Reply::Pro(ProReply::Verified { id, result })
                });
            }
            ProAction::DeleteDomain { id, domain } => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Deleting the domain", async move {
                    let result = client.pro_delete_domain(id).await;
                    Reply::Pro(ProReply::DomainDeleted { domain, result })
                });
            }
            ProAction::CreateWebhook(url) => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Creating the webhook", async move {
                    let hook = NewWebhook {
                        url,
                        events: vec!["email.received".into()],
                    };
                    Reply::Pro(ProReply::WebhookSaved(client.pro_create_webhook(&hook).await))
                });
            }
            ProAction::RotateWebhook(id) => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Rotating the secret", async move {
                    Reply::Pro(ProReply::WebhookSaved(client.pro_rotate_webhook(id).await))
                });
            }
            ProAction::DeleteWebhook(id) => {
                let Some(client) = self.pro_client() else { return };
                self.spawn("Deleting the webhook", async move {
                    Reply::Pro(ProReply::WebhookDeleted(client.pro_delete_webhook(id).await))
                });
            }
            ProAction::Ask {
                title,
                text,
                yes,
                then,
            } => self.popups.push(Popup::Confirm {
                title,
                text,
                yes,
                on_yes: Some(Action::Pro(*then)),
            }),
            ProAction::CopySecret { what, text } => {
                self.status.notice(format!("Copied the {what}"), Tone::Good);
                self.clipboard.push(text);
            }
        }
    }

    /// Applies the answer of a Pro request.
    pub(super) fn pro_reply(&mut self, reply: ProReply) {
        match reply {
            ProReply::LoggedIn { email, result } => match result {
                Ok(s) => self.signed_in_to_pro(email, s.token),
                Err(e) => {
                    let Some(form) = self.pro_signin_mut() else { return };
                    form.busy = false;
                    match e.code() {
                        Some(ErrorCode::InvalidCredentials) => {
                            form.password.server_error = Some(e.to_string());
                            form.focus_password();
                        }
                        _ => form.email.server_error = Some(e.to_string()),
                    }
                }
            },
            ProReply::LocalUser {
                email,
                password,
                result,
            } => match result {
                Ok(s) => {
                    self.signed_in_to_pro(email.clone(), s.token);
                    if let Some(area) = self.pro_area_mut() {
                        let rows = vec![row("Email", &email), row("Password", &password)];
                        let note = "The password is shown only now: copy it (↓ c) to sign in again \
                                    once this session ends in 7 days.";
                        area.show("Local Pro user created", rows, Some(note.into()), "password");
                        area.shown.as_mut().expect("just shown").selected = 1;
                    }
                }
                Err(e) => {
                    let Some(form) = self.pro_signin_mut() else { return };
                    form.busy = false;
                    form.email.server_error = Some(e);
                }
            },
            ProReply::Accounts(result) => {
                let Some(list) = self.pro_ok(result, "Cannot load the mailboxes") else {
                    return;
                };
                let Some(area) = self.pro_area_mut() else { return };
                if list.page <= 1 {
                    area.accounts = list.accounts;
                } else {
                    area.accounts.extend(list.accounts);
                }
                area.more_accounts = area.accounts.len() as u32 >= list.page * ACCOUNTS_PAGE;
                area.accounts_page = list.page.max(1);
            }
            ProReply::MailboxCreated { password, result } => match result {
                Ok(token) => {
                    let address = token.address.clone();
                    self.close_pro_input();
                    self.save_token(token, Some(password));
                    self.load_accounts(1);
                    self.status
                        .notice(format!("Created {address}; ⏎ opens it"), Tone::Good);
                }
                Err(e) => self.pro_input_error(e, "Cannot create the mailbox"),
            },
            ProReply::PasswordReset {
                address,
                password,
                result,
            } => {
                let Some(token) = self.pro_ok(result, "Cannot reset the password") else {
                    return;
                };
                self.save_token(token, Some(password.clone()));
                if let Some(area) = self.pro_area_mut() {
                    let rows = vec![row(&address, &password)];
                    let note = "The new password is shown once. The app keeps a sign-in for the \
                                mailbox, so ⏎ opens it.";
                    area.show("New password", rows, Some(note.into()), "password");
                }
            }
            ProReply::MailboxDeleted { address, result } => {
                if self.pro_ok(result, "Cannot delete the mailbox").is_none() {
                    return;
                }
                if let Some(area) = self.pro_area_mut() {
                    area.accounts.retain(|a| a.address != address);
                }
                self.forget_mailbox(&address);
                self.status.notice(format!("Deleted {address}"), Tone::Info);
            }
            ProReply::Tokens(result) => {
                let Some(tokens) = self.pro_ok(result, "Cannot load the tokens") else {
                    return;
                };
                if let Some(area) = self.pro_area_mut() {
                    area.tokens = Some(tokens);
                }
            }
            ProReply::Minted(result) => match result {
                Ok(created) => {
                    self.close_pro_input();
                    self.load_tokens();
                    if let Some(area) = self.pro_area_mut() {
                        let rows = vec![row(&format!("Token “{}”", created.name), &created.token)];
                        let note = "Copy it now with c: you will not see it again. The server keeps \
                                    only a hash.";
                        area.show("New API token", rows, Some(note.into()), "token");
                    }
                }
                Err(e) => self.pro_input_error(e, "Cannot mint the token"),
            },
            ProReply::Revoked { name, result } => {
                if self.pro_ok(result, "Cannot revoke the token").is_some() {
                    self.status
                        .notice(format!("Revoked the token “{name}”"), Tone::Info);
                    self.load_tokens();
                }
            }
            ProReply::Domains(result) => {
                let Some(domains) = self.pro_ok(result, "Cannot load the domains") else {
                    return;
                };
                if let Some(area) = self.pro_area_mut() {
                    area.domains = Some(domains);
                }
            }
            ProReply::DomainAdded(result) => match result {
                Ok(created) => {
                    self.close_pro_input();
                    self.load_domains_pro();
                    if let Some(area) = self.pro_area_mut() {
                        let note = "Set these records at your DNS host, then press v to verify.";
                        let title = format!("DNS records for {}", created.domain);
                        area.show(
                            title,
                            record_rows(&created.dns_records),
                            Some(note.into()),
                            "record",
                        );
                    }
                }
                Err(e) => self.pro_input_error(e, "Cannot add the domain"),
            },
            ProReply::Verified { id, result } => {
                let Some(check) = self.pro_ok(result, "Cannot verify the domain") else {
                    return;
                };
                self.load_domains_pro();
                let Some(area) = self.pro_area_mut() else { return };
                let name = area
                    .domains
                    .iter()
                    .flatten()
                    .find(|d| d.id == id)
                    .map_or_else(String::new, |d| d.domain.clone());
                let verified = check.verify_status == mailcx_common::VerifyStatus::Verified;
                let (title, note) = if verified {
                    (format!("{name} is verified"), "Mail for it is accepted now.")
                } else {
                    (
                        format!("{name} is not verified yet"),
                        "DNS does not have the ✗ records yet; press v again later.",
                    )
                };
                let rows = record_rows(&check.dns_records);
                area.show(title.clone(), rows, Some(note.into()), "record");
                // A server that does not say what its DNS answered: this machine's is asked.
                if check.dns_records.iter().any(|r| r.found.is_none()) {
                    self.ask_dns(title, check.dns_records);
                }
            }
            ProReply::DomainDeleted { domain, result } => {
                if self.pro_ok(result, "Cannot delete the domain").is_some() {
                    let suffix = format!("@{domain}");
                    let gone: Vec<String> = self
                        .ctx
                        .saved
                        .mailboxes()
                        .iter()
                        .map(|m| m.address.clone())
                        .filter(|a| a.ends_with(&suffix))
                        .collect();
                    for address in gone {
                        self.forget_mailbox(&address);
                    }
                    self.status
                        .notice(format!("Deleted {domain} and its mailboxes"), Tone::Info);
                    self.load_domains_pro();
                    self.load_accounts(1);
                }
            }
            ProReply::Webhooks(result) => {
                let Some(hooks) = self.pro_ok(result, "Cannot load the webhook") else {
                    return;
                };
                if let Some(area) = self.pro_area_mut() {
                    area.webhooks = Some(hooks);
                }
            }
            ProReply::WebhookSaved(result) => match result {
                Ok(hook) => {
                    self.close_pro_input();
                    if let Some(area) = self.pro_area_mut() {
                        area.webhooks = Some(vec![hook]);
                    }
                    self.status
                        .notice("Webhook saved; s shows its secret", Tone::Good);
                }
                Err(e) => self.pro_input_error(e, "Cannot save the webhook"),
            },
            ProReply::WebhookDeleted(result) => {
                if self.pro_ok(result, "Cannot delete the webhook").is_some() {
                    if let Some(area) = self.pro_area_mut() {
                        area.webhooks = Some(Vec::new());
                        area.deliveries.clear();
                    }
                    self.status.notice("Webhook deleted", Tone::Info);
                }
            }
            ProReply::DnsAnswers { title, answers } => {
                let shown = self.pro_area_mut().and_then(|a| a.shown.as_mut());
                if let Some(shown) = shown.filter(|s| s.title == title) {
                    for (row, answer) in shown.rows.iter_mut().zip(answers) {
                        row.answer = Some(answer);
                    }
                }
            }
            ProReply::Deliveries(result) => {
                let Some(list) = self.pro_ok(result, "Cannot load the deliveries") else {
                    return;
                };
                if let Some(area) = self.pro_area_mut() {
                    area.deliveries = list.deliveries;
                }
            }
        }
    }

    /// What the Pro area's live connection reports.
    pub(super) fn pro_live(&mut self, event: LiveEvent) {
        let Some(area) = self.pro_area_mut() else { return };
        match event {
            LiveEvent::Connected => {
                area.live = true;
                // Mail may have come while the socket was down: usage is asked for again.
                self.load_accounts(1);
            }
            LiveEvent::Disconnected { .. } => area.live = false,
            LiveEvent::Email(email) => {
                if let Some(a) = area.accounts.iter_mut().find(|a| a.id == email.account_id) {
                    a.used += email.size;
                    a.messages += 1;
                    a.unread += 1;
                }
                let from = format::from_name(&email.from, &email.sender);
                let subject = format::one_line(&email.subject);
                self.status.notice(
                    format!("New mail for {} from {from}: {subject}", email.address),
                    Tone::Good,
                );
            }
            LiveEvent::Refused(e) if e.code() == Some(ErrorCode::InvalidToken) => self.pro_rejected(&e),
            LiveEvent::Refused(_) => area.live = false,
            // Only open inboxes' connections report mail that was there before.
            LiveEvent::Existing(_) => {}
        }
    }

    fn is_embedded(&self) -> bool {
        matches!(self.ctx.server, ServerInfo::Embedded { .. })
    }

    /// The saved Pro session of this server.
    fn saved_session(&self) -> Option<Session> {
        session::load(self.ctx.saved.dir()?, &self.ctx.server.key())
    }

    fn forget_session(&mut self) {
        if let Some(dir) = self.ctx.saved.dir()
            && let Err(e) = session::store(dir, &self.ctx.server.key(), None)
        {
            self.popups.push(Popup::error("Cannot save the Pro sign-in", e));
        }
    }

    /// A Pro JWT arrived: keep it, close the form, open the area.
    fn signed_in_to_pro(&mut self, email: String, token: String) {
        let s = Session { email, token };
        if let Some(dir) = self.ctx.saved.dir()
            && let Err(e) = session::store(dir, &self.ctx.server.key(), Some(s.clone()))
        {
            self.popups.push(Popup::error("Cannot save the Pro sign-in", e));
        }
        self.enter_pro(s);
    }

    /// Opens the area of `s` (in place of the sign-in form) and starts its background work.
    fn enter_pro(&mut self, s: Session) {
        self.leave_pro();
        let client = self.client.with_token(&s.token);
        let mut area = ProArea::new(s.email, s.token);
        area.tasks
            .push(live::spawn(client.clone(), LIVE_KEY.into(), self.tx.clone()));
        area.tasks.push(poll_deliveries(client, self.tx.clone()));
        self.screens.push(Screen::Pro(area));
        self.load_pro_lists();
    }

    /// Closes the Pro screens (and what was opened above them).
    fn leave_pro(&mut self) {
        let pro = |s: &Screen| matches!(s, Screen::Pro(_) | Screen::ProSignIn(_));
        if let Some(at) = self.screens.iter().position(pro) {
            while self.screens.len() > at {
                self.back();
            }
        }
    }

    /// A 401 in the Pro area: the session is gone; back to the sign-in form, saying why.
    fn pro_rejected(&mut self, e: &ClientError) {
        let email = self.screens.iter().find_map(|s| match s {
            Screen::Pro(area) => Some(area.email.clone()),
            _ => None,
        });
        self.forget_session();
        self.leave_pro();
        let reason = format!("Signed out of Pro: {e}. Sign in again.");
        self.screens.push(Screen::ProSignIn(ProSignIn::new(
            email,
            Some(reason),
            self.is_embedded(),
        )));
    }

    /// The value of `result`; on an error, `None` after handling it: a 401 leads to sign-in,
    /// anything else is a popup titled `title`.
    fn pro_ok<T>(&mut self, result: Result<T, ClientError>, title: &str) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) if e.code() == Some(ErrorCode::InvalidToken) => {
                self.pro_rejected(&e);
                None
            }
            Err(e) => {
                self.error_popup(title, &e);
                None
            }
        }
    }

    /// An error for the one-line form: the server's message goes under the field; a 401 or a
    /// failure to reach the server is handled like any other.
    fn pro_input_error(&mut self, e: ClientError, title: &str) {
        let under_field = matches!(
            e,
            ClientError::Api {
                status: 400 | 403 | 409,
                ..
            }
        );
        match self.pro_area_mut().and_then(|a| a.input.as_mut()) {
            Some(input) if under_field => {
                input.busy = false;
                input.field.server_error = Some(e.to_string());
            }
            Some(input) => {
                input.busy = false;
                self.pro_ok(Err::<(), _>(e), title);
            }
            None => {
                self.pro_ok(Err::<(), _>(e), title);
            }
        }
    }

    fn close_pro_input(&mut self) {
        if let Some(area) = self.pro_area_mut() {
            area.input = None;
        }
    }

    /// A mailbox the Pro user owns: its inbox when the app has a sign-in for it, else a question.
    fn open_pro_mailbox(&mut self, address: String) {
        if self.ctx.saved.get(&address).is_some() {
            self.update(Action::OpenInbox(address));
            return;
        }
        self.popups.push(Popup::Confirm {
            title: "No sign-in".into(),
            text: format!(
                "This app has no sign-in for {address}. Sign in with its password? (If nobody \
                 knows it, p resets it and the app keeps the new sign-in.)"
            ),
            yes: "sign in",
            on_yes: Some(Action::OpenSignIn(Some(address))),
        });
    }

    /// Drops a deleted mailbox from the saved list and stops watching it.
    fn forget_mailbox(&mut self, address: &str) {
        if self.ctx.saved.get(address).is_none() {
            return;
        }
        self.leave_mailbox(address);
        self.watchers.stop(address);
        self.ctx.health.remove(address);
        if let Err(e) = self.ctx.saved.remove(address) {
            self.popups.push(Popup::error("Cannot save the list", e));
        }
    }

    /// `^N` on the bundled server: the server crate's admin function adds the Pro user to the
    /// database (off the UI thread: Argon2 and SQLite), then the app signs in.
    fn create_local_user(&mut self, email: String, password: String) {
        let ServerInfo::Embedded { db, .. } = &self.ctx.server else {
            return;
        };
        let db = db.clone();
        let client = self.client.clone();
        self.spawn("Creating the local Pro user", async move {
            let (typed, pw) = (email.clone(), password.clone());
            let added = tokio::task::spawn_blocking(move || mailcx_server::admin::add_user(&db, &typed, &pw))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| format!("{e:#}")));
            let result = match added {
                Ok(stored) => {
                    let login = ProLogin {
                        email: stored,
                        password: password.clone(),
                    };
                    client.pro_login(&login).await.map_err(|e| e.to_string())
                }
                Err(e) => Err(e),
            };
            Reply::Pro(ProReply::LocalUser {
                email: email.trim().to_ascii_lowercase(),
                password,
                result,
            })
        });
    }

    /// Asks this machine's DNS for the verified records, so the box can say what it answers
    /// (the server's verify says only whether each record matched).
    fn ask_dns(&mut self, title: String, records: Vec<mailcx_common::DnsRecord>) {
        self.spawn("Asking DNS", async move {
            let dns = mailcx_server::dns::Dns::new(None);
            let mut answers = Vec::new();
            for record in records {
                let answer = match record.record_type.as_str() {
                    "TXT" => dns.txt_records(&record.host).await.map(|found| found.join(", ")),
                    "MX" => dns.mx_records(&record.host).await.map(|found| {
                        let hosts: Vec<String> =
                            found.iter().map(|(p, host)| format!("{p} {host}")).collect();
                        hosts.join(", ")
                    }),
                    other => Ok(format!("({other} is not looked up)")),
                };
                answers.push(match answer {
                    Ok(found) if found.is_empty() => "nothing (asked from here)".into(),
                    Ok(found) => format!("{found} (asked from here)"),
                    Err(e) => e.to_string(),
                });
            }
            Reply::Pro(ProReply::DnsAnswers { title, answers })
        });
    }

    fn pro_client(&mut self) -> Option<mailcx_common::Client> {
        let token = self.pro_area_mut()?.token.clone();
        Some(self.client.with_token(token))
    }

    fn pro_area_mut(&mut self) -> Option<&mut ProArea> {
        self.screens.iter_mut().find_map(|s| match s {
            Screen::Pro(area) => Some(area),
            _ => None,
        })
    }

    fn pro_signin_mut(&mut self) -> Option<&mut ProSignIn> {
        self.screens.iter_mut().find_map(|s| match s {
            Screen::ProSignIn(form) => Some(form),
            _ => None,
        })
    }

    /// Loads every list of the area.
    fn load_pro_lists(&mut self) {
        self.load_accounts(1);
        self.load_domains_pro();
        self.load_tokens();
        let Some(client) = self.pro_client() else { return };
        self.spawn("Loading the webhook", async move {
            Reply::Pro(ProReply::Webhooks(client.pro_webhooks().await))
        });
    }

    pub(super) fn load_accounts(&mut self, page: u32) {
        let Some(client) = self.pro_client() else { return };
        self.spawn("Loading mailboxes", async move {
            Reply::Pro(ProReply::Accounts(client.pro_accounts(page).await))
        });
    }

    fn load_domains_pro(&mut self) {
        let Some(client) = self.pro_client() else { return };
        self.spawn("Loading domains", async move {
            Reply::Pro(ProReply::Domains(client.pro_domains().await))
        });
    }

    fn load_tokens(&mut self) {
        let Some(client) = self.pro_client() else { return };
        self.spawn("Loading tokens", async move {
            Reply::Pro(ProReply::Tokens(client.pro_tokens().await))
        });
    }
}

/// Mailboxes a page of `GET /pro/api/accounts` holds.
const ACCOUNTS_PAGE: u32 = 100;

/// A row of the box with a label and the value to copy.
fn row(label: &str, value: &str) -> ShowRow {
    ShowRow {
        label: label.into(),
        value: value.into(),
        ok: None,
        answer: None,
    }
}

/// Keeps the webhook and its deliveries fresh while the area is open: asks every
/// [`DELIVERIES_POLL`]. A failure to reach the server is skipped (the next round tries again);
/// a 401 is reported, which signs out.
fn poll_deliveries(
    client: mailcx_common::Client,
    tx: tokio::sync::mpsc::UnboundedSender<Action>,
) -> AbortHandle {
    let send = move |reply| tx.send(Action::Net { task: 0, reply }).is_ok();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(DELIVERIES_POLL).await;
            let hooks = match client.pro_webhooks().await {
                Ok(hooks) => hooks,
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => {
                    send(Reply::Pro(ProReply::Webhooks(Err(e))));
                    return;
                }
                Err(_) => continue,
            };
            let first = hooks.first().map(|h| h.id);
            if !send(Reply::Pro(ProReply::Webhooks(Ok(hooks)))) {
                return;
            }
            let Some(id) = first else { continue };
            if let Ok(list) = client.pro_deliveries(id, 1).await
                && !send(Reply::Pro(ProReply::Deliveries(Ok(list))))
            {
                return;
            }
        }
    })
    .abort_handle()
}
