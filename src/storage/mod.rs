//! Where a batch's files are delivered: the local batch folder (as always), or object
//! storage (`--out s3://bucket/prefix`, `gs://`, `az://`) through `object_store`, with the
//! same layout and the same guarantees as on disk.
//!
//! The journal never leaves the machine: SQLite is not safe on a network or object store.
//! With a remote target the batch folder stays local (`[output] dir`/<batch>/, holding the
//! journal, the lock and a copy of the manifests), and the files a user wants
//! (`<key>/video.mp4`, `thumbnail.jpg`, `job.json`, the manifests, the report) go to
//! `<prefix>/<batch>/` (`<prefix>/sandbox/<batch>/` for rehearsals): the same relative
//! paths as the local folder, so the report's relative links work from the bucket.
//!
//! Credentials and endpoints come from each provider's usual environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `AWS_ALLOW_HTTP`, ...; `GOOGLE_*`; `AZURE_*`), or, without secrets, `[storage]` in
//! `pipeline.toml`. [`Remote::check_writable`] proves the bucket takes writes before the
//! first creation is paid for; [`identity`] records the target in the journal so a run
//! against another one is refused. [`upload`] is the whole-or-nothing upload.

pub mod identity;
pub mod publish;
pub mod upload;

use std::path::PathBuf;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub use identity::{check_target, StorageRefusal, STORAGE_META};

/// `[storage]` in `pipeline.toml`: how to reach an S3-compatible store, without secrets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StorageSettings {
    /// The endpoint (an S3-compatible server: `http://127.0.0.1:8333`, MinIO, R2...).
    pub endpoint: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// Address buckets as `ENDPOINT/bucket/key` (path style) rather than as a host name.
    pub path_style: Option<bool>,
    /// Allow a plain-http endpoint (a loopback or private server).
    pub allow_http: Option<bool>,
}

/// What `--out` names.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// A local folder (a path, or a `file://` URL).
    Local(PathBuf),
    /// Object storage: the URL as given (`s3://bucket/prefix`).
    Remote(url::Url),
}

/// Reads `--out`: a path, `file://`, `s3://`, `gs://` or `az://`.
pub fn parse_out(s: &str) -> Result<Out, String> {
    let Some((scheme, _)) = s.split_once("://") else {
        return Ok(Out::Local(PathBuf::from(s)));
    };
    let url = url::Url::parse(s).map_err(|e| format!("--out {s:?} is not a valid URL: {e}"))?;
    match scheme.to_ascii_lowercase().as_str() {
        "file" => url
            .to_file_path()
            .map(Out::Local)
            .map_err(|()| format!("--out {s:?}: a file:// URL must name an absolute local path")),
        "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!(
                    "--out {s:?} names no bucket; write it as {scheme}://BUCKET/PREFIX"
                ));
            }
            Ok(Out::Remote(url))
        }
        other => Err(format!(
            "--out {s:?}: {other}:// is not a storage this tool writes to; use a folder, \
             file://, s3://, gs:// or az://"
        )),
    }
}

/// Why a store cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// An object store and the prefix a batch's files go under.
#[derive(Debug, Clone)]
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    /// `scheme://bucket/prefix` of this batch, for messages and the journal (no secrets).
    url: String,
    root: ObjectPath,
    endpoint: Option<String>,
}

