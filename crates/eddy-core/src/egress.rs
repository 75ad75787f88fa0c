//! Which addresses eddy's own fetches may reach: the JWKS documents and OpenID discovery
//! documents of JWT authorizers. A configured URL must not turn eddy into a proxy to the cloud
//! metadata service (`169.254.169.254`, whose answers include credentials) or other link-local
//! and unroutable addresses, so those are refused unless the operator allows them
//! (`--allow-fetch CIDR`). Names are checked after resolution, on every connection (a name that
//! resolves to a refused address later is refused then), redirects are checked hop by hop, and
//! proxies from the environment are not used (they would resolve names out of sight).
//!
//! API destinations are not covered: reaching the address the user configured is their job.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

/// Address ranges refused by default: "this network", link-local (cloud metadata services on
/// AWS, GCP and Azure), Alibaba's and Oracle's metadata addresses, AWS's IPv6 metadata address,
/// multicast and reserved ranges, and the unspecified addresses.
const REFUSED: &[&str] = &[
    "0.0.0.0/8",
    "169.254.0.0/16",
    "100.100.100.200/32",
    "192.0.0.192/32",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "fe80::/10",
    "fd00:ec2::254/128",
    "ff00::/8",
];

/// The fetch policy: the default refusals minus what the operator allowed.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    allowed: Arc<Vec<IpNet>>,
}

impl Egress {
    /// A policy that also allows `ranges` (CIDR, or a bare address).
    pub fn new(ranges: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for r in ranges {
            let net = r
                .parse::<IpNet>()
                .or_else(|_| r.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{r}` is not an address range (e.g. `169.254.0.0/16`)"))?;
            allowed.push(net);
        }
        Ok(Self {
            allowed: Arc::new(allowed),
        })
    }

    /// Whether a fetch may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.allowed.iter().any(|n| n.contains(&ip)) {
            return true;
        }
        !REFUSED
            .iter()
            .filter_map(|r| r.parse::<IpNet>().ok())
            .any(|n| n.contains(&ip))
    }

    /// Whether a URL may be fetched, as far as can be told before resolving it: `http(s)`, and
    /// an allowed address when it names one.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{url}` is not an http(s) URL"));
        }
        let Some(host) = url.host_str() else {
            return Err(format!("`{url}` names no host"));
        };
        let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return Ok(());
        };
        if self.allows(ip) {
            Ok(())
        } else {
            Err(refusal(ip))
        }
    }

    /// An HTTP client whose every connection, redirect included, obeys this policy.
    pub fn client(&self, timeout: Duration) -> reqwest::Result<reqwest::Client> {
        let redirects = self.clone();
        reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .dns_resolver(Resolver(self.clone()))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("too many redirects")
                } else if let Err(e) = redirects.check_url(attempt.url()) {
                    attempt.error(e)
                } else {
                    attempt.follow()
                }
            }))
            .build()
    }
}

impl Egress {
    /// An HTTP client for a proxy (HTTP_PROXY route integrations): the policy on every
    /// connection, and redirects answered to the caller rather than followed.
    pub fn proxy_client(&self, timeout: Duration) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .dns_resolver(Resolver(self.clone()))
            .redirect(reqwest::redirect::Policy::none())
            .build()
    }
}

fn refusal(ip: IpAddr) -> String {
    format!(
        "address {ip} is link-local, a cloud metadata address or unroutable; eddy does not \
         fetch from it unless started with `--allow-fetch {ip}`"
    )
}

/// The system resolver, keeping only allowed addresses.
struct Resolver(Egress);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            match (kept.is_empty(), all.first()) {
                (true, Some(a)) => Err(refusal(a.ip()).into()),
                _ => Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_are_refused_unless_allowed() {
        let e = Egress::default();
        for ip in [
            "169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
            "0.0.0.0",
            "::ffff:169.254.169.254",
        ] {
            assert!(!e.allows(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.1.2.3", "8.8.8.8", "::1"] {
            assert!(e.allows(ip.parse().unwrap()), "{ip}");
        }
        let e = Egress::new(["169.254.169.254".to_owned()]).unwrap();
        assert!(e.allows("169.254.169.254".parse().unwrap()));
        assert!(!e.allows("169.254.0.1".parse().unwrap()));
        assert!(Egress::new(["nope".to_owned()]).is_err());
    }

    #[test]
    fn urls_naming_refused_addresses_are_refused() {
        let e = Egress::default();
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(
            e.check_url(&url("http://169.254.169.254/latest/meta-data/"))
                .is_err()
        );
        assert!(e.check_url(&url("http://[fd00:ec2::254]/")).is_err());
        assert!(e.check_url(&url("file:///etc/passwd")).is_err());
        assert!(e.check_url(&url("https://issuer.example/jwks")).is_ok());
        assert!(e.check_url(&url("http://127.0.0.1:8080/jwks")).is_ok());
    }
}
