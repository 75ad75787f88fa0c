//! CORS for an API, as API Gateway HTTP APIs do it when a CORS configuration is set: preflight
//! requests (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) are answered by the
//! gateway (204, never reaching a route), and every other response to an allowed origin gets
//! `Access-Control-Allow-Origin` (and the exposed headers and credentials flag).

use axum::http::{HeaderMap, HeaderValue};

use super::Cors;

/// A compiled CORS configuration.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    any_origin: bool,
    origins: Vec<String>,
    methods: String,
    headers: String,
    any_header: bool,
    expose: String,
    max_age: Option<i64>,
    credentials: bool,
}

fn join(v: &[String]) -> String {
    v.join(",")
}

impl CorsPolicy {
    pub fn new(c: &Cors) -> Self {
        Self {
            any_origin: c.allow_origins.iter().any(|o| o == "*"),
            origins: c
                .allow_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            methods: if c.allow_methods.iter().any(|m| m == "*") {
                "*".to_owned()
            } else {
                join(&c.allow_methods)
            },
            headers: join(&c.allow_headers),
            any_header: c.allow_headers.iter().any(|h| h == "*"),
            expose: join(&c.expose_headers),
            max_age: c.max_age,
            credentials: c.allow_credentials.unwrap_or(false),
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if it is allowed.
    fn allow_origin(&self, origin: &str) -> Option<String> {
        if self.any_origin && !self.credentials {
            Some("*".to_owned())
        } else if self.any_origin
            || self
                .origins
                .iter()
                .any(|o| *o == origin.to_ascii_lowercase())
        {
            Some(origin.to_owned())
        } else {
            None
        }
    }

    /// Whether a request is a preflight request.
    pub fn is_preflight(method: &str, headers: &HeaderMap) -> bool {
        method == "OPTIONS"
            && headers.contains_key("origin")
            && headers.contains_key("access-control-request-method")
    }

    /// The headers of a preflight answer (none when the origin is not allowed).
    pub fn preflight(&self, headers: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        let origin = headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(allow) = self.allow_origin(origin) else {
            return out;
        };
        put(&mut out, "access-control-allow-origin", &allow);
        if !self.methods.is_empty() {
            put(&mut out, "access-control-allow-methods", &self.methods);
        }
        let requested = headers
            .get("access-control-request-headers")
            .and_then(|v| v.to_str().ok());
        if self.any_header {
            if let Some(r) = requested {
                put(&mut out, "access-control-allow-headers", r);
            }
        } else if !self.headers.is_empty() {
            put(&mut out, "access-control-allow-headers", &self.headers);
        }
        if let Some(age) = self.max_age.filter(|a| *a >= 0) {
            put(&mut out, "access-control-max-age", &age.to_string());
        }
        if self.credentials {
            put(&mut out, "access-control-allow-credentials", "true");
        }
        if allow != "*" {
            put(&mut out, "vary", "Origin");
        }
        out
    }

    /// Adds the CORS headers of an actual (non-preflight) response.
    pub fn decorate(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let Some(origin) = request.get("origin").and_then(|v| v.to_str().ok()) else {
            return;
        };
        let Some(allow) = self.allow_origin(origin) else {
            return;
        };
        put(response, "access-control-allow-origin", &allow);
        if !self.expose.is_empty() {
            put(response, "access-control-expose-headers", &self.expose);
        }
        if self.credentials {
            put(response, "access-control-allow-credentials", "true");
        }
        if allow != "*" {
            put(response, "vary", "Origin");
        }
    }
}

fn put(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_for_allowed_origins_only() {
        let p = CorsPolicy::new(&Cors {
            allow_origins: vec!["https://app.example".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["content-type".into()],
            max_age: Some(600),
            ..Cors::default()
        });
        let mut req = HeaderMap::new();
        req.insert("origin", HeaderValue::from_static("https://app.example"));
        req.insert(
            "access-control-request-method",
            HeaderValue::from_static("POST"),
        );
        assert!(CorsPolicy::is_preflight("OPTIONS", &req));
        let h = p.preflight(&req);
        assert_eq!(h["access-control-allow-origin"], "https://app.example");
        assert_eq!(h["access-control-allow-methods"], "GET,POST");
        assert_eq!(h["access-control-max-age"], "600");
        req.insert("origin", HeaderValue::from_static("https://evil.example"));
        assert!(p.preflight(&req).is_empty());
    }
}
