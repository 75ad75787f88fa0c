//! `eddy-bench s3`: S3 on eddy's AWS endpoint, against the disk it writes to.
//!
//! Starts `eddy serve` on a fresh data directory (or uses one at `--endpoint`) and runs, in
//! order, the phases `--phases` names:
//!
//! * `large`: the disk's own bandwidth first, with `dd` in the directory next to the data
//!   directory (same file system): `dd if=/dev/zero of=FILE bs=8M count=N conv=fsync`, then the
//!   file read back at once with `dd if=FILE of=/dev/null bs=8M` (from the page cache: without
//!   root the cache cannot be dropped, and eddy's GET of an object it has just written is served
//!   from there too) and with `iflag=direct` (the disk's own read bandwidth, past the cache),
//!   and sent through a loopback TCP connection by a bare reader and writer (the
//!   ceiling for any GET on this machine). Then one `--large-bytes` object PUT in a single streamed request, read
//!   back with GET; the same size uploaded again as a multipart upload (`--part-bytes` parts,
//!   `--part-concurrency` at a time, each streamed), read back; and `dd` once more. Neither side
//!   holds an object in memory: the bench generates and checks the bytes as they stream (every
//!   GET byte compared with what was put). eddy's resident memory (`VmRSS`) is sampled every
//!   20 ms during each transfer, its maximum reported.
//! * `small`: for each of `--concurrency`, `--seconds` of PutObject of `--small-bytes`
//!   objects (new keys; eddy answers once the object is durable), then `--seconds` of
//!   GetObject of the keys written, one connection per concurrent client. With the store's
//!   group commits from eddy's `/metrics`.
//! * `events`: a bucket with EventBridge notifications, a rule on the default bus
//!   (`{"source":["aws.s3"]}`) targeting an SQS queue, and `--events` PUTs one at a time: each
//!   from its PUT's response to its `Object Created` event received by a ReceiveMessage long
//!   poll (SQS JSON 1.0 protocol) kept open the whole time. A 10 ms pause separates the PUTs.
//!
//! Prints one JSON line; progress goes to stderr.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::http1::Conn;
use crate::percentile;
use crate::server::Server;

const MIB: u64 = 1024 * 1024;

/// Bytes written or checked per call while streaming a large object.
const CHUNK: usize = MIB as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    Large,
    Small,
    Events,
}

#[derive(Debug, clap::Args)]
pub struct S3Args {
    /// host:port of a running eddy's AWS endpoint; without it the bench starts `eddy serve` on
    /// free ports and a fresh data directory, and stops it at the end.
    #[arg(long)]
    endpoint: Option<String>,
    /// The running eddy's process id, for its resident memory (only with `--endpoint`).
    #[arg(long)]
    pid: Option<u32>,
    /// The `eddy` binary to start (default: `eddy` next to this binary).
    #[arg(long)]
    eddy: Option<PathBuf>,
    /// The started eddy's data directory (default: a fresh directory under the system's temp
    /// directory, removed at the end). It must not exist yet.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where `dd` writes its test file (default: the data directory's parent, so the same file
    /// system as eddy's data).
    #[arg(long)]
    dd_dir: Option<PathBuf>,
    /// Phases to run, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "large,small,events"
    )]
    phases: Vec<Phase>,
    /// Size of the large object (and of the `dd` file), a multiple of 8 MiB for `dd`.
    #[arg(long, default_value_t = 1024 * MIB)]
    large_bytes: u64,
    /// Multipart upload part size (at least 5 MiB, S3's minimum but for the last part).
    #[arg(long, default_value_t = 64 * MIB)]
    part_bytes: u64,
    /// Parts uploaded at once, each on its own connection.
    #[arg(long, default_value_t = 4)]
    part_concurrency: usize,
    /// Size of each small object.
    #[arg(long, default_value_t = 4096)]
    small_bytes: usize,
    /// Concurrent clients for the small-object rates, one run each.
    #[arg(long, value_delimiter = ',', default_value = "16,64,128")]
    concurrency: Vec<usize>,
    /// How long each small-object run (PUT, then GET) lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// PUTs whose EventBridge event is waited for, one at a time.
    #[arg(long, default_value_t = 300)]
    events: usize,
}

