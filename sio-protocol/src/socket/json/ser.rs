//! Writing any `T: Serialize` as JSON in one pass, as socket.io-parser's encoder writes it:
//! `JSON.stringify` numbers and string escapes, and every `serialize_bytes` replaced with a
//! binary placeholder `{"_placeholder":true,"num":N}` whose bytes go to the attachments.
//!
//! The output is what serde_json (with the JavaScript number formatting of this module's
//! parent) writes, byte for byte: map keys that are numbers or booleans are quoted, a
//! `serde_json::value::RawValue` is copied as it is, and a key that is not a string, a number
//! or a boolean is an error.

use bytes::Bytes;
use serde::ser::{self, Error as _, Impossible, Serialize};

use super::{write_js_f32, write_js_f64, write_placeholder, write_str};

type Error = serde_json::Error;
type Result<T> = std::result::Result<T, Error>;

macro_rules! refuse {
    ($($method:ident($t:ty);)*) => {$(
        fn $method(self, _v: $t) -> Result<()> {
            Err(expected_raw())
        }
    )*};
}

/// The name under which `serde_json::value::RawValue` serializes itself, as a struct with one
/// field of this name that holds its text.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The serializer: `out` receives the JSON, `attachments` the binary.
pub(crate) struct JsonSer<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) attachments: &'a mut Vec<Bytes>,
}

impl JsonSer<'_> {
    #[inline]
    fn int<I: itoa::Integer>(&mut self, v: I) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }
}

/// A sequence, map or struct being written.
pub(crate) struct Compound<'s, 'a> {
    ser: &'s mut JsonSer<'a>,
    first: bool,
    /// Closing bytes: `]`, `}`, or `]}` / `}}` for a variant.
    close: &'static [u8],
    /// A `RawValue`: its field is written as it is.
    raw: bool,
}

impl Compound<'_, '_> {
    #[inline]
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.ser.out.push(b',');
        }
    }
}

