//! `kez-verify adapter`: the crosstest adapter protocol, version 1 (docs/ADAPTER.md).
//!
//! The interop harness starts this command once and drives it with one JSON request per
//! line on stdin; each gets one JSON response line on stdout, in order, flushed at once.
//! Every operation is `kez_core`'s (and the CLI's helpers around it): this module only
//! reads arguments, calls the library and writes its answers.
//!
//! | module | docs/ADAPTER.md |
//! |---|---|
//! | [`protocol`] | "Framing", the request, response and error shapes |
//! | [`args`] | "Common values": hex, keys, times |
//! | [`ops`] | "Operations", one function per op |
//! | [`nats`] | "NATS operations", calls into `kez_nats` |
//!
//! Stdout carries nothing but responses; the only other output is the panic message of an
//! op that panicked (on stderr, answered with kind `internal`). The command exits 0 when
//! stdin closes or after answering `shutdown`, and when stdout is closed (the harness is
//! gone); a failing read of stdin is exit 2.

pub(crate) mod args;
pub(crate) mod nats;
pub(crate) mod ops;
pub(crate) mod protocol;

use std::io::{self, Write};

use crate::error::{CliError, CliResult, Status};
use protocol::{Frame, LineReader, OpError, Response, MAX_REQUEST_BYTES};

/// Runs the adapter on this process's stdin and stdout until EOF or `shutdown`.
pub(crate) fn run() -> CliResult {
    let stdin = io::stdin();
    let stdout = io::stdout();
    serve(stdin.lock(), stdout.lock())
}

/// Answers the requests read from `input` on `output`.
fn serve(input: impl io::BufRead, mut output: impl Write) -> CliResult {
    let mut reader = LineReader::new(input, MAX_REQUEST_BYTES);
    loop {
        let frame = reader
            .next_frame()
            .map_err(|e| CliError::Io(format!("cannot read standard input: {e}")))?;
        let (response, stop) = match frame {
            Frame::Eof => return Ok(Status::Ok),
            Frame::Blank => continue,
            Frame::TooLong => (
                Response::failure(
                    serde_json::Value::Null,
                    OpError::usage(format!(
                        "request line is longer than {MAX_REQUEST_BYTES} bytes; skipped"
                    )),
                ),
                false,
            ),
            Frame::Line(line) => ops::handle(&line),
        };
        match response.write_line(&mut output) {
            Ok(()) => {}
            // The harness closed our stdout: nobody is left to answer.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Status::Ok),
            Err(e) => {
                return Err(CliError::Io(format!(
                    "cannot write to standard output: {e}"
                )))
            }
        }
        if stop {
            return Ok(Status::Ok);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(input: &str) -> (Vec<serde_json::Value>, Status) {
        let mut out = Vec::new();
        let status = serve(input.as_bytes(), &mut out).unwrap();
        let lines = String::from_utf8(out).unwrap();
        let responses = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (responses, status)
    }

    #[test]
    fn answers_in_order_and_stops_after_shutdown() {
        let (responses, status) = session(concat!(
            "{\"id\":1,\"op\":\"hello\",\"args\":{}}\n",
            "\n",
            "not json\n",
            "{\"id\":\"x\",\"op\":\"frobnicate\",\"args\":{}}\n",
            "{\"id\":3,\"op\":\"shutdown\",\"args\":{}}\n",
            "{\"id\":4,\"op\":\"hello\",\"args\":{}}\n",
        ));
        assert_eq!(status, Status::Ok);
        let ids: Vec<_> = responses.iter().map(|r| r["id"].clone()).collect();
        assert_eq!(
            ids,
            serde_json::json!([1, null, "x", 3])
                .as_array()
                .unwrap()
                .clone()
        );
        assert_eq!(responses[1]["error"]["kind"], "usage");
        assert_eq!(responses[2]["error"]["kind"], "unsupported");
        assert_eq!(responses[3]["result"], serde_json::json!({}));
    }

    #[test]
    fn a_last_line_without_newline_is_answered() {
        let (responses, _) = session("{\"id\":9,\"op\":\"hello\",\"args\":{}}");
        assert_eq!(responses.len(), 1);
        assert_eq!(responses[0]["result"]["protocol"], 1);
    }
}
