//! What is refused before anything is paid for: wrong storage credentials, a bucket that
//! does not exist, and a batch asked to deliver somewhere else than it did.

use creatify_batch::sandbox::Faults;

use super::delivery::{finish, s3_run, s3_run_to};
use super::seaweed::{self, list, server, SECRET_KEY};
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn wrong_storage_credentials_exit_2_before_any_creation_and_never_print_the_secret() {
    server();
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("creds.csv", &sheet_of(2));
    let prefix = seaweed::prefix("creds");
    let wrong = "wrong-SECRET-value-0c9d";
    let mut cmd = s3_run(&h, &sheet, &prefix, &[]);
    cmd.env("AWS_SECRET_ACCESS_KEY", wrong);
    let out = finish(cmd).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("refused the credentials"), "{all}");
    assert!(all.contains("nothing was sent"), "{all}");
    assert!(
        !all.contains(wrong) && !all.contains(SECRET_KEY),
        "a secret leaked: {all}"
    );
    assert!(!all.contains(&h.key), "the API key leaked: {all}");
    assert_eq!(h.stats().creations_arrived, 0);
    assert!(list(&prefix).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_that_does_not_exist_is_named_and_nothing_is_created() {
    server();
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("nobucket.csv", &sheet_of(2));
    let cmd = s3_run_to(&h, &sheet, "s3://no-such-bucket-4f1/p", &[]);
    let out = finish(cmd).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("\"no-such-bucket-4f1\" does not exist"),
        "{all}"
    );
    assert_eq!(h.stats().creations_arrived, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_refused_another_target_than_the_one_it_delivered_to() {
    server();
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("moved.csv", &sheet_of(1));
    let prefix = seaweed::prefix("moved");
    let first = finish(s3_run(&h, &sheet, &prefix, &[])).await;
    assert_eq!(code(&first), 0, "{}", text(&first));
    let created = h.stats().creations_arrived;

    // The same batch folder, another prefix: its rows are not there.
    let other = finish(s3_run(&h, &sheet, &seaweed::prefix("elsewhere"), &[])).await;
    assert_eq!(code(&other), 2, "{}", text(&other));
    assert!(
        text(&other).contains(&format!("s3://videos/{prefix}/moved")),
        "{}",
        text(&other)
    );
    // Or the local folder.
    let local = h.run(&sheet, &[]).await;
    assert_eq!(code(&local), 2, "{}", text(&local));
    assert!(
        text(&local).contains("delivers its files to"),
        "{}",
        text(&local)
    );
    assert_eq!(h.stats().creations_arrived, created);

    // And a local batch is not moved to a bucket.
    let sheet = h.sheet("local.csv", &sheet_of(1));
    assert_eq!(code(&h.run(&sheet, &[]).await), 0);
    let up = finish(s3_run(&h, &sheet, &prefix, &[])).await;
    assert_eq!(code(&up), 2, "{}", text(&up));
    assert!(text(&up).contains("its local folder"), "{}", text(&up));
}
