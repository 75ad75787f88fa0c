//! Function logs: every line an instance writes to stdout or stderr, framed by the `START`,
//! `END` and `REPORT` lines Lambda writes per invocation, handed to a [`LogSink`] (eddy stores
//! them under `/aws/lambda/NAME`), and the tail of each invocation for `LogType: Tail`.
//!
//! Output is read as bytes, never as text: a line is everything up to a `\n` (a `\r` before it is
//! dropped), converted with invalid UTF-8 replaced by U+FFFD, so a function that prints binary
//! data still has every later line logged. A line longer than [`MAX_LINE_BYTES`] (what one
//! CloudWatch Logs event may hold) becomes several consecutive log lines of at most that size,
//! cut at character boundaries, as Lambda splits long lines into several events; so reading a
//! process that writes one endless line takes bounded memory, and the process is never left
//! blocked on a full pipe while it lives.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, ReadBuf};

/// One log line of one function instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The function's region.
    pub region: String,
    /// The function's log group (`/aws/lambda/NAME`).
    pub group: String,
    /// The instance's log stream.
    pub stream: String,
    pub time_ms: i64,
    pub message: String,
}

/// Where function log lines go. `write` must not block: implementations buffer.
pub trait LogSink: Send + Sync + 'static {
    fn write(&self, line: LogLine);
}

/// A sink that keeps nothing.
pub struct DiscardLogs;

impl LogSink for DiscardLogs {
    fn write(&self, _line: LogLine) {}
}

/// The longest log line, in bytes: CloudWatch Logs' event size limit (256 KiB) less the 26 bytes
/// it counts per event. Longer output lines are split into several log lines.
pub const MAX_LINE_BYTES: usize = 256 * 1024 - 26;

/// Whether the reader of one output pipe holds bytes it took from the pipe and has not logged
/// yet. Together with the pipe's unread byte count it tells when everything a process wrote
/// before answering an invocation is logged (see `Shared::settle_output`), so that its lines
/// come before the invocation's `END` and in its tail.
#[derive(Debug, Default)]
pub(crate) struct Intake {
    holding: AtomicBool,
}

impl Intake {
    pub fn holding(&self) -> bool {
        self.holding.load(Ordering::SeqCst)
    }

    pub fn logged(&self) {
        self.holding.store(false, Ordering::SeqCst);
    }
}

/// An output pipe that marks its [`Intake`] holding before each read, and clears it again when
/// the read took nothing.
pub(crate) struct Watched<R> {
    inner: R,
    intake: Arc<Intake>,
}

impl<R> Watched<R> {
    pub fn new(inner: R, intake: Arc<Intake>) -> Self {
        Self { inner, intake }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Watched<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        self.intake.holding.store(true, Ordering::SeqCst);
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let took = matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before;
        if !took {
            self.intake.logged();
        }
        polled
    }
}

/// Reads a function's stdout or stderr as log lines: see the module docs.
pub(crate) struct LineReader<R> {
    reader: BufReader<R>,
    /// The bytes of the line being read (at most `max`).
    line: Vec<u8>,
    /// Lines ready to hand out (a line whose lossy conversion outgrew `max`).
    ready: VecDeque<String>,
    max: usize,
    eof: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(reader: R) -> Self {
        Self::with_max(reader, MAX_LINE_BYTES)
    }

    /// A reader that splits lines at `max` bytes (at least 4, one character).
    pub fn with_max(reader: R, max: usize) -> Self {
        Self {
            reader: BufReader::with_capacity(64 * 1024, reader),
            line: Vec::new(),
            ready: VecDeque::new(),
            max: max.max(4),
            eof: false,
        }
    }

    /// Whether every complete line taken from the output has been handed out (a partial line
    /// may be pending).
    pub fn idle(&self) -> bool {
        self.ready.is_empty() && !self.reader.buffer().contains(&b'\n')
    }

    /// The next line; `None` at the end of the output (or when reading fails: the pipe is
    /// gone).
    pub async fn next_line(&mut self) -> Option<String> {
        loop {
            if let Some(l) = self.ready.pop_front() {
                return Some(l);
            }
            if self.eof {
                return None;
            }
            let buf = match self.reader.fill_buf().await {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => &[],
            };
            if buf.is_empty() {
                self.eof = true;
                if !self.line.is_empty() {
                    let rest = std::mem::take(&mut self.line);
                    self.emit(&rest);
                }
                continue;
            }
            let room = self.max - self.line.len();
            let window = &buf[..buf.len().min(room)];
            if let Some(i) = window.iter().position(|b| *b == b'\n') {
                self.line.extend_from_slice(&window[..i]);
                self.reader.consume(i + 1);
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.emit(&line);
                self.line = line;
                self.line.clear();
            } else {
                let n = window.len();
                self.line.extend_from_slice(window);
                self.reader.consume(n);
                if self.line.len() >= self.max {
                    // Too long: hand out what fits, keeping a character cut in two for the next
                    // part.
                    let cut = char_start(&self.line);
                    let rest = self.line.split_off(cut);
                    let part = std::mem::replace(&mut self.line, rest);
                    self.emit(&part);
                }
            }
        }
    }

