//! The browser boundary: a web page the developer visits must not be able to drive a listener
//! that can change or reveal state.
//!
//! A page can make a browser send "simple" requests anywhere, including to `127.0.0.1`, and a
//! page whose own name resolves to `127.0.0.1` (DNS rebinding) can even read the answers. So a
//! request is refused when:
//!
//! * it carries an `Origin` that is neither on the operator's allow-list nor the listener's own
//!   origin (browsers send `Origin` with every cross-origin request that is not a plain `GET` or
//!   `HEAD`; `Origin: null` from sandboxed frames and `file:` pages is refused too);
//! * it has no `Origin` but the browser marks it `Sec-Fetch-Site: cross-site` (a cross-site
//!   `GET` such as an `<img>` or a navigation);
//! * its `Host` is not a loopback name (`localhost`, `*.localhost`), a loopback address, the
//!   address the connection arrived on, or a name the operator allowed: a rebinding page's
//!   requests carry the page's own name.
//!
//! Clients that are not browsers (SDKs, the aws CLI, curl) send none of these headers and pass.
//! CORS preflights (`OPTIONS` with `Origin`) get permission only for allowed origins; answers to
//! allowed origins carry the CORS headers browsers need to read them.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::LocalAddr;

/// Which web origins and host names a listener accepts beyond its own.
#[derive(Debug, Clone, Default)]
pub struct Boundary {
    /// `scheme://host[:port]`, lowercase.
    origins: Vec<String>,
    /// Lowercase names; one starting with `.` also matches every name under it.
    hosts: Vec<String>,
}

/// Why a request was refused at the boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A page on another origin sent it (the `Origin` header's value).
    Origin(String),
    /// The browser marked it as sent by a page on another site.
    CrossSite,
    /// It addressed eddy by a name that is not eddy's (the `Host` header's value).
    Host(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Origin(o) => write!(
                f,
                "eddy refuses requests from web pages: origin `{o}` is not allowed (start eddy \
                 with `--allow-origin {o}` to let that page call it)"
            ),
            Self::CrossSite => f.write_str(
                "eddy refuses requests from web pages: the browser marked this request \
                 `Sec-Fetch-Site: cross-site`",
            ),
            Self::Host(h) => write!(
                f,
                "eddy refuses requests addressed to `{h}`: use a loopback name or address, or \
                 start eddy with `--allow-host NAME` for the name clients use"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// A configured origin or host that cannot be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntry(pub String);

impl std::fmt::Display for InvalidEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidEntry {}

impl Boundary {
    /// A boundary allowing `origins` (`http://localhost:5173`) and `hosts` (`eddy.internal`, or
    /// `.internal` for every name under it) besides the loopback ones.
    pub fn new(
        origins: impl IntoIterator<Item = String>,
        hosts: impl IntoIterator<Item = String>,
    ) -> Result<Self, InvalidEntry> {
        let mut this = Self::default();
        for o in origins {
            let lower = o.trim_end_matches('/').to_ascii_lowercase();
            let rest = lower
                .strip_prefix("http://")
                .or_else(|| lower.strip_prefix("https://"));
            match rest {
                Some(r) if !r.is_empty() && !r.contains(['/', '?', '#', ' ', '*']) => {
                    this.origins.push(lower);
                }
                _ => {
                    return Err(InvalidEntry(format!(
                        "`{o}` is not an origin: write it as a browser sends it, \
                         `scheme://host[:port]` (e.g. `http://localhost:5173`)"
                    )));
                }
            }
        }
        for h in hosts {
            let lower = h.trim_end_matches('.').to_ascii_lowercase();
            let bare = lower.strip_prefix('.').unwrap_or(&lower);
            if bare.is_empty()
                || !bare
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':')
            {
                return Err(InvalidEntry(format!(
                    "`{h}` is not a host name (e.g. `eddy.internal`, or `.internal` for every \
                     name under it)"
                )));
            }
            this.hosts.push(lower);
        }
        Ok(this)
    }

    /// Checks a request's headers; `local` is the address the connection arrived on.
    pub fn check(&self, headers: &HeaderMap, local: Option<IpAddr>) -> Result<(), Refusal> {
        let host = headers.get(header::HOST).map(|h| {
            String::from_utf8_lossy(h.as_bytes())
                .trim()
                .to_ascii_lowercase()
        });
        if let Some(host) = &host
            && !self.host_allowed(host, local)
        {
            return Err(Refusal::Host(host.clone()));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes()).to_ascii_lowercase();
            let same = host.as_deref().is_some_and(|h| same_origin(&origin, h));
            return if same || self.allows_origin(&origin) {
                Ok(())
            } else {
                Err(Refusal::Origin(origin))
            };
        }
        if headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
        {
            return Err(Refusal::CrossSite);
        }
        Ok(())
    }

    /// Whether `origin` (lowercase) is on the allow-list.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }

    /// Whether `host` (a `Host` header's value, lowercase) names this listener.
    fn host_allowed(&self, host: &str, local: Option<IpAddr>) -> bool {
        let name = host_name(host).trim_end_matches('.');
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            let ip = ip.to_canonical();
            return ip.is_loopback()
                || local.is_some_and(|l| !l.is_unspecified() && l.to_canonical() == ip)
                || self.hosts.iter().any(|h| h == name);
        }
        self.hosts.iter().any(|h| match h.strip_prefix('.') {
            Some(parent) => name == parent || name.ends_with(h.as_str()),
            None => name == h,
        })
    }
}

