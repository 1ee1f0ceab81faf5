//! `httpCompression`: gzip or deflate of polling responses, as engine.io's polling transport
//! does it (`accepts(req).encodings(["gzip", "deflate"])`, a size threshold, zlib defaults).

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use http::HeaderMap;
use http::header;

/// The `httpCompression` option: polling responses of at least `threshold` bytes are
/// compressed when the request's `Accept-Encoding` allows gzip or deflate.
///
/// ```
/// use sio_server::{EngineConfig, HttpCompression};
///
/// let config = EngineConfig::default().http_compression(HttpCompression::default().threshold(4096));
/// assert_eq!(EngineConfig::default().http_compression.unwrap().threshold, 1024);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCompression {
    /// The smallest body that is compressed, in bytes (default 1024).
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression { threshold: 1024 }
    }
}

impl HttpCompression {
    /// Sets [`threshold`](Self::threshold).
    pub fn threshold(mut self, value: usize) -> Self {
        self.threshold = value;
        self
    }
}

/// A content coding the server can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Gzip,
    Deflate,
}

impl Encoding {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    /// The preferred of gzip and deflate in the request's `Accept-Encoding`, like the
    /// `negotiator` npm module: the highest `q` wins; at equal `q` an exact name beats `*`,
    /// then the earlier entry of the header, then gzip.
    pub(crate) fn negotiate(headers: &HeaderMap) -> Option<Encoding> {
        // (q in thousandths, specificity, position in the header, position in our list)
        let mut best: Option<((u16, u8, usize, usize), Encoding)> = None;
        for (index, encoding) in [Encoding::Gzip, Encoding::Deflate].into_iter().enumerate() {
            let mut found: Option<(u16, u8, usize)> = None;
            let entries = headers
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','));
            for (position, entry) in entries.enumerate() {
                let mut parts = entry.split(';');
                let name = parts.next().unwrap_or("").trim();
                let specificity = if name.eq_ignore_ascii_case(encoding.as_str()) {
                    1
                } else if name == "*" {
                    0
                } else {
                    continue;
                };
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(parse_q)
                    .unwrap_or(1000);
                let better = match found {
                    None => true,
                    Some((_, s, _)) => specificity > s,
                };
                if better {
                    found = Some((q, specificity, position));
                }
            }
            let Some((q, specificity, position)) = found else {
                continue;
            };
            if q == 0 {
                continue;
            }
            let key = (q, specificity, position, index);
            let wins = match &best {
                None => true,
                Some(((bq, bs, bp, bi), _)) => {
                    (q, specificity) > (*bq, *bs)
                        || ((q, specificity) == (*bq, *bs) && (position, index) < (*bp, *bi))
                }
            };
            if wins {
                best = Some((key, encoding));
            }
        }
        best.map(|(_, encoding)| encoding)
    }

    /// `body` compressed (zlib's default level, as Node's `zlib` streams).
    pub(crate) fn compress(self, body: &[u8]) -> std::io::Result<Bytes> {
        let out = Vec::with_capacity(body.len() / 2 + 64);
        let out = match self {
            Encoding::Gzip => {
                let mut encoder = GzEncoder::new(out, Compression::default());
                encoder.write_all(body)?;
                encoder.finish()?
            }
            Encoding::Deflate => {
                let mut encoder = ZlibEncoder::new(out, Compression::default());
                encoder.write_all(body)?;
                encoder.finish()?
            }
        };
        Ok(Bytes::from(out))
    }
}

/// A `q` value in thousandths (`0.5` → 500); `None` if malformed.
fn parse_q(value: &str) -> Option<u16> {
    let q: f32 = value.trim().parse().ok()?;
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    // In range 0..=1000 after the check above.
    Some((q * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn pick(accept: &str) -> Option<Encoding> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        Encoding::negotiate(&headers)
    }

    #[test]
    fn negotiation() {
        assert_eq!(Encoding::negotiate(&HeaderMap::new()), None);
        assert_eq!(pick("gzip, deflate, br"), Some(Encoding::Gzip));
        assert_eq!(pick("deflate, gzip"), Some(Encoding::Deflate));
        assert_eq!(pick("gzip;q=0.5, deflate"), Some(Encoding::Deflate));
        assert_eq!(pick("gzip;q=0, *"), Some(Encoding::Deflate));
        assert_eq!(pick("*"), Some(Encoding::Gzip));
        assert_eq!(pick("identity"), None);
        assert_eq!(pick("br"), None);
        assert_eq!(pick("gzip;q=0"), None);
        assert_eq!(pick("GZIP;q=abc"), Some(Encoding::Gzip));
    }

    #[test]
    fn round_trip() {
        use std::io::Read;
        let body = vec![b'a'; 5000];
        let gz = Encoding::Gzip.compress(&body).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let z = Encoding::Deflate.compress(&body).unwrap();
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}