impl<'s, 'a> ser::Serializer for &'s mut JsonSer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, 'a>;
    type SerializeTuple = Compound<'s, 'a>;
    type SerializeTupleStruct = Compound<'s, 'a>;
    type SerializeTupleVariant = Compound<'s, 'a>;
    type SerializeMap = Compound<'s, 'a>;
    type SerializeStruct = Compound<'s, 'a>;
    type SerializeStructVariant = Compound<'s, 'a>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<()> {
        self.int(v);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<()> {
        write_js_f32(self.out, v);
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        write_js_f64(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<()> {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        write_placeholder(self.out, self.attachments.len());
        self.attachments.push(Bytes::copy_from_slice(v));
        Ok(())
    }

    fn serialize_none(self) -> Result<()> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        write_str(self.out, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'s, 'a>> {
        self.out.push(b'[');
        Ok(Compound {
            ser: self,
            first: true,
            close: b"]",
            raw: false,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, 'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'s, 'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'a>> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.extend_from_slice(b":[");
        Ok(Compound {
            ser: self,
            first: true,
            close: b"]}",
            raw: false,
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'s, 'a>> {
        self.out.push(b'{');
        Ok(Compound {
            ser: self,
            first: true,
            close: b"}",
            raw: false,
        })
    }

    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Compound<'s, 'a>> {
        let raw = name == RAW_VALUE_TOKEN;
        if !raw {
            self.out.push(b'{');
        }
        Ok(Compound {
            ser: self,
            first: true,
            close: if raw { b"" } else { b"}" },
            raw,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'a>> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.extend_from_slice(b":{");
        Ok(Compound {
            ser: self,
            first: true,
            close: b"}}",
            raw: false,
        })
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.comma();
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn end(self) -> Result<()> {
        self.ser.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<()> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<()> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<()> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.comma();
        key.serialize(KeySer {
            out: &mut *self.ser.out,
        })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.ser.out.push(b':');
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<()> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        if self.raw {
            return value.serialize(RawSer {
                out: &mut *self.ser.out,
            });
        }
        self.comma();
        write_str(self.ser.out, key);
        self.ser.out.push(b':');
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn end(self) -> Result<()> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result<()> {
        ser::SerializeSeq::end(self)
    }
}

fn key_must_be_a_string() -> Error {
    Error::custom("key must be a string")
}

/// A map key: a string, or a number or boolean written as a string.
struct KeySer<'a> {
    out: &'a mut Vec<u8>,
}

impl KeySer<'_> {
    fn quoted(self, text: &[u8]) -> Result<()> {
        self.out.push(b'"');
        self.out.extend_from_slice(text);
        self.out.push(b'"');
        Ok(())
    }

    fn int<I: itoa::Integer>(self, v: I) -> Result<()> {
        let mut buf = itoa::Buffer::new();
        let text = buf.format(v).as_bytes();
        self.quoted(text)
    }
}

macro_rules! int_keys {
    ($($method:ident($t:ty);)*) => {$(
        fn $method(self, v: $t) -> Result<()> {
            self.int(v)
        }
    )*};
}

impl ser::Serializer for KeySer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<()> {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.quoted(if v { b"true" } else { b"false" })
    }

    int_keys! {
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
    }

    fn serialize_f32(self, v: f32) -> Result<()> {
        if !v.is_finite() {
            return Err(Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        let mut text = Vec::with_capacity(24);
        write_js_f32(&mut text, v);
        self.quoted(&text)
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        if !v.is_finite() {
            return Err(Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        let mut text = Vec::with_capacity(24);
        write_js_f64(&mut text, v);
        self.quoted(&text)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(key_must_be_a_string())
    }
}

/// The text field of a `RawValue`, copied as it is.
struct RawSer<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::Serializer for RawSer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<()> {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    refuse! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_bytes(&[u8]);
        serialize_unit_struct(&'static str);
    }

    fn serialize_none(self) -> Result<()> {
        Err(expected_raw())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<()> {
        Err(expected_raw())
    }

    fn serialize_unit(self) -> Result<()> {
        Err(expected_raw())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
    ) -> Result<()> {
        Err(expected_raw())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _value: &T,
    ) -> Result<()> {
        Err(expected_raw())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<()> {
        Err(expected_raw())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(expected_raw())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(expected_raw())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(expected_raw())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(expected_raw())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(expected_raw())
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(expected_raw())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(expected_raw())
    }
}

fn expected_raw() -> Error {
    Error::custom("expected RawValue")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    fn ours<T: Serialize + ?Sized>(value: &T) -> (String, usize) {
        let mut out = Vec::new();
        let mut attachments = Vec::new();
        value
            .serialize(&mut JsonSer {
                out: &mut out,
                attachments: &mut attachments,
            })
            .unwrap();
        (String::from_utf8(out).unwrap(), attachments.len())
    }

    /// Without floats or binary, what serde_json writes.
    fn same<T: Serialize + ?Sized>(value: &T) {
        assert_eq!(ours(value).0, serde_json::to_string(value).unwrap());
    }

    #[derive(Serialize)]
    enum E {
        A,
        B(i32),
        C { x: Option<i32> },
        D(u8, String),
    }

    #[derive(Serialize)]
    struct S<'a> {
        id: u64,
        name: &'a str,
        tags: Vec<&'a str>,
        e: Vec<E>,
        map: BTreeMap<i32, bool>,
        bools: BTreeMap<bool, ()>,
        unit: (),
        nested: Option<Box<S<'a>>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        tuple: (i8, u128, i128, char),
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let s = S {
            id: u64::MAX,
            name: "a\"b\\c\n\u{1}é",
            tags: vec!["x", ""],
            e: vec![E::A, E::B(-1), E::C { x: None }, E::D(2, "t".into())],
            map: [(-1, true), (2, false)].into_iter().collect(),
            bools: [(true, ())].into_iter().collect(),
            unit: (),
            nested: Some(Box::new(S {
                id: 0,
                name: "",
                tags: vec![],
                e: vec![],
                map: BTreeMap::new(),
                bools: BTreeMap::new(),
                unit: (),
                nested: None,
                skipped: None,
                tuple: (0, 0, 0, 'x'),
            })),
            skipped: None,
            tuple: (i8::MIN, u128::MAX, i128::MIN, '"'),
        };
        same(&s);
        same(&serde_json::json!({"a": [1, -2, "x", null, true, {"b": {}}], "": []}));
        let raw = serde_json::value::RawValue::from_string("[1, {\"a\" : 2}]".into()).unwrap();
        same(&(1, &raw));
        assert!(ours(&BTreeMap::<(), u8>::new()).0 == "{}");
    }

    #[test]
    fn floats_as_javascript_writes_them() {
        assert_eq!(
            ours(&(1.0f64, 2.5f64, -0.0f64, 1e21f64, 1e-7f64)).0,
            "[1,2.5,0,1e+21,1e-7]"
        );
        assert_eq!(
            ours(&(0.1f32, f64::NAN, f32::INFINITY)).0,
            "[0.1,null,null]"
        );
        let keys: BTreeMap<i64, f64> = [(1, 0.5)].into_iter().collect();
        assert_eq!(ours(&keys).0, r#"{"1":0.5}"#);
    }

    #[test]
    fn bytes_become_placeholders() {
        let (json, n) = ours(&(
            serde_bytes::Bytes::new(b"ab"),
            vec![serde_bytes::ByteBuf::from(vec![1])],
        ));
        assert_eq!(
            json,
            r#"[{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]"#
        );
        assert_eq!(n, 2);
    }

    #[test]
    fn keys_that_are_not_strings_are_errors() {
        let mut out = Vec::new();
        let mut attachments = Vec::new();
        let mut ser = JsonSer {
            out: &mut out,
            attachments: &mut attachments,
        };
        let map: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(map.serialize(&mut ser).is_err());
    }
}
