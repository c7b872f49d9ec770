"""The local EWS server driven by exchangelib (PyPI), an EWS client nobody here wrote.

Each check is an ordinary exchangelib flow; where one fails, the server is wrong unless
Microsoft's documentation says otherwise. Prints TAP-style lines and `# pass N` / `# fail N`
(pkg-scripts/test adds them to its total). Usage: exchangelib_conformance.py http://127.0.0.1:PORT
"""
import datetime
import os
import sys
import traceback
import urllib.request

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the local server speaks plain HTTP

from exchangelib import (DELEGATE, Account, Build, Configuration, ExtendedProperty, HTMLBody, Mailbox, Message,
                         OAuth2AuthorizationCodeCredentials, Version)
from exchangelib.transport import OAUTH2
from oauthlib.oauth2 import OAuth2Token

BASE = sys.argv[1].rstrip("/")
SET = "6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d"


class OfflineImMessageId(ExtendedProperty):
    """The module's named property (ews/mod.rs PROPERTY_MESSAGE_ID)."""
    property_set_id = SET
    property_name = "OfflineImMessageId"
    property_type = "String"


class MessageClass(ExtendedProperty):
    """PR_MESSAGE_CLASS: exchangelib treats Message.item_class as read-only, so a custom class is
    set through the MAPI property, as Graph clients do (singleValueExtendedProperties 0x001A)."""
    property_tag = 0x001A
    property_type = "String"


Message.register("offline_im_message_id", OfflineImMessageId)
Message.register("message_class", MessageClass)


def account(email, version=None):
    creds = OAuth2AuthorizationCodeCredentials(access_token=OAuth2Token({"access_token": email.split("@")[0] + "-token", "token_type": "Bearer"}))
    config = Configuration(service_endpoint=BASE + "/EWS/Exchange.asmx", credentials=creds, auth_type=OAUTH2, version=version)
    return Account(email, config=config, autodiscover=False, access_type=DELEGATE)


def reset():
    urllib.request.urlopen(urllib.request.Request(BASE + "/_control/reset", method="POST")).read()


results = []


