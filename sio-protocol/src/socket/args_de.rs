//! Reading [`Args`](super::Args) as a Rust type: tuples take the arguments in order, other
//! types the first argument.

use serde::de::{DeserializeSeed, Deserializer, Error as _, SeqAccess, Visitor};

use super::json::de::JsonDe;
use super::lenient::JsValue;
use crate::value::Value;

type Error = serde_json::Error;

/// The arguments, as a deserializer.
#[derive(Clone, Copy)]
pub(crate) enum ArgsDe<'a> {
    /// Argument `i` is the JSON `text[ranges[i]]` (no placeholders to resolve), read through
    /// [`JsValue`] when `lenient` (a number in the text is beyond the range of an `f64`).
    Json {
        text: &'a str,
        ranges: &'a [(u32, u32)],
        lenient: bool,
    },
    /// Argument `i` is `values[i]`.
    Values(&'a [Value]),
    /// Argument `i` is `values[i]`.
    Lenient(&'a [JsValue]),
}

/// One argument.
enum Arg<'a> {
    Json(&'a str),
    Value(&'a Value),
    Js(JsValue),
}

impl<'a> ArgsDe<'a> {
    fn len(&self) -> usize {
        match self {
            ArgsDe::Json { ranges, .. } => ranges.len(),
            ArgsDe::Values(v) => v.len(),
            ArgsDe::Lenient(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Result<Option<Arg<'a>>, Error> {
        Ok(match *self {
            ArgsDe::Json {
                text,
                ranges,
                lenient,
            } => {
                let Some(&(start, end)) = ranges.get(i) else {
                    return Ok(None);
                };
                let json = text.get(start as usize..end as usize).unwrap_or("null");
                Some(if lenient {
                    Arg::Js(JsValue::parse(json)?)
                } else {
                    Arg::Json(json)
                })
            }
            ArgsDe::Values(v) => v.get(i).map(Arg::Value),
            ArgsDe::Lenient(v) => v.get(i).cloned().map(Arg::Js),
        })
    }

    fn first(&self) -> Result<Arg<'a>, Error> {
        self.get(0)?
            .ok_or_else(|| Error::custom("missing argument"))
    }
}

/// Calls `$method` on the first argument's deserializer.
macro_rules! forward_to_first {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
            match self.first()? {
                Arg::Json(json) => {
                    let mut de = JsonDe::new(json);
                    let value = (&mut de).$method($($arg,)* visitor)?;
                    de.end()?;
                    Ok(value)
                }
                Arg::Value(v) => v.$method($($arg,)* visitor),
                Arg::Js(v) => v.$method($($arg,)* visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for ArgsDe<'de> {
    type Error = Error;

    /// A tuple receives the arguments in order; extra arguments are ignored.
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_seq(ArgSeq {
            args: self,
            next: 0,
        })
    }

    /// `()` accepts any arguments.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    /// `None` when there is no argument, else the first argument as an option.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.len() == 0 {
            return visitor.visit_none();
        }
        match self.first()? {
            Arg::Json(json) => {
                let mut de = JsonDe::new(json);
                let value = (&mut de).deserialize_option(visitor)?;
                de.end()?;
                Ok(value)
            }
            Arg::Value(v) => v.deserialize_option(visitor),
            Arg::Js(v) => v.deserialize_option(visitor),
        }
    }

    forward_to_first! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }
}

/// The arguments as a sequence, for a tuple.
struct ArgSeq<'a> {
    args: ArgsDe<'a>,
    next: usize,
}

impl<'de> SeqAccess<'de> for ArgSeq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(arg) = self.args.get(self.next)? else {
            return Ok(None);
        };
        self.next += 1;
        let value = match arg {
            Arg::Json(json) => {
                let mut de = JsonDe::new(json);
                let value = seed.deserialize(&mut de)?;
                de.end()?;
                value
            }
            Arg::Value(v) => seed.deserialize(v)?,
            Arg::Js(v) => seed.deserialize(v)?,
        };
        Ok(Some(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.args.len().saturating_sub(self.next))
    }
}
