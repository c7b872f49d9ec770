//! The SOAP 1.1 envelope shared by every EWS request we write.

use super::{NS_MESSAGES, NS_SOAP, NS_TYPES};
use crate::error::{shown, Error, Result};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::writer::ElementWriter;
use quick_xml::Writer;
use std::io;

/// `RequestServerVersion` values the EWS schema allows (`t:ExchangeVersionType`).
pub const SERVER_VERSIONS: [&str; 16] = [
    "Exchange2007", "Exchange2007_SP1", "Exchange2009", "Exchange2010", "Exchange2010_SP1", "Exchange2010_SP2",
    "Exchange2012", "Exchange2013", "Exchange2013_SP1", "Exchange2015", "Exchange2016", "V2015_10_05",
    "V2016_01_06", "V2016_04_13", "V2016_07_13", "V2016_10_10",
];
/// Default `RequestServerVersion`.
pub const DEFAULT_SERVER_VERSION: &str = "Exchange2013";

/// The XML writer type every request body is written with.
pub type XmlWriter = Writer<Vec<u8>>;

/// SOAP header content: server version and optional impersonation.
#[derive(Debug, Clone, Default)]
pub struct Header<'a> {
    /// One of [`SERVER_VERSIONS`]; `None` = [`DEFAULT_SERVER_VERSION`].
    pub server_version: Option<&'a str>,
    /// Primary SMTP address for `ExchangeImpersonation/ConnectingSID/PrimarySmtpAddress`.
    pub impersonate: Option<&'a str>,
}

/// Validates a `RequestServerVersion` (case-sensitive, as the schema enumerates it).
pub fn server_version(v: Option<&str>) -> Result<&'static str> {
    let v = v.unwrap_or(DEFAULT_SERVER_VERSION);
    SERVER_VERSIONS.iter().copied().find(|s| *s == v).ok_or_else(|| Error::InvalidInput {
        field: "serverVersion",
        reason: format!("{} is not an EWS RequestServerVersion (one of {})", shown(v), SERVER_VERSIONS.join(", ")),
    })
}

/// Starts element `name` with `attributes` (values escaped by quick-xml).
pub fn element<'w>(w: &'w mut XmlWriter, name: &'w str, attributes: &[(&str, &str)]) -> ElementWriter<'w, Vec<u8>> {
    w.create_element(name).with_attributes(attributes.iter().copied())
}

/// What writes an element's content: one type for every element, so quick-xml's
/// `write_inner_content` exists once in the wasm instead of once per closure (measured on
/// 2026-11-29: 51 copies; −9.1 KB raw, −0.5 KB gzip).
pub type Body<'a> = &'a mut dyn FnMut(&mut XmlWriter) -> io::Result<()>;

/// [`ElementWriter::write_inner_content`] through a [`Body`].
pub trait Nest {
    /// Writes the start tag, what `body` writes, and the end tag.
    fn nest(self, body: Body<'_>) -> io::Result<()>;
}

impl Nest for ElementWriter<'_, Vec<u8>> {
    fn nest(self, body: Body<'_>) -> io::Result<()> {
        self.write_inner_content(|w| body(w)).map(|_| ())
    }
}

/// Writes `<t:name>text</t:name>` (text escaped by the writer).
pub fn text_element(w: &mut XmlWriter, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(text))?;
    Ok(())
}

/// Writes a whole SOAP 1.1 envelope declaring the `soap`, `t` and `m` prefixes; `body` writes the
/// one element inside `soap:Body`. Errors: [`Error::InvalidInput`] for a bad server version.
pub fn envelope(header: &Header, body: Body<'_>) -> Result<String> {
    let version = server_version(header.server_version)?;
    let mut w = Writer::new(Vec::with_capacity(2048));
    let written: io::Result<()> = (|| {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        element(&mut w, "soap:Envelope", &[("xmlns:soap", NS_SOAP), ("xmlns:t", NS_TYPES), ("xmlns:m", NS_MESSAGES)])
            .nest(&mut |w| {
                w.create_element("soap:Header").nest(&mut |w| {
                    element(w, "t:RequestServerVersion", &[("Version", version)]).write_empty()?;
                    if let Some(smtp) = header.impersonate {
                        w.create_element("t:ExchangeImpersonation").nest(&mut |w| {
                            w.create_element("t:ConnectingSID")
                                .nest(&mut |w| text_element(w, "t:PrimarySmtpAddress", smtp))?;
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?;
                w.create_element("soap:Body").nest(body)?;
                Ok(())
            })?;
        Ok(())
    })();
    written.map_err(|e| Error::XmlWrite(e.to_string()))?;
    String::from_utf8(w.into_inner()).map_err(|e| Error::XmlWrite(e.to_string()))
}
