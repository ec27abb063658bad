//! In-process fan-out of what happened to mailboxes, for WebSocket pushes.

use std::sync::Arc;

use mailcx_common::NewEmail;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Events kept for a slow subscriber before it starts missing some.
const CAPACITY: usize = 4096;

/// Something that happened to a mailbox.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message was committed for the mailbox.
    NewEmail(NewEmail),
    /// The mailbox was deleted.
    AccountDeleted(Uuid),
}

impl Event {
    /// The mailbox the event concerns.
    pub fn account_id(&self) -> Uuid {
        match self {
            Event::NewEmail(email) => email.account_id,
            Event::AccountDeleted(id) => *id,
        }
    }
}

/// The broadcast channel every subscriber listens on; cheap to clone.
#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Events {
    /// Announces an event; nobody listening is fine.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(Arc::new(event));
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}
