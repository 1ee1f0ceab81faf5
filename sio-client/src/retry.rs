//! The `retries` queue of a socket (socket.io-client's `_queue`, `_addToQueue`,
//! `_drainQueue`): one packet in flight at a time, each sent with an ack, re-sent until it has
//! been tried more than `retries` times.
//!
//! The queue only decides; the manager's task sends the packets and routes their acks here.

use std::collections::VecDeque;
use std::time::Duration;

use sio_protocol::socket::Args;

use crate::driver::AckReply;
use crate::error::Error;

/// One queued emit.
struct Queued {
    seq: u64,
    tries: u32,
    /// Sent, waiting for its ack.
    pending: bool,
    event: String,
    args: Args,
    /// The ack timeout of each try (`timeout()` or `ack_timeout`).
    timeout: Option<Duration>,
    /// The user's ack, if the emit asked for one.
    reply: Option<AckReply>,
}

/// A try to send: the packet to emit, with an ack routed back as [`RetryQueue::settle`]`(seq)`.
pub(crate) struct Try {
    pub(crate) seq: u64,
    pub(crate) event: String,
    pub(crate) args: Args,
    pub(crate) timeout: Option<Duration>,
}

/// The queue of one socket.
#[derive(Default)]
pub(crate) struct RetryQueue {
    next_seq: u64,
    items: VecDeque<Queued>,
}

impl RetryQueue {
    /// Appends an emit (`_addToQueue`).
    pub(crate) fn push(
        &mut self,
        event: String,
        args: Args,
        timeout: Option<Duration>,
        reply: Option<AckReply>,
    ) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.items.push_back(Queued {
            seq,
            tries: 0,
            pending: false,
            event,
            args,
            timeout,
            reply,
        });
    }

    /// The head's next try (`_drainQueue(force)`), if it is not already waiting for its ack
    /// (or `force`). The caller checks that the socket is connected.
    pub(crate) fn next_try(&mut self, force: bool) -> Option<Try> {
        let head = self.items.front_mut()?;
        if head.pending && !force {
            return None;
        }
        head.pending = true;
        head.tries = head.tries.saturating_add(1);
        Some(Try {
            seq: head.seq,
            event: head.event.clone(),
            args: head.args.clone(),
            timeout: head.timeout,
        })
    }

    /// The ack of try `seq` arrived, or failed (timed out, disconnected). Returns the user's
    /// ack and its result when the emit is over: acknowledged, or failed after more than
    /// `retries` tries. The caller then drains the queue again.
    pub(crate) fn settle(
        &mut self,
        seq: u64,
        result: Result<Args, Error>,
        retries: u32,
    ) -> Option<(Option<AckReply>, Result<Args, Error>)> {
        let head = self.items.front_mut()?;
        if head.seq != seq {
            // Already acknowledged (a late answer to an earlier try).
            return None;
        }
        head.pending = false;
        if result.is_err() && head.tries <= retries {
            return None;
        }
        let done = self.items.pop_front()?;
        Some((done.reply, result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_of(n: usize) -> RetryQueue {
        let mut q = RetryQueue::default();
        for i in 0..n {
            q.push(format!("e{i}"), Args::empty(), None, None);
        }
        q
    }

    #[test]
    fn one_in_flight_and_retried_more_than_n_times() {
        let mut q = queue_of(2);
        let first = q.next_try(false).expect("the head");
        assert_eq!(first.event, "e0");
        // In flight: nothing more until its ack.
        assert!(q.next_try(false).is_none());
        // retries = 2: tries 1 and 2 fail and are retried, try 3 fails for good.
        assert!(q.settle(first.seq, Err(Error::timeout()), 2).is_none());
        let second = q.next_try(false).unwrap();
        assert_eq!(second.seq, first.seq);
        assert!(q.settle(second.seq, Err(Error::timeout()), 2).is_none());
        let third = q.next_try(false).unwrap();
        let (_, result) = q.settle(third.seq, Err(Error::timeout()), 2).unwrap();
        assert!(result.unwrap_err().is_timeout());
        // The next packet.
        let next = q.next_try(false).unwrap();
        assert_eq!(next.event, "e1");
        // A late answer to an earlier packet is ignored.
        assert!(q.settle(first.seq, Ok(Args::empty()), 2).is_none());
        let (_, ok) = q.settle(next.seq, Ok(Args::empty()), 2).unwrap();
        assert!(ok.is_ok());
        assert!(q.items.is_empty() && q.next_try(true).is_none());
    }

    #[test]
    fn force_resends_the_pending_head() {
        let mut q = queue_of(1);
        let a = q.next_try(false).unwrap();
        let b = q.next_try(true).unwrap();
        assert_eq!(a.seq, b.seq);
        // retries = 0: the first failure after two tries is final.
        assert!(q.settle(b.seq, Err(Error::disconnected()), 0).is_some());
    }
}
