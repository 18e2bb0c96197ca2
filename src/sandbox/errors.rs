//! The sandbox's error answers, shaped like Django REST Framework's: `{"detail": "..."}` for
//! request-level refusals, a nested field tree for 400s (`{"video_inputs":[{},{"voice":
//! {"input_text":["This field may not be blank."]}}]}`), and Django's plain HTML pages where
//! a real deployment answers outside DRF (unknown routes, proxies in front of it).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::dialect::{Dialect, RetryAfterForm};
use crate::api::validate::{FieldPath, Segment, Severity, Violation};

/// A refusal the handlers return; each variant knows its status and body.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with a DRF field-error tree.
    Fields(Value),
    /// Any status with `{"detail": ...}`, and a `Retry-After` in seconds for 429s.
    Detail {
        /// The status code.
        status: StatusCode,
        /// The `detail` text.
        detail: String,
        /// Seconds for `Retry-After`, when set.
        retry_after: Option<u64>,
    },
}

impl ApiError {
    /// `{"detail": ...}` with `status`.
    pub fn detail(status: StatusCode, detail: impl Into<String>) -> Self {
        Self::Detail {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// DRF's 404.
    pub fn not_found() -> Self {
        Self::detail(StatusCode::NOT_FOUND, "Not found.")
    }

    /// A 429 with `Retry-After: secs` (at least 1).
    pub fn too_many(detail: impl Into<String>, secs: u64) -> Self {
        Self::Detail {
            status: StatusCode::TOO_MANY_REQUESTS,
            detail: detail.into(),
            retry_after: Some(secs.max(1)),
        }
    }

    /// DRF's throttling answer.
    pub fn throttled(secs: u64) -> Self {
        let secs = secs.max(1);
        let unit = if secs == 1 { "second" } else { "seconds" };
        Self::too_many(
            format!("Request was throttled. Expected available in {secs} {unit}."),
            secs,
        )
    }

    /// One field error at `path`.
    pub fn field(path: &FieldPath, message: impl Into<String>) -> Self {
        let mut tree = FieldErrors::default();
        tree.add(path, message.into());
        tree.into_error()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Fields(tree) => (StatusCode::BAD_REQUEST, axum::Json(tree)).into_response(),
            Self::Detail {
                status,
                detail,
                retry_after,
            } => {
                let mut resp = (status, axum::Json(json!({ "detail": detail }))).into_response();
                if let Some(secs) = retry_after {
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
                resp
            }
        }
    }
}

/// Rewrites a 429's `Retry-After` the way `dialect` says: the value `retry_after_seconds`
/// asks for (else the one the sandbox computed), written as whole seconds, as an HTTP date
/// (rounded up to the next whole second, so it is never earlier than the wait), or left out.
pub fn dialect_retry_after(resp: &mut Response, dialect: &Dialect) {
    if resp.status() != StatusCode::TOO_MANY_REQUESTS {
        return;
    }
    let computed = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let Some(secs) = dialect.retry_after_seconds.or(computed) else {
        return;
    };
    let secs = secs.max(0.0).ceil();
    let headers = resp.headers_mut();
    match dialect.retry_after {
        RetryAfterForm::Seconds => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
        }
        RetryAfterForm::Missing => {
            headers.remove(header::RETRY_AFTER);
        }
        RetryAfterForm::HttpDate => {
            let now = std::time::SystemTime::now();
            let whole = now
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(whole + secs as u64);
            if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
    }
}

/// The refusal of a creation the account cannot pay for, with the status `status` (402 by
/// default; the dialect may pick 400 or 403). A 400 comes as DRF's `non_field_errors`, the
/// shape a serializer's validation error takes; other codes carry a `detail`.
pub fn insufficient_credits(status: u16, needed: f64, remaining: f64) -> ApiError {
    if status == 402 {
        return ApiError::detail(
            StatusCode::PAYMENT_REQUIRED,
            format!("Insufficient credits: this video needs {needed} credits, {remaining} remain."),
        );
    }
    let text = "You do not have enough credits to create this video.";
    if status == 400 {
        return ApiError::Fields(json!({ "non_field_errors": [text] }));
    }
    ApiError::detail(
        StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
        text,
    )
}

/// DRF's nested error tree: objects for serializers, lists padded with `{}` for list items
/// without errors, and a list of messages at each failing field.
#[derive(Debug, Default)]
pub struct FieldErrors(Value);

impl FieldErrors {
    /// Adds `message` at `path`.
    pub fn add(&mut self, path: &FieldPath, message: String) {
        if path.0.is_empty() {
            // DRF puts errors about the body as a whole under `non_field_errors`.
            let key = [Segment::Key("non_field_errors".into())];
            insert(&mut self.0, &key, message);
        } else {
            insert(&mut self.0, &path.0, message);
        }
    }

    /// Adds every error-severity violation, in DRF's wording.
    pub fn add_violations(&mut self, violations: &[Violation]) {
        for v in violations.iter().filter(|v| v.severity == Severity::Error) {
            self.add(&v.path, drf_message(&v.message));
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_null()
    }

    /// The 400 answer.
    pub fn into_error(self) -> ApiError {
        ApiError::Fields(self.0)
    }
}

fn insert(node: &mut Value, path: &[Segment], message: String) {
    match path.split_first() {
        None => match node {
            Value::Null => *node = json!([message]),
            Value::Array(items) => items.push(Value::String(message)),
            Value::Object(map) => {
                let here = map.entry("non_field_errors").or_insert_with(|| json!([]));
                if let Value::Array(items) = here {
                    items.push(Value::String(message));
                }
            }
            _ => {}
        },
        Some((Segment::Key(key), rest)) => {
            if !node.is_object() {
                // A field that already holds messages also gets errors below it: keep both.
                let earlier = std::mem::take(node);
                let mut map = Map::new();
                if !earlier.is_null() {
                    map.insert("non_field_errors".into(), earlier);
                }
                *node = Value::Object(map);
            }
            if let Value::Object(map) = node {
                insert(map.entry(key.clone()).or_insert(Value::Null), rest, message);
            }
        }
        Some((Segment::Index(i), rest)) => {
            if node.is_null() {
                *node = json!([]);
            }
            if let Value::Array(items) = node {
                while items.len() <= *i {
                    items.push(json!({}));
                }
                insert(&mut items[*i], rest, message);
            }
        }
    }
}

/// Rewords a message of [`crate::api::validate`] the way DRF words the same rule; anything
/// unknown is kept, capitalised, as a sentence.
pub fn drf_message(message: &str) -> String {
    let got = |m: &str| {
        m.rsplit_once("got ")
            .and_then(|(_, n)| n.trim().parse::<f64>().ok())
    };
    if message.starts_with("may not be blank") {
        "This field may not be blank.".into()
    } else if let Some(rest) = message.strip_prefix("must be at most ") {
        let max = rest.split_whitespace().next().unwrap_or("?");
        format!("Ensure this field has no more than {max} characters.")
    } else if message.starts_with("must be an http:// or https:// URL") {
        "Enter a valid URL.".into()
    } else if message.starts_with("must be between 0 and 1") {
        match got(message) {
            Some(x) if x < 0.0 => "Ensure this value is greater than or equal to 0.".into(),
            _ => "Ensure this value is less than or equal to 1.".into(),
        }
    } else if message.starts_with("must be more than 0") {
        "Ensure this value is greater than 0.".into()
    } else if message == "needs at least one scene" {
        "This list may not be empty.".into()
    } else if message.starts_with("every scene needs") {
        "This field is required.".into()
    } else {
        sentence(message)
    }
}

/// The 400 for a body that is not valid JSON or does not fit the request type, with the
/// error at the path where serde stopped.
pub fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = err.inner();
    if !inner.is_data() {
        return ApiError::detail(
            StatusCode::BAD_REQUEST,
            format!("JSON parse error - {inner}"),
        );
    }
    let mut path: Vec<Segment> =
        err.path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
    // serde_json appends " at line L column C"; DRF never shows positions.
    let text = inner.to_string();
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(t, _)| t);
    let message = if let Some(field) = between(text, "missing field `", "`") {
        path.push(Segment::Key(field.to_owned()));
        "This field is required.".to_owned()
    } else if let Some(field) = between(text, "unknown field `", "`") {
        if path.last() != Some(&Segment::Key(field.to_owned())) {
            path.push(Segment::Key(field.to_owned()));
        }
        "This field is not allowed.".to_owned()
    } else if let Some(value) = between(text, "unknown variant `", "`") {
        format!("\"{value}\" is not a valid choice.")
    } else if let Some(rest) = text.strip_prefix("invalid type: ") {
        invalid_type(rest)
    } else if let Some(rest) = text.strip_prefix("invalid value: ") {
        invalid_type(rest)
    } else {
        sentence(text)
    };
    let mut tree = FieldErrors::default();
    tree.add(&FieldPath(path), message);
    tree.into_error()
}

/// DRF's message for a value of the wrong JSON type; `rest` is serde's
/// `<found>, expected <wanted>`.
fn invalid_type(rest: &str) -> String {
    let (found, wanted) = rest.split_once(", expected ").unwrap_or((rest, ""));
    let found_kind = found.split_whitespace().next().unwrap_or("");
    let py = match found_kind {
        "map" => "dict",
        "sequence" => "list",
        "string" => "str",
        "integer" => "int",
        "floating" => "float",
        "boolean" => "bool",
        _ => found_kind,
    };
    if found_kind == "null" {
        "This field may not be null.".into()
    } else if wanted.contains("a sequence") {
        format!("Expected a list of items but got type \"{py}\".")
    } else if wanted.starts_with("struct") || wanted.contains("a map") {
        format!("Invalid data. Expected a dictionary, but got {py}.")
    } else if wanted.contains("string") {
        "Not a valid string.".into()
    } else if wanted.starts_with('u') || wanted.starts_with('i') {
        "A valid integer is required.".into()
    } else if wanted.starts_with('f') || wanted.contains("number") {
        "A valid number is required.".into()
    } else if wanted.contains("boolean") {
        "Must be a valid boolean.".into()
    } else {
        sentence(&format!("invalid value: {found}, expected {wanted}"))
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return "Invalid value.".into(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A Django-style HTML page, as proxies and Django itself answer outside DRF.
pub fn html_page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><title>{title}</title></head>\n\
         <body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::CreateLipsync;

    fn tree(e: ApiError) -> Value {
        match e {
            ApiError::Fields(v) => v,
            other => panic!("not a field error: {other:?}"),
        }
    }

    fn parse(json: &str) -> ApiError {
        let de = &mut serde_json::Deserializer::from_str(json);
        match serde_path_to_error::deserialize::<_, CreateLipsync>(de) {
            Ok(_) => panic!("{json} parsed"),
            Err(e) => from_serde(e),
        }
    }

    #[test]
    fn retry_after_is_written_in_the_dialects_form() {
        let with = |form, secs: Option<f64>| {
            let mut resp = ApiError::throttled(2).into_response();
            let d = Dialect {
                retry_after: form,
                retry_after_seconds: secs,
                ..Dialect::default()
            };
            dialect_retry_after(&mut resp, &d);
            resp.headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(with(RetryAfterForm::Seconds, None).as_deref(), Some("2"));
        assert_eq!(
            with(RetryAfterForm::Seconds, Some(86_400.0)).as_deref(),
            Some("86400")
        );
        assert_eq!(with(RetryAfterForm::Missing, None), None);
        let date = with(RetryAfterForm::HttpDate, None).expect("a date");
        let at = httpdate::parse_http_date(&date).expect("an HTTP date");
        let ahead = at
            .duration_since(std::time::SystemTime::now())
            .expect("in the future");
        assert!(ahead <= std::time::Duration::from_secs(4), "{date}");
        // Other answers are left alone.
        let mut ok = ApiError::not_found().into_response();
        dialect_retry_after(&mut ok, &Dialect::default());
        assert!(ok.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn list_items_without_errors_are_padded_with_empty_objects() {
        let mut t = FieldErrors::default();
        t.add(
            &FieldPath::dotted("video_inputs")
                .index(1)
                .key("voice")
                .key("input_text"),
            "This field may not be blank.".into(),
        );
        assert_eq!(
            tree(t.into_error()),
            json!({"video_inputs":[{},{"voice":{"input_text":["This field may not be blank."]}}]})
        );
    }

    #[test]
    fn serde_errors_land_at_their_path_in_drf_words() {
        let cases = [
            (
                r#"{"video_inputs":[{"character":{"avatar_id":"a"},"voice":{"input_text":"x"}}],"aspect_ratio":"9:16"}"#,
                json!({"aspect_ratio":["\"9:16\" is not a valid choice."]}),
            ),
            (
                r#"{"video_inputs":[{"character":{}}]}"#,
                json!({"video_inputs":[{"character":{"avatar_id":["This field is required."]}}]}),
            ),
            (
                r#"{"video_inputs":[{"voice":{"volume":"loud"}}]}"#,
                json!({"video_inputs":[{"voice":{"volume":["A valid number is required."]}}]}),
            ),
            (
                r#"{"video_inputs":{}}"#,
                json!({"video_inputs":["Expected a list of items but got type \"dict\"."]}),
            ),
            (
                r#"{"video_inputs":[],"nmae":"x"}"#,
                json!({"nmae":["This field is not allowed."]}),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(tree(parse(body)), want, "{body}");
        }
    }

    #[test]
    fn broken_json_is_a_parse_error_detail() {
        match parse("{\"video_inputs\":") {
            ApiError::Detail { status, detail, .. } => {
                assert_eq!(status, StatusCode::BAD_REQUEST);
                assert!(detail.starts_with("JSON parse error - "), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validation_messages_are_reworded_like_drf() {
        let body: CreateLipsync = serde_json::from_value(json!({
            "video_inputs":[{"character":{"avatar_id":" "},
                "voice":{"input_text":"x".repeat(2001), "volume": 1.5},
                "background":{"type":"image","url":"ftp://x/y.png"}}],
            "name":"n".repeat(256),
        }))
        .unwrap();
        let mut t = FieldErrors::default();
        t.add_violations(&crate::api::validate::validate(&body));
        assert_eq!(
            tree(t.into_error()),
            json!({
                "name":["Ensure this field has no more than 255 characters."],
                "video_inputs":[{
                    "character":{"avatar_id":["This field may not be blank."]},
                    "voice":{
                        "input_text":["Ensure this field has no more than 2000 characters."],
                        "volume":["Ensure this value is less than or equal to 1."]},
                    "background":{"url":["Enter a valid URL."]}}]
            })
        );
        assert_eq!(
            drf_message("needs at least one scene"),
            "This list may not be empty."
        );
        assert_eq!(
            drf_message("a silent scene needs a duration in seconds"),
            "A silent scene needs a duration in seconds."
        );
    }
}
