//! The AWS query protocol, for every service that speaks it (SNS): requests are
//! form-encoded name/value pairs (`Action=…&Version=…`, in the body or the query string) whose
//! names flatten the input's structure (`Tags.member.1.Key`, `Attributes.entry.1.key`,
//! `MessageAttributes.entry.1.Value.DataType`); responses are XML
//! (`<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`).
//!
//! [`Params`] reads the flattened names back; [`Xml`] writes a response body. Errors have the
//! query protocol's `<ErrorResponse>` shape ([`super::unsupported::query_error`]).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use eddy_net::url::form_pairs;

/// A query-protocol request's parameters, by flattened name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// The parameters of a query string and a form body together (the body's win).
    pub fn parse(query: Option<&str>, body: &str) -> Self {
        let mut map = BTreeMap::new();
        for (k, v) in query
            .into_iter()
            .flat_map(form_pairs)
            .chain(form_pairs(body))
        {
            map.insert(k, v);
        }
        Self(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The members `PREFIX.N…` in order of `N` (1-based, as the SDKs number them), each as the
    /// parameters under it (`PREFIX.N.Key` is `Key` in the member; `PREFIX.N` itself is ``).
    pub fn indexed(&self, prefix: &str) -> Vec<Params> {
        let dotted = format!("{prefix}.");
        let mut members: BTreeMap<u64, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in self.0.range(dotted.clone()..) {
            let Some(rest) = k.strip_prefix(&dotted) else {
                break;
            };
            let (n, inner) = rest.split_once('.').unwrap_or((rest, ""));
            let Ok(n) = n.parse::<u64>() else { continue };
            members
                .entry(n)
                .or_default()
                .insert(inner.to_owned(), v.clone());
        }
        members.into_values().map(Params).collect()
    }

    /// A list of strings: `PREFIX.member.N`.
    pub fn strings(&self, prefix: &str) -> Vec<String> {
        self.indexed(&format!("{prefix}.member"))
            .into_iter()
            .filter_map(|m| m.get("").map(str::to_owned))
            .collect()
    }

    /// A list of structures: `PREFIX.member.N.FIELD`.
    pub fn structs(&self, prefix: &str) -> Vec<Params> {
        self.indexed(&format!("{prefix}.member"))
    }

    /// A map of strings: `PREFIX.entry.N.key` / `PREFIX.entry.N.value` (`key` and `value` as
    /// the service names them).
    pub fn map(&self, prefix: &str, key: &str, value: &str) -> BTreeMap<String, String> {
        self.indexed(&format!("{prefix}.entry"))
            .into_iter()
            .filter_map(|e| {
                Some((
                    e.get(key)?.to_owned(),
                    e.get(value).unwrap_or_default().to_owned(),
                ))
            })
            .collect()
    }

    /// The parameters under `PREFIX.` (a nested structure).
    pub fn nested(&self, prefix: &str) -> Params {
        let dotted = format!("{prefix}.");
        Params(
            self.0
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&dotted)?.to_owned(), v.clone())))
                .collect(),
        )
    }
}

/// Escapes text for an XML element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// An XML response body being written.
#[derive(Debug, Default)]
pub struct Xml(String);

impl Xml {
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    /// `<tag>text</tag>`
    pub fn text(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.0.push_str(&escape(text));
        self.close(tag)
    }

    /// A map as `<tag><entry><key>K</key><value>V</value></entry>…</tag>`.
    pub fn map<'a>(
        &mut self,
        tag: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> &mut Self {
        self.open(tag);
        for (k, v) in entries {
            self.open("entry")
                .text("key", k)
                .text("value", v)
                .close("entry");
        }
        self.close(tag)
    }

    /// Appends another body as it is.
    pub fn raw(&mut self, other: Xml) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A query-protocol success: `<ACTIONResponse xmlns=NS>` with the result (`None`: an operation
/// without output, which has no `ACTIONResult`) and the request id.
pub fn respond(namespace: &str, action: &str, result: Option<Xml>) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{namespace}\">"
    );
    if let Some(result) = result {
        body.push_str(&format!("<{action}Result>"));
        body.push_str(&result.0);
        body.push_str(&format!("</{action}Result>"));
    }
    body.push_str(&format!(
        "<ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></{action}Response>"
    ));
    let mut res = (
        StatusCode::OK,
        [("content-type", "text/xml")],
        Body::from(body),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-amzn-requestid", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_names_read_back() {
        let p = Params::parse(
            Some("Action=CreateTopic"),
            "Name=t&Attributes.entry.2.key=B&Attributes.entry.2.value=2&Attributes.entry.1.key=A\
             &Attributes.entry.1.value=1&Tags.member.1.Key=k&Tags.member.1.Value=v\
             &TagKeys.member.10=j&TagKeys.member.2=i\
             &MessageAttributes.entry.1.Name=n&MessageAttributes.entry.1.Value.DataType=String\
             &MessageAttributes.entry.1.Value.StringValue=x",
        );
        assert_eq!(p.get("Action"), Some("CreateTopic"));
        let attrs = p.map("Attributes", "key", "value");
        assert_eq!(attrs.get("A").map(String::as_str), Some("1"));
        assert_eq!(attrs.get("B").map(String::as_str), Some("2"));
        let tags = p.structs("Tags");
        assert_eq!(tags[0].get("Key"), Some("k"));
        assert_eq!(p.strings("TagKeys"), vec!["i", "j"]);
        let m = &p.indexed("MessageAttributes.entry")[0];
        assert_eq!(m.get("Name"), Some("n"));
        assert_eq!(m.nested("Value").get("DataType"), Some("String"));
    }

    #[test]
    fn xml_is_escaped() {
        let mut x = Xml::default();
        x.text("Message", "<a & 'b'>\u{1}");
        assert_eq!(
            x.into_string(),
            "<Message>&lt;a &amp; &apos;b&apos;&gt;\u{FFFD}</Message>"
        );
    }
}
