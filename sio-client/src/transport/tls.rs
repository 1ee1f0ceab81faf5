//! The default TLS configuration: rustls with ring and the system's root certificates.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};

use crate::error::Error;

/// rustls with the ring provider, the safe default protocol versions, and the root
/// certificates of the system (`rustls-native-certs`). No ALPN: the WebSocket handshake
/// needs HTTP/1.1.
pub(crate) fn default_config() -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // A certificate the store rejects is skipped, as browsers skip unusable roots.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(Error::config(
            "no usable root certificate found on this system",
        ));
    }
    Ok(Arc::new(with_roots(roots)?))
}

/// For plain `http://`: never used for a handshake, it trusts no certificate.
pub(crate) fn plain_http_config() -> Result<ClientConfig, Error> {
    with_roots(RootCertStore::empty())
}

fn with_roots(roots: RootCertStore) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
