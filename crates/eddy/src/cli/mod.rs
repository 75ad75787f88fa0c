//! The eddy CLI's commands for daily work against a running eddy (`--endpoint`, default the
//! local one): events, functions, queues, topics, buckets. Each talks to eddy's AWS endpoint (the same calls
//! boto3 makes) or, where AWS has no call for it, to eddy's own `/_eddy/*` endpoints. Output is
//! for people by default; `--json` prints what a script wants.

pub mod buckets;
pub mod events;
pub mod functions;
pub mod queues;
pub mod status;
pub mod topics;

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::Value;

/// Where the running eddy is.
#[derive(Debug, Clone, clap::Args)]
pub struct Endpoint {
    /// host:port (or URL) of the running eddy's AWS endpoint.
    #[arg(
        long,
        env = "EDDY_ENDPOINT",
        default_value = "127.0.0.1:4566",
        global = true
    )]
    pub endpoint: String,
    /// Region of the resources.
    #[arg(long, env = "EDDY_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
}

/// A small AWS-protocol client for the CLI.
pub struct Client {
    base: String,
    region: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(e: &Endpoint) -> anyhow::Result<Self> {
        let base = if e.endpoint.starts_with("http://") || e.endpoint.starts_with("https://") {
            e.endpoint.trim_end_matches('/').to_owned()
        } else {
            format!("http://{}", e.endpoint)
        };
        Ok(Self {
            base,
            region: e.region.clone(),
            http: eddy_server::delivery::http::client_builder().build()?,
        })
    }

    fn auth(&self, service: &str) -> String {
        // Unsigned, but with the credential scope eddy reads the region (and service) from.
        format!(
            "AWS4-HMAC-SHA256 Credential=eddy/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
            self.region
        )
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot reach eddy at {} ({e}); start it with `eddy serve` or pass --endpoint",
            self.base
        )
    }

    /// An AWS JSON call (`X-Amz-Target`); AWS errors become `CODE: message`.
    pub async fn call(&self, target: &str, body: Value) -> anyhow::Result<Value> {
        let (content_type, service) = if target.starts_with("AmazonSQS.") {
            ("application/x-amz-json-1.0", "sqs")
        } else if target.starts_with("Logs_") {
            ("application/x-amz-json-1.1", "logs")
        } else {
            ("application/x-amz-json-1.1", "events")
        };
        let r = self
            .http
            .post(format!("{}/", self.base))
            .header("x-amz-target", target)
            .header("content-type", content_type)
            .header("authorization", self.auth(service))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = r.status();
        let text = r.text().await?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let code = v["__type"].as_str().unwrap_or("Error");
            let message = v["message"]
                .as_str()
                .or(v["Message"].as_str())
                .unwrap_or(&text);
            bail!("{code}: {message}");
        }
        Ok(v)
    }

    /// An AWS query-protocol call (SNS): `Action` and its parameters as form pairs; answers
    /// the XML body. AWS errors become `CODE: message`.
    pub async fn query(
        &self,
        service: &str,
        params: &[(String, String)],
    ) -> anyhow::Result<String> {
        let form: String = params
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    eddy_net::url::percent_encode(k, b""),
                    eddy_net::url::percent_encode(v, b"")
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .post(format!("{}/", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", self.auth(service))
            .body(form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            let code = topics::element(&text, "Code").unwrap_or_else(|| "Error".to_owned());
            let message = topics::element(&text, "Message").unwrap_or(text);
            bail!("{code}: {message}");
        }
        Ok(text)
    }

    /// A rest-json call; returns the status, headers and body.
    pub async fn rest(
        &self,
        service: &str,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", self.auth(service))
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let r = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await?.to_vec();
        if status >= 400 {
            let text = String::from_utf8_lossy(&body);
            // S3 answers errors as XML.
            if let (Some(code), Some(message)) = (
                topics::element(&text, "Code"),
                topics::element(&text, "Message"),
            ) {
                bail!("{code}: {message}");
            }
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let code = headers
                .get("x-amzn-errortype")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("Error")
                .to_owned();
            let message = v["message"]
                .as_str()
                .or(v["Message"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            bail!("{code}: {message}");
        }
        Ok((status, headers, body))
    }

    /// A call to one of eddy's own endpoints; a refusal becomes its message.
    pub async fn eddy(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, v) = self.eddy_answer(path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{}", v["message"].as_str().unwrap_or("request failed"));
        }
        Ok(v)
    }

    /// A call to one of eddy's own endpoints that answers JSON whatever its status: the status
    /// and the answer.
    pub async fn eddy_answer(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", self.auth("events"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = r.status().as_u16();
        let bytes = r.bytes().await?;
        let v: Value =
            serde_json::from_slice(&bytes).context("eddy answered something other than JSON")?;
        Ok((status, v))
    }

    /// A GET of one of eddy's own endpoints that answers JSON.
    pub async fn eddy_get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self.stream(path).await?;
        let bytes = r.bytes().await?;
        serde_json::from_slice(&bytes).context("eddy answered something other than JSON")
    }

    /// A streaming GET of one of eddy's own endpoints.
    pub async fn stream(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", self.auth("events"))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !r.status().is_success() {
            let bytes = r.bytes().await.unwrap_or_default();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            bail!("{}", v["message"].as_str().unwrap_or("request failed"));
        }
        Ok(r)
    }

    pub fn region(&self) -> &str {
        &self.region
    }
}

/// Runs a CLI future on a small runtime and maps errors to exit code 1 (2 for usage).
pub fn block_on(f: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("eddy: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(f) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("eddy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reads all of standard input.
/// The arguments, or, without any, one per non-empty line of standard input.
pub fn args_or_lines(args: Vec<String>) -> anyhow::Result<Vec<String>> {
    if !args.is_empty() {
        return Ok(args);
    }
    Ok(stdin()?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

pub fn stdin() -> anyhow::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(s)
}

/// Whether to draw progress (stderr is a terminal).
pub fn progress_enabled() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// Redraws a one-line progress indicator on stderr.
pub fn progress(label: &str, done: usize, total: usize) {
    if total == 0 {
        return;
    }
    let width = 30;
    let filled = done * width / total;
    eprint!(
        "\r{label} [{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    if done == total {
        eprintln!();
    }
}
