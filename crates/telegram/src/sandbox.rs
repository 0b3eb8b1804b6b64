//! Document text extraction within a time and memory budget: in a child process (the running
//! executable again, with a hidden argument) whose address space and CPU time are capped by
//! `setrlimit` before it reads a byte, killed when it outlives the wall-clock budget. A hostile
//! PDF or .docx (a decompression bomb, a parser stuck in a loop or allocating without end) can
//! only end that child: the bot's own memory and threads are never at stake, and at most
//! [`PARALLEL_EXTRACTIONS`] children run at once.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use crate::documents::{self, DocumentError, DocumentKind, MAX_DOCUMENT_BYTES};

/// The argument that makes the executable act as the extraction child.
pub const CHILD_ARG: &str = "__extract-document";

/// Address space of the child. The extractors cap what they expand (40 MB of .docx XML) and
/// a 5 MB document needs well under 100 MB; past this an allocation fails and the child aborts.
pub const MEMORY_BUDGET_BYTES: u64 = 512 * 1024 * 1024;

/// CPU seconds of the child (the kernel stops it past this, even if the wall clock is kind).
pub const CPU_BUDGET_SECS: u64 = 15;

/// How long the bot waits for a child before killing it.
pub const WALL_BUDGET: Duration = Duration::from_secs(20);

/// Children running at once (each may use [`MEMORY_BUDGET_BYTES`]); others wait for a slot.
pub const PARALLEL_EXTRACTIONS: usize = 2;

/// Text a child may hand back (a resume is a few kilobytes; more is refused).
const MAX_TEXT_BYTES: usize = 16 * 1024 * 1024;

/// How documents are read.
#[derive(Clone)]
pub enum Extractor {
    /// On a blocking thread of this process, within [`WALL_BUDGET`] but with no memory bound
    /// (the thread cannot be stopped): for tools and tests that read trusted files.
    InProcess,
    /// `program args… CHILD_ARG <kind>` in a child process within the budgets.
    Child {
        program: PathBuf,
        args: Vec<String>,
        slots: Arc<Semaphore>,
        /// [`WALL_BUDGET`] unless a test shortens it.
        wall: Duration,
    },
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InProcess => f.write_str("InProcess"),
            Self::Child { program, .. } => write!(f, "Child({})", program.display()),
        }
    }
}

impl Extractor {
    /// Children of `program` (which must call [`child_main`] when given [`CHILD_ARG`]),
    /// with `args` before it.
    pub fn child(program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        Self::Child {
            program: program.into(),
            args,
            slots: Arc::new(Semaphore::new(PARALLEL_EXTRACTIONS)),
            wall: WALL_BUDGET,
        }
    }

    /// The same extractor with another wall-clock budget (tests that must not wait 20 s).
    pub fn with_wall_budget(self, budget: Duration) -> Self {
        match self {
            Self::Child {
                program,
                args,
                slots,
                ..
            } => Self::Child {
                program,
                args,
                slots,
                wall: budget,
            },
            in_process => in_process,
        }
    }

    /// Children of the running executable (the `soprovod` binary handles [`CHILD_ARG`]).
    pub fn this_executable() -> std::io::Result<Self> {
        Ok(Self::child(std::env::current_exe()?, Vec::new()))
    }

    /// The text of a document, or why there is none.
    pub async fn extract(
        &self,
        kind: DocumentKind,
        bytes: Vec<u8>,
    ) -> Result<String, DocumentError> {
        match self {
            Self::InProcess => {
                let work =
                    tokio::task::spawn_blocking(move || documents::extract_text(kind, &bytes));
                match tokio::time::timeout(WALL_BUDGET, work).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(_)) => Err(DocumentError::Unreadable("the extractor failed".into())),
                    Err(_) => Err(DocumentError::OverBudget),
                }
            }
            Self::Child {
                program,
                args,
                slots,
                wall,
            } => {
                // Never closed, so acquiring cannot fail.
                let _slot = slots.acquire().await;
                run_child(program, args, *wall, kind, bytes).await
            }
        }
    }
}

