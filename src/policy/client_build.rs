//! Skype for Business client builds and the offline-IM client gates.
//!
//! Source: seed "Enable or Disable Offline Instant Messaging (IM) in Skype for Business Server":
//! offline IM needs the 2016 Click-to-Run client, build 16.0.6701.1000 or higher; a user whose
//! mailbox is on Exchange on-premises needs build 16.0.6920.1000. Seed "Turn on or off Offline
//! Messages for admins": not available when an `*.msi` file was used to install the client.

use crate::error::{Error, Result};

/// Minimum Click-to-Run build for offline IM.
pub const MIN_BUILD: ClientBuild = ClientBuild([16, 0, 6701, 1000]);
/// Minimum Click-to-Run build when the sender's mailbox is on Exchange on-premises.
pub const MIN_BUILD_ON_PREMISES: ClientBuild = ClientBuild([16, 0, 6920, 1000]);

/// A four-part build number (`major.minor.build.revision`), compared numerically per component,
/// so `16.0.10000.1` is newer than `16.0.6920.1000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClientBuild(pub [u32; 4]);

impl ClientBuild {
    /// Parses `16.0.6701.1000`. Two to four dot-separated decimal components; missing trailing
    /// components are zero. Errors with [`Error::InvalidClientBuild`] on anything else.
    pub fn parse(text: &str) -> Result<ClientBuild> {
        let bad = || Error::InvalidClientBuild(text.to_string());
        let parts: Vec<&str> = text.trim().split('.').collect();
        if !(2..=4).contains(&parts.len()) {
            return Err(bad());
        }
        let mut out = [0u32; 4];
        for (slot, part) in out.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            *slot = part.parse().map_err(|_| bad())?;
        }
        Ok(ClientBuild(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_numerically_not_lexically() -> Result<()> {
        let newer = ClientBuild::parse("16.0.10000.1")?;
        assert!(newer > MIN_BUILD_ON_PREMISES, "10000 > 6920 numerically");
        assert!(ClientBuild::parse("16.0.6701.999")? < MIN_BUILD);
        assert_eq!(ClientBuild::parse("16.0.6701.1000")?, MIN_BUILD);
        assert!(ClientBuild::parse("15.0.9999.9999")? < MIN_BUILD);
        assert_eq!(ClientBuild::parse("16.0")?, ClientBuild([16, 0, 0, 0]));
        Ok(())
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "16", "16.0.x.1", "16..1.1", "1.2.3.4.5", "-1.0", "16.+0", "16.0.6701.+1000", "99999999999.0", "16.0.6701.1000 beta"] {
            assert!(ClientBuild::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
