//! Route selection as API Gateway HTTP APIs do it: route keys (`GET /items/{id}`, `ANY
//! /files/{proxy+}`, `$default`), parsed once, and the choice of the most specific route for a
//! request.
//!
//! Specificity: segment by segment, a literal beats a `{param}`, which beats a greedy
//! `{proxy+}`; then a named method beats `ANY`; `$default` answers only when nothing else does.
//! When no route matches the path the answer is 404 `{"message":"Not Found"}`; when a route
//! matches the path under other methods only (and the API has no `$default`), eddy answers 405
//! `{"message":"Method Not Allowed"}` with `Allow`.

use std::cmp::Ordering;

/// One segment of a route's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
    /// `{name+}`: one or more segments; always last.
    Greedy(String),
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    Default,
    Route {
        /// Upper case; `ANY` matches every method.
        method: String,
        segments: Vec<Segment>,
    },
}

const METHODS: &[&str] = &[
    "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

impl RouteKey {
    /// Parses `METHOD /path` or `$default`; `Err` carries AWS's message.
    pub fn parse(key: &str) -> Result<Self, String> {
        if key == "$default" {
            return Ok(Self::Default);
        }
        let bad = || format!("Unable to parse route key: {key}");
        let (method, path) = key.split_once(' ').ok_or_else(bad)?;
        if !METHODS.contains(&method) {
            return Err(format!(
                "Invalid HTTP method {method} in route key {key}; use one of {}",
                METHODS.join(", ")
            ));
        }
        if !path.starts_with('/') || path.contains(' ') {
            return Err(bad());
        }
        let raw: Vec<&str> = path.split('/').skip(1).collect();
        let raw: Vec<&str> = if raw == [""] { Vec::new() } else { raw };
        let mut segments = Vec::with_capacity(raw.len());
        for (i, s) in raw.iter().enumerate() {
            if s.is_empty() {
                return Err(bad());
            }
            let seg = match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    if let Some(name) = name.strip_suffix('+') {
                        if i + 1 != raw.len() {
                            return Err(format!(
                                "Route key {key} is invalid: a greedy path variable must be the \
                                 last segment"
                            ));
                        }
                        Segment::Greedy(name.to_owned())
                    } else {
                        Segment::Param(name.to_owned())
                    }
                }
                None if s.contains(['{', '}']) => return Err(bad()),
                None => Segment::Literal((*s).to_owned()),
            };
            if let Segment::Param(n) | Segment::Greedy(n) = &seg
                && (n.is_empty()
                    || !n
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
            {
                return Err(bad());
            }
            segments.push(seg);
        }
        Ok(Self::Route {
            method: method.to_owned(),
            segments,
        })
    }

    /// Two keys that select the same requests (`/a/{x}` and `/a/{y}`).
    pub fn same_shape(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Default, Self::Default) => true,
            (
                Self::Route {
                    method: m1,
                    segments: s1,
                },
                Self::Route {
                    method: m2,
                    segments: s2,
                },
            ) => {
                m1 == m2
                    && s1.len() == s2.len()
                    && s1.iter().zip(s2).all(|(a, b)| match (a, b) {
                        (Segment::Literal(x), Segment::Literal(y)) => x == y,
                        (Segment::Param(_), Segment::Param(_))
                        | (Segment::Greedy(_), Segment::Greedy(_)) => true,
                        _ => false,
                    })
            }
            _ => false,
        }
    }
}

/// What route selection found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    /// The route's index and its path parameters (decoded).
    Route(usize, Vec<(String, String)>),
    NotFound,
    /// The path matches routes of these methods only.
    MethodNotAllowed(Vec<String>),
}

/// The routes of one API.
#[derive(Debug, Clone, Default)]
pub struct RouteSet {
    keys: Vec<RouteKey>,
    default: Option<usize>,
}

/// Ranks one segment: literal 3, param 2, greedy 1.
fn rank(s: &Segment) -> u8 {
    match s {
        Segment::Literal(_) => 3,
        Segment::Param(_) => 2,
        Segment::Greedy(_) => 1,
    }
}

/// Matches a route's segments against a path's; returns the path parameters.
fn match_path(route: &[Segment], path: &[&str]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (i, seg) in route.iter().enumerate() {
        match seg {
            Segment::Literal(l) => {
                if path.get(i).is_none_or(|p| p != l) {
                    return None;
                }
            }
            Segment::Param(n) => {
                let p = path.get(i).filter(|p| !p.is_empty())?;
                params.push((n.clone(), eddy_net::url::percent_decode(p)));
            }
            Segment::Greedy(n) => {
                if i >= path.len() {
                    return None;
                }
                let rest = path[i..].join("/");
                params.push((n.clone(), eddy_net::url::percent_decode(&rest)));
                return Some(params);
            }
        }
    }
    (route.len() == path.len()).then_some(params)
}

impl RouteSet {
    pub fn new(keys: Vec<RouteKey>) -> Self {
        let default = keys.iter().position(|k| *k == RouteKey::Default);
        Self { keys, default }
    }

    pub fn keys(&self) -> &[RouteKey] {
        &self.keys
    }