impl Remote {
    /// The store `url` names, configured from the provider's environment and `settings`.
    pub fn open(url: &url::Url, settings: &StorageSettings) -> Result<Remote, StorageError> {
        let bucket = url.host_str().unwrap_or_default().to_owned();
        let fail = |e: object_store::Error| StorageError(describe(&e, &bucket));
        let mut endpoint = None;
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "s3" | "s3a" => {
                let mut b =
                    object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&bucket);
                if let Some(e) = &settings.endpoint {
                    b = b.with_endpoint(e);
                }
                if let Some(r) = &settings.region {
                    b = b.with_region(r);
                }
                if let Some(p) = settings.path_style {
                    b = b.with_virtual_hosted_style_request(!p);
                }
                if let Some(h) = settings.allow_http {
                    b = b.with_allow_http(h);
                }
                endpoint = b
                    .get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint)
                    .map(|e| without_userinfo(&redact(&e)));
                Arc::new(b.build().map_err(fail)?)
            }
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&bucket)
                    .build()
                    .map_err(fail)?,
            ),
            _ => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(&bucket)
                    .build()
                    .map_err(fail)?,
            ),
        };
        let prefix = url.path().trim_matches('/');
        let root = ObjectPath::parse(prefix)
            .map_err(|e| StorageError(format!("--out {url}: the prefix is not usable: {e}")))?;
        let shown = if prefix.is_empty() {
            format!("{}://{bucket}", url.scheme())
        } else {
            format!("{}://{bucket}/{prefix}", url.scheme())
        };
        Ok(Remote {
            store,
            url: shown,
            root,
            endpoint,
        })
    }

    /// The same store, under `rel` (a batch's folder relative to the output folder).
    pub fn under(&self, rel: &str) -> Remote {
        let mut r = self.clone();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            r.root = r.root.clone().join(part);
            r.url = format!("{}/{part}", r.url);
        }
        r
    }

    /// `scheme://bucket/prefix`, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The endpoint, when one was configured (an S3-compatible server).
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The object for `rel` (`key/video.mp4`) under this prefix.
    pub fn path(&self, rel: &str) -> ObjectPath {
        rel.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.root.clone(), |p, part| p.join(part))
    }

    /// The store itself.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Proves the bucket exists and takes writes with these credentials: writes a small
    /// object and deletes it. Called before anything is sent, so a wrong key or a missing
    /// bucket costs nothing.
    pub async fn check_writable(&self) -> Result<(), StorageError> {
        let probe = self.path(&format!(
            ".creatify-batch-write-check-{}",
            uuid::Uuid::new_v4()
        ));
        let bucket = self.bucket();
        // A bucket that does not exist is named as such: some servers (SeaweedFS) would
        // make it on the first write instead. A key allowed to write but not to list goes on
        // to the write, which decides.
        if let Err(e) = self.store.list_with_delimiter(Some(&self.root)).await {
            let text = format!("{e:?}");
            let missing = matches!(e, object_store::Error::NotFound { .. })
                || text.contains("NoSuchBucket")
                || text.contains("ContainerNotFound");
            let denied = matches!(
                e,
                object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
            ) || text.contains("AccessDenied");
            if missing || !denied {
                return Err(StorageError(format!(
                    "cannot use {}: {}; nothing was sent",
                    self.url,
                    describe(&e, &bucket)
                )));
            }
        }
        self.store
            .put(
                &probe,
                PutPayload::from_static(b"creatify-batch write check\n"),
            )
            .await
            .map_err(|e| {
                StorageError(format!(
                    "cannot write to {}: {}; nothing was sent",
                    self.url,
                    describe(&e, &bucket)
                ))
            })?;
        // A leftover probe is harmless; its deletion failing is not worth a failed run.
        if let Err(e) = self.store.delete(&probe).await {
            tracing::debug!(error = %redact(&e.to_string()), "could not delete the write check");
        }
        Ok(())
    }

    fn bucket(&self) -> String {
        self.url
            .split_once("://")
            .map(|(_, r)| r.split('/').next().unwrap_or_default().to_owned())
            .unwrap_or_default()
    }
}

/// A store's error as a user should read it: what it means, then the store's own words
/// with every secret the environment holds taken out.
pub fn describe(e: &object_store::Error, bucket: &str) -> String {
    let detail = short_detail(&redact(&e.to_string()));
    // The server's error code is only in the Debug form (the answer's body).
    let debug = format!("{e:?}");
    let lower = debug.to_ascii_lowercase();
    let variables = if debug.contains("GCS") {
        "GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT"
    } else if debug.contains("MicrosoftAzure") {
        "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or \
         a client secret"
    } else {
        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
    };
    let refused = || format!("the store refused the credentials (check {variables})");
    let missing = lower.contains("nosuchbucket")
        || lower.contains("bucket does not exist")
        || lower.contains("containernotfound");
    let meaning = if missing {
        format!("the bucket {bucket:?} does not exist (create it, or fix the name in --out)")
    } else if lower.contains("169.254.169.254") {
        // No key in the environment: the client fell back to a cloud machine's metadata.
        format!("no credentials for the store were found (set {variables})")
    } else if lower.contains("builder error") && lower.contains("http://") {
        "the endpoint is plain http://: set AWS_ALLOW_HTTP=true to allow it (or write it in \
         [storage] endpoint)"
            .to_owned()
    } else {
        match e {
            object_store::Error::Unauthenticated { .. }
            | object_store::Error::PermissionDenied { .. } => refused(),
            object_store::Error::NotFound { .. } => {
                format!("the bucket {bucket:?} or the prefix was not found")
            }
            _ if lower.contains("accessdenied")
                || lower.contains("invalidaccesskeyid")
                || lower.contains("signaturedoesnotmatch")
                || lower.contains("token request")
                || lower.contains("403") =>
            {
                refused()
            }
            _ if lower.contains("must be specified") || lower.contains("missing") => {
                format!("the store is not configured (set {variables})")
            }
            _ => "the store failed".to_owned(),
        }
    };
    format!("{meaning} ({detail})")
}

