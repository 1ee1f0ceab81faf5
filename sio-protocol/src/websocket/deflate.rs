//! permessage-deflate (RFC 7692) for a server's WebSocket, sans-IO: the negotiation of the
//! `Sec-WebSocket-Extensions` header and the compression of whole messages. The server reads
//! the header and drives the frames ([`FrameDecoder`](super::FrameDecoder) hands out the
//! compressed messages); this module sees no frames and no sockets.
//!
//! The behaviour to match is Node's `ws` 8 (`lib/permessage-deflate.js`, `lib/extension.js`)
//! as `engine.io` 6.6 configures it when `perMessageDeflate` is on (`{ threshold: 1024 }`),
//! with two choices of ours: the server always answers `server_no_context_takeover` (what `ws`
//! does with its option `serverNoContextTakeover: true`; under it `ws` applies the threshold
//! exactly as we do), and a message that would not get shorter is sent uncompressed (`ws`
//! compresses it anyway). See [`negotiate`] for the rules and the one place where the
//! negotiation differs.
//!
//! # Memory
//!
//! A connection holds no zlib state while it is idle, except where the protocol forces it:
//!
//! - *Server to client.* Every message is compressed by a fresh stream, so the compressor
//!   keeps nothing between messages; RFC 7692 §7.1.1.1 lets a server announce
//!   `server_no_context_takeover` even when the client did not ask for it, and we always do,
//!   so that the response says what we do. The compressor itself (about 230 KB in
//!   miniz_oxide) is not allocated per message either: one per thread is reused, reset
//!   (zeroed) in between (measured on a 2 KB JSON message, release build: 32 µs with the
//!   reused one, 138 µs with a new one each time).
//! - *Client to server.* With `client_no_context_takeover` (offered by the client, or imposed
//!   by [`DeflateConfig::client_no_context_takeover`]) each message is inflated by the
//!   per-thread inflater, reset (zeroed) after use. Without it the client may refer back to
//!   its earlier messages, so the connection keeps its own inflater (~43 KB: a 32 KiB window
//!   plus tables), allocated at the first compressed message and kept until the stream ends
//!   (a final block) or fails. Chromium and `ws` clients do not offer
//!   `client_no_context_takeover`.
//!
//! # Window sizes
//!
//! miniz_oxide always compresses with a 32 KiB (15-bit) window, so an offer with
//! `server_max_window_bits` below 15 cannot be honoured and is skipped. Inflating with a
//! 15-bit window reads any smaller window, so `client_max_window_bits` is always fine.
//!
//! # Where we differ from `ws` on bad input
//!
//! zlib (under `ws`) and miniz_oxide (here) disagree on two kinds of invalid streams, found by
//! the differential test: a back-reference reaching before the start of the stream is an error
//! for zlib ("invalid distance too far back", close 1007) and reads zeros here (the windows are
//! zeroed on reset, so nothing leaks from one message or connection to another); an empty
//! code-length code in a dynamic block header makes zlib wait for more input (the message
//! comes out empty) and is an error here (close 1007). A correct client never sends either.
//!
//!
//! `tests/tests/ws_deflate_node.rs` tests it against `ws`, and the fuzz targets
//! `fuzz/fuzz_targets/ws_{inflate,extensions}.rs` fuzz it.

use std::cell::Cell;

use crate::error::Error;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The extension's name in `Sec-WebSocket-Extensions`.
const EXTENSION_NAME: &str = "permessage-deflate";

/// The end of a sync flush (an empty stored block's `LEN`/`NLEN`), removed from the end of
/// every compressed message by the sender and appended by the receiver (RFC 7692 §7.2.1).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The first output buffer of an inflate, before it grows (never past the size limit).
const MIN_INFLATE_CHUNK: usize = 1024;

/// The server's permessage-deflate settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Messages shorter than this many bytes are sent uncompressed. Default 1024, the
    /// `threshold` of `engine.io`'s `perMessageDeflate` defaults.
    pub threshold: usize,
    /// Answer `client_no_context_takeover` even when the client did not offer it (allowed by
    /// RFC 7692 §7.1.1.2, `ws`'s option `clientNoContextTakeover: true`): the client then
    /// compresses every message on its own and the connection never keeps an inflater, at
    /// some cost in compression ratio. Default `false`, as in `ws`.
    pub client_no_context_takeover: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            threshold: 1024,
            client_no_context_takeover: false,
        }
    }
}

/// What was agreed in the handshake, as far as our side needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The client starts a new stream for each message, so no inflater is kept between
    /// messages.
    pub client_no_context_takeover: bool,
}

/// An error of kind [`WebSocketExtensions`](crate::ErrorKind::WebSocketExtensions): the
/// request's `Sec-WebSocket-Extensions` cannot be parsed, or one of its `permessage-deflate`
/// offers holds an unknown, duplicated or invalid parameter.
fn invalid(reason: impl Into<String>) -> Error {
    Error::extensions(reason.into())
}

pub use crate::reason::deflate::InflateReason;

