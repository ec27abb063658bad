//! In-process fan-out of what happened to mailboxes, for WebSocket pushes: one channel per
//! mailbox that someone listens to, so a burst of mail to one mailbox wakes and lags only its own
//! listeners.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mailcx_common::NewEmail;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Events kept for a slow listener of one mailbox before it starts missing some.
const CAPACITY: usize = 256;
/// The capacity for listeners that are only woken by an arrival and then read the store (`/v1`
/// long polls and event streams): one event is enough, and lagging behind loses nothing.
pub const WAKE_CAPACITY: usize = 1;

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

type Channels = HashMap<Uuid, broadcast::Sender<Arc<Event>>>;

/// The channels of the mailboxes someone listens to; cheap to clone.
#[derive(Clone, Default)]
pub struct Events {
    channels: Arc<Mutex<Channels>>,
}

impl Events {
    /// Announces an event to its mailbox's listeners; nobody listening is fine.
    pub fn publish(&self, event: Event) {
        self.publish_with_owner(event, None);
    }

    /// Announces an event to its mailbox's listeners and, for a Pro user's mailbox, to the
    /// owner's too (keyed by the owner's id): a Pro socket hears all the user's mailboxes.
    pub fn publish_with_owner(&self, event: Event, owner: Option<Uuid>) {
        let channels = self.channels.lock().expect("events lock");
        let keys = std::iter::once(event.account_id()).chain(owner);
        let mut senders = keys.filter_map(|key| channels.get(&key)).peekable();
        if senders.peek().is_none() {
            return;
        }
        let event = Arc::new(event);
        for sender in senders {
            let _ = sender.send(event.clone());
        }
    }

    /// A receiver of every event of `account_id` (a mailbox's id, or a Pro user's id for the
    /// events of all their mailboxes) from now on.
    pub fn subscribe(&self, account_id: Uuid) -> Listener {
        self.subscribe_with_capacity(account_id, CAPACITY)
    }

    /// Like `subscribe`, but a channel this makes keeps only `capacity` events: a listener that
    /// only needs to know that something happened (and reads the rest from the store) keeps
    /// thousands of idle channels small.
    pub fn subscribe_with_capacity(&self, account_id: Uuid, capacity: usize) -> Listener {
        let mut channels = self.channels.lock().expect("events lock");
        let sender = channels
            .entry(account_id)
            .or_insert_with(|| broadcast::channel(capacity.max(1)).0);
        Listener {
            receiver: sender.subscribe(),
            channels: self.channels.clone(),
            account_id,
        }
    }

    /// How many mailboxes have listeners.
    pub fn mailboxes_listened_to(&self) -> usize {
        self.channels.lock().expect("events lock").len()
    }
}

/// A mailbox's events, as they happen; its channel goes once its last listener is dropped.
pub struct Listener {
    pub receiver: broadcast::Receiver<Arc<Event>>,
    channels: Arc<Mutex<Channels>>,
    account_id: Uuid,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut channels = self.channels.lock().expect("events lock");
        // This listener's receiver still counts until after this runs.
        if channels
            .get(&self.account_id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            channels.remove(&self.account_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_only_their_mailbox_and_channels_go_with_their_listeners() {
        let events = Events::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut on_a = events.subscribe(a);
        let on_a_too = events.subscribe(a);
        let mut on_b = events.subscribe(b);
        for _ in 0..CAPACITY * 2 {
            events.publish(Event::AccountDeleted(a));
        }
        events.publish(Event::AccountDeleted(b));
        assert!(matches!(
            on_a.receiver.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
        assert_eq!(
            on_b.receiver.try_recv().unwrap().account_id(),
            b,
            "b is not lagged by a's burst"
        );
        assert_eq!(events.mailboxes_listened_to(), 2);
        drop(on_a);
        assert_eq!(events.mailboxes_listened_to(), 2);
        drop(on_a_too);
        drop(on_b);
        assert_eq!(events.mailboxes_listened_to(), 0);
    }

    #[test]
    fn an_owned_mailboxs_events_reach_its_owner_too() {
        let events = Events::default();
        let (mailbox, owner, stranger) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut on_mailbox = events.subscribe(mailbox);
        let mut on_owner = events.subscribe(owner);
        let mut on_stranger = events.subscribe(stranger);
        events.publish_with_owner(Event::AccountDeleted(mailbox), Some(owner));
        assert_eq!(on_mailbox.receiver.try_recv().unwrap().account_id(), mailbox);
        assert_eq!(on_owner.receiver.try_recv().unwrap().account_id(), mailbox);
        assert!(on_stranger.receiver.try_recv().is_err());
        events.publish(Event::AccountDeleted(mailbox));
        assert!(on_owner.receiver.try_recv().is_err(), "no owner named, none told");
    }
}
