//! Watching the saved mailboxes whose inbox is not open: one live connection each, so their
//! unread counts on the home screen stay true and new mail anywhere gets a notice (and, if the
//! person asked for it, a bell or a desktop notification). Watched open inboxes are followed the
//! same way, by long polls, for their count of mail.

use std::collections::HashMap;

use mailcx_common::Client;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use crate::action::Action;
use crate::live;

/// How the terminal is told about new mail for a mailbox that is not on screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Notify {
    /// A notice in the status bar only (the default).
    #[default]
    Off,
    /// The notice and the terminal bell.
    Bell,
    /// The notice and a desktop notification (OSC 9, shown by iTerm2, kitty, WezTerm, foot...).
    #[serde(alias = "osc9")]
    Desktop,
}

impl Notify {
    /// The bytes that ask the terminal to notify about `text`; empty when off.
    pub fn sequence(self, text: &str) -> String {
        match self {
            Notify::Off => String::new(),
            Notify::Bell => "\x07".into(),
            Notify::Desktop => {
                // Control characters would end the sequence early (or start another one).
                format!("\x1b]9;{}\x07", crate::format::one_line(text))
            }
        }
    }
}

/// Where bell and notification sequences are written (the terminal; tests record them).
pub type AlertSink = Box<dyn FnMut(&str) + Send>;

/// The live connections of watched mailboxes, by address.
#[derive(Debug, Default)]
pub struct Watchers {
    tasks: HashMap<String, AbortHandle>,
    /// Those whose connection is up: their mail is noticed as it arrives.
    connected: std::collections::HashSet<String>,
}

impl Watchers {
    /// Starts watching `address` by `spawn` ([`live::spawn`] with its token in `client`, or
    /// [`live::spawn_open`] for an open inbox), unless it is watched already.
    pub fn start(&mut self, address: &str, spawn: live::Spawn, client: Client, tx: &UnboundedSender<Action>) {
        if !self.tasks.contains_key(address) {
            let task = spawn(client, address.to_string(), tx.clone());
            self.tasks.insert(address.to_string(), task);
        }
    }

    /// Stops watching `address` (its inbox opened, or it left the list).
    pub fn stop(&mut self, address: &str) {
        self.connected.remove(address);
        if let Some(task) = self.tasks.remove(address) {
            task.abort();
        }
    }

    /// Notes whether the connection of the watched `address` is up.
    pub fn set_connected(&mut self, address: &str, up: bool) {
        if up && self.is_watching(address) {
            self.connected.insert(address.to_string());
        } else {
            self.connected.remove(address);
        }
    }

    /// Whether the connection of the watched `address` is up.
    pub fn is_connected(&self, address: &str) -> bool {
        self.connected.contains(address)
    }

    /// Whether `address` is watched.
    pub fn is_watching(&self, address: &str) -> bool {
        self.tasks.contains_key(address)
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        // Each task holds a socket; none may outlive the app.
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_for_each_setting() {
        assert_eq!(Notify::Off.sequence("x"), "");
        assert_eq!(Notify::Bell.sequence("x"), "\x07");
        assert_eq!(
            Notify::Desktop.sequence("New mail\x07\x1b]0;evil"),
            "\x1b]9;New mail  ]0;evil\x07"
        );
    }
}