/// The bytes the bench puts: a fixed pseudo-random 1 MiB block repeated, the first 8 bytes of
/// each copy replaced by the copy's index, so that a GET checks every byte against its offset
/// without holding the object or hashing it.
struct Pattern {
    block: Vec<u8>,
}

impl Pattern {
    fn new() -> Self {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let block = (0..CHUNK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        Self { block }
    }

    /// The expected byte at `offset` within its block `index`.
    fn expected(&self, index: u64, within: usize) -> u8 {
        if within < 8 {
            index.to_le_bytes()[within]
        } else {
            self.block[within]
        }
    }

    /// Fills `buf` with the object's bytes from `offset`.
    fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let (index, within) = (at / CHUNK as u64, (at % CHUNK as u64) as usize);
            let n = (CHUNK - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&self.block[within..within + n]);
            for i in within..(within + n).min(8) {
                buf[done + i - within] = self.expected(index, i);
            }
            done += n;
        }
    }

    /// Whether `data` are the object's bytes from `offset`.
    fn check(&self, offset: u64, data: &[u8]) -> bool {
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let (index, within) = (at / CHUNK as u64, (at % CHUNK as u64) as usize);
            let n = (CHUNK - within).min(data.len() - done);
            let head = (within..(within + n).min(8))
                .all(|i| data[done + i - within] == self.expected(index, i));
            let body_from = within.max(8).min(within + n);
            if !head
                || data[done + body_from - within..done + n] != self.block[body_from..within + n]
            {
                return false;
            }
            done += n;
        }
        true
    }
}