// ---------------------------------------------------------------------------------------------
// Negotiation
// ---------------------------------------------------------------------------------------------

/// Reads a request's `Sec-WebSocket-Extensions` (the bytes of each of its lines, joined with
/// `", "` as Node does; a byte that is not visible ASCII, a space or a tab refuses the
/// header) and picks the `permessage-deflate` offer to accept.
///
/// - `Ok(None)`: no header, no `permessage-deflate` offer, or no offer we can honour: the
///   connection goes on without compression (no response header).
/// - `Ok(Some((negotiated, value)))`: answer `Sec-WebSocket-Extensions: value` (visible ASCII
///   only).
/// - `Err`: what `ws` refuses with `400 Bad Request` and the body `Invalid or unacceptable
///   Sec-WebSocket-Extensions header`, an [`Error`] of kind
///   [`WebSocketExtensions`](crate::ErrorKind::WebSocketExtensions). A caller that prefers to
///   be lenient can treat it as `Ok(None)`.
///
/// The rules are `ws`'s (`extension.parse`, `normalizeParams`, `acceptAsServer` with the
/// options `{ serverNoContextTakeover: true }`):
///
/// - the header must parse (tokens, `;`, `,`, `=`, quoted values whose unescaped form is a
///   token); other extensions are ignored, but a syntax error anywhere refuses the header;
/// - every `permessage-deflate` offer, not just the chosen one, may hold only the four
///   parameters of RFC 7692, each at most once: `server_no_context_takeover` and
///   `client_no_context_takeover` without a value, `server_max_window_bits=N` and
///   `client_max_window_bits[=N]` with `N` an integer from 8 to 15 (read as JavaScript's
///   `Number()` reads it, so `"0x0f"` and `1e1` are numbers);
/// - the first offer is accepted, and the answer is that offer's parameters in their order,
///   values normalized (`client_max_window_bits=010` is answered `client_max_window_bits=10`),
///   without a valueless `client_max_window_bits`, plus `server_no_context_takeover` and, if
///   configured, `client_no_context_takeover`.
///
/// Our one difference: an offer with `server_max_window_bits` below 15 is skipped (miniz_oxide
/// cannot compress with a smaller window), the next one is tried, and if none is left the
/// answer is `Ok(None)`, not a `400` (`ws` would have accepted it).
pub fn negotiate<'a>(
    lines: impl IntoIterator<Item = &'a [u8]>,
    config: &DeflateConfig,
) -> Result<Option<(Negotiated, String)>, Error> {
    let mut header: Option<String> = None;
    for line in lines {
        // What `http::HeaderValue::to_str` accepts.
        if !line
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            return Err(invalid("a character that is not a token character"));
        }
        let line = std::str::from_utf8(line).map_err(|_| invalid("not ASCII"))?;
        match &mut header {
            None => header = Some(line.to_owned()),
            Some(header) => {
                header.push_str(", ");
                header.push_str(line);
            }
        }
    }
    match header {
        None => Ok(None),
        Some(header) => negotiate_str(&header, config),
    }
}

/// [`negotiate`] on the header's text.
fn negotiate_str(
    header: &str,
    config: &DeflateConfig,
) -> Result<Option<(Negotiated, String)>, Error> {
    let offers = parse_extensions(header)?;
    let Some((_, offers)) = offers.into_iter().find(|(name, _)| name == EXTENSION_NAME) else {
        return Ok(None);
    };
    let offers = offers
        .into_iter()
        .map(normalize_params)
        .collect::<Result<Vec<_>, _>>()?;
    let Some(mut accepted) = offers.into_iter().find(|params| {
        !params
            .iter()
            .any(|(key, value)| key == "server_max_window_bits" && *value != Norm::Bits(15))
    }) else {
        return Ok(None);
    };
    set_flag(&mut accepted, "server_no_context_takeover");
    if config.client_no_context_takeover {
        set_flag(&mut accepted, "client_no_context_takeover");
    }
    accepted.retain(|(key, value)| !(key == "client_max_window_bits" && *value == Norm::Flag));

    let mut text = String::from(EXTENSION_NAME);
    for (key, value) in &accepted {
        text.push_str("; ");
        text.push_str(key);
        if let Norm::Bits(bits) = value {
            text.push('=');
            text.push_str(&bits.to_string());
        }
    }
    let negotiated = Negotiated {
        client_no_context_takeover: accepted
            .iter()
            .any(|(key, _)| key == "client_no_context_takeover"),
    };
    // Only known keys and numbers are in the text: always a valid header value.
    Ok(Some((negotiated, text)))
}

/// A parameter's value as `extension.parse` gives it: `true` (no value) or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Raw {
    Flag,
    Text(String),
}

/// A normalized parameter value: no value, or a window size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Norm {
    Flag,
    Bits(u8),
}

/// One offer's parameters, each with its values, in the order they first appear.
type RawParams = Vec<(String, Vec<Raw>)>;

