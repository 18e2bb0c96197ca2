//! The output files: real bytes, byte ranges, truncation, expiring URLs, synthetic videos.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::{faults, start, video, Api};

const VIDEO: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/samples/media/sandbox.mp4"
));

/// Creates a job, waits for it, and returns its object.
async fn finished(api: &Api) -> Value {
    let id = api.create(&video("media", "Hello")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = api.wait_terminal(&id).await;
    assert_eq!(job["status"], "done");
    job
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn outputs_are_the_real_files_with_ranges() {
    let sb = start(|_| {}).await;
    let api = Api::new(&sb);
    let job = finished(&api).await;
    let url = job["output"].as_str().unwrap();

    let full = api.http.get(url).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(header(&full, "content-type"), "video/mp4");
    assert_eq!(header(&full, "accept-ranges"), "bytes");
    assert_eq!(header(&full, "content-length"), VIDEO.len().to_string());
    assert_eq!(full.bytes().await.unwrap(), VIDEO);

    let part = api
        .http
        .get(url)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&part, "content-range"),
        format!("bytes 100-199/{}", VIDEO.len())
    );
    assert_eq!(part.bytes().await.unwrap(), &VIDEO[100..200]);

    let tail = api
        .http
        .get(url)
        .header("Range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.bytes().await.unwrap(), &VIDEO[VIDEO.len() - 10..]);

    let outside = api
        .http
        .get(url)
        .header("Range", format!("bytes={}-", VIDEO.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header(&outside, "content-range"),
        format!("bytes */{}", VIDEO.len())
    );

    let thumb = api
        .http
        .get(job["video_thumbnail"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(header(&thumb, "content-type"), "image/jpeg");
    assert_eq!(&thumb.bytes().await.unwrap()[..2], [0xFF, 0xD8]);

    let forged = url.replace("sig=", "sig=0");
    assert_eq!(
        api.http.get(forged).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_truncated_download_ends_short_of_its_content_length() {
    let sb = start(|c| c.faults = faults("[download]\ntruncate = 1.0")).await;
    let api = Api::new(&sb);
    let job = finished(&api).await;
    let mut resp = api
        .http
        .get(job["output"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "content-length"), VIDEO.len().to_string());
    let mut got = 0;
    let error = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => got += chunk.len(),
            Ok(None) => panic!("the body ended cleanly after {got} bytes"),
            Err(e) => break e,
        }
    };
    assert!(got < VIDEO.len(), "{got} bytes: {error}");
    assert_eq!(sb.stats().faults["truncate"], 1);
}

#[tokio::test]
async fn expired_urls_answer_403_and_a_fresh_get_gives_fresh_ones() {
    let sb = start(|c| c.faults = faults("[download]\nurl_ttl_seconds = 1")).await;
    let api = Api::new(&sb);
    let job = finished(&api).await;
    let url = job["output"].as_str().unwrap().to_owned();
    assert_eq!(
        api.http.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = api.http.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    assert!(expired
        .text()
        .await
        .unwrap()
        .contains("Request has expired"));
    let fresh = api.job(job["id"].as_str().unwrap()).await;
    let fresh_url = fresh["output"].as_str().unwrap();
    assert_ne!(fresh_url, url);
    assert_eq!(
        api.http.get(fresh_url).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_synthetic_video_has_the_asked_size_and_stable_bytes() {
    let size = 3_000_000u64;
    let sb = start(|c| c.options.video_bytes = Some(size)).await;
    let api = Api::new(&sb);
    let job = finished(&api).await;
    let url = job["output"].as_str().unwrap();
    let whole = api
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(whole.len() as u64, size);
    let part = api
        .http
        .get(url)
        .header("Range", "bytes=1000003-1000999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.bytes().await.unwrap(),
        whole.slice(1_000_003..1_001_000)
    );
}