/// Resident memory of a process, sampled every 20 ms until stopped.
struct RssWatch {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl RssWatch {
    fn start(pid: Option<u32>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut max = 0;
            loop {
                if let Some(kib) = pid.and_then(rss_kib) {
                    max = max.max(kib);
                }
                if flag.load(Ordering::Relaxed) {
                    return max;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Self { stop, task }
    }

    /// The largest sample, in MiB (0 without a process to watch).
    async fn max_mib(self) -> anyhow::Result<f64> {
        self.stop.store(true, Ordering::Relaxed);
        Ok(round1(self.task.await? as f64 / 1024.0))
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn mib_per_sec(bytes: u64, secs: f64) -> f64 {
    round1(bytes as f64 / MIB as f64 / secs)
}

fn enc(s: &str) -> String {
    eddy_net::url::percent_encode(s, b"")
}

/// The text of the first `<tag>…</tag>` in an XML body.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find('<')?;
    Some(&xml[start..start + len])
}

fn ok(r: &crate::http1::Reply, what: &str) -> anyhow::Result<()> {
    ensure!(
        r.status == 200,
        "{what} failed ({}): {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    Ok(())
}

async fn create_bucket(endpoint: &str, bucket: &str) -> anyhow::Result<()> {
    let mut c = Conn::connect_s3(endpoint).await?;
    let r = c.request("PUT", &format!("/{bucket}"), &[], b"").await?;
    ok(&r, "CreateBucket")
}

/// Streams `len` bytes of the pattern from `offset` as the body of `PUT path`.
async fn put_streamed(
    c: &mut Conn,
    pattern: &Pattern,
    path: &str,
    offset: u64,
    len: u64,
) -> anyhow::Result<crate::http1::Reply> {
    c.send_head(
        "PUT",
        path,
        &[
            ("Content-Type", "application/octet-stream"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        len,
    )
    .await?;
    let mut buf = vec![0; CHUNK];
    let mut sent = 0;
    while sent < len {
        let n = (len - sent).min(CHUNK as u64) as usize;
        pattern.fill(offset + sent, &mut buf[..n]);
        c.write_body(&buf[..n]).await?;
        sent += n as u64;
    }
    c.reply().await
}

/// GETs `path`, checking every byte against the pattern as it streams; returns the length.
async fn get_checked(endpoint: &str, pattern: &Pattern, path: &str) -> anyhow::Result<u64> {
    let mut c = Conn::connect_s3(endpoint).await?;
    c.send_head("GET", path, &[], 0).await?;
    let mut at = 0;
    let mut bad = None;
    let (status, len) = c
        .reply_streamed(CHUNK, |data| {
            if bad.is_none() && !pattern.check(at, data) {
                bad = Some(at);
            }
            at += data.len() as u64;
            Ok(())
        })
        .await?;
    ensure!(status == 200, "GET {path} answered {status}");
    if let Some(at) = bad {
        anyhow::bail!("GET {path}: wrong bytes in the chunk at offset {at}");
    }
    Ok(len)
}

/// One `dd` write (with fsync) and read-back of `bytes` in `dir`.
fn dd(dir: &Path, bytes: u64) -> anyhow::Result<Value> {
    ensure!(
        bytes.is_multiple_of(8 * MIB),
        "--large-bytes must be a multiple of 8 MiB (dd's block size)"
    );
    let file = dir.join(format!("eddy-bench-dd-{}", std::process::id()));
    let run = |args: &[String]| -> anyhow::Result<f64> {
        let t = Instant::now();
        let out = Command::new("dd")
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        let secs = t.elapsed().as_secs_f64();
        ensure!(
            out.status.success(),
            "dd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(secs)
    };
    let path = file.display().to_string();
    let write = run(&[
        "if=/dev/zero".into(),
        format!("of={path}"),
        "bs=8M".into(),
        format!("count={}", bytes / (8 * MIB)),
        "conv=fsync".into(),
    ]);
    let read = write
        .as_ref()
        .ok()
        .map(|_| run(&[format!("if={path}"), "of=/dev/null".into(), "bs=8M".into()]));
    // The disk itself: O_DIRECT reads past the page cache (no root needed).
    let direct = read.as_ref().map(|_| {
        run(&[
            format!("if={path}"),
            "of=/dev/null".into(),
            "bs=8M".into(),
            "iflag=direct".into(),
        ])
    });
    let loopback = read.as_ref().map(|_| loopback(&file));
    let _removed = std::fs::remove_file(&file);
    let (write, read) = (write?, read.context("no read")??);
    let direct = direct.context("no direct read")??;
    let loopback = loopback.context("no loopback")??;
    Ok(json!({
        "write_mib_per_sec": mib_per_sec(bytes, write),
        "read_mib_per_sec": mib_per_sec(bytes, read),
        "direct_read_mib_per_sec": mib_per_sec(bytes, direct),
        "loopback_mib_per_sec": mib_per_sec(bytes, loopback),
    }))
}

/// Seconds to send `file` through a loopback TCP connection: one thread reads it in 1 MiB
/// chunks into one buffer and writes them to the socket, another reads the socket into one
/// buffer. The least any server does to answer a GET from the page cache (a read into memory
/// and a send), with nothing else: a ceiling for eddy's GET on this machine.
fn loopback(file: &Path) -> anyhow::Result<f64> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let path = file.to_owned();
    let t = Instant::now();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut socket, _) = listener.accept()?;
        let mut f = std::fs::File::open(path)?;
        let mut buf = vec![0; CHUNK];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            socket.write_all(&buf[..n])?;
        }
    });
    let mut socket = std::net::TcpStream::connect(addr)?;
    let mut buf = vec![0; CHUNK];
    while socket.read(&mut buf)? > 0 {}
    let secs = t.elapsed().as_secs_f64();
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("the loopback sender panicked"))??;
    Ok(secs)
}

/// The file system type of `dir` (`stat -f`).
fn fs_type(dir: &Path) -> String {
    Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A timed transfer: its rate and eddy's largest resident memory during it.
fn transfer(bytes: u64, secs: f64, rss_max_mib: f64) -> Value {
    json!({
        "seconds": round2(secs),
        "mib_per_sec": mib_per_sec(bytes, secs),
        "rss_max_mib": rss_max_mib,
    })
}

async fn large(
    args: &S3Args,
    endpoint: &str,
    pid: Option<u32>,
    dd_dir: &Path,
) -> anyhow::Result<Value> {
    let size = args.large_bytes;
    ensure!(
        args.part_bytes >= 5 * MIB,
        "--part-bytes must be at least 5 MiB"
    );
    ensure!(
        args.part_concurrency > 0,
        "--part-concurrency must be at least 1"
    );
    eprintln!("s3: dd of {} MiB in {}", size / MIB, dd_dir.display());
    let dd_before = dd(dd_dir, size)?;
    let bucket = format!("bench-large-{}", std::process::id());
    create_bucket(endpoint, &bucket).await?;
    let pattern = Arc::new(Pattern::new());
    let rss_before = pid
        .and_then(rss_kib)
        .map_or(0.0, |k| round1(k as f64 / 1024.0));

    eprintln!("s3: single PUT of {} MiB", size / MIB);
    let path = format!("/{bucket}/single");
    let mut c = Conn::connect_s3(endpoint).await?;
    let rss = RssWatch::start(pid);
    let t = Instant::now();
    let r = put_streamed(&mut c, &pattern, &path, 0, size).await?;
    let secs = t.elapsed().as_secs_f64();
    ok(&r, "PutObject")?;
    let put_single = transfer(size, secs, rss.max_mib().await?);

    eprintln!("s3: GET of the single PUT");
    let rss = RssWatch::start(pid);
    let t = Instant::now();
    let got = get_checked(endpoint, &pattern, &path).await?;
    let secs = t.elapsed().as_secs_f64();
    ensure!(got == size, "GET {path} gave {got} bytes, not {size}");
    let get_single = transfer(size, secs, rss.max_mib().await?);

    let parts = size.div_ceil(args.part_bytes);
    eprintln!(
        "s3: multipart upload of {} MiB, {parts} parts, {} at a time",
        size / MIB,
        args.part_concurrency
    );
    let key = format!("/{bucket}/multipart");
    let rss = RssWatch::start(pid);
    let t = Instant::now();
    let r = c
        .request("POST", &format!("{key}?uploads"), &[], b"")
        .await?;
    ok(&r, "CreateMultipartUpload")?;
    let text = String::from_utf8_lossy(&r.body);
    let upload = enc(element(&text, "UploadId").context("no UploadId")?);
    let next = Arc::new(AtomicU64::new(1));
    let mut tasks = Vec::new();
    for _ in 0..args.part_concurrency.min(parts as usize) {
        let (next, pattern, endpoint, key, upload) = (
            next.clone(),
            pattern.clone(),
            endpoint.to_owned(),
            key.clone(),
            upload.clone(),
        );
        let part_bytes = args.part_bytes;
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect_s3(&endpoint).await?;
            let mut etags = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n > parts {
                    return anyhow::Ok(etags);
                }
                let offset = (n - 1) * part_bytes;
                let len = part_bytes.min(size - offset);
                let path = format!("{key}?partNumber={n}&uploadId={upload}");
                let r = put_streamed(&mut c, &pattern, &path, offset, len).await?;
                ok(&r, "UploadPart")?;
                etags.push((n, r.etag.context("UploadPart answered no ETag")?));
            }
        }));
    }
    let mut etags = Vec::new();
    for task in tasks {
        etags.extend(task.await??);
    }
    etags.sort_unstable();
    let mut complete = String::from("<CompleteMultipartUpload>");
    for (n, etag) in &etags {
        complete.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    complete.push_str("</CompleteMultipartUpload>");
    let r = c
        .request(
            "POST",
            &format!("{key}?uploadId={upload}"),
            &[("Content-Type", "application/xml")],
            complete.as_bytes(),
        )
        .await?;
    ok(&r, "CompleteMultipartUpload")?;
    let text = String::from_utf8_lossy(&r.body);
    ensure!(
        !text.contains("<Error>"),
        "CompleteMultipartUpload failed: {text}"
    );
    let secs = t.elapsed().as_secs_f64();
    let put_multipart = transfer(size, secs, rss.max_mib().await?);

    eprintln!("s3: GET of the multipart upload");
    let rss = RssWatch::start(pid);
    let t = Instant::now();
    let got = get_checked(endpoint, &pattern, &key).await?;
    let secs = t.elapsed().as_secs_f64();
    ensure!(got == size, "GET {key} gave {got} bytes, not {size}");
    let get_multipart = transfer(size, secs, rss.max_mib().await?);

    eprintln!("s3: dd again");
    let dd_after = dd(dd_dir, size)?;
    // Against the better of the two dd runs around the transfers.
    let best = |k: &str| {
        dd_before[k]
            .as_f64()
            .unwrap_or(0.0)
            .max(dd_after[k].as_f64().unwrap_or(0.0))
    };
    let ratio = |v: &Value, k: &str| round2(v["mib_per_sec"].as_f64().unwrap_or(0.0) / best(k));
    let vs_loopback = |v: &Value| ratio(v, "loopback_mib_per_sec");
    Ok(json!({
        "bytes": size,
        "dd": [dd_before, dd_after],
        "rss_before_mib": rss_before,
        "put_single": put_single,
        "get_single": get_single,
        "put_multipart": put_multipart,
        "get_multipart": get_multipart,
        "part_bytes": args.part_bytes,
        "parts": parts,
        "part_concurrency": args.part_concurrency,
        "vs_dd": {
            "put_single": ratio(&put_single, "write_mib_per_sec"),
            "put_multipart": ratio(&put_multipart, "write_mib_per_sec"),
            "get_single": ratio(&get_single, "read_mib_per_sec"),
            "get_multipart": ratio(&get_multipart, "read_mib_per_sec"),
        },
        "get_vs_disk_read": {
            "get_single": ratio(&get_single, "direct_read_mib_per_sec"),
            "get_multipart": ratio(&get_multipart, "direct_read_mib_per_sec"),
        },
        "get_vs_loopback": {
            "get_single": vs_loopback(&get_single),
            "get_multipart": vs_loopback(&get_multipart),
        },
    }))
}