    /// Queues `bytes` as one line, or several when replacing invalid UTF-8 made it too long.
    fn emit(&mut self, bytes: &[u8]) {
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        while text.len() > self.max {
            let mut at = self.max;
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let rest = text.split_off(at);
            self.ready.push_back(std::mem::replace(&mut text, rest));
        }
        self.ready.push_back(text);
    }
}

/// Where the last character of `bytes` starts when it is incomplete (a UTF-8 sequence cut by
/// the length cap), else `bytes.len()`.
fn char_start(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=3.min(n) {
        let b = bytes[n - back];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back
        }
        let len = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if len > back { n - back } else { n };
    }
    n
}

/// The most bytes of log output `LogType: Tail` returns.
pub const TAIL_BYTES: usize = 4096;

/// The lines of the invocation running on one instance, bounded to the last [`TAIL_BYTES`].
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    pub fn clear(&mut self) {
        self.lines.clear();
        self.bytes = 0;
    }

    pub fn push(&mut self, line: &str) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line.to_owned());
        while self.bytes > TAIL_BYTES * 2 && self.lines.len() > 1 {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len() + 1;
            }
        }
    }

    /// The last [`TAIL_BYTES`] of the lines, newline-terminated, cut at a character boundary.
    pub fn text(&self) -> String {
        let mut all = String::with_capacity(self.bytes);
        for l in &self.lines {
            all.push_str(l);
            all.push('\n');
        }
        if all.len() <= TAIL_BYTES {
            return all;
        }
        let mut start = all.len() - TAIL_BYTES;
        while !all.is_char_boundary(start) {
            start += 1;
        }
        all[start..].to_owned()
    }
}

pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}")
}

pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// Lambda's `REPORT` line.
pub fn report_line(
    request_id: &str,
    duration: Duration,
    memory_mb: u32,
    max_memory_mb: u64,
    init: Option<Duration>,
) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    let billed = (ms.ceil() as u64).max(1);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {billed} ms\t\
         Memory Size: {memory_mb} MB\tMax Memory Used: {max_memory_mb} MB"
    );
    if let Some(init) = init {
        line.push_str(&format!(
            "\tInit Duration: {:.2} ms",
            init.as_secs_f64() * 1000.0
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8], max: usize) -> Vec<String> {
        let mut r = LineReader::with_max(input, max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await {
            out.push(l);
        }
        out
    }

    #[tokio::test]
    async fn lines_are_read_lossily_and_never_stop() {
        let out = lines_of(b"one\r\ntwo \xff\xfe bad\n\nthree\nlast", 1024).await;
        assert_eq!(
            out,
            ["one", "two \u{FFFD}\u{FFFD} bad", "", "three", "last"]
        );
    }

    #[tokio::test]
    async fn long_lines_are_split_at_the_cap_and_at_character_boundaries() {
        let mut input = vec![b'x'; 25];
        input.push(b'\n');
        input.extend_from_slice(b"after\n");
        let out = lines_of(&input, 10).await;
        assert_eq!(
            out,
            [
                "x".repeat(10),
                "x".repeat(10),
                "x".repeat(5),
                "after".into()
            ]
        );
        // A two-byte character straddling the cap moves whole to the next part.
        let out = lines_of("abcdefghié1\n".as_bytes(), 10).await;
        assert_eq!(out, ["abcdefghi", "é1"]);
        // Invalid bytes grow three times when replaced; the parts still respect the cap.
        let out = lines_of(&[0xffu8; 8], 10).await;
        assert!(out.iter().all(|l| l.len() <= 10), "{out:?}");
        assert_eq!(out.concat(), "\u{FFFD}".repeat(8));
    }

    #[tokio::test]
    async fn the_default_cap_is_cloudwatch_s_event_size() {
        let mut input = vec![b'y'; MAX_LINE_BYTES * 2 + 7];
        input.push(b'\n');
        let out = lines_of(&input, MAX_LINE_BYTES).await;
        let lens: Vec<usize> = out.iter().map(String::len).collect();
        assert_eq!(lens, [MAX_LINE_BYTES, MAX_LINE_BYTES, 7]);
        assert_eq!(MAX_LINE_BYTES, 262_118);
    }

    #[test]
    fn char_start_finds_cut_characters() {
        assert_eq!(char_start(b"abc"), 3);
        assert_eq!(char_start("aé".as_bytes()), 3);
        assert_eq!(char_start(&"aé".as_bytes()[..2]), 1);
        assert_eq!(char_start(&"a€".as_bytes()[..3]), 1);
        assert_eq!(char_start(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(char_start("a😀".as_bytes()), 5);
        assert_eq!(char_start(&[0xff, 0xff]), 2);
    }

    #[test]
    fn tail_keeps_the_last_4k() {
        let mut t = Tail::default();
        for i in 0..1000 {
            t.push(&format!("line {i}"));
        }
        let text = t.text();
        assert!(text.len() <= TAIL_BYTES);
        assert!(text.ends_with("line 999\n"));
        t.clear();
        t.push("é");
        assert_eq!(t.text(), "é\n");
    }

    #[test]
    fn report_format() {
        let r = report_line(
            "id",
            Duration::from_micros(1500),
            128,
            20,
            Some(Duration::from_millis(12)),
        );
        assert_eq!(
            r,
            "REPORT RequestId: id\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 12.00 ms"
        );
    }
}
