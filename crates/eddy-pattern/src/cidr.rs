//! The `cidr` operand: IPv4 and IPv6 networks, matched against event strings that are IP
//! addresses of the same family.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An address range, inclusive, within one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    v6: bool,
    lo: u128,
    hi: u128,
}

impl Cidr {
    /// Parses `addr/len`; host bits may be set (they are masked off, as EventBridge does).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = text.split_once('/')?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let len: u32 = len.parse().ok()?;
        let (v6, bits, width) = parse_ip(addr)?;
        if len > width {
            return None;
        }
        let host = width - len;
        // All host bits set; a whole-family range (`::/0`) has 128 of them, one shift too many.
        let mask: u128 = u128::MAX.checked_shr(128 - host).unwrap_or(0);
        Some(Cidr {
            v6,
            lo: bits & !mask,
            hi: bits | mask,
        })
    }

    /// Is `s` an IP address inside the range?
    pub fn contains(&self, s: &[u8]) -> bool {
        let Ok(s) = std::str::from_utf8(s) else {
            return false;
        };
        match parse_ip(s) {
            Some((v6, bits, _)) => v6 == self.v6 && bits >= self.lo && bits <= self.hi,
            None => false,
        }
    }
}

fn parse_ip(s: &str) -> Option<(bool, u128, u32)> {
    if s.contains(':') {
        let a: Ipv6Addr = s.parse().ok()?;
        Some((true, u128::from(a), 128))
    } else {
        let a: Ipv4Addr = s.parse().ok()?;
        Some((false, u128::from(u32::from(a)), 32))
    }
}

#[cfg(test)]
mod tests {
    use super::Cidr;

    #[test]
    fn ranges() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(c.contains(b"10.0.0.255"));
        assert!(!c.contains(b"10.0.1.0"));
        assert!(!c.contains(b"hello"));
        let c = Cidr::parse("220.160.59.225/31").unwrap();
        assert!(c.contains(b"220.160.59.224"));
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c.contains(b"2001:db8::1"));
        assert!(!c.contains(b"2001:db9::1"));
        assert!(!c.contains(b"10.0.0.1"));
        assert!(Cidr::parse("foo").is_none());
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0.0").is_none());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(b"1.2.3.4"));
    }

    /// Found by the `parse_pattern` fuzz target: `::/0` overflowed the mask's shift (a panic in
    /// debug builds, a range of one address in release builds).
    #[test]
    fn whole_families() {
        let all6 = Cidr::parse("::/0").unwrap();
        assert!(all6.contains(b"::"));
        assert!(all6.contains(b"2001:db8::1"));
        assert!(all6.contains(b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert!(!all6.contains(b"10.0.0.1"));
        let all4 = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all4.contains(b"255.255.255.255") && !all4.contains(b"::1"));
        let one = Cidr::parse("2001:db8::1/128").unwrap();
        assert!(one.contains(b"2001:db8::1") && !one.contains(b"2001:db8::2"));
        let one4 = Cidr::parse("10.0.0.1/32").unwrap();
        assert!(one4.contains(b"10.0.0.1") && !one4.contains(b"10.0.0.2"));
    }
}
