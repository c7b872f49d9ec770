//! A small namespace-resolved element tree for reading SOAP requests (quick-xml NsReader).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

pub const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const M: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
pub const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

#[derive(Debug, Default, Clone)]
pub struct El {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<El>,
}

impl El {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn child(&self, ns: &str, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.ns == ns && c.name == name)
    }
    pub fn children<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.ns == ns && c.name == name)
    }
    /// Follows a path of (ns, name) steps.
    pub fn path(&self, steps: &[(&str, &str)]) -> Option<&El> {
        steps.iter().try_fold(self, |e, (ns, n)| e.child(ns, n))
    }
    pub fn text_of(&self, ns: &str, name: &str) -> Option<&str> {
        self.child(ns, name).map(|c| c.text.as_str())
    }
}

/// Parses a document into its root element. Err on malformed XML.
pub fn parse(xml: &str) -> Result<El, String> {
    let mut r = NsReader::from_str(xml);
    let mut stack: Vec<El> = Vec::new();
    loop {
        let (ns, ev) = r.read_resolved_event().map_err(|e| e.to_string())?;
        let ns = match ns {
            ResolveResult::Bound(n) => n.0.to_string(),
            _ => String::new(),
        };
        match ev {
            Event::Start(e) => stack.push(element(ns, &e)?),
            Event::Empty(e) => {
                let el = element(ns, &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(g) => {
                if let Some(top) = stack.last_mut() {
                    let s = quick_xml::escape::unescape(&["&", &g.xml10_content(), ";"].concat()).map_err(|e| e.to_string())?.into_owned();
                    top.text.push_str(&s);
                }
            }
            Event::Eof => return Err("unexpected end of document".into()),
            _ => {}
        }
    }
}

fn element(ns: String, e: &quick_xml::events::BytesStart) -> Result<El, String> {
    let mut el = El { ns, name: e.local_name().as_ref().to_string(), ..Default::default() };
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.local_name().as_ref().to_string();
        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| e.to_string())?.into_owned();
        el.attrs.push((key, value));
    }
    Ok(el)
}
