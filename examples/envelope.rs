//! Prints the CreateItem envelope for a sample offline message: `cargo run --example envelope`.
use offline_im::ews::{build_offline_message_envelope, EnvelopeOptions, MailboxAddress, OfflineMessage};

fn main() -> Result<(), offline_im::Error> {
    let message = OfflineMessage {
        id: "5f0c3c1e-0001".into(),
        conversation_id: Some("conv-tony-ana".into()),
        to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: Some("Ana Lopez".into()) },
        text: "Are you free at 3?\nIt's about <the> Q3 plan & budget".into(),
        subject: None,
    };
    let envelope = build_offline_message_envelope(&message, &EnvelopeOptions::default())?;
    println!("{}", envelope.xml);
    Ok(())
}
