//! TLS configurations for [`Options::tls_config`](crate::Options::tls_config) (feature `tls`).
//!
//! One `rustls::ClientConfig` serves both HTTP long-polling and the WebSocket, so the two
//! transports can never disagree on what they trust. Without `tls_config`, an `https://` URL
//! uses [`with_system_roots`] with no extra certificate.
//!
//! ```no_run
//! use rustls::pki_types::CertificateDer;
//! use rustls::pki_types::pem::PemObject as _;
//! use sio_client::{Options, tls};
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The system's roots plus a private CA.
//! let ca = CertificateDer::from_pem_file("ca.pem")?;
//! let options = Options::default().tls_config(tls::with_system_roots([ca])?);
//!
//! // Development only: trusts any certificate, for any host name.
//! let insecure = Options::default().tls_config(tls::danger_accept_invalid_certs());
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::Error;

/// rustls (ring provider, safe default protocol versions) trusting the system's root
/// certificates (`rustls-native-certs`) and the `extra` ones, e.g. a private CA.
pub fn with_system_roots(
    extra: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A certificate the store rejects is skipped, as browsers skip unusable roots.
        let _ = roots.add(cert);
    }
    for cert in extra {
        roots
            .add(cert)
            .map_err(|e| Error::config_with("tls: bad extra root certificate", e))?;
    }
    if roots.is_empty() {
        return Err(Error::config(
            "no usable root certificate found on this system",
        ));
    }
    Ok(Arc::new(with_roots(roots)?))
}

/// rustls (ring provider) that **accepts any server certificate**, expired, self-signed or for
/// another host name. For development against a server with a throwaway certificate only:
/// it removes the protection TLS exists for. The handshake signatures are still checked.
pub fn danger_accept_invalid_certs() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(RootCertStore::empty()))
        .map(|builder| builder.with_no_client_auth())
        // The ring provider supports the safe default versions.
        .unwrap_or_else(|_| {
            ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth()
        });
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)));
    Arc::new(config)
}

/// For plain `http://`: never used for a handshake, it trusts no certificate.
pub(crate) fn plain_http_config() -> Result<ClientConfig, Error> {
    with_roots(RootCertStore::empty())
}

fn with_roots(roots: RootCertStore) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config_with("tls: bad configuration", e))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Accepts every certificate chain; verifies the handshake signatures with the provider.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
