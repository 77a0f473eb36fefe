//! Thin entry point: parse arguments, set up logging, run, map errors to exit codes.

use std::process::ExitCode as ProcessExit;

use clap::{CommandFactory, Parser};
use mailreg::cli::{Cli, Command, OutputFormat};
use mailreg::error::{Error, ErrorKind, ExitCode};

fn main() -> ProcessExit {
    quiet_on_a_closed_pipe();
    // A shell asking for completions (`COMPLETE=bash mailreg -- <words>`, the scripts of
    // `mailreg completions`): answered from the clap definition, then the process ends.
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(mailreg::commands::completions::VAR)
        .complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors are bad input (3), not clap's 2, which means "changes pending" here.
            if e.use_stderr() && json_requested() {
                // Even a command line that does not parse gets its one JSON document.
                let msg = e.render().to_string();
                let first = msg
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                let err = Error::bad_input(first.to_owned())
                    .with_hint("see `mailreg --help` or `mailreg <command> --help`");
                return report(err, true);
            }
            if json_requested() {
                // --help and --version under -o json: their text in a field of one document.
                let key = match e.kind() {
                    clap::error::ErrorKind::DisplayVersion => "version",
                    _ => "help",
                };
                // clap ends the text with a newline; the JSON value is the text alone.
                let text = e.render().to_string();
                println!("{}", serde_json::json!({ key: text.trim_end() }));
                return ProcessExit::from(0);
            }
            let _ = e.print();
            return ProcessExit::from(if e.use_stderr() {
                ExitCode::BadInput as u8
            } else {
                0
            });
        }
    };
    mailreg::logging::init(cli.global.verbose, cli.global.quiet);
    let json = cli.global.output == OutputFormat::Json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(Error::internal(format!("starting the runtime: {e}")), json),
    };
    // `mailreg emulator` runs until Ctrl-C by design: there the signal is its normal end.
    let stops_on_ctrl_c = matches!(&cli.command, Command::Emulator(a) if a.action.is_none());
    let terminal = mailreg::interrupt::Terminal::save();
    let result = runtime.block_on(async {
        if stops_on_ctrl_c {
            return mailreg::commands::run(cli.command, &cli.global).await;
        }
        mailreg::interrupt::watch(terminal, if json { report_json } else { report_text });
        tokio::select! {
            r = mailreg::commands::run(cli.command, &cli.global) => r,
            _ = tokio::signal::ctrl_c() => Err(Error::interrupted()),
        }
    });
    // A console prompt may still block a thread of the runtime in a terminal read: never wait
    // for it (the outcome is known; dropping the runtime would join that thread).
    runtime.shutdown_background();
    if !mailreg::interrupt::claim_report() {
        // The interrupt watcher has reported and is ending the process.
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    match result {
        Ok(code) => ProcessExit::from(code as u8),
        Err(e) => report(e, json),
    }
}

fn report_json(e: Error) {
    let _ = report(e, true);
}

fn report_text(e: Error) {
    let _ = report(e, false);
}

fn report(e: Error, json: bool) -> ProcessExit {
    let code = e.kind.exit_code() as u8;
    if e.reported {
        return ProcessExit::from(code);
    }
    if json {
        println!("{}", serde_json::json!({"error": e.to_json()}));
    } else if e.kind == ErrorKind::ManualStep {
        eprintln!("manual step required: {e}");
    } else {
        eprintln!("error: {e}");
    }
    ProcessExit::from(code)
}

/// Whether `-o json` was asked for, read from the raw arguments (and `MAILREG_OUTPUT`) because
/// the command line as a whole did not parse.
fn json_requested() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut asked = std::env::var("MAILREG_OUTPUT").is_ok_and(|v| v == "json");
    for (i, a) in args.iter().enumerate() {
        let next = args.get(i + 1).map(String::as_str);
        match a.as_str() {
            "-o" | "--output" => asked = next == Some("json"),
            "-ojson" | "--output=json" => asked = true,
            a if a.starts_with("--output=") || (a.starts_with("-o") && !a.starts_with("--")) => {
                asked = false
            }
            _ => {}
        }
    }
    asked
}

/// `mailreg status | head`: once the reader has gone, the rest of the output has nowhere to go
/// and the run is over, as for `git` and `ripgrep`. Rust ignores SIGPIPE (so that sockets get
/// errors rather than a kill) and `println!` then panics on EPIPE; this turns exactly that panic
/// into the quiet exit a shell expects from a closed pipe (141, SIGPIPE's code), with no
/// message. SIGPIPE itself stays ignored: a server's dropped connection is an error to report.
fn quiet_on_a_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let printing = message.starts_with("failed printing to stdout")
            || message.starts_with("failed printing to stderr");
        if printing && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info)
    }));
}
