//! The two paid calls of the review workflow: `POST /api/lipsyncs_v2/preview/` (the same body
//! as a creation, the same exactly-once handling: [`CreateOutcome`]) and
//! `POST /api/lipsyncs_v2/{id}/render/` (no body). Neither is ever retried here.
//!
//! The preview may answer synchronously (200 with the finished preview) or asynchronously
//! (201, then polled): both are a job object, read the same tolerant way; the engine decides
//! "preview ready" from the job's `preview` and `output`, never from the status code.

use std::sync::atomic::Ordering;

use reqwest::Method;

use super::client::{ApiClient, CreateOutcome};
use super::error::ApiError;
use super::model::{CreateLipsync, Job};

/// What a render POST ended in. Only `Taken` and `NotTaken` are certain.
#[derive(Debug)]
pub enum RenderOutcome {
    /// A 2xx: the render was taken. The job object when the answer could be read.
    Taken(Option<Box<Job>>),
    /// Certainly not taken: a 4xx (400, 401/403, 402, 404, 429), a refused connection, or
    /// withdrawn before it left.
    NotTaken(ApiError),
    /// Maybe taken (timeout after sending, reset, 5xx): read the job before anything else.
    Ambiguous(ApiError),
}

impl ApiClient {
    /// `POST /api/lipsyncs_v2/preview/`, once.
    pub async fn create_preview(&self, body: &CreateLipsync) -> CreateOutcome {
        self.create_at("api/lipsyncs_v2/preview/", body).await
    }

    /// `POST /api/lipsyncs_v2/{id}/render/`, once.
    pub async fn render(&self, job_id: &str) -> RenderOutcome {
        let mut url = self.url("api/lipsyncs_v2/");
        match url.path_segments_mut() {
            Ok(mut p) => {
                p.pop_if_empty().push(job_id).push("render").push("");
            }
            Err(()) => {
                return RenderOutcome::NotTaken(ApiError::Decode {
                    status: 0,
                    message: "the base URL cannot take a path".into(),
                })
            }
        }
        let sent = self.send(Method::POST, url, None).await;
        if !matches!(sent, Err(ApiError::NotSent)) {
            self.counts.render.fetch_add(1, Ordering::Relaxed);
        }
        render_outcome(sent)
    }
}

/// How a render's answer reads: the decision table of the exactly-once rule for renders.
fn render_outcome(sent: Result<(reqwest::StatusCode, String), ApiError>) -> RenderOutcome {
    match sent {
        Ok((_, text)) => {
            RenderOutcome::Taken(serde_json::from_str::<Job>(&text).ok().map(Box::new))
        }
        Err(
            e @ ApiError::Network {
                maybe_sent: false, ..
            },
        )
        | Err(e @ ApiError::NotSent) => RenderOutcome::NotTaken(e),
        Err(e @ ApiError::Network { .. }) => RenderOutcome::Ambiguous(e),
        Err(
            e @ ApiError::Status {
                status: 500..=599, ..
            },
        ) => RenderOutcome::Ambiguous(e),
        // An error page where a status was expected is as unsure as a 5xx.
        Err(e @ ApiError::Decode { .. }) => RenderOutcome::Ambiguous(e),
        Err(e) => RenderOutcome::NotTaken(e),
    }
}

/// Reads a preview POST's answer body, for tests of both shapes (see [`ApiClient::create_preview`]).
pub fn preview_answer(text: &str) -> Result<Job, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    /// The synchronous shape (200, the finished preview) and the asynchronous one (201,
    /// pending) both read as a job; only `preview`/`output` say whether it is ready.
    #[test]
    fn both_preview_answer_shapes_read() {
        let sync = r#"{"id":"j1","status":"done","progress":"100","preview":"https://x/preview?layout=a.json","output":null,"credits_used":"1"}"#;
        let job = preview_answer(sync).unwrap();
        assert_eq!(
            job.preview.as_deref(),
            Some("https://x/preview?layout=a.json")
        );
        assert_eq!(job.output, None);
        assert_eq!(job.credits_used, Some(1.0));
        let asynchronous = r#"{"id":"j2","status":"pending","preview":null}"#;
        let job = preview_answer(asynchronous).unwrap();
        assert_eq!((job.preview, job.output), (None, None));
        // An unknown status word is kept, not an error.
        assert!(preview_answer(r#"{"id":"j3","status":"previewed"}"#).is_ok());
    }

    #[test]
    fn render_answers_are_sorted_into_taken_refused_and_unsure() {
        let taken = render_outcome(Ok((
            StatusCode::OK,
            r#"{"id":"j","status":"pending"}"#.into(),
        )));
        assert!(matches!(taken, RenderOutcome::Taken(Some(_))));
        // A 2xx whose body cannot be read was still taken.
        let taken = render_outcome(Ok((StatusCode::OK, "<html>".into())));
        assert!(matches!(taken, RenderOutcome::Taken(None)));
        for status in [400, 401, 402, 404] {
            let r = render_outcome(Err(ApiError::Status {
                status,
                detail: String::new(),
            }));
            assert!(matches!(r, RenderOutcome::NotTaken(_)), "{status}");
        }
        let refused = ApiError::Network {
            message: "refused".into(),
            maybe_sent: false,
        };
        assert!(matches!(
            render_outcome(Err(refused)),
            RenderOutcome::NotTaken(_)
        ));
        let reset = ApiError::Network {
            message: "reset".into(),
            maybe_sent: true,
        };
        assert!(matches!(
            render_outcome(Err(reset)),
            RenderOutcome::Ambiguous(_)
        ));
        let e503 = ApiError::Status {
            status: 503,
            detail: String::new(),
        };
        assert!(matches!(
            render_outcome(Err(e503)),
            RenderOutcome::Ambiguous(_)
        ));
    }
}
