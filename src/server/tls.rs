//! AutoMTLS, go-plugin style: a throw-away self-signed server certificate,
//! and a client-certificate check that accepts exactly the certificate
//! Terraform passed in `PLUGIN_CLIENT_CERT`.
//!
//! Terraform's client certificate is a self-signed ECDSA P-521 CA
//! certificate. The stock webpki verifier rejects a CA certificate used as an
//! end entity, and the *ring* provider cannot verify P-521 signatures, so the
//! server uses a pinning verifier on top of the aws-lc-rs provider.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

/// Host name the server certificate is issued for; go-plugin clients verify
/// the server as `localhost`.
const SERVER_NAME: &str = "localhost";
/// ALPN protocol grpc-go insists on.
const ALPN_H2: &[u8] = b"h2";

/// Why AutoMTLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `PLUGIN_CLIENT_CERT` is not valid PEM.
    #[error("PLUGIN_CLIENT_CERT is not a valid PEM certificate: {0}")]
    ClientCertPem(#[source] rustls::pki_types::pem::Error),
    /// `PLUGIN_CLIENT_CERT` holds no certificate at all.
    #[error("PLUGIN_CLIENT_CERT contains no certificate")]
    NoClientCert,
    /// The self-signed server certificate could not be generated.
    #[error("failed to generate the server certificate: {0}")]
    ServerCert(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("failed to build the TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A ready TLS acceptor plus the certificate to announce in the handshake.
#[derive(Clone)]
pub(crate) struct AutoMtls {
    acceptor: TlsAcceptor,
    server_cert: CertificateDer<'static>,
}

impl AutoMtls {
    /// Sets up AutoMTLS for the client certificate(s) in `client_cert_pem`.
    pub(crate) fn from_client_pem(client_cert_pem: &str) -> Result<Self, TlsError> {
        let client_certs = parse_client_certs(client_cert_pem)?;
        Self::new(client_certs)
    }

    /// Sets up AutoMTLS trusting exactly `client_certs`.
    pub(crate) fn new(client_certs: Vec<CertificateDer<'static>>) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(PinnedClientCert::new(client_certs, &provider));

        let generated = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()])?;
        let server_cert = generated.cert.der().clone();
        let server_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der()));

        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert.clone()], server_key)?;
        config.alpn_protocols = vec![ALPN_H2.to_vec()];

        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            server_cert,
        })
    }

    /// DER bytes of the server certificate, for the handshake line.
    pub(crate) fn server_cert_der(&self) -> &[u8] {
        self.server_cert.as_ref()
    }

    /// The acceptor that runs the server side of the TLS handshake.
    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// Extracts every certificate from PEM text.
fn parse_client_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(TlsError::ClientCertPem)?;
    if certs.is_empty() {
        return Err(TlsError::NoClientCert);
    }
    Ok(certs)
}

