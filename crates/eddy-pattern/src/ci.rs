//! Case-insensitive operands (`equals-ignore-case` and the ignore-case forms of `prefix`,
//! `suffix` and `anything-but`).
//!
//! The rule, as EventBridge's engine applies it: each character `c` of the pattern matches the
//! UTF-8 text of `lowercase(c)` or of `uppercase(c)` in the event, using the full Unicode
//! (locale-independent) case mappings of that single character. So pattern `ß` matches event
//! `ß` or `SS`, and pattern `Σ` matches `σ` or `Σ` (never the final form `ς`). Characters are
//! compared per code point (event-ruler works per UTF-16 unit, which only differs for
//! characters outside the Basic Multilingual Plane, where we do the sensible thing).

/// A compiled case-insensitive operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiPat {
    /// The operand as written.
    pub text: String,
    /// ASCII-lowercased bytes when the operand is all ASCII (the fast path).
    pub ascii_lower: Option<Box<[u8]>>,
    /// Per character: the accepted byte sequences (one or two).
    alts: Vec<Vec<Box<[u8]>>>,
}

/// How much of the event string the operand must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Whole,
    Prefix,
    Suffix,
}

impl CiPat {
    pub fn new(text: &str) -> CiPat {
        let ascii_lower = text
            .is_ascii()
            .then(|| text.to_ascii_lowercase().into_bytes().into());
        let alts = text
            .chars()
            .map(|c| {
                let lo: String = c.to_lowercase().collect();
                let up: String = c.to_uppercase().collect();
                let mut v: Vec<Box<[u8]>> = vec![lo.into_bytes().into()];
                if up.as_bytes() != &*v[0] {
                    v.push(up.into_bytes().into());
                }
                v
            })
            .collect();
        CiPat {
            text: text.to_owned(),
            ascii_lower,
            alts,
        }
    }

    /// Does the operand match `s` under `anchor`?
    pub fn matches(&self, s: &[u8], anchor: Anchor) -> bool {
        if let Some(p) = &self.ascii_lower {
            return match anchor {
                Anchor::Whole => s.len() == p.len() && eq_ascii_ci(s, p),
                Anchor::Prefix => s.len() >= p.len() && eq_ascii_ci(&s[..p.len()], p),
                Anchor::Suffix => s.len() >= p.len() && eq_ascii_ci(&s[s.len() - p.len()..], p),
            };
        }
        // General case: track the set of reachable offsets.
        let mut cur: Vec<usize> = vec![if anchor == Anchor::Suffix { s.len() } else { 0 }];
        let mut next: Vec<usize> = Vec::new();
        let n = self.alts.len();
        for k in 0..n {
            let alts = if anchor == Anchor::Suffix {
                &self.alts[n - 1 - k]
            } else {
                &self.alts[k]
            };
            next.clear();
            for &pos in &cur {
                for a in alts {
                    let np = if anchor == Anchor::Suffix {
                        match pos.checked_sub(a.len()) {
                            Some(st) if s[st..pos] == **a => st,
                            _ => continue,
                        }
                    } else {
                        match s.get(pos..pos + a.len()) {
                            Some(w) if w == &**a => pos + a.len(),
                            _ => continue,
                        }
                    };
                    if !next.contains(&np) {
                        next.push(np);
                    }
                }
            }
            std::mem::swap(&mut cur, &mut next);
            if cur.is_empty() {
                return false;
            }
        }
        match anchor {
            Anchor::Whole => cur.contains(&s.len()),
            Anchor::Prefix | Anchor::Suffix => true,
        }
    }
}

/// `s` equals the lowercase ASCII `p` ignoring ASCII case.
#[inline]
pub fn eq_ascii_ci(s: &[u8], p: &[u8]) -> bool {
    s.len() == p.len() && s.iter().zip(p).all(|(a, b)| a.to_ascii_lowercase() == *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_rules() {
        let p = CiPat::new("ß");
        assert!(p.matches("ß".as_bytes(), Anchor::Whole));
        assert!(p.matches(b"SS", Anchor::Whole));
        assert!(!p.matches(b"ss", Anchor::Whole));
        let p = CiPat::new("Straße");
        assert!(p.matches("STRASSE".as_bytes(), Anchor::Whole));
        assert!(!p.matches("strasse".as_bytes(), Anchor::Whole));
        assert!(p.matches("straße".as_bytes(), Anchor::Whole));
        let p = CiPat::new("éA");
        assert!(p.matches("xÉa".as_bytes(), Anchor::Suffix));
        assert!(p.matches("Éaz".as_bytes(), Anchor::Prefix));
        assert!(CiPat::new("AbC").matches(b"aBc", Anchor::Whole));
        assert!(!CiPat::new("AbC").matches(b"aBcd", Anchor::Whole));
    }
}
