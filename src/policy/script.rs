//! Reads the seeds' PowerShell admin commands into a [`PolicySnapshot`].
//!
//! Supported (names and parameters case-insensitive, `-Identity` also positional):
//! `Set-CsImConfiguration [-Identity] <Global|Site:x> -EnableOfflineIM <bool>`,
//! `New-CsImConfiguration -Identity Site:x [-EnableOfflineIM <bool>]`, `Remove-CsImConfiguration`,
//! `New-CsClientPolicy -Identity <name> [-EnableIMAutoArchiving <bool>]`,
//! `Set-CsClientPolicy [-Identity] <…> -EnableIMAutoArchiving <bool>`, `Remove-CsClientPolicy`,
//! `Grant-CsClientPolicy [-Identity] <user> [-PolicyName] <name|$null>`.
//! Booleans are `$True`/`$False` (or 1/0); `$null` clears a setting back to "not set".
//! Ignored: `Get-*` lines, `$x = Get-…` assignments and the session lines of the seed
//! (`Import-Module`, `Connect-MicrosoftTeams`, `Disconnect-MicrosoftTeams`). `-Force` and
//! `-Confirm` are accepted and change nothing. Everything else is an [`Error::PolicyScript`]
//! with line and column.

use super::model::{ClientPolicy, ClientPolicyGrant, ImConfiguration, PolicySnapshot};
use super::scope::{PolicyKind, Scope};
use super::script_lex::{statements, Tok, Token};
use crate::error::{shown, Error, Result};

const SESSION_CMDLETS: [&str; 3] = ["Import-Module", "Connect-MicrosoftTeams", "Disconnect-MicrosoftTeams"];
const VERBS: [&str; 5] = ["Get", "Set", "New", "Remove", "Grant"];

#[derive(Clone, Copy, PartialEq)]
enum Cmd {
    SetIm,
    NewIm,
    RemoveIm,
    NewCp,
    SetCp,
    RemoveCp,
    GrantCp,
}

const CMDLETS: [(&str, Cmd, &[&str]); 7] = [
    ("Set-CsImConfiguration", Cmd::SetIm, &["Identity", "EnableOfflineIM"]),
    ("New-CsImConfiguration", Cmd::NewIm, &["Identity", "EnableOfflineIM"]),
    ("Remove-CsImConfiguration", Cmd::RemoveIm, &["Identity"]),
    ("New-CsClientPolicy", Cmd::NewCp, &["Identity", "EnableIMAutoArchiving"]),
    ("Set-CsClientPolicy", Cmd::SetCp, &["Identity", "EnableIMAutoArchiving"]),
    ("Remove-CsClientPolicy", Cmd::RemoveCp, &["Identity"]),
    ("Grant-CsClientPolicy", Cmd::GrantCp, &["Identity", "PolicyName"]),
];

fn at(t: &Token, message: impl Into<String>) -> Error {
    Error::PolicyScript { line: t.line, column: t.column, message: message.into(), hint: None }
}

fn hinted(t: &Token, message: impl Into<String>, hint: impl Into<String>) -> Error {
    Error::PolicyScript { line: t.line, column: t.column, message: message.into(), hint: Some(hint.into()) }
}

/// A bound parameter value and the token it came from.
struct Arg<'a> {
    value: String,
    quoted: bool,
    token: &'a Token,
}

/// Parses a script into a snapshot that starts from the defaults (Global ImConfiguration and
/// Global ClientPolicy, nothing set). Errors: [`Error::PolicyScript`] with 1-based line/column
/// and, where the line looks like the seed's mis-spaced `Grant -CsClientPolicy … - PolicyName`,
/// a hint.
pub fn parse_policy_script(text: &str) -> Result<PolicySnapshot> {
    let mut state = PolicySnapshot {
        im_configurations: vec![ImConfiguration { identity: "Global".into(), enable_offline_im: None }],
        client_policies: vec![ClientPolicy { identity: "Global".into(), enable_im_auto_archiving: None }],
        client_policy_grants: Vec::new(),
    };
    for statement in statements(text)? {
        run(&mut state, &statement)?;
    }
    Ok(state)
}

