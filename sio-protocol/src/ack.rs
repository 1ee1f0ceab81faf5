//! Ack ids and their deadlines.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// A Socket.IO acknowledgement id (the number between the namespace and the data, `421[...]`).
pub type AckId = u64;

/// Pending acknowledgements: id allocation plus optional deadlines.
///
/// Ids count up from 0 like the JavaScript `this.ids++` (per socket in socket.io-client, per
/// namespace in the server). Each pending ack holds a caller value `T` (a callback, a oneshot
/// sender...) and an optional deadline. Lookup, insertion and removal are `O(log n)`; removed and
/// expired entries are freed at once, so the tracker holds exactly the pending acks.
///
/// Driving it, with time from the caller:
///
/// ```
/// use std::time::{Duration, Instant};
/// use sio_protocol::AckTracker;
///
/// let now = Instant::now();
/// let mut acks = AckTracker::new();
/// let id = acks.next_id(); // 0: put it in the outgoing packet
/// acks.insert(id, Some(now + Duration::from_secs(5)), "reply to the user");
/// assert_eq!(acks.poll_timeout(), Some(now + Duration::from_secs(5)));
///
/// // Either the ACK packet arrives...
/// assert_eq!(acks.remove(id), Some("reply to the user"));
/// // ...or the timer fires: `expire` hands back what timed out ("operation has timed out").
/// assert!(acks.expire(now + Duration::from_secs(6)).is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct AckTracker<T> {
    next_id: AckId,
    pending: BTreeMap<AckId, Pending<T>>,
    deadlines: BTreeSet<(Instant, AckId)>,
}

#[derive(Debug, Clone)]
struct Pending<T> {
    deadline: Option<Instant>,
    value: T,
}

impl<T> Default for AckTracker<T> {
    fn default() -> Self {
        AckTracker {
            next_id: 0,
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
        }
    }
}

impl<T> AckTracker<T> {
    /// An empty tracker whose first id is 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allocates the next id (0, 1, 2...). Ids are never reused; [`drain`](Self::drain) does not
    /// restart them, as in JavaScript.
    pub fn next_id(&mut self) -> AckId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Registers a pending ack. Returns the value it replaces if `id` was already pending.
    pub fn insert(&mut self, id: AckId, deadline: Option<Instant>, value: T) -> Option<T> {
        let old = self.remove(id);
        if let Some(deadline) = deadline {
            self.deadlines.insert((deadline, id));
        }
        self.pending.insert(id, Pending { deadline, value });
        old
    }

    /// The answer for `id` arrived: returns its value. `None` for an unknown, answered or expired
    /// id (JavaScript ignores such acks: callers should too).
    pub fn remove(&mut self, id: AckId) -> Option<T> {
        let entry = self.pending.remove(&id)?;
        if let Some(deadline) = entry.deadline {
            self.deadlines.remove(&(deadline, id));
        }
        Some(entry.value)
    }

    /// Whether `id` is pending.
    pub fn contains(&self, id: AckId) -> bool {
        self.pending.contains_key(&id)
    }

