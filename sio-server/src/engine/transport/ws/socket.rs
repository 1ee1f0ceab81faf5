//! A WebSocket owned and polled by its session's task: no task, channel or buffer of its own.
//!
//! Reading borrows a stack buffer for the duration of one `poll_read` and hands the bytes to
//! the sans-IO [`FrameDecoder`], which keeps only the remainder of an incomplete frame; frames
//! to send wait in a queue of (header, payload) pairs written with vectored writes, so the
//! payload of a broadcast is shared, never copied, per recipient. An idle WebSocket holds its
//! socket and a few words of state.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use sio_protocol::engine::{Frame, Packet, ProtocolVersion};
use sio_protocol::websocket::{
    FrameDecoder, FrameDecoderConfig, FrameHeader, Opcode, WsMessage, close_payload,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::stream::WsIo;
use crate::engine::transport::Input;
use crate::engine::transport::deflate::{Negotiated, PerMessageDeflate};

/// How long a closed WebSocket may take to send its last frames before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The most bytes read from the socket at once (the stack buffer of one read).
const MAX_READ_CHUNK: usize = 16 * 1024;

/// How many reads one poll may do before it yields to the other tasks.
const READS_PER_POLL: usize = 16;

/// Limits of one WebSocket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WsSettings {
    /// The largest message (`maxHttpBufferSize`).
    pub(crate) max_message_size: usize,
    /// The most bytes read at once.
    pub(crate) read_chunk: usize,
    /// The most frames waiting to be written.
    pub(crate) bound: usize,
    /// The most bytes waiting to be written.
    pub(crate) max_bytes: usize,
    /// permessage-deflate, when negotiated, and the compression threshold.
    pub(crate) deflate: Option<(Negotiated, usize)>,
}

#[derive(Debug)]
struct OutFrame {
    header: FrameHeader,
    payload: Bytes,
}

/// The write queue is full or the socket failed.
#[derive(Debug)]
pub(crate) struct QueueFull;

/// One WebSocket of a session.
#[derive(Debug)]
pub(crate) struct WsSocket {
    io: WsIo,
    decoder: FrameDecoder,
    version: ProtocolVersion,
    /// Inputs decoded and not yet taken by the session (one read may complete several).
    inputs: VecDeque<Input>,
    out: VecDeque<OutFrame>,
    /// Bytes of the front frame of `out` already written.
    written: usize,
    needs_flush: bool,
    read_chunk: usize,
    bound: usize,
    max_bytes: usize,
    /// Bytes of the frames in `out`.
    out_bytes: usize,
    max_message_size: usize,
    /// Nothing more is read: the peer closed, or sent something wrong.
    read_done: bool,
    /// A close frame is queued.
    close_sent: bool,
    /// The close code a protocol error calls for.
    error_code: Option<u16>,
    /// permessage-deflate, when negotiated (boxed: rare, and it holds an inflater under
    /// client context takeover).
    deflate: Option<Box<PerMessageDeflate>>,
}

impl WsSocket {
    /// A WebSocket on `io`; `early` are bytes the client sent right after its handshake.
    pub(crate) fn new(
        io: WsIo,
        early: &[u8],
        version: ProtocolVersion,
        settings: WsSettings,
    ) -> WsSocket {
        let config = FrameDecoderConfig::default()
            .max_message_size(settings.max_message_size)
            .allow_compressed(settings.deflate.is_some());
        let mut socket = WsSocket {
            io,
            decoder: FrameDecoder::new(config),
            version,
            inputs: VecDeque::new(),
            out: VecDeque::new(),
            written: 0,
            needs_flush: false,
            read_chunk: settings.read_chunk.clamp(1, MAX_READ_CHUNK),
            bound: settings.bound.max(1),
            max_bytes: settings.max_bytes,
            out_bytes: 0,
            max_message_size: settings.max_message_size,
            read_done: false,
            close_sent: false,
            error_code: None,
            deflate: settings.deflate.map(|(negotiated, threshold)| {
                Box::new(PerMessageDeflate::new(negotiated, threshold))
            }),
        };
        if !early.is_empty() {
            socket.received(early);
        }
        socket
    }