fn run(state: &mut PolicySnapshot, st: &[Token]) -> Result<()> {
    let first = &st[0];
    let name = match &first.tok {
        Tok::Word(w) => w.as_str(),
        _ => return Err(at(first, "expected a cmdlet name")),
    };
    if name.starts_with('$') {
        return match (st.get(1).map(|t| &t.tok), st.get(2).map(|t| &t.tok)) {
            (Some(Tok::Equals), Some(Tok::Word(w))) if is_get(w) => Ok(()),
            _ => Err(at(first, "variable assignments are not supported (only `$x = Get-…`, which is ignored)")),
        };
    }
    if is_get(name) || SESSION_CMDLETS.iter().any(|s| s.eq_ignore_ascii_case(name)) {
        return Ok(());
    }
    if let Some(Token { tok: Tok::Param { name: p, .. }, .. }) = st.get(1) {
        if VERBS.iter().any(|v| v.eq_ignore_ascii_case(name)) && p.len() > 2 && p.get(..2).is_some_and(|c| c.eq_ignore_ascii_case("cs")) {
            return Err(hinted(&st[1], format!("`{name}` is not a cmdlet"), format!("remove the space: `{name}-{p}` (the seed's text has a stray space here)")));
        }
    }
    let Some(&(canonical, cmd, params)) = CMDLETS.iter().find(|(n, ..)| n.eq_ignore_ascii_case(name)) else {
        let known: Vec<&str> = CMDLETS.iter().map(|c| c.0).collect();
        return Err(at(first, format!("unknown cmdlet `{name}`; offline-im reads {} and ignores Get-* lines", known.join(", "))));
    };
    let args = bind(canonical, params, &st[1..])?;
    let get = |p: &str| args.iter().position(|(n, _)| n.eq_ignore_ascii_case(p)).map(|i| &args[i].1);
    let identity = get("Identity");
    match cmd {
        Cmd::SetIm | Cmd::NewIm | Cmd::RemoveIm => {
            let (scope, id_token) = scope_of(identity, PolicyKind::ImConfiguration, cmd == Cmd::SetIm, first)?;
            let value = get("EnableOfflineIM").map(boolean).transpose()?;
            let list = &mut state.im_configurations;
            let pos = list.iter().position(|c| Scope::parse(&c.identity, PolicyKind::ImConfiguration).is_ok_and(|s| s.same_as(&scope)));
            match (cmd, pos) {
                (Cmd::SetIm, Some(i)) => {
                    let v = value.ok_or_else(|| at(first, format!("{canonical} needs -EnableOfflineIM")))?;
                    list[i].enable_offline_im = v;
                }
                // Global always exists (the state starts with it), so a missing object is never
                // Global and New creates it; New of an existing one (Global included) is an error.
                (Cmd::NewIm, None) => list.push(ImConfiguration { identity: scope.to_string(), enable_offline_im: value.flatten() }),
                (Cmd::RemoveIm, Some(i)) if scope == Scope::Global => list[i].enable_offline_im = None,
                (Cmd::RemoveIm, Some(i)) => drop(list.remove(i)),
                (Cmd::NewIm, _) => return Err(at(id_token, format!("ImConfiguration {scope} already exists"))),
                _ => return Err(at(id_token, format!("ImConfiguration {scope} does not exist (create it with New-CsImConfiguration)"))),
            }
        }
        Cmd::NewCp | Cmd::SetCp | Cmd::RemoveCp => {
            let (scope, id_token) = scope_of(identity, PolicyKind::ClientPolicy, cmd == Cmd::SetCp, first)?;
            let value = get("EnableIMAutoArchiving").map(boolean).transpose()?;
            let list = &mut state.client_policies;
            let pos = list.iter().position(|c| Scope::parse(&c.identity, PolicyKind::ClientPolicy).is_ok_and(|s| s.same_as(&scope)));
            match (cmd, pos) {
                (Cmd::SetCp, Some(i)) => {
                    let v = value.ok_or_else(|| at(first, format!("{canonical} needs -EnableIMAutoArchiving")))?;
                    list[i].enable_im_auto_archiving = v;
                }
                (Cmd::NewCp, None) => list.push(ClientPolicy { identity: scope.to_string(), enable_im_auto_archiving: value.flatten() }),
                (Cmd::RemoveCp, Some(i)) if scope == Scope::Global => list[i].enable_im_auto_archiving = None,
                (Cmd::RemoveCp, Some(i)) => {
                    list.remove(i);
                    if let Scope::Tag(tag) = &scope {
                        state.client_policy_grants.retain(|g| g.policy_name.as_deref().is_none_or(|n| !same_tag(n, tag)));
                    }
                }
                (Cmd::NewCp, _) => return Err(at(id_token, format!("ClientPolicy {scope} already exists"))),
                _ => return Err(at(id_token, format!("ClientPolicy {scope} does not exist (create it with New-CsClientPolicy)"))),
            }
        }
        Cmd::GrantCp => {
            let user = identity.ok_or_else(|| at(first, "Grant-CsClientPolicy needs -Identity (the user)"))?;
            let policy = get("PolicyName").ok_or_else(|| at(first, "Grant-CsClientPolicy needs -PolicyName (a Tag policy or $null)"))?;
            let policy_name = if !policy.quoted && policy.value.eq_ignore_ascii_case("$null") {
                None
            } else {
                let tag = match Scope::parse(&policy.value, PolicyKind::ClientPolicy) {
                    Ok(Scope::Tag(t)) => t,
                    _ => return Err(at(policy.token, format!("-PolicyName {} is not a Tag policy name", shown(&policy.value)))),
                };
                let exists = state.client_policies.iter().any(|c| matches!(Scope::parse(&c.identity, PolicyKind::ClientPolicy), Ok(Scope::Tag(t)) if t.eq_ignore_ascii_case(&tag)));
                if !exists {
                    return Err(at(policy.token, format!("ClientPolicy Tag:{tag} does not exist (create it with New-CsClientPolicy)")));
                }
                Some(tag)
            };
            state.client_policy_grants.retain(|g| !g.identity.eq_ignore_ascii_case(&user.value));
            state.client_policy_grants.push(ClientPolicyGrant { identity: user.value.clone(), policy_name });
        }
    }
    Ok(())
}

