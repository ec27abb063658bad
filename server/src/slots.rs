//! Counting what is open per key against a cap: WebSockets per mailbox, SMTP connections per
//! client.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Open things per key, at most `max` each.
pub struct Slots<K> {
    max: usize,
    open: Mutex<HashMap<K, usize>>,
}

impl<K: Eq + Hash + Clone> Slots<K> {
    /// At most `max` open per key.
    pub fn new(max: usize) -> Arc<Slots<K>> {
        Arc::new(Slots {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one more for `key`, unless it already has `max` open.
    pub fn admit(self: &Arc<Self>, key: K) -> Option<Slot<K>> {
        let mut open = self.open.lock().expect("slot count lock");
        let count = open.entry(key.clone()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }
}

/// One counted slot; given back on drop.
pub struct Slot<K: Eq + Hash> {
    slots: Arc<Slots<K>>,
    key: K,
}

impl<K: Eq + Hash> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("slot count lock");
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_holds_at_most_max_and_gets_slots_back() {
        let slots = Slots::new(2);
        let a = slots.admit("a").unwrap();
        let _b = slots.admit("a").unwrap();
        assert!(slots.admit("a").is_none());
        assert!(slots.admit("other").is_some());
        drop(a);
        assert!(slots.admit("a").is_some());
    }
}
