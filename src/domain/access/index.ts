// Authorization in one place: what scope a request needs and whether the caller may touch
// the app it names. Routes declare needs; this policy decides.
export { AccessPolicy, type AccessNeed, type AccessScope, type Caller } from './policy.js';