    /// Queues a frame.
    pub(crate) fn send(&mut self, frame: Frame) -> Result<(), QueueFull> {
        // The new frame counts at its uncompressed size, the queued ones at what they hold.
        let len = match &frame {
            Frame::Text(text) => text.len(),
            Frame::Binary(data) => data.len(),
        };
        if self.out.len() >= self.bound
            || self.out_bytes.saturating_add(len) > self.max_bytes
            || self.close_sent
        {
            return Err(QueueFull);
        }
        let (opcode, payload) = match frame {
            Frame::Text(text) => (Opcode::Text, text.into_bytes()),
            Frame::Binary(data) => (Opcode::Binary, data),
        };
        let compressed = self.deflate.as_mut().and_then(|d| d.deflate(&payload));
        match compressed {
            Some(compressed) => self.push_frame(opcode, true, Bytes::from(compressed)),
            None => self.push(opcode, payload),
        }
        Ok(())
    }

    fn push(&mut self, opcode: Opcode, payload: Bytes) {
        self.push_frame(opcode, false, payload);
    }

    fn push_frame(&mut self, opcode: Opcode, rsv1: bool, payload: Bytes) {
        self.out_bytes += payload.len();
        self.out.push_back(OutFrame {
            header: FrameHeader::new(opcode, rsv1, payload.len()),
            payload,
        });
        self.needs_flush = true;
    }

    /// Writes what is queued: ready with [`Input::Error`] (once) if the socket failed.
    ///
    /// The session's task calls it when nothing else is ready, so that the frames of a burst
    /// go out in one system call, and before reading when many frames wait.
    pub(crate) fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<Input> {
        if let Poll::Ready(Err(())) = self.poll_write(cx) {
            self.out.clear();
            self.out_bytes = 0;
            if !self.read_done {
                self.read_done = true;
                self.inputs.clear();
                return Poll::Ready(Input::Error);
            }
        }
        Poll::Pending
    }

    /// Frames waiting to be written.
    pub(crate) fn queued(&self) -> usize {
        self.out.len()
    }