/// Each extension with its offers, in the order the extensions first appear.
type Offers = Vec<(String, Vec<RawParams>)>;

fn push_param(params: &mut RawParams, name: &str, value: Raw) {
    match params.iter_mut().find(|(key, _)| key == name) {
        Some((_, values)) => values.push(value),
        None => params.push((name.to_owned(), vec![value])),
    }
}

fn push_offer(offers: &mut Offers, name: &str, params: RawParams) {
    match offers.iter_mut().find(|(key, _)| key == name) {
        Some((_, list)) => list.push(params),
        None => offers.push((name.to_owned(), vec![params])),
    }
}

/// RFC 7230 `tchar`.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// A port of `ws`'s `extension.parse`, state for state, so that the same headers are
/// refused.
fn parse_extensions(header: &str) -> Result<Offers, Error> {
    let h = header.as_bytes();
    let unexpected = |i: usize| invalid(format!("unexpected character at index {i}"));
    let mut offers: Offers = Vec::new();
    let mut params: RawParams = Vec::new();
    let mut must_unescape = false;
    let mut is_escaping = false;
    let mut in_quotes = false;
    let mut extension_name: Option<&str> = None;
    let mut param_name: Option<&str> = None;
    let mut start: Option<usize> = None;
    let mut end: Option<usize> = None;
    let mut last: Option<u8> = None;

    for (i, &c) in h.iter().enumerate() {
        last = Some(c);
        if extension_name.is_none() {
            if end.is_none() && is_token(c) {
                start.get_or_insert(i);
            } else if i != 0 && is_space(c) {
                if end.is_none() && start.is_some() {
                    end = Some(i);
                }
            } else if c == b';' || c == b',' {
                let s = start.ok_or_else(|| unexpected(i))?;
                let name = &header[s..end.unwrap_or(i)];
                if c == b',' {
                    push_offer(&mut offers, name, std::mem::take(&mut params));
                } else {
                    extension_name = Some(name);
                }
                start = None;
                end = None;
            } else {
                return Err(unexpected(i));
            }
        } else if param_name.is_none() {
            if end.is_none() && is_token(c) {
                start.get_or_insert(i);
            } else if is_space(c) {
                if end.is_none() && start.is_some() {
                    end = Some(i);
                }
            } else if c == b';' || c == b',' {
                let s = start.ok_or_else(|| unexpected(i))?;
                push_param(&mut params, &header[s..end.unwrap_or(i)], Raw::Flag);
                if c == b',' {
                    let name = extension_name.take().unwrap_or_default();
                    push_offer(&mut offers, name, std::mem::take(&mut params));
                }
                start = None;
                end = None;
            } else if c == b'=' && start.is_some() && end.is_none() {
                param_name = start.map(|s| &header[s..i]);
                start = None;
                end = None;
            } else {
                return Err(unexpected(i));
            }
        } else if is_escaping {
            // The unescaped value of a quoted string must be a token (RFC 6455 §9.1).
            if !is_token(c) {
                return Err(unexpected(i));
            }
            if start.is_none() {
                start = Some(i);
            } else {
                must_unescape = true;
            }
            is_escaping = false;
        } else if in_quotes {
            if is_token(c) {
                start.get_or_insert(i);
            } else if c == b'"' && start.is_some() {
                in_quotes = false;
                end = Some(i);
            } else if c == b'\\' {
                is_escaping = true;
            } else {
                return Err(unexpected(i));
            }
        } else if c == b'"' && i > 0 && h[i - 1] == b'=' {
            in_quotes = true;
        } else if end.is_none() && is_token(c) {
            start.get_or_insert(i);
        } else if start.is_some() && is_space(c) {
            if end.is_none() {
                end = Some(i);
            }
        } else if c == b';' || c == b',' {
            let s = start.ok_or_else(|| unexpected(i))?;
            let mut value = header[s..end.unwrap_or(i)].to_owned();
            if must_unescape {
                value = value.replace('\\', "");
                must_unescape = false;
            }
            push_param(
                &mut params,
                param_name.unwrap_or_default(),
                Raw::Text(value),
            );
            if c == b',' {
                let name = extension_name.take().unwrap_or_default();
                push_offer(&mut offers, name, std::mem::take(&mut params));
            }
            param_name = None;
            start = None;
            end = None;
        } else {
            return Err(unexpected(i));
        }
    }

    let Some(s) = start else {
        return Err(invalid("unexpected end of input"));
    };
    if in_quotes || last.is_some_and(is_space) {
        return Err(invalid("unexpected end of input"));
    }
    let token = &header[s..end.unwrap_or(h.len())];
    match extension_name {
        None => push_offer(&mut offers, token, params),
        Some(name) => {
            match param_name {
                None => push_param(&mut params, token, Raw::Flag),
                Some(param) => {
                    let value = if must_unescape {
                        token.replace('\\', "")
                    } else {
                        token.to_owned()
                    };
                    push_param(&mut params, param, Raw::Text(value));
                }
            }
            push_offer(&mut offers, name, params);
        }
    }
    Ok(offers)
}

