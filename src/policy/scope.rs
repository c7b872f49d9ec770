//! Policy scopes and identities, as Skype for Business writes them in `-Identity`.
//!
//! `ImConfiguration` exists at the Global and Site scopes; `ClientPolicy` at Global, Site and Tag
//! (per-user) scopes. Identities are written `Global`, `Site:Redmond`, `Tag:OfflineIM`; for client
//! policies a bare name (`New-CsClientPolicy -Identity OfflineIM`) is a Tag policy, as in the seed
//! "Turn on or off Offline Messages for admins".

use crate::error::{shown, Error, Result};
use std::fmt;

/// Which policy objects a scope may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// `CsImConfiguration`: Global and Site only.
    ImConfiguration,
    /// `CsClientPolicy`: Global, Site and Tag.
    ClientPolicy,
}

/// A parsed `-Identity`. Site and Tag names keep the spelling they were given; comparisons are
/// case-insensitive, as in PowerShell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Global,
    Site(String),
    Tag(String),
}

impl Scope {
    /// Parses an identity for `kind`. Errors: empty names, unknown prefixes, and Tag scope for
    /// `ImConfiguration` ([`Error::InvalidPolicy`]).
    pub fn parse(identity: &str, kind: PolicyKind) -> Result<Scope> {
        let identity = identity.trim();
        if identity.eq_ignore_ascii_case("global") {
            return Ok(Scope::Global);
        }
        let (prefix, name) = match identity.split_once(':') {
            Some((p, n)) => (Some(p.trim()), n.trim()),
            None => (None, identity),
        };
        if name.is_empty() {
            return Err(Error::InvalidPolicy(format!("identity {} has no name", shown(identity))));
        }
        match (prefix, kind) {
            (Some(p), _) if p.eq_ignore_ascii_case("site") => Ok(Scope::Site(name.to_string())),
            (Some(p), PolicyKind::ClientPolicy) if p.eq_ignore_ascii_case("tag") => {
                Ok(Scope::Tag(name.to_string()))
            }
            (None, PolicyKind::ClientPolicy) => Ok(Scope::Tag(name.to_string())),
            (None, PolicyKind::ImConfiguration) => Err(Error::InvalidPolicy(format!(
                "ImConfiguration identity {}: use Global or Site:<name>", shown(identity)
            ))),
            (Some(p), _) => Err(Error::InvalidPolicy(format!(
                "identity {}: unknown scope {} (expected Global, Site:<name>{})", shown(identity), shown(p),
                if kind == PolicyKind::ClientPolicy { " or Tag:<name>" } else { "" }
            ))),
        }
    }

    /// Case-insensitive equality of scopes (PowerShell identities are case-insensitive).
    pub fn same_as(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Global, Scope::Global) => true,
            (Scope::Site(a), Scope::Site(b)) | (Scope::Tag(a), Scope::Tag(b)) => {
                a.eq_ignore_ascii_case(b)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Global => f.write_str("Global"),
            Scope::Site(n) => write!(f, "Site:{n}"),
            Scope::Tag(n) => write!(f, "Tag:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_scopes() -> Result<()> {
        let c = PolicyKind::ClientPolicy;
        assert_eq!(Scope::parse("global", c)?, Scope::Global);
        assert_eq!(Scope::parse("site:Redmond", c)?, Scope::Site("Redmond".into()));
        assert_eq!(Scope::parse("Tag:OfflineIM", c)?, Scope::Tag("OfflineIM".into()));
        assert_eq!(Scope::parse("OfflineIM", c)?, Scope::Tag("OfflineIM".into()));
        assert_eq!(Scope::parse("Site:Redmond", c)?.to_string(), "Site:Redmond");
        Ok(())
    }

    #[test]
    fn im_configuration_has_no_tag_scope() {
        let i = PolicyKind::ImConfiguration;
        assert!(Scope::parse("OfflineIM", i).is_err());
        assert!(Scope::parse("Tag:OfflineIM", i).is_err());
        assert!(Scope::parse("Service:Registrar", i).is_err());
        assert!(Scope::parse("Site:", i).is_err());
    }

    /// A scope prefix other than Site and Tag is an error for client policies too, never read
    /// as a Tag (`Service:` scopes exist in Skype for Business, but not for these cmdlets).
    #[test]
    fn unknown_prefixes_are_errors() {
        let c = PolicyKind::ClientPolicy;
        for id in ["Service:Registrar:pool.contoso.com", "User:ana", ":x"] {
            let e = Scope::parse(id, c).unwrap_err();
            assert!(matches!(&e, Error::InvalidPolicy(m) if m.contains("unknown scope") && m.ends_with("or Tag:<name>)")), "{id}: {e}");
        }
        let e = Scope::parse("Service:Registrar", PolicyKind::ImConfiguration).unwrap_err();
        assert!(matches!(&e, Error::InvalidPolicy(m) if m.ends_with("(expected Global, Site:<name>)")), "{e}");
        assert!(matches!(Scope::parse("Tag:", c), Err(Error::InvalidPolicy(m)) if m.contains("has no name")));
        assert!(matches!(Scope::parse("  Site : Redmond ", c), Ok(Scope::Site(n)) if n == "Redmond"));
    }

    #[test]
    fn comparison_ignores_case() {
        assert!(Scope::Site("REDMOND".into()).same_as(&Scope::Site("redmond".into())));
        assert!(!Scope::Site("a".into()).same_as(&Scope::Tag("a".into())));
        assert!(Scope::Tag("OfflineIM".into()).same_as(&Scope::Tag("offlineim".into())));
        assert!(!Scope::Tag("a".into()).same_as(&Scope::Tag("b".into())));
        assert!(Scope::Global.same_as(&Scope::Global) && !Scope::Global.same_as(&Scope::Site("Global".into())));
    }
}
