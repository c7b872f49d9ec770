//! The binary's command line (issue 15): `--help` prints the usage and exits without starting a
//! server; a bad argument is an error (exit status 2), not a silent default.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ews-server");

#[test]
fn help_prints_usage_and_starts_nothing() {
    for flag in ["--help", "-h"] {
        let out = Command::new(BIN).arg(flag).output().expect("runs");
        assert!(out.status.success(), "{flag}: {:?}", out.status);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("Usage: ews-server [--port <port>]"), "{text}");
        assert!(text.contains("--graph-allow-origin") && text.contains("/_control/faults"), "{text}");
        assert!(!text.contains("listening"), "no server started: {text}");
    }
}

#[test]
fn a_bad_argument_is_an_error_with_the_usage() {
    let out = Command::new(BIN).args(["--port", "abc"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ews-server: --port \"abc\" is not a port (1 to 65535)\n\nUsage:"), "{err}");
    assert!(out.stdout.is_empty());
}