/// The name or address of a `Host` value, without its port (and without IPv6 brackets).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn same_origin(origin: &str, host: &str) -> bool {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o == host)
}

/// Enforces a [`Boundary`] in front of a router, wording refusals with `refuse`.
#[derive(Clone)]
pub struct Guard {
    boundary: Arc<Boundary>,
    refuse: fn(&Refusal) -> Response,
}

impl Guard {
    pub fn new(boundary: Arc<Boundary>, refuse: fn(&Refusal) -> Response) -> Self {
        Self { boundary, refuse }
    }

    /// The boundary this guard enforces.
    pub fn boundary(&self) -> &Boundary {
        &self.boundary
    }
}

/// The response headers browsers may read from answers to allowed origins.
const EXPOSED: &str = "x-amzn-requestid, x-amzn-errortype, x-amzn-query-error, x-amz-request-id, \
                       x-amz-id-2, x-amz-function-error, x-amz-log-result, \
                       x-amz-executed-version, x-amz-version-id, etag, apigw-requestid";

/// Middleware (`axum::middleware::from_fn_with_state(guard, enforce)`): refuses what the
/// boundary refuses, answers CORS preflights from allowed origins, and adds the CORS headers to
/// answers to them.
pub async fn enforce(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let local = req.extensions().get::<LocalAddr>().map(|l| l.0.ip());
    if let Err(refusal) = guard.boundary.check(req.headers(), local) {
        tracing::debug!(%refusal, "request refused at the browser boundary");
        return (guard.refuse)(&refusal);
    }
    // Past the check, an Origin is the listener's own or an allowed one.
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE"),
        );
        if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return res;
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn open() -> Boundary {
        Boundary::default()
    }

    #[test]
    fn clients_that_are_not_browsers_pass() {
        let b = open();
        assert_eq!(
            b.check(&headers(&[("host", "127.0.0.1:4566")]), None),
            Ok(())
        );
        assert_eq!(
            b.check(&headers(&[("host", "localhost:4566")]), None),
            Ok(())
        );
        assert_eq!(b.check(&headers(&[("host", "[::1]:4566")]), None), Ok(()));
        assert_eq!(b.check(&headers(&[("host", "LOCALHOST.")]), None), Ok(()));
        assert_eq!(
            b.check(
                &headers(&[("host", "abc.execute-api.localhost:3000")]),
                None
            ),
            Ok(())
        );
        assert_eq!(b.check(&HeaderMap::new(), None), Ok(()));
    }

    #[test]
    fn foreign_origins_and_cross_site_requests_are_refused() {
        let b = open();
        for origin in ["http://evil.example", "null", "http://localhost:5173"] {
            assert_eq!(
                b.check(
                    &headers(&[("host", "127.0.0.1:4566"), ("origin", origin)]),
                    None
                ),
                Err(Refusal::Origin(origin.to_owned()))
            );
        }
        assert_eq!(
            b.check(
                &headers(&[("host", "127.0.0.1:4566"), ("sec-fetch-site", "cross-site")]),
                None
            ),
            Err(Refusal::CrossSite)
        );
        assert_eq!(
            b.check(
                &headers(&[
                    ("host", "127.0.0.1:4566"),
                    ("sec-fetch-site", "same-origin")
                ]),
                None
            ),
            Ok(())
        );
    }

    #[test]
    fn own_and_allowed_origins_pass() {
        let b = Boundary::new(["http://localhost:5173/".to_owned()], []).unwrap();
        let h = headers(&[
            ("host", "127.0.0.1:4566"),
            ("origin", "http://LOCALHOST:5173"),
        ]);
        assert_eq!(b.check(&h, None), Ok(()));
        let own = headers(&[
            ("host", "localhost:4566"),
            ("origin", "http://localhost:4566"),
        ]);
        assert_eq!(open().check(&own, None), Ok(()));
    }

    #[test]
    fn rebinding_names_are_refused() {
        let b = Boundary::new([], ["eddy.internal".to_owned(), ".corp".to_owned()]).unwrap();
        for host in [
            "evil.example:4566",
            "127.0.0.1.nip.io",
            "0.0.0.0:4566",
            "10.0.0.5:4566",
        ] {
            assert_eq!(
                b.check(&headers(&[("host", host)]), None),
                Err(Refusal::Host(host.to_owned()))
            );
        }
        for host in ["eddy.internal:4566", "a.b.corp", "corp"] {
            assert_eq!(b.check(&headers(&[("host", host)]), None), Ok(()), "{host}");
        }
        let local = Some("10.0.0.5".parse().unwrap());
        assert_eq!(
            b.check(&headers(&[("host", "10.0.0.5:4566")]), local),
            Ok(())
        );
        let unspecified = Some("0.0.0.0".parse().unwrap());
        assert!(
            b.check(&headers(&[("host", "0.0.0.0:4566")]), unspecified)
                .is_err()
        );
    }

    #[test]
    fn entries_are_checked() {
        assert!(Boundary::new(["localhost:5173".to_owned()], []).is_err());
        assert!(Boundary::new(["http://*".to_owned()], []).is_err());
        assert!(Boundary::new([], ["ev il".to_owned()]).is_err());
    }
}
