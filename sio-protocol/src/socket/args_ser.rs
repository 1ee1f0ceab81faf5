//! Serializing arguments straight to JSON text: tuple spreading, and binary-aware
//! serialization (every `serialize_bytes` becomes a placeholder plus an attachment).

use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;
use serde::ser::{self, Serialize, SerializeMap as _, Serializer};

use super::json::JsFormatter;

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
            let mut json = serde_json::Serializer::with_formatter(&mut *out, JsFormatter);
            value.serialize(BinSer {
                inner: &mut json,
                attachments,
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
        let mut json = serde_json::Serializer::with_formatter(&mut *self.out, JsFormatter);
        value
            .serialize(BinSer {
                inner: &mut json,
                attachments: self.attachments,
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

/// Wraps a serializer so that `serialize_bytes`, anywhere inside, writes the placeholder
/// `{"_placeholder":true,"num":N}` and appends the bytes to `attachments`.
pub(crate) struct BinSer<'a, S> {
    pub(crate) inner: S,
    pub(crate) attachments: &'a RefCell<Vec<Bytes>>,
}

/// A value serialized through [`BinSer`].
struct Wrap<'a, T: ?Sized> {
    value: &'a T,
    attachments: &'a RefCell<Vec<Bytes>>,
}

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(BinSer {
            inner: s,
            attachments: self.attachments,
        })
    }
}

/// A compound (sequence, map, struct...) of a [`BinSer`].
pub(crate) struct BinCompound<'a, C> {
    inner: C,
    attachments: &'a RefCell<Vec<Bytes>>,
}

macro_rules! forward_scalars {
    ($($method:ident($t:ty);)*) => {$(
        fn $method(self, v: $t) -> Result<S::Ok, S::Error> {
            self.inner.$method(v)
        }
    )*};
}

impl<'a, S: Serializer> Serializer for BinSer<'a, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = BinCompound<'a, S::SerializeSeq>;
    type SerializeTuple = BinCompound<'a, S::SerializeTuple>;
    type SerializeTupleStruct = BinCompound<'a, S::SerializeTupleStruct>;
    type SerializeTupleVariant = BinCompound<'a, S::SerializeTupleVariant>;
    type SerializeMap = BinCompound<'a, S::SerializeMap>;
    type SerializeStruct = BinCompound<'a, S::SerializeStruct>;
    type SerializeStructVariant = BinCompound<'a, S::SerializeStructVariant>;

    forward_scalars! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        let num = {
            let mut attachments = self.attachments.borrow_mut();
            attachments.push(Bytes::copy_from_slice(v));
            attachments.len() - 1
        };
        let mut map = self.inner.serialize_map(Some(2))?;
        map.serialize_entry("_placeholder", &true)?;
        map.serialize_entry("num", &num)?;
        map.end()
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(&Wrap {
            value,
            attachments: self.attachments,
        })
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_struct(name)
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_struct(
            name,
            &Wrap {
                value,
                attachments: self.attachments,
            },
        )
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_variant(
            name,
            index,
            variant,
            &Wrap {
                value,
                attachments: self.attachments,
            },
        )
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        let attachments = self.attachments;
        Ok(BinCompound {
            inner: self.inner.serialize_seq(len)?,
            attachments,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        let attachments = self.attachments;
        Ok(BinCompound {
            inner: self.inner.serialize_tuple(len)?,
            attachments,
        })
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        let attachments = self.attachments;
        Ok(BinCompound {
            inner: self.inner.serialize_tuple_struct(name, len)?,
            attachments,
        })
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        let attachments = self.attachments;
        Ok(BinCompound {
            inner: self
                .inner
                .serialize_tuple_variant(name, index, variant, len)?,
            attachments,
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        let attachments = self.attachments;
        Ok(BinCompound {
            inner: self.inner.serialize_map(len)?,
            attachments,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        let attachments = self.attachments;
        Ok(BinCompound {
            inner: self.inner.serialize_struct(name, len)?,
            attachments,
        })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        let attachments = self.attachments;
        Ok(BinCompound {
            inner: self
                .inner
                .serialize_struct_variant(name, index, variant, len)?,
            attachments,
        })
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

impl<C: ser::SerializeSeq> ser::SerializeSeq for BinCompound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_element(&Wrap {
            value,
            attachments: self.attachments,
        })
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeTuple> ser::SerializeTuple for BinCompound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_element(&Wrap {
            value,
            attachments: self.attachments,
        })
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeTupleStruct> ser::SerializeTupleStruct for BinCompound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_field(&Wrap {
            value,
            attachments: self.attachments,
        })
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeTupleVariant> ser::SerializeTupleVariant for BinCompound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_field(&Wrap {
            value,
            attachments: self.attachments,
        })
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeMap> ser::SerializeMap for BinCompound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        self.inner.serialize_key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_value(&Wrap {
            value,
            attachments: self.attachments,
        })
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeStruct> ser::SerializeStruct for BinCompound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        self.inner.serialize_field(
            key,
            &Wrap {
                value,
                attachments: self.attachments,
            },
        )
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeStructVariant> ser::SerializeStructVariant for BinCompound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        self.inner.serialize_field(
            key,
            &Wrap {
                value,
                attachments: self.attachments,
            },
        )
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}