/// The store's words on one line, without the XML body an S3 server answers with (its
/// `<Code>` kept).
fn short_detail(detail: &str) -> String {
    let Some(at) = detail.find("<?xml").or_else(|| detail.find("<Error")) else {
        return detail.split_whitespace().collect::<Vec<_>>().join(" ");
    };
    let code = detail[at..]
        .split_once("<Code>")
        .and_then(|(_, r)| r.split_once("</Code>"))
        .map(|(c, _)| format!(" S3 error {c}"))
        .unwrap_or_default();
    let head: Vec<&str> = detail[..at].split_whitespace().collect();
    format!("{}{code}", head.join(" "))
}

/// `text` with `?…` in place of the query of each `http(s)://` URL in it.
fn without_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("http") {
        let (before, url) = rest.split_at(at);
        out.push_str(before);
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>' | '<'))
            .unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        match url.find('?') {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?…");
            }
            None => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// An endpoint as the journal and messages may show it: without a user or password.
fn without_userinfo(endpoint: &str) -> String {
    match url::Url::parse(endpoint) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => endpoint.to_owned(),
    }
}

/// Environment variables whose values are secrets of a store.
const SECRET_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_MASTER_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_TOKEN",
    "AZURE_STORAGE_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET",
];

/// `text` with every store secret of the environment replaced by `***`, and the query of
/// every URL in it cut (a SAS token or a presigned signature lives there).
pub fn redact(text: &str) -> String {
    let mut out = without_queries(text);
    for name in SECRET_ENV {
        if let Ok(v) = std::env::var(name) {
            if v.len() >= 4 {
                out = out.replace(&v, "***");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_servers_xml_answer_is_cut_to_its_error_code() {
        let d = "Generic S3 error: Error performing PUT http://h/b/k in 1ms - Server returned \
                 non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n<Error><Code>\
                 SignatureDoesNotMatch</Code><RequestId>1</RequestId></Error>";
        let s = short_detail(d);
        assert!(
            s.ends_with("403 Forbidden: S3 error SignatureDoesNotMatch"),
            "{s}"
        );
        assert!(!s.contains('<') && !s.contains('\n'));
        assert_eq!(short_detail("a\n b"), "a b");
    }

    use super::*;

    #[test]
    fn out_names_a_folder_a_file_url_or_a_bucket() {
        assert_eq!(parse_out("out").unwrap(), Out::Local("out".into()));
        assert_eq!(
            parse_out("file:///tmp/x").unwrap(),
            Out::Local("/tmp/x".into())
        );
        assert!(matches!(parse_out("s3://b/p").unwrap(), Out::Remote(_)));
        assert!(matches!(parse_out("gs://b").unwrap(), Out::Remote(_)));
        assert!(matches!(parse_out("az://c/p").unwrap(), Out::Remote(_)));
        assert!(parse_out("ftp://x/y").unwrap_err().contains("ftp"));
        assert!(parse_out("s3:///p").unwrap_err().contains("no bucket"));
        assert!(parse_out("file://relative/x").is_err());
    }

    #[test]
    fn objects_sit_at_the_local_folders_relative_paths() {
        let url = url::Url::parse("s3://bucket/some/prefix/").unwrap();
        let r = Remote::open(&url, &StorageSettings::default())
            .unwrap()
            .under("sandbox/tonight");
        assert_eq!(r.url(), "s3://bucket/some/prefix/sandbox/tonight");
        assert_eq!(
            r.path("k1/video.mp4").as_ref(),
            "some/prefix/sandbox/tonight/k1/video.mp4"
        );
        assert_eq!(r.bucket(), "bucket");
        assert_eq!(
            without_userinfo("http://me:pw@127.0.0.1:9000"),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(
            without_userinfo("http://127.0.0.1:9000"),
            "http://127.0.0.1:9000"
        );
    }
}
