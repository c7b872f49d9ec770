//! Every request is checked against Microsoft's EWS schema before it runs, as Exchange does:
//! unknown elements, wrong element order, invalid enumeration values (`BodyType="Markdown"`,
//! `PropertyType="Strin"`) and bad `RequestServerVersion` values are `ErrorSchemaValidation`
//! ("ResponseCode": "the request failed schema validation"), never accepted.
//!
//! The schema is `shared/ews-schema/soap-envelope.xsd` beside the checkout (or `$EWS_SCHEMA_DIR`),
//! the same files the crate's own envelope tests use. libxml2 does the validation (the `libxml`
//! crate); all of its calls run on one thread of their own, which requests reach over a channel.

use libxml::parser::Parser;
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

type Job = (String, Sender<Result<(), String>>);

/// Where the schema is: `$EWS_SCHEMA_DIR`, else `shared/ews-schema` beside the repository.
pub fn schema_dir() -> PathBuf {
    std::env::var_os("EWS_SCHEMA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ews-schema"))
}

fn validator() -> &'static Result<Mutex<Sender<Job>>, String> {
    static VALIDATOR: OnceLock<Result<Mutex<Sender<Job>>, String>> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = schema_dir().join("soap-envelope.xsd");
        let (ready_tx, ready_rx) = channel::<Result<(), String>>();
        let (tx, rx) = channel::<Job>();
        std::thread::spawn(move || {
            let mut parser = SchemaParserContext::from_file(&path.to_string_lossy());
            let mut context = match SchemaValidationContext::from_parser(&mut parser) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("the EWS schema at {} does not load: {}", path.display(), messages(&e))));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let xml = Parser::default();
            for (request, reply) in rx {
                let verdict = match xml.parse_string(&request) {
                    Ok(doc) => context.validate_document(&doc).map_err(|e| messages(&e)),
                    Err(e) => Err(format!("the request is not well-formed XML: {e:?}")),
                };
                let _ = reply.send(verdict);
            }
        });
        ready_rx.recv().map_err(|e| e.to_string())??;
        Ok(Mutex::new(tx))
    })
}

fn messages(errors: &[libxml::error::StructuredError]) -> String {
    errors.iter().map(|e| format!("line {}: {}", e.line.unwrap_or(0), e.message.as_deref().unwrap_or("").trim())).collect::<Vec<_>>().join("; ")
}

/// Loads the schema now (the binary calls it at start, to fail at once if it is missing).
pub fn ready() -> Result<(), String> {
    validator().as_ref().map(drop).map_err(Clone::clone)
}

/// Checks `request` against the EWS schema. Err: libxml2's messages, with line numbers.
pub fn check(request: &str) -> Result<(), String> {
    let tx = validator().as_ref().map_err(Clone::clone)?;
    let (reply_tx, reply_rx) = channel();
    tx.lock().map_err(|e| e.to_string())?.send((request.to_string(), reply_tx)).map_err(|e| e.to_string())?;
    reply_rx.recv().map_err(|e| e.to_string())?
}
