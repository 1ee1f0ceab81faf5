//! Serializing arguments straight to JSON text: tuple spreading around the JSON serializer of
//! `json/ser.rs` (where every `serialize_bytes` becomes a placeholder plus an attachment).

use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;
use serde::ser::{self, Serialize, Serializer};

use super::json::ser::JsonSer;

/// Where the byte range of each argument is recorded (or not, when encoding straight into a
/// packet).
pub(crate) trait RangeSink {
    /// Records an argument at `start..end` of the output.
    fn push(&mut self, start: usize, end: usize);
}

/// Records nothing.
impl RangeSink for () {
    fn push(&mut self, _: usize, _: usize) {}
}

/// Serializes `value` as a list of arguments into `out`: a tuple (`serialize_tuple`: `(a, b)`,
/// `[T; N]`) spreads into its elements, `()` is no argument, anything else is one argument.
/// With `comma_first`, a comma precedes every argument (they follow an event name); otherwise
/// commas separate them. Returns the number of arguments.
pub(crate) fn write_args<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    attachments: &RefCell<Vec<Bytes>>,
    ranges: &mut dyn RangeSink,
    comma_first: bool,
) -> Result<usize, serde_json::Error> {
    let mark = out.len();
    let spread = Spread {
        out: &mut *out,
        attachments,
        ranges: &mut *ranges,
        comma_first,
        count: 0,
    };
    match value.serialize(spread) {
        Ok(count) => Ok(count),
        Err(SpreadError::Json(e)) => Err(e),
        Err(SpreadError::NotSpread) => {
            out.truncate(mark);
            if comma_first {
                out.push(b',');
            }
            let start = out.len();
            value.serialize(&mut JsonSer {
                out: &mut *out,
                attachments: &mut attachments.borrow_mut(),
            })?;
            let end = out.len();
            ranges.push(start, end);
            Ok(1)
        }
    }
}

/// The top-level serializer of arguments: accepts a tuple or `()`, and refuses everything else
/// (at its first call, before writing anything) with [`SpreadError::NotSpread`].
struct Spread<'a, 'w> {
    out: &'w mut Vec<u8>,
    attachments: &'a RefCell<Vec<Bytes>>,
    ranges: &'a mut dyn RangeSink,
    comma_first: bool,
    count: usize,
}

#[derive(Debug)]
enum SpreadError {
    NotSpread,
    Json(serde_json::Error),
}

impl fmt::Display for SpreadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpreadError::NotSpread => f.write_str("not a tuple"),
            SpreadError::Json(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for SpreadError {}

impl ser::Error for SpreadError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        SpreadError::Json(serde_json::Error::custom(msg))
    }
}

impl ser::SerializeTuple for Spread<'_, '_> {
    type Ok = usize;
    type Error = SpreadError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SpreadError> {
        if self.comma_first || self.count > 0 {
            self.out.push(b',');
        }
        let start = self.out.len();
        value
            .serialize(&mut JsonSer {
                out: &mut *self.out,
                attachments: &mut self.attachments.borrow_mut(),
            })
            .map_err(SpreadError::Json)?;
        let end = self.out.len();
        self.ranges.push(start, end);
        self.count += 1;
        Ok(())
    }

    fn end(self) -> Result<usize, SpreadError> {
        Ok(self.count)
    }
}

macro_rules! not_spread {
    ($($method:ident ( $($arg:ty),* ) -> $ret:ty;)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<$ret, SpreadError> {
            Err(SpreadError::NotSpread)
        }
    )*};
}

impl<'a, 'w> Serializer for Spread<'a, 'w> {
    type Ok = usize;
    type Error = SpreadError;
    type SerializeSeq = ser::Impossible<usize, SpreadError>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = ser::Impossible<usize, SpreadError>;
    type SerializeTupleVariant = ser::Impossible<usize, SpreadError>;
    type SerializeMap = ser::Impossible<usize, SpreadError>;
    type SerializeStruct = ser::Impossible<usize, SpreadError>;
    type SerializeStructVariant = ser::Impossible<usize, SpreadError>;

    fn serialize_unit(self) -> Result<usize, SpreadError> {
        Ok(0)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self, SpreadError> {
        Ok(self)
    }

    not_spread! {
        serialize_bool(bool) -> usize;
        serialize_i8(i8) -> usize;
        serialize_i16(i16) -> usize;
        serialize_i32(i32) -> usize;
        serialize_i64(i64) -> usize;
        serialize_i128(i128) -> usize;
        serialize_u8(u8) -> usize;
        serialize_u16(u16) -> usize;
        serialize_u32(u32) -> usize;
        serialize_u64(u64) -> usize;
        serialize_u128(u128) -> usize;
        serialize_f32(f32) -> usize;
        serialize_f64(f64) -> usize;
        serialize_char(char) -> usize;
        serialize_str(&str) -> usize;
        serialize_bytes(&[u8]) -> usize;
        serialize_none() -> usize;
        serialize_unit_struct(&'static str) -> usize;
        serialize_unit_variant(&'static str, u32, &'static str) -> usize;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<usize, SpreadError> {
        Err(SpreadError::NotSpread)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<usize, SpreadError> {
        Err(SpreadError::NotSpread)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<usize, SpreadError> {
        Err(SpreadError::NotSpread)
    }
}
