//! The `retries` queue of a socket (socket.io-client's `_queue`, `_addToQueue`,
//! `_drainQueue`): one packet in flight at a time, each sent with an ack, re-sent until it has
//! been tried more than `retries` times.
//!
//! The queue only decides; the session sends the packets and routes their acks here.

use std::collections::VecDeque;
use std::time::Duration;

use crate::socket::args::Args;
use crate::socket::packet::EventName;

/// One queued emit.
struct Queued<A> {
    seq: u64,
    tries: u32,
    /// Sent, waiting for its ack.
    pending: bool,
    name: EventName,
    args: Args,
    /// The ack timeout of each try.
    timeout: Option<Duration>,
    /// The caller's ack, if the emit asked for one.
    reply: Option<A>,
}

/// A try to send: the packet to emit, with an ack routed back as [`RetryQueue::settle`]`(seq)`.
pub(super) struct Try {
    pub(super) seq: u64,
    pub(super) name: EventName,
    pub(super) args: Args,
    pub(super) timeout: Option<Duration>,
}

/// What [`RetryQueue::settle`] decided.
pub(super) enum Settled<A> {
    /// A late answer to a packet already done: nothing to do.
    Stale,
    /// The try failed and the packet will be tried again.
    Retry,
    /// The packet is done (acknowledged, or failed after more than `retries` tries), with the
    /// caller's ack.
    Done(Option<A>),
}

/// The queue of one socket.
pub(super) struct RetryQueue<A> {
    next_seq: u64,
    items: VecDeque<Queued<A>>,
}

impl<A> Default for RetryQueue<A> {
    fn default() -> Self {
        RetryQueue {
            next_seq: 0,
            items: VecDeque::new(),
        }
    }
}

impl<A> RetryQueue<A> {
    /// Appends an emit (`_addToQueue`).
    pub(super) fn push(
        &mut self,
        name: EventName,
        args: Args,
        timeout: Option<Duration>,
        reply: Option<A>,
    ) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.items.push_back(Queued {
            seq,
            tries: 0,
            pending: false,
            name,
            args,
            timeout,
            reply,
        });
    }

    /// The head's next try (`_drainQueue(force)`), if it is not already waiting for its ack
    /// (or `force`). The caller checks that the socket is connected.
    pub(super) fn next_try(&mut self, force: bool) -> Option<Try> {
        let head = self.items.front_mut()?;
        if head.pending && !force {
            return None;
        }
        head.pending = true;
        head.tries = head.tries.saturating_add(1);
        Some(Try {
            seq: head.seq,
            name: head.name.clone(),
            args: head.args.clone(),
            timeout: head.timeout,
        })
    }

    /// The ack of try `seq` arrived (`ok`), or the try failed (timed out, disconnected).
    pub(super) fn settle(&mut self, seq: u64, ok: bool, retries: u32) -> Settled<A> {
        let Some(head) = self.items.front_mut() else {
            return Settled::Stale;
        };
        if head.seq != seq {
            // Already done (a late answer to an earlier try).
            return Settled::Stale;
        }
        head.pending = false;
        if !ok && head.tries <= retries {
            return Settled::Retry;
        }
        let done = self.items.pop_front().and_then(|q| q.reply);
        if self.items.is_empty() {
            self.items = VecDeque::new();
        }
        Settled::Done(done)
    }

    /// The number of queued emits.
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_of(n: usize) -> RetryQueue<usize> {
        let mut q = RetryQueue::default();
        for i in 0..n {
            q.push(
                EventName::from(format!("e{i}")),
                Args::empty(),
                None,
                Some(i),
            );
        }
        q
    }

    #[test]
    fn one_in_flight_and_retried_more_than_n_times() {
        let mut q = queue_of(2);
        let first = q.next_try(false).expect("the head");
        assert_eq!(first.name.as_str(), "e0");
        // In flight: nothing more until its ack.
        assert!(q.next_try(false).is_none());
        // retries = 2: tries 1 and 2 fail and are retried, try 3 fails for good.
        assert!(matches!(q.settle(first.seq, false, 2), Settled::Retry));
        let second = q.next_try(false).unwrap();
        assert_eq!(second.seq, first.seq);
        assert!(matches!(q.settle(second.seq, false, 2), Settled::Retry));
        let third = q.next_try(false).unwrap();
        assert!(matches!(
            q.settle(third.seq, false, 2),
            Settled::Done(Some(0))
        ));
        // The next packet.
        let next = q.next_try(false).unwrap();
        assert_eq!(next.name.as_str(), "e1");
        // A late answer to an earlier packet is ignored.
        assert!(matches!(q.settle(first.seq, true, 2), Settled::Stale));
        assert!(matches!(
            q.settle(next.seq, true, 2),
            Settled::Done(Some(1))
        ));
        assert_eq!(q.len(), 0);
        assert!(q.next_try(true).is_none());
    }

    #[test]
    fn force_resends_the_pending_head() {
        let mut q = queue_of(1);
        let a = q.next_try(false).unwrap();
        let b = q.next_try(true).unwrap();
        assert_eq!(a.seq, b.seq);
        // retries = 0: the first failure after two tries is final.
        assert!(matches!(q.settle(b.seq, false, 0), Settled::Done(Some(0))));
    }
}
