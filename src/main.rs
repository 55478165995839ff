//! The `credtray` binary: the edge where arguments become a command and errors become exit
//! codes (0 success, 1 the operation failed, 2 invalid input).

use std::process::ExitCode;

fn main() -> ExitCode {
    credtray::cli::init_logging();
    credtray::cli::install_panic_hook("credtray");
    match credtray::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("credtray: {}", credtray::error_sentence(err.as_ref()));
            ExitCode::from(credtray::cli::exit_code(&err))
        }
    }
}