/// `ws`'s `normalizeParams` for one offer, as a server.
fn normalize_params(params: RawParams) -> Result<Vec<(String, Norm)>, Error> {
    params
        .into_iter()
        .map(|(key, mut values)| {
            if values.len() > 1 {
                return Err(invalid(format!(
                    "parameter \"{key}\" must have only a single value"
                )));
            }
            let value = values.pop().unwrap_or(Raw::Flag);
            let bad = || invalid(format!("invalid value for parameter \"{key}\""));
            let norm = match (key.as_str(), &value) {
                ("client_max_window_bits", Raw::Flag) => Norm::Flag,
                ("client_max_window_bits" | "server_max_window_bits", Raw::Text(text)) => {
                    Norm::Bits(window_bits(text).ok_or_else(bad)?)
                }
                // `+true` is 1 in JavaScript: out of range.
                ("server_max_window_bits", Raw::Flag) => return Err(bad()),
                ("client_no_context_takeover" | "server_no_context_takeover", Raw::Flag) => {
                    Norm::Flag
                }
                ("client_no_context_takeover" | "server_no_context_takeover", Raw::Text(_)) => {
                    return Err(bad());
                }
                _ => return Err(invalid(format!("unknown parameter \"{key}\""))),
            };
            Ok((key, norm))
        })
        .collect()
}

/// `+text` in JavaScript, if it is an integer from 8 to 15. `text` is a token, so it has no
/// white space to trim and is not empty.
fn window_bits(text: &str) -> Option<u8> {
    let b = text.as_bytes();
    let value = if b.len() > 2 && b[0] == b'0' && b[1].is_ascii_alphabetic() {
        let radix = match b[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => return None,
        };
        let digits = &text[2..];
        if !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        // Too long for u64: far out of range anyway.
        u64::from_str_radix(digits, radix).ok()? as f64
    } else {
        // `Infinity` is a number in JavaScript but never an integer, and Rust's extra
        // spellings (`inf`, `nan`) must not parse: digits, signs, `.` and exponents only.
        if !b
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return None;
        }
        text.parse::<f64>().ok()?
    };
    (value.fract() == 0.0 && (8.0..=15.0).contains(&value)).then_some(value as u8)
}

fn set_flag(params: &mut Vec<(String, Norm)>, key: &str) {
    match params.iter_mut().find(|(k, _)| k == key) {
        Some((_, value)) => *value = Norm::Flag,
        None => params.push((key.to_owned(), Norm::Flag)),
    }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// A compressor, reset, for the next message compressed on this thread.
    static SPARE_COMPRESSOR: Cell<Option<Compress>> = const { Cell::new(None) };
    /// An inflater, reset, for the next message inflated without context on this thread.
    static SPARE_INFLATER: Cell<Option<Decompress>> = const { Cell::new(None) };
}

/// The per-connection permessage-deflate state, once the extension is negotiated.
///
/// [`inflate`](Self::inflate) takes the payload of each message whose first frame had RSV1
/// set (all its frames' payloads concatenated); [`deflate`](Self::deflate) says whether and how
/// to compress each outgoing data message (set RSV1 on its first frame when it returns
/// `Some`). Control frames are never compressed.
///
/// What the frame codec does around it, as `ws`'s receiver does: RSV1 on a control frame, on a
/// continuation frame, or on any frame when the extension was not negotiated closes with 1002;
/// a compressed message is refused (1009) when its compressed length already passes the limit,
/// before inflating; a text message is checked for UTF-8 after inflating (1007).
/// `sio_protocol::websocket::FrameDecoder` (with `allow_compressed`) does the first two and
/// hands out `WsMessage::Compressed { text, data }`: `data` goes to `inflate`.
#[derive(Debug)]
pub struct PerMessageDeflate {
    client_no_context_takeover: bool,
    threshold: usize,
    /// The client's stream, kept between messages when it has context takeover; `None`
    /// until its first compressed message, and again after a final block or an error.
    inflater: Option<Decompress>,
}

impl PerMessageDeflate {
    /// The state of a new connection; `threshold` is [`DeflateConfig::threshold`].
    pub fn new(negotiated: Negotiated, threshold: usize) -> Self {
        PerMessageDeflate {
            client_no_context_takeover: negotiated.client_no_context_takeover,
            threshold,
            inflater: None,
        }
    }

    /// Inflates a compressed message (the `00 00 ff ff` the sender removed is appended here).
    ///
    /// Fails with [`InflateReason::TooBig`] as soon as the output would pass `max_size` bytes
    /// (the buffer never grows past `max_size + 1` bytes, whatever the input claims), and with
    /// [`InflateReason::Corrupt`] on invalid data; either way the connection must close, and the
    /// kept inflater is dropped. Bytes after a final block are ignored, and the next message
    /// starts a new stream (zlib in `ws` does the same).
    pub fn inflate(&mut self, compressed: &[u8], max_size: usize) -> Result<Vec<u8>, Error> {
        self.inflate_reason(compressed, max_size)
            .map_err(Error::inflate)
    }

