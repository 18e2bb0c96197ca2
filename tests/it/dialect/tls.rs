//! An API behind a private CA (a corporate proxy that re-signs TLS): a CA and a leaf for
//! 127.0.0.1 made by the test, a TLS proxy with that leaf in front of an in-process sandbox,
//! and the real binary pointed at `https://127.0.0.1:PORT`. With `SSL_CERT_FILE` naming the
//! CA the batch runs; without it, the run fails saying how to fix it.

use std::process::Command;
use std::sync::Arc;

use creatify_batch::sandbox::Faults;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::support::*;

/// A TLS front for the harness's sandbox, signed by a CA of the test's own.
struct Front {
    /// `https://127.0.0.1:PORT`.
    base_url: String,
    /// The CA certificate, PEM, in the harness's folder.
    ca_file: std::path::PathBuf,
}

async fn tls_front(h: &Harness) -> Front {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "creatify-batch test proxy CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = h.sandbox.addr();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A handshake the client refuses ends here, like a real proxy's.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut up) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                }
            });
        }
    });
    let ca_file = h.dir.path().join("proxy-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    Front {
        base_url: format!("https://127.0.0.1:{port}"),
        ca_file,
    }
}

/// The `run` command against the front, with no trust settings from the environment.
fn command(h: &Harness, front: &Front, sheet: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(h.dir.path())
        .arg("run")
        .arg(sheet)
        .args(["--base-url", &front.base_url])
        .args(["--out", "out"])
        .env("CREATIFY_API_ID", &h.id)
        .env("CREATIFY_API_KEY", &h.key)
        .env_remove("CREATIFY_BASE_URL")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

async fn run(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_behind_a_private_ca_works_with_ssl_cert_file() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let front = tls_front(&h).await;
    let sheet = h.sheet("tls.csv", &sheet_of(2));
    let mut cmd = command(&h, &front, &sheet);
    cmd.env("SSL_CERT_FILE", &front.ca_file);
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stats = h.stats();
    assert_eq!(stats.jobs_created, 2);
    for r in manifest_rows(&h.batch_dir("tls")) {
        assert_eq!(r["status"], "downloaded", "{r}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_ca_fails_with_a_message_that_names_ssl_cert_file() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let config = FAST_CONFIG.replace("max_attempts = 8", "max_attempts = 2");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let front = tls_front(&h).await;
    let sheet = h.sheet("untrusted.csv", &sheet_of(1));
    let out = run(command(&h, &front, &sheet)).await;
    assert_ne!(code(&out), 0, "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("SSL_CERT_FILE") && all.contains("not signed by a CA this machine trusts"),
        "{all}"
    );
    assert_eq!(h.stats().jobs_created, 0);

    // A trust file that cannot be read is an invalid setting, refused by name before any call.
    let mut cmd = command(&h, &front, &sheet);
    cmd.env("SSL_CERT_FILE", h.dir.path().join("no-such-ca.pem"));
    let out = run(cmd).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SSL_CERT_FILE=") && err.contains("no-such-ca.pem"),
        "{err}"
    );
}
