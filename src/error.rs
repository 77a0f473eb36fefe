//! One error type for the whole tool, and the exit codes scripts branch on.
//!
//! Every failure is classified once, where it is understood (a spec error, an auth failure, a
//! cloud refusing a call), so `main` only maps [`ErrorKind`] to an exit code. Messages never carry
//! secrets: callers build them from names, ids and server error codes, never from request bodies.

use std::fmt;

/// Exit codes, documented in the README. Stable: scripts depend on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    /// Anything not covered below: a cloud API error, I/O, a bug.
    Error = 1,
    /// `plan --detailed-exitcode`: the plan has changes.
    ChangesPending = 2,
    /// The spec, a flag, or an input file is invalid. Nothing was sent.
    BadInput = 3,
    /// mailreg could not authenticate itself to a cloud.
    AuthFailed = 4,
    /// A step only a person can do in a console is pending (Google consent screen and client).
    ManualStepRequired = 5,
    /// `verify`: a sign-in or a mail protocol login failed.
    VerifyFailed = 6,
    /// mailreg refused to act: a resource without mailreg's marks, a replacement not allowed,
    /// a lock held by another run, a confirmation declined.
    Refused = 7,
    /// Interrupted by a signal.
    Interrupted = 130,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    BadInput,
    Auth,
    Api,
    Io,
    Refused,
    ManualStep,
    VerifyFailed,
    Internal,
    /// Ctrl-C (SIGINT): the run stopped where it was.
    Interrupted,
}

impl ErrorKind {
    pub fn exit_code(self) -> ExitCode {
        match self {
            ErrorKind::BadInput => ExitCode::BadInput,
            ErrorKind::Auth => ExitCode::AuthFailed,
            ErrorKind::Refused => ExitCode::Refused,
            ErrorKind::ManualStep => ExitCode::ManualStepRequired,
            ErrorKind::VerifyFailed => ExitCode::VerifyFailed,
            ErrorKind::Interrupted => ExitCode::Interrupted,
            ErrorKind::Api | ErrorKind::Io | ErrorKind::Internal => ExitCode::Error,
        }
    }

    /// The stable name used in `--output json` error objects.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_input",
            ErrorKind::Auth => "auth_failed",
            ErrorKind::Api => "api_error",
            ErrorKind::Io => "io_error",
            ErrorKind::Refused => "refused",
            ErrorKind::ManualStep => "manual_step_required",
            ErrorKind::VerifyFailed => "verify_failed",
            ErrorKind::Internal => "internal",
            ErrorKind::Interrupted => "interrupted",
        }
    }
}

/// A failure with what a person needs to act on it: a message, and where useful a hint.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// The cloud's own error code (`Request_ResourceNotFound`, `ALREADY_EXISTS`), when there is one.
    pub code: Option<String>,
    /// HTTP status of the failed call, when there is one.
    pub status: Option<u16>,
    /// The command already printed this error in its own output (`--output json` documents
    /// carry it), so `main` only sets the exit code.
    pub reported: bool,
    /// The lower-level error this one was made from (an I/O or transport error), kept for
    /// [`std::error::Error::source`]: the message says what failed in plain words, the chain
    /// keeps the detail for `-vv` and for callers that inspect it.
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            code: None,
            status: None,
            reported: false,
            source: None,
        }
    }
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }
    pub fn api(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Api, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// Ctrl-C: exit 130, with the reminder that a rerun converges.
    pub fn interrupted() -> Self {
        Self::new(ErrorKind::Interrupted, "interrupted")
            .with_hint("run the same command again: mailreg converges from wherever it stopped")
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Keeps the error this one was made from (see [`Error::source`](Error#structfield.source)).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
    /// The same error for another caller (kind, message, hint, code, status; the source chain
    /// stays with the original), e.g. a sign-in failure shared by requests that waited on it.
    pub fn duplicate(&self) -> Self {
        let mut e = Error::new(self.kind, self.message.clone());
        e.hint = self.hint.clone();
        e.code = self.code.clone();
        e.status = self.status;
        e
    }
    /// Prefixes the message with what was being done (`creating the application: …`).
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind.as_str(),
            "message": self.message,
            "hint": self.hint,
            "code": self.code,
            "status": self.status,
            "exit_code": self.kind.exit_code() as i32,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// serde_json's message without its trailing ` at line L column C`, for callers that print
/// the position themselves as `file:L:C:`.
pub fn json_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_keep_their_source() {
        let e: Error = std::io::Error::new(std::io::ErrorKind::NotFound, "gone").into();
        assert_eq!(e.kind, ErrorKind::Io);
        let source = e.source().expect("the io error is kept");
        assert_eq!(source.to_string(), "gone");
        let e = Error::api("listing applications").with_source(std::fmt::Error);
        assert!(e.source().unwrap().is::<std::fmt::Error>());
        assert!(Error::api("no cause").source().is_none());
    }
}