    fn inflate_reason(
        &mut self,
        compressed: &[u8],
        max_size: usize,
    ) -> Result<Vec<u8>, InflateReason> {
        if self.client_no_context_takeover {
            let mut inflater = SPARE_INFLATER
                .take()
                .unwrap_or_else(|| Decompress::new(false));
            let result = inflate_into(&mut inflater, compressed, max_size);
            inflater.reset(false);
            SPARE_INFLATER.set(Some(inflater));
            return result.map(|(out, _)| out);
        }
        let inflater = self.inflater.get_or_insert_with(|| {
            SPARE_INFLATER
                .take()
                .unwrap_or_else(|| Decompress::new(false))
        });
        match inflate_into(inflater, compressed, max_size) {
            Ok((out, ended)) => {
                if ended {
                    self.inflater = None;
                }
                Ok(out)
            }
            Err(e) => {
                self.inflater = None;
                Err(e)
            }
        }
    }

    /// Compresses an outgoing message: `Some(payload)` to send with RSV1 set, or `None` to
    /// send `payload` as it is, when it is shorter than the threshold (what `ws` does under
    /// `server_no_context_takeover`) or when compressing would not make it shorter.
    ///
    /// Each message is a stream of its own (`server_no_context_takeover`), ended by a sync
    /// flush whose `00 00 ff ff` is removed.
    pub fn deflate(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        if payload.len() < self.threshold {
            return None;
        }
        let mut compressor = SPARE_COMPRESSOR
            .take()
            .unwrap_or_else(|| Compress::new(Compression::default(), false));
        let out = deflate_with(&mut compressor, payload);
        compressor.reset();
        SPARE_COMPRESSOR.set(Some(compressor));
        out
    }

    /// Whether the connection holds an inflater of its own (for the memory tests).
    #[cfg(test)]
    fn holds_inflater(&self) -> bool {
        self.inflater.is_some()
    }
}

/// Compresses `payload` as one raw deflate stream ended by a sync flush, without the trailing
/// `00 00 ff ff`; `None` if the result would not be shorter than `payload`.
fn deflate_with(compressor: &mut Compress, payload: &[u8]) -> Option<Vec<u8>> {
    // The output plus the 4 trailer bytes must stay under the payload's length: past that,
    // give up rather than grow.
    let limit = payload.len().checked_add(TRAILER.len())?;
    let mut out = Vec::with_capacity(limit.min(payload.len() / 2 + 64));
    loop {
        if out.len() == out.capacity() {
            if out.len() >= limit {
                return None;
            }
            let grow = out.capacity().max(64).min(limit - out.len());
            out.reserve_exact(grow);
        }
        let before_in = compressor.total_in();
        let before_out = out.len();
        let rest = payload.get(usize::try_from(before_in).ok()?..)?;
        compressor
            .compress_vec(rest, &mut out, FlushCompress::Sync)
            .ok()?;
        let consumed = usize::try_from(compressor.total_in()).ok()?;
        if out.len() < out.capacity() {
            if consumed == payload.len() {
                break;
            }
            if compressor.total_in() == before_in && out.len() == before_out {
                // No progress with room to write: never seen, but never loop on it.
                return None;
            }
        }
    }
    if !out.ends_with(&TRAILER) || out.len() >= limit {
        return None;
    }
    out.truncate(out.len() - TRAILER.len());
    Some(out)
}

