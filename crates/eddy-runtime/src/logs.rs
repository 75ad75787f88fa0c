//! Function logs: every line an instance writes to stdout or stderr, framed by the `START`,
//! `END` and `REPORT` lines Lambda writes per invocation, handed to a [`LogSink`] (eddy stores
//! them under `/aws/lambda/NAME`), and the tail of each invocation for `LogType: Tail`.

use std::collections::VecDeque;
use std::time::Duration;

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