def check(name):
    def run(fn):
        reset()
        try:
            fn()
            results.append((name, None))
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the suite
            results.append((name, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"))
        return fn
    return run


@check("GetFolder: the version probe finds Exchange2016 (no downgrade) and folders resolve")
def _():
    tony = account("tony@contoso.com")  # no version given: exchangelib probes with GetFolder
    assert tony.version.api_version == "Exchange2016", tony.version
    assert tony.root.name is not None
    inbox = tony.inbox
    assert inbox.name == "Inbox" and inbox.folder_class == "IPF.Note", (inbox.name, inbox.folder_class)
    inbox.refresh()
    assert inbox.total_count == 0 and inbox.unread_count == 0


@check("CreateItem SendOnly: Message.send(save_copy=False) lands in the recipient's Inbox, nothing with the sender")
def _():
    tony, ana = account("tony@contoso.com"), account("ana@contoso.com")
    Message(account=tony, subject="send only", body=HTMLBody("<div>hi</div>"), to_recipients=[Mailbox(email_address="ana@contoso.com")]).send(save_copy=False)
    got = list(ana.inbox.all().only("subject", "sender", "is_read"))
    assert [m.subject for m in got] == ["send only"], got
    assert got[0].sender.email_address == "tony@contoso.com" and got[0].is_read is False, got[0]
    assert (tony.sent.all().count(), tony.drafts.all().count(), tony.inbox.all().count()) == (0, 0, 0)


@check("CreateItem SendAndSaveCopy: Message.send_and_save() keeps a copy in Sent Items")
def _():
    tony, ana = account("tony@contoso.com"), account("ana@contoso.com")
    Message(account=tony, subject="send and save", body="plain", to_recipients=["ana@contoso.com"]).send_and_save()
    assert [m.subject for m in tony.sent.all()] == ["send and save"]
    assert ana.inbox.all().count() == 1


@check("Custom item class with our extended properties, found by a restriction on the property")
def _():
    tony, ana = account("tony@contoso.com"), account("ana@contoso.com")
    for i in range(3):
        Message(account=tony, message_class="IPM.Note.Microsoft.Missed", subject=f"missed {i}", body="x",
                offline_im_message_id=f"x{i}", to_recipients=["ana@contoso.com"]).send(save_copy=False)
    assert ana.inbox.filter(item_class="IPM.Note.Microsoft.Missed").count() == 3
    hit = list(ana.inbox.filter(offline_im_message_id="x1"))
    assert [(m.subject, m.item_class, m.offline_im_message_id) for m in hit] == [("missed 1", "IPM.Note.Microsoft.Missed", "x1")], hit


@check("FindItem: restrictions (IsEqualTo on booleans, Contains, IsGreaterThan) and paging")
def _():
    tony, ana = account("tony@contoso.com"), account("ana@contoso.com")
    for i in range(7):
        Message(account=tony, subject=f"page {i}", body="x", to_recipients=["ana@contoso.com"]).send(save_copy=False)
    subjects = [m.subject for m in ana.inbox.filter(is_read=False).order_by("-datetime_received").only("subject")]
    assert len(subjects) == 7, subjects
    assert ana.inbox.filter(subject__contains="page 3").count() == 1
    oldest = ana.inbox.all().order_by("datetime_received").only("subject", "datetime_received")
    assert [m.subject for m in oldest] == [f"page {i}" for i in range(7)], "SortOrder ascending"
    first, last = oldest[0].datetime_received, oldest[6].datetime_received
    # EWS gives DateTimeReceived to the second; compare across whole seconds.
    assert ana.inbox.filter(datetime_received__gt=first - datetime.timedelta(seconds=1)).count() == 7
    assert ana.inbox.filter(datetime_received__gt=last + datetime.timedelta(seconds=1)).count() == 0
    assert ana.inbox.filter(datetime_received__lt=last + datetime.timedelta(seconds=1)).count() == 7
    paged = ana.inbox.all().order_by("-datetime_received").only("subject")
    paged.page_size = 3  # exchangelib pages with IndexedPageItemView Offset
    assert len(list(paged)) == 7


@check("GetItem: Account.fetch() returns each item, and an unknown id as an error in its place")
def _():
    tony, ana = account("tony@contoso.com"), account("ana@contoso.com")
    Message(account=tony, subject="fetch me", body=HTMLBody("<div>a &amp; b</div>"), to_recipients=["ana@contoso.com"]).send()
    ids = [(m.id, m.changekey) for m in ana.inbox.all().only("id", "changekey")]
    items = list(ana.fetch(ids=ids + [("AAMkAGI2-999999", None)]))
    assert items[0].subject == "fetch me" and "a &amp; b" in items[0].body, items[0].body
    assert type(items[1]).__name__ == "ErrorItemNotFound", items[1]


@check("UpdateItem: item.is_read = True; save() marks it read and changes the change key")
def _():
    tony, ana = account("tony@contoso.com"), account("ana@contoso.com")
    Message(account=tony, subject="mark me", body="x", to_recipients=["ana@contoso.com"]).send()
    m = ana.inbox.all()[0]
    key = m.changekey
    m.is_read = True
    m.save(update_fields=["is_read"])
    assert m.changekey != key
    assert ana.inbox.filter(is_read=False).count() == 0 and ana.inbox.filter(is_read=True).count() == 1


@check("DeleteItem: delete() removes the item; move_to_trash() moves it to Deleted Items")
def _():
    tony, ana = account("tony@contoso.com"), account("ana@contoso.com")
    for s in ("delete me", "trash me"):
        Message(account=tony, subject=s, body="x", to_recipients=["ana@contoso.com"]).send()
    items = {m.subject: m for m in ana.inbox.all()}
    items["delete me"].delete()
    items["trash me"].move_to_trash()
    assert ana.inbox.all().count() == 0
    assert [m.subject for m in ana.trash.all()] == ["trash me"]


@check("ResolveNames: a unique name resolves to its mailbox; an unknown one to nothing")
def _():
    tony = account("tony@contoso.com")
    assert tony.version.api_version == "Exchange2016"  # resolves the protocol's version first
    [mailbox] = tony.protocol.resolve_names(["ana"])
    assert (mailbox.name, mailbox.email_address) == ("Ana Lopez", "ana@contoso.com"), mailbox
    [none] = tony.protocol.resolve_names(["nobody-here"])
    assert type(none).__name__ == "ErrorNameResolutionNoResults", none  # how exchangelib reports it


failed = 0
for name, error in results:
    if error is None:
        print(f"ok - exchangelib: {name}")
    else:
        failed += 1
        print(f"not ok - exchangelib: {name}")
        print("  " + error.replace("\n", "\n  "))
print(f"# pass {len(results) - failed}")
print(f"# fail {failed}")
sys.exit(1 if failed else 0)