/// Client-certificate verifier that pins exact DER bytes.
///
/// Chain building and validity dates are skipped on purpose: the certificate
/// arrived over a trusted channel (our environment) and is compared byte for
/// byte. Handshake signatures are still verified, so the client must hold the
/// matching private key.
#[derive(Debug)]
pub(crate) struct PinnedClientCert {
    allowed: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientCert {
    /// Trusts exactly `allowed`, verifying signatures with `provider`.
    pub(crate) fn new(allowed: Vec<CertificateDer<'static>>, provider: &CryptoProvider) -> Self {
        Self {
            allowed,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for PinnedClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.allowed.iter().any(|cert| cert.as_ref() == end_entity.as_ref()) {
            Ok(ClientCertVerified::assertion())
        } else {
            tracing::warn!("rejected a TLS client certificate that is not PLUGIN_CLIENT_CERT");
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Client-side helpers shared by the TLS tests here and in `serve`.

    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use tokio::net::TcpStream;
    use tokio_rustls::TlsConnector;
    use tokio_rustls::client::TlsStream;

    /// A client certificate shaped like go-plugin's: self-signed ECDSA P-521, CA.
    pub(crate) struct ClientIdentity {
        pub(crate) cert: CertificateDer<'static>,
        pub(crate) pem: String,
        key_der: Vec<u8>,
    }

    impl ClientIdentity {
        pub(crate) fn generate_p521() -> Self {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).expect("P-521 key generation");
            let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let cert = params.self_signed(&key).expect("self-signed certificate");
            Self {
                pem: cert.pem(),
                cert: cert.der().clone(),
                key_der: key.serialize_der(),
            }
        }

        fn key(&self) -> PrivateKeyDer<'static> {
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
        }
    }

    /// Connects over TCP and runs a TLS handshake like a go-plugin client:
    /// trusts only `server_cert_der`, presents `identity`, offers ALPN h2.
    pub(crate) async fn connect(
        addr: std::net::SocketAddr,
        server_cert_der: &[u8],
        identity: &ClientIdentity,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(server_cert_der.to_vec()))
            .expect("server certificate is a usable trust anchor");
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![identity.cert.clone()], identity.key())
            .expect("client certificate");
        config.alpn_protocols = vec![b"h2".to_vec()];
        let connector = TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("server name");
        // With TLS 1.3 a rejected client certificate only surfaces on the
        // first read or write after this returns.
        connector.connect(name, tcp).await
    }
}

#[cfg(test)]
mod tests {
    use rustls::server::danger::ClientCertVerifier as _;

    use super::test_support::ClientIdentity;
    use super::*;

    fn verifier_for(cert: &CertificateDer<'static>) -> PinnedClientCert {
        PinnedClientCert::new(vec![cert.clone()], &rustls::crypto::aws_lc_rs::default_provider())
    }

    #[test]
    fn verifier_accepts_exactly_the_pinned_der() {
        let trusted = ClientIdentity::generate_p521();
        let verifier = verifier_for(&trusted.cert);
        verifier
            .verify_client_cert(&trusted.cert, &[], UnixTime::now())
            .expect("the pinned certificate is accepted");
    }

    #[test]
    fn verifier_rejects_any_other_certificate() {
        let trusted = ClientIdentity::generate_p521();
        let other = ClientIdentity::generate_p521();
        let verifier = verifier_for(&trusted.cert);
        let err = verifier
            .verify_client_cert(&other.cert, std::slice::from_ref(&trusted.cert), UnixTime::now())
            .expect_err("a different certificate is rejected, even with the pinned one as chain");
        assert!(matches!(err, rustls::Error::InvalidCertificate(_)), "{err:?}");

        let mut flipped = trusted.cert.as_ref().to_vec();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        verifier
            .verify_client_cert(&CertificateDer::from(flipped), &[], UnixTime::now())
            .expect_err("a single changed byte is rejected");
    }

    #[test]
    fn verifier_offers_p521_and_mandates_client_auth() {
        let trusted = ClientIdentity::generate_p521();
        let verifier = verifier_for(&trusted.cert);
        assert!(verifier.client_auth_mandatory());
        assert!(verifier.root_hint_subjects().is_empty());
        assert!(
            verifier
                .supported_verify_schemes()
                .contains(&SignatureScheme::ECDSA_NISTP521_SHA512),
            "aws-lc-rs must offer P-521 or go-plugin clients send no certificate"
        );
    }

    #[test]
    fn client_pem_is_parsed_and_empty_pem_rejected() {
        let identity = ClientIdentity::generate_p521();
        let certs = parse_client_certs(&identity.pem).expect("valid PEM");
        assert_eq!(certs, vec![identity.cert.clone()]);
        assert!(matches!(
            parse_client_certs("not a certificate"),
            Err(TlsError::NoClientCert)
        ));
    }

    #[test]
    fn server_certificate_is_announced_as_der() {
        let identity = ClientIdentity::generate_p521();
        let tls = AutoMtls::from_client_pem(&identity.pem).expect("AutoMTLS set-up");
        // DER certificates start with a SEQUENCE tag.
        assert_eq!(tls.server_cert_der().first(), Some(&0x30));
    }
}
