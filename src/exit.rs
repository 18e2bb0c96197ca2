//! The process's exit codes, as documented in the README and `--help`.

/// How a run ended, as the shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// 0: every row done and downloaded.
    Success,
    /// 1: some rows failed (others done), or the run hit an error it could not get past.
    RowsFailed,
    /// 2: invalid input or config; nothing was submitted.
    InvalidInput,
    /// 3: stopped by the budget (`--max-credits`) or by insufficient credits.
    Budget,
    /// 4: the per-job deadline passed with jobs still rendering; rerun to resume.
    Deadline,
    /// 5: the API refused the credentials.
    Auth,
    /// 6: rows changed in the sheet since their video was made; `--rerender changed` renders
    /// them again.
    Changed,
    /// 7: the API could not be reached (or kept throttling creations for too long); nothing
    /// was lost, rerun when it is reachable.
    Unreachable,
    /// 8: creations whose outcome cannot be proven (created or not: unknown); never sent
    /// again blindly, `creatify-batch resolve` settles them.
    Unresolved,
    /// 130: interrupted (SIGINT/SIGTERM); state is saved, rerun to resume.
    Interrupted,
}

impl ExitCode {
    /// The number the process exits with.
    pub fn code(self) -> i32 {
        match self {
            Self::Success => 0,
            Self::RowsFailed => 1,
            Self::InvalidInput => 2,
            Self::Budget => 3,
            Self::Deadline => 4,
            Self::Auth => 5,
            Self::Changed => 6,
            Self::Unreachable => 7,
            Self::Unresolved => 8,
            Self::Interrupted => 130,
        }
    }
}

/// The exit-code table, for `--help` and the README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    every row done and downloaded
  1    some rows failed, or could not be sent or downloaded this time (the others
       are done); see failed.csv and `creatify-batch status`; rerun to retry the latter
  2    invalid input or config, missing credentials, or the batch folder is in use
       by another run; nothing was submitted
  3    stopped by the budget (--max-credits) or insufficient credits
  4    deadline reached with jobs still rendering; rerun to resume
  5    authentication refused (check CREATIFY_API_ID / CREATIFY_API_KEY)
  6    rows changed in the sheet since their video was made; the video on disk is
       the old version (--rerender changed renders them again)
  7    the API could not be reached, or kept throttling creations for too long;
       nothing lost, rerun when it is reachable
  8    creations whose outcome cannot be proven (created or not: unknown); they are
       never sent again blindly: `creatify-batch resolve BATCH` settles them; or
       renders whose take the job does not show yet (render_requested): the next
       `run --render-approved` reads their jobs again first
  130  interrupted; state is saved, rerun to resume";
