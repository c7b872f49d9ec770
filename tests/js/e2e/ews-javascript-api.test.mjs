// The local EWS server driven by ews-javascript-api 0.15 (npm), an EWS client nobody here wrote,
// through the operations the module itself uses: CreateItem SendOnly with our item class and
// named properties, FindItem with the module's restriction and paging, GetItem with bodies,
// UpdateItem marking read, CreateItem SaveOnly into conversationhistory (not a draft), and
// GetFolder. Where a flow fails, the server is wrong unless Microsoft documents otherwise.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import ews from "ews-javascript-api";
import { BASE, mailbox, reset } from "./helpers.mjs";

const {
  ExchangeService, ExchangeVersion, OAuthCredentials, Uri, EmailMessage, MessageBody, BodyType, WellKnownFolderName, ItemView,
  SearchFilter, EmailMessageSchema, ItemSchema, ExtendedPropertyDefinition, MapiPropertyType, Guid, PropertySet, BasePropertySet,
  LogicalOperator, Folder, FolderId, ConflictResolutionMode, MessageDisposition, ServiceResponseException,
} = ews;

const SET = new Guid("6b2b3c54-5e0f-4c1c-9a3e-0ff11e1e0a1d");
const MESSAGE_ID = new ExtendedPropertyDefinition(SET, "OfflineImMessageId", MapiPropertyType.String);
const CONVERSATION_ID = new ExtendedPropertyDefinition(SET, "OfflineImConversationId", MapiPropertyType.String);
const MESSAGE_FLAGS = new ExtendedPropertyDefinition(0x0e07, MapiPropertyType.Integer);
const MISSED = "IPM.Note.Microsoft.Missed";

function service(user) {
  const s = new ExchangeService(ExchangeVersion.Exchange2013);
  // verbatim: the library otherwise insists the token look like a JWT.
  s.Credentials = new OAuthCredentials(`${user}-token`, true);
  s.Url = new Uri(`${BASE}/EWS/Exchange.asmx`);
  return s;
}

async function sendMissed(tony, id, text, to = "ana@contoso.com") {
  const m = new EmailMessage(tony);
  m.ItemClass = MISSED;
  m.Subject = text;
  m.Body = new MessageBody(BodyType.Text, text);
  m.SetExtendedProperty(MESSAGE_ID, id);
  m.SetExtendedProperty(CONVERSATION_ID, "tony-ana");
  m.ToRecipients.Add(to);
  await m.Send();
}

// The module's FindItem: unread items of the missed class, newest first, paged.
const missedFilter = () => new SearchFilter.SearchFilterCollection(LogicalOperator.And, [
  new SearchFilter.IsEqualTo(ItemSchema.ItemClass, MISSED),
  new SearchFilter.IsEqualTo(EmailMessageSchema.IsRead, false),
]);

beforeEach(reset);

test("ews-javascript-api: GetFolder binds Inbox by name, with counts", async () => {
  const tony = service("tony");
  await sendMissed(tony, "g1", "for the count");
  const inbox = await Folder.Bind(service("ana"), WellKnownFolderName.Inbox);
  assert.equal(inbox.DisplayName, "Inbox");
  assert.equal(inbox.TotalCount, 1);
});

test("ews-javascript-api: CreateItem SendOnly with our class and named properties, then FindItem pages through them", async () => {
  const tony = service("tony");
  for (let i = 0; i < 5; i++) await sendMissed(tony, `m${i}`, `missed ${i}`);
  const ana = service("ana");
  const seen = [];
  const view = new ItemView(2);
  view.PropertySet = new PropertySet(BasePropertySet.IdOnly, [ItemSchema.Subject, ItemSchema.ItemClass, MESSAGE_ID]);
  for (let offset = 0; ; offset += 2) {
    view.Offset = offset;
    const page = await ana.FindItems(WellKnownFolderName.Inbox, missedFilter(), view);
    seen.push(...page.Items.map((i) => i.Subject));
    assert.ok(page.Items.every((i) => i.ItemClass === MISSED));
    if (!page.MoreAvailable) break;
  }
  assert.deepEqual(seen.sort(), ["missed 0", "missed 1", "missed 2", "missed 3", "missed 4"]);
  assert.equal((await mailbox("tony@contoso.com")).length, 0, "SendOnly: nothing with the sender");
});

test("ews-javascript-api: GetItem with bodies and our properties; UpdateItem marks read", async () => {
  await sendMissed(service("tony"), "b1", "body text");
  const ana = service("ana");
  const found = await ana.FindItems(WellKnownFolderName.Inbox, missedFilter(), new ItemView(10));
  const props = new PropertySet(BasePropertySet.FirstClassProperties, [MESSAGE_ID, CONVERSATION_ID]);
  props.RequestedBodyType = BodyType.Text;
  const [item] = (await ana.BindToItems(found.Items.map((i) => i.Id), props)).Responses.map((r) => r.Item);
  assert.equal(item.Body.Text.trim(), "body text");
  const values = Object.fromEntries(item.ExtendedProperties.Items.map((p) => [p.PropertyDefinition.Name, p.Value]));
  assert.deepEqual(values, { OfflineImMessageId: "b1", OfflineImConversationId: "tony-ana" });
  item.IsRead = true;
  await item.Update(ConflictResolutionMode.AlwaysOverwrite);
  assert.equal((await ana.FindItems(WellKnownFolderName.Inbox, missedFilter(), new ItemView(10))).TotalCount, 0);
});

test("ews-javascript-api: CreateItem SaveOnly into conversationhistory with PR_MESSAGE_FLAGS 0 is not a draft", async () => {
  const ana = service("ana");
  const m = new EmailMessage(ana);
  m.ItemClass = MISSED;
  m.Subject = "recorded";
  m.Body = new MessageBody(BodyType.Text, "while presenting");
  m.SetExtendedProperty(MESSAGE_FLAGS, 0);
  await m.Save(new FolderId(WellKnownFolderName.ConversationHistory));
  const items = await mailbox("ana@contoso.com");
  assert.deepEqual(items.map((i) => [i.folder, i.itemClass, i.isDraft]), [["conversationhistory", MISSED, false]]);
});

test("ews-javascript-api writes body text unescaped (its EwsServiceXmlWriter.WriteValue); the server refuses that as Exchange would", async () => {
  // A client bug, pinned: markup in a body reaches the wire as markup, which is not a schema-valid
  // t:Body. The module escapes by construction (quick-xml's writer); this test keeps the server
  // from accepting what Exchange would refuse.
  const m = new EmailMessage(service("tony"));
  m.Subject = "markup";
  m.Body = new MessageBody(BodyType.HTML, "<div>hi</div>");
  m.ToRecipients.Add("ana@contoso.com");
  await assert.rejects(m.Send(), (e) => e instanceof ServiceResponseException || /schema validation/.test(e.message));
  assert.equal((await mailbox("ana@contoso.com")).length, 0);
});