/// The store's group commits so far: (commits, requests committed), from `/metrics`.
async fn commits(endpoint: &str) -> anyhow::Result<(f64, f64)> {
    let mut c = Conn::connect(endpoint).await?;
    let r = c.rest_call("GET", "/metrics", b"").await?;
    let text = String::from_utf8_lossy(&r.body);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        value("eddy_store_commit_seconds_count"),
        value("eddy_store_commit_requests_sum"),
    ))
}

/// What a timed run of small requests did.
struct Run {
    ops: u64,
    secs: f64,
    latencies_us: Vec<u64>,
    keys: Vec<String>,
}

impl Run {
    fn report(&mut self) -> Value {
        self.latencies_us.sort_unstable();
        let l = &self.latencies_us;
        json!({
            "ops": self.ops,
            "ops_per_sec": (self.ops as f64 / self.secs).round(),
            "ms": {
                "p50": percentile(l, 0.50),
                "p99": percentile(l, 0.99),
                "max": percentile(l, 1.0),
            },
        })
    }
}

/// `clients` connections, each sending requests back to back for `secs`: PUTs of new keys
/// (`keys` empty) or GETs of random keys among `keys`.
async fn small_run(
    endpoint: &str,
    bucket: &str,
    clients: usize,
    secs: u64,
    body: Arc<Vec<u8>>,
    keys: Arc<Vec<String>>,
) -> anyhow::Result<Run> {
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (endpoint, bucket, body, keys) = (
            endpoint.to_owned(),
            bucket.to_owned(),
            body.clone(),
            keys.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect_s3(&endpoint).await?;
            let (mut lat, mut written) = (Vec::new(), Vec::new());
            let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ ((client as u64 + 1) * 0x9e37_79b9);
            let tag = std::process::id();
            while Instant::now() < end {
                let t = Instant::now();
                if keys.is_empty() {
                    let key = format!("s/{tag}-{clients}-{client}-{}", written.len());
                    let r = c
                        .request(
                            "PUT",
                            &format!("/{bucket}/{key}"),
                            &[
                                ("Content-Type", "application/octet-stream"),
                                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                            ],
                            &body,
                        )
                        .await?;
                    lat.push(t.elapsed().as_micros() as u64);
                    ok(&r, "PutObject")?;
                    written.push(key);
                } else {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = &keys[(x % keys.len() as u64) as usize];
                    let r = c
                        .request("GET", &format!("/{bucket}/{key}"), &[], b"")
                        .await?;
                    lat.push(t.elapsed().as_micros() as u64);
                    ok(&r, "GetObject")?;
                    ensure!(r.body == *body, "GET {key}: not the bytes put");
                }
            }
            anyhow::Ok((lat, written))
        }));
    }
    let mut run = Run {
        ops: 0,
        secs: 0.0,
        latencies_us: Vec::new(),
        keys: Vec::new(),
    };
    for task in tasks {
        let (lat, written) = task.await??;
        run.ops += lat.len() as u64;
        run.latencies_us.extend(lat);
        run.keys.extend(written);
    }
    run.secs = start.elapsed().as_secs_f64();
    Ok(run)
}

