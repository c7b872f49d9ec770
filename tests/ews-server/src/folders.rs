//! Folders: the distinguished folders of each mailbox, their ids, and GetFolder.
//!
//! Real clients call GetFolder first (exchangelib resolves `root` before anything else and,
//! when it fails, falls back to guessing older server versions) and then address folders by the
//! `FolderId` it returned rather than by name. Modelled on "GetFolder operation" and
//! "DistinguishedFolderId" (EWS reference): properties as the `FolderShape` asks (IdOnly: the id
//! and what `AdditionalProperties` names), `t:Folder` with `FolderClass` `IPF.Note` for mail
//! folders, `ErrorFolderNotFound` for a folder the caller's mailbox does not have.

use crate::dom::{El, M, T};
use crate::state::{Item, State, User};
use quick_xml::events::BytesText;
use quick_xml::Writer;
use std::io;

type W = Writer<Vec<u8>>;

/// (distinguished id, parent, display name, folder class)
pub const FOLDERS: [(&str, &str, &str, &str); 7] = [
    ("root", "", "", ""),
    ("msgfolderroot", "root", "Top of Information Store", "IPF.Note"),
    ("inbox", "msgfolderroot", "Inbox", "IPF.Note"),
    ("conversationhistory", "msgfolderroot", "Conversation History", "IPF.Note"),
    ("drafts", "msgfolderroot", "Drafts", "IPF.Note"),
    ("sentitems", "msgfolderroot", "Sent Items", "IPF.Note"),
    ("deleteditems", "msgfolderroot", "Deleted Items", "IPF.Note"),
];

/// The opaque `FolderId` of `folder` in `mailbox`.
pub fn folder_id(mailbox: &str, folder: &str) -> String {
    ["AQMkF-", folder, "-", mailbox].concat()
}

/// The folder a `t:DistinguishedFolderId` or `t:FolderId` element names in `user`'s mailbox.
/// A `t:Mailbox` inside a distinguished id must be the user's own (delegate access to other
/// mailboxes is not modelled: `ErrorFolderNotFound`).
pub fn resolve(el: &El, user: &User) -> Option<&'static str> {
    let own = |mailbox: &str| mailbox.eq_ignore_ascii_case(&user.email);
    let name = match el.name.as_str() {
        "DistinguishedFolderId" => {
            if el.path(&[(T, "Mailbox"), (T, "EmailAddress")]).is_some_and(|m| !own(m.text.trim())) {
                return None;
            }
            el.attr("Id")?.to_ascii_lowercase()
        }
        "FolderId" => {
            let rest = el.attr("Id")?.strip_prefix("AQMkF-")?;
            let (folder, mailbox) = rest.split_once('-')?;
            if !own(mailbox) {
                return None;
            }
            folder.to_string()
        }
        _ => return None,
    };
    FOLDERS.iter().map(|f| f.0).find(|f| *f == name)
}

/// The folder named by the first folder id element under `parent` (`ParentFolderIds`,
/// `SavedItemFolderId`).
pub fn resolve_under(parent: Option<&El>, user: &User) -> Option<&'static str> {
    parent?.children.iter().find(|c| c.ns == T).and_then(|c| resolve(c, user))
}

fn text(w: &mut W, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(value))?;
    Ok(())
}

fn id_element(w: &mut W, name: &str, mailbox: &str, folder: &str) -> io::Result<()> {
    w.create_element(name).with_attributes([("Id", folder_id(mailbox, folder).as_str()), ("ChangeKey", "AQAAABYAAAA=")]).write_empty()?;
    Ok(())
}

/// Writes one folder with the properties `shape` asks for.
/// (total, unread) items of `folder` in `user`'s mailbox.
fn counts(items: &[Item], user: &User, folder: &str) -> (usize, usize) {
    let here = items.iter().filter(|i| i.mailbox == user.email && i.folder == folder);
    here.fold((0, 0), |(n, unread), i| (n + 1, unread + usize::from(!i.is_read)))
}

fn write_folder(w: &mut W, (total, unread): (usize, usize), user: &User, f: &(&str, &str, &str, &str), shape: Option<&El>) -> io::Result<()> {
    let (name, parent, display, class) = *f;
    let id_only = shape.and_then(|s| s.text_of(T, "BaseShape")).is_none_or(|b| b.trim() == "IdOnly");
    let asked: Vec<&str> = shape.and_then(|s| s.child(T, "AdditionalProperties")).map(|p| p.children(T, "FieldURI").filter_map(|u| u.attr("FieldURI")).collect()).unwrap_or_default();
    let has = |uri: &str| !id_only || asked.contains(&uri);
    let children = FOLDERS.iter().filter(|c| c.1 == name).count();
    w.create_element("t:Folder").write_inner_content(|w| {
        id_element(w, "t:FolderId", &user.email, name)?;
        if has("folder:ParentFolderId") && !parent.is_empty() {
            id_element(w, "t:ParentFolderId", &user.email, parent)?;
        }
        if has("folder:FolderClass") && !class.is_empty() {
            text(w, "t:FolderClass", class)?;
        }
        if has("folder:DisplayName") {
            text(w, "t:DisplayName", display)?;
        }
        if has("folder:TotalCount") {
            text(w, "t:TotalCount", &total.to_string())?;
        }
        if has("folder:ChildFolderCount") {
            text(w, "t:ChildFolderCount", &children.to_string())?;
        }
        if has("folder:EffectiveRights") {
            w.create_element("t:EffectiveRights").write_inner_content(|w| {
                for (right, value) in [("CreateAssociated", "true"), ("CreateContents", "true"), ("CreateHierarchy", "true"), ("Delete", "true"), ("Modify", "true"), ("Read", "true")] {
                    text(w, ["t:", right].concat().as_str(), value)?;
                }
                Ok(())
            })?;
        }
        if has("folder:DistinguishedFolderId") {
            text(w, "t:DistinguishedFolderId", name)?;
        }
        if has("folder:UnreadCount") {
            text(w, "t:UnreadCount", &unread.to_string())?;
        }
        Ok(())
    })?;
    Ok(())
}

/// GetFolder: one response message per folder id, in request order.
pub fn get_folder(state: &State, user: &User, op: &El) -> String {
    let shape = op.child(M, "FolderShape").cloned();
    let messages = op
        .child(M, "FolderIds")
        .map(|ids| ids.children.iter().filter(|c| c.ns == T).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|id| match resolve(id, user).and_then(|name| FOLDERS.iter().find(|f| f.0 == name)) {
            Some(f) => {
                let (n, user, shape) = (counts(&state.items, user, f.0), user.clone(), shape.clone());
                crate::ops::Msg::Ok(Box::new(move |w: &mut W| {
                    w.create_element("m:Folders").write_inner_content(|w| write_folder(w, n, &user, f, shape.as_ref()))?;
                    Ok(())
                }))
            }
            None => crate::ops::Msg::Err("ErrorFolderNotFound", "The specified folder could not be found in the store.".into()),
        })
        .collect();
    crate::ops::respond("GetFolder", messages)
}
