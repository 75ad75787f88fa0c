//! `Limit`/`NextToken` paging over lists sorted by a unique key.
//!
//! A token names the last key already returned (hex-encoded, so it is opaque and survives any
//! character in a name); the next page starts after it, so pages stay stable when items are added
//! or removed between calls.

use crate::error::{ApiError, Violations};

/// A page request, checked.
pub struct Page {
    pub after: Option<String>,
    pub limit: usize,
}

const TOKEN_PREFIX: &str = "eddy1";

impl Page {
    /// Checks `Limit` (1–100, default `default_limit`) and decodes `NextToken`.
    pub fn new(
        v: &mut Violations,
        next_token: Option<&str>,
        limit: Option<i64>,
        default_limit: usize,
    ) -> Result<Self, ApiError> {
        v.range("limit", limit, 1, 100);
        v.length("nextToken", next_token, 1, 2048);
        let after = match next_token {
            None => None,
            Some(t) => Some(decode(t).ok_or_else(|| {
                ApiError::validation("The NextToken provided is not valid.".to_owned())
            })?),
        };
        let limit = limit.map_or(default_limit, |l| l.clamp(1, 100) as usize);
        Ok(Self { after, limit })
    }

    /// Takes one page of `items` (sorted by `key`, ascending) and the token for the next one.
    pub fn take<T>(&self, items: Vec<T>, key: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
        let mut rest: Vec<T> = match &self.after {
            Some(after) => items
                .into_iter()
                .filter(|i| key(i) > after.as_str())
                .collect(),
            None => items,
        };
        let more = rest.len() > self.limit;
        rest.truncate(self.limit);
        let token = if more {
            rest.last().map(|i| encode(key(i)))
        } else {
            None
        };
        (rest, token)
    }

    /// Takes one page and answers `{member: [wire(item)…], "NextToken": …}`.
    pub fn reply<T>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> &str,
        member: &str,
        wire: impl Fn(&T) -> serde_json::Value,
    ) -> Result<Vec<u8>, ApiError> {
        let (items, token) = self.take(items, key);
        let mut out = serde_json::Map::new();
        out.insert(member.to_owned(), items.iter().map(wire).collect());
        if let Some(t) = token {
            out.insert("NextToken".to_owned(), serde_json::Value::String(t));
        }
        super::reply(&out)
    }
}

fn encode(key: &str) -> String {
    let mut s = String::with_capacity(TOKEN_PREFIX.len() + key.len() * 2);
    s.push_str(TOKEN_PREFIX);
    for b in key.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn decode(token: &str) -> Option<String> {
    let hex = token.strip_prefix(TOKEN_PREFIX)?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_the_whole_list() {
        let items: Vec<String> = (0..7).map(|i| format!("r{i}")).collect();
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let mut v = Violations::new();
            let page = Page::new(&mut v, token.as_deref(), Some(3), 100).unwrap();
            let (got, next) = page.take(items.clone(), |s| s.as_str());
            seen.extend(got);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn bad_tokens_are_rejected() {
        let mut v = Violations::new();
        assert!(Page::new(&mut v, Some("garbage"), None, 100).is_err());
        assert!(Page::new(&mut v, Some("eddy1zz"), None, 100).is_err());
        assert_eq!(decode(&encode("a/b.c")), Some("a/b.c".to_owned()));
    }
}