async fn small(args: &S3Args, endpoint: &str) -> anyhow::Result<Value> {
    ensure!(args.small_bytes > 0, "--small-bytes must be at least 1");
    let bucket = format!("bench-small-{}", std::process::id());
    create_bucket(endpoint, &bucket).await?;
    let mut body = vec![0; args.small_bytes];
    Pattern::new().fill(0, &mut body);
    let body = Arc::new(body);
    let mut out = Vec::new();
    for &clients in &args.concurrency {
        ensure!(clients > 0, "--concurrency must be at least 1");
        eprintln!("s3: {clients} clients, PUT {} B objects", args.small_bytes);
        let before = commits(endpoint).await?;
        let mut put = small_run(
            endpoint,
            &bucket,
            clients,
            args.seconds,
            body.clone(),
            Arc::new(Vec::new()),
        )
        .await?;
        let after = commits(endpoint).await?;
        let (n, reqs) = (after.0 - before.0, after.1 - before.1);
        let keys = Arc::new(std::mem::take(&mut put.keys));
        ensure!(!keys.is_empty(), "no PUT completed in {} s", args.seconds);
        eprintln!("s3: {clients} clients, GET");
        let mut get =
            small_run(endpoint, &bucket, clients, args.seconds, body.clone(), keys).await?;
        out.push(json!({
            "concurrency": clients,
            "put": put.report(),
            "store_commits_per_sec": (n / put.secs).round(),
            "requests_per_commit": if n > 0.0 { round1(reqs / n) } else { 0.0 },
            "get": get.report(),
        }));
    }
    Ok(json!({ "bytes": args.small_bytes, "runs": out }))
}

