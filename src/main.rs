//! The `ferry` command.

use clap::{Parser, Subcommand};

/// Ferry: a WebRTC-to-SIP media gateway.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start Ferry (engine and signaling).
    Up,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Up => {
            eprintln!(
                "ferry up: the packet engine and signaling process are not built yet; \
                 this release ships the wire formats and SRTP core (see README.md)."
            );
            std::process::ExitCode::from(2)
        }
    }
}
