//! The `wildcard` operand: `*` matches any run of characters, `\*` is a literal star and `\\` a
//! literal backslash; any other escape, a trailing backslash, or two consecutive unescaped `*`
//! make the pattern invalid.

/// A compiled wildcard: literal pieces between stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    pub text: String,
    pieces: Vec<Box<[u8]>>,
    lead_star: bool,
    trail_star: bool,
    stars: usize,
}

impl Wildcard {
    /// Parses a wildcard operand or returns the reason it is invalid.
    pub fn parse(text: &str) -> Result<Wildcard, String> {
        let b = text.as_bytes();
        let mut pieces: Vec<Box<[u8]>> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut lead_star = false;
        let mut trail_star = false;
        let mut prev_star = false;
        let mut stars = 0;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'*' => {
                    if prev_star {
                        return Err(format!("Consecutive wildcard characters at pos {i}"));
                    }
                    if i == 0 {
                        lead_star = true;
                    } else {
                        pieces.push(std::mem::take(&mut cur).into());
                    }
                    prev_star = true;
                    trail_star = true;
                    stars += 1;
                    i += 1;
                    continue;
                }
                b'\\' => match b.get(i + 1) {
                    Some(&c @ (b'*' | b'\\')) => {
                        cur.push(c);
                        i += 2;
                    }
                    _ => return Err(format!("Invalid escape character at pos {}", i + 1)),
                },
                c => {
                    cur.push(c);
                    i += 1;
                }
            }
            prev_star = false;
            trail_star = false;
        }
        if !trail_star || b.is_empty() {
            pieces.push(cur.into());
        }
        Ok(Wildcard {
            text: text.to_owned(),
            pieces,
            lead_star,
            trail_star,
            stars,
        })
    }

    /// Number of `*` in the operand, the unit of the complexity budget.
    pub fn stars(&self) -> usize {
        self.stars
    }

    /// Does the wildcard match the whole of `s`?
    pub fn matches(&self, s: &[u8]) -> bool {
        let n = self.pieces.len();
        if self.stars == 0 {
            return self.pieces.first().is_some_and(|p| s == &**p);
        }
        let mut lo = 0usize;
        let mut hi = s.len();
        let mut first = 0usize;
        let mut last = n;
        if !self.lead_star {
            let p = &self.pieces[0];
            if !s.starts_with(p) {
                return false;
            }
            lo = p.len();
            first = 1;
        }
        if !self.trail_star {
            let p = &self.pieces[n - 1];
            if hi < lo + p.len() || !s.ends_with(p) {
                return false;
            }
            hi -= p.len();
            last = n - 1;
        }
        for p in &self.pieces[first.min(last)..last] {
            match find(&s[lo..hi], p) {
                Some(at) => lo += at + p.len(),
                None => return false,
            }
        }
        true
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&c| c == first) {
            Some(off) => {
                i += off;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::Wildcard;

    fn m(p: &str, s: &str) -> bool {
        Wildcard::parse(p).unwrap().matches(s.as_bytes())
    }

    #[test]
    fn globbing() {
        assert!(m("*", ""));
        assert!(m("*", "abc"));
        assert!(m("a*", "a"));
        assert!(m("*bc", "bc"));
        assert!(!m("*bc", "bcd"));
        assert!(m("2*0*1*7", "2607117"));
        assert!(m("a*b*a", "aba"));
        assert!(!m("a*a", "a"));
        assert!(m("*foo*", "xfoox"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\b", r"a\b"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(Wildcard::parse("a**b").is_err());
        assert!(Wildcard::parse(r"a\b").is_err());
        assert!(Wildcard::parse("a\\").is_err());
        assert_eq!(Wildcard::parse("*a*b*").unwrap().stars(), 3);
        assert_eq!(Wildcard::parse("*").unwrap().stars(), 1);
        assert_eq!(Wildcard::parse("ab").unwrap().stars(), 0);
    }
}