/// An SQS call in the JSON 1.0 protocol.
async fn sqs(c: &mut Conn, target: &str, body: &Value) -> anyhow::Result<Value> {
    let r = c
        .request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", target),
            ],
            body.to_string().as_bytes(),
        )
        .await?;
    ok(&r, target)?;
    Ok(serde_json::from_slice(&r.body)?)
}

async fn events_call(c: &mut Conn, target: &str, body: &Value) -> anyhow::Result<()> {
    let r = c.aws_call(target, body.to_string().as_bytes()).await?;
    ok(&r, target)
}

async fn events(args: &S3Args, endpoint: &str) -> anyhow::Result<Value> {
    ensure!(args.events > 0, "--events must be at least 1");
    let tag = std::process::id();
    let (bucket, queue, rule) = (
        format!("bench-events-{tag}"),
        format!("bench-s3-events-{tag}"),
        format!("bench-s3-{tag}"),
    );
    create_bucket(endpoint, &bucket).await?;
    let mut s = Conn::connect_s3(endpoint).await?;
    let r = s
        .request(
            "PUT",
            &format!("/{bucket}?notification"),
            &[("Content-Type", "application/xml")],
            b"<NotificationConfiguration><EventBridgeConfiguration/></NotificationConfiguration>",
        )
        .await?;
    ok(&r, "PutBucketNotificationConfiguration")?;
    let mut c = Conn::connect(endpoint).await?;
    let created = sqs(
        &mut c,
        "AmazonSQS.CreateQueue",
        &json!({"QueueName": queue}),
    )
    .await?;
    let url = created["QueueUrl"]
        .as_str()
        .context("CreateQueue answered no QueueUrl")?
        .to_owned();
    events_call(
        &mut c,
        "AWSEvents.PutRule",
        &json!({"Name": rule, "EventPattern": r#"{"source":["aws.s3"]}"#}),
    )
    .await?;
    events_call(
        &mut c,
        "AWSEvents.PutTargets",
        &json!({"Rule": rule, "Targets": [{
            "Id": "queue", "Arn": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
        }]}),
    )
    .await?;

    // The receiver: long polls back to back, each message's key and when its poll answered.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (endpoint, done) = (endpoint.to_owned(), done.clone());
        tokio::spawn(async move {
            let mut c = Conn::connect(&endpoint).await?;
            let receive = json!({
                "QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 2,
            });
            while !done.load(Ordering::Relaxed) {
                let got = sqs(&mut c, "AmazonSQS.ReceiveMessage", &receive).await?;
                let at = Instant::now();
                for m in got["Messages"].as_array().into_iter().flatten() {
                    let event: Value =
                        serde_json::from_str(m["Body"].as_str().unwrap_or_default())?;
                    let key = event["detail"]["object"]["key"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if tx.send((key, at)).is_err() {
                        return anyhow::Ok(());
                    }
                }
            }
            anyhow::Ok(())
        })
    };
    // Let the first long poll reach the server before the first PUT.
    tokio::time::sleep(Duration::from_millis(200)).await;

    eprintln!("s3: {} PUTs, each until its event is received", args.events);
    let body = vec![b'e'; 1024];
    let mut put_done: HashMap<String, Instant> = HashMap::new();
    let mut received: HashMap<String, Instant> = HashMap::new();
    let (mut lat, mut put_us) = (Vec::new(), Vec::new());
    let mut early = 0;
    let commits_before = commits(endpoint).await?.0;
    for i in 0..args.events {
        let key = format!("e/{i}");
        let t = Instant::now();
        let r = s
            .request(
                "PUT",
                &format!("/{bucket}/{key}"),
                &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
                &body,
            )
            .await?;
        let at = Instant::now();
        put_us.push(at.duration_since(t).as_micros() as u64);
        ok(&r, "PutObject")?;
        put_done.insert(key.clone(), at);
        let deadline = at + Duration::from_secs(10);
        while !received.contains_key(&key) {
            let (k, when) = tokio::time::timeout_at(deadline.into(), rx.recv())
                .await
                .with_context(|| format!("no event for {key} within 10 s"))?
                .context("the receiver stopped")?;
            received.insert(k, when);
        }
        let when = received[&key];
        if when < at {
            early += 1;
        }
        lat.push(when.saturating_duration_since(at).as_micros() as u64);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let store_commits = commits(endpoint).await?.0 - commits_before;
    done.store(true, Ordering::Relaxed);
    drop(rx);
    receiver.await??;
    let extra = received
        .keys()
        .filter(|k| !put_done.contains_key(*k))
        .count();
    lat.sort_unstable();
    put_us.sort_unstable();
    Ok(json!({
        "events": args.events,
        "put_to_received_ms": {
            "p50": percentile(&lat, 0.50),
            "p90": percentile(&lat, 0.90),
            "p99": percentile(&lat, 0.99),
            "max": percentile(&lat, 1.0),
        },
        "put_ms": { "p50": percentile(&put_us, 0.50), "p99": percentile(&put_us, 0.99) },
        "received_before_put_response": early,
        // Each PUT's own commit and those its event's delivery takes (and any others then).
        "store_commits_per_event": round1(store_commits / args.events as f64),
        "unexpected_messages": extra,
    }))
}

pub async fn run(args: S3Args) -> anyhow::Result<()> {
    let mut server = None;
    let (endpoint, pid, data_dir) = match &args.endpoint {
        Some(e) => (e.clone(), args.pid, None),
        None => {
            let eddy = match &args.eddy {
                Some(p) => p.clone(),
                None => std::env::current_exe()?.with_file_name("eddy"),
            };
            let (dir, remove) = match &args.data_dir {
                Some(d) => (d.clone(), false),
                None => (
                    std::env::temp_dir().join(format!("eddy-bench-s3-{}", std::process::id())),
                    true,
                ),
            };
            let s = Server::start(&eddy, &dir, remove)?;
            let out = (s.aws.clone(), Some(s.child.id()), Some(dir));
            server = Some(s);
            out
        }
    };
    let dd_dir = match (&args.dd_dir, &data_dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => d
            .canonicalize()?
            .parent()
            .map_or_else(std::env::temp_dir, Path::to_owned),
        (None, None) => std::env::temp_dir(),
    };
    let loadavg = |()| {
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let mut report = json!({
        "bench": "s3",
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "data_dir": data_dir.as_ref().map(|d| d.display().to_string()),
        "dd_dir": dd_dir.display().to_string(),
        "fs": fs_type(&dd_dir),
        "loadavg_start": loadavg(()),
    });
    for phase in &args.phases {
        let (name, value) = match phase {
            Phase::Large => ("large", large(&args, &endpoint, pid, &dd_dir).await?),
            Phase::Small => ("small", small(&args, &endpoint).await?),
            Phase::Events => ("events", events(&args, &endpoint).await?),
        };
        report[name] = value;
    }
    report["loadavg_end"] = json!(loadavg(()));
    if let Some(pid) = pid {
        report["rss_end_mib"] = json!(rss_kib(pid).map_or(0.0, |k| round1(k as f64 / 1024.0)));
    }
    drop(server);
    println!("{report}");
    Ok(())
}
