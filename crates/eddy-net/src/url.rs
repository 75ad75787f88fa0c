//! Decoding what URLs carry: percent-escapes in paths and query strings, and the
//! `name=value&…` pairs of query strings and form bodies; and percent-encoding values for them.

/// Decodes `%XX` escapes; malformed escapes are kept as they are, and bytes that are not UTF-8
/// become U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes `s` for a query string or form body: every byte but the unreserved ones
/// (`A-Z a-z 0-9 - _ . ~`) and those in `keep` becomes `%XX`.
pub fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `name=value` pairs of a query string or form body (`a=1&b=x+y`), in order and decoded
/// (`+` is a space); empty pairs are skipped and a name without `=` has the value "".
pub fn form_pairs(s: &str) -> impl Iterator<Item = (String, String)> + '_ {
    s.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode(&s.replace('+', " "));
        (decode(k), decode(v))
    })
}

#[cfg(test)]
mod tests {
    use super::{form_pairs, percent_decode, percent_encode};

    #[test]
    fn percent_encoding_round_trips() {
        let s = "a b&c=d/é:~";
        assert_eq!(percent_encode(s, b""), "a%20b%26c%3Dd%2F%C3%A9%3A~");
        assert_eq!(percent_encode(s, b":"), "a%20b%26c%3Dd%2F%C3%A9:~");
        assert_eq!(percent_decode(&percent_encode(s, b"")), s);
    }

    #[test]
    fn form_pairs_are_decoded_in_order() {
        let pairs: Vec<_> = form_pairs("Action=List%20Topics+x&&flag&a=1&a=2").collect();
        let want = [
            ("Action", "List Topics x"),
            ("flag", ""),
            ("a", "1"),
            ("a", "2"),
        ];
        assert_eq!(
            pairs,
            want.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
        );
    }

    #[test]
    fn decodes_escapes_and_keeps_malformed_ones() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("%zz%2"), "%zz%2");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }
}
