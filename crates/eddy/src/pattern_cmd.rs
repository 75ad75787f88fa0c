//! `eddy pattern ...`: test event patterns and benchmark the matcher from the command line.

use std::process::ExitCode;

/// `eddy pattern` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PatternCommand {}

pub fn run(cmd: PatternCommand) -> ExitCode {
    match cmd {}
}
