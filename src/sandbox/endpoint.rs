//! Which endpoint a request is for, decided before routing: the fault group, the stats key,
//! and whether credentials and the rate limit apply all hang on it, and some of those
//! decisions (a reset) are made before the router ever sees the request.

use axum::http::Method;

use super::faults::Group;

/// The endpoints the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/api/lipsyncs_v2/` (POST creates, GET lists).
    Lipsyncs,
    /// `/api/lipsyncs_v2/preview/`.
    Preview,
    /// `/api/lipsyncs_v2/{id}/`.
    Lipsync,
    /// `/api/lipsyncs_v2/{id}/render/`.
    Render,
    /// `/api/remaining_credits/`.
    Credits,
    /// `/api/personas/`.
    Personas,
    /// `/api/personas/paginated/`.
    PersonasPaginated,
    /// `/api/personas/{id}/`.
    Persona,
    /// `/api/voices/`.
    Voices,
    /// `/api/voices/paginated/`.
    VoicesPaginated,
    /// `/media/jobs/{id}/{file}`.
    JobMedia,
    /// `/media/catalog/{file}`.
    CatalogMedia,
    /// `/preview/{id}/`.
    PreviewPage,
    /// `/media/previews/{id}/preview.mp4`.
    PreviewMedia,
    /// `/__sandbox/stats`.
    Stats,
    /// Anything else.
    Other,
}

impl Endpoint {
    /// The endpoint for `path`.
    pub fn of(path: &str) -> Self {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["api", "lipsyncs_v2", ""] => Self::Lipsyncs,
            ["api", "lipsyncs_v2", "preview", ""] => Self::Preview,
            ["api", "lipsyncs_v2", id, ""] if !id.is_empty() => Self::Lipsync,
            ["api", "lipsyncs_v2", id, "render", ""] if !id.is_empty() => Self::Render,
            ["api", "remaining_credits", ""] => Self::Credits,
            ["api", "personas", ""] => Self::Personas,
            ["api", "personas", "paginated", ""] => Self::PersonasPaginated,
            ["api", "personas", id, ""] if !id.is_empty() => Self::Persona,
            ["api", "voices", ""] => Self::Voices,
            ["api", "voices", "paginated", ""] => Self::VoicesPaginated,
            ["media", "jobs", _, _] => Self::JobMedia,
            ["media", "catalog", _] => Self::CatalogMedia,
            ["media", "previews", _, _] => Self::PreviewMedia,
            ["preview", _, ""] => Self::PreviewPage,
            ["__sandbox", "stats"] => Self::Stats,
            _ => Self::Other,
        }
    }

    /// The route pattern, as stats name it.
    pub fn pattern(self) -> &'static str {
        match self {
            Self::Lipsyncs => "/api/lipsyncs_v2/",
            Self::Preview => "/api/lipsyncs_v2/preview/",
            Self::Lipsync => "/api/lipsyncs_v2/{id}/",
            Self::Render => "/api/lipsyncs_v2/{id}/render/",
            Self::Credits => "/api/remaining_credits/",
            Self::Personas => "/api/personas/",
            Self::PersonasPaginated => "/api/personas/paginated/",
            Self::Persona => "/api/personas/{id}/",
            Self::Voices => "/api/voices/",
            Self::VoicesPaginated => "/api/voices/paginated/",
            Self::JobMedia => "/media/jobs/{id}/{file}",
            Self::CatalogMedia => "/media/catalog/{file}",
            Self::PreviewPage => "/preview/{id}/",
            Self::PreviewMedia => "/media/previews/{id}/{file}",
            Self::Stats => "/__sandbox/stats",
            Self::Other => "(unmatched)",
        }
    }

    /// Whether this is part of the real API: credentials and the rate limit apply.
    pub fn is_api(self) -> bool {
        matches!(
            self,
            Self::Lipsyncs
                | Self::Preview
                | Self::Lipsync
                | Self::Render
                | Self::Credits
                | Self::Personas
                | Self::PersonasPaginated
                | Self::Persona
                | Self::Voices
                | Self::VoicesPaginated
        )
    }

    /// The fault group a request with `method` belongs to; none for the sandbox's own pages.
    pub fn group(self, method: &Method) -> Option<Group> {
        match self {
            Self::Lipsyncs if method == Method::POST => Some(Group::Create),
            Self::Preview => Some(Group::Preview),
            Self::Render => Some(Group::Render),
            Self::Lipsyncs | Self::Lipsync => Some(Group::Poll),
            Self::Credits
            | Self::Personas
            | Self::PersonasPaginated
            | Self::Persona
            | Self::Voices
            | Self::VoicesPaginated => Some(Group::Account),
            Self::JobMedia | Self::CatalogMedia | Self::PreviewMedia => Some(Group::Download),
            Self::PreviewPage | Self::Stats | Self::Other => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_endpoints() {
        assert_eq!(Endpoint::of("/api/lipsyncs_v2/"), Endpoint::Lipsyncs);
        assert_eq!(Endpoint::of("/api/lipsyncs_v2/preview/"), Endpoint::Preview);
        assert_eq!(Endpoint::of("/api/lipsyncs_v2/abc/"), Endpoint::Lipsync);
        assert_eq!(
            Endpoint::of("/api/lipsyncs_v2/abc/render/"),
            Endpoint::Render
        );
        assert_eq!(Endpoint::of("/api/lipsyncs_v2"), Endpoint::Other);
        assert_eq!(Endpoint::of("/api/lipsyncs_v2//"), Endpoint::Other);
        assert_eq!(Endpoint::of("/media/jobs/x/video.mp4"), Endpoint::JobMedia);
        assert_eq!(
            Endpoint::of("/api/personas/paginated/"),
            Endpoint::PersonasPaginated
        );
        assert_eq!(Endpoint::of("/api/personas/abc/"), Endpoint::Persona);
        assert_eq!(Endpoint::Lipsyncs.group(&Method::GET), Some(Group::Poll));
    }
}
