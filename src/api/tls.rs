//! Which TLS servers the clients trust: rustls, with the webpki roots (Mozilla's list, built
//! in) plus the machine's own trust store through `rustls-native-certs`, so an API behind a
//! corporate proxy or a private CA works once that CA is trusted.
//!
//! `rustls-native-certs` reads `SSL_CERT_FILE` (a PEM bundle) and `SSL_CERT_DIR`
//! (directories of PEM files, `:`-separated) **instead of** the system store when either is
//! set; the webpki roots stay trusted either way. A path there that cannot be read would be
//! skipped silently and every call would then fail as "unknown issuer", so it is checked up
//! front and refused with a message that names it.

use std::path::Path;

/// Both clients' builder with the trust roots set: webpki and native, on rustls.
pub(crate) fn trusting(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    builder
        .use_rustls_tls()
        .tls_built_in_root_certs(true)
        .tls_built_in_webpki_certs(true)
        .tls_built_in_native_certs(true)
}

/// Refuses an `SSL_CERT_FILE` or `SSL_CERT_DIR` that names nothing usable (`run` checks it
/// before anything is made or sent; the client checks again when it is built).
pub fn check_env() -> anyhow::Result<()> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        let path = Path::new(&file);
        let pem = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "SSL_CERT_FILE={}: cannot read it ({e}); point it at a PEM file of the CA \
                 certificates to trust, or unset it",
                path.display()
            )
        })?;
        match reqwest::Certificate::from_pem_bundle(&pem) {
            Ok(certs) if !certs.is_empty() => {}
            _ => anyhow::bail!(
                "SSL_CERT_FILE={}: no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\"); \
                 point it at a PEM file of the CA certificates to trust, or unset it",
                path.display()
            ),
        }
    }
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR").filter(|v| !v.is_empty()) {
        for dir in std::env::split_paths(&dirs).filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                anyhow::bail!(
                    "SSL_CERT_DIR names {}, which is not a directory; list directories of PEM \
                     CA certificates (separated by ':'), or unset it",
                    dir.display()
                );
            }
        }
    }
    Ok(())
}

/// What to add to a network error's message when it is a certificate the client does not
/// trust: what to do about it.
pub(super) fn hint(message: &str) -> Option<&'static str> {
    let untrusted = [
        "UnknownIssuer",
        "unknown issuer",
        "invalid peer certificate",
    ];
    untrusted.iter().any(|m| message.contains(m)).then_some(
        " (the server's TLS certificate is not signed by a CA this machine trusts; if a \
         corporate proxy or a private CA signs it, set SSL_CERT_FILE to a PEM file of that \
         CA's certificate, or SSL_CERT_DIR to a directory of them)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certificate_errors_get_the_hint() {
        assert!(hint("invalid peer certificate: UnknownIssuer")
            .is_some_and(|h| h.contains("SSL_CERT_FILE")));
        assert!(hint("connection refused").is_none());
    }
}
