//! [`Args`]: the arguments of events and acks, and how Rust types map onto them.

use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::args_de::ArgsDe;
use super::args_ser::{RangeSink, write_args};
use super::json;
use super::lenient::JsValue;
use super::scan::{self, Ranges};
use crate::error::{ArgsRepr, Error};
use crate::str::Str;
use crate::value::Value;

/// The arguments of an EVENT (after the event name) or of an ACK.
///
/// # The data model
///
/// `socket.emit("name", a, b)` in JavaScript sends the arguments `a` and `b`. In Rust,
/// [`Args::new`] takes one serializable value and spreads it the same way:
///
/// | Rust value                              | arguments sent             |
/// |-----------------------------------------|----------------------------|
/// | `()`                                    | none                       |
/// | a tuple `(a, b)` or an array `[T; N]`   | one per element            |
/// | anything else: a struct, a `Vec`, a string, a number, a tuple struct, `Option` | exactly one |
///
/// [`Args::deserialize`] mirrors it: a tuple type receives the arguments in order (extra
/// arguments are ignored, like a JavaScript handler that declares fewer parameters; missing
/// ones are an error), `()` accepts anything, and any other type is read from the first
/// argument (`Option<T>` is `None` when there is no argument).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use sio_protocol::socket::Args;
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Message {
///     user: String,
///     text: String,
/// }
///
/// // emit("chat", "general", {user, text}): two arguments.
/// let msg = Message { user: "ann".into(), text: "hi".into() };
/// let args = Args::new(&("general", &msg)).unwrap();
/// assert_eq!(args.len(), 2);
///
/// // The receiving handler asks for the types it expects.
/// let (room, received): (String, Message) = args.deserialize().unwrap();
/// assert_eq!((room.as_str(), received), ("general", msg));
///
/// // One argument (the struct), read as the first argument.
/// let args = Args::new(&Message { user: "bob".into(), text: "yo".into() }).unwrap();
/// assert_eq!(args.len(), 1);
/// let m: Message = args.deserialize().unwrap();
/// assert_eq!(m.user, "bob");
/// ```
///
/// # Binary
///
/// Binary data travels as attachments (a BINARY_EVENT followed by one binary frame per
/// attachment) and arrives in JavaScript as a `Buffer` / `ArrayBuffer`. A value is binary when
/// it serializes with `serialize_bytes`: use [`bytes::Bytes`], `serde_bytes::ByteBuf`, or a
/// `Vec<u8>` field marked `#[serde(with = "serde_bytes")]`. Binary may sit anywhere (nested in
/// structs, vectors, maps); attachments are numbered depth first, as JavaScript numbers them.
///
/// **A plain `Vec<u8>` (or `&[u8]`) is not binary**: serde serializes it as an array of numbers,
/// and that is what is sent (`[1,2,3]`). On the receiving side a `Vec<u8>` accepts both.
///
/// ```
/// use bytes::Bytes;
/// use serde::{Deserialize, Serialize};
/// use sio_protocol::socket::Args;
///
/// #[derive(Serialize, Deserialize)]
/// struct File {
///     name: String,
///     #[serde(with = "serde_bytes")]
///     content: Vec<u8>,
/// }
///
/// let file = File { name: "a.bin".into(), content: vec![1, 2, 3] };
/// let args = Args::new(&(file, Bytes::from_static(b"\x04"))).unwrap();
/// assert!(args.has_binary());
/// assert_eq!(args.attachments(), 2);
///
/// let (file, extra): (File, Bytes) = args.deserialize().unwrap();
/// assert_eq!(file.content, [1, 2, 3]);
/// assert_eq!(&extra[..], b"\x04");
///
/// // The trap: a plain Vec<u8> is an array of numbers.
/// let args = Args::new(&vec![1u8, 2, 3]).unwrap();
/// assert!(!args.has_binary());
/// ```
///
/// # Numbers beyond the range of an `f64`
///
/// A received number literal too large for an `f64` (`1e309`, `-1e400`: valid JSON, which no
/// encoder writes) is what JavaScript's `JSON.parse` makes of it, an infinity, and the packet
/// is accepted as socket.io accepts it:
///
/// - a typed read gets `f64::INFINITY` / `f64::NEG_INFINITY` (in an `f64`, an `f32`, an
///   `Option<f64>`...); an integer type refuses it as it refuses any float;
/// - a [`Value`] (and a `serde_json::Value`) holds `null` there: JSON has no infinity, and
///   `null` is what `JSON.stringify` writes for it;
/// - sent again (a relay: the arguments are written as received), the literal is written as
///   `null`, which is what a JavaScript server would send after its own decode and encode.
///
/// A literal too small for an `f64` (`1e-400`) reads as 0, as in JavaScript (and is sent again
/// as received, which reads as 0 too).
///
/// ```
/// use sio_protocol::socket::{Decoder, DecoderConfig, Encoder, PacketData};
/// use sio_protocol::{Str, Value};
///
/// let mut decoder = Decoder::new(DecoderConfig::default());
/// let packet = decoder.decode_text(Str::from(r#"2["big",1e309,[-1e309]]"#)).unwrap().unwrap();
/// let PacketData::Event { args, .. } = &packet.data else { panic!() };
/// let (x, v): (f64, Vec<f64>) = args.deserialize().unwrap();
/// assert_eq!((x, v), (f64::INFINITY, vec![f64::NEG_INFINITY]));
/// assert_eq!(args.to_values().unwrap(), [Value::Null, Value::from(vec![Value::Null])]);
/// let sent = Encoder::default().encode(&packet).unwrap();
/// assert_eq!(sent.text(), Some(r#"2["big",null,[null]]"#));
/// ```
///
/// # Representation
///
/// Arguments are kept lazily: a decoded text packet keeps the received frame and the byte
/// range of each argument's JSON (nothing is parsed until a handler asks for a type, and then
/// straight from the frame), [`Args::new`] writes JSON text once, and decoded binary packets
/// hold [`Value`]s. Cloning is cheap (shared buffers) except for the `Value` form. Re-sending
/// received arguments (a relay, a broadcast) copies their JSON text as received, without
/// parsing it, except that a number literal beyond the range of an `f64` is written as `null`.
/// So what is sent reads, in JavaScript, as what a JavaScript server would send after its own
/// decode and encode, though not always byte for byte: whitespace and the spelling of numbers
/// stay as received (`1.0`, `1E2`, `1e-400`, which read as `1`, `100` and `0`).
#[derive(Clone)]
pub struct Args(Repr);

#[derive(Clone)]
enum Repr {
    /// JSON text: argument `i` is `text[ranges[i]]`; placeholders in it refer to
    /// `attachments` (only on the sending side: a received text packet has none).
    Json {
        text: Str,
        ranges: Ranges,
        attachments: Vec<Bytes>,
        /// Whether a number literal beyond the range of an `f64` sits in the arguments (only
        /// on the receiving side); they are then read through `JsValue`, and written with
        /// such literals as `null`.
        infinite: bool,
    },
    /// Parsed values, binary included.
    Values(Vec<Value>),
    /// Parsed values of a received binary packet that holds a number beyond the range of an
    /// `f64`.
    Lenient(Vec<JsValue>),
}

impl Args {
    /// Serializes `value` into arguments (see [the data model](Args#the-data-model)): a tuple
    /// spreads into several arguments, `()` is none, anything else is one argument. Binary
    /// (`serialize_bytes`) becomes attachments.
    ///
    /// Numbers are written as JavaScript's `JSON.stringify` writes them (`2.0` as `2`, `1e21`
    /// as `1e+21`), NaN and infinities as `null`.
    ///
    /// The error is of kind [`Args`](crate::ErrorKind::Args), with the serializer's error as
    /// its source.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Args, Error> {
        let mut out = Vec::with_capacity(64);
        let attachments = RefCell::new(Vec::new());
        let mut ranges = Ranges::new();
        write_args(&mut out, value, &attachments, &mut ranges, false).map_err(Error::serialize)?;
        if u32::try_from(out.len()).is_err() {
            return Err(Error::args(ArgsRepr::TooLarge));
        }
        let text = String::from_utf8(out)
            .map_err(|_| Error::args(ArgsRepr::Unsupported("non-UTF-8 JSON")))?;
        Ok(Args(Repr::Json {
            text: Str::from(text),
            ranges,
            attachments: attachments.into_inner(),
            infinite: false,
        }))
    }

    /// Arguments from values.
    pub fn from_values(values: Vec<Value>) -> Args {
        Args(Repr::Values(values))
    }

    /// No arguments.
    pub const fn empty() -> Args {
        Args(Repr::Values(Vec::new()))
    }

    /// Arguments that are the JSON `text[range]` for each range (received, non-binary);
    /// `infinite` when a number literal in them is beyond the range of an `f64`.
    pub(crate) fn from_json(text: Str, ranges: Ranges, infinite: bool) -> Args {
        Args(Repr::Json {
            text,
            ranges,
            attachments: Vec::new(),
            infinite,
        })
    }

    /// Arguments of a received binary packet, attachments in place: [`Value`]s unless a number
    /// in them is infinite.
    pub(crate) fn from_js_values(values: Vec<JsValue>) -> Args {
        if values.iter().any(JsValue::has_infinity) {
            Args(Repr::Lenient(values))
        } else {
            Args(Repr::Values(
                values.into_iter().map(JsValue::into_value).collect(),
            ))
        }
    }

    /// The number of arguments.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Json { ranges, .. } => ranges.as_slice().len(),
            Repr::Values(v) => v.len(),
            Repr::Lenient(v) => v.len(),
        }
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether binary sits anywhere in the arguments (then the packet is sent as a
    /// BINARY_EVENT or BINARY_ACK).
    pub fn has_binary(&self) -> bool {
        match &self.0 {
            Repr::Json { attachments, .. } => !attachments.is_empty(),
            Repr::Values(v) => v.iter().any(Value::has_binary),
            Repr::Lenient(v) => v.iter().any(JsValue::has_binary),
        }
    }

    /// The number of binary attachments.
    pub fn attachments(&self) -> usize {
        match &self.0 {
            Repr::Json { attachments, .. } => attachments.len(),
            Repr::Values(v) => v.iter().map(Value::count_binary).sum(),
            Repr::Lenient(v) => v.iter().map(JsValue::count_binary).sum(),
        }
    }

    /// Reads the arguments as `T` (see [the data model](Args#the-data-model)): a tuple
    /// receives the arguments in order, `()` accepts anything, any other type is read from the
    /// first argument.
    ///
    /// The error is of kind [`Args`](crate::ErrorKind::Args), with the deserializer's error
    /// (a `serde_json::Error`) as its source.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match &self.0 {
            Repr::Json {
                text,
                ranges,
                attachments,
                infinite,
            } if attachments.is_empty() => T::deserialize(ArgsDe::Json {
                text,
                ranges: ranges.as_slice(),
                lenient: *infinite,
            }),
            Repr::Json { .. } => {
                let values = self.to_values()?;
                T::deserialize(ArgsDe::Values(&values))
            }
            Repr::Values(values) => T::deserialize(ArgsDe::Values(values)),
            Repr::Lenient(values) => T::deserialize(ArgsDe::Lenient(values)),
        }
        .map_err(Error::deserialize)
    }

    /// The arguments as values.
    ///
    /// The error (of kind [`Args`](crate::ErrorKind::Args)) can only come from received
    /// arguments whose attachment placeholders do not match their attachments.
    pub fn to_values(&self) -> Result<Vec<Value>, Error> {
        match &self.0 {
            Repr::Json {
                text,
                ranges,
                attachments,
                infinite,
            } => {
                let mut values = Vec::with_capacity(ranges.as_slice().len());
                for &(start, end) in ranges.as_slice() {
                    let json = text.get(start as usize..end as usize).unwrap_or("");
                    let mut value: Value = if *infinite {
                        JsValue::parse(json)
                            .map_err(Error::deserialize)?
                            .into_value()
                    } else {
                        let mut de = json::de::JsonDe::new(json);
                        let value = de.parse_value().map_err(Error::deserialize)?;
                        de.end().map_err(Error::deserialize)?;
                        value
                    };
                    if !attachments.is_empty() {
                        json::reconstruct(&mut value, attachments)
                            .map_err(|_| Error::args(ArgsRepr::Placeholder))?;
                    }
                    values.push(value);
                }
                Ok(values)
            }
            Repr::Values(values) => Ok(values.clone()),
            Repr::Lenient(values) => Ok(values.iter().cloned().map(JsValue::into_value).collect()),
        }
    }

    /// The arguments as values, without copying when they already are.
    pub fn into_values(self) -> Result<Vec<Value>, Error> {
        match self.0 {
            Repr::Values(values) => Ok(values),
            Repr::Json { .. } | Repr::Lenient(_) => self.to_values(),
        }
    }

    /// The JSON text of argument `index`, when the arguments are kept as JSON text (a received
    /// text packet, or [`Args::new`]). Placeholders of binary arguments appear as written, and
    /// received text as received (a number beyond the range of an `f64` included, which
    /// [`Args::deserialize`] reads as an infinity).
    pub fn raw_json(&self, index: usize) -> Option<&str> {
        match &self.0 {
            Repr::Json { text, ranges, .. } => {
                let &(start, end) = ranges.as_slice().get(index)?;
                text.get(start as usize..end as usize)
            }
            Repr::Values(_) | Repr::Lenient(_) => None,
        }
    }

    /// Appends the arguments as JSON array items to `out` (each preceded by a comma when
    /// `comma_first`, else comma separated), and their binary to `attachments`.
    pub(crate) fn write_json(
        &self,
        out: &mut Vec<u8>,
        comma_first: bool,
        attachments: &mut Vec<Bytes>,
    ) {
        match &self.0 {
            Repr::Json {
                text,
                ranges,
                attachments: own,
                infinite,
            } => {
                let ranges = ranges.as_slice();
                if let (Some(first), Some(last)) = (ranges.first(), ranges.last()) {
                    if comma_first {
                        out.push(b',');
                    }
                    // The items are contiguous in `text`, separated by commas (and, in a
                    // received packet, by whatever whitespace the sender put there).
                    let span = text
                        .get(first.0 as usize..last.1 as usize)
                        .unwrap_or("null");
                    if *infinite {
                        // `JSON.stringify(Infinity)` is `null`.
                        scan::write_finite(out, span.as_bytes());
                    } else {
                        out.extend_from_slice(span.as_bytes());
                    }
                }
                attachments.extend(own.iter().cloned());
            }
            Repr::Lenient(values) => {
                for (i, value) in values.iter().enumerate() {
                    if comma_first || i > 0 {
                        out.push(b',');
                    }
                    json::write_value(out, &value.clone().into_value(), Some(attachments));
                }
            }
            Repr::Values(values) => {
                for (i, value) in values.iter().enumerate() {
                    if comma_first || i > 0 {
                        out.push(b',');
                    }
                    json::write_value(out, value, Some(attachments));
                }
            }
        }
    }

    /// An upper bound hint of the JSON length, for preallocation.
    pub(crate) fn json_len_hint(&self) -> usize {
        match &self.0 {
            Repr::Json { ranges, .. } => {
                match (ranges.as_slice().first(), ranges.as_slice().last()) {
                    (Some(first), Some(last)) => (last.1 - first.0) as usize + 1,
                    _ => 0,
                }
            }
            Repr::Values(v) => v.len() * 16,
            Repr::Lenient(v) => v.len() * 16,
        }
    }
}

