//! Helpers shared by the native test files.
#![allow(dead_code)]

pub mod spool_suite;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `shared/ews-schema` beside the checkout, or `$EWS_SCHEMA_DIR`.
pub fn schema_dir() -> PathBuf {
    std::env::var_os("EWS_SCHEMA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/ews-schema"))
}

/// Validates a whole SOAP document against `soap-envelope.xsd` (and through it the EWS schemas)
/// with xmllint. Err carries xmllint's report.
pub fn validate_envelope(xml: &str) -> Result<(), String> {
    let schema = schema_dir().join("soap-envelope.xsd");
    assert!(schema.exists(), "EWS schema not found at {} (set EWS_SCHEMA_DIR)", schema.display());
    let mut child = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&schema)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint runs (pkg-scripts/setup installs libxml2-utils)");
    child.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Reads a fixture under `tests/fixtures/`.
pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path))
        .unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}
