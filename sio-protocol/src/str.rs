//! [`Str`]: a cheaply cloneable, sliceable UTF-8 string backed by [`Bytes`].

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

/// An immutable UTF-8 string backed by [`Bytes`]: clones and slices share the same buffer.
///
/// Decoders hand out `Str`s that point into the received frame, so a namespace or an event
/// name costs no allocation. It dereferences to [`str`].
///
/// ```
/// use sio_protocol::Str;
/// let s = Str::from("hello world");
/// let word = s.slice(0..5);
/// assert_eq!(&*word, "hello");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Str(ByteString);

impl Str {
    /// An empty string.
    pub const fn new() -> Self {
        Str(ByteString::new())
    }

    /// A string from a `&'static str`, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Str(ByteString::from_static(s))
    }

    /// Checks that `bytes` is UTF-8 and wraps it without copying.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        ByteString::try_from(bytes).map(Str)
    }

    /// The string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Turns the string into its bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// A sub-string sharing the same buffer.
    ///
    /// # Panics
    ///
    /// Panics if the range is out of bounds or does not fall on `char` boundaries, like
    /// slicing a `str`.
    pub fn slice(&self, range: impl std::ops::RangeBounds<usize>) -> Str {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n + 1,
            Bound::Excluded(&n) => n,
            Bound::Unbounded => self.len(),
        };
        // Indexing the str panics on a non-boundary, like `&s[a..b]`.
        Str(self.0.slice_ref(&self.as_str()[start..end]))
    }

    /// A sub-string of `self` given as a `&str` that points inside it.
    ///
    /// # Panics
    ///
    /// Panics if `sub` is not a slice of `self`.
    pub fn slice_ref(&self, sub: &str) -> Str {
        Str(self.0.slice_ref(sub))
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Str {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for Str {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Str {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Self {
        Str::from_static(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str(ByteString::from(s))
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        Str::from(String::from(s))
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str::from(s.clone())
    }
}

impl From<Str> for String {
    fn from(s: Str) -> Self {
        s.as_str().to_owned()
    }
}

impl From<Str> for Bytes {
    fn from(s: Str) -> Self {
        s.0.into_bytes()
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for Str {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Str {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Str::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_and_compare() {
        let s = Str::from(String::from("/admin,42"));
        let nsp = s.slice(..6);
        assert_eq!(nsp, "/admin");
        assert_eq!(s.slice_ref(&s[7..]), "42");
        assert!(Str::from_utf8(Bytes::from_static(&[0xff])).is_err());
    }

    #[test]
    #[should_panic]
    fn slice_off_boundary_panics() {
        let s = Str::from("é");
        let _ = s.slice(0..1);
    }
}
