use offline_im::ews::*;
fn main() {
    let opts = EnvelopeOptions { item_class: Some("IPM.Note.Microsoft.Missed".into()), ..Default::default() };
    let resp = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="20" MajorBuildNumber="7000" MinorBuildNumber="0" Version="V2018_01_08" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" xmlns="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>"#;
    let n = 20000;
    let t = std::time::Instant::now();
    let mut len = 0;
    for i in 0..n {
        let m = OfflineMessage { id: format!("m-{i}"), conversation_id: Some("tony-ana".into()), to: MailboxAddress { email_address: "ana@contoso.com".into(), display_name: Some("Ana Lopez".into()) }, text: format!("Are you free at 3? Message {i}: the <budget> & the plan."), subject: None };
        len += build_offline_message_envelope(&m, &opts).unwrap().xml.len();
    }
    println!("build {:.2}us {len}", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = std::time::Instant::now();
    for _ in 0..n { std::hint::black_box(parse_ews_response(200, resp)); }
    println!("parse {:.2}us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