impl Default for Args {
    fn default() -> Self {
        Args::empty()
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Self {
        Args::from_values(values)
    }
}

/// Arguments are equal when their values are (numbers by value, so `1` equals `1.0`).
impl PartialEq for Args {
    fn eq(&self, other: &Args) -> bool {
        if let (
            Repr::Json {
                text: a,
                ranges: ra,
                attachments: xa,
                ..
            },
            Repr::Json {
                text: b,
                ranges: rb,
                attachments: xb,
                ..
            },
        ) = (&self.0, &other.0)
        {
            let same_text = ra.as_slice().len() == rb.as_slice().len()
                && ra.as_slice().iter().zip(rb.as_slice()).all(|(x, y)| {
                    a.get(x.0 as usize..x.1 as usize) == b.get(y.0 as usize..y.1 as usize)
                });
            if same_text && xa == xb {
                return true;
            }
        }
        match (self.to_values(), other.to_values()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Raw<'a>(&'a str);
        impl fmt::Debug for Raw<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        match &self.0 {
            Repr::Json {
                text,
                ranges,
                attachments,
                ..
            } => {
                f.write_str("Args")?;
                let mut list = f.debug_list();
                for &(start, end) in ranges.as_slice() {
                    list.entry(&Raw(text.get(start as usize..end as usize).unwrap_or("?")));
                }
                list.finish()?;
                if !attachments.is_empty() {
                    write!(f, " + {} attachment(s)", attachments.len())?;
                }
                Ok(())
            }
            Repr::Values(values) => {
                f.write_str("Args")?;
                f.debug_list().entries(values).finish()
            }
            Repr::Lenient(values) => {
                f.write_str("Args")?;
                f.debug_list().entries(values).finish()
            }
        }
    }
}

impl RangeSink for Ranges {
    fn push(&mut self, start: usize, end: usize) {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.push_range((clamp(start), clamp(end)));
    }
}