    /// Selects the route for `method` and the path `segments` (raw, still percent-encoded; a
    /// trailing empty segment from a trailing slash is ignored).
    pub fn select(&self, method: &str, segments: &[&str]) -> Selected {
        let segments = match segments.split_last() {
            Some((&"", rest)) => rest,
            _ => segments,
        };
        let mut best: Option<(usize, Vec<(String, String)>)> = None;
        let mut allowed: Vec<String> = Vec::new();
        for (i, key) in self.keys.iter().enumerate() {
            let RouteKey::Route {
                method: m,
                segments: route,
            } = key
            else {
                continue;
            };
            let Some(params) = match_path(route, segments) else {
                continue;
            };
            if m != "ANY" && m != method {
                if !allowed.contains(m) {
                    allowed.push(m.clone());
                }
                continue;
            }
            let better = match &best {
                None => true,
                Some((j, _)) => self.compare(i, *j) == Ordering::Greater,
            };
            if better {
                best = Some((i, params));
            }
        }
        match (best, self.default) {
            (Some((i, p)), _) => Selected::Route(i, p),
            (None, Some(d)) => Selected::Route(d, Vec::new()),
            (None, None) if !allowed.is_empty() => Selected::MethodNotAllowed(allowed),
            (None, None) => Selected::NotFound,
        }
    }

    /// Which of two matching routes is more specific.
    fn compare(&self, a: usize, b: usize) -> Ordering {
        let (
            RouteKey::Route {
                method: ma,
                segments: sa,
            },
            RouteKey::Route {
                method: mb,
                segments: sb,
            },
        ) = (&self.keys[a], &self.keys[b])
        else {
            return Ordering::Equal;
        };
        for (x, y) in sa.iter().zip(sb) {
            match rank(x).cmp(&rank(y)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        // A longer route matched the same path only through a greedy segment of the shorter
        // one; the longer is more specific.
        sa.len()
            .cmp(&sb.len())
            .then((ma != "ANY").cmp(&(mb != "ANY")))
            // Equal: the first defined wins.
            .then(b.cmp(&a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &[&str]) -> RouteSet {
        RouteSet::new(keys.iter().map(|k| RouteKey::parse(k).unwrap()).collect())
    }

    fn pick(s: &RouteSet, method: &str, path: &str) -> Selected {
        let segs: Vec<&str> = path.split('/').skip(1).collect();
        s.select(method, &segs)
    }

    #[test]
    fn parses_route_keys() {
        assert_eq!(RouteKey::parse("$default"), Ok(RouteKey::Default));
        assert!(RouteKey::parse("GET /a/{id}/b").is_ok());
        assert!(RouteKey::parse("ANY /{proxy+}").is_ok());
        assert!(RouteKey::parse("GET /").is_ok());
        assert!(RouteKey::parse("FETCH /a").is_err());
        assert!(RouteKey::parse("GET a").is_err());
        assert!(RouteKey::parse("GET /{p+}/x").is_err());
        assert!(RouteKey::parse("GET /a//b").is_err());
        assert!(RouteKey::parse("GET /a{b}").is_err());
        assert!(RouteKey::parse("GET").is_err());
        assert!(
            RouteKey::parse("GET /a/{x}")
                .unwrap()
                .same_shape(&RouteKey::parse("GET /a/{y}").unwrap())
        );
    }

    #[test]
    fn most_specific_route_wins() {
        let s = set(&[
            "ANY /{proxy+}",
            "GET /items/{id}",
            "GET /items/special",
            "ANY /items/{id}",
            "POST /items",
            "GET /files/{path+}",
            "GET /",
            "$default",
        ]);
        assert_eq!(
            pick(&s, "GET", "/items/special"),
            Selected::Route(2, vec![])
        );
        assert_eq!(
            pick(&s, "GET", "/items/42"),
            Selected::Route(1, vec![("id".into(), "42".into())])
        );
        assert_eq!(
            pick(&s, "DELETE", "/items/42"),
            Selected::Route(3, vec![("id".into(), "42".into())])
        );
        assert_eq!(pick(&s, "POST", "/items"), Selected::Route(4, vec![]));
        assert_eq!(
            pick(&s, "GET", "/files/a/b%20c"),
            Selected::Route(5, vec![("path".into(), "a/b c".into())])
        );
        assert_eq!(
            pick(&s, "PUT", "/other/x"),
            Selected::Route(0, vec![("proxy".into(), "other/x".into())])
        );
        assert_eq!(pick(&s, "GET", "/"), Selected::Route(6, vec![]));
        assert_eq!(pick(&s, "POST", "/"), Selected::Route(7, vec![]));
    }

    #[test]
    fn not_found_and_method_not_allowed() {
        let s = set(&["GET /a", "POST /a", "GET /b/{id}"]);
        assert_eq!(pick(&s, "GET", "/c"), Selected::NotFound);
        assert_eq!(
            pick(&s, "DELETE", "/a"),
            Selected::MethodNotAllowed(vec!["GET".into(), "POST".into()])
        );
        assert_eq!(pick(&s, "GET", "/b"), Selected::NotFound);
        assert_eq!(pick(&s, "GET", "/b/"), Selected::NotFound);
        assert_eq!(pick(&s, "GET", "/a/"), Selected::Route(0, vec![]));
        let with_default = set(&["GET /a", "$default"]);
        assert_eq!(pick(&with_default, "PUT", "/a"), Selected::Route(1, vec![]));
    }
}