    /// The earliest deadline, if any ack has one.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// Removes and returns every ack whose deadline is `<= now`, earliest first.
    pub fn expire(&mut self, now: Instant) -> Vec<(AckId, T)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(entry) = self.pending.remove(&id) {
                expired.push((id, entry.value));
            }
        }
        expired
    }

    /// Removes every pending ack (on disconnect), in id order.
    pub fn drain(&mut self) -> impl Iterator<Item = (AckId, T)> + use<T> {
        self.deadlines.clear();
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(id, entry)| (id, entry.value))
    }

    /// Keeps only the pending acks for which `keep` returns `true` (it may also update their
    /// values); the others are dropped with their deadlines. For example, on a disconnection
    /// socket.io-client keeps the acks of packets still in its send buffer and fails the rest.
    pub fn retain(&mut self, mut keep: impl FnMut(AckId, &mut T) -> bool) {
        let deadlines = &mut self.deadlines;
        self.pending.retain(|&id, entry| {
            let kept = keep(id, &mut entry.value);
            if !kept {
                if let Some(deadline) = entry.deadline {
                    deadlines.remove(&(deadline, id));
                }
            }
            kept
        });
    }

    /// Removes and returns the pending acks for which `remove` returns `true` (with their
    /// deadlines), in id order. For example, on a disconnection socket.io-client fails the
    /// acks whose packets already left and keeps those still in its send buffer.
    pub fn remove_if(&mut self, mut remove: impl FnMut(AckId, &T) -> bool) -> Vec<(AckId, T)> {
        let ids: Vec<AckId> = self
            .pending
            .iter()
            .filter(|&(&id, entry)| remove(id, &entry.value))
            .map(|(&id, _)| id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.remove(id).map(|value| (id, value)))
            .collect()
    }

    /// The number of pending acks.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no ack is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod retain_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retain_drops_entries_and_their_deadlines() {
        let now = Instant::now();
        let mut acks = AckTracker::new();
        for i in 0..4u64 {
            let id = acks.next_id();
            acks.insert(id, Some(now + Duration::from_secs(i + 1)), i);
        }
        acks.retain(|id, value| {
            *value += 10;
            id % 2 == 1
        });
        assert_eq!(acks.len(), 2);
        // The deadline of the dropped id 0 is gone with it.
        assert_eq!(acks.poll_timeout(), Some(now + Duration::from_secs(2)));
        let expired = acks.expire(now + Duration::from_secs(10));
        assert_eq!(expired, vec![(1, 11), (3, 13)]);
        assert!(acks.is_empty());
    }
}

#[cfg(test)]
mod remove_if_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn remove_if_hands_back_values_and_drops_their_deadlines() {
        let now = Instant::now();
        let mut acks = AckTracker::new();
        for i in 0..5u64 {
            let id = acks.next_id();
            acks.insert(id, Some(now + Duration::from_secs(i + 1)), i * 10);
        }
        let removed = acks.remove_if(|id, value| id % 2 == 0 && *value != 20);
        assert_eq!(removed, vec![(0, 0), (4, 40)]);
        assert_eq!(acks.len(), 3);
        assert_eq!(acks.poll_timeout(), Some(now + Duration::from_secs(2)));
        assert_eq!(acks.deadlines.len(), 3);
        assert!(acks.remove_if(|_, _| false).is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_count_up_from_zero() {
        let mut acks = AckTracker::<()>::new();
        assert_eq!((acks.next_id(), acks.next_id(), acks.next_id()), (0, 1, 2));
    }

    #[test]
    fn expire_in_deadline_order_and_free() {
        let now = Instant::now();
        let mut acks = AckTracker::new();
        for i in 0..1000u64 {
            let id = acks.next_id();
            let deadline = (i % 3 != 0).then(|| now + Duration::from_millis(1000 - i));
            acks.insert(id, deadline, i);
        }
        assert_eq!(acks.len(), 1000);
        assert_eq!(acks.poll_timeout(), Some(now + Duration::from_millis(2)));
        assert_eq!(acks.remove(998), Some(998));
        assert_eq!(acks.remove(998), None);
        let expired = acks.expire(now + Duration::from_millis(10));
        let ids: Vec<_> = expired.iter().map(|&(id, _)| id).collect();
        assert_eq!(ids, [997, 995, 994, 992, 991]);
        assert!(acks.expire(now + Duration::from_millis(10)).is_empty());
        let all = acks.expire(now + Duration::from_secs(10));
        assert_eq!(all.len(), 1000 / 3 * 2 - 6);
        assert_eq!(acks.poll_timeout(), None);
        assert_eq!(acks.len(), 334);
        let drained: Vec<_> = acks.drain().map(|(id, _)| id).collect();
        assert_eq!(drained.first(), Some(&0));
        assert!(acks.is_empty());
        assert!(acks.deadlines.is_empty());
    }

    #[test]
    fn insert_replaces() {
        let now = Instant::now();
        let mut acks = AckTracker::new();
        assert_eq!(acks.insert(7, Some(now), 'a'), None);
        assert_eq!(acks.insert(7, None, 'b'), Some('a'));
        assert!(acks.expire(now).is_empty());
        assert!(acks.contains(7));
        assert_eq!(acks.deadlines.len(), 0);
    }
}