fn is_get(word: &str) -> bool {
    // `get(..4)`, not `[..4]`: the fourth byte may fall inside a character (found by
    // tests/hostile.rs; slicing there panicked).
    word.len() > 4 && word.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("get-"))
}

fn same_tag(policy_name: &str, tag: &str) -> bool {
    let name = policy_name.get(..4).filter(|p| p.eq_ignore_ascii_case("tag:")).map_or(policy_name, |_| &policy_name[4..]);
    name.eq_ignore_ascii_case(tag)
}

fn scope_of<'a>(identity: Option<&Arg<'a>>, kind: PolicyKind, global_default: bool, cmd: &'a Token) -> Result<(Scope, &'a Token)> {
    match identity {
        None if global_default => Ok((Scope::Global, cmd)),
        None => Err(at(cmd, "this cmdlet needs -Identity")),
        Some(a) => Scope::parse(&a.value, kind).map(|s| (s, a.token)).map_err(|e| at(a.token, e.to_string())),
    }
}

/// `Some(Some(b))` for `$True`/`$False`/1/0, `Some(None)` for `$null` (clear the setting).
fn boolean(a: &Arg) -> Result<Option<bool>> {
    let v = a.value.to_ascii_lowercase();
    match (a.quoted, v.as_str()) {
        (false, "$true" | "1") => Ok(Some(true)),
        (false, "$false" | "0") => Ok(Some(false)),
        (false, "$null") => Ok(None),
        _ => Err(hinted(a.token, format!("expected a boolean, got {}", shown(&a.value)), "PowerShell writes booleans as $True and $False")),
    }
}

/// Binds named and positional arguments; `-Identity` is position 0 and, for Grant, `-PolicyName` position 1.
fn bind<'a>(cmdlet: &str, params: &[&str], toks: &'a [Token]) -> Result<Vec<(&'static str, Arg<'a>)>> {
    let mut out: Vec<(&'static str, Arg<'a>)> = Vec::new();
    let mut positional = 0;
    let positions: &[&'static str] = if cmdlet == "Grant-CsClientPolicy" { &["Identity", "PolicyName"] } else { &["Identity"] };
    let all: [&'static str; 4] = ["Identity", "EnableOfflineIM", "EnableIMAutoArchiving", "PolicyName"];
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        i += 1;
        let (param, arg): (&'static str, Arg<'a>) = match &t.tok {
            Tok::Param { name, inline } => {
                if ["Force", "Confirm"].iter().any(|s| s.eq_ignore_ascii_case(name)) {
                    continue;
                }
                let Some(p) = all.iter().copied().find(|p| p.eq_ignore_ascii_case(name) && params.contains(p)) else {
                    return Err(at(t, format!("{cmdlet} has no parameter -{name} that offline-im reads (it reads -{})", params.join(", -"))));
                };
                let arg = match inline {
                    Some(v) => Arg { value: v.clone(), quoted: false, token: t },
                    None => match toks.get(i).map(|n| (&n.tok, n)) {
                        Some((Tok::Word(v), n)) => Arg { value: v.clone(), quoted: false, token: n },
                        Some((Tok::Quoted(v), n)) => Arg { value: v.clone(), quoted: true, token: n },
                        _ => return Err(at(t, format!("-{p} needs a value"))),
                    },
                };
                if inline.is_none() {
                    i += 1;
                }
                (p, arg)
            }
            Tok::Dash => {
                return Err(match toks.get(i).map(|n| &n.tok) {
                    Some(Tok::Word(w)) => hinted(t, format!("a lone '-' before `{w}`"), format!("remove the space: `-{w}` (the seed's text has a stray space here)")),
                    _ => at(t, "a lone '-'"),
                });
            }
            Tok::Word(v) | Tok::Quoted(v) => {
                let Some(p) = positions.get(positional).copied() else {
                    return Err(at(t, format!("unexpected argument {} for {cmdlet}", shown(v))));
                };
                positional += 1;
                (p, Arg { value: v.clone(), quoted: matches!(t.tok, Tok::Quoted(_)), token: t })
            }
            Tok::Equals => return Err(at(t, "unexpected '='")),
        };
        if out.iter().any(|(n, _)| *n == param) {
            return Err(at(t, format!("-{param} is given twice")));
        }
        out.push((param, arg));
    }
    Ok(out)
}
