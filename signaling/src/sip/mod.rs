//! SIP messages (RFC 3261), transactions and dialogs.
