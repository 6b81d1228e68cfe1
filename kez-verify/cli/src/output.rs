//! Rendering results and writing them out.
//!
//! Commands build their whole output in memory and write it once at the end, so a
//! failing command leaves nothing partial on stdout. A closed stdout (`| head`) is not
//! an error. Colour is used only when stdout is a terminal and `NO_COLOR` is unset or
//! empty (<https://no-color.org>).

use std::io::{self, IsTerminal as _, Write as _};

use serde::Serialize;

use crate::cli::Format;
use crate::error::CliError;

/// How results are shown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ui {
    /// Human text or JSON.
    pub(crate) format: Format,
    color: bool,
}

/// The colours results are painted in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Paint {
    /// Success.
    Green,
    /// Checked and not valid.
    Red,
    /// Indeterminate, or a warning.
    Yellow,
}

impl Ui {
    /// The UI for this process: colour if stdout is a terminal and `NO_COLOR` is unset.
    pub(crate) fn detect(format: Format) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            format,
            color: format == Format::Human && !no_color && io::stdout().is_terminal(),
        }
    }

    /// True for `--format json`.
    pub(crate) fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// `text` in `paint`, when colour is on.
    pub(crate) fn paint(&self, text: &str, paint: Paint) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match paint {
            Paint::Green => "32",
            Paint::Red => "31",
            Paint::Yellow => "33",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// Serialises `value` as pretty JSON followed by a newline.
pub(crate) fn to_json(value: &impl Serialize) -> Result<String, CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Io(format!("cannot serialise the JSON output: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Writes `bytes` to stdout and flushes. A closed pipe is not an error: the reader
/// has all it wanted.
pub(crate) fn stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Io(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Writes one line to stderr, ignoring failures (there is nowhere left to report them).
pub(crate) fn stderr_line(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Writes `warning: …` to stderr.
pub(crate) fn warn(message: &str) {
    stderr_line(&format!("warning: {message}"));
}