    /// Reads: ready with the next input for the session.
    pub(crate) fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<Input> {
        for _ in 0..READS_PER_POLL {
            if let Some(input) = self.inputs.pop_front() {
                if self.inputs.is_empty() {
                    self.inputs = VecDeque::new();
                }
                return Poll::Ready(input);
            }
            if self.read_done {
                return Poll::Pending;
            }
            let mut chunk = [MaybeUninit::<u8>::uninit(); MAX_READ_CHUNK];
            let mut buf = ReadBuf::uninit(&mut chunk[..self.read_chunk]);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => {
                    tracing::debug!(%error, "websocket read error");
                    self.read_done = true;
                    return Poll::Ready(Input::Error);
                }
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    self.read_done = true;
                    return Poll::Ready(Input::Closed);
                }
                Poll::Ready(Ok(())) => self.received(buf.filled()),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Decodes bytes read from the client into inputs.
    fn received(&mut self, data: &[u8]) {
        let mut messages = Vec::new();
        let result = self.decoder.decode(data, &mut messages);
        for message in messages {
            let frame = match message {
                WsMessage::Text(text) => Frame::Text(text),
                WsMessage::Binary(data) => Frame::Binary(data),
                WsMessage::Compressed { text, data } => match self.inflate(text, &data) {
                    Ok(frame) => frame,
                    Err((code, input)) => {
                        self.fail(code, input);
                        return;
                    }
                },
                WsMessage::Ping(payload) => {
                    if !self.close_sent {
                        self.push(Opcode::Pong, payload);
                    }
                    continue;
                }
                WsMessage::Pong(_) => continue,
                WsMessage::Close(code) => {
                    // Answer with the same code, as `ws` does.
                    self.queue_close(code);
                    self.read_done = true;
                    self.inputs.push_back(Input::Closed);
                    return;
                }
            };
            match Packet::from_frame(frame, self.version) {
                Ok(packet) => self.inputs.push_back(Input::Packet(packet)),
                Err(_) => {
                    self.read_done = true;
                    self.inputs.push_back(Input::ParseError);
                    return;
                }
            }
        }
        if let Err(error) = result {
            tracing::debug!(%error, "websocket closed");
            let input = if error.is_too_large() {
                Input::TooBig
            } else {
                Input::Error
            };
            self.fail(error.close_code().unwrap_or(1002), input);
        }
    }

    /// A compressed message, inflated (the decoder lets RSV1 through only when the extension
    /// was negotiated).
    fn inflate(&mut self, text: bool, data: &[u8]) -> Result<Frame, (u16, Input)> {
        let Some(deflate) = &mut self.deflate else {
            return Err((1002, Input::Error));
        };
        let inflated = deflate
            .inflate(data, self.max_message_size)
            .map_err(|error| {
                tracing::debug!(%error, "websocket closed");
                let input = if error.is_too_large() {
                    Input::TooBig
                } else {
                    Input::Error
                };
                (error.close_code().unwrap_or(1007), input)
            })?;
        let data = Bytes::from(inflated);
        if !text {
            return Ok(Frame::Binary(data));
        }
        sio_protocol::Str::from_utf8(data)
            .map(Frame::Text)
            .map_err(|_| (1007, Input::Error))
    }

    fn fail(&mut self, code: u16, input: Input) {
        self.error_code = Some(code);
        self.read_done = true;
        self.inputs.push_back(input);
    }

    fn queue_close(&mut self, code: Option<u16>) {
        if !self.close_sent {
            self.close_sent = true;
            self.push(Opcode::Close, code.map(close_payload).unwrap_or_default());
        }
    }

    /// Writes the queued frames; ready once all are written and flushed.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); 32];
            let mut count = 0;
            let mut skip = self.written;
            'frames: for frame in &self.out {
                for part in [frame.header.as_bytes(), &frame.payload[..]] {
                    if skip >= part.len() {
                        skip -= part.len();
                        continue;
                    }
                    if count == slices.len() {
                        break 'frames;
                    }
                    slices[count] = IoSlice::new(&part[skip..]);
                    skip = 0;
                    count += 1;
                }
            }
            match Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(Err(())),
                Poll::Ready(Ok(n)) => self.advance(n),
            }
        }
        if self.out.capacity() > 0 {
            // Nothing waits: an idle socket holds no queue.
            self.out = VecDeque::new();
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(_)) => return Poll::Ready(Err(())),
            }
        }
        Poll::Ready(Ok(()))
    }

    fn advance(&mut self, mut n: usize) {
        while let Some(frame) = self.out.front() {
            let len = frame.header.as_bytes().len() + frame.payload.len();
            let left = len - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.written = 0;
            if let Some(frame) = self.out.pop_front() {
                self.out_bytes -= frame.payload.len();
            }
        }
    }

    /// Closes the socket after the queued frames, with `code` (or the code a protocol error
    /// called for), in a short-lived task that gives up after a grace period.
    pub(crate) fn close(mut self, code: Option<u16>) {
        let code = code.or(self.error_code);
        self.queue_close(code);
        // Outside a runtime (a session dropped with its runtime) the socket is just dropped.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let _ = tokio::time::timeout(CLOSE_GRACE, async move {
                if poll_fn(|cx| self.poll_write(cx)).await.is_err() {
                    return;
                }
                let _ = poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await;
                // Drain what the client still sends (its close frame) until it closes, so the
                // socket is not reset under unread data.
                let mut chunk = [0u8; 1024];
                while !self.read_done {
                    let read = poll_fn(|cx| {
                        let mut buf = ReadBuf::new(&mut chunk);
                        Pin::new(&mut self.io)
                            .poll_read(cx, &mut buf)
                            .map_ok(|()| buf.filled().len())
                    })
                    .await;
                    if !matches!(read, Ok(n) if n > 0) {
                        return;
                    }
                }
            })
            .await;
        });
    }
}
