//! Framing and message shapes of the adapter protocol (docs/ADAPTER.md, "Framing").
//!
//! ```text
//! request   {"id": 7, "op": "verify_raw", "args": {...}}
//! response  {"id": 7, "ok": true, "result": {...}}
//! error     {"id": 7, "ok": false, "error": {"kind": "unsupported", "message": "..."}}
//! ```
//!
//! Request lines are read with a cap of [`MAX_REQUEST_BYTES`]: a longer line is skipped
//! without being held in memory and answered with a `usage` error whose id is `null`, as is
//! a line that is not JSON. Lines holding only whitespace are not requests and get no answer.

use std::io::{self, BufRead, Read as _, Write};

use serde::Serialize;
use serde_json::{Map, Value};

/// The longest request line accepted, in bytes, without its newline.
pub(crate) const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// The protocol version this adapter speaks (`hello`'s `protocol`).
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// Why an operation could not be performed at all (docs/ADAPTER.md, "error kind").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorKind {
    /// The op, or an argument value (an algorithm, an encoding), is not implemented.
    Unsupported,
    /// The request is malformed: missing or mistyped arguments (a harness bug).
    Usage,
    /// Anything else.
    Internal,
}

/// An `ok: false` answer. Messages name the argument at fault and never carry secret
/// material: argument values are described by their type, not echoed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub(crate) struct OpError {
    /// The error kind.
    pub(crate) kind: ErrorKind,
    /// One lowercase sentence saying what was wrong.
    pub(crate) message: String,
}

impl OpError {
    /// A `usage` error.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Usage,
            message: message.into(),
        }
    }

    /// An `unsupported` error.
    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Unsupported,
            message: message.into(),
        }
    }

    /// An `internal` error.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }
}

/// A request that has the protocol's shape; its `args` are checked by the op.
#[derive(Debug)]
pub(crate) struct Request {
    /// Echoed in the response as it was sent.
    pub(crate) id: Value,
    /// The operation's name.
    pub(crate) op: String,
    /// The arguments (`{}` when absent or null).
    pub(crate) args: Map<String, Value>,
}

/// Parses one request line. On failure the error comes with the id to answer with:
/// the request's own when it has one, else `null`.
pub(crate) fn parse_request(line: &[u8]) -> Result<Request, (Value, OpError)> {
    // The strict parser (SPEC.md §2.1): numbers beyond 2^53 stay doubles, as JSON
    // numbers are in every other implementation, and duplicate names are refused.
    let value = kez_core::json::parse_strict(line).map_err(|e| {
        (
            Value::Null,
            OpError::usage(format!("request is not JSON: {e}")),
        )
    })?;
    let Value::Object(mut object) = value else {
        return Err((
            Value::Null,
            OpError::usage("a request is an object {\"id\", \"op\", \"args\"}"),
        ));
    };
    let id = object.remove("id").unwrap_or(Value::Null);
    let op = match object.remove("op") {
        Some(Value::String(op)) => op,
        _ => {
            return Err((
                id,
                OpError::usage("a request needs \"op\", a string naming the operation"),
            ))
        }
    };
    let args = match object.remove("args") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(args)) => args,
        Some(_) => return Err((id, OpError::usage("\"args\" must be an object"))),
    };
    Ok(Request { id, op, args })
}

/// One response line.
#[derive(Debug, Serialize)]
pub(crate) struct Response {
    id: Value,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<OpError>,
}

impl Response {
    /// `{"id", "ok": true, "result"}`.
    pub(crate) fn success(id: Value, result: Value) -> Self {
        Self {
            id,
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    /// `{"id", "ok": false, "error": {"kind", "message"}}`.
    pub(crate) fn failure(id: Value, error: OpError) -> Self {
        Self {
            id,
            ok: false,
            result: None,
            error: Some(error),
        }
    }

    /// Writes the response as one line and flushes it.
    pub(crate) fn write_line(&self, out: &mut impl Write) -> io::Result<()> {
        let mut line = match serde_json::to_vec(self) {
            Ok(line) => line,
            // Only a value serde_json cannot write (none is built here) gets this far.
            Err(e) => serde_json::to_vec(&Response::failure(
                self.id.clone(),
                OpError::internal(format!("cannot serialise the response: {e}")),
            ))
            .map_err(io::Error::other)?,
        };
        line.push(b'\n');
        out.write_all(&line)?;
        out.flush()
    }
}

/// One unit read from the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A line without its `\n` (and `\r`); the last line may lack the newline.
    Line(Vec<u8>),
    /// A line of only whitespace.
    Blank,
    /// A line longer than the cap; it was read past and dropped.
    TooLong,
    /// The input is closed.
    Eof,
}

/// Reads request lines with a length cap.
#[derive(Debug)]
pub(crate) struct LineReader<R> {
    inner: R,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    /// A reader of lines of at most `max` bytes.
    pub(crate) fn new(inner: R, max: usize) -> Self {
        Self { inner, max }
    }

    /// The next frame. Memory stays below `max` bytes plus the reader's buffer.
    pub(crate) fn next_frame(&mut self) -> io::Result<Frame> {
        let mut line = Vec::new();
        let cap = u64::try_from(self.max)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let read = (&mut self.inner).take(cap).read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(Frame::Eof);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        } else if line.len() > self.max {
            self.skip_line()?;
            return Ok(Frame::TooLong);
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(Frame::Blank);
        }
        Ok(Frame::Line(line))
    }

    /// Reads past the rest of the current line, holding none of it.
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            let buffer = match self.inner.fill_buf() {
                Ok(buffer) => buffer,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buffer.is_empty() {
                return Ok(());
            }
            match buffer.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.inner.consume(i + 1);
                    return Ok(());
                }
                None => {
                    let n = buffer.len();
                    self.inner.consume(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize) -> Vec<Frame> {
        let mut reader = LineReader::new(io::BufReader::with_capacity(4, input), max);
        let mut out = Vec::new();
        loop {
            let frame = reader.next_frame().unwrap();
            if frame == Frame::Eof {
                return out;
            }
            out.push(frame);
        }
    }

    #[test]
    fn lines_at_the_cap_pass_and_longer_ones_are_skipped_whole() {
        let got = frames(b"12345\n123456\nab\r\n  \n1234567890123\nlast", 5);
        assert_eq!(
            got,
            vec![
                Frame::Line(b"12345".to_vec()),
                Frame::TooLong,
                Frame::Line(b"ab".to_vec()),
                Frame::Blank,
                Frame::TooLong,
                Frame::Line(b"last".to_vec()),
            ]
        );
    }

    #[test]
    fn a_too_long_last_line_without_newline_ends_the_input() {
        assert_eq!(frames(b"123456789", 5), vec![Frame::TooLong]);
    }

    #[test]
    fn requests_keep_their_id_when_the_rest_is_wrong() {
        let (id, e) = parse_request(br#"{"id":[1],"op":5}"#).unwrap_err();
        assert_eq!(id, serde_json::json!([1]));
        assert_eq!(e.kind, ErrorKind::Usage);
        let (id, _) = parse_request(br#"[1,2]"#).unwrap_err();
        assert_eq!(id, Value::Null);
        let (id, e) = parse_request(br#"{"id":2,"op":"x","args":[]}"#).unwrap_err();
        assert_eq!((id, e.kind), (serde_json::json!(2), ErrorKind::Usage));
        let request = parse_request(br#"{"id":3,"op":"hello"}"#).unwrap();
        assert!(request.args.is_empty());
    }
}
