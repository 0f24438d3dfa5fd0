//! The `ci-medic` binary; all of it lives in the library.

fn main() -> std::process::ExitCode {
    ci_medic::cli::main()
}
