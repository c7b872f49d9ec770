//! Exchange message classes (`ItemClass`) for offline messages.
//!
//! Offline messages within one organisation are missed conversations; from a federated
//! organisation they are plain mail (seed "Enable or Disable Offline IM …", section "Offline IM
//! Integration with Exchange"). The seed names the class `IM.Note.MissedConversation`; Exchange
//! and Outlook file Skype missed conversations under `IPM.Note.Microsoft.Missed` (the class the
//! Missed Conversation folder search uses), so that is what we write. The seed's name is accepted
//! as an alias wherever a class is read or configured and is normalised to ours.

/// The class we write for a same-organisation offline message.
pub const MISSED_CONVERSATION: &str = "IPM.Note.Microsoft.Missed";
/// The seed's spelling, accepted as an alias of [`MISSED_CONVERSATION`].
pub const SEED_MISSED_CONVERSATION: &str = "IM.Note.MissedConversation";
/// Plain e-mail: what a federated recipient gets.
pub const PLAIN_MAIL: &str = "IPM.Note";

/// Returns the canonical spelling of a configured class: the seed alias becomes
/// [`MISSED_CONVERSATION`]; anything else is returned trimmed.
pub fn normalize(class: &str) -> String {
    let class = class.trim();
    if class.eq_ignore_ascii_case(SEED_MISSED_CONVERSATION) || class.eq_ignore_ascii_case(MISSED_CONVERSATION) {
        MISSED_CONVERSATION.to_string()
    } else {
        class.to_string()
    }
}

/// True for a missed-conversation class under either name (Exchange compares classes
/// case-insensitively).
pub fn is_missed_conversation(class: &str) -> bool {
    normalize(class) == MISSED_CONVERSATION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_alias_maps_to_exchange_class() {
        assert_eq!(normalize(" IM.Note.MissedConversation "), MISSED_CONVERSATION);
        assert_eq!(normalize("ipm.note.microsoft.missed"), MISSED_CONVERSATION);
        assert_eq!(normalize("IPM.Note"), PLAIN_MAIL);
        assert!(is_missed_conversation("im.note.missedconversation"));
        assert!(!is_missed_conversation("IPM.Note"));
        assert!(!is_missed_conversation("IPM.Note.Microsoft.Missed.Voice"));
    }
}
