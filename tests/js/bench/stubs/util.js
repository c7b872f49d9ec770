// The two members of node's `util` that ews-javascript-api uses, for its browser bundle.
export function isNullOrUndefined(v) { return v === null || v === undefined; }
export function inspect(v) { return String(v); }