/// What a child answers on stdout, as one JSON document.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Text(String),
    NoText,
    Unreadable(String),
    TooLarge { bytes: usize, max: usize },
}

async fn run_child(
    program: &PathBuf,
    args: &[String],
    wall: Duration,
    kind: DocumentKind,
    bytes: Vec<u8>,
) -> Result<String, DocumentError> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .arg(CHILD_ARG)
        .arg(kind_arg(kind))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            tracing::error!(error = %e, "the document extractor could not be started");
            DocumentError::Unreadable("the extractor could not be started".into())
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let work = async {
        // Written while the answer is read, so neither pipe can fill up and stall the other.
        let feed = async move {
            // A child that dies early closes its end; its exit status says why.
            let _ = stdin.write_all(&bytes).await;
            drop(stdin);
        };
        let mut out = Vec::new();
        let read = async {
            (&mut stdout)
                .take(MAX_TEXT_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .await
        };
        let ((), read) = tokio::join!(feed, read);
        let status = child.wait().await;
        (read, status, out)
    };
    let (read, status, out) = match tokio::time::timeout(wall, work).await {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!("document extraction ran out of time; the child was killed");
            // kill_on_drop ends it when `child` goes out of scope; make it now.
            let _ = child.start_kill();
            return Err(DocumentError::OverBudget);
        }
    };
    let status = status.map_err(|_| DocumentError::Unreadable("the extractor vanished".into()))?;
    if read.is_err() || !status.success() || out.len() > MAX_TEXT_BYTES {
        // Killed by the CPU limit, aborted on a failed allocation, or answered too much.
        tracing::warn!(status = %status, "document extraction went over its budget");
        return Err(DocumentError::OverBudget);
    }
    match serde_json::from_slice::<Answer>(&out) {
        Ok(Answer::Text(text)) => Ok(text),
        Ok(Answer::NoText) => Err(DocumentError::NoText),
        Ok(Answer::Unreadable(why)) => Err(DocumentError::Unreadable(why)),
        Ok(Answer::TooLarge { bytes, max }) => Err(DocumentError::TooLarge { bytes, max }),
        Err(_) => Err(DocumentError::Unreadable(
            "the extractor answered nonsense".into(),
        )),
    }
}

fn kind_arg(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Text => "text",
        DocumentKind::Pdf => "pdf",
        DocumentKind::Docx => "docx",
    }
}

/// The child: caps its own memory and CPU time, reads the document from stdin, writes the
/// answer to stdout. `kind` is the argument after [`CHILD_ARG`]. Returns the exit code.
pub fn child_main(kind: &str) -> u8 {
    use nix::sys::resource::{setrlimit, Resource};
    let kind = match kind {
        "text" => DocumentKind::Text,
        "pdf" => DocumentKind::Pdf,
        "docx" => DocumentKind::Docx,
        _ => return 64,
    };
    // Before anything of the document is read: the limits hold for all that follows.
    if setrlimit(
        Resource::RLIMIT_AS,
        MEMORY_BUDGET_BYTES,
        MEMORY_BUDGET_BYTES,
    )
    .is_err()
        || setrlimit(Resource::RLIMIT_CPU, CPU_BUDGET_SECS, CPU_BUDGET_SECS).is_err()
    {
        return 71;
    }
    let mut bytes = Vec::new();
    if std::io::Read::read_to_end(
        &mut std::io::Read::take(std::io::stdin().lock(), MAX_DOCUMENT_BYTES as u64 + 1),
        &mut bytes,
    )
    .is_err()
    {
        return 74;
    }
    let answer = match documents::extract_text(kind, &bytes) {
        Ok(text) => Answer::Text(text),
        Err(DocumentError::NoText) => Answer::NoText,
        Err(DocumentError::TooLarge { bytes, max }) => Answer::TooLarge { bytes, max },
        Err(DocumentError::Unreadable(why)) => Answer::Unreadable(why),
        Err(e) => Answer::Unreadable(e.to_string()),
    };
    let mut out = std::io::stdout().lock();
    if serde_json::to_writer(&mut out, &answer).is_err() || std::io::Write::flush(&mut out).is_err()
    {
        return 74;
    }
    0
}
