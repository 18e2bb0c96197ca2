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
  130  interrupted; state is saved, rerun to resume";