/// Inflates `compressed` then the trailer into a new buffer; `true` with it when the stream
/// ended (a final block).
fn inflate_into(
    inflater: &mut Decompress,
    compressed: &[u8],
    max_size: usize,
) -> Result<(Vec<u8>, bool), InflateReason> {
    let limit = max_size.saturating_add(1);
    let first = compressed
        .len()
        .saturating_mul(4)
        .max(MIN_INFLATE_CHUNK)
        .min(limit);
    let mut out = Vec::with_capacity(first);
    for (input, flush) in [
        (compressed, FlushDecompress::None),
        (&TRAILER[..], FlushDecompress::Sync),
    ] {
        let mut pos = 0;
        loop {
            if out.len() == out.capacity() {
                let grow = out.capacity().max(MIN_INFLATE_CHUNK).min(limit - out.len());
                out.reserve_exact(grow);
            }
            let before_in = inflater.total_in();
            let before_out = out.len();
            let rest = input.get(pos..).ok_or(InflateReason::Corrupt)?;
            let status = inflater
                .decompress_vec(rest, &mut out, flush)
                .map_err(|_| InflateReason::Corrupt)?;
            let read = inflater.total_in() - before_in;
            pos += usize::try_from(read).map_err(|_| InflateReason::Corrupt)?;
            if out.len() > max_size {
                return Err(InflateReason::TooBig);
            }
            if status == Status::StreamEnd {
                return Ok((out, true));
            }
            let room = out.len() < out.capacity();
            if room && (pos == input.len() || (read == 0 && out.len() == before_out)) {
                // Everything read and written, or no progress with room to write: the stream
                // waits for more input.
                break;
            }
        }
    }
    Ok((out, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(header: &str) -> Result<Option<(Negotiated, String)>, Error> {
        offer_with(header, &DeflateConfig::default())
    }

    fn offer_with(
        header: &str,
        config: &DeflateConfig,
    ) -> Result<Option<(Negotiated, String)>, Error> {
        negotiate([header.as_bytes()], config)
    }

    fn accepted(header: &str) -> String {
        match offer(header) {
            Ok(Some((_, answer))) => answer,
            other => panic!("{header:?} should be accepted, got {other:?}"),
        }
    }

    #[test]
    fn chromium_and_ws_client_offers() {
        // Chromium, Firefox and the `ws` client all offer this by default.
        let (n, answer) = offer("permessage-deflate; client_max_window_bits")
            .unwrap()
            .unwrap();
        assert_eq!(answer, "permessage-deflate; server_no_context_takeover");
        assert!(!n.client_no_context_takeover);
        // Safari's older form.
        assert_eq!(
            accepted("permessage-deflate"),
            "permessage-deflate; server_no_context_takeover"
        );
    }

    #[test]
    fn negotiation_table() {
        for (header, answer) in [
            (
                "permessage-deflate; server_no_context_takeover",
                "permessage-deflate; server_no_context_takeover",
            ),
            (
                "permessage-deflate; client_no_context_takeover; client_max_window_bits",
                "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
            ),
            (
                "permessage-deflate; server_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=15; server_no_context_takeover",
            ),
            (
                r#"permessage-deflate; client_max_window_bits="0x0c""#,
                "permessage-deflate; client_max_window_bits=12; server_no_context_takeover",
            ),
            (
                r#"permessage-deflate; server_max_window_bits="1\5""#,
                "permessage-deflate; server_max_window_bits=15; server_no_context_takeover",
            ),
            (
                "permessage-deflate;client_max_window_bits=1e1;server_no_context_takeover",
                "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
            ),
            // The first offer asks for a window we cannot use: the second one is taken.
            (
                "permessage-deflate; server_max_window_bits=10, permessage-deflate",
                "permessage-deflate; server_no_context_takeover",
            ),
            (
                "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_no_context_takeover",
            ),
        ] {
            assert_eq!(accepted(header), answer, "{header}");
        }
    }

    #[test]
    fn offers_without_an_answer() {
        // Nothing to accept: no compression, no error.
        assert_eq!(offer("x-webkit-deflate-frame").unwrap(), None);
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=10").unwrap(),
            None
        );
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=14, permessage-deflate; server_max_window_bits=8")
                .unwrap(),
            None
        );
        assert_eq!(
            negotiate(std::iter::empty(), &DeflateConfig::default()).unwrap(),
            None
        );
    }

    #[test]
    fn refused_headers() {
        for header in [
            "",
            "permessage-deflate; client_max_window_bits; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; foo",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=10.5",
            "permessage-deflate; client_max_window_bits=inf",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover=1",
            // An invalid later offer spoils the header even though the first is fine.
            "permessage-deflate, permessage-deflate; bar",
            // Syntax errors, even in another extension.
            "permessage-deflate;",
            "permessage-deflate; ",
            "permessage-deflate,,",
            "foo bar, permessage-deflate",
            "permessage-deflate; client_max_window_bits=\"10",
            "permessage-deflate; a=b=c",
            " permessage-deflate",
        ] {
            assert!(offer(header).is_err(), "{header:?} must be refused");
        }
    }

    #[test]
    fn several_header_lines_are_joined() {
        let lines: [&[u8]; 2] = [b"foo", b"permessage-deflate; client_no_context_takeover"];
        let (n, value) = negotiate(lines, &DeflateConfig::default())
            .unwrap()
            .unwrap();
        assert!(n.client_no_context_takeover);
        assert_eq!(
            value,
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
        );
        let line: &[u8] = b"permessage-deflate; \xe9";
        assert!(negotiate([line], &DeflateConfig::default()).is_err());
    }

    #[test]
    fn imposed_client_no_context_takeover() {
        let config = DeflateConfig {
            client_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        let (n, answer) = offer_with("permessage-deflate; client_max_window_bits", &config)
            .unwrap()
            .unwrap();
        assert!(n.client_no_context_takeover);
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn window_bits_reads_like_javascript_number() {
        for (text, bits) in [
            ("8", Some(8)),
            ("15", Some(15)),
            ("015", Some(15)),
            ("+9", Some(9)),
            ("9.", Some(9)),
            ("9.0", Some(9)),
            ("0x0F", Some(15)),
            ("0b1010", Some(10)),
            ("0o17", Some(15)),
            ("1e1", Some(10)),
            ("150e-1", Some(15)),
            (".9e1", Some(9)),
            ("16", None),
            ("7", None),
            ("-8", None),
            ("9.5", None),
            ("0x", None),
            ("0x+f", None),
            ("-0xf", None),
            ("Infinity", None),
            ("inf", None),
            ("nan", None),
            ("1_0", None),
            ("99999999999999999999999", None),
        ] {
            assert_eq!(window_bits(text), bits, "{text}");
        }
    }

    /// Compresses like a `ws` client: one raw stream, a sync flush per message, trailer
    /// removed; `keep` keeps the stream between messages (context takeover).
    fn client_compress(messages: &[&[u8]], keep: bool) -> Vec<Vec<u8>> {
        let mut c = Compress::new(Compression::default(), false);
        messages
            .iter()
            .map(|m| {
                let mut out = Vec::with_capacity(m.len() + 1024);
                let start = c.total_in();
                c.compress_vec(m, &mut out, FlushCompress::Sync).unwrap();
                assert_eq!(c.total_in() - start, m.len() as u64);
                assert!(out.ends_with(&TRAILER));
                out.truncate(out.len() - 4);
                if !keep {
                    c.reset();
                }
                out
            })
            .collect()
    }

    fn pmd(client_no_context_takeover: bool, threshold: usize) -> PerMessageDeflate {
        PerMessageDeflate::new(
            Negotiated {
                client_no_context_takeover,
            },
            threshold,
        )
    }

    fn text(n: usize) -> Vec<u8> {
        let mut s = String::new();
        let mut i = 0u32;
        while s.len() < n {
            s.push_str(&format!(
                r#"42["message",{{"id":{i},"text":"hello world"}}]"#
            ));
            i += 1;
        }
        s.truncate(n);
        s.into_bytes()
    }

    #[test]
    fn round_trip() {
        let mut server = pmd(false, 0);
        assert_eq!(
            server.deflate(&text(1)),
            None,
            "one byte does not get shorter"
        );
        for payload in [text(100), text(5000), text(300_000)] {
            let compressed = server.deflate(&payload).expect("compressible");
            assert!(!compressed.ends_with(&TRAILER));
            // Our own inflater, fresh each time.
            assert_eq!(
                pmd(true, 0).inflate_reason(&compressed, usize::MAX),
                Ok(payload)
            );
        }
    }

    #[test]
    fn context_takeover_across_messages() {
        let messages: Vec<Vec<u8>> = (0..5).map(|i| text(200 + i)).collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let compressed = client_compress(&refs, true);
        // Later messages refer to earlier ones: they are much shorter.
        assert!(compressed[1].len() * 3 < compressed[0].len());
        let mut server = pmd(false, 1024);
        assert!(!server.holds_inflater());
        for (c, m) in compressed.iter().zip(&messages) {
            assert_eq!(&server.inflate_reason(c, 1_000_000).unwrap(), m);
            assert!(server.holds_inflater());
        }
        // Without the context, the second message cannot be read back right.
        assert_ne!(
            pmd(true, 1024)
                .inflate_reason(&compressed[1], 1_000_000)
                .ok(),
            Some(messages[1].clone())
        );
    }

    #[test]
    fn no_context_takeover_across_messages() {
        let messages: Vec<Vec<u8>> = (0..5).map(|i| text(2000 * (i + 1))).collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let compressed = client_compress(&refs, false);
        let mut server = pmd(true, 1024);
        for (c, m) in compressed.iter().zip(&messages) {
            assert_eq!(&server.inflate_reason(c, 1_000_000).unwrap(), m);
            assert!(!server.holds_inflater());
        }
        // Any order works: each message stands alone.
        assert_eq!(
            server.inflate_reason(&compressed[3], 1_000_000).unwrap(),
            messages[3]
        );
    }

    #[test]
    fn trailer_handling() {
        // RFC 7692 §7.2.3.1: "Hello" compressed.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(pmd(true, 0).inflate_reason(&hello, 100).unwrap(), b"Hello");
        // §7.2.3.2: the same with context takeover, twice.
        let second = [0xf2, 0x00, 0x11, 0x00, 0x00];
        let mut server = pmd(false, 0);
        assert_eq!(server.inflate_reason(&hello, 100).unwrap(), b"Hello");
        assert_eq!(server.inflate_reason(&second, 100).unwrap(), b"Hello");
        // §7.2.3.3: a stored block.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(pmd(true, 0).inflate_reason(&stored, 100).unwrap(), b"Hello");
        // §7.2.3.6: an empty message is one 0x00 byte (the trailer completes its block).
        assert_eq!(pmd(false, 0).inflate_reason(&[0x00], 100).unwrap(), b"");
        // A sender that left the trailer in: an extra empty block, harmless.
        let mut with_trailer = hello.to_vec();
        with_trailer.extend_from_slice(&TRAILER);
        assert_eq!(
            pmd(true, 0).inflate_reason(&with_trailer, 100).unwrap(),
            b"Hello"
        );
        // A final block (BFINAL): the stream ends, the next message starts a new one.
        let final_hello = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut server = pmd(false, 0);
        assert_eq!(server.inflate_reason(&final_hello, 100).unwrap(), b"Hello");
        assert!(!server.holds_inflater());
        assert_eq!(server.inflate_reason(&hello, 100).unwrap(), b"Hello");
        // Our deflater removes the trailer.
        let out = pmd(false, 0).deflate(&text(2000)).unwrap();
        let mut again = out.clone();
        again.extend_from_slice(&TRAILER);
        let mut d = Decompress::new(false);
        let mut plain = Vec::with_capacity(4000);
        d.decompress_vec(&again, &mut plain, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(plain, text(2000));
    }

    #[test]
    fn corrupt_data() {
        for bad in [
            &[0xff, 0xff, 0xff][..],
            &[0x07],                   // block type 3
            &[0x00, 0x05, 0x00, 0x00], // stored: NLEN is not !LEN
        ] {
            let mut server = pmd(false, 0);
            assert_eq!(server.inflate_reason(bad, 100), Err(InflateReason::Corrupt));
            assert!(!server.holds_inflater());
            assert_eq!(InflateReason::Corrupt.close_code(), 1007);
            let error = server.inflate(bad, 100).unwrap_err();
            assert!(error.is_inflate());
            assert_eq!(error.inflate_reason(), Some(InflateReason::Corrupt));
            assert_eq!(error.close_code(), Some(1007));
        }
    }

    /// A deflate stream (non-final blocks, no trailer) that inflates to `mib` MiB of zeros,
    /// about 1 KB per MiB.
    fn bomb(mib: usize) -> Vec<u8> {
        let mut c = Compress::new(Compression::best(), false);
        let mut chunk = Vec::with_capacity(1 << 16);
        c.compress_vec(&vec![0; 1 << 20], &mut chunk, FlushCompress::Sync)
            .unwrap();
        assert!(chunk.len() < 2000);
        // Each chunk is a whole set of blocks that refers only to its own output.
        chunk.repeat(mib)
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        // 2 GiB from about 2 MB.
        let big = bomb(2048);
        for no_context in [false, true] {
            let mut server = pmd(no_context, 0);
            let start = std::time::Instant::now();
            assert_eq!(
                server.inflate_reason(&big, 1_000_000),
                Err(InflateReason::TooBig)
            );
            assert!(start.elapsed() < std::time::Duration::from_secs(5));
            assert!(!server.holds_inflater());
        }
        assert_eq!(InflateReason::TooBig.close_code(), 1009);
        // Exactly at the limit is fine, one byte less is not.
        let two = &bomb(2)[..];
        let mut with_end = two.to_vec();
        with_end.push(0x00); // an empty stored block completes with the trailer
        assert_eq!(
            pmd(true, 0).inflate_reason(two, 2 << 20).unwrap().len(),
            2 << 20
        );
        assert_eq!(
            pmd(true, 0).inflate_reason(two, (2 << 20) - 1),
            Err(InflateReason::TooBig)
        );
        assert_eq!(
            pmd(true, 0)
                .inflate_reason(&with_end, 2 << 20)
                .unwrap()
                .len(),
            2 << 20
        );
        assert_eq!(pmd(true, 0).inflate_reason(&[0x00], 0).unwrap(), b"");
        assert_eq!(
            pmd(true, 0).inflate_reason(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 4),
            Err(InflateReason::TooBig)
        );
    }

    #[test]
    fn bomb_output_stays_bounded() {
        // The output buffer is allocated for at most max_size + 1 bytes.
        let (out, _) = inflate_into(&mut Decompress::new(false), &bomb(1), usize::MAX).unwrap();
        assert_eq!(out.len(), 1 << 20);
        let err = inflate_into(&mut Decompress::new(false), &bomb(64), 1000);
        assert_eq!(err, Err(InflateReason::TooBig));
    }

    #[test]
    fn threshold() {
        let mut server = pmd(false, 1024);
        assert_eq!(server.deflate(&text(1023)), None);
        assert!(server.deflate(&text(1024)).is_some());
        // Incompressible data is sent as it is.
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(server.deflate(&noise), None);
        // With threshold 0 even an empty message may be compressed, but it would not get
        // shorter.
        assert_eq!(pmd(false, 0).deflate(b""), None);
    }

    #[test]
    fn spare_state_does_not_leak_between_messages() {
        // A message whose back-reference reaches before its own start must not read the
        // previous message of the shared inflater: it reads zeros (miniz_oxide zeroes the
        // window on reset) or fails.
        let mut a = pmd(true, 0);
        let secret = client_compress(&[b"secret secret secret"], false);
        assert_eq!(
            a.inflate_reason(&secret[0], 100).unwrap(),
            b"secret secret secret"
        );
        // Fixed Huffman block: a length-3 match at distance 1 with no output before it.
        let sneaky = [0x02, 0x02, 0x00];
        let out = pmd(true, 0).inflate_reason(&sneaky, 100);
        assert!(
            matches!(&out, Ok(v) if v.iter().all(|&b| b == 0)) || out.is_err(),
            "{out:?}"
        );
    }
}
