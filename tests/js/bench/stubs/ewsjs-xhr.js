// Browser bundle of ews-javascript-api: its default XHR layer (@ewsjs/xhr) is node-only. Callers
// configure their own with `service.XHRApi = …` (its documented pluggable XHR layer).
export class XhrApi {
  xhr() { return Promise.reject(new Error("ews-javascript-api in the browser: set service.XHRApi")); }
}
