//! `like` patterns: a string is a case-sensitive substring test, a `/regex/` a regular
//! expression search; a regex without metacharacters is run as a substring test.

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Substring(String),
    Regex(regex_lite::Regex),
}

impl Matcher {
    pub(crate) fn substring(s: String) -> Self {
        Matcher::Substring(s)
    }

    /// Compiles `/pattern/`; the error is regex-lite's message.
    pub(crate) fn regex(pattern: &str) -> Result<Self, String> {
        if !pattern.is_empty() && !pattern.contains(|c: char| "\\.+*?()|[]{}^$".contains(c)) {
            return Ok(Matcher::Substring(pattern.to_string()));
        }
        regex_lite::Regex::new(pattern)
            .map(Matcher::Regex)
            .map_err(|e| e.to_string())
    }

    pub(crate) fn is_match(&self, haystack: &str) -> bool {
        match self {
            Matcher::Substring(needle) => haystack.contains(needle.as_str()),
            Matcher::Regex(re) => re.is_match(haystack),
        }
    }
}
