//! The app's side of open inboxes (`w`, "watch any address"): the `/v1` config, keeping a
//! watched address in the saved list, its live long polls, and the [`Origin`] every message
//! action reads from, so the inbox and reader serve mailboxes and open inboxes alike.

use super::App;
use crate::action::{Action, Reply};
use crate::live;
use crate::origin::Origin;
use crate::popup::Popup;
use crate::saved::SavedMailbox;
use crate::screens::{Inbox, Screen, WatchForm};
use crate::status::Tone;

impl App {
    /// Whether `address` is a watched open inbox of the saved list.
    pub(super) fn is_open(&self, address: &str) -> bool {
        self.ctx.saved.get(address).is_some_and(|m| m.open)
    }

    /// Where the mail of `address` comes from: its open inbox, or its mailbox (a popup if it is
    /// not in the saved list).
    pub(super) fn origin(&mut self, address: &str) -> Option<Origin> {
        if self.is_open(address) {
            return Some(Origin::Open {
                client: self.client.clone(),
                address: address.to_string(),
            });
        }
        self.mailbox_client(address).map(Origin::Mailbox)
    }

    /// Asks the server for its open domains and their retention, in the background.
    pub(super) fn load_open_config(&mut self) {
        let client = self.client.clone();
        self.spawn("Loading the open domains", async move {
            Reply::OpenConfig(client.v1_config().await)
        });
    }

    /// The config arrived; a server without `/v1` just has no open domains.
    pub(super) fn on_open_config(
        &mut self,
        result: Result<mailcx_common::v1::Config, mailcx_common::ClientError>,
    ) {
        self.ctx.open_config = Some(result.map_err(|e| e.to_string()));
    }

    /// Opens the watch form (`w`).
    pub(super) fn open_watch_form(&mut self) {
        if !matches!(self.ctx.open_config, Some(Ok(_))) {
            self.load_open_config();
        }
        self.screens.push(Screen::Watch(WatchForm::new()));
    }

    /// Keeps `address` in the saved list as an open inbox and opens its inbox at once.
    pub(super) fn watch_address(&mut self, address: String) {
        if let Some(m) = self.ctx.saved.get(&address)
            && !m.open
        {
            self.popups.push(Popup::error(
                "Cannot watch",
                format!(
                    "{address} is a mailbox with a password; its mail is never readable as an open inbox."
                ),
            ));
            return;
        }
        if let Err(e) = self.ctx.saved.upsert(SavedMailbox::open_inbox(&address)) {
            self.popups.push(Popup::error("Cannot save the address", e));
            return;
        }
        if matches!(self.screens.last(), Some(Screen::Watch(_))) {
            self.screens.pop();
        }
        if let Some(Screen::Home(home)) = self.screens.first_mut() {
            home.select(&self.ctx, &address);
        }
        self.open_open_inbox(address.clone());
        self.clipboard.push(address.clone());
        self.status
            .notice(format!("Watching {address}; the address is copied"), Tone::Good);
    }

    /// Opens the inbox of a watched open inbox: its list comes from its live long polls (mail
    /// already there first), so it starts empty rather than loading.
    pub(super) fn open_open_inbox(&mut self, address: String) {
        let mut inbox = Inbox::new(address.clone());
        inbox.apply_page(1, Vec::new());
        self.screens.push(Screen::Inbox(inbox));
        self.watchers.stop(&address);
        self.start_live(address, live::spawn_open, self.client.clone());
    }

    /// `r` in an open inbox: the list again from the server, by a fresh live connection.
    pub(super) fn reload_open_inbox(&mut self, address: &str) {
        self.count_open(address, 0, true);
        let Some(inbox) = self.inbox_mut(address) else {
            return;
        };
        *inbox = Inbox::new(address.to_string());
        inbox.apply_page(1, Vec::new());
        self.start_live(address.to_string(), live::spawn_open, self.client.clone());
    }

    /// What the home screen's `i` shows for an open inbox.
    pub(super) fn inspect_open(&mut self, address: &str) {
        let kept = crate::screens::watch::retention(&self.ctx)
            .map_or(String::new(), |r| format!(" Its mail is kept {r}."));
        self.popups.push(Popup::info(
            "Open inbox",
            format!(
                "{address} is an open inbox: anyone who knows the address reads its mail, through \
                 /v1, with no password.{kept}"
            ),
        ));
    }

    /// The question before forgetting a watched address.
    pub(super) fn ask_forget_open(&mut self, address: String) {
        self.popups.push(Popup::Confirm {
            title: "Forget open inbox".into(),
            text: format!(
                "Stop watching {address} and remove it from this list? Its mail stays on the \
                 server until it expires; anyone may watch the address again."
            ),
            yes: "forget",
            on_yes: Some(Action::Forget(address)),
        });
    }

    /// Mail counted for a watched open inbox (it has no `/api/me`).
    pub(super) fn count_open(&mut self, address: &str, by: usize, reset: bool) {
        let count = self.ctx.open_counts.entry(address.to_string()).or_default();
        *count = if reset { by } else { *count + by };
    }
}
